// Reading programs and memory buffers given on the command line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::cli {

// A program as read from a file, plus the memory a `.data` test brings.
struct ProgramInput {
  std::vector<isa::Slot> slots;
  std::optional<std::vector<uint8_t>> memory;
};

// FILE is raw bytes (.bin), hex text (.hex), a conformance test (.data) or
// assembly (.s, .asm, or any other text that is not hex).
Expected<ProgramInput> read_program(const std::filesystem::path& file);

Expected<std::string> read_file(const std::filesystem::path& file);

// GNU normal and pseudo-C assembly (mixed), else the conformance dialect.
// Returns the code of .text (or the first executable section).
Expected<std::vector<isa::Slot>> assemble_program(std::string_view source, const std::string& name);

// Hex text: `#`, `;` and `//` start comments; tokens are separated by
// whitespace or commas. `0x` + up to 16 digits is one 64-bit instruction
// word (the conformance `-- raw` style); other tokens are byte pairs.
Expected<std::vector<uint8_t>> parse_hex_program(std::string_view text, std::string_view input_name);

// Memory bytes as hex: "01 02 ff" or "0102ff".
Expected<std::vector<uint8_t>> parse_hex_bytes(std::string_view text, std::string_view input_name);

}  // namespace bpfkit::cli
