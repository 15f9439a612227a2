/* bpfkit.h as plain C: this file is compiled with -std=c11 -Wall -Wextra
 * -pedantic -Werror, linked against the libraries, and run on the program
 * that `bpfkit asm` makes of c_header_test.s at build time. */
#include <stdio.h>
#include <string.h>

#include "bpfkit/bpfkit.h"

/* Helper 1000 of c_header_test.s: r0 = 41 (the program adds 1). */
static int answer(void *user_data, bpfkit_call *call, const uint64_t args[5], uint64_t *r0) {
  (void)user_data;
  (void)args;
  if (bpfkit_call_translate(call, 0, 1, 0) != NULL) return 1; /* the null page is never mapped */
  *r0 = 41;
  return 0;
}

int main(int argc, char **argv) {
  bpfkit_dialect dialect;
  bpfkit_vm *vm;
  uint64_t r0 = 0;
  FILE *in;
  unsigned char code[64];
  size_t size;
  int failed = 0;
  if (argc != 2) return 2;
  if (bpfkit_dialect_from_name("linux", &dialect) != BPFKIT_OK) return 1;
  in = fopen(argv[1], "rb");
  if (in == NULL) return 2;
  size = fread(code, 1, sizeof code, in);
  fclose(in);
  vm = bpfkit_vm_create();
  if (vm == NULL) return 1;
  if (bpfkit_vm_register_helper(vm, 1000, "answer", answer, NULL) != BPFKIT_OK ||
      bpfkit_vm_load(vm, code, size, dialect) != BPFKIT_OK || bpfkit_vm_run(vm, &r0) != BPFKIT_OK) {
    fprintf(stderr, "%s: %s (pc %lld)\n", bpfkit_vm_error_code(vm), bpfkit_vm_error_message(vm),
            (long long)bpfkit_vm_error_pc(vm));
    failed = 1;
  } else if (r0 != 42 || strcmp(bpfkit_vm_error_code(vm), "") != 0) {
    fprintf(stderr, "r0 = %llu, expected 42\n", (unsigned long long)r0);
    failed = 1;
  }
  bpfkit_vm_destroy(vm);
  printf("bpfkit %s: %s\n", bpfkit_version(), failed ? "FAILED" : "ok");
  return failed;
}
