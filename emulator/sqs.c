/* sqs.c -- Amazon Simple Queue Service, API 2012-11-05.
 *
 * Protocols: JSON 1.0 (X-Amz-Target AmazonSQS.*, current SDKs; errors also carry the legacy
 * code in x-amzn-query-error, as the model's awsQueryCompatible asks) and Query (Action=...,
 * older SDKs and Debian's AWS CLI v2). Both reach the same operations below.
 *
 * Supported: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, GetQueueAttributes,
 * SetQueueAttributes, SendMessage, SendMessageBatch, ReceiveMessage (long polling),
 * DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch,
 * PurgeQueue, TagQueue, UntagQueue, ListQueueTags.
 *
 * Semantics, as AWS documents them: at-least-once delivery; a received message is invisible
 * until its visibility timeout passes; every receive issues a new receipt handle, and one from
 * an older receive is stale: DeleteMessage with it succeeds but deletes nothing (AWS: "the
 * request succeeds, but the message might not be deleted"), ChangeMessageVisibility with it
 * fails; after maxReceiveCount receives a message moves to the dead-letter queue of the
 * RedrivePolicy instead of being delivered; messages older than MessageRetentionPeriod vanish;
 * one PurgeQueue per queue per 60 s. A long poll parks without a thread and is woken by any
 * commit that may have made a message visible (send, visibility change, redrive) or by the
 * moment the next delayed or in-flight message becomes visible.
 *
 * Validation, as AWS does it: every parameter's JSON type against the model (a mistyped
 * member is a SerializationException, never an absent value); bodies and String attribute
 * values limited to the XML character set (InvalidMessageContents names the first bad
 * character); attribute names, types and Number values; a RedrivePolicy must name an existing
 * dead-letter queue; MaximumMessageSize per message, 1 MiB per SendMessageBatch in total.
 *
 * Limitations: FIFO queues (FifoQueue=true) are refused with InvalidAttributeName; no
 * QueueDeletedRecently 60-second rule; Policy, KMS and redrive-allow attributes are stored
 * and returned but not enforced; MessageSystemAttributes (AWSTraceHeader) are accepted and
 * ignored; a NUL in a Query-protocol value is refused by the protocol layer as
 * InvalidParameterValue before SQS sees it (AWS would say InvalidMessageContents for a body).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "db.h"
#include "protocol.h"
#include "service.h"
#include "sqs.h"
#include "util.h"

#define ACCOUNT_ID "000000000000"
#define BATCH_MAX 10
#define BATCH_PAYLOAD_MAX 1048576 /* bytes of all the messages of one SendMessageBatch */
#define PURGE_INTERVAL_MS 60000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS sqs_queues("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  region TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL,"
    "  attrs TEXT NOT NULL,"      /* JSON object of the settable attributes, string values */
    "  tags TEXT NOT NULL,"       /* JSON object */
    "  purged_ms INTEGER NOT NULL DEFAULT 0);"
    /* seq without AUTOINCREMENT: a rowid may come back after the newest message is deleted, and
     * a receipt handle still names one delivery only (its nonce must match receipt), while
     * sqlite_sequence would be one more page written by every SendMessage. */
    "CREATE TABLE IF NOT EXISTS sqs_messages("
    "  seq INTEGER PRIMARY KEY,"
    "  queue_id INTEGER NOT NULL REFERENCES sqs_queues(id) ON DELETE CASCADE,"
    "  message_id TEXT NOT NULL,"
    "  body BLOB NOT NULL,"
    "  md5_body TEXT NOT NULL,"
    "  attrs TEXT,"               /* JSON of MessageAttributes, NULL if none */
    "  md5_attrs TEXT,"
    "  sent_ms INTEGER NOT NULL,"
    "  visible_ms INTEGER NOT NULL," /* delivered only when now >= visible_ms */
    "  receive_count INTEGER NOT NULL DEFAULT 0,"
    "  first_receive_ms INTEGER,"
    "  receipt TEXT);"             /* nonce of the latest receive */
    "CREATE INDEX IF NOT EXISTS sqs_messages_ready ON sqs_messages(queue_id, visible_ms, seq);"
    /* The only index: each one is a page more in every send, receive and delete. Retention
     * needs none: the oldest send time of each queue is known in memory (a lower bound,
     * below), so a receive looks for expired messages only when there can be some. Earlier
     * data directories had one more (sqs_messages_live, and before it _age and _count): with it
     * a send wrote 3 pages, a receive 4 and a delete 3, against 2, 3 and 2 now. */
    "DROP INDEX IF EXISTS sqs_messages_age;"
    "DROP INDEX IF EXISTS sqs_messages_count;"
    "DROP INDEX IF EXISTS sqs_messages_live;";

/* Settable attributes and their defaults (AWS's, with the 1 MiB message size of 2025). */
static const struct attr_rule {
    const char *name;
    const char *dflt; /* NULL: absent unless set */
    long min, max;    /* for numeric attributes; min > max: not numeric */
} attr_rules[] = {
    {"DelaySeconds", "0", 0, 900},
    {"MaximumMessageSize", "1048576", 1024, 1048576},
    {"MessageRetentionPeriod", "345600", 60, 1209600},
    {"ReceiveMessageWaitTimeSeconds", "0", 0, 20},
    {"VisibilityTimeout", "30", 0, 43200},
    {"SqsManagedSseEnabled", "true", 1, 0},
    {"Policy", NULL, 1, 0},
    {"RedrivePolicy", NULL, 1, 0},
    {"RedriveAllowPolicy", NULL, 1, 0},
    {"KmsMasterKeyId", NULL, 1, 0},
    {"KmsDataKeyReusePeriodSeconds", NULL, 60, 86400},
    {NULL, NULL, 0, 0},
};

struct queue {
    int64_t id;
    char name[81];
    char region[64];
    int64_t created_ms, modified_ms, purged_ms;
    cJSON *attrs; /* owned */
};

static void queue_cleanup(struct queue *q)
{
    cJSON_Delete(q->attrs);
    q->attrs = NULL;
}

static long queue_attr_long(const struct queue *q, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, name));
    for (const struct attr_rule *r = attr_rules; !v && r->name; r++)
        if (strcmp(r->name, name) == 0)
            v = r->dflt;
    return v ? strtol(v, NULL, 10) : 0;
}

/* ---- Names, URLs and ARNs ---- */

static int valid_queue_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 80)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static void queue_url(struct dss_call *call, const char *name, char *out, size_t n)
{
    snprintf(out, n, "http://%s/%s/%s", dss_call_host(call), ACCOUNT_ID, name);
}

static void queue_arn(const struct queue *q, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:sqs:%s:%s:%s", q->region, ACCOUNT_ID, q->name);
}

/* Queues loaded by write operations, kept while sqs_queues is unchanged (db.h's change
 * counts). Every SQS write begins by loading its queue, a SELECT by name that was 5 % of a
 * SendMessage's instructions. Used only inside write transactions, with the writer lock held:
 * there the writer connection's view is the newest, and nothing changes the table but the
 * transaction itself, whose changes move the count. A reader's snapshot may be older than the
 * count it sees, so readers always load. */
#define QUEUE_CACHE_SLOTS 4 /* a queue and its dead-letter queue, with room */

static struct {
    unsigned long changes; /* of sqs_queues, when the slots were filled */
    int next;              /* the slot the next load replaces */
    struct {
        struct queue q;   /* attrs NULL: attrs_json holds them */
        char *attrs_json; /* NULL: the slot is empty */
    } slots[QUEUE_CACHE_SLOTS];
} queue_cache;

/* Empties the cache: at start and stop, as a process may open another data directory (the
 * unit tests and fuzz targets do) where the same names are other queues. */
static void queue_cache_clear(void)
{
    for (int i = 0; i < QUEUE_CACHE_SLOTS; i++) {
        free(queue_cache.slots[i].attrs_json);
        queue_cache.slots[i].attrs_json = NULL;
    }
}

/* The cached queue named name into q (its attributes parsed afresh, q owns them): 0, or -1
 * when it is not cached. Drops every slot once sqs_queues has changed. */
static int queue_cache_get(const char *name, struct queue *q)
{
    static const char *const tables[] = {"sqs_queues", NULL};
    static struct dss_db_tables changes = {.names = tables};
    unsigned long now = dss_db_tables_changes(&changes);
    if (changes.slots[0] < 0) /* db.c watches sixteen tables at most: this one is not counted */
        return -1;
    if (now != queue_cache.changes) {
        queue_cache_clear();
        queue_cache.changes = now;
        return -1;
    }
    for (int i = 0; i < QUEUE_CACHE_SLOTS; i++)
        if (queue_cache.slots[i].attrs_json && !strcmp(queue_cache.slots[i].q.name, name)) {
            *q = queue_cache.slots[i].q;
            q->attrs = cJSON_Parse(queue_cache.slots[i].attrs_json);
            return q->attrs ? 0 : -1;
        }
    return -1;
}

static void queue_cache_put(const struct queue *q, const char *attrs_json)
{
    char *copy = strdup(attrs_json);
    if (!copy)
        return;
    int i = queue_cache.next;
    queue_cache.next = (i + 1) % QUEUE_CACHE_SLOTS;
    free(queue_cache.slots[i].attrs_json);
    queue_cache.slots[i].q = *q;
    queue_cache.slots[i].q.attrs = NULL;
    queue_cache.slots[i].attrs_json = copy;
}

