// The assembler in each dialect: the text the disassembler prints for a
// dialect (Linux, sBPF v0..v3) assembles back, in that dialect, to the same
// bytes. Every row the dialect has and seeded random instructions of each,
// in pseudo-C and in GNU normal syntax; and the sBPF encodings the Linux
// rows do not have (v2's moved loads and stores, hor64, the PQR class; v3's
// static syscalls; callx's register by version).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/isa.hpp"
#include "test_support.hpp"

namespace bpfkit::assembly {
namespace {

using isa::Op;
using isa::OpInfo;
using isa::Shape;
using isa::Slot;

const isa::Dialect* const kDialects[] = {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2, &isa::kSbpfV3};

// A row is the dialect's when the dialect decodes the row's own encoding as
// that row (sBPF tells rows apart by the opcode byte).
bool has_row(const isa::Dialect& dialect, Op op) {
  if (dialect.family == isa::Family::Linux) return isa::is_linux(isa::info(op));
  return isa::lookup(isa::encode(op), dialect) == op;
}

// Rows whose one-instruction text reads back as another row in every
// assembler (see asm_roundtrip_test.cpp): `call 0x1` is a helper call.
// ld_pseudo rows print as `lddw` in GNU syntax.
bool skipped(const OpInfo& row, Syntax syntax) {
  if (row.op == Op::call_local || row.op == Op::call_kfunc) return true;
  return syntax == Syntax::Normal && row.shape == Shape::Lddw && row.op != Op::lddw;
}

std::string hex_of(std::span<const Slot> slots) {
  std::string out;
  for (uint8_t byte : isa::to_bytes(slots)) {
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", byte);
    out += digits;
  }
  return out;
}

Assembly assemble_in(std::string_view text, const isa::Dialect& dialect, Syntax syntax = Syntax::Auto) {
  AssembleOptions options;
  options.syntax = syntax;
  options.input_name = "dialect.s";
  options.dialect = dialect;
  return assemble(text, options);
}

using Fields = test::SampleFields;

// The instruction of `row` in `dialect`, with the fields its shape uses.
std::vector<Slot> instruction(const OpInfo& row, const Fields& f, const isa::Dialect& dialect) {
  return test::sample_instruction(row.op, f, dialect);
}

// "" when the text printed for `insn` in `dialect` reads back as its bytes.
std::string mismatch(std::span<const Slot> insn, const isa::Dialect& dialect, Syntax syntax) {
  const std::string text = format_instruction(insn, 0, syntax, dialect);
  const Op op = *isa::lookup(insn[0], dialect);
  // Rows GNU cannot spell print in pseudo-C: only Auto reads them then.
  const Syntax reader = syntax == Syntax::Normal && isa::info(op).gnu.empty() ? Syntax::Auto : syntax;
  const Assembly assembly = assemble_in(text, dialect, reader);
  std::string got;
  for (const Error& error : assembly.errors) got += format_diagnostic(error, text);
  if (assembly.ok()) {
    const std::vector<Slot> slots = section_slots(assembly.object);
    if (std::ranges::equal(slots, insn)) return "";
    got = hex_of(slots);
  }
  return std::string(dialect.name) + " " + std::string(isa::info(op).id) + " " + hex_of(insn) + ": \"" + text +
         "\" -> " + got;
}

Fields random_fields(std::mt19937_64& random) {
  Fields f;
  f.dst = static_cast<uint8_t>(random() % 11);
  f.src = static_cast<uint8_t>(random() % 11);
  f.off = static_cast<int16_t>(random());
  f.imm = static_cast<int32_t>(random());
  f.imm64 = random();
  return f;
}

TEST(AsmDialect, EveryRowOfEveryDialectRoundTrips) {
  for (const isa::Dialect* dialect : kDialects) {
    size_t rows = 0;
    for (const OpInfo& row : isa::kOps) {
      if (!has_row(*dialect, row.op)) continue;
      ++rows;
      for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
        if (skipped(row, syntax)) continue;
        for (uint8_t i = 0; i < 11; ++i) {
          const Fields f{.dst = i,
                         .src = static_cast<uint8_t>(10 - i),
                         .off = static_cast<int16_t>(i * 8 - 40),
                         .imm = i * 1000 - 5000,
                         .imm64 = 0x123456789abcdef0ull * i};
          const std::vector<Slot> insn = instruction(row, f, *dialect);
          if (std::string why = mismatch(insn, *dialect, syntax); !why.empty()) ADD_FAILURE() << why;
        }
      }
    }
    EXPECT_GT(rows, 60u) << dialect->name;
  }
}

TEST(AsmDialect, RandomInstructionsOfEveryDialectRoundTrip) {
  std::mt19937_64 random(20261204);
  for (const isa::Dialect* dialect : kDialects) {
    std::vector<const OpInfo*> rows;
    for (const OpInfo& row : isa::kOps)
      if (has_row(*dialect, row.op)) rows.push_back(&row);
    size_t failures = 0;
    for (int i = 0; i < 3000 && failures < 10; ++i) {
      const OpInfo& row = *rows[random() % rows.size()];
      const Syntax syntax = i % 2 ? Syntax::PseudoC : Syntax::Normal;
      if (skipped(row, syntax)) continue;
      const std::vector<Slot> insn = instruction(row, random_fields(random), *dialect);
      if (std::string why = mismatch(insn, *dialect, syntax); !why.empty()) {
        ADD_FAILURE() << why;
        ++failures;
      }
    }
  }
}

// The encoding a text gets in `dialect`, as hex (or the first error).
std::string encoded(std::string_view text, const isa::Dialect& dialect) {
  const Assembly assembly = assemble_in(text, dialect);
  if (!assembly.ok()) return "error: " + assembly.errors[0].message;
  return hex_of(section_slots(assembly.object));
}

TEST(AsmDialect, V2LoadsAndStoresNeverTakeTheLinuxEncoding) {
  // Linux ldxb is 0x71; v2 moved it to 0x2c (and stxdw from 0x7b to 0x9f).
  EXPECT_EQ(encoded("w1 = *(u8 *)(r2 + 4)", isa::kLinuxV4), "7121040000000000");
  EXPECT_EQ(encoded("w1 = *(u8 *)(r2 + 4)", isa::kSbpfV2), "2c21040000000000");
  EXPECT_EQ(encoded("r1 = *(u8 *)(r2 + 4)", isa::kSbpfV2), "2c21040000000000");
  EXPECT_EQ(encoded("ldxb %r1, [%r2+4]", isa::kSbpfV2), "2c21040000000000");
  EXPECT_EQ(encoded("*(u64 *)(r10 - 8) = r1", isa::kSbpfV2), "9f1af8ff00000000");
  EXPECT_EQ(encoded("stxdw [%r10-8], %r1", isa::kSbpfV2), "9f1af8ff00000000");
  EXPECT_EQ(encoded("ldxb %r1, [%r2+4]", isa::kSbpfV1), "7121040000000000");
}

TEST(AsmDialect, RowsADialectLacksAreRefused) {
  EXPECT_EQ(encoded("r1 = 5 ll", isa::kSbpfV2), "error: lddw (lddw) is not in the sbpf-v2 dialect");
  EXPECT_EQ(encoded("lddw %r1, 5", isa::kSbpfV2), "error: lddw (lddw) is not in the sbpf-v2 dialect");
  EXPECT_EQ(encoded("neg %r1", isa::kSbpfV2), "error: neg (neg64) is not in the sbpf-v2 dialect");
  EXPECT_EQ(encoded("r1 s/= r2", isa::kSbpfV1), "error: sdiv64 (sdiv64_pqr_reg) is not in the sbpf-v1 dialect");
  EXPECT_EQ(encoded("r1 uhmul= 3", isa::kSbpfV1), "error: uhmul64 (uhmul64_imm) is not in the sbpf-v1 dialect");
  EXPECT_EQ(encoded("if w1 > 2 goto +1", isa::kSbpfV1), "error: jgt32 (jgt32_imm) is not in the sbpf-v1 dialect");
  EXPECT_EQ(encoded("if w1 > 2 goto +1", isa::kSbpfV3), "2601010002000000");
}

TEST(AsmDialect, V2PqrAndHor64) {
  EXPECT_EQ(encoded("r1 |= 0x5 << 32", isa::kSbpfV2), "f701000005000000");
  EXPECT_EQ(encoded("hor64 %r1, 5", isa::kSbpfV2), "f701000005000000");
  EXPECT_EQ(encoded("r1 |= 5", isa::kSbpfV2), "4701000005000000");
  EXPECT_EQ(encoded("r1 *= r2", isa::kSbpfV2), "9e21000000000000");     // lmul64
  EXPECT_EQ(encoded("r1 *= r2", isa::kSbpfV1), "2f21000000000000");     // mul64
  EXPECT_EQ(encoded("r1 uhmul= 3", isa::kSbpfV2), "3601000003000000");  // uhmul64
  EXPECT_EQ(encoded("urem32 %r1, %r2", isa::kSbpfV2), "6e21000000000000");
  EXPECT_EQ(encoded("r1 |= 5 << 32", isa::kLinuxV4), "error: immediate 21474836480 does not fit in 32 bits");
}

TEST(AsmDialect, CallxRegisterByVersion) {
  EXPECT_EQ(encoded("callx r3", isa::kLinuxV4), "8d03000000000000");
  EXPECT_EQ(encoded("callx r3", isa::kSbpfV0), "8d00000003000000");
  EXPECT_EQ(encoded("callx r3", isa::kSbpfV1), "8d00000003000000");
  EXPECT_EQ(encoded("callx r3", isa::kSbpfV2), "8d30000000000000");
  EXPECT_EQ(encoded("callx r3", isa::kSbpfV3), "8d03000000000000");
}

TEST(AsmDialect, V3StaticSyscallsAndRelativeCalls) {
  // A call to a symbol defined nowhere is a syscall: v3 writes its hash.
  const Assembly v3 = assemble_in("call sol_log_\nexit\n", isa::kSbpfV3);
  ASSERT_TRUE(v3.ok()) << v3.errors[0].message;
  EXPECT_TRUE(v3.object.relocations.empty());
  const std::vector<Slot> slots = section_slots(v3.object);
  EXPECT_EQ(slots[0], isa::encode(Op::call, 0, 0, 0, static_cast<int32_t>(isa::murmur3_32("sol_log_"))));
  // Earlier versions leave it to the loader, through a relocation.
  const Assembly v1 = assemble_in("call sol_log_\nexit\n", isa::kSbpfV1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1.object.relocations.size(), 1u);
  // A local call is pc-relative, src 1.
  EXPECT_EQ(encoded("call f\nexit\nf:\nexit\n", isa::kSbpfV3),
            "8510000001000000"
            "9500000000000000"
            "9500000000000000");
  // A far goto has no gotol in sBPF: an error, not a Linux-only encoding.
  std::string far = "goto end\n";
  for (int i = 0; i < 40000; ++i) far += "exit\n";
  far += "end:\nexit\n";
  EXPECT_NE(encoded(far, isa::kLinuxV4), "");
  EXPECT_EQ(encoded(far, isa::kSbpfV3), "error: jump offset 40000 does not fit in 16 bits (-32768..32767)");
}

}  // namespace
}  // namespace bpfkit::assembly
