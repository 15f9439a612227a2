// `.kconfig` externs: libbpf's rules for their values (kconfig_image), the
// config file reader and the kernel version; and the externs of a compiled
// object (tests/bpf/load_setup.c) laid out as libbpf lays them out.
#include <gtest/gtest.h>

#include <cstring>

#include "bpfkit/elf.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using elf::KconfigExtern;
using elf::KconfigKind;

// An object with these externs, laid out one after another, 8 bytes each.
elf::ObjectInfo object_with(std::vector<KconfigExtern> externs) {
  elf::ObjectInfo info;
  uint64_t offset = 0;
  for (KconfigExtern& e : externs) {
    e.offset = offset;
    offset += 8;
  }
  info.kconfig = std::move(externs);
  isa::MapSpec spec;
  spec.name = ".kconfig";
  spec.value_size = static_cast<uint32_t>(offset);
  info.maps.push_back(spec);
  return info;
}

KconfigExtern ext(std::string_view name, KconfigKind kind, uint64_t size, bool weak = false, bool is_signed = false) {
  KconfigExtern e;
  e.name = name;
  e.kind = kind;
  e.size = size;
  e.weak = weak;
  e.is_signed = is_signed;
  return e;
}

elf::KconfigValues values(std::string_view config) {
  elf::KconfigValues v;
  v.kernel_version = elf::kernel_version_of("6.18.44-fc-v1272");
  v.config = elf::parse_kconfig(config);
  return v;
}

uint64_t u64_at(const std::vector<uint8_t>& bytes, size_t at) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + at, 8);
  return value;
}

TEST(Kconfig, ValuesByKind) {
  const auto info = object_with(
      {ext("LINUX_KERNEL_VERSION", KconfigKind::Int, 4), ext("LINUX_HAS_SYSCALL_WRAPPER", KconfigKind::Bool, 1),
       ext("CONFIG_BPF", KconfigKind::Bool, 1), ext("CONFIG_X", KconfigKind::Tristate, 4),
       ext("CONFIG_C", KconfigKind::Char, 1), ext("CONFIG_HZ", KconfigKind::Int, 4),
       ext("CONFIG_NEG", KconfigKind::Int, 4, false, true), ext("CONFIG_NAME", KconfigKind::CharArray, 4),
       ext("CONFIG_GONE", KconfigKind::Int, 8, /*weak=*/true)});
  auto image = elf::kconfig_image(info, values("CONFIG_BPF=y\nCONFIG_X=m\nCONFIG_C=n\nCONFIG_HZ=0x3e8\n"
                                               "CONFIG_NEG=-5\nCONFIG_NAME=\"longer\"\n# CONFIG_GONE is not set\n"));
  ASSERT_TRUE(image.has_value()) << to_string(image.error());
  EXPECT_EQ(u64_at(*image, 0), 0x06122cu);  // KERNEL_VERSION(6, 18, 44)
  EXPECT_EQ(u64_at(*image, 8), 1u);
  EXPECT_EQ(u64_at(*image, 16), 1u);
  EXPECT_EQ(u64_at(*image, 24), 2u);  // TRI_MODULE
  EXPECT_EQ(u64_at(*image, 32), uint64_t{'n'});
  EXPECT_EQ(u64_at(*image, 40), 1000u);
  EXPECT_EQ(u64_at(*image, 48), 0xfffffffbu);                                        // -5 in 4 bytes
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(image->data() + 56)), "lon");  // cut, with its NUL
  EXPECT_EQ(u64_at(*image, 64), 0u);                                                 // weak and missing
}

