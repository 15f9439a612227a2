// The text form's parser (the grammar is print.cpp's output). Names may be
// used before their definition (phis, back edges, later functions): each is
// recorded and resolved when its function (or the module) ends. Errors carry
// line:column; nothing here trusts a number it did not range-check.
#include <charconv>
#include <map>
#include <optional>

#include "bpfkit/ir.hpp"
#include "lexer.hpp"

namespace bpfkit::ir {

namespace {

using text::Lexeme;
using text::Token;

struct Fail {
  Error error;
};

struct PendingValue {
  Inst* inst;
  size_t operand;
  std::string name;
  Lexeme at;
};
struct PendingBlock {
  Inst* inst;
  size_t index;  // target, or phi incoming
  bool incoming;
  std::string name;
  Lexeme at;
};
struct PendingFunction {
  Inst* inst;
  std::optional<size_t> operand;  // a func(@f) constant; none: the callee of a local call
  std::string name;
  Lexeme at;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view input) : lexer_(text), input_(input) { advance(); }

  std::unique_ptr<Module> module() {
    expect_ident("dialect");
    const Lexeme name = take(Token::Ident, "a dialect name");
    const isa::Dialect* dialect = dialect_named(name.text);
    if (!dialect) fail(name, std::string("unknown dialect '") + std::string(name.text) + "'");
    auto result = std::make_unique<Module>(*dialect);
    module_ = result.get();
    while (current_.kind != Token::End) function();
    for (const PendingFunction& p : pending_functions_) {
      Function* target = module_->find(p.name);
      if (!target) fail(p.at, std::string("no function @") + p.name);
      if (p.operand)
        p.inst->set_operand(*p.operand, p.inst->parent()->parent()->typed_constant(ConstKind::Func, 0, 0, target));
      else
        p.inst->set_callee(target);
    }
    return result;
  }

 private:
  [[noreturn]] void fail(const Lexeme& at, std::string message) {
    Location where;
    where.input = std::string(input_);
    where.line = at.line;
    where.column = at.column;
    throw Fail{make_error(Errc::BadOperand, std::move(message), std::move(where))};
  }

  static const isa::Dialect* dialect_named(std::string_view name) {
    for (const isa::Dialect* d : {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2, &isa::kSbpfV3})
      if (d->name == name) return d;
    return nullptr;
  }

  void advance() {
    current_ = lexer_.next();
    if (current_.kind == Token::Invalid)
      fail(current_, std::string("unexpected character '") + std::string(current_.text) + "'");
  }
  bool at_punct(char c) const { return current_.kind == Token::Punct && current_.text[0] == c; }
  bool at_ident(std::string_view word) const { return current_.kind == Token::Ident && current_.text == word; }
  std::string describe(const Lexeme& l) const {
    if (l.kind == Token::End) return "the end of the input";
    return std::string("'") +
           std::string(l.kind == Token::Local    ? "%"
                       : l.kind == Token::Global ? "@"
                                                 : "") +
           std::string(l.text) + "'";
  }
  Lexeme take(Token kind, std::string_view what) {
    if (current_.kind != kind)
      fail(current_, std::string("expected ") + std::string(what) + ", found " + describe(current_));
    Lexeme l = current_;
    advance();
    return l;
  }
  void expect(char c) {
    if (!at_punct(c)) fail(current_, std::string("expected '") + c + "', found " + describe(current_));
    advance();
  }
  void expect_ident(std::string_view word) {
    if (!at_ident(word))
      fail(current_, std::string("expected '") + std::string(word) + "', found " + describe(current_));
    advance();
  }

