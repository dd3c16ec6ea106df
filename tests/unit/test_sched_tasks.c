/* test_sched_tasks.c -- each seed task function against a real dss-emulator, and the AWS client's
 * protocols and error parsing on the way (SQS JSON, DynamoDB, SSM JSON 1.1, EC2 and Auto Scaling
 * Query/XML).
 *
 * The group setup starts $DSS_BIN_DIR/dss-emulator on a free port (--ephemeral); the group
 * teardown stops it, also after a failed assertion. Every task runs through the engine as a
 * one-state machine, the way the seed workflow calls it; the hardened workflow's tasks likewise.
 * The client's retry of a connection reset uses the emulator's reset fault. Tests that need EC2
 * or SSM skip with a message when the emulator does not serve them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asl.h"
#include "clock.h"
#include "engine.h"
#include "child_emulator.h"
#include "runtime.h"
#include "tasks.h"

static struct runtime rt;
static struct task_env env;
static int have_ec2, have_ssm;
static char instance_id[64];

/* ---- synchronous calls for setup and checks ---- */

struct res {
    char error[256];
    cJSON *json;
    xmlDocPtr xml;
};

static void keep(void *arg, const struct aws_response *r)
{
    struct res *s = arg;
    if (r->error)
        snprintf(s->error, sizeof s->error, "%s", r->error);
    s->json = r->json ? cJSON_Duplicate(r->json, 1) : NULL;
    s->xml = r->xml ? xmlCopyDoc(r->xml, 1) : NULL;
}

static struct res json_call(const struct aws_service *svc, const char *op, const char *params)
{
    struct res s = {0};
    cJSON *p = cJSON_Parse(params);
    assert_non_null(p);
    assert_int_equal(runtime_call_json(&rt, svc, op, p, keep, &s), 0);
    return s;
}

static struct res query_call(const struct aws_service *svc, const char *action, const char *const *kv)
{
    struct res s = {0};
    struct aws_query q;
    aws_query_init(&q);
    for (int i = 0; kv && kv[i]; i += 2)
        aws_query_add(&q, kv[i], kv[i + 1]);
    assert_int_equal(runtime_call_query(&rt, svc, action, &q, keep, &s), 0);
    return s;
}

static void res_free(struct res *s)
{
    cJSON_Delete(s->json);
    xmlFreeDoc(s->xml);
}

static char *queue_url(const char *name)
{
    char p[256];
    snprintf(p, sizeof p, "{\"QueueName\":\"%s\"}", name);
    struct res r = json_call(&aws_sqs, "GetQueueUrl", p);
    assert_string_equal(r.error, "");
    char *u = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "QueueUrl")));
    res_free(&r);
    return u;
}

static void send_to(const char *queue, const char *body)
{
    char *url = queue_url(queue);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddStringToObject(p, "MessageBody", body);
    char *t = cJSON_PrintUnformatted(p);
    struct res r = json_call(&aws_sqs, "SendMessage", t);
    assert_string_equal(r.error, "");
    res_free(&r);
    free(t);
    cJSON_Delete(p);
    free(url);
}

/* Receives one message body from queue (malloc'd) or NULL. */
static char *receive_from(const char *queue)
{
    char *url = queue_url(queue);
    char p[1024];
    snprintf(p, sizeof p, "{\"QueueUrl\":\"%s\",\"MaxNumberOfMessages\":1,\"WaitTimeSeconds\":1}", url);
    struct res r = json_call(&aws_sqs, "ReceiveMessage", p);
    assert_string_equal(r.error, "");
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "Messages"), 0);
    char *body = m ? strdup(cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body"))) : NULL;
    if (m) {
        snprintf(p, sizeof p, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\"}", url,
                 cJSON_GetStringValue(cJSON_GetObjectItem(m, "ReceiptHandle")));
        struct res d = json_call(&aws_sqs, "DeleteMessage", p);
        res_free(&d);
    }
    res_free(&r);
    free(url);
    return body;
}

/* ---- running one task ---- */

struct outcome {
    int done, ok;
    char error[256], cause[1024];
    cJSON *out;
};

static void on_finish(void *arg, const char *name, int ok, const char *error, const char *cause, const cJSON *out)
{
    (void)name;
    struct outcome *o = arg;
    o->done = 1;
    o->ok = ok;
    snprintf(o->error, sizeof o->error, "%s", error ? error : "");
    snprintf(o->cause, sizeof o->cause, "%s", cause ? cause : "");
    o->out = out ? cJSON_Duplicate(out, 1) : NULL;
}

/* Runs task resource on input (JSON text) as a one-state machine (ResultPath $.r, optional
 * InputPath). Returns the outcome; o->out is the whole output. */
static struct outcome run_task(const char *resource, const char *input_path, const char *input)
{
    char def[512], err[512];
    snprintf(def, sizeof def,
             "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"Resource\":\"%s\",%s%s%s"
             "\"ResultPath\":\"$.r\",\"End\":true}}}",
             resource, input_path ? "\"InputPath\":\"" : "", input_path ? input_path : "", input_path ? "\"," : "");
    engine_set_resolver_table(seed_tasks, seed_ntasks);
    struct asl_machine *m = asl_load(def, strlen(def), engine_resolve, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    struct outcome o = {0};
    struct engine_options eo = {0};
    eo.on_finish = on_finish;
    eo.on_finish_arg = &o;
    struct engine *e = engine_new(m, seed_tasks, seed_ntasks, &env, rt.loop, NULL, &eo);
    env.engine = e;
    cJSON *in = cJSON_Parse(input);
    assert_non_null(in);
    assert_int_equal(engine_start(e, "t", NULL, in), 1);
    int rc = runtime_wait(&rt, &o.done, 60000);
    env.engine = NULL;
    engine_free(e);
    asl_free(m);
    if (rc)
        fail_msg("%s did not finish within 60 s", resource);
    return o;
}

static const char *result_str(struct outcome *o)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(o->out, "r"));
}

