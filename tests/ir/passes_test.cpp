// The passes, one by one, on IR text: what each must change, what it must
// leave alone (effects, traps, sign-extending forms), and the pass manager's
// pipeline text and errors. The round trip through code generation at -O2
// is in codegen_roundtrip_test.cpp.
#include <gtest/gtest.h>

#include <sstream>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {
namespace {

// Parses `before`, runs `pipeline` (validating after every pass) and
// returns the printed result.
std::string run(std::string_view before, std::string_view pipeline) {
  auto module = parse(before, "test.ir");
  EXPECT_TRUE(module) << to_string(module.error());
  if (!module) return "";
  auto steps = parse_pipeline(pipeline);
  EXPECT_TRUE(steps) << to_string(steps.error());
  if (!steps) return "";
  PipelineOptions options;
  options.validate_each = true;
  auto stats = run_pipeline(**module, *steps, options);
  EXPECT_TRUE(stats) << to_string(stats.error());
  return print(**module);
}

TEST(IrPasses, SccpFoldsThroughPhisAndBranches) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = add.64 i64 2, i64 3
  br.gt.64 %0, i64 4, b1, b2
b1:
  %1 = mul.64 %0, i64 10
  ja b3
b2:
  ja b3
b3:
  %2 = phi [%1, b1], [%arg1, b2]
  ret %2
}
)",
                              "sccp,simplifycfg");
  EXPECT_EQ(out, R"(dialect linux

function @main {
b0:
  ret i64 50
}
)");
}

TEST(IrPasses, SccpUsesTheDialectsArithmetic) {
  // Linux: x / 0 = 0 and a 32-bit result is zero-extended.
  EXPECT_NE(run(R"(dialect linux

function @main {
b0:
  %0 = div.64 i64 7, i64 0
  %1 = sub.32.zext %0, i32 1
  ret %1
}
)",
                "sccp")
                .find("ret i64 0xffffffff"),
            std::string::npos);
  // sBPF traps on division by zero: the division stays.
  const std::string sbpf = run(R"(dialect sbpf-v0

function @main {
b0:
  %0 = div.64 i64 7, i64 0
  ret %0
}
)",
                               "sccp,dce");
  EXPECT_NE(sbpf.find("div.64 i64 7, i64 0"), std::string::npos) << sbpf;
  // sBPF v0 sign-extends a 32-bit subtraction's result.
  EXPECT_NE(run(R"(dialect sbpf-v0

function @main {
b0:
  %0 = sub.32.sext i32 0, i32 1
  ret %0
}
)",
                "sccp")
                .find("ret i64 -1"),
            std::string::npos);
}

// A value sccp or copyprop finds constant may feed a 32-bit comparison, a
// 32-bit operation or a narrow store, which read only its low bits: each
// such use gets the constant narrowed to those bits (fuzz_opt found sccp
// putting an i64 0x1ffffffff into a br.sle.32, which the validator refuses).
TEST(IrPasses, ConstantsAreNarrowedToTheBitsTheirUsersRead) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = lsh.64 i64 1, i64 32
  %1 = or.64 %0, i64 0xffffffff
  storeraw.8 %fp, -8, %1
  %2 = add.32.zext %1, %arg2
  br.sle.32 %1, %arg2, b1, b2
b1:
  %3 = assign %1
  storeraw.16 %fp, -16, %3
  ret %2
b2:
  ret %1
}
)",
                              "sccp,copyprop");
  EXPECT_NE(out.find("storeraw.8 %fp, -8, i8 -1"), std::string::npos) << out;
  EXPECT_NE(out.find("add.32.zext i32 -1, %arg2"), std::string::npos) << out;
  EXPECT_NE(out.find("br.sle.32 i32 -1, %arg2"), std::string::npos) << out;
  EXPECT_NE(out.find("storeraw.16 %fp, -16, i16 -1"), std::string::npos) << out;
  EXPECT_NE(out.find("ret i64 0x1ffffffff"), std::string::npos) << out;
}

TEST(IrPasses, DceKeepsEffectsAndRemovesDeadCycles) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = add.64 %arg1, i64 1
  storeraw.64 %fp, -8, %arg2
  %1 = loadraw.u64 %arg1, 0
  %2 = call helper 5 ()
  ja b1
