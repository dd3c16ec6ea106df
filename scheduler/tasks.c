/* tasks.c -- see tasks.h. Each task is a short chain of asynchronous AWS calls; what a chain
 * needs between calls lives in call->scratch. */
#include "tasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "jsonpath.h"

struct queue_url {
    char *name, *url;
};

void task_env_cleanup(struct task_env *env)
{
    for (int i = 0; i < env->nurls; i++) {
        free(env->urls[i].name);
        free(env->urls[i].url);
    }
    free(env->urls);
    env->urls = NULL;
    env->nurls = 0;
}

static struct task_env *ENV(struct task_call *c)
{
    return c->env;
}

/* ---- helpers ---- */

static const char *str_at(cJSON *doc, const char *path)
{
    return cJSON_GetStringValue(jsonpath_get(doc, NULL, path));
}

/* Fails the call with KeyError naming the missing field; returns NULL for chaining. */
static const char *need(struct task_call *c, const char *path)
{
    const char *v = str_at(c->input, path);
    if (!v) {
        char cause[256];
        snprintf(cause, sizeof cause, "'%s' is missing or not a string in the task input", path);
        task_fail(c, "KeyError", cause);
    }
    return v;
}

static void fail_aws(struct task_call *c, const char *what, const struct aws_response *r)
{
    char cause[2048];
    snprintf(cause, sizeof cause, "%s: %s%s%s", what, r->error, r->message && *r->message ? ": " : "",
             r->message ? r->message : "");
    task_fail(c, r->error, cause);
}

/* Text of a value the way Python's str() would show a job field ("3" for 3 or "3"). */
static void scalar_text(const cJSON *v, char *out, size_t n)
{
    if (cJSON_IsString(v))
        snprintf(out, n, "%s", v->valuestring);
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
        snprintf(out, n, "%.0f", v->valuedouble);
    else if (cJSON_IsNumber(v))
        snprintf(out, n, "%g", v->valuedouble);
    else
        snprintf(out, n, "None");
}

static double number_of(const cJSON *v, int *ok)
{
    *ok = 1;
    if (cJSON_IsNumber(v))
        return v->valuedouble;
    if (cJSON_IsString(v)) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (end != v->valuestring && *end == '\0')
            return d;
    }
    *ok = 0;
    return 0;
}

/* ---- Python repr ---- */

static void repr_into(struct buf *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
        buf_append(b, &q, 1);
        for (; *s; s++) {
            unsigned char ch = (unsigned char)*s;
            if (ch == '\\' || ch == (unsigned char)q)
                buf_printf(b, "\\%c", ch);
            else if (ch == '\n')
                buf_puts(b, "\\n");
            else if (ch == '\r')
                buf_puts(b, "\\r");
            else if (ch == '\t')
                buf_puts(b, "\\t");
            else if (ch < 0x20 || ch == 0x7f)
                buf_printf(b, "\\x%02x", ch);
            else
                buf_append(b, s, 1);
        }
        buf_append(b, &q, 1);
    } else if (cJSON_IsNumber(v)) {
        char t[64];
        scalar_text(v, t, sizeof t);
        buf_puts(b, t);
    } else if (cJSON_IsBool(v)) {
        buf_puts(b, cJSON_IsTrue(v) ? "True" : "False");
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v), first = 1;
        buf_puts(b, obj ? "{" : "[");
        const cJSON *c;
        cJSON_ArrayForEach(c, v)
        {
            if (!first)
                buf_puts(b, ", ");
            first = 0;
            if (obj) {
                cJSON key = {0};
                key.type = cJSON_String;
                key.valuestring = c->string;
                repr_into(b, &key);
                buf_puts(b, ": ");
            }
            repr_into(b, c);
        }
        buf_puts(b, obj ? "}" : "]");
    } else {
        buf_puts(b, "None");
    }
}

char *python_repr(const cJSON *v)
{
    struct buf b;
    buf_init(&b, 16u << 20);
    repr_into(&b, v);
    return buf_steal(&b);
}

/* ---- queue URLs (GetQueueUrl, cached per name) ---- */

typedef void (*url_cont)(struct task_call *c, const char *url);

struct url_lookup {
    struct task_call *c;
    url_cont cont;
    char name[256];
};

static const char *cached_url(struct task_env *env, const char *name)
{
    for (int i = 0; i < env->nurls; i++)
        if (strcmp(env->urls[i].name, name) == 0)
            return env->urls[i].url;
    return NULL;
}

