// The IR's two numbers (issue 12, "Measured"):
//  - size: instructions of `bpfkit opt -O2` against clang -O2's own, on the
//    benchmark programs and every program of the C test objects (tests/bpf);
//  - compile time: lift, the -O2 pipeline and code generation, in ns per
//    input instruction, and all of `opt -O2` (ir::optimize_program: the
//    three, and the retry without stack forwarding where registers ran
//    short), on those programs and on generated straight-line programs of
//    1K to 1M instructions (growth with size must stay near linear).
//
//   bpfkit_ir_bench                 both tables
//   bpfkit_ir_bench --size          only the size table
//   bpfkit_ir_bench --time          only the timing table
//   bpfkit_ir_bench --max N         generated programs up to N instructions (default 1000000)
//   bpfkit_ir_bench --fold          generated programs whose values all fold
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/load.hpp"
#include "object_programs.hpp"

namespace {

using namespace bpfkit;
using Clock = std::chrono::steady_clock;

struct Named {
  std::string name;
  isa::Program program;
};

std::vector<Named> bench_programs() {
  std::vector<Named> out;
  for (const char* name : {"fib", "sieve", "bubble", "fnv1a", "xxh64", "csum"}) {
    auto bytes = load::read_file(std::string(BPFKIT_BENCH_DIR) + "/" + name + ".bin");
    if (!bytes) {
      bytes.ignore();
      continue;
    }
    auto program = isa::decode(std::span<const uint8_t>(*bytes));
    if (!program) {
      program.ignore();
      continue;
    }
    out.push_back({std::string("bench/") + name, std::move(*program)});
  }
  return out;
}

std::vector<Named> object_programs() {
  std::vector<Named> out;
  for (test::ObjectProgram& p : test::object_programs(BPFKIT_TEST_BPF_DIR))
    out.push_back({std::move(p.name), std::move(p.program)});
  return out;
}

// A generated program of about `size` instructions: runs of ALU rows over
// r0-r9, a forward branch every 8 rows, a stack store and load every 16,
// all of them summed into r0 at the end:
// what the pipeline and the allocator see in large straight-line code.
// `foldable`: the registers start as constants instead, so sccp computes
// everything and the CFG passes get a long chain of empty blocks.
isa::Program generated_program(size_t size, bool foldable) {
  using isa::Op;
  std::vector<isa::Slot> slots;
  auto row = [&](Op op, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    slots.push_back(isa::encode(op, dst, src, off, imm));
  };
  // Otherwise each register starts from the input (r1): nothing folds away.
  for (uint8_t r = 0; r <= 9; ++r) {
    if (foldable) {
      row(Op::mov64_imm, r, 0, 0, r);
    } else if (r != 1) {
      row(Op::mov64_reg, r, 1, 0, 0);
      row(Op::add64_imm, r, 0, 0, r);
    }
  }
  for (size_t i = 0; slots.size() + 14 < size; ++i) {
    const auto dst = static_cast<uint8_t>(i % 10), src = static_cast<uint8_t>((i * 7 + 3) % 10);
    if (i % 16 == 15) {
      const auto off = static_cast<int16_t>(-8 * static_cast<int>(1 + i / 16 % 32));
      row(Op::stxdw, isa::kFramePointer, src, off, 0);
      row(Op::ldxdw, dst, isa::kFramePointer, off, 0);
    } else if (i % 8 == 7) {
      row(Op::jgt64_imm, dst, 0, 3, static_cast<int32_t>(i));
    } else {
      row(i % 3 == 0 ? Op::add64_reg : i % 3 == 1 ? Op::xor64_reg : Op::mul64_reg, dst, src, 0, 0);
    }
  }
  for (uint8_t r = 1; r <= 9; ++r) row(Op::add64_reg, 0, r, 0, 0);  // every chain reaches r0
  row(Op::exit, 0, 0, 0, 0);
  auto program = isa::decode(slots);
  if (!program) {
    std::fprintf(stderr, "generated program: %s\n", to_string(program.error()).c_str());
    std::exit(1);
  }
  return std::move(*program);
}

struct Timing {
  double lift = 0, passes = 0, codegen = 0;  // seconds, the first try's phases
  double whole = 0;                          // seconds, ir::optimize_program
  bool ok = false;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

Timing compile(const isa::Program& program) {
  Timing t;
  auto start = Clock::now();
  auto module = ir::lift(program);
  t.lift = seconds_since(start);
  if (!module) {
    std::fprintf(stderr, "lift: %s\n", to_string(module.error()).c_str());
    return t;
  }
  start = Clock::now();
  auto optimized = ir::optimize(**module, ir::OptLevel::O2);
  t.passes = seconds_since(start);
  if (!optimized) {
    std::fprintf(stderr, "-O2: %s\n", to_string(optimized.error()).c_str());
    return t;
  }
  start = Clock::now();
  ir::CodegenOptions options;
  options.original = &program;
  auto generated = ir::generate(**module, options);
  t.codegen = seconds_since(start);
  if (!generated) {
    std::fprintf(stderr, "codegen: %s\n", to_string(generated.error()).c_str());
    return t;
  }
  start = Clock::now();
  auto whole = ir::optimize_program(program, ir::OptLevel::O2);
  t.whole = seconds_since(start);
  if (!whole) {
    std::fprintf(stderr, "opt -O2: %s\n", to_string(whole.error()).c_str());
    return t;
  }
  t.ok = true;
  return t;
}

// Best of `runs`: the machine may be busy.
Timing best_of(const isa::Program& program, int runs) {
  Timing best;
  for (int i = 0; i < runs; ++i) {
    const Timing t = compile(program);
    if (!t.ok) return t;
    if (!best.ok || t.whole < best.whole) best = t;
  }
  return best;
}

void size_table(const std::vector<Named>& programs) {
  std::printf("%-34s %8s %8s %8s\n", "program", "clang", "-O2", "change");
  size_t before = 0, after = 0, larger = 0, smaller = 0;
  double log_ratio = 0;
  for (const Named& p : programs) {
    // What `opt -O2` makes; the phases the time table times are not needed.
    auto generated = ir::optimize_program(p.program, ir::OptLevel::O2);
    if (!generated) {
      std::fprintf(stderr, "%s: opt -O2: %s\n", p.name.c_str(), to_string(generated.error()).c_str());
      continue;
    }
    const size_t out_size = generated->size();
    std::printf("%-34s %8zu %8zu %+7.1f%%\n", p.name.c_str(), p.program.size(), out_size,
                100.0 * (static_cast<double>(out_size) / static_cast<double>(p.program.size()) - 1));
    before += p.program.size();
    after += out_size;
    larger += out_size > p.program.size();
    smaller += out_size < p.program.size();
    log_ratio += std::log(static_cast<double>(out_size) / static_cast<double>(p.program.size()));
  }
  std::printf(
      "total: %zu -> %zu instructions (%+.1f%%), mean change per program %+.1f%%; %zu smaller, %zu larger, "
      "%zu programs\n",
      before, after, 100.0 * (static_cast<double>(after) / static_cast<double>(before) - 1),
      100.0 * (std::exp(log_ratio / static_cast<double>(programs.size())) - 1), smaller, larger, programs.size());
}

void time_row(const std::string& name, const isa::Program& program, int runs) {
  const Timing t = best_of(program, runs);
  if (!t.ok) return;
  const double n = static_cast<double>(program.size());
  std::printf("%-34s %9zu %9.0f %9.0f %9.0f %9.0f %9.0f\n", name.c_str(), program.size(), 1e9 * t.lift / n,
              1e9 * t.passes / n, 1e9 * t.codegen / n, 1e9 * (t.lift + t.passes + t.codegen) / n, 1e9 * t.whole / n);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool size = true, time = true;
  size_t max_generated = 1'000'000;
  bool foldable = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--size"))
      time = false;
    else if (!std::strcmp(argv[i], "--time"))
      size = false;
    else if (!std::strcmp(argv[i], "--fold"))
      foldable = true;
    else if (!std::strcmp(argv[i], "--max") && i + 1 < argc)
      max_generated = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: bpfkit_ir_bench [--size | --time] [--max N] [--fold]\n");
      return 2;
    }
  }
  std::vector<Named> programs = bench_programs();
  for (Named& p : object_programs()) programs.push_back(std::move(p));
  if (size) size_table(programs);
  if (time) {
    if (size) std::printf("\n");
    std::printf("%-34s %9s %9s %9s %9s %9s %9s\n", "program (ns per instruction)", "insns", "lift", "-O2", "codegen",
                "total", "opt -O2");
    for (const Named& p : programs) time_row(p.name, p.program, 5);
    for (size_t n : {1'000u, 10'000u, 30'000u, 100'000u, 1'000'000u})
      if (n <= max_generated)
        time_row(std::string(foldable ? "foldable " : "generated ") + std::to_string(n), generated_program(n, foldable),
                 n >= 100'000 ? 1 : 3);
  }
  return 0;
}
