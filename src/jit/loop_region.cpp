// Loop versioning of natural loops of several blocks (Linux, hot code):
// bubble sort's inner loop, whose compare may jump over a swap block. The
// loop is a run of blocks in pc order, entered from outside only at one of
// them, its header; without the edges back to the header its blocks form
// no cycle (no inner loop), so an iteration runs from the header to one of
// those edges through each block at most once.
//
// The symbolic walk (loop_affine.hpp) goes through the blocks in an order
// where each comes after the blocks that jump to it; where paths meet, a
// register keeps only a value they agree on. An induction variable is a
// register whose value on every edge back to the header is its value at
// the iteration's start plus one step (a nonzero constant, or one
// invariant register): however the iteration went, it moved by exactly
// that. The exit test is a 64-bit conditional jump in a block every
// iteration runs, one way leaving the loop: the next iteration runs only
// when it went the other way, so the test bounds the tested variable as a
// one-block loop's does. Every access with an affine address, in any
// block, is then checked over every iteration at the loop's entry; an
// iteration that leaves the loop early touches less than that, which is
// fine: a failed check only runs the ordinary copy. Both copies meter
// each block as usual (the trip count does not tell which blocks run).
#include <algorithm>
#include <array>
#include <optional>

#include "compiler.hpp"

namespace bpfkit::jit {

using isa::Condition;
using isa::Operation;
using loop::Affine;

namespace {

// A loop of more blocks or slots is left to its ordinary checks: the
// analysis stays linear in the program (each slot is in the runs of the
// few loop headers before it).
constexpr size_t kMaxLoopBlocks = 32;
constexpr uint32_t kMaxLoopSlots = 4096;

}  // namespace

std::vector<uint32_t> Compiler::successors(const Block& block) const {
  uint32_t last = block.start;
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) last = pc;
  const Operation operation = sem_at(last).operation;
  const auto target = [&](uint32_t pc) {
    return static_cast<uint32_t>(*isa::branch_target(*program_.ops[pc], program_.slots[pc], static_cast<int64_t>(pc)));
  };
  if (operation == Operation::Exit) return {};
  if (operation == Operation::Jump) {
    // A joined goto: its conditional jump goes on at the next block.
    if (last > block.start && absorbs_goto_[last - 1]) return {block.end, target(last)};
    return {target(last)};
  }
  if (operation == Operation::JumpIf) return {target(last), block.end};
  return {block.end};  // calls return there too
}

