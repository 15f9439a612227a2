// Emission (emit.hpp). Each block is lowered to rows on physical registers;
// then layout decides which jumps the fall-throughs replace, and
// relaxation grows the jumps a 16-bit offset cannot carry.
#include "emit.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>

#include "rows.hpp"

namespace bpfkit::ir::codegen {
namespace {

constexpr RegMask kAllocatableMask = 0x3ff;  // r0..r9

// A row on physical registers.
struct LInst {
  isa::Op op = isa::Op::exit;
  uint8_t dst = 0, src = 0;
  int16_t off = 0;
  int32_t imm = 0;
  uint64_t imm64 = 0;
  int64_t callee = -1;  // call_local, lddw_func, a call by key
  bool by_key = false;
  uint32_t origin = 0;
  uint32_t core = MInst::kNoCore;  // MInst::core
};

// A jump at the end of a block: conditional (the row with its operands) or
// not (cond.op == ja).
struct LJump {
  LInst cond;
  bool conditional = false;
  uint32_t target = 0;  // block index
  bool far = false;     // relaxed: gotol (behind an inverted test for a conditional)
};

struct LBlock {
  std::vector<LInst> body;
  TermKind term = TermKind::Exit;
  LInst branch;                 // Branch: the test; Exit: exit
  std::vector<uint32_t> succs;  // lowered block indices
  std::vector<LJump> jumps;     // after layout
  uint32_t origin = 0;
};

bool fits_int32(uint64_t value) {
  const auto v = static_cast<int64_t>(value);
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}
bool fits_int16(int64_t v) {
  return v >= std::numeric_limits<int16_t>::min() && v <= std::numeric_limits<int16_t>::max();
}

// Whether the row writes its dst register and nothing else: ALU rows,
// loads, lddw. (Stores write no register; calls, atomics, packet loads and
// exits are treated as writing any.)
enum class RegisterEffect : uint8_t { Copy, WritesDst, None, Any };

RegisterEffect register_effect(const LInst& row) {
  const isa::Semantics s = isa::base_semantics(row.op);
  using isa::Operation;
  if (s.operation == Operation::Mov && s.width == 64 && s.source == isa::Source::Reg) return RegisterEffect::Copy;
  if (s.operation == Operation::Store) return RegisterEffect::None;
  const bool alu = s.operation >= Operation::Add && s.operation <= Operation::AddrSpaceCast;
  const bool load = s.operation == Operation::Load || s.operation == Operation::LoadSx ||
                    s.operation == Operation::LoadImm64 || s.operation == Operation::LoadPseudo;
  return alu || load ? RegisterEffect::WritesDst : RegisterEffect::Any;
}

// Deletes each copy or constant row whose destination already holds the
// value: a parameter copied to a callee-saved register and back into r1
// before a call that came first, a phi copy undone by the next, a phi's
// constant set before a branch and again on the way it took. Each register
// carries the number of the value it holds (constants by their 64-bit
// value); a block whose only predecessor came first in the layout starts
// with what that one ended with, any other with nothing known. Calls and
// packet loads forget r0-r5 only: both dialects keep r6-r9 across them.
class RedundantCopies {
 public:
  using Values = std::array<uint32_t, isa::kFramePointer + 1>;

  explicit RedundantCopies(const Rows& rows) : rows_(rows) {}

  Values unknown() {
    Values values;
    for (uint32_t& v : values) v = next_value_++;
    return values;
  }

  // Drops the rows of `body` that change nothing, from the state `values`
  // (left as it is at the body's end). Returns how many went.
  uint32_t drop(std::vector<LInst>& body, Values& values) {
    const size_t before = body.size();
    std::erase_if(body, [&](const LInst& row) {
      if (auto k = constant_written(row)) {
        auto [it, made] = constant_numbers_.try_emplace(*k, next_value_);
        if (made) ++next_value_;
        if (values[row.dst] == it->second) return true;
        values[row.dst] = it->second;
        return false;
      }
      switch (register_effect(row)) {
        case RegisterEffect::Copy:
          if (values[row.dst] == values[row.src]) return true;
          values[row.dst] = values[row.src];
          return false;
        case RegisterEffect::WritesDst: values[row.dst] = next_value_++; return false;
        case RegisterEffect::None: return false;
        case RegisterEffect::Any: break;
      }
      const bool call = keeps_callee_saved(isa::base_semantics(row.op).operation);
      for (size_t r = 0; r < values.size(); ++r)
        if (!call || r <= 5) values[r] = next_value_++;
      return false;
    });
    return static_cast<uint32_t>(before - body.size());
  }

