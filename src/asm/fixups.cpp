// Encoding an instruction; operands not known yet become fixups, resolved at
// the end into fields or relocations.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

void Assembler::emit(const OpInfo& row, const Operands& ops, Tokens statement) {
  const uint64_t offset = here();
  isa::Slot slot =
      isa::encode(row.op, static_cast<uint8_t>(std::max(ops.dst, 0)), static_cast<uint8_t>(std::max(ops.src, 0)));
  const isa::ShapeInfo& shape = isa::shape_info(row.shape);
  std::optional<isa::Slot> second;
  if (shape.imm == isa::FieldUse::Imm64) second = isa::Slot{};
  if (ops.has_off && !resolve_into(FixupKind::Off16, ops.off, offset, slot, second, ops.off_sign)) return;
  // A call's immediate may name a function: a local call or a relocation.
  FixupKind imm_kind = FixupKind::Imm32;
  if (shape.imm == isa::FieldUse::Imm64) imm_kind = FixupKind::Imm64;
  if (shape.flow == isa::Flow::Call && shape.imm == isa::FieldUse::Value) imm_kind = FixupKind::Call;
  if (ops.has_imm && !resolve_into(imm_kind, ops.imm, offset, slot, second, ops.imm_sign)) return;
  if (ops.has_split_imm && !split_imm(ops, slot)) return;
  if (ops.has_target && !resolve_into(FixupKind::Branch, ops.target, offset, slot, second, 1)) return;
  if (row.op == Op::callx) place_callx_register(slot);
  static_cast<void>(statement);
  append(&slot, sizeof slot);
  if (second) append(&*second, sizeof *second);
}

// sBPF's callx names its register in imm (v0, v1), src (v2) or dst (v3,
// and Linux): where the dialect's semantics say its decoder reads it.
void Assembler::place_callx_register(isa::Slot& slot) const {
  const isa::Field field = isa::semantics(Op::callx, options_.dialect).callx_register;
  if (field != isa::Field::Src && field != isa::Field::Imm) return;
  const uint8_t target = slot.dst();
  slot.set_dst(0);
  if (field == isa::Field::Src)
    slot.set_src(target);
  else
    slot.imm = target;
}

// addr_space_cast(r2, DST_AS, SRC_AS): imm = DST_AS << 16 | SRC_AS.
bool Assembler::split_imm(const Operands& ops, isa::Slot& slot) {
  auto hi = constant(ops.imm_hi, "address space");
  auto lo = constant(ops.imm_lo, "address space");
  if (!hi || !lo) return false;
  if (*hi > 0xffff || *lo > 0xffff) {
    error_at(ops.imm_hi[0], "address spaces are 16-bit numbers");
    return false;
  }
  slot.imm = static_cast<int32_t>((*hi << 16) | *lo);
  return true;
}

// Evaluates now when every symbol is known (and writes the field), else
// records a fixup. Jumps always wait for the end: their labels are usually
// ahead. False when an error was reported.
bool Assembler::resolve_into(FixupKind kind, Tokens expr, uint64_t offset, isa::Slot& slot,
                             std::optional<isa::Slot>& second, int sign) {
  if (kind == FixupKind::Branch) {
    fixups_.push_back(Fixup{kind, current_, offset, 0, sign, keep(expr), expr.size(), line_, offset});
    return true;
  }
  Evaluation result = evaluate(expr, offset, true);
  if (!result.value && !result.undefined) {
    evaluate(expr, offset, false);  // report the error
    return false;
  }
  if (result.value && result.value->absolute()) {
    const int64_t value = sign < 0 ? -result.value->constant : result.value->constant;
    return store_field(kind == FixupKind::Call ? FixupKind::Imm32 : kind, value, expr, slot, second);
  }
  if (result.undefined || kind == FixupKind::Call || kind == FixupKind::Imm64) {
    fixups_.push_back(Fixup{kind, current_, offset, 0, sign, keep(expr), expr.size(), line_, offset});
    return true;
  }
  error_at(expr[0], "a symbol cannot be used here; only lddw, call and jumps take symbols");
  return false;
}