#define INPUT_FMT                                                                                                  \
    "{\"input\":{\"sqs_name\":\"st-job-queue\",\"sqs_name_out\":\"st-job-queue-finished\","                        \
    "\"sqs_name_failed\":\"st-job-queue-failed\",\"region\":\"us-east-1\",\"Timeout_Job\":1,"                       \
    "\"instance_id\":\"%s\",\"autoscaling_group\":\"%s\",\"table\":\"st-job-monitoring\"}%s}"

static char *doc(const char *group, const char *extra)
{
    size_t n = 1024 + (extra ? strlen(extra) : 0);
    char *s = malloc(n);
    snprintf(s, n, INPUT_FMT, instance_id[0] ? instance_id : "i-00000000000000000", group, extra ? extra : "");
    return s;
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    struct aws_client_options opt = {2, 8, 30000};
    if (start_emulator_runtime(&rt, &opt))
        return -1;
    env = (struct task_env){rt.aws, rt.loop, NULL, 0.2, 100, NULL, 0};
    /* What the emulator serves. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "curl -s %s/_dss/health", endpoint);
    FILE *p = popen(cmd, "r");
    char health[2048] = "";
    if (p) {
        size_t n = fread(health, 1, sizeof health - 1, p);
        health[n] = '\0';
        pclose(p);
    }
    have_ec2 = strstr(health, "\"ec2\"") && strstr(health, "\"autoscaling\"");
    have_ssm = strstr(health, "\"ssm\"") != NULL;
    if (have_ec2) {
        /* Boot and status checks in a fraction of a second rather than 10 s + 20 s. */
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -X POST '%s/_dss/settings?boot_ms=200&status_ms=300'", endpoint);
        if (system(cmd) != 0)
            fprintf(stderr, "could not shorten the emulator's boot delay\n");
    }
    static const char *const queues[] = {"st-job-queue", "st-job-queue-finished", "st-job-queue-failed"};
    for (int i = 0; i < 3; i++) {
        char q[128];
        snprintf(q, sizeof q, "{\"QueueName\":\"%s\"}", queues[i]);
        struct res r = json_call(&aws_sqs, "CreateQueue", q);
        if (r.error[0])
            return -1;
        res_free(&r);
    }
    struct res r = json_call(&aws_dynamodb, "CreateTable",
                             "{\"TableName\":\"st-job-monitoring\",\"AttributeDefinitions\":[{\"AttributeName\":"
                             "\"job_id\",\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":\"job_id\","
                             "\"KeyType\":\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}");
    if (r.error[0])
        return -1;
    res_free(&r);
    if (have_ec2) {
        static const char *const kv[] = {"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1",
                                         "InstanceType", "t3.micro", NULL};
        struct res ri = query_call(&aws_ec2, "RunInstances", kv);
        if (ri.error[0]) {
            fprintf(stderr, "RunInstances: %s\n", ri.error);
            return -1;
        }
        aws_xml_text(xmlDocGetRootElement(ri.xml), "instancesSet/item/instanceId", instance_id, sizeof instance_id);
        res_free(&ri);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    task_env_cleanup(&env);
    runtime_cleanup(&rt);
    stop_emulator();
    return 0;
}

#define NEED(flag, what)                                                                                           \
    do {                                                                                                           \
        if (!(flag)) {                                                                                             \
            fprintf(stderr, "SKIPPED: the emulator does not serve %s yet\n", what);                               \
            skip();                                                                                                \
        }                                                                                                          \
    } while (0)

/* ---- the client itself ---- */

static void test_client_errors(void **state)
{
    (void)state;
    struct res r = json_call(&aws_sqs, "GetQueueUrl", "{\"QueueName\":\"no-such-queue\"}");
    assert_string_equal(r.error, "AWS.SimpleQueueService.NonExistentQueue");
    res_free(&r);
    r = json_call(&aws_dynamodb, "DescribeTable", "{\"TableName\":\"no-such-table\"}");
    assert_string_equal(r.error, "ResourceNotFoundException");
    res_free(&r);
    if (have_ec2) {
        static const char *const kv[] = {"InstanceId.1", "i-0000000000000dead", NULL};
        r = query_call(&aws_ec2, "DescribeInstances", kv);
        assert_string_equal(r.error, "InvalidInstanceID.NotFound");
        res_free(&r);
    }
}

static void test_client_network_error_names_the_url(void **state)
{
    (void)state;
    /* A port nobody listens on: bounded retries, then NetworkError naming URL and setting. */
    setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9", 1);
    struct runtime r2;
    char err[256];
    struct aws_client_options opt = {2, 4, 5000};
    sched_clock_virtual(sched_now_ms()); /* the retry delay passes without real time */
    assert_int_equal(runtime_init(&r2, &opt, err, sizeof err), 0);
    struct res s = {0};
    assert_int_equal(runtime_call_json(&r2, &aws_sqs, "ListQueues", cJSON_CreateObject(), keep, &s), 0);
    sched_clock_set(NULL, NULL);
    unsetenv("AWS_ENDPOINT_URL_SQS");
    assert_string_equal(s.error, "NetworkError");
    assert_int_equal(aws_client_sent(r2.aws), 2);
    runtime_cleanup(&r2);
    res_free(&s);
}

/* ---- the tasks ---- */

