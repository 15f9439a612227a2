// Store merging on the stack. Clang clears a byte-aligned struct (a char
// array, a packed header) one byte at a time: `*(u8 *)(r10 - 6) = 0`, then
// -7, -8, ... Here a run of constant stores to the frame, with nothing
// between them that reads or writes memory, is written again as the fewest
// naturally aligned stores of the same bytes (the verifier requires stack
// accesses to be aligned). The bytes the run wrote, and no other, are
// written, with the values its last stores left.
//
// The verifier marks bytes a store of zero wrote as known zero
// (STACK_ZERO) and other constants' bytes as unknown (STACK_MISC); a
// merged store never mixes the two kinds, so what a later load of those
// bytes tells the verifier stays as it was.
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

struct Byte {
  uint8_t value;
  bool from_zero_store;  // written by a store of 0 (the verifier's STACK_ZERO)
};

// A constant store to the frame: its offset from %fp, else nullopt.
std::optional<int64_t> constant_frame_store(const Inst& inst) {
  if (inst.op() != Opcode::StoreRaw || !int_value(inst.operand(1))) return std::nullopt;
  return stack_offset(inst.operand(0), inst.attrs().offset);
}

// Whether `inst` may read or write memory, or leave the block: a run of
// stores cannot be moved across it.
bool ends_a_run(const Inst& inst) {
  if (inst.is_terminator()) return true;
  switch (inst.op()) {
    case Opcode::Load:
    case Opcode::LoadRaw:
    case Opcode::Store:
    case Opcode::StoreRaw:
    case Opcode::Atomic:
    case Opcode::Call:
    case Opcode::Core:
    case Opcode::LdAbs:
    case Opcode::LdInd: return true;
    default: return false;
  }
}

struct Piece {
  int64_t offset;
  unsigned bytes;
  uint64_t value;
};

// The fewest naturally aligned stores that write exactly `bytes`, each of
// one kind (zero stores or not); a 64-bit store's value must fit the
// sign-extended 32-bit immediate of `*(u64 *)(r10 - k) = imm`.
std::vector<Piece> cover(const std::map<int64_t, Byte>& bytes) {
  std::vector<Piece> pieces;
  auto written_alike = [&bytes](int64_t at, unsigned size) {
    const auto first = bytes.find(at);
    if (first == bytes.end()) return false;
    for (unsigned i = 1; i < size; ++i) {
      const auto it = bytes.find(at + i);
      if (it == bytes.end() || it->second.from_zero_store != first->second.from_zero_store) return false;
    }
    return true;
  };
  auto value_of = [&bytes](int64_t at, unsigned size) {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) value |= uint64_t{bytes.at(at + i).value} << (8 * i);
    return value;
  };
  for (auto it = bytes.begin(); it != bytes.end();) {
    const int64_t at = it->first;
    for (unsigned size : {8u, 4u, 2u, 1u}) {
      if (at % size != 0 || !written_alike(at, size)) continue;
      const uint64_t value = value_of(at, size);
      if (size == 8 && static_cast<int64_t>(value) != static_cast<int32_t>(value)) continue;
      pieces.push_back({at, size, value});
      it = bytes.lower_bound(at + size);
      break;
    }
  }
  return pieces;
}

// The stores of the run that no other store of it overlaps: their bytes
// are written once, so they may be rewritten in any order. (A store of a
// byte into a cleared word stays as it is, after the clearing.)
std::vector<Inst*> disjoint_stores(const std::vector<Inst*>& run) {
  std::map<int64_t, int> writers;  // byte -> how many stores of the run write it
  for (const Inst* store : run)
    for (unsigned i = 0; i < store->width() / 8u; ++i) ++writers[*constant_frame_store(*store) + i];
  std::vector<Inst*> out;
  for (Inst* store : run) {
    const int64_t at = *constant_frame_store(*store);
    bool alone = true;
    for (unsigned i = 0; i < store->width() / 8u; ++i) alone &= writers[at + i] == 1;
    if (alone) out.push_back(store);
  }
  return out;
}

// Erases the stores of the run whose every byte a later store of it
// writes again (nothing reads between them); returns the others.
std::vector<Inst*> drop_overwritten(Function& fn, const std::vector<Inst*>& run, bool& changed) {
  std::set<int64_t> written_later;
  std::vector<Inst*> kept;
  for (auto it = run.rbegin(); it != run.rend(); ++it) {
    Inst* store = *it;
    const int64_t at = *constant_frame_store(*store);
    bool overwritten = true;
    for (unsigned i = 0; i < store->width() / 8u; ++i) overwritten &= !written_later.insert(at + i).second;
    if (overwritten) {
      fn.erase(store);
      changed = true;
    } else {
      kept.push_back(store);
    }
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

// Merges the run's disjoint stores (in program order) when fewer stores do.
bool merge(Function& fn, const std::vector<Inst*>& all) {
  bool dropped = false;
  const std::vector<Inst*> run = disjoint_stores(drop_overwritten(fn, all, dropped));
  if (run.size() < 2) return dropped;
  std::map<int64_t, Byte> bytes;
  for (const Inst* store : run) {
    const int64_t at = *constant_frame_store(*store);
    const uint64_t value = *int_value(store->operand(1));
    for (unsigned i = 0; i < store->width() / 8u; ++i)
      bytes[at + i] = {static_cast<uint8_t>(value >> (8 * i)), value == 0};
  }
  const std::vector<Piece> pieces = cover(bytes);
  if (pieces.size() >= run.size()) return dropped;
  Builder builder(fn, before(run.back()));
  builder.set_origin(run.front()->origin());
  for (const Piece& piece : pieces)
    builder.store_raw(static_cast<uint8_t>(piece.bytes * 8), fn.frame_pointer(), static_cast<int32_t>(piece.offset),
                      fn.constant(piece.value, static_cast<uint8_t>(piece.bytes * 8)));
  for (Inst* store : run) fn.erase(store);
  return true;
}

}  // namespace

Expected<bool> run_store_merge(Function& fn, const PassParams&) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    std::vector<Inst*> run;
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      if (constant_frame_store(*inst)) {
        run.push_back(inst);
      } else if (ends_a_run(*inst)) {
        changed |= merge(fn, run);
        run.clear();
      }
      inst = next;
    }
    changed |= merge(fn, run);
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
