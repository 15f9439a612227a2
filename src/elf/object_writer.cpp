// EbpfObject::rewrite (elf.hpp): an eBPF object written again with new code
// for some of its functions, as `bpfkit opt prog.o -o out.o` needs it.
//
// Section indices stay what they were, except that the relocation section
// of `.BTF.ext` goes, and `.BTF.ext` too where its records cannot move to
// the new code (move_btf_ext). Every
// other section keeps its bytes but the code sections (the functions one
// after the other, each new or kept), their relocation sections (made again;
// one is added after the others where a code section had none), `.symtab`
// (function symbols moved and resized) and `.shstrtab` (the added names).
//
// Relocations are written the way clang writes them and libbpf and
// link.cpp read them: a map is its symbol (imm 0), global data its section's
// symbol (imm = the offset), a call into another section a R_BPF_64_32
// against the callee's symbol (imm -1), a call in the same section
// pc-relative without one, a function address a R_BPF_64_64 against the
// callee's section symbol (imm = its byte offset) or a global callee's own,
// a kfunc call `call -1` with a R_BPF_64_32 against its extern, a kernel
// variable `lddw 0` with a R_BPF_64_64 against its extern.
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {

using namespace detail;

namespace {

bool starts_lddw(const isa::Slot& slot) { return slot.code == isa::info(isa::Op::lddw).code; }
bool is_local_call(const isa::Slot& slot) { return isa::lookup(slot) == isa::Op::call_local; }
uint8_t func_source() { return static_cast<uint8_t>(isa::info(isa::Op::lddw_func).value); }

template <class T>
void append_record(std::vector<uint8_t>& out, const T& record) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&record);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

// The largest section alignment the writer keeps: a page. Compilers ask
// for 8 at most; a larger one in a file is refused, not padded out to.
constexpr uint64_t kMostAlignment = 4096;

void align_to(std::vector<uint8_t>& out, uint64_t alignment) {
  if (alignment > 1) out.resize((out.size() + alignment - 1) / alignment * alignment, 0);
}

}  // namespace

class ObjectWriter {
 public:
  ObjectWriter(const EbpfObject& object, std::span<const EbpfObject::NewCode> code)
      : object_(object), in_(object.reader_), code_(code) {}

  Expected<EbpfObject::Rewritten> run() {
    if (auto ok = read_symbols(); !ok) return ok.error();
    if (auto ok = read_code(); !ok) return ok.error();
    if (auto ok = place_new_code(); !ok) return ok.error();
    if (auto ok = check_core_slots(); !ok) return ok.error();
    layout();
    move_symbols();
    for (auto& [index, section] : code_sections_)
      for (Piece& piece : section.pieces)
        if (auto ok = piece.program ? relocate_new(index, section, piece) : relocate_kept(index, section, piece); !ok)
          return ok.error();
    return write();
  }

 private:
  // One function of a code section in the old layout and the new.
  struct Piece {
    uint32_t old_start = 0, old_size = 0;
    uint32_t new_start = 0, new_size = 0;
    const isa::Program* program = nullptr;  // new code: its first function; null: kept
  };
  struct CodeSection {
    std::vector<isa::Slot> old_slots;
    std::vector<Piece> pieces;  // by old start, back to back
    std::vector<isa::Slot> slots;
    std::vector<Rel> relocations;
    std::vector<RelocationEntry> old_relocations;  // by offset
    std::optional<uint32_t> rel_section;           // the old relocation section
  };

  Error fail(Errc code, std::string message) const {
    return detail::fail(code, in_.input_name(), 0, std::move(message));
  }

  Expected<void> read_symbols() {
    for (const SectionHeader& s : in_.sections()) {
      if (s.type != kShtSymtab) continue;
      symtab_ = s.index;
      const auto bytes = in_.contents(s);
      symbols_.resize(bytes.size() / sizeof(Sym));
      std::memcpy(symbols_.data(), bytes.data(), symbols_.size() * sizeof(Sym));
    }
    if (!symtab_) return fail(Errc::Unsupported, "the object has no symbol table");
    return {};
  }

