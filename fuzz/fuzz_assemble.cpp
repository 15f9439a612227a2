// Fuzz target: any text through the assembler (both syntaxes, mixed), and
// what it produces through the ELF writer and the disassembler. Errors are
// normal results; crashes, leaks and undefined behaviour are bugs.
//
// A first line `# dialect: NAME` (a comment to the assembler) picks the
// dialect, so sBPF encodings are reached too. The seeds (fuzz/seeds/assemble)
// use every directive, and fuzz/assemble.dict gives their names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bpfkit/assembly.hpp"

namespace {

const bpfkit::isa::Dialect& dialect_of(std::string_view text) {
  using namespace bpfkit::isa;
  constexpr std::string_view kPrefix = "# dialect: ";
  if (!text.starts_with(kPrefix)) return kLinuxV4;
  const std::string_view name = text.substr(kPrefix.size(), text.find('\n') - kPrefix.size());
  for (const Dialect* dialect : {&kSbpfV0, &kSbpfV1, &kSbpfV2, &kSbpfV3})
    if (name == dialect->name) return *dialect;
  return kLinuxV4;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  assembly::AssembleOptions options;
  options.dialect = dialect_of(text);
  options.max_object_bytes = 16u << 20;  // .space and .comm stay within the fuzzer's memory limit
  const assembly::Assembly result = assembly::assemble(text, options);
  for (const Error& error : result.errors) static_cast<void>(assembly::format_diagnostic(error, text));
  static_cast<void>(assembly::format_diagnostics(result, text));
  if (!result.ok()) return 0;
  assembly::write_elf(result.object).ignore();
  assembly::DisassemblyOptions listing;
  listing.dialect = &options.dialect;
  static_cast<void>(assembly::disassemble(assembly::section_slots(result.object), listing));
  return 0;
}
