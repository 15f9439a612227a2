// eBPF objects: programs, maps, global data and the license, read the way
// libbpf reads them (bpf_object__open).
#include <algorithm>
#include <map>
#include <unordered_map>

#include "bpfkit/elf.hpp"
#include "btf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {
namespace {

using namespace detail;

constexpr uint32_t kKconfigSection = UINT32_MAX;  // the `.kconfig` map's origin: no section of the file
constexpr uint64_t kMapDefSize = 20;              // struct bpf_map_def: five u32
constexpr uint64_t kElfMapDefSize = 36;           // iproute2's struct bpf_elf_map: nine u32
// What an object may make us allocate beyond its own bytes: its global data
// (the VM allocates each section's size, .bss included) and its map names.
constexpr uint64_t kMaxGlobalData = uint64_t{1} << 26;    // 64 MiB in all, far above what the kernel accepts
constexpr uint64_t kMaxMapNameBytes = uint64_t{1} << 24;  // 16 MiB of names in all
// The kernel's KMALLOC_MAX_SIZE on x86-64: array_map_alloc_check refuses a
// larger value_size with E2BIG.
constexpr uint64_t kMaxArrayValueSize = uint64_t{1} << 22;

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_global_data(const SectionHeader& s) {
  return s.size != 0 && (s.type == kShtProgbits || s.type == kShtNobits) &&
         (starts_with(s.name, ".rodata") || starts_with(s.name, ".data") || starts_with(s.name, ".bss"));
}

std::string_view relocation_name(uint32_t type) {
  switch (type) {
    case kRBpfNone: return "R_BPF_NONE";
    case kRBpf64_64: return "R_BPF_64_64";
    case kRBpfAbs64: return "R_BPF_64_ABS64";
    case kRBpfAbs32: return "R_BPF_64_ABS32";
    case kRBpfNodyld32: return "R_BPF_64_NODYLD32";
    case kRBpf64_32: return "R_BPF_64_32";
  }
  return "R_BPF_UNKNOWN";
}

std::string program_name(const ProgramInfo& p) { return std::string(p.section) + "/" + std::string(p.function); }

// A name for a message: long names (an input may make them megabytes) are cut.
std::string quoted(std::string_view name) {
  constexpr size_t kShown = 64;
  std::string out = "'";
  out.append(name.substr(0, kShown));
  out.append(name.size() > kShown ? "...'" : "'");
  return out;
}

// Every STT_FUNC symbol in an executable section is a program (libbpf's
// rule); a size of 0 means "up to the next symbol or the section's end".
Expected<std::vector<ProgramInfo>> find_programs(const Reader& in) {
  std::vector<ProgramInfo> out;
  const auto& syms = in.symbols();
  // Function starts per section, sorted: "up to the next symbol" is a search.
  std::map<uint16_t, std::vector<uint64_t>> starts;
  for (const SymbolEntry& sym : syms)
    if (sym.type == kSttFunc) starts[sym.section].push_back(sym.value);
  for (auto& [section, values] : starts) std::sort(values.begin(), values.end());
  for (uint32_t i = 0; i < syms.size(); ++i) {
    const SymbolEntry& sym = syms[i];
    if (sym.type != kSttFunc || sym.section == kShnUndef || sym.section >= in.sections().size()) continue;
    const SectionHeader& sec = in.sections()[sym.section];
    if ((sec.flags & kShfExecinstr) == 0) continue;
    uint64_t end = sym.size != 0 ? sym.value + sym.size : sec.size;
    if (sym.size == 0) {
      const std::vector<uint64_t>& values = starts[sym.section];
      if (auto next = std::upper_bound(values.begin(), values.end(), sym.value); next != values.end())
        end = std::min(end, *next);
    }
    if (sym.value % 8 != 0 || end % 8 != 0 || end < sym.value || end > sec.size)
      return in.fail_at(Errc::OutOfRange, in.symbol_offset(i),
                        "function " + quoted(sym.name) + " st_value " + hex(sym.value) + " st_size " + hex(sym.size) +
                            " is not a whole number of slots inside " + quoted(sec.name) + " (" + hex(sec.size) +
                            " bytes)");
    ProgramInfo p;
    p.section = sec.name;
    p.function = sym.name;
    p.section_index = sec.index;
    p.offset = static_cast<uint32_t>(sym.value / 8);
    p.slots = static_cast<uint32_t>((end - sym.value) / 8);
    p.global = sym.binding == kStbGlobal || sym.binding == kStbWeak;
    out.push_back(p);
  }
  return out;
}

// The named symbols of one section, in symbol-table order (the first of
// several aliases names what they share).
std::vector<uint32_t> symbols_in(const Reader& in, uint32_t section) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < in.symbols().size(); ++i) {
    const SymbolEntry& s = in.symbols()[i];
    if (s.section == section && s.type != kSttSection && !s.name.empty()) out.push_back(i);
  }
  return out;
}

}  // namespace

