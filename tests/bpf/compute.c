/* Pure computation, no maps or helpers, so the Linux kernel can run it too
 * (tests/ebpf_programs_test.cpp compares bpfkit with the kernel oracle):
 * subprograms, bounded loops, signed and unsigned arithmetic, a switch.
 * Its r0 is checked against the kernel, not written here. */
#include "bpf_defs.h"

static __noinline u64 mix(u64 x, u64 y) {
  x ^= y + 0x9e3779b97f4a7c15ull + (x << 6) + (x >> 2);
  return x * 0xff51afd7ed558ccdull;
}

static __noinline s64 classify(s64 v) {
  switch (v & 7) {
    case 0: return v / 3;
    case 1: return -v;
    case 2: return v % 11;
    case 3: return v >> 3;
    default: return v * 5;
  }
}

__noinline u32 fold(u64 v) { return (u32)(v ^ (v >> 32)); }

SEC("socket") int compute(void *ctx) {
  u64 h = 1;
  s64 acc = 0;
  for (int i = 0; i < 64; i++) {
    h = mix(h, (u64)i);
    acc += classify((s64)(h >> 40) - 1000);
  }
  return (int)(fold(h) ^ (u32)acc);
}
