/* check.c -- see check.h. The checker first folds the trace into one record per job (its
 * submission, attempts and final state) and one per instance (when it stopped being able to run
 * anything), then tests each invariant over those records. */
#include "check.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct c_attempt {
    int n;
    const char *instance;
    long start_line, end_line, fault_line;
    int64_t start_vt, end_vt; /* end_vt: -1 while unknown */
    int ended, exit_code, success_printed;
};

struct c_job {
    const char *id;
    long submit_line;
    int64_t submit_vt;
    int retry, via_s3;
    const char *success;
    struct c_attempt *a;
    int n_a, cap_a;
    const struct trace_event *final;
    enum scn_status status;
};

struct c_inst {
    const char *id;
    int64_t start_vt, end_vt; /* end_vt: -1 while alive */
    long end_line;
};

struct folded {
    struct c_job *jobs;
    size_t n_jobs;
    struct c_inst *inst;
    size_t n_inst, cap_inst;
    const struct trace_event *group;
    int64_t last_vt;
    /* Emulator kills (system.fault emulator_restart, phase kill): every worker, and every
     * command with it, dies then. */
    int64_t kill_vt[64];
    long kill_line[64];
    int n_kill;
};

static const char *dstr(const cJSON *d, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double dnum(const cJSON *d, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsString(v)) { /* the seed writes retry as a string too */
        char *end;
        double x = strtod(v->valuestring, &end);
        if (end != v->valuestring && !*end)
            return x;
    }
    return dflt;
}

static int cmp_job(const void *a, const void *b)
{
    return strcmp(((const struct c_job *)a)->id, ((const struct c_job *)b)->id);
}

static struct c_job *job_find(struct folded *f, const char *id)
{
    if (!id)
        return NULL;
    struct c_job key = {.id = id};
    return bsearch(&key, f->jobs, f->n_jobs, sizeof key, cmp_job);
}

static struct c_inst *inst_get(struct folded *f, const char *id, int create)
{
    for (size_t i = 0; i < f->n_inst; i++) /* instances are few (hundreds): linear is fine */
        if (!strcmp(f->inst[i].id, id))
            return &f->inst[i];
    if (!create)
        return NULL;
    if (f->n_inst == f->cap_inst) {
        size_t nc = f->cap_inst ? f->cap_inst * 2 : 16;
        struct c_inst *ni = realloc(f->inst, nc * sizeof *ni);
        if (!ni)
            return NULL;
        f->inst = ni;
        f->cap_inst = nc;
    }
    struct c_inst *in = &f->inst[f->n_inst++];
    memset(in, 0, sizeof *in);
    in->id = id;
    in->start_vt = -1;
    in->end_vt = -1;
    return in;
}

static struct c_attempt *attempt_get(struct c_job *j, int n)
{
    for (int i = 0; i < j->n_a; i++)
        if (j->a[i].n == n)
            return &j->a[i];
    if (j->n_a == j->cap_a) {
        int nc = j->cap_a ? j->cap_a * 2 : 4;
        struct c_attempt *na = realloc(j->a, (size_t)nc * sizeof *na);
        if (!na)
            return NULL;
        j->a = na;
        j->cap_a = nc;
    }
    struct c_attempt *a = &j->a[j->n_a++];
    memset(a, 0, sizeof *a);
    a->n = n;
    a->start_vt = -1;
    a->end_vt = -1;
    return a;
}

static int is_down_state(const char *s)
{
    return s && (!strcmp(s, "shutting-down") || !strcmp(s, "terminated") || !strcmp(s, "stopping") ||
                 !strcmp(s, "stopped"));
}

static void folded_free(struct folded *f)
{
    for (size_t i = 0; i < f->n_jobs; i++)
        free(f->jobs[i].a);
    free(f->jobs);
    free(f->inst);
}

