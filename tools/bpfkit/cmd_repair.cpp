// `bpfkit repair FILE -o OUT [--type T] [--section S] [--max-rounds N]
// [--bail N] [--json]`: module repair's loop on a program the verifier
// refuses. Each round prints the verifier's verdict and the fix made; OUT
// (the input's kind: .bin, .hex, .s, or .o written again as `opt` writes
// objects) is written only when the verifier accepts the last program.
#include <filesystem>
#include <fstream>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/repair.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"
#include "verify_input.hpp"

namespace bpfkit::cli::repair_command {
namespace {

struct Options {
  std::string file, output;
  VerifyFlags verify;
  int max_rounds = 8;
  int64_t bail = 0;
  bool json = false;
};

Options options;
CLI::App* command = nullptr;

Error usage(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

std::string extension() { return std::filesystem::path(options.output).extension().string(); }

Expected<void> write_file(const std::string& bytes) {
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (out) return {};
  Location where;
  where.input = options.output;
  return make_error(Errc::Io, "cannot write the output", where);
}

// OUT.bin: the bytes; OUT.hex: one slot a line; OUT.s: assembler source.
std::string encode(const isa::Program& program) {
  const std::string ext = extension();
  if (ext == ".bin") {
    const std::vector<uint8_t> bytes = isa::to_bytes(program.slots);
    return std::string(bytes.begin(), bytes.end());
  }
  if (ext == ".hex") {
    std::string out;
    for (const isa::Slot& slot : program.slots) out += isa::slot_hex(slot) + "\n";
    return out;
  }
  assembly::DisassemblyOptions source;
  source.addresses = false;  // with labels: assembler source (`L0:`, `goto L0`)
  return assembly::disassemble(program.slots, source);
}

// An object in, the object out with the repaired program in place of the
// chosen one (elf::EbpfObject::rewrite, as `opt` writes objects).
Expected<std::string> encode_object(const InputFile& input, const isa::Program& program, Printer& printer) {
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return object.error();
  auto chosen = object->choose_program(options.verify.section, options.verify.function);
  if (!chosen) return chosen.error();
  const elf::EbpfObject::NewCode code[] = {{*chosen, &program}};
  auto rewritten = object->rewrite(code);
  if (!rewritten) return rewritten.error();
  for (const std::string& note : rewritten->notes) printer.err() << "note: " << note << "\n";
  return std::string(rewritten->bytes.begin(), rewritten->bytes.end());
}

Json fix_json(const repair::Fix& fix) {
  Json json{{"kind", std::string(repair::fix_kind_name(fix.kind))},
            {"error_pc", fix.error_pc},
            {"pc", fix.pc},
            {"pass", fix.pass}};
  if (fix.kind == repair::FixKind::BoundIndex) json["limit"] = fix.limit;
  return json;
}

Json round_json(const repair::Round& round) {
  const verify::Result& verdict = round.verdict;
  Json json{{"verdict", verdict.accepted ? "accepted" : "rejected"}};
  if (!verdict.accepted) json["errno"] = std::string(verify::errno_name(verdict.error_number));
  if (verdict.error) {
    Json error{{"message", verdict.error->message}};
    if (verdict.error->location.pc) error["pc"] = *verdict.error->location.pc;
    json["error"] = error;
  }
  if (round.fix) json["fix"] = fix_json(*round.fix);
  if (round.unrepairable) json["unrepairable"] = round.unrepairable->reason;
  return json;
}

void print_round(std::ostream& out, size_t index, const repair::Round& round) {
  const verify::Result& verdict = round.verdict;
  out << "round " << index + 1 << ": ";
  if (verdict.accepted) {
    out << "accepted\n";
  } else {
    out << "rejected (" << verify::errno_name(verdict.error_number) << ")";
    if (verdict.error && verdict.error->location.pc) out << " at insn " << *verdict.error->location.pc;
    if (verdict.error) out << ": " << verdict.error->message;
    out << "\n";
  }
  if (round.fix) {
    out << "  fix: " << repair::fix_kind_name(round.fix->kind) << " at insn " << round.fix->pc;
    if (round.fix->kind == repair::FixKind::BoundIndex) out << " (scalar <= " << round.fix->limit << ")";
    out << ": " << round.fix->pass << "\n";
  }
  if (round.unrepairable) out << "  no repair: " << round.unrepairable->reason << "\n";
}

int report(Printer& printer, const repair::Report& result, size_t before, bool written) {
  const int status = result.accepted() ? kExitOk : kExitRejected;
  if (printer.json()) {
    Json rounds = Json::array();
    for (const repair::Round& round : result.rounds) rounds.push_back(round_json(round));
    Json json{{"outcome", std::string(repair::outcome_name(result.outcome))},
              {"accepted", result.accepted()},
              {"rounds", rounds},
              {"instructions_before", before},
              {"instructions_after", result.program.size()}};
    if (written) json["output"] = options.output;
    printer.print_json(json);
    return status;
  }
  for (size_t i = 0; i < result.rounds.size(); ++i) {
    if (options.verify.log_level > 0) printer.err() << result.rounds[i].verdict.log;
    print_round(printer.out(), i, result.rounds[i]);
  }
  printer.out() << repair::outcome_name(result.outcome);
  if (written)
    printer.out() << ": " << options.output << " written (" << before << " -> " << result.program.size()
                  << " instructions)";
  else if (!result.accepted())
    printer.out() << ": nothing written";
  printer.out() << "\n";
  return status;
}

// The program the verifier is asked about: an object's, or raw slots
// decoded (slots that do not decode are refused before any repair).
Expected<isa::Program> program_of(VerifyTarget& target) {
  if (target.program) return std::move(*target.program);
  return isa::decode(target.slots);
}

int repair_input(const InputFile& input, Printer& printer) {
  const std::string ext = extension();
  const bool object_out = ext == ".o";
  if (object_out != (input.kind == InputKind::EbpfObject))
    return printer.fail(usage("repair: an eBPF object is written back as .o, any other input as .bin, .hex or .s; " +
                              options.output + " does not fit " + input.name),
                        kExitBadInput);
  if (!object_out && ext != ".bin" && ext != ".hex" && ext != ".s")
    return printer.fail(usage("repair: output '" + options.output + "' needs the extension .bin, .hex, .s or .o"),
                        kExitBadInput);
  int failure_status = 0;
  auto target = verify_target(input, options.verify, *command, failure_status);
  if (!target) return printer.fail(target.error(), failure_status);
  auto program = program_of(*target);
  if (!program) {  // the verifier's own words for what does not decode
    repair::Report refused;
    refused.program.slots = target->slots;
    refused.rounds.push_back({verify::verify_slots(target->slots, target->options), std::nullopt,
                              repair::Unrepairable{"the instructions do not decode"}});
    return report(printer, refused, target->slots.size(), false);
  }
  const size_t before = program->size();
  repair::Options repair_options;
  repair_options.verify = target->options;
  repair_options.max_rounds = options.max_rounds;
  repair_options.bail = options.bail;
  const repair::Report result = repair::repair(*program, repair_options);
  if (!result.accepted()) return report(printer, result, before, false);
  Expected<std::string> bytes =
      object_out ? encode_object(input, result.program, printer) : Expected<std::string>(encode(result.program));
  if (!bytes) return printer.fail(bytes.error(), kExitBadInput);
  if (auto written = write_file(*bytes); !written) return printer.fail(written.error(), kExitBadInput);
  return report(printer, result, before, true);
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file, "program: .bin (raw), .hex, assembly or an eBPF object (.o)")->required();
  app.add_option("-o,--output", options.output,
                 "the accepted program: OUT.bin, OUT.hex, OUT.s, or OUT.o for an eBPF object (written only when the "
                 "verifier accepts it)")
      ->required();
  add_verify_flags(app, options.verify);
  app.add_option("--max-rounds", options.max_rounds, "fixes at most before giving up (default 8)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--bail", options.bail,
                 "r0 where an inserted check fails (default 0: XDP_ABORTED, a socket filter's drop, TC_ACT_OK)");
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  return repair_input(*input, printer);
}

}  // namespace bpfkit::cli::repair_command
