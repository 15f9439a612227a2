// Module vm: what a program runs against (memory regions, maps, helpers and
// syscalls, output: one Context) and what runs it (the Engine interface, and
// the Linux and sBPF interpreters, the reference semantics for every other
// engine).
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
// Linux has no heap: a program-type run's packet lives in its region.
inline constexpr uint32_t kPacketRegion = isa::kHeapRegion;

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
inline constexpr int kEPERM = 1, kENOENT = 2, kEAGAIN = 11, kEFAULT = 14, kEEXIST = 17, kENODEV = 19, kEINVAL = 22,
                     kE2BIG = 7, kENOSPC = 28, kEOPNOTSUPP = 95, kENOTSUPP = 524;

// What libbpf sizes a perf event array of max_entries 0 to: the possible
// CPUs (/sys/devices/system/cpu/possible; the online count where that file
// is missing).
uint32_t possible_cpus();

class RingBuf;
class PerfEventArray;
class StackTraceMap;

// One map. Its value storage is one host buffer that the Context maps as
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
  // keys, bookkeeping): what Context::add_map counts against its limit.
  static uint64_t footprint(const isa::MapSpec& spec);
  virtual ~Map() = default;

  const isa::MapSpec& spec() const { return spec_; }
  isa::MapType type() const { return static_cast<isa::MapType>(spec_.type); }
  uint64_t handle() const { return handle_; }
  // The bytes the Context maps as this map's region.
  std::span<uint8_t> storage() { return storage_; }
  // Whether a program may store into its values (not .rodata, devmap, xskmap).
  bool writable_by_programs() const;

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

  // Queue, stack and bloom filter (bpf_map_push_elem, pop, peek; user
  // space's update with no key pushes): 0 or a negative errno. Other maps
  // answer -EINVAL, as the kernel's default map ops do.
  virtual int push_errno(std::span<const uint8_t> value, uint64_t flags);
  // Copies the next value out (pop also removes it); a bloom filter's peek
  // reads `out` as the value to test instead.
  virtual int pop_errno(std::span<uint8_t> out);
  virtual int peek_errno(std::span<uint8_t> out);

  // Array and hash of maps: each value is the index (in the Context) of an
  // inner map, and a program's lookup gets that map's handle.
  bool holds_maps() const { return type() == isa::MapType::ArrayOfMaps || type() == isa::MapType::HashOfMaps; }

  virtual RingBuf* ringbuf() { return nullptr; }
  virtual PerfEventArray* perf_event_array() { return nullptr; }
  virtual StackTraceMap* stack_trace() { return nullptr; }

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
  friend class Context;
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

// BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 slots (perf event fds, which user space
// sets); bpf_perf_event_output's records are collected per CPU index, in
// order, as a reader of the perf buffers would see them.
class PerfEventArray : public Map {
 public:
  explicit PerfEventArray(const isa::MapSpec& spec);
  void output(uint32_t cpu, std::span<const uint8_t> record);
  // Whether slot `index` holds an event (user space set it, or
  // attach_readers did): bpf_perf_event_output's -ENOENT otherwise.
  bool has_reader(uint32_t index) const { return index < present_.size() && present_[index]; }
  // Fills every slot as libbpf's perf_buffer__new does (one event per CPU;
  // the slot's value is its index here), so every CPU's records are read.
  void attach_readers();
  // The records so far (CPU index, bytes), which are handed over.
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> drain();

  std::vector<Entry> entries() override;
  PerfEventArray* perf_event_array() override { return this; }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t> key) override;
  int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) override;
  int do_erase(std::span<const uint8_t> key) override;

 private:
  std::vector<bool> present_;
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> records_;
};

// BPF_MAP_TYPE_STACK_TRACE: stack ids -> arrays of value_size / 8
// addresses (bpf_get_stackid fills them; user space reads and deletes).
class StackTraceMap : public Map {
 public:
  explicit StackTraceMap(const isa::MapSpec& spec);
  // The id of `ips` (at most value_size / 8 addresses, the rest zero): the
  // id of an equal stack if there is one, else a free id; -EEXIST (unless
  // `reuse`) when its bucket holds another stack, -EFAULT for no addresses.
  int64_t store(std::span<const uint64_t> ips, bool reuse);