Expected<EbpfObject> EbpfObject::parse(std::span<const uint8_t> file, std::string input_name) {
  EbpfObject object;
  object.bytes_ = std::make_shared<const std::vector<uint8_t>>(file.begin(), file.end());
  object.input_ = std::move(input_name);
  auto in = Reader::parse(*object.bytes_, object.input_);
  if (!in) return in.error();
  if (in->machine() != kEmBpf)
    return in->fail_at(Errc::BadHeader, offsetof(Ehdr, e_machine),
                       "e_machine " + hex(in->machine()) + ", want 0xf7 (EM_BPF)");
  if (in->type() != kEtRel)
    return in->fail_at(Errc::BadHeader, offsetof(Ehdr, e_type), "e_type " + hex(in->type()) + ", want 0x1 (ET_REL)");
  object.reader_ = std::move(*in);
  if (auto ok = object.read(); !ok) return ok.error();
  return object;
}

Expected<void> EbpfObject::read() {
  const Reader& in = reader_;
  info_.sections = in.sections();
  auto programs = find_programs(in);
  if (!programs) return programs.error();
  info_.programs = std::move(*programs);
  if (auto ok = read_legacy_maps(); !ok) return ok;
  if (auto ok = read_btf_maps(); !ok) return ok;
  if (auto ok = read_global_data(); !ok) return ok;
  if (auto ok = read_kconfig_externs(); !ok) return ok;
  read_variables();
  if (const SectionHeader* license = in.find("license")) {
    const auto bytes = in.contents(*license);
    const auto nul = std::find(bytes.begin(), bytes.end(), uint8_t{0});
    info_.license.assign(bytes.begin(), nul);
  }
  if (auto ok = read_relocations(); !ok) return ok;
  return read_btf_ext();
}

// One map per definition: a second symbol at the same place (an alias) names
// the same map. Map names are copies, so their total is bounded.
Expected<void> EbpfObject::add_map(isa::MapSpec spec, MapOrigin origin, uint64_t where) {
  const auto key = std::pair{origin.section, origin.offset};
  if (map_by_origin_.contains(key)) return {};
  map_name_bytes_ += spec.name.size();
  if (map_name_bytes_ > kMaxMapNameBytes)
    return reader_.fail_at(
        Errc::Unsupported, where,
        "map " + quoted(spec.name) + ": the object's map names exceed " + hex(kMaxMapNameBytes) + " bytes in all");
  map_by_origin_.emplace(key, static_cast<uint32_t>(info_.maps.size()));
  info_.maps.push_back(std::move(spec));
  origins_.push_back(origin);
  return {};
}

// Each global-data section is one array map of one element, its value the
// section's bytes. A .bss costs no file bytes: its value is left to the VM to
// zero (MapSpec::initial stays empty), and every declared size counts
// against one total.
Expected<void> EbpfObject::read_global_data() {
  uint64_t total = 0;
  for (const SectionHeader& s : reader_.sections()) {
    if (!is_global_data(s)) continue;
    total += std::min(s.size, kMaxGlobalData + 1);  // no overflow however many sections
    if (total > kMaxGlobalData)
      return reader_.fail_at(Errc::Unsupported, reader_.header_offset(s.index) + offsetof(Shdr, sh_size),
                             "global data section " + quoted(s.name) + " sh_size " + hex(s.size) +
                                 " brings the object's global data past " + hex(kMaxGlobalData) + " bytes");
    isa::MapSpec spec;
    spec.name = s.name;
    spec.type = static_cast<uint32_t>(isa::MapType::Array);
    spec.key_size = 4;
    spec.value_size = static_cast<uint32_t>(s.size);
    spec.max_entries = 1;
    const auto bytes = reader_.contents(s);
    spec.initial.assign(bytes.begin(), bytes.end());  // empty for SHT_NOBITS
    spec.read_only = starts_with(s.name, ".rodata");
    if (auto ok = add_map(std::move(spec), {s.index, 0, true}, reader_.header_offset(s.index)); !ok) return ok;
  }
  return {};
}

