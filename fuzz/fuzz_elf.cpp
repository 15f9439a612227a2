// Fuzz target: any bytes through the eBPF object loader, then every program
// it finds through link(). Errors are normal results; crashes, leaks and
// undefined behaviour are bugs.
#include <cstddef>
#include <cstdint>
#include <span>

#include "bpfkit/elf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  const std::span<const uint8_t> file(data, size);
  if (auto reader = elf::Reader::parse(file))
    for (const elf::SectionHeader& s : reader->sections())
      if (s.type == 4 || s.type == 9) static_cast<void>(reader->relocations(s));  // SHT_RELA, SHT_REL
  auto object = elf::EbpfObject::parse(file);
  if (!object) return 0;
  static_cast<void>(object->default_program());
  for (const elf::ProgramInfo& program : object->info().programs) static_cast<void>(object->link(program));
  return 0;
}
