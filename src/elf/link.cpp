// link(): one program prepared as libbpf prepares it (bpf_object__relocate):
// the subprograms it calls are appended once each, calls and function
// addresses are made relative to the copies, and map and global-data
// references become pseudo lddw.
//
// Each executable section is cut into pieces at every function's start and
// end (a piece is a function, or code between functions). A call or function
// address places the whole piece that holds its target, once: the linked
// program is never longer than the object's code, whatever calls what.
// Sections are told apart by index, never by name (two may share one).
#include <algorithm>
#include <map>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {

using namespace detail;

namespace {

// The first slot of an lddw pair, whatever its pseudo source: the opcode
// byte the table's lddw rows share.
bool starts_lddw(const isa::Slot& slot) { return slot.code == isa::info(isa::Op::lddw).code; }

}  // namespace

class Linker {
 public:
  Linker(const EbpfObject& object, const LoadOptions& options, const std::vector<bool>* keep = nullptr)
      : object_(object), options_(options), in_(object.reader_), keep_(keep) {}

  // The maps (by object index) the code of `program` and its callees names.
  Expected<std::vector<uint32_t>> named_maps(const ProgramInfo& program) {
    auto linked = place_and_patch(program);
    if (!linked) return linked.error();
    std::vector<uint32_t> maps;
    for (uint32_t pc : map_loads_) maps.push_back(static_cast<uint32_t>(out_[pc].imm));
    return maps;
  }

  Expected<EbpfObject::Linked> run(const ProgramInfo& program) {
    if (auto ok = place_and_patch(program); !ok) return ok.error();
    std::sort(core_slots_.begin(), core_slots_.end(),
              [](const isa::Program::CoreSlot& a, const isa::Program::CoreSlot& b) { return a.slot < b.slot; });
    EbpfObject::Linked linked{
        std::move(out_), {}, {}, std::move(functions_), std::move(kfuncs_), std::move(ksyms_), std::move(core_slots_)};
    keep_used_maps(linked);
    return linked;
  }

 private:
  Expected<void> place_and_patch(const ProgramInfo& program) {
    if (auto ok = load(); !ok) return ok.error();
    const uint32_t section = program.section_index;
    if (!code_.contains(section))
      return in_.fail_at(Errc::OutOfRange, in_.header_offset(section),
                         "program section '" + std::string(program.section) + "' is not executable");
    if (uint64_t{program.offset} + program.slots > code_[section].slots.size())
      return in_.fail_at(Errc::OutOfRange, in_.header_offset(section),
                         "program '" + std::string(program.function) + "' runs past its section");
    place(section, program.offset, program.offset + program.slots);
    for (size_t i = 0; i < placed_.size(); ++i)  // place() appends: every callee is visited
      if (auto ok = patch(placed_[i]); !ok) return ok.error();
    return {};
  }

  // Slots [start, end) of `section`, copied to out_ from `base`.
  struct Placed {
    uint32_t section, start, end, base;
  };
  struct Reloc {
    RelocationEntry entry;
    uint64_t at;  // file offset of the relocation entry, for messages
  };
  // An executable section: its slots, where its pieces start (ascending, the
  // first is 0), and the base in out_ of each piece placed so far.
  struct Code {
    std::vector<isa::Slot> slots;
    std::vector<uint32_t> cuts;
    std::map<uint32_t, uint32_t> base_of_piece;  // piece start -> its base in out_
    std::vector<const ProgramInfo*> functions;   // its function symbols, by offset
  };

  // The slots of every executable section, their pieces, and their relocations by offset.
  Expected<void> load() {
    for (const SectionHeader& s : in_.sections()) {
      if ((s.flags & kShfExecinstr) == 0 || s.type == kShtNobits) continue;
      auto slots = in_.slots(s);
      if (!slots) return slots.error();
      code_[s.index].slots = std::move(*slots);
    }
    for (const ProgramInfo& p : object_.info_.programs) {
      auto it = code_.find(p.section_index);
      if (it == code_.end()) continue;
      it->second.cuts.push_back(p.offset);
      it->second.cuts.push_back(p.offset + p.slots);
      it->second.functions.push_back(&p);
    }
    for (auto& [index, code] : code_) {
      code.cuts.push_back(0);
      std::sort(code.cuts.begin(), code.cuts.end());
      code.cuts.erase(std::unique(code.cuts.begin(), code.cuts.end()), code.cuts.end());
      // By start; of aliases (one start), the first symbol names the function.
      std::stable_sort(code.functions.begin(), code.functions.end(),
                       [](const ProgramInfo* a, const ProgramInfo* b) { return a->offset < b->offset; });
    }
    for (const SectionHeader& s : in_.sections()) {
      if ((s.type != kShtRel && s.type != kShtRela) || !code_.contains(s.info)) continue;
      auto entries = in_.relocations(s);
      if (!entries) return entries.error();
      for (size_t i = 0; i < entries->size(); ++i)
        relocs_[s.info][(*entries)[i].offset] = {(*entries)[i], s.offset + i * s.entsize};
    }
    return {};
  }