  std::vector<Entry> entries() override;
  StackTraceMap* stack_trace() override { return this; }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t> key) override;
  int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) override;
  int do_erase(std::span<const uint8_t> key) override;

 private:
  std::vector<bool> present_;
};

// ---- Helpers and syscalls -------------------------------------------------
//
// A program calls the host by number: Linux helpers by id (bpf_map_lookup_elem
// is 1), sBPF syscalls by the Murmur3-32 key of their name. One table holds
// either kind; a Context holds the table its dialect calls.

class Context;

// One call of a host function, as the function sees it.
struct HelperCall {
  Context& context;              // maps, output, random numbers
  MemoryMap& memory;             // context.memory()
  std::array<uint64_t, 5> args;  // r1..r5
  uint64_t* meter = nullptr;     // sBPF: compute units left; charge with consume()

  // Takes `units` from the meter; false (meter left at 0) if fewer were
  // left. Always true where nothing is metered (Linux).
  bool consume(uint64_t units);
  // Host pointer for [addr, addr + size) as the program's own loads and
  // stores see it (sBPF v0's stack gaps included); null if refused.
  uint8_t* translate(uint64_t addr, uint64_t size, bool write) const;
  // Adds one line to the program log (sBPF's sol_log_ and friends).
  void log(std::string_view message);
};

// A helper returns r0, or an Error that ends the run. For sBPF the error's
// detail is the production name (ComputationalBudgetExceeded, Abort, ...).
using HelperFn = std::function<Expected<uint64_t>(HelperCall&)>;

struct Helper {
  std::string name;
  HelperFn fn;
};

// bpf_tail_call's helper id: the interpreter runs it itself.
inline constexpr uint32_t kTailCallHelper = 12;

class HelperTable {
 public:
  // Linux: registers `fn` under helper id `id`.
  void add(uint32_t id, std::string name, HelperFn fn);
  // Linux: registers `fn` under helper id `id`, named as the kernel names it
  // (isa/helpers.def).
  void add(uint32_t id, HelperFn fn);
  // sBPF: registers `fn` under murmur3_32(name); SymbolHashCollision when
  // another name has the same key.
  Expected<void> add_syscall(std::string name, HelperFn fn);
  const Helper* find(uint32_t key) const;
  std::vector<std::string> names() const;  // sorted
  // Linux: every helper `program` calls (tail_call aside, the interpreter's
  // own) is registered; otherwise UnknownHelper naming all that are not, as
  // a loader reports them before anything runs.
  Expected<void> check_calls(const isa::Program& program) const;

  // Map, memory, output and ring buffer helpers (1-8, 112, 113, 130-133);
  // tail_call (12) is the interpreter's own.
  static HelperTable linux_defaults();
  // sol_log_, sol_log_64_, sol_memcpy_, sol_memset_, sol_memcmp_,
  // sol_memmove_, abort, sol_panic_ with Agave's compute costs, and `log`
  // (the fixtures' test syscall), charged as sol_log_ is.
  static HelperTable sbpf_defaults();
  // sbpf_defaults() with `log` free of charge, as anza-xyz/sbpf's test
  // harness registers it: the fixtures' compute units are measured with it.
  static HelperTable sbpf_reference_harness();
  // The defaults of the dialect's family.
  static HelperTable defaults(const isa::Dialect& dialect);

 private:
  std::unordered_map<uint32_t, Helper> by_key_;
};

// ---- Output -------------------------------------------------------------------

// What a program prints: bpf_trace_printk's text (Linux) or the program log
// (sBPF), collected, or handed to a sink as it comes. Engines take() the
// text at the end of each run (RunResult::output), so limits are per run.
class Output {
 public:
  // Linux: at most `limit` bytes (kDefaultOutputLimit, 1 MiB) of text are
  // kept, then one "[output truncated at N bytes]" line, then nothing until
  // take() or clear().
  void write(std::string_view text);
  // sBPF: one message a line, as Agave's LogCollector keeps them: until
  // their bytes would reach kLogLimit, then one "Log truncated" line.
  void log(std::string_view message);

  void set_sink(std::function<void(std::string_view)> sink) { sink_ = std::move(sink); }
  void set_limit(uint64_t bytes) { limit_ = bytes; }
  const std::string& text() const { return text_; }
  std::string take();  // the text so far; the output starts over
  void clear() { static_cast<void>(take()); }

