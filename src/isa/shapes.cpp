// The shapes table's questions: targets, and the registers an instruction
// reads and writes.
#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

namespace {

// Rows that assign dst without reading it.
bool overwrites_dst(Operation operation) {
  return operation == Operation::Mov || operation == Operation::MovSx || operation == Operation::AddrSpaceCast;
}

// The register the dst column stands for: callx's may sit in another field.
int dst_register(Op op, const Slot& slot, const Dialect& dialect) {
  if (base_semantics(op).operation == Operation::Callx) return static_cast<int>(callx_register(slot, dialect));
  return slot.dst();
}

}  // namespace

std::string RegSet::to_string() const {
  std::string out = "{";
  for (int reg = 0; reg < 16; ++reg) {
    if (!contains(reg)) continue;
    if (out.size() > 1) out += ", ";
    out.append("r").append(std::to_string(reg));
  }
  return out + "}";
}

std::optional<int64_t> branch_target(Op op, const Slot& slot, int64_t pc) {
  switch (target_field(op)) {
    case TargetField::Off: return pc + 1 + slot.off;
    case TargetField::Imm: return pc + 1 + slot.imm;
    case TargetField::None: break;
  }
  return std::nullopt;
}

int64_t branch_target(const Program& program, size_t pc) {
  return branch_target(*program.ops[pc], program.slots[pc], static_cast<int64_t>(pc)).value_or(-1);
}

RegSet regs_used(Op op, const Slot& slot, const Dialect& dialect) {
  const ShapeInfo& shape = shape_info(op);
  const Semantics meaning = base_semantics(op);
  RegSet used = shape.uses;
  if (reads(shape.dst) && !overwrites_dst(meaning.operation)) used.insert(dst_register(op, slot, dialect));
  if (reads(shape.src)) used.insert(slot.src());
  if (meaning.operation == Operation::AtomicCmpxchg) used.insert(0);  // the expected value
  return used;
}

RegSet regs_written(Op op, const Slot& slot, const Dialect& dialect) {
  const ShapeInfo& shape = shape_info(op);
  const Semantics meaning = base_semantics(op);
  RegSet written = shape.writes;
  if (writes(shape.dst)) written.insert(dst_register(op, slot, dialect));
  if (writes(shape.src)) written.insert(slot.src());
  // An atomic fetch returns the old value in src; cmpxchg returns it in r0.
  if (meaning.fetch) written.insert(meaning.operation == Operation::AtomicCmpxchg ? 0 : slot.src());
  return written;
}

bool core_patchable(Op op) {
  const OpInfo& row = info(op);
  const ShapeInfo& shape = shape_info(op);
  const uint8_t cls = op_class(row.code);
  if (!is_linux(row)) return false;
  if (cls == cls::kAlu || cls == cls::kAlu64) return shape.imm == FieldUse::Value;
  if (cls == cls::kLdx || cls == cls::kSt || cls == cls::kStx)
    return shape.off == FieldUse::Offset && shape.memory != MemoryAccess::Atomic;
  return op == Op::lddw;
}

bool core_patchable(Op op, const Slot& slot) { return core_patchable(op) && (op != Op::lddw || slot.off == 0); }

}  // namespace bpfkit::isa
