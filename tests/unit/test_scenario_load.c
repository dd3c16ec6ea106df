/* test_scenario_load.c -- the scenario loader and validator: valid files load with their
 * defaults, generators expand, and every kind of bad input is an error naming its field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scenario.h"

static int load(const char *json, struct scenario *s, char *err, size_t n)
{
    return scenario_parse(json, strlen(json), -1, s, err, n);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    struct scenario s;
    char err[512] = "";
    assert_int_equal(load("{\"name\":\"m\",\"jobs\":[{\"id\":\"a\"}]}", &s, err, sizeof err), 0);
    assert_string_equal(s.name, "m");
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.mode, SCN_MODE_REAL);
    assert_string_equal(s.stack, "dss");
    assert_string_equal(s.region, "us-east-1");
    assert_string_equal(s.workflow, "seed");
    assert_string_equal(s.history, "full");
    assert_int_equal(s.max_instances, 4);
    assert_int_equal(s.n_instance_types, 1);
    assert_string_equal(s.instance_types[0], "c5.large");
    assert_int_equal(s.market, SCN_MARKET_SPOT);
    assert_int_equal(s.scaler, SCN_SCALER_SEED);
    assert_int_equal(s.n_jobs, 1);
    assert_string_equal(s.jobs[0].id, "a");
    assert_null(s.jobs[0].command);
    assert_string_equal(s.jobs[0].success_string, "done");
    assert_int_equal(s.jobs[0].retry, 3);
    assert_int_equal(s.jobs[0].via, SCN_VIA_SQS);
    assert_true(s.jobs[0].runtime_s == 1.0);
    assert_int_equal(s.jobs[0].output_bytes, 64);
    for (int i = 0; i < SCN_INV__COUNT; i++)
        assert_int_equal(s.expect.inv[i], SCN_EXPECT_HOLD);
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        assert_int_equal(s.expect.status[i], -1);
    scenario_free(&s);
    /* Simulated runs keep only failures unless told otherwise. */
    assert_int_equal(load("{\"name\":\"m\",\"mode\":\"simulated\",\"jobs\":[{\"id\":\"a\"}]}", &s, err, sizeof err), 0);
    assert_string_equal(s.history, "failures");
    scenario_free(&s);
    assert_int_equal(load("{\"name\":\"m\",\"mode\":\"simulated\",\"history\":\"full\",\"jobs\":[{\"id\":\"a\"}]}",
                          &s, err, sizeof err), 0);
    assert_string_equal(s.history, "full");
    scenario_free(&s);
}

static const char *full =
    "{\"name\":\"full\",\"description\":\"d\",\"seed\":42,\"mode\":\"real\",\"clock_speed\":20,"
    "\"time_limit\":120,\"stack\":{\"name\":\"st\",\"region\":\"eu-west-1\"},\"workflow\":\"hardened\","
    "\"poll_interval\":0.5,\"fleet\":{\"max_instances\":8,\"instance_types\":[\"c5.large\",\"m5.xlarge\"],"
    "\"boot_delay\":2,\"status_delay\":1,\"market\":\"on-demand\"},\"scaler\":{\"mode\":\"fixed\",\"instances\":3},"
    "\"jobs\":[{\"id\":\"jobId_0\",\"command\":\"echo Hello World\",\"success_string\":\"Hello\",\"retry\":3},"
    "{\"count\":5,\"start\":10,\"id\":\"gen-{i}\",\"runtime\":{\"dist\":\"uniform\",\"min\":1,\"max\":3},"
    "\"output\":\"out {i}\",\"output_size\":{\"dist\":\"exponential\",\"mean\":100,\"max\":1000},"
    "\"via\":\"s3\",\"retry\":1,\"submit_at\":5}],"
    "\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"gen-12\",\"attempt\":1,\"phase\":\"finishing\"},"
    "{\"type\":\"spot_interruption\",\"name\":\"storm\",\"rate\":0.1,\"interval\":10,\"notice\":5},"
    "{\"type\":\"ssm_failure\",\"job\":\"jobId_0\",\"exit_code\":7},"
    "{\"type\":\"api_error\",\"service\":\"sqs\",\"operation\":\"ReceiveMessage\",\"error\":\"500\",\"nth\":3},"
    "{\"type\":\"latency\",\"service\":\"dynamodb\",\"rate\":0.2,\"delay_ms\":50},"
    "{\"type\":\"scheduler_kill\",\"at\":{\"fraction\":0.5},\"downtime\":2}],"
    "\"expect\":{\"status\":{\"Successful\":5,\"Failed\":1},\"jobs\":{\"jobId_0\":{\"status\":\"Failed\","
    "\"attempts\":4}},\"invariants\":{\"no_lost_jobs\":\"break\",\"no_false_success\":\"any\"}}}";

