/* scan.c -- DynamoDB Query and Scan (API 2012-08-10; see dynamodb.c for the service's
 * Supported and Limitations lists).
 *
 * A Query is one range of the (table, hash key, range key) index: its key condition becomes
 * bounds [lo, hi) on the encoded range key (value.h), so SQLite walks only the matching
 * items, in order or in reverse. A Scan walks the whole table in key order. Both count Limit
 * against the items read before the FilterExpression, stop a page at 1 MB read, and answer
 * LastEvaluatedKey whenever they stop early -- also when Limit happens to fall on the last
 * item, as DynamoDB does.
 */
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb.h"

#define PAGE_BYTES (1024 * 1024)

/* What one Query or Scan holds while it runs; read_req_cleanup() frees it all. */
struct read_req {
    const char *name;
    struct ddb_table t;
    struct ddb_exprs x;
    struct ddb_expr *keycond, *filter, *proj;
    const cJSON *attrs;     /* legacy AttributesToGet */
    cJSON *esk;             /* ExclusiveStartKey, checked */
    cJSON *key_conditions;  /* legacy KeyConditions, checked */
    struct ddb_key start;   /* ExclusiveStartKey, encoded */
    int64_t limit;          /* 0: none */
    int count_only, consistent, forward;
    int64_t segment, total_segments;
};

static void read_req_cleanup(struct read_req *r)
{
    ddb_table_close(&r->t);
    ddb_expr_free(r->keycond);
    ddb_expr_free(r->filter);
    ddb_expr_free(r->proj);
    ddb_exprs_cleanup(&r->x);
    cJSON_Delete(r->esk);
    cJSON_Delete(r->key_conditions);
    ddb_key_free(&r->start);
}

static int limit_param(struct dss_call *call, const cJSON *params, int64_t *limit)
{
    *limit = 0;
    if (ddb_int_param(params, "Limit", limit) == 0 && *limit < 1)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value '%lld' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
                        (long long)*limit);
    return DSS_OK;
}