/* Loads the queue by name into q. Returns 0, or -1 if there is none. */
static int queue_load(struct dss_call *call, const char *name, struct queue *q)
{
    int cache = dss_db_writing();
    if (cache && queue_cache_get(name, q) == 0)
        return 0;
    sqlite3_stmt *st = dss_stmt(call, "SELECT id, name, region, created_ms, modified_ms, attrs, "
                                      "purged_ms FROM sqs_queues WHERE name = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        return -1;
    q->id = sqlite3_column_int64(st, 0);
    const char *name_col = (const char *)sqlite3_column_text(st, 1), *region = (const char *)sqlite3_column_text(st, 2);
    str_copy(q->name, sizeof q->name, name_col ? name_col : ""); /* NULL only when out of memory */
    str_copy(q->region, sizeof q->region, region ? region : "");
    q->created_ms = sqlite3_column_int64(st, 3);
    q->modified_ms = sqlite3_column_int64(st, 4);
    const char *attrs = (const char *)sqlite3_column_text(st, 5);
    q->attrs = cJSON_Parse(attrs);
    q->purged_ms = sqlite3_column_int64(st, 6);
    if (cache && q->attrs)
        queue_cache_put(q, attrs);
    sqlite3_reset(st);
    if (!q->attrs)
        q->attrs = cJSON_CreateObject();
    return 0;
}

/* The queue a request's QueueUrl names: its last path segment, whatever host the URL has,
 * as AWS accepts. Older Query clients post to the queue URL instead of passing QueueUrl. */
static int queue_from_params(struct dss_call *call, const cJSON *params, struct queue *q)
{
    const char *url = dss_param_str(params, "QueueUrl");
    if (!url) {
        const char *path = dss_call_path(call);
        if (strncmp(path, "/" ACCOUNT_ID "/", 14) != 0)
            return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter QueueUrl.");
        url = path;
    }
    const char *slash = strrchr(url, '/');
    const char *name = slash ? slash + 1 : url;
    if (queue_load(call, name, q) != 0)
        return dss_fail(call, DSS_E_QueueDoesNotExist, "The specified queue does not exist.");
    return 0;
}

/* ---- Attribute validation ---- */

static const struct attr_rule *attr_rule(const char *name)
{
    for (const struct attr_rule *r = attr_rules; r->name; r++)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

static int queue_from_arn(struct dss_call *call, const char *arn, struct queue *q);

/* maxReceiveCount of a redrive policy, a JSON number or numeric string; 0 if absent or not a
 * whole number in 1..1000. */
static long redrive_max_receives(const cJSON *policy)
{
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(policy, "maxReceiveCount");
    double d = -1;
    if (cJSON_IsNumber(max)) {
        d = max->valuedouble;
    } else if (cJSON_IsString(max) && max->valuestring[0]) {
        char *end;
        d = strtod(max->valuestring, &end);
        if (*end)
            d = -1;
    }
    return d >= 1 && d <= 1000 && d == (double)(long)d ? (long)d : 0; /* range first: no UB cast */
}

/* Checks a RedrivePolicy value as AWS does when it is set: a JSON map naming an existing
 * dead-letter queue and a maxReceiveCount of 1..1000. */
static int check_redrive_policy(struct dss_call *call, const char *value)
{
    cJSON *p = cJSON_Parse(value);
    const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "deadLetterTargetArn"));
    const char *reason = NULL;
    struct queue dlq = {0};
    if (!cJSON_IsObject(p)) {
        reason = "Redrive policy is not a valid JSON map.";
    } else if (!arn) {
        reason = "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.";
    } else if (!cJSON_HasObjectItem(p, "maxReceiveCount")) {
        reason = "Redrive policy does not contain mandatory attribute: maxReceiveCount.";
    } else if (!redrive_max_receives(p)) {
        reason = "Invalid value for maxReceiveCount: must be an integer from 1 to 1000 both inclusive.";
    } else if (queue_from_arn(call, arn, &dlq) != 0) {
        reason = "Dead letter target does not exist.";
    }
    queue_cleanup(&dlq);
    cJSON_Delete(p); /* reason points to static text, arn is not used below */
    if (reason)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value %.600s for parameter RedrivePolicy is invalid. Reason: %s", value, reason);
    return 0;
}

/* Checks every attribute of a CreateQueue/SetQueueAttributes map. */
static int check_attributes(struct dss_call *call, const cJSON *attrs)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        if (strcmp(a->string, "FifoQueue") == 0 || strcmp(a->string, "ContentBasedDeduplication") == 0 ||
            strcmp(a->string, "DeduplicationScope") == 0 || strcmp(a->string, "FifoThroughputLimit") == 0)
            return dss_fail(call, DSS_E_InvalidAttributeName,
                            "Unknown Attribute %s. (dss-emulator serves standard queues only.)", a->string);
        const struct attr_rule *r = attr_rule(a->string);
        if (!r)
            return dss_fail(call, DSS_E_InvalidAttributeName, "Unknown Attribute %s.", a->string);
        if (!cJSON_IsString(a))
            return dss_fail(call, DSS_E_InvalidAttributeValue, "Invalid value for the parameter %s.", a->string);
        if (r->min <= r->max) {
            char *end;
            long v = strtol(a->valuestring, &end, 10);
            if (a->valuestring[0] == '\0' || *end || v < r->min || v > r->max)
                return dss_fail(call, DSS_E_InvalidAttributeValue, "Invalid value for the parameter %s.",
                                a->string);
        }
        if (strcmp(a->string, "RedrivePolicy") == 0 && a->valuestring[0] &&
            check_redrive_policy(call, a->valuestring))
            return DSS_ERR;
    }
    return 0;
}

/* ---- Queue operations ---- */

/* CreateQueue: QueueName, Attributes{}, tags{} -> QueueUrl. Idempotent for equal attributes. */
static int sqs_create_queue(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "QueueName");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(params, "Attributes");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(params, "tags");
    if (!name)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter QueueName.");
    if (!valid_queue_name(name))
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
    if (attrs && check_attributes(call, attrs))
        return DSS_ERR;
    struct queue q = {0};
    char url[512];
    queue_url(call, name, url, sizeof url);
    if (queue_load(call, name, &q) == 0) {
        const cJSON *a;
        cJSON_ArrayForEach(a, attrs) {
            const char *have = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q.attrs, a->string));
            const struct attr_rule *r = attr_rule(a->string);
            if (!have && r)
                have = r->dflt;
            if (!have || strcmp(have, a->valuestring) != 0) {
                queue_cleanup(&q);
                return dss_fail(call, DSS_E_QueueNameExists,
                                "A queue already exists with the same name and a different value for attribute %s",
                                a->string);
            }
        }
        queue_cleanup(&q);
    } else {
        char *attrs_text = attrs ? cJSON_PrintUnformatted(attrs) : strdup("{}");
        char *tags_text = cJSON_IsObject(tags) ? cJSON_PrintUnformatted(tags) : strdup("{}");
        int64_t now = dss_clock_now_ms();
        sqlite3_stmt *st = dss_stmt(call, "INSERT INTO sqs_queues(name, region, created_ms, modified_ms, "
                                          "attrs, tags) VALUES (?, ?, ?, ?, ?, ?)");
        int rc = SQLITE_ERROR;
        if (st) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, dss_call_region(call), -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now);
            sqlite3_bind_int64(st, 4, now);
            sqlite3_bind_text(st, 5, attrs_text, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, tags_text, -1, SQLITE_STATIC);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
        }
        free(attrs_text);
        free(tags_text);
        if (rc != SQLITE_DONE)
            return dss_fail(call, DSS_E_InternalFailure, "Could not store the queue.");
    }
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "QueueUrl", url);
    return DSS_OK;
}

/* GetQueueUrl: QueueName -> QueueUrl. */
static int sqs_get_queue_url(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "QueueName");
    if (!name)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter QueueName.");
    struct queue q = {0};
    if (queue_load(call, name, &q) != 0)
        return dss_fail(call, DSS_E_QueueDoesNotExist, "The specified queue does not exist.");
    queue_cleanup(&q);
    char url[512];
    queue_url(call, name, url, sizeof url);
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "QueueUrl", url);
    return DSS_OK;
}

/* ListQueues: QueueNamePrefix, MaxResults, NextToken -> QueueUrls[], NextToken. */
static int sqs_list_queues(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *prefix = dss_param_str(params, "QueueNamePrefix");
    const char *token = dss_param_str(params, "NextToken");
    int64_t max = 1000;
    int has_max = dss_param_int(params, "MaxResults", &max);
    if (has_max < 0 || max < 1 || max > 1000)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.");
    sqlite3_stmt *st = dss_stmt(call, "SELECT name FROM sqs_queues WHERE substr(name, 1, length(?1)) = ?1 "
                                      "AND name > ?2 ORDER BY name LIMIT ?3");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "Could not list queues.");
    sqlite3_bind_text(st, 1, prefix ? prefix : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token ? token : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, max + 1);
    *result = cJSON_CreateObject();
    cJSON *urls = cJSON_CreateArray();
    int n = 0;
    char last[128] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (n == max) {
            /* One more exists: page on, but only when the caller asked for pages (as AWS). */
            if (has_max == 0)
                cJSON_AddStringToObject(*result, "NextToken", last);
            break;
        }
        char url[512];
        queue_url(call, name, url, sizeof url);
        cJSON_AddItemToArray(urls, cJSON_CreateString(url));
        snprintf(last, sizeof last, "%s", name);
        n++;
    }
    sqlite3_reset(st);
    if (n)
        cJSON_AddItemToObject(*result, "QueueUrls", urls);
    else
        cJSON_Delete(urls);
    return DSS_OK;
}

/* ======================================================================================
 * Message counts, kept in memory
 *
 * GetQueueAttributes reports how many messages a queue holds. Counting a backlog row by row
 * made it quadratic in the backlog: the seed workflow asks once per job, and in a simulated
 * day of 100,000 jobs 89 % of the emulator's CPU went to counting. A count kept in a table
 * (triggers on sqs_messages, tried in 762c0f4) costs every send and delete one more page
 * written, 14 % of SendMessage's throughput. So the counts live here: every statement that
 * adds, removes or moves messages notes its change (count_change()), the change is applied
 * when its transaction commits (db.h: dss_db_watch_commits(), under the writer lock, so in
 * commit order) and dropped if it rolls back, and sqs_start() counts every queue once.
 *
 * Beside each count, the same way, a lower bound of the queue's oldest send time: a send or
 * a move into the queue lowers it to the message's; only an expiry pass, which has just
 * looked, raises it to the exact oldest (note_oldest()). A delete leaves it as it is, lower
 * than it need be at worst, which costs an expiry pass that finds nothing and sets it right.
 * ====================================================================================== */