// `.kconfig` externs: undefined symbols that BTF's `.kconfig` DATASEC
// describes. They share one read-only map, laid out as libbpf lays them out
// (alignment descending, then size ascending, then name), zero until the
// loader's caller fills it (kconfig_image).
Expected<void> EbpfObject::read_kconfig_externs() {
  const Reader& in = reader_;
  const SectionHeader* btf = in.find(".BTF");
  const bool has_externs = std::any_of(in.symbols().begin(), in.symbols().end(),
                                       [](const SymbolEntry& s) { return s.section == kShnUndef && !s.name.empty(); });
  if (btf == nullptr || !has_externs) return {};  // .BTF is read for externs only when there are some
  auto vars = btf_datasec(in.contents(*btf), btf->offset, in.input_name(), ".kconfig");
  if (!vars) return vars.error();
  if (vars->empty()) return {};
  std::unordered_map<std::string_view, const SymbolEntry*> undefined;
  for (const SymbolEntry& s : in.symbols())
    if (s.section == kShnUndef && !s.name.empty()) undefined.emplace(s.name, &s);
  for (const BtfVariable& v : *vars) {
    auto sym = undefined.find(v.name);
    if (sym == undefined.end()) continue;
    if (v.kind == KconfigKind::Unknown)
      return fail(Errc::Unsupported, in.input_name(), btf->offset,
                  "extern " + quoted(v.name) +
                      " in .kconfig has a type libbpf does not take (bool, tristate, char, "
                      "char array or integer)");
    info_.kconfig.push_back({v.name, 0, v.size, v.kind, v.is_signed, sym->second->binding == kStbWeak});
    info_.kconfig.back().offset = v.align;  // kept here until the layout below
  }
  if (info_.kconfig.empty()) return {};
  std::sort(info_.kconfig.begin(), info_.kconfig.end(), [](const KconfigExtern& a, const KconfigExtern& b) {
    if (a.offset != b.offset) return a.offset > b.offset;  // alignment, descending
    if (a.size != b.size) return a.size < b.size;
    return a.name < b.name;
  });
  uint64_t end = 0;
  for (KconfigExtern& e : info_.kconfig) {
    const uint64_t align = e.offset;
    e.offset = (end + align - 1) / align * align;
    end = e.offset + e.size;
    kconfig_offset_[e.name] = e.offset;
    // The sizes come from BTF, so a crafted object can ask for gigabytes.
    // The map is an array map, whose value the kernel caps (E2BIG).
    if (end > kMaxArrayValueSize)
      return fail(Errc::LimitExceeded, in.input_name(), btf->offset,
                  ".kconfig externs need " + std::to_string(end) + " bytes; an array map value holds at most " +
                      std::to_string(kMaxArrayValueSize) + " (extern " + quoted(e.name) + ")");
  }
  isa::MapSpec spec;
  spec.name = ".kconfig";
  spec.type = static_cast<uint32_t>(isa::MapType::Array);
  spec.key_size = 4;
  spec.value_size = static_cast<uint32_t>(std::max<uint64_t>(end, 1));
  spec.max_entries = 1;
  spec.initial.assign(spec.value_size, 0);
  spec.read_only = true;
  return add_map(std::move(spec), {kKconfigSection, 0, true}, btf->offset);
}

// Every named object symbol in a global-data section.
void EbpfObject::read_variables() {
  for (const SymbolEntry& s : reader_.symbols()) {
    if (s.name.empty() || s.type == kSttSection || s.section == kShnUndef || s.section >= reader_.sections().size())
      continue;
    const SectionHeader& section = reader_.sections()[s.section];
    if (!is_global_data(section) || s.value > section.size || s.size > section.size - s.value) continue;
    info_.variables.push_back({s.name, section.name, s.value, s.size});
  }
  std::sort(info_.variables.begin(), info_.variables.end(), [](const GlobalVariable& a, const GlobalVariable& b) {
    return std::pair(a.section, a.offset) < std::pair(b.section, b.offset);
  });
}

