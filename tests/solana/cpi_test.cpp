// Cross-program invocation on programs assembled here (sBPF v3): a C-ABI
// caller moving lamports through the System Program signed by a PDA, a
// Rust-ABI caller invoking a second program that writes and grows an
// account, the costs, the limits and failures, logs line by line; the
// System Program's own checks; the syscalls that read the transaction
// (sysvars by id, epoch stake, stack height, processed siblings).
#include <gtest/gtest.h>

#include <cstring>

#include "both_engines.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/solana.hpp"
#include "test_programs.hpp"

namespace bpfkit::solana {
namespace {

using test::assemble;
using test::key_of;

const Pubkey kCaller = key_of(0x42), kCallee = key_of(0x77);
const std::string kCallerId = to_base58(kCaller), kCalleeId = to_base58(kCallee);
const std::string kSystemId = "11111111111111111111111111111111";

// Assembly helpers: `r0 = value` stored at r10 - offset.
std::string put64(int offset, const std::string& value) {
  return "r0 = " + value + "\n*(u64 *)(r10 - " + std::to_string(offset) + ") = r0\n";
}
// r0 = base + add, stored at r10 - offset (base: r9 = the input, r10 = the frame).
std::string put_address(int offset, const std::string& base, long add) {
  return "r0 = " + base + "\nr0 += " + std::to_string(add) + "\n*(u64 *)(r10 - " + std::to_string(offset) + ") = r0\n";
}
std::string put_key(int offset, uint8_t fill) {
  std::string out;
  char value[32];
  std::snprintf(value, sizeof value, "0x%02x%02x%02x%02x%02x%02x%02x%02x ll", fill, fill, fill, fill, fill, fill, fill,
                fill);
  for (int i = 0; i < 4; ++i) out += put64(offset - 8 * i, value);
  return out;
}

// The aligned input with accounts of no data: account i at 8 + 10,336 i
// (key + 8, owner + 40, lamports + 72, data + 88).
long account_at(int i) { return 8 + 10336L * i; }

// The 32 bytes of `key` at [r10 - offset, r10 - offset + 32).
std::string put_id(int offset, const Pubkey& key) {
  std::string out;
  for (int w = 0; w < 4; ++w) {
    uint64_t word;
    std::memcpy(&word, key.data() + 8 * w, 8);
    out += put64(offset - 8 * w, std::to_string(word) + " ll");
  }
  return out;
}

struct TransferShape {
  uint64_t lamports = 300;
  int signers = 1;            // r5
  int account_infos = 2;      // r3
  uint64_t data_length = 12;  // SolInstruction.data_len
  bool data_from_input = false;
  uint8_t program_fill = 0;       // the callee's id: 32 bytes of this (0: the System Program)
  std::optional<Pubkey> program;  // or this id
  uint8_t bump = 0;
  int metas = 2;  // SolInstruction.accounts_len
};

// A C program: System Program Transfer { lamports } from account 0 (a PDA
// of seeds "v", bump) to account 1, signed with the PDA's seeds.
std::string c_transfer(const TransferShape& shape) {
  std::string s = "r9 = r1\n";
  if (shape.program_fill != 0) s += put_key(32, shape.program_fill);  // [-32, 0)
  if (shape.program) s += put_id(32, *shape.program);
  s += "r0 = 2\n*(u32 *)(r10 - 48) = r0\n";
  s += "r0 = " + std::to_string(shape.lamports) + " ll\n*(u64 *)(r10 - 44) = r0\n";
  // SolAccountMeta[2] at -80: pubkey_addr, is_writable, is_signer.
  s += put_address(80, "r9", account_at(0) + 8) + "r0 = 0x0101\n*(u16 *)(r10 - 72) = r0\n";
  s += put_address(64, "r9", account_at(1) + 8) + "r0 = 1\n*(u8 *)(r10 - 56) = r0\n";
  // SolInstruction at -120.
  s += put_address(120, "r10", -32) + put_address(112, "r10", -80) + put64(104, std::to_string(shape.metas));
  s += shape.data_from_input ? put_address(96, "r9", 0) : put_address(96, "r10", -48);
  s += put64(88, std::to_string(shape.data_length));
  // SolAccountInfo[2] at -232: key, lamports, data_len, data, owner.
  for (int i = 0; i < 2; ++i) {
    const int at = 232 - 56 * i;
    s += put_address(at, "r9", account_at(i) + 8) + put_address(at - 8, "r9", account_at(i) + 72);
    s += put_address(at - 24, "r9", account_at(i) + 88) + put_address(at - 32, "r9", account_at(i) + 40);
  }
  // Signer seeds at -248 -> seeds at -280 -> bytes "v", bump at -288.
  s += put_address(248, "r10", -280) + put64(240, "2");
  s += put_address(280, "r10", -288) + put64(272, "1") + put_address(264, "r10", -287) + put64(256, "1");
  s += "r0 = 0x76\n*(u8 *)(r10 - 288) = r0\nr0 = " + std::to_string(shape.bump) + "\n*(u8 *)(r10 - 287) = r0\n";
  s += "r1 = r10\nr1 += -120\nr2 = r10\nr2 += -232\nr3 = " + std::to_string(shape.account_infos) +
       "\nr4 = r10\nr4 += -248\nr5 = " + std::to_string(shape.signers) + "\ncall sol_invoke_signed_c\nexit\n";
  return s;
}

struct Pda {
  Pubkey key;
  uint8_t bump;
};
Pda find_pda() {
  const uint8_t v = 'v';
  for (int bump = 255; bump >= 0; --bump) {
    const uint8_t b = static_cast<uint8_t>(bump);
    const std::span<const uint8_t> seeds[] = {{&v, 1}, {&b, 1}};
    if (auto key = create_program_address(seeds, kCaller)) return {*key, b};
  }
  return {};
}

ExecuteResult execute_ok(const std::shared_ptr<const isa::Program>& program, std::vector<Account> accounts,
                         std::vector<InstructionAccount> metas, const ExecuteOptions& options = {}) {
  Instruction ix;
  ix.program_id = kCaller;
  ix.accounts = std::move(metas);
  auto result = engines::execute_on_both(*program, ix, std::move(accounts), options);
  EXPECT_TRUE(result) << (result ? "" : to_string(result.error()));
  return result ? std::move(*result) : ExecuteResult{};
}

std::vector<Account> pda_accounts(const Pda& pda) {
  Account from, to;
  from.key = pda.key;
  from.lamports = 1000;
  to.key = key_of(2);
  to.lamports = 5;
  return {from, to};
}

std::string consumed(const std::string& id, uint64_t units, uint64_t of) {
  return "Program " + id + " consumed " + std::to_string(units) + " of " + std::to_string(of) + " compute units";
}

TEST(SolanaCpi, SystemTransferSignedByPda) {
  const Pda pda = find_pda();
  TransferShape shape;
  shape.bump = pda.bump;
  auto program = assemble(c_transfer(shape));
  ExecuteResult r = execute_ok(program, pda_accounts(pda), {{0, false, true}, {1, false, true}});
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.accounts[0].lamports, 700u);
  EXPECT_EQ(r.accounts[1].lamports, 305u);
  // The invoke (1,000), 12 bytes of data (12 / 250 = 0), no account data, the System Program's 150.
  EXPECT_EQ(r.compute_units, r.run.instructions + 1000 + 150);
  EXPECT_EQ(r.logs,
            (std::vector<std::string>{"Program " + kCallerId + " invoke [1]", "Program " + kSystemId + " invoke [2]",
                                      "Program " + kSystemId + " success", consumed(kCallerId, r.compute_units, 200000),
                                      "Program " + kCallerId + " success"}));
  // SIMD-0339: 946 an invoke, 2 metas * 34 / 250 = 0, 2 infos * 80 / 250 = 0.
  ExecuteOptions simd;
  simd.simd_0339 = true;
  ExecuteResult cheaper = execute_ok(program, pda_accounts(pda), {{0, false, true}, {1, false, true}}, simd);
  ASSERT_FALSE(cheaper.error);
  EXPECT_EQ(cheaper.compute_units, r.compute_units - 54);
}

TEST(SolanaCpi, SystemTransferFailures) {
  const Pda pda = find_pda();
  auto failure = [&](TransferShape shape,
                     std::vector<InstructionAccount> metas = {{0, false, true}, {1, false, true}}) {
    shape.bump = pda.bump;
    ExecuteResult r = execute_ok(assemble(c_transfer(shape)), pda_accounts(pda), std::move(metas));
    EXPECT_TRUE(r.error);
    EXPECT_EQ(r.accounts[0].lamports, 1000u);  // nothing written back
    return r;
  };
  // No seeds: the PDA's signature is not the caller's to give.
  TransferShape unsigned_shape;
  unsigned_shape.signers = 0;
  ExecuteResult escalated = failure(unsigned_shape);
  ASSERT_TRUE(escalated.error);
  EXPECT_EQ(escalated.error->name(), "PrivilegeEscalation");
  EXPECT_EQ(escalated.logs[1], to_base58(pda.key) + "'s signer privilege escalated");
  EXPECT_EQ(escalated.logs.back(),
            "Program " + kCallerId + " failed: Cross-program invocation with unauthorized signer or writable account");
  // A read-only account asked for writable.
  ExecuteResult readonly = failure({}, {{0, false, true}, {1, false, false}});
  EXPECT_EQ(readonly.error->name(), "PrivilegeEscalation");
  EXPECT_EQ(readonly.logs[1], to_base58(key_of(2)) + "'s writable privilege escalated");
  // More than the PDA has: the System Program's error, its log line, passed up.
  TransferShape rich;
  rich.lamports = 5000;
  ExecuteResult poor = failure(rich);
  EXPECT_EQ(poor.error->name(), "Custom");
  EXPECT_EQ(poor.logs,
            (std::vector<std::string>{"Program " + kCallerId + " invoke [1]", "Program " + kSystemId + " invoke [2]",
                                      "Transfer: insufficient lamports 1000, need 5000",
                                      "Program " + kSystemId + " failed: custom program error: 0x1",
                                      consumed(kCallerId, poor.compute_units, 200000),
                                      "Program " + kCallerId + " failed: custom program error: 0x1"}));
  // The limits: signers, account infos, data length.
  TransferShape many_signers;
  many_signers.signers = 17;
  EXPECT_EQ(failure(many_signers).error->name(), "TooManySigners");
  TransferShape many_infos;
  many_infos.account_infos = 65;
  ExecuteResult infos = failure(many_infos);
  EXPECT_EQ(infos.error->name(), "MaxInstructionAccountInfosExceeded");
  EXPECT_EQ(infos.logs.back(),
            "Program " + kCallerId + " failed: Invoked an instruction with too many account info's (65 > 64)");
  TransferShape long_data;
  long_data.data_length = 10241;
  long_data.data_from_input = true;
  EXPECT_EQ(failure(long_data).error->name(), "MaxInstructionDataLenExceeded");
  TransferShape many_metas;
  many_metas.metas = 256;
  ExecuteResult metas = failure(many_metas);
  EXPECT_EQ(metas.error->name(), "MaxInstructionAccountsExceeded");
  EXPECT_EQ(metas.logs.back(),
            "Program " + kCallerId + " failed: Invoked an instruction with too many accounts (256 > 255)");
  // The loaders and precompiles cannot be invoked, with the loader's
  // account in the transaction or without it (refused before the
  // instruction's accounts are looked up, as current Agave does).
  TransferShape loader;
  loader.program = *parse_pubkey("BPFLoaderUpgradeab1e11111111111111111111111");
  loader.bump = pda.bump;
  EXPECT_EQ(failure(loader).error->name(), "ProgramNotSupported");
  TransferShape escalating_loader = loader;
  escalating_loader.signers = 0;
  EXPECT_EQ(failure(escalating_loader).error->name(), "ProgramNotSupported");
  std::vector<Account> with_loader = pda_accounts(pda);
  with_loader.emplace_back().key = *loader.program;
  with_loader.back().executable = true;
  ExecuteResult refused = execute_ok(assemble(c_transfer(loader)), with_loader, {{0, false, true}, {1, false, true}});
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->name(), "ProgramNotSupported");
  EXPECT_EQ(refused.logs.back(), "Program " + kCallerId +
                                     " failed: Program BPFLoaderUpgradeab1e11111111111111111111111 not supported by "
                                     "inner instructions");
  // A program the transaction does not have.
  TransferShape unknown;
  unknown.program_fill = 0x99;
  ExecuteResult missing = failure(unknown);
  EXPECT_EQ(missing.error->name(), "MissingAccount");
  EXPECT_EQ(missing.logs[1], "Unknown program " + to_base58(key_of(0x99)));
  // The budget: the invoke's 1,000 units do not fit.
  ExecuteOptions small;
  small.compute_units = 900;
  TransferShape ok;
  ok.bump = pda.bump;
  ExecuteResult budget =
      execute_ok(assemble(c_transfer(ok)), pda_accounts(pda), {{0, false, true}, {1, false, true}}, small);
  ASSERT_TRUE(budget.error);
  EXPECT_EQ(budget.error->name(), "ComputationalBudgetExceeded");
}

