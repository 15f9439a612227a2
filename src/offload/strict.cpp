// A device in the spirit of nfp (drivers/net/ethernet/netronome/nfp/bpf/):
// one record per original instruction, built at prepare; insn_hook reads
// the verifier's state to refuse what the device cannot run; the
// optimisation hooks edit the records (nfp_bpf_opt_replace_insn,
// nfp_bpf_opt_remove_insns); translate writes the records not skipped,
// with each branch aimed at the record it targeted.
#include <algorithm>

#include "bpfkit/offload.hpp"

namespace bpfkit::offload {

struct StrictDevice::Record {
  isa::Slot insn{};
  std::optional<isa::Op> op;       // nullopt: the second slot of an lddw
  std::optional<uint32_t> target;  // a branch's or local call's target, as an original index
  std::string_view pointer;        // a memory access: the base pointer's type on the first path
  bool skipped = false;            // removed by the verifier
};

struct StrictDevice::Bound {
  uint32_t id = 0;
  std::string state;
  std::vector<Record> records;
  std::vector<isa::Slot> translated;
};

namespace {

using isa::Operation;

bool is_conditional_jump(isa::Op op) {
  const Operation operation = isa::semantics(op, isa::kLinuxV4).operation;
  return operation == Operation::JumpIf || operation == Operation::MayGoto;
}

bool is_division(isa::Op op) {
  const Operation operation = isa::semantics(op, isa::kLinuxV4).operation;
  return operation == Operation::Div || operation == Operation::SDiv || operation == Operation::Mod ||
         operation == Operation::SMod;
}

// The register a memory access goes through, if the instruction is one.
std::optional<int> base_register(isa::Op op, const isa::Slot& slot) {
  switch (isa::shape_info(op).memory) {
    case isa::MemoryAccess::Load: return slot.src();
    case isa::MemoryAccess::Store:
    case isa::MemoryAccess::Atomic: return slot.dst();
    case isa::MemoryAccess::None:
    case isa::MemoryAccess::Packet: return std::nullopt;
  }
  return std::nullopt;
}

std::string at(uint32_t insn_idx) { return "insn " + std::to_string(insn_idx) + ": "; }

// What the device refuses at one instruction, given the verifier's state.
Status check_runnable(const verify::StateView& state, isa::Op op, const isa::Slot& slot,
                      std::string_view& pointer_seen) {
  const isa::Semantics meaning = isa::semantics(op, isa::kLinuxV4);
  if (meaning.operation == Operation::Call && meaning.call == isa::CallResolution::Helper &&
      !StrictDevice::supports_helper(slot.imm))
    return refuse(Errno::Eopnotsupp, "helper " + isa::describe_helper(static_cast<uint32_t>(slot.imm)) +
                                         " is not supported by the device");
  if (meaning.operation == Operation::CallKfunc || meaning.operation == Operation::Callx)
    return refuse(Errno::Eopnotsupp, "kernel functions and indirect calls are not supported");
  if (meaning.operation == Operation::LoadPseudo && slot.src() == 4)  // BPF_PSEUDO_FUNC: a callback
    return refuse(Errno::Eopnotsupp, "callbacks are not supported");
  if (is_division(op) && isa::is_wide(op))
    return refuse(Errno::Eopnotsupp, "64-bit division and modulo are not supported");
  const auto base = base_register(op, slot);
  if (!base) return std::nullopt;
  const verify::RegisterState reg = state.reg(*base);
  if (pointer_seen.empty()) {
    pointer_seen = reg.type;
  } else if (pointer_seen != reg.type) {
    return refuse(Errno::Einval, "the access goes through " + std::string(pointer_seen) + " on one path and " +
                                     std::string(reg.type) + " on another");
  }
  if (reg.type == "fp" && reg.var_mask != 0) return refuse(Errno::Einval, "stack access at a variable offset");
  return std::nullopt;
}

}  // namespace

StrictDevice::StrictDevice() = default;
StrictDevice::~StrictDevice() = default;

bool StrictDevice::supports_helper(int32_t id) {
  // nfp_bpf_check_helper_call's set.
  static constexpr std::string_view kSupported[] = {
      "bpf_map_lookup_elem",   "bpf_map_update_elem", "bpf_map_delete_elem", "bpf_get_prandom_u32",
      "bpf_perf_event_output", "bpf_xdp_adjust_head", "bpf_xdp_adjust_tail"};
  const std::string_view name = isa::helper_name(static_cast<uint32_t>(id));
  return std::find(std::begin(kSupported), std::end(kSupported), name) != std::end(kSupported) && !name.empty();
}

StrictDevice::Bound* StrictDevice::find(uint32_t id) {
  for (auto& bound : programs_)
    if (bound->id == id) return bound.get();
  return nullptr;
}

const StrictDevice::Bound* StrictDevice::find(uint32_t id) const { return const_cast<StrictDevice*>(this)->find(id); }

Status StrictDevice::map_alloc(const isa::MapSpec& map) {
  const auto type = static_cast<isa::MapType>(map.type);
  if (type != isa::MapType::Array && type != isa::MapType::Hash)
    return refuse(Errno::Einval, "the device holds array and hash maps, not " + isa::describe_map_type(map.type));
  return std::nullopt;
}

Status StrictDevice::prepare(DeviceProgram& program) {
  auto bound = std::make_unique<Bound>();
  bound->id = program.id;
  bound->state = "verify";
  const isa::Program& code = program.code;
  for (size_t pc = 0; pc < code.size(); ++pc) {
    Record record;
    record.insn = code.slots[pc];
    record.op = code.ops[pc];
    if (record.op)
      if (auto target = isa::branch_target(*record.op, record.insn, static_cast<int64_t>(pc)))
        record.target = static_cast<uint32_t>(*target);
    bound->records.push_back(record);
  }
  programs_.push_back(std::move(bound));
  return std::nullopt;
}

Status StrictDevice::insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t) {
  Bound* bound = find(env.program.id);
  if (!bound || insn_idx >= bound->records.size() || !env.state)
    return refuse(Errno::Einval, at(insn_idx) + "the device has no record of it");
  Record& record = bound->records[insn_idx];
  if (!record.op) return refuse(Errno::Einval, at(insn_idx) + "the second slot of an lddw");
  return check_runnable(*env.state, *record.op, record.insn, record.pointer);
}

