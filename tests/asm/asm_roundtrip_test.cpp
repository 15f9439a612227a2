// Round trips between the disassembler and the assembler: the text that
// format_instruction() and disassemble() write assembles back to the bytes it
// came from, in pseudo-C and in GNU normal syntax. Covered: every opcode
// table row with chosen field values, alone and inside a small program;
// 20000 seeded random instructions and random programs; every object of the
// shared asm corpus; and clang-compiled objects through llvm-objdump's text.
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/isa.hpp"
#include "test_support.hpp"

namespace bpfkit::assembly {
namespace {

namespace fs = std::filesystem;
using isa::Op;
using isa::OpInfo;
using isa::Shape;
using isa::Slot;

const fs::path kShared(BPFKIT_SHARED_DIR);

// ---- Skip lists ------------------------------------------------------------------

// Rows whose text, printed alone, reads back as another row: the syntax has
// no spelling that tells the row apart, so the round trip cannot hold.
//  * call_local: `call 0x1` (pseudo-C) and `call 1` (normal) are helper
//    calls to every assembler (llvm-mc and GNU as too). A listing with
//    labels writes `call L0` instead, which reads back as a local call.
//  * call_kfunc: `call 0x1` again; no assembler syntax has kfunc calls.
//  * lddw_map_fd .. lddw_map_idx_value, normal syntax only: GNU objdump
//    prints `lddw %r1,5` whatever the source register; GNU as has no
//    ld_pseudo. (Pseudo-C writes `ld_pseudo r1, 0x1, 0x5`.)
// Rows GNU cannot spell at all (may_goto, addr_space_cast) print in pseudo-C
// in a normal listing too, and are read back with Syntax::Auto: not skipped.
const std::set<std::string_view> kPseudoSkips = {"call_local", "call_kfunc"};
const std::set<std::string_view> kNormalSkips = {"call_local",  "call_kfunc", "lddw_map_fd",  "lddw_map_value",
                                                 "lddw_btf_id", "lddw_func",  "lddw_map_idx", "lddw_map_idx_value"};
// In listings with labels, local calls to an instruction of the program
// name their target's label, so only these rows stay skipped.
const std::set<std::string_view> kListingPseudoSkips = {"call_kfunc"};
const std::set<std::string_view> kListingNormalSkips = {
    "call_kfunc", "lddw_map_fd", "lddw_map_value", "lddw_btf_id", "lddw_func", "lddw_map_idx", "lddw_map_idx_value"};

const std::set<std::string_view>& skips(Syntax syntax, bool listing) {
  if (listing) return syntax == Syntax::Normal ? kListingNormalSkips : kListingPseudoSkips;
  return syntax == Syntax::Normal ? kNormalSkips : kPseudoSkips;
}

// sBPF-only rows are not Linux instructions: the assembler does not write them.
bool skipped(Op op, Syntax syntax, bool listing) {
  return !isa::is_linux(isa::info(op)) || skips(syntax, listing).contains(isa::info(op).id);
}

// ---- Text and bytes ----------------------------------------------------------------

// 16 hex digits per slot in byte order (as *.expected.hex), slots separated by spaces.
std::string hex_of(std::span<const Slot> slots) {
  std::string out;
  for (uint8_t byte : isa::to_bytes(slots)) {
    if (!out.empty() && out.size() % 17 == 16) out += ' ';
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", byte);
    out += digits;
  }
  return out;
}

// What the assembler makes of a text: its .text slots, or its diagnostics.
struct Reassembly {
  std::vector<Slot> slots;
  std::string errors;
};

Reassembly reassemble(std::string_view text, Syntax syntax) {
  const Assembly assembly = assemble(text, {.syntax = syntax, .input_name = "roundtrip"});
  Reassembly out;
  for (const Error& error : assembly.errors) out.errors += format_diagnostic(error, text);
  if (assembly.ok()) out.slots = section_slots(assembly.object);
  return out;
}

std::string describe(const Reassembly& result) {
  return result.errors.empty() ? hex_of(result.slots) : "errors:\n" + result.errors;
}

// The syntaxes that must read a text printed in `printed`: that syntax, and
// Auto, which tells the two apart statement by statement. A normal listing
// prints rows GNU cannot spell in pseudo-C, so only Auto reads it then.
std::vector<Syntax> readers(std::span<const Slot> slots, Syntax printed) {
  for (const Slot& slot : slots)
    if (auto op = isa::lookup(slot); printed == Syntax::Normal && op && isa::info(*op).gnu.empty())
      return {Syntax::Auto};
  return {printed, Syntax::Auto};
}

const char* name_of(Syntax syntax) {
  switch (syntax) {
    case Syntax::Normal: return "normal";
    case Syntax::PseudoC: return "pseudo-C";
    case Syntax::Auto: return "auto";
    case Syntax::Conformance: return "conformance";
  }
  return "?";
}

// "" when `text` reads back as `expected` in every reader; else the text
// and what the assembler made of it.
std::string text_mismatch(const std::string& text, std::span<const Slot> expected, Syntax printed) {
  for (Syntax syntax : readers(expected, printed)) {
    const Reassembly result = reassemble(text, syntax);
    if (!result.errors.empty() || !std::ranges::equal(result.slots, expected))
      return "\"" + text + "\" read as " + name_of(syntax) + " -> " + describe(result);
  }
  return "";
}

// "" when the instruction at slots[pc] reads back as the same bytes; else
// the row, its bytes, the text and what the assembler made of it.
std::string single_mismatch(std::span<const Slot> slots, size_t pc, Syntax syntax) {
  const Op op = *isa::lookup(slots[pc]);
  const std::span<const Slot> insn = slots.subspan(pc, isa::is_lddw(op) ? 2 : 1);
  const std::string why = text_mismatch(format_instruction(slots, pc, syntax), insn, syntax);
  return why.empty() ? ""
                     : std::string(isa::info(op).id) + ": " + hex_of(insn) + " printed " + name_of(syntax) + " " + why;
}

// The text-only listing with labels: what disassemble() writes as assembler input.
DisassemblyOptions source_listing(Syntax syntax) {
  DisassemblyOptions options;
  options.syntax = syntax;
  options.raw = false;
  options.addresses = false;
  options.labels = true;
  return options;
}

// "" when the whole listing of `slots` reads back as the same bytes.
std::string listing_mismatch(std::span<const Slot> slots, Syntax syntax) {
  const std::string why = text_mismatch(disassemble(slots, source_listing(syntax)), slots, syntax);
  return why.empty() ? "" : std::string(name_of(syntax)) + " listing of " + hex_of(slots) + ": " + why;
}

// ---- Building instructions ------------------------------------------------------------

// Field values for one instruction; a row uses the ones its shape has.
using Fields = test::SampleFields;

// Atomics with the fetch bit write their src register (cmpxchg writes r0).
bool writes_src(const OpInfo& row) {
  return row.shape == Shape::Atomic && (row.value & isa::kAtomicFetch) && row.op != Op::atomic64_cmpxchg &&
         row.op != Op::atomic32_cmpxchg;
}

// r10 is read-only: a register the row writes stops at r9.
uint8_t max_dst(const OpInfo& row) { return isa::writes_dst(row.op) ? 9 : 10; }
uint8_t max_src(const OpInfo& row) { return writes_src(row) ? 9 : 10; }

bool has_target(Shape shape) {
  return shape == Shape::Jump || shape == Shape::JumpLong || shape == Shape::JumpImm || shape == Shape::JumpReg ||
         shape == Shape::CallLocal;
}

// The offset to a target lives in off, or in imm for gotol and local calls.
bool target_in_imm(Shape shape) { return shape == Shape::JumpLong || shape == Shape::CallLocal; }

// The instruction of `row` with the fields its shape uses; the others stay
// zero, as every assembler writes them. ld_pseudo carries a 32-bit value
// (LLVM's `ld_pseudo r1, 2, imm` has no room for the second slot's imm).
std::vector<Slot> instruction(const OpInfo& row, const Fields& f) { return test::sample_instruction(row.op, f); }

// Sets the jump or call offset of a one-slot instruction.
void set_offset(Slot& slot, int64_t offset) {
  if (target_in_imm(isa::info(*isa::lookup(slot)).shape))
    slot.imm = static_cast<int32_t>(offset);
  else
    slot.off = static_cast<int16_t>(offset);
}

// Values at the edges of each field, for the table tests.
constexpr int32_t kImms[] = {-1, 0x7fffffff, INT32_MIN, 0, 1, 42, -4096};
constexpr int16_t kOffs[] = {-32768, 32767, -1, 0, 1, 8, -512};
constexpr uint64_t kImm64s[] = {
    0, ~0ull, 1ull << 63, (1ull << 63) - 1, 1ull << 32, 0x123456789abcdef0, 0xffffffff, 0xffffffff80000000};

// Instance i of a row for the table tests: registers walk 0..10 (dst up,
// src down) within what the row may name, fields walk the edge values.
Fields table_fields(const OpInfo& row, size_t i) {
  Fields f;
  f.dst = static_cast<uint8_t>(i % (max_dst(row) + 1u));
  f.src = static_cast<uint8_t>((10 - i) % (max_src(row) + 1u));
  f.off = kOffs[i % std::size(kOffs)];
  f.imm = kImms[i % std::size(kImms)];
  f.imm64 = kImm64s[i % std::size(kImm64s)];
  return f;
}
constexpr size_t kTableInstances = 11;  // every register once

// `insn` inside a small program: three moves before, three after, an exit.
// The instruction starts at slot kAt, so offsets -4..+3 (one-slot
// instructions) land on every instruction of the program.
constexpr size_t kAt = 3;
std::vector<Slot> in_program(const std::vector<Slot>& insn) {
  std::vector<Slot> program;
  for (int32_t i = 0; i < 3; ++i) program.push_back(isa::encode(Op::mov64_imm, 0, 0, 0, i + 1));
  program.insert(program.end(), insn.begin(), insn.end());
  for (int32_t i = 3; i < 6; ++i) program.push_back(isa::encode(Op::mov64_imm, 0, 0, 0, i + 1));
  program.push_back(isa::encode(Op::exit));
  return program;
}

std::optional<Op> op_named(std::string_view id) {
  for (const OpInfo& row : isa::kOps)
    if (row.id == id) return row.op;
  return std::nullopt;
}

// Programs around one instance of `row` each: its table instances and, for
// jumps and local calls, an instance for each offset -4..+3, which lands on
// every instruction of the program (on the instruction itself for -1), and
// for jumps also offsets past the program's ends, which a listing writes as
// numbers. (A local call to a number reads back as a helper call.)
std::vector<std::vector<Slot>> listing_programs(const OpInfo& row) {
  std::vector<std::vector<Slot>> programs;
  if (!has_target(row.shape)) {
    for (size_t i = 0; i < kTableInstances; ++i) programs.push_back(in_program(instruction(row, table_fields(row, i))));
    return programs;
  }
  std::vector<int64_t> offsets{-4, -3, -2, -1, 0, 1, 2, 3};
  if (row.shape != Shape::CallLocal) offsets.insert(offsets.end(), {-5, 4, -32768, 32767});
  for (size_t i = 0; i < offsets.size(); ++i) {
    programs.push_back(in_program(instruction(row, table_fields(row, i % kTableInstances))));
    set_offset(programs.back()[kAt], offsets[i]);
  }
  return programs;
}

// ---- 1. Every table row -----------------------------------------------------------

TEST(AsmRoundTripTable, SkipListsNameTableRows) {
  for (bool listing : {false, true})
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal})
      for (std::string_view id : skips(syntax, listing)) EXPECT_TRUE(op_named(id)) << id;
}

