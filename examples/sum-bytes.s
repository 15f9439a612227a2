# Sums the bytes of the memory buffer (r1 = its address, r2 = its length).
# GNU "normal" syntax. Run:
#   build/bin/bpfkit run examples/sum-bytes.s --mem-hex "01 02 03 fa"   -> 0x100
	mov %r0, 0
loop:
	jeq %r2, 0, done
	ldxb %r3, [%r1+0]
	add %r0, %r3
	add %r1, 1
	sub %r2, 1
	ja loop
done:
	exit
