// The C API (include/bpfkit/bpfkit.h): a thin layer over the public C++
// headers. Each entry point catches every exception (guard()) and turns each
// Error into the vm's error fields, so nothing but return values crosses into
// C. Whoever changes the C++ APIs fixes this file; it holds no logic of its
// own beyond choosing the engine and wrapping callbacks.
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/bpfkit.h"
#include "bpfkit/elf.hpp"
#include "bpfkit/elf_format.hpp"
#include "bpfkit/vm.hpp"

using namespace bpfkit;

#ifndef BPFKIT_VERSION
#define BPFKIT_VERSION "unknown"
#endif

struct bpfkit_call {
  vm::HelperCall* helper = nullptr;             // a Linux helper's call
  vm::sbpf::SyscallContext* syscall = nullptr;  // an sBPF syscall's
  bool out_of_budget = false;
  std::string failure;
};

struct bpfkit_vm {
  // Registrations, applied to every program loaded.
  vm::HelperRegistry helpers = vm::HelperRegistry::linux_defaults();
  vm::sbpf::SyscallRegistry syscalls = vm::sbpf::SyscallRegistry::defaults();

  // The loaded program: a Linux interpreter with its environment (maps,
  // memory), or an sBPF executable and its interpreter, which copies the
  // syscall table and so is rebuilt when a syscall is registered.
  std::unique_ptr<vm::Environment> env;
  std::optional<vm::Interpreter> linux_program;
  std::optional<vm::sbpf::Executable> sbpf_executable;
  std::optional<vm::sbpf::Interpreter> sbpf_program;

  std::span<uint8_t> input;
  std::optional<uint64_t> budget;

  // The last run.
  uint64_t r0 = 0, instructions = 0, compute_units = 0;
  std::string log;

  // The last call's error; code empty on success.
  std::string code, detail, message;
  int64_t pc = -1;

  int succeed() {
    code.clear(), detail.clear(), message.clear(), pc = -1;
    return BPFKIT_OK;
  }
  int fail(const char* error_code, std::string text) {
    code = error_code, detail.clear(), message = std::move(text), pc = -1;
    return BPFKIT_ERROR;
  }
  int fail(const Error& error) {
    fail(errc_name(error.code), to_string(error));
    detail = std::string(error.name());
    if (error.location.pc) pc = *error.location.pc;
    return BPFKIT_ERROR;
  }
  void unload() {
    env.reset(), linux_program.reset(), sbpf_executable.reset(), sbpf_program.reset();
    r0 = instructions = compute_units = 0;
    log.clear();
  }
};

namespace {

// Runs `body` for an entry point taking a vm: no exception leaves.
template <class Body>
int guard(bpfkit_vm* vm, Body&& body) {
  if (vm == nullptr) return BPFKIT_ERROR;
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return vm->fail("out_of_memory", "out of memory");
  } catch (const std::exception& e) {
    return vm->fail("internal", std::string("internal error: ") + e.what());
  } catch (...) {
    return vm->fail("internal", "internal error");
  }
}

const isa::Dialect* dialect_of(int dialect) {
  switch (dialect) {
    case BPFKIT_DIALECT_LINUX: return &isa::kLinuxV4;
    case BPFKIT_DIALECT_SBPF_V0: return &isa::kSbpfV0;
    case BPFKIT_DIALECT_SBPF_V1: return &isa::kSbpfV1;
    case BPFKIT_DIALECT_SBPF_V2: return &isa::kSbpfV2;
    case BPFKIT_DIALECT_SBPF_V3: return &isa::kSbpfV3;
  }
  return nullptr;
}

std::span<const uint8_t> bytes_of(const void* data, size_t size) { return {static_cast<const uint8_t*>(data), size}; }

// A shared object (e_type ET_DYN) or e_machine EM_SBPF is sBPF; anything else
// is read as an eBPF relocatable object. Both loaders check the rest.
bool is_sbpf_elf(std::span<const uint8_t> file) {
  const auto header = elf::ByteReader(file).read<elf::Ehdr>(0);
  return header && (header->e_type == elf::kEtDyn || header->e_machine == elf::kEmSbpf);
}

