.globl f
.global g
.weak w
.local l
.hidden f
.protected g
.internal l
.type f, @function
.type obj, @object
.type n, @notype
f:
  r0 = 0
  call g
  exit
.Lend:
.size f, .Lend - f
.set K, 4 * 2 + (1 << 3)
.equ J, K - 1
h = K + J
.data
obj: .quad f, K, J
.size obj, 24
