// The runtime's syscalls beyond vm's (Agave's syscalls/mod.rs, logging.rs,
// sysvar.rs), with its compute costs (SVMTransactionExecutionCost defaults:
// syscall_base_cost 100, log_pubkey_units 100, sha256_base_cost 85,
// sha256_byte_cost 1 per two bytes, mem_op_base_cost 10, cpi_bytes_per_unit
// 250, sysvar_base_cost 100, create_program_address_units 1500). Every guest
// pointer goes through HelperCall::translate.
#include <cstring>

#include "runtime.hpp"

namespace bpfkit::solana {

using vm::HelperCall;

Error vm_error(SbpfVmErrc detail, std::string message) {
  return make_error(Errc::HelperFailed, detail, std::move(message));
}

Expected<void> charge(HelperCall& call, uint64_t units) {
  if (call.consume(units)) return {};
  return make_error(Errc::BudgetExceeded, SbpfVmErrc::ComputationalBudgetExceeded, "Computational budget exceeded");
}

Expected<uint8_t*> guest(const Runtime& runtime, const HelperCall& call, uint64_t addr, uint64_t n, bool write,
                         uint64_t align) {
  static uint8_t empty;
  if (runtime.check_aligned() && align > 1 && addr % align != 0)
    return vm_error(SbpfVmErrc::UnalignedPointer, "Unaligned pointer");
  if (n == 0) return &empty;
  uint8_t* host = call.translate(addr, n, write);
  if (host == nullptr) return vm::sbpf::access_violation(call.context.dialect(), addr, n, write);
  return host;
}

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void store_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

namespace {

constexpr uint64_t kSyscallBaseCost = 100;
constexpr uint64_t kLogPubkeyUnits = 100;
constexpr uint64_t kHashBaseCost = 85;
constexpr uint64_t kHashByteCost = 1;
constexpr uint64_t kHashMaxSlices = 20'000;
constexpr uint64_t kMemOpBaseCost = 10;
constexpr uint64_t kCpiBytesPerUnit = 250;
constexpr uint64_t kSysvarBaseCost = 100;
constexpr uint64_t kCreateProgramAddressUnits = 1500;
constexpr uint64_t kMaxSeeds = 16, kMaxSeedLength = 32;
constexpr uint64_t kSliceSize = 16;  // VmSlice<u8>: address, length

// A guest array of `count` VmSlice<u8> (8-byte aligned), each translated.
Expected<std::vector<std::span<const uint8_t>>> guest_slices(const Runtime& runtime, const HelperCall& call,
                                                             uint64_t addr, uint64_t count) {
  if (count > UINT64_MAX / kSliceSize) return vm_error(SbpfVmErrc::InvalidLength, "InvalidLength");
  auto table = guest(runtime, call, addr, count * kSliceSize, false, 8);
  if (!table) return table.error();
  std::vector<std::span<const uint8_t>> slices;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t at = load_u64(*table + i * kSliceSize), length = load_u64(*table + i * kSliceSize + 8);
    auto bytes = guest(runtime, call, at, length, false);
    if (!bytes) return bytes.error();
    slices.emplace_back(*bytes, length);
  }
  return slices;
}

Error bad_seeds() {
  return vm_error(SbpfVmErrc::BadSeeds,
                  "Could not create program address with signer seeds: Length of the seed is too long for address "
                  "generation");
}

// translate_and_check_program_address_inputs: at most 16 seeds of at most
// 32 bytes (checked before each seed is translated), and the program id.
Expected<std::pair<std::vector<std::span<const uint8_t>>, Pubkey>> address_inputs(const Runtime& runtime,
                                                                                  const HelperCall& call) {
  const uint64_t count = call.args[1];
  if (count > UINT64_MAX / kSliceSize) return vm_error(SbpfVmErrc::InvalidLength, "InvalidLength");
  auto table = guest(runtime, call, call.args[0], count * kSliceSize, false, 8);
  if (!table) return table.error();
  if (count > kMaxSeeds) return bad_seeds();
  std::vector<std::span<const uint8_t>> seeds;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t at = load_u64(*table + i * kSliceSize), length = load_u64(*table + i * kSliceSize + 8);
    if (length > kMaxSeedLength) return bad_seeds();
    auto bytes = guest(runtime, call, at, length, false);
    if (!bytes) return bytes.error();
    seeds.emplace_back(*bytes, length);
  }
  auto id = guest(runtime, call, call.args[2], 32, false);
  if (!id) return id.error();
  Pubkey program_id;
  std::memcpy(program_id.data(), *id, 32);
  return std::make_pair(std::move(seeds), program_id);
}