  // Signed numbers in [min, max].
  int64_t number(int64_t min, int64_t max) {
    const Lexeme l = take(Token::Number, "a number");
    auto parsed = magnitude(l.text);
    const bool fits = parsed && (parsed->first ? parsed->second <= uint64_t{1} << 63 : parsed->second <= INT64_MAX);
    const int64_t value =
        fits ? (parsed->first ? static_cast<int64_t>(0 - parsed->second) : static_cast<int64_t>(parsed->second)) : 0;
    if (!fits || value < min || value > max) fail(l, std::string("number ") + std::string(l.text) + " out of range");
    return value;
  }
  // (negative, magnitude) of a decimal or 0x number.
  static std::optional<std::pair<bool, uint64_t>> magnitude(std::string_view text) {
    const bool negative = !text.empty() && text[0] == '-';
    if (negative) text.remove_prefix(1);
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
      base = 16;
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return std::pair(negative, value);
  }

  // An Int constant: `i<width> <number>`, the number in the width's signed
  // or unsigned range.
  Value* int_constant(const Lexeme& type) {
    int width = 0;
    const std::string_view digits = type.text.substr(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), width);
    if (ec != std::errc() || end != digits.data() + digits.size() ||
        (width != 8 && width != 16 && width != 32 && width != 64))
      fail(type, std::string("unknown constant type '") + std::string(type.text) + "'");
    const Lexeme l = take(Token::Number, "a number");
    auto parsed = magnitude(l.text);
    const uint64_t half = uint64_t{1} << (width - 1);
    const bool fits = parsed && (parsed->first ? parsed->second <= half : (width == 64 || parsed->second < 2 * half));
    if (!fits)
      fail(l, std::string("number ") + std::string(l.text) + std::string(" does not fit in i") + std::to_string(width));
    const uint64_t bits = parsed->first ? 0 - parsed->second : parsed->second;
    return fn_->constant(bits, static_cast<uint8_t>(width));
  }

  // A value operand of operand slot `operand` of `inst` (set later for
  // names defined further down).
  void value(Inst* inst, size_t operand) {
    const Lexeme l = current_;
    if (l.kind == Token::Local) {
      advance();
      if (l.text == "fp") return inst->set_operand(operand, fn_->frame_pointer());
      if (l.text.size() == 4 && l.text.substr(0, 3) == "arg" && l.text[3] >= '1' && l.text[3] <= '5')
        return inst->set_operand(operand, fn_->arg(l.text[3] - '0'));
      pending_values_.push_back({inst, operand, std::string(l.text), l});
      return;
    }
    if (l.kind != Token::Ident) fail(l, "expected a value, found " + describe(l));
    advance();
    if (l.text == "undef") return inst->set_operand(operand, fn_->undef());
    if (l.text[0] == 'i' && l.text.size() > 1 && l.text[1] >= '0' && l.text[1] <= '9')
      return inst->set_operand(operand, int_constant(l));
    for (ConstKind kind : {ConstKind::MapFd, ConstKind::MapValue, ConstKind::BtfId, ConstKind::Func, ConstKind::MapIdx,
                           ConstKind::MapIdxValue}) {
      if (l.text != const_kind_name(kind)) continue;
      expect('(');
      if (kind == ConstKind::Func) {
        const Lexeme name = take(Token::Global, "a function name");
        pending_functions_.push_back({inst, operand, std::string(name.text), name});
        inst->set_operand(operand, fn_->undef());
        expect(')');
        return;
      }
      const auto index = static_cast<uint32_t>(number(INT32_MIN, UINT32_MAX));
      uint64_t bits = 0;
      if (kind == ConstKind::MapValue || kind == ConstKind::MapIdxValue || kind == ConstKind::BtfId) {
        expect(',');
        bits = static_cast<uint32_t>(number(INT32_MIN, UINT32_MAX));
      }
      expect(')');
      return inst->set_operand(operand, fn_->typed_constant(kind, index, bits));
    }
    fail(l, "expected a value, found " + describe(l));
  }

  Block* block_ref(Inst* inst, size_t index, bool incoming) {
    const Lexeme l = take(Token::Ident, "a block name");
    pending_blocks_.push_back({inst, index, incoming, std::string(l.text), l});
    return nullptr;
  }

  void function();
  void instruction(const Lexeme* result, const Lexeme& mnemonic);
  void resolve_names();
  Inst* create(Opcode op, const Attrs& attrs, size_t operands) {
    std::vector<Value*> values(operands, fn_->undef());
    Builder builder(*fn_, back(block_));
    return builder.create(op, attrs, values);
  }
  void operands(Inst* inst);
  void call(Inst* inst);

