#include "input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf_format.hpp"
#include "report.hpp"

namespace bpfkit::cli {
namespace {

Error input_error(std::string_view input, Errc code, std::string message) {
  Location where;
  where.input = std::string(input);
  return make_error(code, std::move(message), where);
}

// An sBPF program rather than a clang relocatable object: a shared object
// (e_type ET_DYN), or e_machine EM_SBPF.
bool is_sbpf_elf(std::span<const uint8_t> file) {
  const auto header = elf::ByteReader(file).read<elf::Ehdr>(0);
  return header && (header->e_type == elf::kEtDyn || header->e_machine == elf::kEmSbpf);
}

bool hex_digit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Strips `#`, `;` and `//` comments from one line.
std::string_view strip_comment(std::string_view line) {
  size_t cut = std::min({line.find('#'), line.find(';'), line.find("//")});
  return cut == std::string_view::npos ? line : line.substr(0, cut);
}

bool looks_like_hex(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = strip_comment(text.substr(start, end - start));
    for (char c : line)
      if (!(hex_digit(c) || c == 'x' || c == 'X' || c == ' ' || c == '\t' || c == ',' || c == '\r')) return false;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return true;
}

// ELF by its magic; raw bytes by extension or a NUL byte; the text formats
// by extension, else hex if every line is hex digits, else assembly.
InputKind kind_of(std::span<const uint8_t> bytes, const std::string& ext) {
  if (elf::has_elf_magic(bytes)) return is_sbpf_elf(bytes) ? InputKind::SbpfObject : InputKind::EbpfObject;
  const std::string_view content(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (ext == ".bin" || content.find('\0') != std::string_view::npos) return InputKind::Raw;
  if (ext == ".data") return InputKind::ConformanceTest;
  if (ext == ".hex" || (ext != ".s" && ext != ".asm" && ext != ".S" && looks_like_hex(content))) return InputKind::Hex;
  return InputKind::Assembly;
}

}  // namespace

Expected<std::vector<isa::Slot>> slots_of(std::span<const uint8_t> bytes, std::string_view input) {
  if (bytes.size() % sizeof(isa::Slot) != 0) {
    Error error = input_error(input, Errc::Truncated,
                              "program size " + std::to_string(bytes.size()) + " is not a multiple of 8 bytes");
    error.location.offset = bytes.size() - bytes.size() % sizeof(isa::Slot);
    return error;
  }
  std::vector<isa::Slot> slots(bytes.size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes.data(), bytes.size());
  return slots;
}

Expected<std::vector<uint8_t>> read_file(const std::string& name) {
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return input_error(name, Errc::Io, "cannot open file: " + std::string(std::strerror(errno)));
  std::vector<uint8_t> bytes;
  struct stat status {};
  if (::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0)
    bytes.reserve(static_cast<size_t>(status.st_size));
  // Read to the end, whatever the file is (a pipe's size is unknown).
  uint8_t buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return input_error(name, Errc::Io, "cannot read file: " + std::string(std::strerror(error)));
    }
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  ::close(fd);
  return bytes;
}

const char* describe(InputKind kind) {
  switch (kind) {
    case InputKind::Raw: return "a raw program";
    case InputKind::Hex: return "a hex program";
    case InputKind::ConformanceTest: return "a conformance test";
    case InputKind::Assembly: return "an assembly program";
    case InputKind::EbpfObject: return "an eBPF object";
    case InputKind::SbpfObject: return "an sBPF shared object";
  }
  return "an input";
}

Expected<InputFile> open_input(const std::string& name) {
  auto bytes = read_file(name);
  if (!bytes) return bytes.error();
  InputFile input{name, std::move(*bytes), InputKind::Raw};
  input.kind = kind_of(input.bytes, std::filesystem::path(name).extension().string());
  return input;
}

Expected<std::vector<uint8_t>> parse_hex_program(std::string_view text, std::string_view input_name) {
  std::vector<uint8_t> bytes;
  uint32_t line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = strip_comment(text.substr(start, end == std::string_view::npos ? end : end - start));
    ++line_number;
    size_t at = 0;
    while (at < line.size()) {
      at = line.find_first_not_of(" \t\r,", at);
      if (at == std::string_view::npos) break;
      size_t stop = line.find_first_of(" \t\r,", at);
      std::string_view token = line.substr(at, stop == std::string_view::npos ? stop : stop - at);
      const auto bad = [&](std::string why) {
        Location where;
        where.input = std::string(input_name);
        where.line = line_number;
        where.column = static_cast<uint32_t>(at + 1);
        return make_error(Errc::BadOperand, why + " '" + std::string(token) + "'", where);
      };
      if (token.size() > 2 && token[0] == '0' && (token[1] == 'x' || token[1] == 'X')) {
        uint64_t word = 0;
        std::string_view digits = token.substr(2);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), word, 16);
        if (ec != std::errc() || p != digits.data() + digits.size() || digits.size() > 16)
          return bad("bad instruction word");
        for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(word >> (8 * i)));
      } else {
        if (token.size() % 2 != 0) return bad("odd number of hex digits in");
        for (size_t i = 0; i < token.size(); i += 2) {
          uint8_t byte = 0;
          auto [p, ec] = std::from_chars(token.data() + i, token.data() + i + 2, byte, 16);
          if (ec != std::errc() || p != token.data() + i + 2) return bad("bad hex byte in");
          bytes.push_back(byte);
        }
      }
      at = stop == std::string_view::npos ? line.size() : stop;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return bytes;
}

