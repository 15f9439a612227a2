// Times the verifier (module verify) on small, medium and large programs and
// asks the running kernel to verify the same bytes (kernel-oracle, built from
// ../shared/tools), reading its own "verification time N usec" from the
// verifier log's statistics.
//
//   bpfkit_verify_bench                 every case, best of --runs (default 3)
//   bpfkit_verify_bench counter map     only the cases whose name contains one of these
//   bpfkit_verify_bench --no-kernel     our figures only
//
// The cases: counter loops (`r1 += 1; if r1 < N goto -2`) at 10K, 100K and
// just under 1M processed instructions (time must grow linearly with them),
// loops with a map lookup and with map value and stack work inside, the C
// test programs of tests/bpf, and the benchmark programs of
// ../shared/bench/programs (past the 1M limit: E2BIG). Programs that need
// memory get it as the kernel-oracle's scratch array map: a prologue
// `r1 = map_value(0); r2 = SIZE`, the same bytes for both verifiers, so both
// verify a socket filter whose r1 points to SIZE bytes of map value.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/verify.hpp"
#include "oracle.hpp"
#include "test_support.hpp"

namespace {

using namespace bpfkit;
using isa::Op;
using isa::Slot;

struct Case {
  std::string name;
  const char* size_class = "";  // "small", "medium", "large"
  isa::Program program;         // what bpfkit verifies
  verify::Options options;
  std::vector<Slot> kernel_slots;  // the same bytes for the kernel (empty: see no_kernel)
  std::string kernel_type = "socket";
  uint32_t map_size = 0;  // the oracle's scratch map (-m), 0 = none
  std::string no_kernel;  // why the kernel is not asked
};

// The scratch map of kernel-oracle -m SIZE: one array slot of SIZE bytes, the
// map every `lddw src 1/2, imm 0` names.
isa::MapSpec scratch_map(uint32_t size) {
  isa::MapSpec map;
  map.name = "oracle_scratch";
  map.type = static_cast<uint32_t>(isa::MapType::Array);
  map.key_size = 4;
  map.value_size = size;
  map.max_entries = 1;
  return map;
}

// A case from slots: decoded for us, the same slots for the kernel; with a
// map size, the scratch map is map 0 for both.
std::optional<Case> slots_case(std::string name, const char* size_class, std::vector<Slot> slots, uint32_t map_size) {
  auto program = isa::decode(slots);
  if (!program) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), to_string(program.error()).c_str());
    return std::nullopt;
  }
  Case c;
  c.name = std::move(name);
  c.size_class = size_class;
  c.program = std::move(*program);
  c.kernel_slots = std::move(slots);
  c.options.type = verify::ProgramType::Socket;
  if (map_size > 0) c.program.maps.push_back(scratch_map(map_size));
  c.map_size = map_size;
  return c;
}

void append(std::vector<Slot>& code, std::initializer_list<Slot> slots) { code.insert(code.end(), slots); }

void append_lddw(std::vector<Slot>& code, uint8_t dst, Op op, uint32_t offset = 0) {
  std::array<Slot, 2> pair = isa::encode_lddw(dst, 0, op);
  pair[1].imm = static_cast<int32_t>(offset);  // map value: the offset into the value
  append(code, {pair[0], pair[1]});
}

// r0 = 0; r1 = 0; loop: r1 += 1; if r1 < iterations goto loop; exit:
// 2 * iterations + 3 processed instructions, no pruning (r1 differs each time).
std::vector<Slot> counter_loop(int32_t iterations) {
  return {isa::encode(Op::mov64_imm, 0, 0, 0, 0), isa::encode(Op::mov64_imm, 1, 0, 0, 0),
          isa::encode(Op::add64_imm, 1, 0, 0, 1), isa::encode(Op::jlt64_imm, 1, 0, -2, iterations),
          isa::encode(Op::exit)};
}

