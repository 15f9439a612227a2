#!/usr/bin/env bash
# End-to-end tests of the bpfkit command line: inputs, outputs, --json shape,
# exit statuses and the conformance plugin protocol.
#   cli_test.sh BPFKIT SHARED_DIR EXAMPLES_DIR
set -u
bpfkit=$1 shared=$2 examples=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/cli_lib.sh"

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
check engine-jit 0 "0x21c3677c82b40000" -- "$bpfkit" run "$examples/factorial.s" --engine jit
check engine-jit-mem 0 "0x100" -- "$bpfkit" run "$examples/sum-bytes.s" --mem-hex "01 02 03 fa" --engine jit
check engine-jit-stats 0 "instructions: 2" -- "$bpfkit" run "$examples/answer.hex" --stats --engine jit

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
check_err syntax 2 "syntax.s:2:1: unknown instruction" -- "$bpfkit" run "$tmp/syntax.s"

# bpfkit asm: .o, .bin and .hex outputs; every error with its caret.
printf '\t.text\nprog:\n\tr1 = my_map ll\n\tcall ext\n\texit\n\t.section .maps,"aw",@progbits\n\t.globl my_map\nmy_map:\n\t.zero 8\n' >"$tmp/reloc.s"
check asm-o 0 "" -- "$bpfkit" asm "$tmp/reloc.s" -o "$tmp/reloc.o"
if command -v llvm-readelf >/dev/null; then
  check asm-o-relocs 0 "R_BPF_64_64" -- llvm-readelf -r "$tmp/reloc.o"
fi
check_err run-unlinked 1 "'my_map' is not defined here" -- "$bpfkit" run "$tmp/reloc.s"
check asm-bin 0 "" -- "$bpfkit" asm "$examples/factorial.s" -o "$tmp/factorial.bin"
check asm-bin-runs 0 "0x21c3677c82b40000" -- "$bpfkit" run "$tmp/factorial.bin"
check asm-hex 0 "" -- "$bpfkit" asm "$examples/sum-bytes.s" -o "$tmp/sum.hex"
check asm-hex-first-line 0 "b700000000000000" -- head -1 "$tmp/sum.hex"
printf 'r0 = 1\nfoo %%r1\nr11 = 2\nr1 = *(u32 *)(r2 + 70000)\n' >"$tmp/errors.s"
check_err asm-errors 2 "3 errors" -- "$bpfkit" asm "$tmp/errors.s" -o "$tmp/errors.o"
check_err asm-caret 2 "                   ^" -- "$bpfkit" asm "$tmp/errors.s" -o "$tmp/errors.o"
check_err asm-error-location 2 "errors.s:4:20: error: offset 70000 does not fit in 16 bits" -- "$bpfkit" asm "$tmp/errors.s" -o "$tmp/errors.o"
check asm-json 2 '"errors":[' -- "$bpfkit" asm "$tmp/errors.s" -o "$tmp/errors.o" --json
check_err asm-bad-output 2 "needs the extension .o, .bin or .hex" -- "$bpfkit" asm "$examples/factorial.s" -o "$tmp/x.txt"
# More sections than ELF numbers without extended numbering: an error, and no 0-byte object.
awk 'BEGIN { for (i = 0; i < 65300; i++) printf ".section s%d,\"ax\"\nexit\n", i }' >"$tmp/sections.s"
check_err asm-too-many-sections 1 "without extended section numbering" -- "$bpfkit" asm "$tmp/sections.s" -o "$tmp/sections.o"
check asm-too-many-sections-no-object 1 "" -- test -e "$tmp/sections.o"
# The first 100 errors are shown, the rest counted.
yes x | head -n 250 >"$tmp/bad-lines.s"
check_err asm-error-cap 2 "150 more errors not shown" -- "$bpfkit" asm "$tmp/bad-lines.s" -o "$tmp/bad.o"
check_err asm-error-count 2 "250 errors" -- "$bpfkit" asm "$tmp/bad-lines.s" -o "$tmp/bad.o"
check asm-error-cap-json 2 '"more_errors":150' -- "$bpfkit" asm "$tmp/bad-lines.s" -o "$tmp/bad.o" --json
check conformance-dialect 0 "0x2a" -- "$bpfkit" run "$examples/conformance-style.s"
check_err missing-file 2 "cannot open file" -- "$bpfkit" run "$tmp/does-not-exist.s"
printf '\xb7\x00\x00' >"$tmp/short.bin"
check_err truncated 2 "short.bin: 0x0: program size 3 is not a multiple of 8 bytes" -- "$bpfkit" run "$tmp/short.bin"
check_err no-subcommand 2 "" -- "$bpfkit"

