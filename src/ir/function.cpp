// Functions (blocks in layout order, interned constants, the entry values)
// and modules.
#include <algorithm>
#include <unordered_set>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

size_t Function::ConstKeyHash::operator()(const ConstKey& key) const {
  size_t h = std::hash<uint64_t>{}(key.bits);
  h ^= (static_cast<size_t>(key.kind) << 8 | key.width) * 0x9e3779b97f4a7c15ULL;
  h ^= std::hash<uint64_t>{}(key.index) + 0x7f4a7c15 + (h << 6) + (h >> 2);
  h ^= std::hash<const void*>{}(key.target);
  return h;
}

Function::Function(Module* module, std::string name) : module_(module), name_(std::move(name)) {}

Function::~Function() {
  // Unlink every operand while every value is still alive, then delete.
  for (Block* block : order_)
    for (Inst* inst = block->first(); inst; inst = inst->next())
      for (Use& use : inst->operands_) use.unlink();
  owned_.clear();
}

const isa::Dialect& Function::dialect() const { return module_ ? module_->dialect() : isa::kLinuxV4; }

Block* Function::add_block() {
  owned_.push_back(std::unique_ptr<Block>(new Block(this)));
  order_.push_back(owned_.back().get());
  return order_.back();
}

Block* Function::add_block_after(Block* block) {
  owned_.push_back(std::unique_ptr<Block>(new Block(this)));
  auto at = std::find(order_.begin(), order_.end(), block);
  if (at != order_.end()) ++at;
  order_.insert(at, owned_.back().get());
  return owned_.back().get();
}

void Function::move_block_after(Block* block, Block* after) {
  order_.erase(std::find(order_.begin(), order_.end(), block));
  auto at = std::find(order_.begin(), order_.end(), after);
  if (at != order_.end()) ++at;
  order_.insert(at, block);
}

void Function::erase_block(Block* block) {
  for (Block* succ : block->succs()) remove_predecessor(succ, block);
  for (Inst* inst = block->first(); inst; inst = inst->next()) {
    inst->replace_all_uses_with(undef());
    for (Use& use : inst->operands_) use.unlink();
  }
  while (Inst* inst = block->last()) {
    block->unlink(inst);
    delete inst;
  }
  // No predecessor list names the block now: deleting its terminator took
  // it out of its targets' lists, and edges into it are gone by contract.
  // (A sweep of every block here made merging a chain of n blocks O(n^2).)
  order_.erase(std::find(order_.begin(), order_.end(), block));
  auto owner = std::find_if(owned_.begin(), owned_.end(), [&](const auto& b) { return b.get() == block; });
  owned_.erase(owner);
}

Const* Function::constant(uint64_t bits, uint8_t width) {
  if (width < 64) bits &= (uint64_t{1} << width) - 1;
  return typed_constant_impl(ConstKind::Int, width, bits, 0, nullptr);
}

Const* Function::typed_constant(ConstKind kind, uint32_t index, uint64_t bits, Function* target) {
  return typed_constant_impl(kind, 64, bits, index, target);
}

Const* Function::typed_constant_impl(ConstKind kind, uint8_t width, uint64_t bits, uint32_t index, Function* target) {
  ConstKey key{kind, width, bits, index, target};
  auto [it, inserted] = constants_.try_emplace(key);
  if (inserted) {
    it->second.reset(new Const(kind, width, bits, index, target));
    constant_order_.push_back(it->second.get());
  }
  return it->second.get();
}

Special* Function::arg(int reg) { return &args_[reg - 1]; }

void Function::erase(Inst* inst) {
  inst->replace_all_uses_with(undef());
  for (Use& use : inst->operands_) use.unlink();
  if (inst->parent_) inst->parent_->unlink(inst);
  delete inst;
}

Function::Numbering Function::renumber() {
  Numbering count;
  for (Block* block : order_) {
    block->number_ = count.blocks++;
    for (Inst* inst = block->first(); inst; inst = inst->next())
      inst->number_ = inst->has_result() ? count.values++ : 0;
  }
  return count;
}

size_t Function::inst_count() const {
  size_t count = 0;
  for (Block* block : order_) count += block->size();
  return count;
}

Function* Module::add_function(std::string name) {
  functions_.push_back(std::make_unique<Function>(this, std::move(name)));
  return functions_.back().get();
}

namespace {

// The functions `fn` names: local call targets and func() constants.
std::vector<Function*> referenced_functions(const Function& fn) {
  std::vector<Function*> out;
  for (Block* block : fn.blocks())
    for (Inst* inst = block->first(); inst; inst = inst->next()) {
      if (inst->callee()) out.push_back(inst->callee());
      for (size_t i = 0; i < inst->operand_count(); ++i)
        if (const Value* v = inst->operand(i); v->is_const()) {
          const auto* c = static_cast<const Const*>(v);
          if (c->const_kind() == ConstKind::Func && c->target()) out.push_back(c->target());
        }
    }
  return out;
}

}  // namespace

size_t Module::erase_unreachable_functions() {
  if (dialect_->family != isa::Family::Linux || functions_.empty()) return 0;
  std::unordered_set<const Function*> reached{functions_.front().get()};
  std::vector<const Function*> work{functions_.front().get()};
  while (!work.empty()) {
    const Function* fn = work.back();
    work.pop_back();
    for (Function* callee : referenced_functions(*fn))
      if (reached.insert(callee).second) work.push_back(callee);
  }
  // Values and constants are per function: deleting one leaves no use in
  // another behind (a dead function naming another names it by pointer only).
  const size_t before = functions_.size();
  std::erase_if(functions_, [&](const auto& fn) { return !reached.count(fn.get()); });
  return before - functions_.size();
}

uint32_t Module::add_map(isa::MapSpec spec) {
  for (size_t i = 0; i < maps_.size(); ++i)
    if (maps_[i].name == spec.name) return static_cast<uint32_t>(i);
  maps_.push_back(std::move(spec));
  return static_cast<uint32_t>(maps_.size() - 1);
}

Function* Module::find(std::string_view name) const {
  for (const auto& fn : functions_)
    if (fn->name() == name) return fn.get();
  return nullptr;
}

}  // namespace bpfkit::ir
