// Row selection by meaning (see rows.hpp).
#include "rows.hpp"

#include <cstring>
#include <deque>
#include <type_traits>
#include <utility>

namespace bpfkit::ir::codegen {

using isa::Condition;
using isa::Operation;
using isa::Source;

namespace {

// Whether two dialects give every row the same meaning (semantics reads
// the family, the ISA version and the sBPF features only).
bool same_meanings(const isa::Dialect& a, const isa::Dialect& b) {
  static_assert(std::has_unique_object_representations_v<isa::SbpfFeatures>);
  return a.family == b.family && a.isa == b.isa && a.sbpf_version == b.sbpf_version &&
         std::memcmp(&a.sbpf, &b.sbpf, sizeof a.sbpf) == 0;
}

}  // namespace

const std::vector<isa::Semantics>& row_meanings(const isa::Dialect& dialect) {
  // A deque: tables handed out stay where they are as others are added.
  thread_local std::deque<std::pair<isa::Dialect, std::vector<isa::Semantics>>> tables;
  for (const auto& [known, table] : tables)
    if (same_meanings(known, dialect)) return table;
  std::vector<isa::Semantics> table;
  table.reserve(isa::kOps.size());
  for (const isa::OpInfo& row : isa::kOps) table.push_back(isa::semantics(row.op, dialect));
  tables.emplace_back(dialect, std::move(table));
  return tables.back().second;
}

std::optional<isa::Op> find_row(const isa::Dialect& dialect, Operation operation, uint8_t width, Source source,
                                Condition condition) {
  const std::vector<isa::Semantics>& meanings = row_meanings(dialect);
  for (const isa::OpInfo& row : isa::kOps) {
    const isa::Semantics& s = meanings[static_cast<size_t>(row.op)];
    if (s.operation == operation && s.width == width && s.source == source && s.condition == condition && !s.swapped &&
        !s.fetch)
      return row.op;
  }
  return std::nullopt;
}

std::optional<isa::Op> inverted_branch(const isa::Dialect& dialect, isa::Op branch) {
  const isa::Semantics s = isa::semantics(branch, dialect);
  const Condition opposite = isa::negated(s.condition);
  if (s.operation != Operation::JumpIf || opposite == Condition::None) return std::nullopt;
  return find_row(dialect, Operation::JumpIf, s.width, s.source, opposite);
}

Rows rows_for(const isa::Dialect& dialect) {
  // Every dialect has these; value_or keeps a broken table from crashing.
  Rows rows{};
  rows.mov_reg = find_row(dialect, Operation::Mov, 64, Source::Reg).value_or(isa::Op::mov64_reg);
  rows.mov_imm = find_row(dialect, Operation::Mov, 64, Source::Imm).value_or(isa::Op::mov64_imm);
  rows.load64 = find_row(dialect, Operation::Load, 64, Source::Reg).value_or(isa::Op::ldxdw);
  rows.store64_reg = find_row(dialect, Operation::Store, 64, Source::Reg).value_or(isa::Op::stxdw);
  rows.store64_imm = find_row(dialect, Operation::Store, 64, Source::Imm).value_or(isa::Op::stdw);
  rows.ja = find_row(dialect, Operation::Jump, 64, Source::None, Condition::Always).value_or(isa::Op::ja);
  if (isa::has_row(isa::Op::gotol, dialect)) rows.gotol = isa::Op::gotol;
  if (isa::has_row(isa::Op::lddw, dialect)) rows.lddw = isa::Op::lddw;
  if (auto mov32 = find_row(dialect, Operation::Mov, 32, Source::Imm)) {
    const isa::Semantics s = isa::semantics(*mov32, dialect);
    if (isa::evaluate_alu(*mov32, dialect, ~uint64_t{0}, isa::immediate_operand(s, -1)) == 0xffff'ffffu)
      rows.mov32_zero_extending = mov32;
  }
  rows.hor64 = find_row(dialect, Operation::Hor, 64, Source::Imm);
  return rows;
}

std::vector<ConstantRow> constant_rows(const Rows& rows, uint64_t value) {
  const auto low = static_cast<int32_t>(value);
  if (static_cast<int64_t>(low) == static_cast<int64_t>(value)) return {{rows.mov_imm, low}};
  if (value <= 0xffff'ffffu && rows.mov32_zero_extending) return {{*rows.mov32_zero_extending, low}};
  if (rows.lddw) return {{*rows.lddw, 0, value}};
  if (rows.mov32_zero_extending && rows.hor64)
    return {{*rows.mov32_zero_extending, low}, {*rows.hor64, static_cast<int32_t>(value >> 32)}};
  return {{rows.mov_imm, low}};  // no dialect lacks all of these
}

}  // namespace bpfkit::ir::codegen
