#!/usr/bin/env bash
# End-to-end tests of CO-RE (issue 14): `objdump` lists an object's CO-RE
# relocations and, with --btf, what each becomes; `run` and `verify`
# resolve them against --btf (tests/bpf/core_target_*.c: fields moved, a
# field missing, ambiguous flavors) or the running kernel's BTF.
#   cli_core_test.sh BPFKIT BPF_OBJECT_DIR
set -u
bpfkit=$1 objects=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

if [ -z "$objects" ] || [ ! -f "$objects/core_read.o" ]; then
  echo "SKIP: the BPF test programs are not built (clang-19)"
  summary cli_core
  exit 0
fi
core=$objects/core_read.o moved=$objects/core_target_moved.o missing=$objects/core_target_missing.o
ambiguous=$objects/core_target_ambiguous.o
# struct task as core_target_moved.c lays it out: comm "abcdef" at 8,
# start_time 123456 at 24, tgid 4242 at 28, pid 77 at 32, extra 99 at 40.
printf '\0\0\0\0\0\0\0\0abcdef\0\0\0\0\0\0\0\0\0\0\x40\xe2\x01\0\x92\x10\0\0\x4d\0\0\0\xb1\x0f\0\0\x63\0\0\0\0\0\0\0' \
  >"$tmp/task"

check objdump-lists 0 "tracepoint/core/tgid     insn 0     byte_off       struct task              0:1        tgid" -- \
  "$bpfkit" objdump "$core"
check objdump-resolved 0 "tgid  -> 28 (was 4) in struct task 0:3" -- "$bpfkit" objdump "$core" --btf "$moved"
check objdump-resized 0 "start_time  -> 24 (was 8) in struct task 0:2, access 8 -> 4 bytes" -- \
  "$bpfkit" objdump "$core" --btf "$moved"
check objdump-poisoned 0 "extra  -> poisoned (call 0xbad2310): no candidate matches" -- \
  "$bpfkit" objdump "$core" --btf "$missing"
check objdump-ambiguous 0 "error: CO-RE relocation #0" -- "$bpfkit" objdump "$core" --btf "$ambiguous"
check objdump-json 0 '"target_access":"0:3"' -- "$bpfkit" objdump "$core" --btf "$moved" --json
check_that objdump-json-parses is_json "$tmp/stdout"
check_err objdump-btf-missing 2 "$tmp/nosuch: cannot open file" -- "$bpfkit" objdump "$core" --btf "$tmp/nosuch"

run_core() { "$bpfkit" run "$core" --mem "$tmp/task" "$@"; }
check run-moved 0 "0x1092" -- run_core --section tracepoint/core/tgid --btf "$moved"
check run-resized 0 "0x1e240" -- run_core --section tracepoint/core/start --btf "$moved"
check run-flavor 0 "0x1092" -- run_core --section tracepoint/core/flavor --btf "$moved"
check run-guarded 0 "0xffffffff" -- run_core --section tracepoint/core/guarded --btf "$missing"
check_err run-guarded-note 0 "is poisoned at pc 3" -- run_core --section tracepoint/core/guarded --btf "$missing"
check_err run-unguarded 1 "0xbad2310: an instruction CO-RE poisoned" -- \
  run_core --section tracepoint/core/unguarded --btf "$missing"
check_err run-unguarded-names 1 "CO-RE relocation #12 (byte_off of struct task 'extra') at insn 0" -- \
  run_core --section tracepoint/core/unguarded --btf "$missing"
check_err run-ambiguous 1 "field offset ambiguity: struct task___a has it at bit 32, struct task___b at bit 0" -- \
  run_core --section tracepoint/core/tgid --btf "$ambiguous"
check_err run-btf-missing 2 "$tmp/nosuch" -- run_core --section tracepoint/core/tgid --btf "$tmp/nosuch"
check_err run-btf-not-btf 1 "BTF magic 0x0, want 0xeb9f" -- run_core --section tracepoint/core/tgid --btf "$tmp/task"
check_err run-btf-raw 2 "--btf does not apply" -- "$bpfkit" run "$tmp/task" --btf "$moved"

check verify-guarded 0 "accepted" -- "$bpfkit" verify "$core" --section tracepoint/core/guarded --btf "$missing" --type raw \
  --mem-size 48
check verify-unguarded 1 "helper #195896080" -- "$bpfkit" verify "$core" --section tracepoint/core/unguarded \
  --btf "$missing" --type raw --mem-size 48

# The running kernel's BTF, the default target when there is one.
if [ -r /sys/kernel/btf/vmlinux ]; then
  check run-vmlinux 0 "0x0" -- "$bpfkit" run "$core" --section kprobe/core_kernel --mem-size 16384
  check objdump-vmlinux 0 "tgid  -> " -- "$bpfkit" objdump "$core" --btf /sys/kernel/btf/vmlinux
else
  echo "SKIP: /sys/kernel/btf/vmlinux is not there"
fi

summary cli_core
