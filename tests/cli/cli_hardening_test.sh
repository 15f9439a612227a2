#!/usr/bin/env bash
# The command line against hostile input (issue 16): every run bounded in
# memory and time (guarded), every failure a clear error with exit 1 or 2,
# no output lost, JSON that always parses.
#   cli_hardening_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"
elfs=$shared/sbpf/elfs

# ---- --json with bytes that are not UTF-8 (no abort: exit 1 or 2, a JSON line).
printf '01 \xff\xfe\n' >"$tmp/bad-token.hex"
check json-bad-token 2 '"code":"bad_operand"' -- guarded "$bpfkit" run "$tmp/bad-token.hex" --json
check_that json-bad-token-parses is_json "$tmp/stdout"
check json-bad-file-name 2 '"code":"io"' -- guarded "$bpfkit" run "$tmp/missing-$(printf '\xff').s" --json
check_that json-bad-file-name-parses is_json "$tmp/stdout"
printf '.section "prog\xff","ax",@progbits\nr0 = 1\nexit\n' >"$tmp/section-name.s"
check asm-section-name 0 "" -- guarded "$bpfkit" asm "$tmp/section-name.s" -o "$tmp/section-name.o"
check json-section-name 0 '"name":"prog' -- guarded "$bpfkit" objdump "$tmp/section-name.o" --json
check_that json-section-name-parses is_json "$tmp/stdout"
printf 'r0 = 1\n\xff\xfe\nexit\n' >"$tmp/bad-char.s"
check json-asm-errors 2 '"errors":[' -- guarded "$bpfkit" asm "$tmp/bad-char.s" -o "$tmp/bad-char.o" --json
check_that json-asm-errors-parse is_json "$tmp/stdout"
# trace_printk("\xff\xfe\n") from the guest.
printf 'r1 = 0x0afeff\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 4\ncall 6\nr0 = 0\nexit\n' >"$tmp/print-bytes.s"
check json-guest-output 0 '"output":"' -- guarded "$bpfkit" run "$tmp/print-bytes.s" --json
check_that json-guest-output-parses is_json "$tmp/stdout"
# An sBPF symbol name that is not UTF-8 ("entryp\x90int", as issue 15 found):
# objdump --json aborted on it (exit 134).
cp "$elfs/relative_call_sbpfv0.so" "$tmp/bad-symbol.so"
at=$(grep -obUaP 'entrypoint\x00' "$tmp/bad-symbol.so" | tail -1 | cut -d: -f1)
printf '\x90' | dd of="$tmp/bad-symbol.so" bs=1 seek=$((at + 6)) conv=notrunc status=none
check json-symbol-name 0 '"name":"entryp' -- guarded "$bpfkit" objdump "$tmp/bad-symbol.so" --json --symbol-labels
check_that json-symbol-name-parses is_json "$tmp/stdout"
check json-symbol-name-default 0 '"format":"sbpf"' -- guarded "$bpfkit" objdump "$tmp/bad-symbol.so" --json
check_that json-symbol-name-default-parses is_json "$tmp/stdout"
check json-symbol-name-disasm 0 "function_sum" -- guarded "$bpfkit" disasm "$tmp/bad-symbol.so"
check json-symbol-name-run 0 '"r0"' -- guarded "$bpfkit" run "$tmp/bad-symbol.so" --json --symbol-labels --mem-hex 01
check_that json-symbol-name-run-parses is_json "$tmp/stdout"

# ---- Counts: a negative or too large budget is refused, never "no limit".
printf 'loop:\nja loop\nexit\n' >"$tmp/loop.s"
for budget in -1 -5 99999999999999999999999 1x ''; do
  check_err "budget '$budget'" 2 "--budget: '$budget' is not a whole number" \
    -- guarded "$bpfkit" run "$tmp/loop.s" --budget "$budget"
done
check_err cu-negative 2 "--cu: '-1' is not a whole number" -- guarded "$bpfkit" run "$elfs/strict_header.so" --cu -1
check_err mem-size-negative 2 "--mem-size: '-1' is not a whole number" \
  -- guarded "$bpfkit" run "$examples/answer.hex" --mem-size -1
check budget-json 2 '"code":"bad_operand"' -- guarded "$bpfkit" run "$tmp/loop.s" --budget -1 --json
check budget-zero 1 '"code":"budget_exceeded"' -- guarded "$bpfkit" run "$tmp/loop.s" --budget 0 --json
check budget-max 0 "0x2a" -- guarded "$bpfkit" run "$examples/answer.hex" --budget 18446744073709551615

