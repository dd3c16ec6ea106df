/* test_scenario_check.c -- the invariant checker against hand-written traces: a clean run has no
 * violation, and each trace below breaks exactly the invariant it is named after, reported with
 * the job, attempt, instance and trace lines that show it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "scenario.h"
#include "trace.h"

#define HEAD "{\"vt\":0,\"kind\":\"run.start\",\"details\":{\"name\":\"t\",\"seed\":1}}\n"
#define SUBMIT(j, retry, ss) \
    "{\"vt\":0,\"kind\":\"job.submit\",\"job\":\"" j "\",\"details\":{\"retry\":" #retry ",\"success_string\":\"" ss "\",\"via\":\"sqs\"}}\n"
#define START(vt, j, a, i) \
    "{\"vt\":" #vt ",\"kind\":\"attempt.start\",\"job\":\"" j "\",\"attempt\":" #a ",\"instance\":\"" i "\",\"details\":{}}\n"
#define END(vt, j, a, i, code, printed) \
    "{\"vt\":" #vt ",\"kind\":\"attempt.end\",\"job\":\"" j "\",\"attempt\":" #a ",\"instance\":\"" i "\",\"details\":{\"exit_code\":" #code ",\"success_printed\":" #printed "}}\n"
#define FINAL(vt, j, status, retries, out, fin, fail) \
    "{\"vt\":" #vt ",\"kind\":\"final.job\",\"job\":\"" j "\",\"details\":{\"status\":\"" status "\",\"retries\":\"" retries "\",\"output\":\"" out "\",\"instance_id\":\"i-1\",\"finished\":" #fin ",\"failed\":" #fail ",\"record\":{\"job_id\":\"" j "\",\"Status\":\"" status "\"}}}\n"
#define INST(vt, i, st) "{\"vt\":" #vt ",\"kind\":\"instance.state\",\"instance\":\"" i "\",\"details\":{\"state\":\"" st "\"}}\n"
#define GROUP_OK(vt) "{\"vt\":" #vt ",\"kind\":\"final.group\",\"details\":{\"desired\":0,\"instances\":[],\"workers\":[]}}\n"

static void load(const char *text, struct trace *t)
{
    char err[256] = "";
    trace_init(t);
    if (trace_load_mem(text, strlen(text), t, err, sizeof err)) {
        print_error("%s\n", err);
        fail();
    }
}

static void run(const char *text, struct trace *t, struct check_result *r)
{
    load(text, t);
    assert_int_equal(check_run(t, r), 0);
}

/* Exactly one violation, of inv, for job/attempt/instance, citing the given lines. */
static void expect_one(const struct check_result *r, enum scn_invariant inv, const char *job, int attempt,
                       const char *instance, const long *lines, int n_lines)
{
    if (r->n != 1) {
        for (size_t i = 0; i < r->n; i++)
            print_error("violation %s: %s\n", scn_invariant_name(r->v[i].inv), r->v[i].message);
        fail_msg("want exactly one violation, got %zu", r->n);
    }
    const struct violation *v = &r->v[0];
    assert_string_equal(scn_invariant_name(v->inv), scn_invariant_name(inv));
    assert_int_equal(r->broken[inv], 1);
    if (job)
        assert_string_equal(v->job, job);
    else
        assert_null(v->job);
    assert_int_equal(v->attempt, attempt);
    if (instance)
        assert_string_equal(v->instance, instance);
    assert_int_equal(v->n_lines, n_lines);
    for (int i = 0; i < n_lines; i++)
        assert_int_equal(v->lines[i], lines[i]);
    assert_non_null(v->message);
}

static const char *clean = HEAD                              /* 1 */
    SUBMIT("a", 1, "done")                                   /* 2 */
    SUBMIT("b", 1, "done")                                   /* 3 */
    INST(100, "i-1", "running")                              /* 4 */
    START(1000, "a", 1, "i-1")                               /* 5 */
    END(2000, "a", 1, "i-1", 0, true)                        /* 6 */
    START(2500, "b", 1, "i-1")                               /* 7 */
    END(3000, "b", 1, "i-1", 3, false)                       /* 8 */
    START(3500, "b", 2, "i-1")                               /* 9 */
    END(4000, "b", 2, "i-1", 0, true)                        /* 10 */
    INST(5000, "i-1", "terminated")                          /* 11 */
    FINAL(6000, "a", "Successful", "0 of 1", "x done y", 1, 0) /* 12 */
    FINAL(6000, "b", "Successful", "1 of 1", "done", 1, 0)  /* 13 */
    GROUP_OK(6000);                                          /* 14 */

