// Pseudo-C: the statement matched token by token against the opcode
// table's templates; when none matches, the most helpful error.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

void Assembler::pseudo_instruction(Tokens tokens) {
  if (match_any(tokens, false)) return;
  if (extra_pseudo_forms(tokens) || match_any(tokens, true)) return;
  if (report_bad_registers(tokens)) return;
  report_pseudo_mismatch(tokens);
}

// Tries the templates whose first three keys fit the tokens: each of the
// second and third tokens as itself or as the start of an expression ("#",
// after which the keys are "*"). With `other_dialect`, only the rows the
// dialect lacks are tried, and the first that matches is reported (the
// error path).
bool Assembler::match_any(Tokens tokens, bool other_dialect) {
  constexpr uint64_t kNone = detail::key_hash(""), kExpression = detail::key_hash("#"), kRest = detail::key_hash("*");
  const auto key_at = [&](size_t i) {
    return i < tokens.size() ? detail::key_hash(detail::token_key(tokens[i])) : kNone;
  };
  const uint64_t first = key_at(0), second = key_at(1), third = key_at(2);
  const std::pair<uint64_t, uint64_t> tries[] = {{second, third}, {second, kExpression}, {kExpression, kRest}};
  const auto& index = detail::syntax_tables().three_index;
  for (size_t i = 0; i < std::size(tries); ++i) {
    // One token has only the first try; two, no expression after the second.
    if ((tokens.size() == 1 && i > 0) || (tokens.size() == 2 && i == 1)) continue;
    const auto* entry = index.find(detail::three_key(first, tries[i].first, tries[i].second));
    if (entry == nullptr) continue;
    const std::vector<const PseudoTemplate*>& list = entry->second;
    // Of several candidates, most fail on a fixed literal: a quick test first.
    const bool several = list.size() > 1;
    for (const PseudoTemplate* tmpl : list) {
      if (has(tmpl->op) == other_dialect || (several && !fixed_literals_match(*tmpl, tokens))) continue;
      Operands parsed;
      if (!match(*tmpl, tokens, parsed)) continue;
      if (other_dialect)
        report_not_in_dialect(tokens[0], tmpl->op);
      else
        emit(isa::info(tmpl->op), parsed, tokens);
      return true;
    }
  }
  return false;
}

std::string Assembler::describe(const Expectation& wanted) {
  if (!wanted.elem) return "end of statement";
  switch (wanted.elem->kind) {
    case Elem::Literal: return quoted(wanted.elem->text);
    case Elem::RegDst:
    case Elem::RegSrc:
      if (wanted.same_register >= 0)
        return std::string(wanted.elem->wide ? "r" : "w") + std::to_string(wanted.same_register) + " again";
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
std::vector<const PseudoTemplate*> Assembler::candidates(Tokens tokens, bool other_width) {
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
void Assembler::report_pseudo_mismatch(Tokens tokens) {
  if (report_unbalanced(tokens) || report_near_miss(tokens)) return;
  MatchNotes notes;
  for (const PseudoTemplate* tmpl : candidates(tokens, false)) {
    Operands parsed;
    match(*tmpl, tokens, parsed, &notes);
  }
  if (notes.furthest == 0)
    return error_at(tokens[0], "unknown instruction: no normal mnemonic or pseudo-C form reads '" +
                                   std::string(tokens[0].text) +
                                   (tokens.size() > 1 ? std::string(" ").append(tokens[1].text) : "") + " ...'");
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
  const std::string found_text = quoted(found.text);
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

void Assembler::note_near_miss(MatchNotes* notes, NearMiss miss) {
  if (notes && !notes->near_miss) notes->near_miss = std::move(miss);
}

// `w1 += r2`, `r1 = le16 r2`: a form matches once one register is changed,
// so that register is what is wrong.
bool Assembler::report_near_miss(Tokens tokens) {
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

std::string Assembler::near_miss_message(const NearMiss& miss, const Token& found, bool mixed_widths) {
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

bool Assembler::mixes_widths(Tokens tokens) {
  bool seen_wide = false, seen_narrow = false;
  for (const Token& token : tokens) {
    bool wide = true;
    if (token.kind != TokenKind::Ident || detail::pseudo_register(token.text, wide) < 0) continue;
    (wide ? seen_wide : seen_narrow) = true;
  }
  return seen_wide && seen_narrow;
}

// `notes`, on the error path only, collects why the template failed.
bool Assembler::match(const PseudoTemplate& tmpl, Tokens in, Operands& out, MatchNotes* notes) {
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
        size_t end = expression_end(in, at);
        // An operator in the template after the immediate (hor64's
        // `{imm} << 32`) ends the expression at its last use.
        const detail::TemplateElem* next = &elem + 1 == tmpl.elems.data() + tmpl.elems.size() ? nullptr : &elem + 1;
        if (next && next->kind == Elem::Literal) end = cut_before(in, at, end, next->text);
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

// A quick test that match() would not fail at a fixed literal.
bool Assembler::fixed_literals_match(const PseudoTemplate& tmpl, Tokens in) {
  for (const FixedLiteral& literal : tmpl.fixed_literals)
    if (literal.at >= in.size() || !literal_matches(literal.text, in[literal.at])) return false;
  return true;
}

// Where the expression in [at, end) ends if it stops before its last
// top-level `literal` (outside parentheses); `end` if there is none.
size_t Assembler::cut_before(Tokens in, size_t at, size_t end, std::string_view literal) {
  int depth = 0;
  size_t cut = end;
  for (size_t i = at; i < end; ++i) {
    if (in[i].kind != TokenKind::Punct) continue;
    if (eq(in[i].text, "(")) ++depth;
    if (eq(in[i].text, ")")) --depth;
    if (depth == 0 && i > at && is_binary_operator(in[i]) && in[i].text == literal) cut = i;
  }
  return cut;
}

// A number literal of a template against a number token, by value.
bool Assembler::same_number(std::string_view literal, const Token& token) {
  if (literal.empty() || literal[0] < '0' || literal[0] > '9') return false;
  Lexer lexer(literal);
  Statement statement;
  return lexer.next(statement) && statement.tokens.size() == 1 && statement.tokens[0].number == token.number;
}

// The legacy XADD that GNU as still reads: `*(u64 *)(r1 + 8) += r2`, the
// same instruction as `lock *(u64 *)(r1 + 8) += r2`.
bool Assembler::extra_pseudo_forms(Tokens tokens) {
  if (!eq(tokens[0].text, "*")) return false;
  std::vector<Token> with_lock;
  with_lock.reserve(tokens.size() + 1);
  with_lock.push_back(Token{.kind = TokenKind::Ident, .column = tokens[0].column, .text = "lock"});
  with_lock.insert(with_lock.end(), tokens.begin(), tokens.end());
  auto it = detail::syntax_tables().pseudo.find("lock *");
  if (it == detail::syntax_tables().pseudo.end()) return false;
  for (const PseudoTemplate& tmpl : it->second) {
    Operands parsed;
    if (has(tmpl.op) && match(tmpl, with_lock, parsed)) {
      emit(isa::info(tmpl.op), parsed, tokens);
      return true;
    }
  }
  return false;
}

}  // namespace bpfkit::assembly::detail