static void test_getjob_deletejob_extractjob(void **state)
{
    (void)state;
    char *in = doc("nothing", NULL);
    struct outcome o = run_task("GetJob", NULL, in);
    assert_false(o.ok);
    assert_string_equal(o.error, "QueueEmpty");

    send_to("st-job-queue", "{\"job_id\":\"j1\",\"retry\":\"3\",\"job_success_string\":\"Hello\","
                            "\"ssm_document\":\"AWS-RunShellScript\",\"commands\":[\"echo Hello World\"]}");
    o = run_task("GetJob", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON *raw = cJSON_DetachItemFromObject(o.out, "r");
    cJSON_Delete(o.out);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(raw, "Messages"), 0), "ReceiptHandle"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(raw, "Messages"), 0),
                                                            "Attributes"),
                                        "SentTimestamp"));

    /* ExtractJob reads InputPath $.raw_message. */
    char *rawtext = cJSON_PrintUnformatted(raw);
    char extra[4096];
    assert_true(strlen(rawtext) < 4000);
    snprintf(extra, sizeof extra, ",\"raw_message\":%s", rawtext);
    char *in2 = doc("nothing", extra);
    o = run_task("ExtractJob", "$.raw_message", in2);
    assert_true(o.ok);
    cJSON *jd = cJSON_GetObjectItem(o.out, "r");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(jd, "job_id")), "j1");
    assert_int_equal(cJSON_GetObjectItem(jd, "re_run")->valueint, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(jd, "retry")), "3");
    cJSON_Delete(o.out);

    o = run_task("DeleteJob", NULL, in2);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON_Delete(o.out);
    /* Deleted: after the 5 s visibility timeout nothing comes back; check right away too. */
    o = run_task("GetJob", NULL, in);
    assert_string_equal(o.error, "QueueEmpty");
    free(rawtext);
    free(in2);
    free(in);
    cJSON_Delete(raw);
}

static void test_extractjob_malformed(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "not json", "[1,2]", "{\"job_id\":\"x\"}",
        "{\"job_id\":\"x\",\"retry\":1,\"job_success_string\":\"\",\"ssm_document\":\"d\",\"commands\":\"echo\"}",
        "{\"job_id\":\"x\",\"retry\":[],\"job_success_string\":\"\",\"ssm_document\":\"d\",\"commands\":[]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        cJSON *raw = cJSON_CreateObject();
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "Body", bodies[i]);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(raw, "Messages"), m);
        char *t = cJSON_PrintUnformatted(raw);
        char extra[4096];
        snprintf(extra, sizeof extra, ",\"raw_message\":%s", t);
        char *in = doc("nothing", extra);
        struct outcome o = run_task("ExtractJob", "$.raw_message", in);
        assert_false(o.ok);
        assert_string_equal(o.error, "MalformedJob");
        free(in);
        free(t);
        cJSON_Delete(raw);
    }
}

