// The verifier's rewrites against the kernel's: programs with dead branches
// (decided by constants, by bounds such as `r9 &= 0xff; if r9 > 300`, and by
// 32-bit views) whose xlated form kernel-oracle --xlated prints, loaded as
// root. Their scalars come from constants and from stack slots never
// written (root may read them: unknown values), never from the context, so
// the kernel's context conversion leaves them alone. Skips where bpf() is
// refused.
//
// Also, with no kernel: replaying the replace_insn and remove_insns calls
// the hooks saw on the original program gives the xlated program.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>

#include "bpfkit/verify.hpp"
#include "dead_branch_program.hpp"
#include "oracle.hpp"
#include "test_support.hpp"

namespace {

using namespace bpfkit;
using isa::Slot;
using test::dead_branch_program;

TEST(VerifyXlated, MatchesTheKernelsRewrites) {
  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  constexpr size_t kPrograms = 300;
  std::vector<std::vector<Slot>> programs;
  for (size_t i = 0; i < kPrograms; ++i) programs.push_back(dead_branch_program(20261205 + i));
  test::Request request;
  request.xlated = true;
  const auto kernel = test::Oracle::verdicts(dir.path(), programs, request);
  size_t compared = 0, rewritten = 0, mismatches = 0;
  for (size_t i = 0; i < programs.size(); ++i) {
    if (!kernel[i].has_verdict || !kernel[i].accepted) continue;
    verify::Options options;
    options.type = verify::ProgramType::Socket;
    const verify::Result ours = verify::verify_slots(programs[i], options);
    ASSERT_TRUE(ours.accepted) << "program " << i << ": " << (ours.error ? ours.error->message : "");
    std::vector<std::string> xlated;
    for (const Slot& slot : ours.xlated) xlated.push_back(isa::slot_hex(slot));
    ++compared;
    rewritten += xlated.size() != programs[i].size();
    if (xlated != kernel[i].xlated && mismatches++ < 3) {
      std::string original, kernels, ourss;
      for (const Slot& slot : programs[i]) original += isa::slot_hex(slot) + "\n";
      for (const std::string& line : kernel[i].xlated) kernels += line + "\n";
      for (const std::string& line : xlated) ourss += line + "\n";
      ADD_FAILURE() << "program " << i << ":\n" << original << "kernel:\n" << kernels << "bpfkit:\n" << ourss;
    }
  }
  std::cout << "xlated vs kernel: " << compared << " accepted programs compared, " << rewritten << " of them shrunk, "
            << mismatches << " differ" << std::endl;
  EXPECT_GT(compared, kPrograms / 2);
  EXPECT_GT(rewritten, compared / 4);  // the generator does make dead code
  EXPECT_EQ(mismatches, 0u);
}

// Replays the rewrites the hooks announce.
class Replay final : public verify::Hooks {
 public:
  explicit Replay(std::vector<Slot> slots) : slots_(std::move(slots)) {}
  void replace_insn(uint32_t off, const Slot& insn) override { slots_.at(off) = insn; }
  void remove_insns(uint32_t off, uint32_t count) override {
    // bpf_remove_insns: branches over the hole shrink by `count`.
    slots_.erase(slots_.begin() + off, slots_.begin() + off + count);
    for (size_t pc = 0; pc < slots_.size(); ++pc) {
      Slot& slot = slots_[pc];
      const auto op = isa::lookup(slot);
      if (!op || isa::target_field(*op) != isa::TargetField::Off) continue;
      const int64_t here = static_cast<int64_t>(pc), target = here + slot.off + 1;
      if (here < off && target >= static_cast<int64_t>(off) + count) slot.off = static_cast<int16_t>(slot.off - count);
      if (here >= off && target < off) slot.off = static_cast<int16_t>(slot.off + count);
    }
  }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  std::vector<Slot> slots_;
};

TEST(VerifyXlated, ReplayingTheHooksGivesTheXlatedProgram) {
  size_t replayed = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const std::vector<Slot> program = dead_branch_program(seed);
    Replay replay(program);
    verify::Options options;
    options.type = verify::ProgramType::Socket;
    options.hooks = &replay;
    const verify::Result result = verify::verify_slots(program, options);
    if (!result.accepted) continue;
    ++replayed;
    EXPECT_EQ(replay.slots(), result.xlated) << "seed " << seed;
  }
  EXPECT_GT(replayed, 100u);
}

// A dead back-edge after the dead code it loops into (the layout the IR's
// code generator gives a loop the verifier never enters): removing the
// first run of dead code must not trip over the branch in the second,
// which the kernel removes next (`bpfkit opt csum.bin -O0` was rejected
// with "rewriting the dead code failed: branch to 43 lands inside the
// edited code").
TEST(VerifyXlated, ADeadBranchIntoEarlierDeadCodeIsRemovedWithIt) {
  using isa::Op;
  const std::vector<Slot> program = {
      isa::encode(Op::mov64_imm, 0, 0, 0, 0),  // 0
      isa::encode(Op::jeq64_imm, 0, 0, 2, 0),  // 1: always to 4
      isa::encode(Op::mov64_imm, 0, 0, 0, 1),  // 2: dead
      isa::encode(Op::add64_imm, 0, 0, 0, 2),  // 3: dead, the loop's head
      isa::encode(Op::jne64_imm, 0, 0, 1, 0),  // 4: never taken
      isa::encode(Op::exit),                   // 5
      isa::encode(Op::ja, 0, 0, -4),           // 6: dead, back to 3
  };
  Replay replay(program);
  verify::Options options;
  options.type = verify::ProgramType::Socket;
  options.hooks = &replay;
  const verify::Result result = verify::verify_slots(program, options);
  ASSERT_TRUE(result.accepted) << (result.error ? result.error->message : "");
  const std::vector<Slot> expected = {isa::encode(Op::mov64_imm, 0, 0, 0, 0), isa::encode(Op::exit)};
  EXPECT_EQ(result.xlated, expected);
  EXPECT_EQ(replay.slots(), expected);

  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  test::Request request;
  request.xlated = true;
  const auto kernel = test::Oracle::verdicts(dir.path(), {program}, request);
  ASSERT_TRUE(kernel[0].has_verdict && kernel[0].accepted);
  std::vector<std::string> ours;
  for (const Slot& slot : result.xlated) ours.push_back(isa::slot_hex(slot));
  EXPECT_EQ(ours, kernel[0].xlated);
}

}  // namespace
