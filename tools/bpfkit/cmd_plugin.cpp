// `bpfkit plugin [MEMORY_HEX]`: the bpf_conformance plugin protocol. Program
// bytes as hex on stdin, r0 in hex on stdout. On failure the message goes to
// stdout, where the runner compares it with a test's `-- error`.
#include <iostream>
#include <iterator>

#include "bpfkit/ir/codegen.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"
#include "runners.hpp"

namespace bpfkit::cli::plugin_command {
namespace {

struct Options {
  std::string mem_hex;
  bool elf = false;
  std::string engine = "interp";
  bool harden = false;  // --harden: constant blinding in the JIT
  bool verify = false;  // --verify: the verifier first, its proofs to the JIT (as `run --verify`)
  std::string opt;      // optimise through the IR first
};

Options options;

int fail(const Error& error, int status) {
  std::cout << to_string(error) << "\n";
  return status;
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("MEMORY_HEX", options.mem_hex, "memory buffer as hex bytes");
  app.add_option("--engine", options.engine, "execution engine: interp or jit")
      ->check(CLI::IsMember({"interp", "jit"}));
  app.add_flag("--harden", options.harden, "with --engine jit: blind the program's constants");
  app.add_flag("--verify", options.verify,
               "verify first (raw type: r1 = MEMORY_HEX's bytes), as run --verify; with --engine jit the "
               "accesses the verifier proves in bounds run without their region check");
  app.add_flag("--elf", options.elf, "stdin holds an ELF object");
  app.add_option("--opt", options.opt, "optimise through the IR first: O0 (lift + codegen), O1, O2")
      ->check(CLI::IsMember({"O0", "O1", "O2"}));
  app.allow_extras();  // runner options meant for other runtimes
}

int run() {
  if (options.harden && options.engine != "jit")
    return fail(make_error(Errc::BadOperand, "--harden blinds the JIT's constants: it needs --engine jit"),
                kExitBadInput);
  if (options.elf) {
    std::cout << "bpfkit plugin: --elf input is not supported yet\n";
    return kExitRejected;
  }
  const std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto bytes = parse_hex_program(text, "<stdin>");
  if (!bytes) return fail(bytes.error(), kExitBadInput);
  auto slots = slots_of(*bytes, "<stdin>");
  if (!slots) return fail(slots.error(), kExitBadInput);
  Memory memory;
  if (!options.mem_hex.empty()) {
    auto parsed = parse_hex_bytes(options.mem_hex, "MEMORY_HEX");
    if (!parsed) return fail(parsed.error(), kExitBadInput);
    memory = std::move(*parsed);
  }
  RunOptions run;
  run.engine = options.engine;
  run.harden = options.harden;
  RunReport report;
  if (options.opt.empty() && !options.verify) {
    report = run_linux(*slots, std::move(memory), run);
  } else {  // through the IR, or the verifier, first
    auto program = isa::decode(std::span<const isa::Slot>(*slots));
    if (!program) return fail(program.error(), kExitRejected);
    if (!options.opt.empty()) {
      auto optimized = ir::optimize_program(*program, *ir::opt_level_named(options.opt));
      if (!optimized) return fail(optimized.error(), kExitRejected);
      *program = std::move(*optimized);
    }
    if (options.verify) {
      verify::Options verify_options;
      verify_options.mem_size = memory ? memory->size() : 0;
      auto proofs = verify_before_run(*program, verify_options, "<stdin>", options.engine == "jit");
      if (!proofs) return fail(proofs.error(), kExitRejected);
      run.proven = std::move(proofs->proven);
      run.proven_memory_size = proofs->memory_size;
    }
    report = run_program(*program, std::move(memory), run);
  }
  std::cerr << report.output;  // stdout is the protocol's
  if (report.error) return fail(*report.error, kExitRejected);
  std::cout << hex(report.r0) << "\n";
  return kExitOk;
}

}  // namespace bpfkit::cli::plugin_command
