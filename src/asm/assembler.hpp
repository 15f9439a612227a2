// The assembler of GNU normal and pseudo-C syntax: one class, its phases
// in one file each (the banners below name them). Internal to module asm.
//
// One pass over the statements: labels, directives and instructions go
// straight into sections; an operand that names a symbol not yet known
// becomes a fixup, resolved at the end against the final symbol table or
// turned into a relocation. Instruction forms come from the opcode table
// (syntax_tables.hpp): normal syntax by mnemonic and operand shape, pseudo-C
// by matching the row's template token by token.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "lexer.hpp"
#include "syntax_tables.hpp"

namespace bpfkit::assembly::detail {

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

inline bool is_register_name(std::string_view text) {
  bool wide = true;
  return pseudo_register(text, wide) >= 0 || normal_register(text) >= 0;
}

inline bool is_binary_operator(const Token& token) {
  if (token.kind != TokenKind::Punct) return false;
  const std::string_view t = token.text;
  return t == "+" || t == "-" || t == "*" || t == "/" || t == "%" || t == "<<" || t == ">>" || t == "&" || t == "|" ||
         t == "^";
}

inline bool is_open_paren(const Token& token) { return token.kind == TokenKind::Punct && eq(token.text, "("); }

inline bool is_unary_operator(const Token& token) {
  return token.kind == TokenKind::Punct && (eq(token.text, "-") || eq(token.text, "+") || eq(token.text, "~"));
}

// A number or a symbol name: the leaves of an expression.
inline bool is_operand(const Token& token) {
  return token.kind == TokenKind::Number || (token.kind == TokenKind::Ident && !is_register_name(token.text));
}

// Where the expression starting at `at` ends (syntax only); `at` if none
// starts there (expr.cpp).
size_t expression_end(Tokens tokens, size_t at);

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

// Symbols by name: open addressing over indices into the assembler's
// symbol list, where each name is kept once; a slot caches its name's hash.
// (A std::unordered_map allocated a node and a copy of the name for every
// symbol, and divided on every lookup.)
class SymbolIndex {
 public:
  // The index of the symbol called `name` in `symbols`, or -1.
  int32_t find(std::string_view name, const std::vector<SymbolState>& symbols) const;
  // Adds symbols[index], whose name find() does not know yet.
  void insert(int32_t index, const std::vector<SymbolState>& symbols);

 private:
  struct Slot {
    uint32_t hash = 0;
    int32_t index = -1;  // -1: empty
  };
  static uint32_t hash_of(std::string_view name) { return static_cast<uint32_t>(std::hash<std::string_view>{}(name)); }
  void place(Slot slot);     // into a free slot: the table has room
  std::vector<Slot> slots_;  // a power of two in size, at most half full
  size_t count_ = 0;
};

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};

// 'text', for messages (appended: GCC 12 warns, wrongly, on "'" + std::string).
inline std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '\'').append(text).append(1, '\'');
  return out;
}

// The rows a dialect has: for Linux, every Linux row; for an sBPF version,
// the rows its own decoder gives back for their encoding (assembler.cpp).
std::array<bool, isa::kOpCount> dialect_rows(const isa::Dialect& dialect);

// Errors kept in an Assembly; the rest are only counted (Assembly::more_errors).
constexpr size_t kMaxErrors = 100;

class Assembler {
 public:
  Assembler(std::string_view source, const AssembleOptions& options)
      : source_(source), options_(options), in_dialect_(dialect_rows(options.dialect)) {}
  Assembly run();

 private:
  // Expressions: evaluate(tokens) -> Value, or nullopt (error reported
  // unless `quiet`: a symbol not yet defined during the first reading).
  struct Evaluation {
    std::optional<Value> value;
    bool undefined = false;  // names a symbol that is not defined (yet)
  };

  static constexpr int kMaxGroupDepth = 256;

  // What a template wanted where it failed: an element (the end of the
  // statement when null), with the register it had to repeat, if any.
  struct Expectation {
    const TemplateElem* elem;
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

