// Module offload: backends that take part in verification and translation
// through the Linux kernel's bpf_prog_offload_ops (include/linux/bpf.h),
// called with the kernel's protocol (kernel/bpf/offload.c and
// kernel/bpf/verifier.c):
//
//   map_alloc        each map the program uses, before anything else
//   prepare          once the instructions and maps are checked, before the
//                    CFG check; a refusal ends loading and destroy is never called
//   insn_hook        before every processed instruction on every explored
//                    path, after the pruning check
//   finalize         once, after successful verification, before any rewrite
//   replace_insn     each dead branch hard-wired (optional hook)
//   remove_insns     each run of dead code and each `ja 0` removed (optional)
//   translate        the rewritten program, to make it runnable on the device
//   destroy          when the program is unloaded, if prepare succeeded
//
// A missing or refusing optimisation hook sets opt_failed: no further
// optimisation hook is called, verification still succeeds, and the backend
// decides in translate. The verifier makes its rewrites whatever the device
// answers; the result's xlated program is the kernel's.
//
// Backends shipped: SimDevice (netdevsim), StrictDevice (an nfp-like device
// that reads the verifier state to refuse what it cannot run), HostBackend
// (the interpreter: the program made runnable here), Recorder (a test
// double). A program's lifetime on a device is a BoundProgram: load()
// binds it, unload() (or the destructor) destroys it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/isa.hpp"
#include "bpfkit/verify.hpp"

namespace bpfkit::vm {
class Context;
class Engine;
}  // namespace bpfkit::vm

namespace bpfkit::offload {

using verify::Errno;
using Refusal = verify::Refusal;
using Status = std::optional<Refusal>;  // nullopt: the hook agrees

inline Refusal refuse(Errno error_number, std::string message) { return Refusal{error_number, std::move(message)}; }

// The program on its way to a device: what the kernel's hooks reach through
// env->prog and prog->aux->offload.
struct DeviceProgram {
  uint32_t id = 0;    // unique in the process, as the kernel numbers programs
  isa::Program code;  // as loaded; translate sees the rewritten program
  verify::ProgramType type = verify::ProgramType::Xdp;
  bool opt_failed = false;
};

// The verifier as a verification hook sees it (struct bpf_verifier_env).
struct VerifierEnv {
  const DeviceProgram& program;
  const verify::StateView* state = nullptr;  // insn_hook: the state before the instruction
  std::string& log;                          // the verifier log (the kernel's pr_vlog)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  // The device's copy of a map the program uses (bpf_map_offload_ops);
  // the default refuses every map.
  virtual Status map_alloc(const isa::MapSpec& map);

  virtual Status prepare(DeviceProgram& program) = 0;
  virtual Status insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t prev_insn_idx) = 0;
  virtual Status finalize(VerifierEnv&) { return std::nullopt; }

  // The optimisation hooks: absent unless has_* says otherwise.
  virtual bool has_replace_insn() const { return false; }
  virtual Status replace_insn(VerifierEnv& env, uint32_t off, const isa::Slot& insn);
  virtual bool has_remove_insns() const { return false; }
  virtual Status remove_insns(VerifierEnv& env, uint32_t off, uint32_t count);

  virtual Status translate(DeviceProgram& program) = 0;
  virtual void destroy(DeviceProgram& program) = 0;

  // The device's name for where the program stands ("verify", "xlated"),
  // empty when the device keeps no such state or holds no such program.
  virtual std::string program_state(const DeviceProgram&) const { return {}; }
};

// ---- What happened, call by call ----

enum class Op : uint8_t { MapAlloc, Prepare, InsnHook, Finalize, ReplaceInsn, RemoveInsns, Translate, Destroy };
std::string_view op_name(Op op);  // "map_alloc", "prepare", "insn_hook", ...

struct HookCall {
  explicit HookCall(Op called = Op::Prepare) : op(called) {}
  Op op;
  uint32_t insn = 0;        // insn_hook: insn_idx; replace_insn, remove_insns: off
  int64_t prev = -1;        // insn_hook: prev_insn_idx
  uint32_t count = 0;       // remove_insns
  isa::Slot replacement{};  // replace_insn: the new instruction
  std::string map;          // map_alloc: the map's name
  // False when the call never reached the backend: an optimisation hook it
  // lacks, or one after opt_failed was set.
  bool delivered = true;
  Status refusal;  // what the backend answered
};

