// Module solana without a program: encodings, the input layout byte for
// byte (aligned and unaligned, duplicates, realloc space), the write-back's
// checks and error names, r0's meaning, hashes, the curve test and
// program-derived addresses.
#include "bpfkit/solana.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace bpfkit::solana {
namespace {

Pubkey key_of(uint8_t fill) {
  Pubkey key;
  key.fill(fill);
  return key;
}

uint64_t u64_at(const std::vector<uint8_t>& b, uint64_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void set_u64(std::vector<uint8_t>& b, uint64_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out.append(1, digits[b >> 4]).append(1, digits[b & 15]);
  return out;
}

std::span<const uint8_t> text(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(SolanaEncoding, Base58) {
  EXPECT_EQ(to_base58(key_of(0)), "11111111111111111111111111111111");
  auto token = parse_pubkey("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(to_base58(*token), "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  EXPECT_EQ(hex(*token), "06ddf6e1d765a193d9cbe146ceeb79ac1cb485ed5f5b37913a8cf5857eff00a9");
  for (uint8_t fill : {1, 7, 255}) EXPECT_EQ(*parse_pubkey(to_base58(key_of(fill))), key_of(fill));
  EXPECT_FALSE(parse_pubkey("0OIl"));
  EXPECT_FALSE(parse_pubkey("111"));  // 3 bytes
  EXPECT_FALSE(parse_pubkey(""));
}

TEST(SolanaEncoding, Base64) {
  EXPECT_EQ(to_base64(text("hello")), "aGVsbG8=");
  EXPECT_EQ(to_base64(text("hell")), "aGVsbA==");
  EXPECT_EQ(to_base64(text("hel")), "aGVs");
  EXPECT_EQ(to_base64({}), "");
  auto back = from_base64("aGVsbG8=");
  ASSERT_TRUE(back);
  EXPECT_EQ(std::string(back->begin(), back->end()), "hello");
  EXPECT_FALSE(from_base64("a*=="));
  EXPECT_FALSE(from_base64("aGVsbG8"));  // 7 characters: the last is half a byte
}

// Three instruction accounts over two transaction accounts: 0, 1 and 0
// again (a duplicate of position 0).
struct Fixture {
  Instruction ix;
  std::vector<Account> accounts;
  Fixture() {
    ix.program_id = key_of(0xaa);
    ix.data = {1, 2, 3};
    Account a;
    a.key = key_of(1);
    a.owner = ix.program_id;
    a.lamports = 1000;
    a.data = {9, 9, 9, 9, 9};  // 5 bytes: 3 of alignment padding
    a.rent_epoch = 7;
    Account b;
    b.key = key_of(2);
    b.owner = key_of(0xbb);
    b.lamports = 500;
    b.executable = true;
    accounts = {a, b};
    ix.accounts = {{0, true, true}, {1, false, false}, {0, false, false}};
  }
};

TEST(SolanaSerialize, AlignedLayoutByteForByte) {
  Fixture f;
  auto input = serialize(f.ix, f.accounts, InputFormat::Aligned);
  ASSERT_TRUE(input) << input.error().message;
  const std::vector<uint8_t>& b = input->bytes;
  EXPECT_EQ(u64_at(b, 0), 3u);
  // Account 0 at 8: marker, signer, writable, executable, 4 zero bytes.
  EXPECT_EQ(hex({b.data() + 8, 8}), "ff01010000000000");
  EXPECT_EQ(hex({b.data() + 16, 32}), hex(f.accounts[0].key));
  EXPECT_EQ(hex({b.data() + 48, 32}), hex(f.accounts[0].owner));
  EXPECT_EQ(u64_at(b, 80), 1000u);
  EXPECT_EQ(u64_at(b, 88), 5u);
  EXPECT_EQ(hex({b.data() + 96, 5}), "0909090909");
  // 10 KiB of realloc space plus 3 bytes to the next multiple of 8, all zero.
  const uint64_t rent_at = 96 + 5 + 10240 + 3;
  for (uint64_t i = 101; i < rent_at; ++i) ASSERT_EQ(b[i], 0) << i;
  EXPECT_EQ(u64_at(b, rent_at), 7u);
  // Account 1: not a signer, not writable, executable.
  const uint64_t second = rent_at + 8;
  EXPECT_EQ(hex({b.data() + second, 8}), "ff00000100000000");
  EXPECT_EQ(u64_at(b, second + 72), 500u);
  EXPECT_EQ(u64_at(b, second + 80), 0u);
  const uint64_t third = second + 88 + 10240 + 8;
  // The duplicate: the position of its first occurrence, padded to 8.
  EXPECT_EQ(hex({b.data() + third, 8}), "0000000000000000");
  EXPECT_EQ(u64_at(b, third + 8), 3u);
  EXPECT_EQ(input->instruction_data_offset, third + 16);
  EXPECT_EQ(hex({b.data() + third + 16, 3}), "010203");
  EXPECT_EQ(hex({b.data() + third + 19, 32}), hex(f.ix.program_id));
  EXPECT_EQ(b.size(), third + 19 + 32);
  EXPECT_TRUE(input->accounts[2].duplicate);
}

TEST(SolanaSerialize, FlagsOfADuplicateMerge) {
  Fixture f;
  f.ix.accounts = {{0, false, false}, {0, true, true}};
  auto input = serialize(f.ix, f.accounts);
  ASSERT_TRUE(input);
  EXPECT_EQ(hex({input->bytes.data() + 8, 4}), "ff010100");
}

TEST(SolanaSerialize, UnalignedLayoutByteForByte) {
  Fixture f;
  auto input = serialize(f.ix, f.accounts, InputFormat::Unaligned);
  ASSERT_TRUE(input);
  const std::vector<uint8_t>& b = input->bytes;
  EXPECT_EQ(u64_at(b, 0), 3u);
  EXPECT_EQ(hex({b.data() + 8, 3}), "ff0101");
  EXPECT_EQ(hex({b.data() + 11, 32}), hex(f.accounts[0].key));
  EXPECT_EQ(u64_at(b, 43), 1000u);
  EXPECT_EQ(u64_at(b, 51), 5u);
  EXPECT_EQ(hex({b.data() + 59, 5}), "0909090909");
  EXPECT_EQ(hex({b.data() + 64, 32}), hex(f.accounts[0].owner));
  EXPECT_EQ(b[96], 0);  // executable
  EXPECT_EQ(u64_at(b, 97), 7u);
  const uint64_t second = 105;
  EXPECT_EQ(hex({b.data() + second, 3}), "ff0000");
  const uint64_t third = second + 3 + 32 + 8 + 8 + 0 + 32 + 1 + 8;
  EXPECT_EQ(b[third], 0);  // the duplicate's marker, unpadded
  EXPECT_EQ(u64_at(b, third + 1), 3u);
  EXPECT_EQ(input->instruction_data_offset, third + 9);
  EXPECT_EQ(b.size(), third + 9 + 3 + 32);
}

TEST(SolanaSerialize, IndexPastTheAccountsIsNotEnoughAccountKeys) {
  Fixture f;
  f.ix.accounts.push_back({5, false, false});
  auto input = serialize(f.ix, f.accounts);
  ASSERT_FALSE(input);
  EXPECT_EQ(input.error().name(), "NotEnoughAccountKeys");
}

// Serializes, lets `edit` change the bytes as a program would, writes back.
std::string write_back(Fixture& f, const std::function<void(std::vector<uint8_t>&, const SerializedInput&)>& edit,
                       InputFormat format = InputFormat::Aligned) {
  auto input = serialize(f.ix, f.accounts, format);
  EXPECT_TRUE(input);
  std::vector<uint8_t> bytes = input->bytes;
  edit(bytes, *input);
  auto ok = deserialize(*input, bytes, f.ix, f.accounts);
  return ok ? std::string() : std::string(ok.error().name());
}

TEST(SolanaWriteBack, RoundTripChangesNothing) {
  Fixture f;
  const std::vector<Account> before = f.accounts;
  EXPECT_EQ(write_back(f, [](auto&, auto&) {}), "");
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(f.accounts[i].lamports, before[i].lamports);
    EXPECT_EQ(f.accounts[i].data, before[i].data);
    EXPECT_EQ(f.accounts[i].owner, before[i].owner);
  }
  EXPECT_EQ(write_back(
                f, [](auto&, auto&) {}, InputFormat::Unaligned),
            "");
}

TEST(SolanaWriteBack, DataAndReallocWithinTheLimit) {
  Fixture f;
  EXPECT_EQ(write_back(f,
                       [](std::vector<uint8_t>& b, const SerializedInput& in) {
                         const SerializedAccount& a = in.accounts[0];
                         set_u64(b, a.data_len_offset, 5 + 10240);  // the whole realloc space
                         b[a.data_offset] = 1;
                         b[a.data_offset + 5 + 10239] = 2;
                       }),
            "");
  ASSERT_EQ(f.accounts[0].data.size(), 5u + 10240);
  EXPECT_EQ(f.accounts[0].data.front(), 1);
  EXPECT_EQ(f.accounts[0].data.back(), 2);
  Fixture g;
  EXPECT_EQ(write_back(g, [](std::vector<uint8_t>& b,
                             const SerializedInput& in) { set_u64(b, in.accounts[0].data_len_offset, 5 + 10241); }),
            "InvalidRealloc");
  Fixture h;  // shrinking is fine
  EXPECT_EQ(write_back(h, [](std::vector<uint8_t>& b,
                             const SerializedInput& in) { set_u64(b, in.accounts[0].data_len_offset, 2); }),
            "");
  EXPECT_EQ(h.accounts[0].data.size(), 2u);
}

TEST(SolanaWriteBack, ErrorNames) {
  auto lamports = [](size_t i, int64_t delta) {
    return [i, delta](std::vector<uint8_t>& b, const SerializedInput& in) {
      set_u64(b, in.accounts[i].lamports_offset, u64_at(b, in.accounts[i].lamports_offset) + delta);
    };
  };
  {
    Fixture f;  // account 1 is read-only and not the program's: spending from it
    EXPECT_EQ(write_back(f, lamports(1, -1)), "ExternalAccountLamportSpend");
  }
  {
    Fixture f;  // ... crediting it
    EXPECT_EQ(write_back(f, lamports(1, +1)), "ReadonlyLamportChange");
  }
  {
    Fixture f;
    f.accounts[1].executable = false;
    f.ix.accounts[1].is_writable = true;
    f.accounts[1].owner = f.ix.program_id;
    EXPECT_EQ(write_back(f,
                         [&](std::vector<uint8_t>& b, const SerializedInput& in) {
                           lamports(0, -10)(b, in);
                           lamports(1, +10)(b, in);
                         }),
              "");
    EXPECT_EQ(f.accounts[0].lamports, 990u);
    EXPECT_EQ(f.accounts[1].lamports, 510u);
    EXPECT_EQ(write_back(f, lamports(0, -10)), "UnbalancedInstruction");
  }
  {
    Fixture f;
    f.accounts[1].executable = false;
    EXPECT_EQ(write_back(f, [](std::vector<uint8_t>& b,
                               const SerializedInput& in) { set_u64(b, in.accounts[1].data_len_offset, 4); }),
              "AccountDataSizeChanged");
  }
  {
    Fixture f;
    f.accounts[1].executable = false;
    f.accounts[1].data = {0};
    EXPECT_EQ(
        write_back(f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[1].data_offset] = 1; }),
        "ReadonlyDataModified");
    f.ix.accounts[1].is_writable = true;
    EXPECT_EQ(
        write_back(f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[1].data_offset] = 1; }),
        "ExternalAccountDataModified");
  }
  {
    Fixture f;
    f.accounts[1].data = {0};
    EXPECT_EQ(
        write_back(f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[1].data_offset] = 1; }),
        "ExecutableDataModified");
  }
  {
    Fixture f;  // account 0 is the program's, writable, but its data is not zero
    EXPECT_EQ(
        write_back(f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[0].owner_offset] ^= 1; }),
        "ModifiedProgramId");
    f.accounts[0].data.assign(5, 0);
    EXPECT_EQ(
        write_back(f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[0].owner_offset] ^= 1; }),
        "");
    EXPECT_EQ(f.accounts[0].owner[0], 0xab);  // assigned: owner last, after the data
  }
  {
    Fixture f;  // the deprecated loader never writes the owner back
    EXPECT_EQ(write_back(
                  f, [](std::vector<uint8_t>& b, const SerializedInput& in) { b[in.accounts[1].owner_offset] ^= 1; },
                  InputFormat::Unaligned),
              "");
    EXPECT_EQ(f.accounts[1].owner, key_of(0xbb));
  }
}

