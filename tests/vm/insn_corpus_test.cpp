// Every case of the instruction corpus (tests/data/insn/*.instr) on every
// engine that runs its dialect. Engines are reached through run_case() and
// make_engine() alone: a new engine (the JIT) is one more EngineKind and one
// more branch there; the cases and their checks stay as they are.
#include "insn_corpus.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "bpfkit/assembly.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;
using test::Expectation;
using test::InsnCase;

// ---- The engines -------------------------------------------------------------

// Each vm::Engine implementation. The interpreter runs every dialect; the
// JIT runs Linux eBPF.
enum class EngineKind : uint8_t { Interpreter, Jit };
constexpr EngineKind kEngines[] = {EngineKind::Interpreter, EngineKind::Jit};

const char* engine_name(EngineKind engine) {
  switch (engine) {
    case EngineKind::Interpreter: return "interpreter";
    case EngineKind::Jit: return "jit";
  }
  return "?";
}

bool engine_runs(EngineKind, const isa::Dialect&) { return true; }  // both engines run every dialect

Expected<std::unique_ptr<vm::Engine>> make_engine(EngineKind engine, const isa::Program& program,
                                                  const vm::Context& context) {
  switch (engine) {
    case EngineKind::Interpreter: return vm::make_interpreter(program, context);
    case EngineKind::Jit: return jit::make_jit(program, context);
  }
  return make_error(Errc::Unsupported, "unknown engine");
}

// What one engine made of one case.
struct Outcome {
  enum class Kind : uint8_t { Exited, Rejected, Faulted, Unsupported } kind = Kind::Exited;
  std::array<uint64_t, isa::kRegisterCount> registers{};
  std::string error;    // Rejected, Faulted: the error's name
  std::string message;  // ... and its whole text, for failure messages
  std::optional<uint32_t> pc;
  std::optional<uint64_t> compute_units;  // engines that meter
};

// The error's name as the corpus writes it: the dialect's own name where
// the error has one (sBPF's production names), otherwise its class as
// --json prints it (e.g. access_violation).
std::string error_name(const Error& error) {
  return error.name().empty() ? errc_name(error.code) : std::string(error.name());
}

Outcome stopped(Outcome::Kind kind, const Error& error) {
  Outcome outcome;
  outcome.kind = kind;
  outcome.error = error_name(error);
  outcome.message = to_string(error);
  outcome.pc = error.location.pc;
  return outcome;
}

Outcome unsupported(std::string why) {
  Outcome outcome;
  outcome.kind = Outcome::Kind::Unsupported;
  outcome.message = std::move(why);
  return outcome;
}

// The case's program as slots: assembled in its dialect, or its raw bytes.
Expected<std::vector<isa::Slot>> program_slots(const InsnCase& c) {
  if (!c.is_assembly()) {
    std::vector<isa::Slot> slots(c.bytes.size() / sizeof(isa::Slot));
    std::memcpy(slots.data(), c.bytes.data(), c.bytes.size());
    return slots;
  }
  assembly::AssembleOptions options;
  options.dialect = *c.dialect;
  options.input_name = c.file + ":" + c.name;
  auto assembled = assembly::assemble(c.assembly, options);
  if (!assembled.ok()) return make_error(Errc::BadOperand, assembly::format_diagnostics(assembled, c.assembly));
  return assembly::section_slots(assembled.object);
}

// The one place that runs a case. The program is laid out as `bpfkit run
// --dialect` lays out raw code (load::raw_program: the dialect's verifier
// rules; sBPF text at 1 << 32, v0..v2 calls linked to their targets' keys);
// a program refused there or by the engine is rejected.
Outcome run_case(const InsnCase& c, EngineKind engine) {
  auto slots = program_slots(c);
  if (!slots) return unsupported(std::string("the program does not assemble:\n").append(slots.error().message));
  vm::Context context(*c.dialect);
  elf::sbpf::LoaderConfig config;
  config.syscalls = context.helpers().names();
  auto program = load::raw_program(std::move(*slots), c.file + ":" + c.name, *c.dialect, config);
  if (!program) return stopped(Outcome::Kind::Rejected, program.error());
  auto prepared = make_engine(engine, *program, context);
  if (!prepared) return stopped(Outcome::Kind::Rejected, prepared.error());
  std::vector<uint8_t> memory = c.memory.value_or(std::vector<uint8_t>{});
  if (c.memory) context.map_input(memory);  // r1 = its address (Linux: r2 = its length)
  std::array<uint64_t, 5> args = context.entry_args();
  for (const auto& [reg, value] : c.registers_in) {
    if (reg < 1 || reg > 5) return unsupported("an engine takes r1..r5 at entry only");
    args[reg - 1] = value;
  }
  if (c.budget) context.set_budget(*c.budget);
  const vm::RunResult result = (*prepared)->run(context, args);
  Outcome outcome = result.error ? stopped(Outcome::Kind::Faulted, *result.error) : Outcome{};
  outcome.registers = result.registers;
  outcome.compute_units = result.compute_units;
  return outcome;
}

