// The verifier against the Linux kernel (kernel-oracle) and against the
// interpreter.
//
// Agreement: random valid programs (random_program.hpp) and mutants of them
// that break one rule, or only look as if they do (a register swapped, a
// stack offset moved, an immediate set to an edge value, a jump retargeted,
// a pointer copied, an instruction replaced by exit, a context load, an
// unused field set), as
// socket filters, loaded by root and with CAP_BPF only. Each verdict is
// compared: an unsafe accept (bpfkit accepts, the kernel rejects) fails the
// test; false rejects are counted and reported. Skips where bpf() is refused.
//
// Soundness: the same programs and mutants with r1 = a 64-byte buffer (the
// raw type); every one the verifier accepts must run in the interpreter
// without a memory fault, and never reach an instruction the verifier
// found dead.
//
//   BPFKIT_VERIFY_DIFF_COUNT  base programs (default 150; each gives 9 programs)
//   BPFKIT_VERIFY_DIFF_SEED   base seed
//   BPFKIT_VERIFY_DIFF_SHOW   print up to N false rejects with the kernel's log
//   BPFKIT_VERIFY_DIFF_SHOW_MATCHING  only those whose message contains this
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"
#include "oracle.hpp"
#include "random_program.hpp"
#include "test_support.hpp"

namespace {

using namespace bpfkit;
using isa::Op;
using isa::Slot;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 0) : fallback;
}

// Instructions of a slot vector (not the second halves of lddw).
std::vector<size_t> instruction_pcs(const std::vector<Slot>& slots) {
  std::vector<size_t> pcs;
  for (size_t pc = 0; pc < slots.size(); ++pc) {
    pcs.push_back(pc);
    const auto op = isa::lookup(slots[pc]);
    if (op && isa::is_lddw(*op)) ++pc;
  }
  return pcs;
}

// One mutation of `base` (kind 0 keeps it as it is).
std::vector<Slot> mutate(const std::vector<Slot>& base, int kind, std::mt19937_64& random) {
  std::vector<Slot> slots = base;
  const std::vector<size_t> pcs = instruction_pcs(slots);
  auto pick = [&] { return pcs[random() % (pcs.size() - 1)]; };  // never the final exit
  auto any_reg = [&] { return static_cast<uint8_t>(random() % 10); };
  const size_t pc = pick();
  Slot& slot = slots[pc];
  const auto op = isa::lookup(slot);
  switch (kind) {
    case 1:  // another register: maybe uninitialised
      if (random() % 2)
        slot.set_src(any_reg());
      else if (!op || !isa::is_lddw(*op))
        slot.set_dst(any_reg());
      break;
    case 2: {  // a stack offset moved, maybe out of the frame or misaligned
      static constexpr int16_t kOffsets[] = {-520, -512, -516, -8, -4, -1, 0, 4, 8, -256, -504, -6};
      for (size_t at : pcs) {
        if (slots[at].dst() == isa::kFramePointer || slots[at].src() == isa::kFramePointer) {
          const auto row = isa::lookup(slots[at]);
          if (row && isa::access_size(*row) > 0 && random() % 3 == 0) {
            slots[at].off = kOffsets[random() % std::size(kOffsets)];
            break;
          }
        }
      }
      break;
    }
    case 3: {  // an immediate at an edge
      static constexpr int32_t kImms[] = {0, 1, 31, 32, 63, 64, -1, INT32_MIN};
      if (op && isa::shape_info(*op).imm == isa::FieldUse::Value) slot.imm = kImms[random() % std::size(kImms)];
      break;
    }
    case 4:  // a jump retargeted (backwards: a loop)
      for (size_t at : pcs) {
        const auto row = isa::lookup(slots[at]);
        if (row && isa::target_field(*row) == isa::TargetField::Off && random() % 2 == 0) {
          slots[at].off = static_cast<int16_t>(static_cast<int>(random() % 9) - 6);
          break;
        }
      }
      break;
    case 5:  // a pointer where a scalar was
      slot = isa::encode(Op::mov64_reg, any_reg(), random() % 2 ? isa::kFramePointer : 1);
      if (op && isa::is_lddw(*op)) slots[pc + 1] = isa::encode(Op::ja, 0, 0, 0);
      break;
    case 6:  // an early exit
      slot = isa::encode(Op::exit);
      if (op && isa::is_lddw(*op)) slots[pc + 1] = isa::encode(Op::exit);
      break;
    case 7: {  // a load or store through r1 (the context, or the raw buffer)
      static constexpr Op kRows[] = {Op::ldxw, Op::ldxb, Op::ldxdw, Op::ldxh, Op::stxw, Op::stxb};
      const Op row = kRows[random() % std::size(kRows)];
      const int16_t off = static_cast<int16_t>(static_cast<int>(random() % 80) - 8);
      const bool store = row == Op::stxw || row == Op::stxb;
      slot = store ? isa::encode(row, 1, 0, off) : isa::encode(row, any_reg(), 1, off);
      if (op && isa::is_lddw(*op)) slots[pc + 1] = isa::encode(Op::ja, 0, 0, 0);
      break;
    }
    case 8: {  // a field the instruction does not use set (rejected only where a path reaches it)
      if (!op) break;
      const isa::ShapeInfo& shape = isa::shape_info(*op);
      const int field = static_cast<int>(random() % 4);
      const uint8_t reg = static_cast<uint8_t>(1 + random() % 15);
      if (field == 0 && shape.dst == isa::RegAccess::Unused) slot.set_dst(reg);
      if (field == 1 && shape.src == isa::RegAccess::Unused && isa::info(*op).match != isa::Match::Src)
        slot.set_src(reg);
      if (field == 2 && shape.off == isa::FieldUse::Unused) slot.off = static_cast<int16_t>(1 + random() % 64);
      if (field == 3 && shape.imm == isa::FieldUse::Unused) slot.imm = static_cast<int32_t>(1 + random() % 64);
      break;
    }
    default: break;
  }
  return slots;
}