// The callback as the C++ registries take it: a failure becomes an Error
// (the engines prefix the helper's name and add the pc).
Expected<uint64_t> call_c(bpfkit_helper_fn fn, void* user_data, bpfkit_call& call,
                          const std::array<uint64_t, 5>& args) {
  uint64_t r0 = 0;
  const int status = fn(user_data, &call, args.data(), &r0);
  if (call.out_of_budget) {
    return make_error(Errc::BudgetExceeded, SbpfVmErrc::ComputationalBudgetExceeded, "Computational budget exceeded");
  }
  if (status != 0)
    return make_error(Errc::HelperFailed,
                      call.failure.empty() ? "returned " + std::to_string(status) : std::move(call.failure));
  return r0;
}

int load_linux(bpfkit_vm* vm, Expected<isa::Program> program, std::span<const isa::MapSpec> maps,
               std::span<const elf::DataRelocation> data_relocations) {
  if (!program) return vm->fail(program.error());
  auto env = std::make_unique<vm::Environment>(isa::kLinuxV4);
  env->helpers() = vm->helpers;
  for (const isa::MapSpec& spec : maps)
    if (auto index = env->add_map(spec); !index) return vm->fail(index.error());
  elf::apply_data_relocations(data_relocations, env->map_addresses(),
                              [&](uint32_t map) { return env->map(map).storage(); });
  auto interpreter = vm::Interpreter::create(*program, env->map_addresses());
  if (!interpreter) return vm->fail(interpreter.error());
  vm->env = std::move(env);
  vm->linux_program.emplace(std::move(*interpreter));
  return vm->succeed();
}

int load_sbpf(bpfkit_vm* vm, vm::sbpf::Executable executable) {
  auto interpreter = vm::sbpf::Interpreter::create(executable, vm->syscalls);
  if (!interpreter) return vm->fail(interpreter.error());
  vm->sbpf_executable.emplace(std::move(executable));
  vm->sbpf_program.emplace(std::move(*interpreter));
  return vm->succeed();
}

// Raw sBPF text laid out as the sBPF VM tests and fixture harnesses lay it:
// text at 1 << 32, which v0-v2 also map as the read-only region.
vm::sbpf::Executable raw_sbpf(std::span<const uint8_t> code, const isa::Dialect& dialect) {
  constexpr uint64_t kTextAddress = vm::region_base(vm::kProgramRegion);
  vm::sbpf::Executable executable;
  executable.dialect = &dialect;
  executable.text.resize(code.size() / sizeof(isa::Slot));
  std::memcpy(executable.text.data(), code.data(), executable.text.size() * sizeof(isa::Slot));
  executable.text_vaddr = kTextAddress;
  if (!dialect.sbpf.lower_rodata_vaddr) {
    executable.rodata.assign(code.begin(), code.begin() + executable.text.size() * sizeof(isa::Slot));
    executable.rodata_vaddr = kTextAddress;
  }
  return executable;
}

int load_ebpf_object(bpfkit_vm* vm, std::span<const uint8_t> file, const char* section, const char* function) {
  auto object = elf::EbpfObject::parse(file);
  if (!object) return vm->fail(object.error());
  auto program = section == nullptr && function == nullptr
                     ? object->default_program()
                     : object->find_program(section ? section : "", function ? function : "");
  if (!program) return vm->fail(program.error());
  auto linked = object->link(**program);
  if (!linked) return vm->fail(linked.error());
  return load_linux(vm, isa::decode(linked->code), linked->maps, linked->data_relocations);
}

int load_sbpf_object(bpfkit_vm* vm, std::span<const uint8_t> file) {
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm->syscalls.names();
  auto program = elf::sbpf::load(file, config);
  if (!program) return vm->fail(program.error());
  return load_sbpf(vm, vm::sbpf::Executable::from(std::move(*program)));
}

int run_linux(bpfkit_vm* vm) {
  vm::Environment& env = *vm->env;
  env.budget = vm->budget.value_or(vm::kDefaultBudget);
  env.clear_output();
  std::array<uint64_t, 5> args{};
  if (vm->input.data() != nullptr) {
    args[0] = env.map_input(vm->input);
    args[1] = vm->input.size();
  } else {
    env.memory().unmap(vm::kInputRegion);
  }
  auto result = vm->linux_program->run(env, args);
  vm->log = env.output();
  if (!result) return vm->fail(result.error());
  vm->r0 = result->r0;
  vm->instructions = result->instructions;
  return vm->succeed();
}

