/* bpf-to-bpf calls: a global function in .text, a static one, and one in
 * another executable section, called from an xdp program.
 * r0 = triple(add_one(13)) + add_one(100) + square(5) = 42 + 101 + 25 = 168. */
#include "bpf_defs.h"

__noinline int triple(int x) { return 3 * x; }
static __noinline int add_one(int x) { return x + 1; }
__attribute__((section(".text.extra"))) __noinline int square(int x) { return x * x; }

SEC("xdp") int subprogs(void *ctx) { return triple(add_one(13)) + add_one(100) + square(5); }
