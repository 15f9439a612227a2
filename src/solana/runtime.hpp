// Internal to module solana: one instruction's runtime state, which the
// syscalls of syscalls.cpp read and write, and the table that binds them.
#pragma once

#include "bpfkit/solana.hpp"

namespace bpfkit::solana {

class Runtime {
 public:
  Runtime(const Pubkey& program_id, const ExecuteOptions& options)
      : program_id_(program_id), options_(options), check_aligned_(options.format == InputFormat::Aligned) {}

  // vm's syscalls (logs, memory, abort, panic) and the runtime's, bound to
  // this state, plus a failing stub under every syscall name the runtime
  // knows but bpfkit does not provide and every name in `program_syscalls`
  // that no one provides, so that a call says which one is missing.
  vm::HelperTable syscalls(const std::unordered_map<uint32_t, std::string>& program_syscalls);

  const Pubkey& program_id() const { return program_id_; }
  const ExecuteOptions& options() const { return options_; }
  bool check_aligned() const { return check_aligned_; }
  ReturnData& return_data() { return return_data_; }
  uint64_t& heap_position() { return heap_position_; }

 private:
  Pubkey program_id_;
  ExecuteOptions options_;
  bool check_aligned_;
  ReturnData return_data_;
  uint64_t heap_position_ = 0;  // sol_alloc_free_'s bump pointer
};

}  // namespace bpfkit::solana
