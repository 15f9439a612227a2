#!/usr/bin/env python3
# libbpf_load.py [--lines] OBJ...: open and load each eBPF object with the
# system's libbpf (bpf_object__open_file + bpf_object__load); prints "OBJ: 0"
# or the negative errno. With --lines, also a line per loaded program with
# the func_info and line_info records the kernel kept for it
# ("OBJ PROG: func_info N line_info M", from bpf_prog_info). Exit 77 when
# libbpf cannot be loaded.
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
lib.bpf_object__next_program.restype = ctypes.c_void_p
lib.bpf_object__next_program.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.bpf_program__name.restype = ctypes.c_char_p
lib.bpf_program__name.argtypes = [ctypes.c_void_p]
lib.bpf_program__fd.argtypes = [ctypes.c_void_p]
lib.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]

def print_lines(path, obj):
    prog = None
    while True:
        prog = lib.bpf_object__next_program(obj, prog)
        if not prog:
            return
        fd = lib.bpf_program__fd(prog)
        if fd < 0:
            continue
        info = ctypes.create_string_buffer(256)
        size = ctypes.c_uint32(256)
        if lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(size)) != 0:
            continue
        # struct bpf_prog_info: nr_func_info at byte 144, nr_line_info at 148.
        func_info = int.from_bytes(info.raw[144:148], "little")
        line_info = int.from_bytes(info.raw[148:152], "little")
        name = lib.bpf_program__name(prog).decode()
        print(f"{path} {name}: func_info {func_info} line_info {line_info}")

lines = sys.argv[1:2] == ["--lines"]
for path in sys.argv[1 + lines:]:
    obj = lib.bpf_object__open_file(path.encode(), None)
    err = lib.libbpf_get_error(obj)
    if err or not obj:
        print(f"{path}: open {err or -1}"); continue
    rc = lib.bpf_object__load(obj)
    print(f"{path}: {rc}")
    if lines and rc == 0:
        print_lines(path, obj)
    lib.bpf_object__close(obj)
