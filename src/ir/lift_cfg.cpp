// Lifting, first step: which functions a program has and the reachable
// basic blocks of each, with the registers each block reads and writes
// (isa::regs_used / regs_written: the ISA's own account of every row).
#include <algorithm>
#include <set>
#include <unordered_set>

#include "lift.hpp"

namespace bpfkit::ir::lifting {

namespace {

Error fail_at(uint32_t pc, std::string message) { return make_error(Errc::BadOperand, std::move(message), at_pc(pc)); }

isa::Operation operation_at(const isa::Program& program, size_t pc) {
  return isa::semantics(*program.ops[pc], *program.dialect).operation;
}

// Only names the text form can read back: other characters become '_'.
std::string text_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '$';
    out += ok ? c : '_';
  }
  return out.empty() ? "fn" : out;
}

// Where a raw program's functions start: the entry, local call targets,
// lddw function pointers and sBPF's registered function keys.
std::set<uint32_t> function_starts(const isa::Program& program) {
  std::set<uint32_t> starts{program.entry};
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const isa::Op op = *program.ops[pc];
    const isa::Semantics s = isa::semantics(op, *program.dialect);
    int64_t target = -1;
    if (s.operation == isa::Operation::CallLocal) target = isa::branch_target(program, pc);
    if (op == isa::Op::lddw_func) target = static_cast<int64_t>(pc) + 1 + program.slots[pc].imm;
    if (s.call == isa::CallResolution::SyscallOrFunction) {
      auto it = program.function_keys.find(static_cast<uint32_t>(program.slots[pc].imm));
      if (it != program.function_keys.end() && !program.syscall_keys.count(it->first)) target = it->second;
    }
    if (target >= 0 && static_cast<size_t>(target) < program.size()) starts.insert(static_cast<uint32_t>(target));
  }
  return starts;
}

}  // namespace

bool ends_block(const isa::Program& program, size_t pc) {
  switch (operation_at(program, pc)) {
    case isa::Operation::Jump:
    case isa::Operation::JumpIf:
    case isa::Operation::MayGoto:
    case isa::Operation::Exit: return true;
    default: return false;
  }
}

Expected<std::vector<FunctionPlan>> plan_functions(const isa::Program& program) {
  if (program.size() == 0) return make_error(Errc::BadOperand, "the program has no instructions");
  if (program.ops.size() != program.size() || program.entry >= program.size())
    return make_error(Errc::BadOperand, "the program is not decoded");
  std::vector<FunctionPlan> plans;
  if (!program.functions.empty()) {
    for (const isa::Function& f : program.functions) {
      if (f.size == 0 || uint64_t{f.start} + f.size > program.size())
        return fail_at(f.start, "function " + f.name + " lies outside the program");
      plans.push_back({text_name(f.name), f.start, f.start + f.size, {}, {}});
    }
  } else {
    const std::set<uint32_t> starts = function_starts(program);
    for (auto it = starts.begin(); it != starts.end(); ++it) {
      const uint32_t end = std::next(it) == starts.end() ? static_cast<uint32_t>(program.size()) : *std::next(it);
      plans.push_back({*it == program.entry ? "main" : std::string("fn_") + std::to_string(*it), *it, end, {}, {}});
    }
  }
  auto entry =
      std::find_if(plans.begin(), plans.end(), [&](const FunctionPlan& p) { return p.start == program.entry; });
  if (entry == plans.end()) return fail_at(program.entry, "no function starts at the entry");
  std::rotate(plans.begin(), entry, entry + 1);
  // Names are unique in a module.
  std::set<std::string> seen;
  for (FunctionPlan& plan : plans) {
    std::string name = plan.name;
    for (int n = 2; !seen.insert(name).second; ++n) name = plan.name + std::string(".") + std::to_string(n);
    plan.name = name;
  }
  return plans;
}

