// The random program generator. The shape of every program:
//
//   prologue   write each register the program uses (the kernel refuses reads
//              of uninitialised registers; r1 would otherwise be the context
//              pointer), then some stack slots
//   body       random statements; branches only skip forward over nested
//              blocks (if / if-else), or jump forward to the final exit
//   epilogue   optionally fold the other registers and some stack slots into
//              r0, so that a wrong value anywhere shows up in the one value
//              the kernel reports; then exit
#include "random_program.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <bitset>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <random>

namespace bpfkit::testing {
namespace {

using isa::Op;

constexpr uint8_t kFp = isa::kFramePointer;
constexpr int kStackBytes = 512;   // one linux stack frame: r10-512 .. r10-1
constexpr int kWindowBytes = 64;   // accesses cluster here so loads, stores and atomics overlap
constexpr int kMaxDepth = 3;       // nesting of if blocks
constexpr size_t kMaxArm = 12;     // slots in one arm of an if
constexpr uint8_t kInput = 6;      // counted_loops: the input region's address (r1 at entry)
constexpr size_t kLoopSlots = 11;  // counted_loops: the most one loop takes

// A binary ALU operation in its four encodings. The kind of operand decides
// which immediates the verifier accepts.
enum class Operand { Plain, Shift, Divide };
struct AluFamily {
  Op imm64, reg64, imm32, reg32;
  Operand operand;
};
constexpr std::array kAluFamilies = {
    AluFamily{Op::add64_imm, Op::add64_reg, Op::add32_imm, Op::add32_reg, Operand::Plain},
    AluFamily{Op::sub64_imm, Op::sub64_reg, Op::sub32_imm, Op::sub32_reg, Operand::Plain},
    AluFamily{Op::mul64_imm, Op::mul64_reg, Op::mul32_imm, Op::mul32_reg, Operand::Plain},
    AluFamily{Op::div64_imm, Op::div64_reg, Op::div32_imm, Op::div32_reg, Operand::Divide},
    AluFamily{Op::sdiv64_imm, Op::sdiv64_reg, Op::sdiv32_imm, Op::sdiv32_reg, Operand::Divide},
    AluFamily{Op::mod64_imm, Op::mod64_reg, Op::mod32_imm, Op::mod32_reg, Operand::Divide},
    AluFamily{Op::smod64_imm, Op::smod64_reg, Op::smod32_imm, Op::smod32_reg, Operand::Divide},
    AluFamily{Op::or64_imm, Op::or64_reg, Op::or32_imm, Op::or32_reg, Operand::Plain},
    AluFamily{Op::and64_imm, Op::and64_reg, Op::and32_imm, Op::and32_reg, Operand::Plain},
    AluFamily{Op::xor64_imm, Op::xor64_reg, Op::xor32_imm, Op::xor32_reg, Operand::Plain},
    AluFamily{Op::lsh64_imm, Op::lsh64_reg, Op::lsh32_imm, Op::lsh32_reg, Operand::Shift},
    AluFamily{Op::rsh64_imm, Op::rsh64_reg, Op::rsh32_imm, Op::rsh32_reg, Operand::Shift},
    AluFamily{Op::arsh64_imm, Op::arsh64_reg, Op::arsh32_imm, Op::arsh32_reg, Operand::Shift},
    AluFamily{Op::mov64_imm, Op::mov64_reg, Op::mov32_imm, Op::mov32_reg, Operand::Plain},
};
// The division rows again, for the statements that aim at their corner cases.
constexpr std::array kDivideFamilies = {kAluFamilies[3], kAluFamilies[4], kAluFamilies[5], kAluFamilies[6]};

constexpr std::array kUnary = {Op::neg64, Op::neg32, Op::le16,    Op::le32,    Op::le64,   Op::be16,
                               Op::be32,  Op::be64,  Op::bswap16, Op::bswap32, Op::bswap64};
constexpr std::array kMovSx = {Op::movsx8_64, Op::movsx16_64, Op::movsx32_64, Op::movsx8_32, Op::movsx16_32};

struct JumpFamily {
  Op imm64, reg64, imm32, reg32;
};
constexpr std::array kJumpFamilies = {
    JumpFamily{Op::jeq64_imm, Op::jeq64_reg, Op::jeq32_imm, Op::jeq32_reg},
    JumpFamily{Op::jne64_imm, Op::jne64_reg, Op::jne32_imm, Op::jne32_reg},
    JumpFamily{Op::jgt64_imm, Op::jgt64_reg, Op::jgt32_imm, Op::jgt32_reg},
    JumpFamily{Op::jge64_imm, Op::jge64_reg, Op::jge32_imm, Op::jge32_reg},
    JumpFamily{Op::jlt64_imm, Op::jlt64_reg, Op::jlt32_imm, Op::jlt32_reg},
    JumpFamily{Op::jle64_imm, Op::jle64_reg, Op::jle32_imm, Op::jle32_reg},
    JumpFamily{Op::jset64_imm, Op::jset64_reg, Op::jset32_imm, Op::jset32_reg},
    JumpFamily{Op::jsgt64_imm, Op::jsgt64_reg, Op::jsgt32_imm, Op::jsgt32_reg},
    JumpFamily{Op::jsge64_imm, Op::jsge64_reg, Op::jsge32_imm, Op::jsge32_reg},
    JumpFamily{Op::jslt64_imm, Op::jslt64_reg, Op::jslt32_imm, Op::jslt32_reg},
    JumpFamily{Op::jsle64_imm, Op::jsle64_reg, Op::jsle32_imm, Op::jsle32_reg},
};

constexpr std::array kAtomic64 = {Op::atomic64_add,  Op::atomic64_fetch_add, Op::atomic64_or,  Op::atomic64_fetch_or,
                                  Op::atomic64_and,  Op::atomic64_fetch_and, Op::atomic64_xor, Op::atomic64_fetch_xor,
                                  Op::atomic64_xchg, Op::atomic64_cmpxchg};
constexpr std::array kAtomic32 = {Op::atomic32_add,  Op::atomic32_fetch_add, Op::atomic32_or,  Op::atomic32_fetch_or,
                                  Op::atomic32_and,  Op::atomic32_fetch_and, Op::atomic32_xor, Op::atomic32_fetch_xor,
                                  Op::atomic32_xchg, Op::atomic32_cmpxchg};

// Memory rows indexed by log2 of the access size.
constexpr std::array kStoreImm = {Op::stb, Op::sth, Op::stw, Op::stdw};
constexpr std::array kStoreReg = {Op::stxb, Op::stxh, Op::stxw, Op::stxdw};
constexpr std::array kLoad = {Op::ldxb, Op::ldxh, Op::ldxw, Op::ldxdw};
constexpr std::array kLoadSigned = {Op::ldxsb, Op::ldxsh, Op::ldxsw};

// Values where implementations tend to disagree: sign and width boundaries.
constexpr std::array<uint64_t, 12> kSpecial64 = {
    0,          1,           UINT64_MAX,         0xffffffff80000000, 0x7fffffff,         0x80000000,
    0xffffffff, 0x100000000, 0x8000000000000000, 0x7fffffffffffffff, 0xffffffff7fffffff, 0x00000000ffff8000};
constexpr std::array<int32_t, 10> kSpecial32 = {0, 1, -1, INT32_MIN, INT32_MAX, 0x8000, 0x7fff, 0xffff, -0x8000, 0x80};

// Statements of the body, chosen by weight.
enum class Statement { Alu, DivideCorner, Unary, MovSx, Constant, Store, Load, Atomic, IfThen, IfElse, ExitEarly };
constexpr std::array<std::pair<Statement, int>, 11> kStatementWeights = {{
    {Statement::Alu, 30},
    {Statement::DivideCorner, 5},
    {Statement::Unary, 8},
    {Statement::MovSx, 5},
    {Statement::Constant, 4},
    {Statement::Store, 10},
    {Statement::Load, 9},
    {Statement::Atomic, 9},
    {Statement::IfThen, 8},
    {Statement::IfElse, 5},
    {Statement::ExitEarly, 2},
}};

class Generator {
 public:
  Generator(uint64_t seed, const RandomProgramOptions& options) : rng_(seed), options_(options) {}

