// Helper calls: the prototypes of the helpers bpfkit's VM implements (the
// kernel's bpf_func_proto: argument and return types), which program types
// and profiles may call them, and r1-r5 clobbered after the call.
#include <array>

#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

enum class Arg : uint8_t {
  None,
  Anything,    // ARG_ANYTHING: any initialised value
  Map,         // ARG_CONST_MAP_PTR
  MapKey,      // ARG_PTR_TO_MAP_KEY: key_size readable bytes
  MapValue,    // ARG_PTR_TO_MAP_VALUE: value_size readable bytes
  ReadMem,     // ARG_PTR_TO_MEM | MEM_RDONLY, sized by the next argument
  WriteMem,    // ARG_PTR_TO_UNINIT_MEM, sized by the next argument
  Size,        // ARG_CONST_SIZE
  SizeOrZero,  // ARG_CONST_SIZE_OR_ZERO
  Ctx,         // ARG_PTR_TO_CTX
};

enum class Ret : uint8_t { Integer, MapValueOrNull };

// Which program types may call a helper.
enum Availability : uint8_t {
  kEveryType,   // bpf_base_func_proto
  kPerfmon,     // bpf_base_func_proto, only with CAP_PERFMON (root)
  kRawOnly,     // tracing helpers: only bpfkit's raw type has them here
  kUnsupported  // implemented by the VM, but reference tracking is not modelled
};

struct Proto {
  uint32_t id;
  const char* name;
  std::array<Arg, 5> args;
  Ret ret;
  Availability availability;
  uint32_t map_type = 0;  // the map argument's required type (0: a data map)
};

using A = Arg;
constexpr uint32_t kProgArray = static_cast<uint32_t>(isa::MapType::ProgArray);
constexpr uint32_t kRingBuf = static_cast<uint32_t>(isa::MapType::RingBuf);

// clang-format off
constexpr std::array<Proto, 15> kProtos{{
    {1,   "bpf_map_lookup_elem",      {A::Map, A::MapKey},                              Ret::MapValueOrNull, kEveryType},
    {2,   "bpf_map_update_elem",      {A::Map, A::MapKey, A::MapValue, A::Anything},    Ret::Integer, kEveryType},
    {3,   "bpf_map_delete_elem",      {A::Map, A::MapKey},                              Ret::Integer, kEveryType},
    {4,   "bpf_probe_read",           {A::WriteMem, A::SizeOrZero, A::Anything},        Ret::Integer, kRawOnly},
    {5,   "bpf_ktime_get_ns",         {},                                               Ret::Integer, kEveryType},
    {6,   "bpf_trace_printk",         {A::ReadMem, A::Size},                            Ret::Integer, kPerfmon},
    {7,   "bpf_get_prandom_u32",      {},                                               Ret::Integer, kEveryType},
    {8,   "bpf_get_smp_processor_id", {},                                               Ret::Integer, kEveryType},
    {12,  "bpf_tail_call",            {A::Ctx, A::Map, A::Anything},                    Ret::Integer, kEveryType, kProgArray},
    {112, "bpf_probe_read_user",      {A::WriteMem, A::SizeOrZero, A::Anything},        Ret::Integer, kPerfmon},
    {113, "bpf_probe_read_kernel",    {A::WriteMem, A::SizeOrZero, A::Anything},        Ret::Integer, kPerfmon},
    {130, "bpf_ringbuf_output",       {A::Map, A::ReadMem, A::SizeOrZero, A::Anything}, Ret::Integer, kEveryType, kRingBuf},
    {131, "bpf_ringbuf_reserve",      {},                                               Ret::Integer, kUnsupported},
    {132, "bpf_ringbuf_submit",       {},                                               Ret::Integer, kUnsupported},
    {133, "bpf_ringbuf_discard",      {},                                               Ret::Integer, kUnsupported},
}};
// clang-format on

const Proto* find_proto(uint32_t id) {
  for (const Proto& proto : kProtos)
    if (proto.id == id) return &proto;
  return nullptr;
}

// "R2" (built by appending: GCC 12 warns, -Wrestrict, on "R" + string).
std::string r(int regno) {
  std::string name(1, 'R');
  return name.append(std::to_string(regno));
}

bool is_sized_memory(Arg arg) { return arg == Arg::ReadMem || arg == Arg::WriteMem; }

}  // namespace

