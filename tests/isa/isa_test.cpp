#include <algorithm>
// Module isa: the opcode table and its encoder, the properties derived from a
// row, decode() with every way it refuses input, and Error formatting.
//
// Expected encodings are written out from RFC 9669 rather than taken from the
// table, so that a wrong row cannot agree with itself.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

// GoogleTest finds these by argument-dependent lookup, so failures show
// "code=0x3f dst=1 ..." and row names instead of raw bytes. Internal linkage:
// other test files may print the same types their own way.
[[maybe_unused]] static void PrintTo(const Slot& slot, std::ostream* os) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "{code=0x%02x dst=%u src=%u off=%d imm=%d}", slot.code, slot.dst(), slot.src(),
                slot.off, slot.imm);
  *os << buf;
}
[[maybe_unused]] static void PrintTo(Op op, std::ostream* os) { *os << info(op).id; }

namespace {

// ---- Helpers ----------------------------------------------------------------

// Which register fields a shape uses, written from the Shape comments in
// isa.hpp (not from the decoder), so the two can disagree and be caught.
bool shape_uses_dst(Shape shape) {
  switch (shape) {
    case Shape::AluReg:
    case Shape::AluImm:
    case Shape::AluNeg:
    case Shape::MovSx:
    case Shape::Endian:
    case Shape::Lddw:
    case Shape::Load:
    case Shape::StoreImm:
    case Shape::StoreReg:
    case Shape::Atomic:
    case Shape::JumpImm:
    case Shape::JumpReg:
    case Shape::Callx: return true;
    default: return false;
  }
}

bool shape_uses_src(Shape shape) {
  switch (shape) {
    case Shape::AluReg:
    case Shape::MovSx:
    case Shape::LdInd:
    case Shape::Load:
    case Shape::StoreReg:
    case Shape::Atomic:
    case Shape::JumpReg: return true;
    default: return false;
  }
}

bool shape_has_memory_offset(Shape shape) {
  return shape == Shape::Load || shape == Shape::StoreImm || shape == Shape::StoreReg || shape == Shape::Atomic;
}

// One instruction of the row with legal operands: r1/r2 where registers are
// used, a stack-like offset on memory ops, a small imm where one is read, and
// branch offsets of 0 (the next slot, which the callers make an `exit`).
std::vector<Slot> legal_instruction(const OpInfo& row) {
  const uint8_t dst = shape_uses_dst(row.shape) ? 1 : 0;
  const uint8_t src = shape_uses_src(row.shape) ? 2 : 0;
  if (row.shape == Shape::Lddw) {
    const auto pair = encode_lddw(dst, 0x1122334455667788, row.op);
    return {pair[0], pair[1]};
  }
  const int16_t off = shape_has_memory_offset(row.shape) ? -8 : 0;
  const bool reads_imm = row.shape == Shape::AluImm || row.shape == Shape::StoreImm || row.shape == Shape::JumpImm ||
                         row.shape == Shape::Call || row.shape == Shape::CallKfunc || row.shape == Shape::LdAbs ||
                         row.shape == Shape::LdInd;
  return {encode(row.op, dst, src, off, reads_imm ? 7 : 0)};
}

std::string describe(const Error& error) { return std::string(errc_name(error.code)) + ": " + to_string(error); }

// Checks that decode() refused the program for the right reason at the right
// slot. Returns an AssertionResult so that a failure names the caller's line.
testing::AssertionResult Refused(const Expected<Program>& result, Errc code, std::optional<uint32_t> pc,
                                 std::string_view needle) {
  if (result) return testing::AssertionFailure() << "decode() accepted the program";
  const Error& error = result.error();
  if (error.code != code)
    return testing::AssertionFailure() << "code is " << errc_name(error.code) << ", want " << errc_name(code) << " ("
                                       << describe(error) << ")";
  if (error.location.pc != pc)
    return testing::AssertionFailure() << "pc is " << (error.location.pc ? std::to_string(*error.location.pc) : "unset")
                                       << ", want " << (pc ? std::to_string(*pc) : "unset") << " (" << describe(error)
                                       << ")";
  if (error.message.find(needle) == std::string::npos)
    return testing::AssertionFailure() << "message '" << error.message << "' lacks '" << needle << "'";
  return testing::AssertionSuccess();
}

Expected<Program> decode_slots(const std::vector<Slot>& slots, const Dialect& dialect = kLinuxV4) {
  return decode(std::span<const Slot>(slots), dialect);
}

const Slot kExit = encode(Op::exit);

// ---- The table ----------------------------------------------------------------

TEST(IsaTable, HasOneRowPerEncodingInEnumOrder) {
  // 173 Linux rows: RFC 9669's v1-v4 instructions plus the lddw pseudo
  // sources, the legacy packet loads, and the kernel's may_goto and
  // addr_space_cast; and 37 sBPF-only rows (v2's moved loads and stores,
  // hor64 and the PQR class). A change here means opcodes.def changed.
  EXPECT_EQ(kOps.size(), 210u);
  EXPECT_EQ(std::count_if(kOps.begin(), kOps.end(), [](const OpInfo& row) { return is_linux(row); }), 173);
  EXPECT_EQ(kOpCount, kOps.size());
  for (size_t i = 0; i < kOps.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(kOps[i].op), i) << kOps[i].id;
    EXPECT_EQ(&info(kOps[i].op), &kOps[i]) << kOps[i].id;
  }
}