static void test_dynamodb_record(void **state)
{
    (void)state;
    char *in = doc("nothing", ",\"status\":\"Failed\",\"job_details\":{\"job_id\":\"rec1\",\"retry\":3,"
                              "\"job_success_string\":\"x\",\"ssm_document\":\"AWS-RunShellScript\","
                              "\"commands\":[\"echo a\",\"echo b\"],\"re_run\":2},"
                              "\"jobstatus\":[\"failed\",{\"StandardOutputContent\":\"out\\n\"}]");
    struct outcome o = run_task("DynamoDB", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON_Delete(o.out);
    struct res r = json_call(&aws_dynamodb, "GetItem",
                             "{\"TableName\":\"st-job-monitoring\",\"Key\":{\"job_id\":{\"S\":\"rec1\"}}}");
    cJSON *item = cJSON_GetObjectItem(r.json, "Item");
#define S_OF(n) cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, n), "S"))
    assert_string_equal(S_OF("Status"), "Failed");
    assert_string_equal(S_OF("Retries"), "2 of 3");
    assert_string_equal(S_OF("Commands"), "['echo a', 'echo b']");
    assert_string_equal(S_OF("Output_Logs"), "out\n");
    assert_string_equal(S_OF("SSM_Document"), "AWS-RunShellScript");
    res_free(&r);
    free(in);
    /* Without a jobstatus (WriteJobStart), Output_Logs is "null". */
    in = doc("nothing", ",\"status\":\"Started\",\"job_details\":{\"job_id\":\"rec2\",\"retry\":\"1\","
                        "\"job_success_string\":\"x\",\"ssm_document\":\"d\",\"commands\":[],\"re_run\":0}");
    o = run_task("DynamoDB", NULL, in);
    assert_true(o.ok);
    cJSON_Delete(o.out);
    r = json_call(&aws_dynamodb, "GetItem", "{\"TableName\":\"st-job-monitoring\",\"Key\":{\"job_id\":{\"S\":\"rec2\"}}}");
    item = cJSON_GetObjectItem(r.json, "Item");
    assert_string_equal(S_OF("Output_Logs"), "null");
    assert_string_equal(S_OF("Retries"), "0 of 1");
    res_free(&r);
    free(in);
    /* A missing table is an error a Catch can match. */
    in = strdup("{\"input\":{\"table\":\"nope\"},\"status\":\"Started\",\"job_details\":{\"job_id\":\"z\"}}");
    o = run_task("DynamoDB", NULL, in);
    assert_false(o.ok);
    assert_string_equal(o.error, "ResourceNotFoundException");
    free(in);
}

static void test_confirmresult(void **state)
{
    (void)state;
    static const struct {
        const char *want, *result;
    } cases[] = {{"Hello", "success"}, {"Hello EVERYONE", "fail"}, {"", "success"}, {" ", "success"},
                 {"success", "success"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char extra[1024];
        snprintf(extra, sizeof extra,
                 ",\"job_details\":{\"job_success_string\":\"%s\"},"
                 "\"jobstatus\":[\"success\",{\"StandardOutputContent\":\"Hello World\\n\"}]",
                 cases[i].want);
        char *in = doc("nothing", extra);
        struct outcome o = run_task("ConfirmResult", NULL, in);
        assert_true(o.ok);
        assert_string_equal(result_str(&o), cases[i].result);
        cJSON_Delete(o.out);
        free(in);
    }
    /* The quirk: CheckJob's exception answer ["success","null"] passes a blank success string. */
    char *in = doc("nothing", ",\"job_details\":{\"job_success_string\":\" \"},\"jobstatus\":[\"success\",\"null\"]");
    struct outcome o = run_task("ConfirmResult", NULL, in);
    assert_string_equal(result_str(&o), "success");
    cJSON_Delete(o.out);
    free(in);
}

static void test_addsqs_sqsout_failedjob_sqscheck(void **state)
{
    (void)state;
    free(receive_from("st-job-queue"));
    char *in = doc("nothing", NULL);
    struct outcome o = run_task("SQSCheck", NULL, in);
    assert_true(o.ok);
    assert_string_equal(result_str(&o), "Zero");
    cJSON_Delete(o.out);
    free(in);

    in = doc("nothing", ",\"job_details\":{\"job_id\":\"a1\",\"retry\":\"3\",\"re_run\":3}");
    o = run_task("AddSQS", NULL, in);
    assert_string_equal(result_str(&o), "NoRetries");
    cJSON_Delete(o.out);
    free(in);

    in = doc("nothing", ",\"job_details\":{\"job_id\":\"a1\",\"retry\":\"3\",\"re_run\":1}");
    o = run_task("AddSQS", NULL, in);
    assert_true(o.ok);
    assert_string_not_equal(result_str(&o), "NoRetries");
    cJSON_Delete(o.out);
    free(in);
    in = doc("nothing", NULL);
    o = run_task("SQSCheck", NULL, in);
    assert_string_equal(result_str(&o), "NotZero");
    cJSON_Delete(o.out);
    free(in);
    char *body = receive_from("st-job-queue");
    assert_non_null(body);
    cJSON *b = cJSON_Parse(body);
    assert_int_equal(cJSON_GetObjectItem(b, "re_run")->valueint, 2);
    cJSON_Delete(b);
    free(body);

    in = doc("nothing", ",\"job_details\":{\"job_id\":\"out1\",\"retry\":\"0\",\"re_run\":0}");
    o = run_task("SQSOut", NULL, in);
    assert_true(o.ok);
    cJSON_Delete(o.out);
    free(in);
    body = receive_from("st-job-queue-finished");
    assert_non_null(body);
    assert_non_null(strstr(body, "\"out1\""));
    free(body);

    in = doc("nothing", ",\"raw_message\":{\"Messages\":[{\"Body\":\"not json at all\"}]},"
                        "\"job_details\":{\"Error\":\"MalformedJob\",\"Cause\":\"bad\"}");
    o = run_task("FailedJob", NULL, in);
    assert_true(o.ok);
    cJSON_Delete(o.out);
    free(in);
    body = receive_from("st-job-queue-failed");
    assert_string_equal(body, "not json at all");
    free(body);

    /* A missing queue: the AWS error name reaches the state machine. */
    in = strdup("{\"input\":{\"sqs_name\":\"no-such-queue\"}}");
    o = run_task("SQSCheck", NULL, in);
    assert_false(o.ok);
    assert_string_equal(o.error, "AWS.SimpleQueueService.NonExistentQueue");
    free(in);
}

static void test_protectec2(void **state)
{
    (void)state;
    char *in = doc("nothing", ",\"protect\":\"True\"");
    struct outcome o = run_task("ProtectEC2", NULL, in);
    assert_string_equal(result_str(&o), "200");
    cJSON_Delete(o.out);
    free(in);
    NEED(have_ec2, "Auto Scaling");
    in = doc("no-such-group", ",\"protect\":\"True\"");
    o = run_task("ProtectEC2", NULL, in);
    assert_false(o.ok);
    assert_true(strlen(o.error) > 0);
    free(in);
}

/* The text at path in the Auto Scaling answer to action (one parameter pair), into out. */
static void asg_text(const char *action, const char *key, const char *value, const char *path, char *out, size_t n)
{
    const char *kv[] = {key, value, NULL};
    struct res r = query_call(&aws_autoscaling, action, kv);
    assert_string_equal(r.error, "");
    out[0] = '\0';
    aws_xml_text(xmlDocGetRootElement(r.xml), path, out, n);
    res_free(&r);
}

/* ProtectEC2 and FinalTerminate on an instance of a real Auto Scaling group: protection set and
 * cleared on the instance, then TerminateInstanceInAutoScalingGroup with the desired capacity
 * decremented (the seed's path when the instance has the aws:autoscaling:groupName tag). */
static void test_protect_and_terminate_in_group(void **state)
{
    (void)state;
    NEED(have_ec2, "Auto Scaling");
    static const char *const lt[] = {"LaunchTemplateName", "st-lt", "LaunchTemplateData.ImageId", "ami-12345678",
                                     "LaunchTemplateData.InstanceType", "t3.micro", NULL};
    struct res r = query_call(&aws_ec2, "CreateLaunchTemplate", lt);
    assert_string_equal(r.error, "");
    res_free(&r);
    static const char *const grp[] = {"AutoScalingGroupName", "st-group", "LaunchTemplate.LaunchTemplateName", "st-lt",
                                      "LaunchTemplate.Version", "$Latest", "MinSize", "0", "MaxSize", "2",
                                      "DesiredCapacity", "1", "AvailabilityZones.member.1", "us-east-1a", NULL};
    r = query_call(&aws_autoscaling, "CreateAutoScalingGroup", grp);
    assert_string_equal(r.error, "");
    res_free(&r);
    char id[64] = "", lifecycle[64] = "";
    for (int i = 0; i < 300 && strcmp(lifecycle, "InService") != 0; i++) {
        int never = 0;
        runtime_wait(&rt, &never, 200);
        asg_text("DescribeAutoScalingGroups", "AutoScalingGroupNames.member.1", "st-group",
                 "DescribeAutoScalingGroupsResult/AutoScalingGroups/member/Instances/member/LifecycleState", lifecycle,
                 sizeof lifecycle);
    }
    assert_string_equal(lifecycle, "InService");
    asg_text("DescribeAutoScalingGroups", "AutoScalingGroupNames.member.1", "st-group",
             "DescribeAutoScalingGroupsResult/AutoScalingGroups/member/Instances/member/InstanceId", id, sizeof id);

    char in[2048], prot[16];
    static const char *const flags[] = {"True", "true", "False", "false"};
    for (int k = 0; k < 4; k += 2) {
        char extra[64];
        snprintf(extra, sizeof extra, ",\"protect\":\"%s\"", flags[k]);
        snprintf(in, sizeof in, INPUT_FMT, id, "st-group", extra);
        struct outcome o = run_task("ProtectEC2", NULL, in);
        if (!o.ok)
            fail_msg("%s: %s", o.error, o.cause);
        assert_string_equal(result_str(&o), "200");
        cJSON_Delete(o.out);
        asg_text("DescribeAutoScalingInstances", "InstanceIds.member.1", id,
                 "DescribeAutoScalingInstancesResult/AutoScalingInstances/member/ProtectedFromScaleIn", prot,
                 sizeof prot);
        assert_string_equal(prot, flags[k + 1]);
    }

    snprintf(in, sizeof in, INPUT_FMT, id, "st-group", "");
    struct outcome o = run_task("FinalTerminate", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o.out, "r"), "via")),
                        "autoscaling");
    cJSON_Delete(o.out);
    char desired[16];
    asg_text("DescribeAutoScalingGroups", "AutoScalingGroupNames.member.1", "st-group",
             "DescribeAutoScalingGroupsResult/AutoScalingGroups/member/DesiredCapacity", desired, sizeof desired);
    assert_string_equal(desired, "0");
    static const char *const del[] = {"AutoScalingGroupName", "st-group", "ForceDelete", "true", NULL};
    r = query_call(&aws_autoscaling, "DeleteAutoScalingGroup", del);
    assert_string_equal(r.error, "");
    res_free(&r);
}

