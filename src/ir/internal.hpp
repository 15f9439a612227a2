// Module ir's private helpers shared between its files.
#pragma once

#include <string>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

// The text form of a value ("%3", "i32 -1", "map_fd(4)") and of an
// instruction without its origin (print.cpp): dot output and messages.
std::string value_name(const Value* value);
std::string inst_text(const Inst& inst);

// "function f, b2, %7 = add.64 ...": where a validator error is.
std::string where(const Function& fn, const Block* block, const Inst* inst);

}  // namespace bpfkit::ir
