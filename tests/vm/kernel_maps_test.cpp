// The map types against the kernel: C programs of tests/bpf that use them
// (map_kinds.c: lpm_trie, queue, stack, bloom filter, maps of maps, devmap,
// devmap_hash, xskmap) loaded into the kernel with their maps, as libbpf
// would load them (raw bpf(2): maps created, `.values` and global data
// written, lddw pointed at them), run with BPF_PROG_TEST_RUN and compared
// with bpfkit's run of the same program: retval, data_out and every map's
// entries afterwards. Also the verifier's verdict (bpfkit verify) must be the
// kernel's. Skips where bpf() is refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "bpfkit/elf.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"
#include "test_run_packets.hpp"
#include "test_support.hpp"
// After bpfkit's headers: its opcode table expands a BPF_OP macro of its own.
#include <linux/bpf.h>

namespace bpfkit {
namespace {

const std::filesystem::path kObjects = BPFKIT_TEST_BPF_DIR;

long sys_bpf(int cmd, bpf_attr& attr) { return syscall(__NR_bpf, cmd, &attr, sizeof attr); }

// A file descriptor closed at scope exit.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int value) : fd(value) {}
  Fd(Fd&& other) noexcept : fd(other.fd) { other.fd = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd, other.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// One map's entries, hex key -> hex value (queue/stack: in pop order).
using Entries = std::vector<std::pair<std::string, std::string>>;

std::string hex(std::span<const uint8_t> bytes) {
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : bytes) out += digits[byte >> 4], out += digits[byte & 15];
  return out;
}

constexpr uint32_t kRdonlyProg = 1u << 7;  // BPF_F_RDONLY_PROG

struct KernelMaps {
  std::vector<Fd> fds;
  std::vector<Fd> templates;  // inner map templates
};

// Entries user space puts in maps before the run: map name -> (key, value)
// u32 pairs (for the kernel, a cgroup array's values are cgroup fds).
using Fill = std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>>;

// The maps of `program`, created in the kernel as libbpf creates them (a
// perf event array of max_entries 0 sized to the CPUs).
Expected<KernelMaps> create_maps(const isa::Program& program) {
  KernelMaps maps;
  for (const isa::MapSpec& spec : program.maps) {
    Fd inner;
    if (spec.inner) {
      bpf_attr attr{};
      attr.map_type = spec.inner->type;
      attr.key_size = spec.inner->key_size;
      attr.value_size = spec.inner->value_size;
      attr.max_entries = spec.inner->max_entries;
      attr.map_flags = spec.inner->flags;
      inner = Fd(static_cast<int>(sys_bpf(BPF_MAP_CREATE, attr)));
      if (inner.fd < 0) return make_error(Errc::Io, "inner map of " + spec.name + ": " + std::strerror(errno));
    }
    bpf_attr attr{};
    attr.map_type = spec.type;
    attr.key_size = spec.key_size;
    attr.value_size = spec.value_size;
    attr.max_entries = spec.max_entries;
    if (spec.type == static_cast<uint32_t>(isa::MapType::PerfEventArray) && spec.max_entries == 0)
      attr.max_entries = vm::possible_cpus();
    attr.map_flags = spec.flags | (spec.read_only ? kRdonlyProg : 0);
    attr.map_extra = spec.map_extra;
    attr.inner_map_fd = spec.inner ? static_cast<uint32_t>(inner.fd) : 0;
    std::strncpy(attr.map_name, spec.name.c_str(), sizeof attr.map_name - 1);
    for (char& c : attr.map_name)
      if (c == '.') c = '_';
    Fd fd(static_cast<int>(sys_bpf(BPF_MAP_CREATE, attr)));
    if (fd.fd < 0) return make_error(Errc::Io, "map " + spec.name + ": " + std::strerror(errno));
    if (!spec.initial.empty()) {
      const uint32_t zero = 0;
      bpf_attr update{};
      update.map_fd = static_cast<uint32_t>(fd.fd);
      update.key = reinterpret_cast<uint64_t>(&zero);
      update.value = reinterpret_cast<uint64_t>(spec.initial.data());
      if (sys_bpf(BPF_MAP_UPDATE_ELEM, update) != 0) return make_error(Errc::Io, "initial value of " + spec.name);
      if (spec.read_only) {
        bpf_attr freeze{};
        freeze.map_fd = static_cast<uint32_t>(fd.fd);
        sys_bpf(BPF_MAP_FREEZE, freeze);
      }
    }
    maps.fds.push_back(std::move(fd));
    maps.templates.push_back(std::move(inner));
  }
  for (size_t i = 0; i < program.maps.size(); ++i)
    for (const auto& [slot, inner] : program.maps[i].initial_maps) {
      const uint32_t value = static_cast<uint32_t>(maps.fds[inner].fd);
      bpf_attr update{};
      update.map_fd = static_cast<uint32_t>(maps.fds[i].fd);
      update.key = reinterpret_cast<uint64_t>(&slot);
      update.value = reinterpret_cast<uint64_t>(&value);
      if (sys_bpf(BPF_MAP_UPDATE_ELEM, update) != 0)
        return make_error(Errc::Io, ".values of " + program.maps[i].name + ": " + std::strerror(errno));
    }
  return maps;
}

// Every entry, as bpfkit dumps it: key order for hashes and tries is the
// kernel's own (get_next_key), sorted here for both; queues and stacks are
// popped (oldest first); bloom filters list nothing.
Entries kernel_entries(int fd, const isa::MapSpec& spec) {
  Entries out;
  std::vector<uint8_t> key(spec.key_size), next(spec.key_size), value(spec.value_size);
  const auto type = static_cast<isa::MapType>(spec.type);
  if (type == isa::MapType::BloomFilter) return out;
  if (type == isa::MapType::Queue || type == isa::MapType::Stack) {
    std::vector<std::string> values;
    while (true) {
      bpf_attr attr{};
      attr.map_fd = static_cast<uint32_t>(fd);
      attr.value = reinterpret_cast<uint64_t>(value.data());
      if (sys_bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, attr) != 0) break;
      values.push_back(hex(value));
    }
    if (type == isa::MapType::Stack) std::reverse(values.begin(), values.end());
    for (const std::string& v : values) out.emplace_back("", v);
    return out;
  }
  bool first = true;
  while (true) {
    bpf_attr attr{};
    attr.map_fd = static_cast<uint32_t>(fd);
    attr.key = first ? 0 : reinterpret_cast<uint64_t>(key.data());
    attr.next_key = reinterpret_cast<uint64_t>(next.data());
    if (sys_bpf(BPF_MAP_GET_NEXT_KEY, attr) != 0) break;
    first = false;
    key = next;
    bpf_attr lookup{};
    lookup.map_fd = static_cast<uint32_t>(fd);
    lookup.key = reinterpret_cast<uint64_t>(key.data());
    lookup.value = reinterpret_cast<uint64_t>(value.data());
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, lookup) != 0) continue;  // an empty fd array slot
    out.emplace_back(hex(key), hex(value));
  }
  return out;
}

