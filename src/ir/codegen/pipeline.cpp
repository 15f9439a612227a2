// The code generator's entry points (bpfkit/ir/codegen.hpp): selection of
// every function, then the machine-IR back half (module.cpp), then what the
// original program knew that the IR does not carry (maps, global data, the
// sBPF image and keys).
#include <algorithm>
#include <unordered_map>

#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "module.hpp"
#include "prepare.hpp"
#include "select.hpp"

namespace bpfkit::ir {

std::optional<OptLevel> opt_level_named(std::string_view name) {
  if (name == "O0" || name == "0") return OptLevel::O0;
  if (name == "O1" || name == "1") return OptLevel::O1;
  if (name == "O2" || name == "2") return OptLevel::O2;
  return std::nullopt;
}

// The level's pipeline (src/ir/passes); debug builds validate after every pass.
Expected<void> optimize(Module& module, OptLevel level) {
  auto steps = parse_pipeline(level_pipeline(static_cast<int>(level)));
  if (!steps) return steps.error();
  PipelineOptions options;
#ifndef NDEBUG
  options.validate_each = true;
#endif
  auto stats = run_pipeline(module, *steps, options);
  if (!stats) return stats.error();
  return {};
}

namespace {

// What the IR does not carry comes from the program it was lifted from.
void carry_over(const isa::Program& original, const Module& module, const std::vector<uint32_t>& starts,
                isa::Program& out) {
  out.maps = original.maps;
  // Maps the passes added (instrumentation) follow the original's.
  for (size_t i = original.maps.size(); i < module.maps().size(); ++i) out.maps.push_back(module.maps()[i]);
  out.data_relocations = original.data_relocations;
  out.rodata = original.rodata;
  out.rodata_vaddr = original.rodata_vaddr;
  out.text_vaddr = original.text_vaddr;
  out.syscall_keys = original.syscall_keys;
  // A function key names the function that started at its slot.
  for (auto [key, slot] : original.function_keys)
    for (size_t i = 0; i < module.functions().size(); ++i)
      if (module.functions()[i]->origin() == slot) out.function_keys[key] = starts[i];
  // sBPF: where the text is mapped, and the entry as the loader found it.
  out.entry = starts.empty() ? 0 : starts[0];
}

// The function selected as it is and, where joining phi edges changes it
// (prepare.hpp), selected again: the smaller once emitted. Joined edges
// make a constant once where it was made on each edge, but each edge's
// copies could often have gone before its branch with no block or jump of
// their own (as clang sets a return value early); which wins depends on
// the registers, known only after allocation.
Expected<codegen::MFunction> select_smaller(Function& fn, const isa::Program* original,
                                            const std::unordered_map<const Function*, uint32_t>& index,
                                            const isa::Dialect& dialect) {
  auto plain = codegen::select(fn, original, index);
  if (!plain || codegen::join_phi_edges(fn) == 0) return plain;
  auto joined = codegen::select(fn, original, index);
  if (!joined) return joined.error();
  auto plain_size = codegen::emitted_size(*plain, dialect);
  auto joined_size = codegen::emitted_size(*joined, dialect);
  if (!joined_size) return plain;  // the module's generation reports the plain one's error, if any
  if (!plain_size || *joined_size < *plain_size) return joined;
  return plain;
}

}  // namespace

Expected<isa::Program> generate(Module& module, const CodegenOptions& options) {
  std::unordered_map<const Function*, uint32_t> index;
  for (size_t i = 0; i < module.functions().size(); ++i) index[module.functions()[i].get()] = static_cast<uint32_t>(i);
  codegen::MModule machine;
  machine.dialect = &module.dialect();
  for (const auto& fn : module.functions()) {
    auto selected = select_smaller(*fn, options.original, index, module.dialect());
    if (!selected) return selected.error();
    if (options.original)  // the key the original program called it by
      for (auto [key, slot] : options.original->function_keys)
        if (slot == fn->origin() && !options.original->syscall_keys.count(key))
          selected->key = std::min(key, selected->key.value_or(key));
    machine.functions.push_back(std::move(*selected));
  }
  auto generated = codegen::generate_module(machine);
  if (!generated) return generated.error();
  if (options.original)
    carry_over(*options.original, module, generated->starts, generated->program);
  else
    generated->program.maps = module.maps();
  if (options.stats) {
    const codegen::ModuleStats& s = generated->stats;
    *options.stats = {s.spilled, s.rematerialised, s.split, s.copies, s.deepest_frame};
  }
  return std::move(generated->program);
}

Expected<isa::Program> optimize_program(const isa::Program& program, OptLevel level, CodegenStats* stats) {
  auto module = lift(program);
  if (!module) return module.error();
  if (auto optimized = optimize(**module, level); !optimized) return optimized.error();
  return generate(**module, {.original = &program, .stats = stats});
}

}  // namespace bpfkit::ir
