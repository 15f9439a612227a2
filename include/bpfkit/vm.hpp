// Module vm: the memory map a program runs against, the helper registry, and
// the interpreter (the reference semantics for every other engine).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::vm {

// ---- Memory ----------------------------------------------------------------

// The memory layout (region indices and addresses) is isa's: one scheme for
// both dialects, described in bpfkit/isa/semantics.hpp.
using isa::kFirstFreeRegion;
using isa::kHeapRegion;
using isa::kInputRegion;
using isa::kProgramRegion;
using isa::kRegionShift;
using isa::kStackRegion;
using isa::region_base;

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

  // Host pointer for [addr, addr + size), or nullptr if the access is not
  // allowed. Any size is safe: helpers and syscalls pass the program's own
  // lengths, so offset + size is never formed (it could wrap).
  uint8_t* translate(uint64_t addr, uint64_t size, bool write) const {
    const uint64_t index = addr >> kRegionShift;
    if (index >= bounds_.size()) return nullptr;
    const RegionBounds& region = bounds_[index];
    const uint64_t offset = addr & 0xffffffffu;
    const uint64_t limit = write ? region.write_limit : region.read_limit;
    if (size > limit || offset > limit - size) return nullptr;
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

// ---- Maps ------------------------------------------------------------------

// Update flags and the errno values the map operations return (negated), as
// the kernel's helpers hand them to programs in r0.
inline constexpr uint64_t kBpfAny = 0, kBpfNoExist = 1, kBpfExist = 2;
inline constexpr int kEPERM = 1, kENOENT = 2, kEAGAIN = 11, kEFAULT = 14, kEEXIST = 17, kEINVAL = 22, kE2BIG = 7,
                     kENOTSUPP = 524;

class RingBuf;

// One map. Its value storage is one host buffer that the Environment maps as
// one region, so a value pointer handed to a program is a guest address; the
// region's base address is the map's handle.
class Map {
 public:
  struct Entry {
    std::vector<uint8_t> key;
    std::span<uint8_t> value;
  };

  // Checks the spec as the kernel's map_alloc_check would, and its size
  // before allocating anything.
  static Expected<std::unique_ptr<Map>> create(const isa::MapSpec& spec);
  // The most host memory a map of this spec can take once full (values,
  // keys, bookkeeping): what Environment::add_map counts against its limit.
  static uint64_t footprint(const isa::MapSpec& spec);
  virtual ~Map() = default;

  const isa::MapSpec& spec() const { return spec_; }
  isa::MapType type() const { return static_cast<isa::MapType>(spec_.type); }
  uint64_t handle() const { return handle_; }
  // The bytes the Environment maps as this map's region.
  std::span<uint8_t> storage() { return storage_; }

  // The value for key, empty if none. LRU maps count this as a use.
  std::span<uint8_t> lookup(std::span<const uint8_t> key);
  // 0 or a negative errno (-EEXIST, -ENOENT, -E2BIG, -EINVAL, ...).
  int update_errno(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags);
  int erase_errno(std::span<const uint8_t> key);
  // The embedder's forms: the errno becomes an Error that names it.
  Expected<void> update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags = kBpfAny);
  Expected<void> erase(std::span<const uint8_t> key);
  // Every present entry, in storage order (deterministic, for dumping).
  virtual std::vector<Entry> entries() = 0;

  virtual RingBuf* ringbuf() { return nullptr; }

 protected:
  Map(const isa::MapSpec& spec, size_t storage_bytes) : spec_(spec), storage_(storage_bytes) {}
  // Grows the value storage to `bytes`; the map's region follows (guest
  // addresses are offsets, so value pointers stay valid).
  void grow_storage(uint64_t bytes);
  virtual std::span<uint8_t> do_lookup(std::span<const uint8_t> key) = 0;
  virtual int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) = 0;
  virtual int do_erase(std::span<const uint8_t> key) = 0;

  isa::MapSpec spec_;
  std::vector<uint8_t> storage_;

 private:
  friend class Environment;
  uint64_t handle_ = 0;
  MemoryMap* memory_ = nullptr;  // where the region is mapped, once added
  uint32_t region_ = 0;
};