# ---- asm -o replaces the file whole or not at all.
for i in $(seq 200); do echo "r0 += $i"; done >"$tmp/big.s"
echo exit >>"$tmp/big.s"
printf 'OLD' >"$tmp/out.o"
check_err asm-write-fails 2 "out.o: cannot write: File too large" \
  -- bash -c 'ulimit -f 1; exec "$0" asm "$1" -o "$2"' "$bpfkit" "$tmp/big.s" "$tmp/out.o"
check_that asm-old-file-kept [ "$(cat "$tmp/out.o")" = OLD ]
check_that asm-no-temporary-left [ "$(ls -A "$tmp" | grep -c '^\.out\.o\.')" = 0 ]
check asm-replaces 0 "" -- guarded "$bpfkit" asm "$tmp/big.s" -o "$tmp/out.o"
check_that asm-replaced [ "$(head -c 4 "$tmp/out.o" | od -An -c | tr -d ' ')" = '177ELF' ]
chmod 0640 "$tmp/out.o"
check asm-keeps-mode 0 "" -- guarded "$bpfkit" asm "$examples/factorial.s" -o "$tmp/out.o"
check_that asm-kept-mode [ "$(stat -c %a "$tmp/out.o")" = 640 ]

# ---- Read once: pipes, /dev/stdin and FIFOs; a directory is an error.
check stdin-run 0 "0x2a" -- bash -c 'exec "$0" run /dev/stdin <"$1"' "$bpfkit" "$examples/answer.hex"
check pipe-run 0 "0x2a" -- bash -c 'cat "$1" | "$0" run /dev/stdin' "$bpfkit" "$examples/answer.hex"
check pipe-disasm 0 "r0 = 0x2a" -- bash -c 'cat "$1" | "$0" disasm /dev/stdin' "$bpfkit" "$examples/answer.hex"
check pipe-asm 0 "" -- bash -c 'cat "$1" | "$0" asm /dev/stdin -o "$2"' "$bpfkit" "$examples/factorial.s" "$tmp/piped.bin"
check pipe-asm-runs 0 "0x21c3677c82b40000" -- guarded "$bpfkit" run "$tmp/piped.bin"
: >"$tmp/empty.bin"
check pipe-so 0 "0x2a" -- bash -c 'cat "$1" | "$0" run /dev/stdin --input "$2"' "$bpfkit" "$elfs/strict_header.so" "$tmp/empty.bin"
mkfifo "$tmp/fifo.hex"
(cat "$examples/answer.hex" >"$tmp/fifo.hex" &)
check fifo-run 0 "0x2a" -- guarded "$bpfkit" run "$tmp/fifo.hex"
mkdir "$tmp/dir.s"
for command in run disasm objdump; do
  check_err "directory-$command" 2 "dir.s: cannot read file: Is a directory" -- guarded "$bpfkit" $command "$tmp/dir.s"
done
check_err directory-asm 2 "dir.s: cannot read file: Is a directory" -- guarded "$bpfkit" asm "$tmp/dir.s" -o "$tmp/dir.o"
check_that directory-asm-wrote-nothing [ ! -e "$tmp/dir.o" ]
check_err directory-mem 2 "dir.s: cannot read file: Is a directory" \
  -- guarded "$bpfkit" run "$examples/sum-bytes.s" --mem "$tmp/dir.s"

