/* proc.c -- see proc.h. fork + exec rather than posix_spawn because the child must set its
 * parent-death signal and its process group before exec; a close-on-exec pipe carries a failed
 * exec's errno back to the parent. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REGISTRY_MAX 256

/* Process group ids of live children; 0 marks a free slot. Written only outside signal
 * handlers, read by proc_kill_all (possibly inside one). */
static volatile pid_t registry[REGISTRY_MAX];

static void reg_add(pid_t pid)
{
    for (int i = 0; i < REGISTRY_MAX; i++)
        if (registry[i] == 0) {
            registry[i] = pid;
            return;
        }
}

static void reg_del(pid_t pid)
{
    for (int i = 0; i < REGISTRY_MAX; i++)
        if (registry[i] == pid)
            registry[i] = 0;
}

void proc_kill_all(void)
{
    for (int i = 0; i < REGISTRY_MAX; i++) {
        pid_t p = registry[i];
        if (p > 0)
            kill(-p, SIGKILL);
    }
}

long long proc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long proc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void proc_sleep_ms(long ms, volatile int *stop)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L}, rem;
    while (nanosleep(&ts, &rem) == -1 && errno == EINTR && !(stop && *stop))
        ts = rem;
}

int proc_start(struct proc *p, const char *name, char *const argv[], char *const env[], const char *log_path,
               int want_stdout, char *err, size_t err_len)
{
    int errpipe[2], outpipe[2] = {-1, -1};
    memset(p, 0, sizeof *p);
    p->stdout_fd = -1;
    snprintf(p->name, sizeof p->name, "%s", name);
    if (pipe2(errpipe, O_CLOEXEC)) {
        snprintf(err, err_len, "%s: pipe: %s", name, strerror(errno));
        return -1;
    }
    if (want_stdout && pipe2(outpipe, O_CLOEXEC)) {
        snprintf(err, err_len, "%s: pipe: %s", name, strerror(errno));
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    int logfd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        snprintf(err, err_len, "%s: %s: %s", name, log_path, strerror(errno));
        close(errpipe[0]);
        close(errpipe[1]);
        if (want_stdout) {
            close(outpipe[0]);
            close(outpipe[1]);
        }
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: own group, die with the runner, plain signals, fds 0-2 only. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the runner died before prctl */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < NSIG; s++)
            signal(s, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(want_stdout ? outpipe[1] : logfd, 1);
        dup2(logfd, 2);
        if (env)
            execve(argv[0], argv, env);
        else
            execv(argv[0], argv);
        int e = errno;
        if (write(errpipe[1], &e, sizeof e) < 0) {
            /* nothing more to do */
        }
        _exit(127);
    }
    close(errpipe[1]);
    close(logfd);
    if (want_stdout)
        close(outpipe[1]);
    if (pid < 0) {
        snprintf(err, err_len, "%s: fork: %s", name, strerror(errno));
        close(errpipe[0]);
        if (want_stdout)
            close(outpipe[0]);
        return -1;
    }
    /* Also set the group from here, so it exists before we might signal it. */
    setpgid(pid, pid);
    reg_add(pid);
    int e = 0;
    ssize_t n;
    while ((n = read(errpipe[0], &e, sizeof e)) < 0 && errno == EINTR) {
    }
    close(errpipe[0]);
    p->pid = pid;
    if (n == (ssize_t)sizeof e) {
        snprintf(err, err_len, "%s: cannot run %s: %s", name, argv[0], strerror(e));
        waitpid(pid, &p->status, 0);
        reg_del(pid);
        p->pid = 0;
        if (want_stdout)
            close(outpipe[0]);
        return -1;
    }
    p->stdout_fd = want_stdout ? outpipe[0] : -1;
    return 0;
}

static void reaped(struct proc *p, int status)
{
    p->status = status;
    p->reaped = 1;
    /* The leader is gone; anything left in its group goes too. */
    kill(-p->pid, SIGKILL);
    reg_del(p->pid);
    if (p->stdout_fd >= 0)
        close(p->stdout_fd);
    p->stdout_fd = -1;
    p->pid = 0;
}

int proc_alive(struct proc *p)
{
    if (!p->pid)
        return 0;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        reaped(p, st);
        return 0;
    }
    return 1;
}

int proc_stop(struct proc *p, int sig, double timeout_s)
{
    if (!p->pid)
        return p->reaped ? p->status : -1;
    pid_t pid = p->pid;
    kill(-pid, sig);
    long long deadline = proc_mono_ms() + (long long)(timeout_s * 1000);
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            reaped(p, st);
            return st;
        }
        if (proc_mono_ms() >= deadline)
            break;
        proc_sleep_ms(20, NULL);
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    reaped(p, st);
    return st;
}

int proc_read_line(struct proc *p, char *out, size_t n, double timeout_s)
{
    size_t len = 0;
    long long deadline = proc_mono_ms() + (long long)(timeout_s * 1000);
    while (p->stdout_fd >= 0 && len + 1 < n) {
        long long left = deadline - proc_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd pf = {p->stdout_fd, POLLIN, 0};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        char c;
        ssize_t k = read(p->stdout_fd, &c, 1);
        if (k <= 0)
            return -1;
        if (c == '\n') {
            out[len] = '\0';
            return (int)len;
        }
        out[len++] = c;
    }
    return -1;
}

void proc_drain(struct proc *p)
{
    char buf[4096];
    while (p->stdout_fd >= 0) {
        struct pollfd pf = {p->stdout_fd, POLLIN, 0};
        if (poll(&pf, 1, 0) <= 0)
            return;
        if (read(p->stdout_fd, buf, sizeof buf) <= 0)
            return;
    }
}
