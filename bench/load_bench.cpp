// ELF object load time, and how it grows with the object's size.
//
//   bpfkit_load_bench
//
// Builds objects of 1k to 1M instructions with bpfkit's own assembler and
// ELF writer: a chain of functions in .text, each calling the next and
// loading a map and a global, entered from one `xdp` program. Then times
// EbpfObject::parse (reading and checking the ELF, BTF-free maps) and
// load_program() (linking: appending every subprogram, fixing calls and map
// references; then decoding into an isa::Program), best of 5.
#include <chrono>
#include <cstdio>
#include <string>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"

namespace {

using namespace bpfkit;
using Clock = std::chrono::steady_clock;

constexpr int kInstructionsPerFunction = 16;

// An object with `functions` functions of kInstructionsPerFunction slots.
std::string source(int functions) {
  std::string out = "\t.section xdp,\"ax\",@progbits\n\t.globl entry\n\t.type entry,@function\n";
  out.append("entry:\n\tcall f0\n\texit\n\t.text\n");
  for (int f = 0; f < functions; ++f) {
    std::string name = "f";  // built by appending: GCC 12 warns (-Wrestrict) on "f" + string
    name.append(std::to_string(f));
    out.append("\t.type ").append(name).append(",@function\n").append(name).append(":\n");
    out.append("\tr1 = counters ll\n\tr2 = total ll\n");  // two relocated lddw: 4 slots
    for (int i = 0; i < kInstructionsPerFunction - 7; ++i)
      out.append("\tr0 += ").append(std::to_string(i)).append("\n");
    if (f + 1 < functions)
      out.append("\tcall f").append(std::to_string(f + 1)).append("\n");
    else
      out.append("\tr0 = 0\n");
    out.append("\texit\n");
  }
  out.append("\t.section maps,\"aw\",@progbits\n\t.globl counters\ncounters:\n\t.long 2, 4, 8, 1, 0\n");
  out.append("\t.data\n\t.globl total\ntotal:\n\t.quad 0\n");
  return out;
}

}  // namespace

int main() {
  std::printf("%12s %12s %12s %12s %12s\n", "functions", "slots", "elf bytes", "parse ms", "load ms");
  for (int functions : {64, 640, 6400, 64000}) {
    const assembly::Assembly assembled = assembly::assemble(source(functions), {});
    if (!assembled.ok()) {
      std::fprintf(stderr, "%s\n", to_string(assembled.errors.front()).c_str());
      return 1;
    }
    auto written = assembly::write_elf(assembled.object);
    if (!written) {
      std::fprintf(stderr, "%s\n", to_string(written.error()).c_str());
      return 1;
    }
    const std::vector<uint8_t> elf = std::move(*written);
    double parse_best = 1e30, load_best = 1e30;
    size_t slots = 0;
    for (int run = 0; run < 5; ++run) {
      const auto start = Clock::now();
      auto object = elf::EbpfObject::parse(elf, "generated.o");
      const auto parsed = Clock::now();
      if (!object) {
        std::fprintf(stderr, "parse: %s\n", to_string(object.error()).c_str());
        return 1;
      }
      auto program = object->default_program();
      auto loaded = program ? object->load_program(**program) : Expected<isa::Program>(program.error());
      const auto done = Clock::now();
      if (!loaded) {
        std::fprintf(stderr, "load: %s\n", to_string(loaded.error()).c_str());
        return 1;
      }
      slots = loaded->size();
      parse_best = std::min(parse_best, std::chrono::duration<double, std::milli>(parsed - start).count());
      load_best = std::min(load_best, std::chrono::duration<double, std::milli>(done - parsed).count());
    }
    std::printf("%12d %12zu %12zu %12.3f %12.3f\n", functions, slots, elf.size(), parse_best, load_best);
  }
  return 0;
}
