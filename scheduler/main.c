/* main.c -- dss-scheduler: the decoupled serverless scheduler's workflow, run by an in-tree
 * Amazon States Language engine against dss-emulator or real AWS.
 *
 *   run         watch for tagged instances, one execution each, run them all
 *   submit      send jobs to the stack's job queue
 *   status      the job monitoring table
 *   executions  executions in the journal
 *   history     one execution's events
 *   check       load and validate a workflow file
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <unistd.h>

#include "asl.h"
#include "automation.h"
#include "clock.h"
#include "engine.h"
#include "journal.h"
#include "provision.h"
#include "runtime.h"
#include "tasks.h"
#include "util.h"

extern const char seed_workflow[];
extern const size_t seed_workflow_len;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fputs("usage: dss-scheduler COMMAND [options]\n"
          "  run --stack S [--workflow FILE] [--poll-interval SECONDS] [--journal FILE]\n"
          "      [--log-format text|json] [--waiter-delay SECONDS] [--max-events N] [--max-payload BYTES]\n"
          "      [--history full|failures|none] [--quiet]\n"
          "      [--clock EMULATOR_URL]  (time from dss-emulator --clock simulated; one request at a time)\n"
          "      [--scaler seed|inflight|off] [--scaler-interval SECONDS] [--no-automation]\n"
          "  submit --stack S (--job FILE.json | --command CMD [--command CMD...]\n"
          "      --success-string STR --retry N [--id ID] [--document DOC])\n"
          "  status --stack S [--job ID]\n"
          "  executions (--stack S | --journal FILE) [--status RUNNING|SUCCEEDED|FAILED]\n"
          "  history EXECUTION (--stack S | --journal FILE) [--json]\n"
          "  check [--workflow FILE]\n"
          "Endpoints, region and credentials come from the usual AWS settings: AWS_ENDPOINT_URL,\n"
          "AWS_ENDPOINT_URL_<SERVICE>, AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID, ~/.aws/config ...\n",
          f);
    fputs(provision_usage, f);
}

struct opts {
    const char *stack, *workflow, *journal, *log_format, *job_file, *success, *id, *document, *status;
    const char *commands[64];
    int ncommands;
    const char *retry;
    double poll_interval, waiter_delay;
    long max_events;
    long max_payload; /* --max-payload: Step Functions' 256 KiB state payload quota, lowered for tests */
    int quiet, json;
    enum engine_history history; /* --history */
    const char *positional;
    const char *clock_url; /* --clock: the emulator's simulated clock */
    enum scaler_mode scaler;
    int scaler_explicit, no_automation;
    double scaler_interval;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"stack", required_argument, 0, 's'},         {"workflow", required_argument, 0, 'w'},
        {"journal", required_argument, 0, 'j'},       {"log-format", required_argument, 0, 'f'},
        {"poll-interval", required_argument, 0, 'p'}, {"waiter-delay", required_argument, 0, 'W'},
        {"max-events", required_argument, 0, 'E'},    {"quiet", no_argument, 0, 'q'},
        {"job", required_argument, 0, 'J'},           {"command", required_argument, 0, 'c'},
        {"success-string", required_argument, 0, 'S'}, {"retry", required_argument, 0, 'r'},
        {"id", required_argument, 0, 'i'},            {"document", required_argument, 0, 'd'},
        {"status", required_argument, 0, 't'},        {"json", no_argument, 0, 'o'},
        {"log-level", required_argument, 0, 'L'},     {"help", no_argument, 0, 'h'},
        {"clock", required_argument, 0, 'K'},
        {"scaler", required_argument, 0, 'A'},        {"scaler-interval", required_argument, 0, 'I'},
        {"no-automation", no_argument, 0, 'N'},    {"max-payload", required_argument, 0, 'P'},
        {"history", required_argument, 0, 'H'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->poll_interval = 5;
    o->waiter_delay = 15;
    o->log_format = "text";
    o->scaler = SCALER_SEED;
    o->scaler_interval = 60;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's': o->stack = optarg; break;
        case 'w': o->workflow = optarg; break;
        case 'j': o->journal = optarg; break;
        case 'f': o->log_format = optarg; break;
        case 'p':
        case 'W': {
            double v = strtod(optarg, &end);
            if (*end || v < 0 || v > 86400) {
                fprintf(stderr, "dss-scheduler: --%s wants seconds (0 to 86400), not '%s'\n",
                        c == 'p' ? "poll-interval" : "waiter-delay", optarg);
                return -1;
            }
            *(c == 'p' ? &o->poll_interval : &o->waiter_delay) = v;
            break;
        }
        case 'E':
            o->max_events = strtol(optarg, &end, 10);
            if (*end || o->max_events < 10) {
                fprintf(stderr, "dss-scheduler: --max-events wants a number >= 10\n");
                return -1;
            }
            break;
        case 'P':
            o->max_payload = strtol(optarg, &end, 10);
            if (*end || end == optarg || o->max_payload < 1024 || o->max_payload > 262144) {
                fprintf(stderr, "dss-scheduler: --max-payload wants bytes from 1024 to 262144 (AWS's 256 KiB), "
                                "not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'q': o->quiet = 1; break;
        case 'H':
            if (!strcmp(optarg, "full") || !strcmp(optarg, "failures") || !strcmp(optarg, "none")) {
                o->history = optarg[0] == 'f' ? (optarg[1] == 'u' ? HISTORY_FULL : HISTORY_FAILURES) : HISTORY_NONE;
                break;
            }
            fprintf(stderr, "dss-scheduler: --history is full, failures or none, not '%s'\n", optarg);
            return -1;
        case 'A':
            if (scaler_mode_parse(optarg, &o->scaler)) {
                fprintf(stderr, "dss-scheduler: --scaler is seed, inflight or off, not '%s'\n", optarg);
                return -1;
            }
            o->scaler_explicit = 1;
            break;
        case 'I':
            o->scaler_interval = strtod(optarg, &end);
            if (*end || end == optarg || !(o->scaler_interval >= 0.1 && o->scaler_interval <= 86400)) {
                fprintf(stderr, "dss-scheduler: --scaler-interval wants seconds (0.1 to 86400), not '%s'\n", optarg);
                return -1;
            }
            break;
        case 'N': o->no_automation = 1; break;
        case 'J': o->job_file = optarg; break;
        case 'c':
            if (o->ncommands == 64) {
                fprintf(stderr, "dss-scheduler: at most 64 --command\n");
                return -1;
            }
            o->commands[o->ncommands++] = optarg;
            break;
        case 'S': o->success = optarg; break;
        case 'r': o->retry = optarg; break;
        case 'i': o->id = optarg; break;
        case 'd': o->document = optarg; break;
        case 't': o->status = optarg; break;
        case 'o': o->json = 1; break;
        case 'K': o->clock_url = optarg; break;
        case 'L':
            if (log_level_parse(optarg, &log_threshold)) {
                fprintf(stderr, "dss-scheduler: bad --log-level '%s'\n", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc)
        o->positional = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "dss-scheduler: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (strcmp(o->log_format, "text") != 0 && strcmp(o->log_format, "json") != 0) {
        fprintf(stderr, "dss-scheduler: --log-format is text or json\n");
        return -1;
    }
    return 0;
}

static int need_stack(const struct opts *o)
{
    if (!o->stack || !*o->stack) {
        fprintf(stderr, "dss-scheduler: --stack NAME is required\n");
        return -1;
    }
    return 0;
}

/* The journal file: --journal, else $XDG_DATA_HOME/dss/scheduler-S.db (~/.local/share/dss). */
static char *journal_path(const struct opts *o)
{
    if (o->journal)
        return strdup(o->journal);
    if (need_stack(o))
        return NULL;
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char dir[1024], *p = malloc(1200);
    if (!p)
        return NULL;
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/dss", xdg);
    else
        snprintf(dir, sizeof dir, "%s/.local/share/dss", home ? home : ".");
    /* mkdir -p */
    for (char *s = dir + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(dir, 0700);
            *s = '/';
        }
    mkdir(dir, 0700);
    snprintf(p, 1200, "%s/scheduler-%s.db", dir, o->stack);
    return p;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b;
    buf_init(&b, 64u << 20);
    char tmp[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        rc = buf_append(&b, tmp, n);
    fclose(f);
    if (rc) {
        buf_free(&b);
        snprintf(err, errlen, "%s is too large", path);
        return NULL;
    }
    *len = b.len;
    return buf_steal(&b);
}

static struct asl_machine *load_workflow(const char *path, char *err, size_t errlen)
{
    engine_set_resolver_table(seed_tasks, seed_ntasks);
    if (!path)
        return asl_load(seed_workflow, seed_workflow_len, engine_resolve, err, errlen);
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text)
        return NULL;
    char why[768];
    struct asl_machine *m = asl_load(text, len, engine_resolve, why, sizeof why);
    free(text);
    if (!m)
        snprintf(err, errlen, "%s: %s", path, why);
    return m;
}

/* ---- synchronous helpers for the CLI ---- */

struct result {
    char error[256];
    char message[2048];
    cJSON *json;
};

static void keep_result(void *arg, const struct aws_response *r)
{
    struct result *res = arg;
    if (r->error) {
        snprintf(res->error, sizeof res->error, "%s", r->error);
        snprintf(res->message, sizeof res->message, "%s", r->message ? r->message : "");
    } else {
        res->json = r->json ? cJSON_Duplicate(r->json, 1) : cJSON_CreateObject();
    }
}

static int call(struct runtime *rt, const struct aws_service *svc, const char *op, cJSON *p, struct result *res)
{
    memset(res, 0, sizeof *res);
    if (runtime_call_json(rt, svc, op, p, keep_result, res)) {
        snprintf(res->error, sizeof res->error, "ClientError");
        snprintf(res->message, sizeof res->message, "the request could not be sent");
        return -1;
    }
    return res->error[0] ? -1 : 0;
}

/* Prints a clear error for a failed call and returns 1 (the exit status). */
static int report(struct runtime *rt, const struct aws_service *svc, const char *what, const struct result *r)
{
    const char *src;
    const char *url = aws_client_endpoint(rt->aws, svc, &src);
    if (strcmp(r->error, "NetworkError") == 0)
        fprintf(stderr, "dss-scheduler: %s: %s\n", what, r->message);
    else if (strstr(r->error, "NonExistentQueue") || strcmp(r->error, "QueueDoesNotExist") == 0 ||
             strcmp(r->error, "ResourceNotFoundException") == 0)
        fprintf(stderr, "dss-scheduler: %s: it does not exist at %s (endpoint from %s): %s %s\n", what, url, src,
                r->error, r->message);
    else if (strstr(r->error, "Signature") || strstr(r->error, "ClientToken") ||
             strstr(r->error, "UnrecognizedClient") || strstr(r->error, "AuthFailure") ||
             strstr(r->error, "AccessDenied") || strstr(r->error, "Expired")) /* ExpiredToken, RequestExpired */
        fprintf(stderr, "dss-scheduler: %s: credentials rejected by %s (credentials from %s): %s %s\n", what, url,
                rt->cfg.credentials_source ? rt->cfg.credentials_source : "?", r->error, r->message);
    else
        fprintf(stderr, "dss-scheduler: %s: %s at %s (endpoint from %s): %s\n", what, r->error, url, src, r->message);
    return 1;
}

static int queue_url(struct runtime *rt, const char *name, char *out, size_t n)
{
    struct result r;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueName", name);
    if (call(rt, &aws_sqs, "GetQueueUrl", p, &r)) {
        char what[300];
        snprintf(what, sizeof what, "queue %s", name);
        return report(rt, &aws_sqs, what, &r);
    }
    snprintf(out, n, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "QueueUrl")));
    cJSON_Delete(r.json);
    return 0;
}

