#include "insn_corpus.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

namespace bpfkit::test {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_blank(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !is_blank(text[i])) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

// 42, 0x2a, -1 (as its 64-bit two's complement).
std::optional<uint64_t> parse_number(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return negative ? uint64_t{0} - value : value;
}

// "r3=0x10" (registers r0..r10).
std::optional<RegisterValue> parse_register_value(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq < 2 || text[0] != 'r') return std::nullopt;
  auto reg = parse_number(text.substr(1, eq - 1));
  auto value = parse_number(text.substr(eq + 1));
  if (!reg || *reg >= isa::kRegisterCount || !value) return std::nullopt;
  return RegisterValue{static_cast<uint8_t>(*reg), *value};
}

// Hex bytes, any whitespace between pairs: "b7 00 00 00" or "b7000000".
bool append_hex_bytes(std::string_view text, std::vector<uint8_t>& out) {
  std::string digits;
  for (char c : text) {
    if (is_blank(c)) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    digits += c;
  }
  if (digits.size() % 2 != 0) return false;
  for (size_t i = 0; i < digits.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return true;
}

bool is_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  Expected<std::vector<InsnCase>> parse(std::string_view text) {
    uint32_t number = 0;
    while (!text.empty()) {
      const size_t newline = text.find('\n');
      std::string_view line = text.substr(0, newline);
      text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
      ++number;
      if (auto error = take_line(line, number)) return *error;
    }
    if (auto error = finish_case()) return *error;
    return std::move(cases_);
  }

 private:
  enum class Block : uint8_t { None, Assembly, Hex };

  std::string file_;
  std::vector<InsnCase> cases_;
  std::optional<InsnCase> current_;
  std::set<std::string, std::less<>> names_;
  Block block_ = Block::None;
  bool has_program_ = false, has_expect_ = false;

  // The message is the parts one after the other.
  template <class... Parts>
  Error error_at(uint32_t line, const Parts&... parts) const {
    std::string message;
    (message.append(std::string_view(parts)), ...);
    Location where;
    where.input = file_;
    where.line = line;
    return make_error(Errc::BadOperand, std::move(message), std::move(where));
  }

  std::optional<Error> take_line(std::string_view line, uint32_t number) {
    const bool indented = !line.empty() && is_blank(line.front());
    if (trim(line).empty()) return std::nullopt;
    if (indented) {
      if (block_ == Block::None) return error_at(number, "indented line outside an asm: or hex: block");
      return add_program_line(trim(line), number);
    }
    block_ = Block::None;
    if (line.front() == '#') return std::nullopt;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error_at(number, "expected `key: value`");
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "case") return start_case(value, number);
    if (!current_) return error_at(number, "`", key, ":` before the first `case:`");
    return take_field(key, value, number);
  }

  std::optional<Error> start_case(std::string_view name, uint32_t number) {
    if (auto error = finish_case()) return error;
    if (!is_name(name)) return error_at(number, "a case name is letters, digits and _: `", name, "`");
    if (!names_.insert(std::string(name)).second) return error_at(number, "case `", name, "` twice");
    current_.emplace();
    current_->name = name;
    current_->file = file_;
    current_->line = number;
    has_program_ = has_expect_ = false;
    return std::nullopt;
  }

  std::optional<Error> take_field(std::string_view key, std::string_view value, uint32_t number) {
    InsnCase& c = *current_;
    if (key == "dialect") {
      c.dialect = insn_dialect(value);
      if (!c.dialect) return error_at(number, "unknown dialect `", value, "` (linux, sbpf-v0 .. sbpf-v3)");
      return std::nullopt;
    }
    if (key == "asm" || key == "hex") {
      if (has_program_) return error_at(number, "a second program in case `", c.name, "`");
      has_program_ = true;
      block_ = key == "asm" ? Block::Assembly : Block::Hex;
      return value.empty() ? std::nullopt : add_program_line(value, number);
    }
    if (key == "in") return take_registers(value, c.registers_in, number);
    if (key == "mem") {
      if (!c.memory) c.memory.emplace();
      if (!append_hex_bytes(value, *c.memory)) return error_at(number, "mem: expects hex bytes");
      return std::nullopt;
    }
    if (key == "budget" || key == "cu") {
      auto n = parse_number(value);
      if (!n) return error_at(number, key, ": expects a number");
      (key == "budget" ? c.budget : c.compute_units) = *n;
      return std::nullopt;
    }
    if (key == "expect") {
      if (has_expect_) return error_at(number, "a second expect: in case `", c.name, "`");
      has_expect_ = true;
      return take_expect(value, number);
    }
    return error_at(number, "unknown key `", key, "`");
  }

  std::optional<Error> add_program_line(std::string_view line, uint32_t number) {
    InsnCase& c = *current_;
    if (block_ == Block::Assembly) {
      c.assembly.append(line).append("\n");
      return std::nullopt;
    }
    if (!append_hex_bytes(line, c.bytes)) return error_at(number, "hex: expects hex bytes");
    return std::nullopt;
  }

  std::optional<Error> take_registers(std::string_view value, std::vector<RegisterValue>& out, uint32_t number) {
    for (std::string_view word : words(value)) {
      auto rv = parse_register_value(word);
      if (!rv) return error_at(number, "expected rN=VALUE, got `", word, "`");
      out.push_back(*rv);
    }
    if (out.empty()) return error_at(number, "expected rN=VALUE");
    return std::nullopt;
  }

  // r0=1 r1=2 | rejects NAME | fault NAME pc=N
  std::optional<Error> take_expect(std::string_view value, uint32_t number) {
    InsnCase& c = *current_;
    const auto parts = words(value);
    if (parts.empty()) return error_at(number, "expect: needs registers, `rejects NAME` or `fault NAME pc=N`");
    if (parts[0] == "rejects") {
      if (parts.size() != 2) return error_at(number, "expected `expect: rejects NAME`");
      c.expect = Expectation::Rejects;
      c.error = parts[1];
      return std::nullopt;
    }
    if (parts[0] == "fault") {
      std::optional<uint64_t> pc;
      if (parts.size() == 3 && parts[2].starts_with("pc=")) pc = parse_number(parts[2].substr(3));
      if (!pc) return error_at(number, "expected `expect: fault NAME pc=N`");
      c.expect = Expectation::Fault;
      c.error = parts[1];
      c.pc = static_cast<uint32_t>(*pc);
      return std::nullopt;
    }
    c.expect = Expectation::Registers;
    return take_registers(value, c.registers_out, number);
  }

  std::optional<Error> finish_case() {
    if (!current_) return std::nullopt;
    InsnCase& c = *current_;
    if (!c.dialect) return error_at(c.line, "case `", c.name, "` has no dialect:");
    if (!has_program_ || (c.assembly.empty() && c.bytes.empty()))
      return error_at(c.line, "case `", c.name, "` has no program (asm: or hex:)");
    if (!c.bytes.empty() && c.bytes.size() % 8 != 0)
      return error_at(c.line, "case `", c.name, "`: hex: is not a whole number of 8-byte slots");
    if (!has_expect_) return error_at(c.line, "case `", c.name, "` has no expect:");
    cases_.push_back(std::move(c));
    current_.reset();
    return std::nullopt;
  }
};

}  // namespace

const isa::Dialect* insn_dialect(std::string_view name) {
  for (const isa::Dialect* d : {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2, &isa::kSbpfV3})
    if (name == d->name) return d;
  return nullptr;
}

Expected<std::vector<InsnCase>> parse_insn_corpus(std::string_view text, std::string_view file) {
  return Parser(file).parse(text);
}

}  // namespace bpfkit::test
