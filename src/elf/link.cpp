// link(): one program prepared as libbpf prepares it (bpf_object__relocate):
// the subprograms it calls are appended once each, calls and function
// addresses are made relative to the copies, and map and global-data
// references become pseudo lddw.
#include <map>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {

using namespace detail;

class Linker {
 public:
  Linker(const EbpfObject& object, Reader in) : object_(object), in_(std::move(in)) {}

  Expected<EbpfObject::Linked> run(const ProgramInfo& program) {
    if (auto ok = load(); !ok) return ok.error();
    const SectionHeader* section = in_.find(program.section);
    if (section == nullptr || !code_.contains(section->index))
      return in_.fail_at(Errc::OutOfRange, 0, "program section '" + program.section + "' is not executable");
    if (uint64_t{program.offset} + program.slots > code_[section->index].size())
      return in_.fail_at(Errc::OutOfRange, section->offset, "program '" + program.function + "' runs past its section");
    place(section->index, program.offset, program.slots);
    for (size_t i = 0; i < placed_.size(); ++i)  // place() appends: every callee is visited
      if (auto ok = patch(placed_[i]); !ok) return ok.error();
    return EbpfObject::Linked{std::move(out_), object_.info_.maps, object_.info_.data_relocations};
  }

 private:
  struct Placed {
    uint32_t section, start, slots, base;
  };
  struct Reloc {
    RelocationEntry entry;
    uint64_t at;  // file offset of the relocation entry, for messages
  };

  // The slots of every executable section, and their relocations by offset.
  Expected<void> load() {
    for (const SectionHeader& s : in_.sections()) {
      if ((s.flags & kShfExecinstr) != 0 && s.type != kShtNobits) {
        auto slots = in_.slots(s);
        if (!slots) return slots.error();
        code_[s.index] = std::move(*slots);
      }
    }
    for (const SectionHeader& s : in_.sections()) {
      if ((s.type != kShtRel && s.type != kShtRela) || s.info >= in_.sections().size() || !code_.contains(s.info))
        continue;
      auto entries = in_.relocations(s);
      if (!entries) return entries.error();
      for (size_t i = 0; i < entries->size(); ++i)
        relocs_[s.info][(*entries)[i].offset] = {(*entries)[i], s.offset + i * s.entsize};
    }
    return {};
  }

  uint32_t place(uint32_t section, uint32_t start, uint32_t slots) {
    const auto base = static_cast<uint32_t>(out_.size());
    placed_.push_back({section, start, slots, base});
    placed_by_start_[section][start] = placed_.size() - 1;
    const auto& code = code_[section];
    out_.insert(out_.end(), code.begin() + start, code.begin() + start + slots);
    return base;
  }

  // Where slot `slot` of `section` is in the output, placing the function that
  // holds it first if needed.
  Expected<int64_t> address_of(uint32_t section, int64_t slot, uint64_t at) {
    if (!code_.contains(section) || slot < 0 || slot >= static_cast<int64_t>(code_[section].size()))
      return in_.fail_at(Errc::OutOfRange, at,
                         "call or function address target slot " + hex(static_cast<uint64_t>(slot)) +
                             " is outside executable section " + std::to_string(section));
    // Already placed: the placed function that starts at or before the slot.
    const auto& placed = placed_by_start_[section];
    if (auto it = placed.upper_bound(static_cast<uint32_t>(slot)); it != placed.begin()) {
      const Placed& p = placed_[std::prev(it)->second];
      if (slot < int64_t{p.start} + p.slots) return p.base + (slot - p.start);
    }
    // The function symbol that holds the slot; else from the slot to the next function.
    uint32_t start = static_cast<uint32_t>(slot), end = static_cast<uint32_t>(code_[section].size());
    const auto& functions = functions_by_offset(section);
    auto next = functions.upper_bound(start);
    if (next != functions.begin()) {
      const ProgramInfo& p = *std::prev(next)->second;
      if (p.slots != 0 && slot < int64_t{p.offset} + p.slots) {
        start = p.offset;
        end = p.offset + p.slots;
      }
    }
    if (start == slot && next != functions.end() && next->first < end) end = next->first;
    return place(section, start, end - start) + (slot - start);
  }

  // The object's functions in one section by first slot, built on first use
  // so that each lookup is a binary search, not a scan of every program.
  const std::map<uint32_t, const ProgramInfo*>& functions_by_offset(uint32_t section) {
    auto [it, added] = functions_.try_emplace(section);
    if (added) {
      const std::string& name = in_.sections()[section].name;
      for (const ProgramInfo& p : object_.info_.programs)
        if (p.section == name) it->second.emplace(p.offset, &p);
    }
    return it->second;
  }

