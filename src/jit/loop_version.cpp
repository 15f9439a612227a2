// Loop versioning of region checks (Linux, hot code). A loop whose body is
// one block that jumps back to its own start (a counted loop over a buffer)
// checks, once at its entry, that every access through an affine address
// stays inside its guessed region on every iteration, and then runs a copy
// of the block without those checks; when the check fails it runs the
// ordinary copy, which checks each access, so a fault keeps its exact pc,
// address and count. Both copies meter as every block does, except that a
// loop that cannot fault (its accesses proved, nothing else that faults)
// and steps by a constant is charged all its trips at its entry, and its
// unchecked copy has no meter.
//
// Affine: an invariant register's value (a register the block never
// writes), plus an induction variable's value at the iteration's start (a
// register the block changes only by adding constants, or by adding one
// invariant register), plus a constant. The exit test, the block's last
// instruction, bounds the tested variable over every iteration: the entry
// check works out its lowest value and its span, refusing any wrap-around,
// and each access's lowest and highest byte from them. The exit test may
// also be clang's `if cond goto +1; goto start`, which goes on while cond
// fails.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>

#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Condition;
using isa::Operation;
using isa::Source;

using loop::Affine;
using loop::constant;
using loop::difference_fits_int32;
using loop::fits_int32;
using loop::Step;
using loop::sum;

namespace {

bool is_signed(Condition condition) {
  return condition == Condition::SGt || condition == Condition::SGe || condition == Condition::SLt ||
         condition == Condition::SLe;
}

// Instructions that never fault nor leave the block (Linux division is
// defined for every divisor): with them and accesses the entry check
// proved, a loop runs exactly the trips its test allows.
bool cannot_fault(const isa::Semantics& sem, isa::Op op) {
  switch (sem.operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Mul:
    case Operation::Or:
    case Operation::And:
    case Operation::Xor:
    case Operation::Mov:
    case Operation::MovSx:
    case Operation::Neg:
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh:
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap: return true;
    case Operation::Div:
    case Operation::SDiv:
    case Operation::Mod:
    case Operation::SMod: return sem.division == isa::DivisionPolicy::Defined;
    case Operation::LoadImm64: return op == isa::Op::lddw;
    default: return false;
  }
}

// Whether a loop stepping by `step` and running while `condition` holds
// keeps its variable on one side of the bound, so that its values form
// one range the entry check can work out (`!=` only by steps of one).
bool accepted_test(Condition condition, const Step& step) {
  const bool up = step.reg >= 0 || step.c > 0;
  const bool down = step.reg < 0 && step.c < 0;
  const bool by_constant = step.reg < 0;
  switch (condition) {
    case Condition::Lt:
    case Condition::Le: return up;
    case Condition::SLt:
    case Condition::SLe: return up && by_constant;
    case Condition::Gt:
    case Condition::Ge:
    case Condition::SGt:
    case Condition::SGe: return down;
    case Condition::Ne: return by_constant && (step.c == 1 || step.c == -1);
    default: return false;
  }
}

}  // namespace

