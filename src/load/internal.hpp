// What the files of module load share: errors that name the input, and
// comments in hex text.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "bpfkit/expected.hpp"

namespace bpfkit::load::detail {

inline Error input_error(std::string_view input, Errc code, std::string message) {
  Location where;
  where.input = std::string(input);
  return make_error(code, std::move(message), std::move(where));
}

// An error from a reader that did not know the file's name gets it.
inline Error in_input(Error error, std::string_view input) {
  if (error.location.input.empty()) error.location.input = std::string(input);
  return error;
}

// Hex text: strips `#`, `;` and `//` comments from one line.
inline std::string_view strip_comment(std::string_view line) {
  const size_t cut = std::min({line.find('#'), line.find(';'), line.find("//")});
  return cut == std::string_view::npos ? line : line.substr(0, cut);
}

}  // namespace bpfkit::load::detail
