// Fuzz target: any byte string decoded as a Linux program, then run by the
// interpreter and by the JIT, each in its own Context with its own copy of
// the memory; any difference (registers, memory, error code, message and
// pc, instruction count) aborts. The JIT also must not crash on any input.
//
// Input layout (as fuzz_decode_run): byte 0 = memory size (0-255); the next
// that many bytes are the memory buffer; the rest is the program.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bpfkit/jit.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

struct Outcome {
  bool prepared = false;
  vm::RunResult result;
  std::vector<uint8_t> memory;
};

// The clock helpers answer the time of day, which differs between two runs:
// both engines get a stopped clock instead.
void stop_the_clock(vm::Context& context) {
  for (const uint32_t id : {5u, 118u, 125u, 160u, 208u})
    if (context.helpers().find(id) != nullptr)
      context.helpers().add(id, [](vm::HelperCall&) -> Expected<uint64_t> { return uint64_t{1'000'000'000}; });
}

Outcome run(bool jit, const isa::Program& program, std::span<const uint8_t> memory) {
  Outcome outcome;
  vm::Context context;
  stop_the_clock(context);
  context.set_budget(20000);  // loops are fine; they must just end
  outcome.memory.assign(memory.begin(), memory.end());
  context.map_input(outcome.memory);
  auto engine = jit ? jit::make_jit(program, context) : vm::make_interpreter(program, context);
  if (!engine) return outcome;
  outcome.prepared = true;
  outcome.result = (*engine)->run(context);
  return outcome;
}

[[noreturn]] void differ(const char* what) {
  std::fprintf(stderr, "JIT and interpreter differ: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t memory_size = data[0] < size - 1 ? data[0] : size - 1;
  const std::span<const uint8_t> memory(data + 1, memory_size);
  const std::span<const uint8_t> code(data + 1 + memory_size, size - 1 - memory_size);
  auto program = isa::decode(code);
  if (!program) return 0;
  const Outcome interp = run(false, *program, memory);
  const Outcome jit = run(true, *program, memory);
  if (interp.prepared != jit.prepared) differ("one engine refused the program");
  if (!interp.prepared) return 0;
  const vm::RunResult& a = interp.result;
  const vm::RunResult& b = jit.result;
  if (a.registers != b.registers) differ("registers");
  if (a.instructions != b.instructions) differ("instruction count");
  if (a.error.has_value() != b.error.has_value()) differ("one engine faulted");
  if (a.error && (a.error->code != b.error->code || a.error->message != b.error->message ||
                  a.error->location.pc != b.error->location.pc))
    differ("the error");
  if (interp.memory != jit.memory) differ("memory");
  return 0;
}
