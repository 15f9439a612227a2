// The translator: one object per program, an xbyak CodeGenerator that
// emits the prologue, every basic block in pc order (the hot code), then the
// cold code (fault stubs, metered copies of blocks, the shared exits).
//
// Metering: each block subtracts its instruction count from the meter on
// entry; if that would reach zero the block runs instead as a cold copy that
// counts each instruction, so the budget fails at the interpreter's pc with
// its registers. A fault or early exit inside a block adds back the
// instructions after it (its `correction`), so counts are exact.
//
// Loops (Linux): a block that jumps back to its own start may have two hot
// copies: at its label a check that proves its affine accesses in bounds
// for every iteration, falling into a copy without those checks (in pc
// order), else jumping to the ordinary copy (in the cold code); each copy's
// back edge goes to its own start (loop_version.cpp). A loop that cannot
// fault, with its trip count known at its entry, is charged every trip
// there and its unchecked copy has no meter.
#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "code.hpp"
#include "loop_affine.hpp"
#include "regmap.hpp"
#include "state.hpp"

namespace bpfkit::jit {

// The register a load, store or atomic addresses through, its offset and
// size, and whether it writes; nullopt for anything else (lower_memory.cpp).
struct AccessShape {
  int base;
  int16_t off;
  unsigned size;
  bool write;
};
std::optional<AccessShape> access_shape(const isa::Semantics& sem, const isa::Slot& slot);
// Whether the instruction may change the region table (a runtime call) or
// leave the block's straight line: no check group spans it, and no loop
// holding one is versioned.
bool ends_check_groups(isa::Operation operation);

class Compiler : public Xbyak::CodeGenerator {
 public:
  Compiler(const isa::Program& program, const CompileInputs& inputs);
  Expected<void> compile();
  // After compile(): fills what the run needs.
  void finish(Jit::Code& code);

 private:
  // A place in the code, bound by L(), that jumps and lea_label() may name
  // before it is bound. Xbyak's own labels cost hash-table entries per label
  // and per pending reference, which made compile time grow faster than the
  // program (issue 13); ours are an offset, and the pending references one
  // list patched at the end (labels.cpp).
  struct Label {
    int64_t offset = -1;  // into the code once bound
  };
  struct LabelUse {
    size_t at;  // a rel32 field, relative to at + 4
    const Label* target;
  };
  // labels.cpp: the jumps and the one rip-relative lea the lowerings use on
  // Labels, encoded as xbyak encodes them with setDefaultJmpNEAR(true):
  // short (rel8) backwards when it fits, else rel32.
  using Xbyak::CodeGenerator::jmp;
  using Xbyak::CodeGenerator::L;
  void L(Label& label);
  void jmp(const Label& target) { jump(target, 0xEB, 0xE9, 0); }
  void jump_on(uint8_t condition, const Label& target) { jump(target, 0x70 | condition, 0x80 | condition, 0x0F); }
  void jb(const Label& target) { jump_on(0x2, target); }
  void jae(const Label& target) { jump_on(0x3, target); }
  void je(const Label& target) { jump_on(0x4, target); }
  void jz(const Label& target) { jump_on(0x4, target); }
  void jne(const Label& target) { jump_on(0x5, target); }
  void jnz(const Label& target) { jump_on(0x5, target); }
  void jbe(const Label& target) { jump_on(0x6, target); }
  void ja(const Label& target) { jump_on(0x7, target); }
  void js(const Label& target) { jump_on(0x8, target); }
  void jns(const Label& target) { jump_on(0x9, target); }
  void jl(const Label& target) { jump_on(0xC, target); }
  void jge(const Label& target) { jump_on(0xD, target); }
  void jle(const Label& target) { jump_on(0xE, target); }
  void jg(const Label& target) { jump_on(0xF, target); }
  void jo(const Label& target) { jump_on(0x0, target); }
  void jump(const Label& target, uint8_t short_code, uint8_t near_code, uint8_t near_prefix);
  void lea_label(const Xbyak::Reg64& into, const Label& target);  // lea into, [rip + target]
  void use_label(const Label& target);                            // a rel32 field to patch
  Expected<void> patch_labels();
  const void* address_of(const Label& label) const;  // after readyRE()
  // Emits a jump (with the compare or subtraction fused to it) so that it
  // neither crosses nor ends on a 32-byte boundary: on Intel's cores with
  // the JCC erratum fix, such a jump leaves the decoded-uop cache, and a
  // short loop whose jump does so ran 1.7 times slower (csum's inner loop,
  // issue 13). Where the first try lands on one, the code is taken back and
  // emitted again after nops to the boundary. Not under harden: blinding
  // draws its keys as it emits.
  void keep_off_boundary(const std::function<void()>& emit_jump);
  size_t boundary_pads_ = 0;  // the nops keep_off_boundary put in so far