/* ---- submit ---- */

static int send_job(struct runtime *rt, const char *url, cJSON *job)
{
    char *body = cJSON_PrintUnformatted(job);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddStringToObject(p, "MessageBody", body);
    free(body);
    struct result r;
    if (call(rt, &aws_sqs, "SendMessage", p, &r))
        return report(rt, &aws_sqs, "SendMessage", &r);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "job_id"));
    printf("submitted %s (message %s)\n", id ? id : "(no job_id)",
           cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "MessageId")));
    cJSON_Delete(r.json);
    return 0;
}

static int cmd_submit(struct runtime *rt, const struct opts *o)
{
    if (need_stack(o))
        return 2;
    cJSON *jobs;
    char err[512];
    if (o->job_file) {
        if (o->ncommands) {
            fprintf(stderr, "dss-scheduler: give --job or --command, not both\n");
            return 2;
        }
        size_t len;
        char *text = read_file(o->job_file, &len, err, sizeof err);
        if (!text) {
            fprintf(stderr, "dss-scheduler: %s\n", err);
            return 1;
        }
        const char *end = NULL;
        jobs = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!jobs || (!cJSON_IsObject(jobs) && !cJSON_IsArray(jobs))) {
            fprintf(stderr, "dss-scheduler: %s: not a JSON object or array of jobs (near byte %ld)\n", o->job_file,
                    end && jobs == NULL ? (long)(end - text) : 0L);
            cJSON_Delete(jobs);
            free(text);
            return 1;
        }
        free(text);
    } else {
        if (!o->ncommands || !o->success || !o->retry) {
            fprintf(stderr, "dss-scheduler: submit needs --job FILE, or --command, --success-string and --retry\n");
            return 2;
        }
        char *end;
        long retry = strtol(o->retry, &end, 10);
        if (*end || retry < 0 || retry > 1000) {
            fprintf(stderr, "dss-scheduler: --retry wants a number from 0 to 1000, not '%s'\n", o->retry);
            return 2;
        }
        jobs = cJSON_CreateObject();
        char id[64];
        if (o->id)
            snprintf(id, sizeof id, "%s", o->id);
        else {
            char u[37];
            uuid_string(u);
            snprintf(id, sizeof id, "job-%.8s", u);
        }
        cJSON_AddStringToObject(jobs, "job_id", id);
        cJSON_AddStringToObject(jobs, "retry", o->retry);
        cJSON_AddStringToObject(jobs, "job_success_string", o->success);
        cJSON_AddStringToObject(jobs, "ssm_document", o->document ? o->document : "AWS-RunShellScript");
        cJSON *cmds = cJSON_AddArrayToObject(jobs, "commands");
        for (int i = 0; i < o->ncommands; i++)
            cJSON_AddItemToArray(cmds, cJSON_CreateString(o->commands[i]));
    }
    char qname[512], url[2048];
    snprintf(qname, sizeof qname, "%s-job-queue", o->stack);
    int rc = queue_url(rt, qname, url, sizeof url);
    if (!rc) {
        if (cJSON_IsArray(jobs)) {
            cJSON *j;
            cJSON_ArrayForEach(j, jobs) if (!rc) rc = send_job(rt, url, j);
        } else {
            rc = send_job(rt, url, jobs);
        }
    }
    cJSON_Delete(jobs);
    return rc;
}

