// bpfkit: the command-line program. Subcommands in the style of git/bpftool.
//
// Exit status: 0 success, 1 the program was rejected or faulted, 2 bad usage
// or unreadable input. Results go to stdout, human messages to stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/elf_format.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"
#include "cli_common.hpp"
#include "object_commands.hpp"
#include "program_input.hpp"
#include "sbpf_commands.hpp"

namespace bpfkit::cli {
namespace {

struct RunOptions {
  std::string file;
  std::string mem_file, mem_hex;
  uint64_t mem_size = 0;
  bool has_mem_size = false;
  std::string engine = "interp";
  uint64_t budget = vm::kDefaultBudget;
  bool json = false, stats = false, regs = false;
  std::string section, function;  // ELF objects: which program
  bool dump_maps = false;
  std::string input_file;  // sBPF: the input region
  uint64_t compute_units = vm::sbpf::kDefaultComputeBudget;
  bool has_budget = false;
  bool deploy_checks = false;
};

// A region is addressed by 32-bit offsets (vm.hpp), so a buffer is at most 4 GiB - 1.
constexpr uint64_t kMaxMemory = UINT32_MAX;

Error too_large(const std::string& what, uint64_t size) {
  return make_error(Errc::BadOperand, what + " is " + std::to_string(size) + " bytes; the memory buffer is at most " +
                                          std::to_string(kMaxMemory) + " bytes");
}

Expected<std::optional<std::vector<uint8_t>>> memory_from(const RunOptions& options) {
  if (!options.mem_file.empty()) {
    auto content = read_file(options.mem_file);
    if (!content) return content.error();
    if (content->size() > kMaxMemory) return too_large(options.mem_file, content->size());
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(content->begin(), content->end()));
  }
  if (!options.mem_hex.empty()) {
    auto bytes = parse_hex_bytes(options.mem_hex, "--mem-hex");
    if (!bytes) return bytes.error();
    return std::optional<std::vector<uint8_t>>(std::move(*bytes));
  }
  if (options.has_mem_size) {
    if (options.mem_size > kMaxMemory) return too_large("--mem-size", options.mem_size);
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(options.mem_size));
  }
  return std::optional<std::vector<uint8_t>>();
}

// Decodes, prepares and runs one program with r1 = memory, r2 = its length.
Expected<vm::Result> execute(const std::vector<isa::Slot>& slots, std::optional<std::vector<uint8_t>>& memory,
                             uint64_t budget) {
  auto program = isa::decode(slots);
  if (!program) return program.error();
  auto interpreter = vm::Interpreter::create(*program);
  if (!interpreter) return interpreter.error();
  vm::Environment env;
  env.budget = budget;
  std::array<uint64_t, 5> args{};
  if (memory) {
    args[0] = env.map_input(*memory);
    args[1] = memory->size();
  }
  return interpreter->run(env, args);
}

// An sBPF shared object runs in the sBPF VM: --input (or --mem, --mem-hex,
// --mem-size) fills the input region, --cu (or --budget) sets the meter.
int run_sbpf(std::span<const uint8_t> bytes, const RunOptions& options, std::optional<std::vector<uint8_t>> memory) {
  SbpfRunOptions sbpf;
  sbpf.file = options.file;
  if (!options.input_file.empty()) {
    auto input = read_file(options.input_file);
    if (!input) return report(input.error(), options.json);
    if (input->size() > kMaxMemory) return report(too_large(options.input_file, input->size()), options.json);
    sbpf.input.assign(input->begin(), input->end());
  } else if (memory) {
    sbpf.input = std::move(*memory);
  }
  sbpf.compute_budget = options.has_budget ? options.budget : options.compute_units;
  sbpf.deploy_checks = options.deploy_checks;
  sbpf.json = options.json;
  sbpf.regs = options.regs;
  return run_sbpf_command(bytes, sbpf);
}