  // Copies slots [start, end) of `section` to the end of out_; every piece
  // they cover is placed from then on.
  void place(uint32_t section, uint32_t start, uint32_t end) {
    Code& code = code_[section];
    const auto base = static_cast<uint32_t>(out_.size());
    placed_.push_back({section, start, end, base});
    out_.insert(out_.end(), code.slots.begin() + start, code.slots.begin() + end);
    for (auto cut = std::lower_bound(code.cuts.begin(), code.cuts.end(), start); cut != code.cuts.end() && *cut < end;
         ++cut)
      code.base_of_piece.emplace(*cut, base + (*cut - start));
    // The functions that start in the copy keep their boundaries.
    auto first = std::lower_bound(code.functions.begin(), code.functions.end(), start,
                                  [](const ProgramInfo* p, uint32_t offset) { return p->offset < offset; });
    for (auto f = first; f != code.functions.end() && (*f)->offset < end; ++f)
      if (f == first || (*f)->offset != (*std::prev(f))->offset)
        functions_.push_back(
            {(*f)->function, base + ((*f)->offset - start), std::min((*f)->slots, end - (*f)->offset)});
  }

  // Where slot `slot` of `section` is in the output, placing the piece that
  // holds it first if needed.
  Expected<int64_t> address_of(uint32_t section, int64_t slot, uint64_t at) {
    auto it = code_.find(section);
    if (it == code_.end() || slot < 0 || slot >= static_cast<int64_t>(it->second.slots.size()))
      return in_.fail_at(Errc::OutOfRange, at,
                         "call or function address target slot " + hex(static_cast<uint64_t>(slot)) +
                             " is outside executable section " + std::to_string(section));
    Code& code = it->second;
    const auto target = static_cast<uint32_t>(slot);
    const auto next = std::upper_bound(code.cuts.begin(), code.cuts.end(), target);
    const uint32_t start = *std::prev(next);  // cuts[0] is 0
    if (auto placed = code.base_of_piece.find(start); placed != code.base_of_piece.end())
      return placed->second + (target - start);
    const auto end = next != code.cuts.end() ? *next : static_cast<uint32_t>(code.slots.size());
    place(section, start, end);
    return code.base_of_piece.at(start) + (target - start);
  }

  Expected<void> patch(Placed f) {
    const auto copy = std::span<isa::Slot>(out_).subspan(f.base, f.end - f.start);
    if (auto ok = object_.apply_core(f.section, f.start, copy, f.base, options_, core_slots_); !ok)
      return ok;  // CO-RE first, as libbpf
    // The relocations in offset order, walked beside the slots.
    const auto& relocs = relocs_[f.section];
    auto next = relocs.lower_bound(uint64_t{f.start} * 8);
    const uint32_t slots = f.end - f.start;
    for (uint32_t k = 0; k < slots; ++k) {
      const uint32_t pc = f.base + k;
      const uint64_t offset = uint64_t{f.start + k} * 8;
      while (next != relocs.end() && next->first < offset) ++next;
      const Reloc* reloc = next != relocs.end() && next->first == offset ? &next->second : nullptr;
      const isa::Slot slot = out_[pc];
      if (isa::lookup(slot) == isa::Op::call_local) {
        if (auto ok = call(f, k, reloc); !ok) return ok;
      } else if (starts_lddw(slot) && reloc != nullptr) {
        if (k + 1 >= slots)
          return in_.fail_at(Errc::Truncated, reloc->at, "lddw at the end of the function has no second slot");
        if (auto ok = lddw(pc, *reloc); !ok) return ok;
        ++k;
      } else if (reloc != nullptr) {
        return in_.fail_at(Errc::Unsupported, reloc->at,
                           "relocation type " + hex(reloc->entry.type) + " against '" +
                               std::string(symbol(*reloc).name) + "' on opcode " + hex(slot.code) +
                               " is not supported");
      } else if (starts_lddw(slot)) {
        ++k;  // never read a second slot as an instruction
      }
    }
    return {};
  }