// A Rust-ABI caller: one account (8 bytes of data, owned by the callee)
// passed writable to the callee, which checks its stack height, writes
// 0x1122 and grows the data to 16 bytes with 0x33. The caller then checks
// what it sees: its data, the serialized length and the AccountInfo's.
const char* kRustCaller = R"(
  r9 = r1
  r0 = r9
  r0 += 80
  *(u64 *)(r10 - 40) = r0
  r0 = r9
  r0 += 96
  *(u64 *)(r10 - 88) = r0
  r0 = 8
  *(u64 *)(r10 - 80) = r0
  r0 = r9
  r0 += 16
  *(u64 *)(r10 - 160) = r0
  r0 = r10
  r0 += -64
  *(u64 *)(r10 - 152) = r0
  r0 = r10
  r0 += -112
  *(u64 *)(r10 - 144) = r0
  r0 = r9
  r0 += 48
  *(u64 *)(r10 - 136) = r0
  r0 = 0x0505050505050505 ll
  *(u64 *)(r10 - 200) = r0
  *(u64 *)(r10 - 192) = r0
  *(u64 *)(r10 - 184) = r0
  *(u64 *)(r10 - 176) = r0
  r0 = 0x0100
  *(u16 *)(r10 - 168) = r0
  r0 = r10
  r0 += -200
  *(u64 *)(r10 - 320) = r0
  r0 = 1
  *(u64 *)(r10 - 312) = r0
  *(u64 *)(r10 - 304) = r0
  r0 = 0x7777777777777777 ll
  *(u64 *)(r10 - 272) = r0
  *(u64 *)(r10 - 264) = r0
  *(u64 *)(r10 - 256) = r0
  *(u64 *)(r10 - 248) = r0
  r1 = r10
  r1 += -320
  r2 = r10
  r2 += -160
  r3 = 1
  r4 = 0
  r5 = 0
  call sol_invoke_signed_rust
  r0 = 1
  r1 = *(u64 *)(r9 + 96)
  if r1 != 0x1122 goto out
  r0 = 2
  r1 = *(u64 *)(r9 + 88)
  if r1 != 16 goto out
  r0 = 3
  r1 = *(u64 *)(r10 - 80)
  if r1 != 16 goto out
  r0 = 4
  r1 = *(u64 *)(r9 + 104)
  if r1 != 0x33 goto out
  r0 = 0
