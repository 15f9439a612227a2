// sBPF syscalls: the registry (by Murmur3-32 key) and the default set with
// Agave's compute costs (solana-program-runtime `ComputeBudget`:
// syscall_base_cost 100, log_64_units 100, mem_op_base_cost 10,
// cpi_bytes_per_unit 250). Every guest pointer goes through
// HelperCall::translate, so a syscall sees memory exactly as the
// program's own loads and stores do.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm {
namespace sbpf {

namespace {

constexpr uint64_t kSyscallBaseCost = 100;
constexpr uint64_t kLog64Units = 100;
constexpr uint64_t kMemOpBaseCost = 10;
constexpr uint64_t kCpiBytesPerUnit = 250;

Error named(Errc code, SbpfVmErrc detail, std::string message) { return make_error(code, detail, std::move(message)); }

const char* region_name(const isa::Dialect& dialect, uint64_t index) {
  const bool low_rodata = isa::rodata_address(dialect) == 0;
  switch (index) {
    case 0: return low_rodata ? "rodata" : "unknown";
    case 1: return low_rodata ? "bytecode" : "program";
    case kStackRegion: return "stack";
    case kHeapRegion: return "heap";
    case kInputRegion: return "input";
    default: return "unknown";
  }
}

// Where str::from_utf8 stops (core::str::Utf8Error): the valid prefix's
// length, and the length of the invalid sequence after it (0: the input
// ends inside a sequence). Strict UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF.
struct Utf8Error {
  uint64_t valid_up_to = 0;
  uint64_t error_len = 0;
};

// The second byte's range for a lead byte (Rust's run_utf8_validation);
// the bytes after it are plain continuations (0x80..0xbf).
bool second_byte_fits(uint8_t lead, uint8_t b) {
  if (lead == 0xe0) return b >= 0xa0 && b <= 0xbf;
  if (lead == 0xed) return b >= 0x80 && b <= 0x9f;
  if (lead == 0xf0) return b >= 0x90 && b <= 0xbf;
  if (lead == 0xf4) return b >= 0x80 && b <= 0x8f;
  return b >= 0x80 && b <= 0xbf;
}

std::optional<Utf8Error> utf8_error(const uint8_t* p, uint64_t n) {
  uint64_t i = 0;
  while (i < n) {
    const uint8_t lead = p[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const uint64_t width = lead >= 0xc2 && lead <= 0xdf   ? 2
                           : lead >= 0xe0 && lead <= 0xef ? 3
                           : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                          : 0;
    if (width == 0) return Utf8Error{i, 1};
    for (uint64_t k = 1; k < width; ++k) {
      if (i + k >= n) return Utf8Error{i, 0};
      const bool fits = k == 1 ? second_byte_fits(lead, p[i + k]) : (p[i + k] & 0xc0) == 0x80;
      if (!fits) return Utf8Error{i, k};
    }
    i += width;
  }
  return std::nullopt;
}

bool valid_utf8(const uint8_t* p, uint64_t n) { return !utf8_error(p, n); }

// SyscallError::InvalidString as Agave prints it: the Utf8Error, then the bytes.
std::string invalid_string_text(const Utf8Error& error, const uint8_t* p, uint64_t n) {
  std::string text = error.error_len != 0
                         ? "invalid utf-8 sequence of " + std::to_string(error.error_len) + " bytes from index " +
                               std::to_string(error.valid_up_to)
                         : "incomplete utf-8 byte sequence from index " + std::to_string(error.valid_up_to);
  text += ": [";
  for (uint64_t i = 0; i < n; ++i) text += (i ? ", " : "") + std::to_string(p[i]);
  return text + "]";
}

// [addr, addr + n) as host bytes. A zero-length slice is never checked
// (Agave's translate_slice returns an empty slice for it).
Expected<uint8_t*> slice(const HelperCall& ctx, uint64_t addr, uint64_t n, bool write) {
  static uint8_t empty;
  if (n == 0) return &empty;
  uint8_t* host = ctx.translate(addr, n, write);
  if (host == nullptr) return access_violation(ctx.context.dialect(), addr, n, write);
  return host;
}

Expected<void> charge(HelperCall& ctx, uint64_t units) {
  if (ctx.consume(units)) return {};
  return named(Errc::BudgetExceeded, SbpfVmErrc::ComputationalBudgetExceeded, "Computational budget exceeded");
}

uint64_t mem_op_cost(uint64_t n) { return std::max(kMemOpBaseCost, n / kCpiBytesPerUnit); }

// The string at r1 (r2 bytes), which must be UTF-8 (else InvalidString).
Expected<std::string> guest_string(const HelperCall& ctx, uint64_t addr, uint64_t len) {
  auto bytes = slice(ctx, addr, len, false);
  if (!bytes) return bytes.error();
  if (auto error = utf8_error(*bytes, len))
    return named(Errc::HelperFailed, SbpfVmErrc::InvalidString, invalid_string_text(*error, *bytes, len));
  return std::string(reinterpret_cast<const char*>(*bytes), len);
}

Expected<uint64_t> sol_log(HelperCall& ctx) {
  const uint64_t len = ctx.args[1];
  if (auto ok = charge(ctx, std::max(kSyscallBaseCost, len)); !ok) return ok.error();
  auto text = guest_string(ctx, ctx.args[0], len);
  if (!text) return text.error();
  ctx.log("Program log: " + *text);
  return 0;
}

Expected<uint64_t> sol_log_64(HelperCall& ctx) {
  if (auto ok = charge(ctx, kLog64Units); !ok) return ok.error();
  std::string line = "Program log: ";
  for (size_t i = 0; i < ctx.args.size(); ++i) line += (i ? ", " : "") + hex_string(ctx.args[i]);
  ctx.log(line);
  return 0;
}

// memmove after the checks both sol_memcpy_ and sol_memmove_ make.
Expected<uint64_t> move_bytes(HelperCall& ctx, uint64_t dst, uint64_t src, uint64_t n) {
  auto to = slice(ctx, dst, n, true);
  if (!to) return to.error();
  auto from = slice(ctx, src, n, false);
  if (!from) return from.error();
  if (n != 0) std::memmove(*to, *from, n);
  return 0;
}

Expected<uint64_t> sol_memcpy(HelperCall& ctx) {
  const uint64_t dst = ctx.args[0], src = ctx.args[1], n = ctx.args[2];
  if (auto ok = charge(ctx, mem_op_cost(n)); !ok) return ok.error();
  // Agave's is_nonoverlapping, on guest addresses.
  const bool disjoint = src > dst ? src - dst >= n : dst - src >= n;
  if (!disjoint) return named(Errc::HelperFailed, SbpfVmErrc::CopyOverlapping, "Overlapping copy");
  return move_bytes(ctx, dst, src, n);
}

Expected<uint64_t> sol_memmove(HelperCall& ctx) {
  if (auto ok = charge(ctx, mem_op_cost(ctx.args[2])); !ok) return ok.error();
  return move_bytes(ctx, ctx.args[0], ctx.args[1], ctx.args[2]);
}

Expected<uint64_t> sol_memset(HelperCall& ctx) {
  const uint64_t n = ctx.args[2];
  if (auto ok = charge(ctx, mem_op_cost(n)); !ok) return ok.error();
  auto to = slice(ctx, ctx.args[0], n, true);
  if (!to) return to.error();
  if (n != 0) std::memset(*to, static_cast<uint8_t>(ctx.args[1]), n);
  return 0;
}

// Writes the difference of the first unequal bytes (as i32) to *r4.
Expected<uint64_t> sol_memcmp(HelperCall& ctx) {
  const uint64_t n = ctx.args[2];
  if (auto ok = charge(ctx, mem_op_cost(n)); !ok) return ok.error();
  auto a = slice(ctx, ctx.args[0], n, false);
  if (!a) return a.error();
  auto b = slice(ctx, ctx.args[1], n, false);
  if (!b) return b.error();
  // Agave translates the result as an i32 and checks its alignment.
  if (ctx.args[3] % alignof(int32_t) != 0)
    return named(Errc::HelperFailed, SbpfVmErrc::UnalignedPointer,
                 "sol_memcmp_ result pointer " + hex_string(ctx.args[3]) + " is not 4-byte aligned");
  auto out = slice(ctx, ctx.args[3], sizeof(int32_t), true);
  if (!out) return out.error();
  int32_t result = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if ((*a)[i] != (*b)[i]) {
      result = int32_t{(*a)[i]} - int32_t{(*b)[i]};
      break;
    }
  }
  std::memcpy(*out, &result, sizeof result);
  return 0;
}

Expected<uint64_t> sol_abort(HelperCall&) {
  return named(Errc::HelperFailed, SbpfVmErrc::Abort, "SBF program panicked");
}

Expected<uint64_t> sol_panic(HelperCall& ctx) {
  if (auto ok = charge(ctx, ctx.args[1]); !ok) return ok.error();
  auto file = guest_string(ctx, ctx.args[0], ctx.args[1]);
  if (!file) return file.error();
  return named(
      Errc::HelperFailed, SbpfVmErrc::Panic,
      "SBF program Panicked in " + *file + " at " + std::to_string(ctx.args[2]) + ":" + std::to_string(ctx.args[3]));
}

// The test syscall of anza-xyz/sbpf (`SyscallString`, registered as "log"):
// prints up to the first NUL. The harness there charges nothing; bpfkit's
// default charges what sol_log_ would, so a loop of logs cannot run for free.
Expected<uint64_t> test_log_free(HelperCall& ctx) {
  auto bytes = slice(ctx, ctx.args[0], ctx.args[1], false);
  if (!bytes) return bytes.error();
  const auto* begin = reinterpret_cast<const char*>(*bytes);
  const uint64_t len = std::find(begin, begin + ctx.args[1], '\0') - begin;
  const bool ok = valid_utf8(*bytes, len);
  ctx.log("log: " + (ok ? std::string(begin, len) : std::string("Invalid UTF-8 String")));
  return 0;
}

Expected<uint64_t> test_log(HelperCall& ctx) {
  if (auto ok = charge(ctx, std::max(kSyscallBaseCost, ctx.args[1])); !ok) return ok.error();
  return test_log_free(ctx);
}

}  // namespace

Error access_violation(const isa::Dialect& dialect, uint64_t addr, uint64_t size, bool write) {
  // The wording of solana-sbpf's EbpfError (the access type is not printed).
  static_cast<void>(write);
  char buf[200];
  // Agave's generate_access_violation: the frame number, truncating, of the
  // address relative to the stack start.
  const __int128 relative =
      static_cast<__int128>(static_cast<int64_t>(addr)) - static_cast<__int128>(region_base(kStackRegion));
  const isa::FrameModel model = isa::frame_model(dialect);
  const auto frame = static_cast<int64_t>(relative / static_cast<__int128>(model.frame_size));
  if (model.gap_size != 0 && frame >= -1 && frame <= static_cast<int64_t>(model.max_depth)) {
    std::snprintf(buf, sizeof buf,
                  "Access violation in stack frame %" PRId64 " at address 0x%" PRIx64 " of size %" PRIu64, frame, addr,
                  size);
    return named(Errc::AccessViolation, SbpfVmErrc::StackAccessViolation, buf);
  }
  std::snprintf(buf, sizeof buf, "Access violation in %s section at address 0x%" PRIx64 " of size %" PRIu64,
                region_name(dialect, addr >> kRegionShift), addr, size);
  return named(Errc::AccessViolation, SbpfVmErrc::AccessViolation, buf);
}

}  // namespace sbpf

HelperTable HelperTable::sbpf_defaults() {
  using namespace sbpf;
  HelperTable registry;
  const std::pair<const char*, Expected<uint64_t> (*)(HelperCall&)> table[] = {
      {"sol_log_", sol_log},         {"sol_log_64_", sol_log_64}, {"sol_memcpy_", sol_memcpy},
      {"sol_memmove_", sol_memmove}, {"sol_memset_", sol_memset}, {"sol_memcmp_", sol_memcmp},
      {"abort", sol_abort},          {"sol_panic_", sol_panic},   {"log", test_log},
  };
  for (const auto& [name, fn] : table) static_cast<void>(registry.add_syscall(name, fn));
  return registry;
}

HelperTable HelperTable::sbpf_reference_harness() {
  HelperTable registry = sbpf_defaults();
  static_cast<void>(registry.add_syscall("log", sbpf::test_log_free));
  return registry;
}

}  // namespace bpfkit::vm
