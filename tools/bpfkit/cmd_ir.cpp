// `bpfkit ir FILE`: the program lifted into the SSA IR (module ir), as text
// or Graphviz; `bpfkit ir --parse FILE|-`: IR text read, validated and
// printed back (the same text for text bpfkit printed).
#include <iostream>

#include "bpfkit/ir.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::ir_command {
namespace {

struct Options {
  std::string file;
  std::string section, function;
  std::string dialect;  // raw inputs
  bool dot = false, parse = false;
};

Options options;

// The program of a file `run` reads: objects through their loader, raw code
// laid out in the --dialect.
Expected<isa::Program> program_of(const InputFile& input, int& status) {
  load::Options open_options;
  open_options.dialect = options.dialect.empty() ? &isa::kLinuxV4 : dialect_named(options.dialect);
  open_options.section = options.section;
  open_options.function = options.function;
  open_options.sbpf = sbpf_config();
  if (is_object(input.kind)) {
    auto opened = open_program(input, open_options);
    if (!opened) return opened.error();
    return std::move(opened->program);
  }
  if (!options.section.empty()) {
    status = kExitBadInput;
    return make_error(Errc::BadOperand, "--section is for eBPF objects");
  }
  auto code = read_program(input, *open_options.dialect);
  if (!code) {
    status = read_failure_status(code.error());
    return code.error();
  }
  return load::raw_program(std::move(code->slots), input.name, *open_options.dialect, open_options.sbpf);
}

// The module's text or dot, only --function's function when one is named.
int show(ir::Module& module, Printer& printer) {
  bool found = options.function.empty();
  if (!options.dot && options.function.empty()) {
    printer.out() << ir::print(module);
    return kExitOk;
  }
  for (const auto& fn : module.functions()) {
    if (!options.function.empty() && fn->name() != options.function) continue;
    found = true;
    printer.out() << (options.dot ? ir::to_dot(*fn) : ir::print(*fn));
  }
  if (!found)
    return printer.fail(make_error(Errc::BadOperand, "no function " + options.function + " in the IR"), kExitBadInput);
  return kExitOk;
}

int parse_text(Printer& printer) {
  const bool stdin_input = options.file == "-";
  const std::string name = stdin_input ? "<stdin>" : options.file;
  auto bytes = read_file(stdin_input ? "/dev/stdin" : options.file);
  if (!bytes) return printer.fail(bytes.error(), kExitBadInput);
  const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  auto module = ir::parse(text, name);
  if (!module) return printer.fail(module.error(), kExitRejected);
  if (auto valid = ir::validate(**module); !valid) {
    Error error = valid.error();
    error.location.input = name;
    return printer.fail(error, kExitRejected);
  }
  return show(**module, printer);
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file,
                 "program: .bin, .hex, .data, assembly, an eBPF object (.o) or an sBPF .so; with --parse, IR text "
                 "(- for stdin)")
      ->required();
  app.add_option("--section", options.section, "ELF object: the program's section");
  app.add_option("--function", options.function, "ELF object: the program's function; print only this function");
  app.add_option("--dialect", options.dialect, "raw input: linux (default) or sbpf-v0 .. sbpf-v3")
      ->check(CLI::IsMember(dialect_names()));
  app.add_flag("--dot", options.dot, "print Graphviz: one graph per function, the IR in each block");
  app.add_flag("--parse", options.parse, "FILE is IR text: parse, validate and print it back");
}

int run() {
  Printer printer = standard_printer(false);
  if (options.parse) return parse_text(printer);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  int status = 0;
  auto program = program_of(*input, status);
  if (!program) return printer.fail(program.error(), status);
  auto module = ir::lift(*program);
  if (!module) {
    Error error = module.error();
    error.location.input = input->name;
    return printer.fail(error, kExitRejected);
  }
  return show(**module, printer);
}

}  // namespace bpfkit::cli::ir_command
