// The assembler's refusals: every row of ../shared/asm-corpus/reject.tsv, one
// test per kind of mistake with its exact file:line:col, and the rules from
// the corpus README for telling normal and pseudo-C statements apart.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpfkit/assembly.hpp"

namespace bpfkit::assembly {
namespace {

namespace fs = std::filesystem;

const fs::path kRejectTable = fs::path(BPFKIT_SHARED_DIR) / "asm-corpus" / "reject.tsv";

Assembly assemble_as(std::string_view source, Syntax syntax = Syntax::Auto) {
  AssembleOptions options;
  options.syntax = syntax;
  options.input_name = "test.s";
  return assemble(source, options);
}

std::string all_errors(const Assembly& assembly, std::string_view source) {
  std::string out;
  for (const Error& error : assembly.errors) out += format_diagnostic(error, source);
  return out;
}

// The .text slots as 16 hex digits each (opcode byte first).
std::vector<std::string> text_hex(std::string_view source, Syntax syntax = Syntax::Auto) {
  const Assembly assembly = assemble_as(source, syntax);
  EXPECT_TRUE(assembly.ok()) << all_errors(assembly, source);
  std::vector<std::string> out;
  for (const isa::Slot& slot : section_slots(assembly.object)) {
    const uint64_t word = isa::word_of(slot);
    char buffer[17];
    for (int i = 0; i < 8; ++i) std::snprintf(buffer + 2 * i, 3, "%02x", static_cast<unsigned>(word >> (8 * i)) & 0xff);
    out.emplace_back(buffer, 16);
  }
  return out;
}

// ---- reject.tsv -----------------------------------------------------------------

struct RejectRow {
  size_t index;  // 1-based, among the data rows
  std::string syntax, input, why;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, '\t');) fields.push_back(field);
  return fields;
}

std::vector<RejectRow> reject_rows() {
  std::vector<RejectRow> rows;
  std::ifstream in(kRejectTable);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.starts_with('#')) continue;
    const std::vector<std::string> fields = split_tabs(line);
    if (fields.size() < 3) continue;
    rows.push_back({rows.size() + 1, fields[0], fields[1], fields[2]});
  }
  return rows;
}

Syntax syntax_of(const std::string& column) {
  if (column == "normal") return Syntax::Normal;
  if (column == "pseudoc") return Syntax::PseudoC;
  return Syntax::Auto;
}

// A row whose `why` says bpfkit should accept it: it is in the table only to
// document what other tools do with it (GNU as reads `gotol +1` as `goto l+1`).
bool documents_a_valid_input(const RejectRow& row) { return row.why.find("bpfkit should accept") != std::string::npos; }

// "row07_ldxw__r0___r1_32768_": the index, then the input in letters,
// digits and single underscores.
std::string row_name(const RejectRow& row) {
  char index[8];
  std::snprintf(index, sizeof index, "row%02zu_", row.index);
  std::string name = index;
  for (char c : row.input) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (keep || name.back() != '_') name += keep ? c : '_';
    if (name.size() >= 40) break;
  }
  return name;
}

TEST(AsmRejectTable, HasEveryRow) {
  const std::vector<RejectRow> rows = reject_rows();
  ASSERT_EQ(rows.size(), 46u) << kRejectTable;
  for (const RejectRow& row : rows) EXPECT_TRUE(row.syntax == "normal" || row.syntax == "pseudoc") << row.syntax;
}

class AsmReject : public ::testing::TestWithParam<RejectRow> {};

void expect_refused(const RejectRow& row, Syntax syntax) {
  const Assembly assembly = assemble_as(row.input, syntax);
  ASSERT_FALSE(assembly.ok()) << "accepted: " << row.input << " (" << row.why << ")";
  for (const Error& error : assembly.errors) {
    EXPECT_EQ(error.location.input, "test.s");
    EXPECT_EQ(error.location.line, 1u) << error.message;
    EXPECT_GT(error.location.column, 0u) << error.message;
    EXPECT_LE(error.location.column, row.input.size() + 1) << error.message;
    EXPECT_FALSE(error.message.empty());
  }
}

TEST_P(AsmReject, IsRefusedWithALocation) {
  const RejectRow& row = GetParam();
  if (documents_a_valid_input(row)) {
    const Assembly assembly = assemble_as(row.input, syntax_of(row.syntax));
    EXPECT_TRUE(assembly.ok()) << all_errors(assembly, row.input);
    return;
  }
  expect_refused(row, syntax_of(row.syntax));
}

