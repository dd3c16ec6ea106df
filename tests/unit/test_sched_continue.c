/* test_sched_continue.c -- "Continue as new": the states:startExecution service integration
 * and the context object ($$) it is written with.
 *
 * Executions run on the real loop with the virtual clock and, where the journal matters, a real
 * SQLite journal in a temporary file. A chain here is a machine that increments $.n (task Inc)
 * and, until n reaches $.limit, starts a new execution of itself with {n, limit} and succeeds --
 * the pattern AWS recommends against the 25,000-event history quota. Checked: the history of
 * each link (AWS's event types, counted), the names and ARNs, the instance and held job moving
 * along the chain, a chain longer than the quota allows one execution, the errors (another state
 * machine, a taken or invalid name, bad Input), load-time validation, and a restart resuming a
 * new execution from the journal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asl.h"
#include "clock.h"
#include "engine.h"
#include "journal.h"
#include "jsonpath.h"
#include "loop.h"

#define T0 1700000000000LL
#define ARN "arn:aws:states:eu-west-1:000000000000:stateMachine:chain-scheduler"
#define EXEC_ARN(name) "arn:aws:states:eu-west-1:000000000000:execution:chain-scheduler:" name

/* ---- test tasks ---- */

static struct engine *the_engine;
static int running_at_first_finish = -1;

/* Inc: $.n + 1. */
static void t_inc(struct task_call *c)
{
    cJSON *n = cJSON_GetObjectItem(c->input, "n");
    task_succeed(c, cJSON_CreateNumber((cJSON_IsNumber(n) ? n->valuedouble : 0) + 1));
}

/* Hold: this execution now holds a job (as the job-record task says after a Started record). */
static void t_hold(struct task_call *c)
{
    engine_job_held(c->x, 1);
    task_succeed(c, cJSON_CreateString("held"));
}

static const struct task_def tasks[] = {{"Inc", t_inc}, {"Hold", t_hold}};

/* ---- running ---- */

#define MAX_FINISHED 64

struct finished {
    char name[64];
    int ok;
    char error[128], cause[512];
    cJSON *output;
    int jobs_running; /* stats.jobs_running as it ended */
};

static struct finished fin[MAX_FINISHED];
static int nfin;

static void on_finish(void *arg, const char *name, int ok, const char *error, const char *cause, const cJSON *out)
{
    (void)arg;
    assert_true(nfin < MAX_FINISHED);
    struct finished *f = &fin[nfin++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->ok = ok;
    snprintf(f->error, sizeof f->error, "%s", error ? error : "");
    snprintf(f->cause, sizeof f->cause, "%s", cause ? cause : "");
    f->output = out ? cJSON_Duplicate(out, 1) : NULL;
    f->jobs_running = engine_stats(the_engine)->jobs_running;
    if (running_at_first_finish < 0)
        running_at_first_finish = engine_stats(the_engine)->running;
}

static struct finished *finished_named(const char *name)
{
    for (int i = 0; i < nfin; i++)
        if (strcmp(fin[i].name, name) == 0)
            return &fin[i];
    fail_msg("no execution %s finished", name);
    return NULL;
}

static void clear_finished(void)
{
    for (int i = 0; i < nfin; i++)
        cJSON_Delete(fin[i].output);
    nfin = 0;
    running_at_first_finish = -1;
}

static struct asl_machine *load(const char *text, char *err)
{
    engine_set_resolver_table(tasks, 2);
    return asl_load(text, strlen(text), engine_resolve, err, 512);
}

struct run {
    struct asl_machine *m;
    struct loop *loop;
    struct engine *e;
    struct journal *j;
};

static void run_open(struct run *r, const char *text, const char *journal_path, int64_t max_events)
{
    char err[512];
    r->m = load(text, err);
    if (!r->m)
        fail_msg("load failed: %s", err);
    r->loop = loop_new();
    r->j = NULL;
    if (journal_path) {
        r->j = journal_open(journal_path, err, sizeof err);
        if (!r->j)
            fail_msg("%s", err);
    }
    struct engine_options eo = {0};
    eo.max_events = max_events;
    eo.on_finish = on_finish;
    eo.state_machine_arn = ARN;
    r->e = engine_new(r->m, tasks, 2, NULL, r->loop, r->j, &eo);
    the_engine = r->e;
}

/* Runs until no execution is left running (or `until` have finished, if > 0). */
static void run_loop(struct run *r, int until)
{
    for (int i = 0; i < 100000 && engine_stats(r->e)->running > 0 && (until <= 0 || nfin < until); i++)
        loop_run_once(r->loop, 0);
}

static void run_close(struct run *r)
{
    engine_free(r->e);
    loop_free(r->loop);
    journal_close(r->j);
    asl_free(r->m);
    the_engine = NULL;
}

static void start(struct run *r, const char *name, const char *instance, const char *input)
{
    cJSON *in = cJSON_Parse(input);
    assert_non_null(in);
    assert_int_equal(engine_start(r->e, name, instance, in), 1);
}

static char *temp_journal(void)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/dss-test-continue-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

static void remove_journal(const char *path)
{
    char p[128];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* The chain: Inc, then Enough? (n >= limit: Done), else ContinueAsNew -> Continued. */
static const char *const chain =
    "{\"StartAt\":\"Inc\",\"States\":{"
    "\"Inc\":{\"Type\":\"Task\",\"Resource\":\"Inc\",\"ResultPath\":\"$.n\",\"Next\":\"Enough\"},"
    "\"Enough\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"NumericGreaterThanEquals\":3,"
    "\"Next\":\"Done\"}],\"Default\":\"ContinueAsNew\"},"
    "\"ContinueAsNew\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::states:startExecution\","
    "\"Parameters\":{\"StateMachineArn.$\":\"$$.StateMachine.Id\",\"Input\":{\"n.$\":\"$.n\","
    "\"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$\":\"$$.Execution.Id\"}},"
    "\"ResultPath\":\"$.started\",\"Next\":\"Continued\"},"
    "\"Continued\":{\"Type\":\"Succeed\"},"
    "\"Done\":{\"Type\":\"Succeed\"}}}";

/* The history of execution `which` as event types, one JSON line each. */
static int history_types(struct journal *j, const char *which, char types[][40], int max)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(journal_print_history(j, which, 1, f), 0);
    fclose(f);
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        cJSON *ev = cJSON_Parse(line);
        snprintf(types[n++], 40, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(ev, "type")));
        cJSON_Delete(ev);
    }
    free(text);
    return n;
}