  static constexpr uint64_t kLogLimit = 10'000;  // LOG_MESSAGES_BYTES_LIMIT

 private:
  void emit(std::string_view text);
  std::function<void(std::string_view)> sink_;
  std::string text_;
  uint64_t bytes_ = 0;  // written (Linux) or logged (sBPF, without newlines)
  uint64_t limit_ = uint64_t{1} << 20;
  bool truncated_ = false;
};

// ---- Context ------------------------------------------------------------------

// Large enough for every benchmark program, small enough that a runaway loop
// stops within seconds.
inline constexpr uint64_t kDefaultBudget = uint64_t{1} << 32;
// What the maps of one Context may take when full (1 GiB).
inline constexpr uint64_t kDefaultMapMemoryLimit = uint64_t{1} << 30;
// What one run keeps of bpf_trace_printk output (1 MiB; Output::set_limit).
inline constexpr uint64_t kDefaultOutputLimit = uint64_t{1} << 20;
// sBPF: a transaction's maximum compute units, and the default heap.
inline constexpr uint64_t kDefaultComputeBudget = 1'400'000;
inline constexpr uint64_t kDefaultHeapSize = 32 * 1024;

class Engine;

// A program-type run's packet (BPF_PROG_TEST_RUN): the buffer mapped at
// kPacketRegion from `region_start` up to `end` (headroom before, tailroom
// after), the context's packet pointers as offsets into the buffer, and
// where the context holds them: a 32-bit load of one of those fields gives
// the full pointer, as the kernel's rewrite of context loads does.
struct Packet {
  std::vector<uint8_t> buffer;
  uint32_t region_start = 0;             // buffer offset of the region's first byte
  uint32_t meta = 0, data = 0, end = 0;  // data_meta, data and data_end
  uint32_t network = 0;                  // skb: the network header (skb_change_tail's shortest length ends there)
  static constexpr uint32_t kNoField = UINT32_MAX;
  uint32_t ctx_data = kNoField, ctx_data_end = kNoField, ctx_data_meta = kNoField;  // context offsets

  // A packet pointer's guest address.
  uint64_t address(uint32_t offset) const { return region_base(kPacketRegion) + (offset - region_start); }
  std::span<uint8_t> bytes(uint32_t from, uint32_t to) { return std::span(buffer).subspan(from, to - from); }
};

// The task the current-task helpers describe (bpf_get_current_pid_tgid,
// _uid_gid, _comm, _task): `bpfkit run --task`. get_current_task returns
// `address`, a kernel-looking pointer with nothing mapped behind it, so
// reading through it (bpf_probe_read_kernel, BPF_CORE_READ) fails with
// -EFAULT and a zeroed destination, as a read of a bad kernel address does.
struct Task {
  uint32_t pid = 1000, tgid = 1000, uid = 1000, gid = 1000;
  std::string comm = "bpfkit";  // at most 15 bytes are seen (TASK_COMM_LEN 16)
  uint64_t address = 0xffff888001000000;
  // The stacks bpf_get_stackid and bpf_get_stack walk, innermost first.
  // Userspace has none of its own: empty (the helpers' -EFAULT, as when
  // the kernel cannot walk a callchain) unless described (run --task
  // kstack=ADDR:ADDR..., ustack=...).
  std::vector<uint64_t> kernel_stack, user_stack;
  // The ids of the cgroups the task is in, with every ancestor: what
  // current_task_under_cgroup and a test run's skb_under_cgroup answer
  // for a cgroup array slot holding that id. 1 is the root, which holds
  // every task; run --task cgroup=ID adds one.
  std::vector<uint64_t> cgroups = {1};
};

// Where bpf_redirect or bpf_redirect_map last sent the packet (the kernel's
// per-CPU bpf_redirect_info, as far as a test run can tell): an ifindex, or
// a map (by Context index) and key. A failed redirect_map lookup clears it.
struct Redirect {
  std::optional<uint32_t> map;  // redirect_map: the map's index in the Context
  uint64_t key = 0;             // redirect_map: the key
  uint32_t ifindex = 0;         // redirect: the device
  uint64_t flags = 0;
};

