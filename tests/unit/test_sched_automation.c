/* test_sched_automation.c -- the pure half of scheduler/automation.c: the settings parameter,
 * S3 event notifications turned into jobs (keys as S3 encodes them: '+' for space, %XX for
 * the rest), the events that are skipped, and the scaler's arithmetic. The loops themselves
 * run against the real emulator in tests/integration/test_automation.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "automation.h"

static const char SETTINGS[] =
    "{\"version\":1,\"bucket\":\"jobs-bucket\",\"events_queue\":\"st-s3-events\",\"trigger_suffix\":\".sh\","
    "\"retry\":3,\"success_string\":\"upload:\",\"working_dir\":\"$HOME/dss-work\",\"command_flavour\":\"shell\","
    "\"group\":\"st-autoscaling-group\",\"max_instances\":20}";

static struct automation_settings settings(void)
{
    struct automation_settings s;
    char err[256];
    assert_int_equal(automation_settings_parse(SETTINGS, &s, err, sizeof err), 0);
    return s;
}

/* Records what automation_decode_event reported. */
struct seen {
    int n;
    enum s3_event_verdict v[8];
    char key[8][512];
    cJSON *job[8];
};

static void collect(void *arg, enum s3_event_verdict v, const char *key, const cJSON *job)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    s->v[s->n] = v;
    snprintf(s->key[s->n], sizeof s->key[0], "%s", key ? key : "(null)");
    s->job[s->n] = job ? cJSON_Duplicate(job, 1) : NULL;
    s->n++;
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        cJSON_Delete(s->job[i]);
}

/* One ObjectCreated:Put record as S3 sends it, in a notification body. */
static char *event_body(const char *bucket, const char *key, const char *name)
{
    static char body[4096];
    snprintf(body, sizeof body,
             "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":\"us-east-1\","
             "\"eventTime\":\"2026-11-26T10:00:00.000Z\",\"eventName\":\"%s\",\"s3\":{\"s3SchemaVersion\":\"1.0\","
             "\"bucket\":{\"name\":\"%s\",\"arn\":\"arn:aws:s3:::%s\"},\"object\":{\"key\":\"%s\",\"size\":12}}}]}",
             name, bucket, bucket, key);
    return body;
}

static const char *command(const cJSON *job, int i)
{
    return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(job, "commands"), i));
}

static void test_settings(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    assert_string_equal(s.bucket, "jobs-bucket");
    assert_string_equal(s.events_queue, "st-s3-events");
    assert_string_equal(s.trigger_suffix, ".sh");
    assert_int_equal(s.retry, 3);
    assert_string_equal(s.success_string, "upload:");
    assert_string_equal(s.working_dir, "$HOME/dss-work");
    assert_string_equal(s.ssm_document, "AWS-RunShellScript");
    assert_string_equal(s.group, "st-autoscaling-group");
    assert_int_equal(s.max_instances, 20);

    char err[256];
    static const char *const bad[] = {
        "", "[]", "{\"version\":2}", "not json",
        "{\"version\":1,\"bucket\":\"b\",\"events_queue\":\"e\",\"trigger_suffix\":\"\",\"retry\":3,"
        "\"success_string\":\"x\",\"working_dir\":\"w\",\"command_flavour\":\"shell\",\"group\":\"g\",\"max_instances\":1}",
        "{\"version\":1,\"bucket\":\"b\",\"events_queue\":\"e\",\"trigger_suffix\":\".sh\",\"retry\":-1,"
        "\"success_string\":\"x\",\"working_dir\":\"w\",\"command_flavour\":\"shell\",\"group\":\"g\",\"max_instances\":1}",
        "{\"version\":1,\"bucket\":\"b\",\"events_queue\":\"e\",\"trigger_suffix\":\".sh\",\"retry\":3,"
        "\"success_string\":\"x\",\"working_dir\":\"w\",\"command_flavour\":\"cmd\",\"group\":\"g\",\"max_instances\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(automation_settings_parse(bad[i], &s, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* powershell flavour, and the success string may be empty (the check is then off) */
    assert_int_equal(
        automation_settings_parse("{\"version\":1,\"bucket\":\"b\",\"events_queue\":\"e\",\"trigger_suffix\":\".bat\","
                                  "\"retry\":\"2\",\"success_string\":\"\",\"working_dir\":\"C:\\\\work\","
                                  "\"command_flavour\":\"powershell\",\"group\":\"g\",\"max_instances\":5}",
                                  &s, err, sizeof err),
        0);
    assert_string_equal(s.ssm_document, "AWS-RunPowerShellScript");
    assert_int_equal(s.retry, 2);
}

/* The seed's seven commands, byte for byte, for an ordinary key. */
static void test_job_for_plain_key(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    struct seen seen = {0};
    int n = automation_decode_event(&s, event_body("jobs-bucket", "jobs/2026-11-26/jobId_7/run.sh", "ObjectCreated:Put"),
                                    collect, &seen);
    assert_int_equal(n, 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.v[0], S3_EVENT_JOB);
    const cJSON *job = seen.job[0];
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "job_id")), "jobs/2026-11-26/jobId_7/run.sh");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "retry")), "3");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "job_success_string")), "upload:");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "ssm_document")), "AWS-RunShellScript");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(job, "commands")), 7);
    assert_string_equal(command(job, 0), "mkdir $HOME/dss-work");
    assert_string_equal(command(job, 1), "cd $HOME/dss-work");
    assert_string_equal(command(job, 2), "sudo aws s3 sync s3://jobs-bucket/jobs/2026-11-26/jobId_7/ ./");
    assert_string_equal(command(job, 3), "sudo chmod +x $HOME/dss-work/run.sh");
    assert_string_equal(command(job, 4), "sudo $HOME/dss-work/run.sh");
    assert_string_equal(command(job, 5), "sudo aws s3 sync ./ s3://jobs-bucket/jobs/2026-11-26/jobId_7/");
    assert_string_equal(command(job, 6), "sudo rm $HOME/dss-work/*.*");
    seen_free(&seen);
}

