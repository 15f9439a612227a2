# dialect: sbpf-v3
call sol_log_
call f
if w1 > 2 goto +1
callx r2
exit
f:
  r0 = 5 ll
  exit
