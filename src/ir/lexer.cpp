// The text form's lexer: bounded by the input, never reads past its end.
#include "lexer.hpp"

namespace bpfkit::ir::text {

namespace {
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '$';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

void Lexer::advance() {
  if (pos_ >= text_.size()) return;
  if (text_[pos_] == '\n') {
    ++line_;
    column_ = 1;
  } else {
    ++column_;
  }
  ++pos_;
}

void Lexer::skip_space_and_comments() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      advance();
    } else if (c == ';') {
      while (pos_ < text_.size() && text_[pos_] != '\n') advance();
    } else {
      return;
    }
  }
}

std::string_view Lexer::take_while_name(size_t start) {
  // '-' continues a name ("sbpf-v3") but never starts one.
  while (pos_ < text_.size() && (is_name_char(text_[pos_]) || (pos_ > start && text_[pos_] == '-'))) advance();
  return text_.substr(start, pos_ - start);
}

Lexeme Lexer::next() {
  skip_space_and_comments();
  Lexeme lexeme;
  lexeme.line = line_;
  lexeme.column = column_;
  if (pos_ >= text_.size()) return lexeme;
  const size_t start = pos_;
  const char c = text_[pos_];
  if (c == '%' || c == '@') {
    advance();
    lexeme.kind = c == '%' ? Token::Local : Token::Global;
    lexeme.text = take_while_name(pos_);
    if (lexeme.text.empty()) lexeme.kind = Token::Invalid;
    return lexeme;
  }
  if (is_digit(c) || (c == '-' && is_digit(peek(1)))) {
    advance();
    lexeme.kind = Token::Number;
    lexeme.text = take_while_name(start);  // digits, and x/hex letters: the parser checks
    return lexeme;
  }
  if (is_name_char(c)) {
    lexeme.kind = Token::Ident;
    lexeme.text = take_while_name(start);
    return lexeme;
  }
  advance();
  lexeme.text = text_.substr(start, 1);
  lexeme.kind = std::string_view("=,()[]{}:!").find(c) != std::string_view::npos ? Token::Punct : Token::Invalid;
  return lexeme;
}

}  // namespace bpfkit::ir::text
