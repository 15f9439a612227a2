// Module asm: assemblers over the isa opcode table (`asm` is a C++ keyword,
// so the namespace is `assembly`).
//
// Today it reads the bpf_conformance suite's GNU-like dialect
// (`mov %r0, 1`, `ldxw %r0, [%r1+4]`, `lock fetch add [%r10-8], %r1`,
// `call local f`, `movsx1632 %r0, %r1`, `ja32 label`) and its `.data` test
// files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::assembly {

// Assembles conformance-dialect text. Errors carry input:line:column.
// Labels are `name:` on their own line; jump targets are labels or signed
// offsets. As in the suite's own assembler, the label `exit` names the first
// `exit` instruction unless the program defines it.
[[nodiscard]] Expected<std::vector<isa::Slot>> assemble_conformance(std::string_view source,
                                                                    std::string_view input_name = "<input>");

// One bpf_conformance `.data` file.
struct ConformanceTest {
  std::string asm_source;                     // `-- asm` (comments stripped)
  uint32_t asm_first_line = 0;                // line of the first asm line, for messages
  std::optional<std::vector<isa::Slot>> raw;  // `-- raw`: used instead of asm when present
  std::vector<uint8_t> memory;                // `-- mem`
  bool has_memory = false;
  std::optional<uint64_t> result;    // `-- result`
  std::optional<std::string> error;  // `-- error`
};

[[nodiscard]] Expected<ConformanceTest> parse_conformance_test(std::string_view text,
                                                               std::string_view input_name = "<input>");

// The program of a test: its raw words, or its assembled asm section.
[[nodiscard]] Expected<std::vector<isa::Slot>> conformance_program(const ConformanceTest& test,
                                                                   std::string_view input_name = "<input>");

}  // namespace bpfkit::assembly