  text::Lexer lexer_;
  std::string_view input_;
  Lexeme current_;
  Module* module_ = nullptr;
  Function* fn_ = nullptr;
  Block* block_ = nullptr;
  std::map<std::string, Block*, std::less<>> blocks_;
  std::map<std::string, Inst*, std::less<>> values_;
  std::vector<PendingValue> pending_values_;
  std::vector<PendingBlock> pending_blocks_;
  std::vector<PendingFunction> pending_functions_;
};

void Parser::function() {
  expect_ident("function");
  const Lexeme name = take(Token::Global, "a function name");
  if (module_->find(name.text)) fail(name, std::string("function @") + std::string(name.text) + " is defined twice");
  fn_ = module_->add_function(std::string(name.text));
  if (at_ident("origin")) {
    advance();
    fn_->set_origin(static_cast<uint32_t>(number(0, kNoOrigin - 1)));
  }
  expect('{');
  block_ = nullptr;
  blocks_.clear();
  values_.clear();
  while (!at_punct('}')) {
    if (current_.kind == Token::Local) {
      const Lexeme result = current_;
      advance();
      expect('=');
      const Lexeme mnemonic = take(Token::Ident, "an instruction");
      instruction(&result, mnemonic);
      continue;
    }
    const Lexeme word = take(Token::Ident, "an instruction or a block label");
    if (at_punct(':')) {
      advance();
      auto [it, inserted] = blocks_.try_emplace(std::string(word.text), nullptr);
      if (!inserted) fail(word, std::string("block ") + std::string(word.text) + " is defined twice");
      block_ = it->second = fn_->add_block();
      continue;
    }
    instruction(nullptr, word);
  }
  advance();
  resolve_names();
}

void Parser::resolve_names() {
  for (const PendingValue& p : pending_values_) {
    auto it = values_.find(p.name);
    if (it == values_.end()) fail(p.at, std::string("no value %") + p.name);
    p.inst->set_operand(p.operand, it->second);
  }
  for (const PendingBlock& p : pending_blocks_) {
    auto it = blocks_.find(p.name);
    if (it == blocks_.end()) fail(p.at, std::string("no block ") + p.name);
    if (p.incoming)
      p.inst->set_incoming_block(p.index, it->second);
    else
      p.inst->set_target(p.index, it->second);
  }
  pending_values_.clear();
  pending_blocks_.clear();
}

// Splits "add.32.zext" into "add", "32", "zext".
std::vector<std::string_view> split_dots(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

std::optional<uint8_t> bits_of(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 255) return std::nullopt;
  return static_cast<uint8_t>(value);
}

