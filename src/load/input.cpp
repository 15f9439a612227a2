// What a file is, and reading it once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "bpfkit/elf_format.hpp"
#include "bpfkit/load.hpp"
#include "internal.hpp"

namespace bpfkit::load {

using detail::input_error;
using detail::strip_comment;

namespace {

bool looks_like_hex(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    for (char c : strip_comment(text.substr(start, end - start)))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == 'x' || c == 'X' || c == ' ' || c == '\t' || c == ',' ||
            c == '\r'))
        return false;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return true;
}

}  // namespace

const char* describe(InputKind kind) {
  switch (kind) {
    case InputKind::Raw: return "a raw program";
    case InputKind::Hex: return "a hex program";
    case InputKind::ConformanceTest: return "a conformance test";
    case InputKind::Assembly: return "an assembly program";
    case InputKind::EbpfObject: return "an eBPF object";
    case InputKind::SbpfObject: return "an sBPF shared object";
  }
  return "an input";
}

bool is_sbpf_elf(std::span<const uint8_t> file) {
  const auto header = elf::ByteReader(file).read<elf::Ehdr>(0);
  return header && (header->e_type == elf::kEtDyn || header->e_machine == elf::kEmSbpf);
}

InputKind kind_of(std::span<const uint8_t> bytes, std::string_view name) {
  if (elf::has_elf_magic(bytes)) return is_sbpf_elf(bytes) ? InputKind::SbpfObject : InputKind::EbpfObject;
  const std::string ext = std::filesystem::path(name).extension().string();
  const std::string_view content(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (ext == ".bin" || content.find('\0') != std::string_view::npos) return InputKind::Raw;
  if (ext == ".data") return InputKind::ConformanceTest;
  if (ext == ".hex" || (ext != ".s" && ext != ".asm" && ext != ".S" && looks_like_hex(content))) return InputKind::Hex;
  return InputKind::Assembly;
}

Expected<std::vector<uint8_t>> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return input_error(path, Errc::Io, "cannot open file: " + std::string(std::strerror(errno)));
  std::vector<uint8_t> bytes;
  struct stat status {};
  if (::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size > 0)
    bytes.reserve(static_cast<size_t>(status.st_size));
  // Read to the end, whatever the file is (a pipe's size is unknown).
  uint8_t buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return input_error(path, Errc::Io, "cannot read file: " + std::string(std::strerror(error)));
    }
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
  ::close(fd);
  return bytes;
}

std::vector<std::string> dialect_names() { return {"linux", "sbpf-v0", "sbpf-v1", "sbpf-v2", "sbpf-v3"}; }

const isa::Dialect* dialect_named(std::string_view name) {
  if (name == "linux") return &isa::kLinuxV4;
  for (uint32_t v = 0; v <= 3; ++v)
    if (name == "sbpf-v" + std::to_string(v)) return isa::sbpf_dialect(v);
  return nullptr;
}

}  // namespace bpfkit::load