static void url_done(void *arg, const struct aws_response *r)
{
    struct url_lookup *l = arg;
    struct task_call *c = l->c;
    url_cont cont = l->cont;
    struct task_env *env = ENV(c);
    c->req = NULL; /* l is freed here */
    if (r->error) {
        char what[300];
        snprintf(what, sizeof what, "GetQueueUrl %s", l->name);
        free(l);
        fail_aws(c, what, r);
        return;
    }
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "QueueUrl"));
    if (!url) {
        free(l);
        task_fail(c, "SerializationException", "GetQueueUrl answered without a QueueUrl");
        return;
    }
    if (!cached_url(env, l->name)) {
        struct queue_url *n = realloc(env->urls, (size_t)(env->nurls + 1) * sizeof *n);
        if (n) {
            env->urls = n;
            n[env->nurls].name = strdup(l->name);
            n[env->nurls].url = strdup(url);
            if (n[env->nurls].name && n[env->nurls].url)
                env->nurls++;
            else {
                free(n[env->nurls].name);
                free(n[env->nurls].url);
            }
        }
    }
    free(l);
    cont(c, url);
}

static void with_queue(struct task_call *c, const char *name, url_cont cont)
{
    struct task_env *env = ENV(c);
    const char *url = cached_url(env, name);
    if (url) {
        cont(c, url);
        return;
    }
    struct url_lookup *l = calloc(1, sizeof *l);
    if (!l) {
        task_fail(c, "States.Runtime", "out of memory");
        return;
    }
    l->c = c;
    l->cont = cont;
    c->req = l;
    snprintf(l->name, sizeof l->name, "%s", name);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueName", name);
    if (aws_call_json(env->aws, &aws_sqs, "GetQueueUrl", p, url_done, l)) {
        c->req = NULL;
        free(l);
        task_fail(c, "States.Runtime", "cannot queue a request");
    }
}

/* A request whose only outcome is "done, here is the value" or the AWS error. */
typedef cJSON *(*result_fn)(struct task_call *c, const struct aws_response *r);

struct simple {
    struct task_call *c;
    result_fn fn;
    char what[64];
};

static void simple_done(void *arg, const struct aws_response *r)
{
    struct simple *s = arg;
    struct task_call *c = s->c;
    result_fn fn = s->fn;
    char what[64];
    snprintf(what, sizeof what, "%s", s->what);
    c->req = NULL;
    free(s);
    if (r->error) {
        fail_aws(c, what, r);
        return;
    }
    task_succeed(c, fn(c, r));
}

static void call_json(struct task_call *c, const struct aws_service *svc, const char *op, cJSON *params,
                      result_fn fn)
{
    struct simple *s = calloc(1, sizeof *s);
    if (!s) {
        cJSON_Delete(params);
        task_fail(c, "States.Runtime", "out of memory");
        return;
    }
    s->c = c;
    s->fn = fn;
    c->req = s;
    snprintf(s->what, sizeof s->what, "%s", op);
    if (aws_call_json(ENV(c)->aws, svc, op, params, simple_done, s)) {
        c->req = NULL;
        free(s);
        task_fail(c, "States.Runtime", "cannot queue a request");
    }
}

static cJSON *result_200(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    (void)r;
    return cJSON_CreateString("200");
}

static cJSON *result_body(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    return r->json ? cJSON_Duplicate(r->json, 1) : cJSON_CreateObject();
}

/* ---- WaitEC2: waiters instance_running, then instance_status_ok ---- */

struct waiter {
    int phase; /* 0 running, 1 status ok */
    int attempts;
};

static void waitec2_poll(void *arg);

static void waitec2_again(struct task_call *c)
{
    struct waiter *w = c->scratch;
    struct task_env *env = ENV(c);
    if (++w->attempts >= env->waiter_max_attempts) {
        char cause[256];
        snprintf(cause, sizeof cause, "Waiter %s failed: Max attempts exceeded",
                 w->phase ? "InstanceStatusOk" : "InstanceRunning");
        task_fail(c, "WaiterError", cause);
        return;
    }
    if (loop_at(env->loop, sched_now_ms() + (int64_t)(env->waiter_delay_s * 1000), waitec2_poll, c))
        task_fail(c, "States.Runtime", "out of memory");
}