// BPF_MAP_TYPE_RINGBUF: records of an 8-byte header (length, busy and discard
// bits) and data, 8-byte aligned, at producer position mod size. The region
// is twice the ring so that a record that wraps stays contiguous, which the
// kernel gets from mapping the data pages twice.
class RingBuf : public Map {
 public:
  explicit RingBuf(const isa::MapSpec& spec);
  // Guest address of a new record's data, or 0 if the ring is full.
  uint64_t reserve(uint64_t size);
  // Commits or drops the record whose data starts at addr; false if addr is
  // not an outstanding reservation.
  bool finish(uint64_t addr, bool discard);
  // Committed records in order, freeing their space; stops at a busy one.
  std::vector<std::vector<uint8_t>> drain();

  std::vector<Entry> entries() override { return {}; }
  RingBuf* ringbuf() override { return this; }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t>) override { return {}; }
  int do_update(std::span<const uint8_t>, std::span<const uint8_t>, uint64_t) override { return -kENOTSUPP; }
  int do_erase(std::span<const uint8_t>) override { return -kENOTSUPP; }

 private:
  uint64_t mask_;
  uint64_t producer_ = 0, consumer_ = 0;
  std::set<uint64_t> reserved_;  // header offsets of busy records
};

// ---- Helpers ---------------------------------------------------------------

class Environment;

struct HelperCall {
  MemoryMap& memory;
  std::array<uint64_t, 5> args;  // r1..r5
  Environment& env;              // maps, output, random numbers
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

  // Map, memory, output and ring buffer helpers (1-8, 112, 113, 130-133);
  // tail_call (12) is the interpreter's own.
  static HelperRegistry linux_defaults();

 private:
  std::unordered_map<uint32_t, Helper> helpers_;
};

// ---- Running ---------------------------------------------------------------

// Large enough for every benchmark program, small enough that a runaway loop
// stops within seconds.
inline constexpr uint64_t kDefaultBudget = uint64_t{1} << 32;
// What the maps of one Environment may take when full (1 GiB).
inline constexpr uint64_t kDefaultMapMemoryLimit = uint64_t{1} << 30;
// What one Environment keeps of bpf_trace_printk output (1 MiB).
inline constexpr uint64_t kDefaultOutputLimit = uint64_t{1} << 20;

struct Result {
  uint64_t r0 = 0;
  uint64_t instructions = 0;  // executed, lddw counts once
  std::array<uint64_t, isa::kRegisterCount> registers{};
};

// A program decoded once into the interpreter's internal form, ready to run
// any number of times.
class Interpreter {
 public:
  // map_addresses resolves lddw src 5 (map handle) and 6 (handle + offset) by
  // map index; without it such loads are refused.
  static Expected<Interpreter> create(const isa::Program& program, std::span<const uint64_t> map_addresses = {});

  // Runs with r1..r5 = args. Faults come back as an Error that names the pc.
  Expected<Result> run(Environment& env, std::array<uint64_t, 5> args = {}) const;

  struct Cell;  // one internal instruction; defined in interpreter.cpp
  // The cells without the end sentinel (which follows them), for tail calls.
  std::span<const Cell> cells() const;

