/* engine.c -- see engine.h.
 *
 * Payload processing follows the States Language spec: raw input -> InputPath -> Parameters ->
 * (task) -> ResultSelector -> ResultPath (merged into the raw input) -> OutputPath. Errors a task
 * reports go to the first matching retrier (until its MaxAttempts), then the first matching
 * catcher, else the execution fails. Path failures are States.Runtime and fail the execution,
 * except a ResultPath that cannot be applied (States.ResultPathMatchFailure, catchable).
 *
 * The states:startExecution integration ("continue as new") is run here rather than as a task
 * function: it makes no AWS call, it creates an execution. The new execution waits in the ready
 * queue and enters its first state once the old one's task has finished, so the old execution's
 * history reads as on Step Functions (TaskScheduled, TaskStarted, TaskSucceeded) and everything
 * happens in one journal transaction: a restart sees both executions or neither.
 */
#include "engine.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "jsonpath.h"
#include "util.h"

enum xstatus { X_RUNNING, X_SUCCEEDED, X_FAILED };

struct execution {
    struct engine *e;
    int64_t id;
    char *name, *instance_id;
    int state;            /* index of the current state */
    cJSON *input;         /* raw input of the current state */
    cJSON *exec_input;    /* the input the execution started with ($$.Execution.Input) */
    cJSON *pending_out;   /* Wait: output once the timer fires; ready queue: next state's input */
    int next;             /* ready queue: state to enter next (-1: succeed) */
    int *attempts;        /* per retrier of the current state */
    struct task_call *call;
    int64_t events;
    int64_t started_ms, entered_ms;
    int64_t deadline_ms;  /* machine TimeoutSeconds, 0 none */
    struct execution *ready_next;
    int in_ready;
    struct execution *prev, *next_live; /* every live execution, for engine_free */
    int holds_job;        /* its last job record said Started */
};

struct engine {
    const struct asl_machine *m;
    const struct task_def *tasks;
    int ntasks;
    void *task_env;
    struct loop *loop;
    struct journal *j;
    struct engine_options opt;
    struct engine_stats stats;
    struct execution *ready_head, *ready_tail;
    int draining;
    int maxretry;
    struct execution *live;
    char sm_arn[512];     /* the state machine's ARN ($$.StateMachine.Id) */
};

#define DEFAULT_STATE_MACHINE_ARN "arn:aws:states:us-east-1:000000000000:stateMachine:dss-scheduler"

static const struct task_def *resolver_tasks;
static int resolver_n;

void engine_set_resolver_table(const struct task_def *tasks, int ntasks)
{
    resolver_tasks = tasks;
    resolver_n = ntasks;
}

int engine_resolve(const char *resource)
{
    for (int i = 0; i < resolver_n; i++)
        if (strcmp(resolver_tasks[i].resource, resource) == 0)
            return i;
    return -1;
}

struct engine *engine_new(const struct asl_machine *m, const struct task_def *tasks, int ntasks, void *task_env,
                          struct loop *loop, struct journal *j, const struct engine_options *opt)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->m = m;
    e->tasks = tasks;
    e->ntasks = ntasks;
    e->task_env = task_env;
    e->loop = loop;
    e->j = j;
    if (opt)
        e->opt = *opt;
    if (e->opt.max_events <= 0)
        e->opt.max_events = 25000;
    if (e->opt.max_payload == 0)
        e->opt.max_payload = 262144;
    snprintf(e->sm_arn, sizeof e->sm_arn, "%s",
             e->opt.state_machine_arn ? e->opt.state_machine_arn : DEFAULT_STATE_MACHINE_ARN);
    e->opt.state_machine_arn = e->sm_arn;
    for (int i = 0; i < m->nstates; i++)
        if (m->states[i].nretry > e->maxretry)
            e->maxretry = m->states[i].nretry;
    return e;
}

void engine_job_held(struct execution *x, int held)
{
    if (x->holds_job != !!held)
        x->e->stats.jobs_running += held ? 1 : -1;
    x->holds_job = !!held;
}

struct engine_stats *engine_stats(struct engine *e)
{
    return &e->stats;
}

void engine_count_by_state(const struct engine *e, int *counts)
{
    memset(counts, 0, (size_t)e->m->nstates * sizeof *counts);
    for (const struct execution *x = e->live; x; x = x->next_live)
        counts[x->state]++;
}

const struct asl_machine *engine_machine(struct engine *e)
{
    return e->m;
}

/* ---- executions ---- */

static void exec_free(struct execution *x)
{
    struct engine *e = x->e;
    if (x->prev)
        x->prev->next_live = x->next_live;
    else if (e->live == x)
        e->live = x->next_live;
    if (x->next_live)
        x->next_live->prev = x->prev;
    if (x->call) {
        cJSON_Delete(x->call->input);
        free(x->call->scratch);
        free(x->call->req);
        free(x->call);
    }
    cJSON_Delete(x->input);
    cJSON_Delete(x->exec_input);
    cJSON_Delete(x->pending_out);
    free(x->attempts);
    free(x->name);
    free(x->instance_id);
    free(x);
}

static const struct asl_state *cur(struct execution *x)
{
    return &x->e->m->states[x->state];
}

/* Whether an event or log line of this type is a failure: kept by HISTORY_FAILURES. */
static int failure_type(const char *type)
{
    size_t n = strlen(type);
    static const char *const ends[] = {"Failed", "TimedOut", "Aborted", "Caught", "cause"};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t k = strlen(ends[i]);
        if (n >= k && !strcmp(type + n - k, ends[i]))
            return 1;
    }
    return 0;
}