  std::vector<isa::Slot> generate() {
    if (options_.counted_loops) emit(Op::mov64_reg, kInput, 1);
    choose_registers();
    const size_t target = options_.min_slots + below(options_.max_slots - options_.min_slots + 1);
    init_registers();
    init_stack();
    const bool fold = chance(75);
    const size_t epilogue = fold ? 2 * regs_.size() : 1;  // without the stack part
    block(target > here() + epilogue + 4 ? target - here() - epilogue : 4, 0);
    if (fold) fold_into_r0();
    const size_t exit_at = here();
    emit(Op::exit);
    for (size_t jump : exit_jumps_) patch_jump(jump, exit_at);
    return std::move(out_);
  }

 private:
  // ---- Randomness -----------------------------------------------------------

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <class T, size_t N>
  T pick(const std::array<T, N>& items) {
    return items[below(N)];
  }
  uint8_t some_reg() { return regs_[below(regs_.size())]; }

  uint64_t interesting64() {
    const unsigned bit = static_cast<unsigned>(below(64));
    switch (below(8)) {
      case 0: return pick(kSpecial64);
      case 1: return uint64_t{1} << bit;
      case 2: return (uint64_t{1} << bit) - 1;
      case 3: return 0 - (uint64_t{1} << bit);
      case 4: return static_cast<uint64_t>(static_cast<int64_t>(below(33)) - 16);
      case 5: return static_cast<uint32_t>(rng_());
      default: return rng_();
    }
  }
  int32_t interesting32() {
    const unsigned bit = static_cast<unsigned>(below(32));
    switch (below(6)) {
      case 0: return pick(kSpecial32);
      case 1: return static_cast<int32_t>(uint32_t{1} << bit);
      case 2: return static_cast<int32_t>((uint32_t{1} << bit) - 1);
      case 3: return static_cast<int32_t>(0u - (uint32_t{1} << bit));
      case 4: return static_cast<int32_t>(below(33)) - 16;
      default: return static_cast<int32_t>(rng_());
    }
  }
  // The verifier rejects division by an immediate zero.
  int32_t nonzero32() {
    const int32_t value = interesting32();
    return value != 0 ? value : -1;
  }

