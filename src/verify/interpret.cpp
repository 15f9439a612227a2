// The second pass: the driver (paths, pruning, the processed-instruction
// limit), the ALU and pointer arithmetic, conditional jumps with narrowing on
// both edges, bpf-to-bpf calls and exit, as the kernel's do_check makes them.
#include <algorithm>
#include <bit>

#include "checker.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Condition;
using isa::Operation;
using isa::Source;

constexpr int64_t kMaxVarOff = int64_t{1} << 29;  // BPF_MAX_VAR_OFF
constexpr size_t kMaxPending = 8192;              // BPF_COMPLEXITY_LIMIT_JMP_SEQ
constexpr size_t kMostStepsBetweenStates = 1024;  // bpfkit's: bounds the copies of a path's steps
constexpr uint64_t kMaxPacketOff = 0xffff;        // MAX_PACKET_OFF

// "R2" (built by appending: GCC 12 warns, -Wrestrict, on "R" + string).
std::string r(int regno) {
  std::string name(1, 'R');
  return name.append(std::to_string(regno));
}

// bpf_alu_string: how the kernel names an ALU operation in messages.
const char* alu_string(Operation operation) {
  switch (operation) {
    case Operation::Add: return "+=";
    case Operation::Sub: return "-=";
    case Operation::Mul: return "*=";
    case Operation::Div:
    case Operation::SDiv: return "/=";
    case Operation::Or: return "|=";
    case Operation::And: return "&=";
    case Operation::Lsh: return "<<=";
    case Operation::Rsh: return ">>=";
    case Operation::Neg: return "neg";
    case Operation::Mod:
    case Operation::SMod: return "%=";
    case Operation::Xor: return "^=";
    case Operation::Mov: return "=";
    case Operation::Arsh: return "s>>=";
    default: return "endian";
  }
}

bool is_packet(RegType type) { return type == RegType::Packet || type == RegType::PacketMeta; }

// Every register and spilled register of a state.
template <class F>
void for_each_reg(State& state, F&& visit) {
  for (Frame& frame : state.frames) {
    for (Reg& reg : frame.regs) visit(reg);
    for (Spilled& spilled : frame.spills) visit(spilled.reg);
  }
}

// After a null check: every copy of the pointer is null (a zero scalar) or
// a map value, or for a map of maps the inner map (mark_ptr_or_null_regs).
void mark_null_checked(State& state, uint32_t id, bool is_null, std::optional<uint32_t> inner_map) {
  for_each_reg(state, [&](Reg& reg) {
    if (reg.type != RegType::MapValueOrNull || reg.id != id) return;
    if (is_null) {
      reg = const_scalar(0);
    } else if (inner_map) {
      reg.type = RegType::MapPtr;
      reg.map = *inner_map;
      reg.id = 0;
    } else {
      reg.type = RegType::MapValue;
      reg.id = 0;
    }
  });
}

// `ptr <= data_end` (or `<` when open) proved: every packet pointer with
// ptr's id may reach ptr's offset (find_good_pkt_pointers).
void mark_packet_range(State& state, const Reg& ptr, bool open) {
  if (ptr.off < 0 || (ptr.off == 0 && open)) return;
  if (ptr.umax > kMaxPacketOff || ptr.umax + ptr.off > kMaxPacketOff) return;
  const int64_t range = ptr.off + (open ? 1 : 0);
  for_each_reg(state, [&](Reg& reg) {
    if (reg.type == ptr.type && reg.id == ptr.id) reg.range = std::max(reg.range, range);
  });
}

// Scalars copied from one another share an id: what a branch learns about
// one holds for all (sync_linked_regs).
void link_scalars(State& state, const Reg& narrowed) {
  if (narrowed.type != RegType::Scalar || narrowed.id == 0) return;
  for_each_reg(state, [&](Reg& reg) {
    if (reg.type == RegType::Scalar && reg.id == narrowed.id) reg = narrowed;
  });
}

}  // namespace

Checker::Checker(const isa::Program& program, const Options& options, const Cfg& cfg,
                 const std::vector<std::string>& deferred, Result& result)
    : program_(program), options_(options), cfg_(cfg), deferred_(deferred), result_(result), listed_(program.size()) {
  stack_depth.assign(cfg.subprogs.size(), 0);
  semantics_.resize(program.size());
  for (size_t pc = 0; pc < program.size(); ++pc)
    if (program.ops[pc]) semantics_[pc] = isa::semantics(*program.ops[pc], *program.dialect);
  visited_.assign(program.size(), false);
  nospec_.assign(program.size(), false);
  nospec_result_.assign(program.size(), false);
  result_.reached.assign(program.size(), false);
  result_.proven.assign(program.size(), isa::ProvenAccess::Unproven);
  access_seen_.assign(program.size(), false);
}

bool Checker::fail(Errno error_number, std::string message) {
  if (!reject_) reject_ = Reject{error_number, pc_, std::move(message)};
  return false;
}