struct row {
    char name[64], instance[64], status[16];
    int64_t events;
};
static struct row rows[16];
static int nrows;

static void collect_row(void *arg, const struct journal_exec *x)
{
    (void)arg;
    if (nrows >= 16)
        return;
    struct row *r = &rows[nrows++];
    snprintf(r->name, sizeof r->name, "%s", x->name);
    snprintf(r->instance, sizeof r->instance, "%s", x->instance_id ? x->instance_id : "");
    snprintf(r->status, sizeof r->status, "%s", x->status);
    r->events = x->events;
}

/* ---- tests ---- */

/* Every field of $$ that ASL defines (but RoleArn), from a Pass state's Parameters. */
static void test_context_object(void **state)
{
    (void)state;
    sched_clock_virtual(T0);
    struct run r;
    run_open(&r,
             "{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":2,\"Next\":\"P\"},"
             "\"P\":{\"Type\":\"Pass\",\"Parameters\":{\"id.$\":\"$$.Execution.Id\",\"name.$\":\"$$.Execution.Name\","
             "\"input.$\":\"$$.Execution.Input\",\"start.$\":\"$$.Execution.StartTime\","
             "\"redrives.$\":\"$$.Execution.RedriveCount\",\"machine.$\":\"$$.StateMachine.Id\","
             "\"machine_name.$\":\"$$.StateMachine.Name\",\"state.$\":\"$$.State.Name\","
             "\"entered.$\":\"$$.State.EnteredTime\",\"retries.$\":\"$$.State.RetryCount\"},\"End\":true}}}",
             NULL, 0);
    start(&r, "exec-1", NULL, "{\"a\":1}");
    run_loop(&r, 0);
    assert_int_equal(nfin, 1);
    assert_true(fin[0].ok);
    cJSON *o = fin[0].output;
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), EXEC_ARN("exec-1"));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), "exec-1");
    cJSON *want = cJSON_Parse("{\"a\":1}");
    assert_true(cJSON_Compare(cJSON_GetObjectItem(o, "input"), want, 1));
    cJSON_Delete(want);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "start")), "2023-11-14T22:13:20.000Z");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "entered")), "2023-11-14T22:13:22.000Z");
    assert_int_equal(cJSON_GetObjectItem(o, "redrives")->valueint, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "machine")), ARN);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "machine_name")), "chain-scheduler");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), "P");
    assert_int_equal(cJSON_GetObjectItem(o, "retries")->valueint, 0);
    clear_finished();
    run_close(&r);
}

