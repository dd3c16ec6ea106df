/* check.h -- the invariant checker and the expectation check.
 *
 * check_run() reads a trace (trace.h): the jobs submitted ("job.submit"), every attempt the
 * job shim saw ("attempt.start"/"attempt.end"/"attempt.fault"), the instances ("instance.state")
 * and the final state the runner collected at the end ("final.job": the DynamoDB record and
 * how often the job is on the finished/failed queues, its S3 results; "final.group": the Auto
 * Scaling group and the worker processes still alive). It needs nothing else, so a trace file
 * can be checked again long after the run. Each violation names the invariant, the job, the
 * attempt, the instance and the trace lines that show it. The invariants are listed in
 * scenario.h (SCN_INVARIANTS) and explained in scenarios/README.md.
 *
 * check_expect() compares a result with the scenario's "expect" section; check_histories()
 * reduces a trace to per-job histories that must be identical across repeats of a seed.
 */
#ifndef DSS_SCN_CHECK_H
#define DSS_SCN_CHECK_H

#include <cjson/cJSON.h>

#include "scenario.h"
#include "trace.h"

#define CHECK_MAX_LINES 8

struct violation {
    enum scn_invariant inv;
    char *job;       /* NULL for run-wide violations */
    int attempt;     /* 0 when none */
    char *instance;  /* NULL when none */
    long lines[CHECK_MAX_LINES]; /* trace lines that show it, ascending */
    int n_lines;
    char *message;
};

struct check_metrics {
    long jobs, attempts;
    long lost;            /* no_lost_jobs violations */
    long false_success;   /* no_false_success violations */
    double makespan_s;    /* first submission to the last attempt's end (emulator clock) */
    double instance_s;    /* instance-seconds from launch to termination */
    double useful_s;      /* seconds of the attempts that made a job Successful */
    double wasted_s;      /* instance_s - useful_s */
};

struct check_result {
    struct violation *v;
    size_t n, cap;
    long broken[SCN_INV__COUNT];      /* violations per invariant */
    long status[SCN_STATUS__COUNT];   /* jobs by final status */
    struct check_metrics m;
    char **failures;                  /* broken expectations, one sentence each */
    size_t n_failures;
    int has_final;                    /* the trace holds the final state */
};

/* Checks every invariant. Returns 0 (violations are results, not errors), or -1 when out of
 * memory or the trace has no run.start/job.submit to work with (message in r->failures). */
int check_run(const struct trace *t, struct check_result *r);
/* Adds a failure for each expectation of s that the result breaks. Returns the number added. */
int check_expect(const struct scenario *s, const struct trace *t, struct check_result *r);
/* Without a scenario: every invariant is expected to hold. Returns the number of failures added. */
int check_expect_hold(struct check_result *r);
void check_result_free(struct check_result *r);

/* Per-job histories: {job: {"attempts":[{"attempt","plan","exit_code"|"interrupted",faults}],
 * "status","record":{...without instance_id}}}. A new object. */
cJSON *check_histories(const struct trace *t);
/* Jobs whose histories differ between a and b, as a new array of {"job","a","b"} (at most
 * max entries). Empty when identical. */
cJSON *check_history_diff(const cJSON *a, const cJSON *b, int max);

#endif
