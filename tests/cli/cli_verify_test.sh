#!/usr/bin/env bash
# End to end: `bpfkit verify` on each kind of input, its exit statuses
# (0 accepted, 1 rejected, 2 usage) and its --json shape.
#   cli_verify_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# Inputs: assembly, hex, raw bytes, a conformance test.
check accepted-asm 0 "accepted" -- "$bpfkit" verify "$examples/factorial.s"
check accepted-hex 0 "accepted" -- "$bpfkit" verify "$examples/answer.hex"
printf '\xb7\x00\x00\x00\x07\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' >"$tmp/seven.bin"
check accepted-bin 0 "accepted" -- "$bpfkit" verify "$tmp/seven.bin"
check accepted-data 0 "accepted" -- "$bpfkit" verify "$shared/conformance/tests/mem-len.data"

# The first pass, in the kernel's words.
printf 'ja -1\nexit\n' >"$tmp/unreachable.s"
check unreachable 1 "rejected (EINVAL) at insn 1: unreachable insn 1" -- "$bpfkit" verify "$tmp/unreachable.s"
printf 'r0 = 0\n' >"$tmp/falls-off.s"
check falls-off 1 "last insn is not an exit or jmp" -- "$bpfkit" verify "$tmp/falls-off.s"
printf 'b7 00 00 00 00 00 00 00\n05 00 05 00 00 00 00 00\n95 00 00 00 00 00 00 00\n' >"$tmp/out-of-range.hex"
check out-of-range 1 "jump out of range from insn 1 to 7" -- "$bpfkit" verify "$tmp/out-of-range.hex"
printf '05 00 01 00 00 00 00 00\n18 00 00 00 00 00 00 00\n00 00 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n' \
  >"$tmp/skips-lddw.hex"
check skips-lddw 1 "unreachable insn 1" -- "$bpfkit" verify "$tmp/skips-lddw.hex"

# --json: one object, the fields that apply.
check json-accepted 0 '{"verdict":"accepted","processed_insns":2,' -- "$bpfkit" verify "$examples/answer.hex" --json
check json-rejected 1 '{"verdict":"rejected","errno":"EINVAL","error":{"pc":1,"message":"unreachable insn 1"}' \
  -- "$bpfkit" verify "$tmp/unreachable.s" --json
check_that json-is-json is_json "$tmp/stdout"
check stats 0 "processed 2 insns (limit 1000000)" -- "$bpfkit" verify "$examples/answer.hex" --stats

# Usage: exit 2.
check_err missing-file 2 "cannot open" -- "$bpfkit" verify "$tmp/none.s"
check_err bad-type 2 "--type" -- "$bpfkit" verify "$examples/answer.hex" --type kprobe
check_err bad-profile 2 "--profile" -- "$bpfkit" verify "$examples/answer.hex" --profile user
check_err bad-mem-size 2 "--mem-size" -- "$bpfkit" verify "$examples/answer.hex" --mem-size -1
check_err section-on-raw 2 "--section and --function choose a program of an eBPF object" \
  -- "$bpfkit" verify "$examples/answer.hex" --section xdp
printf 'r0 = \n' >"$tmp/syntax.s"
check_err syntax 2 "syntax.s:1" -- "$bpfkit" verify "$tmp/syntax.s"

# The second pass, and run --verify: the raw type's buffer is --mem-size bytes.
printf 'r0 = *(u64 *)(r1 + 8)\nexit\n' >"$tmp/past-buffer.s"
check past-buffer 1 "invalid access to memory, mem_size=4 off=8 size=8" -- "$bpfkit" verify "$tmp/past-buffer.s" --mem-size 4
check in-buffer 0 "accepted" -- "$bpfkit" verify "$tmp/past-buffer.s" --mem-size 16
check_err run-verify-refuses 1 "verifier: invalid access to memory, mem_size=4 off=8 size=8 (EACCES)" \
  -- "$bpfkit" run "$tmp/past-buffer.s" --mem-size 4 --verify
check run-verify-runs 0 "0x0" -- "$bpfkit" run "$tmp/past-buffer.s" --mem-size 16 --verify
printf 'r0 = r10\nexit\n' >"$tmp/leak.s"
check leak-root 0 "accepted" -- "$bpfkit" verify "$tmp/leak.s" --type socket
check leak-bpf 1 "R0 leaks addr as return value" -- "$bpfkit" verify "$tmp/leak.s" --type socket --profile bpf
check log-level 1 "R0 leaks addr" -- "$bpfkit" verify "$tmp/leak.s" --type socket --profile bpf --log-level 2
check_that log-on-stderr grep -q "0: (0xbf) mov64_reg" "$tmp/stderr"

# --xlated: the program as the kernel rewrites it (dead branch hard-wired and removed, `goto +0` dropped).
printf 'r9 = *(u64 *)(r10 - 8)\nr9 &= 0xff\nif r9 > 300 goto +3\nr0 = 1\ngoto +0\nexit\nr0 = 2\nexit\n' >"$tmp/dead.s"
check xlated 0 "     3: 9500000000000000  exit" -- "$bpfkit" verify "$tmp/dead.s" --type socket --xlated
check_that xlated-shrunk bash -c "! grep -q '^     4:' '$tmp/stdout'"
check xlated-json 0 '"xlated":["79a9f8ff00000000","57090000ff000000","b700000001000000","9500000000000000"]' \
  -- "$bpfkit" verify "$tmp/dead.s" --type socket --xlated --json
sed 's/r9 = \*(u64 \*)(r10 - 8)/r9 = *(u32 *)(r1 + 0)/' "$tmp/dead.s" >"$tmp/dead-ctx.s"
check xlated-bpf 0 "     3: 9500000000000000  exit" -- "$bpfkit" verify "$tmp/dead-ctx.s" --type socket --profile bpf --xlated

summary cli_verify