int run_sbpf(bpfkit_vm* vm) {
  if (!vm->sbpf_program) {  // a syscall was registered since the last run
    auto interpreter = vm::sbpf::Interpreter::create(*vm->sbpf_executable, vm->syscalls);
    if (!interpreter) return vm->fail(interpreter.error());
    vm->sbpf_program.emplace(std::move(*interpreter));
  }
  vm::sbpf::RunOptions options;
  options.compute_budget = vm->budget.value_or(vm::sbpf::kDefaultComputeBudget);
  options.input = vm->input;
  vm::sbpf::RunResult result = vm->sbpf_program->run(options);
  vm->r0 = result.registers[0];  // result.r0 is set on success only; the registers on faults too
  vm->instructions = result.instructions;
  vm->compute_units = result.compute_units;
  vm->log = std::move(result.log);
  if (result.error) return vm->fail(*result.error);
  return vm->succeed();
}

}  // namespace

extern "C" {

const char* bpfkit_version(void) { return BPFKIT_VERSION; }

int bpfkit_dialect_from_name(const char* name, bpfkit_dialect* dialect) {
  if (name == nullptr || dialect == nullptr) return BPFKIT_ERROR;
  for (int value = BPFKIT_DIALECT_LINUX; value <= BPFKIT_DIALECT_SBPF_V3; ++value) {
    if (dialect_of(value)->name == name) {
      *dialect = static_cast<bpfkit_dialect>(value);
      return BPFKIT_OK;
    }
  }
  return BPFKIT_ERROR;
}

bpfkit_vm* bpfkit_vm_create(void) {
  try {
    return new bpfkit_vm;
  } catch (...) {
    return nullptr;
  }
}

void bpfkit_vm_destroy(bpfkit_vm* vm) { delete vm; }

int bpfkit_vm_load(bpfkit_vm* vm, const void* code, size_t size, int dialect) {
  return guard(vm, [&] {
    vm->unload();
    const isa::Dialect* d = dialect_of(dialect);
    if (d == nullptr) return vm->fail("invalid_argument", "unknown dialect " + std::to_string(dialect));
    if (code == nullptr && size != 0) return vm->fail("invalid_argument", "code is NULL");
    const std::span<const uint8_t> bytes = bytes_of(code, size);
    auto program = isa::decode(bytes, *d);  // the sBPF interpreter decodes again: errors come from here
    if (!program || d->family == isa::Family::Linux) return load_linux(vm, std::move(program), {}, {});
    return load_sbpf(vm, raw_sbpf(bytes, *d));
  });
}

int bpfkit_vm_load_elf(bpfkit_vm* vm, const void* file, size_t size, const char* section, const char* function) {
  return guard(vm, [&] {
    vm->unload();
    if (file == nullptr) return vm->fail("invalid_argument", "file is NULL");
    const std::span<const uint8_t> bytes = bytes_of(file, size);
    if (!is_sbpf_elf(bytes)) return load_ebpf_object(vm, bytes, section, function);
    if (section != nullptr || function != nullptr)
      return vm->fail("invalid_argument",
                      "an sBPF shared object has one entry point: section and function must be NULL");
    return load_sbpf_object(vm, bytes);
  });
}

int bpfkit_vm_load_elf_file(bpfkit_vm* vm, const char* path, const char* section, const char* function) {
  return guard(vm, [&] {
    vm->unload();
    if (path == nullptr) return vm->fail("invalid_argument", "path is NULL");
    std::ifstream in(path, std::ios::binary);
    if (!in) return vm->fail("io", std::string(path) + ": cannot open the file");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return vm->fail("io", std::string(path) + ": cannot read the file");
    const int status = bpfkit_vm_load_elf(vm, bytes.data(), bytes.size(), section, function);
    if (status != BPFKIT_OK) vm->message = std::string(path) + ": " + vm->message;
    return status;
  });
}

int bpfkit_vm_register_helper(bpfkit_vm* vm, uint32_t id, const char* name, bpfkit_helper_fn fn, void* user_data) {
  return guard(vm, [&] {
    if (fn == nullptr) return vm->fail("invalid_argument", "helper function is NULL");
    vm::HelperFn wrapped = [fn, user_data](vm::HelperCall& helper) {
      bpfkit_call call;
      call.helper = &helper;
      return call_c(fn, user_data, call, helper.args);
    };
    std::string helper_name = name ? name : "helper " + std::to_string(id);
    vm->helpers.add(id, helper_name, wrapped);
    if (vm->env) vm->env->helpers().add(id, std::move(helper_name), std::move(wrapped));
    return vm->succeed();
  });
}

int bpfkit_vm_register_syscall(bpfkit_vm* vm, const char* name, bpfkit_helper_fn fn, void* user_data) {
  return guard(vm, [&] {
    if (name == nullptr) return vm->fail("invalid_argument", "syscall name is NULL");
    if (fn == nullptr) return vm->fail("invalid_argument", "syscall function is NULL");
    auto added = vm->syscalls.add(name, [fn, user_data](vm::sbpf::SyscallContext& context) {
      bpfkit_call call;
      call.syscall = &context;
      return call_c(fn, user_data, call, context.args);
    });
    if (!added) return vm->fail(added.error());
    vm->sbpf_program.reset();  // run() rebuilds it with the new table
    return vm->succeed();
  });
}

void* bpfkit_call_translate(bpfkit_call* call, uint64_t address, uint64_t size, int write) {
  if (call == nullptr) return nullptr;
  if (call->syscall != nullptr) return call->syscall->translate(address, size, write != 0);
  if (call->helper != nullptr) return call->helper->memory.translate(address, size, write != 0);
  return nullptr;
}

int bpfkit_call_consume(bpfkit_call* call, uint64_t units) {
  if (call == nullptr) return BPFKIT_ERROR;
  if (call->syscall == nullptr || call->syscall->consume(units)) return BPFKIT_OK;
  call->out_of_budget = true;
  return BPFKIT_ERROR;
}

void bpfkit_call_fail(bpfkit_call* call, const char* message) {
  if (call == nullptr) return;
  try {
    call->failure = message ? message : "";
  } catch (...) {  // out of memory: the default message will do
  }
}

int bpfkit_vm_set_input(bpfkit_vm* vm, void* memory, size_t size) {
  return guard(vm, [&] {
    if (memory == nullptr && size != 0) return vm->fail("invalid_argument", "memory is NULL");
    if (size > 0xffffffffu) return vm->fail("invalid_argument", "input larger than 4 GiB");
    vm->input = std::span<uint8_t>(static_cast<uint8_t*>(memory), size);
    return vm->succeed();
  });
}

int bpfkit_vm_set_budget(bpfkit_vm* vm, uint64_t budget) {
  return guard(vm, [&] {
    vm->budget = budget;
    return vm->succeed();
  });
}

int bpfkit_vm_run(bpfkit_vm* vm, uint64_t* r0) {
  return guard(vm, [&] {
    vm->r0 = vm->instructions = vm->compute_units = 0;
    vm->log.clear();
    int status;
    if (vm->linux_program)
      status = run_linux(vm);
    else if (vm->sbpf_executable)
      status = run_sbpf(vm);
    else
      return vm->fail("no_program", "no program loaded");
    if (status == BPFKIT_OK && r0 != nullptr) *r0 = vm->r0;
    return status;
  });
}

uint64_t bpfkit_vm_r0(const bpfkit_vm* vm) { return vm ? vm->r0 : 0; }
uint64_t bpfkit_vm_instructions(const bpfkit_vm* vm) { return vm ? vm->instructions : 0; }
uint64_t bpfkit_vm_compute_units(const bpfkit_vm* vm) { return vm ? vm->compute_units : 0; }
const char* bpfkit_vm_log(const bpfkit_vm* vm) { return vm ? vm->log.c_str() : ""; }

const char* bpfkit_vm_error_code(const bpfkit_vm* vm) { return vm ? vm->code.c_str() : "invalid_argument"; }
const char* bpfkit_vm_error_detail(const bpfkit_vm* vm) { return vm ? vm->detail.c_str() : ""; }
const char* bpfkit_vm_error_message(const bpfkit_vm* vm) { return vm ? vm->message.c_str() : "vm is NULL"; }
int64_t bpfkit_vm_error_pc(const bpfkit_vm* vm) { return vm ? vm->pc : -1; }

}  // extern "C"
