#!/usr/bin/env bash
# End to end: `bpfkit ir` (lift and print, --dot, --function) and
# `bpfkit ir --parse` (the same text back; line:col on invalid IR).
#   cli_ir_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

check lift-asm 0 "function @main origin 0 {" -- "$bpfkit" ir "$examples/factorial.s"
cp "$tmp/stdout" "$tmp/factorial.ir"
check lift-has-phis 0 "= phi [" -- cat "$tmp/factorial.ir"
check lift-data 0 "%0 = loadraw.u16 %arg1, 2  !0" -- "$bpfkit" ir "$shared/conformance/tests/ldxh.data"
check lift-sbpf 0 "dialect sbpf-v2" -- "$bpfkit" ir "$examples/answer.hex" --dialect sbpf-v2
check dot 0 "digraph \"main\"" -- "$bpfkit" ir "$examples/factorial.s" --dot
printf 'r1 = 3\ncall f\nexit\nf:\nr0 = r1\nexit\n' >"$tmp/calls.s"
check function 0 "function @fn_3 origin 3 {" -- "$bpfkit" ir "$tmp/calls.s" --function fn_3
check_err no-function 2 "no function nope" -- "$bpfkit" ir "$tmp/calls.s" --function nope

# --parse prints the same text back, from a file or stdin.
"$bpfkit" ir --parse "$tmp/factorial.ir" >"$tmp/again.ir"
check_that parse-same-text cmp -s "$tmp/factorial.ir" "$tmp/again.ir"
"$bpfkit" ir --parse - <"$tmp/factorial.ir" >"$tmp/stdin.ir"
check_that parse-stdin cmp -s "$tmp/factorial.ir" "$tmp/stdin.ir"
printf 'dialect linux\nfunction @f {\nb0:\n  ret %%9\n}\n' >"$tmp/bad.ir"
check_err parse-error 1 "bad.ir:4:7: no value %9" -- "$bpfkit" ir --parse "$tmp/bad.ir"
printf 'dialect linux\nfunction @f {\nb0:\n  %%0 = add.32 %%arg1, %%arg2\n  ret %%0\n}\n' >"$tmp/invalid.ir"
check_err invalid-ir 1 "needs zext or sext" -- "$bpfkit" ir --parse "$tmp/invalid.ir"
check_err missing-file 2 "none.s" -- "$bpfkit" ir "$tmp/none.s"

summary cli_ir
