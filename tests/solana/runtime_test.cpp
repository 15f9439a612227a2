// solana::execute on programs assembled here (sBPF v3 text, static
// syscalls): each syscall's result and compute cost, r1/r2 at entry, the
// write-back, r0's errors, and the runtime's log line by line.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <algorithm>
#include <cstring>

#include "both_engines.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/solana.hpp"

namespace bpfkit::solana {
namespace {

isa::Program assemble(const std::string& source) {
  load::Options options;
  options.dialect = &isa::kSbpfV3;
  options.sbpf.syscalls = syscall_names();
  auto opened = load::open({reinterpret_cast<const uint8_t*>(source.data()), source.size()}, "test.s", options);
  EXPECT_TRUE(opened) << (opened ? "" : to_string(opened.error()));
  return opened ? std::move(opened->program) : isa::Program{};
}

Pubkey key_of(uint8_t fill) {
  Pubkey key;
  key.fill(fill);
  return key;
}

const Pubkey kProgram = key_of(0x42);
const std::string kId = to_base58(kProgram);

ExecuteResult run(const std::string& source, std::vector<Account> accounts = {},
                  std::vector<InstructionAccount> metas = {}, std::vector<uint8_t> data = {},
                  const ExecuteOptions& options = {}) {
  Instruction ix;
  ix.program_id = kProgram;
  ix.accounts = std::move(metas);
  ix.data = std::move(data);
  auto result = engines::execute_on_both(assemble(source), ix, std::move(accounts), options);
  EXPECT_TRUE(result) << (result ? "" : to_string(result.error()));
  return result ? std::move(*result) : ExecuteResult{};
}

std::vector<std::string> lines(std::initializer_list<std::string> l) { return l; }
std::string consumed(uint64_t units) {
  return "Program " + kId + " consumed " + std::to_string(units) + " of 200000 compute units";
}

// "hello" on the stack, then sol_log_: 8 instructions and 100 units.
const char* kHello = R"(
  r1 = 0x6f6c6c6568 ll
  *(u64 *)(r10 - 8) = r1
  r1 = r10
  r1 += -8
  r2 = 5
  call sol_log_
  r0 = 0
  exit
)";

TEST(SolanaRuntime, LogsLineByLine) {
  ExecuteResult r = run(kHello);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.compute_units, 108u);
  EXPECT_EQ(r.logs, lines({"Program " + kId + " invoke [1]", "Program log: hello", consumed(108),
                           "Program " + kId + " success"}));
}

TEST(SolanaRuntime, EntryRegistersAndCustomError) {
  // r0 = r2 - r1: where the instruction data starts (no accounts: 8 + 8).
  ExecuteResult r = run("r0 = r2\nr0 -= r1\nexit\n", {}, {}, {1, 2, 3});
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->name(), "Custom");
  EXPECT_EQ(r.run.r0, 16u);
  EXPECT_EQ(r.run.registers[1], kInputStart);
  EXPECT_EQ(r.logs, lines({"Program " + kId + " invoke [1]", consumed(3),
                           "Program " + kId + " failed: custom program error: 0x10"}));
  ExecuteResult builtin = run("r0 = 3 ll\nr0 <<= 32\nexit\n");
  ASSERT_TRUE(builtin.error);
  EXPECT_EQ(builtin.error->name(), "InvalidInstructionData");
  EXPECT_EQ(builtin.logs.back(), "Program " + kId + " failed: invalid instruction data");
}

// Moves 5 lamports from account 0 to account 1 (both with empty data: the
// second account's lamports are at 8 + 10,336 + 72).
const char* kTransfer = R"(
  r2 = *(u64 *)(r1 + 80)
  r2 -= 5
  *(u64 *)(r1 + 80) = r2
  r2 = *(u64 *)(r1 + 10416)
  r2 += 5
  *(u64 *)(r1 + 10416) = r2
  r0 = 0
  exit
)";