static void test_full(void **state)
{
    (void)state;
    struct scenario s;
    char err[512] = "";
    assert_int_equal(load(full, &s, err, sizeof err), 0);
    assert_int_equal(s.seed, 42);
    assert_true(s.clock_speed == 20);
    assert_string_equal(s.stack, "st");
    assert_string_equal(s.region, "eu-west-1");
    assert_int_equal(s.market, SCN_MARKET_ON_DEMAND);
    assert_int_equal(s.scaler, SCN_SCALER_FIXED);
    assert_int_equal(s.scaler_instances, 3);
    assert_int_equal(s.n_jobs, 6);
    assert_string_equal(s.jobs[1].id, "gen-10");
    assert_string_equal(s.jobs[5].id, "gen-14");
    assert_string_equal(s.jobs[3].output, "out 12");
    assert_int_equal(s.jobs[3].via, SCN_VIA_S3);
    assert_int_equal(s.jobs[3].spec, 1);
    for (size_t i = 1; i < 6; i++) {
        assert_true(s.jobs[i].runtime_s >= 1 && s.jobs[i].runtime_s <= 3);
        assert_true(s.jobs[i].output_bytes >= 0 && s.jobs[i].output_bytes <= 1000);
    }
    assert_non_null(scenario_job(&s, "gen-13"));
    assert_null(scenario_job(&s, "gen-15"));
    assert_int_equal(s.n_faults, 6);
    assert_int_equal(s.faults[0].phase, SCN_PHASE_FINISHING);
    assert_true(s.faults[1].rate == 0.1);
    assert_string_equal(s.faults[1].name, "storm");
    assert_int_equal(s.faults[2].exit_code, 7);
    assert_int_equal(s.faults[3].nth, 3);
    assert_string_equal(s.faults[4].operation, "*");
    assert_true(s.faults[5].at.fraction == 0.5);
    assert_int_equal(s.expect.status[SCN_STATUS_SUCCESSFUL], 5);
    assert_int_equal(s.expect.n_jobs, 1);
    assert_int_equal(s.expect.jobs[0].attempts, 4);
    assert_int_equal(s.expect.inv[SCN_INV_NOT_LOST], SCN_EXPECT_BREAK);
    assert_int_equal(s.expect.inv[SCN_INV_NO_FALSE_SUCCESS], SCN_EXPECT_ANY);
    assert_int_equal(s.expect.inv[SCN_INV_TERMINAL], SCN_EXPECT_HOLD);
    scenario_free(&s);
}

/* Generated parameters are keyed on the job id: adding jobs before it, or loading with another
 * seed and back, never changes a job's run time. */
