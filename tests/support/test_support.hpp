// Helpers shared by the test programs: files, temporary directories and
// running the reference tools (clang, llvm-objdump, ...).
#pragma once

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::test {

std::string read_text(const std::filesystem::path& file);
// The file's bytes; empty if it cannot be read.
std::vector<uint8_t> read_bytes(const std::filesystem::path& file);

// The first of `names` found on PATH.
std::optional<std::string> find_tool(std::initializer_list<std::string_view> names);

struct CommandResult {
  int status = -1;     // exit status, -1 if the command did not exit normally
  std::string output;  // stdout
  std::string errors;  // stderr
};

// Runs `command` through the shell and captures what it prints.
CommandResult run_command(const std::string& command);
// The same with stderr appended to `output`, for checks that read both.
CommandResult run_merged(const std::string& command);

// `text` in single quotes for the shell, its own quotes escaped.
std::string shell_quote(std::string_view text);
// What `command` prints on stdout (stderr as the command redirects it);
// nullopt if the shell could not be started. For long runs of an oracle.
std::optional<std::string> command_output(const std::string& command);
// Writes the bytes of `slots` to `file`.
void write_slots(const std::filesystem::path& file, std::span<const isa::Slot> slots);

// An `*.expected.hex` file of the corpora: one 8-byte slot per line, as 16
// hex digits in byte order.
std::vector<isa::Slot> read_hex_slots(const std::filesystem::path& path);

// A program under construction, one instruction per call, encoded through
// the opcode table.
struct Code {
  std::vector<isa::Slot> slots;
  Code& add(isa::Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
    slots.push_back(isa::encode(op, dst, src, off, imm));
    return *this;
  }
  Code& lddw(uint8_t dst, uint64_t value, isa::Op op = isa::Op::lddw) {
    auto pair = isa::encode_lddw(dst, value, op);
    slots.insert(slots.end(), pair.begin(), pair.end());
    return *this;
  }
  Code& mov(uint8_t dst, int32_t imm) { return add(isa::Op::mov64_imm, dst, 0, 0, imm); }
  Code& call(int32_t id) { return add(isa::Op::call, 0, 0, 0, id); }
  Code& exit() { return add(isa::Op::exit); }
};

// Field values for sample_instruction(); each row uses those its shape uses.
struct SampleFields {
  uint8_t dst = 0, src = 0;
  int16_t off = 0;
  int32_t imm = 0;
  uint64_t imm64 = 0;  // lddw's value (the pseudo forms take imm's 32 bits)
};

// The instruction of `op` in `dialect`, its fields filled where the shapes
// table says the row uses them (the others stay zero, as every assembler
// writes them). A register the row writes is taken modulo 10: r10 is
// read-only. callx's register goes where the dialect's decoder reads it.
std::vector<isa::Slot> sample_instruction(isa::Op op, const SampleFields& fields,
                                          const isa::Dialect& dialect = isa::kLinuxV4);

// A fresh directory, removed with everything in it at the end of the scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace bpfkit::test
