// `bpfkit run FILE`: load a program of any kind, run it, print r0.
#include <charconv>
#include <cstring>

#include "bpfkit/elf.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/verify.hpp"
#include "commands.hpp"
#include "input.hpp"
#include "load_setup.hpp"
#include "report.hpp"
#include "runners.hpp"
#include "solana_run.hpp"

namespace bpfkit::cli::run_command {
namespace {

struct Options {
  std::string file;
  std::string mem_file, mem_hex, mem_size;
  std::string engine = "interp";
  bool harden = false;                           // --harden: constant blinding in the JIT
  std::string budget, compute_units, heap_size;  // checked by count_option()
  bool json = false, stats = false, regs = false;
  std::string section, function;  // eBPF objects: which program
  bool dump_maps = false;
  bool verify = false;     // the verifier's verdict first (module verify)
  std::string input_file;  // sBPF: the input region
  SbpfLoadOptions sbpf;
  SolanaRunOptions solana;  // sBPF: the Solana runtime's accounts, instruction, program id
  bool solana_runtime = false;
  std::string dialect = "linux";      // raw inputs: whose encodings, which VM
  std::vector<std::string> programs;  // sBPF: --program ID=FILE, what a CPI may call
  // Program-type runs (BPF_PROG_TEST_RUN): the type, packet, context, repeat count.
  std::string type, packet_file, packet_hex, ctx_file, repeat;
  std::vector<std::string> ctx_fields;
  LoadSetupOptions load_setup;  // eBPF objects: --map-size, --map, --map-file, --set, --kconfig
  std::string task;             // --task pid=...,tgid=...,uid=...,gid=...,comm=...
  std::string opt;              // --opt O0|O1|O2: optimise through the IR first
  std::string btf;              // eBPF objects: the target BTF of CO-RE relocations
};

Options options;
CLI::App* command = nullptr;

bool given(const char* flag) { return command->count(flag) > 0; }

Error usage_error(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

// A count given on the command line: digits only, at most 2^64 - 1. (CLI11
// would read -1 as 2^64 - 1, which is "no limit" for a budget.)
Expected<uint64_t> count_option(const char* flag, const std::string& text, uint64_t default_value) {
  if (!given(flag)) return default_value;
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end)
    return usage_error(std::string(flag) + ": '" + text + "' is not a whole number from 0 to 18446744073709551615");
  return value;
}

// A region is addressed by 32-bit offsets (vm.hpp), so a buffer is at most 4 GiB - 1.
constexpr uint64_t kMaxMemory = UINT32_MAX;

Error too_large(const std::string& what, uint64_t size) {
  return usage_error(what + " is " + std::to_string(size) + " bytes; the memory buffer is at most " +
                     std::to_string(kMaxMemory) + " bytes");
}

Expected<Memory> read_memory_file(const std::string& file) {
  auto content = read_file(file);
  if (!content) return content.error();
  if (content->size() > kMaxMemory) return too_large(file, content->size());
  return Memory(std::move(*content));
}

// The buffer r1 points to (the input region for sBPF): --mem, --mem-hex,
// --mem-size or --input, which exclude each other.
Expected<Memory> memory_from_options() {
  if (given("--input")) return read_memory_file(options.input_file);
  if (given("--mem")) return read_memory_file(options.mem_file);
  if (given("--mem-hex")) {
    auto bytes = parse_hex_bytes(options.mem_hex, "--mem-hex");
    if (!bytes) return bytes.error();
    return Memory(std::move(*bytes));
  }
  auto size = count_option("--mem-size", options.mem_size, 0);
  if (!size) return size.error();
  if (!given("--mem-size")) return Memory();
  if (*size > kMaxMemory) return too_large("--mem-size", *size);
  return Memory(std::vector<uint8_t>(*size));
}

// Options that mean something for some kinds of input only.
enum Kinds : uint8_t { kRawLinux = 1, kRawSbpf = 2, kEbpf = 4, kSbpf = 8 };
struct Scoped {
  const char* flag;
  uint8_t kinds;
  const char* applies_to;
};
// clang-format off
constexpr Scoped kScoped[] = {
    {"--section", kEbpf, "eBPF objects"},
    {"--function", kEbpf, "eBPF objects"},
    {"--dump-maps", kEbpf, "eBPF objects"},
    {"--btf", kEbpf, "eBPF objects (their CO-RE relocations)"},
    {"--input", kSbpf | kRawSbpf, "sBPF programs: a .so, or raw input with --dialect sbpf-v0..sbpf-v3"},
    {"--cu", kSbpf | kRawSbpf, "sBPF programs: a .so, or raw input with --dialect sbpf-v0..sbpf-v3"},
    {"--deploy-checks", kSbpf, "sBPF shared objects"},
    {"--symbol-labels", kSbpf, "sBPF shared objects"},
    {"--min-version", kSbpf, "sBPF shared objects"},
    {"--max-version", kSbpf, "sBPF shared objects"},
    {"--dialect", kRawLinux | kRawSbpf, "raw programs; an ELF file says its own"},
    {"--verify", kRawLinux | kEbpf, "Linux programs"},
    {"--accounts", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--ix-data", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--program-id", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--unaligned", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--sysvars", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--solana", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--program", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--simd-0339", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--heap-size", kSbpf | kRawSbpf, "sBPF programs (the Solana runtime)"},
    {"--type", kRawLinux | kEbpf, "Linux programs"},
    {"--packet", kRawLinux | kEbpf, "Linux programs"},
    {"--packet-hex", kRawLinux | kEbpf, "Linux programs"},
    {"--ctx", kRawLinux | kEbpf, "Linux programs"},
    {"--ctx-field", kRawLinux | kEbpf, "Linux programs"},
    {"--repeat", kRawLinux | kEbpf, "Linux programs"},
    {"--task", kRawLinux | kEbpf, "Linux programs"},
};
// clang-format on

// The dialect raw input is assembled, verified and run in (IsMember checked the name).
const isa::Dialect& raw_dialect() { return *dialect_named(options.dialect); }
bool raw_is_sbpf() { return raw_dialect().family == isa::Family::Sbpf; }

uint8_t kind_bit(InputKind kind) {
  switch (kind) {
    case InputKind::EbpfObject: return kEbpf;
    case InputKind::SbpfObject: return kSbpf;
    default: return raw_is_sbpf() ? kRawSbpf : kRawLinux;
  }
}

// An option that does not apply to this input is a mistake, not a no-op.
std::optional<Error> misplaced_option(const InputFile& input) {
  for (const char* flag : kLoadSetupFlags)
    if (given(flag) && input.kind != InputKind::EbpfObject)
      return make_error(Errc::BadOperand,
                        std::string(flag) + " does not apply to " + describe(input.kind) + " (it is for eBPF objects)");
  for (const Scoped& option : kScoped) {
    if (!given(option.flag) || (option.kinds & kind_bit(input.kind))) continue;
    Location where;
    where.input = input.name;
    return make_error(Errc::BadOperand,
                      std::string(option.flag) + " does not apply to " + describe(input.kind) + " (it is for " +
                          option.applies_to + ")",
                      where);
  }
  return std::nullopt;
}

// The program of `input`, as load::open makes it: objects through their
// loaders; raw inputs read (a file that is not a program: status = 2), then
// laid out and checked in the dialect (a rejection: exit 1). A .data test's
// memory is the memory unless an option gave one.
Expected<isa::Program> program_of(const InputFile& input, const load::Options& open_options, Memory& memory,
                                  int& status) {
  if (is_object(input.kind)) {
    auto opened = open_program(input, open_options);
    if (!opened) return opened.error();
    print_core_poisoned(*opened);
    return std::move(opened->program);
  }
  auto code = read_program(input, *open_options.dialect);
  if (!code) {
    status = read_failure_status(code.error());
    return code.error();
  }
  if (!memory) memory = std::move(code->memory);
  return load::raw_program(std::move(code->slots), input.name, *open_options.dialect, open_options.sbpf);
}

// The Solana runtime runs an sBPF shared object unless a raw input region
// is given (--input, --mem...: the bare VM, as the fixture harnesses run
// it); any runtime option asks for it, raw sBPF text included.
bool solana_mode(const InputFile& input) {
  for (const char* flag : {"--accounts", "--ix-data", "--program-id", "--unaligned", "--sysvars", "--solana",
                           "--program", "--simd-0339", "--heap-size"})
    if (given(flag)) return true;
  if (input.kind != InputKind::SbpfObject) return false;
  for (const char* flag : {"--input", "--mem", "--mem-hex", "--mem-size"})
    if (given(flag)) return false;
  return true;
}

// --program ID=FILE (repeatable): the programs a cross-program invocation
// may call, each loaded as the program itself is (a .so, or raw sBPF text
// in the --dialect).
Expected<void> load_invoked_programs(const load::Options& open_options, SolanaRunOptions& solana) {
  for (const std::string& entry : options.programs) {
    const size_t equals = entry.find('=');
    if (equals == std::string::npos)
      return usage_error("--program " + entry + ": ID=FILE is needed (a base58 program id, an sBPF .so)");
    auto id = solana::parse_pubkey(entry.substr(0, equals));
    if (!id) return usage_error("--program " + entry + ": " + id.error().message);
    auto file = open_input(entry.substr(equals + 1));
    if (!file) return file.error();
    Memory unused;
    int status = 0;
    auto program = program_of(*file, open_options, unused, status);
    if (!program) return program.error();
    if (program->dialect->family != isa::Family::Sbpf)
      return usage_error("--program " + entry + ": " + file->name + " is not an sBPF program");
    solana.programs.emplace_back(*id, std::make_shared<const isa::Program>(std::move(*program)));
  }
  return {};
}

// ---- Program-type runs ----------------------------------------------------------

bool test_run_requested() {
  for (const char* flag : {"--type", "--packet", "--packet-hex", "--ctx", "--ctx-field", "--repeat"})
    if (given(flag)) return true;
  return false;
}

// --type, else the type libbpf gives the object's section.
Expected<isa::ProgramType> test_run_type(const InputFile& input) {
  if (given("--type")) return *isa::program_type_named(options.type);  // IsMember checked it
  if (input.kind == InputKind::EbpfObject) {
    auto object = elf::EbpfObject::parse(input.bytes, input.name);
    if (!object) return object.error();
    auto chosen = object->choose_program(options.section, options.function);
    if (!chosen) return chosen.error();
    if (auto type = isa::program_type_of_section((*chosen)->section)) return *type;
    return usage_error("section '" + std::string((*chosen)->section) + "' names no program type; give --type");
  }
  return usage_error("a program-type run of a raw program needs --type");
}

// A decimal or 0x-hexadecimal number of at most 64 bits.
std::optional<uint64_t> parse_number(const std::string& text) {
  const bool is_hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const char* begin = text.data() + (is_hex ? 2 : 0);
  const char* end = text.data() + text.size();
  uint64_t value = 0;
  auto [stop, ec] = std::from_chars(begin, end, value, is_hex ? 16 : 10);
  if (begin == end || ec != std::errc() || stop != end) return std::nullopt;
  return value;
}

// NAME=VALUE (VALUE decimal or 0x hex; NAME[i] for the i-th u32 of an array
// field such as cb) written into the context.
Expected<void> set_ctx_field(isa::ProgramContext layout, std::vector<uint8_t>& ctx, const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos) return usage_error("--ctx-field " + text + ": want NAME=VALUE");
  std::string name = text.substr(0, equals);
  const std::string value_text = text.substr(equals + 1);
  uint32_t index = 0;
  if (const size_t bracket = name.find('['); bracket != std::string::npos && name.back() == ']') {
    auto parsed = parse_number(name.substr(bracket + 1, name.size() - bracket - 2));
    if (!parsed) return usage_error("--ctx-field " + text + ": bad index");
    index = static_cast<uint32_t>(*parsed);
    name.resize(bracket);
  }
  const isa::CtxField* field = isa::ctx_field_named(layout, name);
  if (field == nullptr) return usage_error("--ctx-field " + text + ": the context has no field '" + name + "'");
  auto value = parse_number(value_text);
  if (!value) return usage_error("--ctx-field " + text + ": '" + value_text + "' is not a number");
  const uint32_t width = field->size == 8 ? 8 : 4;
  if (uint64_t{index + 1} * width > field->size) return usage_error("--ctx-field " + text + ": index out of range");
  const uint32_t at = field->offset + index * width;
  if (ctx.size() < at + width) ctx.resize(isa::ctx_size(layout), 0);
  std::memcpy(ctx.data() + at, &*value, width);  // little-endian host
  return {};
}

// The packet, the context (--ctx, then each --ctx-field) and the repeat count.
Expected<vm::TestRunInput> test_run_input(isa::ProgramType type) {
  vm::TestRunInput input;
  input.type = type;
  if (given("--packet")) {
    auto bytes = read_file(options.packet_file);
    if (!bytes) return bytes.error();
    input.data_in = std::move(*bytes);
  } else if (given("--packet-hex")) {
    auto bytes = parse_hex_bytes(options.packet_hex, "--packet-hex");
    if (!bytes) return bytes.error();
    input.data_in = std::move(*bytes);
  }
  if (given("--ctx")) {
    auto bytes = read_file(options.ctx_file);
    if (!bytes) return bytes.error();
    input.ctx_in = std::move(*bytes);
  }
  const isa::ProgramContext layout = isa::program_type_info(type).context;
  for (const std::string& field : options.ctx_fields) {
    if (!input.ctx_in) input.ctx_in = std::vector<uint8_t>(isa::ctx_size(layout), 0);
    if (auto set = set_ctx_field(layout, *input.ctx_in, field); !set) return set.error();
  }
  auto repeat = count_option("--repeat", options.repeat, 1);
  if (!repeat) return repeat.error();
  if (*repeat > UINT32_MAX) return usage_error("--repeat: at most 4294967295");
  input.repeat = static_cast<uint32_t>(*repeat);
  return input;
}

// libbpf's load-time setup of an object's program (load_setup.hpp).
Expected<void> set_up_program(const InputFile& input, isa::Program& program) {
  if (input.kind != InputKind::EbpfObject) return {};
  auto object = elf::EbpfObject::parse(input.bytes, input.name);
  if (!object) return object.error();
  return prepare_program(program, object->info(), options.load_setup);
}

std::function<Expected<void>(vm::Context&)> map_filler() {
  return [](vm::Context& context) { return fill_maps(context, options.load_setup); };
}

// ADDR:ADDR:...: numbers (decimal or 0x hex) separated by colons into
// `numbers`; the reason they are not, if they are not.
std::optional<std::string> number_list(const std::string& text, std::vector<uint64_t>& numbers) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t colon = text.find(':', start);
    if (colon == std::string::npos) colon = text.size();
    const std::string item = text.substr(start, colon - start);
    const auto number = parse_number(item);
    if (!number) return "'" + item + "' is not a number";
    numbers.push_back(*number);
    start = colon + 1;
  }
  if (numbers.size() > 127) return std::string("at most 127 entries (the kernel's perf_event_max_stack)");
  return std::nullopt;
}

