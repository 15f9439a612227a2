// Directives: sections, symbols' binding, type and size, alignment, data.
#include <algorithm>
#include <string>
#include <vector>

#include "assembler.hpp"

namespace bpfkit::assembly::detail {

void Assembler::directive(Tokens tokens) {
  const std::string name = lower(tokens[0].text);
  const std::vector<Tokens> args = split_operands(tokens.subspan(1));
  if (name == ".text") return switch_section(".text", kShfAlloc | kShfExecinstr, kShtProgbits);
  if (name == ".data") return switch_section(".data", kShfAlloc | kShfWrite, kShtProgbits);
  if (name == ".bss") return switch_section(".bss", kShfAlloc | kShfWrite, kShtNobits);
  if (name == ".rodata") return switch_section(".rodata", kShfAlloc, kShtProgbits);
  if (name == ".section" || name == ".pushsection") return section_directive(tokens, args);
  if (name == ".globl" || name == ".global" || name == ".weak" || name == ".local")
    return binding_directive(name, args);
  if (name == ".type") return type_directive(tokens, args);
  if (name == ".size") return size_directive(tokens, args);
  if (name == ".set" || name == ".equ") {
    if (args.size() != 2 || args[0].size() != 1) return error_at(tokens[0], name + " takes a name and a value");
    return assign(args[0][0], args[1]);
  }
  if (name == ".p2align" || name == ".align") return align_directive(tokens, args, true);
  if (name == ".balign") return align_directive(tokens, args, false);
  if (name == ".byte") return data_directive(tokens, args, 1);
  if (name == ".short" || name == ".2byte" || name == ".half" || name == ".hword")
    return data_directive(tokens, args, 2);
  if (name == ".long" || name == ".int" || name == ".4byte" || name == ".word") return data_directive(tokens, args, 4);
  if (name == ".quad" || name == ".8byte" || name == ".dword") return data_directive(tokens, args, 8);
  if (name == ".ascii" || name == ".asciz" || name == ".string")
    return string_directive(tokens, args, name != ".ascii");
  if (name == ".zero" || name == ".space" || name == ".skip") return space_directive(tokens, args);
  if (name == ".fill") return fill_directive(tokens, args);
  if (name == ".lcomm" || name == ".comm") return common_directive(tokens, args, name == ".comm");
  // Directives that change nothing in the object.
  static const char* const kIgnored[] = {".file",       ".ident",        ".addrsig",       ".addrsig_sym",
                                         ".loc",        ".cfi_sections", ".cfi_startproc", ".cfi_endproc",
                                         ".popsection", ".previous",     ".version",       ".end",
                                         ".hidden",     ".protected",    ".internal",      ".visibility"};
  for (const char* ignored : kIgnored)
    if (name == ignored) return;
  error_at(tokens[0], "unknown directive '" + std::string(tokens[0].text) + "'");
}

void Assembler::section_directive(Tokens tokens, const std::vector<Tokens>& args) {
  if (args.empty() || args[0].empty()) return error_at(tokens[0], ".section needs a name");
  std::string name;
  for (const Token& t : args[0])
    name += t.kind == TokenKind::String ? std::string(t.text.substr(1, t.text.size() - 2)) : std::string(t.text);
  uint64_t flags = 0;
  uint32_t type = kShtProgbits;
  const bool flags_given = args.size() >= 2;
  if (flags_given && !section_flags(args[1], flags)) return;
  if (args.size() >= 3 && !section_type(args[2], type)) return;
  if (!flags_given) flags = default_flags(name, type);
  if (name.starts_with(".bss")) type = kShtNobits;
  switch_section(name, flags, type);
}

// "awx" in double quotes. M and S (mergeable strings, as clang writes for
// .rodata.str1.1) change nothing a BPF loader reads, so they are accepted
// and dropped; any other letter is refused rather than silently ignored.
bool Assembler::section_flags(Tokens arg, uint64_t& flags) {
  if (arg.size() != 1 || arg[0].kind != TokenKind::String) {
    error_at(arg.empty() ? 1 : arg[0].column, "section flags must be a string in double quotes, such as \"ax\"");
    return false;
  }
  const std::string_view letters = arg[0].text.substr(1, arg[0].text.size() - 2);
  for (char c : letters) {
    if (c == 'a')
      flags |= kShfAlloc;
    else if (c == 'w')
      flags |= kShfWrite;
    else if (c == 'x')
      flags |= kShfExecinstr;
    else if (c != 'M' && c != 'S') {
      error_at(arg[0], "unknown section flag '" + std::string(1, c) + "' (expected a, w, x, M or S)");
      return false;
    }
  }
  return true;
}

// @progbits or @nobits (GNU also writes %progbits).
bool Assembler::section_type(Tokens arg, uint32_t& type) {
  const bool prefixed = arg.size() == 2 && (eq(arg[0].text, "@") || eq(arg[0].text, "%"));
  const std::string_view name = prefixed ? arg[1].text : arg.size() == 1 ? arg[0].text : "";
  if (name == "progbits" || name == "%progbits") {
    type = kShtProgbits;
    return true;
  }
  if (name == "nobits" || name == "%nobits") {
    type = kShtNobits;
    return true;
  }
  error_at(arg.empty() ? 1 : arg[0].column, "unknown section type (expected @progbits or @nobits)");
  return false;
}

uint64_t Assembler::default_flags(const std::string& name, uint32_t& type) {
  if (name == ".text" || name.starts_with(".text.")) return kShfAlloc | kShfExecinstr;
  if (name.starts_with(".rodata")) return kShfAlloc;
  if (name.starts_with(".data") || name == ".maps") return kShfAlloc | kShfWrite;
  if (name.starts_with(".bss")) {
    type = kShtNobits;
    return kShfAlloc | kShfWrite;
  }
  if (name.starts_with(".BTF") || name.starts_with(".debug") || name == "license" || name == "version") return 0;
  return kShfAlloc | kShfExecinstr;  // program sections: "xdp", "socket", "tc", ...
}

void Assembler::binding_directive(const std::string& name, const std::vector<Tokens>& args) {
  const Binding binding = name == ".weak" ? Binding::Weak : name == ".local" ? Binding::Local : Binding::Global;
  for (const Tokens& arg : args) {
    if (arg.size() != 1 || arg[0].kind != TokenKind::Ident) {
      error_at(arg.empty() ? 1 : arg[0].column, name + " takes symbol names");
      continue;
    }
    symbols_[symbol(arg[0].text)].binding = binding;
  }
}

void Assembler::type_directive(Tokens tokens, const std::vector<Tokens>& args) {
  if (args.size() != 2 || args[0].size() != 1 || args[1].empty())
    return error_at(tokens[0], ".type takes a symbol and @function or @object");
  const std::string_view kind = args[1].back().text;
  SymbolState& sym = symbols_[symbol(args[0][0].text)];
  if (kind == "function" || kind == "STT_FUNC")
    sym.type = SymbolType::Func;
  else if (kind == "object" || kind == "STT_OBJECT")
    sym.type = SymbolType::Object;
  else if (kind != "notype")
    return error_at(args[1].back(), "unknown symbol type '" + std::string(kind) + "'");
}

void Assembler::size_directive(Tokens tokens, const std::vector<Tokens>& args) {
  if (args.size() != 2 || args[0].size() != 1) return error_at(tokens[0], ".size takes a symbol and a size");
  const int32_t index = symbol(args[0][0].text);
  // `.size f, .Lend - f` may come before .Lend: then it waits for the end.
  if (evaluate(args[1], here(), true).undefined) {
    fixups_.push_back(
        Fixup{FixupKind::Size, current_, here(), 0, 1, keep(args[1]), args[1].size(), line_, here(), index});
    return;
  }
  set_size(index, args[1], here());
}

void Assembler::set_size(int32_t index, Tokens expr, uint64_t location) {
  auto result = evaluate(expr, location, false);
  if (!result.value) return;
  if (!result.value->absolute()) return error_at(expr[0], ".size needs a constant");
  symbols_[index].size = static_cast<uint64_t>(result.value->constant);
}

void Assembler::align_directive(Tokens tokens, const std::vector<Tokens>& args, bool power_of_two) {
  if (args.empty()) return error_at(tokens[0], "alignment directive needs a value");
  auto value = constant(args[0], "alignment");
  if (!value) return;
  if (power_of_two && *value > 16)
    return error_at(args[0][0], "alignment 2^" + std::to_string(*value) + " is too large");
  const uint64_t alignment = power_of_two ? uint64_t{1} << *value : *value;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 65536)
    return error_at(args[0][0], "alignment must be a power of two up to 65536");
  uint8_t fill = 0;
  if (args.size() >= 2 && !args[1].empty()) {
    auto f = constant(args[1], "fill value");
    if (!f) return;
    fill = static_cast<uint8_t>(*f);
  }
  current().alignment = std::max(current().alignment, alignment);
  const bool code = (current().flags & kShfExecinstr) != 0;
  while (here() % alignment != 0) {
    // In code, pad with zero bytes too (llvm-mc pads BPF code with zeros).
    const uint8_t byte = code ? 0 : fill;
    append(&byte, 1);
  }
}