/* Select and the projection parameters agree, as DynamoDB requires. */
static int select_param(struct dss_call *call, const cJSON *params, struct read_req *r)
{
    static const char *const choices[] = {"ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT", NULL};
    const char *select;
    int projected = r->attrs || cJSON_GetObjectItemCaseSensitive(params, "ProjectionExpression");
    if (ddb_enum_param(call, params, "Select", choices, projected ? "SPECIFIC_ATTRIBUTES" : "ALL_ATTRIBUTES", &select) < 0)
        return DSS_ERR;
    if (strcmp(select, "ALL_PROJECTED_ATTRIBUTES") == 0)
        return dss_fail(call, DSS_E_ValidationException, "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
    if (strcmp(select, "SPECIFIC_ATTRIBUTES") == 0 && !projected)
        return dss_fail(call, DSS_E_ValidationException,
                        "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES");
    if (strcmp(select, "SPECIFIC_ATTRIBUTES") != 0 && projected)
        return dss_fail(call, DSS_E_ValidationException,
                        "Cannot specify the AttributesToGet or ProjectionExpression when choosing to get %s", select);
    r->count_only = strcmp(select, "COUNT") == 0;
    return DSS_OK;
}

static int expression_params(struct dss_call *call, const cJSON *params, struct read_req *r, int is_query)
{
    static const char *const query_exprs[] = {"KeyConditionExpression", "FilterExpression", "ProjectionExpression", NULL};
    static const char *const scan_exprs[] = {"FilterExpression", "ProjectionExpression", NULL};
    if (ddb_exprs_init(call, params, is_query ? query_exprs : scan_exprs, &r->x) < 0)
        return DSS_ERR;
    if (is_query && ddb_exprs_parse(call, &r->x, params, "KeyConditionExpression", DDB_EXPR_KEY_CONDITION, &r->keycond) < 0)
        return DSS_ERR;
    if (ddb_exprs_parse(call, &r->x, params, "FilterExpression", DDB_EXPR_FILTER, &r->filter) < 0
        || ddb_exprs_parse(call, &r->x, params, "ProjectionExpression", DDB_EXPR_PROJECTION, &r->proj) < 0)
        return DSS_ERR;
    return ddb_exprs_finish(call, &r->x);
}

static int start_key_param(struct dss_call *call, const cJSON *params, struct read_req *r)
{
    struct ddb_err e;
    if (!cJSON_GetObjectItemCaseSensitive(params, "ExclusiveStartKey"))
        return DSS_OK;
    if (ddb_map_param(call, params, "ExclusiveStartKey", "exclusiveStartKey", &r->esk) < 0)
        return DSS_ERR;
    if (ddb_key_from_map(&r->t, r->esk, &r->start, &e) < 0)
        return dss_fail(call, e.code, "The provided starting key is invalid: %s", e.msg);
    return DSS_OK;
}

/* The parameters Query and Scan share, checked in DynamoDB's order. */
static int read_req_open(struct dss_call *call, const cJSON *params, struct read_req *r, int is_query)
{
    static const char *const query_legacy[] = {"QueryFilter", "ConditionalOperator", NULL};
    static const char *const scan_legacy[] = {"ScanFilter", "ConditionalOperator", NULL};
    int has_forward = cJSON_GetObjectItemCaseSensitive(params, "ScanIndexForward") != NULL;
    if (ddb_table_name_param(call, params, &r->name) < 0
        || ddb_reject_legacy(call, params, is_query ? query_legacy : scan_legacy, "FilterExpression") < 0
        || limit_param(call, params, &r->limit) < 0 || ddb_attrs_to_get_param(call, params, &r->attrs) < 0
        || select_param(call, params, r) < 0 || ddb_bool_param(call, params, "ConsistentRead", &r->consistent) < 0
        || ddb_bool_param(call, params, "ScanIndexForward", &r->forward) < 0)
        return DSS_ERR;
    if (!has_forward)
        r->forward = 1;
    if (expression_params(call, params, r, is_query) < 0 || ddb_table_open(call, r->name, &r->t, 0) < 0)
        return DSS_ERR;
    const char *index = dss_param_str(params, "IndexName");
    if (index)
        return dss_fail(call, DSS_E_ValidationException, "The table does not have the specified index: %s", index);
    return start_key_param(call, params, r);
}

/* ---- Reading a page ---- */

static uint32_t fnv1a(const void *p, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 16777619u;
    return h;
}

/* Whether a row belongs to the Scan's segment (each hash key wholly in one segment). */
static int in_segment(const struct read_req *r, sqlite3_stmt *st)
{
    if (r->total_segments <= 1)
        return 1;
    return (int64_t)(fnv1a(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0)) % (uint32_t)r->total_segments) == r->segment;
}

/* Steps st (columns: hkey, size, item) into result: Items, Count, ScannedCount,
 * LastEvaluatedKey, ConsumedCapacity. */
static int read_page(struct dss_call *call, const cJSON *params, struct read_req *r, sqlite3_stmt *st, cJSON *result)
{
    cJSON *items = r->count_only ? NULL : cJSON_AddArrayToObject(result, "Items");
    cJSON *last = NULL;
    int64_t count = 0, scanned = 0, bytes = 0;
    int rc = SQLITE_DONE, stopped = 0;
    while (!stopped && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!in_segment(r, st))
            continue;
        cJSON *item = ddb_item_parse(call, (const char *)sqlite3_column_text(st, 2));
        if (!item) {
            cJSON_Delete(last);
            return DSS_ERR;
        }
        scanned++;
        bytes += sqlite3_column_int64(st, 1);
        if (!r->filter || ddb_expr_test(r->filter, item)) {
            count++;
            if (items)
                cJSON_AddItemToArray(items, ddb_project(r->proj, r->attrs, item));
        }
        cJSON_Delete(last);
        last = item;
        stopped = (r->limit && scanned >= r->limit) || bytes >= PAGE_BYTES;
    }
    sqlite3_reset(st);
    if (!stopped && rc != SQLITE_DONE) {
        cJSON_Delete(last);
        return ddb_sql_error(call);
    }
    cJSON_AddNumberToObject(result, "Count", (double)count);
    cJSON_AddNumberToObject(result, "ScannedCount", (double)scanned);
    if (stopped)
        cJSON_AddItemToObject(result, "LastEvaluatedKey", ddb_key_attrs(&r->t, last));
    cJSON_Delete(last);
    ddb_add_consumed(result, params, r->t.name, ddb_read_units((size_t)bytes, r->consistent));
    return DSS_OK;
}