out:
  exit
)";

const char* kCalleeWrites = R"(
  r9 = r1
  call sol_get_stack_height
  if r0 != 2 goto fail
  r0 = 0x1122
  *(u64 *)(r9 + 96) = r0
  r0 = 16
  *(u64 *)(r9 + 88) = r0
  r0 = 0x33
  *(u64 *)(r9 + 104) = r0
  r0 = 0
  exit
fail:
  r0 = 7
  exit
)";

std::vector<Account> callee_owned_account() {
  Account account;
  account.key = key_of(5);
  account.owner = kCallee;
  account.lamports = 10;
  account.data.assign(8, 0);
  return {account};
}

TEST(SolanaCpi, RustCallerInvokesAProgramThatWritesAnAccount) {
  ExecuteOptions options;
  options.programs.emplace_back(kCallee, assemble(kCalleeWrites));
  ExecuteResult r = execute_ok(assemble(kRustCaller), callee_owned_account(), {{0, false, true}}, options);
  ASSERT_FALSE(r.error) << r.error->message << " r0=" << r.run.r0;
  ASSERT_EQ(r.accounts[0].data.size(), 16u);
  uint64_t first, second;
  std::memcpy(&first, r.accounts[0].data.data(), 8);
  std::memcpy(&second, r.accounts[0].data.data() + 8, 8);
  EXPECT_EQ(first, 0x1122u);
  EXPECT_EQ(second, 0x33u);
  // Callee: 9 instructions and the stack height's 100; the caller's remaining
  // budget when the callee starts: 200,000 less 47 instructions and the invoke.
  const uint64_t callee = 11 + 100, before_callee = 200000 - 47 - 1000;
  EXPECT_EQ(r.logs, (std::vector<std::string>{
                        "Program " + kCallerId + " invoke [1]", "Program " + kCalleeId + " invoke [2]",
                        consumed(kCalleeId, callee, before_callee), "Program " + kCalleeId + " success",
                        consumed(kCallerId, r.compute_units, 200000), "Program " + kCallerId + " success"}));
  EXPECT_EQ(r.compute_units, r.run.instructions + 1000 + callee);
  // A heap of 64 KiB: 8 units for each of the two invocations.
  ExecuteOptions heap = options;
  heap.heap_size = 64 * 1024;
  ExecuteResult with_heap = execute_ok(assemble(kRustCaller), callee_owned_account(), {{0, false, true}}, heap);
  ASSERT_FALSE(with_heap.error);
  EXPECT_EQ(with_heap.compute_units, r.compute_units + 16);
  EXPECT_EQ(with_heap.logs[2], consumed(kCalleeId, callee, before_callee - 8));

  // The callee's failure reaches the caller: stack height 2 is asked of the
  // caller's own program run at the top (height 1).
  ExecuteResult top = execute_ok(assemble(kCalleeWrites), callee_owned_account(), {{0, false, true}});
  ASSERT_TRUE(top.error);
  EXPECT_EQ(top.error->name(), "Custom");
}

