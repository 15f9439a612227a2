// Module elf: a bounded ELF64 reader, and the loader for eBPF objects as
// `clang -O2 -g -target bpf -c` writes them (programs by section and
// function, relocations, maps, global data, bpf-to-bpf calls), preparing a
// program the way libbpf prepares it for the kernel; and the loader for
// Solana sBPF shared objects (namespace sbpf below).
//
// Every offset and size is checked before use; errors carry a code, a
// message and the file offset (Location::offset).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/elf_format.hpp"
#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::elf {

// ---- The bounded reader -------------------------------------------------------

// Names (of sections and symbols, and in ObjectInfo) are views into the
// file's bytes: valid as long as the bytes Reader::parse was given, or the
// EbpfObject (any copy of it), live.
struct SectionHeader {
  uint32_t index = 0;
  std::string_view name;
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t addr = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint32_t info = 0;
  uint64_t addralign = 0;
  uint64_t entsize = 0;
};

struct SymbolEntry {
  std::string_view name;
  uint64_t value = 0;
  uint64_t size = 0;
  uint8_t type = 0;      // STT_*
  uint8_t binding = 0;   // STB_*
  uint16_t section = 0;  // st_shndx
};

struct RelocationEntry {
  uint64_t offset = 0;  // in the section the relocation section applies to
  uint32_t type = 0;    // R_BPF_*
  uint32_t symbol = 0;  // index into symbols()
  int64_t addend = 0;   // RELA only; REL keeps it in the bytes
};

class Reader {
 public:
  // Checks the header, the section table and the symbol table up front.
  static Expected<Reader> parse(std::span<const uint8_t> file, std::string input_name = "");

  uint16_t type() const { return type_; }        // e_type
  uint16_t machine() const { return machine_; }  // e_machine
  uint32_t flags() const { return flags_; }      // e_flags
  uint64_t entry() const { return entry_; }

  const std::vector<SectionHeader>& sections() const { return sections_; }
  const SectionHeader* find(std::string_view name) const;
  // The bytes of a section (empty for SHT_NOBITS); bounds were checked by parse().
  std::span<const uint8_t> contents(const SectionHeader& section) const;
  // The section called `name`; with an empty name, `.text` if it has bytes,
  // else the first executable section that has bytes (clang puts programs in
  // sections such as `xdp` and leaves `.text` empty). A missing name is a
  // BadOperand error listing the sections there are.
  Expected<const SectionHeader*> code_section(std::string_view name) const;
  // A section's bytes as instruction slots: SHT_NOBITS, or a size that is no
  // multiple of 8, is an error.
  Expected<std::vector<isa::Slot>> slots(const SectionHeader& section) const;

  const std::vector<SymbolEntry>& symbols() const { return symbols_; }
  // The entries of a SHT_REL or SHT_RELA section, each checked against the
  // symbol table and the target section's size.
  Expected<std::vector<RelocationEntry>> relocations(const SectionHeader& section) const;

  const std::string& input_name() const { return input_; }

  // File offset of section `index`'s header, for error locations.
  uint64_t header_offset(uint32_t index) const;
  // File offset of symbol `index`'s entry, for error locations.
  uint64_t symbol_offset(uint32_t index) const { return symtab_offset_ + uint64_t{index} * 24; }
  // An error at a file offset, carrying the input name.
  Error fail_at(Errc code, uint64_t offset, std::string message) const;

 private:
  Expected<void> read_sections(const Ehdr& header);
  Expected<void> read_section_names(const Ehdr& header, const std::vector<Shdr>& raw);
  Expected<void> check_layout() const;
  Expected<void> read_symbols();

  ByteReader file_;
  std::string input_;
  uint64_t shoff_ = 0;
  uint16_t type_ = 0, machine_ = 0;
  uint32_t flags_ = 0;
  uint64_t entry_ = 0;
  std::vector<SectionHeader> sections_;
  std::vector<SymbolEntry> symbols_;
  uint64_t symtab_offset_ = 0;
};

// ---- eBPF objects ----------------------------------------------------------------

