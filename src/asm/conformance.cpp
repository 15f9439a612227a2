// The bpf_conformance assembly dialect and `.data` test files.
//
// Mnemonics and operand shapes come from the opcode table's `conf` column;
// this file only splits text into a mnemonic and operands and picks the row
// whose shape fits the operands.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "bpfkit/assembly.hpp"

namespace bpfkit::assembly {
namespace {

using isa::Op;
using isa::OpInfo;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_' || s[0] == '.')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

// A signed integer with a magnitude of up to 64 bits.
struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;
  bool fits(int64_t lo, uint64_t hi) const {
    if (negative) return magnitude <= static_cast<uint64_t>(-(lo + 1)) + 1;
    return magnitude <= hi;
  }
  uint64_t bits() const { return negative ? 0 - magnitude : magnitude; }
};

std::optional<Integer> parse_integer(std::string_view s) {
  Integer value;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    value.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value.magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// One operand with the column where it starts.
struct Operand {
  std::string_view text;
  uint32_t column;
};

enum class Kind { Register, Memory, Number, Label, Bad };

struct Parsed {
  Kind kind = Kind::Bad;
  uint8_t reg = 0;
  Integer number;
  std::string_view label;
};

std::optional<uint8_t> parse_register(std::string_view s) {
  if (s.size() < 3 || s[0] != '%' || s[1] != 'r') return std::nullopt;
  uint8_t n = 0;
  auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

Parsed classify(std::string_view s) {
  Parsed p;
  if (s.starts_with('%')) {
    if (auto r = parse_register(s)) {
      p.kind = Kind::Register;
      p.reg = *r;
    }
    return p;
  }
  if (s.starts_with('[')) {
    if (!s.ends_with(']')) return p;
    std::string_view inner = s.substr(1, s.size() - 2);
    size_t sign = inner.find_first_of("+-");
    auto r = parse_register(trim(inner.substr(0, sign)));
    if (!r) return p;
    p.reg = *r;
    if (sign != std::string_view::npos) {
      std::string_view off = trim(inner.substr(sign));
      std::string_view digits = trim(off.substr(1));
      auto n = parse_integer(digits);
      if (!n || n->negative) return p;
      p.number = *n;
      p.number.negative = off[0] == '-';
    }
    p.kind = Kind::Memory;
    return p;
  }
  if (auto n = parse_integer(s)) {
    p.kind = Kind::Number;
    p.number = *n;
    return p;
  }
  if (is_identifier(s)) {
    p.kind = Kind::Label;
    p.label = s;
  }
  return p;
}

// Whether an operand read as `kind` fits where the row's conformance layout
// (isa/shapes.def) wants `want`.
bool kind_fits(isa::OperandKind want, Kind kind) {
  switch (want) {
    case isa::OperandKind::Dst:
    case isa::OperandKind::Src: return kind == Kind::Register;
    case isa::OperandKind::MemDst:
    case isa::OperandKind::MemSrc: return kind == Kind::Memory;
    case isa::OperandKind::Imm:
    case isa::OperandKind::Imm64:
    case isa::OperandKind::Width: return kind == Kind::Number;
    case isa::OperandKind::Target: return kind == Kind::Number || kind == Kind::Label;
  }
  return false;
}

const isa::OperandList& layout(const OpInfo& row) { return isa::shape_info(row.shape).conformance; }

bool mnemonic_matches(std::string_view spellings, std::string_view mnemonic) {
  while (!spellings.empty()) {
    size_t bar = spellings.find('|');
    if (spellings.substr(0, bar) == mnemonic) return true;
    if (bar == std::string_view::npos) break;
    spellings.remove_prefix(bar + 1);
  }
  return false;
}

bool is_mnemonic(std::string_view mnemonic) {
  for (const OpInfo& row : isa::kOps)
    if (mnemonic_matches(row.conformance, mnemonic)) return true;
  return false;
}

struct PendingJump {
  size_t slot;
  std::string label;
  uint32_t line, column;
};

class Assembler {
 public:
  explicit Assembler(std::string_view input) : input_(input) {}

  Expected<std::vector<isa::Slot>> run(std::string_view source) {
    uint32_t line_number = 0;
    while (!source.empty()) {
      size_t newline = source.find('\n');
      std::string_view line = source.substr(0, newline);
      source.remove_prefix(newline == std::string_view::npos ? source.size() : newline + 1);
      ++line_number;
      if (auto ok = line_statement(line, line_number); !ok) return ok.error();
    }
    if (auto ok = resolve_jumps(); !ok) return ok.error();
    return std::move(slots_);
  }

 private:
  Error error_at(uint32_t line, uint32_t column, std::string message) const {
    Location where;
    where.input = std::string(input_);
    where.line = line;
    where.column = column;
    return make_error(Errc::BadOperand, std::move(message), where);
  }

  Expected<void> line_statement(std::string_view raw, uint32_t line) {
    std::string_view text = raw;
    for (std::string_view comment : {"#", "//"})
      if (size_t at = text.find(comment); at != std::string_view::npos) text = text.substr(0, at);
    text = trim(text);
    if (text.empty()) return {};
    const auto column_of = [&](std::string_view part) { return static_cast<uint32_t>(part.data() - raw.data()) + 1; };
    if (text.back() == ':') {
      std::string_view name = trim(text.substr(0, text.size() - 1));
      if (!is_identifier(name)) return error_at(line, column_of(text), "bad label name '" + std::string(name) + "'");
      if (!labels_.emplace(std::string(name), slots_.size()).second)
        return error_at(line, column_of(text), "label '" + std::string(name) + "' is defined twice");
      return {};
    }
    // The mnemonic is the longest run of leading words that the table knows
    // ("lock fetch add32", "call local").
    std::string_view mnemonic, rest;
    for (size_t end = 0; end != std::string_view::npos;) {
      end = text.find_first_of(" \t", end + 1);
      std::string_view candidate = text.substr(0, end);
      std::string collapsed;  // words joined by single spaces
      for (char c : candidate) {
        if (c == '\t') c = ' ';
        if (!(c == ' ' && (collapsed.empty() || collapsed.back() == ' '))) collapsed += c;
      }
      if (is_mnemonic(collapsed)) {
        mnemonic = candidate;
        rest = end == std::string_view::npos ? std::string_view{} : text.substr(end);
        mnemonic_text_ = collapsed;
      }
    }
    if (mnemonic.empty()) {
      std::string_view word = text.substr(0, text.find(' '));
      return error_at(line, column_of(text), "unknown mnemonic '" + std::string(word) + "'");
    }
    std::vector<Operand> operands;
    rest = trim(rest);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      if (part.empty()) return error_at(line, column_of(rest), "expected an operand");
      operands.push_back({part, column_of(part)});
      rest = comma == std::string_view::npos ? std::string_view{} : trim(rest.substr(comma + 1));
      if (comma != std::string_view::npos && rest.empty())
        return error_at(line, column_of(part) + static_cast<uint32_t>(part.size()), "expected an operand after ','");
    }
    return instruction(mnemonic_text_, operands, line, column_of(mnemonic));
  }

  Expected<void> instruction(const std::string& mnemonic, const std::vector<Operand>& operands, uint32_t line,
                             uint32_t column) {
    std::vector<Parsed> parsed;
    for (const Operand& operand : operands) {
      Parsed p = classify(operand.text);
      if (p.kind == Kind::Bad)
        return error_at(line, operand.column, "cannot read operand '" + std::string(operand.text) + "'");
      if ((p.kind == Kind::Register || p.kind == Kind::Memory) && p.reg >= isa::kRegisterCount)
        return error_at(line, operand.column, "unknown register r" + std::to_string(p.reg) + " (r0-r10)");
      parsed.push_back(p);
    }
    const OpInfo* chosen = nullptr;
    for (const OpInfo& row : isa::kOps) {
      if (!mnemonic_matches(row.conformance, mnemonic)) continue;
      const isa::OperandList& want = layout(row);
      if (want.size() != parsed.size()) continue;
      bool fits = true;
      for (size_t i = 0; i < want.size(); ++i) fits = fits && kind_fits(want[i], parsed[i].kind);
      if (fits) {
        chosen = &row;
        break;
      }
    }
    if (chosen == nullptr) return error_at(line, column, "no form of '" + mnemonic + "' takes these operands");
    if (chosen->op == Op::exit && !labels_.contains("exit") && !first_exit_) first_exit_ = slots_.size();
    return emit(*chosen, operands, parsed, line);
  }

  Expected<void> emit(const OpInfo& row, const std::vector<Operand>& operands, const std::vector<Parsed>& parsed,
                      uint32_t line) {
    uint8_t dst = 0, src = 0;
    int16_t off = 0;
    int32_t imm = 0;
    std::optional<uint64_t> imm64;
    const isa::OperandList& want = layout(row);
    const auto imm32 = [&](size_t i) -> Expected<int32_t> {
      if (!parsed[i].number.fits(INT32_MIN, UINT32_MAX))
        return error_at(line, operands[i].column, "immediate does not fit in 32 bits");
      return static_cast<int32_t>(static_cast<uint32_t>(parsed[i].number.bits()));
    };
    const bool wide_target = isa::target_field(row.op) == isa::TargetField::Imm;
    for (size_t i = 0; i < want.size(); ++i) {
      const Parsed& p = parsed[i];
      switch (want[i]) {
        case isa::OperandKind::Dst: dst = p.reg; break;
        case isa::OperandKind::Src: src = p.reg; break;
        case isa::OperandKind::MemDst:
        case isa::OperandKind::MemSrc: {
          (want[i] == isa::OperandKind::MemDst ? dst : src) = p.reg;
          if (!p.number.fits(INT16_MIN, INT16_MAX))
            return error_at(line, operands[i].column, "offset does not fit in 16 bits");
          off = static_cast<int16_t>(p.number.bits());
          break;
        }
        case isa::OperandKind::Imm64:
          if (!p.number.fits(INT64_MIN, UINT64_MAX))
            return error_at(line, operands[i].column, "immediate does not fit in 64 bits");
          imm64 = p.number.bits();
          break;
        case isa::OperandKind::Imm:
        case isa::OperandKind::Width: {
          auto value = imm32(i);
          if (!value) return value.error();
          imm = *value;
          break;
        }
        case isa::OperandKind::Target: {
          if (p.kind == Kind::Label) {
            jumps_.push_back({slots_.size(), std::string(p.label), line, operands[i].column});
            break;
          }
          if (!p.number.fits(wide_target ? INT32_MIN : INT16_MIN, wide_target ? INT32_MAX : INT16_MAX))
            return error_at(line, operands[i].column, "jump offset out of range");
          if (wide_target)
            imm = static_cast<int32_t>(p.number.bits());
          else
            off = static_cast<int16_t>(p.number.bits());
          break;
        }
      }
    }
    if (imm64) {
      auto pair = isa::encode_lddw(dst, *imm64, row.op);
      slots_.push_back(pair[0]);
      slots_.push_back(pair[1]);
    } else {
      slots_.push_back(isa::encode(row.op, dst, src, off, imm));
    }
    return {};
  }

  Expected<void> resolve_jumps() {
    if (first_exit_ && !labels_.contains("exit")) labels_["exit"] = *first_exit_;
    for (const PendingJump& jump : jumps_) {
      auto it = labels_.find(jump.label);
      if (it == labels_.end()) return error_at(jump.line, jump.column, "undefined label '" + jump.label + "'");
      const int64_t delta = static_cast<int64_t>(it->second) - static_cast<int64_t>(jump.slot) - 1;
      isa::Slot& slot = slots_[jump.slot];
      if (isa::target_field(*isa::lookup(slot)) == isa::TargetField::Imm) {
        slot.imm = static_cast<int32_t>(delta);
      } else {
        if (delta < INT16_MIN || delta > INT16_MAX)
          return error_at(jump.line, jump.column, "label '" + jump.label + "' is out of 16-bit jump range");
        slot.off = static_cast<int16_t>(delta);
      }
    }
    return {};
  }

  std::string_view input_;
  std::vector<isa::Slot> slots_;
  std::map<std::string, size_t> labels_;
  std::vector<PendingJump> jumps_;
  std::optional<size_t> first_exit_;
  std::string mnemonic_text_;
};

}  // namespace

Expected<std::vector<isa::Slot>> assemble_conformance(std::string_view source, std::string_view input_name) {
  return Assembler(input_name).run(source);
}

// ---- `.data` files ----------------------------------------------------------

namespace {

enum class DataSection { None, Asm, Raw, Mem, Result, Error, C, Ignored };

DataSection section_of(std::string_view directive) {
  // The suite's runner checks these substrings in this order.
  if (directive.find("asm") != std::string_view::npos) return DataSection::Asm;
  if (directive.find("result") != std::string_view::npos) return DataSection::Result;
  if (directive.find("mem") != std::string_view::npos) return DataSection::Mem;
  if (directive.find("raw") != std::string_view::npos) return DataSection::Raw;
  if (directive.find("no register offset") != std::string_view::npos) return DataSection::Ignored;
  if (directive.find(" c") != std::string_view::npos) return DataSection::C;
  if (directive.find("error") != std::string_view::npos) return DataSection::Error;
  return DataSection::None;
}

Error data_error(std::string_view input, uint32_t line, std::string message) {
  Location where;
  where.input = std::string(input);
  where.line = line;
  return make_error(Errc::BadOperand, std::move(message), where);
}

}  // namespace

Expected<ConformanceTest> parse_conformance_test(std::string_view text, std::string_view input_name) {
  ConformanceTest test;
  DataSection section = DataSection::None;
  uint32_t line_number = 0;
  uint32_t asm_lines = 0;  // lines in test.asm_source
  std::vector<isa::Slot> raw;
  bool has_raw = false;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (section == DataSection::C) {
      // C code may contain "--" (i--): only a line starting with "--" ends it.
      if (!trim(line).starts_with("--")) continue;
    }
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const std::string_view untrimmed = line;  // asm keeps its columns
    line = trim(line);
    if (line.empty()) continue;
    if (line.find("--") != std::string_view::npos) {
      section = section_of(line);
      if (section == DataSection::None)
        return data_error(input_name, line_number, "unknown directive '" + std::string(line) + "'");
      if (section == DataSection::Mem) test.has_memory = true;
      if (section == DataSection::Raw) has_raw = true;
      continue;
    }
    switch (section) {
      case DataSection::Asm:
        if (test.asm_first_line == 0) test.asm_first_line = line_number;
        // Keep line numbers: pad with the lines skipped since the last.
        test.asm_source.append(line_number - test.asm_first_line - asm_lines, '\n');
        test.asm_source.append(untrimmed) += '\n';
        asm_lines = line_number - test.asm_first_line + 1;
        break;
      case DataSection::Raw:
      case DataSection::Mem: {
        for (size_t at = 0; at < line.size();) {
          size_t end = line.find_first_of(" \t", at);
          std::string_view token = line.substr(at, end - at);
          at = end == std::string_view::npos ? line.size() : line.find_first_not_of(" \t", end);
          if (at == std::string_view::npos) at = line.size();
          if (section == DataSection::Mem) {
            uint8_t byte = 0;
            auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), byte, 16);
            if (ec != std::errc() || p != token.data() + token.size() || token.size() > 2)
              return data_error(input_name, line_number, "bad memory byte '" + std::string(token) + "'");
            test.memory.push_back(byte);
          } else {
            auto n = parse_integer(token);
            if (!n || n->negative)
              return data_error(input_name, line_number, "bad raw word '" + std::string(token) + "'");
            raw.push_back(isa::slot_from_word(n->magnitude));
          }
        }
        break;
      }
      case DataSection::Result: {
        // Hex if the line contains 0x, else decimal; a negative decimal is
        // its two's complement, as the suite's runner reads it.
        uint64_t value = 0;
        const bool hex = line.find("0x") != std::string_view::npos;
        const bool negative = !hex && line.starts_with('-');
        std::string_view digits = hex ? line.substr(line.find("0x") + 2) : line.substr(negative ? 1 : 0);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
        if (ec != std::errc()) return data_error(input_name, line_number, "bad result '" + std::string(line) + "'");
        test.result = negative ? 0 - value : value;
        break;
      }
      case DataSection::Error: test.error = std::string(line); break;
      case DataSection::None: return data_error(input_name, line_number, "text before the first directive");
      case DataSection::C:
      case DataSection::Ignored: break;
    }
  }
  if (has_raw) test.raw = std::move(raw);
  return test;
}

Expected<std::vector<isa::Slot>> conformance_program(const ConformanceTest& test, std::string_view input_name) {
  if (test.raw) return *test.raw;
  auto slots = assemble_conformance(test.asm_source, input_name);
  if (!slots) {
    // Line numbers count from the asm section; shift them to the file's.
    Error error = slots.error();
    if (error.location.line != 0) error.location.line += test.asm_first_line - 1;
    return error;
  }
  return slots;
}

}  // namespace bpfkit::assembly