TEST(SolanaCpi, CalleeFailuresAndDepth) {
  // A callee that faults: its own error in its line, ProgramFailedToComplete for the caller.
  ExecuteOptions options;
  options.programs.emplace_back(kCallee, assemble("r1 += 100000\nr0 = *(u64 *)(r1 + 0)\nexit\n"));
  ExecuteResult r = execute_ok(assemble(kRustCaller), callee_owned_account(), {{0, false, true}}, options);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->name(), "ProgramFailedToComplete");
  EXPECT_EQ(r.logs[3],
            "Program " + kCalleeId + " failed: Access violation in input section at address 0x4000186a0 of size 8");
  EXPECT_EQ(r.logs.back(), "Program " + kCallerId + " failed: Program failed to complete");
  EXPECT_EQ(r.accounts[0].data, std::vector<uint8_t>(8, 0));

  // A program invoking itself: five deep, then CallDepth at every level.
  const std::string recurse = R"(
    r0 = 0x4242424242424242 ll
    *(u64 *)(r10 - 48) = r0
    *(u64 *)(r10 - 40) = r0
    *(u64 *)(r10 - 32) = r0
    *(u64 *)(r10 - 24) = r0
    r1 = r10
    r1 += -128
    r2 = r10
    r2 += -48
    *(u64 *)(r10 - 128) = r2
    r1 = r10
    r1 += -128
    r2 = 0
    r3 = 0
    r4 = 0
    r5 = 0
    call sol_invoke_signed_c
    exit
  )";
  ExecuteResult deep = execute_ok(assemble(recurse), {}, {});
  ASSERT_TRUE(deep.error);
  EXPECT_EQ(deep.error->name(), "CallDepth");
  int invokes = 0;
  for (const std::string& line : deep.logs) invokes += line.find(" invoke [") != std::string::npos;
  EXPECT_EQ(invokes, 5);
  EXPECT_EQ(deep.logs[4], "Program " + kCallerId + " invoke [5]");
  EXPECT_EQ(deep.logs.back(), "Program " + kCallerId + " failed: Cross-program invocation call depth too deep");

  // Reentrancy: caller -> callee -> caller.
  ExecuteOptions back;
  back.programs.emplace_back(kCallee, assemble(recurse));
  std::string to_callee = recurse;
  to_callee.replace(to_callee.find("0x4242424242424242"), 18, "0x7777777777777777");
  ExecuteResult reentrant = execute_ok(assemble(to_callee), {}, {}, back);
  ASSERT_TRUE(reentrant.error);
  EXPECT_EQ(reentrant.error->name(), "ReentrancyNotAllowed");
}

// CreateAccount { lamports 50, space, owner kCallee } from account 0
// (signer) to account 1 (signer); the caller then checks that it sees the
// new account: owner byte, data length, lamports.
std::string create_account_caller(uint64_t space) {
  std::string create = "r9 = r1\n";
  create += "r0 = 0\n*(u32 *)(r10 - 96) = r0\n";
  create += put64(92, "50") + put64(84, std::to_string(space));
  create += put_key(76, 0x77);
  create += put_address(160, "r9", account_at(0) + 8) + "r0 = 0x0101\n*(u16 *)(r10 - 152) = r0\n";
  create += put_address(144, "r9", account_at(1) + 8) + "r0 = 0x0101\n*(u16 *)(r10 - 136) = r0\n";
  create += put_address(200, "r10", -32) + put_address(192, "r10", -160) + put64(184, "2");
  create += put_address(176, "r10", -96) + put64(168, "52");
  for (int i = 0; i < 2; ++i) {
    const int at = 312 - 56 * i;
    create += put_address(at, "r9", account_at(i) + 8) + put_address(at - 8, "r9", account_at(i) + 72);
    create += put_address(at - 24, "r9", account_at(i) + 88) + put_address(at - 32, "r9", account_at(i) + 40);
  }
  create += "r1 = r10\nr1 += -200\nr2 = r10\nr2 += -312\nr3 = 2\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\n";
  create += "r1 = *(u64 *)(r9 + " + std::to_string(account_at(1) + 80) + ")\nif r1 != " + std::to_string(space) +
            " goto bad\n";
  create += "r1 = *(u64 *)(r9 + " + std::to_string(account_at(1) + 72) + ")\nif r1 != 50 goto bad\n";
  create += "r1 = *(u8 *)(r9 + " + std::to_string(account_at(1) + 40) + ")\nif r1 != 0x77 goto bad\nr0 = 0\nexit\n";
  return create + "bad:\nr0 = 9\nexit\n";
}

