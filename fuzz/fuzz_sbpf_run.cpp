// Fuzz target: any byte string as an sBPF program of any version, through
// the production verifier's rules, the sBPF interpreter and the built-in
// syscalls. Nothing may crash or trip a sanitizer, and what the VM reports
// must hold together: units within the budget, every fault named.
//
// Input layout: byte 0 = version (mod 4); byte 1 = input region size
// (0-255); the next that many bytes are the input; the rest is the text,
// entered at pc 0. Calls in v0..v2 can reach the functions keyed below.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  if (size < 2) return 0;
  const isa::Dialect* dialect = isa::sbpf_dialect(data[0] % 4);
  const size_t input_size = data[1] < size - 2 ? data[1] : size - 2;
  std::vector<uint8_t> input(data + 2, data + 2 + input_size);
  const std::span<const uint8_t> code(data + 2 + input_size, size - 2 - input_size);
  if (code.empty() || code.size() % sizeof(isa::Slot) != 0) return 0;

  std::vector<isa::Slot> text(code.size() / sizeof(isa::Slot));
  std::memcpy(text.data(), code.data(), code.size());
  auto program = load::raw_program(std::move(text), "fuzz", *dialect);
  if (!program) {
    if (program.error().name().empty()) std::abort();
    return 0;
  }
  for (uint32_t pc = 0; pc < program->size() && pc < 4; ++pc) program->function_keys[isa::sbpf_pc_key(pc)] = pc;

  vm::Context context(*dialect);
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  if (!interpreter) {
    if (interpreter.error().name().empty()) std::abort();
    return 0;
  }
  context.set_budget(20000);  // loops are fine; they must just end
  context.map_input(input);
  context.set_heap_size(1024);
  const vm::RunResult result = interpreter->run(context);
  if (result.compute_units > 20000 || result.instructions > result.compute_units) std::abort();
  if (result.error && result.error->name().empty()) std::abort();
  return 0;
}
