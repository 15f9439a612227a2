// The assembler for GNU normal and pseudo-C syntax, mixed freely.
//
// One pass over the statements: labels, directives and instructions go
// straight into sections; an operand that names a symbol not yet known
// becomes a fixup, resolved at the end against the final symbol table or
// turned into a relocation. Instruction forms come from the opcode table
// (syntax_tables.hpp): normal syntax by mnemonic and operand shape, pseudo-C
// by matching the row's template token by token.
#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "bpfkit/assembly.hpp"
#include "lexer.hpp"
#include "syntax_tables.hpp"

namespace bpfkit::assembly {
namespace {

using detail::Elem;
using detail::Lexer;
using detail::PseudoTemplate;
using detail::Statement;
using detail::Token;
using detail::TokenKind;
using isa::Op;
using isa::OpInfo;
using isa::Shape;
using Tokens = std::span<const Token>;

// ---- Symbols and values --------------------------------------------------------

struct SymbolState {
  std::string name;
  bool defined = false;
  bool constant = false;  // .set / .equ / name = expr: `value` is absolute
  int32_t section = -1;   // labels: the section they are in
  uint64_t value = 0;
  uint64_t size = 0;
  Binding binding = Binding::Local;
  SymbolType type = SymbolType::NoType;
  bool referenced = false;
};

// The value of an expression: a constant, or a symbol plus a constant.
struct Value {
  int64_t constant = 0;
  int32_t symbol = -1;  // index into symbols; -1 for a plain constant
  bool absolute() const { return symbol < 0; }
};

// What an unresolved operand becomes once all symbols are known.
enum class FixupKind : uint8_t { Imm32, Off16, Imm64, Branch, Call, Data, Size };

struct Fixup {
  FixupKind kind;
  uint32_t section;
  uint64_t offset;        // byte offset of the instruction or datum
  uint8_t data_size = 0;  // Data: 1, 2, 4 or 8
  int sign = 1;           // Off16: the sign written before the offset
  size_t expr_start = 0;  // the expression's tokens in fixup_tokens_ (the
  size_t expr_size = 0;   // statement's own buffer is reused)
  uint32_t line;
  uint64_t location;    // value of `.` when the expression was read
  int32_t symbol = -1;  // Size: the symbol that .size sets
};

// Starts the names of the assembler's own symbols (`.`), which no source
// name can (a string: "\x01dot" would read as the one character \x1d + "ot").
constexpr std::string_view kHiddenPrefix = "\x01";

// Token text against a literal; the size is known at compile time, so this
// compiles to a length check and one or two byte compares (no memcmp call).
template <size_t N>
inline bool eq(std::string_view text, const char (&literal)[N]) {
  return text.size() == N - 1 && std::memcmp(text.data(), literal, N - 1) == 0;
}

bool is_register_name(std::string_view text) {
  bool wide = true;
  return detail::pseudo_register(text, wide) >= 0 || detail::normal_register(text) >= 0;
}

bool is_binary_operator(const Token& token) {
  if (token.kind != TokenKind::Punct) return false;
  const std::string_view t = token.text;
  return t == "+" || t == "-" || t == "*" || t == "/" || t == "%" || t == "<<" || t == ">>" || t == "&" || t == "|" ||
         t == "^";
}

bool is_open_paren(const Token& token) { return token.kind == TokenKind::Punct && eq(token.text, "("); }

bool is_unary_operator(const Token& token) {
  return token.kind == TokenKind::Punct && (eq(token.text, "-") || eq(token.text, "+") || eq(token.text, "~"));
}

// A number or a symbol name: the leaves of an expression.
bool is_operand(const Token& token) {
  return token.kind == TokenKind::Number || (token.kind == TokenKind::Ident && !is_register_name(token.text));
}

// Where the expression starting at `at` ends (syntax only); `at` if none
// starts there. Registers are not expressions, so `r1 = r2` never reads r2
// as a symbol. Iterative, so no nesting of `(` or `-` can exhaust the stack:
// an expression is operands joined by binary operators, each operand
// preceded by any number of unary operators and `(`. A group that is never
// closed (or never gets its operand) ends the expression after the last
// complete operand outside all groups.
size_t expression_end(Tokens tokens, size_t at) {
  size_t i = at, depth = 0, complete = at;
  for (;;) {
    for (; i < tokens.size() && (is_unary_operator(tokens[i]) || is_open_paren(tokens[i])); ++i)
      if (is_open_paren(tokens[i])) ++depth;
    if (i >= tokens.size() || !is_operand(tokens[i])) return complete;
    ++i;
    while (depth > 0 && i < tokens.size() && tokens[i].kind == TokenKind::Punct && eq(tokens[i].text, ")")) {
      --depth;
      ++i;
    }
    if (depth == 0) complete = i;
    if (i >= tokens.size() || !is_binary_operator(tokens[i])) return complete;
    ++i;
  }
}

// ---- The assembler ----------------------------------------------------------------

// Operands of one instruction, as found by either syntax.
struct Operands {
  int dst = -1, src = -1;
  Tokens imm, off, target;
  Tokens imm_hi, imm_lo;  // addr_space_cast: imm = hi << 16 | lo
  int off_sign = 1, imm_sign = 1;
  bool has_imm = false, has_off = false, has_target = false, has_split_imm = false;
};

struct SectionState {
  Section section;
};

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// Errors kept in an Assembly; the rest are only counted (Assembly::more_errors).
constexpr size_t kMaxErrors = 100;

class Assembler {
 public:
  Assembler(std::string_view source, const AssembleOptions& options) : source_(source), options_(options) {}

  Assembly run() {
    Lexer lexer(source_);
    Statement statement;
    switch_section(".text", kShfAlloc | kShfExecinstr, kShtProgbits);
    while (lexer.next(statement)) {
      line_ = statement.line;
      this->statement(statement.tokens);
    }
    resolve_fixups();
    return finish();
  }

