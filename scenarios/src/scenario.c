/* scenario.c -- the scenario file loader and validator (format: scenarios/README.md).
 *
 * Parsing is cJSON's; this file only walks the tree. Every field is checked for its type and
 * range, unknown fields are errors (a typo must not silently become a default), and the first
 * error is reported with the field's path: "jobs[1].retry: must be an integer between 0 and 100".
 * Generators are expanded here: run times and output sizes are drawn from the seed keyed on the
 * job id, so adding a job never changes another job's parameters.
 */
#include "scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

#define MAX_STRING 65536
#define PATH_LEN 256

struct pctx {
    char *err;
    size_t err_len;
};

static int fail(struct pctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct pctx *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->err_len, "%s%s%s", path, *path ? ": " : "", msg);
    return -1;
}

/* path + "." + key (or path + "[i]" when key is NULL). */
static void subpath(char *out, const char *path, const char *key, long i)
{
    int n = key ? snprintf(out, PATH_LEN, "%s%s%s", path, *path ? "." : "", key)
                : snprintf(out, PATH_LEN, "%s[%ld]", path, i);
    if (n >= PATH_LEN) /* an absurdly deep path: keep its start, mark the cut */
        memcpy(out + PATH_LEN - 4, "...", 4);
}

/* ============================================================================================
 * Names and enums
 * ============================================================================================ */

static const char *const fault_names[SCN_FAULT__COUNT] = {
    "spot_interruption", "worker_crash", "ssm_failure", "no_success_string",
    "api_error", "latency", "emulator_restart", "scheduler_kill"};
static const char *const phase_names[SCN_PHASE__COUNT] = {"queued", "started", "running", "finishing"};
static const char *const status_names[SCN_STATUS__COUNT + 1] = {"Successful", "Failed", "Started", "Missing"};
static const char *const inv_names[SCN_INV__COUNT + 1] = {
#define X(e, name, text) name,
    SCN_INVARIANTS(X)
#undef X
};
static const char *const inv_texts[SCN_INV__COUNT] = {
#define X(e, name, text) text,
    SCN_INVARIANTS(X)
#undef X
};

const char *scn_fault_kind_name(enum scn_fault_kind k)
{
    return k >= 0 && k < SCN_FAULT__COUNT ? fault_names[k] : "?";
}

const char *scn_phase_name(enum scn_phase p)
{
    return p >= 0 && p < SCN_PHASE__COUNT ? phase_names[p] : "none";
}

const char *scn_status_name(enum scn_status st)
{
    return st >= 0 && st < SCN_STATUS__COUNT ? status_names[st] : "?";
}

int scn_status_parse(const char *name)
{
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        if (!strcmp(status_names[i], name))
            return i;
    return -1;
}

const char *scn_invariant_name(enum scn_invariant i)
{
    return i >= 0 && i < SCN_INV__COUNT ? inv_names[i] : "?";
}

const char *scn_invariant_text(enum scn_invariant i)
{
    return i >= 0 && i < SCN_INV__COUNT ? inv_texts[i] : "?";
}

int scn_invariant_parse(const char *name)
{
    for (int i = 0; i < SCN_INV__COUNT; i++)
        if (!strcmp(inv_names[i], name))
            return i;
    return -1;
}

int scn_success_disabled(const char *s)
{
    return !s || !*s || !strcmp(s, " ");
}

/* ============================================================================================
 * Typed field access. Each getter returns 0 (also when the field is absent and has a default),
 * or -1 after writing the error.
 * ============================================================================================ */

/* Every member of obj must be in allowed (NULL-terminated). */
static int check_keys(struct pctx *c, const cJSON *obj, const char *path, const char *const *allowed)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, obj) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, m->string);
        if (!ok) {
            char p[PATH_LEN];
            subpath(p, path, m->string, 0);
            return fail(c, p, "unknown field");
        }
    }
    return 0;
}

static int need_object(struct pctx *c, const cJSON *v, const char *path)
{
    return cJSON_IsObject(v) ? 0 : fail(c, path, "must be an object");
}

static int get_string(struct pctx *c, const cJSON *obj, const char *path, const char *key, const char *dflt,
                      int required, char **out)
{
    char p[PATH_LEN];
    subpath(p, path, key, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required)
            return fail(c, p, "is required");
        *out = dflt ? strdup(dflt) : NULL;
        return dflt && !*out ? fail(c, p, "out of memory") : 0;
    }
    if (!cJSON_IsString(v))
        return fail(c, p, "must be a string");
    if (strlen(v->valuestring) > MAX_STRING)
        return fail(c, p, "longer than %d bytes", MAX_STRING);
    *out = strdup(v->valuestring);
    return *out ? 0 : fail(c, p, "out of memory");
}

