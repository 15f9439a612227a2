// Module solana: what the Solana runtime does around an sBPF program (the
// BPF loader's input serialization and write-back, the runtime's syscalls,
// its logs and results), built on module vm. It runs one instruction of a
// loaded program against accounts, as Agave's BPF loader does, and gives
// what Mollusk or LiteSVM give: logs, compute units, return data, the error
// and the accounts afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::solana {

// ---- Keys and encodings ----------------------------------------------------------

using Pubkey = std::array<uint8_t, 32>;

// Bitcoin's base58 alphabet, as Solana prints keys.
std::string to_base58(std::span<const uint8_t> bytes);
// A base58 string of exactly 32 bytes; an error names what is wrong.
Expected<Pubkey> parse_pubkey(std::string_view text);
std::string to_base64(std::span<const uint8_t> bytes);
Expected<std::vector<uint8_t>> from_base64(std::string_view text);

// ---- Accounts and the instruction ---------------------------------------------

struct Account {
  Pubkey key{};
  Pubkey owner{};
  uint64_t lamports = 0;
  std::vector<uint8_t> data;
  bool executable = false;
  uint64_t rent_epoch = 0;
};

// One account of the instruction: an index into the transaction's accounts
// (two entries with one index are one account passed twice) and its flags.
struct InstructionAccount {
  uint32_t index = 0;
  bool is_signer = false;
  bool is_writable = false;
};

struct Instruction {
  Pubkey program_id{};
  std::vector<InstructionAccount> accounts;
  std::vector<uint8_t> data;
};

// ---- Serialization (the BPF loader's input region) ----------------------------------

inline constexpr uint64_t kMaxPermittedDataIncrease = 10 * 1024;           // MAX_PERMITTED_DATA_INCREASE
inline constexpr uint64_t kMaxPermittedDataLength = 10 * 1024 * 1024;      // MAX_PERMITTED_DATA_LENGTH
inline constexpr uint64_t kMaxAccountsDataAllocations = 20 * 1024 * 1024;  // per transaction
inline constexpr uint64_t kInputStart = uint64_t{4} << 32;                 // MM_INPUT_START
inline constexpr uint8_t kNonDuplicate = 0xff;                             // NON_DUP_MARKER

enum class InputFormat : uint8_t {
  Aligned,    // loaders v2, v3 (upgradeable), v4: 8-byte aligned, 10 KiB realloc space
  Unaligned,  // the deprecated loader (v1): packed, no realloc space
};

// The format a program owned by `loader` gets (serialize_parameters:
// BPFLoader1111... is the deprecated loader's, unaligned; every other
// loader's is aligned).
InputFormat input_format_of_loader(const Pubkey& loader);

// Where each instruction account's fields lie in the serialized bytes.
struct SerializedAccount {
  uint32_t index = 0;            // transaction account
  bool duplicate = false;        // a repeat: written back through its first occurrence
  uint64_t lamports_offset = 0;  // u64
  uint64_t data_len_offset = 0;  // u64
  uint64_t data_offset = 0;      // the data (then the realloc space, aligned format)
  uint64_t owner_offset = 0;     // 32 bytes
  uint64_t original_length = 0;  // data length when serialized
};

struct SerializedInput {
  InputFormat format = InputFormat::Aligned;
  std::vector<uint8_t> bytes;               // mapped at kInputStart; r1 points at it
  uint64_t instruction_data_offset = 0;     // r2 = kInputStart + this (the instruction data)
  std::vector<SerializedAccount> accounts;  // one per instruction account
};

// Lays the instruction and its accounts out as Agave's serialize_parameters
// does. Fails (NotEnoughAccountKeys) on an index past `accounts`.
Expected<SerializedInput> serialize(const Instruction& instruction, const std::vector<Account>& accounts,
                                    InputFormat format = InputFormat::Aligned);

// After a successful run: copies lamports, data (length within the realloc
// limit) and owner (last) back into `accounts` with the runtime's checks
// (BorrowedAccount::set_lamports, can_data_be_resized/changed, set_owner),
// then checks that the instruction's lamports balance. The error's detail
// is the InstructionError (ReadonlyLamportChange, ReadonlyDataModified,
// ExternalAccountDataModified, ExternalAccountLamportSpend,
// AccountDataSizeChanged, InvalidRealloc, ModifiedProgramId,
// ExecutableDataModified, ExecutableLamportChange, UnbalancedInstruction).
// Accounts are changed only as far as the checks went, as in the runtime.
Expected<void> deserialize(const SerializedInput& input, std::span<const uint8_t> bytes, const Instruction& instruction,
                           std::vector<Account>& accounts);

