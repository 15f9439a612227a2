// Module ir: an SSA intermediate representation of BPF programs (Linux eBPF
// and sBPF v0..v3), its builder, text form, validator, analyses and lifter.
//
// ---- How to walk and edit the IR (read this first) ---------------------------
//
// A Module holds Functions (one per bpf-to-bpf function of the program, the
// entry first). A Function holds Blocks in layout order (blocks()[0] is the
// entry block); a Block holds an intrusive doubly-linked list of Insts:
//
//   for (Block* block : fn.blocks())
//     for (Inst* inst = block->first(); inst; inst = inst->next()) ...
//   for (Inst& inst : *block) ...            // same, while you do not erase
//
// Every Inst is also a Value (its result, where it has one: has_result()).
// The other values are Consts (Function::constant: an integer of an exact
// width, or a typed lddw constant), the frame pointer (Function::frame_pointer:
// r10 at function entry), the incoming arguments (Function::arg(1..5): r1-r5
// at entry) and Function::undef(). Operands are Uses; every Value keeps the
// list of Uses that name it (value->uses()), exact after every edit made
// through this API: never assign operands any other way.
//
// Edits: set_operand, Value::replace_all_uses_with, Function::erase,
// Inst::move_before/move_after, Inst::set_target (branches), Phi's
// add_incoming/remove_incoming/set_incoming_block; the Builder creates
// instructions at a Position (before/after an Inst, front/back of a Block,
// before the terminator, after the phis). A terminator's targets are the
// block's successors; Block::preds() follows every edit of a terminator.
// The CFG edits (split_block, split_edge, redirect_edge, remove_predecessor)
// keep phis right. After edits, validate(fn) says whether the IR is still
// well formed (it returns errors, it never aborts).
//
// Semantics: every value is a 64-bit register value. A 32-bit ALU operation
// reads the low 32 bits of its operands and fills the upper half as its
// ext() says (Zero, or Sign for sBPF v0/v1/v3 add/sub/mul). Division by zero
// and signed overflow follow the function's dialect (isa::semantics' policy:
// Linux defines them, sBPF traps). Conditional branches go to target(0) when
// the condition holds, else to target(1); the two targets always differ.
// Calls define r0 and take r1.. as their arguments; after a call r1-r5 are
// undefined (the lifter gives later readers undef) and r6-r9 and r10 keep
// their values.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::ir {

class Block;
class Function;
class Inst;
class Module;
class Value;

// ---- Operations ------------------------------------------------------------------

enum class Opcode : uint8_t {
#define IR_OP(id, text, kind, operands, result) id,
#include "bpfkit/ir/ops.def"
#undef IR_OP
};

enum class OpKind : uint8_t { Binary, Unary, Memory, Control, Other };

struct OpcodeInfo {
  Opcode op;
  std::string_view text;
  OpKind kind;
  int8_t operands;  // -1: variable
  int8_t result;    // 1 always, 0 never, -1 depends (atomics: fetch)
};

inline constexpr OpcodeInfo kOpcodes[] = {
#define IR_OP(id, text, kind, operands, result) {Opcode::id, text, OpKind::kind, operands, result},
#include "bpfkit/ir/ops.def"
#undef IR_OP
};

constexpr const OpcodeInfo& info(Opcode op) { return kOpcodes[static_cast<size_t>(op)]; }
constexpr bool is_terminator(Opcode op) { return info(op).kind == OpKind::Control; }
constexpr bool is_binary(Opcode op) { return info(op).kind == OpKind::Binary; }

// Read-modify-write operations of Opcode::Atomic.
enum class AtomicOp : uint8_t { Add, Or, And, Xor, Xchg, Cmpxchg };

// How a call finds its callee.
enum class CallKind : uint8_t {
  Helper,    // Linux helper by id (imm)
  Local,     // bpf-to-bpf: callee()
  Kfunc,     // Linux kernel function: BTF id in imm, module fd index in aux (the slot's off)
  Syscall,   // sBPF syscall by its murmur3 key (imm)
  Indirect,  // callx: the target address is operand 0, the arguments follow
};