# The bpf_conformance plugin protocol.
printf 'mov %%r0, 1\nadd %%r0, 2\nexit\n' >"$tmp/jit.s"
check plugin 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin"
check plugin-mem 0 "0x8" -- sh -c "echo 'bf 20 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin '00  00  00  01  00  00  00  02'"
check plugin-extra-options 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --interpret"
check plugin-fault 1 "invalid read" -- sh -c "echo '61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin"
check plugin-jit 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --engine jit"
check plugin-jit-fault 1 "pc 0: invalid read of 4 bytes at 0x0" -- sh -c "echo '61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --engine jit"

# bpfkit jit: the machine code beside each instruction.
check jit-dump 0 "add rbx, 2" -- "$bpfkit" jit "$tmp/jit.s" --dump
check jit-size 0 "3 slots" -- "$bpfkit" jit "$tmp/jit.s"
# --harden: constant blinding; the same results, no `add rbx, 2` in the code.
check engine-jit-harden 0 "0x21c3677c82b40000" -- "$bpfkit" run "$examples/factorial.s" --engine jit --harden
check plugin-jit-harden 0 "0x2a" -- sh -c "echo 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00' | '$bpfkit' plugin --engine jit --harden"
check jit-dump-harden 1 "0" -- sh -c "'$bpfkit' jit '$tmp/jit.s' --dump --harden | grep -c 'add rbx, 2'"
check_err harden-needs-jit 2 "needs --engine jit" -- "$bpfkit" run "$examples/factorial.s" --harden

# Disassembly: pseudo-C as llvm-objdump-19 prints it, GNU normal syntax, raw
# bytes, labels at jump targets; ELF objects by section.
check disasm 0 $'       0:\tr0 = 0x2a\n       1:\texit' -- "$bpfkit" disasm "$examples/answer.hex"
check disasm-gnu 0 $'   0:\tmov %r0,42\n   8:\texit' -- "$bpfkit" disasm "$examples/answer.hex" --syntax gnu
check disasm-raw 0 $'       0:\tb7 00 00 00 2a 00 00 00\tr0 = 0x2a' -- "$bpfkit" disasm "$examples/answer.hex" --raw
check disasm-gnu-raw 0 $'b7 00 00 00 2a 00 00 00 \tmov %r0,42' -- "$bpfkit" disasm "$examples/answer.hex" --syntax normal --raw
check disasm-no-addresses 0 $'\tr0 = 0x2a\n\texit' -- "$bpfkit" disasm "$examples/answer.hex" --no-addresses
check disasm-labels 0 $'<L1>:\n       5:\tif r6 == 0x0 goto +0x3 <L2>' -- "$bpfkit" disasm "$examples/factorial.s"
check disasm-symbol 0 $'0000000000000000 <f>:\n' -- "$bpfkit" disasm "$examples/factorial.s" --no-labels --symbol f
check disasm-symbol-target 0 "goto -0x4 <f+0x28>" -- "$bpfkit" disasm "$examples/factorial.s" --no-labels --symbol f
check_err disasm-truncated 2 "not a multiple of 8 bytes" -- "$bpfkit" disasm "$tmp/short.bin"
check_err disasm-bad-syntax 2 "--syntax" -- "$bpfkit" disasm "$examples/answer.hex" --syntax intel
check_err disasm-section-not-elf 2 "--section needs an ELF object" -- "$bpfkit" disasm "$examples/answer.hex" --section .text
check_err disasm-missing-file 2 "cannot open file" -- "$bpfkit" disasm "$tmp/does-not-exist.hex"
# An ELF64 header (EM_BPF) whose 3 section headers would lie at 0x1000, past its end.
printf '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\xf7\x00\x01\x00\x00\x00' >"$tmp/header.o"
printf '\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00' >>"$tmp/header.o"
printf '\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x40\x00\x03\x00\x01\x00' >>"$tmp/header.o"
check_err disasm-elf-bounds 1 "0x28: section header table (offset 0x1000, 3 entries of 64 bytes) runs past the end" \
  -- "$bpfkit" disasm "$tmp/header.o"
if command -v clang >/dev/null 2>&1 &&
  printf '__attribute__((section("xdp"))) int prog(int *ctx) { return ctx[1] > 3 ? 7 : 1; }\n' >"$tmp/prog.c" &&
  clang -O2 -target bpf -c "$tmp/prog.c" -o "$tmp/prog.o" 2>/dev/null; then
  check disasm-elf 0 "exit" -- "$bpfkit" disasm "$tmp/prog.o"  # .text is empty: the first executable section
  check disasm-elf-section 0 $'*(u32 *)(r1 + 0x4)' -- "$bpfkit" disasm "$tmp/prog.o" --section xdp
  check disasm-elf-gnu 0 "[%r1+4]" -- "$bpfkit" disasm "$tmp/prog.o" --syntax gnu
  check_err disasm-elf-no-section 2 "no section named 'nope'" -- "$bpfkit" disasm "$tmp/prog.o" --section nope
  head -c 100 "$tmp/prog.o" >"$tmp/cut.o"
  check_err disasm-elf-cut 1 "runs past the end of the file" -- "$bpfkit" disasm "$tmp/cut.o"
