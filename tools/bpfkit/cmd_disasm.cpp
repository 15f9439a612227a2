// `bpfkit disasm FILE`: list a program in pseudo-C (as llvm-objdump prints
// it) or GNU normal syntax.
#include <cstddef>
#include <iostream>
#include <map>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/elf_format.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::disasm_command {
namespace {

struct Options {
  std::string file;
  std::string syntax = "llvm";
  std::string section, symbol;
  std::string dialect;  // "", "linux", "sbpf-v0" .. "sbpf-v3"
  bool raw = false, no_addresses = false, no_labels = false;
  bool helper_names = false;  // Linux: ` <bpf_name>` after each helper call
};

Options options;

// What disasm lists: the slots, and whose encodings they are.
struct Listing {
  std::vector<isa::Slot> slots;
  const isa::Dialect* dialect = nullptr;  // null: Linux
  std::map<uint32_t, std::string> call_names;
};

// An sBPF shared object lists its relocated text in its version's encoding,
// calls named by key.
Expected<Listing> sbpf_listing(const InputFile& input) {
  auto program = load_sbpf_image(input);
  if (!program) return program.error();
  Listing listing{std::move(program->text), isa::sbpf_dialect(program->info.sbpf_version), {}};
  for (const auto& [key, function] : program->functions)
    if (!function.name.empty())
      listing.call_names[key] = function.name;
    else if (auto symbol = program->symbol_names.find(function.pc); symbol != program->symbol_names.end())
      listing.call_names[key] = symbol->second;
    else
      listing.call_names[key] = "pc " + std::to_string(function.pc);
  for (const auto& [key, name] : program->syscalls_used) listing.call_names[key] = name;
  for (const std::string& name : sbpf_config().syscalls) listing.call_names.emplace(isa::murmur3_32(name), name);
  return listing;
}

// One section of an ELF object (an sBPF .so: its text), or anything `run` reads.
Expected<Listing> listing_of(const InputFile& input) {
  if (is_object(input.kind)) {
    if (options.section.empty() && input.kind == InputKind::SbpfObject) return sbpf_listing(input);
    auto reader = elf::Reader::parse(input.bytes, input.name);
    if (!reader) return reader.error();
    if (reader->machine() != elf::kEmBpf && reader->machine() != elf::kEmSbpf)
      return reader->fail_at(Errc::BadHeader, offsetof(elf::Ehdr, e_machine),
                             "e_machine is " + std::to_string(reader->machine()) + ", want 247 (EM_BPF)");
    auto section = reader->code_section(options.section);
    if (!section) return section.error();
    auto slots = reader->slots(**section);
    if (!slots) return slots.error();
    return Listing{std::move(*slots), nullptr, {}};
  }
  if (!options.section.empty()) {
    Location where;
    where.input = input.name;
    return make_error(Errc::BadOperand, "--section needs an ELF object", where);
  }
  auto program = read_program(input, options.dialect.empty() ? isa::kLinuxV4 : *dialect_named(options.dialect));
  if (!program) return program.error();
  return Listing{std::move(program->slots), nullptr, {}};
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "program: .bin, .hex, .data, assembly, an ELF object or an sBPF .so")
      ->required();
  app.add_option("--syntax", options.syntax, "llvm|pseudoc (llvm-objdump-19) or gnu|normal (GNU objdump)")
      ->check(CLI::IsMember({"llvm", "pseudoc", "gnu", "normal"}));
  app.add_option("--section", options.section, "ELF section (default: .text, else the first executable one)");
  app.add_option("--symbol", options.symbol, "name the code as llvm-objdump does: <NAME>:, goto +0x1 <NAME+0x10>");
  app.add_flag("--raw", options.raw, "show each instruction's encoded bytes");
  app.add_option("--dialect", options.dialect,
                 "whose encodings: linux (default), sbpf-v0 .. sbpf-v3 (an sBPF .so: its own)")
      ->check(CLI::IsMember(dialect_names()));
  app.add_flag("--no-addresses", options.no_addresses, "leave out the instruction addresses");
  app.add_flag("--no-labels", options.no_labels, "no <L0>: lines at jump targets");
  app.add_flag("--helper-names", options.helper_names,
               "Linux: name each helper call as the kernel does (call 0x1 <bpf_map_lookup_elem>)");
}

int run() {
  Printer printer = standard_printer(false);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  auto listing = listing_of(*input);
  if (!listing) return printer.fail(listing.error(), is_object(input->kind) ? 0 : read_failure_status(listing.error()));
  assembly::DisassemblyOptions format;
  const bool gnu = options.syntax == "gnu" || options.syntax == "normal";
  format.syntax = gnu ? assembly::Syntax::Normal : assembly::Syntax::PseudoC;
  format.raw = options.raw;
  format.addresses = !options.no_addresses;
  format.labels = !options.no_labels;
  format.symbol = options.symbol;
  format.dialect = options.dialect.empty() ? listing->dialect : dialect_named(options.dialect);
  format.call_names = std::move(listing->call_names);
  if (options.helper_names && (format.dialect == nullptr || format.dialect->family == isa::Family::Linux))
    for (const isa::HelperInfo& helper : isa::helper_infos()) format.call_names.emplace(helper.id, helper.name);
  std::cout << assembly::disassemble(listing->slots, format);
  return kExitOk;
}

}  // namespace bpfkit::cli::disasm_command