// The program after the recorded replace_insn and remove_insns calls, each
// made as the kernel makes it (bpf_remove_insns moves the branches over a
// hole): replaying a load's calls on the original gives its xlated program.
std::vector<isa::Slot> replay(std::span<const isa::Slot> original, std::span<const HookCall> calls);

enum class Stage : uint8_t { None, MapAlloc, Prepare, Verify, Translate };
std::string_view stage_name(Stage stage);  // "", "map_alloc", "prepare", "verify", "translate"

struct Result {
  bool accepted = false;  // prepared, verified and translated
  Stage failed_at = Stage::None;
  Errno error_number = Errno::None;
  std::optional<Error> error;
  verify::Result verification;  // statistics, and the xlated program when verified
  bool opt_failed = false;
  std::vector<HookCall> hooks;
  std::string log;           // what the backend wrote to the verifier log, then the verifier's own
  std::string device_state;  // after translation (Backend::program_state)
};

// A program bound to a device, from load to unload (the kernel's
// bpf_prog_offload): movable, not copyable; destroy runs once, from
// unload() or the destructor, only if prepare succeeded.
class BoundProgram {
 public:
  // Binds `program` to `backend` and runs the whole protocol. `options`
  // are the verifier's (type, profile, log level); its hooks are replaced.
  static BoundProgram load(Backend& backend, const isa::Program& program, verify::Options options);
  // The same for raw slots, with the kernel's checks of encodings that
  // isa::decode refuses (verify::verify_slots).
  static BoundProgram load_slots(Backend& backend, std::span<const isa::Slot> slots, verify::Options options);

  BoundProgram(BoundProgram&&) noexcept;
  BoundProgram& operator=(BoundProgram&&) noexcept;
  BoundProgram(const BoundProgram&) = delete;
  BoundProgram& operator=(const BoundProgram&) = delete;
  ~BoundProgram();

  void unload();  // destroy (once); the call is added to result().hooks
  const Result& result() const { return *result_; }
  const DeviceProgram& program() const { return *program_; }

 private:
  BoundProgram() = default;
  static BoundProgram bind(Backend& backend, DeviceProgram program, verify::Options options,
                           const std::function<verify::Result(const verify::Options&)>& verify_program);
  Backend* backend_ = nullptr;
  std::unique_ptr<DeviceProgram> program_;  // stable: backends may key on its address
  std::unique_ptr<Result> result_;
  bool prepared_ = false;
};

// ---- Backends ----

// netdevsim's switches (its debugfs files bpf_bind_accept,
// bpf_bind_verifier_accept, bpf_bind_verifier_delay).
struct SimSwitches {
  bool bind_accept = true;         // off: prepare refuses with EOPNOTSUPP
  bool verifier_accept = true;     // off: the hook at the last instruction refuses with EOPNOTSUPP
  uint32_t verifier_delay_ms = 0;  // slept in the hook at instruction 0
};

// A simulated device modelled on netdevsim (drivers/net/netdevsim/bpf.c):
// programs in state "verify" after prepare, "xlated" after translate; maps
// of type array or hash with at most 2 entries and no flags; no
// optimisation hooks (so any rewrite sets opt_failed, which it ignores).
class SimDevice final : public Backend {
 public:
  explicit SimDevice(SimSwitches switches = {}) : switches_(switches) {}
  SimSwitches& switches() { return switches_; }

  std::string_view name() const override { return "sim"; }
  Status map_alloc(const isa::MapSpec& map) override;
  Status prepare(DeviceProgram& program) override;
  Status insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t prev_insn_idx) override;
  Status translate(DeviceProgram& program) override;
  void destroy(DeviceProgram& program) override;
  std::string program_state(const DeviceProgram& program) const override;

  // Loading onto the device (XDP offload attach): only a translated program.
  Status attach(const DeviceProgram& program) const;
  size_t bound_programs() const { return programs_.size(); }

 private:
  struct Bound {
    uint32_t id = 0;
    std::string state;
  };
  Bound* find(uint32_t id);
  const Bound* find(uint32_t id) const;
  SimSwitches switches_;
  std::vector<Bound> programs_;
};

