// Assembler and disassembler throughput, next to llvm-mc on the same input.
//
//   bpfkit_asm_bench [LINES]   (default 1,000,000)
//
// Generates LINES lines of pseudo-C in the subset llvm-mc 14 also reads
// (ALU, loads, stores, atomics, lddw, conditional jumps to labels, calls),
// then times our assembler (text -> object -> ELF bytes, in process) and
// the `llvm-mc -triple bpfel -filetype=obj` process on the same file (each
// the best of three runs, in turns; llvm-mc-19 where installed, or $LLVM_MC),
// and our disassembler on the resulting .text.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bpfkit/assembly.hpp"

namespace {

using namespace bpfkit;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// A deterministic mix of instruction forms; a label every 64 lines, and
// jumps forward to the next one.
std::string generate(size_t lines) {
  static const char* const kForms[] = {
      "r{a} += r{b}",
      "r{a} -= {i}",
      "w{a} *= w{b}",
      "r{a} = {i}",
      "r{a} <<= 3",
      "w{a} ^= {i}",
      "r{a} s>>= r{b}",
      "r{a} = *(u32 *)(r{b} + {o})",
      "*(u64 *)(r10 - {o}) = r{a}",
      "r{a} = *(u64 *)(r10 - {o})",
      "if r{a} > r{b} goto {l}",
      "if r{a} == {i} goto {l}",
      "lock *(u64 *)(r10 - {o}) += r{a}",
      "r{a} = 0x1122334455667788 ll",
      "r{a} |= 0x7f",
      "call 5",
      "r{a} &= r{b}",
      "w{a} = w{b}",
  };
  std::string out;
  out.reserve(lines * 28);
  uint64_t state = 0x9e3779b97f4a7c15;
  size_t label = 0;
  for (size_t line = 0; line < lines; ++line) {
    if (line % 64 == 0) {
      out += ".L" + std::to_string(label++) + ":\n";
      continue;
    }
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    std::string form = kForms[(state >> 33) % (sizeof kForms / sizeof kForms[0])];
    const auto put = [&](const std::string& key, const std::string& value) {
      for (size_t at; (at = form.find(key)) != std::string::npos;) form.replace(at, key.size(), value);
    };
    put("{a}", std::to_string((state >> 20) % 10));
    put("{b}", std::to_string((state >> 24) % 10));
    put("{i}", std::to_string(static_cast<int>((state >> 40) % 2000) - 1000));
    put("{o}", std::to_string(8 * (1 + (state >> 28) % 60)));
    put("{l}", ".L" + std::to_string(label));
    out += "\t" + form + "\n";
  }
  out += ".L" + std::to_string(label) + ":\n\texit\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t lines = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string source = generate(lines);
  const auto path = std::filesystem::temp_directory_path() / "bpfkit-asm-bench.s";
  std::ofstream(path) << source;

  // The reference is the llvm-mc-19 that scripts/bootstrap installs;
  // LLVM_MC names another.
  const char* chosen = std::getenv("LLVM_MC");
  const std::string llvm_mc = chosen                                                      ? chosen
                              : std::system("command -v llvm-mc-19 >/dev/null 2>&1") == 0 ? "llvm-mc-19"
                                                                                          : "llvm-mc";
  const std::string command = llvm_mc + " -triple bpfel -filetype=obj -o /dev/null " + path.string() + " 2>&1";

  // Both tools run in turns, best of three each, so that a busy machine
  // slows both alike.
  double ours = 1e30, theirs = 1e30;
  int status = 0;
  assembly::Assembly result;
  for (int run = 0; run < 3; ++run) {
    const auto start = Clock::now();
    result = assembly::assemble(source, {});
    const auto elf = assembly::write_elf(result.object);
    ours = std::min(ours, seconds_since(start));
    if (!result.ok() || !elf) {
      std::fprintf(stderr, "assembly failed: %s\n",
                   to_string(result.ok() ? elf.error() : result.errors.front()).c_str());
      return 1;
    }
    if (status != 0) continue;
    const auto begin = Clock::now();
    status = std::system(command.c_str());
    theirs = std::min(theirs, seconds_since(begin));
  }
  std::printf("bpfkit asm:    %zu lines in %.3f s = %.2f M lines/s\n", lines, ours, lines / ours / 1e6);
  if (status == 0)
    std::printf("%-14s %zu lines in %.3f s = %.2f M lines/s  (bpfkit is %.1fx faster)\n", (llvm_mc + ":").c_str(),
                lines, theirs, lines / theirs / 1e6, theirs / ours);
  else
    std::printf("llvm-mc:       not run (%s failed with status %d)\n", llvm_mc.c_str(), status);

  const std::vector<isa::Slot> text = assembly::section_slots(result.object);
  double disasm = 1e30;
  size_t chars = 0;
  for (int run = 0; run < 3; ++run) {
    const auto begin = Clock::now();
    chars = assembly::disassemble(text).size();
    disasm = std::min(disasm, seconds_since(begin));
  }
  std::printf("bpfkit disasm: %zu instructions in %.3f s = %.2f M instructions/s (%zu bytes of text)\n", text.size(),
              disasm, text.size() / disasm / 1e6, chars);
  if (!std::getenv("KEEP")) std::filesystem::remove(path);
  return 0;
}