bool disjoint(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
  return a > b ? a - b >= b_size : b - a >= a_size;
}

using Syscall = Expected<uint64_t> (*)(Runtime&, HelperCall&);

// ---- Logs -----------------------------------------------------------------------------

Expected<uint64_t> log_compute_units(Runtime&, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  call.log("Program consumption: " + std::to_string(call.meter ? *call.meter : 0) + " units remaining");
  return 0;
}

Expected<uint64_t> log_pubkey(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kLogPubkeyUnits); !ok) return ok.error();
  auto key = guest(runtime, call, call.args[0], 32, false);
  if (!key) return key.error();
  call.log("Program log: " + to_base58({*key, 32}));
  return 0;
}

Expected<uint64_t> log_data(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  const uint64_t count = call.args[1];
  if (count > UINT64_MAX / kSliceSize) return vm_error(SbpfVmErrc::InvalidLength, "InvalidLength");
  auto table = guest(runtime, call, call.args[0], count * kSliceSize, false, 8);
  if (!table) return table.error();
  if (auto ok = charge(call, kSyscallBaseCost * count); !ok) return ok.error();
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < count; ++i) bytes += load_u64(*table + i * kSliceSize + 8);
  if (auto ok = charge(call, bytes); !ok) return ok.error();
  auto fields = guest_slices(runtime, call, call.args[0], count);
  if (!fields) return fields.error();
  std::string line = "Program data:";
  for (std::span<const uint8_t> field : *fields) line.append(" ").append(to_base64(field));
  call.log(line);
  return 0;
}

// ---- Hashes -------------------------------------------------------------------------------

template <std::array<uint8_t, 32> (*kHash)(std::span<const std::span<const uint8_t>>)>
Expected<uint64_t> hash(Runtime& runtime, HelperCall& call) {
  const uint64_t count = call.args[1];
  if (count > kHashMaxSlices) return vm_error(SbpfVmErrc::TooManySlices, "Hashing too many sequences");
  if (auto ok = charge(call, kHashBaseCost); !ok) return ok.error();
  auto result = guest(runtime, call, call.args[2], 32, true);
  if (!result) return result.error();
  std::vector<std::span<const uint8_t>> parts;
  if (count > 0) {
    auto table = guest(runtime, call, call.args[0], count * kSliceSize, false, 8);
    if (!table) return table.error();
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t at = load_u64(*table + i * kSliceSize), length = load_u64(*table + i * kSliceSize + 8);
      auto bytes = guest(runtime, call, at, length, false);
      if (!bytes) return bytes.error();
      if (auto ok = charge(call, std::max(kMemOpBaseCost, kHashByteCost * (length / 2))); !ok) return ok.error();
      parts.emplace_back(*bytes, length);
    }
  }
  const std::array<uint8_t, 32> digest = kHash(parts);
  std::memcpy(*result, digest.data(), digest.size());
  return 0;
}

// sol_secp256k1_recover: 25,000 units; r1 the 32-byte hash, r2 the
// recovery id, r3 the 64-byte signature, r4 the 64-byte key out. 0, or
// Secp256k1RecoverError: 2 InvalidRecoveryId, 3 InvalidSignature.
Expected<uint64_t> recover_secp256k1(Runtime& runtime, HelperCall& call) {
  constexpr uint64_t kSecp256k1RecoverCost = 25'000;
  if (auto ok = charge(call, kSecp256k1RecoverCost); !ok) return ok.error();
  auto hash = guest(runtime, call, call.args[0], 32, false);
  if (!hash) return hash.error();
  auto signature = guest(runtime, call, call.args[2], 64, false);
  if (!signature) return signature.error();
  auto out = guest(runtime, call, call.args[3], 64, true);
  if (!out) return out.error();
  auto key = secp256k1_recover(std::span<const uint8_t, 32>(*hash, 32), call.args[1],
                               std::span<const uint8_t, 64>(*signature, 64));
  if (!key) return key.error().message == "InvalidRecoveryId" ? 2 : 3;
  std::memcpy(*out, key->data(), 64);
  return 0;
}

