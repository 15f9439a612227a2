#!/usr/bin/env bash
# End to end: `bpfkit opt` (-O0: lift and generate code again), `run --opt`
# and `plugin --opt`; conformance programs run after the round trip give
# their `-- result`.
#   cli_opt_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

# opt: the output has the kind its extension says; --stats counts.
check opt-hex 0 "" -- "$bpfkit" opt -O0 "$examples/factorial.s" -o "$tmp/factorial.hex"
check opt-hex-runs 0 "$("$bpfkit" run "$examples/factorial.s")" -- "$bpfkit" run "$tmp/factorial.hex"
check opt-bin 0 "" -- "$bpfkit" opt -O0 "$examples/answer.hex" -o "$tmp/answer.bin"
check opt-bin-runs 0 "0x2a" -- "$bpfkit" run "$tmp/answer.bin"
check opt-stats 0 "instructions: 2 before, 2 after" -- "$bpfkit" opt -O0 "$examples/answer.hex" -o "$tmp/a.bin" --stats
check opt-json 0 '"instructions_before":2' -- "$bpfkit" opt "$examples/answer.hex" -o "$tmp/a.bin" --json
check opt-print 0 "; after lift" -- "$bpfkit" opt -O0 "$examples/answer.hex" -o "$tmp/a.bin" --print-after-all
check_err opt-elf-needs-object 2 "needs an eBPF object input" -- "$bpfkit" opt "$examples/answer.hex" -o "$tmp/a.o"
check_err opt-bad-extension 2 "needs the extension .bin, .hex or .o" -- "$bpfkit" opt "$examples/answer.hex" -o "$tmp/a.txt"
check opt-passes 0 "" -- "$bpfkit" opt "$examples/factorial.s" -o "$tmp/passes.hex" --passes sccp,cse,dce,simplifycfg
check opt-passes-runs 0 "$("$bpfkit" run "$examples/factorial.s")" -- "$bpfkit" run "$tmp/passes.hex"
check opt-O2-runs 0 "$("$bpfkit" run "$examples/factorial.s")" -- "$bpfkit" run "$examples/factorial.s" --opt O2
printf 'r0 = 2\nr0 += 3\nr0 *= r0\nexit\n' > "$tmp/fold.s"
check opt-print-pass 0 "; after sccp on @main" -- "$bpfkit" opt -O2 "$tmp/fold.s" -o "$tmp/fold.hex" --print-after-all
check opt-folded 0 "instructions: 4 before, 2 after" -- "$bpfkit" opt -O2 "$tmp/fold.s" -o "$tmp/fold.hex" --stats
check opt-folded-runs 0 "0x19" -- "$bpfkit" run "$tmp/fold.hex"
check_err opt-unknown-pass 2 "unknown pass 'nosuch'" -- "$bpfkit" opt "$examples/answer.hex" -o "$tmp/a.bin" --passes dce,nosuch
check_err opt-bad-level 2 "-O" -- "$bpfkit" opt -O7 "$examples/answer.hex" -o "$tmp/a.bin"
check_err opt-missing 2 "" -- "$bpfkit" opt "$tmp/nope.bin" -o "$tmp/a.bin"

# run --opt and plugin --opt.
check run-opt 0 "0x2a" -- "$bpfkit" run --opt O0 "$examples/answer.hex"
check run-opt-bad 2 "" -- "$bpfkit" run --opt O9 "$examples/answer.hex"
check plugin-opt 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --opt O0"
check plugin-opt-mem 0 "0x8" -- sh -c "echo 'bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --opt O2 '00 00 00 01 00 00 00 02'"

# Conformance programs through the round trip give their results (every
# eighth file: the IR's tests run all 313 in process).
wrong=0 index=0
for data in "$shared"/conformance/tests/*.data; do
  index=$((index + 1))
  [ $((index % 8)) -eq 0 ] || continue
  want=$(awk '/^-- result/{getline; print $1; exit}' "$data")
  got=$("$bpfkit" run --opt O0 "$data" 2>&1)
  if [ "$(printf '%d' "$want" 2>/dev/null || echo x)" != "$(printf '%d' "$got" 2>/dev/null || echo y)" ]; then
    echo "FAIL conformance $(basename "$data"): want $want, got $got"
    wrong=$((wrong + 1))
  fi
done
check_that conformance-round-trip test "$wrong" -eq 0

summary cli_opt
