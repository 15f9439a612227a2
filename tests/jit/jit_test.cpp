// The JIT's own properties: W^X code, the listing, refusals, and programs
// the differential tests do not reach (helpers and maps, calls, callx).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "bpfkit/assembly.hpp"
#include "compare.hpp"

namespace bpfkit {
namespace {

using test::assemble;

// The permissions of the mapping that holds addr, from /proc/self/maps.
std::string permissions_at(uint64_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    const auto dash = range.find('-');
    const uint64_t from = std::stoull(range.substr(0, dash), nullptr, 16);
    const uint64_t to = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= from && addr < to) return perms;
  }
  return "";
}

TEST(Jit, CodeIsMappedReadExecuteNotWritable) {
  const isa::Program program = assemble("mov %r0, 42\nexit\n");
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  ASSERT_TRUE(jit.has_value()) << to_string(jit.error());
  EXPECT_EQ(permissions_at(jit->code_address()).substr(0, 3), "r-x");
  EXPECT_EQ(jit->run(context).r0, 42u);
}

TEST(Jit, ListingShowsEachInstructionAndItsCode) {
  const isa::Program program = assemble("mov %r0, 42\nadd %r0, 1\nexit\n");
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  ASSERT_TRUE(jit.has_value());
  const std::string text = jit::listing(*jit, [](uint32_t pc) { return "insn " + std::to_string(pc); });
  EXPECT_NE(text.find("0: insn 0"), std::string::npos) << text;
  EXPECT_NE(text.find("2: insn 2"), std::string::npos) << text;
  EXPECT_NE(text.find("mov"), std::string::npos) << text;
  EXPECT_NE(text.find("add"), std::string::npos) << text;
}

// Whether the machine code holds the bytes 41 41 41 41 (0x41414141).
bool code_holds_the_immediate(const jit::Jit& jit) {
  const std::span<const uint8_t> code = jit.code();
  const uint8_t needle[] = {0x41, 0x41, 0x41, 0x41};
  return std::search(code.begin(), code.end(), std::begin(needle), std::end(needle)) != code.end();
}

// Every kind of immediate operand: without --harden its bytes are in the
// code, with it they are not (whatever the seed), and the results stay the
// interpreter's.
TEST(JitHarden, NoImmediateOfTheProgramInTheCode) {
  const char* const kOperations[] = {
      "mov %r0, 0x41414141",          "mov32 %r0, 0x41414141",        "add %r0, 0x41414141",
      "add32 %r0, 0x41414141",        "sub %r0, 0x41414141",          "or %r0, 0x41414141",
      "and %r0, 0x41414141",          "xor32 %r0, 0x41414141",        "mul %r0, 0x41414141",
      "div %r0, 0x41414141",          "mod32 %r0, 0x41414141",        "jeq %r0, 0x41414141, +0",
      "jgt32 %r0, 0x41414141, +0",    "jset %r0, 0x41414141, +0",     "stw [%r10-8], 0x41414141",
      "stdw [%r10-8], 0x41414141",    "lddw %r0, 0x4141414141414141", "lddw %r0, 0x41414141",
      "lddw %r0, 0x4141414100000000", "lddw %r0, 0xc1c1c1c141414141",
  };
  for (const char* operation : kOperations) {
    SCOPED_TRACE(operation);
    const isa::Program program = assemble(std::string("mov %r0, 7\n") + operation + "\nexit\n");
    vm::Context context;
    auto plain = jit::Jit::create(program, context);
    ASSERT_TRUE(plain.has_value()) << to_string(plain.error());
    EXPECT_TRUE(code_holds_the_immediate(*plain));
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      auto hardened = jit::Jit::create(program, context, {.harden = true, .harden_seed = seed});
      ASSERT_TRUE(hardened.has_value()) << to_string(hardened.error());
      EXPECT_FALSE(code_holds_the_immediate(*hardened)) << "seed " << seed;
    }
    test::expect_same_run(program, {}, std::nullopt, {.harden = true});
  }
}

