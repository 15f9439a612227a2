// The BPF loader's input region (Agave's serialize_parameters_aligned and
// _unaligned) and the write-back after a successful run
// (deserialize_parameters_*), with BorrowedAccount's checks.
#include <cstring>

#include "runtime.hpp"

namespace bpfkit::solana {

namespace {

constexpr uint64_t kAlign = 8;  // BPF_ALIGN_OF_U128

class Writer {
 public:
  uint64_t offset() const { return bytes_.size(); }
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u64(uint64_t v) {
    for (unsigned i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void raw(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  void zeros(uint64_t n) { bytes_.insert(bytes_.end(), n, 0); }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

uint64_t read_u64(std::span<const uint8_t> b, uint64_t at) {
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

uint64_t align_padding(uint64_t length) { return (kAlign - length % kAlign) % kAlign; }

}  // namespace

Flags merged_flags(const Instruction& instruction, uint32_t index) {
  Flags flags;
  for (const InstructionAccount& a : instruction.accounts) {
    if (a.index != index) continue;
    flags.is_signer |= a.is_signer;
    flags.is_writable |= a.is_writable;
  }
  return flags;
}

size_t first_occurrence(const Instruction& instruction, size_t i) {
  for (size_t k = 0; k < i; ++k)
    if (instruction.accounts[k].index == instruction.accounts[i].index) return k;
  return i;
}

unsigned __int128 lamports_sum(const Instruction& instruction, const std::vector<Account>& accounts) {
  unsigned __int128 sum = 0;
  for (size_t i = 0; i < instruction.accounts.size(); ++i)
    if (first_occurrence(instruction, i) == i) sum += accounts[instruction.accounts[i].index].lamports;
  return sum;
}

Expected<void> Borrowed::set_lamports(uint64_t lamports) {
  if (!owned() && lamports < account_.lamports) return instruction_error(InstructionErrc::ExternalAccountLamportSpend);
  if (!flags_.is_writable) return instruction_error(InstructionErrc::ReadonlyLamportChange);
  if (account_.executable) return instruction_error(InstructionErrc::ExecutableLamportChange);
  account_.lamports = lamports;
  return {};
}

Expected<void> Borrowed::add_lamports(uint64_t lamports) {
  if (lamports > UINT64_MAX - account_.lamports) return instruction_error(InstructionErrc::ArithmeticOverflow);
  return set_lamports(account_.lamports + lamports);
}

Expected<void> Borrowed::sub_lamports(uint64_t lamports) {
  if (lamports > account_.lamports) return instruction_error(InstructionErrc::ArithmeticOverflow);
  return set_lamports(account_.lamports - lamports);
}

Expected<void> Borrowed::set_data(std::span<const uint8_t> data) {
  auto allowed = can_resize(data.size());
  if (allowed) allowed = can_change();
  if (!allowed) {
    if (data.size() == account_.data.size() && std::equal(data.begin(), data.end(), account_.data.begin())) return {};
    return allowed.error();
  }
  resize_delta_ += static_cast<int64_t>(data.size()) - static_cast<int64_t>(account_.data.size());
  account_.data.assign(data.begin(), data.end());
  return {};
}

Expected<void> Borrowed::set_data_length(uint64_t length) {
  if (auto ok = can_resize(length); !ok) return ok;
  if (auto ok = can_change(); !ok) return ok;
  resize_delta_ += static_cast<int64_t>(length) - static_cast<int64_t>(account_.data.size());
  account_.data.resize(length, 0);
  return {};
}

Expected<void> Borrowed::set_owner(const Pubkey& owner) {
  const bool zeroed = std::all_of(account_.data.begin(), account_.data.end(), [](uint8_t b) { return b == 0; });
  if (!owned() || !flags_.is_writable || account_.executable || !zeroed)
    return instruction_error(InstructionErrc::ModifiedProgramId);
  account_.owner = owner;
  return {};
}

Expected<void> Borrowed::can_resize(uint64_t length) const {
  const uint64_t old_length = account_.data.size();
  if (length != old_length && !owned()) return instruction_error(InstructionErrc::AccountDataSizeChanged);
  if (length > kMaxPermittedDataLength) return instruction_error(InstructionErrc::InvalidRealloc);
  const int64_t delta = static_cast<int64_t>(length) - static_cast<int64_t>(old_length);
  if (resize_delta_ + delta > static_cast<int64_t>(kMaxAccountsDataAllocations))
    return instruction_error(InstructionErrc::MaxAccountsDataAllocationsExceeded);
  return {};
}

Expected<void> Borrowed::can_change() const {
  if (account_.executable) return instruction_error(InstructionErrc::ExecutableDataModified);
  if (!flags_.is_writable) return instruction_error(InstructionErrc::ReadonlyDataModified);
  if (!owned()) return instruction_error(InstructionErrc::ExternalAccountDataModified);
  return {};
}

std::string custom_error_text(uint32_t code) { return "custom program error: " + hex_string(code); }

Error instruction_error(InstructionErrc code, std::string detail) {
  std::string text(detail_text(Domain::SolanaInstruction, static_cast<uint16_t>(code)));
  if (!detail.empty()) text = std::move(detail);
  return make_error(Errc::ProgramError, code, std::move(text));
}

Error error_from_return_code(uint64_t r0) {
  struct Builtin {
    uint64_t code;
    InstructionErrc error;
  };
  static constexpr Builtin kBuiltins[] = {
#define INSTRUCTION_ERROR(name, builtin, text) {builtin, InstructionErrc::name},
#include "bpfkit/solana_instruction_errors.def"
#undef INSTRUCTION_ERROR
  };
  if (r0 == uint64_t{1} << 32) return instruction_error(InstructionErrc::Custom, custom_error_text(0));
  if ((r0 >> 32) == 0) return instruction_error(InstructionErrc::Custom, custom_error_text(static_cast<uint32_t>(r0)));
  if ((r0 & 0xffffffffu) == 0)
    for (const Builtin& builtin : kBuiltins)
      if (builtin.code != 0 && builtin.code == r0 >> 32) return instruction_error(builtin.error);
  return instruction_error(InstructionErrc::InvalidError);
}

InputFormat input_format_of_loader(const Pubkey& loader) {
  static const Pubkey kDeprecatedLoader = *parse_pubkey("BPFLoader1111111111111111111111111111111111");
  return loader == kDeprecatedLoader ? InputFormat::Unaligned : InputFormat::Aligned;
}

Expected<SerializedInput> serialize(const Instruction& instruction, const std::vector<Account>& accounts,
                                    InputFormat format) {
  for (const InstructionAccount& a : instruction.accounts)
    if (a.index >= accounts.size())
      return instruction_error(InstructionErrc::NotEnoughAccountKeys,
                               "insufficient account keys for instruction: account index " + std::to_string(a.index) +
                                   " of " + std::to_string(accounts.size()));
  const bool aligned = format == InputFormat::Aligned;
  SerializedInput out;
  out.format = format;
  Writer w;
  w.u64(instruction.accounts.size());
  for (size_t i = 0; i < instruction.accounts.size(); ++i) {
    const InstructionAccount& entry = instruction.accounts[i];
    const Account& account = accounts[entry.index];
    SerializedAccount record;
    record.index = entry.index;
    const size_t first = first_occurrence(instruction, i);
    if (first != i) {
      record.duplicate = true;
      w.u8(static_cast<uint8_t>(first));
      if (aligned) w.zeros(7);
      out.accounts.push_back(record);
      continue;
    }
    const Flags flags = merged_flags(instruction, entry.index);
    w.u8(kNonDuplicate);
    w.u8(flags.is_signer);
    w.u8(flags.is_writable);
    if (aligned) {
      w.u8(account.executable);
      w.zeros(4);
    }
    w.raw(account.key);
    if (aligned) {
      record.owner_offset = w.offset();
      w.raw(account.owner);
    }
    record.lamports_offset = w.offset();
    w.u64(account.lamports);
    record.data_len_offset = w.offset();
    w.u64(account.data.size());
    record.data_offset = w.offset();
    record.original_length = account.data.size();
    w.raw(account.data);
    if (aligned) {
      w.zeros(kMaxPermittedDataIncrease + align_padding(account.data.size()));
    } else {
      record.owner_offset = w.offset();
      w.raw(account.owner);
      w.u8(account.executable);
    }
    w.u64(account.rent_epoch);
    out.accounts.push_back(record);
  }
  w.u64(instruction.data.size());
  out.instruction_data_offset = w.offset();
  w.raw(instruction.data);
  w.raw(instruction.program_id);
  out.bytes = w.take();
  return out;
}

Expected<void> deserialize(const SerializedInput& input, std::span<const uint8_t> bytes, const Instruction& instruction,
                           std::vector<Account>& accounts) {
  int64_t resize_delta = 0;
  return deserialize(input, bytes, instruction, accounts, resize_delta);
}

Expected<void> deserialize(const SerializedInput& input, std::span<const uint8_t> bytes, const Instruction& instruction,
                           std::vector<Account>& accounts, int64_t& resize_delta) {
  if (bytes.size() != input.bytes.size() || input.accounts.size() != instruction.accounts.size())
    return instruction_error(InstructionErrc::InvalidArgument, "the input region does not match its layout");
  const unsigned __int128 before = lamports_sum(instruction, accounts);
  const bool aligned = input.format == InputFormat::Aligned;
  for (const SerializedAccount& record : input.accounts) {
    if (record.duplicate) continue;
    Account& account = accounts[record.index];
    Borrowed borrowed(account, instruction.program_id, merged_flags(instruction, record.index), resize_delta);
    const uint64_t lamports = read_u64(bytes, record.lamports_offset);
    if (lamports != account.lamports)
      if (auto ok = borrowed.set_lamports(lamports); !ok) return ok;
    uint64_t length = record.original_length;
    if (aligned) {
      length = read_u64(bytes, record.data_len_offset);
      if ((length > record.original_length && length - record.original_length > kMaxPermittedDataIncrease) ||
          length > kMaxPermittedDataLength)
        return instruction_error(InstructionErrc::InvalidRealloc);
    }
    if (auto ok = borrowed.set_data(bytes.subspan(record.data_offset, length)); !ok) return ok;
    if (!aligned) continue;  // the deprecated loader never writes the owner back
    Pubkey owner;
    std::memcpy(owner.data(), bytes.data() + record.owner_offset, owner.size());
    if (owner != account.owner)
      if (auto ok = borrowed.set_owner(owner); !ok) return ok;
  }
  if (lamports_sum(instruction, accounts) != before) return instruction_error(InstructionErrc::UnbalancedInstruction);
  return {};
}

}  // namespace bpfkit::solana