static void test_generated_keyed_on_id(void **state)
{
    (void)state;
    const char *a = "{\"name\":\"k\",\"jobs\":[{\"count\":3,\"runtime\":{\"dist\":\"exponential\",\"mean\":60}}]}";
    const char *b = "{\"name\":\"k\",\"jobs\":[{\"id\":\"x\"},{\"count\":5,\"start\":0,"
                    "\"runtime\":{\"dist\":\"exponential\",\"mean\":60}}]}";
    struct scenario sa, sb, sc;
    char err[512];
    assert_int_equal(load(a, &sa, err, sizeof err), 0);
    assert_int_equal(load(b, &sb, err, sizeof err), 0);
    assert_int_equal(scenario_parse(a, strlen(a), 99, &sc, err, sizeof err), 0);
    assert_int_equal(sc.seed, 99);
    int differs = 0;
    for (int i = 0; i < 3; i++) {
        const struct scn_job *x = scenario_job(&sb, sa.jobs[i].id);
        assert_non_null(x);
        assert_true(x->runtime_s == sa.jobs[i].runtime_s);
        differs |= sc.jobs[i].runtime_s != sa.jobs[i].runtime_s;
    }
    assert_true(differs); /* another seed draws other run times */
    scenario_free(&sa);
    scenario_free(&sb);
    scenario_free(&sc);
}

struct bad_case {
    const char *json;
    const char *error; /* expected prefix of the message */
};