static void log_line(struct execution *x, const char *event, const char *state, const char *detail)
{
    struct engine *e = x->e;
    if (!e->opt.log)
        return;
    if (e->opt.history != HISTORY_FULL && strncmp(event, "Execution", 9) &&
        (e->opt.history == HISTORY_NONE || !failure_type(event)))
        return;
    char ts[32];
    iso8601_ms(sched_now_ms(), ts);
    if (e->opt.log_json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "execution", x->name);
        if (x->instance_id)
            cJSON_AddStringToObject(o, "instance", x->instance_id);
        cJSON_AddStringToObject(o, "event", event);
        if (state)
            cJSON_AddStringToObject(o, "state", state);
        if (detail)
            cJSON_AddStringToObject(o, "detail", detail);
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            fprintf(e->opt.log, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        fprintf(e->opt.log, "%s %s %s%s%s%s%s\n", ts, x->name, event, state ? " " : "", state ? state : "",
                detail ? " " : "", detail ? detail : "");
    }
}

static int recorded(const struct engine *e, const char *type)
{
    return e->opt.history == HISTORY_FULL || (e->opt.history == HISTORY_FAILURES && failure_type(type));
}

/* Records one history event with data already printed (may be NULL). Returns 0, or -1 when the
 * execution has hit the history limit (the caller must then fail it). */
static int event_text(struct execution *x, const char *type, const char *state, const char *text)
{
    struct engine *e = x->e;
    x->events++; /* counted whatever is recorded: the history limit is the same at every level */
    if (e->j && recorded(e, type))
        journal_event(e->j, x->id, x->events, sched_now_ms(), type, state, text);
    return x->events >= e->opt.max_events ? -1 : 0;
}

/* The same with data (may be NULL, not taken) printed here. */
static int event(struct execution *x, const char *type, const char *state, const cJSON *data)
{
    char *text = data && x->e->j && recorded(x->e, type) ? cJSON_PrintUnformatted(data) : NULL;
    int rc = event_text(x, type, state, text);
    free(text);
    return rc;
}

static void finish(struct execution *x, enum xstatus st, const char *error, const char *cause, cJSON *output)
{
    struct engine *e = x->e;
    const char *type = st == X_SUCCEEDED ? "ExecutionSucceeded" : "ExecutionFailed";
    cJSON *d = cJSON_CreateObject();
    if (st == X_FAILED) {
        cJSON_AddStringToObject(d, "error", error ? error : "");
        cJSON_AddStringToObject(d, "cause", cause ? cause : "");
    } else if (output) {
        cJSON_AddItemReferenceToObject(d, "output", output);
    }
    x->events++;
    int keep = e->j && recorded(e, type);
    char *text = keep ? cJSON_PrintUnformatted(d) : NULL;
    char *out = output ? cJSON_PrintUnformatted(output) : NULL;
    if (e->j) {
        if (keep)
            journal_event(e->j, x->id, x->events, sched_now_ms(), type, NULL, text);
        journal_finish(e->j, x->id, st == X_SUCCEEDED ? "SUCCEEDED" : "FAILED", error, cause, out, x->events,
                       sched_now_ms());
    }
    log_line(x, type, NULL, st == X_FAILED ? error : NULL);
    if (st == X_FAILED && cause)
        log_line(x, "cause", NULL, cause);
    free(text);
    free(out);
    cJSON_Delete(d);
    if (e->opt.on_finish)
        e->opt.on_finish(e->opt.on_finish_arg, x->name, st == X_SUCCEEDED, error, cause, output);
    cJSON_Delete(output);
    engine_job_held(x, 0);
    e->stats.running--;
    if (st == X_SUCCEEDED)
        e->stats.succeeded++;
    else
        e->stats.failed++;
    exec_free(x);
}

static void fail_exec(struct execution *x, const char *error, const char *cause)
{
    finish(x, X_FAILED, error, cause, NULL);
}

static int too_big(struct execution *x, const cJSON *v)
{
    return json_printed_size(v) > x->e->opt.max_payload;
}

/* The state machine's name: the last field of its ARN. */
static const char *machine_name(const struct engine *e)
{
    const char *colon = strrchr(e->sm_arn, ':');
    return colon ? colon + 1 : e->sm_arn;
}

/* An execution's ARN: the state machine's with "execution" for "stateMachine", then ":name". */
static void execution_arn(const struct engine *e, const char *name, char *out, size_t n)
{
    const char *kind = strstr(e->sm_arn, ":stateMachine:");
    if (kind)
        snprintf(out, n, "%.*s:execution:%s:%s", (int)(kind - e->sm_arn), e->sm_arn, machine_name(e), name);
    else
        snprintf(out, n, "%s:%s", e->sm_arn, name);
}

/* The context object ($$), as the States Language defines it (no RoleArn: there is no IAM).
 * Execution.Input is a reference to the execution's input, not a copy. */
static cJSON *context(struct execution *x)
{
    char ts[32], arn[1024];
    cJSON *c = cJSON_CreateObject(), *ex = cJSON_AddObjectToObject(c, "Execution"),
          *st = cJSON_AddObjectToObject(c, "State"), *sm = cJSON_AddObjectToObject(c, "StateMachine");
    execution_arn(x->e, x->name, arn, sizeof arn);
    cJSON_AddStringToObject(ex, "Id", arn);
    if (x->exec_input)
        cJSON_AddItemReferenceToObject(ex, "Input", x->exec_input);
    else
        cJSON_AddObjectToObject(ex, "Input");
    cJSON_AddStringToObject(ex, "Name", x->name);
    iso8601_ms(x->started_ms, ts);
    cJSON_AddStringToObject(ex, "StartTime", ts);
    cJSON_AddNumberToObject(ex, "RedriveCount", 0);
    cJSON_AddStringToObject(st, "Name", cur(x)->name);
    iso8601_ms(x->entered_ms, ts);
    cJSON_AddStringToObject(st, "EnteredTime", ts);
    int rc = 0;
    for (int i = 0; x->attempts && i < cur(x)->nretry; i++)
        rc += x->attempts[i];
    cJSON_AddNumberToObject(st, "RetryCount", rc);
    cJSON_AddStringToObject(sm, "Id", x->e->sm_arn);
    cJSON_AddStringToObject(sm, "Name", machine_name(x->e));
    return c;
}