static int fold(const struct trace *t, struct folded *f)
{
    memset(f, 0, sizeof *f);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += !strcmp(t->ev[i].kind, "job.submit") && t->ev[i].job;
    f->jobs = calloc(n ? n : 1, sizeof *f->jobs);
    if (!f->jobs)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        if (e->vt_ms > f->last_vt)
            f->last_vt = e->vt_ms;
        if (strcmp(e->kind, "job.submit") || !e->job)
            continue;
        struct c_job *j = &f->jobs[f->n_jobs++];
        j->id = e->job;
        j->submit_line = e->line;
        j->submit_vt = e->vt_ms;
        j->retry = (int)trace_clamp(dnum(e->details, "retry", 0), 0, INT_MAX - 1, 0); /* retry + 1 must fit */
        j->success = dstr(e->details, "success_string");
        const char *via = dstr(e->details, "via");
        j->via_s3 = via && !strcmp(via, "s3");
        j->status = SCN_STATUS_MISSING;
    }
    qsort(f->jobs, f->n_jobs, sizeof *f->jobs, cmp_job);
    /* A job submitted twice (a resubmission) keeps its first line; drop the duplicates. */
    size_t k = 0;
    for (size_t i = 0; i < f->n_jobs; i++)
        if (k == 0 || strcmp(f->jobs[k - 1].id, f->jobs[i].id))
            f->jobs[k++] = f->jobs[i];
    f->n_jobs = k;
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        const char *kind = e->kind;
        if (!strncmp(kind, "attempt.", 8) && e->attempt > 0) {
            struct c_job *j = job_find(f, e->job);
            if (!j)
                continue;
            struct c_attempt *a = attempt_get(j, e->attempt);
            if (!a)
                return -1;
            if (e->instance && !a->instance)
                a->instance = e->instance;
            if (!strcmp(kind, "attempt.start")) {
                a->start_line = e->line;
                a->start_vt = e->vt_ms;
            } else if (!strcmp(kind, "attempt.end")) {
                a->end_line = e->line;
                a->end_vt = e->vt_ms;
                a->ended = 1;
                a->exit_code = (int)trace_clamp(dnum(e->details, "exit_code", 0), INT_MIN, INT_MAX, 0);
                a->success_printed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->details, "success_printed"));
            } else if (!strcmp(kind, "attempt.fault") && !a->fault_line) {
                a->fault_line = e->line;
            }
        } else if (!strcmp(kind, "instance.state") && e->instance) {
            struct c_inst *in = inst_get(f, e->instance, 1);
            if (!in)
                return -1;
            const char *st = dstr(e->details, "state");
            if (in->start_vt < 0)
                in->start_vt = e->vt_ms;
            if (is_down_state(st) && in->end_vt < 0) {
                in->end_vt = e->vt_ms;
                in->end_line = e->line;
            }
        } else if (!strcmp(kind, "emulator.event") && e->instance) {
            const char *type = dstr(e->details, "type");
            if (type && (!strcmp(type, "ec2.worker-died") || !strcmp(type, "fault.worker-killed"))) {
                struct c_inst *in = inst_get(f, e->instance, 1);
                if (!in)
                    return -1;
                if (in->end_vt < 0) {
                    in->end_vt = e->vt_ms;
                    in->end_line = e->line;
                }
            }
        } else if (!strcmp(kind, "final.job")) {
            struct c_job *j = job_find(f, e->job);
            if (!j)
                continue;
            j->final = e;
            const char *st = dstr(e->details, "status");
            j->status = !st ? SCN_STATUS_MISSING
                        : !strcmp(st, "Successful") ? SCN_STATUS_SUCCESSFUL
                        : !strcmp(st, "Failed") ? SCN_STATUS_FAILED : SCN_STATUS_STARTED;
        } else if (!strcmp(kind, "final.group")) {
            f->group = e;
        } else if (!strcmp(kind, "system.fault")) {
            const char *type = dstr(e->details, "type"), *phase = dstr(e->details, "phase");
            if (type && phase && !strcmp(type, "emulator_restart") && !strcmp(phase, "kill") && f->n_kill < 64) {
                f->kill_vt[f->n_kill] = e->vt_ms;
                f->kill_line[f->n_kill++] = e->line;
            }
        }
    }
    return 0;
}

