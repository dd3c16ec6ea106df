/* runner.c -- `dss-scenario run` and `replay`, real and simulated mode; see runner.h for the outline.
 *
 * One thread and one loop (every 100 ms): submit the jobs that are due, copy the job shim's
 * events into the trace, sample the queues and instances, play the scaler, fire the faults
 * whose time or progress point has come, and decide whether the run is over. Everything the
 * run starts is a struct proc (proc.h); every exit path of run_one() stops them, and a second
 * Ctrl-C SIGKILLs every child at once.
 *
 * Time in the trace ("vt") is the emulator clock: wall milliseconds since the run started times
 * the clock speed (the emulator runs its clock at that speed from its own start, a few
 * milliseconds earlier). The shim computes the same from RUNDIR/run.json.
 *
 * Simulated mode runs the same loop on the emulator's virtual clock (dss-emulator --clock
 * simulated, emulator/simclock.c): the runner and dss-scheduler (--clock) are the barrier's two
 * participants; instead of sleeping 100 ms the runner sleeps on the barrier until its next
 * sample, and vt is the emulator's now minus its start. Each job's command is "dss-sim-job ID"
 * and the emulator's simulated workers carry out the same plans the job shim would (the runner
 * posts them to /_dss/sim/jobs before the scheduler starts, see sim_post_jobs), reporting
 * attempts as sim.attempt.* events that become the same attempt.* trace lines. Nothing in the
 * trace depends on wall time then (no run directory, no wall seconds), so a seed gives the same
 * trace SHA-256 every time, which --repeat checks.
 */
#include "runner.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "http.h"
#include "plan.h"
#include "proc.h"
#include "report.h"
#include "rng.h"
#include "scenario.h"
#include "trace.h"
#include "util.h"

#define LOOP_MS 100
#define SAMPLE_MS 500
#define DRAIN_WALL_MS 60000
#define EXTRA_PLANS 16 /* plans precomputed beyond retry + 1 (attempts that spend no retry) */
#define MAX_ARMED 56   /* the emulator holds 64 armed faults; keep a margin */
#define SIM_SAMPLE_MS 5000   /* simulated mode: the runner wakes (samples, scales) every 5 s of vt */
#define SIM_JOBS_PER_POST 500

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (g_stop) { /* the second one: no more waiting */
        proc_kill_all();
        _exit(130);
    }
    g_stop = 1;
}

struct inst {
    char id[32];
    char state[24];
    int launch_index;
    int pid;
};

struct run {
    const struct run_options *o;
    struct scenario *s;
    const cJSON *replay;          /* replay: {job: {attempt: plan}} */
    char dir[PATH_MAX];
    char bin[PATH_MAX];
    char workflow[PATH_MAX];      /* "" : the scheduler's built-in seed workflow */
    char endpoint[64];
    int port;
    struct proc emu, sched;
    struct http h;
    struct trace trace;
    long long start_wall;
    /* stack */
    char q_jobs[512], q_fin[512], q_fail[512], q_s3[512];
    char bucket[64];
    /* progress */
    size_t next_submit;           /* jobs in submit order */
    size_t *order;
    long submitted;
    long s3_jobs, s3_triggered;   /* S3 jobs, and how many the trigger has turned into messages */
    long fin_msgs, fail_msgs, visible, inflight;
    long last_attempt_events;
    FILE *events;
    long events_pos;
    long long emu_seq;
    struct inst *inst;
    size_t n_inst, cap_inst;
    int *workers_seen;
    size_t n_workers_seen, cap_workers_seen;
    int running_instances, live_instances;
    long long next_sample, next_scaler_vt, quiet_since;
    long long *spot_tick;         /* per fault: last instance tick evaluated */
    int *system_done;             /* per fault: 0 pending, 1 done */
    int api_armed;
    int emu_restarting;
    char end_reason[64];
    cJSON *notes;                 /* strings for the report and summary */
    int tty;
    /* simulated mode */
    int sim;
    long long sim_start, sim_now;   /* the emulator's clock at registration, and at the last wake */
};

/* ============================================================================================
 * Small helpers
 * ============================================================================================ */

/* snprintf for messages: a long path may cut a message short, and that is fine. */
static void seterr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static long long vt_now(const struct run *r)
{
    if (r->sim)
        return r->sim_now - r->sim_start;
    long long d = proc_wall_ms() - r->start_wall;
    return d < 0 ? 0 : (long long)((double)d * r->s->clock_speed);
}

static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct run *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(r->notes, cJSON_CreateString(msg));
    if (!r->o->quiet)
        fprintf(stderr, "%sdss-scenario: %s\n", r->tty ? "\r\033[K" : "", msg);
}

static long tev(struct run *r, const char *kind, const char *job, int attempt, const char *instance, cJSON *d)
{
    return trace_add(&r->trace, vt_now(r), kind, job, attempt, instance, d);
}

int runner_bin_dir(char *out, size_t n)
{
    const char *env = getenv("DSS_BIN");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(out, n, "%s", self);
    return 0;
}

/* Single-quotes s for /bin/sh. */
static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) ? -1 : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ============================================================================================
 * The emulator and the stack
 * ============================================================================================ */

static int start_emulator(struct run *r, char *err, size_t n)
{
    char exe[PATH_MAX + 32], listen[64], data[PATH_MAX + 16], speed[32], log[PATH_MAX + 16], seed[32];
    snprintf(exe, sizeof exe, "%s/dss-emulator", r->bin);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", r->port);
    snprintf(data, sizeof data, "%s/emulator", r->dir);
    snprintf(speed, sizeof speed, "%g", r->s->clock_speed);
    snprintf(log, sizeof log, "%s/emulator.log", r->dir);
    snprintf(seed, sizeof seed, "DSS_SEED=%llu", (unsigned long long)r->s->seed);
    char *argv[] = {exe, "--listen", listen, "--data-dir", data, "--clock-speed", speed, "--log-level", "warn",
                    r->sim ? "--clock" : NULL, "simulated", NULL};
    /* The runner's environment plus DSS_SEED (instance and command ids from the seed) and the
     * scenario's emulator settings -- as environment, so they hold from the first moment and
     * again after a restart (settings made through /_dss/settings live in memory only). */
    const struct scenario *s = r->s;
    char set[5][64];
    int ns = 0;
    struct { const char *name; double v; } t[] = {{"DSS_EC2_BOOT_MS", s->boot_delay_s},
                                                  {"DSS_EC2_STATUS_MS", s->status_delay_s},
                                                  {"DSS_EC2_SHUTDOWN_MS", s->shutdown_delay_s},
                                                  {"DSS_EC2_SPOT_NOTICE_MS", s->spot_notice_s}};
    for (int i = 0; i < 4; i++)
        if (t[i].v >= 0)
            snprintf(set[ns++], sizeof set[0], "%s=%lld", t[i].name, (long long)(t[i].v * 1000));
    static const char *const dead[] = {"timeout", "missing", "terminated"};
    if (s->ssm_dead_agent >= 0)
        snprintf(set[ns++], sizeof set[0], "DSS_SSM_DEAD_AGENT=%s", dead[s->ssm_dead_agent]);
    extern char **environ;
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **env = calloc(ne + 2 + (size_t)ns, sizeof *env);
    if (!env) {
        seterr(err, n, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "DSS_SEED=", 9) && strncmp(environ[i], "DSS_EC2_", 8) &&
            strncmp(environ[i], "DSS_SSM_DEAD_AGENT=", 19))
            env[k++] = environ[i];
    env[k++] = seed;
    for (int i = 0; i < ns; i++)
        env[k++] = set[i];
    int rc = proc_start(&r->emu, "dss-emulator", argv, env, log, 1, err, n);
    free(env);
    if (rc)
        return -1;
    char line[512];
    if (proc_read_line(&r->emu, line, sizeof line, 30) < 0) {
        seterr(err, n, "dss-emulator did not report its address within 30 s (log: %s)", log);
        proc_stop(&r->emu, SIGKILL, 1);
        return -1;
    }
    const char *p = strstr(line, "http://");
    const char *colon = p ? strchr(p + 7, ':') : NULL;
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (port <= 0 || port > 65535) {
        seterr(err, n, "dss-emulator said '%.200s', not its address", line);
        proc_stop(&r->emu, SIGKILL, 1);
        return -1;
    }
    r->port = (int)port;
    snprintf(r->endpoint, sizeof r->endpoint, "http://127.0.0.1:%d", r->port);
    snprintf(r->h.base, sizeof r->h.base, "%s", r->endpoint);
    for (int i = 0; i < 100; i++) {
        cJSON *hres = http_control(&r->h, "GET", "/_dss/health");
        if (hres) {
            cJSON_Delete(hres);
            return 0;
        }
        proc_sleep_ms(50, NULL);
    }
    seterr(err, n, "dss-emulator at %s does not answer /_dss/health: %s", r->endpoint, r->h.err);
    return -1;
}

static int create_queue(struct run *r, const char *name, char *url, size_t url_len)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueName", name);
    cJSON *res = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.CreateQueue", p);
    const char *u = res ? cJSON_GetStringValue(cJSON_GetObjectItem(res, "QueueUrl")) : NULL;
    if (u)
        snprintf(url, url_len, "%s", u);
    cJSON_Delete(res);
    return u ? 0 : -1;
}

static int query_ok(struct run *r, const char *service, const char *version, const char *action,
                    const char *const *params)
{
    xmlDocPtr d = aws_query(&r->h, service, version, action, params);
    if (!d)
        return -1;
    xmlFreeDoc(d);
    return 0;
}