static const struct bad_case bad[] = {
    {"", "not valid JSON"},
    {"{\"name\":\"x\",", "not valid JSON"},
    {"[]", "must be an object"},
    {"{\"jobs\":[{\"id\":\"a\"}]}", "name: is required"},
    {"{\"name\":\"a b\",\"jobs\":[{\"id\":\"a\"}]}", "name: must be 1-64"},
    {"{\"name\":\"x\"}", "jobs: is required"},
    {"{\"name\":\"x\",\"jobs\":[]}", "jobs: must be a non-empty array"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"colour\":1}", "colour: unknown field"},
    {"{\"name\":\"x\",\"seed\":1.5,\"jobs\":[{\"id\":\"a\"}]}", "seed: must be an integer"},
    {"{\"name\":\"x\",\"seed\":-1,\"jobs\":[{\"id\":\"a\"}]}", "seed: must be between"},
    {"{\"name\":\"x\",\"mode\":\"fast\",\"jobs\":[{\"id\":\"a\"}]}", "mode: must be one of real, simulated"},
    {"{\"name\":\"x\",\"history\":\"none\",\"jobs\":[{\"id\":\"a\"}]}", "history: must be \"full\" in real mode"},
    {"{\"name\":\"x\",\"mode\":\"simulated\",\"history\":\"some\",\"jobs\":[{\"id\":\"a\"}]}",
     "history: must be one of full, failures, none"},
    {"{\"name\":\"x\",\"clock_speed\":0,\"jobs\":[{\"id\":\"a\"}]}", "clock_speed: must be between"},
    {"{\"name\":\"x\",\"clock_speed\":\"fast\",\"jobs\":[{\"id\":\"a\"}]}", "clock_speed: must be a number"},
    {"{\"name\":\"x\",\"stack\":{\"name\":\"a/b\"},\"jobs\":[{\"id\":\"a\"}]}", "stack.name: must be"},
    {"{\"name\":\"x\",\"stack\":[],\"jobs\":[{\"id\":\"a\"}]}", "stack: must be an object"},
    {"{\"name\":\"x\",\"fleet\":{\"max_instances\":0},\"jobs\":[{\"id\":\"a\"}]}", "fleet.max_instances: must be an integer"},
    {"{\"name\":\"x\",\"fleet\":{\"instance_types\":[]},\"jobs\":[{\"id\":\"a\"}]}", "fleet.instance_types: must be"},
    {"{\"name\":\"x\",\"fleet\":{\"instance_types\":[\"c5.large\",3]},\"jobs\":[{\"id\":\"a\"}]}",
     "fleet.instance_types[1]: must be an instance type"},
    {"{\"name\":\"x\",\"fleet\":{\"market\":\"cheap\"},\"jobs\":[{\"id\":\"a\"}]}", "fleet.market: must be one of"},
    {"{\"name\":\"x\",\"scaler\":{\"mode\":\"seed\",\"instances\":2},\"jobs\":[{\"id\":\"a\"}]}",
     "scaler.instances: only the fixed scaler"},
    {"{\"name\":\"x\",\"scaler\":{\"mode\":\"fixed\",\"instances\":9},\"jobs\":[{\"id\":\"a\"}]}",
     "scaler.instances: must be an integer between 0 and 4"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"},{}]}", "jobs[1].id: is required"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"},{\"id\":\"a\"}]}", "jobs[1]: duplicate job id 'a'"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a;rm -rf /\"}]}", "jobs[0].id: job id"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"retry\":-1}]}", "jobs[0].retry: must be an integer between 0 and 100"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"retry\":\"3\"}]}", "jobs[0].retry: must be an integer"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"via\":\"ftp\"}]}", "jobs[0].via: must be one of sqs, s3"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"start\":3}]}", "jobs[0].start: only a generator"},
    {"{\"name\":\"x\",\"jobs\":[{\"count\":2,\"id\":\"same\"}]}", "jobs[0].id: a generator's id must contain {i}"},
    {"{\"name\":\"x\",\"jobs\":[{\"count\":0}]}", "jobs: makes no job"},
    {"{\"name\":\"x\",\"jobs\":[{\"count\":2000000}]}", "jobs[0].count: must be an integer between 0 and 1000000"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"command\":\"true\",\"runtime\":3}]}",
     "jobs[0].command: a job with its own command takes no runtime"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"ssm_document\":\"AWS-RunPowerShellScript\"}]}",
     "jobs[0].ssm_document: only AWS-RunShellScript"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":-1}]}", "jobs[0].runtime: must be between 0 and"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"dist\":\"gamma\"}}]}", "jobs[0].runtime.dist: must be one of"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"mean\":3}}]}", "jobs[0].runtime.dist: is required"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"dist\":\"uniform\",\"min\":1}}]}",
     "jobs[0].runtime: the uniform distribution needs min and max"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"dist\":\"normal\",\"mean\":3}}]}",
     "jobs[0].runtime.stddev: is required by the normal distribution"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"dist\":\"exponential\",\"mean\":3,\"sigma\":1}}]}",
     "jobs[0].runtime.sigma: not a parameter of the exponential distribution"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\",\"runtime\":{\"dist\":\"uniform\",\"min\":5,\"max\":1}}]}",
     "jobs[0].runtime: min must not exceed max"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":{}}", "faults: must be an array"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"rate\":0.1}]}", "faults[0].type: is required"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"meteor\"}]}", "faults[0].type: must be one of"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"rate\":0.1},"
     "{\"type\":\"worker_crash\",\"rate\":1.5}]}",
     "faults[1].rate: must be between 0 and 1"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\"}]}",
     "faults[0]: needs either job (targeted) or rate"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"a\",\"rate\":0.1}]}",
     "faults[0]: needs either job (targeted) or rate, not both"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"b\"}]}",
     "faults[0].job: no job 'b'"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"a\",\"phase\":\"late\"}]}",
     "faults[0].phase: must be one of queued, started, running, finishing"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"a\",\"attempt\":0}]}",
     "faults[0].attempt: must be an integer between 1"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"spot_interruption\",\"job\":\"a\",\"interval\":5}]}",
     "faults[0].interval: only a rate-based fault takes it"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"worker_crash\",\"rate\":0.1,\"phase\":\"queued\"}]}",
     "faults[0].phase: only a targeted fault takes it"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"ssm_failure\",\"job\":\"a\",\"phase\":\"queued\"}]}",
     "faults[0].phase: unknown field"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"ssm_failure\",\"job\":\"a\",\"exit_code\":0}]}",
     "faults[0].exit_code: must be an integer between 1 and 255"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"nth\":1}]}",
     "faults[0].service: is required"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"service\":\"sns\",\"nth\":1}]}",
     "faults[0].service: must be one of"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"service\":\"sqs\"}]}",
     "faults[0]: needs either nth or rate"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"service\":\"sqs\",\"rate\":0.5,\"count\":2}]}",
     "faults[0].count: only an nth fault takes a count"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"service\":\"sqs\",\"nth\":1,\"error\":\"<x>\"}]}",
     "faults[0].error: must be throttling, 500, reset or an AWS error code"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"api_error\",\"service\":\"sqs\",\"nth\":1,\"operation\":\"a b\"}]}",
     "faults[0].operation: must be an operation name"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"latency\",\"service\":\"sqs\",\"nth\":1,\"error\":\"500\"}]}",
     "faults[0].error: unknown field"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"emulator_restart\"}]}",
     "faults[0].at: is required"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"emulator_restart\",\"at\":{}}]}",
     "faults[0].at: must hold exactly one of"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":[{\"type\":\"scheduler_kill\",\"at\":{\"fraction\":2}}]}",
     "faults[0].at.fraction: must be between 0 and 1"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"expect\":{\"status\":{\"Done\":1}}}", "expect.status.Done: unknown field"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"expect\":{\"jobs\":{\"b\":{}}}}", "expect.jobs.b: no such job"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"expect\":{\"jobs\":{\"a\":{\"status\":\"Ok\"}}}}",
     "expect.jobs.a.status: must be one of Successful, Failed, Started, Missing"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"expect\":{\"invariants\":{\"no_lost_jobs\":\"maybe\"}}}",
     "expect.invariants.no_lost_jobs: must be one of hold, break, any"},
    {"{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"expect\":{\"invariants\":{\"fast\":\"hold\"}}}",
     "expect.invariants.fast: unknown field"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct scenario s;
        char err[512] = "";
        int rc = load(bad[i].json, &s, err, sizeof err);
        if (rc != -1 || strncmp(err, bad[i].error, strlen(bad[i].error))) {
            print_error("case %zu: %s\n  want: %s\n  got (rc %d): %s\n", i, bad[i].json, bad[i].error, rc, err);
            fail();
        }
    }
}

