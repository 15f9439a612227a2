// Loop versioning of region checks: the one-block loops whose accesses a
// check at the loop's entry proves in bounds for every iteration run without
// their checks (CodeRange::checked_at_loop_entry); the shapes the check
// cannot bound keep them; and whether the entry check passes or not (a loop
// that runs off its region at some iteration, or out of budget inside it)
// the JIT gives the interpreter's registers, memory, error, pc and count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compare.hpp"

namespace bpfkit {
namespace {

using test::assemble;

// The pcs of the accesses that the loop's entry check covers.
std::vector<uint32_t> proven_at_loop_entry(const isa::Program& program, jit::Options options = {}) {
  vm::Context context;
  auto jit = jit::Jit::create(program, context, options);
  EXPECT_TRUE(jit.has_value()) << (jit ? "" : to_string(jit.error()));
  if (!jit) return {};
  std::vector<uint32_t> pcs;
  for (const jit::CodeRange& range : jit->ranges())
    if (range.checked_at_loop_entry) pcs.push_back(range.pc);
  return pcs;
}

std::vector<uint8_t> input(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 37 + 11);
  return bytes;
}

// Each accepted shape: its listing says so, and runs agree whatever the
// input's size (the loop in bounds, or leaving them at some iteration) and
// budget.
struct Shape {
  const char* name;
  std::string text;
  std::vector<uint32_t> proven;
};

std::vector<Shape> accepted_shapes() {
  return {
      // A pointer stepping to an invariant end (`<`, register bound).
      {"pointer_to_end",
       "mov %r0, 0\nmov %r2, %r1\nmov %r3, %r1\nadd %r3, 40\nloop:\nldxb %r4, [%r2+0]\nadd %r0, %r4\n"
       "add %r2, 1\njlt %r2, %r3, loop\nexit\n",
       {4}},
      // An index added to an invariant base, stepping by 2 to a constant
      // (csum's shape), a 2-byte load at an offset.
      {"index_plus_base",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxh %r4, [%r5+2]\nadd %r0, %r4\n"
       "add %r2, 2\njlt %r2, 38, loop\nexit\n",
       {4}},
      // A step by an invariant register (asm/sieve's inner loop), a store.
      {"register_step",
       "mov %r0, 3\nmov %r3, 7\nmov %r2, %r1\nadd %r2, 1\nmov %r5, %r1\nadd %r5, 40\nloop:\nstxb [%r2+0], %r3\n"
       "add %r2, %r0\njlt %r2, %r5, loop\nmov %r0, %r2\nexit\n",
       {6}},
      // Counting down to a bound (`!=` by -1), writes 8 bytes below the index.
      {"count_down_ne",
       "mov %r2, 40\nloop:\nmov %r5, %r1\nadd %r5, %r2\nstxdw [%r5-8], %r2\nsub %r2, 1\njne %r2, 8, loop\n"
       "mov %r0, %r2\nexit\n",
       {3}},
      // Counting down while above a bound, mirrored (`bound < index`).
      {"count_down_mirrored",
       "mov %r0, 0\nmov %r2, 36\nmov %r3, 3\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxw %r4, [%r5+0]\nadd %r0, %r4\n"
       "add %r2, -4\njlt %r3, %r2, loop\nexit\n",
       {5}},
      // `<=` and a signed `<`, reads and writes through one base.
      {"le_read_write",
       "mov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+1]\nstxb [%r5+0], %r4\nadd %r2, 1\n"
       "jle %r2, 38, loop\nmov %r0, %r2\nexit\n",
       {3, 4}},
      {"signed_lt",
       "mov %r0, 0\nmov %r2, -3\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+3]\nadd %r0, %r4\nadd %r2, 1\n"
       "jslt %r2, 35, loop\nexit\n",
       {4}},
      // Two variables in step: the tested counter and a pointer.
      {"pointer_and_counter",
       "mov %r0, 0\nmov %r2, %r1\nmov %r3, 0\nloop:\nldxb %r4, [%r2+0]\nadd %r0, %r4\nadd %r2, 1\nadd %r3, 1\n"
       "jlt %r3, 40, loop\nexit\n",
       {3}},
      // Only an invariant address: no exit test needed.
      {"invariant_address",
       "mov %r0, 0\nmov %r2, 0\nloop:\nldxdw %r4, [%r1+8]\nadd %r0, %r4\nmul %r2, 3\nadd %r2, 1\n"
       "jlt %r2, 1000, loop\nexit\n",
       {2}},
      // A pointer stepping by 4 while a counter steps by 1 (bounded through
      // the trip count), and stepping down by 4 while a counter steps by 3
      // (a division at the entry).
      {"pointer_own_step",
       "mov %r0, 0\nmov %r2, 0\nmov %r3, %r1\nloop:\nldxw %r4, [%r3+0]\nadd %r0, %r4\nadd %r3, 4\nadd %r2, 1\n"
       "jlt %r2, 10, loop\nexit\n",
       {3}},
      {"pointer_own_step_down",
       "mov %r0, 0\nmov %r2, 0\nmov %r3, %r1\nadd %r3, 36\nloop:\nstxw [%r3+0], %r2\nadd %r3, -4\nadd %r2, 3\n"
       "jle %r2, 27, loop\nmov %r0, %r3\nexit\n",
       {4}},
  };
}

// Loops of several blocks (loop_region.cpp).
std::vector<Shape> multi_block_shapes() {
  return {
      // A branch on the loaded byte skips a store: the address computed in
      // the header, used in the next block.
      {"skip_block",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\njgt %r4, 100, skip\n"
       "stxb [%r5+1], %r4\nskip:\nadd %r0, %r4\nadd %r2, 1\njlt %r2, 38, loop\nexit\n",
       {4, 6}},
      // bubble.c's inner loop as clang lays it out: entered at its compare
      // (the header, in the middle), the steps and the exit test (a joined
      // goto leaves) in the block before it, a swap block after it; a
      // counter by 1 and a pointer by 4.
      {"bubble_pass",
       "mov %r0, 9\nmov %r6, 0\nmov %r7, %r1\nadd %r7, 4\nldxw %r8, [%r1+0]\nja inner\nstep:\nadd %r6, 1\n"
       "add %r7, 4\nmov %r8, %r9\njlt %r6, %r0, inner\nja out\ninner:\nldxw %r9, [%r7+0]\njle %r8, %r9, step\n"
       "stxw [%r7+0], %r8\nstxw [%r7-4], %r9\nmov %r9, %r8\nja step\nout:\nmov %r0, %r6\nexit\n",
       {11, 13, 14}},
      // Tested at the top (the header), stepped at the bottom: the check
      // covers the iteration that only tests, one step past the last access.
      {"top_tested",
       "mov %r0, 0\nmov %r2, 0\nloop:\njge %r2, 39, out\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\n"
       "add %r0, %r4\nadd %r2, 1\nja loop\nout:\nexit\n",
       {5}},
      // Two edges back (a `continue` when the byte is even), the exit test
      // in the header's block; a pointer stepping down.
      {"two_back_edges",
       "mov %r0, 0\nmov %r2, %r1\nadd %r2, 39\nloop:\nldxb %r4, [%r2+0]\nadd %r2, -1\njlt %r2, %r1, out\n"
       "jset %r4, 1, loop\nadd %r0, %r4\nja loop\nout:\nexit\n",
       {3}},
  };
}

TEST(JitLoopVersioning, AcceptedShapesRunWithoutTheirChecks) {
  for (const Shape& shape : accepted_shapes()) {
    SCOPED_TRACE(shape.name);
    EXPECT_EQ(proven_at_loop_entry(assemble(shape.text)), shape.proven);
  }
}

// Loops of several blocks that keep their checks (none is proven).
std::vector<Shape> refused_multi_block_shapes() {
  return {
      // A jump from outside into the loop's second block: two entries.
      {"entered_twice",
       "mov %r0, 0\nmov %r2, 0\njeq %r0, 1, inside\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\n"
       "add %r0, %r4\ninside:\nadd %r2, 1\njlt %r2, 40, loop\nexit\n",
       {}},
      // An inner loop: an iteration may run a block more than once.
      {"inner_loop",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r3, 0\ninner:\nadd %r3, 1\njlt %r3, 3, inner\nmov %r5, %r1\n"
       "add %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, 1\njlt %r2, 40, loop\nexit\n",
       {}},
      // The index steps by 1 or 2, depending on the byte: not an induction
      // variable (the tested counter is one).
      {"step_on_one_path",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\njgt %r4, 100, skip\n"
       "add %r2, 1\nskip:\nadd %r2, 1\nadd %r0, 1\njlt %r0, 20, loop\nexit\n",
       {}},
      // The exit test in a block a `continue` jumps over: iterations that
      // skip it are not bounded by it.
      {"test_skipped",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, 1\n"
       "jeq %r4, 0, loop\nadd %r0, %r4\njlt %r2, 40, loop\nexit\n",
       {}},
      // A helper call in the loop's second block.
      {"call_in_block",
       "mov %r6, 0\nmov %r7, %r1\nloop:\nmov %r5, %r7\nadd %r5, %r6\nldxb %r4, [%r5+0]\njgt %r4, 100, skip\n"
       "call 7\nskip:\nadd %r6, 1\njlt %r6, 40, loop\nexit\n",
       {}},
  };
}

TEST(JitLoopVersioning, MultiBlockShapesRunWithoutTheirChecks) {
  for (const Shape& shape : multi_block_shapes()) {
    SCOPED_TRACE(shape.name);
    EXPECT_EQ(proven_at_loop_entry(assemble(shape.text)), shape.proven);
  }
}

// When every access of a loop is proven in one region and nothing else in
// it uses rax, the unchecked copy keeps the region's host delta there: each
// access is its load or store alone. A division (rdx:rax) keeps the reload.
TEST(JitLoopVersioning, TheHostDeltaStaysInRaxThroughTheUncheckedCopy) {
  for (const Shape& shape : {accepted_shapes()[1], multi_block_shapes()[1]}) {
    SCOPED_TRACE(shape.name);
    const isa::Program program = assemble(shape.text);
    for (const uint32_t pc : shape.proven) {
      const std::string code = test::code_at(program, pc);
      EXPECT_EQ(code.find("rsp"), std::string::npos) << code;
      EXPECT_NE(code.find("ptr [rax + "), std::string::npos) << code;
    }
  }
  const isa::Program divides = assemble(
      "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\ndiv %r4, 3\nadd %r0, %r4\n"
      "add %r2, 1\njlt %r2, 38, loop\nexit\n");
  EXPECT_EQ(proven_at_loop_entry(divides), std::vector<uint32_t>{4});
  EXPECT_NE(test::code_at(divides, 4).find("rsp"), std::string::npos);
  for (size_t size : {37, 38, 40}) test::expect_same_run(divides, input(size));
}

TEST(JitLoopVersioning, ListingNamesTheAccessesCheckedAtTheLoopEntry) {
  vm::Context context;
  auto jit = jit::Jit::create(assemble(accepted_shapes()[0].text), context);
  ASSERT_TRUE(jit.has_value());
  const std::string text = jit::listing(*jit, [](uint32_t pc) { return "insn " + std::to_string(pc); });
  EXPECT_NE(text.find("insn 4    ; in bounds on every iteration: checked at the loop's entry"), std::string::npos)
      << text;
}

TEST(JitLoopVersioning, RefusedShapesKeepTheirChecks) {
  const std::pair<const char*, std::string> refused[] = {
      // Stepping down towards an upper bound: runs until the index wraps.
      {"step_can_wrap",
       "mov %r0, 0\nmov %r2, 8\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, -1\n"
       "jlt %r2, 40, loop\nexit\n"},
      // `!=` by a step of 2 may step over the bound.
      {"ne_by_two",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, 2\n"
       "jne %r2, 40, loop\nexit\n"},
      // A helper call may remap the regions.
      {"call_in_loop",
       "mov %r6, 0\nmov %r7, %r1\nloop:\nmov %r5, %r7\nadd %r5, %r6\nldxb %r4, [%r5+0]\ncall 7\nadd %r6, 1\n"
       "jlt %r6, 40, loop\nexit\n"},
      // The bound changes inside the loop.
      {"bound_not_invariant",
       "mov %r0, 0\nmov %r2, 0\nmov %r3, 40\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nmul %r3, 1\n"
       "add %r2, 1\njlt %r2, %r3, loop\nexit\n"},
      // A 32-bit test.
      {"test_32_bit",
       "mov %r0, 0\nmov %r2, 0\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, 1\n"
       "jlt32 %r2, 40, loop\nexit\n"},
      // The base is loaded from memory.
      {"base_not_affine",
       "mov %r0, 0\nmov %r2, 0\nloop:\nldxdw %r5, [%r1+0]\nldxb %r4, [%r5+0]\nadd %r2, 1\njlt %r2, 40, loop\nexit\n"},
  };
  for (const auto& [name, text] : refused) {
    SCOPED_TRACE(name);
    const isa::Program program = assemble(text);
    const std::vector<uint32_t> expected =
        std::string(name) == "base_not_affine" ? std::vector<uint32_t>{2} : std::vector<uint32_t>{};
    EXPECT_EQ(proven_at_loop_entry(program), expected);
  }
  for (const Shape& shape : refused_multi_block_shapes()) {
    SCOPED_TRACE(shape.name);
    EXPECT_EQ(proven_at_loop_entry(assemble(shape.text)), shape.proven);
  }
  // Constant blinding keeps the loop's immediates out of the code.
  EXPECT_EQ(proven_at_loop_entry(assemble(accepted_shapes()[0].text), {.harden = true, .harden_seed = 1}),
            std::vector<uint32_t>{});
}

// The pcs in loops that charge the meter once at their entry.
std::vector<uint32_t> metered_at_loop_entry(const isa::Program& program) {
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  EXPECT_TRUE(jit.has_value()) << (jit ? "" : to_string(jit.error()));
  if (!jit) return {};
  std::vector<uint32_t> pcs;
  for (const jit::CodeRange& range : jit->ranges())
    if (range.metered_at_loop_entry) pcs.push_back(range.pc);
  return pcs;
}

// Loops that cannot fault with a constant step: every trip charged at the
// entry, exactly the interpreter's count; a budget that would end inside
// the loop runs the ordinary copy, which stops where the interpreter does.
TEST(JitLoopVersioning, LoopsThatCannotFaultAreMeteredAtTheirEntry) {
  const std::pair<std::string, std::vector<uint32_t>> unmetered[] = {
      // asm/fib's loop.
      {"mov %r0, 0\nmov %r2, 1\nmov %r1, 40\nloop:\nmov %r3, %r0\nadd %r3, %r2\nmov %r0, %r2\nmov %r2, %r3\n"
       "sub %r1, 1\njne %r1, 0, loop\nexit\n",
       {3, 4, 5, 6, 7, 8}},
      // clang's shape of it (fib.c): `if r1 == 0 goto +1; goto loop`.
      {"mov %r2, 1\nmov %r3, 0\nmov %r1, 40\nloop:\nmov %r0, %r2\nmov %r2, %r3\nadd %r2, %r0\nadd %r1, -1\n"
       "mov %r3, %r0\njeq %r1, 0, out\nja loop\nout:\nexit\n",
       {3, 4, 5, 6, 7, 8, 9}},
      // A step by a register (sieve's inner loop; a division at the entry).
      {accepted_shapes()[2].text, {6, 7, 8}},
      // Accesses the entry check proves, a step of 3 (a division at the entry).
      {"mov %r0, 0\nmov %r2, 1\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r0, %r4\n"
       "add %r2, 3\njle %r2, 37, loop\nexit\n",
       {2, 3, 4, 5, 6, 7}},
  };
  for (const auto& [text, pcs] : unmetered) {
    SCOPED_TRACE(text);
    const isa::Program program = assemble(text);
    EXPECT_EQ(metered_at_loop_entry(program), pcs);
    const test::EngineRun full = test::run_engine(false, program, input(40), std::nullopt);
    for (uint64_t budget = 1; budget <= full.result.instructions + 1; ++budget) {
      SCOPED_TRACE("budget " + std::to_string(budget));
      test::expect_same_run(program, input(40), budget);
      if (HasFatalFailure()) return;
    }
  }
  // Metered as before: an access the check does not cover (it may fault).
  EXPECT_EQ(metered_at_loop_entry(assemble("mov %r0, 0\nmov %r2, 0\nloop:\nldxdw %r5, [%r1+0]\nldxb %r4, [%r5+0]\n"
                                           "add %r2, 1\njlt %r2, 40, loop\nexit\n")),
            std::vector<uint32_t>{});
  // A step register holding 0: the entry check refuses, and the loop runs
  // until the budget ends, where the interpreter's does.
  const isa::Program stuck = assemble(
      "mov %r0, 0\nmov %r2, %r1\nmov %r5, %r1\nadd %r5, 40\nloop:\nldxb %r4, [%r2+0]\nadd %r2, %r0\n"
      "jlt %r2, %r5, loop\nexit\n");
  EXPECT_EQ(metered_at_loop_entry(stuck), (std::vector<uint32_t>{4, 5, 6}));
  for (const uint64_t budget : {1000, 1001, 1002, 1003}) test::expect_same_run(stuck, input(40), budget);
}

// Input sizes around each loop's last access (the first, a middle and the
// last iteration leave the region; or none does), and every budget.
TEST(JitLoopVersioning, LeavingTheRegionAtAnyIterationFaultsAsTheInterpreter) {
  for (const Shape& shape : accepted_shapes()) {
    const isa::Program program = assemble(shape.text);
    for (size_t size : {0, 1, 2, 3, 4, 8, 20, 33, 36, 37, 38, 39, 40, 41, 48, 64}) {
      SCOPED_TRACE(std::string(shape.name) + " input " + std::to_string(size));
      test::expect_same_run(program, input(size));
      if (HasFatalFailure()) return;
    }
  }
}

// Loops counting down whose last iterations reach below the region's start
// (the offset decides at which iteration), for each test that ends them.
TEST(JitLoopVersioning, LeavingTheRegionAtItsStartFaultsAsTheInterpreter) {
  for (const char* step : {"-1", "-3"}) {
    for (const char* test : {"jgt %r2, 0", "jsgt %r2, 0", "jge %r2, 1", "jsge %r2, 1", "jne %r2, 0", "jlt %r3, %r2"}) {
      if (std::string(test) == "jne %r2, 0" && std::string(step) != "-1") continue;
      for (int off = 0; off >= -5; --off) {
        const std::string text =
            "mov %r0, 0\nmov %r3, 0\nmov %r2, 13\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5" +
            (off == 0 ? "+0" : std::to_string(off)) + "]\nadd %r0, %r4\nadd %r2, " + step + "\n" + test +
            ", loop\nexit\n";
        SCOPED_TRACE(text);
        const isa::Program program = assemble(text);
        EXPECT_EQ(proven_at_loop_entry(program), std::vector<uint32_t>{5});
        test::expect_same_run(program, input(16));
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Loops of several blocks leaving the region at each iteration (every
// input size up to past the last access), with bytes that take each branch,
// and the refused shapes, whose checked code must agree all the same.
TEST(JitLoopVersioning, MultiBlockLoopsFaultAsTheInterpreterAtEveryIteration) {
  std::vector<Shape> shapes = multi_block_shapes();
  for (Shape& shape : refused_multi_block_shapes()) shapes.push_back(std::move(shape));
  for (const Shape& shape : shapes) {
    const isa::Program program = assemble(shape.text);
    for (const bool zeros : {false, true}) {
      for (size_t size = 0; size <= 48; ++size) {
        SCOPED_TRACE(std::string(shape.name) + " input " + std::to_string(size) + (zeros ? " zeros" : ""));
        const std::vector<uint8_t> bytes = zeros ? std::vector<uint8_t>(size, 0) : input(size);
        test::expect_same_run(program, bytes);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Each shape on two inputs under every budget up to one past its whole
// run: the JIT stops where the interpreter does.
void expect_every_budget_as_the_interpreter(const std::vector<Shape>& shapes) {
  for (const Shape& shape : shapes) {
    const isa::Program program = assemble(shape.text);
    for (size_t size : {20, 64}) {
      const test::EngineRun full = test::run_engine(false, program, input(size), std::nullopt);
      for (uint64_t budget = 1; budget <= full.result.instructions + 1; ++budget) {
        SCOPED_TRACE(std::string(shape.name) + " input " + std::to_string(size) + " budget " + std::to_string(budget));
        test::expect_same_run(program, input(size), budget);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(JitLoopVersioning, MultiBlockLoopsFailAtEveryBudgetAsTheInterpreter) {
  expect_every_budget_as_the_interpreter(multi_block_shapes());
}

TEST(JitLoopVersioning, EveryBudgetFailsAtTheSamePoint) { expect_every_budget_as_the_interpreter(accepted_shapes()); }

// The entry check itself: bounds near the ends of the address space, where
// the tested variable or an address would wrap, refuse the fast copy.
TEST(JitLoopVersioning, WrapAroundAtTheEntryCheckRunsTheCheckedCopy) {
  const char* texts[] = {
      // The pointer's bound at the top of the address space: the step wraps.
      "mov %r0, 0\nmov %r2, %r1\nlddw %r3, 0xffffffffffffffff\nloop:\nldxb %r4, [%r2+0]\nadd %r0, %r4\n"
      "add %r2, 16\njle %r2, %r3, loop\nexit\n",
      // A signed count near its maximum.
      "mov %r0, 0\nmov %r2, -8\nlddw %r3, 0x7fffffffffffffff\nloop:\nmov %r5, %r1\nadd %r5, %r2\n"
      "ldxb %r4, [%r5+8]\nadd %r2, 4\njsle %r2, %r3, loop\nexit\n",
      // Counting down past zero.
      "mov %r0, 0\nmov %r2, 2\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, -4\n"
      "jge %r2, 0, loop\nexit\n",
      // The index starting at the bound with `!=`: it would run until it wraps.
      "mov %r0, 0\nmov %r2, 40\nloop:\nmov %r5, %r1\nadd %r5, %r2\nldxb %r4, [%r5+0]\nadd %r2, 1\n"
      "jne %r2, 40, loop\nexit\n",
  };
  for (const char* text : texts) {
    SCOPED_TRACE(text);
    for (uint64_t budget : {uint64_t{50}, uint64_t{100000}}) {
      test::expect_same_run(assemble(text), input(64), budget);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace bpfkit