static int setup_stack(struct run *r, char *err, size_t n)
{
    const struct scenario *s = r->s;
    char name[256];
    const char *suffix[] = {"-job-queue", "-job-queue-finished", "-job-queue-failed"};
    char *urls[] = {r->q_jobs, r->q_fin, r->q_fail};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", s->stack, suffix[i]);
        if (create_queue(r, name, urls[i], sizeof r->q_jobs)) {
            seterr(err, n, "creating queue %s: %s", name, r->h.err);
            return -1;
        }
    }
    snprintf(name, sizeof name, "%s-job-monitoring", s->stack);
    cJSON *p = cJSON_Parse("{\"KeySchema\":[{\"AttributeName\":\"job_id\",\"KeyType\":\"HASH\"}],"
                           "\"AttributeDefinitions\":[{\"AttributeName\":\"job_id\",\"AttributeType\":\"S\"}],"
                           "\"BillingMode\":\"PAY_PER_REQUEST\"}");
    cJSON_AddStringToObject(p, "TableName", name);
    cJSON *res = aws_json(&r->h, "dynamodb", "1.0", "DynamoDB_20120810.CreateTable", p);
    if (!res) {
        seterr(err, n, "creating table %s: %s", name, r->h.err);
        return -1;
    }
    cJSON_Delete(res);
    /* Launch template: instances carry the tag that enrols them (key S, value S-job-queue). */
    char lt[128], tagv[256], type[96], maxs[16];
    snprintf(lt, sizeof lt, "LaunchTemplateName=%s-launch-template", s->stack);
    snprintf(tagv, sizeof tagv, "LaunchTemplateData.TagSpecification.1.Tag.1.Value=%s-job-queue", s->stack);
    char tagk[160];
    snprintf(tagk, sizeof tagk, "LaunchTemplateData.TagSpecification.1.Tag.1.Key=%s", s->stack);
    snprintf(type, sizeof type, "LaunchTemplateData.InstanceType=%s", s->instance_types[0]);
    const char *ltp[] = {lt, "LaunchTemplateData.ImageId=ami-0123456789abcdef0", type,
                         "LaunchTemplateData.TagSpecification.1.ResourceType=instance", tagk, tagv, NULL};
    if (query_ok(r, "ec2", "2016-11-15", "CreateLaunchTemplate", ltp)) {
        seterr(err, n, "creating the launch template: %s", r->h.err);
        return -1;
    }
    /* The group: Spot through a MixedInstancesPolicy (0% on-demand), or on-demand. */
    char group[160], ltname[160];
    snprintf(group, sizeof group, "AutoScalingGroupName=%s-autoscaling-group", s->stack);
    snprintf(maxs, sizeof maxs, "MaxSize=%d", s->max_instances);
    const char *gp[32] = {group, "MinSize=0", maxs, "DesiredCapacity=0", NULL};
    int k = 4;
    char zone[64];
    snprintf(zone, sizeof zone, "AvailabilityZones.member.1=%sa", s->region);
    gp[k++] = zone;
    char overrides[16][128];
    if (s->market == SCN_MARKET_SPOT) {
        snprintf(ltname, sizeof ltname,
                 "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateName=%s-launch-template",
                 s->stack);
        gp[k++] = ltname;
        gp[k++] = "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version=$Latest";
        gp[k++] = "MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity=0";
        gp[k++] = "MixedInstancesPolicy.InstancesDistribution.SpotAllocationStrategy=capacity-optimized";
        for (size_t i = 0; i < s->n_instance_types && i < 16 && k < 30; i++) {
            snprintf(overrides[i], sizeof overrides[i],
                     "MixedInstancesPolicy.LaunchTemplate.Overrides.member.%zu.InstanceType=%s", i + 1,
                     s->instance_types[i]);
            gp[k++] = overrides[i];
        }
    } else {
        snprintf(ltname, sizeof ltname, "LaunchTemplate.LaunchTemplateName=%s-launch-template", s->stack);
        gp[k++] = ltname;
        gp[k++] = "LaunchTemplate.Version=$Latest";
    }
    gp[k] = NULL;
    if (query_ok(r, "autoscaling", "2011-01-01", "CreateAutoScalingGroup", gp)) {
        seterr(err, n, "creating the Auto Scaling group: %s", r->h.err);
        return -1;
    }
    /* S3 resource automation: a bucket whose .sh uploads notify a queue. */
    int any_s3 = 0;
    for (size_t i = 0; i < s->n_jobs && !any_s3; i++)
        any_s3 = s->jobs[i].via == SCN_VIA_S3;
    if (any_s3) {
        snprintf(r->bucket, sizeof r->bucket, "%s-jobs", s->stack);
        for (char *c = r->bucket; *c; c++)
            *c = *c == '_' ? '-' : (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        snprintf(name, sizeof name, "%s-s3-events", s->stack);
        if (create_queue(r, name, r->q_s3, sizeof r->q_s3)) {
            seterr(err, n, "creating queue %s: %s", name, r->h.err);
            return -1;
        }
        char path[128];
        snprintf(path, sizeof path, "/%s", r->bucket);
        if (http_do(&r->h, "PUT", path, "s3", NULL, NULL, 0) || r->h.status != 200) {
            seterr(err, n, "creating bucket %s: HTTP %ld %s", r->bucket, r->h.status, r->h.err);
            return -1;
        }
        char xml[1024];
        snprintf(xml, sizeof xml,
                 "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><QueueConfiguration>"
                 "<Queue>arn:aws:sqs:%s:000000000000:%s</Queue><Event>s3:ObjectCreated:*</Event>"
                 "<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.sh</Value></FilterRule></S3Key></Filter>"
                 "</QueueConfiguration></NotificationConfiguration>",
                 s->region, name);
        snprintf(path, sizeof path, "/%s?notification=", r->bucket);
        if (http_do(&r->h, "PUT", path, "s3", NULL, xml, strlen(xml)) || r->h.status != 200) {
            seterr(err, n, "bucket notifications: HTTP %ld %s %.200s", r->h.status, r->h.err,
                     r->h.resp.data ? r->h.resp.data : "");
            return -1;
        }
    }
    return 0;
}

/* ============================================================================================
 * Faults the runner applies
 * ============================================================================================ */

static const char *error_code(const struct scn_fault *f)
{
    if (!strcmp(f->error, "throttling"))
        return NULL; /* the service's own throttling error */
    if (!strcmp(f->error, "500"))
        return !strcmp(f->service, "dynamodb") ? "InternalServerError"
               : !strcmp(f->service, "ec2")    ? "InternalError"
                                               : "InternalFailure";
    return f->error;
}

static int arm_one(struct run *r, const struct scn_fault *f, long nth, long count, char *err, size_t n)
{
    char q[512];
    const char *code = f->kind == SCN_FAULT_API_ERROR ? error_code(f) : NULL;
    if (f->kind == SCN_FAULT_LATENCY)
        snprintf(q, sizeof q, "/_dss/faults/api?service=%s&operation=%s&nth=%ld&count=%ld&action=delay&delay_ms=%ld",
                 f->service, f->operation, nth, count, f->delay_ms);
    else if (!strcmp(f->error, "reset")) /* the connection closed without an answer */
        snprintf(q, sizeof q, "/_dss/faults/api?service=%s&operation=%s&nth=%ld&count=%ld&action=reset",
                 f->service, f->operation, nth, count);
    else
        snprintf(q, sizeof q, "/_dss/faults/api?service=%s&operation=%s&nth=%ld&count=%ld&action=error%s%s",
                 f->service, f->operation, nth, count, code ? "&error=" : "", code ? code : "");
    cJSON *res = http_control(&r->h, "POST", q);
    if (!res) {
        seterr(err, n, "arming %s: %s", q, r->h.err);
        return -1;
    }
    cJSON_Delete(res);
    r->api_armed++;
    return 0;
}

/* Arms every API fault. A rate fault is decided call by call from the seed (keyed on the call's
 * number), and the failing calls are armed as runs of consecutive calls. The emulator stops
 * looking at later faults once one fires for a call, so each run's nth counts only the calls
 * the earlier runs of the same rule did not take. */
static int arm_api_faults(struct run *r, char *err, size_t n)
{
    const struct scenario *s = r->s;
    for (size_t i = 0; i < s->n_faults; i++) {
        const struct scn_fault *f = &s->faults[i];
        if (f->kind != SCN_FAULT_API_ERROR && f->kind != SCN_FAULT_LATENCY)
            continue;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "index", (double)i);
        cJSON_AddStringToObject(d, "type", scn_fault_kind_name(f->kind));
        cJSON_AddStringToObject(d, "service", f->service);
        cJSON_AddStringToObject(d, "operation", f->operation);
        if (f->nth > 0) {
            if (arm_one(r, f, f->nth, f->count, err, n)) {
                cJSON_Delete(d);
                return -1;
            }
            cJSON_AddNumberToObject(d, "nth", (double)f->nth);
            cJSON_AddNumberToObject(d, "count", (double)f->count);
            tev(r, "fault.armed", NULL, 0, NULL, d);
            continue;
        }
        char key[160];
        if (f->name)
            snprintf(key, sizeof key, "fault:%s", f->name);
        else
            snprintf(key, sizeof key, "fault:%s#%zu", scn_fault_kind_name(f->kind), i);
        char id[160];
        snprintf(id, sizeof id, "%s/%s", f->service, f->operation);
        cJSON *calls = cJSON_AddArrayToObject(d, "calls");
        long taken = 0, run_start = 0, run_len = 0, armed = 0, truncated = 0;
        for (long c = 1; c <= f->calls + 1; c++) {
            int hit = c <= f->calls && rng_key_uniform(s->seed, key, id, (uint64_t)c, 0) < f->rate;
            if (hit) {
                cJSON_AddItemToArray(calls, cJSON_CreateNumber((double)c));
                if (run_len == 0)
                    run_start = c;
                run_len++;
                continue;
            }
            if (run_len == 0)
                continue;
            if (r->api_armed >= MAX_ARMED) {
                truncated++;
            } else {
                if (arm_one(r, f, run_start - taken, run_len, err, n)) {
                    cJSON_Delete(d);
                    return -1;
                }
                armed++;
            }
            taken += run_len;
            run_len = 0;
        }
        tev(r, "fault.armed", NULL, 0, NULL, d);
        if (truncated)
            note(r, "faults[%zu]: %ld run(s) of failing calls not armed: the emulator holds at most 64 armed faults",
                 i, truncated);
    }
    return 0;
}

/* ============================================================================================
 * The scheduler
 * ============================================================================================ */

static int start_scheduler(struct run *r, char *err, size_t n)
{
    char exe[PATH_MAX + 32], poll[32], journal[PATH_MAX + 16], log[PATH_MAX + 16], waiter[32];
    snprintf(exe, sizeof exe, "%s/dss-scheduler", r->bin);
    snprintf(poll, sizeof poll, "%g", r->s->poll_interval_s);
    /* WaitEC2's waiters poll DescribeInstances/DescribeInstanceStatus every --waiter-delay: in
     * real mode every second (at most the poll interval) so that runs on wall time stay short;
     * on the simulated clock at boto3's own 15 s, which costs no wall time -- at 1 s every
     * instance's two minutes of boot and status checks made 120 requests, 40 % of a simulated
     * day's requests. */
    snprintf(waiter, sizeof waiter, "%g", r->sim ? 15.0 : r->s->poll_interval_s < 1 ? r->s->poll_interval_s : 1.0);
    snprintf(journal, sizeof journal, "%s/journal.db", r->dir);
    snprintf(log, sizeof log, "%s/scheduler.log", r->dir);
    char *argv[20] = {exe, "run", "--stack", r->s->stack, "--poll-interval", poll, "--journal", journal,
                      "--waiter-delay", waiter, "--log-format", "json", "--history", (char *)r->s->history};
    int k = 14;
    if (r->workflow[0]) {
        argv[k++] = "--workflow";
        argv[k++] = r->workflow;
    }
    if (r->sim) { /* the emulator's clock; the runner registered it as a participant already */
        argv[k++] = "--clock";
        argv[k++] = r->endpoint;
    }
    argv[k] = NULL;
    char ep[128], region[64], dr[64];
    snprintf(ep, sizeof ep, "AWS_ENDPOINT_URL=%s", r->endpoint);
    snprintf(region, sizeof region, "AWS_REGION=%s", r->s->region);
    snprintf(dr, sizeof dr, "AWS_DEFAULT_REGION=%s", r->s->region);
    char home[PATH_MAX + 8];
    snprintf(home, sizeof home, "HOME=%s", r->dir);
    char *env[] = {ep, region, dr, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/dev/null",
                   "AWS_SHARED_CREDENTIALS_FILE=/dev/null", home, "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8",
                   NULL};
    if (access(exe, X_OK)) {
        seterr(err, n, "%s: %s (build dss-scheduler first)", exe, strerror(errno));
        return -1;
    }
    return proc_start(&r->sched, "dss-scheduler", argv, env, log, 0, err, n);
}

/* ============================================================================================
 * Jobs
 * ============================================================================================ */

static const char *job_key(const struct run *r, const struct scn_job *j, char *buf, size_t n)
{
    if (j->via == SCN_VIA_S3) {
        snprintf(buf, n, "jobs/%s/run.sh", j->id);
        return buf;
    }
    (void)r;
    return j->id;
}

/* The plans of a job's attempts: recorded ones in a replay, else decided now. */
static cJSON *job_plans(const struct run *r, const struct scn_job *j)
{
    cJSON *arr = cJSON_CreateArray();
    int n = j->retry + 1 + EXTRA_PLANS;
    const cJSON *rec = r->replay ? cJSON_GetObjectItemCaseSensitive(r->replay, j->id) : NULL;
    for (int a = 1; a <= n; a++) {
        char k[16];
        snprintf(k, sizeof k, "%d", a);
        const cJSON *pj = rec ? cJSON_GetObjectItemCaseSensitive(rec, k) : NULL;
        struct scn_plan p;
        if (pj && plan_from_json(pj, &p) == 0) {
            cJSON_AddItemToArray(arr, cJSON_Duplicate(pj, 1));
            continue;
        }
        plan_attempt(r->s, j, a, &p);
        cJSON_AddItemToArray(arr, plan_to_json(&p));
    }
    return arr;
}

