// Reserved fields: the kernel's checks that an instruction's unused fields
// are zero, made where the kernel makes them. Two are in the first pass
// (resolve_pseudo_ldimm64: an LDX with a non-zero imm, an opcode byte the
// interpreter does not know); every other one is in do_check, so it only
// rejects an instruction some path reaches. A program whose malformed
// instruction sits in a branch no path takes loads in the kernel.
//
// isa::decode refuses a malformed field anywhere, so verify_slots decodes a
// cleaned copy (the unused fields zeroed; an undecodable instruction that
// falls through replaced by one that also does) and the second pass rejects
// the original fields, in the kernel's words, when a path reaches them.
#include "internal.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Slot;
namespace cls = isa::cls;

// The opcode byte's fields (RFC 9669).
constexpr uint8_t kOpMask = 0xf0, kModeMask = 0xe0, kSourceReg = 0x08, kSizeMask = 0x18;
constexpr uint8_t kAluNeg = 0x80, kAluMov = 0xb0, kAluEnd = 0xd0, kAluDiv = 0x30, kAluMod = 0x90;
constexpr uint8_t kJmpJa = 0x00, kJmpCall = 0x80, kJmpExit = 0x90, kJmpCond = 0xe0;
constexpr uint8_t kModeImm = 0x00, kModeAbs = 0x20, kModeMem = 0x60, kModeMemSx = 0x80, kModeAtomic = 0xc0;
constexpr uint8_t kSizeDw = 0x18;
constexpr uint8_t kPseudoCall = 1, kPseudoKfuncCall = 2;

// "8d": the kernel prints opcode bytes without a prefix.
std::string opcode_hex(uint8_t code) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return {kDigits[code >> 4], kDigits[code & 0xf]};
}

bool is_alu(uint8_t code) { return isa::op_class(code) == cls::kAlu || isa::op_class(code) == cls::kAlu64; }
bool is_jmp(uint8_t code) { return isa::op_class(code) == cls::kJmp || isa::op_class(code) == cls::kJmp32; }

std::optional<std::string> alu_fields(const Slot& slot) {
  const uint8_t op = slot.code & kOpMask;
  const bool by_reg = (slot.code & kSourceReg) != 0, wide = isa::op_class(slot.code) == cls::kAlu64;
  if (op == kAluNeg) {
    if (by_reg || slot.src() != 0 || slot.off != 0 || slot.imm != 0) return "BPF_NEG uses reserved fields";
    return std::nullopt;
  }
  if (op == kAluEnd) {
    const bool width_ok = slot.imm == 16 || slot.imm == 32 || slot.imm == 64;
    if (slot.src() != 0 || slot.off != 0 || !width_ok || (wide && by_reg)) return "BPF_END uses reserved fields";
    return std::nullopt;
  }
  if (op == kAluMov) {
    if (!by_reg) {
      if (slot.src() != 0 || slot.off != 0) return "BPF_MOV uses reserved fields";
      return std::nullopt;
    }
    const bool width_ok = slot.off == 0 || slot.off == 8 || slot.off == 16 || (wide && slot.off == 32);
    const bool address_space_cast = wide && slot.off == 1;
    if (!address_space_cast && (!width_ok || slot.imm != 0)) return "BPF_MOV uses reserved fields";
    return std::nullopt;
  }
  const bool signed_ok = slot.off == 0 || (slot.off == 1 && (op == kAluDiv || op == kAluMod));
  if (by_reg ? (slot.imm != 0 || !signed_ok) : (slot.src() != 0 || !signed_ok)) return "BPF_ALU uses reserved fields";
  return std::nullopt;
}

std::optional<std::string> jmp_fields(const Slot& slot) {
  const uint8_t op = slot.code & kOpMask;
  const bool by_reg = (slot.code & kSourceReg) != 0, jmp32 = isa::op_class(slot.code) == cls::kJmp32;
  switch (op) {
    case kJmpCall: {
      const uint8_t src = slot.src();
      if (by_reg || (src != kPseudoKfuncCall && slot.off != 0) ||
          (src != 0 && src != kPseudoCall && src != kPseudoKfuncCall) || slot.dst() != 0 || jmp32)
        return "BPF_CALL uses reserved fields";
      return std::nullopt;
    }
    case kJmpJa:
      if (by_reg || slot.src() != 0 || slot.dst() != 0 || (!jmp32 && slot.imm != 0) || (jmp32 && slot.off != 0))
        return "BPF_JA uses reserved fields";
      return std::nullopt;
    case kJmpExit:
      if (by_reg || slot.imm != 0 || slot.src() != 0 || slot.dst() != 0 || jmp32)
        return "BPF_EXIT uses reserved fields";
      return std::nullopt;
    case kJmpCond:  // check_cond_jmp_op: may_goto has no operands but its offset
      if (by_reg || jmp32 || slot.src() != 0 || slot.dst() != 0 || slot.imm != 0)
        return "invalid may_goto imm " + std::to_string(slot.imm);
      return std::nullopt;
    default:
      if (by_reg ? slot.imm != 0 : slot.src() != 0) return "BPF_JMP/JMP32 uses reserved fields";
      return std::nullopt;
  }
}

std::optional<std::string> ld_fields(const Slot& slot) {
  const uint8_t mode = slot.code & kModeMask;
  if (mode == kModeImm) {
    if (slot.off != 0) return "BPF_LD_IMM64 uses reserved fields";
    return std::nullopt;
  }
  if (slot.dst() != 0 || slot.off != 0 || (slot.code & kSizeMask) == kSizeDw || (mode == kModeAbs && slot.src() != 0))
    return "BPF_LD_[ABS|IND] uses reserved fields";
  return std::nullopt;
}

