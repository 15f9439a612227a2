// The assembler's driver: statement by statement, labels, symbol
// assignments, then a directive or an instruction in either syntax; the
// errors, and their diagnostics with the source line.
#include "assembler.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "large_buffer.hpp"

namespace bpfkit::assembly::detail {

std::array<bool, isa::kOpCount> dialect_rows(const isa::Dialect& dialect) {
  std::array<bool, isa::kOpCount> rows{};
  for (const isa::OpInfo& row : isa::kOps) {
    if (dialect.family != isa::Family::Sbpf) {
      rows[static_cast<size_t>(row.op)] = isa::is_linux(row);
      continue;
    }
    // sBPF tells rows apart by the opcode byte (and a few by imm or src):
    // a row is the dialect's when its own encoding decodes back to it.
    rows[static_cast<size_t>(row.op)] = isa::lookup(isa::encode(row.op), dialect) == row.op;
  }
  return rows;
}

Assembly Assembler::run() {
  Lexer lexer(source_);
  Statement statement;
  switch_section(".text", kShfAlloc | kShfExecinstr, kShtProgbits);
  // Most sources are mostly code, 8 bytes (16 for lddw) for every 15 to 30
  // characters: room for a byte per character, up front, spares growing
  // (copying megabytes, touching twice the pages) even when lines are short.
  // Only a hint; a reservation is mapped lazily, so pages not written cost
  // nothing (large_buffer.hpp).
  reserve_large(current().bytes, std::min<uint64_t>(source_.size(), options_.max_object_bytes));
  reserve_large(fixups_, source_.size() / 128);  // jumps and calls: about one line in eight
  reserve_large(fixup_tokens_, source_.size() / 128);
  reserve_large(symbols_, source_.size() / 256);  // labels and names: rarely one per 256 characters
  while (lexer.next(statement)) {
    line_ = statement.line;
    this->statement(statement.tokens);
  }
  resolve_fixups();
  return finish();
}

void Assembler::error_at(uint32_t column, std::string message) {
  // Past the first kMaxErrors, only count: a file of bad lines must not
  // cost memory or output in proportion to its size.
  if (errors_.size() >= kMaxErrors) {
    ++more_errors_;
    return;
  }
  Location where;
  where.input = options_.input_name;
  where.line = line_;
  where.column = column;
  errors_.push_back(make_error(Errc::BadOperand, std::move(message), where));
}

void Assembler::error_at(const Token& token, std::string message) { error_at(token.column, std::move(message)); }

void Assembler::statement(Tokens tokens) {
  // Labels: `name:`, possibly several, before anything else on the line.
  while (tokens.size() >= 2 && tokens[0].kind == TokenKind::Ident && eq(tokens[1].text, ":")) {
    if (is_register_name(tokens[0].text))
      return error_at(tokens[0], quoted(tokens[0].text) + " is a register and cannot be a label");
    define_label(tokens[0]);
    tokens = tokens.subspan(2);
  }
  if (tokens.empty()) return;
  statement_column_ = tokens[0].column;
  for (const Token& token : tokens)
    if (token.bad) return error_at(token, bad_token_message(token));
  const Token& first = tokens[0];
  if (first.kind == TokenKind::Ident && first.text.size() > 1 && first.text[0] == '.' &&
      !(tokens.size() > 1 && eq(tokens[1].text, "="))) {
    return directive(tokens);
  }
  // `name = expr` assigns a symbol, unless name is a register (then it is
  // a pseudo-C move).
  if (tokens.size() >= 3 && first.kind == TokenKind::Ident && eq(tokens[1].text, "=") &&
      !is_register_name(first.text)) {
    return assign(first, tokens.subspan(2));
  }
  instruction(tokens);
}

std::string Assembler::bad_token_message(const Token& token) {
  const std::string text(token.text);
  if (token.kind == TokenKind::Number && text.starts_with('\'')) return "bad character literal (expected 'c' or '\\n')";
  if (token.kind == TokenKind::Number)
    return "bad number '" + text + "' (expected decimal, 0x hex, 0b binary or 0 octal digits)";
  if (token.kind == TokenKind::String) return "missing closing '\"' in string";
  if (text == "/*") return "unterminated /* comment: no */ before the end of the input";
  return "unexpected character '" + text + "'";
}

void Assembler::assign(const Token& name, Tokens expr) {
  // `.set r1, 5` would make a symbol no operand can name (r1 reads as the register).
  if (is_register_name(name.text)) return error_at(name, quoted(name.text) + " is a register and cannot be a symbol");
  auto result = evaluate(expr, here(), false);
  if (!result.value) return;
  if (!result.value->absolute()) return error_at(expr[0], "a symbol assignment needs a constant value");
  SymbolState& sym = symbols_[symbol(name.text)];
  // A constant may be set again (.set allows it); a label may not change.
  if (sym.defined && !sym.constant)
    return error_at(name, "symbol '" + std::string(name.text) + "' is already defined as a label");
  sym.defined = true;
  sym.constant = true;
  sym.value = static_cast<uint64_t>(result.value->constant);
}

void Assembler::instruction(Tokens tokens) {
  const bool pseudo_allowed = options_.syntax != Syntax::Normal;
  const bool normal_allowed = options_.syntax != Syntax::PseudoC;
  if (normal_allowed && looks_normal(tokens)) return normal_instruction(tokens);
  if (pseudo_allowed) return pseudo_instruction(tokens);
  error_at(tokens[0], "unknown instruction '" + std::string(tokens[0].text) + "'");
}

// Registers past r10 get their own message: "r11 = 1" is no symbol.
bool Assembler::report_bad_registers(Tokens tokens) {
  for (const Token& token : tokens) {
    if (token.kind != TokenKind::Ident) continue;
    bool wide = true;
    const int number =
        token.text.starts_with('%') ? detail::normal_register(token.text) : detail::pseudo_register(token.text, wide);
    if (number > 10) {
      error_at(token, "no register " + std::string(token.text) + " (r0-r10)");
      return true;
    }
  }
  return false;
}

std::string Assembler::lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits operands at top-level commas.
std::vector<Tokens> Assembler::split_operands(Tokens tokens) {
  std::vector<Tokens> operands;
  if (tokens.empty()) return operands;
  size_t start = 0;
  int depth = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i].text;
    if (t == "(" || t == "[") ++depth;
    if (t == ")" || t == "]") --depth;
    if (t == "," && depth == 0) {
      operands.push_back(tokens.subspan(start, i - start));
      start = i + 1;
    }
  }
  operands.push_back(tokens.subspan(start));
  return operands;
}

