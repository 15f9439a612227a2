// Precision tracking, as the kernel's mark_chain_precision does it: a
// scalar in a stored state is precise when some path explored from that
// state had its safety depend on the value (a pointer offset, a helper's
// size, a branch decided by the value, a zero written to the stack). Only
// precise scalars must match when the state prunes another (covers); an
// imprecise one matches any scalar, so states that differ only in values no
// check read are alike.
//
// When a check reads a register, the instructions of the path are walked
// back (each path keeps its steps since its last stored state, each stored
// state the steps from its parent) to find which registers and spilled
// slots the value came from, and each stored state on the way gets those
// marked precise. A path pruned by an explored state makes the explored
// state's precise values precise on its own path (propagate_precision).
// Explored states are never pruned against before every path below them
// ended, so their marks are complete when they prune.
#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Operation;
using isa::Source;

constexpr uint16_t kCallerSaved = 0x3f;  // r0-r5
constexpr uint16_t kArguments = 0x3e;    // r1-r5

uint16_t bit(int regno) { return static_cast<uint16_t>(1u << regno); }

}  // namespace

bool Checker::Backtrack::empty() const {
  for (size_t f = 0; f < regs.size(); ++f)
    if (regs[f] != 0 || slots[f] != 0) return false;
  return true;
}

void Checker::mark_precise(uint16_t regs) {
  const size_t frame = cur_.frames.size() - 1;
  Backtrack wanted;
  for (int r = 0; r < isa::kRegisterCount; ++r)
    if ((regs & bit(r)) && cur_.top().regs[r].type == RegType::Scalar) wanted.regs[frame] |= bit(r);
  wanted.regs[frame] &= static_cast<uint16_t>(~backtracked_);
  if (wanted.empty()) return;
  backtracked_ |= wanted.regs[frame];
  backtrack(wanted, history_.empty() ? 0 : 1);  // from before the current instruction
}

// The forward side of backtrack_step: a register keeps its mark while its
// value comes only from marked values.
void Checker::update_backtracked(const Step& step) {
  if (backtracked_ == 0) return;
  const isa::Semantics& semantics = semantics_[step.pc];
  const isa::Slot& slot = program_.slots[step.pc];
  const uint16_t dst = bit(slot.dst()), src = bit(slot.src());
  const bool by_reg = semantics.source == Source::Reg;
  auto keep_if = [&](uint16_t reg, bool marked) {
    backtracked_ = static_cast<uint16_t>(marked ? backtracked_ | reg : backtracked_ & ~reg);
  };
  switch (semantics.operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Mul:
    case Operation::Div:
    case Operation::SDiv:
    case Operation::Mod:
    case Operation::SMod:
    case Operation::Or:
    case Operation::And:
    case Operation::Xor:
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh:
      if (by_reg) keep_if(dst, (backtracked_ & dst) && (backtracked_ & src));
      return;
    case Operation::Mov:
    case Operation::MovSx: keep_if(dst, by_reg && (backtracked_ & src)); return;
    case Operation::Neg:
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap:
    case Operation::Jump:
    case Operation::MayGoto:
    case Operation::Store: return;
    case Operation::JumpIf: {
      // The operands narrowed each other; linked scalars took their bounds.
      backtracked_ = static_cast<uint16_t>(backtracked_ & ~step.linked);
      if (by_reg) {
        const bool both = (backtracked_ & dst) && (backtracked_ & src);
        keep_if(dst, both);
        keep_if(src, both);
      }
      return;
    }
    case Operation::Call:
    case Operation::LoadPacket: backtracked_ = static_cast<uint16_t>(backtracked_ & ~kCallerSaved); return;
    case Operation::LoadImm64:
    case Operation::LoadPseudo:
    case Operation::Load:
    case Operation::LoadSx: keep_if(dst, false); return;
    case Operation::AtomicAdd:
    case Operation::AtomicOr:
    case Operation::AtomicAnd:
    case Operation::AtomicXor:
    case Operation::AtomicXchg:
    case Operation::AtomicCmpxchg:
      if (semantics.fetch) keep_if(semantics.operation == Operation::AtomicCmpxchg ? bit(0) : src, false);
      return;
    default: backtracked_ = 0; return;  // bpf-to-bpf calls and exits: start over
  }
}

void Checker::note_stack_slot(uint8_t frame, int slot) {
  if (history_.empty()) return;
  Step& step = history_.back();
  step.kind = Step::StackSlot;
  step.slot_frame = frame & 7;
  step.slot = static_cast<uint8_t>(slot);
}

