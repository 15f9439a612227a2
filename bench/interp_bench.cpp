// Times an engine (the interpreter, or the JIT) on the benchmark programs of
// ../shared/bench/programs and reports nanoseconds per executed
// instruction, next to the native build of the same C code.
//
//   bpfkit_bench               time every program (best of --repeat runs, default 3; the native
//                              builds too: gcc's in "native" / "ratio", clang's in "clang", the
//                              ratio to the faster of the two in "faster", and their geometric
//                              means on the last line)
//   bpfkit_bench fib sieve     only these
//   bpfkit_bench --check       correctness only: expected r0 and instruction count
//   bpfkit_bench --engine jit  the JIT (also: its compile time per instruction)
//   bpfkit_bench --harden      the JIT with constant blinding (jit::Options::harden)
//   bpfkit_bench --verify      the JIT with and without the verifier's proofs
//                              (jit::Options::proven), in the same run, on
//                              256-byte buffers (what the verifier accepts)
//   bpfkit_bench --kernel      the JIT against the Linux kernel's JIT on the loops
//                              the kernel can run (fib and asm/fib, their 100,000,000
//                              trips cut to 100,000 for its verifier), per trip,
//                              through kernel-oracle -r (BPF_PROG_TEST_RUN)
//   bpfkit_bench --compile N   preparation time per instruction of a generated
//                              N-instruction program (ALU, stack loads and
//                              stores, forward branches), interpreter and JIT
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

struct BenchProgram {
  const char* name;
  const char* file;  // relative to the build dir (.bin) or the source dir (.s)
  bool assembly;
  uint64_t memory;
  uint64_t expected_r0;
  uint64_t expected_instructions;  // clang 14 build; 0 = not checked (compiler dependent)
  const char* native;              // gcc's native executable in the build dir (clang's: NAME.clang.native)
};

// Values from ../shared/bench/programs/README.md.
const BenchProgram kPrograms[] = {
    {"fib", "fib.bin", false, 8, 0xc437dbe96c6dec3b, 700000003, "fib.native"},
    {"sieve", "sieve.bin", false, 1 << 20, 0x7d2904, 1108224309, "sieve.native"},
    {"bubble", "bubble.bin", false, 1 << 16, 0x91757205de85d1aa, 1074364980, "bubble.native"},
    {"fnv1a", "fnv1a.bin", false, 1 << 20, 0xe178415f3bb15b25, 940704397, "fnv1a.native"},
    {"xxh64", "xxh64.bin", false, 1 << 20, 0xb712cd771b46bc29, 722650136, "xxh64.native"},
    {"csum", "csum.bin", false, 1 << 20, 0x153628edfbe00, 950840852, "csum.native"},
    {"asm/fib.s", "asm/fib.s", true, 8, 0xc437dbe96c6dec3b, 600000004, "fib.native"},
    {"asm/sieve.s", "asm/sieve.s", true, 1 << 20, 0x7d2904, 714984106, "sieve.native"},
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Expected<isa::Program> load(const BenchProgram& bench) {
  const std::string path = bench.assembly ? std::string(BPFKIT_BENCH_SRC) + "/" + bench.file
                                          : std::string(BPFKIT_BENCH_DIR) + "/" + bench.file;
  auto text = read_file(path);
  if (!text) return make_error(Errc::Io, "cannot read " + path);
  if (bench.assembly) {
    auto slots = assembly::assemble_conformance(*text, path);
    if (!slots) return slots.error();
    return isa::decode(*slots);
  }
  std::vector<uint8_t> bytes(text->begin(), text->end());
  return isa::decode(bytes);
}

struct Timing {
  vm::RunResult result;
  double seconds;
  double prepare_seconds;
};

bool use_jit = false;
bool verify_mode = false;  // --verify
jit::Options jit_options;  // --harden, --verify's proofs

Expected<Timing> time_once(const isa::Program& program, uint64_t memory_size) {
  vm::Context context;
  std::vector<uint8_t> memory(memory_size);
  context.map_input(memory);
  const auto prepare_start = std::chrono::steady_clock::now();
  auto engine = use_jit ? jit::make_jit(program, context, jit_options) : vm::make_interpreter(program, context);
  const double prepare_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - prepare_start).count();
  if (!engine) return engine.error();
  const auto start = std::chrono::steady_clock::now();
  vm::RunResult result = (*engine)->run(context);
  const auto stop = std::chrono::steady_clock::now();
  if (result.error) return *result.error;
  return Timing{std::move(result), std::chrono::duration<double>(stop - start).count(), prepare_seconds};
}