/* ---- status ---- */

static const char *attr_s(cJSON *item, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, name), "S"));
    return v ? v : "";
}

static int cmp_items(const void *a, const void *b)
{
    return strcmp(attr_s(*(cJSON *const *)a, "job_id"), attr_s(*(cJSON *const *)b, "job_id"));
}

static void one_line(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; *s && i + 1 < n; s++)
        dst[i++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    dst[i] = '\0';
    if (*s && n > 4)
        memcpy(dst + n - 4, "...", 4);
}

static int cmd_status(struct runtime *rt, const struct opts *o)
{
    if (need_stack(o))
        return 2;
    char table[512];
    snprintf(table, sizeof table, "%s-job-monitoring", o->stack);
    cJSON *items = cJSON_CreateArray();
    struct result r;
    const char *job = o->job_file; /* --job ID */
    if (job) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "TableName", table);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "Key"), "job_id"), "S", job);
        if (call(rt, &aws_dynamodb, "GetItem", p, &r)) {
            cJSON_Delete(items);
            return report(rt, &aws_dynamodb, table, &r);
        }
        cJSON *it = cJSON_DetachItemFromObject(r.json, "Item");
        cJSON_Delete(r.json);
        if (!it) {
            fprintf(stderr, "dss-scheduler: no job %s in %s\n", job, table);
            cJSON_Delete(items);
            return 1;
        }
        cJSON_AddItemToArray(items, it);
    } else {
        cJSON *start = NULL;
        do {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "TableName", table);
            if (start)
                cJSON_AddItemToObject(p, "ExclusiveStartKey", start);
            if (call(rt, &aws_dynamodb, "Scan", p, &r)) {
                cJSON_Delete(items);
                return report(rt, &aws_dynamodb, table, &r);
            }
            cJSON *got = cJSON_GetObjectItemCaseSensitive(r.json, "Items");
            cJSON *it;
            while (got && (it = cJSON_DetachItemFromArray(got, 0)))
                cJSON_AddItemToArray(items, it);
            start = cJSON_DetachItemFromObject(r.json, "LastEvaluatedKey");
            cJSON_Delete(r.json);
        } while (start);
    }
    int n = cJSON_GetArraySize(items);
    cJSON **v = calloc((size_t)n + 1, sizeof(cJSON *));
    for (int i = 0; i < n; i++)
        v[i] = cJSON_GetArrayItem(items, i);
    qsort(v, (size_t)n, sizeof(cJSON *), cmp_items);
    printf("%-20s %-11s %-9s %-21s %-22s %-30s %s\n", "JOB", "STATUS", "RETRIES", "INSTANCE", "DOCUMENT", "COMMANDS",
           "OUTPUT");
    for (int i = 0; i < n; i++) {
        char cmds[31], out[61];
        one_line(cmds, sizeof cmds, attr_s(v[i], "Commands"));
        one_line(out, sizeof out, attr_s(v[i], "Output_Logs"));
        printf("%-20s %-11s %-9s %-21s %-22s %-30s %s\n", attr_s(v[i], "job_id"), attr_s(v[i], "Status"),
               attr_s(v[i], "Retries"), attr_s(v[i], "instance_id"), attr_s(v[i], "SSM_Document"), cmds, out);
    }
    printf("%d job%s\n", n, n == 1 ? "" : "s");
    free(v);
    cJSON_Delete(items);
    return 0;
}