// An ELF object runs through the object loader (programs, maps, helpers), an
// sBPF shared object through the sBPF loader and VM.
std::optional<int> run_if_object(const RunOptions& options) {
  auto content = read_file(options.file);
  if (!content) return std::nullopt;
  const std::span<const uint8_t> file(reinterpret_cast<const uint8_t*>(content->data()), content->size());
  if (!elf::has_elf_magic(file)) return std::nullopt;
  auto memory = memory_from(options);
  if (!memory) return report(memory.error(), options.json);
  if (is_sbpf_elf(file)) return run_sbpf(file, options, std::move(*memory));
  ObjectRunOptions object_options;
  object_options.file = options.file;
  object_options.section = options.section;
  object_options.function = options.function;
  object_options.memory = std::move(*memory);
  object_options.budget = options.budget;
  object_options.json = options.json;
  object_options.stats = options.stats;
  object_options.dump_maps = options.dump_maps;
  return run_object_command(file, object_options);
}

int run_command(const RunOptions& options) {
  if (auto status = run_if_object(options)) return *status;
  auto input = read_program(options.file);
  if (!input) return report(input.error(), options.json);
  auto memory = memory_from(options);
  if (!memory) return report(memory.error(), options.json);
  if (!*memory) *memory = std::move(input->memory);
  auto result = execute(input->slots, *memory, options.budget);
  if (!result) return report(result.error(), options.json);
  if (options.json) {
    nlohmann::ordered_json out{{"r0", hex(result->r0)}, {"instructions", result->instructions}};
    if (options.regs) {
      nlohmann::ordered_json regs = nlohmann::ordered_json::array();
      for (uint64_t r : result->registers) regs.push_back(hex(r));
      out["registers"] = regs;
    }
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cout << hex(result->r0) << "\n";
  if (options.stats) std::cout << "instructions: " << result->instructions << "\n";
  if (options.regs)
    for (size_t i = 0; i < result->registers.size(); ++i)
      std::cout << "r" << i << ": " << hex(result->registers[i]) << "\n";
  return kExitOk;
}

// The bpf_conformance plugin protocol: program bytes as hex on stdin, r0 in
// hex on stdout. On failure the message goes to stdout, where the runner
// compares it with a test's `-- error`.
int plugin_command(const std::string& mem_hex, bool elf) {
  if (elf) {
    std::cout << "bpfkit plugin: --elf input is not supported yet\n";
    return kExitRejected;
  }
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto bytes = parse_hex_program(text, "<stdin>");
  if (!bytes) {
    std::cout << to_string(bytes.error()) << "\n";
    return kExitBadInput;
  }
  if (bytes->size() % sizeof(isa::Slot) != 0) {
    std::cout << "program size " << bytes->size() << " is not a multiple of 8 bytes\n";
    return kExitBadInput;
  }
  std::vector<isa::Slot> slots(bytes->size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes->data(), bytes->size());
  std::optional<std::vector<uint8_t>> memory;
  if (!mem_hex.empty()) {
    auto parsed = parse_hex_bytes(mem_hex, "MEMORY_HEX");
    if (!parsed) {
      std::cout << to_string(parsed.error()) << "\n";
      return kExitBadInput;
    }
    memory = std::move(*parsed);
  }
  auto result = execute(slots, memory, vm::kDefaultBudget);
  if (!result) {
    std::cout << to_string(result.error()) << "\n";
    return kExitRejected;
  }
  std::cout << hex(result->r0) << "\n";
  return kExitOk;
}

struct DisasmOptions {
  std::string file;
  std::string syntax = "llvm";
  std::string section, symbol;
  std::string dialect;  // "", "linux", "sbpf-v0" .. "sbpf-v3"
  bool raw = false, no_addresses = false, no_labels = false;
};

// What disasm lists: the slots, and whose encodings they are.
struct DisasmInput {
  std::vector<isa::Slot> slots;
  const isa::Dialect* dialect = nullptr;  // null: Linux
  std::map<uint32_t, std::string> call_names;
};

const isa::Dialect* dialect_named(const std::string& name) {
  if (name == "linux") return &isa::kLinuxV4;
  for (uint32_t v = 0; v <= 3; ++v)
    if (name == "sbpf-v" + std::to_string(v)) return isa::sbpf_dialect(v);
  return nullptr;
}

// FILE is an ELF object (one section of it), or anything `run` reads.
// An sBPF shared object lists its relocated text in its version's encoding.
Expected<DisasmInput> sbpf_disasm_input(std::span<const uint8_t> bytes, const DisasmOptions& options) {
  auto program = load_sbpf(bytes, options.file);
  if (!program) return program.error();
  DisasmInput input{std::move(program->text), isa::sbpf_dialect(program->info.sbpf_version), {}};
  for (const auto& [key, function] : program->functions)
    input.call_names[key] = function.name.empty() ? "pc " + std::to_string(function.pc) : function.name;
  for (const auto& [key, name] : program->syscalls_used) input.call_names[key] = name;
  for (const std::string& name : vm::sbpf::SyscallRegistry::defaults().names())
    input.call_names.emplace(isa::murmur3_32(name), name);
  return input;
}

Expected<DisasmInput> disasm_input(const DisasmOptions& options) {
  auto content = read_file(options.file);
  if (!content) return content.error();
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(content->data()), content->size());
  if (elf::has_elf_magic(bytes)) {
    if (options.section.empty() && is_sbpf_elf(bytes)) return sbpf_disasm_input(bytes, options);
    auto reader = elf::Reader::parse(bytes, options.file);
    if (!reader) return reader.error();
    if (reader->machine() != elf::kEmBpf && reader->machine() != elf::kEmSbpf)
      return reader->fail_at(Errc::BadHeader, offsetof(elf::Ehdr, e_machine),
                             "e_machine is " + std::to_string(reader->machine()) + ", want 247 (EM_BPF)");
    auto section = reader->code_section(options.section);
    if (!section) return section.error();
    auto slots = reader->slots(**section);
    if (!slots) return slots.error();
    return DisasmInput{std::move(*slots), nullptr, {}};
  }
  if (!options.section.empty()) {
    Location where;
    where.input = options.file;
    return make_error(Errc::BadOperand, "--section needs an ELF object", where);
  }
  auto input = read_program(options.file);
  if (!input) return input.error();
  return DisasmInput{std::move(input->slots), nullptr, {}};
}