// The opcode and attributes a mnemonic names, or nullopt.
std::optional<std::pair<Opcode, Attrs>> decode_mnemonic(std::string_view text) {
  const std::vector<std::string_view> parts = split_dots(text);
  std::optional<Opcode> op;
  for (const OpcodeInfo& row : kOpcodes)
    if (row.text == parts[0]) op = row.op;
  if (!op) return std::nullopt;
  Attrs attrs;
  const size_t n = parts.size();
  auto bits = [&](size_t i) { return i < n ? bits_of(parts[i]) : std::nullopt; };
  auto set_width = [&](size_t i) {
    auto w = bits(i);
    if (w) attrs.width = *w;
    return w.has_value();
  };
  bool ok = true;
  if (is_binary(*op) || *op == Opcode::Neg) {
    ok = set_width(1) && (n == 2 || (n == 3 && (parts[2] == "zext" || parts[2] == "sext")));
    if (ok && n == 3) attrs.ext = parts[2] == "zext" ? isa::Extension::Zero : isa::Extension::Sign;
    return ok ? std::optional(std::pair(*op, attrs)) : std::nullopt;
  }
  switch (*op) {
    case Opcode::SExt:
      ok = n == 3 && set_width(1) && bits(2);
      if (ok) attrs.to = *bits(2);
      break;
    case Opcode::ZExt:
    case Opcode::Bswap:
    case Opcode::ToLe:
    case Opcode::ToBe:
    case Opcode::Store:
    case Opcode::StoreRaw:
    case Opcode::LdAbs:
    case Opcode::LdInd: ok = n == 2 && set_width(1); break;
    case Opcode::Load:
    case Opcode::LoadRaw:
      ok = n == 2 && parts[1].size() > 1 && (parts[1][0] == 'u' || parts[1][0] == 's');
      if (ok) {
        attrs.is_signed = parts[1][0] == 's';
        auto w = bits_of(parts[1].substr(1));
        ok = w.has_value();
        if (ok) attrs.width = *w;
      }
      break;
    case Opcode::Atomic: {
      ok = (n == 3 || (n == 4 && parts[3] == "fetch")) && set_width(2);
      bool known = false;
      for (AtomicOp a : {AtomicOp::Add, AtomicOp::Or, AtomicOp::And, AtomicOp::Xor, AtomicOp::Xchg, AtomicOp::Cmpxchg})
        if (ok && parts[1] == atomic_name(a)) {
          attrs.atomic = a;
          known = true;
        }
      const bool always_fetches = attrs.atomic == AtomicOp::Xchg || attrs.atomic == AtomicOp::Cmpxchg;
      ok = ok && known && !(always_fetches && n == 4);
      attrs.fetch = always_fetches || n == 4;
      break;
    }
    case Opcode::Core: {
      ok = false;
      for (const isa::OpInfo& row : isa::kOps)
        if (n == 2 && row.id == parts[1]) {
          attrs.row = row.op;
          ok = true;
        }
      break;
    }
    case Opcode::Br: {
      ok = n == 3 && set_width(2);
      using C = isa::Condition;
      bool known = false;
      for (C c : {C::Eq, C::Ne, C::Gt, C::Ge, C::Lt, C::Le, C::Set, C::SGt, C::SGe, C::SLt, C::SLe})
        if (ok && parts[1] == condition_name(c)) {
          attrs.cond = c;
          known = true;
        }
      ok = ok && known;
      break;
    }
    default: ok = n == 1; break;
  }
  return ok ? std::optional(std::pair(*op, attrs)) : std::nullopt;
}

void Parser::instruction(const Lexeme* result, const Lexeme& mnemonic) {
  if (!block_) fail(mnemonic, "instruction before the first block label");
  auto decoded = decode_mnemonic(mnemonic.text);
  if (!decoded) fail(mnemonic, std::string("unknown instruction '") + std::string(mnemonic.text) + "'");
  Inst* inst = create(decoded->first, decoded->second, 0);
  operands(inst);
  if (at_punct('!')) {
    advance();
    inst->set_origin(static_cast<uint32_t>(number(0, kNoOrigin - 1)));
  }
  if (result) {
    if (!inst->has_result()) fail(*result, std::string("'") + std::string(mnemonic.text) + "' defines no value");
    if (result->text == "fp" || (result->text.size() == 4 && result->text.substr(0, 3) == "arg"))
      fail(*result, std::string("%") + std::string(result->text) + " is reserved");
    if (!values_.try_emplace(std::string(result->text), inst).second)
      fail(*result, std::string("value %") + std::string(result->text) + " is defined twice");
  } else if (inst->has_result()) {
    fail(mnemonic, std::string("'") + std::string(mnemonic.text) + "' defines a value: write %N = before it");
  }
}

