// Fuzz target: any text through the conformance-dialect assembler and the
// `.data` reader. Errors are normal results; crashes are bugs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bpfkit/assembly.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  assembly::assemble_conformance(text, "fuzz").ignore();
  auto test = assembly::parse_conformance_test(text, "fuzz");
  if (test) assembly::conformance_program(*test, "fuzz").ignore();
  return 0;
}
