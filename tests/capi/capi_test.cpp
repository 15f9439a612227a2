// The C API (include/bpfkit/bpfkit.h): every function, every error path, and
// the same programs through the C and the C++ APIs.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/bpfkit.h"
#include "bpfkit/elf.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit {
namespace {

using isa::Op;

const std::filesystem::path kSbpfFixtures = std::filesystem::path(BPFKIT_SHARED_DIR) / "sbpf" / "elfs";
const std::filesystem::path kBpfObjects = BPFKIT_TEST_BPF_DIR;

// One vm per test, destroyed at the end.
class Vm {
 public:
  Vm() : vm_(bpfkit_vm_create()) {}
  ~Vm() { bpfkit_vm_destroy(vm_); }
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  operator bpfkit_vm*() const { return vm_; }  // NOLINT: used as the C handle

  std::string code() const { return bpfkit_vm_error_code(vm_); }
  std::string detail() const { return bpfkit_vm_error_detail(vm_); }
  std::string message() const { return bpfkit_vm_error_message(vm_); }
  int64_t pc() const { return bpfkit_vm_error_pc(vm_); }

 private:
  bpfkit_vm* vm_;
};

// Pseudo-C or GNU assembly to instruction bytes (Linux encodings).
std::vector<uint8_t> assemble(std::string_view source) {
  assembly::Assembly assembled = assembly::assemble(source);
  EXPECT_TRUE(assembled.ok()) << to_string(assembled.errors.front());
  const assembly::Section* text = assembled.object.find_section(".text");
  return text ? text->bytes : std::vector<uint8_t>{};
}

std::vector<uint8_t> bytes_of(std::initializer_list<isa::Slot> slots) {
  return isa::to_bytes(std::vector<isa::Slot>(slots));
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int load(bpfkit_vm* vm, const std::vector<uint8_t>& code, int dialect = BPFKIT_DIALECT_LINUX) {
  return bpfkit_vm_load(vm, code.data(), code.size(), dialect);
}

const std::vector<uint8_t> kAnswer = assemble("r0 = 42; exit");

// ---- Names, lifecycle, NULL -----------------------------------------------------

TEST(CApi, VersionIsTheProjects) { EXPECT_STREQ(bpfkit_version(), BPFKIT_TEST_VERSION); }

TEST(CApi, DialectNames) {
  const std::pair<const char*, bpfkit_dialect> names[] = {
      {"linux", BPFKIT_DIALECT_LINUX},     {"sbpf-v0", BPFKIT_DIALECT_SBPF_V0}, {"sbpf-v1", BPFKIT_DIALECT_SBPF_V1},
      {"sbpf-v2", BPFKIT_DIALECT_SBPF_V2}, {"sbpf-v3", BPFKIT_DIALECT_SBPF_V3},
  };
  for (const auto& [name, expected] : names) {
    bpfkit_dialect dialect = BPFKIT_DIALECT_LINUX;
    EXPECT_EQ(bpfkit_dialect_from_name(name, &dialect), BPFKIT_OK) << name;
    EXPECT_EQ(dialect, expected) << name;
  }
  bpfkit_dialect dialect = BPFKIT_DIALECT_SBPF_V2;
  EXPECT_EQ(bpfkit_dialect_from_name("sbpf-v4", &dialect), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_dialect_from_name("", &dialect), BPFKIT_ERROR);
  EXPECT_EQ(dialect, BPFKIT_DIALECT_SBPF_V2) << "left alone on failure";
  EXPECT_EQ(bpfkit_dialect_from_name(nullptr, &dialect), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_dialect_from_name("linux", nullptr), BPFKIT_ERROR);
}

TEST(CApi, CreateAndDestroy) {
  bpfkit_vm* vm = bpfkit_vm_create();
  ASSERT_NE(vm, nullptr);
  EXPECT_STREQ(bpfkit_vm_error_code(vm), "");
  EXPECT_EQ(bpfkit_vm_error_pc(vm), -1);
  EXPECT_EQ(bpfkit_vm_r0(vm), 0u);
  bpfkit_vm_destroy(vm);
  bpfkit_vm_destroy(nullptr);
}

int return_zero(void*, bpfkit_call*, const uint64_t*, uint64_t*) { return 0; }

TEST(CApi, NullVmIsAnErrorEverywhere) {
  uint64_t r0 = 0;
  EXPECT_EQ(bpfkit_vm_load(nullptr, kAnswer.data(), kAnswer.size(), BPFKIT_DIALECT_LINUX), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_load_elf(nullptr, kAnswer.data(), kAnswer.size(), nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_load_elf_file(nullptr, "x.o", nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_register_helper(nullptr, 1000, "h", return_zero, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_register_syscall(nullptr, "s", return_zero, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_set_input(nullptr, &r0, sizeof r0), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_set_budget(nullptr, 10), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_run(nullptr, &r0), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_r0(nullptr), 0u);
  EXPECT_EQ(bpfkit_vm_instructions(nullptr), 0u);
  EXPECT_EQ(bpfkit_vm_compute_units(nullptr), 0u);
  EXPECT_STREQ(bpfkit_vm_log(nullptr), "");
  EXPECT_STREQ(bpfkit_vm_error_code(nullptr), "invalid_argument");
  EXPECT_STREQ(bpfkit_vm_error_detail(nullptr), "");
  EXPECT_STREQ(bpfkit_vm_error_message(nullptr), "vm is NULL");
  EXPECT_EQ(bpfkit_vm_error_pc(nullptr), -1);
  // The call context functions are only ever handed a live call; NULL is still safe.
  EXPECT_EQ(bpfkit_call_translate(nullptr, 0, 1, 0), nullptr);
  EXPECT_EQ(bpfkit_call_consume(nullptr, 1), BPFKIT_ERROR);
  bpfkit_call_fail(nullptr, "ignored");
}

TEST(CApi, NullArguments) {
  Vm vm;
  EXPECT_EQ(bpfkit_vm_load(vm, nullptr, 8, BPFKIT_DIALECT_LINUX), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_load_elf(vm, nullptr, 64, nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_load_elf_file(vm, nullptr, nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_register_helper(vm, 1000, "h", nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_register_syscall(vm, nullptr, return_zero, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_register_syscall(vm, "s", nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_set_input(vm, nullptr, 4), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_EQ(bpfkit_vm_set_input(vm, nullptr, 0), BPFKIT_OK) << "removes the input";
  EXPECT_EQ(vm.code(), "") << "a call that succeeds clears the error";
}

// ---- Loading raw bytes ------------------------------------------------------------

TEST(CApi, LoadsAndRunsRawLinuxBytes) {
  Vm vm;
  ASSERT_EQ(load(vm, kAnswer), BPFKIT_OK) << vm.message();
  uint64_t r0 = 0;
  ASSERT_EQ(bpfkit_vm_run(vm, &r0), BPFKIT_OK) << vm.message();
  EXPECT_EQ(r0, 42u);
  EXPECT_EQ(bpfkit_vm_r0(vm), 42u);
  EXPECT_EQ(bpfkit_vm_instructions(vm), 2u);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), 0u) << "Linux runs are not metered in compute units";
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << "r0 may be NULL; the program runs again";
  EXPECT_EQ(bpfkit_vm_r0(vm), 42u);
}

TEST(CApi, RunWithoutAProgram) {
  Vm vm;
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "no_program");
  // A failed load leaves no program behind, not the previous one.
  ASSERT_EQ(load(vm, kAnswer), BPFKIT_OK);
  EXPECT_EQ(load(vm, {1, 2, 3}), BPFKIT_ERROR);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "no_program");
}

TEST(CApi, BadBytesAreRefusedWithTheirPc) {
  Vm vm;
  EXPECT_EQ(load(vm, {1, 2, 3}), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "truncated");
  EXPECT_EQ(load(vm, {}), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "truncated") << "an empty program";

  // The first opcode byte that no Linux row has, as the second instruction.
  isa::Slot unknown;
  while (isa::lookup(unknown)) ++unknown.code;
  EXPECT_EQ(load(vm, bytes_of({isa::encode(Op::mov64_imm, 0, 0, 0, 1), unknown, isa::encode(Op::exit)})), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "bad_opcode");
  EXPECT_EQ(vm.pc(), 1);
  EXPECT_NE(vm.message().find("pc 1"), std::string::npos) << vm.message();

  // sBPF: the production verifier's name in the detail.
  EXPECT_EQ(load(vm, bytes_of({isa::encode(Op::div64_imm, 0, 0, 0, 0), isa::encode(Op::exit)}), BPFKIT_DIALECT_SBPF_V0),
            BPFKIT_ERROR);
  EXPECT_EQ(vm.detail(), "DivisionByZero");
  EXPECT_EQ(vm.pc(), 0);
  EXPECT_EQ(load(vm, {1, 2, 3}, BPFKIT_DIALECT_SBPF_V3), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "truncated");
  EXPECT_EQ(vm.detail(), "ProgramLengthNotMultiple");
}

TEST(CApi, UnknownDialect) {
  Vm vm;
  EXPECT_EQ(load(vm, kAnswer, 99), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
  EXPECT_NE(vm.message().find("99"), std::string::npos) << vm.message();
  EXPECT_EQ(load(vm, kAnswer, -1), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument");
}

// ---- Helpers -----------------------------------------------------------------------

// What the test helper saw.
struct Seen {
  int calls = 0;
  uint64_t args[5] = {};
  const uint8_t* input = nullptr;       // translate(r1, r2, read)
  const uint8_t* past_input = nullptr;  // translate(r1, r2 + 1, read): out of bounds
  const char* fail_with = nullptr;      // fail with this message (or "" without one)
  int consume_status = BPFKIT_OK;
};

int recording_helper(void* user_data, bpfkit_call* call, const uint64_t args[5], uint64_t* r0) {
  Seen& seen = *static_cast<Seen*>(user_data);
  ++seen.calls;
  std::memcpy(seen.args, args, sizeof seen.args);
  seen.input = static_cast<const uint8_t*>(bpfkit_call_translate(call, args[0], args[1], 0));
  seen.past_input = static_cast<const uint8_t*>(bpfkit_call_translate(call, args[0], args[1] + 1, 0));
  seen.consume_status = bpfkit_call_consume(call, 1);
  if (seen.fail_with != nullptr) {
    if (*seen.fail_with) bpfkit_call_fail(call, seen.fail_with);
    return 7;
  }
  *r0 = args[0] - args[1] + 1000;
  return 0;
}

TEST(CApi, HelperGetsItsArgumentsAndTheInput) {
  Vm vm;
  Seen seen;
  ASSERT_EQ(bpfkit_vm_register_helper(vm, 1000, "record", recording_helper, &seen), BPFKIT_OK);
  ASSERT_EQ(load(vm, assemble("r3 = 3; r4 = 4; r5 = 5; call 1000; r0 -= 1000; exit")), BPFKIT_OK) << vm.message();
  uint8_t input[6] = {1, 2, 3, 4, 5, 6};
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, sizeof input), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.args[0], vm::region_base(vm::kInputRegion)) << "r1: the input";
  EXPECT_EQ(seen.args[1], sizeof input) << "r2: its size";
  EXPECT_EQ(seen.args[2], 3u);
  EXPECT_EQ(seen.args[3], 4u);
  EXPECT_EQ(seen.args[4], 5u);
  EXPECT_EQ(seen.input, input) << "the guest address translates to the caller's buffer";
  EXPECT_EQ(seen.past_input, nullptr) << "one byte past the input is refused";
  EXPECT_EQ(seen.consume_status, BPFKIT_OK) << "Linux helpers are not metered";
  EXPECT_EQ(bpfkit_vm_r0(vm), vm::region_base(vm::kInputRegion) - sizeof input);
  EXPECT_EQ(bpfkit_vm_instructions(vm), 6u);
}

TEST(CApi, HelpersRegisteredAfterLoadingAndReplaced) {
  Vm vm;
  ASSERT_EQ(load(vm, assemble("call 1000; exit")), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "unknown_helper");
  EXPECT_EQ(vm.pc(), 0);
  Seen first, second;
  ASSERT_EQ(bpfkit_vm_register_helper(vm, 1000, nullptr, recording_helper, &first), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_register_helper(vm, 1000, "second", recording_helper, &second), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(first.calls, 1);
  EXPECT_EQ(second.calls, 1);
  // Registrations outlive a load.
  ASSERT_EQ(load(vm, assemble("call 1000; exit")), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(second.calls, 2);
}

TEST(CApi, HelperFailureStopsTheRunAtTheCall) {
  Vm vm;
  Seen seen;
  seen.fail_with = "the map is gone";
  ASSERT_EQ(bpfkit_vm_register_helper(vm, 1000, "record", recording_helper, &seen), BPFKIT_OK);
  ASSERT_EQ(load(vm, assemble("r0 = 0; call 1000; exit")), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "helper_failed");
  EXPECT_EQ(vm.pc(), 1);
  EXPECT_NE(vm.message().find("record: the map is gone"), std::string::npos) << vm.message();

  seen.fail_with = "";  // no message: the returned value says what happened
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_NE(vm.message().find("returned 7"), std::string::npos) << vm.message();
}

TEST(CApi, DefaultHelpersAreThere) {
  Vm vm;  // helper 8: get_smp_processor_id, always 0
  ASSERT_EQ(load(vm, assemble("r0 = 5; call 8; exit")), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 0u);
}

// ---- Memory, faults, budget ------------------------------------------------------

TEST(CApi, ProgramReadsAndWritesTheInput) {
  Vm vm;
  ASSERT_EQ(load(vm, assemble("r0 = *(u8 *)(r1 + 0); *(u8 *)(r1 + 1) = 7; r0 += r2; exit")), BPFKIT_OK);
  uint8_t input[3] = {40, 0, 0};
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, sizeof input), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 43u);
  EXPECT_EQ(input[1], 7) << "the program writes the caller's buffer";
}

TEST(CApi, FaultNamesItsPc) {
  Vm vm;
  ASSERT_EQ(load(vm, assemble("r0 = 1; r0 = *(u64 *)(r1 + 8); exit")), BPFKIT_OK);
  uint8_t input[8] = {};
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, sizeof input), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "access_violation");
  EXPECT_EQ(vm.pc(), 1);
  EXPECT_NE(vm.message().find("input"), std::string::npos) << vm.message();
  // Without input, r1 is 0: the null page faults too.
  ASSERT_EQ(bpfkit_vm_set_input(vm, nullptr, 0), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "access_violation");
}

TEST(CApi, BudgetAllowsExactlyNInstructions) {
  Vm vm;
  ASSERT_EQ(load(vm, kAnswer), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_set_budget(vm, 2), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_set_budget(vm, 1), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "budget_exceeded");
  EXPECT_EQ(vm.pc(), 1);

  ASSERT_EQ(load(vm, assemble("loop: goto loop")), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_set_budget(vm, 1000), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "budget_exceeded");
}

// ---- sBPF --------------------------------------------------------------------------

TEST(CApi, RawSbpfInEveryVersion) {
  const auto code = bytes_of({isa::encode(Op::mov64_imm, 0, 0, 0, 5), isa::encode(Op::exit)});
  for (bpfkit_dialect dialect :
       {BPFKIT_DIALECT_SBPF_V0, BPFKIT_DIALECT_SBPF_V1, BPFKIT_DIALECT_SBPF_V2, BPFKIT_DIALECT_SBPF_V3}) {
    Vm vm;
    ASSERT_EQ(load(vm, code, dialect), BPFKIT_OK) << vm.message();
    ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
    EXPECT_EQ(bpfkit_vm_r0(vm), 5u);
    EXPECT_EQ(bpfkit_vm_instructions(vm), 2u);
    EXPECT_EQ(bpfkit_vm_compute_units(vm), 2u);
  }
}

// r1 = input, r2 = 5; call `name`; exit (with the syscall's r0).
std::vector<uint8_t> calls_syscall(std::string_view name) {
  return bytes_of({isa::encode(Op::mov64_imm, 2, 0, 0, 5),
                   isa::encode(Op::call, 0, 0, 0, static_cast<int32_t>(isa::murmur3_32(name))), isa::encode(Op::exit)});
}

TEST(CApi, SyscallsByNameWithComputeUnits) {
  Vm vm;
  Seen seen;
  ASSERT_EQ(bpfkit_vm_register_syscall(vm, "record", recording_helper, &seen), BPFKIT_OK);
  ASSERT_EQ(load(vm, calls_syscall("record"), BPFKIT_DIALECT_SBPF_V3), BPFKIT_OK) << vm.message();
  uint8_t input[5] = {};
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, sizeof input), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.args[0], vm::region_base(vm::kInputRegion));
  EXPECT_EQ(seen.input, input);
  EXPECT_EQ(seen.past_input, nullptr);
  EXPECT_EQ(bpfkit_vm_r0(vm), vm::region_base(vm::kInputRegion) - 5 + 1000);
  EXPECT_EQ(bpfkit_vm_instructions(vm), 3u);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), 4u) << "3 instructions and the 1 unit the syscall took";
}

TEST(CApi, SyscallOutOfComputeUnits) {
  Vm vm;
  Seen seen;
  ASSERT_EQ(bpfkit_vm_register_syscall(vm, "record", recording_helper, &seen), BPFKIT_OK);
  ASSERT_EQ(load(vm, calls_syscall("record"), BPFKIT_DIALECT_SBPF_V0), BPFKIT_OK) << vm.message();
  uint8_t input[5] = {};
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, sizeof input), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_set_budget(vm, 2), BPFKIT_OK);  // both instructions, nothing for the syscall
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(seen.consume_status, BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "budget_exceeded");
  EXPECT_EQ(vm.detail(), "ComputationalBudgetExceeded");
  EXPECT_EQ(vm.pc(), 1);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), 2u) << "kept after a fault";
}

