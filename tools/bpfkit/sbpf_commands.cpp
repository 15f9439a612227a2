#include "sbpf_commands.hpp"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bpfkit/elf_format.hpp"
#include "cli_common.hpp"

namespace bpfkit::cli {
namespace {

// A fault keeps the compute units it used; report() prints the rest.
int report_fault(const Error& error, uint64_t compute_units, bool json) {
  if (!json) {
    const int status = report(error, false);
    std::cerr << "compute units: " << compute_units << "\n";
    return status;
  }
  nlohmann::ordered_json body = error_json(error);
  body["compute_units"] = compute_units;
  std::cout << nlohmann::ordered_json{{"error", body}}.dump() << "\n";
  return exit_status_for(error);
}

}  // namespace

bool is_sbpf_elf(std::span<const uint8_t> file) {
  const auto header = elf::ByteReader(file).read<elf::Ehdr>(0);
  return header && (header->e_type == elf::kEtDyn || header->e_machine == elf::kEmSbpf);
}

Expected<elf::sbpf::Program> load_sbpf(std::span<const uint8_t> file, const std::string& name, bool deploy_checks) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = deploy_checks;
  config.syscalls = vm::sbpf::SyscallRegistry::defaults().names();
  auto program = elf::sbpf::load(file, config);
  if (!program) program.error().location.input = name;
  return program;
}

int run_sbpf_command(std::span<const uint8_t> file, const SbpfRunOptions& options) {
  auto program = load_sbpf(file, options.file, options.deploy_checks);
  if (!program) return report(program.error(), options.json);
  const vm::sbpf::SyscallRegistry syscalls = vm::sbpf::SyscallRegistry::defaults();
  auto interpreter = vm::sbpf::Interpreter::create(vm::sbpf::Executable::from(std::move(*program)), syscalls);
  if (!interpreter) return report(interpreter.error(), options.json);
  std::vector<uint8_t> input = options.input;
  vm::sbpf::RunOptions run;
  run.compute_budget = options.compute_budget;
  run.input = input;
  const vm::sbpf::RunResult result = interpreter->run(run);
  if (!options.json) std::cerr << result.log;
  if (result.error) return report_fault(*result.error, result.compute_units, options.json);
  if (options.json) {
    nlohmann::ordered_json out{
        {"r0", hex(result.r0)}, {"instructions", result.instructions}, {"compute_units", result.compute_units}};
    if (!result.log.empty()) out["log"] = result.log;
    if (options.regs) {
      nlohmann::ordered_json regs = nlohmann::ordered_json::array();
      for (uint64_t r : result.registers) regs.push_back(hex(r));
      out["registers"] = regs;
    }
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cout << hex(result.r0) << "\ncompute units: " << result.compute_units << "\n";
  if (options.regs)
    for (size_t i = 0; i < result.registers.size(); ++i)
      std::cout << "r" << i << ": " << hex(result.registers[i]) << "\n";
  return kExitOk;
}

int objdump_sbpf_command(std::span<const uint8_t> file, const std::string& name, bool json) {
  auto program = load_sbpf(file, name);
  if (!program) return report(program.error(), json);
  const elf::sbpf::ElfInfo& info = program->info;
  // Functions in pc order (the loader keeps them by key).
  std::vector<std::pair<uint32_t, const elf::sbpf::Program::Function*>> by_pc;
  for (const auto& [key, function] : program->functions) by_pc.emplace_back(key, &function);
  std::sort(by_pc.begin(), by_pc.end(), [](const auto& a, const auto& b) {
    return a.second->pc != b.second->pc ? a.second->pc < b.second->pc : a.first < b.first;
  });
  if (json) {
    nlohmann::ordered_json functions = nlohmann::ordered_json::array();
    for (const auto& [key, function] : by_pc)
      functions.push_back({{"key", hex(key)}, {"pc", function->pc}, {"name", function->name}});
    nlohmann::ordered_json syscalls = nlohmann::ordered_json::array();
    for (const auto& [key, syscall] : program->syscalls_used)
      syscalls.push_back({{"key", hex(key)}, {"name", syscall}});
    nlohmann::ordered_json out{{"format", "sbpf"},
                               {"version", info.sbpf_version},
                               {"machine", info.machine},
                               {"entry_pc", program->entry_pc},
                               {"text_offset", info.text_offset},
                               {"text_vaddr", hex(program->text_vaddr)},
                               {"text_slots", info.text_count},
                               {"rodata_vaddr", hex(program->rodata_vaddr)},
                               {"rodata_size", program->rodata.size()},
                               {"functions", functions},
                               {"syscalls", syscalls}};
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cout << name << ": sBPF v" << info.sbpf_version << " shared object (e_machine " << info.machine << ")\n"
            << "  text:   " << info.text_count << " slots at " << hex(program->text_vaddr) << " (file offset "
            << hex(info.text_offset) << "), entry pc " << program->entry_pc << "\n"
            << "  rodata: " << program->rodata.size() << " bytes at " << hex(program->rodata_vaddr) << "\n";
  if (!program->functions.empty()) std::cout << "\nFunctions:\n";
  for (const auto& [key, function] : by_pc)
    std::cout << "  pc " << function->pc << "  key " << hex(key) << "  " << function->name << "\n";
  if (!program->syscalls_used.empty()) std::cout << "\nSyscalls:\n";
  for (const auto& [key, syscall] : program->syscalls_used) std::cout << "  " << hex(key) << "  " << syscall << "\n";
  return kExitOk;
}

}  // namespace bpfkit::cli
