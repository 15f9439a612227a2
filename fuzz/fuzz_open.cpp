// Fuzz target: any bytes through load::open(), the one entry point the CLI
// and the C API read files with, under each name kind decides by (raw, hex,
// conformance .data, assembly, ELF) and in each dialect; a program that opens
// is run for a bounded number of instructions. The first byte picks the name,
// the second the dialect; the rest is the file. Errors are normal results;
// crashes, leaks and undefined behaviour are bugs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace {

using namespace bpfkit;

// Names whose extension (or lack of one) kind_of() reads.
constexpr const char* kNames[] = {"fuzz.bin", "fuzz.hex", "fuzz.data", "fuzz.s", "fuzz.o", "fuzz.so", "fuzz"};

void run(const load::Opened& opened) {
  vm::Context context(*opened.program.dialect);
  context.set_budget(10000);
  // Maps up to 2 GiB are legal; the fuzzer keeps to small ones so that its
  // memory limit measures leaks, not a map a mutated object asked for.
  for (const isa::MapSpec& spec : opened.program.maps)
    if (uint64_t{spec.value_size} * spec.max_entries > (uint64_t{64} << 20) || spec.max_entries > (64u << 20)) return;
  if (!context.add_maps(opened.program)) return;
  auto engine = vm::make_interpreter(opened.program, context);
  if (!engine) return;
  std::vector<uint8_t> memory = opened.memory.value_or(std::vector<uint8_t>(64));
  context.map_input(memory);
  static_cast<void>((*engine)->run(context));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string name = kNames[data[0] % std::size(kNames)];
  const std::vector<std::string> dialects = load::dialect_names();
  load::Options options;
  options.kernel_btf = false;  // the machine's BTF would make runs differ between machines (and be slow)
  options.dialect = load::dialect_named(dialects[data[1] % dialects.size()]);
  auto opened = load::open(std::span<const uint8_t>(data + 2, size - 2), name, options);
  if (opened) run(*opened);
  return 0;
}