struct queue_count {
    int64_t queue_id, n;
    int64_t oldest_ms; /* no message of the queue was sent before this; INT64_MAX: none known */
};

static struct {
    pthread_mutex_t lock;
    struct queue_count *v; /* sorted by queue_id */
    size_t n, cap;
} counts = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* This thread's uncommitted changes. A transaction touches one queue, or two (a redrive);
 * past the slots, the commit counts every queue again (recount_all()). */
#define PENDING_SLOTS 8
static __thread struct {
    int64_t queue_id, delta;
    int reset;           /* the queue was deleted: its count starts again from 0 */
    int64_t exact_ms;    /* an expiry pass found this the oldest send time (INT64_MAX: no
                          * message left); -1: none looked */
    int64_t sent_min_ms; /* the oldest send time of the messages added since; INT64_MAX: none */
} pending[PENDING_SLOTS];
static __thread int n_pending, pending_overflow;

/* This thread's pending slot for queue_id, made if missing; -1 past the slots. */
static int pending_slot(int64_t queue_id)
{
    int i = 0;
    while (i < n_pending && pending[i].queue_id != queue_id)
        i++;
    if (i == PENDING_SLOTS) {
        pending_overflow = 1;
        return -1;
    }
    if (i == n_pending) {
        pending[i].queue_id = queue_id, pending[i].delta = 0, pending[i].reset = 0;
        pending[i].exact_ms = -1, pending[i].sent_min_ms = INT64_MAX;
        n_pending++;
    }
    return i;
}

static void count_change(int64_t queue_id, int64_t delta, int reset)
{
    int i = pending_slot(queue_id);
    if (i < 0)
        return;
    if (reset)
        pending[i].delta = 0, pending[i].reset = 1, pending[i].exact_ms = -1, pending[i].sent_min_ms = INT64_MAX;
    pending[i].delta += delta;
}

/* A message sent at sent_ms is now in queue_id (sent or moved there). */
static void note_sent(int64_t queue_id, int64_t sent_ms)
{
    int i = pending_slot(queue_id);
    if (i >= 0 && sent_ms < pending[i].sent_min_ms)
        pending[i].sent_min_ms = sent_ms;
}

/* An expiry pass found oldest_ms the queue's oldest send time (INT64_MAX: it has no message);
 * messages noted sent after this still lower it. */
static void note_oldest(int64_t queue_id, int64_t oldest_ms)
{
    int i = pending_slot(queue_id);
    if (i >= 0)
        pending[i].exact_ms = oldest_ms, pending[i].sent_min_ms = INT64_MAX;
}

/* The slot of queue_id in counts.v (lock held); made if missing and make is set, else NULL
 * (and NULL when out of memory). */
static struct queue_count *count_slot(int64_t queue_id, int make)
{
    size_t lo = 0, hi = counts.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (counts.v[mid].queue_id < queue_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < counts.n && counts.v[lo].queue_id == queue_id)
        return &counts.v[lo];
    if (!make)
        return NULL;
    if (counts.n == counts.cap) {
        size_t cap = counts.cap ? counts.cap * 2 : 16;
        struct queue_count *v = realloc(counts.v, cap * sizeof *v);
        if (!v)
            return NULL;
        counts.v = v, counts.cap = cap;
    }
    memmove(&counts.v[lo + 1], &counts.v[lo], (counts.n - lo) * sizeof *counts.v);
    counts.n++;
    counts.v[lo].queue_id = queue_id, counts.v[lo].n = 0, counts.v[lo].oldest_ms = INT64_MAX;
    return &counts.v[lo];
}

/* Counts every queue's messages afresh and finds each one's oldest (lock held): at start-up,
 * and after a transaction that changed more queues than the pending slots hold. Reads on the
 * writer connection, with the writer lock held: nothing changes the tables meanwhile. */
static void recount_all(void)
{
    counts.n = 0;
    sqlite3 *db = dss_db_thread();
    sqlite3_stmt *st = db ? dss_db_stmt(db, "SELECT queue_id, count(*), min(sent_ms) FROM sqs_messages "
                                            "GROUP BY queue_id") : NULL;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct queue_count *c = count_slot(sqlite3_column_int64(st, 0), 1);
        if (c)
            c->n = sqlite3_column_int64(st, 1), c->oldest_ms = sqlite3_column_int64(st, 2);
    }
    if (st)
        sqlite3_reset(st);
}

static void counts_committed(void)
{
    if (!n_pending && !pending_overflow)
        return;
    pthread_mutex_lock(&counts.lock);
    if (pending_overflow) {
        recount_all();
    } else {
        for (int i = 0; i < n_pending; i++) {
            struct queue_count *c = count_slot(pending[i].queue_id, 1);
            if (!c)
                continue;
            c->n = (pending[i].reset ? 0 : c->n) + pending[i].delta;
            if (pending[i].reset)
                c->oldest_ms = INT64_MAX;
            if (pending[i].exact_ms >= 0)
                c->oldest_ms = pending[i].exact_ms;
            if (pending[i].sent_min_ms < c->oldest_ms)
                c->oldest_ms = pending[i].sent_min_ms;
            if (c->n <= 0)
                c->oldest_ms = INT64_MAX;
        }
    }
    pthread_mutex_unlock(&counts.lock);
    n_pending = 0, pending_overflow = 0;
}

static void counts_discarded(void)
{
    n_pending = 0, pending_overflow = 0;
    /* The cache may hold a queue as this transaction saw it after changing it (the change
     * moved the count, the load after it refilled the slot), and a rollback does not move the
     * count back. Only a writer's: the cache is the writer lock's. */
    if (dss_db_writing())
        queue_cache_clear();
}

/* The committed number of messages queue_id holds, expired ones included. */
static int64_t queue_message_total(int64_t queue_id)
{
    pthread_mutex_lock(&counts.lock);
    struct queue_count *c = count_slot(queue_id, 0); /* a reader makes no slot */
    int64_t n = c ? c->n : 0;
    pthread_mutex_unlock(&counts.lock);
    return n;
}

/* No committed message of queue_id was sent before this (INT64_MAX: it holds none). */
static int64_t queue_oldest_ms(int64_t queue_id)
{
    pthread_mutex_lock(&counts.lock);
    struct queue_count *c = count_slot(queue_id, 0);
    int64_t t = c ? c->oldest_ms : INT64_MAX;
    pthread_mutex_unlock(&counts.lock);
    return t;
}

static int sqs_start(void)
{
    /* The count reads on the writer connection, like s3_start()'s: the main thread opens no
     * connection of its own to start the services. */
    sqlite3 *db = dss_db_begin(1);
    if (!db)
        return -1;
    pthread_mutex_lock(&counts.lock);
    recount_all();
    pthread_mutex_unlock(&counts.lock);
    queue_cache_clear();
    dss_db_rollback(db, 1);
    dss_db_watch_commits(counts_committed, counts_discarded);
    return 0;
}

static void sqs_stop(void)
{
    pthread_mutex_lock(&counts.lock);
    free(counts.v);
    counts.v = NULL, counts.n = 0, counts.cap = 0;
    pthread_mutex_unlock(&counts.lock);
    queue_cache_clear();
}

/* DeleteQueue: QueueUrl. Its messages go with it. */
static int sqs_delete_queue(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM sqs_queues WHERE id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, q.id);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    count_change(q.id, 0, 1); /* a later queue may be given the same id */
    char key[64];
    snprintf(key, sizeof key, "sqs:%lld", (long long)q.id);
    dss_wake(call, key); /* parked receives on it answer now (with QueueDoesNotExist) */
    queue_cleanup(&q);
    return DSS_OK;
}

/* The send time before which q's messages have expired at now. */
static int64_t retention_cutoff(const struct queue *q, int64_t now)
{
    return now - (int64_t)queue_attr_long(q, "MessageRetentionPeriod") * 1000;
}

/* The three approximate counts of queue_id. The visible messages are usually the many (a
 * backlog of jobs), the invisible ones few (in flight or delayed), so the visible count is the
 * queue's total (kept in memory, above) less the invisible and the expired-but-not-yet-deleted
 * ones, each counted over a short index range. */
struct message_counts {
    int64_t visible, not_visible, delayed;
};

static struct message_counts count_messages(struct dss_call *call, int64_t queue_id, int64_t now, int64_t cutoff)
{
    struct message_counts n = {0, 0, 0};
    int64_t expired = 0;
    sqlite3_stmt *st;
    if (queue_oldest_ms(queue_id) < cutoff) { /* some may have expired: a pass over the queue */
        if (!(st = dss_stmt(call, "SELECT count(*) FROM sqs_messages WHERE queue_id = ? AND sent_ms < ?")))
            return n;
        sqlite3_bind_int64(st, 1, queue_id);
        sqlite3_bind_int64(st, 2, cutoff);
        if (sqlite3_step(st) == SQLITE_ROW)
            expired = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    st = dss_stmt(call, "SELECT total(receive_count > 0), total(receive_count = 0) FROM sqs_messages "
                        "INDEXED BY sqs_messages_ready WHERE queue_id = ?1 AND visible_ms > ?2 AND sent_ms >= ?3");
    if (!st)
        return n;
    sqlite3_bind_int64(st, 1, queue_id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, cutoff);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n.not_visible = sqlite3_column_int64(st, 0);
        n.delayed = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    /* A commit between this call's snapshot and its reading of the total can leave them a
     * message apart for a moment: the counts are approximate on AWS too. */
    n.visible = queue_message_total(queue_id) - expired - n.not_visible - n.delayed;
    if (n.visible < 0)
        n.visible = 0;
    return n;
}

static void add_number_attr(cJSON *out, const char *name, int64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)v);
    cJSON_AddStringToObject(out, name, text);
}