// Each skipped row is skipped because its text really does read back as
// other bytes: when the assembler learns to tell it apart, this fails and
// the row leaves the list. Together with the tests below, which need every
// other row to round-trip, the lists are exactly the rows that cannot.
TEST(AsmRoundTripTable, SkippedRowsDoNotRoundTrip) {
  for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
    for (std::string_view id : skips(syntax, false)) {
      const OpInfo& row = isa::info(*op_named(id));
      const std::vector<Slot> insn = instruction(row, table_fields(row, 1));
      EXPECT_NE(single_mismatch(insn, 0, syntax), "") << id << " round-trips in " << name_of(syntax);
    }
    for (std::string_view id : skips(syntax, true)) {
      const std::vector<Slot> program = listing_programs(isa::info(*op_named(id))).front();
      EXPECT_NE(listing_mismatch(program, syntax), "") << id << " round-trips in a " << name_of(syntax) << " listing";
    }
  }
}

TEST(AsmRoundTripTable, EveryRowAlone) {
  size_t checked = 0;
  for (const OpInfo& row : isa::kOps)
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
      if (skipped(row.op, syntax, false)) continue;
      for (size_t i = 0; i < kTableInstances; ++i) {
        const std::vector<Slot> insn = instruction(row, table_fields(row, i));
        if (std::string why = single_mismatch(insn, 0, syntax); !why.empty()) ADD_FAILURE() << why;
        ++checked;
      }
    }
  EXPECT_EQ(checked, kTableInstances * (2 * isa::kLinuxOpCount - kPseudoSkips.size() - kNormalSkips.size()));
}