TEST(IsaTable, EveryRowRoundTripsThroughEncodeAndLookup) {
  for (const OpInfo& row : kOps) {
    if (!is_linux(row)) continue;  // sBPF rows: sbpf_isa_test.cpp
    SCOPED_TRACE(row.id);
    const std::vector<Slot> slots = legal_instruction(row);
    const Slot& slot = slots[0];
    EXPECT_EQ(slot.code, row.code);
    EXPECT_EQ(lookup(slot), row.op);
    // The discriminator lands in the field the row names.
    switch (row.match) {
      case Match::None: break;
      case Match::Off: EXPECT_EQ(slot.off, row.value); break;
      case Match::Imm: EXPECT_EQ(slot.imm, row.value); break;
      case Match::Src: EXPECT_EQ(slot.src(), row.value); break;
    }
    // Registers land in their nibbles; fields the row does not use stay 0.
    EXPECT_EQ(slot.dst(), shape_uses_dst(row.shape) ? 1 : 0);
    if (row.match != Match::Src) {
      EXPECT_EQ(slot.src(), shape_uses_src(row.shape) ? 2 : 0);
    }
  }
}

TEST(IsaTable, EveryRowDecodesWithLegalOperands) {
  // Stronger than lookup(): the decoder's register, version and target checks
  // must all accept the row in the newest dialect.
  for (const OpInfo& row : kOps) {
    if (!is_linux(row)) continue;
    SCOPED_TRACE(row.id);
    std::vector<Slot> slots = legal_instruction(row);
    slots.push_back(kExit);
    auto program = decode_slots(slots);
    ASSERT_TRUE(program) << describe(program.error());
    EXPECT_EQ(program->ops[0], row.op);
    EXPECT_EQ(program->ops.back(), Op::exit);
  }
}

TEST(IsaTable, EncodeOverwritesTheDiscriminatorWithTheRowValue) {
  // Callers pass operands only; a stray value in the discriminating field must
  // not select another row.
  for (const OpInfo& row : kOps) {
    if (!is_linux(row)) continue;
    SCOPED_TRACE(row.id);
    const Slot slot = encode(row.op, 1, 9, 99, 99);
    EXPECT_EQ(lookup(slot), row.op);
    // The discriminating field holds the row's value, the others what was passed.
    EXPECT_EQ(slot.off, row.match == Match::Off ? row.value : 99);
    EXPECT_EQ(slot.imm, row.match == Match::Imm ? row.value : 99);
    EXPECT_EQ(slot.src(), row.match == Match::Src ? row.value : 9);
  }
}

TEST(IsaTable, LookupRejectsOpcodeBytesWithoutARow) {
  std::array<bool, 256> used{};
  for (const OpInfo& row : kOps)
    if (is_linux(row)) used[row.code] = true;
  int unused = 0;
  for (int code = 0; code < 256; ++code) {
    if (used[code]) continue;
    ++unused;
    EXPECT_EQ(lookup(Slot{.code = static_cast<uint8_t>(code)}), std::nullopt) << "code " << code;
  }
  EXPECT_GT(unused, 100);  // most bytes are not instructions
}

TEST(IsaTable, LookupRejectsUnknownDiscriminators) {
  EXPECT_EQ(lookup(Slot{.code = 0x3f, .off = 2}), std::nullopt);      // div with off 2
  EXPECT_EQ(lookup(Slot{.code = 0xdb, .imm = 0x02}), std::nullopt);   // atomic op 2
  EXPECT_EQ(lookup(Slot{.code = 0xd7, .imm = 8}), std::nullopt);      // bswap8
  EXPECT_EQ(lookup(Slot{.code = 0x18, .regs = 0x70}), std::nullopt);  // lddw src 7
  EXPECT_EQ(lookup(Slot{.code = 0xbf, .off = 7}), std::nullopt);      // movsx7
  EXPECT_EQ(lookup(Slot{.code = 0x85, .regs = 0x30}), std::nullopt);  // call src 3
}