/* Every attribute of q, settable and computed, as strings. */
static cJSON *queue_attributes(struct dss_call *call, const struct queue *q)
{
    cJSON *out = cJSON_CreateObject();
    int64_t now = dss_clock_now_ms();
    int64_t cutoff = retention_cutoff(q, now);
    for (const struct attr_rule *r = attr_rules; r->name; r++) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, r->name));
        if (v || r->dflt)
            cJSON_AddStringToObject(out, r->name, v ? v : r->dflt);
    }
    struct message_counts n = count_messages(call, q->id, now, cutoff);
    add_number_attr(out, "ApproximateNumberOfMessages", n.visible);
    add_number_attr(out, "ApproximateNumberOfMessagesNotVisible", n.not_visible);
    add_number_attr(out, "ApproximateNumberOfMessagesDelayed", n.delayed);
    add_number_attr(out, "CreatedTimestamp", q->created_ms / 1000);
    add_number_attr(out, "LastModifiedTimestamp", q->modified_ms / 1000);
    char arn[256];
    queue_arn(q, arn, sizeof arn);
    cJSON_AddStringToObject(out, "QueueArn", arn);
    return out;
}

static int known_queue_attribute(const char *name)
{
    static const char *computed[] = {"All", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                     "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp",
                                     "LastModifiedTimestamp", "QueueArn", "FifoQueue",
                                     "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit", NULL};
    for (int i = 0; computed[i]; i++)
        if (strcmp(computed[i], name) == 0)
            return 1;
    return attr_rule(name) != NULL;
}

/* GetQueueAttributes: QueueUrl, AttributeNames[] -> Attributes{}. */
static int sqs_get_queue_attributes(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(params, "AttributeNames");
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
        if (!cJSON_IsString(n) || !known_queue_attribute(n->valuestring))
            return dss_fail(call, DSS_E_InvalidAttributeName, "Unknown Attribute %s.",
                            cJSON_IsString(n) ? n->valuestring : "(not a string)");
    }
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    cJSON *all = queue_attributes(call, &q);
    queue_cleanup(&q);
    cJSON *picked = cJSON_CreateObject();
    cJSON_ArrayForEach(n, names) {
        const cJSON *a;
        cJSON_ArrayForEach(a, all) {
            if ((strcmp(n->valuestring, "All") == 0 || strcmp(n->valuestring, a->string) == 0) &&
                !cJSON_HasObjectItem(picked, a->string))
                cJSON_AddStringToObject(picked, a->string, a->valuestring);
        }
    }
    cJSON_Delete(all);
    *result = cJSON_CreateObject();
    if (picked->child)
        cJSON_AddItemToObject(*result, "Attributes", picked);
    else
        cJSON_Delete(picked);
    return DSS_OK;
}

/* SetQueueAttributes: QueueUrl, Attributes{}. An empty value removes an optional attribute. */
static int sqs_set_queue_attributes(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(params, "Attributes");
    if (!cJSON_IsObject(attrs))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter Attributes.");
    if (check_attributes(call, attrs))
        return DSS_ERR;
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        cJSON_DeleteItemFromObjectCaseSensitive(q.attrs, a->string);
        if (a->valuestring[0] || attr_rule(a->string)->dflt)
            cJSON_AddStringToObject(q.attrs, a->string, a->valuestring);
    }
    char *text = cJSON_PrintUnformatted(q.attrs);
    sqlite3_stmt *st = dss_stmt(call, "UPDATE sqs_queues SET attrs = ?, modified_ms = ? WHERE id = ?");
    if (st) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, dss_clock_now_ms());
        sqlite3_bind_int64(st, 3, q.id);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    free(text);
    queue_cleanup(&q);
    return DSS_OK;
}

/* PurgeQueue: QueueUrl. At most once a minute per queue. */
static int sqs_purge_queue(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    int64_t now = dss_clock_now_ms();
    int64_t last = q.purged_ms;
    char arn[256];
    queue_arn(&q, arn, sizeof arn);
    int64_t id = q.id;
    queue_cleanup(&q);
    if (last && now - last < PURGE_INTERVAL_MS)
        return dss_fail(call, DSS_E_PurgeQueueInProgress,
                        "Only one PurgeQueue operation on %s is allowed every 60 seconds.", arn);
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM sqs_messages WHERE queue_id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_DONE)
            count_change(id, -sqlite3_changes(dss_db(call)), 0);
        sqlite3_reset(st);
    }
    st = dss_stmt(call, "UPDATE sqs_queues SET purged_ms = ? WHERE id = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, id);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    return DSS_OK;
}

/* ---- Tags ---- */

static int update_tags(struct dss_call *call, const cJSON *params, const cJSON *add, const cJSON *remove)
{
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    int64_t id = q.id;
    queue_cleanup(&q);
    sqlite3_stmt *st = dss_stmt(call, "SELECT tags FROM sqs_queues WHERE id = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "Could not read tags.");
    sqlite3_bind_int64(st, 1, id);
    cJSON *tags = sqlite3_step(st) == SQLITE_ROW ? cJSON_Parse((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_reset(st);
    if (!tags)
        tags = cJSON_CreateObject();
    const cJSON *t;
    cJSON_ArrayForEach(t, add) {
        cJSON_DeleteItemFromObjectCaseSensitive(tags, t->string);
        cJSON_AddStringToObject(tags, t->string, cJSON_IsString(t) ? t->valuestring : "");
    }
    cJSON_ArrayForEach(t, remove) {
        if (cJSON_IsString(t))
            cJSON_DeleteItemFromObjectCaseSensitive(tags, t->valuestring);
    }
    char *text = cJSON_PrintUnformatted(tags);
    cJSON_Delete(tags);
    st = dss_stmt(call, "UPDATE sqs_queues SET tags = ? WHERE id = ?");
    if (st) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    free(text);
    return DSS_OK;
}

/* TagQueue: QueueUrl, Tags{}. */
static int sqs_tag_queue(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(params, "Tags");
    if (!cJSON_IsObject(tags))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter Tags.");
    return update_tags(call, params, tags, NULL);
}

/* UntagQueue: QueueUrl, TagKeys[]. */
static int sqs_untag_queue(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(params, "TagKeys");
    if (!cJSON_IsArray(keys))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter TagKeys.");
    return update_tags(call, params, NULL, keys);
}

/* ListQueueTags: QueueUrl -> Tags{}. */
static int sqs_list_queue_tags(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT tags FROM sqs_queues WHERE id = ?");
    queue_cleanup(&q);
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "Could not read tags.");
    sqlite3_bind_int64(st, 1, q.id);
    cJSON *tags = sqlite3_step(st) == SQLITE_ROW ? cJSON_Parse((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_reset(st);
    *result = cJSON_CreateObject();
    if (tags && tags->child)
        cJSON_AddItemToObject(*result, "Tags", tags);
    else
        cJSON_Delete(tags);
    return DSS_OK;
}

/* ---- Messages ---- */

/* Characters SQS allows in a body: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF,
 * as valid UTF-8. Returns 1, or 0 with the first offending code point (or byte of a bad UTF-8
 * sequence) in *bad. */
static int valid_message_text(const unsigned char *s, size_t n, uint32_t *bad)
{
    static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        uint32_t cp;
        size_t len;
        *bad = c;
        if (c < 0x80) { cp = c; len = 1; }
        else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
        else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
        else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min_for_len[len])
            return 0; /* overlong */
        *bad = cp;
        int ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                 (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
        if (!ok)
            return 0;
        i += len;
    }
    return 1;
}

/* Fails the call with InvalidMessageContents for the character bad, in AWS's words. */
static int fail_contents(struct dss_call *call, uint32_t bad)
{
    return dss_fail(call, DSS_E_InvalidMessageContents,
                    "Invalid binary character '#x%X' was found in the message body, the set of allowed "
                    "characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                    (unsigned)bad);
}

static void md5_put_field(EVP_MD_CTX *ctx, const void *p, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                            (unsigned char)n};
    EVP_DigestUpdate(ctx, len, 4);
    EVP_DigestUpdate(ctx, p, n);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* MD5OfMessageAttributes as AWS computes it: for each attribute in name order, the name, the
 * data type, a transport byte (1 string, 2 binary) and the value, each length-prefixed. */
static void md5_of_attributes(const cJSON *attrs, char out[33])
{
    const cJSON *sorted[64] = {0};
    int n = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) if (n < 64) sorted[n++] = a;
    qsort(sorted, (size_t)n, sizeof(const cJSON *), name_cmp);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, md5_method(), NULL);
    for (int i = 0; i < n; i++) {
        const char *type = dss_param_str(sorted[i], "DataType");
        const char *sv = dss_param_str(sorted[i], "StringValue");
        const char *bv = dss_param_str(sorted[i], "BinaryValue");
        md5_put_field(ctx, sorted[i]->string, strlen(sorted[i]->string));
        md5_put_field(ctx, type, strlen(type));
        if (sv) {
            EVP_DigestUpdate(ctx, "\x01", 1);
            md5_put_field(ctx, sv, strlen(sv));
        } else {
            unsigned char *raw = malloc(strlen(bv) + 3);
            long len = base64_decode(bv, strlen(bv), raw);
            EVP_DigestUpdate(ctx, "\x02", 1);
            md5_put_field(ctx, raw, len > 0 ? (size_t)len : 0);
            free(raw);
        }
    }
    unsigned char d[16];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(ctx, d, &dlen);
    EVP_MD_CTX_free(ctx);
    hex_encode(d, 16, out);
}

/* A message attribute name: 1-256 of [A-Za-z0-9_.-], no leading, trailing or doubled period,
 * and no AWS. or Amazon. prefix in any case. */
static int valid_attribute_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 256 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n &&
           name[0] != '.' && name[n - 1] != '.' && !strstr(name, "..") && strncasecmp(name, "AWS.", 4) != 0 &&
           strncasecmp(name, "Amazon.", 7) != 0;
}

/* The base type of a DataType ("String", "Number", "Binary", each optionally followed by
 * ".custom"), or NULL if it has none of them. */
static const char *attribute_base_type(const char *type)
{
    static const char *const bases[] = {"String", "Number", "Binary"};
    for (int i = 0; i < 3; i++)
        if (strncmp(type, bases[i], 6) == 0 && (type[6] == '\0' || (type[6] == '.' && type[7])))
            return bases[i];
    return NULL;
}

/* A Number attribute's value: a decimal number (sign, digits, fraction, exponent) from
 * -10^128 to 10^126, as AWS documents; at most 38 significant digits are kept, so the range is
 * checked on the value strtod reads. */
static int valid_number(const char *s)
{
    size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
    size_t digits = strspn(s + i, "0123456789");
    i += digits;
    if (s[i] == '.') {
        size_t frac = strspn(s + i + 1, "0123456789");
        digits += frac;
        i += 1 + frac;
    }
    if (digits == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1 + (s[i + 1] == '-' || s[i + 1] == '+');
        size_t exp = strspn(s + j, "0123456789");
        if (exp == 0)
            return 0;
        i = j + exp;
    }
    if (s[i])
        return 0;
    double v = strtod(s, NULL);
    return v >= -1e128 && v <= 1e126;
}

/* Validates MessageAttributes and adds their size (names, types and values) to *size. */
static int check_message_attributes(struct dss_call *call, const cJSON *attrs, size_t *size)
{
    int count = 0;
    const cJSON *a;
    if (!cJSON_IsObject(attrs))
        return dss_fail(call, DSS_E_InvalidParameterValue, "MessageAttributes must be a map.");
    cJSON_ArrayForEach(a, attrs) {
        const char *type = dss_param_str(a, "DataType");
        const char *sv = dss_param_str(a, "StringValue");
        const char *bv = dss_param_str(a, "BinaryValue");
        if (++count > 10)
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "Number of message attributes [%d] exceeds the allowed maximum [10].",
                            cJSON_GetArraySize(attrs));
        if (a->string[0] == '\0')
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "The request must contain non-empty message attribute name.");
        if (!valid_attribute_name(a->string))
            return dss_fail(call, DSS_E_InvalidParameterValue, "Message (user) attribute name '%.300s' is invalid.",
                            a->string);
        if (!type || !*type)
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "The message attribute '%s' must contain non-empty message attribute type.", a->string);
        const char *base = attribute_base_type(type);
        if (!base || strlen(type) > 256)
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "The type of message (user) attribute '%s' is invalid. You must use only the "
                            "following supported type prefixes: Binary, Number, String.", a->string);
        int binary = base[0] == 'B';
        if (binary ? !bv : !sv)
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "The message attribute '%s' with type '%s' must use field '%s'.", a->string, base,
                            binary ? "Binary" : "String");
        if (binary ? !bv[0] : !sv[0])
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "Message (user) attribute '%s' must contain a non-empty value of type '%s'.",
                            a->string, base);
        uint32_t bad;
        if (binary) {
            unsigned char *raw = malloc(strlen(bv) + 3);
            long len = raw ? base64_decode(bv, strlen(bv), raw) : -1;
            free(raw);
            if (len < 0)
                return dss_fail(call, DSS_E_InvalidParameterValue,
                                "The message attribute '%s' has an invalid binary value.", a->string);
            *size += (size_t)len;
        } else if (!valid_message_text((const unsigned char *)sv, strlen(sv), &bad)) {
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "Message (user) attribute '%s' contains the invalid character '#x%X'.", a->string,
                            (unsigned)bad);
        } else if (base[0] == 'N' && !valid_number(sv)) {
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "Can't cast the value of message (user) attribute '%s' to a number.", a->string);
        } else {
            *size += strlen(sv);
        }
        *size += strlen(a->string) + strlen(type);
    }
    return 0;
}