// ---- Return data --------------------------------------------------------------------------

Expected<uint64_t> set_return_data(Runtime& runtime, HelperCall& call) {
  const uint64_t length = call.args[1];
  if (auto ok = charge(call, length / kCpiBytesPerUnit + kSyscallBaseCost); !ok) return ok.error();
  if (length > kMaxReturnData)
    return vm_error(SbpfVmErrc::ReturnDataTooLarge,
                    "Return data too large (" + std::to_string(length) + " > " + std::to_string(kMaxReturnData) + ")");
  auto bytes = guest(runtime, call, call.args[0], length, false);
  if (!bytes) return bytes.error();
  runtime.return_data().program_id = runtime.program_id();
  runtime.return_data().data.assign(*bytes, *bytes + length);
  return 0;
}

Expected<uint64_t> get_return_data(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  const ReturnData& data = runtime.return_data();
  const uint64_t length = std::min<uint64_t>(call.args[1], data.data.size());
  if (length != 0) {
    if (auto ok = charge(call, (length + 32) / kCpiBytesPerUnit); !ok) return ok.error();
    auto to = guest(runtime, call, call.args[0], length, true);
    if (!to) return to.error();
    auto id = guest(runtime, call, call.args[2], 32, true);
    if (!id) return id.error();
    if (!disjoint(call.args[0], length, call.args[2], 32))
      return vm_error(SbpfVmErrc::CopyOverlapping, "Overlapping copy");
    std::memcpy(*to, data.data.data(), length);
    std::memcpy(*id, data.program_id.data(), 32);
  }
  return data.data.size();
}

// ---- Sysvars ---------------------------------------------------------------------------------

// get_sysvar: sysvar_base_cost + the type's size, then the bytes (C layout,
// padding zeroed) at an 8-byte aligned address.
Expected<uint64_t> write_sysvar(Runtime& runtime, HelperCall& call, std::span<const uint8_t> bytes) {
  if (auto ok = charge(call, kSysvarBaseCost + bytes.size()); !ok) return ok.error();
  auto to = guest(runtime, call, call.args[0], bytes.size(), true, 8);
  if (!to) return to.error();
  std::memcpy(*to, bytes.data(), bytes.size());
  return 0;
}

template <class T>
void put(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof value);
}

Expected<uint64_t> get_clock(Runtime& runtime, HelperCall& call) {
  const Clock& c = runtime.options().sysvars.clock;
  std::vector<uint8_t> bytes(40);
  put(bytes, 0, c.slot);
  put(bytes, 8, c.epoch_start_timestamp);
  put(bytes, 16, c.epoch);
  put(bytes, 24, c.leader_schedule_epoch);
  put(bytes, 32, c.unix_timestamp);
  return write_sysvar(runtime, call, bytes);
}

Expected<uint64_t> get_rent(Runtime& runtime, HelperCall& call) {
  const Rent& r = runtime.options().sysvars.rent;
  std::vector<uint8_t> bytes(24);
  put(bytes, 0, r.lamports_per_byte_year);
  put(bytes, 8, r.exemption_threshold);
  put(bytes, 16, r.burn_percent);
  return write_sysvar(runtime, call, bytes);
}

Expected<uint64_t> get_epoch_schedule(Runtime& runtime, HelperCall& call) {
  const EpochSchedule& e = runtime.options().sysvars.epoch_schedule;
  std::vector<uint8_t> bytes(40);
  put(bytes, 0, e.slots_per_epoch);
  put(bytes, 8, e.leader_schedule_slot_offset);
  put(bytes, 16, static_cast<uint8_t>(e.warmup));
  put(bytes, 24, e.first_normal_epoch);
  put(bytes, 32, e.first_normal_slot);
  return write_sysvar(runtime, call, bytes);
}