  uint32_t column_after(Tokens tokens) const {
    return tokens.empty() ? 1 : tokens.back().column + static_cast<uint32_t>(tokens.back().text.size());
  }

  // Whether the dialect has the row: the rows it reads and writes.
  bool has(Op op) const { return in_dialect_[static_cast<size_t>(op)]; }

  // The current section and the offset in it.
  Section& current() { return sections_[current_].section; }

  uint64_t here() { return current().bytes.size(); }

  // assembler.cpp: statements, errors, operand helpers both syntaxes use
  void error_at(uint32_t column, std::string message);
  void error_at(const Token& token, std::string message);
  void statement(Tokens tokens);
  static std::string bad_token_message(const Token& token);
  void assign(const Token& name, Tokens expr);
  void instruction(Tokens tokens);
  bool report_bad_registers(Tokens tokens);
  static std::string lower(std::string_view text);
  static std::vector<Tokens> split_operands(Tokens tokens);
  bool report_unbalanced(Tokens tokens);
  void report_not_in_dialect(const Token& where, Op op);

  // object.cpp: sections, symbols and the finished Object
  void switch_section(std::string_view name, uint64_t flags, uint32_t type);
  void append(const void* data, size_t size);
  void append_fill(uint64_t count, uint8_t fill, uint32_t column);
  // Every byte of every section counts against one budget (the options'
  // max_object_bytes), checked before anything is allocated; .bss counts
  // too, as its bytes are kept in memory. False (and an error) when `size`
  // more bytes in the current section would exceed it. Inline: every
  // instruction asks.
  bool reserve(uint64_t size, uint32_t column) {
    if (size <= options_.max_object_bytes - object_bytes_) {
      object_bytes_ += size;
      return true;
    }
    return over_budget(size, column);
  }
  bool over_budget(uint64_t size, uint32_t column);
  void report_nobits_data();
  int32_t symbol(std::string_view name);
  void define_label(const Token& name);
  int32_t dot_symbol(uint64_t location);
  Assembly finish();
  bool relocated(const std::string& name) const;

  // expr.cpp: expressions
  Evaluation evaluate(Tokens tokens, uint64_t location, bool quiet);
  std::optional<Value> additive(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined);
  std::optional<Value> combine_additive(Value left, Value right, const Token& op, bool quiet);
  std::optional<Value> bitwise(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined);
  std::optional<Value> multiplicative(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined);
  std::optional<Value> arithmetic(Value left, Value right, const Token& op, bool quiet);
  std::optional<Value> unary(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined);
  std::optional<Value> operand(Tokens t, size_t& at, uint64_t loc, bool quiet, bool& undefined);
  std::optional<uint64_t> constant(Tokens expr, const char* what);

  // normal.cpp: GNU normal syntax
  static const std::vector<Op>* normal_rows(std::string_view mnemonic);
  bool looks_normal(Tokens tokens);
  void normal_instruction(Tokens tokens);
  static size_t normal_operand_count(Shape shape);
  bool report_operand_count(Tokens tokens, const std::vector<Op>& rows, const std::vector<Tokens>& operands);
  bool parse_normal_operands(const OpInfo& row, const std::vector<Tokens>& ops, Operands& out, std::string& why);
  bool parse_normal_operand(const OpInfo& row, isa::OperandKind kind, Tokens t, Operands& out, std::string& why);
  static std::string widths_of(const OpInfo& row);
  bool memory(Tokens t, int& base, Operands& out, std::string& why);
  bool parse_offset(Tokens t, Operands& out);
  static bool is_target(Tokens t);

