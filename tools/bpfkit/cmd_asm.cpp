// `bpfkit asm FILE -o OUT`: assemble into an ELF object, raw bytes or hex.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bpfkit/assembly.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "report.hpp"

namespace bpfkit::cli::asm_command {
namespace {

struct Options {
  std::string file, output, syntax = "auto";
  std::string dialect = "linux";
  bool json = false;
};

Options options;

assembly::Syntax syntax_named(const std::string& name) {
  if (name == "normal" || name == "gnu") return assembly::Syntax::Normal;
  if (name == "pseudoc" || name == "llvm") return assembly::Syntax::PseudoC;
  if (name == "conformance") return assembly::Syntax::Conformance;
  return assembly::Syntax::Auto;
}

// Every error with its source line and a caret, or all of them as JSON.
int report_assembly_errors(const assembly::Assembly& assembly, std::string_view source, Printer& printer) {
  const std::vector<Error>& errors = assembly.errors;
  if (printer.json()) {
    Json list = Json::array();
    for (const Error& error : errors) list.push_back(error_json(error));
    Json out{{"error", list.front()}, {"errors", list}};
    if (assembly.more_errors > 0) out["more_errors"] = assembly.more_errors;
    printer.print_json(out);
  } else {
    const size_t total = errors.size() + assembly.more_errors;
    printer.err() << assembly::format_diagnostics(assembly, source);
    printer.err() << total << (total == 1 ? " error\n" : " errors\n");
  }
  return kExitBadInput;
}

// OUT.o: an ELF relocatable object; OUT.bin: the bytes of .text; OUT.hex:
// one 8-byte slot of .text per line.
Expected<std::string> encode_output(const assembly::Object& object, const std::string& output) {
  const std::string ext = std::filesystem::path(output).extension().string();
  if (ext == ".o") {
    auto elf = assembly::write_elf(object);
    if (!elf) return elf.error();
    return std::string(elf->begin(), elf->end());
  }
  const assembly::Section* text = object.find_section(".text");
  const std::vector<uint8_t> empty;
  const std::vector<uint8_t>& bytes = text ? text->bytes : empty;
  if (ext == ".bin") return std::string(bytes.begin(), bytes.end());
  if (ext == ".hex") {
    std::string out;
    char buf[4];
    for (size_t at = 0; at < bytes.size(); ++at) {
      std::snprintf(buf, sizeof buf, "%02x", bytes[at]);
      out += buf;
      if (at % 8 == 7 || at + 1 == bytes.size()) out += '\n';
    }
    return out;
  }
  return make_error(Errc::BadOperand, "output '" + output + "' needs the extension .o, .bin or .hex");
}

Error write_error(const std::string& path, const char* what, int error) {
  Location where;
  where.input = path;
  return make_error(Errc::Io, std::string(what) + ": " + std::strerror(error), where);
}

// The mode a new file gets from open(..., 0666): the old file's mode if
// there is one, else 0666 less the umask.
mode_t mode_for(const std::string& path) {
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0) return old.st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

// Writes `bytes` to a temporary file beside `path`, then renames it over
// `path`: a failed write (disk full, `ulimit -f`) leaves the old file as it was.
Expected<void> write_atomically(const std::string& path, std::string_view bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string temp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) return write_error(path, "cannot create a temporary file beside it", errno);
  const auto fail = [&](const char* what) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return write_error(path, what, error);
  };
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return fail("cannot write");
    done += static_cast<size_t>(wrote);
  }
  if (::fchmod(fd, mode_for(path)) != 0 || ::fsync(fd) != 0) return fail("cannot write");
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return write_error(path, "cannot write", error);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return write_error(path, "cannot replace", error);
  }
  return {};
}

}  // namespace

void add_options(CLI::App& app) {
  app.add_option("FILE", options.file, "assembly source")->required();
  app.add_option("-o,--output", options.output, "OUT.o (ELF object), OUT.bin (.text bytes) or OUT.hex")->required();
  app.add_option("--syntax", options.syntax, "auto (both, mixed), normal, pseudoc or conformance")
      ->check(CLI::IsMember({"auto", "normal", "gnu", "pseudoc", "llvm", "conformance"}));
  app.add_option("--dialect", options.dialect, "whose encodings: linux (default), sbpf-v0 .. sbpf-v3")
      ->check(CLI::IsMember(dialect_names()));
  app.add_flag("--json", options.json, "print one JSON object");
}

int run() {
  Printer printer = standard_printer(options.json);
  auto source = read_file(options.file);
  if (!source) return printer.fail(source.error());
  const std::string_view text(reinterpret_cast<const char*>(source->data()), source->size());
  assembly::AssembleOptions assemble_options;
  assemble_options.syntax = syntax_named(options.syntax);
  assemble_options.input_name = options.file;
  assemble_options.dialect = *dialect_named(options.dialect);
  const assembly::Assembly result = assembly::assemble(text, assemble_options);
  if (!result.ok()) return report_assembly_errors(result, text, printer);
  auto bytes = encode_output(result.object, options.output);
  if (!bytes) return printer.fail(bytes.error());
  if (auto written = write_atomically(options.output, *bytes); !written) return printer.fail(written.error());
  if (printer.json()) printer.print_json(Json{{"output", options.output}, {"bytes", bytes->size()}});
  return kExitOk;
}

}  // namespace bpfkit::cli::asm_command
