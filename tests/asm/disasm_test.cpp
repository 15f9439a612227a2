// Module asm, disassembler: the shared corpus's objdump listings, line by line
// and as whole listings, in both syntaxes; every table row; unknown slots;
// number corner cases; labels and raw bytes.
//
// The expected text comes from the reference tools' own output
// (../shared/asm-corpus/*objdump*.txt), never from the opcode table.
#include <gtest/gtest.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/isa.hpp"
#include "test_support.hpp"

namespace bpfkit::assembly {
namespace {

using isa::Op;
using isa::Slot;

const std::filesystem::path kCorpus = std::filesystem::path(BPFKIT_SHARED_DIR) / "asm-corpus";

using test::read_text;

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

using test::read_hex_slots;

struct ListingLine {
  size_t slot;
  std::string text;  // the instruction text, as the tool printed it
};

bool all_of(std::string_view text, std::string_view allowed) {
  return !text.empty() && text.find_first_not_of(allowed) == std::string_view::npos;
}

// llvm-objdump: "      72:\t18 01 ... 00\tr1 = 0x123 ll" (decimal slot index).
// The text may hold a tab itself (`ld_pseudo\tr1, ...`).
std::vector<ListingLine> llvm_lines(const std::filesystem::path& path) {
  std::vector<ListingLine> out;
  for (const std::string& line : read_lines(path)) {
    const size_t colon = line.find(":\t");
    if (colon == std::string::npos || !all_of(line.substr(0, colon), " 0123456789")) continue;
    const size_t text = line.find('\t', colon + 2);
    out.push_back({std::stoul(line.substr(0, colon)), line.substr(text + 1)});
  }
  return out;
}

// GNU objdump: " 240:\t18 01 00 00 23 01 00 00 \tlddw %r1,291" (hex byte
// offset); an lddw's second slot is a line of bytes without text.
std::vector<ListingLine> gnu_lines(const std::filesystem::path& path) {
  std::vector<ListingLine> out;
  for (const std::string& line : read_lines(path)) {
    const size_t colon = line.find(":\t");
    if (colon == std::string::npos || !all_of(line.substr(0, colon), " 0123456789abcdef")) continue;
    const size_t text = line.find(" \t", colon + 2);
    if (text == std::string::npos) continue;
    out.push_back({std::stoul(line.substr(0, colon), nullptr, 16) / sizeof(Slot), line.substr(text + 2)});
  }
  return out;
}

// The tool's listing from the symbol line on, as disassemble() writes it.
std::string listing_body(const std::filesystem::path& path, std::string_view symbol_line) {
  const std::string text = read_text(path);
  const size_t start = text.find(symbol_line);
  return start == std::string::npos ? "" : text.substr(start);
}

// "goto +0x1 <corpus_core+0x408>" -> "goto +0x1": format_instruction has no
// symbols. (The note is last; "if w6 < w1" has a " <" of its own.)
std::string without_target_note(const std::string& text) {
  return text.ends_with('>') ? text.substr(0, text.rfind(" <")) : text;
}

DisassemblyOptions objdump_options(Syntax syntax, std::string symbol) {
  DisassemblyOptions options;
  options.syntax = syntax;
  options.raw = true;
  options.labels = false;
  options.symbol = std::move(symbol);
  return options;
}

// ---- The corpus: llvm-objdump-19 --mcpu=v4 ---------------------------------------

TEST(DisasmCorpus, CorePseudoCMatchesLlvmObjdumpLineByLine) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "core.expected.hex");
  const std::vector<ListingLine> lines = llvm_lines(kCorpus / "core.llvm-objdump.txt");
  ASSERT_EQ(slots.size(), 191u);
  ASSERT_EQ(lines.size(), 186u);  // 191 slots, 5 of them the second half of an lddw
  for (const ListingLine& line : lines)
    EXPECT_EQ(format_instruction(slots, line.slot), without_target_note(line.text)) << "slot " << line.slot;
}