  // ---- Output ---------------------------------------------------------------

  size_t here() const { return out_.size(); }
  void emit(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
    out_.push_back(isa::encode(op, dst, src, off, imm));
  }
  void emit_lddw(uint8_t dst, uint64_t value) {
    for (const isa::Slot& slot : isa::encode_lddw(dst, value)) out_.push_back(slot);
  }
  // Points the jump at `at` to slot `target`; gotol keeps its distance in imm.
  void patch_jump(size_t at, size_t target) {
    const auto distance = static_cast<int64_t>(target) - static_cast<int64_t>(at) - 1;
    isa::Slot& slot = out_[at];
    if (isa::lookup(slot) == Op::gotol)
      slot.imm = static_cast<int32_t>(distance);
    else
      slot.off = static_cast<int16_t>(distance);
  }

  // ---- Stack bookkeeping ----------------------------------------------------
  // written_ holds the bytes written on every path that reaches the current
  // point. Blocks that a branch may skip restore it when they end.

  static size_t byte_index(int off) { return static_cast<size_t>(off + kStackBytes); }
  bool written(int off, int size) const {
    for (int i = 0; i < size; ++i)
      if (!written_[byte_index(off + i)]) return false;
    return true;
  }
  void mark_written(int off, int size) {
    for (int i = 0; i < size; ++i) written_[byte_index(off + i)] = true;
  }
  // An offset from r10 inside the window, aligned to the access size (the
  // verifier insists on aligned stack accesses).
  int random_offset(int size) { return window_ + size * static_cast<int>(below(kWindowBytes / size)); }
  std::vector<int> readable_offsets(int size) const {
    std::vector<int> offsets;
    for (int off = window_; off < window_ + kWindowBytes; off += size)
      if (written(off, size)) offsets.push_back(off);
    return offsets;
  }

  // ---- Prologue -------------------------------------------------------------