# ---- Output is never dropped: raw, hex, assembly, .data, objects; faults too.
print_hi='r1 = 0x0a6968\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 4\ncall 6\n'
printf "${print_hi}r0 = 7\nexit\n" >"$tmp/hi.s"
printf "${print_hi}r0 = *(u32 *)(r0 + 0)\nexit\n" >"$tmp/hi-fault.s"
check_err output-asm 0 "hi" -- guarded "$bpfkit" run "$tmp/hi.s"
check output-asm-json 0 '{"r0":"0x7","instructions":8,"output":"hi\n"}' -- guarded "$bpfkit" run "$tmp/hi.s" --json
check_err output-before-fault 1 "hi" -- guarded "$bpfkit" run "$tmp/hi-fault.s"
check output-before-fault-json 1 '"pc":6},"output":"hi\n"}' -- guarded "$bpfkit" run "$tmp/hi-fault.s" --json
check asm-hi-hex 0 "" -- guarded "$bpfkit" asm "$tmp/hi.s" -o "$tmp/hi.hex"
check_err output-hex 0 "hi" -- guarded "$bpfkit" run "$tmp/hi.hex"
check asm-hi-bin 0 "" -- guarded "$bpfkit" asm "$tmp/hi.s" -o "$tmp/hi.bin"
check output-bin-json 0 '"output":"hi\n"' -- guarded "$bpfkit" run "$tmp/hi.bin" --json
printf -- '-- asm\nmov %%r1, 0x0a6968\nstxdw [%%r10-8], %%r1\nmov %%r1, %%r10\nadd %%r1, -8\nmov %%r2, 4\ncall 6\nexit\n-- result\n0x3\n' >"$tmp/hi.data"
check_err output-data 0 "hi" -- guarded "$bpfkit" run "$tmp/hi.data"
printf ".section xdp,\"ax\",@progbits\n.globl prog\n.type prog,@function\nprog:\n${print_hi}r0 = *(u32 *)(r0 + 0)\nexit\n.size prog, .-prog\n" >"$tmp/hi-object.s"
check asm-hi-object 0 "" -- guarded "$bpfkit" asm "$tmp/hi-object.s" -o "$tmp/hi-object.o"
check_err output-object-fault 1 "hi" -- guarded "$bpfkit" run "$tmp/hi-object.o"
check output-object-fault-json 1 '"output":"hi\n"' -- guarded "$bpfkit" run "$tmp/hi-object.o" --json
# (`log` costs what sol_log_ does: 100 units after the first three instructions.)
check output-sbpf-fault-json 1 '"compute_units":104},"log":"log: foo' \
  -- guarded "$bpfkit" run "$elfs/syscall_static.so" --cu 104 --input "$tmp/empty.bin" --json
check_err output-sbpf-fault 1 "log: foo" -- guarded "$bpfkit" run "$elfs/syscall_static.so" --cu 104 --input "$tmp/empty.bin"

# ---- Options that do not apply to the input, or conflict, are refused.
check_err cu-on-assembly 2 "hi.s: --cu does not apply to an assembly program" \
  -- guarded "$bpfkit" run "$tmp/hi.s" --cu 10
check_err section-on-so 2 "--section does not apply to an sBPF shared object" \
  -- guarded "$bpfkit" run "$elfs/strict_header.so" --section .text
check_err input-on-object 2 "--input does not apply to an eBPF object" \
  -- guarded "$bpfkit" run "$tmp/hi-object.o" --input "$examples/answer.hex"
check_err deploy-checks-on-hex 2 "--deploy-checks does not apply to a hex program" \
  -- guarded "$bpfkit" run "$examples/answer.hex" --deploy-checks
check_err dump-maps-on-so 2 "--dump-maps does not apply" -- guarded "$bpfkit" run "$elfs/strict_header.so" --dump-maps
check_err budget-and-cu 2 "excludes" -- guarded "$bpfkit" run "$elfs/strict_header.so" --budget 5 --cu 5
check_err input-and-mem-size 2 "excludes" \
  -- guarded "$bpfkit" run "$elfs/strict_header.so" --input "$examples/answer.hex" --mem-size 4
check misuse-json 2 '"code":"bad_operand"' -- guarded "$bpfkit" run "$tmp/hi.s" --cu 10 --json

# ---- One exit status for one kind of bad input; messages name the file.
printf '\xb7\x00\x00' >"$tmp/short.bin"
printf 'b7 00 00\n' >"$tmp/short.hex"
printf 'b7 0\n' >"$tmp/odd.hex"
: >"$tmp/empty.bin"
check_err truncated-bin 2 "short.bin: 0x0: program size 3 is not a multiple of 8 bytes" \
  -- guarded "$bpfkit" run "$tmp/short.bin"
check_err truncated-hex 2 "short.hex: 0x0: program size 3" -- guarded "$bpfkit" run "$tmp/short.hex"
check_err odd-hex 2 "odd.hex:1:4: odd number of hex digits" -- guarded "$bpfkit" run "$tmp/odd.hex"
check_err empty-bin 1 "empty.bin: " -- guarded "$bpfkit" run "$tmp/empty.bin"
check_err rejected-opcode 1 "pc 0: unknown opcode 0xff" \
  -- bash -c 'printf "ff 00 00 00 00 00 00 00\n" | "$0" run /dev/stdin' "$bpfkit"

summary cli_hardening