TEST(DisasmCorpus, CorePseudoCListingIsLlvmObjdumps) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "core.expected.hex");
  const std::string expected = listing_body(kCorpus / "core.llvm-objdump.txt", "0000000000000000 <corpus_core>:");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(disassemble(slots, objdump_options(Syntax::PseudoC, "corpus_core")), expected);
}

// llvm-extra has forms that only LLVM takes (ld_pseudo, addr_space_cast,
// may_goto). A line whose form the table lacks must print <unknown>.
TEST(DisasmCorpus, LlvmExtraMatchesWhereTheTableHasTheRow) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "llvm-extra.expected.hex");
  size_t compared = 0, without_row = 0;
  for (const ListingLine& line : llvm_lines(kCorpus / "llvm-extra.llvm-objdump.txt")) {
    if (!isa::lookup(slots[line.slot])) {
      EXPECT_EQ(format_instruction(slots, line.slot), "<unknown>") << "slot " << line.slot;
      ++without_row;
      continue;
    }
    EXPECT_EQ(format_instruction(slots, line.slot), without_target_note(line.text)) << "slot " << line.slot;
    ++compared;
  }
  EXPECT_EQ(compared, 28u);
  EXPECT_EQ(without_row, 0u);
}

TEST(DisasmCorpus, LlvmExtraListingIsLlvmObjdumps) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "llvm-extra.expected.hex");
  const std::string expected = listing_body(kCorpus / "llvm-extra.llvm-objdump.txt", "0000000000000000 <llvm_extra>:");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(disassemble(slots, objdump_options(Syntax::PseudoC, "llvm_extra")), expected);
}

// ---- The corpus: GNU objdump 2.46, normal syntax ---------------------------------

TEST(DisasmCorpus, CoreNormalMatchesGnuObjdumpLineByLine) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "core.expected.hex");
  const std::vector<ListingLine> lines = gnu_lines(kCorpus / "core.gnu-objdump.txt");
  ASSERT_EQ(lines.size(), 186u);
  for (const ListingLine& line : lines)
    EXPECT_EQ(format_instruction(slots, line.slot, Syntax::Normal), line.text) << "slot " << line.slot;
}

TEST(DisasmCorpus, CoreNormalListingIsGnuObjdumps) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "core.expected.hex");
  const std::string expected = listing_body(kCorpus / "core.gnu-objdump.txt", "0000000000000000 <corpus_core>:");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(disassemble(slots, objdump_options(Syntax::Normal, "corpus_core")), expected);
}

TEST(DisasmCorpus, GasExtraNormalMatchesGnuObjdump) {
  const std::vector<Slot> slots = read_hex_slots(kCorpus / "gas-extra-normal.expected.hex");
  const std::vector<ListingLine> lines = gnu_lines(kCorpus / "gas-extra-normal.gnu-objdump.txt");
  ASSERT_EQ(lines.size(), 25u);
  for (const ListingLine& line : lines)
    EXPECT_EQ(format_instruction(slots, line.slot, Syntax::Normal), line.text) << "slot " << line.slot;
}

// ---- Every row of the table ----------------------------------------------------

std::vector<Slot> example_of(Op op) {
  if (isa::is_lddw(op)) {
    const auto pair = isa::encode_lddw(1, 0x1122334455667788, op);
    return {pair[0], pair[1]};
  }
  return {isa::encode(op, 1, 2, 8, 16)};
}

TEST(DisasmTable, EveryRowPrintsInBothSyntaxes) {
  for (const isa::OpInfo& row : isa::kOps) {
    if (!isa::is_linux(row)) continue;
    const std::vector<Slot> slots = example_of(row.op);
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
      const std::string text = format_instruction(slots, 0, syntax);
      EXPECT_FALSE(text.empty()) << row.id;
      EXPECT_NE(text, "<unknown>") << row.id;
      EXPECT_EQ(text.find_first_of("{}"), std::string::npos) << row.id << ": unexpanded placeholder in " << text;
    }
  }
}