else
  echo "skip: no clang with a BPF target; disasm of a compiled ELF object not tested"
fi

# eBPF objects (the C programs of tests/bpf, built with clang-19): run with
# maps and global data, pick a program, dump maps, objdump.
objects=$(dirname "$bpfkit")/../tests/bpf
if [ -f "$objects/maps.o" ]; then
  check object-run 0 "0x2c3df" -- "$bpfkit" run "$objects/maps.o"
  check object-dump-maps 0 "map counts (hash)" -- "$bpfkit" run "$objects/maps.o" --dump-maps
  check object-json 0 '"r0":"0x2c3df"' -- "$bpfkit" run "$objects/maps.o" --json --dump-maps
  check object-global-data 0 "0x2b0c" -- "$bpfkit" run "$objects/global_data.o"
  check object-subprograms 0 "0xa8" -- "$bpfkit" run "$objects/subprogs.o"
  check object-data-pointers 0 "0xa8" -- "$bpfkit" run "$objects/data_pointers.o"
  check object-function 0 "0x2a" -- "$bpfkit" run "$objects/tail_call.o" --function next
  check_err object-choice 2 "pick one with --section or --function" -- "$bpfkit" run "$objects/tail_call.o"
  check object-ringbuf 0 "record 6300000000000000" -- "$bpfkit" run "$objects/ringbuf.o" --dump-maps
  check objdump 0 "counts" -- "$bpfkit" objdump "$objects/maps.o"
  check objdump-json 0 '"programs":[{"section":"tc","function":"maps"' -- "$bpfkit" objdump "$objects/maps.o" --json
  check objdump-map-type-named 0 "devmap" -- "$bpfkit" objdump "$objects/map_types.o"
  check objdump-map-type-id 0 "type 99" -- "$bpfkit" objdump "$objects/map_types.o"
  check objdump-map-type-json 0 '"type":"devmap","type_id":14' -- "$bpfkit" objdump "$objects/map_types.o" --json
  check_err object-unsupported-map 1 "'odd': type 99 maps are not supported" -- "$bpfkit" run "$objects/map_types.o"
  printf '\x7fELF\x02\x01\x01' >"$tmp/broken.o"
  check_err objdump-broken 1 "0x" -- "$bpfkit" objdump "$tmp/broken.o"
fi
bench_objects=$(dirname "$bpfkit")/../bench
if [ -f "$bench_objects/fib.bpf.o" ]; then
  check bench-object 0 "0xc437dbe96c6dec3b" -- "$bpfkit" run "$bench_objects/fib.bpf.o" --mem-size 8
fi

# sBPF shared objects: loader, VM, compute units, production error names.
# The fixtures are harness programs: an input region (--input, even empty)
# runs them in the bare VM, as anza-xyz/sbpf's harness does.
elfs=$shared/sbpf/elfs
: >"$tmp/empty.bin"
check sbpf-run 0 "0x2a" -- "$bpfkit" run "$elfs/strict_header.so" --input "$tmp/empty.bin"
check sbpf-units 0 "compute units: 5" -- "$bpfkit" run "$elfs/strict_header.so" --input "$tmp/empty.bin"
check sbpf-json 0 '{"r0":"0x2a","instructions":5,"compute_units":5}' -- "$bpfkit" run "$elfs/strict_header.so" --input "$tmp/empty.bin" --json
printf '\x01' >"$tmp/one.bin"
check sbpf-input 0 '"compute_units":16' -- "$bpfkit" run "$elfs/relative_call_sbpfv0.so" --input "$tmp/one.bin" --json
check sbpf-input-hex 0 "0x3" -- "$bpfkit" run "$elfs/relative_call.so" --mem-hex "01"
check sbpf-cu-exact 0 "0x3" -- "$bpfkit" run "$elfs/relative_call.so" --input "$tmp/one.bin" --cu 16
check sbpf-cu-short 1 '"code":"ExceededMaxInstructions"' -- \
  "$bpfkit" run "$elfs/relative_call.so" --input "$tmp/one.bin" --cu 15 --json