b1:
  %3 = phi [%0, b0], [%4, b1]
  %4 = add.64 %3, i64 1
  br.eq.64 %2, i64 0, b1, b2
b2:
  ret i64 0
}
)",
                              "dce");
  EXPECT_EQ(out.find("add.64"), std::string::npos) << out;  // the dead loop counter
  EXPECT_NE(out.find("storeraw.64"), std::string::npos);
  EXPECT_NE(out.find("loadraw.u64 %arg1"), std::string::npos);  // may fault: kept
  EXPECT_NE(out.find("call helper 5"), std::string::npos);
}

TEST(IrPasses, CopyPropagationRemovesAssignsAndTrivialPhis) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = assign %arg1
  ja b1
b1:
  %1 = phi [%0, b0], [%1, b1]
  br.eq.64 %1, i64 0, b1, b2
b2:
  ret %1
}
)",
                              "copyprop");
  EXPECT_EQ(out.find("assign"), std::string::npos) << out;
  EXPECT_EQ(out.find("phi"), std::string::npos) << out;
  EXPECT_NE(out.find("ret %arg1"), std::string::npos) << out;
}

TEST(IrPasses, StrengthReductionKeepsSignExtendingForms) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = mul.64 %arg1, i64 8
  %1 = div.32.zext %0, i32 16
  %2 = mod.64 %1, i64 32
  %3 = add.64 %2, i64 0
  ret %3
}
)",
                              "strength,dce");
  EXPECT_NE(out.find("lsh.64 %arg1, i64 3"), std::string::npos) << out;
  EXPECT_NE(out.find("rsh.32.zext %0, i32 4"), std::string::npos) << out;
  EXPECT_NE(out.find("and.64 %1, i64 31"), std::string::npos) << out;
  EXPECT_EQ(out.find("add.64"), std::string::npos) << out;
  const std::string sbpf = run(R"(dialect sbpf-v0

function @main {
b0:
  %0 = mul.32.sext %arg1, i32 8
  ret %0
}
)",
                               "strength");
  EXPECT_NE(sbpf.find("mul.32.sext"), std::string::npos) << sbpf;
}

TEST(IrPasses, ZextPairsAndRedundantZexts) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = add.32.zext %arg1, i32 1
  %1 = lsh.64 %0, i64 32
  %2 = rsh.64 %1, i64 32
  %3 = lsh.64 %arg2, i64 32
  %4 = arsh.64 %3, i64 32
  %5 = add.64 %2, %4
  ret %5
}
)",
                              "zext,dce");
  EXPECT_NE(out.find("add.64 %0, %2"), std::string::npos) << out;  // zext of a 32-bit result is the result
  EXPECT_NE(out.find("arsh.64"), std::string::npos) << out;        // no movsx below ISA v4
}

// A 64-bit shift masks its amount: x >> 64 is x, whose upper half is not
// known to be zero, so the zext stays.
TEST(IrPasses, ZextKeepsAShiftByAMaskedAmount) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = rsh.64 %arg1, i64 64
  %1 = zext.32 %0
  %2 = rsh.64 %arg1, i64 40
  %3 = zext.32 %2
  %4 = add.64 %1, %3
  ret %4
}
)",
                              "zext");
  EXPECT_NE(out.find("zext.32 %0"), std::string::npos) << out;
  EXPECT_EQ(out.find("zext.32 %2"), std::string::npos) << out;  // 24 bits: already narrow
}

// `n + (c ? 1 : 0)`: the add moves onto the edge that carried the 1, the
// other edge passes n on; the phi of constants and the add are gone.
TEST(IrPasses, CondOpMovesAnIncrementOntoItsEdge) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = zext.32 %arg2
  br.eq.64 %arg1, i64 0, b2, b1
b1:
  ja b2
b2:
  %1 = phi [i32 1, b0], [i32 0, b1]
  %2 = add.32.zext %0, %1
  ret %2
}
)",
                              "condop");
  EXPECT_EQ(out, R"(dialect linux

function @main {
b0:
  %0 = zext.32 %arg2
  br.eq.64 %arg1, i64 0, b1, b2
b1:  ; preds b0
  %1 = add.32.zext %0, i32 1
  ja b3
b2:  ; preds b0
  ja b3
b3:  ; preds b2, b1
  %2 = phi [%1, b1], [%0, b2]
  ret %2
}
)");
}