// --task pid=N,tgid=N,uid=N,gid=N,comm=NAME,kstack=A:B..,ustack=A:B..,
// cgroup=ID..: the fake current task, each field optional (vm::Task's
// defaults otherwise).
Expected<vm::Task> task_from_option() {
  vm::Task task;
  if (!given("--task")) return task;
  const auto bad = [](const std::string& why) { return usage_error("--task " + options.task + ": " + why); };
  size_t start = 0;
  while (start <= options.task.size()) {
    size_t comma = options.task.find(',', start);
    if (comma == std::string::npos) comma = options.task.size();
    const std::string item = options.task.substr(start, comma - start);
    start = comma + 1;
    const size_t equals = item.find('=');
    if (equals == std::string::npos)
      return bad("want KEY=VALUE items (pid, tgid, uid, gid, comm, kstack, ustack, cgroup)");
    const std::string key = item.substr(0, equals), value = item.substr(equals + 1);
    if (key == "kstack" || key == "ustack" || key == "cgroup") {
      std::vector<uint64_t> numbers;
      if (auto why = number_list(value, numbers)) return bad(key + " '" + value + "': " + *why);
      if (key == "cgroup")
        task.cgroups.insert(task.cgroups.end(), numbers.begin(), numbers.end());
      else
        (key == "kstack" ? task.kernel_stack : task.user_stack) = std::move(numbers);
      continue;
    }
    if (key == "comm") {
      if (value.size() > 15) return bad("comm is at most 15 bytes (TASK_COMM_LEN 16 with the NUL)");
      task.comm = value;
      continue;
    }
    uint32_t* field = key == "pid"    ? &task.pid
                      : key == "tgid" ? &task.tgid
                      : key == "uid"  ? &task.uid
                      : key == "gid"  ? &task.gid
                                      : nullptr;
    if (field == nullptr) return bad("unknown key '" + key + "' (pid, tgid, uid, gid, comm, kstack, ustack, cgroup)");
    const auto number = parse_number(value);
    if (!number || *number > UINT32_MAX) return bad(key + " '" + value + "' is not a number from 0 to 4294967295");
    *field = static_cast<uint32_t>(*number);
  }
  return task;
}

