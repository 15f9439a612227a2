// The runtime tests run every instruction twice, on the interpreter (the
// reference) and on the JIT (ExecuteOptions::engine, at every CPI depth),
// and require the two to agree on everything the runtime reports: the
// error, logs, compute units, return data, accounts and the top program's
// registers and counts. Each test then checks the interpreter's result.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>

#include "bpfkit/jit.hpp"
#include "bpfkit/solana.hpp"

namespace bpfkit::solana::engines {

// The JIT as the runtime's engine, counting the programs it prepared.
inline EngineFactory jit_engine(int* prepared = nullptr) {
  return [prepared](const isa::Program& program, const vm::Context& context) {
    if (prepared != nullptr) ++*prepared;
    return jit::make_jit(program, context);
  };
}

inline std::string error_text(const std::optional<Error>& error) {
  if (!error) return "(none)";
  return to_string(*error) + " [" + std::string(error->name()) + ", code " +
         std::to_string(static_cast<int>(error->code)) + "]";
}

inline void expect_same_accounts(const std::vector<Account>& interp, const std::vector<Account>& jit) {
  ASSERT_EQ(interp.size(), jit.size());
  for (size_t i = 0; i < interp.size(); ++i) {
    SCOPED_TRACE("account " + std::to_string(i));
    EXPECT_EQ(interp[i].key, jit[i].key);
    EXPECT_EQ(interp[i].owner, jit[i].owner);
    EXPECT_EQ(interp[i].lamports, jit[i].lamports);
    EXPECT_EQ(interp[i].data, jit[i].data);
    EXPECT_EQ(interp[i].executable, jit[i].executable);
    EXPECT_EQ(interp[i].rent_epoch, jit[i].rent_epoch);
  }
}

// Everything `execute` reports, the interpreter's against the JIT's.
inline void expect_same_results(const ExecuteResult& interp, const ExecuteResult& jit) {
  SCOPED_TRACE("interpreter against JIT");
  EXPECT_EQ(error_text(interp.error), error_text(jit.error));
  EXPECT_EQ(interp.logs, jit.logs);
  EXPECT_EQ(interp.compute_units, jit.compute_units);
  EXPECT_EQ(interp.return_data.program_id, jit.return_data.program_id);
  EXPECT_EQ(interp.return_data.data, jit.return_data.data);
  expect_same_accounts(interp.accounts, jit.accounts);
  EXPECT_EQ(interp.run.r0, jit.run.r0);
  EXPECT_EQ(interp.run.registers, jit.run.registers);
  EXPECT_EQ(interp.run.instructions, jit.run.instructions);
  EXPECT_EQ(interp.run.compute_units, jit.run.compute_units);
  EXPECT_EQ(error_text(interp.run.error), error_text(jit.run.error));
}

// `execute` on both engines (options.engine is replaced); the
// interpreter's result, once the JIT's has been found equal. Where the
// program cannot be prepared, both must refuse it with one error.
inline Expected<ExecuteResult> execute_on_both(const isa::Program& program, const Instruction& instruction,
                                               const std::vector<Account>& accounts, ExecuteOptions options = {}) {
  options.engine = nullptr;
  auto interp = execute(program, instruction, accounts, options);
  int jit_programs = 0;
  options.engine = jit_engine(&jit_programs);
  auto jit = execute(program, instruction, accounts, options);
  EXPECT_EQ(interp.has_value(), jit.has_value());
  if (interp && jit) {
    expect_same_results(*interp, *jit);
    // A program that ran (its "consumed" line) ran on the JIT.
    const bool ran = std::any_of(interp->logs.begin(), interp->logs.end(),
                                 [](const std::string& line) { return line.find(" consumed ") != std::string::npos; });
    if (ran) {
      EXPECT_GT(jit_programs, 0) << "the runtime did not ask ExecuteOptions::engine for an engine";
    }
  } else if (!interp && !jit) {
    EXPECT_EQ(error_text(interp.error()), error_text(jit.error()));
  }
  return interp;
}

}  // namespace bpfkit::solana::engines
