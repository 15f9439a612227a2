#include "runners.hpp"

#include <cstdio>

#include "bpfkit/jit.hpp"

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
    } else if (vm::PerfEventArray* perf = map.perf_event_array()) {  // bpf_perf_event_output's records
      for (const auto& [cpu, record] : perf->drain()) entries.push_back(hex_bytes(record));
    } else {
      for (const vm::Map::Entry& entry : map.entries())
        entries.push_back({{"key", hex_bytes(entry.key)}, {"value", hex_bytes(entry.value)}});
    }
    maps.push_back({{"name", map.spec().name},
                    {"type", map_type_label(map.spec().type)},
                    {"type_id", map.spec().type},
                    {"entries", entries}});
  }
  return maps;
}

// The engine --engine names, prepared against the context.
Expected<std::unique_ptr<vm::Engine>> make_engine(const isa::Program& program, const vm::Context& context,
                                                  const RunOptions& options) {
  if (options.engine == "jit")
    return jit::make_jit(
        program, context,
        jit::Options{
            .harden = options.harden, .proven = options.proven, .proven_memory_size = options.proven_memory_size});
  return vm::make_interpreter(program, context);
}

// bpf_perf_event_output's records so far, each naming its map and CPU;
// nothing when the program made none.
std::optional<Json> perf_output(vm::Context& context) {
  Json records = Json::array();
  for (uint32_t i = 0; i < context.map_count(); ++i)
    if (vm::PerfEventArray* perf = context.map(i).perf_event_array())
      for (const auto& [cpu, record] : perf->drain())
        records.push_back({{"map", context.map(i).spec().name}, {"cpu", cpu}, {"data", hex_bytes(record)}});
  if (records.empty()) return std::nullopt;
  return records;
}

// The maps of `program`, then what the load-time setup puts in them. Perf
// event arrays get a reader on every CPU's slot first, as a user space
// that reads them (libbpf's perf_buffer__new) would set them up; --map can
// still change a slot.
std::optional<RunReport> add_maps(vm::Context& context, const isa::Program& program, const RunOptions& options) {
  if (auto maps = context.add_maps(program); !maps) return rejected(in_file(maps.error(), options.file));
  for (uint32_t i = 0; i < context.map_count(); ++i)
    if (vm::PerfEventArray* perf = context.map(i).perf_event_array()) perf->attach_readers();
  if (!options.fill_maps) return std::nullopt;
  if (auto filled = options.fill_maps(context); !filled) {
    RunReport report = rejected(filled.error());
    report.error_status = kExitBadInput;
    return report;
  }
  return std::nullopt;
}

}  // namespace

RunReport run_program(const isa::Program& program, Memory memory, const RunOptions& options) {
  vm::Context context(*program.dialect);
  context.set_task(options.task);
  if (auto failed = add_maps(context, program, options)) return std::move(*failed);
  if (program.dialect->family == isa::Family::Linux)  // every missing helper, before anything runs
    if (auto helpers = context.helpers().check_calls(program); !helpers)
      return rejected(in_file(helpers.error(), options.file));
  auto engine = make_engine(program, context, options);
  if (!engine) return rejected(in_file(engine.error(), options.file));
  if (memory) context.map_input(*memory);
  context.set_budget(options.budget);
  vm::RunResult result = (*engine)->run(context);
  RunReport report;
  report.error = std::move(result.error);
  report.instructions = result.instructions;
  report.output = std::move(result.output);
  if (program.dialect->family == isa::Family::Sbpf) {
    report.compute_units = result.compute_units;
    report.output_field = "log";
  }
  report.perf_output = perf_output(context);
  if (report.error) return report;
  report.r0 = result.r0;
  if (options.registers) report.registers = result.registers;
  if (options.dump_maps) report.maps = dump_maps(context);
  return report;
}

RunReport run_test(const isa::Program& program, const vm::TestRunInput& input, const RunOptions& options) {
  vm::Context context(*program.dialect);
  context.set_task(options.task);
  if (auto failed = add_maps(context, program, options)) return std::move(*failed);
  if (auto helpers = context.helpers().check_calls(program); !helpers)
    return rejected(in_file(helpers.error(), options.file));
  // The context first: the engine reads where its packet pointers are.
  if (auto prepared = vm::prepare_test_run(context, input); !prepared) {
    RunReport report = rejected(prepared.error());
    report.error_status = kExitBadInput;
    return report;
  }
  auto engine = make_engine(program, context, options);
  if (!engine) return rejected(in_file(engine.error(), options.file));
  context.set_budget(options.budget);
  auto out = vm::test_run(**engine, context, input);
  if (!out) return rejected(out.error());
  RunReport report;
  report.error = std::move(out->run.error);
  report.instructions = out->run.instructions;
  report.output = std::move(out->run.output);
  report.perf_output = perf_output(context);
  if (report.error) return report;
  report.r0 = out->run.r0;
  report.test_run = RunReport::TestRun{
      out->retval, hex_bytes(out->data_out), out->data_out.size(), out->duration_ns, options.timed, {}};
  if (const std::optional<vm::Redirect>& redirect = out->redirect) {
    Json target = Json::object();
    if (redirect->map) {
      target["map"] = context.map(*redirect->map).spec().name;
      target["key"] = redirect->key;
    } else {
      target["ifindex"] = redirect->ifindex;
    }
    target["flags"] = redirect->flags;
    report.test_run->redirect = std::move(target);
  }
  if (options.registers) report.registers = out->run.registers;
  if (options.dump_maps) report.maps = dump_maps(context);
  return report;
}

Expected<RunProofs> verify_before_run(const isa::Program& program, const verify::Options& options,
                                      const std::string& file, bool jit_engine) {
  verify::Result verdict = verify::verify(program, options);
  if (!verdict.accepted && verdict.error) {
    verdict.error->message =
        "verifier: " + verdict.error->message + " (" + std::string(verify::errno_name(verdict.error_number)) + ")";
    verdict.error->location.input = file;
    return *verdict.error;
  }
  if (!jit_engine) return RunProofs{};
  return RunProofs{std::move(verdict.proven), options.mem_size};
}

RunReport run_linux(std::span<const isa::Slot> slots, Memory memory, const RunOptions& options) {
  auto program = isa::decode(slots);
  if (!program) return rejected(in_file(program.error(), options.file));
  return run_program(*program, std::move(memory), options);
}

}  // namespace bpfkit::cli