// `(1 + 2`, `[%r1+8`: an unmatched bracket explains more than "no form
// matches" does.
// A form the text spells, but of a row the dialect does not have (lddw in
// sBPF v2, mul in v2, sdiv in sBPF): never written with another encoding.
void Assembler::report_not_in_dialect(const Token& where, Op op) {
  const isa::OpInfo& row = isa::info(op);
  error_at(where, std::string(row.gnu.substr(0, row.gnu.find('|'))) + " (" + std::string(row.id) + ") is not in the " +
                      std::string(options_.dialect.name) + " dialect");
}

bool Assembler::report_unbalanced(Tokens tokens) {
  std::vector<const Token*> open;
  for (const Token& token : tokens) {
    if (token.kind != TokenKind::Punct) continue;
    if (eq(token.text, "(") || eq(token.text, "[")) {
      open.push_back(&token);
    } else if (eq(token.text, ")") || eq(token.text, "]")) {
      const std::string_view opener = eq(token.text, ")") ? "(" : "[";
      if (open.empty() || open.back()->text != opener) {
        error_at(token, "unmatched '" + std::string(token.text) + "'");
        return true;
      }
      open.pop_back();
    }
  }
  if (open.empty()) return false;
  error_at(*open.back(), quoted(open.back()->text) + " is never closed");
  return true;
}

}  // namespace bpfkit::assembly::detail

namespace bpfkit::assembly {

Assembly assemble(std::string_view source, const AssembleOptions& options) {
  if (options.syntax == Syntax::Conformance) {
    Assembly out;
    auto slots = assemble_conformance(source, options.input_name);
    if (!slots) {
      out.errors.push_back(slots.error());
      return out;
    }
    Section text;
    text.name = ".text";
    text.flags = kShfAlloc | kShfExecinstr;
    text.alignment = 8;
    text.bytes = isa::to_bytes(*slots);
    out.object.sections.push_back(std::move(text));
    return out;
  }
  return detail::Assembler(source, options).run();
}

namespace {

// The source line of a diagnostic and a caret under the column. A line
// longer than kMaxEchoWidth shows only a window around the column.
std::string echo_line(std::string_view text, uint32_t column) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  const size_t at = column == 0 ? 0 : std::min<size_t>(column - 1, text.size());
  size_t start = 0;
  if (text.size() > kMaxEchoWidth) {
    start = at > kMaxEchoWidth / 2 ? at - kMaxEchoWidth / 2 : 0;
    start = std::min(start, text.size() - kMaxEchoWidth);
  }
  const std::string_view shown = text.substr(start, kMaxEchoWidth);
  const std::string_view before = start > 0 ? "..." : "";
  const std::string_view after = start + shown.size() < text.size() ? "..." : "";
  std::string out;
  out.reserve(2 * (shown.size() + 8));
  out.append(before).append(shown).append(after) += '\n';
  out.append(before.size(), ' ');
  for (size_t i = start; i < at; ++i) out += text[i] == '\t' ? '\t' : ' ';
  out += "^\n";
  return out;
}

std::string headline(const Error& error) {
  // "file:line:col: error: message"
  return to_string(Error{error.code, "", error.location}) + "error: " + error.message + "\n";
}

}  // namespace

std::string format_diagnostic(const Error& error, std::string_view source) {
  std::string out = headline(error);
  if (error.location.line == 0) return out;
  size_t start = 0;
  for (uint32_t line = 1; line < error.location.line && start != std::string_view::npos; ++line) {
    start = source.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (start == std::string_view::npos || start > source.size()) return out;
  return out + echo_line(source.substr(start, source.find('\n', start) - start), error.location.column);
}

std::string format_diagnostics(const Assembly& assembly, std::string_view source) {
  // Where each line starts, found once: errors come in line order, but a
  // rescan per error would make many errors cost time in the source's size.
  std::vector<size_t> line_starts{0};
  for (size_t at = source.find('\n'); at != std::string_view::npos; at = source.find('\n', at + 1))
    line_starts.push_back(at + 1);
  std::string out;
  for (const Error& error : assembly.errors) {
    out += headline(error);
    const uint32_t line = error.location.line;
    if (line == 0 || line > line_starts.size()) continue;
    const size_t start = line_starts[line - 1];
    out += echo_line(source.substr(start, source.find('\n', start) - start), error.location.column);
  }
  if (assembly.more_errors > 0)
    out += std::to_string(assembly.more_errors) + (assembly.more_errors == 1 ? " more error" : " more errors") +
           " not shown\n";
  return out;
}

}  // namespace bpfkit::assembly