static int get_number(struct pctx *c, const cJSON *obj, const char *path, const char *key, double dflt,
                      double lo, double hi, double *out)
{
    char p[PATH_LEN];
    subpath(p, path, key, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(c, p, "must be a number");
    if (v->valuedouble < lo || v->valuedouble > hi)
        return fail(c, p, "must be between %g and %g", lo, hi);
    *out = v->valuedouble;
    return 0;
}

static int get_long(struct pctx *c, const cJSON *obj, const char *path, const char *key, long dflt, long lo,
                    long hi, long *out)
{
    char p[PATH_LEN];
    subpath(p, path, key, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return fail(c, p, "must be an integer between %ld and %ld", lo, hi);
    *out = (long)d;
    return 0;
}

static int get_int(struct pctx *c, const cJSON *obj, const char *path, const char *key, int dflt, int lo, int hi,
                   int *out)
{
    long v = dflt;
    if (get_long(c, obj, path, key, dflt, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

/* A string field that must be one of names[0..n-1]; *out gets its index. */
static int get_enum(struct pctx *c, const cJSON *obj, const char *path, const char *key, int dflt,
                    const char *const *names, int n, int *out)
{
    char p[PATH_LEN], list[256] = "";
    subpath(p, path, key, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = dflt;
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, names[i])) {
            *out = i;
            return 0;
        }
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    }
    return fail(c, p, "must be one of %s", list);
}

/* A distribution: a number (fixed) or {"dist": kind, parameters..., "min", "max"}. */
static int get_dist(struct pctx *c, const cJSON *obj, const char *path, const char *key, double dflt,
                    double hi, struct scn_dist *out)
{
    static const char *const kinds[] = {"fixed", "uniform", "exponential", "normal", "lognormal"};
    static const char *const keys[] = {"dist", "value", "min", "max", "mean", "stddev", "median", "sigma", NULL};
    char p[PATH_LEN];
    subpath(p, path, key, 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    memset(out, 0, sizeof *out);
    out->kind = SCN_DIST_FIXED;
    out->a = dflt;
    out->lo = 0;
    out->hi = hi;
    if (!v)
        return 0;
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > hi)
            return fail(c, p, "must be between 0 and %g", hi);
        out->a = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsObject(v))
        return fail(c, p, "must be a number or a distribution object");
    int kind;
    if (check_keys(c, v, p, keys) || get_enum(c, v, p, "dist", -1, kinds, 5, &kind))
        return -1;
    if (kind < 0) {
        char q[PATH_LEN];
        subpath(q, p, "dist", 0);
        return fail(c, q, "is required");
    }
    out->kind = (enum scn_dist_kind)kind;
    if (get_number(c, v, p, "min", 0, 0, hi, &out->lo) || get_number(c, v, p, "max", hi, 0, hi, &out->hi))
        return -1;
    /* Which parameters each kind needs, and which are forbidden. */
    struct { const char *a, *b; } need[] = {
        {"value", NULL}, {"min", "max"}, {"mean", NULL}, {"mean", "stddev"}, {"median", "sigma"}};
    const char *pa = need[kind].a, *pb = need[kind].b;
    for (const char *const *k = keys + 1; *k; k++) {
        int wanted = !strcmp(*k, pa) || (pb && !strcmp(*k, pb)) || !strcmp(*k, "min") || !strcmp(*k, "max");
        if (!wanted && cJSON_GetObjectItemCaseSensitive(v, *k)) {
            char q[PATH_LEN];
            subpath(q, p, *k, 0);
            return fail(c, q, "not a parameter of the %s distribution", kinds[kind]);
        }
    }
    if (kind == SCN_DIST_UNIFORM) {
        if (!cJSON_GetObjectItemCaseSensitive(v, "min") || !cJSON_GetObjectItemCaseSensitive(v, "max"))
            return fail(c, p, "the uniform distribution needs min and max");
        out->a = out->lo;
        out->b = out->hi;
    } else {
        char q[PATH_LEN];
        subpath(q, p, pa, 0);
        if (!cJSON_GetObjectItemCaseSensitive(v, pa))
            return fail(c, q, "is required by the %s distribution", kinds[kind]);
        if (get_number(c, v, p, pa, 0, kind == SCN_DIST_FIXED ? 0 : 1e-9, hi, &out->a))
            return -1;
        if (pb) {
            subpath(q, p, pb, 0);
            if (!cJSON_GetObjectItemCaseSensitive(v, pb))
                return fail(c, q, "is required by the %s distribution", kinds[kind]);
            if (get_number(c, v, p, pb, 0, 0, kind == SCN_DIST_LOGNORMAL ? 10 : hi, &out->b))
                return -1;
        }
    }
    if (out->lo > out->hi)
        return fail(c, p, "min must not exceed max");
    return 0;
}

/* ============================================================================================
 * Identifiers
 * ============================================================================================ */

static int valid_chars(const char *s, const char *extra, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

/* Job ids end up in file names, S3 keys and shell commands: keep them to a safe alphabet. */
static int valid_job_id(const char *s)
{
    return valid_chars(s, "._:-", 128) && s[0] != '.' && s[0] != '-';
}

/* Replaces every "{i}" in tmpl with i. Returns a new string or NULL. */
static char *expand(const char *tmpl, long i)
{
    char num[24];
    int nl = snprintf(num, sizeof num, "%ld", i);
    size_t n = 0;
    for (const char *p = tmpl; (p = strstr(p, "{i}")); p += 3)
        n++;
    char *out = malloc(strlen(tmpl) + n * (size_t)nl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = tmpl;;) {
        const char *q = strstr(p, "{i}");
        size_t len = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, len);
        o += len;
        if (!q)
            break;
        memcpy(o, num, (size_t)nl);
        o += nl;
        p = q + 3;
    }
    *o = '\0';
    return out;
}

/* ============================================================================================
 * Sections
 * ============================================================================================ */

static int parse_fleet(struct pctx *c, const cJSON *root, struct scenario *s)
{
    static const char *const keys[] = {"max_instances", "instance_types", "boot_delay", "status_delay", "market",
                                       NULL};
    static const char *const markets[] = {"spot", "on-demand"};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "fleet");
    cJSON empty = {0};
    empty.type = cJSON_Object;
    if (!f)
        f = &empty;
    int market;
    if (need_object(c, f, "fleet") || check_keys(c, f, "fleet", keys) ||
        get_int(c, f, "fleet", "max_instances", 4, 1, SCN_MAX_INSTANCES, &s->max_instances) ||
        get_number(c, f, "fleet", "boot_delay", -1, 0, 3600, &s->boot_delay_s) ||
        get_number(c, f, "fleet", "status_delay", -1, 0, 3600, &s->status_delay_s) ||
        get_enum(c, f, "fleet", "market", 0, markets, 2, &market))
        return -1;
    s->market = (enum scn_market)market;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(f, "instance_types");
    if (!types) {
        s->instance_types = calloc(1, sizeof *s->instance_types);
        if (!s->instance_types || !(s->instance_types[0] = strdup("c5.large")))
            return fail(c, "fleet", "out of memory");
        s->n_instance_types = 1;
        return 0;
    }
    int n = cJSON_GetArraySize(types);
    if (!cJSON_IsArray(types) || n < 1 || n > 64)
        return fail(c, "fleet.instance_types", "must be an array of 1 to 64 instance type names");
    s->instance_types = calloc((size_t)n, sizeof *s->instance_types);
    if (!s->instance_types)
        return fail(c, "fleet.instance_types", "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *t = cJSON_GetArrayItem(types, i);
        char p[PATH_LEN];
        subpath(p, "fleet.instance_types", NULL, i);
        if (!cJSON_IsString(t) || !valid_chars(t->valuestring, ".-", 64) || !strchr(t->valuestring, '.'))
            return fail(c, p, "must be an instance type name such as \"c5.large\"");
        if (!(s->instance_types[i] = strdup(t->valuestring)))
            return fail(c, p, "out of memory");
        s->n_instance_types++;
    }
    return 0;
}

static int parse_emulator(struct pctx *c, const cJSON *root, struct scenario *s)
{
    static const char *const keys[] = {"ssm_dead_agent", "spot_notice", "shutdown_delay", NULL};
    static const char *const modes[] = {"timeout", "missing", "terminated"};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "emulator");
    cJSON empty = {0};
    empty.type = cJSON_Object;
    if (!f)
        f = &empty;
    return need_object(c, f, "emulator") || check_keys(c, f, "emulator", keys) ||
                   get_enum(c, f, "emulator", "ssm_dead_agent", -1, modes, 3, &s->ssm_dead_agent) ||
                   get_number(c, f, "emulator", "spot_notice", -1, 0, 3600, &s->spot_notice_s) ||
                   get_number(c, f, "emulator", "shutdown_delay", -1, 0, 3600, &s->shutdown_delay_s)
               ? -1
               : 0;
}

