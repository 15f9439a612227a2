// `bpfkit jit FILE`: translate a Linux eBPF program to x86-64 and show the
// code (--dump: each BPF instruction followed by its machine code, then the
// cold paths), or its size. --verify: the verifier first, and the checks it
// makes redundant left out (the listing marks those instructions).
#include <algorithm>
#include <iostream>

#include "bpfkit/assembly.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/verify.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::jit_command {
namespace {

struct Options {
  std::string file;
  std::string section, function;
  bool dump = false;
  bool harden = false;
  bool verify = false;
  std::string type = "raw";
  uint64_t mem_size = 0;
};

Options options;

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "program: .bin, .hex, .data, assembly or an eBPF object (.o)")->required();
  app.add_option("--section", options.section, "ELF section of the program");
  app.add_option("--function", options.function, "program (function) within the section");
  app.add_flag("--dump", options.dump, "print the machine code interleaved with the BPF instructions");
  app.add_flag("--harden", options.harden, "blind the program's constants (random per translation)");
  app.add_flag("--verify", options.verify,
               "verify first; the accesses the verifier proves in bounds run without their region check");
  app.add_option("--type", options.type, "with --verify: the program type (raw: r1 = a buffer of --mem-size bytes)")
      ->check(CLI::IsMember({"raw", "socket", "xdp", "tc"}));
  app.add_option("--mem-size", options.mem_size, "with --verify, raw type: bytes r1 points to")
      ->check(CLI::Range(uint64_t{0}, uint64_t{UINT32_MAX}));
}

namespace {

// --verify: the verifier's proofs, or its refusal as an error.
Expected<std::vector<isa::ProvenAccess>> verified(const isa::Program& program, const std::string& file) {
  verify::Options verify_options;
  verify_options.type = *verify::program_type_named(options.type);
  verify_options.mem_size = options.mem_size;
  verify::Result verdict = verify::verify(program, verify_options);
  if (verdict.accepted) return std::move(verdict.proven);
  Error error = verdict.error.value_or(make_error(Errc::BadOperand, "rejected"));
  error.message = "verifier: " + error.message + " (" + std::string(verify::errno_name(verdict.error_number)) + ")";
  error.location.input = file;
  return error;
}

}  // namespace

int run() {
  Printer printer = standard_printer(false);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  load::Options open_options;
  open_options.section = options.section;
  open_options.function = options.function;
  auto opened = open_program(*input, open_options);
  if (!opened) return printer.fail(opened.error(), read_failure_status(opened.error()));
  const isa::Program& program = opened->program;
  vm::Context context(*program.dialect);
  if (auto maps = context.add_maps(program); !maps) return printer.fail(maps.error(), kExitRejected);
  jit::Options jit_options{.harden = options.harden};
  if (options.verify) {
    if (program.dialect->family != isa::Family::Linux)
      return printer.fail(make_error(Errc::BadOperand, "--verify: the verifier checks Linux eBPF programs"),
                          kExitBadInput);
    auto proven = verified(program, input->name);
    if (!proven) return printer.fail(proven.error(), kExitRejected);
    jit_options.proven = std::move(*proven);
    jit_options.proven_memory_size = options.mem_size;
  }
  auto jit = jit::Jit::create(program, context, jit_options);
  if (!jit) return printer.fail(jit.error(), kExitRejected);
  if (!options.dump) {
    std::cout << program.size() << " slots, " << jit->code().size() << " bytes of x86-64";
    if (options.verify) {
      const auto unchecked = std::count_if(jit->ranges().begin(), jit->ranges().end(),
                                           [](const jit::CodeRange& range) { return range.unchecked; });
      std::cout << ", " << unchecked << " accesses without a region check";
    }
    std::cout << "\n";
    return kExitOk;
  }
  std::cout << jit::listing(
      *jit, [&](uint32_t pc) { return assembly::format_instruction(program.slots, pc, assembly::Syntax::PseudoC); });
  return kExitOk;
}

}  // namespace bpfkit::cli::jit_command