  // pseudoc.cpp: pseudo-C, by matching the opcode table's templates
  void pseudo_instruction(Tokens tokens);
  bool match_any(Tokens tokens, bool other_dialect);
  static std::string describe(const Expectation& wanted);
  static std::vector<const PseudoTemplate*> candidates(Tokens tokens, bool other_width);
  void report_pseudo_mismatch(Tokens tokens);
  static void note_near_miss(MatchNotes* notes, NearMiss miss);
  bool report_near_miss(Tokens tokens);
  static std::string near_miss_message(const NearMiss& miss, const Token& found, bool mixed_widths);
  static bool mixes_widths(Tokens tokens);
  bool match(const PseudoTemplate& tmpl, Tokens in, Operands& out, MatchNotes* notes = nullptr);
  static bool fixed_literals_match(const PseudoTemplate& tmpl, Tokens in);
  // A template literal against an input token: the same text, or for
  // numbers the same value (`ld_pseudo r1, 0x1, 5`). Inline, as the
  // matcher's most frequent test; most literals are one or two characters.
  static bool literal_matches(std::string_view literal, const Token& token) {
    if (token.kind == TokenKind::String) return false;
    if (token.text.size() == literal.size()) {
      size_t i = 0;
      while (i < literal.size() && token.text[i] == literal[i]) ++i;
      if (i == literal.size()) return true;
    }
    return token.kind == TokenKind::Number && same_number(literal, token);
  }
  static bool same_number(std::string_view literal, const Token& token);
  static size_t cut_before(Tokens in, size_t at, size_t end, std::string_view literal);
  bool extra_pseudo_forms(Tokens tokens);

  // fixups.cpp: encoding instructions; fixups and relocations
  void emit(const OpInfo& row, const Operands& ops, Tokens statement);
  bool split_imm(const Operands& ops, isa::Slot& slot);
  void place_callx_register(isa::Slot& slot) const;
  bool resolve_into(FixupKind kind, Tokens expr, uint64_t offset, isa::Slot& slot, std::optional<isa::Slot>& second,
                    int sign);
  bool store_field(FixupKind kind, int64_t value, Tokens expr, isa::Slot& slot, std::optional<isa::Slot>& second);
  size_t keep(Tokens expr);
  Tokens expression_of(const Fixup& fixup) const;
  void resolve_fixups();
  uint8_t* bytes_at(const Fixup& fixup);
  isa::Slot read_slot(const Fixup& fixup, size_t index = 0);
  void write_slot(const Fixup& fixup, const isa::Slot& slot, size_t index = 0);
  void apply_instruction(const Fixup& fixup, const Value& value);
  int64_t relocate(const Fixup& fixup, const Value& value, uint32_t type);
  void apply_branch(const Fixup& fixup, const Value& value, isa::Slot& slot);
  void apply_call(const Fixup& fixup, const Value& value, isa::Slot& slot);
  void apply_data(const Fixup& fixup, const Value& value);

  // directives.cpp: directives
  void directive(Tokens tokens);
  void section_directive(Tokens tokens, const std::vector<Tokens>& args);
  bool section_flags(Tokens arg, uint64_t& flags);
  bool section_type(Tokens arg, uint32_t& type);
  static uint64_t default_flags(const std::string& name, uint32_t& type);
  void binding_directive(const std::string& name, const std::vector<Tokens>& args);
  void type_directive(Tokens tokens, const std::vector<Tokens>& args);
  void size_directive(Tokens tokens, const std::vector<Tokens>& args);
  void set_size(int32_t index, Tokens expr, uint64_t location);
  void align_directive(Tokens tokens, const std::vector<Tokens>& args, bool power_of_two);
  void data_directive(Tokens tokens, const std::vector<Tokens>& args, uint8_t size);
  void check_data_range(int64_t value, uint8_t size, Tokens expr);
  void string_directive(Tokens tokens, const std::vector<Tokens>& args, bool terminate);
  void space_directive(Tokens tokens, const std::vector<Tokens>& args);
  bool size_in_range(uint64_t size, const Token& where);
  void fill_directive(Tokens tokens, const std::vector<Tokens>& args);
  void common_directive(Tokens tokens, const std::vector<Tokens>& args, bool global);

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
  SymbolIndex symbol_index_;
  std::vector<Fixup> fixups_;
  std::vector<Token> fixup_tokens_;
  std::vector<Relocation> relocations_;
  std::vector<Error> errors_;
  std::array<bool, isa::kOpCount> in_dialect_;  // see has()
};

}  // namespace bpfkit::assembly::detail