// Random per translation (seed 0), the same code for the same seed.
TEST(JitHarden, EachTranslationBlindsWithOtherValues) {
  const isa::Program program = assemble("mov %r0, 0x41414141\nadd %r0, 5\nexit\n");
  vm::Context context;
  auto code_of = [&](jit::Options options) {
    auto jit = jit::Jit::create(program, context, options);
    EXPECT_TRUE(jit.has_value());
    EXPECT_EQ(jit->run(context).r0, 0x41414146u);
    return std::vector<uint8_t>(jit->code().begin(), jit->code().end());
  };
  EXPECT_NE(code_of({.harden = true}), code_of({.harden = true}));
  EXPECT_EQ(code_of({.harden = true, .harden_seed = 42}), code_of({.harden = true, .harden_seed = 42}));
  EXPECT_NE(code_of({.harden = true, .harden_seed = 42}), code_of({.harden = true, .harden_seed = 43}));
  EXPECT_NE(code_of({}), code_of({.harden = true, .harden_seed = 42}));
}

// Blinded, `mov dst, imm` builds the immediate in rax: a following
// `add dst, src` must not fold with it into a lea of the slot's unused
// source register (fuzz_jit: w3 = 0x28; w3 += w4 gave r3 = r0 + r4).
TEST(JitHarden, BlindedMovOfAnImmediateIsNotFoldedWithAnAdd) {
  for (const char* pair : {"mov32 %r3, 0x28\nadd32 %r3, %r4", "mov %r3, 0x28\nadd %r3, %r4", "mov %r3, -7\nadd %r3, 5",
                           "mov32 %r3, 1\nadd32 %r3, %r3"}) {
    SCOPED_TRACE(pair);
    const isa::Program program = assemble(std::string("mov %r0, 9\nmov %r4, 2\n") + pair + "\nexit\n");
    for (const uint64_t seed : {uint64_t{1}, uint64_t{42}, uint64_t{0x5a5a5a5a5a5a5a5b}})
      test::expect_same_run(program, {}, std::nullopt, {.harden = true, .harden_seed = seed});
  }
}

// A fault in the middle of a block: the count includes the instructions
// before it and the faulting one, not those after.
TEST(Jit, FaultInsideABlockCountsExactly) {
  const isa::Program program =
      assemble("mov %r0, 1\nmov %r1, 0\nadd %r0, 2\nldxdw %r2, [%r1+8]\nadd %r0, 3\nadd %r0, 4\nexit\n");
  vm::Context context;
  auto jit = jit::Jit::create(program, context);
  ASSERT_TRUE(jit.has_value());
  const vm::RunResult result = jit->run(context);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(result.error->code, Errc::AccessViolation);
  EXPECT_EQ(result.error->location.pc, 3u);
  EXPECT_EQ(result.instructions, 4u);
  EXPECT_EQ(result.r0, 3u);
  test::expect_same_run(program, {});
}

// bpf-to-bpf calls: frames, r6..r9 restored, r10 one frame down, and the
// depth limit (recursion) failing where the interpreter fails.
TEST(Jit, LocalCallsAndTheDepthLimit) {
  test::expect_same_run(assemble("mov %r6, 5\ncall local local_fn\nadd %r0, %r6\nexit\nlocal_fn:\nmov %r6, 7\n"
                                 "mov %r0, %r10\nexit\n"),
                        {});
  test::expect_same_run(assemble("recurse:\nadd %r0, 1\ncall local recurse\nexit\n"), {});
}

// Map values live in regions past the eighth (the State's copy of the
// table): the cold path over the Context's table checks them, faults too.
TEST(Jit, AccessesToHighRegionsAreChecked) {
  std::vector<isa::Slot> slots;
  auto map_value = [&](uint8_t dst, int32_t map, int32_t offset) {
    isa::Slot first = isa::encode(isa::Op::lddw_map_idx_value, dst, 6, 0, map);
    slots.push_back(first);
    slots.push_back(isa::Slot{0, 0, 0, offset});
  };
  map_value(1, 5, 8);
  slots.push_back(isa::encode(isa::Op::stdw, 1, 0, 0, 42));
  slots.push_back(isa::encode(isa::Op::ldxdw, 0, 1, 0, 0));
  slots.push_back(isa::encode(isa::Op::ldxdw, 2, 1, 8, 0));  // 8 + 8 + 8 > 16: the end of the value
  slots.push_back(isa::encode(isa::Op::exit));
  auto program = isa::decode(slots);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  auto run = [&](bool use_jit) {
    vm::Context context;
    for (int i = 0; i < 6; ++i) {
      isa::MapSpec spec;
      spec.name = "m";  // not `"m" + std::to_string(i)`: GCC 12 gives a false -Wrestrict on it
      spec.name += std::to_string(i);
      spec.type = static_cast<uint32_t>(isa::MapType::Array);
      spec.key_size = 4;
      spec.value_size = 16;
      spec.max_entries = 1;
      EXPECT_TRUE(context.add_map(spec).has_value());
    }
    EXPECT_GE(context.memory().bounds().size(), 11u);
    auto engine = use_jit ? jit::make_jit(*program, context) : vm::make_interpreter(*program, context);
    EXPECT_TRUE(engine.has_value());
    return (*engine)->run(context);
  };
  const vm::RunResult interp = run(false), jit = run(true);
  ASSERT_TRUE(jit.error.has_value());
  EXPECT_EQ(jit.error->code, Errc::AccessViolation);
  EXPECT_EQ(jit.error->location.pc, 4u);
  EXPECT_EQ(jit.r0, 42u);
  EXPECT_EQ(jit.error->message, interp.error->message);
  EXPECT_EQ(jit.registers, interp.registers);
  EXPECT_EQ(jit.instructions, interp.instructions);
}