  struct Block {
    uint32_t start = 0, end = 0;  // pcs [start, end)
    uint32_t count = 0;           // instructions (an lddw is one)
  };

  // compiler.cpp: the driver.
  Expected<void> check_program();
  void find_blocks();
  void note_entry(size_t target, size_t pc, bool call);
  void emit_prologue();
  void copy_shared(const Xbyak::Reg64& to, const Xbyak::Reg64& from);
  void emit_bytes(std::span<const uint8_t> bytes);
  void emit_block(const Block& block);
  // One copy of a block's instructions, entered where the caller bound its
  // label: the meter, then each instruction (`hot`: the copy in pc order,
  // whose code ranges the listing shows).
  void emit_block_copy(const Block& block, Label& short_of_budget, size_t begin, bool hot, bool metered = true);
  void emit_metered_block(const Block& block);
  void emit_short_of_budget(const Block& block, Label& short_of_budget);
  void emit_loop_copy(const std::function<void()>& emit, std::span<Label* const> tops);
  void emit_mid_entry(uint32_t pc, uint32_t remaining);
  void emit_instruction(uint32_t pc);
  void emit_shared_exits();
  void emit_cold();
  Label& new_label();
  // A cold stub that stops the run with `stop` at the current pc, after
  // `extra` (which may set the fault fields from registers still intact).
  Label& fault(Stop stop, std::function<void()> extra = {});
  // Ends the run as the program's exit would, from inside a block.
  void done_here();
  void spill();
  void reload();
  // Calls fn(state, ...): `args` sets rsi, rdx, rcx, r8 (reading BPF
  // registers from the State with reg_in_state, not from their x86 homes).
  void runtime_call(const void* fn, const std::function<void()>& args);
  Xbyak::Address reg_in_state(int bpf) const;
  Xbyak::Address field(size_t offset) const;