check sbpf-fault-json 1 '"code":"CallDepthExceeded"' -- "$bpfkit" run "$elfs/callx_unaligned.so" --json
# A VM fault uses up the instruction's budget (Agave's deplete_cu_meter_on_vm_failure); the log keeps what ran.
check sbpf-fault-units 1 '"compute_units":200000' -- "$bpfkit" run "$elfs/callx_unaligned.so" --json
check_that sbpf-fault-consumed grep -q 'consumed 129 of 200000 compute units' "$tmp/stdout"
check_err sbpf-fault-text 1 "CallDepthExceeded" -- "$bpfkit" run "$elfs/callx_unaligned.so"
check sbpf-load-error 1 '"code":"WritableSectionNotSupported"' -- "$bpfkit" run "$elfs/bss_section_sbpfv0.so" --json
check_err sbpf-load-error-text 1 ".bss" -- "$bpfkit" run "$elfs/bss_section_sbpfv0.so"
check sbpf-syscall 0 '"compute_units":105' -- "$bpfkit" run "$elfs/syscall_reloc_64_32_sbpfv0.so" --deploy-checks --input "$tmp/empty.bin" --json
check sbpf-reloc 0 "0x100000120" -- "$bpfkit" run "$elfs/reloc_64_64_sbpfv0.so" --input "$tmp/empty.bin"
check sbpf-jit 0 '{"r0":"0x3","instructions":16,"compute_units":16}' -- "$bpfkit" run "$elfs/relative_call_sbpfv0.so" --input "$tmp/one.bin" --json --engine jit
check sbpf-jit-cu-short 1 '"code":"ExceededMaxInstructions"' -- \
  "$bpfkit" run "$elfs/relative_call.so" --input "$tmp/one.bin" --cu 15 --json --engine jit
check sbpf-jit-fault 1 '"code":"CallDepthExceeded"' -- "$bpfkit" run "$elfs/callx_unaligned.so" --input "$tmp/empty.bin" --json --engine jit
check sbpf-jit-syscall 0 '"compute_units":105' -- "$bpfkit" run "$elfs/syscall_reloc_64_32_sbpfv0.so" --deploy-checks --input "$tmp/empty.bin" --json --engine jit
check sbpf-jit-dump 0 "sub r11" -- "$bpfkit" jit "$elfs/relative_call.so" --dump
check sbpf-jit-runtime 1 "consumed 5 of 200000 compute units" -- "$bpfkit" run "$elfs/strict_header.so" --engine jit
head -c 40 "$elfs/strict_header.so" >"$tmp/cut.so"
check sbpf-objdump 0 "sBPF v0 shared object" -- "$bpfkit" objdump "$elfs/syscall_reloc_64_32_sbpfv0.so"
check sbpf-objdump-json 0 '"name":"log"' -- "$bpfkit" objdump "$elfs/syscall_reloc_64_32_sbpfv0.so" --json
check sbpf-disasm 0 "call 0x6bf5c3fe <log>" -- "$bpfkit" disasm "$elfs/syscall_static.so"
check sbpf-disasm-v0 0 "<_ZN13relative_call18function_stack_ref17he5233f564eb25018E>" -- "$bpfkit" disasm "$elfs/relative_call_sbpfv0.so"
printf '2c 21 08 00 00 00 00 00\n' >"$tmp/moved.hex"
check sbpf-disasm-dialect 0 "w1 = *(u8 *)(r2 + 0x8)" -- "$bpfkit" disasm "$tmp/moved.hex" --dialect sbpf-v2
check sbpf-truncated 1 '"offset"' -- "$bpfkit" run "$tmp/cut.so" --json
# Loader options of run and objdump: versions, deploy checks, symbol labels
# (off by default, as production loads).
sed 's/log\x00/lgg\x00/g' "$elfs/syscall_reloc_64_32_sbpfv0.so" >"$tmp/nolog.so"
printf '\x7fELF\x02\x01\x01' >"$tmp/tiny.o"
check sbpf-max-version 1 '"code":"UnsupportedSBPFVersion"' -- "$bpfkit" run "$elfs/strict_header.so" --max-version 2 --json
check sbpf-min-version 1 '"code":"UnsupportedSBPFVersion"' -- "$bpfkit" objdump "$elfs/reloc_64_64_sbpfv0.so" --min-version 1 --json
check sbpf-version-range 2 "" -- "$bpfkit" objdump "$elfs/reloc_64_64_sbpfv0.so" --max-version 4
check sbpf-objdump-deploy 1 '"code":"UnresolvedSymbol"' -- "$bpfkit" objdump "$tmp/nolog.so" --deploy-checks --json
check sbpf-objdump-labels 0 '"name":"_ZN16long_symbol_name' -- "$bpfkit" objdump "$elfs/long_symbol_name.so" --json --symbol-labels
check sbpf-objdump-no-labels 0 '"functions":[]' -- "$bpfkit" objdump "$elfs/long_symbol_name.so" --json
check_err sbpf-labels-ebpf 2 "--symbol-labels is for sBPF shared objects" -- "$bpfkit" objdump "$tmp/tiny.o" --symbol-labels