 private:
  // Calls of every kind and the legacy packet loads (a call in the
  // kernel) change r0-r5 only.
  static bool keeps_callee_saved(isa::Operation operation) {
    using isa::Operation;
    return operation == Operation::Call || operation == Operation::CallLocal || operation == Operation::CallKfunc ||
           operation == Operation::Callx || operation == Operation::LoadPacket;
  }

  // The 64-bit value a constant row leaves in its dst.
  std::optional<uint64_t> constant_written(const LInst& row) const {
    if (row.core != MInst::kNoCore) return std::nullopt;  // its value is the loader's
    if (row.op == rows_.mov_imm) return static_cast<uint64_t>(int64_t{row.imm});
    if (row.op == rows_.mov32_zero_extending) return uint64_t{static_cast<uint32_t>(row.imm)};
    if (row.op == rows_.lddw) return row.imm64;
    return std::nullopt;
  }

  const Rows& rows_;
  uint32_t next_value_ = 0;
  std::unordered_map<uint64_t, uint32_t> constant_numbers_;
};

class Emitter {
 public:
  Emitter(const MFunction& fn, Allocation allocation, const isa::Dialect& dialect)
      : fn_(fn), alloc_(std::move(allocation)), dialect_(dialect), rows_(rows_for(dialect)) {
    frame_low_ = alloc_.frame_low;
  }

  Expected<EmittedFunction> run() {
    const std::vector<uint32_t> rpo = reverse_postorder(fn_);
    reachable_.assign(fn_.blocks.size(), false);
    for (uint32_t b : rpo) reachable_[b] = true;
    // Lowered blocks: the function's reachable ones in its order, then the
    // edge blocks (lay_out places them).
    index_.assign(fn_.blocks.size(), UINT32_MAX);
    for (uint32_t b = 0; b < fn_.blocks.size(); ++b)
      if (reachable_[b]) {
        index_[b] = static_cast<uint32_t>(order_.size());
        order_.push_back(b);
      }
    blocks_.resize(order_.size());
    for (uint32_t b : order_)
      if (auto status = lower_block(b); !status) return status.error();
    drop_redundant_copies();
    thread_empty_blocks();
    const std::vector<uint32_t> layout = lay_out();
    if (-static_cast<int64_t>(frame_low_) > static_cast<int64_t>(dialect_.stack_frame_size))
      return make_error(Errc::Unsupported, "code generation of " + fn_.name + ": the frame needs " +
                                               std::to_string(-frame_low_) + " bytes, more than " +
                                               std::to_string(dialect_.stack_frame_size));
    return encode(layout);
  }

 private:
  uint8_t reg(VReg v) const {
    if (v == MInst::kFp) return isa::kFramePointer;
    if (v == kNoVReg || !alloc_.where[v] || !alloc_.where[v]->is_reg()) return 0;
    return static_cast<uint8_t>(alloc_.where[v]->index);
  }
  std::optional<Location> where(VReg v) const {
    if (v == MInst::kFp) return Location::reg(isa::kFramePointer);
    return v < alloc_.where.size() ? alloc_.where[v] : std::nullopt;
  }

  // See RedundantCopies; blocks in the order of blocks_ (layout blocks,
  // then edge blocks).
  void drop_redundant_copies() {
    std::vector<uint32_t> pred_count(blocks_.size(), 0), only_pred(blocks_.size(), UINT32_MAX);
    for (uint32_t b = 0; b < blocks_.size(); ++b)
      for (uint32_t s : blocks_[b].succs) {
        ++pred_count[s];
        only_pred[s] = b;
      }
    RedundantCopies pruner(rows_);
    std::vector<RedundantCopies::Values> at_end(blocks_.size());
    for (uint32_t b = 0; b < blocks_.size(); ++b) {
      const bool from_pred = pred_count[b] == 1 && only_pred[b] < b && !(b == 0);
      RedundantCopies::Values values = from_pred ? at_end[only_pred[b]] : pruner.unknown();
      copies_ -= std::min(copies_, pruner.drop(blocks_[b].body, values));
      at_end[b] = values;
    }
  }

