.set A, ((1 + 2) * 3 - -4) / 2 % 5
.set B, ~A & 0xff | 1 ^ 3 << 2 >> 1
r1 = A + B
r2 = - - - ~ + 5
goto . + 8
l: r3 = (l - .) + 16
exit
