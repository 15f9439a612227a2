#include "object_commands.hpp"

#include <array>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"
#include "cli_common.hpp"
#include "program_input.hpp"
#include "sbpf_commands.hpp"

namespace bpfkit::cli {
namespace {

using nlohmann::ordered_json;

const char* map_type_name(uint32_t type) {
  switch (static_cast<isa::MapType>(type)) {
    case isa::MapType::Hash: return "hash";
    case isa::MapType::Array: return "array";
    case isa::MapType::ProgArray: return "prog_array";
    case isa::MapType::PerCpuHash: return "percpu_hash";
    case isa::MapType::PerCpuArray: return "percpu_array";
    case isa::MapType::LruHash: return "lru_hash";
    case isa::MapType::LruPerCpuHash: return "lru_percpu_hash";
    case isa::MapType::RingBuf: return "ringbuf";
  }
  return "unknown";
}

std::string section_flags(uint64_t flags) {
  std::string out;
  if (flags & 0x2) out += 'A';
  if (flags & 0x1) out += 'W';
  if (flags & 0x4) out += 'X';
  return out;
}

ordered_json to_json(const elf::ObjectInfo& info) {
  ordered_json out;
  out["license"] = info.license;
  ordered_json sections = ordered_json::array();
  for (const elf::SectionHeader& s : info.sections)
    sections.push_back({{"index", s.index},
                        {"name", s.name},
                        {"type", s.type},
                        {"flags", section_flags(s.flags)},
                        {"offset", s.offset},
                        {"size", s.size}});
  out["sections"] = sections;
  ordered_json programs = ordered_json::array();
  for (const elf::ProgramInfo& p : info.programs)
    programs.push_back({{"section", p.section},
                        {"function", p.function},
                        {"offset", p.offset},
                        {"slots", p.slots},
                        {"global", p.global}});
  out["programs"] = programs;
  ordered_json maps = ordered_json::array();
  for (const isa::MapSpec& m : info.maps)
    maps.push_back({{"name", m.name},
                    {"type", map_type_name(m.type)},
                    {"key_size", m.key_size},
                    {"value_size", m.value_size},
                    {"max_entries", m.max_entries},
                    {"flags", m.flags},
                    {"read_only", m.read_only}});
  out["maps"] = maps;
  ordered_json relocations = ordered_json::array();
  for (const elf::RelocationInfo& r : info.relocations)
    relocations.push_back({{"section", r.section}, {"offset", r.offset}, {"type", r.type}, {"symbol", r.symbol}});
  out["relocations"] = relocations;
  return out;
}

void print_text(const std::string& file, const elf::ObjectInfo& info) {
  std::cout << file << ": eBPF relocatable object, license \"" << info.license << "\"\n\nSections:\n";
  for (const elf::SectionHeader& s : info.sections) {
    if (s.index == 0) continue;
    std::printf("  [%2u] %-24s size %-8llu flags %s\n", s.index, s.name.c_str(),
                static_cast<unsigned long long>(s.size), section_flags(s.flags).c_str());
  }
  std::cout << "\nPrograms:\n";
  for (const elf::ProgramInfo& p : info.programs)
    std::printf("  %-24s %-24s %4u slots%s\n", p.section.c_str(), p.function.c_str(), p.slots,
                p.global ? "" : "  (static)");
  std::cout << "\nMaps:\n";
  for (const isa::MapSpec& m : info.maps)
    std::printf("  %-24s %-16s key %-4u value %-6u max_entries %u%s\n", m.name.c_str(), map_type_name(m.type),
                m.key_size, m.value_size, m.max_entries, m.read_only ? "  read-only" : "");
  std::cout << "\nRelocations:\n";
  for (const elf::RelocationInfo& r : info.relocations)
    std::printf("  %-24s +0x%-6llx %-16s %s\n", r.section.c_str(), static_cast<unsigned long long>(r.offset),
                r.type.c_str(), r.symbol.c_str());
  std::fflush(stdout);
}

}  // namespace

int objdump_command(const ObjdumpOptions& options) {
  auto content = read_file(options.file);
  if (!content) return report(content.error(), options.json);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(content->data()), content->size());
  if (is_sbpf_elf(bytes)) return objdump_sbpf_command(bytes, options.file, options.json);
  auto object = elf::EbpfObject::parse(bytes, options.file);
  if (!object) return report(object.error(), options.json);
  if (options.json) {
    std::cout << to_json(object->info()).dump() << "\n";
    return kExitOk;
  }
  print_text(options.file, object->info());
  return kExitOk;
}

}  // namespace bpfkit::cli

