// The helper table, from isa/helpers.def.
#include <string>
#include <string_view>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {
namespace {

constexpr uint32_t kHelperCount = 0
#define HELPER(id, name) +1
#include "bpfkit/isa/helpers.def"
    ;

// The prototypes, by id (ret == Integer, group == Base, all None where the
// row is absent; `implemented` says which are real).
struct ProtoSlot {
  bool implemented = false;
  HelperProto proto{};
};

constexpr std::array<ProtoSlot, kHelperCount> make_protos() {
  std::array<ProtoSlot, kHelperCount> protos{};
  using A = HelperArg;
  using R = HelperRet;
  using G = HelperGroup;
  using M = MapType;
#define HELPER_PROTO(id, ret, group, map_type, a1, a2, a3, a4, a5) \
  protos[id] = {true, {R::ret, G::group, static_cast<uint32_t>(M::map_type), {A::a1, A::a2, A::a3, A::a4, A::a5}}};
#include "bpfkit/isa/helpers.def"
  return protos;
}

constexpr std::array<ProtoSlot, kHelperCount> kProtos = make_protos();

constexpr std::array<HelperInfo, kHelperCount> make_infos() {
  std::array<HelperInfo, kHelperCount> infos{};
#define HELPER(id, name) infos[id] = {id, "bpf_" #name, kProtos[id].implemented ? &kProtos[id].proto : nullptr};
#include "bpfkit/isa/helpers.def"
  return infos;
}

constexpr std::array<HelperInfo, kHelperCount> kInfos = make_infos();

// The rows are in id order with no gaps, as the kernel's enum is.
consteval bool ids_are_dense() {
  uint32_t expected = 0;
  bool dense = true;
#define HELPER(id, name) dense = dense && (id) == expected++;
#include "bpfkit/isa/helpers.def"
  return dense;
}
static_assert(ids_are_dense(), "helpers.def: HELPER rows must be in id order with no gaps");

}  // namespace

const HelperInfo* helper_info(uint32_t id) { return id < kHelperCount ? &kInfos[id] : nullptr; }

std::span<const HelperInfo> helper_infos() { return kInfos; }

std::string_view helper_name(uint32_t id) {
  const HelperInfo* info = helper_info(id);
  return info ? info->name : std::string_view{};
}

bool helper_changes_packet(uint32_t id) {
  switch (id) {
    case 9:   // skb_store_bytes
    case 10:  // l3_csum_replace
    case 11:  // l4_csum_replace
    case 38:  // skb_change_tail
    case 43:  // skb_change_head
    case 44:  // xdp_adjust_head
    case 54:  // xdp_adjust_meta
    case 65:  // xdp_adjust_tail
      return true;
    default: return false;
  }
}

std::string describe_helper(uint32_t id) {
  std::string text = std::to_string(id);
  const std::string_view name = helper_name(id);
  if (!name.empty()) text.append(" (").append(name).append(")");
  if (id == kCorePoisonHelper) text.append(" (0xbad2310: an instruction CO-RE poisoned, its relocation unresolved)");
  return text;
}

}  // namespace bpfkit::isa
