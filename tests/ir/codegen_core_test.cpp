// Kept CO-RE relocations (isa::Program::core_slots, ir::Opcode::Core): the
// rows a loader still patches pass through lifting, every pass and code
// generation unchanged, named by their relocation, so that `bpfkit opt`
// writes an object that loads on any kernel. Each test also shows what
// the optimiser does to the same row when it is not kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "assemble.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::ir {
namespace {

using test::assemble;

isa::Program optimized(const isa::Program& program, OptLevel level = OptLevel::O2) {
  auto generated = optimize_program(program, level);
  EXPECT_TRUE(generated.has_value()) << to_string(generated.error());
  return generated ? std::move(*generated) : isa::Program{};
}

uint64_t run(const isa::Program& program) { return test::run_r0(program, std::array<uint64_t, 5>{}); }

// A field size the loader patches (`r1 = 8`) is no constant to fold.
TEST(KeptCoreRows, AConstantTheLoaderPatchesIsNotFolded) {
  isa::Program program = assemble(R"(
    r1 = 8
    r0 = r1
    r0 += 2
    exit
  )");
  EXPECT_EQ(optimized(program).size(), 2u);  // r0 = 10; exit
  program.core_slots = {{0, 7}};
  for (OptLevel level : {OptLevel::O0, OptLevel::O2}) {
    const isa::Program generated = optimized(program, level);
    ASSERT_EQ(generated.core_slots.size(), 1u);
    EXPECT_EQ(generated.core_slots[0].relocation, 7u);
    const isa::Slot& kept = generated.slots[generated.core_slots[0].slot];
    EXPECT_EQ(generated.ops[generated.core_slots[0].slot], isa::Op::mov64_imm);
    EXPECT_EQ(kept.imm, 8);
    EXPECT_EQ(run(generated), 10u);
  }
}

// A load at a field offset the loader patches stays a load at that
// offset: not forwarded from the store before it, its address not folded.
TEST(KeptCoreRows, ALoadKeepsItsOffset) {
  isa::Program program = assemble(R"(
    r1 = r10
    r1 += -16
    *(u64 *)(r10 - 16) = 5
    r0 = *(u64 *)(r1 + 0)
    exit
  )");
  EXPECT_EQ(optimized(program).size(), 2u);  // r0 = 5; exit
  program.core_slots = {{3, 0}};
  const isa::Program generated = optimized(program);
  ASSERT_EQ(generated.core_slots.size(), 1u);
  const uint32_t at = generated.core_slots[0].slot;
  EXPECT_EQ(generated.ops[at], isa::Op::ldxdw);
  EXPECT_EQ(generated.slots[at].off, 0);
  EXPECT_EQ(run(generated), 5u);
}

// A patched store to the frame is a write the stack passes cannot see
// through: the load after it is not forwarded from the store before it,
// and spill slots go below the bytes it writes.
TEST(KeptCoreRows, AStoreTheLoaderPatchesIsNotForwardedPast) {
  isa::Program program = assemble(R"(
    *(u64 *)(r10 - 8) = 1
    r1 = r10
    *(u32 *)(r1 - 8) = 2
    r0 = *(u64 *)(r10 - 8)
    exit
  )");
  program.core_slots = {{2, 4}};
  const isa::Program generated = optimized(program);
  ASSERT_EQ(generated.core_slots.size(), 1u);
  EXPECT_EQ(generated.ops[generated.core_slots[0].slot], isa::Op::stw);
  EXPECT_EQ(run(generated), run(program));
}

// The programs of a test object as `bpfkit opt` loads them.
std::vector<std::pair<std::string, isa::Program>> kept_programs(const std::string& object_name) {
  std::vector<std::pair<std::string, isa::Program>> out;
  const std::filesystem::path file = std::filesystem::path(BPFKIT_TEST_BPF_DIR) / object_name;
  if (!std::filesystem::exists(file)) return out;
  auto bytes = load::read_file(file.string());
  if (!bytes) return out;
  auto object = elf::EbpfObject::parse(*bytes, file.string());
  EXPECT_TRUE(object.has_value()) << to_string(object.error());
  if (!object) return out;
  for (const elf::ProgramInfo& info : object->info().programs) {
    auto program = object->load_program(info, {.keep_core = true});
    EXPECT_TRUE(program.has_value()) << to_string(program.error());
    if (program) out.emplace_back(std::string(info.function), std::move(*program));
  }
  return out;
}

// Every relocation of every program of core_read.o comes out of -O0 and
// -O2 on the same row, with the same off and imm (lddw: value).
TEST(KeptCoreRows, EveryRelocationOfAnObjectKeepsItsRow) {
  const auto programs = kept_programs("core_read.o");
  if (programs.empty()) GTEST_SKIP() << "no core_read.o (clang-19)";
  size_t kept = 0;
  for (const auto& [name, program] : programs) {
    std::map<uint32_t, uint32_t> slot_of;  // relocation -> slot in the input
    for (const isa::Program::CoreSlot& c : program.core_slots) slot_of[c.relocation] = c.slot;
    for (OptLevel level : {OptLevel::O0, OptLevel::O2}) {
      const isa::Program generated = optimized(program, level);
      std::set<uint32_t> seen;
      for (const isa::Program::CoreSlot& c : generated.core_slots) {
        ASSERT_TRUE(slot_of.contains(c.relocation)) << name;
        const isa::Slot& was = program.slots[slot_of[c.relocation]];
        const isa::Slot& now = generated.slots[c.slot];
        EXPECT_EQ(now.code, was.code) << name << " relocation " << c.relocation;
        EXPECT_EQ(now.off, was.off) << name << " relocation " << c.relocation;
        EXPECT_EQ(now.imm, was.imm) << name << " relocation " << c.relocation;
        if (generated.ops[c.slot] == isa::Op::lddw) {
          EXPECT_EQ(generated.imm64(c.slot), program.imm64(slot_of[c.relocation])) << name;
        }
        seen.insert(c.relocation);
      }
      EXPECT_EQ(seen.size(), slot_of.size()) << name << ": a relocation went with its row";
      kept += seen.size();
    }
  }
  EXPECT_EQ(kept, 2 * 22u);
}

// The object written again carries each CO-RE record on its row: the same
// kind, type and access, at an instruction with the record's original row.
TEST(KeptCoreRows, TheRewrittenObjectsRecordsNameTheirRows) {
  const std::filesystem::path file = std::filesystem::path(BPFKIT_TEST_BPF_DIR) / "core_read.o";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "no core_read.o (clang-19)";
  auto bytes = load::read_file(file.string());
  ASSERT_TRUE(bytes.has_value());
  auto object = elf::EbpfObject::parse(*bytes, file.string());
  ASSERT_TRUE(object.has_value()) << to_string(object.error());
  std::vector<isa::Program> generated;
  generated.reserve(object->info().programs.size());
  std::vector<elf::EbpfObject::NewCode> code;
  for (const elf::ProgramInfo& info : object->info().programs) {
    auto program = object->load_program(info, {.keep_core = true});
    ASSERT_TRUE(program.has_value()) << to_string(program.error());
    generated.push_back(optimized(*program));
    code.push_back({&info, &generated.back()});
  }
  auto rewritten = object->rewrite(code);
  ASSERT_TRUE(rewritten.has_value()) << to_string(rewritten.error());
  auto reread = elf::EbpfObject::parse(rewritten->bytes, "rewritten.o");
  ASSERT_TRUE(reread.has_value()) << to_string(reread.error());
  const auto& before = object->info().core_relocations;
  const auto& after = reread->info().core_relocations;
  ASSERT_EQ(after.size(), before.size());
  auto row_at = [](std::span<const uint8_t> file, const elf::EbpfObject& o, const elf::CoreRelocation& r) {
    const uint64_t at = o.info().sections[r.section_index].offset + uint64_t{r.insn} * 8;
    auto slots = load::slots_of(file.subspan(at, 8), "row");
    EXPECT_TRUE(slots.has_value());
    return slots ? slots->at(0) : isa::Slot{};
  };
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].section, before[i].section);
    EXPECT_EQ(after[i].kind, before[i].kind) << i;
    EXPECT_EQ(after[i].type, before[i].type) << i;
    EXPECT_EQ(after[i].access, before[i].access) << i;
    const isa::Slot was = row_at(*bytes, *object, before[i]), now = row_at(rewritten->bytes, *reread, after[i]);
    EXPECT_EQ(now.code, was.code) << before[i].section << " " << before[i].field;
    EXPECT_EQ(now.off, was.off) << before[i].section << " " << before[i].field;
    EXPECT_EQ(now.imm, was.imm) << before[i].section << " " << before[i].field;
  }
  // New code that names a relocation the object lacks is refused.
  generated[0].core_slots = {{0, 999}};
  auto refused = object->rewrite(code);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("names CO-RE relocation #999"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace bpfkit::ir
