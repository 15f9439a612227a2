#!/usr/bin/env bash
# End-to-end tests of running real-world eBPF programs (issue 14): helper
# names, program types and their contexts, maps and load-time setup.
#   cli_ebpf_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR BPF_OBJECT_DIR
set -u
bpfkit=$1 objects=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# Helpers: every missing one reported before the run, by name; names in listings.
printf 'call 141\ncall 66\ncall 9999\nr0 = 0\nexit\n' >"$tmp/missing.s"
check_err missing-helpers 1 "the program calls helpers bpfkit does not implement: 66 (bpf_skb_get_xfrm_state), 141 (bpf_get_task_stack), 9999" \
  -- "$bpfkit" run "$tmp/missing.s"
printf 'call 1\nexit\n' >"$tmp/lookup.s"
check helper-names 0 "call 0x1 <bpf_map_lookup_elem>" -- "$bpfkit" disasm "$tmp/lookup.s" --helper-names
check no-helper-names 0 "call 0x1" -- "$bpfkit" disasm "$tmp/lookup.s"
check_that plain-call-unnamed bash -c "! grep -q '<bpf_' '$tmp/stdout'"

# Program-type runs: BPF_PROG_TEST_RUN's semantics (compared with the kernel
# in test_run_kernel_test).
frame=020000000001020000000002080045000014000000004006000000000000000000000000
printf 'r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nr4 = *(u32 *)(r1 + 12)\nr0 += r4\nexit\n' >"$tmp/xdp_len.s"
check xdp-len 0 "retval: 37" -- "$bpfkit" run "$tmp/xdp_len.s" --type xdp --packet-hex "$frame"
check xdp-json 0 '{"retval":37,"data_out":"'"$frame"'","data_size_out":36,"duration_ns":' \
  -- "$bpfkit" run "$tmp/xdp_len.s" --type xdp --packet-hex "$frame" --json
check xdp-ifindex 0 "retval: 38" -- "$bpfkit" run "$tmp/xdp_len.s" --type xdp --packet-hex "$frame" \
  --ctx-field data_end=36 --ctx-field ingress_ifindex=2
check_err xdp-ctx-bad 2 "EINVAL: xdp_md in ctx_in" -- "$bpfkit" run "$tmp/xdp_len.s" --type xdp --packet-hex "$frame" \
  --ctx-field ingress_ifindex=2
check_err runt 2 "BPF_PROG_TEST_RUN would fail with EINVAL: a frame is 14 to" \
  -- "$bpfkit" run "$tmp/xdp_len.s" --type tc --packet-hex "0200000000010200000000"
check repeat 0 "ns per run" -- "$bpfkit" run "$tmp/xdp_len.s" --type xdp --packet-hex "$frame" --repeat 100
printf 'r0 = *(u32 *)(r1 + 8)\nr2 = *(u32 *)(r1 + 48)\nr0 += r2\nexit\n' >"$tmp/mark.s"
check tc-ctx-field 0 "retval: 1007" -- "$bpfkit" run "$tmp/mark.s" --type tc --packet-hex "$frame" --ctx-field mark=1000 \
  --ctx-field "cb[0]=7"
check_err ctx-field-unknown 2 "the context has no field 'colour'" \
  -- "$bpfkit" run "$tmp/mark.s" --type tc --packet-hex "$frame" --ctx-field colour=1
check_err ctx-in-refused 2 "ctx_in sets len (offset 0), which the kernel does not take" \
  -- "$bpfkit" run "$tmp/mark.s" --type tc --packet-hex "$frame" --ctx-field len=1
printf 'r0 = *(u32 *)(r1 + 0)\nexit\n' >"$tmp/skb_len.s"
check socket-sees-l3 0 "retval: 22" -- "$bpfkit" run "$tmp/skb_len.s" --type socket --packet-hex "$frame"
check socket-zeroed-l2 0 "data_out (36 bytes): 0000000000000000000000000000450000140000" \
  -- "$bpfkit" run "$tmp/skb_len.s" --type socket --packet-hex "$frame"
printf 'r0 = *(u32 *)(r1 + 160)\nexit\n' >"$tmp/wire_len.s"
check_err verify-type 1 "verifier: invalid bpf_context access off=160 size=4" \
  -- "$bpfkit" run "$tmp/wire_len.s" --type socket --packet-hex "$frame" --verify
