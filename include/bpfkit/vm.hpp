// Module vm: the memory map a program runs against, the helper registry, and
// the interpreter (the reference semantics for every other engine).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::vm {

// ---- Memory ----------------------------------------------------------------

// A guest address is a region index in bits 63..32 and an offset in bits
// 31..0. Index 0 is never mapped, so a null pointer (and any small integer)
// faults. The fixed indices follow sBPF's layout so that both dialects share
// one scheme.
inline constexpr unsigned kRegionShift = 32;
inline constexpr uint32_t kProgramRegion = 1;  // code: lddw func addresses, callx targets
inline constexpr uint32_t kStackRegion = 2;
inline constexpr uint32_t kHeapRegion = 3;
inline constexpr uint32_t kInputRegion = 4;  // context / packet buffer (r1)
inline constexpr uint32_t kFirstFreeRegion = 5;

constexpr uint64_t region_base(uint32_t index) { return static_cast<uint64_t>(index) << kRegionShift; }

// Bounds of one region as the hot path sees them.
struct RegionBounds {
  uint8_t* host = nullptr;
  uint64_t read_limit = 0;   // bytes readable from the region start
  uint64_t write_limit = 0;  // bytes writable (0 for read-only regions)
};

class MemoryMap {
 public:
  // Maps `bytes` (owned by the caller, at most 4 GiB) at region `index`.
  void map(uint32_t index, std::string name, std::span<uint8_t> bytes, bool writable);
  // Maps at the first free index at or above kFirstFreeRegion; returns its base address.
  uint64_t map_next(std::string name, std::span<uint8_t> bytes, bool writable);
  void unmap(uint32_t index);

  // Host pointer for [addr, addr + size), or nullptr if the access is not allowed.
  uint8_t* translate(uint64_t addr, uint64_t size, bool write) const {
    const uint64_t index = addr >> kRegionShift;
    if (index >= bounds_.size()) return nullptr;
    const RegionBounds& region = bounds_[index];
    const uint64_t offset = addr & 0xffffffffu;
    const uint64_t limit = write ? region.write_limit : region.read_limit;
    if (offset + size > limit) return nullptr;
    return region.host + offset;
  }

  // A sentence for an access that translate() refused.
  std::string describe_fault(uint64_t addr, uint64_t size, bool write) const;

  std::span<const RegionBounds> bounds() const { return bounds_; }
  const std::string& name(uint32_t index) const { return names_.at(index); }

 private:
  std::vector<RegionBounds> bounds_;
  std::vector<std::string> names_;
};

// ---- Helpers ---------------------------------------------------------------

struct HelperCall {
  MemoryMap& memory;
  std::array<uint64_t, 5> args;  // r1..r5
};

using HelperFn = std::function<Expected<uint64_t>(HelperCall&)>;

struct Helper {
  std::string name;
  HelperFn fn;
};

// Helpers by their Linux id, filled by the embedder.
class HelperRegistry {
 public:
  void add(uint32_t id, std::string name, HelperFn fn);
  const Helper* find(uint32_t id) const;

  // bpf_ktime_get_ns (5), bpf_get_prandom_u32 (7), bpf_get_smp_processor_id (8).
  static HelperRegistry linux_defaults();

 private:
  std::unordered_map<uint32_t, Helper> helpers_;
};

// ---- Running ---------------------------------------------------------------

// Large enough for every benchmark program, small enough that a runaway loop
// stops within seconds.
inline constexpr uint64_t kDefaultBudget = uint64_t{1} << 32;

// Everything a run touches besides the program: memory regions (the stack is
// mapped here), helpers, and the instruction budget.
class Environment {
 public:
  explicit Environment(const isa::Dialect& dialect = isa::kLinuxV4);
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  MemoryMap& memory() { return memory_; }
  const MemoryMap& memory() const { return memory_; }
  HelperRegistry& helpers() { return helpers_; }
  const HelperRegistry& helpers() const { return helpers_; }
  const isa::Dialect& dialect() const { return dialect_; }

  // Maps the context / packet buffer and returns its guest address (for r1).
  uint64_t map_input(std::span<uint8_t> bytes, bool writable = true);
  uint64_t input_size() const { return input_size_; }

  // Address one past the top of the entry frame (r10 at entry).
  uint64_t stack_top() const { return region_base(kStackRegion) + stack_.size(); }

  uint64_t budget = kDefaultBudget;

 private:
  const isa::Dialect& dialect_;
  MemoryMap memory_;
  HelperRegistry helpers_;
  std::vector<uint8_t> stack_;
  uint64_t input_size_ = 0;
};

struct Result {
  uint64_t r0 = 0;
  uint64_t instructions = 0;  // executed, lddw counts once
  std::array<uint64_t, isa::kRegisterCount> registers{};
};

// A program decoded once into the interpreter's internal form, ready to run
// any number of times.
class Interpreter {
 public:
  static Expected<Interpreter> create(const isa::Program& program);

  // Runs with r1..r5 = args. Faults come back as an Error that names the pc.
  Expected<Result> run(Environment& env, std::array<uint64_t, 5> args = {}) const;

  struct Cell;  // one internal instruction; defined in interpreter.cpp

 private:
  explicit Interpreter(std::shared_ptr<const std::vector<Cell>> cells) : cells_(std::move(cells)) {}
  std::shared_ptr<const std::vector<Cell>> cells_;
};

}  // namespace bpfkit::vm