std::optional<Compiler::LoopRegion> Compiler::plan_loop_region(size_t first) const {
  const Block& top = blocks_[first];
  if (!loop_header_[top.start] || sbpf_ || has_callx_ || inputs_.harden || isa::frame_model(dialect_).gap_size != 0)
    return std::nullopt;
  // The run: from the first block to the one holding the last jump back.
  const uint32_t back_from = jumped_back_from_[top.start];
  size_t last = first;
  while (last < blocks_.size() && last - first < kMaxLoopBlocks && blocks_[last].start <= back_from) ++last;
  if (last - first < 2 || blocks_[last - 1].end <= back_from) return std::nullopt;
  const uint32_t start = top.start, end = blocks_[last - 1].end;
  if (end - start > kMaxLoopSlots) return std::nullopt;
  for (size_t i = first; i + 1 < last; ++i)
    if (blocks_[i].end != blocks_[i + 1].start) return std::nullopt;
  for (uint32_t pc = start; pc < end; pc += program_.width_at(pc))
    if (!program_.ops[pc] || ends_check_groups(sem_at(pc).operation) ||
        (*program_.ops[pc] == isa::Op::ldxw && inputs_.has_packet))
      return std::nullopt;

  // The header: the one block entered from outside.
  const size_t n = last - first;
  auto index_of = [&](uint32_t pc) -> std::optional<size_t> {
    if (pc < start || pc >= end || block_of_[pc] == UINT32_MAX) return std::nullopt;
    return block_of_[pc] - first;
  };
  const bool fallen_into = first > 0 && blocks_[first - 1].end == start && [&] {
    const std::vector<uint32_t> next = successors(blocks_[first - 1]);
    return std::find(next.begin(), next.end(), start) != next.end();
  }();
  std::optional<size_t> header;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t pc = blocks_[first + i].start;
    const bool outside = entered_otherwise_[pc] || (i == 0 && fallen_into) || jumped_from_lo_[pc] < start ||
                         (jumped_from_hi_[pc] >= end && jumped_from_lo_[pc] != UINT32_MAX);
    if (!outside) continue;
    if (header) return std::nullopt;
    header = i;
  }
  if (!header) return std::nullopt;

  // Edges inside the run; those to the header end an iteration.
  std::vector<std::vector<size_t>> next(n);
  std::vector<bool> latch(n, false);
  for (size_t i = 0; i < n; ++i)
    for (const uint32_t pc : successors(blocks_[first + i]))
      if (const auto to = index_of(pc)) {
        if (*to == *header)
          latch[i] = true;
        else
          next[i].push_back(*to);
      }
  // An order where each block follows those that jump to it, from the
  // header; a cycle (an inner loop) or a block the header does not reach refuses.
  std::vector<size_t> order;
  std::vector<uint8_t> state(n, 0);  // 0 new, 1 on the path, 2 done
  bool cyclic = false;
  const auto visit = [&](const auto& self, size_t i) -> void {
    state[i] = 1;
    for (const size_t to : next[i]) {
      if (state[to] == 1) cyclic = true;
      if (state[to] == 0) self(self, to);
    }
    state[i] = 2;
    order.push_back(i);
  };
  visit(visit, *header);
  if (cyclic || order.size() != n) return std::nullopt;
  std::reverse(order.begin(), order.end());
  // Every block on some iteration: it reaches an edge back.
  std::vector<bool> loops_back = latch;
  for (auto it = order.rbegin(); it != order.rend(); ++it)
    for (const size_t to : next[*it]) loops_back[*it] = loops_back[*it] || loops_back[to];
  if (std::find(loops_back.begin(), loops_back.end(), false) != loops_back.end()) return std::nullopt;
  // Whether every iteration runs block `must`: no way from the header to an edge back avoids it.
  const auto on_every_iteration = [&](size_t must) {
    std::vector<bool> reached(n, false);
    reached[*header] = *header != must;
    for (const size_t i : order) {
      if (!reached[i]) continue;
      if (latch[i]) return false;
      for (const size_t to : next[i]) reached[to] = to != must;
    }
    return true;
  };

  // The walk, from the header with the registers the run writes as
  // induction variables, dropping those whose value on an edge back is not
  // a step, until every one left is.
  isa::RegSet written;
  for (uint32_t pc = start; pc < end; pc += program_.width_at(pc)) written = written | written_at(pc);
  std::array<bool, isa::kRegisterCount> iv{};
  for (int reg = 0; reg < isa::kRegisterCount; ++reg) iv[reg] = written.contains(reg);
  loop::Steps step;
  std::vector<std::optional<loop::Values>> in(n);
  std::vector<loop::Access> accesses;
  for (bool changed = true; changed;) {
    in.assign(n, std::nullopt);
    accesses.clear();
    loop::Values& entry = in[*header].emplace();
    for (int reg = 0; reg < isa::kRegisterCount; ++reg)
      entry[reg] = !written.contains(reg) ? Affine{true, reg, -1, 0} : iv[reg] ? Affine{true, -1, reg, 0} : Affine{};
    std::optional<loop::Values> back;
    for (const size_t i : order) {
      loop::Values value = *in[i];
      for (uint32_t pc = blocks_[first + i].start; pc < blocks_[first + i].end; pc += program_.width_at(pc)) {
        if (const auto access = loop_access(pc, value)) accesses.push_back(*access);
        loop::advance(program_, sem_at(pc), written_at(pc), pc, value);
      }
      auto meet = [&](std::optional<loop::Values>& into) {
        if (!into) {
          into = value;
          return;
        }
        for (int reg = 0; reg < isa::kRegisterCount; ++reg) (*into)[reg] = loop::join((*into)[reg], value[reg]);
      };
      if (latch[i]) meet(back);
      for (const size_t to : next[i]) meet(in[to]);
    }
    changed = false;
    for (int reg = 0; reg < isa::kRegisterCount; ++reg) {
      if (!iv[reg]) continue;
      const Affine& moved = (*back)[reg];
      step[reg].reset();
      if (moved.known && moved.iv == reg) step[reg] = loop::Step{moved.inv, moved.c};
      if (!loop::usable_step(step[reg]) || (moved.inv >= 0 && written.contains(moved.inv))) {
        step[reg].reset();
        iv[reg] = false;
        changed = true;
      }
    }
  }

  // The exit test: the first that bounds an induction variable.
  LoopRegion region{first, last, first + *header, {}};
  LoopPlan& plan = region.plan;
  for (const size_t i : order) {
    const Block& block = blocks_[first + i];
    uint32_t test = block.start;
    for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) test = pc;
    const bool joined_goto = sem_at(test).operation == Operation::Jump && test > block.start && absorbs_goto_[test - 1];
    if (joined_goto) test -= 1;
    const isa::Semantics& sem = sem_at(test);
    if (sem.operation != Operation::JumpIf || sem.width != 64 || sem.condition == Condition::Set) continue;
    const std::vector<uint32_t> to = successors(block);  // when the condition holds, when it fails
    const bool holds_stays = index_of(to[0]).has_value(), fails_stays = index_of(to[1]).has_value();
    if (holds_stays == fails_stays || !on_every_iteration(i)) continue;
    // The values at the test: the block's own walk up to it.
    loop::Values value = *in[i];
    for (uint32_t pc = block.start; pc < test; pc += program_.width_at(pc))
      loop::advance(program_, sem_at(pc), written_at(pc), pc, value);
    const isa::Slot& slot = program_.slots[test];
    plan_exit_test(plan, value[slot.dst()],
                   sem.source == isa::Source::Imm ? loop::constant(slot.imm) : value[slot.src()],
                   holds_stays ? sem.condition : isa::negated(sem.condition), step);
    if (plan.iv >= 0) break;
  }
  plan_ranges(plan, accesses, step);
  if (plan.ranges.empty()) return std::nullopt;
  plan_delta_in_rax(plan, start, end);
  return region;
}