// One program: a function symbol in an executable section.
struct ProgramInfo {
  std::string_view section;    // "xdp", "tc", ".text", "socket", "kprobe/..."
  std::string_view function;   // its symbol
  uint32_t section_index = 0;  // two sections may share a name: this is the one
  uint32_t offset = 0;         // first slot in its section
  uint32_t slots = 0;          // its size in slots
  bool global = false;
};

struct RelocationInfo {
  std::string_view section;  // patched section
  uint64_t offset = 0;
  std::string_view type;  // "R_BPF_64_64", "R_BPF_64_32", ...
  std::string_view symbol;
};

// The kinds libbpf gives `.kconfig` externs (find_kcfg_type).
enum class KconfigKind : uint8_t { Unknown, Bool, Tristate, Char, CharArray, Int };

// An extern of `.kconfig` (`extern u32 LINUX_KERNEL_VERSION __kconfig;`).
// libbpf lays them out in one read-only map, `.kconfig` (by alignment, then
// size, then name), and fills it when it loads the object.
struct KconfigExtern {
  std::string_view name;
  uint64_t offset = 0;  // in the `.kconfig` map's value
  uint64_t size = 0;
  KconfigKind kind = KconfigKind::Unknown;
  bool is_signed = false;
  bool weak = false;  // `__weak`: a missing value is 0 instead of an error
};

// A variable of global data (.data, .rodata, .bss and their named forms),
// from the symbol table: what a skeleton's `rodata->x = ...` sets.
struct GlobalVariable {
  std::string_view name;
  std::string_view section;  // = the name of its global-data map
  uint64_t offset = 0;
  uint64_t size = 0;
};

// Pointers in global data: isa::Program carries them (isa.hpp).
using DataRelocation = isa::DataRelocation;
using isa::apply_data_relocations;

// ---- BTF and CO-RE ------------------------------------------------------------------
//
// CO-RE ("compile once, run everywhere") as libbpf does it (relo_core.c):
// clang records in `.BTF.ext` each instruction whose offset, size or
// constant depends on a type's layout, with the type (an id in the object's
// `.BTF`) and an access string ("0:1:2": array index, then member indices).
// At load time each is resolved against a target BTF (the kernel's), by
// libbpf's rules, and the instruction patched.

namespace detail {
class BtfTypes;
}

// A BTF to resolve CO-RE relocations against: raw BTF (what
// /sys/kernel/btf/vmlinux holds) or the `.BTF` section of an ELF object, as
// libbpf's btf__parse reads either. Copies share the parsed types.
class Btf {
 public:
  static Expected<Btf> parse(std::span<const uint8_t> bytes, std::string input_name = "");
  uint32_t type_count() const;  // ids below this are types; 0 is void
  const std::string& input_name() const;
  const detail::BtfTypes& types() const { return *types_; }

 private:
  std::shared_ptr<const detail::BtfTypes> types_;
  friend class EbpfObject;
};

// Where the running kernel's BTF is: the default target when it exists.
inline constexpr const char* kVmlinuxBtfPath = "/sys/kernel/btf/vmlinux";
// The helper id libbpf's poisoning calls (isa::kCorePoisonHelper): an
// instruction whose relocation found nothing becomes `call 0xbad2310`,
// harmless in dead code, an unknown helper where it runs.
inline constexpr int32_t kCorePoisonHelper = static_cast<int32_t>(isa::kCorePoisonHelper);

// enum bpf_core_relo_kind, in its order.
enum class CoreKind : uint8_t {
  FieldByteOffset,
  FieldByteSize,
  FieldExists,
  FieldSigned,
  FieldLshiftU64,
  FieldRshiftU64,
  TypeIdLocal,
  TypeIdTarget,
  TypeExists,
  TypeSize,
  EnumvalExists,
  EnumvalValue,
  TypeMatches,
};
// libbpf's names: "byte_off", "byte_sz", "field_exists", "signed",
// "lshift_u64", "rshift_u64", "local_type_id", "target_type_id",
// "type_exists", "type_size", "enumval_exists", "enumval_value", "type_matches".
std::string_view core_kind_name(CoreKind kind);

