// Hand-built eBPF relocatable objects (ET_REL, EM_BPF) for the ELF tests:
// any sections (names may repeat), symbols and relocations a test asks for,
// laid out with the records of bpfkit/elf_format.hpp. Nothing is checked:
// hostile layouts are the point.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/elf_format.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::test {

struct ObjectBuilder {
  struct Section {
    std::string name;
    uint32_t type = elf::kShtProgbits;
    uint64_t flags = 0;
    std::vector<uint8_t> data;
    uint64_t size = UINT64_MAX;  // sh_size; UINT64_MAX: data.size()
    uint32_t link = 0, info = 0;
    uint64_t entsize = 0;
  };

  std::vector<Section> sections;      // ELF section i + 1
  std::vector<elf::Sym> symbols;      // symbol i + 1
  std::vector<uint8_t> strtab = {0};  // symbol names

  // Adds a section; its ELF index.
  uint32_t section(Section s) {
    sections.push_back(std::move(s));
    return static_cast<uint32_t>(sections.size());
  }
  uint32_t code(std::string name, const std::vector<isa::Slot>& slots) {
    return section({std::move(name), elf::kShtProgbits, elf::kShfAlloc | elf::kShfExecinstr, isa::to_bytes(slots)});
  }
  // A string of .strtab; its offset.
  uint32_t name(std::string_view text) {
    const auto at = static_cast<uint32_t>(strtab.size());
    strtab.insert(strtab.end(), text.begin(), text.end());
    strtab.push_back(0);
    return at;
  }
  // Adds a symbol; its index.
  uint32_t symbol(uint32_t name_offset, uint8_t binding, uint8_t type, uint16_t section, uint64_t value,
                  uint64_t size = 0) {
    symbols.push_back({name_offset, elf::st_info(binding, type), 0, section, value, size});
    return static_cast<uint32_t>(symbols.size());
  }
  uint32_t symbol(std::string_view text, uint8_t binding, uint8_t type, uint16_t section, uint64_t value,
                  uint64_t size = 0) {
    return symbol(name(text), binding, type, section, value, size);
  }
  // A .rel<target> section of REL entries.
  void relocations(uint32_t target, const std::vector<elf::Rel>& entries) {
    std::vector<uint8_t> data(entries.size() * sizeof(elf::Rel));
    if (!entries.empty()) std::memcpy(data.data(), entries.data(), data.size());
    section({".rel" + sections.at(target - 1).name, elf::kShtRel, 0, std::move(data), UINT64_MAX, 0, target,
             sizeof(elf::Rel)});
  }

  // The object: the sections, then .symtab, .strtab and .shstrtab.
  std::vector<uint8_t> build() const {
    std::vector<Section> all = sections;
    const auto symtab_index = static_cast<uint32_t>(all.size() + 1);
    std::vector<elf::Sym> table(1);
    table.insert(table.end(), symbols.begin(), symbols.end());
    std::vector<uint8_t> symbytes(table.size() * sizeof(elf::Sym));
    std::memcpy(symbytes.data(), table.data(), symbytes.size());
    all.push_back(
        {".symtab", elf::kShtSymtab, 0, std::move(symbytes), UINT64_MAX, symtab_index + 1, 1, sizeof(elf::Sym)});
    all.push_back({".strtab", elf::kShtStrtab, 0, strtab});
    all.push_back({".shstrtab", elf::kShtStrtab, 0, {0}});
    std::vector<uint32_t> names;
    for (const Section& s : all) {
      names.push_back(static_cast<uint32_t>(all.back().data.size()));
      all.back().data.insert(all.back().data.end(), s.name.begin(), s.name.end());
      all.back().data.push_back(0);
    }

    std::vector<uint8_t> out(sizeof(elf::Ehdr));
    std::vector<elf::Shdr> headers(1);
    for (size_t i = 0; i < all.size(); ++i) {
      out.resize((out.size() + 7) & ~size_t{7});
      const Section& s = all[i];
      headers.push_back({names[i], s.type, s.flags, 0, out.size(), s.size == UINT64_MAX ? s.data.size() : s.size,
                         s.link, s.info, 8, s.entsize});
      out.insert(out.end(), s.data.begin(), s.data.end());
    }
    out.resize((out.size() + 7) & ~size_t{7});
    elf::Ehdr header{};
    std::memcpy(header.e_ident, elf::kElfMagic, 4);
    header.e_ident[elf::kEiClass] = elf::kElfClass64;
    header.e_ident[elf::kEiData] = elf::kElfData2Lsb;
    header.e_ident[elf::kEiVersion] = elf::kEvCurrent;
    header.e_type = elf::kEtRel;
    header.e_machine = elf::kEmBpf;
    header.e_version = elf::kEvCurrent;
    header.e_shoff = out.size();
    header.e_ehsize = sizeof(elf::Ehdr);
    header.e_shentsize = sizeof(elf::Shdr);
    header.e_shnum = static_cast<uint16_t>(headers.size());
    header.e_shstrndx = static_cast<uint16_t>(headers.size() - 1);
    std::memcpy(out.data(), &header, sizeof header);
    const size_t at = out.size();
    out.resize(at + headers.size() * sizeof(elf::Shdr));
    std::memcpy(out.data() + at, headers.data(), headers.size() * sizeof(elf::Shdr));
    return out;
  }
};

}  // namespace bpfkit::test
