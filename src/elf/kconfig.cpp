// `.kconfig` externs, resolved as libbpf resolves them when it loads an
// object (bpf_object__resolve_externs and its set_kcfg_value_* rules).
#include <charconv>
#include <cstring>

#include "bpfkit/elf.hpp"

namespace bpfkit::elf {
namespace {

Error extern_error(const KconfigExtern& e, const std::string& why) {
  return make_error(Errc::BadOperand, "extern (kcfg) '" + std::string(e.name) + "': " + why);
}

// y, n or m (set_kcfg_value_tri).
Expected<void> set_tristate(const KconfigExtern& e, char value, uint8_t* at) {
  switch (e.kind) {
    case KconfigKind::Bool:
      if (value == 'm') return extern_error(e, "value 'm' implies tristate or char type");
      *at = value == 'y' ? 1 : 0;
      return {};
    case KconfigKind::Tristate: {
      const uint32_t tri = value == 'y' ? 1 : value == 'm' ? 2 : 0;  // TRI_YES, TRI_MODULE, TRI_NO
      std::memcpy(at, &tri, std::min<uint64_t>(e.size, 4));
      return {};
    }
    case KconfigKind::Char: *at = static_cast<uint8_t>(value); return {};
    default: return extern_error(e, std::string("value '") + value + "' implies bool, tristate, or char type");
  }
}

// "text" (set_kcfg_value_str): a char array, cut to fit with its NUL.
Expected<void> set_string(const KconfigExtern& e, std::string_view quoted, uint8_t* at) {
  if (e.kind != KconfigKind::CharArray)
    return extern_error(e, "value '" + std::string(quoted) + "' implies char array type");
  if (quoted.size() < 2 || quoted.back() != '"')
    return extern_error(e, "invalid string config '" + std::string(quoted) + "'");
  const std::string_view text = quoted.substr(1, quoted.size() - 2);
  const size_t kept = std::min<size_t>(text.size(), e.size - 1);
  std::memcpy(at, text.data(), kept);
  at[kept] = 0;
  return {};
}

// A number (set_kcfg_value_num): integers (it must fit), char, bool (0 or 1).
Expected<void> set_number(const KconfigExtern& e, uint64_t value, uint8_t* at) {
  if (e.kind != KconfigKind::Int && e.kind != KconfigKind::Char && e.kind != KconfigKind::Bool)
    return extern_error(e, "value '" + std::to_string(value) + "' implies integer type");
  if (e.kind == KconfigKind::Bool && value > 1)
    return extern_error(e, "value '" + std::to_string(value) + "' isn't boolean compatible");
  const unsigned bits = static_cast<unsigned>(e.size * 8);
  const bool fits = bits >= 64 || (e.is_signed ? static_cast<int64_t>(value) >= -(int64_t{1} << (bits - 1)) &&
                                                     static_cast<int64_t>(value) < (int64_t{1} << (bits - 1))
                                               : value < (uint64_t{1} << bits));
  if (!fits)
    return extern_error(e, "value '" + std::to_string(value) + "' doesn't fit in " + std::to_string(e.size) + " bytes");
  std::memcpy(at, &value, std::min<uint64_t>(e.size, 8));  // little-endian host
  return {};
}

// A config value as the file writes it.
Expected<void> set_config(const KconfigExtern& e, const std::string& value, uint8_t* at) {
  if (value.size() == 1 && (value == "y" || value == "n" || value == "m")) return set_tristate(e, value[0], at);
  if (!value.empty() && value[0] == '"') return set_string(e, value, at);
  const bool negative = !value.empty() && value[0] == '-';
  std::string_view digits = std::string_view(value).substr(negative ? 1 : 0);
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
    digits.remove_prefix(2), base = 16;
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return extern_error(e, "failed to parse value '" + value + "'");
  return set_number(e, negative ? uint64_t{0} - number : number, at);
}

}  // namespace

std::unordered_map<std::string, std::string> parse_kconfig(std::string_view text) {
  std::unordered_map<std::string, std::string> config;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    const size_t equals = line.find('=');
    if (line.empty() || line[0] == '#' || equals == std::string_view::npos) continue;
    config[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
  }
  return config;
}

uint32_t kernel_version_of(std::string_view release) {
  uint32_t parts[3] = {0, 0, 0};
  const char* p = release.data();
  const char* end = release.data() + release.size();
  for (int i = 0; i < 3 && p < end; ++i) {
    auto [stop, ec] = std::from_chars(p, end, parts[i]);
    if (ec != std::errc()) return i == 0 ? 0 : (parts[0] << 16) + (parts[1] << 8) + std::min(parts[2], 255u);
    p = stop;
    if (p < end && *p == '.')
      ++p;
    else
      break;
  }
  return (parts[0] << 16) + (parts[1] << 8) + std::min(parts[2], 255u);  // KERNEL_VERSION, patch capped
}

Expected<std::vector<uint8_t>> kconfig_image(const ObjectInfo& info, const KconfigValues& values) {
  const isa::MapSpec* map = nullptr;
  for (const isa::MapSpec& spec : info.maps)
    if (spec.name == ".kconfig") map = &spec;
  if (map == nullptr) return std::vector<uint8_t>();
  std::vector<uint8_t> image(map->value_size, 0);
  for (const KconfigExtern& e : info.kconfig) {
    if (e.offset + e.size > image.size() || e.size == 0) return extern_error(e, "its place is outside .kconfig");
    uint8_t* at = image.data() + e.offset;
    const std::string name(e.name);
    Expected<void> set;
    if (name == "LINUX_KERNEL_VERSION") {
      set = set_number(e, values.kernel_version, at);
    } else if (name == "LINUX_HAS_SYSCALL_WRAPPER") {
      set = set_number(e, values.syscall_wrapper ? 1 : 0, at);
    } else if (name == "LINUX_HAS_BPF_COOKIE") {
      set = set_number(e, 1, at);
    } else if (name.starts_with("LINUX_")) {
      return make_error(Errc::BadOperand, "extern (kcfg) '" + name + "': unrecognized extern");
    } else if (!name.starts_with("CONFIG_")) {
      return make_error(Errc::BadOperand, "extern (kcfg) '" + name + "': unrecognized extern (not CONFIG_ or LINUX_)");
    } else if (!values.config) {
      return make_error(Errc::BadOperand, "extern (kcfg) '" + name +
                                              "': no kernel config to read it from (neither /proc/config.gz nor "
                                              "/boot/config-$(uname -r); give --kconfig FILE)");
    } else if (auto it = values.config->find(name); it != values.config->end()) {
      set = set_config(e, it->second, at);
    } else if (!e.weak) {
      return make_error(Errc::BadOperand,
                        "extern '" + name + "' (strong): not resolved (the kernel config has no value)");
    }  // weak and missing: 0
    if (!set) return set.error();
  }
  return image;
}

}  // namespace bpfkit::elf
