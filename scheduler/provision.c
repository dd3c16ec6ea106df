/* provision.c -- `dss-scheduler provision` / `teardown`: creates, idempotently, what a stack S
 * needs, and removes it again. See provision.h.
 *
 * What provision makes (names from SEED-DESIGN.md, in this order):
 *   SQS       S-job-queue, S-job-queue-finished, S-job-queue-failed
 *   DynamoDB  S-job-monitoring (hash key job_id, S; on-demand), waited for until ACTIVE
 *   with --resource-automation:
 *   S3        the job bucket
 *   SQS       S-s3-events, with a queue policy letting s3.amazonaws.com send from that bucket
 *   S3        the bucket's notification: s3:ObjectCreated:* with the trigger suffix -> S-s3-events
 *             (added to any configuration the bucket already has)
 *   EC2       launch template S-launch-template; instances get the tag S = S-job-queue
 *   Auto Scaling  S-autoscaling-group: min 0, max N, desired 0, all Spot (MixedInstancesPolicy,
 *             one override per instance type, 0 % on-demand, the allocation strategy)
 *   SSM       parameter /dss/S/automation: the settings `dss-scheduler run` reads (compact JSON,
 *             below). Parameter Store because that is where AWS users keep configuration: it
 *             is versioned, readable with `aws ssm get-parameter`, and the scheduler already
 *             talks SSM, so the same code runs on real AWS.
 *
 * Idempotent: each resource is looked up first and created only if missing, so a second run
 * makes no mutating call and prints "exists" for everything. The one thing compared is the
 * settings parameter: new flags overwrite it (a new version, printed "updated").
 *
 * --dry-run prints the mutating calls a run makes when nothing exists, one per line as
 * "service Operation {parameters as JSON}", in order, and makes no request at all -- not even
 * the look-ups; ${...} placeholders stand for what look-ups would find (the account id, the
 * zones, the image). Query-protocol parameters (EC2, Auto Scaling) are shown in the API's
 * shape with their wire names; S3 calls in boto3's shape.
 *
 * teardown deletes in the reverse order. It first checks everything and refuses, deleting
 * nothing, when a queue holds messages, the table holds items, the bucket holds objects or the
 * group has instances -- unless --force. For the group and the bucket the refusal shows AWS's
 * own error (the delete is attempted without force: ResourceInUse, BucketNotEmpty).
 */
#include "provision.h"

#include <getopt.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "runtime.h"
#include "s3rest.h"
#include "util.h"
#include "xmlwrite.h"

#define AMI_PARAMETER "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
#define ACCOUNT_PLACEHOLDER "${AWS::AccountId}"
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define WAIT_ACTIVE_MS (10 * 60 * 1000) /* a table or a group deletion on real AWS: minutes */

const char provision_usage[] =
    "  provision --stack S [--resource-automation --bucket B [--trigger-suffix .sh]\n"
    "      [--max-instances 500] [--instance-types t3.large,t3.medium]\n"
    "      [--allocation lowest-price|capacity-optimized] [--image-id AMI] [--working-dir DIR]\n"
    "      [--retry 3] [--success-string upload:] [--command-flavour shell|powershell]] [--dry-run]\n"
    "  teardown --stack S [--bucket B] [--force]\n";

struct prov_opts {
    const char *stack, *bucket, *suffix, *types, *allocation, *image, *workdir, *success, *flavour;
    long max_instances, retry;
    int automation, dry_run, force;
};

/* One run of provision or teardown. */
struct prov {
    struct runtime *rt;
    const struct prov_opts *o;
    int created, updated, existing, deleted, absent, skipped;
    char account[64];          /* from a queue URL; the placeholder in a dry run */
    char queue[3][160];        /* job, finished, failed */
    char events[160], table[160], template[160], group[160], parameter[200];
    char bucket[64];           /* --bucket; teardown: else the one the settings name */
    char region[64];
};

/* The answer to one call, kept past the client's callback. */
struct res {
    char error[256];
    char message[2048];
    cJSON *json;    /* JSON protocols */
    xmlDocPtr xml;  /* Query protocol */
};

static void res_free(struct res *r)
{
    cJSON_Delete(r->json);
    xmlFreeDoc(r->xml);
    memset(r, 0, sizeof *r);
}

static void keep(void *arg, const struct aws_response *r)
{
    struct res *res = arg;
    if (r->error) {
        snprintf(res->error, sizeof res->error, "%s", r->error);
        snprintf(res->message, sizeof res->message, "%s", r->message ? r->message : "");
    } else {
        res->json = r->json ? cJSON_Duplicate(r->json, 1) : NULL;
        res->xml = r->xml ? xmlCopyDoc(r->xml, 1) : NULL;
    }
}

/* ---- calls ---- */

/* Query-protocol form keys for a parameter tree: objects nest with '.', lists number from 1
 * (Auto Scaling's lists add ".member", EC2's do not). */
static void flatten(struct aws_query *q, const char *prefix, const cJSON *v, int member_lists)
{
    char key[512], text[64];
    const cJSON *c;
    int i = 0;
    if (cJSON_IsObject(v)) {
        cJSON_ArrayForEach(c, v) {
            snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", c->string);
            flatten(q, key, c, member_lists);
        }
    } else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(c, v) {
            snprintf(key, sizeof key, "%s%s.%d", prefix, member_lists ? ".member" : "", ++i);
            flatten(q, key, c, member_lists);
        }
    } else if (cJSON_IsString(v)) {
        aws_query_add(q, prefix, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        snprintf(text, sizeof text, "%.0f", v->valuedouble);
        aws_query_add(q, prefix, text);
    } else if (cJSON_IsBool(v)) {
        aws_query_add(q, prefix, cJSON_IsTrue(v) ? "true" : "false");
    }
}

/* One call of any JSON or Query service; params is taken. 0 on success, else -1 with the
 * error in r. */
static int call(struct prov *p, const struct aws_service *svc, const char *op, cJSON *params, struct res *r)
{
    memset(r, 0, sizeof *r);
    int rc;
    if (svc->protocol == AWS_PROTO_JSON) {
        rc = runtime_call_json(p->rt, svc, op, params, keep, r);
    } else {
        struct aws_query q;
        aws_query_init(&q);
        flatten(&q, "", params, svc == &aws_autoscaling);
        cJSON_Delete(params);
        rc = runtime_call_query(p->rt, svc, op, &q, keep, r);
        aws_query_free(&q);
    }
    if (rc) {
        snprintf(r->error, sizeof r->error, "ClientError");
        snprintf(r->message, sizeof r->message, "the request could not be sent");
    }
    return r->error[0] ? -1 : 0;
}

