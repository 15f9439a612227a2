// Memory: loads, stores and atomics through each pointer type (the stack
// byte by byte with spilled registers, the context by program type, map
// values, packets after a data_end check, the raw type's buffer), and the
// memory arguments of helpers. The kernel's check_mem_access and
// check_helper_mem_access.
#include <algorithm>

#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Operation;

// "R2" (built by appending: GCC 12 warns, -Wrestrict, on "R" + string).
std::string r(int regno) {
  std::string name(1, 'R');
  return name.append(std::to_string(regno));
}
std::string n(int64_t value) { return std::to_string(value); }

// How the kernel prints a variable offset: a constant as its value.
std::string var_string(Tnum var) {
  return tnum_is_const(var) ? std::to_string(static_cast<int64_t>(var.value)) : tnum_string(var);
}

int64_t stack_index(int64_t off) { return kStackSize + off; }  // byte index in Frame::stack

}  // namespace

// ---- One access ------------------------------------------------------------------------

namespace {

// What a load, store or atomic wants done at `regno + off`.
struct Access {
  int regno = 0;
  int64_t off = 0;
  int size = 0;
  bool write = false;
  bool sign = false;           // a sign-extending load
  const Reg* value = nullptr;  // stores: the register stored (null: an immediate)
  int64_t imm = 0;
  int value_regno = -1;
  bool from_register = false;  // stores: the value is value_regno's (not an immediate, not an atomic's)
  Reg loaded;                  // loads: the result
};

class MemoryAccess {
 public:
  explicit MemoryAccess(Checker& checker) : c_(checker) {}

  bool run(Access& access) {
    const Reg& reg = c_.regs()[access.regno];
    switch (reg.type) {
      case RegType::Stack: return stack(access, reg);
      case RegType::Ctx: return ctx(access, reg);
      case RegType::MapValue: return map_value(access, reg);
      case RegType::Mem: return mem(access, reg);
      case RegType::Packet:
      case RegType::PacketMeta: return packet(access, reg);
      case RegType::NotInit: return c_.check_read(access.regno);
      default:
        return c_.fail(Errno::Eacces,
                       r(access.regno) + " invalid mem access '" + std::string(type_name(reg.type)) + "'");
    }
  }

 private:
  bool leaks(const Access& access, const char* into) {
    if (!access.value || !is_pointer(access.value->type) || c_.leaks_allowed()) return true;
    return c_.fail(Errno::Eacces, r(access.value_regno) + " leaks addr into " + into);
  }

  bool stack(Access& access, const Reg& reg) {
    if (!reg.is_const())
      return c_.fail(Errno::Eacces, "variable-offset stack access R" + n(access.regno) +
                                        " var_off=" + tnum_string(reg.var) + " is not supported by bpfkit's verifier");
    const int64_t off = reg.off + static_cast<int64_t>(reg.var.value) + access.off;
    if (off % access.size != 0)
      return c_.fail(Errno::Eacces, "misaligned stack access off " + var_string(reg.var) + "+" + n(reg.off) + "+" +
                                        n(access.off) + " size " + n(access.size));
    if (off < -kStackSize || off + access.size > 0)
      return c_.fail(Errno::Eacces, std::string("invalid ") + (access.write ? "write to" : "read from") + " stack R" +
                                        n(access.regno) + " off=" + n(off) + " size=" + n(access.size));
    Frame& frame = c_.state().frames[reg.frame];
    uint32_t& depth = c_.stack_depth[frame.subprog];
    depth = std::max(depth, static_cast<uint32_t>(-off));
    if (access.write) return stack_write(access, frame, reg.frame, off);
    return stack_read(access, frame, reg.frame, off);
  }