/* ---- executions / history ---- */

static void print_exec(void *arg, const struct journal_exec *x)
{
    const struct opts *o = arg;
    char started[32], updated[32];
    iso8601_ms(x->started_ms, started);
    iso8601_ms(x->updated_ms, updated);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", (double)x->id);
        cJSON_AddStringToObject(j, "name", x->name);
        cJSON_AddStringToObject(j, "instance_id", x->instance_id ? x->instance_id : "");
        cJSON_AddStringToObject(j, "status", x->status);
        cJSON_AddStringToObject(j, "state", x->state ? x->state : "");
        cJSON_AddNumberToObject(j, "events", (double)x->events);
        cJSON_AddStringToObject(j, "started", started);
        cJSON_AddStringToObject(j, "updated", updated);
        if (x->error)
            cJSON_AddStringToObject(j, "error", x->error);
        if (x->cause)
            cJSON_AddStringToObject(j, "cause", x->cause);
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
        return;
    }
    printf("%-5lld %-22s %-10s %-20s %7lld  %s  %s%s%s\n", (long long)x->id, x->name, x->status,
           x->state ? x->state : "-", (long long)x->events, started, updated, x->error ? "  " : "",
           x->error ? x->error : "");
}

static struct journal *open_journal(const struct opts *o)
{
    char *path = journal_path(o);
    if (!path)
        return NULL;
    if (access(path, F_OK) != 0) {
        if (o->journal)
            fprintf(stderr, "dss-scheduler: no journal at %s (has `run` been started?)\n", path);
        else
            fprintf(stderr, "dss-scheduler: no journal for stack %s at %s (has `run` been started?)\n", o->stack,
                    path);
        free(path);
        return NULL;
    }
    char err[512];
    /* Read only: it must never stand in the way of a `run` opening the same journal. */
    struct journal *j = journal_open_reader(path, err, sizeof err);
    if (!j)
        fprintf(stderr, "dss-scheduler: %s\n", err);
    free(path);
    return j;
}