Expected<void> plan_blocks(const isa::Program& program, FunctionPlan& plan) {
  // A function is the code its start reaches without calls. That is
  // usually [start, end), but code may jump or fall into the next
  // function's text (sBPF allows it, the Linux interpreter runs it): such
  // code becomes part of this function too, as it runs in this frame.
  std::unordered_set<uint32_t> reachable{plan.start}, leader{plan.start};
  auto inside = [&](int64_t pc) { return pc >= 0 && static_cast<size_t>(pc) < program.size(); };
  std::vector<uint32_t> work{plan.start};
  // Successors within the function: a local call's target is another function.
  auto successors = [&](uint32_t pc, std::vector<uint32_t>& out) -> Expected<void> {
    out.clear();
    if (!program.ops[pc]) return fail_at(pc, "a jump lands inside an lddw");
    const isa::Operation operation = operation_at(program, pc);
    if (operation == isa::Operation::None) return fail_at(pc, "the dialect has no such instruction");
    const int64_t fall = int64_t{pc} + program.width_at(pc);
    if (operation == isa::Operation::Jump || operation == isa::Operation::JumpIf ||
        operation == isa::Operation::MayGoto) {
      const int64_t target = isa::branch_target(program, pc);
      if (!inside(target)) return fail_at(pc, "a jump leaves the program");
      out.push_back(static_cast<uint32_t>(target));
      if (operation == isa::Operation::Jump) return {};
    } else if (operation == isa::Operation::Exit) {
      return {};
    }
    if (!inside(fall)) return fail_at(pc, "control falls off the end of the program");
    out.push_back(static_cast<uint32_t>(fall));
    return {};
  };
  std::vector<uint32_t> succs;
  while (!work.empty()) {
    const uint32_t pc = work.back();
    work.pop_back();
    if (auto ok = successors(pc, succs); !ok) return ok;
    const bool ends = ends_block(program, pc);
    for (uint32_t next : succs) {
      if (ends) leader.insert(next);
      if (reachable.insert(next).second) work.push_back(next);
    }
  }
  std::vector<uint32_t> order(reachable.begin(), reachable.end());
  std::sort(order.begin(), order.end());
  // Blocks: from each pc that starts one to the next leader or a block end;
  // the function's start first.
  std::rotate(order.begin(), std::find(order.begin(), order.end(), plan.start),
              std::find(order.begin(), order.end(), plan.start) + 1);
  std::unordered_set<uint32_t> placed;
  const isa::RegSet mask = isa::RegSet::from_bits(0x7ff);  // r0..r10
  for (uint32_t first : order) {
    if (placed.count(first)) continue;
    CodeBlock block;
    block.start = first;
    for (uint32_t pc = first;;) {
      placed.insert(pc);
      block.last = pc;
      const isa::Op op = *program.ops[pc];
      const isa::Slot& slot = program.slots[pc];
      block.use = block.use | ((isa::regs_used(op, slot, *program.dialect) & mask) &
                               isa::RegSet::from_bits(static_cast<uint16_t>(~block.def.bits())));
      block.def = block.def | (isa::regs_written(op, slot, *program.dialect) & mask);
      const uint32_t next = pc + program.width_at(pc);
      if (ends_block(program, pc) || leader.count(next) || !reachable.count(next) || placed.count(next)) {
        block.end = next;
        break;
      }
      pc = next;
    }
    if (auto ok = successors(block.last, block.succs); !ok) return ok;
    // A conditional jump to its own fall-through has one successor.
    if (block.succs.size() == 2 && block.succs[0] == block.succs[1]) block.succs.pop_back();
    plan.block_at[block.start] = plan.blocks.size();
    plan.blocks.push_back(std::move(block));
  }
  for (const CodeBlock& block : plan.blocks)
    for (uint32_t succ : block.succs)
      if (!plan.block_at.count(succ)) return fail_at(block.last, "a successor starts no block");
  return {};
}

}  // namespace bpfkit::ir::lifting
