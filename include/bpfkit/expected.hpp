// Errors that carry a location, and Expected<T>: a value or an Error.
//
// C++20 has no std::expected, so this is a small one with the same member
// names. No exception crosses a module boundary: every reader and runner in
// bpfkit returns Expected<T> (or Expected<void>) instead, and Expected itself
// never throws. As LLVM's Expected does in its checked builds, an Expected
// built with BPFKIT_CHECKED_ERRORS (debug and sanitizer builds) aborts when
// it is destroyed holding an error nobody looked at.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#if !defined(BPFKIT_CHECKED_ERRORS) && !defined(NDEBUG)
#define BPFKIT_CHECKED_ERRORS 1
#endif

namespace bpfkit {

// Broad classes of failure (error_classes.def). Stable: the CLI prints them
// in --json output.
enum class Errc : uint8_t {
#define ERROR_CLASS(id, json, meaning) id,
#include "bpfkit/error_classes.def"
#undef ERROR_CLASS
};

// The snake_case name used in machine-readable output.
const char* errc_name(Errc code);

// Who defines an error's `detail` code. Each domain lists its codes and names
// in its own .def; Generic errors have no detail.
enum class Domain : uint8_t {
  Generic,
  SbpfVerifier,       // sbpf_verifier_errors.def: solana-sbpf `VerifierError`
  SbpfLoader,         // sbpf_load_errors.def: solana-sbpf `ElfError` / `ElfParserError`
  SbpfVm,             // sbpf_vm_errors.def: solana-sbpf `EbpfError` and syscall errors
  SolanaInstruction,  // solana_instruction_errors.def: the runtime's `InstructionError`
};

const char* domain_name(Domain domain);

enum class SbpfVerifierErrc : uint16_t {
#define SBPF_VERIFIER_ERROR(name, text) name,
#include "bpfkit/sbpf_verifier_errors.def"
#undef SBPF_VERIFIER_ERROR
};

enum class SbpfLoadErrc : uint16_t {
#define SBPF_LOAD_ERROR(name, text) name,
#include "bpfkit/sbpf_load_errors.def"
#undef SBPF_LOAD_ERROR
};

enum class SbpfVmErrc : uint16_t {
#define SBPF_VM_ERROR(name, text) name,
#include "bpfkit/sbpf_vm_errors.def"
#undef SBPF_VM_ERROR
};

enum class InstructionErrc : uint16_t {
#define INSTRUCTION_ERROR(name, builtin, text) name,
#include "bpfkit/solana_instruction_errors.def"
#undef INSTRUCTION_ERROR
};

// The domain each detail enum belongs to.
template <class E>
struct DomainOf;
template <>
struct DomainOf<SbpfVerifierErrc> {
  static constexpr Domain value = Domain::SbpfVerifier;
};
template <>
struct DomainOf<SbpfLoadErrc> {
  static constexpr Domain value = Domain::SbpfLoader;
};
template <>
struct DomainOf<SbpfVmErrc> {
  static constexpr Domain value = Domain::SbpfVm;
};
template <>
struct DomainOf<InstructionErrc> {
  static constexpr Domain value = Domain::SolanaInstruction;
};

// A detail code's name and text in its domain ("" for an unknown pair).
std::string_view detail_name(Domain domain, uint16_t detail);
std::string_view detail_text(Domain domain, uint16_t detail);

// Where an error happened. Only the parts that apply are set.
struct Location {
  std::string input;               // file name, or empty
  uint32_t line = 0, column = 0;   // text inputs, 1-based; 0 = unknown
  std::optional<uint64_t> offset;  // binary inputs: byte offset
  std::optional<uint32_t> pc;      // programs: instruction slot index
};

struct Error {
  Errc code = Errc::BadOperand;
  std::string message;
  Location location;
  // A dialect's own code for the failure, where one exists: for sBPF, the
  // production loader's, verifier's or VM's error (e.g. "CallDepthExceeded",
  // "WritableSectionNotSupported"). --json prints its name as `code`.
  Domain domain = Domain::Generic;
  uint16_t detail = 0;

