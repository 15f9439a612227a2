// Test programs for the code generator's tests: assembly text (either
// syntax, with labels and calls) opened as `bpfkit` opens a .s file, and
// the r0 a program leaves when the interpreter runs it.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <span>
#include <string_view>

#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::test {

// The program; a failure fails the test and gives an empty program.
inline isa::Program assemble(std::string_view source) {
  auto opened = load::open(std::span(reinterpret_cast<const uint8_t*>(source.data()), source.size()), "test.s", {});
  EXPECT_TRUE(opened.has_value()) << (opened ? "" : to_string(opened.error()));
  return opened ? std::move(opened->program) : isa::Program{};
}

// The r0 `program` leaves, its maps created, run from `args` (r1-r5; by
// default the context's entry arguments). A program the interpreter
// refuses or a run that faults fails the test (and gives 0xdead).
inline uint64_t run_r0(const isa::Program& program, std::optional<std::array<uint64_t, 5>> args = std::nullopt) {
  vm::Context context(*program.dialect);
  EXPECT_TRUE(context.add_maps(program).has_value());
  auto engine = vm::make_interpreter(program, context);
  EXPECT_TRUE(engine.has_value());
  if (!engine) return 0xdead;
  const vm::RunResult result = args ? (*engine)->run(context, *args) : (*engine)->run(context);
  EXPECT_FALSE(result.error.has_value()) << to_string(*result.error);
  return result.r0;
}

}  // namespace bpfkit::test