  bool stack_write(Access& access, Frame& frame, uint8_t frameno, int64_t off) {
    const int64_t index = stack_index(off);
    const int slot = static_cast<int>(index / 8);
    const bool initialised =
        std::all_of(frame.stack.begin() + index, frame.stack.begin() + index + access.size,
                    [](StackByte byte) { return byte == StackByte::Misc || byte == StackByte::Zero; });
    if (!initialised || (access.value && is_pointer(access.value->type))) c_.guard_store();
    if (const Reg* spilled = frame.spill_at(slot)) {
      if (access.size != 8 && is_pointer(spilled->type) && !c_.leaks_allowed())
        return c_.fail(Errno::Eacces, "attempt to corrupt spilled pointer on stack");
      frame.drop_spill(slot);
      std::fill_n(frame.stack.begin() + slot * 8, 8, StackByte::Misc);
    }
    const Reg value = access.value ? *access.value : const_scalar(static_cast<uint64_t>(access.imm));
    if (access.size == 8) {
      if (value.type == RegType::Stack && frameno + 1u != c_.state().frames.size())
        return c_.fail(Errno::Einval, "cannot spill pointers to stack into stack frame of the caller");
      frame.set_spill(slot, value);
      c_.note_stack_slot(frameno, slot);
      return true;
    }
    if (is_pointer(value.type)) return c_.fail(Errno::Eacces, "invalid size of register spill");
    if (index % 8 == 0 && !(value.is_const() && tnum_cast(value.var, access.size).value == 0)) {
      frame.set_spill(slot, value, access.size);  // a narrow spill of a scalar keeps its value
      c_.note_stack_slot(frameno, slot);
      return true;
    }
    const bool zero = value.is_const() && tnum_cast(value.var, access.size).value == 0;
    // Zero bytes are compared exactly, so the register they came from must be
    // zero in a state this one prunes (the kernel's STACK_ZERO case).
    if (zero && access.from_register) c_.mark_precise(static_cast<uint16_t>(1u << access.value_regno));
    std::fill_n(frame.stack.begin() + index, access.size, zero ? StackByte::Zero : StackByte::Misc);
    return true;
  }

  bool stack_read(Access& access, Frame& frame, uint8_t frameno, int64_t off) {
    const int64_t index = stack_index(off);
    const int slot = static_cast<int>(index / 8);
    const Spilled* spill = frame.spilled_at(slot);
    if (spill && (access.size < 8 || spill->size == 8)) {  // a whole slot over a narrow spill: byte by byte
      const Reg* spilled = &spill->reg;
      c_.note_stack_slot(frameno, slot);  // a fill: the value is the spilled one's
      if (access.size == 8) {
        access.loaded = *spilled;
        return true;
      }
      if (spilled->type != RegType::Scalar) return c_.fail(Errno::Eacces, "invalid size of register fill");
      const bool whole = index % 8 == 0 && access.size == spill->size;
      if (whole && !access.sign && spilled->umax < (uint64_t{1} << (8 * access.size))) {
        access.loaded = *spilled;  // the value fits: the register comes back as it was
      } else {
        access.loaded =
            index % 8 == 0 && !access.sign ? truncated(*spilled, access.size) : sized_scalar(access.size, access.sign);
      }
      return true;
    }
    // Below every byte this path wrote, the kernel has not allocated the
    // slot at all, and says so differently.
    const int slot_end = (slot + 1) * 8;
    if (!c_.leaks_allowed() && std::all_of(frame.stack.begin(), frame.stack.begin() + slot_end,
                                           [](StackByte byte) { return byte == StackByte::Invalid; }))
      return c_.fail(Errno::Eacces,
                     "invalid read from stack R" + n(access.regno) + " off=" + n(off) + " size=" + n(access.size));
    bool all_zero = true;
    for (int i = 0; i < access.size; ++i) {
      const StackByte byte = frame.stack[index + i];
      if (byte == StackByte::Invalid && !c_.leaks_allowed())
        return c_.fail(Errno::Eacces, "invalid read from stack off " + n(off) + "+" + n(i) + " size " + n(access.size));
      all_zero = all_zero && byte == StackByte::Zero;
    }
    access.loaded = all_zero ? const_scalar(0) : sized_scalar(access.size, access.sign);
    return true;
  }

