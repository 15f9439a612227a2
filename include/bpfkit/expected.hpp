// Errors that carry a location, and Expected<T>: a value or an Error.
//
// C++20 has no std::expected, so this is a small one with the same member
// names. No exception crosses a module boundary: every reader and runner in
// bpfkit returns Expected<T> (or Expected<void>) instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace bpfkit {

// Broad classes of failure. Stable: the CLI prints them in --json output.
enum class Errc : uint8_t {
  Truncated,          // input ends too early
  BadHeader,          // a header field has a value we cannot accept
  BadOpcode,          // no opcode table row matches the instruction
  BadRegister,        // register number out of range, or r10 written
  BadOperand,         // syntax or operand error in text input
  OutOfRange,         // jump or call target outside the program
  Unsupported,        // valid input that this build cannot handle
  AccessViolation,    // runtime: memory access outside every region
  DivideByZero,       // runtime (dialects that trap on it)
  BudgetExceeded,     // runtime: instruction budget used up
  CallDepthExceeded,  // runtime: too many nested bpf-to-bpf calls
  UnknownHelper,      // runtime: call of an unregistered helper id
  BadCallTarget,      // runtime: callx to an invalid target
  HelperFailed,       // runtime: a helper reported an error
  Io,                 // file could not be read or written
};

// The snake_case name used in machine-readable output.
const char* errc_name(Errc code);

// Where an error happened. Only the parts that apply are set.
struct Location {
  std::string input;               // file name, or empty
  uint32_t line = 0, column = 0;   // text inputs, 1-based; 0 = unknown
  std::optional<uint64_t> offset;  // binary inputs: byte offset
  std::optional<uint32_t> pc;      // programs: instruction slot index
};

struct Error {
  Errc code;
  std::string message;
  Location where;
  // A dialect's own name for the failure, where one exists: for sBPF, the
  // production loader's or VM's error (e.g. "CallDepthExceeded",
  // "WritableSectionNotSupported"). Empty otherwise. --json prints it as
  // `code` when set.
  std::string name = {};
};

// "file:line:col: message", "file: 0x3a: message", "pc 12: message", ...
std::string to_string(const Error& error);

inline Error make_error(Errc code, std::string message, Location where = {}) {
  return Error{code, std::move(message), std::move(where)};
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

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}         // NOLINT: implicit by design
  Expected(Error error) : state_(std::move(error)) {}     // NOLINT
  Expected(Unexpected u) : state_(std::move(u.error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }
  Error& error() { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)) {}     // NOLINT
  Expected(Unexpected u) : error_(std::move(u.error)) {}  // NOLINT

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace bpfkit
