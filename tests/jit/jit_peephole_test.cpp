// The JIT's peepholes and code layout: each gives the interpreter's results on the values
// where it could go wrong, and each is checked to still shape the code
// (a listing of the instruction's bytes), so that it cannot silently stop
// applying.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "compare.hpp"
#include "random_program.hpp"

namespace bpfkit {
namespace {

using test::assemble;
using test::code_at;

const uint64_t kValues[] = {0,           1,           2,          0x7fffffff, 0x80000000,         0xffffffff,
                            0x100000000, 0x17fffffff, UINT64_MAX, INT64_MAX,  0x8000000000000000, 0xffffffff00000000};

// `alu` then `jump` (with 0) on r1 holding each value, r2 each value:
// r0 tells whether the jump was taken.
void expect_alu_then_jump_like_interpreter(const std::string& alu, const std::string& jump) {
  for (const uint64_t value : kValues) {
    for (const uint64_t operand : {uint64_t{0}, uint64_t{1}, UINT64_MAX, uint64_t{0x80000000}, value}) {
      SCOPED_TRACE(alu + " / " + jump + " r1=" + std::to_string(value) + " r2=" + std::to_string(operand));
      test::expect_same_run(assemble("lddw %r1, " + std::to_string(value) + "\nlddw %r2, " + std::to_string(operand) +
                                     "\nmov %r0, 0\n" + alu + "\n" + jump + " %r1, 0, +1\nmov %r0, 1\nexit\n"),
                            {});
    }
  }
}

// The jump is at pc 6 (two lddw, a mov, the ALU operation).
constexpr uint32_t kJumpPc = 6;

TEST(JitPeephole, ZeroCompareAfterAluUsesItsFlags) {
  const char* const kAlu[] = {"add %r1, %r2",   "sub %r1, 1", "sub %r1, %r2",   "and %r1, %r2", "or %r1, %r2",
                              "xor %r1, %r2",   "neg %r1",    "add32 %r1, %r2", "sub32 %r1, 1", "and32 %r1, %r2",
                              "xor32 %r1, %r2", "neg32 %r1",  "add %r1, -1",    "or32 %r1, 0"};
  const char* const kJumps[] = {"jeq",   "jne",   "jgt",   "jle",   "jslt",   "jsge",
                                "jeq32", "jne32", "jgt32", "jle32", "jslt32", "jsge32"};
  for (const char* alu : kAlu)
    for (const char* jump : kJumps) expect_alu_then_jump_like_interpreter(alu, jump);
}

TEST(JitPeephole, ZeroCompareAfterAluEmitsNoCompare) {
  for (const char* jump : {"jeq", "jne", "jgt", "jle", "jslt", "jsge"}) {
    SCOPED_TRACE(jump);
    const std::string code = code_at(assemble(std::string("lddw %r1, 5\nlddw %r2, 1\nmov %r0, 0\nsub %r1, %r2\n") +
                                              jump + " %r1, 0, +1\nmov %r0, 1\nexit\n"),
                                     kJumpPc);
    EXPECT_EQ(code.find("cmp"), std::string::npos) << code;
    EXPECT_EQ(code.find("test"), std::string::npos) << code;
  }
  // A 32-bit result, zero-extended: its flags tell zero at 64 bits too.
  const std::string code = code_at(assemble("lddw %r1, 5\nlddw %r2, 1\nmov %r0, 0\nsub32 %r1, %r2\njne %r1, 0, +1\n"
                                            "mov %r0, 1\nexit\n"),
                                   kJumpPc);
  EXPECT_EQ(code.find("cmp"), std::string::npos) << code;
}

// Where the flags do not tell: the compare stays.
TEST(JitPeephole, ZeroCompareKeptWhereFlagsDoNotTell) {
  const char* const kCases[] = {
      "mul %r1, %r2\njeq %r1, 0, +1",     // imul leaves ZF undefined
      "add %r1, %r2\njeq32 %r1, 0, +1",   // a 64-bit result's low half
      "add32 %r1, %r2\njslt %r1, 0, +1",  // the sign of a zero-extended value
      "add %r3, %r2\njeq %r1, 0, +1",     // another register
      "add %r1, %r2\njeq %r1, 1, +1",     // not zero
      "lsh %r1, %r2\njeq %r1, 0, +1",     // a shift by 0 leaves the flags
      "add %r1, %r2\njsgt %r1, 0, +1",    // needs OF clear
  };
  for (const char* alu_and_jump : kCases) {
    SCOPED_TRACE(alu_and_jump);
    const std::string program =
        std::string("lddw %r1, 5\nlddw %r2, 1\nmov %r0, 0\n") + alu_and_jump + "\nmov %r0, 1\nexit\n";
    const std::string code = code_at(assemble(program), kJumpPc);
    EXPECT_TRUE(code.find("cmp") != std::string::npos || code.find("test") != std::string::npos) << code;
    for (const uint64_t value : kValues) {
      const std::string with_value = "lddw %r1, " + std::to_string(value) + program.substr(program.find('\n'));
      test::expect_same_run(assemble(with_value), {});
    }
  }
}

// A jump into the middle of the pair (a block boundary) keeps both
// instructions: the compare is emitted after a block start.
TEST(JitPeephole, ZeroCompareAtABlockStartKeepsTheCompare) {
  const isa::Program program =
      assemble("lddw %r1, 5\nmov %r0, 0\nsub %r1, 5\nja +0\njeq %r1, 0, +1\nmov %r0, 1\nexit\n");
  EXPECT_NE(code_at(program, 5).find("cmp"), std::string::npos);
  test::expect_same_run(program, {});
}

TEST(JitPeephole, MovThenAddIsOneLea) {
  const char* const kPairs[] = {"mov %r3, %r1\nadd %r3, %r2",
                                "mov %r3, %r1\nadd %r3, %r3",
                                "mov %r3, %r1\nadd %r3, -7",
                                "mov32 %r3, %r1\nadd32 %r3, %r2",
                                "mov32 %r3, %r1\nadd32 %r3, 0x7fffffff",
                                "mov %r3, %r1\nadd %r3, %r1"};
  for (const char* pair : kPairs) {
    SCOPED_TRACE(pair);
    // r1 and r2 take each value; r0 is r3 after the pair.
    for (const uint64_t value : kValues) {
      const std::string program = "lddw %r1, " + std::to_string(value) + "\nlddw %r2, " + std::to_string(~value) +
                                  "\nlddw %r3, 99\n" + pair + "\nmov %r0, %r3\nexit\n";
      test::expect_same_run(assemble(program), {});
    }
    const std::string code = code_at(assemble(std::string("mov %r1, 1\nmov %r2, 2\n") + pair + "\nexit\n"), 2);
    EXPECT_NE(code.find("lea"), std::string::npos) << code;
    EXPECT_EQ(code_at(assemble(std::string("mov %r1, 1\nmov %r2, 2\n") + pair + "\nexit\n"), 3), "");
  }
}

// Folded in the hot copy; the metered copy (the budget ends inside the
// block) runs the two one at a time, and a budget ending between them
// fails at the add as in the interpreter. A jump to the add makes it a
// block of its own: no folding.
TEST(JitPeephole, MovThenAddAcrossABlockOrBudgetStaysTwo) {
  const isa::Program program =
      assemble("mov %r1, 1\nmov %r2, 2\nja +0\nmov %r3, %r1\nadd %r3, %r2\nmov %r0, %r3\nexit\n");
  EXPECT_NE(code_at(program, 3).find("lea"), std::string::npos);
  const isa::Program split =
      assemble("mov %r1, 1\nmov %r2, 2\nja +1\nmov %r3, %r1\nadd %r3, %r2\nmov %r0, %r3\nexit\n");
  EXPECT_EQ(code_at(split, 3).find("lea"), std::string::npos);
  EXPECT_NE(code_at(split, 4).find("add"), std::string::npos);
  for (uint64_t budget = 1; budget <= 8; ++budget) {
    test::expect_same_run(program, {}, budget);
    test::expect_same_run(split, {}, budget);
  }
}

// The address of the first instruction of `listing` (disassemble_x86's
// "  addr:  bytes  insn" lines) that is not a nop.
uint64_t first_non_nop(const std::string& listing) {
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line))
    if (line.find("nop") == std::string::npos) return std::stoull(line, nullptr, 16);
  return 1;
}

