/* test_sched_asl.c -- the JSONPath subset, load-time validation and every ASL construct the
 * engine runs. Executions run on the real loop with the virtual clock, so Wait states and retry
 * intervals take no real time but their order and timing are checked on the clock. Task
 * functions here are test doubles: Echo (returns its input), Fail (fails with $.error),
 * Flaky (fails until it has been called $.fail_times times), Later (answers after 5 s on the
 * clock), Big (returns a result larger than the payload limit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asl.h"
#include "clock.h"
#include "engine.h"
#include "journal.h"
#include "jsonpath.h"
#include "loop.h"
#include "tasks.h"

/* ---- JSONPath ---- */

static void test_jsonpath_get(void **state)
{
    (void)state;
    cJSON *d = cJSON_Parse("{\"a\":{\"b\":[10,{\"c\":\"x\"}]},\"k y\":1}");
    assert_ptr_equal(jsonpath_get(d, NULL, "$"), d);
    assert_int_equal(jsonpath_get(d, NULL, "$.a.b[0]")->valueint, 10);
    assert_string_equal(jsonpath_get(d, NULL, "$.a.b[1].c")->valuestring, "x");
    assert_string_equal(jsonpath_get(d, NULL, "$['a']['b'][1]['c']")->valuestring, "x");
    assert_int_equal(jsonpath_get(d, NULL, "$['k y']")->valueint, 1);
    assert_null(jsonpath_get(d, NULL, "$.a.b[2]"));
    assert_null(jsonpath_get(d, NULL, "$.missing"));
    assert_null(jsonpath_get(d, NULL, "$.a.b.c"));
    assert_null(jsonpath_get(d, NULL, "a.b"));
    cJSON *ctx = cJSON_Parse("{\"State\":{\"Name\":\"S\"}}");
    assert_string_equal(jsonpath_get(d, ctx, "$$.State.Name")->valuestring, "S");
    cJSON_Delete(ctx);
    cJSON_Delete(d);
}

/* json_printed_size() is the length cJSON_PrintUnformatted() gives, for every kind of value:
 * escapes and control characters, UTF-8, integers, fractions that need 15 or 17 digits,
 * numbers beyond int, empty containers, nesting. */
static void test_json_printed_size(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "null", "true", "false", "0", "-7", "2147483647", "2147483648", "-2147483649", "1e300", "0.1", "1.5",
        "3.141592653589793", "0.30000000000000004", "123456789.123456789", "-0.000001", "1e-300",
        "\"\"", "\"plain\"", "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\"", "\"\\u0001\\u001f\\u007f\"", "\"caf\\u00e9 \\ud83d\\ude00\"",
        "[]", "{}", "[[],{}]", "[1,\"a\",null,true,[2.5,{\"k\":false}]]",
        "{\"a\":{\"b\":[10,{\"c\":\"x\"}]},\"k y\":1,\"esc\\\"key\\n\":\"v\"}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        cJSON *d = cJSON_Parse(docs[i]);
        assert_non_null(d);
        char *text = cJSON_PrintUnformatted(d);
        assert_int_equal(json_printed_size(d), strlen(text));
        free(text);
        cJSON_Delete(d);
    }
    /* Numbers made in code, not parsed: every power of two and its neighbours. */
    cJSON *a = cJSON_CreateArray();
    for (int e = -60; e <= 60; e++)
        for (int k = -1; k <= 1; k++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(ldexp(1.0, e) + k / 3.0));
    char *text = cJSON_PrintUnformatted(a);
    assert_int_equal(json_printed_size(a), strlen(text));
    free(text);
    cJSON_Delete(a);
    assert_int_equal(json_printed_size(NULL), 0);
}