// The inline check indexes its 16-entry tables by the region index's low 4
// bits and compares address + size with the region's end: addresses of
// other regions with the same low bits, an address whose + size wraps past
// 2^64, and the last byte of a region each give the interpreter's result
// (the fault's address and pc too), loads and stores.
TEST(Jit, InlineCheckRefusesAliasesAndWraps) {
  std::vector<uint8_t> input(16, 0x5a);
  const uint64_t input_base = vm::region_base(vm::kInputRegion);
  const uint64_t addresses[] = {input_base + 8,
                                input_base + 9,
                                input_base + 15,
                                input_base + 16,
                                input_base + (16ull << 32),
                                input_base + (32ull << 32),
                                (8ull + 4) << 32,
                                UINT64_MAX - 7,
                                UINT64_MAX - 3,
                                UINT64_MAX,
                                0xfffffff4'00000000ull,
                                vm::region_base(vm::kStackRegion) + 0x1ff,
                                0,
                                16ull << 32};
  for (const uint64_t address : addresses) {
    for (const char* access : {"ldxdw %r0, [%r1+0]", "ldxb %r0, [%r1+0]", "stxdw [%r1+0], %r1", "stb [%r1+0], 7",
                               "ldxw %r0, [%r1-4]", "sth [%r1+2], 7"}) {
      SCOPED_TRACE(std::string(access) + " at " + std::to_string(address));
      test::expect_same_run(
          assemble("mov %r0, 1\nlddw %r1, " + std::to_string(address) + "\n" + access + "\nadd %r0, 2\nexit\n"), input);
    }
  }
}

// Merged checks: the accesses of a block through one base register share
// one check of their whole range. Wherever one of them faults (the first,
// a later one, a store after loads, below the region, past its end), the
// run stops at that access's pc with its address and the interpreter's
// count and registers, at every budget; a write to the base register or a
// helper call between two accesses splits the group.
TEST(Jit, MergedChecksFaultAtTheFaultingAccess) {
  std::vector<uint8_t> input(32, 0x5a);
  const char* const kBodies[] = {
      "ldxdw %r2, [%r1+0]\nadd %r0, 2\nldxdw %r3, [%r1+8]\nadd %r0, 3\nstxdw [%r1+16], %r0\nadd %r0, 4\n",
      "ldxdw %r2, [%r1+8]\nadd %r0, 2\nldxdw %r3, [%r1-8]\nadd %r0, 3\nldxb %r4, [%r1+31]\nadd %r0, 4\n",
      "stxdw [%r1+24], %r0\nadd %r0, 2\nldxw %r3, [%r1+28]\nadd %r0, 3\nstxb [%r1+0], %r3\n",
      "ldxdw %r2, [%r1+0]\nadd %r1, 8\nldxdw %r3, [%r1+16]\nadd %r0, 3\nldxdw %r4, [%r1+24]\n",
      "ldxdw %r2, [%r1+0]\nldxdw %r6, [%r7+0]\nadd %r0, 3\nldxdw %r4, [%r1+24]\n",
      "ldxdw %r2, [%r1+0]\nmov %r6, %r1\ncall 5\nldxdw %r4, [%r1+24]\nadd %r0, %r4\n",
      "ldxdw %r2, [%r1+0]\nstdw [%r1+8], 9\nlock add [%r1+16], %r0\nldxdw %r4, [%r1+24]\nadd %r0, %r4\n",
  };
  const uint64_t input_base = vm::region_base(vm::kInputRegion);
  // r1 at the input's start, inside it, near its end, past it, below it.
  for (const uint64_t start : {input_base, input_base + 8, input_base + 16, input_base + 24, input_base + 32,
                               input_base - 8, input_base + (uint64_t{16} << 32), UINT64_MAX - 8}) {
    for (const char* body : kBodies) {
      SCOPED_TRACE(std::string(body) + " from r1 = " + std::to_string(start));
      const std::string text = "mov %r0, 1\nlddw %r1, " + std::to_string(start) + "\nlddw %r7, " +
                               std::to_string(input_base + 4) + "\n" + body + "exit\n";
      const isa::Program program = assemble(text);
      test::expect_same_run(program, input);
      for (uint64_t budget = 1; budget <= 12; ++budget) test::expect_same_run(program, input, budget);
      test::expect_same_run(program, input, std::nullopt, {.harden = true});
    }
  }
  // In a loop: the group of each iteration checked again, the last faulting.
  const isa::Program loop = assemble(
      "mov %r0, 0\nmov %r2, 0\nloop:\nldxdw %r3, [%r1+0]\nadd %r0, %r3\nldxdw %r3, [%r1+8]\nxor %r0, %r3\n"
      "stxdw [%r1+4], %r0\nadd %r1, 4\nadd %r2, 1\njlt %r2, 100, loop\nexit\n");
  test::expect_same_run(loop, input);
  for (uint64_t budget = 1; budget <= 60; ++budget) test::expect_same_run(loop, input, budget);
}

