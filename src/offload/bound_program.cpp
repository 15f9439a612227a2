// Loading a program onto a backend with the kernel's protocol: the maps
// (bpf_map_offload_map_alloc), then the verifier with the backend behind
// its hooks (bpf_prog_offload_verifier_prep, _verify_insn, _finalize,
// _replace_insn, _remove_insns), then translate (bpf_prog_offload_compile),
// and destroy when the program goes (bpf_prog_offload_destroy).
#include <atomic>

#include "bpfkit/offload.hpp"

namespace bpfkit::offload {
namespace {

std::atomic<uint32_t> next_program_id{1};

// The verifier's hooks, forwarded to the backend and written to the trace.
class Forwarder final : public verify::Hooks {
 public:
  Forwarder(Backend& backend, DeviceProgram& program, Result& result)
      : backend_(backend), program_(program), result_(result) {}

  bool prepared() const { return prepared_; }
  const Status& prepare_refusal() const { return prepare_refusal_; }

  std::optional<Refusal> prepare() override {
    HookCall call(Op::Prepare);
    call.refusal = backend_.prepare(program_);
    prepared_ = !call.refusal;
    prepare_refusal_ = call.refusal;
    return record(std::move(call));
  }

  std::optional<Refusal> insn_hook(const verify::StateView& state, uint32_t insn_idx, int64_t prev_insn_idx) override {
    VerifierEnv env{program_, &state, result_.log};
    HookCall call(Op::InsnHook);
    call.insn = insn_idx;
    call.prev = prev_insn_idx;
    call.refusal = backend_.insn_hook(env, insn_idx, prev_insn_idx);
    return record(std::move(call));
  }

  std::optional<Refusal> finalize() override {
    VerifierEnv env{program_, nullptr, result_.log};
    HookCall call(Op::Finalize);
    call.refusal = backend_.finalize(env);
    return record(std::move(call));
  }

  void replace_insn(uint32_t off, const isa::Slot& insn) override {
    HookCall call(Op::ReplaceInsn);
    call.insn = off;
    call.replacement = insn;
    optimise(std::move(call), backend_.has_replace_insn(),
             [&](VerifierEnv& env) { return backend_.replace_insn(env, off, insn); });
  }

  void remove_insns(uint32_t off, uint32_t count) override {
    HookCall call(Op::RemoveInsns);
    call.insn = off;
    call.count = count;
    optimise(std::move(call), backend_.has_remove_insns(),
             [&](VerifierEnv& env) { return backend_.remove_insns(env, off, count); });
  }

 private:
  // bpf_prog_offload_replace_insn / _remove_insns: a hook the backend lacks,
  // or any hook once one has failed, counts as a failure (ret = -EOPNOTSUPP).
  template <typename Deliver>
  void optimise(HookCall call, bool backend_has_hook, Deliver deliver) {
    call.delivered = !program_.opt_failed && backend_has_hook;
    if (call.delivered) {
      VerifierEnv env{program_, nullptr, result_.log};
      call.refusal = deliver(env);
    }
    program_.opt_failed = program_.opt_failed || !call.delivered || call.refusal;
    record(std::move(call));
  }

  Status record(HookCall call) {
    Status refusal = call.refusal;
    result_.hooks.push_back(std::move(call));
    return refusal;
  }

  Backend& backend_;
  DeviceProgram& program_;
  Result& result_;
  bool prepared_ = false;
  Status prepare_refusal_;
};

void fail(Result& result, Stage stage, const Refusal& refusal) {
  result.accepted = false;
  result.failed_at = stage;
  result.error_number = refusal.error_number;
  const Errc code = refusal.error_number == Errno::Enomem ? Errc::LimitExceeded : Errc::Unsupported;
  result.error = make_error(code, std::string(stage_name(stage)) + ": " + refusal.message);
}

// Every map the program names must have a copy on the device, or the
// program cannot be bound to it (the kernel creates offloaded maps first,
// and the verifier refuses a program whose maps are on another device).
bool allocate_maps(Backend& backend, const isa::Program& program, Result& result) {
  for (const isa::MapSpec& map : program.maps) {
    HookCall call(Op::MapAlloc);
    call.map = map.name;
    call.refusal = backend.map_alloc(map);
    const Status refusal = call.refusal;
    result.hooks.push_back(std::move(call));
    if (refusal) {
      fail(result, Stage::MapAlloc, refuse(refusal->error_number, "map '" + map.name + "': " + refusal->message));
      return false;
    }
  }
  return true;
}

}  // namespace

BoundProgram::BoundProgram(BoundProgram&&) noexcept = default;
BoundProgram& BoundProgram::operator=(BoundProgram&& other) noexcept {
  if (this != &other) {
    unload();
    backend_ = other.backend_;
    program_ = std::move(other.program_);
    result_ = std::move(other.result_);
    prepared_ = std::exchange(other.prepared_, false);
  }
  return *this;
}
BoundProgram::~BoundProgram() { unload(); }

void BoundProgram::unload() {
  if (!prepared_ || !program_) return;
  prepared_ = false;
  backend_->destroy(*program_);
  result_->hooks.push_back(HookCall(Op::Destroy));
}

BoundProgram BoundProgram::load(Backend& backend, const isa::Program& program, verify::Options options) {
  DeviceProgram device_program;
  device_program.code = program;
  return bind(backend, std::move(device_program), options,
              [&program](const verify::Options& with_hooks) { return verify::verify(program, with_hooks); });
}

BoundProgram BoundProgram::load_slots(Backend& backend, std::span<const isa::Slot> slots, verify::Options options) {
  DeviceProgram device_program;
  // A program that does not decode is refused before any hook sees it.
  if (auto decoded = isa::decode(slots, isa::kLinuxV4)) device_program.code = std::move(*decoded);
  return bind(backend, std::move(device_program), options,
              [slots](const verify::Options& with_hooks) { return verify::verify_slots(slots, with_hooks); });
}

BoundProgram BoundProgram::bind(Backend& backend, DeviceProgram device_program, verify::Options options,
                                const std::function<verify::Result(const verify::Options&)>& verify_program) {
  BoundProgram bound;
  bound.backend_ = &backend;
  bound.program_ = std::make_unique<DeviceProgram>(std::move(device_program));
  bound.result_ = std::make_unique<Result>();
  DeviceProgram& program = *bound.program_;
  Result& result = *bound.result_;
  program.id = next_program_id++;
  program.type = options.type;

  if (!allocate_maps(backend, program.code, result)) return bound;
  Forwarder forwarder(backend, program, result);
  options.hooks = &forwarder;
  result.verification = verify_program(options);
  bound.prepared_ = forwarder.prepared();
  result.log += result.verification.log;
  result.opt_failed = program.opt_failed;
  const verify::Result& verdict = result.verification;

  if (forwarder.prepare_refusal()) {
    fail(result, Stage::Prepare, *forwarder.prepare_refusal());
  } else if (!verdict.accepted) {
    result.failed_at = Stage::Verify;
    result.error_number = verdict.error_number;
    result.error = verdict.error;
  } else {
    program.code = verdict.rewritten;
    HookCall call(Op::Translate);
    call.refusal = backend.translate(program);
    const Status refusal = call.refusal;
    result.hooks.push_back(std::move(call));
    if (refusal)
      fail(result, Stage::Translate, *refusal);
    else
      result.accepted = true;
  }
  result.device_state = backend.program_state(program);
  return bound;
}

}  // namespace bpfkit::offload
