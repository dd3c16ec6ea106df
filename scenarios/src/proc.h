/* proc.h -- the processes a run starts (emulator, scheduler, sweep children), and never leaves.
 *
 * Each child runs in a process group of its own (so stopping it stops everything it started
 * that did not make a group of its own), asks the kernel for SIGKILL when the runner dies
 * (PR_SET_PDEATHSIG, so even a SIGKILLed runner leaves nothing behind), gets stdin /dev/null,
 * stdout to a pipe or a log file, stderr to the log file. Every live child is in a registry that
 * proc_kill_all() -- safe in a signal handler -- SIGKILLs at once.
 */
#ifndef DSS_SCN_PROC_H
#define DSS_SCN_PROC_H

#include <sys/types.h>

struct proc {
    pid_t pid;      /* 0 when not running */
    int status;     /* wait status once reaped */
    int reaped;
    int stdout_fd;  /* read end of its stdout when asked for, else -1 */
    char name[32];
};

/* Starts argv[0] (a path) with env (NULL-terminated "K=V" list; NULL: the runner's own).
 * want_stdout: give stdout to a pipe (p->stdout_fd), else to the log file. log_path may be
 * NULL (/dev/null). Returns 0, or -1 with a message in err (a failed exec is reported here). */
int proc_start(struct proc *p, const char *name, char *const argv[], char *const env[], const char *log_path,
               int want_stdout, char *err, size_t err_len);
/* 1 while it runs; reaps it when it has exited. */
int proc_alive(struct proc *p);
/* Sends sig to its process group and waits up to timeout_s, then SIGKILLs the group and reaps.
 * Returns its wait status (or -1 if it was not running). */
int proc_stop(struct proc *p, int sig, double timeout_s);
/* Reads one line of its stdout pipe within timeout_s. Returns its length, or -1. */
int proc_read_line(struct proc *p, char *out, size_t n, double timeout_s);
/* Reads and discards whatever is waiting on its stdout pipe (so it never blocks on a full pipe). */
void proc_drain(struct proc *p);
/* SIGKILLs every registered child's process group. Async-signal-safe. */
void proc_kill_all(void);
/* Milliseconds on the monotonic clock, and on the wall clock. */
long long proc_mono_ms(void);
long long proc_wall_ms(void);
/* Sleeps ms milliseconds (restarting after signals unless *stop becomes non-zero). */
void proc_sleep_ms(long ms, volatile int *stop);

#endif