// Reading both syntaxes at once must not make the assembler more lenient.
TEST_P(AsmReject, IsRefusedInMixedSyntaxToo) {
  const RejectRow& row = GetParam();
  if (documents_a_valid_input(row)) {
    const Assembly assembly = assemble_as(row.input, Syntax::Auto);
    EXPECT_TRUE(assembly.ok()) << all_errors(assembly, row.input);
    return;
  }
  expect_refused(row, Syntax::Auto);
}

INSTANTIATE_TEST_SUITE_P(Rows, AsmReject, ::testing::ValuesIn(reject_rows()),
                         [](const auto& info) { return row_name(info.param); });

TEST(AsmReject, GotolWithANumberIsTheLongJump) {
  EXPECT_EQ(text_hex("gotol +1\n", Syntax::PseudoC), std::vector<std::string>{"0600000001000000"});
}

// ---- One message per kind of mistake --------------------------------------------

// The assembly of `source` fails with exactly one error, at line:column, whose
// message contains `part`.
::testing::AssertionResult FailsAt(std::string_view source, uint32_t line, uint32_t column, std::string_view part,
                                   Syntax syntax = Syntax::Auto) {
  const Assembly assembly = assemble_as(source, syntax);
  if (assembly.errors.size() != 1)
    return ::testing::AssertionFailure() << assembly.errors.size() << " errors for:\n"
                                         << source << "\n"
                                         << all_errors(assembly, source);
  const Error& error = assembly.errors[0];
  if (error.location.line != line || error.location.column != column || error.message.find(part) == std::string::npos)
    return ::testing::AssertionFailure() << "want " << line << ":" << column << " '" << part << "', got "
                                         << format_diagnostic(error, source);
  return ::testing::AssertionSuccess();
}

TEST(AsmErrors, UnknownMnemonic) {
  EXPECT_TRUE(FailsAt("r0 = 1\nfrobnicate %r1, 2\n", 2, 1, "unknown instruction"));
  EXPECT_TRUE(FailsAt("exit\n  foo %r1\n", 2, 3, "unknown instruction 'foo'", Syntax::Normal));
  EXPECT_TRUE(FailsAt("ldxsdw %r1, [%r2+0]\n", 1, 1, "unknown instruction 'ldxsdw'", Syntax::Normal));
}

TEST(AsmErrors, UnknownRegister) {
  EXPECT_TRUE(FailsAt("mov %r11, 1\n", 1, 5, "no register %r11 (r0-r10)"));
  EXPECT_TRUE(FailsAt("r0 = 1\n  r12 += 1\n", 2, 3, "no register r12"));
  EXPECT_TRUE(FailsAt("if w15 > 1 goto +1\n", 1, 4, "no register w15"));
}

TEST(AsmErrors, MissingOperand) {
  EXPECT_TRUE(FailsAt("add %r1\n", 1, 8, "missing operand: 'add' takes 2 operands, found 1"));
  EXPECT_TRUE(FailsAt("jeq %r1, 1\n", 1, 11, "missing operand: 'jeq' takes 3 operands"));
  EXPECT_TRUE(FailsAt("call\n", 1, 5, "missing operand"));
  EXPECT_TRUE(FailsAt("if r1 > 2 goto\n", 1, 15, "missing operand after 'goto': expected a jump target"));
  EXPECT_TRUE(FailsAt("r1 +=\n", 1, 6, "missing operand after '+='"));
}

TEST(AsmErrors, ExtraOperand) {
  EXPECT_TRUE(FailsAt("add %r1, %r2, %r3\n", 1, 15, "extra operand: 'add' takes 2 operands, found 3"));
  EXPECT_TRUE(FailsAt("exit 1\n", 1, 6, "extra operand: 'exit' takes 0 operands"));
  EXPECT_TRUE(FailsAt("neg %r1, 1\n", 1, 10, "extra operand"));
  EXPECT_TRUE(FailsAt("r1 = r2 + 1\n", 1, 9, "extra operand '+'"));
}

TEST(AsmErrors, BadNumber) {
  EXPECT_TRUE(FailsAt("r1 = 12abc\n", 1, 6, "bad number '12abc'"));
  EXPECT_TRUE(FailsAt("mov %r1, 0x\n", 1, 10, "bad number '0x'"));
  EXPECT_TRUE(FailsAt("r1 = 09\n", 1, 6, "bad number '09'"));
  EXPECT_TRUE(FailsAt("add %r1, 0b2\n", 1, 10, "bad number '0b2'"));
  EXPECT_TRUE(FailsAt("r1 = 'ab'\n", 1, 6, "bad character literal"));
}