/* ---- Query ---- */

static int buf_cmp(const struct buf *a, const struct buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static void buf_set(struct buf *b, const struct buf *from, int successor)
{
    buf_reset(b);
    buf_append(b, from->data ? from->data : "", from->len);
    if (successor) /* the smallest blob above from */
        buf_append(b, "", 1);
}

/* The smallest blob above every blob that starts with prefix (an encoded key, so it starts
 * with 0x01 and can always be incremented). */
static void prefix_end(struct buf *b, const struct buf *prefix)
{
    buf_set(b, prefix, 0);
    while (b->len > 1 && (unsigned char)b->data[b->len - 1] == 0xFF)
        b->len--;
    if (b->len == 0) { /* no encoding (check_key_types refuses such values): above every key */
        buf_reset(b);
        buf_puts(b, DDB_KEY_HIGH);
        return;
    }
    b->data[b->len - 1]++;
}

/* Turns the range condition into bounds lo <= rkey < hi. */
static void range_bounds(const struct ddb_key_cond *kc, struct buf *lo, struct buf *hi)
{
    struct buf v1, v2;
    buf_init(&v1, 4096);
    buf_init(&v2, 4096);
    if (kc->range_v1)
        ddb_key_encode(kc->range_v1, &v1);
    if (kc->range_v2)
        ddb_key_encode(kc->range_v2, &v2);
    switch (kc->range_op) {
    case DDB_KEY_EQ: buf_set(lo, &v1, 0); buf_set(hi, &v1, 1); break;
    case DDB_KEY_LT: buf_set(hi, &v1, 0); break;
    case DDB_KEY_LE: buf_set(hi, &v1, 1); break;
    case DDB_KEY_GT: buf_set(lo, &v1, 1); break;
    case DDB_KEY_GE: buf_set(lo, &v1, 0); break;
    case DDB_KEY_BETWEEN: buf_set(lo, &v1, 0); buf_set(hi, &v2, 1); break;
    case DDB_KEY_BEGINS_WITH: buf_set(lo, &v1, 0); prefix_end(hi, &v1); break;
    default: break;
    }
    buf_free(&v1);
    buf_free(&v2);
}

/* Legacy KeyConditions {attr: {ComparisonOperator, AttributeValueList}} as a key condition. */
static int legacy_key_condition(struct dss_call *call, const cJSON *params, struct read_req *r, struct ddb_key_cond *kc)
{
    static const char *const names[] = {"EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN", NULL};
    static const enum ddb_key_op ops[] = {DDB_KEY_EQ, DDB_KEY_LE, DDB_KEY_LT, DDB_KEY_GE, DDB_KEY_GT, DDB_KEY_BEGINS_WITH, DDB_KEY_BETWEEN};
    struct ddb_err e;
    memset(kc, 0, sizeof *kc);
    if (!(r->key_conditions = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(params, "KeyConditions"), 1)) || !cJSON_IsObject(r->key_conditions))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for KeyConditions");
    for (cJSON *c = r->key_conditions->child; c; c = c->next) {
        const char *opname = dss_param_str(c, "ComparisonOperator");
        cJSON *list = cJSON_GetObjectItemCaseSensitive(c, "AttributeValueList");
        int i = 0, n = cJSON_GetArraySize(list);
        while (names[i] && (!opname || strcmp(names[i], opname)))
            i++;
        if (!names[i])
            return dss_fail(call, DSS_E_ValidationException, "Attempted conditional constraint is not an indexable operation");
        if (n != (ops[i] == DDB_KEY_BETWEEN ? 2 : 1))
            return dss_fail(call, DSS_E_ValidationException,
                            "One or more parameter values were invalid: Invalid number of argument(s) for the %s ComparisonOperator", opname);
        for (cJSON *v = list->child; v; v = v->next)
            if (ddb_av_check(v, &e) < 0)
                return ddb_fail(call, &e);
        const cJSON *v1 = list->child, *v2 = v1 ? v1->next : NULL; /* n is 1 or 2: v1 is there */
        if (strcmp(c->string, r->t.hash_name) == 0 && ops[i] == DDB_KEY_EQ) {
            kc->hash_value = v1;
        } else if (r->t.range_name && strcmp(c->string, r->t.range_name) == 0) {
            kc->range_op = ops[i];
            kc->range_v1 = v1;
            kc->range_v2 = v2;
        } else {
            return dss_fail(call, DSS_E_ValidationException, "Query key condition not supported");
        }
    }
    if (!kc->hash_value)
        return dss_fail(call, DSS_E_ValidationException, "Query condition missed key schema element: %s", r->t.hash_name);
    return DSS_OK;
}

