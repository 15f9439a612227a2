// Module repair: programs the verifier refuses made into programs it
// accepts, with defined behaviour, as ePass repairs them: verify, read the
// verifier's structured error, rewrite the program through the IR (lift,
// one repair pass of module ir aimed at the instruction the error names,
// generate), verify again, until the unmodified verifier accepts, gives an
// error no repair answers, or the rounds run out. Nothing is claimed the
// verifier did not say: the last round's verdict is the answer.
//
// The classes repaired:
// - BoundIndex: a memory access through a map value pointer (or the raw
//   type's buffer, "mem") plus a scalar the verifier cannot bound ("R0 unbounded memory access", "invalid
//   access to map value, value_size=32 off=2040 size=8", "R0 min value is
//   negative", "math between map_value pointer and register with unbounded
//   min value is not allowed"). Before the pointer add the program returns
//   the bail value when the scalar (unsigned) exceeds the largest offset
//   every access through the sum allows; in bounds nothing changes.
// - NullCheck: a pointer a helper returned that may be NULL, used without a
//   check ("R0 invalid mem access 'map_value_or_null'", "R0 pointer
//   arithmetic on map_value_or_null prohibited, null-check it first").
//   Right after the call the program returns the bail value on NULL.
// The bail value is the program's r0 (0 by default: XDP_ABORTED for XDP, a
// dropped packet for a socket filter, TC_ACT_OK for tc); in a bpf-to-bpf
// function it is that function's return value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/verify.hpp"

namespace bpfkit::repair {

enum class FixKind : uint8_t { BoundIndex, NullCheck };
std::string_view fix_kind_name(FixKind kind);  // "bound-index", "null-check"

// One rewrite, in the program the verifier refused.
struct Fix {
  FixKind kind = FixKind::BoundIndex;
  uint32_t error_pc = 0;  // where the verifier stopped
  uint32_t pc = 0;        // the instruction guarded: the pointer add, or the call
  int64_t limit = 0;      // BoundIndex: the largest scalar let through
  std::string pass;       // the IR pass that makes it: "bound-index(pc=12,operand=1,limit=24,bail=0)"
};

// Why a refusal has no repair: not a class above, one whose shape the
// repair does not follow (a pointer spilled to the stack, two variable
// offsets, an access below the object), or a program the IR cannot lift
// or generate.
struct Unrepairable {
  std::string reason;
};

// One round: the verifier's verdict on the round's program, and what was
// done about a refusal.
struct Round {
  verify::Result verdict;
  std::optional<Fix> fix;                    // set when the program was rewritten
  std::optional<Unrepairable> unrepairable;  // set when the refusal ends the loop
};

enum class Outcome : uint8_t {
  Accepted,      // accepted as given: the program is untouched
  Repaired,      // accepted after at least one fix
  Unrepairable,  // the last refusal has no repair: reported as the verifier gave it
  OutOfRounds,   // still refused after max_rounds fixes
};
std::string_view outcome_name(Outcome outcome);  // "accepted", "repaired", ...

struct Options {
  verify::Options verify;  // its hooks are the repair's own (left null here)
  int max_rounds = 8;      // fixes at most; the verifier runs once more
  int64_t bail = 0;        // r0 where a check fails
};

struct Report {
  Outcome outcome = Outcome::Unrepairable;
  std::vector<Round> rounds;  // at least one; the last one's verdict is the answer
  isa::Program program;       // the last program verified (the input if untouched)
  bool accepted() const { return rounds.back().verdict.accepted; }
};

// The loop: verify; on a refusal, diagnose and apply; again.
Report repair(const isa::Program& program, const Options& options = {});

// One diagnosis: the fix for `verdict`, a refusal of `program` by the
// verifier under `options`, or why there is none.
std::variant<Fix, Unrepairable> diagnose(const isa::Program& program, const verify::Result& verdict,
                                         const Options& options);

// One rewrite: `fix` applied to `program` through the IR (lift, its pass,
// generate).
Expected<isa::Program> apply(const isa::Program& program, const Fix& fix);

}  // namespace bpfkit::repair