bool Checker::check_read(int regno) {
  if (regs()[regno].type != RegType::NotInit) return true;
  return fail(Errno::Eacces, r(regno) + " !read_ok");
}

void Checker::note(const std::string& line) {
  if (options_.log_level > 0) result_.log += line + "\n";
}

State Checker::initial_state() const {
  State state;
  state.frames.emplace_back();
  Frame& frame = state.frames.back();
  if (options_.type == ProgramType::Raw) {
    frame.regs[1] = pointer(RegType::Mem);
    frame.regs[1].size = options_.mem_size;
    frame.regs[2] = const_scalar(options_.mem_size);
  } else {
    frame.regs[1] = pointer(RegType::Ctx);
  }
  frame.regs[isa::kFramePointer] = pointer(RegType::Stack);
  return state;
}

// ---- Paths and pruning -------------------------------------------------------------

// is_state_visited: prune when an explored state covers this one; refuse an
// exact repeat of a state still being explored (a loop that cannot end);
// else store this one, as often as the kernel does (after 2 jumps and 8
// instructions; in a loop after 20 jumps or 100 instructions). The states
// at pc are seen newest first, and one that keeps missing while new ones are
// stored (more than 3 + 3 * its hits) leaves the list, as in the kernel: the
// lists stay short, and a loop's old iterations stop being compared.
Checker::Visit Checker::visit(uint32_t pc) {
  const uint64_t jumps = jumps_processed_ - prev_jumps_, insns = result_.processed_insns - prev_insns_;
  // A path that has gone this far since its last stored state stores one
  // here whatever the kernel's counts say: each stored state and pending
  // branch keeps a copy of the steps since then, for backtracking, and
  // branches that each add a few steps to the path copied from the one
  // before made those copies grow without bound (fuzz_verify_run: 16 GB).
  const bool long_path = history_.size() >= kMostStepsBetweenStates;
  bool add = (jumps >= 2 && insns >= 8) || long_path;
  std::optional<CoverProbe> probe;
  std::vector<uint32_t>& listed = listed_[pc];
  for (size_t k = listed.size(); k-- > 0;) {
    Checkpoint& checkpoint = checkpoints_[listed[k]];
    if (checkpoint.live > 0) {
      if (maybe_same(*checkpoint.state, cur_) && covers(*checkpoint.state, cur_, options_.profile, true)) {
        fail(Errno::Einval, "infinite loop detected at insn " + std::to_string(pc));
        return Visit::Failed;
      }
      if (jumps < 20 && insns < 100 && !long_path) add = false;
    } else {
      if (!probe) probe = cover_probe(cur_);
      if (options_.prune && may_cover(checkpoint.summary, *probe) &&
          covers(*checkpoint.state, cur_, options_.profile, false)) {
        ++checkpoint.hits;
        if (options_.log_level > 1) note(std::to_string(pc) + ": safe");
        propagate_precision(*checkpoint.state);
        return Visit::Pruned;
      }
    }
    if (add && ++checkpoint.misses > checkpoint.hits * 3 + 3) unlist(pc, k);
  }
  if (!add) return Visit::Continue;
  prev_jumps_ = jumps_processed_;
  prev_insns_ = result_.processed_insns;
  Checkpoint checkpoint;
  checkpoint.parent = parent_;
  checkpoint.pc = pc;
  checkpoint.state = std::make_unique<State>(cur_);
  checkpoint.history.assign(history_.begin(), history_.end());  // one allocation; history_ keeps its capacity
  history_.clear();
  backtracked_ = 0;  // the new state's values are not precise yet
  checkpoints_.push_back(std::move(checkpoint));
  parent_ = static_cast<int32_t>(checkpoints_.size() - 1);
  listed.push_back(static_cast<uint32_t>(parent_));
  ++result_.states;
  result_.peak_states = std::max(result_.peak_states, ++stored_states_);
  return Visit::Continue;
}

// Takes listed_[pc][k] out of the list: an explored state is freed; one
// still being explored stays as a parent, and is freed when it is done.
void Checker::unlist(uint32_t pc, size_t k) {
  std::vector<uint32_t>& listed = listed_[pc];
  Checkpoint& checkpoint = checkpoints_[listed[k]];
  checkpoint.listed = false;
  if (checkpoint.live == 0) {
    checkpoint.state.reset();
    --stored_states_;
  }
  listed.erase(listed.begin() + static_cast<std::ptrdiff_t>(k));
}

// An explored state prunes by what runs from pc can read: registers of the
// current frame no path reads before writing are forgotten (the kernel's
// clean_live_states), so states that differ only there are alike.
void Checker::forget_dead_registers(State& state, uint32_t pc) const {
  const isa::RegSet live = cfg_.live_regs[pc];
  std::array<Reg, isa::kRegisterCount>& regs = state.top().regs;
  for (int r = 0; r < isa::kFramePointer; ++r)
    if (!live.contains(r)) regs[r] = not_init();
}