static int parse_scaler(struct pctx *c, const cJSON *root, struct scenario *s)
{
    static const char *const keys[] = {"mode", "interval", "instances", NULL};
    static const char *const modes[] = {"seed", "fixed", "off"};
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "scaler");
    cJSON empty = {0};
    empty.type = cJSON_Object;
    if (!f)
        f = &empty;
    int mode;
    if (need_object(c, f, "scaler") || check_keys(c, f, "scaler", keys) ||
        get_enum(c, f, "scaler", "mode", 0, modes, 3, &mode) ||
        get_number(c, f, "scaler", "interval", 60, 0.001, 86400, &s->scaler_interval_s) ||
        get_int(c, f, "scaler", "instances", s->max_instances, 0, s->max_instances, &s->scaler_instances))
        return -1;
    s->scaler = (enum scn_scaler)mode;
    if (s->scaler != SCN_SCALER_FIXED && cJSON_GetObjectItemCaseSensitive(f, "instances"))
        return fail(c, "scaler.instances", "only the fixed scaler takes a number of instances");
    return 0;
}

/* One entry of "jobs": an explicit job, or a generator (it has "count"). Appends to s->jobs. */
static int parse_job_spec(struct pctx *c, const cJSON *j, const char *path, int spec, struct scenario *s,
                          size_t *cap)
{
    static const char *const keys[] = {"id", "count", "start", "command", "output", "runtime", "output_size",
                                       "success_string", "retry", "via", "submit_at", "ssm_document", NULL};
    static const char *const vias[] = {"sqs", "s3"};
    if (need_object(c, j, path) || check_keys(c, j, path, keys))
        return -1;
    int generator = cJSON_GetObjectItemCaseSensitive(j, "count") != NULL;
    long count = 1, start = 0;
    int retry = 0, via = 0, rc = -1;
    double submit_at = 0;
    char *id = NULL, *command = NULL, *output = NULL, *success = NULL, *doc = NULL;
    struct scn_dist runtime = {0}, out_size = {0};
    if (get_long(c, j, path, "count", 1, 0, SCN_MAX_JOBS, &count) ||
        get_long(c, j, path, "start", 0, 0, 1000000000L, &start) ||
        get_string(c, j, path, "id", generator ? "job-{i}" : NULL, !generator, &id) ||
        get_string(c, j, path, "command", NULL, 0, &command) || get_string(c, j, path, "output", NULL, 0, &output) ||
        get_string(c, j, path, "success_string", "done", 0, &success) ||
        get_string(c, j, path, "ssm_document", "AWS-RunShellScript", 0, &doc) ||
        get_dist(c, j, path, "runtime", 1, 7 * 86400, &runtime) ||
        get_dist(c, j, path, "output_size", 64, SCN_MAX_OUTPUT, &out_size) ||
        get_int(c, j, path, "retry", 3, 0, 100, &retry) || get_enum(c, j, path, "via", 0, vias, 2, &via) ||
        get_number(c, j, path, "submit_at", 0, 0, 30 * 86400, &submit_at))
        goto out;
    char p[PATH_LEN];
    if (!generator && cJSON_GetObjectItemCaseSensitive(j, "start")) {
        subpath(p, path, "start", 0);
        fail(c, p, "only a generator (with count) takes start");
        goto out;
    }
    if (command && (cJSON_GetObjectItemCaseSensitive(j, "runtime") || output ||
                    cJSON_GetObjectItemCaseSensitive(j, "output_size"))) {
        subpath(p, path, "command", 0);
        fail(c, p, "a job with its own command takes no runtime, output or output_size");
        goto out;
    }
    if (strcmp(doc, "AWS-RunShellScript")) {
        subpath(p, path, "ssm_document", 0);
        fail(c, p, "only AWS-RunShellScript runs on the emulator's Linux workers");
        goto out;
    }
    if (generator && !strstr(id, "{i}") && count > 1) {
        subpath(p, path, "id", 0);
        fail(c, p, "a generator's id must contain {i} so its jobs differ");
        goto out;
    }
    if (s->n_jobs + (size_t)count > SCN_MAX_JOBS) {
        fail(c, path, "more than %d jobs in all", SCN_MAX_JOBS);
        goto out;
    }
    for (long k = 0; k < count; k++) {
        if (s->n_jobs == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            struct scn_job *nj = realloc(s->jobs, nc * sizeof *nj);
            if (!nj) {
                fail(c, path, "out of memory");
                goto out;
            }
            s->jobs = nj;
            *cap = nc;
        }
        struct scn_job *job = &s->jobs[s->n_jobs];
        memset(job, 0, sizeof *job);
        long i = start + k;
        job->id = generator ? expand(id, i) : strdup(id);
        job->command = command ? (generator ? expand(command, i) : strdup(command)) : NULL;
        job->output = output ? (generator ? expand(output, i) : strdup(output)) : NULL;
        job->success_string = strdup(success);
        job->ssm_document = strdup(doc);
        s->n_jobs++; /* counted before the checks so scenario_free releases it */
        if (!job->id || (command && !job->command) || (output && !job->output) || !job->success_string ||
            !job->ssm_document) {
            fail(c, path, "out of memory");
            goto out;
        }
        subpath(p, path, "id", 0);
        if (!valid_job_id(job->id)) {
            fail(c, p, "job id '%.40s' must be 1-128 of A-Z a-z 0-9 . _ : - (not starting with . or -)", job->id);
            goto out;
        }
        /* Generated parameters: keyed on the job's id, never on its position. */
        struct rng r;
        rng_init(&r, s->seed, "job.runtime", job->id, 0, 0);
        job->runtime_s = rng_dist(&r, &runtime);
        rng_init(&r, s->seed, "job.output_size", job->id, 0, 0);
        job->output_bytes = lround(rng_dist(&r, &out_size));
        job->retry = retry;
        job->via = (enum scn_via)via;
        job->submit_at_s = submit_at;
        job->spec = spec;
    }
    rc = 0;
out:
    free(id);
    free(command);
    free(output);
    free(success);
    free(doc);
    return rc;
}