  // The detail's name in its domain; empty for Generic errors.
  std::string_view name() const { return detail_name(domain, detail); }
  template <class E>
  bool is(E detail_code) const {
    return domain == DomainOf<E>::value && detail == static_cast<uint16_t>(detail_code);
  }
  template <class E>
  void set_detail(E detail_code) {
    domain = DomainOf<E>::value;
    detail = static_cast<uint16_t>(detail_code);
  }
};

// "file:line:col: message", "file: 0x3a: message", "pc 12: message", ...
std::string to_string(const Error& error);

// "0x2a": how messages print addresses, keys and offsets.
std::string hex_string(uint64_t value);

inline Error make_error(Errc code, std::string message, Location where = {}) {
  return Error{code, std::move(message), std::move(where)};
}

// An error with a domain's detail code.
template <class E>
Error make_error(Errc code, E detail_code, std::string message, Location where = {}) {
  Error error{code, std::move(message), std::move(where)};
  error.set_detail(detail_code);
  return error;
}

inline Location at_pc(uint32_t pc) {
  Location where;
  where.pc = pc;
  return where;
}

// Tag type so that `return Unexpected{error};` reads clearly at call sites.
struct Unexpected {
  Error error;
};

namespace detail {
// Reading the value of an Expected that holds an error is a bug in the
// caller; it stops the program instead of throwing.
[[noreturn]] void bad_expected_access(const Error& error);
[[noreturn]] void unchecked_error(const Error& error);
// error() of an Expected that holds a value.
[[noreturn]] void bad_error_access();

// The "was it looked at?" flag of checked builds; empty otherwise.
class CheckFlag {
 public:
#if BPFKIT_CHECKED_ERRORS
  CheckFlag() = default;
  CheckFlag(const CheckFlag& other) : unchecked_(other.unchecked_) {}
  CheckFlag(CheckFlag&& other) noexcept : unchecked_(other.unchecked_) { other.unchecked_ = false; }
  CheckFlag& operator=(const CheckFlag& other) {
    unchecked_ = other.unchecked_;
    return *this;
  }
  CheckFlag& operator=(CheckFlag&& other) noexcept {
    unchecked_ = other.unchecked_;
    other.unchecked_ = false;
    return *this;
  }
  void mark_checked() const { unchecked_ = false; }
  bool unchecked() const { return unchecked_; }

 private:
  mutable bool unchecked_ = true;
#else
  void mark_checked() const {}
  bool unchecked() const { return false; }
#endif
};
}  // namespace detail

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}         // NOLINT: implicit by design
  Expected(Error error) : state_(std::move(error)) {}     // NOLINT
  Expected(Unexpected u) : state_(std::move(u.error)) {}  // NOLINT
  Expected(const Expected&) = default;
  Expected(Expected&&) noexcept = default;
  Expected& operator=(const Expected&) = default;
  Expected& operator=(Expected&&) noexcept = default;
  ~Expected() {
    if (flag_.unchecked() && !holds_value()) detail::unchecked_error(*std::get_if<1>(&state_));
  }

  bool has_value() const {
    flag_.mark_checked();
    return holds_value();
  }
  explicit operator bool() const { return has_value(); }
  // Drops the result on purpose (a fuzz target, a call made only for its
  // side effects): an error here is not a bug to report.
  void ignore() const { flag_.mark_checked(); }

  T& value() & { return *get(); }
  const T& value() const& { return *get(); }
  T&& value() && { return std::move(*get()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return get(); }
  const T* operator->() const { return get(); }

  // The error; only meaningful when has_value() is false.
  const Error& error() const { return *get_error(); }
  Error& error() { return *get_error(); }

 private:
  bool holds_value() const { return state_.index() == 0; }
  T* get() const {
    flag_.mark_checked();
    auto* value = std::get_if<0>(const_cast<std::variant<T, Error>*>(&state_));
    if (!value) detail::bad_expected_access(*std::get_if<1>(&state_));
    return value;
  }
  Error* get_error() const {
    flag_.mark_checked();
    auto* error = std::get_if<1>(const_cast<std::variant<T, Error>*>(&state_));
    if (!error) detail::bad_error_access();
    return error;
  }

  std::variant<T, Error> state_;
  detail::CheckFlag flag_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() { flag_.mark_checked(); }
  Expected(Error error) : error_(std::move(error)) {}     // NOLINT
  Expected(Unexpected u) : error_(std::move(u.error)) {}  // NOLINT
  Expected(const Expected&) = default;
  Expected(Expected&&) noexcept = default;
  Expected& operator=(const Expected&) = default;
  Expected& operator=(Expected&&) noexcept = default;
  ~Expected() {
    if (flag_.unchecked() && error_) detail::unchecked_error(*error_);
  }

  bool has_value() const {
    flag_.mark_checked();
    return !error_.has_value();
  }
  explicit operator bool() const { return has_value(); }
  // Drops the result on purpose; see Expected<T>::ignore().
  void ignore() const { flag_.mark_checked(); }
  // The error; only meaningful when has_value() is false.
  const Error& error() const {
    flag_.mark_checked();
    if (!error_) detail::bad_error_access();
    return *error_;
  }

 private:
  std::optional<Error> error_;
  detail::CheckFlag flag_;
};

}  // namespace bpfkit