TEST(CApi, SyscallFailureAndRegistrationAfterLoad) {
  Vm vm;
  ASSERT_EQ(load(vm, calls_syscall("record"), BPFKIT_DIALECT_SBPF_V3), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR) << "no such syscall yet";
  EXPECT_EQ(vm.pc(), 1);
  Seen seen;
  seen.fail_with = "refused";
  ASSERT_EQ(bpfkit_vm_register_syscall(vm, "record", recording_helper, &seen), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(seen.calls, 1) << "registered after the load, used by the next run";
  EXPECT_EQ(vm.code(), "helper_failed");
  EXPECT_EQ(vm.detail(), "SyscallError");
  EXPECT_EQ(vm.pc(), 1);
  EXPECT_NE(vm.message().find("record: refused"), std::string::npos) << vm.message();
}

TEST(CApi, SyscallKeyCollision) {
  // Two names with one Murmur3 key (a birthday search over short names).
  std::unordered_map<uint32_t, std::string> by_key;
  std::string first, second;
  for (uint32_t i = 0; second.empty(); ++i) {
    std::string name = std::to_string(i);
    name.insert(name.begin(), 's');  // not "s" + ...: GCC 12's -Wrestrict false positive
    auto [it, added] = by_key.emplace(isa::murmur3_32(name), name);
    if (!added) first = it->second, second = name;
  }
  Vm vm;
  ASSERT_EQ(bpfkit_vm_register_syscall(vm, first.c_str(), return_zero, nullptr), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_register_syscall(vm, second.c_str(), return_zero, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "bad_operand");
  EXPECT_EQ(vm.detail(), "SymbolHashCollision");
}

TEST(CApi, SbpfLogAndDivideByZero) {
  Vm vm;  // sol_log_(input, 5), then r0 = 1 / r3 (r3 = 0)
  auto code = calls_syscall("sol_log_");
  code.resize(code.size() - sizeof(isa::Slot));
  const auto tail =
      bytes_of({isa::encode(Op::mov64_imm, 0, 0, 0, 1), isa::encode(Op::div64_reg, 0, 3), isa::encode(Op::exit)});
  code.insert(code.end(), tail.begin(), tail.end());
  ASSERT_EQ(load(vm, code, BPFKIT_DIALECT_SBPF_V3), BPFKIT_OK) << vm.message();
  char input[] = "hello";
  ASSERT_EQ(bpfkit_vm_set_input(vm, input, 5), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "divide_by_zero");
  EXPECT_EQ(vm.detail(), "DivideByZero");
  EXPECT_EQ(vm.pc(), 3);
  EXPECT_EQ(std::string(bpfkit_vm_log(vm)), "Program log: hello\n") << "the log survives the fault";
  EXPECT_EQ(bpfkit_vm_r0(vm), 1u) << "r0 as it was at the fault";
  EXPECT_EQ(bpfkit_vm_instructions(vm), 4u) << "the faulting division counts";
}

// ---- ELF files ---------------------------------------------------------------------

TEST(CApi, SbpfSharedObjects) {
  Vm vm;
  const std::string path = (kSbpfFixtures / "rodata_section.so").string();
  ASSERT_EQ(bpfkit_vm_load_elf_file(vm, path.c_str(), nullptr, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 42u);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), 3u);

  const std::vector<uint8_t> file = read_file(kSbpfFixtures / "relative_call_sbpfv0.so");
  ASSERT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), nullptr, nullptr), BPFKIT_OK) << vm.message();
  uint8_t one = 1;
  ASSERT_EQ(bpfkit_vm_set_input(vm, &one, 1), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 3u);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), 16u);

  EXPECT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), "text", nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "invalid_argument") << "an sBPF object has one entry point";

  const std::string bss = (kSbpfFixtures / "bss_section_sbpfv0.so").string();
  EXPECT_EQ(bpfkit_vm_load_elf_file(vm, bss.c_str(), nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.detail(), "WritableSectionNotSupported");
  EXPECT_NE(vm.message().find(bss), std::string::npos) << "names the file: " << vm.message();
}

