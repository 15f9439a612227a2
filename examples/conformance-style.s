# The bpf_conformance suite's dialect also runs: `lock`, `call local`, `[%r1]`.
# Run: build/bin/bpfkit run examples/conformance-style.s   -> 0x2a
    stdw [%r10-8], 40
    mov %r1, 2
    lock add [%r10-8], %r1
    call local load
    exit
load:
    ldxdw %r0, [%r10+504]
    exit