// The System Program on its own (the transaction's instruction is a
// program that forwards nothing: a direct call through execute's
// transaction is not possible, so a caller invokes it with its accounts).
TEST(SolanaCpi, SystemProgramCreateAccountAllocateAssign) {
  Account funder, fresh;
  funder.key = key_of(1);
  funder.lamports = 100;
  fresh.key = key_of(2);
  auto program = assemble(create_account_caller(16));
  ExecuteResult r = execute_ok(program, {funder, fresh}, {{0, true, true}, {1, true, true}});
  ASSERT_FALSE(r.error) << r.error->message << " r0=" << r.run.r0;
  EXPECT_EQ(r.accounts[0].lamports, 50u);
  EXPECT_EQ(r.accounts[1].lamports, 50u);
  EXPECT_EQ(r.accounts[1].owner, kCallee);
  EXPECT_EQ(r.accounts[1].data, std::vector<uint8_t>(16, 0));
  // The new account must sign.
  ExecuteResult unsigned_to = execute_ok(program, {funder, fresh}, {{0, true, true}, {1, false, true}});
  ASSERT_TRUE(unsigned_to.error);
  EXPECT_EQ(unsigned_to.error->name(), "PrivilegeEscalation");
  // Already funded: AccountAlreadyInUse, Custom(0), with its log line.
  fresh.lamports = 1;
  ExecuteResult in_use = execute_ok(program, {funder, fresh}, {{0, true, true}, {1, true, true}});
  ASSERT_TRUE(in_use.error);
  EXPECT_EQ(in_use.logs[2], "Create Account: account " + to_base58(key_of(2)) + " already in use");
  EXPECT_EQ(in_use.logs.back(), "Program " + kCallerId + " failed: custom program error: 0x0");
}

// An account grows by at most 10 KiB (MAX_PERMITTED_DATA_INCREASE) past
// its length when the caller was serialized, inner instructions included:
// the System Program may create 10,241 bytes, but the caller's
// update_caller_account refuses them (InvalidRealloc, with the runtime's
// log line); a BPF callee growing past its own limit fails in its own
// write-back, and its InvalidRealloc reaches the caller as itself.
TEST(SolanaCpi, GrowthInInnerInstructionsIsLimitedTo10KiB) {
  Account funder, fresh;
  funder.key = key_of(1);
  funder.lamports = 100;
  fresh.key = key_of(2);
  const std::vector<InstructionAccount> signers = {{0, true, true}, {1, true, true}};
  ExecuteResult limit = execute_ok(assemble(create_account_caller(10240)), {funder, fresh}, signers);
  ASSERT_FALSE(limit.error) << limit.error->message << " r0=" << limit.run.r0;
  EXPECT_EQ(limit.accounts[1].data.size(), 10240u);
  ExecuteResult over = execute_ok(assemble(create_account_caller(10241)), {funder, fresh}, signers);
  ASSERT_TRUE(over.error);
  EXPECT_EQ(over.error->name(), "InvalidRealloc");
  EXPECT_EQ(over.logs,
            (std::vector<std::string>{"Program " + kCallerId + " invoke [1]", "Program " + kSystemId + " invoke [2]",
                                      "Program " + kSystemId + " success",
                                      "Account data size realloc limited to 10240 in inner instructions",
                                      consumed(kCallerId, over.compute_units, 200000),
                                      "Program " + kCallerId + " failed: Failed to reallocate account data"}));
  EXPECT_TRUE(over.accounts[1].data.empty());  // nothing written back
  EXPECT_EQ(over.accounts[1].lamports, 0u);

  // A BPF callee growing the account from 8 bytes: to 8 + 10,240, then one more.
  auto grow_to = [](uint64_t length) {
    std::string caller = kRustCaller, callee = kCalleeWrites;
    caller.replace(caller.find("if r1 != 16"), 11, "if r1 != " + std::to_string(length));
    caller.replace(caller.find("if r1 != 16"), 11, "if r1 != " + std::to_string(length));
    callee.replace(callee.find("r0 = 16"), 7, "r0 = " + std::to_string(length));
    ExecuteOptions options;
    options.programs.emplace_back(kCallee, assemble(callee));
    return execute_ok(assemble(caller), callee_owned_account(), {{0, false, true}}, options);
  };
  ExecuteResult grown = grow_to(8 + 10240);
  ASSERT_FALSE(grown.error) << grown.error->message << " r0=" << grown.run.r0;
  EXPECT_EQ(grown.accounts[0].data.size(), 8u + 10240);
  ExecuteResult too_far = grow_to(8 + 10241);
  ASSERT_TRUE(too_far.error);
  EXPECT_EQ(too_far.error->name(), "InvalidRealloc");
  EXPECT_EQ(too_far.logs[3], "Program " + kCalleeId + " failed: Failed to reallocate account data");
  EXPECT_EQ(too_far.logs.back(), "Program " + kCallerId + " failed: Failed to reallocate account data");
  EXPECT_EQ(too_far.accounts[0].data.size(), 8u);
}