// One record of `.BTF.ext`'s CO-RE section.
struct CoreRelocation {
  std::string_view section;  // the code section it patches
  uint32_t section_index = 0;
  uint32_t insn = 0;  // slot index in that section
  CoreKind kind = CoreKind::FieldByteOffset;
  uint32_t type_id = 0;        // the root type, in the object's BTF
  std::string_view access;     // "0:1:2", a view into the object's bytes
  uint32_t access_offset = 0;  // where `access` is in .BTF's strings (the record's access_str_off)
  uint32_t section_name = 0;   // the block's name offset in .BTF's strings
  std::string type;            // the root type: "struct task_struct"
  std::string field;  // the access as names: "pid", "se.vruntime", "[1].arr[2]", an enumerator; empty for types
  uint64_t at = 0;    // file offset of the record
};

// What a relocation resolves to against one target BTF (bpf_core_relo_res).
struct CoreResult {
  bool poisoned = false;                     // nothing matched: the instruction becomes a call of kCorePoisonHelper
  bool validate = true;                      // the instruction must hold `original` before it is patched
  bool fail_memsz_adjust = false;            // a load/store whose size would change unsafely: poisoned
  uint64_t original = 0;                     // the object's own answer (what clang wrote in the instruction)
  uint64_t value = 0;                        // the target's answer, patched in
  uint32_t original_size = 0, new_size = 0;  // field sizes: a load or store's width follows them
  uint32_t candidates = 0;                   // target types with the root's name (flavor ignored) and a compatible kind
  uint32_t target_type_id = 0;               // the candidate that matched (0: none)
  std::string target_type;                   // "struct task_struct", or empty
  std::string target_access;                 // the access string in the target: "0:57"
};

// One func_info block of `.BTF.ext`: the records of one code section, each
// an insn_off (bytes into the section) and the FUNC type of the function
// starting there. bpfkit needs none to run a program; `opt` writes them
// again for the moved functions (EbpfObject::rewrite), since the kernel
// refuses a program that takes a function's address (bpf_loop, timers)
// without them; objdump and tests read them here.
struct FuncInfoBlock {
  uint32_t section_name = 0;              // offset in .BTF's strings, as read
  std::optional<uint32_t> section_index;  // the code section it names, if it names one
  std::vector<uint8_t> records;           // the records as read (BtfExtInfo::func_info_size bytes each)
};

// `.BTF.ext` beyond CO-RE: how many func_info and line_info records it has
// (checked), and the func_info records themselves.
struct BtfExtInfo {
  bool present = false;
  uint32_t func_info = 0, line_info = 0;
  uint32_t func_info_size = 0;  // bytes per func_info record
  std::vector<FuncInfoBlock> func_info_blocks;
};

// How load_program() prepares a program beyond the object itself.
struct LoadOptions {
  // CO-RE relocations of the loaded code are resolved against this BTF; a
  // program with any and no target is an error (never loaded unrelocated).
  const Btf* core_target = nullptr;
  // When set, one line for each instruction CO-RE poisoned (its relocation
  // matched nothing in the target): which relocation, and its pc in the
  // loaded program. It runs only as an error (kCorePoisonHelper).
  std::vector<std::string>* poisoned = nullptr;
  // Instead of resolving them, keep the CO-RE relocations: the code holds
  // the object's own offsets and constants, and isa::Program::core_slots
  // says where each relocation is (what `bpfkit opt` writes back, so its
  // output still loads on any kernel). An instruction no relocation could
  // patch is an error. core_target is then ignored.
  bool keep_core = false;
};

// What `bpfkit objdump` prints, and what load_program() starts from. Its names are
// views into the object's bytes (see SectionHeader).
struct ObjectInfo {
  std::vector<SectionHeader> sections;
  std::vector<ProgramInfo> programs;
  std::vector<isa::MapSpec> maps;  // declared maps, then global data (.rodata*, .data*, .bss)
  std::vector<RelocationInfo> relocations;
  std::vector<DataRelocation> data_relocations;
  std::string license;
  std::vector<KconfigExtern> kconfig;            // the `.kconfig` map is in maps when there are any
  std::vector<GlobalVariable> variables;         // by section, then offset
  std::vector<CoreRelocation> core_relocations;  // by section, then instruction
  BtfExtInfo btf_ext;
};

