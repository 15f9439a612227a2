// sBPF in the isa module: the version profiles, Murmur3-32, and the decoder
// that applies the production verifier's rules (anza-xyz/sbpf
// `RequisiteVerifier`, Firedancer `fd_vm_validate`).
#include <cstdio>
#include <cstring>

#include "bpfkit/isa.hpp"
#include "internal.hpp"

namespace bpfkit::isa {

const Dialect* sbpf_dialect(uint32_t version) {
  switch (version) {
    case 0: return &kSbpfV0;
    case 1: return &kSbpfV1;
    case 2: return &kSbpfV2;
    case 3: return &kSbpfV3;
    default: return nullptr;
  }
}

uint32_t murmur3_32(std::span<const uint8_t> bytes) {
  constexpr uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  uint32_t hash = 0;
  const size_t blocks = bytes.size() / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k;
    std::memcpy(&k, bytes.data() + i * 4, 4);
    k *= c1;
    k = std::rotl(k, 15);
    k *= c2;
    hash ^= k;
    hash = std::rotl(hash, 13);
    hash = hash * 5 + 0xe6546b64;
  }
  uint32_t tail = 0;
  const uint8_t* rest = bytes.data() + blocks * 4;
  switch (bytes.size() & 3) {
    case 3: tail ^= uint32_t{rest[2]} << 16; [[fallthrough]];
    case 2: tail ^= uint32_t{rest[1]} << 8; [[fallthrough]];
    case 1:
      tail ^= rest[0];
      tail *= c1;
      tail = std::rotl(tail, 15);
      tail *= c2;
      hash ^= tail;
  }
  hash ^= static_cast<uint32_t>(bytes.size());
  hash ^= hash >> 16;
  hash *= 0x85ebca6b;
  hash ^= hash >> 13;
  hash *= 0xc2b2ae35;
  hash ^= hash >> 16;
  return hash;
}

uint32_t sbpf_pc_key(uint64_t pc) {
  uint8_t bytes[8];
  std::memcpy(bytes, &pc, 8);
  return murmur3_32(std::span<const uint8_t>(bytes, 8));
}

// ---- Which row an sBPF version gives each opcode byte -------------------------

namespace {

bool is_base_alu(const OpInfo& row) {
  const uint8_t klass = op_class(row.code);
  return (klass == cls::kAlu || klass == cls::kAlu64) && row.shape != Shape::Endian && row.match == Match::Off &&
         row.value == 0;
}

bool is_mul_div_mod(const OpInfo& row) {
  const uint8_t operation = row.code & 0xf0;
  return is_base_alu(row) && (operation == 0x20 || operation == 0x30 || operation == 0x90);
}

bool is_neg(const OpInfo& row) { return row.shape == Shape::AluNeg; }

bool is_legacy_memory(const OpInfo& row) {
  const bool memory = row.shape == Shape::Load || row.shape == Shape::StoreImm || row.shape == Shape::StoreReg;
  return memory && (row.code & 0xe0) == 0x60;  // BPF_MEM mode; sign-extending loads are v4 Linux only
}

bool is_conditional_jump(const OpInfo& row) { return row.shape == Shape::JumpImm || row.shape == Shape::JumpReg; }

// Whether the sBPF version has the Linux row (keyed by the opcode byte only).
bool linux_row_in_sbpf(const OpInfo& row, const SbpfFeatures& f) {
  if (is_base_alu(row)) {
    if (is_mul_div_mod(row)) return !f.enable_pqr;
    if (is_neg(row)) return !f.disable_neg;
    return true;
  }
  switch (row.op) {
    case Op::le16:
    case Op::le32:
    case Op::le64: return !f.disable_le;
    case Op::be16:
    case Op::be32:
    case Op::be64: return true;
    case Op::lddw: return !f.disable_lddw;
    case Op::ja:
    case Op::call:  // src tells v3's syscalls and local calls apart; see lookup()
    case Op::callx:
    case Op::exit: return true;
    default: break;
  }
  if (is_legacy_memory(row)) return !f.move_memory_classes;
  if (is_conditional_jump(row)) return op_class(row.code) == cls::kJmp || f.enable_jmp32;
  return false;
}

bool sbpf_row_in_version(const OpInfo& row, const SbpfFeatures& f) {
  if (row.op == Op::hor64_imm) return f.disable_lddw;
  if (op_class(row.code) == cls::kJmp32) return f.enable_pqr;  // the PQR class
  return f.move_memory_classes;
}

// Per opcode byte: the row, or for le/be (told apart by imm) the first of them.
struct ByteTable {
  std::array<std::optional<Op>, 256> row{};
};

ByteTable build_byte_table(const Dialect& dialect) {
  ByteTable table;
  for (const OpInfo& row : kOps) {
    const bool present = is_linux(row) ? linux_row_in_sbpf(row, dialect.sbpf) : sbpf_row_in_version(row, dialect.sbpf);
    if (present && !table.row[row.code]) table.row[row.code] = row.op;
  }
  return table;
}

const ByteTable& byte_table(const Dialect& dialect) {
  static const ByteTable tables[] = {build_byte_table(kSbpfV0), build_byte_table(kSbpfV1), build_byte_table(kSbpfV2),
                                     build_byte_table(kSbpfV3)};
  return tables[dialect.sbpf_version < 4 ? dialect.sbpf_version : 3];
}

std::optional<Op> endian_row(const Slot& slot) {
  const bool little = slot.code == 0xd4;
  switch (slot.imm) {
    case 16: return little ? Op::le16 : Op::be16;
    case 32: return little ? Op::le32 : Op::be32;
    case 64: return little ? Op::le64 : Op::be64;
    default: return std::nullopt;
  }
}

}  // namespace

