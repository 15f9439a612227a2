/* bpfkit.h: the C API of bpfkit, for embedding its BPF engines in any
 * program that can call C.
 *
 * One bpfkit_vm holds one loaded program (Linux eBPF or Solana sBPF v0-v3),
 * the helpers or syscalls it may call, its input memory and instruction
 * budget, and the result and error of the last call:
 *
 *     bpfkit_vm *vm = bpfkit_vm_create();
 *     bpfkit_vm_register_helper(vm, 1000, "add", add_helper, NULL);
 *     if (bpfkit_vm_load(vm, code, sizeof code, BPFKIT_DIALECT_LINUX) != BPFKIT_OK ||
 *         bpfkit_vm_set_input(vm, packet, sizeof packet) != BPFKIT_OK ||
 *         bpfkit_vm_run(vm, &r0) != BPFKIT_OK)
 *       fprintf(stderr, "%s: %s\n", bpfkit_vm_error_code(vm), bpfkit_vm_error_message(vm));
 *     bpfkit_vm_destroy(vm);
 *
 * Errors. Every function that returns int returns BPFKIT_OK (0) or
 * BPFKIT_ERROR (-1); none aborts, none lets a C++ exception out. A call on a
 * vm records its outcome there: bpfkit_vm_error_code() is "" after a call
 * that succeeded and a stable snake_case code after one that failed:
 *
 *   the C API's own:  invalid_argument (a NULL pointer, an unknown dialect, a
 *                     misplaced name), no_program (run before a successful
 *                     load), out_of_memory, internal (a bug: please report);
 *   bpfkit's:         truncated, bad_header, bad_opcode, bad_register,
 *                     bad_operand, out_of_range, unsupported (rejected
 *                     programs and files); access_violation, divide_by_zero,
 *                     budget_exceeded, call_depth_exceeded, unknown_helper,
 *                     bad_call_target, helper_failed (faults while running);
 *                     io (a file could not be read).
 *
 * bpfkit_vm_error_detail() adds a dialect's own name where one exists (the
 * sBPF loader's and VM's production names: "StackAccessViolation",
 * "ComputationalBudgetExceeded", "UnsupportedSBPFVersion", ...), and
 * bpfkit_vm_error_pc() the instruction index of a fault or of a rejected
 * instruction. A call with a NULL vm returns BPFKIT_ERROR and records
 * nothing.
 *
 * Ownership. bpfkit copies program bytes and ELF files while loading (the
 * caller may free them when the call returns) and names (helper, syscall,
 * section, function). It borrows the input memory (bpfkit_vm_set_input) and
 * user_data pointers: they stay the caller's, and must stay valid while a run
 * may use them. Strings that bpfkit returns belong to the vm and stay valid
 * until the next call that changes the vm (any call taking a non-const vm).
 *
 * Threads. A bpfkit_vm is not synchronised: use one from one thread at a time.
 * Distinct vms share nothing and may run concurrently on different threads.
 * Helpers and syscalls run on the thread that called bpfkit_vm_run.
 *
 * Link with bpfkit's static libraries and the C++ standard library: the CMake
 * package (find_package(bpfkit), target bpfkit::bpfkit) and pkg-config
 * (`pkg-config --cflags --libs bpfkit`) give the flags.
 */
#ifndef BPFKIT_BPFKIT_H
#define BPFKIT_BPFKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { BPFKIT_OK = 0, BPFKIT_ERROR = -1 };

/* The BPF flavour of raw instruction bytes. ELF files say their own. */
typedef enum bpfkit_dialect {
  BPFKIT_DIALECT_LINUX = 0, /* Linux eBPF, ISA v4 (RFC 9669), the kernel's semantics */
  BPFKIT_DIALECT_SBPF_V0 = 1,
  BPFKIT_DIALECT_SBPF_V1 = 2,
  BPFKIT_DIALECT_SBPF_V2 = 3,
  BPFKIT_DIALECT_SBPF_V3 = 4
} bpfkit_dialect;

/* bpfkit's version, "MAJOR.MINOR.PATCH". */
const char *bpfkit_version(void);

/* The dialect named "linux", "sbpf-v0", "sbpf-v1", "sbpf-v2" or "sbpf-v3";
 * BPFKIT_ERROR for another name or a NULL pointer. */
int bpfkit_dialect_from_name(const char *name, bpfkit_dialect *dialect);

/* ---- Lifecycle ------------------------------------------------------------ */

typedef struct bpfkit_vm bpfkit_vm;

/* A vm with no program, the default helpers (Linux: map operations,
 * probe_read, ktime_get_ns, trace_printk, get_prandom_u32,
 * get_smp_processor_id, ring buffer) and syscalls (sBPF: sol_log_,
 * sol_log_64_, sol_memcpy_, sol_memmove_, sol_memset_, sol_memcmp_, abort,
 * sol_panic_). NULL if memory ran out. */
bpfkit_vm *bpfkit_vm_create(void);

/* Frees the vm and everything it owns. NULL is allowed. */
void bpfkit_vm_destroy(bpfkit_vm *vm);

/* ---- Loading -------------------------------------------------------------- */

/* Loads raw instructions (8-byte little-endian slots) in a dialect, checked as
 * that dialect's verifier checks them (Linux: the kernel's decoder checks;
 * sBPF: the production verifier's). Execution starts at the first slot; in
 * sBPF v0-v2 the text is also the read-only region at 1 << 32 (as the sBPF
 * fixture harnesses map it), and calls by key reach syscalls only. A load
 * replaces the vm's program, and a failed load leaves the vm without one.
 * `dialect` is a bpfkit_dialect, passed as int so that any value is defined
 * (another one is invalid_argument). */