bool Assembler::store_field(FixupKind kind, int64_t value, Tokens expr, isa::Slot& slot,
                            std::optional<isa::Slot>& second) {
  switch (kind) {
    case FixupKind::Off16:
      if (value < INT16_MIN || value > INT16_MAX) {
        error_at(expr[0], "offset " + std::to_string(value) + " does not fit in 16 bits (-32768..32767)");
        return false;
      }
      slot.off = static_cast<int16_t>(value);
      return true;
    case FixupKind::Imm32:
    case FixupKind::Call:
      if (value < INT32_MIN || value > static_cast<int64_t>(UINT32_MAX)) {
        error_at(expr[0], "immediate " + std::to_string(value) + " does not fit in 32 bits");
        return false;
      }
      slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
      return true;
    case FixupKind::Imm64:
      if (slot.src() != 0 && value >= INT32_MIN && value <= static_cast<int64_t>(UINT32_MAX)) {
        // ld_pseudo: a 32-bit value (map fd, BTF id, ...) is the first
        // slot's imm alone, as LLVM encodes `ld_pseudo r7, 2, -1`. Wider
        // values also fill the second slot, whose imm the kernel reads as
        // the offset into a map value.
        slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
        second->imm = 0;
        return true;
      }
      slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
      second->imm = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32));
      return true;
    case FixupKind::Branch:
    case FixupKind::Data:
    case FixupKind::Size: return true;  // handled by fixups
  }
  return true;
}

// Copies an expression's tokens into one buffer shared by all fixups.
size_t Assembler::keep(Tokens expr) {
  const size_t start = fixup_tokens_.size();
  fixup_tokens_.insert(fixup_tokens_.end(), expr.begin(), expr.end());
  return start;
}

Tokens Assembler::expression_of(const Fixup& fixup) const {
  return Tokens(fixup_tokens_).subspan(fixup.expr_start, fixup.expr_size);
}

void Assembler::resolve_fixups() {
  for (const Fixup& fixup : fixups_) {
    line_ = fixup.line;
    const Tokens expr = expression_of(fixup);
    const uint32_t saved = current_;
    current_ = fixup.section;
    if (fixup.kind == FixupKind::Size) {
      set_size(fixup.symbol, expr, fixup.location);
      current_ = saved;
      continue;
    }
    Evaluation result = evaluate(expr, fixup.location, false);
    current_ = saved;
    if (!result.value) continue;
    if (fixup.kind == FixupKind::Data)
      apply_data(fixup, *result.value);
    else
      apply_instruction(fixup, *result.value);
  }
}

uint8_t* Assembler::bytes_at(const Fixup& fixup) {
  return sections_[fixup.section].section.bytes.data() + fixup.offset;
}

isa::Slot Assembler::read_slot(const Fixup& fixup, size_t index) {
  isa::Slot slot;
  std::memcpy(&slot, bytes_at(fixup) + index * sizeof slot, sizeof slot);
  return slot;
}

void Assembler::write_slot(const Fixup& fixup, const isa::Slot& slot, size_t index) {
  std::memcpy(bytes_at(fixup) + index * sizeof slot, &slot, sizeof slot);
}

void Assembler::apply_instruction(const Fixup& fixup, const Value& value) {
  isa::Slot slot = read_slot(fixup);
  std::optional<isa::Slot> second;
  const Tokens expr = expression_of(fixup);
  switch (fixup.kind) {
    case FixupKind::Branch: return apply_branch(fixup, value, slot);
    case FixupKind::Call: return apply_call(fixup, value, slot);
    case FixupKind::Imm64: {
      second = read_slot(fixup, 1);
      int64_t addend = value.constant;
      if (!value.absolute()) addend = relocate(fixup, value, kRelBpf64_64);
      store_field(FixupKind::Imm64, addend, expr, slot, second);
      write_slot(fixup, *second, 1);
      break;
    }
    default:
      if (!value.absolute())
        return error_at(expr[0], "a symbol cannot be used here; only lddw, call and jumps take symbols");
      if (!store_field(fixup.kind, fixup.sign < 0 ? -value.constant : value.constant, expr, slot, second)) return;
  }
  write_slot(fixup, slot);
}

// Records a relocation for `value` at the fixup and returns the addend to
// store: local symbols are named by their section (addend = offset), as
// llvm-mc and GNU as do; global and undefined ones by themselves.
int64_t Assembler::relocate(const Fixup& fixup, const Value& value, uint32_t type) {
  SymbolState& sym = symbols_[value.symbol];
  sym.referenced = true;
  if (sym.defined && sym.binding == Binding::Local && sym.section >= 0) {
    relocations_.push_back(Relocation{fixup.section, fixup.offset, type, sections_[sym.section].section.name});
    return static_cast<int64_t>(sym.value) + value.constant;
  }
  relocations_.push_back(Relocation{fixup.section, fixup.offset, type, sym.name});
  return value.constant;
}