// ---- Values -------------------------------------------------------------------------

enum class ValueKind : uint8_t { Inst, Const, FramePointer, Arg, Undef };

// One operand slot of an instruction: which value it names. Each value
// links the uses naming it into its use list.
class Use {
 public:
  Value* get() const { return value_; }
  Inst* user() const { return user_; }
  unsigned index() const;  // the operand slot in user()
  Use* next_use() const { return next_; }

 private:
  friend class Inst;
  friend class Value;
  friend class Function;
  void link(Value* value);
  void unlink();
  Value* value_ = nullptr;
  Inst* user_ = nullptr;
  Use* next_ = nullptr;
  Use** prev_next_ = nullptr;  // the pointer that points at this use
};

class Value {
 public:
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  virtual ~Value() = default;

  ValueKind kind() const { return kind_; }
  bool is_const() const { return kind_ == ValueKind::Const; }

  // The uses naming this value, newest first.
  struct UseIterator {
    Use* use;
    Use& operator*() const { return *use; }
    Use* operator->() const { return use; }
    UseIterator& operator++() {
      use = use->next_use();
      return *this;
    }
    bool operator==(const UseIterator&) const = default;
  };
  struct UseRange {
    Use* first;
    UseIterator begin() const { return {first}; }
    UseIterator end() const { return {nullptr}; }
  };
  UseRange uses() const { return {first_use_}; }
  bool has_uses() const { return first_use_ != nullptr; }
  size_t use_count() const;
  // Points every use of this value at `other` instead. An integer constant
  // is narrowed, use by use, to the bits the user reads (operand_bits), as
  // the value's own low bits were.
  void replace_all_uses_with(Value* other);

 protected:
  explicit Value(ValueKind kind) : kind_(kind) {}

 private:
  friend class Use;
  Use* first_use_ = nullptr;
  ValueKind kind_;
};

// What an lddw constant stands for. The integer kinds keep the slot's raw
// fields so that code generation writes the same lddw back.
enum class ConstKind : uint8_t {
  Int,          // a plain integer of width() bits
  MapFd,        // lddw src 1: index = the fd (imm), bits = 0
  MapValue,     // lddw src 2: index = the fd, bits = the offset (next imm)
  BtfId,        // lddw src 3: index = the BTF id, bits = the next imm
  Func,         // lddw src 4: the address of function target()
  MapIdx,       // lddw src 5: index = the map's index in isa::Program::maps
  MapIdxValue,  // lddw src 6: index = the map's index, bits = the offset
};

class Const final : public Value {
 public:
  ConstKind const_kind() const { return const_kind_; }
  uint8_t width() const { return width_; }  // 8, 16, 32 or 64: bits fit in it
  uint64_t bits() const { return bits_; }   // the 64-bit value (Int), or see ConstKind
  int64_t as_signed() const;                // bits sign-extended from width()
  uint32_t index() const { return index_; }
  Function* target() const { return target_; }  // Func

 private:
  friend class Function;
  Const(ConstKind kind, uint8_t width, uint64_t bits, uint32_t index, Function* target)
      : Value(ValueKind::Const), const_kind_(kind), width_(width), bits_(bits), index_(index), target_(target) {}
  ConstKind const_kind_;
  uint8_t width_;
  uint64_t bits_;
  uint32_t index_;
  Function* target_;
};

// r1..r5 at function entry, r10 at function entry, undef: one of each per
// function.
class Special final : public Value {
 public:
  uint8_t reg() const { return reg_; }  // Arg: 1..5; FramePointer: 10; Undef: 0

 private:
  friend class Function;
  Special(ValueKind kind, uint8_t reg) : Value(kind), reg_(reg) {}
  uint8_t reg_;
};

// ---- Instructions ----------------------------------------------------------------------

inline constexpr uint32_t kNoOrigin = UINT32_MAX;