static const char *service_name(const struct aws_service *svc)
{
    return svc == &aws_sqs ? "sqs" : svc == &aws_dynamodb ? "dynamodb" : svc == &aws_ssm ? "ssm"
         : svc == &aws_ec2 ? "ec2" : "autoscaling";
}

static void print_call(const char *service, const char *op, const cJSON *params)
{
    char *text = cJSON_PrintUnformatted(params);
    printf("%s %s %s\n", service, op, text ? text : "{}");
    free(text);
}

/* A mutating call: printed in a dry run, made otherwise. params is taken. */
static int mutate(struct prov *p, const struct aws_service *svc, const char *op, cJSON *params, struct res *r)
{
    if (p->o->dry_run) {
        memset(r, 0, sizeof *r);
        print_call(service_name(svc), op, params);
        cJSON_Delete(params);
        return 0;
    }
    return call(p, svc, op, params, r);
}

static int failed(const char *what, const char *name, const char *error, const char *message)
{
    fprintf(stderr, "dss-scheduler: %s %s: %s%s%s\n", what, name, error, *message ? ": " : "", message);
    return -1;
}

static int failed_res(const char *what, const char *name, const struct res *r)
{
    return failed(what, name, r->error, r->message);
}

static void said(struct prov *p, const char *what, const char *name, const char *state)
{
    if (p->o->dry_run)
        return;
    printf("%-18s %-44s %s\n", what, name, state);
    fflush(stdout);
    int *count = !strcmp(state, "created") ? &p->created : !strcmp(state, "updated") ? &p->updated
               : !strcmp(state, "exists") ? &p->existing : !strncmp(state, "deleted", 7) ? &p->deleted
               : !strcmp(state, "absent") ? &p->absent : &p->skipped;
    (*count)++;
}

/* Blocks about ms real milliseconds while the loop runs (between polls of a status). */
static void pause_ms(struct prov *p, int64_t ms)
{
    int never = 0;
    runtime_wait(p->rt, &never, ms);
}

static int is_missing_queue(const char *error)
{
    return strstr(error, "NonExistentQueue") || !strcmp(error, "QueueDoesNotExist");
}

/* ---- SQS ---- */

/* The queue's URL into url (n bytes): 0 found, 1 missing, -1 error (printed). */
static int queue_lookup(struct prov *p, const char *name, char *url, size_t n)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "QueueName", name);
    struct res r;
    if (call(p, &aws_sqs, "GetQueueUrl", params, &r)) {
        int missing = is_missing_queue(r.error);
        if (!missing)
            failed_res("queue", name, &r);
        res_free(&r);
        return missing ? 1 : -1;
    }
    snprintf(url, n, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "QueueUrl")));
    res_free(&r);
    return 0;
}

/* The account id is the first segment of a queue URL's path (.../123456789012/name). */
static void account_from_url(struct prov *p, const char *url)
{
    const char *s = strstr(url, "://");
    s = s ? strchr(s + 3, '/') : NULL;
    if (!s)
        return;
    const char *end = strchr(s + 1, '/');
    if (end && end - s - 1 < (long)sizeof p->account)
        snprintf(p->account, sizeof p->account, "%.*s", (int)(end - s - 1), s + 1);
}

/* Creates the queue unless it exists; attributes (taken, may be NULL) only at creation. */
static int ensure_queue(struct prov *p, const char *name, cJSON *attributes)
{
    char url[2048] = "";
    int found = p->o->dry_run ? 1 : queue_lookup(p, name, url, sizeof url);
    if (found < 0 || found == 0) {
        cJSON_Delete(attributes);
        if (found == 0) {
            account_from_url(p, url);
            said(p, "queue", name, "exists");
        }
        return found;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "QueueName", name);
    if (attributes)
        cJSON_AddItemToObject(params, "Attributes", attributes);
    struct res r;
    if (mutate(p, &aws_sqs, "CreateQueue", params, &r))
        return failed_res("create queue", name, &r);
    if (r.json)
        account_from_url(p, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r.json, "QueueUrl")));
    res_free(&r);
    said(p, "queue", name, "created");
    return 0;
}

static const char *region(struct prov *p)
{
    return p->region;
}

/* The events queue's policy: S3 may send to it, from this bucket in this account only. */
static cJSON *events_queue_attributes(struct prov *p)
{
    char arn[400], bucket_arn[300];
    snprintf(arn, sizeof arn, "arn:aws:sqs:%s:%s:%s", region(p), p->account, p->events);
    snprintf(bucket_arn, sizeof bucket_arn, "arn:aws:s3:::%s", p->bucket);
    cJSON *policy = cJSON_CreateObject();
    cJSON_AddStringToObject(policy, "Version", "2012-10-17");
    cJSON *st = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(policy, "Statement"), st);
    cJSON_AddStringToObject(st, "Sid", "dss-s3-events");
    cJSON_AddStringToObject(st, "Effect", "Allow");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(st, "Principal"), "Service", "s3.amazonaws.com");
    cJSON_AddStringToObject(st, "Action", "sqs:SendMessage");
    cJSON_AddStringToObject(st, "Resource", arn);
    cJSON *cond = cJSON_AddObjectToObject(st, "Condition");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cond, "ArnEquals"), "aws:SourceArn", bucket_arn);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cond, "StringEquals"), "aws:SourceAccount", p->account);
    char *text = cJSON_PrintUnformatted(policy);
    cJSON_Delete(policy);
    cJSON *attrs = cJSON_CreateObject();
    cJSON_AddStringToObject(attrs, "Policy", text ? text : "{}");
    free(text);
    return attrs;
}

/* ---- DynamoDB ---- */

/* The table's status into status: 0 found, 1 missing, -1 error (printed). */
static int table_lookup(struct prov *p, char *status, size_t n)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "TableName", p->table);
    struct res r;
    if (call(p, &aws_dynamodb, "DescribeTable", params, &r)) {
        int missing = !strcmp(r.error, "ResourceNotFoundException");
        if (!missing)
            failed_res("table", p->table, &r);
        res_free(&r);
        return missing ? 1 : -1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r.json, "Table");
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "TableStatus"));
    snprintf(status, n, "%s", s ? s : "");
    res_free(&r);
    return 0;
}