TEST(SolanaRuntime, WriteBackAndItsErrors) {
  Account from, to;
  from.key = key_of(1);
  from.owner = kProgram;
  from.lamports = 100;
  to.key = key_of(2);
  to.owner = key_of(9);
  to.lamports = 7;
  ExecuteResult ok = run(kTransfer, {from, to}, {{0, true, true}, {1, false, true}});
  ASSERT_FALSE(ok.error) << ok.error->message;
  EXPECT_EQ(ok.accounts[0].lamports, 95u);
  EXPECT_EQ(ok.accounts[1].lamports, 12u);
  // Not the program's: it may not spend from it; nothing is written.
  from.owner = key_of(9);
  ExecuteResult spend = run(kTransfer, {from, to}, {{0, true, true}, {1, false, true}});
  ASSERT_TRUE(spend.error);
  EXPECT_EQ(spend.error->name(), "ExternalAccountLamportSpend");
  EXPECT_EQ(spend.accounts[0].lamports, 100u);
  EXPECT_EQ(spend.logs.back(),
            "Program " + kId + " failed: instruction spent from the balance of an account it does not own");
  from.owner = kProgram;
  ExecuteResult readonly = run(kTransfer, {from, to}, {{0, true, true}, {1, false, false}});
  ASSERT_TRUE(readonly.error);
  EXPECT_EQ(readonly.error->name(), "ReadonlyLamportChange");
}

// sha256("abc") into the stack, then returned with sol_set_return_data.
const char* kSha256 = R"(
  r1 = 0x636261 ll
  *(u64 *)(r10 - 8) = r1
  r1 = r10
  r1 += -8
  *(u64 *)(r10 - 24) = r1
  r1 = 3
  *(u64 *)(r10 - 16) = r1
  r1 = r10
  r1 += -24
  r2 = 1
  r3 = r10
  r3 += -64
  call sol_sha256
  r1 = r10
  r1 += -64
  r2 = 32
  call sol_set_return_data
  r0 = 0
  exit
)";

TEST(SolanaRuntime, HashesAndReturnData) {
  using Hash = std::array<uint8_t, 32> (*)(std::span<const std::span<const uint8_t>>);
  const std::pair<const char*, Hash> hashes[] = {
      {"sol_sha256", sha256}, {"sol_keccak256", keccak256}, {"sol_blake3", blake3}};
  for (const auto& [name, fn] : hashes) {
    SCOPED_TRACE(name);
    std::string source = kSha256;
    source.replace(source.find("sol_sha256"), 10, name);
    ExecuteResult r = run(source);
    ASSERT_FALSE(r.error) << r.error->message;
    std::span<const uint8_t> abc(reinterpret_cast<const uint8_t*>("abc"), 3);
    const auto digest = fn({&abc, 1});
    EXPECT_EQ(r.return_data.data, std::vector<uint8_t>(digest.begin(), digest.end()));
    EXPECT_EQ(r.return_data.program_id, kProgram);
    // 19 instructions; the hash: 85 + max(10, 3 / 2); set_return_data: 100 + 32 / 250.
    EXPECT_EQ(r.compute_units, 19u + 95 + 100);
    EXPECT_EQ(r.logs[1], consumed(214));
    EXPECT_EQ(r.logs[2], "Program return: " + kId + " " + to_base64(digest));
    EXPECT_EQ(r.logs[3], "Program " + kId + " success");
  }
}

// A sysvar into the stack, returned whole: its bytes and cost.
std::string sysvar_program(const char* name, int size) {
  return "r1 = r10\nr1 += -64\ncall " + std::string(name) + "\nr1 = r10\nr1 += -64\nr2 = " + std::to_string(size) +
         "\ncall sol_set_return_data\nr0 = 0\nexit\n";
}