Expected<uint64_t> get_last_restart_slot(Runtime& runtime, HelperCall& call) {
  std::vector<uint8_t> bytes(8);
  put(bytes, 0, runtime.options().sysvars.last_restart_slot);
  return write_sysvar(runtime, call, bytes);
}

// EpochRewards in its C layout: total_points (u128) 16-aligned at 48, 96 bytes.
Expected<uint64_t> get_epoch_rewards(Runtime& runtime, HelperCall& call) {
  const EpochRewards& e = runtime.options().sysvars.epoch_rewards;
  std::vector<uint8_t> bytes(96);
  put(bytes, 0, e.distribution_starting_block_height);
  put(bytes, 8, e.num_partitions);
  std::memcpy(bytes.data() + 16, e.parent_blockhash.data(), 32);
  put(bytes, 48, e.total_points);
  put(bytes, 64, e.total_rewards);
  put(bytes, 72, e.distributed_rewards);
  put(bytes, 80, static_cast<uint8_t>(e.active));
  return write_sysvar(runtime, call, bytes);
}

// sol_get_sysvar (SIMD-0127): `length` bytes at `offset` of the sysvar's
// account data (sysvar_bytes). 0, or 1 when offset + length passes its
// end, or 2 when the sysvar cache has no such sysvar. Charged
// sysvar_base_cost + 32 / 250 + max(length / 250, mem_op_base_cost) first,
// then the output and the id translated (in that order, as Agave does);
// offset + length or the output's end past 2^64 is ArithmeticOverflow.
Expected<uint64_t> get_sysvar(Runtime& runtime, HelperCall& call) {
  const uint64_t offset = call.args[2], length = call.args[3];
  if (auto ok =
          charge(call, kSysvarBaseCost + 32 / kCpiBytesPerUnit + std::max(length / kCpiBytesPerUnit, kMemOpBaseCost));
      !ok)
    return ok.error();
  auto to = guest(runtime, call, call.args[1], length, true);
  if (!to) return to.error();
  auto id = guest(runtime, call, call.args[0], 32, false);
  if (!id) return id.error();
  if (offset > UINT64_MAX - length || call.args[1] > UINT64_MAX - length)
    return instruction_error(InstructionErrc::ArithmeticOverflow);
  Pubkey key;
  std::memcpy(key.data(), *id, 32);
  const std::vector<uint8_t> bytes = sysvar_bytes(runtime.options().sysvars, key);
  if (bytes.empty()) return 2;                   // SYSVAR_NOT_FOUND
  if (offset + length > bytes.size()) return 1;  // OFFSET_LENGTH_EXCEEDS_SYSVAR
  if (length != 0) std::memcpy(*to, bytes.data() + offset, length);
  return 0;
}

// sol_get_epoch_stake (SIMD-0133): a null address asks for the cluster's
// total (syscall_base_cost); otherwise the vote account's stake at the
// address (syscall_base_cost + 32 / 250 + mem_op_base_cost), 0 if unknown.
Expected<uint64_t> get_epoch_stake(Runtime& runtime, HelperCall& call) {
  const Sysvars& sysvars = runtime.options().sysvars;
  if (call.args[0] == 0) {
    if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
    return sysvars.total_epoch_stake;
  }
  if (auto ok = charge(call, kSyscallBaseCost + 32 / kCpiBytesPerUnit + kMemOpBaseCost); !ok) return ok.error();
  auto vote = guest(runtime, call, call.args[0], 32, false);
  if (!vote) return vote.error();
  for (const auto& [key, stake] : sysvars.vote_account_stakes)
    if (std::memcmp(key.data(), *vote, 32) == 0) return stake;
  return 0;
}