// The address a jump's listing line goes to (its last operand).
uint64_t jump_target(const std::string& listing) {
  const size_t at = listing.rfind("0x");
  return at == std::string::npos ? 1 : std::stoull(listing.substr(at), nullptr, 16);
}

// The target of a backward jump starts on a 16-byte boundary whatever
// code comes before it (nops in front, listed with the loop's first
// instruction), and the loops still run as in the interpreter. A loop
// the JIT versions (loop_version.cpp) has its entry check first: the copy
// its back edge goes to is the one aligned.
TEST(JitPeephole, LoopHeadersAreAligned) {
  for (int filler = 0; filler < 16; ++filler) {
    SCOPED_TRACE(filler);
    std::string text = "mov %r0, 0\nmov %r1, 10\n";
    for (int i = 0; i < filler; ++i) text += i % 2 ? "add %r0, 3\n" : "mov32 %r2, %r0\n";
    text += "loop:\nadd %r0, %r1\nsub %r1, 1\njne %r1, 0, loop\nexit\n";
    const isa::Program program = assemble(text);
    const auto header = static_cast<uint32_t>(2 + filler);
    const std::string back_edge = code_at(program, header + 2);
    EXPECT_EQ(jump_target(back_edge) % 16, 0u) << back_edge;
    test::expect_same_run(program, {});
    for (uint64_t budget = 1; budget < 40; budget += 3) test::expect_same_run(program, {}, budget);
    // The same loop stepping by a register: not versioned, its header aligned.
    std::string by_register = text;
    by_register.replace(by_register.find("sub %r1, 1"), 10, "sub %r1, %r3");
    by_register.replace(by_register.find("mov %r1, 10"), 11, "mov %r1, 10\nmov %r3, 1");
    const isa::Program metered = assemble(by_register);
    EXPECT_EQ(first_non_nop(code_at(metered, header + 1)) % 16, 0u) << code_at(metered, header + 1);
    test::expect_same_run(metered, {});
    for (uint64_t budget = 1; budget < 40; budget += 3) test::expect_same_run(metered, {}, budget);
  }
}