// What libbpf resolves `.kconfig` externs from: the running kernel's
// version, whether its syscalls have wrappers, and its config
// (/proc/config.gz or /boot/config-$(uname -r)).
struct KconfigValues {
  uint32_t kernel_version = 0;  // KERNEL_VERSION(a, b, c): LINUX_KERNEL_VERSION
  bool syscall_wrapper = true;  // LINUX_HAS_SYSCALL_WRAPPER (x86-64 since 4.17)
  // CONFIG_X -> its value as the config file writes it (y, m, 42, 0x10,
  // "text"); nullopt when no config could be read (then any CONFIG_ extern
  // fails, as in libbpf).
  std::optional<std::unordered_map<std::string, std::string>> config;
};

// The `CONFIG_X=value` lines of a kernel config ("# CONFIG_X is not set"
// and blank lines say nothing).
std::unordered_map<std::string, std::string> parse_kconfig(std::string_view text);
// KERNEL_VERSION of a release string ("6.18.44-fc" -> 0x06122c); 0 if unreadable.
uint32_t kernel_version_of(std::string_view release);
// The `.kconfig` map's value with every extern set by libbpf's rules
// (bpf_object__resolve_externs): y/n/m for bool, tristate and char, a
// quoted string for a char array, a number that fits for an integer; an
// unknown LINUX_ name, a value of the wrong kind, or a strong extern with no
// value is an error naming it; a weak one with none is 0.
Expected<std::vector<uint8_t>> kconfig_image(const ObjectInfo& info, const KconfigValues& values);

class Linker;
class ObjectWriter;

class EbpfObject {
 public:
  static Expected<EbpfObject> parse(std::span<const uint8_t> file, std::string input_name = "");
  const ObjectInfo& info() const { return info_; }

  // The default program as a user expects it: the one program section other
  // than .text; else the one global function in .text; else an error that
  // lists the choices.
  Expected<const ProgramInfo*> default_program() const;
  Expected<const ProgramInfo*> find_program(std::string_view section, std::string_view function) const;
  // find_program(section, function), or default_program() when both are empty.
  Expected<const ProgramInfo*> choose_program(std::string_view section, std::string_view function) const;

  // One program as an isa::Program, prepared as libbpf would prepare it:
  // each subprogram it calls, from any section, is appended once and call
  // offsets fixed, so the result is never longer than the object's code; map
  // and global-data references become `lddw` with src kPseudoMapIdx (imm =
  // map index) or kPseudoMapIdxValue (imm = map index, second imm = offset
  // into the value). Then decoded (isa::decode, Linux): every function placed
  // with its name and boundaries, the maps and global-data images its lddw
  // name by index (`maps`: as libbpf creates maps for the programs it loads,
  // only those its code names, with the inner maps their `.values` name and
  // the maps their global data points into, in info().maps order), the
  // pointers in global data (`data_relocations`), entry 0. Errors carry the
  // input name.
  // With options.core_target, the CO-RE relocations in the code placed are
  // resolved against it and patched as libbpf patches them (resolve_core).
  Expected<isa::Program> load_program(const ProgramInfo& program, const LoadOptions& options = {}) const;

  // info().core_relocations[index] resolved against `target` by libbpf's
  // rules: candidates are the target's types of the root's name without its
  // `___flavor` suffix and a compatible kind; the access is matched member by
  // member (by name, through anonymous members); candidates that match must
  // agree (else an ambiguity error); no match gives 0 for the existence and
  // type relocations and a poisoned instruction for the others. An access
  // the object's own BTF cannot follow is an error naming the relocation.
  Expected<CoreResult> resolve_core(size_t index, const Btf& target) const;

