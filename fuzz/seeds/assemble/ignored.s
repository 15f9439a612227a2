.file "x.c"
.ident "clang"
.addrsig
.addrsig_sym f
.loc 1 2 3
.cfi_sections .debug_frame
.cfi_startproc
.cfi_endproc
.version "1"
.visibility f
r0 = 1
exit
.end
