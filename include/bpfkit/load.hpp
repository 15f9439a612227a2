// Module load: from a file to an isa::Program, whatever the file is: raw
// 8-byte slots (.bin), hex text, a bpf_conformance test (.data), assembly
// (GNU normal, pseudo-C, the conformance dialect), a clang-compiled eBPF
// object, or an sBPF shared object. The command line and the C API open
// every input through here.
//
// Every error is an Error whose Location::input names the file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::load {

enum class InputKind : uint8_t {
  Raw,              // .bin, or any file with a NUL byte: 8-byte slots
  Hex,              // .hex, or text of hex digits
  ConformanceTest,  // .data: bpf_conformance's test format
  Assembly,         // .s, .asm, .S, or any other text
  EbpfObject,       // ELF: a clang-compiled relocatable object
  SbpfObject,       // ELF: an sBPF shared object (ET_DYN, or e_machine EM_SBPF)
};

// "a raw program", "an sBPF shared object", ... for messages.
const char* describe(InputKind kind);
inline bool is_object(InputKind kind) { return kind == InputKind::EbpfObject || kind == InputKind::SbpfObject; }

// An sBPF program rather than a clang relocatable object: an ELF shared
// object (e_type ET_DYN), or e_machine EM_SBPF. The loaders check the rest.
bool is_sbpf_elf(std::span<const uint8_t> file);

// What a file is: ELF by its magic (then is_sbpf_elf); raw bytes by the
// extension `.bin` or a NUL byte; `.data`, `.hex`, `.s`/`.asm`/`.S` by
// extension; other text is hex if every line is hex digits, else assembly.
InputKind kind_of(std::span<const uint8_t> bytes, std::string_view name);

// Every byte of the file at `path`, read once, so that pipes, /dev/stdin and
// FIFOs work. A directory or a failed read is an Io error naming the file.
Expected<std::vector<uint8_t>> read_file(const std::string& path);

// --dialect's values: "linux", "sbpf-v0" .. "sbpf-v3"; null for any other.
std::vector<std::string> dialect_names();
const isa::Dialect* dialect_named(std::string_view name);

// ---- Raw code, before it is decoded -----------------------------------------------

// The slots of a Raw, Hex, ConformanceTest or Assembly input, undecoded (a
// listing shows even code the decoder refuses), and the memory a `.data`
// test brings. Input that is not whole 8-byte instructions is Truncated; an
// ELF input is Unsupported (it has no raw code).
struct Code {
  std::vector<isa::Slot> slots;
  std::optional<std::vector<uint8_t>> memory;
};
Expected<Code> read_code(std::span<const uint8_t> bytes, std::string_view name, InputKind kind,
                         const isa::Dialect& dialect = isa::kLinuxV4);

// GNU normal and pseudo-C assembly (mixed) in `dialect`, else (Linux only)
// the bpf_conformance dialect: the code of .text (or of the first
// executable section with code). A symbol left for a loader is Unsupported.
Expected<std::vector<isa::Slot>> assemble(std::string_view source, std::string_view name,
                                          const isa::Dialect& dialect = isa::kLinuxV4);

// Hex text: `#`, `;` and `//` start comments; tokens are separated by
// whitespace or commas. `0x` + up to 16 digits is one 64-bit instruction
// word (the conformance `-- raw` style); other tokens are byte pairs.
Expected<std::vector<uint8_t>> parse_hex_program(std::string_view text, std::string_view name);
// Memory bytes as hex: "01 02 ff" or "0102ff".
Expected<std::vector<uint8_t>> parse_hex_bytes(std::string_view text, std::string_view name);
// Whole 8-byte slots of `bytes`; otherwise Truncated, naming the input.
Expected<std::vector<isa::Slot>> slots_of(std::span<const uint8_t> bytes, std::string_view name);

// ---- Programs ------------------------------------------------------------------------

struct Options {
  // Raw inputs: whose encodings (an ELF file says its own).
  const isa::Dialect* dialect = &isa::kLinuxV4;
  // eBPF objects: which program; both empty: the object's default.
  std::string section, function;
  // sBPF shared objects: the loader's configuration. Its `syscalls` also
  // name the syscalls of raw sBPF text.
  elf::sbpf::LoaderConfig sbpf;
  // eBPF objects with CO-RE relocations: the target BTF file (raw BTF or an
  // ELF object's .BTF); empty: elf::kVmlinuxBtfPath when it exists. Read
  // only for an object that has CO-RE relocations.
  std::string btf;
  // Whether the running kernel's BTF is the default (off: no target unless
  // `btf` names one; the fuzz targets keep runs independent of the machine).
  bool kernel_btf = true;
};

struct Opened {
  InputKind kind = InputKind::Raw;
  isa::Program program;
  std::optional<std::vector<uint8_t>> memory;  // a conformance test's memory
  std::vector<std::string> core_poisoned;      // elf::LoadOptions::poisoned: instructions CO-RE poisoned
};

// Raw code as a program of `dialect`, decoded (isa::decode). sBPF text is
// laid out as the sBPF fixture harnesses lay it: text at 1 << 32 (v0..v2
// also readable there as rodata; v3: rodata empty at 0), entry pc 0; in
// v0..v2 a `call imm` reaches pc p when imm is p's key (isa::sbpf_pc_key),
// the entrypoint's key reaches pc 0, and any other call that is no syscall
// of `sbpf.syscalls` and lands in the text is pc-relative, as the ELF loader
// reads it (what `bpfkit asm --dialect sbpf-v0` writes), and becomes the
// target's key.
Expected<isa::Program> raw_program(std::vector<isa::Slot> slots, std::string_view name, const isa::Dialect& dialect,
                                   const elf::sbpf::LoaderConfig& sbpf = {});

// The program in a file's bytes, whatever the file is (kind_of): raw code
// through read_code() and raw_program(); an eBPF object's chosen program
// through EbpfObject::load_program; an sBPF shared object through
// elf::sbpf::load_program. A section or function for anything but an eBPF
// object is BadOperand.
Expected<Opened> open(std::span<const uint8_t> bytes, std::string_view name, const Options& options = {});
// read_file(path), then open().
Expected<Opened> open_file(const std::string& path, const Options& options = {});

}  // namespace bpfkit::load