  int32_t new_slot() {
    frame_low_ -= 8;
    return frame_low_;
  }

  // ---- Moves -------------------------------------------------------------------

  void emit_constant(uint8_t r, uint64_t value, std::vector<LInst>& out, uint32_t origin) {
    for (const ConstantRow& row : constant_rows(rows_, value))
      out.push_back({.op = row.op, .dst = r, .imm = row.imm, .imm64 = row.imm64, .origin = origin});
  }

  // One move; `free` are the registers nothing needs here.
  void emit_move(const Move& m, RegMask free, std::vector<LInst>& out, uint32_t origin) {
    const Location d = m.dst;
    auto through_register = [&](auto&& fill) {
      // Stack to stack, or a wide constant to the stack: through a free
      // register, or one borrowed and given back.
      uint8_t scratch;
      std::optional<int32_t> saved;
      if (free) {
        scratch = static_cast<uint8_t>(std::countr_zero(free));
      } else {
        scratch = 0;
        if (!borrow_slot_) borrow_slot_ = new_slot();
        saved = *borrow_slot_;
        out.push_back({.op = rows_.store64_reg,
                       .dst = isa::kFramePointer,
                       .src = scratch,
                       .off = static_cast<int16_t>(*saved),
                       .origin = origin});
      }
      fill(scratch);
      out.push_back({.op = rows_.store64_reg,
                     .dst = isa::kFramePointer,
                     .src = scratch,
                     .off = static_cast<int16_t>(d.index),
                     .origin = origin});
      if (saved)
        out.push_back({.op = rows_.load64,
                       .dst = scratch,
                       .src = isa::kFramePointer,
                       .off = static_cast<int16_t>(*saved),
                       .origin = origin});
    };
    if (m.from_constant) {
      if (d.is_reg()) return emit_constant(static_cast<uint8_t>(d.index), m.value, out, origin);
      if (fits_int32(m.value))
        return out.push_back({.op = rows_.store64_imm,
                              .dst = isa::kFramePointer,
                              .off = static_cast<int16_t>(d.index),
                              .imm = static_cast<int32_t>(m.value),
                              .origin = origin});
      return through_register([&](uint8_t r) { emit_constant(r, m.value, out, origin); });
    }
    const Location s = m.src;
    if (d.is_reg() && s.is_reg())
      return out.push_back({.op = rows_.mov_reg,
                            .dst = static_cast<uint8_t>(d.index),
                            .src = static_cast<uint8_t>(s.index),
                            .origin = origin});
    if (d.is_reg())
      return out.push_back({.op = rows_.load64,
                            .dst = static_cast<uint8_t>(d.index),
                            .src = isa::kFramePointer,
                            .off = static_cast<int16_t>(s.index),
                            .origin = origin});
    if (s.is_reg())
      return out.push_back({.op = rows_.store64_reg,
                            .dst = isa::kFramePointer,
                            .src = static_cast<uint8_t>(s.index),
                            .off = static_cast<int16_t>(d.index),
                            .origin = origin});
    through_register([&](uint8_t r) {
      out.push_back({.op = rows_.load64,
                     .dst = r,
                     .src = isa::kFramePointer,
                     .off = static_cast<int16_t>(s.index),
                     .origin = origin});
    });
  }

