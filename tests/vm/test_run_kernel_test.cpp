// Program-type runs against the kernel: the C programs of tests/bpf in the
// styles of issue 14 (an XDP parser, a tc classifier, a socket filter), on
// every test packet, through bpfkit's BPF_PROG_TEST_RUN (vm::test_run) and
// the kernel's (kernel-oracle, the program's bytes as built by the ELF
// loader): retval and data_out must agree, and so must a refusal's errno.
// Skips where bpf() is refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"
#include "test_run_packets.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;
using test::command_output;
using test::shell_quote;

const char* const kOracle = BPFKIT_KERNEL_ORACLE;
const fs::path kObjects = BPFKIT_TEST_BPF_DIR;

struct Outcome {
  std::optional<std::string> refused;  // the errno name, when the run was refused
  uint32_t retval = 0;
  std::string data_out;  // hex, no spaces
  std::string text;      // for failure messages
};

// "data_out: 45 00 ..." and its continuation lines ("  00 11 ...").
Outcome parse_oracle(const std::string& text) {
  Outcome outcome;
  outcome.text = text;
  std::istringstream lines(text);
  bool in_data = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("retval: "))
      outcome.retval = static_cast<uint32_t>(std::strtoull(line.c_str() + 8, nullptr, 16));
    if (line.starts_with("test_run: failed errno ")) {
      const size_t open = line.find('('), close = line.find(')');
      outcome.refused = line.substr(open + 1, close - open - 1);
    }
    const bool continues = in_data && line.starts_with("  ");
    in_data = line.starts_with("data_out: ") || continues;
    if (!in_data) continue;
    for (char c : line.substr(continues ? 0 : 10))
      if (std::isxdigit(static_cast<unsigned char>(c))) outcome.data_out += c;
  }
  return outcome;
}

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char* const digits = "0123456789abcdef";
  std::string out;
  for (uint8_t byte : bytes) {
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

void write_bytes(const fs::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

Expected<isa::Program> load(const std::string& name) {
  const std::string text = test::read_text(kObjects / (name + ".o"));
  if (text.empty()) return make_error(Errc::Io, "cannot read " + name + ".o (is clang-19 installed?)");
  auto object = elf::EbpfObject::parse({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, name);
  if (!object) return object.error();
  auto chosen = object->default_program();
  if (!chosen) return chosen.error();
  return object->load_program(**chosen);
}

Outcome run_bpfkit(const isa::Program& program, isa::ProgramType type, const std::vector<uint8_t>& packet) {
  Outcome outcome;
  vm::Context context;
  vm::TestRunInput input;
  input.type = type;
  input.data_in = packet;
  if (auto prepared = vm::prepare_test_run(context, input); !prepared) {
    outcome.refused = prepared.error().message.find("EINVAL") != std::string::npos ? "EINVAL" : "?";
    outcome.text = prepared.error().message;
    return outcome;
  }
  auto engine = vm::make_interpreter(program, context);
  if (!engine) {
    outcome.text = engine.error().message;
    outcome.refused = "engine";
    return outcome;
  }
  auto out = vm::test_run(**engine, context, input);
  if (!out || out->run.error) {
    outcome.refused = "fault";
    outcome.text = out ? out->run.error->message : out.error().message;
    return outcome;
  }
  outcome.retval = out->retval;
  outcome.data_out = hex(out->data_out);
  return outcome;
}

struct Case {
  const char* object;
  const char* type;  // kernel-oracle's and bpfkit's name
  isa::ProgramType program_type;
};
constexpr Case kCases[] = {
    {"xdp_parse", "xdp", isa::ProgramType::Xdp},
    {"tc_classify", "tc", isa::ProgramType::Tc},
    {"socket_filter", "socket", isa::ProgramType::Socket},
    {"xdp_adjust", "xdp", isa::ProgramType::Xdp},  // the packet helpers, their errnos, redirect
    {"tc_rewrite", "tc", isa::ProgramType::Tc},
};

TEST(TestRunKernel, ProgramTypeRunsAgreeWithTheKernel) {
  test::TempDir dir;
  for (const Case& c : kCases) {
    auto program = load(c.object);
    ASSERT_TRUE(program.has_value()) << program.error().message;
    const fs::path code = dir.path() / (std::string(c.object) + ".bin");
    test::write_slots(code, program->slots);
    for (const test::TestPacket& packet : test::test_packets()) {
      const fs::path data = dir.path() / (packet.name + ".pkt");
      write_bytes(data, packet.bytes);
      auto output = command_output(shell_quote(kOracle) + " -f bin --no-wrap -t " + c.type + " -i " +
                                   shell_quote(data.string()) + " " + shell_quote(code.string()) + " 2>&1");
      ASSERT_TRUE(output.has_value());
      if (output->find("EPERM") != std::string::npos) GTEST_SKIP() << "bpf() refused with EPERM:\n" << *output;
      const Outcome kernel = parse_oracle(*output);
      const Outcome ours = run_bpfkit(*program, c.program_type, packet.bytes);
      const std::string where = std::string(c.object) + " on " + packet.name;
      ASSERT_TRUE(kernel.refused || output->find("retval: ") != std::string::npos) << where << ":\n" << *output;
      EXPECT_EQ(ours.refused, kernel.refused) << where << "\nbpfkit: " << ours.text << "\nkernel:\n" << kernel.text;
      if (kernel.refused || ours.refused) continue;
      EXPECT_EQ(ours.retval, kernel.retval) << where;
      EXPECT_EQ(ours.data_out, kernel.data_out) << where;
    }
  }
}

}  // namespace
}  // namespace bpfkit
