// Expressions: where one ends (syntax only, iterative) and its value, a
// constant or a symbol plus a constant.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

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

Assembler::Evaluation Assembler::evaluate(Tokens tokens, uint64_t location, bool quiet) {
  Evaluation result;
  // Most operands are one plain number, or its negation.
  const auto plain_number = [](const Token& token) {
    return token.kind == TokenKind::Number && !token.bad && !token.overflow;
  };
  if (tokens.size() == 1 && plain_number(tokens[0])) {
    result.value = Value{static_cast<int64_t>(tokens[0].number), -1};
    return result;
  }
  if (tokens.size() == 2 && tokens[0].kind == TokenKind::Punct && eq(tokens[0].text, "-") && plain_number(tokens[1])) {
    result.value = Value{static_cast<int64_t>(0 - tokens[1].number), -1};  // wraps as unary() does
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

std::optional<Value> Assembler::additive(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
  auto left = bitwise(t, at, loc, quiet, undefined);
  while (left && at < t.size() && (eq(t[at].text, "+") || eq(t[at].text, "-")) && t[at].kind == TokenKind::Punct) {
    const Token& op = t[at++];
    auto right = bitwise(t, at, loc, quiet, undefined);
    if (!right) return std::nullopt;
    left = combine_additive(*left, *right, op, quiet);
  }
  return left;
}

std::optional<Value> Assembler::combine_additive(Value left, Value right, const Token& op, bool quiet) {
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
      return Value{static_cast<int64_t>(a.value) + left.constant - static_cast<int64_t>(b.value) - right.constant, -1};
    }
    if (!quiet && (!a.defined || !b.defined)) {
      error_at(op, "undefined symbol '" + (a.defined ? b.name : a.name) + "' in a difference");
      return std::nullopt;
    }
  }
  if (!quiet) error_at(op, "cannot combine these symbols with '" + std::string(op.text) + "'");
  return std::nullopt;
}

std::optional<Value> Assembler::bitwise(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
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

std::optional<Value> Assembler::multiplicative(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
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

std::optional<Value> Assembler::arithmetic(Value left, Value right, const Token& op, bool quiet) {
  if (!left.absolute() || !right.absolute()) {
    if (!quiet) error_at(op, quoted(op.text) + " needs constant operands");
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
std::optional<Value> Assembler::unary(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
  const size_t first_operator = at;
  while (at < t.size() && is_unary_operator(t[at])) ++at;
  const size_t operand_at = at;
  auto value = operand(t, at, loc, quiet, undefined);
  for (size_t i = operand_at; value && i-- > first_operator;) {
    const Token& op = t[i];
    if (eq(op.text, "+")) continue;
    if (!value->absolute()) {
      if (!quiet) error_at(op, quoted(op.text) + " needs a constant operand");
      return std::nullopt;
    }
    const auto v = static_cast<uint64_t>(value->constant);
    value = Value{static_cast<int64_t>(eq(op.text, "-") ? 0 - v : ~v), -1};
  }
  return value;
}

// A number, a symbol, or a `(group)`.
std::optional<Value> Assembler::operand(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined) {
  if (at >= t.size()) {
    if (!quiet) error_at(column_after(t), "expected an expression");
    return std::nullopt;
  }
  const Token& token = t[at];
  if (is_open_paren(token)) {
    if (group_depth_ >= kMaxGroupDepth) {
      if (!quiet) error_at(token, "expression nests more than " + std::to_string(kMaxGroupDepth) + " parentheses deep");
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

std::optional<uint64_t> Assembler::constant(Tokens expr, const char* what) {
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

}  // namespace bpfkit::assembly::detail
