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
      local flags=""
      [ "$cmd" = run ] && flags="--dump-maps --mem-size 64"
      ra=$("$bpfkit" $cmd $flags "$a" --section "$sec" --function "$fn" 2>&1 | sed "s|$a|FILE|g; s|pc [0-9]*|pc N|g")
      rb=$("$bpfkit" $cmd $flags "$b" --section "$sec" --function "$fn" 2>&1 | sed "s|$b|FILE|g; s|pc [0-9]*|pc N|g")
      if [ "$ra" != "$rb" ]; then
        echo "  $cmd $sec/$fn: before: $(echo "$ra" | head -2 | tr '\n' '|') after: $(echo "$rb" | head -2 | tr '\n' '|')"
        bad=$((bad + 1))
      fi
    done
  done < <(programs "$a")
  [ "$bad" -eq 0 ]
}

for name in subprogs maps global_data data_pointers compute legacy_maps ringbuf tail_call tc_rewrite map_kinds xdp_parse; do
  for level in 0 2; do
    check "opt-object-$name-O$level" 0 "" -- "$bpfkit" opt -O$level "$objects/$name.o" -o "$tmp/$name.$level.o"
    check_that "opt-object-$name-O$level-same" same_behaviour "$objects/$name.o" "$tmp/$name.$level.o"
  done
done

# .BTF.ext goes with a note; --stats counts the rewritten functions.
check_err opt-object-btf-ext-note 0 "note: dropped .BTF.ext" -- "$bpfkit" opt "$objects/maps.o" -o "$tmp/m.o"
check opt-object-stats 0 "instructions: 23 before, 23 after" -- "$bpfkit" opt -O0 "$objects/subprogs.o" -o "$tmp/s.o" --stats
# --section / --function optimise one program; the others keep their code.
check opt-object-section 0 "instructions: 14 before" -- "$bpfkit" opt -O0 "$objects/subprogs.o" --section xdp -o "$tmp/s1.o" --stats
check_that opt-object-section-same same_behaviour "$objects/subprogs.o" "$tmp/s1.o"
check_err opt-object-bad-section 2 "no program matches" -- "$bpfkit" opt "$objects/subprogs.o" --section nosuch -o "$tmp/s2.o"
# The output is an object again: optimising it twice works.
check opt-object-twice 0 "" -- "$bpfkit" opt "$tmp/subprogs.2.o" -o "$tmp/twice.o"
check_that opt-object-twice-same same_behaviour "$objects/subprogs.o" "$tmp/twice.o"

# libbpf and the kernel: the output loads wherever the input loaded.
if command -v python3 >/dev/null && python3 "$here/libbpf_load.py" "$objects/maps.o" >"$tmp/probe" 2>/dev/null &&
  grep -q ': 0$' "$tmp/probe"; then
  for name in maps global_data compute ringbuf socket_filter tc_rewrite xdp_parse task_helpers; do
    for level in 0 2; do
      "$bpfkit" opt -O$level "$objects/$name.o" -o "$tmp/k.$name.$level.o" 2>/dev/null
      before=$(python3 "$here/libbpf_load.py" "$objects/$name.o" 2>/dev/null | sed 's/.*: //')
      after=$(python3 "$here/libbpf_load.py" "$tmp/k.$name.$level.o" 2>/dev/null | sed 's/.*: //')
      check_that "libbpf-loads-$name-O$level" test "$before" = "$after"
    done
  done
else
  echo "SKIP libbpf: libbpf.so.1 or bpf() unavailable"
fi

summary cli_opt_object
