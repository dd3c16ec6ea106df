/* test_sched_serial.c -- the AWS client's one-request-at-a-time mode (max_connections 1), which
 * dss-scheduler uses on the emulator's simulated clock so that a seed repeats byte for byte: the
 * requests must reach the server in the order they were made, also when a completion callback
 * makes a new one while older ones still wait. Before the fix, two attempts were handed to curl
 * at once and a request made in a callback went to curl ahead of the queue, so the order on the
 * wire depended on curl's wall-clock timers (seen as differing traces at 500 simulated jobs).
 *
 * Against a real dss-emulator (--ephemeral, a free port, started by the group setup and stopped
 * by the teardown, also after a failed assertion): SendMessage "1", "2", "3", the callback of "1"
 * sends "4"; the queue gives them back in arrival order, which must be 1 2 3 4.
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

#include "child_emulator.h"
#include "runtime.h"

static struct runtime rt;
static char queue_url[512];

static void keep_url(void *arg, const struct aws_response *r)
{
    (void)arg;
    const char *url = r->json ? cJSON_GetStringValue(cJSON_GetObjectItem(r->json, "QueueUrl")) : NULL;
    snprintf(queue_url, sizeof queue_url, "%s", url ? url : "");
}

static int group_setup(void **state)
{
    (void)state;
    struct aws_client_options one_at_a_time = {1, 1, 30000};
    if (start_emulator_runtime(&rt, &one_at_a_time))
        return -1;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueName", "serial");
    if (runtime_call_json(&rt, &aws_sqs, "CreateQueue", p, keep_url, NULL) || !queue_url[0]) {
        fprintf(stderr, "CreateQueue failed\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    runtime_cleanup(&rt);
    stop_emulator();
    return 0;
}

struct sends {
    int done;      /* completions so far */
    int all;       /* all four have completed (runtime_wait's flag) */
    char errors[256];
};

static int send_body(const char *body, struct sends *s);

static void sent(void *arg, const struct aws_response *r)
{
    struct sends *s = arg;
    if (r->error)
        snprintf(s->errors, sizeof s->errors, "%s: %s", r->error, r->message ? r->message : "");
    if (++s->done == 1) /* made in a callback while "2" and "3" still wait: it goes after them */
        send_body("4", s);
    s->all = s->done == 4;
}

static int send_body(const char *body, struct sends *s)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", queue_url);
    cJSON_AddStringToObject(p, "MessageBody", body);
    return aws_call_json(rt.aws, &aws_sqs, "SendMessage", p, sent, s);
}

struct received {
    char order[16];
    char error[256];
};

static void keep_bodies(void *arg, const struct aws_response *r)
{
    struct received *got = arg;
    const cJSON *m, *messages = r->json ? cJSON_GetObjectItem(r->json, "Messages") : NULL;
    if (r->error)
        snprintf(got->error, sizeof got->error, "%s", r->error);
    cJSON_ArrayForEach(m, messages) {
        const char *body = cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body"));
        size_t n = strlen(got->order);
        if (body && n + strlen(body) < sizeof got->order)
            strcat(got->order, body);
    }
}

static void test_requests_go_out_in_the_order_they_were_made(void **state)
{
    (void)state;
    struct sends s = {0};
    assert_int_equal(send_body("1", &s), 0);
    assert_int_equal(send_body("2", &s), 0);
    assert_int_equal(send_body("3", &s), 0);
    assert_int_equal(runtime_wait(&rt, &s.all, 30000), 0);
    assert_string_equal(s.errors, "");
    assert_int_equal(s.done, 4);
    struct received got = {{0}, {0}};
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", queue_url);
    cJSON_AddNumberToObject(p, "MaxNumberOfMessages", 10);
    assert_int_equal(runtime_call_json(&rt, &aws_sqs, "ReceiveMessage", p, keep_bodies, &got), 0);
    assert_string_equal(got.error, "");
    assert_string_equal(got.order, "1234");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_go_out_in_the_order_they_were_made),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