/* Reads integer parameter name into *v (left as it is when absent) and checks it is within
 * min..max; else fails with AWS's "Value X for parameter NAME is invalid. Reason: ..." */
static int param_in_range(struct dss_call *call, const cJSON *params, const char *name, int64_t min, int64_t max,
                          const char *reason, int64_t *v)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(params, name);
    int rc = dss_param_int(params, name, v);
    if (rc == 0 && *v >= min && *v <= max)
        return 0;
    if (rc > 0)
        return 0;
    char text[64];
    if (cJSON_IsString(item))
        snprintf(text, sizeof text, "%.40s", item->valuestring);
    else if (cJSON_IsNumber(item))
        snprintf(text, sizeof text, "%.17g", item->valuedouble);
    else
        snprintf(text, sizeof text, "%s", "(not a number)");
    return dss_fail(call, DSS_E_InvalidParameterValue, "Value %s for parameter %s is invalid. Reason: %s", text,
                    name, reason);
}

struct sent {
    char message_id[37];
    char md5_body[33];
    char md5_attrs[33]; /* "" if no attributes */
};

/* Validates and stores one message. Used by SendMessage and each SendMessageBatch entry. */
static int send_one(struct dss_call *call, const struct queue *q, const cJSON *msg, struct sent *out)
{
    const cJSON *body_item = cJSON_GetObjectItemCaseSensitive(msg, "MessageBody");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(msg, "MessageAttributes");
    if (!cJSON_IsString(body_item) || body_item->valuestring[0] == '\0')
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter MessageBody.");
    const char *body = body_item->valuestring;
    size_t size = strlen(body);
    uint32_t bad;
    if (dss_call_params_nul(call))
        return fail_contents(call, 0); /* the JSON body held \u0000: body arrived cut there */
    if (!valid_message_text((const unsigned char *)body, size, &bad))
        return fail_contents(call, bad);
    if (attrs && check_message_attributes(call, attrs, &size))
        return DSS_ERR;
    long max = queue_attr_long(q, "MaximumMessageSize");
    if ((long)size > max)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "One or more parameters are invalid. Reason: Message must be shorter than %ld bytes.", max);
    int64_t delay = queue_attr_long(q, "DelaySeconds");
    if (param_in_range(call, msg, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.", &delay))
        return DSS_ERR;
    uuid_string(out->message_id);
    md5_hex(body, strlen(body), out->md5_body);
    out->md5_attrs[0] = '\0';
    char *attrs_text = NULL;
    if (attrs && attrs->child) {
        md5_of_attributes(attrs, out->md5_attrs);
        attrs_text = cJSON_PrintUnformatted(attrs);
    }
    int64_t now = dss_clock_now_ms();
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO sqs_messages(queue_id, message_id, body, md5_body, attrs, "
                                      "md5_attrs, sent_ms, visible_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    int rc = SQLITE_ERROR;
    if (st) {
        sqlite3_bind_int64(st, 1, q->id);
        sqlite3_bind_text(st, 2, out->message_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, body, (int)strlen(body), SQLITE_STATIC);
        sqlite3_bind_text(st, 4, out->md5_body, -1, SQLITE_STATIC);
        if (attrs_text) {
            sqlite3_bind_text(st, 5, attrs_text, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 6, out->md5_attrs, -1, SQLITE_STATIC);
        }
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_int64(st, 8, now + delay * 1000);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    free(attrs_text);
    if (rc != SQLITE_DONE)
        return dss_fail(call, DSS_E_InternalFailure, "Could not store the message.");
    count_change(q->id, 1, 0);
    note_sent(q->id, now);
    char key[64];
    snprintf(key, sizeof key, "sqs:%lld", (long long)q->id);
    dss_wake_one(call, key); /* one message, one receiver */
    return 0;
}

/* SendMessage: QueueUrl, MessageBody, DelaySeconds, MessageAttributes{} -> MessageId, MD5s. */
static int sqs_send_message(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    struct sent s;
    int rc = send_one(call, &q, params, &s);
    queue_cleanup(&q);
    if (rc)
        return DSS_ERR;
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "MD5OfMessageBody", s.md5_body);
    if (s.md5_attrs[0])
        cJSON_AddStringToObject(*result, "MD5OfMessageAttributes", s.md5_attrs);
    cJSON_AddStringToObject(*result, "MessageId", s.message_id);
    return DSS_OK;
}

/* The size SQS counts for a message: its body, and each attribute's name, type and value
 * (binary values decoded). Nothing is validated here. */
static size_t message_size(const cJSON *msg)
{
    const char *body = dss_param_str(msg, "MessageBody");
    size_t size = body ? strlen(body) : 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(msg, "MessageAttributes")) {
        const char *type = dss_param_str(a, "DataType");
        const char *sv = dss_param_str(a, "StringValue");
        const char *bv = dss_param_str(a, "BinaryValue");
        size += (a->string ? strlen(a->string) : 0) + (type ? strlen(type) : 0);
        size += sv ? strlen(sv) : bv ? strlen(bv) / 4 * 3 : 0;
    }
    return size;
}

/* Checks a batch's entry list: 1..10 entries with distinct, well-formed Ids. */
static int check_batch(struct dss_call *call, const cJSON *entries, const char *entry_name)
{
    int n = cJSON_GetArraySize(entries);
    if (!cJSON_IsArray(entries) || n == 0)
        return dss_fail(call, DSS_E_EmptyBatchRequest, "There should be at least one %s in the request.",
                        entry_name);
    if (n > BATCH_MAX)
        return dss_fail(call, DSS_E_TooManyEntriesInBatchRequest,
                        "Maximum number of entries per request are %d. You have sent %d.", BATCH_MAX, n);
    const cJSON *e, *f;
    cJSON_ArrayForEach(e, entries) {
        const char *id = dss_param_str(e, "Id");
        size_t len = id ? strlen(id) : 0;
        if (!id || len == 0 || len > 80 ||
            strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != len)
            return dss_fail(call, DSS_E_InvalidBatchEntryId,
                            "A batch entry id can only contain alphanumeric characters, hyphens and "
                            "underscores. It can be at most 80 letters long.");
        for (f = e->next; f; f = f->next) {
            const char *other = dss_param_str(f, "Id");
            if (other && strcmp(other, id) == 0)
                return dss_fail(call, DSS_E_BatchEntryIdsNotDistinct, "Id %s repeated.", id);
        }
    }
    return 0;
}

/* Reports a batch entry's error (what dss_fail() recorded) in the Failed list: per-entry
 * errors leave the call itself successful. */
static void batch_fail(struct dss_call *call, cJSON *failed, const char *id, enum dss_error err,
                       const char *message)
{
    const struct dss_error_info *info = dss_error_info(err);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "Id", id);
    cJSON_AddBoolToObject(f, "SenderFault", info->sender);
    cJSON_AddStringToObject(f, "Code", info->query_code);
    cJSON_AddStringToObject(f, "Message", message);
    cJSON_AddItemToArray(failed, f);
    (void)call;
}

