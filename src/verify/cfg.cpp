// The first pass, as the kernel's check_subprogs and check_cfg make it:
// subprograms from the local calls, every jump inside its subprogram, each
// subprogram ending in exit or a jump, every instruction reachable, and the
// prune points the second pass stores states at.
#include <algorithm>

#include "internal.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Op;
using isa::Operation;

Reject invalid(uint32_t pc, std::string message) { return {Errno::Einval, pc, std::move(message)}; }

Operation operation_at(const isa::Program& program, size_t pc) {
  return isa::base_semantics(*program.ops[pc]).operation;
}

// A subprogram may end only where control cannot fall into the next one.
bool ends_subprogram(const isa::Program& program, size_t pc) {
  if (!program.ops[pc]) return false;
  const Operation operation = operation_at(program, pc);
  return operation == Operation::Exit || operation == Operation::Jump;
}

// The subprograms the kernel sees: 0 and every local call's target (and
// every function an lddw names).
std::vector<uint32_t> find_subprogs(const isa::Program& program) {
  std::vector<uint32_t> starts{0};
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const Op op = *program.ops[pc];
    int64_t target = -1;
    if (operation_at(program, pc) == Operation::CallLocal)
      target = isa::branch_target(program, pc);
    else if (op == Op::lddw_func)
      target = static_cast<int64_t>(pc) + 1 + program.slots[pc].imm;
    if (target >= 0 && target < static_cast<int64_t>(program.size())) starts.push_back(static_cast<uint32_t>(target));
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  return starts;
}

std::optional<Reject> check_subprogs(const isa::Program& program, const Cfg& cfg) {
  for (size_t i = 0; i < cfg.subprogs.size(); ++i) {
    const uint32_t start = cfg.subprogs[i];
    const uint32_t end = i + 1 < cfg.subprogs.size() ? cfg.subprogs[i + 1] : static_cast<uint32_t>(program.size());
    for (uint32_t pc = start; pc < end; ++pc) {
      if (!program.ops[pc]) continue;
      const Operation operation = operation_at(program, pc);
      if (operation == Operation::Jump || operation == Operation::JumpIf || operation == Operation::MayGoto) {
        const int64_t target = isa::branch_target(program, pc);
        if (target < start || target >= end)
          return invalid(pc, "jump out of range from insn " + std::to_string(pc) + " to " + std::to_string(target));
      }
    }
    if (!ends_subprogram(program, end - 1)) return invalid(end - 1, "last insn is not an exit or jmp");
  }
  return std::nullopt;
}

// Backward, to a fixed point: live before = read ∪ (live after − written).
// A local call reads r1-r5 and writes r0-r5 (the callee's own liveness is
// its own); an exit reads r0 and ends the function.
void compute_live_registers(const isa::Program& program, Cfg& cfg) {
  const size_t size = program.size();
  cfg.live_regs.assign(size, isa::RegSet{});
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t at = size; at-- > 0;) {
      if (!program.ops[at]) continue;
      const Operation operation = operation_at(program, at);
      isa::RegSet after;
      if (operation == Operation::CallLocal) {
        if (at + 1 < size) after = cfg.live_regs[at + 1];
      } else if (operation != Operation::Exit) {
        for (int64_t next : isa::successors(program, at))
          if (next >= 0 && next < static_cast<int64_t>(size)) after = after | cfg.live_regs[next];
      }
      isa::RegSet used = isa::regs_used(*program.ops[at], program.slots[at]);
      isa::RegSet written = isa::regs_written(*program.ops[at], program.slots[at]);
      if (operation == Operation::CallLocal) {
        used = isa::kArgRegs;
        written = isa::RegSet{0, 1, 2, 3, 4, 5};
      }
      if (operation == Operation::Exit) used = isa::kR0;
      const isa::RegSet before = used | isa::RegSet::from_bits(static_cast<uint16_t>(after.bits() & ~written.bits()));
      if (before != cfg.live_regs[at]) {
        cfg.live_regs[at] = before;
        changed = true;
      }
    }
  }
}

// Depth-first over the edges (calls followed into the callee), as check_cfg
// walks them. Back-edges are bounded loops: the kernel allows them to every
// loader with CAP_BPF, which both profiles have.
std::optional<Reject> check_reachable(const isa::Program& program, Cfg& cfg) {
  std::vector<bool> seen(program.size(), false);
  std::vector<uint32_t> work{0};
  seen[0] = true;
  for (uint32_t start : cfg.subprogs) cfg.prune_point[start] = true;
  while (!work.empty()) {
    const uint32_t pc = work.back();
    work.pop_back();
    const Operation operation = operation_at(program, pc);
    // The kernel's prune points (visit_insn): a conditional jump itself and
    // its target, a ja's target, a bpf-to-bpf call and the instruction after
    // any call; not the fall-through of a conditional jump.
    const bool conditional = operation == Operation::JumpIf || operation == Operation::MayGoto;
    const bool call = operation == Operation::Call || operation == Operation::CallLocal;
    if (conditional || operation == Operation::CallLocal) cfg.prune_point[pc] = true;
    const int64_t target = conditional ? isa::branch_target(program, pc) : -1;
    for (int64_t next : isa::successors(program, pc)) {
      if (next < 0 || next >= static_cast<int64_t>(program.size())) continue;  // check_subprogs refused these
      if (operation == Operation::Jump || call || next == target) cfg.prune_point[next] = true;
      if (program.ops[pc] && *program.ops[pc] == isa::Op::lddw_func) cfg.prune_point[next] = true;
      if (!seen[next]) {
        seen[next] = true;
        work.push_back(static_cast<uint32_t>(next));
      }
    }
    if (program.ops[pc] && *program.ops[pc] == isa::Op::lddw_func) {
      const int64_t target = static_cast<int64_t>(pc) + 1 + program.slots[pc].imm;
      if (target >= 0 && target < static_cast<int64_t>(program.size()) && !seen[target]) {
        seen[target] = true;
        work.push_back(static_cast<uint32_t>(target));
      }
    }
  }
  for (uint32_t pc = 0; pc < program.size(); pc += program.width_at(pc))
    if (!seen[pc]) return invalid(pc, "unreachable insn " + std::to_string(pc));
  return std::nullopt;
}

}  // namespace