// An nfp-like device: it runs what it has a record for, and refuses in
// insn_hook what it cannot run (helpers outside a small set, kfuncs, a
// memory access whose pointer type differs between paths, a stack access
// at a variable offset, 64-bit division or modulo). It keeps one record
// per original instruction, accepts replace_insn only for a conditional
// jump hard-wired into `ja`, marks removed instructions skipped, refuses to
// translate when opt_failed is set, and translates into its own program
// (the records not skipped), which is the kernel's xlated program.
class StrictDevice final : public Backend {
 public:
  StrictDevice();
  ~StrictDevice() override;
  std::string_view name() const override { return "strict"; }
  Status map_alloc(const isa::MapSpec& map) override;
  Status prepare(DeviceProgram& program) override;
  Status insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t prev_insn_idx) override;
  bool has_replace_insn() const override { return true; }
  Status replace_insn(VerifierEnv& env, uint32_t off, const isa::Slot& insn) override;
  bool has_remove_insns() const override { return true; }
  Status remove_insns(VerifierEnv& env, uint32_t off, uint32_t count) override;
  Status translate(DeviceProgram& program) override;
  void destroy(DeviceProgram& program) override;
  std::string program_state(const DeviceProgram& program) const override;

  // The device's program after translate (empty before).
  std::vector<isa::Slot> translated(const DeviceProgram& program) const;

  // The helpers the device runs (nfp's set).
  static bool supports_helper(int32_t id);

 private:
  struct Record;
  struct Bound;
  Bound* find(uint32_t id);
  const Bound* find(uint32_t id) const;
  std::vector<std::unique_ptr<Bound>> programs_;
};

// The host as a backend: translate is where the program becomes runnable
// here, by the interpreter (later the JIT), in the given Context (its maps
// are created there then). Every hook agrees; the engine lives until
// destroy. The Context must outlive the backend's programs.
class HostBackend final : public Backend {
 public:
  explicit HostBackend(vm::Context& context);
  ~HostBackend() override;

  std::string_view name() const override { return "host"; }
  Status map_alloc(const isa::MapSpec&) override { return std::nullopt; }
  Status prepare(DeviceProgram&) override { return std::nullopt; }
  Status insn_hook(VerifierEnv&, uint32_t, int64_t) override { return std::nullopt; }
  bool has_replace_insn() const override { return true; }
  Status replace_insn(VerifierEnv&, uint32_t, const isa::Slot&) override { return std::nullopt; }
  bool has_remove_insns() const override { return true; }
  Status remove_insns(VerifierEnv&, uint32_t, uint32_t) override { return std::nullopt; }
  Status translate(DeviceProgram& program) override;
  void destroy(DeviceProgram& program) override;
  std::string program_state(const DeviceProgram& program) const override;

  // The translated program, ready to run in the Context; null before
  // translate or after destroy.
  const vm::Engine* engine(const DeviceProgram& program) const;

 private:
  vm::Context& context_;
  std::vector<std::pair<uint32_t, std::unique_ptr<vm::Engine>>> engines_;
};

// A test double: records every call with its arguments, and refuses the
// calls it is told to refuse.
class Recorder final : public Backend {
 public:
  struct Config {
    bool replace_insn = true;  // whether the optimisation hooks exist
    bool remove_insns = true;
    bool accept_maps = true;
  };
  Recorder() = default;
  explicit Recorder(Config config) : config_(config) {}

  // Refuses the n-th call (0-based) of `op` with `refusal`.
  void refuse_call(Op op, size_t nth, Refusal refusal);
  const std::vector<HookCall>& calls() const { return calls_; }

  std::string_view name() const override { return "recorder"; }
  Status map_alloc(const isa::MapSpec& map) override;
  Status prepare(DeviceProgram& program) override;
  Status insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t prev_insn_idx) override;
  Status finalize(VerifierEnv& env) override;
  bool has_replace_insn() const override { return config_.replace_insn; }
  Status replace_insn(VerifierEnv& env, uint32_t off, const isa::Slot& insn) override;
  bool has_remove_insns() const override { return config_.remove_insns; }
  Status remove_insns(VerifierEnv& env, uint32_t off, uint32_t count) override;
  Status translate(DeviceProgram& program) override;
  void destroy(DeviceProgram& program) override;

 private:
  Status record(HookCall call);
  struct Planned {
    Op op;
    size_t nth;
    Refusal refusal;
  };
  Config config_;
  std::vector<HookCall> calls_;
  std::array<size_t, 8> calls_of_op_{};  // by Op
  std::vector<Planned> refusals_;
};

}  // namespace bpfkit::offload
