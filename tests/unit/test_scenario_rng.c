/* test_scenario_rng.c -- keyed randomness and attempt plans: every decision is a function of
 * the seed and the decision's identity only, so evaluating in any order gives the same result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "rng.h"
#include "scenario.h"

static void test_same_identity_same_stream(void **state)
{
    (void)state;
    struct rng a, b, c;
    rng_init(&a, 7, "kind", "job-1", 2, 0);
    rng_init(&b, 7, "kind", "job-1", 2, 0);
    for (int i = 0; i < 100; i++)
        assert_true(rng_next(&a) == rng_next(&b));
    /* Each part of the identity matters. */
    uint64_t base = (rng_init(&c, 7, "kind", "job-1", 2, 0), rng_next(&c));
    rng_init(&c, 8, "kind", "job-1", 2, 0);
    assert_true(rng_next(&c) != base);
    rng_init(&c, 7, "kinds", "job-1", 2, 0);
    assert_true(rng_next(&c) != base);
    rng_init(&c, 7, "kind", "job-2", 2, 0);
    assert_true(rng_next(&c) != base);
    rng_init(&c, 7, "kind", "job-1", 3, 0);
    assert_true(rng_next(&c) != base);
    rng_init(&c, 7, "kind", "job-1", 2, 1);
    assert_true(rng_next(&c) != base);
    /* Length-prefixed: ("ab","c") is not ("a","bc"). */
    rng_init(&a, 1, "ab", "c", 0, 0);
    rng_init(&b, 1, "a", "bc", 0, 0);
    assert_true(rng_next(&a) != rng_next(&b));
    /* A long id (past the stack buffer) works and differs from its prefix. */
    char longid[2000];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    rng_init(&a, 1, "k", longid, 0, 0);
    longid[1000] = '\0';
    rng_init(&b, 1, "k", longid, 0, 0);
    assert_true(rng_next(&a) != rng_next(&b));
}

/* A known value pins the algorithm: a change to the hashing or the mixer breaks replays of
 * old traces, and must be deliberate. */
static void test_pinned_value(void **state)
{
    (void)state;
    double u = rng_key_uniform(1, "job.runtime", "smoke-0", 0, 0);
    double v = rng_key_uniform(1, "job.runtime", "smoke-0", 0, 0);
    assert_true(u == v);
    assert_true(u >= 0 && u < 1);
    struct rng r = {.state = 0};
    assert_true(rng_next(&r) == 0xe220a8397b1dcdafULL); /* SplitMix64's first output from 0 */
}

static void test_distributions(void **state)
{
    (void)state;
    struct scn_dist uni = {SCN_DIST_UNIFORM, 2, 6, 0, 1e9};
    struct scn_dist ex = {SCN_DIST_EXPONENTIAL, 10, 0, 0, 1e9};
    struct scn_dist no = {SCN_DIST_NORMAL, 50, 5, 0, 1e9};
    struct scn_dist clamp = {SCN_DIST_NORMAL, 0, 10, 1, 2};
    double su = 0, se = 0, sn = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        struct rng r;
        rng_init(&r, 3, "dist", NULL, (uint64_t)i, 0);
        double u = rng_dist(&r, &uni), e = rng_dist(&r, &ex), x = rng_dist(&r, &no), c = rng_dist(&r, &clamp);
        assert_true(u >= 2 && u <= 6);
        assert_true(e >= 0);
        assert_true(c >= 1 && c <= 2);
        su += u;
        se += e;
        sn += x;
    }
    assert_true(su / n > 3.95 && su / n < 4.05);
    assert_true(se / n > 9.8 && se / n < 10.2);
    assert_true(sn / n > 49.9 && sn / n < 50.1);
}

static const char *storm =
    "{\"name\":\"storm\",\"seed\":5,\"jobs\":[{\"count\":200,\"runtime\":{\"dist\":\"uniform\",\"min\":10,\"max\":600}}],"
    "\"faults\":[{\"type\":\"spot_interruption\",\"name\":\"spot\",\"rate\":0.05,\"interval\":60},"
    "{\"type\":\"ssm_failure\",\"rate\":0.1,\"exit_code\":3},"
    "{\"type\":\"no_success_string\",\"rate\":0.05},"
    "{\"type\":\"worker_crash\",\"job\":\"job-7\",\"attempt\":2,\"phase\":\"queued\"},"
    "{\"type\":\"spot_interruption\",\"job\":\"job-7\",\"attempt\":2,\"phase\":\"running\"}]}";

static int plan_eq(const struct scn_plan *a, const struct scn_plan *b)
{
    return a->runtime_s == b->runtime_s && a->output_bytes == b->output_bytes && a->exit_code == b->exit_code &&
           a->omit_success == b->omit_success && a->hit == b->hit && a->phase == b->phase && a->at_s == b->at_s &&
           a->n_causes == b->n_causes && !memcmp(a->causes, b->causes, sizeof a->causes);
}

/* The heart of it: plans for every (job, attempt) are the same whether evaluated forwards,
 * backwards, or in a shuffled order interleaved with unrelated draws. */