// sol_get_processed_sibling_instruction: the index-th instruction before
// the current one at its stack height, walking the trace back until a
// lower height. r1 index, r2 a ProcessedSiblingInstruction {data_len,
// accounts_len} read and written back, r3 program id, r4 data, r5
// AccountMeta[] (34 bytes each); the bodies only when the lengths the
// program gave are the instruction's. 1 if found, else 0.
Expected<uint64_t> get_processed_sibling_instruction(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  const Transaction& transaction = runtime.transaction();
  const uint64_t height = transaction.stack_height(), index = call.args[0];
  const TraceEntry* found = nullptr;
  uint64_t reverse_index = 0;
  for (size_t i = transaction.trace.size(); i-- > 0;) {
    const TraceEntry& entry = transaction.trace[i];
    if (entry.stack_height < height) break;
    if (entry.stack_height != height) continue;
    if (index + 1 == reverse_index) {
      found = &entry;
      break;
    }
    ++reverse_index;
  }
  if (found == nullptr) return 0;
  const Instruction& sibling = found->instruction;
  auto header = guest(runtime, call, call.args[1], 16, true, 8);
  if (!header) return header.error();
  constexpr uint64_t kMetaSize = 34;
  if (load_u64(*header) == sibling.data.size() && load_u64(*header + 8) == sibling.accounts.size()) {
    auto program_id = guest(runtime, call, call.args[2], 32, true);
    if (!program_id) return program_id.error();
    auto data = guest(runtime, call, call.args[3], sibling.data.size(), true);
    if (!data) return data.error();
    auto metas = guest(runtime, call, call.args[4], sibling.accounts.size() * kMetaSize, true);
    if (!metas) return metas.error();
    const uint64_t ranges[4][2] = {{call.args[1], 16},
                                   {call.args[2], 32},
                                   {call.args[3], sibling.data.size()},
                                   {call.args[4], sibling.accounts.size() * kMetaSize}};
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b)
        if (ranges[a][1] != 0 && ranges[b][1] != 0 && !disjoint(ranges[a][0], ranges[a][1], ranges[b][0], ranges[b][1]))
          return vm_error(SbpfVmErrc::CopyOverlapping, "Overlapping copy");
    std::memcpy(*program_id, sibling.program_id.data(), 32);
    if (!sibling.data.empty()) std::memcpy(*data, sibling.data.data(), sibling.data.size());
    for (size_t i = 0; i < sibling.accounts.size(); ++i) {
      const InstructionAccount& account = sibling.accounts[i];
      const Flags flags = merged_flags(sibling, account.index);
      uint8_t* meta = *metas + i * kMetaSize;
      std::memcpy(meta, transaction.accounts[account.index].key.data(), 32);
      meta[32] = flags.is_signer;
      meta[33] = flags.is_writable;
    }
  }
  store_u64(*header, sibling.data.size());
  store_u64(*header + 8, sibling.accounts.size());
  return 1;
}

// ---- Heap, stack height, compute units ------------------------------------------------------

// The BPF allocator: a bump pointer over the heap, never freeing; 0 when
// the request does not fit. Charges nothing.
Expected<uint64_t> alloc_free(Runtime& runtime, HelperCall& call) {
  const uint64_t size = call.args[0];
  if (call.args[1] != 0) return 0;  // free: unimplemented in the runtime too
  const uint64_t align = runtime.check_aligned() ? 8 : 1;
  if (size > static_cast<uint64_t>(INT64_MAX) - (align - 1)) return 0;  // Layout::from_size_align
  uint64_t& position = runtime.heap_position();
  const uint64_t start = (position + align - 1) / align * align;
  if (start > runtime.options().heap_size || size > runtime.options().heap_size - start) return 0;
  position = start + size;
  return vm::region_base(vm::kHeapRegion) + start;
}

Expected<uint64_t> get_stack_height(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  return runtime.transaction().stack_height();  // 1: the transaction's instruction
}

Expected<uint64_t> remaining_compute_units(Runtime&, HelperCall& call) {
  if (auto ok = charge(call, kSyscallBaseCost); !ok) return ok.error();
  return call.meter ? *call.meter : 0;
}

// ---- Program addresses -------------------------------------------------------------------------

Expected<uint64_t> create_address(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kCreateProgramAddressUnits); !ok) return ok.error();
  auto inputs = address_inputs(runtime, call);
  if (!inputs) return inputs.error();
  auto address = create_program_address(inputs->first, inputs->second);
  if (!address) return 1;
  auto out = guest(runtime, call, call.args[3], 32, true);
  if (!out) return out.error();
  std::memcpy(*out, address->data(), 32);
  return 0;
}

