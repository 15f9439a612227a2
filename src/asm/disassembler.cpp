// Module asm: the disassembler. Both syntaxes print from the opcode table and
// nothing else: pseudo-C expands the row's template, GNU normal writes the
// row's mnemonic and lays out the operands by the row's shape. Numbers and
// listing lines are spelled as the reference tools print them (llvm-objdump-19
// --mcpu=v4: signed hex; GNU objdump 2.46: signed decimal), so a listing can
// be compared line by line with theirs.
#include <cstdio>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/assembly.hpp"

namespace bpfkit::assembly {
namespace {

using isa::Op;
using isa::Slot;

constexpr std::string_view kUnknown = "<unknown>";

// One instruction that a table row matched.
struct Insn {
  Op op{};
  Slot slot;
  int64_t imm64 = 0;  // lddw: both slots' imm
  size_t width = 1;   // slots taken
  // A label that a listing prints in place of the jump or call offset
  // (`goto L0`); empty: the offset prints as a number.
  std::string_view target_label;
};

// sBPF's callx names its register in imm (v0, v1), src (v2) or dst (v3);
// the listing shows it where the row's template reads it, in dst.
Slot as_printed(const Slot& slot, Op op, const isa::Dialect& dialect) {
  if (op != Op::callx || dialect.family != isa::Family::Sbpf) return slot;
  Slot printed = slot;
  printed.set_dst(static_cast<uint8_t>(isa::callx_register(slot, dialect)));  // instruction_at checked the range
  printed.set_src(0);
  printed.imm = 0;
  return printed;
}

std::optional<Insn> instruction_at(std::span<const Slot> slots, size_t pc, const isa::Dialect& dialect) {
  if (pc >= slots.size()) return std::nullopt;
  const std::optional<Op> op = isa::lookup(slots[pc], dialect);
  if (!op) return std::nullopt;
  if (*op == Op::callx && (isa::callx_register(slots[pc], dialect) < 0 || isa::callx_register(slots[pc], dialect) > 10))
    return std::nullopt;  // no register to name
  Insn insn;
  insn.op = *op;
  insn.slot = as_printed(slots[pc], *op, dialect);
  if (isa::is_lddw(*op)) {
    if (pc + 1 >= slots.size()) return std::nullopt;  // llvm-objdump also says <unknown> here
    const uint64_t low = static_cast<uint32_t>(slots[pc].imm);
    const uint64_t high = static_cast<uint32_t>(slots[pc + 1].imm);
    insn.imm64 = static_cast<int64_t>(low | (high << 32));
    insn.width = 2;
  }
  return insn;
}

// ---- Text -------------------------------------------------------------------

// Joins parts by appending. (`"x" + std::string` trips GCC 12's -Wrestrict
// false positive, so text is built this way.)
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

// |v| without overflow, also for INT64_MIN.
uint64_t magnitude(int64_t v) { return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v); }

// LLVM's immediate: "0x2a", "-0x2a".
std::string hex(int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%s0x%llx", v < 0 ? "-" : "", static_cast<unsigned long long>(magnitude(v)));
  return buf;
}

// LLVM's branch offset always carries its sign: "+0x1", "-0x1".
std::string signed_hex(int64_t v) { return cat({v < 0 ? "" : "+", hex(v)}); }

// LLVM's memory offset is a term after the base register: "+ 0x8", "- 0x8".
std::string term_hex(int64_t v) { return cat({v < 0 ? "- " : "+ ", hex(static_cast<int64_t>(magnitude(v)))}); }

std::string dec(int64_t v) { return std::to_string(v); }

// ---- Pseudo-C: the row's template ------------------------------------------------

// The target field's value (isa/shapes.def says which field holds it).
int64_t target_offset(const Insn& insn) {
  return isa::target_field(insn.op) == isa::TargetField::Imm ? insn.slot.imm : insn.slot.off;
}

bool is_call(Op op) { return isa::shape_info(op).flow == isa::Flow::Call; }

// A jump's offset carries its sign; a local call's imm prints as a plain
// immediate (`call 0x2`), as llvm-objdump prints both.
std::string pseudo_target(const Insn& insn) {
  if (!insn.target_label.empty()) return std::string(insn.target_label);
  return is_call(insn.op) ? hex(target_offset(insn)) : signed_hex(target_offset(insn));
}

std::string pseudo_operand(std::string_view name, const Insn& insn) {
  const Slot& slot = insn.slot;
  if (name == "dst") return dec(slot.dst());
  if (name == "src") return dec(slot.src());
  if (name == "imm") return hex(slot.imm);
  if (name == "imm64") return hex(insn.imm64);
  if (name == "off") return term_hex(slot.off);
  if (name == "opt_imm") return slot.imm == 0 ? "" : cat({" ", term_hex(slot.imm)});
  if (name == "imm_hi16") return hex(static_cast<uint32_t>(slot.imm) >> 16);
  if (name == "imm_lo16") return hex(static_cast<uint32_t>(slot.imm) & 0xffff);
  if (name == "target") return pseudo_target(insn);
  return cat({"{", name, "}"});  // an unknown placeholder stays visible; the table test catches it
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Literal template text. A bare decimal number in it (ld_pseudo's source) is
// an immediate and prints like one; digits inside a word (`u32`, `le16`,
// `cmpxchg_64`) are text.
void append_literal(std::string_view text, std::string& out) {
  for (size_t at = 0; at < text.size();) {
    const bool number_start = text[at] >= '0' && text[at] <= '9' && (at == 0 || !is_word_char(text[at - 1]));
    size_t end = at;
    while (number_start && end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (number_start && (end == text.size() || !is_word_char(text[end]))) {
      out += hex(std::stoll(std::string(text.substr(at, end - at))));
      at = end;
    } else {
      out += text[at++];
    }
  }
}

std::string format_pseudo(const Insn& insn) {
  const std::string_view tmpl = isa::info(insn.op).pseudo_c;
  std::string out;
  size_t at = 0;
  while (at < tmpl.size()) {
    const size_t open = tmpl.find('{', at);
    const size_t close = open == std::string_view::npos ? open : tmpl.find('}', open);
    if (close == std::string_view::npos) break;
    append_literal(tmpl.substr(at, open - at), out);
    out += pseudo_operand(tmpl.substr(open + 1, close - open - 1), insn);
    at = close + 1;
  }
  if (at < tmpl.size()) append_literal(tmpl.substr(at), out);
  return out;
}

// ---- GNU normal: the row's mnemonic, operands by shape --------------------------

std::string reg(uint8_t r) { return cat({"%r", dec(r)}); }

// "[%r1+8]", "[%r3-4]", "[%r1+0]".
std::string memory(uint8_t base, int16_t off) { return cat({"[", reg(base), off < 0 ? "" : "+", dec(off), "]"}); }

// A jump or local call's offset, or the listing's label for its target.
std::string gnu_target(const Insn& insn) {
  return insn.target_label.empty() ? dec(target_offset(insn)) : std::string(insn.target_label);
}

std::string gnu_operand(const Insn& insn, isa::OperandKind kind) {
  const Slot& s = insn.slot;
  switch (kind) {
    case isa::OperandKind::Dst: return reg(s.dst());
    case isa::OperandKind::Src: return reg(s.src());
    case isa::OperandKind::Imm: return dec(s.imm);
    case isa::OperandKind::Imm64: return dec(insn.imm64);
    case isa::OperandKind::Width: return dec(isa::info(insn.op).value);  // the selecting field: off or imm
    case isa::OperandKind::MemDst: return memory(s.dst(), s.off);
    case isa::OperandKind::MemSrc: return memory(s.src(), s.off);
    case isa::OperandKind::Target: return gnu_target(insn);
  }
  return "";
}

// The operands as the row's shape lays them out in normal syntax.
std::string gnu_operands(const Insn& insn) {
  std::string out;
  for (isa::OperandKind kind : isa::shape_info(insn.op).normal) {
    if (!out.empty()) out += ',';
    out += gnu_operand(insn, kind);
  }
  return out;
}

std::string format_gnu(const Insn& insn) {
  std::string_view mnemonic = isa::info(insn.op).gnu;
  mnemonic = mnemonic.substr(0, mnemonic.find('|'));  // "a|b" lists spellings; the first is printed
  const std::string operands = gnu_operands(insn);
  return cat({mnemonic, operands.empty() ? "" : " ", operands});
}

// A row with no GNU spelling (may_goto, addr_space_cast) prints in pseudo-C
// even in a GNU listing: GNU objdump says <unknown> or prints a plain mov
// there, and bpfkit's assembler reads both syntaxes mixed.
std::string format(const Insn& insn, Syntax syntax) {
  const bool gnu = syntax == Syntax::Normal && !isa::info(insn.op).gnu.empty();
  return gnu ? format_gnu(insn) : format_pseudo(insn);
}

// ---- Listings ----------------------------------------------------------------

// The slot a jump or local call lands on; nullopt for other instructions.
std::optional<int64_t> target_of(const Insn& insn, size_t pc) {
  return isa::branch_target(insn.op, insn.slot, static_cast<int64_t>(pc));
}

class Listing {
 public:
  Listing(std::span<const Slot> slots, const DisassemblyOptions& options) : slots_(slots), options_(options) {
    if (options_.labels) number_labels();
  }

  std::string run() {
    if (!options_.symbol.empty()) out_ += cat({"0000000000000000 <", options_.symbol, ">:\n"});
    for (size_t pc = 0; pc < slots_.size();) {
      if (auto label = labels_.find(pc); label != labels_.end()) out_ += label_line(label->second);
      const std::optional<Insn> insn = instruction_at(slots_, pc, dialect());
      const size_t width = insn ? insn->width : 1;
      line(pc, width, insn ? text(*insn, pc) : std::string(kUnknown));
      pc += width;
    }
    return std::move(out_);
  }

 private:
  bool gnu() const { return options_.syntax == Syntax::Normal; }

  // Without addresses and raw bytes a listing is text to assemble, so its
  // labels are the assembler's: `L0:` lines, and jumps and local calls name
  // them (`goto L0`, `call L2`). It then assembles back to the same bytes,
  // and local calls keep their kind, which a number (`call 0x1`, a helper
  // call to the assembler) cannot say. The objdump layouts keep objdump's
  // `<L0>:` and `goto +0x1 <L0>`.
  bool assembler_labels() const { return options_.labels && !options_.addresses && !options_.raw; }

  static std::string label_name(size_t number) { return cat({"L", dec(static_cast<int64_t>(number))}); }

  std::string label_line(size_t number) const {
    return assembler_labels() ? cat({label_name(number), ":\n"}) : cat({"<", label_name(number), ">:\n"});
  }

  // The label of the instruction's jump or call target; "" when it has
  // none (no labels, no target, or a target no label can mark).
  std::string target_label(const Insn& insn, size_t pc) const {
    const std::optional<int64_t> target = target_of(insn, pc);
    if (!target || *target < 0) return "";
    const auto label = labels_.find(static_cast<size_t>(*target));
    return label == labels_.end() ? "" : label_name(label->second);
  }

  std::string text(Insn insn, size_t pc) const {
    if (!assembler_labels()) return cat({format(insn, options_.syntax), target_note(insn, pc), call_note(insn)});
    const std::string label = target_label(insn, pc);
    insn.target_label = label;
    return format(insn, options_.syntax);
  }

  // " <name>" after a call whose key the caller named (sBPF syscalls and
  // functions are called by key).
  std::string call_note(const Insn& insn) const {
    if (insn.op != Op::call || options_.call_names.empty()) return "";
    auto name = options_.call_names.find(static_cast<uint32_t>(insn.slot.imm));
    return name == options_.call_names.end() ? "" : cat({" <", name->second, ">"});
  }

  // Targets that start an instruction get labels L0, L1, ... in address
  // order, as llvm-objdump --symbolize-operands numbers them.
  void number_labels() {
    std::vector<bool> starts(slots_.size(), false);
    std::vector<int64_t> targets;
    for (size_t pc = 0; pc < slots_.size();) {
      starts[pc] = true;
      const std::optional<Insn> insn = instruction_at(slots_, pc, dialect());
      if (!insn) {
        ++pc;
        continue;
      }
      if (auto target = target_of(*insn, pc)) targets.push_back(*target);
      pc += insn->width;
    }
    for (int64_t target : targets) {
      const auto slot = static_cast<size_t>(target);
      if (target >= 0 && slot < slots_.size() && starts[slot]) labels_[slot] = 0;
    }
    size_t next = 0;
    for (auto& [pc, number] : labels_) number = next++;
  }

  // " <L3>" with labels; llvm-objdump's " <symbol+0x408>" for a pseudo-C
  // jump when a symbol is given. Like llvm-objdump, it names targets past
  // the end too (the symbol is the nearest one before), but none before the
  // symbol and none for local calls.
  std::string target_note(const Insn& insn, size_t pc) const {
    const std::optional<int64_t> target = target_of(insn, pc);
    if (!target) return "";
    if (options_.labels) {
      const std::string label = target_label(insn, pc);
      return label.empty() ? "" : cat({" <", label, ">"});
    }
    if (options_.symbol.empty() || gnu() || *target < 0 || is_call(insn.op)) return "";
    const int64_t offset = *target * static_cast<int64_t>(sizeof(Slot));
    return cat({" <", options_.symbol, offset == 0 ? "" : "+", offset == 0 ? "" : hex(offset), ">"});
  }

  std::string bytes(size_t pc, size_t width) const {
    static constexpr char kDigits[] = "0123456789abcdef";
    const std::vector<uint8_t> raw = isa::to_bytes(slots_.subspan(pc, width));
    std::string out;
    for (uint8_t byte : raw) {
      if (!out.empty()) out += ' ';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0xf];
    }
    return out;
  }

  std::string address(size_t pc) const {
    char buf[32];
    if (gnu())
      std::snprintf(buf, sizeof buf, "%4zx:\t", pc * sizeof(Slot));
    else
      std::snprintf(buf, sizeof buf, "%8zu:\t", pc);
    return buf;
  }

  // llvm-objdump prints an lddw's 16 bytes on one line; GNU objdump puts the
  // second slot's bytes on a line of their own.
  void line(size_t pc, size_t width, const std::string& text) {
    const size_t first = gnu() ? 1 : width;
    if (options_.addresses) out_ += address(pc);
    if (options_.raw)
      out_ += cat({bytes(pc, first), gnu() ? " \t" : "\t"});
    else if (!options_.addresses)
      out_ += '\t';  // the text keeps its column
    out_ += text;
    out_ += '\n';
    if (first < width && options_.raw) {
      if (options_.addresses) out_ += address(pc + 1);
      out_ += cat({bytes(pc + 1, 1), " \n"});
    }
  }

  std::span<const Slot> slots_;
  const isa::Dialect& dialect() const { return options_.dialect ? *options_.dialect : isa::kLinuxV4; }

  const DisassemblyOptions& options_;
  std::map<size_t, size_t> labels_;  // target slot -> label number
  std::string out_;
};

}  // namespace

std::string format_instruction(std::span<const Slot> slots, size_t pc, Syntax syntax, const isa::Dialect& dialect) {
  const std::optional<Insn> insn = instruction_at(slots, pc, dialect);
  return insn ? format(*insn, syntax) : std::string(kUnknown);
}

std::string disassemble(std::span<const Slot> slots, const DisassemblyOptions& options) {
  return Listing(slots, options).run();
}

}  // namespace bpfkit::assembly
