// CO-RE: tests/bpf/core_read.c's relocations read from `.BTF.ext`, resolved
// against target BTFs whose layouts differ from the one compiled in
// (tests/bpf/core_target_*.c: fields moved and resized, a field and an
// enumerator missing, two ambiguous flavors) and against the running
// kernel's, then run on memory laid out as the target lays it out.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;

const fs::path kObjects = BPFKIT_TEST_BPF_DIR;

std::vector<uint8_t> bytes_of(const fs::path& file) {
  const std::string text = test::read_text(file);
  return {text.begin(), text.end()};
}

class Core : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kObjects / "core_read.o")) GTEST_SKIP() << "the C test programs were not built (clang-19 missing)";
    object_bytes = bytes_of(kObjects / "core_read.o");
    auto parsed = elf::EbpfObject::parse(object_bytes, "core_read.o");
    ASSERT_TRUE(parsed.has_value()) << to_string(parsed.error());
    object.emplace(std::move(*parsed));
  }

  elf::Btf target(const std::string& name) {
    auto btf = elf::Btf::parse(bytes_of(kObjects / (name + ".o")), name + ".o");
    EXPECT_TRUE(btf.has_value()) << to_string(btf.error());
    return btf.has_value() ? std::move(*btf) : elf::Btf();
  }

  Expected<isa::Program> load(std::string_view function, const elf::Btf* btf,
                              std::vector<std::string>* poisoned = nullptr) {
    auto program = object->find_program("", function);
    if (!program) return program.error();
    elf::LoadOptions options;
    options.core_target = btf;
    options.poisoned = poisoned;
    return object->load_program(**program, options);
  }

  // Runs `function` with r1 pointing at `memory`.
  vm::RunResult run(std::string_view function, const elf::Btf& btf, std::vector<uint8_t> memory) {
    auto program = load(function, &btf);
    if (!program) {
      ADD_FAILURE() << to_string(program.error());
      return {};
    }
    vm::Context context;
    context.set_budget(10000);
    context.map_input(memory);
    auto interpreter = vm::Interpreter::create(*program, context);
    EXPECT_TRUE(interpreter.has_value());
    return interpreter->run(context);
  }

  const elf::CoreRelocation* relocation(std::string_view section) const {
    for (const elf::CoreRelocation& r : object->info().core_relocations)
      if (r.section == section) return &r;
    return nullptr;
  }

  std::vector<uint8_t> object_bytes;
  std::optional<elf::EbpfObject> object;
};

template <class T>
void put(std::vector<uint8_t>& memory, size_t offset, T value) {
  std::memcpy(memory.data() + offset, &value, sizeof value);
}

// struct task as core_target_moved.c lays it out (48 bytes): comm at 8,
// start_time (u32) at 24, tgid 28, pid 32, flags:5 and mode:7 at 36, extra 40.
std::vector<uint8_t> moved_task() {
  std::vector<uint8_t> memory(48, 0);
  std::memcpy(memory.data() + 8, "abcdef", 6);
  put<uint32_t>(memory, 24, 123456);
  put<int32_t>(memory, 28, 4242);
  put<int32_t>(memory, 32, 77);
  put<uint32_t>(memory, 36, (0x7du << 5) | 0x11);  // mode = -3 (7 bits), flags = 17
  put<int32_t>(memory, 40, 99);
  return memory;
}

TEST_F(Core, BtfExtIsReadWithEachRelocationDescribed) {
  const elf::ObjectInfo& info = object->info();
  EXPECT_TRUE(info.btf_ext.present);
  EXPECT_GT(info.btf_ext.func_info, 0u);
  EXPECT_GT(info.btf_ext.line_info, 0u);
  const elf::CoreRelocation* tgid = relocation("tracepoint/core/tgid");
  ASSERT_NE(tgid, nullptr);
  EXPECT_EQ(tgid->kind, elf::CoreKind::FieldByteOffset);
  EXPECT_EQ(tgid->type, "struct task");
  EXPECT_EQ(tgid->field, "tgid");
  EXPECT_EQ(tgid->access, "0:1");
  EXPECT_EQ(tgid->insn, 0u);
  const elf::CoreRelocation* comm = relocation("tracepoint/core/comm");
  ASSERT_NE(comm, nullptr);
  EXPECT_EQ(comm->field, "comm[2]");
  EXPECT_EQ(comm->access, "0:3:2");
  const elf::CoreRelocation* facts = relocation("tracepoint/core/facts");
  ASSERT_NE(facts, nullptr);
  const elf::CoreRelocation* enums = relocation("tracepoint/core/enum");
  ASSERT_NE(enums, nullptr);
  EXPECT_TRUE(enums->kind == elf::CoreKind::EnumvalValue || enums->kind == elf::CoreKind::EnumvalExists);
  EXPECT_EQ(enums->type, "enum task_state");
}

