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

}  // namespace bpfkit::test