  // libbpf: the target is slot (symbol value + (imm + 1) * 8) / 8 of the
  // symbol's section; without a relocation the call is pc-relative.
  Expected<void> call(Placed f, uint32_t k, const Reloc* reloc) {
    const uint32_t pc = f.base + k;
    const int32_t imm = out_[pc].imm;  // a copy: address_of() may grow out_
    uint32_t section = f.section;
    int64_t target = int64_t{f.start} + k + 1 + imm;
    uint64_t at = 0;
    if (reloc != nullptr && symbol(*reloc).section == kShnUndef) return kfunc_call(pc, *reloc);
    if (reloc != nullptr) {
      const SymbolEntry& sym = symbol(*reloc);
      at = reloc->at;
      if (sym.section >= in_.sections().size() || sym.value % 8 != 0)
        return in_.fail_at(Errc::Unsupported, reloc->at,
                           "call relocation against '" + std::string(sym.name) + "' (st_shndx " + hex(sym.section) +
                               ", st_value " + hex(sym.value) + ") is not a function in this object");
      section = sym.section;
      target = static_cast<int64_t>(sym.value / 8) + imm + 1 + reloc->entry.addend / 8;
    }
    auto address = address_of(section, target, at);
    if (!address) return address.error();
    out_[pc].imm = static_cast<int32_t>(*address - (pc + 1));
    return {};
  }

  // A call of an extern function: a kfunc (`__ksym`), which libbpf turns
  // into call_kfunc with the kernel's BTF id. Without the kernel's BTF the
  // call names the extern by its index in the program's kfuncs.
  Expected<void> kfunc_call(uint32_t pc, const Reloc& reloc) {
    const SymbolEntry& sym = symbol(reloc);
    if (sym.type != kSttNotype && sym.type != kSttFunc)
      return in_.fail_at(Errc::Unsupported, reloc.at,
                         "call relocation against extern '" + std::string(sym.name) + "', which is no function");
    auto it = std::find(kfuncs_.begin(), kfuncs_.end(), sym.name);
    if (it == kfuncs_.end()) it = kfuncs_.insert(kfuncs_.end(), std::string(sym.name));
    isa::Slot& slot = out_[pc];
    slot.set_src(static_cast<uint8_t>(isa::info(isa::Op::call_kfunc).value));
    slot.imm = static_cast<int32_t>(it - kfuncs_.begin());
    slot.off = 0;
    return {};
  }

  Expected<void> lddw(uint32_t pc, const Reloc& reloc) {
    const SymbolEntry& sym = symbol(reloc);
    const int64_t addend = int64_t{out_[pc].imm} + reloc.entry.addend;
    if (reloc.entry.type == kRBpf64_64 && sym.section == kShnUndef) return extern_load(pc, reloc, addend);
    if (reloc.entry.type != kRBpf64_64 || sym.section == kShnUndef || sym.section >= in_.sections().size())
      return in_.fail_at(Errc::Unsupported, reloc.at,
                         "lddw relocation type " + hex(reloc.entry.type) + " against '" + std::string(sym.name) +
                             "' (st_shndx " + hex(sym.section) + ") is not supported");
    if (code_.contains(sym.section)) {  // a function's address (BPF_PSEUDO_FUNC)
      const int64_t byte = static_cast<int64_t>(sym.value) + addend;
      if (byte % 8 != 0)
        return in_.fail_at(Errc::OutOfRange, reloc.at, "function address " + hex(byte) + " is not a slot");
      auto address = address_of(sym.section, byte / 8, reloc.at);  // may grow out_: no references before
      if (!address) return address.error();
      isa::Slot& first = out_[pc];
      first.set_src(static_cast<uint8_t>(isa::info(isa::Op::lddw_func).value));
      out_[pc + 1].imm = 0;
      first.imm = static_cast<int32_t>(*address - (pc + 1));
      return {};
    }
    isa::Slot& first = out_[pc];
    isa::Slot& second = out_[pc + 1];
    const uint64_t offset = sym.value + (sym.type == kSttSection ? addend : 0);
    if (auto map = object_.map_at(sym.section, offset)) {
      const bool whole_section = object_.origins_[map->first].whole_section;
      first.set_src(whole_section ? isa::kPseudoMapIdxValue : isa::kPseudoMapIdx);
      first.imm = static_cast<int32_t>(map->first);
      second.imm = whole_section ? static_cast<int32_t>(sym.value + addend) : 0;
      map_loads_.push_back(pc);  // renumbered once the maps used are known
      return {};
    }
    return in_.fail_at(Errc::Unsupported, reloc.at,
                       "lddw relocation against '" + std::string(sym.name) + "' in section '" +
                           std::string(in_.sections()[sym.section].name) + "' names no map or global data");
  }