// A path below `index` ended: a checkpoint with no path left below it is
// explored, and may prune from now on.
void Checker::release(int32_t index) {
  while (index >= 0) {
    Checkpoint& checkpoint = checkpoints_[index];
    if (--checkpoint.live > 0) return;
    checkpoint.history = {};  // backtracking never reaches an explored state
    if (checkpoint.listed) {
      forget_dead_registers(*checkpoint.state, checkpoint.pc);
      checkpoint.summary = cover_summary(*checkpoint.state);
    } else {
      checkpoint.state.reset();
      --stored_states_;
    }
    index = checkpoint.parent;
  }
}

bool Checker::push_branch(State state, uint32_t pc) {
  if (pending_.size() >= kMaxPending)
    return fail(Errno::E2big, "The sequence of " + std::to_string(pending_.size() + 1) + " jumps is too complex.");
  pending_.push_back({std::move(state), pc, parent_, pc_, path_, history_, backtracked_});
  if (parent_ >= 0) ++checkpoints_[parent_].live;
  return true;
}

bool Checker::push_speculative(uint32_t pc, int dst, int src) {
  if (leaks_allowed()) return true;  // root bypasses Spectre v1 sanitation
  State state = cur_;
  state.speculative = true;
  state.top().regs[dst] = unknown_scalar();
  if (src >= 0) state.top().regs[src] = unknown_scalar();
  return push_branch(std::move(state), pc);
}

bool Checker::next_path() {
  release(parent_);
  if (pending_.empty()) return false;
  Pending next = std::move(pending_.back());
  pending_.pop_back();
  cur_ = std::move(next.state);
  pc_ = next.pc;
  prev_pc_ = next.from;
  path_ = next.path;
  history_.assign(next.history.begin(), next.history.end());
  // Same parent, same values before the branch: what was followed back
  // then still is, through the branch's instruction.
  backtracked_ = next.backtracked;
  if (!history_.empty()) update_backtracked(history_.back());
  parent_ = next.parent;
  path_done_ = false;
  if (options_.log_level == 1) result_.log.clear();  // level 1 keeps the failing path only
  if (options_.log_level > 0)
    note("from " + std::to_string(next.from) + " to " + std::to_string(next.pc) + ": " + state_string(cur_));
  return true;
}

std::optional<Reject> Checker::run() {
  cur_ = initial_state();
  pc_ = 0;
  note("0: " + state_string(cur_));
  do {
    while (!path_done_) {
      if (++result_.processed_insns > options_.insn_limit) {
        fail(Errno::E2big, "BPF program is too large. Processed " + std::to_string(result_.processed_insns) + " insn");
        return reject_;
      }
      if (cfg_.prune_point[pc_]) {
        const Visit seen = visit(pc_);
        if (seen == Visit::Failed) return reject_;
        if (seen == Visit::Pruned) break;
      }
      if (options_.hooks && !call_insn_hook()) return reject_;
      visited_[pc_] = true;
      if (!cur_.speculative) {  // sanitize_mark_insn_seen: lddw's second slot too
        result_.reached[pc_] = true;
        if (program_.width_at(pc_) == 2) result_.reached[pc_ + 1] = true;
      }
      // A barrier stops every mispredicted path here (do_check's nospec).
      if (cur_.speculative && nospec_[pc_]) break;
      if (options_.log_level > 0)
        note(std::to_string(pc_) + ": (" + hex_string(program_.slots[pc_].code) + ") " +
             std::string(isa::info(*program_.ops[pc_]).id));
      history_.push_back(Step{.pc = pc_, .frame = static_cast<uint8_t>((cur_.frames.size() - 1) & 7)});
      if (!step()) {
        note(std::to_string(pc_) + ": " + state_string(cur_));
        // A mispredicted path that breaks a rule gets a speculation barrier
        // in the kernel, not a rejection (error_recoverable_with_nospec:
        // EPERM, EACCES and EINVAL).
        if (cur_.speculative && (reject_->error_number == Errno::Eacces || reject_->error_number == Errno::Einval)) {
          reject_.reset();
          nospec_[pc_] = true;
          break;
        }
        return reject_;
      }
      update_backtracked(history_.back());
      prev_pc_ = pc_;
      if (options_.log_level > 1) note(std::to_string(pc_) + ": " + state_string(cur_));
      // A barrier after the instruction (nospec_result: a store the kernel
      // guards against Spectre v4) ends a mispredicted path too.
      if (cur_.speculative && nospec_result_[pc_]) break;
      if (!path_done_) pc_ = next_pc_;
    }
  } while (next_path());
  if (!check_stack_depth()) return reject_;
  return std::nullopt;
}

