// Reading the files named on the command line: the library's module load
// (bpfkit/load.hpp) decides what a file is and reads its program; this is
// the command line's view of it (one read per file, and the exit status of
// a file that is not a program).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/load.hpp"

namespace CLI {
class App;
}

namespace bpfkit::cli {

using InputKind = load::InputKind;
using load::describe;
using load::dialect_named;
using load::dialect_names;
using load::is_object;
using load::parse_hex_bytes;
using load::parse_hex_program;
using load::read_file;
using load::slots_of;

// A file read once: its name, every byte, and what it is.
struct InputFile {
  std::string name;
  std::vector<uint8_t> bytes;
  InputKind kind = InputKind::Raw;

  std::string_view text() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
};

// read_file, then what the file is (load::kind_of).
Expected<InputFile> open_input(const std::string& name);

// The program of a file, as load::open gives it (which this file's bytes
// and name feed).
// --btf FILE: the target BTF an eBPF object's CO-RE relocations are resolved against.
void add_btf_option(CLI::App& app, std::string& file);
// One note on stderr for each instruction CO-RE poisoned (it fails only if it runs).
void print_core_poisoned(const load::Opened& opened);

Expected<load::Opened> open_program(const InputFile& input, const load::Options& options);

// The undecoded slots of a Raw, Hex, ConformanceTest or Assembly input, and
// a `.data` test's memory (load::read_code).
using ProgramInput = load::Code;
Expected<ProgramInput> read_program(const InputFile& input, const isa::Dialect& dialect = isa::kLinuxV4);

// The sBPF loader options of the commands that load a .so (run, objdump):
// --deploy-checks, --symbol-labels, --min-version, --max-version.
struct SbpfLoadOptions {
  bool deploy_checks = false;
  bool symbol_labels = false;  // production loads without them
  uint32_t min_version = 0, max_version = 3;
};
// Registers those four options on a command.
void add_sbpf_load_options(CLI::App& app, SbpfLoadOptions& options);
// The flags of add_sbpf_load_options, for commands that refuse them on other inputs.
inline constexpr const char* kSbpfLoadFlags[] = {"--deploy-checks", "--symbol-labels", "--min-version",
                                                 "--max-version"};
// The sBPF loader's configuration on the command line: the VM's built-in
// syscalls registered.
elf::sbpf::LoaderConfig sbpf_config(const SbpfLoadOptions& options = {});
// An sBPF shared object's relocated image, for the commands that show it
// (objdump, disasm: even text the verifier would refuse); errors name the file.
Expected<elf::sbpf::Program> load_sbpf_image(const InputFile& input, const SbpfLoadOptions& options = {});

// The exit status of a read_program() error: the file is not a program
// (syntax, not whole instructions) is 2; an assembled program that needs a
// loader is 1, as every other rejection.
int read_failure_status(const Error& error);

}  // namespace bpfkit::cli