# Raw sBPF text (--dialect sbpf-vN): that version's verifier, the sBPF VM,
# compute units, entry at pc 0, no ELF around it.
check sbpf-raw 0 '{"r0":"0x2a","instructions":2,"compute_units":2}' \
  -- "$bpfkit" run "$examples/answer.hex" --dialect sbpf-v3 --json
check sbpf-raw-relative-call 0 $'0x21c3677c82b40000\ncompute units: 87' \
  -- "$bpfkit" run "$examples/factorial.s" --dialect sbpf-v3
check sbpf-raw-cu 1 '"code":"ExceededMaxInstructions"' \
  -- "$bpfkit" run "$examples/answer.hex" --dialect sbpf-v0 --cu 1 --json
check sbpf-raw-cu-exact 0 "0x2a" -- "$bpfkit" run "$examples/answer.hex" --dialect sbpf-v0 --cu 2
# r0 = 1; call <key of pc 3> (murmur3 of the pc's 8 bytes); exit; r0 += 41; exit.
printf 'b7 00 00 00 01 00 00 00\n85 00 00 00 b3 57 3b a3\n95 00 00 00 00 00 00 00\n07 00 00 00 29 00 00 00\n95 00 00 00 00 00 00 00\n' >"$tmp/pc-key-call.hex"
check sbpf-raw-pc-key-call 0 '{"r0":"0x2a","instructions":5,"compute_units":5}' \
  -- "$bpfkit" run "$tmp/pc-key-call.hex" --dialect sbpf-v0 --json

# The Solana runtime (issue 15): accounts, instruction data, program id, the
# runtime's log line by line, --json with logs, units, return data, accounts.
id=Stake11111111111111111111111111111111111111
printf 'r1 = 0x6f6c6c6568 ll\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 5\ncall sol_log_\nr0 = 0\nexit\n' >"$tmp/hello.s"
check solana-logs 0 "Program $id invoke [1]
Program log: hello
Program $id consumed 108 of 200000 compute units
Program $id success" -- "$bpfkit" run "$tmp/hello.s" --dialect sbpf-v3 --solana --program-id "$id"
# Moves 5 lamports from the first account to the second (empty data).
printf 'r2 = *(u64 *)(r1 + 80)\nr2 -= 5\n*(u64 *)(r1 + 80) = r2\nr2 = *(u64 *)(r1 + 10416)\nr2 += 5\n*(u64 *)(r1 + 10416) = r2\nr0 = r2\nr0 -= r2\nexit\n' >"$tmp/transfer.s"
cat >"$tmp/accounts.json" <<JSON
[{"key": "11111111111111111111111111111112", "owner": "$id", "lamports": 100, "is_signer": true, "is_writable": true},
 {"key": "11111111111111111111111111111113", "owner": "$id", "lamports": 7, "data": ["0a0b", "hex"], "is_writable": true}]
JSON
check solana-accounts 0 '"lamports":95,"data":"","executable":false,"rent_epoch":0,"is_signer":true,"is_writable":true},{"key":"11111111111111111111111111111113","owner":"Stake11111111111111111111111111111111111111","lamports":12,"data":"Cgs="' \
  -- "$bpfkit" run "$tmp/transfer.s" --dialect sbpf-v3 --accounts "$tmp/accounts.json" --program-id "$id" --json
check solana-readonly 1 '"code":"ReadonlyLamportChange"' -- "$bpfkit" run "$tmp/transfer.s" --dialect sbpf-v3 \
  --accounts <(sed 's/, "is_writable": true}]/}]/' "$tmp/accounts.json") --program-id "$id" --json
# r0 = r2 - r1 (the instruction data's offset), a custom error.
printf 'r0 = r2\nr0 -= r1\nexit\n' >"$tmp/offset.s"
printf '\x01\x02' >"$tmp/ix.bin"
check solana-ix-file 1 "custom program error: 0x10" -- "$bpfkit" run "$tmp/offset.s" --dialect sbpf-v3 --ix-data "@$tmp/ix.bin"
check_err solana-error-text 1 "[Custom]" -- "$bpfkit" run "$tmp/offset.s" --dialect sbpf-v3 --ix-data 0102
# Unaligned: 8 + (3 + 32 + 8 + 8 + 0 + 32 + 1 + 8) + (... + 2) + 8 = 0xca.
check solana-unaligned 1 "custom program error: 0xca" -- "$bpfkit" run "$tmp/offset.s" --dialect sbpf-v3 --unaligned \
  --accounts "$tmp/accounts.json"
