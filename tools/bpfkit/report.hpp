// How every subcommand prints: exit statuses, number formatting, the one
// error shape (`{"error": {"code", "message", ...location}}` with --json),
// the one run result, and the one JSON output path.
//
// A small library of its own (bpfkit_cli_report), so that the fuzz target
// fuzz_cli_json can feed it arbitrary bytes.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "bpfkit/expected.hpp"

namespace bpfkit::cli {

// 0 success; 1 the program was rejected (loader, verifier, decoder) or
// faulted; 2 bad usage, or input that cannot be read as what it claims to be.
inline constexpr int kExitOk = 0, kExitRejected = 1, kExitBadInput = 2;

using Json = nlohmann::ordered_json;

std::string hex(uint64_t value);

// A map's type as objdump and --dump-maps print it: libbpf's name ("hash",
// "devmap"), or "unknown" for an id the kernel does not define (the id is
// printed beside it).
std::string map_type_label(uint32_t type);

// The compact text of `value`. Strings may hold any bytes (file names,
// section names, guest output): bytes that are not UTF-8 become U+FFFD.
// Never throws.
std::string dump_json(const Json& value);

// The `{"code", "message", ...location}` object. `code` is the domain's own
// error name where it has one (sBPF: "CallDepthExceeded"), with the broad
// class in `class` and the domain in `domain`; otherwise the class's name.
Json error_json(const Error& error);

// Errors in reading text are the user's input; errors in what the program
// is or does are a rejection (an sBPF verifier error is a rejection too).
int exit_status_for(const Error& error);

// What one run gives, whichever engine ran it. A fault keeps what was known
// when it happened: the program's output, compute units.
struct RunReport {
  std::optional<Error> error;
  int error_status = 0;  // exit status of `error`; 0: exit_status_for(error)
  uint64_t r0 = 0;
  uint64_t instructions = 0;
  std::optional<uint64_t> compute_units;  // sBPF
  std::optional<std::array<uint64_t, 11>> registers;
  std::string output;                   // what the program printed
  std::string output_field = "output";  // its JSON name: "output" (trace_printk) or "log" (sBPF)
  std::optional<Json> maps;             // --dump-maps
  // bpf_perf_event_output's records, in order: [{"map", "cpu", "data" (hex)}]
  std::optional<Json> perf_output;
  bool stats = false;  // human form: also the instruction count
  struct TestRun {     // a program-type run (BPF_PROG_TEST_RUN)
    uint32_t retval = 0;
    std::string data_out;  // hex
    uint64_t data_size_out = 0;
    uint64_t duration_ns = 0;
    bool timed = false;            // --repeat: print the time per run
    std::optional<Json> redirect;  // {"ifindex": N} or {"map": NAME, "key": K}, and "flags"
  };
  std::optional<TestRun> test_run;
};

// Results to `out`, human messages to `err`; with `json`, one JSON object
// per result or failure on `out`.
class Printer {
 public:
  Printer(bool json, std::ostream& out, std::ostream& err) : json_(json), out_(out), err_(err) {}
  bool json() const { return json_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // One JSON object on a line of `out`: the only way JSON is printed.
  void print_json(const Json& value);
  // The error (stderr, or JSON on stdout); returns its exit status, or
  // `status` when given.
  int fail(const Error& error, int status = 0);
  // A run's result or fault; returns the exit status.
  int run(const RunReport& report);

 private:
  bool json_;
  std::ostream& out_;
  std::ostream& err_;
};

// stdout and stderr.
Printer standard_printer(bool json);

}  // namespace bpfkit::cli
