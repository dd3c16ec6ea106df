/* shim.c -- `dss-scenario-job RUNDIR JOB`: what a job's command is in real mode.
 *
 * The runner submits every job with this command line (`dss-scenario job RUNDIR JOB` runs the
 * same code), so each attempt of a job, wherever the scheduler runs it, comes here on the
 * emulated instance (a dss-worker process; DSS_INSTANCE_ID and DSS_ENDPOINT are in its
 * environment). The shim
 *   1. takes the next attempt number for the job (a counter file under RUNDIR/attempts, locked
 *      with flock, so two instances running the same job count correctly);
 *   2. looks up that attempt's plan (plan.h), which the runner wrote into RUNDIR/jobs/JOB.json;
 *   3. does the work: the job's own command (through /bin/sh), or synthetic work (sleeps the
 *      run time on the emulator clock, prints the output with the success string);
 *   4. carries out the plan's faults at their phase: a Spot interruption or a worker crash of its
 *      own instance through the emulator's control API (then waits to be killed with it), a
 *      non-zero exit, output without the success string;
 *   5. appends attempt.start / attempt.fault / attempt.end events to RUNDIR/events.jsonl (one
 *      write() each, O_APPEND), which the runner copies into the trace.
 * In simulated mode no shim runs: the emulator's simulated workers (emulator/simclock.c) carry
 * out the same plans, with the output this file would print (runner.c, sim_stdout).
 *
 * It is its own small program because it starts once per attempt: dss-scenario links libcurl and
 * with it some forty shared libraries, and loading and relocating them took 21-42 ms of CPU per
 * start on the 2-core machine (perf stat, 2026-11-27; this program: 4-5 ms), more than the
 * emulator, the scheduler and the worker spent on the job together. libcurl is loaded here only for the few attempts that
 * inject a fault (trigger()).
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "plan.h"
#include "proc.h"
#include "runner.h"
#include "scenario.h"

#define SHIM_OUTPUT_MAX (1u << 20)

struct shim {
    const char *dir, *job_id, *instance, *endpoint;
    cJSON *job;        /* RUNDIR/jobs/JOB.json */
    long long start_ms;
    double speed;
    int attempt;
    int events_fd;
};

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 64u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n))
            break;
    fclose(f);
    cJSON *doc = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
    buf_free(&b);
    return doc;
}

static long long vt_now(const struct shim *s)
{
    long long d = proc_wall_ms() - s->start_ms;
    return d < 0 ? 0 : (long long)((double)d * s->speed);
}

static void emit(struct shim *s, const char *kind, cJSON *details)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "vt", (double)vt_now(s));
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "job", s->job_id);
    cJSON_AddNumberToObject(o, "attempt", s->attempt);
    if (s->instance)
        cJSON_AddStringToObject(o, "instance", s->instance);
    cJSON_AddItemToObject(o, "details", details ? details : cJSON_CreateObject());
    char *line = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!line)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL; one write() keeps the line whole under O_APPEND */
    if (s->events_fd >= 0 && write(s->events_fd, line, n + 1) < 0)
        fprintf(stderr, "dss-scenario job: events: %s\n", strerror(errno));
    free(line);
}

/* Next attempt number of the job (1-based). */
static int next_attempt(const struct shim *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/attempts/%s", s->dir, s->job_id);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX)) {
        close(fd);
        return -1;
    }
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    int a = (n > 0 ? (int)strtol(buf, NULL, 10) : 0) + 1;
    int len = snprintf(buf, sizeof buf, "%d\n", a);
    if (pwrite(fd, buf, (size_t)len, 0) != len || ftruncate(fd, len))
        a = -1;
    close(fd); /* releases the lock */
    return a;
}

static void sleep_vt(const struct shim *s, double vt_seconds)
{
    if (vt_seconds > 0)
        proc_sleep_ms((long)(vt_seconds * 1000.0 / s->speed), NULL);
}

/* The libcurl functions trigger() uses, loaded on first use (see the header comment). */
struct curl_api {
    CURL *(*init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    void (*cleanup)(CURL *);
    const char *(*strerror)(CURLcode);
};

static int load_curl(struct curl_api *api, char *err, size_t n)
{
    static void *lib; /* loaded once and kept: the process ends soon after */
    if (!lib)
        lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(err, n, "cannot load libcurl: %s", dlerror());
        return -1;
    }
    /* POSIX lets a dlsym() result be converted to a function pointer; ISO C has no say. */
    api->init = (CURL * (*)(void)) dlsym(lib, "curl_easy_init");
    api->setopt = (CURLcode(*)(CURL *, CURLoption, ...))dlsym(lib, "curl_easy_setopt");
    api->perform = (CURLcode(*)(CURL *))dlsym(lib, "curl_easy_perform");
    api->getinfo = (CURLcode(*)(CURL *, CURLINFO, ...))dlsym(lib, "curl_easy_getinfo");
    api->cleanup = (void (*)(CURL *))dlsym(lib, "curl_easy_cleanup");
    api->strerror = (const char *(*)(CURLcode))dlsym(lib, "curl_easy_strerror");
    if (!api->init || !api->setopt || !api->perform || !api->getinfo || !api->cleanup || !api->strerror) {
        snprintf(err, n, "libcurl.so.4 lacks a curl_easy function");
        return -1;
    }
    return 0;
}