bool has_row(Op op, const Dialect& dialect) {
  const OpInfo& row = info(op);
  if (dialect.family != Family::Sbpf) return is_linux(row) && row.since <= dialect.isa;
  if (op == Op::call_local) return dialect.sbpf.static_syscalls;  // v3: call src 1
  return is_linux(row) ? linux_row_in_sbpf(row, dialect.sbpf) : sbpf_row_in_version(row, dialect.sbpf);
}

std::optional<Op> lookup(const Slot& slot, const Dialect& dialect) {
  if (dialect.family != Family::Sbpf) return lookup(slot);
  const std::optional<Op> op = byte_table(dialect).row[slot.code];
  if (!op) return std::nullopt;
  if (info(*op).shape == Shape::Endian) return endian_row(slot);
  if (*op == Op::call && dialect.sbpf.static_syscalls) {
    if (slot.src() == 0) return Op::call;
    if (slot.src() == 1) return Op::call_local;
    return std::nullopt;
  }
  return op;
}

// ---- The production verifier's rules ---------------------------------------------

namespace {

Error verifier_error(uint32_t pc, Errc code, SbpfVerifierErrc detail, std::string message) {
  return make_error(code, detail, std::move(message), at_pc(pc));
}

bool is_store(const OpInfo& row) { return row.shape == Shape::StoreImm || row.shape == Shape::StoreReg; }

bool divides_by_imm(const OpInfo& row) {
  if (row.shape != Shape::AluImm) return false;
  if (!is_linux(row)) {
    // PQR: bits 7..5 are the operation; udiv, urem, sdiv and srem divide.
    const uint8_t operation = row.code & 0xe0;
    return op_class(row.code) == cls::kJmp32 &&
           (operation == 0x40 || operation == 0x60 || operation == 0xc0 || operation == 0xe0);
  }
  const uint8_t operation = row.code & 0xf0;
  return operation == 0x30 || operation == 0x90;
}

int shift_limit(const OpInfo& row) {
  if (row.shape != Shape::AluImm || !is_linux(row)) return 0;
  const uint8_t operation = row.code & 0xf0;
  if (operation != 0x60 && operation != 0x70 && operation != 0xc0) return 0;
  return op_class(row.code) == cls::kAlu64 ? 64 : 32;
}

Expected<void> check_sbpf_registers(uint32_t pc, const Slot& slot, const OpInfo& row, const Dialect& dialect) {
  if (slot.src() > 10)
    return verifier_error(pc, Errc::BadRegister, SbpfVerifierErrc::InvalidSourceRegister,
                          "invalid source register r" + std::to_string(slot.src()));
  if (slot.dst() <= 9) return {};
  if (slot.dst() == 10) {
    if (is_store(row)) return {};
    if (row.op == Op::add64_imm && dialect.sbpf.manual_stack_frame_bump) return {};
    return verifier_error(pc, Errc::BadRegister, SbpfVerifierErrc::CannotWriteR10, "cannot write into register r10");
  }
  return verifier_error(pc, Errc::BadRegister, SbpfVerifierErrc::InvalidDestinationRegister,
                        "invalid destination register r" + std::to_string(slot.dst()));
}

Expected<void> check_sbpf_operands(uint32_t pc, const Slot& slot, const OpInfo& row, const Dialect& dialect) {
  if (divides_by_imm(row) && slot.imm == 0)
    return verifier_error(pc, Errc::BadOperand, SbpfVerifierErrc::DivisionByZero, "division by an immediate 0");
  if (const int limit = shift_limit(row); limit != 0 && (slot.imm < 0 || slot.imm >= limit))
    return verifier_error(pc, Errc::BadOperand, SbpfVerifierErrc::ShiftWithOverflow,
                          "shift of a " + std::to_string(limit) + "-bit value by " + std::to_string(slot.imm));
  if (row.op == Op::add64_imm && slot.dst() == kFramePointer && dialect.sbpf.manual_stack_frame_bump &&
      (slot.imm & 63) != 0)
    return verifier_error(pc, Errc::BadOperand, SbpfVerifierErrc::UnalignedImmediate,
                          "stack pointer adjustment " + std::to_string(slot.imm) + " is not a multiple of 64");
  if (row.op == Op::callx && (callx_register(slot, dialect) < 0 || callx_register(slot, dialect) > 9))
    return verifier_error(pc, Errc::BadRegister, SbpfVerifierErrc::InvalidRegister, "callx names an invalid register");
  return {};
}

Expected<void> check_sbpf_target(const std::span<const Slot> slots, uint32_t pc, const OpInfo& row) {
  const std::optional<int64_t> found = branch_target(row.op, slots[pc], pc);
  if (!found) return {};
  const int64_t target = *found;
  const bool local_call = shape_info(row.shape).flow == Flow::Call;
  if (target < 0 || target >= static_cast<int64_t>(slots.size())) {
    if (local_call)
      return verifier_error(pc, Errc::OutOfRange, SbpfVerifierErrc::InvalidFunction,
                            "call target " + std::to_string(target) + " is outside the program");
    return verifier_error(pc, Errc::OutOfRange, SbpfVerifierErrc::JumpOutOfCode,
                          "jump out of code to " + std::to_string(target));
  }
  if (slots[static_cast<size_t>(target)].code == 0)
    return verifier_error(pc, Errc::OutOfRange,
                          local_call ? SbpfVerifierErrc::InvalidFunction : SbpfVerifierErrc::JumpToMiddleOfLDDW,
                          "jump to the middle of an lddw at " + std::to_string(target));
  return {};
}

std::string hex_code(uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", code);
  return text;
}

}  // namespace