// Best of `repeat` runs; nullopt (after printing why) if one fails.
std::optional<Timing> best_of(const BenchProgram& bench, const isa::Program& program, int repeat) {
  std::optional<Timing> best;
  for (int run = 0; run < repeat; ++run) {
    auto timing = time_once(program, bench.memory);
    if (!timing) {
      std::printf("%-12s run failed: %s\n", bench.name, to_string(timing.error()).c_str());
      return std::nullopt;
    }
    if (!best || timing->seconds < best->seconds) best = *timing;
  }
  return best;
}

// --verify: the kernel's verifier refuses the programs at their memory
// sizes (a loop of a million iterations is more than its 1,000,000
// processed instructions), so they run on a buffer of kVerifiedMemory
// bytes, which it accepts for all but fib (whose loop count is fixed),
// each engine prepared once and run until about 2^26 instructions have
// executed.
constexpr uint64_t kVerifiedMemory = 256;

struct RepeatedTiming {
  vm::RunResult last;
  double seconds = 0;
  uint64_t instructions = 0;
};

Expected<RepeatedTiming> time_repeated(const isa::Program& program, bool jit_engine, uint64_t runs) {
  vm::Context context;
  std::vector<uint8_t> memory(kVerifiedMemory);
  context.map_input(memory);
  auto engine = jit_engine ? jit::make_jit(program, context, jit_options) : vm::make_interpreter(program, context);
  if (!engine) return engine.error();
  RepeatedTiming timing;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t run = 0; run < runs; ++run) {
    timing.last = (*engine)->run(context);
    if (timing.last.error) return *timing.last.error;
    timing.instructions += timing.last.instructions;
  }
  timing.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return timing;
}

// The JIT with every access checked, then with the checks the verifier's
// proofs cover left out, in this process (best of `repeat` each); the
// ratio is proven / checked time. Both must give the interpreter's result.
bool verified_bench(const BenchProgram& bench, const isa::Program& program, int repeat) {
  verify::Options options;
  options.mem_size = kVerifiedMemory;
  verify::Result verdict = verify::verify(program, options);
  if (!verdict.accepted) {
    std::printf("%-12s verifier refused: %s\n", bench.name,
                verdict.error ? verdict.error->message.c_str() : "(no message)");
    return true;  // nothing to compare: not a failure of the JIT
  }
  auto reference = time_repeated(program, false, 1);
  if (!reference) {
    std::printf("%-12s run failed: %s\n", bench.name, to_string(reference.error()).c_str());
    return false;
  }
  const uint64_t runs = std::max<uint64_t>(1, (uint64_t{1} << 26) / std::max<uint64_t>(1, reference->instructions));
  std::optional<RepeatedTiming> best[2];  // checked, proven
  for (int round = 0; round < repeat; ++round) {
    for (const bool proven : {false, true}) {
      jit_options.proven = proven ? verdict.proven : std::vector<isa::ProvenAccess>{};
      jit_options.proven_memory_size = proven ? kVerifiedMemory : 0;
      auto timing = time_repeated(program, true, runs);
      if (!timing) {
        std::printf("%-12s run failed: %s\n", bench.name, to_string(timing.error()).c_str());
        return false;
      }
      if (timing->last.r0 != reference->last.r0 || timing->last.registers != reference->last.registers ||
          timing->last.instructions != reference->last.instructions) {
        std::printf("%-12s the JIT (%s) and the interpreter differ\n", bench.name, proven ? "proven" : "checked");
        return false;
      }
      if (!best[proven] || timing->seconds < best[proven]->seconds) best[proven] = *timing;
    }
  }
  jit_options.proven.clear();
  const auto count = static_cast<double>(best[0]->instructions);
  const auto proofs = std::count_if(verdict.proven.begin(), verdict.proven.end(),
                                    [](isa::ProvenAccess kind) { return kind != isa::ProvenAccess::Unproven; });
  std::printf("%-12s %14llu %9.3f %9.3f %8.3fx %9zu\n", bench.name,
              static_cast<unsigned long long>(best[0]->instructions), best[0]->seconds * 1e9 / count,
              best[1]->seconds * 1e9 / count, best[1]->seconds / best[0]->seconds, static_cast<size_t>(proofs));
  return true;
}

