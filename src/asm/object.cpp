// Sections (found by name, every byte against one budget), symbols, and the
// finished Object.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

void Assembler::switch_section(std::string_view name, uint64_t flags, uint32_t type) {
  if (auto it = section_index_.find(name); it != section_index_.end()) {
    current_ = it->second;
    return;
  }
  section_index_.emplace(std::string(name), static_cast<uint32_t>(sections_.size()));
  SectionState state;
  state.section.name = std::string(name);
  state.section.flags = flags;
  state.section.type = type;
  state.section.alignment = (flags & kShfExecinstr) ? 8 : 1;
  sections_.push_back(std::move(state));
  current_ = static_cast<uint32_t>(sections_.size() - 1);
}

void Assembler::append(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  Section& section = current();
  if (section.type == kShtNobits && std::any_of(bytes, bytes + size, [](uint8_t b) { return b != 0; }))
    report_nobits_data();
  if (!reserve(size, statement_column_)) return;
  section.bytes.insert(section.bytes.end(), bytes, bytes + size);
}

// `count` bytes of `fill` (.space, .comm, .fill of one byte).
void Assembler::append_fill(uint64_t count, uint8_t fill, uint32_t column) {
  if (fill != 0 && current().type == kShtNobits) report_nobits_data();
  if (!reserve(count, column)) return;
  current().bytes.insert(current().bytes.end(), count, fill);
}

// reserve() past the budget: the error (once); false.
bool Assembler::over_budget(uint64_t size, uint32_t column) {
  if (!budget_reported_) {  // once: every later datum would fail the same way
    budget_reported_ = true;
    error_at(column, "section " + current().name + " would grow by " + std::to_string(size) +
                         " bytes past the limit of " + std::to_string(options_.max_object_bytes) +
                         " bytes for all sections together");
  }
  return false;
}

// A NOBITS section (.bss) has no bytes in the file: anything but zeros
// there would be lost without a word. Once per statement.
void Assembler::report_nobits_data() {
  if (nobits_reported_line_ == line_) return;
  nobits_reported_line_ = line_;
  error_at(statement_column_,
           "non-zero data in " + current().name + ", which keeps no bytes in the file (NOBITS); put it in .data");
}

int32_t Assembler::symbol(std::string_view name) {
  if (const int32_t found = symbol_index_.find(name, symbols_); found >= 0) return found;
  const auto index = static_cast<int32_t>(symbols_.size());
  symbols_.push_back(SymbolState{std::string(name)});
  symbol_index_.insert(index, symbols_);
  return index;
}

int32_t SymbolIndex::find(std::string_view name, const std::vector<SymbolState>& symbols) const {
  if (slots_.empty()) return -1;
  const uint32_t hash = hash_of(name);
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.index < 0) return -1;
    if (slot.hash == hash && symbols[static_cast<size_t>(slot.index)].name == name) return slot.index;
  }
}

void SymbolIndex::insert(int32_t index, const std::vector<SymbolState>& symbols) {
  if (2 * (count_ + 1) > slots_.size()) {  // grow: twice the slots, every entry placed again
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, 2 * old.size()), Slot{});
    for (const Slot& slot : old)
      if (slot.index >= 0) place(slot);
  }
  place(Slot{hash_of(symbols[static_cast<size_t>(index)].name), index});
  ++count_;
}

void SymbolIndex::place(Slot slot) {
  const size_t mask = slots_.size() - 1;
  size_t i = slot.hash & mask;
  while (slots_[i].index >= 0) i = (i + 1) & mask;
  slots_[i] = slot;
}

void Assembler::define_label(const Token& name) {
  SymbolState& sym = symbols_[symbol(name.text)];
  if (sym.defined) return error_at(name, "symbol '" + std::string(name.text) + "' is already defined");
  sym.defined = true;
  sym.section = static_cast<int32_t>(current_);
  sym.value = here();
}

// `.` as a symbol: a hidden label at `location`, where the statement
// began (not here(): a fixup reads the expression again at the end).
int32_t Assembler::dot_symbol(uint64_t location) {
  const std::string name =
      std::string(kHiddenPrefix) + "dot" + std::to_string(current_) + ":" + std::to_string(location);
  const int32_t index = symbol(name);
  SymbolState& sym = symbols_[index];
  sym.defined = true;
  sym.section = static_cast<int32_t>(current_);
  sym.value = location;
  return index;
}

Assembly Assembler::finish() {
  Assembly out;
  for (SectionState& state : sections_) {
    // An empty .text that nothing used is left out, as llvm-mc keeps it but
    // tools ignore it; keep it when it has symbols.
    out.object.sections.push_back(std::move(state.section));
  }
  for (const SymbolState& sym : symbols_) {
    if (sym.name.starts_with(kHiddenPrefix) || sym.constant) continue;
    if (!sym.defined && !sym.referenced && sym.binding == Binding::Local) continue;
    if (!sym.defined && sym.binding == Binding::Local && !relocated(sym.name)) continue;
    if (sym.name.starts_with(".L") && sym.binding == Binding::Local) continue;  // assembler-local labels
    Symbol symbol;
    symbol.name = sym.name;
    if (sym.defined) symbol.section = static_cast<uint32_t>(sym.section);
    symbol.value = sym.value;
    symbol.size = sym.size;
    symbol.binding = sym.defined ? sym.binding : (sym.binding == Binding::Weak ? Binding::Weak : Binding::Global);
    symbol.type = sym.type;
    out.object.symbols.push_back(std::move(symbol));
  }
  out.object.relocations = std::move(relocations_);
  out.errors = std::move(errors_);
  out.more_errors = more_errors_;
  std::stable_sort(out.errors.begin(), out.errors.end(),
                   [](const Error& a, const Error& b) { return a.location.line < b.location.line; });
  return out;
}

bool Assembler::relocated(const std::string& name) const {
  for (const Relocation& r : relocations_)
    if (r.symbol == name) return true;
  return false;
}

}  // namespace bpfkit::assembly::detail

namespace bpfkit::assembly {

std::vector<isa::Slot> section_slots(const Object& object, std::string_view name) {
  const Section* section = object.find_section(name);
  if (section == nullptr) return {};
  std::vector<isa::Slot> slots(section->bytes.size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), section->bytes.data(), slots.size() * sizeof(isa::Slot));
  return slots;
}

}  // namespace bpfkit::assembly
