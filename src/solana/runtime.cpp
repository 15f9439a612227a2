// One instruction as Agave's BPF loader runs it: serialize the accounts and
// instruction data, run the program in a fresh VM context with the
// runtime's syscalls, write the accounts back, and log as the runtime logs.
#include "runtime.hpp"

#include <cstring>

namespace bpfkit::solana {

namespace {

// solana_svm_log_collector::LogCollector: messages until their bytes would
// reach 10,000, then one "Log truncated".
class LogCollector {
 public:
  void log(std::string_view message) {
    if (truncated_) return;
    if (bytes_ + message.size() >= vm::Output::kLogLimit) {
      truncated_ = true;
      messages_.emplace_back("Log truncated");
      return;
    }
    bytes_ += message.size();
    messages_.emplace_back(message);
  }
  std::vector<std::string> take() { return std::move(messages_); }

 private:
  std::vector<std::string> messages_;
  uint64_t bytes_ = 0;
  bool truncated_ = false;
};

// What "failed: " prints: the InstructionError's text, or the VM's error as
// the runtime displays it (without the syscall name bpfkit puts first).
std::string failure_text(const Error& error, const vm::HelperTable& syscalls) {
  if (error.domain != Domain::SbpfVm) return error.message;
  const size_t colon = error.message.find(": ");
  if (colon != std::string::npos) {
    const std::string name = error.message.substr(0, colon);
    if (syscalls.find(isa::murmur3_32(name)) != nullptr && !name.empty()) return error.message.substr(colon + 2);
  }
  return error.message;
}

}  // namespace

Expected<ExecuteResult> execute(const isa::Program& program, const Instruction& instruction,
                                std::vector<Account> accounts, const ExecuteOptions& options) {
  if (program.dialect == nullptr || program.dialect->family != isa::Family::Sbpf)
    return make_error(Errc::Unsupported, "a Solana program is sBPF; this one is not");
  auto input = serialize(instruction, accounts, options.format);
  if (!input) return input.error();

  Runtime runtime(instruction.program_id, options);
  vm::Context context(*program.dialect);
  context.helpers() = runtime.syscalls(program.syscall_keys);
  context.set_heap_size(options.heap_size);
  context.set_budget(options.compute_units);
  std::vector<uint8_t> region = input->bytes;
  context.map_input(region);
  auto engine = vm::make_interpreter(program, context);
  if (!engine) return engine.error();

  const std::string id = to_base58(instruction.program_id);
  LogCollector logs;
  logs.log("Program " + id + " invoke [1]");
  context.output().set_sink([&logs](std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    logs.log(line);
  });

  ExecuteResult result;
  result.run = (*engine)->run(context, {kInputStart, kInputStart + input->instruction_data_offset, 0, 0, 0});
  result.compute_units = result.run.compute_units;
  logs.log("Program " + id + " consumed " + std::to_string(result.compute_units) + " of " +
           std::to_string(options.compute_units) + " compute units");
  result.return_data = runtime.return_data();
  if (!result.return_data.data.empty())
    logs.log("Program return: " + to_base58(result.return_data.program_id) + " " + to_base64(result.return_data.data));

  if (result.run.error) {
    result.error = result.run.error;
  } else if (result.run.r0 != 0) {
    result.error = error_from_return_code(result.run.r0);
  } else if (auto written = deserialize(*input, region, instruction, accounts); !written) {
    result.error = written.error();
  }
  if (result.error)
    logs.log("Program " + id + " failed: " + failure_text(*result.error, context.helpers()));
  else
    logs.log("Program " + id + " success");
  result.accounts = std::move(accounts);
  result.logs = logs.take();
  return result;
}

}  // namespace bpfkit::solana