TEST(DisasmTable, UnknownSlotsPrintUnknown) {
  const Slot bad{0xff, 0, 0, 0};
  EXPECT_EQ(format_instruction(std::vector<Slot>{bad}, 0), "<unknown>");
  EXPECT_EQ(format_instruction(std::vector<Slot>{bad}, 0, Syntax::Normal), "<unknown>");
  // A mov with an offset no row has (0: mov, 1: addr_space_cast, 8/16/32: movsx).
  Slot mov = isa::encode(Op::mov64_reg, 1, 2);
  mov.off = 2;
  EXPECT_EQ(format_instruction(std::vector<Slot>{mov}, 0), "<unknown>");
  // An lddw without its second slot, and a pc past the end.
  const std::vector<Slot> lone{isa::encode_lddw(1, 5)[0]};
  EXPECT_EQ(format_instruction(lone, 0), "<unknown>");
  EXPECT_EQ(format_instruction(lone, 1), "<unknown>");
  EXPECT_EQ(format_instruction({}, 0), "<unknown>");
}

// ---- Numbers at their limits -------------------------------------------------------

std::string pseudo(std::vector<Slot> slots) { return format_instruction(slots, 0); }
std::string normal(std::vector<Slot> slots) { return format_instruction(slots, 0, Syntax::Normal); }

TEST(DisasmNumbers, ExtremesAndSigns) {
  EXPECT_EQ(pseudo({isa::encode(Op::mov64_imm, 1, 0, 0, INT32_MIN)}), "r1 = -0x80000000");
  EXPECT_EQ(normal({isa::encode(Op::mov64_imm, 1, 0, 0, INT32_MIN)}), "mov %r1,-2147483648");
  const auto min64 = isa::encode_lddw(1, 0x8000000000000000);
  EXPECT_EQ(pseudo({min64[0], min64[1]}), "r1 = -0x8000000000000000 ll");
  EXPECT_EQ(normal({min64[0], min64[1]}), "lddw %r1,-9223372036854775808");
  EXPECT_EQ(pseudo({isa::encode(Op::ldxdw, 1, 2, INT16_MIN)}), "r1 = *(u64 *)(r2 - 0x8000)");
  EXPECT_EQ(normal({isa::encode(Op::stxdw, 1, 2, INT16_MIN)}), "stxdw [%r1-32768],%r2");
  EXPECT_EQ(pseudo({isa::encode(Op::ja, 0, 0, INT16_MIN)}), "goto -0x8000");
  EXPECT_EQ(pseudo({isa::encode(Op::gotol, 0, 0, 0, INT32_MAX)}), "gotol +0x7fffffff");
  EXPECT_EQ(pseudo({isa::encode(Op::call_local, 0, 0, 0, -3)}), "call -0x3");
}

// Rows that GNU cannot spell print in pseudo-C in a GNU listing too.
TEST(DisasmTable, RowsWithoutGnuSpellingPrintPseudoC) {
  for (const isa::OpInfo& row : isa::kOps) {
    if (!isa::is_linux(row)) continue;
    if (!row.gnu.empty()) continue;
    const std::vector<Slot> slots = example_of(row.op);
    EXPECT_EQ(format_instruction(slots, 0, Syntax::Normal), format_instruction(slots, 0)) << row.id;
  }
  Slot cast = isa::encode(Op::addr_space_cast, 1, 2, 0, 0x00010002);
  EXPECT_EQ(format_instruction(std::vector<Slot>{cast}, 0, Syntax::Normal), "r1 = addr_space_cast(r2, 0x1, 0x2)");
}

// LLVM has no spelling for ld_ind's imm; a nonzero one prints as GNU writes it.
TEST(DisasmNumbers, LdIndImmediate) {
  EXPECT_EQ(pseudo({isa::encode(Op::ldindw, 0, 1, 0, 0)}), "r0 = *(u32 *)skb[r1]");
  EXPECT_EQ(pseudo({isa::encode(Op::ldindw, 0, 1, 0, 4)}), "r0 = *(u32 *)skb[r1 + 0x4]");
  EXPECT_EQ(pseudo({isa::encode(Op::ldindb, 0, 2, 0, -4)}), "r0 = *(u8 *)skb[r2 - 0x4]");
  EXPECT_EQ(normal({isa::encode(Op::ldindb, 0, 2, 0, -4)}), "ldindb %r2,-4");
}