constexpr int kMutationKinds = 9;

std::vector<std::vector<Slot>> programs(uint64_t seed, size_t count) {
  std::vector<std::vector<Slot>> all;
  for (size_t i = 0; i < count; ++i) {
    const std::vector<Slot> base = bpfkit::testing::random_program(seed + i);
    std::mt19937_64 random(seed + i);
    for (int kind = 0; kind < kMutationKinds; ++kind) all.push_back(mutate(base, kind, random));
  }
  return all;
}

std::string hex_dump(const std::vector<Slot>& slots) {
  std::string text;
  for (const Slot& slot : slots) {
    char line[24];
    std::snprintf(line, sizeof line, "%016llx\n", static_cast<unsigned long long>(isa::word_of(slot)));
    text += line;
  }
  return text;
}

struct Tally {
  size_t programs = 0, agree = 0, unsafe_accepts = 0, false_rejects = 0;
  size_t kernel_accepts = 0, errno_mismatches = 0;
  std::map<std::string, size_t> why;  // disagreements by the rejecting side's message
};

// The kernel's message: the log's last line before its statistics.
std::string kernel_message(const std::string& log) {
  std::istringstream lines(log);
  std::string message;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("verification time") || line.starts_with("processed ")) break;
    if (!line.starts_with("---") && !line.empty()) message = line;
  }
  return message;
}

// A message without its numbers, to group them.
std::string shape_of(std::string message) {
  for (char& c : message)
    if (std::isdigit(static_cast<unsigned char>(c))) c = 'N';
  return message.substr(0, 80);
}

