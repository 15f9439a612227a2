// `bpfkit offload FILE --device sim|strict`: load a program onto a
// simulated offload device through module offload's hooks, and show every
// hook call, the device's state and the program as the verifier rewrote it.
#include "bpfkit/offload.hpp"
#include "bpfkit/vm.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"
#include "verify_input.hpp"
#include "xlated.hpp"

namespace bpfkit::cli::offload_command {
namespace {

struct Options {
  std::string file;
  VerifyFlags verify;
  std::string device;
  bool no_bind_accept = false, no_verifier_accept = false;
  uint32_t verifier_delay_ms = 0;
  bool json = false;
};

Options options;
CLI::App* command = nullptr;

std::unique_ptr<offload::Backend> make_device(vm::Context& host_context) {
  if (options.device == "strict") return std::make_unique<offload::StrictDevice>();
  if (options.device == "host") return std::make_unique<offload::HostBackend>(host_context);
  offload::SimSwitches switches;
  switches.bind_accept = !options.no_bind_accept;
  switches.verifier_accept = !options.no_verifier_accept;
  switches.verifier_delay_ms = options.verifier_delay_ms;
  return std::make_unique<offload::SimDevice>(switches);
}

Json hook_json(const offload::HookCall& call) {
  using offload::Op;
  Json json;
  json["op"] = std::string(offload::op_name(call.op));
  switch (call.op) {
    case Op::MapAlloc: json["map"] = call.map; break;
    case Op::InsnHook:
      json["insn"] = call.insn;
      json["prev"] = call.prev;
      break;
    case Op::ReplaceInsn:
      json["off"] = call.insn;
      json["insn"] = isa::slot_hex(call.replacement);
      break;
    case Op::RemoveInsns:
      json["off"] = call.insn;
      json["cnt"] = call.count;
      break;
    default: break;
  }
  if (!call.delivered) json["delivered"] = false;
  if (call.refusal)
    json["refused"] = Json{{"errno", std::string(verify::errno_name(call.refusal->error_number))},
                           {"message", call.refusal->message}};
  return json;
}

Json result_json(const offload::Result& result, std::string_view device) {
  Json json;
  json["verdict"] = result.accepted ? "accepted" : "rejected";
  if (!result.accepted) {
    json["errno"] = std::string(verify::errno_name(result.error_number));
    Json error;
    error["stage"] = std::string(offload::stage_name(result.failed_at));
    if (result.error) {
      if (result.error->location.pc) error["pc"] = *result.error->location.pc;
      error["message"] = result.error->message;
    }
    json["error"] = error;
  }
  json["device"] = std::string(device);
  if (result.device_state.empty())
    json["device_state"] = nullptr;
  else
    json["device_state"] = result.device_state;
  json["opt_failed"] = result.opt_failed;
  Json hooks = Json::array();
  for (const offload::HookCall& call : result.hooks) hooks.push_back(hook_json(call));
  json["hooks"] = hooks;
  if (result.verification.accepted) json["xlated"] = xlated_json(result.verification.xlated);
  json["processed_insns"] = result.verification.processed_insns;
  json["log"] = result.log;
  return json;
}

void print_hook(std::ostream& out, const offload::HookCall& call) {
  using offload::Op;
  out << "  " << offload::op_name(call.op);
  switch (call.op) {
    case Op::MapAlloc: out << " " << call.map; break;
    case Op::InsnHook: out << " " << call.insn << " prev " << call.prev; break;
    case Op::ReplaceInsn: out << " " << call.insn << " " << isa::slot_hex(call.replacement); break;
    case Op::RemoveInsns: out << " " << call.insn << " count " << call.count; break;
    default: break;
  }
  if (!call.delivered) out << "  (not delivered: the device lacks the hook, or an earlier one failed)";
  if (call.refusal)
    out << "  refused (" << verify::errno_name(call.refusal->error_number) << "): " << call.refusal->message;
  out << "\n";
}

void print_result(std::ostream& out, const offload::Result& result, std::string_view device) {
  out << "hooks:\n";
  for (const offload::HookCall& call : result.hooks) print_hook(out, call);
  if (!result.log.empty()) out << "log:\n" << result.log;
  out << "device " << device << ": program state " << (result.device_state.empty() ? "(none)" : result.device_state)
      << ", opt_failed " << (result.opt_failed ? "yes" : "no") << "\n";
  if (result.accepted) {
    out << "accepted\n";
  } else {
    out << "rejected (" << verify::errno_name(result.error_number) << ")";
    if (result.error) {
      if (result.error->location.pc) out << " at insn " << *result.error->location.pc;
      out << ": " << result.error->message;
    }
    out << "\n";
  }
  if (result.verification.accepted) print_xlated(out, result.verification.xlated);
}

Error usage_error(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

int offload_input(const InputFile& input, Printer& printer) {
  int failure_status = 0;
  auto target = verify_target(input, options.verify, *command, failure_status, verify::ProgramType::Xdp);
  if (!target) return printer.fail(target.error(), failure_status);
  // bpf_prog_dev_bound_init: only XDP and tc (sched_cls) programs bind to a device.
  const verify::ProgramType type = target->options.type;
  if (type != verify::ProgramType::Xdp && type != verify::ProgramType::Tc)
    return printer.fail(usage_error("only xdp and tc programs can be offloaded to a device, not " +
                                    std::string(verify::program_type_name(type))),
                        kExitBadInput);

  vm::Context host_context;
  auto device = make_device(host_context);
  offload::BoundProgram bound = target->program
                                    ? offload::BoundProgram::load(*device, *target->program, target->options)
                                    : offload::BoundProgram::load_slots(*device, target->slots, target->options);
  bound.unload();  // the program's life on the device ends with the command
  const offload::Result& result = bound.result();
  if (printer.json())
    printer.print_json(result_json(result, device->name()));
  else
    print_result(printer.out(), result, device->name());
  return result.accepted ? kExitOk : kExitRejected;
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file,
                 "program: .bin (raw), .hex, .data (conformance test), assembly or an eBPF object (.o)")
      ->required();
  app.add_option("--device", options.device,
                 "sim (netdevsim's behaviour), strict (an nfp-like device that refuses what it cannot run) or "
                 "host (the interpreter, which makes the translated program runnable here)")
      ->required()
      ->check(CLI::IsMember({"sim", "strict", "host"}));
  add_verify_flags(app, options.verify);
  app.add_flag("--no-bind-accept", options.no_bind_accept, "sim: prepare refuses the program (EOPNOTSUPP)");
  app.add_flag("--no-verifier-accept", options.no_verifier_accept,
               "sim: the hook at the last instruction refuses the program (EOPNOTSUPP)");
  app.add_option("--verifier-delay", options.verifier_delay_ms, "sim: milliseconds the hook sleeps at instruction 0")
      ->check(CLI::Range(0u, 60000u));
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  if (options.device != "sim" && (command->count("--no-bind-accept") || command->count("--no-verifier-accept") ||
                                  command->count("--verifier-delay")))
    return printer.fail(usage_error("--no-bind-accept, --no-verifier-accept and --verifier-delay are sim's switches"),
                        kExitBadInput);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  return offload_input(*input, printer);
}

}  // namespace bpfkit::cli::offload_command