TEST(CApi, SbpfObjectCallsARegisteredSyscall) {
  // syscall_static.so calls "log" (a default syscall): ours replaces it.
  Vm vm;
  Seen seen;
  ASSERT_EQ(bpfkit_vm_register_syscall(vm, "log", recording_helper, &seen), BPFKIT_OK);
  const std::string path = (kSbpfFixtures / "syscall_static.so").string();
  ASSERT_EQ(bpfkit_vm_load_elf_file(vm, path.c_str(), nullptr, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(seen.calls, 1);
}

TEST(CApi, EbpfObjectWithGlobalData) {
  const std::filesystem::path object = kBpfObjects / "global_data.o";
  if (!std::filesystem::exists(object)) GTEST_SKIP() << "no clang-19 to build " << object;
  const std::string path = object.string();
  Vm vm;
  ASSERT_EQ(bpfkit_vm_load_elf_file(vm, path.c_str(), nullptr, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 11020u);
  // The maps live as long as the program: the counter goes on from 10.
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 14020u);

  const std::vector<uint8_t> file = read_file(object);
  ASSERT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), "socket", "global_data"), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), 11020u) << "a load starts from fresh maps";
  ASSERT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), nullptr, "global_data"), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), "xdp", nullptr), BPFKIT_ERROR);
  EXPECT_NE(vm.message().find("socket/global_data"), std::string::npos) << "lists the choices: " << vm.message();
}