// Guessed regions (r1 the input at entry, r10 the stack, kept through
// moves, additions and 8-byte spills): the access is checked against the
// guessed region alone, anything else goes to the exact path. Right and
// wrong guesses give the interpreter's result: the region's boundaries for
// each size, an address just below the region (wrapping the subtraction),
// the next region, an input shorter than the access, and a pointer the
// guess takes for the input that points into the stack (a spill slot
// overwritten through another register) or into another region.
TEST(Jit, GuessedRegionChecksAreExact) {
  const char* const kAccesses[] = {"ldxdw %r0, [%r1OFF]", "ldxw %r0, [%r1OFF]",  "ldxh %r0, [%r1OFF]",
                                   "ldxb %r0, [%r1OFF]",  "stxdw [%r1OFF], %r1", "stb [%r1OFF], 7"};
  for (const size_t input_size : {size_t{16}, size_t{4}, size_t{0}}) {
    std::vector<uint8_t> input(input_size, 0x5a);
    for (const char* pattern : kAccesses) {
      for (const int off : {-8, -1, 0, 1, 8, 9, 12, 14, 15, 16}) {
        std::string access = pattern;
        access.replace(access.find("OFF"), 3, (off < 0 ? "" : "+") + std::to_string(off));
        SCOPED_TRACE(access + " with " + std::to_string(input_size) + " bytes");
        test::expect_same_run(assemble("mov %r0, 1\n" + access + "\nadd %r0, 2\nexit\n"), input);
        // The guess survives a spill and a reload.
        test::expect_same_run(assemble("stxdw [%r10-8], %r1\nmov %r1, 0\nldxdw %r1, [%r10-8]\n" + access + "\nexit\n"),
                              input);
        // A pointer guessed in the input that is one region up.
        test::expect_same_run(assemble("lddw %r2, 0x100000000\nadd %r1, %r2\n" + access + "\nexit\n"), input);
      }
    }
  }
  std::vector<uint8_t> input(16, 0x5a);
  // The spill slot overwritten with a stack pointer through r2: the guess
  // (input) is wrong, the access (alone in its block: no merged check)
  // writes the stack.
  test::expect_same_run(assemble("stxdw [%r10-8], %r1\nmov %r2, %r10\nmov %r3, %r10\nadd %r3, -64\n"
                                 "stxdw [%r2-8], %r3\nldxdw %r1, [%r10-8]\nstdw [%r1+8], 77\n"
                                 "ldxdw %r0, [%r10-56]\nexit\n"),
                        input);
  // Just below the input region: the subtraction wraps, the access faults.
  test::expect_same_run(assemble("sub %r1, 1\nldxb %r0, [%r1+0]\nexit\n"), input);
  test::expect_same_run(assemble("ldxdw %r0, [%r1-4]\nexit\n"), input);
}

}  // namespace
}  // namespace bpfkit
