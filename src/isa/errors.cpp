// Error names and formatting shared by every module (isa is the lowest one).
#include <cstdio>

#include "bpfkit/expected.hpp"

namespace bpfkit {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::Truncated: return "truncated";
    case Errc::BadHeader: return "bad_header";
    case Errc::BadOpcode: return "bad_opcode";
    case Errc::BadRegister: return "bad_register";
    case Errc::BadOperand: return "bad_operand";
    case Errc::OutOfRange: return "out_of_range";
    case Errc::Unsupported: return "unsupported";
    case Errc::AccessViolation: return "access_violation";
    case Errc::DivideByZero: return "divide_by_zero";
    case Errc::BudgetExceeded: return "budget_exceeded";
    case Errc::CallDepthExceeded: return "call_depth_exceeded";
    case Errc::UnknownHelper: return "unknown_helper";
    case Errc::BadCallTarget: return "bad_call_target";
    case Errc::HelperFailed: return "helper_failed";
    case Errc::Io: return "io";
  }
  return "unknown";
}

std::string to_string(const Error& error) {
  std::string out;
  const Location& at = error.where;
  if (!at.input.empty()) out.append(at.input).append(":");
  if (at.line != 0) {
    out.append(std::to_string(at.line)).append(":");
    if (at.column != 0) out.append(std::to_string(at.column)).append(":");
  }
  if (at.offset) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx:", static_cast<unsigned long long>(*at.offset));
    if (!out.empty()) out += ' ';
    out.append(buf);
  }
  if (at.pc) {
    if (!out.empty()) out += ' ';
    out.append("pc ").append(std::to_string(*at.pc)).append(":");
  }
  if (!out.empty()) out += ' ';
  out.append(error.message);
  return out;
}

}  // namespace bpfkit