std::optional<Compiler::LoopPlan> Compiler::plan_loop(const Block& block) const {
  // Constant blinding keeps the program's immediates out of the code; the
  // entry check would hold the steps and bounds.
  if (sbpf_ || has_callx_ || inputs_.harden || isa::frame_model(dialect_).gap_size != 0) return std::nullopt;
  // The exit test: the block's last instruction, a conditional jump back to
  // its start; or clang's `if cond goto +1; goto start` (the goto joined
  // the jump's block), which goes on while cond fails.
  uint32_t last = block.start;
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) last = pc;
  auto jumps_to = [&](uint32_t pc, int64_t target) {
    return *isa::branch_target(*program_.ops[pc], program_.slots[pc], static_cast<int64_t>(pc)) == target;
  };
  bool negate = false;
  if (sem_at(last).operation == Operation::Jump && last > block.start && absorbs_goto_[last - 1] &&
      jumps_to(last, block.start)) {
    last -= 1;
    negate = true;
  }
  const isa::Semantics& test = sem_at(last);
  if (test.operation != Operation::JumpIf || test.width != 64 || test.condition == Condition::Set ||
      (!negate && !jumps_to(last, block.start)))
    return std::nullopt;

  // Which registers the block writes, and which only by steps.
  isa::RegSet written;
  for (uint32_t pc = block.start; pc < last; pc += program_.width_at(pc)) {
    const Operation operation = sem_at(pc).operation;
    if (ends_check_groups(operation) || (*program_.ops[pc] == isa::Op::ldxw && inputs_.has_packet)) return std::nullopt;
    written = written | written_at(pc);
  }
  loop::Steps step;
  for (int reg = 0; reg < isa::kRegisterCount; ++reg)
    if (written.contains(reg)) step[reg] = Step{};
  for (uint32_t pc = block.start; pc < last; pc += program_.width_at(pc)) {
    const isa::Slot& slot = program_.slots[pc];
    const isa::Semantics& sem = sem_at(pc);
    const bool add = sem.operation == Operation::Add && sem.width == 64;
    const bool sub = sem.operation == Operation::Sub && sem.width == 64 && !sem.swapped;
    for (int reg = 0; reg < isa::kRegisterCount; ++reg) {
      if (!step[reg] || !written_at(pc).contains(reg)) continue;
      std::optional<Step>& s = step[reg];
      if ((add || sub) && sem.source == Source::Imm && slot.dst() == reg) {
        const int64_t k = sub ? -static_cast<int64_t>(slot.imm) : static_cast<int64_t>(slot.imm);
        if (__builtin_add_overflow(s->c, k, &s->c)) s.reset();
      } else if (add && sem.source == Source::Reg && slot.dst() == reg && !written.contains(slot.src()) && s->reg < 0) {
        s->reg = slot.src();
      } else {
        s.reset();
      }
    }
  }
  for (int reg = 0; reg < isa::kRegisterCount; ++reg)
    if (!loop::usable_step(step[reg])) step[reg].reset();

  // The symbolic walk: each register's value at each instruction.
  loop::Values value;
  for (int reg = 0; reg < isa::kRegisterCount; ++reg) {
    if (!written.contains(reg))
      value[reg] = {true, reg, -1, 0};
    else if (step[reg])
      value[reg] = {true, -1, reg, 0};
  }
  std::vector<loop::Access> accesses;
  for (uint32_t pc = block.start; pc < last; pc += program_.width_at(pc)) {
    if (const auto access = loop_access(pc, value)) accesses.push_back(*access);
    loop::advance(program_, sem_at(pc), written_at(pc), pc, value);
  }

  LoopPlan plan;
  const isa::Slot& test_slot = program_.slots[last];
  plan_exit_test(plan, value[test_slot.dst()],
                 test.source == Source::Imm ? constant(test_slot.imm) : value[test_slot.src()],
                 negate ? isa::negated(test.condition) : test.condition, step);
  plan_ranges(plan, accesses, step);
  // Without a meter: a known test and nothing that can fault or end the
  // loop early.
  std::vector<bool> proven(last - block.start, false);
  for (const LoopRange& range : plan.ranges)
    for (const uint32_t pc : range.pcs) proven[pc - block.start] = true;
  plan.unmetered = plan.iv >= 0;
  for (uint32_t pc = block.start; pc < last && plan.unmetered; pc += program_.width_at(pc)) {
    const isa::Semantics& sem = sem_at(pc);
    const isa::Slot& slot = program_.slots[pc];
    if (const auto shape = access_shape(sem, slot)) {
      plan.unmetered =
          proven[pc - block.start] || proof_holds_at(pc) || in_frame(pc, shape->base, shape->off, shape->size);
    } else {
      plan.unmetered = cannot_fault(sem, *program_.ops[pc]);
    }
  }
  if (plan.ranges.empty() && !plan.unmetered) return std::nullopt;
  plan_delta_in_rax(plan, block.start, block.end);
  return plan;
}

