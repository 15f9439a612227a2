// libFuzzer target for the sBPF loader: peek() and load() of arbitrary bytes
// under several configurations must never crash, and must agree with each
// other (what peek() rejects, load() rejects with the same error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"

namespace {

namespace sbpf = bpfkit::elf::sbpf;

sbpf::LoaderConfig config_of(unsigned variant) {
  sbpf::LoaderConfig config;
  config.deploy_checks = (variant & 1) != 0;
  config.symbol_labels = (variant & 2) != 0;
  if (variant & 4) config.syscalls = {"log", "sol_log_", "abort", "entrypoint"};
  if (variant == 7) config.max_version = 0;  // a v0-only loader
  return config;
}

// A program that loads goes on through the verifier and a short run, as the
// command line would take it.
void run(const sbpf::Program& loaded) {
  namespace vm = bpfkit::vm;
  auto program = sbpf::to_program(loaded);
  if (!program) {
    if (program.error().name().empty()) std::abort();
    return;
  }
  vm::Context context(*program->dialect);
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  if (!interpreter) {
    if (interpreter.error().name().empty()) std::abort();
    return;
  }
  std::vector<uint8_t> input(16, 1);
  context.set_budget(2000);
  context.map_input(input);
  context.set_heap_size(256);
  const vm::RunResult result = interpreter->run(context);
  if (result.compute_units > 2000) std::abort();
  if (result.error && result.error->name().empty()) std::abort();
}

void check(std::span<const uint8_t> bytes, const sbpf::LoaderConfig& config) {
  auto info = sbpf::peek(bytes, config);
  auto program = sbpf::load(bytes, config);
  // load() runs peek()'s checks first: a peek failure is a load failure.
  if (!info && (program || program.error().name() != info.error().name())) std::abort();
  if (!program) {
    if (program.error().domain != bpfkit::Domain::SbpfLoader) std::abort();
    return;
  }
  // What the VM relies on.
  if (program->calldests.size() != program->text.size()) std::abort();
  // (entry_pc may lie past a .text whose size is not whole slots: Agave
  // loads such files and leaves them to the verifier.)
  for (const auto& [key, function] : program->functions) {
    if (function.name.size() > 255) std::abort();
  }
  run(*program);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  for (unsigned variant = 0; variant < 8; ++variant) check(bytes, config_of(variant));
  return 0;
}