  // ---- Writing the object again (object_writer.cpp) ----
  //
  // New code for one function of the object (one of info().programs):
  // `program`'s first function, at slot 0, as load_program() places a
  // program (e.g. after optimisation through the IR). Its calls and function
  // addresses name the other functions of `program` by name, which must be
  // functions of this object; its lddw name `program->maps`, which must be
  // maps of this object (by name) or global data added to it (see rewrite).
  struct NewCode {
    const ProgramInfo* function = nullptr;
    const isa::Program* program = nullptr;
  };
  struct Rewritten {
    std::vector<uint8_t> bytes;      // the ELF object
    std::vector<std::string> notes;  // what was dropped or added, for the user
  };
  // The object written again with each function of `code` replaced: every
  // other function keeps its bytes; sections, symbols (function symbols
  // moved), maps, global data, license and `.BTF` stay; the code sections'
  // relocations are made again for the new instruction indices (map and
  // global-data lddw, calls and function addresses: calls into `.text` by
  // relocation against the callee's symbol, as libbpf wants). `.BTF.ext`
  // moves to the new code (each function's func_info at its new start, each
  // line_info at the first instruction made from its old one, lines whose
  // instructions all went dropped), without its CO-RE records (the new code
  // was made from the program relocated for one kernel), with a note; where
  // it cannot move it is dropped, with a note. Global data a new program names that the object lacks (an
  // instrumentation pass's `.data.*` counters) is added as a section of its
  // name with a global symbol, with a note; any other map the object lacks
  // is an error.
  Expected<Rewritten> rewrite(std::span<const NewCode> code) const;

 private:
  // load_program()'s first step, the linker's output (link.cpp).
  struct Function {  // its symbol (a view into the object's bytes), first slot, length in slots
    std::string_view name;
    uint32_t start = 0;
    uint32_t size = 0;
  };
  struct Linked {
    std::vector<isa::Slot> code;                     // the program, then every subprogram it calls
    std::vector<isa::MapSpec> maps;                  // the maps its lddw refer to, by index
    std::vector<DataRelocation> data_relocations;    // apply once the maps exist
    std::vector<Function> functions;                 // by start: the program first, then each callee placed
    std::vector<std::string> kfuncs;                 // the externs call_kfunc's imm indexes (isa::Program::kfuncs)
    std::vector<std::string> ksyms;                  // the externs lddw_btf_id's imm indexes (isa::Program::ksyms)
    std::vector<isa::Program::CoreSlot> core_slots;  // LoadOptions::keep_core: where each relocation went
  };
  // `keep`: the maps (by object index) to keep instead of those the code
  // names and what they bring along: a tail-call group's shared list.
  Expected<Linked> link(const ProgramInfo& program, const LoadOptions& options,
                        const std::vector<bool>* keep = nullptr) const;
  Expected<isa::Program> load_linked(const ProgramInfo& program, const LoadOptions& options,
                                     const std::vector<bool>* keep) const;
  // The maps of `program` and of every program its prog arrays' `.values`
  // name, transitively (as keep_used_maps chooses them for each).
  Expected<std::vector<bool>> tail_call_group_maps(const ProgramInfo& program, const LoadOptions& options) const;
  // CO-RE (core_relo.cpp): every relocation of slots [first, first + slots.size())
  // of `section` resolved and patched into `slots`, a copy of them.
  // `base` is where slots[0] is in the loaded program.
  // With options.keep_core, each is checked and its place appended to
  // `kept` instead.
  Expected<void> apply_core(uint32_t section, uint32_t first, std::span<isa::Slot> slots, uint32_t base,
                            const LoadOptions& options, std::vector<isa::Program::CoreSlot>& kept) const;
  Expected<void> read_btf_ext();  // btf_ext.cpp

  // Where each of info_.maps lives: its section and offset there (0 for
  // global data, whose whole section is the map's value).
  struct MapOrigin {
    uint32_t section = 0;
    uint64_t offset = 0;
    bool whole_section = false;
  };