void Compiler::plan_delta_in_rax(LoopPlan& plan, uint32_t start, uint32_t end) const {
  if (plan.ranges.empty() || std::any_of(plan.ranges.begin(), plan.ranges.end(),
                                         [&](const LoopRange& range) { return range.region != plan.ranges[0].region; }))
    return;
  std::vector<bool> proven(end - start, false);
  for (const LoopRange& range : plan.ranges)
    for (const uint32_t pc : range.pcs) proven[pc - start] = true;
  for (uint32_t pc = start; pc < end; pc += program_.width_at(pc)) {
    switch (sem_at(pc).operation) {
      // Lowerings that leave rax alone.
      case Operation::Add:
      case Operation::Or:
      case Operation::And:
      case Operation::Xor:
      case Operation::Mul:
      case Operation::Mov:
      case Operation::MovSx:
      case Operation::Neg:
      case Operation::Lsh:
      case Operation::Rsh:
      case Operation::Arsh:
      case Operation::Jump:
      case Operation::JumpIf: break;
      case Operation::Sub:
        if (sem_at(pc).swapped) return;
        break;
      case Operation::Load:
      case Operation::LoadSx:
      case Operation::Store:
        if (!proven[pc - start]) return;
        break;
      default: return;
    }
  }
  plan.delta_in_rax = true;
}

void Compiler::emit_unchecked_loop_start(const LoopPlan& plan) {
  delta_in_rax_ = plan.delta_in_rax;
  if (plan.delta_in_rax)
    mov(rax, qword[rsp + static_cast<int>(offsetof(State, host_delta) + 8 * plan.ranges[0].region)]);
}

namespace loop {

void advance(const isa::Program& program, const isa::Semantics& sem, isa::RegSet written, uint32_t pc, Values& value) {
  const isa::Slot& slot = program.slots[pc];
  Values after = value;
  for (int reg = 0; reg < isa::kRegisterCount; ++reg)
    if (written.contains(reg)) after[reg] = {};
  const int dst = slot.dst();
  const bool wide = sem.width == 64;
  if (sem.operation == Operation::Mov && sem.source == Source::Reg && wide) {
    after[dst] = value[slot.src()];
  } else if (sem.operation == Operation::Mov && sem.source == Source::Imm) {
    after[dst] =
        constant(wide ? static_cast<int64_t>(slot.imm) : static_cast<int64_t>(static_cast<uint32_t>(slot.imm)));
  } else if (sem.operation == Operation::Add && wide) {
    after[dst] = sum(value[dst], sem.source == Source::Imm ? constant(slot.imm) : value[slot.src()]);
  } else if (sem.operation == Operation::Sub && wide && sem.source == Source::Imm && !sem.swapped) {
    after[dst] = sum(value[dst], constant(-static_cast<int64_t>(slot.imm)));
  } else if (*program.ops[pc] == isa::Op::lddw) {
    after[dst] = constant(static_cast<int64_t>(program.imm64(pc)));
  }
  value = after;
}

}  // namespace loop

// An access at pc whose address is affine and whose check the entry check
// can take over: not the stack's r10 + constant, not proven, a guessed region.
std::optional<loop::Access> Compiler::loop_access(uint32_t pc, const loop::Values& value) const {
  const auto shape = access_shape(sem_at(pc), program_.slots[pc]);
  if (!shape) return std::nullopt;
  const Affine address = sum(value[shape->base], constant(shape->off));
  if (!address.known || address.c > INT64_MAX - 8 || in_frame(pc, shape->base, shape->off, shape->size) ||
      proof_holds_at(pc) || guess_at_[pc] >= kTableRegions)
    return std::nullopt;
  return loop::Access{pc, address, shape->size, shape->write};
}