static void test_waitec2_startjob_checkjob_terminate(void **state)
{
    (void)state;
    NEED(have_ec2 && have_ssm, "EC2 and SSM");
    char *in = doc("nothing", NULL);
    struct outcome o = run_task("WaitEC2", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON *r = cJSON_GetObjectItem(o.out, "r");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "instance_id")), instance_id);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "request_id")), "null");
    cJSON_Delete(o.out);
    free(in);

    in = doc("nothing", ",\"job_details\":{\"job_id\":\"run1\",\"ssm_document\":\"AWS-RunShellScript\","
                        "\"commands\":[\"echo Hello World\"]}");
    o = run_task("StartJob", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "%s", result_str(&o));
    assert_true(strlen(cmd) > 0);
    cJSON_Delete(o.out);
    free(in);

    char extra[256];
    snprintf(extra, sizeof extra, ",\"CommandId\":\"%s\"", cmd);
    in = doc("nothing", extra);
    const char *state_name = NULL;
    for (int i = 0; i < 100; i++) {
        o = run_task("CheckJob", NULL, in);
        assert_true(o.ok);
        state_name = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(o.out, "r"), 0));
        if (strcmp(state_name, "pending") != 0)
            break;
        cJSON_Delete(o.out);
        o.out = NULL;
        int t = 0;
        runtime_wait(&rt, &t, 200);
    }
    assert_string_equal(state_name, "success");
    cJSON *inv = cJSON_GetArrayItem(cJSON_GetObjectItem(o.out, "r"), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(inv, "StandardOutputContent")), "Hello World\n");
    cJSON_Delete(o.out);
    free(in);

    /* The exception path: an unknown command reads as success with "null". */
    in = doc("nothing", ",\"CommandId\":\"00000000-0000-0000-0000-000000000000\"");
    o = run_task("CheckJob", NULL, in);
    cJSON *res = cJSON_GetObjectItem(o.out, "r");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(res, 0)), "success");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(res, 1)), "null");
    cJSON_Delete(o.out);
    free(in);

    /* Not in an Auto Scaling group: falls back to TerminateInstances. */
    in = doc("nothing", NULL);
    o = run_task("FinalTerminate", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o.out, "r"), "via")), "ec2");
    cJSON_Delete(o.out);
    free(in);
    static const char *const kv[] = {"InstanceId.1", NULL, NULL};
    const char *kv2[] = {kv[0], instance_id, NULL};
    struct res d = query_call(&aws_ec2, "DescribeInstances", kv2);
    char st[32] = "";
    aws_xml_text(xmlDocGetRootElement(d.xml), "reservationSet/item/instancesSet/item/instanceState/name", st, sizeof st);
    assert_true(strcmp(st, "shutting-down") == 0 || strcmp(st, "terminated") == 0);
    res_free(&d);
}

static void arm_error(const char *service, const char *op, const char *error, int count);

/* boto3's instance_status_ok waiter, like instance_running, retries InvalidInstanceID.NotFound
 * (EC2 is eventually consistent): one such answer to DescribeInstanceStatus is waited out. */
static void test_waitec2_status_not_found_is_retried(void **state)
{
    (void)state;
    NEED(have_ec2, "EC2");
    arm_error("ec2", "DescribeInstanceStatus", "InvalidInstanceID.NotFound", 1);
    char *in = doc("nothing", NULL);
    struct outcome o = run_task("WaitEC2", NULL, in);
    free(in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON_Delete(o.out);
}

static void test_waitec2_unknown_instance(void **state)
{
    (void)state;
    NEED(have_ec2, "EC2");
    env.waiter_max_attempts = 3;
    struct outcome o = run_task("WaitEC2", NULL, "{\"input\":{\"instance_id\":\"i-0000000000000dead\"}}");
    env.waiter_max_attempts = 100;
    assert_false(o.ok);
    assert_string_equal(o.error, "WaiterError");
}

static void test_missing_field_is_keyerror(void **state)
{
    (void)state;
    struct outcome o = run_task("GetJob", NULL, "{\"input\":{}}");
    assert_false(o.ok);
    assert_string_equal(o.error, "KeyError");
    assert_non_null(strstr(o.cause, "sqs_name"));
}

/* ---- the hardened workflow's tasks ---- */

/* The hardened workflow loads with this task table (every Resource is one of ours), starts
 * with its Settings and names its settings' visibility timeout. */
static void test_hardened_workflow_loads(void **state)
{
    (void)state;
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/fixtures/workflows/hardened.asl.json", DSS_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    engine_set_resolver_table(seed_tasks, seed_ntasks);
    struct asl_machine *m = asl_load(text, n, engine_resolve, err, sizeof err);
    if (!m)
        fail_msg("%s: %s", path, err);
    asl_free(m);
    cJSON *def = cJSON_Parse(text);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(def, "StartAt")), "Settings");
    cJSON *vt = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(def, "States"),
                                                                            "Settings"), "Result"),
                                    "visibility_timeout");
    assert_true(cJSON_IsNumber(vt) && vt->valuedouble >= 60);
    /* No state deletes the message before the outcome is recorded: DeleteJob's only
     * predecessors are SQSOut, FailedJob and the retry decision. */
    static const char *const before_delete[] = {"SQSOut", "FailedJob", "YesNoRetryFinished"};
    cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItem(def, "States"))
    {
        const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(st, "Next"));
        const char *dflt = cJSON_GetStringValue(cJSON_GetObjectItem(st, "Default"));
        if ((next && !strcmp(next, "DeleteJob")) || (dflt && !strcmp(dflt, "DeleteJob"))) {
            int known = 0;
            for (size_t i = 0; i < 3; i++)
                known |= !strcmp(st->string, before_delete[i]);
            if (!known)
                fail_msg("state %s leads to DeleteJob", st->string);
        }
    }
    cJSON_Delete(def);
}


