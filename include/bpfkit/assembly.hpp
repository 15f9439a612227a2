// Module asm: assemblers and the disassembler over the isa opcode table
// (`asm` is a C++ keyword, so the namespace is `assembly`).
//
// Syntaxes: GNU as "normal" (`add %r1, %r2`), pseudo-C as LLVM and GNU as
// write it (`r1 += r2`), both mixed in one file, and the bpf_conformance
// suite's GNU-like dialect (`lock fetch add [%r10-8], %r1`, `call local f`,
// `movsx1632 %r0, %r1`, `ja32 label`) with its `.data` test files.
#pragma once

#include <cstdint>
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

// ---- Disassembler ---------------------------------------------------------------

struct DisassemblyOptions {
  Syntax syntax = Syntax::PseudoC;  // PseudoC prints as llvm-objdump-19, Normal as GNU objdump
  bool raw = false;                 // the encoded bytes beside each instruction
  bool addresses = true;            // the slot index of each instruction
  bool labels = true;               // a label line before each jump target
};

// The text of the instruction at `pc` (an lddw also reads slots[pc + 1]), or
// "<unknown>" when no table row matches.
std::string format_instruction(std::span<const isa::Slot> slots, size_t pc, Syntax syntax = Syntax::PseudoC);

// A listing of `slots`, one instruction per line.
std::string disassemble(std::span<const isa::Slot> slots, const DisassemblyOptions& options = {});

// ---- ELF output ----------------------------------------------------------------

// An ELF64 little-endian relocatable object (e_machine EM_BPF): the sections,
// a symbol table (section symbols, then locals, then globals), one
// `.rel<name>` section per section with relocations, and `.strtab`/`.shstrtab`.
std::vector<uint8_t> write_elf(const Object& object);

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