 private:
  explicit Interpreter(std::shared_ptr<const std::vector<Cell>> cells) : cells_(std::move(cells)) {}
  std::shared_ptr<const std::vector<Cell>> cells_;
};

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
  uint64_t stack_top() const { return region_base(kStackRegion) + isa::frame_model(dialect_).entry_fp; }

  // Creates a map and maps its storage; returns its index (lddw src 5's imm).
  // The maps of one Environment may take at most map_memory_limit bytes
  // (kDefaultMapMemoryLimit) when full (Map::footprint); a declaration past
  // it is an error naming the map.
  Expected<uint32_t> add_map(const isa::MapSpec& spec);
  void set_map_memory_limit(uint64_t bytes) { map_memory_limit_ = bytes; }
  Map& map(uint32_t index) { return *maps_.at(index); }
  uint32_t map_count() const { return static_cast<uint32_t>(maps_.size()); }
  // Handles by map index, for Interpreter::create.
  std::vector<uint64_t> map_addresses() const;
  // The map whose handle is addr, or whose region holds addr; null if none.
  Map* map_by_handle(uint64_t addr);
  Map* map_containing(uint64_t addr);

  // Programs that prog array values name (tail calls).
  uint32_t add_program(const Interpreter& program);
  const Interpreter* program(uint32_t id) const { return id < programs_.size() ? &programs_[id] : nullptr; }

  // bpf_trace_printk output: collected in output() unless a sink is set. At
  // most output_limit bytes (kDefaultOutputLimit) reach either; then one
  // "[output truncated at N bytes]" line, then nothing until clear_output().
  void set_output_sink(std::function<void(std::string_view)> sink) { sink_ = std::move(sink); }
  void set_output_limit(uint64_t bytes) { output_limit_ = bytes; }
  void write_output(std::string_view text);
  const std::string& output() const { return output_; }
  void clear_output() {
    output_.clear();
    output_bytes_ = 0;
  }

  // bpf_get_prandom_u32's generator.
  void set_seed(uint64_t seed) { rng_.seed(static_cast<std::mt19937::result_type>(seed)); }
  uint32_t random() { return static_cast<uint32_t>(rng_()); }

  uint64_t budget = kDefaultBudget;

 private:
  const isa::Dialect& dialect_;
  MemoryMap memory_;
  HelperRegistry helpers_;
  std::vector<uint8_t> stack_;
  uint64_t input_size_ = 0;
  std::vector<std::unique_ptr<Map>> maps_;
  std::unordered_map<uint64_t, uint32_t> map_by_region_;  // region index -> map index
  uint64_t map_memory_ = 0;                               // footprints of the maps added
  uint64_t map_memory_limit_ = kDefaultMapMemoryLimit;
  std::vector<Interpreter> programs_;
  void emit(std::string_view text);

  std::function<void(std::string_view)> sink_;
  std::string output_;
  uint64_t output_bytes_ = 0;
  uint64_t output_limit_ = kDefaultOutputLimit;
  std::mt19937 rng_{0x6270666bu};  // fixed default seed: reproducible runs
};

// ---- sBPF ----------------------------------------------------------------------
//
// Solana sBPF as anza-xyz/sbpf's interpreter and Firedancer's fd_vm run it:
// regions by address bits 63..32 (rodata, stack, heap, input), 4 KiB stack
// frames, call depth 64, compute-unit metering, syscalls by Murmur3-32 key,
// and the per-version instruction semantics of isa::SbpfFeatures.
namespace sbpf {

inline constexpr uint64_t kDefaultComputeBudget = 1'400'000;  // a transaction's maximum
inline constexpr uint64_t kDefaultHeapSize = 32 * 1024;

// The program log as Agave's LogCollector keeps it: messages, one line each,
// until their bytes would reach 10,000; then one "Log truncated" line, and
// nothing more.
class Log {
 public:
  static constexpr uint64_t kLimit = 10'000;  // LOG_MESSAGES_BYTES_LIMIT
  void add(std::string_view message);
  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }

 private:
  std::string text_;
  uint64_t bytes_ = 0;  // of the messages kept (without their newlines)
  bool truncated_ = false;
};

struct SyscallContext {
  MemoryMap& memory;
  std::array<uint64_t, 5> args;  // r1..r5
  uint64_t& compute_left;        // the meter; charge with consume()
  Log& log;                      // sol_log_ and friends add their messages here
  // Takes `units` from the meter; false (meter left at 0) if fewer were left.
  bool consume(uint64_t units);
  const isa::Dialect* dialect = nullptr;  // the interpreter sets it: v0's stack has gaps
  // Host pointer for [addr, addr + size) as the program's own loads and
  // stores see it (stack gaps included); null if the access is refused.
  uint8_t* translate(uint64_t addr, uint64_t size, bool write) const;
};