static int wait_table_active(struct prov *p)
{
    char status[32] = "";
    for (int64_t waited = 0; waited < WAIT_ACTIVE_MS; waited += 1000) {
        int found = table_lookup(p, status, sizeof status);
        if (found < 0)
            return -1;
        if (found == 0 && !strcmp(status, "ACTIVE"))
            return 0;
        pause_ms(p, 1000);
    }
    return failed("table", p->table, "Timeout", "not ACTIVE after 10 minutes");
}

static int ensure_table(struct prov *p)
{
    char status[32];
    int found = p->o->dry_run ? 1 : table_lookup(p, status, sizeof status);
    if (found <= 0) {
        if (found == 0)
            said(p, "table", p->table, "exists");
        return found;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "TableName", p->table);
    cJSON *attr = cJSON_CreateObject();
    cJSON_AddStringToObject(attr, "AttributeName", "job_id");
    cJSON_AddStringToObject(attr, "AttributeType", "S");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "AttributeDefinitions"), attr);
    cJSON *key = cJSON_CreateObject();
    cJSON_AddStringToObject(key, "AttributeName", "job_id");
    cJSON_AddStringToObject(key, "KeyType", "HASH");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "KeySchema"), key);
    cJSON_AddStringToObject(params, "BillingMode", "PAY_PER_REQUEST");
    struct res r;
    if (mutate(p, &aws_dynamodb, "CreateTable", params, &r))
        return failed_res("create table", p->table, &r);
    res_free(&r);
    if (!p->o->dry_run && wait_table_active(p))
        return -1;
    said(p, "table", p->table, "created");
    return 0;
}

/* ---- S3 ---- */

static int s3_call(struct prov *p, const char *method, const char *query, const char *body, const char *md5,
                   struct s3_reply *out)
{
    return s3_request(&p->rt->cfg, sched_now_ms(), method, p->bucket, query, body, body ? strlen(body) : 0,
                      md5 ? "Content-MD5" : NULL, md5, out);
}

/* 0 exists (ours), 1 missing, -1 error (printed: also a bucket someone else owns). */
static int bucket_lookup(struct prov *p)
{
    struct s3_reply r;
    int rc = s3_call(p, "HEAD", NULL, NULL, NULL, &r);
    if (rc && r.status == 404)
        rc = 1;
    else if (rc)
        failed("bucket", p->bucket, r.code, r.status == 403 ? "it exists and belongs to another account"
                                                                : r.message);
    s3_reply_free(&r);
    return rc;
}

static int ensure_bucket(struct prov *p)
{
    int found = p->o->dry_run ? 1 : bucket_lookup(p);
    if (found <= 0) {
        if (found == 0)
            said(p, "bucket", p->bucket, "exists");
        return found;
    }
    /* us-east-1 takes no LocationConstraint; every other region needs its own. */
    int located = strcmp(region(p), "us-east-1") != 0;
    if (p->o->dry_run) {
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "Bucket", p->bucket);
        if (located)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(params, "CreateBucketConfiguration"),
                                    "LocationConstraint", region(p));
        print_call("s3", "CreateBucket", params);
        cJSON_Delete(params);
        return 0;
    }
    struct buf body;
    buf_init(&body, 4096);
    if (located) {
        xml_open(&body, "CreateBucketConfiguration", S3_XMLNS);
        xml_element(&body, "LocationConstraint", region(p));
        xml_close(&body, "CreateBucketConfiguration");
    }
    struct s3_reply r;
    int rc = s3_call(p, "PUT", NULL, located ? body.data : NULL, NULL, &r);
    buf_free(&body);
    if (rc)
        failed("create bucket", p->bucket, r.code, r.message);
    else
        said(p, "bucket", p->bucket, "created");
    s3_reply_free(&r);
    return rc;
}

static void events_queue_arn(struct prov *p, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:sqs:%s:%s:%s", region(p), p->account, p->events);
}

/* The bucket's notification configuration, parsed (caller frees), or NULL after printing. */
static xmlDocPtr notification_get(struct prov *p)
{
    struct s3_reply r;
    xmlDocPtr doc = NULL;
    if (s3_call(p, "GET", "notification", NULL, NULL, &r))
        failed("bucket notification", p->bucket, r.code, r.message);
    else if (!(doc = xmlReadMemory(r.body.data ? r.body.data : "", (int)r.body.len, NULL, NULL,
                                   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)))
        failed("bucket notification", p->bucket, "MalformedXML", "the configuration read back is not XML");
    s3_reply_free(&r);
    return doc;
}

static int is_ours(xmlNodePtr config, const char *arn)
{
    char queue[512];
    return !strcmp((const char *)config->name, "QueueConfiguration") &&
           aws_xml_text(config, "Queue", queue, sizeof queue) == 0 && !strcmp(queue, arn);
}

/* A configuration: every element of doc's root except ours, plus ours when add. */
static void notification_document(struct prov *p, xmlDocPtr doc, int add, struct buf *out)
{
    char arn[400];
    events_queue_arn(p, arn, sizeof arn);
    xml_open(out, "NotificationConfiguration", S3_XMLNS);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || is_ours(c, arn))
            continue;
        xmlBufferPtr xb = xmlBufferCreate();
        xmlNodeDump(xb, doc, c, 0, 0);
        buf_puts(out, (const char *)xmlBufferContent(xb));
        xmlBufferFree(xb);
    }
    if (add) {
        char id[200];
        snprintf(id, sizeof id, "dss-%s-trigger", p->o->stack);
        xml_open(out, "QueueConfiguration", NULL);
        xml_element(out, "Id", id);
        xml_element(out, "Queue", arn);
        xml_element(out, "Event", "s3:ObjectCreated:*");
        xml_open(out, "Filter", NULL);
        xml_open(out, "S3Key", NULL);
        xml_open(out, "FilterRule", NULL);
        xml_element(out, "Name", "suffix");
        xml_element(out, "Value", p->o->suffix);
        xml_close(out, "FilterRule");
        xml_close(out, "S3Key");
        xml_close(out, "Filter");
        xml_close(out, "QueueConfiguration");
    }
    xml_close(out, "NotificationConfiguration");
}