static void test_hardened_command_state(void **state)
{
    (void)state;
    static const struct {
        const char *status, *details, *want;
    } cases[] = {
        {"Pending", "Pending", "pending"},       {"InProgress", "InProgress", "pending"},
        {"Delayed", "Delayed", "pending"},       {"Cancelling", "Cancelling", "pending"},
        {"Success", "Success", "success"},       {"Failed", "Failed", "failed"},
        {"TimedOut", "Execution Timed Out", "failed"}, {"Cancelled", "Cancelled", "failed"},
        {"Failed", "Undeliverable", "lost"},     {"Failed", "Terminated", "lost"},
        {"TimedOut", "Delivery Timed Out", "lost"}, {"Whatever", NULL, "lost"},
        {NULL, NULL, "lost"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_string_equal(hardened_command_state(cases[i].status, cases[i].details), cases[i].want);
}

static void test_confirmoutput(void **state)
{
    (void)state;
    static const struct {
        const char *want, *status, *cmd, *inst;
        int code;
        const char *result;
    } cases[] = {
        {"Hello", "Success", "c1", NULL, 0, "success"},
        {"Hello EVERYONE", "Success", "c1", NULL, 0, "fail"},
        {" ", "Success", "c1", NULL, 0, "success"},        /* blank: exit code 0 is enough */
        {"", "Success", "c1", NULL, 2, "fail"},             /* ... and needed */
        {"Hello", "Failed", "c1", NULL, 0, "fail"},
        {"Hello", "Success", "c2", NULL, 0, "fail"},        /* another command's invocation */
        {"Hello", "Success", "c1", "i-0other", 0, "fail"},  /* another instance's */
        {"success", "Success", "c1", NULL, 0, "fail"},      /* not in the status value's text */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char extra[1024];
        snprintf(extra, sizeof extra,
                 ",\"CommandId\":\"c1\",\"job_details\":{\"job_success_string\":\"%s\"},"
                 "\"jobstatus\":[\"success\",{\"CommandId\":\"%s\",\"InstanceId\":\"%s\",\"Status\":\"%s\","
                 "\"ResponseCode\":%d,\"StandardOutputContent\":\"Hello World\\n\"}]",
                 cases[i].want, cases[i].cmd, cases[i].inst ? cases[i].inst
                                                             : instance_id[0] ? instance_id : "i-00000000000000000",
                 cases[i].status, cases[i].code);
        char *in = doc("nothing", extra);
        struct outcome o = run_task("ConfirmOutput", NULL, in);
        assert_true(o.ok);
        if (strcmp(result_str(&o), cases[i].result))
            fail_msg("case %zu: %s, want %s", i, result_str(&o), cases[i].result);
        cJSON_Delete(o.out);
        free(in);
    }
    /* The seed's exception answer is never a success, even with a blank success string. */
    char *in = doc("nothing", ",\"CommandId\":\"c1\",\"job_details\":{\"job_success_string\":\" \"},"
                              "\"jobstatus\":[\"success\",\"null\"]");
    struct outcome o = run_task("ConfirmOutput", NULL, in);
    assert_string_equal(result_str(&o), "fail");
    cJSON_Delete(o.out);
    free(in);
}

/* GetJob with a settings visibility timeout, KeepJob, ReleaseJob and SQSCheckInFlight on one
 * message. */
static void test_keepjob_releasejob_inflight(void **state)
{
    (void)state;
    free(receive_from("st-job-queue"));
    free(receive_from("st-job-queue"));
    send_to("st-job-queue", "{\"job_id\":\"held\"}");
    char *in = doc("nothing", ",\"settings\":{\"visibility_timeout\":600}");
    struct outcome o = run_task("GetJob", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    char *raw = cJSON_PrintUnformatted(cJSON_GetObjectItem(o.out, "r"));
    cJSON_Delete(o.out);
    free(in);
    char extra[4096];
    assert_true(strlen(raw) < 3900);
    snprintf(extra, sizeof extra, ",\"settings\":{\"visibility_timeout\":600},\"raw_message\":%s", raw);
    char *held = doc("nothing", extra);

    /* Received, held for 600 s: nothing visible, one in flight. */
    o = run_task("SQSCheckInFlight", NULL, held);
    assert_true(o.ok);
    assert_string_equal(result_str(&o), "InFlight");
    cJSON_Delete(o.out);
    o = run_task("SQSCheck", NULL, held); /* the seed's check misses it */
    assert_string_equal(result_str(&o), "Zero");
    cJSON_Delete(o.out);
    o = run_task("KeepJob", NULL, held);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    assert_string_equal(result_str(&o), "200");
    cJSON_Delete(o.out);
    o = run_task("GetJob", NULL, held);
    assert_string_equal(o.error, "QueueEmpty");

    /* Released: visible again at once, the same message. */
    o = run_task("ReleaseJob", NULL, held);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON_Delete(o.out);
    o = run_task("SQSCheckInFlight", NULL, held);
    assert_string_equal(result_str(&o), "NotZero");
    cJSON_Delete(o.out);
    char *body = receive_from("st-job-queue");
    assert_non_null(body);
    assert_string_equal(body, "{\"job_id\":\"held\"}");
    free(body);
    o = run_task("SQSCheckInFlight", NULL, held);
    assert_string_equal(result_str(&o), "Zero");
    cJSON_Delete(o.out);

    /* A receipt handle that no longer holds anything is an error the Catch sees. */
    o = run_task("KeepJob", NULL, held);
    assert_false(o.ok);
    assert_true(strlen(o.error) > 0);
    free(held);
    free(raw);
}

/* An instance of its own: CheckInstance ok, CheckCommand on a failing and a succeeding command,
 * ConfirmOutput on the real invocation, then gone after TerminateInstances. */
static void test_checkinstance_checkcommand(void **state)
{
    (void)state;
    NEED(have_ec2 && have_ssm, "EC2 and SSM");
    static const char *const kv[] = {"ImageId", "ami-12345678", "MinCount", "1", "MaxCount", "1",
                                     "InstanceType", "t3.micro", NULL};
    struct res ri = query_call(&aws_ec2, "RunInstances", kv);
    assert_string_equal(ri.error, "");
    char id[64] = "";
    aws_xml_text(xmlDocGetRootElement(ri.xml), "instancesSet/item/instanceId", id, sizeof id);
    res_free(&ri);
    char base[256];
    snprintf(base, sizeof base, "{\"input\":{\"instance_id\":\"%s\",\"table\":\"st-job-monitoring\"}", id);
    char in[2048];
    snprintf(in, sizeof in, "%s}", base);
    struct outcome o = run_task("WaitEC2", NULL, in);
    if (!o.ok)
        fail_msg("%s: %s", o.error, o.cause);
    cJSON_Delete(o.out);
    o = run_task("CheckInstance", NULL, in);
    assert_true(o.ok);
    assert_string_equal(result_str(&o), "ok");
    cJSON_Delete(o.out);

    static const struct {
        const char *command, *want_state, *success_string, *confirm;
    } cmds[] = {{"echo partial; exit 3", "failed", "partial", "fail"}, {"echo all done", "success", "done", "success"}};
    for (size_t k = 0; k < 2; k++) {
        snprintf(in, sizeof in,
                 "%s,\"job_details\":{\"job_id\":\"cc%zu\",\"ssm_document\":\"AWS-RunShellScript\","
                 "\"commands\":[\"%s\"],\"job_success_string\":\"%s\"}}",
                 base, k, cmds[k].command, cmds[k].success_string);
        /* Status checks pass before the instance's agent (its worker process) has registered
         * on a loaded machine: SendCommand answers InvalidInstanceId until it has. */
        for (int i = 0; i < 240; i++) {
            o = run_task("StartJob", NULL, in);
            if (o.ok || strcmp(o.error, "InvalidInstanceId"))
                break;
            int t = 0;
            runtime_wait(&rt, &t, 250);
        }
        if (!o.ok)
            fail_msg("%s: %s", o.error, o.cause);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "%s", result_str(&o));
        cJSON_Delete(o.out);
        in[strlen(in) - 1] = '\0';
        char *p = in + strlen(in);
        snprintf(p, sizeof in - (size_t)(p - in), ",\"CommandId\":\"%s\"}", cmd);
        const char *st = NULL;
        for (int i = 0; i < 150; i++) {
            o = run_task("CheckCommand", NULL, in);
            if (!o.ok)
                fail_msg("%s: %s", o.error, o.cause);
            st = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(o.out, "r"), 0));
            if (strcmp(st, "pending") != 0)
                break;
            cJSON_Delete(o.out);
            o.out = NULL;
            int t = 0;
            runtime_wait(&rt, &t, 200);
        }
        assert_string_equal(st, cmds[k].want_state);
        /* ConfirmOutput on the real invocation (its result moved to $.jobstatus). */
        cJSON *doc_in = cJSON_Parse(in);
        cJSON_AddItemToObject(doc_in, "jobstatus", cJSON_DetachItemFromObject(o.out, "r"));
        cJSON_Delete(o.out);
        char *t = cJSON_PrintUnformatted(doc_in);
        o = run_task("ConfirmOutput", NULL, t);
        assert_string_equal(result_str(&o), cmds[k].confirm);
        cJSON_Delete(o.out);
        free(t);
        cJSON_Delete(doc_in);
    }

    /* An invocation that never existed: the error, for the state's Retry and Catch. */
    snprintf(in, sizeof in, "%s,\"CommandId\":\"00000000-0000-0000-0000-000000000000\"}", base);
    o = run_task("CheckCommand", NULL, in);
    assert_false(o.ok);
    assert_string_equal(o.error, "InvocationDoesNotExist");

    const char *kv2[] = {"InstanceId.1", id, NULL};
    struct res d = query_call(&aws_ec2, "TerminateInstances", kv2);
    assert_string_equal(d.error, "");
    res_free(&d);
    snprintf(in, sizeof in, "%s}", base);
    o = run_task("CheckInstance", NULL, in);
    assert_string_equal(result_str(&o), "gone");
    cJSON_Delete(o.out);
    o = run_task("CheckInstance", NULL, "{\"input\":{\"instance_id\":\"i-0000000000000dead\"}}");
    assert_string_equal(result_str(&o), "gone");
    cJSON_Delete(o.out);
}

