// The text form's tokens (parse.cpp). `;` starts a comment; newlines are
// spaces. Every token knows its line and column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bpfkit::ir::text {

enum class Token : uint8_t {
  End,
  Ident,    // letters, digits, '_', '.', starting with a letter or '_' (mnemonics keep their dots)
  Number,   // -?[0-9]+ or -?0x[0-9a-f]+ (text kept; the parser converts)
  Local,    // %name
  Global,   // @name
  Punct,    // one of = , ( ) [ ] { } : !
  Invalid,  // anything else
};

struct Lexeme {
  Token kind = Token::End;
  std::string_view text;  // for Local and Global, without the sigil
  uint32_t line = 1, column = 1;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}
  Lexeme next();

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  void advance();
  void skip_space_and_comments();
  std::string_view take_while_name(size_t start);

  std::string_view text_;
  size_t pos_ = 0;
  uint32_t line_ = 1, column_ = 1;
};

}  // namespace bpfkit::ir::text