TEST(AsmErrors, ImmediateOutOfRange) {
  EXPECT_TRUE(FailsAt("mov %r1, 4294967296\n", 1, 10, "immediate 4294967296 does not fit in 32 bits"));
  EXPECT_TRUE(FailsAt("r1 += -2147483649\n", 1, 7, "immediate -2147483649 does not fit in 32 bits"));
  EXPECT_TRUE(FailsAt("if r1 == 0x100000000 goto +1\n", 1, 10, "does not fit in 32 bits"));
  // The edges fit: 32-bit immediates are read as signed or unsigned.
  EXPECT_EQ(text_hex("r1 = 0xffffffff\nr1 = -2147483648\n"),
            (std::vector<std::string>{"b7010000ffffffff", "b701000000000080"}));
}

TEST(AsmErrors, LddwBeyond64Bits) {
  EXPECT_TRUE(FailsAt("lddw %r1, 0x10000000000000000\n", 1, 11, "needs more than 64 bits"));
  EXPECT_TRUE(FailsAt("r1 = 18446744073709551616 ll\n", 1, 6, "needs more than 64 bits"));
  EXPECT_EQ(text_hex("r1 = 0xffffffffffffffff ll\n"),
            (std::vector<std::string>{"18010000ffffffff", "00000000ffffffff"}));
}

TEST(AsmErrors, OffsetOutOfRange) {
  EXPECT_TRUE(FailsAt("ldxw %r0, [%r1+32768]\n", 1, 16, "offset 32768 does not fit in 16 bits (-32768..32767)"));
  EXPECT_TRUE(FailsAt("*(u32 *)(r1 - 32769) = r2\n", 1, 15, "offset -32769 does not fit in 16 bits"));
  EXPECT_EQ(text_hex("ldxw %r0, [%r1-32768]\n"), std::vector<std::string>{"6110008000000000"});
}

// 40000 slots between the jump and its label: too far for a 16-bit offset.
constexpr std::string_view kFarLabel = ".fill 40000, 8, 0\nfar: exit\n";

TEST(AsmErrors, ConditionalJumpOutOfRange) {
  const std::string source = "if r1 > 0 goto far\n" + std::string(kFarLabel);
  EXPECT_TRUE(FailsAt(source, 1, 16, "jump offset 40000 does not fit in 16 bits (-32768..32767)"));
  EXPECT_TRUE(FailsAt("jeq %r1, 0, far\n" + std::string(kFarLabel), 1, 13, "jump offset 40000"));
  EXPECT_TRUE(FailsAt("goto +32768\n", 1, 6, "jump offset 32768 does not fit in 16 bits"));
  EXPECT_TRUE(FailsAt("jal 0x100000000\n", 1, 5, "does not fit in 32 bits"));
}

TEST(AsmErrors, FarGotoBecomesGotol) {
  for (const char* jump : {"goto far\n", "ja far\n"}) {
    const std::vector<std::string> slots = text_hex(jump + std::string(kFarLabel));
    ASSERT_EQ(slots.size(), 40002u) << jump;
    EXPECT_EQ(slots[0], "06000000409c0000") << jump;  // gotol +40000
  }
}

TEST(AsmErrors, UndefinedLabel) {
  EXPECT_TRUE(FailsAt("exit\ngoto nowhere\n", 2, 6, "undefined label 'nowhere'"));
  EXPECT_TRUE(FailsAt("jeq %r1, 0, .Lmissing\n", 1, 13, "undefined label '.Lmissing'"));
}

TEST(AsmErrors, DuplicateLabel) {
  EXPECT_TRUE(FailsAt("a: exit\na: exit\n", 2, 1, "symbol 'a' is already defined"));
  EXPECT_TRUE(FailsAt("a: exit\n  a = 3\n", 2, 3, "'a' is already defined as a label"));
  // A constant may be set again, as in GNU as and llvm-mc.
  EXPECT_EQ(text_hex(".set N, 1\n.set N, 2\nr0 = N\n"), std::vector<std::string>{"b700000002000000"});
}