  // r0 always (it is the result), plus a random subset of r1..r9.
  void choose_registers() {
    std::array<uint8_t, 9> others = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    if (options_.counted_loops) others[kInput - 1] = 9;  // r9 twice: r6 stays the input's address
    std::shuffle(others.begin(), others.end(), rng_);
    size_t count = 1 + below(others.size());
    regs_.assign(1, 0);
    for (size_t i = 0; i < count; ++i)
      if (std::find(regs_.begin(), regs_.end(), others[i]) == regs_.end()) regs_.push_back(others[i]);
  }
  void init_registers() {
    for (uint8_t reg : regs_) load_constant(reg);
  }
  // The window sits at the top, at the bottom, or anywhere in the frame.
  void init_stack() {
    switch (below(3)) {
      case 0: window_ = -kWindowBytes; break;
      case 1: window_ = -kStackBytes; break;
      default: window_ = -kWindowBytes - 8 * static_cast<int>(below((kStackBytes - kWindowBytes) / 8 + 1)); break;
    }
    const size_t stores = below(9);
    for (size_t i = 0; i < stores; ++i) store(chance(80) ? 8 : 1 << below(3));
  }
  void load_constant(uint8_t reg) {
    switch (below(3)) {
      case 0: emit_lddw(reg, interesting64()); break;
      case 1: emit(Op::mov64_imm, reg, 0, 0, interesting32()); break;
      default: emit(Op::mov32_imm, reg, 0, 0, interesting32()); break;
    }
  }

  // ---- Body -----------------------------------------------------------------

  void block(size_t slots, int depth) {
    const size_t end = here() + slots;
    while (here() < end) statement(end - here(), depth);
  }

  Statement choose_statement(size_t room, int depth) {
    std::array<int, kStatementWeights.size()> weights{};
    for (size_t i = 0; i < weights.size(); ++i) {
      const auto [kind, weight] = kStatementWeights[i];
      const bool nests = kind == Statement::IfThen || kind == Statement::IfElse;
      const size_t needs = kind == Statement::IfElse ? 4 : 2;
      weights[i] = nests && (depth >= kMaxDepth || room < needs) ? 0 : weight;
    }
    std::discrete_distribution<size_t> choose(weights.begin(), weights.end());
    return kStatementWeights[choose(rng_)].first;
  }

  void statement(size_t room, int depth) {
    if (options_.counted_loops && room >= kLoopSlots && regs_.size() >= 3 && chance(15)) return counted_loop();
    switch (choose_statement(room, depth)) {
      case Statement::Alu: alu(); break;
      case Statement::DivideCorner: divide_corner(); break;
      case Statement::Unary: emit(pick(kUnary), some_reg()); break;
      case Statement::MovSx: emit(pick(kMovSx), some_reg(), some_reg()); break;
      case Statement::Constant: load_constant(some_reg()); break;
      case Statement::Store: store(1 << below(4)); break;
      case Statement::Load: load(); break;
      case Statement::Atomic: atomic(); break;
      case Statement::IfThen: if_then(room, depth); break;
      case Statement::IfElse: if_else(room, depth); break;
      case Statement::ExitEarly: exit_early(); break;
    }
  }

  void alu() {
    const AluFamily& family = pick(kAluFamilies);
    const bool wide = chance(50);
    const uint8_t dst = some_reg();
    if (chance(50)) {
      emit(wide ? family.reg64 : family.reg32, dst, some_reg());
      return;
    }
    int32_t imm = 0;
    switch (family.operand) {
      case Operand::Plain: imm = interesting32(); break;
      // The verifier rejects immediate shifts by the width or more.
      case Operand::Shift: imm = static_cast<int32_t>(below(wide ? 64 : 32)); break;
      case Operand::Divide: imm = nonzero32(); break;
    }
    emit(wide ? family.imm64 : family.imm32, dst, 0, 0, imm);
  }

  // Division by a register holding 0, -1 or 1, often of INT_MIN: the values
  // where the kernel's rules (x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN) apply.
  void divide_corner() {
    const uint8_t src = some_reg(), dst = some_reg();
    constexpr std::array<int32_t, 3> kDivisors = {0, -1, 1};
    emit(chance(50) ? Op::mov64_imm : Op::mov32_imm, src, 0, 0, pick(kDivisors));
    if (dst != src && chance(50)) emit_lddw(dst, chance(50) ? 0x8000000000000000 : 0xffffffff80000000);
    const AluFamily& family = pick(kDivideFamilies);
    emit(chance(50) ? family.reg64 : family.reg32, dst, src);
  }

