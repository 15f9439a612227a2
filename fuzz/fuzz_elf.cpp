// Fuzz target: any bytes through the eBPF object loader, then every program
// it finds through load_program(), and each program run with its maps for a
// bounded number of instructions, so that the map helpers see whatever
// pointers and sizes a mutated program passes them. Objects with CO-RE
// relocations (`.BTF.ext`) have them resolved against their own `.BTF`.
// Then the object is written again as `bpfkit opt` writes it, each program
// as loaded with its CO-RE relocations kept, and read back. Errors are
// normal results; crashes, leaks and undefined behaviour are bugs.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

// A 64-byte IPv4/TCP frame: what a program-type run of an XDP, tc or
// socket filter program gets, so that the packet helpers see the pointers,
// offsets and lengths a mutated program passes them.
std::vector<uint8_t> test_frame() {
  std::vector<uint8_t> frame(64, 0);
  frame[12] = 0x08, frame[14] = 0x45, frame[16] = 0, frame[17] = 50, frame[23] = 6;
  return frame;
}

void run(const isa::Program& program, std::optional<isa::ProgramType> type) {
  vm::Context context;
  context.set_budget(10000);
  // Maps up to 2 GiB are legal; the fuzzer keeps to small ones so that its
  // memory limit measures leaks, not a map a mutated object asked for.
  for (const isa::MapSpec& spec : program.maps)
    if (uint64_t{spec.value_size} * spec.max_entries > (uint64_t{64} << 20) || spec.max_entries > (64u << 20)) return;
  if (!context.add_maps(program)) return;
  // Perf event arrays read on every CPU, as `bpfkit run` sets them up.
  for (uint32_t i = 0; i < context.map_count(); ++i)
    if (vm::PerfEventArray* perf = context.map(i).perf_event_array()) perf->attach_readers();
  vm::TestRunInput input;
  const bool typed = type && (*type == isa::ProgramType::Xdp || *type == isa::ProgramType::Tc ||
                              *type == isa::ProgramType::Socket || *type == isa::ProgramType::Kprobe);
  if (typed) {  // as `bpfkit run --type`: the packet helpers, the tracing context
    input.type = *type;
    if (*type != isa::ProgramType::Kprobe) input.data_in = test_frame();
    if (!vm::prepare_test_run(context, input)) return;
  }
  auto interpreter = vm::Interpreter::create(program, context);
  if (!interpreter) return;
  if (typed) {
    static_cast<void>(vm::test_run(*interpreter, context, input));
    return;
  }
  uint8_t packet[64] = {};
  context.map_input(packet);
  static_cast<void>(interpreter->run(context));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> file(data, size);
  if (auto reader = elf::Reader::parse(file))
    for (const elf::SectionHeader& s : reader->sections())
      if (s.type == 4 || s.type == 9) reader->relocations(s).ignore();  // SHT_RELA, SHT_REL
  auto object = elf::EbpfObject::parse(file);
  if (!object) return 0;
  object->default_program().ignore();
  // CO-RE: the object's own .BTF as the target (what a mutated .BTF.ext or
  // .BTF makes of matching, calculation and patching), every relocation
  // resolved, then each program loaded against it.
  std::optional<elf::Btf> own;
  if (!object->info().core_relocations.empty()) {
    if (auto btf = elf::Btf::parse(file)) own = std::move(*btf);
    if (own)
      for (size_t i = 0; i < object->info().core_relocations.size(); ++i) object->resolve_core(i, *own).ignore();
  }
  elf::LoadOptions options;
  options.core_target = own ? &*own : nullptr;
  for (const elf::ProgramInfo& program : object->info().programs)
    if (auto loaded = object->load_program(program, options))
      run(*loaded, isa::program_type_of_section(program.section));
  std::deque<isa::Program> kept;  // stable addresses for NewCode
  std::vector<elf::EbpfObject::NewCode> code;
  for (const elf::ProgramInfo& program : object->info().programs)
    if (auto loaded = object->load_program(program, {.keep_core = true})) {
      kept.push_back(std::move(*loaded));
      code.push_back({&program, &kept.back()});
    }
  if (auto rewritten = object->rewrite(code)) elf::EbpfObject::parse(rewritten->bytes).ignore();
  return 0;
}
