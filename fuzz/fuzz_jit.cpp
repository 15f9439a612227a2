// Fuzz target: any byte string decoded as a Linux program, then run by the
// interpreter and by the JIT, each in its own Context with its own copy of
// the memory; any difference (registers, memory, error code, message and
// pc, instruction count) aborts. The JIT also must not crash on any input.
//
// Input layout (as fuzz_decode_run): byte 0 = memory size (0-255); the next
// that many bytes are the memory buffer; the rest is the program. Half the
// inputs (by a bit of a hash of all their bytes) also compare the JIT with
// constant blinding (--harden), seeded by that hash so that a crash
// replays; a program the verifier accepts (raw type, r1 = the memory) also
// runs with the checks its proofs make redundant left out (--verify).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "bpfkit/jit.hpp"
#include "bpfkit/verify.hpp"
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

Outcome run(bool jit, const isa::Program& program, std::span<const uint8_t> memory, const jit::Options& options = {}) {
  Outcome outcome;
  vm::Context context;
  stop_the_clock(context);
  context.set_budget(20000);  // loops are fine; they must just end
  outcome.memory.assign(memory.begin(), memory.end());
  context.map_input(outcome.memory);
  auto engine = jit ? jit::make_jit(program, context, options) : vm::make_interpreter(program, context);
  if (!engine) return outcome;
  outcome.prepared = true;
  outcome.result = (*engine)->run(context);
  return outcome;
}

[[noreturn]] void differ(const char* what, const char* mode) {
  std::fprintf(stderr, "JIT (%s) and interpreter differ: %s\n", mode, what);
  std::abort();
}

void compare(const Outcome& interp, const Outcome& jit, const char* mode) {
  if (interp.prepared != jit.prepared) differ("one engine refused the program", mode);
  if (!interp.prepared) return;
  const vm::RunResult& a = interp.result;
  const vm::RunResult& b = jit.result;
  if (a.registers != b.registers) differ("registers", mode);
  if (a.instructions != b.instructions) differ("instruction count", mode);
  if (a.error.has_value() != b.error.has_value()) differ("one engine faulted", mode);
  if (a.error && (a.error->code != b.error->code || a.error->message != b.error->message ||
                  a.error->location.pc != b.error->location.pc))
    differ("the error", mode);
  if (interp.memory != jit.memory) differ("memory", mode);
}

// FNV-1a of the input, never 0 (0 asks Jit::create for a random seed).
uint64_t seed_of(const uint8_t* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325;
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x100000001b3;
  return hash | 1;
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
  compare(interp, run(true, *program, memory), "plain");
  if (const uint64_t seed = seed_of(data, size); (seed & 2) != 0)
    compare(interp, run(true, *program, memory, {.harden = true, .harden_seed = seed}), "--harden");
  verify::Options verify_options;
  verify_options.mem_size = memory_size;
  verify_options.insn_limit = 20000;  // the fuzzer's time goes to runs, not to long verifications
  verify::Result verdict = verify::verify(*program, verify_options);
  if (verdict.accepted)
    compare(interp,
            run(true, *program, memory, {.proven = std::move(verdict.proven), .proven_memory_size = memory_size}),
            "--verify");
  return 0;
}