// Exact bytes from RFC 9669 (section 3 and appendix A).
TEST(IsaEncode, SpotChecksAgainstRfc9669) {
  EXPECT_EQ(encode(Op::add64_imm, 1, 0, 0, 5), (Slot{.code = 0x07, .regs = 0x01, .off = 0, .imm = 5}));
  EXPECT_EQ(word_of(encode(Op::add64_imm, 1, 0, 0, 5)), 0x0000000500000107u);
  EXPECT_EQ(encode(Op::sdiv64_reg, 3, 4), (Slot{.code = 0x3f, .regs = 0x43, .off = 1}));
  EXPECT_EQ(encode(Op::smod32_imm, 3, 0, 0, -2), (Slot{.code = 0x94, .regs = 0x03, .off = 1, .imm = -2}));
  EXPECT_EQ(encode(Op::movsx16_32, 0, 1), (Slot{.code = 0xbc, .regs = 0x10, .off = 16}));
  EXPECT_EQ(encode(Op::movsx32_64, 0, 1), (Slot{.code = 0xbf, .regs = 0x10, .off = 32}));
  EXPECT_EQ(encode(Op::bswap64, 2), (Slot{.code = 0xd7, .regs = 0x02, .imm = 64}));
  EXPECT_EQ(encode(Op::be16, 2), (Slot{.code = 0xdc, .regs = 0x02, .imm = 16}));
  EXPECT_EQ(encode(Op::le32, 2), (Slot{.code = 0xd4, .regs = 0x02, .imm = 32}));
  EXPECT_EQ(encode(Op::atomic64_fetch_add, 10, 1, -8), (Slot{.code = 0xdb, .regs = 0x1a, .off = -8, .imm = 0x01}));
  EXPECT_EQ(encode(Op::atomic64_xchg, 10, 1), (Slot{.code = 0xdb, .regs = 0x1a, .imm = 0xe1}));
  EXPECT_EQ(encode(Op::atomic32_cmpxchg, 1, 2), (Slot{.code = 0xc3, .regs = 0x21, .imm = 0xf1}));
  EXPECT_EQ(encode(Op::atomic32_fetch_xor, 1, 2), (Slot{.code = 0xc3, .regs = 0x21, .imm = 0xa1}));
  EXPECT_EQ(encode(Op::gotol, 0, 0, 0, -3), (Slot{.code = 0x06, .imm = -3}));
  EXPECT_EQ(encode(Op::ja, 0, 0, 4), (Slot{.code = 0x05, .off = 4}));
  EXPECT_EQ(encode(Op::jlt64_reg, 1, 2, 3), (Slot{.code = 0xad, .regs = 0x21, .off = 3}));
  EXPECT_EQ(encode(Op::jsle32_imm, 1, 0, -1, 9), (Slot{.code = 0xd6, .regs = 0x01, .off = -1, .imm = 9}));
  EXPECT_EQ(encode(Op::call, 0, 0, 0, 5), (Slot{.code = 0x85, .imm = 5}));
  EXPECT_EQ(encode(Op::call_local, 0, 0, 0, 2), (Slot{.code = 0x85, .regs = 0x10, .imm = 2}));
  EXPECT_EQ(encode(Op::call_kfunc, 0, 0, 0, 77), (Slot{.code = 0x85, .regs = 0x20, .imm = 77}));
  EXPECT_EQ(encode(Op::callx, 2), (Slot{.code = 0x8d, .regs = 0x02}));
  EXPECT_EQ(encode(Op::exit), (Slot{.code = 0x95}));
  EXPECT_EQ(encode(Op::ldxsb, 0, 1, 3), (Slot{.code = 0x91, .regs = 0x10, .off = 3}));
  EXPECT_EQ(encode(Op::ldxdw, 0, 10, -8), (Slot{.code = 0x79, .regs = 0xa0, .off = -8}));
  EXPECT_EQ(encode(Op::stw, 1, 0, 2, 0x11), (Slot{.code = 0x62, .regs = 0x01, .off = 2, .imm = 0x11}));
  EXPECT_EQ(encode(Op::stxb, 10, 3, -1), (Slot{.code = 0x73, .regs = 0x3a, .off = -1}));
  EXPECT_EQ(encode(Op::lddw_map_value, 1), (Slot{.code = 0x18, .regs = 0x21}));
  EXPECT_EQ(encode(Op::ldabsh, 0, 0, 0, 12), (Slot{.code = 0x28, .imm = 12}));
}

TEST(IsaEncode, LddwSplitsTheImmediateOverTwoSlots) {
  // The `-- raw` words of the conformance suite's lddw.data.
  const auto pair = encode_lddw(0, 0x1122334455667788);
  EXPECT_EQ(word_of(pair[0]), 0x5566778800000018u);
  EXPECT_EQ(word_of(pair[1]), 0x1122334400000000u);
  EXPECT_EQ(slot_from_word(0x5566778800000018u), pair[0]);

  const auto all_ones = encode_lddw(3, ~uint64_t{0}, Op::lddw_map_fd);
  EXPECT_EQ(all_ones[0], (Slot{.code = 0x18, .regs = 0x13, .imm = -1}));
  EXPECT_EQ(all_ones[1], (Slot{.imm = -1}));
}