static int cmp_job_id(const void *a, const void *b, void *ctx)
{
    const struct scn_job *jobs = ctx;
    return strcmp(jobs[*(const size_t *)a].id, jobs[*(const size_t *)b].id);
}

static int parse_jobs(struct pctx *c, const cJSON *root, struct scenario *s)
{
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(root, "jobs");
    if (!jobs)
        return fail(c, "jobs", "is required");
    if (!cJSON_IsArray(jobs) || cJSON_GetArraySize(jobs) < 1)
        return fail(c, "jobs", "must be a non-empty array");
    size_t cap = 0;
    int i = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, jobs) {
        char p[PATH_LEN];
        subpath(p, "jobs", NULL, i);
        if (parse_job_spec(c, j, p, i, s, &cap))
            return -1;
        i++;
    }
    if (s->n_jobs == 0)
        return fail(c, "jobs", "makes no job (every count is 0)");
    s->by_id = malloc(s->n_jobs * sizeof *s->by_id);
    if (!s->by_id)
        return fail(c, "jobs", "out of memory");
    for (size_t k = 0; k < s->n_jobs; k++)
        s->by_id[k] = k;
    qsort_r(s->by_id, s->n_jobs, sizeof *s->by_id, cmp_job_id, s->jobs);
    for (size_t k = 1; k < s->n_jobs; k++) {
        const struct scn_job *a = &s->jobs[s->by_id[k - 1]], *b = &s->jobs[s->by_id[k]];
        if (!strcmp(a->id, b->id)) {
            char p[PATH_LEN];
            subpath(p, "jobs", NULL, b->spec);
            return fail(c, p, "duplicate job id '%s' (also made by jobs[%d])", b->id, a->spec);
        }
    }
    return 0;
}