static int cmd_executions(const struct opts *o)
{
    struct journal *j = open_journal(o);
    if (!j)
        return 1;
    if (!o->json)
        printf("%-5s %-22s %-10s %-20s %7s  %-24s  %s\n", "ID", "NAME", "STATUS", "STATE", "EVENTS", "STARTED",
               "UPDATED");
    journal_each(j, o->status, print_exec, (void *)o);
    journal_close(j);
    return 0;
}

static int cmd_history(const struct opts *o)
{
    if (!o->positional) {
        fprintf(stderr, "dss-scheduler: history EXECUTION (its id, name or instance id)\n");
        return 2;
    }
    struct journal *j = open_journal(o);
    if (!j)
        return 1;
    int rc = journal_print_history(j, o->positional, o->json, stdout);
    if (rc)
        fprintf(stderr, "dss-scheduler: no execution %s in the journal\n", o->positional);
    journal_close(j);
    return rc ? 1 : 0;
}

/* ---- run ---- */

/* Instance ids that already have an execution: checked on every poll for every instance, so
 * kept in memory (open addressing) rather than asked of the journal each time. */
struct idset {
    char **slot;
    size_t cap, n;
};

static size_t id_hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int idset_has(const struct idset *set, const char *id)
{
    if (!set->cap)
        return 0;
    for (size_t i = id_hash(id) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slot[i])
            return 0;
        if (strcmp(set->slot[i], id) == 0)
            return 1;
    }
}

static int idset_add(struct idset *set, const char *id)
{
    if (idset_has(set, id))
        return 0;
    if (2 * (set->n + 1) > set->cap) {
        struct idset bigger = {calloc(set->cap ? set->cap * 2 : 1024, sizeof(char *)), set->cap ? set->cap * 2 : 1024, 0};
        if (!bigger.slot)
            return -1;
        for (size_t i = 0; i < set->cap; i++)
            if (set->slot[i]) {
                size_t k = id_hash(set->slot[i]) & (bigger.cap - 1);
                while (bigger.slot[k])
                    k = (k + 1) & (bigger.cap - 1);
                bigger.slot[k] = set->slot[i];
                bigger.n++;
            }
        free(set->slot);
        *set = bigger;
    }
    size_t k = id_hash(id) & (set->cap - 1);
    while (set->slot[k])
        k = (k + 1) & (set->cap - 1);
    set->slot[k] = strdup(id);
    if (!set->slot[k])
        return -1;
    set->n++;
    return 0;
}

static void idset_free(struct idset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i]);
    free(set->slot);
}

struct runner {
    struct idset known;
    struct runtime *rt;
    struct engine *e;
    struct journal *j;
    const struct opts *o;
    int polling;
    int instances;     /* seen in the last poll */
    int first_poll_rc; /* -1 pending, 0 ok, 1 failed */
    struct buf next_token;
    int seen_this_poll;
};

