// isa::Program's editing API: branches, functions, keys, origins and side
// tables follow each edit, and an edit that cannot be made changes nothing.
// The differential test runs random programs before and after edits that must
// not change what they compute.
#include <gtest/gtest.h>

#include <random>

#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"
#include "random_program.hpp"
#include "test_support.hpp"

namespace bpfkit::isa {
namespace {

using test::Code;

Program decoded(const Code& code, const Dialect& dialect = kLinuxV4) {
  auto program = decode(code.slots, dialect);
  EXPECT_TRUE(program.has_value()) << to_string(program.error());
  return program ? std::move(*program) : Program{};
}

int64_t target_of(const Program& program, size_t pc) { return branch_target(program, pc); }

std::vector<Slot> ja0() { return {encode(Op::ja, 0, 0, 0)}; }

TEST(ProgramEdit, ReplaceMovesBranchesAroundThePatch) {
  Program p = decoded(Code()
                          .add(Op::jeq64_imm, 1, 0, 2, 0)   // 0: -> 3
                          .mov(0, 1)                        // 1: replaced by three slots
                          .add(Op::ja, 0, 0, -2)            // 2: -> 1 (the patch's start)
                          .mov(0, 2)                        // 3
                          .add(Op::jne64_imm, 0, 0, -5, 7)  // 4: -> 0
                          .exit());
  const std::vector<Slot> patch = {encode(Op::mov64_imm, 0, 0, 0, 5), encode(Op::add64_imm, 0, 0, 0, 1),
                                   encode(Op::ja, 0, 0, 0)};
  auto edit = p.replace(1, patch);
  ASSERT_TRUE(edit.has_value()) << to_string(edit.error());
  EXPECT_EQ(edit->pc, 1u);
  EXPECT_EQ(edit->removed, 1u);
  EXPECT_EQ(edit->inserted, 3u);
  ASSERT_EQ(p.size(), 8u);
  EXPECT_EQ(target_of(p, 0), 5);  // still the old slot 3
  EXPECT_EQ(target_of(p, 4), 1);  // a branch to the replaced slot lands on the patch's start
  EXPECT_EQ(target_of(p, 6), 0);
  EXPECT_EQ(p.slots[3].off, 0);  // the patch's own branch is taken as written
  EXPECT_EQ(p.ops[2], Op::add64_imm);
  EXPECT_EQ(p.origin, (std::vector<uint32_t>{0, 1, 1, 1, 2, 3, 4, 5}));
}

TEST(ProgramEdit, SideTablesFollowEdits) {
  Program p = decoded(Code().mov(0, 1).mov(0, 2).mov(0, 3).exit());
  std::vector<char> side = {'a', 'b', 'c', 'd'};
  auto edit = p.replace(1, std::vector<Slot>{encode(Op::mov64_imm), encode(Op::mov64_imm)});
  ASSERT_TRUE(edit.has_value());
  apply_edit(*edit, side, '+');
  EXPECT_EQ(std::string(side.begin(), side.end()), "a++cd");
  auto removal = p.remove(3, 1);
  ASSERT_TRUE(removal.has_value());
  apply_edit(*removal, side);
  EXPECT_EQ(std::string(side.begin(), side.end()), "a++d");
  EXPECT_EQ(side.size(), p.size());
}

TEST(ProgramEdit, RemoveDeadCodeAndRefuseBranchesIntoIt) {
  Program p = decoded(Code()
                          .add(Op::ja, 0, 0, 2)  // 0: -> 3, over dead code
                          .mov(0, 1)             // 1: dead
                          .mov(0, 2)             // 2: dead
                          .mov(0, 3)             // 3
                          .exit());
  Program copy = p;
  // A branch to slot 2 would land inside the removed range [1, 3).
  Program branchy = decoded(Code().add(Op::ja, 0, 0, 1).mov(0, 1).mov(0, 2).exit());
  const Program before = branchy;
  auto refused = branchy.remove(1, 2);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().location.pc, 0u);
  EXPECT_EQ(branchy.slots, before.slots);

  ASSERT_TRUE(p.remove(1, 2).has_value());
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p.slots[0].off, 0);  // ja +0: now the next instruction
  EXPECT_EQ(p.origin, (std::vector<uint32_t>{0, 3, 4}));
  // Removing the branch's own target start is fine: it lands on what follows.
  ASSERT_TRUE(copy.remove(3, 1).has_value());
  EXPECT_EQ(target_of(copy, 0), 3);
  EXPECT_EQ(copy.ops[3], Op::exit);
}

TEST(ProgramEdit, InsertBeforeATargetRunsTheNewCodeFirst) {
  Program p = decoded(Code().add(Op::jeq64_imm, 1, 0, 1, 0).mov(0, 1).mov(0, 2).exit());
  ASSERT_TRUE(p.insert(2, ja0()).has_value());
  EXPECT_EQ(target_of(p, 0), 2);
  EXPECT_EQ(p.ops[2], Op::ja);
  ASSERT_TRUE(p.insert(p.size(), ja0()).has_value());  // append
  EXPECT_EQ(p.size(), 6u);
  EXPECT_FALSE(p.insert(p.size() + 1, ja0()).has_value());
}