static int parse_at(struct pctx *c, const cJSON *f, const char *path, struct scn_at *at)
{
    static const char *const keys[] = {"jobs_done", "fraction", "time", NULL};
    char p[PATH_LEN];
    subpath(p, path, "at", 0);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "at");
    if (!v)
        return fail(c, p, "is required (one of jobs_done, fraction, time)");
    if (need_object(c, v, p) || check_keys(c, v, p, keys) ||
        get_long(c, v, p, "jobs_done", -1, 0, SCN_MAX_JOBS, &at->jobs_done) ||
        get_number(c, v, p, "fraction", -1, 0, 1, &at->fraction) ||
        get_number(c, v, p, "time", -1, 0, 30 * 86400, &at->time_s))
        return -1;
    if ((at->jobs_done >= 0) + (at->fraction >= 0) + (at->time_s >= 0) != 1)
        return fail(c, p, "must hold exactly one of jobs_done, fraction, time");
    return 0;
}

/* Fields each fault type takes, beyond "type" and "name". */
static const char *const fault_keys[SCN_FAULT__COUNT][12] = {
    [SCN_FAULT_SPOT] = {"job", "attempt", "phase", "rate", "interval", "target", "notice"},
    [SCN_FAULT_WORKER_CRASH] = {"job", "attempt", "phase", "rate", "interval"},
    [SCN_FAULT_SSM_FAILURE] = {"job", "attempt", "rate", "exit_code"},
    [SCN_FAULT_NO_SUCCESS] = {"job", "attempt", "rate"},
    [SCN_FAULT_API_ERROR] = {"service", "operation", "error", "nth", "count", "rate", "calls"},
    [SCN_FAULT_LATENCY] = {"service", "operation", "delay_ms", "nth", "count", "rate", "calls"},
    [SCN_FAULT_EMULATOR_RESTART] = {"at", "downtime"},
    [SCN_FAULT_SCHEDULER_KILL] = {"at", "downtime"},
};

static int parse_fault(struct pctx *c, const cJSON *f, const char *path, const struct scenario *s,
                       struct scn_fault *out)
{
    static const char *const services[] = {"sqs", "dynamodb", "ec2", "autoscaling", "ssm", "s3"};
    static const char *const targets[] = {"attempts", "instances"};
    char p[PATH_LEN];
    int kind;
    memset(out, 0, sizeof *out);
    out->rate = -1;
    out->phase = SCN_PHASE_NONE;
    if (need_object(c, f, path) || get_enum(c, f, path, "type", -1, fault_names, SCN_FAULT__COUNT, &kind))
        return -1;
    if (kind < 0) {
        subpath(p, path, "type", 0);
        return fail(c, p, "is required");
    }
    out->kind = (enum scn_fault_kind)kind;
    const char *allowed[16] = {"type", "name"};
    int na = 2;
    for (int i = 0; fault_keys[kind][i]; i++)
        allowed[na++] = fault_keys[kind][i];
    allowed[na] = NULL;
    if (check_keys(c, f, path, allowed) || get_string(c, f, path, "name", NULL, 0, &out->name))
        return -1;
    switch (out->kind) {
    case SCN_FAULT_SPOT:
    case SCN_FAULT_WORKER_CRASH:
    case SCN_FAULT_SSM_FAILURE:
    case SCN_FAULT_NO_SUCCESS: {
        int has_job = cJSON_GetObjectItemCaseSensitive(f, "job") != NULL;
        int has_rate = cJSON_GetObjectItemCaseSensitive(f, "rate") != NULL;
        if (has_job == has_rate)
            return fail(c, path, "needs either job (targeted) or rate, not both");
        int phase = SCN_PHASE_RUNNING, target = 0;
        if (get_string(c, f, path, "job", NULL, 0, &out->job) ||
            get_int(c, f, path, "attempt", 1, 1, 1000, &out->attempt) ||
            get_number(c, f, path, "rate", -1, 0, 1, &out->rate) ||
            get_number(c, f, path, "interval", 60, 0.001, 86400, &out->interval_s) ||
            get_enum(c, f, path, "phase", SCN_PHASE_RUNNING, phase_names, SCN_PHASE__COUNT, &phase) ||
            get_enum(c, f, path, "target", 0, targets, 2, &target) ||
            get_number(c, f, path, "notice", -1, 0, 3600, &out->notice_s) ||
            get_int(c, f, path, "exit_code", 1, 1, 255, &out->exit_code))
            return -1;
        out->phase = (enum scn_phase)phase;
        out->target_instances = target;
        if (has_job && !scenario_job(s, out->job)) {
            subpath(p, path, "job", 0);
            return fail(c, p, "no job '%.64s' in this scenario", out->job);
        }
        const char *only_rate[] = {"interval", "target"}, *only_job[] = {"attempt", "phase"};
        for (int i = 0; i < 2; i++) {
            const char *bad = has_job ? only_rate[i] : only_job[i];
            if (cJSON_GetObjectItemCaseSensitive(f, bad)) {
                subpath(p, path, bad, 0);
                return fail(c, p, "only a %s fault takes it", has_job ? "rate-based" : "targeted");
            }
        }
        break;
    }
    case SCN_FAULT_API_ERROR:
    case SCN_FAULT_LATENCY: {
        int svc;
        if (get_enum(c, f, path, "service", -1, services, 6, &svc) ||
            get_string(c, f, path, "operation", "*", 0, &out->operation) ||
            get_string(c, f, path, "error", "throttling", 0, &out->error) ||
            get_long(c, f, path, "nth", 0, 1, 100000000L, &out->nth) ||
            get_long(c, f, path, "count", 1, 1, 100000000L, &out->count) ||
            get_number(c, f, path, "rate", -1, 0, 1, &out->rate) ||
            get_long(c, f, path, "calls", 1000, 1, 10000000L, &out->calls) ||
            get_long(c, f, path, "delay_ms", 1000, 0, 600000, &out->delay_ms))
            return -1;
        if (svc < 0) {
            subpath(p, path, "service", 0);
            return fail(c, p, "is required");
        }
        out->service = strdup(services[svc]);
        if (!out->service)
            return fail(c, path, "out of memory");
        if (strcmp(out->operation, "*") && !valid_chars(out->operation, "", 63)) {
            subpath(p, path, "operation", 0);
            return fail(c, p, "must be an operation name such as ReceiveMessage, or *");
        }
        if (!strcmp(out->error, "throttling") || !strcmp(out->error, "500") || !strcmp(out->error, "reset")) {
            /* the service's own codes are chosen by the runner */
        } else if (!valid_chars(out->error, ".", 63)) {
            subpath(p, path, "error", 0);
            return fail(c, p, "must be throttling, 500, reset or an AWS error code");
        }
        int has_nth = out->nth > 0, has_rate = out->rate >= 0;
        if (has_nth == has_rate)
            return fail(c, path, "needs either nth or rate, not both");
        if (has_rate && cJSON_GetObjectItemCaseSensitive(f, "count")) {
            subpath(p, path, "count", 0);
            return fail(c, p, "only an nth fault takes a count");
        }
        if (has_nth && cJSON_GetObjectItemCaseSensitive(f, "calls")) {
            subpath(p, path, "calls", 0);
            return fail(c, p, "only a rate fault takes calls");
        }
        break;
    }
    case SCN_FAULT_EMULATOR_RESTART:
    case SCN_FAULT_SCHEDULER_KILL:
        if (parse_at(c, f, path, &out->at) || get_number(c, f, path, "downtime", 1, 0, 3600, &out->downtime_s))
            return -1;
        break;
    default: break;
    }
    return 0;
}

