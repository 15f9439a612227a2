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
  for (size_t i = 0; i < mnemonic.size(); ++i)
    buffer[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(mnemonic[i])));
  const auto& table = detail::syntax_tables().normal;
  auto it = table.find(std::string_view(buffer, mnemonic.size()));
  return it == table.end() ? nullptr : &it->second;
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

// How many operands a shape takes in normal syntax (isa.hpp spells each).
size_t Assembler::normal_operand_count(Shape shape) {
  switch (shape) {
    case Shape::Exit: return 0;
    case Shape::AluNeg:
    case Shape::Callx:
    case Shape::LdAbs:
    case Shape::Jump:
    case Shape::JumpLong:
    case Shape::Call:
    case Shape::CallLocal:
    case Shape::CallKfunc: return 1;
    case Shape::MovSx:
    case Shape::JumpImm:
    case Shape::JumpReg: return 3;
    default: return 2;
  }
}

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

// Normal-syntax operands by shape (isa.hpp lists each shape's spelling).
bool Assembler::parse_normal_operands(const OpInfo& row, const std::vector<Tokens>& ops, Operands& out,
                                      std::string& why) {
  const auto reg = [&](Tokens t, int& field) {
    if (t.size() != 1) return false;
    field = detail::normal_register(t[0].text);
    return field >= 0 && field < isa::kRegisterCount;
  };
  const auto expr = [&](Tokens t, Tokens& field) {
    if (expression_end(t, 0) != t.size()) return false;
    field = t;
    return true;
  };
  const auto width = [&](Tokens t) {
    return t.size() == 1 && t[0].kind == TokenKind::Number && static_cast<int64_t>(t[0].number) == row.value;
  };
  const auto target = [&](Tokens t) {
    if (!is_target(t)) return false;
    out.target = t;
    out.has_target = true;
    return true;
  };
  const auto want = [&](size_t n) { return ops.size() == n; };
  switch (row.shape) {
    case Shape::AluReg: return want(2) && reg(ops[0], out.dst) && reg(ops[1], out.src);
    case Shape::AluImm: return want(2) && reg(ops[0], out.dst) && (out.has_imm = expr(ops[1], out.imm));
    case Shape::AluNeg:
    case Shape::Callx: return want(1) && reg(ops[0], out.dst);
    case Shape::MovSx:
      if (want(3) && reg(ops[0], out.dst) && reg(ops[1], out.src) && !width(ops[2])) why = "width must be 8, 16 or 32";
      return want(3) && reg(ops[0], out.dst) && reg(ops[1], out.src) && width(ops[2]);
    case Shape::Endian:
      if (want(2) && reg(ops[0], out.dst) && !width(ops[1])) why = "width must be 16, 32 or 64";
      return want(2) && reg(ops[0], out.dst) && width(ops[1]);
    case Shape::Lddw:
      return row.op == Op::lddw && want(2) && reg(ops[0], out.dst) && (out.has_imm = expr(ops[1], out.imm));
    case Shape::LdAbs: return want(1) && (out.has_imm = expr(ops[0], out.imm));
    case Shape::LdInd: return want(2) && reg(ops[0], out.src) && (out.has_imm = expr(ops[1], out.imm));
    case Shape::Load: return want(2) && reg(ops[0], out.dst) && memory(ops[1], out.src, out, why);
    case Shape::StoreImm: return want(2) && memory(ops[0], out.dst, out, why) && (out.has_imm = expr(ops[1], out.imm));
    case Shape::StoreReg:
    case Shape::Atomic: return want(2) && memory(ops[0], out.dst, out, why) && reg(ops[1], out.src);
    case Shape::Jump:
    case Shape::JumpLong:
    case Shape::CallLocal: return want(1) && target(ops[0]);
    case Shape::JumpImm:
      return want(3) && reg(ops[0], out.dst) && (out.has_imm = expr(ops[1], out.imm)) && target(ops[2]);
    case Shape::JumpReg: return want(3) && reg(ops[0], out.dst) && reg(ops[1], out.src) && target(ops[2]);
    case Shape::Call: return want(1) && (out.has_imm = expr(ops[0], out.imm));
    case Shape::CallKfunc: return false;  // no normal spelling: `call` with a number is a helper
    case Shape::Exit: return ops.empty();
  }
  return false;
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
