/* libbpf's load-time setup: global variables a skeleton sets before the
 * load (--set), __kconfig externs (the system's or --kconfig FILE), a map
 * user space sizes (max_entries 0: --map-size) and fills (--map).
 * r0 = threshold + counter + zeroed + tag[0]
 *      + 1000 if LINUX_KERNEL_VERSION >= 4.0.0, + 10000 if LINUX_HAS_SYSCALL_WRAPPER
 *      + 100000 * CONFIG_BPF_SYSCALL (tristate: y 1, m 2) + 1000000 if CONFIG_BPFKIT_MISSING (weak: 0)
 *      + the value of key 7 in `sized`, if any.
 * CONFIG_HZ and CONFIG_DEFAULT_HOSTNAME go in `out`. */
#include "bpf_defs.h"

#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))
typedef _Bool bool;
enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };

extern u32 LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig;
extern bool CONFIG_BPFKIT_MISSING __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig __weak;

const volatile u32 threshold = 10;
volatile u64 counter = 5;
volatile u32 zeroed;
const volatile char tag[4] = "abc";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, u32);
  __type(value, u64);
} sized SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, u32);
  __type(value, u64);
} out SEC(".maps");

SEC("xdp") int load_setup(void *ctx) {
  u64 r = threshold + counter + zeroed + tag[0];
  if (LINUX_KERNEL_VERSION >= (4 << 16)) r += 1000;
  if (LINUX_HAS_SYSCALL_WRAPPER) r += 10000;
  r += 100000 * (u64)CONFIG_BPF_SYSCALL;
  if (CONFIG_BPFKIT_MISSING) r += 1000000;
  u32 key = 7, zero = 0, one = 1;
  u64 *value = bpf_map_lookup_elem(&sized, &key);
  if (value) r += *value;
  u64 hz = CONFIG_HZ, name = 0;
  for (int i = 0; i < 8; i++) name = name << 8 | (u8)CONFIG_DEFAULT_HOSTNAME[i];
  bpf_map_update_elem(&out, &zero, &hz, BPF_ANY);
  bpf_map_update_elem(&out, &one, &name, BPF_ANY);
  return (int)r;
}
