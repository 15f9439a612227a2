// The compiler's own labels: a bound label is an offset into the code; a
// jump to one not yet bound leaves a rel32 field and an entry in
// label_uses_, and patch_labels() fills them all in one pass at the end.
// Linear in the number of labels and jumps, where xbyak's labels keep hash
// tables of labels and of pending references.
#include <limits>

#include "compiler.hpp"

namespace bpfkit::jit {

void Compiler::L(Label& label) {
  if (label.offset >= 0) {
    Xbyak::local::SetError(Xbyak::ERR_LABEL_IS_REDEFINED);
    return;
  }
  label.offset = static_cast<int64_t>(getSize());
}

void Compiler::use_label(const Label& target) {
  label_uses_.push_back({getSize(), &target});
  dd(0);
}

// As xbyak's opJmp: a bound target within rel8 of the jump's end takes the
// short form, every other jump the near one.
void Compiler::jump(const Label& target, uint8_t short_code, uint8_t near_code, uint8_t near_prefix) {
  const int near_size = near_prefix != 0 ? 6 : 5;
  if (target.offset >= 0) {
    const int64_t short_disp = target.offset - static_cast<int64_t>(getSize()) - 2;
    if (short_disp >= -128 && short_disp <= 127) {
      db(short_code);
      db(static_cast<uint8_t>(short_disp));
      return;
    }
    if (near_prefix != 0) db(near_prefix);
    db(near_code);
    dd(static_cast<uint32_t>(short_disp + 2 - near_size));
    return;
  }
  if (near_prefix != 0) db(near_prefix);
  db(near_code);
  use_label(target);
}

void Compiler::lea_label(const Xbyak::Reg64& into, const Label& target) {
  lea(into, Xbyak::util::ptr[Xbyak::util::rip]);  // RIP-relative: the disp32 ends the instruction
  setSize(getSize() - 4);
  use_label(target);
}

Expected<void> Compiler::patch_labels() {
  for (const LabelUse& use : label_uses_) {
    if (use.target->offset < 0) return make_error(Errc::Unsupported, "x86-64 encoder: a jump to a label never placed");
    const int64_t disp = use.target->offset - static_cast<int64_t>(use.at + 4);
    if (disp < std::numeric_limits<int32_t>::min() || disp > std::numeric_limits<int32_t>::max())
      return make_error(Errc::Unsupported, "x86-64 encoder: the code is too large for a 32-bit jump");
    rewrite(use.at, static_cast<uint32_t>(disp), 4);
  }
  label_uses_.clear();
  label_uses_.shrink_to_fit();
  return {};
}

void Compiler::keep_off_boundary(const std::function<void()>& emit_jump) {
  constexpr size_t kWindow = 32;
  const size_t start = getSize();
  const size_t uses = label_uses_.size();
  emit_jump();
  const size_t end = getSize();
  if (inputs_.harden || (start / kWindow == (end - 1) / kWindow && end % kWindow != 0)) return;
  setSize(start);
  label_uses_.resize(uses);
  nop(kWindow - start % kWindow);
  ++boundary_pads_;
  emit_jump();
}

const void* Compiler::address_of(const Label& label) const {
  return label.offset < 0 ? nullptr : getCode() + label.offset;
}

}  // namespace bpfkit::jit
