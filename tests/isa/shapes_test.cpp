// The shapes table (isa/shapes.def): every opcode row's shape agrees with
// its templates and layouts, and the registers each instruction reads and
// writes, row by row, as the verifier, lifter and JIT will read them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string_view>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {
namespace {

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

bool lists(const OperandList& layout, OperandKind kind) {
  return std::find(layout.begin(), layout.end(), kind) != layout.end();
}

TEST(Shapes, TableIsInEnumOrderWithNames) {
  ASSERT_EQ(kShapes.size(), static_cast<size_t>(Shape::Exit) + 1);
  for (size_t i = 0; i < kShapes.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kShapes[i].shape), i);
    EXPECT_FALSE(kShapes[i].name.empty());
  }
  EXPECT_EQ(shape_info(Shape::JumpReg).name, "JumpReg");
}

// The pseudo-C template of every row names exactly the fields its shape uses.
TEST(Shapes, EveryRowsTemplateUsesItsShapesFields) {
  for (const OpInfo& row : kOps) {
    const ShapeInfo& shape = shape_info(row.shape);
    const std::string_view text = row.pseudo_c;
    EXPECT_EQ(has(text, "{dst}"), shape.dst != RegAccess::Unused) << row.id;
    EXPECT_EQ(has(text, "{src}"), shape.src != RegAccess::Unused) << row.id;
    EXPECT_EQ(has(text, "{off}"), shape.off == FieldUse::Offset) << row.id;
    EXPECT_EQ(has(text, "{target}"), shape.target() != TargetField::None) << row.id;
    EXPECT_EQ(has(text, "{imm64}"), shape.imm == FieldUse::Imm64) << row.id;
    // addr_space_cast is the one register-to-register row that also fills
    // imm: two address spaces, {imm_hi16} and {imm_lo16}.
    const bool imm = has(text, "{imm}") || has(text, "{opt_imm}") || has(text, "{imm_hi16}");
    EXPECT_EQ(imm, shape.imm == FieldUse::Value || row.op == Op::addr_space_cast) << row.id;
  }
}

// Each syntax's layout names every field the shape uses, once.
TEST(Shapes, LayoutsNameEveryUsedField) {
  for (const ShapeInfo& shape : kShapes) {
    for (const OperandList* layout : {&shape.normal, &shape.conformance}) {
      const bool dst = lists(*layout, OperandKind::Dst) || lists(*layout, OperandKind::MemDst);
      const bool src = lists(*layout, OperandKind::Src) || lists(*layout, OperandKind::MemSrc);
      EXPECT_EQ(dst, shape.dst != RegAccess::Unused) << shape.name;
      EXPECT_EQ(src, shape.src != RegAccess::Unused) << shape.name;
      EXPECT_EQ(lists(*layout, OperandKind::Target), shape.target() != TargetField::None) << shape.name;
      EXPECT_EQ(lists(*layout, OperandKind::Imm), shape.imm == FieldUse::Value) << shape.name;
      EXPECT_EQ(lists(*layout, OperandKind::Imm64), shape.imm == FieldUse::Imm64) << shape.name;
      const bool memory = lists(*layout, OperandKind::MemDst) || lists(*layout, OperandKind::MemSrc);
      EXPECT_EQ(memory, shape.off == FieldUse::Offset) << shape.name;
    }
    // GNU normal spells a width (movs, endle); the conformance dialect puts it in the mnemonic.
    EXPECT_EQ(lists(shape.normal, OperandKind::Width),
              shape.off == FieldUse::Select || (shape.imm == FieldUse::Select && shape.memory != MemoryAccess::Atomic))
        << shape.name;
    EXPECT_FALSE(lists(shape.conformance, OperandKind::Width)) << shape.name;
  }
}

TEST(Shapes, FlowAgreesWithTargetsAndSemantics) {
  for (const ShapeInfo& shape : kShapes)
    if (shape.flow == Flow::Jump) {
      EXPECT_NE(shape.target(), TargetField::None) << shape.name;
    }
  for (const OpInfo& row : kOps) {
    const Operation operation = base_semantics(row.op).operation;
    const Flow flow = shape_info(row.op).flow;
    const bool call = operation == Operation::Call || operation == Operation::CallLocal ||
                      operation == Operation::CallKfunc || operation == Operation::Callx;
    const bool jump = operation == Operation::Jump || operation == Operation::JumpIf || operation == Operation::MayGoto;
    EXPECT_EQ(flow == Flow::Call, call) << row.id;
    EXPECT_EQ(flow == Flow::Jump, jump) << row.id;
    EXPECT_EQ(flow == Flow::Exit, operation == Operation::Exit) << row.id;
    EXPECT_EQ(shape_info(row.op).memory != MemoryAccess::None, access_size(row.op) != 0) << row.id;
  }
}