  // Every code section cut at its functions, which must cover it.
  Expected<void> read_code() {
    for (const SectionHeader& s : in_.sections()) {
      if ((s.flags & kShfExecinstr) == 0 || s.type == kShtNobits) continue;
      auto slots = in_.slots(s);
      if (!slots) return slots.error();
      code_sections_[s.index].old_slots = std::move(*slots);
    }
    for (const ProgramInfo& p : object_.info_.programs) {
      auto it = code_sections_.find(p.section_index);
      if (it != code_sections_.end()) it->second.pieces.push_back({p.offset, p.slots});
    }
    for (auto& [index, section] : code_sections_) {
      auto& pieces = section.pieces;
      std::stable_sort(pieces.begin(), pieces.end(),
                       [](const Piece& a, const Piece& b) { return a.old_start < b.old_start; });
      pieces.erase(std::unique(pieces.begin(), pieces.end(),
                               [](const Piece& a, const Piece& b) { return a.old_start == b.old_start; }),
                   pieces.end());
      uint32_t at = 0;
      for (const Piece& piece : pieces) {
        if (piece.old_start != at)
          return fail(Errc::Unsupported, "section '" + std::string(in_.sections()[index].name) + "': slots " +
                                             std::to_string(at) + ".." + std::to_string(piece.old_start) +
                                             " belong to no function symbol (or functions overlap)");
        at = piece.old_start + piece.old_size;
      }
      if (at != section.old_slots.size())
        return fail(Errc::Unsupported,
                    "section '" + std::string(in_.sections()[index].name) + "': code after the last function symbol");
    }
    for (const SectionHeader& s : in_.sections()) {
      if ((s.type != kShtRel && s.type != kShtRela) || !code_sections_.contains(s.info)) continue;
      if (s.type == kShtRela)
        return fail(Errc::Unsupported,
                    "section '" + std::string(s.name) + "': RELA relocations of code are not written");
      auto entries = in_.relocations(s);
      if (!entries) return entries.error();
      CodeSection& section = code_sections_[s.info];
      section.rel_section = s.index;
      section.old_relocations = std::move(*entries);
      std::stable_sort(section.old_relocations.begin(), section.old_relocations.end(),
                       [](const RelocationEntry& a, const RelocationEntry& b) { return a.offset < b.offset; });
    }
    return {};
  }

  Expected<void> place_new_code() {
    for (const EbpfObject::NewCode& c : code_) {
      if (c.function == nullptr || c.program == nullptr) return fail(Errc::BadOperand, "rewrite: empty new code");
      Piece* piece = piece_at(c.function->section_index, c.function->offset);
      if (piece == nullptr)
        return fail(Errc::BadOperand,
                    "rewrite: '" + std::string(c.function->function) + "' is not a function of the object");
      const isa::Program& p = *c.program;
      if (p.entry != 0 || (!p.functions.empty() && p.functions[0].start != 0))
        return fail(Errc::BadOperand, "rewrite: the new code of '" + std::string(c.function->function) +
                                          "' does not start with its entry function");
      piece->program = &p;
      piece->new_size = p.functions.size() > 1 ? p.functions[1].start : static_cast<uint32_t>(p.size());
      if (piece->new_size == 0 || piece->new_size > p.size() || (piece->new_size < p.size() && !p.ops[piece->new_size]))
        return fail(Errc::BadOperand, "rewrite: the entry function of '" + std::string(c.function->function) +
                                          "' has no whole instructions");
    }
    return {};
  }

  void layout() {
    for (auto& [index, section] : code_sections_) {
      for (Piece& piece : section.pieces) {
        piece.new_start = static_cast<uint32_t>(section.slots.size());
        if (piece.program) {
          section.slots.insert(section.slots.end(), piece.program->slots.begin(),
                               piece.program->slots.begin() + piece.new_size);
        } else {
          piece.new_size = piece.old_size;
          section.slots.insert(section.slots.end(), section.old_slots.begin() + piece.old_start,
                               section.old_slots.begin() + piece.old_start + piece.old_size);
        }
      }
    }
  }

  Piece* piece_at(uint32_t section, uint32_t old_start) {
    auto it = code_sections_.find(section);
    if (it == code_sections_.end()) return nullptr;
    for (Piece& piece : it->second.pieces)
      if (piece.old_start == old_start) return &piece;
    return nullptr;
  }

  // The piece holding old slot `slot` of a code section, or null.
  const Piece* piece_holding(uint32_t section, uint64_t slot) const {
    auto it = code_sections_.find(section);
    if (it == code_sections_.end()) return nullptr;
    for (const Piece& piece : it->second.pieces)
      if (slot >= piece.old_start && slot < uint64_t{piece.old_start} + piece.old_size) return &piece;
    return nullptr;
  }

  // Where old slot `slot` of a code section is now: a function's start, or
  // any slot of a kept function.
  Expected<uint32_t> new_slot(uint32_t section, int64_t slot) const {
    const Piece* piece = slot < 0 ? nullptr : piece_holding(section, static_cast<uint64_t>(slot));
    if (piece == nullptr || (piece->program && slot != piece->old_start))
      return fail(Errc::Unsupported, "a call or function address lands on slot " + std::to_string(slot) + " of '" +
                                         std::string(in_.sections()[section].name) +
                                         "', inside a function whose code changed");
    return piece->new_start + static_cast<uint32_t>(slot - piece->old_start);
  }

