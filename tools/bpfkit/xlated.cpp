#include "xlated.hpp"

#include <iomanip>

#include "bpfkit/assembly.hpp"

namespace bpfkit::cli {

void print_xlated(std::ostream& out, std::span<const isa::Slot> xlated) {
  out << "xlated:\n";
  for (size_t pc = 0; pc < xlated.size(); ++pc) {
    out << std::setw(6) << pc << ": " << isa::slot_hex(xlated[pc]);
    if (pc == 0 || !isa::lookup(xlated[pc - 1]) || !isa::is_lddw(*isa::lookup(xlated[pc - 1])))
      out << "  " << assembly::format_instruction(xlated, pc);
    out << "\n";
  }
}

Json xlated_json(std::span<const isa::Slot> xlated) {
  Json json = Json::array();
  for (const isa::Slot& slot : xlated) json.push_back(isa::slot_hex(slot));
  return json;
}

}  // namespace bpfkit::cli