// The kernel's check_max_stack_depth: each subprogram's stack, rounded up
// to 32 bytes, summed along the deepest call chain, at most 512.
bool Checker::check_stack_depth() {
  const size_t count = cfg_.subprogs.size();
  std::vector<std::vector<uint32_t>> callees(count);
  for (size_t pc = 0; pc < program_.size(); ++pc) {
    if (!program_.ops[pc] || isa::base_semantics(*program_.ops[pc]).operation != Operation::CallLocal) continue;
    const int64_t target = isa::branch_target(program_, pc);
    if (visited_[pc]) callees[cfg_.subprog_of(static_cast<uint32_t>(pc))].push_back(cfg_.subprog_of(target));
  }
  // Deepest chain from each subprogram: bytes and frames (the call graph has
  // no cycles left: a recursive call ran out of frames in the walk).
  std::vector<std::pair<uint32_t, uint32_t>> deepest(count, {0, 0});
  std::vector<bool> done(count, false);
  auto round = [](uint32_t depth) { return (std::max<uint32_t>(depth, 1) + 31) / 32 * 32; };
  auto solve = [&](auto&& self, uint32_t subprog, int guard) -> std::pair<uint32_t, uint32_t> {
    if (done[subprog] || guard > kMaxFrames) return deepest[subprog];
    std::pair<uint32_t, uint32_t> best{0, 0};
    for (uint32_t callee : callees[subprog]) best = std::max(best, self(self, callee, guard + 1));
    deepest[subprog] = {best.first + round(stack_depth[subprog]), best.second + 1};
    done[subprog] = true;
    return deepest[subprog];
  };
  const auto [bytes, frames] = solve(solve, 0, 0);
  if (bytes <= kStackSize) return true;
  pc_ = 0;
  return fail(Errno::Eacces, "combined stack size of " + std::to_string(frames) + " calls is " + std::to_string(bytes) +
                                 ". Too large");
}

// ---- One instruction ---------------------------------------------------------------

bool Checker::step() {
  if (!deferred_[pc_].empty()) return fail(Errno::Einval, deferred_[pc_]);
  const isa::Slot& slot = program_.slots[pc_];
  const isa::Op op = *program_.ops[pc_];
  const isa::Semantics& semantics = semantics_[pc_];
  next_pc_ = pc_ + program_.width_at(pc_);
  if (isa::shape_info(op).flow != isa::Flow::Next) ++jumps_processed_;
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
    case Operation::Arsh: return alu(slot, semantics);
    case Operation::Mov:
    case Operation::MovSx: return mov(slot, semantics);
    case Operation::Neg:
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap: return unary(slot, semantics);
    case Operation::LoadImm64:
    case Operation::LoadPseudo: return lddw(slot, op);
    case Operation::LoadPacket: return load_packet_legacy(slot, semantics);
    case Operation::Load:
    case Operation::LoadSx: return load(slot, semantics);
    case Operation::Store: return store(slot, semantics);
    case Operation::AtomicAdd:
    case Operation::AtomicOr:
    case Operation::AtomicAnd:
    case Operation::AtomicXor:
    case Operation::AtomicXchg:
    case Operation::AtomicCmpxchg: return atomic(slot, semantics);
    case Operation::Jump: next_pc_ = static_cast<uint32_t>(isa::branch_target(program_, pc_)); return true;
    case Operation::JumpIf: return jump_if(slot, semantics);
    case Operation::MayGoto: return push_branch(cur_, static_cast<uint32_t>(isa::branch_target(program_, pc_)));
    case Operation::Call: return call_helper(slot);
    case Operation::CallLocal: return call_local(slot);
    case Operation::Exit: return exit();
    case Operation::AddrSpaceCast:
      return fail(Errno::Einval, "addr_space_cast insn can only be used in a program that has an associated arena");
    case Operation::CallKfunc:
      return fail(Errno::Einval, "calling kernel functions is not supported (bpfkit's verifier has no kernel BTF)");
    default: return fail(Errno::Einval, "unknown opcode " + hex_string(slot.code));
  }
}

