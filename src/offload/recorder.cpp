// A test double: every call it receives, with its arguments, in order; the
// calls it was told to refuse are refused.
#include <algorithm>

#include "bpfkit/offload.hpp"

namespace bpfkit::offload {

void Recorder::refuse_call(Op op, size_t nth, Refusal refusal) { refusals_.push_back({op, nth, std::move(refusal)}); }

Status Recorder::record(HookCall call) {
  const size_t nth = calls_of_op_[static_cast<size_t>(call.op)]++;
  for (const Planned& planned : refusals_)
    if (planned.op == call.op && planned.nth == nth) call.refusal = planned.refusal;
  calls_.push_back(call);
  return call.refusal;
}

Status Recorder::map_alloc(const isa::MapSpec& map) {
  HookCall call(Op::MapAlloc);
  call.map = map.name;
  if (!config_.accept_maps) call.refusal = refuse(Errno::Einval, "the recorder takes no maps");
  return record(std::move(call));
}

Status Recorder::prepare(DeviceProgram&) { return record(HookCall(Op::Prepare)); }

Status Recorder::insn_hook(VerifierEnv&, uint32_t insn_idx, int64_t prev_insn_idx) {
  HookCall call(Op::InsnHook);
  call.insn = insn_idx;
  call.prev = prev_insn_idx;
  return record(std::move(call));
}

Status Recorder::finalize(VerifierEnv&) { return record(HookCall(Op::Finalize)); }

Status Recorder::replace_insn(VerifierEnv&, uint32_t off, const isa::Slot& insn) {
  HookCall call(Op::ReplaceInsn);
  call.insn = off;
  call.replacement = insn;
  return record(std::move(call));
}

Status Recorder::remove_insns(VerifierEnv&, uint32_t off, uint32_t count) {
  HookCall call(Op::RemoveInsns);
  call.insn = off;
  call.count = count;
  return record(std::move(call));
}

Status Recorder::translate(DeviceProgram&) { return record(HookCall(Op::Translate)); }

void Recorder::destroy(DeviceProgram&) { record(HookCall(Op::Destroy)); }

namespace {

// bpf_adj_branches for a removal of `count` slots at `off`: a branch or a
// local call over the hole shrinks by `count`, from either side, in its
// off field or (gotol, calls) its imm.
void close_hole(std::vector<isa::Slot>& slots, uint32_t off, uint32_t count) {
  for (size_t pc = 0; pc < slots.size(); ++pc) {
    isa::Slot& slot = slots[pc];
    const auto op = isa::lookup(slot);
    const isa::TargetField field = op ? isa::target_field(*op) : isa::TargetField::None;
    if (field == isa::TargetField::None) continue;
    const int64_t relative = field == isa::TargetField::Off ? slot.off : slot.imm;
    const int64_t here = static_cast<int64_t>(pc), target = here + relative + 1;
    int64_t moved = relative;
    if (here < off && target >= static_cast<int64_t>(off) + count) moved -= count;
    if (here >= off && target < off) moved += count;
    if (field == isa::TargetField::Off)
      slot.off = static_cast<int16_t>(moved);
    else
      slot.imm = static_cast<int32_t>(moved);
  }
}

}  // namespace

std::vector<isa::Slot> replay(std::span<const isa::Slot> original, std::span<const HookCall> calls) {
  std::vector<isa::Slot> slots(original.begin(), original.end());
  for (const HookCall& call : calls) {
    if (call.op == Op::ReplaceInsn && call.insn < slots.size()) slots[call.insn] = call.replacement;
    if (call.op != Op::RemoveInsns || call.insn > slots.size() || call.count > slots.size() - call.insn) continue;
    slots.erase(slots.begin() + call.insn, slots.begin() + call.insn + call.count);
    close_hole(slots, call.insn, call.count);
  }
  return slots;
}

}  // namespace bpfkit::offload