static void test_clean(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    run(clean, &t, &r);
    for (size_t i = 0; i < r.n; i++)
        print_error("unexpected: %s\n", r.v[i].message);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.status[SCN_STATUS_SUCCESSFUL], 2);
    assert_int_equal(r.m.jobs, 2);
    assert_int_equal(r.m.attempts, 3);
    assert_true(r.m.makespan_s == 4.0);   /* submit at 0, last end at 4000 ms */
    assert_true(r.m.instance_s == 4.9);   /* running 100 .. terminated 5000 */
    assert_true(r.m.useful_s == 1.5);     /* a: 1 s, b's good attempt: 0.5 s */
    assert_true(r.m.wasted_s > 3.39 && r.m.wasted_s < 3.41);
    check_result_free(&r);
    trace_free(&t);
}

static void test_terminal(void **state)
{
    (void)state;
    const char *text = HEAD SUBMIT("a", 1, "done") START(1000, "a", 1, "i-1")
        FINAL(6000, "a", "Started", "0 of 1", "null", 1, 0) GROUP_OK(6000);
    struct trace t;
    struct check_result r;
    run(text, &t, &r);
    /* The job is also on the finished queue while Started: terminal is the first finding, and
     * the queue/status mismatch the second. */
    assert_int_equal(r.broken[SCN_INV_TERMINAL], 1);
    assert_int_equal(r.v[0].inv, SCN_INV_TERMINAL);
    assert_string_equal(r.v[0].job, "a");
    assert_int_equal(r.v[0].attempt, 1);
    assert_string_equal(r.v[0].instance, "i-1");
    long want[] = {2, 3, 4};
    assert_int_equal(r.v[0].n_lines, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.v[0].lines[i], want[i]);
    check_result_free(&r);
    trace_free(&t);
}

static void test_lost_no_record(void **state)
{
    (void)state;
    /* The seed's loss: the message was deleted, the instance was interrupted, no record. */
    const char *text = HEAD SUBMIT("a", 1, "done") INST(10, "i-9", "running") START(1000, "a", 1, "i-9")
        INST(1500, "i-9", "shutting-down") GROUP_OK(6000);
    struct trace t;
    struct check_result r;
    run(text, &t, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.broken[SCN_INV_TERMINAL], 1);
    assert_int_equal(r.broken[SCN_INV_NOT_LOST], 1);
    const struct violation *v = r.v[0].inv == SCN_INV_NOT_LOST ? &r.v[0] : &r.v[1];
    assert_string_equal(v->job, "a");
    assert_string_equal(v->instance, "i-9");
    assert_non_null(strstr(v->message, "lost"));
    assert_int_equal(r.status[SCN_STATUS_MISSING], 1);
    assert_int_equal(r.m.lost, 1);
    check_result_free(&r);
    trace_free(&t);
}

static void test_lost_queues(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    /* Failed in the table but on neither queue. */
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 1, false)
            FINAL(3000, "a", "Failed", "0 of 0", "x", 0, 0) GROUP_OK(3000),
        &t, &r);
    long l1[] = {2, 3, 4, 5};
    expect_one(&r, SCN_INV_NOT_LOST, "a", 1, "i-1", l1, 4);
    check_result_free(&r);
    trace_free(&t);
    /* On both queues. */
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 0", "done", 1, 1) GROUP_OK(3000),
        &t, &r);
    expect_one(&r, SCN_INV_NOT_LOST, "a", 1, "i-1", l1, 4);
    assert_non_null(strstr(r.v[0].message, "exactly one"));
    check_result_free(&r);
    trace_free(&t);
    /* Successful but its message went to the failed queue. */
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 0", "done", 0, 1) GROUP_OK(3000),
        &t, &r);
    expect_one(&r, SCN_INV_NOT_LOST, "a", 1, "i-1", l1, 4);
    check_result_free(&r);
    trace_free(&t);
}