TEST(SolanaErrors, ReturnCodes) {
  auto name_and_text = [](uint64_t r0) {
    Error e = error_from_return_code(r0);
    return std::string(e.name()) + ": " + e.message;
  };
  EXPECT_EQ(name_and_text(42), "Custom: custom program error: 0x2a");
  EXPECT_EQ(name_and_text(uint64_t{1} << 32), "Custom: custom program error: 0x0");
  EXPECT_EQ(name_and_text(uint64_t{2} << 32), "InvalidArgument: invalid program argument");
  EXPECT_EQ(name_and_text(uint64_t{3} << 32), "InvalidInstructionData: invalid instruction data");
  EXPECT_EQ(name_and_text(uint64_t{20} << 32), "InvalidRealloc: Failed to reallocate account data");
  EXPECT_EQ(name_and_text(uint64_t{26} << 32), "IncorrectAuthority: Incorrect authority provided");
  EXPECT_EQ(name_and_text(uint64_t{99} << 32), "InvalidError: program returned invalid error code");
  EXPECT_EQ(name_and_text((uint64_t{2} << 32) + 1), "InvalidError: program returned invalid error code");
}

TEST(SolanaCrypto, Hashes) {
  std::span<const uint8_t> abc = text("abc");
  EXPECT_EQ(hex(sha256({&abc, 1})), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(keccak256({})), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(hex(keccak256({&abc, 1})), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // Parts are one message; a long one crosses the 136-byte rate.
  std::string long_text(300, 'x');
  std::span<const uint8_t> whole = text(long_text);
  std::span<const uint8_t> halves[] = {whole.subspan(0, 137), whole.subspan(137)};
  EXPECT_EQ(hex(keccak256(halves)), hex(keccak256({&whole, 1})));
  EXPECT_EQ(hex(sha256(halves)), hex(sha256({&whole, 1})));
  // BLAKE3 across blocks, chunks (1 KiB) and parents: the official test
  // vectors (input byte i = i % 251).
  EXPECT_EQ(hex(blake3({})), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  std::vector<uint8_t> input(8193);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<uint8_t>(i % 251);
  auto blake3_of = [&](size_t n) {
    std::span<const uint8_t> part(input.data(), n);
    return hex(blake3({&part, 1}));
  };
  EXPECT_EQ(blake3_of(1), "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213");
  EXPECT_EQ(blake3_of(65), "de1e5fa0be70df6d2be8fffd0e99ceaa8eb6e8c93a63f2d8d1c30ecb6b263dee");
  EXPECT_EQ(blake3_of(1023), "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11");
  EXPECT_EQ(blake3_of(1024), "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7");
  EXPECT_EQ(blake3_of(2048), "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a");
  EXPECT_EQ(blake3_of(2049), "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030");
  EXPECT_EQ(blake3_of(3073), "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3");
  EXPECT_EQ(blake3_of(8193), "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b");
  // Split across parts at odd places: the same hash.
  std::span<const uint8_t> pieces[] = {{input.data(), 100}, {input.data() + 100, 1000}, {input.data() + 1100, 7093}};
  EXPECT_EQ(hex(blake3(pieces)), blake3_of(8193));
}

TEST(SolanaCrypto, CurveAndProgramAddresses) {
  // The ed25519 base point, and y = 0 (x^2 = -1 has a root): on the curve.
  Pubkey base{};
  base[0] = 0x58;
  for (size_t i = 1; i < 32; ++i) base[i] = 0x66;
  EXPECT_TRUE(is_on_curve(base));
  EXPECT_TRUE(is_on_curve(key_of(0)));
  // y = 2: (4 - 1) / (4d + 1) is not a square.
  Pubkey two{};
  two[0] = 2;
  EXPECT_FALSE(is_on_curve(two));

  // solana-program's own vectors (Pubkey::create_program_address tests).
  auto program_id = parse_pubkey("BPFLoaderUpgradeab1e11111111111111111111111");
  ASSERT_TRUE(program_id);
  const uint8_t one[] = {1};
  const std::span<const uint8_t> empty_and_one[] = {{}, one};
  auto address = create_program_address(empty_and_one, *program_id);
  ASSERT_TRUE(address);
  EXPECT_EQ(to_base58(*address), "BwqrghZA2htAcqq8dzP1WDAhTXYTYWj7CHxF5j7TDBAe");
  const std::span<const uint8_t> squirrels[] = {text("Talking"), text("Squirrels")};
  address = create_program_address(squirrels, *program_id);
  ASSERT_TRUE(address);
  EXPECT_EQ(to_base58(*address), "2fnQrngrQT4SeLcdToJAD96phoEjNL2man2kfRLCASVk");
  // A seed of 33 bytes, or 17 seeds, makes no address.
  std::vector<uint8_t> long_seed(33, 0);
  const std::span<const uint8_t> too_long[] = {long_seed};
  EXPECT_FALSE(create_program_address(too_long, *program_id));
  std::vector<std::span<const uint8_t>> many(17, std::span<const uint8_t>(one));
  EXPECT_FALSE(create_program_address(many, *program_id));
}

}  // namespace
}  // namespace bpfkit::solana
