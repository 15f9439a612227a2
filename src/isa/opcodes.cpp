// Lookups over the opcode table, and the encoder that fills the table's
// discriminating fields.
#include <cstring>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {
namespace {

// For each opcode byte, the rows that use it. At most 10 rows share a byte
// (the 64-bit atomics).
struct RowsForCode {
  uint8_t count = 0;
  std::array<uint16_t, 12> rows{};
};

constexpr std::array<RowsForCode, 256> build_code_index() {
  std::array<RowsForCode, 256> index{};
  for (const OpInfo& row : kOps) {
    if (!is_linux(row)) continue;
    RowsForCode& entry = index[row.code];
    entry.rows[entry.count++] = static_cast<uint16_t>(row.op);
  }
  return index;
}
constexpr auto kCodeIndex = build_code_index();

bool row_matches(const OpInfo& row, const Slot& slot) {
  switch (row.match) {
    case Match::None: return true;
    case Match::Off: return slot.off == row.value;
    case Match::Imm: return slot.imm == row.value;
    case Match::Src: return slot.src() == row.value;
  }
  return false;
}

}  // namespace

std::optional<Op> lookup(const Slot& slot) {
  const RowsForCode& entry = kCodeIndex[slot.code];
  for (uint8_t i = 0; i < entry.count; ++i) {
    const OpInfo& row = kOps[entry.rows[i]];
    if (row_matches(row, slot)) return row.op;
  }
  return std::nullopt;
}

bool writes_dst(Op op) { return writes(shape_info(op).dst); }

bool is_wide(Op op) {
  const OpInfo& row = info(op);
  const uint8_t klass = op_class(row.code);
  if (klass == cls::kAlu64 || klass == cls::kJmp) return true;
  if (row.shape == Shape::Atomic) return access_size(op) == 8;
  return row.shape == Shape::Lddw;
}

uint8_t access_size(Op op) {
  if (shape_info(op).memory == MemoryAccess::None) return 0;
  switch (info(op).code & 0x18) {
    case 0x00: return 4;
    case 0x08: return 2;
    case 0x10: return 1;
    default: return 8;
  }
}

bool is_lddw(Op op) { return info(op).shape == Shape::Lddw; }

Slot encode(Op op, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  const OpInfo& row = info(op);
  Slot slot;
  slot.code = row.code;
  slot.set_dst(dst);
  slot.set_src(src);
  slot.off = off;
  slot.imm = imm;
  switch (row.match) {
    case Match::None: break;
    case Match::Off: slot.off = static_cast<int16_t>(row.value); break;
    case Match::Imm: slot.imm = row.value; break;
    case Match::Src: slot.set_src(static_cast<uint8_t>(row.value)); break;
  }
  return slot;
}

std::array<Slot, 2> encode_lddw(uint8_t dst, uint64_t imm64, Op op) {
  Slot first = encode(op, dst, 0, 0, static_cast<int32_t>(static_cast<uint32_t>(imm64)));
  Slot second;
  second.imm = static_cast<int32_t>(static_cast<uint32_t>(imm64 >> 32));
  return {first, second};
}

std::string slot_hex(const Slot& slot) {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint8_t bytes[sizeof slot];
  std::memcpy(bytes, &slot, sizeof slot);
  std::string text;
  for (uint8_t byte : bytes) text.append({kDigits[byte >> 4], kDigits[byte & 0xf]});
  return text;
}

std::vector<uint8_t> to_bytes(std::span<const Slot> slots) {
  std::vector<uint8_t> bytes(slots.size() * sizeof(Slot));
  if (!slots.empty()) std::memcpy(bytes.data(), slots.data(), bytes.size());
  return bytes;
}

}  // namespace bpfkit::isa