  // A parallel copy; `busy` are the registers holding values needed after it.
  void emit_parallel(std::vector<Move> copies, RegMask busy, std::vector<LInst>& out, uint32_t origin) {
    // A copy to itself is no move, but its register holds a value the
    // copies must keep: mark every register involved busy first.
    for (const Move& m : copies) {
      if (m.dst.is_reg()) busy |= bit(static_cast<unsigned>(m.dst.index));
      if (!m.from_constant && m.src.is_reg()) busy |= bit(static_cast<unsigned>(m.src.index));
    }
    std::erase_if(copies, [](const Move& m) { return !m.from_constant && m.src == m.dst; });
    if (copies.empty()) return;
    RegMask free = static_cast<RegMask>(kAllocatableMask & ~busy);
    Location temp;
    if (needs_temporary(copies)) {
      if (free) {
        temp = Location::reg(std::countr_zero(free));
        free &= static_cast<RegMask>(~bit(static_cast<unsigned>(temp.index)));
      } else {
        if (!temp_slot_) temp_slot_ = new_slot();
        temp = Location::stack(*temp_slot_);
      }
    } else {
      temp = Location::stack(1);  // never used: no cycle
    }
    for (const Move& m : sequentialize(copies, temp)) {
      emit_move(m, free, out, origin);
      ++copies_;
    }
  }

  Move move_into(Location dst, const MOperand& from) const {
    if (from.is_constant()) return Move::constant(dst, from.value);
    return Move::copy(dst, *where(from.vreg));
  }

  // ---- Blocks -----------------------------------------------------------------

  // The position of b's edge k in its successor's preds (the phis' input).
  size_t pred_index(uint32_t b, size_t k) const {
    const uint32_t s = fn_.blocks[b].succs[k];
    const MBlock& succ = fn_.blocks[s];
    size_t occurrence = 0;
    for (size_t j = 0; j < k; ++j) occurrence += fn_.blocks[b].succs[j] == s;
    size_t p = 0;
    for (size_t seen = 0; p < succ.preds.size(); ++p)
      if (succ.preds[p] == b && seen++ == occurrence) break;
    return p;
  }

  // The phi copies of the edge from `b` (its succs[k]).
  std::vector<Move> edge_copies(uint32_t b, size_t k, RegMask& busy) const {
    const uint32_t s = fn_.blocks[b].succs[k];
    const MBlock& succ = fn_.blocks[s];
    const size_t p = pred_index(b, k);
    std::vector<Move> copies;
    busy = 0;
    alloc_.liveness.live_in[s].for_each([&](VReg v) {
      if (auto l = where(v); l && l->is_reg()) busy |= bit(static_cast<unsigned>(l->index));
    });
    for (const MPhi& phi : succ.phis) {
      const auto dst = where(phi.def);
      if (!dst || p >= phi.inputs.size()) continue;
      const MOperand& input = phi.inputs[p];
      if (!input.is_constant() && !where(input.vreg)) continue;  // undefined on this edge
      copies.push_back(move_into(*dst, input));
    }
    return copies;
  }

