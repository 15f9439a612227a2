// Reading a refusal: which class of error the verifier's message names,
// which IR instruction its pc was lifted from, and the fix that answers it
// (a repair pass of module ir with its parameters). What the verifier knew
// about the registers at the pointer add (their types, the map, the fixed
// offset) comes from verifying once more with a hook that keeps the state
// at that instruction: the verifier's own view, not a guess from the code.
#include <limits>

#include "bpfkit/ir.hpp"
#include "bpfkit/repair.hpp"

namespace bpfkit::repair {

namespace {

using ir::Inst;
using ir::Opcode;
using ir::Value;

constexpr size_t kMaxAccesses = 256;  // uses followed from one pointer add

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// The message classes (the kernel's wording; src/verify/memory.cpp and
// interpret.cpp give the same).
bool is_null_error(std::string_view message) {
  return has(message, "_or_null") && (has(message, "invalid mem access") || has(message, "pointer arithmetic on"));
}
bool is_bound_error(std::string_view message) {
  for (std::string_view pointer : {"map_value", "mem"})
    if (has(message, "math between " + std::string(pointer) + " pointer and register with unbounded min value") ||
        has(message, "makes " + std::string(pointer) + " pointer be out of bounds"))
      return true;
  return has(message, "unbounded memory access") || has(message, "min value is negative") ||
         has(message, "invalid access to map value,") || has(message, "invalid access to memory,");
}

// Pointers to an object of a size the verifier knows, which bound-index
// keeps the accesses inside: map values, and the raw type's buffer.
bool is_sized_pointer(std::string_view type) { return type == "map_value" || type == "mem"; }

Inst* inst_at(ir::Module& module, uint32_t pc, bool (*wanted)(const Inst&)) {
  for (const auto& fn : module.functions())
    for (ir::Block* block : fn->blocks())
      for (Inst& inst : *block)
        if (inst.origin() == pc && wanted(inst)) return &inst;
  return nullptr;
}

bool is_access(const Inst& inst) {
  return inst.op() == Opcode::LoadRaw || inst.op() == Opcode::StoreRaw || inst.op() == Opcode::Atomic;
}
bool is_pointer_add(const Inst& inst) { return inst.op() == Opcode::Add && inst.width() == 64; }

std::optional<int64_t> constant_of(const Value* value) {
  if (!value->is_const()) return std::nullopt;
  const auto* constant = static_cast<const ir::Const*>(value);
  if (constant->const_kind() != ir::ConstKind::Int) return std::nullopt;
  return static_cast<int64_t>(constant->bits());
}

// `value` = `next` + a constant, through a 64-bit add or sub of a constant
// or a copy: the constant, and `next` set.
std::optional<int64_t> constant_step(const Value* value, const Value*& next) {
  if (value->kind() != ir::ValueKind::Inst) return std::nullopt;
  const auto* inst = static_cast<const Inst*>(value);
  if (inst->op() == Opcode::Assign) {
    next = inst->operand(0);
    return 0;
  }
  if ((inst->op() != Opcode::Add && inst->op() != Opcode::Sub) || inst->width() != 64) return std::nullopt;
  if (auto c = constant_of(inst->operand(1))) {
    next = inst->operand(0);
    return inst->op() == Opcode::Add ? *c : -*c;
  }
  if (auto c = constant_of(inst->operand(0)); c && inst->op() == Opcode::Add) {
    next = inst->operand(1);
    return *c;
  }
  return std::nullopt;
}

// ---- NullCheck ------------------------------------------------------------------

// The call whose result the refused register holds (through constant
// offsets and copies), or null.
const Inst* source_call(const Value* value) {
  for (int depth = 0; depth < 64; ++depth) {
    if (value->kind() != ir::ValueKind::Inst) return nullptr;
    const auto* inst = static_cast<const Inst*>(value);
    if (inst->op() == Opcode::Call) return inst->attrs().call == ir::CallKind::Helper ? inst : nullptr;
    const Value* next = nullptr;
    if (!constant_step(value, next)) return nullptr;
    value = next;
  }
  return nullptr;
}

std::variant<Fix, Unrepairable> null_check(ir::Module& module, uint32_t error_pc, const Options& options) {
  // Both messages name the pointer the instruction reads first: the
  // address of an access, the dst of pointer arithmetic (operand 0).
  const Inst* refused =
      inst_at(module, error_pc, [](const Inst& inst) { return is_access(inst) || inst.op() == Opcode::Add; });
  if (!refused) return Unrepairable{"no memory access or pointer add was lifted from insn " + std::to_string(error_pc)};
  const Inst* call = source_call(refused->operand(0));
  if (!call)
    return Unrepairable{"the pointer at insn " + std::to_string(error_pc) +
                        " does not come straight from a helper call (through a phi, the stack or a register "
                        "the repair does not follow)"};
  Fix fix;
  fix.kind = FixKind::NullCheck;
  fix.error_pc = error_pc;
  fix.pc = call->origin();
  fix.pass = "null-check(pc=" + std::to_string(fix.pc) + ",bail=" + std::to_string(options.bail) + ")";
  return fix;
}

// ---- BoundIndex -----------------------------------------------------------------

// The registers as the verifier saw them before one instruction, on the
// last path that reached it (the refused path: verification stops there).
class StateAt final : public verify::Hooks {
 public:
  explicit StateAt(uint32_t pc) : pc_(pc) {}
  std::optional<verify::Refusal> insn_hook(const verify::StateView& view, uint32_t pc, int64_t) override {
    if (pc != pc_ || view.speculative()) return std::nullopt;
    regs_.clear();
    for (int r = 0; r < isa::kRegisterCount; ++r) regs_.push_back(view.reg(r));
    return std::nullopt;
  }
  const std::vector<verify::RegisterState>& regs() const { return regs_; }