int disasm_command(const DisasmOptions& options) {
  auto input = disasm_input(options);
  if (!input) return report(input.error(), false);
  assembly::DisassemblyOptions listing;
  const bool gnu = options.syntax == "gnu" || options.syntax == "normal";
  listing.syntax = gnu ? assembly::Syntax::Normal : assembly::Syntax::PseudoC;
  listing.raw = options.raw;
  listing.addresses = !options.no_addresses;
  listing.labels = !options.no_labels;
  listing.symbol = options.symbol;
  listing.dialect = options.dialect.empty() ? input->dialect : dialect_named(options.dialect);
  listing.call_names = std::move(input->call_names);
  std::cout << assembly::disassemble(input->slots, listing);
  return kExitOk;
}

struct AsmOptions {
  std::string file, output, syntax = "auto";
  bool json = false;
};

assembly::Syntax syntax_named(const std::string& name) {
  if (name == "normal" || name == "gnu") return assembly::Syntax::Normal;
  if (name == "pseudoc" || name == "llvm") return assembly::Syntax::PseudoC;
  if (name == "conformance") return assembly::Syntax::Conformance;
  return assembly::Syntax::Auto;
}

// Every error with its source line and a caret, or all of them as JSON.
int report_assembly_errors(const assembly::Assembly& assembly, std::string_view source, bool json) {
  const std::vector<Error>& errors = assembly.errors;
  const size_t total = errors.size() + assembly.more_errors;
  if (json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const Error& error : errors)
      list.push_back({{"code", errc_name(error.code)},
                      {"message", error.message},
                      {"input", error.location.input},
                      {"line", error.location.line},
                      {"column", error.location.column}});
    nlohmann::ordered_json out{{"error", list.front()}, {"errors", list}};
    if (assembly.more_errors > 0) out["more_errors"] = assembly.more_errors;
    std::cout << out.dump() << "\n";
  } else {
    std::cerr << assembly::format_diagnostics(assembly, source);
    std::cerr << total << (total == 1 ? " error\n" : " errors\n");
  }
  return kExitBadInput;
}