/* ============================================================================================
 * Violations
 * ============================================================================================ */

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int add_v(struct check_result *r, enum scn_invariant inv, const char *job, int attempt,
                 const char *instance, const long *lines, int n_lines, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static int add_v(struct check_result *r, enum scn_invariant inv, const char *job, int attempt,
                 const char *instance, const long *lines, int n_lines, const char *fmt, ...)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        struct violation *nv = realloc(r->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        r->v = nv;
        r->cap = nc;
    }
    struct violation *v = &r->v[r->n];
    memset(v, 0, sizeof *v);
    v->inv = inv;
    v->attempt = attempt;
    for (int i = 0; i < n_lines && v->n_lines < CHECK_MAX_LINES; i++)
        if (lines[i] > 0)
            v->lines[v->n_lines++] = lines[i];
    qsort(v->lines, (size_t)v->n_lines, sizeof v->lines[0], cmp_long);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->job = job ? strdup(job) : NULL;
    v->instance = instance ? strdup(instance) : NULL;
    v->message = strdup(msg);
    if ((job && !v->job) || (instance && !v->instance) || !v->message) {
        free(v->job);
        free(v->instance);
        free(v->message);
        return -1;
    }
    r->n++;
    r->broken[inv]++;
    return 0;
}

static const struct c_attempt *last_attempt(const struct c_job *j)
{
    const struct c_attempt *best = NULL;
    for (int i = 0; i < j->n_a; i++)
        if (!best || j->a[i].n > best->n)
            best = &j->a[i];
    return best;
}

static int check_job(struct check_result *r, const struct folded *f, const struct c_job *j)
{
    const struct c_attempt *att = j->a;
    const int n_att = j->n_a;
    assert(att || n_att == 0);
    const struct c_attempt *la = last_attempt(j);
    long fl = j->final ? j->final->line : 0;
    const cJSON *rec = j->final ? j->final->details : NULL; /* the job table's record */
    const char *rec_inst = dstr(rec, "instance_id");
    long lines[5] = {j->submit_line, la ? la->start_line : 0, la ? la->fault_line : 0, la ? la->end_line : 0, fl};
    int la_n = la ? la->n : 0;
    const char *la_inst = la && la->instance ? la->instance : rec_inst;
    (void)f;

    if (j->status != SCN_STATUS_SUCCESSFUL && j->status != SCN_STATUS_FAILED &&
        add_v(r, SCN_INV_TERMINAL, j->id, la_n, la_inst, lines, 5, "%s ends %s%s (not Successful or Failed)",
              j->id, j->status == SCN_STATUS_MISSING ? "with no record in the job table" : "as ",
              j->status == SCN_STATUS_MISSING ? "" : dstr(rec, "status")))
        return -1;

    double fin = dnum(rec, "finished", 0);
    double fal = dnum(rec, "failed", 0);
    if (j->status == SCN_STATUS_MISSING) {
        if (add_v(r, SCN_INV_NOT_LOST, j->id, la_n, la_inst, lines, 5,
                  "%s is lost: no record in the job table (%g on finished, %g on failed)", j->id, fin, fal))
            return -1;
    } else if (fin + fal != 1) {
        if (add_v(r, SCN_INV_NOT_LOST, j->id, la_n, la_inst, lines, 5,
                  "%s is %s in the job table but on %g finished and %g failed queue messages (want exactly one)",
                  j->id, scn_status_name(j->status), fin, fal))
            return -1;
    } else if ((j->status == SCN_STATUS_SUCCESSFUL && fin != 1) || (j->status == SCN_STATUS_FAILED && fal != 1)) {
        if (add_v(r, SCN_INV_NOT_LOST, j->id, la_n, la_inst, lines, 5,
                  "%s is %s in the job table but its message is on the %s queue", j->id,
                  scn_status_name(j->status), fin ? "finished" : "failed"))
            return -1;
    }

    if (j->status == SCN_STATUS_SUCCESSFUL) {
        int disabled = scn_success_disabled(j->success);
        const struct c_attempt *good = NULL;
        for (int i = 0; i < n_att; i++)
            if (att[i].ended && att[i].exit_code == 0 && (disabled || att[i].success_printed))
                good = &att[i];
        const char *out = dstr(rec, "output");
        int in_record = disabled || (out && strstr(out, j->success));
        if (!good || !in_record) {
            if (add_v(r, SCN_INV_NO_FALSE_SUCCESS, j->id, la_n, la_inst, lines, 5,
                      "%s is Successful but %s", j->id,
                      !good ? (disabled ? "no attempt of it ran to completion"
                                        : "no attempt of it printed its success string and exited 0")
                            : "its recorded output does not hold its success string"))
                return -1;
        }
    }

    int ended = 0;
    for (int i = 0; i < n_att; i++)
        ended += att[i].ended;
    const char *retries = dstr(rec, "retries"); /* "N of M" */
    long used = -1;
    if (retries) {
        char *end;
        used = strtol(retries, &end, 10);
        if (end == retries)
            used = -1;
    }
    if (ended > j->retry + 1) {
        if (add_v(r, SCN_INV_ATTEMPTS, j->id, la_n, la_inst, lines, 5,
                  "%s ran %d attempts to completion with retry %d (at most %d)", j->id, ended, j->retry,
                  j->retry + 1))
            return -1;
    } else if (used > j->retry) {
        if (add_v(r, SCN_INV_ATTEMPTS, j->id, la_n, la_inst, lines, 5,
                  "%s records Retries \"%s\", more than its retry %d", j->id, retries, j->retry))
            return -1;
    }

    /* Overlap: attempts sorted by start; an attempt lasts until its end, or until its instance
     * stopped being able to run it, or until the trace ends. */
    for (int x = 0; x < n_att; x++) {
        for (int y = 0; y < n_att; y++) {
            const struct c_attempt *a = &att[x], *b = &att[y];
            if (x == y || a->start_vt < 0 || b->start_vt < 0 || b->start_vt < a->start_vt ||
                (b->start_vt == a->start_vt && y < x))
                continue;
            int64_t a_end = a->end_vt;
            long a_end_line = a->end_line;
            if (a_end < 0) {
                const struct c_inst *in = a->instance ? inst_get((struct folded *)f, a->instance, 0) : NULL;
                a_end = in && in->end_vt >= a->start_vt ? in->end_vt : f->last_vt;
                a_end_line = in && in->end_vt >= a->start_vt ? in->end_line : 0;
                for (int k = 0; k < f->n_kill; k++)
                    if (f->kill_vt[k] >= a->start_vt && f->kill_vt[k] < a_end) {
                        a_end = f->kill_vt[k];
                        a_end_line = f->kill_line[k];
                    }
            }
            if (b->start_vt < a_end) {
                long l[4] = {a->start_line, a_end_line, b->start_line, b->end_line};
                if (add_v(r, SCN_INV_NO_OVERLAP, j->id, b->n, b->instance, l, 4,
                          "%s attempt %d (on %s) started while attempt %d (on %s) was still running", j->id, b->n,
                          b->instance ? b->instance : "?", a->n, a->instance ? a->instance : "?"))
                    return -1;
            }
        }
    }

    if (j->via_s3 && j->status == SCN_STATUS_SUCCESSFUL &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "s3_result"))) {
        if (add_v(r, SCN_INV_S3_RESULTS, j->id, la_n, la_inst, lines, 5,
                  "%s is Successful but its result file is not in its S3 folder", j->id))
            return -1;
    }
    return 0;
}

