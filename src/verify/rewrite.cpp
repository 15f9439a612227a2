// What the verifier rewrites once a program is accepted (bpf_check after
// do_check): for a loader with CAP_BPF (both profiles; Linux 6.18 makes the
// same rewrites for each), opt_hard_wire_dead_code_branches,
// opt_remove_dead_code and opt_remove_nops. (An unprivileged loader would
// get sanitize_dead_code's traps instead; bpfkit has no such profile.)
// Each rewrite is announced to the hooks before it is made, as the kernel
// calls bpf_prog_offload_replace_insn and _remove_insns. Branches move as
// bpf_adj_branches moves them: isa::Program's editing functions.
#include "internal.hpp"

namespace bpfkit::verify::detail {
namespace {

namespace cls = isa::cls;
constexpr uint8_t kOpMask = 0xf0, kJmpJa = 0x00, kJmpCall = 0x80, kJmpExit = 0x90, kJmpCond = 0xe0;

// insn_is_cond_jump: JMP32 but its ja; JMP but ja, call and exit (may_goto counts).
bool is_cond_jump(uint8_t code) {
  const uint8_t op = code & kOpMask;
  if (isa::op_class(code) == cls::kJmp32) return op != kJmpJa;
  if (isa::op_class(code) != cls::kJmp) return false;
  return op != kJmpJa && op != kJmpExit && op != kJmpCall;
}

// `ja 0`, and `may_goto +0`: nothing to do.
bool is_nop(const isa::Slot& slot) {
  const bool ja = slot.code == (cls::kJmp | kJmpJa);
  const bool may_goto = slot.code == (cls::kJmp | kJmpCond);
  return (ja || may_goto) && slot.regs == 0 && slot.off == 0 && slot.imm == 0;
}

isa::Slot ja(int16_t off) { return isa::encode(isa::Op::ja, 0, 0, off); }

void hard_wire_dead_branches(isa::Program& program, const std::vector<bool>& seen, Hooks* hooks) {
  for (size_t pc = 0; pc + 1 < program.size(); ++pc) {
    const isa::Slot& slot = program.slots[pc];
    if (!program.ops[pc] || !is_cond_jump(slot.code)) continue;
    const int64_t target = static_cast<int64_t>(pc) + 1 + slot.off;
    isa::Slot wired;
    if (!seen[pc + 1])
      wired = ja(slot.off);
    else if (target >= 0 && target < static_cast<int64_t>(seen.size()) && !seen[static_cast<size_t>(target)])
      wired = ja(0);
    else
      continue;
    if (hooks) hooks->replace_insn(static_cast<uint32_t>(pc), wired);
    program.slots[pc] = wired;  // one slot for one: no branch moves
    program.ops[pc] = isa::Op::ja;
  }
}

Expected<void> remove(isa::Program& program, std::vector<bool>& seen, size_t pc, size_t count, Hooks* hooks) {
  if (hooks) hooks->remove_insns(static_cast<uint32_t>(pc), static_cast<uint32_t>(count));
  auto edit = program.remove(pc, count);
  if (!edit) return edit.error();
  isa::apply_edit(*edit, seen);
  return {};
}

// A branch in dead code may aim into another run of dead code that is
// removed before its own run is (a loop's back-edge after the code it
// loops over, as lifted code lays loops out). The kernel's bpf_adj_branches
// leaves such a branch pointing anywhere, since it is removed next;
// isa::Program's editing refuses a branch into removed code. Aiming every
// dead branch at its next slot first (in this private copy: nothing a hook
// sees, and all of it is removed) keeps each removal's check true for the
// live branches it is there for.
void aim_dead_branches_at_next_slot(isa::Program& program, const std::vector<bool>& seen) {
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (seen[pc] || !program.ops[pc]) continue;
    isa::Slot& slot = program.slots[pc];
    const isa::Op op = *program.ops[pc];
    const isa::TargetField field = op == isa::Op::lddw_func ? isa::TargetField::Imm : isa::target_field(op);
    if (field == isa::TargetField::Off) slot.off = 0;
    if (field == isa::TargetField::Imm) slot.imm = 0;
  }
}

Expected<void> remove_dead_code(isa::Program& program, std::vector<bool>& seen, Hooks* hooks) {
  aim_dead_branches_at_next_slot(program, seen);
  for (size_t pc = 0; pc < program.size(); ++pc) {
    size_t count = 0;
    while (pc + count < program.size() && !seen[pc + count]) ++count;
    if (count == 0) continue;
    if (auto done = remove(program, seen, pc, count, hooks); !done) return done;
  }
  return {};
}

Expected<void> remove_nops(isa::Program& program, std::vector<bool>& seen, Hooks* hooks) {
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc] || !is_nop(program.slots[pc])) continue;
    if (auto done = remove(program, seen, pc, 1, hooks); !done) return done;
    --pc;
  }
  return {};
}

}  // namespace

Expected<isa::Program> rewrite(const isa::Program& program, const std::vector<bool>& seen, const Options& options) {
  isa::Program xlated = program;
  std::vector<bool> live = seen;
  hard_wire_dead_branches(xlated, live, options.hooks);
  if (auto done = remove_dead_code(xlated, live, options.hooks); !done) return done.error();
  if (auto done = remove_nops(xlated, live, options.hooks); !done) return done.error();
  return xlated;
}

}  // namespace bpfkit::verify::detail