TEST(IsaEncode, ToBytesIsLittleEndianEightBytesPerSlot) {
  const std::vector<Slot> slots = {encode(Op::mov64_imm, 1, 0, 0, 0x01020304), encode(Op::ja, 0, 0, -2)};
  const std::vector<uint8_t> expected = {0xb7, 0x01, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01,
                                         0x05, 0x00, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(to_bytes(slots), expected);
  EXPECT_TRUE(to_bytes(std::span<const Slot>{}).empty());
}

TEST(IsaEncode, SlotRegisterAccessorsUseTheRightNibbles) {
  Slot slot;
  slot.set_dst(10);
  slot.set_src(3);
  EXPECT_EQ(slot.regs, 0x3a);
  slot.set_dst(1);  // must leave src alone
  EXPECT_EQ(slot.src(), 3);
  EXPECT_EQ(slot.dst(), 1);
}

// ---- Properties of rows ---------------------------------------------------------

TEST(IsaProperties, WritesDst) {
  for (Op op : {Op::add64_imm, Op::mov32_reg, Op::neg64, Op::movsx8_64, Op::le16, Op::bswap32, Op::lddw,
                Op::lddw_map_fd, Op::ldxw, Op::ldxsb})
    EXPECT_TRUE(writes_dst(op)) << info(op).id;
  // Stores and atomics write memory (fetches write src, cmpxchg writes r0),
  // packet loads write r0 implicitly, and control flow writes nothing.
  for (Op op :
       {Op::stw, Op::stxdw, Op::atomic64_add, Op::atomic64_fetch_add, Op::atomic32_cmpxchg, Op::ldabsw, Op::ldindb,
        Op::ja, Op::gotol, Op::jeq64_imm, Op::jne32_reg, Op::call, Op::call_local, Op::callx, Op::exit})
    EXPECT_FALSE(writes_dst(op)) << info(op).id;
}

TEST(IsaProperties, IsWide) {
  for (Op op : {Op::add64_imm, Op::mov64_reg, Op::neg64, Op::movsx32_64, Op::sdiv64_imm, Op::jeq64_imm, Op::jsle64_reg,
                Op::ja, Op::atomic64_add, Op::atomic64_cmpxchg, Op::lddw, Op::lddw_func})
    EXPECT_TRUE(is_wide(op)) << info(op).id;
  for (Op op : {Op::add32_imm, Op::mov32_reg, Op::neg32, Op::movsx8_32, Op::sdiv32_imm, Op::jeq32_imm, Op::jsle32_reg,
                Op::gotol, Op::atomic32_add, Op::atomic32_cmpxchg, Op::ldxdw, Op::stdw})
    EXPECT_FALSE(is_wide(op)) << info(op).id;
}

TEST(IsaProperties, AccessSize) {
  const std::pair<Op, int> sized[] = {
      {Op::ldxb, 1},   {Op::ldxh, 2},   {Op::ldxw, 4},   {Op::ldxdw, 8},        {Op::ldxsb, 1},         {Op::ldxsh, 2},
      {Op::ldxsw, 4},  {Op::stb, 1},    {Op::sth, 2},    {Op::stw, 4},          {Op::stdw, 8},          {Op::stxb, 1},
      {Op::stxh, 2},   {Op::stxw, 4},   {Op::stxdw, 8},  {Op::ldabsb, 1},       {Op::ldabsh, 2},        {Op::ldabsw, 4},
      {Op::ldindb, 1}, {Op::ldindh, 2}, {Op::ldindw, 4}, {Op::atomic32_add, 4}, {Op::atomic64_xchg, 8},
  };
  for (const auto& [op, size] : sized) EXPECT_EQ(access_size(op), size) << info(op).id;
  for (Op op : {Op::add64_imm, Op::mov32_reg, Op::lddw, Op::le64, Op::ja, Op::jeq64_reg, Op::call, Op::exit})
    EXPECT_EQ(access_size(op), 0) << info(op).id;
}

TEST(IsaProperties, AccessSizeIsSetExactlyForMemoryShapes) {
  for (const OpInfo& row : kOps) {
    if (!is_linux(row)) continue;
    const bool memory = shape_has_memory_offset(row.shape) || row.shape == Shape::LdAbs || row.shape == Shape::LdInd;
    const uint8_t size = access_size(row.op);
    if (memory)
      EXPECT_TRUE(size == 1 || size == 2 || size == 4 || size == 8) << row.id << " size " << int{size};
    else
      EXPECT_EQ(size, 0) << row.id;
    EXPECT_EQ(is_lddw(row.op), row.shape == Shape::Lddw) << row.id;
  }
}

// ---- decode(): programs it accepts ------------------------------------------------

TEST(Decode, AcceptsASmallProgram) {
  const auto wide = encode_lddw(1, 0xdeadbeefcafef00d);
  const std::vector<Slot> slots = {
      encode(Op::mov64_imm, 0, 0, 0, 1),  // 0
      wide[0],
      wide[1],                             // 1, 2
      encode(Op::jeq64_imm, 0, 0, 1, 1),   // 3: to 5
      encode(Op::add64_reg, 0, 1),         // 4
      encode(Op::call_local, 0, 0, 0, 1),  // 5: to 7
      kExit,                               // 6
      encode(Op::gotol, 0, 0, 0, -2),      // 7: to 6
  };
  auto program = decode_slots(slots);
  ASSERT_TRUE(program) << describe(program.error());
  EXPECT_EQ(program->size(), slots.size());
  EXPECT_EQ(program->slots, slots);
  const std::vector<std::optional<Op>> ops = {Op::mov64_imm, Op::lddw,       std::nullopt, Op::jeq64_imm,
                                              Op::add64_reg, Op::call_local, Op::exit,     Op::gotol};
  EXPECT_EQ(program->ops, ops);
  EXPECT_EQ(program->imm64(1), 0xdeadbeefcafef00du);
  EXPECT_EQ(branch_target(*program, 3), 5);
  EXPECT_EQ(branch_target(*program, 5), 7);
  EXPECT_EQ(branch_target(*program, 7), 6);

  // The byte overload reads the same program.
  auto from_bytes = decode(std::span<const uint8_t>(to_bytes(slots)));
  ASSERT_TRUE(from_bytes) << describe(from_bytes.error());
  EXPECT_EQ(from_bytes->slots, slots);
  EXPECT_EQ(from_bytes->ops, ops);
}

TEST(Decode, AcceptsR10WhereItIsOnlyRead) {
  // r10 may be a base address, a source operand, or the value stored by a
  // non-fetching atomic; only writes to it are refused.
  const std::vector<Slot> slots = {
      encode(Op::mov64_reg, 1, 10),
      encode(Op::stxdw, 10, 10, -8),
      encode(Op::ldxdw, 0, 10, -8),
      encode(Op::atomic64_add, 10, 10, -8),
      encode(Op::atomic64_cmpxchg, 10, 10, -8),
      encode(Op::jeq64_reg, 10, 10, 0),
      kExit,
  };
  auto program = decode_slots(slots);
  EXPECT_TRUE(program) << describe(program.error());
}

TEST(Decode, AcceptsJumpsToTheFirstAndLastSlot) {
  const std::vector<Slot> slots = {
      encode(Op::mov64_imm, 0, 0, 0, 0),
      encode(Op::jeq64_imm, 0, 0, 1, 1),  // to 3, the last slot
      encode(Op::ja, 0, 0, -3),           // to 0
      kExit,
  };
  auto program = decode_slots(slots);
  EXPECT_TRUE(program) << describe(program.error());
}

// ---- decode(): every refusal --------------------------------------------------------

TEST(DecodeErrors, EmptyProgram) {
  // No slot exists, so there is no pc to name.
  EXPECT_TRUE(Refused(decode_slots({}), Errc::Truncated, std::nullopt, "program is empty"));
  EXPECT_TRUE(Refused(decode(std::span<const uint8_t>{}), Errc::Truncated, std::nullopt, "program is empty"));
}

TEST(DecodeErrors, ByteLengthNotAMultipleOfEight) {
  std::vector<uint8_t> bytes = to_bytes(std::vector<Slot>{encode(Op::mov64_imm, 0, 0, 0, 1), kExit});
  bytes.resize(12);  // one whole slot and half of the next
  auto result = decode(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(Refused(result, Errc::Truncated, std::nullopt, "program size 12 is not a multiple of 8 bytes"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().location.offset, 8u);  // where the partial slot starts

  bytes.resize(3);
  result = decode(std::span<const uint8_t>(bytes));
  EXPECT_TRUE(Refused(result, Errc::Truncated, std::nullopt, "program size 3"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().location.offset, 0u);
}

TEST(DecodeErrors, UnknownOpcodeByte) {
  EXPECT_TRUE(Refused(decode_slots({Slot{.code = 0x00}}), Errc::BadOpcode, 0, "unknown opcode 0x00"));
  EXPECT_TRUE(Refused(decode_slots({encode(Op::mov64_imm), encode(Op::mov64_imm), Slot{.code = 0xff}, kExit}),
                      Errc::BadOpcode, 2, "unknown opcode 0xff"));
}

TEST(DecodeErrors, KnownByteWithUnknownDiscriminator) {
  const Slot mov = encode(Op::mov64_imm);
  EXPECT_TRUE(Refused(decode_slots({mov, Slot{.code = 0x3f, .regs = 0x21, .off = 2}, kExit}), Errc::BadOpcode, 1,
                      "unknown opcode 0x3f with offset 2"));
  EXPECT_TRUE(Refused(decode_slots({mov, Slot{.code = 0xdb, .regs = 0x21, .imm = 0x02}, kExit}), Errc::BadOpcode, 1,
                      "unknown opcode 0xdb with imm 2"));
  EXPECT_TRUE(Refused(decode_slots({mov, Slot{.code = 0xd7, .regs = 0x01, .imm = 8}, kExit}), Errc::BadOpcode, 1,
                      "unknown opcode 0xd7 with imm 8"));
  EXPECT_TRUE(Refused(decode_slots({mov, Slot{.code = 0x18, .regs = 0x71}, Slot{}, kExit}), Errc::BadOpcode, 1,
                      "unknown opcode 0x18 with src 7"));
  EXPECT_TRUE(Refused(decode_slots({mov, Slot{.code = 0xbf, .regs = 0x21, .off = 7}, kExit}), Errc::BadOpcode, 1,
                      "unknown opcode 0xbf with offset 7"));
}

TEST(DecodeErrors, RegisterOutOfRange) {
  Slot bad_dst = encode(Op::mov64_imm, 0, 0, 0, 1);
  bad_dst.set_dst(11);
  EXPECT_TRUE(Refused(decode_slots({encode(Op::mov64_imm), bad_dst, kExit}), Errc::BadRegister, 1,
                      "dst register r11 out of range"));
  Slot bad_src = encode(Op::add64_reg, 1, 0);
  bad_src.set_src(15);
  EXPECT_TRUE(Refused(decode_slots({encode(Op::mov64_imm), encode(Op::mov64_imm), bad_src, kExit}), Errc::BadRegister,
                      2, "src register r15 out of range"));
  Slot bad_load = encode(Op::ldxw, 0, 12, 4);
  EXPECT_TRUE(Refused(decode_slots({bad_load, kExit}), Errc::BadRegister, 0, "src register r12 out of range"));
}

TEST(DecodeErrors, NonzeroUnusedRegisterField) {
  const Slot mov = encode(Op::mov64_imm);
  Slot exit_with_dst = kExit;
  exit_with_dst.set_dst(1);
  EXPECT_TRUE(Refused(decode_slots({mov, exit_with_dst}), Errc::BadRegister, 1, "dst register field must be 0"));
  Slot imm_with_src = encode(Op::add64_imm, 1, 0, 0, 5);
  imm_with_src.set_src(2);
  EXPECT_TRUE(Refused(decode_slots({mov, imm_with_src, kExit}), Errc::BadRegister, 1, "src register field must be 0"));
  Slot ja_with_src = encode(Op::ja);
  ja_with_src.set_src(3);
  EXPECT_TRUE(Refused(decode_slots({ja_with_src, kExit}), Errc::BadRegister, 0, "src register field must be 0"));
  Slot call_with_dst = encode(Op::call, 0, 0, 0, 5);
  call_with_dst.set_dst(4);
  EXPECT_TRUE(Refused(decode_slots({call_with_dst, kExit}), Errc::BadRegister, 0, "dst register field must be 0"));
  Slot callx_with_src = encode(Op::callx, 2);
  callx_with_src.set_src(1);
  EXPECT_TRUE(Refused(decode_slots({callx_with_src, kExit}), Errc::BadRegister, 0, "src register field must be 0"));
  Slot ldabs_with_dst = encode(Op::ldabsw, 0, 0, 0, 4);
  ldabs_with_dst.set_dst(6);
  EXPECT_TRUE(Refused(decode_slots({ldabs_with_dst, kExit}), Errc::BadRegister, 0, "dst register field must be 0"));
}

TEST(DecodeErrors, WritesToR10) {
  const Slot mov = encode(Op::mov64_imm);
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::mov64_imm, 10, 0, 0, 1), kExit}), Errc::BadRegister, 1,
                      "r10 is read-only"));
  EXPECT_TRUE(
      Refused(decode_slots({mov, mov, encode(Op::ldxdw, 10, 1, 0), kExit}), Errc::BadRegister, 2, "r10 is read-only"));
  const auto wide = encode_lddw(10, 1);
  EXPECT_TRUE(Refused(decode_slots({wide[0], wide[1], kExit}), Errc::BadRegister, 0, "r10 is read-only"));
  // A fetching atomic writes the old value into src.
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::atomic64_fetch_add, 1, 10, 0), kExit}), Errc::BadRegister, 1,
                      "r10 is read-only"));
  EXPECT_TRUE(
      Refused(decode_slots({encode(Op::atomic32_xchg, 1, 10, 0), kExit}), Errc::BadRegister, 0, "r10 is read-only"));
}

