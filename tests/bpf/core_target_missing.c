/* A target BTF for core_read.c: `struct task` without `extra`, and an enum
 * without STATE_ZOMBIE. Only its .BTF is used. */
struct task {
  int pid;
  int tgid;
  unsigned long long start_time;
  char comm[16];
  unsigned int flags : 3;
  int mode : 5;
};

enum task_state { STATE_RUNNING = 5 };

struct task task_layout;
enum task_state state_layout;
