// Lifting bytecode into pruned SSA (Cytron et al., with liveness pruning):
// blocks and terminators first, then liveness, phis at the iterated
// dominance frontiers of each register's definitions where it is live, then
// renaming in one walk of the dominator tree. Every step is iterative.
//
// Memory stays as the program wrote it: loads and stores through r10 are
// loadraw/storeraw on the frame-pointer value (%fp plus the slot's offset),
// not allocs. That is exact without an analysis of which slots escape;
// passes may turn frame slots into allocs later.
#include "lift.hpp"

#include <unordered_map>

namespace bpfkit::ir {

namespace {

using lifting::CodeBlock;
using lifting::FunctionPlan;
using lifting::FunctionsByStart;
using lifting::kRegs;
using lifting::RegValues;

class FunctionLifter {
 public:
  FunctionLifter(const isa::Program& program, FunctionPlan& plan, Function& fn, const FunctionsByStart& functions)
      : program_(program), plan_(plan), fn_(fn), functions_(functions) {}

  // The plan's liveness is computed (lifting::compute_liveness).
  Expected<void> run() {
    make_blocks();
    place_phis();
    return rename();
  }

 private:
  CodeBlock* code(const Block* block) const { return static_cast<CodeBlock*>(block->user_data); }
  Block* block_at(uint32_t pc) const { return plan_.blocks[plan_.block_at.at(pc)].block; }

  // One IR block per code block, each with its terminator (operands come
  // during renaming). An entry that is also a jump target gets a block of
  // its own in front, so that the entry has no predecessors.
  void make_blocks() {
    bool entry_is_target = false;
    for (const CodeBlock& cb : plan_.blocks)
      for (uint32_t succ : cb.succs) entry_is_target |= succ == plan_.start;
    Block* entry = entry_is_target ? fn_.add_block() : nullptr;
    for (CodeBlock& cb : plan_.blocks) {
      cb.block = fn_.add_block();
      cb.block->user_data = &cb;
      cb.block->source_start = cb.start;
      for (uint32_t pc = cb.start; pc < cb.end; ++pc) cb.block->source_insns += program_.ops[pc].has_value();
    }
    if (entry) Builder(fn_, back(entry)).jump(plan_.blocks.front().block);
    for (CodeBlock& cb : plan_.blocks) {
      Builder b(fn_, back(cb.block));
      const bool real = lifting::ends_block(program_, cb.last);
      if (real) b.set_origin(cb.last);
      const isa::Semantics s = isa::semantics(*program_.ops[cb.last], *program_.dialect);
      if (real && s.operation == isa::Operation::Exit) {
        b.ret(fn_.undef());
      } else if (cb.succs.size() == 1) {
        b.jump(block_at(cb.succs[0]));
      } else if (s.operation == isa::Operation::MayGoto) {
        Inst* inst = b.create(Opcode::MayGoto, {});
        inst->set_target(0, block_at(cb.succs[0]));
        inst->set_target(1, block_at(cb.succs[1]));
      } else {
        b.branch(s.condition, s.width, fn_.undef(), fn_.undef(), block_at(cb.succs[0]), block_at(cb.succs[1]));
      }
    }
  }

  void place_phis() {
    DominatorTree tree(fn_);
    const auto frontiers = tree.frontiers();
    for (int reg = 0; reg < kRegs; ++reg) {
      std::vector<Block*> work{fn_.entry()};  // every register has its entry value
      std::unordered_map<const Block*, bool> queued{{fn_.entry(), true}};
      for (const CodeBlock& cb : plan_.blocks)
        if (cb.def.contains(reg) && !queued[cb.block]) {
          queued[cb.block] = true;
          work.push_back(cb.block);
        }
      std::unordered_map<const Block*, bool> has_phi;
      while (!work.empty()) {
        Block* block = work.back();
        work.pop_back();
        const int index = tree.rpo_index(block);
        if (index < 0) continue;
        for (Block* frontier : frontiers[index]) {
          if (has_phi[frontier] || !code(frontier)->live_in.contains(reg)) continue;
          has_phi[frontier] = true;
          Inst* phi = Builder(fn_, front(frontier)).phi();
          phi_reg_[phi] = reg;
          if (!queued[frontier]) {
            queued[frontier] = true;
            work.push_back(frontier);
          }
        }
      }
    }
  }

