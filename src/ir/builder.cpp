// The builder: the spec's insert positions (before/after an instruction,
// front/back of a block) plus before the terminator and after the phis, and
// one constructor per kind of instruction.
#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

Position before(Inst* inst) { return {inst->parent(), inst}; }
Position after(Inst* inst) { return {inst->parent(), inst->next()}; }
Position front(Block* block) { return {block, block->first()}; }
Position back(Block* block) { return {block, nullptr}; }
Position before_terminator(Block* block) { return {block, block->terminator()}; }
Position after_phis(Block* block) { return {block, block->first_non_phi()}; }

Inst* Builder::create(Opcode op, const Attrs& attrs, std::span<Value* const> operands) {
  Inst* inst = new Inst(op, attrs);
  inst->origin_ = origin_;
  inst->resize_operands(operands.size());
  for (size_t i = 0; i < operands.size(); ++i) inst->set_operand(i, operands[i]);
  at_.block->insert_before(inst, at_.before);
  return inst;
}

Inst* Builder::binary(Opcode op, uint8_t width, Value* a, Value* b, isa::Extension ext) {
  Attrs attrs;
  attrs.width = width;
  attrs.ext = width == 64 ? isa::Extension::None : ext;
  Value* operands[] = {a, b};
  return create(op, attrs, operands);
}

Inst* Builder::neg(uint8_t width, Value* a, isa::Extension ext) {
  Attrs attrs;
  attrs.width = width;
  attrs.ext = width == 64 ? isa::Extension::None : ext;
  Value* operands[] = {a};
  return create(Opcode::Neg, attrs, operands);
}

Inst* Builder::sext(uint8_t from_bits, uint8_t to_bits, Value* a) {
  Attrs attrs;
  attrs.width = from_bits;
  attrs.to = to_bits;
  Value* operands[] = {a};
  return create(Opcode::SExt, attrs, operands);
}

Inst* Builder::zext(uint8_t from_bits, Value* a) {
  Attrs attrs;
  attrs.width = from_bits;
  Value* operands[] = {a};
  return create(Opcode::ZExt, attrs, operands);
}

Inst* Builder::byte_swap(Opcode op, uint8_t width, Value* a) {
  Attrs attrs;
  attrs.width = width;
  Value* operands[] = {a};
  return create(op, attrs, operands);
}

Inst* Builder::assign(Value* a) {
  Value* operands[] = {a};
  return create(Opcode::Assign, {}, operands);
}

Inst* Builder::phi() { return create(Opcode::Phi, {}); }

Inst* Builder::alloc(uint32_t bytes) {
  Attrs attrs;
  attrs.imm = bytes;
  return create(Opcode::Alloc, attrs);
}

Inst* Builder::alloc_array(uint32_t element_bytes, uint32_t count) {
  Attrs attrs;
  attrs.imm = element_bytes;
  attrs.aux = static_cast<int32_t>(count);
  return create(Opcode::AllocArray, attrs);
}

Inst* Builder::load(uint8_t width, bool is_signed, Value* alloc, int32_t offset) {
  Attrs attrs;
  attrs.width = width;
  attrs.is_signed = is_signed;
  attrs.offset = offset;
  Value* operands[] = {alloc};
  return create(Opcode::Load, attrs, operands);
}

Inst* Builder::store(uint8_t width, Value* alloc, int32_t offset, Value* value) {
  Attrs attrs;
  attrs.width = width;
  attrs.offset = offset;
  Value* operands[] = {alloc, value};
  return create(Opcode::Store, attrs, operands);
}

Inst* Builder::load_raw(uint8_t width, bool is_signed, Value* address, int32_t offset) {
  Attrs attrs;
  attrs.width = width;
  attrs.is_signed = is_signed;
  attrs.offset = offset;
  Value* operands[] = {address};
  return create(Opcode::LoadRaw, attrs, operands);
}

Inst* Builder::store_raw(uint8_t width, Value* address, int32_t offset, Value* value) {
  Attrs attrs;
  attrs.width = width;
  attrs.offset = offset;
  Value* operands[] = {address, value};
  return create(Opcode::StoreRaw, attrs, operands);
}

Inst* Builder::atomic(AtomicOp op, uint8_t width, bool fetch, Value* address, int32_t offset, Value* value,
                      Value* expected) {
  Attrs attrs;
  attrs.atomic = op;
  attrs.width = width;
  attrs.fetch = fetch || op == AtomicOp::Xchg || op == AtomicOp::Cmpxchg;
  attrs.offset = offset;
  if (op == AtomicOp::Cmpxchg) {
    Value* operands[] = {address, expected, value};
    return create(Opcode::Atomic, attrs, operands);
  }
  Value* operands[] = {address, value};
  return create(Opcode::Atomic, attrs, operands);
}

Inst* Builder::call(CallKind kind, int64_t imm, std::span<Value* const> args, Function* callee) {
  Attrs attrs;
  attrs.call = kind;
  attrs.imm = imm;
  Inst* inst = create(Opcode::Call, attrs, args);
  inst->callee_ = callee;
  return inst;
}

Inst* Builder::jump(Block* target) {
  Inst* inst = new Inst(Opcode::Ja, {});
  inst->origin_ = origin_;
  inst->targets_[0] = target;
  at_.block->insert_before(inst, at_.before);
  return inst;
}

Inst* Builder::branch(isa::Condition cond, uint8_t width, Value* a, Value* b, Block* taken, Block* not_taken) {
  Attrs attrs;
  attrs.cond = cond;
  attrs.width = width;
  Inst* inst = new Inst(Opcode::Br, attrs);
  inst->origin_ = origin_;
  inst->resize_operands(2);
  inst->set_operand(0, a);
  inst->set_operand(1, b);
  inst->targets_ = {taken, not_taken};
  at_.block->insert_before(inst, at_.before);
  return inst;
}

Inst* Builder::ret(Value* r0) {
  Value* operands[] = {r0};
  return create(Opcode::Ret, {}, operands);
}

}  // namespace bpfkit::ir