// What must stay: the other operand read again later (each edge would copy
// it), a 32-bit add of a value that may have upper bits (the identity edge
// would skip the zero-extension), neither constant an identity, and a
// subtraction from the phi.
TEST(IrPasses, CondOpLeavesWhatWouldNotShrink) {
  const char* kept[] = {
      "  %0 = zext.32 %arg2\n  br.eq.64 %arg1, i64 0, b2, b1\nb1:\n  ja b2\nb2:\n"
      "  %1 = phi [i32 1, b0], [i32 0, b1]\n  %2 = add.32.zext %0, %1\n  %3 = add.64 %2, %0\n  ret %3\n",
      "  %0 = add.64 %arg2, i64 1\n  br.eq.64 %arg1, i64 0, b2, b1\nb1:\n  ja b2\nb2:\n"
      "  %1 = phi [i32 1, b0], [i32 0, b1]\n  %2 = add.32.zext %0, %1\n  ret %2\n",
      "  %0 = zext.32 %arg2\n  br.eq.64 %arg1, i64 0, b2, b1\nb1:\n  ja b2\nb2:\n"
      "  %1 = phi [i32 1, b0], [i32 2, b1]\n  %2 = add.32.zext %0, %1\n  ret %2\n",
      "  %0 = zext.32 %arg2\n  br.eq.64 %arg1, i64 0, b2, b1\nb1:\n  ja b2\nb2:\n"
      "  %1 = phi [i64 1, b0], [i64 0, b1]\n  %2 = sub.64 %1, %0\n  ret %2\n",
  };
  for (const char* body : kept) {
    const std::string text = std::string("dialect linux\n\nfunction @main {\nb0:\n") + body + "}\n";
    EXPECT_EQ(run(text, "condop"), run(text, "")) << body;
  }
}

// Counters summed in the reverse order of their tests are summed in the
// order of their tests, and then each add moves onto its test's edge.
TEST(IrPasses, CondOpOrdersAChainOfCounters) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = zext.32 %arg3
  br.eq.64 %arg1, i64 0, b2, b1
b1:
  ja b2
b2:
  %1 = phi [i32 1, b0], [i32 0, b1]
  br.eq.64 %arg2, i64 0, b4, b3
b3:
  ja b4
b4:
  %2 = phi [i32 1, b2], [i32 0, b3]
  %3 = add.32.zext %2, %1
  %4 = add.32.zext %3, %0
  ret %4
}
)",
                              "condop,dce");
  EXPECT_EQ(out.find("phi [i32"), std::string::npos) << out;
  size_t ones = 0;
  for (size_t at = 0; (at = out.find(", i32 1\n", at)) != std::string::npos; ++at) ++ones;
  EXPECT_EQ(ones, 2u) << out;
}

TEST(IrPasses, CseReusesDominatingValuesOnly) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  %0 = add.64 %arg1, %arg2
  br.eq.64 %arg3, i64 0, b1, b2
b1:
  %1 = add.64 %arg2, %arg1
  %2 = mul.64 %1, i64 3
  ja b3
b2:
  %3 = mul.64 %arg1, i64 3
  ja b3
b3:
  %4 = phi [%2, b1], [%3, b2]
  %5 = mul.64 %arg1, i64 3
  %6 = add.64 %4, %5
  ret %6
}
)",
                              "cse,dce");
  size_t adds = 0, muls = 0;
  for (size_t at = 0; (at = out.find("add.64", at)) != std::string::npos; ++at) ++adds;
  for (size_t at = 0; (at = out.find("mul.64", at)) != std::string::npos; ++at) ++muls;
  EXPECT_EQ(adds, 2u) << out;  // b1's add is b0's
  EXPECT_EQ(muls, 3u) << out;  // b3's is dominated by neither b1's nor b2's
  EXPECT_NE(out.find("mul.64 %0, i64 3"), std::string::npos) << out;
}