bool Checker::alu(const isa::Slot& slot, const isa::Semantics& semantics) {
  const unsigned width = semantics.width;
  const int dst = slot.dst();
  const Operation operation = semantics.operation;
  Reg src = width == 64 ? const_scalar(static_cast<uint64_t>(int64_t{slot.imm}))
                        : const_scalar(static_cast<uint32_t>(slot.imm));
  if (semantics.source == Source::Reg) {
    if (!check_read(slot.src())) return false;
    src = regs()[slot.src()];
  }
  if (!check_read(dst)) return false;
  if (semantics.source == Source::Imm) {
    const bool division = operation == Operation::Div || operation == Operation::Mod || operation == Operation::SDiv ||
                          operation == Operation::SMod;
    if (division && slot.imm == 0) return fail(Errno::Einval, "div by zero");
    const bool shift = operation == Operation::Lsh || operation == Operation::Rsh || operation == Operation::Arsh;
    if (shift && (slot.imm < 0 || slot.imm >= static_cast<int32_t>(width)))
      return fail(Errno::Einval, "invalid shift " + std::to_string(slot.imm));
  }
  const Reg& value = regs()[dst];
  if (is_pointer(value.type) && is_pointer(src.type)) {
    if (operation == Operation::Sub && leaks_allowed()) {  // the distance between two pointers
      regs()[dst] = unknown_scalar();
      return true;
    }
    return fail(Errno::Eacces, r(dst) + " pointer " + alu_string(operation) + " pointer prohibited");
  }
  // The offset's value decides the pointer's: precise (the kernel marks it
  // before adjust_ptr_min_max_vals).
  if (is_pointer(src.type)) {
    mark_precise(static_cast<uint16_t>(1u << dst));
    return pointer_alu(operation, dst, src, value, true, width);
  }
  if (is_pointer(value.type)) {
    if (semantics.source == Source::Reg) mark_precise(static_cast<uint16_t>(1u << slot.src()));
    return pointer_alu(operation, dst, value, src, false, width);
  }
  regs()[dst] = scalar_alu(operation, value, src, width);
  return true;
}

// ptr op offset (or offset op ptr), as adjust_ptr_min_max_vals allows it.
bool Checker::pointer_alu(Operation operation, int dst, const Reg& ptr, const Reg& offset, bool offset_is_dst,
                          unsigned width) {
  const std::string name = type_name(ptr.type);
  if (width == 32) {
    if (operation == Operation::Sub && leaks_allowed()) {
      regs()[dst] = unknown_scalar();
      return true;
    }
    return fail(Errno::Eacces, r(dst) + " 32-bit pointer arithmetic prohibited");
  }
  if (ptr.type == RegType::MapValueOrNull)
    return fail(Errno::Eacces, r(dst) + " pointer arithmetic on " + name + " prohibited, null-check it first");
  const bool known = offset.is_const();
  const int64_t value = static_cast<int64_t>(offset.var.value);
  switch (ptr.type) {
    case RegType::Ctx:
    case RegType::MapValue:
    case RegType::Stack:
    case RegType::Packet:
    case RegType::PacketMeta:
    case RegType::Mem: break;
    case RegType::MapPtr:
      if (known && value == 0 && operation == Operation::Add) {
        regs()[dst] = ptr;
        return true;
      }
      [[fallthrough]];
    default: return fail(Errno::Eacces, r(dst) + " pointer arithmetic on " + name + " prohibited");
  }
  if (known && (value >= kMaxVarOff || value <= -kMaxVarOff))
    return fail(Errno::Einval, "math between " + name + " pointer and " + std::to_string(value) + " is not allowed");
  if (offset.smin == std::numeric_limits<int64_t>::min())
    return fail(Errno::Einval,
                "math between " + name + " pointer and register with unbounded min value is not allowed");
  if (offset.smin >= kMaxVarOff || offset.smin <= -kMaxVarOff)
    return fail(Errno::Einval, "value " + std::to_string(offset.smin) + " makes " + name + " pointer be out of bounds");
  if (!leaks_allowed() && !known && (offset.smin < 0) != (offset.smax < 0))
    return fail(Errno::Eacces, r(dst) +
                                   " has unknown scalar with mixed signed bounds, pointer arithmetic with it "
                                   "prohibited for !root");
  Reg out = ptr;
  switch (operation) {
    case Operation::Add:
      if (known) {
        out.off = static_cast<int32_t>(ptr.off + value);
        break;
      }
      {
        Reg sum = scalar_alu(Operation::Add, ptr, offset, 64);
        out.var = sum.var;
        out.smin = sum.smin, out.smax = sum.smax, out.umin = sum.umin, out.umax = sum.umax;
        out.s32min = sum.s32min, out.s32max = sum.s32max, out.u32min = sum.u32min, out.u32max = sum.u32max;
      }
      if (is_packet(ptr.type)) {
        out.id = new_id();
        out.range = 0;
      }
      break;
    case Operation::Sub:
      if (offset_is_dst) return fail(Errno::Eacces, r(dst) + " tried to subtract pointer from scalar");
      if (ptr.type == RegType::Stack) return fail(Errno::Eacces, r(dst) + " subtraction from stack pointer prohibited");
      if (known) {
        out.off = static_cast<int32_t>(ptr.off - value);
        break;
      }
      {
        Reg difference = scalar_alu(Operation::Sub, ptr, offset, 64);
        out.var = difference.var;
        out.smin = difference.smin, out.smax = difference.smax, out.umin = difference.umin, out.umax = difference.umax;
        out.s32min = difference.s32min, out.s32max = difference.s32max, out.u32min = difference.u32min,
        out.u32max = difference.u32max;
      }
      if (is_packet(ptr.type)) {
        out.id = new_id();
        out.range = 0;
      }
      break;
    case Operation::And:
    case Operation::Or:
    case Operation::Xor:
      return fail(Errno::Eacces, r(dst) + " bitwise operator " + alu_string(operation) + " on pointer prohibited");
    default:
      return fail(Errno::Eacces, r(dst) + " pointer arithmetic with " + alu_string(operation) + " operator prohibited");
  }
  if (out.off >= kMaxVarOff || out.off <= -kMaxVarOff)
    return fail(Errno::Einval, name + " pointer offset " + std::to_string(out.off) + " is not allowed");
  if (!leaks_allowed()) {  // sanitize_check_bounds: the result must stay inside its object
    if (out.type == RegType::Stack) {
      if (!out.is_const())
        return fail(Errno::Eacces, r(dst) + " variable stack access prohibited for !root, var_off=" +
                                       tnum_string(out.var) + " off=" + std::to_string(out.off));
      const int64_t at = out.off + static_cast<int64_t>(out.var.value);
      if (at >= 0 || at < -kStackSize)
        return fail(Errno::Eacces, r(dst) + " stack pointer arithmetic goes out of range, prohibited for !root; off=" +
                                       std::to_string(at));
    }
    if (out.type == RegType::MapValue) {
      const uint64_t value_size = map_spec(out.map).value_size;
      if (out.off + out.smin < 0 || out.umax >= static_cast<uint64_t>(kMaxVarOff) ||
          out.off + static_cast<int64_t>(out.umax) + 1 > static_cast<int64_t>(value_size))
        return fail(Errno::Eacces, r(dst) + " pointer arithmetic of map value goes out of range, prohibited for !root");
    }
  }
  regs()[dst] = out;
  return true;
}