TEST(SolanaSyscalls, GetSysvarEpochStakeAndSiblings) {
  // sol_get_sysvar(rent id, out, offset, length), the bytes returned: the threshold and burn percent.
  const auto rent_id = *parse_pubkey("SysvarRent111111111111111111111111111111111");
  auto get_rent = [&](int offset, int length, const std::string& tamper = "") {
    const std::string source = put_id(32, rent_id) + tamper +
                               "r1 = r10\nr1 += -32\nr2 = r10\nr2 += -64\nr3 = " + std::to_string(offset) +
                               "\nr4 = " + std::to_string(length) +
                               "\ncall sol_get_sysvar\nr6 = r0\nr1 = r10\nr1 += -64\nr2 = " + std::to_string(length) +
                               "\ncall sol_set_return_data\nr0 = r6\nexit\n";
    return execute_ok(assemble(source), {}, {});
  };
  auto with = [&](int offset, int length) { return get_rent(offset, length); };
  ExecuteResult part = with(8, 9);
  ASSERT_FALSE(part.error) << part.error->message;
  double threshold;
  std::memcpy(&threshold, part.return_data.data.data(), 8);
  EXPECT_EQ(threshold, 2.0);
  EXPECT_EQ(part.return_data.data[8], 50);
  // 100 + 32 / 250 + max(9 / 250, 10), and the return data's 100.
  EXPECT_EQ(part.compute_units, part.run.instructions + 110 + 100);
  // Past the end of the 17 bytes: 1. The whole of it: 0.
  EXPECT_EQ(with(8, 10).run.r0, 1u);
  EXPECT_EQ(with(0, 17).run.r0, 0u);
  // An id the cache does not have: 2.
  EXPECT_EQ(get_rent(0, 1, "r3 = 0\n*(u8 *)(r10 - 32) = r3\n").run.r0, 2u);

  // Epoch stake: the total (null address), a vote account's, another's (0).
  ExecuteOptions options;
  options.sysvars.total_epoch_stake = 1'000'000;
  options.sysvars.vote_account_stakes = {{key_of(3), 4242}};
  ExecuteResult total =
      execute_ok(assemble("r1 = 0\ncall sol_get_epoch_stake\nr6 = r0\nr0 = 0\nexit\n"), {}, {}, options);
  EXPECT_EQ(total.run.registers[6], 1'000'000u);
  EXPECT_EQ(total.compute_units, 5u + 100);
  const std::string vote = put_key(32, 3) + "r1 = r10\nr1 += -32\ncall sol_get_epoch_stake\nr6 = r0\nr0 = 0\nexit\n";
  ExecuteResult one = execute_ok(assemble(vote), {}, {}, options);
  EXPECT_EQ(one.run.registers[6], 4242u);
  EXPECT_EQ(one.compute_units, one.run.instructions + 110);
  std::string other = vote;
  other.replace(other.find("0x03030303"), 10, "0x04040404");
  EXPECT_EQ(execute_ok(assemble(other), {}, {}, options).run.registers[6], 0u);

  // Epoch rewards (96 bytes, 100 + 96) and the last restart slot.
  options.sysvars.epoch_rewards.total_rewards = 99;
  options.sysvars.last_restart_slot = 12;
  ExecuteResult rewards =
      execute_ok(assemble("r1 = r10\nr1 += -96\ncall sol_get_epoch_rewards_sysvar\nr6 = *(u64 *)(r10 - 32)\n"
                          "r1 = r10\nr1 += -8\ncall sol_get_last_restart_slot\nr7 = *(u64 *)(r10 - 8)\nr0 = 0\nexit\n"),
                 {}, {}, options);
  EXPECT_EQ(rewards.run.registers[6], 99u);
  EXPECT_EQ(rewards.run.registers[7], 12u);
  EXPECT_EQ(rewards.compute_units, rewards.run.instructions + 196 + 108);

  // No sibling at the top of a transaction of one instruction: 0, 100 units.
  ExecuteResult sibling = execute_ok(
      assemble("r1 = 0\nr2 = r10\nr2 += -16\nr3 = r10\nr3 += -64\nr4 = r10\nr4 += -128\nr5 = r10\nr5 += -512\n"
               "call sol_get_processed_sibling_instruction\nexit\n"),
      {}, {});
  EXPECT_FALSE(sibling.error);
  EXPECT_EQ(sibling.compute_units, sibling.run.instructions + 100);
}

}  // namespace
}  // namespace bpfkit::solana