static void waitec2_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    struct waiter *w = c->scratch;
    const char *id = str_at(c->input, "$.input.instance_id");
    if (r->error) {
        /* Both boto3 waiters (instance_running, instance_status_ok) retry InvalidInstanceID.NotFound:
         * a new instance is not visible to every EC2 endpoint at once. */
        if (strcmp(r->error, "InvalidInstanceID.NotFound") == 0) {
            waitec2_again(c);
            return;
        }
        fail_aws(c, w->phase ? "DescribeInstanceStatus" : "DescribeInstances", r);
        return;
    }
    xmlNodePtr root = xmlDocGetRootElement(r->xml);
    char v[64] = "";
    if (w->phase == 0) {
        xmlNodePtr inst = aws_xml_path(root, "reservationSet/item/instancesSet/item");
        if (inst && aws_xml_text(inst, "instanceState/name", v, sizeof v) == 0) {
            if (strcmp(v, "running") == 0) {
                w->phase = 1;
                w->attempts = 0;
                waitec2_poll(c);
                return;
            }
            if (strcmp(v, "shutting-down") == 0 || strcmp(v, "terminated") == 0 || strcmp(v, "stopping") == 0) {
                char cause[256];
                snprintf(cause, sizeof cause,
                         "Waiter InstanceRunning failed: Waiter encountered a terminal failure state (%s)", v);
                task_fail(c, "WaiterError", cause);
                return;
            }
        }
    } else {
        xmlNodePtr st = aws_xml_path(root, "instanceStatusSet/item");
        if (st && aws_xml_text(st, "instanceStatus/status", v, sizeof v) == 0 && strcmp(v, "ok") == 0) {
            cJSON *res = cJSON_CreateObject();
            cJSON_AddStringToObject(res, "instance_id", id ? id : "");
            cJSON_AddStringToObject(res, "request_id", "null");
            task_succeed(c, res);
            return;
        }
    }
    waitec2_again(c);
}

static void waitec2_poll(void *arg)
{
    struct task_call *c = arg;
    struct waiter *w = c->scratch;
    const char *id = str_at(c->input, "$.input.instance_id");
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "InstanceId.1", id);
    if (aws_call_query(ENV(c)->aws, &aws_ec2, w->phase ? "DescribeInstanceStatus" : "DescribeInstances", &q,
                       waitec2_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

static void t_waitec2(struct task_call *c)
{
    if (!need(c, "$.input.instance_id"))
        return;
    c->scratch = calloc(1, sizeof(struct waiter));
    if (!c->scratch) {
        task_fail(c, "States.Runtime", "out of memory");
        return;
    }
    waitec2_poll(c);
}

/* ---- ProtectEC2 ---- */

static void t_protectec2(struct task_call *c)
{
    const char *asg = need(c, "$.input.autoscaling_group");
    if (!asg)
        return;
    if (strcmp(asg, "nothing") == 0) {
        task_succeed(c, cJSON_CreateString("200"));
        return;
    }
    const char *id = need(c, "$.input.instance_id");
    const char *protect = id ? need(c, "$.protect") : NULL;
    if (!protect)
        return;
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "InstanceIds.member.1", id);
    aws_query_add(&q, "AutoScalingGroupName", asg);
    aws_query_add(&q, "ProtectedFromScaleIn", strcmp(protect, "True") == 0 ? "true" : "false");
    struct simple *s = calloc(1, sizeof *s);
    if (!s) {
        aws_query_free(&q);
        task_fail(c, "States.Runtime", "out of memory");
        return;
    }
    s->c = c;
    s->fn = result_200;
    c->req = s;
    snprintf(s->what, sizeof s->what, "SetInstanceProtection");
    if (aws_call_query(ENV(c)->aws, &aws_autoscaling, "SetInstanceProtection", &q, simple_done, s)) {
        c->req = NULL;
        free(s);
        task_fail(c, "States.Runtime", "cannot queue a request");
    }
}

static int visibility_timeout(struct task_call *c);

/* ---- GetJob ---- */

static void getjob_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    if (r->error) {
        fail_aws(c, "ReceiveMessage", r);
        return;
    }
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r->json, "Messages");
    if (cJSON_GetArraySize(msgs) == 0) {
        task_fail(c, "QueueEmpty", "ReceiveMessage returned no message");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "Messages", cJSON_Duplicate(msgs, 1));
    task_succeed(c, res);
}

