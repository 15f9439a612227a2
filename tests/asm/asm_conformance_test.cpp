// Module asm, conformance dialect: every instruction shape of the bpf_conformance
// assembly text, the errors with their input:line:column, the `.data` file
// parser, and every file of the shared corpus.
//
// Expected slots are built with isa::encode from hand-written Op names, never
// from the table's `conf` column, so a wrong mnemonic in the table shows up.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

// Found by argument-dependent lookup: failures print fields, not bytes.
// Internal linkage, so other test files may define their own.
[[maybe_unused]] static void PrintTo(const Slot& slot, std::ostream* os) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "{code=0x%02x dst=%u src=%u off=%d imm=%d}", slot.code, slot.dst(), slot.src(),
                slot.off, slot.imm);
  *os << buf;
}

}  // namespace bpfkit::isa

namespace bpfkit::assembly {
namespace {

using isa::encode;
using isa::Op;
using isa::Slot;
using Slots = std::vector<Slot>;

// ---- Helpers ----------------------------------------------------------------

// Assembles text that must be valid; a failure shows the assembler's message.
Slots Assemble(std::string_view source) {
  auto slots = assemble_conformance(source);
  EXPECT_TRUE(slots) << to_string(slots.error());
  return slots ? *slots : Slots{};
}

void ExpectAssembles(std::string_view source, const Slots& expected) {
  SCOPED_TRACE(testing::Message() << "source: " << source);
  EXPECT_EQ(Assemble(source), expected);
}

Slots Lddw(uint8_t dst, uint64_t imm64) {
  const auto pair = isa::encode_lddw(dst, imm64);
  return {pair[0], pair[1]};
}

// Checks an Expected failed with a text location. Returns an AssertionResult
// so that a failure names the caller's line.
template <class T>
testing::AssertionResult FailedAt(const Expected<T>& result, std::string_view input, uint32_t line, uint32_t column,
                                  std::string_view needle) {
  if (result) return testing::AssertionFailure() << "accepted the input";
  const Error& error = result.error();
  const std::string shown = to_string(error);
  if (error.code != Errc::BadOperand)
    return testing::AssertionFailure() << "code is " << errc_name(error.code) << " (" << shown << ")";
  if (error.location.input != input || error.location.line != line || error.location.column != column)
    return testing::AssertionFailure() << "location is " << error.location.input << ":" << error.location.line << ":"
                                       << error.location.column << ", want " << input << ":" << line << ":" << column
                                       << " (" << shown << ")";
  if (error.message.find(needle) == std::string::npos)
    return testing::AssertionFailure() << "message '" << error.message << "' lacks '" << needle << "'";
  return testing::AssertionSuccess();
}

// Assembles source named "t.s" that must fail at line:column.
testing::AssertionResult AsmFailsAt(std::string_view source, uint32_t line, uint32_t column, std::string_view needle) {
  return FailedAt(assemble_conformance(source, "t.s"), "t.s", line, column, needle);
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    lines.emplace_back(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  return lines;
}

ConformanceTest Parse(std::string_view text) {
  auto test = parse_conformance_test(text, "t.data");
  EXPECT_TRUE(test) << to_string(test.error());
  return test ? *test : ConformanceTest{};
}

// ---- Instruction shapes --------------------------------------------------------

struct AluPair {
  std::string_view mnemonic;
  Op reg, imm;
};

TEST(AsmConformance, AluRegisterAndImmediate64) {
  const AluPair ops[] = {
      {"add", Op::add64_reg, Op::add64_imm},    {"sub", Op::sub64_reg, Op::sub64_imm},
      {"mul", Op::mul64_reg, Op::mul64_imm},    {"div", Op::div64_reg, Op::div64_imm},
      {"sdiv", Op::sdiv64_reg, Op::sdiv64_imm}, {"or", Op::or64_reg, Op::or64_imm},
      {"and", Op::and64_reg, Op::and64_imm},    {"lsh", Op::lsh64_reg, Op::lsh64_imm},
      {"rsh", Op::rsh64_reg, Op::rsh64_imm},    {"mod", Op::mod64_reg, Op::mod64_imm},
      {"smod", Op::smod64_reg, Op::smod64_imm}, {"xor", Op::xor64_reg, Op::xor64_imm},
      {"mov", Op::mov64_reg, Op::mov64_imm},    {"arsh", Op::arsh64_reg, Op::arsh64_imm},
  };
  for (const AluPair& op : ops) {
    ExpectAssembles(std::string(op.mnemonic) + " %r3, %r4", {encode(op.reg, 3, 4)});
    ExpectAssembles(std::string(op.mnemonic) + " %r3, -7", {encode(op.imm, 3, 0, 0, -7)});
    ExpectAssembles(std::string(op.mnemonic) + " %r10, 0x10", {encode(op.imm, 10, 0, 0, 16)});
  }
}

TEST(AsmConformance, AluRegisterAndImmediate32) {
  const AluPair ops[] = {
      {"add32", Op::add32_reg, Op::add32_imm},    {"sub32", Op::sub32_reg, Op::sub32_imm},
      {"mul32", Op::mul32_reg, Op::mul32_imm},    {"div32", Op::div32_reg, Op::div32_imm},
      {"sdiv32", Op::sdiv32_reg, Op::sdiv32_imm}, {"or32", Op::or32_reg, Op::or32_imm},
      {"and32", Op::and32_reg, Op::and32_imm},    {"lsh32", Op::lsh32_reg, Op::lsh32_imm},
      {"rsh32", Op::rsh32_reg, Op::rsh32_imm},    {"mod32", Op::mod32_reg, Op::mod32_imm},
      {"smod32", Op::smod32_reg, Op::smod32_imm}, {"xor32", Op::xor32_reg, Op::xor32_imm},
      {"mov32", Op::mov32_reg, Op::mov32_imm},    {"arsh32", Op::arsh32_reg, Op::arsh32_imm},
  };
  for (const AluPair& op : ops) {
    ExpectAssembles(std::string(op.mnemonic) + " %r0, %r9", {encode(op.reg, 0, 9)});
    ExpectAssembles(std::string(op.mnemonic) + " %r0, 123", {encode(op.imm, 0, 0, 0, 123)});
  }
}

TEST(AsmConformance, ImmediateBoundsOf32Bits) {
  // Both the signed and the unsigned reading of 32 bits are accepted.
  ExpectAssembles("mov %r0, 0xffffffff", {encode(Op::mov64_imm, 0, 0, 0, -1)});
  ExpectAssembles("mov %r0, 4294967295", {encode(Op::mov64_imm, 0, 0, 0, -1)});
  ExpectAssembles("mov32 %r0, -2147483648", {encode(Op::mov32_imm, 0, 0, 0, INT32_MIN)});
  ExpectAssembles("mov %r0, 0x7fffffff", {encode(Op::mov64_imm, 0, 0, 0, INT32_MAX)});
  ExpectAssembles("mov %r0, +5", {encode(Op::mov64_imm, 0, 0, 0, 5)});
}

TEST(AsmConformance, NegAndSignExtendingMoves) {
  ExpectAssembles("neg %r3", {encode(Op::neg64, 3)});
  ExpectAssembles("neg32 %r9", {encode(Op::neg32, 9)});
  ExpectAssembles("movsx864 %r0, %r1", {encode(Op::movsx8_64, 0, 1)});
  ExpectAssembles("movsx1664 %r0, %r1", {encode(Op::movsx16_64, 0, 1)});
  ExpectAssembles("movsx3264 %r0, %r1", {encode(Op::movsx32_64, 0, 1)});
  ExpectAssembles("movsx832 %r2, %r3", {encode(Op::movsx8_32, 2, 3)});
  ExpectAssembles("movsx1632 %r2, %r3", {encode(Op::movsx16_32, 2, 3)});
  // The width lands in off, as RFC 9669 says.
  EXPECT_EQ(Assemble("movsx1632 %r0, %r1"), (Slots{Slot{.code = 0xbc, .regs = 0x10, .off = 16}}));
}

TEST(AsmConformance, ByteSwaps) {
  const std::pair<std::string_view, Op> swaps[] = {
      {"le16", Op::le16},       {"le32", Op::le32},      {"le64", Op::le64},       {"be16", Op::be16},
      {"be32", Op::be32},       {"be64", Op::be64},      {"bswap16", Op::bswap16}, {"bswap32", Op::bswap32},
      {"bswap64", Op::bswap64}, {"swap16", Op::bswap16}, {"swap32", Op::bswap32},  {"swap64", Op::bswap64},
  };
  for (const auto& [mnemonic, op] : swaps) ExpectAssembles(std::string(mnemonic) + " %r5", {encode(op, 5)});
  EXPECT_EQ(Assemble("bswap64 %r1"), (Slots{Slot{.code = 0xd7, .regs = 0x01, .imm = 64}}));
  EXPECT_EQ(Assemble("be16 %r1"), (Slots{Slot{.code = 0xdc, .regs = 0x01, .imm = 16}}));
}

TEST(AsmConformance, Lddw) {
  ExpectAssembles("lddw %r0, 0x1122334455667788", Lddw(0, 0x1122334455667788));
  ExpectAssembles("lddw %r1, 5", Lddw(1, 5));
  ExpectAssembles("lddw %r2, -1", Lddw(2, 0xffffffffffffffff));
  ExpectAssembles("lddw %r3, 0xffffffffffffffff", Lddw(3, 0xffffffffffffffff));
  ExpectAssembles("lddw %r4, -2", Lddw(4, 0xfffffffffffffffe));
  ExpectAssembles("lddw %r5, -9223372036854775808", Lddw(5, 0x8000000000000000));
  ExpectAssembles("lddw %r6, 0x80000000", Lddw(6, 0x80000000));
  // Two slots: a label after an lddw counts both.
  ExpectAssembles("ja next\nlddw %r0, 1\nnext:\nexit",
                  {encode(Op::ja, 0, 0, 2), Lddw(0, 1)[0], Lddw(0, 1)[1], encode(Op::exit)});
}

TEST(AsmConformance, Loads) {
  ExpectAssembles("ldxw %r0, [%r1+4]", {encode(Op::ldxw, 0, 1, 4)});
  ExpectAssembles("ldxh %r2, [%r3]", {encode(Op::ldxh, 2, 3, 0)});
  ExpectAssembles("ldxb %r4, [%r5+0x10]", {encode(Op::ldxb, 4, 5, 16)});
  ExpectAssembles("ldxdw %r6, [%r10-8]", {encode(Op::ldxdw, 6, 10, -8)});
  ExpectAssembles("ldxsw %r0, [%r1+2]", {encode(Op::ldxsw, 0, 1, 2)});
  ExpectAssembles("ldxsh %r0, [%r1-2]", {encode(Op::ldxsh, 0, 1, -2)});
  ExpectAssembles("ldxsb %r0, [%r1]", {encode(Op::ldxsb, 0, 1, 0)});
  ExpectAssembles("ldxw %r0, [%r1 + 4]", {encode(Op::ldxw, 0, 1, 4)});
  ExpectAssembles("ldxw %r0, [%r1+32767]", {encode(Op::ldxw, 0, 1, INT16_MAX)});
  ExpectAssembles("ldxw %r0, [%r1-32768]", {encode(Op::ldxw, 0, 1, INT16_MIN)});
  // Legacy packet loads: r0 and r6 are implicit.
  ExpectAssembles("ldabsw 4", {encode(Op::ldabsw, 0, 0, 0, 4)});
  ExpectAssembles("ldindh %r1, 2", {encode(Op::ldindh, 0, 1, 0, 2)});
}

TEST(AsmConformance, Stores) {
  ExpectAssembles("stw [%r1+2], 0x11", {encode(Op::stw, 1, 0, 2, 0x11)});
  ExpectAssembles("sth [%r10-2], -1", {encode(Op::sth, 10, 0, -2, -1)});
  ExpectAssembles("stb [%r1], 255", {encode(Op::stb, 1, 0, 0, 255)});
  ExpectAssembles("stdw [%r10-8], 0x7fffffff", {encode(Op::stdw, 10, 0, -8, INT32_MAX)});
  ExpectAssembles("stxw [%r10-8], %r0", {encode(Op::stxw, 10, 0, -8)});
  ExpectAssembles("stxh [%r1+6], %r2", {encode(Op::stxh, 1, 2, 6)});
  ExpectAssembles("stxb [%r1], %r3", {encode(Op::stxb, 1, 3, 0)});
  ExpectAssembles("stxdw [%r10-16], %r9", {encode(Op::stxdw, 10, 9, -16)});
}

TEST(AsmConformance, EveryLockForm) {
  const std::pair<std::string_view, Op> forms[] = {
      {"lock add", Op::atomic64_add},
      {"lock or", Op::atomic64_or},
      {"lock and", Op::atomic64_and},
      {"lock xor", Op::atomic64_xor},
      {"lock fetch add", Op::atomic64_fetch_add},
      {"lock fetch or", Op::atomic64_fetch_or},
      {"lock fetch and", Op::atomic64_fetch_and},
      {"lock fetch xor", Op::atomic64_fetch_xor},
      {"lock xchg", Op::atomic64_xchg},
      {"lock cmpxchg", Op::atomic64_cmpxchg},
      {"lock add32", Op::atomic32_add},
      {"lock or32", Op::atomic32_or},
      {"lock and32", Op::atomic32_and},
      {"lock xor32", Op::atomic32_xor},
      {"lock fetch add32", Op::atomic32_fetch_add},
      {"lock fetch or32", Op::atomic32_fetch_or},
      {"lock fetch and32", Op::atomic32_fetch_and},
      {"lock fetch xor32", Op::atomic32_fetch_xor},
      {"lock xchg32", Op::atomic32_xchg},
      {"lock cmpxchg32", Op::atomic32_cmpxchg},
  };
  for (const auto& [mnemonic, op] : forms)
    ExpectAssembles(std::string(mnemonic) + " [%r10-8], %r1", {encode(op, 10, 1, -8)});
  // Exact RFC 9669 bytes for two of them, and extra spaces between the words.
  EXPECT_EQ(Assemble("lock fetch add [%r10-8], %r1"),
            (Slots{Slot{.code = 0xdb, .regs = 0x1a, .off = -8, .imm = 0x01}}));
  EXPECT_EQ(Assemble("lock   cmpxchg32  [%r1], %r2"), (Slots{Slot{.code = 0xc3, .regs = 0x21, .imm = 0xf1}}));
}

TEST(AsmConformance, UnconditionalJumpsWithLabels) {
  const char* source =
      "ja forward\n"  // 0 -> 3
      "back:\n"
      "mov %r0, 1\n"  // 1
      "ja32 done\n"   // 2 -> 5
      "forward:\n"
      "ja back\n"    // 3 -> 1
      "ja32 back\n"  // 4 -> 1
      "done:\n"
      "exit\n";  // 5
  ExpectAssembles(source, {encode(Op::ja, 0, 0, 2), encode(Op::mov64_imm, 0, 0, 0, 1), encode(Op::gotol, 0, 0, 0, 2),
                           encode(Op::ja, 0, 0, -3), encode(Op::gotol, 0, 0, 0, -4), encode(Op::exit)});
}

TEST(AsmConformance, UnconditionalJumpsWithNumericOffsets) {
  ExpectAssembles("ja +2", {encode(Op::ja, 0, 0, 2)});
  ExpectAssembles("ja -1", {encode(Op::ja, 0, 0, -1)});
  ExpectAssembles("ja 5", {encode(Op::ja, 0, 0, 5)});
  ExpectAssembles("ja -32768", {encode(Op::ja, 0, 0, INT16_MIN)});
  ExpectAssembles("ja32 +70000", {encode(Op::gotol, 0, 0, 0, 70000)});
  ExpectAssembles("ja32 -70000", {encode(Op::gotol, 0, 0, 0, -70000)});
  ExpectAssembles("ja32 -2147483648", {encode(Op::gotol, 0, 0, 0, INT32_MIN)});
}

TEST(AsmConformance, EveryConditionalJumpWithImmAndReg) {
  const AluPair jumps[] = {
      {"jeq", Op::jeq64_reg, Op::jeq64_imm},      {"jgt", Op::jgt64_reg, Op::jgt64_imm},
      {"jge", Op::jge64_reg, Op::jge64_imm},      {"jset", Op::jset64_reg, Op::jset64_imm},
      {"jne", Op::jne64_reg, Op::jne64_imm},      {"jsgt", Op::jsgt64_reg, Op::jsgt64_imm},
      {"jsge", Op::jsge64_reg, Op::jsge64_imm},   {"jlt", Op::jlt64_reg, Op::jlt64_imm},
      {"jle", Op::jle64_reg, Op::jle64_imm},      {"jslt", Op::jslt64_reg, Op::jslt64_imm},
      {"jsle", Op::jsle64_reg, Op::jsle64_imm},   {"jeq32", Op::jeq32_reg, Op::jeq32_imm},
      {"jgt32", Op::jgt32_reg, Op::jgt32_imm},    {"jge32", Op::jge32_reg, Op::jge32_imm},
      {"jset32", Op::jset32_reg, Op::jset32_imm}, {"jne32", Op::jne32_reg, Op::jne32_imm},
      {"jsgt32", Op::jsgt32_reg, Op::jsgt32_imm}, {"jsge32", Op::jsge32_reg, Op::jsge32_imm},
      {"jlt32", Op::jlt32_reg, Op::jlt32_imm},    {"jle32", Op::jle32_reg, Op::jle32_imm},
      {"jslt32", Op::jslt32_reg, Op::jslt32_imm}, {"jsle32", Op::jsle32_reg, Op::jsle32_imm},
  };
  for (const AluPair& jump : jumps) {
    const std::string m(jump.mnemonic);
    ExpectAssembles(m + " %r1, 0x10, +3", {encode(jump.imm, 1, 0, 3, 16)});
    ExpectAssembles(m + " %r1, %r2, -2", {encode(jump.reg, 1, 2, -2)});
    // Through labels, forward and backward.
    ExpectAssembles("top:\n" + m + " %r3, -1, out\n" + m + " %r3, %r4, top\nout:\nexit",
                    {encode(jump.imm, 3, 0, 1, -1), encode(jump.reg, 3, 4, -2), encode(Op::exit)});
  }
}

TEST(AsmConformance, Calls) {
  ExpectAssembles("call 5", {encode(Op::call, 0, 0, 0, 5)});
  ExpectAssembles("call helper 5", {encode(Op::call, 0, 0, 0, 5)});
  ExpectAssembles("call runtime 9", {encode(Op::call_kfunc, 0, 0, 0, 9)});
  // callx carries its register in dst (as LLVM and the kernel encode it).
  ExpectAssembles("call %r2", {Slot{.code = 0x8d, .regs = 0x02}});
  EXPECT_EQ(Assemble("call %r2"), (Slots{encode(Op::callx, 2)}));
  ExpectAssembles("call local -3", {encode(Op::call_local, 0, 0, 0, -3)});
  const char* local =
      "call local f\n"  // 0 -> 2
      "exit\n"          // 1
      "f:\n"
      "mov %r0, 1\n"    // 2
      "call local f\n"  // 3 -> 2
      "exit\n";         // 4
  ExpectAssembles(local, {encode(Op::call_local, 0, 0, 0, 1), encode(Op::exit), encode(Op::mov64_imm, 0, 0, 0, 1),
                          encode(Op::call_local, 0, 0, 0, -2), encode(Op::exit)});
  EXPECT_EQ(Assemble("call local f\nf:\nexit").at(0), (Slot{.code = 0x85, .regs = 0x10, .imm = 0}));
}

TEST(AsmConformance, Exit) { ExpectAssembles("exit", {Slot{.code = 0x95}}); }

TEST(AsmConformance, ImplicitExitLabelIsTheFirstExit) {
  const char* source =
      "jeq %r1, 0, exit\n"  // 0 -> 2
      "mov %r0, 1\n"        // 1
      "exit\n"              // 2
      "mov %r0, 2\n"        // 3
      "ja exit\n"           // 4 -> 2
      "exit\n";             // 5
  ExpectAssembles(source, {encode(Op::jeq64_imm, 1, 0, 1, 0), encode(Op::mov64_imm, 0, 0, 0, 1), encode(Op::exit),
                           encode(Op::mov64_imm, 0, 0, 0, 2), encode(Op::ja, 0, 0, -3), encode(Op::exit)});
}

TEST(AsmConformance, DefinedExitLabelWinsOverTheImplicitOne) {
  const char* source =
      "ja exit\n"  // 0 -> 2, the label, not the exit at 1
      "exit\n"     // 1
      "exit:\n"
      "mov %r0, 2\n"  // 2
      "exit\n";       // 3
  ExpectAssembles(source,
                  {encode(Op::ja, 0, 0, 1), encode(Op::exit), encode(Op::mov64_imm, 0, 0, 0, 2), encode(Op::exit)});
}

TEST(AsmConformance, CommentsBlankLinesAndLabelsOnTheirOwnLine) {
  const char* source =
      "# a whole-line comment\n"
      "\n"
      "   \t\n"
      "start:   # a label with a comment\n"
      "  mov %r0, 1   # trailing comment\n"
      "// another comment style\n"
      "again:\n"
      "twice:\n"
      "\tadd %r0, 1 // trailing\n"
      "jne %r0, 3, again\n"
      "ja twice\n"
      "ja start\n"
      "exit";  // no final newline
  ExpectAssembles(
      source, {encode(Op::mov64_imm, 0, 0, 0, 1), encode(Op::add64_imm, 0, 0, 0, 1), encode(Op::jne64_imm, 0, 0, -2, 3),
               encode(Op::ja, 0, 0, -3), encode(Op::ja, 0, 0, -5), encode(Op::exit)});
  EXPECT_EQ(Assemble(""), Slots{});
  EXPECT_EQ(Assemble("# only a comment\n\n"), Slots{});
}

TEST(AsmConformance, CarriageReturnsAreIgnored) {
  ExpectAssembles("mov %r0, 1\r\nexit\r\n", {encode(Op::mov64_imm, 0, 0, 0, 1), encode(Op::exit)});
}

// ---- Errors: code, input name, line and column --------------------------------------

TEST(AsmConformanceErrors, DuplicateLabel) {
  EXPECT_TRUE(AsmFailsAt("a:\nexit\n  a:\nexit\n", 3, 3, "label 'a' is defined twice"));
}

TEST(AsmConformanceErrors, UndefinedLabel) {
  EXPECT_TRUE(AsmFailsAt("mov %r0, 0\n  jeq %r0, 0, nowhere\nexit\n", 2, 15, "undefined label 'nowhere'"));
  EXPECT_TRUE(AsmFailsAt("call local f\nexit\n", 1, 12, "undefined label 'f'"));
  // With no exit instruction and no label, `exit` is undefined too.
  EXPECT_TRUE(AsmFailsAt("mov %r0, 0\nja exit\n", 2, 4, "undefined label 'exit'"));
}

TEST(AsmConformanceErrors, BadLabelName) { EXPECT_TRUE(AsmFailsAt("exit\n 1abc:\n", 2, 2, "bad label name '1abc'")); }

TEST(AsmConformanceErrors, UnknownMnemonic) {
  EXPECT_TRUE(AsmFailsAt("exit\n\n  frob %r0, 1\n", 3, 3, "unknown mnemonic 'frob'"));
  EXPECT_TRUE(AsmFailsAt("lock %r0, 1\n", 1, 1, "unknown mnemonic 'lock'"));
}

TEST(AsmConformanceErrors, UnknownRegister) {
  EXPECT_TRUE(AsmFailsAt("mov %r0, 1\nmov %r11, 1\n", 2, 5, "unknown register r11"));
  EXPECT_TRUE(AsmFailsAt("add %r1,   %r15\n", 1, 12, "unknown register r15"));
  EXPECT_TRUE(AsmFailsAt("ldxw %r0, [%r11+4]\n", 1, 11, "unknown register r11"));
  EXPECT_TRUE(AsmFailsAt("call %r12\n", 1, 6, "unknown register r12"));
}

TEST(AsmConformanceErrors, WrongOperandCountOrKind) {
  // Reported at the mnemonic: no row of that name takes these operands.
  EXPECT_TRUE(AsmFailsAt("add %r1\n", 1, 1, "no form of 'add' takes these operands"));
  EXPECT_TRUE(AsmFailsAt("exit\n  exit %r0\n", 2, 3, "no form of 'exit'"));
  EXPECT_TRUE(AsmFailsAt("ja\n", 1, 1, "no form of 'ja'"));
  EXPECT_TRUE(AsmFailsAt("add %r1, %r2, %r3\n", 1, 1, "no form of 'add'"));
  EXPECT_TRUE(AsmFailsAt("ldxw %r0, %r1\n", 1, 1, "no form of 'ldxw'"));
  EXPECT_TRUE(AsmFailsAt("stw [%r1], %r2\n", 1, 1, "no form of 'stw'"));
  EXPECT_TRUE(AsmFailsAt("mov 1, %r0\n", 1, 1, "no form of 'mov'"));
  EXPECT_TRUE(AsmFailsAt("  lock fetch add %r1, [%r2]\n", 1, 3, "no form of 'lock fetch add'"));
  EXPECT_TRUE(AsmFailsAt("jeq %r1, 1\n", 1, 1, "no form of 'jeq'"));
}

TEST(AsmConformanceErrors, UnreadableOperand) {
  EXPECT_TRUE(AsmFailsAt("mov %r0, 12abc\n", 1, 10, "cannot read operand '12abc'"));
  EXPECT_TRUE(AsmFailsAt("ldxw %r0, [%r1+4\n", 1, 11, "cannot read operand"));
  EXPECT_TRUE(AsmFailsAt("mov %r0,\n", 1, 8, "expected an operand after ','"));
  EXPECT_TRUE(AsmFailsAt("mov , %r0\n", 1, 5, "expected an operand"));
}

TEST(AsmConformanceErrors, ImmediateTooLargeFor32Bits) {
  EXPECT_TRUE(AsmFailsAt("mov %r0, 0x100000000\n", 1, 10, "immediate does not fit in 32 bits"));
  EXPECT_TRUE(AsmFailsAt("exit\n  jeq %r1, -2147483649, +1\n", 2, 12, "immediate does not fit in 32 bits"));
  EXPECT_TRUE(AsmFailsAt("stw [%r1], 4294967296\n", 1, 12, "immediate does not fit in 32 bits"));
  EXPECT_TRUE(AsmFailsAt("call 0x1ffffffff\n", 1, 6, "immediate does not fit in 32 bits"));
  // 65 bits do not even parse as an integer.
  EXPECT_TRUE(AsmFailsAt("lddw %r0, 0x10000000000000000\n", 1, 11, "cannot read operand"));
}

TEST(AsmConformanceErrors, OffsetTooLargeFor16Bits) {
  EXPECT_TRUE(AsmFailsAt("ldxw %r0, [%r1+32768]\n", 1, 11, "offset does not fit in 16 bits"));
  EXPECT_TRUE(AsmFailsAt("exit\nstxw [%r10-32769], %r1\n", 2, 6, "offset does not fit in 16 bits"));
  EXPECT_TRUE(AsmFailsAt("ja +32768\n", 1, 4, "jump offset out of range"));
  EXPECT_TRUE(AsmFailsAt("jeq %r1, 0, -32769\n", 1, 13, "jump offset out of range"));
  EXPECT_TRUE(AsmFailsAt("ja32 +2147483648\n", 1, 6, "jump offset out of range"));
}

TEST(AsmConformanceErrors, LabelBeyondA16BitJump) {
  // A label 32768 slots ahead is one past what `ja` can reach; `ja32` can.
  std::string body;
  for (int i = 0; i < 32767; ++i) body += "mov %r0, 0\n";
  const std::string fits = "ja far\n" + body + "far:\nexit\n";
  auto near = assemble_conformance(fits, "t.s");
  ASSERT_TRUE(near) << to_string(near.error());
  EXPECT_EQ((*near)[0], encode(Op::ja, 0, 0, INT16_MAX));

  const std::string too_far = "ja far\n" + body + "mov %r0, 0\nfar:\nexit\n";
  EXPECT_TRUE(AsmFailsAt(too_far, 1, 4, "label 'far' is out of 16-bit jump range"));
  auto wide = assemble_conformance("ja32 far\n" + body + "mov %r0, 0\nfar:\nexit\n");
  ASSERT_TRUE(wide) << to_string(wide.error());
  EXPECT_EQ((*wide)[0], encode(Op::gotol, 0, 0, 0, 32768));
}

TEST(AsmConformanceErrors, DefaultInputName) {
  auto result = assemble_conformance("frob\n");
  EXPECT_TRUE(FailedAt(result, "<input>", 1, 1, "unknown mnemonic"));
  ASSERT_FALSE(result);
  EXPECT_EQ(to_string(result.error()), "<input>:1:1: unknown mnemonic 'frob'");
}

// ---- `.data` files -----------------------------------------------------------------

TEST(ConformanceParse, AsmMemAndHexResult) {
  const char* text =
      "# Copyright line\n"           // 1
      "# SPDX-License-Identifier\n"  // 2
      "-- asm\n"                     // 3
      "mov %r0, 1  # set r0\n"       // 4
      "\n"                           // 5
      "# a comment line\n"           // 6
      "  add %r0, 2\n"               // 7
      "exit\n"                       // 8
      "-- mem\n"                     // 9
      "00 01 ff\n"                   // 10
      "0a  7F\n"                     // 11
      "-- result\n"                  // 12
      "0x10\n";                      // 13
  const ConformanceTest test = Parse(text);
  EXPECT_EQ(test.asm_first_line, 4u);
  // Comments are gone, and line k of asm_source is file line 4 + k - 1.
  const std::vector<std::string> lines = SplitLines(test.asm_source);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].find('#'), std::string::npos);
  EXPECT_NE(lines[0].find("mov %r0, 1"), std::string::npos);
  EXPECT_NE(lines[3].find("add %r0, 2"), std::string::npos);
  EXPECT_NE(lines[4].find("exit"), std::string::npos);
  EXPECT_TRUE(test.has_memory);
  EXPECT_EQ(test.memory, (std::vector<uint8_t>{0x00, 0x01, 0xff, 0x0a, 0x7f}));
  EXPECT_EQ(test.result, 0x10u);
  EXPECT_FALSE(test.raw);
  EXPECT_FALSE(test.error);