TEST(DecodeErrors, LddwAsTheLastSlot) {
  const auto wide = encode_lddw(1, 5);
  EXPECT_TRUE(Refused(decode_slots({kExit, wide[0]}), Errc::Truncated, 1, "lddw is missing its second slot"));
}

TEST(DecodeErrors, LddwSecondSlotMustBeEmpty) {
  const auto wide = encode_lddw(1, 5);
  Slot with_code = wide[1];
  with_code.code = 0x95;
  EXPECT_TRUE(Refused(decode_slots({kExit, wide[0], with_code, kExit}), Errc::BadOpcode, 2,
                      "second slot of lddw must have opcode, registers and offset 0"));
  Slot with_regs = wide[1];
  with_regs.set_src(1);
  EXPECT_TRUE(Refused(decode_slots({wide[0], with_regs, kExit}), Errc::BadOpcode, 1, "second slot of lddw"));
  Slot with_off = wide[1];
  with_off.off = 1;
  EXPECT_TRUE(Refused(decode_slots({wide[0], with_off, kExit}), Errc::BadOpcode, 1, "second slot of lddw"));
}

TEST(DecodeErrors, JumpOutOfRange) {
  const Slot mov = encode(Op::mov64_imm);
  // JMP: the target is pc + 1 + off.
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::ja, 0, 0, 2), kExit}), Errc::OutOfRange, 1,
                      "jump target 4 is outside the program (0..2)"));
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::jne64_reg, 1, 2, -3), kExit}), Errc::OutOfRange, 1,
                      "jump target -1 is outside the program"));
  // One past the end is outside too.
  EXPECT_TRUE(Refused(decode_slots({encode(Op::jeq32_imm, 1, 0, 1, 0), kExit}), Errc::OutOfRange, 0,
                      "jump target 2 is outside"));
  // JMP32 gotol and local calls carry the offset in imm.
  EXPECT_TRUE(Refused(decode_slots({mov, mov, encode(Op::gotol, 0, 0, 0, 100), kExit}), Errc::OutOfRange, 2,
                      "jump target 103 is outside"));
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::gotol, 0, 0, 0, -5), kExit}), Errc::OutOfRange, 1,
                      "jump target -3 is outside"));
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::call_local, 0, 0, 0, 7), kExit}), Errc::OutOfRange, 1,
                      "jump target 9 is outside"));
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::call_local, 0, 0, 0, -3), kExit}), Errc::OutOfRange, 1,
                      "jump target -1 is outside"));
  // gotol's off field and a JMP's imm are not targets.
  EXPECT_TRUE(decode_slots({encode(Op::gotol, 0, 0, 100, 0), kExit}));
  EXPECT_TRUE(decode_slots({encode(Op::ja, 0, 0, 0, 100), kExit}));
}