  // Translates a block's instructions; `regs` holds each register's value.
  Expected<void> translate_block(Block* block, RegValues& regs) {
    for (Inst* phi = block->first(); phi && phi->op() == Opcode::Phi; phi = phi->next()) regs[phi_reg_.at(phi)] = phi;
    const CodeBlock* cb = code(block);
    if (!cb) return {};
    Builder b(fn_, before_terminator(block));
    const bool real = lifting::ends_block(program_, cb->last);
    for (uint32_t pc = cb->start; pc < cb->end; pc += program_.width_at(pc)) {
      if (pc == cb->last && real) break;
      if (auto ok = lifting::translate(program_, pc, b, regs, functions_); !ok) return ok;
    }
    Inst* term = block->terminator();
    if (term->op() == Opcode::Ret) term->set_operand(0, regs[0]);
    if (term->op() == Opcode::Br) {
      const isa::Slot& slot = program_.slots[cb->last];
      const isa::Semantics s = isa::semantics(*program_.ops[cb->last], *program_.dialect);
      if (slot.dst() >= kRegs || (s.source == isa::Source::Reg && slot.src() >= kRegs))
        return make_error(Errc::BadOperand, "a register out of range", at_pc(cb->last));
      term->set_operand(0, lifting::fit(fn_, regs[slot.dst()], s.width));
      term->set_operand(1, s.source == isa::Source::Reg
                               ? lifting::fit(fn_, regs[slot.src()], s.width)
                               : (s.width == 64 ? fn_.constant(static_cast<uint64_t>(int64_t{slot.imm}), 64)
                                                : fn_.constant(static_cast<uint32_t>(slot.imm), 32)));
    }
    return {};
  }

  Expected<void> rename() {
    DominatorTree tree(fn_);
    RegValues regs{};
    for (int reg = 0; reg < kRegs; ++reg) regs[reg] = fn_.undef();
    for (int reg = 1; reg <= 5; ++reg) regs[reg] = fn_.arg(reg);
    regs[isa::kFramePointer] = fn_.frame_pointer();
    struct Frame {
      Block* block;
      RegValues saved;  // the values on entry, restored for the siblings
      size_t child;
    };
    std::vector<Frame> stack{{fn_.entry(), regs, 0}};
    if (auto ok = enter(fn_.entry(), regs); !ok) return ok;
    while (!stack.empty()) {
      Frame& top = stack.back();
      const auto& children = tree.children(top.block);
      if (top.child < children.size()) {
        Block* child = children[top.child++];
        RegValues inherited = regs;  // the parent's values at its end
        stack.push_back({child, inherited, 0});
        if (auto ok = enter(child, regs); !ok) return ok;
        continue;
      }
      regs = top.saved;  // back to the parent's end state
      stack.pop_back();
    }
    for (Block* block : fn_.blocks()) block->user_data = nullptr;
    return {};
  }

  // Translates `block` and gives its successors' phis their inputs.
  Expected<void> enter(Block* block, RegValues& regs) {
    if (auto ok = translate_block(block, regs); !ok) return ok;
    for (Block* succ : block->succs())
      for (Inst* phi = succ->first(); phi && phi->op() == Opcode::Phi; phi = phi->next())
        phi->add_incoming(regs[phi_reg_.at(phi)], block);
    return {};
  }

  const isa::Program& program_;
  FunctionPlan& plan_;
  Function& fn_;
  const FunctionsByStart& functions_;
  std::unordered_map<const Inst*, int> phi_reg_;
};

// The highest of r1-r5 the function may read before writing it: what a
// call to it passes. (A call that passed all five kept r3-r5 alive around
// every loop holding one, as phis the code generator had to fill.)
size_t arguments_read(const FunctionPlan& plan) {
  if (plan.blocks.empty()) return 0;
  const isa::RegSet& entry = plan.blocks.front().live_in;
  for (size_t r = 5; r >= 1; --r)
    if (entry.contains(static_cast<int>(r))) return r;
  return 0;
}

}  // namespace

void lifting::compute_liveness(FunctionPlan& plan) {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = plan.blocks.rbegin(); it != plan.blocks.rend(); ++it) {
      isa::RegSet out;
      for (uint32_t succ : it->succs) out = out | plan.blocks[plan.block_at.at(succ)].live_in;
      const isa::RegSet in = it->use | (out & isa::RegSet::from_bits(static_cast<uint16_t>(~it->def.bits())));
      if (in != it->live_in) {
        it->live_in = in;
        changed = true;
      }
    }
  }
}

Expected<std::unique_ptr<Module>> lift(const isa::Program& program) {
  auto plans = lifting::plan_functions(program);
  if (!plans) return plans.error();
  auto module = std::make_unique<Module>(*program.dialect);
  module->maps() = program.maps;
  FunctionsByStart functions;
  for (FunctionPlan& plan : *plans) {
    Function* fn = module->add_function(plan.name);
    fn->set_origin(plan.start);
    if (auto ok = lifting::plan_blocks(program, plan); !ok) return ok.error();
    lifting::compute_liveness(plan);
    functions[plan.start] = {fn, arguments_read(plan)};
  }
  for (size_t i = 0; i < plans->size(); ++i) {
    FunctionPlan& plan = (*plans)[i];
    FunctionLifter lifter(program, plan, *module->functions()[i], functions);
    if (auto ok = lifter.run(); !ok) return ok.error();
  }
  return module;
}

}  // namespace bpfkit::ir
