// `bpfkit verify FILE`: the Linux kernel's verdict on a program, from module
// verify, for every input `run` reads.
#include "bpfkit/verify.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"
#include "verify_input.hpp"
#include "xlated.hpp"

namespace bpfkit::cli::verify_command {
namespace {

struct Options {
  std::string file;
  VerifyFlags verify;
  bool stats = false, json = false, xlated = false;
};

Options options;
CLI::App* command = nullptr;

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
    json["xlated"] = xlated_json(result.xlated);
  }
  return json;
}

int report(Printer& printer, const verify::Result& result, const verify::Options& verify_options) {
  const int status = result.accepted ? kExitOk : kExitRejected;
  if (printer.json()) {
    printer.print_json(result_json(result));
    return status;
  }
  if (options.verify.log_level > 0) printer.err() << result.log;
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
  if (options.stats && options.verify.log_level == 0)
    printer.out() << verify::stats_line(result, verify_options) << "\n";
  if (options.xlated && result.accepted) print_xlated(printer.out(), result.xlated);
  return status;
}

int verify_input(const InputFile& input, Printer& printer) {
  int failure_status = 0;
  auto target = verify_target(input, options.verify, *command, failure_status);
  if (!target) return printer.fail(target.error(), failure_status);
  const verify::Options& verify_options = target->options;
  if (target->program) return report(printer, verify::verify(*target->program, verify_options), verify_options);
  return report(printer, verify::verify_slots(target->slots, verify_options), verify_options);
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file,
                 "program: .bin (raw), .hex, .data (conformance test), assembly or an eBPF object (.o)")
      ->required();
  add_verify_flags(app, options.verify);
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