void Parser::operands(Inst* inst) {
  Attrs& attrs = inst->attrs();
  auto next_value = [&] {
    inst->add_operand(fn_->undef());
    value(inst, inst->operand_count() - 1);
  };
  auto i32 = [&] { return static_cast<int32_t>(number(INT32_MIN, INT32_MAX)); };
  switch (inst->op()) {
    case Opcode::Phi:
      while (at_punct('[')) {
        advance();
        inst->add_incoming(fn_->undef(), nullptr);
        value(inst, inst->operand_count() - 1);
        expect(',');
        block_ref(inst, inst->operand_count() - 1, true);
        expect(']');
        if (!at_punct(',')) break;
        advance();
      }
      return;
    case Opcode::Alloc: attrs.imm = number(0, UINT32_MAX); return;
    case Opcode::AllocArray:
      attrs.imm = number(0, UINT32_MAX);
      expect(',');
      attrs.aux = i32();
      return;
    case Opcode::Load:
    case Opcode::LoadRaw:
      next_value();
      expect(',');
      attrs.offset = i32();
      return;
    case Opcode::Store:
    case Opcode::StoreRaw:
    case Opcode::Atomic:
      next_value();
      expect(',');
      attrs.offset = i32();
      expect(',');
      next_value();
      if (inst->op() == Opcode::Atomic && attrs.atomic == AtomicOp::Cmpxchg) {
        expect(',');
        next_value();
      }
      return;
    case Opcode::LdAbs:
    case Opcode::LdInd:
    case Opcode::AddrSpaceCast:
      next_value();
      expect(',');
      if (inst->op() == Opcode::LdInd) {
        next_value();
        expect(',');
      }
      attrs.imm = i32();
      return;
    case Opcode::Call: return call(inst);
    case Opcode::Core:
      for (size_t i = 0; i < core_shape(attrs.row).operands(); ++i) {
        next_value();
        expect(',');
      }
      attrs.offset = static_cast<int32_t>(number(INT16_MIN, INT16_MAX));
      expect(',');
      attrs.imm = number(INT64_MIN, INT64_MAX);
      expect(',');
      attrs.aux = i32();
      return;
    case Opcode::Ja: block_ref(inst, 0, false); return;
    case Opcode::MayGoto:
      block_ref(inst, 0, false);
      expect(',');
      block_ref(inst, 1, false);
      return;
    case Opcode::Br:
      next_value();
      expect(',');
      next_value();
      expect(',');
      block_ref(inst, 0, false);
      expect(',');
      block_ref(inst, 1, false);
      return;
    case Opcode::Throw: return;
    default: break;
  }
  const int count = info(inst->op()).operands;
  for (int i = 0; i < count; ++i) {
    if (i) expect(',');
    next_value();
  }
}

void Parser::call(Inst* inst) {
  Attrs& attrs = inst->attrs();
  const Lexeme kind = take(Token::Ident, "a call kind");
  bool known = false;
  for (CallKind k : {CallKind::Helper, CallKind::Local, CallKind::Kfunc, CallKind::Syscall, CallKind::Indirect})
    if (kind.text == call_kind_name(k)) {
      attrs.call = k;
      known = true;
    }
  if (!known) fail(kind, std::string("unknown call kind '") + std::string(kind.text) + "'");
  switch (attrs.call) {
    case CallKind::Helper: attrs.imm = number(INT32_MIN, INT32_MAX); break;
    case CallKind::Syscall: attrs.imm = number(0, UINT32_MAX); break;
    case CallKind::Kfunc:
      attrs.imm = number(INT32_MIN, INT32_MAX);
      expect(',');
      attrs.aux = static_cast<int32_t>(number(INT16_MIN, INT16_MAX));
      break;
    case CallKind::Local: {
      const Lexeme name = take(Token::Global, "a function name");
      pending_functions_.push_back({inst, std::nullopt, std::string(name.text), name});
      break;
    }
    case CallKind::Indirect:
      inst->add_operand(fn_->undef());
      value(inst, 0);
      break;
  }
  expect('(');
  while (!at_punct(')')) {
    if (inst->operand_count() > (attrs.call == CallKind::Indirect ? 1u : 0u)) expect(',');
    inst->add_operand(fn_->undef());
    value(inst, inst->operand_count() - 1);
  }
  advance();
}

}  // namespace

Expected<std::unique_ptr<Module>> parse(std::string_view text, std::string_view input) {
  try {
    Parser parser(text, input);
    return parser.module();
  } catch (Fail& failure) {
    return failure.error;
  }
}

}  // namespace bpfkit::ir
