// Module asm: assemblers and the disassembler over the isa opcode table
// (`asm` is a C++ keyword, so the namespace is `assembly`).
//
// Syntaxes: GNU as "normal" (`add %r1, %r2`), pseudo-C as LLVM and GNU as
// write it (`r1 += r2`), both mixed in one file, and the bpf_conformance
// suite's GNU-like dialect (`lock fetch add [%r10-8], %r1`, `call local f`,
// `movsx1632 %r0, %r1`, `ja32 label`) with its `.data` test files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::assembly {

// ---- Objects: what the assembler produces and the ELF writer consumes -------

// ELF constants the object model uses (values from the ELF and BPF psABI).
inline constexpr uint32_t kShtProgbits = 1, kShtNobits = 8;
inline constexpr uint64_t kShfWrite = 0x1, kShfAlloc = 0x2, kShfExecinstr = 0x4;
inline constexpr uint32_t kRelBpf64_64 = 1, kRelBpf64Abs64 = 2, kRelBpf64Abs32 = 3, kRelBpf64Nodyld32 = 4,
                          kRelBpf64_32 = 10;

struct Section {
  std::string name;  // ".text", "socket", ".rodata", ".data", ".bss", ".maps", ...
  uint32_t type = kShtProgbits;
  uint64_t flags = kShfAlloc;
  uint64_t alignment = 1;
  std::vector<uint8_t> bytes;  // contents; for kShtNobits only bytes.size() counts
};

enum class Binding : uint8_t { Local, Global, Weak };
enum class SymbolType : uint8_t { NoType, Func, Object, Section };

struct Symbol {
  std::string name;
  std::optional<uint32_t> section;  // index into Object::sections; nullopt: undefined
  uint64_t value = 0;               // offset in its section
  uint64_t size = 0;
  Binding binding = Binding::Local;
  SymbolType type = SymbolType::NoType;
};

// REL relocations: the addend stays in the instruction or data bytes.
struct Relocation {
  uint32_t section;    // index of the section the relocation patches
  uint64_t offset;     // byte offset within that section
  uint32_t type;       // kRelBpf*
  std::string symbol;  // symbol name (section symbols use the section's name)
};

struct Object {
  std::vector<Section> sections;
  std::vector<Symbol> symbols;
  std::vector<Relocation> relocations;

  const Section* find_section(std::string_view name) const {
    for (const Section& section : sections)
      if (section.name == name) return &section;
    return nullptr;
  }
};

// ---- Syntaxes ----------------------------------------------------------------

enum class Syntax : uint8_t {
  Auto,         // assembler: decide statement by statement (normal or pseudo-C)
  Normal,       // GNU as -mdialect=normal: add %r1, %r2
  PseudoC,      // LLVM / GNU as -mdialect=pseudoc: r1 += r2
  Conformance,  // the bpf_conformance suite's dialect
};

// ---- Assembler ------------------------------------------------------------------

struct AssembleOptions {
  Syntax syntax = Syntax::Auto;  // Auto reads normal and pseudo-C, mixed freely
  std::string input_name = "<input>";
  // Which rows the text names, and how they are encoded: an sBPF version
  // reads its own rows (v2's PQR class, hor64 and moved loads and stores; v3's
  // static syscalls) and refuses the rows it does not have, so that the
  // bytes are the ones the disassembler prints with the same dialect.
  isa::Dialect dialect = isa::kLinuxV4;
  // The most bytes all sections together may hold (.space, .comm, .fill and
  // .bss count in full): a short input must not allocate without bound.
  uint64_t max_object_bytes = uint64_t{256} << 20;
};

// The object and every error found (the assembler goes on after an error, so
// one run reports all of them). The object is meaningful only without errors.
// At most the first 100 errors are kept, in line order; `more_errors` counts
// the ones found after them.
struct Assembly {
  Object object;
  std::vector<Error> errors;
  size_t more_errors = 0;
  bool ok() const { return errors.empty(); }
};

// Assembles GNU normal and pseudo-C syntax (both in one file with Syntax::Auto):
// labels, numeric offsets, expressions, the common directives (.text,
// .section, .globl, .type, .size, .p2align, .byte/.short/.long/.quad, ...),
// and relocations for symbols it cannot resolve.
Assembly assemble(std::string_view source, const AssembleOptions& options = {});

// The instructions of one section (default .text) as slots.
std::vector<isa::Slot> section_slots(const Object& object, std::string_view section = ".text");