bool Checker::mov(const isa::Slot& slot, const isa::Semantics& semantics) {
  const unsigned width = semantics.width;
  const int dst = slot.dst();
  Reg src = width == 64 ? const_scalar(static_cast<uint64_t>(int64_t{slot.imm}))
                        : const_scalar(static_cast<uint32_t>(slot.imm));
  if (semantics.source == Source::Reg) {
    if (!check_read(slot.src())) return false;
    Reg& source = regs()[slot.src()];
    // A copy links the two scalars: a branch on one narrows both.
    if (semantics.operation == Operation::Mov && width == 64 && source.type == RegType::Scalar && source.id == 0 &&
        !source.is_const())
      source.id = new_id();
    src = source;
  }
  if (semantics.operation == Operation::MovSx) {
    if (is_pointer(src.type)) {  // root may: the result is unknown (32 bits wide for w = (s8)w)
      if (!leaks_allowed())
        return fail(Errno::Eacces,
                    r(slot.src()) + (width == 64 ? " sign-extension part of pointer" : " partial copy of pointer"));
      regs()[dst] = width == 64 ? unknown_scalar() : sized_scalar(4);
      return true;
    }
    const unsigned bits = static_cast<unsigned>(slot.off);
    Reg out;
    if (src.is_const()) {
      const uint64_t low = bits >= 64 ? src.var.value : src.var.value & ((uint64_t{1} << bits) - 1);
      const int64_t extended = static_cast<int64_t>(low << (64 - bits)) >> (64 - bits);
      out = const_scalar(static_cast<uint64_t>(extended));
    } else if (src.umax < (uint64_t{1} << (bits - 1))) {  // the sign bit is clear: the value is unchanged
      out = src;
      out.id = 0;
    } else {
      out = sized_scalar(bits / 8, true);
    }
    if (width == 32) zext32(out);
    regs()[dst] = out;
    return true;
  }
  if (width == 64) {
    regs()[dst] = src;
    return true;
  }
  if (is_pointer(src.type)) {
    if (!leaks_allowed()) return fail(Errno::Eacces, r(slot.src()) + " partial copy of pointer");
    regs()[dst] = sized_scalar(4);
    return true;
  }
  src.id = 0;
  zext32(src);
  regs()[dst] = src;
  return true;
}

bool Checker::unary(const isa::Slot& slot, const isa::Semantics& semantics) {
  const int dst = slot.dst();
  if (!check_read(dst)) return false;
  const Reg value = regs()[dst];
  if (is_pointer(value.type)) {  // is_pointer_value: root may, and gets an unknown scalar
    if (!leaks_allowed()) return fail(Errno::Eacces, r(dst) + " pointer arithmetic prohibited");
    regs()[dst] = unknown_scalar();
    return true;
  }
  const unsigned width = semantics.width;
  Reg out;
  switch (semantics.operation) {
    case Operation::Neg: out = scalar_alu(Operation::Sub, const_scalar(0), value, width); break;
    case Operation::ToLe: out = truncated(value, width / 8); break;
    default:  // a byte swap: the known bits move with their bytes (the kernel's tnum_bswap)
      out = unknown_scalar();
      out.var = tnum_bswap(value.var, width / 8);
      sync_bounds(out);
      break;
  }
  out.id = 0;
  regs()[dst] = out;
  return true;
}

