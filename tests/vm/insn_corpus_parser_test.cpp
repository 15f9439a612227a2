// The reader of the instruction corpus format (tests/data/insn/README.md):
// what a well-formed file gives, and the file:line of each kind of mistake.
#include <gtest/gtest.h>

#include "insn_corpus.hpp"

namespace bpfkit {
namespace {

using test::Expectation;
using test::parse_insn_corpus;
using test::RegisterValue;

TEST(InsnCorpusParser, ReadsEveryField) {
  const char* text =
      "# a comment\n"
      "case: first\n"
      "dialect: sbpf-v2\n"
      "in: r1=5 r2=0x10 r3=-1\n"
      "mem: 01 02\n"
      "mem: 0304\n"
      "budget: 100\n"
      "asm:\n"
      "    r0 = 1\n"
      "\n"
      "    exit\n"
      "expect: r0=1 r10=0x200000000\n"
      "cu: 2\n"
      "\n"
      "case: second\n"
      "dialect: linux\n"
      "hex: 95 00 00 00 00 00 00 00\n"
      "expect: rejects bad_opcode\n"
      "case: third\n"
      "dialect: sbpf-v0\n"
      "hex:\n"
      "  b7 00 00 00 00 00 00 00\n"
      "  9500000000000000\n"
      "expect: fault DivideByZero pc=1\n";
  auto cases = parse_insn_corpus(text, "t.instr");
  ASSERT_TRUE(cases.has_value()) << to_string(cases.error());
  ASSERT_EQ(cases->size(), 3u);
  const auto& first = (*cases)[0];
  EXPECT_EQ(first.name, "first");
  EXPECT_EQ(first.file, "t.instr");
  EXPECT_EQ(first.line, 2u);
  EXPECT_EQ(first.dialect, &isa::kSbpfV2);
  EXPECT_EQ(first.assembly, "r0 = 1\nexit\n");
  EXPECT_TRUE(first.is_assembly());
  EXPECT_EQ(first.registers_in, (std::vector<RegisterValue>{{1, 5}, {2, 0x10}, {3, UINT64_MAX}}));
  EXPECT_EQ(first.memory, (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(first.budget, 100u);
  EXPECT_EQ(first.expect, Expectation::Registers);
  EXPECT_EQ(first.registers_out, (std::vector<RegisterValue>{{0, 1}, {10, uint64_t{2} << 32}}));
  EXPECT_EQ(first.compute_units, 2u);
  const auto& second = (*cases)[1];
  EXPECT_EQ(second.dialect, &isa::kLinuxV4);
  EXPECT_EQ(second.bytes.size(), 8u);
  EXPECT_FALSE(second.memory.has_value());
  EXPECT_EQ(second.expect, Expectation::Rejects);
  EXPECT_EQ(second.error, "bad_opcode");
  const auto& third = (*cases)[2];
  EXPECT_EQ(third.bytes.size(), 16u);
  EXPECT_EQ(third.expect, Expectation::Fault);
  EXPECT_EQ(third.error, "DivideByZero");
  EXPECT_EQ(third.pc, 1u);
}

// Each malformed input gives its file and line and says what is wrong.
TEST(InsnCorpusParser, MistakesNameFileAndLine) {
  struct Bad {
    const char* text;
    uint32_t line;
    const char* says;
  };
  const Bad bad[] = {
      {"dialect: linux\n", 1, "before the first `case:`"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: r0=0\ncase: a\n", 5, "twice"},
      {"case: a b\n", 1, "letters, digits and _"},
      {"case: a\ndialect: linux-v9\n", 2, "unknown dialect"},
      {"case: a\ndialect: linux\n  exit\n", 3, "outside an asm: or hex: block"},
      {"case: a\ndialect: linux\nhex: 9g\n", 3, "hex bytes"},
      {"case: a\ndialect: linux\nasm: exit\nasm: exit\n", 4, "a second program"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: r11=0\n", 4, "rN=VALUE"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: r0=zero\n", 4, "rN=VALUE"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: fault DivideByZero\n", 4, "fault NAME pc=N"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: rejects\n", 4, "rejects NAME"},
      {"case: a\ndialect: linux\nasm: exit\nexpect: r0=0\nexpect: r0=1\n", 5, "a second expect"},
      {"case: a\ndialect: linux\nasm: exit\nbudget: lots\n", 4, "expects a number"},
      {"case: a\ndialect: linux\nasm: exit\nregisters: r0=1\n", 4, "unknown key"},
      {"case: a\ndialect: linux\nasm exit\n", 3, "key: value"},
      {"case: a\nasm: exit\nexpect: r0=0\n", 1, "no dialect"},
      {"case: a\ndialect: linux\nexpect: r0=0\n", 1, "no program"},
      {"case: a\ndialect: linux\nhex: 95 00 00 00\nexpect: r0=0\n", 1, "8-byte slots"},
      {"case: a\ndialect: linux\nasm: exit\n\ncase: b\n", 1, "no expect"},
  };
  for (const Bad& b : bad) {
    auto cases = parse_insn_corpus(b.text, "bad.instr");
    ASSERT_FALSE(cases.has_value()) << b.text;
    const Error& error = cases.error();
    EXPECT_EQ(error.location.input, "bad.instr") << b.text;
    EXPECT_EQ(error.location.line, b.line) << b.text << to_string(error);
    EXPECT_NE(error.message.find(b.says), std::string::npos) << b.text << to_string(error);
    EXPECT_EQ(to_string(error).rfind("bad.instr:" + std::to_string(b.line) + ":", 0), 0u) << to_string(error);
  }
}

TEST(InsnCorpusParser, EmptyFileHasNoCases) {
  auto cases = parse_insn_corpus("# nothing here\n\n", "empty.instr");
  ASSERT_TRUE(cases.has_value());
  EXPECT_TRUE(cases->empty());
}

}  // namespace
}  // namespace bpfkit
