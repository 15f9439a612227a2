// Module verify, internal: the second pass, the kernel's do_check. One
// Checker walks every path of the program depth-first (a conditional jump
// whose both edges are live pushes the jump's edge and follows the
// fall-through), storing states at the first pass's prune points: a path
// that reaches a state an explored one covers ends there; one that reaches
// a state still being explored, unchanged, is an infinite loop.
//
// Its methods live in one file per phase: interpret.cpp (the driver, the
// ALU, jumps, calls, exit), memory.cpp (loads, stores, atomics, the context
// layouts, the stack) and helpers.cpp (helper calls).
#pragma once

#include <memory>

#include "internal.hpp"

namespace bpfkit::verify::detail {

// With hooks, the paths as a tree: each processed instruction is a step
// naming the step before it on its path, so a branch keeps its path by one
// index, and StateView::path() walks it back only when asked.
struct PathStep {
  uint32_t pc;
  int32_t before;
};

class Checker {
 public:
  Checker(const isa::Program& program, const Options& options, const Cfg& cfg, const std::vector<std::string>& deferred,
          Result& result);
  std::optional<Reject> run();

  // ---- Shared by the phases -----------------------------------------------------
  std::array<Reg, isa::kRegisterCount>& regs() { return cur_.top().regs; }
  bool fail(Errno error_number, std::string message);
  bool check_read(int regno);  // "R2 !read_ok"
  bool leaks_allowed() const { return options_.profile == Profile::Root; }
  uint32_t new_id() { return ++id_gen_; }
  // The kernel's Spectre v4 guard: a stack store that overwrites a spilled
  // or uninitialised slot, or stores a pointer, gets a barrier after it
  // (nospec_result) unless the loader may bypass it (CAP_PERFMON: root).
  void guard_store() {
    if (!leaks_allowed()) nospec_result_[pc_] = true;
  }
  void note(const std::string& line);  // a line of the log (levels 1 and 2)

  // memory.cpp
  bool load(const isa::Slot& slot, const isa::Semantics& semantics);
  bool store(const isa::Slot& slot, const isa::Semantics& semantics);
  bool atomic(const isa::Slot& slot, const isa::Semantics& semantics);
  // Result::proven at pc_: this path's access went through `base`, in bounds.
  void note_proven_access(RegType base);
  bool load_packet_legacy(const isa::Slot& slot, const isa::Semantics& semantics);
  // A helper's memory argument: `size` bytes at reg (read, or written).
  bool check_helper_memory(int regno, uint64_t size, bool write, bool zero_allowed);

  // helpers.cpp
  bool call_helper(const isa::Slot& slot);
  void forget_packet_pointers();

  // precision.cpp: the kernel's precision tracking. The current
  // instruction's safety depends on these registers' values (of the current
  // frame, as they are before it): every stored state of this path is told
  // so, back to where each value came from (mark_chain_precision).
  void mark_precise(uint16_t regs);
  // The current instruction fills a register from a spilled one, or spills
  // one, in slot `slot` of frame `frame`: backtracking follows the value.
  void note_stack_slot(uint8_t frame, int slot);

 private:
  // One processed instruction, as backtracking reads it (the kernel's jump
  // history, kept for every instruction: paths are short between states),
  // in 8 bytes: live states keep theirs.
  struct Step {
    enum Kind : uint8_t {
      Plain,
      StackSlot,       // a load or store: a fill from or a spill into slot `slot` of frame `slot_frame`
      LinkedSlot,      // a conditional jump: the scalar spilled in `slot` of `frame` was narrowed with the operands
      LinkedElsewhere  // ... more than one, or in another frame: backtracking marks all precise
    };
    uint32_t pc = 0;
    // Conditional jumps: the registers of `frame` narrowed with the
    // operands (linked scalars).
    uint16_t linked = 0;
    uint8_t slot = 0;
    uint8_t frame : 3 = 0;  // the frame it ran in
    uint8_t slot_frame : 3 = 0;
    uint8_t kind : 2 = Plain;
  };
  static_assert(sizeof(Step) == 8);
  // Per frame, the registers and spilled slots whose values are wanted.
  struct Backtrack {
    std::array<uint16_t, kMaxFrames> regs{};
    std::array<uint64_t, kMaxFrames> slots{};
    bool empty() const;
  };
  struct Pending {
    State state;
    uint32_t pc = 0;
    int32_t parent = -1;
    uint32_t from = 0;
    int32_t path = -1;          // with hooks: the last step of the path so far (trail_)
    std::vector<Step> history;  // since the parent state
    uint16_t backtracked = 0;   // backtracked_ before the branch's instruction
  };
  struct Checkpoint {
    int32_t parent = -1;
    uint32_t live = 1;  // paths still being explored below it
    uint32_t pc = 0;
    std::unique_ptr<State> state;  // null once freed
    bool listed = true;            // in listed_[pc]: compared with new states there
    uint32_t hits = 0, misses = 0;
    CoverSummary summary;       // once explored: read before the state, most differ at once
    std::vector<Step> history;  // from the parent state to this one (dropped once explored)
  };
  enum class Visit { Continue, Pruned, Failed };

