// Load/store forwarding on the stack, within a block: a load of the bytes a
// store to the frame just wrote is the stored value (zero- or
// sign-extended from the access width), and a second load of unchanged
// bytes is the first. Anything that may write the stack behind our back
// (a call: helpers take stack pointers; an atomic; a store through an
// address that is not the frame's) forgets what is known, unless no
// pointer into the frame escapes (frame_stays_private): then nothing but
// the function's own frame stores can write it.
#include <map>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

struct Known {
  unsigned bytes;
  Value* value;    // its low `bytes` bytes are the memory's
  bool loaded;     // value is a load of exactly these bytes (already extended as it says)
  bool is_signed;  // for loaded: how it extended
};

class BlockForwarder {
 public:
  BlockForwarder(Function& fn, bool private_frame) : fn_(fn), private_frame_(private_frame) {}

  bool run(Block& block) {
    known_.clear();
    bool changed = false;
    for (Inst* inst = block.first(); inst;) {
      Inst* next = inst->next();
      changed |= visit(*inst);
      inst = next;
    }
    return changed;
  }

 private:
  bool visit(Inst& inst) {
    switch (inst.op()) {
      case Opcode::StoreRaw: return store(inst), false;
      case Opcode::LoadRaw: return load(inst);
      case Opcode::Call:
      case Opcode::Atomic:
      case Opcode::Core:  // a kept CO-RE store may write anything a pointer reaches
        if (!private_frame_) known_.clear();
        return false;
      case Opcode::Store: known_.clear(); return false;
      default: return false;
    }
  }

  void store(Inst& inst) {
    const auto at = stack_offset(inst.operand(0), inst.attrs().offset);
    if (!at) {
      if (!private_frame_) known_.clear();
      return;
    }
    forget(*at, inst.width() / 8u);
    known_[*at] = {inst.width() / 8u, inst.operand(1), false, false};
  }

  bool load(Inst& inst) {
    const auto at = stack_offset(inst.operand(0), inst.attrs().offset);
    if (!at) return false;
    const unsigned bytes = inst.width() / 8u;
    auto it = known_.find(*at);
    if (it == known_.end() || it->second.bytes != bytes) {
      forget(*at, bytes);
      known_[*at] = {bytes, &inst, true, inst.attrs().is_signed};
      return false;
    }
    const Known known = it->second;
    Value* value = known.value;
    if (known.loaded && known.is_signed != inst.attrs().is_signed) return false;
    if (!known.loaded && bytes < 8) {
      Builder b(fn_, before(&inst));
      b.set_origin(inst.origin());
      value = inst.attrs().is_signed ? static_cast<Value*>(b.sext(static_cast<uint8_t>(bytes * 8), 64, value))
                                     : static_cast<Value*>(b.zext(static_cast<uint8_t>(bytes * 8), value));
    }
    inst.replace_all_uses_with(value);
    fn_.erase(&inst);
    return true;
  }

  // Drops what is known about bytes overlapping [at, at + bytes).
  void forget(int64_t at, unsigned bytes) {
    for (auto it = known_.begin(); it != known_.end();) {
      const bool overlaps = it->first < at + bytes && at < it->first + it->second.bytes;
      it = overlaps ? known_.erase(it) : std::next(it);
    }
  }

  Function& fn_;
  const bool private_frame_;
  std::map<int64_t, Known> known_;
};

}  // namespace

Expected<bool> run_stack_forward(Function& fn, const PassParams&) {
  std::vector<const Value*> addresses;
  BlockForwarder forwarder(fn, fn.entry() && frame_stays_private(fn, addresses));
  bool changed = false;
  for (Block* block : fn.blocks()) changed |= forwarder.run(*block);
  return changed;
}

}  // namespace bpfkit::ir::passes