static void getjob_url(struct task_call *c, const char *url)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddNumberToObject(p, "MaxNumberOfMessages", 1);
    /* The seed's 5 s; the hardened workflow holds the message for the whole job (KeepJob). */
    cJSON_AddNumberToObject(p, "VisibilityTimeout",
                            jsonpath_get(c->input, NULL, "$.settings.visibility_timeout") ? visibility_timeout(c) : 5);
    cJSON_AddNumberToObject(p, "WaitTimeSeconds", 0);
    cJSON *names = cJSON_AddArrayToObject(p, "AttributeNames");
    cJSON_AddItemToArray(names, cJSON_CreateString("SentTimestamp"));
    if (aws_call_json(ENV(c)->aws, &aws_sqs, "ReceiveMessage", p, getjob_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

static void t_getjob(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q)
        with_queue(c, q, getjob_url);
}

/* ---- DeleteJob ---- */

static void deletejob_url(struct task_call *c, const char *url)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddStringToObject(p, "ReceiptHandle", str_at(c->input, "$.raw_message.Messages[0].ReceiptHandle"));
    call_json(c, &aws_sqs, "DeleteMessage", p, result_body);
}

static void t_deletejob(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q && need(c, "$.raw_message.Messages[0].ReceiptHandle"))
        with_queue(c, q, deletejob_url);
}

/* ---- ExtractJob (input: the raw ReceiveMessage result) ---- */

static void t_extractjob(struct task_call *c)
{
    const char *body = str_at(c->input, "$.Messages[0].Body");
    char cause[512];
    if (!body) {
        task_fail(c, "MalformedJob", "the input holds no message body ($.Messages[0].Body)");
        return;
    }
    cJSON *job = cJSON_Parse(body);
    if (!cJSON_IsObject(job)) {
        cJSON_Delete(job);
        snprintf(cause, sizeof cause, "the message body is not a JSON object: %.200s", body);
        task_fail(c, "MalformedJob", cause);
        return;
    }
    static const char *const fields[] = {"job_id", "retry", "job_success_string", "ssm_document", "commands"};
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(job, fields[i]);
        const char *bad = NULL;
        if (!v)
            bad = "is missing";
        else if (strcmp(fields[i], "commands") == 0 && !cJSON_IsArray(v))
            bad = "must be a list of commands";
        else if (strcmp(fields[i], "retry") == 0 && !cJSON_IsString(v) && !cJSON_IsNumber(v))
            bad = "must be a number or a string";
        else if (strcmp(fields[i], "retry") != 0 && strcmp(fields[i], "commands") != 0 && !cJSON_IsString(v))
            bad = "must be a string";
        if (bad) {
            snprintf(cause, sizeof cause, "job field '%s' %s", fields[i], bad);
            cJSON_Delete(out);
            cJSON_Delete(job);
            task_fail(c, "MalformedJob", cause);
            return;
        }
        cJSON_AddItemToObject(out, fields[i], cJSON_Duplicate(v, 1));
    }
    const cJSON *cmd;
    cJSON_ArrayForEach(cmd, cJSON_GetObjectItemCaseSensitive(job, "commands")) if (!cJSON_IsString(cmd))
    {
        cJSON_Delete(out);
        cJSON_Delete(job);
        task_fail(c, "MalformedJob", "job field 'commands' must hold only strings");
        return;
    }
    cJSON *rr = cJSON_GetObjectItemCaseSensitive(job, "re_run");
    cJSON_AddItemToObject(out, "re_run", rr ? cJSON_Duplicate(rr, 1) : cJSON_CreateNumber(0));
    cJSON_Delete(job);
    task_succeed(c, out);
}

/* ---- StartJob ---- */

static cJSON *startjob_result(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    const char *id = str_at(r->json, "$.Command.CommandId");
    return cJSON_CreateString(id ? id : "");
}

static void t_startjob(struct task_call *c)
{
    const char *id = need(c, "$.input.instance_id");
    const char *doc = id ? need(c, "$.job_details.ssm_document") : NULL;
    const char *job = doc ? need(c, "$.job_details.job_id") : NULL;
    if (!job)
        return;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "InstanceIds"), cJSON_CreateString(id));
    cJSON_AddStringToObject(p, "DocumentName", doc);
    cJSON *params = cJSON_AddObjectToObject(p, "Parameters");
    cJSON *cmds = jsonpath_get(c->input, NULL, "$.job_details.commands");
    cJSON_AddItemToObject(params, "commands", cmds ? cJSON_Duplicate(cmds, 1) : cJSON_CreateArray());
    cJSON_AddNumberToObject(p, "TimeoutSeconds", 10800);
    cJSON_AddStringToObject(p, "Comment", job);
    call_json(c, &aws_ssm, "SendCommand", p, startjob_result);
}

/* ---- DynamoDB: the job monitoring record ---- */

static void put_s(cJSON *item, const char *name, const char *v)
{
    cJSON *a = cJSON_AddObjectToObject(item, name);
    cJSON_AddStringToObject(a, "S", v);
}

