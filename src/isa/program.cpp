// Program: finding functions, and the editing API (replace, insert, remove)
// that keeps branches, functions, keys and side data consistent, as the
// kernel's bpf_patch_insn_data / bpf_remove_insns / bpf_adj_branches do.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

#include "bpfkit/isa.hpp"
#include "internal.hpp"

namespace bpfkit::isa {

namespace {

// Which field of the slot holds a pc-relative target, if any: the shape's
// (isa/shapes.def), and the address of a function that lddw src 4 loads.
TargetField edited_field(Op op) { return op == Op::lddw_func ? TargetField::Imm : target_field(op); }

int64_t relative_of(TargetField field, const Slot& slot) { return field == TargetField::Off ? slot.off : slot.imm; }

bool fits(TargetField field, int64_t relative) {
  if (field == TargetField::Off)
    return relative >= std::numeric_limits<int16_t>::min() && relative <= std::numeric_limits<int16_t>::max();
  return relative >= std::numeric_limits<int32_t>::min() && relative <= std::numeric_limits<int32_t>::max();
}

// Where things land after the edit of [pc, end_old) into [pc, end_new).
struct Mover {
  int64_t pc, end_old, end_new;
  // A branch target or boundary: one at pc stays there, so a branch to pc
  // runs the new code; one inside the removed range (only boundaries may
  // be) moves to the code that follows, as the kernel moves a removed
  // function's start.
  int64_t operator()(int64_t old) const {
    if (old <= pc) return old;
    if (old >= end_old) return old + (end_new - end_old);
    return end_new;
  }
  // An instruction kept by the edit (never inside the removed range).
  int64_t position(int64_t old) const { return old < pc ? old : old + (end_new - end_old); }
  bool inside(int64_t old) const { return old > pc && old < end_old; }
};

Error edit_error(Errc code, size_t pc, std::string message) {
  return make_error(code, std::move(message), at_pc(static_cast<uint32_t>(pc)));
}

}  // namespace

Program detail::start_program(std::span<const Slot> slots, const Dialect& dialect) {
  Program program;
  program.dialect = &dialect;
  program.slots.assign(slots.begin(), slots.end());
  program.ops.resize(slots.size());
  program.origin.resize(slots.size());
  std::iota(program.origin.begin(), program.origin.end(), 0u);
  return program;
}

void apply_data_relocations(std::span<const DataRelocation> relocations, std::span<const uint64_t> map_addresses,
                            const std::function<std::span<uint8_t>(uint32_t map)>& value_of) {
  for (const DataRelocation& r : relocations) {
    if (r.target_map >= map_addresses.size() || r.map >= map_addresses.size()) continue;
    const uint64_t address = map_addresses[r.target_map] + r.target_offset;
    const std::span<uint8_t> value = value_of(r.map);
    if (r.size <= sizeof address && r.offset <= value.size() && r.size <= value.size() - r.offset)
      std::memcpy(value.data() + r.offset, &address, r.size);
  }
}

std::string Program::unresolved_lddw(size_t pc) const {
  const Slot& slot = slots[pc];
  const auto index = static_cast<uint32_t>(slot.imm);
  if (slot.src() == kPseudoBtfId && index < ksyms.size())
    return "kernel variable '" + ksyms[index] + "' (__ksym) needs the kernel's symbols or BTF to resolve it";
  return "lddw with pseudo source " + std::to_string(slot.src()) +
         " (map or BTF reference) needs a loader to resolve it";
}

const Function* Program::function_at(size_t pc) const {
  auto after = std::upper_bound(functions.begin(), functions.end(), pc,
                                [](size_t at, const Function& f) { return at < f.start; });
  if (after == functions.begin()) return nullptr;
  const Function& f = *(after - 1);
  return pc < uint64_t{f.start} + f.size ? &f : nullptr;
}

Expected<Edit> Program::replace(size_t pc, std::span<const Slot> patch) {
  if (pc >= size() || !ops[pc]) return edit_error(Errc::OutOfRange, pc, "no instruction starts here");
  return splice(pc, width_at(pc), patch);
}

Expected<Edit> Program::insert(size_t pc, std::span<const Slot> patch) {
  if (pc > size() || (pc < size() && !ops[pc])) return edit_error(Errc::OutOfRange, pc, "no instruction starts here");
  return splice(pc, 0, patch);
}

Expected<Edit> Program::remove(size_t pc, size_t count) { return splice(pc, count, {}); }

Expected<Edit> Program::splice(size_t pc, size_t removed, std::span<const Slot> patch) {
  if (pc > size() || removed > size() - pc)
    return edit_error(Errc::OutOfRange, pc, "edit of " + std::to_string(removed) + " slots runs past the end");
  if ((pc < size() && !ops[pc]) || (pc + removed < size() && !ops[pc + removed]))
    return edit_error(Errc::OutOfRange, pc, "edit splits an lddw");
  if (patch.size() > std::numeric_limits<uint32_t>::max() - size())
    return edit_error(Errc::LimitExceeded, pc, "program would exceed 2^32 slots");

  // Read the patch with the dialect's table first: a bad patch changes nothing.
  std::vector<std::optional<Op>> patch_ops(patch.size());
  for (size_t i = 0; i < patch.size(); ++i) {
    patch_ops[i] = dialect->family == Family::Sbpf ? lookup(patch[i], *dialect) : lookup(patch[i]);
    if (!patch_ops[i]) return edit_error(Errc::BadOpcode, pc + i, "patch slot " + std::to_string(i) + " has no row");
    if (info(*patch_ops[i]).shape == Shape::Lddw) {
      if (i + 1 >= patch.size()) return edit_error(Errc::Truncated, pc + i, "patch ends inside an lddw");
      patch_ops[++i] = std::nullopt;
    }
  }

  const Mover move{static_cast<int64_t>(pc), static_cast<int64_t>(pc + removed),
                   static_cast<int64_t>(pc + patch.size())};
  // New offsets for every branch outside the edited range, checked before
  // anything changes.
  std::vector<std::pair<size_t, int64_t>> retargets;
  for (size_t at = 0; at < size(); ++at) {
    if (at == pc && removed > 0) at = pc + removed;
    if (at >= size()) break;
    if (!ops[at]) continue;
    const TargetField field = edited_field(*ops[at]);
    if (field == TargetField::None) continue;
    const int64_t target = static_cast<int64_t>(at) + 1 + relative_of(field, slots[at]);
    if (move.inside(target))
      return edit_error(Errc::OutOfRange, at, "branch to " + std::to_string(target) + " lands inside the edited code");
    const int64_t new_at = move.position(static_cast<int64_t>(at));
    const int64_t relative = move(target) - new_at - 1;
    if (!fits(field, relative))
      return edit_error(Errc::OutOfRange, at, "branch offset " + std::to_string(relative) + " no longer fits");
    if (relative != relative_of(field, slots[at])) retargets.emplace_back(at, relative);
  }

  // Commit.
  for (const auto& [at, relative] : retargets) {
    Slot& slot = slots[at];
    if (edited_field(*ops[at]) == TargetField::Off)
      slot.off = static_cast<int16_t>(relative);
    else
      slot.imm = static_cast<int32_t>(relative);
  }
  const Edit edit{static_cast<uint32_t>(pc), static_cast<uint32_t>(removed), static_cast<uint32_t>(patch.size())};
  const uint32_t replaced_origin = pc < origin.size() ? origin[pc] : static_cast<uint32_t>(pc);
  slots.erase(slots.begin() + static_cast<ptrdiff_t>(pc), slots.begin() + static_cast<ptrdiff_t>(pc + removed));
  slots.insert(slots.begin() + static_cast<ptrdiff_t>(pc), patch.begin(), patch.end());
  ops.erase(ops.begin() + static_cast<ptrdiff_t>(pc), ops.begin() + static_cast<ptrdiff_t>(pc + removed));
  ops.insert(ops.begin() + static_cast<ptrdiff_t>(pc), patch_ops.begin(), patch_ops.end());
  if (!origin.empty()) apply_edit(edit, origin, replaced_origin);

  for (Function& f : functions) {
    const int64_t start = move(f.start), end = move(int64_t{f.start} + f.size);
    f.start = static_cast<uint32_t>(start);
    f.size = static_cast<uint32_t>(end - start);
  }
  std::erase_if(functions, [](const Function& f) { return f.size == 0; });
  entry = static_cast<uint32_t>(move(entry));
  for (auto& [key, at] : function_keys) at = static_cast<uint32_t>(move(at));
  return edit;
}

}  // namespace bpfkit::isa