// A map lookup in every iteration (the key on the stack), a store through
// the checked value. Each iteration leaves its null edge pending, so fewer
// than 8,192 iterations (BPF_COMPLEXITY_LIMIT_JMP_SEQ).
std::vector<Slot> lookup_loop(int32_t iterations) {
  std::vector<Slot> code;
  append(code, {isa::encode(Op::mov64_imm, 6, 0, 0, 0)});
  const size_t loop = code.size();
  append(code, {isa::encode(Op::stxw, 10, 6, -4)});
  append_lddw(code, 1, Op::lddw_map_fd);
  append(code, {isa::encode(Op::mov64_reg, 2, 10), isa::encode(Op::add64_imm, 2, 0, 0, -4),
                isa::encode(Op::call, 0, 0, 0, 1),  // bpf_map_lookup_elem
                isa::encode(Op::jeq64_imm, 0, 0, 2, 0), isa::encode(Op::stxdw, 0, 6, 0),
                isa::encode(Op::mov64_imm, 0, 0, 0, 0), isa::encode(Op::add64_imm, 6, 0, 0, 1)});
  const int16_t back = static_cast<int16_t>(static_cast<int64_t>(loop) - static_cast<int64_t>(code.size()) - 1);
  append(code, {isa::encode(Op::jlt64_imm, 6, 0, back, iterations), isa::encode(Op::mov64_imm, 0, 0, 0, 0),
                isa::encode(Op::exit)});
  return code;
}

// One lookup, then a loop of map value and stack work: 7 instructions an
// iteration, no branch left pending, so it can run to the 1M limit.
std::vector<Slot> value_loop(int32_t iterations) {
  std::vector<Slot> code;
  append(code, {isa::encode(Op::stw, 10, 0, -4, 0)});
  append_lddw(code, 1, Op::lddw_map_fd);
  append(code,
         {isa::encode(Op::mov64_reg, 2, 10), isa::encode(Op::add64_imm, 2, 0, 0, -4), isa::encode(Op::call, 0, 0, 0, 1),
          isa::encode(Op::jeq64_imm, 0, 0, 8, 0), isa::encode(Op::mov64_imm, 6, 0, 0, 0),
          // loop:
          isa::encode(Op::ldxdw, 1, 0, 0), isa::encode(Op::add64_reg, 1, 6), isa::encode(Op::stxdw, 0, 1, 0),
          isa::encode(Op::stxdw, 10, 1, -16), isa::encode(Op::ldxdw, 2, 10, -16),
          isa::encode(Op::add64_imm, 6, 0, 0, 1), isa::encode(Op::jlt64_imm, 6, 0, -7, iterations),
          // out:
          isa::encode(Op::mov64_imm, 0, 0, 0, 0), isa::encode(Op::exit)});
  return code;
}

// `r1 = &map_value[0]; r2 = size`, then the benchmark program: what
// bench(mem, len) gets, as a socket filter with the oracle's scratch map.
std::vector<Slot> with_memory(std::span<const Slot> program, uint32_t size) {
  std::vector<Slot> code;
  append_lddw(code, 1, Op::lddw_map_value);
  append(code, {isa::encode(Op::mov64_imm, 2, 0, 0, static_cast<int32_t>(size))});
  code.insert(code.end(), program.begin(), program.end());
  return code;
}

std::vector<Slot> as_slots(const std::vector<uint8_t>& bytes) {
  std::vector<Slot> slots(bytes.size() / sizeof(Slot));
  std::memcpy(slots.data(), bytes.data(), slots.size() * sizeof(Slot));
  return slots;
}

struct BenchProgram {
  const char* name;
  const char* file;
  bool assembly;
  uint32_t memory;
};

// ../shared/bench/programs/README.md: each program and its memory.
const BenchProgram kBenchPrograms[] = {
    {"fib", "fib.bin", false, 8},
    {"sieve", "sieve.bin", false, 1 << 20},
    {"bubble", "bubble.bin", false, 1 << 16},
    {"fnv1a", "fnv1a.bin", false, 1 << 20},
    {"xxh64", "xxh64.bin", false, 1 << 20},
    {"csum", "csum.bin", false, 1 << 20},
    {"asm/fib.s", "asm/fib.s", true, 8},
    {"asm/sieve.s", "asm/sieve.s", true, 1 << 20},
};

std::optional<std::vector<Slot>> bench_program_slots(const BenchProgram& bench) {
  const std::string path = bench.assembly ? std::string(BPFKIT_BENCH_SRC) + "/" + bench.file
                                          : std::string(BPFKIT_BENCH_DIR) + "/" + bench.file;
  auto bytes = load::read_file(path);
  if (!bytes) return std::nullopt;
  if (!bench.assembly) return as_slots(*bytes);
  const std::string text(bytes->begin(), bytes->end());
  auto slots = assembly::assemble_conformance(text, path);
  if (!slots) return std::nullopt;
  return *slots;
}

