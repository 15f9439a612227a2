// The abstract state: spilled registers, the comparison that prunes a path
// (an explored state that covers the new one), and the kernel's way of
// printing registers.
#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "checker.hpp"

namespace bpfkit::verify::detail {

const Reg* Frame::spill_at(int slot) const {
  for (const Spilled& spilled : spills)
    if (spilled.slot == slot) return &spilled.reg;
  return nullptr;
}

Reg* Frame::spill_at(int slot) {
  for (Spilled& spilled : spills)
    if (spilled.slot == slot) return &spilled.reg;
  return nullptr;
}

const Spilled* Frame::spilled_at(int slot) const {
  for (const Spilled& spilled : spills)
    if (spilled.slot == slot) return &spilled;
  return nullptr;
}

void Frame::set_spill(int slot, const Reg& reg, int size) {
  drop_spill(slot);
  spills.push_back({static_cast<uint8_t>(slot), static_cast<uint8_t>(size), reg});
  std::sort(spills.begin(), spills.end(), [](const Spilled& a, const Spilled& b) { return a.slot < b.slot; });
  std::fill_n(stack.begin() + slot * 8, size, StackByte::Spill);
  for (int i = slot * 8 + size; i < slot * 8 + 8; ++i)  // mark_stack_slot_misc: zero and invalid stay
    if (stack[i] == StackByte::Spill) stack[i] = StackByte::Misc;
}

void Frame::drop_spill(int slot) {
  std::erase_if(spills, [slot](const Spilled& spilled) { return spilled.slot == slot; });
}

const char* type_name(RegType type) {
  switch (type) {
    case RegType::NotInit: return "?";
    case RegType::Scalar: return "scalar";
    case RegType::Ctx: return "ctx";
    case RegType::Stack: return "fp";
    case RegType::MapPtr: return "map_ptr";
    case RegType::MapValue: return "map_value";
    case RegType::MapValueOrNull: return "map_value_or_null";
    case RegType::Packet: return "pkt";
    case RegType::PacketMeta: return "pkt_meta";
    case RegType::PacketEnd: return "pkt_end";
    case RegType::Mem: return "mem";
  }
  return "?";
}

namespace {

// Ids of the old state paired with the new one's, both ways (check_ids).
class IdMap {
 public:
  bool pair(uint32_t old_id, uint32_t new_id) {
    if (old_id == 0 && new_id == 0) return true;
    if (old_id == 0 || new_id == 0) return false;
    auto [at, added] = forward_.emplace(old_id, new_id);
    auto [back, back_added] = backward_.emplace(new_id, old_id);
    return at->second == new_id && back->second == old_id;
  }