  Expected<void> lower_block(uint32_t b) {
    const MBlock& block = fn_.blocks[b];
    LBlock& out = blocks_[index_[b]];
    out.origin = block.origin;
    out.term = block.term;
    // Copies of the one incoming edge go first (the edge's source has
    // several successors, so they could not go there).
    if (block.preds.size() == 1 && fn_.blocks[block.preds[0]].succs.size() > 1 && reachable_[block.preds[0]]) {
      const uint32_t pred = block.preds[0];
      for (size_t k = 0; k < fn_.blocks[pred].succs.size(); ++k)
        if (fn_.blocks[pred].succs[k] == b) {
          RegMask busy;
          std::vector<Move> copies = edge_copies(pred, k, busy);
          emit_parallel(std::move(copies), busy, out.body, block.origin);
          break;
        }
    }
    // Registers busy after each instruction (the def excluded: its register
    // is written by the row, after the copies into fixed registers).
    std::vector<RegMask> busy_after(block.insts.size() + 1, 0);
    walk_backwards(fn_, b, alloc_.liveness.live_out[b], [&](size_t i, const VRegSet& after) {
      const MInst& inst = i < block.insts.size() ? block.insts[i] : block.branch;
      after.for_each([&](VReg v) {
        if (v == inst.def) return;
        if (auto l = where(v); l && l->is_reg()) busy_after[i] |= bit(static_cast<unsigned>(l->index));
      });
    });
    for (size_t i = 0; i < block.insts.size(); ++i)
      if (auto status = lower_inst(block.insts[i], busy_after[i], out.body); !status) return status;
    for (uint32_t s : block.succs) out.succs.push_back(index_[s]);
    if (block.succs.size() == 1) {
      RegMask busy;
      std::vector<Move> copies = edge_copies(b, 0, busy);
      emit_parallel(std::move(copies), busy, out.body, block.origin);
    } else {
      bool hoisted = false;
      std::vector<Move> before_branch;
      for (size_t k = 0; k < block.succs.size(); ++k) {
        const uint32_t s = block.succs[k];
        if (fn_.blocks[s].preds.size() == 1) continue;  // copies at the start of s
        RegMask busy;
        std::vector<Move> copies = edge_copies(b, k, busy);
        // What the copies before the branch did already: a phi copy both
        // ways need once (the hoisting checked that no copy of this edge
        // reads a register they wrote). Its register stays busy: the
        // copies left must not take it for a temporary.
        std::erase_if(copies, [&](const Move& m) {
          const bool done = std::find(before_branch.begin(), before_branch.end(), m) != before_branch.end();
          if (done && m.dst.is_reg()) busy |= bit(static_cast<unsigned>(m.dst.index));
          return done;
        });
        if (std::all_of(copies.begin(), copies.end(), [](const Move& m) { return !m.from_constant && m.src == m.dst; }))
          continue;
        if (!hoisted && can_hoist_before_branch(b, k, copies)) {
          // The branch then goes straight to s: no block of its own. (Not
          // through `out`: an edge block added above may have moved blocks_.)
          before_branch = copies;
          emit_parallel(std::move(copies), busy, blocks_[index_[b]].body, block.branch.origin);
          hoisted = true;
          continue;
        }
        // A critical edge with copies: a block of its own.
        LBlock edge;
        edge.term = TermKind::Jump;
        edge.origin = block.origin;
        emit_parallel(std::move(copies), busy, edge.body, block.branch.origin);
        edge.succs.push_back(index_[s]);
        const auto e = static_cast<uint32_t>(blocks_.size());
        blocks_.push_back(std::move(edge));
        blocks_[index_[b]].succs[k] = e;
        if (k == 1)
          edge_blocks_after_[index_[b]].push_back(e);
        else
          taken_edge_blocks_.push_back({.block = e, .source = index_[b]});
      }
    }
    LBlock& lowered = blocks_[index_[b]];
    if (block.term == TermKind::Exit) {
      emit_parallel(fixed_copies(block.branch), busy_after[block.insts.size()], lowered.body, block.branch.origin);
      lowered.branch = plain_row(block.branch);
    } else if (block.term == TermKind::Branch) {
      lowered.branch = plain_row(block.branch);
    }
    return {};
  }

  // Whether the phi copies of b's edge k may run before b's branch, on
  // both ways out (as clang sets r0 before a test whose taken side returns
  // it): each copy writes a register, none the branch reads, none holding a
  // value the other way needs (live into its block or read by its copies;
  // a copy of a register to itself writes nothing), and the copies form no
  // cycle. One edge a block at most: two edges'
  // copies could write the same register.
  bool can_hoist_before_branch(uint32_t b, size_t k, const std::vector<Move>& copies) const {
    const MBlock& block = fn_.blocks[b];
    if (block.succs.size() != 2 || block.succs[0] == block.succs[1] || needs_temporary(copies)) return false;
    if (edge_reads_a_parameter(b, k)) return false;
    const size_t other = 1 - k;
    RegMask needed = 0;
    for (VReg v : {block.branch.dst, block.branch.src})
      if (auto l = where(v); l && l->is_reg()) needed |= bit(static_cast<unsigned>(l->index));
    RegMask other_busy;
    for (const Move& m : edge_copies(b, other, other_busy))
      if (!m.from_constant && m.src.is_reg()) needed |= bit(static_cast<unsigned>(m.src.index));
    needed |= other_busy;  // live into the other successor
    return std::all_of(copies.begin(), copies.end(), [&](const Move& m) {
      if (!m.from_constant && m.src == m.dst) return true;  // no copy at all: the value stays
      return m.dst.is_reg() && !(needed & bit(static_cast<unsigned>(m.dst.index)));
    });
  }

