// Every program of the compiled C test objects (tests/bpf/*.o), for the
// tests and benchmarks that go over all of them. Header-only: the IR
// benchmark uses it too.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/load.hpp"

namespace bpfkit::test {

struct ObjectProgram {
  std::string name;     // "object:function"
  std::string section;  // the program's ELF section (its program type)
  isa::Program program;
};

// The programs of every .o in `dir`, files in name order, each file's in
// its own order. CO-RE relocations are kept (elf::LoadOptions::keep_core):
// the programs hold the object's own offsets, as `bpfkit opt` sees them. A
// file or program that does not load is left out (the loader's own tests
// cover those); an absent directory gives none.
inline std::vector<ObjectProgram> object_programs(const std::filesystem::path& dir) {
  std::vector<ObjectProgram> out;
  if (!std::filesystem::is_directory(dir)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".o") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    auto bytes = load::read_file(file.string());
    if (!bytes) {
      bytes.ignore();
      continue;
    }
    auto object = elf::EbpfObject::parse(*bytes, file.string());
    if (!object) {
      object.ignore();
      continue;
    }
    for (const elf::ProgramInfo& info : object->info().programs) {
      auto program = object->load_program(info, {.keep_core = true});
      if (!program) {
        program.ignore();
        continue;
      }
      out.push_back(
          {file.stem().string() + ":" + std::string(info.function), std::string(info.section), std::move(*program)});
    }
  }
  return out;
}

}  // namespace bpfkit::test
