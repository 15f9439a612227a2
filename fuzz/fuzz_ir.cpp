// Fuzz target: module ir. Two kinds of input, told apart by the first byte:
//  - IR text (it starts with 'd', as "dialect ..." does): parse never
//    crashes; text that parses and validates prints, parses and prints the
//    same again.
//  - anything else: byte 0 picks the dialect (mod 5: Linux, sBPF v0..v3),
//    the rest is bytecode. What decodes must lift or fail with an error;
//    what lifts must validate, and its text must parse back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bpfkit/ir.hpp"

namespace {

void round_trip(bpfkit::ir::Module& module) {
  using namespace bpfkit;
  const std::string text = ir::print(module);
  auto parsed = ir::parse(text);
  if (!parsed) std::abort();  // printed IR always parses
  if (ir::print(**parsed) != text) std::abort();
  if (!ir::validate(**parsed)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  if (size == 0) return 0;
  if (data[0] == 'd') {
    auto module = ir::parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!module) return 0;
    auto valid = ir::validate(**module);
    if (!valid) {
      (void)ir::print(**module);  // invalid IR still prints
      return 0;
    }
    round_trip(**module);
    return 0;
  }
  static const isa::Dialect* const kDialects[] = {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2,
                                                  &isa::kSbpfV3};
  auto program = isa::decode(std::span<const uint8_t>(data + 1, size - 1), *kDialects[data[0] % 5]);
  if (!program) return 0;
  auto module = ir::lift(*program);
  if (!module) return 0;
  if (!ir::validate(**module)) std::abort();  // the lifter makes valid IR or an error
  round_trip(**module);
  return 0;
}
