// Runs one program on the interpreter and on the JIT, each in a fresh
// Context with its own copy of the input, and says where they differ.
#pragma once

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::test {

// A Linux program from assembly text (the conformance suite's dialect:
// labels, both syntaxes); a failure fails the test and gives an empty program.
inline isa::Program assemble(const std::string& text) {
  auto slots = assembly::assemble_conformance(text, "test");
  EXPECT_TRUE(slots.has_value()) << (slots ? "" : to_string(slots.error()));
  if (!slots) return {};
  auto program = isa::decode(*slots);
  EXPECT_TRUE(program.has_value()) << (program ? "" : to_string(program.error()));
  return program ? std::move(*program) : isa::Program{};
}

// The x86 disassembly of the hot code of the instruction at `pc`.
inline std::string code_at(const isa::Program& program, uint32_t pc) {
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  EXPECT_TRUE(jit.has_value()) << (jit ? "" : to_string(jit.error()));
  if (!jit) return "(not compiled)";
  for (const jit::CodeRange& range : jit->ranges())
    if (range.pc == pc)
      return jit::disassemble_x86(jit->code().subspan(range.begin, range.end - range.begin),
                                  jit->code_address() + range.begin);
  return "(no range)";
}

struct EngineRun {
  bool prepared = false;
  std::string prepare_error;
  vm::RunResult result;
  std::vector<uint8_t> memory;  // the input after the run
};

// The clock helpers (ktime_get_ns, jiffies64, ...) differ between two runs:
// both engines get a stopped clock.
inline void stop_the_clock(vm::Context& context) {
  for (const uint32_t id : {5u, 118u, 125u, 160u, 208u})
    if (context.helpers().find(id) != nullptr)
      context.helpers().add(id, [](vm::HelperCall&) -> Expected<uint64_t> { return uint64_t{1'000'000'000}; });
}

inline EngineRun run_engine(bool jit, const isa::Program& program, std::span<const uint8_t> input,
                            std::optional<uint64_t> budget, jit::Options jit_options = {}) {
  EngineRun run;
  vm::Context context(*program.dialect);
  stop_the_clock(context);
  if (budget) context.set_budget(*budget);
  run.memory.assign(input.begin(), input.end());
  if (!run.memory.empty()) context.map_input(run.memory);
  auto engine = jit ? jit::make_jit(program, context, jit_options) : vm::make_interpreter(program, context);
  if (!engine) {
    run.prepare_error = to_string(engine.error());
    return run;
  }
  run.prepared = true;
  run.result = (*engine)->run(context);
  return run;
}

inline std::string describe(const vm::RunResult& result) {
  std::string text = "r0=" + hex_string(result.r0) + " insns=" + std::to_string(result.instructions);
  if (result.error) text += " error: " + to_string(*result.error);
  return text;
}

// Registers, memory, error (code, message, pc) and instruction count.
inline void expect_same_run(const isa::Program& program, std::span<const uint8_t> input,
                            std::optional<uint64_t> budget = std::nullopt, jit::Options jit_options = {}) {
  const EngineRun interp = run_engine(false, program, input, budget);
  const EngineRun jit = run_engine(true, program, input, budget, jit_options);
  ASSERT_EQ(interp.prepared, jit.prepared) << interp.prepare_error << " / " << jit.prepare_error;
  if (!interp.prepared) {
    EXPECT_EQ(interp.prepare_error, jit.prepare_error);
    return;
  }
  const vm::RunResult& a = interp.result;
  const vm::RunResult& b = jit.result;
  SCOPED_TRACE("interpreter: " + describe(a) + "\njit:         " + describe(b));
  EXPECT_EQ(a.registers, b.registers);
  EXPECT_EQ(a.r0, b.r0);
  EXPECT_EQ(a.instructions, b.instructions);
  ASSERT_EQ(a.error.has_value(), b.error.has_value());
  if (a.error) {
    EXPECT_EQ(a.error->code, b.error->code);
    EXPECT_EQ(a.error->message, b.error->message);
    EXPECT_EQ(a.error->location.pc, b.error->location.pc);
  }
  EXPECT_EQ(interp.memory, jit.memory);
}

}  // namespace bpfkit::test