TEST(IrPasses, StackForwardingStopsAtCallsAndForeignStores) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  storeraw.64 %fp, -8, %arg1
  %0 = loadraw.u64 %fp, -8
  storeraw.32 %fp, -16, %arg2
  %1 = loadraw.u32 %fp, -16
  storeraw.64 %arg3, 0, %arg2
  %2 = loadraw.u64 %fp, -8
  %3 = call helper 1 (%fp)
  %4 = loadraw.u64 %fp, -8
  %5 = add.64 %0, %1
  %6 = add.64 %5, %2
  %7 = add.64 %6, %4
  ret %7
}
)",
                              "stackfwd,dce");
  EXPECT_NE(out.find("zext.32 %arg2"), std::string::npos) << out;
  size_t loads = 0;
  for (size_t at = 0; (at = out.find("loadraw", at)) != std::string::npos; ++at) ++loads;
  EXPECT_EQ(loads, 2u) << out;  // after the store through %arg3, and after the call
}

// No pointer into the frame escapes: a store through another address and
// a call cannot write it, and every load is the stored value (xdp_parse's
// MAC swap through the stack, around its packet stores).
TEST(IrPasses, StackForwardingGoesOnWhenTheFrameStaysPrivate) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  storeraw.64 %fp, -8, %arg1
  storeraw.64 %arg3, 0, %arg2
  %0 = loadraw.u64 %fp, -8
  %1 = call helper 5 ()
  %2 = loadraw.u64 %fp, -8
  %3 = add.64 %0, %2
  %4 = add.64 %3, %1
  ret %4
}
)",
                              "stackfwd,dce");
  EXPECT_EQ(out.find("loadraw"), std::string::npos) << out;
  EXPECT_NE(out.find("add.64 %arg1, %arg1"), std::string::npos) << out;
}

// A struct cleared byte by byte (clang's way for a char array), its bytes
// then set: one aligned store per piece of the same kind. A zero byte
// never shares a store with a non-zero one (the verifier's STACK_ZERO), a
// u64 store's value fits its 32-bit immediate, and a call ends the run.
// Overlapping stores (a byte set in a cleared word) stay as they are.
TEST(IrPasses, StoreMergeWritesTheSameBytesInFewerStores) {
  std::string body;
  for (int at = -16; at < -4; ++at) body += "  storeraw.8 %fp, " + std::to_string(at) + ", i8 0\n";
  const std::string out = run("dialect linux\n\nfunction @main {\nb0:\n" + body +
                                  "  %0 = add.64 %arg1, i64 1\n"
                                  "  storeraw.8 %fp, -11, i8 7\n"
                                  "  storeraw.16 %fp, -20, i16 1\n"
                                  "  storeraw.16 %fp, -18, i16 2\n"
                                  "  storeraw.32 %fp, -32, i32 305419896\n"
                                  "  storeraw.32 %fp, -28, i32 305419896\n"
                                  "  storeraw.64 %fp, -48, i64 0\n"
                                  "  storeraw.8 %fp, -43, i8 1\n"
                                  "  %1 = call helper 5 ()\n"
                                  "  storeraw.8 %fp, -1, i8 0\n"
                                  "  ret %0\n}\n",
                              "storemerge");
  // -11's first store is overwritten and goes, its second keeps its byte;
  // 0x1234567812345678 would need an lddw: two u32 stores stay; the
  // cleared word with a byte set in it stays; the store after the call is
  // not moved before it.
  EXPECT_EQ(out, R"(dialect linux

function @main {
b0:
  %0 = add.64 %arg1, i64 1
  storeraw.32 %fp, -32, i32 0x12345678
  storeraw.32 %fp, -28, i32 0x12345678
  storeraw.32 %fp, -20, i32 0x20001
  storeraw.32 %fp, -16, i32 0
  storeraw.8 %fp, -12, i8 0
  storeraw.8 %fp, -11, i8 7
  storeraw.16 %fp, -10, i16 0
  storeraw.32 %fp, -8, i32 0
  storeraw.64 %fp, -48, i64 0
  storeraw.8 %fp, -43, i8 1
  %1 = call helper 5 ()
  storeraw.8 %fp, -1, i8 0
  ret %0
}
)");
}

