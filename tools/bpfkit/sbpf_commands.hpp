// `bpfkit run` of a Solana sBPF shared object: load as the production loader
// does, then run in the sBPF VM with compute-unit metering.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::cli {

struct SbpfRunOptions {
  std::string file;
  std::vector<uint8_t> input;  // the input region (r1)
  uint64_t compute_budget = vm::sbpf::kDefaultComputeBudget;
  bool deploy_checks = false;
  bool json = false, regs = false;
};

// Whether an ELF file is an sBPF program (a shared object, or e_machine
// EM_SBPF) rather than a clang relocatable object.
bool is_sbpf_elf(std::span<const uint8_t> file);

// Loads as `run` does: the built-in syscalls registered, errors naming the file.
Expected<elf::sbpf::Program> load_sbpf(std::span<const uint8_t> file, const std::string& name,
                                       bool deploy_checks = false);

int run_sbpf_command(std::span<const uint8_t> file, const SbpfRunOptions& options);

// What the loader finds: version, layout, entry, functions and syscalls.
int objdump_sbpf_command(std::span<const uint8_t> file, const std::string& name, bool json);

}  // namespace bpfkit::cli