int run_typed(const InputFile& input, const isa::Program& program, uint64_t budget,
              std::vector<isa::ProvenAccess> proven, Printer& printer) {
  auto type = test_run_type(input);
  if (!type) return printer.fail(type.error(), kExitBadInput);
  auto test_input = test_run_input(*type);
  if (!test_input) return printer.fail(test_input.error(), kExitBadInput);
  auto task = task_from_option();
  if (!task) return printer.fail(task.error(), kExitBadInput);
  RunOptions run{input.name, budget, options.regs, options.dump_maps, given("--repeat"), map_filler(), *task};
  run.engine = options.engine;
  run.harden = options.harden;
  run.proven = std::move(proven);
  RunReport report = run_test(program, *test_input, run);
  report.stats = options.stats;
  return printer.run(report);
}

int run_input(const InputFile& input, Printer& printer) {
  auto budget = count_option("--budget", options.budget, vm::kDefaultBudget);
  if (!budget) return printer.fail(budget.error());
  const bool runtime = solana_mode(input);
  auto compute_units =
      count_option("--cu", options.compute_units, runtime ? solana::kDefaultComputeUnits : vm::kDefaultComputeBudget);
  if (!compute_units) return printer.fail(compute_units.error());
  if (auto misuse = misplaced_option(input)) return printer.fail(*misuse);
  auto memory = memory_from_options();
  if (!memory) return printer.fail(memory.error());

  load::Options open_options;
  open_options.dialect = &raw_dialect();
  open_options.section = options.section;
  open_options.function = options.function;
  open_options.sbpf = sbpf_config(options.sbpf);
  open_options.btf = options.btf;
  int status = 0;
  auto program = program_of(input, open_options, *memory, status);
  if (!program) return printer.fail(program.error(), status);
  if (auto set_up = set_up_program(input, *program); !set_up) return printer.fail(set_up.error());
  if (!options.opt.empty()) {
    auto optimized = ir::optimize_program(*program, *ir::opt_level_named(options.opt));
    if (!optimized) return printer.fail(optimized.error(), kExitRejected);
    *program = std::move(*optimized);
  }

  const bool sbpf = program->dialect->family == isa::Family::Sbpf;
  std::vector<isa::ProvenAccess> proven;  // --verify --engine jit: the checks the JIT may drop
  uint64_t proven_memory_size = 0;
  if (options.verify && !sbpf) {  // the raw type (r1 = the buffer, r2 = its length), or --type's
    verify::Options verify_options;
    verify_options.mem_size = *memory ? (*memory)->size() : 0;
    if (test_run_requested()) {
      auto type = test_run_type(input);
      if (!type) return printer.fail(type.error(), kExitBadInput);
      auto modelled = verify::program_type_named(isa::program_type_info(*type).name);
      if (!modelled && *type != isa::ProgramType::TcAction)
        return printer.fail(usage_error("--verify: the verifier does not model " +
                                        std::string(isa::program_type_info(*type).name) + " programs"),
                            kExitBadInput);
      verify_options.type = modelled.value_or(isa::ProgramType::Tc);
    }
    auto proofs = verify_before_run(*program, verify_options, input.name, options.engine == "jit");
    if (!proofs) return printer.fail(proofs.error(), kExitRejected);
    proven = std::move(proofs->proven);
    proven_memory_size = proofs->memory_size;
  }
  if (runtime && sbpf) {
    SolanaRunOptions solana = options.solana;
    solana.file = input.name;
    if (auto loaded = load_invoked_programs(open_options, solana); !loaded)
      return printer.fail(loaded.error(), kExitBadInput);
    solana.compute_units = *compute_units;
    auto heap_size = count_option("--heap-size", options.heap_size, solana::kMinHeapSize);
    if (!heap_size) return printer.fail(heap_size.error());
    if (!solana::valid_heap_size(*heap_size))
      return printer.fail(usage_error("--heap-size " + options.heap_size +
                                      ": a multiple of 1024 from 32768 to 262144 is needed (RequestHeapFrame)"));
    solana.heap_size = *heap_size;
    solana.jit = options.engine == "jit";
    solana.harden = options.harden;
    return run_solana(*program, input.bytes, solana, printer);
  }
  if (!sbpf && test_run_requested()) return run_typed(input, *program, *budget, std::move(proven), printer);
  auto task = task_from_option();
  if (!task) return printer.fail(task.error(), kExitBadInput);
  RunOptions run{input.name,   sbpf && !given("--budget") ? *compute_units : *budget,
                 options.regs, options.dump_maps,
                 false,        map_filler(),
                 *task};
  run.engine = options.engine;
  run.harden = options.harden;
  run.proven = std::move(proven);
  run.proven_memory_size = proven_memory_size;
  RunReport report = run_program(*program, std::move(*memory), run);
  report.stats = options.stats;
  return printer.run(report);
}

}  // namespace