/* Asks the emulator for the fault on our own instance. Returns 0 or -1 (msg in err). */
static int trigger(const struct shim *s, const struct scn_plan *p, char *err, size_t n)
{
    if (!s->endpoint || !s->instance) {
        snprintf(err, n, "no DSS_ENDPOINT/DSS_INSTANCE_ID in the environment");
        return -1;
    }
    char url[1024];
    if (p->hit == SCN_FAULT_SPOT && p->notice_s >= 0)
        snprintf(url, sizeof url, "%s/_dss/faults/spot-interrupt?instance_id=%s&notice_seconds=%g", s->endpoint,
                 s->instance, p->notice_s);
    else if (p->hit == SCN_FAULT_SPOT)
        snprintf(url, sizeof url, "%s/_dss/faults/spot-interrupt?instance_id=%s", s->endpoint, s->instance);
    else
        snprintf(url, sizeof url, "%s/_dss/faults/kill-worker?instance_id=%s", s->endpoint, s->instance);
    struct curl_api curl;
    if (load_curl(&curl, err, n))
        return -1;
    CURL *c = curl.init();
    if (!c) {
        snprintf(err, n, "curl_easy_init failed");
        return -1;
    }
    FILE *sink = fopen("/dev/null", "w");
    curl.setopt(c, CURLOPT_URL, url);
    curl.setopt(c, CURLOPT_POST, 1L);
    curl.setopt(c, CURLOPT_POSTFIELDS, "");
    curl.setopt(c, CURLOPT_TIMEOUT, 20L);
    curl.setopt(c, CURLOPT_NOPROXY, "*");
    if (sink)
        curl.setopt(c, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl.perform(c);
    long status = 0;
    curl.getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl.cleanup(c);
    if (sink)
        fclose(sink);
    /* A worker crash kills us during the call: never reached then. */
    if (rc != CURLE_OK || status != 200) {
        snprintf(err, n, "%s: %s (HTTP %ld)", url, curl.strerror(rc), status);
        return -1;
    }
    return 0;
}

/* Applies the plan's instance fault and waits to die with the instance. Returns only when the
 * fault could not be applied or did not kill us in time. */
static void hit_and_wait(struct shim *s, const struct scn_plan *p)
{
    char err[1200] = "";
    fflush(stdout);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "fault", scn_fault_kind_name(p->hit));
    cJSON_AddStringToObject(d, "phase", scn_phase_name(p->phase));
    emit(s, "attempt.fault", d);
    int rc = trigger(s, p, err, sizeof err);
    if (rc == 0) {
        /* The notice (Spot) or the guard (worker crash) ends us; wait a generous bound. */
        double notice = p->hit == SCN_FAULT_SPOT ? (p->notice_s >= 0 ? p->notice_s : 120.0) : 0;
        proc_sleep_ms((long)((notice + 120.0) * 1000.0 / s->speed) + 30000, NULL);
        snprintf(err, sizeof err, "still alive after the %s", scn_fault_kind_name(p->hit));
    }
    d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "fault", scn_fault_kind_name(p->hit));
    cJSON_AddStringToObject(d, "error", err);
    emit(s, "attempt.fault-failed", d);
    fprintf(stderr, "dss-scenario job: %s\n", err);
    exit(97);
}

/* Masks every occurrence of needle in out (its first byte becomes '#', or '*' if it was '#'). */
static void mask(char *out, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    if (!nl)
        return;
    for (size_t i = 0; i + nl <= len; i++)
        if (!memcmp(out + i, needle, nl))
            out[i] = out[i] == '#' ? '*' : '#';
}

/* Runs the job's own command with /bin/sh, its stdout captured into out. Returns its exit code. */
static int run_command(const char *command, struct buf *out)
{
    int fds[2];
    if (pipe(fds))
        return 126;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return 126;
    }
    char chunk[8192];
    ssize_t n;
    while ((n = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        buf_append(out, chunk, (size_t)n); /* past the cap the rest is dropped, as SSM would */
    }
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return v;
}