static void test_jsonpath_check(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(jsonpath_check("$.a[0]['b c'].d", err, sizeof err), 0);
    assert_int_equal(jsonpath_check("$", err, sizeof err), 0);
    assert_int_equal(jsonpath_check("a", err, sizeof err), -1);
    assert_int_equal(jsonpath_check("$..a", err, sizeof err), -1);
    assert_non_null(strstr(err, "recursive"));
    assert_int_equal(jsonpath_check("$.a[*]", err, sizeof err), -1);
    assert_int_equal(jsonpath_check("$.a.*", err, sizeof err), -1);
    assert_int_equal(jsonpath_check("$.a[", err, sizeof err), -1);
    assert_int_equal(jsonpath_check("$.", err, sizeof err), -1);
    assert_int_equal(jsonpath_check("$['x", err, sizeof err), -1);
}

static void test_jsonpath_set(void **state)
{
    (void)state;
    char err[256];
    cJSON *d = cJSON_Parse("{\"a\":1,\"l\":[1,2]}");
    assert_int_equal(jsonpath_set(&d, "$.b.c", cJSON_CreateString("v"), err, sizeof err), 0);
    assert_string_equal(jsonpath_get(d, NULL, "$.b.c")->valuestring, "v");
    assert_int_equal(jsonpath_set(&d, "$.a", cJSON_CreateNumber(2), err, sizeof err), 0);
    assert_int_equal(jsonpath_get(d, NULL, "$.a")->valueint, 2);
    assert_int_equal(jsonpath_set(&d, "$.l[1]", cJSON_CreateNumber(7), err, sizeof err), 0);
    assert_int_equal(jsonpath_get(d, NULL, "$.l[1]")->valueint, 7);
    assert_int_equal(jsonpath_set(&d, "$.l[5]", cJSON_CreateNumber(7), err, sizeof err), -1);
    assert_int_equal(jsonpath_set(&d, "$", cJSON_CreateString("all"), err, sizeof err), 0);
    assert_string_equal(d->valuestring, "all");
    /* A result cannot go inside a non-object input. */
    assert_int_equal(jsonpath_set(&d, "$.x", cJSON_CreateNumber(1), err, sizeof err), -1);
    cJSON_Delete(d);
}

/* ---- test tasks ---- */

static int flaky_calls;

static void t_echo(struct task_call *c)
{
    task_succeed(c, cJSON_Duplicate(c->input, 1));
}

static void t_fail(struct task_call *c)
{
    const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(c->input, "error"));
    task_fail(c, e ? e : "Boom", "it failed");
}

static void t_flaky(struct task_call *c)
{
    int n = cJSON_GetObjectItem(c->input, "fail_times") ? cJSON_GetObjectItem(c->input, "fail_times")->valueint : 0;
    if (flaky_calls++ < n) {
        task_fail(c, "Flaky", "not yet");
        return;
    }
    task_succeed(c, cJSON_CreateNumber(flaky_calls));
}

static struct loop *the_loop;

static void later_fire(void *arg)
{
    struct task_call *c = arg;
    task_succeed(c, cJSON_CreateString("late"));
}

static void t_later(struct task_call *c)
{
    loop_at(the_loop, sched_now_ms() + 5000, later_fire, c);
}

static void t_big(struct task_call *c)
{
    char *s = malloc(300000);
    memset(s, 'x', 299999);
    s[299999] = '\0';
    task_succeed(c, cJSON_CreateString(s));
    free(s);
}

static const struct task_def test_tasks[] = {
    {"Echo", t_echo}, {"Fail", t_fail}, {"Flaky", t_flaky}, {"Later", t_later}, {"Big", t_big},
};

/* ---- running a machine ---- */

struct outcome {
    int done, succeeded;
    char error[256], cause[512];
    cJSON *output;
    int64_t end_ms;
};

static void on_finish(void *arg, const char *name, int ok, const char *error, const char *cause, const cJSON *out)
{
    (void)name;
    struct outcome *o = arg;
    o->done = 1;
    o->succeeded = ok;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    snprintf(o->cause, sizeof o->cause, "%s", cause ? cause : "");
    o->output = out ? cJSON_Duplicate(out, 1) : NULL;
    o->end_ms = sched_now_ms();
}

