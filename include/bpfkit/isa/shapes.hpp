// Module isa: what each operand shape means (isa/shapes.def), and the
// registers each instruction reads and writes. Included at the end of
// bpfkit/isa.hpp. The decoder, the assembler, the conformance dialect, the
// disassembler and the editing API read operand layouts and target fields
// here; the verifier, the lifter and the JIT read regs_used / regs_written.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace bpfkit::isa {

// ---- Register sets -----------------------------------------------------------

// A set of registers r0..r15 (the 4-bit register fields; only r0..r10 exist).
class RegSet {
 public:
  constexpr RegSet() = default;
  constexpr RegSet(std::initializer_list<int> regs) {
    for (int reg : regs) insert(reg);
  }
  static constexpr RegSet from_bits(uint16_t bits) {
    RegSet set;
    set.bits_ = bits;
    return set;
  }

  constexpr bool contains(int reg) const { return reg >= 0 && reg < 16 && ((bits_ >> reg) & 1u) != 0; }
  // A number outside 0..15 names no register field; it is left out.
  constexpr void insert(int reg) {
    if (reg >= 0 && reg < 16) bits_ = static_cast<uint16_t>(bits_ | (1u << reg));
  }
  constexpr uint16_t bits() const { return bits_; }
  constexpr int size() const { return std::popcount(bits_); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr RegSet operator|(RegSet other) const { return from_bits(static_cast<uint16_t>(bits_ | other.bits_)); }
  constexpr RegSet operator&(RegSet other) const { return from_bits(static_cast<uint16_t>(bits_ & other.bits_)); }
  friend constexpr bool operator==(RegSet, RegSet) = default;

  // "{r0, r1, r5}", for messages and test failures.
  std::string to_string() const;

 private:
  uint16_t bits_ = 0;
};

inline constexpr RegSet kNoRegs{};
inline constexpr RegSet kR0{0};
inline constexpr RegSet kR6{6};                   // LD_ABS / LD_IND's implicit packet context
inline constexpr RegSet kArgRegs{1, 2, 3, 4, 5};  // call arguments; clobbered by calls

// ---- The shapes table ------------------------------------------------------------

// How an instruction treats a register field.
enum class RegAccess : uint8_t { Unused, Read, Write, ReadWrite };
constexpr bool reads(RegAccess access) { return access == RegAccess::Read || access == RegAccess::ReadWrite; }
constexpr bool writes(RegAccess access) { return access == RegAccess::Write || access == RegAccess::ReadWrite; }

// What the off or imm field holds.
enum class FieldUse : uint8_t {
  Unused,  // zero
  Value,   // a 32-bit immediate
  Imm64,   // the low half of lddw's 64-bit immediate (the high half is in the next slot)
  Offset,  // a memory offset
  Target,  // a pc-relative jump or call target, in slots after the next instruction
  Select,  // tells rows with one opcode byte apart (the row's value: a width, an atomic operation)
};

enum class Flow : uint8_t {
  Next,  // falls through
  Jump,  // has a target; whether it also falls through is the row's semantics (ja vs jeq)
  Call,  // returns to the next instruction
  Exit,
};

enum class MemoryAccess : uint8_t { None, Load, Store, Atomic, Packet };

// Which field holds a pc-relative target.
enum class TargetField : uint8_t { None, Off, Imm };

// One operand of a syntax's operand list (the letters of shapes.def).
enum class OperandKind : uint8_t {
  Dst,     // d: the dst register
  Src,     // s: the src register
  Imm,     // i: a 32-bit immediate
  Imm64,   // q: lddw's 64-bit immediate
  Width,   // w: the row's selecting value (movs: off, endle: imm)
  MemDst,  // D: [dst + off]
  MemSrc,  // S: [src + off]
  Target,  // t: a jump or call target
};

struct OperandList {
  std::array<OperandKind, 3> kinds{};
  uint8_t count = 0;
  constexpr size_t size() const { return count; }
  constexpr bool empty() const { return count == 0; }
  constexpr OperandKind operator[](size_t i) const { return kinds[i]; }
  constexpr const OperandKind* begin() const { return kinds.data(); }
  constexpr const OperandKind* end() const { return kinds.data() + count; }
};

// shapes.def's letters as a list; an unknown letter fails the build.
consteval OperandList operand_list(std::string_view letters) {
  OperandList list;
  for (char letter : letters) {
    OperandKind kind{};
    switch (letter) {
      case 'd': kind = OperandKind::Dst; break;
      case 's': kind = OperandKind::Src; break;
      case 'i': kind = OperandKind::Imm; break;
      case 'q': kind = OperandKind::Imm64; break;
      case 'w': kind = OperandKind::Width; break;
      case 'D': kind = OperandKind::MemDst; break;
      case 'S': kind = OperandKind::MemSrc; break;
      case 't': kind = OperandKind::Target; break;
      default: throw "unknown operand letter in shapes.def";
    }
    list.kinds[list.count++] = kind;
  }
  return list;
}

struct ShapeInfo {
  Shape shape;
  std::string_view name;
  OperandList normal;       // GNU normal syntax
  OperandList conformance;  // the bpf_conformance dialect
  RegAccess dst, src;       // the register fields
  FieldUse off, imm;        // the other fields
  Flow flow;
  MemoryAccess memory;
  RegSet uses, writes;  // registers read / written besides dst and src

