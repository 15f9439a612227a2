// Fuzz target: the IR round trip through code generation. Any byte string
// is decoded as a Linux program; one the verifier accepts as the raw type
// (r1 = the input's memory buffer, r2 = its length) is lifted, optimised
// with the validator run after every pass, and generated back, at -O0 and
// at -O2. Then:
//  - the lifter, each pass and the code generator either succeed or return
//    an error; IR the validator rejects after a pass is a pass bug (abort);
//  - the generated program is accepted by the verifier, as the original was
//    (the promise: codegen keeps what the verifier tracks);
//  - where the original exits normally, the generated program exits
//    normally too, with the same r0 and the same memory buffer.
// A third round marks some rows as kept CO-RE relocations
// (isa::Program::core_slots, as `bpfkit opt` loads an object): -O2 must
// emit each as it was (row, off, imm), naming its relocation, and the
// program must behave the same.
// Runs that fault or run out of budget are not compared: the passes may
// remove a dead load that faulted, and they change instruction counts; nor
// are programs whose two runs differ (they read the clock).
//
// Input layout (fuzz_decode_run's, whose seeds it shares): byte 0 = memory
// size (0-255); the next that many bytes are the memory buffer; the rest is
// the program.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

// Lower than the kernel's limits so that each input stays fast; only which
// inputs are tried changes.
constexpr uint64_t kInsnLimit = 100'000;
constexpr uint64_t kRunBudget = 1'000'000;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_opt: %s\n", what.c_str());
  std::abort();
}

bool accepted(const isa::Program& program, uint64_t memory_size, bool prune = true) {
  verify::Options options;
  options.type = verify::ProgramType::Raw;
  options.mem_size = memory_size;
  options.insn_limit = kInsnLimit;
  options.prune = prune;
  return verify::verify(program, options).accepted;
}

struct Outcome {
  bool exited = false;
  uint64_t r0 = 0;
  std::vector<uint8_t> memory;
};

// nullopt where the interpreter refuses the program (a pseudo lddw the
// verifier left in dead code needs a loader the fuzzer does not have).
std::optional<Outcome> run(const isa::Program& program, std::vector<uint8_t> memory) {
  vm::Context context;
  auto interpreter = vm::Interpreter::create(program, context);
  if (!interpreter) {
    interpreter.ignore();
    return std::nullopt;
  }
  context.set_budget(kRunBudget);
  context.map_input(memory);
  const vm::RunResult result = interpreter->run(context);
  context.unmap_input();
  return Outcome{!result.error, result.r0, std::move(memory)};
}

// lift -> the level's pipeline (validated after each pass) -> generate;
// nullopt where a stage returns an error.
std::optional<isa::Program> round_trip(const isa::Program& program, ir::OptLevel level) {
  auto module = ir::lift(program);
  if (!module) return std::nullopt;
  if (!ir::validate(**module)) fail("the lifter made invalid IR");
  auto steps = ir::parse_pipeline(ir::level_pipeline(static_cast<int>(level)));
  if (!steps) fail("the level's pipeline does not parse: " + steps.error().message);
  ir::PipelineOptions options;
  options.validate_each = true;
  auto stats = ir::run_pipeline(**module, *steps, options);
  if (!stats) fail("a pass left invalid IR: " + stats.error().message);
  ir::CodegenOptions codegen;
  codegen.original = &program;
  auto generated = ir::generate(**module, codegen);
  if (!generated) return std::nullopt;
  return std::move(*generated);
}

// The program with every third row a CO-RE relocation could name (from a
// place the input chooses) marked as one, numbered by its slot.
isa::Program with_kept_rows(isa::Program program, uint8_t seed) {
  for (uint32_t pc = 0; pc < program.size(); ++pc)
    if (program.ops[pc] && isa::core_patchable(*program.ops[pc], program.slots[pc]) && (pc + seed) % 3 == 0)
      program.core_slots.push_back({pc, pc});
  return program;
}

// Every kept row of `generated` is its relocation's row of `original`, unchanged.
void check_kept_rows(const isa::Program& original, const isa::Program& generated) {
  for (const isa::Program::CoreSlot& kept : generated.core_slots) {
    if (kept.slot >= generated.size() || !generated.ops[kept.slot]) fail("a kept row's slot is not an instruction");
    const isa::Slot& was = original.slots[kept.relocation];
    const isa::Slot& now = generated.slots[kept.slot];
    const bool same =
        now.code == was.code && now.off == was.off && now.imm == was.imm &&
        (original.width_at(kept.relocation) == 1 || generated.imm64(kept.slot) == original.imm64(kept.relocation));
    if (!same) fail("a kept row changed: " + isa::slot_hex(was) + " became " + isa::slot_hex(now));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t memory_size = data[0] < size - 1 ? data[0] : size - 1;
  const std::vector<uint8_t> memory(data + 1, data + 1 + memory_size);
  const std::span<const uint8_t> code(data + 1 + memory_size, size - 1 - memory_size);
  auto program = isa::decode(code);
  if (!program || !accepted(*program, memory_size)) return 0;
  const std::optional<Outcome> ran = run(*program, memory);
  if (!ran) return 0;
  const Outcome& original = *ran;
  // A program whose result changes from run to run (it reads the clock:
  // ktime_get_ns) has no result to compare.
  const Outcome again = *run(*program, memory);
  const bool deterministic =
      again.exited == original.exited && again.r0 == original.r0 && again.memory == original.memory;
  const isa::Program kept = with_kept_rows(*program, data[0]);
  for (int round = 0; round < 3; ++round) {
    const ir::OptLevel level = round == 0 ? ir::OptLevel::O0 : ir::OptLevel::O2;
    const std::string name = round == 0 ? "-O0" : round == 1 ? "-O2" : "-O2 with kept rows";
    auto generated = round_trip(round == 2 ? kept : *program, level);
    if (!generated) continue;
    if (round == 2) check_kept_rows(*program, *generated);
    // An original the verifier accepts only because pruning met a wider
    // state first (verify::Options::prune) has no acceptance code
    // generation can keep: another block order explores another state
    // first. Such inputs are not code generation's failures.
    if (!accepted(*generated, memory_size) && accepted(*program, memory_size, false))
      fail(name + ": the verifier rejects the generated program");
    if (!original.exited || !deterministic) continue;
    const std::optional<Outcome> ran_after = run(*generated, memory);
    if (!ran_after) fail(name + ": the interpreter refuses the generated program");
    const Outcome& after = *ran_after;
    if (!after.exited) fail(name + ": the generated program faults where the original exits");
    if (after.r0 != original.r0) fail(name + ": r0 differs");
    if (after.memory != original.memory) fail(name + ": the memory buffer differs");
  }
  return 0;
}