// The two native builds of each program: the C compiler CMake picked (gcc)
// and clang -O2 (built when clang is installed). The ratio that counts is
// to the faster one: neither compiler is the limit on every program.
enum class NativeBuild { Gcc, Clang };

std::string native_path(const BenchProgram& bench, NativeBuild build) {
  std::string path = std::string(BPFKIT_BENCH_DIR) + "/" + bench.native;
  if (build == NativeBuild::Clang) path.insert(path.size() - std::strlen(".native"), ".clang");
  return path;
}

// Runs a native build; returns its time in seconds (it prints exec_ns=N on
// stderr), nullopt when it is missing or prints none.
std::optional<double> native_seconds(const BenchProgram& bench, NativeBuild build) {
  if (bench.native == nullptr) return std::nullopt;
  const std::string path = native_path(bench, build);
  if (access(path.c_str(), X_OK) != 0) return std::nullopt;
  const std::string command = path + " " + std::to_string(bench.memory) + " 2>&1 >/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  char line[128] = {};
  std::optional<double> seconds;
  while (std::fgets(line, sizeof line, pipe))
    if (std::strncmp(line, "exec_ns=", 8) == 0) seconds = std::strtod(line + 8, nullptr) / 1e9;
  pclose(pipe);
  return seconds;
}

// The native build's best of `runs`, as ours is best of --repeat: one
// wall-clock run of the native build on a busy machine swung the ratios by
// half.
std::optional<double> native_best_seconds(const BenchProgram& bench, NativeBuild build, int runs) {
  std::optional<double> best;
  for (int i = 0; i < runs; ++i)
    if (const std::optional<double> seconds = native_seconds(bench, build); seconds && (!best || *seconds < *best))
      best = seconds;
  return best;
}

std::string seconds_text(std::optional<double> seconds) {
  return seconds ? std::to_string(*seconds).substr(0, 6) : "-";
}

std::string ratio_text(double ours, std::optional<double> native) {
  return native ? std::to_string(ours / *native).substr(0, 6) + "x" : "-";
}

bool selected(const BenchProgram& bench, const std::vector<std::string>& names) {
  if (names.empty()) return true;
  for (const std::string& name : names)
    if (name == bench.name) return true;
  return false;
}

// A straight program of `count` slots cycling through ALU operations, stack
// stores and loads and forward branches; ends with exit.
std::vector<isa::Slot> generated_program(size_t count) {
  using isa::Op;
  std::vector<isa::Slot> slots;
  slots.push_back(isa::encode(Op::mov64_imm, 0, 0, 0, 1));
  slots.push_back(isa::encode(Op::mov64_imm, 1, 0, 0, 2));
  while (slots.size() + 1 < count) {
    switch (slots.size() % 6) {
      case 0: slots.push_back(isa::encode(Op::add64_reg, 0, 1)); break;
      case 1: slots.push_back(isa::encode(Op::stxdw, isa::kFramePointer, 0, -8)); break;
      case 2: slots.push_back(isa::encode(Op::ldxdw, 1, isa::kFramePointer, -8)); break;
      case 3: slots.push_back(isa::encode(Op::jgt64_imm, 1, 0, 1, 100)); break;
      case 4: slots.push_back(isa::encode(Op::xor64_imm, 1, 0, 0, 0x55)); break;
      default: slots.push_back(isa::encode(Op::lsh64_imm, 1, 0, 0, 3)); break;
    }
  }
  slots.push_back(isa::encode(Op::exit));
  return slots;
}

int compile_bench(size_t count) {
  auto program = isa::decode(generated_program(count));
  if (!program) {
    std::printf("generated program: %s\n", to_string(program.error()).c_str());
    return 1;
  }
  vm::Context context;
  std::printf("%-12s %10s %12s\n", "engine", "slots", "ns/slot");
  for (const bool jit_engine : {false, true}) {
    double best = 0;
    for (int run = 0; run < 3; ++run) {
      const auto start = std::chrono::steady_clock::now();
      auto engine = jit_engine ? jit::make_jit(*program, context) : vm::make_interpreter(*program, context);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!engine) {
        std::printf("prepare failed: %s\n", to_string(engine.error()).c_str());
        return 1;
      }
      if (run == 0 || seconds < best) best = seconds;
    }
    std::printf("%-12s %10zu %12.1f\n", jit_engine ? "jit" : "interpreter", program->size(),
                best * 1e9 / static_cast<double>(program->size()));
  }
  return 0;
}