static int key_condition(struct dss_call *call, const cJSON *params, struct read_req *r, struct ddb_key_cond *kc)
{
    struct ddb_err e;
    int legacy = cJSON_GetObjectItemCaseSensitive(params, "KeyConditions") != NULL;
    memset(kc, 0, sizeof *kc);
    if (legacy && r->keycond)
        return dss_fail(call, DSS_E_ValidationException,
                        "Can not use both expression and non-expression parameters in the same request: "
                        "Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}");
    if (legacy)
        return legacy_key_condition(call, params, r, kc);
    if (!r->keycond)
        return dss_fail(call, DSS_E_ValidationException,
                        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
    if (ddb_expr_key_cond(r->keycond, r->t.hash_name, r->t.range_name, kc, &e) < 0)
        return ddb_fail(call, &e);
    return DSS_OK;
}

/* The key condition's values are of the key attributes' types, and the hash key not empty. */
static int check_key_types(struct dss_call *call, const struct read_req *r, const struct ddb_key_cond *kc)
{
    enum ddb_type ht = ddb_type_of(kc->hash_value);
    if (!kc->hash_value)
        return dss_fail(call, DSS_E_ValidationException, "Query condition missed key schema element: %s", r->t.hash_name);
    if (ht != r->t.hash_type || (kc->range_v1 && ddb_type_of(kc->range_v1) != r->t.range_type)
        || (kc->range_v2 && ddb_type_of(kc->range_v2) != r->t.range_type))
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Condition parameter type does not match schema type");
    /* Larger values could not be a key, and would not fit the bounds' buffers. */
    if (ddb_av_size(kc->hash_value) > 2048)
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes");
    if ((kc->range_v1 && ddb_av_size(kc->range_v1) > 1024) || (kc->range_v2 && ddb_av_size(kc->range_v2) > 1024))
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
    if ((ht == DDB_T_S || ht == DDB_T_B) && kc->hash_value->child->valuestring[0] == '\0')
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s",
                        ht == DDB_T_B ? "binary" : "string", r->t.hash_name);
    return DSS_OK;
}

static int query_page(struct dss_call *call, const cJSON *params, struct read_req *r, const struct ddb_key_cond *kc,
                      cJSON *result)
{
    struct buf hash, lo, hi;
    buf_init(&hash, 4096);
    buf_init(&lo, 4096);
    buf_init(&hi, 4096);
    ddb_key_encode(kc->hash_value, &hash);
    buf_puts(&hi, DDB_KEY_HIGH);
    range_bounds(kc, &lo, &hi);
    if (r->esk && r->forward && buf_cmp(&lo, &r->start.r) <= 0)
        buf_set(&lo, &r->start.r, 1);
    else if (r->esk && !r->forward && buf_cmp(&hi, &r->start.r) > 0)
        buf_set(&hi, &r->start.r, 0);
    sqlite3_stmt *st = r->forward
        ? dss_stmt(call, "SELECT hkey, size, item FROM ddb_items WHERE table_id = ?1 AND hkey = ?2 AND rkey >= ?3 AND rkey < ?4 ORDER BY rkey")
        : dss_stmt(call, "SELECT hkey, size, item FROM ddb_items WHERE table_id = ?1 AND hkey = ?2 AND rkey >= ?3 AND rkey < ?4 ORDER BY rkey DESC");
    int rc;
    if (!st) {
        rc = ddb_sql_error(call);
    } else {
        sqlite3_bind_int64(st, 1, r->t.id);
        ddb_bind_key(st, 2, &hash);
        ddb_bind_key(st, 3, &lo);
        ddb_bind_key(st, 4, &hi);
        rc = read_page(call, params, r, st, result);
    }
    buf_free(&hash);
    buf_free(&lo);
    buf_free(&hi);
    return rc;
}

