// The public entry: the first pass (cfg.cpp), then the second
// (interpret.cpp); the program types and errno names.
#include <array>

#include "internal.hpp"

namespace bpfkit::verify {
namespace {

// The types the verifier models (isa has more).
bool modelled(ProgramType type) {
  return type == ProgramType::Raw || type == ProgramType::Socket || type == ProgramType::Xdp || type == ProgramType::Tc;
}

void reject(Result& result, const detail::Reject& why) {
  result.accepted = false;
  result.error_number = why.error_number;
  const Errc code = why.error_number == Errno::E2big ? Errc::LimitExceeded : Errc::BadOperand;
  result.error = make_error(code, why.message, at_pc(why.pc));
  if (!result.log.empty() && result.log.back() != '\n') result.log += '\n';
  result.log += why.message + "\n";
}

// The kernel's resolve_pseudo_ldimm64, before the CFG: every map an lddw
// names must exist, reached or not (an index needs an fd_array: our maps).
// A BTF id (src 3) is refused too: the kernel accepts only a ksym's, and
// bpfkit has no kernel or module BTF to find one in (the message is the
// kernel's for an id of vmlinux that is no variable or function).
std::optional<detail::Reject> check_map_references(const isa::Program& program) {
  for (uint32_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const isa::Op op = *program.ops[pc];
    if (op == isa::Op::lddw_btf_id) {
      const auto index = static_cast<uint32_t>(program.slots[pc].imm);
      if (index < program.ksyms.size())
        return detail::Reject{Errno::Einval, pc,
                              "kernel variable '" + program.ksyms[index] +
                                  "' (__ksym) is not supported (bpfkit's verifier has no kernel BTF or symbols)"};
      if (pc + 1 < program.slots.size() && program.slots[pc + 1].imm != 0)
        return detail::Reject{Errno::Einval, pc, "invalid module BTF object FD specified."};
      return detail::Reject{
          Errno::Einval, pc,
          "pseudo btf_id " + std::to_string(program.slots[pc].imm) + " in ldimm64 isn't KIND_VAR or KIND_FUNC"};
    }
    const bool by_index = op == isa::Op::lddw_map_idx || op == isa::Op::lddw_map_idx_value;
    if (!by_index && op != isa::Op::lddw_map_fd && op != isa::Op::lddw_map_value) continue;
    if (by_index && program.maps.empty())
      return detail::Reject{Errno::Eproto, pc, "fd_idx without fd_array is invalid"};
    if (static_cast<uint32_t>(program.slots[pc].imm) >= program.maps.size())
      return detail::Reject{Errno::Ebadf, pc,
                            "fd " + std::to_string(program.slots[pc].imm) + " is not pointing to valid bpf_map"};
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProgramType> program_type_named(std::string_view name) {
  auto type = isa::program_type_named(name);
  return type && modelled(*type) ? type : std::nullopt;
}

std::string_view program_type_name(ProgramType type) { return isa::program_type_info(type).name; }

std::optional<ProgramType> program_type_of_section(std::string_view section) {
  auto type = isa::program_type_of_section(section);
  if (type == ProgramType::TcAction) return ProgramType::Tc;  // the same context and rules
  return type && modelled(*type) ? type : std::nullopt;
}

std::string_view errno_name(Errno value) {
  switch (value) {
    case Errno::None: return "";
    case Errno::Eacces: return "EACCES";
    case Errno::Einval: return "EINVAL";
    case Errno::E2big: return "E2BIG";
    case Errno::Ebadf: return "EBADF";
    case Errno::Enotsupp: return "ENOTSUPP";
    case Errno::Eproto: return "EPROTO";
    case Errno::Eopnotsupp: return "EOPNOTSUPP";
    case Errno::Enomem: return "ENOMEM";
  }
  return "";
}

std::string stats_line(const Result& result, const Options& options) {
  return "processed " + std::to_string(result.processed_insns) + " insns (limit " + std::to_string(options.insn_limit) +
         ") total_states " + std::to_string(result.states) + " peak_states " + std::to_string(result.peak_states);
}

namespace {

// The checks after decoding; `deferred` has, per slot, the reserved-field
// rejection the second pass makes if a path reaches it.
Result verify_decoded(const isa::Program& program, const Options& options, const std::vector<std::string>& deferred) {
  Result result;
  if (program.dialect->family != isa::Family::Linux) {
    result.error_number = Errno::Einval;
    result.error = make_error(Errc::Unsupported,
                              "the verifier checks Linux eBPF programs; this is " + std::string(program.dialect->name));
    return result;
  }
  if (program.size() == 0) {
    reject(result, {Errno::Einval, 0, "empty program"});
    return result;
  }
  if (auto why = detail::check_function_references(program)) {
    reject(result, *why);
    return result;
  }
  if (auto why = detail::check_first_pass_fields(program.slots)) {
    reject(result, *why);
    return result;
  }
  if (auto why = check_map_references(program)) {
    reject(result, *why);
    return result;
  }
  if (options.hooks)
    if (auto refusal = options.hooks->prepare()) {
      reject(result, {refusal->error_number, 0, refusal->message});
      return result;
    }
  detail::Cfg cfg;
  if (auto why = detail::check_cfg(program, cfg)) {
    reject(result, *why);
    return result;
  }
  std::optional<detail::Reject> why;
  detail::interpret(program, options, cfg, deferred, result, why);
  if (!why && options.hooks)
    if (auto refusal = options.hooks->finalize()) why = detail::Reject{refusal->error_number, 0, refusal->message};
  if (!why) {
    auto xlated = detail::rewrite(program, result.reached, options);
    if (xlated) {
      result.xlated = xlated->slots;
      result.rewritten = std::move(*xlated);
    } else
      why = detail::Reject{Errno::Einval, 0, "rewriting the dead code failed: " + xlated.error().message};
  }
  if (why) {
    reject(result, *why);
    result.proven.clear();  // a rejected program proved nothing
  } else {
    result.accepted = true;
  }
  if (options.log_level > 0) result.log += stats_line(result, options) + "\n";
  return result;
}

}  // namespace

Result verify(const isa::Program& program, const Options& options) {
  std::vector<std::string> deferred(program.size());
  for (size_t pc = 0; pc < program.size(); ++pc)
    if (program.ops[pc])
      if (auto why = detail::reserved_fields(program.slots[pc])) deferred[pc] = *why;
  return verify_decoded(program, options, deferred);
}

Result verify_slots(std::span<const isa::Slot> slots, const Options& options) {
  Result result;
  if (auto why = detail::check_first_pass_fields(slots)) {
    reject(result, *why);
    return result;
  }
  if (auto why = detail::check_raw_slots(slots)) {
    reject(result, *why);
    return result;
  }
  std::vector<std::string> deferred;
  const std::vector<isa::Slot> cleaned = detail::clean_reserved_fields(slots, deferred);
  auto program = isa::decode(cleaned);
  if (!program) {
    result.error_number = Errno::Einval;
    result.error = program.error();
    result.log = program.error().message + "\n";
    return result;
  }
  return verify_decoded(*program, options, deferred);
}

}  // namespace bpfkit::verify