TEST(SolanaRuntime, Sysvars) {
  ExecuteOptions options;
  options.sysvars.clock.slot = 77;
  options.sysvars.clock.unix_timestamp = -5;
  ExecuteResult clock = run(sysvar_program("sol_get_clock_sysvar", 40), {}, {}, {}, options);
  ASSERT_FALSE(clock.error) << clock.error->message;
  ASSERT_EQ(clock.return_data.data.size(), 40u);
  uint64_t slot;
  int64_t timestamp;
  std::memcpy(&slot, clock.return_data.data.data(), 8);
  std::memcpy(&timestamp, clock.return_data.data.data() + 32, 8);
  EXPECT_EQ(slot, 77u);
  EXPECT_EQ(timestamp, -5);
  EXPECT_EQ(clock.compute_units, 9u + 140 + 100);

  ExecuteResult rent = run(sysvar_program("sol_get_rent_sysvar", 24));
  ASSERT_FALSE(rent.error);
  uint64_t per_byte_year;
  double threshold;
  std::memcpy(&per_byte_year, rent.return_data.data.data(), 8);
  std::memcpy(&threshold, rent.return_data.data.data() + 8, 8);
  EXPECT_EQ(per_byte_year, 3480u);
  EXPECT_EQ(threshold, 2.0);
  EXPECT_EQ(rent.return_data.data[16], 50);
  EXPECT_EQ(rent.compute_units, 9u + 124 + 100);

  ExecuteResult schedule = run(sysvar_program("sol_get_epoch_schedule_sysvar", 40));
  ASSERT_FALSE(schedule.error);
  uint64_t slots_per_epoch;
  std::memcpy(&slots_per_epoch, schedule.return_data.data.data(), 8);
  EXPECT_EQ(slots_per_epoch, 432000u);
  EXPECT_EQ(schedule.return_data.data[16], 1);  // warmup
  EXPECT_EQ(schedule.compute_units, 9u + 140 + 100);

  // Unaligned: UnalignedPointer.
  ExecuteResult unaligned = run("r1 = r10\nr1 += -63\ncall sol_get_clock_sysvar\nexit\n");
  ASSERT_TRUE(unaligned.error);
  EXPECT_EQ(unaligned.error->name(), "UnalignedPointer");
}

// A heap asked for (RequestHeapFrame): the allocator uses all of it, the
// VM maps it, and each invocation pays 8 units per 32 KiB past the first
// before it runs (in the total, not in its "consumed" line); a size the
// compute budget program refuses fails the run; a budget below the heap's
// cost fails to create the VM.
TEST(SolanaRuntime, HeapSizeAndItsCost) {
  const std::string alloc_and_touch =
      "r1 = 40000\nr2 = 0\ncall sol_alloc_free_\nr6 = r0\nr0 += 39999\nr1 = 7\n*(u8 *)(r0 + 0) = r1\nr0 = 0\nexit\n";
  ExecuteOptions bigger;
  bigger.heap_size = 64 * 1024;
  ExecuteResult big = run(alloc_and_touch, {}, {}, {}, bigger);
  ASSERT_FALSE(big.error) << big.error->message;
  EXPECT_EQ(big.run.registers[6], uint64_t{3} << 32);
  EXPECT_EQ(big.compute_units, 9u + 8);
  EXPECT_EQ(big.logs[1], consumed(9));
  // The default 32 KiB: no room for 40,000 bytes (0), then a fault at address 0 + 39,999.
  ExecuteResult small = run(alloc_and_touch);
  EXPECT_EQ(small.run.registers[6], 0u);
  ASSERT_TRUE(small.error);
  // 256 KiB: 7 pages past the first; 33 KiB: a page begun is a page.
  EXPECT_EQ(heap_cost(256 * 1024), 56u);
  EXPECT_EQ(heap_cost(33 * 1024), 8u);
  EXPECT_EQ(heap_cost(32 * 1024), 0u);
  for (uint64_t bad : {uint64_t{0}, uint64_t{31 * 1024}, uint64_t{32 * 1024 + 1}, uint64_t{257 * 1024}}) {
    ExecuteOptions refused;
    refused.heap_size = bad;
    Instruction ix;
    auto result = engines::execute_on_both(assemble("r0 = 0\nexit\n"), ix, {}, refused);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().name(), "InvalidInstructionData");
  }
  ExecuteOptions poor = bigger;
  poor.compute_units = 7;
  ExecuteResult unpaid = run("r0 = 0\nexit\n", {}, {}, {}, poor);
  ASSERT_TRUE(unpaid.error);
  EXPECT_EQ(unpaid.error->name(), "ProgramEnvironmentSetupFailure");
  EXPECT_EQ(unpaid.compute_units, 7u);
  EXPECT_EQ(unpaid.logs,
            lines({"Program " + kId + " invoke [1]", "Failed to create SBF VM: Computational budget exceeded",
                   "Program " + kId + " failed: Failed to create program execution environment"}));
}

