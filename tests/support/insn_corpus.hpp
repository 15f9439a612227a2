// The instruction corpus (tests/data/insn/*.instr, format in its README.md):
// small programs, each with the dialect it is written for, the registers
// and memory it starts with, and what must come out: registers, a verifier
// rejection or a fault. This is the reader only; running the cases is the
// business of each engine's test (tests/vm/insn_corpus_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::test {

// One register and its value (in: or expect:).
struct RegisterValue {
  uint8_t reg = 0;
  uint64_t value = 0;
  friend bool operator==(const RegisterValue&, const RegisterValue&) = default;
};

enum class Expectation : uint8_t {
  Registers,  // the program exits; the listed registers hold these values
  Rejects,    // the verifier refuses the program with this error name
  Fault,      // the run stops with this error name at this pc
};

struct InsnCase {
  std::string name;
  std::string file;  // where the case is written (for messages)
  uint32_t line = 0;
  const isa::Dialect* dialect = nullptr;

  // The program: assembly text in the case's dialect, or raw bytes.
  std::string assembly;
  std::vector<uint8_t> bytes;
  bool is_assembly() const { return bytes.empty(); }

  std::vector<RegisterValue> registers_in;
  std::optional<std::vector<uint8_t>> memory;  // the input region
  std::optional<uint64_t> budget;              // sBPF compute budget

  Expectation expect = Expectation::Registers;
  std::vector<RegisterValue> registers_out;  // Registers
  std::string error;                         // Rejects, Fault: the error's name
  std::optional<uint32_t> pc;                // Fault: where
  std::optional<uint64_t> compute_units;     // sBPF: units used (any outcome that runs)
};

// The cases of one file's text; the first error names `file:line`.
Expected<std::vector<InsnCase>> parse_insn_corpus(std::string_view text, std::string_view file);

// The dialect a corpus names ("linux", "sbpf-v0" .. "sbpf-v3"); null if none.
const isa::Dialect* insn_dialect(std::string_view name);

}  // namespace bpfkit::test
