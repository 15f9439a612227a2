// Cross-program invocation: sol_invoke_signed_c and sol_invoke_signed_rust
// as Agave's syscalls/cpi.rs runs them without direct mapping (the
// caller's account data is copied in and out of its input region): the
// instruction and account infos translated from the caller's memory in the
// C or the Rust layout, the size limits, the signers from PDA seeds,
// InvokeContext::prepare_instruction's privilege checks, the caller's
// changes synced into the transaction's accounts (update_callee_account),
// the callee run on the shared meter, and its changes synced back into the
// caller's memory (update_caller_account).
#include <cstring>

#include "runtime.hpp"

namespace bpfkit::solana {

namespace {

using vm::HelperCall;

constexpr uint64_t kInvokeUnits = 1000, kInvokeUnitsSimd339 = 946;
constexpr uint64_t kCpiBytesPerUnit = 250;
constexpr uint64_t kMaxDataLength = 10 * 1024;  // MAX_CPI_INSTRUCTION_DATA_LEN
constexpr uint64_t kMaxAccounts = 255;          // MAX_CPI_INSTRUCTION_ACCOUNTS
constexpr uint64_t kMaxAccountInfos = 64, kMaxAccountInfosSimd339 = 255;
constexpr uint64_t kMaxSigners = 16, kMaxSeeds = 16, kMaxSeedLength = 32;
constexpr uint64_t kAccountMetaSize = 34;      // Rust AccountMeta: pubkey, is_signer, is_writable
constexpr uint64_t kAccountInfoCostSize = 80;  // SIMD-0339: key, owner, lamports, data length

struct Meta {
  Pubkey key{};
  bool is_signer = false, is_writable = false;
};

struct CpiInstruction {
  Pubkey program_id{};
  std::vector<Meta> accounts;
  std::vector<uint8_t> data;
};

// Where the caller keeps one account (CallerAccount): host pointers into
// its memory, and the data's guest address.
struct CallerAccount {
  uint8_t* lamports = nullptr;     // u64
  uint8_t* owner = nullptr;        // 32 bytes
  uint64_t original_data_len = 0;  // at the caller's serialization
  uint8_t* serialized_data = nullptr;
  uint64_t serialized_len = 0;
  uint64_t data_addr = 0;           // guest address of the data
  uint8_t* length_in_vm = nullptr;  // u64: the account info's data length
};

Error syscall_error(SbpfVmErrc detail, std::string message) { return vm_error(detail, std::move(message)); }

Pubkey read_key(const uint8_t* p) {
  Pubkey key;
  std::memcpy(key.data(), p, 32);
  return key;
}

Expected<uint8_t*> slice(const Runtime& runtime, const HelperCall& call, uint64_t addr, uint64_t count, uint64_t size,
                         bool write, uint64_t align) {
  if (count != 0 && size > static_cast<uint64_t>(INT64_MAX) / count)
    return syscall_error(SbpfVmErrc::InvalidLength, "InvalidLength");
  return guest(runtime, call, addr, count * size, write, align);
}

Expected<void> check_instruction_size(uint64_t accounts, uint64_t data_length) {
  if (data_length > kMaxDataLength)
    return syscall_error(SbpfVmErrc::MaxInstructionDataLenExceeded,
                         "Invoked an instruction with data that is too large (" + std::to_string(data_length) + " > " +
                             std::to_string(kMaxDataLength) + ")");
  if (accounts > kMaxAccounts)
    return syscall_error(SbpfVmErrc::MaxInstructionAccountsExceeded, "Invoked an instruction with too many accounts (" +
                                                                         std::to_string(accounts) + " > " +
                                                                         std::to_string(kMaxAccounts) + ")");
  return {};
}

// translate_instruction's charge: the data (and, with SIMD-0339, the metas) by size.
Expected<void> charge_instruction(const Runtime& runtime, HelperCall& call, uint64_t accounts, uint64_t data_length) {
  uint64_t units = data_length / kCpiBytesPerUnit;
  if (runtime.options().simd_0339) units += accounts * kAccountMetaSize / kCpiBytesPerUnit;
  return charge(call, units);
}

// StableInstruction: accounts (ptr, cap, len), data (ptr, cap, len), program id.
Expected<CpiInstruction> translate_rust_instruction(Runtime& runtime, HelperCall& call, uint64_t addr) {
  auto ix = guest(runtime, call, addr, 80, false, 8);
  if (!ix) return ix.error();
  const uint64_t metas_addr = load_u64(*ix), metas_len = load_u64(*ix + 16);
  const uint64_t data_addr = load_u64(*ix + 24), data_len = load_u64(*ix + 40);
  auto metas = slice(runtime, call, metas_addr, metas_len, kAccountMetaSize, false, 1);
  if (!metas) return metas.error();
  auto data = slice(runtime, call, data_addr, data_len, 1, false, 1);
  if (!data) return data.error();
  if (auto ok = check_instruction_size(metas_len, data_len); !ok) return ok.error();
  if (auto ok = charge_instruction(runtime, call, metas_len, data_len); !ok) return ok.error();
  CpiInstruction out;
  out.program_id = read_key(*ix + 48);
  out.data.assign(*data, *data + data_len);
  for (uint64_t i = 0; i < metas_len; ++i) {
    const uint8_t* meta = *metas + i * kAccountMetaSize;
    if (meta[32] > 1 || meta[33] > 1) return instruction_error(InstructionErrc::InvalidArgument);
    out.accounts.push_back({read_key(meta), meta[32] != 0, meta[33] != 0});
  }
  return out;
}

// SolInstruction: program_id_addr, accounts_addr, accounts_len, data_addr,
// data_len; SolAccountMeta: pubkey_addr, is_writable, is_signer (16 bytes).
Expected<CpiInstruction> translate_c_instruction(Runtime& runtime, HelperCall& call, uint64_t addr) {
  auto ix = guest(runtime, call, addr, 40, false, 8);
  if (!ix) return ix.error();
  const uint64_t metas_len = load_u64(*ix + 16), data_len = load_u64(*ix + 32);
  auto program_id = guest(runtime, call, load_u64(*ix), 32, false);
  if (!program_id) return program_id.error();
  auto metas = slice(runtime, call, load_u64(*ix + 8), metas_len, 16, false, 8);
  if (!metas) return metas.error();
  auto data = slice(runtime, call, load_u64(*ix + 24), data_len, 1, false, 1);
  if (!data) return data.error();
  if (auto ok = check_instruction_size(metas_len, data_len); !ok) return ok.error();
  if (auto ok = charge_instruction(runtime, call, metas_len, data_len); !ok) return ok.error();
  CpiInstruction out;
  out.program_id = read_key(*program_id);
  out.data.assign(*data, *data + data_len);
  for (uint64_t i = 0; i < metas_len; ++i) {
    const uint8_t* meta = *metas + i * 16;
    if (meta[8] > 1 || meta[9] > 1) return instruction_error(InstructionErrc::InvalidArgument);
    auto key = guest(runtime, call, load_u64(meta), 32, false);
    if (!key) return key.error();
    out.accounts.push_back({read_key(*key), meta[9] != 0, meta[8] != 0});
  }
  return out;
}

// Signer seeds, one layout for both ABIs: an array of (address, length)
// signers, each an array of (address, length) seeds.
Expected<std::vector<Pubkey>> translate_signers(Runtime& runtime, HelperCall& call, uint64_t addr, uint64_t count) {
  std::vector<Pubkey> signers;
  if (count == 0) return signers;
  auto table = slice(runtime, call, addr, count, 16, false, 8);
  if (!table) return table.error();
  if (count > kMaxSigners) return syscall_error(SbpfVmErrc::TooManySigners, "Too many signers");
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t seeds_len = load_u64(*table + i * 16 + 8);
    auto seeds_table = slice(runtime, call, load_u64(*table + i * 16), seeds_len, 16, false, 8);
    if (!seeds_table) return seeds_table.error();
    if (seeds_len > kMaxSeeds) return instruction_error(InstructionErrc::MaxSeedLengthExceeded);
    std::vector<std::span<const uint8_t>> seeds;
    for (uint64_t k = 0; k < seeds_len; ++k) {
      const uint64_t length = load_u64(*seeds_table + k * 16 + 8);
      auto bytes = guest(runtime, call, load_u64(*seeds_table + k * 16), length, false);
      if (!bytes) return bytes.error();
      seeds.emplace_back(*bytes, length);
    }
    const std::string prefix = "Could not create program address with signer seeds: ";
    for (std::span<const uint8_t> seed : seeds)
      if (seed.size() > kMaxSeedLength)
        return syscall_error(SbpfVmErrc::BadSeeds, prefix + "Length of the seed is too long for address generation");
    auto address = create_program_address(seeds, runtime.program_id());
    if (!address)
      return syscall_error(SbpfVmErrc::BadSeeds, prefix + "Provided seeds do not result in a valid address");
    signers.push_back(*address);
  }
  return signers;
}

// InvokeContext::prepare_instruction: each account found by key among the
// caller's, duplicates merged, no privilege the caller lacks unless a PDA
// of the caller signs; the callee must be a program the transaction has.
Expected<Instruction> prepare_instruction(Runtime& runtime, const CpiInstruction& ix,
                                          const std::vector<Pubkey>& signers) {
  Transaction& transaction = runtime.transaction();
  const Instruction& caller = runtime.instruction();
  Instruction callee;
  callee.program_id = ix.program_id;
  callee.data = ix.data;
  for (const Meta& meta : ix.accounts) {
    std::optional<uint32_t> index = transaction.find_account(meta.key);
    bool in_caller = false;
    if (index)
      for (const InstructionAccount& a : caller.accounts) in_caller |= a.index == *index;
    if (!in_caller) {
      transaction.logs.log("Instruction references an unknown account " + to_base58(meta.key));
      return instruction_error(InstructionErrc::MissingAccount);
    }
    callee.accounts.push_back({*index, meta.is_signer, meta.is_writable});
  }
  for (size_t i = 0; i < callee.accounts.size(); ++i) {
    if (first_occurrence(callee, i) != i) continue;
    const uint32_t index = callee.accounts[i].index;
    const Flags wanted = merged_flags(callee, index), granted = merged_flags(caller, index);
    const Pubkey& key = transaction.accounts[index].key;
    if (wanted.is_writable && !granted.is_writable) {
      transaction.logs.log(to_base58(key) + "'s writable privilege escalated");
      return instruction_error(InstructionErrc::PrivilegeEscalation);
    }
    const bool pda_signed = std::find(signers.begin(), signers.end(), key) != signers.end();
    if (wanted.is_signer && !granted.is_signer && !pda_signed) {
      transaction.logs.log(to_base58(key) + "'s signer privilege escalated");
      return instruction_error(InstructionErrc::PrivilegeEscalation);
    }
  }
  // Each occurrence carries the merged flags, as the runtime's InstructionAccount does.
  for (InstructionAccount& a : callee.accounts) {
    const Flags merged = merged_flags(callee, a.index);
    a.is_signer = merged.is_signer;
    a.is_writable = merged.is_writable;
  }
  if (ix.program_id != kSystemProgramId && transaction.program(ix.program_id) == nullptr &&
      !transaction.find_account(ix.program_id)) {
    transaction.logs.log("Unknown program " + to_base58(ix.program_id));
    return instruction_error(InstructionErrc::MissingAccount);
  }
  return callee;
}

// check_authorized_program: the loaders, the native loader and the
// precompiles cannot be invoked (bpfkit runs no loader instruction at all).
Expected<void> check_authorized_program(const Pubkey& id) {
  static const char* const kRefused[] = {
      "NativeLoader1111111111111111111111111111111", "BPFLoader1111111111111111111111111111111111",
      "BPFLoader2111111111111111111111111111111111", "BPFLoaderUpgradeab1e11111111111111111111111",
      "KeccakSecp256k11111111111111111111111111111", "Ed25519SigVerify111111111111111111111111111",
      "Secp256r1SigVerify1111111111111111111111111"};
  const std::string name = to_base58(id);
  for (const char* refused : kRefused)
    if (name == refused)
      return syscall_error(SbpfVmErrc::ProgramNotSupported, "Program " + name + " not supported by inner instructions");
  return {};
}

// The account infos' layouts: where the key, lamports, owner and data are.
struct Abi {
  uint64_t info_size;
  uint64_t (*key_addr)(const uint8_t* info);
  Expected<CallerAccount> (*caller_account)(Runtime&, HelperCall&, uint64_t info_addr, const uint8_t* info);
};

// AccountInfo (48 bytes): key, lamports Rc<RefCell<&mut u64>>, data
// Rc<RefCell<&mut [u8]>>, owner, rent_epoch, flags. An Rc points at its
// box (strong, weak, RefCell borrow flag, value): the value is 24 bytes in.
Expected<CallerAccount> rust_caller_account(Runtime& runtime, HelperCall& call, uint64_t, const uint8_t* info) {
  CallerAccount out;
  auto lamports_ref = guest(runtime, call, load_u64(info + 8) + 24, 8, false, 8);
  if (!lamports_ref) return lamports_ref.error();
  auto lamports = guest(runtime, call, load_u64(*lamports_ref), 8, true, 8);
  if (!lamports) return lamports.error();
  out.lamports = *lamports;
  auto owner = guest(runtime, call, load_u64(info + 24), 32, true);
  if (!owner) return owner.error();
  out.owner = *owner;
  const uint64_t data_box = load_u64(info + 16);
  auto data_ref = guest(runtime, call, data_box + 24, 16, false, 8);
  if (!data_ref) return data_ref.error();
  out.data_addr = load_u64(*data_ref);
  out.serialized_len = load_u64(*data_ref + 8);
  if (auto ok = charge(call, out.serialized_len / kCpiBytesPerUnit); !ok) return ok.error();
  auto length = guest(runtime, call, data_box + 32, 8, true);
  if (!length) return length.error();
  out.length_in_vm = *length;
  auto data = guest(runtime, call, out.data_addr, out.serialized_len, true);
  if (!data) return data.error();
  out.serialized_data = *data;
  return out;
}

// SolAccountInfo (56 bytes): key_addr, lamports_addr, data_len, data_addr,
// owner_addr, rent_epoch, flags.
Expected<CallerAccount> c_caller_account(Runtime& runtime, HelperCall& call, uint64_t info_addr, const uint8_t* info) {
  CallerAccount out;
  auto lamports = guest(runtime, call, load_u64(info + 8), 8, true, 8);
  if (!lamports) return lamports.error();
  out.lamports = *lamports;
  auto owner = guest(runtime, call, load_u64(info + 32), 32, true);
  if (!owner) return owner.error();
  out.owner = *owner;
  out.serialized_len = load_u64(info + 16);
  out.data_addr = load_u64(info + 24);
  if (auto ok = charge(call, out.serialized_len / kCpiBytesPerUnit); !ok) return ok.error();
  auto data = guest(runtime, call, out.data_addr, out.serialized_len, true);
  if (!data) return data.error();
  out.serialized_data = *data;
  auto length = guest(runtime, call, info_addr + 16, 8, true);
  if (!length) return length.error();
  out.length_in_vm = *length;
  return out;
}

constexpr Abi kRustAbi{48, [](const uint8_t* info) { return load_u64(info); }, rust_caller_account};
constexpr Abi kCAbi{56, [](const uint8_t* info) { return load_u64(info); }, c_caller_account};

// update_callee_account: the caller's lamports, data and owner (last) into
// the transaction's account, under the caller's privileges.
Expected<void> update_callee(Runtime& runtime, const CallerAccount& caller, uint32_t index) {
  Transaction& transaction = runtime.transaction();
  Borrowed account(transaction.accounts[index], runtime.program_id(), merged_flags(runtime.instruction(), index),
                   transaction.resize_delta);
  const uint64_t lamports = load_u64(caller.lamports);
  if (lamports != account.account().lamports)
    if (auto ok = account.set_lamports(lamports); !ok) return ok;
  if (auto ok = account.set_data({caller.serialized_data, caller.serialized_len}); !ok) return ok;
  const Pubkey owner = read_key(caller.owner);
  if (owner != account.account().owner)
    if (auto ok = account.set_owner(owner); !ok) return ok;
  return {};
}

// update_caller_account: the account after the callee, back into the
// caller's memory: lamports, owner, a new data length (within the 10 KiB
// realloc limit; both the account info's and the serialized length) and
// the data, the bytes it no longer covers zeroed.
Expected<void> update_caller(Runtime& runtime, HelperCall& call, CallerAccount& caller, const Account& account) {
  store_u64(caller.lamports, account.lamports);
  std::memcpy(caller.owner, account.owner.data(), 32);
  const uint64_t previous = load_u64(caller.length_in_vm), length = account.data.size();
  if (previous != length) {
    if (length > caller.original_data_len + kMaxPermittedDataIncrease) {
      runtime.transaction().logs.log("Account data size realloc limited to " +
                                     std::to_string(kMaxPermittedDataIncrease) + " in inner instructions");
      return instruction_error(InstructionErrc::InvalidRealloc);
    }
    if (length < previous) {
      if (length > caller.serialized_len) return instruction_error(InstructionErrc::AccountDataTooSmall);
      std::memset(caller.serialized_data + length, 0, caller.serialized_len - length);
    }
    auto data = guest(runtime, call, caller.data_addr, length, true);
    if (!data) return data.error();
    caller.serialized_data = *data;
    caller.serialized_len = length;
    store_u64(caller.length_in_vm, length);
    auto serialized_length = guest(runtime, call, caller.data_addr - 8, 8, true, 8);
    if (!serialized_length) return serialized_length.error();
    store_u64(*serialized_length, length);
  }
  if (caller.serialized_len != length) return instruction_error(InstructionErrc::AccountDataTooSmall);
  if (length != 0) std::memcpy(caller.serialized_data, account.data.data(), length);
  return {};
}

Expected<uint64_t> cpi_common(Runtime& runtime, HelperCall& call, const Abi& abi,
                              Expected<CpiInstruction> (*translate_instruction)(Runtime&, HelperCall&, uint64_t)) {
  const bool simd_0339 = runtime.options().simd_0339;
  if (auto ok = charge(call, simd_0339 ? kInvokeUnitsSimd339 : kInvokeUnits); !ok) return ok.error();
  auto ix = translate_instruction(runtime, call, call.args[0]);
  if (!ix) return ix.error();
  auto signers = translate_signers(runtime, call, call.args[3], call.args[4]);
  if (!signers) return signers.error();
  // Current Agave refuses a loader or precompile before it looks the
  // instruction's accounts up (2.x did it after).
  if (auto ok = check_authorized_program(ix->program_id); !ok) return ok.error();
  auto callee = prepare_instruction(runtime, *ix, *signers);
  if (!callee) return callee.error();

  // translate_account_infos, then each callee account's CallerAccount.
  const uint64_t infos_addr = call.args[1], infos_len = call.args[2];
  auto infos = slice(runtime, call, infos_addr, infos_len, abi.info_size, false, 8);
  if (!infos) return infos.error();
  const uint64_t max_infos = simd_0339 ? kMaxAccountInfosSimd339 : kMaxAccountInfos;
  if (infos_len > max_infos)
    return syscall_error(SbpfVmErrc::MaxInstructionAccountInfosExceeded,
                         "Invoked an instruction with too many account info's (" + std::to_string(infos_len) + " > " +
                             std::to_string(max_infos) + ")");
  if (simd_0339)
    if (auto ok = charge(call, infos_len * kAccountInfoCostSize / kCpiBytesPerUnit); !ok) return ok.error();
  std::vector<Pubkey> info_keys;
  for (uint64_t i = 0; i < infos_len; ++i) {
    auto key = guest(runtime, call, abi.key_addr(*infos + i * abi.info_size), 32, false);
    if (!key) return key.error();
    info_keys.push_back(read_key(*key));
  }

  Transaction& transaction = runtime.transaction();
  const Instruction& caller_ix = runtime.instruction();
  std::vector<std::pair<uint32_t, CallerAccount>> synced;  // writable accounts to copy back
  for (size_t i = 0; i < callee->accounts.size(); ++i) {
    if (first_occurrence(*callee, i) != i) continue;
    const InstructionAccount& entry = callee->accounts[i];
    const Account& account = transaction.accounts[entry.index];
    if (account.executable) {
      if (auto ok = charge(call, account.data.size() / kCpiBytesPerUnit); !ok) return ok.error();
      continue;
    }
    const auto info = std::find(info_keys.begin(), info_keys.end(), account.key);
    if (info == info_keys.end()) {
      transaction.logs.log("Instruction references an unknown account " + to_base58(account.key));
      return instruction_error(InstructionErrc::MissingAccount);
    }
    const uint64_t at = static_cast<uint64_t>(info - info_keys.begin()) * abi.info_size;
    auto caller = abi.caller_account(runtime, call, infos_addr + at, *infos + at);
    if (!caller) return caller.error();
    for (size_t k = 0; k < caller_ix.accounts.size(); ++k)
      if (caller_ix.accounts[k].index == entry.index) {
        caller->original_data_len = runtime.input().accounts[first_occurrence(caller_ix, k)].original_length;
        break;
      }
    if (auto ok = update_callee(runtime, *caller, entry.index); !ok) return ok.error();
    if (entry.is_writable) synced.emplace_back(entry.index, *caller);
  }

  if (auto ok = transaction.process(*callee, *call.meter); !ok) return ok.error();

  for (auto& [index, caller] : synced)
    if (auto ok = update_caller(runtime, call, caller, transaction.accounts[index]); !ok) return ok.error();
  return 0;
}

}  // namespace

Expected<uint64_t> invoke_signed_c(Runtime& runtime, HelperCall& call) {
  return cpi_common(runtime, call, kCAbi, translate_c_instruction);
}

Expected<uint64_t> invoke_signed_rust(Runtime& runtime, HelperCall& call) {
  return cpi_common(runtime, call, kRustAbi, translate_rust_instruction);
}

}  // namespace bpfkit::solana
