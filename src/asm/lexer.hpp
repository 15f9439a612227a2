// Tokens of assembly text, shared by the normal and pseudo-C front ends.
// Internal to module asm.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace bpfkit::assembly::detail {

enum class TokenKind : uint8_t {
  Ident,   // names, mnemonics, registers (r1, w1, %r1, %fp), directives (.text)
  Number,  // 42, 0x2a, 052, 0b101, 'a'
  String,  // "text" (quotes included in `text`)
  Punct,   // operators and punctuation: ( ) [ ] , + - * += s>>= ...
};

// 32 bytes: statements are vectors of these, filled for every line.
struct Token {
  TokenKind kind;
  bool overflow = false;  // Number: needs more than 64 bits
  bool bad = false;       // a character or literal the lexer could not read
  uint32_t column = 0;    // 1-based
  std::string_view text;
  uint64_t number = 0;  // Number: its value
};
static_assert(sizeof(Token) == 32);

// One statement: the tokens between separators (newline or ';').
struct Statement {
  uint32_t line;
  std::vector<Token> tokens;
};

// Splits source into statements. Comments: `#` and `//` to the end of the
// line, `/* ... */` anywhere (also across lines). `;` separates statements,
// as in llvm-mc and GNU as. Calls `consume(statement)` for each non-empty one.
// A `/*` never closed comes last, as a statement of one bad token.
class Lexer {
 public:
  explicit Lexer(std::string_view source) : source_(source) {}
  // Fills `out` with the next statement; false at the end of the input.
  bool next(Statement& out);

 private:
  bool lex_line_part(std::string_view line, size_t& position, Statement& out);
  size_t skip_block_comment(std::string_view line, size_t at);

  std::string_view source_;
  size_t line_start_ = 0;
  uint32_t line_ = 0;
  std::string_view rest_of_line_;  // after a ';' on the current line
  size_t rest_offset_ = 0;         // column offset of rest_of_line_
  bool in_block_comment_ = false;
  Token comment_start_{};  // the `/*` of the open comment, and its line
  uint32_t comment_line_ = 0;
};

}  // namespace bpfkit::assembly::detail
