// The System Program (Agave's system_processor.rs) for the instructions a
// program invokes: CreateAccount, Assign, Transfer, CreateAccountWithSeed,
// Allocate, AllocateWithSeed, AssignWithSeed and TransferWithSeed, with its
// checks, its log messages and its errors (SystemError as Custom(n)). The
// nonce account instructions are not provided.
#include <cstring>
#include <set>

#include "runtime.hpp"

namespace bpfkit::solana {

namespace {

// SystemError, as the Custom code the runtime reports.
enum class SystemError : uint32_t {
  AccountAlreadyInUse = 0,
  ResultWithNegativeLamports = 1,
  InvalidAccountDataLength = 3,
  AddressWithSeedMismatch = 5,
};

Error system_error(SystemError code) {
  return instruction_error(InstructionErrc::Custom, custom_error_text(static_cast<uint32_t>(code)));
}

// bincode with fixed-width integers; trailing bytes allowed (limited_deserialize).
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool u32(uint32_t& v) { return take(&v, 4); }
  bool u64(uint64_t& v) { return take(&v, 8); }
  bool key(Pubkey& v) { return take(v.data(), 32); }
  bool string(std::string& v) {
    uint64_t length;
    if (!u64(length) || length > bytes_.size() - at_) return false;
    v.assign(reinterpret_cast<const char*>(bytes_.data() + at_), length);
    at_ += length;
    return true;
  }

