// Fuzz target: any byte string through decode, prepare and run. Nothing may
// crash, leak or trip a sanitizer; errors are normal results.
//
// Input layout: byte 0 = memory size (0-255); the next that many bytes are
// the memory buffer; the rest is the program.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bpfkit/vm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  if (size == 0) return 0;
  const size_t memory_size = data[0] < size - 1 ? data[0] : size - 1;
  std::vector<uint8_t> memory(data + 1, data + 1 + memory_size);
  const std::span<const uint8_t> code(data + 1 + memory_size, size - 1 - memory_size);
  auto program = isa::decode(code);
  if (!program) return 0;
  vm::Context context;
  auto interpreter = vm::Interpreter::create(*program, context);
  if (!interpreter) return 0;
  context.set_budget(20000);  // loops are fine; they must just end
  context.map_input(memory);
  const vm::RunResult result = interpreter->run(context);
  if (result.error && !result.error->location.pc) std::abort();  // every fault names its pc
  if (result.instructions > 20000) std::abort();
  return 0;
}
