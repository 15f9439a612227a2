// The IR core: use lists stay exact through every edit, the builder's
// positions, predecessor lists, and the CFG edits that keep phis right.
#include <gtest/gtest.h>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {
namespace {

void expect_valid(Function& fn) {
  auto result = validate(fn);
  EXPECT_TRUE(result.has_value()) << to_string(result.error()) << "\n" << print(fn);
}

// b0: x = arg1 + 1; br x == 0, b1, b2; b1: ja b3; b2: ja b3; b3: phi, ret.
struct Diamond {
  Module module;
  Function* fn = module.add_function("f");
  Block *b0 = fn->add_block(), *b1 = fn->add_block(), *b2 = fn->add_block(), *b3 = fn->add_block();
  Inst *x, *y, *phi, *ret;
  Diamond() {
    Builder b(*fn, back(b0));
    x = b.binary(Opcode::Add, 64, fn->arg(1), fn->constant(1));
    b.branch(isa::Condition::Eq, 64, x, fn->constant(0), b1, b2);
    b.set_position(back(b1));
    y = b.binary(Opcode::Mul, 32, x, fn->constant(3, 32), isa::Extension::Zero);
    b.jump(b3);
    b.set_position(back(b2));
    b.jump(b3);
    b.set_position(back(b3));
    phi = b.phi();
    phi->add_incoming(y, b1);
    phi->add_incoming(x, b2);
    ret = b.ret(phi);
  }
};

TEST(IrCore, UseListsFollowEveryEdit) {
  Diamond d;
  expect_valid(*d.fn);
  EXPECT_EQ(d.x->use_count(), 3u);  // br, y, phi
  EXPECT_EQ(d.fn->arg(1)->use_count(), 1u);
  d.x->replace_all_uses_with(d.fn->arg(2));
  EXPECT_EQ(d.x->use_count(), 0u);
  EXPECT_EQ(d.fn->arg(2)->use_count(), 3u);
  d.phi->set_operand(1, d.x);
  EXPECT_EQ(d.x->use_count(), 1u);
  EXPECT_EQ(d.fn->arg(2)->use_count(), 2u);
  expect_valid(*d.fn);
  d.fn->erase(d.y);  // its use in the phi becomes undef
  EXPECT_EQ(d.phi->operand(0), d.fn->undef());
  expect_valid(*d.fn);
}

TEST(IrCore, ManyOperandsKeepTheirUsesWhenTheVectorGrows) {
  Module module;
  Function* fn = module.add_function("f");
  Block* entry = fn->add_block();
  Builder b(*fn, back(entry));
  Inst* call = b.call(CallKind::Helper, 1, {});
  for (int i = 1; i <= 5; ++i) call->add_operand(fn->arg(i));
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(fn->arg(i)->uses().begin()->user(), call);
  call->remove_operand(0);
  EXPECT_FALSE(fn->arg(1)->has_uses());
  EXPECT_EQ(fn->arg(2)->uses().begin()->index(), 0u);
  b.ret(call);
  expect_valid(*fn);
}

TEST(IrCore, BuilderPositions) {
  Diamond d;
  Builder b(*d.fn, after_phis(d.b3));
  Inst* first = b.assign(d.phi);
  EXPECT_EQ(d.phi->next(), first);
  b.set_position(before_terminator(d.b3));
  Inst* last = b.assign(first);
  EXPECT_EQ(last->next(), d.ret);
  b.set_position(front(d.b0));
  Inst* top = b.alloc(8);
  EXPECT_EQ(d.b0->first(), top);
  b.set_position(after(top));
  Inst* second = b.alloc(8);
  EXPECT_EQ(top->next(), second);
  b.set_position(before(top));
  Inst* zeroth = b.alloc(8);
  EXPECT_EQ(d.b0->first(), zeroth);
  expect_valid(*d.fn);
}

TEST(IrCore, PredsFollowTargets) {
  Diamond d;
  EXPECT_EQ(d.b3->preds(), (std::vector<Block*>{d.b1, d.b2}));
  d.b1->terminator()->set_target(0, d.b2);
  EXPECT_EQ(d.b3->preds(), (std::vector<Block*>{d.b2}));
  EXPECT_EQ(d.b2->preds().size(), 2u);
  EXPECT_FALSE(validate(*d.fn).has_value());  // b3's phi still names b1, and b2's preds gained one
}

TEST(IrCore, SplitBlockRenamesPhiInputs) {
  Diamond d;
  Block* tail = split_block(d.b1->terminator());
  EXPECT_EQ(d.phi->incoming_block(0), tail);
  EXPECT_EQ(d.b1->succs(), std::vector<Block*>{tail});
  expect_valid(*d.fn);
  Block* rest = split_block(d.x);  // the entry's whole body moves
  EXPECT_EQ(rest->preds(), std::vector<Block*>{d.b0});
  expect_valid(*d.fn);
}

TEST(IrCore, SplitEdge) {
  Diamond d;
  Block* middle = split_edge(d.b0, d.b2);
  EXPECT_EQ(d.b0->succs(), (std::vector<Block*>{d.b1, middle}));
  EXPECT_EQ(d.phi->incoming_block(1), d.b2);  // b2 still jumps to b3
  expect_valid(*d.fn);
  Block* late = split_edge(d.b2, d.b3);
  EXPECT_EQ(d.phi->incoming_block(1), late);
  expect_valid(*d.fn);
}

TEST(IrCore, RedirectEdgeAndRemovePredecessor) {
  Diamond d;
  // b1 now returns on its own: its edge to b3 goes to a new block.
  Block* exit = d.fn->add_block();
  Builder b(*d.fn, back(exit));
  b.ret(d.fn->constant(0));
  ASSERT_TRUE(redirect_edge(d.b1, d.b3, exit).has_value());
  EXPECT_EQ(d.phi->operand_count(), 1u);
  EXPECT_EQ(d.phi->incoming_block(0), d.b2);
  expect_valid(*d.fn);
  // Refused: no such edge; a branch naming one block twice.
  EXPECT_FALSE(redirect_edge(d.b1, d.b3, exit).has_value());
  EXPECT_FALSE(redirect_edge(d.b0, d.b1, d.b2).has_value());
  // Phis of the new target get the values given.
  Value* value = d.fn->constant(9);
  ASSERT_TRUE(redirect_edge(d.b1, exit, d.b3, std::span<Value* const>(&value, 1)).has_value());
  EXPECT_EQ(d.phi->operand(d.phi->incoming_index(d.b1)), value);
  expect_valid(*d.fn);
  remove_predecessor(d.b3, d.b1);
  EXPECT_EQ(d.phi->incoming_index(d.b1), -1);
}

TEST(IrCore, EraseBlockAndConstantsAreInterned) {
  Diamond d;
  EXPECT_EQ(d.fn->constant(1), d.fn->constant(1, 64));
  EXPECT_NE(d.fn->constant(1, 32), d.fn->constant(1, 64));
  EXPECT_EQ(d.fn->constant(UINT64_MAX, 32)->bits(), 0xffffffffu);
  EXPECT_EQ(d.fn->constant(0xff, 8)->as_signed(), -1);
  ASSERT_TRUE(redirect_edge(d.b0, d.b1, d.b3, std::span<Value* const>()).has_value());
  d.fn->erase_block(d.b1);  // y's use in the phi became undef with the edge
  EXPECT_EQ(d.fn->blocks().size(), 3u);
  expect_valid(*d.fn);
}

TEST(IrCore, DominatorsAndFrontiers) {
  Diamond d;
  DominatorTree tree(*d.fn);
  EXPECT_EQ(tree.idom(d.b3), d.b0);
  EXPECT_TRUE(tree.dominates(d.b0, d.b3));
  EXPECT_FALSE(tree.dominates(d.b1, d.b3));
  EXPECT_TRUE(tree.dominates(d.x, d.y));
  const auto frontiers = tree.frontiers();
  EXPECT_EQ(frontiers[tree.rpo_index(d.b1)], std::vector<Block*>{d.b3});
  EXPECT_TRUE(frontiers[tree.rpo_index(d.b0)].empty());
}

TEST(IrCore, DotNamesEveryBlockAndEdge) {
  Diamond d;
  const std::string dot = to_dot(*d.fn);
  EXPECT_NE(dot.find("b0 -> b1 [label=\"T\"]"), std::string::npos) << dot;
  EXPECT_NE(dot.find("b2 -> b3;"), std::string::npos) << dot;
  EXPECT_NE(dot.find("phi"), std::string::npos) << dot;
}

}  // namespace
}  // namespace bpfkit::ir
