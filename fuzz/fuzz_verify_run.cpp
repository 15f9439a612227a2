// Fuzz target: the verifier's soundness. Any byte string is decoded as a
// Linux program and verified as the raw type (r1 = a buffer of the input's
// memory size, r2 = its length) under both privilege profiles; a program
// either profile accepts then runs in the interpreter with that buffer. An
// accepted program that faults (a memory access outside its regions,
// running off the code, too deep a call chain, ...) is a verifier bug: the
// target aborts. Running out of budget is not a fault (the verifier does not
// bound run time), nor is a helper refusing its arguments at run time.
//
// Input layout (as fuzz_decode_run's, whose seeds it shares): byte 0 =
// memory size (0-255); the next that many bytes are the memory buffer; the
// rest is the program.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

// Past this many processed instructions the verifier says E2BIG: lower than
// the kernel's 1,000,000 so that each input stays fast; only rejections
// change.
constexpr uint64_t kInsnLimit = 100'000;
constexpr uint64_t kRunBudget = 1'000'000;

bool accepted(const isa::Program& program, uint64_t memory_size, verify::Profile profile) {
  verify::Options options;
  options.type = verify::ProgramType::Raw;
  options.profile = profile;
  options.mem_size = memory_size;
  options.insn_limit = kInsnLimit;
  return verify::verify(program, options).accepted;
}

bool is_fault(const Error& error) { return error.code != Errc::BudgetExceeded && error.code != Errc::HelperFailed; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t memory_size = data[0] < size - 1 ? data[0] : size - 1;
  std::vector<uint8_t> memory(data + 1, data + 1 + memory_size);
  const std::span<const uint8_t> code(data + 1 + memory_size, size - 1 - memory_size);
  auto program = isa::decode(code);
  if (!program) return 0;
  if (!accepted(*program, memory_size, verify::Profile::Root) && !accepted(*program, memory_size, verify::Profile::Bpf))
    return 0;
  vm::Context context;
  auto interpreter = vm::Interpreter::create(*program, context);
  if (!interpreter) {
    std::fprintf(stderr, "accepted, but the interpreter refuses it: %s\n", to_string(interpreter.error()).c_str());
    std::abort();
  }
  context.set_budget(kRunBudget);
  context.map_input(memory);
  const vm::RunResult result = interpreter->run(context);
  if (result.error && is_fault(*result.error)) {
    std::fprintf(stderr, "accepted, then faulted: %s\n", to_string(*result.error).c_str());
    std::abort();
  }
  return 0;
}
