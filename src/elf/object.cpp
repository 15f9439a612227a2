// eBPF objects: programs, maps, global data and the license, read the way
// libbpf reads them (bpf_object__open).
#include <algorithm>
#include <map>

#include "bpfkit/elf.hpp"
#include "btf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {
namespace {

using namespace detail;

constexpr uint64_t kMapDefSize = 20;                    // struct bpf_map_def: five u32
constexpr uint64_t kMaxGlobalData = uint64_t{1} << 26;  // 64 MiB, far above what the kernel accepts

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_global_data(const SectionHeader& s) {
  return s.size != 0 && (s.type == kShtProgbits || s.type == kShtNobits) &&
         (starts_with(s.name, ".rodata") || starts_with(s.name, ".data") || starts_with(s.name, ".bss"));
}

const char* relocation_name(uint32_t type) {
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

std::string program_name(const ProgramInfo& p) { return p.section + "/" + p.function; }

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
                        "function '" + sym.name + "' st_value " + hex(sym.value) + " st_size " + hex(sym.size) +
                            " is not a whole number of slots inside '" + sec.name + "' (" + hex(sec.size) + " bytes)");
    ProgramInfo p;
    p.section = sec.name;
    p.function = sym.name;
    p.offset = static_cast<uint32_t>(sym.value / 8);
    p.slots = static_cast<uint32_t>((end - sym.value) / 8);
    p.global = sym.binding == kStbGlobal || sym.binding == kStbWeak;
    out.push_back(std::move(p));
  }
  return out;
}

// The name libbpf gives a map: its symbol in the section at that offset.
std::string symbol_at(const Reader& in, uint32_t section, uint64_t offset) {
  for (const SymbolEntry& s : in.symbols())
    if (s.section == section && s.value == offset && s.type != kSttSection && !s.name.empty()) return s.name;
  return {};
}

}  // namespace

Expected<EbpfObject> EbpfObject::parse(std::span<const uint8_t> file, std::string input_name) {
  EbpfObject object;
  object.bytes_.assign(file.begin(), file.end());
  object.input_ = std::move(input_name);
  auto in = Reader::parse(object.bytes_, object.input_);
  if (!in) return in.error();
  if (in->machine() != kEmBpf)
    return in->fail_at(Errc::BadHeader, 18, "e_machine " + hex(in->machine()) + ", want 0xf7 (EM_BPF)");
  if (in->type() != kEtRel)
    return in->fail_at(Errc::BadHeader, 16, "e_type " + hex(in->type()) + ", want 0x1 (ET_REL)");
  if (auto ok = object.read(*in); !ok) return ok.error();
  return object;
}

Expected<void> EbpfObject::read(const Reader& in) {
  info_.sections = in.sections();
  auto programs = find_programs(in);
  if (!programs) return programs.error();
  info_.programs = std::move(*programs);
  if (auto ok = read_legacy_maps(in); !ok) return ok;
  if (auto ok = read_btf_maps(in); !ok) return ok;
  for (const SectionHeader& s : in.sections())
    if (is_global_data(s)) {
      // The map holds the section's bytes: refuse sizes no BPF map can have
      // before allocating them (a .bss costs no file bytes).
      if (s.size > kMaxGlobalData)
        return in.fail_at(Errc::Unsupported, in.header_offset(s.index) + 32,
                          "global data section '" + s.name + "' sh_size " + hex(s.size) + " exceeds " +
                              hex(kMaxGlobalData) + " bytes");
      isa::MapSpec spec;
      spec.name = s.name;
      spec.type = static_cast<uint32_t>(isa::MapType::Array);
      spec.key_size = 4;
      spec.value_size = static_cast<uint32_t>(s.size);
      spec.max_entries = 1;
      const auto bytes = in.contents(s);
      spec.initial =
          s.type == kShtNobits ? std::vector<uint8_t>(s.size) : std::vector<uint8_t>(bytes.begin(), bytes.end());
      spec.read_only = starts_with(s.name, ".rodata");
      add_map(std::move(spec), {s.index, 0, true});
    }
  if (const SectionHeader* license = in.find("license")) {
    const auto bytes = in.contents(*license);
    const auto nul = std::find(bytes.begin(), bytes.end(), uint8_t{0});
    info_.license.assign(bytes.begin(), nul);
  }
  return read_relocations(in);
}

void EbpfObject::add_map(isa::MapSpec spec, MapOrigin origin) {
  info_.maps.push_back(std::move(spec));
  origins_.push_back(origin);
}

// Legacy `maps`: one struct bpf_map_def per symbol, at the symbol's offset.
Expected<void> EbpfObject::read_legacy_maps(const Reader& in) {
  const SectionHeader* maps = in.find("maps");
  if (maps == nullptr) return {};
  const auto bytes = in.contents(*maps);
  std::vector<uint32_t> defs;  // symbol indexes, by offset in the section
  for (uint32_t i = 0; i < in.symbols().size(); ++i)
    if (in.symbols()[i].section == maps->index && in.symbols()[i].type != kSttSection) defs.push_back(i);
  std::sort(defs.begin(), defs.end(),
            [&](uint32_t a, uint32_t b) { return in.symbols()[a].value < in.symbols()[b].value; });
  for (uint32_t index : defs) {
    const SymbolEntry* s = &in.symbols()[index];
    if (!fits(s->value, kMapDefSize, bytes.size()))
      return in.fail_at(Errc::OutOfRange, in.symbol_offset(index) + 8,
                        "map '" + s->name + "' st_value " + hex(s->value) + " + 0x14 runs past section 'maps' (" +
                            hex(bytes.size()) + " bytes)");
    isa::MapSpec spec;
    spec.name = s->name;
    spec.type = load<uint32_t>(bytes, s->value);
    spec.key_size = load<uint32_t>(bytes, s->value + 4);
    spec.value_size = load<uint32_t>(bytes, s->value + 8);
    spec.max_entries = load<uint32_t>(bytes, s->value + 12);
    spec.flags = load<uint32_t>(bytes, s->value + 16);
    add_map(std::move(spec), {maps->index, s->value, false});
  }
  return {};
}

