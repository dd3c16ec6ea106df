/* plan.c -- see plan.h. */
#include "plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"

/* The key of fault i's decisions: its name when it has one (so inserting another fault does
 * not change its decisions), else its type and position. */
static void fault_key(const struct scenario *s, size_t i, char *out, size_t n)
{
    const struct scn_fault *f = &s->faults[i];
    if (f->name)
        snprintf(out, n, "fault:%s", f->name);
    else
        snprintf(out, n, "fault:%s#%zu", scn_fault_kind_name(f->kind), i);
}

static void add_cause(struct scn_plan *p, size_t i)
{
    if (p->n_causes < (int)(sizeof p->causes / sizeof p->causes[0]))
        p->causes[p->n_causes++] = (int)i;
}

/* Where a phase puts a targeted instance fault in the work. */
static double phase_at(enum scn_phase ph, double runtime)
{
    switch (ph) {
    case SCN_PHASE_RUNNING: return runtime / 2;
    case SCN_PHASE_FINISHING: return runtime;
    default: return 0;
    }
}

/* Rolls an instance fault by rate: p per interval while the attempt runs. Returns 1 and the
 * time of the hit, or 0. Ticks are keyed on their index within the attempt. */
static int roll_interval(uint64_t seed, const char *key, const struct scn_job *job, int attempt, double rate,
                         double interval, double runtime, double *at)
{
    long ticks = runtime > 0 ? (long)ceil(runtime / interval) : 1;
    if (ticks > 1000000)
        ticks = 1000000;
    for (long k = 0; k < ticks; k++) {
        struct rng r;
        rng_init(&r, seed, key, job->id, (uint64_t)attempt, (uint64_t)k);
        double u = rng_uniform(&r), when = ((double)k + rng_uniform(&r)) * interval;
        if (u < rate && (when < runtime || runtime <= 0)) {
            *at = runtime > 0 ? when : 0;
            return 1;
        }
    }
    return 0;
}

int plan_attempt(const struct scenario *s, const struct scn_job *job, int attempt, struct scn_plan *p)
{
    memset(p, 0, sizeof *p);
    p->runtime_s = job->runtime_s;
    p->output_bytes = job->output_bytes;
    p->hit = SCN_FAULT__COUNT;
    p->phase = SCN_PHASE_NONE;
    p->notice_s = -1;
    for (size_t i = 0; i < s->n_faults; i++) {
        const struct scn_fault *f = &s->faults[i];
        char key[160];
        fault_key(s, i, key, sizeof key);
        int targeted = f->job != NULL;
        if (targeted && (strcmp(f->job, job->id) || f->attempt != attempt))
            continue;
        switch (f->kind) {
        case SCN_FAULT_SSM_FAILURE:
        case SCN_FAULT_NO_SUCCESS:
            if (targeted || rng_key_uniform(s->seed, key, job->id, (uint64_t)attempt, 0) < f->rate) {
                if (f->kind == SCN_FAULT_SSM_FAILURE)
                    p->exit_code = f->exit_code;
                else
                    p->omit_success = 1;
                add_cause(p, i);
            }
            break;
        case SCN_FAULT_SPOT:
        case SCN_FAULT_WORKER_CRASH: {
            if (!targeted && f->target_instances)
                break; /* decided per instance by the runner, not per attempt */
            enum scn_phase ph = f->phase;
            double at = 0;
            if (targeted) {
                at = phase_at(ph, p->runtime_s);
            } else {
                if (!roll_interval(s->seed, key, job, attempt, f->rate, f->interval_s, p->runtime_s, &at))
                    break;
                ph = at <= 0 ? SCN_PHASE_STARTED : SCN_PHASE_RUNNING;
            }
            /* The earliest instance fault wins; "queued" comes before everything. */
            int earlier = p->hit == SCN_FAULT__COUNT ||
                          (ph == SCN_PHASE_QUEUED && p->phase != SCN_PHASE_QUEUED) ||
                          (p->phase != SCN_PHASE_QUEUED && at < p->at_s);
            if (earlier) {
                p->hit = f->kind;
                p->phase = ph;
                p->at_s = at;
                p->notice_s = f->kind == SCN_FAULT_SPOT ? f->notice_s : -1;
                add_cause(p, i);
            }
            break;
        }
        default: break;
        }
    }
    return 0;
}

cJSON *plan_to_json(const struct scn_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "runtime", p->runtime_s);
    cJSON_AddNumberToObject(o, "output_bytes", (double)p->output_bytes);
    cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
    cJSON_AddBoolToObject(o, "omit_success", p->omit_success);
    if (p->hit != SCN_FAULT__COUNT) {
        cJSON_AddStringToObject(o, "hit", scn_fault_kind_name(p->hit));
        cJSON_AddStringToObject(o, "phase", scn_phase_name(p->phase));
        cJSON_AddNumberToObject(o, "at", p->at_s);
        if (p->notice_s >= 0)
            cJSON_AddNumberToObject(o, "notice", p->notice_s);
    }
    cJSON *c = cJSON_AddArrayToObject(o, "causes");
    for (int i = 0; i < p->n_causes; i++)
        cJSON_AddItemToArray(c, cJSON_CreateNumber(p->causes[i]));
    return o;
}

static int num(const cJSON *o, const char *k, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return -1;
    *out = v->valuedouble;
    return 0;
}

int plan_from_json(const cJSON *o, struct scn_plan *p)
{
    memset(p, 0, sizeof *p);
    p->hit = SCN_FAULT__COUNT;
    p->phase = SCN_PHASE_NONE;
    p->notice_s = -1;
    double bytes, code;
    if (!cJSON_IsObject(o) || num(o, "runtime", 0, 1e9, &p->runtime_s) ||
        num(o, "output_bytes", 0, SCN_MAX_OUTPUT, &bytes) || num(o, "exit_code", 0, 255, &code))
        return -1;
    p->output_bytes = (long)bytes;
    p->exit_code = (int)code;
    p->omit_success = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "omit_success"));
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(o, "hit");
    if (hit) {
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(o, "phase");
        if (!cJSON_IsString(hit) || !cJSON_IsString(ph) || num(o, "at", 0, 1e9, &p->at_s))
            return -1;
        for (int k = 0; k < SCN_FAULT__COUNT; k++)
            if (!strcmp(hit->valuestring, scn_fault_kind_name((enum scn_fault_kind)k)))
                p->hit = (enum scn_fault_kind)k;
        for (int k = 0; k < SCN_PHASE__COUNT; k++)
            if (!strcmp(ph->valuestring, scn_phase_name((enum scn_phase)k)))
                p->phase = (enum scn_phase)k;
        if ((p->hit != SCN_FAULT_SPOT && p->hit != SCN_FAULT_WORKER_CRASH) || p->phase == SCN_PHASE_NONE)
            return -1;
        if (cJSON_GetObjectItemCaseSensitive(o, "notice") && num(o, "notice", 0, 3600, &p->notice_s))
            return -1;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "causes"), *e;
    cJSON_ArrayForEach(e, c) {
        if (cJSON_IsNumber(e) && p->n_causes < 8)
            p->causes[p->n_causes++] = (int)e->valuedouble;
    }
    return 0;
}