  auto program = conformance_program(test);
  ASSERT_TRUE(program) << to_string(program.error());
  EXPECT_EQ(*program, (Slots{encode(Op::mov64_imm, 0, 0, 0, 1), encode(Op::add64_imm, 0, 0, 0, 2), encode(Op::exit)}));
}

TEST(ConformanceParse, DecimalAndHexResults) {
  EXPECT_EQ(Parse("-- asm\nexit\n-- result\n42\n").result, 42u);
  EXPECT_EQ(Parse("-- asm\nexit\n-- result\n0xffffffffffffffff\n").result, 0xffffffffffffffffu);
  EXPECT_EQ(Parse("-- asm\nexit\n-- result\n0x5  # five\n").result, 5u);
  // "10" is decimal ten, "0x10" sixteen.
  EXPECT_EQ(Parse("-- result\n10\n").result, 10u);
  // The last non-empty line wins.
  EXPECT_EQ(Parse("-- result\n1\n\n0x2\n").result, 2u);
  const ConformanceTest none = Parse("-- asm\nexit\n");
  EXPECT_FALSE(none.result);
  EXPECT_FALSE(none.has_memory);
  EXPECT_TRUE(none.memory.empty());
}

TEST(ConformanceParse, RawIsUsedInsteadOfAsm) {
  const char* text =
      "-- asm\n"
      "mov %r0, 1\n"
      "exit\n"
      "-- raw\n"
      "0x5566778800000018 0x1122334400000000\n"  // several words on a line
      "149\n"                                    // decimal: 0x95, exit
      "-- result\n"
      "0x1122334455667788\n";
  const ConformanceTest test = Parse(text);
  ASSERT_TRUE(test.raw);
  const Slots expected = {Lddw(0, 0x1122334455667788)[0], Lddw(0, 0x1122334455667788)[1], encode(Op::exit)};
  EXPECT_EQ(*test.raw, expected);
  auto program = conformance_program(test);
  ASSERT_TRUE(program) << to_string(program.error());
  EXPECT_EQ(*program, expected);  // not the two-instruction asm
}

TEST(ConformanceParse, ErrorSection) {
  const ConformanceTest test = Parse("-- asm\nexit\n-- error\nfirst guess\nUnsupported instruction  \n");
  EXPECT_EQ(test.error, "Unsupported instruction");
  EXPECT_FALSE(test.result);
}

TEST(ConformanceParse, NoRegisterOffsetSectionIsIgnored) {
  // As in mem-len.data: a directive after the ignored lines still counts.
  const char* text =
      "-- asm\n"
      "mov %r0, %r2\n"
      "exit\n"
      "-- mem\n"
      "00 00 00 01\n"
      "-- no register offset\n"
      "call instruction\n"
      "-- result\n"
      "0x8\n";
  const ConformanceTest test = Parse(text);
  EXPECT_EQ(test.result, 8u);
  EXPECT_EQ(test.memory.size(), 4u);
  EXPECT_EQ(SplitLines(test.asm_source).size(), 2u);
}

TEST(ConformanceParse, CSectionMayContainDoubleMinus) {
  // `i--` contains "--" but is C, not a directive; `#include` is C, not a comment.
  const char* text =
      "-- c\n"
      "#include <stdint.h>\n"
      "int f(int i) {\n"
      "    while (i--) {}\n"
      "    return i-- - 1;  // a -- b\n"
      "}\n"
      "-- asm\n"
      "exit\n"  // line 8
      "-- result\n"
      "0x0\n";
  const ConformanceTest test = Parse(text);
  EXPECT_EQ(test.asm_first_line, 8u);
  EXPECT_EQ(SplitLines(test.asm_source), std::vector<std::string>{"exit"});
  EXPECT_EQ(test.result, 0u);
}

TEST(ConformanceParse, CarriageReturnLineEndings) {
  const ConformanceTest test = Parse("-- asm\r\nmov %r0, 1\r\nexit\r\n-- result\r\n0x1\r\n");
  EXPECT_EQ(test.result, 1u);
  auto program = conformance_program(test);
  ASSERT_TRUE(program) << to_string(program.error());
  EXPECT_EQ(program->size(), 2u);
}

// Blank lines inside `-- asm` keep line numbers by padding; the padding
// counted every newline again for each line (1 MB of blank lines: 150 s).
TEST(ConformanceParse, LongRunsOfBlankAsmLinesPadInLinearTime) {
  const std::string text = "-- asm\nmov %r0, 1\n" + std::string(1000000, '\n') + "exit\n" + std::string(1000000, '\n') +
                           "bogus %r0\n-- result\n0x1\n";
  const ConformanceTest test = Parse(text);
  EXPECT_EQ(test.asm_first_line, 2u);
  EXPECT_EQ(std::count(test.asm_source.begin(), test.asm_source.end(), '\n'), 2000003);
  auto program = conformance_program(test, "t.data");
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().location.line, 2000004u) << to_string(program.error());
}