static struct asl_machine *load(const char *text, char *err)
{
    engine_set_resolver_table(test_tasks, 5);
    return asl_load(text, strlen(text), engine_resolve, err, 512);
}

#define T0 1700000000000LL

/* Runs text with input; fills o. max_events 0: default. Returns the engine's transitions. */
static uint64_t run_machine(const char *text, const char *input, struct outcome *o, int64_t max_events)
{
    char err[512];
    struct asl_machine *m = load(text, err);
    if (!m)
        fail_msg("load failed: %s", err);
    sched_clock_virtual(T0);
    the_loop = loop_new();
    memset(o, 0, sizeof *o);
    struct engine_options eo = {0};
    eo.max_events = max_events;
    eo.on_finish = on_finish;
    eo.on_finish_arg = o;
    struct engine *e = engine_new(m, test_tasks, 5, NULL, the_loop, NULL, &eo);
    flaky_calls = 0;
    cJSON *in = cJSON_Parse(input);
    assert_non_null(in);
    assert_int_equal(engine_start(e, "x", NULL, in), 1);
    for (int i = 0; i < 100000 && !o->done; i++)
        loop_run_once(the_loop, 0);
    assert_true(o->done);
    uint64_t tr = engine_stats(e)->transitions;
    engine_free(e);
    loop_free(the_loop);
    asl_free(m);
    return tr;
}

static void expect_output(struct outcome *o, const char *json)
{
    if (!o->succeeded)
        fail_msg("failed: %s: %s (wanted %s)", o->error, o->cause, json);
    cJSON *want = cJSON_Parse(json);
    assert_non_null(want);
    if (!cJSON_Compare(o->output, want, 1)) {
        char *got = cJSON_PrintUnformatted(o->output);
        fail_msg("output %s, want %s", got, json);
    }
    cJSON_Delete(want);
    cJSON_Delete(o->output);
    o->output = NULL;
}

static void test_pass_result_and_paths(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"A\",\"States\":{"
                "\"A\":{\"Type\":\"Pass\",\"Result\":{\"r\":1},\"ResultPath\":\"$.res\",\"Next\":\"B\"},"
                "\"B\":{\"Type\":\"Pass\",\"InputPath\":\"$.res\",\"Parameters\":{\"copy.$\":\"$.r\",\"k\":\"v\","
                "\"n\":{\"state.$\":\"$$.State.Name\"}},\"ResultPath\":\"$.p\",\"Next\":\"C\"},"
                "\"C\":{\"Type\":\"Pass\",\"OutputPath\":\"$.p\",\"End\":true}}}",
                "{\"in\":true}", &o, 0);
    expect_output(&o, "{\"copy\":1,\"k\":\"v\",\"n\":{\"state\":\"B\"}}");
    /* Pass without Result passes its input; ResultPath null discards. */
    run_machine("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Result\":5,\"ResultPath\":null,"
                "\"End\":true}}}",
                "{\"x\":1}", &o, 0);
    expect_output(&o, "{\"x\":1}");
}

static void test_task_result_path(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Echo\","
                "\"InputPath\":\"$.a\",\"Parameters\":{\"v.$\":\"$.b\"},\"ResultSelector\":{\"got.$\":\"$.v\"},"
                "\"ResultPath\":\"$.out\",\"End\":true}}}",
                "{\"a\":{\"b\":42}}", &o, 0);
    expect_output(&o, "{\"a\":{\"b\":42},\"out\":{\"got\":42}}");
}

static void test_missing_input_path_is_runtime_error(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Echo\","
                "\"InputPath\":\"$.nope\",\"End\":true}}}",
                "{}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.Runtime");
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"$.nope\"},"
                "\"End\":true}}}",
                "{}", &o, 0);
    assert_false(o.succeeded);
    assert_non_null(strstr(o.cause, "$.nope"));
}

