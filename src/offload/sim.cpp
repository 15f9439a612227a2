// A simulated device with netdevsim's behaviour (drivers/net/netdevsim/bpf.c):
// prepare creates the program in state "verify" unless bind_accept is off;
// the hook sleeps verifier_delay ms at instruction 0 and, at the last
// instruction, says hello in the verifier log and refuses when
// verifier_accept is off; translate moves the program to "xlated"; only an
// "xlated" program may be loaded onto the device.
#include <algorithm>
#include <chrono>
#include <thread>

#include "bpfkit/offload.hpp"

namespace bpfkit::offload {
namespace {

constexpr uint32_t kMaxMapEntries = 2;  // NSIM_BPF_MAX_KEYS

}  // namespace

SimDevice::Bound* SimDevice::find(uint32_t id) {
  auto it = std::find_if(programs_.begin(), programs_.end(), [id](const Bound& bound) { return bound.id == id; });
  return it == programs_.end() ? nullptr : &*it;
}

const SimDevice::Bound* SimDevice::find(uint32_t id) const { return const_cast<SimDevice*>(this)->find(id); }

// bpf_map_offload_map_alloc and nsim_bpf_map_alloc.
Status SimDevice::map_alloc(const isa::MapSpec& map) {
  const auto type = static_cast<isa::MapType>(map.type);
  if (type != isa::MapType::Array && type != isa::MapType::Hash)
    return refuse(Errno::Einval, "the device holds array and hash maps, not " + isa::describe_map_type(map.type));
  if (map.max_entries > kMaxMapEntries)
    return refuse(Errno::Enomem, "the device holds at most 2 entries per map, not " + std::to_string(map.max_entries));
  if (map.flags != 0) return refuse(Errno::Einval, "the device takes no map flags");
  return std::nullopt;
}

Status SimDevice::prepare(DeviceProgram& program) {
  if (!switches_.bind_accept) return refuse(Errno::Eopnotsupp, "bind_accept is off");
  programs_.push_back(Bound{program.id, "verify"});
  return std::nullopt;
}

Status SimDevice::insn_hook(VerifierEnv& env, uint32_t insn_idx, int64_t) {
  if (switches_.verifier_delay_ms != 0 && insn_idx == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(switches_.verifier_delay_ms));
  if (insn_idx + 1 == env.program.code.size()) {
    env.log += "Hello from sim!\n";
    if (!switches_.verifier_accept) return refuse(Errno::Eopnotsupp, "verifier_accept is off");
  }
  return std::nullopt;
}

Status SimDevice::translate(DeviceProgram& program) {
  if (Bound* bound = find(program.id)) bound->state = "xlated";
  return std::nullopt;
}

void SimDevice::destroy(DeviceProgram& program) {
  std::erase_if(programs_, [&](const Bound& bound) { return bound.id == program.id; });
}

std::string SimDevice::program_state(const DeviceProgram& program) const {
  const Bound* bound = find(program.id);
  return bound ? bound->state : std::string();
}

// nsim_bpf_offload: the device runs only what it translated.
Status SimDevice::attach(const DeviceProgram& program) const {
  const Bound* bound = find(program.id);
  if (!bound) return refuse(Errno::Einval, "program " + std::to_string(program.id) + " is not bound to the device");
  if (bound->state != "xlated")
    return refuse(Errno::Einval,
                  "program " + std::to_string(program.id) + " is in state '" + bound->state + "', not 'xlated'");
  return std::nullopt;
}

}  // namespace bpfkit::offload