namespace bpfkit::solana {
namespace {

// SlotHashes and StakeHistory through sol_get_sysvar: their whole accounts
// (count, entries, zeros to 20,488 and 16,392 bytes), the bounds (1 past
// the end, 0 at it), the costs, and the aborts (offset + length past 2^64,
// an output that is not writable, translated before the id).
TEST(SolanaSyscalls, GetSysvarSlotHashesAndStakeHistory) {
  const Pubkey slot_hashes_id = *parse_pubkey("SysvarS1otHashes111111111111111111111111111");
  const Pubkey stake_history_id = *parse_pubkey("SysvarStakeHistory1111111111111111111111111");
  ExecuteOptions options;
  options.sysvars.slot_hashes = {{99, key_of(0xab)}, {98, key_of(0xcd)}};
  options.sysvars.stake_history = {{7, 1000, 20, 30}};
  // r6 = sol_get_sysvar(id, heap, offset, length); the return data: the
  // first 64 bytes read (at most).
  auto get = [&](const Pubkey& id, const std::string& offset, uint64_t length, const std::string& out = "0x300000000",
                 const std::string& id_at = "r10\nr1 += -32") {
    const std::string source = put_id(32, id) + "r1 = " + id_at + "\nr2 = " + out + " ll\nr3 = " + offset +
                               " ll\nr4 = " + std::to_string(length) + "\ncall sol_get_sysvar\nr6 = r0\n" +
                               "r1 = 0x300000000 ll\nr2 = " + std::to_string(std::min<uint64_t>(length, 64)) +
                               "\ncall sol_set_return_data\nr0 = 0\nexit\n";
    return execute_ok(assemble(source), {}, {}, options);
  };
  auto u64_at = [](const std::vector<uint8_t>& bytes, size_t at) {
    uint64_t v = 0;
    if (at + 8 <= bytes.size()) std::memcpy(&v, bytes.data() + at, 8);
    return v;
  };
  ExecuteResult head = get(slot_hashes_id, "0", 48);
  ASSERT_FALSE(head.error) << head.error->message;
  EXPECT_EQ(head.run.registers[6], 0u);
  EXPECT_EQ(u64_at(head.return_data.data, 0), 2u);   // entries
  EXPECT_EQ(u64_at(head.return_data.data, 8), 99u);  // newest slot
  EXPECT_EQ(std::vector<uint8_t>(head.return_data.data.begin() + 16, head.return_data.data.end()),
            std::vector<uint8_t>(32, 0xab));
  // 100 + 32 / 250 + max(48 / 250, 10), the return data's 100.
  EXPECT_EQ(head.compute_units, head.run.instructions + 110 + 100);
  ExecuteResult second = get(slot_hashes_id, "48", 8);
  EXPECT_EQ(u64_at(second.return_data.data, 0), 98u);
  // The whole account: 20,488 bytes, charged 100 + 20,488 / 250.
  ExecuteResult whole = get(slot_hashes_id, "0", kSlotHashesSize);
  EXPECT_EQ(whole.run.registers[6], 0u);
  EXPECT_EQ(whole.compute_units, whole.run.instructions + 100 + 81 + 100);
  EXPECT_EQ(get(slot_hashes_id, std::to_string(kSlotHashesSize - 8), 8).run.registers[6], 0u);
  EXPECT_EQ(get(slot_hashes_id, std::to_string(kSlotHashesSize - 7), 8).run.registers[6], 1u);
  EXPECT_EQ(get(slot_hashes_id, "0", kSlotHashesSize + 1).run.registers[6], 1u);

  ExecuteResult stake = get(stake_history_id, "0", 40);
  EXPECT_EQ(stake.run.registers[6], 0u);
  EXPECT_EQ(u64_at(stake.return_data.data, 0), 1u);
  EXPECT_EQ(u64_at(stake.return_data.data, 8), 7u);      // epoch
  EXPECT_EQ(u64_at(stake.return_data.data, 16), 1000u);  // effective
  EXPECT_EQ(u64_at(stake.return_data.data, 24), 20u);    // activating
  EXPECT_EQ(u64_at(stake.return_data.data, 32), 30u);    // deactivating
  EXPECT_EQ(get(stake_history_id, std::to_string(kStakeHistorySize), 0).run.registers[6], 0u);
  EXPECT_EQ(get(stake_history_id, std::to_string(kStakeHistorySize + 1), 0).run.registers[6], 1u);
  // The defaults: no entries, the account's full size.
  EXPECT_EQ(sysvar_bytes({}, slot_hashes_id), std::vector<uint8_t>(kSlotHashesSize, 0));
  EXPECT_EQ(sysvar_bytes({}, stake_history_id), std::vector<uint8_t>(kStakeHistorySize, 0));

  // Aborts: offset + length past 2^64; an output outside memory (zero
  // bytes are never translated); the output before the id.
  ExecuteResult overflow = get(slot_hashes_id, "0xffffffffffffffff", 8);
  ASSERT_TRUE(overflow.error);
  EXPECT_EQ(overflow.error->name(), "ArithmeticOverflow");
  ExecuteResult unmapped = get(slot_hashes_id, "0", 8, "0x500000000");
  ASSERT_TRUE(unmapped.error);
  EXPECT_NE(unmapped.error->message.find("0x500000000"), std::string::npos) << unmapped.error->message;
  EXPECT_FALSE(get(slot_hashes_id, "0", 0, "0x500000000").error);
  ExecuteResult both = get(slot_hashes_id, "0", 8, "0x500000000", "0x600000000 ll");
  ASSERT_TRUE(both.error);
  EXPECT_NE(both.error->message.find("0x500000000"), std::string::npos) << both.error->message;
  ExecuteResult bad_id = get(slot_hashes_id, "0", 8, "0x300000000", "0x600000000 ll");
  ASSERT_TRUE(bad_id.error);
  EXPECT_NE(bad_id.error->message.find("0x600000000"), std::string::npos) << bad_id.error->message;
}

}  // namespace
}  // namespace bpfkit::solana

namespace bpfkit::solana {
namespace {

// Siblings exist only where CPI made them: the caller invokes the callee
// with data [1], then [2]; the second invocation finds the first as its
// sibling 0 (its data [1]), the first finds none. The callee returns the
// sibling's data byte and the syscall's result.
TEST(SolanaCpi, ProcessedSiblingInstructionsComeFromCpi) {
  const std::string callee = R"(
    r0 = 1
    *(u64 *)(r10 - 16) = r0
    r1 = 0
    r2 = r10
    r2 += -16
    r3 = r10
    r3 += -48
    r4 = r10
    r4 += -56
    r5 = r10
    r5 += -128
    call sol_get_processed_sibling_instruction
    *(u8 *)(r10 - 55) = r0
    r1 = r10
    r1 += -56
    r2 = 2
    call sol_set_return_data
    r0 = 0
    exit
  )";
  std::string caller = put_key(32, 0x77) + put_address(72, "r10", -32) + put_address(48, "r10", -80) + put64(40, "1");
  for (int data : {1, 2})
    caller += "r0 = " + std::to_string(data) +
              "\n*(u8 *)(r10 - 80) = r0\nr1 = r10\nr1 += -72\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\n"
              "call sol_invoke_signed_c\n";
  caller += "r0 = 0\nexit\n";
  ExecuteOptions options;
  options.programs.emplace_back(kCallee, assemble(callee));
  ExecuteResult r = execute_ok(assemble(caller), {}, {}, options);
  ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(r.return_data.data, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(r.return_data.program_id, kCallee);
  // Each callee's own return line; the caller's shows the data it ends with.
  int returns = 0;
  for (const std::string& line : r.logs) returns += line.starts_with("Program return: ");
  EXPECT_EQ(returns, 3);
  EXPECT_EQ(r.logs[3], "Program return: " + kCalleeId + " AAA=");
  EXPECT_EQ(r.logs[r.logs.size() - 2], "Program return: " + kCallerId + " AQE=");
}

}  // namespace
}  // namespace bpfkit::solana