void Checker::note_linked(const Reg& a, const Reg* b) {
  const bool a_linked = a.type == RegType::Scalar && a.id != 0;
  const bool b_linked = b && b->type == RegType::Scalar && b->id != 0;
  if (history_.empty() || (!a_linked && !b_linked)) return;
  Step& step = history_.back();
  const size_t top = cur_.frames.size() - 1;
  auto linked = [&](const Reg& reg) {
    return reg.type == RegType::Scalar && ((a_linked && reg.id == a.id) || (b_linked && reg.id == b->id));
  };
  for (size_t f = 0; f < cur_.frames.size(); ++f) {
    const Frame& frame = cur_.frames[f];
    for (int r = 0; r < isa::kRegisterCount; ++r) {
      if (!linked(frame.regs[r])) continue;
      if (f == top) {
        step.linked = static_cast<uint16_t>(step.linked | bit(r));
      } else {
        step.kind = Step::LinkedElsewhere;
      }
    }
    for (const Spilled& spilled : frame.spills) {
      if (!linked(spilled.reg)) continue;
      if (f == top && step.kind == Step::Plain) {
        step.kind = Step::LinkedSlot;
        step.slot = spilled.slot;
      } else {
        step.kind = Step::LinkedElsewhere;
      }
    }
  }
}

void Checker::propagate_precision(const State& explored) {
  Backtrack wanted;
  for (size_t f = 0; f < explored.frames.size(); ++f) {
    const Frame& frame = explored.frames[f];
    for (int r = 0; r < isa::kFramePointer; ++r)
      if (frame.regs[r].type == RegType::Scalar && frame.regs[r].precise) wanted.regs[f] |= bit(r);
    for (const Spilled& spilled : frame.spills)
      if (spilled.reg.type == RegType::Scalar && spilled.reg.precise) wanted.slots[f] |= uint64_t{1} << spilled.slot;
  }
  if (explored.frames.size() == cur_.frames.size()) {
    uint16_t& top = wanted.regs[cur_.frames.size() - 1];
    top = static_cast<uint16_t>(top & ~backtracked_);
  }
  if (!wanted.empty()) backtrack(wanted, 0);
}

void Checker::backtrack(Backtrack& wanted, size_t skip) {
  auto walk = [&](const std::vector<Step>& steps, size_t end) {
    for (size_t i = end; i-- > 0;) {
      if (!backtrack_step(wanted, steps[i])) return false;
      if (wanted.empty()) return true;
    }
    return true;
  };
  if (!walk(history_, history_.size() - skip)) return mark_all_precise();
  for (int32_t index = parent_; index >= 0 && !wanted.empty();) {
    Checkpoint& checkpoint = checkpoints_[index];
    State& state = *checkpoint.state;  // on this path: still being explored, never freed
    for (size_t f = 0; f < wanted.regs.size(); ++f) {
      if (f >= state.frames.size()) {
        wanted.regs[f] = 0;
        wanted.slots[f] = 0;
        continue;
      }
      Frame& frame = state.frames[f];
      // A value already precise here was followed back from here before.
      for (int r = 0; r < isa::kRegisterCount; ++r) {
        if (!(wanted.regs[f] & bit(r))) continue;
        Reg& reg = frame.regs[r];
        if (reg.type != RegType::Scalar || reg.precise) {
          wanted.regs[f] = static_cast<uint16_t>(wanted.regs[f] & ~bit(r));
        } else {
          reg.precise = true;
        }
      }
      for (int slot = 0; slot < kSlotCount; ++slot) {
        const uint64_t mask = uint64_t{1} << slot;
        if (!(wanted.slots[f] & mask)) continue;
        Reg* reg = frame.spill_at(slot);
        if (!reg || reg->type != RegType::Scalar || reg->precise) {
          wanted.slots[f] &= ~mask;
        } else {
          reg->precise = true;
        }
      }
    }
    if (wanted.empty()) return;
    if (!walk(checkpoint.history, checkpoint.history.size())) return mark_all_precise();
    index = checkpoint.parent;
  }
}

