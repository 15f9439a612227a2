// Internal to module solana: the transaction's state (accounts, programs,
// log, return data, instruction trace and stack) that every instruction of
// one `execute` shares, one BPF invocation's state (Runtime), which the
// syscalls of syscalls.cpp and cpi.cpp read and write, and the accounts'
// write rules (BorrowedAccount) that serialize.cpp, cpi.cpp and the System
// Program share.
#pragma once

#include <map>

#include "bpfkit/solana.hpp"

namespace bpfkit::solana {

// solana_svm_log_collector::LogCollector: messages until their bytes would
// reach 10,000, then one "Log truncated".
class LogCollector {
 public:
  void log(std::string_view message);
  std::vector<std::string> take() { return std::move(messages_); }

 private:
  std::vector<std::string> messages_;
  uint64_t bytes_ = 0;
  bool truncated_ = false;
};

// The flags of a transaction account as one instruction grants them: any
// occurrence that is a signer (writable) makes it one.
struct Flags {
  bool is_signer = false, is_writable = false;
};
Flags merged_flags(const Instruction& instruction, uint32_t index);
// The position of the first instruction account with the same index as
// position `i`, or `i` itself.
size_t first_occurrence(const Instruction& instruction, size_t i);
// The lamports of the instruction's accounts, each counted once.
unsigned __int128 lamports_sum(const Instruction& instruction, const std::vector<Account>& accounts);

// One account as the running instruction may change it, with the runtime's
// checks (solana_transaction_context::BorrowedAccount). `resize_delta` is
// the transaction's running total of data growth.
class Borrowed {
 public:
  Borrowed(Account& account, const Pubkey& program_id, Flags flags, int64_t& resize_delta)
      : account_(account), program_id_(program_id), flags_(flags), resize_delta_(resize_delta) {}

  const Account& account() const { return account_; }
  Expected<void> set_lamports(uint64_t lamports);
  Expected<void> add_lamports(uint64_t lamports);  // checked_add_lamports
  Expected<void> sub_lamports(uint64_t lamports);  // checked_sub_lamports
  // can_data_be_resized, then can_data_be_changed; an error counts only
  // when the bytes differ (what the loader's write-back and CPI do).
  Expected<void> set_data(std::span<const uint8_t> data);
  Expected<void> set_data_length(uint64_t length);  // zero-filled growth
  Expected<void> set_owner(const Pubkey& owner);

 private:
  bool owned() const { return account_.owner == program_id_; }
  Expected<void> can_resize(uint64_t length) const;
  Expected<void> can_change() const;

  Account& account_;
  const Pubkey& program_id_;
  Flags flags_;
  int64_t& resize_delta_;
};

// deserialize with the transaction's running data growth.
Expected<void> deserialize(const SerializedInput& input, std::span<const uint8_t> bytes, const Instruction& instruction,
                           std::vector<Account>& accounts, int64_t& resize_delta);

// One instruction of the instruction trace: its stack height (1 for the
// transaction's instruction) and the instruction, accounts by transaction
// index (what sol_get_processed_sibling_instruction reads).
struct TraceEntry {
  uint64_t stack_height = 0;
  Instruction instruction;
};

class Runtime;

// What one `execute` shares across the instructions it runs (Agave's
// TransactionContext and InvokeContext).
class Transaction {
 public:
  static constexpr uint64_t kMaxStackDepth = 5;         // max_instruction_stack_depth
  static constexpr uint64_t kMaxTraceLength = 64;       // MAX_INSTRUCTION_TRACE_LENGTH
  static constexpr uint64_t kSystemProgramUnits = 150;  // system_processor DEFAULT_COMPUTE_UNITS

  Transaction(std::vector<Account>& accounts, const ExecuteOptions& options);

  // InvokeContext::process_instruction: the depth, reentrancy, trace and
  // balance checks, then the program (a BPF program in a nested VM, or the
  // System Program) with `meter` units left, which it takes from.
  Expected<void> process(const Instruction& instruction, uint64_t& meter);

