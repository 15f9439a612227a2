// What `verify` and `offload` share: the options that choose the program
// and the verifier's settings, and reading any input into what the
// verifier takes.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/verify.hpp"
#include "input.hpp"

namespace bpfkit::cli {

struct VerifyFlags {
  std::string type, profile = "root";
  std::string mem_size;
  std::string section, function;
  std::string btf;  // --btf: the target BTF of an object's CO-RE relocations
  int log_level = 0;
};

// --type, --profile, --mem-size, --section, --function, --btf, --log-level.
void add_verify_flags(CLI::App& app, VerifyFlags& flags);

// A program ready for the verifier: decoded (objects) or raw slots (so the
// verifier makes the kernel's checks of encodings decode refuses).
struct VerifyTarget {
  verify::Options options;
  std::optional<isa::Program> program;
  std::vector<isa::Slot> slots;
};

// `default_type` is the type when neither --type nor an object's section
// names one. On failure, `failure_status` is the exit status to give with
// the error (0: the error's own).
Expected<VerifyTarget> verify_target(const InputFile& input, const VerifyFlags& flags, const CLI::App& command,
                                     int& failure_status, verify::ProgramType default_type = verify::ProgramType::Raw);

}  // namespace bpfkit::cli