// Jump texts carry the offset: `goto +0x1`, `ja 1`, also at the ends of the
// field and past the program.
TEST(AsmRoundTripTable, JumpOffsetsAlone) {
  for (const OpInfo& row : isa::kOps) {
    if (!isa::is_linux(row) || !has_target(row.shape)) continue;
    for (int64_t offset : {-4, -1, 0, 1, 3, -32768, 32767}) {
      std::vector<Slot> program = in_program(instruction(row, table_fields(row, 2)));
      set_offset(program[kAt], offset);
      for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal})
        if (!skipped(row.op, syntax, false))
          if (std::string why = single_mismatch(program, kAt, syntax); !why.empty()) ADD_FAILURE() << why;
    }
  }
}

// Whole listings with labels (jump targets by label) read back as the same bytes.
TEST(AsmRoundTripTable, EveryRowInAListing) {
  size_t checked = 0;
  for (const OpInfo& row : isa::kOps)
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
      if (skipped(row.op, syntax, true)) continue;
      for (const std::vector<Slot>& program : listing_programs(row)) {
        if (std::string why = listing_mismatch(program, syntax); !why.empty()) ADD_FAILURE() << row.id << ": " << why;
        ++checked;
      }
    }
  EXPECT_GT(checked, 2 * isa::kLinuxOpCount * 10);
}

