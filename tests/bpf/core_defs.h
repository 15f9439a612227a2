/* CO-RE for bpfkit's C test programs: what libbpf's bpf_core_read.h gives,
 * written out (the tests need no libbpf headers). Each macro is one of
 * clang's CO-RE builtins, which record a `.BTF.ext` relocation. */
#ifndef BPFKIT_TEST_CORE_DEFS_H
#define BPFKIT_TEST_CORE_DEFS_H

/* enum bpf_field_info_kind, bpf_type_info_kind, bpf_enum_value_kind */
enum { FIELD_BYTE_OFFSET = 0, FIELD_BYTE_SIZE, FIELD_EXISTS, FIELD_SIGNED, FIELD_LSHIFT_U64, FIELD_RSHIFT_U64 };
enum { TYPE_EXISTS = 0, TYPE_SIZE, TYPE_MATCHES };
enum { ENUMVAL_EXISTS = 0, ENUMVAL_VALUE };
enum { TYPE_ID_LOCAL = 0, TYPE_ID_TARGET };

#define core_field_info(field, kind) __builtin_preserve_field_info(field, kind)
#define bpf_core_field_exists(field) core_field_info(field, FIELD_EXISTS)
#define bpf_core_field_size(field) core_field_info(field, FIELD_BYTE_SIZE)
#define bpf_core_field_offset(field) core_field_info(field, FIELD_BYTE_OFFSET)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, TYPE_EXISTS)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, TYPE_SIZE)
#define bpf_core_type_matches(type) __builtin_preserve_type_info(*(typeof(type) *)0, TYPE_MATCHES)
#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(typeof(type) *)0, TYPE_ID_TARGET)
#define bpf_core_enum_value_exists(type, value) __builtin_preserve_enum_value(*(typeof(type) *)value, ENUMVAL_EXISTS)
#define bpf_core_enum_value(type, value) __builtin_preserve_enum_value(*(typeof(type) *)value, ENUMVAL_VALUE)

static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;

/* BPF_CORE_READ(src, field) for one level: a probe read of the relocated address. */
#define BPF_CORE_READ(src, field)                                                           \
  ({                                                                                        \
    typeof((src)->field) value_;                                                            \
    bpf_probe_read_kernel(&value_, sizeof(value_), __builtin_preserve_access_index(&(src)->field)); \
    value_;                                                                                 \
  })

/* A bitfield read as libbpf's BPF_CORE_READ_BITFIELD does it: a load of the
 * relocated size at the relocated offset, then the two relocated shifts. */
#define BPF_CORE_READ_BITFIELD(s, field)                                                    \
  ({                                                                                        \
    const void *p_ = (const void *)(s) + core_field_info((s)->field, FIELD_BYTE_OFFSET);    \
    unsigned long long v_ = 0;                                                              \
    asm volatile("" : "=r"(p_) : "0"(p_));                                                  \
    switch (core_field_info((s)->field, FIELD_BYTE_SIZE)) {                                 \
      case 1: v_ = *(const unsigned char *)p_; break;                                       \
      case 2: v_ = *(const unsigned short *)p_; break;                                      \
      case 4: v_ = *(const unsigned int *)p_; break;                                        \
      case 8: v_ = *(const unsigned long long *)p_; break;                                  \
    }                                                                                       \
    v_ <<= core_field_info((s)->field, FIELD_LSHIFT_U64);                                   \
    if (core_field_info((s)->field, FIELD_SIGNED))                                          \
      v_ = (unsigned long long)((long long)v_ >> core_field_info((s)->field, FIELD_RSHIFT_U64)); \
    else                                                                                    \
      v_ = v_ >> core_field_info((s)->field, FIELD_RSHIFT_U64);                             \
    v_;                                                                                     \
  })

#endif