// What bpf_skb_set_tunnel_key attached to the packet (the skb's tunnel
// metadata), which bpf_skb_get_tunnel_key reads back; a test run's packet
// starts with none.
struct TunnelInfo {
  uint64_t id = 0;                                  // the tunnel id, as the program gave it
  std::array<uint8_t, 16> source{}, destination{};  // network order; IPv4 in the first 4 bytes
  uint8_t tos = 0, ttl = 0;
  uint32_t label = 0;
  bool ipv6 = false;
  uint16_t flags = 0;  // TUNNEL_* bits (TUNNEL_CSUM 0x1, TUNNEL_KEY 0x4, ...)
};

// Everything a run touches besides the program: memory regions (stack, heap,
// input), the helper or syscall table, the meter's budget, maps, the programs
// prog arrays name, output and random numbers. Both interpreters and the JIT
// run against one.
class Context {
 public:
  // Maps the stack the dialect's frame model asks for (and the sBPF heap)
  // and registers the dialect's default helpers or syscalls.
  explicit Context(const isa::Dialect& dialect = isa::kLinuxV4);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context();

  const isa::Dialect& dialect() const { return dialect_; }
  MemoryMap& memory() { return memory_; }
  const MemoryMap& memory() const { return memory_; }
  HelperTable& helpers() { return helpers_; }
  const HelperTable& helpers() const { return helpers_; }

  // The meter: instructions (Linux) or compute units (sBPF) a run may use;
  // a budget of N allows exactly N.
  void set_budget(uint64_t units) { budget_ = units; }
  uint64_t budget() const { return budget_; }

  // Maps the context / packet buffer (Linux) or the serialized input (sBPF)
  // and returns its guest address.
  uint64_t map_input(std::span<uint8_t> bytes, bool writable = true);
  uint64_t input_size() const { return input_size_; }
  void unmap_input();
  // r1..r5 at entry when the caller gives none: r1 = the input; Linux also
  // passes its length in r2.
  std::array<uint64_t, 5> entry_args() const;
  // Linux: a program-type run's packet, mapped at kPacketRegion (set_packet
  // again after changing its offsets: the region follows); null when none.
  void set_packet(Packet packet);
  Packet* packet() { return packet_ ? &*packet_ : nullptr; }
  const Packet* packet() const { return packet_ ? &*packet_ : nullptr; }
  void remap_packet();
  // The full packet pointer a 32-bit load at guest address `addr` gives when
  // addr is one of the context's packet pointer fields.
  bool packet_pointer_at(uint64_t addr, uint64_t& value) const;
  // A program-type run's context (struct __sk_buff, xdp_md, or a tracing
  // program's bytes), owned here and mapped as the input (r1).
  uint64_t map_program_context(std::vector<uint8_t> bytes);
  std::span<uint8_t> program_context() { return program_context_; }
  // sBPF: the heap's size (kDefaultHeapSize); zeroed at each run's start.
  void set_heap_size(uint64_t bytes);
  // Zeroes the stack and the heap (an sBPF run starts with both clean).
  void clear_stack_and_heap();

  // Address one past the top of the entry frame (r10 at entry).
  uint64_t stack_top() const { return region_base(kStackRegion) + isa::frame_model(dialect_).entry_fp; }

  // Creates a map and maps its storage; returns its index (lddw src 5's imm).
  // A perf event array of max_entries 0 gets one slot per possible CPU, as
  // libbpf sizes it.
  // The maps of one Context may take at most map_memory_limit bytes
  // (kDefaultMapMemoryLimit) when full (Map::footprint); a declaration past
  // it is an error naming the map.
  Expected<uint32_t> add_map(const isa::MapSpec& spec);
  // add_map for each of a program's maps, in order, then the pointers its
  // global data holds (Program::data_relocations) written into them.
  Expected<void> add_maps(const isa::Program& program);
  void set_map_memory_limit(uint64_t bytes) { map_memory_limit_ = bytes; }
  // Puts map `inner` in slot `key` of the array or hash of maps `outer`
  // (by Context index), checked against the outer map's inner definition as
  // the kernel's bpf_map_meta_equal checks it.
  Expected<void> set_inner_map(uint32_t outer, uint32_t key, uint32_t inner);
  // The inner map a value of a map of maps names; null if none.
  Map* inner_map(std::span<const uint8_t> value);
  Map& map(uint32_t index) { return *maps_.at(index); }
  uint32_t map_count() const { return static_cast<uint32_t>(maps_.size()); }
  // Handles by map index: what lddw src 5 and 6 resolve to.
  std::vector<uint64_t> map_addresses() const;
  // The map whose handle is addr, or whose region holds addr; null if none.
  Map* map_by_handle(uint64_t addr);
  Map* map_containing(uint64_t addr);