 private:
  std::unordered_map<uint32_t, uint32_t> forward_, backward_;
};

bool range_within(const Reg& old, const Reg& now) {
  return old.umin <= now.umin && now.umax <= old.umax && old.smin <= now.smin && now.smax <= old.smax &&
         old.u32min <= now.u32min && now.u32max <= old.u32max && old.s32min <= now.s32min && now.s32max <= old.s32max;
}

bool reg_covers(const Reg& old, const Reg& now, IdMap& ids, bool exact) {
  if (exact) {
    if (old.type != now.type) return false;
    Reg a = old, b = now;
    a.id = b.id = 0;
    a.precise = b.precise = false;
    return a == b && ids.pair(old.id, now.id);
  }
  if (old.type == RegType::NotInit) return true;  // nothing after this point read it
  if (old.type != now.type) return false;
  if (old.type == RegType::Scalar) {
    if (!old.precise) return true;  // no explored path's safety depended on its value
    if (!range_within(old, now) || !tnum_in(old.var, now.var)) return false;
    return old.id == 0 || ids.pair(old.id, now.id);  // linked in old: must be linked alike
  }
  if (old.off != now.off || old.map != now.map || old.frame != now.frame || old.size != now.size) return false;
  if (!range_within(old, now) || !tnum_in(old.var, now.var)) return false;
  if (old.type == RegType::Packet || old.type == RegType::PacketMeta) {
    if (now.range < old.range) return false;
    return ids.pair(old.id, now.id);
  }
  if (old.type == RegType::MapValueOrNull) return ids.pair(old.id, now.id);
  return true;
}

bool stack_covers(const Frame& old, const Frame& now, Profile profile, IdMap& ids, bool exact) {
  const bool same_bytes = old.stack == now.stack;  // the usual case: one memcmp
  for (int i = 0; i < kStackSize && !same_bytes; ++i) {
    const StackByte was = old.stack[i], is = now.stack[i];
    if (exact) {
      if (was != is) return false;
      continue;
    }
    switch (was) {
      case StackByte::Invalid:
        // Never read before written on the explored path (bpf); read as an
        // unknown scalar (root), which Misc and Zero also give.
        if (profile == Profile::Root && is == StackByte::Spill) return false;
        break;
      case StackByte::Misc:
        if (is == StackByte::Spill) {
          const Reg* spilled = now.spill_at(i / 8);
          if (!spilled || spilled->type != RegType::Scalar) return false;
        } else if (is == StackByte::Invalid && profile == Profile::Bpf) {
          return false;
        }
        break;
      case StackByte::Zero:
        if (is != StackByte::Zero) return false;
        break;
      case StackByte::Spill:
        if (is != StackByte::Spill) return false;
        break;
    }
  }
  for (const Spilled& spilled : old.spills) {
    const Spilled* other = now.spilled_at(spilled.slot);
    if (!other || other->size != spilled.size || !reg_covers(spilled.reg, other->reg, ids, exact)) return false;
  }
  if (exact && old.spills.size() != now.spills.size()) return false;
  return true;
}

std::string number(int64_t value) { return std::to_string(value); }

}  // namespace

namespace {

// splitmix64: one well-mixed odd multiplier per register, for the pinned sum.
constexpr std::array<uint64_t, isa::kRegisterCount> kHashMultipliers = [] {
  std::array<uint64_t, isa::kRegisterCount> table{};
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (uint64_t& entry : table) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    entry = (z ^ (z >> 31)) | 1;
  }
  return table;
}();

}  // namespace

// The kernel's states_maybe_looping: the current frame's registers alike,
// ids and precision aside; most states differ there at once.
bool maybe_same(const State& old, const State& now) {
  if (old.frames.size() != now.frames.size() || old.speculative != now.speculative) return false;
  const auto& a = old.top().regs;
  const auto& b = now.top().regs;
  for (int r = 0; r < isa::kRegisterCount; ++r) {
    const Reg& x = a[r];
    const Reg& y = b[r];
    if (x.type != y.type || x.var != y.var || x.off != y.off || x.umin != y.umin || x.umax != y.umax ||
        x.smin != y.smin || x.smax != y.smax || x.u32min != y.u32min || x.u32max != y.u32max || x.s32min != y.s32min ||
        x.s32max != y.s32max || x.frame != y.frame || x.map != y.map || x.range != y.range || x.size != y.size)
      return false;
  }
  return true;
}

namespace {

uint64_t pinned_word(int regno, uint64_t value) { return value * kHashMultipliers[regno]; }

}  // namespace

CoverSummary cover_summary(const State& old, bool precise_only) {
  CoverSummary summary;
  summary.frames = static_cast<uint8_t>(old.frames.size());
  summary.speculative = old.speculative;
  const Frame& top = old.top();
  for (int r = 0; r < isa::kRegisterCount; ++r) {
    const Reg& reg = top.regs[r];
    const unsigned shift = (r % 8) * 8;
    summary.types[r / 8] |= uint64_t{static_cast<uint8_t>(reg.type)} << shift;
    if (reg.type != RegType::NotInit) summary.written[r / 8] |= uint64_t{0xff} << shift;
    if (reg.type == RegType::Scalar && (reg.precise || !precise_only) && reg.umin == reg.umax) {
      summary.pinned = static_cast<uint16_t>(summary.pinned | 1u << r);
      summary.pinned_sum += pinned_word(r, reg.umin);
    }
  }
  return summary;
}

