/* notify.c -- S3 event notifications delivered to SQS queues of the same emulator.
 *
 * A bucket's NotificationConfiguration lists QueueConfigurations: a queue ARN, event types
 * ("s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete", ...) and an
 * optional key filter (one prefix rule, one suffix rule). Each object event that matches a
 * configuration sends one message with the event record S3 writes (eventVersion 2.1, the key
 * URL-encoded as S3 encodes it, size, eTag, a sequencer that grows with every event) through
 * sqs_send_internal(), inside the transaction that changes the object: the event commits
 * with the change or not at all, once. Storing a configuration sends s3:TestEvent to its
 * queues, as S3 does.
 *
 * As on AWS, configurations may not overlap (share an event type with prefixes and suffixes
 * that could both match one key), and every destination must exist unless the request set
 * x-amz-skip-destination-validation. Topic and Lambda destinations are refused: neither SNS
 * nor Lambda is emulated. EventBridgeConfiguration is stored and does nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "s3.h"
#include "sqs.h"
#include "util.h"

static const char invalid_filter[] = "Invalid filter rule name";

static const char *rule_value(const cJSON *config, const char *name)
{
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(config, "Filter"), "Key"), "FilterRules");
    const cJSON *r;
    cJSON_ArrayForEach(r, rules) {
        const char *n = dss_param_str(r, "Name");
        if (n && strcasecmp(n, name) == 0)
            return dss_param_str(r, "Value") ? dss_param_str(r, "Value") : "";
    }
    return "";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether configured event type pattern ("s3:ObjectCreated:*") covers event. */
static int event_covers(const char *pattern, const char *event)
{
    size_t n = strlen(pattern);
    if (n >= 2 && strcmp(pattern + n - 2, ":*") == 0)
        return strncmp(pattern, event, n - 1) == 0;
    return strcmp(pattern, event) == 0;
}

static int events_overlap(const cJSON *a, const cJSON *b)
{
    const cJSON *x, *y;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(a, "Events"))
        cJSON_ArrayForEach(y, cJSON_GetObjectItemCaseSensitive(b, "Events"))
            if (cJSON_IsString(x) && cJSON_IsString(y) &&
                (event_covers(x->valuestring, y->valuestring) || event_covers(y->valuestring, x->valuestring)))
                return 1;
    return 0;
}

/* Two configurations overlap when some key could match both: a shared event type, prefixes
 * one of which starts the other, suffixes one of which ends the other. */
static int configs_overlap(const cJSON *a, const cJSON *b)
{
    const char *pa = rule_value(a, "prefix"), *pb = rule_value(b, "prefix");
    const char *sa = rule_value(a, "suffix"), *sb = rule_value(b, "suffix");
    int prefixes = strncmp(pa, pb, strlen(pa)) == 0 || strncmp(pb, pa, strlen(pb)) == 0;
    int suffixes = ends_with(sa, sb) || ends_with(sb, sa);
    return prefixes && suffixes && events_overlap(a, b);
}

static int check_filter(struct dss_call *call, const cJSON *config)
{
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(config, "Filter"), "Key"), "FilterRules");
    int prefixes = 0, suffixes = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rules) {
        const char *name = dss_param_str(r, "Name"), *value = dss_param_str(r, "Value");
        if (!name || (strcasecmp(name, "prefix") && strcasecmp(name, "suffix")))
            return dss_fail(call, DSS_E_InvalidArgument, "%s", invalid_filter);
        if (value && strlen(value) > S3_MAX_KEY)
            return dss_fail(call, DSS_E_InvalidArgument, "The filter rule value is too long.");
        if (strcasecmp(name, "prefix") == 0 ? prefixes++ : suffixes++)
            return dss_fail(call, DSS_E_InvalidArgument, "Cannot specify more than one %s rule in a filter.", name);
    }
    return 0;
}

static int valid_event(const char *name)
{
    const cJSON *e, *events = cJSON_GetObjectItemCaseSensitive(restxml_shape(s3_model(), "Event"), "enum");
    cJSON_ArrayForEach(e, events)
        if (cJSON_IsString(e) && strcmp(e->valuestring, name) == 0)
            return 1;
    return 0;
}

/* An Id like S3's when a configuration has none: base64 of a random UUID. */
static void new_config_id(cJSON *config)
{
    uuid_t u;
    char text[37];
    struct buf b;
    uuid_generate_random(u);
    uuid_unparse_lower(u, text);
    buf_init(&b, 128);
    base64_encode(&b, text, strlen(text));
    cJSON_AddStringToObject(config, "Id", b.data ? b.data : "");
    buf_free(&b);
}

int s3_notify_check(struct dss_call *call, cJSON *config, const struct s3_bucket *b)
{
    static const char *const unsupported[] = {"TopicConfigurations", "LambdaFunctionConfigurations", NULL};
    for (int i = 0; unsupported[i]; i++)
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(config, unsupported[i])) > 0)
            return dss_fail(call, DSS_E_InvalidArgument, "Unable to validate the following destination "
                                                         "configurations: SNS and Lambda are not emulated");
    int skip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "_SkipDestinationValidation"));
    cJSON *queues = cJSON_GetObjectItemCaseSensitive(config, "QueueConfigurations"), *q;
    cJSON_ArrayForEach(q, queues) {
        const char *arn = dss_param_str(q, "QueueArn");
        const cJSON *events = cJSON_GetObjectItemCaseSensitive(q, "Events"), *e;
        if (!arn || cJSON_GetArraySize(events) == 0)
            return dss_fail(call, DSS_E_MalformedXML, "The XML you provided was not well-formed or did not "
                                                      "validate against our published schema");
        cJSON_ArrayForEach(e, events)
            if (!cJSON_IsString(e) || !valid_event(e->valuestring))
                return dss_fail(call, DSS_E_InvalidArgument, "The event '%s' is not supported for notifications",
                                cJSON_IsString(e) ? e->valuestring : "");
        if (check_filter(call, q))
            return DSS_ERR;
        if (!skip && !sqs_queue_exists(call, arn))
            return dss_fail(call, DSS_E_InvalidArgument, "Unable to validate the following destination "
                                                         "configurations: %s (the queue does not exist in %s)",
                            arn, b->region);
        for (const cJSON *p = queues->child; p != q; p = p->next)
            if (configs_overlap(p, q))
                return dss_fail(call, DSS_E_InvalidArgument, "Configurations overlap. Configurations on the same "
                                                             "bucket cannot share a common event type.");
        if (!dss_param_str(q, "Id") || !dss_param_str(q, "Id")[0]) {
            cJSON_DeleteItemFromObjectCaseSensitive(q, "Id");
            new_config_id(q);
        }
    }
    return 0;
}