/* '+' is a space, %2B a plus, %XX UTF-8; the shell sees each path as one quoted word. */
static void test_job_for_encoded_keys(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    struct seen seen = {0};
    automation_decode_event(&s, event_body("jobs-bucket", "my+jobs/caf%C3%A9+1/a%2Bb+it%27s.sh", "ObjectCreated:Put"),
                            collect, &seen);
    assert_int_equal(seen.v[0], S3_EVENT_JOB);
    assert_string_equal(seen.key[0], "my jobs/caf\xc3\xa9 1/a+b it's.sh");
    const cJSON *job = seen.job[0];
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "job_id")), "my jobs/caf\xc3\xa9 1/a+b it's.sh");
    assert_string_equal(command(job, 2), "sudo aws s3 sync 's3://jobs-bucket/my jobs/caf\xc3\xa9 1/' ./");
    assert_string_equal(command(job, 3), "sudo chmod +x $HOME/dss-work/'a+b it'\\''s.sh'");
    assert_string_equal(command(job, 4), "sudo $HOME/dss-work/'a+b it'\\''s.sh'");
    assert_string_equal(command(job, 5), "sudo aws s3 sync ./ 's3://jobs-bucket/my jobs/caf\xc3\xa9 1/'");
    seen_free(&seen);

    /* CompleteMultipartUpload and Copy are ObjectCreated too */
    memset(&seen, 0, sizeof seen);
    automation_decode_event(&s, event_body("jobs-bucket", "j/x.sh", "ObjectCreated:CompleteMultipartUpload"), collect,
                            &seen);
    assert_int_equal(seen.v[0], S3_EVENT_JOB);
    seen_free(&seen);
}

static void test_skipped_events(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    static const struct {
        const char *body;
        enum s3_event_verdict v;
    } cases[] = {
        {"{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\",\"Time\":\"2026-11-26T10:00:00.000Z\","
         "\"Bucket\":\"jobs-bucket\",\"RequestId\":\"1\",\"HostId\":\"2\"}",
         S3_EVENT_TEST},
        {"not json at all", S3_EVENT_BAD_BODY},
        {"{\"Records\":[]}", S3_EVENT_BAD_BODY},
        {"{\"job_id\":\"a\"}", S3_EVENT_BAD_BODY},
        {"", S3_EVENT_BAD_BODY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct seen seen = {0};
        assert_int_equal(automation_decode_event(&s, cases[i].body, collect, &seen), 0);
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.v[0], cases[i].v);
        assert_null(seen.job[0]);
    }
    static const struct {
        const char *bucket, *key, *name;
        enum s3_event_verdict v;
    } recs[] = {
        {"other-bucket", "j/x.sh", "ObjectCreated:Put", S3_EVENT_OTHER_BUCKET},
        {"jobs-bucket", "j/x.sh", "ObjectRemoved:Delete", S3_EVENT_NOT_S3},
        {"jobs-bucket", "j/x.output", "ObjectCreated:Put", S3_EVENT_WRONG_SUFFIX},
        {"jobs-bucket", "j/x.sh.txt", "ObjectCreated:Put", S3_EVENT_WRONG_SUFFIX},
        {"jobs-bucket", "j/x%ZZ.sh", "ObjectCreated:Put", S3_EVENT_BAD_KEY},   /* bad escape */
        {"jobs-bucket", "j/x%00.sh", "ObjectCreated:Put", S3_EVENT_BAD_KEY},   /* NUL */
        {"jobs-bucket", "j/x%FF%FE.sh", "ObjectCreated:Put", S3_EVENT_BAD_KEY}, /* not UTF-8 */
        {"jobs-bucket", "x.sh", "ObjectCreated:Put", S3_EVENT_BAD_KEY},        /* no folder of its own */
        {"jobs-bucket", "%2Fx.sh", "ObjectCreated:Put", S3_EVENT_BAD_KEY},     /* "/x.sh": empty folder */
    };
    for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
        struct seen seen = {0};
        assert_int_equal(automation_decode_event(&s, event_body(recs[i].bucket, recs[i].key, recs[i].name), collect,
                                                 &seen),
                         0);
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.v[0], recs[i].v);
        assert_null(seen.job[0]);
    }
    /* a record from another service */
    struct seen seen = {0};
    automation_decode_event(&s, "{\"Records\":[{\"eventSource\":\"aws:sqs\",\"body\":\"x\"}]}", collect, &seen);
    assert_int_equal(seen.v[0], S3_EVENT_NOT_S3);
}