check_err type-needs-linux 2 "--type does not apply" -- "$bpfkit" run "$tmp/skb_len.s" --dialect sbpf-v3 --type xdp
if [ -n "$objects" ] && [ -f "$objects/xdp_parse.o" ]; then
  # The type from the section name, as libbpf reads it.
  check section-type 0 "retval: " -- "$bpfkit" run "$objects/xdp_parse.o" --packet-hex "$frame"
  check section-socket 0 "retval: 22" -- "$bpfkit" run "$objects/socket_filter.o" --packet-hex "$frame"
fi

# Packet helpers: a redirect is part of the result; the fake task.
arp=ffffffffffff020000000002080600010800060400011111111111111111111111111111111111111111111111111111
printf 'r1 = 3\nr2 = 0\ncall 23\nexit\n' >"$tmp/redirect.s"
check redirect-json 0 '"retval":4,' -- "$bpfkit" run "$tmp/redirect.s" --type xdp --packet-hex "$frame" --json
check_that redirect-target grep -q '"redirect":{"ifindex":3,"flags":0}' "$tmp/stdout"
check redirect-text 0 "redirect: ifindex 3 flags 0" -- "$bpfkit" run "$tmp/redirect.s" --type tc --packet-hex "$frame"
printf 'call 14\nexit\n' >"$tmp/pid.s"
check task-default 0 "0x3e8000003e8" -- "$bpfkit" run "$tmp/pid.s"
check task-set 0 "0x200000007" -- "$bpfkit" run "$tmp/pid.s" --task pid=7,tgid=2
check_err task-bad-key 2 "--task colour=1: unknown key 'colour'" -- "$bpfkit" run "$tmp/pid.s" --task colour=1
check_err task-long-comm 2 "comm is at most 15 bytes" -- "$bpfkit" run "$tmp/pid.s" --task comm=a-very-long-name-indeed
if [ -n "$objects" ] && [ -f "$objects/tc_rewrite.o" ]; then
  check xdp-helpers 0 '"retval":4,"data_out":"000e16001600160d' \
    -- "$bpfkit" run "$objects/xdp_adjust.o" --packet-hex "$arp" --json
  check_that xdp-helpers-redirect grep -q '"redirect":{"ifindex":1,"flags":0}' "$tmp/stdout"
  check tc-helpers 0 "retval: 7" -- "$bpfkit" run "$objects/tc_rewrite.o" --packet-hex "$arp"
  # The JIT: the same packet helpers (the packet region moves under it).
  check xdp-helpers-jit 0 '"retval":4,"data_out":"000e16001600160d' \
    -- "$bpfkit" run "$objects/xdp_adjust.o" --packet-hex "$arp" --json --engine jit
  check tc-helpers-jit 0 "retval: 7" -- "$bpfkit" run "$objects/tc_rewrite.o" --packet-hex "$arp" --engine jit
  check verify-helpers 0 "accepted" -- "$bpfkit" verify "$objects/tc_rewrite.o"
  check task-helpers 0 "pid 7 tgid 8 comm curl" -- "$bpfkit" run "$objects/task_helpers.o" --type kprobe --task pid=7,tgid=8,comm=curl --json
  check_that task-strings grep -q "str 4 'cur' 5" "$tmp/stdout"
  # Through the IR: bpf_trace_printk reads r3-r5, which its prototype does not name.
  for level in O0 O2; do
    check "task-helpers-$level" 0 "pid 7 tgid 8 comm curl" \
      -- "$bpfkit" run "$objects/task_helpers.o" --type kprobe --task pid=7,tgid=8,comm=curl --opt "$level" --json
    check_that "task-strings-$level" grep -q "str 4 'cur' 5" "$tmp/stdout"
  done
fi

# Kernel variables (`__ksym` data) and kfuncs: what bpfkit cannot resolve
# without the kernel is named in the error.
if [ -n "$objects" ] && [ -f "$objects/ksym_var.o" ]; then
  check_err ksym-run 1 "kernel variable 'bpfkit_no_such_symbol' (__ksym)" -- "$bpfkit" run "$objects/ksym_var.o"
  check_err ksym-run-jit 1 "kernel variable 'bpfkit_no_such_symbol' (__ksym)" -- "$bpfkit" run "$objects/ksym_var.o" --engine jit
  check ksym-verify 1 "kernel variable 'bpfkit_no_such_symbol' (__ksym) is not supported" \
    -- "$bpfkit" verify "$objects/ksym_var.o" --type raw
  check kfunc-verify 1 "calling kernel functions is not supported" -- "$bpfkit" verify "$objects/kfunc_call.o"
fi

summary cli_ebpf
