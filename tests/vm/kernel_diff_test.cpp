// Differential test: bpfkit's interpreter against the Linux kernel running on
// this machine. Random programs (random_program.hpp) go through the kernel
// oracle (verifier verdict and the full 64-bit r0 of a test run) and through
// isa::decode + vm::Interpreter and the JIT; every r0 must match exactly.
//
//   BPFKIT_KERNEL_DIFF_COUNT  programs to run (default 3000)
//   BPFKIT_KERNEL_DIFF_SEED   base seed; program i uses seed + i, so
//                             SEED=seed+i COUNT=1 reproduces one program
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/vm.hpp"
#include "random_program.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using bpfkit::isa::Slot;

constexpr const char* kOracle = BPFKIT_KERNEL_ORACLE;
constexpr uint64_t kDefaultCount = 3000;
constexpr uint64_t kDefaultSeed = 20240917;
constexpr size_t kBatchSize = 250;             // programs per shell: one fork+exec of the oracle each
constexpr double kMaxRejectedFraction = 0.01;  // more means the generator is broken
constexpr size_t kMaxReportedMismatches = 5;   // the rest are only counted
constexpr size_t kLogTailLines = 15;           // the verifier's error is at the end of its log

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 0) : fallback;
}

// ---- Files and processes ---------------------------------------------------

using bpfkit::test::TempDir;

using bpfkit::test::command_output;
using bpfkit::test::shell_quote;
using bpfkit::test::write_slots;

std::string program_name(size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "p%07zu.bin", index);
  return name;
}

// ---- The oracle's output -----------------------------------------------------

struct OracleResult {
  bool has_verdict = false;
  bool accepted = false;
  std::optional<uint64_t> r0;  // the full 64 bits, from the wrapped test run
  std::string text;            // everything the oracle printed
};

OracleResult parse_oracle(std::string text) {
  OracleResult result;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("verdict: ")) {
      result.has_verdict = true;
      result.accepted = line == "verdict: accepted";
    } else if (line.starts_with("r0: ")) {
      result.r0 = std::strtoull(line.c_str() + 4, nullptr, 16);
    }
  }
  result.text = std::move(text);
  return result;
}

// The last lines of the verifier log, where the kernel says what it refused.
std::string verifier_log_tail(const std::string& text) {
  const size_t begin = text.find("--- verifier log ---");
  const size_t end = text.find("--- end log ---");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return text;
  std::vector<std::string> lines;
  std::istringstream log(text.substr(begin, end - begin));
  for (std::string line; std::getline(log, line);) lines.push_back(line);
  std::string tail;
  for (size_t i = lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0; i < lines.size(); ++i)
    tail += lines[i] + "\n";
  return tail;
}

// Runs the oracle on every program_name(first + i), i < count, in dir. One
// shell loops over the files so each program costs one fork+exec, not two.
std::vector<OracleResult> run_oracle_batch(const fs::path& dir, size_t first, size_t count) {
  const std::string command = "cd " + shell_quote(dir.string()) + " && for f in p*.bin; do echo \"@@@ $f\"; " +
                              shell_quote(kOracle) + " -f bin \"$f\" 2>&1; done";
  std::vector<OracleResult> results(count);
  const std::optional<std::string> output = command_output(command);
  if (!output) return results;
  // Split at the markers; the file name gives the program's index.
  size_t at = output->find("@@@ ");
  while (at != std::string::npos) {
    const size_t name_end = output->find('\n', at);
    const size_t next = output->find("@@@ ", name_end);
    const size_t index = std::strtoull(output->c_str() + at + 5, nullptr, 10);  // skip "@@@ p"
    if (name_end != std::string::npos && index >= first && index < first + count)
      results[index - first] = parse_oracle(output->substr(name_end + 1, next - name_end - 1));
    at = next;
  }
  return results;
}