TEST(CApi, BadElfFiles) {
  Vm vm;
  EXPECT_EQ(bpfkit_vm_load_elf_file(vm, "/nonexistent/prog.o", nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "io");
  EXPECT_NE(vm.message().find("/nonexistent/prog.o"), std::string::npos) << vm.message();

  const std::vector<uint8_t> garbage(64, 0xab);
  EXPECT_EQ(bpfkit_vm_load_elf(vm, garbage.data(), garbage.size(), nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_NE(vm.code(), "");
  EXPECT_EQ(bpfkit_vm_load_elf(vm, garbage.data(), 3, nullptr, nullptr), BPFKIT_ERROR);
  EXPECT_NE(vm.code(), "");
  // An ELF object written by bpfkit's own assembler, but asked for a missing function.
  auto written = assembly::write_elf(assembly::assemble("f: r0 = 1; exit").object);
  ASSERT_TRUE(written) << to_string(written.error());
  const std::vector<uint8_t>& object = *written;
  EXPECT_EQ(bpfkit_vm_load_elf(vm, object.data(), object.size(), nullptr, "missing"), BPFKIT_ERROR);
  EXPECT_NE(vm.code(), "");
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "no_program");
}

TEST(CApi, AThrowingCallbackIsCaughtAtTheBoundary) {
  // Callbacks must not throw (the header says so); if a C++ one does, the
  // exception still stops at the API instead of unwinding into C.
  Vm vm;
  auto throwing = [](void*, bpfkit_call*, const uint64_t*, uint64_t*) -> int { throw std::runtime_error("oops"); };
  ASSERT_EQ(bpfkit_vm_register_helper(vm, 1000, "throws", throwing, nullptr), BPFKIT_OK);
  ASSERT_EQ(load(vm, assemble("call 1000; exit")), BPFKIT_OK);
  EXPECT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_ERROR);
  EXPECT_EQ(vm.code(), "internal");
  EXPECT_NE(vm.message().find("oops"), std::string::npos) << vm.message();
}

// ---- Differential: the C API against the C++ API -----------------------------------

TEST(CApi, SameResultsAsTheCppApi) {
  const char* sources[] = {
      "r0 = 1; r1 = 10; loop: r0 *= r1; r1 -= 1; if r1 != 0 goto loop; exit",
      "r0 = 0; r2 = 100; loop: r0 += r2; r0 ^= 0x55; r2 -= 1; if r2 s> 0 goto loop; exit",
      "r1 = 7; call f; r0 += 1; exit; f: r0 = r1; r0 <<= 3; exit",
      "r0 = -1 ll; r0 /= 3; w0 += 5; exit",
  };
  for (const char* source : sources) {
    SCOPED_TRACE(source);
    const std::vector<uint8_t> code = assemble(source);
    auto program = isa::decode(code);
    ASSERT_TRUE(program) << to_string(program.error());
    vm::Context context;
    auto interpreter = vm::Interpreter::create(*program, context);
    ASSERT_TRUE(interpreter) << to_string(interpreter.error());
    auto expected = interpreter->run(context);
    ASSERT_TRUE(expected.ok()) << to_string(*expected.error);

    Vm vm;
    ASSERT_EQ(load(vm, code), BPFKIT_OK) << vm.message();
    ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
    EXPECT_EQ(bpfkit_vm_r0(vm), expected.r0);
    EXPECT_EQ(bpfkit_vm_instructions(vm), expected.instructions);
  }
}

TEST(CApi, SameResultsAsTheCppApiForSbpf) {
  const std::vector<uint8_t> file = read_file(kSbpfFixtures / "relative_call.so");
  auto loaded = elf::sbpf::load(file, {.syscalls = vm::HelperTable::sbpf_defaults().names()});
  ASSERT_TRUE(loaded) << to_string(loaded.error());
  auto program = elf::sbpf::to_program(std::move(*loaded));
  ASSERT_TRUE(program) << to_string(program.error());
  vm::Context context(*program->dialect);
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  ASSERT_TRUE(interpreter) << to_string(interpreter.error());
  std::vector<uint8_t> input = {1};
  context.map_input(input);
  const vm::RunResult expected = interpreter->run(context);
  ASSERT_FALSE(expected.error);

  Vm vm;
  ASSERT_EQ(bpfkit_vm_load_elf(vm, file.data(), file.size(), nullptr, nullptr), BPFKIT_OK) << vm.message();
  ASSERT_EQ(bpfkit_vm_set_input(vm, input.data(), input.size()), BPFKIT_OK);
  ASSERT_EQ(bpfkit_vm_run(vm, nullptr), BPFKIT_OK) << vm.message();
  EXPECT_EQ(bpfkit_vm_r0(vm), expected.r0);
  EXPECT_EQ(bpfkit_vm_instructions(vm), expected.instructions);
  EXPECT_EQ(bpfkit_vm_compute_units(vm), expected.compute_units);
}

}  // namespace
}  // namespace bpfkit
