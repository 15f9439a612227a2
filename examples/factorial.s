# 20! = 2432902008176640000 (0x21c3677c82b40000), computed by a bpf-to-bpf call.
# Run: build/bin/bpfkit run examples/factorial.s
    mov %r1, 20
    call local factorial
    exit

# r0 = r1! (r6 is callee-saved: the interpreter restores it on return)
factorial:
    mov %r0, 1
    mov %r6, %r1
loop:
    jeq %r6, 0, done
    mul %r0, %r6
    sub %r6, 1
    ja loop
done:
    exit