static void test_set_overrides(void **state)
{
    (void)state;
    cJSON *doc = cJSON_Parse("{\"name\":\"x\",\"jobs\":[{\"id\":\"a\"}],\"faults\":["
                             "{\"type\":\"spot_interruption\",\"name\":\"spot\",\"rate\":0.1},"
                             "{\"type\":\"worker_crash\",\"rate\":0.2}]}");
    char err[256];
    assert_int_equal(scenario_set(doc, "faults.spot.rate", "0.05", err, sizeof err), 0);
    assert_int_equal(scenario_set(doc, "faults.worker_crash.rate", "0", err, sizeof err), 0);
    assert_int_equal(scenario_set(doc, "faults.1.interval", "30", err, sizeof err), 0);
    assert_int_equal(scenario_set(doc, "workflow", "hardened", err, sizeof err), 0);
    assert_int_equal(scenario_set(doc, "fleet.max_instances", "9", err, sizeof err), 0);
    assert_int_equal(scenario_set(doc, "faults.nope.rate", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "matches nothing"));
    assert_int_equal(scenario_set(doc, "name.x", "1", err, sizeof err), -1);
    struct scenario s;
    assert_int_equal(scenario_from_json(doc, 7, &s, err, sizeof err), 0);
    assert_true(s.faults[0].rate == 0.05);
    assert_true(s.faults[1].rate == 0);
    assert_true(s.faults[1].interval_s == 30);
    assert_string_equal(s.workflow, "hardened");
    assert_int_equal(s.max_instances, 9);
    assert_int_equal(s.seed, 7);
    scenario_free(&s);
}

/* The shipped scenario files all load. */
static void test_shipped_files(void **state)
{
    (void)state;
    const char *files[] = {"smoke.json", "blog-example.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024], err[512] = "";
        snprintf(path, sizeof path, "%s/scenarios/%s", DSS_SOURCE_DIR, files[i]);
        struct scenario s;
        if (scenario_load(path, -1, &s, err, sizeof err)) {
            print_error("%s\n", err);
            fail();
        }
        scenario_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),   cmocka_unit_test(test_full),
        cmocka_unit_test(test_generated_keyed_on_id), cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_set_overrides),      cmocka_unit_test(test_shipped_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