std::optional<std::pair<uint32_t, uint64_t>> EbpfObject::kconfig_extern(std::string_view name) const {
  auto it = kconfig_offset_.find(name);
  if (it == kconfig_offset_.end()) return std::nullopt;
  return std::pair{map_by_origin_.at({kKconfigSection, 0}), it->second};
}

// Legacy `maps`: one struct bpf_map_def per definition, at a symbol's offset;
// or iproute2's struct bpf_elf_map (36 bytes: then id, pinning, inner_id,
// inner_idx), whose maps of maps take the map whose id is their inner_id as
// their inner map, and an inner map with an inner_idx goes in that slot of
// each such outer map.
Expected<void> EbpfObject::read_legacy_maps() {
  const Reader& in = reader_;
  const SectionHeader* maps = in.find("maps");
  if (maps == nullptr) return {};
  const ByteReader bytes(in.contents(*maps));
  std::vector<uint32_t> defs = symbols_in(in, maps->index);
  std::stable_sort(defs.begin(), defs.end(),
                   [&](uint32_t a, uint32_t b) { return in.symbols()[a].value < in.symbols()[b].value; });
  struct ElfMapIds {
    uint32_t map, id, inner_id, inner_idx;
  };
  std::vector<ElfMapIds> elf_defs;
  for (uint32_t index : defs) {
    const SymbolEntry& s = in.symbols()[index];
    const auto def = bytes.read_array<uint32_t>(s.value, kMapDefSize / 4);
    if (!def)
      return in.fail_at(Errc::OutOfRange, in.symbol_offset(index) + offsetof(Sym, st_value),
                        "map " + quoted(s.name) + " st_value " + hex(s.value) + " + 0x14 runs past section 'maps' (" +
                            hex(bytes.size()) + " bytes)");
    isa::MapSpec spec;
    spec.name = s.name;
    spec.type = (*def)[0];
    spec.key_size = (*def)[1];
    spec.value_size = (*def)[2];
    spec.max_entries = (*def)[3];
    spec.flags = (*def)[4];
    if (s.size >= kElfMapDefSize)
      if (auto elf_def = bytes.read_array<uint32_t>(s.value, kElfMapDefSize / 4))
        elf_defs.push_back({static_cast<uint32_t>(info_.maps.size()), (*elf_def)[5], (*elf_def)[7], (*elf_def)[8]});
    if (auto ok = add_map(std::move(spec), {maps->index, s.value, false}, in.symbol_offset(index)); !ok) return ok;
  }
  for (const ElfMapIds& outer : elf_defs) {
    if (outer.inner_id == 0) continue;
    for (const ElfMapIds& inner : elf_defs) {
      if (inner.id != outer.inner_id || inner.map == outer.map) continue;
      info_.maps[outer.map].inner = std::make_shared<const isa::MapSpec>(info_.maps[inner.map]);
      if (inner.inner_idx != UINT32_MAX) info_.maps[outer.map].initial_maps.emplace_back(inner.inner_idx, inner.map);
    }
  }
  return {};
}

Expected<void> EbpfObject::read_btf_maps() {
  const Reader& in = reader_;
  const SectionHeader* maps = in.find(".maps");
  if (maps == nullptr) return {};
  const SectionHeader* btf = in.find(".BTF");
  if (btf == nullptr)
    return in.fail_at(Errc::BadHeader, in.header_offset(maps->index), "section '.maps' needs '.BTF', which is missing");
  auto found = btf_maps(in.contents(*btf), btf->offset, in.input_name());
  if (!found) return found.error();
  // In a .o file the DATASEC offsets are still 0: libbpf takes each
  // variable's offset from its symbol (btf_fixup_datasec), and so do we. An
  // unnamed variable takes the name of the symbol at its offset.
  std::unordered_map<std::string_view, uint64_t> offset_of;
  std::map<uint64_t, std::string_view> name_at;
  for (uint32_t i : symbols_in(in, maps->index)) {
    offset_of.try_emplace(in.symbols()[i].name, in.symbols()[i].value);
    name_at.try_emplace(in.symbols()[i].value, in.symbols()[i].name);
  }
  for (BtfMap& map : *found) {
    if (auto it = offset_of.find(map.name); it != offset_of.end()) map.offset = it->second;
    std::string_view name = map.name;
    if (name.empty())
      if (auto it = name_at.find(map.offset); it != name_at.end()) name = it->second;
    map.spec.name = name;
    if (map.values_offset) values_at_[{maps->index, map.offset}] = *map.values_offset;
    if (auto ok = add_map(std::move(map.spec), {maps->index, map.offset, false}, map.at); !ok) return ok;
  }
  return {};
}

