// The loaded sBPF image as the one program type: the relocated text decoded
// by its version's verifier rules (isa::decode), with the functions the
// loader found (calldests and symbols), their call keys, the syscalls the
// program names, the read-only image and where everything is mapped.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "sbpf_image.hpp"

namespace bpfkit::elf::sbpf {

namespace {

// Of two names the loader gave one pc, the one a person wrote beats the
// loader's own `function_<pc>`; otherwise the smaller, so that the choice
// does not depend on hash order.
bool better_name(std::string_view candidate, std::string_view current) {
  const bool candidate_made = candidate.starts_with("function_"), current_made = current.starts_with("function_");
  if (candidate_made != current_made) return current_made;
  return candidate < current;
}

// Every call destination starts a function that runs to the next one (or
// the end of the text), named as the loader named its pc, else by its
// .symtab symbol (display only), else function_<pc>.
std::vector<isa::Function> functions_of(const Program& loaded) {
  std::map<uint64_t, std::string> names;
  for (const auto& [key, function] : loaded.functions) {
    if (function.name.empty()) continue;
    auto [it, inserted] = names.try_emplace(function.pc, function.name);
    if (!inserted && better_name(function.name, it->second)) it->second = function.name;
  }
  std::vector<uint32_t> starts;
  for (size_t pc = 0; pc < loaded.calldests.size() && pc < loaded.text.size(); ++pc)
    if (loaded.calldests[pc]) starts.push_back(static_cast<uint32_t>(pc));
  std::vector<isa::Function> functions;
  for (size_t i = 0; i < starts.size(); ++i) {
    const uint32_t start = starts[i];
    const auto end = i + 1 < starts.size() ? starts[i + 1] : static_cast<uint32_t>(loaded.text.size());
    auto name = names.find(start);
    auto symbol = loaded.symbol_names.find(start);
    std::string label = name != names.end()                   ? name->second
                        : symbol != loaded.symbol_names.end() ? symbol->second
                                                              : "function_" + std::to_string(start);
    functions.push_back({std::move(label), start, end - start});
  }
  return functions;
}

// The keys `call imm` resolves through: v0..v2 functions by key (v3 calls
// functions pc-relative, so it has none), and syscalls by name, both those
// the relocations named and any call of a registered syscall's key.
void add_call_keys(const Program& loaded, const LoaderConfig& config, isa::Program& program) {
  if (!program.dialect->sbpf.static_syscalls)
    for (const auto& [key, function] : loaded.functions)
      program.function_keys[key] = static_cast<uint32_t>(function.pc);
  for (const auto& [key, name] : loaded.syscalls_used) program.syscall_keys[key] = name;
  std::unordered_map<uint32_t, std::string_view> registered;
  for (const std::string& name : config.syscalls) registered.emplace(isa::murmur3_32(name), name);
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (program.ops[pc] != isa::Op::call) continue;
    const auto key = static_cast<uint32_t>(program.slots[pc].imm);
    if (auto it = registered.find(key); it != registered.end() && !program.function_keys.contains(key))
      program.syscall_keys.try_emplace(key, it->second);
  }
}

}  // namespace

Expected<isa::Program> to_program(Program loaded, const LoaderConfig& config) {
  const isa::Dialect* dialect = isa::sbpf_dialect(loaded.info.sbpf_version);
  if (dialect == nullptr)
    return detail::fail(LoadErrc::UnsupportedSBPFVersion, detail::ehdr_off::kFlags,
                        "no dialect for version " + std::to_string(loaded.info.sbpf_version));
  if (loaded.entry_pc > UINT32_MAX)
    return detail::fail(LoadErrc::EntrypointOutOfBounds, detail::ehdr_off::kEntry,
                        "entry pc " + detail::hex(loaded.entry_pc));
  auto program = isa::decode(std::span<const isa::Slot>(loaded.text), *dialect);
  if (!program) return program.error();
  program->functions = functions_of(loaded);
  add_call_keys(loaded, config, *program);
  program->entry = static_cast<uint32_t>(loaded.entry_pc);
  program->rodata = std::move(loaded.rodata);
  program->rodata_vaddr = loaded.rodata_vaddr;
  program->text_vaddr = loaded.text_vaddr;
  return program;
}

Expected<isa::Program> load_program(std::span<const uint8_t> file, const LoaderConfig& config) {
  auto loaded = load(file, config);
  if (!loaded) return loaded.error();
  return to_program(std::move(*loaded), config);
}

}  // namespace bpfkit::elf::sbpf