  // Whether a phi copy on b's edge k reads a value the function received
  // in r1-r5: the verifier may hold that register uninitialised (r2-r5 of
  // most program types, an argument the caller did not set), so reading it
  // on the other way out too would turn an accepted program into one it
  // refuses ("R4 !read_ok"; fuzz_opt found a dead path that read r4).
  bool edge_reads_a_parameter(uint32_t b, size_t k) const {
    const uint32_t s = fn_.blocks[b].succs[k];
    const MBlock& succ = fn_.blocks[s];
    const size_t p = pred_index(b, k);
    for (const MPhi& phi : succ.phis)
      if (p < phi.inputs.size() && !phi.inputs[p].is_constant() &&
          std::find(fn_.params.begin(), fn_.params.end(), phi.inputs[p].vreg) != fn_.params.end())
        return true;
    return false;
  }

  std::vector<Move> fixed_copies(const MInst& inst) const {
    std::vector<Move> copies;
    const std::vector<uint8_t> regs = fixed_use_registers(inst);
    for (size_t k = 0; k < inst.fixed_uses.size() && k < regs.size(); ++k)
      copies.push_back(move_into(Location::reg(regs[k]), inst.fixed_uses[k]));
    return copies;
  }

  // The row with its registers, as it will be encoded.
  LInst plain_row(const MInst& inst) const {
    LInst row{
        .op = inst.op, .off = inst.off, .imm = inst.imm, .imm64 = inst.imm64, .origin = inst.origin, .core = inst.core};
    const isa::ShapeInfo& shape = isa::shape_info(inst.op);
    const Tie tie = tie_of(inst.op);
    if (isa::writes(shape.dst) && inst.def != kNoVReg && !fixed_def_register(inst.op))
      row.dst = reg(inst.def);
    else if (inst.dst != kNoVReg)
      row.dst = reg(inst.dst);
    if (tie == Tie::Src)
      row.src = reg(inst.def);
    else if (inst.src != kNoVReg)
      row.src = reg(inst.src);
    const isa::Semantics s = isa::semantics(inst.op, dialect_);
    if (s.operation == isa::Operation::Callx) {  // the target register's field is the dialect's
      const uint8_t target = reg(inst.dst);
      row.dst = row.src = 0;
      if (s.callx_register == isa::Field::Imm) row.imm = target;
      if (s.callx_register == isa::Field::Src) row.src = target;
      if (s.callx_register == isa::Field::Dst) row.dst = target;
    }
    if (inst.op == isa::Op::call_local || inst.op == isa::Op::lddw_func || inst.by_key) row.callee = inst.callee;
    row.by_key = inst.by_key;
    return row;
  }

  Expected<void> lower_inst(const MInst& inst, RegMask busy_after, std::vector<LInst>& out) {
    if (!inst.fixed_uses.empty()) {
      RegMask busy = busy_after;
      for (VReg v : {inst.dst, inst.src})
        if (v != kNoVReg && v != MInst::kFp) busy |= bit(reg(v));
      emit_parallel(fixed_copies(inst), busy, out, inst.origin);
    }
    const Tie tie = tie_of(inst.op);
    if (tie != Tie::None && inst.def != kNoVReg) {
      const VReg tied = tie == Tie::Dst ? inst.dst : inst.src;
      if (tied != kNoVReg && reg(tied) != reg(inst.def)) {
        out.push_back({.op = rows_.mov_reg, .dst = reg(inst.def), .src = reg(tied), .origin = inst.origin});
        ++copies_;
      }
    }
    const isa::Semantics s = isa::base_semantics(inst.op);
    const bool copy64 = s.operation == isa::Operation::Mov && s.width == 64 && s.source == isa::Source::Reg;
    if (copy64 && reg(inst.def) == reg(inst.src)) return {};  // coalesced (a 32-bit mov is kept: it zero-extends)
    if (inst.def != kNoVReg && !where(inst.def))
      return make_error(Errc::Unsupported, "code generation: a value has no register");
    out.push_back(plain_row(inst));
    return {};
  }

  // ---- Layout and encoding ---------------------------------------------------------