// The text-only listing is assembler input: `L0:` lines and label operands,
// where the objdump layouts write `<L0>:` and `+0x1 <L0>`.
TEST(AsmRoundTripTable, SourceListingUsesAssemblerLabels) {
  const auto lddw = isa::encode_lddw(0, 7);
  const std::vector<Slot> program{isa::encode(Op::jeq64_imm, 1, 0, 2, 0),
                                  isa::encode(Op::mov64_imm, 0, 0, 0, 1),
                                  isa::encode(Op::ja, 0, 0, -3),
                                  isa::encode(Op::call_local, 0, 0, 0, 1),
                                  isa::encode(Op::exit),
                                  lddw[0],
                                  lddw[1],
                                  isa::encode(Op::ja, 0, 0, 100)};
  EXPECT_EQ(disassemble(program, source_listing(Syntax::PseudoC)),
            "L0:\n"
            "\tif r1 == 0x0 goto L1\n"
            "\tr0 = 0x1\n"
            "\tgoto L0\n"
            "L1:\n"
            "\tcall L2\n"
            "\texit\n"
            "L2:\n"
            "\tr0 = 0x7 ll\n"
            "\tgoto +0x64\n");
  EXPECT_EQ(disassemble(program, source_listing(Syntax::Normal)),
            "L0:\n"
            "\tjeq %r1,0,L1\n"
            "\tmov %r0,1\n"
            "\tja L0\n"
            "L1:\n"
            "\tcall L2\n"
            "\texit\n"
            "L2:\n"
            "\tlddw %r0,7\n"
            "\tja 100\n");
  for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) EXPECT_EQ(listing_mismatch(program, syntax), "");
}