static int check_group(struct check_result *r, const struct folded *f)
{
    if (!f->group) {
        long none = 0;
        return add_v(r, SCN_INV_GROUP_ZERO, NULL, 0, NULL, &none, 0,
                     "the trace has no final.group event (the run did not finish collecting its state)");
    }
    const cJSON *d = f->group->details;
    const cJSON *insts = cJSON_GetObjectItemCaseSensitive(d, "instances");
    const cJSON *workers = cJSON_GetObjectItemCaseSensitive(d, "workers");
    double desired = dnum(d, "desired", 0);
    int n_inst = cJSON_GetArraySize(insts), n_work = cJSON_GetArraySize(workers);
    long line = f->group->line;
    if (desired != 0 || n_inst > 0) {
        const cJSON *first = cJSON_GetArrayItem(insts, 0);
        if (add_v(r, SCN_INV_GROUP_ZERO, NULL, 0, cJSON_IsString(first) ? first->valuestring : NULL, &line, 1,
                  "at the end the group's desired capacity is %g and %d instance(s) are not terminated", desired,
                  n_inst))
            return -1;
    }
    if (n_work > 0) {
        const cJSON *w;
        cJSON_ArrayForEach(w, workers) {
            const char *inst = dstr(w, "instance_id");
            if (add_v(r, SCN_INV_NO_STRAY, NULL, 0, inst, &line, 1, "worker process %g (instance %s) survived the run",
                      dnum(w, "pid", 0), inst ? inst : "?"))
                return -1;
        }
    }
    return 0;
}

