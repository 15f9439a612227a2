.text
.section .text.f,"ax",@progbits
.pushsection .rodata.str1.1,"aMS",@progbits
.popsection
.previous
.data
.rodata
.bss
.section .bss.x,"aw",@nobits
.section "xdp"
.section license,"aw"
.section .maps,"aw",%progbits
.text
exit