TEST_F(Core, CodeWithRelocationsAndNoTargetIsAnErrorNamingTheField) {
  auto program = load("read_tgid", nullptr);
  ASSERT_FALSE(program.has_value());
  EXPECT_NE(program.error().message.find("needs a target BTF"), std::string::npos) << program.error().message;
  EXPECT_NE(program.error().message.find("struct task 'tgid'"), std::string::npos) << program.error().message;
  EXPECT_NE(program.error().message.find("insn 0"), std::string::npos) << program.error().message;
  EXPECT_GT(program.error().location.offset, 0u);
}

// Kept instead of resolved (what `bpfkit opt` loads): the code holds the
// object's own offsets and each relocation is listed at its slot.
TEST_F(Core, KeptRelocationsAreListedAtTheirSlots) {
  auto info = object->find_program("", "read_mode");
  ASSERT_TRUE(info.has_value());
  auto program = object->load_program(**info, {.keep_core = true});
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  ASSERT_EQ(program->core_slots.size(), 6u);  // byte_off, byte_sz, lshift, signed, two rshifts
  for (const isa::Program::CoreSlot& kept : program->core_slots) {
    const elf::CoreRelocation& relo = object->info().core_relocations.at(kept.relocation);
    EXPECT_EQ(relo.section, "tracepoint/core/bitfield");
    EXPECT_EQ(kept.slot, relo.insn);  // the program is its section's only function
  }
}

// A relocation on a row bpfkit cannot keep (here an atomic, which libbpf
// would patch) is refused with the relocation's name and the way out.
TEST_F(Core, AKeptRelocationOnAnAtomicIsRefused) {
  const elf::CoreRelocation& relo = object->info().core_relocations.at(0);  // read_tgid's ldxw
  const elf::SectionHeader& section = object->info().sections.at(relo.section_index);
  std::vector<uint8_t> bytes = object_bytes;
  bytes.at(section.offset + uint64_t{relo.insn} * 8) = isa::info(isa::Op::atomic32_add).code;
  auto patched = elf::EbpfObject::parse(bytes, "atomic.o");
  ASSERT_TRUE(patched.has_value()) << to_string(patched.error());
  auto info = patched->find_program("", "read_tgid");
  ASSERT_TRUE(info.has_value());
  auto program = patched->load_program(**info, {.keep_core = true});
  ASSERT_FALSE(program.has_value());
  EXPECT_NE(program.error().message.find("struct task 'tgid'"), std::string::npos) << program.error().message;
  EXPECT_NE(program.error().message.find("opt --btf FILE"), std::string::npos) << program.error().message;
}

// The object's own BTF holds both `task` and `task___v2`, which disagree
// on where tgid is: as a target it is ambiguous, as libbpf would find it.
TEST_F(Core, TheObjectsOwnBtfIsAnAmbiguousTarget) {
  auto own = elf::Btf::parse(object_bytes, "core_read.o");
  ASSERT_TRUE(own.has_value()) << to_string(own.error());
  auto program = load("read_tgid", &*own);
  ASSERT_FALSE(program.has_value());
  EXPECT_NE(
      program.error().message.find("field offset ambiguity: struct task has it at bit 32, struct task___v2 at bit 0"),
      std::string::npos)
      << program.error().message;
}

TEST_F(Core, FieldsMovedAndResizedArePatchedAndRead) {
  const elf::Btf moved = target("core_target_moved");
  auto tgid = load("read_tgid", &moved);
  ASSERT_TRUE(tgid.has_value()) << to_string(tgid.error());
  EXPECT_EQ(tgid->slots[0].off, 28);  // was 4
  EXPECT_EQ(run("read_tgid", moved, moved_task()).r0, 4242u);

  auto start = load("read_start_time", &moved);
  ASSERT_TRUE(start.has_value()) << to_string(start.error());
  EXPECT_EQ(start->slots[0].off, 24);                              // was 8
  EXPECT_EQ(start->slots[0].code, isa::info(isa::Op::ldxw).code);  // was ldxdw: the field is 32 bits now
  EXPECT_EQ(run("read_start_time", moved, moved_task()).r0, 123456u);

  EXPECT_EQ(run("read_comm", moved, moved_task()).r0, uint64_t{'c'});
  EXPECT_EQ(run("probe_pid", moved, moved_task()).r0, 77u);
  EXPECT_EQ(run("guarded_extra", moved, moved_task()).r0, 99u);
  EXPECT_EQ(run("unguarded_extra", moved, moved_task()).r0, 99u);
  EXPECT_EQ(static_cast<int64_t>(run("read_mode", moved, moved_task()).r0), -3);  // signed 7-bit bitfield
}