/* SendMessageBatch: QueueUrl, Entries[] -> Successful[], Failed[]. */
static int sqs_send_message_batch(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(params, "Entries");
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    if (check_batch(call, entries, "SendMessageBatchRequestEntry")) {
        queue_cleanup(&q);
        return DSS_ERR;
    }
    /* The whole batch has AWS's fixed payload limit, whatever the queue's MaximumMessageSize
     * (which each entry must meet on its own). */
    size_t total = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) total += message_size(e);
    if (total > BATCH_PAYLOAD_MAX) {
        queue_cleanup(&q);
        return dss_fail(call, DSS_E_BatchRequestTooLong,
                        "Batch requests cannot be longer than %d bytes. You have sent %zu bytes.", BATCH_PAYLOAD_MAX,
                        total);
    }
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    cJSON_ArrayForEach(e, entries) {
        struct sent s;
        const char *id = dss_param_str(e, "Id");
        if (send_one(call, &q, e, &s) != 0) {
            batch_fail(call, failed, id, dss_error_last(call), dss_error_message(call));
            continue;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "Id", id);
        cJSON_AddStringToObject(r, "MessageId", s.message_id);
        cJSON_AddStringToObject(r, "MD5OfMessageBody", s.md5_body);
        if (s.md5_attrs[0])
            cJSON_AddStringToObject(r, "MD5OfMessageAttributes", s.md5_attrs);
        cJSON_AddItemToArray(ok, r);
    }
    queue_cleanup(&q);
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "Successful", ok);
    cJSON_AddItemToObject(*result, "Failed", failed);
    return DSS_OK;
}

/* ---- Receipt handles: base64 of "queue_id:seq:nonce" ---- */

static void receipt_make(int64_t queue_id, int64_t seq, const char *nonce, char *out, size_t n)
{
    char raw[128];
    int len = snprintf(raw, sizeof raw, "%lld:%lld:%s", (long long)queue_id, (long long)seq, nonce);
    struct buf b;
    buf_init(&b, 256);
    base64_encode(&b, raw, (size_t)len);
    snprintf(out, n, "%s", b.data);
    buf_free(&b);
}

struct receipt {
    int64_t queue_id, seq;
    char nonce[40];
};

static int receipt_parse(const char *handle, struct receipt *r)
{
    size_t len = handle ? strlen(handle) : 0;
    if (len == 0 || len > 200)
        return -1;
    unsigned char raw[160];
    long n = base64_decode(handle, len, raw);
    if (n <= 0)
        return -1;
    raw[n] = '\0';
    /* "<queue id>:<seq>:<36-character nonce>" */
    char *end;
    errno = 0;
    long long qid = strtoll((const char *)raw, &end, 10);
    if (end == (char *)raw || *end != ':')
        return -1;
    const char *seq_at = end + 1;
    long long seq = strtoll(seq_at, &end, 10);
    if (end == seq_at || *end != ':' || errno == ERANGE)
        return -1;
    const char *nonce = end + 1;
    if (strlen(nonce) != 36)
        return -1;
    r->queue_id = qid;
    r->seq = seq;
    snprintf(r->nonce, sizeof r->nonce, "%s", nonce);
    return 0;
}

/* ---- Receiving ---- */

struct receive_opts {
    int64_t max;
    int64_t visibility;
    int64_t wait_s;
    const cJSON *system_names;  /* AttributeNames + MessageSystemAttributeNames */
    const cJSON *system_names2;
    const cJSON *attr_names;    /* MessageAttributeNames */
};

static int wants_name(const cJSON *list, const char *name)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, list) {
        const char *s = cJSON_GetStringValue(n);
        if (!s)
            continue;
        size_t len = strlen(s);
        if (!strcmp(s, "All") || !strcmp(s, ".*") || !strcmp(s, name))
            return 1;
        if (len > 2 && !strcmp(s + len - 2, ".*") && !strncmp(s, name, len - 1))
            return 1; /* "prefix.*" matches "prefix.anything" */
    }
    return 0;
}

static int wants_system(const struct receive_opts *o, const char *name)
{
    return wants_name(o->system_names, name) || wants_name(o->system_names2, name);
}

static cJSON *message_system_attributes(const struct receive_opts *o, int64_t sent_ms, int64_t count,
                                        int64_t first_ms)
{
    cJSON *a = cJSON_CreateObject();
    if (wants_system(o, "SenderId"))
        cJSON_AddStringToObject(a, "SenderId", "AIDAIENQZJOLO23YVJ4VO");
    if (wants_system(o, "SentTimestamp"))
        add_number_attr(a, "SentTimestamp", sent_ms);
    if (wants_system(o, "ApproximateReceiveCount"))
        add_number_attr(a, "ApproximateReceiveCount", count);
    if (wants_system(o, "ApproximateFirstReceiveTimestamp"))
        add_number_attr(a, "ApproximateFirstReceiveTimestamp", first_ms);
    if (!a->child) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

/* The message attributes the receiver asked for, with their MD5 (over the returned ones). */
static void add_message_attributes(cJSON *m, const struct receive_opts *o, const char *attrs_text)
{
    if (!attrs_text || !o->attr_names)
        return;
    cJSON *all = cJSON_Parse(attrs_text);
    cJSON *picked = cJSON_CreateObject();
    const cJSON *a;
    cJSON_ArrayForEach(a, all) {
        if (wants_name(o->attr_names, a->string))
            cJSON_AddItemToObject(picked, a->string, cJSON_Duplicate(a, 1));
    }
    cJSON_Delete(all);
    if (!picked->child) {
        cJSON_Delete(picked);
        return;
    }
    char md5[33];
    md5_of_attributes(picked, md5);
    cJSON_AddStringToObject(m, "MD5OfMessageAttributes", md5);
    cJSON_AddItemToObject(m, "MessageAttributes", picked);
}

/* Moves a message that has been received maxReceiveCount times to the dead-letter queue.
 * Returns 1 if moved. */
static int redrive(struct dss_call *call, const struct queue *q, int64_t seq, int64_t count, int64_t sent_ms,
                   int64_t now)
{
    const char *policy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "RedrivePolicy"));
    if (!policy || !*policy)
        return 0;
    cJSON *p = cJSON_Parse(policy);
    const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "deadLetterTargetArn"));
    long limit = redrive_max_receives(p);
    const char *colon = arn ? strrchr(arn, ':') : NULL;
    struct queue dlq = {0};
    int moved = 0;
    if (limit > 0 && count >= limit && colon && queue_load(call, colon + 1, &dlq) == 0 && dlq.id != q->id) {
        sqlite3_stmt *st = dss_stmt(call, "UPDATE sqs_messages SET queue_id = ?, visible_ms = ?, receipt = NULL "
                                          "WHERE seq = ?");
        if (st) {
            sqlite3_bind_int64(st, 1, dlq.id);
            sqlite3_bind_int64(st, 2, now);
            sqlite3_bind_int64(st, 3, seq);
            moved = sqlite3_step(st) == SQLITE_DONE;
            sqlite3_reset(st);
        }
        if (moved) {
            count_change(q->id, -1, 0);
            count_change(dlq.id, 1, 0);
            note_sent(dlq.id, sent_ms); /* it keeps its send time, and its retention with it */
        }
        char key[64];
        snprintf(key, sizeof key, "sqs:%lld", (long long)dlq.id);
        dss_wake_one(call, key);
        queue_cleanup(&dlq);
    }
    cJSON_Delete(p);
    return moved;
}

/* Deletes q's expired messages, when its oldest may have been sent more than EXPIRY_SLACK_MS
 * before the cutoff. Without an index on send times that is a pass over the queue, and the
 * slack keeps it to one a second per queue when messages expire one after another; a message
 * in the slack is never delivered (read_candidates()) nor counted (count_messages()). */