/* Three executions, one after the other: names, ARNs, outputs, the history of each (AWS's event
 * types for a request-response integration), and the instance moving to the newest row. */
static void test_chain_with_journal(void **state)
{
    (void)state;
    sched_clock_virtual(T0);
    char *path = temp_journal();
    struct run r;
    run_open(&r, chain, path, 0);
    start(&r, "i-0abc", "i-0abc", "{\"n\":0}");
    run_loop(&r, 0);
    assert_int_equal(nfin, 3);
    /* The old execution ends after the new one has started: two were running at once. */
    assert_int_equal(running_at_first_finish, 2);
    static const char *const names[] = {"i-0abc", "i-0abc.2", "i-0abc.3"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(fin[i].name, names[i]);
        assert_true(fin[i].ok);
        assert_int_equal(cJSON_GetObjectItem(fin[i].output, "n")->valueint, i + 1);
    }
    /* StartExecution's answer in the old one's output; the new one knows who started it. */
    cJSON *started = cJSON_GetObjectItem(fin[0].output, "started");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(started, "ExecutionArn")), EXEC_ARN("i-0abc.2"));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(started, "StartDate")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(fin[1].output,
                                                                 "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID")),
                        EXEC_ARN("i-0abc"));
    assert_null(cJSON_GetObjectItem(fin[2].output, "started"));

    char types[40][40];
    int n = history_types(r.j, "i-0abc.2", types, 40);
    static const char *const want[] = {
        "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
        "ChoiceStateEntered", "ChoiceStateExited", "TaskStateEntered", "TaskScheduled", "TaskStarted",
        "TaskSucceeded", "TaskStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"};
    assert_int_equal(n, (int)(sizeof want / sizeof *want));
    for (int i = 0; i < n; i++)
        assert_string_equal(types[i], want[i]);
    /* "i-0abc" names the first execution, whose history it stays, though the instance has moved. */
    assert_int_equal(history_types(r.j, "i-0abc", types, 40), 16);
    assert_int_equal(history_types(r.j, "3", types, 40), 11);

    nrows = 0;
    journal_each(r.j, NULL, collect_row, NULL);
    assert_int_equal(nrows, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(rows[i].name, names[i]);
        assert_string_equal(rows[i].status, "SUCCEEDED");
        /* The instance names its current execution: the newest. */
        assert_string_equal(rows[i].instance, i == 2 ? "i-0abc" : "");
    }
    assert_int_equal(rows[0].events, 16);
    assert_int_equal(rows[2].events, 11);
    assert_true(journal_has_instance(r.j, "i-0abc"));
    clear_finished();
    run_close(&r);
    remove_journal(path);
}

/* A chain can run far more steps than one execution's history allows: 9 links of up to 16
 * events under a 20-event quota; the same work in one execution fails with States.Runtime. */
static void test_chain_outlives_history_quota(void **state)
{
    (void)state;
    sched_clock_virtual(T0);
    struct run r;
    char *text = strdup(chain);
    memcpy(strstr(text, "NumericGreaterThanEquals\":3"), "NumericGreaterThanEquals\":9", 27);
    run_open(&r, text, NULL, 20);
    start(&r, "x", NULL, "{\"n\":0}");
    run_loop(&r, 0);
    assert_int_equal(nfin, 9);
    for (int i = 0; i < nfin; i++)
        if (!fin[i].ok)
            fail_msg("%s failed: %s: %s", fin[i].name, fin[i].error, fin[i].cause);
    assert_string_equal(fin[8].name, "x.9");
    clear_finished();
    run_close(&r);
    free(text);

    /* The same nine steps in one execution (a loop instead of a new execution) hit the quota. */
    run_open(&r,
             "{\"StartAt\":\"Inc\",\"States\":{"
             "\"Inc\":{\"Type\":\"Task\",\"Resource\":\"Inc\",\"ResultPath\":\"$.n\",\"Next\":\"Enough\"},"
             "\"Enough\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"NumericGreaterThanEquals\":9,"
             "\"Next\":\"Done\"}],\"Default\":\"Inc\"},\"Done\":{\"Type\":\"Succeed\"}}}",
             NULL, 20);
    start(&r, "y", NULL, "{\"n\":0}");
    run_loop(&r, 0);
    assert_int_equal(nfin, 1);
    assert_false(fin[0].ok);
    assert_string_equal(fin[0].error, "States.Runtime");
    assert_non_null(strstr(fin[0].cause, "history"));
    clear_finished();
    run_close(&r);
}

/* A held job moves with the instance: the in-flight scaler's count stays 1 until the last
 * execution of the chain ends. */