// ---- Errors ----------------------------------------------------------------------------

// An InstructionError; Custom(n) carries n in the message ("custom program
// error: 0x2a").
Error instruction_error(InstructionErrc code, std::string detail = {});
// What a non-zero r0 means (InstructionError's From<u64>): n << 32 for the
// built-in errors, 1 << 32 for Custom(0), anything below 1 << 32 Custom(n),
// any other value InvalidError.
Error error_from_return_code(uint64_t r0);
// Custom(n) as the runtime's text: "custom program error: 0x2a".
std::string custom_error_text(uint32_t code);

// ---- Sysvars ---------------------------------------------------------------------------

struct Clock {
  uint64_t slot = 0;
  int64_t epoch_start_timestamp = 0;
  uint64_t epoch = 0;
  uint64_t leader_schedule_epoch = 0;
  int64_t unix_timestamp = 0;
};
struct Rent {
  uint64_t lamports_per_byte_year = 3480;
  double exemption_threshold = 2.0;
  uint8_t burn_percent = 50;
};
struct EpochSchedule {  // EpochSchedule::default(): 432,000 slots, warmup on
  uint64_t slots_per_epoch = 432'000;
  uint64_t leader_schedule_slot_offset = 432'000;
  bool warmup = true;
  uint64_t first_normal_epoch = 14;
  uint64_t first_normal_slot = 524'256;
};
struct EpochRewards {  // C layout (repr(C, align(16))): 96 bytes
  uint64_t distribution_starting_block_height = 0;
  uint64_t num_partitions = 0;
  std::array<uint8_t, 32> parent_blockhash{};
  unsigned __int128 total_points = 0;
  uint64_t total_rewards = 0;
  uint64_t distributed_rewards = 0;
  bool active = false;
};
// SlotHashes and StakeHistory hold at most 512 entries, newest first, in
// an account of fixed size (SlotHashes::size_of, StakeHistory::size_of):
// the count, the entries, zeros.
inline constexpr size_t kMaxSysvarEntries = 512;
inline constexpr uint64_t kSlotHashesSize = 8 + kMaxSysvarEntries * 40;    // 20,488
inline constexpr uint64_t kStakeHistorySize = 8 + kMaxSysvarEntries * 32;  // 16,392
struct SlotHash {
  uint64_t slot = 0;
  std::array<uint8_t, 32> hash{};
};
struct StakeHistoryEntry {
  uint64_t epoch = 0;
  uint64_t effective = 0;
  uint64_t activating = 0;
  uint64_t deactivating = 0;
};
struct Sysvars {
  Clock clock;
  Rent rent;
  EpochSchedule epoch_schedule;
  EpochRewards epoch_rewards;
  uint64_t last_restart_slot = 0;
  // Empty by default, as at the default clock's slot 0 and epoch 0 (no
  // earlier slot or epoch); past 512 entries the rest is left out.
  std::vector<SlotHash> slot_hashes;
  std::vector<StakeHistoryEntry> stake_history;
  // sol_get_epoch_stake: the cluster's total active stake, and each vote
  // account's (0 for any other address).
  uint64_t total_epoch_stake = 0;
  std::vector<std::pair<Pubkey, uint64_t>> vote_account_stakes;
};

// The sysvars as the sysvar cache holds them (their accounts' data, what
// sol_get_sysvar reads: bincode, SlotHashes and StakeHistory zero-filled
// to their fixed size): clock, rent, epoch schedule, epoch rewards, slot
// hashes, stake history, last restart slot; empty for any other id.
std::vector<uint8_t> sysvar_bytes(const Sysvars& sysvars, const Pubkey& id);

// ---- Running an instruction --------------------------------------------------------

inline constexpr uint64_t kDefaultComputeUnits = 200'000;  // per instruction
// The heap a transaction may ask for (ComputeBudget's RequestHeapFrame): a
// multiple of 1 KiB from 32 KiB to 256 KiB. Every program invocation pays
// 8 units for each 32 KiB past the first (calculate_heap_cost).
inline constexpr uint64_t kMinHeapSize = 32 * 1024, kMaxHeapSize = 256 * 1024;
bool valid_heap_size(uint64_t bytes);
uint64_t heap_cost(uint64_t bytes);
inline constexpr uint64_t kMaxReturnData = 1024;  // MAX_RETURN_DATA

