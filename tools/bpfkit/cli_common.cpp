#include "cli_common.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace bpfkit::cli {

// Errors in reading text are the user's input; errors in what the program
// is or does are a rejection (an sBPF verifier error is a rejection too).
int exit_status_for(const Error& error) {
  if (error.domain != Domain::Generic) return kExitRejected;
  switch (error.code) {
    case Errc::Io:
    case Errc::BadOperand: return kExitBadInput;
    default: return kExitRejected;
  }
}

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

nlohmann::ordered_json error_json(const Error& error) {
  nlohmann::ordered_json body;
  if (error.domain == Domain::Generic) {
    body["code"] = errc_name(error.code);
  } else {
    body["code"] = std::string(error.name());
    body["class"] = errc_name(error.code);
    body["domain"] = domain_name(error.domain);
  }
  body["message"] = error.message;
  if (error.location.pc) body["pc"] = *error.location.pc;
  if (error.location.offset) body["offset"] = *error.location.offset;
  if (!error.location.input.empty()) body["input"] = error.location.input;
  if (error.location.line) body["line"] = error.location.line;
  if (error.location.column) body["column"] = error.location.column;
  return body;
}

int report(const Error& error, bool json) {
  if (json) {
    std::cout << nlohmann::ordered_json{{"error", error_json(error)}}.dump() << "\n";
  } else {
    std::cerr << "bpfkit: " << to_string(error)
              << (error.domain == Domain::Generic ? "" : " [" + std::string(error.name()) + "]") << "\n";
  }
  return exit_status_for(error);
}

}  // namespace bpfkit::cli