  State initial_state() const;
  Visit visit(uint32_t pc);
  void release(int32_t checkpoint);
  void unlist(uint32_t pc, size_t k);
  void forget_dead_registers(State& state, uint32_t pc) const;
  bool push_branch(State state, uint32_t pc);
  // The bpf profile: a decided branch's dead edge explored as a mispredicted
  // one would run it, with the compared registers unknown.
  bool push_speculative(uint32_t pc, int dst, int src);
  bool next_path();  // false when every path is done
  bool step();       // one instruction at pc_
  bool call_insn_hook();

  // precision.cpp
  // A state that prunes this path: its precise values are this path's too.
  void propagate_precision(const State& explored);
  // Walks back over this path's steps (but the last `skip`), then each
  // stored state's, marking the wanted values precise.
  void backtrack(Backtrack& wanted, size_t skip);
  bool backtrack_step(Backtrack& wanted, const Step& step) const;  // false: give up
  void mark_all_precise();
  void note_linked(const Reg& a, const Reg* b);
  // After the step: which registers still hold values already followed back.
  void update_backtracked(const Step& step);

  bool alu(const isa::Slot& slot, const isa::Semantics& semantics);
  bool mov(const isa::Slot& slot, const isa::Semantics& semantics);
  bool unary(const isa::Slot& slot, const isa::Semantics& semantics);
  bool pointer_alu(isa::Operation operation, int dst, const Reg& ptr, const Reg& offset, bool offset_is_dst,
                   unsigned width);
  bool lddw(const isa::Slot& slot, isa::Op op);
  bool jump_if(const isa::Slot& slot, const isa::Semantics& semantics);
  bool pointer_jump(const isa::Slot& slot, const isa::Semantics& semantics, bool& handled);
  bool check_stack_depth();
  bool call_local(const isa::Slot& slot);
  bool exit();

  const isa::Program& program_;
  const Options& options_;
  const Cfg& cfg_;
  const std::vector<std::string>& deferred_;
  Result& result_;

  State cur_;
  uint32_t pc_ = 0;
  uint32_t next_pc_ = 0;
  bool path_done_ = false;
  std::optional<Reject> reject_;
  uint32_t id_gen_ = 0;

  int64_t prev_pc_ = -1;                   // the instruction processed before pc_ on this path
  std::vector<PathStep> trail_;            // with hooks: every path's steps
  int32_t path_ = -1;                      // the last step of the current path
  std::vector<bool> access_seen_;          // per slot: some path's access there was proven (Result::proven)
  std::vector<bool> visited_;              // per slot: processed on some path, mispredicted ones too
  std::vector<bool> nospec_;               // per pc: mispredicted paths stop before it
  std::vector<bool> nospec_result_;        // per pc: mispredicted paths stop after it
  std::vector<Step> history_;              // this path's steps since parent_
  std::vector<isa::Semantics> semantics_;  // per slot, read once
  // Registers of the current frame whose values were followed back since
  // parent_ was stored (with all they came from): marking them again would
  // change nothing, so mark_precise skips them (a loop counter's check).
  uint16_t backtracked_ = 0;
  std::vector<Pending> pending_;
  std::vector<Checkpoint> checkpoints_;
  // Per pc: the stored states compared with a new one there, oldest first
  // (being explored: the infinite-loop check; explored: pruning).
  std::vector<std::vector<uint32_t>> listed_;
  uint64_t jumps_processed_ = 0, prev_jumps_ = 0, prev_insns_ = 0;
  int32_t parent_ = -1;
  uint64_t stored_states_ = 0;  // states not freed

 public:
  std::vector<uint32_t> stack_depth;  // per subprogram: bytes used
  const isa::Program& program() const { return program_; }
  // Map `index` as registers name it: the program's maps, then (from
  // maps.size() on) the inner map of each map of maps, as the kernel's
  // inner_map_meta.
  const isa::MapSpec& map_spec(uint32_t index) const {
    const size_t count = program_.maps.size();
    return index < count ? program_.maps[index] : *program_.maps[index - count].inner;
  }
  const Options& options() const { return options_; }
  State& state() { return cur_; }
  uint32_t pc() const { return pc_; }
};

}  // namespace bpfkit::verify::detail