// For map values (src 2 and 6) the kernel reads the second slot's imm as the
// offset into the value, so loaded programs have it (libbpf writes it for
// global data). The table's template prints both slots as one {imm64} and
// so does the disassembler, but the assembler refuses an ld_pseudo value
// past 32 bits.
TEST(AsmRoundTripTable, LdPseudoMapValueWithOffset) {
  for (Op op : {Op::lddw_map_value, Op::lddw_map_idx_value}) {
    const auto pair = isa::encode_lddw(1, 0x800000005, op);
    EXPECT_EQ(single_mismatch(pair, 0, Syntax::PseudoC), "");
  }
}

// ---- 2. Random instructions and programs -----------------------------------------------

// Deterministic random instructions over all rows: any legal register, and
// field values uniform or, one time in four, at an edge of the field.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  const OpInfo& row() {
    for (;;) {
      const OpInfo& candidate = isa::kOps[below(isa::kOpCount)];
      if (isa::is_linux(candidate)) return candidate;
    }
  }

  Fields fields(const OpInfo& row) {
    Fields f;
    f.dst = static_cast<uint8_t>(below(max_dst(row) + 1u));
    f.src = static_cast<uint8_t>(below(max_src(row) + 1u));
    f.off = edge() ? kOffs[below(std::size(kOffs))] : static_cast<int16_t>(rng_());
    f.imm = edge() ? kImms[below(std::size(kImms))] : static_cast<int32_t>(rng_());
    f.imm64 = edge() ? kImm64s[below(std::size(kImm64s))] : rng_();
    return f;
  }

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool edge() { return below(4) == 0; }

 private:
  std::mt19937_64 rng_;
};

constexpr uint64_t kSeed = 0x5eed'b9f0'2024'0001;
constexpr size_t kRandomInstructions = 20000;

TEST(AsmRoundTripRandom, Instructions) {
  Generator gen(kSeed);
  size_t checked = 0, failures = 0;
  for (size_t n = 0; n < kRandomInstructions; ++n) {
    const OpInfo& row = gen.row();
    const std::vector<Slot> insn = instruction(row, gen.fields(row));
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal}) {
      if (skipped(row.op, syntax, false)) continue;
      ++checked;
      if (std::string why = single_mismatch(insn, 0, syntax); !why.empty() && ++failures <= 20)
        ADD_FAILURE() << "instruction " << n << ": " << why;
    }
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(checked, kRandomInstructions * 3 / 2);  // nearly every one in both syntaxes
}

// A random program: instructions of any row both syntaxes can list. Local
// calls go to a random instruction; jumps to a random slot (the second slot
// of an lddw too, which no label can mark) or, one time in eight, keep their
// random offset.
std::vector<Slot> random_program(Generator& gen, size_t length) {
  std::vector<std::vector<Slot>> insns;
  while (insns.size() < length) {
    const OpInfo& row = gen.row();
    if (!skipped(row.op, Syntax::PseudoC, true) && !skipped(row.op, Syntax::Normal, true))
      insns.push_back(instruction(row, gen.fields(row)));
  }
  std::vector<size_t> starts;
  size_t size = 0;
  for (const auto& insn : insns) starts.push_back(std::exchange(size, size + insn.size()));
  std::vector<Slot> program;
  for (size_t i = 0; i < insns.size(); ++i) {
    Slot& slot = insns[i][0];
    const Shape shape = isa::info(*isa::lookup(slot)).shape;
    const auto from_here = [&](size_t target) {
      return static_cast<int64_t>(target) - static_cast<int64_t>(starts[i]) - 1;
    };
    if (shape == Shape::CallLocal)
      set_offset(slot, from_here(starts[gen.below(starts.size())]));
    else if (has_target(shape) && gen.below(8) != 0)
      set_offset(slot, from_here(gen.below(size)));
    program.insert(program.end(), insns[i].begin(), insns[i].end());
  }
  return program;
}

TEST(AsmRoundTripRandom, Programs) {
  Generator gen(kSeed + 1);
  size_t failures = 0;
  for (size_t n = 0; n < 300; ++n) {
    const std::vector<Slot> program = random_program(gen, 40);
    for (Syntax syntax : {Syntax::PseudoC, Syntax::Normal})
      if (std::string why = listing_mismatch(program, syntax); !why.empty() && ++failures <= 5)
        ADD_FAILURE() << "program " << n << ": " << why;
  }
  EXPECT_EQ(failures, 0u);
}