void Compiler::plan_exit_test(LoopPlan& plan, Affine left, Affine right, Condition condition,
                              const loop::Steps& step) const {
  // The tested variable on the left.
  if (right.iv >= 0) {
    std::swap(left, right);
    condition = isa::mirrored(condition);
  }
  if (!left.known || !right.known || left.iv < 0 || right.iv >= 0 || !step[left.iv]) return;
  // At the test the variable is its start value v plus what the iteration
  // added so far: the next iteration runs while v' + (what else the tested
  // value adds, less the step) meets the bound, v' being that iteration's
  // start value.
  const Step& s = *step[left.iv];
  int64_t test_const = 0;
  const bool step_cancels = s.reg < 0 || left.inv == s.reg;
  if (step_cancels && !__builtin_sub_overflow(left.c, s.c, &test_const) && fits_int32(test_const) &&
      accepted_test(condition, s) && (right.inv >= 0 ? fits_int32(right.c) : true)) {
    plan.iv = left.iv;
    plan.step_reg = s.reg;
    plan.step = s.c;
    plan.test_inv = s.reg >= 0 ? -1 : left.inv;
    plan.test_const = test_const;
    plan.condition = condition;
    plan.bound_reg = right.inv;
    plan.bound_const = right.c;
  }
}

void Compiler::plan_ranges(LoopPlan& plan, const std::vector<loop::Access>& accesses, const loop::Steps& step) const {
  // An access through a variable other than the tested one moves in step
  // with it, or steps by its own constant while the tested one does too
  // (the entry check bounds it through the trip count).
  for (const loop::Access& access : accesses) {
    const Affine& address = access.address;
    int64_t own_step = 0;
    if (address.iv >= 0) {
      if (plan.iv < 0) continue;
      const Step& s = *step[address.iv];
      if (!(s == *step[plan.iv])) {
        if (plan.step_reg >= 0 || s.reg >= 0 || s.c == INT32_MIN) continue;
        own_step = s.c;
      }
    }
    const uint8_t region = guess_at_[access.pc];
    auto same = [&](const LoopRange& range) {
      return range.inv == address.inv && range.iv == address.iv && range.region == region &&
             range.write == access.write;
    };
    auto found = std::find_if(plan.ranges.begin(), plan.ranges.end(), same);
    if (found == plan.ranges.end())
      found = plan.ranges.insert(
          plan.ranges.end(),
          LoopRange{address.inv, address.iv, region, access.write, INT64_MAX, INT64_MIN, own_step, {}});
    found->lo = std::min(found->lo, address.c);
    found->hi = std::max(found->hi, address.c + static_cast<int64_t>(access.size));
    found->pcs.push_back(access.pc);
  }
  // The entry check adds these as 32-bit immediates.
  std::erase_if(plan.ranges, [&](const LoopRange& range) {
    bool first_fits = range.inv < 0 || fits_int32(range.lo);
    if (range.iv >= 0)
      first_fits = range.own_step != 0 ? fits_int32(range.lo) : difference_fits_int32(range.lo, plan.test_const);
    return !first_fits || !difference_fits_int32(range.hi, range.lo);
  });
}

// Runs at the loop's entry with every register holding its value there:
// falls through when each range is inside its region on every iteration,
// else jumps to `refused`.
void Compiler::emit_loop_entry_check(const LoopPlan& plan, uint32_t count, Label& refused) {
  if (plan.unmetered ||
      std::any_of(plan.ranges.begin(), plan.ranges.end(), [](const LoopRange& range) { return range.iv >= 0; }))
    emit_iv_range(plan, refused);
  if (std::any_of(plan.ranges.begin(), plan.ranges.end(), [](const LoopRange& range) { return range.own_step != 0; }))
    emit_trip_count(plan, refused);
  for (const LoopRange& range : plan.ranges) emit_range_check(plan, range, refused);
  if (plan.unmetered) emit_loop_meter(plan, count, refused);
}

// An unmetered loop charges all its trips at its entry: span / step + 1
// (a register's value, not 0, or a constant)
// trips (the values the tested variable takes) of `count` instructions,
// when the meter holds more than that (else the ordinary copy runs, which
// stops where the budget ends). A joined goto gives its count back on
// leaving, as in the metered code.
void Compiler::emit_loop_meter(const LoopPlan& plan, uint32_t count, Label& refused) {
  const uint64_t step = plan.step < 0 ? 0 - static_cast<uint64_t>(plan.step) : static_cast<uint64_t>(plan.step);
  mov(rax, rdx);
  if (plan.step_reg >= 0) {  // a step of 0 would loop until the budget ends
    mov(rcx, kBpfRegisters[plan.step_reg]);
    test(rcx, rcx);
    jz(refused);
    xor_(edx, edx);
    div(rcx);
  } else if (std::has_single_bit(step)) {
    if (step > 1) shr(rax, std::countr_zero(step));
  } else {
    xor_(edx, edx);
    mov(ecx, static_cast<uint32_t>(step));
    div(rcx);
  }
  add(rax, 1);
  jb(refused);
  imul(rax, rax, static_cast<int32_t>(count));
  jo(refused);
  cmp(kMeter, rax);
  jbe(refused);
  sub(kMeter, rax);
}

