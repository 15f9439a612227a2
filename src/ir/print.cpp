// The text form (docs/ARCHITECTURE.md, module ir). One line per
// instruction: `%N = mnemonic.suffixes operands  !pc`; `;` starts a comment.
// Printing renumbers, so print(parse(print(m))) == print(m).
#include <sstream>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

namespace {

std::string int_text(const Const& c) {
  const int64_t s = c.as_signed();
  if (s > -65536 && s < 65536) return std::to_string(s);
  std::ostringstream out;
  out << "0x" << std::hex << c.bits();
  return out.str();
}

std::string block_name(const Block* block) {
  return block ? std::string("b") + std::to_string(block->number()) : "<null>";
}

std::string value_text(const Value* value) {
  if (!value) return "<null>";
  switch (value->kind()) {
    case ValueKind::Inst: return std::string("%") + std::to_string(static_cast<const Inst*>(value)->number());
    case ValueKind::FramePointer: return "%fp";
    case ValueKind::Arg: return std::string("%arg") + std::to_string(static_cast<const Special*>(value)->reg());
    case ValueKind::Undef: return "undef";
    case ValueKind::Const: break;
  }
  const auto& c = *static_cast<const Const*>(value);
  const std::string name(const_kind_name(c.const_kind()));
  switch (c.const_kind()) {
    case ConstKind::Int: return std::string("i") + std::to_string(c.width()) + " " + int_text(c);
    case ConstKind::MapFd:
    case ConstKind::MapIdx: return name + std::string("(") + std::to_string(c.index()) + ")";
    case ConstKind::MapValue:
    case ConstKind::MapIdxValue:
    case ConstKind::BtfId:
      return name + std::string("(") + std::to_string(c.index()) + std::string(", ") +
             std::to_string(static_cast<int32_t>(c.bits())) + ")";
    case ConstKind::Func: return "func(@" + (c.target() ? c.target()->name() : std::string("?")) + ")";
  }
  return "?";
}

std::string width_suffix(const Inst& inst) {
  const Attrs& a = inst.attrs();
  std::string text = std::string(".") + std::to_string(a.width);
  if (a.width == 32 && a.ext == isa::Extension::Zero) text += ".zext";
  if (a.width == 32 && a.ext == isa::Extension::Sign) text += ".sext";
  return text;
}

// The mnemonic with its suffixes.
std::string mnemonic(const Inst& inst) {
  const Attrs& a = inst.attrs();
  std::string name(info(inst.op()).text);
  const std::string bits = std::to_string(a.width);
  switch (inst.op()) {
    case Opcode::Neg: return name + width_suffix(inst);
    case Opcode::SExt: return name + "." + bits + std::string(".") + std::to_string(a.to);
    case Opcode::ZExt:
    case Opcode::Bswap:
    case Opcode::ToLe:
    case Opcode::ToBe:
    case Opcode::Store:
    case Opcode::StoreRaw:
    case Opcode::LdAbs:
    case Opcode::LdInd: return name + "." + bits;
    case Opcode::Load:
    case Opcode::LoadRaw: return name + (a.is_signed ? ".s" : ".u") + bits;
    case Opcode::Atomic: {
      std::string text = name + std::string(".") + std::string(atomic_name(a.atomic)) + "." + bits;
      const bool plain = a.atomic != AtomicOp::Xchg && a.atomic != AtomicOp::Cmpxchg;
      return plain && a.fetch ? text + ".fetch" : text;
    }
    case Opcode::Br: return name + std::string(".") + std::string(condition_name(a.cond)) + "." + bits;
    case Opcode::Core: return name + "." + std::string(isa::info(a.row).id);
    default: break;
  }
  if (is_binary(inst.op())) return name + width_suffix(inst);
  return name;
}

void print_operands(std::ostream& out, const Inst& inst) {
  const Attrs& a = inst.attrs();
  auto op = [&](size_t i) { return value_text(inst.operand(i)); };
  switch (inst.op()) {
    case Opcode::Phi:
      for (size_t i = 0; i < inst.operand_count(); ++i)
        out << (i ? ", [" : " [") << op(i) << ", " << block_name(inst.incoming_block(i)) << "]";
      return;
    case Opcode::Alloc: out << " " << a.imm; return;
    case Opcode::AllocArray: out << " " << a.imm << ", " << a.aux; return;
    case Opcode::Load:
    case Opcode::LoadRaw: out << " " << op(0) << ", " << a.offset; return;
    case Opcode::Store:
    case Opcode::StoreRaw: out << " " << op(0) << ", " << a.offset << ", " << op(1); return;
    case Opcode::Atomic:
      out << " " << op(0) << ", " << a.offset;
      for (size_t i = 1; i < inst.operand_count(); ++i) out << ", " << op(i);
      return;
    case Opcode::LdAbs: out << " " << op(0) << ", " << a.imm; return;
    case Opcode::Core:  // the registers it reads, then off, imm and the relocation
      for (size_t i = 0; i < inst.operand_count(); ++i) out << (i ? ", " : " ") << op(i);
      out << (inst.operand_count() ? ", " : " ") << a.offset << ", " << a.imm << ", " << a.aux;
      return;
    case Opcode::LdInd: out << " " << op(0) << ", " << op(1) << ", " << a.imm; return;
    case Opcode::AddrSpaceCast: out << " " << op(0) << ", " << a.imm; return;
    case Opcode::Call: {
      out << " " << call_kind_name(a.call);
      size_t first = 0;
      switch (a.call) {
        case CallKind::Local: out << " @" << (inst.callee() ? inst.callee()->name() : std::string("?")); break;
        case CallKind::Kfunc: out << " " << a.imm << ", " << a.aux; break;
        case CallKind::Syscall: out << " 0x" << std::hex << static_cast<uint32_t>(a.imm) << std::dec; break;
        case CallKind::Indirect:
          if (inst.operand_count() > 0) out << " " << op(0);
          first = 1;
          break;
        case CallKind::Helper: out << " " << a.imm; break;
      }
      out << " (";
      for (size_t i = first; i < inst.operand_count(); ++i) out << (i > first ? ", " : "") << op(i);
      out << ")";
      return;
    }
    case Opcode::Ja: out << " " << block_name(inst.target(0)); return;
    case Opcode::MayGoto: out << " " << block_name(inst.target(0)) << ", " << block_name(inst.target(1)); return;
    case Opcode::Br:
      out << " " << op(0) << ", " << op(1) << ", " << block_name(inst.target(0)) << ", " << block_name(inst.target(1));
      return;
    default: break;
  }
  for (size_t i = 0; i < inst.operand_count(); ++i) out << (i ? ", " : " ") << op(i);
}

void print_block(std::ostream& out, const Block& block) {
  out << block_name(&block) << ":";
  if (!block.preds().empty()) {
    out << "  ; preds";
    for (size_t i = 0; i < block.preds().size(); ++i) out << (i ? ", " : " ") << block_name(block.preds()[i]);
  }
  out << "\n";
  for (const Inst& inst : block) {
    out << "  ";
    if (inst.has_result()) out << "%" << inst.number() << " = ";
    out << mnemonic(inst);
    print_operands(out, inst);
    if (inst.origin() != kNoOrigin) out << "  !" << inst.origin();
    out << "\n";
  }
}

void print_function(std::ostream& out, Function& fn) {
  fn.renumber();
  out << "function @" << fn.name();
  if (fn.origin() != kNoOrigin) out << " origin " << fn.origin();
  out << " {\n";
  for (const Block* block : fn.blocks()) print_block(out, *block);
  out << "}\n";
}

}  // namespace

std::string print(Function& fn) {
  std::ostringstream out;
  print_function(out, fn);
  return out.str();
}

std::string print(Module& module) {
  std::ostringstream out;
  out << "dialect " << module.dialect().name << "\n";
  for (const auto& fn : module.functions()) {
    out << "\n";
    print_function(out, *fn);
  }
  return out.str();
}

// Shared with dot.cpp.
std::string value_name(const Value* value) { return value_text(value); }
std::string inst_text(const Inst& inst) {
  std::ostringstream out;
  if (inst.has_result()) out << "%" << inst.number() << " = ";
  out << mnemonic(inst);
  print_operands(out, inst);
  return out.str();
}

}  // namespace bpfkit::ir
