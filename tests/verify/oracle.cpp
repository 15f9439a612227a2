#include "oracle.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.hpp"

namespace bpfkit::test {
namespace {

namespace fs = std::filesystem;

// The number after `key` in the log ("processed 22 insns": key "processed ").
std::optional<uint64_t> number_after(const std::string& log, const std::string& key) {
  const size_t at = log.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* digits = log.c_str() + at + key.size();
  if (*digits < '0' || *digits > '9') return std::nullopt;
  return std::strtoull(digits, nullptr, 10);
}

KernelVerdict parse(const std::string& text) {
  KernelVerdict verdict;
  std::istringstream lines(text);
  bool in_log = false, in_xlated = false;
  for (std::string line; std::getline(lines, line);) {
    if (line == "xlated:") {
      in_xlated = true;
      continue;
    }
    if (in_xlated) {  // "     0: 6119700000000000"
      const size_t colon = line.find(": ");
      if (colon == std::string::npos) {
        in_xlated = false;
      } else {
        verdict.xlated.push_back(line.substr(colon + 2, 16));
        continue;
      }
    }
    if (line == "--- verifier log ---") in_log = true;
    if (line == "--- end log ---") in_log = false;
    if (in_log) verdict.log += line + "\n";
    if (line.starts_with("verdict: ")) {
      verdict.has_verdict = true;
      verdict.accepted = line == "verdict: accepted";
    }
    if (line.starts_with("errno: ")) {
      const size_t open = line.find('('), close = line.find(')');
      if (open != std::string::npos && close != std::string::npos)
        verdict.errno_name = line.substr(open + 1, close - open - 1);
    }
  }
  verdict.processed_insns = number_after(verdict.log, "processed ");
  verdict.states = number_after(verdict.log, " total_states ");
  verdict.peak_states = number_after(verdict.log, " peak_states ");
  verdict.verification_usec = number_after(verdict.log, "verification time ");
  return verdict;
}

}  // namespace

std::optional<std::string> Oracle::unavailable(const fs::path& dir) {
  if (access(BPFKIT_KERNEL_ORACLE, X_OK) != 0) return std::string("kernel oracle not found at ") + BPFKIT_KERNEL_ORACLE;
  const std::vector<std::vector<isa::Slot>> probe = {
      {isa::encode(isa::Op::mov64_imm, 0, 0, 0, 42), isa::encode(isa::Op::exit)}};
  const std::vector<KernelVerdict> verdict = verdicts(dir, probe, "socket", false);
  if (!verdict[0].has_verdict || !verdict[0].accepted)
    return "the kernel oracle cannot load `r0 = 42; exit` (bpf() refused? needs root or CAP_BPF)";
  return std::nullopt;
}

std::vector<KernelVerdict> Oracle::verdicts(const fs::path& dir, const std::vector<std::vector<isa::Slot>>& programs,
                                            const std::string& type, bool cap_bpf_only) {
  Request request;
  request.type = type;
  request.cap_bpf_only = cap_bpf_only;
  return verdicts(dir, programs, request);
}

std::vector<KernelVerdict> Oracle::verdicts(const fs::path& dir, const std::vector<std::vector<isa::Slot>>& programs,
                                            const Request& request) {
  auto file = [&dir](size_t i) { return dir / std::string("v").append(std::to_string(i)).append(".bin"); };
  for (size_t i = 0; i < programs.size(); ++i) write_slots(file(i), programs[i]);
  std::string flags = " --no-run -f bin -t " + request.type + (request.cap_bpf_only ? " --cap-bpf-only" : "");
  if (request.map_size > 0) flags += " -m " + std::to_string(request.map_size);
  if (request.statistics) flags += " -l 0 -L";
  if (request.xlated) flags += " --xlated";
  const std::string command = "cd " + shell_quote(dir.string()) + " && i=0; while [ $i -lt " +
                              std::to_string(programs.size()) + " ]; do echo \"@@@ $i\"; " +
                              shell_quote(BPFKIT_KERNEL_ORACLE) + flags + " v$i.bin 2>&1; i=$((i+1)); done";
  std::vector<KernelVerdict> results(programs.size());
  const std::optional<std::string> output = command_output(command);
  for (size_t i = 0; i < programs.size(); ++i) fs::remove(file(i));
  if (!output) return results;
  size_t at = output->find("@@@ ");
  while (at != std::string::npos) {
    const size_t name_end = output->find('\n', at);
    const size_t next = output->find("@@@ ", name_end);
    const size_t index = std::strtoull(output->c_str() + at + 4, nullptr, 10);
    if (name_end != std::string::npos && index < results.size())
      results[index] = parse(output->substr(name_end + 1, next - name_end - 1));
    at = next;
  }
  return results;
}

}  // namespace bpfkit::test