static void print_notification_call(struct prov *p)
{
    char arn[400], id[200];
    events_queue_arn(p, arn, sizeof arn);
    snprintf(id, sizeof id, "dss-%s-trigger", p->o->stack);
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "Bucket", p->bucket);
    cJSON *qc = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(params, "NotificationConfiguration"),
                                                "QueueConfigurations"), qc);
    cJSON_AddStringToObject(qc, "Id", id);
    cJSON_AddStringToObject(qc, "QueueArn", arn);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(qc, "Events"), cJSON_CreateString("s3:ObjectCreated:*"));
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddStringToObject(rule, "Name", "suffix");
    cJSON_AddStringToObject(rule, "Value", p->o->suffix);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(qc, "Filter"),
                                                                         "Key"), "FilterRules"), rule);
    print_call("s3", "PutBucketNotificationConfiguration", params);
    cJSON_Delete(params);
}

static int notification_put(struct prov *p, xmlDocPtr doc, int add)
{
    struct buf body;
    buf_init(&body, 1u << 20);
    notification_document(p, doc, add, &body);
    struct s3_reply r;
    int rc = s3_call(p, "PUT", "notification", body.data, NULL, &r);
    if (rc)
        failed("bucket notification", p->bucket, r.code, r.message);
    s3_reply_free(&r);
    buf_free(&body);
    return rc;
}

static int ensure_notification(struct prov *p)
{
    char name[400];
    snprintf(name, sizeof name, "%s -> %s", p->bucket, p->events);
    if (p->o->dry_run) {
        print_notification_call(p);
        return 0;
    }
    xmlDocPtr doc = notification_get(p);
    if (!doc)
        return -1;
    char arn[400];
    events_queue_arn(p, arn, sizeof arn);
    int found = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        found |= c->type == XML_ELEMENT_NODE && is_ours(c, arn);
    int rc = found ? 0 : notification_put(p, doc, 1);
    xmlFreeDoc(doc);
    if (!rc)
        said(p, "notification", name, found ? "exists" : "created");
    return rc;
}

/* ---- EC2 launch template ---- */

/* 0 exists, 1 missing, -1 error (printed). */
static int template_lookup(struct prov *p)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "LaunchTemplateName"), cJSON_CreateString(p->template));
    struct res r;
    int rc = 0;
    if (call(p, &aws_ec2, "DescribeLaunchTemplates", params, &r)) {
        rc = strstr(r.error, "NotFound") ? 1 : failed_res("launch template", p->template, &r);
    } else {
        xmlNodePtr root = xmlDocGetRootElement(r.xml);
        rc = aws_xml_path(root, "launchTemplates/item") ? 0 : 1;
    }
    res_free(&r);
    return rc;
}

/* The image: --image-id, else the latest Amazon Linux 2023 from AWS's public parameter. */
static int image_id(struct prov *p, char *out, size_t n)
{
    if (p->o->image) {
        snprintf(out, n, "%s", p->o->image);
        return 0;
    }
    if (p->o->dry_run) {
        snprintf(out, n, "${ssm:%s}", AMI_PARAMETER);
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "Name", AMI_PARAMETER);
    struct res r;
    if (call(p, &aws_ssm, "GetParameter", params, &r))
        return failed("image", AMI_PARAMETER, r.error, "give --image-id AMI");
    const cJSON *prm = cJSON_GetObjectItemCaseSensitive(r.json, "Parameter");
    snprintf(out, n, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prm, "Value")));
    res_free(&r);
    return 0;
}

static int ensure_template(struct prov *p)
{
    int found = p->o->dry_run ? 1 : template_lookup(p);
    if (found <= 0) {
        if (found == 0)
            said(p, "launch template", p->template, "exists");
        return found;
    }
    char image[300];
    if (image_id(p, image, sizeof image))
        return -1;
    /* EC2's wire names: TagSpecification.1.Tag.1.Key ... */
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "LaunchTemplateName", p->template);
    cJSON *data = cJSON_AddObjectToObject(params, "LaunchTemplateData");
    cJSON_AddStringToObject(data, "ImageId", image);
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(data, "TagSpecification"), spec);
    cJSON_AddStringToObject(spec, "ResourceType", "instance");
    cJSON *tag = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "Tag"), tag);
    cJSON_AddStringToObject(tag, "Key", p->o->stack);
    cJSON_AddStringToObject(tag, "Value", p->queue[0]);
    struct res r;
    if (mutate(p, &aws_ec2, "CreateLaunchTemplate", params, &r))
        return failed_res("create launch template", p->template, &r);
    res_free(&r);
    said(p, "launch template", p->template, "created");
    return 0;
}

/* ---- Auto Scaling group ---- */

/* The group's XML member, copied into *doc (caller frees): 0 exists, 1 missing, -1 error. */
static int group_lookup(struct prov *p, xmlDocPtr *doc, xmlNodePtr *group)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(params, "AutoScalingGroupNames"), cJSON_CreateString(p->group));
    struct res r;
    if (call(p, &aws_autoscaling, "DescribeAutoScalingGroups", params, &r)) {
        failed_res("auto scaling group", p->group, &r);
        res_free(&r);
        return -1;
    }
    *doc = r.xml;
    r.xml = NULL;
    res_free(&r);
    *group = aws_xml_path(xmlDocGetRootElement(*doc), "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
    return *group ? 0 : 1;
}

/* The zones to spread over: every available zone of the region. */
static int zones(struct prov *p, cJSON *list)
{
    if (p->o->dry_run) {
        cJSON_AddItemToArray(list, cJSON_CreateString("${AvailabilityZones}"));
        return 0;
    }
    struct res r;
    if (call(p, &aws_ec2, "DescribeAvailabilityZones", cJSON_CreateObject(), &r))
        return failed_res("availability zones of", region(p), &r);
    xmlNodePtr item = aws_xml_path(xmlDocGetRootElement(r.xml), "availabilityZoneInfo/item");
    for (; item; item = aws_xml_next(item, "item")) {
        char zone[128], state[64] = "available";
        aws_xml_text(item, "zoneState", state, sizeof state);
        if (aws_xml_text(item, "zoneName", zone, sizeof zone) == 0 && !strcmp(state, "available"))
            cJSON_AddItemToArray(list, cJSON_CreateString(zone));
    }
    res_free(&r);
    return cJSON_GetArraySize(list) ? 0 : failed("availability zones of", region(p), "NoZones", "none available");
}