// ---- The corpus ------------------------------------------------------------------

const fs::path kCorpusDir = BPFKIT_INSN_DIR;

struct CorpusFile {
  fs::path path;
  Expected<std::vector<InsnCase>> cases;
};

const std::vector<CorpusFile>& corpus_files() {
  static const std::vector<CorpusFile> files = [] {
    std::vector<fs::path> paths;
    if (fs::is_directory(kCorpusDir))
      for (const auto& entry : fs::directory_iterator(kCorpusDir))
        if (entry.path().extension() == ".instr") paths.push_back(entry.path());
    std::sort(paths.begin(), paths.end());
    std::vector<CorpusFile> out;
    for (const auto& path : paths)
      out.push_back({path, test::parse_insn_corpus(test::read_text(path), path.filename().string())});
    return out;
  }();
  return files;
}

struct CaseRun {
  std::string stem;  // the file's name without .instr
  InsnCase c;
  EngineKind engine;
};

// How GoogleTest prints a parameter: where the case is written.
void PrintTo(const CaseRun& run, std::ostream* os) {
  *os << run.c.file << ":" << run.c.line << " " << run.c.name << " on " << engine_name(run.engine);
}

std::vector<CaseRun> corpus_runs() {
  std::vector<CaseRun> runs;
  for (const auto& file : corpus_files()) {
    if (!file.cases.has_value()) continue;  // InsnCorpusFiles.EveryFileParses reports it
    for (const auto& c : *file.cases)
      for (EngineKind engine : kEngines)
        if (engine_runs(engine, *c.dialect)) runs.push_back({file.path.stem().string(), c, engine});
  }
  return runs;
}

std::string identifier(std::string name) {
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

std::string hex(uint64_t value) { return hex_string(value); }

class InsnCorpus : public ::testing::TestWithParam<CaseRun> {};

TEST_P(InsnCorpus, Outcome) {
  const InsnCase& c = GetParam().c;
  SCOPED_TRACE(c.file + ":" + std::to_string(c.line) + ": case " + c.name + " (" + std::string(c.dialect->name) + ", " +
               engine_name(GetParam().engine) + ")");
  const Outcome got = run_case(c, GetParam().engine);
  ASSERT_NE(got.kind, Outcome::Kind::Unsupported) << got.message;
  switch (c.expect) {
    case Expectation::Registers:
      ASSERT_EQ(got.kind, Outcome::Kind::Exited) << "expected an exit, got " << got.message;
      for (const auto& [reg, value] : c.registers_out)
        EXPECT_EQ(hex(got.registers[reg]), hex(value)) << "r" << int(reg);
      break;
    case Expectation::Rejects:
      ASSERT_EQ(got.kind, Outcome::Kind::Rejected) << "expected the verifier to reject it; " << got.message;
      EXPECT_EQ(got.error, c.error) << got.message;
      break;
    case Expectation::Fault:
      ASSERT_EQ(got.kind, Outcome::Kind::Faulted) << "expected a fault; " << got.message;
      EXPECT_EQ(got.error, c.error) << got.message;
      EXPECT_EQ(got.pc, c.pc) << got.message;
      break;
  }
  if (c.compute_units) {
    ASSERT_TRUE(got.compute_units.has_value()) << "this engine does not meter compute units";
    EXPECT_EQ(*got.compute_units, *c.compute_units) << "compute units";
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, InsnCorpus, ::testing::ValuesIn(corpus_runs()), [](const auto& info) {
  return identifier(info.param.stem + "_" + info.param.c.name + "_" + engine_name(info.param.engine));
});

TEST(InsnCorpusFiles, EveryFileParses) {
  ASSERT_FALSE(corpus_files().empty()) << "no .instr files in " << kCorpusDir;
  for (const auto& file : corpus_files()) EXPECT_TRUE(file.cases.has_value()) << to_string(file.cases.error());
}

// Each engine has cases to run, and every dialect is covered.
TEST(InsnCorpusFiles, EveryEngineAndDialectHasCases) {
  std::unordered_set<std::string_view> dialects;
  std::unordered_map<int, size_t> per_engine;
  size_t total = 0;
  for (const CaseRun& run : corpus_runs()) {
    dialects.insert(run.c.dialect->name);
    ++per_engine[static_cast<int>(run.engine)];
    ++total;
  }
  EXPECT_GE(total, 60u);
  for (EngineKind engine : kEngines) EXPECT_GT(per_engine[static_cast<int>(engine)], 0u) << engine_name(engine);
  for (const char* name : {"linux", "sbpf-v0", "sbpf-v1", "sbpf-v2", "sbpf-v3"})
    EXPECT_TRUE(dialects.contains(name)) << "no case for " << name;
}

}  // namespace
}  // namespace bpfkit