Expected<std::vector<uint8_t>> parse_hex_bytes(std::string_view text, std::string_view input_name) {
  std::string digits;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') continue;
    if (!hex_digit(c))
      return input_error(input_name, Errc::BadOperand, std::string("bad character '") + c + "' in hex bytes");
    digits += c;
  }
  if (digits.size() % 2 != 0) return input_error(input_name, Errc::BadOperand, "odd number of hex digits");
  std::vector<uint8_t> bytes(digits.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i)
    std::from_chars(digits.data() + 2 * i, digits.data() + 2 * i + 2, bytes[i], 16);
  return bytes;
}

Expected<ProgramInput> read_program(const InputFile& file, const isa::Dialect& dialect) {
  ProgramInput input;
  switch (file.kind) {
    case InputKind::Raw: {
      auto slots = slots_of(file.bytes, file.name);
      if (!slots) return slots.error();
      input.slots = std::move(*slots);
      return input;
    }
    case InputKind::ConformanceTest: {
      auto test = assembly::parse_conformance_test(file.text(), file.name);
      if (!test) return test.error();
      auto slots = assembly::conformance_program(*test, file.name);
      if (!slots) return slots.error();
      input.slots = std::move(*slots);
      if (test->has_memory) input.memory = test->memory;
      return input;
    }
    case InputKind::Hex: {
      auto bytes = parse_hex_program(file.text(), file.name);
      if (!bytes) return bytes.error();
      auto slots = slots_of(*bytes, file.name);
      if (!slots) return slots.error();
      input.slots = std::move(*slots);
      return input;
    }
    case InputKind::Assembly: {
      auto slots = assemble_program(file.text(), file.name, dialect);
      if (!slots) return slots.error();
      input.slots = std::move(*slots);
      return input;
    }
    case InputKind::EbpfObject:
    case InputKind::SbpfObject: break;
  }
  return input_error(file.name, Errc::Unsupported, std::string(describe(file.kind)) + " has no raw program");
}

const isa::Dialect* dialect_named(std::string_view name) {
  if (name == "linux") return &isa::kLinuxV4;
  for (uint32_t v = 0; v <= 3; ++v)
    if (name == "sbpf-v" + std::to_string(v)) return isa::sbpf_dialect(v);
  return nullptr;
}

int read_failure_status(const Error& error) {
  return error.code == Errc::Truncated ? kExitBadInput : exit_status_for(error);
}

Expected<std::vector<isa::Slot>> assemble_program(std::string_view source, const std::string& name,
                                                  const isa::Dialect& dialect) {
  assembly::AssembleOptions options;
  options.input_name = name;
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
        where.input = name;
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
    if (auto conformance = assembly::assemble_conformance(source, name)) return conformance;
  Error first = result.errors.front();
  if (const size_t more = result.errors.size() - 1 + result.more_errors; more > 0)
    first.message += " (and " + std::to_string(more) + (more == 1 ? " more error)" : " more errors)");
  return first;
}

}  // namespace bpfkit::cli