// backtrack_insn: what `step` needs before it for what is wanted after it.
bool Checker::backtrack_step(Backtrack& wanted, const Step& step) const {
  const isa::Semantics& semantics = semantics_[step.pc];
  const isa::Slot& slot = program_.slots[step.pc];
  const size_t f = step.frame;
  uint16_t& regs = wanted.regs[f];
  const uint16_t dst = bit(slot.dst()), src = bit(slot.src());
  const bool by_reg = semantics.source == Source::Reg;
  switch (semantics.operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Mul:
    case Operation::Div:
    case Operation::SDiv:
    case Operation::Mod:
    case Operation::SMod:
    case Operation::Or:
    case Operation::And:
    case Operation::Xor:
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh:
      if ((regs & dst) && by_reg) regs |= src;  // dst op= src: both made the result
      return true;
    case Operation::Mov:
    case Operation::MovSx:
      if (regs & dst) {
        regs &= static_cast<uint16_t>(~dst);
        if (by_reg) regs |= src;
      }
      return true;
    case Operation::Neg:
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap:
    case Operation::Jump:
    case Operation::MayGoto: return true;
    case Operation::LoadImm64:
    case Operation::LoadPseudo: regs &= static_cast<uint16_t>(~dst); return true;
    case Operation::LoadPacket:
    case Operation::Call: regs &= static_cast<uint16_t>(~kCallerSaved); return true;  // r0 set, r1-r5 clobbered
    case Operation::Load:
    case Operation::LoadSx:
      if (regs & dst) {
        regs &= static_cast<uint16_t>(~dst);
        if (step.kind == Step::StackSlot) wanted.slots[step.slot_frame] |= uint64_t{1} << step.slot;  // a fill
      }
      return true;
    case Operation::Store:
      if (step.kind == Step::StackSlot && (wanted.slots[step.slot_frame] >> step.slot & 1)) {  // a spill
        wanted.slots[step.slot_frame] &= ~(uint64_t{1} << step.slot);
        if (by_reg) wanted.regs[f] |= src;
      }
      return true;
    case Operation::AtomicAdd:
    case Operation::AtomicOr:
    case Operation::AtomicAnd:
    case Operation::AtomicXor:
    case Operation::AtomicXchg:
    case Operation::AtomicCmpxchg:
      // The slot gets an unknown value, the fetched register one too.
      if (step.kind == Step::StackSlot) wanted.slots[step.slot_frame] &= ~(uint64_t{1} << step.slot);
      if (semantics.fetch)
        regs &= static_cast<uint16_t>(~(semantics.operation == Operation::AtomicCmpxchg ? bit(0) : src));
      return true;
    case Operation::JumpIf: {
      // The branch narrowed the operands and every scalar linked to them
      // from one another's bounds: one wanted, all wanted.
      const uint64_t linked_slots = step.kind == Step::LinkedSlot ? uint64_t{1} << step.slot : 0;
      const uint16_t group = static_cast<uint16_t>(step.linked | dst | (by_reg ? src : 0));
      const bool involved =
          (regs & (step.linked | (by_reg ? dst | src : 0))) != 0 || (wanted.slots[f] & linked_slots) != 0;
      if (!involved) return true;
      if (step.kind == Step::LinkedElsewhere) return false;
      regs |= group;
      wanted.slots[f] |= linked_slots;
      return true;
    }
    case Operation::CallLocal: {
      // Back into the caller: the callee's r1-r5 were the caller's.
      if (f + 1 >= wanted.regs.size()) return false;
      wanted.regs[f] |= static_cast<uint16_t>(wanted.regs[f + 1] & kArguments);
      const uint16_t frame_pointer = bit(isa::kFramePointer);  // never a scalar: harmless
      const bool other = (wanted.regs[f + 1] & ~(kArguments | frame_pointer)) != 0 || wanted.slots[f + 1] != 0;
      wanted.regs[f + 1] = 0;
      wanted.slots[f + 1] = 0;
      return !other;  // nothing else of the callee existed before the call
    }
    case Operation::Exit: {
      // Back into the callee from the caller after the call: r0 came from it.
      if (f == 0) return false;
      const uint16_t caller = wanted.regs[f - 1];
      wanted.regs[f] = static_cast<uint16_t>(caller & bit(0));
      wanted.slots[f] = 0;
      wanted.regs[f - 1] = static_cast<uint16_t>(caller & ~kCallerSaved);
      return true;
    }
    default: return false;
  }
}

// The kernel's fallback when backtracking cannot follow a value: every
// scalar of every state on this path is precise.
void Checker::mark_all_precise() {
  for (int32_t index = parent_; index >= 0; index = checkpoints_[index].parent) {
    for (Frame& frame : checkpoints_[index].state->frames) {
      for (Reg& reg : frame.regs)
        if (reg.type == RegType::Scalar) reg.precise = true;
      for (Spilled& spilled : frame.spills)
        if (spilled.reg.type == RegType::Scalar) spilled.reg.precise = true;
    }
  }
}

}  // namespace bpfkit::verify::detail