Expected<Program> decode_sbpf(std::span<const Slot> slots, const Dialect& dialect) {
  if (slots.empty()) return verifier_error(0, Errc::Truncated, SbpfVerifierErrc::NoProgram, "program is empty");
  Program program = detail::start_program(slots, dialect);
  for (size_t index = 0; index < slots.size(); ++index) {
    const auto pc = static_cast<uint32_t>(index);
    const Slot& slot = slots[index];
    const std::optional<Op> op = lookup(slot, dialect);
    if (!op) {
      if ((slot.code == 0xd4 || slot.code == 0xdc) && byte_table(dialect).row[slot.code])
        return verifier_error(pc, Errc::BadOperand, SbpfVerifierErrc::UnsupportedLEBEArgument,
                              "unsupported width " + std::to_string(slot.imm) + " for le/be");
      return verifier_error(pc, Errc::BadOpcode, SbpfVerifierErrc::UnknownOpCode,
                            "unknown opcode " + hex_code(slot.code) + " in " + std::string(dialect.name));
    }
    const OpInfo& row = info(*op);
    if (auto ok = check_sbpf_operands(pc, slot, row, dialect); !ok) return ok.error();
    if (auto ok = check_sbpf_target(slots, pc, row); !ok) return ok.error();
    if (auto ok = check_sbpf_registers(pc, slot, row, dialect); !ok) return ok.error();
    program.ops[index] = op;
    if (row.shape != Shape::Lddw) continue;
    if (index + 1 >= slots.size())
      return verifier_error(pc, Errc::Truncated, SbpfVerifierErrc::LDDWCannotBeLast,
                            "lddw cannot be the last instruction");
    if (slots[index + 1].code != 0)
      return verifier_error(pc, Errc::BadOpcode, SbpfVerifierErrc::IncompleteLDDW,
                            "second slot of lddw must have opcode 0");
    ++index;  // ops[index] stays nullopt
  }
  return program;
}

}  // namespace bpfkit::isa