TEST(Kconfig, LibbpfRefusals) {
  auto refused = [](KconfigExtern e, std::string_view config) {
    auto image = elf::kconfig_image(object_with({e}), values(config));
    EXPECT_FALSE(image.has_value());
    return image ? std::string() : image.error().message;
  };
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Int, 4), ""),
            "extern 'CONFIG_A' (strong): not resolved (the kernel config has no value)");
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Bool, 1), "CONFIG_A=m"),
            "extern (kcfg) 'CONFIG_A': value 'm' implies tristate or char type");
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Int, 4), "CONFIG_A=y"),
            "extern (kcfg) 'CONFIG_A': value 'y' implies bool, tristate, or char type");
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Int, 1), "CONFIG_A=256"),
            "extern (kcfg) 'CONFIG_A': value '256' doesn't fit in 1 bytes");
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Int, 4), "CONFIG_A=\"text\""),
            "extern (kcfg) 'CONFIG_A': value '\"text\"' implies char array type");
  EXPECT_EQ(refused(ext("CONFIG_A", KconfigKind::Int, 4), "CONFIG_A=12abc"),
            "extern (kcfg) 'CONFIG_A': failed to parse value '12abc'");
  EXPECT_EQ(refused(ext("LINUX_FUTURE", KconfigKind::Int, 4), ""), "extern (kcfg) 'LINUX_FUTURE': unrecognized extern");
  // No config at all: a CONFIG_ extern fails even when weak, as in libbpf.
  elf::KconfigValues none;
  auto image = elf::kconfig_image(object_with({ext("CONFIG_A", KconfigKind::Int, 4, true)}), none);
  ASSERT_FALSE(image.has_value());
  EXPECT_NE(image.error().message.find("no kernel config"), std::string::npos);
}

TEST(Kconfig, VersionAndConfigFile) {
  EXPECT_EQ(elf::kernel_version_of("5.15.0-91-generic"), (5u << 16) + (15u << 8));
  EXPECT_EQ(elf::kernel_version_of("4.19.300"), (4u << 16) + (19u << 8) + 255u);  // patch capped at 255
  EXPECT_EQ(elf::kernel_version_of("6.1"), (6u << 16) + (1u << 8));
  EXPECT_EQ(elf::kernel_version_of("weird"), 0u);
  const auto config = elf::parse_kconfig("#\n# CONFIG_A is not set\nCONFIG_B=y\r\n\nCONFIG_C=\"x y\"\n");
  EXPECT_EQ(config.size(), 2u);
  EXPECT_EQ(config.at("CONFIG_B"), "y");
  EXPECT_EQ(config.at("CONFIG_C"), "\"x y\"");
}

// load_setup.c's externs: kinds from BTF, weak from the symbol, and
// libbpf's layout (alignment descending, then size, then name).
TEST(Kconfig, ObjectExternsAndLayout) {
  const auto bytes = test::read_bytes(std::filesystem::path(BPFKIT_TEST_BPF_DIR) / "load_setup.o");
  if (bytes.empty()) GTEST_SKIP() << "load_setup.o is not built (clang-19)";
  auto object = elf::EbpfObject::parse(bytes, "load_setup.o");
  ASSERT_TRUE(object.has_value()) << to_string(object.error());
  std::vector<std::string> layout;
  for (const KconfigExtern& e : object->info().kconfig)
    layout.push_back(std::string(e.name) + "@" + std::to_string(e.offset) + (e.weak ? " weak" : ""));
  EXPECT_EQ(layout, (std::vector<std::string>{"CONFIG_BPF_SYSCALL@0", "CONFIG_HZ@4 weak", "LINUX_KERNEL_VERSION@8",
                                              "CONFIG_BPFKIT_MISSING@12 weak", "LINUX_HAS_SYSCALL_WRAPPER@13",
                                              "CONFIG_DEFAULT_HOSTNAME@14 weak"}));
  bool has_map = false;
  for (const isa::MapSpec& m : object->info().maps)
    if (m.name == ".kconfig") has_map = m.read_only && m.value_size == 22;
  EXPECT_TRUE(has_map);
  auto chosen = object->default_program();
  ASSERT_TRUE(chosen.has_value());
  auto program = object->load_program(**chosen);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  // The variables a skeleton would set.
  std::vector<std::string> variables;
  for (const elf::GlobalVariable& v : object->info().variables)
    variables.push_back(std::string(v.section) + ":" + std::string(v.name) + "/" + std::to_string(v.size));
  EXPECT_EQ(variables,
            (std::vector<std::string>{".bss:zeroed/4", ".data:counter/8", ".rodata:threshold/4", ".rodata:tag/4"}));
}

}  // namespace
}  // namespace bpfkit
