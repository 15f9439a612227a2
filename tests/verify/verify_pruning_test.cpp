// State pruning measured against the kernel: where states are stored, how
// many, and how many instructions a program takes to verify (the kernel's
// figures are from its log statistics through kernel-oracle, Linux 6.18).
#include <gtest/gtest.h>

#include <vector>

#include "bpfkit/isa.hpp"
#include "bpfkit/verify.hpp"

namespace {

using namespace bpfkit;
using isa::Op;
using isa::Slot;

// An array map with one value of 64 bytes, as kernel-oracle's scratch map.
isa::MapSpec scratch_map() {
  isa::MapSpec map;
  map.name = "scratch";
  map.type = static_cast<uint32_t>(isa::MapType::Array);
  map.key_size = 4;
  map.value_size = 64;
  map.max_entries = 1;
  return map;
}

verify::Result verify_socket(const std::vector<Slot>& slots) {
  auto program = isa::decode(slots);
  EXPECT_TRUE(program.has_value());
  if (!program) return {};
  program->maps.push_back(scratch_map());
  verify::Options options;
  options.type = verify::ProgramType::Socket;
  return verify::verify(*program, options);
}

// bpfkit_verify_bench's "lookup loop": a lookup each turn, the value written
// when not null. Every turn leaves its null edge pending; each of those runs
// until it meets a state stored by the null edge of the turn after.
std::vector<Slot> lookup_loop(int32_t turns) {
  std::vector<Slot> code{isa::encode(Op::mov64_imm, 6, 0, 0, 0), isa::encode(Op::stxw, 10, 6, -4)};
  const auto map = isa::encode_lddw(1, 0, Op::lddw_map_fd);
  code.insert(code.end(), map.begin(), map.end());
  code.insert(code.end(), {isa::encode(Op::mov64_reg, 2, 10), isa::encode(Op::add64_imm, 2, 0, 0, -4),
                           isa::encode(Op::call, 0, 0, 0, 1), isa::encode(Op::jeq64_imm, 0, 0, 2, 0),
                           isa::encode(Op::stxdw, 0, 6, 0), isa::encode(Op::mov64_imm, 0, 0, 0, 0),
                           isa::encode(Op::add64_imm, 6, 0, 0, 1), isa::encode(Op::jlt64_imm, 6, 0, -11, turns),
                           isa::encode(Op::mov64_imm, 0, 0, 0, 0), isa::encode(Op::exit)});
  return code;
}

// The kernel: 110,485 processed, 5,748 states, 771 at most at once. Ours has
// one null path more: the kernel's first lookup has a constant key (the
// zeroed stack) into an array and returns a value that cannot be null,
// which bpfkit does not model. Before the kernel's prune points and its
// eviction of states that keep missing: 375,810 processed.
TEST(Pruning, LookupLoopAsTheKernel) {
  const verify::Result result = verify_socket(lookup_loop(5000));
  EXPECT_TRUE(result.accepted);
  EXPECT_EQ(result.processed_insns, 110'497u);
  EXPECT_EQ(result.states, 5'750u);
  EXPECT_EQ(result.peak_states, 772u);
}

}  // namespace
