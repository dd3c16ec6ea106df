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

#include "auth.h"
#include "clock.h"
#include "simclock.h"
#include "db.h"
#include "server.h"
#include "util.h"

/* The fresh database made by this build (schema_image.c), for a new data directory. */
extern const unsigned char dss_db_image[];
extern const size_t dss_db_image_len;

static const char usage[] =
    "usage: dss-emulator [options]\n"
    "  --listen HOST:PORT   address to serve on (default 127.0.0.1:4566; port 0 picks a free one)\n"
    "  --data-dir DIR       where state lives (default $XDG_DATA_HOME/dss or ~/.local/share/dss)\n"
    "  --ephemeral          keep state in a fresh temporary directory, removed on exit\n"
    "  --clock-speed X      run the emulator's clock X times faster than wall time (default 1)\n"
    "  --clock simulated    virtual time moved by a barrier, workers without processes (simclock.c)\n"
    "  --threads N          request threads (default 4)\n"
    "  --log-level L        error, warn, info (default) or debug\n"
    "security (README, \"Security\"):\n"
    "  --auth MODE          off (default) or verify: check every request's SigV4/SigV2 signature\n"
    "  --credentials FILE   key pairs for --auth verify, in the AWS shared-credentials format\n"
    "                       (default: the one pair test/test)\n"
    "  --insecure-public    allow a non-loopback --listen address without --auth verify\n"
    "  --max-connections N  simultaneous connections (default 8192)\n"
    "  --max-long-polls N   calls waiting parked at once; more get a throttling error (default 4096)\n"
    "  --idle-timeout S     close a connection silent for S seconds; 0: never (default 60)\n"
    "  --request-timeout S  a request's headers must arrive within S seconds, its body at\n"
    "                       1 KiB/s or faster after that (default 30)\n"
    "  --max-header-bytes N memory per connection for the request line and headers (default 32768)\n"
    "  --max-body-bytes N   largest JSON or Query request body (default 16777216; S3 takes 5 GiB)\n"
    "  --help               show this text\n"
    "  --version            show the version\n";

struct options {
    char host[256];
    int port;
    char data_dir[4096];
    int ephemeral;
    double clock_speed;
    int simulated; /* --clock simulated */
    int threads;
    enum dss_auth_mode auth;
    const char *credentials;
    int insecure_public;
    struct dss_limits limits;
};

/* An unsigned option value in [min, max]. Returns 0, or -1 after saying what it wants. */
static int parse_count(const char *opt, const char *s, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (end == s || *end || errno || s[0] == '-' || n < min || n > max) {
        fprintf(stderr, "dss-emulator: --%s wants a number from %llu to %llu, got '%s'\n", opt, min, max, s);
        return -1;
    }
    *out = n;
    return 0;
}