  // Symbols in code sections follow their function; a function's size is its new one.
  void move_symbols() {
    moved_ = symbols_;
    for (Sym& sym : moved_) {
      auto it = code_sections_.find(sym.st_shndx);
      if (it == code_sections_.end() || sym.type() == kSttSection) continue;
      const uint64_t slot = sym.st_value / 8;
      const Piece* piece = piece_holding(sym.st_shndx, slot);
      if (piece == nullptr) {  // at the end
        sym.st_value = it->second.slots.size() * 8;
        continue;
      }
      const uint64_t within = piece->program ? 0 : sym.st_value - uint64_t{piece->old_start} * 8;
      sym.st_value = uint64_t{piece->new_start} * 8 + within;
      if (sym.type() == kSttFunc && sym.st_size != 0 && slot == piece->old_start)
        sym.st_size = uint64_t{piece->new_size} * 8;
    }
  }

  std::string_view symbol_name(uint32_t index) const { return in_.symbols()[index].name; }

  // A kept function: its relocations move with it; those that name code
  // (calls, function addresses) and its pc-relative calls are aimed again.
  Expected<void> relocate_kept(uint32_t index, CodeSection& section, const Piece& piece) {
    const uint64_t first = uint64_t{piece.old_start} * 8, end = first + uint64_t{piece.old_size} * 8;
    std::vector<bool> relocated(piece.old_size, false);
    for (const RelocationEntry& r : section.old_relocations) {
      if (r.offset < first || r.offset >= end) continue;
      const auto k = static_cast<uint32_t>((r.offset - first) / 8);
      relocated[k] = true;
      const uint32_t pc = piece.new_start + k;
      isa::Slot& slot = section.slots[pc];
      const Sym& old_sym = symbols_[r.symbol];
      const Sym& new_sym = moved_[r.symbol];
      if (code_sections_.contains(old_sym.st_shndx)) {
        const bool call = is_local_call(slot);
        const int64_t target = call ? static_cast<int64_t>(old_sym.st_value / 8) + slot.imm + 1
                                    : (static_cast<int64_t>(old_sym.st_value) + slot.imm) / 8;
        auto moved = new_slot(old_sym.st_shndx, target);
        if (!moved) return moved.error();
        slot.imm = call ? static_cast<int32_t>(int64_t{*moved} - static_cast<int64_t>(new_sym.st_value / 8) - 1)
                        : static_cast<int32_t>(int64_t{*moved} * 8 - static_cast<int64_t>(new_sym.st_value));
      }
      section.relocations.push_back({uint64_t{pc} * 8, r_info(r.symbol, r.type)});
    }
    for (uint32_t k = 0; k < piece.old_size; ++k) {
      const isa::Slot& old_slot = section.old_slots[piece.old_start + k];
      if (!relocated[k] && is_local_call(old_slot)) {
        auto moved = new_slot(index, int64_t{piece.old_start} + k + 1 + old_slot.imm);
        if (!moved) return moved.error();
        section.slots[piece.new_start + k].imm = static_cast<int32_t>(int64_t{*moved} - (piece.new_start + k + 1));
      }
      if (starts_lddw(old_slot)) ++k;
    }
    return {};
  }

  // New code: its calls, function addresses and map lddw become relocations.
  Expected<void> relocate_new(uint32_t index, CodeSection& section, const Piece& piece) {
    const isa::Program& program = *piece.program;
    for (uint32_t k = 0; k < piece.new_size; ++k) {
      const uint32_t pc = piece.new_start + k;
      isa::Slot& slot = section.slots[pc];
      if (is_local_call(slot)) {
        if (auto ok = call(index, section, program, k, pc); !ok) return ok;
      } else if (isa::lookup(slot) == isa::Op::call_kfunc) {
        if (auto ok = kfunc_call(program, pc, section); !ok) return ok;
      } else if (starts_lddw(slot)) {
        if (slot.src() == func_source()) {
          if (auto ok = function_address(program, k, pc, section); !ok) return ok;
        } else if (slot.src() == isa::kPseudoMapIdx || slot.src() == isa::kPseudoMapIdxValue) {
          if (auto ok = map_load(program, pc, section); !ok) return ok;
        } else if (slot.src() == isa::kPseudoBtfId) {
          if (auto ok = kernel_variable(program, pc, section); !ok) return ok;
        } else if (slot.src() != 0) {
          return fail(Errc::Unsupported,
                      "lddw with pseudo source " + std::to_string(slot.src()) + " cannot be written to an object");
        }
        ++k;
      }
    }
    return {};
  }