void Assembler::data_directive(Tokens tokens, const std::vector<Tokens>& args, uint8_t size) {
  if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs values");
  for (const Tokens& arg : args) {
    if (arg.empty()) {
      error_at(tokens[0], "missing value");
      continue;
    }
    const uint64_t offset = here();
    Evaluation result = evaluate(arg, offset, true);
    if (result.value && result.value->absolute()) {
      const int64_t v = result.value->constant;
      check_data_range(v, size, arg);
      append(&v, size);
      continue;
    }
    if (!result.value && !result.undefined) {
      evaluate(arg, offset, false);
      continue;
    }
    const uint64_t zero = 0;
    append(&zero, size);
    fixups_.push_back(Fixup{FixupKind::Data, current_, offset, size, 1, keep(arg), arg.size(), line_, offset});
  }
}

// A datum may be written signed or unsigned: .byte takes -128..255.
void Assembler::check_data_range(int64_t value, uint8_t size, Tokens expr) {
  if (size >= 8) return;
  const int64_t lo = -(int64_t{1} << (size * 8 - 1)), hi = (int64_t{1} << (size * 8)) - 1;
  if (value < lo || value > hi)
    error_at(expr[0], "value " + std::to_string(value) + " does not fit in " + std::to_string(size) +
                          (size == 1 ? " byte (" : " bytes (") + std::to_string(lo) + ".." + std::to_string(hi) + ")");
}

