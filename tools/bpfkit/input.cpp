#include "input.hpp"

#include "bpfkit/vm.hpp"
#include "report.hpp"

namespace bpfkit::cli {

Expected<InputFile> open_input(const std::string& name) {
  auto bytes = read_file(name);
  if (!bytes) return bytes.error();
  InputFile input{name, std::move(*bytes), InputKind::Raw};
  input.kind = load::kind_of(input.bytes, name);
  return input;
}

Expected<load::Opened> open_program(const InputFile& input, const load::Options& options) {
  return load::open(input.bytes, input.name, options);
}

Expected<ProgramInput> read_program(const InputFile& input, const isa::Dialect& dialect) {
  return load::read_code(input.bytes, input.name, input.kind, dialect);
}

elf::sbpf::LoaderConfig sbpf_config(bool deploy_checks) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = deploy_checks;
  config.syscalls = vm::HelperTable::sbpf_defaults().names();
  return config;
}

Expected<elf::sbpf::Program> load_sbpf_image(const InputFile& input) {
  auto image = elf::sbpf::load(input.bytes, sbpf_config());
  if (!image) image.error().location.input = input.name;
  return image;
}

int read_failure_status(const Error& error) {
  return error.code == Errc::Truncated ? kExitBadInput : exit_status_for(error);
}

}  // namespace bpfkit::cli
