// One transaction instruction as Agave runs it, with the instructions it
// invokes: InvokeContext::process_instruction (the stack, reentrancy, trace
// and balance checks, the log's invoke / success / failed lines) and the
// BPF loader's part (serialize the accounts and instruction data, run the
// program in a fresh VM with the runtime's syscalls, write the accounts
// back, log the units consumed and the return data).
#include "runtime.hpp"

#include <cstring>

namespace bpfkit::solana {

const Pubkey kSystemProgramId{};

void LogCollector::log(std::string_view message) {
  if (truncated_) return;
  if (bytes_ + message.size() >= vm::Output::kLogLimit) {
    truncated_ = true;
    messages_.emplace_back("Log truncated");
    return;
  }
  bytes_ += message.size();
  messages_.emplace_back(message);
}

namespace {

// The VM puts the syscall's name before its error ("sol_invoke_signed_c:
// ..."); the runtime prints the error alone.
std::string without_syscall_name(const std::string& message, const vm::HelperTable& syscalls) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos || colon == 0) return message;
  if (syscalls.find(isa::murmur3_32(std::string_view(message).substr(0, colon))) == nullptr) return message;
  return message.substr(colon + 2);
}

}  // namespace

bool valid_heap_size(uint64_t bytes) { return bytes >= kMinHeapSize && bytes <= kMaxHeapSize && bytes % 1024 == 0; }

uint64_t heap_cost(uint64_t bytes) {
  constexpr uint64_t kPage = 32 * 1024, kUnitsPerPage = 8;  // DEFAULT_HEAP_COST
  return ((bytes + kPage - 1) / kPage - 1) * kUnitsPerPage;
}

Transaction::Transaction(std::vector<Account>& accounts, const ExecuteOptions& options)
    : accounts(accounts), options(options) {}

std::optional<uint32_t> Transaction::find_account(const Pubkey& key) const {
  for (size_t i = 0; i < accounts.size(); ++i)
    if (accounts[i].key == key) return static_cast<uint32_t>(i);
  return std::nullopt;
}

const isa::Program* Transaction::program(const Pubkey& id) const {
  if (top_program != nullptr && id == top_program_id) return top_program;
  for (const auto& [key, program] : options.programs)
    if (key == id && program) return program.get();
  return nullptr;
}

InputFormat Transaction::input_format(const Pubkey& id) const {
  if (id == top_program_id && options.format) return *options.format;
  if (std::optional<uint32_t> index = find_account(id)) return input_format_of_loader(accounts[*index].owner);
  return InputFormat::Aligned;
}

Expected<void> Transaction::push(const Instruction& instruction) {
  if (!stack_.empty()) {
    bool on_stack = false;
    for (const Instruction* frame : stack_) on_stack |= frame->program_id == instruction.program_id;
    if (on_stack && stack_.back()->program_id != instruction.program_id)
      return instruction_error(InstructionErrc::ReentrancyNotAllowed);
    if (lamports_sum(*stack_.back(), accounts) != stack_sums_.back())
      return instruction_error(InstructionErrc::UnbalancedInstruction);
  }
  if (trace.size() >= kMaxTraceLength) return instruction_error(InstructionErrc::MaxInstructionTraceLengthExceeded);
  trace.push_back({stack_.size() + 1, instruction});
  if (stack_.size() >= kMaxStackDepth) return instruction_error(InstructionErrc::CallDepth);
  stack_.push_back(&instruction);
  stack_sums_.push_back(lamports_sum(instruction, accounts));
  return {};
}

Expected<void> Transaction::pop() {
  const bool unbalanced = lamports_sum(*stack_.back(), accounts) != stack_sums_.back();
  stack_.pop_back();
  stack_sums_.pop_back();
  if (unbalanced) return instruction_error(InstructionErrc::UnbalancedInstruction);
  return {};
}

Expected<void> Transaction::process(const Instruction& instruction, uint64_t& meter) {
  for (const InstructionAccount& a : instruction.accounts)
    if (a.index >= accounts.size()) return instruction_error(InstructionErrc::NotEnoughAccountKeys);
  if (auto pushed = push(instruction); !pushed) return pushed;
  return_data = {instruction.program_id, {}};
  const std::string id = to_base58(instruction.program_id);
  logs.log("Program " + id + " invoke [" + std::to_string(stack_height()) + "]");
  Expected<void> result;
  if (instruction.program_id == kSystemProgramId) {
    result = run_system_program(instruction, meter);
  } else if (const isa::Program* program = this->program(instruction.program_id)) {
    result = run_bpf(*program, instruction, meter);
  } else {
    logs.log("Program is not deployed");
    result = instruction_error(InstructionErrc::UnsupportedProgramId,
                               "Unsupported program id (bpfkit has no program " + id + ")");
  }
  if (setup_error) {
    result.ignore();  // the setup error says it
    pop().ignore();
    return *setup_error;
  }
  if (result) {
    logs.log("Program " + id + " success");
  } else {
    logs.log("Program " + id + " failed: " + result.error().message);
    // An invoked program's fault reaches its caller as ProgramFailedToComplete.
    if (stack_height() > 1 && result.error().domain != Domain::SolanaInstruction)
      result = instruction_error(InstructionErrc::ProgramFailedToComplete);
  }
  auto popped = pop();
  if (!result) {
    popped.ignore();  // the first error is the instruction's
    return result;
  }
  return popped;
}