void Assembler::string_directive(Tokens tokens, const std::vector<Tokens>& args, bool terminate) {
  if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs a string");
  for (const Tokens& arg : args) {
    if (arg.size() != 1 || arg[0].kind != TokenKind::String) {
      error_at(arg.empty() ? tokens[0].column : arg[0].column, "expected a string in double quotes");
      continue;
    }
    const std::string_view text = arg[0].text.substr(1, arg[0].text.size() - 2);
    std::string bytes;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '\\' || i + 1 >= text.size()) {
        bytes += text[i];
        continue;
      }
      const char e = text[++i];
      if (e == 'n')
        bytes += '\n';
      else if (e == 't')
        bytes += '\t';
      else if (e == 'r')
        bytes += '\r';
      else if (e >= '0' && e <= '7') {
        int v = 0, n = 0;
        for (; n < 3 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++n, ++i) v = v * 8 + (text[i] - '0');
        --i;
        bytes += static_cast<char>(v);
      } else
        bytes += e;
    }
    append(bytes.data(), bytes.size());
    if (terminate) append("", 1);
  }
}

void Assembler::space_directive(Tokens tokens, const std::vector<Tokens>& args) {
  if (args.empty()) return error_at(tokens[0], std::string(tokens[0].text) + " needs a size");
  auto size = constant(args[0], "size");
  if (!size) return;
  if (!size_in_range(*size, args[0][0])) return;
  uint8_t fill = 0;
  if (args.size() >= 2) {
    auto f = constant(args[1], "fill value");
    if (!f) return;
    fill = static_cast<uint8_t>(*f);
  }
  append_fill(*size, fill, args[0][0].column);
}

// A size read as unsigned: -1 is 2^64 - 1, which no section can hold.
bool Assembler::size_in_range(uint64_t size, const Token& where) {
  if (static_cast<int64_t>(size) >= 0) return true;
  error_at(where, "size " + std::to_string(static_cast<int64_t>(size)) + " is negative");
  return false;
}

void Assembler::fill_directive(Tokens tokens, const std::vector<Tokens>& args) {
  if (args.empty() || args.size() > 3) return error_at(tokens[0], ".fill takes count[, size[, value]]");
  auto count = constant(args[0], "count");
  if (!count) return;
  uint64_t size = 1, value = 0;
  if (args.size() >= 2) {
    auto s = constant(args[1], "size");
    if (!s) return;
    size = std::min<uint64_t>(*s, 8);
  }
  if (args.size() == 3) {
    auto v = constant(args[2], "value");
    if (!v) return;
    value = *v;
  }
  if (!size_in_range(*count, args[0][0])) return;
  uint64_t total = 0;
  if (__builtin_mul_overflow(*count, size, &total) || total > options_.max_object_bytes)
    return error_at(args[0][0], ".fill of " + std::to_string(*count) + " times " + std::to_string(size) +
                                    " bytes is larger than the limit of " + std::to_string(options_.max_object_bytes) +
                                    " bytes");
  if (size == 1) return append_fill(*count, static_cast<uint8_t>(value), args[0][0].column);
  uint8_t bytes[8];
  std::memcpy(bytes, &value, sizeof bytes);
  if (current().type == kShtNobits && std::any_of(bytes, bytes + size, [](uint8_t b) { return b != 0; }))
    report_nobits_data();
  if (!reserve(total, args[0][0].column)) return;
  for (uint64_t i = 0; i < *count; ++i) current().bytes.insert(current().bytes.end(), bytes, bytes + size);
}

void Assembler::common_directive(Tokens tokens, const std::vector<Tokens>& args, bool global) {
  if (args.size() < 2 || args[0].size() != 1)
    return error_at(tokens[0], std::string(tokens[0].text) + " takes a name and a size");
  auto size = constant(args[1], "size");
  if (!size || !size_in_range(*size, args[1][0])) return;
  const uint32_t saved = current_;
  switch_section(".bss", kShfAlloc | kShfWrite, kShtNobits);
  define_label(args[0][0]);
  SymbolState& sym = symbols_[symbol(args[0][0].text)];
  sym.size = *size;
  sym.type = SymbolType::Object;
  if (global) sym.binding = Binding::Global;
  append_fill(*size, 0, args[1][0].column);
  current_ = saved;
}

}  // namespace bpfkit::assembly::detail