// Across every row, encoded with dst r1 and src r2: what is read and written
// comes from the register fields and the shape's implicit registers only,
// r10 is written by nothing but an explicit dst, and the sets match what the
// semantics table says the row does.
TEST(Shapes, EveryRowReadsAndWritesConsistently) {
  const RegSet fields{1, 2};
  for (const OpInfo& row : kOps) {
    const ShapeInfo& shape = shape_info(row.op);
    const Slot slot = encode(row.op, 1, 2, 0, row.shape == Shape::Endian ? row.value : 0);
    const Semantics meaning = base_semantics(row.op);
    const RegSet used = regs_used(row.op, slot), written = regs_written(row.op, slot);
    const RegSet implicit_used = shape.uses | (meaning.operation == Operation::AtomicCmpxchg ? kR0 : kNoRegs);
    const RegSet implicit_written = shape.writes | (meaning.operation == Operation::AtomicCmpxchg ? kR0 : kNoRegs);
    EXPECT_EQ(used, (used & fields) | implicit_used) << row.id << " uses " << used.to_string();
    EXPECT_EQ(written, (written & fields) | implicit_written) << row.id << " writes " << written.to_string();
    EXPECT_FALSE(written.contains(kFramePointer)) << row.id;
    if (!shape.writes.contains(1)) {
      EXPECT_EQ(written.contains(1), writes_dst(row.op)) << row.id;
    }
    if (meaning.source == Source::Reg && shape.src != RegAccess::Unused) {
      EXPECT_TRUE(used.contains(2)) << row.id;
    }
    if (meaning.operation == Operation::Store) {
      EXPECT_TRUE(used.contains(1) && written.empty()) << row.id;
    }
    if (meaning.operation == Operation::Load || meaning.operation == Operation::LoadSx) {
      EXPECT_EQ(written, RegSet{1}) << row.id;
    }
    if (shape.flow == Flow::Call) {
      EXPECT_EQ(written, kR0 | kArgRegs) << row.id;
    }
  }
}

struct Example {
  Slot slot;
  RegSet used, written;
};

void expect_regs(const Example& e, const Dialect& dialect = kLinuxV4) {
  const std::optional<Op> op = dialect.family == Family::Sbpf ? lookup(e.slot, dialect) : lookup(e.slot);
  ASSERT_TRUE(op.has_value());
  EXPECT_EQ(regs_used(*op, e.slot, dialect), e.used)
      << info(*op).id << ": " << regs_used(*op, e.slot, dialect).to_string() << " in " << dialect.name;
  EXPECT_EQ(regs_written(*op, e.slot, dialect), e.written)
      << info(*op).id << ": " << regs_written(*op, e.slot, dialect).to_string() << " in " << dialect.name;
}

TEST(Shapes, RegistersOfAlu) {
  expect_regs({encode(Op::add64_reg, 1, 2), {1, 2}, {1}});  // r1 += r2
  expect_regs({encode(Op::add32_imm, 3, 0, 0, 7), {3}, {3}});
  expect_regs({encode(Op::mov64_reg, 1, 2), {2}, {1}});  // r1 = r2 does not read r1
  expect_regs({encode(Op::mov32_imm, 4, 0, 0, 1), {}, {4}});
  expect_regs({encode(Op::movsx8_64, 5, 6), {6}, {5}});
  expect_regs({encode(Op::addr_space_cast, 1, 2, 0, 1 << 16), {2}, {1}});
  expect_regs({encode(Op::neg64, 4), {4}, {4}});
  expect_regs({encode(Op::be32, 7), {7}, {7}});
  expect_regs({encode(Op::lsh64_reg, 9, 9), {9}, {9}});
}

TEST(Shapes, RegistersOfMemory) {
  expect_regs({encode_lddw(2, 0x1122334455667788)[0], {}, {2}});
  expect_regs({encode(Op::ldxdw, 1, 2, 8), {2}, {1}});
  expect_regs({encode(Op::ldxsb, 1, 10, -1), {10}, {1}});
  expect_regs({encode(Op::stw, 10, 0, -4, 5), {10}, {}});
  expect_regs({encode(Op::stxdw, 1, 2, 0), {1, 2}, {}});
  expect_regs({encode(Op::ldabsw, 0, 0, 0, 12), {6}, {0, 1, 2, 3, 4, 5}});
  expect_regs({encode(Op::ldindh, 0, 3, 0, 2), {3, 6}, {0, 1, 2, 3, 4, 5}});
}

TEST(Shapes, RegistersOfAtomics) {
  expect_regs({encode(Op::atomic64_add, 1, 2, 8), {1, 2}, {}});
  expect_regs({encode(Op::atomic32_or, 1, 2, 8), {1, 2}, {}});
  expect_regs({encode(Op::atomic64_fetch_add, 1, 2, 8), {1, 2}, {2}});  // the old value comes back in src
  expect_regs({encode(Op::atomic32_fetch_xor, 3, 4), {3, 4}, {4}});
  expect_regs({encode(Op::atomic64_xchg, 1, 2), {1, 2}, {2}});
  expect_regs({encode(Op::atomic64_cmpxchg, 1, 2), {0, 1, 2}, {0}});  // compares with r0, returns into r0
  expect_regs({encode(Op::atomic32_cmpxchg, 3, 4), {0, 3, 4}, {0}});
}