static int parse_faults(struct pctx *c, const cJSON *root, struct scenario *s)
{
    const cJSON *faults = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (!faults)
        return 0;
    int n = cJSON_GetArraySize(faults);
    if (!cJSON_IsArray(faults) || n > SCN_MAX_FAULTS)
        return fail(c, "faults", "must be an array of at most %d faults", SCN_MAX_FAULTS);
    if (n == 0)
        return 0;
    s->faults = calloc((size_t)n, sizeof *s->faults);
    if (!s->faults)
        return fail(c, "faults", "out of memory");
    for (int i = 0; i < n; i++) {
        char p[PATH_LEN];
        subpath(p, "faults", NULL, i);
        s->n_faults++;
        if (parse_fault(c, cJSON_GetArrayItem(faults, i), p, s, &s->faults[i]))
            return -1;
    }
    return 0;
}

static int parse_expect(struct pctx *c, const cJSON *root, struct scenario *s)
{
    static const char *const keys[] = {"status", "jobs", "invariants", NULL};
    static const char *const jkeys[] = {"status", "attempts", NULL};
    static const char *const how[] = {"hold", "break", "any"};
    struct scn_expect *e = &s->expect;
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        e->status[i] = -1;
    for (int i = 0; i < SCN_INV__COUNT; i++)
        e->inv[i] = SCN_EXPECT_HOLD;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "expect");
    if (!x)
        return 0;
    if (need_object(c, x, "expect") || check_keys(c, x, "expect", keys))
        return -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "status"), *m;
    if (st) {
        if (need_object(c, st, "expect.status") || check_keys(c, st, "expect.status", status_names))
            return -1;
        for (int i = 0; i < SCN_STATUS__COUNT; i++)
            if (get_long(c, st, "expect.status", status_names[i], -1, 0, SCN_MAX_JOBS, &e->status[i]))
                return -1;
    }
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(x, "jobs");
    if (jobs) {
        if (need_object(c, jobs, "expect.jobs"))
            return -1;
        int n = cJSON_GetArraySize(jobs);
        e->jobs = calloc(n ? (size_t)n : 1, sizeof *e->jobs);
        if (!e->jobs)
            return fail(c, "expect.jobs", "out of memory");
        cJSON_ArrayForEach(m, jobs) {
            char p[PATH_LEN];
            subpath(p, "expect.jobs", m->string, 0);
            struct scn_job_expect *je = &e->jobs[e->n_jobs++];
            je->attempts = -1;
            if (!(je->job = strdup(m->string)))
                return fail(c, p, "out of memory");
            if (!scenario_job(s, m->string))
                return fail(c, p, "no such job in this scenario");
            int status = -1;
            if (need_object(c, m, p) || check_keys(c, m, p, jkeys) ||
                get_enum(c, m, p, "status", -1, status_names, SCN_STATUS__COUNT, &status) ||
                get_int(c, m, p, "attempts", -1, 0, 100000, &je->attempts))
                return -1;
            if (status >= 0 && !(je->status = strdup(status_names[status])))
                return fail(c, p, "out of memory");
        }
    }
    const cJSON *inv = cJSON_GetObjectItemCaseSensitive(x, "invariants");
    if (inv) {
        if (need_object(c, inv, "expect.invariants") || check_keys(c, inv, "expect.invariants", inv_names))
            return -1;
        for (int i = 0; i < SCN_INV__COUNT; i++) {
            int v;
            if (get_enum(c, inv, "expect.invariants", inv_names[i], SCN_EXPECT_HOLD, how, 3, &v))
                return -1;
            e->inv[i] = (enum scn_inv_expect)v;
        }
    }
    return 0;
}

