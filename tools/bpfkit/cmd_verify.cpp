// `bpfkit verify FILE`: the Linux kernel's verdict on a program, from module
// verify, for every input `run` reads.
#include <charconv>
#include <cstring>
#include <iomanip>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/verify.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::verify_command {
namespace {

struct Options {
  std::string file;
  std::string type, profile = "root";
  std::string mem_size;
  std::string section, function;
  int log_level = 0;
  bool stats = false, json = false, xlated = false;
};

Options options;
CLI::App* command = nullptr;

bool given(const char* flag) { return command->count(flag) > 0; }

Error usage_error(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

// The type: --type, else an eBPF object's section as libbpf reads it, else raw.
Expected<verify::ProgramType> program_type(const InputFile& input) {
  if (given("--type")) return *verify::program_type_named(options.type);
  if (input.kind != InputKind::EbpfObject) return verify::ProgramType::Raw;
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return object.error();
  auto chosen = object->choose_program(options.section, options.function);
  if (!chosen) return chosen.error();
  if (auto type = verify::program_type_of_section((*chosen)->section)) return *type;
  return usage_error("section '" + std::string((*chosen)->section) +
                     "' names no program type the verifier knows; give --type raw|socket|xdp|tc");
}

// The rewritten program: index, bytes and the instruction.
void print_xlated(std::ostream& out, const std::vector<isa::Slot>& xlated) {
  out << "xlated:\n";
  for (size_t pc = 0; pc < xlated.size(); ++pc) {
    out << std::setw(6) << pc << ": " << isa::slot_hex(xlated[pc]);
    if (pc == 0 || !isa::lookup(xlated[pc - 1]) || !isa::is_lddw(*isa::lookup(xlated[pc - 1])))
      out << "  " << assembly::format_instruction(xlated, pc);
    out << "\n";
  }
}

Json result_json(const verify::Result& result) {
  Json json;
  json["verdict"] = result.accepted ? "accepted" : "rejected";
  if (!result.accepted && result.error_number != verify::Errno::None)
    json["errno"] = std::string(verify::errno_name(result.error_number));
  if (result.error) {
    Json error;
    if (result.error->location.pc) error["pc"] = *result.error->location.pc;
    error["message"] = result.error->message;
    json["error"] = error;
  }
  json["processed_insns"] = result.processed_insns;
  json["states"] = result.states;
  json["peak_states"] = result.peak_states;
  if (!result.log.empty()) json["log"] = result.log;
  if (options.xlated && result.accepted) {
    Json xlated = Json::array();
    for (const isa::Slot& slot : result.xlated) xlated.push_back(isa::slot_hex(slot));
    json["xlated"] = xlated;
  }
  return json;
}

int report(Printer& printer, const verify::Result& result, const verify::Options& verify_options) {
  const int status = result.accepted ? kExitOk : kExitRejected;
  if (printer.json()) {
    printer.print_json(result_json(result));
    return status;
  }
  if (options.log_level > 0) printer.err() << result.log;
  if (result.accepted) {
    printer.out() << "accepted\n";
  } else {
    printer.out() << "rejected (" << verify::errno_name(result.error_number) << ")";
    if (result.error) {
      if (result.error->location.pc) printer.out() << " at insn " << *result.error->location.pc;
      printer.out() << ": " << result.error->message;
    }
    printer.out() << "\n";
  }
  if (options.stats && options.log_level == 0) printer.out() << verify::stats_line(result, verify_options) << "\n";
  if (options.xlated && result.accepted) print_xlated(printer.out(), result.xlated);
  return status;
}

int verify_input(const InputFile& input, Printer& printer) {
  if ((given("--section") || given("--function")) && input.kind != InputKind::EbpfObject)
    return printer.fail(usage_error("--section and --function choose a program of an eBPF object, and " + input.name +
                                    " is " + describe(input.kind)));
  if (input.kind == InputKind::SbpfObject)
    return printer.fail(usage_error(input.name + " is an sBPF program; the verifier checks Linux eBPF programs"));
  auto type = program_type(input);
  if (!type) return printer.fail(type.error(), kExitBadInput);

  verify::Options verify_options;
  verify_options.type = *type;
  verify_options.profile = options.profile == "bpf" ? verify::Profile::Bpf : verify::Profile::Root;
  verify_options.log_level = options.log_level;
  if (given("--mem-size")) {
    uint64_t size = 0;
    const char* end = options.mem_size.data() + options.mem_size.size();
    auto [stop, ec] = std::from_chars(options.mem_size.data(), end, size);
    if (options.mem_size.empty() || ec != std::errc() || stop != end || size > UINT32_MAX)
      return printer.fail(
          usage_error("--mem-size: '" + options.mem_size + "' is not a whole number from 0 to 4294967295"));
    verify_options.mem_size = size;
  }

  if (is_object(input.kind)) {
    load::Options open_options;
    open_options.section = options.section;
    open_options.function = options.function;
    auto opened = open_program(input, open_options);
    if (!opened) return printer.fail(opened.error());
    return report(printer, verify::verify(opened->program, verify_options), verify_options);
  }
  auto code = read_program(input);
  if (!code) return printer.fail(code.error(), read_failure_status(code.error()));
  // A .data test brings its memory: r1 points to it unless --mem-size says otherwise.
  if (!given("--mem-size") && code->memory) verify_options.mem_size = code->memory->size();
  return report(printer, verify::verify_slots(code->slots, verify_options), verify_options);
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file,
                 "program: .bin (raw), .hex, .data (conformance test), assembly or an eBPF object (.o)")
      ->required();
  app.add_option("--type", options.type,
                 "program type: raw (r1 = a buffer of --mem-size bytes, r2 = its length), socket, xdp, tc "
                 "(default: an object's section, else raw)")
      ->check(CLI::IsMember({"raw", "socket", "xdp", "tc"}));
  app.add_option("--profile", options.profile,
                 "the loader's rights: root (CAP_SYS_ADMIN, default) or bpf (CAP_BPF only)")
      ->check(CLI::IsMember({"root", "bpf"}));
  app.add_option("--mem-size", options.mem_size, "raw type: bytes r1 points to (default 0, or a .data test's memory)");
  auto* section = app.add_option("--section", options.section, "ELF object: the program's section");
  auto* function = app.add_option("--function", options.function, "ELF object: the program's function");
  section->excludes(function);
  app.add_option("--log-level", options.log_level, "0: none; 1: the failing path; 2: every instruction (stderr)")
      ->check(CLI::Range(0, 2));
  app.add_flag("--stats", options.stats, "also print the statistics line (processed insns, states)");
  app.add_flag("--xlated", options.xlated,
               "also print the program as the verifier rewrites it (dead code removed or trapped), as "
               "`bpftool prog dump xlated` shows it before the kernel's other fix-ups");
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  return verify_input(*input, printer);
}

}  // namespace bpfkit::cli::verify_command