  Expected<void> patch(Placed f) {
    // The function's relocations in offset order, walked beside its slots.
    const auto& relocs = relocs_[f.section];
    auto next = relocs.lower_bound(uint64_t{f.start} * 8);
    for (uint32_t k = 0; k < f.slots; ++k) {
      const uint32_t pc = f.base + k;
      const uint64_t offset = uint64_t{f.start + k} * 8;
      while (next != relocs.end() && next->first < offset) ++next;
      const Reloc* reloc = next != relocs.end() && next->first == offset ? &next->second : nullptr;
      const isa::Slot slot = out_[pc];
      if (slot.code == 0x85 && slot.src() == 1) {
        if (auto ok = call(f, k, reloc); !ok) return ok;
      } else if (slot.code == 0x18 && reloc != nullptr) {
        if (k + 1 >= f.slots)
          return in_.fail_at(Errc::Truncated, reloc->at, "lddw at the end of the function has no second slot");
        if (auto ok = lddw(pc, *reloc); !ok) return ok;
        ++k;
      } else if (reloc != nullptr) {
        return in_.fail_at(Errc::Unsupported, reloc->at,
                           "relocation type " + hex(reloc->entry.type) + " against '" + symbol(*reloc).name +
                               "' on opcode " + hex(slot.code) + " is not supported");
      } else if (slot.code == 0x18) {
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
    if (reloc != nullptr) {
      const SymbolEntry& sym = symbol(*reloc);
      at = reloc->at;
      if (sym.section >= in_.sections().size() || sym.value % 8 != 0)
        return in_.fail_at(Errc::Unsupported, reloc->at,
                           "call relocation against '" + sym.name + "' (st_shndx " + hex(sym.section) + ", st_value " +
                               hex(sym.value) + ") is not a function in this object");
      section = sym.section;
      target = static_cast<int64_t>(sym.value / 8) + imm + 1 + reloc->entry.addend / 8;
    }
    auto address = address_of(section, target, at);
    if (!address) return address.error();
    out_[pc].imm = static_cast<int32_t>(*address - (pc + 1));
    return {};
  }

  Expected<void> lddw(uint32_t pc, const Reloc& reloc) {
    const SymbolEntry& sym = symbol(reloc);
    const int64_t addend = int64_t{out_[pc].imm} + reloc.entry.addend;
    if (reloc.entry.type != kRBpf64_64 || sym.section == kShnUndef || sym.section >= in_.sections().size())
      return in_.fail_at(Errc::Unsupported, reloc.at,
                         "lddw relocation type " + hex(reloc.entry.type) + " against '" + sym.name + "' (st_shndx " +
                             hex(sym.section) + ") is not supported");
    if (code_.contains(sym.section)) {  // a function's address (BPF_PSEUDO_FUNC)
      const int64_t byte = static_cast<int64_t>(sym.value) + addend;
      if (byte % 8 != 0)
        return in_.fail_at(Errc::OutOfRange, reloc.at, "function address " + hex(byte) + " is not a slot");
      auto address = address_of(sym.section, byte / 8, reloc.at);  // may grow out_: no references before
      if (!address) return address.error();
      isa::Slot& first = out_[pc];
      first.set_src(4);
      out_[pc + 1].imm = 0;
      first.imm = static_cast<int32_t>(*address - (pc + 1));
      return {};
    }
    isa::Slot& first = out_[pc];
    isa::Slot& second = out_[pc + 1];
    const auto& origins = object_.origins_;
    for (size_t i = 0; i < origins.size(); ++i) {
      const auto& o = origins[i];
      if (o.section != sym.section) continue;
      if (o.whole_section) {
        first.set_src(isa::kPseudoMapIdxValue);
        first.imm = static_cast<int32_t>(i);
        second.imm = static_cast<int32_t>(sym.value + addend);
        return {};
      }
      const uint64_t offset = sym.value + (sym.type == kSttSection ? addend : 0);
      if (o.offset == offset) {
        first.set_src(isa::kPseudoMapIdx);
        first.imm = static_cast<int32_t>(i);
        second.imm = 0;
        return {};
      }
    }
    return in_.fail_at(Errc::Unsupported, reloc.at,
                       "lddw relocation against '" + sym.name + "' in section '" + in_.sections()[sym.section].name +
                           "' names no map or global data");
  }

  const SymbolEntry& symbol(const Reloc& r) const { return in_.symbols()[r.entry.symbol]; }

  const EbpfObject& object_;
  Reader in_;
  std::map<uint32_t, std::vector<isa::Slot>> code_;
  std::map<uint32_t, std::map<uint64_t, Reloc>> relocs_;
  std::vector<Placed> placed_;
  std::map<uint32_t, std::map<uint32_t, size_t>> placed_by_start_;  // section -> first slot -> placed_ index
  std::map<uint32_t, std::map<uint32_t, const ProgramInfo*>> functions_;
  std::vector<isa::Slot> out_;
};

Expected<EbpfObject::Linked> EbpfObject::link(const ProgramInfo& program) const {
  auto in = Reader::parse(bytes_, input_);
  if (!in) return in.error();
  return Linker(*this, std::move(*in)).run(program);
}

}  // namespace bpfkit::elf