static const char choice_machine[] =
    "{\"StartAt\":\"C\",\"States\":{"
    "\"C\":{\"Type\":\"Choice\",\"Choices\":["
    "{\"Variable\":\"$.s\",\"StringEquals\":\"a\",\"Next\":\"IsA\"},"
    "{\"And\":[{\"Variable\":\"$.n\",\"NumericGreaterThanEquals\":10},{\"Variable\":\"$.n\",\"NumericLessThan\":20}],"
    "\"Next\":\"Teen\"},"
    "{\"Or\":[{\"Not\":{\"Variable\":\"$.p\",\"IsPresent\":true}},{\"Variable\":\"$.b\",\"BooleanEquals\":true}],"
    "\"Next\":\"BoolOrAbsent\"},"
    "{\"Variable\":\"$.n\",\"NumericEqualsPath\":\"$.m\",\"Next\":\"Same\"},"
    "{\"Variable\":\"$.s\",\"StringMatches\":\"log-*.txt\",\"Next\":\"Log\"},"
    "{\"Variable\":\"$.s\",\"IsString\":false,\"Next\":\"NotString\"}"
    "],\"Default\":\"Other\"},"
    "\"IsA\":{\"Type\":\"Pass\",\"Result\":\"IsA\",\"End\":true},"
    "\"Teen\":{\"Type\":\"Pass\",\"Result\":\"Teen\",\"End\":true},"
    "\"BoolOrAbsent\":{\"Type\":\"Pass\",\"Result\":\"BoolOrAbsent\",\"End\":true},"
    "\"Same\":{\"Type\":\"Pass\",\"Result\":\"Same\",\"End\":true},"
    "\"Log\":{\"Type\":\"Pass\",\"Result\":\"Log\",\"End\":true},"
    "\"NotString\":{\"Type\":\"Pass\",\"Result\":\"NotString\",\"End\":true},"
    "\"Other\":{\"Type\":\"Pass\",\"Result\":\"Other\",\"End\":true}}}";

static void choose(const char *input, const char *want)
{
    struct outcome o;
    char w[64];
    run_machine(choice_machine, input, &o, 0);
    snprintf(w, sizeof w, "\"%s\"", want);
    expect_output(&o, w);
}

static void test_choice(void **state)
{
    (void)state;
    choose("{\"s\":\"a\",\"n\":1,\"p\":1}", "IsA");
    choose("{\"s\":\"b\",\"n\":15,\"p\":1}", "Teen");
    /* And/Or stop at the first deciding rule, so $.b need not exist here. */
    choose("{\"s\":\"b\",\"n\":20,\"p\":1,\"b\":true}", "BoolOrAbsent");
    choose("{\"s\":\"b\",\"n\":20}", "BoolOrAbsent");
    choose("{\"s\":\"b\",\"n\":3,\"m\":3,\"p\":1,\"b\":false}", "Same");
    choose("{\"s\":\"log-1.txt\",\"n\":3,\"m\":4,\"p\":1,\"b\":false}", "Log");
    choose("{\"s\":\"zzz\",\"n\":3,\"m\":4,\"p\":1,\"b\":false}", "Other");
    /* A type mismatch is simply false. */
    choose("{\"s\":5,\"n\":3,\"m\":4,\"p\":1,\"b\":false}", "NotString");
}

static void test_choice_no_match_and_missing_variable(void **state)
{
    (void)state;
    struct outcome o;
    const char *m = "{\"StartAt\":\"C\",\"States\":{\"C\":{\"Type\":\"Choice\",\"Choices\":["
                    "{\"Variable\":\"$.x\",\"StringEquals\":\"a\",\"Next\":\"E\"}]},"
                    "\"E\":{\"Type\":\"Succeed\"}}}";
    run_machine(m, "{\"x\":\"b\"}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.NoChoiceMatched");
    run_machine(m, "{}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.Runtime");
}