static cJSON *dynamodb_result(struct task_call *c, const struct aws_response *r)
{
    (void)r;
    struct task_env *env = ENV(c);
    const char *status = str_at(c->input, "$.status");
    if (env->engine && status) {
        struct engine_stats *st = engine_stats(env->engine);
        if (strcmp(status, "Started") == 0)
            st->jobs_started++;
        else if (strcmp(status, "Successful") == 0)
            st->jobs_succeeded++;
        else if (strcmp(status, "Failed") == 0)
            st->jobs_failed++;
        if (c->x)
            engine_job_held(c->x, strcmp(status, "Started") == 0);
    }
    return cJSON_CreateString("200");
}

static void t_dynamodb(struct task_call *c)
{
    const char *table = need(c, "$.input.table");
    const char *job = table ? need(c, "$.job_details.job_id") : NULL;
    const char *status = job ? need(c, "$.status") : NULL;
    if (!status)
        return;
    char retry[64], rerun[64], retries[160];
    scalar_text(jsonpath_get(c->input, NULL, "$.job_details.retry"), retry, sizeof retry);
    scalar_text(jsonpath_get(c->input, NULL, "$.job_details.re_run"), rerun, sizeof rerun);
    snprintf(retries, sizeof retries, "%s of %s", rerun, retry);
    char *commands = python_repr(jsonpath_get(c->input, NULL, "$.job_details.commands"));
    const char *logs = str_at(c->input, "$.jobstatus[1].StandardOutputContent");
    const char *doc = str_at(c->input, "$.job_details.ssm_document");
    const char *inst = str_at(c->input, "$.input.instance_id");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "TableName", table);
    cJSON *item = cJSON_AddObjectToObject(p, "Item");
    put_s(item, "job_id", job);
    put_s(item, "Status", status);
    put_s(item, "Retries", retries);
    put_s(item, "SSM_Document", doc ? doc : "None");
    put_s(item, "Commands", commands);
    put_s(item, "Output_Logs", logs ? logs : "null");
    put_s(item, "instance_id", inst ? inst : "None");
    free(commands);
    call_json(c, &aws_dynamodb, "PutItem", p, dynamodb_result);
}

/* ---- CheckJob ---- */

static void checkjob_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    cJSON *res = cJSON_CreateArray();
    const char *st = r->error ? NULL : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "Status"));
    const char *state = NULL;
    if (st) {
        if (!strcmp(st, "Pending") || !strcmp(st, "InProgress") || !strcmp(st, "Delayed"))
            state = "pending";
        else if (!strcmp(st, "Success"))
            state = "success";
        else if (!strcmp(st, "Cancelled") || !strcmp(st, "TimedOut") || !strcmp(st, "Failed"))
            state = "failed";
    }
    if (state) {
        cJSON_AddItemToArray(res, cJSON_CreateString(state));
        cJSON_AddItemToArray(res, cJSON_Duplicate(r->json, 1));
    } else {
        /* The seed's exception path: any error, or a status outside the map, reads as success. */
        cJSON_AddItemToArray(res, cJSON_CreateString("success"));
        cJSON_AddItemToArray(res, cJSON_CreateString("null"));
    }
    task_succeed(c, res);
}

static void t_checkjob(struct task_call *c)
{
    const char *cmd = str_at(c->input, "$.CommandId");
    const char *id = str_at(c->input, "$.input.instance_id");
    if (!cmd || !id) {
        cJSON *res = cJSON_CreateArray();
        cJSON_AddItemToArray(res, cJSON_CreateString("success"));
        cJSON_AddItemToArray(res, cJSON_CreateString("null"));
        task_succeed(c, res);
        return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CommandId", cmd);
    cJSON_AddStringToObject(p, "InstanceId", id);
    if (aws_call_json(ENV(c)->aws, &aws_ssm, "GetCommandInvocation", p, checkjob_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

/* ---- ConfirmResult ---- */

static void t_confirmresult(struct task_call *c)
{
    const char *want = need(c, "$.job_details.job_success_string");
    if (!want)
        return;
    char *text = python_repr(jsonpath_get(c->input, NULL, "$.jobstatus"));
    int ok = strstr(text, want) != NULL;
    free(text);
    task_succeed(c, cJSON_CreateString(ok ? "success" : "fail"));
}

/* ---- AddSQS, SQSOut, FailedJob: sends ---- */

static cJSON *message_id(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "MessageId"));
    return cJSON_CreateString(id ? id : "");
}

static void send_body(struct task_call *c, const char *url, const char *body, const char *reason)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddStringToObject(p, "MessageBody", body);
    if (reason && *reason) {
        cJSON *a = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "MessageAttributes"), "dss_failure_reason");
        cJSON_AddStringToObject(a, "DataType", "String");
        cJSON_AddStringToObject(a, "StringValue", reason);
    }
    call_json(c, &aws_sqs, "SendMessage", p, message_id);
}

