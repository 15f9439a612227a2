# 20! = 2432902008176640000 (0x21c3677c82b40000), computed by a bpf-to-bpf call.
# Pseudo-C syntax, as clang -S writes it. Run: build/bin/bpfkit run examples/factorial.s
	.text
	.globl	main
main:
	r1 = 20
	call factorial
	exit

# r0 = r1! (r6 is callee-saved: the interpreter restores it on return)
factorial:
	r0 = 1
	r6 = r1
.Lloop:
	if r6 == 0 goto .Ldone
	r0 *= r6
	r6 -= 1
	goto .Lloop
.Ldone:
	exit