// The fields an instruction's opcode uses (the others stay at their
// defaults; the printer and the validator read exactly these):
//   Binary, Neg       width 32 or 64; ext Zero or Sign when 32, None when 64
//   SExt              width = source bits (8, 16, 32); to = result bits: 64, or 32
//                     (the upper half zero)
//   ZExt              width = source bits (8, 16, 32); the result is 64 bits
//   Bswap, ToLe, ToBe width = bits swapped / kept (16, 32, 64), the rest zero
//   AddrSpaceCast     imm = the slot's imm
//   Alloc             imm = bytes; AllocArray: imm = element bytes, aux = count
//   Load, LoadRaw     width = access bits; is_signed: sign-extend (else zero);
//                     offset added to operand 0 (an alloc for Load)
//   Store, StoreRaw   width = access bits; operands: address, value; offset
//   Atomic            atomic op; width 32/64; fetch; operands: address, value
//                     (Cmpxchg: address, expected, new; it always fetches);
//                     offset. Defines the old value when fetch is set (a
//                     32-bit atomic's zero-extended).
//   LdAbs, LdInd      width = access bits; imm; operand 0 = r6 (the context),
//                     LdInd's operand 1 = the index register. Defines r0;
//                     clobbers r1-r5 like a call (the lifter gives them undef).
//                     As in the kernel, a packet too short ends the program
//                     with r0 = 0: codegen must keep them in place.
//   Call              call kind; imm (helper id, kfunc BTF id, syscall key);
//                     aux (kfunc: the slot's off); callee() for Local;
//                     operands: the arguments (r1, r2, ...; Indirect: the
//                     target first). Defines r0.
//   Core              one bytecode row kept as it is, because a loader still
//                     patches it (a CO-RE relocation: isa::Program::core_slots):
//                     row; offset and imm its fields (lddw: imm the 64-bit
//                     value); aux = the relocation's number. Operands: the
//                     registers the row reads (dst, then src: core_shape);
//                     defines dst when the row writes it. Passes know
//                     nothing of its value; a load or store through it may
//                     touch any memory but a private frame, like a call.
//   Ja                target(0)
//   Br                cond (isa::Condition, not Always/None); width 32 or 64;
//                     operands a, b; target(0) when a cond b holds, else target(1)
//   MayGoto           target(0) once the hidden loop budget runs out, else target(1)
//   Ret               operand: r0.  Throw: ends the program with an error.
//   Phi               one incoming (value, block) per predecessor edge
//   Assign            a copy of operand 0
struct Attrs {
  uint8_t width = 64;
  uint8_t to = 64;
  isa::Extension ext = isa::Extension::None;
  isa::Condition cond = isa::Condition::None;
  bool is_signed = false;
  bool fetch = false;
  AtomicOp atomic = AtomicOp::Add;
  CallKind call = CallKind::Helper;
  int32_t offset = 0;
  int32_t aux = 0;
  int64_t imm = 0;
  isa::Op row = isa::Op::exit;  // Core
  friend bool operator==(const Attrs&, const Attrs&) = default;
};

// What a Core instruction's row reads and writes: its operands are dst's
// value (when the row reads dst), then src's (when it reads src).
struct CoreShape {
  bool reads_dst = false, reads_src = false, defines = false;
  bool touches_memory = false;  // a load or store
  size_t operands() const { return size_t{reads_dst} + size_t{reads_src}; }
};
CoreShape core_shape(isa::Op row);

class Inst final : public Value {
 public:
  ~Inst() override;

  Opcode op() const { return op_; }
  const Attrs& attrs() const { return attrs_; }
  Attrs& attrs() { return attrs_; }  // fields other than targets and operands: edit freely
  uint8_t width() const { return attrs_.width; }
  bool has_result() const;
  bool is_terminator() const { return ir::is_terminator(op_); }

  // Where the instruction came from: the bytecode slot index (isa::Program
  // slot of the lifted program), or kNoOrigin.
  uint32_t origin() const { return origin_; }
  void set_origin(uint32_t pc) { origin_ = pc; }
  // The number the printer gives the result (%N); set by Function::renumber.
  uint32_t number() const { return number_; }