TEST(SolanaRuntime, AllocStackHeightAndComputeUnitLog) {
  ExecuteResult alloc = run(R"(
    r1 = 10
    r2 = 0
    call sol_alloc_free_
    r6 = r0
    r1 = 1
    r2 = 0
    call sol_alloc_free_
    r0 -= r6
    exit
  )");
  EXPECT_EQ(alloc.run.registers[6], uint64_t{3} << 32);
  EXPECT_EQ(alloc.run.r0, 16u);        // the second one 8-byte aligned
  EXPECT_EQ(alloc.compute_units, 9u);  // sol_alloc_free_ is free
  ExecuteResult too_big = run("r1 = 32769\nr2 = 0\ncall sol_alloc_free_\nexit\n");
  EXPECT_EQ(too_big.run.r0, 0u);
  EXPECT_FALSE(too_big.error);

  ExecuteResult height = run("call sol_get_stack_height\nexit\n");
  EXPECT_EQ(height.run.r0, 1u);
  EXPECT_EQ(height.compute_units, 102u);

  ExecuteResult units = run("call sol_log_compute_units_\nr0 = 0\nexit\n");
  EXPECT_EQ(units.logs[1], "Program consumption: 199899 units remaining");
  EXPECT_EQ(units.compute_units, 103u);
}

TEST(SolanaRuntime, LogPubkeyAndLogData) {
  // No accounts, no data: the program id is at 16.
  ExecuteResult key = run("r1 += 16\ncall sol_log_pubkey\nr0 = 0\nexit\n");
  EXPECT_EQ(key.logs[1], "Program log: " + kId);
  EXPECT_EQ(key.compute_units, 104u);

  ExecuteResult data = run(R"(
    r1 = 0x6f6c6c6568 ll
    *(u64 *)(r10 - 8) = r1
    r1 = 0x636261
    *(u64 *)(r10 - 16) = r1
    r1 = r10
    r1 += -8
    *(u64 *)(r10 - 48) = r1
    r1 = 5
    *(u64 *)(r10 - 40) = r1
    r1 = r10
    r1 += -16
    *(u64 *)(r10 - 32) = r1
    r1 = 3
    *(u64 *)(r10 - 24) = r1
    r1 = r10
    r1 += -48
    r2 = 2
    call sol_log_data
    r0 = 0
    exit
  )");
  EXPECT_EQ(data.logs[1], "Program data: aGVsbG8= YWJj");
  // 20 instructions; 100 + 2 * 100 + 8 bytes.
  EXPECT_EQ(data.compute_units, 20u + 308);
}

TEST(SolanaRuntime, ProgramAddresses) {
  ExecuteResult found = run(R"(
    r1 = 0x636261
    *(u64 *)(r10 - 8) = r1
    r1 = r10
    r1 += -8
    *(u64 *)(r10 - 24) = r1
    r1 = 3
    *(u64 *)(r10 - 16) = r1
    r6 = 0x4242424242424242 ll
    *(u64 *)(r10 - 128) = r6
    *(u64 *)(r10 - 120) = r6
    *(u64 *)(r10 - 112) = r6
    *(u64 *)(r10 - 104) = r6
    r1 = r10
    r1 += -24
    r2 = 1
    r3 = r10
    r3 += -128
    r4 = r10
    r4 += -64
    r5 = r10
    r5 += -32
    call sol_try_find_program_address
    r1 = r10
    r1 += -64
    r2 = 33
    call sol_set_return_data
    exit
  )");
  ASSERT_FALSE(found.error) << found.error->message;
  ASSERT_EQ(found.return_data.data.size(), 33u);
  const uint8_t bump = found.return_data.data[32];
  const uint8_t abc[] = {'a', 'b', 'c'};
  const std::span<const uint8_t> seeds[] = {abc, {&bump, 1}};
  auto expected = create_program_address(seeds, kProgram);
  ASSERT_TRUE(expected);
  EXPECT_EQ(std::vector<uint8_t>(found.return_data.data.begin(), found.return_data.data.begin() + 32),
            std::vector<uint8_t>(expected->begin(), expected->end()));
  for (unsigned higher = bump + 1u; higher <= 255; ++higher) {
    const uint8_t b = static_cast<uint8_t>(higher);
    const std::span<const uint8_t> tried[] = {abc, {&b, 1}};
    EXPECT_FALSE(create_program_address(tried, kProgram)) << higher;
  }
  // 1,500 for the call and for every bump that failed; 100 for the return data.
  EXPECT_EQ(found.compute_units, 27u + 1500 * (1 + (255 - bump)) + 100);
}