TEST(VerifyKernelDiff, VerdictsAgreeWithTheKernel) {
  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  const uint64_t seed = env_number("BPFKIT_VERIFY_DIFF_SEED", 20261205);
  const size_t count = env_number("BPFKIT_VERIFY_DIFF_COUNT", 150);
  const std::vector<std::vector<Slot>> all = programs(seed, count);
  const size_t show_false_rejects = env_number("BPFKIT_VERIFY_DIFF_SHOW", 0);
  const char* filter = std::getenv("BPFKIT_VERIFY_DIFF_SHOW_MATCHING");
  const std::string show_filter = filter != nullptr ? filter : "";
  for (const bool cap_bpf_only : {false, true}) {
    verify::Options options;
    options.type = verify::ProgramType::Socket;
    options.profile = cap_bpf_only ? verify::Profile::Bpf : verify::Profile::Root;
    Tally tally;
    size_t reported = 0, shown = 0;
    constexpr size_t kBatch = 500;
    for (size_t first = 0; first < all.size(); first += kBatch) {
      const std::vector<std::vector<Slot>> batch(all.begin() + first,
                                                 all.begin() + std::min(all.size(), first + kBatch));
      const auto kernel = test::Oracle::verdicts(dir.path(), batch, "socket", cap_bpf_only);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!kernel[i].has_verdict) continue;
        ++tally.programs;
        tally.kernel_accepts += kernel[i].accepted;
        const auto start = std::chrono::steady_clock::now();
        const verify::Result ours = verify::verify_slots(batch[i], options);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        // A hang is a bug; a slow program (some take 30 s at the 1M-insn limit
        // where the kernel takes 0.5 s) is printed, to be made faster.
        if (took.count() > 5) std::cout << "slow: " << took.count() << " s, processed " << ours.processed_insns << "\n";
        if (took.count() > 120)
          ADD_FAILURE() << "verification took " << took.count() << " s (processed " << ours.processed_insns << "):\n"
                        << hex_dump(batch[i]);
        if (ours.accepted == kernel[i].accepted) {
          ++tally.agree;
          if (!ours.accepted && verify::errno_name(ours.error_number) != kernel[i].errno_name) {
            ++tally.errno_mismatches;
            ++tally.why["errno " + std::string(verify::errno_name(ours.error_number)) + " for " + kernel[i].errno_name +
                        ", bpfkit: " + shape_of(ours.error->message)];
          }
          continue;
        }
        const std::string what = ours.accepted ? "unsafe accept" : "false reject";
        (ours.accepted ? tally.unsafe_accepts : tally.false_rejects)++;
        const std::string message =
            ours.accepted ? "kernel: " + kernel_message(kernel[i].log) : "bpfkit: " + ours.error->message;
        ++tally.why[(ours.accepted ? "unsafe accept, " : "false reject, ") + shape_of(message)];
        if (!ours.accepted && shown < show_false_rejects && message.find(show_filter) != std::string::npos) {
          ++shown;
          std::cout << "false reject (" << (cap_bpf_only ? "bpf" : "root") << "), " << message << ":\n"
                    << hex_dump(batch[i]) << "kernel log:\n"
                    << kernel[i].log;
        }
        if (ours.accepted && reported++ < 5)
          ADD_FAILURE() << what << " (" << (cap_bpf_only ? "bpf" : "root") << "), program " << first + i << ":\n"
                        << hex_dump(batch[i]) << "kernel log:\n"
                        << kernel[i].log;
      }
    }
    std::cout << "verify vs kernel (" << (cap_bpf_only ? "CAP_BPF" : "root") << "): " << tally.programs << " programs, "
              << tally.kernel_accepts << " accepted by the kernel, " << tally.agree << " agree, "
              << tally.unsafe_accepts << " unsafe accepts, " << tally.false_rejects << " false rejects, "
              << tally.errno_mismatches << " rejections with another errno" << std::endl;
    for (const auto& [message, times] : tally.why) std::cout << "  " << times << "x " << message << std::endl;
    EXPECT_EQ(tally.unsafe_accepts, 0u);
  }
}

// Every instruction the verifier saw no path reach replaced by a load past
// the stack's top, which faults: a run that gets there shows the verifier
// wrong about what is dead (and cleans the unused fields of dead
// instructions, which the kernel, and so the verifier, accepts there).
std::vector<Slot> with_dead_code_trapped(const std::vector<Slot>& slots, const verify::Result& verdict) {
  std::vector<Slot> trapped = slots;
  const Slot trap = isa::encode(Op::ldxdw, 0, isa::kFramePointer, 0);
  for (size_t pc : instruction_pcs(slots)) {
    if (verdict.reached[pc]) continue;
    const auto op = isa::lookup(slots[pc]);
    trapped[pc] = trap;
    if (op && isa::is_lddw(*op) && pc + 1 < slots.size()) trapped[pc + 1] = trap;
  }
  return trapped;
}

TEST(VerifySoundness, AcceptedProgramsRunWithoutMemoryFaults) {
  const uint64_t seed = env_number("BPFKIT_VERIFY_DIFF_SEED", 20261205);
  const size_t count = env_number("BPFKIT_VERIFY_DIFF_COUNT", 150) * 2;
  constexpr uint64_t kMemory = 64;
  verify::Options options;
  options.mem_size = kMemory;
  size_t accepted = 0, faults = 0;
  for (const std::vector<Slot>& slots : programs(seed + 1'000'000, count)) {
    const verify::Result verdict = verify::verify_slots(slots, options);
    if (!verdict.accepted) continue;
    ++accepted;
    auto program = isa::decode(with_dead_code_trapped(slots, verdict));
    ASSERT_TRUE(program.has_value()) << to_string(program.error()) << "\n" << hex_dump(slots);
    vm::Context context;
    std::vector<uint8_t> memory(kMemory);
    context.map_input(memory);
    auto interpreter = vm::Interpreter::create(*program, context);
    ASSERT_TRUE(interpreter.has_value()) << to_string(interpreter.error());
    const vm::RunResult run = interpreter->run(context);
    if (run.error && run.error->code == Errc::AccessViolation && faults++ < 5)
      ADD_FAILURE() << "accepted, then faulted: " << to_string(*run.error) << "\n" << hex_dump(slots);
  }
  std::cout << "soundness: " << accepted << " accepted programs ran, " << faults << " memory faults" << std::endl;
  EXPECT_GT(accepted, count);  // most base programs and many mutants pass
}

}  // namespace