/* Query {TableName, KeyConditionExpression | KeyConditions, FilterExpression?,
 *        ProjectionExpression?, Select?, Limit?, ExclusiveStartKey?, ScanIndexForward?}
 *   -> {Items, Count, ScannedCount, LastEvaluatedKey?} */
int ddb_op_query(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct read_req r;
    struct ddb_key_cond kc;
    memset(&r, 0, sizeof r);
    ddb_key_init(&r.start);
    int rc = read_req_open(call, params, &r, 1);
    if (rc == DSS_OK && (rc = key_condition(call, params, &r, &kc)) == DSS_OK && (rc = check_key_types(call, &r, &kc)) == DSS_OK) {
        cJSON *out = cJSON_CreateObject();
        if ((rc = query_page(call, params, &r, &kc, out)) == DSS_OK)
            *result = out;
        else
            cJSON_Delete(out);
    }
    read_req_cleanup(&r);
    return rc;
}

/* ---- Scan ---- */

static int segment_params(struct dss_call *call, const cJSON *params, struct read_req *r)
{
    int has_seg = ddb_int_param(params, "Segment", &r->segment);
    int has_total = ddb_int_param(params, "TotalSegments", &r->total_segments);
    if (has_seg == 0 && has_total != 0)
        return dss_fail(call, DSS_E_ValidationException,
                        "The TotalSegments parameter is required but was not present in the request when parameter Segment is present");
    if (has_total == 0 && has_seg != 0)
        return dss_fail(call, DSS_E_ValidationException,
                        "The Segment parameter is required but was not present in the request when parameter TotalSegments is present");
    if (has_total != 0)
        return DSS_OK;
    if (r->total_segments < 1 || r->total_segments > 1000000)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value '%lld' at 'totalSegments' failed to satisfy constraint: Member must have value %s",
                        (long long)r->total_segments, r->total_segments < 1 ? "greater than or equal to 1" : "less than or equal to 1000000");
    if (r->segment < 0 || r->segment >= r->total_segments)
        return dss_fail(call, DSS_E_ValidationException,
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %lld is not less than TotalSegments: %lld",
                        (long long)r->segment, (long long)r->total_segments);
    return DSS_OK;
}

/* Scan {TableName, FilterExpression?, ProjectionExpression?, Select?, Limit?,
 *       ExclusiveStartKey?, Segment?, TotalSegments?} -> {Items, Count, ScannedCount, ...} */
int ddb_op_scan(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct read_req r;
    memset(&r, 0, sizeof r);
    ddb_key_init(&r.start);
    int rc = segment_params(call, params, &r);
    if (rc == DSS_OK)
        rc = read_req_open(call, params, &r, 0);
    sqlite3_stmt *st = rc == DSS_OK
        ? dss_stmt(call, "SELECT hkey, size, item FROM ddb_items WHERE table_id = ?1 AND (hkey, rkey) > (?2, ?3) ORDER BY hkey, rkey")
        : NULL;
    if (rc == DSS_OK && !st)
        rc = ddb_sql_error(call);
    if (rc == DSS_OK) {
        cJSON *out = cJSON_CreateObject();
        sqlite3_bind_int64(st, 1, r.t.id);
        ddb_bind_key(st, 2, &r.start.h); /* empty before the first page: below every key */
        ddb_bind_key(st, 3, &r.start.r);
        if ((rc = read_page(call, params, &r, st, out)) == DSS_OK)
            *result = out;
        else
            cJSON_Delete(out);
    }
    read_req_cleanup(&r);
    return rc;
}
