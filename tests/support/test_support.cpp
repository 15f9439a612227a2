#include "test_support.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace bpfkit::test {

namespace fs = std::filesystem;

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<uint8_t> read_bytes(const fs::path& file) {
  const std::string text = read_text(file);
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::optional<std::string> find_tool(std::initializer_list<std::string_view> names) {
  for (std::string_view name : names)
    if (std::system(("command -v " + std::string(name) + " >/dev/null 2>&1").c_str()) == 0) return std::string(name);
  return std::nullopt;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  const TempDir scratch;
  const fs::path stderr_file = scratch.path() / "stderr";
  FILE* pipe = popen((command + " 2>'" + stderr_file.string() + "'").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.errors = read_text(stderr_file);
  return result;
}

std::string shell_quote(std::string_view text) {
  std::string quoted(1, '\'');
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::optional<std::string> command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  pclose(pipe);
  return output;
}

void write_slots(const fs::path& file, std::span<const isa::Slot> slots) {
  const std::vector<uint8_t> bytes = isa::to_bytes(slots);
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

CommandResult run_merged(const std::string& command) {
  CommandResult result = run_command(command);
  result.output += result.errors;
  return result;
}

std::vector<isa::Slot> read_hex_slots(const fs::path& path) {
  std::vector<isa::Slot> slots;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 16) continue;
    uint8_t bytes[8];
    for (int i = 0; i < 8; ++i) std::from_chars(line.data() + 2 * i, line.data() + 2 * i + 2, bytes[i], 16);
    isa::Slot slot;
    std::memcpy(&slot, bytes, sizeof slot);
    slots.push_back(slot);
  }
  return slots;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "bpfkit-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) fs::remove_all(path_, ignored);
}

std::vector<isa::Slot> sample_instruction(isa::Op op, const SampleFields& f, const isa::Dialect& dialect) {
  using isa::FieldUse;
  const isa::ShapeInfo& shape = isa::shape_info(op);
  const uint8_t dst = isa::writes_dst(op) ? f.dst % 10 : f.dst;
  if (shape.shape == isa::Shape::Lddw) {
    const uint64_t value = op == isa::Op::lddw ? f.imm64 : static_cast<uint32_t>(f.imm);
    const auto pair = isa::encode_lddw(dst, value, op);
    return {pair[0], pair[1]};
  }
  if (shape.shape == isa::Shape::Callx) {
    if (dialect.family == isa::Family::Linux || dialect.sbpf.callx_uses_dst) return {isa::encode(op, f.dst)};
    if (dialect.sbpf.callx_uses_src) return {isa::encode(op, 0, f.dst)};
    return {isa::encode(op, 0, 0, 0, f.dst)};
  }
  const auto used = [](FieldUse use) { return use != FieldUse::Unused && use != FieldUse::Select; };
  isa::Slot slot =
      isa::encode(op, shape.dst != isa::RegAccess::Unused ? dst : 0, shape.src != isa::RegAccess::Unused ? f.src : 0,
                  used(shape.off) ? f.off : 0, used(shape.imm) ? f.imm : 0);
  // addr_space_cast keeps its address spaces in imm, which AluReg leaves unused.
  if (op == isa::Op::addr_space_cast) slot.imm = f.imm;
  // Atomics with the fetch bit write src: modulo 10 too.
  if (isa::regs_written(op, slot, dialect).contains(slot.src())) slot.set_src(slot.src() % 10);
  return {slot};
}

}  // namespace bpfkit::test
