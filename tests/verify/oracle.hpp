// The kernel's verdict through kernel-oracle (../shared/tools/kernel-oracle),
// for the verifier's tests and bpfkit_verify_bench: many programs per shell,
// verify only (--no-run).
#pragma once

#include <cstdint>
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
  // From the log's statistics lines (asked for with Request::statistics):
  // "processed N insns (limit 1000000) ... total_states N peak_states N",
  // "verification time N usec".
  std::optional<uint64_t> processed_insns, states, peak_states, verification_usec;
  // Asked for with Request::xlated: the program as the kernel rewrote it,
  // each instruction as 16 hex digits in memory byte order.
  std::vector<std::string> xlated;
};

// How the programs are loaded.
struct Request {
  std::string type = "socket";  // "socket", "xdp", "tc"
  bool cap_bpf_only = false;    // CAP_BPF only, else root
  uint32_t map_size = 0;        // > 0: the oracle's scratch array map (-m N): lddw src 1/2 imm 0 refer to it
  bool statistics = false;      // the statistics only (-l 0), kept for accepted programs too (-L)
  bool xlated = false;          // the rewritten program of accepted ones (--xlated)
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
  static std::vector<KernelVerdict> verdicts(const std::filesystem::path& dir,
                                             const std::vector<std::vector<isa::Slot>>& programs,
                                             const Request& request);
};

}  // namespace bpfkit::test
