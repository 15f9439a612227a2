// Region guesses (Linux): which region each checked access's base register
// most likely points into, from a forward pass over the blocks (r1 the
// input at entry, r10 the stack, pointers kept by moves, additions and
// subtractions, lddw of a region's address, 8-byte spills to r10 + a
// constant and their reloads). A guess only picks the check's
// shape: an access whose guess is wrong takes the exact cold path, so the
// analysis needs no soundness, only to be cheap (each block's entry state
// only rises, so each block is visited a bounded number of times).
#include <algorithm>
#include <array>
#include <deque>

#include "compiler.hpp"

namespace bpfkit::jit {

using isa::Operation;

namespace {

constexpr uint8_t kUnvisited = 0xfe;  // bottom: no path reached the block yet
constexpr uint8_t kAnyRegion = 0xff;  // top: not known, or not one of the inline regions

// The registers, then the frame's 8-byte slots at r10 - 512 .. r10 - 8.
constexpr int kSlots = 64;
using Regions = std::array<uint8_t, isa::kRegisterCount + kSlots>;

// The slot of an 8-byte access at r10 + off, or -1.
int slot_at(int16_t off) {
  if (off >= 0 || off < -8 * kSlots || off % 8 != 0) return -1;
  return isa::kRegisterCount + kSlots + off / 8;
}

uint8_t join(uint8_t a, uint8_t b) {
  if (a == kUnvisited) return b;
  if (b == kUnvisited || a == b) return a;
  return kAnyRegion;
}

uint8_t region_of_address(uint64_t address) {
  const uint64_t region = address >> isa::kRegionShift;
  return region > 0 && region < kTableRegions ? static_cast<uint8_t>(region) : kAnyRegion;
}

Regions unknown_but_stack() {
  Regions regions;
  regions.fill(kAnyRegion);
  regions[isa::kFramePointer] = static_cast<uint8_t>(vm::kStackRegion);
  return regions;
}

}  // namespace

void Compiler::guess_regions() {
  const size_t size = program_.size();
  guess_at_.assign(size, kAnyRegion);
  if (sbpf_ || has_callx_ || blocks_.empty()) return;  // callx may enter any block with anything
  std::vector<uint32_t> block_at(size + 1, UINT32_MAX);
  for (uint32_t i = 0; i < blocks_.size(); ++i) block_at[blocks_[i].start] = i;
  std::vector<Regions> entry(blocks_.size());
  for (Regions& regions : entry) regions.fill(kUnvisited);
  std::deque<uint32_t> work;
  std::vector<bool> queued(blocks_.size(), false);
  auto flow_into = [&](int64_t pc, const Regions& regions) {
    if (pc < 0 || static_cast<size_t>(pc) >= size || block_at[pc] == UINT32_MAX) return;
    const uint32_t block = block_at[pc];
    bool changed = false;
    for (size_t i = 0; i < regions.size(); ++i) {
      const uint8_t joined = join(entry[block][i], regions[i]);
      changed |= joined != entry[block][i];
      entry[block][i] = joined;
    }
    if (changed && !queued[block]) {
      queued[block] = true;
      work.push_back(block);
    }
  };
  Regions start = unknown_but_stack();
  start[1] = static_cast<uint8_t>(vm::kInputRegion);
  flow_into(0, start);
  for (const auto& function : program_.functions)
    if (function.start != 0) flow_into(function.start, unknown_but_stack());
  // Blocks no path reaches keep the bottom state: their accesses guess nothing.
  auto walk = [&](uint32_t block_index, bool record) {
    const Block& block = blocks_[block_index];
    Regions regions = entry[block_index];
    for (uint8_t& region : regions)
      if (region == kUnvisited) region = kAnyRegion;
    for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) {
      const isa::Op op = *program_.ops[pc];
      const isa::Slot& slot = program_.slots[pc];
      const isa::Semantics sem = isa::semantics(op, dialect_);
      if (record) {
        const int base =
            sem.operation == Operation::Load || sem.operation == Operation::LoadSx ? slot.src() : slot.dst();
        guess_at_[pc] = regions[base];
      }
      const int64_t target = sem.operation == Operation::Jump || sem.operation == Operation::JumpIf ||
                                     sem.operation == Operation::MayGoto || sem.operation == Operation::CallLocal
                                 ? *isa::branch_target(op, slot, static_cast<int64_t>(pc))
                                 : -1;
      Regions after = regions;
      const isa::RegSet written = isa::regs_written(op, slot, dialect_);
      for (int reg = 0; reg < isa::kRegisterCount; ++reg)
        if (written.contains(reg)) after[reg] = kAnyRegion;
      const bool wide = sem.width == 64;
      if (sem.operation == Operation::Mov && wide && sem.source == isa::Source::Reg) {
        after[slot.dst()] = regions[slot.src()];
      } else if ((sem.operation == Operation::Add || sem.operation == Operation::Sub) && wide) {
        // A pointer plus or minus a number stays in its region (a guess).
        const bool src_pointer =
            sem.source == isa::Source::Reg && sem.operation == Operation::Add && regions[slot.src()] != kAnyRegion;
        after[slot.dst()] = regions[slot.dst()] != kAnyRegion ? regions[slot.dst()]
                            : src_pointer                     ? regions[slot.src()]
                                                              : kAnyRegion;
      } else if (sem.operation == Operation::Load && slot.src() == isa::kFramePointer) {
        const int spill = sem.width == 64 ? slot_at(slot.off) : -1;
        after[slot.dst()] = spill >= 0 ? regions[spill] : kAnyRegion;
      } else if (op == isa::Op::lddw || op == isa::Op::lddw_map_idx_value) {
        after[slot.dst()] = region_of_address(
            op == isa::Op::lddw ? program_.imm64(pc) : inputs_.map_addresses[static_cast<uint32_t>(slot.imm)]);
      }
      if (sem.operation == Operation::Store && slot.dst() == isa::kFramePointer) {
        // A spill of a whole register keeps its guess; a narrower store
        // ends the guesses of the slots it touches.
        const int spill = slot_at(slot.off);
        if (spill >= 0 && sem.width == 64)
          after[spill] = sem.source == isa::Source::Reg ? regions[slot.src()] : kAnyRegion;
        for (int byte = 0; byte < static_cast<int>(sem.width / 8); ++byte)
          if (const int touched = slot_at(static_cast<int16_t>((slot.off + byte) & ~7));
              touched >= 0 && sem.width != 64)
            after[touched] = kAnyRegion;
      }
      if (!record) {
        if (sem.operation == Operation::CallLocal) {
          flow_into(target, unknown_but_stack());
        } else if (target >= 0) {
          flow_into(target, after);
        }
      }
      regions = after;
    }
    uint32_t last = block.start;
    for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) last = pc;
    const Operation operation = isa::semantics(*program_.ops[last], dialect_).operation;
    if (!record && operation != Operation::Jump && operation != Operation::Exit) flow_into(block.end, regions);
  };
  while (!work.empty()) {
    const uint32_t block = work.front();
    work.pop_front();
    queued[block] = false;
    walk(block, false);
  }
  for (uint32_t block = 0; block < blocks_.size(); ++block) walk(block, true);
}

}  // namespace bpfkit::jit