// A listing line's address, length and text ("  ADDR:  BYTES   TEXT").
struct ListedInstruction {
  uint64_t address = 0;
  size_t length = 0;
  std::string text;
};

std::vector<ListedInstruction> listed(const std::string& listing) {
  std::vector<ListedInstruction> out;
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string address, bytes;
    fields >> address >> bytes;
    std::string text;
    std::getline(fields, text);
    text.erase(0, text.find_first_not_of(' '));
    out.push_back({std::stoull(address, nullptr, 16), bytes.size() / 2, text});
  }
  return out;
}

// Every BPF jump's x86 jump, with the compare fused to it, and every
// block's meter (`sub r11, n` and its jbe) lies inside one 32-byte window
// and does not end on its boundary (keep_off_boundary: the JCC erratum),
// on random programs with loops, and the programs run as in the interpreter.
TEST(JitPeephole, JumpsStayOffThirtyTwoByteBoundaries) {
  size_t checked = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    auto program = isa::decode(testing::random_program(seed, {.counted_loops = true}));
    ASSERT_TRUE(program.has_value());
    vm::Context context;
    auto jit = jit::Jit::create(*program, context);
    ASSERT_TRUE(jit.has_value());
    for (const jit::CodeRange& range : jit->ranges()) {
      const isa::Semantics sem = isa::semantics(*program->ops[range.pc], *program->dialect);
      const bool jump = sem.operation == isa::Operation::Jump || sem.operation == isa::Operation::JumpIf;
      const std::vector<ListedInstruction> code = listed(jit::disassemble_x86(
          jit->code().subspan(range.begin, range.end - range.begin), jit->code_address() + range.begin));
      for (size_t i = 0; i < code.size(); ++i) {
        if (code[i].text[0] != 'j') continue;
        const bool fused = i > 0 && code[i - 1].address + code[i - 1].length == code[i].address &&
                           (code[i - 1].text.starts_with("cmp") || code[i - 1].text.starts_with("test") ||
                            code[i - 1].text.starts_with("sub r11"));
        const bool meter = fused && code[i - 1].text.starts_with("sub r11");
        if (!meter && !(jump && i + 2 >= code.size())) continue;  // a BPF jump's own: at its range's end
        const uint64_t start = fused ? code[i - 1].address : code[i].address;
        const uint64_t end = code[i].address + code[i].length;
        EXPECT_TRUE(start / 32 == (end - 1) / 32 && end % 32 != 0)
            << "seed " << seed << " pc " << range.pc << ": " << code[i].text;
        ++checked;
      }
    }
    test::expect_same_run(*program, std::vector<uint8_t>(64, 7));
  }
  EXPECT_GT(checked, 500u);
}