// The check at the header's entry (before the run's first block, in pc
// order), then the copy without the checks it proved, each block in pc
// order; or the ordinary copy in the cold code. Each copy's jumps inside
// the loop stay in it. Other code that enters a block of the loop (a
// metered copy's jump, as a block short of budget runs) lands in the
// ordinary copy, or at the header's check.
void Compiler::emit_loop_region(const LoopRegion& region) {
  const size_t begin = getSize();
  const Block& header = blocks_[region.header];
  L(entry_[header.start]);
  Label& checked_header = new_label();
  emit_loop_entry_check(region.plan, header.count, checked_header);
  for (const LoopRange& range : region.plan.ranges)
    for (const uint32_t pc : range.pcs) loop_proven_at_[pc] = true;
  std::vector<std::pair<uint32_t, Label*>> unchecked, checked;
  std::vector<Label*> short_of_budget;
  for (size_t i = region.first; i < region.last; ++i) {
    unchecked.emplace_back(blocks_[i].start, &new_label());
    checked.emplace_back(blocks_[i].start, i == region.header ? &checked_header : &entry_[blocks_[i].start]);
    short_of_budget.push_back(&new_label());
  }
  emit_unchecked_loop_start(region.plan);
  if (region.header != region.first) jmp(*unchecked[region.header - region.first].second);
  align(16);
  loop_labels_ = unchecked;
  unchecked_loop_copy_ = true;
  for (size_t i = region.first; i < region.last; ++i) {
    L(*unchecked[i - region.first].second);
    emit_block_copy(blocks_[i], *short_of_budget[i - region.first], i == region.first ? begin : getSize(), true);
  }
  unchecked_loop_copy_ = false;
  loop_labels_.clear();
  delta_in_rax_ = false;
  cold_.push_back([this, region, checked, short_of_budget] {
    align(16);
    loop_labels_ = checked;
    for (size_t i = region.first; i < region.last; ++i) {
      L(*checked[i - region.first].second);
      emit_block_copy(blocks_[i], *short_of_budget[i - region.first], getSize(), false);
      jmp(target_label(blocks_[i].end));  // what the hot copy falls into
    }
    loop_labels_.clear();
  });
  for (size_t i = region.first; i < region.last; ++i)
    emit_short_of_budget(blocks_[i], *short_of_budget[i - region.first]);
}

}  // namespace bpfkit::jit