  // The object's function a function of new code stands for (by name).
  Expected<const ProgramInfo*> callee(const isa::Program& program, int64_t target) const {
    for (const isa::Function& f : program.functions) {
      if (f.start != target) continue;
      const ProgramInfo* found = nullptr;
      for (const ProgramInfo& p : object_.info_.programs) {
        if (p.function != f.name) continue;
        if (found != nullptr && (found->section_index != p.section_index || found->offset != p.offset))
          return fail(Errc::Unsupported, "two functions are called '" + f.name + "'");
        found = &p;
      }
      if (found) return found;
      return fail(Errc::Unsupported, "function '" + f.name + "' of the new code is none of the object's");
    }
    return fail(Errc::Unsupported, "a call or function address of the new code lands on slot " +
                                       std::to_string(target) + ", no function's start");
  }

  std::optional<uint32_t> symbol_of(const ProgramInfo& p) const {
    for (uint32_t i = 0; i < symbols_.size(); ++i)
      if (symbols_[i].type() == kSttFunc && symbols_[i].st_shndx == p.section_index &&
          symbols_[i].st_value == uint64_t{p.offset} * 8 && symbol_name(i) == p.function)
        return i;
    return std::nullopt;
  }
  std::optional<uint32_t> section_symbol(uint32_t section) const {
    for (uint32_t i = 0; i < symbols_.size(); ++i)
      if (symbols_[i].type() == kSttSection && symbols_[i].st_shndx == section) return i;
    return std::nullopt;
  }

  // The symbol of the object's extern `name`.
  Expected<uint32_t> extern_symbol(const std::string& name, std::string_view what) const {
    for (uint32_t i = 1; i < symbols_.size(); ++i)
      if (symbols_[i].st_shndx == kShnUndef && symbol_name(i) == name) return i;
    return fail(Errc::Unsupported, std::string(what) + " '" + name + "' has no extern symbol");
  }

  // A kfunc call as clang writes it: `call -1` (src 1) with a R_BPF_64_32
  // against the extern's symbol, which libbpf resolves to the kernel's BTF id.
  Expected<void> kfunc_call(const isa::Program& program, uint32_t pc, CodeSection& section) {
    isa::Slot& slot = section.slots[pc];
    const auto index = static_cast<uint32_t>(slot.imm);
    if (index >= program.kfuncs.size())
      return fail(Errc::Unsupported, "kfunc call " + std::to_string(slot.imm) +
                                         " names no extern of the object (a kernel BTF id cannot be written back)");
    auto sym = extern_symbol(program.kfuncs[index], "kfunc");
    if (!sym) return sym.error();
    slot.set_src(static_cast<uint8_t>(isa::info(isa::Op::call_local).value));
    slot.imm = -1;
    slot.off = 0;
    section.relocations.push_back({uint64_t{pc} * 8, r_info(*sym, kRBpf64_32)});
    return {};
  }

  // A kernel variable's address as clang loads it: `lddw 0` (src 0) with a
  // R_BPF_64_64 against the extern's symbol.
  Expected<void> kernel_variable(const isa::Program& program, uint32_t pc, CodeSection& section) {
    isa::Slot& slot = section.slots[pc];
    const auto index = static_cast<uint32_t>(slot.imm);
    if (index >= program.ksyms.size() || section.slots[pc + 1].imm != 0)
      return fail(Errc::Unsupported, "lddw of BTF id " + std::to_string(slot.imm) +
                                         " names no extern of the object (a kernel BTF id cannot be written back)");
    auto sym = extern_symbol(program.ksyms[index], "kernel variable");
    if (!sym) return sym.error();
    slot.set_src(0);
    slot.imm = 0;
    section.relocations.push_back({uint64_t{pc} * 8, r_info(*sym, kRBpf64_64)});
    return {};
  }

  Expected<void> call(uint32_t index, CodeSection& section, const isa::Program& program, uint32_t k, uint32_t pc) {
    auto target = callee(program, int64_t{k} + 1 + program.slots[k].imm);
    if (!target) return target.error();
    const Piece* piece = piece_holding((*target)->section_index, (*target)->offset);
    if ((*target)->section_index == index) {  // pc-relative, as clang leaves it
      section.slots[pc].imm = static_cast<int32_t>(int64_t{piece->new_start} - (pc + 1));
      return {};
    }
    auto sym = symbol_of(**target);
    if (!sym) return fail(Errc::Unsupported, "function '" + std::string((*target)->function) + "' has no symbol");
    section.slots[pc].imm =
        static_cast<int32_t>(int64_t{piece->new_start} - static_cast<int64_t>(moved_[*sym].st_value / 8) - 1);
    section.relocations.push_back({uint64_t{pc} * 8, r_info(*sym, kRBpf64_32)});
    return {};
  }

