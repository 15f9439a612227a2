/* Kernel variables: `extern const void name __ksym` (untyped), whose
 * address clang loads with `lddw` and a relocation against the extern;
 * libbpf resolves it from /proc/kallsyms (a missing __weak one to 0).
 * r0 = 1: the kernel's text comes before its read-only data, and the
 * weak one is missing. */
#include "bpf_defs.h"

#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))

extern const void _stext __ksym;
extern const void __start_rodata __ksym;
extern const void bpfkit_no_such_symbol __ksym __weak;

u64 addresses[3] SEC(".bss");

SEC("raw_tp/sys_enter") int ksym_var(void *ctx) {
  addresses[0] = (u64)&_stext;
  addresses[1] = (u64)&__start_rodata;
  addresses[2] = (u64)&bpfkit_no_such_symbol;
  return addresses[1] > addresses[0] && addresses[2] == 0;
}

char LICENSE[] SEC("license") = "GPL";
