// Shared by the helper files of module vm (helpers.cpp, packet_helpers.cpp,
// task_helpers.cpp): argument access and the errno values helpers return.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm::helper_support {

// Errno values (negated into r0) beyond vm.hpp's map errors.
inline constexpr int kEACCES = 13, kENODEV = 19, kEPROTO = 71, kEAFNOSUPPORT = 97;

// A negative errno as r0 holds it.
inline uint64_t negative(int err) { return static_cast<uint64_t>(static_cast<int64_t>(err)); }

// Guest bytes [addr, addr + size) for a pointer argument the verifier would
// have checked, or a HelperFailed error naming the argument (`what`).
Expected<std::span<uint8_t>> guest_bytes(const HelperCall& call, const char* what, uint64_t addr, uint64_t size,
                                         bool write);

// The packet helpers (packet_helpers.cpp) and the current-task, string and
// perf output helpers (task_helpers.cpp), added to the Linux defaults.
void add_packet_helpers(HelperTable& table);
void add_task_helpers(HelperTable& table);
// perf_event_output, get_stackid, get_stack and the cgroup tests (event_helpers.cpp).
void add_event_helpers(HelperTable& table);

}  // namespace bpfkit::vm::helper_support