static int write_job_files(struct run *r, char *err, size_t n)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs", r->dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/attempts", r->dir);
    mkdir(path, 0755);
    for (size_t i = 0; i < r->s->n_jobs; i++) {
        const struct scn_job *j = &r->s->jobs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", j->id);
        if (j->command)
            cJSON_AddStringToObject(o, "command", j->command);
        if (j->output)
            cJSON_AddStringToObject(o, "output", j->output);
        cJSON_AddStringToObject(o, "success_string", j->success_string);
        cJSON_AddNumberToObject(o, "runtime", j->runtime_s);
        cJSON_AddNumberToObject(o, "output_bytes", (double)j->output_bytes);
        cJSON_AddStringToObject(o, "via", j->via == SCN_VIA_S3 ? "s3" : "sqs");
        cJSON_AddItemToObject(o, "plans", job_plans(r, j));
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        snprintf(path, sizeof path, "%s/jobs/%s.json", r->dir, j->id);
        int rc = text ? write_file(path, text) : -1;
        free(text);
        if (rc) {
            seterr(err, n, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    cJSON *run = cJSON_CreateObject();
    cJSON_AddNumberToObject(run, "start_ms", (double)r->start_wall);
    cJSON_AddNumberToObject(run, "speed", r->s->clock_speed);
    cJSON_AddStringToObject(run, "endpoint", r->endpoint);
    char *text = cJSON_PrintUnformatted(run);
    cJSON_Delete(run);
    snprintf(path, sizeof path, "%s/run.json", r->dir);
    int rc = text ? write_file(path, text) : -1;
    free(text);
    if (rc)
        seterr(err, n, "%s: %s", path, strerror(errno));
    return rc;
}

static char *shim_command(const struct run *r, const struct scn_job *j)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    if (r->sim) { /* what the emulator's simulated workers run (emulator/simclock.c) */
        buf_printf(&b, "dss-sim-job %s", j->id);
        return buf_steal(&b);
    }
    char exe[PATH_MAX + 32];
    snprintf(exe, sizeof exe, "%s/dss-scenario-job", r->bin);
    shell_quote(&b, exe);
    buf_puts(&b, " ");
    shell_quote(&b, r->dir);
    buf_puts(&b, " ");
    shell_quote(&b, j->id);
    return buf_steal(&b);
}

static cJSON *job_message(const struct run *r, const struct scn_job *j, const char *job_id, cJSON *commands)
{
    cJSON *m = cJSON_CreateObject();
    char retry[16];
    snprintf(retry, sizeof retry, "%d", j->retry);
    cJSON_AddStringToObject(m, "job_id", job_id);
    cJSON_AddStringToObject(m, "retry", retry);
    cJSON_AddStringToObject(m, "job_success_string", j->success_string);
    cJSON_AddStringToObject(m, "ssm_document", j->ssm_document);
    cJSON_AddItemToObject(m, "commands", commands);
    (void)r;
    return m;
}

static int submit_sqs_batch(struct run *r, int n_jobs, cJSON *const *bodies)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", r->q_jobs);
    cJSON *entries = cJSON_AddArrayToObject(p, "Entries");
    for (int i = 0; i < n_jobs; i++) {
        cJSON *e = cJSON_CreateObject();
        char id[16];
        snprintf(id, sizeof id, "m%d", i);
        cJSON_AddStringToObject(e, "Id", id);
        char *body = cJSON_PrintUnformatted(bodies[i]);
        cJSON_AddStringToObject(e, "MessageBody", body ? body : "{}");
        free(body);
        cJSON_AddItemToArray(entries, e);
    }
    /* Throttling injected into SendMessageBatch hits the runner too: try a few times. */
    for (int attempt = 0; attempt < 8 && !g_stop; attempt++) {
        cJSON *res = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.SendMessageBatch", cJSON_Duplicate(p, 1));
        int failed = res ? cJSON_GetArraySize(cJSON_GetObjectItem(res, "Failed")) : -1;
        cJSON_Delete(res);
        if (failed == 0) {
            cJSON_Delete(p);
            return 0;
        }
        proc_sleep_ms(200L << (attempt < 4 ? attempt : 4), &g_stop);
    }
    cJSON_Delete(p);
    return -1;
}

static int s3_put(struct run *r, const char *key, const char *body)
{
    char path[1024];
    snprintf(path, sizeof path, "/%s/%s", r->bucket, key);
    for (int attempt = 0; attempt < 8 && !g_stop; attempt++) {
        if (http_do(&r->h, "PUT", path, "s3", NULL, body, strlen(body)) == 0 && r->h.status == 200)
            return 0;
        proc_sleep_ms(200L << (attempt < 4 ? attempt : 4), &g_stop);
    }
    return -1;
}

static int cmp_submit(const void *a, const void *b, void *ctx)
{
    const struct scenario *s = ctx;
    const struct scn_job *x = &s->jobs[*(const size_t *)a], *y = &s->jobs[*(const size_t *)b];
    if (x->submit_at_s != y->submit_at_s)
        return x->submit_at_s < y->submit_at_s ? -1 : 1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

/* Submits every job whose time has come, ten to a batch. */
static int submit_due(struct run *r, char *err, size_t n)
{
    long long vt = vt_now(r);
    while (r->next_submit < r->s->n_jobs && !g_stop) {
        cJSON *bodies[10];
        int nb = 0;
        while (nb < 10 && r->next_submit < r->s->n_jobs) {
            const struct scn_job *j = &r->s->jobs[r->order[r->next_submit]];
            if (j->submit_at_s * 1000 > (double)vt)
                break;
            r->next_submit++;
            char *cmd = shim_command(r, j);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddNumberToObject(d, "retry", j->retry);
            cJSON_AddStringToObject(d, "success_string", j->success_string);
            cJSON_AddStringToObject(d, "via", j->via == SCN_VIA_S3 ? "s3" : "sqs");
            if (j->command)
                cJSON_AddStringToObject(d, "command", j->command);
            if (j->via == SCN_VIA_S3) {
                char key[512], input[512];
                job_key(r, j, key, sizeof key);
                snprintf(input, sizeof input, "jobs/%s/input.txt", j->id);
                struct buf script;
                buf_init(&script, 1 << 16);
                buf_printf(&script, "#!/bin/sh\nexec %s\n", cmd);
                int rc = s3_put(r, input, j->id) || s3_put(r, key, script.data); /* the script last */
                buf_free(&script);
                free(cmd);
                cJSON_AddStringToObject(d, "key", key);
                tev(r, "job.submit", j->id, 0, NULL, d);
                if (rc) {
                    seterr(err, n, "uploading %s to s3://%s: %s (HTTP %ld)", key, r->bucket, r->h.err, r->h.status);
                    return -1;
                }
                r->submitted++;
                continue;
            }
            cJSON *cmds = cJSON_CreateArray();
            cJSON_AddItemToArray(cmds, cJSON_CreateString(cmd));
            free(cmd);
            bodies[nb++] = job_message(r, j, j->id, cmds);
            tev(r, "job.submit", j->id, 0, NULL, d);
        }
        if (nb > 0) {
            int rc = submit_sqs_batch(r, nb, bodies);
            for (int i = 0; i < nb; i++)
                cJSON_Delete(bodies[i]);
            if (rc) {
                seterr(err, n, "sending jobs to %s: %s", r->q_jobs, r->h.err);
                return -1;
            }
            r->submitted += nb;
        }
        if (nb < 10)
            break;
    }
    return 0;
}

/* The seed's S3 trigger: an ObjectCreated event for KEY (ending in .sh) becomes a job whose id
 * is the key and whose commands fetch the folder, run the script and upload the results. */
static void s3_trigger(struct run *r)
{
    for (int round = 0; round < 10; round++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "QueueUrl", r->q_s3);
        cJSON_AddNumberToObject(p, "MaxNumberOfMessages", 10);
        cJSON_AddNumberToObject(p, "WaitTimeSeconds", 0);
        cJSON *res = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.ReceiveMessage", p);
        const cJSON *msgs = res ? cJSON_GetObjectItem(res, "Messages") : NULL;
        if (!cJSON_GetArraySize(msgs)) {
            cJSON_Delete(res);
            return;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            cJSON *ev = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body")));
            const cJSON *rec;
            cJSON_ArrayForEach(rec, cJSON_GetObjectItem(ev, "Records")) {
                const char *key = cJSON_GetStringValue(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "s3"), "object"), "key"));
                if (!key || strncmp(key, "jobs/", 5))
                    continue;
                char id[256];
                const char *slash = strchr(key + 5, '/');
                if (!slash || (size_t)(slash - key - 5) >= sizeof id)
                    continue;
                snprintf(id, sizeof id, "%.*s", (int)(slash - key - 5), key + 5);
                const struct scn_job *j = scenario_job(r->s, id);
                if (!j)
                    continue;
                char c[7][1024];
                const char *w = "$HOME/dss-work";
                snprintf(c[0], sizeof c[0], "mkdir -p %s", w);
                snprintf(c[1], sizeof c[1], "cd %s", w);
                snprintf(c[2], sizeof c[2], "sudo aws s3 sync s3://%s/jobs/%s/ ./", r->bucket, id);
                snprintf(c[3], sizeof c[3], "sudo chmod +x %s/run.sh", w);
                snprintf(c[4], sizeof c[4], "sudo %s/run.sh", w);
                snprintf(c[5], sizeof c[5], "sudo aws s3 sync ./ s3://%s/jobs/%s/", r->bucket, id);
                snprintf(c[6], sizeof c[6], "sudo rm %s/*.*", w);
                cJSON *cmds = cJSON_CreateArray();
                for (int i = 0; i < 7; i++)
                    cJSON_AddItemToArray(cmds, cJSON_CreateString(c[i]));
                cJSON *body = job_message(r, j, key, cmds);
                char *text = cJSON_PrintUnformatted(body);
                cJSON_Delete(body);
                cJSON *sp = cJSON_CreateObject();
                cJSON_AddStringToObject(sp, "QueueUrl", r->q_jobs);
                cJSON_AddStringToObject(sp, "MessageBody", text ? text : "{}");
                free(text);
                cJSON *sr = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.SendMessage", sp);
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "key", key);
                cJSON_AddBoolToObject(d, "sent", sr != NULL);
                if (!sr)
                    cJSON_AddStringToObject(d, "error", r->h.err);
                tev(r, "s3.trigger", id, 0, NULL, d);
                if (sr)
                    r->s3_triggered++;
                cJSON_Delete(sr);
            }
            cJSON_Delete(ev);
            cJSON *dp = cJSON_CreateObject();
            cJSON_AddStringToObject(dp, "QueueUrl", r->q_s3);
            cJSON_AddStringToObject(dp, "ReceiptHandle", cJSON_GetStringValue(cJSON_GetObjectItem(m, "ReceiptHandle")));
            cJSON_Delete(aws_json(&r->h, "sqs", "1.0", "AmazonSQS.DeleteMessage", dp));
        }
        cJSON_Delete(res);
    }
}

/* ============================================================================================
 * Sampling
 * ============================================================================================ */