  bool ctx(Access& access, const Reg& reg) {
    if (reg.off != 0)
      return c_.fail(Errno::Eacces,
                     "dereference of modified ctx ptr R" + n(access.regno) + " off=" + n(reg.off) + " disallowed");
    if (!reg.is_const() || reg.var.value != 0)
      return c_.fail(Errno::Eacces, "variable ctx access var_off=" + tnum_string(reg.var) + " disallowed");
    if (!leaks(access, "ctx")) return false;
    // The context layouts and the kernel's access rules are isa's (program_types.def).
    const isa::CtxKind field =
        access.sign ? isa::CtxKind::Invalid : isa::ctx_access(c_.options().type, access.off, access.size, access.write);
    if (field == isa::CtxKind::Invalid)
      return c_.fail(Errno::Eacces, "invalid bpf_context access off=" + n(access.off) + " size=" + n(access.size));
    switch (field) {
      case isa::CtxKind::Packet: access.loaded = pointer(RegType::Packet); break;
      case isa::CtxKind::PacketEnd: access.loaded = pointer(RegType::PacketEnd); break;
      case isa::CtxKind::PacketMeta: access.loaded = pointer(RegType::PacketMeta); break;
      default: access.loaded = sized_scalar(access.size); break;
    }
    return true;
  }

  // check_mem_region_access: [off + smin, off + umax + size) within `size` bytes.
  bool region(const Access& access, const Reg& reg, uint64_t size, const std::string& what,
              const std::string& size_name) {
    const int64_t off = reg.off + access.off;
    if (reg.smin < 0 && (reg.smin == std::numeric_limits<int64_t>::min() || reg.smin + off < 0))
      return c_.fail(Errno::Eacces, r(access.regno) +
                                        " min value is negative, either use unsigned index or do a if (index >=0) "
                                        "check.");
    const int64_t low = reg.smin + off;
    if (low < 0 || static_cast<uint64_t>(low) + access.size > size)
      return c_.fail(Errno::Eacces, "invalid access to " + what + ", " + size_name + "=" +
                                        n(static_cast<int64_t>(size)) + " off=" + n(low) + " size=" + n(access.size));
    if (reg.umax >= static_cast<uint64_t>(int64_t{1} << 29))
      return c_.fail(Errno::Eacces,
                     r(access.regno) + " unbounded memory access, make sure to bounds check any such access");
    const int64_t high = static_cast<int64_t>(reg.umax) + off;
    if (high < 0 || static_cast<uint64_t>(high) + access.size > size)
      return c_.fail(Errno::Eacces, "invalid access to " + what + ", " + size_name + "=" +
                                        n(static_cast<int64_t>(size)) + " off=" + n(high) + " size=" + n(access.size));
    return true;
  }

  bool map_value(Access& access, const Reg& reg) {
    const isa::MapSpec& map = c_.map_spec(reg.map);
    if (!leaks(access, "map")) return false;
    // devmap and xskmap values are BPF_F_RDONLY_PROG.
    const bool read_only = map.read_only || map.type == static_cast<uint32_t>(isa::MapType::DevMap) ||
                           map.type == static_cast<uint32_t>(isa::MapType::DevMapHash) ||
                           map.type == static_cast<uint32_t>(isa::MapType::XskMap);
    if (access.write && read_only)
      return c_.fail(Errno::Eacces, "write into map forbidden, value_size=" + n(map.value_size) +
                                        " off=" + n(reg.off + access.off) + " size=" + n(access.size));
    if (!region(access, reg, map.value_size, "map value", "value_size")) return false;
    access.loaded = sized_scalar(access.size, access.sign);
    // A read-only map's bytes are known (bpf_map_direct_read).
    const int64_t at = reg.off + access.off + static_cast<int64_t>(reg.var.value);
    if (!access.write && map.read_only && reg.is_const() && at >= 0 &&
        static_cast<uint64_t>(at) + access.size <= map.initial.size()) {
      uint64_t value = 0;
      for (int i = access.size - 1; i >= 0; --i) value = value << 8 | map.initial[at + i];
      if (access.sign && access.size < 8) {
        const unsigned shift = 64 - 8 * access.size;
        value = static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
      }
      access.loaded = const_scalar(value);
    }
    return true;
  }

  bool mem(Access& access, const Reg& reg) {
    if (!leaks(access, "mem")) return false;
    if (!region(access, reg, reg.size, "memory", "mem_size")) return false;
    access.loaded = sized_scalar(access.size, access.sign);
    return true;
  }