// Why the oracle cannot be used here, or nullopt if it works.
std::optional<std::string> oracle_unavailable(const fs::path& dir) {
  if (access(kOracle, X_OK) != 0) return std::string("kernel oracle not found at ") + kOracle;
  const std::array<Slot, 2> probe = {bpfkit::isa::encode(bpfkit::isa::Op::mov64_imm, 0, 0, 0, 42),
                                     bpfkit::isa::encode(bpfkit::isa::Op::exit)};
  const fs::path file = dir / "probe.bin";
  write_slots(file, probe);
  const std::optional<std::string> output =
      command_output(shell_quote(kOracle) + " -f bin " + shell_quote(file.string()) + " 2>&1");
  fs::remove(file);
  if (!output) return "could not start the kernel oracle";
  if (output->find("EPERM") != std::string::npos)
    return "bpf() refused with EPERM (needs root or CAP_BPF):\n" + *output;
  const OracleResult result = parse_oracle(*output);
  if (!result.r0) return "the kernel oracle printed no r0: line for `r0 = 42; exit`:\n" + *output;
  return std::nullopt;
}

// ---- bpfkit's side -------------------------------------------------------------

struct BpfkitResult {
  std::optional<uint64_t> r0;
  std::string error;
};

// r1..r5 start at 0 here but hold the context in the kernel: the generator
// writes them before reading them.
// `jit`: the JIT instead of the interpreter.
BpfkitResult run_bpfkit(std::span<const Slot> slots, bool jit = false) {
  auto program = bpfkit::isa::decode(slots);
  if (!program) return {std::nullopt, "decode: " + bpfkit::to_string(program.error())};
  bpfkit::vm::Context context;
  auto engine = jit ? bpfkit::jit::make_jit(*program, context) : bpfkit::vm::make_interpreter(*program, context);
  if (!engine) return {std::nullopt, "create: " + bpfkit::to_string(engine.error())};
  const bpfkit::vm::RunResult result = (*engine)->run(context);
  if (result.error) return {std::nullopt, "run: " + bpfkit::to_string(*result.error)};
  return {result.r0, ""};
}

// ---- Reports -------------------------------------------------------------------

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(value));
  return text;
}

// One slot per line in the oracle's hex format (bytes in memory order), with
// the row name as a comment, so the text can be fed back to the oracle.
std::string describe_program(std::span<const Slot> slots) {
  std::string text;
  bool lddw_high = false;
  for (size_t pc = 0; pc < slots.size(); ++pc) {
    const std::vector<uint8_t> bytes = bpfkit::isa::to_bytes(slots.subspan(pc, 1));
    char line[64];
    std::snprintf(line, sizeof line, "%02x %02x %02x %02x %02x %02x %02x %02x  ; %3zu ", bytes[0], bytes[1], bytes[2],
                  bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], pc);
    text += line;
    if (lddw_high) {
      text += "(lddw high half)\n";
      lddw_high = false;
      continue;
    }
    const std::optional<bpfkit::isa::Op> op = bpfkit::isa::lookup(slots[pc]);
    text += (op ? std::string(bpfkit::isa::info(*op).id) : std::string("?")) + "\n";
    lddw_high = op.has_value() && bpfkit::isa::is_lddw(op.value());
  }
  return text;
}

struct Tally {
  size_t run = 0, accepted = 0, rejected = 0, mismatches = 0, oracle_failures = 0;
  std::string first_rejection;
};

// Compares one program's two results; reports and counts what differs.
void check_program(uint64_t seed, size_t index, std::span<const Slot> slots, const OracleResult& kernel, Tally& tally) {
  ++tally.run;
  const std::string where = "seed " + std::to_string(seed) + " index " + std::to_string(index) +
                            " (reproduce: BPFKIT_KERNEL_DIFF_SEED=" + std::to_string(seed + index) +
                            " BPFKIT_KERNEL_DIFF_COUNT=1)";
  if (!kernel.has_verdict || (kernel.accepted && !kernel.r0)) {
    ++tally.oracle_failures;
    ADD_FAILURE() << "kernel oracle gave no verdict or no r0 for " << where << ":\n"
                  << kernel.text << describe_program(slots);
    return;
  }
  if (!kernel.accepted) {
    if (tally.rejected++ == 0)
      tally.first_rejection = where + "\n" + verifier_log_tail(kernel.text) + "program:\n" + describe_program(slots);
    return;
  }
  ++tally.accepted;
  BpfkitResult ours = run_bpfkit(slots);
  std::string engine = "interpreter";
  if (ours.r0 == kernel.r0) {  // the JIT too
    ours = run_bpfkit(slots, true);
    engine = "jit";
  }
  if (ours.r0 == kernel.r0) return;
  if (tally.mismatches++ >= kMaxReportedMismatches) return;
  ADD_FAILURE() << "r0 mismatch at " << where << "\n"
                << "kernel r0: " << hex64(*kernel.r0) << "\n"
                << "bpfkit r0 (" << engine << "): " << (ours.r0 ? hex64(*ours.r0) : ours.error) << "\n"
                << "program:\n"
                << describe_program(slots);
}