static void poll_instances(void *arg);

static void start_for_instance(struct runner *R, const char *id, const char *queue, const char *group)
{
    if (idset_has(&R->known, id))
        return;
    if (journal_has_instance(R->j, id)) {
        idset_add(&R->known, id);
        return;
    }
    idset_add(&R->known, id);
    const struct opts *o = R->o;
    char q[512], name[600];
    snprintf(q, sizeof q, "%s", queue && *queue ? queue : "");
    if (!q[0])
        snprintf(q, sizeof q, "%s-job-queue", o->stack);
    cJSON *doc = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(doc, "input");
    cJSON_AddStringToObject(in, "sqs_name", q);
    snprintf(name, sizeof name, "%s-finished", q);
    cJSON_AddStringToObject(in, "sqs_name_out", name);
    snprintf(name, sizeof name, "%s-failed", q);
    cJSON_AddStringToObject(in, "sqs_name_failed", name);
    cJSON_AddStringToObject(in, "region", aws_client_region(R->rt->aws));
    snprintf(name, sizeof name, "arn:aws:states:%s:000000000000:stateMachine:%s-scheduler",
             aws_client_region(R->rt->aws), o->stack);
    cJSON_AddStringToObject(in, "state_machine_arn", name);
    snprintf(name, sizeof name, "%s-scheduler", o->stack);
    cJSON_AddStringToObject(in, "state_machine_name", name);
    cJSON_AddNumberToObject(in, "Timeout_Job", o->poll_interval);
    cJSON_AddStringToObject(in, "instance_id", id);
    cJSON_AddStringToObject(in, "autoscaling_group", group && *group ? group : "nothing");
    snprintf(name, sizeof name, "%s-job-monitoring", o->stack);
    cJSON_AddStringToObject(in, "table", name);
    engine_start(R->e, id, id, doc);
}

static void instances_done(void *arg, const struct aws_response *r)
{
    struct runner *R = arg;
    if (r->error) {
        R->polling = 0;
        if (R->first_poll_rc < 0) {
            R->first_poll_rc = 1;
            fprintf(stderr, "dss-scheduler: DescribeInstances: %s: %s (endpoint %s from %s)\n", r->error,
                    r->message, r->endpoint, r->endpoint_source);
        } else {
            log_warn("DescribeInstances: %s: %s", r->error, r->message);
        }
        loop_at(R->rt->loop, sched_now_ms() + (int64_t)(R->o->poll_interval * 1000), poll_instances, R);
        return;
    }
    xmlNodePtr root = xmlDocGetRootElement(r->xml);
    for (xmlNodePtr res = aws_xml_path(root, "reservationSet/item"); res; res = aws_xml_next(res, "item"))
        for (xmlNodePtr in = aws_xml_path(res, "instancesSet/item"); in; in = aws_xml_next(in, "item")) {
            char id[64] = "", queue[512] = "", group[512] = "", st[32] = "";
            aws_xml_text(in, "instanceId", id, sizeof id);
            aws_xml_text(in, "instanceState/name", st, sizeof st);
            if (strcmp(st, "pending") != 0 && strcmp(st, "running") != 0)
                continue;
            for (xmlNodePtr t = aws_xml_path(in, "tagSet/item"); t; t = aws_xml_next(t, "item")) {
                char k[256] = "", v[512] = "";
                aws_xml_text(t, "key", k, sizeof k);
                aws_xml_text(t, "value", v, sizeof v);
                if (strcmp(k, R->o->stack) == 0)
                    snprintf(queue, sizeof queue, "%s", v);
                else if (strcmp(k, "aws:autoscaling:groupName") == 0)
                    snprintf(group, sizeof group, "%s", v);
            }
            if (id[0]) {
                R->seen_this_poll++;
                start_for_instance(R, id, queue, group);
            }
        }
    char token[2048] = "";
    aws_xml_text(root, "nextToken", token, sizeof token);
    buf_reset(&R->next_token);
    if (token[0]) {
        buf_puts(&R->next_token, token);
        poll_instances(R);
        return;
    }
    R->instances = R->seen_this_poll;
    R->seen_this_poll = 0;
    R->polling = 0;
    R->first_poll_rc = 0;
    loop_at(R->rt->loop, sched_now_ms() + (int64_t)(R->o->poll_interval * 1000), poll_instances, R);
}