  Block* parent() const { return parent_; }
  Inst* prev() const { return prev_; }
  Inst* next() const { return next_; }

  // Operands.
  size_t operand_count() const { return operands_.size(); }
  Value* operand(size_t i) const { return operands_[i].get(); }
  const Use& use(size_t i) const { return operands_[i]; }
  void set_operand(size_t i, Value* value);
  void add_operand(Value* value);  // calls (arguments), phis via add_incoming
  void remove_operand(size_t i);   // later operands move down one slot
  std::vector<Value*> operand_values() const;
  // How many low bits of operand `i` the instruction reads: a 32-bit
  // operation or comparison reads 32, a narrow store its width, the rest
  // 64. An integer constant in that slot holds at most that many bits.
  uint8_t operand_bits(size_t i) const;

  // Terminators: Ja has one target, Br and MayGoto two. set_target keeps the
  // blocks' predecessor lists right (phis are the caller's: see cfg edits).
  size_t target_count() const;
  Block* target(size_t i) const { return targets_[i]; }
  void set_target(size_t i, Block* block);

  // Calls to local functions.
  Function* callee() const { return callee_; }
  void set_callee(Function* fn) { callee_ = fn; }

  // Phis: incoming_block(i) is the predecessor operand i comes from.
  Block* incoming_block(size_t i) const { return incoming_[i]; }
  void add_incoming(Value* value, Block* from);
  void remove_incoming(size_t i);
  void set_incoming_block(size_t i, Block* from) { incoming_[i] = from; }
  // The operand index for `from`, or -1.
  int incoming_index(const Block* from) const;

  // Moves the instruction (with its uses) to another place; terminators
  // update the predecessor lists of their targets.
  void move_before(Inst* other);
  void move_after(Inst* other);
  void move_to_end(Block* block);

 private:
  friend class Block;
  friend class Function;
  friend class Builder;
  friend class Use;
  Inst(Opcode op, Attrs attrs) : Value(ValueKind::Inst), op_(op), attrs_(attrs) {}
  void resize_operands(size_t count);  // relinks every use
  void link_targets();                 // adds parent_ to each target's preds
  void unlink_targets();

  Opcode op_;
  Attrs attrs_;
  uint32_t origin_ = kNoOrigin;
  uint32_t number_ = 0;
  Block* parent_ = nullptr;
  Inst* prev_ = nullptr;
  Inst* next_ = nullptr;
  std::vector<Use> operands_;
  std::array<Block*, 2> targets_{};
  std::vector<Block*> incoming_;
  Function* callee_ = nullptr;
};

// ---- Blocks --------------------------------------------------------------------------

class Block {
 public:
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block();

  Function* parent() const { return parent_; }
  uint32_t number() const { return number_; }  // b<N> in the text form; set by renumber

  Inst* first() const { return first_; }
  Inst* last() const { return last_; }
  bool empty() const { return first_ == nullptr; }
  size_t size() const;
  // The last instruction if it is a terminator, else null.
  Inst* terminator() const;
  // The first instruction that is not a phi, or null.
  Inst* first_non_phi() const;

  // Predecessors: one entry per edge into the block (a terminator naming it).
  const std::vector<Block*>& preds() const { return preds_; }
  // Successors: the terminator's targets (none without a terminator).
  std::vector<Block*> succs() const;

  // Free for passes and analyses; the IR never reads it.
  void* user_data = nullptr;
  // The bytecode the block was lifted from: its first slot and how many
  // instructions (lddw once) it held; kNoOrigin and 0 for blocks made later
  // or parsed from text. The instrumentation passes count with these.
  uint32_t source_start = kNoOrigin;
  uint32_t source_insns = 0;

  struct Iterator {
    using iterator_category = std::forward_iterator_tag;
    using value_type = Inst;
    using difference_type = std::ptrdiff_t;
    using pointer = Inst*;
    using reference = Inst&;
    Inst* inst;
    Inst& operator*() const { return *inst; }
    Inst* operator->() const { return inst; }
    Iterator& operator++() {
      inst = inst->next();
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      inst = inst->next();
      return old;
    }
    bool operator==(const Iterator&) const = default;
  };
  Iterator begin() const { return {first_}; }
  Iterator end() const { return {nullptr}; }

