#!/usr/bin/env bash
# End-to-end tests of running real-world eBPF programs (issue 14): helper
# names, program types and their contexts, maps and load-time setup.
#   cli_ebpf_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# Helpers: every missing one reported before the run, by name; names in listings.
printf 'call 26\ncall 14\ncall 9999\nr0 = 0\nexit\n' >"$tmp/missing.s"
check_err missing-helpers 1 "the program calls helpers bpfkit does not implement: 14 (bpf_get_current_pid_tgid), 26 (bpf_skb_load_bytes), 9999" \
  -- "$bpfkit" run "$tmp/missing.s"
printf 'call 1\nexit\n' >"$tmp/lookup.s"
check helper-names 0 "call 0x1 <bpf_map_lookup_elem>" -- "$bpfkit" disasm "$tmp/lookup.s" --helper-names
check no-helper-names 0 "call 0x1" -- "$bpfkit" disasm "$tmp/lookup.s"
check_that plain-call-unnamed bash -c "! grep -q '<bpf_' '$tmp/stdout'"

summary cli_ebpf