// ---- --kernel: the kernel's JIT on the bounded loops -------------------------------

constexpr uint64_t kBenchTrips = 100'000'000;  // fib's loop count
constexpr uint64_t kKernelTrips = 100'000;     // what the kernel's verifier walks (7 instructions a trip)
constexpr int kKernelRuns = 2000;

// The program with its loop count (the one immediate kBenchTrips) cut to
// `trips`, or nullopt when it has none.
std::optional<isa::Program> with_trips(isa::Program program, uint64_t trips) {
  size_t found = 0;
  for (isa::Slot& slot : program.slots)
    if (static_cast<uint64_t>(static_cast<int64_t>(slot.imm)) == kBenchTrips) {
      slot.imm = static_cast<int32_t>(trips);
      ++found;
    }
  if (found != 1) return std::nullopt;
  return program;
}

// kernel-oracle's average time of one BPF_PROG_TEST_RUN over `runs`, and
// its r0; nullopt (after saying why) when the kernel cannot run it here.
std::optional<std::pair<double, uint64_t>> kernel_time(const std::string& oracle, const isa::Program& program,
                                                       int runs) {
  char path[] = "/tmp/bpfkit_bench_kernel_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return std::nullopt;
  const std::vector<uint8_t> bytes = isa::to_bytes(program.slots);
  const bool written = write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  close(fd);
  std::string output;
  if (written) {
    const std::string command = oracle + " -f bin -r " + std::to_string(runs) + " " + path + " 2>&1";
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char line[512];
      while (std::fgets(line, sizeof line, pipe)) output += line;
      pclose(pipe);
    }
  }
  unlink(path);
  unsigned long long ns = 0, r0 = 0;
  const size_t duration = output.find("duration_ns: "), result = output.find("\nr0: ");
  if (duration != std::string::npos && result != std::string::npos &&
      std::sscanf(output.c_str() + duration, "duration_ns: %llu", &ns) == 1 &&
      std::sscanf(output.c_str() + result, "\nr0: %llx", &r0) == 1)
    return std::pair{static_cast<double>(ns), static_cast<uint64_t>(r0)};
  std::printf("kernel-oracle could not run it: %s\n", output.substr(0, 200).c_str());
  return std::nullopt;
}