uint32_t Cfg::subprog_of(uint32_t pc) const {
  auto it = std::upper_bound(subprogs.begin(), subprogs.end(), pc);
  return static_cast<uint32_t>(it - subprogs.begin()) - 1;
}

// add_subprog_and_kfunc, the kernel's first look at a program: a function
// an lddw names must be inside it, reached or not.
std::optional<Reject> check_function_references(const isa::Program& program) {
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc] || *program.ops[pc] != Op::lddw_func) continue;
    const int64_t target = static_cast<int64_t>(pc) + 1 + program.slots[pc].imm;
    if (target < 0 || target >= static_cast<int64_t>(program.size()))
      return invalid(static_cast<uint32_t>(pc), "call to invalid destination");
  }
  return std::nullopt;
}

std::optional<Reject> check_cfg(const isa::Program& program, Cfg& cfg) {
  cfg.subprogs = find_subprogs(program);
  cfg.prune_point.assign(program.size(), false);
  if (auto reject = check_subprogs(program, cfg)) return reject;
  if (auto reject = check_reachable(program, cfg)) return reject;
  compute_live_registers(program, cfg);
  return std::nullopt;
}

std::optional<Reject> check_raw_slots(std::span<const isa::Slot> slots) {
  const int64_t count = static_cast<int64_t>(slots.size());
  std::vector<bool> second_half(slots.size(), false);
  for (int64_t pc = 0; pc < count; ++pc) {
    const std::optional<Op> op = isa::lookup(slots[pc]);
    if (!op || !isa::is_lddw(*op)) continue;
    if (pc + 1 >= count) return invalid(static_cast<uint32_t>(pc), "invalid bpf_ld_imm64 insn");
    second_half[++pc] = true;
  }
  for (int64_t pc = 0; pc < count; ++pc) {
    if (second_half[pc]) continue;
    const std::optional<Op> op = isa::lookup(slots[pc]);
    if (!op) continue;
    const std::optional<int64_t> target = isa::branch_target(*op, slots[pc], pc);
    if (!target) continue;
    const bool call = isa::base_semantics(*op).operation == Operation::CallLocal;
    if (*target < 0 || *target >= count)
      return invalid(static_cast<uint32_t>(pc),
                     call ? std::string("call to invalid destination")
                          : "jump out of range from insn " + std::to_string(pc) + " to " + std::to_string(*target));
  }
  // A jump into an lddw: check_cfg's walk finds it, after any unreachable
  // instruction before it.
  bool into_lddw = false;
  for (int64_t pc = 0; pc < count; ++pc) {
    if (second_half[pc]) continue;
    const std::optional<Op> op = isa::lookup(slots[pc]);
    const std::optional<int64_t> target = op ? isa::branch_target(*op, slots[pc], pc) : std::nullopt;
    into_lddw = into_lddw || (target && second_half[*target]);
  }
  if (!into_lddw) return std::nullopt;
  std::vector<bool> seen(slots.size(), false);
  std::vector<int64_t> work{0};
  seen[0] = true;
  while (!work.empty()) {
    const int64_t pc = work.back();
    work.pop_back();
    const std::optional<Op> op = isa::lookup(slots[pc]);
    if (!op) continue;
    const isa::Semantics semantics = isa::base_semantics(*op);
    std::vector<int64_t> next;
    if (semantics.operation != Operation::Exit && semantics.operation != Operation::Jump)
      next.push_back(pc + (isa::is_lddw(*op) ? 2 : 1));
    if (auto target = isa::branch_target(*op, slots[pc], pc)) next.push_back(*target);
    for (int64_t to : next)
      if (to >= 0 && to < count && !seen[to]) {
        seen[to] = true;
        if (!second_half[to]) work.push_back(to);
      }
  }
  for (int64_t pc = 0; pc < count; ++pc) {
    if (!seen[pc]) return invalid(static_cast<uint32_t>(pc), "unreachable insn " + std::to_string(pc));
    if (pc + 1 < count && second_half[pc + 1]) {
      if (seen[pc + 1])
        return invalid(static_cast<uint32_t>(pc), "jump into the middle of ldimm64 insn " + std::to_string(pc));
      ++pc;
    }
  }
  return std::nullopt;
}

}  // namespace bpfkit::verify::detail