TEST(DecodeErrors, JumpIntoTheMiddleOfAnLddw) {
  const auto wide = encode_lddw(1, 5);
  EXPECT_TRUE(Refused(decode_slots({encode(Op::ja, 0, 0, 1), wide[0], wide[1], kExit}), Errc::OutOfRange, 0,
                      "jump target 2 is the second slot of an lddw"));
  EXPECT_TRUE(Refused(decode_slots({wide[0], wide[1], encode(Op::jeq64_imm, 1, 0, -2, 0), kExit}), Errc::OutOfRange, 2,
                      "jump target 1 is the second slot of an lddw"));
  EXPECT_TRUE(Refused(decode_slots({encode(Op::call_local, 0, 0, 0, 1), wide[0], wide[1], kExit}), Errc::OutOfRange, 0,
                      "second slot of an lddw"));
}

TEST(DecodeErrors, IsaVersionGating) {
  constexpr Dialect v3{"v3", IsaVersion::V3, 8, 512};
  const Slot mov = encode(Op::mov64_imm);
  // v4 additions are refused, naming the version needed and the dialect.
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::sdiv64_imm, 1, 0, 0, 3), kExit}, v3), Errc::BadOpcode, 1,
                      "'sdiv' needs ISA v4 (dialect v3 has v3)"));
  EXPECT_TRUE(
      Refused(decode_slots({mov, encode(Op::movsx8_64, 1, 2), kExit}, v3), Errc::BadOpcode, 1, "'movs' needs ISA v4"));
  EXPECT_TRUE(
      Refused(decode_slots({mov, encode(Op::bswap16, 1), kExit}, v3), Errc::BadOpcode, 1, "'bswap' needs ISA v4"));
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::gotol), kExit}, v3), Errc::BadOpcode, 1, "'jal' needs ISA v4"));
  EXPECT_TRUE(Refused(decode_slots({encode(Op::ldxsw, 0, 1, 0), kExit}, v3), Errc::BadOpcode, 0, "needs ISA v4"));
  // v3 has JMP32, atomics and local calls.
  auto accepted = decode_slots({encode(Op::jeq32_imm, 1, 0, 0, 0), encode(Op::atomic64_fetch_add, 10, 1, -8),
                                encode(Op::call_local, 0, 0, 0, 0), kExit},
                               v3);
  EXPECT_TRUE(accepted) << describe(accepted.error());

  constexpr Dialect v1{"v1", IsaVersion::V1, 8, 512};
  EXPECT_TRUE(Refused(decode_slots({mov, encode(Op::jlt64_imm, 1, 0, 0, 5), kExit}, v1), Errc::BadOpcode, 1,
                      "'jlt' needs ISA v2 (dialect v1 has v1)"));
  constexpr Dialect v2{"v2", IsaVersion::V2, 8, 512};
  auto jlt = decode_slots({mov, encode(Op::jlt64_imm, 1, 0, 0, 5), kExit}, v2);
  EXPECT_TRUE(jlt) << describe(jlt.error());
  EXPECT_TRUE(Refused(decode_slots({encode(Op::jeq32_imm, 1, 0, 0, 5), kExit}, v2), Errc::BadOpcode, 0,
                      "'jeq32' needs ISA v3"));
}