  void store(int size) {
    const int off = random_offset(size);
    const size_t row = static_cast<size_t>(std::countr_zero(static_cast<unsigned>(size)));
    if (chance(50))
      emit(kStoreImm[row], kFp, 0, static_cast<int16_t>(off), interesting32());
    else
      emit(kStoreReg[row], kFp, some_reg(), static_cast<int16_t>(off));
    mark_written(off, size);
  }

  // Loads read only bytes written on every path: the kernel (root) would
  // accept other reads too but return stale stack contents.
  void load() {
    const size_t row = below(4);
    const int size = 1 << row;
    const std::vector<int> offsets = readable_offsets(size);
    if (offsets.empty()) return store(size);
    const bool sign_extend = row < kLoadSigned.size() && chance(40);
    const Op op = sign_extend ? kLoadSigned[row] : kLoad[row];
    emit(op, some_reg(), kFp, static_cast<int16_t>(offsets[below(offsets.size())]));
  }

  // Atomics read their slot, so it must be written first; cmpxchg also uses r0.
  void atomic() {
    const bool wide = chance(50);
    const int size = wide ? 8 : 4;
    const std::vector<int> offsets = readable_offsets(size);
    if (offsets.empty()) return store(size);
    const Op op = wide ? pick(kAtomic64) : pick(kAtomic32);
    // Works around a kernel bug (Linux 6.18, x86-64): a successful 32-bit
    // cmpxchg leaves rax's upper half alone, and the verifier omits the
    // zero-extension it should add after it when it prunes the state at the
    // next instruction, so r0 keeps stale upper bits. `w0 = w0` first makes
    // them zero either way; the conformance suite (lock_cmpxchg32) checks
    // bpfkit's zero-extension. Reproducer (kernel-oracle hex; the kernel
    // returns r0 = 0xffff000000000000, RFC 9669 and bpfkit give 0):
    //   b7 01 00 00 ff ff 00 00   r1 = 0xffff
    //   7b 1a f8 ff 00 00 00 00   *(u64 *)(r10 - 8) = r1
    //   b7 02 00 00 00 00 00 00   r2 = 0
    //   c3 2a fc ff 41 00 00 00   w2 = atomic_fetch_or((u32 *)(r10 - 4), w2)
    //   18 00 00 00 00 00 00 00   r0 = 0xffff000000000000 ll
    //   00 00 00 00 00 00 ff ff
    //   b7 03 00 00 00 00 00 00   r3 = 0
    //   b7 04 00 00 00 00 00 00   r4 = 0
    //   15 02 01 00 00 00 00 00   if r2 == 0 goto +1
    //   05 00 01 00 00 00 00 00   goto +1
    //   c3 1a fc ff f1 00 00 00   w0 = cmpxchg32_32(r10 - 4, w0, w1)
    //   95 00 00 00 00 00 00 00   exit
    if (op == Op::atomic32_cmpxchg) emit(Op::mov32_reg, 0, 0);
    emit(op, kFp, some_reg(), static_cast<int16_t>(offsets[below(offsets.size())]));
  }

  // A conditional jump with its distance left at 0 for patch_jump.
  void conditional_jump() {
    const JumpFamily& family = pick(kJumpFamilies);
    const bool wide = chance(50);
    if (chance(50)) {
      emit(wide ? family.reg64 : family.reg32, some_reg(), some_reg());
      return;
    }
    // Small immediates make branches on small or negative values go both ways.
    const int32_t imm = chance(50) ? interesting32() : static_cast<int32_t>(below(9)) - 4;
    emit(wide ? family.imm64 : family.imm32, some_reg(), 0, 0, imm);
  }