CoverProbe cover_probe(const State& now) {
  CoverProbe probe{cover_summary(now, false), {}};
  for (int r = 0; r < isa::kRegisterCount; ++r) probe.words[r] = pinned_word(r, now.top().regs[r].umin);
  return probe;
}

bool covers(const State& old, const State& now, Profile profile, bool exact) {
  if (old.frames.size() != now.frames.size()) return false;
  if (old.speculative && !now.speculative) return false;
  IdMap ids;
  for (size_t f = 0; f < old.frames.size(); ++f) {  // registers first: they differ most often
    const Frame& a = old.frames[f];
    const Frame& b = now.frames[f];
    if (a.callsite != b.callsite) return false;
    for (int r = 0; r < isa::kRegisterCount; ++r)
      if (!reg_covers(a.regs[r], b.regs[r], ids, exact)) return false;
  }
  for (size_t f = 0; f < old.frames.size(); ++f)
    if (!stack_covers(old.frames[f], now.frames[f], profile, ids, exact)) return false;
  return true;
}

// The printers append piece by piece: GCC 12 warns (-Wrestrict) on short
// literals + strings.
namespace {

// "name(a=1,b=2)": fields added one at a time.
class Fields {
 public:
  explicit Fields(std::string& text) : text_(text) {}
  void add(const char* name, const std::string& value) {
    if (!first_) text_.push_back(',');
    first_ = false;
    text_.append(name).push_back('=');
    text_.append(value);
  }

 private:
  std::string& text_;
  bool first_ = true;
};

}  // namespace

std::string reg_string(const Reg& reg) {
  std::string text;
  if (reg.type == RegType::Scalar && reg.is_const()) return number(static_cast<int64_t>(reg.var.value));
  if (reg.type == RegType::Stack) {
    text.append("fp").append(number(reg.off));
    if (!reg.is_const() || reg.var.value != 0) text.append("+").append(tnum_string(reg.var));
    return text;
  }
  text.append(type_name(reg.type)).push_back('(');
  Fields fields(text);
  if (reg.id) fields.add("id", number(reg.id));
  if (reg.type == RegType::Scalar) {
    if (reg.smin != std::numeric_limits<int64_t>::min()) fields.add("smin", number(reg.smin));
    if (reg.smax != std::numeric_limits<int64_t>::max()) fields.add("smax", number(reg.smax));
    if (reg.umin != 0) fields.add("umin", std::to_string(reg.umin));
    if (reg.umax != std::numeric_limits<uint64_t>::max()) fields.add("umax", std::to_string(reg.umax));
    if (reg.var.mask != ~uint64_t{0}) fields.add("var_off", tnum_string(reg.var));
    text.push_back(')');
    return text;
  }
  if (reg.type == RegType::MapPtr || reg.type == RegType::MapValue || reg.type == RegType::MapValueOrNull)
    fields.add("map", number(reg.map));
  if (reg.off) fields.add("off", number(reg.off));
  if (reg.type == RegType::Packet) fields.add("r", number(reg.range));
  if (reg.type == RegType::Mem) fields.add("sz", std::to_string(reg.size));
  if (!reg.is_const() || reg.var.value != 0) fields.add("var_off", tnum_string(reg.var));
  text.push_back(')');
  return text;
}

std::string state_string(const State& state) {
  std::string text;
  for (size_t f = 0; f < state.frames.size(); ++f) {
    const Frame& frame = state.frames[f];
    if (f > 0) text.append(" frame").append(number(static_cast<int64_t>(f))).push_back(':');
    for (int r = 0; r < isa::kRegisterCount; ++r) {
      if (frame.regs[r].type == RegType::NotInit) continue;
      if (!text.empty()) text.push_back(' ');
      text.push_back('R');
      text.append(number(r)).push_back('=');
      text.append(reg_string(frame.regs[r]));
    }
    for (const Spilled& spilled : frame.spills) {
      text.append(" fp").append(number(spilled.slot * 8 - kStackSize)).push_back('=');
      text.append(reg_string(spilled.reg));
    }
  }
  return text;
}

}  // namespace bpfkit::verify::detail