 private:
  friend class Function;
  friend class Inst;
  friend class Builder;
  explicit Block(Function* parent) : parent_(parent) {}
  void insert_before(Inst* inst, Inst* before);  // before null: at the end
  void unlink(Inst* inst);

  Function* parent_;
  uint32_t number_ = 0;
  Inst* first_ = nullptr;
  Inst* last_ = nullptr;
  std::vector<Block*> preds_;
};

// ---- Functions and modules -------------------------------------------------------

class Function {
 public:
  Function(Module* module, std::string name);
  Function(const Function&) = delete;
  Function& operator=(const Function&) = delete;
  ~Function();

  Module* module() const { return module_; }
  const isa::Dialect& dialect() const;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Where the function started in the lifted program (isa slot), or kNoOrigin.
  uint32_t origin() const { return origin_; }
  void set_origin(uint32_t pc) { origin_ = pc; }

  // Blocks in layout order; blocks()[0] is the entry.
  const std::vector<Block*>& blocks() const { return order_; }
  Block* entry() const { return order_.empty() ? nullptr : order_.front(); }
  Block* add_block();                    // at the end of the layout
  Block* add_block_after(Block* block);  // right after `block` in the layout
  // Removes a block: its instructions are erased (their uses become undef)
  // and every edge into it must already be gone.
  void erase_block(Block* block);
  void move_block_after(Block* block, Block* after);

  // Values that are not instructions. Constants are interned: one Const per
  // (kind, width, bits, index, target).
  Const* constant(uint64_t bits, uint8_t width = 64);  // Int; bits are masked to width
  Const* typed_constant(ConstKind kind, uint32_t index, uint64_t bits = 0, Function* target = nullptr);
  Special* arg(int reg);  // 1..5
  Special* frame_pointer() { return &fp_; }
  Special* undef() { return &undef_; }
  // Every constant, in creation order.
  const std::vector<Const*>& constants() const { return constant_order_; }

  // Removes an instruction; uses of its result become undef.
  void erase(Inst* inst);

  // Gives blocks and results consecutive numbers in layout order (the text
  // form's b<N> and %N), and says how many of each: a pass may keep what it
  // knows of each in a vector indexed by number, not a hash table (which
  // grew slower per instruction with the program, issue 12).
  struct Numbering {
    uint32_t blocks = 0, values = 0;
  };
  Numbering renumber();
  size_t inst_count() const;

 private:
  friend class Builder;
  friend class Inst;
  Const* typed_constant_impl(ConstKind kind, uint8_t width, uint64_t bits, uint32_t index, Function* target);
  Module* module_;
  std::string name_;
  uint32_t origin_ = kNoOrigin;
  std::vector<std::unique_ptr<Block>> owned_;
  std::vector<Block*> order_;
  Special args_[5] = {
      {ValueKind::Arg, 1}, {ValueKind::Arg, 2}, {ValueKind::Arg, 3}, {ValueKind::Arg, 4}, {ValueKind::Arg, 5}};
  Special fp_{ValueKind::FramePointer, isa::kFramePointer};
  Special undef_{ValueKind::Undef, 0};
  struct ConstKey {
    ConstKind kind;
    uint8_t width;
    uint64_t bits;
    uint32_t index;
    const Function* target;
    bool operator==(const ConstKey&) const = default;
  };
  struct ConstKeyHash {
    size_t operator()(const ConstKey& key) const;
  };
  std::unordered_map<ConstKey, std::unique_ptr<Const>, ConstKeyHash> constants_;
  std::vector<Const*> constant_order_;
};

