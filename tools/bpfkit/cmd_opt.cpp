// `bpfkit opt FILE -o OUT [-O0|-O1|-O2] [--passes ...] [--print-after-all]
// [--stats]`: lift a program to the SSA IR, run the optimisation pipeline
// of the level, generate bytecode again. -O0 is lift + codegen. An eBPF
// object in and OUT.o out: every function of the object (or the one
// --section/--function choose) is optimised and the object written again
// (elf::EbpfObject::rewrite). Its CO-RE relocations are kept: the rows
// they patch pass through unchanged and the output carries them again, so
// it loads on every kernel the input loads on; --btf resolves them instead.
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "bpfkit/elf.hpp"
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
  std::string btf;  // resolve CO-RE against this instead of keeping it
};

Options options;

Error usage(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

Expected<isa::Program> program_of(const InputFile& input) {
  load::Options open_options;
  open_options.dialect = dialect_named(options.dialect);
  open_options.section = options.section;
  open_options.function = options.function;
  open_options.sbpf = sbpf_config();
  open_options.btf = options.btf;
  if (is_object(input.kind)) {
    auto opened = open_program(input, open_options);
    if (!opened) return opened.error();
    return std::move(opened->program);
  }
  auto code = read_program(input, *open_options.dialect);
  if (!code) return code.error();
  return load::raw_program(std::move(code->slots), input.name, *open_options.dialect, open_options.sbpf);
}

bool object_output() {
  const std::string ext = std::filesystem::path(options.output).extension().string();
  return ext == ".o" || ext == ".so";
}

// OUT.bin: the bytes; OUT.hex: one slot a line (OUT.o: run_object).
Expected<std::string> encode_output(const isa::Program& program) {
  const std::string ext = std::filesystem::path(options.output).extension().string();
  if (ext == ".bin") {
    const std::vector<uint8_t> bytes = isa::to_bytes(program.slots);
    return std::string(bytes.begin(), bytes.end());
  }
  if (ext == ".hex") {
    std::string out;
    for (const isa::Slot& slot : program.slots) out += isa::slot_hex(slot) + "\n";
    return out;
  }
  return usage("opt: output '" + options.output + "' needs the extension .bin, .hex or .o (for an eBPF object)");
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

// Lift, run the pipeline (--passes, or the level's and its retry), generate: one program.
Expected<isa::Program> optimize_one(const isa::Program& program, Printer& printer, ir::CodegenStats& stats) {
  ir::OptimizeOptions optimize;
  optimize.stats = &stats;
  optimize.passes = options.passes;
  if (options.print_after_all) {
    optimize.after_lift = [&](ir::Module& module, std::string_view pipeline) {
      printer.out() << "; after lift (pipeline: " << (pipeline.empty() ? "none" : pipeline) << ")\n"
                    << ir::print(module);
    };
    optimize.after_pass = [&](const ir::PassInfo& pass, ir::Function& fn, bool changed) {
      if (changed) printer.out() << "; after " << pass.name << " on @" << fn.name() << "\n" << ir::print(fn);
    };
  }
  return ir::optimize_program(program, *ir::opt_level_named(options.level), optimize);
}

// The target of the object's CO-RE relocations when --btf names one;
// without, they are kept.
Expected<std::optional<elf::Btf>> core_target(const elf::EbpfObject& object, Printer& printer) {
  if (object.info().core_relocations.empty() || options.btf.empty()) return std::optional<elf::Btf>();
  auto bytes = read_file(options.btf);
  if (!bytes) return bytes.error();
  auto btf = elf::Btf::parse(*bytes, options.btf);
  if (!btf) return btf.error();
  printer.err() << "note: CO-RE relocations resolved against " << options.btf << ": the output is for that kernel\n";
  return std::optional<elf::Btf>(std::move(*btf));
}

void print_stats(Printer& printer, size_t before, size_t after, const ir::CodegenStats& stats) {
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
}

// An eBPF object in, an object out: each chosen function optimised as the
// program load_program() makes of it, its own code written back in place.
int run_object(const InputFile& input, Printer& printer) {
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return printer.fail(object.error(), kExitBadInput);
  std::vector<const elf::ProgramInfo*> chosen;
  if (!options.section.empty() || !options.function.empty()) {
    auto one = object->choose_program(options.section, options.function);
    if (!one) return printer.fail(one.error(), kExitBadInput);
    chosen.push_back(*one);
  } else {
    for (const elf::ProgramInfo& p : object->info().programs) chosen.push_back(&p);
  }
  auto target = core_target(*object, printer);
  if (!target) return printer.fail(target.error(), kExitBadInput);
  elf::LoadOptions load_options;
  if (*target) load_options.core_target = &**target;
  load_options.keep_core = !*target;
  std::deque<isa::Program> generated;  // stable addresses for NewCode
  std::vector<elf::EbpfObject::NewCode> code;
  ir::CodegenStats stats, total;
  size_t before = 0, after = 0;
  for (const elf::ProgramInfo* p : chosen) {
    auto program = object->load_program(*p, load_options);
    if (!program) return printer.fail(program.error(), kExitRejected);
    auto out = optimize_one(*program, printer, stats);
    if (!out) return printer.fail(out.error(), kExitRejected);
    generated.push_back(std::move(*out));
    code.push_back({p, &generated.back()});
    before += p->slots;
    after += generated.back().functions.size() > 1 ? generated.back().functions[1].start : generated.back().size();
    total.copies += stats.copies, total.spilled += stats.spilled, total.rematerialised += stats.rematerialised;
    total.frame_bytes = std::max(total.frame_bytes, stats.frame_bytes);
  }
  auto rewritten = object->rewrite(code);
  if (!rewritten) return printer.fail(rewritten.error(), kExitRejected);
  for (const std::string& note : rewritten->notes) printer.err() << "note: " << note << "\n";
  const std::string bytes(rewritten->bytes.begin(), rewritten->bytes.end());
  if (auto written = write_file(options.output, bytes); !written) return printer.fail(written.error(), kExitBadInput);
  print_stats(printer, before, after, total);
  return kExitOk;
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "program: raw .bin, hex, assembly, eBPF object")->required();
  app.add_option("-o,--output", options.output,
                 "OUT.bin or OUT.hex (the generated code), or OUT.o (an eBPF object written again)")
      ->required();
  app.add_option("-O", options.level, "-O0: lift and generate code, no passes; -O1; -O2 (the default)")
      ->check(CLI::IsMember({"0", "1", "2"}));
  app.add_option("--passes", options.passes, "run these passes instead of a level's: a,b(k=v),...");
  app.add_flag("--print-after-all", options.print_after_all, "print the IR after lifting and after every pass");
  app.add_flag("--stats", options.stats, "print instruction counts before and after, and code generation counts");
  app.add_option("--section", options.section,
                 "ELF object: the program's section (OUT.o: optimise only it; default: every function)");
  app.add_option("--function", options.function, "ELF object: the program's function");
  app.add_option("--dialect", options.dialect, "raw inputs: linux (default), sbpf-v0 .. sbpf-v3")
      ->check(CLI::IsMember(dialect_names()));
  app.add_option("--btf", options.btf,
                 "eBPF object: resolve its CO-RE relocations against this BTF (raw, or an ELF object's .BTF) "
                 "instead of keeping them in OUT.o; OUT.bin and OUT.hex always resolve them (default: "
                 "/sys/kernel/btf/vmlinux)");
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  // The pipeline's errors (a column, an unknown pass) before any input is read.
  if (auto steps = ir::parse_pipeline(options.passes); !steps)
    return printer.fail(usage("opt: --passes: " + steps.error().message), kExitBadInput);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error(), kExitBadInput);
  if (object_output()) {
    if (input->kind != InputKind::EbpfObject)
      return printer.fail(usage("opt: an object output (" + options.output + ") needs an eBPF object input; " +
                                input->name + " is " + std::string(describe(input->kind))),
                          kExitBadInput);
    return run_object(*input, printer);
  }
  auto program = program_of(*input);
  if (!program) return printer.fail(program.error());
  ir::CodegenStats stats;
  auto generated = optimize_one(*program, printer, stats);
  if (!generated) return printer.fail(generated.error(), kExitRejected);
  auto bytes = encode_output(*generated);
  if (!bytes) return printer.fail(bytes.error(), kExitBadInput);
  if (auto written = write_file(options.output, *bytes); !written) return printer.fail(written.error(), kExitBadInput);
  print_stats(printer, program->size(), generated->size(), stats);
  return kExitOk;
}

}  // namespace bpfkit::cli::opt_command
