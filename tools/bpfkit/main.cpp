// bpfkit: the command-line program. Subcommands in the style of git/bpftool.
//
// Exit status: 0 success, 1 the program was rejected or faulted, 2 bad usage
// or unreadable input. Results go to stdout, human messages to stderr.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"
#include "program_input.hpp"

namespace bpfkit::cli {
namespace {

constexpr int kExitOk = 0, kExitRejected = 1, kExitBadInput = 2;

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

// Errors in reading text are the user's input; errors in what the program
// is or does are a rejection.
int exit_status_for(const Error& error) {
  switch (error.code) {
    case Errc::Io:
    case Errc::BadOperand: return kExitBadInput;
    default: return kExitRejected;
  }
}

int report(const Error& error, bool json) {
  if (json) {
    nlohmann::ordered_json body{{"code", errc_name(error.code)}, {"message", error.message}};
    if (error.where.pc) body["pc"] = *error.where.pc;
    if (error.where.offset) body["offset"] = *error.where.offset;
    if (!error.where.input.empty()) body["input"] = error.where.input;
    if (error.where.line) body["line"] = error.where.line;
    if (error.where.column) body["column"] = error.where.column;
    std::cout << nlohmann::ordered_json{{"error", body}}.dump() << "\n";
  } else {
    std::cerr << "bpfkit: " << to_string(error) << "\n";
  }
  return exit_status_for(error);
}

struct RunOptions {
  std::string file;
  std::string mem_file, mem_hex;
  uint64_t mem_size = 0;
  bool has_mem_size = false;
  std::string engine = "interp";
  uint64_t budget = vm::kDefaultBudget;
  bool json = false, stats = false, regs = false;
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

int run_command(const RunOptions& options) {
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

}  // namespace
}  // namespace bpfkit::cli

int main(int argc, char** argv) {
  using namespace bpfkit::cli;
  CLI::App app{"bpfkit: assemble, check, transform and run BPF programs"};
  app.require_subcommand(1);

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a program and print r0");
  run_cmd->add_option("FILE", run.file, "program: .bin (raw), .hex, .data (conformance test) or assembly")->required();
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

  std::string plugin_mem;
  bool plugin_elf = false;
  std::string plugin_engine = "interp";
  CLI::App* plugin_cmd = app.add_subcommand("plugin", "bpf_conformance plugin: program hex on stdin, r0 on stdout");
  plugin_cmd->add_option("MEMORY_HEX", plugin_mem, "memory buffer as hex bytes");
  plugin_cmd->add_option("--engine", plugin_engine, "execution engine")->check(CLI::IsMember({"interp"}));
  plugin_cmd->add_flag("--elf", plugin_elf, "stdin holds an ELF object");
  plugin_cmd->allow_extras();  // runner options meant for other runtimes

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitBadInput;
  }
  run.has_mem_size = mem_size->count() > 0;
  try {
    if (*run_cmd) return run_command(run);
    if (*plugin_cmd) return plugin_command(plugin_mem, plugin_elf);
  } catch (const std::bad_alloc&) {
    std::cerr << "bpfkit: out of memory\n";
  }
  return kExitBadInput;
}