static int parse_root(struct pctx *c, const cJSON *root, int64_t seed_override, struct scenario *s)
{
    static const char *const keys[] = {"name", "description", "seed", "mode", "clock_speed", "time_limit",
                                       "stack", "workflow", "poll_interval", "fleet", "emulator", "scaler", "jobs",
                                       "faults", "expect", "history", NULL};
    static const char *const skeys[] = {"name", "region", NULL};
    static const char *const modes[] = {"real", "simulated"};
    static const char *const histories[] = {"full", "failures", "none"};
    if (need_object(c, root, "") || check_keys(c, root, "", keys))
        return -1;
    double seed = 0;
    int mode = 0, history = -1;
    if (get_string(c, root, "", "name", NULL, 1, &s->name) ||
        get_string(c, root, "", "description", "", 0, &s->description) ||
        get_number(c, root, "", "seed", 1, 0, 9007199254740991.0, &seed) ||
        get_enum(c, root, "", "mode", 0, modes, 2, &mode) ||
        get_number(c, root, "", "clock_speed", 1, 0.01, 1000, &s->clock_speed) ||
        get_number(c, root, "", "time_limit", 600, 1, 7 * 86400, &s->time_limit_s) ||
        get_string(c, root, "", "workflow", "seed", 0, &s->workflow) ||
        get_number(c, root, "", "poll_interval", 5, 0.01, 3600, &s->poll_interval_s) ||
        get_enum(c, root, "", "history", -1, histories, 3, &history))
        return -1;
    /* In real mode the runner reads the journal's newest events (retrying_executions()). */
    if (mode == SCN_MODE_REAL && history > 0)
        return fail(c, "history", "must be \"full\" in real mode (the runner reads the scheduler's history)");
    s->history = history >= 0 ? histories[history] : mode == SCN_MODE_REAL ? "full" : "failures";
    if (seed != floor(seed))
        return fail(c, "seed", "must be an integer between 0 and 2^53-1");
    s->seed = seed_override >= 0 ? (uint64_t)seed_override : (uint64_t)seed;
    s->mode = (enum scn_mode)mode;
    if (!valid_chars(s->name, "._-", 64))
        return fail(c, "name", "must be 1-64 of A-Z a-z 0-9 . _ -");
    if (!*s->workflow)
        return fail(c, "workflow", "must not be empty");
    const cJSON *stack = cJSON_GetObjectItemCaseSensitive(root, "stack");
    cJSON empty = {0};
    empty.type = cJSON_Object;
    if (!stack)
        stack = &empty;
    if (need_object(c, stack, "stack") || check_keys(c, stack, "stack", skeys) ||
        get_string(c, stack, "stack", "name", "dss", 0, &s->stack) ||
        get_string(c, stack, "stack", "region", "us-east-1", 0, &s->region))
        return -1;
    /* S-job-queue-finished must stay within SQS's 80 characters. */
    if (!valid_chars(s->stack, "-_", 40))
        return fail(c, "stack.name", "must be 1-40 of A-Z a-z 0-9 - _");
    if (!valid_chars(s->region, "-", 32))
        return fail(c, "stack.region", "must be a region name such as us-east-1");
    return parse_fleet(c, root, s) || parse_emulator(c, root, s) || parse_scaler(c, root, s) || parse_jobs(c, root, s) ||
                   parse_faults(c, root, s) || parse_expect(c, root, s)
               ? -1
               : 0;
}

int scenario_from_json(cJSON *doc, int64_t seed_override, struct scenario *out, char *err, size_t err_len)
{
    struct pctx c = {err, err_len};
    memset(out, 0, sizeof *out);
    out->source = doc;
    if (parse_root(&c, doc, seed_override, out)) {
        scenario_free(out);
        return -1;
    }
    return 0;
}

int scenario_parse(const char *text, size_t len, int64_t seed_override, struct scenario *out, char *err,
                   size_t err_len)
{
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!doc) {
        long line = 1, col = 1;
        const char *at = end ? end : cJSON_GetErrorPtr();
        if (at && at >= text && at <= text + len) {
            for (const char *p = text; p < at; p++) {
                col++;
                if (*p == '\n') {
                    line++;
                    col = 1;
                }
            }
        }
        snprintf(err, err_len, "not valid JSON (near line %ld, column %ld)", line, col);
        return -1;
    }
    return scenario_from_json(doc, seed_override, out, err, err_len);
}

