// `bpfkit jit FILE`: translate a Linux eBPF program to x86-64 and show the
// code (--dump: each BPF instruction followed by its machine code, then the
// cold paths), or its size.
#include <iostream>

#include "bpfkit/assembly.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
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
};

Options options;

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "program: .bin, .hex, .data, assembly or an eBPF object (.o)")->required();
  app.add_option("--section", options.section, "ELF section of the program");
  app.add_option("--function", options.function, "program (function) within the section");
  app.add_flag("--dump", options.dump, "print the machine code interleaved with the BPF instructions");
  app.add_flag("--harden", options.harden, "blind the program's constants (random per translation)");
}

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
  auto jit = jit::Jit::create(program, context, jit::Options{.harden = options.harden});
  if (!jit) return printer.fail(jit.error(), kExitRejected);
  if (!options.dump) {
    std::cout << program.size() << " slots, " << jit->code().size() << " bytes of x86-64\n";
    return kExitOk;
  }
  std::cout << jit::listing(
      *jit, [&](uint32_t pc) { return assembly::format_instruction(program.slots, pc, assembly::Syntax::PseudoC); });
  return kExitOk;
}

}  // namespace bpfkit::cli::jit_command
