#!/usr/bin/env bash
# `--verify --engine jit` (issue 13): the JIT leaves out the region checks
# the verifier proved redundant, and every program still gives the
# interpreter's output, maps, packet and exit status; `bpfkit jit --verify`
# shows which accesses run unchecked.
#   cli_jit_verify_test.sh BPFKIT BPF_OBJECT_DIR
set -u
bpfkit=$1 objects=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# same_run NAME ARGS...: `run ARGS --verify --json --dump-maps` under both
# engines prints the same (but the time a test run took) and exits alike.
same_run() {
  local name=$1
  shift
  local engine
  for engine in interp jit; do
    guarded "$bpfkit" run "$@" --verify --engine "$engine" --json --dump-maps >"$tmp/$engine.out" 2>"$tmp/$engine.err"
    echo "status $?" >>"$tmp/$engine.out"
    sed -i 's/"duration_ns":[0-9]*,\{0,1\}//' "$tmp/$engine.out"
  done
  check_that "$name" cmp -s "$tmp/interp.out" "$tmp/jit.out"
  if ! cmp -s "$tmp/interp.out" "$tmp/jit.out"; then diff "$tmp/interp.out" "$tmp/jit.out" | head -5; fi
}

# A stack pointer in r1: checked without --verify, not with it.
printf 'r1 = r10\nr1 += -16\n*(u64 *)(r1 + 0) = 7\nr0 = *(u64 *)(r1 + 0)\nexit\n' >"$tmp/stack.s"
check jit-verify-count 0 "2 accesses without a region check" -- "$bpfkit" jit "$tmp/stack.s" --verify
check jit-plain 0 "5 slots" -- "$bpfkit" jit "$tmp/stack.s"
check_that jit-plain-no-count bash -c "! grep -q 'without a region check' '$tmp/stdout'"
check jit-verify-dump 0 "*(u64 *)(r1 + 0x0) = 0x7    ; in bounds: no region check" \
  -- "$bpfkit" jit "$tmp/stack.s" --verify --dump
check jit-dump-checked 0 "*(u64 *)(r1 + 0x0) = 0x7" -- "$bpfkit" jit "$tmp/stack.s" --dump
check_that jit-dump-checked-unmarked bash -c "! grep -q 'in bounds' '$tmp/stdout'"
check run-verify-jit 0 "0x7" -- "$bpfkit" run "$tmp/stack.s" --verify --engine jit
# The raw buffer: proven for the --mem-size the verifier saw.
printf 'r0 = *(u64 *)(r1 + 8)\nexit\n' >"$tmp/mem.s"
check jit-verify-mem 0 "1 accesses without a region check" -- "$bpfkit" jit "$tmp/mem.s" --verify --mem-size 16
check_err jit-verify-refused 1 "verifier: invalid access to memory" -- "$bpfkit" jit "$tmp/mem.s" --verify --mem-size 8
same_run raw-buffer "$tmp/mem.s" --mem-hex 00000000000000002a00000000000000
# plugin --verify, as run --verify: the verifier first (its refusal on
# stdout, the protocol's), the proofs to the JIT (before, --verify was
# taken for another runtime's option and ignored).
ldxdw8='79 10 08 00 00 00 00 00 95 00 00 00 00 00 00 00'
check plugin-verify-jit 0 "0x2a" \
  -- sh -c "echo '$ldxdw8' | '$bpfkit' plugin --engine jit --verify '00 00 00 00 00 00 00 00 2a 00 00 00 00 00 00 00'"
check plugin-verify-jit-refused 1 "verifier: invalid access to memory, mem_size=8" \
  -- sh -c "echo '$ldxdw8' | '$bpfkit' plugin --engine jit --verify '00 00 00 00 00 00 00 00'"
check plugin-verify-refused 1 "verifier: R3 !read_ok (EACCES)" \
  -- sh -c "echo 'bf 30 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --verify"
check plugin-verify-opt 0 "0x2a" \
  -- sh -c "echo '$ldxdw8' | '$bpfkit' plugin --opt O2 --engine jit --verify '00 00 00 00 00 00 00 00 2a 00 00 00 00 00 00 00'"

if [ -n "$objects" ] && [ -f "$objects/xdp_parse.o" ]; then
  frame=020000000001020000000002080045000014000000004006000000000000000000000000
  arp=ffffffffffff020000000002080600010800060400011111111111111111111111111111111111111111111111111111
  check packet-unchecked 0 "accesses without a region check" -- "$bpfkit" jit "$objects/xdp_parse.o" --verify --type xdp
  check_that packet-some-unchecked bash -c "! grep -q ', 0 accesses' '$tmp/stdout'"
  for object in compute global_data legacy_maps maps subprogs task_helpers; do
    same_run "$object" "$objects/$object.o"
  done
  for object in xdp_parse tc_classify socket_filter xdp_adjust tc_rewrite; do
    same_run "$object-ip" "$objects/$object.o" --packet-hex "$frame"
    same_run "$object-arp" "$objects/$object.o" --packet-hex "$arp"
  done
  same_run map-kinds "$objects/map_kinds.o" --function map_kinds --packet-hex "$frame"
  for function in perf_out in_cgroup to_devmap to_devmap_hash; do
    same_run "events-$function" "$objects/events.o" --function "$function" --packet-hex "$frame"
  done
  same_run tail-call "$objects/tail_call.o" --function entry --packet-hex "$frame"
  same_run prog-values "$objects/prog_values.o" --function entry --packet-hex "$frame"
fi

summary cli_jit_verify