TEST(AsmErrors, LabelInAnotherSection) {
  EXPECT_TRUE(FailsAt(".section s1,\"ax\"\nx: exit\n.text\ngoto x\n", 4, 6, "label 'x' is in another section"));
}

TEST(AsmErrors, UnknownDirective) {
  EXPECT_TRUE(FailsAt("  .frobnicate 1\n", 1, 3, "unknown directive '.frobnicate'"));
}

TEST(AsmErrors, BadSectionFlags) {
  EXPECT_TRUE(FailsAt(".section s,\"aq\"\n", 1, 12, "unknown section flag 'q'"));
  EXPECT_TRUE(FailsAt(".section s,ax\n", 1, 12, "section flags must be a string in double quotes"));
  EXPECT_TRUE(FailsAt(".section s,\"a\",@bogus\n", 1, 16, "unknown section type"));
  // What clang writes for string literals is accepted.
  const Assembly assembly = assemble_as(".section .rodata.str1.1,\"aMS\",@progbits,1\n.asciz \"hi\"\n");
  ASSERT_TRUE(assembly.ok()) << all_errors(assembly, "");
  ASSERT_NE(assembly.object.find_section(".rodata.str1.1"), nullptr);
  EXPECT_EQ(assembly.object.find_section(".rodata.str1.1")->flags, kShfAlloc);
}

TEST(AsmErrors, SizeOfNonConstant) {
  EXPECT_TRUE(FailsAt("f: exit\n.size f, undefined_sym\n", 2, 10, ".size needs a constant"));
}

TEST(AsmErrors, MixedRegisterWidthsInPseudoC) {
  EXPECT_TRUE(FailsAt("w1 += r2\n", 1, 7, "mixed w and r registers: expected w2, found r2"));
  EXPECT_TRUE(FailsAt("r1 = w2\n", 1, 6, "mixed w and r registers"));
  EXPECT_TRUE(FailsAt("if w1 > r2 goto +1\n", 1, 9, "mixed w and r registers"));
  EXPECT_TRUE(FailsAt("w1 = le16 w1\n", 1, 1, "takes r (64-bit) registers"));
  // LLVM takes either width on narrow stores and loads.
  EXPECT_EQ(text_hex("*(u32 *)(r1 + 2) = w3\nw0 = *(u8 *)(r1 + 0)\n"),
            (std::vector<std::string>{"6331020000000000", "7110000000000000"}));
}

TEST(AsmErrors, StringDirectiveWithoutQuotes) {
  EXPECT_TRUE(FailsAt(".data\n.ascii abc\n", 2, 8, "expected a string in double quotes"));
  EXPECT_TRUE(FailsAt(".data\n.asciz\n", 2, 1, ".asciz needs a string"));
  EXPECT_TRUE(FailsAt(".data\n.string \"abc\n", 2, 9, "missing closing '\"'"));
}

TEST(AsmErrors, DivisionByZero) {
  EXPECT_TRUE(FailsAt("r1 = 1 / 0\n", 1, 8, "division by zero"));
  EXPECT_TRUE(FailsAt(".data\n.byte 5 % (2 - 2)\n", 2, 9, "division by zero"));
  EXPECT_TRUE(FailsAt(".set X, 0\nmov %r1, 4 / X\n", 2, 12, "division by zero"));
}

TEST(AsmErrors, EveryErrorIsReportedInLineOrder) {
  // Line 1's error comes from the end of the pass (labels are resolved last).
  const std::string source = "goto nowhere\nr0 = 1\nfoo %r1\nr11 = 2\nexit\nr1 = *(u32 *)(r2 + 70000)\n";
  const Assembly assembly = assemble_as(source);
  ASSERT_EQ(assembly.errors.size(), 4u) << all_errors(assembly, source);
  const uint32_t lines[] = {1, 3, 4, 6};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(assembly.errors[i].location.line, lines[i]) << assembly.errors[i].message;
}

TEST(AsmErrors, ThreeBadLinesGiveThreeErrors) {
  const std::string source = "r0 = 1\nadd %r1\nexit\nw1 += r2\nr1 = 1/0\n";
  const Assembly assembly = assemble_as(source);
  ASSERT_EQ(assembly.errors.size(), 3u) << all_errors(assembly, source);
  EXPECT_EQ(assembly.errors[0].location.line, 2u);
  EXPECT_EQ(assembly.errors[1].location.line, 4u);
  EXPECT_EQ(assembly.errors[2].location.line, 5u);
}