static void send_job_details(struct task_call *c, const char *url)
{
    char *body = cJSON_PrintUnformatted(jsonpath_get(c->input, NULL, "$.job_details"));
    send_body(c, url, body ? body : "null", NULL);
    free(body);
}

static void t_addsqs(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (!q)
        return;
    cJSON *jd = jsonpath_get(c->input, NULL, "$.job_details");
    int ok1, ok2;
    double retry = number_of(cJSON_GetObjectItemCaseSensitive(jd, "retry"), &ok1);
    double rerun = number_of(cJSON_GetObjectItemCaseSensitive(jd, "re_run"), &ok2);
    if (!ok1 || !ok2) {
        task_fail(c, "KeyError", "job_details needs numeric 'retry' and 're_run'");
        return;
    }
    if (retry <= rerun) {
        task_succeed(c, cJSON_CreateString("NoRetries"));
        return;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(jd, "re_run", cJSON_CreateNumber(rerun + 1));
    with_queue(c, q, send_job_details);
}

static void t_sqsout(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name_out");
    if (q && jsonpath_get(c->input, NULL, "$.job_details"))
        with_queue(c, q, send_job_details);
    else if (q)
        task_fail(c, "KeyError", "'$.job_details' is missing");
}

static void failedjob_url(struct task_call *c, const char *url)
{
    const char *body = str_at(c->input, "$.raw_message.Messages[0].Body");
    const char *reason = str_at(c->input, "$.job_details.Cause");
    send_body(c, url, body, reason);
}

static void t_failedjob(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name_failed");
    if (q && need(c, "$.raw_message.Messages[0].Body"))
        with_queue(c, q, failedjob_url);
}

/* ---- SQSCheck ---- */

static cJSON *sqscheck_result(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    const char *n = str_at(r->json, "$.Attributes.ApproximateNumberOfMessages");
    return cJSON_CreateString(n && strcmp(n, "0") == 0 ? "Zero" : "NotZero");
}

static void sqscheck_url(struct task_call *c, const char *url)
{
    static const char *const names[] = {"ApproximateNumberOfMessages", NULL};
    call_json(c, &aws_sqs, "GetQueueAttributes", aws_sqs_attributes_params(url, names), sqscheck_result);
}

static void t_sqscheck(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q)
        with_queue(c, q, sqscheck_url);
}

/* ---- FinalTerminate ---- */

static void terminate_ec2_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    if (r->error) {
        fail_aws(c, "TerminateInstances", r);
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "terminated", str_at(c->input, "$.input.instance_id"));
    cJSON_AddStringToObject(res, "via", "ec2");
    task_succeed(c, res);
}

