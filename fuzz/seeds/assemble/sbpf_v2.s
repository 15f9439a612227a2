# dialect: sbpf-v2
w1 = *(u8 *)(r2 + 4)
*(u64 *)(r10 - 8) = r1
stw [%r10-16], 7
r1 |= 0x5 << 32
hor64 %r2, 1
r1 *= r2
r3 uhmul= 3
r4 shmul= r5
w1 /= 3
urem64 %r1, %r2
r1 s%= 7
callx r3
exit
