// Fuzz target: the offload protocol on any program. Any byte string is
// decoded as a Linux program and loaded, as the raw type (r1 = a buffer of
// the input's memory size), onto the recorder and onto the strict device.
// Whenever the verifier accepts: replaying the recorded rewrites on the
// original must give the xlated program; the strict device, if it accepts,
// must translate into exactly that program; and the xlated program must run
// without a fault, as the original may. Any difference aborts.
//
// Input layout (as fuzz_decode_run's, whose seeds it shares): byte 0 =
// memory size (0-255); the next that many bytes are the memory buffer; the
// rest is the program.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bpfkit/offload.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

constexpr uint64_t kInsnLimit = 100'000;
constexpr uint64_t kRunBudget = 1'000'000;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

bool is_fault(const Error& error) { return error.code != Errc::BudgetExceeded && error.code != Errc::HelperFailed; }

void run_without_fault(const std::vector<isa::Slot>& slots, std::vector<uint8_t> memory) {
  auto program = isa::decode(slots);
  if (!program) fail("the xlated program does not decode");
  vm::Context context;
  auto interpreter = vm::Interpreter::create(*program, context);
  if (!interpreter) fail("the interpreter refuses the xlated program");
  context.set_budget(kRunBudget);
  context.map_input(memory);
  const vm::RunResult result = interpreter->run(context);
  if (result.error && is_fault(*result.error)) {
    std::fprintf(stderr, "xlated program faulted: %s\n", to_string(*result.error).c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t memory_size = data[0] < size - 1 ? data[0] : size - 1;
  std::vector<uint8_t> memory(data + 1, data + 1 + memory_size);
  const std::span<const uint8_t> code(data + 1 + memory_size, size - 1 - memory_size);
  if (code.empty() || code.size() % sizeof(isa::Slot) != 0) return 0;
  std::vector<isa::Slot> slots(code.size() / sizeof(isa::Slot));
  std::memcpy(slots.data(), code.data(), code.size());

  verify::Options options;
  options.type = verify::ProgramType::Raw;
  options.mem_size = memory_size;
  options.insn_limit = kInsnLimit;
  offload::Recorder recorder;
  offload::BoundProgram recorded = offload::BoundProgram::load_slots(recorder, slots, options);
  const verify::Result& verdict = recorded.result().verification;
  if (!verdict.accepted) return 0;
  if (offload::replay(slots, recorder.calls()) != verdict.xlated) fail("replaying the rewrites differs from xlated");

  offload::StrictDevice strict;
  offload::BoundProgram bound = offload::BoundProgram::load_slots(strict, slots, options);
  // The strict device may refuse during verification; what it lets through
  // is rewritten as without it.
  if (bound.result().verification.accepted && bound.result().verification.xlated != verdict.xlated)
    fail("the strict load rewrote the program differently");
  if (bound.result().accepted && strict.translated(bound.program()) != verdict.xlated)
    fail("the strict device's translation differs from xlated");
  run_without_fault(verdict.xlated, std::move(memory));
  return 0;
}
