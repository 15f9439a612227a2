// Writes fuzz_open seeds: every file of the given directories behind the two
// bytes fuzz_open reads first (the name it is opened under, chosen by the
// file's extension, and the dialect: Linux), plus a hex and a raw program.
//   make_open_fuzz_seeds OUT_DIR DIR...
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// The index of fuzz_open's name for a file with this extension.
int name_index(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".bin") return 0;
  if (ext == ".hex") return 1;
  if (ext == ".data") return 2;
  if (ext == ".s" || ext == ".S" || ext == ".asm") return 3;
  if (ext == ".o") return 4;
  if (ext == ".so") return 5;
  return -1;
}

void write_seed(const fs::path& out, int name, const std::vector<uint8_t>& bytes) {
  std::ofstream file(out, std::ios::binary);
  const char header[2] = {static_cast<char>(name), 0};
  file.write(header, 2);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_open_fuzz_seeds OUT_DIR DIR...\n";
    return 2;
  }
  const fs::path out_dir = argv[1];
  fs::create_directories(out_dir);
  int written = 0;
  for (int i = 2; i < argc; ++i) {
    std::error_code error;
    for (const auto& entry : fs::recursive_directory_iterator(argv[i], error)) {
      const int name = name_index(entry.path());
      if (name < 0 || !entry.is_regular_file() || entry.file_size() > (1u << 20)) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
      write_seed(out_dir / (entry.path().filename().string() + ".seed"), name, bytes);
      ++written;
    }
  }
  // r0 = 42; exit, as hex text and as raw bytes.
  const std::string hex = "b7 00 00 00 2a 00 00 00\n95 00 00 00 00 00 00 00\n";
  write_seed(out_dir / "hex.seed", 1, std::vector<uint8_t>(hex.begin(), hex.end()));
  write_seed(out_dir / "raw.seed", 0, {0xb7, 0, 0, 0, 0x2a, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0});
  written += 2;
  std::cout << "wrote " << written << " seeds to " << out_dir.string() << "\n";
  return 0;
}