  // harden.cpp: `into` = the immediate (a 32-bit register zero-extends it,
  // a 64-bit one sign-extends it), blinded under Options::harden.
  void load_immediate(const Xbyak::Reg& into, int32_t imm);
  void load_immediate64(const Xbyak::Reg64& into, uint64_t value);
  uint32_t blinding_key();
  // lower_alu.cpp
  void lower_alu(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_division(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_shift(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_byte_order(const isa::Semantics& sem, const isa::Slot& slot);
  // lower_memory.cpp
  // The host address: rax, or rax plus a base register and offset.
  Xbyak::RegExp access(int base, int16_t off, unsigned size, bool write);
  bool proof_holds() const { return proof_holds_at(pc_); }
  bool proof_holds_at(uint32_t pc) const;
  // Whether the access at `pc` (base register, offset, size) needs no check.
  bool in_frame(uint32_t pc, int base, int16_t off, unsigned size) const;
  // Merged checks (Linux, hot copies only): accesses of a block through one
  // base register that nothing writes between them, and no call: the first
  // checks the group's whole range once and leaves the host delta in the
  // State (check_delta); the others only add it. When the whole range is not
  // in one region, the rest of the block runs as its metered copy, which
  // checks each access (so a fault stays at its pc, with its address and
  // count).
  struct CheckedRange {
    int64_t lo = INT64_MAX, hi = INT64_MIN;  // offsets from the base: [lo, hi)
    bool empty() const { return lo >= hi; }
  };
  struct CheckGroup {
    int base = 0;
    CheckedRange read, write;
  };
  void plan_check_groups(const Block& block);
  // region_guess.cpp: guess_at_[pc], the region (1..7) an access's base
  // register most likely points into, else 0xff.
  void guess_regions();
  std::vector<uint8_t> guess_at_;
  // The check when the guess holds: one subtraction and one compare
  // against the guessed region; else the exact check in the cold path.
  Xbyak::RegExp guessed_access(int base, int16_t off, unsigned size, bool write, Label& refused);
  void exact_check(Label& refused, unsigned size, bool write);
  Xbyak::RegExp merged_check(const CheckGroup& group, int16_t off);
  Xbyak::RegExp grouped_access(int base, int16_t off);
  void region_index_of_rax();
  bool merge_checks_ = false;                          // emitting a hot copy (Linux)
  std::unordered_map<uint32_t, CheckGroup> group_at_;  // by pc of a group's first access
  std::vector<bool> grouped_;                          // by pc: a later access of a group
  std::vector<Label*> checked_copy_at_;                // by pc: the metered copy's label there
  void gapped_stack_access(Label& refused, Label& checked, unsigned size, bool write);
  void lower_load(isa::Op op, const isa::Semantics& sem, const isa::Slot& slot);
  void lower_store(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_atomic(const isa::Semantics& sem, const isa::Slot& slot);
  void emit_atomic_operation(const isa::Semantics& sem, const isa::Slot& slot, bool locked);
  void lower_lddw(isa::Op op, const isa::Slot& slot);
  void lower_load_packet(const isa::Semantics& sem, const isa::Slot& slot);
  // lower_control.cpp
  void lower_jump(const isa::Semantics& sem, const isa::Slot& slot);
  uint8_t compare(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_may_goto(const isa::Slot& slot);
  void lower_call(const isa::Slot& slot);
  void lower_call_local(const isa::Slot& slot);
  void lower_callx(const isa::Slot& slot);
  void lower_exit();
  // Pushes a frame (the depth check first); moves r10 unless told not to;
  // the caller jumps.
  void enter_frame(Label& return_to, bool move_fp = true);
  void move_frame_pointer();
  Label& target_label(int64_t pc);
  // loop_version.cpp: loop versioning of region checks (Linux, hot code).
  // A loop whose single entry is checked, when it is entered, to keep every
  // access through an affine address in its guessed region on every
  // iteration runs as a copy without those checks; else as the ordinary
  // copy (in the cold code), which checks each. Loops of one block that
  // jumps back to its own start (plan_loop), and natural loops of several
  // blocks (loop_region.cpp). Symbolic values: loop_affine.hpp.
  struct LoopRange {  // the accesses of one kind through one affine base
    int inv = -1;     // + this invariant register
    int iv = -1;      // + this induction variable
    uint8_t region = 0;
    bool write = false;
    int64_t lo = INT64_MAX, hi = INT64_MIN;  // [lo, hi): bytes from the base's value
    // 0: the variable steps as the tested one. Else its own constant step:
    // the entry check bounds it by the trip count (State::loop_trips).
    int64_t own_step = 0;
    std::vector<uint32_t> pcs;
  };
  struct LoopPlan {
    // The tested induction variable x (-1: no range needs one), its step per
    // iteration (a register's value or a constant), and the exit test: the
    // iteration after one whose start had x = v runs while
    // y = v + test_inv + test_const  `condition`  bound_reg + bound_const.
    int iv = -1;
    int step_reg = -1;
    int64_t step = 0;
    int test_inv = -1;
    int64_t test_const = 0;
    isa::Condition condition = isa::Condition::None;
    int bound_reg = -1;
    int64_t bound_const = 0;
    std::vector<LoopRange> ranges;
    // Nothing in the loop can fault: the entry check charges every trip to
    // the meter at once, and the copy has none (loops of one block).
    bool unmetered = false;
    // Every access in the loop is one the check proves, all in one region,
    // and no other instruction uses rax: the unchecked copy keeps that
    // region's host delta in rax, loaded once after the check.
    bool delta_in_rax = false;
  };
  std::optional<LoopPlan> plan_loop(const Block& block) const;
  // An access at pc through an affine address whose check the entry check can take.
  std::optional<loop::Access> loop_access(uint32_t pc, const loop::Values& value) const;
  // The exit test `left condition right` (the condition under which the
  // loop goes on), values at the test: sets the plan's test when it bounds
  // an induction variable over every iteration.
  void plan_exit_test(LoopPlan& plan, loop::Affine left, loop::Affine right, isa::Condition condition,
                      const loop::Steps& step) const;
  // The plan's ranges: the accesses by affine base, kind and region.
  void plan_ranges(LoopPlan& plan, const std::vector<loop::Access>& accesses, const loop::Steps& step) const;
  void plan_delta_in_rax(LoopPlan& plan, uint32_t start, uint32_t end) const;  // the loop's slots [start, end)
  // After the entry check passed: rax = the host delta, when the plan keeps it there.
  void emit_unchecked_loop_start(const LoopPlan& plan);
  void emit_loop_entry_check(const LoopPlan& plan, uint32_t count, Label& refused);
  void emit_loop_meter(const LoopPlan& plan, uint32_t count, Label& refused);
  void emit_iv_range(const LoopPlan& plan, Label& refused);
  void emit_trip_count(const LoopPlan& plan, Label& refused);
  void emit_range_check(const LoopPlan& plan, const LoopRange& range, Label& refused);
  Xbyak::RegExp loop_proven_access(int base, int16_t off);
  // loop_region.cpp: a natural loop of several blocks, laid out as the
  // blocks [first, last) (pc order), entered only at `header`, its other
  // edges acyclic: an iteration runs from the header to an edge back to it.
  struct LoopRegion {
    size_t first = 0, last = 0, header = 0;  // indices into blocks_
    LoopPlan plan;
  };
  std::optional<LoopRegion> plan_loop_region(size_t first) const;
  void emit_loop_region(const LoopRegion& region);
  // Where control goes after the block: up to two pcs (a jump's target, the
  // next block; none after an exit).
  std::vector<uint32_t> successors(const Block& block) const;
  std::vector<bool> loop_proven_at_;  // by pc: an access the unchecked copy does not check
  std::vector<bool> unmetered_at_;    // by pc: in a loop whose unchecked copy has no meter
  bool unchecked_loop_copy_ = false;  // emitting that copy
  bool delta_in_rax_ = false;         // and it keeps the host delta in rax
  // The loop copy being emitted: its label for each of the loop's block
  // starts, where its jumps inside the loop go (target_label).
  std::vector<std::pair<uint32_t, Label*>> loop_labels_;
  // sbpf.cpp: what differs in sBPF (calls resolved against the syscalls and
  // function keys, trapping division, PQR's high multiplies, hor, callx
  // through a table, an exit that can return past the text).
  struct SbpfCall {
    enum class Kind : uint8_t { None, Syscall, Function, Unknown } kind = Kind::None;
    int64_t value = 0;  // the syscall's index or the target pc (outside the text: -1)
  };
  void resolve_sbpf_calls();
  void lower_sbpf_division(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_high_multiply(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_hor(const isa::Slot& slot);
  void lower_sbpf_call();
  void lower_sbpf_callx(const isa::Slot& slot);
  void lower_sbpf_exit();
  void emit_sbpf_stubs();
  Label& return_label();  // where a call at pc_ returns to

  const isa::Program& program_;
  const CompileInputs& inputs_;
  const isa::Dialect& dialect_;
  // Each slot's row as the dialect reads it and the registers it writes (a
  // second slot: operation None, nothing written), worked out once: the
  // analyses and lowerings ask several times an instruction, which cost a
  // fifth of the translation (issue 13).
  struct SlotFacts {
    isa::Semantics sem;
    isa::RegSet written;
  };
  std::vector<SlotFacts> facts_;
  void find_facts();
  const isa::Semantics& sem_at(size_t pc) const { return facts_[pc].sem; }
  isa::RegSet written_at(size_t pc) const { return facts_[pc].written; }
  std::vector<bool> leader_;
  std::vector<bool> loop_header_;  // the target of a backward jump: aligned
  // By pc of a conditional jump to pc + 2 over a `goto` at pc + 1 that
  // nothing else enters: the goto is in the jump's block (lower_jump).
  std::vector<bool> absorbs_goto_;
  std::vector<Block> blocks_;
  // Jumps into each pc, for loop regions: the lowest and highest pc of a
  // jump there (UINT32_MAX and 0: none), the highest of a backward one, and
  // whether something else enters it (pc 0, a function or call target).
  std::vector<uint32_t> jumped_from_lo_, jumped_from_hi_, jumped_back_from_;
  std::vector<bool> entered_otherwise_;
  std::vector<uint32_t> block_of_;  // by pc: the index of the block starting there, else UINT32_MAX
  std::vector<Label> entry_;        // block entry by pc (size + 1: the end sentinel)
  std::deque<Label> labels_;
  std::deque<std::function<void()>> cold_;
  Label exit_, done_, return_, budget_out_;
  std::vector<LabelUse> label_uses_;
  std::vector<std::pair<size_t, size_t>> hot_range_;  // per pc
  // The instruction being lowered and what its fault stubs add to the meter.
  uint32_t pc_ = 0;
  uint32_t correction_ = 0;
  // Peepholes inside a hot block. flags_ names the register whose value the
  // x86 flags (ZF, SF) reflect after the code emitted last, flags_in_ what
  // held when the current instruction began: a compare with zero right
  // after an add, sub, and, or, xor or neg of the same register uses them.
  struct FlagsFrom {
    int reg = -1;
    unsigned width = 0;          // of the ALU operation that set them
    bool sign_extended = false;  // a 32-bit result sign-extended to 64 bits
  };
  FlagsFrom flags_, flags_in_;
  // The instruction after pc_ may fold into pc_'s code (same hot block, no
  // entry between them); a lowering that did sets folded_next_.
  uint32_t fold_start_ = 0, fold_limit_ = 0;  // the hot block being emitted: [start, limit)
  bool folded_next_ = false;
  // An x86 condition code (lower_control.cpp's Cc) for a compare with 0 the
  // flags already answer; jump_if emits the jcc of one.
  std::optional<uint8_t> zero_compare_from_flags(const isa::Semantics& sem, const isa::Slot& slot) const;
  void jump_if(uint8_t cc, Label& target);
  bool fold_mov_add(const isa::Semantics& sem, const isa::Slot& slot);
  bool fold_rotate(const isa::Semantics& sem, const isa::Slot& slot);
  bool loaded_narrow_before(int reg) const;
  bool has_callx_ = false;
  bool r10_written_ = false;        // some instruction writes r10: no unchecked stack accesses
  bool unchecked_stack_ = false;    // an access used that
  bool unchecked_memory_ = false;   // an access to the raw buffer (input region) used a proof
  std::vector<bool> unchecked_at_;  // per pc: the access runs without its region check (CodeRange::unchecked)
  bool bmi2_ = false;
  uint64_t blinding_state_ = 0;  // harden.cpp's random sequence
  // sBPF
  bool sbpf_ = false;
  std::vector<SbpfCall> sbpf_calls_;  // by pc
  std::vector<vm::Helper> syscalls_;
  std::vector<const void*> callx_targets_;  // allocated up front: the code holds its address
  Label return_past_end_;
  bool exit_saves_pc_ = false;  // some call may return past the end: exits tell where they were
  // With callx, labels by pc inside blocks: the hot copy, the metered copy,
  // and the entry that meters the rest of the block (emit_mid_entry).
  bool entered_inside_ = false;
  std::vector<Label> inside_, metered_at_, mid_entry_;
};

}  // namespace bpfkit::jit