namespace bpfkit::solana {
namespace {

// The caller moves 5 lamports between its two accounts, then invokes with
// only the first: the transaction sees its accounts unbalanced when the
// callee is pushed (UnbalancedInstruction), and the callee never runs.
TEST(SolanaCpi, CallerUnbalancedAtInvoke) {
  std::string caller = "r9 = r1\n";
  caller += "r2 = *(u64 *)(r9 + 80)\nr2 -= 5\n*(u64 *)(r9 + 80) = r2\n";
  caller += "r2 = *(u64 *)(r9 + 10416)\nr2 += 5\n*(u64 *)(r9 + 10416) = r2\n";
  caller += put_key(32, 0x77);
  caller += put_address(80, "r9", account_at(0) + 8) + "r0 = 1\n*(u8 *)(r10 - 72) = r0\n";
  caller += put_address(120, "r10", -32) + put_address(112, "r10", -80) + put64(104, "1");
  caller += put_address(232, "r9", account_at(0) + 8) + put_address(224, "r9", account_at(0) + 72);
  caller += put_address(208, "r9", account_at(0) + 88) + put_address(200, "r9", account_at(0) + 40);
  caller += "r1 = r10\nr1 += -120\nr2 = r10\nr2 += -232\nr3 = 1\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\nexit\n";
  Account a, b;
  a.key = key_of(1);
  a.owner = kCaller;
  a.lamports = 100;
  b.key = key_of(2);
  b.owner = kCaller;
  b.lamports = 7;
  ExecuteOptions options;
  options.programs.emplace_back(kCallee, assemble("r0 = 0\nexit\n"));
  ExecuteResult r = execute_ok(assemble(caller), {a, b}, {{0, false, true}, {1, false, true}}, options);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->name(), "UnbalancedInstruction");
  EXPECT_EQ(r.logs, (std::vector<std::string>{
                        "Program " + kCallerId + " invoke [1]", consumed(kCallerId, r.compute_units, 200000),
                        "Program " + kCallerId +
                            " failed: sum of account balances before and after instruction do not match"}));
  EXPECT_EQ(r.accounts[0].lamports, 100u);  // the transaction's accounts as they were
}

}  // namespace
}  // namespace bpfkit::solana

namespace bpfkit::solana {
namespace {

// Where account 0 (no data) lies in each input format.
struct FirstAccount {
  long key, owner, lamports, data;
};
constexpr FirstAccount kAlignedFirst{16, 48, 80, 96};
constexpr FirstAccount kUnalignedFirst{11, 59, 43, 59};  // dup, signer, writable, key, lamports, length, data, owner

// A C caller that invokes kCallee with account 0 (writable), its fields
// where `first` says the caller's own input has them.
std::string c_invoke_callee(const FirstAccount& first) {
  std::string s = "r9 = r1\n" + put_key(32, 0x77);
  s += put_address(80, "r9", first.key) + "r0 = 1\n*(u8 *)(r10 - 72) = r0\n";
  s += put_address(120, "r10", -32) + put_address(112, "r10", -80) + put64(104, "1");
  s += put_address(96, "r10", -48) + put64(88, "0");
  s += put_address(232, "r9", first.key) + put_address(224, "r9", first.lamports);
  s += put_address(208, "r9", first.data) + put_address(200, "r9", first.owner);
  return s + "r1 = r10\nr1 += -120\nr2 = r10\nr2 += -232\nr3 = 1\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\nexit\n";
}

// Returns (as return data) the byte at input offset 11: the first byte of
// account 0's key in the unaligned format, its executable flag (0) in the aligned one.
const char* kReturnByte11 = R"(
  r2 = *(u8 *)(r1 + 11)
  *(u8 *)(r10 - 8) = r2
  r1 = r10
  r1 += -8
  r2 = 1
  call sol_set_return_data
  r0 = 0
  exit
)";

Account program_account(const Pubkey& id, const char* loader) {
  Account account;
  account.key = id;
  account.owner = *parse_pubkey(loader);
  account.executable = true;
  account.lamports = 1;
  return account;
}

// Each program gets its own loader's input format (the owner of its
// account), not its caller's, as Agave's serialize_parameters does.
TEST(SolanaCpi, CalleeGetsItsOwnLoadersInputFormat) {
  const char* kDeprecated = "BPFLoader1111111111111111111111111111111111";
  const char* kUpgradeable = "BPFLoaderUpgradeab1e11111111111111111111111";
  Account holder;
  holder.key = key_of(5);
  holder.lamports = 10;
  ExecuteOptions options;
  options.programs.emplace_back(kCallee, assemble(kReturnByte11));
  auto callee_sees = [&](const FirstAccount& caller_layout, std::vector<Account> accounts,
                         std::vector<InstructionAccount> metas, const ExecuteOptions& run) {
    ExecuteResult r = execute_ok(assemble(c_invoke_callee(caller_layout)), std::move(accounts), std::move(metas), run);
    EXPECT_FALSE(r.error) << r.error->message;
    EXPECT_EQ(r.return_data.program_id, kCallee);
    return r.return_data.data;
  };
  const std::vector<InstructionAccount> both = {{0, false, true}, {1, false, false}};
  // An aligned caller, the callee the deprecated loader's: unaligned.
  EXPECT_EQ(callee_sees(kAlignedFirst, {holder, program_account(kCallee, kDeprecated)}, both, options),
            std::vector<uint8_t>{5});
  EXPECT_EQ(callee_sees(kAlignedFirst, {holder, program_account(kCallee, kUpgradeable)}, both, options),
            std::vector<uint8_t>{0});
  // An unaligned caller (the deprecated loader's) and a callee without an account: aligned.
  ExecuteOptions unaligned = options;
  unaligned.format = InputFormat::Unaligned;
  EXPECT_EQ(callee_sees(kUnalignedFirst, {holder}, {{0, false, true}}, unaligned), std::vector<uint8_t>{0});
  // The transaction's program: its account's owner, unless the format is given.
  auto top = [&](const ExecuteOptions& run) {
    return execute_ok(assemble(kReturnByte11), {holder, program_account(kCaller, kDeprecated)}, both, run)
        .return_data.data;
  };
  EXPECT_EQ(top({}), std::vector<uint8_t>{5});
  ExecuteOptions aligned;
  aligned.format = InputFormat::Aligned;
  EXPECT_EQ(top(aligned), std::vector<uint8_t>{0});
  EXPECT_EQ(input_format_of_loader(*parse_pubkey("BPFLoader2111111111111111111111111111111111")), InputFormat::Aligned);
  EXPECT_EQ(input_format_of_loader(*parse_pubkey("LoaderV411111111111111111111111111111111111")), InputFormat::Aligned);
}

}  // namespace
}  // namespace bpfkit::solana
