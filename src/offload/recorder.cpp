// A test double: every call it receives, with its arguments, in order; the
// calls it was told to refuse are refused.
#include <algorithm>

#include "bpfkit/offload.hpp"

namespace bpfkit::offload {

void Recorder::refuse_call(Op op, size_t nth, Refusal refusal) { refusals_.push_back({op, nth, std::move(refusal)}); }

Status Recorder::record(HookCall call) {
  const size_t nth = static_cast<size_t>(
      std::count_if(calls_.begin(), calls_.end(), [&](const HookCall& seen) { return seen.op == call.op; }));
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

}  // namespace bpfkit::offload