namespace {

// The record at `off` in the program as already shrunk: records the
// verifier removed do not count (nfp_bpf_goto_meta over skipped metas).
template <typename Records>
auto* record_at(Records& records, uint32_t off) {
  for (auto& record : records) {
    if (record.skipped) continue;
    if (off == 0) return &record;
    --off;
  }
  return static_cast<decltype(&records[0])>(nullptr);
}

}  // namespace

Status StrictDevice::replace_insn(VerifierEnv& env, uint32_t off, const isa::Slot& insn) {
  Bound* bound = find(env.program.id);
  Record* record = bound ? record_at(bound->records, off) : nullptr;
  if (!record) return refuse(Errno::Einval, at(off) + "the device has no record of it");
  const bool becomes_ja = isa::lookup(insn) == isa::Op::ja;
  if (!record->op || !is_conditional_jump(*record->op) || !becomes_ja)
    return refuse(Errno::Einval, at(off) + "only a conditional jump hard-wired into `ja` may be replaced");
  const auto index = static_cast<uint32_t>(record - bound->records.data());
  if (insn.off == 0) {
    record->target = index + 1;  // the fall-through is all that is left
  } else {
    const Record* target = record_at(bound->records, off + 1 + static_cast<uint32_t>(insn.off));
    const auto new_target = target ? static_cast<uint32_t>(target - bound->records.data()) : UINT32_MAX;
    if (new_target != record->target)
      return refuse(Errno::Einval, at(off) + "hard-wiring the branch moves its target from " +
                                       std::to_string(record->target.value_or(0)) + " to " +
                                       std::to_string(new_target));
  }
  record->insn = insn;
  record->op = isa::Op::ja;
  return std::nullopt;
}

Status StrictDevice::remove_insns(VerifierEnv& env, uint32_t off, uint32_t count) {
  Bound* bound = find(env.program.id);
  if (!bound) return refuse(Errno::Einval, "the device has no record of the program");
  for (uint32_t removed = 0; removed < count; ++removed) {
    Record* record = record_at(bound->records, off);
    if (!record) return refuse(Errno::Einval, at(off) + "removal past the end of the program");
    record->skipped = true;
  }
  return std::nullopt;
}

// nfp_bpf_translate: the device depends on the dead code being gone.
// Writes the records not skipped, each branch re-aimed at the first record
// not skipped from its target on (a removed `ja 0` hands its incoming
// branches to the next instruction, as bpf_remove_insns does).
Status StrictDevice::translate(DeviceProgram& program) {
  Bound* bound = find(program.id);
  if (!bound) return refuse(Errno::Einval, "the device has no record of the program");
  if (program.opt_failed)
    return refuse(Errno::Einval, "the device needs the verifier's dead code removal, and an optimisation hook failed");
  const std::vector<Record>& records = bound->records;
  // Each original index's place in the output; a skipped one takes the
  // place of the next record kept.
  std::vector<uint32_t> new_index(records.size() + 1);
  uint32_t kept = 0;
  for (size_t i = 0; i < records.size(); ++i) new_index[i] = records[i].skipped ? UINT32_MAX : kept++;
  new_index[records.size()] = kept;
  for (size_t i = records.size(); i-- > 0;)
    if (new_index[i] == UINT32_MAX) new_index[i] = new_index[i + 1];

  std::vector<isa::Slot> out;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& record = records[i];
    if (record.skipped) continue;
    isa::Slot slot = record.insn;
    if (record.op && record.target) {
      const int64_t relative = static_cast<int64_t>(new_index[*record.target]) - new_index[i] - 1;
      if (isa::target_field(*record.op) == isa::TargetField::Imm)
        slot.imm = static_cast<int32_t>(relative);
      else
        slot.off = static_cast<int16_t>(relative);
    }
    out.push_back(slot);
  }
  bound->translated = std::move(out);
  bound->state = "xlated";
  return std::nullopt;
}

void StrictDevice::destroy(DeviceProgram& program) {
  std::erase_if(programs_, [&](const std::unique_ptr<Bound>& bound) { return bound->id == program.id; });
}

std::string StrictDevice::program_state(const DeviceProgram& program) const {
  const Bound* bound = find(program.id);
  return bound ? bound->state : std::string();
}

std::vector<isa::Slot> StrictDevice::translated(const DeviceProgram& program) const {
  const Bound* bound = find(program.id);
  return bound ? bound->translated : std::vector<isa::Slot>();
}

}  // namespace bpfkit::offload