TEST(ProgramEdit, OffsetsThatNoLongerFitChangeNothing) {
  Code code;
  code.add(Op::ja, 0, 0, 32766);
  for (int i = 0; i < 32766; ++i) code.mov(0, i);
  code.exit().exit();
  Program p = decoded(code);
  const std::vector<Slot> before = p.slots;
  // ja +32766 over one more slot needs +32767: fits.
  ASSERT_TRUE(p.insert(1, ja0()).has_value());
  // One more does not (a 16-bit offset), so this insert is refused whole.
  auto refused = p.insert(1, ja0());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::OutOfRange);
  EXPECT_EQ(p.size(), before.size() + 1);
}

TEST(ProgramEdit, LddwIsOneInstructionOfTwoSlots) {
  Program p = decoded(Code().lddw(0, 0x1122334455667788).add(Op::ja, 0, 0, -3).exit());
  EXPECT_EQ(p.width_at(0), 2u);
  EXPECT_FALSE(p.remove(1, 1).has_value());  // splits the lddw
  EXPECT_FALSE(p.replace(1, ja0()).has_value());
  ASSERT_TRUE(p.replace(0, std::vector<Slot>{encode(Op::mov64_imm, 0, 0, 0, 7)}).has_value());
  EXPECT_EQ(p.size(), 3u);
  EXPECT_EQ(target_of(p, 1), 0);
  auto pair = encode_lddw(2, 5);
  ASSERT_TRUE(p.insert(0, pair).has_value());
  EXPECT_EQ(p.ops[1], std::nullopt);
  EXPECT_EQ(target_of(p, 3), 0);  // it went to slot 0: the inserted lddw now runs first
}

TEST(ProgramEdit, PatchesAreReadWithTheTable) {
  Program p = decoded(Code().mov(0, 1).exit());
  const Program before = p;
  Slot junk;
  junk.code = 0xff;
  EXPECT_FALSE(p.replace(0, std::vector<Slot>{junk}).has_value());
  EXPECT_FALSE(p.replace(0, std::vector<Slot>{encode_lddw(0, 1)[0]}).has_value());  // half an lddw
  EXPECT_EQ(p.slots, before.slots);
}

TEST(ProgramEdit, FunctionsEntryAndKeysMove) {
  Program p = decoded(Code()
                          .add(Op::call_local, 0, 0, 0, 2)  // 0: -> 3
                          .exit()                           // 1
                          .mov(0, 9)                        // 2: a function removed below
                          .mov(0, 1)                        // 3
                          .exit());                         // 4
  p.functions = {{"main", 0, 2}, {"dead", 2, 1}, {"f", 3, 2}};
  p.entry = 0;
  p.function_keys = {{0xabcd, 3}};
  ASSERT_TRUE(p.insert(0, ja0()).has_value());
  EXPECT_EQ(p.entry, 0u);
  EXPECT_EQ(p.functions[0], (Function{"main", 0, 3}));
  EXPECT_EQ(target_of(p, 1), 4);
  ASSERT_TRUE(p.remove(3, 1).has_value());
  ASSERT_EQ(p.functions.size(), 2u);
  EXPECT_EQ(p.functions[1], (Function{"f", 3, 2}));
  EXPECT_EQ(p.function_keys.at(0xabcd), 3u);
  EXPECT_EQ(p.function_at(4)->name, "f");
  EXPECT_EQ(p.function_at(1)->name, "main");
  EXPECT_EQ(target_of(p, 1), 3);
}

TEST(ProgramEdit, SbpfV3RelativeCallsMove) {
  Program p = decoded(Code().add(Op::call_local, 0, 1, 0, 1).exit().mov(0, 3).exit(), kSbpfV3);
  ASSERT_EQ(p.ops[0], Op::call_local);
  ASSERT_TRUE(p.insert(1, ja0()).has_value());
  EXPECT_EQ(p.slots[0].imm, 2);
  EXPECT_EQ(p.dialect, &kSbpfV3);
}

// Differential: no-op jumps inserted anywhere, and each mov split into a mov
// and a no-op, leave every random program computing the same r0.
TEST(ProgramEdit, EditsPreserveWhatRandomProgramsCompute) {
  std::mt19937_64 rng(7);
  for (uint64_t seed = 0; seed < 300; ++seed) {
    auto original = decode(testing::random_program(seed));
    ASSERT_TRUE(original.has_value()) << to_string(original.error());
    Program edited = *original;
    for (int n = 0; n < 8; ++n) {
      std::vector<size_t> starts;
      for (size_t pc = 0; pc < edited.size(); ++pc)
        if (edited.ops[pc]) starts.push_back(pc);
      const size_t pc = starts[rng() % starts.size()];
      const Op op = *edited.ops[pc];
      auto edit = (op == Op::mov64_imm || op == Op::mov64_reg)
                      ? edited.replace(pc, std::vector<Slot>{edited.slots[pc], encode(Op::ja, 0, 0, 0)})
                      : edited.insert(pc, ja0());
      ASSERT_TRUE(edit.has_value()) << to_string(edit.error());
    }
    auto again = decode(edited.slots);
    ASSERT_TRUE(again.has_value()) << "seed " << seed << ": " << to_string(again.error());
    auto run = [](const Program& program) {
      vm::Context context;
      auto interpreter = vm::Interpreter::create(program, context);
      EXPECT_TRUE(interpreter.has_value());
      const vm::RunResult result = interpreter->run(context);
      return result.ok() ? std::optional<uint64_t>(result.r0) : std::nullopt;
    };
    EXPECT_EQ(run(*original), run(edited)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace bpfkit::isa
