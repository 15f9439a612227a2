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

#include "bpfkit/vm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  if (size < 2) return 0;
  const isa::Dialect* dialect = isa::sbpf_dialect(data[0] % 4);
  const size_t input_size = data[1] < size - 2 ? data[1] : size - 2;
  std::vector<uint8_t> input(data + 2, data + 2 + input_size);
  const std::span<const uint8_t> code(data + 2 + input_size, size - 2 - input_size);
  if (code.empty() || code.size() % sizeof(isa::Slot) != 0) return 0;

  vm::sbpf::Executable executable;
  executable.dialect = dialect;
  executable.text.resize(code.size() / sizeof(isa::Slot));
  std::memcpy(executable.text.data(), code.data(), code.size());
  executable.text_vaddr = vm::region_base(vm::kProgramRegion);
  if (!dialect->sbpf.lower_rodata_vaddr) {
    executable.rodata_vaddr = executable.text_vaddr;
    executable.rodata.assign(code.begin(), code.end());
  }
  for (uint64_t pc = 0; pc < executable.text.size() && pc < 4; ++pc) executable.functions[isa::sbpf_pc_key(pc)] = pc;

  static const vm::sbpf::SyscallRegistry syscalls = vm::sbpf::SyscallRegistry::defaults();
  auto interpreter = vm::sbpf::Interpreter::create(executable, syscalls);
  if (!interpreter) {
    if (interpreter.error().name().empty()) std::abort();
    return 0;
  }
  vm::sbpf::RunOptions options;
  options.compute_budget = 20000;  // loops are fine; they must just end
  options.input = input;
  options.heap_size = 1024;
  const vm::sbpf::RunResult result = interpreter->run(options);
  if (result.compute_units > options.compute_budget || result.instructions > result.compute_units) std::abort();
  if (result.error && result.error->name().empty()) std::abort();
  return 0;
}