  Expected<void> function_address(const isa::Program& program, uint32_t k, uint32_t pc, CodeSection& section) {
    auto target = callee(program, int64_t{k} + 1 + program.slots[k].imm);
    if (!target) return target.error();
    const Piece* piece = piece_holding((*target)->section_index, (*target)->offset);
    std::optional<uint32_t> sym = (*target)->global ? symbol_of(**target) : section_symbol((*target)->section_index);
    if (!sym)
      return fail(Errc::Unsupported, "no symbol to take the address of '" + std::string((*target)->function) + "' by");
    section.slots[pc].imm =
        static_cast<int32_t>(int64_t{piece->new_start} * 8 - static_cast<int64_t>(moved_[*sym].st_value));
    section.slots[pc + 1].imm = 0;
    section.relocations.push_back({uint64_t{pc} * 8, r_info(*sym, kRBpf64_64)});
    return {};
  }

  // A map or global-data lddw: its map by name among the object's, then the
  // symbol clang would have named.
  Expected<void> map_load(const isa::Program& program, uint32_t pc, CodeSection& section) {
    isa::Slot& first = section.slots[pc];
    isa::Slot& second = section.slots[pc + 1];
    const bool value = first.src() == isa::kPseudoMapIdxValue;
    const auto map = static_cast<uint32_t>(first.imm);
    if (map >= program.maps.size())
      return fail(Errc::OutOfRange,
                  "lddw names map " + std::to_string(map) + " of " + std::to_string(program.maps.size()));
    const isa::MapSpec& spec = program.maps[map];
    const auto offset = static_cast<uint32_t>(second.imm);
    auto target = map_symbol(spec, value, offset);
    if (!target) return target.error();
    first.set_src(0);
    first.imm = target->second;
    second.imm = 0;
    section.relocations.push_back({uint64_t{pc} * 8, r_info(target->first, kRBpf64_64)});
    return {};
  }

  // The symbol a lddw of `spec` (a value pointer at `offset` when `value`)
  // is relocated against, and the lddw's imm.
  Expected<std::pair<uint32_t, int32_t>> map_symbol(const isa::MapSpec& spec, bool value, uint32_t offset) {
    const auto& maps = object_.info_.maps;
    const auto it = std::find_if(maps.begin(), maps.end(), [&](const isa::MapSpec& m) { return m.name == spec.name; });
    if (it == maps.end()) return added_map(spec, value, offset);
    const auto index = static_cast<size_t>(it - maps.begin());
    if (spec.name == ".kconfig") return kconfig_symbol(offset);
    const EbpfObject::MapOrigin& origin = object_.origins_[index];
    if (origin.whole_section) {
      if (!value) return fail(Errc::Unsupported, "global data '" + spec.name + "' named as a map, not a value");
      if (auto sym = section_symbol(origin.section)) return std::pair{*sym, static_cast<int32_t>(offset)};
      for (uint32_t i = 0; i < symbols_.size(); ++i)
        if (symbols_[i].st_shndx == origin.section && symbols_[i].st_value <= offset && !symbol_name(i).empty())
          return std::pair{i, static_cast<int32_t>(offset - symbols_[i].st_value)};
      return fail(Errc::Unsupported, "no symbol in global data '" + spec.name + "' to relocate against");
    }
    if (value)
      return fail(Errc::Unsupported, "a value pointer into map '" + spec.name + "' cannot be written to an object");
    for (uint32_t i = 0; i < symbols_.size(); ++i)
      if (symbols_[i].st_shndx == origin.section && symbols_[i].st_value == origin.offset &&
          symbols_[i].type() != kSttSection && symbol_name(i) == spec.name)
        return std::pair{i, 0};
    return fail(Errc::Unsupported, "map '" + spec.name + "' has no symbol");
  }

  Expected<std::pair<uint32_t, int32_t>> kconfig_symbol(uint32_t offset) const {
    std::optional<uint32_t> best;
    uint64_t best_offset = 0;
    for (uint32_t i = 0; i < symbols_.size(); ++i) {
      if (symbols_[i].st_shndx != kShnUndef || symbol_name(i).empty()) continue;
      auto it = object_.kconfig_offset_.find(symbol_name(i));
      if (it == object_.kconfig_offset_.end() || it->second > offset || (best && it->second <= best_offset)) continue;
      best = i;
      best_offset = it->second;
    }
    if (!best) return fail(Errc::Unsupported, "no .kconfig extern at offset " + std::to_string(offset));
    return std::pair{*best, static_cast<int32_t>(offset - best_offset)};
  }

