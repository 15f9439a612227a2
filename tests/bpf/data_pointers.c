/* Pointers in global data (R_BPF_64_ABS64 in .data): `cursor` points into
 * `values`, `name` into .rodata. The loader fills them in once the maps
 * have addresses. r0 = *cursor * 10 + name[1] = 7 * 10 + 'b' = 168. */
#include "bpf_defs.h"

u64 values[4] = {5, 6, 7, 8};
u64 *cursor = &values[2];
const char *name = "abc";

SEC("socket") int data_pointers(void *ctx) { return (int)(*cursor * 10 + (u8)name[1]); }