/* Evaluates a Parameters/ResultSelector template. Returns a new value, or NULL with err. */
static cJSON *apply_template(const cJSON *t, cJSON *in, cJSON *ctx, char *err, size_t errlen)
{
    if (!cJSON_IsObject(t) && !cJSON_IsArray(t))
        return cJSON_Duplicate(t, 1);
    cJSON *out = cJSON_IsObject(t) ? cJSON_CreateObject() : cJSON_CreateArray();
    const cJSON *f;
    cJSON_ArrayForEach(f, t)
    {
        cJSON *v;
        size_t n = f->string ? strlen(f->string) : 0;
        if (n > 2 && strcmp(f->string + n - 2, ".$") == 0) {
            cJSON *src = jsonpath_get(in, ctx, f->valuestring);
            if (!src) {
                snprintf(err, errlen, "The JSONPath '%s' specified for the field '%s' could not be found in the input",
                         f->valuestring, f->string);
                cJSON_Delete(out);
                return NULL;
            }
            v = cJSON_Duplicate(src, 1);
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(n - 2), f->string);
            cJSON_AddItemToObject(out, key, v);
            continue;
        }
        v = apply_template(f, in, ctx, err, errlen);
        if (!v) {
            cJSON_Delete(out);
            return NULL;
        }
        if (cJSON_IsObject(out))
            cJSON_AddItemToObject(out, f->string, v);
        else
            cJSON_AddItemToArray(out, v);
    }
    return out;
}

/* InputPath without a copy: the part of raw the state reads, borrowed from raw -- or, for a
 * null InputPath, a new {} that is also put in *made for the caller to free. NULL with err when
 * the path matches nothing. States that only read their input (Choice rules, Parameters
 * templates) use it as it is: a copy of the whole state document per state was a tenth of
 * dss-scheduler's CPU in a simulated day. */
static cJSON *input_view(const struct asl_state *s, cJSON *raw, cJSON *ctx, cJSON **made, char *err, size_t errlen)
{
    *made = NULL;
    if (s->input_discard)
        return *made = cJSON_CreateObject();
    if (!s->input_path)
        return raw;
    cJSON *v = jsonpath_get(raw, ctx, s->input_path);
    if (!v)
        snprintf(err, errlen, "Invalid path '%s' : No results for path: $['%s']", s->input_path, s->input_path);
    return v;
}

/* The effective input as a value of its own: the {} input_view() made, or a copy of the view. */
static cJSON *owned_view(cJSON *made, const cJSON *view)
{
    return made ? made : view ? cJSON_Duplicate(view, 1) : NULL;
}

/* InputPath: a new value (NULL with err when the path matches nothing). */
static cJSON *input_path(const struct asl_state *s, cJSON *raw, cJSON *ctx, char *err, size_t errlen)
{
    cJSON *made, *v = input_view(s, raw, ctx, &made, err, errlen);
    return owned_view(made, v);
}

/* OutputPath applied to v (taken). NULL with err when nothing matches. */
static cJSON *output_path(const struct asl_state *s, cJSON *v, char *err, size_t errlen)
{
    if (s->output_discard) {
        cJSON_Delete(v);
        return cJSON_CreateObject();
    }
    if (!s->output_path)
        return v;
    cJSON *o = jsonpath_get(v, NULL, s->output_path);
    if (!o) {
        snprintf(err, errlen, "Invalid path '%s': the output does not contain it", s->output_path);
        cJSON_Delete(v);
        return NULL;
    }
    cJSON *r = cJSON_Duplicate(o, 1);
    cJSON_Delete(v);
    return r;
}

/* ResultPath: merges result (taken) into raw (taken); returns the new document or NULL. */
static cJSON *result_path(const char *path, int discard, cJSON *raw, cJSON *result, char *err, size_t errlen)
{
    if (discard) {
        cJSON_Delete(result);
        return raw;
    }
    if (!path) {
        cJSON_Delete(raw);
        return result;
    }
    if (jsonpath_set(&raw, path, result, err, errlen)) {
        cJSON_Delete(raw);
        return NULL;
    }
    return raw;
}

/* ---- the ready queue ---- */

static void enter(struct execution *x, int idx, cJSON *input);

static void drain(struct engine *e)
{
    if (e->draining)
        return;
    e->draining = 1;
    while (e->ready_head) {
        struct execution *x = e->ready_head;
        e->ready_head = x->ready_next;
        if (!e->ready_head)
            e->ready_tail = NULL;
        x->ready_next = NULL;
        x->in_ready = 0;
        cJSON *in = x->pending_out;
        x->pending_out = NULL;
        if (x->next < 0)
            finish(x, X_SUCCEEDED, NULL, NULL, in);
        else
            enter(x, x->next, in);
    }
    e->draining = 0;
}

/* Queues x to enter state next (-1: succeed) with input (taken) when the queue drains. */
static void ready_push(struct execution *x, int next, cJSON *input)
{
    struct engine *e = x->e;
    x->next = next;
    x->pending_out = input;
    x->in_ready = 1;
    if (e->ready_tail)
        e->ready_tail->ready_next = x;
    else
        e->ready_head = x;
    e->ready_tail = x;
}

/* Leaves the current state with output (taken) for state next (-1: the execution succeeds). */
static void transition(struct execution *x, int next, cJSON *output)
{
    struct engine *e = x->e;
    const struct asl_state *s = cur(x);
    char type[64];
    snprintf(type, sizeof type, "%sStateExited", asl_kind_name(s->kind));
    if (too_big(x, output)) {
        cJSON_Delete(output);
        fail_exec(x, "States.DataLimitExceeded", "The state output exceeds the maximum payload size");
        return;
    }
    char *text = e->j && recorded(e, type) ? cJSON_PrintUnformatted(output) : NULL; /* printed only to be kept */
    int full = event_text(x, type, s->name, text);
    free(text);
    if (full) {
        cJSON_Delete(output);
        fail_exec(x, "States.Runtime", "The execution history reached the limit of events");
        return;
    }
    e->stats.transitions++;
    ready_push(x, next, output);
}