TEST(ConformanceParse, FormatErrorsNameTheLine) {
  EXPECT_TRUE(FailedAt(parse_conformance_test("-- asm\nexit\n-- bogus\n", "t.data"), "t.data", 3, 0,
                       "unknown directive '-- bogus'"));
  EXPECT_TRUE(FailedAt(parse_conformance_test("# header\nmov %r0, 1\n", "t.data"), "t.data", 2, 0,
                       "text before the first directive"));
  EXPECT_TRUE(
      FailedAt(parse_conformance_test("-- mem\n00 01\n0x11\n", "t.data"), "t.data", 3, 0, "bad memory byte '0x11'"));
  EXPECT_TRUE(FailedAt(parse_conformance_test("-- mem\n100\n", "t.data"), "t.data", 2, 0, "bad memory byte '100'"));
  EXPECT_TRUE(FailedAt(parse_conformance_test("-- mem\nzz\n", "t.data"), "t.data", 2, 0, "bad memory byte 'zz'"));
  EXPECT_TRUE(FailedAt(parse_conformance_test("-- raw\n0x95\n-5\n", "t.data"), "t.data", 3, 0, "bad raw word '-5'"));
  EXPECT_TRUE(FailedAt(parse_conformance_test("-- raw\nexit\n", "t.data"), "t.data", 2, 0, "bad raw word 'exit'"));
  EXPECT_TRUE(
      FailedAt(parse_conformance_test("-- asm\nexit\n-- result\nabc\n", "t.data"), "t.data", 4, 0, "bad result 'abc'"));
}