void add_options(CLI::App& app) {
  command = &app;
  app.add_option("FILE", options.file,
                 "program: .bin (raw), .hex, .data (conformance test), assembly, an ELF object (.o) or an "
                 "sBPF shared object (.so)")
      ->required();
  auto* mem = app.add_option("--mem", options.mem_file, "file whose bytes are the memory buffer (r1, r2 = length)");
  auto* mem_hex = app.add_option("--mem-hex", options.mem_hex, "memory buffer as hex bytes");
  auto* mem_size = app.add_option("--mem-size", options.mem_size, "memory buffer of N zero bytes");
  mem->excludes(mem_hex)->excludes(mem_size);
  mem_hex->excludes(mem_size);
  app.add_option("--engine", options.engine,
                 "execution engine: interp or jit (x86-64; Linux eBPF and sBPF, in the Solana runtime too)")
      ->check(CLI::IsMember({"interp", "jit"}));
  app.add_flag("--harden", options.harden, "with --engine jit: blind the program's constants (as the kernel does)");
  auto* budget = app.add_option("--budget", options.budget, "maximum number of instructions to execute");
  app.add_flag("--json", options.json, "print one JSON object");
  app.add_option("--opt", options.opt, "optimise through the IR first: O0 (lift + codegen), O1, O2")
      ->check(CLI::IsMember({"O0", "O1", "O2"}));
  app.add_flag("--stats", options.stats, "also print the executed instruction count");
  app.add_flag("--regs", options.regs, "also print the final registers");
  app.add_option("--section", options.section, "ELF object: the program's section");
  app.add_option("--function", options.function, "ELF object: the program's function");
  add_btf_option(app, options.btf);
  app.add_flag("--dump-maps", options.dump_maps, "ELF object: print every map after the run");
  app.add_flag("--verify", options.verify,
               "Linux programs: verify first (the raw type: r1 = the memory buffer), and refuse what the verifier "
               "rejects");
  auto* input = app.add_option("--input", options.input_file, "sBPF: file whose bytes are the input region (r1)");
  input->excludes(mem)->excludes(mem_hex)->excludes(mem_size);
  app.add_option("--cu", options.compute_units,
                 "sBPF: compute unit budget (default 200000 in the Solana runtime, 1400000 in the bare VM)")
      ->excludes(budget);
  auto* accounts = app.add_option("--accounts", options.solana.accounts_file,
                                  "sBPF: the instruction's accounts, a JSON file (key, owner, lamports, data, "
                                  "executable, rent_epoch, is_signer, is_writable)");
  auto* ix_data =
      app.add_option("--ix-data", options.solana.instruction_data, "sBPF: instruction data as hex, or @FILE");
  auto* program_id = app.add_option("--program-id", options.solana.program_id,
                                    "sBPF: the program's id, base58 (default: the SHA-256 of the file)");
  auto* unaligned =
      app.add_flag("--unaligned", options.solana.unaligned,
                   "sBPF: the deprecated loader's unaligned input format (default: the program's loader's, its "
                   "account's owner in --accounts; aligned without one)");
  auto* solana = app.add_flag("--solana", options.solana_runtime,
                              "sBPF: run in the Solana runtime (the default for a .so without --input)");
  auto* sysvars = app.add_option("--sysvars", options.solana.sysvars_file,
                                 "sBPF: clock, rent, epoch schedule, epoch rewards, last restart slot, slot hashes, "
                                 "stake history and epoch stakes as JSON "
                                 "(default: Agave's defaults)");
  auto* programs = app.add_option("--program", options.programs,
                                  "sBPF: ID=FILE.so, a program the instruction may invoke (repeatable; the System "
                                  "Program is built in)");
  auto* simd_0339 = app.add_flag("--simd-0339", options.solana.simd_0339,
                                 "sBPF: SIMD-0339's CPI costs and 255 account infos (default: mainnet-beta's)");
  auto* heap_size = app.add_option("--heap-size", options.heap_size,
                                   "sBPF: the heap in bytes, as RequestHeapFrame asks for it (a multiple of 1024 "
                                   "from 32768, the default, to 262144; 8 units an invocation per 32 KiB past the "
                                   "first)");
  for (CLI::Option* runtime :
       {accounts, ix_data, program_id, unaligned, sysvars, solana, programs, simd_0339, heap_size})
    runtime->excludes(input)->excludes(mem)->excludes(mem_hex)->excludes(mem_size);
  add_sbpf_load_options(app, options.sbpf);
  app.add_option("--dialect", options.dialect,
                 "raw input (.bin, .hex, .data, assembly): linux (default, the Linux interpreter) or sbpf-v0 .. "
                 "sbpf-v3 (that version's verifier and the sBPF VM)")
      ->check(CLI::IsMember(dialect_names()));
  std::vector<std::string> type_names;
  for (const isa::ProgramTypeInfo& type : isa::program_types())
    if (type.context != isa::ProgramContext::Buffer) type_names.emplace_back(type.name);
  app.add_option("--type", options.type,
                 "Linux: run as this program type, as BPF_PROG_TEST_RUN does (default with --packet or --ctx: "
                 "the object's section, as libbpf names them)")
      ->check(CLI::IsMember(type_names));
  auto* packet =
      app.add_option("--packet", options.packet_file, "Linux program-type run: the packet (data_in), a file");
  auto* packet_hex = app.add_option("--packet-hex", options.packet_hex, "Linux program-type run: the packet as hex");
  packet->excludes(packet_hex);
  app.add_option("--ctx", options.ctx_file,
                 "Linux program-type run: the raw context (ctx_in: struct __sk_buff, xdp_md, or a tracing "
                 "program's context)");
  app.add_option("--ctx-field", options.ctx_fields,
                 "Linux program-type run: set a context field, NAME=VALUE (mark=1000, cb[1]=7); repeatable");
  app.add_option("--repeat", options.repeat, "Linux program-type run: run N times, print the time per run");
  add_load_setup_options(app, options.load_setup);
  app.add_option("--task", options.task,
                 "Linux: the current task the task helpers describe, pid=N,tgid=N,uid=N,gid=N,comm=NAME, its "
                 "stacks kstack=ADDR:ADDR..,ustack=ADDR:.. (get_stackid, get_stack; default none: -EFAULT) and "
                 "the cgroup ids it is under, cgroup=ID:ID.. (besides the root, 1) (any of them; default "
                 "pid=1000,tgid=1000,uid=1000,gid=1000,comm=bpfkit)");
  for (CLI::Option* typed : {packet, packet_hex})
    typed->excludes(mem)->excludes(mem_hex)->excludes(mem_size)->excludes(input);
}

int run() {
  Printer printer = standard_printer(options.json);
  if (options.harden && options.engine != "jit")
    return printer.fail(make_error(Errc::BadOperand, "--harden blinds the JIT's constants: it needs --engine jit"),
                        kExitBadInput);
  auto input = open_input(options.file);
  if (!input) return printer.fail(input.error());
  return run_input(*input, printer);
}

}  // namespace bpfkit::cli::run_command