static int ensure_group(struct prov *p)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr g;
    int found = p->o->dry_run ? 1 : group_lookup(p, &doc, &g);
    xmlFreeDoc(doc);
    if (found <= 0) {
        if (found == 0)
            said(p, "auto scaling group", p->group, "exists");
        return found;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "AutoScalingGroupName", p->group);
    cJSON *mixed = cJSON_AddObjectToObject(params, "MixedInstancesPolicy");
    cJSON *lt = cJSON_AddObjectToObject(mixed, "LaunchTemplate");
    cJSON *spec = cJSON_AddObjectToObject(lt, "LaunchTemplateSpecification");
    cJSON_AddStringToObject(spec, "LaunchTemplateName", p->template);
    cJSON_AddStringToObject(spec, "Version", "$Latest");
    cJSON *overrides = cJSON_AddArrayToObject(lt, "Overrides");
    char types[512];
    snprintf(types, sizeof types, "%s", p->o->types);
    for (char *save = NULL, *t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "InstanceType", t);
        cJSON_AddItemToArray(overrides, o);
    }
    cJSON *dist = cJSON_AddObjectToObject(mixed, "InstancesDistribution");
    cJSON_AddNumberToObject(dist, "OnDemandBaseCapacity", 0);
    cJSON_AddNumberToObject(dist, "OnDemandPercentageAboveBaseCapacity", 0);
    cJSON_AddStringToObject(dist, "SpotAllocationStrategy", p->o->allocation);
    cJSON_AddNumberToObject(params, "MinSize", 0);
    cJSON_AddNumberToObject(params, "MaxSize", (double)p->o->max_instances);
    cJSON_AddNumberToObject(params, "DesiredCapacity", 0);
    if (zones(p, cJSON_AddArrayToObject(params, "AvailabilityZones"))) {
        cJSON_Delete(params);
        return -1;
    }
    struct res r;
    if (mutate(p, &aws_autoscaling, "CreateAutoScalingGroup", params, &r))
        return failed_res("create auto scaling group", p->group, &r);
    res_free(&r);
    said(p, "auto scaling group", p->group, "created");
    return 0;
}

/* ---- the settings parameter ---- */

/* The settings as the contract spells them: compact JSON, members in this order. */
static char *settings_json(struct prov *p)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "version", 1);
    cJSON_AddStringToObject(s, "bucket", p->bucket);
    cJSON_AddStringToObject(s, "events_queue", p->events);
    cJSON_AddStringToObject(s, "trigger_suffix", p->o->suffix);
    cJSON_AddNumberToObject(s, "retry", (double)p->o->retry);
    cJSON_AddStringToObject(s, "success_string", p->o->success);
    cJSON_AddStringToObject(s, "working_dir", p->o->workdir);
    cJSON_AddStringToObject(s, "command_flavour", p->o->flavour);
    cJSON_AddStringToObject(s, "group", p->group);
    cJSON_AddNumberToObject(s, "max_instances", (double)p->o->max_instances);
    char *text = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return text;
}

static int ensure_settings(struct prov *p)
{
    char *value = settings_json(p);
    int found = 1, same = 0;
    if (!p->o->dry_run) {
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "Name", p->parameter);
        struct res r;
        if (call(p, &aws_ssm, "GetParameter", params, &r)) {
            if (strcmp(r.error, "ParameterNotFound")) {
                failed_res("parameter", p->parameter, &r);
                res_free(&r);
                free(value);
                return -1;
            }
        } else {
            const cJSON *prm = cJSON_GetObjectItemCaseSensitive(r.json, "Parameter");
            const char *old = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prm, "Value"));
            found = 0;
            same = old && !strcmp(old, value);
        }
        res_free(&r);
    }
    if (found == 0 && same) {
        free(value);
        said(p, "parameter", p->parameter, "exists");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "Name", p->parameter);
    cJSON_AddStringToObject(params, "Description", "dss resource automation settings (dss-scheduler provision)");
    cJSON_AddStringToObject(params, "Type", "String");
    cJSON_AddStringToObject(params, "Value", value);
    if (found == 0)
        cJSON_AddBoolToObject(params, "Overwrite", 1);
    free(value);
    struct res r;
    if (mutate(p, &aws_ssm, "PutParameter", params, &r))
        return failed_res("put parameter", p->parameter, &r);
    res_free(&r);
    said(p, "parameter", p->parameter, found == 0 ? "updated" : "created");
    return 0;
}

/* ---- provision ---- */

static void name_things(struct prov *p)
{
    const char *s = p->o->stack;
    snprintf(p->queue[0], sizeof p->queue[0], "%s-job-queue", s);
    snprintf(p->queue[1], sizeof p->queue[1], "%s-job-queue-finished", s);
    snprintf(p->queue[2], sizeof p->queue[2], "%s-job-queue-failed", s);
    snprintf(p->events, sizeof p->events, "%s-s3-events", s);
    snprintf(p->table, sizeof p->table, "%s-job-monitoring", s);
    snprintf(p->template, sizeof p->template, "%s-launch-template", s);
    snprintf(p->group, sizeof p->group, "%s-autoscaling-group", s);
    snprintf(p->parameter, sizeof p->parameter, "/dss/%s/automation", s);
    snprintf(p->account, sizeof p->account, "%s", ACCOUNT_PLACEHOLDER);
    snprintf(p->bucket, sizeof p->bucket, "%s", p->o->bucket ? p->o->bucket : "");
}

static int provision(struct prov *p)
{
    if (p->o->dry_run)
        printf("# dss-scheduler provision --dry-run: the calls provision makes when nothing exists yet, in order.\n"
               "# No request is made, not even the look-ups a real run makes first to skip what exists\n"
               "# (GetQueueUrl, DescribeTable, HeadBucket, GetBucketNotificationConfiguration,\n"
               "# DescribeLaunchTemplates, DescribeAutoScalingGroups, GetParameter); ${...} stands for what\n"
               "# the look-ups find (account id, availability zones, image).\n");
    for (int i = 0; i < 3; i++)
        if (ensure_queue(p, p->queue[i], NULL))
            return 1;
    if (ensure_table(p))
        return 1;
    if (p->o->automation && (ensure_bucket(p) || ensure_queue(p, p->events, events_queue_attributes(p)) ||
                             ensure_notification(p) || ensure_template(p) || ensure_group(p) ||
                             ensure_settings(p)))
        return 1;
    if (!p->o->dry_run)
        printf("provision: stack %s: %d created, %d updated, %d already existed\n", p->o->stack, p->created,
               p->updated, p->existing);
    return 0;
}