/* ---- Choice ---- */

static int str_matches(const char *pat, const char *s)
{
    /* '*' matches any run; "\*" and "\\" are literal. */
    while (*pat) {
        if (*pat == '*') {
            while (*pat == '*')
                pat++;
            if (!*pat)
                return 1;
            for (; *s; s++)
                if (str_matches(pat, s))
                    return 1;
            return str_matches(pat, s);
        }
        char c = *pat;
        if (c == '\\' && pat[1])
            c = *++pat;
        if (*s != c)
            return 0;
        pat++;
        s++;
    }
    return *s == '\0';
}

/* 1 true, 0 false, -1 States.Runtime (err). */
static int eval_rule(const struct asl_rule *r, cJSON *in, cJSON *ctx, char *err, size_t errlen)
{
    switch (r->op) {
    case OP_AND:
    case OP_OR:
        for (int i = 0; i < r->nsub; i++) {
            int v = eval_rule(&r->sub[i], in, ctx, err, errlen);
            if (v < 0)
                return v;
            if (r->op == OP_AND && !v)
                return 0;
            if (r->op == OP_OR && v)
                return 1;
        }
        return r->op == OP_AND;
    case OP_NOT: {
        int v = eval_rule(r->sub, in, ctx, err, errlen);
        return v < 0 ? v : !v;
    }
    default:
        break;
    }
    cJSON *var = jsonpath_get(in, ctx, r->variable);
    if (r->op == OP_IS_PRESENT)
        return (var != NULL) == cJSON_IsTrue(r->value);
    if (!var) {
        snprintf(err, errlen, "Invalid path '%s': The choice state's condition path references an invalid value.",
                 r->variable);
        return -1;
    }
    switch (r->op) {
    case OP_IS_NULL:
        return cJSON_IsNull(var) == cJSON_IsTrue(r->value);
    case OP_IS_STRING:
        return cJSON_IsString(var) == cJSON_IsTrue(r->value);
    case OP_IS_NUMERIC:
        return cJSON_IsNumber(var) == cJSON_IsTrue(r->value);
    case OP_IS_BOOLEAN:
        return cJSON_IsBool(var) == cJSON_IsTrue(r->value);
    default:
        break;
    }
    const cJSON *val = r->value;
    if (r->value_is_path) {
        val = jsonpath_get(in, ctx, r->value->valuestring);
        if (!val) {
            snprintf(err, errlen, "Invalid path '%s' in a choice rule", r->value->valuestring);
            return -1;
        }
    }
    switch (r->op) {
    case OP_STR_EQ: case OP_STR_LT: case OP_STR_GT: case OP_STR_LE: case OP_STR_GE: case OP_STR_MATCHES: {
        if (!cJSON_IsString(var) || !cJSON_IsString(val))
            return 0;
        if (r->op == OP_STR_MATCHES)
            return str_matches(val->valuestring, var->valuestring);
        int c = strcmp(var->valuestring, val->valuestring);
        return r->op == OP_STR_EQ ? c == 0 : r->op == OP_STR_LT ? c < 0 : r->op == OP_STR_GT ? c > 0
               : r->op == OP_STR_LE ? c <= 0 : c >= 0;
    }
    case OP_NUM_EQ: case OP_NUM_LT: case OP_NUM_GT: case OP_NUM_LE: case OP_NUM_GE: {
        if (!cJSON_IsNumber(var) || !cJSON_IsNumber(val))
            return 0;
        double a = var->valuedouble, b = val->valuedouble;
        return r->op == OP_NUM_EQ ? a == b : r->op == OP_NUM_LT ? a < b : r->op == OP_NUM_GT ? a > b
               : r->op == OP_NUM_LE ? a <= b : a >= b;
    }
    case OP_BOOL_EQ:
        return cJSON_IsBool(var) && cJSON_IsBool(val) && cJSON_IsTrue(var) == cJSON_IsTrue(val);
    default:
        return 0;
    }
}

/* ---- Wait ---- */

/* Reads exactly n digits at *p into *out. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* "2016-03-14T01:59:00Z" or with fractional seconds; UTC only. Epoch ms, or -1. */
static int64_t parse_timestamp(const char *s)
{
    int Y, M, D, h, m, S;
    if (!s || digits(&s, 4, &Y) || *s++ != '-' || digits(&s, 2, &M) || *s++ != '-' || digits(&s, 2, &D) ||
        *s++ != 'T' || digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &m) || *s++ != ':' || digits(&s, 2, &S))
        return -1;
    double sec = S;
    if (*s == '.') {
        char *end;
        double frac = strtod(s, &end);
        sec += frac;
        s = end;
    }
    if (strcmp(s, "Z") != 0 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || S > 60)
        return -1;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    time_t t = timegm(&tm);
    return (int64_t)t * 1000 + (int64_t)(sec * 1000);
}

static void wait_fire(void *arg)
{
    struct execution *x = arg;
    struct engine *e = x->e;
    cJSON *out = x->pending_out;
    x->pending_out = NULL;
    transition(x, cur(x)->next_idx, out);
    drain(e);
}

