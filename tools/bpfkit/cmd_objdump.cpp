// `bpfkit objdump FILE`: what is in an object. An eBPF object: sections,
// programs, maps, relocations, CO-RE relocations (with --btf, what each
// resolves to in that BTF). An sBPF shared object: version, layout,
// entry, functions and syscalls, as the loader finds them.
#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "bpfkit/elf.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::objdump_command {
namespace {

struct Options {
  std::string file;
  bool json = false;
  SbpfLoadOptions sbpf;
  std::string btf;  // resolve the CO-RE relocations against this BTF
};

Options options;
CLI::App* command = nullptr;

// printf into a string (names may be of any length).
[[gnu::format(printf, 1, 2)]] std::string format(const char* pattern, ...) {
  va_list args, again;
  va_start(args, pattern);
  va_copy(again, args);
  const int size = std::vsnprintf(nullptr, 0, pattern, args);
  va_end(args);
  std::string out(size > 0 ? static_cast<size_t>(size) : 0, '\0');
  if (size > 0) std::vsnprintf(out.data(), out.size() + 1, pattern, again);
  va_end(again);
  return out;
}

std::string section_flags(uint64_t flags) {
  std::string out;
  if (flags & 0x2) out += 'A';
  if (flags & 0x1) out += 'W';
  if (flags & 0x4) out += 'X';
  return out;
}

const char* kconfig_kind_name(elf::KconfigKind kind) {
  switch (kind) {
    case elf::KconfigKind::Bool: return "bool";
    case elf::KconfigKind::Tristate: return "tristate";
    case elf::KconfigKind::Char: return "char";
    case elf::KconfigKind::CharArray: return "char[]";
    case elf::KconfigKind::Int: return "int";
    default: return "unknown";
  }
}

// Each CO-RE relocation resolved against the --btf target (nullopt without one).
using CoreResults = std::vector<std::optional<Expected<elf::CoreResult>>>;

CoreResults resolve_core(const elf::EbpfObject& object, const elf::Btf* target) {
  CoreResults out;
  for (size_t i = 0; i < object.info().core_relocations.size(); ++i) {
    if (target == nullptr)
      out.emplace_back();
    else
      out.emplace_back(object.resolve_core(i, *target));
  }
  return out;
}

// What a resolved relocation became: "28 (was 4) in struct task 0:3",
// "poisoned: no match", "0 (was 1): no match".
std::string resolution_text(const Expected<elf::CoreResult>& result) {
  if (!result) return "error: " + result.error().message;
  const elf::CoreResult& r = *result;
  std::string text = r.poisoned
                         ? std::string("poisoned (call ") + hex(static_cast<uint32_t>(elf::kCorePoisonHelper)) + ")"
                         : std::to_string(r.value) + " (was " + std::to_string(r.original) + ")";
  if (r.target_type_id != 0)
    text += " in " + r.target_type + " " + r.target_access;
  else
    text += r.candidates == 0 ? ": no type of that name" : ": no candidate matches";
  if (r.new_size != r.original_size && !r.poisoned)
    text += ", access " + std::to_string(r.original_size) + " -> " + std::to_string(r.new_size) + " bytes";
  return text;
}

Json core_json(const elf::ObjectInfo& info, const CoreResults& results) {
  Json out = Json::array();
  for (size_t i = 0; i < info.core_relocations.size(); ++i) {
    const elf::CoreRelocation& r = info.core_relocations[i];
    Json entry{{"section", r.section}, {"insn", r.insn}, {"kind", elf::core_kind_name(r.kind)},
               {"type_id", r.type_id}, {"type", r.type}, {"access", r.access},
               {"field", r.field}};
    if (results[i]) {
      const Expected<elf::CoreResult>& result = *results[i];
      if (!result) {
        entry["error"] = result.error().message;
      } else {
        entry["resolved"] = {{"value", result->value},
                             {"original", result->original},
                             {"poisoned", result->poisoned},
                             {"candidates", result->candidates},
                             {"target_type_id", result->target_type_id},
                             {"target_type", result->target_type},
                             {"target_access", result->target_access}};
      }
    }
    out.push_back(entry);
  }
  return out;
}

Json to_json(const elf::ObjectInfo& info, const CoreResults& core) {
  Json out;
  out["license"] = info.license;
  Json sections = Json::array();
  for (const elf::SectionHeader& s : info.sections)
    sections.push_back({{"index", s.index},
                        {"name", s.name},
                        {"type", s.type},
                        {"flags", section_flags(s.flags)},
                        {"offset", s.offset},
                        {"size", s.size}});
  out["sections"] = sections;
  Json programs = Json::array();
  for (const elf::ProgramInfo& p : info.programs)
    programs.push_back({{"section", p.section},
                        {"function", p.function},
                        {"offset", p.offset},
                        {"slots", p.slots},
                        {"global", p.global}});
  out["programs"] = programs;
  Json maps = Json::array();
  for (const isa::MapSpec& m : info.maps)
    maps.push_back({{"name", m.name},
                    {"type", map_type_label(m.type)},
                    {"type_id", m.type},
                    {"key_size", m.key_size},
                    {"value_size", m.value_size},
                    {"max_entries", m.max_entries},
                    {"flags", m.flags},
                    {"read_only", m.read_only}});
  out["maps"] = maps;
  Json relocations = Json::array();
  for (const elf::RelocationInfo& r : info.relocations)
    relocations.push_back({{"section", r.section}, {"offset", r.offset}, {"type", r.type}, {"symbol", r.symbol}});
  out["relocations"] = relocations;
  Json kconfig = Json::array();
  for (const elf::KconfigExtern& e : info.kconfig)
    kconfig.push_back({{"name", e.name},
                       {"kind", kconfig_kind_name(e.kind)},
                       {"size", e.size},
                       {"offset", e.offset},
                       {"weak", e.weak}});
  out["kconfig"] = kconfig;
  out["core_relocations"] = core_json(info, core);
  out["btf_ext"] = {
      {"present", info.btf_ext.present}, {"func_info", info.btf_ext.func_info}, {"line_info", info.btf_ext.line_info}};
  return out;
}

void print_text(std::ostream& out, const std::string& file, const elf::ObjectInfo& info, const CoreResults& core) {
  out << file << ": eBPF relocatable object, license \"" << info.license << "\"\n\nSections:\n";
  for (const elf::SectionHeader& s : info.sections) {
    if (s.index == 0) continue;
    out << format("  [%2u] %-24s size %-8llu flags %s\n", s.index, std::string(s.name).c_str(),
                  static_cast<unsigned long long>(s.size), section_flags(s.flags).c_str());
  }
  out << "\nPrograms:\n";
  for (const elf::ProgramInfo& p : info.programs)
    out << format("  %-24s %-24s %4u slots%s\n", std::string(p.section).c_str(), std::string(p.function).c_str(),
                  p.slots, p.global ? "" : "  (static)");
  out << "\nMaps:\n";
  for (const isa::MapSpec& m : info.maps) {
    // A type without a name shows its id ("type 99").
    const std::string type =
        isa::map_type_name(m.type).empty() ? isa::describe_map_type(m.type) : map_type_label(m.type);
    out << format("  %-24s %-16s key %-4u value %-6u max_entries %u%s\n", m.name.c_str(), type.c_str(), m.key_size,
                  m.value_size, m.max_entries, m.read_only ? "  read-only" : "");
  }
  if (!info.kconfig.empty()) {
    out << "\nKconfig externs (.kconfig):\n";
    for (const elf::KconfigExtern& e : info.kconfig)
      out << format("  %-32s %-10s size %-4llu offset %llu%s\n", std::string(e.name).c_str(), kconfig_kind_name(e.kind),
                    static_cast<unsigned long long>(e.size), static_cast<unsigned long long>(e.offset),
                    e.weak ? "  weak" : "");
  }
  out << "\nRelocations:\n";
  for (const elf::RelocationInfo& r : info.relocations)
    out << format("  %-24s +0x%-6llx %-16s %s\n", std::string(r.section).c_str(),
                  static_cast<unsigned long long>(r.offset), std::string(r.type).c_str(),
                  std::string(r.symbol).c_str());
  if (info.core_relocations.empty()) return;
  out << "\nCO-RE relocations (.BTF.ext):\n";
  for (size_t i = 0; i < info.core_relocations.size(); ++i) {
    const elf::CoreRelocation& r = info.core_relocations[i];
    out << format("  %-24s insn %-5u %-14s %-24s %-10s %s", std::string(r.section).c_str(), r.insn,
                  std::string(elf::core_kind_name(r.kind)).c_str(), r.type.c_str(), std::string(r.access).c_str(),
                  r.field.c_str());
    if (core[i]) out << "  -> " << resolution_text(*core[i]);
    out << "\n";
  }
}

int objdump_ebpf(const InputFile& input, Printer& printer) {
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return printer.fail(object.error());
  std::optional<elf::Btf> target;
  if (!options.btf.empty()) {
    auto bytes = read_file(options.btf);
    if (!bytes) return printer.fail(bytes.error(), kExitBadInput);
    auto btf = elf::Btf::parse(*bytes, options.btf);
    if (!btf) return printer.fail(btf.error(), kExitBadInput);
    target = std::move(*btf);
  }
  const CoreResults core = resolve_core(*object, target ? &*target : nullptr);
  if (printer.json())
    printer.print_json(to_json(object->info(), core));
  else
    print_text(printer.out(), input.name, object->info(), core);
  return kExitOk;
}

int objdump_sbpf(const InputFile& input, Printer& printer) {
  auto program = load_sbpf_image(input, options.sbpf);
  if (!program) return printer.fail(program.error());
  const elf::sbpf::ElfInfo& info = program->info;
  // Functions in pc order (the loader keeps them by key).
  std::vector<std::pair<uint32_t, const elf::sbpf::Program::Function*>> by_pc;
  for (const auto& [key, function] : program->functions) by_pc.emplace_back(key, &function);
  // Functions without a label are named by their .symtab symbol, for display.
  auto name_of = [&](const elf::sbpf::Program::Function& function) -> const std::string& {
    if (!function.name.empty()) return function.name;
    auto symbol = program->symbol_names.find(function.pc);
    return symbol != program->symbol_names.end() ? symbol->second : function.name;
  };
  std::sort(by_pc.begin(), by_pc.end(), [](const auto& a, const auto& b) {
    return a.second->pc != b.second->pc ? a.second->pc < b.second->pc : a.first < b.first;
  });
  if (printer.json()) {
    Json functions = Json::array();
    for (const auto& [key, function] : by_pc)
      functions.push_back({{"key", hex(key)}, {"pc", function->pc}, {"name", name_of(*function)}});
    Json syscalls = Json::array();
    for (const auto& [key, syscall] : program->syscalls_used)
      syscalls.push_back({{"key", hex(key)}, {"name", syscall}});
    printer.print_json(Json{{"format", "sbpf"},
                            {"version", info.sbpf_version},
                            {"machine", info.machine},
                            {"entry_pc", program->entry_pc},
                            {"text_offset", info.text_offset},
                            {"text_vaddr", hex(program->text_vaddr)},
                            {"text_slots", info.text_count},
                            {"rodata_vaddr", hex(program->rodata_vaddr)},
                            {"rodata_size", program->rodata.size()},
                            {"functions", functions},
                            {"syscalls", syscalls}});
    return kExitOk;
  }
  std::ostream& out = printer.out();
  out << input.name << ": sBPF v" << info.sbpf_version << " shared object (e_machine " << info.machine << ")\n"
      << "  text:   " << info.text_count << " slots at " << hex(program->text_vaddr) << " (file offset "
      << hex(info.text_offset) << "), entry pc " << program->entry_pc << "\n"
      << "  rodata: " << program->rodata.size() << " bytes at " << hex(program->rodata_vaddr) << "\n";
  if (!program->functions.empty()) out << "\nFunctions:\n";
  for (const auto& [key, function] : by_pc)
    out << "  pc " << function->pc << "  key " << hex(key) << "  " << name_of(*function) << "\n";
  if (!program->syscalls_used.empty()) out << "\nSyscalls:\n";
  for (const auto& [key, syscall] : program->syscalls_used) out << "  " << hex(key) << "  " << syscall << "\n";
  return kExitOk;
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file, "ELF object (clang -target bpf) or sBPF shared object")->required();
  app.add_flag("--json", options.json, "print one JSON object");
  add_sbpf_load_options(app, options.sbpf);
  add_btf_option(app, options.btf);
}

int run() {
  Printer printer = standard_printer(options.json);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  if (input->kind == InputKind::SbpfObject) {
    if (command->count("--btf") == 0) return objdump_sbpf(*input, printer);
    Location where;
    where.input = input->name;
    return printer.fail(make_error(Errc::BadOperand, "--btf is for eBPF objects", where));
  }
  for (const char* flag : kSbpfLoadFlags) {
    if (command->count(flag) == 0) continue;
    Location where;
    where.input = input->name;
    return printer.fail(make_error(Errc::BadOperand, std::string(flag) + " is for sBPF shared objects", where));
  }
  return objdump_ebpf(*input, printer);
}

}  // namespace bpfkit::cli::objdump_command