int scenario_load(const char *path, int64_t seed_override, struct scenario *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap > 64u << 20) {
                fclose(f);
                free(text);
                snprintf(err, err_len, "%s: larger than 64 MiB", path);
                return -1;
            }
            cap = cap ? cap * 2 : 65536;
            char *t = realloc(text, cap);
            if (!t) {
                fclose(f);
                free(text);
                snprintf(err, err_len, "%s: out of memory", path);
                return -1;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        snprintf(err, err_len, "%s: read error", path);
        return -1;
    }
    char msg[512];
    int rc = scenario_parse(text, len, seed_override, out, msg, sizeof msg);
    free(text);
    if (rc)
        snprintf(err, err_len, "%s: %s", path, msg);
    return rc;
}

void scenario_free(struct scenario *s)
{
    free(s->name);
    free(s->description);
    free(s->stack);
    free(s->region);
    free(s->workflow);
    for (size_t i = 0; i < s->n_instance_types; i++)
        free(s->instance_types[i]);
    free(s->instance_types);
    for (size_t i = 0; i < s->n_jobs; i++) {
        struct scn_job *j = &s->jobs[i];
        free(j->id);
        free(j->command);
        free(j->output);
        free(j->success_string);
        free(j->ssm_document);
    }
    free(s->jobs);
    free(s->by_id);
    for (size_t i = 0; i < s->n_faults; i++) {
        struct scn_fault *f = &s->faults[i];
        free(f->name);
        free(f->job);
        free(f->service);
        free(f->operation);
        free(f->error);
    }
    free(s->faults);
    for (size_t i = 0; i < s->expect.n_jobs; i++) {
        free(s->expect.jobs[i].job);
        free(s->expect.jobs[i].status);
    }
    free(s->expect.jobs);
    cJSON_Delete(s->source);
    memset(s, 0, sizeof *s);
}

long scenario_job_index(const struct scenario *s, const char *id)
{
    if (!s->by_id || !id)
        return -1;
    size_t lo = 0, hi = s->n_jobs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->jobs[s->by_id[mid]].id, id);
        if (c == 0)
            return (long)s->by_id[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const struct scn_job *scenario_job(const struct scenario *s, const char *id)
{
    long i = scenario_job_index(s, id);
    return i < 0 ? NULL : &s->jobs[i];
}

/* ============================================================================================
 * --set overrides
 * ============================================================================================ */

/* Sets key of every node in nodes (n of them) to a copy of value; descends for the rest. */
static int set_in(cJSON *node, char *path, const cJSON *value, char *err, size_t err_len, int *hits)
{
    char *dot = strchr(path, '.');
    if (dot)
        *dot = '\0';
    const char *seg = path;
    int rc = 0;
    if (cJSON_IsArray(node)) {
        char *end;
        long idx = strtol(seg, &end, 10);
        int numeric = *seg && !*end;
        int i = 0;
        cJSON *el;
        cJSON_ArrayForEach(el, node) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(el, "name");
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(el, "type");
            int match = numeric ? i == idx
                                : (cJSON_IsString(nm) && !strcmp(nm->valuestring, seg)) ||
                                      (cJSON_IsString(ty) && !strcmp(ty->valuestring, seg));
            i++;
            if (!match)
                continue;
            if (!dot) {
                snprintf(err, err_len, "--set: cannot replace a whole array element ('%s')", seg);
                return -1;
            }
            if ((rc = set_in(el, dot + 1, value, err, err_len, hits)))
                break;
        }
    } else if (cJSON_IsObject(node)) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, seg);
        if (!dot) {
            cJSON *copy = cJSON_Duplicate(value, 1);
            if (!copy)
                return -1;
            if (child)
                cJSON_ReplaceItemInObjectCaseSensitive(node, seg, copy);
            else
                cJSON_AddItemToObject(node, seg, copy);
            (*hits)++;
        } else {
            if (!child) {
                child = cJSON_AddObjectToObject(node, seg);
                if (!child)
                    return -1;
            }
            rc = set_in(child, dot + 1, value, err, err_len, hits);
        }
    } else {
        snprintf(err, err_len, "--set: '%s' is inside a value that is neither object nor array", seg);
        rc = -1;
    }
    if (dot)
        *dot = '.';
    return rc;
}

int scenario_set(cJSON *doc, const char *path, const char *value, char *err, size_t err_len)
{
    if (!path || !*path || strlen(path) > 200) {
        snprintf(err, err_len, "--set: empty or overlong path");
        return -1;
    }
    cJSON *v = cJSON_Parse(value);
    if (!v)
        v = cJSON_CreateString(value);
    if (!v) {
        snprintf(err, err_len, "--set: out of memory");
        return -1;
    }
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    int hits = 0;
    int rc = set_in(doc, p, v, err, err_len, &hits);
    cJSON_Delete(v);
    if (rc == 0 && hits == 0) {
        snprintf(err, err_len, "--set: '%s' matches nothing in the scenario", path);
        rc = -1;
    }
    return rc;
}
