// The code generator's entry points (bpfkit/ir/codegen.hpp): selection of
// every function, then the machine-IR back half (module.cpp), then what the
// original program knew that the IR does not carry (maps, global data, the
// sBPF image and keys).
#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

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

namespace {

// A pipeline (src/ir/passes); debug builds validate after every pass.
Expected<void> run_text(Module& module, std::string_view pipeline,
                        const std::function<void(const PassInfo&, Function&, bool)>& after_pass = {}) {
  auto steps = parse_pipeline(pipeline);
  if (!steps) return steps.error();
  PipelineOptions options;
  options.after_pass = after_pass;
#ifndef NDEBUG
  options.validate_each = true;
#endif
  auto stats = run_pipeline(module, *steps, options);
  if (!stats) return stats.error();
  return {};
}

}  // namespace

Expected<void> optimize(Module& module, OptLevel level) {
  return run_text(module, level_pipeline(static_cast<int>(level)));
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
  out.kfuncs = original.kfuncs;
  out.ksyms = original.ksyms;
  // A function key names the function that started at its slot.
  for (auto [key, slot] : original.function_keys)
    for (size_t i = 0; i < module.functions().size(); ++i)
      if (module.functions()[i]->origin() == slot) out.function_keys[key] = starts[i];
  // sBPF: where the text is mapped, and the entry as the loader found it.
  out.entry = starts.empty() ? 0 : starts[0];
}

// Above this many IR instructions a function is selected once: the
// other ways cost four more allocations for a few instructions saved.
constexpr size_t kMostInstructionsToTryAgain = 10'000;

bool has_phis(const Function& fn) {
  for (const Block* block : fn.blocks())
    if (block->first() && block->first()->op() == Opcode::Phi) return true;
  return false;
}

// Selection has choices whose worth shows only once registers are
// allocated, so a function with phis is selected several ways and the
// way that emits smallest is kept (the first on a tie):
//  - phi hints from the inputs (right for loops) or from the uses (right
//    for a value returned; select.hpp);
//  - as the function is, and with its phi edges joined (prepare.hpp), which
//    makes a constant once where it was made on each edge; but each edge's
//    copies can often go before its branch instead, with no block or jump
//    of their own (as clang sets a return value early);
//  - where a way's allocation spilled, that way again with the constants
//    its loops read made where they are read (SelectOptions): a constant
//    held across a loop may be what left too few registers (xxh64's).
Expected<codegen::MFunction> select_smallest(Function& fn, const isa::Program* original,
                                             const std::unordered_map<const Function*, uint32_t>& index,
                                             const isa::Dialect& dialect) {
  using codegen::PhiHints;
  auto first = codegen::select(fn, original, index);
  if (!first || !has_phis(fn) || fn.inst_count() > kMostInstructionsToTryAgain) return first;
  struct Candidate {
    codegen::MFunction fn;
    size_t size = SIZE_MAX;  // none emits: the first is kept, and generation reports its error
  };
  std::vector<Candidate> candidates;
  // A selection of the same IR with the same hints is the same again.
  auto same_hints = [](const codegen::MFunction& a, const codegen::MFunction& b) {
    return std::equal(a.vregs.begin(), a.vregs.end(), b.vregs.begin(), b.vregs.end(),
                      [](const codegen::VRegInfo& x, const codegen::VRegInfo& y) { return x.hint == y.hint; });
  };
  auto consider = [&](codegen::MFunction selected, codegen::SelectOptions options, size_t same_ir_from) {
    for (size_t i = same_ir_from; i < candidates.size(); ++i)
      if (same_hints(candidates[i].fn, selected)) return;
    auto measured = codegen::emitted_size(selected, dialect);
    candidates.push_back({std::move(selected), measured ? measured->slots : SIZE_MAX});
    if (!measured || !measured->spilled || !options.constants_out_of_loops) return;
    options.constants_out_of_loops = false;
    if (auto again = codegen::select(fn, original, index, options))
      if (auto size = codegen::emitted_size(*again, dialect); size && size->slots < candidates.back().size)
        candidates.push_back({std::move(*again), size->slots});
  };
  auto add = [&](PhiHints hints, size_t same_ir_from) {
    const codegen::SelectOptions options{.phi_hints = hints};
    if (auto more = codegen::select(fn, original, index, options)) consider(std::move(*more), options, same_ir_from);
  };
  consider(std::move(*first), {}, 0);
  add(PhiHints::FromUses, 0);
  if (codegen::join_phi_edges(fn) > 0) {
    const size_t joined = candidates.size();
    add(PhiHints::FromInputs, joined);
    add(PhiHints::FromUses, joined);
  }
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i)
    if (candidates[i].size < candidates[best].size) best = i;
  return std::move(candidates[best].fn);
}

}  // namespace

Expected<isa::Program> generate(Module& module, const CodegenOptions& options) {
  std::unordered_map<const Function*, uint32_t> index;
  for (size_t i = 0; i < module.functions().size(); ++i) index[module.functions()[i].get()] = static_cast<uint32_t>(i);
  codegen::MModule machine;
  machine.dialect = &module.dialect();
  for (const auto& fn : module.functions()) {
    auto selected = select_smallest(*fn, options.original, index, module.dialect());
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

namespace {

Expected<isa::Program> optimize_with(const isa::Program& program, std::string_view pipeline,
                                     const OptimizeOptions& options, CodegenStats& stats) {
  auto module = lift(program);
  if (!module) return module.error();
  if (options.after_lift) options.after_lift(**module, pipeline);
  if (auto ran = run_text(**module, pipeline, options.after_pass); !ran) return ran.error();
  return generate(**module, {.original = &program, .stats = &stats});
}

bool ran_short_of_registers(const CodegenStats& stats) { return stats.spilled + stats.rematerialised > 0; }

}  // namespace

Expected<isa::Program> optimize_program(const isa::Program& program, OptLevel level, const OptimizeOptions& options) {
  const int number = static_cast<int>(level);
  CodegenStats stats;
  auto first = optimize_with(program, options.passes.empty() ? level_pipeline(number) : options.passes, options, stats);
  const std::string_view retry = options.passes.empty() ? level_retry_pipeline(number) : "";
  if (first && !retry.empty() && ran_short_of_registers(stats)) {
    CodegenStats retry_stats;
    auto again = optimize_with(program, retry, options, retry_stats);
    if (again && again->size() < first->size()) first = std::move(again), stats = retry_stats;
  }
  if (options.stats) *options.stats = stats;
  return first;
}

}  // namespace bpfkit::ir