// `.values = { [i] = &inner }` of a BTF map of maps: an R_BPF_64_ABS64 in
// `.maps` at the definition's `values` member plus 8 * i, against the inner
// map's symbol (libbpf's init_slots). Returns whether `r` was one.
Expected<bool> EbpfObject::read_inner_map_slot(const SectionHeader& maps, const RelocationEntry& r, uint64_t at) {
  auto outer = values_at_.upper_bound({maps.index, r.offset});
  if (outer == values_at_.begin()) return false;
  --outer;  // the last map of maps starting at or before the relocation
  if (outer->first.first != maps.index) return false;
  const uint64_t start = outer->first.second + outer->second;
  if (r.offset < start || (r.offset - start) % 8 != 0) return false;
  const SymbolEntry& sym = reader_.symbols()[r.symbol];
  auto inner = map_by_origin_.find({sym.section, sym.value});
  auto outer_map = map_by_origin_.find(outer->first);
  if (outer_map == map_by_origin_.end()) return false;
  if (info_.maps[outer_map->second].type == static_cast<uint32_t>(isa::MapType::ProgArray))
    return read_program_slot(outer_map->second, (r.offset - start) / 8, sym, at);
  if (inner == map_by_origin_.end() || !info_.maps[outer_map->second].inner)
    return reader_.fail_at(Errc::Unsupported, at,
                           "map " + quoted(info_.maps[outer_map->second].name) + ": .values names " + quoted(sym.name) +
                               ", which is not a map this object declares");
  const uint64_t slot = (r.offset - start) / 8;
  if (slot >= info_.maps[outer_map->second].max_entries)
    return reader_.fail_at(Errc::OutOfRange, at,
                           "map " + quoted(info_.maps[outer_map->second].name) + ": .values slot " +
                               std::to_string(slot) + " is past max_entries");
  info_.maps[outer_map->second].initial_maps.emplace_back(static_cast<uint32_t>(slot), inner->second);
  return true;
}

// `.values = { [i] = &prog }` of a BTF prog array: slot i holds the program
// whose function symbol the relocation names (libbpf's
// init_prog_array_slots); load_program loads it with the caller's maps.
Expected<bool> EbpfObject::read_program_slot(uint32_t map, uint64_t slot, const SymbolEntry& sym, uint64_t at) {
  const std::string name = quoted(info_.maps[map].name);
  for (uint32_t i = 0; i < info_.programs.size(); ++i) {
    const ProgramInfo& program = info_.programs[i];
    if (program.section_index != sym.section || uint64_t{program.offset} * 8 != sym.value) continue;
    if (slot >= info_.maps[map].max_entries)
      return reader_.fail_at(Errc::OutOfRange, at,
                             "map " + name + ": .values slot " + std::to_string(slot) + " is past max_entries");
    program_slots_[map].emplace_back(static_cast<uint32_t>(slot), i);
    return true;
  }
  return reader_.fail_at(
      Errc::Unsupported, at,
      "map " + name + ": .values names " + quoted(sym.name) + ", which is not a program of this object");
}

// The map whose value holds byte `offset` of `section`: a global-data map
// (its whole section) or a declared map starting exactly there.
std::optional<std::pair<uint32_t, uint64_t>> EbpfObject::map_at(uint32_t section, uint64_t offset) const {
  if (auto whole = map_by_origin_.find({section, 0}); whole != map_by_origin_.end()) {
    if (origins_[whole->second].whole_section) return std::pair{whole->second, offset};
  }
  if (auto it = map_by_origin_.find({section, offset}); it != map_by_origin_.end())
    return std::pair{it->second, uint64_t{0}};
  return std::nullopt;
}

