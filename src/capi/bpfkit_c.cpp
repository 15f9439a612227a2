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
#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

using namespace bpfkit;

#ifndef BPFKIT_VERSION
#define BPFKIT_VERSION "unknown"
#endif

struct bpfkit_call {
  vm::HelperCall* call = nullptr;  // the engine's view of this helper or syscall call
  bool out_of_budget = false;
  std::string failure;
};

struct bpfkit_vm {
  // Registrations, applied to every program loaded: Linux helpers by id,
  // sBPF syscalls by name.
  vm::HelperTable helpers = vm::HelperTable::linux_defaults();
  vm::HelperTable syscalls = vm::HelperTable::sbpf_defaults();

  // The loaded program, the context it runs in (its maps, memory and the
  // table of its dialect) and its engine. The sBPF interpreter resolves
  // syscalls when it is made, so registering one drops the engine and run()
  // makes it again.
  std::optional<isa::Program> program;
  std::unique_ptr<vm::Context> context;
  std::unique_ptr<vm::Engine> engine;

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
    engine.reset(), context.reset(), program.reset();
    r0 = instructions = compute_units = 0;
    log.clear();
  }
  bool sbpf() const { return program && program->dialect->family == isa::Family::Sbpf; }
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

// Makes the context (maps first, then the data relocations that point into
// them) and the engine for `program`.
int take_program(bpfkit_vm* vm, Expected<isa::Program> program) {
  if (!program) return vm->fail(program.error());
  auto context = std::make_unique<vm::Context>(*program->dialect);
  context->helpers() = program->dialect->family == isa::Family::Sbpf ? vm->syscalls : vm->helpers;
  if (auto maps = context->add_maps(*program); !maps) return vm->fail(maps.error());
  auto engine = vm::make_interpreter(*program, *context);
  if (!engine) return vm->fail(engine.error());
  vm->program = std::move(*program);
  vm->context = std::move(context);
  vm->engine = std::move(*engine);
  return vm->succeed();
}

int load_ebpf_object(bpfkit_vm* vm, std::span<const uint8_t> file, const char* section, const char* function) {
  auto object = elf::EbpfObject::parse(file);
  if (!object) return vm->fail(object.error());
  auto chosen = section == nullptr && function == nullptr
                    ? object->default_program()
                    : object->find_program(section ? section : "", function ? function : "");
  if (!chosen) return vm->fail(chosen.error());
  return take_program(vm, object->load_program(**chosen));
}

int load_sbpf_object(bpfkit_vm* vm, std::span<const uint8_t> file) {
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm->syscalls.names();
  return take_program(vm, elf::sbpf::load_program(file, config));
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
    auto program = isa::decode(bytes_of(code, size), *d);
    if (!program || d->family == isa::Family::Linux) return take_program(vm, std::move(program));
    elf::sbpf::LoaderConfig config;
    config.syscalls = vm->syscalls.names();
    return take_program(vm, load::raw_program(std::move(program->slots), "", *d, config));
  });
}

int bpfkit_vm_load_elf(bpfkit_vm* vm, const void* file, size_t size, const char* section, const char* function) {
  return guard(vm, [&] {
    vm->unload();
    if (file == nullptr) return vm->fail("invalid_argument", "file is NULL");
    const std::span<const uint8_t> bytes = bytes_of(file, size);
    if (!load::is_sbpf_elf(bytes)) return load_ebpf_object(vm, bytes, section, function);
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
      call.call = &helper;
      return call_c(fn, user_data, call, helper.args);
    };
    std::string helper_name = name ? name : "helper " + std::to_string(id);
    vm->helpers.add(id, helper_name, wrapped);
    // The Linux interpreter finds helpers at each call: no new engine needed.
    if (vm->context && !vm->sbpf()) vm->context->helpers().add(id, std::move(helper_name), std::move(wrapped));
    return vm->succeed();
  });
}

int bpfkit_vm_register_syscall(bpfkit_vm* vm, const char* name, bpfkit_helper_fn fn, void* user_data) {
  return guard(vm, [&] {
    if (name == nullptr) return vm->fail("invalid_argument", "syscall name is NULL");
    if (fn == nullptr) return vm->fail("invalid_argument", "syscall function is NULL");
    vm::HelperFn wrapped = [fn, user_data](vm::HelperCall& syscall) {
      bpfkit_call call;
      call.call = &syscall;
      return call_c(fn, user_data, call, syscall.args);
    };
    auto added = vm->syscalls.add_syscall(name, wrapped);
    if (!added) return vm->fail(added.error());
    if (vm->context && vm->sbpf()) {
      static_cast<void>(vm->context->helpers().add_syscall(name, std::move(wrapped)));  // checked just above
      vm->engine.reset();  // run() makes it again with the new table
    }
    return vm->succeed();
  });
}

void* bpfkit_call_translate(bpfkit_call* call, uint64_t address, uint64_t size, int write) {
  if (call == nullptr || call->call == nullptr) return nullptr;
  return call->call->translate(address, size, write != 0);
}

int bpfkit_call_consume(bpfkit_call* call, uint64_t units) {
  if (call == nullptr) return BPFKIT_ERROR;
  if (call->call == nullptr || call->call->consume(units)) return BPFKIT_OK;
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
    if (!vm->program) return vm->fail("no_program", "no program loaded");
    if (!vm->engine) {  // a syscall was registered since the last run
      auto engine = vm::make_interpreter(*vm->program, *vm->context);
      if (!engine) return vm->fail(engine.error());
      vm->engine = std::move(*engine);
    }
    vm::Context& context = *vm->context;
    context.set_budget(vm->budget.value_or(vm->sbpf() ? vm::kDefaultComputeBudget : vm::kDefaultBudget));
    if (vm->input.data() != nullptr)
      context.map_input(vm->input);
    else
      context.unmap_input();
    vm::RunResult result = vm->engine->run(context);
    vm->r0 = result.r0;
    vm->instructions = result.instructions;
    if (vm->sbpf()) vm->compute_units = result.compute_units;
    vm->log = std::move(result.output);
    if (result.error) return vm->fail(*result.error);
    if (r0 != nullptr) *r0 = vm->r0;
    return vm->succeed();
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