  // A nested block that runs or not; sometimes it ends in its own exit, which
  // is fine because the jump still reaches the code after it.
  void if_then(size_t room, int depth) {
    const size_t jump = here();
    conditional_jump();
    const auto saved = written_;
    block(1 + below(std::min(room - 1, kMaxArm)), depth + 1);
    if (chance(10)) {
      emit(Op::mov64_imm, 0, 0, 0, interesting32());
      emit(Op::exit);
    }
    written_ = saved;
    patch_jump(jump, here());
  }

  // if (cond) { B } else { A }: the then-arm ends with ja or gotol over the
  // else-arm. Both arms are reachable, which the verifier's CFG check needs.
  void if_else(size_t room, int depth) {
    const size_t arm = std::min((room - 2) / 2, kMaxArm);
    const size_t jump = here();
    conditional_jump();
    const auto saved = written_;
    block(1 + below(arm), depth + 1);
    written_ = saved;
    const size_t skip = here();
    if (chance(50))
      emit(Op::ja);
    else
      emit(Op::gotol);
    patch_jump(jump, here());
    block(1 + below(arm), depth + 1);
    written_ = saved;
    patch_jump(skip, here());
  }

  // A loop over the input region (see counted_loops): the index i (or a
  // pointer p = r6 + i) steps by a constant while a test against a bound
  // (an immediate or a register) holds; each iteration loads or stores
  // through r6 + i + off. Most run a few to forty iterations over a 64-byte
  // input; a few start or end outside it. Some are loops of several blocks:
  // a branch on a register skips the access, or the loop is entered at its
  // test (a jump over the body, as loops compiled top-tested and rotated).
  void counted_loop() {
    std::vector<uint8_t> free = regs_;
    std::shuffle(free.begin(), free.end(), rng_);
    const uint8_t index = free[0], address = free[1], bound = free[2];
    const bool pointer = chance(30);  // the pointer steps, not an index
    const bool bound_in_reg = pointer || chance(40);
    constexpr std::array<int32_t, 9> kSteps = {1, 2, 4, 8, 3, -1, -2, -4, -8};
    const int32_t step = pick(kSteps);
    const int64_t trips = static_cast<int64_t>(below(13));
    const int64_t start = step > 0 ? static_cast<int64_t>(below(20)) - 4 : 8 + static_cast<int64_t>(below(64));
    int64_t end = start + step * trips;  // the index after the last iteration
    Op test;
    if (step > 0) {
      constexpr std::array kUp = {Op::jlt64_reg, Op::jle64_reg, Op::jslt64_reg, Op::jsle64_reg, Op::jne64_reg};
      test = pick(kUp);
      if (test == Op::jne64_reg && step != 1) test = Op::jlt64_reg;
      if (test == Op::jle64_reg || test == Op::jsle64_reg) end -= 1;
    } else {
      constexpr std::array kDown = {Op::jgt64_reg, Op::jge64_reg, Op::jsgt64_reg, Op::jsge64_reg, Op::jne64_reg};
      test = pick(kDown);
      if (test == Op::jne64_reg && step != -1) test = Op::jgt64_reg;
      if (test == Op::jge64_reg || test == Op::jsge64_reg) end += 1;
    }
    // `<` and `>` end as well on a bound up to a step short of the next value.
    const bool strict =
        test == Op::jlt64_reg || test == Op::jslt64_reg || test == Op::jgt64_reg || test == Op::jsgt64_reg;
    if (strict && trips > 0)
      end -= (step > 0 ? 1 : -1) * static_cast<int64_t>(below(static_cast<size_t>(std::abs(step))));
    if (test == Op::jne64_reg && trips == 0) end = start + step;  // `!=` from the bound would run until it wraps
    if (pointer) {
      emit(Op::mov64_reg, index, kInput);
      emit(Op::add64_imm, index, 0, 0, static_cast<int32_t>(start));
    } else {
      emit(Op::mov64_imm, index, 0, 0, static_cast<int32_t>(start));
    }
    if (bound_in_reg) {
      if (pointer) {
        emit(Op::mov64_reg, bound, kInput);
        emit(Op::add64_imm, bound, 0, 0, static_cast<int32_t>(end));
      } else {
        emit(Op::mov64_imm, bound, 0, 0, static_cast<int32_t>(end));
      }
    }
    const size_t enter_at_test = chance(20) ? here() : SIZE_MAX;
    if (enter_at_test != SIZE_MAX) emit(Op::ja);
    const size_t top = here();
    uint8_t base = index;
    if (!pointer) {
      emit(Op::mov64_reg, address, kInput);
      emit(Op::add64_reg, address, index);
      base = address;
    }
    const size_t row = below(4);
    const auto off = static_cast<int16_t>(static_cast<int>(below(9)) - 4);
    if (chance(30)) {  // over the access
      const JumpFamily& family = pick(kJumpFamilies);
      emit(chance(50) ? family.imm64 : family.imm32, some_reg(), 0, 1, interesting32());
    }
    if (chance(50)) {
      const uint8_t into = free.size() > 3 ? free[3] : address;  // neither the index nor the bound
      emit(kLoad[row], into, base, off);
    } else if (chance(50)) {
      emit(kStoreReg[row], base, some_reg(), off);
    } else {
      emit(kStoreImm[row], base, 0, off, interesting32());
    }
    if (chance(50))
      emit(Op::add64_imm, index, 0, 0, step);
    else
      emit(Op::sub64_imm, index, 0, 0, -step);
    if (enter_at_test != SIZE_MAX) patch_jump(enter_at_test, here());
    const auto back = static_cast<int16_t>(static_cast<int64_t>(top) - static_cast<int64_t>(here()) - 1);
    if (bound_in_reg && chance(30)) {
      emit(mirrored(test), bound, index, back);
    } else if (bound_in_reg) {
      emit(test, index, bound, back);
    } else {
      emit(immediate_form(test), index, 0, back, static_cast<int32_t>(end));
    }
  }