  // Programs that prog array values name (tail calls), by id.
  uint32_t add_program(std::shared_ptr<const isa::Program> program);
  const isa::Program* program(uint32_t id) const;
  // An engine's prepared form of program `id`, made by `prepare` at its first
  // tail call and kept here; null (and `error` set) if preparing failed.
  const Engine* prepared_program(uint32_t id, const void* engine_kind,
                                 const std::function<Expected<std::unique_ptr<Engine>>(const isa::Program&)>& prepare,
                                 Error& error);

  // The program type of the run (set by prepare_test_run; Raw otherwise):
  // helpers that behave per type (bpf_redirect, perf_event_output,
  // fib_lookup) and packet helpers read it.
  void set_program_type(isa::ProgramType type) { program_type_ = type; }
  isa::ProgramType program_type() const { return program_type_; }
  // The fake current task (Task's defaults unless set).
  void set_task(Task task) { task_ = std::move(task); }
  const Task& task() const { return task_; }
  // Redirect and tunnel state of the current run; test_run clears both
  // before each run.
  std::optional<Redirect>& redirect() { return redirect_; }
  std::optional<TunnelInfo>& tunnel() { return tunnel_; }

  Output& output() { return output_; }
  const Output& output() const { return output_; }
  // Linux bpf_trace_printk text; see Output::write.
  void write_output(std::string_view text) { output_.write(text); }

  // bpf_get_prandom_u32's generator.
  void set_seed(uint64_t seed) { rng_.seed(static_cast<std::mt19937::result_type>(seed)); }
  uint32_t random() { return static_cast<uint32_t>(rng_()); }

 private:
  struct ProgramSlot;
  const isa::Dialect& dialect_;
  MemoryMap memory_;
  HelperTable helpers_;
  std::vector<uint8_t> stack_, heap_;
  std::optional<Packet> packet_;
  std::vector<uint8_t> program_context_;
  uint64_t input_size_ = 0;
  bool input_mapped_ = false;
  uint64_t budget_;
  std::vector<std::unique_ptr<Map>> maps_;
  std::unordered_map<uint64_t, uint32_t> map_by_region_;  // region index -> map index
  uint64_t map_memory_ = 0;                               // footprints of the maps added
  uint64_t map_memory_limit_ = kDefaultMapMemoryLimit;
  std::vector<ProgramSlot> programs_;
  isa::ProgramType program_type_ = isa::ProgramType::Raw;
  Task task_;
  std::optional<Redirect> redirect_;
  std::optional<TunnelInfo> tunnel_;
  Output output_;
  std::mt19937 rng_{0x6270666bu};  // fixed default seed: reproducible runs
};

// ---- Engines ------------------------------------------------------------------

// What one run gave, kept on faults too: a fault leaves r0, the counts and
// the registers as they were at the faulting instruction.
struct RunResult {
  uint64_t r0 = 0;
  std::optional<Error> error;  // a fault, naming its pc (and for sBPF the production name)
  uint64_t instructions = 0;   // executed, lddw once, a faulting one included
  uint64_t compute_units = 0;  // sBPF: instructions plus what syscalls charged; Linux: instructions
  std::array<uint64_t, isa::kRegisterCount> registers{};
  std::string output;  // what the program printed during this run (unless a sink took it)

  bool ok() const { return !error; }
};

// A program prepared to run any number of times: the interpreters now, the
// JIT later. An engine is prepared against one Context (its maps, helpers or
// syscalls) and runs in it.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual const isa::Dialect& dialect() const = 0;
  // Runs with r1..r5 = args. Never throws; a fault is result.error.
  virtual RunResult run(Context& context, std::array<uint64_t, 5> args) const = 0;
  // Runs with the context's entry arguments (r1 = the input).
  RunResult run(Context& context) const { return run(context, context.entry_args()); }
};

