# The program of c_header_test.c: r0 = helper 1000's answer + 1.
call 1000
r0 += 1
exit