// A short loop whose back edge would cross a 32-byte boundary moves 16
// bytes along instead of taking nops before its compare (emit_loop_copy):
// whatever code comes before it, nothing in its body after its first
// instruction (which holds the entry check and alignment) is a nop.
TEST(JitPeephole, ShortLoopsTakeNoNopsInsideTheirBody) {
  for (int filler = 0; filler < 32; ++filler) {
    SCOPED_TRACE(filler);
    std::string text = "mov %r0, 0\nmov %r9, %r1\nmov %r1, 0\n";
    for (int i = 0; i < filler; ++i) text += i % 3 ? "add %r0, 3\n" : "mov32 %r2, %r0\n";
    text +=
        "loop:\nmov %r7, %r9\nadd %r7, %r1\nldxh %r7, [%r7+0]\nbe16 %r7\nadd %r0, %r7\nadd %r1, 2\n"
        "jlt %r1, 0x5da, loop\nexit\n";
    const isa::Program program = assemble(text);
    const auto header = static_cast<uint32_t>(3 + filler);
    for (uint32_t pc = header + 1; pc <= header + 6; ++pc) {
      const std::string code = code_at(program, pc);
      EXPECT_EQ(code.find("nop"), std::string::npos) << "pc " << pc << "\n" << code;
    }
    test::expect_same_run(program, std::vector<uint8_t>(1500, 3));
  }
}

// A misaligned atomic (the kernel's verifier refuses it; a raw program may
// make it) runs its operation without the lock prefix, out of line: locked
// across a cache line it is a bus lock, for which the kernel makes the
// process sleep (fuzz_jit inputs took 19 and 27 s). Every operation and
// width, at every offset of a 16-byte window (some cross a cache line,
// wherever the stack lies), gives the interpreter's memory and registers;
// an aligned one keeps its lock.
TEST(JitPeephole, AMisalignedAtomicTakesNoLock) {
  const char* const kOperations[] = {"add",       "fetch add", "or",        "fetch or", "and",
                                     "fetch and", "xor",       "fetch xor", "xchg",     "cmpxchg"};
  for (const char* operation : kOperations)
    for (const char* width : {"", "32"})
      for (int offset = -64; offset < -48; ++offset) {
        const std::string atomic =
            std::string("lock ") + operation + width + " [%r10" + std::to_string(offset) + "], %r1";
        SCOPED_TRACE(atomic);
        const std::string text =
            "lddw %r2, 0x8877665544332211\nstxdw [%r10-64], %r2\nstxdw [%r10-56], %r2\n"
            "stxdw [%r10-48], %r2\nlddw %r1, 0x0102030405060708\nlddw %r0, 0x1122334455667788\n" +
            atomic + "\nldxdw %r3, [%r10-64]\nldxdw %r4, [%r10-56]\nldxdw %r5, [%r10-48]\nexit\n";
        const isa::Program program = assemble(text);
        test::expect_same_run(program, {});
        const std::string code = code_at(program, 9);  // the atomic, after three lddw and three stores
        EXPECT_NE(code.find("test cl"), std::string::npos) << code;
        EXPECT_NE(code.find(std::string(operation) == "xchg" ? "xchg" : "lock"), std::string::npos) << code;
      }
}