static void metrics(struct check_result *r, const struct folded *f)
{
    struct check_metrics *m = &r->m;
    int64_t first = -1, last = -1;
    for (size_t i = 0; i < f->n_jobs; i++) {
        const struct c_job *j = &f->jobs[i];
        m->jobs++;
        m->attempts += j->n_a;
        r->status[j->status]++;
        if (first < 0 || j->submit_vt < first)
            first = j->submit_vt;
        const struct c_attempt *good = NULL;
        for (int k = 0; k < j->n_a; k++) {
            const struct c_attempt *a = &j->a[k];
            if (a->end_vt > last)
                last = a->end_vt;
            if (a->ended && a->exit_code == 0 && a->start_vt >= 0)
                good = a;
        }
        if (j->status == SCN_STATUS_SUCCESSFUL && good)
            m->useful_s += (double)(good->end_vt - good->start_vt) / 1000.0;
    }
    m->makespan_s = first >= 0 && last > first ? (double)(last - first) / 1000.0 : 0;
    for (size_t i = 0; i < f->n_inst; i++) {
        const struct c_inst *in = &f->inst[i];
        int64_t end = in->end_vt >= 0 ? in->end_vt : f->last_vt;
        if (in->start_vt >= 0 && end > in->start_vt)
            m->instance_s += (double)(end - in->start_vt) / 1000.0;
    }
    m->wasted_s = m->instance_s > m->useful_s ? m->instance_s - m->useful_s : 0;
    m->lost = r->broken[SCN_INV_NOT_LOST];
    m->false_success = r->broken[SCN_INV_NO_FALSE_SUCCESS];
}

static int add_failure(struct check_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_failure(struct check_result *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char **nf = realloc(r->failures, (r->n_failures + 1) * sizeof *nf);
    if (!nf)
        return -1;
    r->failures = nf;
    if (!(nf[r->n_failures] = strdup(msg)))
        return -1;
    r->n_failures++;
    return 0;
}

int check_run(const struct trace *t, struct check_result *r)
{
    memset(r, 0, sizeof *r);
    if (!trace_find(t, "job.submit")) {
        add_failure(r, "the trace has no job.submit event: nothing to check");
        return -1;
    }
    struct folded f;
    if (fold(t, &f)) {
        folded_free(&f);
        return -1;
    }
    r->has_final = f.group != NULL || trace_find(t, "final.job") != NULL;
    int rc = 0;
    for (size_t i = 0; i < f.n_jobs && !rc; i++)
        rc = check_job(r, &f, &f.jobs[i]);
    if (!rc)
        rc = check_group(r, &f);
    metrics(r, &f);
    folded_free(&f);
    return rc;
}

int check_expect(const struct scenario *s, const struct trace *t, struct check_result *r)
{
    size_t before = r->n_failures;
    const struct scn_expect *e = &s->expect;
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        if (e->status[i] >= 0 && e->status[i] != r->status[i])
            add_failure(r, "expected %ld job(s) %s, got %ld", e->status[i], scn_status_name((enum scn_status)i),
                        r->status[i]);
    for (size_t k = 0; k < e->n_jobs; k++) {
        const struct scn_job_expect *je = &e->jobs[k];
        const char *status = "Missing";
        int attempts = 0;
        for (size_t i = 0; i < t->n; i++) {
            const struct trace_event *ev = &t->ev[i];
            if (!ev->job || strcmp(ev->job, je->job))
                continue;
            if (!strcmp(ev->kind, "attempt.start") && ev->attempt > attempts)
                attempts = ev->attempt;
            if (!strcmp(ev->kind, "final.job")) {
                const char *st = dstr(ev->details, "status");
                status = !st ? "Missing" : (!strcmp(st, "Successful") || !strcmp(st, "Failed")) ? st : "Started";
            }
        }
        if (je->status && strcmp(je->status, status))
            add_failure(r, "expected %s to end %s, it ended %s", je->job, je->status, status);
        if (je->attempts >= 0 && je->attempts != attempts)
            add_failure(r, "expected %s to run %d attempt(s), it ran %d", je->job, je->attempts, attempts);
    }
    for (int i = 0; i < SCN_INV__COUNT; i++) {
        long b = r->broken[i];
        if (e->inv[i] == SCN_EXPECT_HOLD && b)
            add_failure(r, "invariant %s broken %ld time(s): %s", scn_invariant_name((enum scn_invariant)i), b,
                        scn_invariant_text((enum scn_invariant)i));
        else if (e->inv[i] == SCN_EXPECT_BREAK && !b)
            add_failure(r, "invariant %s was expected to break but held",
                        scn_invariant_name((enum scn_invariant)i));
    }
    return (int)(r->n_failures - before);
}

int check_expect_hold(struct check_result *r)
{
    size_t before = r->n_failures;
    for (int i = 0; i < SCN_INV__COUNT; i++)
        if (r->broken[i])
            add_failure(r, "invariant %s broken %ld time(s): %s", scn_invariant_name((enum scn_invariant)i),
                        r->broken[i], scn_invariant_text((enum scn_invariant)i));
    return (int)(r->n_failures - before);
}

void check_result_free(struct check_result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].job);
        free(r->v[i].instance);
        free(r->v[i].message);
    }
    free(r->v);
    for (size_t i = 0; i < r->n_failures; i++)
        free(r->failures[i]);
    free(r->failures);
    memset(r, 0, sizeof *r);
}

