#!/usr/bin/env bash
# End to end: `bpfkit offload` on the simulated devices, its exit statuses
# (0 translated, 1 prepare/verification/translation failed, 2 usage) and
# its --json shape.
#   cli_offload_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR BPF_DIR
set -u
bpfkit=$1 shared=$2 examples=$3 bpf_dir=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# A branch the bounds decide: r9 <= 0xff is never > 300.
cat >"$tmp/dead.s" <<'PROGRAM'
r0 = 0
r9 = *(u32 *)(r1 + 16)
r9 &= 0xff
if r9 > 300 goto dead
r0 = 2
exit
dead:
r0 = 1
exit
PROGRAM

check sim 0 "device sim: program state xlated, opt_failed yes" -- "$bpfkit" offload "$tmp/dead.s" --device sim
check_that sim-trace grep -q "replace_insn 3 0500000000000000  (not delivered" "$tmp/stdout"
check_that sim-xlated grep -q "     3: b700000002000000  r0 = 0x2" "$tmp/stdout"
check strict 0 "device strict: program state xlated, opt_failed no" -- "$bpfkit" offload "$tmp/dead.s" --device strict
check_that strict-removes grep -q "  remove_insns 6 count 2" "$tmp/stdout"

check host 0 "device host: program state translated, opt_failed no" -- "$bpfkit" offload "$tmp/dead.s" --device host

# --json: the hook list in the kernel's order, the xlated program.
check json 0 '{"verdict":"accepted","device":"strict","device_state":"xlated","opt_failed":false,"hooks":[{"op":"prepare"},{"op":"insn_hook","insn":0,"prev":-1},' \
  -- "$bpfkit" offload "$tmp/dead.s" --device strict --json
check_that json-is-json is_json "$tmp/stdout"
check_that json-rewrites grep -q '{"op":"finalize"},{"op":"replace_insn","off":3,"insn":"0500000000000000"},{"op":"remove_insns","off":6,"cnt":2},{"op":"remove_insns","off":3,"cnt":1},{"op":"translate"},{"op":"destroy"}],"xlated":\["b700000000000000","6119100000000000","57090000ff000000","b700000002000000","9500000000000000"\]' "$tmp/stdout"

# netdevsim's switches.
check bind-accept 1 "rejected (EOPNOTSUPP): prepare: bind_accept is off" \
  -- "$bpfkit" offload "$tmp/dead.s" --device sim --no-bind-accept
check_that no-destroy bash -c "! grep -q destroy '$tmp/stdout'"
printf 'r0 = *(u32 *)(r1 + 16)\nexit\n' >"$tmp/short.s"
check verifier-accept 1 "rejected (EOPNOTSUPP) at insn 1: verifier_accept is off" \
  -- "$bpfkit" offload "$tmp/short.s" --device sim --no-verifier-accept
check_that hello grep -q "Hello from sim!" "$tmp/stdout"
check_that destroy-after-prepare grep -q "^  destroy" "$tmp/stdout"
check verifier-delay 0 "accepted" -- "$bpfkit" offload "$tmp/short.s" --device sim --verifier-delay 5

# The strict device refuses what it cannot run; sim refuses maps it cannot hold.
printf 'call 5\nr0 = 0\nexit\n' >"$tmp/ktime.s"
check strict-helper 1 "helper 5 (bpf_ktime_get_ns) is not supported by the device" \
  -- "$bpfkit" offload "$tmp/ktime.s" --device strict --json
check_that strict-errno grep -q '"errno":"EOPNOTSUPP","error":{"stage":"verify","pc":0' "$tmp/stdout"
if [ -f "$bpf_dir/maps.o" ]; then  # built where clang-19 is installed
  check sim-map 1 "rejected (ENOMEM): map_alloc: map 'counts'" -- "$bpfkit" offload "$bpf_dir/maps.o" --device sim
fi

# Usage: exit 2.
check_err no-device 2 "--device" -- "$bpfkit" offload "$tmp/dead.s"
check_err bad-device 2 "--device" -- "$bpfkit" offload "$tmp/dead.s" --device nfp
check_err socket-type 2 "only xdp and tc programs can be offloaded" -- "$bpfkit" offload "$tmp/dead.s" --device sim --type socket
check_err strict-switch 2 "sim's switches" -- "$bpfkit" offload "$tmp/dead.s" --device strict --no-bind-accept
check_err missing-file 2 "cannot open" -- "$bpfkit" offload "$tmp/none.s" --device sim

summary cli_offload