// ---- 3. The shared corpus's objects ---------------------------------------------------

using test::read_hex_slots;

std::vector<fs::path> corpus_objects() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kShared / "asm-corpus"))
    if (entry.path().string().ends_with(".expected.hex")) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// A normal listing reads back only without rows GNU prints alike.
bool normal_listable(std::span<const Slot> slots) {
  return std::ranges::none_of(slots, [](const Slot& slot) {
    const auto op = isa::lookup(slot);
    return op && skipped(*op, Syntax::Normal, true);
  });
}

TEST(AsmRoundTripCorpus, EveryObjectInBothSyntaxes) {
  // llvm-extra has ld_pseudo, which normal syntax cannot spell.
  const std::vector<std::string> kNotNormal = {"llvm-extra.expected.hex"};
  const std::vector<fs::path> files = corpus_objects();
  ASSERT_GE(files.size(), 9u) << "corpus missing?";
  std::vector<std::string> not_normal;
  for (const fs::path& file : files) {
    const std::vector<Slot> slots = read_hex_slots(file);
    ASSERT_FALSE(slots.empty()) << file;
    EXPECT_EQ(listing_mismatch(slots, Syntax::PseudoC), "") << file.filename();
    if (!normal_listable(slots)) {
      not_normal.push_back(file.filename().string());
      continue;
    }
    EXPECT_EQ(listing_mismatch(slots, Syntax::Normal), "") << file.filename();
  }
  EXPECT_EQ(not_normal, kNotNormal);
}

// ---- 4. Clang-compiled objects through llvm-objdump ----------------------------------------

using test::CommandResult;
using test::find_tool;
using test::TempDir;

struct Tools {
  std::string clang, objdump, objcopy;
  bool v4 = false;  // clang and llvm-objdump 19 know -mcpu=v4 (scripts/bootstrap installs them)
};

std::optional<Tools> llvm_tools() {
  if (auto clang19 = find_tool({"clang-19"}), objdump19 = find_tool({"llvm-objdump-19"}),
      objcopy19 = find_tool({"llvm-objcopy-19"});
      clang19 && objdump19 && objcopy19)
    return Tools{*clang19, *objdump19 + " --mcpu=v4", *objcopy19, true};
  auto clang = find_tool({"clang", "clang-14"});
  auto objdump = find_tool({"llvm-objdump", "llvm-objdump-14"});
  auto objcopy = find_tool({"llvm-objcopy", "llvm-objcopy-14"});
  if (!clang || !objdump || !objcopy) return std::nullopt;
  return Tools{*clang, *objdump, *objcopy, false};
}

// One section of llvm-objdump's text as assembler input: instruction lines
// only, without `<func>:` and `<LBB0_3>:` lines, and without the target
// notes (`goto -7 <LBB0_1>`; the note is last, and `if r1 < r2` has a " <"
// of its own).
struct DumpedSection {
  std::string name;
  std::string source;
  bool unknown = false;  // a `<unknown>` line: llvm-objdump-14 lacks some v3+ forms
};

std::vector<DumpedSection> dumped_sections(const std::string& dump) {
  std::vector<DumpedSection> sections;
  std::istringstream in(dump);
  for (std::string line; std::getline(in, line);) {
    constexpr std::string_view kHeader = "Disassembly of section ";
    if (line.starts_with(kHeader)) {
      sections.push_back({line.substr(kHeader.size(), line.size() - kHeader.size() - 1), "", false});
      continue;
    }
    const size_t first = line.find_first_not_of(" \t");
    if (sections.empty() || first == std::string::npos || line.ends_with(">:")) continue;
    std::string text = line.substr(first);
    if (text == "<unknown>") sections.back().unknown = true;
    if (text.ends_with('>') && text.rfind(" <") != std::string::npos) text.resize(text.rfind(" <"));
    sections.back().source += text + "\n";
  }
  return sections;
}