TEST(ConformanceParse, AsmErrorLinesAreLinesOfTheFile) {
  const char* text =
      "# header\n"     // 1
      "-- asm\n"       // 2
      "mov %r0, 1\n"   // 3
      "\n"             // 4
      "# comment\n"    // 5
      "mov %r11, 2\n"  // 6
      "exit\n"         // 7
      "-- result\n"    // 8
      "0x1\n";         // 9
  const ConformanceTest test = Parse(text);
  EXPECT_TRUE(FailedAt(conformance_program(test, "f.data"), "f.data", 6, 5, "unknown register r11"));

  // Errors found after the last line (an undefined label) map back too.
  const ConformanceTest label = Parse("-- result\n0x1\n-- asm\nexit\n\nja nowhere\n");
  EXPECT_TRUE(FailedAt(conformance_program(label, "g.data"), "g.data", 6, 4, "undefined label 'nowhere'"));
}

TEST(ConformanceParse, AsmErrorColumnsAreColumnsOfTheFile) {
  const ConformanceTest test = Parse("-- asm\n  mov %r11, 2\nexit\n-- result\n0x1\n");
  EXPECT_TRUE(FailedAt(conformance_program(test, "t.data"), "t.data", 2, 7, "unknown register r11"));
}

TEST(AsmConformance, TabsSeparateMnemonicAndOperands) {
  auto slots = assemble_conformance("mov\t%r0, 1\nlock\tfetch add [%r10-8], %r1\nexit\n");
  ASSERT_TRUE(slots.has_value()) << to_string(slots.error());
  ASSERT_EQ(slots->size(), 3u);
  EXPECT_EQ((*slots)[0], isa::encode(isa::Op::mov64_imm, 0, 0, 0, 1));
  EXPECT_EQ((*slots)[1], isa::encode(isa::Op::atomic64_fetch_add, 10, 1, -8));
}

