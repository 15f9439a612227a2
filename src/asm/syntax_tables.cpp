#include "syntax_tables.hpp"

#include <string>

namespace bpfkit::assembly::detail {
namespace {

using isa::OpInfo;

// The mnemonics of a row's gnu column ("aadd|xadddw" has two).
std::vector<std::string_view> spellings(std::string_view column) {
  std::vector<std::string_view> out;
  while (!column.empty()) {
    const size_t bar = column.find('|');
    out.push_back(column.substr(0, bar));
    if (bar == std::string_view::npos) break;
    column.remove_prefix(bar + 1);
  }
  return out;
}

// Literal text between placeholders, split into tokens by the same lexer
// that reads the input, so both sides compare token by token.
void add_literals(std::string_view text, std::vector<TemplateElem>& elems) {
  Lexer lexer(text);
  Statement statement;
  while (lexer.next(statement))
    for (const Token& token : statement.tokens) elems.push_back({Elem::Literal, true, token.text});
}

PseudoTemplate parse_template(const OpInfo& row) {
  PseudoTemplate tmpl{row.op, {}, false, {}};
  std::string_view text = row.pseudo_c;
  size_t literal_start = 0;
  for (size_t at = 0; at < text.size();) {
    const bool reg_prefix = (text[at] == 'r' || text[at] == 'w') && text.substr(at + 1).starts_with("{");
    if (text[at] != '{' && !reg_prefix) {
      ++at;
      continue;
    }
    add_literals(text.substr(literal_start, at - literal_start), tmpl.elems);
    const bool wide = text[at] != 'w';
    const size_t open = reg_prefix ? at + 1 : at;
    const size_t close = text.find('}', open);
    const std::string_view name = text.substr(open + 1, close - open - 1);
    if (name == "dst")
      tmpl.elems.push_back({Elem::RegDst, wide, {}});
    else if (name == "src")
      tmpl.elems.push_back({Elem::RegSrc, wide, {}});
    else if (name == "imm")
      tmpl.elems.push_back({Elem::Imm, true, {}});
    else if (name == "imm64")
      tmpl.elems.push_back({Elem::Imm64, true, {}});
    else if (name == "off")
      tmpl.elems.push_back({Elem::Off, true, {}});
    else if (name == "target")
      tmpl.elems.push_back({Elem::Target, true, {}});
    else if (name == "opt_imm")
      tmpl.elems.push_back({Elem::OptImm, true, {}});
    else if (name == "imm_hi16")
      tmpl.elems.push_back({Elem::ImmHi16, true, {}});
    else if (name == "imm_lo16")
      tmpl.elems.push_back({Elem::ImmLo16, true, {}});
    at = close + 1;
    literal_start = at;
  }
  add_literals(text.substr(literal_start), tmpl.elems);
  // Narrow loads, register stores and 32-bit atomics take r or w registers
  // (sign-extending loads fill all 64 bits, so they take r).
  const isa::Semantics meaning = isa::base_semantics(row.op);
  const bool narrow = meaning.width < 64;
  const bool register_store = meaning.operation == isa::Operation::Store && meaning.source == isa::Source::Reg;
  const bool atomic = isa::shape_info(row.shape).memory == isa::MemoryAccess::Atomic;
  tmpl.either_width = (meaning.operation == isa::Operation::Load && narrow) || (register_store && narrow) ||
                      (atomic && meaning.width == 32);
  // Registers and literals are one token each; an expression, any number.
  // The first three literals are the keys of the template's list, but for
  // a register (the r0 of `r0 = *(u8 *)skb[...]`), which files as "R".
  for (size_t at = 0; at < tmpl.elems.size(); ++at) {
    const TemplateElem& elem = tmpl.elems[at];
    if (elem.kind == Elem::Literal && (at >= 3 || element_key(elem) != elem.text))
      tmpl.fixed_literals.push_back({at, elem.text});
    else if (elem.kind != Elem::Literal && elem.kind != Elem::RegDst && elem.kind != Elem::RegSrc)
      break;
  }
  return tmpl;
}

SyntaxTables build() {
  SyntaxTables tables;
  // Every row of both families; the assembler keeps those of its dialect.
  // sBPF-only rows come first: where a dialect has two rows one text could
  // name (`r1 |= 5 << 32` is hor64 in v2, not or64 of 5 << 32), the sBPF row
  // is the one its disassembler prints.
  std::vector<const OpInfo*> rows;
  for (const OpInfo& row : isa::kOps)
    if (!isa::is_linux(row)) rows.push_back(&row);
  for (const OpInfo& row : isa::kOps)
    if (isa::is_linux(row)) rows.push_back(&row);
  for (const OpInfo* row_pointer : rows) {
    const OpInfo& row = *row_pointer;
    for (std::string_view name : spellings(row.gnu)) tables.normal[name].push_back(row.op);
    PseudoTemplate tmpl = parse_template(row);
    if (tmpl.elems.empty()) continue;
    const std::string_view first = element_key(tmpl.elems[0]);
    const std::string_view second = tmpl.elems.size() > 1 ? element_key(tmpl.elems[1]) : "";
    if (tmpl.either_width && (first == "R" || first == "W"))
      tables.pseudo[std::string(first == "R" ? "W" : "R") + " " + std::string(second)].push_back(tmpl);
    tables.pseudo[std::string(first) + " " + std::string(second)].push_back(std::move(tmpl));
  }
  // The `pseudo` vectors are complete, so pointers into them stay valid.
  for (const auto& [key, templates] : tables.pseudo) {
    const std::string_view first = std::string_view(key).substr(0, key.find(' '));
    for (const PseudoTemplate& tmpl : templates) {
      const std::string_view second = tmpl.elems.size() > 1 ? element_key(tmpl.elems[1]) : "";
      std::string_view third = tmpl.elems.size() > 2 ? element_key(tmpl.elems[2]) : "";
      if (second == "#") third = "*";
      tables.by_three[three_key(key_hash(first), key_hash(second), key_hash(third))].push_back(&tmpl);
    }
  }
  tables.three_index.build(tables.by_three, [](const auto& entry) { return entry.first; });
  tables.normal_index.build(tables.normal, [](const auto& entry) { return key_hash(entry.first); });
  return tables;
}

}  // namespace

// A literal register (the r0 of `r0 = *(u8 *)skb[...]`) files under its
// width like a placeholder, so input tokens need no second lookup.
std::string_view element_key(const TemplateElem& elem) {
  switch (elem.kind) {
    case Elem::RegDst:
    case Elem::RegSrc: return elem.wide ? "R" : "W";
    case Elem::Literal: {
      bool wide = true;
      if (pseudo_register(elem.text, wide) >= 0) return wide ? "R" : "W";
      return elem.text;
    }
    default: return "#";
  }
}

const SyntaxTables& syntax_tables() {
  static const SyntaxTables tables = build();
  return tables;
}

}  // namespace bpfkit::assembly::detail