check solana-default-cu 1 "consumed 5 of 200000 compute units" -- "$bpfkit" run "$elfs/strict_header.so"
# Sysvars from a file: the clock's slot, returned as a custom error.
printf 'r1 = r10\nr1 += -64\ncall sol_get_clock_sysvar\nr0 = *(u64 *)(r10 - 64)\nexit\n' >"$tmp/slot.s"
printf '{"clock": {"slot": 77}, "rent": {"burn_percent": 10}}' >"$tmp/sysvars.json"
check solana-sysvars 1 "custom program error: 0x4d" -- "$bpfkit" run "$tmp/slot.s" --dialect sbpf-v3 --sysvars "$tmp/sysvars.json"
printf '{"clock": {"slot": -1}}' >"$tmp/bad-sysvars.json"
check_err solana-bad-sysvars 2 "clock.slot" -- "$bpfkit" run "$tmp/slot.s" --dialect sbpf-v3 --sysvars "$tmp/bad-sysvars.json"
printf 'not json' >"$tmp/bad.json"
check_err solana-bad-accounts 2 "not JSON" -- "$bpfkit" run "$tmp/hello.s" --dialect sbpf-v3 --accounts "$tmp/bad.json"
printf '[{"key": "0"}]' >"$tmp/bad-key.json"
check_err solana-bad-key 2 "account 0 key" -- "$bpfkit" run "$tmp/hello.s" --dialect sbpf-v3 --accounts "$tmp/bad-key.json"
check_err solana-bad-program-id 2 "--program-id" -- "$bpfkit" run "$tmp/hello.s" --dialect sbpf-v3 --program-id xyz
check_err solana-input-conflict 2 "excludes" -- "$bpfkit" run "$elfs/strict_header.so" --input "$tmp/empty.bin" --ix-data 00
check_err solana-linux 2 "--solana does not apply" -- "$bpfkit" run "$tmp/hello.s" --solana
# Cross-program invocation: the caller invokes 1111...2 (the hello program,
# given with --program) through sol_invoke_signed_c; the nested log.
printf 'r0 = 1\n*(u8 *)(r10 - 1) = r0\nr1 = r10\nr1 += -32\n*(u64 *)(r10 - 72) = r1\nr1 = r10\nr1 += -72\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall sol_invoke_signed_c\nexit\n' >"$tmp/invoke.s"
callee=11111111111111111111111111111112
check solana-cpi 0 "Program $id invoke [1]
Program $callee invoke [2]
Program log: hello
Program $callee consumed 108 of 198988 compute units
Program $callee success
Program $id consumed 1121 of 200000 compute units
Program $id success" -- "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --program "$callee=$tmp/hello.s"
check solana-cpi-simd-0339 0 "Program $id consumed 1067 of 200000 compute units" \
  -- "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --program "$callee=$tmp/hello.s" --simd-0339
check solana-cpi-unknown 1 "Program is not deployed" -- "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" \
  --accounts <(printf '[{"key": "%s"}]' "$callee")