  // Jumps to a block with no rows that only jumps on go straight to where
  // it goes (an empty side of a diamond whose phi copies coalesced); such
  // a block nothing enters any more is left out of the layout.
  void thread_empty_blocks() {
    auto empty_jump = [&](uint32_t b) { return blocks_[b].term == TermKind::Jump && blocks_[b].body.empty(); };
    for (LBlock& block : blocks_)
      for (uint32_t& s : block.succs)
        for (size_t hops = 0; empty_jump(s) && blocks_[s].succs[0] != s && hops < blocks_.size(); ++hops)
          s = blocks_[s].succs[0];
    entered_.assign(blocks_.size(), false);
    entered_[0] = true;
    for (const LBlock& block : blocks_)
      for (uint32_t s : block.succs) entered_[s] = true;
  }

  // The lowered blocks in the function's order, each fall-through edge
  // block right after its source. A taken edge's block goes there too when
  // its successor comes next and the test can be inverted: the inverted
  // test jumps the other way and the edge block falls through, with no
  // `goto` back (clang's `r2 = r1 + 1000; if w3 > k goto +1; r2 = r1`);
  // else it goes at the end.
  std::vector<uint32_t> lay_out() const {
    std::vector<uint32_t> next_entered(order_.size(), UINT32_MAX);
    for (uint32_t i = static_cast<uint32_t>(order_.size()), next = UINT32_MAX; i-- > 0;) {
      next_entered[i] = next;
      if (entered_[i]) next = i;
    }
    std::vector<uint32_t> after_source(order_.size(), UINT32_MAX), at_end;
    for (const EdgeBlock& taken : taken_edge_blocks_) {
      if (!entered_[taken.block]) continue;
      const LBlock& source = blocks_[taken.source];
      const bool slot_free = !edge_blocks_after_.contains(taken.source);
      const bool falls_into_next = blocks_[taken.block].succs[0] == next_entered[taken.source];
      if (slot_free && falls_into_next && inverted_branch(dialect_, source.branch.op))
        after_source[taken.source] = taken.block;
      else
        at_end.push_back(taken.block);
    }
    std::vector<uint32_t> layout;
    for (uint32_t i = 0; i < order_.size(); ++i) {
      if (!entered_[i]) continue;
      layout.push_back(i);
      if (auto it = edge_blocks_after_.find(i); it != edge_blocks_after_.end())
        for (uint32_t e : it->second)
          if (entered_[e]) layout.push_back(e);
      if (after_source[i] != UINT32_MAX) layout.push_back(after_source[i]);
    }
    layout.insert(layout.end(), at_end.begin(), at_end.end());
    return layout;
  }

  void place_jumps(const std::vector<uint32_t>& layout) {
    for (size_t p = 0; p < layout.size(); ++p) {
      LBlock& block = blocks_[layout[p]];
      const std::optional<uint32_t> next = p + 1 < layout.size() ? std::optional(layout[p + 1]) : std::nullopt;
      block.jumps.clear();
      const LInst ja{.op = rows_.ja};
      if (block.term == TermKind::Jump) {
        if (block.succs[0] != next) block.jumps.push_back({ja, false, block.succs[0]});
      } else if (block.term == TermKind::Branch) {
        const uint32_t taken = block.succs[0], other = block.succs[1];
        const auto inverted = inverted_branch(dialect_, block.branch.op);
        if (other == next) {
          block.jumps.push_back({block.branch, true, taken});
        } else if (taken == next && inverted) {
          LInst test = block.branch;
          test.op = *inverted;
          block.jumps.push_back({test, true, other});
        } else {
          block.jumps.push_back({block.branch, true, taken});
          block.jumps.push_back({ja, false, other});
        }
      }
    }
  }

  static uint32_t size_of(const LInst& inst) { return isa::is_lddw(inst.op) ? 2 : 1; }
  uint32_t size_of(const LJump& jump) const {
    if (!jump.far) return 1;
    if (!jump.conditional) return 1;                         // gotol
    return inverted_branch(dialect_, jump.cond.op) ? 2 : 3;  // !test +1; gotol | test +1; ja +1; gotol
  }

