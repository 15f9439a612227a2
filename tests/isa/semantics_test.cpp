// The semantics table (isa/semantics.hpp): every row a dialect decodes has a
// meaning there; the known differences between the dialects, row by row; the
// frame model and successors().
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {
namespace {

constexpr std::array<const Dialect*, 5> kDialects = {&kLinuxV4, &kSbpfV0, &kSbpfV1, &kSbpfV2, &kSbpfV3};

TEST(Semantics, EveryRowADialectDecodesHasAMeaning) {
  for (const Dialect* d : kDialects) {
    size_t rows = 0;
    for (const OpInfo& row : kOps) {
      const Semantics s = semantics(row.op, *d);
      EXPECT_EQ(has_row(row.op, *d), s.operation != Operation::None) << d->name << " " << row.id;
      if (s.operation == Operation::None) continue;
      ++rows;
      EXPECT_NE(s.width, 0) << d->name << " " << row.id;
    }
    EXPECT_GT(rows, 60u) << d->name;
  }
}

TEST(Semantics, HasRowAgreesWithTheDecoder) {
  // Every row a version has decodes from its own encoding in that version.
  for (const Dialect* d : kDialects) {
    for (const OpInfo& row : kOps) {
      if (!has_row(row.op, *d) || row.shape == Shape::Lddw) continue;
      const Slot slot = encode(row.op, 1, 2, 0, row.shape == Shape::Endian ? row.value : 1);
      const std::optional<Op> decoded = d->family == Family::Sbpf ? lookup(slot, *d) : lookup(slot);
      EXPECT_EQ(decoded, row.op) << d->name << " " << row.id;
    }
  }
}

TEST(Semantics, LinuxZeroExtendsAndDefinesDivision) {
  for (const OpInfo& row : kOps) {
    const Semantics s = semantics(row.op, kLinuxV4);
    if (s.operation >= Operation::Add && s.operation <= Operation::Hor && s.width == 32) {
      EXPECT_EQ(s.result, Extension::Zero) << row.id;
    }
    EXPECT_FALSE(s.swapped) << row.id;
  }
  EXPECT_EQ(semantics(Op::div64_reg, kLinuxV4).division, DivisionPolicy::Defined);
  EXPECT_EQ(semantics(Op::smod32_imm, kLinuxV4).division, DivisionPolicy::Defined);
  EXPECT_EQ(semantics(Op::add64_reg, kLinuxV4).division, DivisionPolicy::None);
  EXPECT_EQ(semantics(Op::call, kLinuxV4).call, CallResolution::Helper);
  EXPECT_EQ(semantics(Op::call_local, kLinuxV4).call, CallResolution::Local);
  EXPECT_EQ(semantics(Op::call_kfunc, kLinuxV4).call, CallResolution::Kfunc);
  EXPECT_EQ(semantics(Op::callx, kLinuxV4).callx_register, Field::Dst);
  EXPECT_EQ(semantics(Op::jsgt32_imm, kLinuxV4).condition, Condition::SGt);
  EXPECT_EQ(semantics(Op::jsgt32_imm, kLinuxV4).width, 32);
  EXPECT_TRUE(semantics(Op::atomic64_cmpxchg, kLinuxV4).fetch);
  EXPECT_FALSE(semantics(Op::atomic32_add, kLinuxV4).fetch);
  EXPECT_EQ(semantics(Op::ldxsh, kLinuxV4).operation, Operation::LoadSx);
  EXPECT_EQ(semantics(Op::hor64_imm, kLinuxV4).operation, Operation::None);
}

TEST(Semantics, SbpfExtendsAddSubMulBySignExceptV2) {
  for (const Op op : {Op::add32_imm, Op::add32_reg, Op::sub32_imm, Op::sub32_reg, Op::mul32_imm, Op::mul32_reg}) {
    EXPECT_EQ(semantics(op, kSbpfV0).result, Extension::Sign) << info(op).id;
    EXPECT_EQ(semantics(op, kSbpfV1).result, Extension::Sign) << info(op).id;
    EXPECT_EQ(semantics(op, kSbpfV3).result, Extension::Sign) << info(op).id;
    // v2 has no mul32 (PQR), and zero-extends add and sub.
    if (op == Op::mul32_imm || op == Op::mul32_reg)
      EXPECT_EQ(semantics(op, kSbpfV2).operation, Operation::None) << info(op).id;
    else
      EXPECT_EQ(semantics(op, kSbpfV2).result, Extension::Zero) << info(op).id;
  }
  // The other 32-bit operations zero-extend everywhere; v2's mov32 reg sign-extends.
  for (const Dialect* d : {&kSbpfV0, &kSbpfV1, &kSbpfV3}) {
    EXPECT_EQ(semantics(Op::or32_reg, *d).result, Extension::Zero);
    EXPECT_EQ(semantics(Op::mov32_reg, *d).result, Extension::Zero);
  }
  EXPECT_EQ(semantics(Op::mov32_reg, kSbpfV2).result, Extension::Sign);
  EXPECT_EQ(semantics(Op::mov32_imm, kSbpfV2).result, Extension::Zero);
  EXPECT_EQ(semantics(Op::lmul32_reg, kSbpfV2).result, Extension::Zero);
}

TEST(Semantics, OnlyV2SwapsSubImm) {
  for (const Dialect* d : kDialects) {
    const bool v2 = d == &kSbpfV2;
    EXPECT_EQ(semantics(Op::sub64_imm, *d).swapped, v2) << d->name;
    EXPECT_EQ(semantics(Op::sub32_imm, *d).swapped, v2) << d->name;
    EXPECT_FALSE(semantics(Op::sub64_reg, *d).swapped) << d->name;
  }
}

TEST(Semantics, SbpfDivisionTraps) {
  for (const Dialect* d : {&kSbpfV0, &kSbpfV1, &kSbpfV3}) {
    EXPECT_EQ(semantics(Op::div64_reg, *d).division, DivisionPolicy::Trap) << d->name;
    EXPECT_EQ(semantics(Op::mod32_imm, *d).division, DivisionPolicy::Trap) << d->name;
    EXPECT_EQ(semantics(Op::udiv64_reg, *d).operation, Operation::None) << d->name;
  }
  EXPECT_EQ(semantics(Op::div64_reg, kSbpfV2).operation, Operation::None);
  EXPECT_EQ(semantics(Op::udiv64_reg, kSbpfV2).division, DivisionPolicy::Trap);
  EXPECT_EQ(semantics(Op::urem32_imm, kSbpfV2).division, DivisionPolicy::Trap);
  EXPECT_EQ(semantics(Op::sdiv64_pqr_reg, kSbpfV2).division, DivisionPolicy::TrapOverflow);
  EXPECT_EQ(semantics(Op::srem32_imm, kSbpfV2).division, DivisionPolicy::TrapOverflow);
  EXPECT_EQ(semantics(Op::lmul64_reg, kSbpfV2).division, DivisionPolicy::None);
  // The unsigned 64-bit PQR forms read imm as unsigned; the signed ones and lmul do not.
  EXPECT_TRUE(semantics(Op::udiv64_imm, kSbpfV2).imm_zero_extended);
  EXPECT_TRUE(semantics(Op::uhmul64_imm, kSbpfV2).imm_zero_extended);
  EXPECT_FALSE(semantics(Op::sdiv64_pqr_imm, kSbpfV2).imm_zero_extended);
  EXPECT_FALSE(semantics(Op::lmul64_imm, kSbpfV2).imm_zero_extended);
  EXPECT_FALSE(semantics(Op::add64_imm, kSbpfV2).imm_zero_extended);
}

TEST(Semantics, CallsAndCallxByVersion) {
  EXPECT_EQ(semantics(Op::call, kSbpfV0).call, CallResolution::SyscallOrFunction);
  EXPECT_EQ(semantics(Op::call, kSbpfV2).call, CallResolution::SyscallOrFunction);
  EXPECT_EQ(semantics(Op::call, kSbpfV3).call, CallResolution::Syscall);
  EXPECT_EQ(semantics(Op::call_local, kSbpfV3).call, CallResolution::Local);
  EXPECT_EQ(semantics(Op::call_local, kSbpfV1).operation, Operation::None);
  EXPECT_EQ(semantics(Op::callx, kSbpfV0).callx_register, Field::Imm);
  EXPECT_EQ(semantics(Op::callx, kSbpfV1).callx_register, Field::Imm);
  EXPECT_EQ(semantics(Op::callx, kSbpfV2).callx_register, Field::Src);
  EXPECT_EQ(semantics(Op::callx, kSbpfV3).callx_register, Field::Dst);
  const Slot slot = encode(Op::callx, 3, 5, 0, 7);
  EXPECT_EQ(callx_register(slot, kSbpfV0), 7);
  EXPECT_EQ(callx_register(slot, kSbpfV2), 5);
  EXPECT_EQ(callx_register(slot, kSbpfV3), 3);
  EXPECT_EQ(callx_register(slot, kLinuxV4), 3);
}

TEST(Semantics, V2MovedMemoryAndHor) {
  EXPECT_EQ(semantics(Op::sbpf_ldxw, kSbpfV2).operation, Operation::Load);
  EXPECT_EQ(semantics(Op::sbpf_ldxw, kSbpfV2).width, 32);
  EXPECT_EQ(semantics(Op::sbpf_stxdw, kSbpfV2).operation, Operation::Store);
  EXPECT_EQ(semantics(Op::ldxw, kSbpfV2).operation, Operation::None);
  EXPECT_EQ(semantics(Op::sbpf_ldxw, kSbpfV3).operation, Operation::None);
  EXPECT_EQ(semantics(Op::hor64_imm, kSbpfV2).operation, Operation::Hor);
  EXPECT_EQ(semantics(Op::lddw, kSbpfV2).operation, Operation::None);
  EXPECT_EQ(semantics(Op::lddw, kSbpfV3).operation, Operation::LoadImm64);
  EXPECT_EQ(semantics(Op::neg64, kSbpfV2).operation, Operation::None);
  EXPECT_EQ(semantics(Op::le32, kSbpfV2).operation, Operation::None);
  EXPECT_EQ(semantics(Op::be32, kSbpfV2).operation, Operation::ToBe);
  EXPECT_EQ(semantics(Op::jeq32_imm, kSbpfV0).operation, Operation::None);  // JMP32 is v3's
  EXPECT_EQ(semantics(Op::jeq32_imm, kSbpfV3).operation, Operation::JumpIf);
}

TEST(Semantics, FrameModels) {
  const FrameModel linux_frames = frame_model(kLinuxV4);
  EXPECT_EQ(linux_frames.frame_size, 512u);
  EXPECT_EQ(linux_frames.max_depth, 8u);
  EXPECT_EQ(linux_frames.call_fp_step, -512);
  EXPECT_EQ(linux_frames.entry_fp, 4096u);
  const FrameModel v0 = frame_model(kSbpfV0);
  EXPECT_EQ(v0.gap_size, 4096u);
  EXPECT_EQ(v0.call_fp_step, 8192);
  EXPECT_EQ(v0.entry_fp, 4096u);
  EXPECT_EQ(v0.stack_bytes(), 64u * 4096);
  for (const Dialect* d : {&kSbpfV1, &kSbpfV2}) {
    EXPECT_EQ(frame_model(*d).call_fp_step, 0) << d->name;
    EXPECT_EQ(frame_model(*d).entry_fp, 64u * 4096) << d->name;
    EXPECT_EQ(frame_model(*d).gap_size, 0u) << d->name;
  }
  EXPECT_EQ(frame_model(kSbpfV3).call_fp_step, 4096);
  EXPECT_EQ(rodata_address(kSbpfV0), region_base(kProgramRegion));
  EXPECT_EQ(rodata_address(kSbpfV3), 0u);
  // v0's gaps: frame k of the guest is at 2k pages; odd pages are gaps.
  EXPECT_EQ(gapped_stack_offset(0), 0u);
  EXPECT_EQ(gapped_stack_offset(4095), 4095u);
  EXPECT_EQ(gapped_stack_offset(4096), kUnmappedOffset);
  EXPECT_EQ(gapped_stack_offset(8192 + 8), 4096u + 8);
}

TEST(Semantics, Successors) {
  // 0: jeq r1, 0, +2; 1: lddw; 3: call +1; 4: ja -5 (to 0); 5: exit
  std::vector<Slot> slots = {encode(Op::jeq64_imm, 1, 0, 2, 0)};
  const auto wide = encode_lddw(2, 7);
  slots.insert(slots.end(), wide.begin(), wide.end());
  slots.push_back(encode(Op::call_local, 0, 1, 0, 1));
  slots.push_back(encode(Op::ja, 0, 0, -5, 0));
  slots.push_back(encode(Op::exit));
  auto program = decode(std::span<const Slot>(slots));
  ASSERT_TRUE(program.has_value()) << program.error().message;
  auto list = [&](size_t pc) {
    const Successors next = successors(*program, pc);
    return std::vector<int64_t>(next.begin(), next.end());
  };
  EXPECT_EQ(list(0), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(list(1), (std::vector<int64_t>{3}));
  EXPECT_EQ(list(2), (std::vector<int64_t>{}));  // lddw's second slot
  EXPECT_EQ(list(3), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(list(4), (std::vector<int64_t>{0}));
  EXPECT_EQ(list(5), (std::vector<int64_t>{}));
}

}  // namespace
}  // namespace bpfkit::isa
