/* main.c -- dss-emulator: SQS, DynamoDB (and, as they land, S3, EC2, Auto Scaling, SSM) on one
 * HTTP port, with state in SQLite under a data directory. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "server.h"
#include "util.h"

static const char usage[] =
    "usage: dss-emulator [options]\n"
    "  --listen HOST:PORT   address to serve on (default 127.0.0.1:4566; port 0 picks a free one)\n"
    "  --data-dir DIR       where state lives (default $XDG_DATA_HOME/dss or ~/.local/share/dss)\n"
    "  --ephemeral          keep state in a fresh temporary directory, removed on exit\n"
    "  --clock-speed X      run the emulator's clock X times faster than wall time (default 1)\n"
    "  --threads N          request threads (default 4)\n"
    "  --log-level L        error, warn, info (default) or debug\n"
    "  --help               show this text\n"
    "  --version            show the version\n";

struct options {
    char host[256];
    int port;
    char data_dir[4096];
    int ephemeral;
    double clock_speed;
    int threads;
};

static int parse_listen(const char *s, struct options *o)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof o->host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] == '\0')
        return -1;
    snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - s), s);
    if (strcmp(o->host, "localhost") == 0)
        snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = (int)port;
    return 0;
}

static void default_data_dir(char *out, size_t n)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(out, n, "%s/dss", xdg);
    else
        snprintf(out, n, "%s/.local/share/dss", home && *home ? home : ".");
}

/* Returns 0 to run, 1 to exit successfully (help, version), -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},   {"data-dir", required_argument, NULL, 'd'},
        {"ephemeral", no_argument, NULL, 'e'},      {"clock-speed", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},  {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = 4566;
    o->clock_speed = 1.0;
    o->threads = 4;
    default_data_dir(o->data_dir, sizeof o->data_dir);
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            if (parse_listen(optarg, o)) {
                fprintf(stderr, "dss-emulator: --listen wants HOST:PORT, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 'd': snprintf(o->data_dir, sizeof o->data_dir, "%s", optarg); break;
        case 'e': o->ephemeral = 1; break;
        case 'c': {
            char *end;
            o->clock_speed = strtod(optarg, &end);
            /* Written so that NaN fails too; the bound keeps the clock's arithmetic finite. */
            if (end == optarg || *end || !(o->clock_speed > 0 && o->clock_speed <= 1e6)) {
                fprintf(stderr, "dss-emulator: --clock-speed wants a positive number up to 1000000\n");
                return -1;
            }
            break;
        }
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (end == optarg || *end || n < 1 || n > 64) {
                fprintf(stderr, "dss-emulator: --threads wants 1..64\n");
                return -1;
            }
            o->threads = (int)n;
            break;
        }
        case 'L':
            if (log_level_parse(optarg, &log_threshold)) {
                fprintf(stderr, "dss-emulator: unknown log level '%s'\n", optarg);
                return -1;
            }
            break;
        case 'h': fputs(usage, stdout); return 1;
        case 'V': printf("dss-emulator %s\n", DSS_VERSION); return 1;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dss-emulator: unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Lets the emulator hold thousands of connections (long polls) at once. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;
    if (o.ephemeral) {
        const char *tmp = getenv("TMPDIR");
        snprintf(o.data_dir, sizeof o.data_dir, "%s/dss-emulator-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(o.data_dir)) {
            log_error("cannot create a temporary data directory: %s", strerror(errno));
            return 1;
        }
    } else if (mkdir_p(o.data_dir)) {
        log_error("cannot create data directory %s: %s", o.data_dir, strerror(errno));
        return 1;
    }
    /* Signals are taken by sigwait() below; every thread started from here on has them blocked. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    dss_clock_init(o.clock_speed);

    int status = 1;
    struct dss_server_config cfg = {o.host, o.port, o.data_dir, o.threads};
    if (dss_db_open(o.data_dir) == 0 && dss_server_start(&cfg) == 0) {
        printf("dss-emulator %s listening on http://%s:%d (data: %s%s)\n", DSS_VERSION, cfg.host,
               cfg.port, o.data_dir, o.ephemeral ? ", ephemeral" : "");
        fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
        log_info("signal %d: shutting down", sig);
        dss_server_stop();
        status = 0;
    }
    dss_db_close_thread();
    if (o.ephemeral)
        nftw(o.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