static void test_false_success(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    /* Blank success string, attempt interrupted (never ended), yet Successful: the seed's bug. */
    run(HEAD SUBMIT("a", 1, " ") START(1000, "a", 1, "i-1") INST(1500, "i-1", "shutting-down")
            FINAL(3000, "a", "Successful", "0 of 1", "null", 1, 0) GROUP_OK(3000),
        &t, &r);
    long l1[] = {2, 3, 5};
    expect_one(&r, SCN_INV_NO_FALSE_SUCCESS, "a", 1, "i-1", l1, 3);
    assert_int_equal(r.m.false_success, 1);
    check_result_free(&r);
    trace_free(&t);
    /* The attempt ran but printed no success string (its recorded output does not hold it). */
    run(HEAD SUBMIT("a", 1, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, false)
            FINAL(3000, "a", "Successful", "0 of 1", "nothing here", 1, 0) GROUP_OK(3000),
        &t, &r);
    long l2[] = {2, 3, 4, 5};
    expect_one(&r, SCN_INV_NO_FALSE_SUCCESS, "a", 1, "i-1", l2, 4);
    check_result_free(&r);
    trace_free(&t);
    /* The attempt printed it but the record holds another job's output. */
    run(HEAD SUBMIT("a", 1, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 1", "other", 1, 0) GROUP_OK(3000),
        &t, &r);
    expect_one(&r, SCN_INV_NO_FALSE_SUCCESS, "a", 1, "i-1", l2, 4);
    assert_non_null(strstr(r.v[0].message, "recorded output"));
    check_result_free(&r);
    trace_free(&t);
}

static void test_attempts(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    run(HEAD SUBMIT("a", 1, "done")                                   /* 1, 2 */
            START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 1, false) /* 3, 4 */
            START(2100, "a", 2, "i-1") END(3000, "a", 2, "i-1", 1, false) /* 5, 6 */
            START(3100, "a", 3, "i-2") END(4000, "a", 3, "i-2", 1, false) /* 7, 8 */
            FINAL(5000, "a", "Failed", "1 of 1", "x", 0, 1) GROUP_OK(5000), /* 9, 10 */
        &t, &r);
    long l[] = {2, 7, 8, 9};
    expect_one(&r, SCN_INV_ATTEMPTS, "a", 3, "i-2", l, 4);
    check_result_free(&r);
    trace_free(&t);
    /* The record's own count says more retries than allowed. */
    run(HEAD SUBMIT("a", 1, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 1, false)
            FINAL(5000, "a", "Failed", "2 of 1", "x", 0, 1) GROUP_OK(5000),
        &t, &r);
    long l2[] = {2, 3, 4, 5};
    expect_one(&r, SCN_INV_ATTEMPTS, "a", 1, "i-1", l2, 4);
    check_result_free(&r);
    trace_free(&t);
}

static void test_overlap(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    /* Attempt 2 starts on i-2 while attempt 1 still runs on i-1 (a message seen twice). */
    run(HEAD SUBMIT("a", 3, "done")                                       /* 1, 2 */
            START(1000, "a", 1, "i-1") START(1500, "a", 2, "i-2")         /* 3, 4 */
            END(2000, "a", 1, "i-1", 0, true) END(2500, "a", 2, "i-2", 0, true) /* 5, 6 */
            FINAL(3000, "a", "Successful", "0 of 3", "done", 1, 0) GROUP_OK(3000),
        &t, &r);
    long l[] = {3, 4, 5, 6};
    expect_one(&r, SCN_INV_NO_OVERLAP, "a", 2, "i-2", l, 4);
    check_result_free(&r);
    trace_free(&t);
    /* No overlap: attempt 1 died with the emulator (SIGKILLed) before attempt 2 started. */
    run(HEAD SUBMIT("a", 3, "done") INST(10, "i-1", "running") START(1000, "a", 1, "i-1")
            "{\"vt\":1200,\"kind\":\"system.fault\",\"details\":{\"type\":\"emulator_restart\",\"phase\":\"kill\"}}\n"
            START(1500, "a", 2, "i-1") END(2500, "a", 2, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 3", "done", 1, 0) GROUP_OK(3000),
        &t, &r);
    assert_int_equal(r.n, 0);
    check_result_free(&r);
    trace_free(&t);
    /* No overlap: attempt 1 never ended, but its instance was terminated before attempt 2. */
    run(HEAD SUBMIT("a", 3, "done") INST(10, "i-1", "running") START(1000, "a", 1, "i-1")
            INST(1400, "i-1", "shutting-down") START(1500, "a", 2, "i-2") END(2500, "a", 2, "i-2", 0, true)
            FINAL(3000, "a", "Successful", "0 of 3", "done", 1, 0) GROUP_OK(3000),
        &t, &r);
    assert_int_equal(r.n, 0);
    check_result_free(&r);
    trace_free(&t);
}

static void test_s3_results(void **state)
{
    (void)state;
    const char *text = HEAD
        "{\"vt\":0,\"kind\":\"job.submit\",\"job\":\"s\",\"details\":{\"retry\":1,\"success_string\":\"upload:\",\"via\":\"s3\"}}\n"
        START(1000, "s", 1, "i-1") END(2000, "s", 1, "i-1", 0, true)
        "{\"vt\":3000,\"kind\":\"final.job\",\"job\":\"s\",\"details\":{\"status\":\"Successful\",\"retries\":\"0 of 1\","
        "\"output\":\"upload: ok\",\"finished\":1,\"failed\":0,\"s3_result\":false}}\n" GROUP_OK(3000);
    struct trace t;
    struct check_result r;
    run(text, &t, &r);
    long l[] = {2, 3, 4, 5};
    expect_one(&r, SCN_INV_S3_RESULTS, "s", 1, "i-1", l, 4);
    check_result_free(&r);
    trace_free(&t);
}

static void test_group_and_workers(void **state)
{
    (void)state;
    struct trace t;
    struct check_result r;
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 0", "done", 1, 0)
            "{\"vt\":3000,\"kind\":\"final.group\",\"details\":{\"desired\":1,\"instances\":[\"i-7\"],\"workers\":[]}}\n",
        &t, &r);
    long l[] = {6};
    expect_one(&r, SCN_INV_GROUP_ZERO, NULL, 0, "i-7", l, 1);
    check_result_free(&r);
    trace_free(&t);
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 0", "done", 1, 0)
            "{\"vt\":3000,\"kind\":\"final.group\",\"details\":{\"desired\":0,\"instances\":[],"
            "\"workers\":[{\"pid\":4242,\"instance_id\":\"i-1\"}]}}\n",
        &t, &r);
    expect_one(&r, SCN_INV_NO_STRAY, NULL, 0, "i-1", l, 1);
    assert_non_null(strstr(r.v[0].message, "4242"));
    check_result_free(&r);
    trace_free(&t);
    /* No final state at all: the run never got that far. */
    run(HEAD SUBMIT("a", 0, "done") START(1000, "a", 1, "i-1") END(2000, "a", 1, "i-1", 0, true)
            FINAL(3000, "a", "Successful", "0 of 0", "done", 1, 0),
        &t, &r);
    expect_one(&r, SCN_INV_GROUP_ZERO, NULL, 0, NULL, l, 0);
    check_result_free(&r);
    trace_free(&t);
}