// ---- Listings: labels, raw bytes, addresses ---------------------------------------

// 0: if r1 == 0 goto 3;  1: r0 = 1;  2: goto 0;  3: call 5;  4: exit;  5: r0 = 7 ll;  7: exit
std::vector<Slot> branchy_program() {
  const auto lddw = isa::encode_lddw(0, 7);
  return {isa::encode(Op::jeq64_imm, 1, 0, 2, 0),
          isa::encode(Op::mov64_imm, 0, 0, 0, 1),
          isa::encode(Op::ja, 0, 0, -3),
          isa::encode(Op::call_local, 0, 0, 0, 1),
          isa::encode(Op::exit),
          lddw[0],
          lddw[1],
          isa::encode(Op::exit)};
}

TEST(DisasmListing, LabelsJumpAndCallTargets) {
  EXPECT_EQ(disassemble(branchy_program()),
            "<L0>:\n"
            "       0:\tif r1 == 0x0 goto +0x2 <L1>\n"
            "       1:\tr0 = 0x1\n"
            "       2:\tgoto -0x3 <L0>\n"
            "<L1>:\n"
            "       3:\tcall 0x1 <L2>\n"
            "       4:\texit\n"
            "<L2>:\n"
            "       5:\tr0 = 0x7 ll\n"
            "       7:\texit\n");
}

TEST(DisasmListing, NormalSyntaxUsesByteOffsets) {
  DisassemblyOptions options;
  options.syntax = Syntax::Normal;
  EXPECT_EQ(disassemble(branchy_program(), options),
            "<L0>:\n"
            "   0:\tjeq %r1,0,2 <L1>\n"
            "   8:\tmov %r0,1\n"
            "  10:\tja -3 <L0>\n"
            "<L1>:\n"
            "  18:\tcall 1 <L2>\n"
            "  20:\texit\n"
            "<L2>:\n"
            "  28:\tlddw %r0,7\n"
            "  38:\texit\n");
}

TEST(DisasmListing, RawBytesBesideEachInstruction) {
  DisassemblyOptions options;
  options.raw = true;
  options.addresses = false;
  options.labels = false;
  const std::vector<Slot> slots = branchy_program();
  const std::span<const Slot> tail = std::span<const Slot>(slots).subspan(4);
  EXPECT_EQ(disassemble(tail, options),
            "95 00 00 00 00 00 00 00\texit\n"
            "18 00 00 00 07 00 00 00 00 00 00 00 00 00 00 00\tr0 = 0x7 ll\n"
            "95 00 00 00 00 00 00 00\texit\n");
  options.syntax = Syntax::Normal;
  options.addresses = true;
  EXPECT_EQ(disassemble(tail, options),
            "   0:\t95 00 00 00 00 00 00 00 \texit\n"
            "   8:\t18 00 00 00 07 00 00 00 \tlddw %r0,7\n"
            "  10:\t00 00 00 00 00 00 00 00 \n"
            "  18:\t95 00 00 00 00 00 00 00 \texit\n");
}

TEST(DisasmListing, TextOnlyKeepsItsColumn) {
  DisassemblyOptions options;
  options.addresses = false;
  EXPECT_EQ(disassemble(std::vector<Slot>{isa::encode(Op::mov64_imm, 0, 0, 0, 42), isa::encode(Op::exit)}, options),
            "\tr0 = 0x2a\n\texit\n");
}

// No label where none can go: outside the program, or inside an lddw. The
// listing goes on after an unknown slot.
TEST(DisasmListing, TargetsWithoutLabelsAndUnknownSlots) {
  const auto lddw = isa::encode_lddw(2, 1);
  const std::vector<Slot> slots{isa::encode(Op::ja, 0, 0, 1),  // into the lddw's second slot
                                lddw[0],
                                lddw[1],
                                isa::encode(Op::ja, 0, 0, 100),
                                Slot{0xff, 0, 0, 0},
                                isa::encode(Op::exit)};
  EXPECT_EQ(disassemble(slots),
            "       0:\tgoto +0x1\n"
            "       1:\tr2 = 0x1 ll\n"
            "       3:\tgoto +0x64\n"
            "       4:\t<unknown>\n"
            "       5:\texit\n");
}