// ---- Error formatting -----------------------------------------------------------

TEST(IsaErrorFormat, WithPc) {
  EXPECT_EQ(to_string(make_error(Errc::BadOpcode, "unknown opcode 0xff", at_pc(12))), "pc 12: unknown opcode 0xff");
}

TEST(IsaErrorFormat, WithFileLineAndColumn) {
  Location where;
  where.input = "prog.s";
  where.line = 3;
  where.column = 7;
  EXPECT_EQ(to_string(make_error(Errc::BadOperand, "bad", where)), "prog.s:3:7: bad");
  where.column = 0;  // unknown column: omitted
  EXPECT_EQ(to_string(make_error(Errc::BadOperand, "bad", where)), "prog.s:3: bad");
}

TEST(IsaErrorFormat, WithOffset) {
  Location where;
  where.offset = 0x3a;
  EXPECT_EQ(to_string(make_error(Errc::Truncated, "short", where)), "0x3a: short");
  where.input = "prog.o";
  EXPECT_EQ(to_string(make_error(Errc::Truncated, "short", where)), "prog.o: 0x3a: short");
}

TEST(IsaErrorFormat, WithNoLocationAndWithInputAndPc) {
  EXPECT_EQ(to_string(make_error(Errc::Io, "cannot read")), "cannot read");
  Location where = at_pc(4);
  where.input = "prog.bin";
  EXPECT_EQ(to_string(make_error(Errc::OutOfRange, "far", where)), "prog.bin: pc 4: far");
}