// R_BPF_64_ABS64/ABS32 in global data against global data or a map: a
// pointer to fill in once the maps have addresses. REL keeps the addend in
// the patched bytes.
std::optional<DataRelocation> EbpfObject::data_relocation(uint32_t section, const RelocationEntry& r) const {
  const uint8_t size = r.type == kRBpfAbs64 ? 8 : r.type == kRBpfAbs32 ? 4 : 0;
  if (size == 0) return std::nullopt;
  const auto patched = map_at(section, 0);
  if (!patched || !origins_[patched->first].whole_section) return std::nullopt;
  const SymbolEntry& sym = reader_.symbols()[r.symbol];
  uint64_t addend = 0;
  const auto bytes = reader_.contents(reader_.sections()[section]);
  if (fits(r.offset, size, bytes.size())) std::memcpy(&addend, bytes.data() + r.offset, size);
  const uint64_t target = (sym.type == kSttSection ? 0 : sym.value) + addend;
  const auto target_map = map_at(sym.section, sym.type == kSttSection ? target : sym.value);
  if (!target_map) return std::nullopt;
  const uint64_t target_offset = origins_[target_map->first].whole_section ? target : target_map->second + addend;
  return DataRelocation{patched->first, r.offset, size, target_map->first, target_offset};
}

// Every relocation is checked here, and noted in the object's description.
Expected<void> EbpfObject::read_relocations() {
  const Reader& in = reader_;
  for (const SectionHeader& s : in.sections()) {
    if (s.type != kShtRel && s.type != kShtRela) continue;
    auto entries = in.relocations(s);
    if (!entries) return entries.error();
    // Debug info and BTF (not SHF_ALLOC) carry many relocations that matter
    // to no loader; the description lists those of code and data only.
    if ((in.sections()[s.info].flags & kShfAlloc) == 0) continue;
    const bool in_maps = in.sections()[s.info].name == ".maps";
    for (size_t i = 0; i < entries->size(); ++i) {
      const RelocationEntry& r = (*entries)[i];
      if (in_maps) {
        auto slot = read_inner_map_slot(in.sections()[s.info], r, s.offset + i * s.entsize);
        if (!slot) return slot.error();
      }
      info_.relocations.push_back(
          {in.sections()[s.info].name, r.offset, relocation_name(r.type), in.symbols()[r.symbol].name});
      if (auto data = data_relocation(s.info, r)) info_.data_relocations.push_back(*data);
    }
  }
  return {};
}

Expected<const ProgramInfo*> EbpfObject::choose(std::vector<const ProgramInfo*> candidates,
                                                std::vector<const ProgramInfo*> listed) const {
  if (candidates.size() == 1) return candidates[0];
  std::string message;
  if (listed.empty()) {
    message = "no program matches; the object has " + std::to_string(info_.programs.size()) + " programs";
    for (const ProgramInfo& p : info_.programs) listed.push_back(&p);
    if (!listed.empty()) message += ":";
  } else {
    message = std::to_string(listed.size()) + " programs:";
  }
  for (size_t i = 0; i < listed.size(); ++i) message += (i == 0 ? " " : ", ") + program_name(*listed[i]);
  if (!listed.empty()) message += "; pick one with --section or --function";
  Location where;
  where.input = input_;
  return make_error(Errc::BadOperand, message, where);
}

// `.text` and `.text.*` hold subprograms (clang puts functions there that a
// section attribute moved out of .text); any other executable section is a
// program section.
static bool is_text_section(std::string_view name) { return name == ".text" || name.starts_with(".text."); }

Expected<const ProgramInfo*> EbpfObject::default_program() const {
  std::vector<const ProgramInfo*> sections, text_globals;
  for (const ProgramInfo& p : info_.programs) {
    if (!is_text_section(p.section))
      sections.push_back(&p);
    else if (p.global)
      text_globals.push_back(&p);
  }
  if (!sections.empty()) return choose(sections, sections);
  if (!text_globals.empty()) return choose(text_globals, text_globals);
  return choose({}, {});
}

Expected<const ProgramInfo*> EbpfObject::choose_program(std::string_view section, std::string_view function) const {
  return section.empty() && function.empty() ? default_program() : find_program(section, function);
}

Expected<const ProgramInfo*> EbpfObject::find_program(std::string_view section, std::string_view function) const {
  std::vector<const ProgramInfo*> matches;
  for (const ProgramInfo& p : info_.programs)
    if ((section.empty() || p.section == section) && (function.empty() || p.function == function))
      matches.push_back(&p);
  return choose(matches, matches);
}

}  // namespace bpfkit::elf
