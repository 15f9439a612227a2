// Hand-built sBPF shared objects for the loader tests and the load
// benchmark: a v0 layout as the Solana toolchain writes it, with the
// sections, dynamic table, symbols and relocations a test asks for.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::test::sbpf_elf {

using isa::Slot;

inline void put(std::vector<uint8_t>& bytes, uint64_t offset, uint64_t value, unsigned width) {
  for (unsigned i = 0; i < width; ++i) bytes.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
}

inline Slot slot(uint8_t code, uint8_t dst = 0, uint8_t src = 0, int32_t imm = 0) {
  Slot s;
  s.code = code;
  s.set_dst(dst);
  s.set_src(src);
  s.imm = imm;
  return s;
}
inline const Slot kExit = slot(0x95);
inline Slot mov(int32_t imm) { return slot(0xb7, 0, 0, imm); }
inline Slot call(int32_t imm, uint8_t src = 0) { return slot(0x85, 0, src, imm); }

// A v0 shared object as the Solana toolchain lays it out: .text, optional
// .rodata and extra sections, .dynamic (DT_REL/DT_SYMTAB), .dynsym, .dynstr,
// .rel.dyn, .symtab, .strtab, .shstrtab; section addresses equal offsets.
struct ElfBuilder {
  struct Symbol {
    Symbol(std::string n, uint8_t i = 0x12, int64_t p = -1, std::optional<uint64_t> v = std::nullopt)
        : name(std::move(n)), info(i), pc(p), value(v) {}
    std::string name;
    uint8_t info;  // 0x12: GLOBAL FUNC
    int64_t pc;    // -1: undefined (value 0)
    std::optional<uint64_t> value;
  };
  struct Reloc {
    std::string section = ".text";
    uint64_t offset = 0;  // in that section
    uint32_t type = 1;
    uint32_t symbol = 0;
  };
  struct Extra {
    std::string name;
    uint32_t type = 1;
    uint64_t flags = 2;
    std::vector<uint8_t> data;
  };

  uint32_t version = 0;
  uint16_t machine = 263;
  uint64_t entry_pc = 0;
  std::vector<Slot> text = {mov(0), kExit};
  std::vector<uint8_t> rodata;
  std::vector<Extra> extra;
  std::vector<Symbol> dynsyms;  // index 0 (null) is added
  std::vector<Reloc> relocs;
  std::vector<Symbol> symbols;  // .symtab, index 0 added

  // Filled by build().
  std::map<std::string, uint64_t> offset_of, header_of;
  uint64_t shoff = 0;