check_err solana-cpi-bad-program 2 "ID=FILE" -- "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program "$tmp/hello.s"
# Epoch stake from the sysvars file: a vote account's stake as a custom error.
printf 'r0 = 0\n*(u64 *)(r10 - 32) = r0\nr1 = r10\nr1 += -32\ncall sol_get_epoch_stake\nexit\n' >"$tmp/stake.s"
printf '{"epoch_stake": {"total": 5, "vote_accounts": {"11111111111111111111111111111111": 77}}}' >"$tmp/stake.json"
check solana-epoch-stake 1 "custom program error: 0x4d" -- "$bpfkit" run "$tmp/stake.s" --dialect sbpf-v3 --sysvars "$tmp/stake.json"
# SlotHashes from the sysvars file through sol_get_sysvar: the newest slot (offset 8) as a custom error.
printf 'r0 = 0xaf0a2f1917d5a706 ll\n*(u64 *)(r10 - 32) = r0\nr0 = 0x7acc77fbe365f2c6 ll\n*(u64 *)(r10 - 24) = r0\nr0 = 0x133bbed029c582da ll\n*(u64 *)(r10 - 16) = r0\nr0 = 0x2055002d6e ll\n*(u64 *)(r10 - 8) = r0\nr1 = r10\nr1 += -32\nr2 = r10\nr2 += -40\nr3 = 8\nr4 = 8\ncall sol_get_sysvar\nr0 = *(u64 *)(r10 - 40)\nexit\n' >"$tmp/slot-hashes.s"
printf '{"slot_hashes": [{"slot": 77, "hash": "11111111111111111111111111111111"}, {"slot": 76}]}' >"$tmp/slot-hashes.json"
check solana-slot-hashes 1 "custom program error: 0x4d" -- "$bpfkit" run "$tmp/slot-hashes.s" --dialect sbpf-v3 --sysvars "$tmp/slot-hashes.json"
printf '{"stake_history": [{"epoch": "x"}]}' >"$tmp/bad-stake-history.json"
check_err solana-bad-stake-history 2 "stake_history.epoch" -- "$bpfkit" run "$tmp/slot-hashes.s" --dialect sbpf-v3 --sysvars "$tmp/bad-stake-history.json"
# Epoch rewards from the file: total_rewards (offset 64 of the 96-byte C layout); total_points a u128.
printf 'r1 = r10\nr1 += -96\ncall sol_get_epoch_rewards_sysvar\nr0 = *(u64 *)(r10 - 32)\nr1 = *(u64 *)(r10 - 40)\nr2 = *(u64 *)(r10 - 48)\nr1 &= r2\nr1 += 1\nr0 += r1\nexit\n' >"$tmp/rewards.s"
printf '{"epoch_rewards": {"total_rewards": 77, "total_points": "340282366920938463463374607431768211455", "active": true}}' >"$tmp/rewards.json"
check solana-epoch-rewards 1 "custom program error: 0x4d" -- "$bpfkit" run "$tmp/rewards.s" --dialect sbpf-v3 --sysvars "$tmp/rewards.json"
printf '{"epoch_rewards": {"total_points": "340282366920938463463374607431768211456"}}' >"$tmp/bad-rewards.json"
check_err solana-bad-epoch-rewards 2 "epoch_rewards.total_points" -- "$bpfkit" run "$tmp/rewards.s" --dialect sbpf-v3 --sysvars "$tmp/bad-rewards.json"
# --heap-size: 40,000 bytes from the allocator fit in 64 KiB (8 units), not in the default 32 KiB.
printf 'r1 = 40000\nr2 = 0\ncall sol_alloc_free_\nr0 += 39999\nr1 = 7\n*(u8 *)(r0 + 0) = r1\nr0 = 0\nexit\n' >"$tmp/heap.s"
check solana-heap-size 0 '"compute_units":16' -- "$bpfkit" run "$tmp/heap.s" --dialect sbpf-v3 --heap-size 65536 --json
check solana-heap-default 1 "Access violation" -- "$bpfkit" run "$tmp/heap.s" --dialect sbpf-v3 --solana
check_err solana-bad-heap-size 2 "--heap-size 1000" -- "$bpfkit" run "$tmp/heap.s" --dialect sbpf-v3 --heap-size 1000
# The program's loader (its account's owner) picks the input format: byte 11 is the
# first account's key (Stake1111...: 6) unaligned, its executable flag (0) aligned.
printf 'r0 = *(u8 *)(r1 + 11)\nexit\n' >"$tmp/byte11.s"
config=Config1111111111111111111111111111111111111
check solana-loader-v1 1 "custom program error: 0x6" -- "$bpfkit" run "$tmp/byte11.s" --dialect sbpf-v3 --program-id "$config" \
  --accounts <(printf '[{"key": "%s"}, {"key": "%s", "owner": "BPFLoader1111111111111111111111111111111111", "executable": true}]' "$id" "$config")
check solana-loader-v3 0 "Program $config success" -- "$bpfkit" run "$tmp/byte11.s" --dialect sbpf-v3 --program-id "$config" \
  --accounts <(printf '[{"key": "%s"}, {"key": "%s", "owner": "BPFLoaderUpgradeab1e11111111111111111111111", "executable": true}]' "$id" "$config")
# --engine jit in the Solana runtime (issue 13): every program, CPI callees
# too, runs on the JIT; stdout (logs, --json), stderr and the exit status are
# the interpreter's. same_on_jit NAME COMMAND...: COMMAND against COMMAND --engine jit.
same_on_jit() {
  local name=$1
  shift
  "$@" >"$tmp/interp.out" 2>"$tmp/interp.err"
  local want=$?
  "$@" --engine jit >"$tmp/jit.out" 2>"$tmp/jit.err"
  local got=$?
  if [ "$want" -ne "$got" ] || [ ! -s "$tmp/interp.out" ] || ! cmp -s "$tmp/interp.out" "$tmp/jit.out" ||
    ! cmp -s "$tmp/interp.err" "$tmp/jit.err"; then
    echo "FAIL $name: status $got (interpreter $want), stdout: $(head -c 2000 "$tmp/jit.out") (interpreter: $(head -c 2000 "$tmp/interp.out")), stderr: $(head -c 1000 "$tmp/jit.err")"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}