class Module {
 public:
  explicit Module(const isa::Dialect& dialect = isa::kLinuxV4) : dialect_(&dialect) {}
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const isa::Dialect& dialect() const { return *dialect_; }
  // Functions in order; the first is the program's entry.
  const std::vector<std::unique_ptr<Function>>& functions() const { return functions_; }
  Function* add_function(std::string name);
  Function* find(std::string_view name) const;
  // Linux: deletes the functions that no local call or func() constant
  // reachable from the entry names (a pass may have removed their last
  // call; the kernel rejects a program with an unreachable subprogram).
  // sBPF keeps every function: callx reaches any by its key. Returns how
  // many were deleted.
  size_t erase_unreachable_functions();

  // The maps map_idx / map_idx_value constants name, by index: the lifted
  // program's, then those passes added (instrumentation). Code generation
  // gives the program this list.
  const std::vector<isa::MapSpec>& maps() const { return maps_; }
  std::vector<isa::MapSpec>& maps() { return maps_; }
  // The index of the map called spec.name, added at the end if there is none.
  uint32_t add_map(isa::MapSpec spec);

 private:
  const isa::Dialect* dialect_;
  std::vector<isa::MapSpec> maps_;
  std::vector<std::unique_ptr<Function>> functions_;
};

// ---- The builder ----------------------------------------------------------------------

// Where a new instruction goes: before `before` in `block` (null: at the end).
struct Position {
  Block* block = nullptr;
  Inst* before = nullptr;
};
Position before(Inst* inst);
Position after(Inst* inst);
Position front(Block* block);              // before everything, phis included
Position back(Block* block);               // after everything, the terminator included
Position before_terminator(Block* block);  // back() if there is none
Position after_phis(Block* block);

class Builder {
 public:
  explicit Builder(Function& fn, Position at = {}) : fn_(&fn), at_(at) {}
  Function& function() const { return *fn_; }
  void set_position(Position at) { at_ = at; }
  Position position() const { return at_; }
  // The origin new instructions get.
  void set_origin(uint32_t pc) { origin_ = pc; }

  // The general form: any opcode with its attributes and operands.
  Inst* create(Opcode op, const Attrs& attrs, std::span<Value* const> operands = {});

  Inst* binary(Opcode op, uint8_t width, Value* a, Value* b, isa::Extension ext = isa::Extension::Zero);
  Inst* neg(uint8_t width, Value* a, isa::Extension ext = isa::Extension::Zero);
  Inst* sext(uint8_t from_bits, uint8_t to_bits, Value* a);
  Inst* zext(uint8_t from_bits, Value* a);
  Inst* byte_swap(Opcode op, uint8_t width, Value* a);  // Bswap, ToLe, ToBe
  Inst* assign(Value* a);
  Inst* phi();
  Inst* alloc(uint32_t bytes);
  Inst* alloc_array(uint32_t element_bytes, uint32_t count);
  Inst* load(uint8_t width, bool is_signed, Value* alloc, int32_t offset);
  Inst* store(uint8_t width, Value* alloc, int32_t offset, Value* value);
  Inst* load_raw(uint8_t width, bool is_signed, Value* address, int32_t offset);
  Inst* store_raw(uint8_t width, Value* address, int32_t offset, Value* value);
  Inst* atomic(AtomicOp op, uint8_t width, bool fetch, Value* address, int32_t offset, Value* value,
               Value* expected = nullptr);  // Cmpxchg: value is the new one
  Inst* call(CallKind kind, int64_t imm, std::span<Value* const> args, Function* callee = nullptr);
  Inst* jump(Block* target);
  Inst* branch(isa::Condition cond, uint8_t width, Value* a, Value* b, Block* taken, Block* not_taken);
  Inst* ret(Value* r0);

 private:
  Function* fn_;
  Position at_;
  uint32_t origin_ = kNoOrigin;
};

// ---- CFG edits that keep phis right ------------------------------------------------------

// Moves `at` and everything after it into a new block placed after the old
// one; the old block ends in `ja new`. Successors' phis name the new block.
Block* split_block(Inst* at);
// Puts a new block on the edge from -> to (one `ja to`); to's phis name it.
// The new block is placed after `from`.
Block* split_edge(Block* from, Block* to);
// Makes from's edge to `old_to` go to `new_to`: old_to's phis lose from's
// input, new_to's phis get `values` (one per phi of new_to, in order; empty:
// undef). Fails (changing nothing) if from has no edge to old_to or the
// branch would name one block twice.
Expected<void> redirect_edge(Block* from, Block* old_to, Block* new_to, std::span<Value* const> values = {});
// Drops pred's input from every phi of block (after the edge pred -> block
// went away by other means, or before removing it).
void remove_predecessor(Block* block, Block* pred);