 private:
  uint32_t pc_;
  std::vector<verify::RegisterState> regs_;
};

// The add that put a variable offset into the refused access's address:
// the address through constant offsets and copies, up to an add of two
// values that are not constants.
Inst* variable_add(Inst* access) {
  const Value* value = access->operand(0);
  for (int depth = 0; depth < 64; ++depth) {
    if (value->kind() != ir::ValueKind::Inst) return nullptr;
    auto* inst = const_cast<Inst*>(static_cast<const Inst*>(value));
    const Value* next = nullptr;
    if (constant_step(value, next)) {
      value = next;
      continue;
    }
    return is_pointer_add(*inst) ? inst : nullptr;
  }
  return nullptr;
}

struct Access {
  int64_t offset = 0;  // from the sum, constant
  int64_t size = 0;
};

// Every access through `sum` plus constants: loads, stores and atomics
// whose address it is.
std::vector<Access> accesses_through(const Inst* sum) {
  std::vector<Access> found;
  std::vector<std::pair<const Value*, int64_t>> work{{sum, 0}};
  for (size_t next = 0; next < work.size() && work.size() < kMaxAccesses; ++next) {
    const auto [value, offset] = work[next];
    for (const ir::Use& use : value->uses()) {
      const Inst* user = use.user();
      if (is_access(*user) && use.index() == 0) {
        found.push_back({offset + user->attrs().offset, user->width() / 8});
        continue;
      }
      const Value* source = nullptr;
      if (auto step = constant_step(user, source); step && source == value) work.emplace_back(user, offset + *step);
    }
  }
  return found;
}

struct PointerAdd {
  size_t index_operand = 0;  // the scalar's operand in the IR add
  verify::RegisterState pointer;
};

// Which side of the add at `pc` is the map value pointer, as the verifier
// saw the registers there.
std::variant<PointerAdd, Unrepairable> pointer_side(const isa::Program& program, uint32_t pc, const Options& options) {
  if (pc >= program.size() || program.ops[pc] != isa::Op::add64_reg)
    return Unrepairable{"insn " + std::to_string(pc) + " is not a 64-bit register add"};
  StateAt state(pc);
  verify::Options with_hook = options.verify;
  with_hook.hooks = &state;
  (void)verify::verify(program, with_hook);
  if (state.regs().empty()) return Unrepairable{"the verifier never reached insn " + std::to_string(pc)};
  const isa::Slot& slot = program.slots[pc];
  const verify::RegisterState& dst = state.regs()[slot.dst()];
  const verify::RegisterState& src = state.regs()[slot.src()];
  // The lifter's add takes dst as operand 0 and src as operand 1.
  if (is_sized_pointer(dst.type) && src.type == "scalar") return PointerAdd{1, dst};
  if (is_sized_pointer(src.type) && dst.type == "scalar") return PointerAdd{0, src};
  return Unrepairable{"insn " + std::to_string(pc) + " adds " + std::string(src.type) + " to " + std::string(dst.type) +
                      ", not a scalar to a map value or memory pointer"};
}

// The largest scalar that keeps every access in [0, value_size).
std::variant<int64_t, Unrepairable> largest_index(const isa::Program& program, const PointerAdd& add,
                                                  const std::vector<Access>& accesses) {
  const verify::RegisterState& pointer = add.pointer;
  if (pointer.var_mask != 0) return Unrepairable{"the pointer already has a variable offset (" + pointer.text + ")"};
  if (pointer.type == "map_value" && pointer.map >= program.maps.size())
    return Unrepairable{"the map value pointer names no map of the program"};
  const auto value_size =
      static_cast<int64_t>(pointer.type == "mem" ? pointer.size : program.maps[pointer.map].value_size);
  const int64_t base = pointer.off + static_cast<int64_t>(pointer.var_value);
  int64_t limit = std::numeric_limits<int64_t>::max();
  for (const Access& access : accesses) {
    const int64_t start = base + access.offset;
    if (start < 0 || start + access.size > value_size)
      return Unrepairable{"an access at offset " + std::to_string(start) + " of a " + std::to_string(value_size) +
                          "-byte object is outside it at any index"};
    limit = std::min(limit, value_size - access.size - start);
  }
  return limit;
}

std::variant<Fix, Unrepairable> bound_index(const isa::Program& program, ir::Module& module, uint32_t error_pc,
                                            const Options& options) {
  Inst* refused = inst_at(module, error_pc, [](const Inst& inst) { return is_access(inst) || is_pointer_add(inst); });
  if (!refused) return Unrepairable{"no memory access or pointer add was lifted from insn " + std::to_string(error_pc)};
  Inst* sum = is_access(*refused) ? variable_add(refused) : refused;
  if (!sum)
    return Unrepairable{"the address at insn " + std::to_string(error_pc) +
                        " is not a map value or memory pointer plus a scalar the repair can follow"};
  auto side = pointer_side(program, sum->origin(), options);
  if (auto* why = std::get_if<Unrepairable>(&side)) return *why;
  const PointerAdd& add = std::get<PointerAdd>(side);
  const std::vector<Access> accesses = accesses_through(sum);
  if (accesses.empty())
    return Unrepairable{"no load or store goes through the pointer made at insn " + std::to_string(sum->origin())};
  auto limit = largest_index(program, add, accesses);
  if (auto* why = std::get_if<Unrepairable>(&limit)) return *why;
  Fix fix;
  fix.kind = FixKind::BoundIndex;
  fix.error_pc = error_pc;
  fix.pc = sum->origin();
  fix.limit = std::get<int64_t>(limit);
  fix.pass = "bound-index(pc=" + std::to_string(fix.pc) + ",operand=" + std::to_string(add.index_operand) +
             ",limit=" + std::to_string(fix.limit) + ",bail=" + std::to_string(options.bail) + ")";
  return fix;
}

}  // namespace

std::variant<Fix, Unrepairable> diagnose(const isa::Program& program, const verify::Result& verdict,
                                         const Options& options) {
  if (verdict.accepted) return Unrepairable{"the program is accepted"};
  if (!verdict.error || !verdict.error->location.pc) return Unrepairable{"the refusal names no instruction"};
  const std::string& message = verdict.error->message;
  const bool null = is_null_error(message), bound = !null && is_bound_error(message);
  if (!null && !bound) return Unrepairable{"no repair answers this error"};
  auto module = ir::lift(program);
  if (!module) return Unrepairable{"the IR cannot lift the program: " + module.error().message};
  const uint32_t pc = *verdict.error->location.pc;
  return null ? null_check(**module, pc, options) : bound_index(program, **module, pc, options);
}

}  // namespace bpfkit::repair
