/* A target BTF for core_read.c with two flavors of `struct task` that put
 * tgid in different places: libbpf refuses to choose. Only its .BTF is used. */
struct task___a {
  int pid;
  int tgid;
};

struct task___b {
  int tgid;
  int pid;
};

struct task___a task_a;
struct task___b task_b;
