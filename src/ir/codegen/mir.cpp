// What each row asks of the register allocator, read from the shapes and
// semantics tables (see mir.hpp).
#include "mir.hpp"

namespace bpfkit::ir::codegen {

using isa::Operation;

bool clobbers_caller_saved(isa::Op op) { return (isa::shape_info(op).writes & isa::kArgRegs) == isa::kArgRegs; }

std::vector<uint8_t> fixed_use_registers(const MInst& inst) {
  const isa::ShapeInfo& shape = isa::shape_info(inst.op);
  std::vector<uint8_t> regs;
  if (shape.flow == isa::Flow::Call) {
    for (size_t i = 0; i < inst.fixed_uses.size(); ++i) regs.push_back(static_cast<uint8_t>(1 + i));
  } else if (shape.memory == isa::MemoryAccess::Packet) {
    regs.push_back(6);
  } else if (!inst.fixed_uses.empty()) {
    regs.push_back(0);  // exit's return value, cmpxchg's expected value
  }
  return regs;
}

std::optional<uint8_t> fixed_def_register(isa::Op op) {
  const isa::ShapeInfo& shape = isa::shape_info(op);
  if (shape.flow == isa::Flow::Call || shape.memory == isa::MemoryAccess::Packet) return 0;
  if (isa::base_semantics(op).operation == Operation::AtomicCmpxchg) return 0;
  return std::nullopt;
}

Tie tie_of(isa::Op op) {
  const isa::Semantics s = isa::base_semantics(op);
  if (s.operation == Operation::AtomicCmpxchg) return Tie::None;  // r0 in, r0 out: fixed registers
  if (isa::shape_info(op).memory == isa::MemoryAccess::Atomic) return s.fetch ? Tie::Src : Tie::None;
  if (s.operation == Operation::AtomicXchg) return Tie::Src;
  if (s.operation == Operation::Mov || s.operation == Operation::MovSx || s.operation == Operation::AddrSpaceCast)
    return Tie::None;  // they write dst without reading it
  return isa::shape_info(op).dst == isa::RegAccess::ReadWrite ? Tie::Dst : Tie::None;
}

}  // namespace bpfkit::ir::codegen
