// What every subcommand shares: exit statuses, number formatting and the one
// error shape (`{"error": {"code", "message", ...location}}` with --json).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bpfkit/expected.hpp"

namespace bpfkit::cli {

// 0 success, 1 the program was rejected or faulted, 2 bad usage or unreadable input.
inline constexpr int kExitOk = 0, kExitRejected = 1, kExitBadInput = 2;

std::string hex(uint64_t value);

// The `{"code", "message", ...location}` object. `code` is the dialect's own
// error name where it has one (sBPF: "CallDepthExceeded"), with the broad
// class in `class`; otherwise the class's name.
nlohmann::ordered_json error_json(const Error& error);

// Prints the error (stderr, or JSON on stdout) and returns the exit status.
int report(const Error& error, bool json);
int exit_status_for(const Error& error);

}  // namespace bpfkit::cli
