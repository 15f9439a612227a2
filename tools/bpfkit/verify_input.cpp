#include "verify_input.hpp"

#include <charconv>

#include "bpfkit/elf.hpp"
#include "report.hpp"

namespace bpfkit::cli {
namespace {

bool given(const CLI::App& command, const char* flag) { return command.count(flag) > 0; }

Error usage_error(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

// The type: --type, else an eBPF object's section as libbpf reads it, else
// the default.
Expected<verify::ProgramType> program_type(const InputFile& input, const VerifyFlags& flags, const CLI::App& command,
                                           verify::ProgramType default_type) {
  if (given(command, "--type")) return *verify::program_type_named(flags.type);
  if (input.kind != InputKind::EbpfObject) return default_type;
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return object.error();
  auto chosen = object->choose_program(flags.section, flags.function);
  if (!chosen) return chosen.error();
  if (auto type = verify::program_type_of_section((*chosen)->section)) return *type;
  return usage_error("section '" + std::string((*chosen)->section) +
                     "' names no program type the verifier knows; give --type raw|socket|xdp|tc");
}

Expected<uint64_t> mem_size(const std::string& text) {
  uint64_t size = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, size);
  if (text.empty() || ec != std::errc() || stop != end || size > UINT32_MAX)
    return usage_error("--mem-size: '" + text + "' is not a whole number from 0 to 4294967295");
  return size;
}

}  // namespace

void add_verify_flags(CLI::App& app, VerifyFlags& flags) {
  app.add_option("--type", flags.type,
                 "program type: raw (r1 = a buffer of --mem-size bytes, r2 = its length), socket, xdp, tc "
                 "(default: an object's section, else raw)")
      ->check(CLI::IsMember({"raw", "socket", "xdp", "tc"}));
  app.add_option("--profile", flags.profile, "the loader's rights: root (CAP_SYS_ADMIN, default) or bpf (CAP_BPF only)")
      ->check(CLI::IsMember({"root", "bpf"}));
  app.add_option("--mem-size", flags.mem_size, "raw type: bytes r1 points to (default 0, or a .data test's memory)");
  auto* section = app.add_option("--section", flags.section, "ELF object: the program's section");
  auto* function = app.add_option("--function", flags.function, "ELF object: the program's function");
  section->excludes(function);
  add_btf_option(app, flags.btf);
  app.add_option("--log-level", flags.log_level, "0: none; 1: the failing path; 2: every instruction (stderr)")
      ->check(CLI::Range(0, 2));
}

Expected<VerifyTarget> verify_target(const InputFile& input, const VerifyFlags& flags, const CLI::App& command,
                                     int& failure_status, verify::ProgramType default_type) {
  failure_status = 0;
  if ((given(command, "--section") || given(command, "--function")) && input.kind != InputKind::EbpfObject)
    return usage_error("--section and --function choose a program of an eBPF object, and " + input.name + " is " +
                       describe(input.kind));
  if (input.kind == InputKind::SbpfObject)
    return usage_error(input.name + " is an sBPF program; the verifier checks Linux eBPF programs");
  auto type = program_type(input, flags, command, default_type);
  if (!type) {
    failure_status = kExitBadInput;
    return type.error();
  }

  VerifyTarget target;
  target.options.type = *type;
  target.options.profile = flags.profile == "bpf" ? verify::Profile::Bpf : verify::Profile::Root;
  target.options.log_level = flags.log_level;
  if (given(command, "--mem-size")) {
    auto size = mem_size(flags.mem_size);
    if (!size) return size.error();
    target.options.mem_size = *size;
  }

  if (is_object(input.kind)) {
    load::Options open_options;
    open_options.section = flags.section;
    open_options.function = flags.function;
    open_options.btf = flags.btf;
    auto opened = open_program(input, open_options);
    if (!opened) return opened.error();
    print_core_poisoned(*opened);
    target.program = std::move(opened->program);
    return target;
  }
  auto code = read_program(input);
  if (!code) {
    failure_status = read_failure_status(code.error());
    return code.error();
  }
  // A .data test brings its memory: r1 points to it unless --mem-size says otherwise.
  if (!given(command, "--mem-size") && code->memory) target.options.mem_size = code->memory->size();
  target.slots = std::move(code->slots);
  return target;
}

}  // namespace bpfkit::cli
