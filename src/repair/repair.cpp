// The repair loop: verify, diagnose, rewrite through the IR, verify again.
// The verifier is module verify unchanged; a program is called repaired
// only when its verdict on the rewritten program says accepted.
#include "bpfkit/repair.hpp"

#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"

namespace bpfkit::repair {

std::string_view fix_kind_name(FixKind kind) {
  switch (kind) {
    case FixKind::BoundIndex: return "bound-index";
    case FixKind::NullCheck: return "null-check";
  }
  return "?";
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Accepted: return "accepted";
    case Outcome::Repaired: return "repaired";
    case Outcome::Unrepairable: return "unrepairable";
    case Outcome::OutOfRounds: return "out-of-rounds";
  }
  return "?";
}

Expected<isa::Program> apply(const isa::Program& program, const Fix& fix) {
  auto steps = ir::parse_pipeline(fix.pass);
  if (!steps) return steps.error();
  auto module = ir::lift(program);
  if (!module) return module.error();
  ir::PipelineOptions pipeline;
  pipeline.validate_each = true;
  pipeline.max_rounds = 1;
  auto ran = ir::run_pipeline(**module, *steps, pipeline);
  if (!ran) return ran.error();
  if (ran->changes.empty() || ran->changes.front().second == 0)
    return make_error(Errc::Unsupported, "the pass " + fix.pass + " found nothing to change", at_pc(fix.pc));
  return ir::generate(**module, {.original = &program});
}

Report repair(const isa::Program& program, const Options& options) {
  Report report;
  report.program = program;
  Options unhooked = options;
  unhooked.verify.hooks = nullptr;
  for (int fixes = 0;; ++fixes) {
    Round& round = report.rounds.emplace_back();
    round.verdict = verify::verify(report.program, unhooked.verify);
    if (round.verdict.accepted) {
      report.outcome = fixes == 0 ? Outcome::Accepted : Outcome::Repaired;
      return report;
    }
    if (fixes >= options.max_rounds) {
      report.outcome = Outcome::OutOfRounds;
      return report;
    }
    auto diagnosis = diagnose(report.program, round.verdict, unhooked);
    if (auto* why = std::get_if<Unrepairable>(&diagnosis)) {
      round.unrepairable = std::move(*why);
      report.outcome = Outcome::Unrepairable;
      return report;
    }
    Fix& fix = std::get<Fix>(diagnosis);
    auto rewritten = apply(report.program, fix);
    if (!rewritten) {
      round.unrepairable = Unrepairable{"the IR could not make the fix " + fix.pass + ": " + rewritten.error().message};
      report.outcome = Outcome::Unrepairable;
      return report;
    }
    round.fix = std::move(fix);
    report.program = std::move(*rewritten);
  }
}

}  // namespace bpfkit::repair
