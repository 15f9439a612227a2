// The semantics table: each row's dialect-free meaning (semantics.def), and
// the one place that says how each dialect changes it.
#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

namespace {

constexpr Semantics base_row(Operation operation, int width, Source source, Condition condition, int fetch) {
  Semantics s;
  s.operation = operation;
  s.width = static_cast<uint8_t>(width);
  s.source = source;
  s.condition = condition;
  s.fetch = fetch != 0;
  return s;
}

constexpr std::array<Semantics, kOpCount> kBase = {{
#define SEM(id, operation, width, source, condition, fetch) \
  base_row(Operation::operation, width, Source::source, Condition::condition, fetch),
#include "bpfkit/isa/semantics.def"
#undef SEM
}};

// semantics.def lists the rows in opcodes.def's order.
consteval bool rows_match_the_opcode_table() {
  size_t index = 0;
#define SEM(id, ...) \
  if (Op::id != static_cast<Op>(index++)) return false;
#include "bpfkit/isa/semantics.def"
#undef SEM
  return index == kOpCount;
}
static_assert(rows_match_the_opcode_table(), "semantics.def and opcodes.def list different rows");

bool is_alu(Operation op) { return op >= Operation::Add && op <= Operation::Hor; }
bool divides(Operation op) {
  return op == Operation::Div || op == Operation::SDiv || op == Operation::Mod || op == Operation::SMod;
}
bool is_signed_division(Operation op) { return op == Operation::SDiv || op == Operation::SMod; }

// sBPF v0, v1 and v3 sign-extend the 32-bit results of add, sub and mul
// (the Linux rows; v2's lmul32 is a PQR row); v2 zero-extends them and
// sign-extends mov32 reg instead (explicit_sign_extension).
Extension sbpf_extension(Op op, const Semantics& s, const SbpfFeatures& f) {
  const bool arithmetic =
      s.operation == Operation::Add || s.operation == Operation::Sub || s.operation == Operation::Mul;
  if (arithmetic && is_linux(info(op))) return f.explicit_sign_extension ? Extension::Zero : Extension::Sign;
  if (op == Op::mov32_reg && f.explicit_sign_extension) return Extension::Sign;
  return Extension::Zero;
}

Field callx_field(const Dialect& dialect) {
  if (dialect.family == Family::Linux) return Field::Dst;
  if (dialect.sbpf.callx_uses_src) return Field::Src;
  if (dialect.sbpf.callx_uses_dst) return Field::Dst;
  return Field::Imm;
}

}  // namespace

Semantics base_semantics(Op op) { return kBase[static_cast<size_t>(op)]; }

Semantics semantics(Op op, const Dialect& dialect) {
  if (!has_row(op, dialect)) return {};
  Semantics s = kBase[static_cast<size_t>(op)];
  const bool sbpf = dialect.family == Family::Sbpf;
  if (is_alu(s.operation) && s.width == 32) s.result = sbpf ? sbpf_extension(op, s, dialect.sbpf) : Extension::Zero;
  // The PQR class's unsigned 64-bit forms take imm as an unsigned value.
  s.imm_zero_extended =
      s.source == Source::Imm && s.width == 64 && !is_linux(info(op)) &&
      (s.operation == Operation::UHMul || s.operation == Operation::Div || s.operation == Operation::Mod);
  s.swapped = sbpf && dialect.sbpf.swap_sub_reg_imm && s.operation == Operation::Sub && s.source == Source::Imm;
  if (divides(s.operation)) {
    if (!sbpf)
      s.division = DivisionPolicy::Defined;
    else
      s.division = is_signed_division(s.operation) ? DivisionPolicy::TrapOverflow : DivisionPolicy::Trap;
  }
  switch (s.operation) {
    case Operation::Call:
      if (!sbpf)
        s.call = CallResolution::Helper;
      else
        s.call = dialect.sbpf.static_syscalls ? CallResolution::Syscall : CallResolution::SyscallOrFunction;
      break;
    case Operation::CallLocal: s.call = CallResolution::Local; break;
    case Operation::CallKfunc: s.call = CallResolution::Kfunc; break;
    case Operation::Callx:
      s.call = CallResolution::Indirect;
      s.callx_register = callx_field(dialect);
      break;
    default: break;
  }
  return s;
}

int64_t callx_register(const Slot& slot, const Dialect& dialect) {
  switch (callx_field(dialect)) {
    case Field::Src: return slot.src();
    case Field::Dst: return slot.dst();
    default: return slot.imm;
  }
}

Successors successors(const Program& program, size_t pc) {
  Successors next;
  if (!program.ops[pc]) return next;
  const Op op = *program.ops[pc];
  const Flow flow = shape_info(op).flow;
  const bool falls_through = flow != Flow::Exit && kBase[static_cast<size_t>(op)].operation != Operation::Jump;
  if (falls_through) next.pcs[next.count++] = static_cast<int64_t>(pc) + program.width_at(pc);
  if (auto target = branch_target(op, program.slots[pc], static_cast<int64_t>(pc))) next.pcs[next.count++] = *target;
  return next;
}

}  // namespace bpfkit::isa
