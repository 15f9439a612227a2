// Module isa: the instruction encoding, the one opcode table, dialects, and
// the decoder from bytes to a checked Program.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/expected.hpp"

namespace bpfkit::isa {

static_assert(std::endian::native == std::endian::little, "bpfkit reads BPF's little-endian encoding with plain loads");

inline constexpr int kRegisterCount = 11;  // r0..r10
inline constexpr uint8_t kFramePointer = 10;

// ---- The opcode table ------------------------------------------------------

enum class Op : uint16_t {
#define BPF_OP(id, code, match, value, shape, gnu, conf, pseudo, since, group) id,
#include "bpfkit/isa/opcodes.def"
#undef BPF_OP
};

inline constexpr size_t kOpCount = 0
#define BPF_OP(id, code, match, value, shape, gnu, conf, pseudo, since, group) +1
#include "bpfkit/isa/opcodes.def"
#undef BPF_OP
    ;

// Which field, besides the opcode byte, selects the row.
enum class Match : uint8_t { None, Off, Imm, Src };

// Operand shapes: which fields are registers, immediates, offsets or
// targets, and how each syntax writes them. isa/shapes.def has one row per
// shape; shape_info() (isa/shapes.hpp) reads it.
enum class Shape : uint8_t {
#define SHAPE(shape, ...) shape,
#include "bpfkit/isa/shapes.def"
#undef SHAPE
};

// SbpfOnly marks rows that exist only in sBPF (the v2 PQR class, hor64 and
// the moved load/store encodings): no Linux ISA version has them.
enum class IsaVersion : uint8_t { V1 = 1, V2, V3, V4, SbpfOnly = 0xff };

enum class Group : uint8_t { Base32, Base64, DivMul32, DivMul64, Atomic32, Atomic64, Packet, Callx };

struct OpInfo {
  Op op;
  std::string_view id;
  uint8_t code;
  Match match;
  int32_t value;
  Shape shape;
  std::string_view gnu;
  std::string_view conformance;
  std::string_view pseudo_c;
  IsaVersion since;
  Group group;
};

inline constexpr std::array<OpInfo, kOpCount> kOps = {{
#define BPF_OP(id, code, match, value, shape, gnu, conf, pseudo, since, group) \
  {Op::id, #id, code, Match::match, value, Shape::shape, gnu, conf, pseudo, IsaVersion::since, Group::group},
#include "bpfkit/isa/opcodes.def"
#undef BPF_OP
}};

constexpr const OpInfo& info(Op op) { return kOps[static_cast<size_t>(op)]; }

// Whether a Linux dialect has the row (the sBPF-only rows reuse Linux bytes).
constexpr bool is_linux(const OpInfo& row) { return row.since != IsaVersion::SbpfOnly; }

inline constexpr size_t kLinuxOpCount = [] {
  size_t count = 0;
  for (const OpInfo& row : kOps) count += is_linux(row) ? 1 : 0;
  return count;
}();

// Rows are listed in enum order, and no two rows of one family share an
// encoding.
consteval bool table_is_consistent() {
  for (size_t i = 0; i < kOps.size(); ++i) {
    if (static_cast<size_t>(kOps[i].op) != i) return false;
    for (size_t j = i + 1; j < kOps.size(); ++j)
      if (is_linux(kOps[i]) == is_linux(kOps[j]) && kOps[i].code == kOps[j].code &&
          (kOps[i].match == Match::None || kOps[j].match == Match::None ||
           (kOps[i].match == kOps[j].match && kOps[i].value == kOps[j].value)))
        return false;
  }
  return true;
}
static_assert(table_is_consistent(), "duplicate encoding in opcodes.def");

// Opcode byte fields (RFC 9669 section 3).
namespace cls {
inline constexpr uint8_t kLd = 0x00, kLdx = 0x01, kSt = 0x02, kStx = 0x03, kAlu = 0x04, kJmp = 0x05, kJmp32 = 0x06,
                         kAlu64 = 0x07;
}
constexpr uint8_t op_class(uint8_t code) { return code & 0x07; }

// Atomic operation bits carried in imm.
inline constexpr int32_t kAtomicFetch = 0x01;

// Properties derived from the shape and the row, for the consumers that ask.
bool writes_dst(Op op);      // the instruction assigns its dst register
bool is_wide(Op op);         // 64-bit ALU / JMP / atomic operation
uint8_t access_size(Op op);  // bytes read or written by memory ops, else 0
bool is_lddw(Op op);

// ---- Raw instructions ------------------------------------------------------

// One 8-byte instruction slot exactly as encoded.
struct Slot {
  uint8_t code = 0;
  uint8_t regs = 0;  // dst in the low nibble, src in the high nibble
  int16_t off = 0;
  int32_t imm = 0;

  constexpr uint8_t dst() const { return regs & 0x0f; }
  constexpr uint8_t src() const { return regs >> 4; }
  constexpr void set_dst(uint8_t r) { regs = static_cast<uint8_t>((regs & 0xf0) | (r & 0x0f)); }
  constexpr void set_src(uint8_t r) { regs = static_cast<uint8_t>((regs & 0x0f) | (r << 4)); }
  friend constexpr bool operator==(const Slot&, const Slot&) = default;
};
static_assert(sizeof(Slot) == 8);

// A slot as the 64-bit little-endian word of the conformance `-- raw` style.
constexpr Slot slot_from_word(uint64_t word) { return std::bit_cast<Slot>(word); }
constexpr uint64_t word_of(const Slot& slot) { return std::bit_cast<uint64_t>(slot); }

// Builds the slot for a row: the discriminating field is filled from the
// table. Fields that the row's shape does not use stay zero.
Slot encode(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0);
// lddw: two slots.
std::array<Slot, 2> encode_lddw(uint8_t dst, uint64_t imm64, Op op = Op::lddw);

std::vector<uint8_t> to_bytes(std::span<const Slot> slots);
// 16 hex digits in memory byte order, as kernel-oracle and bpftool print an
// instruction ("b700000001000000").
std::string slot_hex(const Slot& slot);

// ---- Maps as the ABI describes them ------------------------------------------

// Linux map type ids (enum bpf_map_type), every one the kernel defines.
enum class MapType : uint32_t {
#define MAP_TYPE(name, id, text) name = id,
#include "bpfkit/isa/map_types.def"
#undef MAP_TYPE
};

// The name libbpf gives a map type ("hash", "devmap", ...), or "" for an id
// the kernel does not define.
std::string_view map_type_name(uint32_t type);
// "devmap (14)", or "type 99" for an id without a name: for messages.
std::string describe_map_type(uint32_t type);
// Whether a program may pass a map of this type to helper `helper`: the
// kernel's check_map_func_compatibility (a queue takes push, pop and peek
// only; redirect_map takes a devmap, devmap_hash, cpumap or xskmap; ...).
bool map_helper_compatible(uint32_t map_type, uint32_t helper);

struct Program;

// What a program's object says about one map (legacy `struct bpf_map_def`,
// a BTF-defined `.maps` entry, or a global-data section). Shared by the ELF
// loader, which reads it, and the VM, which creates the map.
struct MapSpec {
  std::string name;
  uint32_t type = 0;  // MapType value (kept raw: an object may name a type we lack)
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> initial;  // global data: the section's bytes (value of key 0)
  bool read_only = false;        // .rodata: programs may not write it
  uint64_t map_extra = 0;        // bloom filter: the number of hash functions (0: 5)
  // Array and hash of maps: the inner maps' shape (BTF `__array(values,
  // struct {...})`, or a legacy definition's inner map), and the slots the
  // object fills (BTF `.values`): key -> the index of the inner map among
  // the program's maps.
  std::shared_ptr<const MapSpec> inner;
  std::vector<std::pair<uint32_t, uint32_t>> initial_maps;
  // Prog array: the programs the object puts in its slots (BTF `.values =
  // { [i] = &prog }`, as libbpf's init_prog_array_slots): key -> program,
  // each loaded with the maps of the program that names the array (the
  // same list, by the same indices), so a tail call shares them.
  std::vector<std::pair<uint32_t, std::shared_ptr<const Program>>> initial_programs;
};

// A pointer in global data (`u64 *p = &x;` in C: R_BPF_64_ABS64/ABS32 in a
// data section of an eBPF object): once the maps exist, `size` bytes at
// `offset` of map `map`'s value hold the address of byte `target_offset` of
// map `target_map`. Map addresses are the engine's, so the loader records
// these and whoever creates the maps writes them (apply_data_relocations).
struct DataRelocation {
  uint32_t map = 0;
  uint64_t offset = 0;
  uint8_t size = 8;
  uint32_t target_map = 0;
  uint64_t target_offset = 0;
  friend bool operator==(const DataRelocation&, const DataRelocation&) = default;
};

// Writes every data relocation, given each map's address and value bytes
// (a relocation naming a map that is not there, or bytes past a value's
// end, is skipped: the loader checked them against the object).
void apply_data_relocations(std::span<const DataRelocation> relocations, std::span<const uint64_t> map_addresses,
                            const std::function<std::span<uint8_t>(uint32_t map)>& value_of);

// lddw pseudo sources that name maps by their index in the program's map list
// (the kernel's BPF_PSEUDO_MAP_IDX and BPF_PSEUDO_MAP_IDX_VALUE): the ELF
// loader writes these, the VM resolves them.
inline constexpr uint8_t kPseudoMapIdx = 5, kPseudoMapIdxValue = 6;
// lddw src 3: a kernel variable by BTF id (BPF_PSEUDO_BTF_ID).
inline constexpr uint8_t kPseudoBtfId = 3;

// ---- Dialects --------------------------------------------------------------

enum class Family : uint8_t { Linux, Sbpf };

// How an sBPF version differs from v0 (anza-xyz/sbpf `SBPFVersion`, Firedancer
// `FD_VM_SBPF_*`). Each flag names one SIMD feature.
struct SbpfFeatures {
  bool stack_frame_gaps = false;         // v0: frames 4 KiB apart with 4 KiB unmapped gaps
  bool manual_stack_frame_bump = false;  // v1, v2 (SIMD-0166): calls leave r10 alone; `add r10, imm` allowed
  bool enable_pqr = false;               // v2 (SIMD-0174): PQR class; mul/div/mod encodings gone
  bool explicit_sign_extension = false;  // v2: 32-bit add/sub/mul zero-extend; mov32 reg sign-extends
  bool swap_sub_reg_imm = false;         // v2: `sub dst, imm` computes imm - dst
  bool disable_neg = false;              // v2
  bool callx_uses_src = false;           // v2 (SIMD-0173): callx target register in src
  bool disable_lddw = false;             // v2: lddw gone, hor64 instead
  bool disable_le = false;               // v2
  bool move_memory_classes = false;      // v2: loads and stores re-encoded in the ALU classes
  bool static_syscalls = false;          // v3 (SIMD-0178): call src 0 = syscall by hash, src 1 = pc-relative
  bool strict_elf_headers = false;       // v3 (SIMD-0189): strict ELF parser, no relocations
  bool lower_rodata_vaddr = false;       // v3: rodata at address 0, bytecode at 1 << 32
  bool enable_jmp32 = false;             // v3 (SIMD-0377)
  bool callx_uses_dst = false;           // v3: callx target register in dst
};

// What differs between the BPF flavours bpfkit runs. Code asks the dialect;
// it never tests a version number inline.
struct Dialect {
  std::string_view name;
  IsaVersion isa;
  uint32_t max_call_depth;    // frames, including the entry frame
  uint32_t stack_frame_size;  // bytes of stack per frame
  Family family = Family::Linux;
  uint8_t sbpf_version = 0;  // sBPF only: 0..3
  SbpfFeatures sbpf = {};
};

inline constexpr Dialect kLinuxV4{"linux", IsaVersion::V4, 8, 512};

inline constexpr Dialect kSbpfV0{
    "sbpf-v0", IsaVersion::V1, 64, 4096, Family::Sbpf, 0, SbpfFeatures{.stack_frame_gaps = true}};
inline constexpr Dialect kSbpfV1{
    "sbpf-v1", IsaVersion::V1, 64, 4096, Family::Sbpf, 1, SbpfFeatures{.manual_stack_frame_bump = true}};
inline constexpr Dialect kSbpfV2{"sbpf-v2",
                                 IsaVersion::V1,
                                 64,
                                 4096,
                                 Family::Sbpf,
                                 2,
                                 SbpfFeatures{.manual_stack_frame_bump = true,
                                              .enable_pqr = true,
                                              .explicit_sign_extension = true,
                                              .swap_sub_reg_imm = true,
                                              .disable_neg = true,
                                              .callx_uses_src = true,
                                              .disable_lddw = true,
                                              .disable_le = true,
                                              .move_memory_classes = true}};
inline constexpr Dialect kSbpfV3{"sbpf-v3",
                                 IsaVersion::V1,
                                 64,
                                 4096,
                                 Family::Sbpf,
                                 3,
                                 SbpfFeatures{.static_syscalls = true,
                                              .strict_elf_headers = true,
                                              .lower_rodata_vaddr = true,
                                              .enable_jmp32 = true,
                                              .callx_uses_dst = true}};

// The sBPF dialect for a version number (e_flags), or null if none.
const Dialect* sbpf_dialect(uint32_t version);

// Murmur3-32 with seed 0: sBPF's key for syscall names and call targets.
uint32_t murmur3_32(std::span<const uint8_t> bytes);
inline uint32_t murmur3_32(std::string_view text) {
  return murmur3_32(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}
// The key of an internal call target in v0..v2: murmur3 of the pc as 8
// little-endian bytes ("entrypoint" is keyed by its name instead).
uint32_t sbpf_pc_key(uint64_t pc);

// ---- Decoded programs ------------------------------------------------------

// One function of a program: slots [start, start + size). Loaders keep these
// through linking, so listings, the verifier and the IR see the program's own
// subprograms.
struct Function {
  std::string name;
  uint32_t start = 0;
  uint32_t size = 0;
  friend bool operator==(const Function&, const Function&) = default;
};

// One change to a program's slots, as the kernel's bpf_patch_insn_data and
// bpf_remove_insns make them: slots [pc, pc + removed) became `inserted`
// slots. apply_edit() keeps a caller's per-slot side table aligned with it.
struct Edit {
  uint32_t pc = 0;
  uint32_t removed = 0;
  uint32_t inserted = 0;
  int64_t delta() const { return int64_t{inserted} - int64_t{removed}; }
};

// Entries of removed slots go; each inserted slot gets `fill`.
template <class T>
void apply_edit(const Edit& edit, std::vector<T>& side, const T& fill = T{}) {
  const auto at = side.begin() + edit.pc;
  side.erase(at, at + edit.removed);
  side.insert(side.begin() + edit.pc, edit.inserted, fill);
}

// The one program type: every loader (decode, the assembler's callers, the
// eBPF object linker, the sBPF loader) produces it, and every engine,
// verifier, lifter and printer takes it.
//
// A program that passed decode() is well formed: every slot has its row (the
// second slot of an lddw has none), registers are in range, and every jump
// and local call lands on the start of an instruction. The editing functions
// keep it so, or change nothing and return the error.
struct Program {
  const Dialect* dialect = &kLinuxV4;
  std::vector<Slot> slots;
  std::vector<std::optional<Op>> ops;  // one per slot; nullopt for lddw's 2nd slot

  // Each slot's index in the program as loaded (the kernel's orig_idx), kept
  // through edits: a slot an edit inserted has its replaced slot's origin.
  std::vector<uint32_t> origin;
  // Functions sorted by start; the loaders that know them fill this (a raw
  // program has none: it is one function).
  std::vector<Function> functions;
  uint32_t entry = 0;  // the slot where a run starts

  // Maps and global-data images, by the index lddw src 5 and 6 carry, and
  // the pointers in global data to write once the maps exist.
  std::vector<MapSpec> maps;
  std::vector<DataRelocation> data_relocations;
  // An eBPF object's kfunc calls (`extern ... __ksym` functions) before a
  // loader resolves them to the kernel's BTF ids: a call_kfunc's imm is the
  // index of the extern's name here, as the object's loader placed it.
  std::vector<std::string> kfuncs;
  // Its kernel variables (`extern ... __ksym` data) likewise: an
  // lddw_btf_id's imm is the index of the extern's name here (libbpf puts
  // the variable's address or BTF id there).
  std::vector<std::string> ksyms;
  // Slots whose fields a later loader patches: an eBPF object's CO-RE
  // relocations, kept unresolved (elf::LoadOptions::keep_core) so that code
  // made from the program can carry them again. `relocation` is the
  // loader's own number for it (elf::ObjectInfo::core_relocations' index).
  // Such a program holds the object's own offsets and constants: it is for
  // code generation (`bpfkit opt`), not to run.
  struct CoreSlot {
    uint32_t slot = 0;
    uint32_t relocation = 0;
    friend bool operator==(const CoreSlot&, const CoreSlot&) = default;
  };
  std::vector<CoreSlot> core_slots;  // by slot

  // sBPF: the read-only image (rodata, and in v0..v2 the text within it),
  // where it and the text are mapped, `call imm` keys of functions (the
  // loader's calldests) and of syscalls (by name, as resolved).
  std::vector<uint8_t> rodata;
  uint64_t rodata_vaddr = 0;
  uint64_t text_vaddr = 0;
  std::unordered_map<uint32_t, uint32_t> function_keys;    // key -> slot
  std::unordered_map<uint32_t, std::string> syscall_keys;  // key -> name

  size_t size() const { return slots.size(); }
  uint64_t imm64(size_t pc) const {  // lddw at pc
    return static_cast<uint32_t>(slots[pc].imm) |
           (static_cast<uint64_t>(static_cast<uint32_t>(slots[pc + 1].imm)) << 32);
  }
  // Slots the instruction at pc takes (2 for lddw).
  uint32_t width_at(size_t pc) const { return pc + 1 < ops.size() && !ops[pc + 1] ? 2 : 1; }
  // The function holding pc, or null if functions are not known.
  const Function* function_at(size_t pc) const;
  // Why the lddw with a pseudo source at pc cannot run before a loader
  // resolves it (a map by fd, a kernel variable by name or BTF id).
  std::string unresolved_lddw(size_t pc) const;

  // ---- Editing (verifier rewrites, offload hooks, the IR) -----------------
  //
  // Each edit re-reads the new slots with the dialect's table, moves every
  // branch, local call, function pointer (lddw src 4), function boundary,
  // function key and the entry as the kernel's bpf_adj_branches and
  // adjust_subprog_starts do, and fails without changing anything when an
  // offset would no longer fit its field or a branch would land inside
  // removed code. A branch to `pc` lands on the first new slot. The patch's
  // own branches are taken as written (relative to their final places).

  // Replaces the instruction at pc (both slots of an lddw) by `patch`.
  Expected<Edit> replace(size_t pc, std::span<const Slot> patch);
  // Inserts `patch` before the instruction at pc (pc = size() appends).
  Expected<Edit> insert(size_t pc, std::span<const Slot> patch);
  // Removes `count` slots from pc (whole instructions).
  Expected<Edit> remove(size_t pc, size_t count);
  // The general form: slots [pc, pc + removed) become `patch`.
  Expected<Edit> splice(size_t pc, size_t removed, std::span<const Slot> patch);
};

// Looks up the Linux row for one slot; nullopt if no row matches.
std::optional<Op> lookup(const Slot& slot);
// Looks up the row an sBPF version gives one slot. sBPF tells instructions
// apart by the opcode byte alone (plus imm for le/be and, in v3, src for
// call), so this is a different question from lookup().
std::optional<Op> lookup(const Slot& slot, const Dialect& dialect);

// For Linux dialects, the checks of the kernel's decoder; for sBPF, those of
// the production verifier (anza-xyz/sbpf `RequisiteVerifier`), whose error
// names each sBPF error carries in Error::name (e.g. "UnknownOpCode").
Expected<Program> decode(std::span<const uint8_t> bytes, const Dialect& dialect = kLinuxV4);
Expected<Program> decode(std::span<const Slot> slots, const Dialect& dialect = kLinuxV4);

// Target slot of a jump or local call at pc (pc + 1 + off or imm); -1 for
// an instruction without one. successors() in isa/semantics.hpp gives all.
int64_t branch_target(const Program& program, size_t pc);

// ---- What a static verifier proved about memory accesses ---------------------
//
// Per slot of a Linux program, what every path that reaches the load, store
// or atomic there proved about its address [base + off, + size): the kind of
// memory the base register points to, and that the access lies inside it.
// The verifier (module verify) writes it; a translator (module jit) may then
// leave out the checks its runtime memory makes redundant. Unproven: not an
// access, never reached, or reached through different kinds of memory.
enum class ProvenAccess : uint8_t {
  Unproven,
  Stack,     // inside the kProvenStackBytes below the frame pointer of the frame the pointer came from
  MapValue,  // inside one value (value_size bytes) of a map, at an address its lookup or lddw gave; a
             // write only into a map programs may write (not read-only, devmap, xskmap)
  Packet,    // inside [data, data_end) of the packet, as the last data_end comparison showed
  Context,   // a field of the program type's context that the type lets programs access
  Memory,    // inside the raw type's buffer (verify::Options::mem_size bytes)
};
// The stack the Linux verifier gives each frame (MAX_BPF_STACK).
inline constexpr int64_t kProvenStackBytes = 512;

}  // namespace bpfkit::isa

#include "bpfkit/isa/helpers.hpp"        // the Linux helpers: ids, names, the prototypes bpfkit implements
#include "bpfkit/isa/program_types.hpp"  // program types, sections, context layouts and access rules
#include "bpfkit/isa/semantics.hpp"      // what each row does in each dialect; frames and memory layout
#include "bpfkit/isa/shapes.hpp"         // what each shape means: operands, registers read and written, targets