bool Checker::call_helper(const isa::Slot& slot) {
  const uint32_t id = static_cast<uint32_t>(slot.imm);
  const Proto* proto = find_proto(id);
  std::string name = proto ? proto->name : "";
  name.append(1, '#').append(std::to_string(id));
  if (!proto)
    return fail(Errno::Einval, "helper " + name + " is not one bpfkit implements (bpfkit's verifier knows only those)");
  if (proto->availability == kUnsupported)
    return fail(Errno::Einval,
                "helper " + name + " is not supported by bpfkit's verifier (references are not tracked)");
  const bool raw = options_.type == ProgramType::Raw;
  if ((proto->availability == kRawOnly && !raw) || (proto->availability == kPerfmon && !raw && !leaks_allowed()))
    return fail(Errno::Einval, "program of this type cannot use helper " + name);

  const isa::MapSpec* map = nullptr;
  for (int i = 0; i < 5; ++i) {
    const Arg arg = proto->args[i];
    const int regno = i + 1;
    if (arg == Arg::None) break;
    if (!check_read(regno)) return false;
    const Reg& reg = regs()[regno];
    switch (arg) {
      case Arg::Anything: break;
      case Arg::Ctx:
        if (reg.type != RegType::Ctx)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=ctx");
        break;
      case Arg::Map: {
        if (reg.type != RegType::MapPtr)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=map_ptr");
        map = &program_.maps[reg.map];
        const bool wants_special = proto->map_type != 0;
        const bool is_special = map->type == kProgArray || map->type == kRingBuf;
        if ((wants_special && map->type != proto->map_type) || (!wants_special && is_special))
          return fail(Errno::Einval, "cannot pass map_type " + std::to_string(map->type) + " into func " + name);
        break;
      }
      case Arg::MapKey:
      case Arg::MapValue:
        if (!map) return fail(Errno::Eacces, "invalid map_ptr to access map->key");
        if (reg.type != RegType::Stack && reg.type != RegType::MapValue && reg.type != RegType::Packet &&
            reg.type != RegType::Mem)
          return fail(Errno::Eacces,
                      r(regno) + " type=" + type_name(reg.type) + " expected=fp, pkt, pkt_meta, map_key, map_value");
        if (!check_helper_memory(regno, arg == Arg::MapKey ? map->key_size : map->value_size, false, false))
          return false;
        break;
      case Arg::ReadMem:
      case Arg::WriteMem:
        if (reg.type == RegType::Scalar || reg.type == RegType::Ctx || reg.type == RegType::MapPtr ||
            reg.type == RegType::PacketEnd || reg.type == RegType::MapValueOrNull)
          return fail(Errno::Eacces,
                      r(regno) + " type=" + type_name(reg.type) +
                          " expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_");
        break;  // checked with its size, the next argument
      case Arg::Size:
      case Arg::SizeOrZero: {
        if (reg.type != RegType::Scalar)
          return fail(Errno::Eacces, r(regno) + " type=" + type_name(reg.type) + " expected=scalar");
        if (reg.smin < 0)
          return fail(Errno::Eacces, r(regno) +
                                         " min value is negative, either use unsigned index or do a if (index >=0) "
                                         "check.");
        const bool zero_allowed = arg == Arg::SizeOrZero;
        if (reg.umin == 0 && !zero_allowed) return fail(Errno::Eacces, "invalid zero-sized read");
        if (reg.umax >= (uint64_t{1} << 29))
          return fail(Errno::Eacces, r(regno) + " unbounded memory access, use 'var &= const' or 'if (var < const)'");
        if (i > 0 && is_sized_memory(proto->args[i - 1]) &&
            !check_helper_memory(regno - 1, reg.umax, proto->args[i - 1] == Arg::WriteMem, zero_allowed))
          return false;
        break;
      }
      default: break;
    }
  }
  for (int arg = 1; arg <= 5; ++arg) regs()[arg] = not_init();
  if (proto->ret == Ret::MapValueOrNull) {
    Reg value = pointer(RegType::MapValueOrNull);
    value.map = static_cast<uint32_t>(map - program_.maps.data());
    value.id = new_id();
    regs()[0] = value;
  } else {
    regs()[0] = unknown_scalar();
  }
  return true;
}

}  // namespace bpfkit::verify::detail