// OUT.o: an ELF relocatable object; OUT.bin: the bytes of .text; OUT.hex:
// one 8-byte slot of .text per line.
Expected<std::string> encode_output(const assembly::Object& object, const std::string& output) {
  const std::string ext = std::filesystem::path(output).extension().string();
  if (ext == ".o") {
    auto elf = assembly::write_elf(object);
    if (!elf) return elf.error();
    return std::string(elf->begin(), elf->end());
  }
  const assembly::Section* text = object.find_section(".text");
  const std::vector<uint8_t> empty;
  const std::vector<uint8_t>& bytes = text ? text->bytes : empty;
  if (ext == ".bin") return std::string(bytes.begin(), bytes.end());
  if (ext == ".hex") {
    std::string out;
    char buf[4];
    for (size_t at = 0; at < bytes.size(); ++at) {
      std::snprintf(buf, sizeof buf, "%02x", bytes[at]);
      out += buf;
      if (at % 8 == 7 || at + 1 == bytes.size()) out += '\n';
    }
    return out;
  }
  return make_error(Errc::BadOperand, "output '" + output + "' needs the extension .o, .bin or .hex");
}

int asm_command(const AsmOptions& options) {
  auto source = read_file(options.file);
  if (!source) return report(source.error(), options.json);
  assembly::AssembleOptions assemble_options;
  assemble_options.syntax = syntax_named(options.syntax);
  assemble_options.input_name = options.file;
  const assembly::Assembly result = assembly::assemble(*source, assemble_options);
  if (!result.ok()) return report_assembly_errors(result, *source, options.json);
  auto bytes = encode_output(result.object, options.output);
  if (!bytes) return report(bytes.error(), options.json);
  std::ofstream out(options.output, std::ios::binary);
  out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
  if (!out) return report(make_error(Errc::Io, "cannot write " + options.output), options.json);
  if (options.json)
    std::cout << nlohmann::ordered_json{{"output", options.output}, {"bytes", bytes->size()}}.dump() << "\n";
  return kExitOk;
}

}  // namespace
}  // namespace bpfkit::cli

