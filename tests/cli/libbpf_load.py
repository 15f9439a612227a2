#!/usr/bin/env python3
# libbpf_load.py OBJ...: open and load each eBPF object with the system's
# libbpf (bpf_object__open_file + bpf_object__load); prints "OBJ: 0" or the
# negative errno. Exit 77 when libbpf cannot be loaded.
import ctypes, ctypes.util, sys
try:
    lib = ctypes.CDLL("libbpf.so.1")
except OSError:
    print("libbpf.so.1 not found"); sys.exit(77)
lib.bpf_object__open_file.restype = ctypes.c_void_p
lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
lib.bpf_object__load.argtypes = [ctypes.c_void_p]
lib.bpf_object__close.argtypes = [ctypes.c_void_p]
lib.libbpf_get_error.restype = ctypes.c_long
lib.libbpf_get_error.argtypes = [ctypes.c_void_p]
PRINT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
lib.libbpf_set_print.argtypes = [PRINT]
_quiet = PRINT(lambda level, fmt, args: 0)  # kept referenced
lib.libbpf_set_print.restype = ctypes.c_void_p
lib.libbpf_set_print(_quiet)
for path in sys.argv[1:]:
    obj = lib.bpf_object__open_file(path.encode(), None)
    err = lib.libbpf_get_error(obj)
    if err or not obj:
        print(f"{path}: open {err or -1}"); continue
    rc = lib.bpf_object__load(obj)
    print(f"{path}: {rc}")
    lib.bpf_object__close(obj)
