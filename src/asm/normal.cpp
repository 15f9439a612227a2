// GNU normal syntax: a mnemonic, then operands read by the row's shape.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

// The rows of a GNU mnemonic (case-insensitive, as in GNU as), or null.
const std::vector<Op>* Assembler::normal_rows(std::string_view mnemonic) {
  char buffer[16];
  if (mnemonic.size() > sizeof buffer) return nullptr;
  for (size_t i = 0; i < mnemonic.size(); ++i)  // ASCII, as mnemonics are (and no call per character)
    buffer[i] = mnemonic[i] >= 'A' && mnemonic[i] <= 'Z' ? static_cast<char>(mnemonic[i] - 'A' + 'a') : mnemonic[i];
  const std::string_view lower(buffer, mnemonic.size());
  const auto* entry = detail::syntax_tables().normal_index.find(detail::key_hash(lower));
  return entry != nullptr && entry->first == lower ? &entry->second : nullptr;
}

// A known normal mnemonic, not followed by an assignment operator.
bool Assembler::looks_normal(Tokens tokens) {
  if (tokens[0].kind != TokenKind::Ident || (tokens[0].text[0] == 'r' && tokens[0].text.size() <= 3)) {
    bool wide = true;
    if (tokens[0].kind != TokenKind::Ident || detail::pseudo_register(tokens[0].text, wide) >= 0) return false;
  }
  if (tokens.size() > 1 && tokens[1].kind == TokenKind::Punct && tokens[1].text.ends_with("=")) return false;
  return normal_rows(tokens[0].text) != nullptr;
}

void Assembler::normal_instruction(Tokens tokens) {
  const auto& rows = *normal_rows(tokens[0].text);
  const std::vector<Tokens> operands = split_operands(tokens.subspan(1));
  const bool complete = std::none_of(operands.begin(), operands.end(), [](Tokens t) { return t.empty(); });
  std::string why;
  std::optional<Op> other_dialect;  // the first matching row the dialect lacks
  for (Op op : rows) {
    Operands parsed;
    if (!complete || !parse_normal_operands(isa::info(op), operands, parsed, why)) continue;
    if (has(op)) return emit(isa::info(op), parsed, tokens);
    if (!other_dialect) other_dialect = op;
  }
  if (other_dialect) return report_not_in_dialect(tokens[0], *other_dialect);
  // No form matched: find the most helpful thing to say.
  if (report_bad_registers(tokens)) return;
  if (!complete) return error_at(tokens.size() > 1 ? tokens[1].column : column_after(tokens), "missing operand");
  if (report_operand_count(tokens, rows, operands)) return;
  if (report_unbalanced(tokens)) return;
  error_at(tokens[0], "no form of '" + std::string(tokens[0].text) + "' takes these operands" +
                          (why.empty() ? std::string() : " (" + why + ")"));
}

// How many operands a shape takes in normal syntax (isa/shapes.def).
size_t Assembler::normal_operand_count(Shape shape) { return isa::shape_info(shape).normal.size(); }

// "missing operand" at the end of the statement or "extra operand" at the
// first one too many, when no form of the mnemonic takes that many.
bool Assembler::report_operand_count(Tokens tokens, const std::vector<Op>& rows, const std::vector<Tokens>& operands) {
  size_t fewest = SIZE_MAX, most = 0;
  for (Op op : rows) {
    const size_t count = normal_operand_count(isa::info(op).shape);
    fewest = std::min(fewest, count);
    most = std::max(most, count);
  }
  const std::string takes = quoted(tokens[0].text) + " takes " + std::to_string(fewest) +
                            (fewest == most ? "" : " to " + std::to_string(most)) +
                            (most == 1 ? " operand" : " operands");
  if (operands.size() < fewest) {
    error_at(column_after(tokens), "missing operand: " + takes + ", found " + std::to_string(operands.size()));
    return true;
  }
  if (operands.size() > most) {
    error_at(operands[most][0], "extra operand: " + takes + ", found " + std::to_string(operands.size()));
    return true;
  }
  return false;
}

