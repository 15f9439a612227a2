// Lifting: small programs lift to the expected SSA; every conformance
// program and every compiled test object lifts, validates and survives the
// text round trip; size does not turn into recursion depth.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "bpfkit/elf.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/load.hpp"

namespace bpfkit::ir {
namespace {

std::unique_ptr<Module> lift_text(std::string_view source, const isa::Dialect& dialect = isa::kLinuxV4) {
  load::Options options;
  options.dialect = &dialect;
  auto opened =
      load::open(std::span(reinterpret_cast<const uint8_t*>(source.data()), source.size()), "test.s", options);
  EXPECT_TRUE(opened.has_value()) << to_string(opened.error());
  if (!opened) return nullptr;
  auto module = lift(opened->program);
  EXPECT_TRUE(module.has_value()) << to_string(module.error());
  if (!module) return nullptr;
  return std::move(*module);
}

// Lifts, validates, prints, parses and prints again: the same text.
void expect_round_trip(Module& module, const std::string& name) {
  auto valid = validate(module);
  ASSERT_TRUE(valid.has_value()) << name << ": " << to_string(valid.error()) << "\n" << print(module);
  const std::string text = print(module);
  auto parsed = parse(text, name);
  ASSERT_TRUE(parsed.has_value()) << to_string(parsed.error()) << "\n" << text;
  EXPECT_EQ(print(**parsed), text) << name;
  auto again = validate(**parsed);
  EXPECT_TRUE(again.has_value()) << name << ": " << to_string(again.error());
}

TEST(IrLift, LoopGetsPhis) {
  auto module = lift_text(R"(
    r0 = 0
    r2 = 10
  loop:
    r0 += r2
    r2 -= 1
    if r2 != 0 goto loop
    exit
  )");
  ASSERT_TRUE(module);
  expect_round_trip(*module, "loop");
  const std::string text = print(*module);
  // The entry is a jump target? No: the loop header is the second block.
  EXPECT_NE(text.find("phi [i64 0, b0]"), std::string::npos) << text;
  EXPECT_NE(text.find("br.ne.64"), std::string::npos) << text;
  EXPECT_NE(text.find("ret %"), std::string::npos) << text;
}

TEST(IrLift, Alu32ExtensionFollowsTheDialect) {
  constexpr std::string_view source = "w1 += 1\nw0 = w1\nexit\n";
  auto linux = lift_text(source);
  ASSERT_TRUE(linux);
  const std::string linux_text = print(*linux);
  EXPECT_NE(linux_text.find("add.32.zext %arg1, i32 1"), std::string::npos) << linux_text;
  EXPECT_NE(linux_text.find("zext.32 %0"), std::string::npos) << linux_text;
  auto v0 = lift_text(source, isa::kSbpfV0);
  ASSERT_TRUE(v0);
  EXPECT_NE(print(*v0).find("add.32.sext %arg1, i32 1"), std::string::npos) << print(*v0);
  auto v2 = lift_text(source, isa::kSbpfV2);
  ASSERT_TRUE(v2);
  const std::string v2_text = print(*v2);
  EXPECT_NE(v2_text.find("add.32.zext"), std::string::npos) << v2_text;
  EXPECT_NE(v2_text.find("sext.32.64 %0"), std::string::npos) << v2_text;  // v2's mov32 reg sign-extends
}

TEST(IrLift, CallsClobberArgumentRegisters) {
  auto module = lift_text(R"(
    r6 = r1
    call 5
    r0 = r1
    r0 += r6
    exit
  )");
  ASSERT_TRUE(module);
  expect_round_trip(*module, "call");
  const std::string text = print(*module);
  EXPECT_NE(text.find("%0 = call helper 5 ()"), std::string::npos) << text;  // ktime_get_ns takes nothing
  EXPECT_NE(text.find("add.64 undef, %arg1"), std::string::npos) << text;    // r1 after the call, r6 kept
}

// bpf_trace_printk's prototype names two arguments, but the helper prints
// r3-r5 too (ARG_DONTCARE): the call must pass them, or code generation
// drops their values (task_helpers.o printed an empty comm after -O0).
TEST(IrLift, TracePrintkPassesItsValues) {
  auto module = lift_text(R"(
    r1 = r10
    r1 += -8
    r2 = 8
    r3 = 7
    r4 = r1
    r5 = 9
    call 6
    exit
  )");
  ASSERT_TRUE(module);
  const std::string text = print(*module);
  EXPECT_NE(text.find("call helper 6 (%0, i64 8, i64 7, %0, i64 9)"), std::string::npos) << text;
}

TEST(IrLift, LocalFunctionsLiftOneByOne) {
  auto module = lift_text(R"(
    r1 = 3
    call f
    exit
  f:
    r0 = r1
    r0 += 1
    exit
  )");
  ASSERT_TRUE(module);
  ASSERT_EQ(module->functions().size(), 2u);
  expect_round_trip(*module, "local");
  const std::string text = print(*module);
  // f reads r1 only: the call passes that one.
  EXPECT_NE(text.find("call local @fn_3 (i64 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("function @fn_3 origin 3"), std::string::npos) << text;
}

// A call passes up to the highest of r1-r5 the callee may read before
// writing it, on any path; a call inside the callee reads all five.
TEST(IrLift, ALocalCallPassesWhatTheCalleeMayRead) {
  auto module = lift_text(R"(
    r1 = 1
    r2 = 2
    r3 = 3
    call reads_r3
    call calls_on
    exit
  reads_r3:
    r0 = r1
    if r0 > 5 goto done
    r0 += r3
  done:
    exit
  calls_on:
    call reads_r3
    exit
  )");
  ASSERT_TRUE(module);
  const std::string text = print(*module);
  EXPECT_NE(text.find("call local @fn_6 (i64 1, i64 2, i64 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("call local @fn_10 (undef, undef, undef, undef, undef)"), std::string::npos) << text;
}

TEST(IrLift, FramePointerAccessesStayRaw) {
  auto module = lift_text("*(u64 *)(r10 - 8) = -1\nr0 = *(u32 *)(r10 - 8)\nexit\n");
  ASSERT_TRUE(module);
  const std::string text = print(*module);
  EXPECT_NE(text.find("storeraw.64 %fp, -8, i64 -1  !0"), std::string::npos) << text;
  EXPECT_NE(text.find("%0 = loadraw.u32 %fp, -8  !1"), std::string::npos) << text;
}

TEST(IrLift, EntryThatIsAJumpTargetGetsItsOwnBlock) {
  auto module = lift_text("r1 += 1\nif r1 < 5 goto -2\nr0 = r1\nexit\n");
  ASSERT_TRUE(module);
  expect_round_trip(*module, "entry-loop");
  EXPECT_TRUE(module->functions()[0]->entry()->preds().empty());
}

TEST(IrLift, LongStraightLineAndDeepChainsDoNotRecurse) {
  // About 25 s under ASan (assembling the input, mostly): the release suite runs it.
  if (std::getenv("BPFKIT_SKIP_SLOW")) GTEST_SKIP() << "BPFKIT_SKIP_SLOW is set";
  std::string straight;
  for (int i = 0; i < 100000; ++i) straight += "r0 += 1\n";
  straight += "exit\n";
  auto module = lift_text("r0 = 0\n" + straight);
  ASSERT_TRUE(module);
  EXPECT_EQ(module->functions()[0]->inst_count(), 100001u);
  EXPECT_TRUE(validate(*module).has_value());
  // 15000 blocks in a chain, each jumping to the next, one loop around them.
  std::string chain = "r0 = 0\n";
  for (int i = 0; i < 15000; ++i) chain += "r0 += 1\ngoto +0\n";
  chain += "if r0 < 100000 goto -30001\nexit\n";
  auto chained = lift_text(chain);
  ASSERT_TRUE(chained);
  EXPECT_GT(chained->functions()[0]->blocks().size(), 15000u);
  auto valid = validate(*chained);
  EXPECT_TRUE(valid.has_value()) << to_string(valid.error());
  auto parsed = parse(print(*chained));
  ASSERT_TRUE(parsed.has_value());
}

TEST(IrLift, ConformanceCorpus) {
  const std::filesystem::path dir = std::filesystem::path(BPFKIT_SHARED_DIR) / "conformance" / "tests";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no corpus at " << dir;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".data") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  size_t lifted = 0;
  for (const auto& file : files) {
    auto opened = load::open_file(file.string());
    if (!opened) continue;  // tests of programs the loader refuses
    auto module = lift(opened->program);
    ASSERT_TRUE(module.has_value()) << file << ": " << to_string(module.error());
    expect_round_trip(**module, file.filename().string());
    ++lifted;
  }
  EXPECT_GT(lifted, files.size() * 9 / 10);
}

TEST(IrLift, CompiledTestObjects) {
  const std::filesystem::path dir(BPFKIT_TEST_BPF_DIR);
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no compiled BPF test programs (clang-19)";
  size_t lifted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".o") continue;
    auto bytes = load::read_file(entry.path().string());
    ASSERT_TRUE(bytes.has_value());
    auto object = elf::EbpfObject::parse(*bytes, entry.path().string());
    ASSERT_TRUE(object.has_value()) << to_string(object.error());
    for (const elf::ProgramInfo& info : object->info().programs) {  // every program of the object
      auto program = object->load_program(info);
      if (!program) {
        program.ignore();
        continue;  // a program the loader refuses is the loader's test
      }
      auto module = lift(*program);
      ASSERT_TRUE(module.has_value()) << entry.path() << ": " << to_string(module.error());
      expect_round_trip(**module, entry.path().filename().string());
      ++lifted;
    }
  }
  EXPECT_GT(lifted, 10u);
}

}  // namespace
}  // namespace bpfkit::ir

namespace bpfkit::ir {
namespace {

// Every row of the opcode table, in every dialect that has it, lifts to
// valid IR (the lifter has no row it cannot translate).
TEST(IrLift, EveryRowInEveryDialect) {
  size_t rows = 0, lifted = 0;
  std::string not_decoded;
  for (const isa::Dialect* dialect : {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2, &isa::kSbpfV3}) {
    for (const isa::OpInfo& row : isa::kOps) {
      if (!isa::has_row(row.op, *dialect)) continue;
      ++rows;
      const isa::Semantics s = isa::semantics(row.op, *dialect);
      std::vector<isa::Slot> slots;
      if (isa::is_lddw(row.op)) {
        const auto pair = isa::encode_lddw(1, row.op == isa::Op::lddw_func ? 2 : 0, row.op);
        slots = {pair[0], pair[1]};
      } else {
        // Only the fields the row's shape uses: decoders refuse the others set.
        const isa::ShapeInfo& shape = isa::shape_info(row.op);
        const bool callx = s.operation == isa::Operation::Callx;
        const uint8_t dst = shape.dst != isa::RegAccess::Unused || callx ? 1 : 0;
        const uint8_t src = shape.src != isa::RegAccess::Unused ? 2 : (callx && dialect->sbpf.callx_uses_src ? 1 : 0);
        int32_t imm = 0;
        if (shape.imm == isa::FieldUse::Value) imm = 1;
        if (s.operation == isa::Operation::CallLocal) imm = 1;  // over the first exit, to the second
        if (callx && dialect->family == isa::Family::Sbpf && !dialect->sbpf.callx_uses_src &&
            !dialect->sbpf.callx_uses_dst)
          imm = 1;
        slots = {isa::encode(row.op, dst, src, 0, imm)};
      }
      slots.push_back(isa::encode(isa::Op::exit));
      slots.push_back(isa::encode(isa::Op::exit));
      auto program = isa::decode(std::span<const isa::Slot>(slots), *dialect);
      if (!program) {
        not_decoded += std::string(dialect->name) + ":" + std::string(row.id) + " ";
        continue;
      }
      auto module = lift(*program);
      ASSERT_TRUE(module.has_value()) << dialect->name << " " << row.id << ": " << to_string(module.error());
      expect_round_trip(**module, std::string(dialect->name) + ":" + std::string(row.id));
      ++lifted;
    }
  }
  EXPECT_EQ(lifted, rows) << "not decoded: " << not_decoded;
}

}  // namespace
}  // namespace bpfkit::ir

namespace bpfkit::ir {
namespace {

// Code that falls into the next function's text runs in the same frame:
// it is lifted into the function that reaches it (here main runs f's body
// after calling it).
TEST(IrLift, FallingIntoTheNextFunctionStaysInTheFrame) {
  auto module = lift_text("call f\nr0 = 1\nf:\nr0 += 1\nexit\n");
  ASSERT_TRUE(module);
  expect_round_trip(*module, "fall-into");
  const std::string text = print(*module);
  EXPECT_NE(text.find("function @main origin 0 {\nb0:\n  %0 = call local @fn_2"), std::string::npos) << text;
  EXPECT_NE(text.find("%1 = add.64 i64 1, i64 1  !2\n  ret %1  !3\n}\n\nfunction @fn_2"), std::string::npos) << text;
}

}  // namespace
}  // namespace bpfkit::ir