Expected<uint64_t> try_find_address(Runtime& runtime, HelperCall& call) {
  if (auto ok = charge(call, kCreateProgramAddressUnits); !ok) return ok.error();
  auto inputs = address_inputs(runtime, call);
  if (!inputs) return inputs.error();
  std::vector<std::span<const uint8_t>> seeds = inputs->first;
  uint8_t bump = 255;
  seeds.emplace_back(&bump, 1);
  for (int attempt = 0; attempt < 255; ++attempt) {
    if (auto address = create_program_address(seeds, inputs->second)) {
      auto bump_out = guest(runtime, call, call.args[4], 1, true);
      if (!bump_out) return bump_out.error();
      auto out = guest(runtime, call, call.args[3], 32, true);
      if (!out) return out.error();
      if (!disjoint(call.args[4], 1, call.args[3], 32))
        return vm_error(SbpfVmErrc::CopyOverlapping, "Overlapping copy");
      **bump_out = bump;
      std::memcpy(*out, address->data(), 32);
      return 0;
    }
    bump = static_cast<uint8_t>(bump - 1);
    if (auto ok = charge(call, kCreateProgramAddressUnits); !ok) return ok.error();
  }
  return 1;
}

struct Entry {
  const char* name;
  Syscall fn;
};
constexpr Entry kSyscalls[] = {
    {"sol_log_compute_units_", log_compute_units},
    {"sol_log_pubkey", log_pubkey},
    {"sol_log_data", log_data},
    {"sol_sha256", hash<sha256>},
    {"sol_keccak256", hash<keccak256>},
    {"sol_blake3", hash<blake3>},
    {"sol_secp256k1_recover", recover_secp256k1},
    {"sol_set_return_data", set_return_data},
    {"sol_get_return_data", get_return_data},
    {"sol_get_clock_sysvar", get_clock},
    {"sol_get_rent_sysvar", get_rent},
    {"sol_get_epoch_schedule_sysvar", get_epoch_schedule},
    {"sol_get_last_restart_slot", get_last_restart_slot},
    {"sol_get_epoch_rewards_sysvar", get_epoch_rewards},
    {"sol_get_sysvar", get_sysvar},
    {"sol_get_epoch_stake", get_epoch_stake},
    {"sol_get_processed_sibling_instruction", get_processed_sibling_instruction},
    {"sol_invoke_signed_c", invoke_signed_c},
    {"sol_invoke_signed_rust", invoke_signed_rust},
    {"sol_alloc_free_", alloc_free},
    {"sol_get_stack_height", get_stack_height},
    {"sol_remaining_compute_units", remaining_compute_units},
    {"sol_create_program_address", create_address},
    {"sol_try_find_program_address", try_find_address},
};

// vm's own syscalls the runtime provides (vm's test syscall `log` is not one).
constexpr const char* kVmSyscalls[] = {"sol_log_",    "sol_log_64_", "sol_memcpy_", "sol_memmove_",
                                       "sol_memset_", "sol_memcmp_", "abort",       "sol_panic_"};

// Syscalls of Agave that bpfkit does not provide yet: a call of one fails
// with UnknownSyscall naming it.
constexpr const char* kMissing[] = {
    "sol_get_fees_sysvar",  "sol_curve_validate_point", "sol_curve_group_op",     "sol_curve_multiscalar_mul",
    "sol_curve_decompress", "sol_curve_pairing_map",    "sol_alt_bn128_group_op", "sol_alt_bn128_compression",
    "sol_poseidon",         "sol_big_mod_exp",
};

vm::HelperFn missing(std::string name) {
  return [name](HelperCall&) -> Expected<uint64_t> {
    return vm_error(SbpfVmErrc::UnknownSyscall, "the program called " + name + ", which bpfkit does not provide");
  };
}

}  // namespace

vm::HelperTable Transaction::syscalls(const std::unordered_map<uint32_t, std::string>& program_syscalls) {
  vm::HelperTable table;
  const vm::HelperTable defaults = vm::HelperTable::sbpf_defaults();
  for (const char* name : kVmSyscalls)
    if (const vm::Helper* helper = defaults.find(isa::murmur3_32(std::string_view(name))))
      static_cast<void>(table.add_syscall(name, helper->fn));
  for (const Entry& entry : kSyscalls) {
    Syscall fn = entry.fn;
    static_cast<void>(
        table.add_syscall(entry.name, [this, fn](HelperCall& call) { return fn(*bpf_frames.back(), call); }));
  }
  for (const char* name : kMissing) static_cast<void>(table.add_syscall(name, missing(name)));
  for (const auto& [key, name] : program_syscalls)
    if (table.find(key) == nullptr) static_cast<void>(table.add_syscall(name, missing(name)));
  return table;
}