// Normal-syntax operands as the row's shape lays them out (isa/shapes.def).
// A row told apart by its src field is read only where the layout names
// src: `lddw %r1, imm` is plain lddw, never a pseudo source.
bool Assembler::parse_normal_operands(const OpInfo& row, const std::vector<Tokens>& ops, Operands& out,
                                      std::string& why) {
  const isa::OperandList& layout = isa::shape_info(row.shape).normal;
  if (ops.size() != layout.size()) return false;
  if (row.match == isa::Match::Src && row.value != 0) return false;
  for (size_t i = 0; i < layout.size(); ++i)
    if (!parse_normal_operand(row, layout[i], ops[i], out, why)) return false;
  return true;
}

bool Assembler::parse_normal_operand(const OpInfo& row, isa::OperandKind kind, Tokens t, Operands& out,
                                     std::string& why) {
  const auto reg = [&](int& field) {
    if (t.size() != 1) return false;
    field = detail::normal_register(t[0].text);
    return field >= 0 && field < isa::kRegisterCount;
  };
  const auto expr = [&](Tokens& field) {
    if (expression_end(t, 0) != t.size()) return false;
    field = t;
    return out.has_imm = true;
  };
  switch (kind) {
    case isa::OperandKind::Dst: return reg(out.dst);
    case isa::OperandKind::Src: return reg(out.src);
    case isa::OperandKind::Imm:
    case isa::OperandKind::Imm64: return expr(out.imm);
    case isa::OperandKind::Width:
      if (t.size() == 1 && t[0].kind == TokenKind::Number && static_cast<int64_t>(t[0].number) == row.value)
        return true;
      why = "width must be " + widths_of(row);
      return false;
    case isa::OperandKind::MemDst: return memory(t, out.dst, out, why);
    case isa::OperandKind::MemSrc: return memory(t, out.src, out, why);
    case isa::OperandKind::Target:
      if (!is_target(t)) return false;
      out.target = t;
      out.has_target = true;
      return true;
  }
  return false;
}

// "8, 16 or 32": the widths the rows of this mnemonic and shape take.
std::string Assembler::widths_of(const OpInfo& row) {
  std::vector<int32_t> widths;
  for (const OpInfo& other : isa::kOps)
    if (other.gnu == row.gnu && other.shape == row.shape) widths.push_back(other.value);
  std::string text;
  for (size_t i = 0; i < widths.size(); ++i)
    text.append(i == 0 ? "" : i + 1 == widths.size() ? " or " : ", ").append(std::to_string(widths[i]));
  return text;
}

// [%rN+off] or [%rN-off]; the offset is required, as in every reference tool.
bool Assembler::memory(Tokens t, int& base, Operands& out, std::string& why) {
  if (t.size() < 2 || !eq(t.front().text, "[") || !eq(t.back().text, "]")) return false;
  base = detail::normal_register(t[1].text);
  if (base < 0) return false;
  Tokens offset = t.subspan(2, t.size() - 3);
  if (offset.empty()) {
    why = "memory operand needs an offset: [%rN+0]";
    return false;
  }
  return parse_offset(offset, out);
}

// "+ expr" or "- expr" (GNU also writes "+-8").
bool Assembler::parse_offset(Tokens t, Operands& out) {
  if (t.empty() || t[0].kind != TokenKind::Punct || (!eq(t[0].text, "+") && !eq(t[0].text, "-"))) return false;
  if (expression_end(t, 1) != t.size() || t.size() < 2) return false;
  out.off_sign = eq(t[0].text, "-") ? -1 : 1;
  out.off = t.subspan(1);
  out.has_off = true;
  return true;
}

// A label, a signed or unsigned number, or "(expr)".
bool Assembler::is_target(Tokens t) {
  if (t.size() == 1)
    return t[0].kind == TokenKind::Number || (t[0].kind == TokenKind::Ident && !is_register_name(t[0].text));
  return expression_end(t, 0) == t.size();
}

}  // namespace bpfkit::assembly::detail
