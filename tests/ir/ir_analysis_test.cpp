// The analyses computed on demand: liveness of SSA values and natural loops.
#include <gtest/gtest.h>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {
namespace {

std::unique_ptr<Module> parsed(std::string_view text) {
  auto module = parse(text);
  EXPECT_TRUE(module.has_value()) << to_string(module.error());
  if (!module) return nullptr;
  auto valid = validate(**module);
  EXPECT_TRUE(valid.has_value()) << to_string(valid.error());
  return std::move(*module);
}

// Two nested loops: b1 (outer header), b2 (inner header and latch), b3
// (outer latch), b4 (exit).
constexpr std::string_view kNested = R"(dialect linux
function @f {
b0:
  %0 = add.64 %arg1, i64 1
  ja b1
b1:
  %1 = phi [i64 0, b0], [%4, b3]
  ja b2
b2:
  %2 = phi [%1, b1], [%3, b2]
  %3 = add.64 %2, %0
  br.lt.64 %3, i64 100, b2, b3
b3:
  %4 = add.64 %1, i64 1
  br.lt.64 %4, %arg2, b1, b4
b4:
  ret %3
}
)";

TEST(IrAnalysis, LivenessFollowsUsesToTheirDefinitions) {
  auto module = parsed(kNested);
  ASSERT_TRUE(module);
  Function& fn = *module->functions()[0];
  const auto& b = fn.blocks();
  Liveness live(fn);
  const Value* v0 = b[0]->first();
  EXPECT_TRUE(live.is_live_out(b[0], v0));
  EXPECT_TRUE(live.is_live_in(b[2], v0));  // used in the inner loop on every iteration
  EXPECT_TRUE(live.is_live_in(b[3], v0));  // and around the outer back edge
  EXPECT_TRUE(live.is_live_in(b[1], v0));
  EXPECT_FALSE(live.is_live_in(b[4], v0));
  EXPECT_TRUE(live.is_live_in(b[1], fn.arg(2)));
  EXPECT_FALSE(live.is_live_in(b[1], fn.arg(1)));  // its one use is in b0
  const Value* v4 = b[3]->first();
  EXPECT_TRUE(live.is_live_out(b[3], v4));  // a phi input: live out of the predecessor
  EXPECT_FALSE(live.is_live_in(b[1], v4));  // but not into the phi's block
  const Value* v3 = b[2]->first()->next();
  EXPECT_TRUE(live.is_live_in(b[4], v3));
  EXPECT_TRUE(live.is_live_out(b[2], v3));
}

TEST(IrAnalysis, NestedLoops) {
  auto module = parsed(kNested);
  ASSERT_TRUE(module);
  Function& fn = *module->functions()[0];
  const auto& b = fn.blocks();
  DominatorTree tree(fn);
  LoopInfo loops(fn, tree);
  ASSERT_EQ(loops.loops().size(), 2u);
  const Loop& outer = *loops.loops()[0];
  const Loop& inner = *loops.loops()[1];
  EXPECT_EQ(outer.header, b[1]);
  EXPECT_EQ(outer.latches, std::vector<Block*>{b[3]});
  EXPECT_EQ(outer.blocks.size(), 3u);
  EXPECT_EQ(inner.header, b[2]);
  EXPECT_EQ(inner.parent, &outer);
  EXPECT_EQ(inner.depth, 2u);
  EXPECT_EQ(loops.depth(b[2]), 2u);
  EXPECT_EQ(loops.depth(b[3]), 1u);
  EXPECT_EQ(loops.depth(b[4]), 0u);
  EXPECT_EQ(loops.loop_of(b[0]), nullptr);
}

TEST(IrAnalysis, AnalysesSeeCfgEdits) {
  auto module = parsed(kNested);
  ASSERT_TRUE(module);
  Function& fn = *module->functions()[0];
  Block* inner = fn.blocks()[2];
  Block* middle = split_edge(inner, inner);  // the inner back edge gets its own block
  ASSERT_TRUE(validate(fn).has_value());
  DominatorTree tree(fn);
  LoopInfo loops(fn, tree);
  EXPECT_EQ(loops.loops()[1]->latches, std::vector<Block*>{middle});
  Liveness live(fn);
  EXPECT_TRUE(live.is_live_out(middle, inner->first()->next()));  // %3 flows to the phi through it
}

}  // namespace
}  // namespace bpfkit::ir