  // A map the object lacks (an instrumentation's counters): global data,
  // written as a section of its name holding its initial bytes, named by a
  // global symbol at its start. One per name, however many functions use it.
  Expected<std::pair<uint32_t, int32_t>> added_map(const isa::MapSpec& spec, bool value, uint32_t offset) {
    if (!value || !spec.name.starts_with(".data") || spec.max_entries != 1 || spec.key_size != 4)
      return fail(Errc::Unsupported,
                  "map '" + spec.name + "' is none of the object's, and only global data (.data*) can be added");
    for (const Added& added : added_) {
      if (added.spec.name != spec.name) continue;
      if (added.spec.value_size != spec.value_size || added.spec.initial != spec.initial)
        return fail(Errc::Unsupported, "added map '" + spec.name +
                                           "' differs between the rewritten functions; choose one with --section "
                                           "or --function");
      return std::pair{added.symbol, static_cast<int32_t>(offset)};
    }
    const auto symbol = static_cast<uint32_t>(symbols_.size() + added_.size());
    added_.push_back({spec, symbol});
    notes_.push_back("added global data '" + spec.name + "' (" + std::to_string(spec.value_size) + " bytes)");
    return std::pair{symbol, static_cast<int32_t>(offset)};
  }

  Expected<EbpfObject::Rewritten> write();

  const EbpfObject& object_;
  const Reader& in_;
  std::span<const EbpfObject::NewCode> code_;
  std::optional<uint32_t> symtab_;
  std::vector<Sym> symbols_, moved_;
  std::map<uint32_t, CodeSection> code_sections_;  // by section index
  std::vector<std::string> notes_;
  // Each CO-RE row new code names (isa::Program::core_slots) is a row a
  // relocation of its own section can patch.
  Expected<void> check_core_slots() const {
    const auto& relocations = object_.info_.core_relocations;
    for (const auto& [section, code] : code_sections_)
      for (const Piece& piece : code.pieces) {
        if (!piece.program) continue;
        const isa::Program& program = *piece.program;
        for (const isa::Program::CoreSlot& kept : program.core_slots) {
          if (kept.slot >= piece.new_size) continue;  // a callee's: its own piece writes it
          const bool patchable = kept.slot < program.size() && program.ops[kept.slot].has_value() &&
                                 isa::core_patchable(program.ops[kept.slot].value());
          if (kept.relocation >= relocations.size() || relocations[kept.relocation].section_index != section ||
              !patchable)
            return fail(Errc::BadOperand, "new code of '" + std::string(in_.sections()[section].name) +
                                              "' names CO-RE relocation #" + std::to_string(kept.relocation) +
                                              " at slot " + std::to_string(kept.slot) +
                                              ", which is no relocation of its section on a row one patches");
        }
      }
    return {};
  }

  // The CO-RE records of the new object: a kept function's where its slots
  // went; new code's where code generation put the rows that carry them
  // (isa::Program::core_slots: none when the program was relocated for
  // one kernel, `resolved` counts those records).
  std::vector<EbpfObject::CoreAt> moved_core(size_t& resolved) const {
    std::vector<EbpfObject::CoreAt> out;
    const auto& relocations = object_.info_.core_relocations;
    for (uint32_t i = 0; i < relocations.size(); ++i) {
      const Piece* piece = piece_holding(relocations[i].section_index, relocations[i].insn);
      if (piece && !piece->program)
        out.push_back({relocations[i].section_index, piece->new_start + (relocations[i].insn - piece->old_start), i});
      else if (piece && piece->program->core_slots.empty())
        ++resolved;
    }
    for (const auto& [section, code] : code_sections_)
      for (const Piece& piece : code.pieces)
        if (piece.program)
          for (const isa::Program::CoreSlot& kept : piece.program->core_slots)
            if (kept.slot < piece.new_size) out.push_back({section, piece.new_start + kept.slot, kept.relocation});
    return out;
  }

