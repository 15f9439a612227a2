// The pass manager: the registry of named passes, pipelines as text
// ("sccp,dce,strength(k=v)"), the optimisation levels, and running a
// pipeline to a fixed point with optional validation after every pass.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "passes.hpp"

namespace bpfkit::ir {

namespace {

using namespace passes;

constexpr std::string_view kBoundIndexParams[] = {"pc", "operand", "limit", "bail"};
constexpr std::string_view kNullCheckParams[] = {"pc", "bail"};

constexpr std::array<PassInfo, 15> kPasses = {{
    {"copyprop", PassPhase::Cleanup, "replace copies and single-input phis by their value", {}, run_copyprop},
    {"sccp", PassPhase::Scalar, "sparse conditional constant propagation and folding", {}, run_sccp},
    {"strength",
     PassPhase::Scalar,
     "multiply/divide by powers of two as shifts and masks; identities",
     {},
     run_strength},
    {"zext", PassPhase::Scalar, "remove redundant zero-extensions (shift pairs, already-narrow values)", {}, run_zext},
    {"condop",
     PassPhase::Scalar,
     "an operation on a phi of constants (one its identity) computed on the phi's edges: if (c) n++",
     {},
     run_cond_op},
    {"cse", PassPhase::Scalar, "common subexpressions over the dominator tree", {}, run_cse},
    {"stackfwd", PassPhase::Memory, "forward stack stores and loads to later loads in a block", {}, run_stack_forward},
    {"deadstores", PassPhase::Memory, "remove stack stores no load reads (frame not escaping)", {}, run_dead_stores},
    {"storemerge",
     PassPhase::Memory,
     "a run of constant stores to the frame as the fewest aligned stores of the same bytes",
     {},
     run_store_merge},
    {"dce", PassPhase::Cleanup, "remove instructions whose results nothing uses", {}, run_dce},
    {"simplifycfg",
     PassPhase::Cfg,
     "fold constant branches, merge and skip blocks, drop unreachable ones",
     {},
     run_simplify_cfg},
    {"count-insns",
     PassPhase::Instrument,
     "profile: count executed bytecode instructions in map .data.bpfkit_insns",
     {},
     run_count_insns},
    {"block-hits",
     PassPhase::Instrument,
     "coverage: count each block's runs in map .data.bpfkit_block_hits (first slot, hits)",
     {},
     run_block_hits},
    {"bound-index", PassPhase::Repair,
     "repair: before the pointer add of slot pc, return bail when its operand (0/1) is above limit (unsigned)",
     kBoundIndexParams, run_bound_index},
    {"null-check", PassPhase::Repair, "repair: after the call of slot pc, return bail when its result is NULL",
     kNullCheckParams, run_null_check},
}};

Error pipeline_error(size_t column, std::string message) {
  return make_error(Errc::BadOperand, "pipeline column " + std::to_string(column + 1) + ": " + std::move(message));
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

// Reads `key=value` pairs up to the closing parenthesis.
Expected<PassParams> parse_params(std::string_view text, size_t& at) {
  PassParams params;
  while (at < text.size() && text[at] != ')') {
    const size_t key_start = at;
    while (at < text.size() && name_char(text[at])) ++at;
    if (at == key_start || at >= text.size() || text[at] != '=')
      return pipeline_error(at, "expected name=value in the pass's parameters");
    std::string key(text.substr(key_start, at - key_start));
    const size_t value_start = ++at;
    while (at < text.size() && text[at] != ',' && text[at] != ')') ++at;
    params.values.emplace_back(std::move(key), std::string(text.substr(value_start, at - value_start)));
    if (at < text.size() && text[at] == ',') ++at;
  }
  if (at >= text.size()) return pipeline_error(at, "missing ')'");
  ++at;
  return params;
}

}  // namespace

Expected<int64_t> PassParams::integer(std::string_view key, int64_t fallback) const {
  for (const auto& [name, value] : values) {
    if (name != key) continue;
    int64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end != value.data() + value.size())
      return make_error(Errc::BadOperand, "parameter " + name + "=" + value + " is not an integer");
    return number;
  }
  return fallback;
}

std::span<const PassInfo> pass_registry() { return kPasses; }

const PassInfo* find_pass(std::string_view name) {
  for (const PassInfo& pass : kPasses)
    if (pass.name == name) return &pass;
  return nullptr;
}

Expected<std::vector<PassStep>> parse_pipeline(std::string_view text) {
  std::vector<PassStep> steps;
  size_t at = 0;
  while (at < text.size()) {
    const size_t start = at;
    while (at < text.size() && name_char(text[at])) ++at;
    const std::string_view name = text.substr(start, at - start);
    if (name.empty()) return pipeline_error(start, "expected a pass name");
    PassStep step{find_pass(name), {}};
    if (!step.pass) return pipeline_error(start, "unknown pass '" + std::string(name) + "'");
    if (at < text.size() && text[at] == '(') {
      ++at;
      auto params = parse_params(text, at);
      if (!params) return params.error();
      for (const auto& [key, value] : params->values)
        if (std::find(step.pass->params.begin(), step.pass->params.end(), key) == step.pass->params.end())
          return pipeline_error(start, "pass '" + std::string(name) + "' has no parameter '" + key + "'");
      step.params = std::move(*params);
    }
    if (at < text.size() && text[at] != ',') return pipeline_error(at, "expected ',' between passes");
    if (at < text.size()) ++at;
    steps.push_back(std::move(step));
  }
  return steps;
}

std::string_view level_pipeline(int level) {
  if (level <= 0) return "";
  if (level == 1) return "copyprop,sccp,dce,simplifycfg";
  return "copyprop,sccp,strength,zext,condop,cse,stackfwd,deadstores,storemerge,copyprop,dce,simplifycfg";
}

std::string_view level_retry_pipeline(int level) {
  if (level < 2) return "";
  return "copyprop,sccp,strength,zext,condop,cse,deadstores,storemerge,copyprop,dce,simplifycfg";
}

Expected<PipelineStats> run_pipeline(Module& module, std::span<const PassStep> steps, const PipelineOptions& options) {
  PipelineStats stats;
  for (const auto& fn : module.functions()) stats.insts_before += fn->inst_count();
  for (const PassStep& step : steps) stats.changes.emplace_back(std::string(step.pass->name), 0);
  for (const auto& fn : module.functions()) {
    for (int round = 0; round < options.max_rounds; ++round) {
      bool any = false;
      for (size_t i = 0; i < steps.size(); ++i) {
        auto changed = steps[i].pass->run(*fn, steps[i].params);
        if (!changed) return changed.error();
        any |= *changed;
        stats.changes[i].second += *changed ? 1 : 0;
        if (options.validate_each)
          if (auto valid = validate(*fn); !valid)
            return make_error(Errc::Unsupported, "pass '" + std::string(steps[i].pass->name) +
                                                     "' left invalid IR in @" + fn->name() + ": " +
                                                     valid.error().message);
        if (options.after_pass) options.after_pass(*steps[i].pass, *fn, *changed);
      }
      if (!any) break;
    }
  }
  if (!steps.empty()) module.erase_unreachable_functions();
  for (const auto& fn : module.functions()) stats.insts_after += fn->inst_count();
  return stats;
}

}  // namespace bpfkit::ir
