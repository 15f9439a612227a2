// `bpfkit run` on a Solana program: accounts from JSON, instruction data,
// program id, then solana::execute and its logs, compute units, return
// data, error and accounts, human or --json.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bpfkit/solana.hpp"
#include "report.hpp"

namespace bpfkit::cli {

struct SolanaRunOptions {
  std::string file;  // names the program in errors
  std::string accounts_file;
  std::string instruction_data;  // hex, or @FILE
  std::string program_id;        // base58; empty: derived from the file
  std::string sysvars_file;      // JSON; empty: the defaults
  bool unaligned = false;
  bool simd_0339 = false;
  uint64_t compute_units = solana::kDefaultComputeUnits;
  uint64_t heap_size = solana::kMinHeapSize;  // --heap-size
  bool jit = false;                           // --engine jit: every program, CPI callees too, runs on the JIT
  bool harden = false;                        // --harden: with jit, constants blinded
  // Programs a cross-program invocation may call (--program ID=FILE).
  std::vector<std::pair<solana::Pubkey, std::shared_ptr<const isa::Program>>> programs;
};

// The accounts file: a JSON array (or {"accounts": [...]}) of {"key",
// "owner", "lamports", "data" (base64, or ["...", "base64"|"hex"] as the
// RPC prints it), "executable", "rent_epoch", "is_signer", "is_writable"};
// an entry whose key repeats an earlier one is that account again.
struct AccountsInput {
  std::vector<solana::Account> accounts;                // the transaction's, unique
  std::vector<solana::InstructionAccount> instruction;  // one per entry
};
Expected<AccountsInput> parse_accounts(std::string_view json, const std::string& name);

// The sysvars file: {"clock": {"slot", "epoch_start_timestamp", "epoch",
// "leader_schedule_epoch", "unix_timestamp"}, "rent": {"lamports_per_byte_year",
// "exemption_threshold", "burn_percent"}, "epoch_schedule": {"slots_per_epoch",
// "leader_schedule_slot_offset", "warmup", "first_normal_epoch",
// "first_normal_slot"}, "epoch_rewards": {"distribution_starting_block_height",
// "num_partitions", "parent_blockhash" (base58), "total_points" (a number or
// a decimal string), "total_rewards", "distributed_rewards", "active"},
// "last_restart_slot": N, "slot_hashes": [{"slot",
// "hash" (base58)}, ...], "stake_history": [{"epoch", "effective",
// "activating", "deactivating"}, ...] (newest first, at most 512 each),
// "epoch_stake": {"total": N, "vote_accounts": {"<base58>": N}}}; fields
// left out keep their defaults.
Expected<solana::Sysvars> parse_sysvars(std::string_view json, const std::string& name);

// Runs `program` as the Solana runtime would and prints the result; returns
// the exit status (1 when the instruction failed).
int run_solana(const isa::Program& program, const std::vector<uint8_t>& file_bytes, const SolanaRunOptions& options,
               Printer& printer);

}  // namespace bpfkit::cli
