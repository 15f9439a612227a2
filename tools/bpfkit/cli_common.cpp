#include "cli_common.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace bpfkit::cli {
namespace {

// Errors in reading text are the user's input; errors in what the program
// is or does are a rejection.
int exit_status_for(const Error& error) {
  switch (error.code) {
    case Errc::Io:
    case Errc::BadOperand: return kExitBadInput;
    default: return kExitRejected;
  }
}

}  // namespace

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

int report(const Error& error, bool json) {
  if (json) {
    nlohmann::ordered_json body{{"code", errc_name(error.code)}, {"message", error.message}};
    if (error.where.pc) body["pc"] = *error.where.pc;
    if (error.where.offset) body["offset"] = *error.where.offset;
    if (!error.where.input.empty()) body["input"] = error.where.input;
    if (error.where.line) body["line"] = error.where.line;
    if (error.where.column) body["column"] = error.where.column;
    std::cout << nlohmann::ordered_json{{"error", body}}.dump() << "\n";
  } else {
    std::cerr << "bpfkit: " << to_string(error) << "\n";
  }
  return exit_status_for(error);
}

}  // namespace bpfkit::cli