static void start_wait(struct execution *x, cJSON *eff, cJSON *ctx, int64_t resume_due)
{
    const struct asl_state *s = cur(x);
    int64_t due = resume_due;
    if (!due) {
        if (s->has_seconds) {
            due = sched_now_ms() + (int64_t)(s->seconds * 1000);
        } else if (s->seconds_path) {
            cJSON *v = jsonpath_get(eff, ctx, s->seconds_path);
            /* Numeric strings are accepted too (the seed's Timeout_Job may be either). */
            double secs = -1;
            char *end = NULL;
            if (cJSON_IsNumber(v))
                secs = v->valuedouble;
            else if (cJSON_IsString(v) && *v->valuestring && (secs = strtod(v->valuestring, &end), *end))
                secs = -1;
            if (!v || secs < 0 || secs > 99999999 || isnan(secs)) {
                cJSON_Delete(eff);
                fail_exec(x, "States.Runtime", "The SecondsPath parameter does not reference a non-negative number");
                return;
            }
            due = sched_now_ms() + (int64_t)(secs * 1000);
        } else {
            const char *ts = s->timestamp;
            if (s->timestamp_path) {
                cJSON *v = jsonpath_get(eff, ctx, s->timestamp_path);
                ts = cJSON_IsString(v) ? v->valuestring : NULL;
            }
            due = parse_timestamp(ts);
            if (due < 0) {
                cJSON_Delete(eff);
                fail_exec(x, "States.Runtime", "The Timestamp is not an ISO 8601 UTC timestamp");
                return;
            }
        }
    }
    char err[512];
    cJSON *out = output_path(s, eff, err, sizeof err);
    if (!out) {
        fail_exec(x, "States.Runtime", err);
        return;
    }
    if (x->e->j) {
        char *in = cJSON_PrintUnformatted(x->input);
        journal_state(x->e->j, x->id, s->name, in, due, x->events, sched_now_ms());
        free(in);
    }
    x->pending_out = out;
    if (loop_at(x->e->loop, due, wait_fire, x))
        fail_exec(x, "States.Runtime", "out of memory arming a Wait timer");
}

/* ---- the states:startExecution integration (continue as new) ---- */

static struct execution *launch(struct engine *e, int64_t id, const char *name, const char *instance_id,
                                cJSON *input);

/* Step Functions' rule for execution names: 1 to 80 characters, none of them whitespace,
 * brackets, wildcards, special or control characters. */
static int valid_execution_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 80)
        return 0;
    for (; *n; n++) {
        unsigned char c = (unsigned char)*n;
        if (c <= 0x20 || c == 0x7f || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", c))
            return 0;
    }
    return 1;
}

/* The name after prev in a chain: "i-0abc" -> "i-0abc.2", "i-0abc.2" -> "i-0abc.3" (bump 1),
 * further on with a larger bump when that name is taken. */
static void chain_name(const char *prev, long bump, char *out, size_t n)
{
    const char *dot = strrchr(prev, '.');
    size_t base = strlen(prev);
    long gen = 1;
    if (dot && dot[1] && strlen(dot + 1) < 9 && strspn(dot + 1, "0123456789") == strlen(dot + 1)) {
        gen = strtol(dot + 1, NULL, 10);
        base = (size_t)(dot - prev);
    }
    snprintf(out, n, "%.*s.%ld", (int)base, prev, gen + bump);
}

static int name_in_use(const struct engine *e, const char *name)
{
    for (const struct execution *x = e->live; x; x = x->next_live)
        if (strcmp(x->name, name) == 0)
            return 1;
    return 0;
}

/* The new execution's input from the task's Input parameter: a JSON value as it is, a string as
 * the JSON text it holds (StartExecution's own form), {} when absent. NULL with err if invalid. */
static cJSON *start_input(const cJSON *params, char *err, size_t errlen)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(params, "Input");
    if (!in)
        return cJSON_CreateObject();
    if (!cJSON_IsString(in))
        return cJSON_Duplicate(in, 1);
    cJSON *v = cJSON_Parse(in->valuestring);
    if (!v)
        snprintf(err, errlen, "StartExecution: Input is a string that does not hold JSON text");
    return v;
}

/* Creates the journal row of the new execution (name given, or the next in x's chain), moving x's
 * instance to it. Returns its id (1 without a journal), 0 when the name is taken, -1 on error. */
static int64_t register_successor(struct execution *x, const cJSON *given, const char *input_text, char *name,
                                  size_t n)
{
    struct engine *e = x->e;
    for (long bump = 1; bump <= 1000; bump++) {
        if (given)
            snprintf(name, n, "%s", given->valuestring);
        else
            chain_name(x->name, bump, name, n);
        int64_t id = e->j ? journal_continue_execution(e->j, x->id, name, x->instance_id, input_text, sched_now_ms())
                          : !name_in_use(e, name);
        if (id != 0 || given)
            return id;
    }
    return 0;
}

/* Task "arn:aws:states:::states:startExecution": starts a new execution of this state machine
 * and answers {ExecutionArn, StartDate} (epoch milliseconds, as the integration returns dates). */
static void start_execution(struct task_call *call)
{
    struct execution *x = call->x;
    struct engine *e = x->e;
    char cause[1024], name[256], arn[1024];
    const char *machine = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(call->input, "StateMachineArn"));
    if (!machine || strcmp(machine, e->sm_arn) != 0) {
        snprintf(cause, sizeof cause, "StartExecution: this scheduler runs one state machine, %s, and cannot start %s",
                 e->sm_arn, machine ? machine : "(StateMachineArn is not a string)");
        task_fail(call, "States.TaskFailed", cause);
        return;
    }
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(call->input, "Name");
    if (given && (!cJSON_IsString(given) || !valid_execution_name(given->valuestring))) {
        task_fail(call, "StepFunctions.InvalidNameException",
                  "StartExecution: Name must be 1 to 80 characters without whitespace, brackets, wildcards, "
                  "special or control characters");
        return;
    }
    cJSON *input = start_input(call->input, cause, sizeof cause);
    char *text = input ? cJSON_PrintUnformatted(input) : NULL;
    if (!text || strlen(text) > e->opt.max_payload) {
        if (input)
            snprintf(cause, sizeof cause, "StartExecution: the input exceeds the maximum payload size");
        cJSON_Delete(input);
        free(text);
        task_fail(call, "StepFunctions.InvalidExecutionInputException", cause);
        return;
    }
    int64_t id = register_successor(x, given, text, name, sizeof name);
    free(text);
    if (id <= 0) {
        cJSON_Delete(input);
        snprintf(cause, sizeof cause, "StartExecution: %s", id == 0 ? "an execution of that name already exists"
                                                                     : "the journal refused the new execution");
        task_fail(call, id == 0 ? "StepFunctions.ExecutionAlreadyExistsException" : "States.TaskFailed", cause);
        return;
    }
    struct execution *next = launch(e, e->j ? id : 0, name, x->instance_id, input);
    if (!next) {
        task_fail(call, "States.TaskFailed", "StartExecution: out of memory");
        return;
    }
    /* The held job moves with the instance, so the in-flight scaler keeps counting it once. */
    next->holds_job = x->holds_job;
    x->holds_job = 0;
    log_line(x, "ContinuedAsNew", cur(x)->name, name);
    execution_arn(e, name, arn, sizeof arn);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "ExecutionArn", arn);
    cJSON_AddNumberToObject(res, "StartDate", (double)next->started_ms);
    task_succeed(call, res);
}