static void terminate_asg_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    const char *id = str_at(c->input, "$.input.instance_id");
    if (!r->error) {
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "terminated", id);
        cJSON_AddStringToObject(res, "via", "autoscaling");
        task_succeed(c, res);
        return;
    }
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "InstanceId.1", id);
    if (aws_call_query(ENV(c)->aws, &aws_ec2, "TerminateInstances", &q, terminate_ec2_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

static void t_finalterminate(struct task_call *c)
{
    const char *id = need(c, "$.input.instance_id");
    if (!id)
        return;
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "InstanceId", id);
    aws_query_add(&q, "ShouldDecrementDesiredCapacity", "true");
    if (aws_call_query(ENV(c)->aws, &aws_autoscaling, "TerminateInstanceInAutoScalingGroup", &q,
                       terminate_asg_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

/* ============================================================================================
 * The hardened workflow's tasks (fixtures/workflows/hardened.asl.json). Each fixes one of the
 * seed's weaknesses (SEED-DESIGN.md, "Known weaknesses"); the seed's own tasks above keep their
 * quirks so that the seed workflow still replays them.
 * ============================================================================================ */

/* The visibility timeout the hardened workflow holds its message for, from $.settings (a Pass
 * state sets it): long enough to outlast a poll interval plus a task's retries on the emulator's
 * clock, which can run faster than the scheduler's. */
static int visibility_timeout(struct task_call *c)
{
    int ok;
    double v = number_of(jsonpath_get(c->input, NULL, "$.settings.visibility_timeout"), &ok);
    if (!ok || v < 0)
        return 900;
    return v > 43200 ? 43200 : (int)v; /* SQS's maximum: 12 hours */
}

/* ---- KeepJob / ReleaseJob: ChangeMessageVisibility on the job's own message ---- */

static void set_visibility(struct task_call *c, const char *url, int seconds)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", url);
    cJSON_AddStringToObject(p, "ReceiptHandle", str_at(c->input, "$.raw_message.Messages[0].ReceiptHandle"));
    cJSON_AddNumberToObject(p, "VisibilityTimeout", seconds);
    call_json(c, &aws_sqs, "ChangeMessageVisibility", p, result_200);
}

static void keepjob_url(struct task_call *c, const char *url)
{
    set_visibility(c, url, visibility_timeout(c));
}

/* KeepJob: the job is still running, so its message stays invisible another visibility timeout
 * (the seed deleted the message before running the job: an interruption lost it). */
static void t_keepjob(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q && need(c, "$.raw_message.Messages[0].ReceiptHandle"))
        with_queue(c, q, keepjob_url);
}

static void releasejob_url(struct task_call *c, const char *url)
{
    set_visibility(c, url, 0);
}

/* ReleaseJob: the attempt died with its instance (or never ran): the message becomes visible at
 * once, unchanged, so the job runs again without spending a retry. */
static void t_releasejob(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q && need(c, "$.raw_message.Messages[0].ReceiptHandle"))
        with_queue(c, q, releasejob_url);
}

/* ---- CheckCommand: GetCommandInvocation with every status mapped ---- */

/* The hardened reading of an invocation: "pending", "success" (Status Success), "failed" (the
 * command ran and failed: spends a retry) or "lost" (it never ran or died with its instance or
 * agent, or a status this map does not know: never a success, and no retry is spent). */
const char *hardened_command_state(const char *status, const char *details)
{
    if (details && (!strcmp(details, "Undeliverable") || !strcmp(details, "Terminated") ||
                    !strcmp(details, "Delivery Timed Out") || !strcmp(details, "InvocationDoesNotExist")))
        return "lost";
    if (!status)
        return "lost";
    if (!strcmp(status, "Pending") || !strcmp(status, "InProgress") || !strcmp(status, "Delayed") ||
        !strcmp(status, "Cancelling"))
        return "pending";
    if (!strcmp(status, "Success"))
        return "success";
    if (!strcmp(status, "Failed") || !strcmp(status, "TimedOut") || !strcmp(status, "Cancelled"))
        return "failed";
    return "lost";
}

static void checkcommand_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    if (r->error) {
        /* InvocationDoesNotExist right after SendCommand is normal on AWS: the state's Retry
         * block waits for it; only after its retries does the Catch treat the job as lost. */
        fail_aws(c, "GetCommandInvocation", r);
        return;
    }
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "Status"));
    const char *details = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->json, "StatusDetails"));
    cJSON *res = cJSON_CreateArray();
    cJSON_AddItemToArray(res, cJSON_CreateString(hardened_command_state(st, details)));
    cJSON_AddItemToArray(res, cJSON_Duplicate(r->json, 1));
    task_succeed(c, res);
}

