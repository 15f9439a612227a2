/* A target BTF for core_read.c: `struct task` with every field moved,
 * start_time narrowed to 32 bits, the bitfields wider, and the enum's
 * values changed. Only its .BTF is used. */
struct task {
  unsigned long long pad0;
  char comm[16];
  unsigned int start_time;
  int tgid;
  int pid;
  unsigned int flags : 5;
  int mode : 7;
  int extra;
};

enum task_state { STATE_ZOMBIE = 7, STATE_RUNNING = 3 };

struct task task_layout;
enum task_state state_layout;