Expected<void> EbpfObject::read_btf_maps(const Reader& in) {
  const SectionHeader* maps = in.find(".maps");
  if (maps == nullptr) return {};
  const SectionHeader* btf = in.find(".BTF");
  if (btf == nullptr)
    return in.fail_at(Errc::BadHeader, in.header_offset(maps->index), "section '.maps' needs '.BTF', which is missing");
  auto found = btf_maps(in.contents(*btf), btf->offset, in.input_name());
  if (!found) return found.error();
  for (BtfMap& map : *found) {
    // In a .o file the DATASEC offsets are still 0: libbpf takes each
    // variable's offset from its symbol (btf_fixup_datasec), and so do we.
    for (const SymbolEntry& s : in.symbols())
      if (s.section == maps->index && s.type != kSttSection && s.name == map.spec.name) map.offset = s.value;
    if (map.spec.name.empty()) map.spec.name = symbol_at(in, maps->index, map.offset);
    add_map(std::move(map.spec), {maps->index, map.offset, false});
  }
  return {};
}

// The map whose value holds byte `offset` of `section`: a global-data map
// (its whole section) or a declared map starting exactly there.
std::optional<std::pair<uint32_t, uint64_t>> EbpfObject::map_at(uint32_t section, uint64_t offset) const {
  for (uint32_t i = 0; i < origins_.size(); ++i) {
    const MapOrigin& o = origins_[i];
    if (o.section != section) continue;
    if (o.whole_section) return std::pair{i, offset};
    if (o.offset == offset) return std::pair{i, uint64_t{0}};
  }
  return std::nullopt;
}

// R_BPF_64_ABS64/ABS32 in global data against global data or a map: a
// pointer to fill in once the maps have addresses. REL keeps the addend in
// the patched bytes.
std::optional<DataRelocation> EbpfObject::data_relocation(const Reader& in, uint32_t section,
                                                          const RelocationEntry& r) const {
  const uint8_t size = r.type == kRBpfAbs64 ? 8 : r.type == kRBpfAbs32 ? 4 : 0;
  if (size == 0) return std::nullopt;
  const auto patched = map_at(section, 0);
  if (!patched || !origins_[patched->first].whole_section) return std::nullopt;
  const SymbolEntry& sym = in.symbols()[r.symbol];
  uint64_t addend = 0;
  const auto bytes = in.contents(in.sections()[section]);
  if (r.offset + size <= bytes.size()) std::memcpy(&addend, bytes.data() + r.offset, size);
  const uint64_t target = (sym.type == kSttSection ? 0 : sym.value) + addend;
  const auto target_map = map_at(sym.section, sym.type == kSttSection ? target : sym.value);
  if (!target_map) return std::nullopt;
  const uint64_t target_offset = origins_[target_map->first].whole_section ? target : target_map->second + addend;
  return DataRelocation{patched->first, r.offset, size, target_map->first, target_offset};
}

void apply_data_relocations(std::span<const DataRelocation> relocations, std::span<const uint64_t> map_addresses,
                            const std::function<std::span<uint8_t>(uint32_t map)>& value_of) {
  for (const DataRelocation& r : relocations) {
    if (r.target_map >= map_addresses.size()) continue;
    const uint64_t address = map_addresses[r.target_map] + r.target_offset;
    const std::span<uint8_t> value = value_of(r.map);
    if (r.offset + r.size <= value.size()) std::memcpy(value.data() + r.offset, &address, r.size);
  }
}

// Every relocation is checked here, and noted in the object's description.
Expected<void> EbpfObject::read_relocations(const Reader& in) {
  for (const SectionHeader& s : in.sections()) {
    if (s.type != kShtRel && s.type != kShtRela) continue;
    auto entries = in.relocations(s);
    if (!entries) return entries.error();
    // Debug info and BTF (not SHF_ALLOC) carry many relocations that matter
    // to no loader; the description lists those of code and data only.
    if ((in.sections()[s.info].flags & kShfAlloc) == 0) continue;
    for (const RelocationEntry& r : *entries) {
      info_.relocations.push_back(
          {in.sections()[s.info].name, r.offset, relocation_name(r.type), in.symbols()[r.symbol].name});
      if (auto data = data_relocation(in, s.info, r)) info_.data_relocations.push_back(*data);
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

Expected<const ProgramInfo*> EbpfObject::find_program(std::string_view section, std::string_view function) const {
  std::vector<const ProgramInfo*> matches;
  for (const ProgramInfo& p : info_.programs)
    if ((section.empty() || p.section == section) && (function.empty() || p.function == function))
      matches.push_back(&p);
  return choose(matches, matches);
}

}  // namespace bpfkit::elf
