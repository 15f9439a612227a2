.data
.p2align 3
.align 2
.balign 16, 0xff
.byte 1, -1, 'a', 0x7f
.short 0x1234, -2
.2byte 1
.half 2
.hword 3
.long 0xdeadbeef
.int -5
.4byte 7
.word 8
.quad 0x1122334455667788
.8byte -1
.dword sym + 8
.ascii "ab\n\t\x41"
.asciz "zero\0"
.string "str\\"
.zero 4
.space 8, 0x5a
.skip 3
.fill 3, 4, 0x01020304
.fill 2
.lcomm buf, 64
.comm shared, 32
.bss
.zero 16
