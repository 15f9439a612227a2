// open(): a file's bytes to an isa::Program, by what the file is. Raw code
// is decoded in the dialect asked for (sBPF text laid out and its calls
// linked as the fixture harnesses do); ELF files through their loaders.
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

#include "bpfkit/load.hpp"
#include "internal.hpp"

namespace bpfkit::load {

using detail::in_input;
using detail::input_error;

namespace {

// v0..v2: the functions a loader would register for this text: pc 0 as the
// entrypoint; a `call imm` whose imm is some pc's key calls that pc; any
// other call that is no syscall and lands inside the text is pc-relative,
// as the ELF loader reads it, and becomes the target's key.
std::unordered_map<uint32_t, uint32_t> link_calls(std::vector<isa::Slot>& text, const isa::Dialect& dialect,
                                                  const std::unordered_set<uint32_t>& syscalls) {
  std::unordered_map<uint32_t, uint32_t> functions{{isa::murmur3_32(std::string_view("entrypoint")), 0}};
  std::vector<size_t> calls;
  std::unordered_set<uint32_t> keys;
  for (size_t pc = 0; pc < text.size(); ++pc) {
    if (isa::lookup(text[pc], dialect) != isa::Op::call) continue;
    const auto key = static_cast<uint32_t>(text[pc].imm);
    if (syscalls.contains(key) || functions.contains(key)) continue;
    calls.push_back(pc);
    keys.insert(key);
  }
  if (calls.empty()) return functions;
  for (uint32_t pc = 0; pc < text.size(); ++pc)
    if (const uint32_t key = isa::sbpf_pc_key(pc); keys.contains(key)) functions.emplace(key, pc);
  for (size_t pc : calls) {
    isa::Slot& call = text[pc];
    if (functions.contains(static_cast<uint32_t>(call.imm))) continue;
    const int64_t target = static_cast<int64_t>(pc) + 1 + call.imm;
    if (target < 0 || target >= static_cast<int64_t>(text.size())) continue;  // unknown: the engine says so
    const uint32_t key = isa::sbpf_pc_key(static_cast<uint64_t>(target));
    functions.emplace(key, static_cast<uint32_t>(target));
    call.imm = static_cast<int32_t>(key);
  }
  return functions;
}

// sBPF text with no ELF around it: at the program region, readable there
// as rodata where the version maps rodata there (v0..v2), calls linked.
Expected<isa::Program> raw_sbpf_program(std::vector<isa::Slot> text, const isa::Dialect& dialect,
                                        const elf::sbpf::LoaderConfig& config) {
  std::unordered_map<uint32_t, std::string> syscalls;
  for (const std::string& name : config.syscalls) syscalls.emplace(isa::murmur3_32(name), name);
  std::unordered_set<uint32_t> syscall_keys;
  for (const auto& [key, name] : syscalls) syscall_keys.insert(key);
  std::unordered_map<uint32_t, uint32_t> functions;
  if (!dialect.sbpf.static_syscalls) functions = link_calls(text, dialect, syscall_keys);
  auto program = isa::decode(std::span<const isa::Slot>(text), dialect);
  if (!program) return program.error();
  program->function_keys = std::move(functions);
  for (size_t pc = 0; pc < program->size(); ++pc) {
    if (program->ops[pc] != isa::Op::call) continue;
    const auto key = static_cast<uint32_t>(program->slots[pc].imm);
    if (auto it = syscalls.find(key); it != syscalls.end() && !program->function_keys.contains(key))
      program->syscall_keys.try_emplace(key, it->second);
  }
  program->text_vaddr = isa::region_base(isa::kProgramRegion);
  if (!dialect.sbpf.lower_rodata_vaddr) {
    program->rodata = isa::to_bytes(program->slots);
    program->rodata_vaddr = program->text_vaddr;
  }
  return program;
}

// The target BTF for an object's CO-RE relocations: --btf's file, else the
// running kernel's when there is one (nullopt: none; the loader then refuses
// code that has CO-RE relocations, naming the first).
Expected<std::optional<elf::Btf>> core_target(const Options& options) {
  std::string path = options.btf;
  if (path.empty()) {
    if (!options.kernel_btf) return std::optional<elf::Btf>();
    if (std::FILE* file = std::fopen(elf::kVmlinuxBtfPath, "rb")) {
      std::fclose(file);
      path = elf::kVmlinuxBtfPath;
    } else {
      return std::optional<elf::Btf>();
    }
  }
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  auto btf = elf::Btf::parse(*bytes, path);
  if (!btf) return btf.error();
  return std::optional<elf::Btf>(std::move(*btf));
}

Expected<isa::Program> ebpf_program(std::span<const uint8_t> bytes, std::string_view name, const Options& options,
                                    std::vector<std::string>& poisoned) {
  auto object = elf::EbpfObject::parse(bytes, std::string(name));
  if (!object) return object.error();
  auto chosen = object->choose_program(options.section, options.function);
  if (!chosen) return chosen.error();
  elf::LoadOptions load_options;
  load_options.poisoned = &poisoned;
  std::optional<elf::Btf> target;
  if (!object->info().core_relocations.empty()) {
    auto btf = core_target(options);
    if (!btf) return btf.error();
    target = std::move(*btf);
    if (target) load_options.core_target = &*target;
  }
  return object->load_program(**chosen, load_options);
}

}  // namespace

Expected<isa::Program> raw_program(std::vector<isa::Slot> slots, std::string_view name, const isa::Dialect& dialect,
                                   const elf::sbpf::LoaderConfig& sbpf) {
  auto program = dialect.family == isa::Family::Sbpf ? raw_sbpf_program(std::move(slots), dialect, sbpf)
                                                     : isa::decode(std::span<const isa::Slot>(slots), dialect);
  if (!program) return in_input(std::move(program.error()), name);
  return program;
}

Expected<Opened> open(std::span<const uint8_t> bytes, std::string_view name, const Options& options) {
  Opened opened;
  opened.kind = kind_of(bytes, name);
  if (opened.kind != InputKind::EbpfObject && (!options.section.empty() || !options.function.empty()))
    return input_error(
        name, Errc::BadOperand,
        "a section or function chooses a program of an eBPF object, and this is " + std::string(describe(opened.kind)));
  auto program = [&]() -> Expected<isa::Program> {
    switch (opened.kind) {
      case InputKind::EbpfObject: return ebpf_program(bytes, name, options, opened.core_poisoned);
      case InputKind::SbpfObject: return elf::sbpf::load_program(bytes, options.sbpf);
      default: break;
    }
    const isa::Dialect& dialect = options.dialect != nullptr ? *options.dialect : isa::kLinuxV4;
    auto code = read_code(bytes, name, opened.kind, dialect);
    if (!code) return code.error();
    opened.memory = std::move(code->memory);
    return raw_program(std::move(code->slots), name, dialect, options.sbpf);
  }();
  if (!program) return in_input(std::move(program.error()), name);
  opened.program = std::move(*program);
  return opened;
}

Expected<Opened> open_file(const std::string& path, const Options& options) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  return open(*bytes, path, options);
}

}  // namespace bpfkit::load
