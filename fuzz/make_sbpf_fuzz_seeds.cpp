// Writes fuzz_sbpf_run seeds: the text of every sBPF fixture that loads, as
// each version (byte 0), with a one-byte input region (byte 1 = 1, then 01).
//   make_sbpf_fuzz_seeds SBPF_ELFS_DIR OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "bpfkit/elf.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using namespace bpfkit;
  if (argc != 3) {
    std::cerr << "usage: make_sbpf_fuzz_seeds SBPF_ELFS_DIR OUT_DIR\n";
    return 2;
  }
  fs::create_directories(argv[2]);
  int written = 0;
  for (const auto& entry : fs::directory_iterator(argv[1])) {
    if (entry.path().extension() != ".so") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> file(std::istreambuf_iterator<char>(in), {});
    auto program = elf::sbpf::load(file);
    if (!program) continue;
    for (uint8_t version = 0; version < 4; ++version) {
      std::vector<uint8_t> seed{version, 1, 1};
      const auto* text = reinterpret_cast<const uint8_t*>(program->text.data());
      seed.insert(seed.end(), text, text + program->text.size() * sizeof(isa::Slot));
      std::ofstream out(fs::path(argv[2]) / (entry.path().stem().string() + "-v" + std::to_string(version)),
                        std::ios::binary);
      out.write(reinterpret_cast<const char*>(seed.data()), static_cast<std::streamsize>(seed.size()));
      ++written;
    }
  }
  std::cout << written << " seeds\n";
  return written > 0 ? 0 : 1;
}
