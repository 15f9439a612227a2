// The text form: every opcode prints and parses back to the same text, and
// parser errors name line:column.
#include <gtest/gtest.h>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {
namespace {

// Printed exactly as print() prints it: parse(kEveryOpcode) prints it again.
constexpr std::string_view kEveryOpcode = R"(dialect linux

function @main origin 0 {
b0:
  %0 = add.64 %arg1, i64 1  !0
  %1 = sub.32.zext %0, i32 -1  !1
  %2 = mul.32.sext %1, %arg2
  %3 = div.64 %2, i64 0x100000000
  %4 = sdiv.64 %3, i64 -7
  %5 = mod.32.zext %4, i32 3
  %6 = smod.64 %5, %arg3
  %7 = or.64 %6, i64 0xffffffff00000000
  %8 = and.64 %7, i64 255
  %9 = xor.64 %8, %8
  %10 = lsh.64 %9, i64 3
  %11 = rsh.32.zext %10, i32 1
  %12 = arsh.64 %11, i64 63
  %13 = uhmul.64 %12, %12
  %14 = shmul.64 %13, %12
  %15 = neg.32.zext %14
  %16 = sext.8.64 %15
  %17 = sext.16.32 %16
  %18 = zext.32 %17
  %19 = bswap.16 %18
  %20 = le.32 %19
  %21 = be.64 %20
  %22 = addr_space_cast %21, 1
  %23 = assign %22
  %24 = alloc 8
  %25 = allocarray 4, 16
  store.32 %24, 4, i32 7
  %26 = load.u32 %24, 4
  %27 = load.s16 %25, 2
  storeraw.64 %fp, -8, %27
  %28 = loadraw.s32 %fp, -8
  atomic.add.64 %fp, -16, %28
  %29 = atomic.or.32.fetch %fp, -16, %26
  %30 = atomic.xchg.64 %fp, -16, %29
  %31 = atomic.cmpxchg.64 %fp, -16, %30, %29
  %32 = ldabs.32 %arg1, 14
  %33 = ldind.8 %arg1, %32, 2
  %34 = call helper 1 (map_fd(3), %fp)
  %35 = call local @callee (%34, undef)
  %36 = call kfunc 1234, 2 ()
  %37 = call indirect %35 (i64 1)
  %38 = call helper 2 (map_value(3, 16), map_idx(0), map_idx_value(1, -8), btf_id(5, 0), func(@callee))
  %39 = core.mov64_imm 0, 8, 0
  %40 = core.add64_imm %38, 0, 24, 1
  %41 = core.ldxw %40, 12, 0, 2
  core.stxdw %fp, %41, -24, 0, 3
  core.sth %40, 6, 7, 4
  %42 = core.lddw 0, -4294967296, 5
  br.set.32 %33, i32 16, b1, b2
b1:  ; preds b0
  ja b3
b2:  ; preds b0
  may_goto b3, b4
b3:  ; preds b1, b2
  %43 = phi [%36, b1], [%37, b2]
  ret %43
b4:  ; preds b2
  throw
}

function @callee origin 40 {
b0:
  ret %arg1
}
)";

TEST(IrText, EveryOpcodePrintsAndParsesBack) {
  auto module = parse(kEveryOpcode, "every.ir");
  ASSERT_TRUE(module.has_value()) << to_string(module.error());
  EXPECT_EQ(print(**module), kEveryOpcode);
  auto valid = validate(**module);
  EXPECT_TRUE(valid.has_value()) << to_string(valid.error());
}

TEST(IrText, SbpfSyscallsAndDialect) {
  constexpr std::string_view text = R"(dialect sbpf-v3

function @entrypoint {
b0:
  %0 = call syscall 0xb6fc1a11 (%arg1, i64 5)
  ret %0
}
)";
  auto module = parse(text);
  ASSERT_TRUE(module.has_value()) << to_string(module.error());
  EXPECT_EQ(print(**module), text);
  EXPECT_EQ((*module)->dialect().name, "sbpf-v3");
}

TEST(IrText, NamesAndNumberingAreNormalised) {
  // Any names, any order of definition: printing numbers them in layout order.
  constexpr std::string_view text = R"(dialect linux
function @f {
entry: ja loop
loop:
  %i = phi [i64 0, entry], [%next, loop]
  %next = add.64 %i, i64 1
  br.lt.64 %next, i64 10, loop, done   ; back edge
done: ret %next
}
)";
  auto module = parse(text);
  ASSERT_TRUE(module.has_value()) << to_string(module.error());
  const std::string printed = print(**module);
  EXPECT_NE(printed.find("%0 = phi [i64 0, b0], [%1, b1]"), std::string::npos) << printed;
  auto again = parse(printed);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(print(**again), printed);
  EXPECT_TRUE(validate(**again).has_value());
}

struct BadText {
  std::string_view text;
  std::string_view where;    // "line:col"
  std::string_view message;  // part of it
};

class IrParseErrors : public ::testing::TestWithParam<BadText> {};

TEST_P(IrParseErrors, NameLineAndColumn) {
  auto module = parse(GetParam().text, "bad.ir");
  ASSERT_FALSE(module.has_value());
  const std::string text = to_string(module.error());
  EXPECT_NE(text.find(std::string("bad.ir:") + std::string(GetParam().where) + ":"), std::string::npos) << text;
  EXPECT_NE(text.find(GetParam().message), std::string::npos) << text;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IrParseErrors,
    ::testing::Values(
        BadText{"dialect nope\n", "1:9", "unknown dialect"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  %0 = frob.64 %arg1\n}\n", "4:8", "unknown instruction"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  ret %7\n}\n", "4:7", "no value %7"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  ja b9\n}\n", "4:6", "no block b9"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  ret i32 4294967296\n}\n", "4:11", "does not fit"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  add.64 %arg1, %arg2\n}\n", "4:3", "defines a value"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  %0 = call local @g ()\n  ret %0\n}\n", "4:19", "no function @g"},
        BadText{"dialect linux\nfunction @f {\n  ret %arg1\n}\n", "3:3", "before the first block"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  ret %arg1 #\n}\n", "4:13", "unexpected character"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  %0 = alloc -1\n", "4:14", "out of range"},
        BadText{"dialect linux\nfunction @f {\nb0:\n  ret %arg1\n", "5:1", "the end of the input"}));

}  // namespace
}  // namespace bpfkit::ir