  Expected<void> read();
  Expected<void> add_map(isa::MapSpec spec, MapOrigin origin, uint64_t where);
  Expected<void> read_global_data();
  Expected<void> read_legacy_maps();
  Expected<void> read_btf_maps();
  Expected<void> read_relocations();
  Expected<void> read_kconfig_externs();
  void read_variables();
  // rewrite(): `.BTF.ext` again, with each func_info and line_info record
  // at the new index `moved` gives its old one (code section index, old
  // slot; nullopt: no instruction of it is left, and the line record goes)
  // and no CO-RE records. Fails (and the caller drops the section) on a
  // function start that did not move or a record naming no code section.
  using MovedSlot = std::function<std::optional<uint32_t>(uint32_t section, uint32_t slot)>;
  struct MovedBtfExt {
    std::vector<uint8_t> bytes;
    uint32_t func_info = 0, line_info = 0, lines_dropped = 0, core = 0;
  };
  // A CO-RE record to write: relocation `relocation` of info().core_relocations,
  // now at slot `slot` of code section `section`.
  struct CoreAt {
    uint32_t section = 0, slot = 0, relocation = 0;
  };
  Expected<MovedBtfExt> moved_btf_ext(const MovedSlot& moved, std::span<const CoreAt> core) const;
  std::vector<uint8_t> write_core(std::span<const CoreAt> core) const;
  // The `.kconfig` map's index and the extern's offset in it.
  std::optional<std::pair<uint32_t, uint64_t>> kconfig_extern(std::string_view name) const;
  Expected<bool> read_inner_map_slot(const SectionHeader& maps, const RelocationEntry& r, uint64_t at);
  Expected<bool> read_program_slot(uint32_t map, uint64_t slot, const SymbolEntry& sym, uint64_t at);
  // The map whose value holds byte `offset` of `section`, and the offset in it.
  std::optional<std::pair<uint32_t, uint64_t>> map_at(uint32_t section, uint64_t offset) const;
  std::optional<DataRelocation> data_relocation(uint32_t section, const RelocationEntry& r) const;
  // The one candidate, or an error listing `listed` (all programs if empty).
  Expected<const ProgramInfo*> choose(std::vector<const ProgramInfo*> candidates,
                                      std::vector<const ProgramInfo*> listed) const;

  // Kept by parse(): the file (shared by copies, so that every view into it
  // stays valid), its reader, and what the linker needs beyond info_.
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  std::string input_;
  Reader reader_;
  ObjectInfo info_;
  std::vector<MapOrigin> origins_;
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> map_by_origin_;  // (section, offset) -> map
  uint64_t map_name_bytes_ = 0;                                      // copied into info_.maps
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> values_at_;      // map of maps origin -> its `values` offset
  std::unordered_map<std::string_view, uint64_t> kconfig_offset_;    // extern name -> offset in `.kconfig`
  std::shared_ptr<const detail::BtfTypes> local_btf_;                // `.BTF`, when CO-RE relocations need it
  // Prog arrays' `.values`: map index -> (slot, index in info_.programs).
  std::map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> program_slots_;
  friend class Linker;
  friend class ObjectWriter;
};

