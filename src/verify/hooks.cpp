// The backend's view of the verifier: a read-only StateView over the
// current path's state, handed to Hooks::insn_hook before each processed
// instruction (the kernel's bpf_prog_offload_verify_insn).
#include <algorithm>

#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

RegisterState public_state(const Reg& reg) {
  RegisterState out;
  out.type = type_name(reg.type);
  out.off = reg.off;
  out.id = reg.id;
  out.map = reg.map;
  out.size = reg.size;
  out.var_value = reg.var.value;
  out.var_mask = reg.var.mask;
  out.smin = reg.smin, out.smax = reg.smax, out.umin = reg.umin, out.umax = reg.umax;
  out.s32min = reg.s32min, out.s32max = reg.s32max, out.u32min = reg.u32min, out.u32max = reg.u32max;
  out.text = reg.type == RegType::NotInit ? "?" : reg_string(reg);
  return out;
}

char byte_letter(StackByte byte) {
  switch (byte) {
    case StackByte::Invalid: return '?';
    case StackByte::Misc: return 'm';
    case StackByte::Zero: return '0';
    case StackByte::Spill: return 'r';
  }
  return '?';
}

class CurrentState final : public StateView {
 public:
  CurrentState(const State& state, const std::vector<PathStep>& trail, int32_t last)
      : state_(state), trail_(trail), last_(last) {}

  uint32_t frame() const override { return static_cast<uint32_t>(state_.frames.size() - 1); }
  RegisterState reg(int regno) const override {
    if (regno < 0 || regno >= isa::kRegisterCount) return public_state(not_init());
    return public_state(state_.top().regs[regno]);
  }
  std::vector<StackSlotState> stack() const override {
    const Frame& frame = state_.top();
    std::vector<StackSlotState> slots;
    for (int slot = kSlotCount - 1; slot >= 0; --slot) {  // from fp-8 down
      StackSlotState out;
      out.off = (slot - kSlotCount) * 8;
      bool written = false;
      for (int i = 0; i < 8; ++i) {
        const StackByte byte = frame.stack[slot * 8 + i];
        written = written || byte != StackByte::Invalid;
        out.bytes.push_back(byte_letter(byte));
      }
      if (!written) continue;
      if (const Reg* spilled = frame.spill_at(slot)) out.spilled = public_state(*spilled);
      slots.push_back(std::move(out));
    }
    return slots;
  }
  std::vector<uint32_t> path() const override {
    std::vector<uint32_t> pcs;
    for (int32_t step = last_; step >= 0; step = trail_[static_cast<size_t>(step)].before)
      pcs.push_back(trail_[static_cast<size_t>(step)].pc);
    std::reverse(pcs.begin(), pcs.end());
    return pcs;
  }
  bool speculative() const override { return state_.speculative; }

 private:
  const State& state_;
  const std::vector<PathStep>& trail_;
  int32_t last_;
};

}  // namespace

bool Checker::call_insn_hook() {
  const CurrentState view(cur_, trail_, path_);
  if (auto refusal = options_.hooks->insn_hook(view, pc_, prev_pc_)) {
    if (!reject_) reject_ = Reject{refusal->error_number, pc_, refusal->message};
    return false;
  }
  trail_.push_back({pc_, path_});
  path_ = static_cast<int32_t>(trail_.size() - 1);
  return true;
}

}  // namespace bpfkit::verify::detail
