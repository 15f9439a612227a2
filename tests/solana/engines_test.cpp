// ExecuteOptions::engine: every program invocation of a transaction (the
// top one and each CPI callee, while the callers' machine code is on the
// stack) runs on the engine it makes, and the JIT's results are the
// interpreter's: faults with their pc, the budget running out in a
// program, in a syscall and in a callee two levels down. Every other
// runtime test also runs on both engines (both_engines.hpp).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "both_engines.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/solana.hpp"
#include "test_programs.hpp"

namespace bpfkit::solana {
namespace {

using test::assemble;
using test::key_of;

const Pubkey kTop = key_of(0x42), kMiddle = key_of(0x77), kInner = key_of(0x55);
const std::string kTopId = to_base58(kTop), kMiddleId = to_base58(kMiddle), kInnerId = to_base58(kInner);

// Logs "hi" (one 3-byte sol_log_ of r10 - 8), then invokes the program
// whose id is 32 bytes of `fill` with no accounts and no data (C ABI; the
// SolInstruction at r10 - 128, the id at r10 - 48), then returns r0.
std::string invoke(uint8_t fill) {
  char word[40];
  std::snprintf(word, sizeof word, "0x%016llx ll", 0x0101010101010101ull * fill);
  std::string s;
  for (int offset : {48, 40, 32, 24})
    s += "r0 = " + std::string(word) + "\n*(u64 *)(r10 - " + std::to_string(offset) + ") = r0\n";
  s += "r2 = r10\nr2 += -48\n*(u64 *)(r10 - 128) = r2\n";
  return s + "r1 = r10\nr1 += -128\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\n";
}
std::string log_then_invoke(uint8_t fill) {
  return "r0 = 0x6968\n*(u64 *)(r10 - 8) = r0\nr1 = r10\nr1 += -8\nr2 = 2\ncall sol_log_\n" + invoke(fill) + "exit\n";
}

// top -> middle -> inner (`inner` the innermost program's text), each
// invocation on both engines; the JIT run counts the programs it prepared.
struct Chain {
  ExecuteResult result;
  int jit_programs = 0;
};
Chain run_chain(const std::string& inner, uint64_t compute_units = kDefaultComputeUnits) {
  ExecuteOptions options;
  options.compute_units = compute_units;
  options.programs.emplace_back(kMiddle, assemble(log_then_invoke(0x55)));
  options.programs.emplace_back(kInner, assemble(inner));
  const auto top = assemble(log_then_invoke(0x77));
  Instruction ix;
  ix.program_id = kTop;
  Chain chain;
  auto result = engines::execute_on_both(*top, ix, {}, options);
  EXPECT_TRUE(result) << (result ? "" : to_string(result.error()));
  if (result) chain.result = std::move(*result);
  options.engine = engines::jit_engine(&chain.jit_programs);
  EXPECT_TRUE(execute(*top, ix, {}, options));
  return chain;
}

std::vector<std::string> lines(std::initializer_list<std::string> l) { return l; }

TEST(SolanaEngines, EveryInvocationTwoLevelsDeepRunsOnTheJit) {
  Chain chain = run_chain("r0 = 0\nexit\n");
  EXPECT_EQ(chain.jit_programs, 3);
  ASSERT_FALSE(chain.result.error) << chain.result.error->message;
  // Each caller: 24 instructions and sol_log_'s 100 units before the invoke's
  // 1,000, the exit after; the innermost: 2 instructions.
  EXPECT_EQ(
      chain.result.logs,
      lines({"Program " + kTopId + " invoke [1]", "Program log: hi", "Program " + kMiddleId + " invoke [2]",
             "Program log: hi", "Program " + kInnerId + " invoke [3]",
             "Program " + kInnerId + " consumed 2 of 197752 compute units", "Program " + kInnerId + " success",
             "Program " + kMiddleId + " consumed 1127 of 198876 compute units", "Program " + kMiddleId + " success",
             "Program " + kTopId + " consumed 2252 of 200000 compute units", "Program " + kTopId + " success"}));
  EXPECT_EQ(chain.result.compute_units, 2252u);
}

// A callee invoked twice runs twice on the one engine prepared for it,
// and each invocation's syscalls work on its own state: the caller's
// sol_alloc_free_ bump pointer moves by its own 16 bytes only, not by the
// callee's (r0 = the distance between its two allocations).
TEST(SolanaEngines, ACalleeInvokedTwiceIsPreparedOnceAndKeepsItsOwnState) {
  const std::string alloc = "r1 = 16\nr2 = 0\ncall sol_alloc_free_\n";
  ExecuteOptions options;
  options.programs.emplace_back(kInner, assemble(alloc + "r0 = 0\nexit\n"));
  const auto top = assemble(alloc + "r6 = r0\n" + invoke(0x55) + invoke(0x55) + alloc + "r0 -= r6\nexit\n");
  Instruction ix;
  ix.program_id = kTop;
  auto r = engines::execute_on_both(*top, ix, {}, options);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->error);
  EXPECT_EQ(r->error->message, "custom program error: 0x10");
  EXPECT_EQ(r->logs[1], "Program " + kInnerId + " invoke [2]");
  EXPECT_EQ(r->logs[4], "Program " + kInnerId + " invoke [2]");
  int prepared = 0;
  options.engine = engines::jit_engine(&prepared);
  ASSERT_TRUE(execute(*top, ix, {}, options));
  EXPECT_EQ(prepared, 2);
}

// A fault two levels down: its own line with the address, the callers'
// ProgramFailedToComplete; a VM fault uses up what was left.
TEST(SolanaEngines, AFaultTwoLevelsDown) {
  Chain chain = run_chain("r0 = 0\nr1 += 100000\nr0 = *(u64 *)(r1 + 0)\nexit\n");
  EXPECT_EQ(chain.jit_programs, 3);
  const ExecuteResult& r = chain.result;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->name(), "ProgramFailedToComplete");
  EXPECT_EQ(r.compute_units, 200'000u);
  EXPECT_EQ(r.logs[6], "Program " + kInnerId +
                           " failed: Access violation in input section at address 0x4000186a0 of "
                           "size 8");
  EXPECT_EQ(r.logs.back(), "Program " + kTopId + " failed: Program failed to complete");
}

// The budget runs out in the innermost program's loop: all of it is used.
TEST(SolanaEngines, TheBudgetRunsOutTwoLevelsDown) {
  Chain chain = run_chain("r0 = 0\nloop:\nr0 += 1\nja loop\n", 50'000);
  const ExecuteResult& r = chain.result;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->name(), "ProgramFailedToComplete");
  EXPECT_EQ(r.compute_units, 50'000u);
  EXPECT_EQ(r.logs[5], "Program " + kInnerId + " consumed 47752 of 47752 compute units");
  EXPECT_EQ(r.logs[6], "Program " + kInnerId + " failed: exceeded CUs meter at BPF instruction");
}

// The budget runs out inside a syscall the program calls in a loop (106
// units a trip: sol_log_'s 100 and 6 instructions) or at an instruction:
// 1,000 units fail in the tenth sol_log_ (959 used, 41 left); 1,062 at
// the eleventh trip's second instruction (pc 2). Either uses it all up.
TEST(SolanaEngines, TheBudgetRunsOutInsideASyscallOrAtAnInstruction) {
  const auto program = assemble(R"(
    r6 = 0
  loop:
    r1 = r10
    r1 += -8
    r2 = 8
    call sol_log_
    r6 += 1
    ja loop
  )");
  Instruction ix;
  ix.program_id = kTop;
  struct Case {
    uint64_t budget;
    std::string name;
    uint32_t pc;
    uint64_t trips;
  };
  for (const Case& c :
       {Case{1'000, "ComputationalBudgetExceeded", 4, 9}, Case{1'062, "ExceededMaxInstructions", 2, 10}}) {
    SCOPED_TRACE(c.budget);
    ExecuteOptions options;
    options.compute_units = c.budget;
    auto r = engines::execute_on_both(*program, ix, {}, options);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->error);
    EXPECT_EQ(r->error->name(), c.name);
    EXPECT_EQ(r->error->location.pc, c.pc);
    EXPECT_EQ(r->run.registers[6], c.trips);
    EXPECT_EQ(r->compute_units, c.budget);
    const std::string units = std::to_string(c.budget);
    EXPECT_EQ(r->logs[r->logs.size() - 2],
              "Program " + kTopId + " consumed " + units + " of " + units + " compute units");
  }
}

// The JIT's syscalls read and write the input region and the heap: an
// account's data doubled in place through sol_memcpy_ via the heap.
TEST(SolanaEngines, SyscallsReadAndWriteTheInputAndTheHeap) {
  const auto program = assemble(R"(
    r6 = r1
    r1 = 16
    r2 = 0
    call sol_alloc_free_
    r7 = r0
    r1 = r7
    r2 = r6
    r2 += 96
    r3 = 8
    call sol_memcpy_
    r1 = *(u64 *)(r7 + 0)
    r1 += r1
    *(u64 *)(r7 + 0) = r1
    r1 = r6
    r1 += 96
    r2 = r7
    r3 = 8
    call sol_memcpy_
    r1 = r6
    r1 += 96
    r2 = 8
    call sol_set_return_data
    r0 = 0
    exit
  )");
  Account account;
  account.key = key_of(1);
  account.owner = kTop;
  account.data = {1, 2, 3, 4, 5, 6, 7, 8};
  Instruction ix;
  ix.program_id = kTop;
  ix.accounts = {{0, false, true}};
  auto r = engines::execute_on_both(*program, ix, {account});
  ASSERT_TRUE(r);
  ASSERT_FALSE(r->error) << r->error->message;
  const std::vector<uint8_t> doubled = {2, 4, 6, 8, 10, 12, 14, 16};
  EXPECT_EQ(r->accounts[0].data, doubled);
  EXPECT_EQ(r->return_data.data, doubled);
}

// Every shared object of ../shared/sbpf that loads, run in the runtime on
// both engines, with one writable account of one data byte (relative_call
// reads a byte of its input).
TEST(SolanaEngines, TheSharedElfsRunAlikeInTheRuntime) {
  const std::filesystem::path folder = std::string(BPFKIT_SHARED_DIR) + "/sbpf/elfs";
  ASSERT_TRUE(std::filesystem::is_directory(folder));
  elf::sbpf::LoaderConfig config;
  config.syscalls = syscall_names();
  Account account;
  account.key = key_of(1);
  account.owner = kTop;
  account.data = {1};
  Instruction ix;
  ix.program_id = kTop;
  ix.accounts = {{0, false, true}};
  int ran = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().extension() != ".so") continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto file = load::read_file(entry.path().string());
    ASSERT_TRUE(file);
    auto program = elf::sbpf::load_program(*file, config);
    if (!program) continue;  // the loader's own tests cover what it refuses
    auto result = engines::execute_on_both(*program, ix, {account});
    ran += result.has_value();
  }
  EXPECT_GE(ran, 16);
}

}  // namespace
}  // namespace bpfkit::solana