// The Linux interpreter: kernel semantics (kernel/bpf/core.c), decoded once
// into cells and run with computed goto.
class Interpreter final : public Engine {
 public:
  // Resolves lddw src 5 (map handle) and 6 (handle + offset) against the
  // context's maps, by index; without them such loads are refused.
  static Expected<Interpreter> create(const isa::Program& program, const Context& context);
  const isa::Dialect& dialect() const override { return *dialect_; }
  using Engine::run;
  RunResult run(Context& context, std::array<uint64_t, 5> args) const override;

  struct Cell;  // one internal instruction; defined in interpreter.cpp
  // The cells without the end sentinel (which follows them), for tail calls.
  std::span<const Cell> cells() const;

 private:
  Interpreter(std::shared_ptr<const std::vector<Cell>> cells, const isa::Dialect& dialect)
      : cells_(std::move(cells)), dialect_(&dialect) {}
  std::shared_ptr<const std::vector<Cell>> cells_;
  const isa::Dialect* dialect_;
};

// The interpreter for the program's dialect: Linux, or sBPF as anza-xyz/sbpf's
// interpreter and Firedancer's fd_vm run it.
Expected<std::unique_ptr<Engine>> make_interpreter(const isa::Program& program, const Context& context);

// ---- Program-type runs (BPF_PROG_TEST_RUN) -----------------------------------------

// What BPF_PROG_TEST_RUN takes: the packet (data_in), the raw context
// (ctx_in: struct __sk_buff or xdp_md; for tracing types the context's
// bytes), and the repeat count.
struct TestRunInput {
  isa::ProgramType type = isa::ProgramType::Xdp;
  std::vector<uint8_t> data_in;
  std::optional<std::vector<uint8_t>> ctx_in;
  uint32_t repeat = 1;  // 0 counts as 1, as in the kernel
};

struct TestRunOutput {
  RunResult run;  // the last run: r0, fault, counts
  uint32_t retval = 0;
  std::vector<uint8_t> data_out;     // the packet after the run (from data_meta for XDP)
  std::vector<uint8_t> ctx_out;      // the context fields the kernel copies back
  uint64_t duration_ns = 0;          // per run, the mean over `repeat` (thread CPU time)
  std::optional<Redirect> redirect;  // where the last run redirected the packet
};

// Lays out the context (and the packet) in `context` as the kernel's
// bpf_prog_test_run_xdp / _skb do, runs `engine` `repeat` times and reads
// back what the kernel would return. An input the kernel refuses is an
// Error naming the errno (EINVAL for a frame shorter than an Ethernet
// header). The engine must have been prepared after prepare_test_run.
Expected<void> prepare_test_run(Context& context, const TestRunInput& input);
Expected<TestRunOutput> test_run(const Engine& engine, Context& context, const TestRunInput& input);

// ---- sBPF ----------------------------------------------------------------------
//
// Solana sBPF: regions by address bits 63..32 (rodata, stack, heap, input),
// 4 KiB stack frames, call depth 64, compute-unit metering, syscalls by
// Murmur3-32 key, and the per-version semantics of isa::semantics().
namespace sbpf {

// The production VM's error for a refused access: StackAccessViolation (v0,
// an address within a frame of the stack) or AccessViolation, naming the
// access type, address, size and region.
Error access_violation(const isa::Dialect& dialect, uint64_t addr, uint64_t size, bool write);

class Interpreter final : public Engine {
 public:
  // Verifies the text as the production verifier does (isa::decode with the
  // program's dialect), resolves calls against the context's syscalls and
  // the program's function keys, and prepares it to run any number of times.
  // Reads the program's slots, entry, rodata, rodata_vaddr, text_vaddr and
  // function_keys.
  static Expected<Interpreter> create(const isa::Program& program, const Context& context);
  const isa::Dialect& dialect() const override;
  using Engine::run;
  // Maps the program's rodata, clears the stack and heap, and runs with r1
  // = args[0] and r2 = args[1] (the loader passes the instruction data's
  // address there; Context::entry_args gives 0); r3..r5 start at 0.
  RunResult run(Context& context, std::array<uint64_t, 5> args) const override;

  struct State;  // defined in sbpf_interpreter.cpp

 private:
  explicit Interpreter(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace sbpf

}  // namespace bpfkit::vm