// The prologue and the exit copy the State's shared part with vector
// moves: rep movsq's start-up doubled a short program's run (bpfkit run
// socket_filter.o --packet --repeat under --engine jit: 97 to 64 ns).
TEST(JitPeephole, EntryAndExitCopyTheStateWithoutRepMovs) {
  const isa::Program program = assemble("mov %r0, 42\nexit\n");
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  ASSERT_TRUE(jit.has_value());
  const std::string text = jit::listing(*jit, [](uint32_t) { return std::string(); });
  EXPECT_EQ(text.find("rep"), std::string::npos) << text;
  EXPECT_NE(text.find("movdqu"), std::string::npos) << text;
  EXPECT_EQ(jit->run(context).r0, 42u);
}

// mov a, b; rsh a, W - L; lsh b, L; or b, a: the last two are one rol; a
// keeps b >> (W - L). Counts at both ends, both widths.
TEST(JitPeephole, RotateIdiomIsOneRol) {
  const char* const kRotates[] = {"mov %r3, %r1\nrsh %r3, 33\nlsh %r1, 31\nor %r1, %r3",
                                  "mov %r3, %r1\nrsh %r3, 63\nlsh %r1, 1\nor %r1, %r3",
                                  "mov %r3, %r1\nrsh %r3, 1\nlsh %r1, 63\nor %r1, %r3",
                                  "mov32 %r3, %r1\nrsh32 %r3, 27\nlsh32 %r1, 5\nor32 %r1, %r3",
                                  "mov32 %r3, %r1\nrsh32 %r3, 31\nlsh32 %r1, 1\nor32 %r1, %r3"};
  for (const char* rotate : kRotates) {
    SCOPED_TRACE(rotate);
    for (const uint64_t value : kValues) {
      // r0 = r1 ^ r3 after the idiom (both are checked, through r0 and the registers).
      const std::string program =
          "lddw %r1, " + std::to_string(value) + "\n" + rotate + "\nmov %r0, %r1\nxor %r0, %r3\nexit\n";
      test::expect_same_run(assemble(program), {});
    }
    const isa::Program program = assemble(std::string("mov %r1, 1\n") + rotate + "\nexit\n");
    const std::string code = code_at(program, 3);
    EXPECT_NE(code.find("rol"), std::string::npos) << code;
    EXPECT_EQ(code_at(program, 4), "");
    for (uint64_t budget = 1; budget <= 6; ++budget) test::expect_same_run(program, {}, budget);
  }
}

// Near misses of the idiom stay shifts and an or.
TEST(JitPeephole, RotateNearMissesStayShifts) {
  const char* const kNearMisses[] = {
      "mov %r3, %r1\nrsh %r3, 32\nlsh %r1, 31\nor %r1, %r3",       // counts do not add to 64
      "mov %r3, %r2\nrsh %r3, 33\nlsh %r1, 31\nor %r1, %r3",       // another source
      "mov %r3, %r1\nrsh %r3, 33\nlsh %r1, 31\nor %r1, %r2",       // or of another register
      "mov %r3, %r1\nrsh32 %r3, 27\nlsh32 %r1, 5\nor32 %r1, %r3",  // a 64-bit mov
      "mov %r3, %r1\narsh %r3, 33\nlsh %r1, 31\nor %r1, %r3",      // arithmetic shift
  };
  for (const char* near_miss : kNearMisses) {
    SCOPED_TRACE(near_miss);
    const isa::Program program = assemble(std::string("mov %r1, 1\n") + near_miss + "\nexit\n");
    EXPECT_EQ(code_at(program, 3).find("rol"), std::string::npos);
    for (const uint64_t value : kValues)
      test::expect_same_run(assemble("lddw %r1, " + std::to_string(value) + "\nlddw %r2, 77\n" + near_miss +
                                     "\nmov %r0, %r1\nxor %r0, %r3\nexit\n"),
                            {});
  }
}