int kernel_bench(const std::string& oracle) {
  std::printf("%-12s %9s %14s %14s %10s %10s %8s\n", "program", "trips", "kernel ns/run", "bpfkit ns/run",
              "kernel/trip", "bpfkit/trip", "ratio");
  int failures = 0;
  for (const BenchProgram& bench : kPrograms) {
    if (std::string_view(bench.name).find("fib") == std::string_view::npos) continue;
    auto loaded = load(bench);
    auto program = loaded ? with_trips(*loaded, kKernelTrips) : std::nullopt;
    if (!program) {
      std::printf("%-12s no loop count of %llu to cut\n", bench.name, static_cast<unsigned long long>(kBenchTrips));
      ++failures;
      continue;
    }
    auto kernel = kernel_time(oracle, *program, kKernelRuns);
    if (!kernel) continue;  // no bpf() here: nothing to compare, no failure
    auto ours = time_repeated(*program, true, kKernelRuns);
    if (!ours) {
      std::printf("%-12s run failed: %s\n", bench.name, to_string(ours.error()).c_str());
      ++failures;
      continue;
    }
    if (ours->last.r0 != kernel->second) {
      std::printf("%-12s r0 differs: kernel %#llx, bpfkit %#llx\n", bench.name,
                  static_cast<unsigned long long>(kernel->second), static_cast<unsigned long long>(ours->last.r0));
      ++failures;
      continue;
    }
    const double our_run = ours->seconds * 1e9 / kKernelRuns, trips = static_cast<double>(kKernelTrips);
    std::printf("%-12s %9llu %14.0f %14.0f %10.3f %10.3f %7.2fx\n", bench.name,
                static_cast<unsigned long long>(kKernelTrips), kernel->first, our_run, kernel->first / trips,
                our_run / trips, our_run / kernel->first);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false;
  int repeat = 3;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--check") == 0)
      check_only = true;
    else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeat = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--kernel") == 0) {
      const std::string self = argv[0];  // kernel-oracle is built beside bpfkit_bench
      const size_t slash = self.rfind('/');
      return kernel_bench((slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/kernel-oracle");
    } else if (std::strcmp(argv[i], "--compile") == 0 && i + 1 < argc)
      return compile_bench(std::strtoull(argv[++i], nullptr, 10));
    else if (std::strcmp(argv[i], "--engine") == 0 && i + 1 < argc)
      use_jit = std::strcmp(argv[++i], "jit") == 0;
    else if (std::strcmp(argv[i], "--harden") == 0)
      use_jit = jit_options.harden = true;
    else if (std::strcmp(argv[i], "--verify") == 0)
      use_jit = verify_mode = true;
    else
      names.emplace_back(argv[i]);
  }
  if (check_only) repeat = 1;
  int failures = 0;
  double log_ratio_sum[2] = {0, 0};  // to the faster native build, to gcc's
  int ratios[2] = {0, 0};
  if (verify_mode)
    std::printf("%-12s %14s %9s %9s %9s %9s\n", "program", "instructions", "checked", "proven", "ratio", "proofs");
  else if (!check_only)
    std::printf("%-12s %14s %9s %9s %8s %8s %12s %8s %8s\n", "program", "instructions", "seconds", "ns/insn", "native",
                "ratio", "prep ns/slot", "clang", "faster");
  for (const BenchProgram& bench : kPrograms) {
    if (!selected(bench, names)) continue;
    auto program = load(bench);
    if (!program) {
      std::printf("%-12s load failed: %s\n", bench.name, to_string(program.error()).c_str());
      ++failures;
      continue;
    }
    if (verify_mode) {
      if (!verified_bench(bench, *program, repeat)) ++failures;
      continue;
    }
    std::optional<Timing> best = best_of(bench, *program, repeat);
    if (!best) {
      ++failures;
      continue;
    }
    const bool r0_ok = best->result.r0 == bench.expected_r0;
    if (!r0_ok) {
      std::printf("%-12s r0 0x%llx, expected 0x%llx\n", bench.name, static_cast<unsigned long long>(best->result.r0),
                  static_cast<unsigned long long>(bench.expected_r0));
      ++failures;
    }
    if (check_only) {
      std::printf("%-12s ok r0=0x%llx instructions=%llu (reference count %llu)\n", bench.name,
                  static_cast<unsigned long long>(best->result.r0),
                  static_cast<unsigned long long>(best->result.instructions),
                  static_cast<unsigned long long>(bench.expected_instructions));
      continue;
    }
    const double ns = best->seconds * 1e9 / static_cast<double>(best->result.instructions);
    const std::optional<double> native = native_best_seconds(bench, NativeBuild::Gcc, repeat);
    const std::optional<double> clang = native_best_seconds(bench, NativeBuild::Clang, repeat);
    std::optional<double> faster = native;
    if (clang && (!faster || *clang < *faster)) faster = clang;
    if (faster) {
      log_ratio_sum[0] += std::log(best->seconds / *faster);
      ++ratios[0];
    }
    if (native) {
      log_ratio_sum[1] += std::log(best->seconds / *native);
      ++ratios[1];
    }
    std::printf("%-12s %14llu %9.3f %9.3f %8s %8s %12.1f %8s %8s\n", bench.name,
                static_cast<unsigned long long>(best->result.instructions), best->seconds, ns,
                seconds_text(native).c_str(), ratio_text(best->seconds, native).c_str(),
                best->prepare_seconds * 1e9 / static_cast<double>(program->size()), seconds_text(clang).c_str(),
                ratio_text(best->seconds, faster).c_str());
  }
  // The geometric means of the ratios: to the faster native build (the
  // issue's anchor) and to gcc's alone (the "ratio" column).
  if (ratios[0] > 0)
    std::printf("geomean: %.3fx of the faster native build (%d programs), %.3fx of gcc's\n",
                std::exp(log_ratio_sum[0] / ratios[0]), ratios[0],
                ratios[1] > 0 ? std::exp(log_ratio_sum[1] / ratios[1]) : 0.0);
  return failures == 0 ? 0 : 1;
}
