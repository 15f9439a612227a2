// Map type names, from isa/map_types.def.
#include <initializer_list>
#include <string>
#include <string_view>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

std::string_view map_type_name(uint32_t type) {
  switch (type) {
#define MAP_TYPE(name, id, text) \
  case id:                       \
    return text;
#include "bpfkit/isa/map_types.def"
#undef MAP_TYPE
  }
  return {};
}

std::string describe_map_type(uint32_t type) {
  const std::string_view name = map_type_name(type);
  if (name.empty()) return "type " + std::to_string(type);
  return std::string(name) + " (" + std::to_string(type) + ")";
}

}  // namespace bpfkit::isa

namespace bpfkit::isa {

// The kernel's check_map_func_compatibility (kernel/bpf/verifier.c): first
// what each special map type lets a program call with it, then which map
// types each special helper takes.
bool map_helper_compatible(uint32_t map_type, uint32_t helper) {
  enum : uint32_t {
    kLookup = 1,
    kTailCall = 12,
    kPerfEventRead = 22,
    kPerfEventOutput = 25,
    kGetStackid = 27,
    kSkbUnderCgroup = 33,
    kCurrentTaskUnderCgroup = 37,
    kRedirectMap = 51,
    kPerfEventReadValue = 55,
    kPush = 87,
    kPop = 88,
    kPeek = 89,
    kSkbOutput = 111,
    kXdpOutput = 121,
    kRingbufOutput = 130,
    kRingbufReserve = 131,
    kRingbufQuery = 134,
    kMapLookupPercpuElem = 195,
    kRingbufReserveDynptr = 198,
  };
  auto one_of = [](uint32_t value, std::initializer_list<uint32_t> set) {
    for (uint32_t v : set)
      if (v == value) return true;
    return false;
  };
  using T = MapType;
  const auto type = static_cast<T>(map_type);
  bool allowed = true;
  switch (type) {
    case T::ProgArray: allowed = helper == kTailCall; break;
    case T::PerfEventArray:
      allowed = one_of(helper, {kPerfEventRead, kPerfEventOutput, kSkbOutput, kPerfEventReadValue, kXdpOutput});
      break;
    case T::RingBuf:
      allowed = one_of(helper, {kRingbufOutput, kRingbufReserve, kRingbufQuery, kRingbufReserveDynptr, 199, 200});
      break;
    case T::StackTrace: allowed = helper == kGetStackid; break;
    case T::CgroupArray: allowed = one_of(helper, {kSkbUnderCgroup, kCurrentTaskUnderCgroup}); break;
    case T::DevMap:
    case T::DevMapHash:
    case T::XskMap: allowed = one_of(helper, {kRedirectMap, kLookup}); break;
    case T::CpuMap: allowed = helper == kRedirectMap; break;
    case T::ArrayOfMaps:
    case T::HashOfMaps: allowed = helper == kLookup; break;
    case T::Queue:
    case T::Stack: allowed = one_of(helper, {kPeek, kPop, kPush}); break;
    case T::BloomFilter: allowed = one_of(helper, {kPeek, kPush}); break;
    default: break;
  }
  if (!allowed) return false;
  switch (helper) {
    case kTailCall: return type == T::ProgArray;
    case kPerfEventRead:
    case kPerfEventOutput:
    case kPerfEventReadValue:
    case kSkbOutput:
    case kXdpOutput: return type == T::PerfEventArray;
    case kRingbufOutput:
    case kRingbufReserve:
    case kRingbufQuery:
    case kRingbufReserveDynptr: return type == T::RingBuf;
    case kGetStackid: return type == T::StackTrace;
    case kSkbUnderCgroup:
    case kCurrentTaskUnderCgroup: return type == T::CgroupArray;
    case kRedirectMap: return one_of(map_type, {14, 25, 16, 17});  // devmap, devmap_hash, cpumap, xskmap
    case kPop: return type == T::Queue || type == T::Stack;
    case kPeek:
    case kPush: return type == T::Queue || type == T::Stack || type == T::BloomFilter;
    case kMapLookupPercpuElem: return one_of(map_type, {5, 6, 10});  // percpu hash, array, lru hash
    default: return true;
  }
}

}  // namespace bpfkit::isa