/* ============================================================================================
 * Histories
 * ============================================================================================ */

static cJSON *hist_attempt(cJSON *h, int n)
{
    cJSON *atts = cJSON_GetObjectItemCaseSensitive(h, "attempts");
    cJSON *a;
    cJSON_ArrayForEach(a, atts) {
        if (dnum(a, "attempt", 0) == n)
            return a;
    }
    /* Appended; sort_attempts() orders them once the history is complete. (Not
     * cJSON_InsertItemInArray: Debian's cJSON 1.7.15 loses items inserted in the middle.) */
    a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "attempt", n);
    cJSON_AddItemToArray(atts, a);
    return a;
}

static int cmp_attempt_item(const void *x, const void *y)
{
    double a = dnum(*(cJSON *const *)x, "attempt", 0), b = dnum(*(cJSON *const *)y, "attempt", 0);
    return (a > b) - (a < b);
}

static void sort_attempts(cJSON *h)
{
    cJSON *atts = cJSON_GetObjectItemCaseSensitive(h, "attempts");
    int n = cJSON_GetArraySize(atts);
    if (n < 2)
        return;
    cJSON **items = malloc((size_t)n * sizeof(cJSON *));
    if (!items)
        return;
    for (int i = 0; i < n; i++)
        items[i] = cJSON_DetachItemFromArray(atts, 0);
    qsort(items, (size_t)n, sizeof(cJSON *), cmp_attempt_item);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(atts, items[i]);
    free(items);
}

struct ev_ref {
    const struct trace_event *e;
};

