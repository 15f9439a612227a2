// What libbpf and a skeleton do between opening an object and running it,
// for `bpfkit run`: map sizes (--map-size), global variables (--set, as
// `skel->rodata->x = ...`), `.kconfig` externs (the running system's, or
// --kconfig FILE), then, once the maps exist, their entries (--map,
// --map-file).
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::cli {

struct LoadSetupOptions {
  std::vector<std::string> map_sizes;    // NAME=N
  std::vector<std::string> map_entries;  // NAME=KEYHEX:VALUEHEX (VALUE @INNER for a map of maps)
  std::string map_file;                  // lines of NAME KEYHEX VALUEHEX
  std::vector<std::string> sets;         // NAME=VALUE
  std::string kconfig_file;
};

// Registers --map-size, --map, --map-file, --set and --kconfig.
void add_load_setup_options(CLI::App& app, LoadSetupOptions& options);
// The flags of add_load_setup_options (for the options that apply to eBPF objects only).
inline constexpr const char* kLoadSetupFlags[] = {"--map-size", "--map", "--map-file", "--set", "--kconfig"};

// Before the maps are created: sizes, variables and `.kconfig`, written
// into `program`'s map specs. `object` is the object the program came from.
// Errors are BadOperand, naming the option and what is wrong.
Expected<void> prepare_program(isa::Program& program, const elf::ObjectInfo& object, const LoadSetupOptions& options);

// After: each --map entry, then each line of --map-file, through the maps'
// update (the kernel's flags: BPF_ANY). Queues, stacks and bloom filters
// take an empty key ("-" in the file): a push.
Expected<void> fill_maps(vm::Context& context, const LoadSetupOptions& options);

}  // namespace bpfkit::cli