// "file:line:col: error: message", then the source line and a caret under
// the column. A long line is shown as a window around the column (at most
// kMaxEchoWidth characters, "..." where it is cut).
inline constexpr size_t kMaxEchoWidth = 160;
std::string format_diagnostic(const Error& error, std::string_view source);

// Every error of an assembly as format_diagnostic prints it, then "N more
// errors not shown" if errors were dropped. Lines are found in one pass over
// the source, however many errors there are.
std::string format_diagnostics(const Assembly& assembly, std::string_view source);

// ---- Disassembler ---------------------------------------------------------------

// PseudoC prints as llvm-objdump-19 --mcpu=v4 does (`r1 += 0x1`), Normal as
// GNU objdump 2.46 (`add %r1,1`; rows GNU cannot spell, such as may_goto,
// print in pseudo-C); Auto and Conformance print as PseudoC.
// Listings are laid out as that tool lays them out, so they can be compared
// line by line: llvm-objdump's decimal slot index and one line per lddw, GNU's
// hex byte offset and an lddw's second slot on a line of its own.
struct DisassemblyOptions {
  Syntax syntax = Syntax::PseudoC;
  bool raw = false;       // the encoded bytes beside each instruction
  bool addresses = true;  // each instruction's address (slot index or byte offset, as above)
  bool labels = true;     // `<L0>:` before each jump or local-call target; the target reads `+0x1 <L0>`.
                          // Without addresses and raw bytes the listing is assembler source
                          // instead: `L0:` lines and `goto L0`, which assembles to the same bytes.
  std::string symbol;     // if set: a `0000000000000000 <symbol>:` line first and, without
                          // labels, PseudoC jump targets as llvm-objdump shows them: `<symbol+0x408>`
  const isa::Dialect* dialect = nullptr;       // which rows the bytes are (null: Linux); an sBPF
                                               // version decodes by its own opcode map
  std::map<uint32_t, std::string> call_names;  // `call imm` keys to print as ` <name>` after the call
};

// The text of the instruction at `pc` (an lddw also reads slots[pc + 1]), or
// "<unknown>" when no table row matches, the lddw has no second slot, or pc
// is past the end. Jump targets are offsets (`goto +0x1`, `ja 1`).
std::string format_instruction(std::span<const isa::Slot> slots, size_t pc, Syntax syntax = Syntax::PseudoC,
                               const isa::Dialect& dialect = isa::kLinuxV4);

// A listing of `slots`, one instruction per line; unknown slots print as
// "<unknown>" and the listing goes on with the next slot.
std::string disassemble(std::span<const isa::Slot> slots, const DisassemblyOptions& options = {});

// ---- ELF output ----------------------------------------------------------------

// An ELF64 little-endian relocatable object (e_machine EM_BPF): the sections,
// a symbol table (section symbols, then locals, then globals), one
// `.rel<name>` section per section with relocations, and `.strtab`/`.shstrtab`.
// An error when the object cannot be written: 65,280 sections or more
// (SHN_LORESERVE, with the section header and name sections) need extended
// section numbering, which BPF loaders do not read.
[[nodiscard]] Expected<std::vector<uint8_t>> write_elf(const Object& object);

// Assembles conformance-dialect text. Errors carry input:line:column.
// Labels are `name:` on their own line; jump targets are labels or signed
// offsets. As in the suite's own assembler, the label `exit` names the first
// `exit` instruction unless the program defines it.
[[nodiscard]] Expected<std::vector<isa::Slot>> assemble_conformance(std::string_view source,
                                                                    std::string_view input_name = "<input>");

// One bpf_conformance `.data` file.
struct ConformanceTest {
  std::string asm_source;                     // `-- asm` (comments stripped)
  uint32_t asm_first_line = 0;                // line of the first asm line, for messages
  std::optional<std::vector<isa::Slot>> raw;  // `-- raw`: used instead of asm when present
  std::vector<uint8_t> memory;                // `-- mem`
  bool has_memory = false;
  std::optional<uint64_t> result;    // `-- result`
  std::optional<std::string> error;  // `-- error`
};

[[nodiscard]] Expected<ConformanceTest> parse_conformance_test(std::string_view text,
                                                               std::string_view input_name = "<input>");

// The program of a test: its raw words, or its assembled asm section.
[[nodiscard]] Expected<std::vector<isa::Slot>> conformance_program(const ConformanceTest& test,
                                                                   std::string_view input_name = "<input>");

}  // namespace bpfkit::assembly
