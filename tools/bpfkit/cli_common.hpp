// What every subcommand shares: exit statuses, number formatting and the one
// error shape (`{"error": {"code", "message", ...location}}` with --json).
#pragma once

#include <cstdint>
#include <string>

#include "bpfkit/expected.hpp"

namespace bpfkit::cli {

// 0 success, 1 the program was rejected or faulted, 2 bad usage or unreadable input.
inline constexpr int kExitOk = 0, kExitRejected = 1, kExitBadInput = 2;

std::string hex(uint64_t value);

// Prints the error (stderr, or JSON on stdout) and returns the exit status.
int report(const Error& error, bool json);

}  // namespace bpfkit::cli
