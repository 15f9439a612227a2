#!/usr/bin/env bash
# End-to-end tests of the bpfkit command line: inputs, outputs, --json shape,
# exit statuses and the conformance plugin protocol.
#   cli_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# check NAME EXPECTED_STATUS EXPECTED_STDOUT_SUBSTRING -- COMMAND...
check() {
  local name=$1 want_status=$2 want_out=$3
  shift 4
  local out status
  out=$("$@" 2>"$tmp/stderr")
  status=$?
  if [ "$status" -ne "$want_status" ] || [[ "$out" != *"$want_out"* ]]; then
    echo "FAIL $name: status $status (want $want_status), stdout: $out, stderr: $(cat "$tmp/stderr")"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}
# check_err NAME EXPECTED_STATUS EXPECTED_STDERR_SUBSTRING -- COMMAND...
check_err() {
  local name=$1 want_status=$2 want_err=$3
  shift 4
  "$@" >/dev/null 2>"$tmp/stderr"
  local status=$?
  if [ "$status" -ne "$want_status" ] || ! grep -qF -- "$want_err" "$tmp/stderr"; then
    echo "FAIL $name: status $status (want $want_status), stderr: $(cat "$tmp/stderr")"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}

# Inputs: assembly, hex, raw bytes, conformance .data (with its own memory).
check asm 0 "0x21c3677c82b40000" -- "$bpfkit" run "$examples/factorial.s"
check hex 0 "0x2a" -- "$bpfkit" run "$examples/answer.hex"
printf '\xb7\x00\x00\x00\x07\x00\x00\x00\x95\x00\x00\x00\x00\x00\x00\x00' >"$tmp/seven.bin"
check bin 0 "0x7" -- "$bpfkit" run "$tmp/seven.bin"
check data 0 "0x8" -- "$bpfkit" run "$shared/conformance/tests/mem-len.data"

# Memory: r1 = buffer, r2 = length.
check mem-hex 0 "0x100" -- "$bpfkit" run "$examples/sum-bytes.s" --mem-hex "01 02 03 fa"
printf '\x05\x06' >"$tmp/mem.bin"
check mem-file 0 "0xb" -- "$bpfkit" run "$examples/sum-bytes.s" --mem "$tmp/mem.bin"
check mem-size 0 "0x0" -- "$bpfkit" run "$examples/sum-bytes.s" --mem-size 64
check_err mem-too-large 2 "at most 4294967295 bytes" -- "$bpfkit" run "$examples/sum-bytes.s" --mem-size 4294967296
check_err mem-exclusive 2 "excludes" -- "$bpfkit" run "$examples/sum-bytes.s" --mem-size 4 --mem-hex "00"

# Output: --stats, --regs, --json.
check stats 0 "instructions: 2" -- "$bpfkit" run "$examples/answer.hex" --stats
check regs 0 "r10: 0x200001000" -- "$bpfkit" run "$examples/answer.hex" --regs
check json 0 '{"r0":"0x2a","instructions":2}' -- "$bpfkit" run "$examples/answer.hex" --json
check engine 0 "0x2a" -- "$bpfkit" run "$examples/answer.hex" --engine interp
check_err bad-engine 2 "engine" -- "$bpfkit" run "$examples/answer.hex" --engine nope

# Faults: exit 1, the error names the pc; --json gives the error object.
printf 'mov %%r1, 0\nldxw %%r0, [%%r1+0]\nexit\n' >"$tmp/null.s"
check_err fault 1 "pc 1: invalid read of 4 bytes at 0x0" -- "$bpfkit" run "$tmp/null.s"
check fault-json 1 '{"error":{"code":"access_violation","message":"invalid read of 4 bytes at 0x0 (no region mapped there)","pc":1}}' \
  -- "$bpfkit" run "$tmp/null.s" --json
printf 'loop:\nja loop\nexit\n' >"$tmp/loop.s"
check budget 1 '"code":"budget_exceeded"' -- "$bpfkit" run "$tmp/loop.s" --budget 1000 --json
printf 'ff 00 00 00 00 00 00 00\n' >"$tmp/badop.hex"
check_err bad-opcode 1 "pc 0: unknown opcode 0xff" -- "$bpfkit" run "$tmp/badop.hex"

# Bad input: exit 2 with file:line:col.
printf 'mov %%r0, 1\nfrobnicate %%r1\n' >"$tmp/syntax.s"
check_err syntax 2 "syntax.s:2:1: unknown mnemonic 'frobnicate'" -- "$bpfkit" run "$tmp/syntax.s"
check_err missing-file 2 "cannot open file" -- "$bpfkit" run "$tmp/does-not-exist.s"
printf '\xb7\x00\x00' >"$tmp/short.bin"
check_err truncated 1 "not a multiple of 8 bytes" -- "$bpfkit" run "$tmp/short.bin"
check_err no-subcommand 2 "" -- "$bpfkit"

# The bpf_conformance plugin protocol.
check plugin 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin"
check plugin-mem 0 "0x8" -- sh -c "echo 'bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin '00  00  00  01  00  00  00  02'"
check plugin-extra-options 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --interpret"
check plugin-fault 1 "invalid read" -- sh -c "echo '61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin"

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