static void send(struct dss_call *call, const char *arn, cJSON *message)
{
    char *body = cJSON_PrintUnformatted(message);
    /* A destination deleted since the configuration was stored just loses the event, as
     * on AWS; the object change itself must not fail for it. */
    if (body && sqs_send_internal(call, arn, body) != 0)
        log_debug("s3: event for %s not delivered: %s", arn, dss_error_message(call));
    free(body);
}

void s3_notify_test(struct dss_call *call, const cJSON *config, const struct s3_bucket *b)
{
    char when[32];
    iso8601_ms(dss_clock_now_ms(), when);
    const cJSON *q;
    cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(config, "QueueConfigurations")) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "Service", "Amazon S3");
        cJSON_AddStringToObject(m, "Event", "s3:TestEvent");
        cJSON_AddStringToObject(m, "Time", when);
        cJSON_AddStringToObject(m, "Bucket", b->name);
        cJSON_AddStringToObject(m, "RequestId", dss_call_request_id(call));
        cJSON_AddStringToObject(m, "HostId", dss_call_request_id(call));
        send(call, dss_param_str(q, "QueueArn"), m);
        cJSON_Delete(m);
    }
}

/* S3's sequencer: hex that grows with every event, across restarts (it starts from the
 * clock). Events are written under the writer lock, but a mutex keeps this honest anyway. */
static void next_sequencer(char out[17])
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t last;
    pthread_mutex_lock(&lock);
    uint64_t now = (uint64_t)dss_clock_now_ms() << 16;
    last = now > last ? now : last + 1;
    snprintf(out, 17, "%016llX", (unsigned long long)last);
    pthread_mutex_unlock(&lock);
}

static cJSON *event_record(struct dss_call *call, const struct s3_bucket *b, const cJSON *config, const char *event,
                           const char *key, int64_t size, const char *etag)
{
    char when[32], arn[96], seq[17];
    iso8601_ms(dss_clock_now_ms(), when);
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s", b->name);
    next_sequencer(seq);
    struct buf encoded;
    buf_init(&encoded, SIZE_MAX);
    s3_url_encode(&encoded, key);

    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "eventVersion", "2.1");
    cJSON_AddStringToObject(r, "eventSource", "aws:s3");
    cJSON_AddStringToObject(r, "awsRegion", b->region);
    cJSON_AddStringToObject(r, "eventTime", when);
    cJSON_AddStringToObject(r, "eventName", event);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "userIdentity"), "principalId", "AWS:" S3_ACCOUNT_ID);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "requestParameters"), "sourceIPAddress", dss_call_peer(call));
    cJSON *resp = cJSON_AddObjectToObject(r, "responseElements");
    cJSON_AddStringToObject(resp, "x-amz-request-id", dss_call_request_id(call));
    cJSON_AddStringToObject(resp, "x-amz-id-2", dss_call_request_id(call));
    cJSON *s3 = cJSON_AddObjectToObject(r, "s3");
    cJSON_AddStringToObject(s3, "s3SchemaVersion", "1.0");
    cJSON_AddStringToObject(s3, "configurationId", dss_param_str(config, "Id") ? dss_param_str(config, "Id") : "");
    cJSON *bucket = cJSON_AddObjectToObject(s3, "bucket");
    cJSON_AddStringToObject(bucket, "name", b->name);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(bucket, "ownerIdentity"), "principalId", S3_ACCOUNT_ID);
    cJSON_AddStringToObject(bucket, "arn", arn);
    cJSON *object = cJSON_AddObjectToObject(s3, "object");
    cJSON_AddStringToObject(object, "key", encoded.data ? encoded.data : "");
    if (size >= 0)
        cJSON_AddNumberToObject(object, "size", (double)size);
    if (etag)
        cJSON_AddStringToObject(object, "eTag", etag);
    cJSON_AddStringToObject(object, "sequencer", seq);
    buf_free(&encoded);
    return r;
}

void s3_notify(struct dss_call *call, const struct s3_bucket *b, const char *event, const char *key, int64_t size,
               const char *etag)
{
    char full[96];
    snprintf(full, sizeof full, "s3:%s", event);
    const cJSON *q, *e;
    cJSON_ArrayForEach(q, cJSON_GetObjectItemCaseSensitive(b->notification, "QueueConfigurations")) {
        int wanted = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(q, "Events"))
            wanted |= cJSON_IsString(e) && event_covers(e->valuestring, full);
        const char *prefix = rule_value(q, "prefix"), *suffix = rule_value(q, "suffix");
        if (!wanted || strncmp(key, prefix, strlen(prefix)) != 0 || !ends_with(key, suffix))
            continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "Records"), event_record(call, b, q, event, key, size, etag));
        send(call, dss_param_str(q, "QueueArn"), m);
        cJSON_Delete(m);
    }
}