static void t_checkcommand(struct task_call *c)
{
    const char *id = need(c, "$.input.instance_id");
    const char *cmd = id ? need(c, "$.CommandId") : NULL;
    if (!cmd)
        return;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CommandId", cmd);
    cJSON_AddStringToObject(p, "InstanceId", id);
    if (aws_call_json(ENV(c)->aws, &aws_ssm, "GetCommandInvocation", p, checkcommand_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

/* ---- CheckInstance: is this execution's instance still there and healthy? ---- */

static void checkinstance_done(void *arg, const struct aws_response *r)
{
    struct task_call *c = arg;
    if (r->error) {
        if (strcmp(r->error, "InvalidInstanceID.NotFound") == 0) {
            task_succeed(c, cJSON_CreateString("gone"));
            return;
        }
        fail_aws(c, "DescribeInstanceStatus", r);
        return;
    }
    xmlNodePtr st = aws_xml_path(xmlDocGetRootElement(r->xml), "instanceStatusSet/item");
    char state[32] = "", status[32] = "", system[32] = "";
    if (st) {
        aws_xml_text(st, "instanceState/name", state, sizeof state);
        aws_xml_text(st, "instanceStatus/status", status, sizeof status);
        aws_xml_text(st, "systemStatus/status", system, sizeof system);
    }
    const char *verdict = "ok";
    if (!st || (strcmp(state, "running") && strcmp(state, "pending")))
        verdict = "gone"; /* shutting-down, terminated, stopping, stopped: its worker is dead */
    else if (!strcmp(status, "impaired") || !strcmp(system, "impaired"))
        verdict = "impaired";
    task_succeed(c, cJSON_CreateString(verdict));
}

static void t_checkinstance(struct task_call *c)
{
    const char *id = need(c, "$.input.instance_id");
    if (!id)
        return;
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "InstanceId.1", id);
    aws_query_add(&q, "IncludeAllInstances", "true");
    if (aws_call_query(ENV(c)->aws, &aws_ec2, "DescribeInstanceStatus", &q, checkinstance_done, c))
        task_fail(c, "States.Runtime", "cannot queue a request");
}

/* ---- ConfirmOutput: the success string in the job's own output ---- */

/* "success" only if $.jobstatus holds this job's own invocation (its CommandId and instance),
 * which ended Success with exit code 0, and whose StandardOutputContent holds the success string;
 * a blank success string ("" or spaces) asks for exit code 0 only. Anything else is "fail". */
static void t_confirmoutput(struct task_call *c)
{
    const char *want = need(c, "$.job_details.job_success_string");
    if (!want)
        return;
    cJSON *inv = jsonpath_get(c->input, NULL, "$.jobstatus[1]");
    const char *cmd = str_at(c->input, "$.CommandId"), *inst = str_at(c->input, "$.input.instance_id");
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "Status"));
    const char *inv_cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "CommandId"));
    const char *inv_inst = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "InstanceId"));
    const char *out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inv, "StandardOutputContent"));
    cJSON *code = cJSON_GetObjectItemCaseSensitive(inv, "ResponseCode");
    int ok = cJSON_IsObject(inv) && status && !strcmp(status, "Success") && cJSON_IsNumber(code) &&
             code->valuedouble == 0 && cmd && inv_cmd && !strcmp(cmd, inv_cmd) && inst && inv_inst &&
             !strcmp(inst, inv_inst);
    if (ok && want[strspn(want, " ")] != '\0')
        ok = out && strstr(out, want) != NULL;
    task_succeed(c, cJSON_CreateString(ok ? "success" : "fail"));
}

/* ---- SQSCheckInFlight: visible and in-flight messages ---- */

static cJSON *sqscheck_inflight_result(struct task_call *c, const struct aws_response *r)
{
    (void)c;
    const char *vis = str_at(r->json, "$.Attributes.ApproximateNumberOfMessages");
    const char *inflight = str_at(r->json, "$.Attributes.ApproximateNumberOfMessagesNotVisible");
    if (!vis || strcmp(vis, "0"))
        return cJSON_CreateString("NotZero");
    return cJSON_CreateString(inflight && !strcmp(inflight, "0") ? "Zero" : "InFlight");
}

static void sqscheck_inflight_url(struct task_call *c, const char *url)
{
    static const char *const names[] = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        NULL};
    call_json(c, &aws_sqs, "GetQueueAttributes", aws_sqs_attributes_params(url, names), sqscheck_inflight_result);
}

/* SQSCheckInFlight: "Zero" only when no message is visible *and* none is in flight, "InFlight"
 * when jobs are still running elsewhere (one may come back if its instance goes), else
 * "NotZero" (the seed counted visible messages only, so workers quit while jobs were out). */
static void t_sqscheck_inflight(struct task_call *c)
{
    const char *q = need(c, "$.input.sqs_name");
    if (q)
        with_queue(c, q, sqscheck_inflight_url);
}

const struct task_def seed_tasks[] = {
    {"WaitEC2", t_waitec2},       {"ProtectEC2", t_protectec2},         {"GetJob", t_getjob},
    {"DeleteJob", t_deletejob},   {"ExtractJob", t_extractjob},         {"StartJob", t_startjob},
    {"DynamoDB", t_dynamodb},     {"CheckJob", t_checkjob},             {"ConfirmResult", t_confirmresult},
    {"AddSQS", t_addsqs},         {"SQSOut", t_sqsout},                 {"FailedJob", t_failedjob},
    {"SQSCheck", t_sqscheck},     {"FinalTerminate", t_finalterminate},
    /* the hardened workflow's */
    {"KeepJob", t_keepjob},       {"ReleaseJob", t_releasejob},         {"CheckCommand", t_checkcommand},
    {"CheckInstance", t_checkinstance}, {"ConfirmOutput", t_confirmoutput},
    {"SQSCheckInFlight", t_sqscheck_inflight},
};
const int seed_ntasks = sizeof seed_tasks / sizeof *seed_tasks;