TEST(Shapes, RegistersOfControlFlow) {
  expect_regs({encode(Op::ja, 0, 0, 3), {}, {}});
  expect_regs({encode(Op::gotol, 0, 0, 0, 3), {}, {}});
  expect_regs({encode(Op::jeq64_imm, 1, 0, 3, 5), {1}, {}});
  expect_regs({encode(Op::jsgt32_reg, 1, 2, 3), {1, 2}, {}});
  expect_regs({encode(Op::call, 0, 0, 0, 1), {1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 5}});
  expect_regs({encode(Op::call_local, 0, 0, 0, 4), {1, 2, 3, 4, 5}, {0, 1, 2, 3, 4, 5}});
  expect_regs({encode(Op::callx, 8), {1, 2, 3, 4, 5, 8}, {0, 1, 2, 3, 4, 5}});
  expect_regs({encode(Op::exit), {0}, {}});
}

// callx reads the register its dialect names: imm in sBPF v0 and v1, src in
// v2, dst in v3.
TEST(Shapes, CallxReadsTheDialectsRegister) {
  Slot in_imm = encode(Op::callx);
  in_imm.imm = 7;
  expect_regs({in_imm, {1, 2, 3, 4, 5, 7}, {0, 1, 2, 3, 4, 5}}, kSbpfV0);
  expect_regs({in_imm, {1, 2, 3, 4, 5, 7}, {0, 1, 2, 3, 4, 5}}, kSbpfV1);
  expect_regs({encode(Op::callx, 0, 7), {1, 2, 3, 4, 5, 7}, {0, 1, 2, 3, 4, 5}}, kSbpfV2);
  expect_regs({encode(Op::callx, 7), {1, 2, 3, 4, 5, 7}, {0, 1, 2, 3, 4, 5}}, kSbpfV3);
}

TEST(Shapes, SbpfRows) {
  expect_regs({encode(Op::hor64_imm, 3, 0, 0, 1), {3}, {3}}, kSbpfV2);
  expect_regs({encode(Op::sbpf_ldxw, 1, 2, 4), {2}, {1}}, kSbpfV2);
  expect_regs({encode(Op::sbpf_stxb, 1, 2, 4), {1, 2}, {}}, kSbpfV2);
  expect_regs({encode(Op::udiv64_reg, 1, 2), {1, 2}, {1}}, kSbpfV2);
  expect_regs({encode(Op::add64_imm, 10, 0, 0, -64), {10}, {10}}, kSbpfV1);  // the frame bump
}

TEST(Shapes, TargetsLiveWhereTheShapeSays) {
  EXPECT_EQ(target_field(Op::ja), TargetField::Off);
  EXPECT_EQ(target_field(Op::jne32_reg), TargetField::Off);
  EXPECT_EQ(target_field(Op::may_goto), TargetField::Off);
  EXPECT_EQ(target_field(Op::gotol), TargetField::Imm);
  EXPECT_EQ(target_field(Op::call_local), TargetField::Imm);
  EXPECT_EQ(target_field(Op::call), TargetField::None);
  EXPECT_EQ(target_field(Op::lddw_func), TargetField::None);  // an address, not a branch
  EXPECT_EQ(branch_target(Op::ja, encode(Op::ja, 0, 0, 3), 10), 14);
  EXPECT_EQ(branch_target(Op::jeq64_reg, encode(Op::jeq64_reg, 1, 2, -11), 10), 0);
  EXPECT_EQ(branch_target(Op::gotol, encode(Op::gotol, 0, 0, 0, 100000), 1), 100002);
  EXPECT_EQ(branch_target(Op::call_local, encode(Op::call_local, 0, 0, 0, -3), 5), 3);
  EXPECT_EQ(branch_target(Op::call, encode(Op::call, 0, 0, 0, 3), 5), std::nullopt);
  EXPECT_EQ(branch_target(Op::exit, encode(Op::exit), 5), std::nullopt);
}

TEST(Shapes, RegSet) {
  RegSet set{0, 5, 10};
  EXPECT_EQ(set.size(), 3);
  EXPECT_TRUE(set.contains(5));
  EXPECT_FALSE(set.contains(4));
  EXPECT_FALSE(set.contains(-1));
  EXPECT_FALSE(set.contains(16));
  set.insert(99);  // no such field: left out
  EXPECT_EQ(set.size(), 3);
  EXPECT_EQ(set.to_string(), "{r0, r5, r10}");
  EXPECT_EQ(RegSet{}.to_string(), "{}");
  EXPECT_EQ((kR0 | kArgRegs).bits(), 0x3f);
  EXPECT_EQ((kArgRegs & RegSet{0, 1}), RegSet{1});
}

}  // namespace
}  // namespace bpfkit::isa