TEST(KernelDiffTest, InterpreterMatchesKernelOnRandomPrograms) {
  const TempDir dir;
  ASSERT_FALSE(dir.path().empty()) << "cannot create a temporary directory";
  if (const auto why = oracle_unavailable(dir.path())) GTEST_SKIP() << *why;

  const size_t count = env_number("BPFKIT_KERNEL_DIFF_COUNT", kDefaultCount);
  const uint64_t seed = env_number("BPFKIT_KERNEL_DIFF_SEED", kDefaultSeed);
  const auto start = std::chrono::steady_clock::now();
  Tally tally;
  for (size_t first = 0; first < count; first += kBatchSize) {
    const size_t batch = std::min(kBatchSize, count - first);
    std::vector<std::vector<Slot>> programs;
    for (size_t i = first; i < first + batch; ++i) {
      programs.push_back(bpfkit::testing::random_program(seed + i));
      write_slots(dir.path() / program_name(i), programs.back());
    }
    const std::vector<OracleResult> kernel = run_oracle_batch(dir.path(), first, batch);
    for (size_t i = 0; i < batch; ++i) {
      check_program(seed, first + i, programs[i], kernel[i], tally);
      fs::remove(dir.path() / program_name(first + i));
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

  std::cout << "kernel diff: seed " << seed << ", " << tally.run << " programs run, " << tally.accepted << " accepted, "
            << tally.rejected << " rejected, " << tally.mismatches << " mismatches, " << tally.oracle_failures
            << " oracle failures, " << elapsed.count() << " s" << std::endl;
  EXPECT_EQ(tally.mismatches, 0u) << "(at most " << kMaxReportedMismatches << " are printed above)";
  EXPECT_LE(static_cast<double>(tally.rejected), kMaxRejectedFraction * static_cast<double>(count))
      << "the kernel rejected " << tally.rejected << " of " << count
      << " generated programs (a generator bug); the first:\n"
      << tally.first_rejection;
}

}  // namespace

// ---- Clang-compiled objects -------------------------------------------------------

// The C test programs that need no maps or helpers, linked by the ELF loader,
// run on the kernel and on bpfkit: the same r0.
TEST(KernelDiffTest, ObjectsMatchKernel) {
  const TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = oracle_unavailable(dir.path())) GTEST_SKIP() << *why;
  const fs::path objects = BPFKIT_TEST_BPF_DIR;
  if (!fs::exists(objects / "compute.o")) GTEST_SKIP() << "the C test programs were not built (clang-19 missing)";
  for (const char* name : {"compute", "subprogs"}) {
    const std::string text = bpfkit::test::read_text(objects / (std::string(name) + ".o"));
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    auto object = bpfkit::elf::EbpfObject::parse(bytes, name);
    ASSERT_TRUE(object.has_value()) << bpfkit::to_string(object.error());
    auto program = object->default_program();
    ASSERT_TRUE(program.has_value()) << bpfkit::to_string(program.error());
    auto linked = object->load_program(**program);
    ASSERT_TRUE(linked.has_value()) << bpfkit::to_string(linked.error());
    const fs::path file = dir.path() / (std::string(name) + ".bin");
    write_slots(file, linked->slots);
    const auto output = command_output(std::string(kOracle) + " -f bin " + shell_quote(file.string()) + " 2>&1");
    ASSERT_TRUE(output.has_value());
    const OracleResult kernel = parse_oracle(*output);
    ASSERT_TRUE(kernel.accepted && kernel.r0) << name << ": the kernel refused it\n" << verifier_log_tail(kernel.text);
    const BpfkitResult ours = run_bpfkit(linked->slots);
    ASSERT_TRUE(ours.r0) << name << ": " << ours.error;
    EXPECT_EQ(*ours.r0, *kernel.r0) << name << ": bpfkit " << hex64(*ours.r0) << ", kernel " << hex64(*kernel.r0);
    std::cout << "kernel diff: " << name << ".o r0 " << hex64(*ours.r0) << " on both\n";
  }
}