// sol_create_program_address (1,500 units; 1 for seeds whose address is
// on the curve), sol_get_return_data (100, then (length + 32) / 250 when
// it copies; the data's full length back), sol_remaining_compute_units
// (100, what is left after them) and sol_panic_ (the file's length, its
// wording) through programs.
TEST(SolanaRuntime, CreateAddressReturnDataRemainingUnitsPanic) {
  // One seed byte whose address is off the curve, one whose is on it.
  std::optional<uint8_t> off_curve, on_curve;
  for (unsigned b = 0; b < 256 && (!off_curve || !on_curve); ++b) {
    const uint8_t seed = static_cast<uint8_t>(b);
    const std::span<const uint8_t> seeds[] = {{&seed, 1}};
    (create_program_address(seeds, kProgram) ? off_curve : on_curve) = seed;
  }
  ASSERT_TRUE(off_curve && on_curve);
  auto create = [&](uint8_t seed) {
    // The seed at -1, its VmSlice at -24, the program id from the input (16), the address out at -64.
    return run("r0 = " + std::to_string(seed) +
               "\n*(u8 *)(r10 - 1) = r0\nr0 = r10\nr0 += -1\n*(u64 *)(r10 - 24) = r0\nr0 = 1\n"
               "*(u64 *)(r10 - 16) = r0\nr3 = r1\nr3 += 16\nr1 = r10\nr1 += -24\nr2 = 1\nr4 = r10\nr4 += -64\n"
               "call sol_create_program_address\nr6 = r0\nr1 = r10\nr1 += -64\nr2 = 32\n"
               "call sol_set_return_data\nr0 = r6\nexit\n");
  };
  ExecuteResult address = create(*off_curve);
  ASSERT_FALSE(address.error) << address.error->message;
  const uint8_t seed = *off_curve;
  const std::span<const uint8_t> seeds[] = {{&seed, 1}};
  const Pubkey expected = *create_program_address(seeds, kProgram);
  EXPECT_EQ(address.return_data.data, std::vector<uint8_t>(expected.begin(), expected.end()));
  EXPECT_EQ(address.compute_units, address.run.instructions + 1500 + 100);
  ExecuteResult on = create(*on_curve);
  ASSERT_TRUE(on.error);
  EXPECT_EQ(on.error->message, custom_error_text(1));
  EXPECT_EQ(on.return_data.data, std::vector<uint8_t>(32, 0));  // nothing written

  ExecuteResult back = run(R"(
    r1 = 0x6968
    *(u16 *)(r10 - 8) = r1
    r1 = r10
    r1 += -8
    r2 = 2
    call sol_set_return_data
    r1 = r10
    r1 += -16
    r2 = 8
    r3 = r10
    r3 += -64
    call sol_get_return_data
    r6 = r0
    r1 = 0
    r2 = 0
    r3 = 0
    call sol_get_return_data
    r7 = r0
    r8 = *(u64 *)(r10 - 16)
    r9 = *(u8 *)(r10 - 64)
    r0 = 0
    exit
  )");
  ASSERT_FALSE(back.error) << back.error->message;
  EXPECT_EQ(back.run.registers[6], 2u);
  EXPECT_EQ(back.run.registers[7], 2u);  // a length of 0 copies nothing, translates nothing
  EXPECT_EQ(back.run.registers[8], 0x6968u);
  EXPECT_EQ(back.run.registers[9], 0x42u);
  EXPECT_EQ(back.compute_units, back.run.instructions + 300);
  // More than 250 bytes with the id: charged (300 + 32) / 250 = 1 more.
  ExecuteResult longer = run(R"(
    r1 = r10
    r1 += -512
    r2 = 300
    call sol_set_return_data
    r1 = r10
    r1 += -1024
    r2 = 300
    r3 = r10
    r3 += -1100
    call sol_get_return_data
    r0 -= 300
    exit
  )");
  ASSERT_FALSE(longer.error) << longer.error->message;
  EXPECT_EQ(longer.compute_units, longer.run.instructions + 101 + 101);

  ExecuteResult remaining = run("call sol_remaining_compute_units\nr6 = r0\nr0 = 0\nexit\n");
  EXPECT_EQ(remaining.run.registers[6], 199899u);
  EXPECT_EQ(remaining.compute_units, 104u);

  ExecuteResult panic = run(R"(
    r1 = 0x73722e62696c ll
    *(u64 *)(r10 - 8) = r1
    r1 = r10
    r1 += -8
    r2 = 6
    r3 = 12
    r4 = 5
    call sol_panic_
    exit
  )");
  ASSERT_TRUE(panic.error);
  EXPECT_EQ(panic.error->name(), "Panic");
  EXPECT_EQ(panic.logs.back(), "Program " + kId + " failed: SBF program Panicked in lib.rs at 12:5");
  // A fault of the program (not a syscall's error) uses up the budget; the panic is a syscall's.
  EXPECT_EQ(panic.compute_units, panic.run.instructions + 6);
}