static void test_wait(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":3600,\"Next\":\"W2\"},"
                "\"W2\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.t\",\"Next\":\"W3\"},"
                "\"W3\":{\"Type\":\"Wait\",\"TimestampPath\":\"$.ts\",\"End\":true}}}",
                "{\"t\":1.5,\"ts\":\"2023-11-14T23:13:20Z\"}", &o, 0);
    if (!o.succeeded)
        fail_msg("%s: %s", o.error, o.cause);
    /* 3600 s + 1.5 s, then a timestamp already in the past. */
    assert_int_equal(o.end_ms - T0, 3601500);
    cJSON_Delete(o.output);
    run_machine("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Timestamp\":\"2023-11-15T00:00:00Z\","
                "\"End\":true}}}",
                "{}", &o, 0);
    assert_int_equal(o.end_ms, 1700006400000LL);
    cJSON_Delete(o.output);
    run_machine("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"SecondsPath\":\"$.t\",\"End\":true}}}",
                "{\"t\":\"soon\"}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.Runtime");
}

static void test_succeed_and_fail(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"S\",\"States\":{\"S\":{\"Type\":\"Succeed\",\"OutputPath\":\"$.a\"}}}",
                "{\"a\":[1]}", &o, 0);
    expect_output(&o, "[1]");
    run_machine("{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"MyError\",\"Cause\":\"why\"}}}",
                "{}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "MyError");
    assert_string_equal(o.cause, "why");
}

static void test_retry_backoff(void **state)
{
    (void)state;
    struct outcome o;
    /* Fails twice, retried after 2 s then 6 s (BackoffRate 3). */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Flaky\","
                "\"Retry\":[{\"ErrorEquals\":[\"Other\"],\"MaxAttempts\":5},"
                "{\"ErrorEquals\":[\"Flaky\"],\"IntervalSeconds\":2,\"MaxAttempts\":2,\"BackoffRate\":3}],"
                "\"ResultPath\":\"$.calls\",\"End\":true}}}",
                "{\"fail_times\":2}", &o, 0);
    assert_int_equal(o.end_ms - T0, 8000);
    expect_output(&o, "{\"fail_times\":2,\"calls\":3}");
    /* Three failures exhaust MaxAttempts 2: the error reaches the execution. */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Flaky\","
                "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":1,\"MaxAttempts\":2}],"
                "\"End\":true}}}",
                "{\"fail_times\":3}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "Flaky");
    assert_int_equal(o.end_ms - T0, 3000);
    /* MaxDelaySeconds caps the backoff. */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Flaky\","
                "\"Retry\":[{\"ErrorEquals\":[\"States.TaskFailed\"],\"IntervalSeconds\":10,\"MaxAttempts\":3,"
                "\"BackoffRate\":10,\"MaxDelaySeconds\":15}],\"End\":true}}}",
                "{\"fail_times\":2}", &o, 0);
    assert_int_equal(o.end_ms - T0, 25000);
    cJSON_Delete(o.output);
}

static void test_catch(void **state)
{
    (void)state;
    struct outcome o;
    const char *m = "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Fail\","
                    "\"Catch\":[{\"ErrorEquals\":[\"Specific\"],\"ResultPath\":\"$.err\",\"Next\":\"Got1\"},"
                    "{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"Got2\"}],\"End\":true},"
                    "\"Got1\":{\"Type\":\"Pass\",\"End\":true},\"Got2\":{\"Type\":\"Pass\",\"End\":true}}}";
    run_machine(m, "{\"error\":\"Specific\"}", &o, 0);
    expect_output(&o, "{\"error\":\"Specific\",\"err\":{\"Error\":\"Specific\",\"Cause\":\"it failed\"}}");
    run_machine(m, "{\"error\":\"Else\"}", &o, 0);
    expect_output(&o, "{\"Error\":\"Else\",\"Cause\":\"it failed\"}");
    /* Retry first, then catch. */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Fail\","
                "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":1,\"MaxAttempts\":1}],"
                "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":null,\"Next\":\"P\"}],\"End\":true},"
                "\"P\":{\"Type\":\"Pass\",\"End\":true}}}",
                "{}", &o, 0);
    assert_int_equal(o.end_ms - T0, 1000);
    expect_output(&o, "{}");
}