sed 's/, "is_writable": true}]/}]/' "$tmp/accounts.json" >"$tmp/accounts-readonly.json"
printf '[{"key": "%s"}]' "$callee" >"$tmp/accounts-callee.json"
same_on_jit jit-solana-accounts "$bpfkit" run "$tmp/transfer.s" --dialect sbpf-v3 --accounts "$tmp/accounts.json" --program-id "$id" --json
same_on_jit jit-solana-accounts-text "$bpfkit" run "$tmp/transfer.s" --dialect sbpf-v3 --accounts "$tmp/accounts.json" --program-id "$id"
same_on_jit jit-solana-readonly "$bpfkit" run "$tmp/transfer.s" --dialect sbpf-v3 --accounts "$tmp/accounts-readonly.json" --program-id "$id" --json
same_on_jit jit-solana-ix-data "$bpfkit" run "$tmp/offset.s" --dialect sbpf-v3 --ix-data "@$tmp/ix.bin" --accounts "$tmp/accounts.json" --json
same_on_jit jit-solana-unaligned "$bpfkit" run "$tmp/offset.s" --dialect sbpf-v3 --unaligned --accounts "$tmp/accounts.json"
same_on_jit jit-solana-cpi "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --program "$callee=$tmp/hello.s" --json
same_on_jit jit-solana-cpi-unknown "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --accounts "$tmp/accounts-callee.json"
same_on_jit jit-solana-sysvars "$bpfkit" run "$tmp/slot.s" --dialect sbpf-v3 --sysvars "$tmp/sysvars.json" --json
same_on_jit jit-solana-heap-size "$bpfkit" run "$tmp/heap.s" --dialect sbpf-v3 --heap-size 65536 --json
same_on_jit jit-solana-heap-fault "$bpfkit" run "$tmp/heap.s" --dialect sbpf-v3 --solana
same_on_jit jit-solana-fault-elf "$bpfkit" run "$elfs/callx_unaligned.so" --json
same_on_jit jit-solana-cu-short "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --program "$callee=$tmp/hello.s" --cu 1100
check jit-solana-harden 0 "Program $id consumed 1121 of 200000 compute units" \
  -- "$bpfkit" run "$tmp/invoke.s" --dialect sbpf-v3 --program-id "$id" --program "$callee=$tmp/hello.s" --engine jit --harden
check sbpf-raw-v3-no-hashed-calls 1 '"code":"UnsupportedInstruction"' \
  -- "$bpfkit" run "$tmp/pc-key-call.hex" --dialect sbpf-v3 --json
# r0 /= 0: Linux gives 0; the sBPF verifiers refuse it (in v2, 0x37 is a store).
printf '37 00 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n' >"$tmp/div-imm-0.hex"
check linux-div-imm-0 0 "0x0" -- "$bpfkit" run "$tmp/div-imm-0.hex" --dialect linux
check sbpf-raw-verifier 1 '"code":"DivisionByZero"' -- "$bpfkit" run "$tmp/div-imm-0.hex" --dialect sbpf-v1 --json
check_err sbpf-raw-verifier-text 1 "div-imm-0.hex: pc 0: division by an immediate 0 [DivisionByZero]" \
  -- "$bpfkit" run "$tmp/div-imm-0.hex" --dialect sbpf-v3
# 0x2c is v2's ldxb (r0 = *(u8 *)(r1 + 0)), mul32 elsewhere; the input region is r1.
printf '2c 10 00 00 00 00 00 00\n95 00 00 00 00 00 00 00\n' >"$tmp/v2-load.hex"
printf '\x2a' >"$tmp/byte.bin"
check sbpf-raw-v2-load 0 "0x2a" -- "$bpfkit" run "$tmp/v2-load.hex" --dialect sbpf-v2 --input "$tmp/byte.bin"
check sbpf-raw-v0-mul 0 "0x0" -- "$bpfkit" run "$tmp/v2-load.hex" --dialect sbpf-v0 --mem-hex 2a
# Assembly in a dialect: v2's moved load assembles to 0x2c; v0's relative
# calls are linked to pc keys as the ELF loader links them.
printf 'r0 = *(u8 *)(r1 + 0)\nexit\n' >"$tmp/v2-load.s"
check asm-dialect 0 "" -- "$bpfkit" asm "$tmp/v2-load.s" --dialect sbpf-v2 -o "$tmp/v2-load-asm.hex"
check asm-dialect-bytes 0 "2c10000000000000" -- head -1 "$tmp/v2-load-asm.hex"
check sbpf-raw-assembly 0 "0x2a" -- "$bpfkit" run "$tmp/v2-load.s" --dialect sbpf-v2 --mem-hex 2a
check sbpf-raw-assembly-relative-calls 0 $'0x21c3677c82b40000\ncompute units: 87' \
  -- "$bpfkit" run "$examples/factorial.s" --dialect sbpf-v0
printf 'r0 = 1 ll\nexit\n' >"$tmp/lddw.s"
check_err asm-dialect-refuses 2 "lddw (lddw) is not in the sbpf-v2 dialect" \
  -- "$bpfkit" asm "$tmp/lddw.s" --dialect sbpf-v2 -o "$tmp/lddw.o"
check_err dialect-on-so 2 "--dialect does not apply to an sBPF shared object" \
  -- "$bpfkit" run "$elfs/strict_header.so" --dialect sbpf-v3
check_err bad-dialect 2 "--dialect" -- "$bpfkit" run "$examples/answer.hex" --dialect sbpf-v9

summary cli