static void poll_instances(void *arg)
{
    struct runner *R = arg;
    if (stop_requested)
        return;
    R->polling = 1;
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "Filter.1.Name", "tag-key");
    aws_query_add(&q, "Filter.1.Value.1", R->o->stack);
    aws_query_add(&q, "Filter.2.Name", "instance-state-name");
    aws_query_add(&q, "Filter.2.Value.1", "pending");
    aws_query_add(&q, "Filter.2.Value.2", "running");
    /* Pages of 200: a whole fleet in one answer is one parsed XML document of every instance
     * (at 1,000 instances it set the scheduler's peak RSS). */
    aws_query_add(&q, "MaxResults", "200");
    if (R->next_token.len)
        aws_query_add(&q, "NextToken", R->next_token.data);
    if (aws_call_query(R->rt->aws, &aws_ec2, "DescribeInstances", &q, instances_done, R)) {
        R->polling = 0;
        loop_at(R->rt->loop, sched_now_ms() + 1000, poll_instances, R);
    }
}

/* Where the running executions are: " | in Wait 12, CheckJob 3, GetJob 1" (the three states
 * holding most of them, then how many more states hold some), or "" when none runs. */
static void where_running(struct engine *e, char *out, size_t n)
{
    const struct asl_machine *m = engine_machine(e);
    int *counts = calloc((size_t)m->nstates, sizeof *counts);
    out[0] = '\0';
    if (!counts)
        return;
    engine_count_by_state(e, counts);
    size_t len = 0;
    int shown = 0, more = 0;
    for (;;) {
        int top = -1;
        for (int i = 0; i < m->nstates; i++)
            if (counts[i] > 0 && (top < 0 || counts[i] > counts[top]))
                top = i;
        if (top < 0)
            break;
        if (shown < 3 && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s%s %d", shown ? ", " : " | in ", m->states[top].name,
                                    counts[top]);
        else
            more++;
        shown++;
        counts[top] = 0;
    }
    if (more && len < n)
        snprintf(out + len, n - len, " (+%d more state%s)", more, more == 1 ? "" : "s");
    free(counts);
}

/* The live summary line (rewritten in place on a terminal) or, final, the last one. */
static void summary(struct runner *R, int final)
{
    struct engine_stats *s = engine_stats(R->e);
    char where[512] = "";
    if (!final)
        where_running(R->e, where, sizeof where);
    printf("%sinstances %d | executions running %d succeeded %d failed %d | jobs started %llu succeeded %llu "
           "failed %llu | transitions %llu%s%s",
           final ? "" : "\r\033[K", R->instances, s->running, s->succeeded, s->failed,
           (unsigned long long)s->jobs_started, (unsigned long long)s->jobs_succeeded,
           (unsigned long long)s->jobs_failed, (unsigned long long)s->transitions, where, final ? "\n" : "");
    fflush(stdout);
}

/* Checks that the stack's queues and table exist before running. Returns 0 or an exit status. */
static int preflight(struct runtime *rt, const struct opts *o)
{
    char name[512], url[2048];
    static const char *const suffix[] = {"-job-queue", "-job-queue-finished", "-job-queue-failed"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", o->stack, suffix[i]);
        if (queue_url(rt, name, url, sizeof url))
            return 1;
    }
    snprintf(name, sizeof name, "%s-job-monitoring", o->stack);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "TableName", name);
    struct result r;
    if (call(rt, &aws_dynamodb, "DescribeTable", p, &r)) {
        char what[600];
        snprintf(what, sizeof what, "table %s", name);
        return report(rt, &aws_dynamodb, what, &r);
    }
    cJSON_Delete(r.json);
    return 0;
}