/* ---- Task ---- */

static void run_task(struct execution *x)
{
    struct engine *e = x->e;
    const struct asl_state *s = cur(x);
    char err[512];
    cJSON *ctx = context(x);
    cJSON *eff;
    if (s->parameters) {
        cJSON *made, *view = input_view(s, x->input, ctx, &made, err, sizeof err);
        eff = view ? apply_template(s->parameters, view, ctx, err, sizeof err) : NULL;
        cJSON_Delete(made);
    } else {
        eff = input_path(s, x->input, ctx, err, sizeof err);
    }
    cJSON_Delete(ctx);
    if (!eff) {
        fail_exec(x, "States.Runtime", err);
        return;
    }
    if (too_big(x, eff)) {
        cJSON_Delete(eff);
        fail_exec(x, "States.DataLimitExceeded", "The task input exceeds the maximum payload size");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    if (s->integration == ASL_SFN_START_EXECUTION) {
        /* As Step Functions records a service integration: the service and its API action. */
        cJSON_AddStringToObject(res, "resourceType", "states");
        cJSON_AddStringToObject(res, "resource", "startExecution");
    } else {
        cJSON_AddStringToObject(res, "resource", s->resource);
    }
    int full = event(x, "TaskScheduled", s->name, res) || event(x, "TaskStarted", s->name, NULL);
    cJSON_Delete(res);
    if (full) {
        cJSON_Delete(eff);
        fail_exec(x, "States.Runtime", "The execution history reached the limit of events");
        return;
    }
    struct task_call *call = calloc(1, sizeof *call);
    if (!call) {
        cJSON_Delete(eff);
        fail_exec(x, "States.Runtime", "out of memory");
        return;
    }
    call->e = e;
    call->x = x;
    call->input = eff;
    call->env = e->task_env;
    call->state = s->name;
    call->instance_id = x->instance_id;
    x->call = call;
    if (s->integration == ASL_SFN_START_EXECUTION)
        start_execution(call);
    else
        e->tasks[s->task].fn(call);
}

static void retry_fire(void *arg)
{
    struct execution *x = arg;
    struct engine *e = x->e;
    run_task(x);
    drain(e);
}

/* A task error: retry, catch or fail. */
static void task_error(struct execution *x, const char *error, const char *cause)
{
    struct engine *e = x->e;
    const struct asl_state *s = cur(x);
    for (int i = 0; i < s->nretry; i++) {
        const struct asl_retrier *r = &s->retry[i];
        if (!asl_error_matches(r->errors, error))
            continue;
        if (x->attempts[i] >= r->max_attempts)
            break; /* the first matching retrier decides; exhausted -> catchers */
        double delay = r->interval_s * pow(r->backoff, x->attempts[i]);
        if (r->max_delay_s > 0 && delay > r->max_delay_s)
            delay = r->max_delay_s;
        x->attempts[i]++;
        if (loop_at(e->loop, sched_now_ms() + (int64_t)(delay * 1000), retry_fire, x) == 0)
            return;
        fail_exec(x, "States.Runtime", "out of memory arming a retry");
        return;
    }
    for (int i = 0; i < s->ncatch; i++) {
        const struct asl_catcher *c = &s->catchers[i];
        if (!asl_error_matches(c->errors, error))
            continue;
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "Error", error);
        cJSON_AddStringToObject(info, "Cause", cause ? cause : "");
        char err[512];
        cJSON *raw = x->input;
        x->input = NULL;
        cJSON *out = result_path(c->result_path, c->result_discard, raw, info, err, sizeof err);
        if (!out) {
            fail_exec(x, "States.Runtime", err);
            return;
        }
        log_line(x, "Caught", s->name, error);
        transition(x, c->next_idx, out);
        return;
    }
    fail_exec(x, error, cause);
}