TEST(IrPasses, DeadStoresOnlyWhenTheFrameStaysPrivate) {
  const std::string kept = run(R"(dialect linux

function @main {
b0:
  storeraw.64 %fp, -8, %arg1
  %0 = add.64 %fp, i64 -8
  %1 = call helper 1 (%0)
  ret i64 0
}
)",
                               "deadstores");
  EXPECT_NE(kept.find("storeraw"), std::string::npos) << kept;
  const std::string removed = run(R"(dialect linux

function @main {
b0:
  storeraw.64 %fp, -8, %arg1
  storeraw.64 %fp, -16, %arg2
  %0 = loadraw.u32 %fp, -12
  ret %0
}
)",
                                  "deadstores");
  EXPECT_EQ(removed.find("storeraw.64 %fp, -8"), std::string::npos) << removed;
  EXPECT_NE(removed.find("storeraw.64 %fp, -16"), std::string::npos) << removed;
}

TEST(IrPasses, SimplifyCfgMergesAndSkipsBlocks) {
  const std::string out = run(R"(dialect linux

function @main {
b0:
  br.eq.64 %arg1, i64 0, b1, b2
b1:
  ja b3
b2:
  %0 = add.64 %arg1, i64 1
  ja b4
b4:
  %1 = add.64 %0, i64 1
  ja b3
b3:
  %2 = phi [i64 7, b1], [%1, b4]
  ret %2
}
)",
                              "simplifycfg");
  // b1 is skipped (b0 jumps to b3 itself) and b4 merged into b2.
  EXPECT_NE(out.find("[i64 7, b0]"), std::string::npos) << out;
  EXPECT_NE(out.find("[%1, b1]"), std::string::npos) << out;
  EXPECT_EQ(out.find("b3:"), std::string::npos) << out;
}

// sccp removes the only call of @callee (its branch is dead): the
// function goes too, as the kernel rejects an unreachable subprogram
// (fuzz_opt found -O2 output the verifier refused). sBPF keeps it: callx
// reaches a function by its key.
TEST(IrPasses, FunctionsNoLongerCalledAreDeleted) {
  const std::string body = R"(

function @main {
b0:
  br.eq.64 i64 1, i64 2, b1, b2
b1:
  %0 = call local @callee (%arg1)
  ret %0
b2:
  ret i64 7
}

function @callee {
b0:
  ret %arg1
}
)";
  EXPECT_EQ(run("dialect linux" + std::string(body), "sccp,simplifycfg").find("@callee"), std::string::npos);
  EXPECT_NE(run("dialect sbpf-v3" + std::string(body), "sccp,simplifycfg").find("function @callee"), std::string::npos);
}

// A long chain of empty blocks (what sccp leaves of foldable code) ends as
// one block whose phi reads the entry's value. The sweep skips edges from
// blocks it already cut off, so the chain costs linear work (bpfkit_ir_bench
// shows the time; this checks the result).
TEST(IrPasses, SimplifyCfgCollapsesAChainOfEmptyBlocks) {
  constexpr int kChain = 2000;
  // Appended piece by piece: GCC 12 warns (-Wrestrict) on "literal" + string.
  std::ostringstream text;
  text << "dialect linux\n\nfunction @main {\nb0:\n  %0 = add.64 %arg1, i64 1\n  ja b1\n";
  for (int i = 1; i < kChain; ++i) text << "b" << i << ":\n  ja b" << i + 1 << "\n";
  text << "b" << kChain << ":\n  %1 = phi [%0, b" << kChain - 1 << "]\n  ret %1\n}\n";
  EXPECT_EQ(run(text.str(), "simplifycfg,copyprop"), R"(dialect linux

function @main {
b0:
  %0 = add.64 %arg1, i64 1
  ret %0
}
)");
}

TEST(IrPasses, PipelineTextAndErrors) {
  auto steps = parse_pipeline("sccp,dce,simplifycfg");
  ASSERT_TRUE(steps);
  EXPECT_EQ(steps->size(), 3u);
  auto unknown = parse_pipeline("sccp,nosuch");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("column 6: unknown pass 'nosuch'"), std::string::npos)
      << unknown.error().message;
  auto bad_param = parse_pipeline("dce(k=1)");
  ASSERT_FALSE(bad_param);
  EXPECT_NE(bad_param.error().message.find("has no parameter 'k'"), std::string::npos);
  EXPECT_FALSE(parse_pipeline("dce(k=1"));
  EXPECT_FALSE(parse_pipeline("dce,,sccp"));
  for (int level : {1, 2}) EXPECT_TRUE(parse_pipeline(level_pipeline(level))) << level;
  EXPECT_EQ(level_pipeline(0), "");
}

}  // namespace
}  // namespace bpfkit::ir
