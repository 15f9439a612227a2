// Bytes to a checked Program. Every error names the slot index (pc).
#include <cstdio>
#include <cstring>

#include "bpfkit/isa.hpp"
#include "internal.hpp"

namespace bpfkit::isa {
namespace {

// Whether the src field is the row's discriminator rather than a register.
bool src_is_discriminator(const OpInfo& row) { return row.match == Match::Src; }

std::string hex_byte(uint8_t value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", value);
  return buf;
}

Error at(uint32_t pc, Errc code, std::string message) { return make_error(code, std::move(message), at_pc(pc)); }

std::string describe_unknown(const Slot& slot) {
  std::string message = "unknown opcode " + hex_byte(slot.code);
  // Say which field failed when the byte itself is known.
  for (const OpInfo& row : kOps) {
    if (row.code != slot.code) continue;
    switch (row.match) {
      case Match::Off: return message + " with offset " + std::to_string(slot.off);
      case Match::Imm: return message + " with imm " + std::to_string(slot.imm);
      case Match::Src: return message + " with src " + std::to_string(slot.src());
      case Match::None: break;
    }
  }
  return message;
}

std::string version_message(const OpInfo& row, const Dialect& dialect) {
  std::string message = "'";  // built by appending: GCC 12 warns (-Wrestrict) on "'" + string
  message.append(row.gnu).append("' needs ISA v").append(std::to_string(static_cast<int>(row.since)));
  message.append(" (dialect ").append(dialect.name).append(" has v");
  return message.append(std::to_string(static_cast<int>(dialect.isa))).append(")");
}

Expected<void> check_registers(uint32_t pc, const Slot& slot, const OpInfo& row) {
  const ShapeInfo& shape = shape_info(row.shape);
  const bool dst_used = shape.dst != RegAccess::Unused, src_used = shape.src != RegAccess::Unused;
  std::string name = "'";  // built by appending: GCC 12 warns (-Wrestrict) on "'" + string
  name.append(row.gnu).append("'");
  if (dst_used && slot.dst() >= kRegisterCount)
    return at(pc, Errc::BadRegister, "dst register r" + std::to_string(slot.dst()) + " out of range in " + name);
  if (!dst_used && slot.dst() != 0) return at(pc, Errc::BadRegister, "dst register field must be 0 in " + name);
  if (src_used && slot.src() >= kRegisterCount)
    return at(pc, Errc::BadRegister, "src register r" + std::to_string(slot.src()) + " out of range in " + name);
  if (!src_used && !src_is_discriminator(row) && slot.src() != 0)
    return at(pc, Errc::BadRegister, "src register field must be 0 in " + name);
  if (regs_written(row.op, slot).contains(kFramePointer))
    return at(pc, Errc::BadRegister, "r10 is read-only (written by " + name + ")");
  return {};
}

Expected<void> check_targets(const Program& program) {
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const std::optional<int64_t> found = branch_target(*program.ops[pc], program.slots[pc], static_cast<int64_t>(pc));
    if (!found) continue;
    const int64_t target = *found;
    const auto here = static_cast<uint32_t>(pc);
    if (target < 0 || target >= static_cast<int64_t>(program.size()))
      return at(here, Errc::OutOfRange,
                "jump target " + std::to_string(target) + " is outside the program (0.." +
                    std::to_string(program.size() - 1) + ")");
    if (!program.ops[static_cast<size_t>(target)])
      return at(here, Errc::OutOfRange, "jump target " + std::to_string(target) + " is the second slot of an lddw");
  }
  return {};
}

}  // namespace

Expected<Program> decode_sbpf(std::span<const Slot> slots, const Dialect& dialect);  // sbpf.cpp

Expected<Program> decode(std::span<const Slot> slots, const Dialect& dialect) {
  if (dialect.family == Family::Sbpf) return decode_sbpf(slots, dialect);
  if (slots.empty()) return make_error(Errc::Truncated, "program is empty");
  Program program = detail::start_program(slots, dialect);
  for (size_t pc = 0; pc < slots.size(); ++pc) {
    const auto here = static_cast<uint32_t>(pc);
    const Slot& slot = slots[pc];
    const std::optional<Op> op = lookup(slot);
    if (!op) return at(here, Errc::BadOpcode, describe_unknown(slot));
    const OpInfo& row = info(*op);
    if (row.since > dialect.isa) return at(here, Errc::BadOpcode, version_message(row, dialect));
    if (auto ok = check_registers(here, slot, row); !ok) return ok.error();
    program.ops[pc] = op;
    if (row.shape != Shape::Lddw) continue;
    if (pc + 1 >= slots.size()) return at(here, Errc::Truncated, "lddw is missing its second slot");
    const Slot& next = slots[pc + 1];
    if (next.code != 0 || next.regs != 0 || next.off != 0)
      return at(here + 1, Errc::BadOpcode, "second slot of lddw must have opcode, registers and offset 0");
    ++pc;  // ops[pc] stays nullopt
  }
  if (auto ok = check_targets(program); !ok) return ok.error();
  return program;
}

Expected<Program> decode(std::span<const uint8_t> bytes, const Dialect& dialect) {
  if (bytes.size() % sizeof(Slot) != 0) {
    Location where;
    where.offset = bytes.size() - bytes.size() % sizeof(Slot);
    Error error = make_error(Errc::Truncated,
                             "program size " + std::to_string(bytes.size()) + " is not a multiple of 8 bytes", where);
    if (dialect.family == Family::Sbpf) error.set_detail(SbpfVerifierErrc::ProgramLengthNotMultiple);
    return error;
  }
  std::vector<Slot> slots(bytes.size() / sizeof(Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes.data(), bytes.size());
  return decode(slots, dialect);
}

}  // namespace bpfkit::isa