struct Outcome {
  bool loaded = false;
  std::string log;
  uint32_t retval = 0;
  std::string data_out;
  std::map<std::string, Entries> maps;  // inner-map-holding maps left out: their values are fds
};

// The end of a verifier log, where the verdict is.
std::string tail(const std::string& log) { return log.size() > 3000 ? log.substr(log.size() - 3000) : log; }

// Maps whose values are fds or ids (maps of maps), or that user space
// cannot read (perf event, cgroup and xsk maps): left out of the comparison.
bool holds_ids(const isa::MapSpec& spec) {
  const auto type = static_cast<isa::MapType>(spec.type);
  return type == isa::MapType::ArrayOfMaps || type == isa::MapType::HashOfMaps ||
         type == isa::MapType::PerfEventArray || type == isa::MapType::CgroupArray || type == isa::MapType::XskMap;
}

Expected<void> fill_kernel_maps(const isa::Program& program, const KernelMaps& maps, const Fill& fill) {
  for (size_t i = 0; i < program.maps.size(); ++i) {
    auto entries = fill.find(program.maps[i].name);
    if (entries == fill.end()) continue;
    for (const auto& [key, value] : entries->second) {
      bpf_attr update{};
      update.map_fd = static_cast<uint32_t>(maps.fds[i].fd);
      update.key = reinterpret_cast<uint64_t>(&key);
      update.value = reinterpret_cast<uint64_t>(&value);
      if (sys_bpf(BPF_MAP_UPDATE_ELEM, update) != 0)
        return make_error(Errc::Io, "filling " + program.maps[i].name + ": " + std::strerror(errno));
    }
  }
  return {};
}

