// Writes one fuzz_decode_run seed per conformance test: byte 0 = memory size,
// then the memory, then the program bytes; and random programs with
// counted loops over a 64-byte input (loop-N.seed: loops of one block or of
// several), the loops the JIT checks once at their entry, for fuzz_jit to
// mutate.
//   make_fuzz_seeds CONFORMANCE_TESTS_DIR OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "bpfkit/assembly.hpp"
#include "random_program.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using namespace bpfkit;
  if (argc != 3) {
    std::cerr << "usage: make_fuzz_seeds CONFORMANCE_TESTS_DIR OUT_DIR\n";
    return 2;
  }
  fs::create_directories(argv[2]);
  int written = 0;
  for (const auto& entry : fs::directory_iterator(argv[1])) {
    if (entry.path().extension() != ".data") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    auto test = assembly::parse_conformance_test(text.str(), entry.path().string());
    if (!test) continue;
    auto slots = assembly::conformance_program(*test, entry.path().string());
    if (!slots || test->memory.size() > 255) continue;
    std::vector<uint8_t> seed{static_cast<uint8_t>(test->memory.size())};
    seed.insert(seed.end(), test->memory.begin(), test->memory.end());
    const std::vector<uint8_t> code = isa::to_bytes(*slots);
    seed.insert(seed.end(), code.begin(), code.end());
    std::ofstream out(fs::path(argv[2]) / (entry.path().stem().string() + ".seed"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seed.data()), static_cast<std::streamsize>(seed.size()));
    ++written;
  }
  for (uint64_t n = 0; n < 64; ++n) {
    std::vector<uint8_t> seed{64};
    for (uint8_t i = 0; i < 64; ++i) seed.push_back(static_cast<uint8_t>(i * 37 + n));
    const std::vector<uint8_t> code = isa::to_bytes(testing::random_program(n, {.counted_loops = true}));
    seed.insert(seed.end(), code.begin(), code.end());
    std::ofstream out(fs::path(argv[2]) / ("loop-" + std::to_string(n) + ".seed"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(seed.data()), static_cast<std::streamsize>(seed.size()));
    ++written;
  }
  std::cout << "wrote " << written << " seeds to " << argv[2] << "\n";
  return written > 0 ? 0 : 1;
}