/* Copies the job shim's new events into the trace (whole lines only). */
static void read_shim_events(struct run *r)
{
    if (!r->events) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/events.jsonl", r->dir);
        r->events = fopen(path, "r");
        if (!r->events)
            return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    fseek(r->events, r->events_pos, SEEK_SET);
    while ((len = getline(&line, &cap, r->events)) > 0) {
        if (line[len - 1] != '\n')
            break; /* a line still being written: read it next time */
        r->events_pos += len;
        struct trace_event e;
        char err[256];
        if (trace_parse_line(line, (size_t)len - 1, 0, &e, err, sizeof err)) {
            note(r, "job shim wrote a bad event: %s", err);
            continue;
        }
        if (!strcmp(e.kind, "attempt.start") && e.job) {
            /* The decision that shaped this attempt, as the shim found it. */
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/jobs/%s.json", r->dir, e.job);
            const struct scn_job *j = scenario_job(r->s, e.job);
            if (j) {
                cJSON *plans = job_plans(r, j);
                cJSON *pj = cJSON_DetachItemFromArray(plans, e.attempt - 1);
                cJSON_Delete(plans);
                if (pj)
                    trace_add(&r->trace, e.vt_ms, "decision", e.job, e.attempt, NULL, pj);
            }
        }
        r->last_attempt_events++;
        trace_add(&r->trace, e.vt_ms, e.kind, e.job, e.attempt, e.instance, e.details);
        e.details = NULL;
        trace_event_free(&e);
    }
    clearerr(r->events);
    free(line);
}

static struct inst *inst_find(struct run *r, const char *id)
{
    for (size_t i = 0; i < r->n_inst; i++)
        if (!strcmp(r->inst[i].id, id))
            return &r->inst[i];
    return NULL;
}

static void remember_worker(struct run *r, int pid)
{
    for (size_t i = 0; i < r->n_workers_seen; i++)
        if (r->workers_seen[i] == pid)
            return;
    if (r->n_workers_seen == r->cap_workers_seen) {
        size_t nc = r->cap_workers_seen ? r->cap_workers_seen * 2 : 64;
        int *nw = realloc(r->workers_seen, nc * sizeof *nw);
        if (!nw)
            return;
        r->workers_seen = nw;
        r->cap_workers_seen = nc;
    }
    r->workers_seen[r->n_workers_seen++] = pid;
}

static int cmp_inst_json(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "instance_id")),
                  cJSON_GetStringValue(cJSON_GetObjectItem(y, "instance_id")));
}

static void poll_instances(struct run *r)
{
    cJSON *res = http_control(&r->h, "GET", "/_dss/instances");
    const cJSON *arr = res ? cJSON_GetObjectItem(res, "instances") : NULL;
    if (!arr) {
        cJSON_Delete(res);
        return;
    }
    int n = cJSON_GetArraySize(arr), k = 0;
    const cJSON **sorted = calloc(n ? (size_t)n : 1, sizeof(const cJSON *));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (cJSON_GetStringValue(cJSON_GetObjectItem(it, "instance_id")) && sorted)
            sorted[k++] = it;
    }
    if (sorted)
        qsort(sorted, (size_t)k, sizeof(const cJSON *), cmp_inst_json); /* new instances get launch indexes in id order */
    r->running_instances = 0;
    r->live_instances = 0;
    for (int i = 0; i < k; i++) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(sorted[i], "instance_id"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(sorted[i], "state"));
        const cJSON *pid = cJSON_GetObjectItem(sorted[i], "pid");
        if (!st)
            continue;
        if (!strcmp(st, "running"))
            r->running_instances++;
        if (strcmp(st, "terminated") && strcmp(st, "stopped"))
            r->live_instances++;
        struct inst *in = inst_find(r, id);
        if (!in) {
            if (r->n_inst == r->cap_inst) {
                size_t nc = r->cap_inst ? r->cap_inst * 2 : 32;
                struct inst *ni = realloc(r->inst, nc * sizeof *ni);
                if (!ni)
                    continue;
                r->inst = ni;
                r->cap_inst = nc;
            }
            in = &r->inst[r->n_inst];
            memset(in, 0, sizeof *in);
            snprintf(in->id, sizeof in->id, "%s", id);
            in->launch_index = (int)r->n_inst++;
        }
        if (cJSON_IsNumber(pid) && pid->valueint > 0) {
            in->pid = pid->valueint;
            remember_worker(r, pid->valueint);
        }
        if (strcmp(in->state, st)) {
            snprintf(in->state, sizeof in->state, "%s", st);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "state", st);
            cJSON_AddNumberToObject(d, "launch_index", in->launch_index);
            const char *lc = cJSON_GetStringValue(cJSON_GetObjectItem(sorted[i], "lifecycle"));
            if (lc)
                cJSON_AddStringToObject(d, "lifecycle", lc);
            tev(r, "instance.state", NULL, 0, id, d);
        }
    }
    free(sorted);
    cJSON_Delete(res);
}

static int sim_attempt_event(struct run *r, const char *type, const cJSON *detail);

static void poll_emulator_events(struct run *r)
{
    char q[64];
    snprintf(q, sizeof q, "/_dss/events?since=%lld", r->emu_seq);
    cJSON *res = http_control(&r->h, "GET", q);
    const cJSON *e;
    cJSON *events = res ? cJSON_GetObjectItem(res, "events") : NULL;
    cJSON_ArrayForEach(e, events) {
        double seq = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq"));
        if (seq > r->emu_seq)
            r->emu_seq = (long long)seq;
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
        cJSON *detail = cJSON_GetObjectItem(e, "detail");
        if (type && r->sim && sim_attempt_event(r, type, detail))
            continue;
        const char *inst = cJSON_GetStringValue(cJSON_GetObjectItem(detail, "instance_id"));
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", type ? type : "?");
        cJSON_AddNumberToObject(d, "seq", seq);
        if (detail)
            cJSON_AddItemToObject(d, "detail", cJSON_Duplicate(detail, 1));
        tev(r, "emulator.event", NULL, 0, inst, d);
    }
    cJSON_Delete(res);
}

static int queue_counts(struct run *r, const char *url, long *visible, long *inflight)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON *names = cJSON_AddArrayToObject(p, "AttributeNames");
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateNumberOfMessages"));
    cJSON_AddItemToArray(names, cJSON_CreateString("ApproximateNumberOfMessagesNotVisible"));
    cJSON *res = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.GetQueueAttributes", p);
    if (!res)
        return -1;
    const cJSON *a = cJSON_GetObjectItem(res, "Attributes");
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(a, "ApproximateNumberOfMessages"));
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(a, "ApproximateNumberOfMessagesNotVisible"));
    *visible = v ? strtol(v, NULL, 10) : 0;
    if (inflight)
        *inflight = f ? strtol(f, NULL, 10) : 0;
    cJSON_Delete(res);
    return 0;
}

static void sample(struct run *r)
{
    read_shim_events(r);
    poll_instances(r);
    poll_emulator_events(r);
    if (r->q_s3[0])
        s3_trigger(r);
    long v = 0, f = 0, fin = 0, fail = 0;
    /* Injected SQS faults hit these calls too; a failed sample keeps the previous numbers. */
    if (queue_counts(r, r->q_jobs, &v, &f) == 0) {
        r->visible = v;
        r->inflight = f;
    }
    if (queue_counts(r, r->q_fin, &fin, NULL) == 0)
        r->fin_msgs = fin;
    if (queue_counts(r, r->q_fail, &fail, NULL) == 0)
        r->fail_msgs = fail;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "visible", (double)r->visible);
    cJSON_AddNumberToObject(d, "inflight", (double)r->inflight);
    cJSON_AddNumberToObject(d, "finished", (double)r->fin_msgs);
    cJSON_AddNumberToObject(d, "failed", (double)r->fail_msgs);
    cJSON_AddNumberToObject(d, "instances", r->running_instances);
    tev(r, "queue.depth", NULL, 0, NULL, d);
}

/* ============================================================================================
 * Scaler and whole-system faults
 * ============================================================================================ */

static void set_desired(struct run *r, long desired)
{
    char group[160], cap[48];
    snprintf(group, sizeof group, "AutoScalingGroupName=%s-autoscaling-group", r->s->stack);
    snprintf(cap, sizeof cap, "DesiredCapacity=%ld", desired);
    const char *p[] = {group, cap, "HonorCooldown=false", NULL};
    if (query_ok(r, "autoscaling", "2011-01-01", "SetDesiredCapacity", p))
        note(r, "scaler: SetDesiredCapacity(%ld): %s", desired, r->h.err);
}

/* The seed's scaler: desired = min(visible messages, max), 0 when the queue is empty. */
static void scaler_tick(struct run *r)
{
    long long vt = vt_now(r);
    if (r->s->scaler != SCN_SCALER_SEED || vt < r->next_scaler_vt)
        return;
    r->next_scaler_vt = vt + (long long)(r->s->scaler_interval_s * 1000);
    long v = 0;
    if (queue_counts(r, r->q_jobs, &v, NULL))
        return;
    long desired = v < r->s->max_instances ? v : r->s->max_instances;
    set_desired(r, desired);
}

/* Spot interruptions of any running instance: p per interval, keyed on (launch index, tick). */
static void instance_spot_ticks(struct run *r)
{
    long long vt = vt_now(r);
    for (size_t i = 0; i < r->s->n_faults; i++) {
        const struct scn_fault *f = &r->s->faults[i];
        if (f->kind != SCN_FAULT_SPOT || f->job || !f->target_instances)
            continue;
        long long tick = vt / (long long)(f->interval_s * 1000);
        if (tick <= r->spot_tick[i])
            continue;
        r->spot_tick[i] = tick;
        char key[160];
        if (f->name)
            snprintf(key, sizeof key, "fault:%s", f->name);
        else
            snprintf(key, sizeof key, "fault:%s#%zu", scn_fault_kind_name(f->kind), i);
        for (size_t k = 0; k < r->n_inst; k++) {
            struct inst *in = &r->inst[k];
            if (strcmp(in->state, "running"))
                continue;
            if (rng_key_uniform(r->s->seed, key, NULL, (uint64_t)in->launch_index, (uint64_t)tick) >= f->rate)
                continue;
            char q[256];
            if (f->notice_s >= 0)
                snprintf(q, sizeof q, "/_dss/faults/spot-interrupt?instance_id=%s&notice_seconds=%g", in->id,
                         f->notice_s);
            else
                snprintf(q, sizeof q, "/_dss/faults/spot-interrupt?instance_id=%s", in->id);
            cJSON *res = http_control(&r->h, "POST", q);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "type", "spot_interruption");
            cJSON_AddNumberToObject(d, "index", (double)i);
            cJSON_AddNumberToObject(d, "launch_index", in->launch_index);
            cJSON_AddNumberToObject(d, "tick", (double)tick);
            if (!res)
                cJSON_AddStringToObject(d, "error", r->h.err);
            tev(r, "system.fault", NULL, 0, in->id, d);
            cJSON_Delete(res);
        }
    }
}

static int due(const struct run *r, const struct scn_at *at)
{
    long done = r->fin_msgs + r->fail_msgs;
    if (at->jobs_done >= 0)
        return done >= at->jobs_done;
    if (at->fraction >= 0)
        return (double)done >= at->fraction * (double)r->s->n_jobs;
    return (double)vt_now(r) >= at->time_s * 1000;
}

static int system_faults(struct run *r, char *err, size_t n)
{
    for (size_t i = 0; i < r->s->n_faults; i++) {
        const struct scn_fault *f = &r->s->faults[i];
        if ((f->kind != SCN_FAULT_EMULATOR_RESTART && f->kind != SCN_FAULT_SCHEDULER_KILL) || r->system_done[i] ||
            !due(r, &f->at))
            continue;
        r->system_done[i] = 1;
        int emu = f->kind == SCN_FAULT_EMULATOR_RESTART;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", scn_fault_kind_name(f->kind));
        cJSON_AddStringToObject(d, "phase", "kill");
        cJSON_AddNumberToObject(d, "index", (double)i);
        tev(r, "system.fault", NULL, 0, NULL, d);
        proc_stop(emu ? &r->emu : &r->sched, SIGKILL, 5);
        proc_sleep_ms((long)(f->downtime_s * 1000 / r->s->clock_speed), &g_stop);
        int rc = emu ? start_emulator(r, err, n) : start_scheduler(r, err, n);
        if (rc == 0 && emu) {
            r->api_armed = 0;
            r->emu_seq = 0;
            if (arm_api_faults(r, err, n) == 0)
                note(r, "emulator restarted: API faults were armed again, counting calls from the restart");
        }
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", scn_fault_kind_name(f->kind));
        cJSON_AddStringToObject(d, "phase", rc ? "restart-failed" : "restarted");
        cJSON_AddNumberToObject(d, "index", (double)i);
        tev(r, "system.fault", NULL, 0, NULL, d);
        if (rc)
            return -1;
    }
    return 0;
}