  // `.BTF.ext` with its func_info and line_info at the new code (a line
  // whose instructions all went is dropped) and its CO-RE records where
  // the rows they patch went (moved_core). Nullopt (and a note) where that
  // cannot be done: the section is then dropped.
  std::optional<EbpfObject::MovedBtfExt> move_btf_ext() {
    if (!in_.find(".BTF.ext")) return std::nullopt;
    const BtfExtInfo& ext = object_.info_.btf_ext;
    const size_t core = object_.info_.core_relocations.size();
    size_t resolved = 0;
    const std::vector<EbpfObject::CoreAt> core_at = moved_core(resolved);
    auto moved =
        object_.moved_btf_ext([this](uint32_t section, uint32_t slot) { return moved_slot(section, slot); }, core_at);
    if (!moved) {
      notes_.push_back("dropped .BTF.ext (" + std::to_string(ext.func_info) + " func_info, " +
                       std::to_string(ext.line_info) + " line_info, " + std::to_string(core) +
                       " CO-RE records): " + moved.error().message);
      return std::nullopt;
    }
    std::string note = "moved .BTF.ext to the new code: " + std::to_string(moved->func_info) + " func_info, " +
                       std::to_string(moved->line_info) + " of " + std::to_string(ext.line_info) + " line_info";
    if (moved->lines_dropped > 0)
      note += " (" + std::to_string(moved->lines_dropped) + " described only instructions that went)";
    if (core > 0)
      note += "; its CO-RE records, " + std::to_string(core) + " read: " + std::to_string(moved->core) + " written";
    if (resolved > 0) note += ", " + std::to_string(resolved) + " resolved for one kernel (that code runs only there)";
    notes_.push_back(note);
    return std::move(*moved);
  }

  // Where old slot `slot` of a code section is now, for `.BTF.ext`: a
  // function's start stays its start; in new code, the first slot made
  // from the old one; nullopt if none was.
  std::optional<uint32_t> moved_slot(uint32_t section, uint32_t slot) {
    const Piece* piece = piece_holding(section, slot);
    if (piece == nullptr) return std::nullopt;
    const uint32_t within = slot - piece->old_start;
    if (!piece->program || within == 0) return piece->new_start + within;
    std::vector<uint32_t>& first = first_made_from_[piece];
    if (first.empty()) {
      first.assign(piece->old_size, UINT32_MAX);
      const std::vector<uint32_t>& origin = piece->program->origin;
      for (uint32_t k = 0; k < piece->new_size && k < origin.size(); ++k)
        if (origin[k] < first.size() && first[origin[k]] == UINT32_MAX) first[origin[k]] = k;
    }
    if (first[within] == UINT32_MAX) return std::nullopt;
    return piece->new_start + first[within];
  }
  std::map<const Piece*, std::vector<uint32_t>> first_made_from_;  // by new-code piece: old slot -> first new

  // Global data added (appended sections, their symbols appended to .symtab).
  struct Added {
    isa::MapSpec spec;
    uint32_t symbol;
  };
  std::vector<Added> added_;
};

