// Fuzz target: any byte string as an sBPF program of any version (the
// layout and seeds of fuzz_sbpf_run), through the production verifier, then
// run by the sBPF interpreter and by the JIT, each in its own Context with
// its own copy of the input; any difference (registers, input memory, error
// name, message and pc, instructions, compute units) aborts. The JIT also
// must not crash on any input.
//
// Input layout: byte 0 = version (mod 4); byte 1 = input region size
// (0-255); the next that many bytes are the input; the rest is the text,
// entered at pc 0. Calls in v0..v2 can reach the functions keyed below.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

struct Outcome {
  bool prepared = false;
  std::string prepare_error;
  vm::RunResult result;
  std::vector<uint8_t> input;
};

Outcome run(bool jit, const isa::Program& program, std::span<const uint8_t> input) {
  Outcome outcome;
  vm::Context context(*program.dialect);
  context.set_budget(20000);  // loops are fine; they must just end
  context.set_heap_size(1024);
  outcome.input.assign(input.begin(), input.end());
  context.map_input(outcome.input);
  auto engine = jit ? jit::make_jit(program, context) : vm::make_interpreter(program, context);
  if (!engine) {
    outcome.prepare_error = to_string(engine.error());
    return outcome;
  }
  outcome.prepared = true;
  outcome.result = (*engine)->run(context);
  return outcome;
}

[[noreturn]] void differ(const char* what) {
  std::fprintf(stderr, "sBPF JIT and interpreter differ: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const isa::Dialect* dialect = isa::sbpf_dialect(data[0] % 4);
  const size_t input_size = data[1] < size - 2 ? data[1] : size - 2;
  const std::span<const uint8_t> input(data + 2, input_size);
  const std::span<const uint8_t> code(data + 2 + input_size, size - 2 - input_size);
  if (code.empty() || code.size() % sizeof(isa::Slot) != 0) return 0;

  std::vector<isa::Slot> text(code.size() / sizeof(isa::Slot));
  std::memcpy(text.data(), code.data(), code.size());
  auto program = load::raw_program(std::move(text), "fuzz", *dialect);
  if (!program) return 0;
  for (uint32_t pc = 0; pc < program->size() && pc < 4; ++pc) program->function_keys[isa::sbpf_pc_key(pc)] = pc;

  const Outcome interp = run(false, *program, input);
  const Outcome jit = run(true, *program, input);
  if (interp.prepared != jit.prepared || interp.prepare_error != jit.prepare_error)
    differ("one engine refused the program");
  if (!interp.prepared) return 0;
  const vm::RunResult& a = interp.result;
  const vm::RunResult& b = jit.result;
  if (a.registers != b.registers) differ("registers");
  if (a.instructions != b.instructions) differ("instruction count");
  if (a.compute_units != b.compute_units) differ("compute units");
  if (a.error.has_value() != b.error.has_value()) differ("one engine faulted");
  if (a.error && (a.error->code != b.error->code || a.error->name() != b.error->name() ||
                  a.error->message != b.error->message || a.error->location.pc != b.error->location.pc))
    differ("the error");
  if (interp.input != jit.input) differ("input memory");
  return 0;
}
