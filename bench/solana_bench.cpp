// Times solana::execute on the interpreter and on the JIT
// (ExecuteOptions::engine) for runtime programs: a checksum over a 10 KiB
// account in loops (loop-heavy, near the 1.4M unit limit), a program that
// invokes a looping callee 50 times (CPI: each invocation prepares its
// engine, the JIT compiling its program), and one that hashes in a
// syscall (host code). For each: compute units and logs of both engines
// (which must agree; exit 1 otherwise), microseconds per execute (the best
// of --repeat rounds of --runs executes each), and the interpreter's time
// over the JIT's.
//
//   bpfkit_solana_bench                  every program
//   bpfkit_solana_bench --repeat 9 --runs 50
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/solana.hpp"

namespace {

using namespace bpfkit;

std::shared_ptr<const isa::Program> assemble(const std::string& source) {
  load::Options options;
  options.dialect = &isa::kSbpfV3;
  options.sbpf.syscalls = solana::syscall_names();
  auto opened = load::open({reinterpret_cast<const uint8_t*>(source.data()), source.size()}, "bench.s", options);
  if (!opened) {
    std::fprintf(stderr, "bench program: %s\n", to_string(opened.error()).c_str());
    std::exit(2);
  }
  return std::make_shared<const isa::Program>(std::move(opened->program));
}

solana::Pubkey key_of(uint8_t fill) {
  solana::Pubkey key;
  key.fill(fill);
  return key;
}

const solana::Pubkey kProgram = key_of(0x42), kCallee = key_of(0x77);

// h = h * 33 + byte over the first account's data (r1 + 96, its length at
// r1 + 88), 14 times: 9 instructions a byte; the hash logged.
const char* kChecksum = R"(
  r6 = r1
  r7 = *(u64 *)(r6 + 88)
  r8 = r6
  r8 += 96
  r0 = 0
  r9 = 14
round:
  r1 = 0
byte:
  r2 = r8
  r2 += r1
  r3 = *(u8 *)(r2 + 0)
  r4 = r0
  r4 <<= 5
  r0 += r4
  r0 += r3
  r1 += 1
  if r1 < r7 goto byte
  r9 -= 1
  if r9 != 0 goto round
  r1 = r0
  r2 = 0
  r3 = 0
  r4 = 0
  r5 = 0
  call sol_log_64_
  r0 = 0
  exit
)";

// Invokes kCallee (no accounts, no data) 50 times.
std::string cpi_caller() {
  std::string s;
  for (int offset : {48, 40, 32, 24})
    s += "r0 = 0x7777777777777777 ll\n*(u64 *)(r10 - " + std::to_string(offset) + ") = r0\n";
  s += "r2 = r10\nr2 += -48\n*(u64 *)(r10 - 128) = r2\nr6 = 50\nloop:\n";
  s += "r1 = r10\nr1 += -128\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\n";
  return s + "r6 -= 1\nif r6 != 0 goto loop\nr0 = 0\nexit\n";
}
const char* kLoopingCallee = "r0 = 0\nr1 = 1000\nl:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto l\nr0 = 0\nexit\n";

// sol_sha256 of the account's 10 KiB, 100 times.
const char* kHashing = R"(
  r6 = r1
  r6 += 96
  *(u64 *)(r10 - 48) = r6
  r6 = 10240
  *(u64 *)(r10 - 40) = r6
  r6 = 100
loop:
  r1 = r10
  r1 += -48
  r2 = 1
  r3 = r10
  r3 += -32
  call sol_sha256
  r6 -= 1
  if r6 != 0 goto loop
  r0 = 0
  exit
)";

struct Bench {
  const char* name;
  std::shared_ptr<const isa::Program> program;
  solana::ExecuteOptions options;
};

struct Timed {
  solana::ExecuteResult result;
  double best_us = 0;
};

Timed time_execute(const Bench& bench, const solana::Instruction& ix, const std::vector<solana::Account>& accounts,
                   bool jit, int repeat, int runs) {
  solana::ExecuteOptions options = bench.options;
  if (jit)
    options.engine = [](const isa::Program& program, const vm::Context& context) {
      return jit::make_jit(program, context);
    };
  Timed out;
  out.best_us = 1e30;
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; ++i) {
      auto result = solana::execute(*bench.program, ix, accounts, options);
      if (!result) {
        std::fprintf(stderr, "%s: %s\n", bench.name, to_string(result.error()).c_str());
        std::exit(2);
      }
      out.result = std::move(*result);
    }
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    out.best_us = std::min(out.best_us, took.count() / runs);
  }
  return out;
}

int count_option(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::max(1, std::atoi(argv[i + 1]));
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeat = count_option(argc, argv, "--repeat", 5), runs = count_option(argc, argv, "--runs", 20);
  solana::Account data;
  data.key = key_of(1);
  data.owner = kProgram;
  data.data.resize(10240);
  for (size_t i = 0; i < data.data.size(); ++i) data.data[i] = static_cast<uint8_t>(i * 7 + 3);
  solana::Instruction ix;
  ix.program_id = kProgram;
  ix.accounts = {{0, false, false}};

  std::vector<Bench> benches;
  solana::ExecuteOptions big;
  big.compute_units = vm::kDefaultComputeBudget;  // 1.4M, a transaction's most
  benches.push_back({"checksum", assemble(kChecksum), big});
  solana::ExecuteOptions cpi = big;
  cpi.programs.emplace_back(kCallee, assemble(kLoopingCallee));
  benches.push_back({"cpi-50", assemble(cpi_caller()), cpi});
  benches.push_back({"sha256", assemble(kHashing), big});

  std::printf("%-10s %12s %12s %12s %12s %8s\n", "program", "CU interp", "CU jit", "us interp", "us jit", "ratio");
  bool same = true;
  for (const Bench& bench : benches) {
    const Timed interp = time_execute(bench, ix, {data}, false, repeat, runs);
    const Timed jit = time_execute(bench, ix, {data}, true, repeat, runs);
    const bool agree = interp.result.compute_units == jit.result.compute_units &&
                       interp.result.logs == jit.result.logs && !interp.result.error == !jit.result.error;
    same &= agree;
    std::printf("%-10s %12llu %12llu %12.1f %12.1f %7.2fx%s\n", bench.name,
                static_cast<unsigned long long>(interp.result.compute_units),
                static_cast<unsigned long long>(jit.result.compute_units), interp.best_us, jit.best_us,
                interp.best_us / jit.best_us, agree ? "" : "  DIFFERENT");
    if (interp.result.error) std::printf("  (the program failed: %s)\n", interp.result.error->message.c_str());
  }
  return same ? 0 : 1;
}
