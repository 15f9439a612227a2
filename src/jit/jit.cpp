// Jit::create and Jit::run: the State a run starts from, and the RunResult
// it ends with, counted and worded as the interpreter counts and words it.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>

#include "code.hpp"
#include "state.hpp"

namespace bpfkit::jit {

namespace {

Error stop_error(const State& state, const RunFrame& frame, vm::Context& context) {
  const auto where = at_pc(state.fault_pc);
  switch (state.stop) {
    case Stop::Budget:
      return make_error(Errc::BudgetExceeded,
                        "instruction budget of " + std::to_string(context.budget()) + " exhausted", where);
    case Stop::Access:
      return make_error(Errc::AccessViolation,
                        context.memory().describe_fault(state.fault_addr, state.fault_size, state.fault_write != 0),
                        where);
    case Stop::FellOffEnd: return make_error(Errc::OutOfRange, "execution ran past the last instruction", where);
    case Stop::SecondSlot: return make_error(Errc::OutOfRange, "execution reached the second slot of an lddw", where);
    case Stop::AddrSpaceCast:
      return make_error(Errc::Unsupported, "addr_space_cast needs an arena map (not supported)", where);
    case Stop::Kfunc:
      return make_error(
          Errc::UnknownHelper,
          "kfunc calls are not supported (btf id " + std::to_string(static_cast<int32_t>(state.fault_addr)) + ")",
          where);
    case Stop::CallDepth:
      return make_error(
          Errc::CallDepthExceeded,
          "call depth exceeds " + std::to_string(isa::frame_model(context.dialect()).max_depth) + " frames", where);
    case Stop::DivideByZero:  // sBPF's (sbpf_stop_error)
    case Stop::DivideOverflow:
    case Stop::CallOutsideText:
    case Stop::ReturnPastEnd:
    case Stop::UnknownCall:
    case Stop::Preset:
    case Stop::Done: break;
  }
  return frame.error ? *frame.error : make_error(Errc::Unsupported, "JIT stopped without an error", where);
}

// Zeroes what the generated code copies in; its frames are the code's own
// (in its copy of the State), and clearing their 4 KiB here took longer
// than a short program's run.
void clear_shared(State& state) { std::memset(static_cast<void*>(&state), 0, offsetof(State, frames)); }

// Options::harden_seed, or (0) one from the system's entropy.
uint64_t blinding_seed(uint64_t chosen) {
  if (chosen != 0) return chosen;
  std::random_device device;
  const uint64_t drawn = (uint64_t{device()} << 32) | device();
  return drawn != 0 ? drawn : 1;
}

}  // namespace

Expected<Jit> Jit::create(const isa::Program& program, const vm::Context& context, Options options) {
  CompileInputs inputs;
  inputs.harden = options.harden;
  inputs.harden_seed = options.harden ? blinding_seed(options.harden_seed) : 0;
  if (!options.proven.empty()) {
    // The Linux verifier's proofs say nothing about sBPF's memory (frames
    // that move up, v0's gaps), which no verifier of its checks.
    if (program.dialect->family == isa::Family::Sbpf)
      return make_error(Errc::BadOperand, "the JIT takes a verifier's proofs for Linux programs only, not sBPF");
    if (options.proven.size() != program.size())
      return make_error(Errc::BadOperand, "the verifier's proofs cover " + std::to_string(options.proven.size()) +
                                              " slots, the program has " + std::to_string(program.size()));
    inputs.proven = options.proven;
    inputs.proven_memory_size = options.proven_memory_size;
  }
  if (program.dialect->family == isa::Family::Sbpf) {
    auto prepared = prepare_sbpf(program);
    if (!prepared) return prepared.error();
    inputs.syscalls = &context.helpers();
    auto code = compile(*prepared, inputs);
    if (!code) return code.error();
    return Jit(std::move(*code));
  }
  inputs.map_addresses = context.map_addresses();
  if (const vm::Packet* packet = context.packet()) {
    inputs.has_packet = true;
    inputs.ctx_data = packet->ctx_data;
    inputs.ctx_data_end = packet->ctx_data_end;
    inputs.ctx_data_meta = packet->ctx_data_meta;
  }
  auto code = compile(program, inputs);
  if (!code) return code.error();
  return Jit(std::move(*code));
}

const isa::Dialect& Jit::dialect() const { return *code_->dialect; }

vm::RunResult Jit::run(vm::Context& context, std::array<uint64_t, 5> args) const {
  if (code_->dialect->family == isa::Family::Sbpf) return run_sbpf(context, args);
  RunFrame frame{&context, std::nullopt};
  State state;
  clear_shared(state);
  for (int i = 0; i < 5; ++i) state.regs[i + 1] = args[i];
  state.regs[isa::kFramePointer] = context.stack_top();
  const uint64_t budget = context.budget();
  const uint64_t start = budget == UINT64_MAX ? budget : budget + 1;
  state.left = start;
  refresh_regions(&state, context.memory().bounds());
  // Stack accesses at r10 + a constant are not checked when the code shows
  // they cannot leave the stack: that needs the stack region the Context
  // maps, whole and writable.
  const vm::RegionBounds& stack = state.table[vm::kStackRegion];
  const uint64_t stack_bytes = isa::frame_model(context.dialect()).stack_bytes();
  if (code_->unchecked_stack && (stack.read_limit != stack_bytes || stack.write_limit != stack_bytes)) {
    vm::RunResult refused;
    refused.error = make_error(Errc::Unsupported, "the JIT needs the Context's stack region as mapped");
    return refused;
  }
  const vm::RegionBounds& input = state.table[vm::kInputRegion];
  const uint64_t memory_bytes = code_->proven_memory_size;
  if (memory_bytes != 0 && (input.read_limit < memory_bytes || input.write_limit < memory_bytes ||
                            args[0] != vm::region_base(vm::kInputRegion))) {
    vm::RunResult refused;
    refused.error = make_error(Errc::Unsupported, "the JIT's proofs need r1 = an input region of " +
                                                      std::to_string(memory_bytes) + " writable bytes, as verified");
    return refused;
  }
  state.stack_delta = reinterpret_cast<uint64_t>(stack.host) - vm::region_base(vm::kStackRegion);
  state.may_goto_left = uint64_t{8} << 20;
  state.run = &frame;
  state.caller_copy = &state;
  state.code = code_.get();
  code_->entry(&state);

  vm::RunResult result;
  std::memcpy(result.registers.data(), state.regs, sizeof state.regs);
  result.r0 = state.regs[0];
  if (state.stop == Stop::Done) {
    result.instructions = start - state.left;
  } else {
    result.error = stop_error(state, frame, context);
    // The faulting instruction counts; a budget fault has used the whole budget.
    result.instructions = state.left == 0 ? budget : start - state.left;
  }
  result.compute_units = result.instructions;
  result.output = context.output().take();
  return result;
}

// As the sBPF interpreter runs: rodata mapped, stack and heap cleared, r1
// and r2 from the arguments, the meter at budget + 1 (the budget one below
// the maximum), syscalls' charges counted in compute units only.
vm::RunResult Jit::run_sbpf(vm::Context& context, std::array<uint64_t, 5> args) const {
  const isa::Dialect& dialect = *code_->dialect;
  vm::MemoryMap& memory = context.memory();
  // The map never writes a read-only region, so the const_cast is safe.
  std::span<uint8_t> rodata(const_cast<uint8_t*>(code_->rodata.data()), code_->rodata.size());
  if (isa::rodata_address(dialect) == 0) {
    memory.map(0, "rodata", rodata, false);
    memory.map(vm::kProgramRegion, "bytecode", {}, false);  // not readable
  } else {
    memory.map(vm::kProgramRegion, "program", rodata, false);
  }
  context.clear_stack_and_heap();

  RunFrame frame{&context, std::nullopt};
  State state;
  clear_shared(state);
  state.regs[1] = args[0];
  state.regs[2] = args[1];
  state.regs[isa::kFramePointer] = vm::region_base(vm::kStackRegion) + isa::frame_model(dialect).entry_fp;
  const uint64_t budget = std::min(context.budget(), UINT64_MAX - 1);
  const uint64_t start = budget + 1;
  state.left = start;
  refresh_regions(&state, memory.bounds());
  state.run = &frame;
  state.caller_copy = &state;
  state.code = code_.get();
  code_->entry(&state);

  vm::RunResult result;
  std::memcpy(result.registers.data(), state.regs, sizeof state.regs);
  result.r0 = state.regs[0];
  if (state.stop != Stop::Done) result.error = sbpf_stop_error(state, frame, dialect);
  // A budget fault has used the whole budget (the meter stopped at 0).
  result.compute_units = state.left == 0 ? budget : start - state.left;
  result.instructions = result.compute_units - state.syscall_units;
  result.output = context.output().take();
  return result;
}

std::span<const uint8_t> Jit::code() const { return {code_->generator->getCode(), code_->generator->getSize()}; }
const std::vector<CodeRange>& Jit::ranges() const { return code_->ranges; }
uint64_t Jit::code_address() const { return reinterpret_cast<uint64_t>(code_->generator->getCode()); }

Expected<std::unique_ptr<vm::Engine>> make_jit(const isa::Program& program, const vm::Context& context,
                                               Options options) {
  auto jit = Jit::create(program, context, options);
  if (!jit) return jit.error();
  return std::unique_ptr<vm::Engine>(std::make_unique<Jit>(std::move(*jit)));
}

}  // namespace bpfkit::jit