// The file: header, each section's bytes, the section header table.
Expected<EbpfObject::Rewritten> ObjectWriter::write() {
  const auto& sections = in_.sections();
  const SectionHeader* btf_ext = in_.find(".BTF.ext");
  const std::optional<EbpfObject::MovedBtfExt> moved_ext = move_btf_ext();
  // Old index -> new; dropped sections map to 0. `.BTF.ext` goes unless
  // its records moved; its relocation section goes (libbpf does not read
  // it, and its offsets are the old records').
  std::vector<uint32_t> renumber(sections.size(), 0);
  std::vector<uint32_t> kept;
  for (const SectionHeader& s : sections) {
    const bool dropped = btf_ext && ((s.index == btf_ext->index && !moved_ext) ||
                                     ((s.type == kShtRel || s.type == kShtRela) && s.info == btf_ext->index));
    if (s.index != 0 && dropped) continue;
    renumber[s.index] = static_cast<uint32_t>(kept.size());
    kept.push_back(s.index);
  }
  struct OutSection {
    Shdr header;
    std::vector<uint8_t> bytes;
  };
  std::vector<OutSection> out;
  const auto file = std::span<const uint8_t>(*object_.bytes_);
  const uint32_t strtab = symtab_ ? sections[*symtab_].link : 0;
  Ehdr ehdr{};
  std::memcpy(&ehdr, file.data(), sizeof(Ehdr));
  const uint32_t shstrndx = ehdr.e_shstrndx;
  std::vector<std::pair<std::string, size_t>> new_names;  // appended to .shstrtab: name, section it names
  for (uint32_t old : kept) {
    const SectionHeader& s = sections[old];
    OutSection o{};
    std::memcpy(&o.header, file.data() + in_.header_offset(old), sizeof(Shdr));
    if (s.type != kShtNobits) {
      const auto bytes = in_.contents(s);
      o.bytes.assign(bytes.begin(), bytes.end());
    }
    if (auto it = code_sections_.find(old); it != code_sections_.end()) o.bytes = isa::to_bytes(it->second.slots);
    if (btf_ext && old == btf_ext->index && moved_ext) o.bytes = moved_ext->bytes;
    if (s.type == kShtRel && code_sections_.contains(s.info)) {
      o.bytes.clear();
      for (const Rel& r : code_sections_[s.info].relocations) append_record(o.bytes, r);
    }
    if (old == *symtab_) {
      o.bytes.clear();
      for (const Sym& sym : moved_) {
        Sym copy = sym;
        if (copy.st_shndx != kShnUndef && copy.st_shndx < kShnLoreserve && copy.st_shndx < renumber.size())
          copy.st_shndx = static_cast<uint16_t>(renumber[copy.st_shndx]);
        append_record(o.bytes, copy);
      }
    }
    if (s.type != kShtNull) {
      if (o.header.sh_link < renumber.size()) o.header.sh_link = renumber[o.header.sh_link];
      if ((s.type == kShtRel || s.type == kShtRela) && o.header.sh_info < renumber.size())
        o.header.sh_info = renumber[o.header.sh_info];
    }
    out.push_back(std::move(o));
  }
  // Relocation sections for code sections that had none.
  for (auto& [index, section] : code_sections_) {
    if (section.rel_section || section.relocations.empty()) continue;
    OutSection o{};
    o.header.sh_type = kShtRel;
    o.header.sh_flags = kShfInfoLink;
    o.header.sh_link = renumber[*symtab_];
    o.header.sh_info = renumber[index];
    o.header.sh_addralign = 8;
    o.header.sh_entsize = sizeof(Rel);
    for (const Rel& r : section.relocations) append_record(o.bytes, r);
    new_names.push_back({".rel" + std::string(sections[index].name), out.size()});
    out.push_back(std::move(o));
  }
  // Added global data: a section each, and global symbols at the end of .symtab.
  for (const Added& added : added_) {
    OutSection o{};
    o.header.sh_type = kShtProgbits;
    o.header.sh_flags = kShfWrite | kShfAlloc;
    o.header.sh_addralign = 8;
    o.bytes = added.spec.initial;
    o.bytes.resize(added.spec.value_size, 0);
    new_names.push_back({added.spec.name, out.size()});
    const auto section = static_cast<uint16_t>(out.size());
    out.push_back(std::move(o));
    OutSection& strings = out[renumber[strtab]];
    Sym sym{};
    sym.st_name = static_cast<uint32_t>(strings.bytes.size());
    const std::string name = added.spec.name.substr(added.spec.name.rfind('.') + 1);
    strings.bytes.insert(strings.bytes.end(), name.begin(), name.end());
    strings.bytes.push_back(0);
    sym.st_info = st_info(kStbGlobal, kSttObject);
    sym.st_shndx = section;
    sym.st_size = added.spec.value_size;
    append_record(out[renumber[*symtab_]].bytes, sym);
  }
  if (!new_names.empty()) {
    OutSection& names = out[renumber[shstrndx]];
    for (auto& [name, at] : new_names) {
      out[at].header.sh_name = static_cast<uint32_t>(names.bytes.size());
      names.bytes.insert(names.bytes.end(), name.begin(), name.end());
      names.bytes.push_back(0);
    }
  }
  std::vector<uint8_t> bytes(sizeof(Ehdr), 0);
  for (size_t i = 1; i < out.size(); ++i) {
    Shdr& h = out[i].header;
    if (h.sh_addralign > kMostAlignment)
      return fail(Errc::Unsupported, "section '" + std::string(sections[kept[i]].name) + "' asks for alignment " +
                                         std::to_string(h.sh_addralign) + "; the writer keeps at most " +
                                         std::to_string(kMostAlignment));
    align_to(bytes, h.sh_addralign);
    h.sh_offset = bytes.size();
    if (h.sh_type != kShtNobits) {
      h.sh_size = out[i].bytes.size();
      bytes.insert(bytes.end(), out[i].bytes.begin(), out[i].bytes.end());
    }
  }
  align_to(bytes, 8);
  ehdr.e_shoff = bytes.size();
  ehdr.e_shnum = static_cast<uint16_t>(out.size());
  ehdr.e_shstrndx = static_cast<uint16_t>(renumber[shstrndx]);
  ehdr.e_phoff = 0;
  ehdr.e_phnum = 0;
  for (const OutSection& o : out) append_record(bytes, o.header);
  std::memcpy(bytes.data(), &ehdr, sizeof(Ehdr));
  return EbpfObject::Rewritten{std::move(bytes), std::move(notes_)};
}

Expected<EbpfObject::Rewritten> EbpfObject::rewrite(std::span<const NewCode> code) const {
  return ObjectWriter(*this, code).run();
}

}  // namespace bpfkit::elf
