#include "input.hpp"

#include <CLI/CLI.hpp>
#include <iostream>

#include "bpfkit/solana.hpp"
#include "report.hpp"

namespace bpfkit::cli {

Expected<InputFile> open_input(const std::string& name) {
  auto bytes = read_file(name);
  if (!bytes) return bytes.error();
  InputFile input{name, std::move(*bytes), InputKind::Raw};
  input.kind = load::kind_of(input.bytes, name);
  return input;
}

void add_btf_option(CLI::App& app, std::string& file) {
  app.add_option("--btf", file,
                 "eBPF object: the BTF its CO-RE relocations are resolved against (raw BTF, or an ELF object's .BTF; "
                 "default: /sys/kernel/btf/vmlinux when it exists)");
}

void print_core_poisoned(const load::Opened& opened) {
  for (const std::string& line : opened.core_poisoned) std::cerr << "bpfkit: note: " << line << "\n";
}

Expected<load::Opened> open_program(const InputFile& input, const load::Options& options) {
  return load::open(input.bytes, input.name, options);
}

Expected<ProgramInput> read_program(const InputFile& input, const isa::Dialect& dialect) {
  return load::read_code(input.bytes, input.name, input.kind, dialect);
}

void add_sbpf_load_options(CLI::App& app, SbpfLoadOptions& options) {
  app.add_flag("--deploy-checks", options.deploy_checks, "sBPF: also apply the loader's deployment checks");
  app.add_flag("--symbol-labels", options.symbol_labels,
               "sBPF: register every .symtab function as a call destination (Agave's symbol labels; production "
               "loads without)");
  app.add_option("--min-version", options.min_version, "sBPF: lowest version the loader accepts (default 0)")
      ->check(CLI::Range(0, 3));
  app.add_option("--max-version", options.max_version, "sBPF: highest version the loader accepts (default 3)")
      ->check(CLI::Range(0, 3));
}

elf::sbpf::LoaderConfig sbpf_config(const SbpfLoadOptions& options) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = options.deploy_checks;
  config.symbol_labels = options.symbol_labels;
  config.min_version = options.min_version;
  config.max_version = options.max_version;
  // Agave's syscalls (the Solana runtime's), and vm's test syscall `log`.
  config.syscalls = solana::syscall_names();
  config.syscalls.push_back("log");
  return config;
}

Expected<elf::sbpf::Program> load_sbpf_image(const InputFile& input, const SbpfLoadOptions& options) {
  auto image = elf::sbpf::load(input.bytes, sbpf_config(options));
  if (!image) image.error().location.input = input.name;
  return image;
}

int read_failure_status(const Error& error) {
  return error.code == Errc::Truncated ? kExitBadInput : exit_status_for(error);
}

}  // namespace bpfkit::cli