/* ---- connection resets (the emulator's reset fault) ---- */

struct attempts_res {
    int done, attempts;
    char error[64];
};

static void keep_attempts(void *arg, const struct aws_response *r)
{
    struct attempts_res *s = arg;
    s->done = 1;
    s->attempts = r->attempts;
    snprintf(s->error, sizeof s->error, "%s", r->error ? r->error : "");
}

static void arm_reset(const char *op, int count)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sf -o /dev/null -X POST '%s/_dss/faults/api?service=sqs&operation=%s&nth=1&count=%d&action=reset'",
             endpoint, op, count);
    assert_int_equal(system(cmd), 0);
}

/* A connection closed without an answer is retried like the SDKs' standard mode; when every
 * attempt is reset, the caller gets NetworkError. A fresh client each time: curl itself
 * silently retries a request whose *reused* connection died, which would hide the reset. */
static void test_client_retries_connection_reset(void **state)
{
    (void)state;
    arm_reset("ListQueues", 1);
    struct runtime r2;
    char err[256];
    struct aws_client_options opt = {3, 4, 30000};
    sched_clock_virtual(sched_now_ms()); /* the retry delay passes without real time */
    assert_int_equal(runtime_init(&r2, &opt, err, sizeof err), 0);
    struct attempts_res s = {0};
    assert_int_equal(runtime_call_json(&r2, &aws_sqs, "ListQueues", cJSON_CreateObject(), keep_attempts, &s), 0);
    runtime_cleanup(&r2);
    assert_string_equal(s.error, "");
    assert_int_equal(s.attempts, 2);

    arm_reset("ListQueues", 2);
    struct aws_client_options one = {2, 4, 30000};
    assert_int_equal(runtime_init(&r2, &one, err, sizeof err), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(runtime_call_json(&r2, &aws_sqs, "ListQueues", cJSON_CreateObject(), keep_attempts, &s), 0);
    runtime_cleanup(&r2);
    sched_clock_set(NULL, NULL);
    assert_string_equal(s.error, "NetworkError");
    assert_int_equal(s.attempts, 2);
}

/* ---- error answers: retried or not (the emulator's error fault) ---- */

/* Makes the next `count` calls of service's op answer with error (NULL: the service's own
 * throttling error: SQS RequestThrottled, EC2 RequestLimitExceeded, else ThrottlingException). */
static void arm_error(const char *service, const char *op, const char *error, int count)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sf -o /dev/null -X POST "
             "'%s/_dss/faults/api?service=%s&operation=%s&nth=1&count=%d&action=error%s%s'",
             endpoint, service, op, count, error ? "&error=" : "", error ? error : "");
    assert_int_equal(system(cmd), 0);
}