TEST(SolanaRuntime, FailuresNameTheirCause) {
  ExecuteResult abort = run("call abort\nexit\n");
  ASSERT_TRUE(abort.error);
  EXPECT_EQ(abort.error->name(), "Abort");
  EXPECT_EQ(abort.logs.back(), "Program " + kId + " failed: SBF program panicked");

  // The curve25519, alt_bn128 and Poseidon syscalls are not provided: a call names the syscall.
  for (const char* name : {"sol_curve_group_op", "sol_alt_bn128_group_op", "sol_poseidon"}) {
    ExecuteResult missing = run("call " + std::string(name) + "\nexit\n");
    ASSERT_TRUE(missing.error);
    EXPECT_EQ(missing.error->name(), "UnknownSyscall");
    EXPECT_EQ(missing.logs.back(), "Program " + kId + " failed: the program called " + std::string(name) +
                                       ", which bpfkit does not provide");
  }

  ExecuteResult fault = run("r0 = *(u64 *)(r1 + 48)\nexit\n");  // past the 48 bytes of input
  ASSERT_TRUE(fault.error);
  EXPECT_EQ(fault.logs.back(),
            "Program " + kId + " failed: Access violation in input section at address 0x400000030 of size 8");
}

// deplete_cu_meter_on_vm_failure: a VM fault uses up the budget (the log
// still shows what ran); an error a syscall returns does not.
TEST(SolanaRuntime, AVmFaultUsesUpTheBudget) {
  ExecuteResult fault = run("r0 = *(u64 *)(r1 + 48)\nexit\n");
  ASSERT_TRUE(fault.error);
  EXPECT_EQ(fault.compute_units, 200'000u);
  EXPECT_NE(std::find(fault.logs.begin(), fault.logs.end(), "Program " + kId + " consumed 1 of 200000 compute units"),
            fault.logs.end());
  ExecuteResult abort = run("call abort\nexit\n");
  ASSERT_TRUE(abort.error);
  EXPECT_LT(abort.compute_units, 200'000u);
}

// A v0 shared object whose relocation names a syscall no runtime has (the
// fixture harness's `log`): the call fails naming it.
TEST(SolanaRuntime, RelocatedSyscallThatNoOneProvides) {
  auto file = load::read_file(std::string(BPFKIT_SHARED_DIR) + "/sbpf/elfs/syscall_reloc_64_32_sbpfv0.so");
  ASSERT_TRUE(file);
  elf::sbpf::LoaderConfig config;
  config.syscalls = syscall_names();
  auto program = elf::sbpf::load_program(*file, config);
  ASSERT_TRUE(program) << to_string(program.error());
  Instruction ix;
  ix.program_id = kProgram;
  auto result = engines::execute_on_both(*program, ix, {});
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error);
  EXPECT_EQ(result->error->name(), "UnknownSyscall");
  EXPECT_EQ(result->logs.back(), "Program " + kId + " failed: the program called log, which bpfkit does not provide");
  // Deployment checks refuse it up front, as Agave's loader does.
  config.deploy_checks = true;
  auto refused = elf::sbpf::load_program(*file, config);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().name(), "UnresolvedSymbol");
}