std::vector<Slot> read_slots(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<Slot> slots(bytes.size() / sizeof(Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes.data(), slots.size() * sizeof(Slot));
  return slots;
}

class ClangObjects : public ::testing::Test {
 protected:
  void SetUp() override {
    tools_ = llvm_tools();
    if (!tools_) GTEST_SKIP() << "clang, llvm-objdump or llvm-objcopy is not installed";
    ASSERT_FALSE(dir_.path().empty());
  }

  // Compiles `source` for BPF; the compiler's message on failure.
  std::optional<std::string> compile(const fs::path& source, const fs::path& object, std::string_view cpu = "v3") {
    const CommandResult result = test::run_command(tools_->clang + " -O2 -target bpf -mcpu=" + std::string(cpu) +
                                                   " -fno-crash-diagnostics -I'" + source.parent_path().string() +
                                                   "' -c '" + source.string() + "' -o '" + object.string() + "'");
    if (result.status == 0) return std::nullopt;
    return result.errors;
  }

  // Every disassembled section of `object` assembles to the section's bytes.
  void expect_round_trip(const fs::path& object) {
    const CommandResult dump =
        test::run_command(tools_->objdump + " -d --no-show-raw-insn --no-leading-addr '" + object.string() + "'");
    ASSERT_EQ(dump.status, 0) << dump.errors;
    const std::vector<DumpedSection> sections = dumped_sections(dump.output);
    ASSERT_FALSE(sections.empty()) << dump.output;
    for (const DumpedSection& section : sections) {
      if (section.unknown) {
        unknown_.push_back(object.filename().string() + " " + section.name);
        continue;
      }
      const fs::path bytes = dir_.path() / "section.bin";
      const CommandResult copy = test::run_command(tools_->objcopy + " -O binary --only-section='" + section.name +
                                                   "' '" + object.string() + "' '" + bytes.string() + "'");
      ASSERT_EQ(copy.status, 0) << copy.errors;
      const std::vector<Slot> expected = read_slots(bytes);
      const Reassembly result = reassemble(section.source, Syntax::PseudoC);
      EXPECT_TRUE(result.errors.empty() && result.slots == expected)
          << object.filename() << " " << section.name << ": expected " << hex_of(expected) << "\ngot "
          << describe(result) << "\nfrom\n"
          << section.source;
    }
  }

  // After the other programs were checked: skip if some could not be.
  void skip_if_unknown() {
    if (unknown_.empty()) return;
    std::string names;
    for (const std::string& name : unknown_) names += (names.empty() ? "" : ", ") + name;
    GTEST_SKIP() << "llvm-objdump printed <unknown> in " << names << ": no text to assemble there";
  }

  std::optional<Tools> tools_;
  TempDir dir_;
  std::vector<std::string> unknown_;  // sections with `<unknown>` lines
};

TEST_F(ClangObjects, BenchPrograms) {
  const fs::path programs = kShared / "bench" / "programs";
  std::vector<fs::path> sources;
  for (const auto& entry : fs::directory_iterator(programs))
    if (entry.path().extension() == ".c" && entry.path().filename() != "native_main.c") sources.push_back(entry.path());
  std::sort(sources.begin(), sources.end());
  ASSERT_GE(sources.size(), 6u);
  for (const fs::path& source : sources) {
    const fs::path object = dir_.path() / (source.stem().string() + ".o");
    const auto failure = compile(source, object);
    ASSERT_FALSE(failure) << source << ": " << *failure;
    expect_round_trip(object);
  }
  skip_if_unknown();
}

// sample.c divides signed numbers, which needs -mcpu=v4 (clang-19; clang-14
// has no v4): the v4 forms (sdiv, movsx, ldxs*, gotol) as clang emits them.
TEST_F(ClangObjects, CorpusSample) {
  if (!tools_->v4) GTEST_SKIP() << "needs clang-19 and llvm-objdump-19 for -mcpu=v4 (scripts/bootstrap installs them)";
  const fs::path object = dir_.path() / "sample.o";
  const auto failure = compile(kShared / "asm-corpus" / "sample.c", object, "v4");
  ASSERT_FALSE(failure) << *failure;
  expect_round_trip(object);
  skip_if_unknown();
}

}  // namespace
}  // namespace bpfkit::assembly