  // An extern: a `.kconfig` one is its place in the `.kconfig` map (libbpf
  // turns the lddw into a map value load); any other is a kernel variable
  // (`__ksym`), which libbpf resolves to its address (kallsyms) or its BTF
  // id (lddw src 3). Without the kernel's symbols the lddw_btf_id names the
  // extern by its index in the program's ksyms.
  Expected<void> extern_load(uint32_t pc, const Reloc& reloc, int64_t addend) {
    const SymbolEntry& sym = symbol(reloc);
    auto kconfig = object_.kconfig_extern(sym.name);
    if (!kconfig) {
      if (sym.type == kSttFunc || addend != 0)
        return in_.fail_at(Errc::Unsupported, reloc.at,
                           "lddw of extern '" + std::string(sym.name) + "'" +
                               (addend != 0 ? " plus " + std::to_string(addend) : std::string(", a function")) +
                               " is neither a .kconfig value nor a kernel variable");
      auto it = std::find(ksyms_.begin(), ksyms_.end(), sym.name);
      if (it == ksyms_.end()) it = ksyms_.insert(ksyms_.end(), std::string(sym.name));
      out_[pc].set_src(isa::kPseudoBtfId);
      out_[pc].imm = static_cast<int32_t>(it - ksyms_.begin());
      out_[pc + 1].imm = 0;
      return {};
    }
    out_[pc].set_src(isa::kPseudoMapIdxValue);
    out_[pc].imm = static_cast<int32_t>(kconfig->first);
    out_[pc + 1].imm = static_cast<int32_t>(kconfig->second + addend);
    map_loads_.push_back(pc);
    return {};
  }

  // As libbpf creates maps for the programs it loads, only the maps the
  // program's code names are kept, with what they bring along: the inner
  // maps their `.values` name, and the maps their global data points into.
  // Kept in the object's order, renumbered; the lddw follow.
  void keep_used_maps(EbpfObject::Linked& linked) const {
    const std::vector<isa::MapSpec>& all = object_.info_.maps;
    std::vector<bool> used(all.size(), false);
    std::vector<uint32_t> work;
    auto use = [&](uint32_t map) {
      if (map < used.size() && !used[map]) used[map] = true, work.push_back(map);
    };
    for (uint32_t pc : map_loads_) use(static_cast<uint32_t>(linked.code[pc].imm));
    if (keep_ != nullptr) used = *keep_, work.clear();  // a tail-call group's maps, closed already
    while (!work.empty()) {
      const uint32_t map = work.back();
      work.pop_back();
      for (const auto& [slot, inner] : all[map].initial_maps) use(inner);
      for (const DataRelocation& r : object_.info_.data_relocations)
        if (r.map == map) use(r.target_map);
    }
    std::vector<uint32_t> renumbered(all.size(), UINT32_MAX);
    for (uint32_t map = 0; map < all.size(); ++map) {
      if (!used[map]) continue;
      renumbered[map] = static_cast<uint32_t>(linked.maps.size());
      linked.maps.push_back(all[map]);
    }
    for (isa::MapSpec& spec : linked.maps)
      for (auto& [slot, inner] : spec.initial_maps) inner = renumbered[inner];
    for (DataRelocation r : object_.info_.data_relocations) {
      if (!used[r.map]) continue;
      r.map = renumbered[r.map];
      r.target_map = renumbered[r.target_map];
      linked.data_relocations.push_back(r);
    }
    for (uint32_t pc : map_loads_) linked.code[pc].imm = static_cast<int32_t>(renumbered[linked.code[pc].imm]);
  }

  const SymbolEntry& symbol(const Reloc& r) const { return in_.symbols()[r.entry.symbol]; }