static void test_expectations(void **state)
{
    (void)state;
    const char *scn = "{\"name\":\"e\",\"jobs\":[{\"id\":\"a\",\"retry\":1},{\"id\":\"b\",\"retry\":1}],"
                      "\"expect\":{\"status\":{\"Successful\":2},\"jobs\":{\"b\":{\"status\":\"Successful\",\"attempts\":1}},"
                      "\"invariants\":{\"no_lost_jobs\":\"break\",\"no_overlapping_attempts\":\"any\"}}}";
    struct scenario s;
    char err[256];
    assert_int_equal(scenario_parse(scn, strlen(scn), -1, &s, err, sizeof err), 0);
    struct trace t;
    struct check_result r;
    run(clean, &t, &r);
    int n = check_expect(&s, &t, &r);
    for (size_t i = 0; i < r.n_failures; i++)
        print_message("failure: %s\n", r.failures[i]);
    /* b ran 2 attempts (expected 1); no_lost_jobs held though expected to break. */
    assert_int_equal(n, 2);
    assert_non_null(strstr(r.failures[0], "expected b to run 1 attempt(s), it ran 2"));
    assert_non_null(strstr(r.failures[1], "no_lost_jobs was expected to break"));
    check_result_free(&r);
    trace_free(&t);
    /* A broken invariant expected to hold is a failure; counts are compared. */
    run(HEAD SUBMIT("a", 1, "done") SUBMIT("b", 1, "done") START(1000, "b", 1, "i-1")
            END(2000, "b", 1, "i-1", 0, true) FINAL(3000, "b", "Successful", "0 of 1", "done", 1, 0) GROUP_OK(3000),
        &t, &r);
    n = check_expect(&s, &t, &r);
    assert_int_equal(n, 2); /* 1 Successful instead of 2; terminal_status broken */
    assert_non_null(strstr(r.failures[0], "expected 2 job(s) Successful, got 1"));
    assert_non_null(strstr(r.failures[1], "terminal_status broken 1 time(s)"));
    check_result_free(&r);
    trace_free(&t);
    scenario_free(&s);
}