/* The limit options (auth.h); ch is the option's letter. Returns 0 or -1. */
static int parse_limit(int ch, const char *arg, struct dss_limits *l)
{
    unsigned long long n;
    switch (ch) {
    case 'C': return parse_count("max-connections", arg, 16, 1000000, &n) ? -1 : (l->max_connections = (unsigned)n, 0);
    case 'P': return parse_count("max-long-polls", arg, 1, 1000000, &n) ? -1 : (l->max_long_polls = (unsigned)n, 0);
    case 'I': return parse_count("idle-timeout", arg, 0, 86400, &n) ? -1 : (l->idle_timeout_s = (unsigned)n, 0);
    case 'R': return parse_count("request-timeout", arg, 1, 3600, &n) ? -1 : (l->request_timeout_s = (unsigned)n, 0);
    case 'H': return parse_count("max-header-bytes", arg, 4096, 16u << 20, &n) ? -1 : (l->max_header_bytes = n, 0);
    case 'B': return parse_count("max-body-bytes", arg, 1024, 1u << 30, &n) ? -1 : (l->max_body_bytes = n, 0);
    }
    return -1;
}

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
        {"auth", required_argument, NULL, 'a'},     {"credentials", required_argument, NULL, 'k'},
        {"insecure-public", no_argument, NULL, 'u'},
        {"max-connections", required_argument, NULL, 'C'}, {"max-long-polls", required_argument, NULL, 'P'},
        {"idle-timeout", required_argument, NULL, 'I'},    {"request-timeout", required_argument, NULL, 'R'},
        {"max-header-bytes", required_argument, NULL, 'H'}, {"max-body-bytes", required_argument, NULL, 'B'},
        {"clock", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0}};
    static const struct dss_limits default_limits = DSS_LIMITS_DEFAULT;
    o->limits = default_limits;
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
        case 'a':
            if (strcmp(optarg, "off") && strcmp(optarg, "verify")) {
                fprintf(stderr, "dss-emulator: --auth wants off or verify, got '%s'\n", optarg);
                return -1;
            }
            o->auth = strcmp(optarg, "verify") ? DSS_AUTH_OFF : DSS_AUTH_VERIFY;
            break;
        case 'k': o->credentials = optarg; break;
        case 'u': o->insecure_public = 1; break;
        case 'C': case 'P': case 'I': case 'R': case 'H': case 'B':
            if (parse_limit(ch, optarg, &o->limits))
                return -1;
            break;
        case 'K':
            if (strcmp(optarg, "simulated") && strcmp(optarg, "wall")) {
                fprintf(stderr, "dss-emulator: --clock wants wall or simulated, got '%s'\n", optarg);
                return -1;
            }
            o->simulated = !strcmp(optarg, "simulated");
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
    /* Anyone who can reach a public address could otherwise read and change every resource. */
    if (!dss_guard_is_loopback(o->host) && o->auth != DSS_AUTH_VERIFY && !o->insecure_public) {
        fprintf(stderr, "dss-emulator: --listen %s is reachable from other machines; add --auth verify (with "
                        "--credentials FILE), or --insecure-public to serve it without authentication\n", o->host);
        return -1;
    }
    if (o->credentials && o->auth != DSS_AUTH_VERIFY)
        fprintf(stderr, "dss-emulator: --credentials has no effect without --auth verify\n");
    return 0;
}

/* What the start-up line says about who may call. */
static void describe_access(const struct options *o, char *out, size_t n)
{
    int public = !dss_guard_is_loopback(o->host);
    if (o->auth == DSS_AUTH_VERIFY)
        snprintf(out, n, "auth: verify, %zu key pair%s%s", dss_auth_key_count(), dss_auth_key_count() == 1 ? "" : "s",
                 public ? "; PUBLIC address: signed requests only" : "");
    else
        snprintf(out, n, "auth: off%s", public ? "; PUBLIC address WITHOUT authentication (--insecure-public)" : "");
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
    if (o.simulated)
        simclock_init();
    char why[1024];
    if (dss_auth_setup(o.auth, o.credentials, why, sizeof why) != 0) {
        fprintf(stderr, "dss-emulator: --credentials: %s\n", why);
        if (o.ephemeral)
            nftw(o.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 2;
    }
    dss_guard_configure(&o.limits);

    int status = 1;
    struct dss_server_config cfg = {o.host, o.port, o.data_dir, o.threads};
    dss_db_use_image(dss_db_image, dss_db_image_len);
    if (dss_db_open(o.data_dir, !o.ephemeral) == 0 && dss_server_start(&cfg) == 0) {
        char access[160];
        describe_access(&o, access, sizeof access);
        printf("dss-emulator %s listening on http://%s:%d (data: %s%s; %s)\n", DSS_VERSION, cfg.host,
               cfg.port, o.data_dir, o.ephemeral ? ", ephemeral" : "", access);
        fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
        log_info("signal %d: shutting down", sig);
        dss_server_stop();
        status = 0;
    }
    dss_db_close();
    dss_auth_teardown();
    if (o.ephemeral)
        nftw(o.data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