  bool packet(Access& access, const Reg& reg) {
    if (!leaks(access, "packet")) return false;
    if (reg.smin < 0)
      return c_.fail(Errno::Eacces, r(access.regno) +
                                        " min value is negative, either use unsigned index or do a if (index >=0) "
                                        "check.");
    const int64_t off = reg.off + access.off;
    if (off < 0 || off + access.size > reg.range || reg.umax + off + access.size > 0xffff)
      return c_.fail(Errno::Eacces, "invalid access to packet, off=" + n(off) + " size=" + n(access.size) + ", R" +
                                        n(access.regno) + "(id=" + n(reg.id) + ",off=" + n(reg.off) +
                                        ",r=" + n(reg.range) + ")");
    access.loaded = sized_scalar(access.size, access.sign);
    return true;
  }

  Checker& c_;
};

}  // namespace

namespace {

isa::ProvenAccess proven_kind(RegType base) {
  switch (base) {
    case RegType::Stack: return isa::ProvenAccess::Stack;
    case RegType::MapValue: return isa::ProvenAccess::MapValue;
    case RegType::Packet:
    case RegType::PacketMeta: return isa::ProvenAccess::Packet;
    case RegType::Ctx: return isa::ProvenAccess::Context;
    case RegType::Mem: return isa::ProvenAccess::Memory;
    default: return isa::ProvenAccess::Unproven;
  }
}

}  // namespace

// The first path fixes the kind; a path through another kind (a stack
// pointer here, a map value there) leaves the slot unproven for good.
void Checker::note_proven_access(RegType base) {
  const isa::ProvenAccess kind = proven_kind(base);
  isa::ProvenAccess& proven = result_.proven[pc_];
  if (!access_seen_[pc_]) {
    access_seen_[pc_] = true;
    proven = kind;
  } else if (proven != kind) {
    proven = isa::ProvenAccess::Unproven;
  }
}

bool Checker::load(const isa::Slot& slot, const isa::Semantics& semantics) {
  if (!check_read(slot.src())) return false;
  Access access;
  access.regno = slot.src();
  access.off = slot.off;
  access.size = semantics.width / 8;
  access.sign = semantics.operation == Operation::LoadSx;
  const RegType base = regs()[slot.src()].type;  // before the load: dst may be src
  if (!MemoryAccess(*this).run(access)) return false;
  note_proven_access(base);
  regs()[slot.dst()] = access.loaded;
  return true;
}

bool Checker::store(const isa::Slot& slot, const isa::Semantics& semantics) {
  Access access;
  access.regno = slot.dst();
  access.off = slot.off;
  access.size = semantics.width / 8;
  access.write = true;
  Reg value;
  if (semantics.source == isa::Source::Reg) {
    if (!check_read(slot.src())) return false;
    value = regs()[slot.src()];
    access.value = &value;
    access.value_regno = slot.src();
    access.from_register = true;
  } else {
    access.imm = slot.imm;
  }
  if (!check_read(slot.dst())) return false;
  if (!access.value && regs()[slot.dst()].type == RegType::Ctx)
    return fail(Errno::Eacces, "BPF_ST stores into R" + n(slot.dst()) + " ctx is not allowed");
  if (!MemoryAccess(*this).run(access)) return false;
  note_proven_access(regs()[slot.dst()].type);
  return true;
}

bool Checker::atomic(const isa::Slot& slot, const isa::Semantics& semantics) {
  const int size = semantics.width / 8;
  const bool cmpxchg = semantics.operation == Operation::AtomicCmpxchg;
  if (!check_read(slot.src()) || !check_read(slot.dst())) return false;
  if (cmpxchg && !check_read(0)) return false;
  // is_pointer_value: root may store a pointer's bits (they become a scalar).
  if (!leaks_allowed() && cmpxchg && is_pointer(regs()[0].type)) return fail(Errno::Eacces, "R0 leaks addr into mem");
  if (!leaks_allowed() && is_pointer(regs()[slot.src()].type))
    return fail(Errno::Eacces, r(slot.src()) + " leaks addr into mem");
  const RegType target = regs()[slot.dst()].type;
  if (target != RegType::Stack && target != RegType::MapValue && target != RegType::Mem)
    return fail(Errno::Eacces,
                "BPF_ATOMIC stores into R" + n(slot.dst()) + " " + type_name(target) + " is not allowed");
  // Read, then write back a scalar.
  Access read;
  read.regno = slot.dst();
  read.off = slot.off;
  read.size = size;
  if (!MemoryAccess(*this).run(read)) return false;
  Access write = read;
  write.write = true;
  Reg unknown = sized_scalar(static_cast<unsigned>(size));
  write.value = &unknown;
  write.value_regno = slot.src();
  if (!MemoryAccess(*this).run(write)) return false;
  note_proven_access(target);
  if (semantics.fetch) regs()[cmpxchg ? 0 : slot.src()] = sized_scalar(static_cast<unsigned>(size));
  return true;
}

