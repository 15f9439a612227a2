// Helper calls, checked against the prototypes of isa/helpers.def (the
// kernel's bpf_func_proto of each helper bpfkit's VM implements: argument and
// return types, which program types and profiles may call them); r1-r5 are
// clobbered after the call.
#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

using Arg = isa::HelperArg;
using Proto = isa::HelperProto;

// Reference-tracked arguments and results (ringbuf_reserve / submit /
// discard): the VM implements them, the verifier does not model references.
bool tracks_references(const Proto& proto) {
  if (proto.ret == isa::HelperRet::RingBufMemOrNull) return true;
  for (Arg arg : proto.args)
    if (arg == Arg::ConstAllocSizeOrZero || arg == Arg::RingBufMemRelease) return true;
  return false;
}

// "R2" (built by appending: GCC 12 warns, -Wrestrict, on "R" + string).
std::string r(int regno) {
  std::string name(1, 'R');
  return name.append(std::to_string(regno));
}

bool is_sized_memory(Arg arg) {
  return arg == Arg::ReadOnlyMem || arg == Arg::UninitMem || arg == Arg::Mem || arg == Arg::ReadOnlyMemOrNull;
}

// Whether a program of `type` has helpers of `group` (the raw type has all).
bool group_allows(isa::HelperGroup group, ProgramType type, bool perfmon) {
  using G = isa::HelperGroup;
  if (type == ProgramType::Raw) return true;
  const bool tc = type == ProgramType::Tc || type == ProgramType::TcAction;
  switch (group) {
    case G::Base: return true;
    case G::BasePerfmon: return perfmon;
    case G::Tracing: return false;
    case G::Skb: return tc || type == ProgramType::Socket;
    case G::Tc: return tc;
    case G::Xdp: return type == ProgramType::Xdp;
    case G::TcXdp: return tc || type == ProgramType::Xdp;
    case G::SkbXdp: return tc || type == ProgramType::Socket || type == ProgramType::Xdp;
  }
  return false;
}

}  // namespace