// The production VM's error for a refused access: StackAccessViolation (v0,
// an address within a frame of the stack) or AccessViolation, naming the
// access type, address, size and region.
Error access_violation(const isa::Dialect& dialect, uint64_t addr, uint64_t size, bool write);

// A syscall returns r0, or an error. Error::name is the production name
// ("ComputationalBudgetExceeded", "Abort", "Panic", ...).
using SyscallFn = std::function<Expected<uint64_t>(SyscallContext&)>;

struct Syscall {
  std::string name;
  SyscallFn fn;
};

// Syscalls by key (murmur3_32 of the name).
class SyscallRegistry {
 public:
  // SymbolHashCollision when another name has the same key.
  Expected<void> add(std::string name, SyscallFn fn);
  const Syscall* find(uint32_t key) const;
  std::vector<std::string> names() const;
  // sol_log_, sol_log_64_, sol_memcpy_, sol_memset_, sol_memcmp_,
  // sol_memmove_, abort, sol_panic_ with Agave's compute costs, and `log`
  // (the fixtures' test syscall), charged as sol_log_ is.
  static SyscallRegistry defaults();
  // defaults() with `log` free of charge, as anza-xyz/sbpf's test harness
  // registers it: the fixtures' compute units are measured with it.
  static SyscallRegistry reference_harness();

 private:
  std::unordered_map<uint32_t, Syscall> by_key_;
};

// A loaded program as the VM needs it. Module elf's sbpf::load() gives every
// part; from() copies them across without vm depending on elf.
struct Executable {
  const isa::Dialect* dialect = &isa::kSbpfV0;
  std::vector<uint8_t> rodata;  // read-only region
  uint64_t rodata_vaddr = 0;    // 1 << 32 (v0..v2) or 0 (v3)
  std::vector<isa::Slot> text;
  uint64_t text_vaddr = 0;  // address of text[0]: callx targets are relative to it
  uint64_t entry_pc = 0;
  std::unordered_map<uint32_t, uint64_t> functions;  // v0..v2: call imm key -> pc

  // From a loader's program with elf::sbpf::Program's field names (a
  // template, so that this header needs nothing from module elf). Pass an
  // rvalue to move the rodata and text instead of copying them.
  template <class Loaded>
  static Executable from(Loaded program) {
    Executable executable;
    executable.dialect = isa::sbpf_dialect(program.info.sbpf_version);
    executable.rodata = std::move(program.rodata);
    executable.rodata_vaddr = program.rodata_vaddr;
    executable.text = std::move(program.text);
    executable.text_vaddr = program.text_vaddr;
    executable.entry_pc = program.entry_pc;
    for (const auto& [key, function] : program.functions) executable.functions[key] = function.pc;
    return executable;
  }
};

struct RunOptions {
  uint64_t compute_budget = kDefaultComputeBudget;  // N allows exactly N instructions
  std::span<uint8_t> input;                         // mapped writable at 4 << 32; r1 points there
  uint64_t heap_size = kDefaultHeapSize;
};

struct RunResult {
  std::optional<Error> error;  // a fault, with its pc and its production name
  uint64_t r0 = 0;
  uint64_t compute_units = 0;  // used, including the faulting instruction and syscall costs
  uint64_t instructions = 0;   // executed (lddw once), including a faulting one
  std::array<uint64_t, isa::kRegisterCount> registers{};
  std::string log;
};

class Interpreter {
 public:
  // Verifies the text as the production verifier does (isa::decode with the
  // executable's dialect) and prepares it to run any number of times.
  static Expected<Interpreter> create(Executable executable, const SyscallRegistry& syscalls);
  RunResult run(const RunOptions& options) const;

  struct State;  // defined in sbpf_interpreter.cpp

 private:
  explicit Interpreter(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace sbpf

}  // namespace bpfkit::vm
