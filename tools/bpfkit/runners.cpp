#include "runners.hpp"

#include <array>
#include <cstdio>

#include "bpfkit/load.hpp"

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
Json dump_maps(vm::Context& context) {
  Json maps = Json::array();
  for (uint32_t i = 0; i < context.map_count(); ++i) {
    vm::Map& map = context.map(i);
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

// Prepares `program` for `context` and runs it with the input mapped (r1 =
// the input; Linux: r2 = its length). The program's output and counts are
// kept whether or not the run faults.
RunReport run_in(const isa::Program& program, vm::Context& context, Memory& memory, uint64_t budget, bool registers,
                 const std::string& file) {
  auto engine = vm::make_interpreter(program, context);
  if (!engine) return rejected(in_file(engine.error(), file));
  if (memory) context.map_input(*memory);
  context.set_budget(budget);
  vm::RunResult result = (*engine)->run(context);
  RunReport report;
  report.error = std::move(result.error);
  report.instructions = result.instructions;
  report.output = std::move(result.output);
  if (program.dialect->family == isa::Family::Sbpf) {
    report.compute_units = result.compute_units;
    report.output_field = "log";
  }
  if (report.error) return report;
  report.r0 = result.r0;
  if (registers) report.registers = result.registers;
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
  vm::Context context(*program->dialect);
  return run_in(*program, context, memory, options.budget, options.registers, options.file);
}

RunReport run_ebpf_object(std::span<const uint8_t> file, Memory memory, const ObjectRun& options) {
  auto object = elf::EbpfObject::parse(file, options.run.file);
  if (!object) return rejected(object.error());
  auto program = options.section.empty() && options.function.empty()
                     ? object->default_program()
                     : object->find_program(options.section, options.function);
  if (!program) return rejected(in_file(program.error(), options.run.file));
  auto loaded = object->load_program(**program);
  if (!loaded) return rejected(in_file(loaded.error(), options.run.file));
  vm::Context context(*loaded->dialect);
  if (auto maps = context.add_maps(*loaded); !maps) return rejected(in_file(maps.error(), options.run.file));
  RunReport report = run_in(*loaded, context, memory, options.run.budget, options.run.registers, options.run.file);
  if (options.dump_maps && !report.error) report.maps = dump_maps(context);
  return report;
}

Expected<elf::sbpf::Program> load_sbpf(std::span<const uint8_t> file, const std::string& name, bool deploy_checks) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = deploy_checks;
  config.syscalls = vm::HelperTable::sbpf_defaults().names();
  auto program = elf::sbpf::load(file, config);
  if (!program) program.error().location.input = name;
  return program;
}

RunReport run_sbpf_object(std::span<const uint8_t> file, Memory memory, const SbpfRun& options) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = options.deploy_checks;
  config.syscalls = vm::HelperTable::sbpf_defaults().names();
  auto program = elf::sbpf::load_program(file, config);
  if (!program) return rejected(in_file(program.error(), options.file));
  vm::Context context(*program->dialect);
  return run_in(*program, context, memory, options.compute_budget, options.registers, options.file);
}

RunReport run_sbpf_text(std::vector<isa::Slot> text, const isa::Dialect& dialect, Memory memory,
                        const SbpfRun& options) {
  vm::Context context(dialect);
  elf::sbpf::LoaderConfig config;
  config.syscalls = context.helpers().names();
  auto program = load::raw_program(std::move(text), options.file, dialect, config);
  if (!program) return rejected(program.error());
  return run_in(*program, context, memory, options.compute_budget, options.registers, options.file);
}

}  // namespace bpfkit::cli