/* A top-level field, "$.name": setting it in an object cannot fail. */
static int simple_result_path(const char *path)
{
    if (strncmp(path, "$.", 2) != 0 || !path[2])
        return 0;
    for (const char *p = path + 2; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

/* The state input a Task's result is placed into (result_path() takes it). It is taken from the
 * execution rather than copied when nothing can go wrong after: with the result discarded or put
 * in a top-level field of an object. No ResultPath needs no input at all. Otherwise a copy, as a
 * ResultPath that does not match fails the task and a Catch then needs the input unchanged. */
static cJSON *task_raw_input(struct execution *x, const struct asl_state *s)
{
    if (!s->result_discard && !s->result_path)
        return NULL;
    if (s->result_discard || (cJSON_IsObject(x->input) && simple_result_path(s->result_path))) {
        cJSON *raw = x->input;
        x->input = NULL;
        return raw;
    }
    return cJSON_Duplicate(x->input, 1);
}

void task_succeed(struct task_call *call, cJSON *result)
{
    struct execution *x = call->x;
    struct engine *e = x->e;
    const struct asl_state *s = cur(x);
    x->call = NULL;
    cJSON_Delete(call->input);
    free(call->scratch);
    free(call->req);
    free(call);
    if (!result)
        result = cJSON_CreateNull();
    if (too_big(x, result)) {
        cJSON_Delete(result);
        event(x, "TaskFailed", s->name, NULL);
        task_error(x, "States.DataLimitExceeded", "The task result exceeds the maximum payload size");
        drain(e);
        return;
    }
    if (event(x, "TaskSucceeded", s->name, result)) {
        cJSON_Delete(result);
        fail_exec(x, "States.Runtime", "The execution history reached the limit of events");
        drain(e);
        return;
    }
    char err[512];
    if (s->result_selector) {
        cJSON *sel = apply_template(s->result_selector, result, NULL, err, sizeof err);
        cJSON_Delete(result);
        if (!sel) {
            fail_exec(x, "States.Runtime", err);
            drain(e);
            return;
        }
        result = sel;
    }
    cJSON *out = result_path(s->result_path, s->result_discard, task_raw_input(x, s), result, err, sizeof err);
    if (!out) {
        task_error(x, "States.ResultPathMatchFailure", err);
        drain(e);
        return;
    }
    out = output_path(s, out, err, sizeof err);
    if (!out)
        fail_exec(x, "States.Runtime", err);
    else
        transition(x, s->next_idx, out);
    drain(e);
}

void task_fail(struct task_call *call, const char *error, const char *cause)
{
    struct execution *x = call->x;
    struct engine *e = x->e;
    /* error and cause may point into the call's input or scratch: free those last. */
    x->call = NULL;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "error", error);
    cJSON_AddStringToObject(d, "cause", cause ? cause : "");
    int full = event(x, "TaskFailed", cur(x)->name, d);
    log_line(x, "TaskFailed", cur(x)->name, error);
    char *err = strdup(error), *why = cause ? strdup(cause) : NULL;
    cJSON_Delete(call->input);
    free(call->scratch);
    free(call->req);
    free(call);
    cJSON_Delete(d);
    if (full || !err)
        fail_exec(x, "States.Runtime", full ? "The execution history reached the limit of events" : "out of memory");
    else
        task_error(x, err, why);
    free(err);
    free(why);
    drain(e);
}

/* ---- entering a state ---- */

static void enter_at(struct execution *x, int idx, cJSON *input, int64_t resume_wait_due)
{
    struct engine *e = x->e;
    x->state = idx;
    cJSON_Delete(x->input);
    x->input = input;
    x->entered_ms = sched_now_ms();
    memset(x->attempts, 0, (size_t)(e->maxretry ? e->maxretry : 1) * sizeof *x->attempts);
    const struct asl_state *s = cur(x);
    char type[64], err[512];
    snprintf(type, sizeof type, "%sStateEntered", asl_kind_name(s->kind));
    log_line(x, "StateEntered", s->name, NULL);
    if (x->deadline_ms && sched_now_ms() >= x->deadline_ms) {
        fail_exec(x, "States.Timeout", "The execution ran longer than the state machine's TimeoutSeconds");
        return;
    }
    /* Printed only to be kept (in the history, or as the state's input to resume from); its
     * size for the quota is then the printed text's, else measured without printing. */
    char *text = e->j && (recorded(e, type) || s->kind != ASL_WAIT) ? cJSON_PrintUnformatted(input) : NULL;
    if ((text ? strlen(text) : json_printed_size(input)) > e->opt.max_payload) {
        free(text);
        fail_exec(x, "States.DataLimitExceeded", "The state input exceeds the maximum payload size");
        return;
    }
    if (event_text(x, type, s->name, text)) {
        free(text);
        fail_exec(x, "States.Runtime", "The execution history reached the limit of events");
        return;
    }
    if (e->j && s->kind != ASL_WAIT)
        journal_state(e->j, x->id, s->name, text, 0, x->events, sched_now_ms());
    free(text);
    if (s->kind == ASL_TASK) {
        /* Commit what led here before the task's request goes out (the run loop commits once a
         * round): a SIGKILL after AWS acted on it must resume this state, not the one before --
         * GetJob run again after its DeleteJob had landed lost that job (tests/crash). */
        if (e->j && journal_commit(e->j) == 0)
            journal_begin(e->j);
        run_task(x);
        return;
    }
    if (s->kind == ASL_FAIL) {
        fail_exec(x, s->error ? s->error : "", s->cause ? s->cause : "");
        return;
    }
    cJSON *ctx = context(x);
    cJSON *made, *view = input_view(s, input, ctx, &made, err, sizeof err);
    if (!view) {
        cJSON_Delete(ctx);
        fail_exec(x, "States.Runtime", err);
        return;
    }
    cJSON *eff; /* the effective input, owned: a copy of the view, or the state input itself */
    switch (s->kind) {
    case ASL_PASS: {
        cJSON *result;
        if (s->parameters)
            result = apply_template(s->parameters, view, ctx, err, sizeof err);
        else if (s->result)
            result = cJSON_Duplicate(s->result, 1);
        else
            result = owned_view(made, view);
        if (result != made)
            cJSON_Delete(made);
        cJSON_Delete(ctx);
        if (!result) {
            fail_exec(x, "States.Runtime", err);
            return;
        }
        cJSON *raw = x->input;
        x->input = NULL;
        cJSON *out = result_path(s->result_path, s->result_discard, raw, result, err, sizeof err);
        if (out)
            out = output_path(s, out, err, sizeof err);
        if (!out)
            fail_exec(x, "States.Runtime", err);
        else
            transition(x, s->next_idx, out);
        return;
    }
    case ASL_CHOICE: {
        int next = -1;
        for (int i = 0; i < s->nchoices && next < 0; i++) {
            int v = eval_rule(&s->choices[i], view, ctx, err, sizeof err);
            if (v < 0) {
                cJSON_Delete(made);
                cJSON_Delete(ctx);
                fail_exec(x, "States.Runtime", err);
                return;
            }
            if (v)
                next = s->choices[i].next_idx;
        }
        cJSON_Delete(ctx);
        if (next < 0)
            next = s->default_idx;
        if (next < 0) {
            cJSON_Delete(made);
            fail_exec(x, "States.NoChoiceMatched", "No Choice Rule matched and there is no Default");
            return;
        }
        /* The output is the input: the state input itself passes on when it is the view. */
        if (!made && view == x->input)
            eff = x->input, x->input = NULL;
        else
            eff = owned_view(made, view);
        cJSON *out = output_path(s, eff, err, sizeof err);
        if (!out)
            fail_exec(x, "States.Runtime", err);
        else
            transition(x, next, out);
        return;
    }
    case ASL_WAIT:
        eff = owned_view(made, view);
        start_wait(x, eff, ctx, resume_wait_due);
        cJSON_Delete(ctx);
        return;
    case ASL_SUCCEED: {
        cJSON_Delete(ctx);
        eff = owned_view(made, view);
        cJSON *out = output_path(s, eff, err, sizeof err);
        if (!out) {
            fail_exec(x, "States.Runtime", err);
            return;
        }
        if (event(x, "SucceedStateExited", s->name, out)) {
            cJSON_Delete(out);
            fail_exec(x, "States.Runtime", "The execution history reached the limit of events");
            return;
        }
        e->stats.transitions++;
        finish(x, X_SUCCEEDED, NULL, NULL, out);
        return;
    }
    default:
        cJSON_Delete(made);
        cJSON_Delete(ctx);
        fail_exec(x, "States.Runtime", "unexpected state type");
    }
}

static void enter(struct execution *x, int idx, cJSON *input)
{
    enter_at(x, idx, input, 0);
}

static struct execution *exec_new(struct engine *e, int64_t id, const char *name, const char *instance_id)
{
    struct execution *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->e = e;
    x->id = id;
    x->name = strdup(name);
    x->instance_id = instance_id ? strdup(instance_id) : NULL;
    x->attempts = calloc((size_t)(e->maxretry ? e->maxretry : 1), sizeof *x->attempts);
    x->started_ms = sched_now_ms();
    if (e->m->timeout_s > 0)
        x->deadline_ms = x->started_ms + (int64_t)(e->m->timeout_s * 1000);
    x->next_live = e->live;
    if (e->live)
        e->live->prev = x;
    e->live = x;
    if (!x->name || !x->attempts || (instance_id && !x->instance_id)) {
        exec_free(x);
        return NULL;
    }
    return x;
}

/* Creates execution name (journal row id, 0 without a journal) and queues it to enter the start
 * state when the ready queue drains. Takes input. */
static struct execution *launch(struct engine *e, int64_t id, const char *name, const char *instance_id,
                                cJSON *input)
{
    struct execution *x = exec_new(e, id, name, instance_id);
    if (x)
        x->exec_input = cJSON_Duplicate(input, 1);
    if (!x || !x->exec_input) {
        if (x)
            exec_free(x);
        cJSON_Delete(input);
        return NULL;
    }
    e->stats.running++;
    /* Recorded with its input whatever --history says: a resumed execution reads
     * $$.Execution.Input from it. */
    x->events++;
    if (e->j) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddItemReferenceToObject(d, "input", input);
        char *text = cJSON_PrintUnformatted(d);
        journal_event(e->j, x->id, x->events, sched_now_ms(), "ExecutionStarted", NULL, text);
        free(text);
        cJSON_Delete(d);
    }
    log_line(x, "ExecutionStarted", NULL, instance_id);
    ready_push(x, e->m->start_idx, input);
    return x;
}