TEST(SolanaRuntime, BudgetAndTruncation) {
  ExecuteOptions small;
  small.compute_units = 50;
  ExecuteResult poor = run(kHello, {}, {}, {}, small);
  ASSERT_TRUE(poor.error);
  EXPECT_EQ(poor.error->name(), "ComputationalBudgetExceeded");
  EXPECT_EQ(poor.logs[1], "Program " + kId + " consumed 50 of 50 compute units");

  // 200 logs of 100 bytes: the log stops at 10,000 bytes with one line.
  ExecuteResult chatty = run(R"(
    r6 = 200
  loop:
    r1 = r10
    r1 += -256
    r2 = 100
    call sol_log_
    r6 -= 1
    if r6 != 0 goto loop
    r0 = 0
    exit
  )");
  EXPECT_FALSE(chatty.error);
  EXPECT_EQ(chatty.logs.back(), "Log truncated");
  uint64_t bytes = 0;
  for (size_t i = 0; i + 1 < chatty.logs.size(); ++i) bytes += chatty.logs[i].size();
  EXPECT_LT(bytes, 10000u);
  EXPECT_GE(bytes + 113, 10000u);
}

}  // namespace
}  // namespace bpfkit::solana

namespace bpfkit::solana {
namespace {

struct Signed {
  std::array<uint8_t, 32> hash{};
  std::array<uint8_t, 64> signature{};
  uint64_t recovery_id = 0;
  std::array<uint8_t, 64> public_key{};
};

// ECDSA over secp256k1 done here with OpenSSL's big numbers (private key d,
// nonce k): r = (kG).x mod n, s = (e + r d) / k, the recovery id from kG,
// and the public key dG, all that the recovery must find again.
Signed sign(uint64_t private_key, uint64_t nonce, std::string_view message) {
  Signed out;
  const std::span<const uint8_t> text(reinterpret_cast<const uint8_t*>(message.data()), message.size());
  out.hash = sha256({&text, 1});
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_secp256k1);
  BN_CTX* ctx = BN_CTX_new();
  BIGNUM *d = BN_new(), *k = BN_new(), *e = BN_new(), *x = BN_new(), *y = BN_new(), *r = BN_new(), *s = BN_new(),
         *k_inverse = BN_new();
  const BIGNUM* n = EC_GROUP_get0_order(group);
  BN_set_word(d, private_key);
  BN_set_word(k, nonce);
  BN_bin2bn(out.hash.data(), 32, e);
  EC_POINT* big_r = EC_POINT_new(group);
  EC_POINT* q = EC_POINT_new(group);
  EC_POINT_mul(group, big_r, k, nullptr, nullptr, ctx);
  EC_POINT_get_affine_coordinates(group, big_r, x, y, ctx);
  BN_nnmod(r, x, n, ctx);
  out.recovery_id = (BN_is_odd(y) ? 1 : 0) | (BN_cmp(x, n) >= 0 ? 2 : 0);
  BN_mod_mul(s, r, d, n, ctx);
  BN_mod_add(s, s, e, n, ctx);
  BN_mod_inverse(k_inverse, k, n, ctx);
  BN_mod_mul(s, s, k_inverse, n, ctx);
  BN_bn2binpad(r, out.signature.data(), 32);
  BN_bn2binpad(s, out.signature.data() + 32, 32);
  EC_POINT_mul(group, q, d, nullptr, nullptr, ctx);
  uint8_t encoded[65];
  EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, encoded, sizeof encoded, ctx);
  std::memcpy(out.public_key.data(), encoded + 1, 64);
  for (BIGNUM* v : {d, k, e, x, y, r, s, k_inverse}) BN_free(v);
  EC_POINT_free(big_r);
  EC_POINT_free(q);
  BN_CTX_free(ctx);
  EC_GROUP_free(group);
  return out;
}