// rax = the lowest value y (the tested value less the step, see LoopPlan)
// takes at an iteration's start, rdx = the highest less the lowest; or a
// jump to `refused` when the values could wrap around. Iteration 0 runs
// whatever the test says.
void Compiler::emit_iv_range(const LoopPlan& plan, Label& refused) {
  mov(rax, kBpfRegisters[plan.iv]);
  if (plan.test_inv >= 0) add(rax, kBpfRegisters[plan.test_inv]);
  if (plan.test_const != 0) add(rax, static_cast<int32_t>(plan.test_const));
  if (plan.bound_reg >= 0) {
    mov(rdx, kBpfRegisters[plan.bound_reg]);
    if (plan.bound_const != 0) add(rdx, static_cast<int32_t>(plan.bound_const));
  } else {
    mov(rdx, static_cast<uint64_t>(plan.bound_const));
  }
  const bool signed_test = is_signed(plan.condition);
  const bool up = plan.step_reg >= 0 || plan.step > 0;
  // rax = y at iteration 0, rdx = the bound B.
  if (up) {
    switch (plan.condition) {
      case Condition::Lt:
      case Condition::SLt:  // highest: B - 1 when B > y0, else y0
        cmp(rdx, rax);
        lea(rcx, ptr[rdx - 1]);
        mov(rdx, rax);
        signed_test ? cmovg(rdx, rcx) : cmova(rdx, rcx);
        break;
      case Condition::Le:
      case Condition::SLe:  // highest: the larger of y0 and B
        cmp(rdx, rax);
        signed_test ? cmovl(rdx, rax) : cmovb(rdx, rax);
        break;
      default:  // Ne by +1: y0 below B, highest B - 1 (its step reaches B)
        cmp(rax, rdx);
        jae(refused);
        sub(rdx, 1);
        break;
    }
    if (plan.condition != Condition::Ne) {  // the highest plus the step must not wrap
      mov(rcx, rdx);
      if (plan.step_reg >= 0)
        add(rcx, kBpfRegisters[plan.step_reg]);
      else
        add(rcx, static_cast<int32_t>(plan.step));
      signed_test ? jo(refused) : jb(refused);
    }
    sub(rdx, rax);
    return;
  }
  switch (plan.condition) {
    case Condition::Gt:
    case Condition::SGt:  // lowest: B + 1 when B < y0, else y0
      cmp(rdx, rax);
      lea(rcx, ptr[rdx + 1]);
      signed_test ? cmovge(rcx, rax) : cmovae(rcx, rax);
      break;
    case Condition::Ge:
    case Condition::SGe:  // lowest: the smaller of y0 and B
      cmp(rdx, rax);
      mov(rcx, rdx);
      signed_test ? cmovg(rcx, rax) : cmova(rcx, rax);
      break;
    default:  // Ne by -1: y0 above B, lowest B + 1
      cmp(rax, rdx);
      jbe(refused);
      lea(rcx, ptr[rdx + 1]);
      break;
  }
  if (plan.condition != Condition::Ne) {  // the lowest minus the step must not wrap
    const auto down_by = static_cast<int32_t>(-plan.step);
    if (signed_test) {
      mov(rdx, rcx);
      sub(rdx, down_by);
      jo(refused);
    } else {
      cmp(rcx, down_by);
      jb(refused);
    }
  }
  mov(rdx, rax);
  sub(rdx, rcx);
  mov(rax, rcx);
}