bool Checker::call_helper(const isa::Slot& slot) {
  const uint32_t id = static_cast<uint32_t>(slot.imm);
  const isa::HelperInfo* info = isa::helper_info(id);
  const Proto* proto = info ? info->proto : nullptr;
  std::string name(info ? info->name : "");
  name.append(1, '#').append(std::to_string(id));
  if (!proto)
    return fail(Errno::Einval, "helper " + name + " is not one bpfkit implements (bpfkit's verifier knows only those)");
  if (tracks_references(*proto))
    return fail(Errno::Einval,
                "helper " + name + " is not supported by bpfkit's verifier (references are not tracked)");
  if (!group_allows(proto->group, options_.type, leaks_allowed()))
    return fail(Errno::Einval, "program of this type cannot use helper " + name);

  const isa::MapSpec* map = nullptr;
  uint32_t map_index = 0;
  bool null_memory = false;  // the last ReadOnlyMemOrNull argument is NULL
  for (int i = 0; i < 5; ++i) {
    const Arg arg = proto->args[i];
    const int regno = i + 1;
    if (arg == Arg::None) break;
    if (arg == Arg::DontCare) continue;  // check_func_arg returns at once: r3-r5 may be uninitialised
    if (!check_read(regno)) return false;
    const Reg& reg = regs()[regno];
    switch (arg) {
      case Arg::Anything: break;
      case Arg::Ctx:
        if (reg.type != RegType::Ctx)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=ctx");
        break;
      case Arg::ConstMapPtr: {
        if (reg.type != RegType::MapPtr)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=map_ptr");
        map_index = reg.map;
        map = &map_spec(reg.map);
        break;
      }
      case Arg::MapKey:
      case Arg::MapValue:
      case Arg::UninitMapValue:
        if (!map) return fail(Errno::Eacces, "invalid map_ptr to access map->key");
        if (reg.type != RegType::Stack && reg.type != RegType::MapValue && reg.type != RegType::Packet &&
            reg.type != RegType::Mem)
          return fail(Errno::Eacces,
                      r(regno) + " type=" + type_name(reg.type) + " expected=fp, pkt, pkt_meta, map_key, map_value");
        if (!check_helper_memory(regno, arg == Arg::MapKey ? map->key_size : map->value_size,
                                 arg == Arg::UninitMapValue, false))
          return false;
        break;
      case Arg::ReadOnlyMemOrNull:
        null_memory = reg.type == RegType::Scalar && reg.is_const() && reg.var.value == 0;
        if (null_memory) break;  // the size must then be 0, checked with it
        [[fallthrough]];
      case Arg::ReadOnlyMem:
      case Arg::UninitMem:
      case Arg::Mem:
        if (reg.type == RegType::Scalar || reg.type == RegType::Ctx || reg.type == RegType::MapPtr ||
            reg.type == RegType::PacketEnd || reg.type == RegType::MapValueOrNull)
          return fail(Errno::Eacces,
                      r(regno) + " type=" + type_name(reg.type) +
                          " expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_");
        break;  // checked with its size, the next argument
      case Arg::ConstSize:
      case Arg::ConstSizeOrZero: {
        if (reg.type != RegType::Scalar)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=scalar");
        mark_precise(static_cast<uint16_t>(1u << regno));  // the size's bounds decide the access
        if (reg.smin < 0)
          return fail(Errno::Eacces, r(regno) +
                                         " min value is negative, either use unsigned index or do a if (index >=0) "
                                         "check.");
        const bool zero_allowed = arg == Arg::ConstSizeOrZero;
        if (reg.umin == 0 && !zero_allowed) return fail(Errno::Eacces, "invalid zero-sized read");
        if (reg.umax >= (uint64_t{1} << 29))
          return fail(Errno::Eacces, r(regno) + " unbounded memory access, use 'var &= const' or 'if (var < const)'");
        if (i > 0 && proto->args[i - 1] == Arg::ReadOnlyMemOrNull && null_memory) {
          if (reg.umax != 0)
            return fail(Errno::Eacces, r(regno - 1) + " type=scalar expected=fp");  // check_helper_mem_access's words
          break;
        }
        if (i > 0 && is_sized_memory(proto->args[i - 1]) &&
            !check_helper_memory(regno - 1, reg.umax, proto->args[i - 1] == Arg::UninitMem, zero_allowed))
          return false;
        break;
      }
      default: break;
    }
  }
  // After the arguments, as the kernel's check_map_func_compatibility.
  if (map && !isa::map_helper_compatible(map->type, id))
    return fail(Errno::Einval, "cannot pass map_type " + std::to_string(map->type) + " into func " + name);
  if (isa::helper_changes_packet(id)) forget_packet_pointers();
  for (int arg = 1; arg <= 5; ++arg) regs()[arg] = not_init();
  if (proto->ret == isa::HelperRet::MapValueOrNull) {
    Reg value = pointer(RegType::MapValueOrNull);
    value.map = map_index;
    value.id = new_id();
    regs()[0] = value;
  } else {
    regs()[0] = unknown_scalar();
  }
  return true;
}

// A helper that may move the packet leaves no packet pointer valid, in any
// frame or stack slot (clear_all_pkt_pointers): they become unreadable, or
// unknown scalars where pointers may leak.
void Checker::forget_packet_pointers() {
  const auto forget = [&](Reg& reg) {
    if (reg.type == RegType::Packet || reg.type == RegType::PacketMeta || reg.type == RegType::PacketEnd)
      reg = leaks_allowed() ? unknown_scalar() : not_init();
  };
  for (Frame& frame : cur_.frames) {
    for (Reg& reg : frame.regs) forget(reg);
    for (Spilled& spilled : frame.spills) forget(spilled.reg);
  }
}

}  // namespace bpfkit::verify::detail