int shim_main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: dss-scenario-job RUNDIR JOB  (run by the workers, not by hand)\n");
        return 2;
    }
    struct shim s = {0};
    s.dir = argv[1];
    s.job_id = argv[2];
    s.instance = getenv("DSS_INSTANCE_ID");
    s.endpoint = getenv("DSS_ENDPOINT");
    s.events_fd = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/run.json", s.dir);
    cJSON *run = read_json(path);
    for (const char *p = s.job_id; *p; p++)
        if (*p == '/' || (p == s.job_id && *p == '.')) {
            fprintf(stderr, "dss-scenario job: bad job id\n");
            cJSON_Delete(run);
            return 2;
        }
    snprintf(path, sizeof path, "%s/jobs/%s.json", s.dir, s.job_id);
    s.job = read_json(path);
    if (!run || !s.job) {
        fprintf(stderr, "dss-scenario job: cannot read %s/run.json or %s\n", s.dir, path);
        cJSON_Delete(run);
        cJSON_Delete(s.job);
        return 2;
    }
    s.start_ms = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(run, "start_ms"));
    s.speed = cJSON_GetNumberValue(cJSON_GetObjectItem(run, "speed"));
    if (!(s.speed > 0))
        s.speed = 1;
    if (!s.endpoint)
        s.endpoint = jstr(run, "endpoint");
    snprintf(path, sizeof path, "%s/events.jsonl", s.dir);
    s.events_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    s.attempt = next_attempt(&s);
    if (s.attempt < 1) {
        fprintf(stderr, "dss-scenario job: cannot count attempts of %s\n", s.job_id);
        return 2;
    }
    /* The plan: the runner's for this attempt, else (past the precomputed ones) no faults. */
    struct scn_plan p;
    const cJSON *plans = cJSON_GetObjectItem(s.job, "plans");
    const cJSON *pj = cJSON_GetArrayItem(plans, s.attempt - 1);
    if (!pj || plan_from_json(pj, &p)) {
        memset(&p, 0, sizeof p);
        p.hit = SCN_FAULT__COUNT;
        p.phase = SCN_PHASE_NONE;
        p.notice_s = -1;
        p.runtime_s = cJSON_GetNumberValue(cJSON_GetObjectItem(s.job, "runtime"));
        p.output_bytes = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s.job, "output_bytes"));
    }
    const char *command = jstr(s.job, "command"), *output = jstr(s.job, "output");
    const char *success = jstr(s.job, "success_string");
    if (!success)
        success = "";
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "pid", getpid());
    emit(&s, "attempt.start", d);

    if (p.hit != SCN_FAULT__COUNT && p.phase == SCN_PHASE_QUEUED)
        hit_and_wait(&s, &p);
    struct buf out;
    buf_init(&out, SHIM_OUTPUT_MAX);
    int code;
    if (command) {
        if (p.hit != SCN_FAULT__COUNT && (p.phase == SCN_PHASE_STARTED || p.phase == SCN_PHASE_RUNNING))
            hit_and_wait(&s, &p);
        code = run_command(command, &out);
    } else {
        /* Nothing here may depend on timing (such as the instance): it is part of the record
         * that repeats of a seed compare. */
        buf_printf(&out, "dss-scenario job %s attempt %d\n", s.job_id, s.attempt);
        if (p.hit != SCN_FAULT__COUNT && p.phase != SCN_PHASE_FINISHING) {
            sleep_vt(&s, p.at_s);
            hit_and_wait(&s, &p);
        }
        sleep_vt(&s, p.runtime_s);
        if (output)
            buf_printf(&out, "%s\n", output);
        if (!scn_success_disabled(success))
            buf_printf(&out, "%s\n", success);
        while (out.len < (size_t)p.output_bytes && out.len < SHIM_OUTPUT_MAX - 80)
            buf_puts(&out, (size_t)p.output_bytes - out.len >= 64
                               ? "...............................................................\n"
                               : ".");
        code = 0;
    }
    if (p.omit_success && !scn_success_disabled(success) && out.data)
        mask(out.data, out.len, success);
    if (out.len)
        fwrite(out.data, 1, out.len, stdout);
    fflush(stdout);
    /* An S3 job leaves its result in the working directory; the job's last command syncs it
     * back to the job's folder. */
    const char *via = jstr(s.job, "via");
    if (via && !strcmp(via, "s3")) {
        snprintf(path, sizeof path, "result-%s.output", s.job_id);
        FILE *rf = fopen(path, "w");
        if (rf) {
            if (out.len)
                fwrite(out.data, 1, out.len, rf);
            fclose(rf);
        }
    }
    if (p.hit != SCN_FAULT__COUNT && p.phase == SCN_PHASE_FINISHING)
        hit_and_wait(&s, &p);
    if (p.exit_code) {
        fprintf(stderr, "dss-scenario job: injected failure: exit %d\n", p.exit_code);
        code = p.exit_code;
    }
    int printed = scn_success_disabled(success) ? 1 : (out.data && strstr(out.data, success) != NULL);
    d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "exit_code", code);
    cJSON_AddBoolToObject(d, "success_printed", printed);
    cJSON_AddNumberToObject(d, "output_bytes", (double)out.len);
    emit(&s, "attempt.end", d);
    buf_free(&out);
    cJSON_Delete(run);
    cJSON_Delete(s.job);
    if (s.events_fd >= 0)
        close(s.events_fd);
    return code;
}
