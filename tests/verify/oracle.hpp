// The kernel's verdict through kernel-oracle (../shared/tools/kernel-oracle),
// for the verifier's tests: many programs per shell, verify only (--no-run).
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::test {

struct KernelVerdict {
  bool has_verdict = false;
  bool accepted = false;
  std::string errno_name;  // "EACCES", ...
  std::string log;         // the verifier log
};

class Oracle {
 public:
  // Why the kernel cannot be asked here (no oracle, bpf() refused), or
  // nullopt when it works.
  static std::optional<std::string> unavailable(const std::filesystem::path& dir);

  // The kernel's verdict on each program, as `type` ("socket", "xdp", "tc")
  // loaded by root or with CAP_BPF only.
  static std::vector<KernelVerdict> verdicts(const std::filesystem::path& dir,
                                             const std::vector<std::vector<isa::Slot>>& programs,
                                             const std::string& type, bool cap_bpf_only);
};

}  // namespace bpfkit::test