Expected<void> Transaction::run_system_program(const Instruction& instruction, uint64_t& meter) {
  if (meter < kSystemProgramUnits) {
    meter = 0;
    return instruction_error(InstructionErrc::ComputationalBudgetExceeded);
  }
  meter -= kSystemProgramUnits;
  return system_program(*this, instruction);
}

// The engine is made in the first invocation's context (the syscalls, heap
// and input set up), and runs every later one in that invocation's own.
const Transaction::Prepared& Transaction::prepare(const isa::Program& program, vm::Context& context) {
  if (auto known = prepared_.find(&program); known != prepared_.end()) return known->second;
  Prepared prepared;
  prepared.syscalls = syscalls(program.syscall_keys);
  context.helpers() = prepared.syscalls;
  auto engine = options.engine ? options.engine(program, context) : vm::make_interpreter(program, context);
  if (engine) {
    prepared.engine = std::move(*engine);
  } else {
    prepared.error = engine.error();
  }
  return prepared_.emplace(&program, std::move(prepared)).first->second;
}

Expected<void> Transaction::run_bpf(const isa::Program& program, const Instruction& instruction, uint64_t& meter) {
  auto input = serialize(instruction, accounts, input_format(instruction.program_id));
  if (!input) {
    if (stack_height() == 1) setup_error = input.error();
    return input.error();
  }
  std::vector<uint8_t> region = input->bytes;
  Runtime runtime(*this, instruction, *input);
  vm::Context context(*program.dialect);
  context.set_heap_size(options.heap_size);
  context.map_input(region);
  const Prepared& prepared = prepare(program, context);
  if (!prepared.engine) {
    if (stack_height() == 1) setup_error = prepared.error;
    return instruction_error(InstructionErrc::InvalidAccountData,
                             "the program does not verify: " + prepared.error->message);
  }
  const vm::Engine& engine = *prepared.engine;
  context.output().set_sink([this](std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    logs.log(line);
  });

  // create_vm: the heap's cost, taken before the VM runs and left out of
  // the units the "consumed" line counts (not out of its "of").
  const uint64_t before = meter, heap = heap_cost(options.heap_size);
  if (meter < heap) {
    meter = 0;
    logs.log("Failed to create SBF VM: Computational budget exceeded");
    return instruction_error(InstructionErrc::ProgramEnvironmentSetupFailure);
  }
  meter -= heap;
  context.set_budget(meter);
  bpf_frames.push_back(&runtime);
  vm::RunResult run = engine.run(context, {kInputStart, kInputStart + input->instruction_data_offset, 0, 0, 0});
  bpf_frames.pop_back();
  const uint64_t consumed = std::min(meter, run.compute_units);
  meter -= consumed;
  const std::string id = to_base58(instruction.program_id);
  logs.log("Program " + id + " consumed " + std::to_string(consumed) + " of " + std::to_string(before) +
           " compute units");
  if (!return_data.data.empty()) logs.log("Program return: " + id + " " + to_base64(return_data.data));

  Expected<void> result;
  if (run.error) {
    Error error = *run.error;
    error.message = without_syscall_name(error.message, prepared.syscalls);
    // deplete_cu_meter_on_vm_failure (active on mainnet): a fault of the VM
    // itself, not an error a syscall returned, uses up what is left.
    const bool from_syscall = error.message != run.error->message;
    if (!from_syscall) meter = 0;
    result = error;
  } else if (run.r0 != 0) {
    result = error_from_return_code(run.r0);
  } else {
    result = deserialize(*input, region, instruction, accounts, resize_delta);
  }
  if (stack_height() == 1) top_run = std::move(run);
  return result;
}

Expected<ExecuteResult> execute(const isa::Program& program, const Instruction& instruction,
                                std::vector<Account> accounts, const ExecuteOptions& options) {
  if (program.dialect == nullptr || program.dialect->family != isa::Family::Sbpf)
    return make_error(Errc::Unsupported, "a Solana program is sBPF; this one is not");
  if (!valid_heap_size(options.heap_size))
    return instruction_error(InstructionErrc::InvalidInstructionData,
                             "heap size " + std::to_string(options.heap_size) +
                                 ": a multiple of 1024 from 32768 to 262144 is needed (RequestHeapFrame)");
  for (const InstructionAccount& a : instruction.accounts)
    if (a.index >= accounts.size())
      return instruction_error(InstructionErrc::NotEnoughAccountKeys,
                               "insufficient account keys for instruction: account index " + std::to_string(a.index) +
                                   " of " + std::to_string(accounts.size()));

  const std::vector<Account> before = accounts;  // a failed instruction changes nothing
  Transaction transaction(accounts, options);
  transaction.top_program = &program;
  transaction.top_program_id = instruction.program_id;
  uint64_t meter = options.compute_units;
  auto outcome = transaction.process(instruction, meter);
  if (transaction.setup_error) {
    outcome.ignore();  // the setup error, which execute returns
    return *transaction.setup_error;
  }

  ExecuteResult result;
  result.compute_units = options.compute_units - meter;
  result.return_data = transaction.return_data;
  if (!outcome) result.error = outcome.error();
  result.logs = transaction.logs.take();
  result.run = std::move(transaction.top_run);
  result.accounts = result.error ? before : std::move(accounts);
  return result;
}

}  // namespace bpfkit::solana
