// Raw code: whole 8-byte slots, hex text, bpf_conformance tests and
// assembly, read into slots before anything decodes them.
#include <cctype>
#include <charconv>
#include <cstring>

#include "bpfkit/assembly.hpp"
#include "bpfkit/load.hpp"
#include "internal.hpp"

namespace bpfkit::load {

using detail::input_error;
using detail::strip_comment;

Expected<std::vector<isa::Slot>> slots_of(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() % sizeof(isa::Slot) != 0) {
    Error error = input_error(name, Errc::Truncated,
                              "program size " + std::to_string(bytes.size()) + " is not a multiple of 8 bytes");
    error.location.offset = bytes.size() - bytes.size() % sizeof(isa::Slot);
    return error;
  }
  std::vector<isa::Slot> slots(bytes.size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes.data(), bytes.size());
  return slots;
}

namespace {

// One token of hex text: a `0x` instruction word, or byte pairs.
Expected<void> append_hex_token(std::string_view token, std::vector<uint8_t>& bytes, const Location& where) {
  const auto bad = [&](const char* why) {
    return make_error(Errc::BadOperand, std::string(why) + " '" + std::string(token) + "'", where);
  };
  if (token.size() > 2 && token[0] == '0' && (token[1] == 'x' || token[1] == 'X')) {
    uint64_t word = 0;
    const std::string_view digits = token.substr(2);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), word, 16);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.size() > 16)
      return bad("bad instruction word");
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(word >> (8 * i)));
    return {};
  }
  if (token.size() % 2 != 0) return bad("odd number of hex digits in");
  for (size_t i = 0; i < token.size(); i += 2) {
    uint8_t byte = 0;
    auto [end, ec] = std::from_chars(token.data() + i, token.data() + i + 2, byte, 16);
    if (ec != std::errc() || end != token.data() + i + 2) return bad("bad hex byte in");
    bytes.push_back(byte);
  }
  return {};
}

}  // namespace

Expected<std::vector<uint8_t>> parse_hex_program(std::string_view text, std::string_view name) {
  std::vector<uint8_t> bytes;
  uint32_t line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    const std::string_view line = strip_comment(text.substr(start, end == std::string_view::npos ? end : end - start));
    ++line_number;
    size_t at = 0;
    while (at < line.size()) {
      at = line.find_first_not_of(" \t\r,", at);
      if (at == std::string_view::npos) break;
      const size_t stop = line.find_first_of(" \t\r,", at);
      Location where;
      where.input = std::string(name);
      where.line = line_number;
      where.column = static_cast<uint32_t>(at + 1);
      if (auto ok = append_hex_token(line.substr(at, stop == std::string_view::npos ? stop : stop - at), bytes, where);
          !ok)
        return ok.error();
      at = stop == std::string_view::npos ? line.size() : stop;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return bytes;
}

Expected<std::vector<uint8_t>> parse_hex_bytes(std::string_view text, std::string_view name) {
  std::string digits;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return input_error(name, Errc::BadOperand, std::string("bad character '") + c + "' in hex bytes");
    digits += c;
  }
  if (digits.size() % 2 != 0) return input_error(name, Errc::BadOperand, "odd number of hex digits");
  std::vector<uint8_t> bytes(digits.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i)
    std::from_chars(digits.data() + 2 * i, digits.data() + 2 * i + 2, bytes[i], 16);
  return bytes;
}

Expected<std::vector<isa::Slot>> assemble(std::string_view source, std::string_view name, const isa::Dialect& dialect) {
  assembly::AssembleOptions options;
  options.input_name = std::string(name);
  options.dialect = dialect;
  const assembly::Assembly result = assembly::assemble(source, options);
  if (result.ok()) {
    // The code is .text, or else the first executable section with code.
    const auto& sections = result.object.sections;
    for (uint32_t index = 0; index < sections.size(); ++index) {
      if (!(sections[index].flags & assembly::kShfExecinstr) || sections[index].bytes.empty()) continue;
      for (const assembly::Relocation& relocation : result.object.relocations) {
        if (relocation.section != index) continue;
        Location where;
        where.input = std::string(name);
        where.pc = static_cast<uint32_t>(relocation.offset / sizeof(isa::Slot));
        return make_error(Errc::Unsupported,
                          "'" + relocation.symbol +
                              "' is not defined here: the program needs a loader "
                              "(assemble it with `bpfkit asm FILE -o OUT.o`)",
                          where);
      }
      return assembly::section_slots(result.object, sections[index].name);
    }
    return std::vector<isa::Slot>{};
  }
  // The bpf_conformance dialect (`lock fetch add`, `call local f`) is the
  // other assembly a user may hand us.
  if (dialect.family == isa::Family::Linux)
    if (auto conformance = assembly::assemble_conformance(source, std::string(name))) return conformance;
  Error first = result.errors.front();
  if (const size_t more = result.errors.size() - 1 + result.more_errors; more > 0)
    first.message += " (and " + std::to_string(more) + (more == 1 ? " more error)" : " more errors)");
  return first;
}

Expected<Code> read_code(std::span<const uint8_t> bytes, std::string_view name, InputKind kind,
                         const isa::Dialect& dialect) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  Code code;
  switch (kind) {
    case InputKind::Raw: {
      auto slots = slots_of(bytes, name);
      if (!slots) return slots.error();
      code.slots = std::move(*slots);
      return code;
    }
    case InputKind::ConformanceTest: {
      auto test = assembly::parse_conformance_test(text, std::string(name));
      if (!test) return test.error();
      auto slots = assembly::conformance_program(*test, std::string(name));
      if (!slots) return slots.error();
      code.slots = std::move(*slots);
      if (test->has_memory) code.memory = test->memory;
      return code;
    }
    case InputKind::Hex: {
      auto program = parse_hex_program(text, name);
      if (!program) return program.error();
      auto slots = slots_of(*program, name);
      if (!slots) return slots.error();
      code.slots = std::move(*slots);
      return code;
    }
    case InputKind::Assembly: {
      auto slots = assemble(text, name, dialect);
      if (!slots) return slots.error();
      code.slots = std::move(*slots);
      return code;
    }
    case InputKind::EbpfObject:
    case InputKind::SbpfObject: break;
  }
  return input_error(name, Errc::Unsupported, std::string(describe(kind)) + " has no raw program");
}

}  // namespace bpfkit::load
