#include "lexer.hpp"

#include <array>

namespace bpfkit::assembly::detail {
namespace {

// Character classes by table: the lexer looks at every byte of the input.
enum CharClass : uint8_t { kOther = 0, kIdentStart = 1, kDigitClass = 2, kSpace = 4, kPunct = 8 };

constexpr std::array<uint8_t, 256> build_classes() {
  std::array<uint8_t, 256> classes{};
  for (int c = 'a'; c <= 'z'; ++c) classes[c] = kIdentStart;
  for (int c = 'A'; c <= 'Z'; ++c) classes[c] = kIdentStart;
  for (int c = '0'; c <= '9'; ++c) classes[c] = kDigitClass;
  classes['_'] = classes['.'] = classes['$'] = kIdentStart;
  classes[' '] = classes['\t'] = classes['\r'] = classes['\f'] = classes['\v'] = kSpace;
  for (char c : std::string_view("()[],+-*/%&|^~<>=!:@{}")) classes[static_cast<unsigned char>(c)] = kPunct;
  return classes;
}
constexpr std::array<uint8_t, 256> kClasses = build_classes();

uint8_t class_of(char c) { return kClasses[static_cast<unsigned char>(c)]; }
bool is_ident_start(char c) { return class_of(c) == kIdentStart; }
bool is_ident_char(char c) { return (class_of(c) & (kIdentStart | kDigitClass)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

// The length of the operator at the start of `text` (0 if none): "s>>=",
// "<<=", ">>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<", "X=" for X in
// "+-*/%|&^=!<>", "<<", ">>", "&&", "||", "->", "::". Longest wins.
inline size_t operator_length(std::string_view text) {
  const auto at = [&](size_t i) { return i < text.size() ? text[i] : '\0'; };
  const char c = at(0), next = at(1);
  switch (c) {
    case 's':
      if ((next == '>' && at(2) == '>' && at(3) == '=')) return 4;
      if ((next == '>' || next == '<' || next == '/' || next == '%') && at(2) == '=') return 3;
      return next == '>' || next == '<' ? 2 : 0;
    case '<':
    case '>':
      if (next == c) return at(2) == '=' ? 3 : 2;
      return next == '=' ? 2 : 0;
    case '&':
    case '|': return next == c || next == '=' ? 2 : 0;
    case '-': return next == '=' || next == '>' ? 2 : 0;
    case ':': return next == ':' ? 2 : 0;
    case '+':
    case '*':
    case '/':
    case '%':
    case '^':
    case '=':
    case '!': return next == '=' ? 2 : 0;
    default: return 0;
  }
}

// Reads a number at the start of `text`: decimal, 0x hex, 0b binary, or
// octal with a leading 0.
size_t lex_number(std::string_view text, Token& token) {
  unsigned base = 10;
  size_t at = 0;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X') && digit_value(text[2]) < 16) {
    base = 16;
    at = 2;
  } else if (text.size() > 2 && text[0] == '0' && (text[1] == 'b' || text[1] == 'B') &&
             (text[2] == '0' || text[2] == '1')) {
    base = 2;
    at = 2;
  } else if (text.size() > 1 && text[0] == '0' && is_digit(text[1])) {
    base = 8;
    at = 1;
  }
  uint64_t value = 0;
  for (; at < text.size(); ++at) {
    const int digit = digit_value(text[at]);
    if (digit >= static_cast<int>(base)) {
      if (base != 16 && digit < 16 && is_digit(text[at])) token.bad = true;  // 09, 0b2
      break;
    }
    if (__builtin_mul_overflow(value, base, &value) ||
        __builtin_add_overflow(value, static_cast<unsigned>(digit), &value))
      token.overflow = true;
  }
  token.number = value;
  // C integer suffixes glued to the number belong to it, as in LLVM:
  // `0x123ll` is the number 0x123 (a mov), `0x123 ll` an lddw.
  while (at < text.size() && (text[at] == 'l' || text[at] == 'L' || text[at] == 'u' || text[at] == 'U')) ++at;
  // Letters or digits glued on (`12abc`, `0x`, `09`) make the whole word one
  // bad number, so the message shows all of it rather than a stray name.
  if (at < text.size() && is_ident_char(text[at])) {
    token.bad = true;
    while (at < text.size() && is_ident_char(text[at])) ++at;
  }
  return at;
}

// 'a', '\n', '\\', '\''.
size_t lex_char(std::string_view text, Token& token) {
  if (text.size() >= 3 && text[1] != '\\' && text[2] == '\'') {
    token.number = static_cast<unsigned char>(text[1]);
    return 3;
  }
  if (text.size() >= 4 && text[1] == '\\' && text[3] == '\'') {
    switch (text[2]) {
      case 'n': token.number = '\n'; break;
      case 't': token.number = '\t'; break;
      case 'r': token.number = '\r'; break;
      case '0': token.number = 0; break;
      default: token.number = static_cast<unsigned char>(text[2]);
    }
    return 4;
  }
  token.bad = true;
  return 1;
}

size_t lex_string(std::string_view text, Token& token) {
  for (size_t at = 1; at < text.size(); ++at) {
    if (text[at] == '\\') {
      ++at;
      continue;
    }
    if (text[at] == '"') return at + 1;
  }
  token.bad = true;  // unterminated
  return text.size();
}

// The token at the start of `text` (not a space, a comment or `;`) into
// `token`: its kind, and the value of a number; returns its length. By the
// class of its first character, the most frequent first.
size_t lex_token(std::string_view text, Token& token) {
  const char c = text[0];
  const uint8_t kind = class_of(c);
  const bool signed_operator = c == 's' && operator_length(text) != 0;  // s>>=, s<, ...
  if ((kind == kIdentStart && !signed_operator) || (c == '%' && text.size() > 1 && is_ident_start(text[1]))) {
    size_t length = 1;
    while (length < text.size() && is_ident_char(text[length])) ++length;
    token.kind = TokenKind::Ident;
    return length;
  }
  if (kind == kDigitClass) {
    token.kind = TokenKind::Number;
    return lex_number(text, token);
  }
  if (c == '\'') {
    token.kind = TokenKind::Number;
    return lex_char(text, token);
  }
  if (c == '"') {
    token.kind = TokenKind::String;
    return lex_string(text, token);
  }
  token.kind = TokenKind::Punct;
  if (const size_t length = operator_length(text); length != 0) return length;
  token.bad = kind != kPunct;
  return 1;
}

}  // namespace

// Past the `*/` that closes the open block comment, or the end of the line
// with the comment still open.
size_t Lexer::skip_block_comment(std::string_view line, size_t at) {
  const size_t end = line.find("*/", at);
  in_block_comment_ = end == std::string_view::npos;
  return in_block_comment_ ? line.size() : end + 2;
}

bool Lexer::lex_line_part(std::string_view line, size_t& position, Statement& out) {
  // Locals rather than members in the loop: the compiler would reload a
  // member after every store into a token.
  size_t at = in_block_comment_ ? skip_block_comment(line, position) : position;
  const size_t column_base = rest_offset_ + 1;
  bool separator = false;
  while (at < line.size()) {
    const char c = line[at];
    const uint8_t kind = class_of(c);
    if (kind == kSpace) {
      ++at;
      continue;
    }
    // Comments and `;` start with '#', '/' or ';' (kOther but for '/').
    if (kind == kOther || c == '/') {
      const char next = at + 1 < line.size() ? line[at + 1] : '\0';
      if (c == '#' || (c == '/' && next == '/')) break;  // to the end of the line
      if (c == '/' && next == '*') {
        comment_start_ = Token{.kind = TokenKind::Punct,
                               .bad = true,
                               .column = static_cast<uint32_t>(column_base + at),
                               .text = line.substr(at, 2)};
        comment_line_ = line_;
        at = skip_block_comment(line, at + 2);
        continue;
      }
      if (c == ';') {
        separator = true;
        ++at;
        break;
      }
    }
    Token& token = out.tokens.emplace_back();  // filled in place: the lexer's hottest line
    token.column = static_cast<uint32_t>(column_base + at);
    const std::string_view text(line.data() + at, line.size() - at);
    const size_t length = lex_token(text, token);
    token.text = text.substr(0, length);
    at += length;
  }
  position = separator ? at : line.size();
  return separator;
}

bool Lexer::next(Statement& out) {
  out.tokens.clear();
  while (true) {
    if (rest_of_line_.empty()) {
      if (line_start_ >= source_.size()) {
        // A comment still open at the end hides the code after it: report
        // its `/*` as a bad token rather than drop that code silently.
        if (!in_block_comment_) return false;
        in_block_comment_ = false;
        out.line = comment_line_;
        out.tokens.push_back(comment_start_);
        return true;
      }
      const size_t end = source_.find('\n', line_start_);
      const size_t stop = end == std::string_view::npos ? source_.size() : end;
      rest_of_line_ = source_.substr(line_start_, stop - line_start_);
      rest_offset_ = 0;
      line_start_ = stop + 1;
      ++line_;
      if (rest_of_line_.empty()) continue;
    }
    out.line = line_;
    size_t at = 0;
    const bool separator = lex_line_part(rest_of_line_, at, out);
    if (separator) {
      rest_of_line_.remove_prefix(at);
      rest_offset_ += at;
      if (rest_of_line_.empty()) rest_of_line_ = {};
    } else {
      rest_of_line_ = {};
    }
    if (!out.tokens.empty()) return true;
  }
}

}  // namespace bpfkit::assembly::detail
