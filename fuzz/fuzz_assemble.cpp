// Fuzz target: any text through the assembler (both syntaxes, mixed), and
// what it produces through the ELF writer and the disassembler. Errors are
// normal results; crashes, leaks and undefined behaviour are bugs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bpfkit/assembly.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const assembly::Assembly result = assembly::assemble(text, {});
  for (const Error& error : result.errors) static_cast<void>(assembly::format_diagnostic(error, text));
  static_cast<void>(assembly::format_diagnostics(result, text));
  if (!result.ok()) return 0;
  static_cast<void>(assembly::write_elf(result.object));
  static_cast<void>(assembly::disassemble(assembly::section_slots(result.object)));
  return 0;
}