// Any Linux row with this opcode byte: the kernel's bpf_opcode_in_insntable
// (which has no callx: only LLVM encodes it).
bool known_code(uint8_t code) {
  for (const isa::OpInfo& row : isa::kOps)
    if (row.code == code && isa::is_linux(row) && row.group != isa::Group::Callx) return true;
  return false;
}

// Zeroes the register fields `row` does not use (its discriminator aside).
// Returns the kernel's message for a register the row uses that does not
// exist or may not be written, if any.
// "R12 is invalid" (built by appending: GCC 12 warns, -Wrestrict, on "R" + string).
std::string invalid_register(int regno) {
  std::string message(1, 'R');
  return message.append(std::to_string(regno)).append(" is invalid");
}

std::optional<std::string> clean_registers(Slot& slot, const isa::OpInfo& row) {
  const isa::ShapeInfo& shape = isa::shape_info(row.shape);
  std::optional<std::string> why;
  if (shape.dst == isa::RegAccess::Unused) {
    slot.set_dst(0);
  } else if (slot.dst() >= isa::kRegisterCount) {
    why = invalid_register(slot.dst());
    slot.set_dst(0);
  } else if (isa::writes(shape.dst) && slot.dst() == isa::kFramePointer) {
    why = "frame pointer is read only";
    slot.set_dst(0);
  }
  if (row.match != isa::Match::Src) {
    if (shape.src == isa::RegAccess::Unused) {
      slot.set_src(0);
    } else if (slot.src() >= isa::kRegisterCount) {
      if (!why) why = invalid_register(slot.src());
      slot.set_src(0);
    }
  }
  return why;
}

}  // namespace

std::optional<std::string> reserved_fields(const Slot& slot) {
  if (is_alu(slot.code)) return alu_fields(slot);
  if (is_jmp(slot.code)) return jmp_fields(slot);
  switch (isa::op_class(slot.code)) {
    case cls::kLd: return ld_fields(slot);
    case cls::kSt:
      if ((slot.code & kModeMask) != kModeMem || slot.src() != 0) return "BPF_ST uses reserved fields";
      return std::nullopt;
    case cls::kStx:
      if ((slot.code & kModeMask) == kModeAtomic) return std::nullopt;  // the imm selects the operation
      if ((slot.code & kModeMask) != kModeMem || slot.imm != 0) return "BPF_STX uses reserved fields";
      return std::nullopt;
    default: return std::nullopt;  // LDX: the first pass
  }
}

std::optional<Reject> check_first_pass_fields(std::span<const Slot> slots) {
  for (size_t pc = 0; pc < slots.size(); ++pc) {
    const Slot& slot = slots[pc];
    const auto here = static_cast<uint32_t>(pc);
    if (isa::op_class(slot.code) == cls::kLdx) {
      const uint8_t mode = slot.code & kModeMask;
      if ((mode != kModeMem && mode != kModeMemSx) || slot.imm != 0)
        return Reject{Errno::Einval, here, "BPF_LDX uses reserved fields"};
    }
    const auto op = isa::lookup(slot);
    if (op && isa::is_lddw(*op)) {
      ++pc;  // the second slot's own checks are check_raw_slots'
      continue;
    }
    if (!known_code(slot.code)) return Reject{Errno::Einval, here, "unknown opcode " + opcode_hex(slot.code)};
  }
  return std::nullopt;
}

std::vector<Slot> clean_reserved_fields(std::span<const Slot> slots, std::vector<std::string>& deferred) {
  std::vector<Slot> cleaned(slots.begin(), slots.end());
  deferred.assign(slots.size(), {});
  for (size_t pc = 0; pc < cleaned.size(); ++pc) {
    Slot& slot = cleaned[pc];
    if (auto why = reserved_fields(slots[pc])) deferred[pc] = *why;
    std::optional<isa::Op> op = isa::lookup(slot);
    if (!op && is_jmp(slot.code)) {  // keep the control flow: clear what only selects a row
      const uint8_t kind = slot.code & kOpMask;
      if (kind == kJmpJa) slot.imm = isa::op_class(slot.code) == cls::kJmp ? 0 : slot.imm;
      if (kind == kJmpJa && isa::op_class(slot.code) == cls::kJmp32) slot.off = 0;
      if (kind == kJmpCall) slot = isa::encode(isa::Op::call, 0, 0, 0, slot.imm);
      op = isa::lookup(slot);
    }
    if (!op && !is_jmp(slot.code) && known_code(slot.code) && isa::op_class(slot.code) != cls::kLd) {
      const bool atomic = isa::op_class(slot.code) == cls::kStx && (slot.code & kModeMask) == kModeAtomic;
      if (deferred[pc].empty())
        deferred[pc] = atomic ? "BPF_ATOMIC uses invalid atomic opcode " + opcode_hex(static_cast<uint8_t>(slot.imm))
                              : "unknown opcode " + opcode_hex(slot.code);
      slot = isa::encode(isa::Op::mov64_imm, 0, 0, 0, 0);  // falls through, as the original would
      op = isa::lookup(slot);
    }
    if (!op) continue;  // decode says why
    if (auto why = clean_registers(slot, isa::info(*op)); why && deferred[pc].empty()) deferred[pc] = *why;
    if (isa::is_lddw(*op)) ++pc;
  }
  return cleaned;
}

}  // namespace bpfkit::verify::detail
