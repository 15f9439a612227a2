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
  };
}

TEST(JitLoopVersioning, AcceptedShapesRunWithoutTheirChecks) {
  for (const Shape& shape : accepted_shapes()) {
    SCOPED_TRACE(shape.name);
    EXPECT_EQ(proven_at_loop_entry(assemble(shape.text)), shape.proven);
  }
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

TEST(JitLoopVersioning, EveryBudgetFailsAtTheSamePoint) {
  for (const Shape& shape : accepted_shapes()) {
    const isa::Program program = assemble(shape.text);
    for (size_t size : {20, 64}) {
      const test::EngineRun full = test::run_engine(false, program, input(size), std::nullopt);
      for (uint64_t budget = 1; budget <= full.result.instructions + 1; ++budget) {
        SCOPED_TRACE(std::string(shape.name) + " input " + std::to_string(size) + " budget " + std::to_string(budget));
        test::expect_same_run(program, input(size), budget);
        if (HasFatalFailure()) return;
      }
    }
  }
}

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
