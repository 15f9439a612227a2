// Out-of-SSA's parallel copies: every permutation of up to 5 locations
// (registers and stack slots), every mapping with fan-out of up to 4, and
// constants, checked by running the moves on a model of the locations.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "parallel_copy.hpp"

namespace bpfkit::ir::codegen {
namespace {

using State = std::map<Location, uint64_t>;

// Each location starts holding a value that names it.
uint64_t initial_value(Location l) { return (l.is_reg() ? 1000u : 2000u) + static_cast<uint64_t>(l.index + 600); }

State run_moves(const std::vector<Move>& moves, const std::vector<Location>& universe) {
  State state;
  for (Location l : universe) state[l] = initial_value(l);
  for (const Move& m : moves) state[m.dst] = m.from_constant ? m.value : state.at(m.src);
  return state;
}

// What the copies mean: every destination gets its source's old value, the
// rest keep theirs.
State expected_state(const std::vector<Move>& copies, const std::vector<Location>& universe) {
  State state;
  for (Location l : universe) state[l] = initial_value(l);
  for (const Move& m : copies) state[m.dst] = m.from_constant ? m.value : initial_value(m.src);
  return state;
}

// The locations used: registers first, then stack slots.
std::vector<Location> locations(size_t count, size_t registers) {
  std::vector<Location> out;
  for (size_t i = 0; i < count; ++i)
    out.push_back(i < registers ? Location::reg(static_cast<int32_t>(i + 1))
                                : Location::stack(-8 * static_cast<int32_t>(i - registers + 1)));
  return out;
}

size_t cycles_of(const std::vector<size_t>& permutation) {
  std::vector<bool> seen(permutation.size());
  size_t cycles = 0;
  for (size_t i = 0; i < permutation.size(); ++i) {
    if (seen[i] || permutation[i] == i) continue;
    ++cycles;
    for (size_t j = i; !seen[j]; j = permutation[j]) seen[j] = true;
  }
  return cycles;
}

void check(const std::vector<Move>& copies, const std::vector<Location>& universe, Location temp, size_t want_moves,
           const std::string& what) {
  const std::vector<Move> moves = sequentialize(copies, temp);
  std::vector<Location> all = universe;
  all.push_back(temp);
  State got = run_moves(moves, all), want = expected_state(copies, all);
  got.erase(temp);
  want.erase(temp);
  EXPECT_EQ(got, want) << what;
  EXPECT_EQ(moves.size(), want_moves) << what;
  for (const Move& m : moves) EXPECT_FALSE(!m.from_constant && m.src == m.dst) << what << ": a self move";
}

TEST(ParallelCopy, EveryPermutationOfUpToFiveLocations) {
  size_t tested = 0;
  for (size_t n = 1; n <= 5; ++n) {
    for (size_t registers = 0; registers <= n; ++registers) {
      const std::vector<Location> universe = locations(n, registers);
      for (Location temp : {Location::reg(0), Location::stack(-512)}) {
        std::vector<size_t> p(n);
        std::iota(p.begin(), p.end(), 0);
        do {
          std::vector<Move> copies;
          size_t moved = 0;
          for (size_t i = 0; i < n; ++i) {
            copies.push_back(Move::copy(universe[i], universe[p[i]]));
            moved += p[i] != i;
          }
          std::string what = "n=" + std::to_string(n) + " regs=" + std::to_string(registers) + " perm=";
          for (size_t x : p) what += std::to_string(x);
          check(copies, universe, temp, moved + cycles_of(p), what);
          EXPECT_EQ(needs_temporary(copies), cycles_of(p) > 0) << what;
          ++tested;
        } while (std::next_permutation(p.begin(), p.end()));
      }
    }
  }
  EXPECT_EQ(tested, 2u * (1 * 2 + 2 * 3 + 6 * 4 + 24 * 5 + 120 * 6));
}

// Every map from destinations to sources over 4 locations (fan-out: one
// source copied to several places), each with an optional constant.
TEST(ParallelCopy, FanOutAndConstants) {
  const size_t n = 4;
  const std::vector<Location> universe = locations(n, 2);
  for (size_t code = 0; code < 625; ++code) {  // 5^4: source 0..3, or 4 = a constant
    std::vector<Move> copies;
    size_t c = code, real = 0;
    for (size_t i = 0; i < n; ++i, c /= 5) {
      const size_t source = c % 5;
      if (source == 4) {
        copies.push_back(Move::constant(universe[i], 0xdead0000u + i));
        ++real;
      } else {
        copies.push_back(Move::copy(universe[i], universe[source]));
        real += source != i;
      }
    }
    const std::vector<Move> moves = sequentialize(copies, Location::reg(9));
    std::vector<Location> all = universe;
    all.push_back(Location::reg(9));
    State got = run_moves(moves, all), want = expected_state(copies, all);
    got.erase(Location::reg(9));
    want.erase(Location::reg(9));
    EXPECT_EQ(got, want) << "code " << code;
    EXPECT_GE(moves.size(), real);
    EXPECT_LE(moves.size(), real + 2);  // at most two disjoint cycles in 4 locations
  }
}

TEST(ParallelCopy, SwapOfTwoRegistersGoesThroughTheTemporary) {
  const std::vector<Move> swap = {Move::copy(Location::reg(1), Location::reg(2)),
                                  Move::copy(Location::reg(2), Location::reg(1))};
  const std::vector<Move> moves = sequentialize(swap, Location::stack(-8));
  const std::vector<Move> want = {Move::copy(Location::stack(-8), Location::reg(1)),
                                  Move::copy(Location::reg(1), Location::reg(2)),
                                  Move::copy(Location::reg(2), Location::stack(-8))};
  EXPECT_EQ(moves, want);
}

TEST(ParallelCopy, ConstantsComeAfterTheReadsOfTheirDestination) {
  const std::vector<Move> copies = {Move::constant(Location::reg(1), 7),
                                    Move::copy(Location::reg(2), Location::reg(1))};
  const std::vector<Move> moves = sequentialize(copies, Location::reg(0));
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0], Move::copy(Location::reg(2), Location::reg(1)));
  EXPECT_EQ(moves[1], Move::constant(Location::reg(1), 7));
}

TEST(ParallelCopy, IsDeterministic) {
  std::vector<Move> copies;
  for (int i = 1; i <= 5; ++i) copies.push_back(Move::copy(Location::reg(i), Location::reg(i % 5 + 1)));
  EXPECT_EQ(sequentialize(copies, Location::reg(0)), sequentialize(copies, Location::reg(0)));
}

}  // namespace
}  // namespace bpfkit::ir::codegen