// State::loop_trips = the iterations after the first: the span (rdx, from
// emit_iv_range) over the tested variable's constant step; rax and rdx kept.
void Compiler::emit_trip_count(const LoopPlan& plan, Label& refused) {
  const uint64_t step = plan.step < 0 ? 0 - static_cast<uint64_t>(plan.step) : static_cast<uint64_t>(plan.step);
  if (std::has_single_bit(step)) {
    mov(rcx, rdx);
    if (step > 1) shr(rcx, std::countr_zero(step));
  } else {
    mov(field(offsetof(State, loop_low)), rax);
    mov(field(offsetof(State, loop_span)), rdx);
    mov(rax, rdx);
    xor_(edx, edx);
    mov(ecx, static_cast<uint32_t>(step));
    div(rcx);
    mov(rcx, rax);
    mov(rax, field(offsetof(State, loop_low)));
    mov(rdx, field(offsetof(State, loop_span)));
  }
  test(rcx, rcx);  // the distances are signed products of it
  js(refused);
  mov(field(offsetof(State, loop_trips)), rcx);
}

// The range's first byte at its lowest and its last byte at its highest
// inside the guessed region (the subtraction and compare of the inline
// check, with the 1-byte table: the region's limit), with no carry between.
void Compiler::emit_range_check(const LoopPlan& plan, const LoopRange& range, Label& refused) {
  const Xbyak::Address distance = field(offsetof(State, loop_distance));
  if (range.own_step != 0) {  // its value now, less the distance it covers when it steps down
    mov(rcx, field(offsetof(State, loop_trips)));
    imul(rcx, rcx, static_cast<int32_t>(range.own_step < 0 ? -range.own_step : range.own_step));
    jo(refused);
    mov(distance, rcx);
    mov(rcx, kBpfRegisters[range.iv]);
    if (range.own_step < 0) sub(rcx, distance);
    if (range.inv >= 0) add(rcx, kBpfRegisters[range.inv]);
    if (range.lo != 0) add(rcx, static_cast<int32_t>(range.lo));
  } else if (range.iv >= 0) {  // the variable's start value is y - test_inv - test_const
    mov(rcx, rax);
    if (range.iv != plan.iv) {
      add(rcx, kBpfRegisters[range.iv]);
      sub(rcx, kBpfRegisters[plan.iv]);
    }
    if (range.inv >= 0) add(rcx, kBpfRegisters[range.inv]);
    if (plan.test_inv >= 0) sub(rcx, kBpfRegisters[plan.test_inv]);
    if (range.lo != plan.test_const) add(rcx, static_cast<int32_t>(range.lo - plan.test_const));
  } else if (range.inv >= 0) {
    mov(rcx, kBpfRegisters[range.inv]);
    if (range.lo != 0) add(rcx, static_cast<int32_t>(range.lo));
  } else {
    mov(rcx, static_cast<uint64_t>(range.lo));
  }
  const auto limit = static_cast<int>(offsetof(State, guess_end) +
                                      8 * ((static_cast<size_t>(range.write) * 4) * kTableRegions + range.region));
  sub(rcx, qword[rsp + static_cast<int>(offsetof(State, region_start) + 8 * range.region)]);
  cmp(rcx, qword[rsp + limit]);
  jae(refused);
  const int64_t extent = range.hi - range.lo - 1;
  if (range.iv >= 0) {
    range.own_step != 0 ? add(rcx, distance) : add(rcx, rdx);
    jb(refused);
  }
  if (extent != 0) {
    add(rcx, static_cast<int32_t>(extent));
    jb(refused);
  }
  if (range.iv >= 0 || extent != 0) {
    cmp(rcx, qword[rsp + limit]);
    jae(refused);
  }
}

// An access the loop's entry check proved: only the translation remains.
Xbyak::RegExp Compiler::loop_proven_access(int base, int16_t off) {
  if (delta_in_rax_) return rax + kBpfRegisters[base] + off;
  mov(rax, qword[rsp + static_cast<int>(offsetof(State, host_delta) + 8 * guess_at_[pc_])]);
  return rax + kBpfRegisters[base] + off;
}

}  // namespace bpfkit::jit
