// The translator: one object per program, an xbyak CodeGenerator that
// emits the prologue, every basic block in pc order (the hot code), then the
// cold code (fault stubs, metered copies of blocks, the shared exits).
//
// Metering: each block subtracts its instruction count from the meter on
// entry; if that would reach zero the block runs instead as a cold copy that
// counts each instruction, so the budget fails at the interpreter's pc with
// its registers. A fault or early exit inside a block adds back the
// instructions after it (its `correction`), so counts are exact.
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "code.hpp"
#include "regmap.hpp"
#include "state.hpp"

namespace bpfkit::jit {

class Compiler : public Xbyak::CodeGenerator {
 public:
  Compiler(const isa::Program& program, const CompileInputs& inputs);
  Expected<void> compile();
  // After compile(): fills what the run needs.
  void finish(Jit::Code& code);

 private:
  struct Block {
    uint32_t start = 0, end = 0;  // pcs [start, end)
    uint32_t count = 0;           // instructions (an lddw is one)
  };

  // compiler.cpp: the driver.
  Expected<void> check_program();
  void find_blocks();
  void emit_prologue();
  void emit_block(const Block& block);
  void emit_metered_block(const Block& block);
  void emit_instruction(uint32_t pc);
  void emit_shared_exits();
  void emit_cold();
  Xbyak::Label& new_label();
  // A cold stub that stops the run with `stop` at the current pc, after
  // `extra` (which may set the fault fields from registers still intact).
  Xbyak::Label& fault(Stop stop, std::function<void()> extra = {});
  // Ends the run as the program's exit would, from inside a block.
  void done_here();
  void spill();
  void reload();
  // Calls fn(state, ...): `args` sets rsi, rdx, rcx, r8 (reading BPF
  // registers from the State with reg_in_state, not from their x86 homes).
  void runtime_call(const void* fn, const std::function<void()>& args);
  Xbyak::Address reg_in_state(int bpf) const;
  Xbyak::Address field(size_t offset) const;

  // lower_alu.cpp
  void lower_alu(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_division(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_shift(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_byte_order(const isa::Semantics& sem, const isa::Slot& slot);
  // lower_memory.cpp
  void access(int base, int16_t off, unsigned size, bool write);  // host address in rax
  void lower_load(isa::Op op, const isa::Semantics& sem, const isa::Slot& slot);
  void lower_store(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_atomic(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_lddw(isa::Op op, const isa::Slot& slot);
  void lower_load_packet(const isa::Semantics& sem, const isa::Slot& slot);
  // lower_control.cpp
  void lower_jump(const isa::Semantics& sem, const isa::Slot& slot);
  void lower_may_goto(const isa::Slot& slot);
  void lower_call(const isa::Slot& slot);
  void lower_call_local(const isa::Slot& slot);
  void lower_callx(const isa::Slot& slot);
  void lower_exit();
  void enter_frame(Xbyak::Label& return_to);  // pushes a frame, moves r10; the caller jumps
  Xbyak::Label& target_label(int64_t pc);

  const isa::Program& program_;
  const CompileInputs& inputs_;
  const isa::Dialect& dialect_;
  std::vector<bool> leader_;
  std::vector<Block> blocks_;
  std::vector<Xbyak::Label> entry_;  // block entry by pc (size + 1: the end sentinel)
  std::deque<Xbyak::Label> labels_;
  std::deque<std::function<void()>> cold_;
  Xbyak::Label exit_, done_, return_;
  std::vector<std::pair<size_t, size_t>> hot_range_;  // per pc
  // The instruction being lowered and what its fault stubs add to the meter.
  uint32_t pc_ = 0;
  uint32_t correction_ = 0;
  bool has_callx_ = false;
  bool r10_written_ = false;      // some instruction writes r10: no unchecked stack accesses
  bool unchecked_stack_ = false;  // an access used that
  bool bmi2_ = false;
};

}  // namespace bpfkit::jit