TEST_F(Core, AFlavorMatchesTheTypeWithoutItsSuffix) {
  const elf::Btf moved = target("core_target_moved");
  auto program = load("read_flavor", &moved);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  EXPECT_EQ(program->slots[0].off, 28);  // task___v2.tgid is task.tgid
  EXPECT_EQ(run("read_flavor", moved, moved_task()).r0, 4242u);
  auto result = object->resolve_core(
      static_cast<size_t>(relocation("tracepoint/core/flavor") - object->info().core_relocations.data()), moved);
  ASSERT_TRUE(result.has_value()) << to_string(result.error());
  EXPECT_EQ(result->target_type, "struct task");
  EXPECT_EQ(result->target_access, "0:3");
  EXPECT_EQ(result->original, 0u);
  EXPECT_EQ(result->value, 28u);
}

TEST_F(Core, TypeSizesOffsetsAndEnumValuesFollowTheTarget) {
  const elf::Btf moved = target("core_target_moved");
  const elf::Btf missing = target("core_target_missing");
  // field size * 1000 + offset * 10 + type exists, type size << 32
  EXPECT_EQ(run("type_facts", missing, {}).r0, (uint64_t{40} << 32) + 8 * 1000 + 8 * 10 + 1);
  EXPECT_EQ(run("type_facts", moved, {}).r0, (uint64_t{48} << 32) + 4 * 1000 + 24 * 10 + 1);
  // STATE_RUNNING * 10 + STATE_ZOMBIE exists
  EXPECT_EQ(run("enum_facts", moved, {}).r0, 31u);
  EXPECT_EQ(run("enum_facts", missing, {}).r0, 50u);
}

TEST_F(Core, AMissingFieldIsPoisonedAndFailsOnlyWhereItRuns) {
  const elf::Btf missing = target("core_target_missing");
  std::vector<uint8_t> task(40, 0);
  put<int32_t>(task, 4, 5);
  // Guarded by bpf_core_field_exists: the load is poisoned, and dead.
  std::vector<std::string> poisoned;
  auto guarded = load("guarded_extra", &missing, &poisoned);
  ASSERT_TRUE(guarded.has_value()) << to_string(guarded.error());
  EXPECT_EQ(guarded->slots[3], isa::encode(isa::Op::call, 0, 0, 0, elf::kCorePoisonHelper));
  ASSERT_EQ(poisoned.size(), 1u);
  EXPECT_NE(poisoned[0].find("struct task 'extra'"), std::string::npos) << poisoned[0];
  EXPECT_NE(poisoned[0].find("pc 3"), std::string::npos) << poisoned[0];
  EXPECT_EQ(run("guarded_extra", missing, task).r0, uint64_t(-1) & 0xffffffffu);
  // Unguarded: the run reaches the poison and stops there.
  const vm::RunResult unguarded = run("unguarded_extra", missing, task);
  ASSERT_TRUE(unguarded.error.has_value());
  EXPECT_EQ(unguarded.error->code, Errc::UnknownHelper);
  // Everything else still reads the unchanged fields.
  EXPECT_EQ(run("read_tgid", missing, task).r0, 5u);
}

TEST_F(Core, AmbiguousCandidatesAreAnError) {
  const elf::Btf ambiguous = target("core_target_ambiguous");
  auto program = load("read_tgid", &ambiguous);
  ASSERT_FALSE(program.has_value());
  EXPECT_NE(program.error().message.find("ambiguity"), std::string::npos) << program.error().message;
  EXPECT_NE(program.error().message.find("struct task___a"), std::string::npos) << program.error().message;
}

TEST_F(Core, TheRunningKernelsTaskStruct) {
  if (!fs::exists(elf::kVmlinuxBtfPath)) GTEST_SKIP() << elf::kVmlinuxBtfPath << " is not there";
  auto vmlinux = elf::Btf::parse(bytes_of(elf::kVmlinuxBtfPath), elf::kVmlinuxBtfPath);
  ASSERT_TRUE(vmlinux.has_value()) << to_string(vmlinux.error());
  auto program = load("kernel_tgid", &*vmlinux);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  // The existence check of a field the kernel lacks became 0, and the load
  // of tgid moved to the kernel's offset, which follows pid's (pid_t pid; pid_t tgid;).
  EXPECT_EQ(program->slots[1].imm, 0);
  const int16_t tgid = program->slots[3].off;
  EXPECT_GT(tgid, 4);
  EXPECT_EQ(tgid % 4, 0);
  size_t pid_index = 0;
  for (size_t i = 0; i < object->info().core_relocations.size(); ++i)
    if (object->info().core_relocations[i].section == "kprobe/core_kernel" &&
        object->info().core_relocations[i].field == "tgid")
      pid_index = i;
  auto resolved = object->resolve_core(pid_index, *vmlinux);
  ASSERT_TRUE(resolved.has_value()) << to_string(resolved.error());
  EXPECT_EQ(resolved->target_type, "struct task_struct");
  EXPECT_EQ(resolved->value, static_cast<uint64_t>(tgid));
  std::vector<uint8_t> task(static_cast<size_t>(tgid) + 4, 0);
  put<int32_t>(task, static_cast<size_t>(tgid), 31337);
  EXPECT_EQ(run("kernel_tgid", *vmlinux, task).r0, 31337u);
}

