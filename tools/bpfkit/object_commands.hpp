// Subcommands over eBPF objects: `objdump`, and `run` of an ELF object.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bpfkit::cli {

struct ObjdumpOptions {
  std::string file;
  bool json = false;
};

// Sections, programs, maps and relocations of a clang-compiled object.
int objdump_command(const ObjdumpOptions& options);

struct ObjectRunOptions {
  std::string file, section, function;
  std::optional<std::vector<uint8_t>> memory;  // r1 / r2
  uint64_t budget = 0;
  bool json = false, stats = false, dump_maps = false;
};

// Loads one program of the object as libbpf would, creates its maps, runs it.
int run_object_command(std::span<const uint8_t> file, const ObjectRunOptions& options);

}  // namespace bpfkit::cli
