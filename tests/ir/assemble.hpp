// Test programs for the code generator's tests: assembly text (either
// syntax, with labels and calls) opened as `bpfkit` opens a .s file.
#pragma once

#include <gtest/gtest.h>

#include <span>
#include <string_view>

#include "bpfkit/load.hpp"

namespace bpfkit::test {

// The program; a failure fails the test and gives an empty program.
inline isa::Program assemble(std::string_view source) {
  auto opened = load::open(std::span(reinterpret_cast<const uint8_t*>(source.data()), source.size()), "test.s", {});
  EXPECT_TRUE(opened.has_value()) << (opened ? "" : to_string(opened.error()));
  return opened ? std::move(opened->program) : isa::Program{};
}

}  // namespace bpfkit::test