/* ---- teardown ---- */

static int valid_bucket(const char *b);

struct findings {
    char queue_url[4][2048]; /* job, finished, failed, events; "" when absent */
    int table, bucket, group, settings, template; /* 1 present */
    int refused;
};

/* Messages in a queue, visible or not: -1 on error. */
static long queue_depth(struct prov *p, const char *url)
{
    static const char *const names[] = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        "ApproximateNumberOfMessagesDelayed", NULL};
    cJSON *params = aws_sqs_attributes_params(url, names);
    struct res r;
    if (call(p, &aws_sqs, "GetQueueAttributes", params, &r)) {
        failed_res("queue", url, &r);
        res_free(&r);
        return -1;
    }
    long n = 0;
    const cJSON *a, *attrs = cJSON_GetObjectItemCaseSensitive(r.json, "Attributes");
    cJSON_ArrayForEach(a, attrs)
        if (cJSON_IsString(a))
            n += strtol(a->valuestring, NULL, 10);
    res_free(&r);
    return n;
}

/* 1 if the table holds an item, 0 if empty, -1 on error. */
static int table_has_items(struct prov *p)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "TableName", p->table);
    cJSON_AddNumberToObject(params, "Limit", 1);
    struct res r;
    if (call(p, &aws_dynamodb, "Scan", params, &r)) {
        failed_res("table", p->table, &r);
        res_free(&r);
        return -1;
    }
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "Items"));
    res_free(&r);
    return n > 0;
}

/* Keys of up to 1000 objects into keys (a cJSON array); -1 on error. */
static int bucket_keys(struct prov *p, cJSON *keys)
{
    struct s3_reply r;
    if (s3_call(p, "GET", "list-type=2&max-keys=1000", NULL, NULL, &r)) {
        failed("bucket", p->bucket, r.code, r.message);
        s3_reply_free(&r);
        return -1;
    }
    xmlDocPtr doc = xmlReadMemory(r.body.data ? r.body.data : "", (int)r.body.len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    s3_reply_free(&r);
    xmlNodePtr c = doc ? aws_xml_child(xmlDocGetRootElement(doc), "Contents") : NULL;
    for (; c; c = aws_xml_next(c, "Contents")) {
        char key[2048];
        if (aws_xml_text(c, "Key", key, sizeof key) == 0)
            cJSON_AddItemToArray(keys, cJSON_CreateString(key));
    }
    xmlFreeDoc(doc);
    return doc ? 0 : failed("bucket", p->bucket, "MalformedXML", "the listing is not XML");
}

/* Shows AWS's own refusal: the delete, attempted without force, fails while not empty. */
static void show_bucket_refusal(struct prov *p, struct findings *f)
{
    struct s3_reply r;
    if (s3_call(p, "DELETE", NULL, NULL, NULL, &r)) {
        fprintf(stderr, "dss-scheduler: teardown refused: bucket %s: %s: %s\n", p->bucket, r.code, r.message);
    } else {
        f->bucket = 0;
        said(p, "bucket", p->bucket, "deleted (it had emptied meanwhile)");
    }
    s3_reply_free(&r);
}

static void show_group_refusal(struct prov *p, struct findings *f)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "AutoScalingGroupName", p->group);
    struct res r;
    if (call(p, &aws_autoscaling, "DeleteAutoScalingGroup", params, &r)) {
        fprintf(stderr, "dss-scheduler: teardown refused: auto scaling group %s: %s: %s\n", p->group, r.error,
                r.message);
    } else {
        f->group = 0;
        said(p, "auto scaling group", p->group, "deleted (it had emptied meanwhile)");
    }
    res_free(&r);
}

static int parameter_present(struct prov *p)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "Name", p->parameter);
    struct res r;
    int rc = call(p, &aws_ssm, "GetParameter", params, &r);
    int present = rc == 0 ? 1 : !strcmp(r.error, "ParameterNotFound") ? 0 : failed_res("parameter", p->parameter, &r);
    if (present == 1 && !p->bucket[0]) { /* the bucket provision was given */
        const cJSON *prm = cJSON_GetObjectItemCaseSensitive(r.json, "Parameter");
        cJSON *settings = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(prm, "Value")));
        const char *b = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(settings, "bucket"));
        if (b && valid_bucket(b))
            snprintf(p->bucket, sizeof p->bucket, "%s", b);
        cJSON_Delete(settings);
    }
    res_free(&r);
    return present;
}

/* Looks everything up and decides whether teardown may go on. -1 on error. */
static int survey(struct prov *p, struct findings *f)
{
    if ((f->settings = parameter_present(p)) < 0)
        return -1;
    const char *names[4] = {p->queue[0], p->queue[1], p->queue[2], p->events};
    /* The events queue's depth is not checked: each event in it is for an object of the bucket
     * (which is), and storing the notification put an s3:TestEvent there that nothing reads
     * until `dss-scheduler run` does. */
    for (int i = 0; i < 4; i++) {
        int found = queue_lookup(p, names[i], f->queue_url[i], sizeof f->queue_url[i]);
        if (found < 0)
            return -1;
        if (found)
            f->queue_url[i][0] = '\0';
        long depth = found ? 0 : queue_depth(p, f->queue_url[i]);
        if (depth < 0)
            return -1;
        if (depth > 0 && !p->o->force && i < 3) {
            fprintf(stderr, "dss-scheduler: teardown refused: queue %s holds %ld message%s\n", names[i], depth,
                    depth == 1 ? "" : "s");
            f->refused = 1;
        }
        if (!found && i == 0)
            account_from_url(p, f->queue_url[0]);
    }
    char status[32];
    int found = table_lookup(p, status, sizeof status);
    if (found < 0)
        return -1;
    f->table = found == 0;
    int items = f->table ? table_has_items(p) : 0;
    if (items < 0)
        return -1;
    if (items && !p->o->force) {
        fprintf(stderr, "dss-scheduler: teardown refused: table %s holds items\n", p->table);
        f->refused = 1;
    }
    if (p->bucket[0]) {
        if ((found = bucket_lookup(p)) < 0)
            return -1;
        f->bucket = found == 0;
        cJSON *keys = cJSON_CreateArray();
        int rc = f->bucket ? bucket_keys(p, keys) : 0;
        int objects = cJSON_GetArraySize(keys);
        cJSON_Delete(keys);
        if (rc)
            return -1;
        if (objects && !p->o->force) {
            show_bucket_refusal(p, f);
            f->refused |= f->bucket;
        }
    }
    xmlDocPtr doc = NULL;
    xmlNodePtr g = NULL;
    if ((found = group_lookup(p, &doc, &g)) < 0)
        return -1;
    f->group = found == 0;
    int instances = g && aws_xml_path(g, "Instances/member") != NULL;
    xmlFreeDoc(doc);
    if (instances && !p->o->force) {
        show_group_refusal(p, f);
        f->refused |= f->group;
    }
    if ((found = template_lookup(p)) < 0)
        return -1;
    f->template = found == 0;
    return 0;
}