static void test_async_task(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Later\",\"End\":true}}}",
                "{}", &o, 0);
    assert_int_equal(o.end_ms - T0, 5000);
    expect_output(&o, "\"late\"");
}

static void test_history_limit(void **state)
{
    (void)state;
    struct outcome o;
    /* A loop without end: the history limit stops it, as on Step Functions. */
    run_machine("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\"},"
                "\"B\":{\"Type\":\"Wait\",\"Seconds\":1,\"Next\":\"A\"}}}",
                "{}", &o, 1000);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.Runtime");
    assert_non_null(strstr(o.cause, "history"));
    /* A Pass/Choice loop with no Wait does not overflow the stack either. */
    run_machine("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"A\"}}}", "{}", &o, 25000);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.Runtime");
}

static void test_payload_limit(void **state)
{
    (void)state;
    struct outcome o;
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Big\",\"End\":true}}}",
                "{}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.DataLimitExceeded");
    /* Catchable by name, like on AWS. */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Big\",\"Catch\":"
                "[{\"ErrorEquals\":[\"States.DataLimitExceeded\"],\"ResultPath\":\"$.e\",\"Next\":\"P\"}],\"End\":true},"
                "\"P\":{\"Type\":\"Pass\",\"End\":true}}}",
                "{}", &o, 0);
    assert_true(o.succeeded);
    cJSON_Delete(o.output);
    /* But a terminal error for States.ALL (AWS: "can't catch the States.DataLimitExceeded terminal
     * error"): neither retried nor caught, so the seed's Retry/Catch States.ALL on every Task does
     * not turn an oversized result into a loop. No retry means no time passes. */
    run_machine("{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"Big\","
                "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"],\"IntervalSeconds\":2,\"MaxAttempts\":3}],"
                "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"ResultPath\":\"$.e\",\"Next\":\"P\"}],\"End\":true},"
                "\"P\":{\"Type\":\"Pass\",\"End\":true}}}",
                "{}", &o, 0);
    assert_false(o.succeeded);
    assert_string_equal(o.error, "States.DataLimitExceeded");
    assert_int_equal(o.end_ms - T0, 0);
}

/* ---- load-time validation ---- */

static void expect_reject(const char *text, const char *state_name, const char *field)
{
    char err[512], want[256];
    struct asl_machine *m = load(text, err);
    if (m)
        fail_msg("accepted: %s", text);
    if (state_name) {
        snprintf(want, sizeof want, "State \"%s\"", state_name);
        if (!strstr(err, want))
            fail_msg("error %s does not name %s", err, want);
    }
    snprintf(want, sizeof want, "field \"%s\"", field);
    if (!strstr(err, want))
        fail_msg("error %s does not name %s", err, want);
}

