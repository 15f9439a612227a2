#!/usr/bin/env bash
# End-to-end tests of the event, stack, cgroup and redirect helpers and of
# prog arrays an object fills (issue 14), on tests/bpf/events.c and
# prog_values.c (compared with the kernel in kernel_maps_test).
#   cli_events_test.sh BPFKIT BPF_OBJECT_DIR
set -u
bpfkit=$1 objects=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

check_err task-bad-stack 2 "--task kstack=0x10:zz: kstack '0x10:zz': 'zz' is not a number" \
  -- "$bpfkit" run "$(printf 'r0 = 0\nexit\n' >"$tmp/zero.s"; echo "$tmp/zero.s")" --task kstack=0x10:zz
if [ -z "$objects" ] || [ ! -f "$objects/events.o" ]; then
  echo "cli_events: the C test programs were not built (clang-19 missing)"
  summary cli_events
  exit
fi
events=$objects/events.o
frame=020000000001020000000002080045000014000000004006000000000000000000000000

# perf_event_output: every CPU's slot has a reader in `run`; the records in
# order, with their map and CPU (8 packet bytes appended to the third).
check perf-json 0 '"perf_output":[{"map":"events","cpu":0,"data":"44332211"},{"map":"events","cpu":0,"data":"443322110200000000010200"}]' \
  -- "$bpfkit" run "$events" --function perf_out --packet-hex "$frame" --json --dump-maps
# out: 0 (sent), 7 (-E2BIG: slot 1000), 0 (sent), 22 (-EINVAL: a flag past CTXLEN).
check_that perf-errnos grep -q '"entries":\[{"key":"00000000","value":"0000000000000000"},{"key":"01000000","value":"0700000000000000"},{"key":"02000000","value":"0000000000000000"},{"key":"03000000","value":"1600000000000000"}' "$tmp/stdout"
check perf-text 0 "perf_event_output events cpu 0: 44332211" \
  -- "$bpfkit" run "$events" --function perf_out --packet-hex "$frame"

# Cgroups: slot 0 the root (1), slot 1 cgroup 2; the task is under the root
# only, unless --task cgroup=2: 101, 100 (or 101), -EAGAIN, -E2BIG as +100.
cg=(--map cgroups=00000000:01000000 --map cgroups=01000000:02000000)
check cgroup-default 0 '{"key":"00000000","value":"6500000000000000"},{"key":"01000000","value":"6400000000000000"},{"key":"02000000","value":"5900000000000000"},{"key":"03000000","value":"5d00000000000000"}' \
  -- "$bpfkit" run "$events" --function in_cgroup --packet-hex "$frame" "${cg[@]}" --json --dump-maps
check cgroup-member 0 '{"key":"01000000","value":"6500000000000000"}' \
  -- "$bpfkit" run "$events" --function in_cgroup --packet-hex "$frame" "${cg[@]}" --task cgroup=2 --json --dump-maps

# Stacks: none by default (-EFAULT), or the described one; the cgroup
# slot the kprobe asks about is empty here (-EAGAIN, 89).
check stack-none 0 '{"key":"00000000","value":"f2ffffffffffffff"},{"key":"01000000","value":"f2ffffffffffffff"}' \
  -- "$bpfkit" run "$events" --function stacks --json --dump-maps
check stack-given 0 '{"key":"01000000","value":"1000000000000000"},{"key":"02000000","value":"10000081ffffffff"},{"key":"03000000","value":"5900000000000000"}' \
  -- "$bpfkit" run "$events" --function stacks --task kstack=0xffffffff81000010:0xffffffff81000020 --json --dump-maps
check_that stack-stored grep -q '"name":"stack_map","type":"stack_trace","type_id":7,"entries":\[{"key":' "$tmp/stdout"

# Redirects through each kind of redirect map: the target in the result.
check devmap 0 '"retval":4,' -- "$bpfkit" run "$events" --function to_devmap --packet-hex "$frame" \
  --map tx_port=00000000:01000000 --json
check_that devmap-target grep -q '"redirect":{"map":"tx_port","key":0,"flags":2}' "$tmp/stdout"
check devmap-hash 0 '"redirect":{"map":"tx_hash","key":7,"flags":2}' \
  -- "$bpfkit" run "$events" --function to_devmap_hash --packet-hex "$frame" --map tx_hash=07000000:01000000 --json
check cpumap 0 '"redirect":{"map":"cpus","key":0,"flags":2}' \
  -- "$bpfkit" run "$events" --function to_cpumap --packet-hex "$frame" --map cpus=00000000:c0000000 --json
check xskmap 0 '"redirect":{"map":"xsks","key":0,"flags":2}' \
  -- "$bpfkit" run "$events" --function to_xskmap --packet-hex "$frame" --map xsks=00000000:05000000 --json
check xskmap-empty 0 '"retval":2,' -- "$bpfkit" run "$events" --function to_xskmap --packet-hex "$frame" --json
check_that xskmap-no-redirect bash -c "! grep -q redirect '$tmp/stdout'"
check devmap-text 0 "redirect: map \"tx_port\" key 0 flags 2" \
  -- "$bpfkit" run "$events" --function to_devmap --packet-hex "$frame" --map tx_port=00000000:01000000
check missing-key 0 '"retval":1,' -- "$bpfkit" run "$events" --function to_missing --packet-hex "$frame" --json

# A prog array the object fills (.values): two tail calls, shared maps.
check prog-values 0 '"retval":42,' -- "$bpfkit" run "$objects/prog_values.o" --function entry --packet-hex "$frame" \
  --json --dump-maps
check_that prog-values-hits grep -q '"name":"hits","type":"array","type_id":2,"entries":\[{"key":"00000000","value":"7b00000000000000"}\]' "$tmp/stdout"

summary cli_events