TEST(AsmErrors, FormatDiagnosticShowsTheLineAndACaret) {
  const std::string source = "exit\n\t\tmov %r11, 1\n";
  const Assembly assembly = assemble_as(source);
  ASSERT_EQ(assembly.errors.size(), 1u);
  EXPECT_EQ(format_diagnostic(assembly.errors[0], source),
            "test.s:2:7: error: no register %r11 (r0-r10)\n"
            "\t\tmov %r11, 1\n"
            "\t\t    ^\n");
}

TEST(AsmErrors, FormatDiagnosticAfterASemicolon) {
  const std::string source = "r0 = 1 ; r11 = 2\r\n";
  const Assembly assembly = assemble_as(source);
  ASSERT_EQ(assembly.errors.size(), 1u);
  EXPECT_EQ(format_diagnostic(assembly.errors[0], source),
            "test.s:1:10: error: no register r11 (r0-r10)\n"
            "r0 = 1 ; r11 = 2\n"
            "         ^\n");
}

// ---- Found while writing these tests ---------------------------------------------

// `.` is where its statement starts, also when the expression is read again
// at the end of the pass (jumps, data relocations, .size).
TEST(AsmLocationCounter, JumpsRelativeToDot) {
  EXPECT_EQ(text_hex("r0 = 0\ngoto .\ngoto . - 8\nexit\n"),
            (std::vector<std::string>{"b700000000000000", "0500ffff00000000", "0500feff00000000", "9500000000000000"}));
  EXPECT_TRUE(FailsAt("r0 = 0\ngoto . - 1\n", 2, 6, "jump target '.' plus -1 is not at an instruction boundary"));
}

TEST(AsmLocationCounter, DataRelocationAddend) {
  const Assembly assembly = assemble_as(".data\n.quad 1\n.quad .\n");
  ASSERT_TRUE(assembly.ok()) << all_errors(assembly, "");
  const Section* data = assembly.object.find_section(".data");
  ASSERT_NE(data, nullptr);
  ASSERT_EQ(data->bytes.size(), 16u);
  EXPECT_EQ(data->bytes[8], 8);  // the addend: .data + 8
  ASSERT_EQ(assembly.object.relocations.size(), 1u);
  EXPECT_EQ(assembly.object.relocations[0].offset, 8u);
  EXPECT_EQ(assembly.object.relocations[0].symbol, ".data");
  for (const Symbol& symbol : assembly.object.symbols) EXPECT_EQ(symbol.name.find("dot"), std::string::npos);
}

TEST(AsmLocationCounter, SizeMayNameALaterLabel) {
  const Assembly assembly = assemble_as(".size f, .Lend - f\nf: r0 = 0\nexit\n.Lend:\n.size g, . - f\ng:\n");
  ASSERT_TRUE(assembly.ok()) << all_errors(assembly, "");
  std::vector<std::pair<std::string, uint64_t>> sizes;
  for (const Symbol& symbol : assembly.object.symbols) sizes.emplace_back(symbol.name, symbol.size);
  EXPECT_EQ(sizes, (std::vector<std::pair<std::string, uint64_t>>{{"f", 16}, {"g", 16}}));
  EXPECT_TRUE(FailsAt(".size f, .Lend - f\nf: exit\n", 1, 16, "undefined symbol '.Lend' in a difference"));
}

TEST(AsmLateValues, DataIsRangeCheckedWhenItsValueComesLater) {
  EXPECT_TRUE(FailsAt(".data\n.byte X\n.set X, 300\n", 2, 7, "value 300 does not fit in 1 byte (-128..255)"));
  EXPECT_TRUE(FailsAt(".data\n.short -32769\n", 2, 8, "does not fit in 2 bytes (-32768..65535)"));
}

TEST(AsmErrors, UnterminatedBlockCommentHidesNoCodeSilently) {
  EXPECT_TRUE(FailsAt("r1 = 1\n  /* never closed\nr2 = 2\n", 2, 3, "unterminated /* comment"));
}

TEST(AsmErrors, UnmatchedBrackets) {
  EXPECT_TRUE(FailsAt("r1 = (1 + 2\n", 1, 6, "'(' is never closed"));
  EXPECT_TRUE(FailsAt("ldxw %r1, [%r2+8\n", 1, 11, "'[' is never closed"));
  EXPECT_TRUE(FailsAt("r1 = *(u32 *)(r2 + 8))\n", 1, 22, "unmatched ')'"));
}

