// sBPF loader speed: each fixture of ../shared/sbpf/elfs, then large
// generated programs, as MiB of ELF per second.
//
//   bpfkit_sbpf_load_bench [SHARED_DIR]
//
// The large programs are of two kinds, 1k to 4M instructions each:
//  * strict v3 files (ELF header, a read-only segment and a bytecode
//    segment, the layout of strict_header.so): load() checks the headers,
//    copies rodata and text and finds the call targets;
//  * lenient v0 files (sections, dynamic table, symbols) whose every 8-slot
//    block has a relative call (rewritten to a pc key, its target
//    registered), a syscall relocation (R_BPF_64_32) and an lddw relocation
//    (R_BPF_64_64): the loader's heavy path.
// Times are the best of several runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "sbpf_elf_builder.hpp"

namespace {

using namespace bpfkit;
using Clock = std::chrono::steady_clock;

template <class T>
void put(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof value);
}

// A strict v3 ELF: 8 bytes of rodata (42), then `slots` instructions that
// end with `call -N` (pc-relative, to pc 0) and exit, entered at the call.
std::vector<uint8_t> strict_program(size_t slots) {
  constexpr size_t kEhdr = 64, kPhdr = 56, kRodata = kEhdr + 2 * kPhdr, kText = kRodata + 8;
  std::vector<uint8_t> out(kText + slots * 8);
  const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(out.data(), ident, sizeof ident);
  put<uint16_t>(out, 16, 3);    // ET_DYN
  put<uint16_t>(out, 18, 247);  // EM_BPF
  put<uint32_t>(out, 20, 1);
  const uint64_t text_vaddr = uint64_t{1} << 32;
  put<uint64_t>(out, 24, text_vaddr + (slots - 2) * 8);  // entry: the call
  put<uint64_t>(out, 32, kEhdr);
  put<uint32_t>(out, 48, 3);  // e_flags: v3
  put<uint16_t>(out, 52, kEhdr);
  put<uint16_t>(out, 54, kPhdr);
  put<uint16_t>(out, 56, 2);
  put<uint16_t>(out, 58, 64);
  put<uint16_t>(out, 60, 1);
  const auto segment = [&](size_t at, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t size) {
    put<uint32_t>(out, at, 1);  // PT_LOAD
    put<uint32_t>(out, at + 4, flags);
    put<uint64_t>(out, at + 8, offset);
    put<uint64_t>(out, at + 16, vaddr);
    put<uint64_t>(out, at + 24, vaddr);
    put<uint64_t>(out, at + 32, size);
    put<uint64_t>(out, at + 40, size);
    put<uint64_t>(out, at + 48, 8);
  };
  segment(kEhdr, 4, kRodata, 0, 8);
  segment(kEhdr + kPhdr, 1, kText, text_vaddr, slots * 8);
  put<uint64_t>(out, kRodata, 42);
  for (size_t pc = 0; pc + 2 < slots; ++pc) put<uint64_t>(out, kText + pc * 8, 0x0000000100000007ull);  // r0 += 1
  put<uint64_t>(out, kText + (slots - 3) * 8, 0x95);  // the function ends
  const int32_t back = -static_cast<int32_t>(slots - 1);
  put<uint64_t>(out, kText + (slots - 2) * 8, 0x1085ull | (uint64_t{static_cast<uint32_t>(back)} << 32));  // call src 1
  put<uint64_t>(out, kText + (slots - 1) * 8, 0x95);
  return out;
}

// A lenient v0 file of `slots` instructions (a multiple of 8) in blocks of
// call +7 (to the next block; the last one to block 0), call sol_log_,
// lddw r1, data, and padding to an exit.
std::vector<uint8_t> lenient_program(size_t slots) {
  namespace b = test::sbpf_elf;
  b::ElfBuilder elf;
  elf.rodata.assign(64, 7);
  elf.dynsyms = {b::ElfBuilder::Symbol("sol_log_", 0x10), b::ElfBuilder::Symbol("data", 0x11, -1, 0)};
  elf.text.clear();
  elf.text.reserve(slots);
  for (size_t block = 0; block * 8 < slots; ++block) {
    const bool last = (block + 1) * 8 >= slots;
    const int32_t to_next = last ? -static_cast<int32_t>(block * 8 + 1) : 7;
    elf.text.push_back(b::call(to_next));
    elf.relocs.push_back({".text", (block * 8 + 1) * 8, 10, 1});  // R_BPF_64_32: sol_log_
    elf.text.push_back(b::call(-1));
    elf.relocs.push_back({".text", (block * 8 + 2) * 8, 1, 2});  // R_BPF_64_64: data
    elf.text.push_back(b::slot(0x18, 1));
    elf.text.push_back(b::slot(0));
    for (int i = 0; i < 3; ++i) elf.text.push_back(b::mov(i));
    elf.text.push_back(b::kExit);
  }
  std::vector<uint8_t> file = elf.build();
  // "data" names the start of .rodata.
  const uint64_t dynsym = elf.offset_of.at(".dynsym");
  b::put(file, dynsym + 2 * 24 + 8, elf.offset_of.at(".rodata"), 8);
  return file;
}

// Best time of `runs` loads (or rejections), in seconds; false if the load fails.
bool time_load(const std::vector<uint8_t>& file, int runs, double& best, std::string& error) {
  best = 1e30;
  bool ok = true;
  for (int run = 0; run < runs; ++run) {
    const auto start = Clock::now();
    auto program = elf::sbpf::load(file);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    if (!program) {
      error = program.error().name();
      ok = false;
    }
  }
  return ok;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path shared = argc > 1 ? argv[1] : BPFKIT_SHARED_DIR;
  std::vector<std::filesystem::path> fixtures;
  for (const auto& entry : std::filesystem::directory_iterator(shared / "sbpf" / "elfs"))
    if (entry.path().extension() == ".so") fixtures.push_back(entry.path());
  std::sort(fixtures.begin(), fixtures.end());

  std::printf("%-36s %8s %12s\n", "fixture", "bytes", "load us");
  for (const auto& path : fixtures) {
    const std::vector<uint8_t> file = read_file(path);
    double best;
    std::string error;
    const bool ok = time_load(file, 2000, best, error);
    std::printf("%-36s %8zu %12.2f%s%s\n", path.filename().c_str(), file.size(), best * 1e6,
                ok ? "" : "  rejected: ", ok ? "" : error.c_str());
  }

  std::printf("\n%-8s %-12s %12s %12s %12s\n", "kind", "slots", "elf bytes", "load ms", "MiB/s");
  for (const char* kind : {"v3", "v0"}) {
    for (size_t slots : {1'000, 10'000, 100'000, 1'000'000, 4'000'000}) {
      const std::vector<uint8_t> file = kind[1] == '3' ? strict_program(slots) : lenient_program(slots);
      double best;
      std::string error;
      if (!time_load(file, slots >= 1'000'000 ? 3 : 20, best, error)) {
        std::fprintf(stderr, "generated %s program of %zu slots: %s\n", kind, slots, error.c_str());
        return 1;
      }
      std::printf("%-8s %-12zu %12zu %12.3f %12.0f\n", kind, slots, file.size(), best * 1e3,
                  static_cast<double>(file.size()) / (1 << 20) / best);
    }
  }
  return 0;
}