static int cmp_ev_job(const void *a, const void *b)
{
    const struct trace_event *x = ((const struct ev_ref *)a)->e, *y = ((const struct ev_ref *)b)->e;
    int c = strcmp(x->job, y->job);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Replaces every occurrence of from with to in the string members of o. */
static void replace_in_strings(cJSON *o, const char *from, const char *to)
{
    cJSON *m;
    size_t fl = strlen(from), tl = strlen(to);
    cJSON_ArrayForEach(m, o) {
        if (!cJSON_IsString(m) || !strstr(m->valuestring, from))
            continue;
        size_t n = 0;
        for (const char *p = m->valuestring; (p = strstr(p, from)); p += fl)
            n++;
        char *out = malloc(strlen(m->valuestring) + n * tl + 1), *w = out;
        if (!out)
            continue;
        for (const char *p = m->valuestring;;) {
            const char *q = strstr(p, from);
            size_t len = q ? (size_t)(q - p) : strlen(p);
            memcpy(w, p, len);
            w += len;
            if (!q)
                break;
            memcpy(w, to, tl);
            w += tl;
            p = q + fl;
        }
        *w = '\0';
        cJSON_SetValuestring(m, out);
        free(out);
    }
}

cJSON *check_histories(const struct trace *t)
{
    cJSON *all = cJSON_CreateObject();
    /* The run directory differs between runs and shows in the recorded commands. */
    const struct trace_event *head = trace_find(t, "run.start");
    const char *run_dir = head ? dstr(head->details, "run_dir") : NULL;
    /* Events grouped by job (then in trace order), so each job's history is built in one pass
     * and the jobs come out sorted by id. */
    struct ev_ref *refs = malloc((t->n ? t->n : 1) * sizeof *refs);
    if (!refs)
        return all;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].job)
            refs[n++].e = &t->ev[i];
    qsort(refs, n, sizeof *refs, cmp_ev_job);
    cJSON *h = NULL;
    const char *cur = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct trace_event *e = refs[i].e;
        if (!cur || strcmp(cur, e->job)) {
            cur = e->job;
            h = cJSON_AddObjectToObject(all, e->job);
            cJSON_AddArrayToObject(h, "attempts");
        }
        if (!strcmp(e->kind, "decision") && e->attempt > 0) {
            cJSON_AddItemToObject(hist_attempt(h, e->attempt), "plan",
                                  e->details ? cJSON_Duplicate(e->details, 1) : cJSON_CreateNull());
        } else if (!strcmp(e->kind, "attempt.end") && e->attempt > 0) {
            cJSON *a = hist_attempt(h, e->attempt);
            cJSON_DeleteItemFromObjectCaseSensitive(a, "exit_code");
            cJSON_AddNumberToObject(a, "exit_code", dnum(e->details, "exit_code", 0));
        } else if (!strcmp(e->kind, "attempt.fault") && e->attempt > 0) {
            cJSON *a = hist_attempt(h, e->attempt);
            cJSON *fs = cJSON_GetObjectItemCaseSensitive(a, "faults");
            if (!fs)
                fs = cJSON_AddArrayToObject(a, "faults");
            const char *fault = dstr(e->details, "fault");
            cJSON_AddItemToArray(fs, cJSON_CreateString(fault ? fault : "?"));
        } else if (!strcmp(e->kind, "attempt.start") && e->attempt > 0) {
            hist_attempt(h, e->attempt);
        } else if (!strcmp(e->kind, "final.job")) {
            const char *st = dstr(e->details, "status");
            cJSON_AddStringToObject(h, "status", st ? st : "Missing");
            const cJSON *rec = cJSON_GetObjectItemCaseSensitive(e->details, "record");
            if (cJSON_IsObject(rec)) {
                cJSON *copy = cJSON_Duplicate(rec, 1);
                if (run_dir && *run_dir)
                    replace_in_strings(copy, run_dir, "$RUN");
                /* Which instance ran a job depends on timing, not on the seed. */
                cJSON_DeleteItemFromObjectCaseSensitive(copy, "instance_id");
                cJSON_AddItemToObject(h, "record", copy);
            }
        }
    }
    free(refs);
    /* An attempt that started but never ended was interrupted. */
    cJSON_ArrayForEach(h, all) {
        sort_attempts(h);
        cJSON *a;
        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(h, "attempts")) {
            if (!cJSON_GetObjectItemCaseSensitive(a, "exit_code"))
                cJSON_AddBoolToObject(a, "interrupted", 1);
        }
    }
    return all;
}

static void diff_add(cJSON *out, int *n, int max, const char *job, const cJSON *x, const cJSON *y)
{
    if ((*n)++ >= max)
        return;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "job", job);
    cJSON_AddItemToObject(d, "a", x ? cJSON_Duplicate(x, 1) : cJSON_CreateNull());
    cJSON_AddItemToObject(d, "b", y ? cJSON_Duplicate(y, 1) : cJSON_CreateNull());
    cJSON_AddItemToArray(out, d);
}

cJSON *check_history_diff(const cJSON *a, const cJSON *b, int max)
{
    /* Both come from check_histories, sorted by job id: walk them side by side. */
    cJSON *out = cJSON_CreateArray();
    int n = 0;
    const cJSON *x = a ? a->child : NULL, *y = b ? b->child : NULL;
    while (x || y) {
        int c = !x ? 1 : !y ? -1 : strcmp(x->string, y->string);
        if (c == 0) {
            if (!cJSON_Compare(x, y, 1))
                diff_add(out, &n, max, x->string, x, y);
            x = x->next;
            y = y->next;
        } else if (c < 0) {
            diff_add(out, &n, max, x->string, x, NULL);
            x = x->next;
        } else {
            diff_add(out, &n, max, y->string, NULL, y);
            y = y->next;
        }
    }
    return out;
}
