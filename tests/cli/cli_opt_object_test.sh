#!/usr/bin/env bash
# End to end: `bpfkit opt prog.o -o out.o` writes the object again with every
# function optimised; the output runs and verifies as the input did (bpfkit),
# and loads in the system's libbpf and kernel where the input did.
#   cli_opt_object_test.sh BPFKIT BPF_TEST_DIR
set -u
bpfkit=$1 objects=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"
here=$(dirname "$0")

if [ ! -f "$objects/subprogs.o" ]; then
  echo "SKIP: no compiled BPF test programs in $objects (clang-19)"
  exit 0
fi

# Every program of the object, as "section function" lines.
programs() { "$bpfkit" objdump "$1" | sed -n '/^Programs:/,/^$/p' | awk 'NR > 1 && NF >= 2 {print $1, $2}'; }

# `run --dump-maps` and `verify` give the same output for every program.
same_behaviour() {
  local a=$1 b=$2 bad=0 sec fn cmd
  while read -r sec fn; do
    for cmd in run verify; do
      local flags="--function $fn"  # verify takes --section or --function, not both
      [ "$cmd" = run ] && flags="--dump-maps --mem-size 64 --section $sec --function $fn"
      ra=$("$bpfkit" $cmd $flags "$a" 2>&1 | sed "s|$a|FILE|g; s|pc [0-9]*|pc N|g; s|insn [0-9]*|insn N|g")
      rb=$("$bpfkit" $cmd $flags "$b" 2>&1 | sed "s|$b|FILE|g; s|pc [0-9]*|pc N|g; s|insn [0-9]*|insn N|g")
      if [ "$ra" != "$rb" ] || [[ "$ra" == *"--help"* ]] || [[ "$ra" == *"no program matches"* ]]; then
        echo "  $cmd $sec/$fn: before: $(echo "$ra" | head -2 | tr '\n' '|') after: $(echo "$rb" | head -2 | tr '\n' '|')"
        bad=$((bad + 1))
      fi
    done
  done < <(programs "$a")
  [ "$bad" -eq 0 ]
}

# -O2 on every object; -O0 on a few (object_rewrite_test reads every object
# back at both levels in process).
for name in subprogs maps global_data data_pointers compute tc_rewrite map_kinds; do
  check "opt-object-$name-O2" 0 "" -- "$bpfkit" opt -O2 "$objects/$name.o" -o "$tmp/$name.2.o"
  check_that "opt-object-$name-O2-same" same_behaviour "$objects/$name.o" "$tmp/$name.2.o"
done
for name in subprogs global_data compute; do
  check "opt-object-$name-O0" 0 "" -- "$bpfkit" opt -O0 "$objects/$name.o" -o "$tmp/$name.0.o"
  check_that "opt-object-$name-O0-same" same_behaviour "$objects/$name.o" "$tmp/$name.0.o"
done

# .BTF.ext moves to the new code, with a note; --stats counts the rewritten functions.
check_err opt-object-btf-ext-note 0 "note: moved .BTF.ext to the new code: 1 func_info" -- \
  "$bpfkit" opt "$objects/maps.o" -o "$tmp/m.o"

# CO-RE: the relocations are kept, their rows unchanged, so the output
# follows any target BTF as the input does (tests/bpf/core_target_*.c: every
# field moved, fields missing); --btf resolves them for one kernel instead.
check_err opt-core-kept 0 "its CO-RE records, 22 read: 22 written" -- \
  "$bpfkit" opt "$objects/core_read.o" -o "$tmp/core.o"
check opt-core-listed 0 "tracepoint/core/bitfield insn 2     byte_sz" -- "$bpfkit" objdump "$tmp/core.o"
printf '\0\0\0\0\0\0\0\0abcdef\0\0\0\0\0\0\0\0\0\0\x40\xe2\x01\0\x92\x10\0\0\x4d\0\0\0\xb1\x0f\0\0\x63\0\0\0\0\0\0\0' \
  >"$tmp/task"
same_on_targets() {
  local bad=0 sec target a b
  for target in core_target_moved core_target_missing; do
    for sec in $("$bpfkit" objdump "$1" | awk '/^CO-RE relocations/ {on = 1; next} on && NF {print $1} on && !NF {on = 0}' | sort -u); do
      a=$("$bpfkit" run "$1" --section "$sec" --btf "$objects/$target.o" --mem "$tmp/task" 2>&1 | tail -1 | sed 's/.*: //')
      b=$("$bpfkit" run "$2" --section "$sec" --btf "$objects/$target.o" --mem "$tmp/task" 2>&1 | tail -1 | sed 's/.*: //')
      [ "$a" = "$b" ] || { echo "  $sec against $target: $a, after opt: $b"; bad=$((bad + 1)); }
    done
  done
  [ "$bad" -eq 0 ]
}
check_that opt-core-same-on-every-target same_on_targets "$objects/core_read.o" "$tmp/core.o"
check "opt-core-O0" 0 "" -- "$bpfkit" opt -O0 "$objects/core_read.o" -o "$tmp/core0.o"
check_that opt-core-O0-same-on-every-target same_on_targets "$objects/core_read.o" "$tmp/core0.o"
check_err opt-core-resolved 0 "22 resolved for one kernel (that code runs only there)" -- \
  "$bpfkit" opt "$objects/core_read.o" --btf "$objects/core_target_moved.o" -o "$tmp/core_moved.o"
