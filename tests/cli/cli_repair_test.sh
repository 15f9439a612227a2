#!/usr/bin/env bash
# End to end: `bpfkit repair` on the refused programs of tests/bpf/repair.c
# (an object in, an object out; raw .bin, .hex and .s in and out): each
# round printed, the output verified by `bpfkit verify` and run; a refusal
# no repair answers leaves no output and exits 1; an accepted program is
# written unchanged.
#   cli_repair_test.sh BPFKIT BPF_TEST_DIR
set -u
bpfkit=$1 objects=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

if [ ! -f "$objects/repair.o" ]; then
  echo "SKIP: no compiled BPF test programs in $objects (clang-19)"
  exit 0
fi
o=$objects/repair.o

# An object in, the object out: the refusal, the fix, the verdict.
check obj-refused 1 "rejected (EACCES) at insn 16: invalid access to map value" -- \
  "$bpfkit" verify "$o" --function byte_index
check obj-repair 0 "fix: bound-index at insn 15 (scalar <= 56)" -- \
  "$bpfkit" repair "$o" --function byte_index -o "$tmp/byte.o"
check obj-repair-verdict 0 "round 2: accepted" -- "$bpfkit" repair "$o" --function byte_index -o "$tmp/byte.o"
check obj-repaired-verifies 0 "accepted" -- "$bpfkit" verify "$tmp/byte.o" --function byte_index
check obj-other-functions-kept 1 "rejected" -- "$bpfkit" verify "$tmp/byte.o" --function word_index
check obj-two-rounds 0 "round 3: accepted" -- "$bpfkit" repair "$o" --function unchecked_both -o "$tmp/both.o"
check obj-null-check 0 "fix: null-check at insn" -- "$bpfkit" repair "$o" --function unchecked_lookup -o "$tmp/null.o"
check obj-json 0 '"outcome":"repaired"' -- "$bpfkit" repair "$o" --function unchecked_both -o "$tmp/both.o" --json
check_that obj-json-valid is_json "$tmp/stdout"

# Unrepairable: the verifier's error as it gave it, nothing written, exit 1.
check obj-unrepairable 1 "rejected (EACCES) at insn 9: invalid access to map value, value_size=64 off=64 size=8" -- \
  "$bpfkit" repair "$o" --function past_the_end -o "$tmp/past.o"
check obj-unrepairable-says 1 "unrepairable: nothing written" -- \
  "$bpfkit" repair "$o" --function past_the_end -o "$tmp/past.o"
check_that obj-unrepairable-no-output test ! -e "$tmp/past.o"
check obj-out-of-rounds 1 "out-of-rounds" -- \
  "$bpfkit" repair "$o" --function unchecked_both -o "$tmp/rounds.o" --max-rounds 1

# Raw code (the raw type: r1 = a buffer of --mem-size bytes), in .s, .hex
# and .bin: buf[buf[0]] reads up to 255 bytes into a 16-byte buffer.
printf 'r2 = *(u8 *)(r1 + 0)\nr3 = r1\nr3 += r2\nr0 = *(u8 *)(r3 + 0)\nexit\n' >"$tmp/buf.s"
check asm-refused 1 "invalid access to memory, mem_size=16 off=255 size=1" -- \
  "$bpfkit" verify "$tmp/buf.s" --mem-size 16
check asm-repair 0 "fix: bound-index at insn 2 (scalar <= 15)" -- \
  "$bpfkit" repair "$tmp/buf.s" --mem-size 16 -o "$tmp/buf-fixed.hex"
check hex-repaired-verifies 0 "accepted" -- "$bpfkit" verify "$tmp/buf-fixed.hex" --mem-size 16
check hex-repair-to-bin 0 "accepted: $tmp/buf-fixed.bin written" -- \
  "$bpfkit" repair "$tmp/buf-fixed.hex" --mem-size 16 -o "$tmp/buf-fixed.bin"
check_that accepted-written-unchanged test "$("$bpfkit" disasm "$tmp/buf-fixed.bin")" = "$("$bpfkit" disasm "$tmp/buf-fixed.hex")"
check asm-repair-to-asm 0 "repaired" -- "$bpfkit" repair "$tmp/buf.s" --mem-size 16 -o "$tmp/buf-fixed.s"
check asm-repaired-verifies 0 "accepted" -- "$bpfkit" verify "$tmp/buf-fixed.s" --mem-size 16
# In bounds the byte read; past the buffer the bail value (--bail 7).
"$bpfkit" repair "$tmp/buf.s" --mem-size 16 --bail 7 -o "$tmp/bail.hex" >/dev/null
check run-in-bounds 0 "0x5" -- "$bpfkit" run --verify "$tmp/bail.hex" --mem-hex "03 00 00 05 00 00 00 00 00 00 00 00 00 00 00 00"
check run-out-of-bounds 0 "0x7" -- "$bpfkit" run --verify "$tmp/bail.hex" --mem-hex "10 00 00 05 00 00 00 00 00 00 00 00 00 00 00 00"
check bin-repair-bad-index 1 "no repair" -- "$bpfkit" repair "$tmp/buf.s" --mem-size 0 -o "$tmp/zero.bin"

# Usage errors.
check_err bad-extension 2 "needs the extension .bin, .hex, .s or .o" -- \
  "$bpfkit" repair "$tmp/buf.s" -o "$tmp/x.txt"
check_err object-needs-o 2 "written back as .o" -- "$bpfkit" repair "$o" --function byte_index -o "$tmp/x.bin"
check_err missing-input 2 "" -- "$bpfkit" repair "$tmp/nope.bin" -o "$tmp/x.bin"

summary cli_repair