bool Checker::lddw(const isa::Slot& slot, isa::Op op) {
  const int dst = slot.dst();
  const uint32_t index = static_cast<uint32_t>(slot.imm);
  switch (op) {
    case isa::Op::lddw: regs()[dst] = const_scalar(program_.imm64(pc_)); return true;
    case isa::Op::lddw_map_fd:
    case isa::Op::lddw_map_idx:
    case isa::Op::lddw_map_value:
    case isa::Op::lddw_map_idx_value: break;
    case isa::Op::lddw_func:
      return fail(Errno::Einval, "callbacks (lddw of a function) are not supported by bpfkit's verifier");
    default: return fail(Errno::Einval, "lddw of a BTF id is not supported (bpfkit's verifier has no kernel BTF)");
  }
  if (index >= program_.maps.size())
    return fail(Errno::Ebadf, "fd " + std::to_string(slot.imm) + " is not pointing to valid bpf_map");
  if (op == isa::Op::lddw_map_fd || op == isa::Op::lddw_map_idx) {
    Reg map = pointer(RegType::MapPtr);
    map.map = index;
    regs()[dst] = map;
    return true;
  }
  const isa::MapSpec& spec = program_.maps[index];
  const uint32_t off = static_cast<uint32_t>(program_.slots[pc_ + 1].imm);
  if (off >= spec.value_size)
    return fail(Errno::Eacces, "invalid access to map value pointer, value_size=" + std::to_string(spec.value_size) +
                                   " off=" + std::to_string(off));
  Reg value = pointer(RegType::MapValue, static_cast<int32_t>(off));
  value.map = index;
  regs()[dst] = value;
  return true;
}

// ---- Conditional jumps ---------------------------------------------------------------

bool Checker::jump_if(const isa::Slot& slot, const isa::Semantics& semantics) {
  const int dst = slot.dst();
  const bool by_reg = semantics.source == Source::Reg;
  if (by_reg) {
    if (!check_read(slot.src())) return false;
    const Reg& src = regs()[slot.src()];
    const bool both_packet = (is_packet(src.type) || src.type == RegType::PacketEnd) &&
                             (is_packet(regs()[dst].type) || regs()[dst].type == RegType::PacketEnd);
    if (!both_packet && is_pointer(src.type) && !leaks_allowed())
      return fail(Errno::Eacces, r(slot.src()) + " pointer comparison prohibited");
  }
  if (!check_read(dst)) return false;
  bool handled = false;
  if (!pointer_jump(slot, semantics, handled)) return false;
  if (handled) return true;

  const uint32_t target = static_cast<uint32_t>(isa::branch_target(program_, pc_));
  const Reg& a = regs()[dst];
  const Reg b = by_reg ? regs()[slot.src()] : const_scalar(static_cast<uint64_t>(int64_t{slot.imm}));
  if (is_pointer(a.type) || is_pointer(b.type)) {  // no narrowing: both edges as they are
    if (is_pointer(a.type) && !leaks_allowed()) return fail(Errno::Eacces, r(dst) + " pointer comparison prohibited");
    return push_branch(cur_, target);
  }
  // Each edge's registers, narrowed by the condition or its negation; the
  // state is copied only when both edges live (the one pushed).
  struct Edge {
    Reg x, y;
    bool live;
  };
  auto narrowed = [&](bool taken) {
    Edge edge{a, b, false};
    edge.live = narrow(edge.x, edge.y, semantics.condition, semantics.width, taken);
    return edge;
  };
  // What the kernel's reg_set_min_max leaves in a state: the narrowed
  // registers and every scalar linked to them.
  auto apply = [&](const Edge& edge, State& state) {
    Reg& x = state.top().regs[dst];
    x = edge.x;
    if (by_reg) state.top().regs[slot.src()] = edge.y;
    if (by_reg && slot.src() == dst) x = edge.y;
    const Reg linked_x = x;
    link_scalars(state, linked_x);
    if (by_reg) link_scalars(state, edge.y);
  };
  note_linked(a, by_reg ? &regs()[slot.src()] : nullptr);
  const Edge taken = narrowed(true);
  const Edge falls = narrowed(false);
  if (!taken.live || !falls.live)  // decided by the values: both precise (is_branch_taken)
    mark_precise(static_cast<uint16_t>(1u << dst | (by_reg ? 1u << slot.src() : 0u)));
  if (taken.live && falls.live) {
    State taken_state = cur_;
    apply(taken, taken_state);
    apply(falls, cur_);
    return push_branch(std::move(taken_state), target);
  }
  const int src = by_reg ? slot.src() : -1;
  if (taken.live) {
    if (!push_speculative(next_pc_, dst, src)) return false;
    apply(taken, cur_);
    next_pc_ = target;
  } else if (falls.live) {
    if (!push_speculative(target, dst, src)) return false;
    apply(falls, cur_);
  } else {
    path_done_ = true;  // no value reaches here at all
  }
  return true;
}