// A checked load or store compares address + size with its region's end
// once (the index bounds and the limit in one compare); the exact check is
// in the cold path. Semantics: Jit.InlineCheckRefusesAliasesAndWraps.
TEST(JitPeephole, RegionCheckIsOneCompare) {
  for (const char* access : {"ldxdw %r0, [%r1+8]", "stxw [%r1+4], %r0", "ldxb %r0, [%r1-1]"}) {
    SCOPED_TRACE(access);
    const std::string code = code_at(assemble(std::string("mov %r0, 0\n") + access + "\nexit\n"), 1);
    size_t compares = 0, lines = 0;
    for (size_t at = code.find("cmp"); at != std::string::npos; at = code.find("cmp", at + 1)) ++compares;
    for (const char c : code) lines += c == '\n';
    EXPECT_EQ(compares, 1u) << code;
    EXPECT_LE(lines, 9u) << code;  // lea, mov, shr, and, lea, cmp, jae, add, and the access
  }
}

// Accesses of a block through one base register: the first checks the
// whole range, the others have no compare. A write to the base between
// them keeps the second's own check. Faults: Jit.MergedChecksFaultAtTheFaultingAccess.
TEST(JitPeephole, AccessesThroughOneBaseShareOneCheck) {
  const isa::Program merged =
      assemble("mov %r0, 0\nldxdw %r2, [%r1+8]\nadd %r0, %r2\nldxw %r3, [%r1-4]\nstxb [%r1+40], %r3\nexit\n");
  EXPECT_NE(code_at(merged, 1).find("cmp"), std::string::npos) << code_at(merged, 1);
  for (const uint32_t pc : {3u, 4u})
    EXPECT_EQ(code_at(merged, pc).find("cmp"), std::string::npos) << code_at(merged, pc);
  const isa::Program split = assemble("mov %r0, 0\nldxdw %r2, [%r1+8]\nadd %r1, 8\nldxw %r3, [%r1-4]\nexit\n");
  EXPECT_NE(code_at(split, 3).find("cmp"), std::string::npos) << code_at(split, 3);
}

// An access through a register the code shows to point into the input
// (r1 at entry, moved, added to, spilled and reloaded) is checked against
// that region alone: a subtraction and a compare at fixed offsets, no
// region index. One through a register loaded from memory keeps the
// indexed check. Semantics: Jit.GuessedRegionChecksAreExact.
TEST(JitPeephole, AccessThroughAGuessedRegionSkipsTheRegionIndex) {
  const isa::Program guessed = assemble(
      "mov %r2, %r1\nadd %r2, 8\nstxdw [%r10-16], %r2\nmov %r2, 0\nldxdw %r3, [%r10-16]\n"
      "ldxb %r0, [%r3+1]\nexit\n");
  const std::string code = code_at(guessed, 5);
  EXPECT_NE(code.find("sub"), std::string::npos) << code;
  EXPECT_EQ(code.find("rdx"), std::string::npos) << code;
  const isa::Program unknown = assemble("ldxdw %r3, [%r1+0]\nldxb %r0, [%r3+1]\nexit\n");
  EXPECT_NE(code_at(unknown, 1).find("rdx*8"), std::string::npos) << code_at(unknown, 1);
}

// be16 or le16 right after a 16- or 8-bit load of the same register: the
// load zero-extended, so no movzx follows the swap.
TEST(JitPeephole, ByteSwapAfterNarrowLoadSkipsTheZeroExtension) {
  const uint8_t input[] = {0x12, 0x34, 0xfe, 0xdc, 0x80, 0x01, 0xff, 0xff};
  for (const char* pair : {"ldxh %r0, [%r1+2]\nbe16 %r0", "ldxh %r0, [%r1+6]\nbe16 %r0", "ldxb %r0, [%r1+4]\nbe16 %r0",
                           "ldxh %r0, [%r1+2]\nle16 %r0"}) {
    SCOPED_TRACE(pair);
    const isa::Program program = assemble(std::string("mov %r0, -1\n") + pair + "\nexit\n");
    test::expect_same_run(program, input);
    for (uint64_t budget = 1; budget <= 4; ++budget) test::expect_same_run(program, input, budget);
    EXPECT_EQ(code_at(program, 2).find("movzx"), std::string::npos) << code_at(program, 2);
  }
  // After another register's load, or a 32-bit one, the zero-extension stays.
  for (const char* pair : {"ldxh %r2, [%r1+2]\nbe16 %r0", "ldxw %r0, [%r1+2]\nbe16 %r0"}) {
    SCOPED_TRACE(pair);
    const isa::Program program = assemble(std::string("lddw %r0, 0x1122334455667788\n") + pair + "\nexit\n");
    test::expect_same_run(program, input);
    EXPECT_NE(code_at(program, 3).find("movzx"), std::string::npos) << code_at(program, 3);
  }
}