/* ============================================================================================
 * Final state
 * ============================================================================================ */

/* The job_id in a finished/failed message body: the body itself, or (the seed's failed queue
 * gets the raw message) a JSON string inside it. */
static const char *find_job_id(const cJSON *v, int depth, cJSON **owned)
{
    if (!v || depth > 4)
        return NULL;
    if (cJSON_IsObject(v)) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(v, "job_id"));
        if (id)
            return id;
        const cJSON *c;
        cJSON_ArrayForEach(c, v) {
            const char *x = find_job_id(c, depth + 1, owned);
            if (x)
                return x;
        }
    } else if (cJSON_IsString(v) && (v->valuestring[0] == '{' || v->valuestring[0] == '[')) {
        cJSON *inner = cJSON_Parse(v->valuestring);
        if (!inner)
            return NULL;
        const char *x = find_job_id(inner, depth + 1, owned);
        if (x && !*owned) {
            *owned = inner;
            return x;
        }
        cJSON_Delete(inner);
    }
    return NULL;
}

/* The index of the job whose key (job_key()) is key, or -1: a binary search by id (lookups in
 * a cJSON object of 100,000 jobs, one per job, made the end of a simulated day quadratic). */
static long job_of_key(const struct run *r, const char *key)
{
    char buf[512], id[512];
    long k = scenario_job_index(r->s, key);
    if (k >= 0 && !strcmp(job_key(r, &r->s->jobs[k], buf, sizeof buf), key))
        return k;
    size_t n = strlen(key);
    if (n > 12 && n < sizeof id + 12 && !strncmp(key, "jobs/", 5) && !strcmp(key + n - 7, "/run.sh")) {
        snprintf(id, sizeof id, "%.*s", (int)(n - 12), key + 5); /* S3 automation's jobs/ID/run.sh */
        k = scenario_job_index(r->s, id);
        if (k >= 0 && !strcmp(job_key(r, &r->s->jobs[k], buf, sizeof buf), key))
            return k;
    }
    return -1;
}

/* What the end of a run found of one job: its record in the table, its messages on the
 * finished and failed queues. */
struct job_end {
    const cJSON *record;
    long finished, failed;
};

/* Receives every message of a queue (they stay invisible for an hour) and counts them per job
 * (ends: one per job; failed: the failed queue's). */
static void drain_queue(struct run *r, const char *url, struct job_end *ends, int failed)
{
    int empty = 0;
    for (int round = 0; round < 100000 && empty < 3; round++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "QueueUrl", url);
        cJSON_AddNumberToObject(p, "MaxNumberOfMessages", 10);
        cJSON_AddNumberToObject(p, "VisibilityTimeout", 3600);
        cJSON_AddNumberToObject(p, "WaitTimeSeconds", 0);
        cJSON *res = aws_json(&r->h, "sqs", "1.0", "AmazonSQS.ReceiveMessage", p);
        const cJSON *msgs = res ? cJSON_GetObjectItem(res, "Messages") : NULL;
        if (!res) {
            empty++;
            proc_sleep_ms(100, NULL);
            continue;
        }
        if (!cJSON_GetArraySize(msgs)) {
            empty++;
            cJSON_Delete(res);
            continue;
        }
        empty = 0;
        const cJSON *m;
        cJSON_ArrayForEach(m, msgs) {
            cJSON *body = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body")));
            cJSON *owned = NULL;
            const char *id = find_job_id(body, 0, &owned);
            long k = id && ends ? job_of_key(r, id) : -1;
            if (k >= 0)
                ++*(failed ? &ends[k].failed : &ends[k].finished);
            cJSON_Delete(owned);
            cJSON_Delete(body);
        }
        cJSON_Delete(res);
    }
}

/* The job table as {job_id: {attribute: string}}. */
static cJSON *scan_table(struct run *r)
{
    cJSON *out = cJSON_CreateObject();
    char table[128];
    snprintf(table, sizeof table, "%s-job-monitoring", r->s->stack);
    cJSON *start = NULL;
    for (int page = 0; page < 100000; page++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "TableName", table);
        if (start)
            cJSON_AddItemToObject(p, "ExclusiveStartKey", start);
        start = NULL;
        cJSON *res = NULL;
        for (int attempt = 0; attempt < 5 && !res; attempt++) {
            res = aws_json(&r->h, "dynamodb", "1.0", "DynamoDB_20120810.Scan", cJSON_Duplicate(p, 1));
            if (!res)
                proc_sleep_ms(200, NULL);
        }
        cJSON_Delete(p);
        if (!res) {
            note(r, "scanning %s: %s", table, r->h.err);
            break;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItem(res, "Items")) {
            cJSON *flat = cJSON_CreateObject();
            const cJSON *attr;
            cJSON_ArrayForEach(attr, item) {
                const char *sv = cJSON_GetStringValue(cJSON_GetObjectItem(attr, "S"));
                const char *nv = cJSON_GetStringValue(cJSON_GetObjectItem(attr, "N"));
                if (sv || nv)
                    cJSON_AddStringToObject(flat, attr->string, sv ? sv : nv);
            }
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(flat, "job_id"));
            if (id && !cJSON_GetObjectItemCaseSensitive(out, id))
                cJSON_AddItemToObject(out, id, flat);
            else
                cJSON_Delete(flat);
        }
        cJSON *lek = cJSON_GetObjectItem(res, "LastEvaluatedKey");
        if (lek)
            start = cJSON_Duplicate(lek, 1);
        cJSON_Delete(res);
        if (!start)
            break;
    }
    return out;
}

static int s3_has_result(struct run *r, const struct scn_job *j)
{
    char path[1024];
    snprintf(path, sizeof path, "/%s/jobs/%s/result-%s.output", r->bucket, j->id, j->id);
    return http_do(&r->h, "HEAD", path, "s3", NULL, NULL, 0) == 0 && r->h.status == 200;
}

static long group_desired(struct run *r)
{
    char group[160];
    snprintf(group, sizeof group, "AutoScalingGroupNames.member.1=%s-autoscaling-group", r->s->stack);
    const char *p[] = {group, NULL};
    xmlDocPtr d = aws_query(&r->h, "autoscaling", "2011-01-01", "DescribeAutoScalingGroups", p);
    if (!d)
        return -1;
    char *v = xml_find_text(xmlDocGetRootElement(d), "DesiredCapacity");
    long n = v ? strtol(v, NULL, 10) : -1;
    xmlFree(v);
    xmlFreeDoc(d);
    return n;
}

static void collect_final(struct run *r)
{
    read_shim_events(r);
    cJSON *table = scan_table(r);
    struct job_end *ends = calloc(r->s->n_jobs ? r->s->n_jobs : 1, sizeof *ends); /* by job index */
    const cJSON *rec;
    cJSON_ArrayForEach(rec, table) {
        long k = ends ? job_of_key(r, rec->string) : -1;
        if (k >= 0 && !ends[k].record)
            ends[k].record = rec;
    }
    drain_queue(r, r->q_fin, ends, 0);
    drain_queue(r, r->q_fail, ends, 1);
    /* Attempts started per job, for the outcome table. */
    long *attempts = calloc(r->s->n_jobs ? r->s->n_jobs : 1, sizeof *attempts);
    for (size_t i = 0; i < r->trace.n && attempts; i++) {
        const struct trace_event *e = &r->trace.ev[i];
        if (!strcmp(e->kind, "attempt.start") && e->job) {
            long k = scenario_job_index(r->s, e->job);
            if (k >= 0 && e->attempt > attempts[k])
                attempts[k] = e->attempt;
        }
    }
    for (size_t i = 0; i < r->next_submit; i++) {
        const struct scn_job *j = &r->s->jobs[r->order[i]];
        rec = ends ? ends[r->order[i]].record : NULL;
        cJSON *d = cJSON_CreateObject();
        const char *st = rec ? cJSON_GetStringValue(cJSON_GetObjectItem(rec, "Status")) : NULL;
        if (st)
            cJSON_AddStringToObject(d, "status", st);
        const char *ret = rec ? cJSON_GetStringValue(cJSON_GetObjectItem(rec, "Retries")) : NULL;
        if (ret)
            cJSON_AddStringToObject(d, "retries", ret);
        const char *out = rec ? cJSON_GetStringValue(cJSON_GetObjectItem(rec, "Output_Logs")) : NULL;
        if (out)
            cJSON_AddStringToObject(d, "output", out);
        const char *inst = rec ? cJSON_GetStringValue(cJSON_GetObjectItem(rec, "instance_id")) : NULL;
        if (inst)
            cJSON_AddStringToObject(d, "instance_id", inst);
        cJSON_AddNumberToObject(d, "finished", ends ? (double)ends[r->order[i]].finished : 0);
        cJSON_AddNumberToObject(d, "failed", ends ? (double)ends[r->order[i]].failed : 0);
        cJSON_AddNumberToObject(d, "attempts", attempts ? (double)attempts[r->order[i]] : 0);
        if (j->via == SCN_VIA_S3)
            cJSON_AddBoolToObject(d, "s3_result", s3_has_result(r, j));
        if (rec)
            cJSON_AddItemToObject(d, "record", cJSON_Duplicate(rec, 1));
        tev(r, "final.job", j->id, 0, NULL, d);
    }
    free(attempts);
    free(ends);
    cJSON_Delete(table);
}

/* The group's final state and the worker processes still alive. Called with the emulator
 * still up (desired capacity, instances), then again for the workers once it is stopped. */
static cJSON *final_group(struct run *r)
{
    cJSON *d = cJSON_CreateObject();
    long desired = group_desired(r);
    cJSON_AddNumberToObject(d, "desired", desired < 0 ? 0 : (double)desired);
    if (desired < 0)
        cJSON_AddStringToObject(d, "desired_error", r->h.err);
    poll_instances(r);
    cJSON *live = cJSON_AddArrayToObject(d, "instances");
    for (size_t i = 0; i < r->n_inst; i++)
        if (strcmp(r->inst[i].state, "terminated") && strcmp(r->inst[i].state, "stopped"))
            cJSON_AddItemToArray(live, cJSON_CreateString(r->inst[i].id));
    return d;
}

static void add_surviving_workers(struct run *r, cJSON *d)
{
    cJSON *workers = cJSON_AddArrayToObject(d, "workers");
    for (size_t i = 0; i < r->n_workers_seen; i++) {
        int pid = r->workers_seen[i];
        char path[64], comm[64] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* gone */
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        if (strcmp(comm, "dss-worker"))
            continue; /* the pid was reused by something else */
        cJSON *w = cJSON_CreateObject();
        cJSON_AddNumberToObject(w, "pid", pid);
        for (size_t k = 0; k < r->n_inst; k++)
            if (r->inst[k].pid == pid)
                cJSON_AddStringToObject(w, "instance_id", r->inst[k].id);
        cJSON_AddItemToArray(workers, w);
        kill(-pid, SIGKILL); /* found it: it goes now (a worker leads its own group) */
        kill(pid, SIGKILL);
    }
}

/* ============================================================================================
 * Simulated mode: the barrier and the job models (emulator/simclock.c)
 * ============================================================================================ */

/* Registers a participant of the emulator's barrier; the runner registers dss-scheduler too,
 * before starting it, so the clock cannot move while the scheduler is still starting. */
