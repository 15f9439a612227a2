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
#include <random>

#include "bpfkit/verify.hpp"
#include "oracle.hpp"
#include "test_support.hpp"

namespace {

using namespace bpfkit;
using isa::Op;
using isa::Slot;

// A program of ALU work and forward branches, some of them decided.
std::vector<Slot> dead_branch_program(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto pick = [&](uint64_t n) { return random() % n; };
  auto reg = [&] { return static_cast<uint8_t>(pick(10)); };
  std::vector<Slot> slots;
  for (uint8_t r = 0; r < 10; ++r) {
    if (pick(3) == 0)
      slots.push_back(isa::encode(Op::ldxdw, r, isa::kFramePointer, static_cast<int16_t>(-8 * (1 + pick(8)))));
    else
      slots.push_back(isa::encode(Op::mov64_imm, r, 0, 0, static_cast<int32_t>(pick(2000)) - 500));
  }
  static constexpr Op kAluImm[] = {Op::add64_imm, Op::sub64_imm, Op::and64_imm, Op::or64_imm,  Op::xor64_imm,
                                   Op::rsh64_imm, Op::add32_imm, Op::and32_imm, Op::mov32_imm, Op::lsh64_imm};
  static constexpr Op kAluReg[] = {Op::add64_reg, Op::and64_reg, Op::or64_reg, Op::mov64_reg, Op::xor32_reg};
  static constexpr Op kJumpImm[] = {Op::jgt64_imm,  Op::jlt64_imm, Op::jeq64_imm, Op::jne64_imm, Op::jsgt64_imm,
                                    Op::jset64_imm, Op::jgt32_imm, Op::jle32_imm, Op::jeq32_imm};
  static constexpr Op kJumpReg[] = {Op::jgt64_reg, Op::jeq64_reg, Op::jlt32_reg};
  static constexpr int32_t kMasks[] = {0xff, 0xf, 0x3ff, 0x7};
  const size_t body = 12 + pick(20);
  for (size_t i = 0; i < body; ++i) {
    const size_t left = body - i;  // instructions after this one, before the tail
    switch (pick(8)) {
      case 0:
      case 1: {
        const Op op = kAluImm[pick(std::size(kAluImm))];
        const bool shift = op == Op::rsh64_imm || op == Op::lsh64_imm;
        const int32_t imm = shift ? static_cast<int32_t>(pick(32)) : static_cast<int32_t>(pick(4000)) - 1000;
        slots.push_back(isa::encode(op, reg(), 0, 0, imm));
        break;
      }
      case 2: slots.push_back(isa::encode(kAluReg[pick(std::size(kAluReg))], reg(), reg())); break;
      case 3: {  // bounded, then compared past the bound (one edge dead)
        const uint8_t r = reg();
        slots.push_back(isa::encode(Op::and64_imm, r, 0, 0, kMasks[pick(std::size(kMasks))]));
        const Op op = pick(2) ? Op::jgt64_imm : Op::jlt64_imm;
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 4)));
        slots.push_back(isa::encode(op, r, 0, off, 300 + static_cast<int32_t>(pick(2000))));
        break;
      }
      case 4:
      case 5: {
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 5)));
        slots.push_back(
            isa::encode(kJumpImm[pick(std::size(kJumpImm))], reg(), 0, off, static_cast<int32_t>(pick(1500)) - 500));
        break;
      }
      case 6: {
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 5)));
        slots.push_back(isa::encode(kJumpReg[pick(std::size(kJumpReg))], reg(), reg(), off));
        break;
      }
      default:
        slots.push_back(pick(4) == 0 ? isa::encode(Op::ja, 0, 0, 0) : isa::encode(Op::mov64_reg, 0, reg()));
        break;
    }
  }
  slots.push_back(isa::encode(Op::exit));
  return slots;
}

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

}  // namespace