// ---- sBPF shared objects -------------------------------------------------------
//
// The loader of Firedancer's fd_sbpf_loader.h and Agave's solana-sbpf
// (`Executable::load`), which agree: peek() reads what a caller needs to size
// its buffers, load() copies and relocates into a Program. v0..v2 go through
// the lenient, section-header driven parser with dynamic relocations; v3+
// through the strict parser (ELF header and program headers only).
namespace sbpf {

// The production loaders' errors (solana-sbpf `ElfError` and the ELF
// parser's `ElfParserError`, sbpf_load_errors.def), one code each: the
// Error's detail in Domain::SbpfLoader. error_name() is the Rust variant
// name, error_text() our strerror.
using LoadErrc = SbpfLoadErrc;
inline std::string_view error_name(LoadErrc code) {
  return detail_name(Domain::SbpfLoader, static_cast<uint16_t>(code));
}
inline std::string_view error_text(LoadErrc code) {
  return detail_text(Domain::SbpfLoader, static_cast<uint16_t>(code));
}

struct LoaderConfig {
  uint32_t min_version = 0;  // e_flags outside [min, max]: UnsupportedSBPFVersion
  uint32_t max_version = 3;
  bool deploy_checks = false;  // elf_deploy_checks: the checks done only at deployment
  // Register every .symtab function as a call destination, under its name
  // (Agave's enable_symbol_and_section_labels). Production loads with it off:
  // only relocations, the entry point and v3's relative calls make functions.
  // Names for listings come from Program::symbol_names either way.
  bool symbol_labels = false;
  // Syscalls the runtime registers, by name (their keys are murmur3_32 of the
  // name). R_BPF_64_32 against one of these becomes a syscall call.
  std::vector<std::string> syscalls;
};

// What peek() finds, so a caller can size buffers before load().
struct ElfInfo {
  uint32_t sbpf_version = 0;  // from e_flags
  uint16_t machine = 0;       // 247 (EM_BPF) or 263 (EM_SBPF)
  uint64_t text_offset = 0;   // file offset of the bytecode
  uint64_t text_vaddr = 0;    // its virtual address
  uint64_t text_count = 0;    // instruction slots
  uint64_t text_size = 0;     // bytes
  uint64_t rodata_size = 0;   // bytes of the read-only image the VM maps (v0..v2 peek(): the
                              // file size, an upper bound; load() sets the exact size)
  uint64_t entry_pc = 0;
  uint64_t dynstr_offset = 0, dynstr_size = 0;
  // Indices found, or -1: sections (lenient parser) and program headers.
  int32_t shndx_text = -1, shndx_symtab = -1, shndx_strtab = -1, shndx_dyn = -1, shndx_dynstr = -1;
  int32_t phndx_dyn = -1;
  int32_t phndx_rodata = -1, phndx_text = -1;  // strict parser
};

// A loaded image, relocated: what to_program() decodes into an isa::Program,
// and what objdump shows (its ElfInfo) and disasm lists.
struct Program {
  ElfInfo info;
  std::vector<uint8_t> rodata;  // the read-only region's contents
  uint64_t rodata_vaddr = 0;    // where it is mapped: 1 << 32 (v0..v2) or 0 (v3)
  std::vector<isa::Slot> text;  // the bytecode (a copy of its part of rodata for v0..v2)
  uint64_t text_vaddr = 0;      // address of text[0]
  uint64_t entry_pc = 0;
  std::vector<bool> calldests;  // one per slot: a valid call target
  // v0..v2 internal calls: key (sbpf_pc_key(pc), or murmur3("entrypoint"))
  // -> pc, with the function's name when symbol_labels is on.
  struct Function {
    uint64_t pc = 0;
    std::string name;
  };
  std::unordered_map<uint32_t, Function> functions;
  // Function symbols of .symtab inside the text, pc -> name (the first one
  // at a pc, up to 255 bytes): read for display only, whatever
  // symbol_labels says, and never an error (a broken table gives none).
  std::map<uint64_t, std::string> symbol_names;
  // Syscalls the program refers to by relocation: key -> name.
  std::map<uint32_t, std::string> syscalls_used;
};

// Errors carry Errc (BadHeader, Truncated, Unsupported, ...), the file offset
// where the loader found the problem, and the detail code (Error::name() = error_name(code)).
// As in solana-sbpf, the lenient (v0..v2) parser's errors are reported as
// FailedToParse (the parser's own error in the message), except
// InvalidProgramHeader and OutOfBounds (-> ValueOutOfBounds); the strict (v3)
// parser's errors keep their ElfParserError names (InvalidFileHeader,
// InvalidProgramHeader, OutOfBounds).
Expected<ElfInfo> peek(std::span<const uint8_t> file, const LoaderConfig& config = {});
// The relocated image (objdump shows its ElfInfo; disasm lists its text,
// even text the verifier would refuse). For a program, load_program().
Expected<Program> load(std::span<const uint8_t> file, const LoaderConfig& config = {});

// The loaded program as the one program type: the text decoded by its
// version's verifier rules (isa::decode, whose error names such as
// UnknownOpCode it returns), dialect = the version's; functions from the
// call destinations, each running to the next, named by its symbol (or
// function_<pc>); function_keys = the v0..v2 call keys (key -> pc); the
// syscall keys the relocations name and those of `config.syscalls` that a
// call uses (key -> name); rodata, rodata_vaddr, text_vaddr and entry.
Expected<isa::Program> load_program(std::span<const uint8_t> file, const LoaderConfig& config = {});
// The same from what load() gave.
Expected<isa::Program> to_program(Program loaded, const LoaderConfig& config = {});

}  // namespace sbpf

}  // namespace bpfkit::elf