static int sim_register(struct run *r, const char *who, char *err, size_t n)
{
    char q[128];
    snprintf(q, sizeof q, "/_dss/clock/register?participant=%s", who);
    cJSON *res = http_control(&r->h, "POST", q);
    const cJSON *now = cJSON_GetObjectItem(res, "now_ms");
    if (!cJSON_IsNumber(now)) {
        seterr(err, n, "registering %s on the emulator's clock: %s", who, r->h.err);
        cJSON_Delete(res);
        return -1;
    }
    if (!r->sim_start)
        r->sim_start = r->sim_now = (long long)now->valuedouble;
    cJSON_Delete(res);
    return 0;
}

/* Sleeps on the barrier until the emulator's clock reaches vt (ms since the start). A sleep is
 * cut every 10 s of wall time to look at the children and the time limit, then taken again
 * (asking again for the same time is harmless). Returns 0, or -1 when the caller should look. */
static int sim_sleep_until(struct run *r, long long vt)
{
    char q[128];
    snprintf(q, sizeof q, "/_dss/clock/sleep?participant=runner&until=%lld", r->sim_start + vt);
    long saved = r->h.timeout_ms;
    r->h.timeout_ms = 10000;
    cJSON *res = http_control(&r->h, "GET", q);
    r->h.timeout_ms = saved;
    const cJSON *now = cJSON_GetObjectItem(res, "now_ms");
    int rc = -1;
    if (cJSON_IsNumber(now) && (long long)now->valuedouble > r->sim_now) {
        r->sim_now = (long long)now->valuedouble;
        rc = 0;
    } else if (cJSON_IsNumber(now)) {
        rc = 0;
    }
    cJSON_Delete(res);
    return rc;
}

/* What the job shim would print for this attempt (shim.c, synthetic work), and whether the
 * success string is in it. A job's own command does not run in simulated mode: its model is the
 * synthetic work. */
static char *sim_stdout(const struct scn_job *j, int attempt, const struct scn_plan *p, int *printed)
{
    struct buf out;
    buf_init(&out, 1u << 20);
    buf_printf(&out, "dss-scenario job %s attempt %d\n", j->id, attempt);
    if (j->output)
        buf_printf(&out, "%s\n", j->output);
    if (!scn_success_disabled(j->success_string))
        buf_printf(&out, "%s\n", j->success_string);
    while (out.len < (size_t)p->output_bytes && out.len < (1u << 20) - 80)
        buf_puts(&out, (size_t)p->output_bytes - out.len >= 64
                           ? "...............................................................\n"
                           : ".");
    char *text = buf_steal(&out);
    if (!text)
        text = strdup("");
    size_t len = strlen(text), nl = strlen(j->success_string);
    if (p->omit_success && !scn_success_disabled(j->success_string) && nl)
        for (size_t i = 0; i + nl <= len; i++) /* as the shim masks it */
            if (!memcmp(text + i, j->success_string, nl))
                text[i] = text[i] == '#' ? '*' : '#';
    *printed = scn_success_disabled(j->success_string) || strstr(text, j->success_string) != NULL;
    return text;
}

static cJSON *sim_attempt_json(const struct scn_job *j, int attempt, const struct scn_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    int printed = 0;
    char *text = sim_stdout(j, attempt, p, &printed);
    cJSON_AddNumberToObject(o, "runtime", p->runtime_s);
    cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
    cJSON_AddStringToObject(o, "stdout", text);
    cJSON_AddBoolToObject(o, "printed", printed);
    free(text);
    if (p->hit != SCN_FAULT__COUNT) {
        cJSON_AddStringToObject(o, "hit", scn_fault_kind_name(p->hit));
        cJSON_AddStringToObject(o, "phase", scn_phase_name(p->phase));
        cJSON_AddNumberToObject(o, "at", p->at_s);
        if (p->notice_s >= 0)
            cJSON_AddNumberToObject(o, "notice", p->notice_s);
    }
    return o;
}

/* One job's model: the fault-free attempt as the default (its stdout with "{attempt}" for the
 * number, exact for attempts 1-9), and every planned attempt that differs from it. */
static cJSON *sim_job_model(const struct run *r, const struct scn_job *j)
{
    cJSON *plans = job_plans(r, j);
    struct scn_plan clean;
    memset(&clean, 0, sizeof clean);
    clean.runtime_s = j->runtime_s;
    clean.output_bytes = j->output_bytes;
    clean.hit = SCN_FAULT__COUNT;
    clean.phase = SCN_PHASE_NONE;
    clean.notice_s = -1;
    cJSON *o = sim_attempt_json(j, 1, &clean);
    cJSON_AddStringToObject(o, "id", j->id);
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(o, "stdout"));
    char head[600];
    snprintf(head, sizeof head, "dss-scenario job %s attempt 1\n", j->id);
    if (text && !strncmp(text, head, strlen(head))) {
        char *tmpl = NULL;
        if (asprintf(&tmpl, "dss-scenario job %s attempt {attempt}\n%s", j->id, text + strlen(head)) >= 0) {
            cJSON_ReplaceItemInObject(o, "stdout", cJSON_CreateString(tmpl));
            free(tmpl);
        }
    }
    cJSON *attempts = cJSON_AddObjectToObject(o, "attempts");
    int a = 0;
    const cJSON *pj;
    cJSON_ArrayForEach(pj, plans) {
        a++;
        struct scn_plan p;
        if (plan_from_json(pj, &p))
            continue;
        if (p.hit == SCN_FAULT__COUNT && !p.exit_code && !p.omit_success && p.runtime_s == clean.runtime_s &&
            p.output_bytes == clean.output_bytes && a < 10)
            continue;
        char k[16];
        snprintf(k, sizeof k, "%d", a);
        cJSON_AddItemToObject(attempts, k, sim_attempt_json(j, a, &p));
    }
    cJSON_Delete(plans);
    return o;
}

/* Tells the emulator's simulated workers every job's model, SIM_JOBS_PER_POST at a time. */
static int sim_post_jobs(struct run *r, char *err, size_t n)
{
    for (size_t i = 0; i < r->s->n_jobs; i += SIM_JOBS_PER_POST) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(doc, "jobs");
        for (size_t k = i; k < r->s->n_jobs && k < i + SIM_JOBS_PER_POST; k++)
            cJSON_AddItemToArray(list, sim_job_model(r, &r->s->jobs[k]));
        char *body = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        int rc = body ? http_do(&r->h, "POST", "/_dss/sim/jobs", NULL, NULL, body, strlen(body)) : -1;
        free(body);
        if (rc || r->h.status != 200) {
            seterr(err, n, "posting job models to /_dss/sim/jobs: HTTP %ld %s %.300s", r->h.status, r->h.err,
                   r->h.resp.data ? r->h.resp.data : "");
            return -1;
        }
    }
    return 0;
}

/* What simulated mode cannot do, said before anything starts. */
static int sim_supported(const struct scenario *s, char *err, size_t n)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (s->jobs[i].via == SCN_VIA_S3) {
            seterr(err, n, "jobs: %s: S3 resource automation needs real workers (mode \"real\")", s->jobs[i].id);
            return -1;
        }
    for (size_t i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == SCN_FAULT_EMULATOR_RESTART || s->faults[i].kind == SCN_FAULT_SCHEDULER_KILL) {
            seterr(err, n, "faults[%zu]: %s is not available in simulated mode (the clock's barrier lives in "
                   "the emulator and counts on the scheduler)", i, scn_fault_kind_name(s->faults[i].kind));
            return -1;
        }
    return 0;
}

/* A sim.attempt.* event of the emulator as the job shim's attempt.* trace line. Returns 1 if
 * it was one. */
static int sim_attempt_event(struct run *r, const char *type, const cJSON *detail)
{
    if (strncmp(type, "sim.attempt.", 12))
        return 0;
    const char *job = cJSON_GetStringValue(cJSON_GetObjectItem(detail, "job"));
    const char *inst = cJSON_GetStringValue(cJSON_GetObjectItem(detail, "instance_id"));
    int attempt = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(detail, "attempt"));
    long long vt = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(detail, "ms")) - r->sim_start;
    const char *what = type + 12;
    if (!job || attempt < 1)
        return 1;
    cJSON *d = cJSON_CreateObject();
    if (!strcmp(what, "start")) {
        const struct scn_job *j = scenario_job(r->s, job);
        if (j) { /* the decision that shaped this attempt, as read_shim_events records it */
            cJSON *plans = job_plans(r, j);
            cJSON *pj = cJSON_DetachItemFromArray(plans, attempt - 1);
            cJSON_Delete(plans);
            if (pj)
                trace_add(&r->trace, vt, "decision", job, attempt, NULL, pj);
        }
        cJSON_AddBoolToObject(d, "simulated", 1);
    } else {
        static const char *const keep[] = {"fault", "phase", "exit_code", "success_printed", "output_bytes", NULL};
        for (int i = 0; keep[i]; i++) {
            const cJSON *v = cJSON_GetObjectItem(detail, keep[i]);
            if (v)
                cJSON_AddItemToObject(d, keep[i], cJSON_Duplicate(v, 1));
        }
    }
    char kind[32];
    snprintf(kind, sizeof kind, "attempt.%s", what);
    r->last_attempt_events++;
    trace_add(&r->trace, vt, kind, job, attempt, inst, d);
    return 1;
}

/* ============================================================================================
 * One run
 * ============================================================================================ */

static void progress(struct run *r)
{
    if (!r->tty || r->o->quiet)
        return;
    fprintf(stderr, "\r\033[K[%s] %5.1fs wall, %6.1fs clock | submitted %ld/%zu | queue %ld+%ld | finished %ld failed %ld | instances %d",
            r->s->name, (double)(proc_wall_ms() - r->start_wall) / 1000.0, (double)vt_now(r) / 1000.0, r->submitted,
            r->s->n_jobs, r->visible, r->inflight, r->fin_msgs, r->fail_msgs, r->running_instances);
    fflush(stderr);
}