static void test_held_job_moves(void **state)
{
    (void)state;
    sched_clock_virtual(T0);
    struct run r;
    run_open(&r,
             "{\"StartAt\":\"First\",\"States\":{"
             "\"First\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID\","
             "\"IsPresent\":true,\"Next\":\"Later\"}],\"Default\":\"Hold\"},"
             "\"Hold\":{\"Type\":\"Task\",\"Resource\":\"Hold\",\"ResultPath\":\"$.held\",\"Next\":\"Go\"},"
             "\"Go\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::states:startExecution\","
             "\"Parameters\":{\"StateMachineArn\":\"" ARN "\",\"Input\":{"
             "\"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$\":\"$$.Execution.Id\"}},\"End\":true},"
             "\"Later\":{\"Type\":\"Wait\",\"Seconds\":30,\"End\":true}}}",
             NULL, 0);
    start(&r, "i-1", "i-1", "{}");
    run_loop(&r, 1);
    assert_int_equal(nfin, 1);
    assert_string_equal(fin[0].name, "i-1");
    assert_int_equal(engine_stats(r.e)->running, 1);
    assert_int_equal(engine_stats(r.e)->jobs_running, 1); /* the first ended: its job went on with the second */
    run_loop(&r, 0);
    assert_int_equal(nfin, 2);
    assert_true(fin[0].ok && fin[1].ok);
    assert_int_equal(engine_stats(r.e)->jobs_running, 0); /* the second ended holding it: let go */
    clear_finished();
    run_close(&r);
}

/* Runs a one-Task machine whose startExecution Parameters are params; returns fin[0]. */
static struct finished *start_with(const char *params, const char *input)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"StartAt\":\"Go\",\"States\":{\"Go\":{\"Type\":\"Task\",\"Resource\":"
             "\"arn:aws:states:::states:startExecution\",\"Parameters\":%s,\"End\":true}}}",
             params);
    clear_finished();
    sched_clock_virtual(T0);
    struct run r;
    run_open(&r, text, NULL, 0);
    start(&r, "a", NULL, input);
    /* The started executions run the same one state: each would start another, so stop at 2. */
    run_loop(&r, 2);
    run_close(&r);
    return &fin[0];
}

static void test_start_errors(void **state)
{
    (void)state;
    /* Another state machine: a clear States.TaskFailed, not a crash or a silent success. */
    struct finished *f = start_with("{\"StateMachineArn\":\"arn:aws:states:eu-west-1:000000000000:stateMachine:other\"}",
                                    "{}");
    assert_false(f->ok);
    assert_string_equal(f->error, "States.TaskFailed");
    assert_non_null(strstr(f->cause, "stateMachine:other"));
    assert_non_null(strstr(f->cause, ARN));
    /* A given name that is taken (the execution itself is "a"). */
    f = start_with("{\"StateMachineArn\":\"" ARN "\",\"Name\":\"a\"}", "{}");
    assert_false(f->ok);
    assert_string_equal(f->error, "StepFunctions.ExecutionAlreadyExistsException");
    /* Names Step Functions refuses. */
    f = start_with("{\"StateMachineArn\":\"" ARN "\",\"Name\":\"has space\"}", "{}");
    assert_string_equal(f->error, "StepFunctions.InvalidNameException");
    f = start_with("{\"StateMachineArn\":\"" ARN "\",\"Name.$\":\"$.n\"}", "{\"n\":7}");
    assert_string_equal(f->error, "StepFunctions.InvalidNameException");
    /* Input as a string must hold JSON text. */
    f = start_with("{\"StateMachineArn\":\"" ARN "\",\"Input\":\"{not json\"}", "{}");
    assert_string_equal(f->error, "StepFunctions.InvalidExecutionInputException");
    /* ... and when it does, the new execution gets the value, under the name it was given. */
    start_with("{\"StateMachineArn\":\"" ARN "\",\"Name\":\"b\",\"Input\":\"{\\\"k\\\":[1,2]}\"}", "{}");
    assert_int_equal(nfin, 2);
    assert_true(finished_named("a")->ok);
    f = finished_named("b");
    assert_false(f->ok); /* b, running the same state, cannot start b again */
    assert_string_equal(f->error, "StepFunctions.ExecutionAlreadyExistsException");
    clear_finished();

    /* Caught like any task error. */
    sched_clock_virtual(T0);
    struct run r;
    run_open(&r,
             "{\"StartAt\":\"Go\",\"States\":{\"Go\":{\"Type\":\"Task\",\"Resource\":"
             "\"arn:aws:states:::states:startExecution\",\"Parameters\":{\"StateMachineArn\":\"nope\"},"
             "\"Catch\":[{\"ErrorEquals\":[\"States.TaskFailed\"],\"ResultPath\":\"$.err\",\"Next\":\"P\"}],"
             "\"End\":true},\"P\":{\"Type\":\"Pass\",\"End\":true}}}",
             NULL, 0);
    start(&r, "c", NULL, "{}");
    run_loop(&r, 0);
    assert_int_equal(nfin, 1);
    assert_true(fin[0].ok);
    cJSON *err = cJSON_GetObjectItem(fin[0].output, "err");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(err, "Error")), "States.TaskFailed");
    clear_finished();
    run_close(&r);
}