int bpfkit_vm_load(bpfkit_vm *vm, const void *code, size_t size, int dialect);

/* Loads an ELF file held in memory:
 *  - an eBPF object (`clang -target bpf -c`): the program in `section`
 *    and/or named `function` (either may be NULL; both NULL picks the one
 *    program, or fails listing the choices), linked as libbpf links it, with
 *    its maps and global data created in the vm;
 *  - an sBPF shared object (.so, v0-v3): relocated as Agave's loader does;
 *    section and function must be NULL (the ELF names its entry point).
 *    Register syscalls before loading, so that the loader resolves them. */
int bpfkit_vm_load_elf(bpfkit_vm *vm, const void *file, size_t size, const char *section, const char *function);

/* The same, reading the file at `path`. */
int bpfkit_vm_load_elf_file(bpfkit_vm *vm, const char *path, const char *section, const char *function);

/* ---- Helpers and syscalls ------------------------------------------------- */

/* What a helper or syscall sees of the run besides its arguments; valid only
 * during the callback. */
typedef struct bpfkit_call bpfkit_call;

/* A helper (Linux) or syscall (sBPF). args holds r1..r5. Return 0 after
 * storing the result in *r0, or nonzero to stop the run with helper_failed
 * (message: bpfkit_call_fail's, else the returned value). A callback must not
 * throw or longjmp out of bpfkit, nor call back into the same vm. */
typedef int (*bpfkit_helper_fn)(void *user_data, bpfkit_call *call, const uint64_t args[5], uint64_t *r0);

/* Registers `fn` as Linux helper `id` (what `call id` reaches), replacing a
 * default helper or an earlier registration of the id. `name` (may be NULL)
 * appears in error messages. Id 12 (bpf_tail_call) is the interpreter's own.
 * Registrations last for the vm's life, across loads. */
int bpfkit_vm_register_helper(bpfkit_vm *vm, uint32_t id, const char *name, bpfkit_helper_fn fn, void *user_data);

/* Registers `fn` as the sBPF syscall `name`, reached by `call murmur3(name)`
 * (what the loader writes for a relocation against the name). Fails with
 * bad_operand (detail "SymbolHashCollision") if another name has that key. */
int bpfkit_vm_register_syscall(bpfkit_vm *vm, const char *name, bpfkit_helper_fn fn, void *user_data);

/* The host address of guest bytes [address, address + size), or NULL unless
 * the whole range lies in one region the program may read (write = 0) or
 * write (write != 0): every pointer argument must go through here. */
void *bpfkit_call_translate(bpfkit_call *call, uint64_t address, uint64_t size, int write);

/* sBPF: charges `units` compute units to the run. BPFKIT_ERROR if fewer were
 * left; the run then stops with budget_exceeded (detail
 * "ComputationalBudgetExceeded") whatever the callback returns. Linux helpers
 * are not metered: always BPFKIT_OK. */
int bpfkit_call_consume(bpfkit_call *call, uint64_t units);

/* Sets the message that a nonzero return from the callback reports
 * (copied). */
void bpfkit_call_fail(bpfkit_call *call, const char *message);

/* ---- Running -------------------------------------------------------------- */

/* The input memory: r1 holds its guest address when a run starts (and, for
 * Linux, r2 its size). Borrowed, writable by the program, kept across runs and
 * loads until replaced; NULL with size 0 removes it. At most 4 GiB. */
int bpfkit_vm_set_input(bpfkit_vm *vm, void *memory, size_t size);

/* The budget of one run: executed instructions (Linux) or compute units
 * (sBPF). A budget of N allows exactly N instructions; the next one stops the
 * run with budget_exceeded. Defaults: 2^32 instructions (Linux), 1,400,000
 * compute units (sBPF, a transaction's maximum). */
int bpfkit_vm_set_budget(bpfkit_vm *vm, uint64_t budget);

/* Runs the loaded program once. BPFKIT_OK: the program exited, with r0 in
 * *r0 (r0 may be NULL). BPFKIT_ERROR: no program, or a fault (error code,
 * message and pc say which). Maps and the input keep what the run wrote. */
int bpfkit_vm_run(bpfkit_vm *vm, uint64_t *r0);

/* ---- The last run ---------------------------------------------------------
 * Kept until the next run or load, including after a fault: sBPF gives r0 as
 * it was at the fault; the Linux engine reports r0 and the instruction count
 * as 0 after a fault. */

uint64_t bpfkit_vm_r0(const bpfkit_vm *vm);
/* Instructions executed (lddw counts once), including a faulting one. */
uint64_t bpfkit_vm_instructions(const bpfkit_vm *vm);
/* sBPF: compute units used, syscall costs included; Linux: 0. */
uint64_t bpfkit_vm_compute_units(const bpfkit_vm *vm);
/* What the program printed: sol_log_ lines (sBPF) or bpf_trace_printk output
 * (Linux). */
const char *bpfkit_vm_log(const bpfkit_vm *vm);

/* ---- The last error (see "Errors" above) ---------------------------------- */

const char *bpfkit_vm_error_code(const bpfkit_vm *vm);
const char *bpfkit_vm_error_detail(const bpfkit_vm *vm);
const char *bpfkit_vm_error_message(const bpfkit_vm *vm);
/* The instruction index, or -1 if the error has none. */
int64_t bpfkit_vm_error_pc(const bpfkit_vm *vm);

#ifdef __cplusplus
}
#endif

#endif /* BPFKIT_BPFKIT_H */
