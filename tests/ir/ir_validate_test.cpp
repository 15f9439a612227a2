// The validator's negative cases: each breaks one rule, and the error says
// which.
#include <gtest/gtest.h>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {
namespace {

struct Case {
  std::string_view name;
  std::string_view body;     // the function's blocks
  std::string_view message;  // part of the error
};

class IrValidatorRejects : public ::testing::TestWithParam<Case> {};

TEST_P(IrValidatorRejects, WithAMessage) {
  const std::string text = std::string("dialect linux\nfunction @f {\n") + std::string(GetParam().body) + "}\n";
  auto module = parse(text);
  ASSERT_TRUE(module.has_value()) << to_string(module.error());
  auto result = validate(**module);
  ASSERT_FALSE(result.has_value()) << print(**module);
  EXPECT_NE(result.error().message.find(GetParam().message), std::string::npos) << result.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IrValidatorRejects,
    ::testing::Values(
        Case{"NoTerminator", "b0:\n  %0 = assign %arg1\n", "does not end in a terminator"},
        Case{"TerminatorInTheMiddle", "b0:\n  ret %arg1\n  ret %arg2\n", "terminator before the end"},
        Case{"EntryWithPreds", "b0:\n  ja b0\n", "entry block has predecessors"},
        Case{"SameTargetTwice", "b0:\n  br.eq.64 %arg1, i64 0, b1, b1\nb1:\n  ret %arg1\n", "same block"},
        Case{"PhiMissesAPred",
             "b0:\n  br.eq.64 %arg1, i64 0, b1, b2\nb1:\n  ja b2\nb2:\n  %0 = phi [%arg1, b1]\n  ret %0\n",
             "one to one"},
        Case{"PhiNamesANonPred", "b0:\n  ja b1\nb1:\n  %0 = phi [%arg1, b0], [%arg2, b1]\n  ret %0\n", "one to one"},
        Case{"PhiAfterCode", "b0:\n  ja b1\nb1:\n  %0 = assign %arg1\n  %1 = phi [%arg1, b0]\n  ret %1\n",
             "phi after a non-phi"},
        Case{"UseBeforeDef", "b0:\n  %0 = add.64 %1, i64 1\n  %1 = assign %arg1\n  ret %0\n",
             "not defined on every path"},
        Case{"DefOnOnePathOnly",
             "b0:\n  br.eq.64 %arg1, i64 0, b1, b2\nb1:\n  %0 = assign %arg1\n  ja b2\nb2:\n  ret %0\n",
             "not defined on every path"},
        Case{"PhiInputNotAvailableAtItsPred",
             "b0:\n  br.eq.64 %arg1, i64 0, b1, b2\nb1:\n  %0 = assign %arg1\n  ja b2\nb2:\n  %1 = phi [%0, b1], [%0, "
             "b0]\n  ret %1\n",
             "not defined on every path"},
        Case{"Alu32WithoutExtension", "b0:\n  %0 = add.32 %arg1, %arg2\n  ret %0\n", "needs zext or sext"},
        Case{"Alu64WithExtension", "b0:\n  %0 = add.64.zext %arg1, %arg2\n  ret %0\n", "needs zext or sext"},
        Case{"OddAluWidth", "b0:\n  %0 = add.16.zext %arg1, %arg2\n  ret %0\n", "32 or 64"},
        Case{"WideConstantIn32BitOp", "b0:\n  %0 = add.32.zext %arg1, i64 1\n  ret %0\n", "constant wider"},
        Case{"WideConstantInStore", "b0:\n  storeraw.8 %fp, -8, i16 1\n  ret %arg1\n", "constant wider"},
        Case{"OddLoadWidth", "b0:\n  %0 = loadraw.u24 %fp, -8\n  ret %0\n", "8, 16, 32 or 64"},
        Case{"SextWidening", "b0:\n  %0 = sext.32.32 %arg1\n  ret %0\n", "sign-extends"},
        Case{"LoadOutsideAlloc", "b0:\n  %0 = alloc 4\n  %1 = load.u64 %0, 0\n  ret %1\n", "leaves its alloc"},
        Case{"LoadThroughANonAlloc", "b0:\n  %0 = load.u64 %fp, -8\n  ret %0\n", "through an alloc"},
        Case{"FrameTooBig", "b0:\n  %0 = alloc 256\n  %1 = allocarray 8, 33\n  ret %arg1\n", "512-byte stack frame"},
        Case{"SixArguments", "b0:\n  %0 = call helper 1 (%arg1, %arg2, %arg3, %arg4, %arg5, %arg1)\n  ret %0\n",
             "up to 5 arguments"},
        Case{"Atomic32Fetch16", "b0:\n  atomic.add.16 %fp, -8, %arg1\n  ret %arg1\n", "32 or 64 bits"},
        Case{"CoreOfAJump", "b0:\n  core.ja 0, 0, 0\n  ret %arg1\n", "core keeps an ALU row"},
        Case{"CoreOfAnAtomic", "b0:\n  core.atomic64_add %fp, %arg1, -8, 0, 0\n  ret %arg1\n", "core keeps an ALU row"},
        Case{"CoreImmTooWide", "b0:\n  %0 = core.mov64_imm 0, 4294967296, 0\n  ret %0\n", "wider than the row"},
        Case{"CoreLddwWithAnOffset", "b0:\n  %0 = core.lddw 4, 1, 0\n  ret %0\n", "lddw's offset"},
        Case{"CoreWithoutRelocation", "b0:\n  %0 = core.mov64_imm 0, 1, -1\n  ret %0\n", "no relocation"},
        Case{"NoFunctionBlocks", "", "has no blocks"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(IrValidator, AcceptsAValidLoop) {
  auto module = parse(R"(dialect linux
function @f {
b0:
  ja b1
b1:
  %0 = phi [i64 0, b0], [%1, b1]
  %1 = add.64 %0, i64 1
  br.lt.64 %1, %arg1, b1, b2
b2:
  ret %1
}
)");
  ASSERT_TRUE(module.has_value()) << to_string(module.error());
  auto result = validate(**module);
  EXPECT_TRUE(result.has_value()) << to_string(result.error());
}

// A jmp32 on a register holding a map value's address: the comparison reads
// the address's low 32 bits (fuzz_ir found the lifter's output refused).
TEST(IrValidator, TypedConstantsIn32BitComparisons) {
  auto module = parse(
      "dialect linux\nfunction @f {\nb0:\n  br.ne.32 map_idx_value(2, 8), i32 0, b1, b2\nb1:\n  ret i64 1\n"
      "b2:\n  ret i64 0\n}\n");
  ASSERT_TRUE(module) << to_string(module.error());
  auto result = validate(**module);
  EXPECT_TRUE(result) << (result ? "" : to_string(result.error()));
}

TEST(IrValidator, ErrorsCarryTheOrigin) {
  auto module = parse("dialect linux\nfunction @f {\nb0:\n  %0 = add.32 %arg1, %arg2  !7\n  ret %0\n}\n");
  ASSERT_TRUE(module.has_value());
  auto result = validate(**module);
  ASSERT_FALSE(result.has_value());
  ASSERT_TRUE(result.error().location.pc.has_value());
  EXPECT_EQ(*result.error().location.pc, 7u);
}

}  // namespace
}  // namespace bpfkit::ir