#define EXPIRY_SLACK_MS 1000
static void delete_expired(struct dss_call *call, const struct queue *q, int64_t cutoff)
{
    if (queue_oldest_ms(q->id) >= cutoff - EXPIRY_SLACK_MS)
        return;
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM sqs_messages WHERE queue_id = ? AND sent_ms < ?");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, q->id);
    sqlite3_bind_int64(st, 2, cutoff);
    int done = sqlite3_step(st) == SQLITE_DONE;
    if (done)
        count_change(q->id, -sqlite3_changes(dss_db(call)), 0);
    sqlite3_reset(st);
    if (!done || !(st = dss_stmt(call, "SELECT min(sent_ms) FROM sqs_messages WHERE queue_id = ?")))
        return;
    sqlite3_bind_int64(st, 1, q->id);
    if (sqlite3_step(st) == SQLITE_ROW)
        note_oldest(q->id, sqlite3_column_type(st, 0) == SQLITE_NULL ? INT64_MAX : sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
}

/* A candidate message read by take_messages(); the texts are copies (malloc'd), since the
 * statement that read them is reset before the message is updated. */
struct candidate {
    int64_t seq, sent_ms, count, first_ms;
    char *id, *body, *md5, *attrs; /* attrs: NULL if the message has none */
};

#define CANDIDATES_MAX 20 /* MaxNumberOfMessages (at most 10) + 10 spare for redriven ones */

static char *column_dup(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    return strdup(text ? text : ""); /* NULL only when out of memory */
}

/* Reads up to n messages of q visible at now and sent at cutoff or later, oldest visibility
 * first; returns how many. */
static int read_candidates(struct dss_call *call, const struct queue *q, int64_t now, int64_t cutoff,
                           struct candidate *c, int n)
{
    sqlite3_stmt *pick = dss_stmt(call, "SELECT seq, message_id, body, md5_body, attrs, sent_ms, receive_count, "
                                        "first_receive_ms FROM sqs_messages WHERE queue_id = ? AND visible_ms <= ? "
                                        "AND sent_ms >= ? ORDER BY visible_ms, seq LIMIT ?");
    int got = 0;
    if (!pick)
        return 0;
    sqlite3_bind_int64(pick, 1, q->id);
    sqlite3_bind_int64(pick, 2, now);
    sqlite3_bind_int64(pick, 3, cutoff);
    sqlite3_bind_int64(pick, 4, n);
    while (got < n && sqlite3_step(pick) == SQLITE_ROW) {
        struct candidate *r = &c[got++];
        r->seq = sqlite3_column_int64(pick, 0);
        r->id = column_dup(pick, 1);
        r->body = column_dup(pick, 2);
        r->md5 = column_dup(pick, 3);
        r->attrs = sqlite3_column_type(pick, 4) != SQLITE_NULL ? column_dup(pick, 4) : NULL; /* none */
        r->sent_ms = sqlite3_column_int64(pick, 5);
        r->count = sqlite3_column_int64(pick, 6);
        r->first_ms = sqlite3_column_type(pick, 7) == SQLITE_NULL ? now : sqlite3_column_int64(pick, 7);
    }
    sqlite3_reset(pick);
    return got;
}

/* Takes up to o->max visible, unexpired messages, makes them invisible and appends them to
 * out. */
static void take_messages(struct dss_call *call, const struct queue *q, const struct receive_opts *o,
                          int64_t now, int64_t cutoff, cJSON *out)
{
    struct candidate rows[CANDIDATES_MAX];
    /* Read the candidates first: the update below reuses statements while pick is open. The
     * spares stand in for candidates moved to a dead-letter queue instead, so a queue without
     * a redrive policy reads none: each one read is a row decoded and four strings copied, and
     * a receive of one message that read eleven spent 29 % of its instructions on them. */
    const char *policy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "RedrivePolicy"));
    int spares = policy && *policy ? 10 : 0;
    int want = o->max + spares < CANDIDATES_MAX ? (int)o->max + spares : CANDIDATES_MAX;
    int n = read_candidates(call, q, now, cutoff, rows, want), taken = 0;
    for (int i = 0; i < n && taken < o->max; i++) {
        const struct candidate *r = &rows[i];
        if (!r->id || !r->body || !r->md5 || redrive(call, q, r->seq, r->count, r->sent_ms, now))
            continue;
        char nonce[37], handle[256];
        uuid_string(nonce);
        sqlite3_stmt *st = dss_stmt(call, "UPDATE sqs_messages SET visible_ms = ?, receive_count = receive_count + 1, "
                                          "first_receive_ms = coalesce(first_receive_ms, ?), receipt = ? WHERE seq = ?");
        if (!st)
            break;
        sqlite3_bind_int64(st, 1, now + o->visibility * 1000);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_text(st, 3, nonce, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, r->seq);
        sqlite3_step(st);
        sqlite3_reset(st);
        receipt_make(q->id, r->seq, nonce, handle, sizeof handle);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "MessageId", r->id);
        cJSON_AddStringToObject(m, "ReceiptHandle", handle);
        cJSON_AddStringToObject(m, "MD5OfBody", r->md5);
        cJSON_AddStringToObject(m, "Body", r->body);
        cJSON *sys = message_system_attributes(o, r->sent_ms, r->count + 1, r->first_ms);
        if (sys)
            cJSON_AddItemToObject(m, "Attributes", sys);
        add_message_attributes(m, o, r->attrs);
        cJSON_AddItemToArray(out, m);
        taken++;
    }
    for (int i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].body);
        free(rows[i].md5);
        free(rows[i].attrs);
    }
}

/* When the next message of the queue becomes visible, or INT64_MAX. */
static int64_t next_visible_ms(struct dss_call *call, int64_t queue_id, int64_t now)
{
    sqlite3_stmt *st = dss_stmt(call, "SELECT min(visible_ms) FROM sqs_messages WHERE queue_id = ? AND visible_ms > ?");
    if (!st)
        return INT64_MAX;
    sqlite3_bind_int64(st, 1, queue_id);
    sqlite3_bind_int64(st, 2, now);
    int64_t t = INT64_MAX;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return t;
}

static int receive_options(struct dss_call *call, const cJSON *params, const struct queue *q,
                           struct receive_opts *o)
{
    o->max = 1;
    o->visibility = queue_attr_long(q, "VisibilityTimeout");
    o->wait_s = queue_attr_long(q, "ReceiveMessageWaitTimeSeconds");
    if (param_in_range(call, params, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.",
                       &o->max) ||
        param_in_range(call, params, "VisibilityTimeout", 0, 43200, "Must be >= 0 and <= 43200, if provided.",
                       &o->visibility) ||
        param_in_range(call, params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.", &o->wait_s))
        return DSS_ERR;
    o->system_names = cJSON_GetObjectItemCaseSensitive(params, "AttributeNames");
    o->system_names2 = cJSON_GetObjectItemCaseSensitive(params, "MessageSystemAttributeNames");
    o->attr_names = cJSON_GetObjectItemCaseSensitive(params, "MessageAttributeNames");
    return 0;
}

/* ReceiveMessage: QueueUrl, MaxNumberOfMessages, VisibilityTimeout, WaitTimeSeconds, attribute
 * name lists -> Messages[]. With WaitTimeSeconds and nothing visible, parks until a message may
 * have become visible or the wait ends. */
static int sqs_receive_message(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct queue q = {0};
    struct receive_opts o;
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    if (receive_options(call, params, &q, &o)) {
        queue_cleanup(&q);
        return DSS_ERR;
    }
    int64_t now = dss_clock_now_ms();
    int64_t cutoff = retention_cutoff(&q, now);
    delete_expired(call, &q, cutoff);
    cJSON *messages = cJSON_CreateArray();
    take_messages(call, &q, &o, now, cutoff, messages);
    if (!messages->child && o.wait_s > 0) {
        int64_t deadline = dss_call_first_ms(call) + o.wait_s * 1000;
        int64_t next = next_visible_ms(call, q.id, now);
        char key[64];
        snprintf(key, sizeof key, "sqs:%lld", (long long)q.id);
        queue_cleanup(&q);
        if (dss_wait(call, key, next < deadline ? next : deadline) == DSS_WAIT) {
            cJSON_Delete(messages);
            return DSS_WAIT;
        }
    }
    queue_cleanup(&q);
    *result = cJSON_CreateObject();
    if (messages->child)
        cJSON_AddItemToObject(*result, "Messages", messages);
    else
        cJSON_Delete(messages);
    return DSS_OK;
}

/* ---- Deleting and changing visibility by receipt handle ---- */

enum handle_state { HANDLE_CURRENT, HANDLE_STALE, HANDLE_GONE };

/* Parses a receipt handle of queue q into r. Returns 0, or fails the call. */
static int handle_parse(struct dss_call *call, const struct queue *q, const char *handle, struct receipt *r)
{
    if (!handle)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter ReceiptHandle.");
    if (receipt_parse(handle, r) != 0 || r->queue_id != q->id)
        return dss_fail(call, DSS_E_ReceiptHandleIsInvalid,
                        "The input receipt handle \"%.200s\" is not a valid receipt handle.", handle);
    return 0;
}

/* Checks a receipt handle against queue q. Returns 0 and the state, or fails the call. */
static int handle_lookup(struct dss_call *call, const struct queue *q, const char *handle,
                         struct receipt *r, enum handle_state *state, int64_t *visible_ms)
{
    if (handle_parse(call, q, handle, r))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT receipt, visible_ms FROM sqs_messages WHERE seq = ? AND queue_id = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "Could not read the message.");
    sqlite3_bind_int64(st, 1, r->seq);
    sqlite3_bind_int64(st, 2, q->id);
    *state = HANDLE_GONE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *current = (const char *)sqlite3_column_text(st, 0);
        *state = current && strcmp(current, r->nonce) == 0 ? HANDLE_CURRENT : HANDLE_STALE;
        *visible_ms = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return 0;
}

/* Deletes the message a current receipt handle names. A stale handle (re-received since) or
 * one whose message is gone matches no row: the call succeeds and deletes nothing, as AWS's
 * does. One conditional DELETE, not a lookup and then a delete: this runs once per message. */
static int delete_by_handle(struct dss_call *call, const struct queue *q, const char *handle)
{
    struct receipt r;
    if (handle_parse(call, q, handle, &r))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM sqs_messages WHERE seq = ? AND queue_id = ? AND receipt = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "Could not delete the message.");
    sqlite3_bind_int64(st, 1, r.seq);
    sqlite3_bind_int64(st, 2, q->id);
    sqlite3_bind_text(st, 3, r.nonce, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        count_change(q->id, -sqlite3_changes(dss_db(call)), 0);
    sqlite3_reset(st);
    return 0;
}

static int change_visibility(struct dss_call *call, const struct queue *q, const char *handle,
                             const cJSON *entry)
{
    int64_t timeout = -1;
    if (param_in_range(call, entry, "VisibilityTimeout", 0, 43200, "Must be between 0 and 43200.", &timeout))
        return DSS_ERR;
    if (timeout < 0)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter VisibilityTimeout.");
    struct receipt r;
    enum handle_state state;
    int64_t visible_ms = 0, now = dss_clock_now_ms();
    if (handle_lookup(call, q, handle, &r, &state, &visible_ms))
        return DSS_ERR;
    if (state != HANDLE_CURRENT)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value %.200s for parameter ReceiptHandle is invalid. Reason: Message does not exist or "
                        "is not available for visibility timeout change.", handle);
    if (visible_ms <= now)
        return dss_fail(call, DSS_E_MessageNotInflight, "The message referred to is not in flight.");
    sqlite3_stmt *st = dss_stmt(call, "UPDATE sqs_messages SET visible_ms = ? WHERE seq = ?");
    if (st) {
        sqlite3_bind_int64(st, 1, now + timeout * 1000);
        sqlite3_bind_int64(st, 2, r.seq);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    char key[64];
    snprintf(key, sizeof key, "sqs:%lld", (long long)q->id);
    dss_wake_one(call, key); /* a parked receive recomputes when the message reappears */
    return 0;
}

/* DeleteMessage: QueueUrl, ReceiptHandle. */
static int sqs_delete_message(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    int rc = delete_by_handle(call, &q, dss_param_str(params, "ReceiptHandle"));
    queue_cleanup(&q);
    return rc ? DSS_ERR : DSS_OK;
}

/* ChangeMessageVisibility: QueueUrl, ReceiptHandle, VisibilityTimeout. */
static int sqs_change_message_visibility(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    int rc = change_visibility(call, &q, dss_param_str(params, "ReceiptHandle"), params);
    queue_cleanup(&q);
    return rc ? DSS_ERR : DSS_OK;
}

typedef int (*entry_fn)(struct dss_call *call, const struct queue *q, const char *handle, const cJSON *entry);

static int delete_entry(struct dss_call *call, const struct queue *q, const char *handle, const cJSON *entry)
{
    (void)entry;
    return delete_by_handle(call, q, handle);
}

/* The shared body of DeleteMessageBatch and ChangeMessageVisibilityBatch. */
static int handle_batch(struct dss_call *call, const cJSON *params, cJSON **result, entry_fn fn,
                        const char *entry_name)
{
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(params, "Entries");
    struct queue q = {0};
    if (queue_from_params(call, params, &q))
        return DSS_ERR;
    if (check_batch(call, entries, entry_name)) {
        queue_cleanup(&q);
        return DSS_ERR;
    }
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *id = dss_param_str(e, "Id");
        if (fn(call, &q, dss_param_str(e, "ReceiptHandle"), e) != 0) {
            batch_fail(call, failed, id, dss_error_last(call), dss_error_message(call));
            continue;
        }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "Id", id);
        cJSON_AddItemToArray(ok, r);
    }
    queue_cleanup(&q);
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "Successful", ok);
    cJSON_AddItemToObject(*result, "Failed", failed);
    return DSS_OK;
}