  std::vector<Account>& accounts;
  const ExecuteOptions& options;
  LogCollector logs;
  ReturnData return_data;
  std::vector<TraceEntry> trace;
  std::vector<Runtime*> bpf_frames;  // the BPF programs on the stack, innermost last
  // vm's syscalls (logs, memory, abort, panic) and the runtime's, each
  // running against the innermost BPF frame (bpf_frames.back()), plus a
  // failing stub under every syscall name the runtime knows but bpfkit
  // does not provide and every name in `program_syscalls` that no one
  // provides, so that a call says which one is missing.
  vm::HelperTable syscalls(const std::unordered_map<uint32_t, std::string>& program_syscalls);
  int64_t resize_delta = 0;
  const isa::Program* top_program = nullptr;  // the transaction instruction's program
  Pubkey top_program_id{};
  std::optional<Error> setup_error;  // the transaction instruction's program could not be prepared
  vm::RunResult top_run;             // the transaction instruction's VM run
  uint64_t stack_height() const { return stack_.size(); }
  const Instruction& current() const { return *stack_.back(); }
  // The transaction index of `key`; nullopt if the transaction has no such account.
  std::optional<uint32_t> find_account(const Pubkey& key) const;
  const isa::Program* program(const Pubkey& id) const;
  // The input format the program `id` gets: its loader's, as Agave's
  // serialize_parameters picks it from the program account's owner.
  InputFormat input_format(const Pubkey& id) const;

 private:
  Expected<void> push(const Instruction& instruction);
  Expected<void> pop();
  Expected<void> run_bpf(const isa::Program& program, const Instruction& instruction, uint64_t& meter);
  Expected<void> run_system_program(const Instruction& instruction, uint64_t& meter);

  // A program as the engine prepared it, once per transaction: every
  // invocation of it (a CPI callee called again, a program invoking
  // itself) runs on that engine, which is why the syscalls find their
  // invocation through bpf_frames rather than being bound to one.
  struct Prepared {
    vm::HelperTable syscalls;
    std::unique_ptr<vm::Engine> engine;  // null when preparing failed
    std::optional<Error> error;
  };
  const Prepared& prepare(const isa::Program& program, vm::Context& context);
  std::map<const isa::Program*, Prepared> prepared_;

  std::vector<const Instruction*> stack_;
  std::vector<unsigned __int128> stack_sums_;  // each frame's lamports at push
};

// One BPF program's invocation: its instruction, its input region and the
// state its syscalls keep.
class Runtime {
 public:
  Runtime(Transaction& transaction, const Instruction& instruction, SerializedInput& input)
      : transaction_(transaction),
        instruction_(instruction),
        input_(input),
        check_aligned_(input.format == InputFormat::Aligned) {}

  Transaction& transaction() { return transaction_; }
  const Instruction& instruction() const { return instruction_; }
  const Pubkey& program_id() const { return instruction_.program_id; }
  const ExecuteOptions& options() const { return transaction_.options; }
  bool check_aligned() const { return check_aligned_; }
  SerializedInput& input() { return input_; }
  ReturnData& return_data() { return transaction_.return_data; }
  uint64_t& heap_position() { return heap_position_; }

 private:
  Transaction& transaction_;
  const Instruction& instruction_;
  SerializedInput& input_;
  bool check_aligned_;
  uint64_t heap_position_ = 0;  // sol_alloc_free_'s bump pointer
};

// ---- Shared by the syscall files ------------------------------------------------------

Error vm_error(SbpfVmErrc detail, std::string message);
Expected<void> charge(vm::HelperCall& call, uint64_t units);
// translate_slice / translate_type: [addr, addr + n), `align` checked where
// the loader checks alignment. A zero-length slice is never translated.
Expected<uint8_t*> guest(const Runtime& runtime, const vm::HelperCall& call, uint64_t addr, uint64_t n, bool write,
                         uint64_t align = 1);
uint64_t load_u64(const uint8_t* p);
void store_u64(uint8_t* p, uint64_t v);

// sol_invoke_signed_c and sol_invoke_signed_rust (cpi.cpp).
Expected<uint64_t> invoke_signed_c(Runtime& runtime, vm::HelperCall& call);
Expected<uint64_t> invoke_signed_rust(Runtime& runtime, vm::HelperCall& call);

// The System Program (system_program.cpp): runs `instruction`, whose
// accounts the transaction's current frame holds.
Expected<void> system_program(Transaction& transaction, const Instruction& instruction);

extern const Pubkey kSystemProgramId;  // 11111111111111111111111111111111

}  // namespace bpfkit::solana
