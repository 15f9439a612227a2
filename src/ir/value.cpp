// Values and their use lists: every operand slot is a Use linked into the
// list of the value it names, so replacing a value or erasing an instruction
// never leaves a stale reference behind.
#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

unsigned Use::index() const { return static_cast<unsigned>(this - user_->operands_.data()); }

void Use::link(Value* value) {
  unlink();
  value_ = value;
  if (!value) return;
  next_ = value->first_use_;
  if (next_) next_->prev_next_ = &next_;
  prev_next_ = &value->first_use_;
  value->first_use_ = this;
}

void Use::unlink() {
  if (!value_) return;
  *prev_next_ = next_;
  if (next_) next_->prev_next_ = prev_next_;
  value_ = nullptr;
  next_ = nullptr;
  prev_next_ = nullptr;
}

size_t Value::use_count() const {
  size_t count = 0;
  for (Use* use = first_use_; use; use = use->next_use()) ++count;
  return count;
}

void Value::replace_all_uses_with(Value* other) {
  if (other == this) return;
  const auto* constant = other && other->is_const() ? static_cast<const Const*>(other) : nullptr;
  const bool narrows = constant && constant->const_kind() == ConstKind::Int;
  while (first_use_) {  // link() unlinks the use from this list first
    Use* use = first_use_;
    Inst* user = use->user();
    const uint8_t bits = user->operand_bits(use->index());
    if (narrows && constant->width() > bits && user->parent())
      use->link(user->parent()->parent()->constant(constant->bits(), bits));
    else
      use->link(other);
  }
}

int64_t Const::as_signed() const {
  if (width_ >= 64) return static_cast<int64_t>(bits_);
  const uint64_t sign = uint64_t{1} << (width_ - 1);
  return static_cast<int64_t>((bits_ ^ sign) - sign);
}

}  // namespace bpfkit::ir
