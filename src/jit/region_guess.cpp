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

// Joins `from` into `into`; whether `into` rose. Through a local copy, so
// that the compiler sees no aliasing and does the 75 bytes in vector lanes
// (byte by byte, the joins and the bottom-to-top pass below were most of
// this analysis's time on short blocks, issue 13).
bool join_into(Regions& into, const Regions& from) {
  Regions joined;
  for (size_t i = 0; i < joined.size(); ++i) joined[i] = join(into[i], from[i]);
  if (joined == into) return false;
  into = joined;
  return true;
}

// A block's entry state as its walk starts: what no path reached is unknown.
Regions reached_or_unknown(const Regions& entry) {
  Regions regions;
  for (size_t i = 0; i < regions.size(); ++i) regions[i] = entry[i] == kUnvisited ? kAnyRegion : entry[i];
  return regions;
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
    if (join_into(entry[block], regions) && !queued[block]) {
      queued[block] = true;
      work.push_back(block);
    }
  };
  Regions start = unknown_but_stack();
  start[1] = static_cast<uint8_t>(vm::kInputRegion);
  flow_into(0, start);
  for (const auto& function : program_.functions)
    if (function.start != 0) flow_into(function.start, unknown_but_stack());
  // Each walk records the guesses at the block's entry state of the time:
  // the block's last walk, which had its final entry state (a later change
  // would have queued it again), leaves the answer. Blocks no path reaches
  // are walked once at the end, from a state that knows nothing, without
  // flowing on.
  std::vector<bool> walked(blocks_.size(), false);
  auto walk = [&](uint32_t block_index, bool flow_on) {
    const Block& block = blocks_[block_index];
    walked[block_index] = true;
    Regions regions = reached_or_unknown(entry[block_index]);
    uint32_t last = block.start;
    for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) {
      last = pc;
      const isa::Op op = *program_.ops[pc];
      const isa::Slot& slot = program_.slots[pc];
      const isa::Semantics& sem = sem_at(pc);
      const int base = sem.operation == Operation::Load || sem.operation == Operation::LoadSx ? slot.src() : slot.dst();
      guess_at_[pc] = regions[base];
      const int64_t target = sem.operation == Operation::Jump || sem.operation == Operation::JumpIf ||
                                     sem.operation == Operation::MayGoto || sem.operation == Operation::CallLocal
                                 ? *isa::branch_target(op, slot, static_cast<int64_t>(pc))
                                 : -1;
      Regions after = regions;
      const isa::RegSet written = written_at(pc);
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
      if (flow_on) {
        if (sem.operation == Operation::CallLocal) {
          flow_into(target, unknown_but_stack());
        } else if (target >= 0) {
          flow_into(target, after);
        }
      }
      regions = after;
    }
    const Operation operation = sem_at(last).operation;
    if (flow_on && operation != Operation::Jump && operation != Operation::Exit) flow_into(block.end, regions);
  };
  while (!work.empty()) {
    const uint32_t block = work.front();
    work.pop_front();
    queued[block] = false;
    walk(block, true);
  }
  for (uint32_t block = 0; block < blocks_.size(); ++block)
    if (!walked[block]) walk(block, false);
}

}  // namespace bpfkit::jit
