// Fuzz target: the CLI's JSON output path (tools/bpfkit/report.cpp) with
// arbitrary bytes wherever input or a guest program can put them: file
// names, error messages, program output, map names. Whatever the bytes,
// printing must not throw, and every line printed must parse as JSON; text
// that was valid UTF-8 must come back unchanged.
//
// Input layout: byte 0 picks the error class and what is set; the rest is
// split at 0x00 bytes into the file name, the message, the output, a name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "report.hpp"

namespace {

using bpfkit::cli::Json;

// Each line of `text` parses as JSON.
void check_lines(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (Json::parse(line, nullptr, false).is_discarded()) std::abort();
}

// Dropping and replacing bad bytes give the same text only if there are none.
bool is_utf8(const std::string& text) {
  return Json(text).dump(-1, ' ', false, Json::error_handler_t::ignore) ==
         Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bpfkit;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  std::vector<std::string> parts(4);
  size_t part = 0;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0 && part + 1 < parts.size())
      ++part;
    else
      parts[part] += static_cast<char>(data[i]);
  }
  const std::string &file = parts[0], &message = parts[1], &output = parts[2], &name = parts[3];

  Error error = make_error(static_cast<Errc>(control % (static_cast<unsigned>(Errc::LimitExceeded) + 1)), message);
  error.location.input = file;
  if (control & 0x10) error.location.pc = control;
  if (control & 0x20) error.location.offset = size;

  cli::RunReport report;
  if (control & 0x40) report.error = error;
  report.r0 = size;
  report.output = output;
  if (control & 0x80) report.output_field = "log";
  if (control & 0x08) report.compute_units = control;
  report.registers = std::array<uint64_t, 11>{};
  report.maps = Json::array({Json{{"name", name}, {"type", "hash"}, {"entries", Json::array({output})}}});

  std::ostringstream out, err;
  cli::Printer printer(true, out, err);
  printer.fail(error);
  printer.run(report);
  printer.print_json(Json{{"output", file}, {"name", name}});
  if (!err.str().empty()) std::abort();  // --json prints nothing on stderr
  check_lines(out.str());

  // Valid UTF-8 comes back byte for byte.
  if (is_utf8(message)) {
    const Json parsed = Json::parse(cli::dump_json(Json{{"error", cli::error_json(error)}}));
    if (parsed["error"]["message"].get<std::string>() != message) std::abort();
  }

  // The human form takes the same bytes.
  std::ostringstream human_out, human_err;
  cli::Printer human(false, human_out, human_err);
  human.run(report);
  return 0;
}