  constexpr TargetField target() const {
    if (off == FieldUse::Target) return TargetField::Off;
    if (imm == FieldUse::Target) return TargetField::Imm;
    return TargetField::None;
  }
};

inline constexpr size_t kShapeCount = 0
#define SHAPE(shape, ...) +1
#include "bpfkit/isa/shapes.def"
#undef SHAPE
    ;

inline constexpr std::array<ShapeInfo, kShapeCount> kShapes = {{
#define SHAPE(shape, normal, conf, dst, src, off, imm, flow, memory, uses, writes)                           \
  {Shape::shape,  #shape,        operand_list(normal), operand_list(conf),   RegAccess::dst, RegAccess::src, \
   FieldUse::off, FieldUse::imm, Flow::flow,           MemoryAccess::memory, uses,           writes},
#include "bpfkit/isa/shapes.def"
#undef SHAPE
}};

consteval bool shapes_are_in_enum_order() {
  for (size_t i = 0; i < kShapes.size(); ++i)
    if (static_cast<size_t>(kShapes[i].shape) != i) return false;
  return true;
}
static_assert(shapes_are_in_enum_order(), "shapes.def lists the shapes out of order");

constexpr const ShapeInfo& shape_info(Shape shape) { return kShapes[static_cast<size_t>(shape)]; }
constexpr const ShapeInfo& shape_info(Op op) { return shape_info(info(op).shape); }

// Which field holds the row's pc-relative target, if any. (lddw src 4, a
// function's address, is pc-relative too; Program's editing knows it.)
constexpr TargetField target_field(Op op) { return shape_info(op).target(); }

// The target of a jump or local call at pc: pc + 1 + off, or + imm where the
// shape keeps its target there (gotol, local calls); nullopt for rows
// without one.
std::optional<int64_t> branch_target(Op op, const Slot& slot, int64_t pc);

// ---- Registers read and written --------------------------------------------------

// The registers the instruction reads: its shape's register fields and
// implicit registers, refined by the row (mov and movsx do not read dst;
// cmpxchg reads r0; callx reads the register the dialect names). A register
// field outside r0..r15 cannot occur; one the dialect's decoder refuses
// (r11..r15) is still listed.
RegSet regs_used(Op op, const Slot& slot, const Dialect& dialect = kLinuxV4);

// The registers the instruction may change: assigned (dst of ALU ops and
// loads, src of atomic fetches, r0 of cmpxchg, calls and packet loads) or
// clobbered (r1-r5 by calls and packet loads).
RegSet regs_written(Op op, const Slot& slot, const Dialect& dialect = kLinuxV4);

// Whether a CO-RE relocation may name the Linux row, one whose field a
// loader patches (libbpf's bpf_core_patch_insn): an ALU row with an
// immediate (imm), a load or store (off; not an atomic: bpfkit keeps
// none), or plain lddw (its 64-bit value). The second form also checks
// the slot as libbpf does: an lddw's off must be 0.
bool core_patchable(Op op);
bool core_patchable(Op op, const Slot& slot);

}  // namespace bpfkit::isa