TEST(SolanaCrypto, Secp256k1Recover) {
  // Private key 1: the key is the generator itself.
  const Signed one = sign(1, 0x5eed, "bpfkit");
  const auto g =
      from_base64("eb5mfvncu6xVoGKVzocLBwKb/NstzijZWfKBWxb4F5hIOtp3JqPEZV2k+/wOEQio/Re0SKaFVBmcR9CP+xDUuA==");
  ASSERT_TRUE(g);
  EXPECT_EQ(std::vector<uint8_t>(one.public_key.begin(), one.public_key.end()), *g);
  for (uint64_t key : {1ull, 7ull, 0xdeadbeefull, 0x0123456789abcdefull}) {
    for (uint64_t nonce : {3ull, 0x5eedull, 0xfeedfacecafeull}) {
      const Signed s = sign(key, nonce, "message " + std::to_string(key));
      auto recovered = secp256k1_recover(s.hash, s.recovery_id, s.signature);
      ASSERT_TRUE(recovered) << recovered.error().message;
      EXPECT_EQ(*recovered, s.public_key) << key << " " << nonce;
      // The other parity gives another key.
      auto other = secp256k1_recover(s.hash, s.recovery_id ^ 1, s.signature);
      EXPECT_TRUE(!other || *other != s.public_key);
    }
  }
  const Signed s = sign(7, 3, "x");
  auto bad_id = secp256k1_recover(s.hash, 4, s.signature);
  ASSERT_FALSE(bad_id);
  EXPECT_EQ(bad_id.error().message, "InvalidRecoveryId");
  std::array<uint8_t, 64> zero_s = s.signature;
  std::fill(zero_s.begin() + 32, zero_s.end(), 0);
  auto zero = secp256k1_recover(s.hash, s.recovery_id, zero_s);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "InvalidSignature");
  std::array<uint8_t, 64> high_r = s.signature;
  std::fill(high_r.begin(), high_r.begin() + 32, 0xff);  // r >= n
  EXPECT_FALSE(secp256k1_recover(s.hash, s.recovery_id, high_r));
}

// sol_secp256k1_recover on the instruction data (hash, signature): the key
// as return data, 25,000 units; the error codes in r0.
TEST(SolanaRuntime, Secp256k1RecoverSyscall) {
  const Signed s = sign(0xdeadbeef, 0x5eed, "syscall");
  std::vector<uint8_t> data(s.hash.begin(), s.hash.end());
  data.insert(data.end(), s.signature.begin(), s.signature.end());
  auto program = [](uint64_t recovery_id) {
    return "r6 = r2\nr1 = r6\nr2 = " + std::to_string(recovery_id) +
           "\nr3 = r6\nr3 += 32\nr4 = r10\nr4 += -64\ncall sol_secp256k1_recover\nr7 = r0\nr1 = r10\nr1 += "
           "-64\nr2 = 64\ncall sol_set_return_data\nr0 = r7\nexit\n";
  };
  ExecuteResult ok = run(program(s.recovery_id), {}, {}, data);
  ASSERT_FALSE(ok.error) << ok.error->message;
  EXPECT_EQ(ok.return_data.data, std::vector<uint8_t>(s.public_key.begin(), s.public_key.end()));
  EXPECT_EQ(ok.compute_units, 15u + 25000 + 100);
  EXPECT_EQ(run(program(4), {}, {}, data).run.r0, 2u);
  EXPECT_EQ(run(program(256), {}, {}, data).run.r0, 2u);
  data[40] ^= 0xff;  // r changed: another key, or none
  ExecuteResult other = run(program(s.recovery_id), {}, {}, data);
  EXPECT_TRUE(other.run.r0 == 3 ||
              other.return_data.data != std::vector<uint8_t>(s.public_key.begin(), s.public_key.end()));
  ExecuteOptions poor;
  poor.compute_units = 20000;
  ExecuteResult budget = run(program(s.recovery_id), {}, {}, data, poor);
  ASSERT_TRUE(budget.error);
  EXPECT_EQ(budget.error->name(), "ComputationalBudgetExceeded");
}

}  // namespace
}  // namespace bpfkit::solana