namespace bpfkit::cli {
namespace {

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  char buf[4];
  for (uint8_t byte : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", byte);
    out += buf;
  }
  return out;
}

Expected<const elf::ProgramInfo*> choose(const elf::EbpfObject& object, const ObjectRunOptions& options) {
  if (options.section.empty() && options.function.empty()) return object.default_program();
  return object.find_program(options.section, options.function);
}

// Each map's entries (ring buffers: their records) after the run.
ordered_json dump_maps(vm::Environment& env) {
  ordered_json maps = ordered_json::array();
  for (uint32_t i = 0; i < env.map_count(); ++i) {
    vm::Map& map = env.map(i);
    ordered_json entries = ordered_json::array();
    if (vm::RingBuf* ring = map.ringbuf()) {
      for (const std::vector<uint8_t>& record : ring->drain()) entries.push_back(hex_bytes(record));
    } else {
      for (const vm::Map::Entry& entry : map.entries())
        entries.push_back({{"key", hex_bytes(entry.key)}, {"value", hex_bytes(entry.value)}});
    }
    maps.push_back({{"name", map.spec().name}, {"type", map_type_name(map.spec().type)}, {"entries", entries}});
  }
  return maps;
}

void print_maps(const ordered_json& maps) {
  for (const auto& map : maps) {
    std::cout << "map " << map["name"].get<std::string>() << " (" << map["type"].get<std::string>() << ")\n";
    for (const auto& entry : map["entries"]) {
      if (entry.is_string())
        std::cout << "  record " << entry.get<std::string>() << "\n";
      else
        std::cout << "  " << entry["key"].get<std::string>() << ": " << entry["value"].get<std::string>() << "\n";
    }
  }
}

}  // namespace

int run_object_command(std::span<const uint8_t> file, const ObjectRunOptions& options) {
  auto object = elf::EbpfObject::parse(file, options.file);
  if (!object) return report(object.error(), options.json);
  auto program = choose(*object, options);
  if (!program) return report(program.error(), options.json);
  auto linked = object->link(**program);
  if (!linked) return report(linked.error(), options.json);
  vm::Environment env;
  env.budget = options.budget;
  for (const isa::MapSpec& spec : linked->maps)
    if (auto index = env.add_map(spec); !index) return report(index.error(), options.json);
  elf::apply_data_relocations(linked->data_relocations, env.map_addresses(),
                              [&](uint32_t map) { return env.map(map).storage(); });
  auto decoded = isa::decode(linked->code);
  if (!decoded) return report(decoded.error(), options.json);
  auto interpreter = vm::Interpreter::create(*decoded, env.map_addresses());
  if (!interpreter) return report(interpreter.error(), options.json);
  std::vector<uint8_t> memory = options.memory.value_or(std::vector<uint8_t>{});
  std::array<uint64_t, 5> args{};
  if (options.memory) {
    args[0] = env.map_input(memory);
    args[1] = memory.size();
  }
  auto result = interpreter->run(env, args);
  if (!result) return report(result.error(), options.json);
  if (options.json) {
    ordered_json out{{"r0", hex(result->r0)}, {"instructions", result->instructions}};
    if (!env.output().empty()) out["output"] = env.output();
    if (options.dump_maps) out["maps"] = dump_maps(env);
    std::cout << out.dump() << "\n";
    return kExitOk;
  }
  std::cerr << env.output();
  std::cout << hex(result->r0) << "\n";
  if (options.stats) std::cout << "instructions: " << result->instructions << "\n";
  if (options.dump_maps) print_maps(dump_maps(env));
  return kExitOk;
}

}  // namespace bpfkit::cli