TEST(IsaErrorFormat, ErrcNamesAreSnakeCase) {
  EXPECT_STREQ(errc_name(Errc::Truncated), "truncated");
  EXPECT_STREQ(errc_name(Errc::BadOpcode), "bad_opcode");
  EXPECT_STREQ(errc_name(Errc::BadRegister), "bad_register");
  EXPECT_STREQ(errc_name(Errc::OutOfRange), "out_of_range");
  EXPECT_STREQ(errc_name(Errc::CallDepthExceeded), "call_depth_exceeded");
}

TEST(IsaErrorFormat, DetailCodesCarryTheirDomainsNames) {
  const Error vm = make_error(Errc::DivideByZero, SbpfVmErrc::DivideOverflow, "x");
  EXPECT_EQ(vm.domain, Domain::SbpfVm);
  EXPECT_EQ(vm.name(), "DivideOverflow");
  EXPECT_TRUE(vm.is(SbpfVmErrc::DivideOverflow));
  EXPECT_FALSE(vm.is(SbpfVmErrc::DivideByZero));
  EXPECT_FALSE(vm.is(SbpfVerifierErrc::DivisionByZero));  // same number, other domain
  EXPECT_EQ(make_error(Errc::BadOpcode, SbpfVerifierErrc::UnknownOpCode, "x").name(), "UnknownOpCode");
  EXPECT_EQ(make_error(Errc::BadHeader, "x").name(), "");
  EXPECT_EQ(detail_name(Domain::SbpfVm, 0xffff), "");
  EXPECT_STREQ(domain_name(Domain::SbpfLoader), "sbpf_loader");
}

TEST(IsaErrorFormat, ExpectedNeverThrows) {
  Expected<int> failed = make_error(Errc::Io, "gone");
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message, "gone");
  Expected<int> moved = std::move(failed);
  EXPECT_FALSE(moved);
  Expected<void> ok;
  EXPECT_TRUE(ok.has_value());
  // Reading a value that is not there is a bug in the caller: it stops the
  // program with a message instead of throwing.
  EXPECT_DEATH((void)*Expected<int>(make_error(Errc::Io, "gone")), "holding an error");
  EXPECT_DEATH((void)ok.error(), "holding no error");
}

TEST(IsaMapTypes, NamesAreLibbpfsForEveryKernelType) {
  EXPECT_EQ(map_type_name(1), "hash");
  EXPECT_EQ(map_type_name(static_cast<uint32_t>(MapType::DevMapHash)), "devmap_hash");
  EXPECT_EQ(map_type_name(27), "ringbuf");
  EXPECT_EQ(map_type_name(33), "arena");
  // Every id up to the last the kernel defines has a name; one past it has none.
  for (uint32_t id = 0; id <= 33; ++id) EXPECT_FALSE(map_type_name(id).empty()) << id;
  EXPECT_EQ(map_type_name(34), "");
  EXPECT_EQ(describe_map_type(14), "devmap (14)");
  EXPECT_EQ(describe_map_type(1000), "type 1000");
}

#if BPFKIT_CHECKED_ERRORS
TEST(IsaErrorFormat, UncheckedErrorsAbortInCheckedBuilds) {
  EXPECT_DEATH({ Expected<int> dropped = make_error(Errc::Io, "dropped"); }, "never checked");
  EXPECT_DEATH({ Expected<void> dropped = make_error(Errc::Io, "dropped"); }, "never checked");
  {
    Expected<int> looked_at = make_error(Errc::Io, "seen");
    EXPECT_FALSE(looked_at);
  }
}
#endif

}  // namespace
}  // namespace bpfkit::isa