void Assembler::apply_branch(const Fixup& fixup, const Value& value, isa::Slot& slot) {
  const Tokens expr = expression_of(fixup);
  int64_t delta = 0;
  if (value.absolute()) {
    delta = value.constant;  // a numeric offset in slots
  } else {
    const SymbolState& sym = symbols_[value.symbol];
    if (!sym.defined) return error_at(expr[0], "undefined label '" + sym.name + "'");
    if (sym.section != static_cast<int32_t>(fixup.section))
      return error_at(expr[0], "label '" + sym.name + "' is in another section");
    const int64_t bytes = static_cast<int64_t>(sym.value) + value.constant - static_cast<int64_t>(fixup.offset) - 8;
    if (bytes % 8 != 0) {
      // `.` is a hidden symbol; its name is for the assembler only.
      const std::string shown = sym.name.starts_with(kHiddenPrefix) ? "." : sym.name;
      return error_at(expr[0], "jump target '" + shown + "' " +
                                   (value.constant ? "plus " + std::to_string(value.constant) + " " : "") +
                                   "is not at an instruction boundary (a multiple of 8 bytes)");
    }
    delta = bytes / 8;
  }
  const Op op = *isa::lookup(slot);
  const bool wide = isa::target_field(op) == isa::TargetField::Imm;
  if (!wide && (delta < INT16_MIN || delta > INT16_MAX)) {
    // `goto` to a far label becomes `gotol`, as LLVM does.
    if (op == Op::ja && has(Op::gotol) && !value.absolute() && delta >= INT32_MIN && delta <= INT32_MAX) {
      slot = isa::encode(Op::gotol, 0, 0, 0, static_cast<int32_t>(delta));
      write_slot(fixup, slot);
      return;
    }
    return error_at(expr[0], "jump offset " + std::to_string(delta) + " does not fit in 16 bits (-32768..32767)");
  }
  if (wide && (delta < INT32_MIN || delta > INT32_MAX))
    return error_at(expr[0], "jump offset " + std::to_string(delta) + " does not fit in 32 bits");
  if (wide)
    slot.imm = static_cast<int32_t>(delta);
  else
    slot.off = static_cast<int16_t>(delta);
  write_slot(fixup, slot);
}

// `call sym`: a function in this section is a local call; anything else a
// relocation (R_BPF_64_32) for the loader, with imm = -1 as LLVM writes.
void Assembler::apply_call(const Fixup& fixup, const Value& value, isa::Slot& slot) {
  const Tokens expr = expression_of(fixup);
  if (value.absolute()) {
    std::optional<isa::Slot> none;
    if (store_field(FixupKind::Imm32, value.constant, expr, slot, none)) write_slot(fixup, slot);
    return;
  }
  const SymbolState& sym = symbols_[value.symbol];
  if (!sym.defined && options_.dialect.sbpf.static_syscalls) {
    // sBPF v3 (SIMD-0178): a syscall is `call` src 0 with the Murmur3 hash of
    // its name; the loader applies no relocations.
    slot = isa::encode(Op::call, 0, 0, 0, static_cast<int32_t>(isa::murmur3_32(sym.name)));
    return write_slot(fixup, slot);
  }
  slot = isa::encode(Op::call_local);
  if (sym.defined && sym.section == static_cast<int32_t>(fixup.section)) {
    const int64_t bytes = static_cast<int64_t>(sym.value) + value.constant - static_cast<int64_t>(fixup.offset) - 8;
    slot.imm = static_cast<int32_t>(bytes / 8);
  } else {
    const int64_t addend = relocate(fixup, value, kRelBpf64_32);
    const bool by_section = sym.defined && sym.binding == Binding::Local;
    slot.imm = by_section ? static_cast<int32_t>(addend / 8 - 1) : -1;
  }
  write_slot(fixup, slot);
}

void Assembler::apply_data(const Fixup& fixup, const Value& value) {
  const Tokens expr = expression_of(fixup);
  int64_t v = value.constant;
  if (!value.absolute()) {
    if (fixup.data_size != 8 && fixup.data_size != 4)
      return error_at(expr[0], "a symbol needs a .quad or .long (8 or 4 bytes)");
    v = relocate(fixup, value, fixup.data_size == 8 ? kRelBpf64Abs64 : kRelBpf64Abs32);
  } else {
    check_data_range(v, fixup.data_size, expr);
  }
  std::memcpy(bytes_at(fixup), &v, fixup.data_size);
}

}  // namespace bpfkit::assembly::detail