// ---- Text form, validator, Graphviz ---------------------------------------------------

// The text form (docs/ARCHITECTURE.md, module ir): parse(print(m)) prints
// the same text again. Printing renumbers blocks and values.
std::string print(Module& module);
std::string print(Function& fn);
// Errors carry line:column (and `input` as the location's file name).
Expected<std::unique_ptr<Module>> parse(std::string_view text, std::string_view input = "");

// Checks that the IR is well formed: every block ends in its one
// terminator; targets, preds and phi inputs agree one to one; use lists are
// exact; definitions dominate their uses; widths and fields fit each opcode;
// the allocs fit in the dialect's stack frame. The first problem found.
Expected<void> validate(Function& fn);
Expected<void> validate(Module& module);

// Graphviz: one node per block with its instructions.
std::string to_dot(Function& fn);

// ---- Analyses (computed on demand; recompute after CFG edits) --------------------------------

// Blocks reachable from the entry in reverse postorder (iterative).
std::vector<Block*> reverse_postorder(const Function& fn);

class DominatorTree {
 public:
  explicit DominatorTree(const Function& fn);
  bool reachable(const Block* block) const;
  // The immediate dominator; null for the entry and unreachable blocks.
  Block* idom(const Block* block) const;
  bool dominates(const Block* a, const Block* b) const;  // a == b counts
  // Whether `def` is available at `user` (its result defined before it).
  bool dominates(const Inst* def, const Inst* user) const;
  const std::vector<Block*>& order() const { return rpo_; }  // reverse postorder
  const std::vector<Block*>& children(const Block* block) const;
  // Dominance frontiers (Cooper, Harvey, Kennedy).
  std::vector<std::vector<Block*>> frontiers() const;  // by rpo index
  int rpo_index(const Block* block) const;             // -1 if unreachable

 private:
  std::vector<Block*> rpo_;
  std::unordered_map<const Block*, int> index_;
  std::vector<int> idom_;
  std::vector<std::vector<Block*>> children_;
  std::vector<uint32_t> pre_, post_;  // dominator-tree DFS numbers
};

// Liveness of SSA values (instruction results and the entry values
// %arg1-%arg5 and %fp; constants and undef are never live): per block, the
// values live on entry and on exit. A phi's input is live out of its
// predecessor, not live into the phi's block.
class Liveness {
 public:
  explicit Liveness(const Function& fn);
  const std::vector<const Value*>& live_in(const Block* block) const;
  const std::vector<const Value*>& live_out(const Block* block) const;
  bool is_live_in(const Block* block, const Value* value) const;
  bool is_live_out(const Block* block, const Value* value) const;

 private:
  std::unordered_map<const Block*, size_t> index_;
  std::vector<std::vector<const Value*>> in_, out_;
};

// Natural loops: one per header (a block that dominates a predecessor: the
// back edges' sources are its latches), nested by inclusion. Irreducible
// cycles (no header dominates them) are not loops here.
struct Loop {
  Block* header = nullptr;
  std::vector<Block*> latches;
  std::vector<Block*> blocks;  // the header first
  Loop* parent = nullptr;      // the innermost loop around this one
  unsigned depth = 1;          // 1 for an outermost loop
};

class LoopInfo {
 public:
  LoopInfo(const Function& fn, const DominatorTree& tree);
  // Outermost loops first (by depth, then header order).
  const std::vector<std::unique_ptr<Loop>>& loops() const { return loops_; }
  // The innermost loop holding the block, or null.
  Loop* loop_of(const Block* block) const;
  unsigned depth(const Block* block) const;