/* DeleteMessageBatch: QueueUrl, Entries[{Id, ReceiptHandle}] -> Successful[], Failed[]. */
static int sqs_delete_message_batch(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return handle_batch(call, params, result, delete_entry, "DeleteMessageBatchRequestEntry");
}

/* ChangeMessageVisibilityBatch: QueueUrl, Entries[{Id, ReceiptHandle, VisibilityTimeout}]. */
static int sqs_change_message_visibility_batch(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return handle_batch(call, params, result, change_visibility, "ChangeMessageVisibilityBatchRequestEntry");
}

/* ---- Parameter types ---- */

/* Checks that value v has the JSON type the model's shape for ref describes (structures and
 * maps objects, lists arrays, integers numbers, strings and blobs strings), recursively;
 * members the model does not know are left alone. The Query protocol builds parameters from the
 * model, so only a JSON request can fail here. Returns 0, or fails the call with
 * SerializationException naming the member. */
static int check_shape(struct dss_call *call, const cJSON *model, const cJSON *ref, const cJSON *v,
                       const char *member, int depth)
{
    const char *name = dss_param_str(ref, "shape");
    const cJSON *shape = dss_model_shape(model, name);
    const char *type = dss_param_str(shape, "type");
    const cJSON *e;
    int ok = 1;
    if (!type || cJSON_IsNull(v) || depth > 8)
        return 0;
    if (!strcmp(type, "structure")) {
        ok = cJSON_IsObject(v);
        cJSON_ArrayForEach(e, (ok ? v : NULL)) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(shape, "members"),
                                                              e->string);
            if (m && check_shape(call, model, m, e, e->string, depth + 1))
                return DSS_ERR;
        }
    } else if (!strcmp(type, "list") || !strcmp(type, "map")) {
        ok = !strcmp(type, "list") ? cJSON_IsArray(v) : cJSON_IsObject(v);
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(shape, !strcmp(type, "list") ? "member" : "value");
        cJSON_ArrayForEach(e, (ok ? v : NULL)) {
            if (check_shape(call, model, inner, e, member, depth + 1))
                return DSS_ERR;
        }
    } else if (!strcmp(type, "integer") || !strcmp(type, "long")) {
        ok = cJSON_IsNumber(v); /* a fraction is the operation's InvalidParameterValue, as in Query */
    } else if (!strcmp(type, "boolean")) {
        ok = cJSON_IsBool(v);
    } else if (!strcmp(type, "string") || !strcmp(type, "blob")) {
        ok = cJSON_IsString(v);
    }
    if (!ok)
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value for %s: expected a%s %s.", member,
                        strchr("aeiou", type[0]) ? "n" : "", !strcmp(type, "structure") || !strcmp(type, "map")
                                                             ? "object" : !strcmp(type, "list") ? "array" : type);
    return 0;
}

/* Runs check_shape() over an operation's parameters. */
static int check_params(struct dss_call *call, const char *op, const cJSON *params)
{
    const cJSON *model = dss_model("sqs-query");
    /* A JSON string cut at \u0000 must not be used as if whole: a message body says so in
     * send_one() (InvalidMessageContents, as AWS), any other value here. */
    if (dss_call_params_nul(call) && strcmp(op, "SendMessage") != 0 && strcmp(op, "SendMessageBatch") != 0)
        return dss_fail(call, DSS_E_InvalidParameterValue, "A parameter value holds the character #x0.");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(dss_model_operation(model, op), "input");
    return input ? check_shape(call, model, input, params, op, 0) : 0;
}

/* Every operation first checks its parameters' types: the operations below read them with
 * cJSON accessors that treat a mistyped value as absent. */
#define SQS_OPERATIONS(X) \
    X(CreateQueue, sqs_create_queue, DSS_OP_WRITE) \
    X(GetQueueUrl, sqs_get_queue_url, DSS_OP_READONLY) \
    X(ListQueues, sqs_list_queues, DSS_OP_READONLY) \
    X(DeleteQueue, sqs_delete_queue, DSS_OP_WRITE) \
    X(GetQueueAttributes, sqs_get_queue_attributes, DSS_OP_READONLY) \
    X(SetQueueAttributes, sqs_set_queue_attributes, DSS_OP_WRITE) \
    X(PurgeQueue, sqs_purge_queue, DSS_OP_WRITE) \
    X(TagQueue, sqs_tag_queue, DSS_OP_WRITE) \
    X(UntagQueue, sqs_untag_queue, DSS_OP_WRITE) \
    X(ListQueueTags, sqs_list_queue_tags, DSS_OP_READONLY) \
    X(SendMessage, sqs_send_message, DSS_OP_WRITE) \
    X(SendMessageBatch, sqs_send_message_batch, DSS_OP_WRITE) \
    X(ReceiveMessage, sqs_receive_message, DSS_OP_WRITE) \
    X(DeleteMessage, sqs_delete_message, DSS_OP_WRITE) \
    X(DeleteMessageBatch, sqs_delete_message_batch, DSS_OP_WRITE) \
    X(ChangeMessageVisibility, sqs_change_message_visibility, DSS_OP_WRITE) \
    X(ChangeMessageVisibilityBatch, sqs_change_message_visibility_batch, DSS_OP_WRITE)

#define SQS_CHECKED(op, fn, flags) \
    static int fn##_checked(struct dss_call *call, const cJSON *params, cJSON **result) \
    { \
        return check_params(call, #op, params) ? DSS_ERR : fn(call, params, result); \
    }
SQS_OPERATIONS(SQS_CHECKED)
#undef SQS_CHECKED

static const struct dss_operation sqs_ops[] = {
#define SQS_OP_ROW(op, fn, flags) {#op, fn##_checked, flags},
    SQS_OPERATIONS(SQS_OP_ROW)
#undef SQS_OP_ROW
    {NULL, NULL, 0},
};

const struct dss_service dss_sqs_service = {
    .name = "sqs",
    .json_target = "AmazonSQS",
    .json_version = "1.0",
    .json_ns = "com.amazonaws.sqs#",
    .query_compatible = 1,
    .query_version = "2012-11-05",
    .query_model = "sqs-query",
    .xmlns = "http://queue.amazonaws.com/doc/2012-11-05/",
    .schema_sql = schema,
    .ops = sqs_ops,
    .start = sqs_start,
    .stop = sqs_stop,
};

/* ---- For other services (sqs.h) ---- */

/* The queue an ARN arn:aws:sqs:REGION:ACCOUNT:NAME names, if it exists in that region. */
static int queue_from_arn(struct dss_call *call, const char *arn, struct queue *q)
{
    const char *name = strrchr(arn, ':');
    char prefix[160];
    if (!name || queue_load(call, name + 1, q) != 0)
        return -1;
    snprintf(prefix, sizeof prefix, "arn:aws:sqs:%s:" ACCOUNT_ID ":", q->region);
    if (strlen(prefix) != (size_t)(name + 1 - arn) || strncmp(arn, prefix, strlen(prefix)) != 0) {
        queue_cleanup(q);
        return -1;
    }
    return 0;
}

int sqs_queue_exists(struct dss_call *call, const char *queue_arn)
{
    struct queue q = {0};
    if (queue_from_arn(call, queue_arn, &q) != 0)
        return 0;
    queue_cleanup(&q);
    return 1;
}

int sqs_send_internal(struct dss_call *call, const char *queue_arn, const char *body)
{
    struct queue q = {0};
    if (queue_from_arn(call, queue_arn, &q) != 0)
        return dss_fail(call, DSS_E_QueueDoesNotExist, "The specified queue does not exist.");
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "MessageBody", body);
    struct sent s;
    int rc = send_one(call, &q, msg, &s);
    cJSON_Delete(msg);
    queue_cleanup(&q);
    return rc;
}