static void test_histories(void **state)
{
    (void)state;
    struct trace a, b;
    load(clean, &a);
    /* The same run with other instances and timings has the same histories... */
    char *other = strdup(clean);
    for (char *p = other; (p = strstr(p, "i-1"));)
        p[2] = '7';
    for (char *p = other; (p = strstr(p, "\"vt\":1000"));)
        memcpy(p + 5, "1234", 4);
    load(other, &b);
    cJSON *ha = check_histories(&a), *hb = check_histories(&b);
    cJSON *d = check_history_diff(ha, hb, 10);
    assert_int_equal(cJSON_GetArraySize(d), 0);
    cJSON_Delete(d);
    cJSON_Delete(hb);
    trace_free(&b);
    /* ...but another exit code for b's first attempt is a different history. */
    char *p = strstr(other, "\"exit_code\":3");
    assert_non_null(p);
    p[12] = '4';
    load(other, &b);
    hb = check_histories(&b);
    d = check_history_diff(ha, hb, 10);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "job")->valuestring, "b");
    cJSON_Delete(d);
    cJSON_Delete(ha);
    cJSON_Delete(hb);
    free(other);
    trace_free(&a);
    trace_free(&b);
}

/* Attempts seen out of order (a job's attempt 4 before its attempt 2) all stay in the history,
 * sorted by number. */
static void test_history_attempt_order(void **state)
{
    (void)state;
    struct trace t;
    load(HEAD SUBMIT("a", 5, "done") START(1000, "a", 1, "i-1") START(1200, "a", 4, "i-2")
             START(1300, "a", 2, "i-3") END(1400, "a", 2, "i-3", 0, true) START(1500, "a", 3, "i-1"),
         &t);
    cJSON *h = check_histories(&t);
    cJSON *atts = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "a"), "attempts");
    assert_int_equal(cJSON_GetArraySize(atts), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetArrayItem(atts, i), "attempt")->valuedouble, i + 1);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 1), "exit_code"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(atts, 3), "interrupted")));
    cJSON_Delete(h);
    trace_free(&t);
}

static void test_bad_traces(void **state)
{
    (void)state;
    const char *bad[] = {"{\"kind\":\"x\"}", "{\"vt\":-1,\"kind\":\"x\"}", "{\"vt\":1}", "[1,2]",
                         "{\"vt\":1,\"kind\":\"x\",\"attempt\":0}", "{\"vt\":1,\"kind\":\"x\",\"details\":3}",
                         "{\"vt\":1,\"kind\":\"x\",\"job\":5}", "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct trace t;
        char err[256] = "", text[256];
        snprintf(text, sizeof text, HEAD "\n%s\n", bad[i]);
        trace_init(&t);
        assert_int_equal(trace_load_mem(text, strlen(text), &t, err, sizeof err), -1);
        assert_true(!strncmp(err, "line 3:", 7)); /* blank line 2 is counted */
        trace_free(&t);
    }
    /* A trace with nothing submitted cannot be checked. */
    struct trace t;
    struct check_result r;
    load(HEAD, &t);
    assert_int_equal(check_run(&t, &r), -1);
    assert_int_equal(r.n_failures, 1);
    check_result_free(&r);
    trace_free(&t);
}

/* Writing and reading back gives the same events and the same hash. */
static void test_write_read(void **state)
{
    (void)state;
    char path[] = "/tmp/test_scenario_check-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct trace w, r;
    trace_init(&w);
    assert_int_equal(trace_open(&w, path), 0);
    assert_int_equal(trace_add(&w, 0, "run.start", NULL, 0, NULL, cJSON_Parse("{\"name\":\"x\"}")), 1);
    assert_int_equal(trace_add(&w, 5, "attempt.start", "j\"1", 2, "i-1", NULL), 2);
    assert_int_equal(trace_close(&w), 0);
    char err[256];
    trace_init(&r);
    int rc = trace_load(path, &r, err, sizeof err);
    unlink(path);
    close(fd);
    assert_int_equal(rc, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ev[1].job, "j\"1");
    assert_int_equal(r.ev[1].attempt, 2);
    char h1[65], h2[65];
    trace_hash(&w, h1);
    trace_hash(&r, h2);
    assert_string_equal(h1, h2);
    trace_free(&w);
    trace_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),          cmocka_unit_test(test_terminal),
        cmocka_unit_test(test_lost_no_record), cmocka_unit_test(test_lost_queues),
        cmocka_unit_test(test_false_success),  cmocka_unit_test(test_attempts),
        cmocka_unit_test(test_overlap),        cmocka_unit_test(test_s3_results),
        cmocka_unit_test(test_group_and_workers), cmocka_unit_test(test_expectations),
        cmocka_unit_test(test_histories),      cmocka_unit_test(test_history_attempt_order),
        cmocka_unit_test(test_bad_traces),
        cmocka_unit_test(test_write_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