static void expect_reject(const char *text, const char *needle)
{
    char err[512];
    struct asl_machine *m = load(text, err);
    if (m)
        fail_msg("accepted: %s", text);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_load_validation(void **state)
{
    (void)state;
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":"
                  "\"arn:aws:states:::states:startExecution.sync\",\"Parameters\":{\"StateMachineArn\":\"x\"},"
                  "\"End\":true}}}",
                  "field \"Resource\": service integration \"arn:aws:states:::states:startExecution.sync\" is not "
                  "supported");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":"
                  "\"arn:aws:states:::sqs:sendMessage\",\"End\":true}}}",
                  "not supported");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":"
                  "\"arn:aws:states:::states:startExecution\",\"End\":true}}}",
                  "State \"A\": field \"Parameters\"");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":"
                  "\"arn:aws:states:::states:startExecution\",\"Parameters\":{\"Input\":{}},\"End\":true}}}",
                  "StateMachineArn is required");
    expect_reject("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\",\"Resource\":"
                  "\"arn:aws:states:::states:startExecution\",\"Parameters\":{\"StateMachineArn\":\"x\","
                  "\"Colour\":1},\"End\":true}}}",
                  "\"Colour\" is not a parameter of StartExecution");
}

/* A restart between the links: the new execution is in the journal, RUNNING, holds the
 * instance, and resumes with its own start time and Execution.Input. */
static void test_resume_new_execution(void **state)
{
    (void)state;
    sched_clock_virtual(T0);
    char *path = temp_journal();
    static const char *const text =
        "{\"StartAt\":\"First\",\"States\":{"
        "\"First\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"IsPresent\":true,\"Next\":\"Nap\"}],"
        "\"Default\":\"Go\"},"
        "\"Go\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::states:startExecution\","
        "\"Parameters\":{\"StateMachineArn.$\":\"$$.StateMachine.Id\",\"Input\":{\"n\":1}},\"End\":true},"
        "\"Nap\":{\"Type\":\"Wait\",\"Seconds\":3600,\"Next\":\"Report\"},"
        "\"Report\":{\"Type\":\"Pass\",\"Parameters\":{\"input.$\":\"$$.Execution.Input\","
        "\"start.$\":\"$$.Execution.StartTime\",\"id.$\":\"$$.Execution.Id\"},\"End\":true}}}";
    struct run r;
    run_open(&r, text, path, 0);
    start(&r, "i-9", "i-9", "{}");
    run_loop(&r, 1); /* the first ends; the second waits its hour */
    assert_int_equal(nfin, 1);
    assert_int_equal(engine_stats(r.e)->running, 1);
    clear_finished();
    run_close(&r); /* the scheduler stops */

    sched_clock_virtual(T0 + 60000);
    run_open(&r, text, path, 0);
    assert_int_equal(engine_resume(r.e), 1);
    run_loop(&r, 0);
    assert_int_equal(nfin, 1);
    assert_string_equal(fin[0].name, "i-9.2");
    assert_true(fin[0].ok);
    cJSON *o = fin[0].output, *want = cJSON_Parse("{\"n\":1}");
    assert_true(cJSON_Compare(cJSON_GetObjectItem(o, "input"), want, 1));
    cJSON_Delete(want);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "start")), "2023-11-14T22:13:20.000Z");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), EXEC_ARN("i-9.2"));
    assert_true(journal_has_instance(r.j, "i-9"));
    nrows = 0;
    journal_each(r.j, "RUNNING", collect_row, NULL);
    assert_int_equal(nrows, 0);
    clear_finished();
    run_close(&r);
    remove_journal(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_object),
        cmocka_unit_test(test_chain_with_journal),
        cmocka_unit_test(test_chain_outlives_history_quota),
        cmocka_unit_test(test_held_job_moves),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_load_validation),
        cmocka_unit_test(test_resume_new_execution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
