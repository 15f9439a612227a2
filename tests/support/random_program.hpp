// Random BPF programs for differential testing against the Linux kernel.
//
// Every program (bar RandomProgramOptions::counted_loops) is meant to pass
// the kernel verifier as a root-loaded socket filter and to terminate: all branches jump forward, every register is
// written before it is read, and stack loads only read bytes that every path
// has written (the kernel would otherwise return stale stack contents that no
// other engine can reproduce).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::testing {

struct RandomProgramOptions {
  size_t min_slots = 20;  // the size aimed at; the epilogue may add a few slots
  size_t max_slots = 80;
  // Also counted loops over the input region (r1 at entry, kept in r6): an
  // index or pointer stepping by a constant towards a bound, a load or
  // store through it each iteration (some skip it on a branch, some are
  // entered at their test). Their bounds and starts put
  // some accesses outside the region (a fault at the first, a middle or the
  // last iteration). Not for the kernel: these programs read r1 as memory.
  bool counted_loops = false;
};

// The same seed gives the same program (with the same standard library: the
// <random> distributions are implementation-defined).
std::vector<isa::Slot> random_program(uint64_t seed, const RandomProgramOptions& options = {});

}  // namespace bpfkit::testing