// .BTF.ext's fields, each broken in a copy of the object: a clear error at
// the byte that is wrong, never a crash.
TEST_F(Core, ABrokenBtfExtIsAnErrorAtItsOffset) {
  auto reader = elf::Reader::parse(object_bytes);
  ASSERT_TRUE(reader.has_value());
  const elf::SectionHeader* ext = reader->find(".BTF.ext");
  ASSERT_NE(ext, nullptr);
  const auto broken = [&](uint64_t offset, uint32_t value) {
    std::vector<uint8_t> copy = object_bytes;
    std::memcpy(copy.data() + ext->offset + offset, &value, sizeof value);
    return elf::EbpfObject::parse(copy, "broken.o");
  };
  auto bad_magic = broken(0, 0x1234);
  ASSERT_FALSE(bad_magic.has_value());
  EXPECT_EQ(bad_magic.error().location.offset, ext->offset);
  auto bad_header = broken(4, 0xffff);
  ASSERT_FALSE(bad_header.has_value());
  EXPECT_EQ(bad_header.error().location.offset, ext->offset + 4);
  // The CO-RE section: its record size, then the first record's kind.
  uint32_t header = 0, core_off = 0;
  std::memcpy(&header, object_bytes.data() + ext->offset + 4, 4);
  std::memcpy(&core_off, object_bytes.data() + ext->offset + 24, 4);
  const uint64_t core = header + core_off;
  auto bad_record_size = broken(core, 6);
  ASSERT_FALSE(bad_record_size.has_value());
  EXPECT_EQ(bad_record_size.error().location.offset, ext->offset + core);
  auto bad_kind = broken(core + 4 + 8 + 12, 99);
  ASSERT_FALSE(bad_kind.has_value());
  EXPECT_EQ(bad_kind.error().code, Errc::Unsupported);
  EXPECT_EQ(bad_kind.error().location.offset, ext->offset + core + 4 + 8 + 12);
  auto bad_count = broken(core + 4 + 4, 0x7fffffff);
  ASSERT_FALSE(bad_count.has_value());
  EXPECT_EQ(bad_count.error().code, Errc::Truncated);
}

}  // namespace
}  // namespace bpfkit

namespace bpfkit {
namespace {

// Raw BTF of 20 nested levels: `struct task` has 64 anonymous members of
// the second type, which has 64 of the third, ... and the last is empty.
// Looking for `tgid` through anonymous members would visit 64^20 of them;
// the search gives up with an error instead.
std::vector<uint8_t> wide_nested_btf() {
  std::vector<uint8_t> out;
  const auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  constexpr uint32_t kMembers = 64, kLevels = 20;
  const uint32_t type_len = kLevels * (12 + kMembers * 12) + 12;
  const char strings[] = "\0task";
  out.insert(out.end(), {0x9f, 0xeb, 1, 0});
  u32(24), u32(0), u32(type_len), u32(type_len), u32(sizeof strings);
  for (uint32_t level = 1; level <= kLevels; ++level) {
    u32(level == 1 ? 1 : 0), u32(4u << 24 | kMembers), u32(8);  // STRUCT, size 8
    for (uint32_t i = 0; i < kMembers; ++i) u32(0), u32(level + 1), u32(0);
  }
  u32(0), u32(4u << 24), u32(0);  // the empty struct at the bottom
  out.insert(out.end(), strings, strings + sizeof strings);
  return out;
}

TEST_F(Core, ASearchThroughEndlessAnonymousMembersStops) {
  auto btf = elf::Btf::parse(wide_nested_btf(), "nested.btf");
  ASSERT_TRUE(btf.has_value()) << to_string(btf.error());
  auto program = load("read_tgid", &*btf);
  ASSERT_FALSE(program.has_value());
  EXPECT_EQ(program.error().code, Errc::Unsupported);
  EXPECT_NE(program.error().message.find("more than 4 million member comparisons"), std::string::npos)
      << program.error().message;
}

}  // namespace
}  // namespace bpfkit