  std::vector<uint8_t> build() {
    struct Sec {
      std::string name;
      uint32_t type;
      uint64_t flags;
      std::vector<uint8_t> data;
      bool alloc;
      uint32_t link = 0;
      uint64_t entsize = 0;
    };
    std::vector<Sec> secs;
    secs.push_back({".text", 1, 6, isa::to_bytes(text), true});
    if (!rodata.empty()) secs.push_back({".rodata", 1, 2, rodata, true});
    for (const auto& e : extra) secs.push_back({e.name, e.type, e.flags, e.data, (e.flags & 2) != 0});
    secs.push_back({".dynamic", 6, 3, std::vector<uint8_t>(5 * 16), true});
    secs.push_back({".dynsym", 11, 2, std::vector<uint8_t>((dynsyms.size() + 1) * 24), true, 0, 24});
    secs.push_back({".dynstr", 3, 2, {0}, true});
    if (!relocs.empty()) secs.push_back({".rel.dyn", 9, 2, std::vector<uint8_t>(relocs.size() * 16), true, 0, 16});
    secs.push_back({".symtab", 2, 0, std::vector<uint8_t>((symbols.size() + 1) * 24), false, 0, 24});
    secs.push_back({".strtab", 3, 0, {0}, false});
    secs.push_back({".shstrtab", 3, 0, {0}, false});
    auto index_of = [&](const std::string& n) {
      for (size_t i = 0; i < secs.size(); ++i)
        if (secs[i].name == n) return i;
      return secs.size();
    };
    // String tables first: their sizes fix the layout.
    auto add_string = [](std::vector<uint8_t>& table, const std::string& s) {
      auto at = static_cast<uint32_t>(table.size());
      table.insert(table.end(), s.begin(), s.end());
      table.push_back(0);
      return at;
    };
    std::vector<uint32_t> dyn_names, sym_names, sec_names;
    for (const auto& s : dynsyms) dyn_names.push_back(add_string(secs[index_of(".dynstr")].data, s.name));
    for (const auto& s : symbols) sym_names.push_back(add_string(secs[index_of(".strtab")].data, s.name));
    for (const auto& s : secs) sec_names.push_back(add_string(secs[index_of(".shstrtab")].data, s.name));
    // Layout: header, then each section 8-aligned, then the section headers.
    uint64_t at = 64;
    std::vector<uint64_t> offsets;
    for (const auto& s : secs) {
      at = (at + 7) & ~uint64_t{7};
      offsets.push_back(at);
      offset_of[s.name] = at;
      at += s.data.size();
    }
    shoff = (at + 7) & ~uint64_t{7};
    const uint64_t text_at = offsets[0];
    auto symbol_bytes = [&](std::vector<uint8_t>& table, size_t i, uint32_t name, const Symbol& s) {
      put(table, (i + 1) * 24, name, 4);
      table[(i + 1) * 24 + 4] = s.info;
      uint64_t value = s.value ? *s.value : (s.pc < 0 ? 0 : text_at + static_cast<uint64_t>(s.pc) * 8);
      put(table, (i + 1) * 24 + 8, value, 8);
    };
    for (size_t i = 0; i < dynsyms.size(); ++i)
      symbol_bytes(secs[index_of(".dynsym")].data, i, dyn_names[i], dynsyms[i]);
    for (size_t i = 0; i < symbols.size(); ++i)
      symbol_bytes(secs[index_of(".symtab")].data, i, sym_names[i], symbols[i]);
    for (size_t i = 0; i < relocs.size(); ++i) {
      auto& table = secs[index_of(".rel.dyn")].data;
      put(table, i * 16, offset_of.at(relocs[i].section) + relocs[i].offset, 8);
      put(table, i * 16 + 8, uint64_t{relocs[i].symbol} << 32 | relocs[i].type, 8);
    }
    auto& dyn = secs[index_of(".dynamic")].data;
    const uint64_t tags[][2] = {{17, relocs.empty() ? 0 : offset_of[".rel.dyn"]},
                                {18, relocs.size() * 16},
                                {19, 16},
                                {6, offset_of[".dynsym"]}};
    for (size_t i = 0; i < 4; ++i) {
      put(dyn, i * 16, tags[i][0], 8);
      put(dyn, i * 16 + 8, tags[i][1], 8);
    }
    secs[index_of(".dynsym")].link = static_cast<uint32_t>(index_of(".dynstr"));
    secs[index_of(".symtab")].link = static_cast<uint32_t>(index_of(".strtab"));

    std::vector<uint8_t> out(shoff + (secs.size() + 1) * 64, 0);
    const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    std::memcpy(out.data(), ident, sizeof ident);
    put(out, 16, 3, 2);  // ET_DYN
    put(out, 18, machine, 2);
    put(out, 20, 1, 4);
    put(out, 24, text_at + entry_pc * 8, 8);
    put(out, 32, 0, 8);  // no program headers
    put(out, 40, shoff, 8);
    put(out, 48, version, 4);
    put(out, 52, 64, 2);
    put(out, 54, 56, 2);
    put(out, 56, 0, 2);
    put(out, 58, 64, 2);
    put(out, 60, secs.size() + 1, 2);
    put(out, 62, secs.size(), 2);  // .shstrtab is last
    for (size_t i = 0; i < secs.size(); ++i) {
      std::copy(secs[i].data.begin(), secs[i].data.end(), out.begin() + static_cast<std::ptrdiff_t>(offsets[i]));
      uint64_t h = shoff + (i + 1) * 64;
      header_of[secs[i].name] = h;
      put(out, h, sec_names[i], 4);
      put(out, h + 4, secs[i].type, 4);
      put(out, h + 8, secs[i].flags, 8);
      put(out, h + 16, secs[i].alloc ? offsets[i] : 0, 8);
      put(out, h + 24, offsets[i], 8);
      put(out, h + 32, secs[i].data.size(), 8);
      put(out, h + 40, secs[i].link, 4);
      put(out, h + 48, 8, 8);
      put(out, h + 56, secs[i].entsize, 8);
    }
    return out;
  }
};

}  // namespace bpfkit::test::sbpf_elf