static int resolve_workflow(struct run *r, char *err, size_t n)
{
    const char *w = r->o->workflow ? r->o->workflow : r->s->workflow;
    r->workflow[0] = '\0';
    if (!strcmp(w, "seed"))
        return 0; /* dss-scheduler's built-in copy of the seed workflow */
    char cand[4][PATH_MAX * 2];
    int nc = 0;
    const char *src = getenv("DSS_SOURCE");
    char sdir[PATH_MAX];
    snprintf(sdir, sizeof sdir, "%s", r->o->scenario_path ? r->o->scenario_path : ".");
    char *slash = strrchr(sdir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(sdir, sizeof sdir, ".");
    if (!strchr(w, '/') && !strstr(w, ".json")) { /* a name: fixtures/workflows/NAME.asl.json */
        if (src)
            snprintf(cand[nc++], sizeof cand[0], "%s/fixtures/workflows/%s.asl.json", src, w);
        snprintf(cand[nc++], sizeof cand[0], "%s/../../fixtures/workflows/%s.asl.json", r->bin, w);
        snprintf(cand[nc++], sizeof cand[0], "%s/../fixtures/workflows/%s.asl.json", sdir, w);
    } else {
        if (w[0] == '/')
            snprintf(cand[nc++], sizeof cand[0], "%s", w);
        else {
            snprintf(cand[nc++], sizeof cand[0], "%s/%s", sdir, w);
            snprintf(cand[nc++], sizeof cand[0], "%s", w);
        }
    }
    for (int i = 0; i < nc; i++)
        if (access(cand[i], R_OK) == 0 && realpath(cand[i], r->workflow))
            return 0;
    seterr(err, n, "workflow '%s': no such file (looked for %s%s)", w, cand[0], nc > 1 ? ", ..." : "");
    return -1;
}

static const char *ordinal_path(const char *path, int i, int n, char *buf, size_t len)
{
    if (!path || n <= 1)
        return path;
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        snprintf(buf, len, "%.*s-%d%s", (int)(dot - path), path, i + 1, dot);
    else
        snprintf(buf, len, "%s-%d", path, i + 1);
    return buf;
}

struct outcome {
    int rc;                 /* 0 ok, 1 expectations broken, 2 could not run, 130 interrupted */
    cJSON *histories;
    char hash[65];
    cJSON *summary;
};

static void print_summary(const struct run *r, const struct check_result *cr)
{
    const struct scenario *s = r->s;
    printf("dss-scenario: %s (seed %llu, %s mode, workflow %s): %s\n", s->name, (unsigned long long)s->seed,
           s->mode == SCN_MODE_REAL ? "real" : "simulated", r->o->workflow ? r->o->workflow : s->workflow,
           g_stop ? "INTERRUPTED" : cr->n_failures ? "FAILED" : "PASSED"); /* the checks cover what ran */
    printf("  ended: %s; jobs %ld: Successful %ld, Failed %ld, Started %ld, Missing %ld; attempts %ld\n",
           r->end_reason, cr->m.jobs, cr->status[SCN_STATUS_SUCCESSFUL], cr->status[SCN_STATUS_FAILED],
           cr->status[SCN_STATUS_STARTED], cr->status[SCN_STATUS_MISSING], cr->m.attempts);
    printf("  makespan %.1f s, %.1f instance-seconds (%.1f wasted)\n", cr->m.makespan_s, cr->m.instance_s,
           cr->m.wasted_s);
    int any = 0;
    for (int i = 0; i < SCN_INV__COUNT; i++)
        if (cr->broken[i]) {
            printf("  invariant %s: broken %ld time(s)%s\n", scn_invariant_name((enum scn_invariant)i), cr->broken[i],
                   s->expect.inv[i] == SCN_EXPECT_HOLD ? "" : " (the scenario allows or expects this)");
            any = 1;
        }
    if (!any)
        printf("  every invariant holds\n");
    for (size_t i = 0; i < cr->n && i < 10; i++) {
        const struct violation *v = &cr->v[i];
        printf("    %s: %s (trace line%s", scn_invariant_name(v->inv), v->message, v->n_lines == 1 ? "" : "s");
        for (int k = 0; k < v->n_lines; k++)
            printf(" %ld", v->lines[k]);
        printf(")\n");
    }
    if (cr->n > 10)
        printf("    ... %zu more violation(s) in the report\n", cr->n - 10);
    for (size_t i = 0; i < cr->n_failures; i++)
        printf("  expectation broken: %s\n", cr->failures[i]);
    fflush(stdout);
}

static cJSON *summary_json(const struct run *r, const struct check_result *cr, const char *hash)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->s->name);
    cJSON_AddNumberToObject(o, "seed", (double)r->s->seed);
    cJSON_AddStringToObject(o, "workflow", r->o->workflow ? r->o->workflow : r->s->workflow);
    cJSON_AddBoolToObject(o, "passed", cr->n_failures == 0 && !g_stop);
    cJSON_AddStringToObject(o, "end_reason", r->end_reason);
    cJSON_AddStringToObject(o, "trace_sha256", hash);
    cJSON *st = cJSON_AddObjectToObject(o, "status");
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        cJSON_AddNumberToObject(st, scn_status_name((enum scn_status)i), (double)cr->status[i]);
    cJSON *b = cJSON_AddObjectToObject(o, "broken");
    for (int i = 0; i < SCN_INV__COUNT; i++)
        cJSON_AddNumberToObject(b, scn_invariant_name((enum scn_invariant)i), (double)cr->broken[i]);
    cJSON_AddNumberToObject(o, "jobs", (double)cr->m.jobs);
    cJSON_AddNumberToObject(o, "attempts", (double)cr->m.attempts);
    cJSON_AddNumberToObject(o, "lost", (double)cr->m.lost);
    cJSON_AddNumberToObject(o, "false_success", (double)cr->m.false_success);
    cJSON_AddNumberToObject(o, "wasted_s", cr->m.wasted_s);
    cJSON_AddNumberToObject(o, "makespan_s", cr->m.makespan_s);
    cJSON_AddNumberToObject(o, "wall_s", (double)(proc_wall_ms() - r->start_wall) / 1000.0);
    cJSON *f = cJSON_AddArrayToObject(o, "failures");
    for (size_t i = 0; i < cr->n_failures; i++)
        cJSON_AddItemToArray(f, cJSON_CreateString(cr->failures[i]));
    cJSON_AddItemToObject(o, "notes", cJSON_Duplicate(r->notes, 1));
    return o;
}

/* Simulated mode: the runner's next wake (vt): its next sample, or the next job's submit time. */
static long long sim_next_wake(const struct run *r)
{
    long long t = r->next_sample - 1;
    if (r->next_submit < r->s->n_jobs) {
        long long at = (long long)(r->s->jobs[r->order[r->next_submit]].submit_at_s * 1000);
        if (at < t)
            t = at;
    }
    return t > vt_now(r) ? t : vt_now(r) + 1;
}

/* How many of the scheduler's executions are between a failed task and its retry: their newest
 * history event is TaskFailed (a Catch, or the retried task's success, writes the next event at
 * once). Such an execution can still write a job record or put a job back on the queue -- the
 * seed's StartJob, refused by an instance the scaler terminated under it, retries for 14 s before
 * its Catch re-queues the job -- so the run is not quiet while there is one. Read from the
 * scheduler's journal (schema in scheduler/journal.c), read-only; -1 when it cannot be read (on
 * the simulated clock the scheduler holds it exclusively: the virtual quiet window covers it). */
static int retrying_executions(const struct run *r)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/journal.db", r->dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 200) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM executions e WHERE e.status = 'RUNNING' AND (SELECT h.type "
                               "FROM history h WHERE h.exec_id = e.id ORDER BY h.seq DESC LIMIT 1) = 'TaskFailed'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The main loop: until done, quiet, out of time or interrupted. Returns 0, or -1 (err). */
static int run_loop(struct run *r, char *err, size_t n)
{
    long long deadline = proc_mono_ms() + (long long)(r->s->time_limit_s * 1000);
    long long quiet_ms = (long long)(3000 + 3 * r->s->poll_interval_s * 1000 / (r->sim ? 1 : r->s->clock_speed));
    long long drain_until = 0;
    int draining = 0;
    if (r->s->scaler == SCN_SCALER_FIXED)
        set_desired(r, r->s->scaler_instances);
    for (;;) {
        if (g_stop) {
            snprintf(r->end_reason, sizeof r->end_reason, "interrupted");
            return 0;
        }
        proc_drain(&r->emu);
        if (!proc_alive(&r->emu)) {
            seterr(err, n, "dss-emulator exited unexpectedly (status %d; log %s/emulator.log)", r->emu.status, r->dir);
            snprintf(r->end_reason, sizeof r->end_reason, "emulator exited");
            return -1;
        }
        if (!proc_alive(&r->sched)) {
            seterr(err, n, "dss-scheduler exited unexpectedly (status %d; log %s/scheduler.log)", r->sched.status,
                     r->dir);
            snprintf(r->end_reason, sizeof r->end_reason, "scheduler exited");
            return -1;
        }
        if (submit_due(r, err, n))
            return -1;
        /* The loop's time: wall milliseconds, or in simulated mode vt + 1 (never 0: 0 is "unset"). */
        long long now = r->sim ? vt_now(r) + 1 : proc_mono_ms();
        if (now >= r->next_sample) {
            r->next_sample = now + (r->sim ? SIM_SAMPLE_MS : SAMPLE_MS);
            sample(r);
            progress(r);
            if (system_faults(r, err, n))
                return -1;
            instance_spot_ticks(r);
        }
        scaler_tick(r);
        /* S3 jobs count as submitted once the trigger has made their messages. */
        int all_submitted = r->next_submit == r->s->n_jobs && r->s3_triggered >= r->s3_jobs;
        int queue_empty = r->visible == 0 && r->inflight == 0;
        if (!draining && all_submitted && queue_empty && r->fin_msgs + r->fail_msgs >= (long)r->s->n_jobs) {
            draining = 1;
            drain_until = now + DRAIN_WALL_MS;
            snprintf(r->end_reason, sizeof r->end_reason, "all jobs finished");
        }
        /* Quiet: nothing queued, nothing running, no task waiting for a retry, for a while --
         * lost jobs never come back. */
        if (all_submitted && queue_empty && r->live_instances == 0 && retrying_executions(r) <= 0) {
            if (!r->quiet_since)
                r->quiet_since = now;
            if (now - r->quiet_since >= quiet_ms) {
                if (!draining)
                    snprintf(r->end_reason, sizeof r->end_reason, "quiet (nothing queued or running)");
                return 0;
            }
        } else {
            r->quiet_since = 0;
        }
        if (draining && now >= drain_until) {
            note(r, "the group did not drain within %d s after the last job", DRAIN_WALL_MS / 1000);
            return 0;
        }
        if (proc_mono_ms() >= deadline) {
            snprintf(r->end_reason, sizeof r->end_reason, "time limit (%g s)", r->s->time_limit_s);
            return 0;
        }
        if (r->sim)
            sim_sleep_until(r, sim_next_wake(r));
        else
            proc_sleep_ms(LOOP_MS, &g_stop);
    }
}

static struct outcome run_one(const struct run_options *o, struct scenario *s, const cJSON *replay, int index)
{
    struct outcome out = {2, NULL, "", NULL};
    char err[1024] = "";
    struct run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.s = s;
    r.replay = replay;
    r.notes = cJSON_CreateArray();
    r.tty = isatty(2);
    trace_init(&r.trace);
    http_init(&r.h, "http://127.0.0.1:0", s->region);
    r.h.timeout_ms = 30000;
    int ran = 0;
    r.sim = s->mode == SCN_MODE_SIMULATED;
    if (runner_bin_dir(r.bin, sizeof r.bin) || resolve_workflow(&r, err, sizeof err) ||
        (r.sim && sim_supported(s, err, sizeof err)))
        goto fail;
    const char *tmp = getenv("TMPDIR");
    snprintf(r.dir, sizeof r.dir, "%s/dss-scenario-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", s->name);