check opt-core-resolved-runs 0 "0x1092" -- \
  "$bpfkit" run "$tmp/core_moved.o" --section tracepoint/core/tgid --mem "$tmp/task"
check opt-object-stats 0 "instructions: 23 before, 23 after" -- "$bpfkit" opt -O0 "$objects/subprogs.o" -o "$tmp/s.o" --stats
# --section / --function optimise one program; the others keep their code.
check opt-object-section 0 "instructions: 14 before" -- "$bpfkit" opt -O0 "$objects/subprogs.o" --section xdp -o "$tmp/s1.o" --stats
check_that opt-object-section-same same_behaviour "$objects/subprogs.o" "$tmp/s1.o"
check_err opt-object-bad-section 2 "no program matches" -- "$bpfkit" opt "$objects/subprogs.o" --section nosuch -o "$tmp/s2.o"
# The output is an object again: optimising it twice works.
check opt-object-twice 0 "" -- "$bpfkit" opt "$tmp/subprogs.2.o" -o "$tmp/twice.o"
check_that opt-object-twice-same same_behaviour "$objects/subprogs.o" "$tmp/twice.o"

# Instrumentation: count-insns keeps a counter in global data it adds
# (.data.bpfkit_insns); after a run it holds the original's executed
# instructions, as `run --stats` counts them (every function counts its own).
counted() { "$bpfkit" run --dump-maps "$1" | awk '/^map .data.bpfkit_insns/{getline; print $2}'; }
for name in subprogs global_data compute maps; do
  want=$("$bpfkit" run --stats "$objects/$name.o" 2>/dev/null | sed -n 's/^instructions: //p')
  check_err "count-insns-$name" 0 "added global data '.data.bpfkit_insns'" -- \
    "$bpfkit" opt --passes count-insns "$objects/$name.o" -o "$tmp/count.$name.o"
  want_hex=$(printf '%016x' "${want:-0}" | sed 's/\(..\)/\1 /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}')
  check_that "count-insns-$name-counts" test -n "$want" -a "$(counted "$tmp/count.$name.o")" = "$want_hex"
done
# block-hits: a record per block (first slot, hits) in .data.bpfkit_block_hits.
check opt-block-hits 0 "" -- "$bpfkit" opt --passes block-hits "$objects/global_data.o" -o "$tmp/hits.o"
check block-hits-runs 0 "00000000: 00000000000000000100000000000000" -- "$bpfkit" run --dump-maps "$tmp/hits.o"
check_err block-hits-one-function 1 "choose one with --section or --function" -- \
  "$bpfkit" opt --passes block-hits "$objects/compute.o" -o "$tmp/hits2.o"

# Per program "FUNCS LINES" before and after: the same functions, and
# every program that had lines has some.
lines_kept() {
  local before=$1 after=$2
  [ -n "$before" ] && [ "$(echo "$before" | wc -l)" = "$(echo "$after" | wc -l)" ] || return 1
  paste -d' ' <(echo "$before") <(echo "$after") | awk '$1 != $3 || ($2 > 0 && ($4 == 0 || $4 > $2)) {bad = 1} END {exit bad}'
}

# libbpf and the kernel: the output loads wherever the input loaded.
if command -v python3 >/dev/null && python3 "$here/libbpf_load.py" "$objects/maps.o" >"$tmp/probe" 2>/dev/null &&
  grep -q ': 0$' "$tmp/probe"; then
  for name in maps compute tc_rewrite kfunc_call ksym_var core_task; do
    before=$(python3 "$here/libbpf_load.py" "$objects/$name.o" 2>/dev/null | sed 's/.*: //')
    "$bpfkit" opt -O2 "$objects/$name.o" -o "$tmp/k.$name.o" 2>/dev/null
    check_that "libbpf-loads-$name-O2" test "$before" = \
      "$(python3 "$here/libbpf_load.py" "$tmp/k.$name.o" 2>/dev/null | sed 's/.*: //')"
    # The kernel took each program's func_info and line_info as moved:
    # as many functions as before, and lines (fewer: some instructions went).
    info_before=$(python3 "$here/libbpf_load.py" --lines "$objects/$name.o" 2>/dev/null | sed -n 's/.*func_info \([0-9]*\) line_info \([0-9]*\)/\1 \2/p')
    info_after=$(python3 "$here/libbpf_load.py" --lines "$tmp/k.$name.o" 2>/dev/null | sed -n 's/.*func_info \([0-9]*\) line_info \([0-9]*\)/\1 \2/p')
    check_that "libbpf-line-info-$name-O2" lines_kept "$info_before" "$info_after"
    # The kernel takes the counters' atomic adds into global data.
    "$bpfkit" opt --passes count-insns "$objects/$name.o" -o "$tmp/kc.$name.o" 2>/dev/null
    check_that "libbpf-loads-$name-count-insns" test "$before" = \
      "$(python3 "$here/libbpf_load.py" "$tmp/kc.$name.o" 2>/dev/null | sed 's/.*: //')"
  done
else
  echo "SKIP libbpf: libbpf.so.1 or bpf() unavailable"
fi

summary cli_opt_object
