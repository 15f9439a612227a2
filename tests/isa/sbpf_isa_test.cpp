// The sBPF side of module isa: version profiles, Murmur3-32, which row each
// version gives an opcode byte, and the production verifier's rules.
#include <gtest/gtest.h>

#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit {
namespace {

using isa::Op;
using isa::Slot;

Slot slot(uint8_t code, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
  Slot s;
  s.code = code;
  s.set_dst(dst);
  s.set_src(src);
  s.off = off;
  s.imm = imm;
  return s;
}

const Slot kExit = slot(0x95);

const isa::Dialect& version(int v) { return *isa::sbpf_dialect(static_cast<uint32_t>(v)); }

// The verifier's error name for a program, or "" when it is accepted.
std::string verdict(std::vector<Slot> slots, int v) {
  auto program = isa::decode(std::span<const Slot>(slots), version(v));
  return program ? "" : std::string(program.error().name());
}

TEST(SbpfIsa, Murmur3MatchesTheLoadersKeys) {
  EXPECT_EQ(isa::murmur3_32(std::string_view("entrypoint")), 0x71e3cf81u);
  EXPECT_EQ(isa::murmur3_32(std::string_view("")), 0u);
  // Reference values of MurmurHash3_x86_32 with seed 0.
  EXPECT_EQ(isa::murmur3_32(std::string_view("a")), 0x3c2569b2u);
  EXPECT_EQ(isa::murmur3_32(std::string_view("abcd")), 0x43ed676au);
  EXPECT_EQ(isa::murmur3_32(std::string_view("Hello, world!")), 0xc0363e43u);
  const uint8_t pc_bytes[8] = {5, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(isa::sbpf_pc_key(5), isa::murmur3_32(std::span<const uint8_t>(pc_bytes)));
}

TEST(SbpfIsa, DialectsByVersion) {
  for (uint32_t v = 0; v <= 3; ++v) {
    const isa::Dialect* dialect = isa::sbpf_dialect(v);
    ASSERT_NE(dialect, nullptr);
    EXPECT_EQ(dialect->family, isa::Family::Sbpf);
    EXPECT_EQ(dialect->sbpf_version, v);
    EXPECT_EQ(dialect->max_call_depth, 64u);
    EXPECT_EQ(dialect->stack_frame_size, 4096u);
  }
  EXPECT_EQ(isa::sbpf_dialect(4), nullptr);
  EXPECT_TRUE(isa::kSbpfV0.sbpf.stack_frame_gaps);
  EXPECT_TRUE(isa::kSbpfV1.sbpf.manual_stack_frame_bump);
  EXPECT_TRUE(isa::kSbpfV2.sbpf.enable_pqr && isa::kSbpfV2.sbpf.move_memory_classes);
  EXPECT_FALSE(isa::kSbpfV3.sbpf.enable_pqr || isa::kSbpfV3.sbpf.disable_lddw);
  EXPECT_TRUE(isa::kSbpfV3.sbpf.static_syscalls && isa::kSbpfV3.sbpf.enable_jmp32);
}

TEST(SbpfIsa, SbpfRowsStayOutOfLinuxLookups) {
  EXPECT_EQ(isa::lookup(slot(0x2c, 1, 2)), Op::mul32_reg);
  EXPECT_EQ(isa::lookup(slot(0x2c, 1, 2), isa::kLinuxV4), Op::mul32_reg);
  EXPECT_EQ(isa::lookup(slot(0x36, 1, 0, 0, 3)), Op::jge32_imm);
  EXPECT_EQ(isa::lookup(slot(0xf7, 1)), std::nullopt);
}

struct ByteCase {
  Slot slot;
  std::optional<Op> v0, v2, v3;
};

TEST(SbpfIsa, EachVersionGivesTheOpcodeByteItsRow) {
  const std::vector<ByteCase> cases = {
      {slot(0x2c, 1, 2), Op::mul32_reg, Op::sbpf_ldxb, Op::mul32_reg},
      {slot(0x71, 1, 2), Op::ldxb, std::nullopt, Op::ldxb},
      {slot(0x27, 1, 0, 0, 3), Op::mul64_imm, Op::sbpf_stb, Op::mul64_imm},
      {slot(0x9f, 1, 2), Op::mod64_reg, Op::sbpf_stxdw, Op::mod64_reg},
      {slot(0x36, 1, 0, 0, 3), std::nullopt, Op::uhmul64_imm, Op::jge32_imm},
      {slot(0xde, 1, 2), std::nullopt, Op::sdiv64_pqr_reg, Op::jsle32_reg},
      {slot(0xf7, 1, 0, 0, 3), std::nullopt, Op::hor64_imm, std::nullopt},
      {slot(0x18, 1), Op::lddw, std::nullopt, Op::lddw},
      {slot(0x87, 1), Op::neg64, Op::sbpf_stw, Op::neg64},
      {slot(0xd4, 1, 0, 0, 32), Op::le32, std::nullopt, Op::le32},
      {slot(0xdc, 1, 0, 0, 16), Op::be16, Op::be16, Op::be16},
      {slot(0x85, 0, 0, 0, 7), Op::call, Op::call, Op::call},
      {slot(0x85, 0, 1, 0, 7), Op::call, Op::call, Op::call_local},
      {slot(0x85, 0, 2, 0, 7), Op::call, Op::call, std::nullopt},
      {slot(0xd7, 1, 0, 0, 16), std::nullopt, std::nullopt, std::nullopt},  // bswap: Linux v4 only
      {slot(0xdb, 1, 2), std::nullopt, std::nullopt, std::nullopt},         // atomics: none in sBPF
      {slot(0x3f, 1, 2, 1), Op::div64_reg, Op::sbpf_stxh, Op::div64_reg},   // off never selects sdiv
      {slot(0xbf, 1, 2, 8), Op::mov64_reg, Op::mov64_reg, Op::mov64_reg},   // nor movsx
      {slot(0x06, 0, 0, 0, 4), std::nullopt, std::nullopt, std::nullopt},   // gotol
  };
  for (const ByteCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "code 0x" << std::hex << int{c.slot.code});
    EXPECT_EQ(isa::lookup(c.slot, isa::kSbpfV0), c.v0);
    EXPECT_EQ(isa::lookup(c.slot, isa::kSbpfV1), c.v0);  // v1 changes frames only
    EXPECT_EQ(isa::lookup(c.slot, isa::kSbpfV2), c.v2);
    EXPECT_EQ(isa::lookup(c.slot, isa::kSbpfV3), c.v3);
  }
}

TEST(SbpfIsa, EverySbpfRowBelongsToTheVersionsThatHaveIt) {
  int rows = 0;
  for (const isa::OpInfo& row : isa::kOps) {
    if (isa::is_linux(row)) continue;
    ++rows;
    SCOPED_TRACE(row.id);
    const Slot s = slot(row.code, 1, 2, 0, 1);
    EXPECT_EQ(isa::lookup(s, isa::kSbpfV2), row.op);
    EXPECT_NE(isa::lookup(s, isa::kSbpfV0), row.op);
    EXPECT_NE(isa::lookup(s, isa::kSbpfV3), row.op);
  }
  EXPECT_EQ(rows, 37);
}

TEST(SbpfIsa, VerifierAcceptsAPlainProgram) {
  EXPECT_EQ(verdict({slot(0xb7, 0, 0, 0, 42), kExit}, 0), "");
  EXPECT_EQ(verdict({slot(0x18, 0, 0, 0, 1), slot(0, 0, 0, 0, 2), kExit}, 3), "");
}

TEST(SbpfIsa, VerifierRejectsWhatTheProductionVerifierRejects) {
  EXPECT_EQ(verdict({}, 0), "NoProgram");
  EXPECT_EQ(verdict({slot(0x8c, 1, 2), kExit}, 0), "UnknownOpCode");         // v2's ldxw in v0
  EXPECT_EQ(verdict({slot(0x61, 1, 2), kExit}, 2), "UnknownOpCode");         // v0's ldxw in v2
  EXPECT_EQ(verdict({slot(0x18, 1), slot(0), kExit}, 2), "UnknownOpCode");   // no lddw in v2
  EXPECT_EQ(verdict({slot(0x87, 1), kExit}, 3), "");                         // neg: fine in v3
  EXPECT_EQ(verdict({slot(0x84, 1), kExit}, 2), "UnknownOpCode");            // no neg32 in v2
  EXPECT_EQ(verdict({slot(0xd4, 1, 0, 0, 16), kExit}, 2), "UnknownOpCode");  // no le in v2
  EXPECT_EQ(verdict({slot(0xdc, 1, 0, 0, 15), kExit}, 0), "UnsupportedLEBEArgument");
  EXPECT_EQ(verdict({slot(0x16, 1, 0, 1, 0), kExit}, 0), "UnknownOpCode");  // jmp32 before v3
  EXPECT_EQ(verdict({slot(0x16, 1, 0, 0, 0), kExit}, 3), "");               // jeq32 in v3
  EXPECT_EQ(verdict({slot(0x37, 1, 0, 0, 0), kExit}, 0), "DivisionByZero");
  EXPECT_EQ(verdict({slot(0x96, 1, 0, 0, 0), kExit}, 2), "");                // lmul: no division
  EXPECT_EQ(verdict({slot(0xe6, 1, 0, 0, 0), kExit}, 2), "DivisionByZero");  // srem32 imm 0
  EXPECT_EQ(verdict({slot(0x3f, 1, 2), kExit}, 0), "");                      // by a register: run time
  EXPECT_EQ(verdict({slot(0x64, 1, 0, 0, 32), kExit}, 0), "ShiftWithOverflow");
  EXPECT_EQ(verdict({slot(0x67, 1, 0, 0, 63), kExit}, 0), "");
  EXPECT_EQ(verdict({slot(0x77, 1, 0, 0, -1), kExit}, 0), "ShiftWithOverflow");
  EXPECT_EQ(verdict({slot(0x18, 1)}, 0), "LDDWCannotBeLast");
  EXPECT_EQ(verdict({slot(0x18, 1), slot(0x95), kExit}, 0), "IncompleteLDDW");
  EXPECT_EQ(verdict({slot(0x05, 0, 0, 5), kExit}, 0), "JumpOutOfCode");
  EXPECT_EQ(verdict({slot(0x05, 0, 0, -2), kExit}, 0), "JumpOutOfCode");
  EXPECT_EQ(verdict({slot(0x05, 0, 0, 1), slot(0x18, 1), slot(0), kExit}, 0), "JumpToMiddleOfLDDW");
  EXPECT_EQ(verdict({slot(0xbf, 1, 11), kExit}, 0), "InvalidSourceRegister");
  EXPECT_EQ(verdict({slot(0x95, 0, 12)}, 0), "InvalidSourceRegister");  // even where src is unused
  EXPECT_EQ(verdict({slot(0xb7, 11, 0), kExit}, 0), "InvalidDestinationRegister");
  EXPECT_EQ(verdict({slot(0xb7, 10, 0), kExit}, 0), "CannotWriteR10");
  EXPECT_EQ(verdict({slot(0x15, 10, 0, 0, 0), kExit}, 0), "CannotWriteR10");  // any non-store with dst r10
  EXPECT_EQ(verdict({slot(0x7b, 10, 1, -8), kExit}, 0), "");                  // stores through r10 are fine
  EXPECT_EQ(verdict({slot(0x85, 0, 1, 0, 5), kExit}, 3), "InvalidFunction");
  EXPECT_EQ(verdict({slot(0x85, 0, 1, 0, 0), kExit}, 3), "");
}

TEST(SbpfIsa, StackPointerAdjustmentNeedsDynamicFramesAndAlignment) {
  const Slot bump = slot(0x07, 10, 0, 0, -64);
  EXPECT_EQ(verdict({bump, kExit}, 0), "CannotWriteR10");
  EXPECT_EQ(verdict({bump, kExit}, 1), "");
  EXPECT_EQ(verdict({bump, kExit}, 2), "");
  EXPECT_EQ(verdict({bump, kExit}, 3), "CannotWriteR10");
  EXPECT_EQ(verdict({slot(0x07, 10, 0, 0, -60), kExit}, 1), "UnalignedImmediate");
}

TEST(SbpfIsa, CallxRegisterFieldDependsOnTheVersion) {
  EXPECT_EQ(verdict({slot(0x8d, 0, 0, 0, 3), kExit}, 0), "");
  EXPECT_EQ(verdict({slot(0x8d, 0, 0, 0, 10), kExit}, 0), "InvalidRegister");
  EXPECT_EQ(verdict({slot(0x8d, 0, 3, 0, 0), kExit}, 2), "");
  EXPECT_EQ(verdict({slot(0x8d, 0, 10, 0, 0), kExit}, 2), "InvalidRegister");
  EXPECT_EQ(verdict({slot(0x8d, 3, 0, 0, 0), kExit}, 3), "");
  EXPECT_EQ(verdict({slot(0x8d, 10, 0, 0, 0), kExit}, 3), "InvalidRegister");
}

TEST(SbpfIsa, ErrorsNameThePc) {
  auto program = isa::decode(std::vector<Slot>{slot(0xb7, 0), slot(0xb7, 0), slot(0xff), kExit}, isa::kSbpfV0);
  ASSERT_FALSE(program);
  ASSERT_TRUE(program.error().location.pc.has_value());
  EXPECT_EQ(*program.error().location.pc, 2u);
  const std::vector<uint8_t> ragged(12, 0);
  auto truncated = isa::decode(std::span<const uint8_t>(ragged), isa::kSbpfV0);
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().name(), "ProgramLengthNotMultiple");
}

}  // namespace
}  // namespace bpfkit
