// What both interpreters (Linux and sBPF) share: host-side reads and writes
// of guest bytes, and the macros of the dispatch loop. One definition keeps
// the budget rule (N allows exactly N instructions) and the region check the
// same in both.
//
// The macros name the locals every execute() declares: `pc` (the current
// cell: handler, dst, src, off, imm), `left` (budget + 1), `reg`, `regions`
// and `region_count`, `fault_addr/size/write`, and the labels `L_budget`
// and `L_access_fault`. Include this header once, right before execute(),
// and dispatch_end.hpp right after it; each file #undefs its own macros.
#pragma once

#include <cstdint>
#include <cstring>

namespace bpfkit::vm::detail {

// Guest addresses carry no alignment, so every access is a memcpy (one mov).
template <class T>
inline T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

template <class T>
inline void store(uint8_t* p, T value) {
  std::memcpy(p, &value, sizeof value);
}

}  // namespace bpfkit::vm::detail

// The budget check and the indirect jump: one decrement and a predicted
// branch per instruction.
#define DISPATCH()                                       \
  do {                                                   \
    if (__builtin_expect(--left == 0, 0)) goto L_budget; \
    goto * pc->handler;                                  \
  } while (0)
#define NEXT()  \
  do {          \
    ++pc;       \
    DISPATCH(); \
  } while (0)
// Jumps add off; NEXT adds the 1.
#define JUMP_IF(cond)        \
  do {                       \
    if (cond) pc += pc->off; \
    NEXT();                  \
  } while (0)

// The checks of MemoryMap::translate, written out so that the success path
// has no null test: index in the table, offset + size within the limit.
// ADJUST(index_, offset_) may first remap the offset (sBPF v0's stack gaps);
// NO_ADJUST leaves it.
#define CHECKED_ACCESS(host, addr_expr, size, write, ADJUST)                                                        \
  const uint64_t addr_ = (addr_expr);                                                                               \
  const uint64_t index_ = addr_ >> kRegionShift;                                                                    \
  uint64_t offset_ = addr_ & 0xffffffffu;                                                                           \
  ADJUST(index_, offset_);                                                                                          \
  if (__builtin_expect(index_ >= region_count ||                                                                    \
                           offset_ + (size) > ((write) ? regions[index_].write_limit : regions[index_].read_limit), \
                       0)) {                                                                                        \
    fault_addr = addr_;                                                                                             \
    fault_size = (size);                                                                                            \
    fault_write = (write);                                                                                          \
    goto L_access_fault;                                                                                            \
  }                                                                                                                 \
  uint8_t* const host = regions[index_].host + offset_;
#define NO_ADJUST(index, offset) static_cast<void>(0)

#define OFFSET(r) (reg[r] + static_cast<uint64_t>(static_cast<int64_t>(pc->off)))
#define IMM64 static_cast<uint64_t>(static_cast<int64_t>(pc->imm))
#define IMM32 static_cast<uint32_t>(pc->imm)

// Handlers both dialects share to the letter. Byte order: the host is
// little-endian, so "le" truncates and "be" swaps; BE16..BE64 are the swap
// labels (Linux gives the v4 bswap rows the same ones). LDDW: the two-slot
// load of a 64-bit immediate.
#define BYTE_ORDER_HANDLERS(BE16, BE32, BE64)                            \
  L_le16:                                                                \
  reg[pc->dst] = static_cast<uint16_t>(reg[pc->dst]);                    \
  NEXT();                                                                \
  L_le32:                                                                \
  reg[pc->dst] = static_cast<uint32_t>(reg[pc->dst]);                    \
  NEXT();                                                                \
  L_le64:                                                                \
  NEXT();                                                                \
  BE16:                                                                  \
  reg[pc->dst] = __builtin_bswap16(static_cast<uint16_t>(reg[pc->dst])); \
  NEXT();                                                                \
  BE32:                                                                  \
  reg[pc->dst] = __builtin_bswap32(static_cast<uint32_t>(reg[pc->dst])); \
  NEXT();                                                                \
  BE64:                                                                  \
  reg[pc->dst] = __builtin_bswap64(reg[pc->dst]);                        \
  NEXT();
#define LDDW_HANDLER()                                                                                             \
  L_lddw:                                                                                                          \
  reg[pc->dst] = static_cast<uint32_t>(pc->imm) | (static_cast<uint64_t>(static_cast<uint32_t>(pc[1].imm)) << 32); \
  pc += 2;                                                                                                         \
  DISPATCH();
