// Times the sBPF interpreter (or the JIT) on loop-heavy programs built from
// slots, in v0 (gapped stack) and v3, with compute metering on, and reports
// nanoseconds per executed instruction (best of --repeat runs, default 5).
//
//   bpfkit_sbpf_bench              every program
//   bpfkit_sbpf_bench --repeat 9
//   bpfkit_sbpf_bench --engine jit the JIT, exact metering included
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;
using isa::Op;

struct Code {
  std::vector<isa::Slot> slots;
  Code& add(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
    slots.push_back(isa::encode(op, dst, src, off, imm));
    return *this;
  }
  Code& lddw(uint8_t dst, uint64_t value) {
    auto pair = isa::encode_lddw(dst, value);
    slots.insert(slots.end(), pair.begin(), pair.end());
    return *this;
  }
  int16_t here() const { return static_cast<int16_t>(slots.size()); }
};

constexpr uint64_t kHeap = uint64_t{3} << 32;
constexpr int32_t kSieveSize = 32 * 1024;  // the default heap, one byte per number

// r0 = fib(n) mod 2^64, iteratively: 6 instructions per step.
Code fib(int32_t n) {
  Code c;
  c.add(Op::mov64_imm, 0, 0, 0, 0).add(Op::mov64_imm, 1, 0, 0, 1).add(Op::mov64_imm, 2, 0, 0, n);
  const int16_t loop = c.here();
  c.add(Op::mov64_reg, 3, 0).add(Op::add64_reg, 3, 1).add(Op::mov64_reg, 0, 1).add(Op::mov64_reg, 1, 3);
  c.add(Op::sub64_imm, 2, 0, 0, 1);
  c.add(Op::jne64_imm, 2, 0, static_cast<int16_t>(loop - c.here() - 1), 0);
  return c.add(Op::exit);
}