    char tp[PATH_MAX];
    const char *trace_path = ordinal_path(o->trace_path, index, o->repeat, tp, sizeof tp);
    if (trace_path && trace_open(&r.trace, trace_path)) {
        seterr(err, sizeof err, "%s: %s", trace_path, strerror(errno));
        goto fail;
    }
    r.order = malloc(s->n_jobs * sizeof *r.order);
    r.spot_tick = calloc(s->n_faults + 1, sizeof *r.spot_tick);
    r.system_done = calloc(s->n_faults + 1, sizeof *r.system_done);
    if (!r.order || !r.spot_tick || !r.system_done) {
        seterr(err, sizeof err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->n_jobs; i++) {
        r.order[i] = i;
        r.s3_jobs += s->jobs[i].via == SCN_VIA_S3;
    }
    qsort_r(r.order, s->n_jobs, sizeof *r.order, cmp_submit, s);
    for (size_t i = 0; i < s->n_faults; i++)
        r.spot_tick[i] = -1;

    r.start_wall = proc_wall_ms();
    cJSON *hd = cJSON_CreateObject();
    cJSON_AddStringToObject(hd, "name", s->name);
    cJSON_AddStringToObject(hd, "description", s->description);
    cJSON_AddNumberToObject(hd, "seed", (double)s->seed);
    cJSON_AddStringToObject(hd, "mode", r.sim ? "simulated" : "real");
    cJSON_AddStringToObject(hd, "workflow", o->workflow ? o->workflow : s->workflow);
    cJSON_AddStringToObject(hd, "version", DSS_VERSION);
    cJSON_AddNumberToObject(hd, "clock_speed", s->clock_speed);
    cJSON_AddItemToObject(hd, "scenario", cJSON_Duplicate(s->source, 1));
    if (replay && o->replay_path)
        cJSON_AddStringToObject(hd, "replay_of", o->replay_path);
    if (!mkdtemp(r.dir)) {
        seterr(err, sizeof err, "mkdtemp %s: %s", r.dir, strerror(errno));
        r.dir[0] = '\0';
        cJSON_Delete(hd);
        goto fail;
    }
    if (!r.sim) /* a simulated trace holds nothing that changes from run to run */
        cJSON_AddStringToObject(hd, "run_dir", r.dir);
    trace_add(&r.trace, 0, "run.start", NULL, 0, NULL, hd);

    if (start_emulator(&r, err, sizeof err) ||
        (r.sim && (sim_register(&r, "runner", err, sizeof err) || sim_register(&r, "scheduler", err, sizeof err))) ||
        setup_stack(&r, err, sizeof err) ||
        (r.sim ? sim_post_jobs(&r, err, sizeof err) : write_job_files(&r, err, sizeof err)) ||
        arm_api_faults(&r, err, sizeof err) || start_scheduler(&r, err, sizeof err))
        goto fail;
    if (!o->quiet)
        fprintf(stderr, "dss-scenario: %s: emulator %s, run directory %s\n", s->name, r.endpoint, r.dir);
    ran = 1;
    if (run_loop(&r, err, sizeof err))
        note(&r, "%s", err);
    if (r.tty && !o->quiet)
        fprintf(stderr, "\r\033[K");
    if (proc_alive(&r.emu) && !g_stop) {
        collect_final(&r);
        cJSON *g = final_group(&r);
        proc_stop(&r.sched, SIGTERM, 10);
        proc_stop(&r.emu, SIGTERM, 15);
        add_surviving_workers(&r, g);
        tev(&r, "final.group", NULL, 0, NULL, g);
    } else if (!g_stop) {
        note(&r, "no final state: the emulator is gone (%s)", err);
    }
    goto finish;
fail:
    fprintf(stderr, "dss-scenario: %s: %s\n", s->name, err);
    cJSON_AddItemToArray(r.notes, cJSON_CreateString(err));
    snprintf(r.end_reason, sizeof r.end_reason, "error");
finish:
    proc_stop(&r.sched, SIGTERM, 10);
    proc_stop(&r.emu, SIGTERM, 15);
    if (g_stop)
        snprintf(r.end_reason, sizeof r.end_reason, "interrupted");
    if (r.events)
        fclose(r.events);
    cJSON *ed = cJSON_CreateObject();
    cJSON_AddStringToObject(ed, "reason", r.end_reason);
    if (!r.sim)
        cJSON_AddNumberToObject(ed, "wall_s", (double)(proc_wall_ms() - r.start_wall) / 1000.0);
    cJSON_AddItemToObject(ed, "notes", cJSON_Duplicate(r.notes, 1));
    if (r.start_wall)
        tev(&r, "run.end", NULL, 0, NULL, ed);
    else
        cJSON_Delete(ed);
    trace_close(&r.trace);
    if (ran) {
        struct check_result cr;
        check_run(&r.trace, &cr);
        check_expect(s, &r.trace, &cr);
        trace_hash(&r.trace, out.hash);
        char rp[PATH_MAX], jp[PATH_MAX];
        const char *report = ordinal_path(o->report_path, index, o->repeat, rp, sizeof rp);
        const char *junit = ordinal_path(o->junit_path, index, o->repeat, jp, sizeof jp);
        if (report && report_run_html(report, &r.trace, &cr, s, err, sizeof err))
            fprintf(stderr, "dss-scenario: report: %s\n", err);
        if (junit && report_junit(junit, &r.trace, &cr, s, err, sizeof err))
            fprintf(stderr, "dss-scenario: junit: %s\n", err);
        print_summary(&r, &cr);
        if (r.sim) {
            double wall = (double)(proc_wall_ms() - r.start_wall) / 1000.0, virt = (double)vt_now(&r) / 1000.0;
            printf("  simulated %.1f s of virtual time in %.1f s of wall time (%.0fx); trace sha256 %s\n", virt, wall,
                   wall > 0 ? virt / wall : 0.0, out.hash);
            fflush(stdout);
        }
        out.summary = summary_json(&r, &cr, out.hash);
        out.histories = check_histories(&r.trace);
        out.rc = g_stop ? 130 : cr.n_failures ? 1 : 0;
        if (!strcmp(r.end_reason, "emulator exited") || !strcmp(r.end_reason, "scheduler exited"))
            out.rc = out.rc ? out.rc : 1;
        check_result_free(&cr);
    } else if (g_stop) {
        out.rc = 130;
    }
    if (o->keep || (out.rc != 0 && out.rc != 130 && getenv("DSS_SCENARIO_KEEP_FAILED"))) {
        if (r.dir[0])
            fprintf(stderr, "dss-scenario: kept %s\n", r.dir);
    } else {
        rm_tree(r.dir);
    }
    free(r.order);
    free(r.spot_tick);
    free(r.system_done);
    free(r.inst);
    free(r.workers_seen);
    cJSON_Delete(r.notes);
    http_cleanup(&r.h);
    trace_free(&r.trace);
    return out;
}

/* ============================================================================================
 * Entry points
 * ============================================================================================ */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int load_scenario(const struct run_options *o, cJSON *doc, struct scenario *s)
{
    char err[1024];
    for (int i = 0; i < o->n_sets; i++) {
        char path[256];
        const char *eq = strchr(o->sets[i], '=');
        if (!eq || eq == o->sets[i] || (size_t)(eq - o->sets[i]) >= sizeof path) {
            fprintf(stderr, "dss-scenario: --set wants PATH=VALUE, got '%s'\n", o->sets[i]);
            cJSON_Delete(doc);
            return -1;
        }
        snprintf(path, sizeof path, "%.*s", (int)(eq - o->sets[i]), o->sets[i]);
        if (scenario_set(doc, path, eq + 1, err, sizeof err)) {
            fprintf(stderr, "dss-scenario: %s\n", err);
            cJSON_Delete(doc);
            return -1;
        }
    }
    if (o->workflow) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "workflow");
        cJSON_AddStringToObject(doc, "workflow", o->workflow);
    }
    if (scenario_from_json(doc, o->seed, s, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s: %s\n", o->scenario_path ? o->scenario_path : "scenario", err);
        return -1;
    }
    return 0;
}

static int run_repeats(const struct run_options *o, struct scenario *s, const cJSON *replay,
                       const struct trace *recorded)
{
    install_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 0;
    cJSON *first = NULL, *summaries = cJSON_CreateArray();
    char first_hash[65] = "";
    for (int i = 0; i < o->repeat && !g_stop; i++) {
        struct outcome out = run_one(o, s, replay, i);
        /* Simulated mode promises byte-identical traces: the hashes must agree. */
        if (s->mode == SCN_MODE_SIMULATED && out.histories && o->repeat > 1) {
            if (!first_hash[0]) {
                snprintf(first_hash, sizeof first_hash, "%s", out.hash);
            } else if (!strcmp(first_hash, out.hash)) {
                printf("repeat %d: trace sha256 %s identical to run 1\n", i + 1, out.hash);
            } else {
                printf("repeat %d: trace sha256 %s DIFFERS from run 1 (%s)\n", i + 1, out.hash, first_hash);
                if (rc == 0)
                    rc = 1;
            }
        }
        if (out.summary)
            cJSON_AddItemToArray(summaries, out.summary);
        if (out.rc > rc)
            rc = out.rc;
        if (out.histories && recorded) {
            cJSON *rh = check_histories(recorded);
            cJSON *diff = check_history_diff(rh, out.histories, 5);
            int nd = cJSON_GetArraySize(diff);
            if (nd == 0) {
                printf("replay: every job's history matches the recorded trace\n");
            } else {
                char *text = cJSON_PrintUnformatted(diff);
                printf("replay: %d job(s) differ from the recorded trace (first ones): %.4000s\n", nd, text ? text : "");
                free(text);
                if (rc == 0)
                    rc = 1;
            }
            cJSON_Delete(rh);
            cJSON_Delete(diff);
        }
        if (out.histories && !first) {
            first = out.histories;
        } else if (out.histories) {
            cJSON *diff = check_history_diff(first, out.histories, 5);
            int nd = cJSON_GetArraySize(diff);
            if (nd == 0) {
                printf("repeat %d: per-job histories identical to run 1\n", i + 1);
            } else {
                char *text = cJSON_PrintUnformatted(diff);
                printf("repeat %d: %d job(s) differ from run 1 (first ones): %.4000s\n", i + 1, nd, text ? text : "");
                free(text);
                if (rc == 0)
                    rc = 1;
            }
            cJSON_Delete(diff);
            cJSON_Delete(out.histories);
        }
    }
    if (o->summary_path) {
        cJSON *doc = o->repeat == 1 && cJSON_GetArraySize(summaries) == 1 ? cJSON_DetachItemFromArray(summaries, 0)
                                                                          : cJSON_Duplicate(summaries, 1);
        char *text = cJSON_Print(doc);
        if (!text || write_file(o->summary_path, text))
            fprintf(stderr, "dss-scenario: %s: %s\n", o->summary_path, strerror(errno));
        free(text);
        cJSON_Delete(doc);
    }
    cJSON_Delete(summaries);
    cJSON_Delete(first);
    curl_global_cleanup();
    return g_stop ? 130 : rc;
}

int runner_run(const struct run_options *o)
{
    char err[1024];
    struct scenario probe;
    /* Load once to report file errors with the file's name, then again with --set applied. */
    if (scenario_load(o->scenario_path, o->seed, &probe, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s\n", err);
        return 2;
    }
    cJSON *doc = cJSON_Duplicate(probe.source, 1);
    scenario_free(&probe);
    struct scenario s;
    if (load_scenario(o, doc, &s))
        return 2;
    int rc = run_repeats(o, &s, NULL, NULL);
    scenario_free(&s);
    return rc;
}

int runner_replay(const struct run_options *o)
{
    struct trace t;
    char err[1024];
    trace_init(&t);
    if (trace_load(o->replay_path, &t, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s\n", err);
        trace_free(&t);
        return 2;
    }
    const struct trace_event *head = trace_find(&t, "run.start");
    const cJSON *doc = head ? cJSON_GetObjectItem(head->details, "scenario") : NULL;
    const cJSON *seed = head ? cJSON_GetObjectItem(head->details, "seed") : NULL;
    if (!head || !cJSON_IsObject(doc) || !cJSON_IsNumber(seed)) {
        fprintf(stderr, "dss-scenario: %s: no run.start line with the scenario and seed\n", o->replay_path);
        trace_free(&t);
        return 2;
    }
    /* The recorded decisions, by job and attempt. */
    cJSON *replay = cJSON_CreateObject();
    for (size_t i = 0; i < t.n; i++) {
        const struct trace_event *e = &t.ev[i];
        if (strcmp(e->kind, "decision") || !e->job || e->attempt < 1 || !e->details)
            continue;
        cJSON *j = cJSON_GetObjectItemCaseSensitive(replay, e->job);
        if (!j)
            j = cJSON_AddObjectToObject(replay, e->job);
        char k[16];
        snprintf(k, sizeof k, "%d", e->attempt);
        if (!cJSON_GetObjectItemCaseSensitive(j, k))
            cJSON_AddItemToObject(j, k, cJSON_Duplicate(e->details, 1));
    }
    struct run_options ro = *o;
    ro.seed = (int64_t)cJSON_GetNumberValue(seed);
    ro.n_sets = 0;
    const char *wf = cJSON_GetStringValue(cJSON_GetObjectItem(head->details, "workflow"));
    if (!ro.workflow && wf)
        ro.workflow = wf;
    struct scenario s;
    int rc = 2;
    if (load_scenario(&ro, cJSON_Duplicate(doc, 1), &s) == 0) {
        printf("replay: %s (seed %llu) with %d recorded job decision set(s)\n", s.name, (unsigned long long)s.seed,
               cJSON_GetArraySize(replay));
        rc = run_repeats(&ro, &s, replay, &t);
        scenario_free(&s);
    }
    cJSON_Delete(replay);
    trace_free(&t);
    return rc;
}