 private:
  bool take(void* out, size_t n) {
    if (n > bytes_.size() - at_) return false;
    std::memcpy(out, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

// Pubkey::create_with_seed: sha256(base, seed, owner); a seed over 32
// bytes, or an owner that ends like a program address, is refused.
Expected<Pubkey> create_with_seed(const Pubkey& base, const std::string& seed, const Pubkey& owner) {
  static constexpr std::string_view kMarker = "ProgramDerivedAddress";
  if (seed.size() > 32) return instruction_error(InstructionErrc::MaxSeedLengthExceeded);
  if (std::memcmp(owner.data() + 32 - kMarker.size(), kMarker.data(), kMarker.size()) == 0)
    return instruction_error(InstructionErrc::IllegalOwner);
  const std::span<const uint8_t> parts[] = {base, {reinterpret_cast<const uint8_t*>(seed.data()), seed.size()}, owner};
  return sha256(parts);
}

class SystemProgram {
 public:
  SystemProgram(Transaction& transaction, const Instruction& instruction)
      : transaction_(transaction), instruction_(instruction) {
    for (const InstructionAccount& a : instruction.accounts)
      if (a.is_signer) signers_.insert(transaction.accounts[a.index].key);
  }

  Expected<void> run() {
    Reader in(instruction_.data);
    uint32_t tag;
    if (!in.u32(tag)) return bad_data();
    uint64_t lamports = 0, space = 0;
    Pubkey owner, base;
    std::string seed;
    switch (tag) {
      case 0:  // CreateAccount { lamports, space, owner }
        if (!in.u64(lamports) || !in.u64(space) || !in.key(owner)) return bad_data();
        if (auto ok = need_accounts(2); !ok) return ok;
        return create_account(key(1), std::nullopt, lamports, space, owner);
      case 1:  // Assign { owner }
        if (!in.key(owner)) return bad_data();
        if (auto ok = need_accounts(1); !ok) return ok;
        return assign(0, key(0), owner);
      case 2:  // Transfer { lamports }
        if (!in.u64(lamports)) return bad_data();
        if (auto ok = need_accounts(2); !ok) return ok;
        return transfer(0, 1, lamports);
      case 3: {  // CreateAccountWithSeed { base, seed, lamports, space, owner }
        if (!in.key(base) || !in.string(seed) || !in.u64(lamports) || !in.u64(space) || !in.key(owner))
          return bad_data();
        if (auto ok = need_accounts(2); !ok) return ok;
        auto address = seeded_address(key(1), base, seed, owner);
        if (!address) return address.error();
        return create_account(key(1), base, lamports, space, owner);
      }
      case 8:  // Allocate { space }
        if (!in.u64(space)) return bad_data();
        if (auto ok = need_accounts(1); !ok) return ok;
        return allocate(0, key(0), std::nullopt, space);
      case 9: {  // AllocateWithSeed { base, seed, space, owner }
        if (!in.key(base) || !in.string(seed) || !in.u64(space) || !in.key(owner)) return bad_data();
        if (auto ok = need_accounts(1); !ok) return ok;
        auto address = seeded_address(key(0), base, seed, owner);
        if (!address) return address.error();
        if (auto ok = allocate(0, key(0), base, space); !ok) return ok;
        return assign(0, key(0), owner, base);
      }
      case 10: {  // AssignWithSeed { base, seed, owner }
        if (!in.key(base) || !in.string(seed) || !in.key(owner)) return bad_data();
        if (auto ok = need_accounts(1); !ok) return ok;
        auto address = seeded_address(key(0), base, seed, owner);
        if (!address) return address.error();
        return assign(0, key(0), owner, base);
      }
      case 11: {  // TransferWithSeed { lamports, from_seed, from_owner }
        if (!in.u64(lamports) || !in.string(seed) || !in.key(owner)) return bad_data();
        if (auto ok = need_accounts(3); !ok) return ok;
        return transfer_with_seed(lamports, seed, owner);
      }
      case 4:
      case 5:
      case 6:
      case 7:
      case 12:
        return instruction_error(
            InstructionErrc::InvalidInstructionData,
            "invalid instruction data (the System Program's nonce instructions are not in bpfkit)");
      default: return bad_data();
    }
  }

 private:
  static Error bad_data() { return instruction_error(InstructionErrc::InvalidInstructionData); }

  Expected<void> need_accounts(size_t n) const {
    if (instruction_.accounts.size() < n) return instruction_error(InstructionErrc::NotEnoughAccountKeys);
    return {};
  }
  const Pubkey& key(size_t i) const { return transaction_.accounts[instruction_.accounts[i].index].key; }
  Borrowed borrow(size_t i) {
    const uint32_t index = instruction_.accounts[i].index;
    return Borrowed(transaction_.accounts[index], kSystemProgramId, merged_flags(instruction_, index),
                    transaction_.resize_delta);
  }
  void log(const std::string& message) { transaction_.logs.log(message); }
  // Address::is_signer: the base signs for a seeded address.
  bool signed_by(const Pubkey& address, const std::optional<Pubkey>& base) const {
    return signers_.count(base ? *base : address) != 0;
  }

  // Address::create with a seed: the derived address must be the account's.
  Expected<void> seeded_address(const Pubkey& address, const Pubkey& base, const std::string& seed,
                                const Pubkey& owner) {
    auto derived = create_with_seed(base, seed, owner);
    if (!derived) return derived.error();
    if (*derived != address) {
      log("Create: address " + to_base58(address) + " does not match derived address " + to_base58(*derived));
      return system_error(SystemError::AddressWithSeedMismatch);
    }
    return {};
  }

  Expected<void> allocate(size_t i, const Pubkey& address, const std::optional<Pubkey>& base, uint64_t space) {
    if (!signed_by(address, base)) {
      log("Allocate: 'to' account " + to_base58(address) + " must sign");
      return instruction_error(InstructionErrc::MissingRequiredSignature);
    }
    Borrowed account = borrow(i);
    if (!account.account().data.empty() || account.account().owner != kSystemProgramId) {
      log("Allocate: account " + to_base58(address) + " already in use");
      return system_error(SystemError::AccountAlreadyInUse);
    }
    if (space > kMaxPermittedDataLength) {
      log("Allocate: requested " + std::to_string(space) + ", max allowed " + std::to_string(kMaxPermittedDataLength));
      return system_error(SystemError::InvalidAccountDataLength);
    }
    return account.set_data_length(space);
  }

  Expected<void> assign(size_t i, const Pubkey& address, const Pubkey& owner,
                        const std::optional<Pubkey>& base = std::nullopt) {
    Borrowed account = borrow(i);
    if (account.account().owner == owner) return {};
    if (!signed_by(address, base)) {
      log("Assign: account " + to_base58(address) + " must sign");
      return instruction_error(InstructionErrc::MissingRequiredSignature);
    }
    return account.set_owner(owner);
  }

  Expected<void> create_account(const Pubkey& address, const std::optional<Pubkey>& base, uint64_t lamports,
                                uint64_t space, const Pubkey& owner) {
    if (borrow(1).account().lamports > 0) {
      log("Create Account: account " + to_base58(address) + " already in use");
      return system_error(SystemError::AccountAlreadyInUse);
    }
    if (auto ok = allocate(1, address, base, space); !ok) return ok;
    if (auto ok = assign(1, address, owner, base); !ok) return ok;
    return transfer(0, 1, lamports);
  }

  Expected<void> transfer(size_t from, size_t to, uint64_t lamports) {
    if (!merged_flags(instruction_, instruction_.accounts[from].index).is_signer) {
      log("Transfer: `from` account " + to_base58(key(from)) + " must sign");
      return instruction_error(InstructionErrc::MissingRequiredSignature);
    }
    return transfer_verified(from, to, lamports);
  }

  Expected<void> transfer_verified(size_t from, size_t to, uint64_t lamports) {
    Borrowed source = borrow(from);
    if (!source.account().data.empty()) {
      log("Transfer: `from` must not carry data");
      return instruction_error(InstructionErrc::InvalidArgument);
    }
    if (lamports > source.account().lamports) {
      log("Transfer: insufficient lamports " + std::to_string(source.account().lamports) + ", need " +
          std::to_string(lamports));
      return system_error(SystemError::ResultWithNegativeLamports);
    }
    if (auto ok = source.sub_lamports(lamports); !ok) return ok;
    return borrow(to).add_lamports(lamports);
  }

  Expected<void> transfer_with_seed(uint64_t lamports, const std::string& seed, const Pubkey& owner) {
    if (!merged_flags(instruction_, instruction_.accounts[1].index).is_signer) {
      log("Transfer: `from` account " + to_base58(key(1)) + " must sign");
      return instruction_error(InstructionErrc::MissingRequiredSignature);
    }
    auto derived = create_with_seed(key(1), seed, owner);
    if (!derived) return derived.error();
    if (*derived != key(0)) {
      log("Transfer: 'from' address " + to_base58(key(0)) + " does not match derived address " + to_base58(*derived));
      return system_error(SystemError::AddressWithSeedMismatch);
    }
    return transfer_verified(0, 2, lamports);
  }

  Transaction& transaction_;
  const Instruction& instruction_;
  std::set<Pubkey> signers_;
};

}  // namespace

Expected<void> system_program(Transaction& transaction, const Instruction& instruction) {
  return SystemProgram(transaction, instruction).run();
}

}  // namespace bpfkit::solana