std::vector<uint8_t> sysvar_bytes(const Sysvars& sysvars, const Pubkey& id) {
  static const Pubkey kClock = *parse_pubkey("SysvarC1ock11111111111111111111111111111111");
  static const Pubkey kRent = *parse_pubkey("SysvarRent111111111111111111111111111111111");
  static const Pubkey kEpochSchedule = *parse_pubkey("SysvarEpochSchedu1e111111111111111111111111");
  static const Pubkey kEpochRewards = *parse_pubkey("SysvarEpochRewards1111111111111111111111111");
  static const Pubkey kLastRestartSlot = *parse_pubkey("SysvarLastRestartS1ot1111111111111111111111");
  static const Pubkey kSlotHashes = *parse_pubkey("SysvarS1otHashes111111111111111111111111111");
  static const Pubkey kStakeHistory = *parse_pubkey("SysvarStakeHistory1111111111111111111111111");
  std::vector<uint8_t> out;
  auto u64 = [&out](uint64_t v) {
    for (unsigned i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  if (id == kClock) {
    const Clock& c = sysvars.clock;
    for (uint64_t v : {c.slot, static_cast<uint64_t>(c.epoch_start_timestamp), c.epoch, c.leader_schedule_epoch,
                       static_cast<uint64_t>(c.unix_timestamp)})
      u64(v);
  } else if (id == kRent) {
    uint64_t threshold;
    std::memcpy(&threshold, &sysvars.rent.exemption_threshold, 8);
    u64(sysvars.rent.lamports_per_byte_year);
    u64(threshold);
    out.push_back(sysvars.rent.burn_percent);
  } else if (id == kEpochSchedule) {
    const EpochSchedule& e = sysvars.epoch_schedule;
    u64(e.slots_per_epoch);
    u64(e.leader_schedule_slot_offset);
    out.push_back(e.warmup);
    u64(e.first_normal_epoch);
    u64(e.first_normal_slot);
  } else if (id == kEpochRewards) {
    const EpochRewards& e = sysvars.epoch_rewards;
    u64(e.distribution_starting_block_height);
    u64(e.num_partitions);
    out.insert(out.end(), e.parent_blockhash.begin(), e.parent_blockhash.end());
    u64(static_cast<uint64_t>(e.total_points));
    u64(static_cast<uint64_t>(e.total_points >> 64));
    u64(e.total_rewards);
    u64(e.distributed_rewards);
    out.push_back(e.active);
  } else if (id == kLastRestartSlot) {
    u64(sysvars.last_restart_slot);
  } else if (id == kSlotHashes) {
    const size_t count = std::min(sysvars.slot_hashes.size(), kMaxSysvarEntries);
    u64(count);
    for (size_t i = 0; i < count; ++i) {
      u64(sysvars.slot_hashes[i].slot);
      out.insert(out.end(), sysvars.slot_hashes[i].hash.begin(), sysvars.slot_hashes[i].hash.end());
    }
    out.resize(kSlotHashesSize, 0);
  } else if (id == kStakeHistory) {
    const size_t count = std::min(sysvars.stake_history.size(), kMaxSysvarEntries);
    u64(count);
    for (size_t i = 0; i < count; ++i) {
      const StakeHistoryEntry& e = sysvars.stake_history[i];
      for (uint64_t v : {e.epoch, e.effective, e.activating, e.deactivating}) u64(v);
    }
    out.resize(kStakeHistorySize, 0);
  }
  return out;
}

std::vector<std::string> syscall_names() {
  std::vector<std::string> names;
  for (const char* name : kVmSyscalls) names.emplace_back(name);
  for (const Entry& entry : kSyscalls) names.emplace_back(entry.name);
  for (const char* name : kMissing) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace bpfkit::solana