Expected<Outcome> run_kernel(const isa::Program& program, uint32_t prog_type, const std::vector<uint8_t>& packet,
                             const Fill& fill = {}) {
  auto maps = create_maps(program);
  if (!maps) return maps.error();
  if (auto filled = fill_kernel_maps(program, *maps, fill); !filled) return filled.error();
  std::vector<isa::Slot> code = program.slots;
  for (size_t pc = 0; pc + 1 < code.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const uint8_t src = code[pc].src();
    if (code[pc].code != 0x18 || (src != isa::kPseudoMapIdx && src != isa::kPseudoMapIdxValue)) continue;
    code[pc].set_src(src == isa::kPseudoMapIdx ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
    code[pc].imm = maps->fds.at(static_cast<uint32_t>(code[pc].imm)).fd;
  }
  std::string log(1 << 20, '\0');
  const char license[] = "GPL";
  bpf_attr load{};
  load.prog_type = prog_type;
  load.insns = reinterpret_cast<uint64_t>(code.data());
  load.insn_cnt = static_cast<uint32_t>(code.size());
  load.license = reinterpret_cast<uint64_t>(license);
  load.log_buf = reinterpret_cast<uint64_t>(log.data());
  load.log_size = static_cast<uint32_t>(log.size());
  load.log_level = 1;
  Fd prog(static_cast<int>(sys_bpf(BPF_PROG_LOAD, load)));
  Outcome outcome;
  outcome.log = log.c_str();
  if (prog.fd < 0) {
    if (errno == EPERM) return make_error(Errc::Unsupported, "EPERM");
    return outcome;
  }
  outcome.loaded = true;
  std::vector<uint8_t> data_in = packet, data_out(packet.size() + 512);
  bpf_attr run{};
  run.test.prog_fd = static_cast<uint32_t>(prog.fd);
  run.test.data_in = reinterpret_cast<uint64_t>(data_in.data());
  run.test.data_size_in = static_cast<uint32_t>(data_in.size());
  run.test.data_out = reinterpret_cast<uint64_t>(data_out.data());
  run.test.data_size_out = static_cast<uint32_t>(data_out.size());
  run.test.repeat = 1;
  if (sys_bpf(BPF_PROG_TEST_RUN, run) != 0)
    return make_error(Errc::Io, std::string("test run: ") + std::strerror(errno));
  outcome.retval = run.test.retval;
  data_out.resize(run.test.data_size_out);
  outcome.data_out = hex(data_out);
  for (size_t i = 0; i < program.maps.size(); ++i)
    if (!holds_ids(program.maps[i]))
      outcome.maps[program.maps[i].name] = kernel_entries(maps->fds[i].fd, program.maps[i]);
  return outcome;
}

Outcome run_bpfkit(const isa::Program& program, isa::ProgramType type, const std::vector<uint8_t>& packet,
                   const Fill& fill = {}) {
  Outcome outcome;
  vm::Context context;
  EXPECT_TRUE(context.add_maps(program).has_value());
  for (uint32_t i = 0; i < context.map_count(); ++i) {
    auto entries = fill.find(context.map(i).spec().name);
    if (entries == fill.end()) continue;
    for (const auto& [key, value] : entries->second)
      EXPECT_TRUE(context.map(i).update({reinterpret_cast<const uint8_t*>(&key), 4},
                                        {reinterpret_cast<const uint8_t*>(&value), 4}));
  }
  vm::TestRunInput input;
  input.type = type;
  input.data_in = packet;
  EXPECT_TRUE(vm::prepare_test_run(context, input).has_value());
  auto engine = vm::make_interpreter(program, context);
  EXPECT_TRUE(engine.has_value());
  auto out = vm::test_run(**engine, context, input);
  EXPECT_TRUE(out.has_value() && !out->run.error) << (out ? to_string(*out->run.error) : to_string(out.error()));
  if (!out || out->run.error) return outcome;
  outcome.loaded = true;
  outcome.retval = out->retval;
  outcome.data_out = hex(out->data_out);
  for (uint32_t i = 0; i < context.map_count(); ++i) {
    vm::Map& map = context.map(i);
    if (holds_ids(map.spec())) continue;
    Entries& entries = outcome.maps[map.spec().name];
    for (const vm::Map::Entry& e : map.entries()) entries.emplace_back(hex(e.key), hex(e.value));
  }
  return outcome;
}

Expected<isa::Program> load(const std::string& name, const std::string& function) {
  const std::string text = test::read_text(kObjects / (name + ".o"));
  if (text.empty()) return make_error(Errc::Io, "cannot read " + name + ".o (is clang-19 installed?)");
  auto object = elf::EbpfObject::parse({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, name);
  if (!object) return object.error();
  auto chosen = object->find_program("", function);
  if (!chosen) return chosen.error();
  return object->load_program(**chosen);
}

TEST(KernelMaps, MapKindsAgreeWithTheKernel) {
  auto program = load("map_kinds", "map_kinds");
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  const std::vector<uint8_t> packet = test::test_packets().front().bytes;
  auto kernel = run_kernel(*program, BPF_PROG_TYPE_XDP, packet);
  if (!kernel && kernel.error().message == "EPERM") GTEST_SKIP() << "bpf() refused with EPERM";
  ASSERT_TRUE(kernel.has_value()) << to_string(kernel.error());
  verify::Options options;
  options.type = isa::ProgramType::Xdp;
  const verify::Result verdict = verify::verify(*program, options);
  EXPECT_EQ(verdict.accepted, kernel->loaded)
      << "kernel log:\n"
      << tail(kernel->log) << "\nbpfkit: " << (verdict.error ? verdict.error->message : "");
  ASSERT_TRUE(kernel->loaded) << tail(kernel->log);
  Outcome ours = run_bpfkit(*program, isa::ProgramType::Xdp, packet);
  EXPECT_EQ(ours.retval, kernel->retval);
  EXPECT_EQ(ours.data_out, kernel->data_out);
  for (auto& [name, entries] : kernel->maps) {
    Entries mine = ours.maps[name];
    // A plain loop: clang before 16 cannot capture a structured binding.
    isa::MapType type = isa::MapType::Unspec;
    for (const isa::MapSpec& spec : program->maps)
      if (spec.name == name) type = static_cast<isa::MapType>(spec.type);
    // Hash order is the kernel's hashing; an lpm trie's is the same post-order in both.
    if (type != isa::MapType::LpmTrie) {
      std::sort(entries.begin(), entries.end());
      std::sort(mine.begin(), mine.end());
    }
    EXPECT_EQ(mine, entries) << "map " << name;
  }
}

// A helper given a map of a type it does not take (a cpumap to
// map_lookup_elem): both refuse it, with
// the kernel's words.
TEST(KernelMaps, MapHelperMismatchRefusedByBoth) {
  auto program = load("map_kinds", "wrong_map");
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  auto kernel = run_kernel(*program, BPF_PROG_TYPE_XDP, test::test_packets().front().bytes);
  if (!kernel && kernel.error().message == "EPERM") GTEST_SKIP() << "bpf() refused with EPERM";
  ASSERT_TRUE(kernel.has_value()) << to_string(kernel.error());
  EXPECT_FALSE(kernel->loaded);
  EXPECT_NE(kernel->log.find("cannot pass map_type 16 into func bpf_map_lookup_elem#1"), std::string::npos)
      << tail(kernel->log);
  verify::Options options;
  options.type = isa::ProgramType::Xdp;
  const verify::Result verdict = verify::verify(*program, options);
  EXPECT_FALSE(verdict.accepted);
  ASSERT_TRUE(verdict.error.has_value());
  EXPECT_EQ(verdict.error->message, "cannot pass map_type 16 into func bpf_map_lookup_elem#1");
}

// ---- The event, cgroup and redirect helpers (events.c) ------------------------------

// One program of events.c run by the kernel and by bpfkit, each with its
// own fill of the maps: retval, data_out and the maps user space can read
// must agree. False (the test skipped) where bpf() is refused.
bool agree_with_the_kernel(const std::string& function, uint32_t kernel_type, isa::ProgramType type,
                           const Fill& kernel_fill, const Fill& our_fill) {
  auto program = load("events", function);
  EXPECT_TRUE(program.has_value()) << to_string(program.error());
  if (!program) return true;
  const std::vector<uint8_t> packet = test::test_packets().front().bytes;
  auto kernel = run_kernel(*program, kernel_type, packet, kernel_fill);
  if (!kernel && kernel.error().message == "EPERM") return false;
  EXPECT_TRUE(kernel.has_value()) << function << ": " << to_string(kernel.error());
  if (!kernel) return true;
  EXPECT_TRUE(kernel->loaded) << function << ":\n" << tail(kernel->log);
  if (!kernel->loaded) return true;
  // bpfkit's verifier agrees (it knows the helpers' prototypes).
  verify::Options options;
  options.type = type;
  const verify::Result verdict = verify::verify(*program, options);
  EXPECT_TRUE(verdict.accepted) << function << ": " << (verdict.error ? verdict.error->message : "");
  Outcome ours = run_bpfkit(*program, type, packet, our_fill);
  EXPECT_EQ(ours.retval, kernel->retval) << function;
  EXPECT_EQ(ours.data_out, kernel->data_out) << function;
  for (auto& [name, entries] : kernel->maps) {
    Entries mine = ours.maps[name];
    std::sort(entries.begin(), entries.end());
    std::sort(mine.begin(), mine.end());
    EXPECT_EQ(mine, entries) << function << ": map " << name;
  }
  return true;
}

// perf_event_output's errnos with no reader on the map: -ENOENT for this
// CPU's slot (with and without packet bytes), -E2BIG, -EINVAL.
TEST(KernelMaps, PerfEventOutputAgreesWithTheKernel) {
  if (!agree_with_the_kernel("perf_out", BPF_PROG_TYPE_XDP, isa::ProgramType::Xdp, {}, {}))
    GTEST_SKIP() << "bpf() refused with EPERM";
}

// The cgroup2 hierarchy's mount point, empty if none.
std::string cgroup2_mount() {
  std::ifstream mounts("/proc/mounts");
  for (std::string device, dir, type, rest; mounts >> device >> dir >> type && std::getline(mounts, rest);)
    if (type == "cgroup2") return dir;
  return "";
}

// skb_under_cgroup in a test run: the dummy socket's cgroup is the test
// process's. The kernel's slots hold the root cgroup (which holds this
// process) and a new child (which does not); bpfkit's the ids 1 and 2,
// and its default task is only under the root.
TEST(KernelMaps, SkbUnderCgroupAgreesWithTheKernel) {
  const std::string root = cgroup2_mount();
  if (root.empty()) GTEST_SKIP() << "no cgroup2 hierarchy mounted";
  const std::string child = root + "/bpfkit-events-" + std::to_string(getpid());
  if (mkdir(child.c_str(), 0755) != 0) GTEST_SKIP() << "cannot create " << child << ": " << std::strerror(errno);
  Fd root_fd(open(root.c_str(), O_RDONLY | O_DIRECTORY)), child_fd(open(child.c_str(), O_RDONLY | O_DIRECTORY));
  const Fill kernel_fill{
      {"cgroups", {{0, static_cast<uint32_t>(root_fd.fd)}, {1, static_cast<uint32_t>(child_fd.fd)}}}};
  const bool ran = agree_with_the_kernel("in_cgroup", BPF_PROG_TYPE_SCHED_CLS, isa::ProgramType::Tc, kernel_fill,
                                         {{"cgroups", {{0, 1}, {1, 2}}}});
  child_fd = Fd();
  rmdir(child.c_str());
  if (!ran) GTEST_SKIP() << "bpf() refused with EPERM";
}

// bpf_redirect_map through a devmap, a devmap_hash and a cpumap with their
// slot filled (the loopback device, a queue of 192), an xskmap left empty
// (its values are AF_XDP sockets) and a missing key: XDP_REDIRECT, or the
// action in the flags. A test run without live frames only returns it.
TEST(KernelMaps, RedirectMapAgreesWithTheKernel) {
  const Fill fill{{"tx_port", {{0, 1}}}, {"tx_hash", {{7, 1}}}, {"cpus", {{0, 192}}}};
  for (const char* function : {"to_devmap", "to_devmap_hash", "to_cpumap", "to_xskmap", "to_missing"})
    if (!agree_with_the_kernel(function, BPF_PROG_TYPE_XDP, isa::ProgramType::Xdp, fill, fill))
      GTEST_SKIP() << "bpf() refused with EPERM";
}

}  // namespace
}  // namespace bpfkit