// Comparisons involving pointers that the kernel understands: null checks,
// non-null pointers against 0, packet pointers against data_end.
bool Checker::pointer_jump(const isa::Slot& slot, const isa::Semantics& semantics, bool& handled) {
  const int dst = slot.dst();
  const Reg a = regs()[dst];
  const bool by_reg = semantics.source == Source::Reg;
  const Condition cond = semantics.condition;
  const uint32_t target = static_cast<uint32_t>(isa::branch_target(program_, pc_));
  const bool against_zero = !by_reg && slot.imm == 0 && semantics.width == 64;
  if (against_zero && (cond == Condition::Eq || cond == Condition::Ne) && a.type == RegType::MapValueOrNull) {
    State taken = cur_;
    std::optional<uint32_t> inner_map;
    if (a.map < program_.maps.size() && program_.maps[a.map].inner)
      inner_map = static_cast<uint32_t>(program_.maps.size() + a.map);
    mark_null_checked(taken, a.id, cond == Condition::Eq, inner_map);
    mark_null_checked(cur_, a.id, cond == Condition::Ne, inner_map);
    handled = true;
    return push_branch(std::move(taken), target);
  }
  if (against_zero && (cond == Condition::Eq || cond == Condition::Ne) && is_pointer(a.type)) {
    handled = true;  // never null: the branch is decided
    if (!push_speculative(cond == Condition::Ne ? next_pc_ : target, dst, -1)) return false;
    if (cond == Condition::Ne) next_pc_ = target;
    return true;
  }
  if (!by_reg || semantics.width != 64) return true;
  const Reg b = regs()[slot.src()];
  // data against data_end, or data_meta against data itself (no offset, no
  // id: reg_is_init_pkt_pointer), which bounds the metadata.
  const auto is_data = [](const Reg& reg) {
    return reg.type == RegType::Packet && reg.id == 0 && reg.off == 0 && reg.is_const() && reg.var.value == 0;
  };
  const bool packet_first =
      (a.type == RegType::Packet && b.type == RegType::PacketEnd) || (a.type == RegType::PacketMeta && is_data(b));
  const bool end_first =
      (a.type == RegType::PacketEnd && b.type == RegType::Packet) || (is_data(a) && b.type == RegType::PacketMeta);
  if (!packet_first && !end_first) return true;
  // Which edge proves `packet <= end` (or `<`: open).
  bool on_taken = false, open = false;
  switch (packet_first ? cond : flip(cond)) {
    case Condition::Gt: on_taken = false, open = false; break;  // pkt > end: the fall-through has pkt <= end
    case Condition::Lt: on_taken = true, open = true; break;
    case Condition::Ge: on_taken = false, open = true; break;
    case Condition::Le: on_taken = true, open = false; break;
    default: return true;
  }
  const Reg& packet = packet_first ? a : b;
  State taken = cur_;
  mark_packet_range(on_taken ? taken : cur_, packet, open);
  handled = true;
  return push_branch(std::move(taken), target);
}

// ---- Calls and exit ---------------------------------------------------------------------

bool Checker::call_local(const isa::Slot&) {
  const uint32_t target = static_cast<uint32_t>(isa::branch_target(program_, pc_));
  if (cur_.frames.size() >= static_cast<size_t>(kMaxFrames))
    return fail(Errno::E2big, "the call stack of " + std::to_string(cur_.frames.size() + 1) + " frames is too deep !");
  Frame callee;
  for (int arg = 1; arg <= 5; ++arg) callee.regs[arg] = regs()[arg];
  callee.regs[isa::kFramePointer] = pointer(RegType::Stack);
  callee.regs[isa::kFramePointer].frame = static_cast<uint8_t>(cur_.frames.size());
  callee.callsite = pc_;
  callee.subprog = cfg_.subprog_of(target);
  cur_.frames.push_back(std::move(callee));
  next_pc_ = target;
  return true;
}

bool Checker::exit() {
  if (cur_.frames.size() > 1) {
    if (!check_read(0)) return false;
    const Reg r0 = regs()[0];
    if (r0.type == RegType::Stack) return fail(Errno::Einval, "cannot return stack pointer to the caller frame");
    const uint32_t callsite = cur_.top().callsite;
    cur_.frames.pop_back();
    regs()[0] = r0;
    for (int arg = 1; arg <= 5; ++arg) regs()[arg] = not_init();
    next_pc_ = callsite + 1;
    return true;
  }
  if (!check_read(0)) return false;
  if (is_pointer(regs()[0].type) && !leaks_allowed()) return fail(Errno::Eacces, "R0 leaks addr as return value");
  path_done_ = true;
  return true;
}

void interpret(const isa::Program& program, const Options& options, const Cfg& cfg,
               const std::vector<std::string>& deferred, Result& result, std::optional<Reject>& reject) {
  Checker checker(program, options, cfg, deferred, result);
  reject = checker.run();
}

}  // namespace bpfkit::verify::detail