int main(int argc, char** argv) {
  using namespace bpfkit::cli;
  CLI::App app{"bpfkit: assemble, check, transform and run BPF programs"};
  app.require_subcommand(1);

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a program and print r0");
  run_cmd
      ->add_option("FILE", run.file,
                   "program: .bin (raw), .hex, .data (conformance test), assembly, an ELF object (.o) or an "
                   "sBPF shared object (.so)")
      ->required();
  auto* mem = run_cmd->add_option("--mem", run.mem_file, "file whose bytes are the memory buffer (r1, r2 = length)");
  auto* mem_hex = run_cmd->add_option("--mem-hex", run.mem_hex, "memory buffer as hex bytes");
  auto* mem_size = run_cmd->add_option("--mem-size", run.mem_size, "memory buffer of N zero bytes");
  mem->excludes(mem_hex)->excludes(mem_size);
  mem_hex->excludes(mem_size);
  run_cmd->add_option("--engine", run.engine, "execution engine")->check(CLI::IsMember({"interp"}));
  run_cmd->add_option("--budget", run.budget, "maximum number of instructions to execute");
  run_cmd->add_flag("--json", run.json, "print one JSON object");
  run_cmd->add_flag("--stats", run.stats, "also print the executed instruction count");
  run_cmd->add_flag("--regs", run.regs, "also print the final registers");
  run_cmd->add_option("--section", run.section, "ELF object: the program's section");
  run_cmd->add_option("--function", run.function, "ELF object: the program's function");
  run_cmd->add_flag("--dump-maps", run.dump_maps, "ELF object: print every map after the run");
  run_cmd->add_option("--input", run.input_file, "sBPF: file whose bytes are the input region (r1)");
  run_cmd->add_option("--cu", run.compute_units, "sBPF: compute unit budget (default 1400000)");
  run_cmd->add_flag("--deploy-checks", run.deploy_checks, "sBPF: also apply the loader's deployment checks");

  ObjdumpOptions objdump;
  CLI::App* objdump_cmd = app.add_subcommand("objdump", "Sections, programs, maps and relocations of an eBPF object");
  objdump_cmd->add_option("FILE", objdump.file, "ELF object (clang -target bpf)")->required();
  objdump_cmd->add_flag("--json", objdump.json, "print one JSON object");

  std::string plugin_mem;
  bool plugin_elf = false;
  std::string plugin_engine = "interp";
  CLI::App* plugin_cmd = app.add_subcommand("plugin", "bpf_conformance plugin: program hex on stdin, r0 on stdout");
  plugin_cmd->add_option("MEMORY_HEX", plugin_mem, "memory buffer as hex bytes");
  plugin_cmd->add_option("--engine", plugin_engine, "execution engine")->check(CLI::IsMember({"interp"}));
  plugin_cmd->add_flag("--elf", plugin_elf, "stdin holds an ELF object");
  plugin_cmd->allow_extras();  // runner options meant for other runtimes

  DisasmOptions disasm;
  CLI::App* disasm_cmd =
      app.add_subcommand("disasm", "Disassemble a program: pseudo-C as llvm-objdump prints it, or GNU syntax");
  disasm_cmd->add_option("FILE", disasm.file, "program: .bin, .hex, .data, assembly, an ELF object or an sBPF .so")
      ->required();
  disasm_cmd->add_option("--syntax", disasm.syntax, "llvm|pseudoc (llvm-objdump-19) or gnu|normal (GNU objdump)")
      ->check(CLI::IsMember({"llvm", "pseudoc", "gnu", "normal"}));
  disasm_cmd->add_option("--section", disasm.section, "ELF section (default: .text, else the first executable one)");
  disasm_cmd->add_option("--symbol", disasm.symbol,
                         "name the code as llvm-objdump does: <NAME>:, goto +0x1 <NAME+0x10>");
  disasm_cmd->add_flag("--raw", disasm.raw, "show each instruction's encoded bytes");
  disasm_cmd
      ->add_option("--dialect", disasm.dialect,
                   "whose encodings: linux (default), sbpf-v0 .. sbpf-v3 (an sBPF .so: its own)")
      ->check(CLI::IsMember({"linux", "sbpf-v0", "sbpf-v1", "sbpf-v2", "sbpf-v3"}));
  disasm_cmd->add_flag("--no-addresses", disasm.no_addresses, "leave out the instruction addresses");
  disasm_cmd->add_flag("--no-labels", disasm.no_labels, "no <L0>: lines at jump targets");

  AsmOptions asm_options;
  CLI::App* asm_cmd =
      app.add_subcommand("asm", "Assemble GNU normal and pseudo-C syntax (mixed) into .o, .bin or .hex");
  asm_cmd->add_option("FILE", asm_options.file, "assembly source")->required();
  asm_cmd->add_option("-o,--output", asm_options.output, "OUT.o (ELF object), OUT.bin (.text bytes) or OUT.hex")
      ->required();
  asm_cmd->add_option("--syntax", asm_options.syntax, "auto (both, mixed), normal, pseudoc or conformance")
      ->check(CLI::IsMember({"auto", "normal", "gnu", "pseudoc", "llvm", "conformance"}));
  asm_cmd->add_flag("--json", asm_options.json, "print one JSON object");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitBadInput;
  }
  run.has_mem_size = mem_size->count() > 0;
  run.has_budget = run_cmd->count("--budget") > 0;
  try {
    if (*run_cmd) return run_command(run);
    if (*plugin_cmd) return plugin_command(plugin_mem, plugin_elf);
    if (*disasm_cmd) return disasm_command(disasm);
    if (*asm_cmd) return asm_command(asm_options);
    if (*objdump_cmd) return objdump_command(objdump);
  } catch (const std::bad_alloc&) {
    std::cerr << "bpfkit: out of memory\n";
  }
  return kExitBadInput;
}
