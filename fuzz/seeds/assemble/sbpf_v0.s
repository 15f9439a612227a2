# dialect: sbpf-v0
lddw %r1, 0x1122334455667788
callx r4
r1 = -r1
exit
