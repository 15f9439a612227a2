// The helper registry and the default Linux helpers.
#include <chrono>
#include <random>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm {

void HelperRegistry::add(uint32_t id, std::string name, HelperFn fn) {
  helpers_[id] = Helper{std::move(name), std::move(fn)};
}

const Helper* HelperRegistry::find(uint32_t id) const {
  auto it = helpers_.find(id);
  return it == helpers_.end() ? nullptr : &it->second;
}

HelperRegistry HelperRegistry::linux_defaults() {
  HelperRegistry registry;
  registry.add(5, "bpf_ktime_get_ns", [](HelperCall&) -> Expected<uint64_t> {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  });
  // A fixed seed keeps runs reproducible; the embedder can register its own.
  auto rng = std::make_shared<std::mt19937>(0x6270666bu);
  registry.add(7, "bpf_get_prandom_u32", [rng](HelperCall&) -> Expected<uint64_t> { return (*rng)(); });
  registry.add(8, "bpf_get_smp_processor_id", [](HelperCall&) -> Expected<uint64_t> { return 0; });
  return registry;
}

}  // namespace bpfkit::vm
