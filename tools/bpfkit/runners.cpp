#include "runners.hpp"

#include <array>
#include <cstdio>
#include <unordered_map>
#include <unordered_set>

namespace bpfkit::cli {
namespace {

// A load or verification error names the file it is about; a fault during
// the run names the pc instead.
Error in_file(Error error, const std::string& file) {
  if (error.location.input.empty()) error.location.input = file;
  return error;
}

RunReport rejected(Error error) {
  RunReport report;
  report.error = std::move(error);
  return report;
}

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (uint8_t byte : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", byte);
    out += buf;
  }
  return out;
}

// Each map's entries (ring buffers: their records) after the run.
Json dump_maps(vm::Environment& env) {
  Json maps = Json::array();
  for (uint32_t i = 0; i < env.map_count(); ++i) {
    vm::Map& map = env.map(i);
    Json entries = Json::array();
    if (vm::RingBuf* ring = map.ringbuf()) {
      for (const std::vector<uint8_t>& record : ring->drain()) entries.push_back(hex_bytes(record));
    } else {
      for (const vm::Map::Entry& entry : map.entries())
        entries.push_back({{"key", hex_bytes(entry.key)}, {"value", hex_bytes(entry.value)}});
    }
    maps.push_back({{"name", map.spec().name}, {"type", map_type_name(map.spec().type)}, {"entries", entries}});
  }
  return maps;
}

// Runs a prepared interpreter with r1 = memory, r2 = its length; the
// program's output is kept whether or not the run faults.
RunReport run_prepared(const vm::Interpreter& interpreter, vm::Environment& env, Memory& memory,
                       const LinuxRun& options) {
  std::array<uint64_t, 5> args{};
  if (memory) {
    args[0] = env.map_input(*memory);
    args[1] = memory->size();
  }
  env.budget = options.budget;
  auto result = interpreter.run(env, args);
  RunReport report;
  report.output = env.output();
  if (!result) {
    report.error = result.error();
    return report;
  }
  report.r0 = result->r0;
  report.instructions = result->instructions;
  if (options.registers) report.registers = result->registers;
  return report;
}

}  // namespace

const char* map_type_name(uint32_t type) {
  switch (static_cast<isa::MapType>(type)) {
    case isa::MapType::Hash: return "hash";
    case isa::MapType::Array: return "array";
    case isa::MapType::ProgArray: return "prog_array";
    case isa::MapType::PerCpuHash: return "percpu_hash";
    case isa::MapType::PerCpuArray: return "percpu_array";
    case isa::MapType::LruHash: return "lru_hash";
    case isa::MapType::LruPerCpuHash: return "lru_percpu_hash";
    case isa::MapType::RingBuf: return "ringbuf";
  }
  return "unknown";
}

RunReport run_linux(std::span<const isa::Slot> slots, Memory memory, const LinuxRun& options) {
  auto program = isa::decode(slots);
  if (!program) return rejected(in_file(program.error(), options.file));
  auto interpreter = vm::Interpreter::create(*program);
  if (!interpreter) return rejected(in_file(interpreter.error(), options.file));
  vm::Environment env;
  return run_prepared(*interpreter, env, memory, options);
}

RunReport run_ebpf_object(std::span<const uint8_t> file, Memory memory, const ObjectRun& options) {
  auto object = elf::EbpfObject::parse(file, options.run.file);
  if (!object) return rejected(object.error());
  auto program = options.section.empty() && options.function.empty()
                     ? object->default_program()
                     : object->find_program(options.section, options.function);
  if (!program) return rejected(in_file(program.error(), options.run.file));
  auto linked = object->link(**program);
  if (!linked) return rejected(in_file(linked.error(), options.run.file));
  vm::Environment env;
  for (const isa::MapSpec& spec : linked->maps)
    if (auto index = env.add_map(spec); !index) return rejected(in_file(index.error(), options.run.file));
  elf::apply_data_relocations(linked->data_relocations, env.map_addresses(),
                              [&](uint32_t map) { return env.map(map).storage(); });
  auto decoded = isa::decode(linked->code);
  if (!decoded) return rejected(in_file(decoded.error(), options.run.file));
  auto interpreter = vm::Interpreter::create(*decoded, env.map_addresses());
  if (!interpreter) return rejected(in_file(interpreter.error(), options.run.file));
  RunReport report = run_prepared(*interpreter, env, memory, options.run);
  if (options.dump_maps && !report.error) report.maps = dump_maps(env);
  return report;
}