/* Several records in one message: each judged on its own. */
static void test_several_records(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    const char *body =
        "{\"Records\":["
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"jobs-bucket\"},"
        "\"object\":{\"key\":\"a/1.sh\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"jobs-bucket\"},"
        "\"object\":{\"key\":\"a/1.input\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Copy\",\"s3\":{\"bucket\":{\"name\":\"jobs-bucket\"},"
        "\"object\":{\"key\":\"b/2.sh\"}}},"
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"jobs-bucket\"}}}"
        "]}";
    struct seen seen = {0};
    assert_int_equal(automation_decode_event(&s, body, collect, &seen), 2);
    assert_int_equal(seen.n, 4);
    assert_int_equal(seen.v[0], S3_EVENT_JOB);
    assert_string_equal(seen.key[0], "a/1.sh");
    assert_int_equal(seen.v[1], S3_EVENT_WRONG_SUFFIX);
    assert_int_equal(seen.v[2], S3_EVENT_JOB);
    assert_string_equal(seen.key[2], "b/2.sh");
    assert_int_equal(seen.v[3], S3_EVENT_BAD_KEY); /* no key at all */
    seen_free(&seen);
}

static void test_powershell_job(void **state)
{
    (void)state;
    struct automation_settings s = settings();
    snprintf(s.ssm_document, sizeof s.ssm_document, "AWS-RunPowerShellScript");
    snprintf(s.working_dir, sizeof s.working_dir, "C:\\work");
    cJSON *job = automation_build_job(&s, "jobs/o'k/run.bat");
    assert_non_null(job);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(job, "ssm_document")), "AWS-RunPowerShellScript");
    assert_string_equal(command(job, 2), "aws s3 sync 's3://jobs-bucket/jobs/o''k/' ./");
    assert_string_equal(command(job, 3), "& C:\\work/'run.bat'");
    cJSON_Delete(job);
    assert_null(automation_build_job(&s, "jobs/"));
    assert_null(automation_build_job(&s, "run.bat"));
}

static void test_scaler_arithmetic(void **state)
{
    (void)state;
    /* seed: min(visible, MaxSize); in-flight messages and running jobs do not count */
    assert_int_equal(scaler_desired(SCALER_SEED, 0, 0, 0, 20), 0);
    assert_int_equal(scaler_desired(SCALER_SEED, 7, 5, 3, 20), 7);
    assert_int_equal(scaler_desired(SCALER_SEED, 200, 0, 0, 20), 20);
    assert_int_equal(scaler_desired(SCALER_SEED, 0, 12, 12, 20), 0);
    /* inflight: visible + not visible + running, capped */
    assert_int_equal(scaler_desired(SCALER_INFLIGHT, 7, 5, 3, 20), 15);
    assert_int_equal(scaler_desired(SCALER_INFLIGHT, 0, 12, 12, 20), 20);
    assert_int_equal(scaler_desired(SCALER_INFLIGHT, 0, 0, 4, 20), 4);
    assert_int_equal(scaler_desired(SCALER_INFLIGHT, 0, 0, 0, 20), 0);
    /* odd inputs: negative counts as 0, MaxSize 0 keeps the group empty, off is 0 */
    assert_int_equal(scaler_desired(SCALER_INFLIGHT, -3, -1, -9, 20), 0);
    assert_int_equal(scaler_desired(SCALER_SEED, 50, 0, 0, 0), 0);
    assert_int_equal(scaler_desired(SCALER_SEED, 50, 0, 0, -1), 0);
    assert_int_equal(scaler_desired(SCALER_OFF, 50, 0, 0, 20), 0);

    enum scaler_mode m;
    assert_int_equal(scaler_mode_parse("inflight", &m), 0);
    assert_int_equal(m, SCALER_INFLIGHT);
    assert_int_equal(scaler_mode_parse("seed", &m), 0);
    assert_int_equal(m, SCALER_SEED);
    assert_int_equal(scaler_mode_parse("off", &m), 0);
    assert_int_equal(m, SCALER_OFF);
    assert_int_equal(scaler_mode_parse("Seed", &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),          cmocka_unit_test(test_job_for_plain_key),
        cmocka_unit_test(test_job_for_encoded_keys), cmocka_unit_test(test_skipped_events),
        cmocka_unit_test(test_several_records),   cmocka_unit_test(test_powershell_job),
        cmocka_unit_test(test_scaler_arithmetic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