int engine_start(struct engine *e, const char *name, const char *instance_id, cJSON *input)
{
    int64_t id = 0;
    if (e->j) {
        char *in = cJSON_PrintUnformatted(input);
        id = journal_new_execution(e->j, name, instance_id, in, sched_now_ms());
        free(in);
        if (id <= 0) {
            cJSON_Delete(input);
            return id == 0 ? 0 : -1;
        }
    }
    if (!launch(e, id, name, instance_id, input))
        return -1;
    drain(e);
    return 1;
}

static void resume_one(void *arg, const struct journal_exec *je)
{
    struct engine *e = arg;
    struct execution *x = exec_new(e, je->id, je->name, je->instance_id);
    if (!x)
        return;
    x->events = je->events;
    /* Its own start, not the restart's: $$.Execution.StartTime and TimeoutSeconds count from it. */
    x->started_ms = je->started_ms;
    if (e->m->timeout_s > 0)
        x->deadline_ms = x->started_ms + (int64_t)(e->m->timeout_s * 1000);
    char *first = journal_execution_input(e->j, je->id);
    x->exec_input = first ? cJSON_Parse(first) : NULL;
    free(first);
    e->stats.running++;
    cJSON *input = je->input ? cJSON_Parse(je->input) : NULL;
    int idx = je->state ? asl_find(e->m, je->state) : e->m->start_idx;
    if (!input || idx < 0) {
        cJSON_Delete(input);
        x->state = 0;
        fail_exec(x, "States.Runtime",
                  idx < 0 ? "cannot resume: the workflow has no state of that name" : "cannot resume: bad journal");
        return;
    }
    log_line(x, "ExecutionResumed", je->state, NULL);
    /* The state is run again from its input; a Wait keeps its original end. The StateEntered
     * event is not repeated for the resumed state's bookkeeping beyond what enter() records. */
    enter_at(x, idx, input, e->m->states[idx].kind == ASL_WAIT ? je->wait_due_ms : 0);
    drain(e);
}

int engine_resume(struct engine *e)
{
    if (!e->j)
        return 0;
    int before = e->stats.running + e->stats.succeeded + e->stats.failed;
    journal_each(e->j, "RUNNING", resume_one, e);
    return e->stats.running + e->stats.succeeded + e->stats.failed - before;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    struct execution *x;
    while ((x = e->live) != NULL) {
        e->live = x->next_live;
        if (e->live)
            e->live->prev = NULL;
        x->prev = x->next_live = NULL;
        exec_free(x);
    }
    free(e);
}
