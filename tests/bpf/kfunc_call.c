/* kfunc calls: functions declared `extern ... __ksym`, which clang calls
 * `call -1` with a relocation against the extern and libbpf resolves to the
 * kernel's BTF id. r0 = the packet's length, through a dynptr. */
#include "bpf_defs.h"
#include "ctx_defs.h"

#define __ksym __attribute__((section(".ksyms")))

struct bpf_dynptr {
  u64 opaque[2];
} __attribute__((aligned(8)));

extern int bpf_dynptr_from_xdp(struct xdp_md *xdp, u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern u32 bpf_dynptr_size(const struct bpf_dynptr *ptr) __ksym;

SEC("xdp") int kfunc_call(struct xdp_md *ctx) {
  struct bpf_dynptr packet;
  if (bpf_dynptr_from_xdp(ctx, 0, &packet)) return 0;
  return bpf_dynptr_size(&packet);
}

char LICENSE[] SEC("license") = "GPL";