 private:
  // ---- Errors
  void error_at(uint32_t column, std::string message) {
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
  void error_at(const Token& token, std::string message) { error_at(token.column, std::move(message)); }
  uint32_t column_after(Tokens tokens) const {
    return tokens.empty() ? 1 : tokens.back().column + static_cast<uint32_t>(tokens.back().text.size());
  }

  // ---- Sections
  Section& current() { return sections_[current_].section; }
  uint64_t here() { return current().bytes.size(); }

  void switch_section(std::string_view name, uint64_t flags, uint32_t type) {
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

  void append(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (current().type == kShtNobits && std::any_of(bytes, bytes + size, [](uint8_t b) { return b != 0; }))
      report_nobits_data();
    if (!reserve(size, statement_column_)) return;
    current().bytes.insert(current().bytes.end(), bytes, bytes + size);
  }

  // `count` bytes of `fill` (.space, .comm, .fill of one byte).
  void append_fill(uint64_t count, uint8_t fill, uint32_t column) {
    if (fill != 0 && current().type == kShtNobits) report_nobits_data();
    if (!reserve(count, column)) return;
    current().bytes.insert(current().bytes.end(), count, fill);
  }

  // Every byte of every section counts against one budget (the options'
  // max_object_bytes), checked before anything is allocated; .bss counts
  // too, as its bytes are kept in memory. False (and an error) when `size`
  // more bytes in the current section would exceed it.
  bool reserve(uint64_t size, uint32_t column) {
    if (size <= options_.max_object_bytes - object_bytes_) {
      object_bytes_ += size;
      return true;
    }
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
  void report_nobits_data() {
    if (nobits_reported_line_ == line_) return;
    nobits_reported_line_ = line_;
    error_at(statement_column_,
             "non-zero data in " + current().name + ", which keeps no bytes in the file (NOBITS); put it in .data");
  }

  // ---- Symbols
  int32_t symbol(std::string_view name) {
    auto it = symbol_index_.find(name);
    if (it != symbol_index_.end()) return it->second;
    const auto index = static_cast<int32_t>(symbols_.size());
    symbols_.push_back(SymbolState{std::string(name)});
    symbol_index_.emplace(std::string(name), index);
    return index;
  }

  void define_label(const Token& name) {
    SymbolState& sym = symbols_[symbol(name.text)];
    if (sym.defined) return error_at(name, "symbol '" + std::string(name.text) + "' is already defined");
    sym.defined = true;
    sym.section = static_cast<int32_t>(current_);
    sym.value = here();
  }

  // ---- Expressions: evaluate(tokens) -> Value, or nullopt (error reported
  // unless `quiet`: a symbol not yet defined during the first reading).
  struct Evaluation {
    std::optional<Value> value;
    bool undefined = false;  // names a symbol that is not defined (yet)
  };

  Evaluation evaluate(Tokens tokens, uint64_t location, bool quiet) {
    Evaluation result;
    // Most operands are one plain number.
    if (tokens.size() == 1 && tokens[0].kind == TokenKind::Number && !tokens[0].bad && !tokens[0].overflow) {
      result.value = Value{static_cast<int64_t>(tokens[0].number), -1};
      return result;
    }
    size_t at = 0;
    result.value = additive(tokens, at, location, quiet, result.undefined);
    if (result.value && at != tokens.size()) {
      if (!quiet) error_at(tokens[at], "unexpected '" + std::string(tokens[at].text) + "' in expression");
      result.value.reset();
    }
    return result;
  }

  std::optional<Value> additive(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
    auto left = bitwise(t, at, loc, quiet, undefined);
    while (left && at < t.size() && (eq(t[at].text, "+") || eq(t[at].text, "-")) && t[at].kind == TokenKind::Punct) {
      const Token& op = t[at++];
      auto right = bitwise(t, at, loc, quiet, undefined);
      if (!right) return std::nullopt;
      left = combine_additive(*left, *right, op, quiet);
    }
    return left;
  }

  std::optional<Value> combine_additive(Value left, Value right, const Token& op, bool quiet) {
    const bool minus = eq(op.text, "-");
    if (right.absolute()) {
      left.constant += minus ? -right.constant : right.constant;
      return left;
    }
    if (!minus && left.absolute()) {
      right.constant += left.constant;
      return right;
    }
    // label - label in one section is a constant (sizes, distances).
    if (minus && !left.absolute()) {
      const SymbolState& a = symbols_[left.symbol];
      const SymbolState& b = symbols_[right.symbol];
      if (a.defined && b.defined && a.section == b.section) {
        return Value{static_cast<int64_t>(a.value) + left.constant - static_cast<int64_t>(b.value) - right.constant,
                     -1};
      }
      if (!quiet && (!a.defined || !b.defined)) {
        error_at(op, "undefined symbol '" + (a.defined ? b.name : a.name) + "' in a difference");
        return std::nullopt;
      }
    }
    if (!quiet) error_at(op, "cannot combine these symbols with '" + std::string(op.text) + "'");
    return std::nullopt;
  }

  std::optional<Value> bitwise(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
    auto left = multiplicative(t, at, loc, quiet, undefined);
    while (left && at < t.size() && t[at].kind == TokenKind::Punct &&
           (eq(t[at].text, "&") || eq(t[at].text, "|") || eq(t[at].text, "^"))) {
      const Token& op = t[at++];
      auto right = multiplicative(t, at, loc, quiet, undefined);
      if (!right) return std::nullopt;
      left = arithmetic(*left, *right, op, quiet);
    }
    return left;
  }

  std::optional<Value> multiplicative(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
    auto left = unary(t, at, loc, quiet, undefined);
    while (left && at < t.size() && t[at].kind == TokenKind::Punct &&
           (eq(t[at].text, "*") || eq(t[at].text, "/") || eq(t[at].text, "%") || eq(t[at].text, "<<") ||
            eq(t[at].text, ">>"))) {
      const Token& op = t[at++];
      auto right = unary(t, at, loc, quiet, undefined);
      if (!right) return std::nullopt;
      left = arithmetic(*left, *right, op, quiet);
    }
    return left;
  }

  std::optional<Value> arithmetic(Value left, Value right, const Token& op, bool quiet) {
    if (!left.absolute() || !right.absolute()) {
      if (!quiet) error_at(op, "'" + std::string(op.text) + "' needs constant operands");
      return std::nullopt;
    }
    const auto a = static_cast<uint64_t>(left.constant), b = static_cast<uint64_t>(right.constant);
    const std::string_view o = op.text;
    uint64_t r = 0;
    if ((o == "/" || o == "%") && b == 0) {
      if (!quiet) error_at(op, "division by zero in expression");
      return std::nullopt;
    }
    // INT64_MIN / -1 overflows (and traps on x86): dividing by -1 is
    // negating, which wraps in 64 bits like every other operator here.
    if (o == "*")
      r = a * b;
    else if (o == "/")
      r = b == UINT64_MAX ? 0 - a : static_cast<uint64_t>(left.constant / right.constant);
    else if (o == "%")
      r = b == UINT64_MAX ? 0 : static_cast<uint64_t>(left.constant % right.constant);
    else if (o == "<<")
      r = b >= 64 ? 0 : a << b;
    else if (o == ">>")
      r = b >= 64 ? 0 : a >> b;
    else if (o == "&")
      r = a & b;
    else if (o == "|")
      r = a | b;
    else
      r = a ^ b;
    return Value{static_cast<int64_t>(r), -1};
  }

  // Unary operators apply in a loop, innermost first, and groups nest at
  // most kMaxGroupDepth deep: no input can exhaust the stack.
  std::optional<Value> unary(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
    const size_t first_operator = at;
    while (at < t.size() && is_unary_operator(t[at])) ++at;
    const size_t operand_at = at;
    auto value = operand(t, at, loc, quiet, undefined);
    for (size_t i = operand_at; value && i-- > first_operator;) {
      const Token& op = t[i];
      if (eq(op.text, "+")) continue;
      if (!value->absolute()) {
        if (!quiet) error_at(op, "'" + std::string(op.text) + "' needs a constant operand");
        return std::nullopt;
      }
      const auto v = static_cast<uint64_t>(value->constant);
      value = Value{static_cast<int64_t>(eq(op.text, "-") ? 0 - v : ~v), -1};
    }
    return value;
  }

  static constexpr int kMaxGroupDepth = 256;

  // A number, a symbol, or a `(group)`.
  std::optional<Value> operand(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
    if (at >= t.size()) {
      if (!quiet) error_at(column_after(t), "expected an expression");
      return std::nullopt;
    }
    const Token& token = t[at];
    if (is_open_paren(token)) {
      if (group_depth_ >= kMaxGroupDepth) {
        if (!quiet)
          error_at(token, "expression nests more than " + std::to_string(kMaxGroupDepth) + " parentheses deep");
        return std::nullopt;
      }
      ++at;
      ++group_depth_;
      auto inner = additive(t, at, loc, quiet, undefined);
      --group_depth_;
      if (!inner) return std::nullopt;
      if (at >= t.size() || !eq(t[at].text, ")")) {
        if (!quiet) error_at(at < t.size() ? t[at].column : column_after(t), "expected ')'");
        return std::nullopt;
      }
      ++at;
      return inner;
    }
    ++at;
    if (token.kind == TokenKind::Number) {
      if (token.bad) {
        if (!quiet) error_at(token, "bad number '" + std::string(token.text) + "'");
        return std::nullopt;
      }
      if (token.overflow) {
        if (!quiet) error_at(token, "number '" + std::string(token.text) + "' needs more than 64 bits");
        return std::nullopt;
      }
      return Value{static_cast<int64_t>(token.number), -1};
    }
    if (token.kind == TokenKind::Ident && !is_register_name(token.text)) {
      if (eq(token.text, ".")) return Value{0, dot_symbol(loc)};  // the symbol holds the location
      const int32_t index = symbol(token.text);
      SymbolState& sym = symbols_[index];
      sym.referenced = true;
      if (sym.constant) return Value{static_cast<int64_t>(sym.value), -1};
      if (!sym.defined) undefined = true;
      return Value{0, index};
    }
    if (!quiet) error_at(token, "expected an expression, found '" + std::string(token.text) + "'");
    return std::nullopt;
  }

  // `.` as a symbol: a hidden label at `location`, where the statement
  // began (not here(): a fixup reads the expression again at the end).
  int32_t dot_symbol(uint64_t location) {
    const std::string name =
        std::string(kHiddenPrefix) + "dot" + std::to_string(current_) + ":" + std::to_string(location);
    const int32_t index = symbol(name);
    SymbolState& sym = symbols_[index];
    sym.defined = true;
    sym.section = static_cast<int32_t>(current_);
    sym.value = location;
    return index;
  }

  // ---- Statements
  void statement(Tokens tokens) {
    // Labels: `name:`, possibly several, before anything else on the line.
    while (tokens.size() >= 2 && tokens[0].kind == TokenKind::Ident && eq(tokens[1].text, ":")) {
      if (is_register_name(tokens[0].text))
        return error_at(tokens[0], "'" + std::string(tokens[0].text) + "' is a register and cannot be a label");
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

  static std::string bad_token_message(const Token& token) {
    const std::string text(token.text);
    if (token.kind == TokenKind::Number && text.starts_with('\''))
      return "bad character literal (expected 'c' or '\\n')";
    if (token.kind == TokenKind::Number)
      return "bad number '" + text + "' (expected decimal, 0x hex, 0b binary or 0 octal digits)";
    if (token.kind == TokenKind::String) return "missing closing '\"' in string";
    if (text == "/*") return "unterminated /* comment: no */ before the end of the input";
    return "unexpected character '" + text + "'";
  }

  void assign(const Token& name, Tokens expr) {
    // `.set r1, 5` would make a symbol no operand can name (r1 reads as the register).
    if (is_register_name(name.text))
      return error_at(name, "'" + std::string(name.text) + "' is a register and cannot be a symbol");
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

  // ---- Instructions
  void instruction(Tokens tokens) {
    const bool pseudo_allowed = options_.syntax != Syntax::Normal;
    const bool normal_allowed = options_.syntax != Syntax::PseudoC;
    if (normal_allowed && looks_normal(tokens)) return normal_instruction(tokens);
    if (pseudo_allowed) return pseudo_instruction(tokens);
    error_at(tokens[0], "unknown instruction '" + std::string(tokens[0].text) + "'");
  }

  // Registers past r10 get their own message: "r11 = 1" is no symbol.
  bool report_bad_registers(Tokens tokens) {
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

  static std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  // The rows of a GNU mnemonic (case-insensitive, as in GNU as), or null.
  static const std::vector<Op>* normal_rows(std::string_view mnemonic) {
    char buffer[16];
    if (mnemonic.size() > sizeof buffer) return nullptr;
    for (size_t i = 0; i < mnemonic.size(); ++i)
      buffer[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(mnemonic[i])));
    const auto& table = detail::syntax_tables().normal;
    auto it = table.find(std::string_view(buffer, mnemonic.size()));
    return it == table.end() ? nullptr : &it->second;
  }

  // A known normal mnemonic, not followed by an assignment operator.
  bool looks_normal(Tokens tokens) {
    if (tokens[0].kind != TokenKind::Ident || (tokens[0].text[0] == 'r' && tokens[0].text.size() <= 3)) {
      bool wide = true;
      if (tokens[0].kind != TokenKind::Ident || detail::pseudo_register(tokens[0].text, wide) >= 0) return false;
    }
    if (tokens.size() > 1 && tokens[1].kind == TokenKind::Punct && tokens[1].text.ends_with("=")) return false;
    return normal_rows(tokens[0].text) != nullptr;
  }

  // Splits operands at top-level commas.
  static std::vector<Tokens> split_operands(Tokens tokens) {
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

  void normal_instruction(Tokens tokens) {
    const auto& rows = *normal_rows(tokens[0].text);
    const std::vector<Tokens> operands = split_operands(tokens.subspan(1));
    const bool complete = std::none_of(operands.begin(), operands.end(), [](Tokens t) { return t.empty(); });
    std::string why;
    for (Op op : rows) {
      Operands parsed;
      if (complete && parse_normal_operands(isa::info(op), operands, parsed, why))
        return emit(isa::info(op), parsed, tokens);
    }
    // No form matched: find the most helpful thing to say.
    if (report_bad_registers(tokens)) return;
    if (!complete) return error_at(tokens.size() > 1 ? tokens[1].column : column_after(tokens), "missing operand");
    if (report_operand_count(tokens, rows, operands)) return;
    if (report_unbalanced(tokens)) return;
    error_at(tokens[0], "no form of '" + std::string(tokens[0].text) + "' takes these operands" +
                            (why.empty() ? std::string() : " (" + why + ")"));
  }

  // `(1 + 2`, `[%r1+8`: an unmatched bracket explains more than "no form
  // matches" does.
  bool report_unbalanced(Tokens tokens) {
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
    error_at(*open.back(), "'" + std::string(open.back()->text) + "' is never closed");
    return true;
  }

  // How many operands a shape takes in normal syntax (isa.hpp spells each).
  static size_t normal_operand_count(Shape shape) {
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
  bool report_operand_count(Tokens tokens, const std::vector<Op>& rows, const std::vector<Tokens>& operands) {
    size_t fewest = SIZE_MAX, most = 0;
    for (Op op : rows) {
      const size_t count = normal_operand_count(isa::info(op).shape);
      fewest = std::min(fewest, count);
      most = std::max(most, count);
    }
    const std::string takes = "'" + std::string(tokens[0].text) + "' takes " + std::to_string(fewest) +
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
  bool parse_normal_operands(const OpInfo& row, const std::vector<Tokens>& ops, Operands& out, std::string& why) {
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
        if (want(3) && reg(ops[0], out.dst) && reg(ops[1], out.src) && !width(ops[2]))
          why = "width must be 8, 16 or 32";
        return want(3) && reg(ops[0], out.dst) && reg(ops[1], out.src) && width(ops[2]);
      case Shape::Endian:
        if (want(2) && reg(ops[0], out.dst) && !width(ops[1])) why = "width must be 16, 32 or 64";
        return want(2) && reg(ops[0], out.dst) && width(ops[1]);
      case Shape::Lddw:
        return row.op == Op::lddw && want(2) && reg(ops[0], out.dst) && (out.has_imm = expr(ops[1], out.imm));
      case Shape::LdAbs: return want(1) && (out.has_imm = expr(ops[0], out.imm));
      case Shape::LdInd: return want(2) && reg(ops[0], out.src) && (out.has_imm = expr(ops[1], out.imm));
      case Shape::Load: return want(2) && reg(ops[0], out.dst) && memory(ops[1], out.src, out, why);
      case Shape::StoreImm:
        return want(2) && memory(ops[0], out.dst, out, why) && (out.has_imm = expr(ops[1], out.imm));
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
  bool memory(Tokens t, int& base, Operands& out, std::string& why) {
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
  bool parse_offset(Tokens t, Operands& out) {
    if (t.empty() || t[0].kind != TokenKind::Punct || (!eq(t[0].text, "+") && !eq(t[0].text, "-"))) return false;
    if (expression_end(t, 1) != t.size() || t.size() < 2) return false;
    out.off_sign = eq(t[0].text, "-") ? -1 : 1;
    out.off = t.subspan(1);
    out.has_off = true;
    return true;
  }

  // A label, a signed or unsigned number, or "(expr)".
  static bool is_target(Tokens t) {
    if (t.size() == 1)
      return t[0].kind == TokenKind::Number || (t[0].kind == TokenKind::Ident && !is_register_name(t[0].text));
    return expression_end(t, 0) == t.size();
  }

  // ---- Pseudo-C: match the row templates.
  // What a template wanted where it failed: an element (the end of the
  // statement when null), with the register it had to repeat, if any.
  struct Expectation {
    const detail::TemplateElem* elem;
    int same_register = -1;
    bool either_width = false;
  };

  // A register that would make a template match: of the other width
  // (`w1 += r2`), not the one named before (`r1 = le16 r2`), or not the fixed
  // one (`r3 = cmpxchg_64(...)` wants r0).
  enum class RegisterIssue : uint8_t { Width, NotSame, NotFixed };
  struct NearMiss {
    size_t at;
    RegisterIssue issue;
    std::string expected;  // the register that belongs there
  };

  // Why no template matched, gathered on the error path only: the furthest
  // token any template got to and what the templates wanted there. With
  // `relaxed`, a wrong register is noted as a near miss instead of a failure.
  struct MatchNotes {
    bool relaxed = false;
    std::optional<NearMiss> near_miss;
    size_t furthest = 0;
    std::vector<Expectation> expected;

    void fail(size_t at, Expectation wanted) {
      if (at < furthest) return;
      if (at > furthest) expected.clear();
      furthest = at;
      expected.push_back(wanted);
    }
  };

  void pseudo_instruction(Tokens tokens) {
    if (match_any(tokens)) return;
    if (extra_pseudo_forms(tokens)) return;
    if (report_bad_registers(tokens)) return;
    report_pseudo_mismatch(tokens);
  }

  // Tries the templates whose first three keys fit the tokens: each of the
  // second and third tokens as itself or as the start of an expression.
  bool match_any(Tokens tokens) {
    const auto& index = detail::syntax_tables().by_three;
    const std::string_view first = detail::token_key(tokens[0]);
    const std::string_view seconds[] = {tokens.size() > 1 ? detail::token_key(tokens[1]) : "", "#"};
    for (size_t i = 0; i < (tokens.size() > 1 ? 2u : 1u); ++i) {
      const std::string_view second = seconds[i];
      const std::string_view thirds[] = {second == "#"       ? "*"
                                         : tokens.size() > 2 ? detail::token_key(tokens[2])
                                                             : "",
                                         "#"};
      for (size_t j = 0; j < (second != "#" && tokens.size() > 2 ? 2u : 1u); ++j) {
        auto it = index.find(detail::three_key(first, second, thirds[j]));
        if (it == index.end()) continue;
        for (const PseudoTemplate* tmpl : it->second) {
          Operands parsed;
          if (match(*tmpl, tokens, parsed)) {
            emit(isa::info(tmpl->op), parsed, tokens);
            return true;
          }
        }
      }
    }
    return false;
  }

  static std::string describe(const Expectation& wanted) {
    if (!wanted.elem) return "end of statement";
    switch (wanted.elem->kind) {
      case Elem::Literal: return "'" + std::string(wanted.elem->text) + "'";
      case Elem::RegDst:
      case Elem::RegSrc:
        if (wanted.same_register >= 0)
          return (wanted.elem->wide ? "r" : "w") + std::to_string(wanted.same_register) + " again";
        if (wanted.either_width) return "a register";
        return wanted.elem->wide ? "an r register" : "a w register";
      case Elem::Off: return "an offset (+N or -N)";
      case Elem::Target: return "a jump target";
      default: return "an expression";
    }
  }

  // The templates that may read `tokens`, by the two-element keys of
  // syntax_tables(); with `other_width`, also those whose registers have the
  // other width.
  static std::vector<const PseudoTemplate*> candidates(Tokens tokens, bool other_width) {
    const auto widths = [&](std::string_view key) {
      std::vector<std::string> keys{std::string(key)};
      if (other_width && (key == "R" || key == "W")) keys.emplace_back(key == "R" ? "W" : "R");
      return keys;
    };
    std::vector<std::string> seconds = tokens.size() > 1 ? widths(detail::token_key(tokens[1])) : widths("");
    if (tokens.size() > 1) seconds.emplace_back("#");
    std::vector<const PseudoTemplate*> out;
    for (const std::string& first : widths(detail::token_key(tokens[0])))
      for (const std::string& second : seconds) {
        auto it = detail::syntax_tables().pseudo.find(first + " " + second);
        if (it == detail::syntax_tables().pseudo.end()) continue;
        for (const PseudoTemplate& tmpl : it->second) out.push_back(&tmpl);
      }
    return out;
  }

  // No template matched: name an unmatched bracket, or the one wrong
  // register of a form that otherwise matches, or else what the closest
  // templates wanted at the token where they stopped.
  void report_pseudo_mismatch(Tokens tokens) {
    if (report_unbalanced(tokens) || report_near_miss(tokens)) return;
    MatchNotes notes;
    for (const PseudoTemplate* tmpl : candidates(tokens, false)) {
      Operands parsed;
      match(*tmpl, tokens, parsed, &notes);
    }
    if (notes.furthest == 0)
      return error_at(tokens[0], "unknown instruction: no normal mnemonic or pseudo-C form reads '" +
                                     std::string(tokens[0].text) +
                                     (tokens.size() > 1 ? " " + std::string(tokens[1].text) : "") + " ...'");
    std::vector<std::string> wanted;
    for (const Expectation& e : notes.expected)
      if (std::string text = describe(e); std::find(wanted.begin(), wanted.end(), text) == wanted.end())
        wanted.push_back(std::move(text));
    // A long list helps nobody: past a handful, only say where it went wrong.
    std::string list;
    for (size_t i = 0; i < wanted.size() && wanted.size() <= 8; ++i)
      list += (i == 0 ? "" : i + 1 == wanted.size() ? " or " : ", ") + wanted[i];
    if (notes.furthest >= tokens.size()) {
      const std::string after = "after '" + std::string(tokens.back().text) + "'";
      return error_at(column_after(tokens), "missing operand " + (list.empty() ? after : after + ": expected " + list));
    }
    const Token& found = tokens[notes.furthest];
    const std::string found_text = "'" + std::string(found.text) + "'";
    // `r1 = 1 +`: the expression stopped before an operator with nothing after it.
    if (is_binary_operator(found) && expression_end(tokens, notes.furthest + 1) == notes.furthest + 1) {
      const size_t next = notes.furthest + 1;
      return error_at(next < tokens.size() ? tokens[next].column : column_after(tokens),
                      "expected an expression after " + found_text);
    }
    if (wanted.size() == 1 && wanted[0] == "end of statement")
      return error_at(found, "extra operand " + found_text + ": the instruction is complete before it");
    error_at(found, list.empty() ? "unexpected " + found_text : "expected " + list + ", found " + found_text);
  }

  static void note_near_miss(MatchNotes* notes, NearMiss miss) {
    if (notes && !notes->near_miss) notes->near_miss = std::move(miss);
  }

  // `w1 += r2`, `r1 = le16 r2`: a form matches once one register is changed,
  // so that register is what is wrong.
  bool report_near_miss(Tokens tokens) {
    for (const PseudoTemplate* tmpl : candidates(tokens, true)) {
      MatchNotes notes;
      notes.relaxed = true;
      Operands parsed;
      if (!match(*tmpl, tokens, parsed, &notes) || !notes.near_miss) continue;
      const Token& found = tokens[notes.near_miss->at];
      error_at(found, near_miss_message(*notes.near_miss, found, mixes_widths(tokens)));
      return true;
    }
    return false;
  }

  static std::string near_miss_message(const NearMiss& miss, const Token& found, bool mixed_widths) {
    const std::string what = "expected " + miss.expected + ", found " + std::string(found.text);
    switch (miss.issue) {
      case RegisterIssue::Width:
        if (mixed_widths) return "mixed w and r registers: " + what;
        return std::string("this instruction takes ") + (miss.expected[0] == 'r' ? "r (64-bit)" : "w (32-bit)") +
               " registers: " + what;
      case RegisterIssue::NotSame: return what + ": this instruction names the same register twice";
      case RegisterIssue::NotFixed: return what + ": this instruction always uses " + miss.expected + " there";
    }
    return what;
  }

  static bool mixes_widths(Tokens tokens) {
    bool seen_wide = false, seen_narrow = false;
    for (const Token& token : tokens) {
      bool wide = true;
      if (token.kind != TokenKind::Ident || detail::pseudo_register(token.text, wide) < 0) continue;
      (wide ? seen_wide : seen_narrow) = true;
    }
    return seen_wide && seen_narrow;
  }

  // `notes`, on the error path only, collects why the template failed.
  bool match(const PseudoTemplate& tmpl, Tokens in, Operands& out, MatchNotes* notes = nullptr) {
    size_t at = 0;
    const auto fail = [&](size_t where, const detail::TemplateElem* wanted, int same_register = -1) {
      if (notes) notes->fail(where, {wanted, same_register, tmpl.either_width});
      return false;
    };
    for (const detail::TemplateElem& elem : tmpl.elems) {
      switch (elem.kind) {
        case Elem::Literal:
          if (at >= in.size()) return fail(at, &elem);
          if (!literal_matches(elem.text, in[at])) {
            // Relaxed, a fixed register (cmpxchg's r0) may be another one.
            if (!notes || !notes->relaxed || !is_register_name(elem.text) || !is_register_name(in[at].text))
              return fail(at, &elem);
            note_near_miss(notes, {at, RegisterIssue::NotFixed, std::string(elem.text)});
          }
          ++at;
          break;
        case Elem::OptImm: {
          // " + N" / " - N", or nothing for 0.
          if (at >= in.size() || (!eq(in[at].text, "+") && !eq(in[at].text, "-"))) break;
          const size_t end = expression_end(in, at + 1);
          if (end == at + 1) return fail(at + 1, &elem);
          out.imm_sign = eq(in[at].text, "-") ? -1 : 1;
          out.imm = in.subspan(at + 1, end - at - 1);
          out.has_imm = true;
          at = end;
          break;
        }
        case Elem::ImmHi16:
        case Elem::ImmLo16: {
          const size_t end = expression_end(in, at);
          if (end == at) return fail(at, &elem);
          (elem.kind == Elem::ImmHi16 ? out.imm_hi : out.imm_lo) = in.subspan(at, end - at);
          out.has_split_imm = true;
          at = end;
          break;
        }
        case Elem::RegDst:
        case Elem::RegSrc: {
          if (at >= in.size() || in[at].kind != TokenKind::Ident) return fail(at, &elem);
          bool wide = true;
          const int number = detail::pseudo_register(in[at].text, wide);
          if (number < 0 || number >= isa::kRegisterCount) return fail(at, &elem);
          const std::string_view prefix = elem.wide ? "r" : "w";
          if (wide != elem.wide && !tmpl.either_width) {
            if (!notes || !notes->relaxed) return fail(at, &elem);
            note_near_miss(notes, {at, RegisterIssue::Width, std::string(prefix) + std::to_string(number)});
          }
          int& field = elem.kind == Elem::RegDst ? out.dst : out.src;
          if (field >= 0 && field != number) {  // "r1 = -r2" is no neg
            if (!notes || !notes->relaxed) return fail(at, &elem, field);
            note_near_miss(notes, {at, RegisterIssue::NotSame, std::string(prefix) + std::to_string(field)});
          }
          field = number;
          ++at;
          break;
        }
        case Elem::Imm:
        case Elem::Imm64: {
          const size_t end = expression_end(in, at);
          if (end == at) return fail(at, &elem);
          out.imm = in.subspan(at, end - at);
          out.has_imm = true;
          at = end;
          break;
        }
        case Elem::Off: {
          size_t end = at;
          if (end < in.size() && (eq(in[end].text, "+") || eq(in[end].text, "-"))) end = expression_end(in, end + 1);
          if (end <= at + 1 || !parse_offset(in.subspan(at, end - at), out)) return fail(at, &elem);
          at = end;
          break;
        }
        case Elem::Target: {
          // A label, an offset or an expression of them (`goto . - 1`).
          const size_t end = expression_end(in, at);
          if (end == at) return fail(at, &elem);
          out.target = in.subspan(at, end - at);
          out.has_target = true;
          at = end;
          break;
        }
      }
    }
    return at == in.size() || fail(at, nullptr);
  }

  // A template literal against an input token: the same text, or for
  // numbers the same value (`ld_pseudo r1, 0x1, 5`).
  static bool literal_matches(std::string_view literal, const Token& token) {
    if (token.kind == TokenKind::String) return false;
    // Inline for the common case: most literals are one or two characters.
    if (token.text.size() == literal.size()) {
      size_t i = 0;
      while (i < literal.size() && token.text[i] == literal[i]) ++i;
      if (i == literal.size()) return true;
    }
    if (token.kind != TokenKind::Number || literal.empty() || literal[0] < '0' || literal[0] > '9') return false;
    Lexer lexer(literal);
    Statement statement;
    return lexer.next(statement) && statement.tokens.size() == 1 && statement.tokens[0].number == token.number;
  }

  // The legacy XADD that GNU as still reads: `*(u64 *)(r1 + 8) += r2`, the
  // same instruction as `lock *(u64 *)(r1 + 8) += r2`.
  bool extra_pseudo_forms(Tokens tokens) {
    if (!eq(tokens[0].text, "*")) return false;
    std::vector<Token> with_lock;
    with_lock.reserve(tokens.size() + 1);
    with_lock.push_back(Token{.kind = TokenKind::Ident, .column = tokens[0].column, .text = "lock"});
    with_lock.insert(with_lock.end(), tokens.begin(), tokens.end());
    auto it = detail::syntax_tables().pseudo.find("lock *");
    if (it == detail::syntax_tables().pseudo.end()) return false;
    for (const PseudoTemplate& tmpl : it->second) {
      Operands parsed;
      if (match(tmpl, with_lock, parsed)) {
        emit(isa::info(tmpl.op), parsed, tokens);
        return true;
      }
    }
    return false;
  }

  // ---- Emitting an instruction, with fixups for what is not known yet.
  void emit(const OpInfo& row, const Operands& ops, Tokens statement) {
    const uint64_t offset = here();
    isa::Slot slot =
        isa::encode(row.op, static_cast<uint8_t>(std::max(ops.dst, 0)), static_cast<uint8_t>(std::max(ops.src, 0)));
    std::optional<isa::Slot> second;
    if (row.shape == Shape::Lddw) second = isa::Slot{};
    if (ops.has_off && !resolve_into(FixupKind::Off16, ops.off, offset, slot, second, ops.off_sign)) return;
    FixupKind imm_kind = FixupKind::Imm32;
    if (row.shape == Shape::Lddw) imm_kind = FixupKind::Imm64;
    if (row.shape == Shape::Call) imm_kind = FixupKind::Call;
    if (ops.has_imm && !resolve_into(imm_kind, ops.imm, offset, slot, second, ops.imm_sign)) return;
    if (ops.has_split_imm && !split_imm(ops, slot)) return;
    if (ops.has_target && !resolve_into(FixupKind::Branch, ops.target, offset, slot, second, 1)) return;
    static_cast<void>(statement);
    append(&slot, sizeof slot);
    if (second) append(&*second, sizeof *second);
  }

  // addr_space_cast(r2, DST_AS, SRC_AS): imm = DST_AS << 16 | SRC_AS.
  bool split_imm(const Operands& ops, isa::Slot& slot) {
    auto hi = constant(ops.imm_hi, "address space");
    auto lo = constant(ops.imm_lo, "address space");
    if (!hi || !lo) return false;
    if (*hi > 0xffff || *lo > 0xffff) {
      error_at(ops.imm_hi[0], "address spaces are 16-bit numbers");
      return false;
    }
    slot.imm = static_cast<int32_t>((*hi << 16) | *lo);
    return true;
  }

  // Evaluates now when every symbol is known (and writes the field), else
  // records a fixup. Jumps always wait for the end: their labels are usually
  // ahead. False when an error was reported.
  bool resolve_into(FixupKind kind, Tokens expr, uint64_t offset, isa::Slot& slot, std::optional<isa::Slot>& second,
                    int sign) {
    if (kind == FixupKind::Branch) {
      fixups_.push_back(Fixup{kind, current_, offset, 0, sign, keep(expr), expr.size(), line_, offset});
      return true;
    }
    Evaluation result = evaluate(expr, offset, true);
    if (!result.value && !result.undefined) {
      evaluate(expr, offset, false);  // report the error
      return false;
    }
    if (result.value && result.value->absolute()) {
      const int64_t value = sign < 0 ? -result.value->constant : result.value->constant;
      return store_field(kind == FixupKind::Call ? FixupKind::Imm32 : kind, value, expr, slot, second);
    }
    if (result.undefined || kind == FixupKind::Call || kind == FixupKind::Imm64) {
      fixups_.push_back(Fixup{kind, current_, offset, 0, sign, keep(expr), expr.size(), line_, offset});
      return true;
    }
    error_at(expr[0], "a symbol cannot be used here; only lddw, call and jumps take symbols");
    return false;
  }

  bool store_field(FixupKind kind, int64_t value, Tokens expr, isa::Slot& slot, std::optional<isa::Slot>& second) {
    switch (kind) {
      case FixupKind::Off16:
        if (value < INT16_MIN || value > INT16_MAX) {
          error_at(expr[0], "offset " + std::to_string(value) + " does not fit in 16 bits (-32768..32767)");
          return false;
        }
        slot.off = static_cast<int16_t>(value);
        return true;
      case FixupKind::Imm32:
      case FixupKind::Call:
        if (value < INT32_MIN || value > static_cast<int64_t>(UINT32_MAX)) {
          error_at(expr[0], "immediate " + std::to_string(value) + " does not fit in 32 bits");
          return false;
        }
        slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
        return true;
      case FixupKind::Imm64:
        if (slot.src() != 0 && value >= INT32_MIN && value <= static_cast<int64_t>(UINT32_MAX)) {
          // ld_pseudo: a 32-bit value (map fd, BTF id, ...) is the first
          // slot's imm alone, as LLVM encodes `ld_pseudo r7, 2, -1`. Wider
          // values also fill the second slot, whose imm the kernel reads as
          // the offset into a map value.
          slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
          second->imm = 0;
          return true;
        }
        slot.imm = static_cast<int32_t>(static_cast<uint32_t>(value));
        second->imm = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32));
        return true;
      case FixupKind::Branch:
      case FixupKind::Data:
      case FixupKind::Size: return true;  // handled by fixups
    }
    return true;
  }

  // ---- Directives
  void directive(Tokens tokens) {
    const std::string name = lower(tokens[0].text);
    const std::vector<Tokens> args = split_operands(tokens.subspan(1));
    if (name == ".text") return switch_section(".text", kShfAlloc | kShfExecinstr, kShtProgbits);
    if (name == ".data") return switch_section(".data", kShfAlloc | kShfWrite, kShtProgbits);
    if (name == ".bss") return switch_section(".bss", kShfAlloc | kShfWrite, kShtNobits);
    if (name == ".rodata") return switch_section(".rodata", kShfAlloc, kShtProgbits);
    if (name == ".section" || name == ".pushsection") return section_directive(tokens, args);
    if (name == ".globl" || name == ".global" || name == ".weak" || name == ".local")
      return binding_directive(name, args);
    if (name == ".type") return type_directive(tokens, args);
    if (name == ".size") return size_directive(tokens, args);
    if (name == ".set" || name == ".equ") {
      if (args.size() != 2 || args[0].size() != 1) return error_at(tokens[0], name + " takes a name and a value");
      return assign(args[0][0], args[1]);
    }
    if (name == ".p2align" || name == ".align") return align_directive(tokens, args, true);
    if (name == ".balign") return align_directive(tokens, args, false);
    if (name == ".byte") return data_directive(tokens, args, 1);
    if (name == ".short" || name == ".2byte" || name == ".half" || name == ".hword")
      return data_directive(tokens, args, 2);
    if (name == ".long" || name == ".int" || name == ".4byte" || name == ".word")
      return data_directive(tokens, args, 4);
    if (name == ".quad" || name == ".8byte" || name == ".dword") return data_directive(tokens, args, 8);
    if (name == ".ascii" || name == ".asciz" || name == ".string")
      return string_directive(tokens, args, name != ".ascii");
    if (name == ".zero" || name == ".space" || name == ".skip") return space_directive(tokens, args);
    if (name == ".fill") return fill_directive(tokens, args);
    if (name == ".lcomm" || name == ".comm") return common_directive(tokens, args, name == ".comm");
    // Directives that change nothing in the object.
    static const char* const kIgnored[] = {".file",       ".ident",        ".addrsig",       ".addrsig_sym",
                                           ".loc",        ".cfi_sections", ".cfi_startproc", ".cfi_endproc",
                                           ".popsection", ".previous",     ".version",       ".end",
                                           ".hidden",     ".protected",    ".internal",      ".visibility"};
    for (const char* ignored : kIgnored)
      if (name == ignored) return;
    error_at(tokens[0], "unknown directive '" + std::string(tokens[0].text) + "'");
  }

  void section_directive(Tokens tokens, const std::vector<Tokens>& args) {
    if (args.empty() || args[0].empty()) return error_at(tokens[0], ".section needs a name");
    std::string name;
    for (const Token& t : args[0])
      name += t.kind == TokenKind::String ? std::string(t.text.substr(1, t.text.size() - 2)) : std::string(t.text);
    uint64_t flags = 0;
    uint32_t type = kShtProgbits;
    const bool flags_given = args.size() >= 2;
    if (flags_given && !section_flags(args[1], flags)) return;
    if (args.size() >= 3 && !section_type(args[2], type)) return;
    if (!flags_given) flags = default_flags(name, type);
    if (name.starts_with(".bss")) type = kShtNobits;
    switch_section(name, flags, type);
  }

  // "awx" in double quotes. M and S (mergeable strings, as clang writes for
  // .rodata.str1.1) change nothing a BPF loader reads, so they are accepted
  // and dropped; any other letter is refused rather than silently ignored.
  bool section_flags(Tokens arg, uint64_t& flags) {
    if (arg.size() != 1 || arg[0].kind != TokenKind::String) {
      error_at(arg.empty() ? 1 : arg[0].column, "section flags must be a string in double quotes, such as \"ax\"");
      return false;
    }
    const std::string_view letters = arg[0].text.substr(1, arg[0].text.size() - 2);
    for (char c : letters) {
      if (c == 'a')
        flags |= kShfAlloc;
      else if (c == 'w')
        flags |= kShfWrite;
      else if (c == 'x')
        flags |= kShfExecinstr;
      else if (c != 'M' && c != 'S') {
        error_at(arg[0], "unknown section flag '" + std::string(1, c) + "' (expected a, w, x, M or S)");
        return false;
      }
    }
    return true;
  }

  // @progbits or @nobits (GNU also writes %progbits).
  bool section_type(Tokens arg, uint32_t& type) {
    const bool prefixed = arg.size() == 2 && (eq(arg[0].text, "@") || eq(arg[0].text, "%"));
    const std::string_view name = prefixed ? arg[1].text : arg.size() == 1 ? arg[0].text : "";
    if (name == "progbits" || name == "%progbits") {
      type = kShtProgbits;
      return true;
    }
    if (name == "nobits" || name == "%nobits") {
      type = kShtNobits;
      return true;
    }
    error_at(arg.empty() ? 1 : arg[0].column, "unknown section type (expected @progbits or @nobits)");
    return false;
  }

  static uint64_t default_flags(const std::string& name, uint32_t& type) {
    if (name == ".text" || name.starts_with(".text.")) return kShfAlloc | kShfExecinstr;
    if (name.starts_with(".rodata")) return kShfAlloc;
    if (name.starts_with(".data") || name == ".maps") return kShfAlloc | kShfWrite;
    if (name.starts_with(".bss")) {
      type = kShtNobits;
      return kShfAlloc | kShfWrite;
    }
    if (name.starts_with(".BTF") || name.starts_with(".debug") || name == "license" || name == "version") return 0;
    return kShfAlloc | kShfExecinstr;  // program sections: "xdp", "socket", "tc", ...
  }

  void binding_directive(const std::string& name, const std::vector<Tokens>& args) {
    const Binding binding = name == ".weak" ? Binding::Weak : name == ".local" ? Binding::Local : Binding::Global;
    for (const Tokens& arg : args) {
      if (arg.size() != 1 || arg[0].kind != TokenKind::Ident) {
        error_at(arg.empty() ? 1 : arg[0].column, name + " takes symbol names");
        continue;
      }
      symbols_[symbol(arg[0].text)].binding = binding;
    }
  }

  void type_directive(Tokens tokens, const std::vector<Tokens>& args) {
    if (args.size() != 2 || args[0].size() != 1 || args[1].empty())
      return error_at(tokens[0], ".type takes a symbol and @function or @object");
    const std::string_view kind = args[1].back().text;
    SymbolState& sym = symbols_[symbol(args[0][0].text)];
    if (kind == "function" || kind == "STT_FUNC")
      sym.type = SymbolType::Func;
    else if (kind == "object" || kind == "STT_OBJECT")
      sym.type = SymbolType::Object;
    else if (kind != "notype")
      return error_at(args[1].back(), "unknown symbol type '" + std::string(kind) + "'");
  }

  void size_directive(Tokens tokens, const std::vector<Tokens>& args) {
    if (args.size() != 2 || args[0].size() != 1) return error_at(tokens[0], ".size takes a symbol and a size");
    const int32_t index = symbol(args[0][0].text);
    // `.size f, .Lend - f` may come before .Lend: then it waits for the end.
    if (evaluate(args[1], here(), true).undefined) {
      fixups_.push_back(
          Fixup{FixupKind::Size, current_, here(), 0, 1, keep(args[1]), args[1].size(), line_, here(), index});
      return;
    }
    set_size(index, args[1], here());
  }

  void set_size(int32_t index, Tokens expr, uint64_t location) {
    auto result = evaluate(expr, location, false);
    if (!result.value) return;
    if (!result.value->absolute()) return error_at(expr[0], ".size needs a constant");
    symbols_[index].size = static_cast<uint64_t>(result.value->constant);
  }

  std::optional<uint64_t> constant(Tokens expr, const char* what) {
    if (expr.empty()) {
      error_at(1, std::string(what) + " needs a value");
      return std::nullopt;
    }
    auto result = evaluate(expr, here(), false);
    if (!result.value) return std::nullopt;
    if (!result.value->absolute()) {
      error_at(expr[0], std::string(what) + " needs a constant");
      return std::nullopt;
    }
    return static_cast<uint64_t>(result.value->constant);
  }

  void align_directive(Tokens tokens, const std::vector<Tokens>& args, bool power_of_two) {
    if (args.empty()) return error_at(tokens[0], "alignment directive needs a value");
    auto value = constant(args[0], "alignment");
    if (!value) return;
    if (power_of_two && *value > 16)
      return error_at(args[0][0], "alignment 2^" + std::to_string(*value) + " is too large");
    const uint64_t alignment = power_of_two ? uint64_t{1} << *value : *value;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 65536)
      return error_at(args[0][0], "alignment must be a power of two up to 65536");
    uint8_t fill = 0;
    if (args.size() >= 2 && !args[1].empty()) {
      auto f = constant(args[1], "fill value");
      if (!f) return;
      fill = static_cast<uint8_t>(*f);
    }
    current().alignment = std::max(current().alignment, alignment);
    const bool code = (current().flags & kShfExecinstr) != 0;
    while (here() % alignment != 0) {
      // In code, pad with zero bytes too (llvm-mc pads BPF code with zeros).
      const uint8_t byte = code ? 0 : fill;
      append(&byte, 1);
    }
  }

  void data_directive(Tokens tokens, const std::vector<Tokens>& args, uint8_t size) {
    if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs values");
    for (const Tokens& arg : args) {
      if (arg.empty()) {
        error_at(tokens[0], "missing value");
        continue;
      }
      const uint64_t offset = here();
      Evaluation result = evaluate(arg, offset, true);
      if (result.value && result.value->absolute()) {
        const int64_t v = result.value->constant;
        check_data_range(v, size, arg);
        append(&v, size);
        continue;
      }
      if (!result.value && !result.undefined) {
        evaluate(arg, offset, false);
        continue;
      }
      const uint64_t zero = 0;
      append(&zero, size);
      fixups_.push_back(Fixup{FixupKind::Data, current_, offset, size, 1, keep(arg), arg.size(), line_, offset});
    }
  }

  // A datum may be written signed or unsigned: .byte takes -128..255.
  void check_data_range(int64_t value, uint8_t size, Tokens expr) {
    if (size >= 8) return;
    const int64_t lo = -(int64_t{1} << (size * 8 - 1)), hi = (int64_t{1} << (size * 8)) - 1;
    if (value < lo || value > hi)
      error_at(expr[0], "value " + std::to_string(value) + " does not fit in " + std::to_string(size) +
                            (size == 1 ? " byte (" : " bytes (") + std::to_string(lo) + ".." + std::to_string(hi) +
                            ")");
  }

  void string_directive(Tokens tokens, const std::vector<Tokens>& args, bool terminate) {
    if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs a string");
    for (const Tokens& arg : args) {
      if (arg.size() != 1 || arg[0].kind != TokenKind::String) {
        error_at(arg.empty() ? tokens[0].column : arg[0].column, "expected a string in double quotes");
        continue;
      }
      const std::string_view text = arg[0].text.substr(1, arg[0].text.size() - 2);
      std::string bytes;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 >= text.size()) {
          bytes += text[i];
          continue;
        }
        const char e = text[++i];
        if (e == 'n')
          bytes += '\n';
        else if (e == 't')
          bytes += '\t';
        else if (e == 'r')
          bytes += '\r';
        else if (e >= '0' && e <= '7') {
          int v = 0, n = 0;
          for (; n < 3 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++n, ++i) v = v * 8 + (text[i] - '0');
          --i;
          bytes += static_cast<char>(v);
        } else
          bytes += e;
      }
      append(bytes.data(), bytes.size());
      if (terminate) append("", 1);
    }
  }

  void space_directive(Tokens tokens, const std::vector<Tokens>& args) {
    if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs a size");
    auto size = constant(args[0], "size");
    if (!size) return;
    if (!size_in_range(*size, args[0][0])) return;
    uint8_t fill = 0;
    if (args.size() >= 2) {
      auto f = constant(args[1], "fill value");
      if (!f) return;
      fill = static_cast<uint8_t>(*f);
    }
    append_fill(*size, fill, args[0][0].column);
  }

  // A size read as unsigned: -1 is 2^64 - 1, which no section can hold.
  bool size_in_range(uint64_t size, const Token& where) {
    if (static_cast<int64_t>(size) >= 0) return true;
    error_at(where, "size " + std::to_string(static_cast<int64_t>(size)) + " is negative");
    return false;
  }

  void fill_directive(Tokens tokens, const std::vector<Tokens>& args) {
    if (args.empty() || args.size() > 3) return error_at(tokens[0], ".fill takes count[, size[, value]]");
    auto count = constant(args[0], "count");
    if (!count) return;
    uint64_t size = 1, value = 0;
    if (args.size() >= 2) {
      auto s = constant(args[1], "size");
      if (!s) return;
      size = std::min<uint64_t>(*s, 8);
    }
    if (args.size() == 3) {
      auto v = constant(args[2], "value");
      if (!v) return;
      value = *v;
    }
    if (!size_in_range(*count, args[0][0])) return;
    uint64_t total = 0;
    if (__builtin_mul_overflow(*count, size, &total) || total > options_.max_object_bytes)
      return error_at(args[0][0], ".fill of " + std::to_string(*count) + " times " + std::to_string(size) +
                                      " bytes is larger than the limit of " +
                                      std::to_string(options_.max_object_bytes) + " bytes");
    if (size == 1) return append_fill(*count, static_cast<uint8_t>(value), args[0][0].column);
    uint8_t bytes[8];
    std::memcpy(bytes, &value, sizeof bytes);
    if (current().type == kShtNobits && std::any_of(bytes, bytes + size, [](uint8_t b) { return b != 0; }))
      report_nobits_data();
    if (!reserve(total, args[0][0].column)) return;
    for (uint64_t i = 0; i < *count; ++i) current().bytes.insert(current().bytes.end(), bytes, bytes + size);
  }

  void common_directive(Tokens tokens, const std::vector<Tokens>& args, bool global) {
    if (args.size() < 2 || args[0].size() != 1)
      return error_at(tokens[0], std::string(tokens[0].text) + " takes a name and a size");
    auto size = constant(args[1], "size");
    if (!size || !size_in_range(*size, args[1][0])) return;
    const uint32_t saved = current_;
    switch_section(".bss", kShfAlloc | kShfWrite, kShtNobits);
    define_label(args[0][0]);
    SymbolState& sym = symbols_[symbol(args[0][0].text)];
    sym.size = *size;
    sym.type = SymbolType::Object;
    if (global) sym.binding = Binding::Global;
    append_fill(*size, 0, args[1][0].column);
    current_ = saved;
  }

  // ---- Fixups
  // Copies an expression's tokens into one buffer shared by all fixups.
  size_t keep(Tokens expr) {
    const size_t start = fixup_tokens_.size();
    fixup_tokens_.insert(fixup_tokens_.end(), expr.begin(), expr.end());
    return start;
  }
  Tokens expression_of(const Fixup& fixup) const {
    return Tokens(fixup_tokens_).subspan(fixup.expr_start, fixup.expr_size);
  }

  void resolve_fixups() {
    for (const Fixup& fixup : fixups_) {
      line_ = fixup.line;
      const Tokens expr = expression_of(fixup);
      const uint32_t saved = current_;
      current_ = fixup.section;
      if (fixup.kind == FixupKind::Size) {
        set_size(fixup.symbol, expr, fixup.location);
        current_ = saved;
        continue;
      }
      Evaluation result = evaluate(expr, fixup.location, false);
      current_ = saved;
      if (!result.value) continue;
      if (fixup.kind == FixupKind::Data)
        apply_data(fixup, *result.value);
      else
        apply_instruction(fixup, *result.value);
    }
  }

  uint8_t* bytes_at(const Fixup& fixup) { return sections_[fixup.section].section.bytes.data() + fixup.offset; }

  isa::Slot read_slot(const Fixup& fixup, size_t index = 0) {
    isa::Slot slot;
    std::memcpy(&slot, bytes_at(fixup) + index * sizeof slot, sizeof slot);
    return slot;
  }
  void write_slot(const Fixup& fixup, const isa::Slot& slot, size_t index = 0) {
    std::memcpy(bytes_at(fixup) + index * sizeof slot, &slot, sizeof slot);
  }

  void apply_instruction(const Fixup& fixup, const Value& value) {
    isa::Slot slot = read_slot(fixup);
    std::optional<isa::Slot> second;
    const Tokens expr = expression_of(fixup);
    switch (fixup.kind) {
      case FixupKind::Branch: return apply_branch(fixup, value, slot);
      case FixupKind::Call: return apply_call(fixup, value, slot);
      case FixupKind::Imm64: {
        second = read_slot(fixup, 1);
        int64_t addend = value.constant;
        if (!value.absolute()) addend = relocate(fixup, value, kRelBpf64_64);
        store_field(FixupKind::Imm64, addend, expr, slot, second);
        write_slot(fixup, *second, 1);
        break;
      }
      default:
        if (!value.absolute())
          return error_at(expr[0], "a symbol cannot be used here; only lddw, call and jumps take symbols");
        if (!store_field(fixup.kind, fixup.sign < 0 ? -value.constant : value.constant, expr, slot, second)) return;
    }
    write_slot(fixup, slot);
  }

  // Records a relocation for `value` at the fixup and returns the addend to
  // store: local symbols are named by their section (addend = offset), as
  // llvm-mc and GNU as do; global and undefined ones by themselves.
  int64_t relocate(const Fixup& fixup, const Value& value, uint32_t type) {
    SymbolState& sym = symbols_[value.symbol];
    sym.referenced = true;
    if (sym.defined && sym.binding == Binding::Local && sym.section >= 0) {
      relocations_.push_back(Relocation{fixup.section, fixup.offset, type, sections_[sym.section].section.name});
      return static_cast<int64_t>(sym.value) + value.constant;
    }
    relocations_.push_back(Relocation{fixup.section, fixup.offset, type, sym.name});
    return value.constant;
  }

  void apply_branch(const Fixup& fixup, const Value& value, isa::Slot& slot) {
    const Tokens expr = expression_of(fixup);
    int64_t delta = 0;
    if (value.absolute()) {
      delta = value.constant;  // a numeric offset in slots
    } else {
      const SymbolState& sym = symbols_[value.symbol];
      if (!sym.defined) return error_at(expr[0], "undefined label '" + sym.name + "'");
      if (sym.section != static_cast<int32_t>(fixup.section))
        return error_at(expr[0], "label '" + sym.name + "' is in another section");
      const int64_t bytes = static_cast<int64_t>(sym.value) + value.constant - static_cast<int64_t>(fixup.offset) - 8;
      if (bytes % 8 != 0) {
        // `.` is a hidden symbol; its name is for the assembler only.
        const std::string shown = sym.name.starts_with(kHiddenPrefix) ? "." : sym.name;
        return error_at(expr[0], "jump target '" + shown + "' " +
                                     (value.constant ? "plus " + std::to_string(value.constant) + " " : "") +
                                     "is not at an instruction boundary (a multiple of 8 bytes)");
      }
      delta = bytes / 8;
    }
    const Op op = *isa::lookup(slot);
    const Shape shape = isa::info(op).shape;
    const bool wide = shape == Shape::JumpLong || shape == Shape::CallLocal;
    if (!wide && (delta < INT16_MIN || delta > INT16_MAX)) {
      // `goto` to a far label becomes `gotol`, as LLVM does.
      if (op == Op::ja && !value.absolute() && delta >= INT32_MIN && delta <= INT32_MAX) {
        slot = isa::encode(Op::gotol, 0, 0, 0, static_cast<int32_t>(delta));
        write_slot(fixup, slot);
        return;
      }
      return error_at(expr[0], "jump offset " + std::to_string(delta) + " does not fit in 16 bits (-32768..32767)");
    }
    if (wide && (delta < INT32_MIN || delta > INT32_MAX))
      return error_at(expr[0], "jump offset " + std::to_string(delta) + " does not fit in 32 bits");
    if (wide)
      slot.imm = static_cast<int32_t>(delta);
    else
      slot.off = static_cast<int16_t>(delta);
    write_slot(fixup, slot);
  }

  // `call sym`: a function in this section is a local call; anything else a
  // relocation (R_BPF_64_32) for the loader, with imm = -1 as LLVM writes.
  void apply_call(const Fixup& fixup, const Value& value, isa::Slot& slot) {
    const Tokens expr = expression_of(fixup);
    if (value.absolute()) {
      std::optional<isa::Slot> none;
      if (store_field(FixupKind::Imm32, value.constant, expr, slot, none)) write_slot(fixup, slot);
      return;
    }
    const SymbolState& sym = symbols_[value.symbol];
    slot = isa::encode(Op::call_local);
    if (sym.defined && sym.section == static_cast<int32_t>(fixup.section)) {
      const int64_t bytes = static_cast<int64_t>(sym.value) + value.constant - static_cast<int64_t>(fixup.offset) - 8;
      slot.imm = static_cast<int32_t>(bytes / 8);
    } else {
      const int64_t addend = relocate(fixup, value, kRelBpf64_32);
      const bool by_section = sym.defined && sym.binding == Binding::Local;
      slot.imm = by_section ? static_cast<int32_t>(addend / 8 - 1) : -1;
    }
    write_slot(fixup, slot);
  }

  void apply_data(const Fixup& fixup, const Value& value) {
    const Tokens expr = expression_of(fixup);
    int64_t v = value.constant;
    if (!value.absolute()) {
      if (fixup.data_size != 8 && fixup.data_size != 4)
        return error_at(expr[0], "a symbol needs a .quad or .long (8 or 4 bytes)");
      v = relocate(fixup, value, fixup.data_size == 8 ? kRelBpf64Abs64 : kRelBpf64Abs32);
    } else {
      check_data_range(v, fixup.data_size, expr);
    }
    std::memcpy(bytes_at(fixup), &v, fixup.data_size);
  }

  // ---- The object
  Assembly finish() {
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
                     [](const Error& a, const Error& b) { return a.where.line < b.where.line; });
    return out;
  }

  bool relocated(const std::string& name) const {
    for (const Relocation& r : relocations_)
      if (r.symbol == name) return true;
    return false;
  }

  std::string_view source_;
  const AssembleOptions& options_;
  uint32_t line_ = 0;
  uint32_t statement_column_ = 1;      // where the current statement starts
  uint32_t nobits_reported_line_ = 0;  // see report_nobits_data()
  int group_depth_ = 0;                // `(` open in the expression being evaluated
  std::vector<SectionState> sections_;
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> section_index_;
  uint32_t current_ = 0;
  uint64_t object_bytes_ = 0;  // all sections' bytes, against options_.max_object_bytes
  bool budget_reported_ = false;
  size_t more_errors_ = 0;  // errors found past the first kMaxErrors
  std::vector<SymbolState> symbols_;
  std::unordered_map<std::string, int32_t, NameHash, std::equal_to<>> symbol_index_;
  std::vector<Fixup> fixups_;
  std::vector<Token> fixup_tokens_;
  std::vector<Relocation> relocations_;
  std::vector<Error> errors_;
};

}  // namespace

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
  return Assembler(source, options).run();
}

std::vector<isa::Slot> section_slots(const Object& object, std::string_view name) {
  const Section* section = object.find_section(name);
  if (section == nullptr) return {};
  std::vector<isa::Slot> slots(section->bytes.size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), section->bytes.data(), slots.size() * sizeof(isa::Slot));
  return slots;
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
  return to_string(Error{error.code, "", error.where}) + "error: " + error.message + "\n";
}

}  // namespace

std::string format_diagnostic(const Error& error, std::string_view source) {
  std::string out = headline(error);
  if (error.where.line == 0) return out;
  size_t start = 0;
  for (uint32_t line = 1; line < error.where.line && start != std::string_view::npos; ++line) {
    start = source.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (start == std::string_view::npos || start > source.size()) return out;
  return out + echo_line(source.substr(start, source.find('\n', start) - start), error.where.column);
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
    const uint32_t line = error.where.line;
    if (line == 0 || line > line_starts.size()) continue;
    const size_t start = line_starts[line - 1];
    out += echo_line(source.substr(start, source.find('\n', start) - start), error.where.column);
  }
  if (assembly.more_errors > 0)
    out += std::to_string(assembly.more_errors) + (assembly.more_errors == 1 ? " more error" : " more errors") +
           " not shown\n";
  return out;
}

}  // namespace bpfkit::assembly