static void test_plans_independent_of_order(void **state)
{
    (void)state;
    struct scenario s;
    char err[512];
    assert_int_equal(scenario_parse(storm, strlen(storm), -1, &s, err, sizeof err), 0);
    const int attempts = 4;
    size_t n = s.n_jobs * attempts;
    struct scn_plan *fwd = calloc(n, sizeof *fwd), *other = calloc(n, sizeof *other);
    size_t *order = malloc(n * sizeof *order);
    for (size_t k = 0; k < n; k++)
        plan_attempt(&s, &s.jobs[k / attempts], (int)(k % attempts) + 1, &fwd[k]);
    for (size_t k = n; k-- > 0;)
        plan_attempt(&s, &s.jobs[k / attempts], (int)(k % attempts) + 1, &other[k]);
    for (size_t k = 0; k < n; k++)
        assert_true(plan_eq(&fwd[k], &other[k]));
    /* shuffle with an unrelated stream, and draw from other streams between plans */
    struct rng sh;
    rng_init(&sh, 99, "shuffle", NULL, 0, 0);
    for (size_t k = 0; k < n; k++)
        order[k] = k;
    for (size_t k = n - 1; k > 0; k--) {
        size_t j = (size_t)(rng_next(&sh) % (k + 1)), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    memset(other, 0, n * sizeof *other);
    for (size_t i = 0; i < n; i++) {
        size_t k = order[i];
        (void)rng_next(&sh);
        plan_attempt(&s, &s.jobs[k / attempts], (int)(k % attempts) + 1, &other[k]);
    }
    int spot = 0, fail = 0, omit = 0;
    for (size_t k = 0; k < n; k++) {
        assert_true(plan_eq(&fwd[k], &other[k]));
        spot += fwd[k].hit == SCN_FAULT_SPOT;
        fail += fwd[k].exit_code == 3;
        omit += fwd[k].omit_success;
    }
    /* The rates are roughly honoured (deterministic for this seed, so no flakiness). */
    assert_true(fail > 40 && fail < 120);    /* 10% of 800 */
    assert_true(omit > 15 && omit < 70);     /* 5% of 800 */
    assert_true(spot > 50 && spot < 400);    /* 5% per minute of 10-600 s attempts */
    free(fwd);
    free(other);
    free(order);
    scenario_free(&s);
}

static void test_targeted_and_priority(void **state)
{
    (void)state;
    struct scenario s;
    char err[512];
    assert_int_equal(scenario_parse(storm, strlen(storm), -1, &s, err, sizeof err), 0);
    const struct scn_job *j7 = scenario_job(&s, "job-7");
    struct scn_plan p;
    plan_attempt(&s, j7, 2, &p);
    /* Both targeted faults hit attempt 2; "queued" comes first, so the crash wins. */
    assert_int_equal(p.hit, SCN_FAULT_WORKER_CRASH);
    assert_int_equal(p.phase, SCN_PHASE_QUEUED);
    /* Round trip through the trace's JSON. */
    cJSON *o = plan_to_json(&p);
    struct scn_plan q;
    assert_int_equal(plan_from_json(o, &q), 0);
    assert_true(plan_eq(&p, &q));
    cJSON_Delete(o);
    /* Bad plan objects are refused. */
    cJSON *bad = cJSON_Parse("{\"runtime\":1,\"output_bytes\":1,\"exit_code\":0,\"hit\":\"meteor\",\"phase\":\"queued\",\"at\":0}");
    assert_int_equal(plan_from_json(bad, &q), -1);
    cJSON_Delete(bad);
    scenario_free(&s);
}

/* Raising a rate only adds hits: the attempts hit at 2% are all hit at 10% (common random
 * numbers, so a sweep compares like with like). */
static void test_rate_monotone(void **state)
{
    (void)state;
    const char *tmpl = "{\"name\":\"m\",\"seed\":3,\"jobs\":[{\"count\":300,\"runtime\":120}],"
                       "\"faults\":[{\"type\":\"ssm_failure\",\"name\":\"f\",\"rate\":%s},"
                       "{\"type\":\"spot_interruption\",\"name\":\"s\",\"rate\":%s,\"interval\":30}]}";
    char lo[512], hi[512], err[512];
    snprintf(lo, sizeof lo, tmpl, "0.02", "0.02");
    snprintf(hi, sizeof hi, tmpl, "0.10", "0.10");
    struct scenario a, b;
    assert_int_equal(scenario_parse(lo, strlen(lo), -1, &a, err, sizeof err), 0);
    assert_int_equal(scenario_parse(hi, strlen(hi), -1, &b, err, sizeof err), 0);
    int na = 0, nb = 0;
    for (size_t i = 0; i < a.n_jobs; i++) {
        struct scn_plan pa, pb;
        plan_attempt(&a, &a.jobs[i], 1, &pa);
        plan_attempt(&b, &b.jobs[i], 1, &pb);
        if (pa.exit_code)
            assert_int_equal(pb.exit_code, pa.exit_code);
        if (pa.hit == SCN_FAULT_SPOT) {
            assert_int_equal(pb.hit, SCN_FAULT_SPOT);
            assert_true(pb.at_s <= pa.at_s);
        }
        na += pa.exit_code != 0;
        nb += pb.exit_code != 0;
    }
    assert_true(nb > na);
    scenario_free(&a);
    scenario_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_identity_same_stream), cmocka_unit_test(test_pinned_value),
        cmocka_unit_test(test_distributions),             cmocka_unit_test(test_plans_independent_of_order),
        cmocka_unit_test(test_targeted_and_priority),     cmocka_unit_test(test_rate_monotone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
