// The host as a backend: translate makes the rewritten program runnable by
// the interpreter, in the Context the backend was given.
#include <algorithm>

#include "bpfkit/offload.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::offload {

HostBackend::HostBackend(vm::Context& context) : context_(context) {}
HostBackend::~HostBackend() = default;

Status HostBackend::translate(DeviceProgram& program) {
  if (auto maps = context_.add_maps(program.code); !maps) {
    const Errno error_number = maps.error().code == Errc::LimitExceeded ? Errno::Enomem : Errno::Einval;
    return refuse(error_number, maps.error().message);
  }
  auto engine = vm::make_interpreter(program.code, context_);
  if (!engine) return refuse(Errno::Einval, engine.error().message);
  engines_.emplace_back(program.id, std::move(*engine));
  return std::nullopt;
}

void HostBackend::destroy(DeviceProgram& program) {
  std::erase_if(engines_, [&](const auto& entry) { return entry.first == program.id; });
}

const vm::Engine* HostBackend::engine(const DeviceProgram& program) const {
  for (const auto& [id, engine] : engines_)
    if (id == program.id) return engine.get();
  return nullptr;
}

std::string HostBackend::program_state(const DeviceProgram& program) const {
  return engine(program) ? "translated" : "";
}

}  // namespace bpfkit::offload