// A mov between the ALU operation and the compare leaves the flags (but not
// when it writes the compared register).
TEST(JitPeephole, ZeroCompareSeesThroughAMovOfAnotherRegister) {
  for (const char* mov : {"mov %r3, %r0", "mov %r3, 7", "mov32 %r3, %r2", "mov %r3, %r0\nadd %r3, %r2"}) {
    SCOPED_TRACE(mov);
    const std::string tail = std::string("\nmov %r0, 0\nsub %r1, 1\n") + mov + "\njne %r1, 0, +1\nmov %r0, 1\nexit\n";
    for (const uint64_t value : {uint64_t{0}, uint64_t{1}, uint64_t{2}, UINT64_MAX}) {
      const isa::Program program = assemble("lddw %r1, " + std::to_string(value) + tail);
      test::expect_same_run(program, {});
      test::expect_same_run(program, {}, std::nullopt, {.harden = true});
    }
    const isa::Program program = assemble("lddw %r1, 1" + tail);
    const auto jump = static_cast<uint32_t>(program.size() - 3);
    EXPECT_EQ(code_at(program, jump).find("cmp"), std::string::npos) << code_at(program, jump);
  }
  const isa::Program overwritten = assemble("mov %r0, 0\nsub %r1, 1\nmov %r1, %r0\njne %r1, 0, +1\nmov %r0, 1\nexit\n");
  EXPECT_NE(code_at(overwritten, 3).find("cmp"), std::string::npos);
  test::expect_same_run(overwritten, {});
}

// clang's loop shape `if cond goto +1; goto loop`: the goto joins the
// jump's block (one meter for both, its count given back when cond holds).
// Counts, every budget's failure point and a fault inside the block stay
// the interpreter's.
TEST(JitPeephole, GotoAfterAConditionalJumpOverItJoinsItsBlock) {
  for (const char* jump : {"jeq %r1, 0, +1", "jle %r1, 0, +1", "jeq %r1, 3, +1", "jsgt %r2, %r1, +1", "jset %r1, 8, +1",
                           "jlt32 %r1, 1, +1", "jsle %r1, -1, +1"}) {
    SCOPED_TRACE(jump);
    const std::string text = std::string("mov %r0, 0\nmov %r1, 10\nmov %r2, 4\nloop:\nadd %r0, %r1\nsub %r1, 1\n") +
                             jump + "\nja loop\nexit\n";
    const isa::Program program = assemble(text);
    EXPECT_EQ(code_at(program, 6), "");  // the goto's work is in the jump's code
    const std::string code = code_at(program, 5);
    EXPECT_NE(code.find("add r11, 1"), std::string::npos) << code;
    test::expect_same_run(program, {});
    for (uint64_t budget = 1; budget <= 60; ++budget) test::expect_same_run(program, {}, budget);
    // A fault before the jump in the joined block: the goto is not counted.
    const std::string faulting = std::string(
                                     "mov %r0, 0\nmov %r1, 10\nmov %r2, 4\nloop:\nadd %r0, %r1\nsub %r1, 1\n"
                                     "jne %r1, 7, +1\nldxdw %r3, [%r0+0]\n") +
                                 jump + "\nja loop\nexit\n";
    test::expect_same_run(assemble(faulting), {});
  }
  // The goto is a jump target: it keeps its own block.
  const isa::Program entered =
      assemble("mov %r1, 3\nloop:\nsub %r1, 1\njeq %r1, 0, +1\nja loop\njeq %r1, 9, -2\nexit\n");
  EXPECT_NE(code_at(entered, 3).find("jmp"), std::string::npos) << code_at(entered, 3);
  test::expect_same_run(entered, {});
}

}  // namespace
}  // namespace bpfkit