Expected<elf::sbpf::Program> load_sbpf(std::span<const uint8_t> file, const std::string& name, bool deploy_checks) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = deploy_checks;
  config.syscalls = vm::sbpf::SyscallRegistry::defaults().names();
  auto program = elf::sbpf::load(file, config);
  if (!program) program.error().location.input = name;
  return program;
}

namespace {

// Runs an sBPF executable with the input region = memory.
RunReport run_sbpf(vm::sbpf::Executable executable, Memory& memory, const SbpfRun& options,
                   const vm::sbpf::SyscallRegistry& syscalls) {
  auto interpreter = vm::sbpf::Interpreter::create(std::move(executable), syscalls);
  if (!interpreter) return rejected(in_file(interpreter.error(), options.file));
  vm::sbpf::RunOptions run;
  run.compute_budget = options.compute_budget;
  if (memory) run.input = *memory;
  vm::sbpf::RunResult result = interpreter->run(run);
  RunReport report;
  report.error = std::move(result.error);
  report.r0 = result.r0;
  report.instructions = result.instructions;
  report.compute_units = result.compute_units;
  if (options.registers) report.registers = result.registers;
  report.output = std::move(result.log);
  report.output_field = "log";
  return report;
}

// v0-v2: registers the functions a loader would for this text: pc 0 as the
// entrypoint; a `call imm` whose imm is some pc's key calls that pc; any
// other call that is no syscall and lands inside the text is pc-relative, as
// the ELF loader reads it (what `bpfkit asm --dialect sbpf-v0` writes), and
// becomes the target's key.
std::unordered_map<uint32_t, uint64_t> link_calls(std::vector<isa::Slot>& text, const isa::Dialect& dialect,
                                                  const vm::sbpf::SyscallRegistry& syscalls) {
  std::unordered_map<uint32_t, uint64_t> functions{{isa::murmur3_32(std::string_view("entrypoint")), 0}};
  std::vector<size_t> calls;
  std::unordered_set<uint32_t> keys;
  for (size_t pc = 0; pc < text.size(); ++pc) {
    if (isa::lookup(text[pc], dialect) != isa::Op::call) continue;
    const auto key = static_cast<uint32_t>(text[pc].imm);
    if (syscalls.find(key) || functions.contains(key)) continue;
    calls.push_back(pc);
    keys.insert(key);
  }
  if (calls.empty()) return functions;
  for (uint64_t pc = 0; pc < text.size(); ++pc)
    if (const uint32_t key = isa::sbpf_pc_key(pc); keys.contains(key)) functions.emplace(key, pc);
  for (size_t pc : calls) {
    isa::Slot& call = text[pc];
    if (functions.contains(static_cast<uint32_t>(call.imm))) continue;
    const int64_t target = static_cast<int64_t>(pc) + 1 + call.imm;
    if (target < 0 || target >= static_cast<int64_t>(text.size())) continue;  // unknown: the VM says so
    const uint32_t key = isa::sbpf_pc_key(static_cast<uint64_t>(target));
    functions.emplace(key, static_cast<uint64_t>(target));
    call.imm = static_cast<int32_t>(key);
  }
  return functions;
}

}  // namespace

RunReport run_sbpf_object(std::span<const uint8_t> file, Memory memory, const SbpfRun& options) {
  auto program = load_sbpf(file, options.file, options.deploy_checks);
  if (!program) return rejected(program.error());
  return run_sbpf(vm::sbpf::Executable::from(std::move(*program)), memory, options,
                  vm::sbpf::SyscallRegistry::defaults());
}

RunReport run_sbpf_text(std::vector<isa::Slot> text, const isa::Dialect& dialect, Memory memory,
                        const SbpfRun& options) {
  vm::sbpf::Executable executable;
  executable.dialect = &dialect;
  executable.text_vaddr = vm::region_base(vm::kProgramRegion);
  const vm::sbpf::SyscallRegistry syscalls = vm::sbpf::SyscallRegistry::defaults();
  if (!dialect.sbpf.static_syscalls) executable.functions = link_calls(text, dialect, syscalls);
  if (!dialect.sbpf.lower_rodata_vaddr) {  // the linked text, readable as rodata
    executable.rodata = isa::to_bytes(text);
    executable.rodata_vaddr = executable.text_vaddr;
  }
  executable.text = std::move(text);
  return run_sbpf(std::move(executable), memory, options, syscalls);
}

}  // namespace bpfkit::cli
