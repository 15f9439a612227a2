// Graphviz output: one record node per block listing its instructions, one
// edge per branch target (a conditional branch's taken edge labelled "T").
#include <sstream>

#include "bpfkit/ir.hpp"
#include "internal.hpp"

namespace bpfkit::ir {

namespace {
std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '<' || c == '>' || c == '|') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

std::string to_dot(Function& fn) {
  fn.renumber();
  std::ostringstream out;
  out << "digraph \"" << escape(fn.name()) << "\" {\n  node [shape=record, fontname=monospace];\n";
  for (const Block* block : fn.blocks()) {
    out << "  b" << block->number() << " [label=\"{b" << block->number() << ":";
    for (const Inst& inst : *block) out << "\\l" << escape(inst_text(inst));
    out << "\\l}\"];\n";
  }
  for (const Block* block : fn.blocks()) {
    const Inst* term = block->terminator();
    if (!term) continue;
    for (size_t i = 0; i < term->target_count(); ++i) {
      if (!term->target(i)) continue;
      out << "  b" << block->number() << " -> b" << term->target(i)->number();
      if (term->target_count() == 2) out << (i == 0 ? " [label=\"T\"]" : " [label=\"F\"]");
      out << ";\n";
    }
  }
  out << "}\n";
  return out.str();
}

}  // namespace bpfkit::ir