TEST(ConformanceParse, NegativeDecimalResultIsTwosComplement) {
  const ConformanceTest test = Parse("-- asm\nexit\n-- result\n-1\n");
  ASSERT_TRUE(test.result.has_value());
  EXPECT_EQ(*test.result, UINT64_MAX);
}

// ---- The shared corpus: every file parses and assembles -------------------------------

const std::filesystem::path kCorpus = std::filesystem::path(BPFKIT_SHARED_DIR) / "conformance" / "tests";

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  std::error_code ec;  // a missing corpus yields no cases; CorpusIsComplete reports it
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus, ec))
    if (entry.path().extension() == ".data") files.push_back(entry.path().filename().string());
  std::sort(files.begin(), files.end());
  return files;
}

// GoogleTest allows only [A-Za-z0-9_] in parameter names.
std::string TestName(const testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConformanceParseCorpusFiles, CorpusIsComplete) {
  // The README documents 313 files; fewer means the data-driven cases below
  // silently shrank.
  EXPECT_EQ(CorpusFiles().size(), 313u) << "in " << kCorpus;
}

class CorpusFile : public testing::TestWithParam<std::string> {};

TEST_P(CorpusFile, ParsesAndAssembles) {
  const std::string& name = GetParam();
  const std::string text = ReadFile(kCorpus / name);
  ASSERT_FALSE(text.empty()) << "cannot read " << name;

  auto test = parse_conformance_test(text, name);
  ASSERT_TRUE(test) << to_string(test.error());
  EXPECT_TRUE(test->result) << "every file in the corpus has a -- result";
  EXPECT_GT(test->asm_first_line, 0u);

  auto program = conformance_program(*test, name);
  ASSERT_TRUE(program) << to_string(program.error());
  EXPECT_FALSE(program->empty());
  // The program is a well-formed v4 program as well.
  auto decoded = isa::decode(std::span<const Slot>(*program));
  EXPECT_TRUE(decoded) << to_string(decoded.error());

  // Where a file has both, its asm must say what its raw words say.
  if (test->raw) {
    auto assembled = assemble_conformance(test->asm_source, name);
    ASSERT_TRUE(assembled) << to_string(assembled.error());
    EXPECT_EQ(*assembled, *test->raw);
  }
}

INSTANTIATE_TEST_SUITE_P(ConformanceParse, CorpusFile, testing::ValuesIn(CorpusFiles()), TestName);

}  // namespace
}  // namespace bpfkit::assembly