uint64_t fib_expected(int32_t n) {
  uint64_t a = 0, b = 1;
  for (int32_t i = 0; i < n; ++i) {
    const uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

// A store and a load through the stack per step (v0: the gapped path).
Code stack_sum(int32_t n) {
  Code c;
  c.add(Op::mov64_imm, 0, 0, 0, 0).add(Op::mov64_imm, 2, 0, 0, n);
  const int16_t loop = c.here();
  c.add(Op::stxdw, 10, 2, -8).add(Op::ldxdw, 3, 10, -8).add(Op::add64_reg, 0, 3).add(Op::sub64_imm, 2, 0, 0, 1);
  c.add(Op::jne64_imm, 2, 0, static_cast<int16_t>(loop - c.here() - 1), 0);
  return c.add(Op::exit);
}

// Sieve of Eratosthenes over the heap, `rounds` times; r0 = primes below
// kSieveSize (3512) times rounds.
Code sieve(int32_t rounds) {
  Code c;
  c.lddw(6, kHeap).add(Op::mov64_imm, 0, 0, 0, 0).add(Op::mov64_imm, 9, 0, 0, rounds);
  const int16_t round = c.here();
  // Clear: 8 bytes at a time.
  c.add(Op::mov64_imm, 1, 0, 0, 0);
  const int16_t clear = c.here();
  c.add(Op::mov64_reg, 3, 6).add(Op::add64_reg, 3, 1).add(Op::stdw, 3, 0, 0, 0).add(Op::add64_imm, 1, 0, 0, 8);
  c.add(Op::jlt64_imm, 1, 0, static_cast<int16_t>(clear - c.here() - 1), kSieveSize);
  // for (i = 2; i * i < N; ++i) if (!heap[i]) for (j = i * i; j < N; j += i) heap[j] = 1;
  c.add(Op::mov64_imm, 1, 0, 0, 2);
  const int16_t outer = c.here();
  c.add(Op::mov64_reg, 2, 1).add(Op::mul64_reg, 2, 1);
  const size_t to_count = c.slots.size();
  c.add(Op::jge64_imm, 2, 0, 0, kSieveSize);  // patched below
  c.add(Op::mov64_reg, 3, 6).add(Op::add64_reg, 3, 1).add(Op::ldxb, 4, 3, 0);
  const size_t to_next = c.slots.size();
  c.add(Op::jne64_imm, 4, 0, 0, 0);  // patched below
  const int16_t inner = c.here();
  c.add(Op::mov64_reg, 3, 6).add(Op::add64_reg, 3, 2).add(Op::stb, 3, 0, 0, 1).add(Op::add64_reg, 2, 1);
  c.add(Op::jlt64_imm, 2, 0, static_cast<int16_t>(inner - c.here() - 1), kSieveSize);
  c.slots[to_next].off = static_cast<int16_t>(c.here() - to_next - 1);
  c.add(Op::add64_imm, 1, 0, 0, 1).add(Op::ja, 0, 0, static_cast<int16_t>(outer - c.here() - 1));
  c.slots[to_count].off = static_cast<int16_t>(c.here() - to_count - 1);
  // Count the unmarked numbers from 2.
  c.add(Op::mov64_imm, 1, 0, 0, 2);
  const int16_t count = c.here();
  c.add(Op::mov64_reg, 3, 6).add(Op::add64_reg, 3, 1).add(Op::ldxb, 4, 3, 0);
  c.add(Op::jne64_imm, 4, 0, 1, 0).add(Op::add64_imm, 0, 0, 0, 1).add(Op::add64_imm, 1, 0, 0, 1);
  c.add(Op::jlt64_imm, 1, 0, static_cast<int16_t>(count - c.here() - 1), kSieveSize);
  c.add(Op::sub64_imm, 9, 0, 0, 1).add(Op::jne64_imm, 9, 0, static_cast<int16_t>(round - c.here() - 1), 0);
  return c.add(Op::exit);
}

struct Bench {
  const char* name;
  Code code;
  uint64_t expected_r0;
};

// Best ns per instruction of `repeat` runs; false if a run failed.
bool time_one(const Bench& bench, const isa::Dialect& dialect, int repeat, bool jit) {
  vm::Context context(dialect);
  context.helpers() = vm::HelperTable{};  // the kernels call nothing
  context.set_budget(uint64_t{1} << 40);  // metering on, never the limit
  auto program = load::raw_program(bench.code.slots, bench.name, dialect);
  Expected<std::unique_ptr<vm::Engine>> interpreter = !program ? Expected<std::unique_ptr<vm::Engine>>(program.error())
                                                      : jit    ? jit::make_jit(*program, context)
                                                               : vm::make_interpreter(*program, context);
  if (!interpreter) {
    std::fprintf(stderr, "%s %s: %s\n", bench.name, std::string(dialect.name).c_str(),
                 to_string(interpreter.error()).c_str());
    return false;
  }
  double best = 1e30;
  uint64_t units = 0;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const vm::RunResult result = (*interpreter)->run(context);
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    if (result.error || result.r0 != bench.expected_r0) {
      std::fprintf(stderr, "%s %s: %s r0 = %llu, expected %llu\n", bench.name, std::string(dialect.name).c_str(),
                   result.error ? result.error->message.c_str() : "", static_cast<unsigned long long>(result.r0),
                   static_cast<unsigned long long>(bench.expected_r0));
      return false;
    }
    units = result.compute_units;
    best = std::min(best, ns / static_cast<double>(units));
  }
  std::printf("%-10s %-8s %12llu insns  %6.3f ns/insn\n", bench.name, std::string(dialect.name).c_str(),
              static_cast<unsigned long long>(units), best);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 5;
  bool jit = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--engine") == 0 && i + 1 < argc) jit = std::strcmp(argv[++i], "jit") == 0;
  }
  const Bench benches[] = {
      {"fib", fib(20'000'000), fib_expected(20'000'000)},
      {"stack_sum", stack_sum(20'000'000), 20'000'000ull * 20'000'001ull / 2},
      {"sieve", sieve(100), 3512 * 100},
  };
  bool ok = true;
  for (const Bench& bench : benches)
    for (const isa::Dialect* dialect : {&isa::kSbpfV0, &isa::kSbpfV3})
      ok = time_one(bench, *dialect, repeat, jit) && ok;
  return ok ? 0 : 1;
}
