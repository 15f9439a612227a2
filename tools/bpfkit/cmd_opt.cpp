// `bpfkit opt FILE -o OUT [-O0|-O1|-O2] [--passes ...] [--print-after-all]
// [--stats]`: lift a program to the SSA IR, run the optimisation pipeline
// of the level, generate bytecode again. -O0 is lift + codegen.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::opt_command {
namespace {

struct Options {
  std::string file, output;
  std::string level = "2";  // -O0, -O1, -O2
  std::string passes;
  bool print_after_all = false, stats = false, json = false;
  std::string section, function;
  std::string dialect = "linux";
};

Options options;

Error usage(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

Expected<isa::Program> program_of(const InputFile& input) {
  load::Options open_options;
  open_options.dialect = dialect_named(options.dialect);
  open_options.section = options.section;
  open_options.function = options.function;
  open_options.sbpf = sbpf_config();
  if (is_object(input.kind)) {
    auto opened = open_program(input, open_options);
    if (!opened) return opened.error();
    return std::move(opened->program);
  }
  auto code = read_program(input, *open_options.dialect);
  if (!code) return code.error();
  return load::raw_program(std::move(code->slots), input.name, *open_options.dialect, open_options.sbpf);
}

// OUT.bin: the bytes; OUT.hex: one slot a line. An object (OUT.o, its
// program's section rewritten and the rest kept) is not written yet.
Expected<std::string> encode_output(const isa::Program& program, const InputFile& input) {
  const std::string ext = std::filesystem::path(options.output).extension().string();
  if (ext == ".o" || ext == ".so")
    return usage("opt: writing ELF objects is not supported yet; give OUT.bin or OUT.hex for " + input.name +
                 "'s code");
  if (ext == ".bin") {
    const std::vector<uint8_t> bytes = isa::to_bytes(program.slots);
    return std::string(bytes.begin(), bytes.end());
  }
  if (ext == ".hex") {
    std::string out;
    for (const isa::Slot& slot : program.slots) out += isa::slot_hex(slot) + "\n";
    return out;
  }
  return usage("opt: output '" + options.output + "' needs the extension .bin or .hex");
}

Expected<void> write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    Location where;
    where.input = path;
    return make_error(Errc::Io, "cannot write the output", where);
  }
  return {};
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "program: raw .bin, hex, assembly, eBPF object")->required();
  app.add_option("-o,--output", options.output, "OUT.bin or OUT.hex (the generated code)")->required();
  app.add_option("-O", options.level, "-O0: lift and generate code, no passes; -O1; -O2 (the default)")
      ->check(CLI::IsMember({"0", "1", "2"}));
  app.add_option("--passes", options.passes, "run these passes instead of a level's: a,b(k=v),...");
  app.add_flag("--print-after-all", options.print_after_all, "print the IR after lifting and after every pass");
  app.add_flag("--stats", options.stats, "print instruction counts before and after, and code generation counts");
  app.add_option("--section", options.section, "ELF object: the program's section");
  app.add_option("--function", options.function, "ELF object: the program's function");
  app.add_option("--dialect", options.dialect, "raw inputs: linux (default), sbpf-v0 .. sbpf-v3")
      ->check(CLI::IsMember(dialect_names()));
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  auto steps = ir::parse_pipeline(options.passes.empty()
                                      ? ir::level_pipeline(static_cast<int>(*ir::opt_level_named(options.level)))
                                      : std::string_view(options.passes));
  if (!steps) return printer.fail(usage("opt: --passes: " + steps.error().message), kExitBadInput);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error(), kExitBadInput);
  auto program = program_of(*input);
  if (!program) return printer.fail(program.error());
  auto module = ir::lift(*program);
  if (!module) return printer.fail(module.error(), kExitRejected);
  if (options.print_after_all) printer.out() << "; after lift\n" << ir::print(**module);
  ir::PipelineOptions pipeline;
  if (options.print_after_all)
    pipeline.after_pass = [&](const ir::PassInfo& pass, ir::Function& fn, bool changed) {
      if (changed) printer.out() << "; after " << pass.name << " on @" << fn.name() << "\n" << ir::print(fn);
    };
  auto optimized = ir::run_pipeline(**module, *steps, pipeline);
  if (!optimized) return printer.fail(optimized.error(), kExitRejected);
  ir::CodegenStats stats;
  auto generated = ir::generate(**module, {.original = &*program, .stats = &stats});
  if (!generated) return printer.fail(generated.error(), kExitRejected);
  auto bytes = encode_output(*generated, *input);
  if (!bytes) return printer.fail(bytes.error(), kExitBadInput);
  if (auto written = write_file(options.output, *bytes); !written) return printer.fail(written.error(), kExitBadInput);
  const size_t before = program->size(), after = generated->size();
  if (printer.json()) {
    printer.print_json(Json{{"output", options.output},
                            {"instructions_before", before},
                            {"instructions_after", after},
                            {"spilled", stats.spilled},
                            {"rematerialised", stats.rematerialised},
                            {"copies", stats.copies},
                            {"frame_bytes", stats.frame_bytes}});
  } else if (options.stats) {
    printer.out() << "instructions: " << before << " before, " << after << " after\n"
                  << "codegen: " << stats.copies << " copies, " << stats.spilled << " spilled, " << stats.rematerialised
                  << " rematerialised, frame " << stats.frame_bytes << " bytes\n";
  }
  return kExitOk;
}

}  // namespace bpfkit::cli::opt_command