  static Op mirrored(Op test) {
    switch (test) {
      case Op::jlt64_reg: return Op::jgt64_reg;
      case Op::jle64_reg: return Op::jge64_reg;
      case Op::jslt64_reg: return Op::jsgt64_reg;
      case Op::jsle64_reg: return Op::jsge64_reg;
      case Op::jgt64_reg: return Op::jlt64_reg;
      case Op::jge64_reg: return Op::jle64_reg;
      case Op::jsgt64_reg: return Op::jslt64_reg;
      case Op::jsge64_reg: return Op::jsle64_reg;
      default: return test;
    }
  }

  static Op immediate_form(Op test) {
    for (const JumpFamily& family : kJumpFamilies)
      if (family.reg64 == test) return family.imm64;
    return test;
  }

  void exit_early() {
    exit_jumps_.push_back(here());
    conditional_jump();
  }

  // ---- Epilogue -------------------------------------------------------------

  // r0 = r0 * K + x for every other register and some stack slots, so that
  // their values reach the one result the kernel reports.
  void fold_into_r0() {
    constexpr int32_t kMultiplier = 0x01000193;  // FNV prime: odd, so no information is lost
    for (uint8_t reg : regs_) {
      if (reg == 0) continue;
      emit(Op::mul64_imm, 0, 0, 0, kMultiplier);
      emit(chance(50) ? Op::add64_reg : Op::xor64_reg, 0, reg);
    }
    if (regs_.size() < 2) return;
    const uint8_t scratch = regs_[1 + below(regs_.size() - 1)];
    std::vector<int> offsets = readable_offsets(8);
    std::shuffle(offsets.begin(), offsets.end(), rng_);
    offsets.resize(std::min<size_t>(offsets.size(), 2));
    for (int off : offsets) {
      emit(Op::ldxdw, scratch, kFp, static_cast<int16_t>(off));
      emit(Op::mul64_imm, 0, 0, 0, kMultiplier);
      emit(Op::add64_reg, 0, scratch);
    }
  }

  std::mt19937_64 rng_;
  RandomProgramOptions options_;
  std::vector<isa::Slot> out_;
  std::vector<uint8_t> regs_;  // the registers this program uses; r0 first
  std::bitset<kStackBytes> written_;
  int window_ = -kWindowBytes;  // lowest offset from r10 of the access window
  std::vector<size_t> exit_jumps_;
};

}  // namespace

std::vector<isa::Slot> random_program(uint64_t seed, const RandomProgramOptions& options) {
  return Generator(seed, options).generate();
}

}  // namespace bpfkit::testing
