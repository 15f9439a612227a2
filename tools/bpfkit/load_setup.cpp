#include "load_setup.hpp"

#include <sys/utsname.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

#include "input.hpp"

#ifdef BPFKIT_HAVE_ZLIB
#include <zlib.h>
#endif

namespace bpfkit::cli {
namespace {

Error bad(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

// NAME=REST: nullopt without '=' or without a name.
std::optional<std::pair<std::string_view, std::string_view>> split_assignment(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) return std::nullopt;
  return std::pair{text.substr(0, equals), text.substr(equals + 1)};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex digits, two a byte, into `out` (reused: no allocation per entry once
// it is large enough). "-" and "" are no bytes.
bool parse_hex(std::string_view text, std::vector<uint8_t>& out) {
  out.clear();
  if (text == "-") return true;
  if (text.size() % 2 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = hex_digit(text[i]), low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<uint8_t>(high << 4 | low));
  }
  return true;
}

// A decimal or 0x-hexadecimal number, optionally negative.
std::optional<uint64_t> parse_number(std::string_view text, bool& negative) {
  negative = !text.empty() && text[0] == '-';
  if (negative) text.remove_prefix(1);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2), base = 16;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

isa::MapSpec* map_named(isa::Program& program, std::string_view name) {
  for (isa::MapSpec& spec : program.maps)
    if (spec.name == name) return &spec;
  return nullptr;
}

std::string map_names(const isa::Program& program) {
  std::string list;
  for (const isa::MapSpec& spec : program.maps) list.append(list.empty() ? "" : ", ").append(spec.name);
  return list.empty() ? "none" : list;
}

Expected<void> apply_map_size(isa::Program& program, const std::string& option) {
  auto assignment = split_assignment(option);
  bool negative = false;
  auto size = assignment ? parse_number(assignment->second, negative) : std::nullopt;
  if (!size || negative || *size == 0 || *size > UINT32_MAX)
    return bad("--map-size " + option + ": want NAME=N, N from 1 to 4294967295");
  isa::MapSpec* spec = map_named(program, assignment->first);
  if (spec == nullptr)
    return bad("--map-size " + option + ": the program uses no map named '" + std::string(assignment->first) +
               "' (its maps: " + map_names(program) + ")");
  if (!spec->initial.empty() || spec->name.starts_with(".rodata") || spec->name.starts_with(".data") ||
      spec->name.starts_with(".bss") || spec->name == ".kconfig")
    return bad("--map-size " + option + ": '" + spec->name + "' is global data, whose size the object fixes");
  spec->max_entries = static_cast<uint32_t>(*size);
  return {};
}

// --set NAME=VALUE: a number that fits the variable (little-endian), or
// hex:BYTES of exactly its size, or "text" for a char array (NUL-padded).
Expected<void> apply_set(isa::Program& program, const elf::ObjectInfo& object, const std::string& option) {
  auto assignment = split_assignment(option);
  if (!assignment) return bad("--set " + option + ": want NAME=VALUE");
  const elf::GlobalVariable* variable = nullptr;
  for (const elf::GlobalVariable& v : object.variables)
    if (v.name == assignment->first) variable = &v;
  if (variable == nullptr)
    return bad("--set " + option + ": the object has no global variable '" + std::string(assignment->first) +
               "' in .data, .rodata or .bss");
  isa::MapSpec* spec = map_named(program, variable->section);
  if (spec == nullptr)
    return bad("--set " + option + ": the program does not use " + std::string(variable->section) + ", where '" +
               std::string(variable->name) + "' is");
  if (variable->offset + variable->size > spec->value_size)
    return bad("--set " + option + ": the variable is outside its section");
  std::vector<uint8_t> bytes;
  const std::string_view value = assignment->second;
  bool negative = false;
  if (value.starts_with("hex:")) {
    if (!parse_hex(value.substr(4), bytes) || bytes.size() != variable->size)
      return bad("--set " + option + ": hex: wants " + std::to_string(variable->size) + " bytes in hex");
  } else if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    const std::string_view text = value.substr(1, value.size() - 2);
    if (text.size() > variable->size)
      return bad("--set " + option + ": the text is " + std::to_string(text.size()) + " bytes, the variable " +
                 std::to_string(variable->size));
    bytes.assign(text.begin(), text.end());
    bytes.resize(variable->size, 0);
  } else if (auto number = parse_number(value, negative)) {
    const uint64_t size = variable->size;
    if (size != 1 && size != 2 && size != 4 && size != 8)
      return bad("--set " + option + ": '" + std::string(variable->name) + "' is " + std::to_string(size) +
                 " bytes; give hex:BYTES or \"text\"");
    const unsigned bits = static_cast<unsigned>(size * 8);
    const bool fits = bits == 64 ? !negative || *number <= uint64_t{1} << 63
                                 : (negative ? *number <= uint64_t{1} << (bits - 1) : *number < uint64_t{1} << bits);
    if (!fits)
      return bad("--set " + option + ": " + std::string(value) + " does not fit in " + std::to_string(size) + " bytes");
    const uint64_t stored = negative ? uint64_t{0} - *number : *number;
    bytes.resize(size);
    std::memcpy(bytes.data(), &stored, size);  // little-endian host
  } else {
    return bad("--set " + option + ": '" + std::string(value) + "' is not a number, hex:BYTES or \"text\"");
  }
  if (spec->initial.size() < spec->value_size) spec->initial.resize(spec->value_size, 0);  // .bss
  std::memcpy(spec->initial.data() + variable->offset, bytes.data(), bytes.size());
  return {};
}

// The whole file, through zlib where it is there (which reads plain files
// as they are); nullopt if it cannot be read.
std::optional<std::string> read_maybe_gzip(const std::string& path) {
#ifdef BPFKIT_HAVE_ZLIB
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  std::string text;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  const bool ok = n == 0;
  gzclose(file);
  if (!ok) return std::nullopt;
  return text;
#else
  if (path.ends_with(".gz")) return std::nullopt;
  auto bytes = read_file(path);
  if (!bytes) return std::nullopt;
  return std::string(bytes->begin(), bytes->end());
#endif
}

// libbpf's sources: uname for the version, /proc/config.gz, then
// /boot/config-$(uname -r); or --kconfig FILE.
Expected<elf::KconfigValues> kconfig_values(const LoadSetupOptions& options) {
  elf::KconfigValues values;
  utsname name{};
  std::string release;
  if (uname(&name) == 0) release = name.release;
  values.kernel_version = elf::kernel_version_of(release);
  if (!options.kconfig_file.empty()) {
    auto text = read_maybe_gzip(options.kconfig_file);
    if (!text) return make_error(Errc::Io, "--kconfig " + options.kconfig_file + ": cannot read the file");
    values.config = elf::parse_kconfig(*text);
    return values;
  }
  for (const std::string& path : {std::string("/proc/config.gz"), "/boot/config-" + release})
    if (auto text = read_maybe_gzip(path)) {
      values.config = elf::parse_kconfig(*text);
      break;
    }
  return values;
}

// One entry for map `name`: key and value bytes, or `@inner` for a map of maps.
Expected<void> put_entry(vm::Context& context, const std::unordered_map<std::string_view, uint32_t>& by_name,
                         std::string_view name, const std::vector<uint8_t>& key, std::string_view value_text,
                         const std::vector<uint8_t>& value, const std::string& where) {
  auto it = by_name.find(name);
  if (it == by_name.end()) return bad(where + ": the program uses no map named '" + std::string(name) + "'");
  vm::Map& map = context.map(it->second);
  const isa::MapSpec& spec = map.spec();
  if (key.size() != spec.key_size)
    return bad(where + ": map '" + spec.name + "' has " + std::to_string(spec.key_size) + "-byte keys, not " +
               std::to_string(key.size()));
  if (value_text.starts_with("@")) {
    auto inner = by_name.find(value_text.substr(1));
    if (!map.holds_maps() || inner == by_name.end())
      return bad(where + ": @NAME names an inner map of a map of maps, one the program uses");
    uint32_t slot = 0;
    std::memcpy(&slot, key.data(), std::min<size_t>(4, key.size()));
    if (auto set = context.set_inner_map(it->second, slot, inner->second); !set)
      return bad(where + ": " + set.error().message);
    return {};
  }
  if (value.size() != spec.value_size)
    return bad(where + ": map '" + spec.name + "' has " + std::to_string(spec.value_size) + "-byte values, not " +
               std::to_string(value.size()));
  if (auto updated = map.update(key, value); !updated) return bad(where + ": " + updated.error().message);
  return {};
}

std::unordered_map<std::string_view, uint32_t> maps_by_name(vm::Context& context) {
  std::unordered_map<std::string_view, uint32_t> by_name;
  for (uint32_t i = 0; i < context.map_count(); ++i) by_name.emplace(context.map(i).spec().name, i);
  return by_name;
}

}  // namespace

void add_load_setup_options(CLI::App& app, LoadSetupOptions& options) {
  app.add_option("--map-size", options.map_sizes,
                 "eBPF object: NAME=N, the map's max_entries (a map of max_entries 0, or to change); repeatable");
  app.add_option("--map", options.map_entries,
                 "eBPF object: NAME=KEYHEX:VALUEHEX, an entry put in the map before the run (an empty key for a "
                 "queue, stack or bloom filter; VALUE @INNER for a map of maps); repeatable");
  app.add_option("--map-file", options.map_file,
                 "eBPF object: a file of entries, one `NAME KEYHEX VALUEHEX` a line (- for no key)");
  app.add_option("--set", options.sets,
                 "eBPF object: NAME=VALUE, a global variable (.rodata, .data, .bss) set before the run: a number, "
                 "hex:BYTES or \"text\"; repeatable");
  app.add_option("--kconfig", options.kconfig_file,
                 "eBPF object: the kernel config __kconfig externs read (default: /proc/config.gz, then "
                 "/boot/config-$(uname -r))");
}

Expected<void> prepare_program(isa::Program& program, const elf::ObjectInfo& object, const LoadSetupOptions& options) {
  for (const std::string& option : options.map_sizes)
    if (auto ok = apply_map_size(program, option); !ok) return ok;
  for (const std::string& option : options.sets)
    if (auto ok = apply_set(program, object, option); !ok) return ok;
  isa::MapSpec* kconfig = map_named(program, ".kconfig");
  if (kconfig == nullptr) {
    if (!options.kconfig_file.empty())
      if (auto values = kconfig_values(options); !values) return values.error();  // still an unreadable file
    return {};
  }
  auto values = kconfig_values(options);
  if (!values) return values.error();
  auto image = elf::kconfig_image(object, *values);
  if (!image) return image.error();
  kconfig->initial = std::move(*image);
  return {};
}

Expected<void> fill_maps(vm::Context& context, const LoadSetupOptions& options) {
  if (options.map_entries.empty() && options.map_file.empty()) return {};
  const auto by_name = maps_by_name(context);
  std::vector<uint8_t> key, value;
  for (const std::string& entry : options.map_entries) {
    const std::string where = "--map " + entry;
    auto assignment = split_assignment(entry);
    const size_t colon = assignment ? assignment->second.find(':') : std::string_view::npos;
    if (colon == std::string_view::npos) return bad(where + ": want NAME=KEYHEX:VALUEHEX");
    const std::string_view key_text = assignment->second.substr(0, colon);
    const std::string_view value_text = assignment->second.substr(colon + 1);
    if (!parse_hex(key_text, key) || (!value_text.starts_with("@") && !parse_hex(value_text, value)))
      return bad(where + ": the key and value are hex bytes (two digits a byte)");
    if (auto ok = put_entry(context, by_name, assignment->first, key, value_text, value, where); !ok) return ok;
  }
  if (options.map_file.empty()) return {};
  auto bytes = read_file(options.map_file);
  if (!bytes) return bytes.error();
  std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  for (uint64_t line_number = 1; !text.empty(); ++line_number) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    std::string_view fields[3];
    size_t count = 0;
    while (true) {
      const size_t start = line.find_first_not_of(" \t\r");
      if (start == std::string_view::npos || line[start] == '#') break;
      line.remove_prefix(start);
      const size_t end = std::min(line.find_first_of(" \t\r"), line.size());
      if (count == 3) {
        count = 4;
        break;
      }
      fields[count++] = line.substr(0, end);
      line.remove_prefix(end);
    }
    if (count == 0) continue;  // blank or comment
    const auto where = [&] { return options.map_file + ":" + std::to_string(line_number); };
    if (count != 3) return bad(where() + ": want NAME KEYHEX VALUEHEX");
    if (!parse_hex(fields[1], key) || (!fields[2].starts_with("@") && !parse_hex(fields[2], value)))
      return bad(where() + ": the key and value are hex bytes (two digits a byte; - for no key)");
    if (auto ok = put_entry(context, by_name, fields[0], key, fields[2], value, where()); !ok) return ok;
  }
  return {};
}

}  // namespace bpfkit::cli