// A C test program (tests/bpf) as `bpfkit verify` takes it: the type from
// its section. The kernel gets its bytes when it has no maps to create.
std::optional<Case> object_case(const std::string& file, const std::string& function) {
  const std::string path = std::string(BPFKIT_TEST_BPF_DIR) + "/" + file;
  auto bytes = load::read_file(path);
  if (!bytes) {
    std::fprintf(stderr, "%s: not built, left out\n", path.c_str());
    return std::nullopt;
  }
  auto left_out = [&path](const Error& error) {
    std::fprintf(stderr, "%s: %s, left out\n", path.c_str(), to_string(error).c_str());
    return std::nullopt;
  };
  auto object = elf::EbpfObject::parse(*bytes, path);
  if (!object) return left_out(object.error());
  auto chosen = object->choose_program("", function);
  if (!chosen) return left_out(chosen.error());
  auto program = object->load_program(**chosen);
  if (!program) return left_out(program.error());
  Case c;
  c.name = file;
  c.size_class = "small";
  c.program = std::move(*program);
  const auto type = verify::program_type_of_section((*chosen)->section);
  c.options.type = type.value_or(verify::ProgramType::Raw);
  if (!c.program.maps.empty()) {
    c.no_kernel = "maps or global data the oracle cannot create";
  } else if (!type) {
    c.no_kernel = "bpfkit's raw type (no kernel program type)";
  } else {
    c.kernel_slots = c.program.slots;
    c.kernel_type = std::string(verify::program_type_name(*type));
  }
  return c;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  auto add = [&cases](std::optional<Case> c) {
    if (c) cases.push_back(std::move(*c));
  };
  // Linear in processed instructions: 10K, 100K and just under 1M.
  add(slots_case("counter 10K", "small", counter_loop(4'998), 0));
  add(slots_case("counter 100K", "medium", counter_loop(49'998), 0));
  add(slots_case("counter 1M", "large", counter_loop(499'998), 0));
  add(slots_case("counter past 1M", "large", counter_loop(500'000), 0));
  add(slots_case("lookup loop 5K", "medium", lookup_loop(5'000), 64));
  add(slots_case("value loop 1M", "large", value_loop(142'000), 64));
  for (const auto& [file, function] : std::vector<std::pair<std::string, std::string>>{{"compute.o", ""},
                                                                                       {"subprogs.o", ""},
                                                                                       {"global_data.o", ""},
                                                                                       {"legacy_maps.o", ""},
                                                                                       {"map_types.o", ""},
                                                                                       {"maps.o", ""},
                                                                                       {"tail_call.o", "entry"},
                                                                                       {"data_pointers.o", ""}})
    add(object_case(file, function));
  for (const BenchProgram& bench : kBenchPrograms) {
    auto slots = bench_program_slots(bench);
    if (!slots) {
      std::fprintf(stderr, "%s: not built, left out\n", bench.name);
      continue;
    }
    add(slots_case(bench.name, "large", with_memory(*slots, bench.memory), bench.memory));
  }
  return cases;
}

struct Ours {
  verify::Result result;
  double seconds = 0;
};

Ours time_ours(const Case& c, int runs) {
  Ours best;
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    verify::Result result = verify::verify(c.program, c.options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run == 0 || seconds < best.seconds) best = {std::move(result), seconds};
  }
  return best;
}

struct Kernel {
  std::optional<test::KernelVerdict> verdict;  // the run with the shortest verification time
  std::string skipped;
};

// Each case `runs` times in one oracle shell; the fastest run kept.
Kernel time_kernel(const Case& c, int runs, const std::filesystem::path& dir) {
  if (c.kernel_slots.empty()) return {std::nullopt, c.no_kernel};
  test::Request request;
  request.type = c.kernel_type;
  request.map_size = c.map_size;
  request.statistics = true;
  const std::vector<std::vector<Slot>> programs(static_cast<size_t>(runs), c.kernel_slots);
  Kernel kernel;
  for (test::KernelVerdict& verdict : test::Oracle::verdicts(dir, programs, request)) {
    if (!verdict.has_verdict || !verdict.verification_usec) continue;
    if (!kernel.verdict || *verdict.verification_usec < *kernel.verdict->verification_usec)
      kernel.verdict = std::move(verdict);
  }
  if (!kernel.verdict) kernel.skipped = "no statistics from kernel-oracle";
  return kernel;
}

std::string verdict_text(const verify::Result& result) {
  return result.accepted ? "accepted" : std::string(verify::errno_name(result.error_number));
}

std::string optional_number(const std::optional<uint64_t>& value) {
  return value ? std::to_string(*value) : std::string("-");
}

int run(int argc, char** argv) {
  int runs = 3;
  bool ask_kernel = true;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--no-kernel") {
      ask_kernel = false;
    } else if (arg.starts_with("-")) {
      std::fprintf(stderr, "usage: bpfkit_verify_bench [--runs N] [--no-kernel] [NAME...]\n");
      return 2;
    } else {
      only.push_back(arg);
    }
  }
  std::vector<Case> cases = all_cases();
  std::erase_if(cases, [&only](const Case& c) {
    return !only.empty() && std::none_of(only.begin(), only.end(), [&c](const std::string& part) {
      return c.name.find(part) != std::string::npos;
    });
  });

  test::TempDir dir;
  std::string kernel_skipped;
  if (ask_kernel) {
    if (auto why = test::Oracle::unavailable(dir.path())) kernel_skipped = *why;
  } else {
    kernel_skipped = "--no-kernel";
  }
  if (!kernel_skipped.empty()) std::printf("kernel column skipped: %s\n\n", kernel_skipped.c_str());

  std::printf("%-16s %-6s %-9s %-9s %9s %9s %7s %7s %10s %10s %7s %8s\n", "program", "class", "ours", "kernel", "insns",
              "k.insns", "states", "k.states", "ours ms", "kernel ms", "ratio", "Minsn/s");
  double worst_ratio = 0;
  std::vector<std::pair<uint64_t, double>> counter_points;  // processed insns, seconds
  for (const Case& c : cases) {
    const Ours ours = time_ours(c, runs);
    Kernel kernel;
    if (kernel_skipped.empty()) kernel = time_kernel(c, runs, dir.path());
    const uint64_t insns = ours.result.processed_insns;
    const double ms = ours.seconds * 1e3;
    const double minsn = insns / ours.seconds / 1e6;
    std::string kernel_verdict = "-", kernel_ms = "-", ratio = "-";
    std::optional<uint64_t> kernel_insns, kernel_states;
    if (kernel.verdict) {
      const test::KernelVerdict& k = *kernel.verdict;
      kernel_verdict = k.accepted ? "accepted" : k.errno_name;
      kernel_insns = k.processed_insns;
      kernel_states = k.states;
      const double kms = static_cast<double>(*k.verification_usec) / 1e3;
      char text[32];
      std::snprintf(text, sizeof text, "%.3f", kms);
      kernel_ms = text;
      if (kms > 0) {
        std::snprintf(text, sizeof text, "%.2f", ms / kms);
        ratio = text;
        if (insns > 1000) worst_ratio = std::max(worst_ratio, ms / kms);  // tiny programs: timer noise
      }
    }
    std::printf("%-16s %-6s %-9s %-9s %9llu %9s %7llu %8s %10.3f %10s %7s %8.1f\n", c.name.c_str(), c.size_class,
                verdict_text(ours.result).c_str(), kernel_verdict.c_str(), static_cast<unsigned long long>(insns),
                optional_number(kernel_insns).c_str(), static_cast<unsigned long long>(ours.result.states),
                optional_number(kernel_states).c_str(), ms, kernel_ms.c_str(), ratio.c_str(), minsn);
    if (kernel_skipped.empty() && !kernel.verdict) std::printf("  (kernel skipped: %s)\n", kernel.skipped.c_str());
    if (kernel_insns && *kernel_insns != insns) std::printf("  (processed insns differ from the kernel's)\n");
    if (c.name.starts_with("counter ") && ours.result.accepted) counter_points.emplace_back(insns, ours.seconds);
  }
  std::printf("\nratio = our time / the kernel's (its log's \"verification time\"); below 1: faster than the kernel\n");
  if (worst_ratio > 0) std::printf("worst ratio (programs over 1000 insns): %.2f\n", worst_ratio);
  if (counter_points.size() >= 2) {
    std::printf("linearity (counter loops): ");
    for (const auto& [insns, seconds] : counter_points)
      std::printf("%llu insns %.1f ns/insn; ", static_cast<unsigned long long>(insns), seconds * 1e9 / insns);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