TEST(DisasmListing, SymbolNamesJumpTargetsWithoutLabels) {
  DisassemblyOptions options;
  options.labels = false;
  options.symbol = "prog";
  EXPECT_EQ(disassemble(branchy_program(), options),
            "0000000000000000 <prog>:\n"
            "       0:\tif r1 == 0x0 goto +0x2 <prog+0x18>\n"
            "       1:\tr0 = 0x1\n"
            "       2:\tgoto -0x3 <prog>\n"
            "       3:\tcall 0x1\n"  // llvm-objdump names no target for local calls
            "       4:\texit\n"
            "       5:\tr0 = 0x7 ll\n"
            "       7:\texit\n");
}

}  // namespace
}  // namespace bpfkit::assembly

// ---- sBPF ------------------------------------------------------------------------

namespace bpfkit {
namespace {

TEST(DisasmSbpf, EachVersionListsItsOwnEncodings) {
  isa::Slot load;  // 0x2c: ldxb in v2, mul32 reg elsewhere
  load.code = 0x2c;
  load.set_dst(1);
  load.set_src(2);
  load.off = 8;
  const std::vector<isa::Slot> slots{load};
  EXPECT_EQ(assembly::format_instruction(slots, 0), "<unknown>");  // Linux: mul32 wants offset 0
  EXPECT_EQ(assembly::format_instruction(slots, 0, assembly::Syntax::PseudoC, isa::kSbpfV2), "w1 = *(u8 *)(r2 + 0x8)");
  EXPECT_EQ(assembly::format_instruction(slots, 0, assembly::Syntax::Normal, isa::kSbpfV2), "ldxb %r1,[%r2+8]");
  isa::Slot pqr;  // 0x36: uhmul64 imm in v2, jge32 imm in v3, nothing in v0
  pqr.code = 0x36;
  pqr.set_dst(3);
  pqr.imm = 5;
  EXPECT_EQ(assembly::format_instruction(std::vector<isa::Slot>{pqr}, 0, assembly::Syntax::Normal, isa::kSbpfV2),
            "uhmul64 %r3,5");
  EXPECT_EQ(assembly::format_instruction(std::vector<isa::Slot>{pqr}, 0, assembly::Syntax::PseudoC, isa::kSbpfV0),
            "<unknown>");
}

TEST(DisasmSbpf, CallxShowsTheRegisterItsVersionReads) {
  isa::Slot callx;
  callx.code = 0x8d;
  callx.imm = 3;  // v0, v1
  EXPECT_EQ(assembly::format_instruction(std::vector<isa::Slot>{callx}, 0, assembly::Syntax::PseudoC, isa::kSbpfV0),
            "callx r3");
  callx.imm = 0;
  callx.set_src(4);  // v2
  EXPECT_EQ(assembly::format_instruction(std::vector<isa::Slot>{callx}, 0, assembly::Syntax::PseudoC, isa::kSbpfV2),
            "callx r4");
  callx.set_src(0);
  callx.set_dst(5);  // v3
  EXPECT_EQ(assembly::format_instruction(std::vector<isa::Slot>{callx}, 0, assembly::Syntax::PseudoC, isa::kSbpfV3),
            "callx r5");
}

TEST(DisasmSbpf, CallsByKeyCarryTheirNames) {
  isa::Slot call;
  call.code = 0x85;
  call.imm = static_cast<int32_t>(isa::murmur3_32(std::string_view("sol_log_")));
  isa::Slot exit;
  exit.code = 0x95;
  assembly::DisassemblyOptions options;
  options.dialect = &isa::kSbpfV0;
  options.call_names[isa::murmur3_32(std::string_view("sol_log_"))] = "sol_log_";
  const std::string listing = assembly::disassemble(std::vector<isa::Slot>{call, exit}, options);
  EXPECT_NE(listing.find("<sol_log_>"), std::string::npos) << listing;
}

}  // namespace
}  // namespace bpfkit