  const EbpfObject& object_;
  const LoadOptions& options_;
  const Reader& in_;
  std::map<uint32_t, Code> code_;  // by section index
  std::map<uint32_t, std::map<uint64_t, Reloc>> relocs_;
  std::vector<Placed> placed_;
  std::vector<isa::Slot> out_;
  std::vector<EbpfObject::Function> functions_;
  std::vector<uint32_t> map_loads_;                 // pcs of the lddw that name a map by its object index
  std::vector<std::string> kfuncs_;                 // the externs the kfunc calls name, by the index in their imm
  std::vector<std::string> ksyms_;                  // the kernel variables lddw_btf_id name, likewise
  std::vector<isa::Program::CoreSlot> core_slots_;  // LoadOptions::keep_core
  const std::vector<bool>* keep_;                   // the maps to keep, when a tail-call group chose them
};

Expected<EbpfObject::Linked> EbpfObject::link(const ProgramInfo& program, const LoadOptions& options,
                                              const std::vector<bool>* keep) const {
  return Linker(*this, options, keep).run(program);
}

Expected<std::vector<bool>> EbpfObject::tail_call_group_maps(const ProgramInfo& program,
                                                             const LoadOptions& options) const {
  std::vector<bool> used(info_.maps.size(), false);
  std::vector<bool> in_group(info_.programs.size(), false);
  std::vector<const ProgramInfo*> group{&program};
  std::vector<uint32_t> work;
  const auto use = [&](uint32_t map) {
    if (map < used.size() && !used[map]) used[map] = true, work.push_back(map);
  };
  for (size_t next = 0; next < group.size(); ++next) {
    auto named = Linker(*this, options).named_maps(*group[next]);
    if (!named) return named.error();
    for (uint32_t map : *named) use(map);
    while (!work.empty()) {
      const uint32_t map = work.back();
      work.pop_back();
      for (const auto& [slot, inner] : info_.maps[map].initial_maps) use(inner);
      for (const DataRelocation& r : info_.data_relocations)
        if (r.map == map) use(r.target_map);
      if (auto slots = program_slots_.find(map); slots != program_slots_.end())
        for (const auto& [slot, target] : slots->second)
          if (!in_group[target]) in_group[target] = true, group.push_back(&info_.programs[target]);
    }
  }
  return used;
}

// A program whose prog arrays the object fills (`.values`): it and every
// program those name, transitively, share one list of maps (each keeps the
// same indices, so a tail call finds the caller's maps), and the arrays'
// MapSpec::initial_programs hold the targets. A target's own arrays name no
// programs (the first program's do), so a cycle of tail calls loads once.
Expected<isa::Program> EbpfObject::load_program(const ProgramInfo& info, const LoadOptions& options) const {
  if (program_slots_.empty()) return load_linked(info, options, nullptr);
  auto group = tail_call_group_maps(info, options);
  if (!group) return group.error();
  auto program = load_linked(info, options, &*group);
  if (!program) return program.error();
  std::map<uint32_t, std::shared_ptr<const isa::Program>> loaded;  // by index in info_.programs
  uint32_t index = 0;                                              // the map's index in the shared list
  for (uint32_t map = 0; map < info_.maps.size(); ++map) {
    if (!(*group)[map]) continue;
    if (auto slots = program_slots_.find(map); slots != program_slots_.end())
      for (const auto& [slot, target] : slots->second) {
        if (!loaded.contains(target)) {
          auto target_program = load_linked(info_.programs[target], options, &*group);
          if (!target_program) return target_program.error();
          loaded[target] = std::make_shared<const isa::Program>(std::move(*target_program));
        }
        program->maps[index].initial_programs.emplace_back(slot, loaded[target]);
      }
    ++index;
  }
  return program;
}

Expected<isa::Program> EbpfObject::load_linked(const ProgramInfo& info, const LoadOptions& options,
                                               const std::vector<bool>* keep) const {
  auto linked = link(info, options, keep);
  if (!linked) return linked.error();
  auto program = isa::decode(std::span<const isa::Slot>(linked->code), isa::kLinuxV4);
  if (!program) {
    Error error = std::move(program.error());
    if (error.location.input.empty()) error.location.input = input_;
    return error;
  }
  for (const Function& f : linked->functions) program->functions.push_back({std::string(f.name), f.start, f.size});
  program->maps = std::move(linked->maps);
  program->data_relocations = std::move(linked->data_relocations);
  program->kfuncs = std::move(linked->kfuncs);
  program->ksyms = std::move(linked->ksyms);
  program->core_slots = std::move(linked->core_slots);
  program->entry = 0;  // link() places the program first
  return program;
}

}  // namespace bpfkit::elf
