/* startup.c -- dss-bench-startup: how long a server takes from spawn to its first answered
 * request, measured without an interpreter in the way. A Python polling loop burns as much CPU
 * as the server it waits for on a two-core machine, and then mostly measures itself; this one
 * sleeps between tries.
 *
 * usage: dss-bench-startup PORT REQUEST-FILE COMMAND [ARG...]
 *
 * Spawns COMMAND (stdout and stderr to /dev/null), then every 200 us tries to connect to
 * 127.0.0.1:PORT and send the bytes of REQUEST-FILE (a whole HTTP/1.1 request with
 * "Connection: close"), until an answer's status line says 2xx. Prints the elapsed
 * milliseconds and the CPU milliseconds the server's threads had used by then (from
 * /proc/PID/task/TID/schedstat, nanosecond resolution: on a loaded machine the wall time is
 * mostly waiting for a core, the CPU time is the server's own cost), SIGTERMs the server and
 * waits for it. Exit status 1 if the server exits first or has not answered within 60 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The whole request file, or NULL. */
static char *read_request(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return *len ? buf : NULL;
}

/* CPU time in ms used so far by every thread of pid (threads that already exited are not
 * counted; the servers measured here start theirs and keep them). */
static double cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    double total = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char stat_path[sizeof path + 300];
        snprintf(stat_path, sizeof stat_path, "%s/%s/schedstat", path, e->d_name);
        FILE *f = fopen(stat_path, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            total += ns / 1e6;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return total;
}

/* One try: 1 when the server answered 2xx, 0 otherwise (not listening yet, or not ready). */
static int try_request(int port, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, len) == (ssize_t)len) {
        char status[16] = {0};
        size_t got = 0;
        ssize_t n;
        while (got < 12 && (n = read(fd, status + got, 12 - got)) > 0)
            got += (size_t)n;
        ok = got == 12 && strncmp(status, "HTTP/1.", 7) == 0 && status[9] == '2';
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT REQUEST-FILE COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    size_t len = 0;
    const char *req = read_request(argv[2], &len);
    if (!req) {
        fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[2]);
        return 2;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    double t0 = now_ms();
    pid_t pid;
    if (posix_spawn(&pid, argv[3], &fa, NULL, argv + 3, environ) != 0) {
        fprintf(stderr, "%s: cannot start %s\n", argv[0], argv[3]);
        return 2;
    }
    int answered = 0, status;
    const struct timespec pause = {0, 200000};
    while (!answered && now_ms() - t0 < 60000) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "%s: %s exited before answering\n", argv[0], argv[3]);
            return 1;
        }
        answered = try_request(port, req, len);
        if (!answered)
            nanosleep(&pause, NULL);
    }
    double elapsed = now_ms() - t0;
    double cpu = cpu_ms(pid);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (!answered) {
        fprintf(stderr, "%s: no answer from port %d within 60 s\n", argv[0], port);
        return 1;
    }
    printf("%.2f %.2f\n", elapsed, cpu);
    return 0;
}