static int delete_settings(struct prov *p, const struct findings *f)
{
    if (!f->settings) {
        said(p, "parameter", p->parameter, "absent");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "Name", p->parameter);
    struct res r;
    int rc = call(p, &aws_ssm, "DeleteParameter", params, &r) ? failed_res("delete parameter", p->parameter, &r) : 0;
    res_free(&r);
    if (!rc)
        said(p, "parameter", p->parameter, "deleted");
    return rc;
}

/* Deletes the group (ForceDelete with --force) and waits until it is gone. */
static int delete_group(struct prov *p, const struct findings *f)
{
    if (!f->group) {
        said(p, "auto scaling group", p->group, "absent");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "AutoScalingGroupName", p->group);
    if (p->o->force)
        cJSON_AddBoolToObject(params, "ForceDelete", 1);
    struct res r;
    if (call(p, &aws_autoscaling, "DeleteAutoScalingGroup", params, &r)) {
        failed_res("delete auto scaling group", p->group, &r);
        res_free(&r);
        return -1;
    }
    res_free(&r);
    for (int64_t waited = 0; waited < WAIT_ACTIVE_MS; waited += 1000) {
        xmlDocPtr doc = NULL;
        xmlNodePtr g;
        int found = group_lookup(p, &doc, &g);
        xmlFreeDoc(doc);
        if (found < 0)
            return -1;
        if (found == 1) {
            said(p, "auto scaling group", p->group, "deleted");
            return 0;
        }
        pause_ms(p, 1000);
    }
    return failed("auto scaling group", p->group, "Timeout", "still there 10 minutes after DeleteAutoScalingGroup");
}

static int delete_template(struct prov *p, const struct findings *f)
{
    if (!f->template) {
        said(p, "launch template", p->template, "absent");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "LaunchTemplateName", p->template);
    struct res r;
    int rc = call(p, &aws_ec2, "DeleteLaunchTemplate", params, &r) ? failed_res("delete launch template",
                                                                               p->template, &r) : 0;
    res_free(&r);
    if (!rc)
        said(p, "launch template", p->template, "deleted");
    return rc;
}

/* Removes our queue configuration from the bucket's notification, keeping the others. */
static int delete_notification(struct prov *p, const struct findings *f)
{
    char name[400], arn[400];
    snprintf(name, sizeof name, "%s -> %s", p->bucket[0] ? p->bucket : "(bucket unknown)", p->events);
    if (!f->bucket) {
        said(p, "notification", name, "absent");
        return 0;
    }
    xmlDocPtr doc = notification_get(p);
    if (!doc)
        return -1;
    events_queue_arn(p, arn, sizeof arn);
    int found = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next)
        found |= c->type == XML_ELEMENT_NODE && is_ours(c, arn);
    int rc = found ? notification_put(p, doc, 0) : 0;
    xmlFreeDoc(doc);
    if (!rc)
        said(p, "notification", name, found ? "deleted" : "absent");
    return rc;
}

static int delete_queue(struct prov *p, const char *name, const char *url)
{
    if (!*url) {
        said(p, "queue", name, "absent");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "QueueUrl", url);
    struct res r;
    int rc = call(p, &aws_sqs, "DeleteQueue", params, &r) ? failed_res("delete queue", name, &r) : 0;
    res_free(&r);
    if (!rc)
        said(p, "queue", name, "deleted");
    return rc;
}

/* DeleteObjects for keys (at most 1000), with the Content-MD5 S3 requires. */
static int delete_objects(struct prov *p, const cJSON *keys)
{
    struct buf body;
    buf_init(&body, 4u << 20);
    xml_open(&body, "Delete", S3_XMLNS);
    xml_element(&body, "Quiet", "true");
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) {
        xml_open(&body, "Object", NULL);
        xml_element(&body, "Key", k->valuestring);
        xml_close(&body, "Object");
    }
    xml_close(&body, "Delete");
    char hex[33];
    unsigned char raw[16];
    md5_hex(body.data, body.len, hex);
    hex_decode(hex, 32, raw);
    struct buf md5;
    buf_init(&md5, 64);
    base64_encode(&md5, raw, sizeof raw);
    struct s3_reply r;
    int rc = s3_call(p, "POST", "delete", body.data, md5.data, &r);
    if (rc)
        failed("delete objects in", p->bucket, r.code, r.message);
    s3_reply_free(&r);
    buf_free(&md5);
    buf_free(&body);
    return rc;
}

static int delete_bucket(struct prov *p, const struct findings *f)
{
    if (!p->bucket[0]) {
        said(p, "bucket", "(unknown: no settings parameter; give --bucket B)", "skipped");
        return 0;
    }
    if (!f->bucket) {
        said(p, "bucket", p->bucket, "absent");
        return 0;
    }
    long removed = 0;
    for (;;) { /* --force: empty it first (survey refused otherwise) */
        cJSON *keys = cJSON_CreateArray();
        int rc = bucket_keys(p, keys);
        int n = cJSON_GetArraySize(keys);
        if (!rc && n)
            rc = delete_objects(p, keys);
        cJSON_Delete(keys);
        if (rc)
            return -1;
        if (!n)
            break;
        removed += n;
    }
    struct s3_reply r;
    int rc = s3_call(p, "DELETE", NULL, NULL, NULL, &r);
    if (rc) {
        failed("delete bucket", p->bucket, r.code, r.message);
    } else {
        char state[64];
        snprintf(state, sizeof state, removed ? "deleted (%ld object%s)" : "deleted", removed, removed == 1 ? "" : "s");
        said(p, "bucket", p->bucket, state);
    }
    s3_reply_free(&r);
    return rc;
}