// Prepares the engine that runs a program (the transaction's program or a
// CPI callee) in `context`, whose syscalls, heap and input the runtime has
// set up for its first invocation; `execute` asks once per program and
// runs every invocation of it on that engine, each in its own context. An
// engine's errors for a program it refuses are the verifier's, as
// vm::make_interpreter's are.
using EngineFactory =
    std::function<Expected<std::unique_ptr<vm::Engine>>(const isa::Program& program, const vm::Context& context)>;

struct ExecuteOptions {
  uint64_t compute_units = kDefaultComputeUnits;
  // The input format of the transaction instruction's program. Unset: as
  // for every invoked program, its loader's (the owner of the program's
  // account among the transaction's accounts, input_format_of_loader), and
  // aligned when the transaction has no such account.
  std::optional<InputFormat> format;
  uint64_t heap_size = vm::kDefaultHeapSize;  // valid_heap_size, else execute fails (InvalidInstructionData)
  Sysvars sysvars;
  // Programs a cross-program invocation may call, by id (besides the
  // built-in System Program and the instruction's own program).
  std::vector<std::pair<Pubkey, std::shared_ptr<const isa::Program>>> programs;
  // SIMD-0339's CPI costs and limit: 946 units an invoke, account metas and
  // account infos charged by size, 255 account infos. Off: 1,000 units, no
  // such charges, 64 account infos (mainnet-beta's features today).
  bool simd_0339 = false;
  // What runs each BPF program, at every depth; empty: vm::make_interpreter.
  // The runtime's logs, compute units, errors and accounts are the engine's
  // to match (jit::make_jit does: `bpfkit run --engine jit`).
  EngineFactory engine;
};

struct ReturnData {
  Pubkey program_id{};
  std::vector<uint8_t> data;
};

struct ExecuteResult {
  // The runtime's log, one message a line, as the LogCollector keeps it
  // (10,000 bytes, then "Log truncated"): "Program <id> invoke [1]", the
  // program's own lines, "Program <id> consumed U of A compute units",
  // "Program return: <id> <base64>", "Program <id> success" or "... failed: <error>".
  std::vector<std::string> logs;
  uint64_t compute_units = 0;     // consumed
  ReturnData return_data;         // data empty: none
  std::optional<Error> error;     // InstructionError (write-back, r0) or the VM's error (fault, syscall)
  std::vector<Account> accounts;  // after the run; as they were if the instruction failed (what CPI changed too)
  vm::RunResult run;              // the VM's result: r0, registers, counts
};

// One BPF invocation's state, which the runtime's syscalls (beyond vm's
// memory, log and abort ones) work on; `execute` registers them.
class Runtime;

// Runs `program` (an sBPF program, e.g. from elf::sbpf::load_program) on
// `instruction` against `accounts` (the transaction's accounts). Fails only
// where the program cannot be prepared (the verifier's errors) or the input
// cannot be built; everything the program does is in the result.
Expected<ExecuteResult> execute(const isa::Program& program, const Instruction& instruction,
                                std::vector<Account> accounts, const ExecuteOptions& options = {});

// The names of the syscalls `execute` provides (for the loader's
// LoaderConfig::syscalls: relocations against them resolve).
std::vector<std::string> syscall_names();

// ---- Pieces, exposed for tests and embedders -------------------------------------------

// Pubkey::create_program_address: sha256(seeds..., program_id,
// "ProgramDerivedAddress"), refused (nullopt) on the ed25519 curve.
std::optional<Pubkey> create_program_address(std::span<const std::span<const uint8_t>> seeds, const Pubkey& program_id);
// Whether 32 bytes decompress to a point of edwards25519 (curve25519-dalek's
// CompressedEdwardsY::decompress succeeds).
bool is_on_curve(const Pubkey& bytes);
std::array<uint8_t, 32> sha256(std::span<const std::span<const uint8_t>> parts);
std::array<uint8_t, 32> keccak256(std::span<const std::span<const uint8_t>> parts);
std::array<uint8_t, 32> blake3(std::span<const std::span<const uint8_t>> parts);
// The 64-byte public key (x, y) that signed `hash` with the signature (r,
// s) and recovery id (0-3), as libsecp256k1's recover gives it; the error's
// message is Secp256k1RecoverError's name (InvalidRecoveryId,
// InvalidSignature).
Expected<std::array<uint8_t, 64>> secp256k1_recover(std::span<const uint8_t, 32> hash, uint64_t recovery_id,
                                                    std::span<const uint8_t, 64> signature);

}  // namespace bpfkit::solana
