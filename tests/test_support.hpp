// Helpers shared by the test programs: files, temporary directories and
// running the reference tools (clang, llvm-objdump, ...).
#pragma once

#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::test {

std::string read_text(const std::filesystem::path& file);

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

// An `*.expected.hex` file of the corpora: one 8-byte slot per line, as 16
// hex digits in byte order.
std::vector<isa::Slot> read_hex_slots(const std::filesystem::path& path);

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
