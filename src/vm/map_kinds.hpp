// The map types beyond arrays, hashes and ring buffers (map_kinds.cpp), made
// by Map::create: device and socket slots, queues and stacks, bloom filters,
// longest-prefix-match tries, perf event arrays and stack traces. Internal to
// module vm.
#pragma once

#include <memory>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm::detail {

// devmap, xskmap, cpumap: u32-indexed slots that start empty.
std::unique_ptr<Map> make_slot_map(const isa::MapSpec& spec);
// queue (FIFO) and stack (LIFO).
std::unique_ptr<Map> make_queue_map(const isa::MapSpec& spec);
std::unique_ptr<Map> make_bloom_filter(const isa::MapSpec& spec);
std::unique_ptr<Map> make_lpm_trie(const isa::MapSpec& spec);

}  // namespace bpfkit::vm::detail
