// Loading and running each kind of program for `run` and `plugin`: every
// runner gives one RunReport, faults and rejections included, so that one
// printer shows them all.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"
#include "report.hpp"

namespace bpfkit::cli {

// r1 = the buffer, r2 = its length (Linux); the input region (sBPF).
using Memory = std::optional<std::vector<uint8_t>>;

struct LinuxRun {
  std::string file;  // names the file in load errors
  uint64_t budget = vm::kDefaultBudget;
  bool registers = false;
};

// Raw slots under the Linux interpreter.
RunReport run_linux(std::span<const isa::Slot> slots, Memory memory, const LinuxRun& options);

struct ObjectRun {
  LinuxRun run;
  std::string section, function;  // which program; none: the object's default
  bool dump_maps = false;
};

// One program of an eBPF object, loaded as libbpf would, with its maps.
RunReport run_ebpf_object(std::span<const uint8_t> file, Memory memory, const ObjectRun& options);

struct SbpfRun {
  std::string file;
  uint64_t compute_budget = vm::kDefaultComputeBudget;
  bool deploy_checks = false;
  bool registers = false;
};

// An sBPF shared object through the sBPF loader and VM.
RunReport run_sbpf_object(std::span<const uint8_t> file, Memory memory, const SbpfRun& options);

// "hash", "ringbuf", ... (objdump and --dump-maps).
const char* map_type_name(uint32_t type);

// Raw sBPF text (no ELF around it), checked by `dialect`'s verifier and run
// as the sBPF VM tests run it: text at the program region (v0-v2: readable
// there as rodata; v3: rodata empty at 0), entry pc 0. In v0-v2 a `call imm`
// reaches pc p when imm is p's key (isa::sbpf_pc_key), the entrypoint's key
// reaches pc 0, and any other call that is no syscall is pc-relative, as the
// ELF loader reads it.
RunReport run_sbpf_text(std::vector<isa::Slot> text, const isa::Dialect& dialect, Memory memory,
                        const SbpfRun& options);

// Loads as `run` does: the built-in syscalls registered, errors naming the file.
Expected<elf::sbpf::Program> load_sbpf(std::span<const uint8_t> file, const std::string& name,
                                       bool deploy_checks = false);

}  // namespace bpfkit::cli