// LD_ABS / LD_IND: r0 = packet bytes through the skb in r6; r1-r5 clobbered.
bool Checker::load_packet_legacy(const isa::Slot& slot, const isa::Semantics& semantics) {
  const ProgramType type = options_.type;
  if (type != ProgramType::Socket && type != ProgramType::Tc)
    return fail(Errno::Einval, "BPF_LD_[ABS|IND] instructions not allowed for this program type");
  if (cur_.frames.size() > 1 || cfg_.subprogs.size() > 1)
    return fail(Errno::Einval, "BPF_LD_[ABS|IND] instructions cannot be mixed with bpf-to-bpf calls");
  if (!check_read(6)) return false;
  if (semantics.source == isa::Source::Reg && !check_read(slot.src())) return false;
  if (regs()[6].type != RegType::Ctx) return fail(Errno::Einval, "at the time of BPF_LD_ABS|IND R6 != pointer to skb");
  for (int arg = 1; arg <= 5; ++arg) regs()[arg] = not_init();
  regs()[0] = sized_scalar(semantics.width / 8);
  return true;
}

// ---- Helper memory arguments ------------------------------------------------------------

bool Checker::check_helper_memory(int regno, uint64_t size, bool write, bool zero_allowed) {
  if (size == 0 && zero_allowed) return true;
  Reg& reg = regs()[regno];
  if (reg.type == RegType::Stack) {
    if (!reg.is_const())
      return fail(Errno::Eacces, "variable-offset stack access R" + n(regno) + " var_off=" + tnum_string(reg.var) +
                                     " is not supported by bpfkit's verifier");
    const int64_t off = reg.off + static_cast<int64_t>(reg.var.value);
    if (off < -kStackSize || off + static_cast<int64_t>(size) > 0)
      return fail(Errno::Eacces,
                  "invalid indirect access to stack R" + n(regno) + " off=" + n(off) + " size=" + n(size));
    Frame& frame = cur_.frames[reg.frame];
    stack_depth[frame.subprog] = std::max(stack_depth[frame.subprog], static_cast<uint32_t>(-off));
    const int64_t first = stack_index(off);
    for (int64_t i = first; i < first + static_cast<int64_t>(size); ++i) {
      const int slot = static_cast<int>(i / 8);
      if (write) {
        if (frame.spill_at(slot)) {
          frame.drop_spill(slot);
          std::fill_n(frame.stack.begin() + slot * 8, 8, StackByte::Misc);
        }
        frame.stack[i] = StackByte::Misc;
        continue;
      }
      const StackByte byte = frame.stack[i];
      bool ok = byte == StackByte::Misc || byte == StackByte::Zero || (byte == StackByte::Invalid && leaks_allowed());
      if (byte == StackByte::Spill) {
        const Reg* spilled = frame.spill_at(slot);
        ok = spilled && (spilled->type == RegType::Scalar || leaks_allowed());
      }
      if (!ok)
        return fail(Errno::Eacces, "invalid read from stack R" + n(regno) + " off " + n(off) + "+" + n(i - first) +
                                       " size " + n(size));
    }
    return true;
  }
  if (reg.type == RegType::MapValue || reg.type == RegType::Mem || reg.type == RegType::Packet) {
    Access access;
    access.regno = regno;
    access.off = 0;
    access.size = static_cast<int>(size);
    access.write = write;
    return MemoryAccess(*this).run(access);
  }
  if (reg.type == RegType::NotInit) return check_read(regno);
  return fail(Errno::Eacces,
              r(regno) + " type=" + type_name(reg.type) +
                  " expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_");
}

}  // namespace bpfkit::verify::detail