 private:
  std::vector<std::unique_ptr<Loop>> loops_;
  std::unordered_map<const Block*, Loop*> innermost_;
};

// ---- Lifting ------------------------------------------------------------------------------

// Lifts a decoded program into SSA: one Function per function of the
// program (isa::Program::functions; for a program that lists none, the entry
// and every local call or function-pointer target start one), the entry's
// first, each in pruned SSA form over r0-r10. Only code reachable from a
// function's start is lifted. Loads and stores keep the program's
// addresses: those through r10 are loadraw/storeraw on %fp.
Expected<std::unique_ptr<Module>> lift(const isa::Program& program);

// ---- Passes (src/ir/passes/, one pass a file) ---------------------------------------------
//
// A pass rewrites one function and says whether it changed anything. Passes
// are named and take parameters: a pipeline is text such as
// "sccp,copyprop,dce,strength(max_shift=63)". Each optimisation level is a
// pipeline in phases (cleanup, scalar, memory, cfg) run to a fixed point.

// A pass's parameters: name=value pairs from the pipeline text.
struct PassParams {
  std::vector<std::pair<std::string, std::string>> values;
  // The parameter as an integer, or `fallback` when absent; an error names
  // a value that is not an integer.
  Expected<int64_t> integer(std::string_view key, int64_t fallback) const;
};

// Repair: the checks module repair inserts where the verifier refused a
// program (a pass each class of refusal, aimed by its parameters at one
// instruction).
enum class PassPhase : uint8_t { Instrument, Repair, Cleanup, Scalar, Memory, Cfg };

struct PassInfo {
  std::string_view name;
  PassPhase phase;
  std::string_view summary;
  std::span<const std::string_view> params;  // the parameters it accepts
  Expected<bool> (*run)(Function& fn, const PassParams& params);
};

// Every pass, in the order `bpfkit opt --list-passes` shows them.
std::span<const PassInfo> pass_registry();
const PassInfo* find_pass(std::string_view name);

// One step of a pipeline: a pass and its parameters.
struct PassStep {
  const PassInfo* pass = nullptr;
  PassParams params;
};
// Parses "a,b(k=v,k2=v2),c"; errors name the column and the unknown pass or
// parameter.
Expected<std::vector<PassStep>> parse_pipeline(std::string_view text);
// The pipeline of an optimisation level: 0 none, 1 cleanup and scalar
// passes, 2 everything.
std::string_view level_pipeline(int level);
// The level's second try ("" for none): -O2 without stack forwarding. A
// forwarded value stays in a register until the load it replaced, and
// where registers ran short (the code spilled or made values again) that
// can cost more than the loads saved; the smaller program is kept.
std::string_view level_retry_pipeline(int level);

struct PipelineOptions {
  // Run validate() after every pass (on in debug builds, and in tests).
  bool validate_each = false;
  // Called after each pass that ran (for --print-after-all).
  std::function<void(const PassInfo& pass, Function& fn, bool changed)> after_pass;
  // Rounds of the whole pipeline until nothing changes.
  int max_rounds = 4;
};

// What a pipeline did: instructions before and after, and per pass how
// often it changed the IR.
struct PipelineStats {
  size_t insts_before = 0, insts_after = 0;
  std::vector<std::pair<std::string, unsigned>> changes;  // pass name, rounds it changed something
};
Expected<PipelineStats> run_pipeline(Module& module, std::span<const PassStep> steps,
                                     const PipelineOptions& options = {});

// ---- Names (text form, messages) -----------------------------------------------------------

std::string_view condition_name(isa::Condition cond);  // "eq", "sgt", "set", ...
std::string_view atomic_name(AtomicOp op);             // "add", "xchg", ...
std::string_view call_kind_name(CallKind kind);        // "helper", "local", ...
std::string_view const_kind_name(ConstKind kind);      // "int", "map_fd", ...

// The isa::Operation of a two-operand opcode (Add .. SHMul), else nullopt:
// what code generation selects rows by and the passes fold with.
std::optional<isa::Operation> binary_operation(Opcode op);

}  // namespace bpfkit::ir