static int delete_table(struct prov *p, const struct findings *f)
{
    if (!f->table) {
        said(p, "table", p->table, "absent");
        return 0;
    }
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "TableName", p->table);
    struct res r;
    int rc = call(p, &aws_dynamodb, "DeleteTable", params, &r) ? failed_res("delete table", p->table, &r) : 0;
    res_free(&r);
    if (!rc)
        said(p, "table", p->table, "deleted");
    return rc;
}

static int teardown(struct prov *p)
{
    struct findings f;
    memset(&f, 0, sizeof f);
    if (survey(p, &f))
        return 1;
    if (f.refused) {
        fprintf(stderr, "dss-scheduler: teardown of stack %s refused; nothing was deleted (--force deletes "
                        "anyway: messages, items, objects and instances)\n", p->o->stack);
        return 1;
    }
    if (delete_settings(p, &f) || delete_group(p, &f) || delete_template(p, &f) || delete_notification(p, &f) ||
        delete_queue(p, p->events, f.queue_url[3]) || delete_bucket(p, &f) || delete_table(p, &f))
        return 1;
    for (int i = 2; i >= 0; i--)
        if (delete_queue(p, p->queue[i], f.queue_url[i]))
            return 1;
    printf("teardown: stack %s: %d deleted, %d absent\n", p->o->stack, p->deleted, p->absent);
    return 0;
}

/* ---- command line ---- */

static int valid_stack(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 40) /* "S-job-queue-finished" stays within SQS's 80 characters */
        return 0;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') && *s != '-' &&
            *s != '_')
            return 0;
    return 1;
}

static int valid_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || b[0] == '.' || b[0] == '-' || b[n - 1] == '.' || b[n - 1] == '-')
        return 0;
    for (; *b; b++)
        if (!(*b >= 'a' && *b <= 'z') && !(*b >= '0' && *b <= '9') && *b != '-' && *b != '.')
            return 0;
    return 1;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    *out = strtol(s, &end, 10);
    if (!*s || *end || *out < lo || *out > hi) {
        fprintf(stderr, "dss-scheduler: %s wants a number from %ld to %ld, not '%s'\n", flag, lo, hi, s);
        return -1;
    }
    return 0;
}

static int parse(int argc, char **argv, struct prov_opts *o)
{
    static const struct option lo[] = {
        {"stack", required_argument, 0, 's'},          {"resource-automation", no_argument, 0, 'a'},
        {"bucket", required_argument, 0, 'b'},         {"trigger-suffix", required_argument, 0, 'x'},
        {"max-instances", required_argument, 0, 'm'},  {"instance-types", required_argument, 0, 't'},
        {"allocation", required_argument, 0, 'A'},     {"image-id", required_argument, 0, 'i'},
        {"working-dir", required_argument, 0, 'w'},    {"retry", required_argument, 0, 'r'},
        {"success-string", required_argument, 0, 'S'}, {"command-flavour", required_argument, 0, 'c'},
        {"dry-run", no_argument, 0, 'n'},              {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    *o = (struct prov_opts){.suffix = ".sh", .types = "t3.large,t3.medium", .allocation = "lowest-price",
                            .workdir = "$HOME/dss-work", .success = "upload:", .flavour = "shell",
                            .max_instances = 500, .retry = 3};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': o->stack = optarg; break;
        case 'a': o->automation = 1; break;
        case 'b': o->bucket = optarg; break;
        case 'x': o->suffix = optarg; break;
        case 'm': if (parse_long("--max-instances", optarg, 1, 100000, &o->max_instances)) return -1; break;
        case 't': o->types = optarg; break;
        case 'A': o->allocation = optarg; break;
        case 'i': o->image = optarg; break;
        case 'w': o->workdir = optarg; break;
        case 'r': if (parse_long("--retry", optarg, 0, 1000, &o->retry)) return -1; break;
        case 'S': o->success = optarg; break;
        case 'c': o->flavour = optarg; break;
        case 'n': o->dry_run = 1; break;
        case 'f': o->force = 1; break;
        case 'h': printf("usage: dss-scheduler\n%s", provision_usage); exit(0);
        default: return -1;
        }
    }
    int teardown = !strcmp(argv[1], "teardown");
    const char *bad = optind < argc ? "unexpected argument"
                    : !o->stack || !valid_stack(o->stack) ? "--stack NAME is required (letters, digits, - and _, "
                                                            "at most 40)"
                    : teardown && (o->dry_run || o->automation) ? "teardown takes --stack, --bucket and --force"
                    : !teardown && o->force ? "--force is for teardown"
                    : o->automation && !o->bucket ? "--resource-automation needs --bucket B"
                    : o->bucket && !valid_bucket(o->bucket) ? "--bucket: 3 to 63 lower-case letters, digits, . and -"
                    : !o->automation && !teardown && o->bucket ? "--bucket needs --resource-automation"
                    : strcmp(o->allocation, "lowest-price") && strcmp(o->allocation, "capacity-optimized")
                        ? "--allocation is lowest-price or capacity-optimized"
                    : strcmp(o->flavour, "shell") && strcmp(o->flavour, "powershell")
                        ? "--command-flavour is shell or powershell"
                    : !*o->suffix ? "--trigger-suffix must not be empty"
                    : !*o->types || strstr(o->types, ",,") ? "--instance-types: a comma-separated list"
                    : NULL;
    if (bad) {
        fprintf(stderr, "dss-scheduler: %s\nusage: dss-scheduler\n%s", bad, provision_usage);
        return -1;
    }
    return 0;
}

int provision_main(int argc, char **argv)
{
    struct prov_opts o;
    if (parse(argc, argv, &o))
        return 2;
    struct runtime rt;
    memset(&rt, 0, sizeof rt);
    char err[1024];
    /* A dry run needs the region (for ARNs) but no credentials: it sends nothing. */
    if (o.dry_run ? aws_config_load(&rt.cfg, err, sizeof err) : runtime_init(&rt, NULL, err, sizeof err)) {
        fprintf(stderr, "dss-scheduler: %s\n", err);
        runtime_cleanup(&rt);
        return 1;
    }
    struct prov p = {.rt = &rt, .o = &o};
    name_things(&p);
    snprintf(p.region, sizeof p.region, "%s", rt.aws ? aws_client_region(rt.aws) : rt.cfg.region ? rt.cfg.region
                                                                                                 : "us-east-1");
    int rc = !strcmp(argv[1], "teardown") ? teardown(&p) : provision(&p);
    runtime_cleanup(&rt);
    return rc;
}