TEST(AsmErrors, OperatorWithoutOperand) {
  EXPECT_TRUE(FailsAt("r1 = 1 +\n", 1, 9, "expected an expression after '+'"));
  EXPECT_TRUE(FailsAt("r1 = 1 + * 2\n", 1, 10, "expected an expression after '+'"));
}

TEST(AsmErrors, DivisionOverflowWrapsInsteadOfTrapping) {
  // INT64_MIN / -1 used to stop the process with SIGFPE.
  EXPECT_EQ(text_hex("r1 = (-0x7fffffffffffffff - 1) / -1 ll\nr2 = (-0x7fffffffffffffff - 1) % -1 ll\n"),
            (std::vector<std::string>{"1801000000000000", "0000000000000080", "1802000000000000", "0000000000000000"}));
}

TEST(AsmErrors, NonZeroDataInBss) {
  EXPECT_TRUE(FailsAt(".bss\nx: .zero 4\n.byte 0\n  .byte 1, 2\n", 4, 3, "non-zero data in .bss"));
  EXPECT_TRUE(FailsAt(".bss\n.space 2, 1\n", 2, 1, "non-zero data in .bss"));
  EXPECT_TRUE(FailsAt(".section .bss.x,\"aw\",@nobits\nr0 = 0\n", 2, 1, "non-zero data in .bss.x"));
}

TEST(AsmLabels, ARegisterIsNoLabel) {
  EXPECT_TRUE(FailsAt("exit\nr1: exit\n", 2, 1, "'r1' is a register and cannot be a label"));
  EXPECT_TRUE(FailsAt(".set w2, 5\n", 1, 6, "'w2' is a register and cannot be a symbol"));
  EXPECT_TRUE(FailsAt(".equ %r3, 5\n", 1, 6, "'%r3' is a register and cannot be a symbol"));
}

// ---- Telling the two syntaxes apart (corpus README) -----------------------------

TEST(AsmMixedSyntax, RegisterNameBeforeEqualsIsAnInstruction) {
  EXPECT_EQ(text_hex("r1 = 1\nw3 = 7\n"), (std::vector<std::string>{"b701000001000000", "b403000007000000"}));
  // Any other name is a symbol: no code, and its value is usable later.
  EXPECT_EQ(text_hex("size = 5\nr1 = size\nmov %r2, size\n"),
            (std::vector<std::string>{"b701000005000000", "b702000005000000"}));
  // A register is never read as a symbol: `r1 = r2` is a register move.
  EXPECT_EQ(text_hex("r1 = r2\n"), std::vector<std::string>{"bf21000000000000"});
}

// GNU as in normal dialect makes `r1 = 1` a symbol; bpfkit never defines a
// symbol with a register name, and in normal syntax refuses the statement.
TEST(AsmMixedSyntax, RegisterAssignmentInNormalSyntaxIsRefused) {
  EXPECT_TRUE(FailsAt("r1 = 1\n", 1, 1, "unknown instruction", Syntax::Normal));
}

TEST(AsmMixedSyntax, SetConstantsServeBothSyntaxes) {
  EXPECT_EQ(text_hex(".set X, 3\n.equ Y, X * 2\nadd %r1, X\nr1 += X\nmov32 %r2, Y\nw2 = Y\n"),
            (std::vector<std::string>{"0701000003000000", "0701000003000000", "b402000006000000", "b402000006000000"}));
}

TEST(AsmMixedSyntax, SemicolonSeparatesStatements) {
  EXPECT_EQ(text_hex("r1 = 1 ; r2 = 2\n"), (std::vector<std::string>{"b701000001000000", "b702000002000000"}));
  EXPECT_EQ(text_hex("add %r1, 1; r1 += 1;exit\n"),
            (std::vector<std::string>{"0701000001000000", "0701000001000000", "9500000000000000"}));
  EXPECT_TRUE(FailsAt("mov %r1, 1 ; c\n", 1, 14, "unknown instruction 'c'", Syntax::Normal));
}

TEST(AsmMixedSyntax, Comments) {
  const std::string source =
      "# a whole line\n"
      "r1 = 1 // to the end ; r9 = 9\n"
      "r2 = 2 # also ; r9 = 9\n"
      "/* across\n"
      "   lines ; r9 = 9 */ r3 = 3 /* inline */ ; r4 = 4\n"
      "exit";
  EXPECT_EQ(text_hex(source), (std::vector<std::string>{"b701000001000000", "b702000002000000", "b703000003000000",
                                                        "b704000004000000", "9500000000000000"}));
  // A line number after a block comment still counts the lines inside it.
  EXPECT_TRUE(FailsAt("/*\n\n*/ r11 = 1\n", 3, 4, "no register r11"));
}

