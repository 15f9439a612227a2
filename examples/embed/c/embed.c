/* Embedding bpfkit from C: load a tiny Linux eBPF program, give it a helper
 * and an input buffer, run it, print r0.
 *
 * Build against an installed bpfkit with CMake (CMakeLists.txt beside this
 * file) or with pkg-config:
 *     cc embed.c $(pkg-config --cflags --libs bpfkit) -o embed_c
 */
#include <bpfkit/bpfkit.h>
#include <stdio.h>

/* The program, as `bpfkit asm` writes it for
 *     call 1000       # r0 = sum_bytes(r1 = input, r2 = its size)
 *     r0 += 1
 *     exit
 * (8-byte little-endian instructions). */
static const unsigned char program[] = {
    0x85, 0x00, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, /* call 1000 */
    0x07, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* r0 += 1 */
    0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* exit */
};

/* Helper 1000: the sum of the bytes at guest address args[0], args[1] long.
 * Every guest pointer goes through bpfkit_call_translate (bounds-checked). */
static int sum_bytes(void *user_data, bpfkit_call *call, const uint64_t args[5], uint64_t *r0) {
  const unsigned char *bytes = bpfkit_call_translate(call, args[0], args[1], 0);
  uint64_t sum = 0;
  uint64_t i;
  if (bytes == NULL) {
    bpfkit_call_fail(call, "sum_bytes: buffer outside the program's memory");
    return 1;
  }
  for (i = 0; i < args[1]; i++) sum += bytes[i];
  ++*(unsigned *)user_data; /* count the calls */
  *r0 = sum;
  return 0;
}

int main(void) {
  char input[] = "hello";
  unsigned calls = 0;
  uint64_t r0 = 0;
  int status = 0;
  bpfkit_vm *vm = bpfkit_vm_create();
  if (vm == NULL) return 1;
  if (bpfkit_vm_register_helper(vm, 1000, "sum_bytes", sum_bytes, &calls) != BPFKIT_OK ||
      bpfkit_vm_load(vm, program, sizeof program, BPFKIT_DIALECT_LINUX) != BPFKIT_OK ||
      bpfkit_vm_set_input(vm, input, sizeof input - 1) != BPFKIT_OK || bpfkit_vm_run(vm, &r0) != BPFKIT_OK) {
    fprintf(stderr, "embed: %s: %s\n", bpfkit_vm_error_code(vm), bpfkit_vm_error_message(vm));
    status = 1;
  } else {
    printf("r0 = %llu (%llu instructions, %u helper call)\n", (unsigned long long)r0,
           (unsigned long long)bpfkit_vm_instructions(vm), calls);
  }
  bpfkit_vm_destroy(vm);
  return status;
}
