// Reading the files named on the command line: one read per file, one place
// that decides what a file is, and the text formats of raw programs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::cli {

enum class InputKind : uint8_t {
  Raw,              // .bin, or any file with a NUL byte: 8-byte slots
  Hex,              // .hex, or text of hex digits
  ConformanceTest,  // .data: bpf_conformance's test format
  Assembly,         // .s, .asm, .S, or any other text
  EbpfObject,       // ELF: a clang-compiled relocatable object
  SbpfObject,       // ELF: an sBPF shared object (ET_DYN, or e_machine EM_SBPF)
};

// "a raw program", "an sBPF shared object", ... for messages.
const char* describe(InputKind kind);
inline bool is_object(InputKind kind) { return kind == InputKind::EbpfObject || kind == InputKind::SbpfObject; }

// A file read once: its name, every byte, and what it is.
struct InputFile {
  std::string name;
  std::vector<uint8_t> bytes;
  InputKind kind = InputKind::Raw;

  std::string_view text() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
};

// Every byte of `name`, read once, so pipes, /dev/stdin and FIFOs work. A
// directory or a failed read is an Io error naming the file.
Expected<std::vector<uint8_t>> read_file(const std::string& name);

// read_file, then what the file is (by its magic bytes, extension, content).
Expected<InputFile> open_input(const std::string& name);

// A program as read from a non-ELF input, plus the memory a `.data` test brings.
struct ProgramInput {
  std::vector<isa::Slot> slots;
  std::optional<std::vector<uint8_t>> memory;
};

// The slots of a Raw, Hex, ConformanceTest or Assembly input (assembly in
// `dialect`'s encodings). An input that is not whole 8-byte instructions is
// bad input (exit 2), as a syntax error is.
Expected<ProgramInput> read_program(const InputFile& input, const isa::Dialect& dialect = isa::kLinuxV4);

// GNU normal and pseudo-C assembly (mixed) in `dialect`, else (Linux only)
// the conformance dialect. Returns the code of .text (or the first executable
// section).
Expected<std::vector<isa::Slot>> assemble_program(std::string_view source, const std::string& name,
                                                  const isa::Dialect& dialect = isa::kLinuxV4);

// --dialect's values: "linux", "sbpf-v0" .. "sbpf-v3"; null for any other.
inline std::vector<std::string> dialect_names() { return {"linux", "sbpf-v0", "sbpf-v1", "sbpf-v2", "sbpf-v3"}; }
const isa::Dialect* dialect_named(std::string_view name);

// Hex text: `#`, `;` and `//` start comments; tokens are separated by
// whitespace or commas. `0x` + up to 16 digits is one 64-bit instruction
// word (the conformance `-- raw` style); other tokens are byte pairs.
Expected<std::vector<uint8_t>> parse_hex_program(std::string_view text, std::string_view input_name);

// Memory bytes as hex: "01 02 ff" or "0102ff".
Expected<std::vector<uint8_t>> parse_hex_bytes(std::string_view text, std::string_view input_name);

// Whole 8-byte slots of `bytes`; otherwise a Truncated error naming the input.
Expected<std::vector<isa::Slot>> slots_of(std::span<const uint8_t> bytes, std::string_view input_name);

// The exit status of a read_program() error: the file is not a program
// (syntax, not whole instructions) is 2; an assembled program that needs a
// loader is 1, as every other rejection.
int read_failure_status(const Error& error);

}  // namespace bpfkit::cli
