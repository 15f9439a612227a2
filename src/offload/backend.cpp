// What every backend shares: the hooks a backend may lack, and the names
// the trace prints.
#include "bpfkit/offload.hpp"

namespace bpfkit::offload {

Status Backend::map_alloc(const isa::MapSpec&) { return refuse(Errno::Einval, std::string(name()) + " holds no maps"); }

// Never called while has_replace_insn() / has_remove_insns() say false.
Status Backend::replace_insn(VerifierEnv&, uint32_t, const isa::Slot&) {
  return refuse(Errno::Eopnotsupp, "no replace_insn hook");
}
Status Backend::remove_insns(VerifierEnv&, uint32_t, uint32_t) {
  return refuse(Errno::Eopnotsupp, "no remove_insns hook");
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::MapAlloc: return "map_alloc";
    case Op::Prepare: return "prepare";
    case Op::InsnHook: return "insn_hook";
    case Op::Finalize: return "finalize";
    case Op::ReplaceInsn: return "replace_insn";
    case Op::RemoveInsns: return "remove_insns";
    case Op::Translate: return "translate";
    case Op::Destroy: return "destroy";
  }
  return "";
}

std::string_view stage_name(Stage stage) {
  switch (stage) {
    case Stage::None: return "";
    case Stage::MapAlloc: return "map_alloc";
    case Stage::Prepare: return "prepare";
    case Stage::Verify: return "verify";
    case Stage::Translate: return "translate";
  }
  return "";
}

}  // namespace bpfkit::offload