  Expected<EmittedFunction> encode(const std::vector<uint32_t>& layout) {
    place_jumps(layout);
    std::vector<uint32_t> start(blocks_.size());
    // Grow jumps until every offset fits (sizes only grow: it ends).
    for (bool grew = true; grew;) {
      grew = false;
      uint32_t pc = 0;
      for (uint32_t b : layout) {
        start[b] = pc;
        for (const LInst& inst : blocks_[b].body) pc += size_of(inst);
        if (blocks_[b].term == TermKind::Exit) ++pc;
        for (const LJump& j : blocks_[b].jumps) pc += size_of(j);
      }
      for (uint32_t b : layout) {
        uint32_t at = start[b];
        for (const LInst& inst : blocks_[b].body) at += size_of(inst);
        if (blocks_[b].term == TermKind::Exit) ++at;
        for (LJump& j : blocks_[b].jumps) {
          const uint32_t size = size_of(j);
          const int64_t from = at + size;  // the jump is the last slot of its sequence
          if (!j.far && !fits_int16(int64_t{start[j.target]} - from)) {
            if (!rows_.gotol)
              return make_error(Errc::OutOfRange, "code generation of " + fn_.name +
                                                      ": a jump cannot reach its target in this dialect (no gotol)");
            j.far = true;
            grew = true;
          }
          at += size_of(j);
        }
      }
    }
    EmittedFunction out;
    auto put = [&](const LInst& inst) {
      if (inst.core != MInst::kNoCore) out.core_slots.push_back({static_cast<uint32_t>(out.slots.size()), inst.core});
      if (inst.callee >= 0)
        out.function_refs.push_back(
            {static_cast<uint32_t>(out.slots.size()), static_cast<uint32_t>(inst.callee), inst.by_key});
      if (isa::is_lddw(inst.op)) {
        for (const isa::Slot& slot : isa::encode_lddw(inst.dst, inst.imm64, inst.op)) {
          out.slots.push_back(slot);
          out.origin.push_back(inst.origin);
        }
        return;
      }
      out.slots.push_back(isa::encode(inst.op, inst.dst, inst.src, inst.off, inst.imm));
      out.origin.push_back(inst.origin);
    };
    auto put_jump = [&](LInst inst, uint32_t target) {
      const int64_t offset = int64_t{start[target]} - static_cast<int64_t>(out.slots.size() + 1);
      if (inst.op == rows_.gotol)
        inst.imm = static_cast<int32_t>(offset);
      else
        inst.off = static_cast<int16_t>(offset);
      put(inst);
    };
    for (uint32_t b : layout) {
      const LBlock& block = blocks_[b];
      for (const LInst& inst : block.body) put(inst);
      if (block.term == TermKind::Exit) put(block.branch);
      for (const LJump& j : block.jumps) {
        if (!j.far) {
          put_jump(j.cond, j.target);
          continue;
        }
        const LInst gotol{.op = *rows_.gotol, .origin = j.cond.origin};
        if (j.conditional) {
          if (auto inverted = inverted_branch(dialect_, j.cond.op)) {
            LInst test = j.cond;
            test.op = *inverted;
            test.off = 1;  // over the gotol
            put(test);
          } else {
            LInst test = j.cond;
            test.off = 1;  // to the gotol, past the ja
            put(test);
            put({.op = rows_.ja, .off = 1, .origin = j.cond.origin});
          }
        }
        put_jump(gotol, j.target);
      }
    }
    out.frame_low = frame_low_;
    out.copies = copies_;
    return out;
  }

  const MFunction& fn_;
  Allocation alloc_;
  const isa::Dialect& dialect_;
  const Rows rows_;
  int32_t frame_low_ = 0;
  std::optional<int32_t> temp_slot_, borrow_slot_;
  uint32_t copies_ = 0;
  std::vector<bool> reachable_;
  std::vector<uint32_t> index_, order_;
  std::vector<LBlock> blocks_;
  std::map<uint32_t, std::vector<uint32_t>> edge_blocks_after_;
  struct EdgeBlock {
    uint32_t block, source;  // lowered block indices
  };
  std::vector<EdgeBlock> taken_edge_blocks_;
  std::vector<bool> entered_;  // by lowered block: the entry, or some block jumps to it
};

}  // namespace

Expected<EmittedFunction> emit_function(const MFunction& fn, Allocation allocation, const isa::Dialect& dialect) {
  return Emitter(fn, std::move(allocation), dialect).run();
}

}  // namespace bpfkit::ir::codegen