static int cmd_run(struct runtime *rt, const struct opts *o)
{
    if (need_stack(o))
        return 2;
    char err[1024];
    struct asl_machine *m = load_workflow(o->workflow, err, sizeof err);
    if (!m) {
        fprintf(stderr, "dss-scheduler: %s\n", err);
        return 1;
    }
    int rc = preflight(rt, o);
    char *path = rc ? NULL : journal_path(o);
    struct journal *j = path ? journal_open(path, err, sizeof err) : NULL;
    if (!rc && !j) {
        fprintf(stderr, "dss-scheduler: %s\n", path ? err : "cannot find a place for the journal");
        rc = 1;
    }
    free(path);
    if (rc) {
        asl_free(m);
        return rc;
    }
    struct task_env env = {rt->aws, rt->loop, NULL, o->waiter_delay, 40, NULL, 0};
    /* The same ARN as each execution's input.state_machine_arn: $$.StateMachine.Id. */
    char sm_arn[600];
    snprintf(sm_arn, sizeof sm_arn, "arn:aws:states:%s:000000000000:stateMachine:%s-scheduler",
             aws_client_region(rt->aws), o->stack);
    struct engine_options eo = {.max_events = o->max_events, .max_payload = (size_t)o->max_payload,
                                .log_json = strcmp(o->log_format, "json") == 0, .log = o->quiet ? NULL : stderr,
                                .history = o->history, .state_machine_arn = sm_arn};
    struct engine *e = engine_new(m, seed_tasks, seed_ntasks, &env, rt->loop, j, &eo);
    env.engine = e;
    struct runner R = {{NULL, 0, 0}, rt, e, j, o, 0, 0, -1, {0}, 0};
    buf_init(&R.next_token, 4096);

    journal_begin(j);
    int resumed = engine_resume(e);
    journal_commit(j);
    if (resumed)
        log_info("resumed %d execution%s from the journal", resumed, resumed == 1 ? "" : "s");
    poll_instances(&R);
    struct automation_options ao = {o->stack, NULL, o->scaler, o->scaler_explicit, o->scaler_interval};
    struct automation *auto_loops = o->no_automation ? NULL : automation_new(rt->aws, rt->loop, e, &ao);

    int tty = isatty(STDOUT_FILENO);
    int64_t last_summary = 0;
    while (!stop_requested) {
        journal_begin(j);
        loop_run_once(rt->loop, 500);
        journal_commit(j);
        if (R.first_poll_rc == 1) {
            rc = 1;
            break;
        }
        if (tty && sched_monotonic_ms() - last_summary >= 1000) {
            summary(&R, 0);
            last_summary = sched_monotonic_ms();
        }
    }
    if (tty)
        printf("\n");
    summary(&R, 1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* Peak RSS of this program: VmHWM (ru_maxrss keeps the parent's peak across exec). */
    long hwm = ru.ru_maxrss;
    FILE *st = fopen("/proc/self/status", "r");
    if (st) {
        char line[256];
        while (fgets(line, sizeof line, st))
            if (strncmp(line, "VmHWM:", 6) == 0) {
                hwm = strtol(line + 6, NULL, 10);
                break;
            }
        fclose(st);
    }
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    uint64_t tr = engine_stats(e)->transitions;
    log_info("cpu %.3f s, %llu transitions (%.1f us each), %llu requests, peak rss %ld KiB", cpu,
             (unsigned long long)tr, tr ? cpu * 1e6 / (double)tr : 0.0, (unsigned long long)aws_client_sent(rt->aws),
             hwm);
    /* Order matters: the client drops in-flight requests (their calls die with the engine). */
    aws_client_free(rt->aws);
    rt->aws = NULL;
    automation_free(auto_loops);
    engine_free(e);
    task_env_cleanup(&env);
    buf_free(&R.next_token);
    idset_free(&R.known);
    journal_close(j);
    asl_free(m);
    return rc;
}

static int cmd_check(const struct opts *o)
{
    char err[1024];
    struct asl_machine *m = load_workflow(o->workflow, err, sizeof err);
    if (!m) {
        fprintf(stderr, "dss-scheduler: %s\n", err);
        return 1;
    }
    printf("%s: %d states, starts at %s\n", o->workflow ? o->workflow : "(built-in seed workflow)", m->nstates,
           m->start_at);
    asl_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "provision") || !strcmp(cmd, "teardown"))
        return provision_main(argc, argv);
    if (!strcmp(cmd, "--version")) {
        printf("dss-scheduler %s\n", DSS_VERSION);
        return 0;
    }
    log_threshold = LOG_INFO;
    struct opts o;
    if (parse_opts(argc, argv, &o))
        return 2;
    if (!strcmp(cmd, "executions"))
        return cmd_executions(&o);
    if (!strcmp(cmd, "history"))
        return cmd_history(&o);
    if (!strcmp(cmd, "check"))
        return cmd_check(&o);
    if (strcmp(cmd, "run") && strcmp(cmd, "submit") && strcmp(cmd, "status")) {
        fprintf(stderr, "dss-scheduler: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct runtime rt;
    char err[1024];
    /* On the emulator's simulated clock, requests go one at a time, in the order the loop makes
     * them, so that a seed repeats byte for byte (clock.h). */
    struct aws_client_options one_at_a_time = {0, 1, 0};
    if (o.clock_url && sched_clock_emulator(o.clock_url, "scheduler", &stop_requested, err, sizeof err)) {
        fprintf(stderr, "dss-scheduler: --clock: %s\n", err);
        return 1;
    }
    if (runtime_init(&rt, o.clock_url ? &one_at_a_time : NULL, err, sizeof err)) {
        fprintf(stderr, "dss-scheduler: %s\n", err);
        runtime_cleanup(&rt);
        return 1;
    }
    int rc;
    if (!strcmp(cmd, "run"))
        rc = cmd_run(&rt, &o);
    else if (!strcmp(cmd, "submit"))
        rc = cmd_submit(&rt, &o);
    else
        rc = cmd_status(&rt, &o);
    runtime_cleanup(&rt);
    sched_clock_emulator_cleanup();
    return rc;
}