static void test_validation(void **state)
{
    (void)state;
    expect_reject("{\"States\":{}}", NULL, "StartAt");
    expect_reject("{\"StartAt\":\"X\",\"States\":{\"A\":{\"Type\":\"Succeed\"}}}", NULL, "StartAt");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Bogus\"}}}", "A", "Type");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\"}}}", "A", "Next");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"Z\"}}}", "A", "Next");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true,\"Next\":\"A\"}}}", "A",
                  "Next");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"Nope\",\"End\":true}}}",
                  "A", "Resource");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"Echo\",\"End\":true,"
                  "\"Retry\":[{\"ErrorEquals\":[\"X\"],\"BackoffRate\":0.5}]}}}",
                  "A", "Retry[0].BackoffRate");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"Echo\",\"End\":true,"
                  "\"Retry\":[{\"ErrorEquals\":[]}]}}}",
                  "A", "Retry[0].ErrorEquals");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"Echo\",\"End\":true,"
                  "\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"]},{\"ErrorEquals\":[\"X\"]}]}}}",
                  "A", "Retry[0].ErrorEquals");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":\"Echo\",\"End\":true,"
                  "\"Catch\":[{\"ErrorEquals\":[\"X\"],\"Next\":\"Q\"}]}}}",
                  "A", "Catch[0].Next");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"InputPath\":\"$..x\",\"End\":true}}}",
                  "A", "InputPath");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Parameters\":{\"a.$\":\"nope\"},"
                  "\"End\":true}}}",
                  "A", "Parameters");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[]}}}", "A", "Choices");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
                  "\"StringEquals\":1,\"Next\":\"A\"}]}}}",
                  "A", "Choices[0]");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
                  "\"StringEquals\":\"1\"}]}}}",
                  "A", "Choices[0]");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\","
                  "\"Frobnicates\":\"1\",\"Next\":\"A\"}]}}}",
                  "A", "Choices[0]");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Wait\",\"End\":true}}}", "A", "Seconds");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Wait\",\"Seconds\":1,\"SecondsPath\":\"$.s\","
                  "\"End\":true}}}",
                  "A", "Seconds");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"End\":true,\"Colour\":1}}}", "A",
                  "Colour");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Map\",\"End\":true}}}", "A", "Type");
    char err[512];
    assert_null(load("{not json", err));
    assert_non_null(strstr(err, "not valid JSON"));
}

/* The seed workflow in fixtures/ loads with the real task table and has the seed's states. */
static void test_seed_workflow_loads(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/fixtures/workflows/seed.asl.json", DSS_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    engine_set_resolver_table(seed_tasks, seed_ntasks);
    struct asl_machine *m = asl_load(text, n, engine_resolve, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    static const char *const names[] = {"WaitEC2", "SetProtect", "ProtectEC2", "YesNoProtected", "GetJob",
                                        "DeleteJob", "ExtractJob", "StartJob", "StatusStarted", "WriteJobStart",
                                        "Wait", "CheckJob", "YesNoJobRunning", "ConfirmResult", "YesNoResultFile",
                                        "StatusSuccessful", "WriteJobSuccessful", "SQSOut", "StatusFailed",
                                        "WriteJobFailed", "AddSQS", "YesNoRetryFinished", "FailedJob", "SQSFail",
                                        "SQSCheck", "PassCleanEntry", "SetUnProtect", "UnProtectEC2",
                                        "FinalTerminate", "Finish"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (asl_find(m, names[i]) < 0)
            fail_msg("seed workflow lacks %s", names[i]);
    assert_string_equal(m->start_at, "WaitEC2");
    const struct asl_state *ex = &m->states[asl_find(m, "ExtractJob")];
    assert_string_equal(ex->input_path, "$.raw_message");
    assert_string_equal(m->states[ex->catchers[0].next_idx].name, "FailedJob");
    asl_free(m);
}

static void test_python_repr(void **state)
{
    (void)state;
    cJSON *v = cJSON_Parse("[\"success\",{\"a\":\"it's\",\"b\":1,\"c\":true,\"d\":null,\"e\":\"x\\ny\"}]");
    char *s = python_repr(v);
    assert_string_equal(s, "['success', {'a': \"it's\", 'b': 1, 'c': True, 'd': None, 'e': 'x\\ny'}]");
    free(s);
    cJSON_Delete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonpath_get),
        cmocka_unit_test(test_json_printed_size),
        cmocka_unit_test(test_jsonpath_check),
        cmocka_unit_test(test_jsonpath_set),
        cmocka_unit_test(test_pass_result_and_paths),
        cmocka_unit_test(test_task_result_path),
        cmocka_unit_test(test_missing_input_path_is_runtime_error),
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_choice_no_match_and_missing_variable),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_succeed_and_fail),
        cmocka_unit_test(test_retry_backoff),
        cmocka_unit_test(test_catch),
        cmocka_unit_test(test_async_task),
        cmocka_unit_test(test_history_limit),
        cmocka_unit_test(test_payload_limit),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_seed_workflow_loads),
        cmocka_unit_test(test_python_repr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