TEST(AsmMixedSyntax, CommentAndSeparatorCharactersInsideStrings) {
  const Assembly assembly = assemble_as(".data\n.ascii \"a;b#c//d\"\n");
  ASSERT_TRUE(assembly.ok()) << all_errors(assembly, "");
  const Section* data = assembly.object.find_section(".data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(std::string(data->bytes.begin(), data->bytes.end()), "a;b#c//d");
}

// ---- Hostile input: bounded stack, memory, time and output (issue 16) ----------

// The first slot's imm of a one-statement program.
int32_t first_imm(std::string_view source) {
  const Assembly assembly = assemble_as(source);
  EXPECT_TRUE(assembly.ok()) << all_errors(assembly, source).substr(0, 500);
  const std::vector<isa::Slot> slots = section_slots(assembly.object);
  return slots.empty() ? 0 : slots[0].imm;
}

TEST(AsmHostileInput, DeepParenthesesAreAnErrorNotAStackOverflow) {
  // 15,000 levels overflowed the stack of the recursive parser.
  const std::string deep = "r0 = " + std::string(15000, '(') + "1" + std::string(15000, ')') + "\n";
  EXPECT_TRUE(FailsAt(deep, 1, 6 + 256, "expression nests more than 256 parentheses deep"));
  EXPECT_EQ(first_imm("r0 = " + std::string(256, '(') + "7" + std::string(256, ')') + "\n"), 7);
  // In normal syntax and in data too.
  EXPECT_TRUE(FailsAt(".data\n.quad " + std::string(20000, '(') + "1\n", 2, 7 + 256, "parentheses deep"));
}

TEST(AsmHostileInput, LongUnaryChainsEvaluateWithoutRecursion) {
  // 50,000 leading '-' overflowed the stack; they cancel in pairs.
  EXPECT_EQ(first_imm("r0 = " + std::string(50000, '-') + "1\n"), 1);
  EXPECT_EQ(first_imm("mov %r0, " + std::string(50001, '-') + "1\n"), -1);
  EXPECT_EQ(first_imm("r0 = " + std::string(30000, '~') + "5\n"), 5);
  EXPECT_EQ(first_imm("r0 = -(" + std::string(40000, '+') + "-3)\n"), 3);
}

TEST(AsmHostileInput, NegativeSizesAreRefused) {
  // `.lcomm x, -1` asked for 2^64 - 1 bytes (std::length_error, abort).
  EXPECT_TRUE(FailsAt(".lcomm x, -1\n", 1, 11, "size -1 is negative"));
  EXPECT_TRUE(FailsAt(".comm x, -8\n", 1, 10, "size -8 is negative"));
  EXPECT_TRUE(FailsAt(".data\n.space -1\n", 2, 8, "size -1 is negative"));
  EXPECT_TRUE(FailsAt(".data\n.fill -1, 1\n", 2, 7, "size -1 is negative"));
}

TEST(AsmHostileInput, FillSizeIsCheckedWithoutWrapping) {
  // 0x2000000000000001 * 8 wraps to 8: the old cap let 2^61 values through.
  EXPECT_TRUE(FailsAt(".data\n.fill 0x2000000000000001, 8, 0\n", 2, 7, "is larger than the limit"));
  const Assembly ok = assemble_as(".data\n.fill 3, 2, 0x0102\n");
  ASSERT_TRUE(ok.ok()) << all_errors(ok, "");
  EXPECT_EQ(ok.object.find_section(".data")->bytes, (std::vector<uint8_t>{2, 1, 2, 1, 2, 1}));
}

Assembly assemble_with_budget(std::string_view source, uint64_t max_bytes) {
  AssembleOptions options;
  options.input_name = "test.s";
  options.max_object_bytes = max_bytes;
  return assemble(source, options);
}

TEST(AsmHostileInput, OneBudgetBoundsAllSections) {
  // `.comm x, 0x200000000` allocated 8 GiB; nothing is allocated now.
  EXPECT_TRUE(FailsAt(".comm x, 0x200000000\n", 1, 10, "section .bss would grow by 8589934592 bytes past the limit"));
  // Each .space was capped alone, so many lines added up without bound: the
  // budget is on the total, whichever directive or section adds the bytes.
  const std::string spaces =
      ".data\n.space 1000\n.space 1000\n.section .rodata\n.space 1000\n.byte 1, 2\n.text\nexit\n";
  EXPECT_TRUE(assemble_with_budget(spaces, 3010).ok());
  const Assembly over = assemble_with_budget(spaces, 2999);
  ASSERT_EQ(over.errors.size(), 1u) << all_errors(over, spaces);
  EXPECT_EQ(over.errors[0].location.line, 5u);
  EXPECT_NE(over.errors[0].message.find("section .rodata would grow by 1000 bytes past the limit of 2999 bytes"),
            std::string::npos)
      << over.errors[0].message;
  // Instructions, data, .comm and .fill count too; the error is reported once.
  const Assembly many = assemble_with_budget(std::string(".text\n") + std::string(1000, 'e') + "\n", 64);
  EXPECT_EQ(many.errors.size(), 1u);
  std::string code;
  for (int i = 0; i < 20; ++i) code += "exit\n";
  const Assembly code_over = assemble_with_budget(code, 64);
  ASSERT_EQ(code_over.errors.size(), 1u);
  EXPECT_EQ(code_over.errors[0].location.line, 9u);
  EXPECT_FALSE(assemble_with_budget(".comm a, 40\n.lcomm b, 40\n", 64).ok());
  EXPECT_FALSE(assemble_with_budget(".data\n.fill 9, 8, 1\n", 64).ok());
}

TEST(AsmHostileInput, ManyErrorsAreCountedNotKept) {
  // 200,000 bad lines: each diagnostic used to find its line by scanning
  // from the start of the file (139 s); now 100 are kept and the rest counted.
  std::string bad;
  for (int i = 0; i < 200000; ++i) bad += "x\n";
  const Assembly assembly = assemble_as(bad);
  ASSERT_EQ(assembly.errors.size(), 100u);
  EXPECT_EQ(assembly.more_errors, 199900u);
  EXPECT_EQ(assembly.errors.back().location.line, 100u);
  const std::string text = format_diagnostics(assembly, bad);
  EXPECT_TRUE(text.ends_with("\n199900 more errors not shown\n")) << text.substr(text.size() - 200);
  EXPECT_NE(text.find("test.s:100:1: error: unknown instruction"), std::string::npos);
}

TEST(AsmHostileInput, EchoedSourceLineIsCut) {
  // One 200 KB line of `x;` gave 100,000 errors, each echoing the whole line
  // (30 GB on stderr).
  std::string line;
  for (int i = 0; i < 100000; ++i) line += "x;";
  const Assembly assembly = assemble_as(line + "\n");
  ASSERT_EQ(assembly.errors.size(), 100u);
  EXPECT_EQ(assembly.more_errors, 99900u);
  const std::string text = format_diagnostics(assembly, line);
  EXPECT_LT(text.size(), 100u * (2 * kMaxEchoWidth + 200));
  // A window around the column, with the caret under it.
  const Error& error = assembly.errors[50];  // column 101
  const std::string one = format_diagnostic(error, line);
  const std::string want_echo = line.substr(100 - kMaxEchoWidth / 2, kMaxEchoWidth);
  EXPECT_EQ(one, "test.s:1:101: error: " + error.message + "\n..." + want_echo + "...\n" +
                     std::string(3 + kMaxEchoWidth / 2, ' ') + "^\n");
  // Short lines are echoed whole, as before.
  const std::string short_line = "  r11 = 1\n";
  EXPECT_TRUE(format_diagnostic(assemble_as(short_line).errors.at(0), short_line).ends_with("\n  r11 = 1\n  ^\n"));
}

TEST(AsmHostileInput, ManySectionsAreFoundByName) {
  // Section lookup was linear: 65,300 `.section` lines took seconds.
  std::string source;
  for (int i = 0; i < 65300; ++i) source += ".section s" + std::to_string(i) + ",\"ax\"\n";
  source += ".section s7\nexit\n";
  const Assembly assembly = assemble_as(source);
  ASSERT_TRUE(assembly.ok()) << assembly.errors[0].message;
  ASSERT_EQ(assembly.object.sections.size(), 65301u);
  EXPECT_EQ(assembly.object.find_section("s7")->bytes.size(), 8u);
}

}  // namespace
}  // namespace bpfkit::assembly
