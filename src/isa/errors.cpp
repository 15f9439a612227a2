// Error names and formatting shared by every module (isa is the lowest one).
#include <cstdio>
#include <cstdlib>

#include "bpfkit/expected.hpp"

namespace bpfkit {

const char* errc_name(Errc code) {
  switch (code) {
#define ERROR_CLASS(id, json, meaning) \
  case Errc::id:                       \
    return json;
#include "bpfkit/error_classes.def"
#undef ERROR_CLASS
  }
  return "unknown";
}

const char* domain_name(Domain domain) {
  switch (domain) {
    case Domain::Generic: return "generic";
    case Domain::SbpfVerifier: return "sbpf_verifier";
    case Domain::SbpfLoader: return "sbpf_loader";
    case Domain::SbpfVm: return "sbpf_vm";
    case Domain::SolanaInstruction: return "solana_instruction";
  }
  return "unknown";
}

namespace {

struct DetailRow {
  std::string_view name, text;
};

constexpr DetailRow kVerifierRows[] = {
#define SBPF_VERIFIER_ERROR(name, text) {#name, text},
#include "bpfkit/sbpf_verifier_errors.def"
#undef SBPF_VERIFIER_ERROR
};
constexpr DetailRow kLoaderRows[] = {
#define SBPF_LOAD_ERROR(name, text) {#name, text},
#include "bpfkit/sbpf_load_errors.def"
#undef SBPF_LOAD_ERROR
};
constexpr DetailRow kVmRows[] = {
#define SBPF_VM_ERROR(name, text) {#name, text},
#include "bpfkit/sbpf_vm_errors.def"
#undef SBPF_VM_ERROR
};
constexpr DetailRow kInstructionRows[] = {
#define INSTRUCTION_ERROR(name, builtin, text) {#name, text},
#include "bpfkit/solana_instruction_errors.def"
#undef INSTRUCTION_ERROR
};

const DetailRow* detail_row(Domain domain, uint16_t detail) {
  auto pick = [detail](const auto& rows) -> const DetailRow* {
    return detail < std::size(rows) ? &rows[detail] : nullptr;
  };
  switch (domain) {
    case Domain::Generic: return nullptr;
    case Domain::SbpfVerifier: return pick(kVerifierRows);
    case Domain::SbpfLoader: return pick(kLoaderRows);
    case Domain::SbpfVm: return pick(kVmRows);
    case Domain::SolanaInstruction: return pick(kInstructionRows);
  }
  return nullptr;
}

}  // namespace

std::string_view detail_name(Domain domain, uint16_t detail) {
  const DetailRow* row = detail_row(domain, detail);
  return row ? row->name : std::string_view();
}

std::string_view detail_text(Domain domain, uint16_t detail) {
  const DetailRow* row = detail_row(domain, detail);
  return row ? row->text : std::string_view();
}

std::string to_string(const Error& error) {
  std::string out;
  const Location& at = error.location;
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

std::string hex_string(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

namespace detail {

void bad_expected_access(const Error& error) {
  std::fprintf(stderr, "bpfkit: internal error: value() of an Expected holding an error: %s\n",
               to_string(error).c_str());
  std::abort();
}

void bad_error_access() {
  std::fprintf(stderr, "bpfkit: internal error: error() of an Expected holding no error\n");
  std::abort();
}

void unchecked_error(const Error& error) {
  std::fprintf(stderr, "bpfkit: internal error: an Expected holding an error was never checked: %s\n",
               to_string(error).c_str());
  std::abort();
}

}  // namespace detail

}  // namespace bpfkit
