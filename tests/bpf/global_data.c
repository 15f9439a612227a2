/* Global data: .rodata (a string, a table), .data (an initialised counter)
 * and .bss (a zeroed array) become single-entry array maps.
 * r0 = sum of the bytes of "hello, bpf" (920) + the table (100)
 *    + 1000 * (counter + 3) = 11020. */
#include "bpf_defs.h"

static const char greeting[] = "hello, bpf";
const volatile u32 table[4] = {10, 20, 30, 40};
u32 counter = 7;
u64 scratch[8];

SEC("socket") int global_data(void *ctx) {
  u64 sum = 0;
  for (int i = 0; greeting[i]; i++) sum += (u8)greeting[i];
  for (int i = 0; i < 4; i++) sum += table[i];
  counter += 3;
  scratch[2] = counter;
  return (int)(sum + scratch[2] * 1000);
}