struct retry_case {
    const struct aws_service *svc;
    const char *op;
    const char *error; /* armed error, NULL: throttling */
    int count;         /* calls that fail */
    int attempts;      /* attempts the client makes */
    const char *final; /* error the caller sees ("" for success) */
};

/* SDK standard mode, in every protocol the scheduler speaks: throttling errors (each service's
 * own code, parsed from its own error shape) and 5xx answers are retried, up to max_attempts in
 * all; a client error is not. On the virtual clock, so the backoff takes no real time. */
static void test_client_retries_throttling_and_5xx(void **state)
{
    (void)state;
    NEED(have_ec2 && have_ssm, "EC2, Auto Scaling and SSM");
    static const struct retry_case cases[] = {
        {&aws_sqs, "ListQueues", NULL, 1, 2, ""},                    /* JSON 1.0, x-amzn-query-error */
        {&aws_dynamodb, "ListTables", NULL, 1, 2, ""},               /* JSON 1.0, __type */
        {&aws_ssm, "DescribeInstanceInformation", NULL, 1, 2, ""},   /* JSON 1.1 */
        {&aws_ec2, "DescribeRegions", NULL, 1, 2, ""},               /* EC2 Response/Errors/Error */
        {&aws_autoscaling, "DescribeAutoScalingGroups", NULL, 1, 2, ""}, /* Query ErrorResponse */
        {&aws_sqs, "ListQueues", "ServiceUnavailable", 1, 2, ""},    /* 503 */
        {&aws_ec2, "DescribeRegions", "InternalError", 1, 2, ""},    /* 500 */
        {&aws_dynamodb, "ListTables", NULL, 3, 3, "ThrottlingException"}, /* bounded */
        {&aws_dynamodb, "ListTables", "ValidationException", 1, 1, "ValidationException"},
        {&aws_autoscaling, "DescribeAutoScalingGroups", "ValidationError", 1, 1, "ValidationError"},
    };
    struct runtime r2;
    char err[256];
    struct aws_client_options opt = {3, 4, 30000};
    sched_clock_virtual(sched_now_ms());
    assert_int_equal(runtime_init(&r2, &opt, err, sizeof err), 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct retry_case *k = &cases[i];
        arm_error(k->svc->signing_name, k->op, k->error, k->count);
        struct attempts_res s = {0};
        if (k->svc->protocol == AWS_PROTO_JSON) {
            assert_int_equal(runtime_call_json(&r2, k->svc, k->op, cJSON_CreateObject(), keep_attempts, &s), 0);
        } else {
            struct aws_query q;
            aws_query_init(&q);
            assert_int_equal(runtime_call_query(&r2, k->svc, k->op, &q, keep_attempts, &s), 0);
        }
        if (strcmp(s.error, k->final) != 0 || s.attempts != k->attempts)
            fail_msg("%s %s with %s x%d: error '%s' after %d attempts, want '%s' after %d", k->svc->signing_name,
                     k->op, k->error ? k->error : "throttling", k->count, s.error, s.attempts, k->final,
                     k->attempts);
    }
    runtime_cleanup(&r2);
    sched_clock_set(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_errors),
        cmocka_unit_test(test_client_network_error_names_the_url),
        cmocka_unit_test(test_getjob_deletejob_extractjob),
        cmocka_unit_test(test_extractjob_malformed),
        cmocka_unit_test(test_dynamodb_record),
        cmocka_unit_test(test_confirmresult),
        cmocka_unit_test(test_addsqs_sqsout_failedjob_sqscheck),
        cmocka_unit_test(test_protectec2),
        cmocka_unit_test(test_protect_and_terminate_in_group),
        cmocka_unit_test(test_waitec2_status_not_found_is_retried),
        cmocka_unit_test(test_waitec2_startjob_checkjob_terminate),
        cmocka_unit_test(test_waitec2_unknown_instance),
        cmocka_unit_test(test_missing_field_is_keyerror),
        cmocka_unit_test(test_hardened_workflow_loads),
        cmocka_unit_test(test_hardened_command_state),
        cmocka_unit_test(test_confirmoutput),
        cmocka_unit_test(test_keepjob_releasejob_inflight),
        cmocka_unit_test(test_checkinstance_checkcommand),
        cmocka_unit_test(test_client_retries_connection_reset),
        cmocka_unit_test(test_client_retries_throttling_and_5xx),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
