/* items.c -- DynamoDB item operations: PutItem, GetItem, UpdateItem, DeleteItem,
 * BatchWriteItem, BatchGetItem (API 2012-08-10; see dynamodb.c for the service's
 * Supported and Limitations lists).
 *
 * Each operation checks its parameters in DynamoDB's order -- the shape of the request,
 * then its expressions, then the table, then the key against the table's schema -- so that a
 * request with several faults draws the error DynamoDB would answer with.
 */
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb.h"

/* What one single-item request holds while it runs; item_req_cleanup() frees it all. */
struct item_req {
    const char *name;
    struct ddb_table t;
    cJSON *input;          /* the checked Item or Key parameter */
    struct ddb_key k;
    struct ddb_exprs x;
    struct ddb_expr *cond, *update, *proj;
    cJSON *old, *new;
    const char *rv;        /* ReturnValues */
    const char *rv_failed; /* ReturnValuesOnConditionCheckFailure */
};

static void item_req_init(struct item_req *r)
{
    memset(r, 0, sizeof *r);
    ddb_key_init(&r->k);
}

static void item_req_cleanup(struct item_req *r)
{
    ddb_table_close(&r->t);
    cJSON_Delete(r->input);
    ddb_key_free(&r->k);
    ddb_expr_free(r->cond);
    ddb_expr_free(r->update);
    ddb_expr_free(r->proj);
    ddb_exprs_cleanup(&r->x);
    cJSON_Delete(r->old);
    cJSON_Delete(r->new);
}

static const char *const all_return_values[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", NULL};
static const char *const return_values_on_failure[] = {"ALL_OLD", "NONE", NULL};

/* The common front of PutItem, DeleteItem and UpdateItem: table name, legacy parameters,
 * ReturnValues, the Item or Key map, the expressions, then the table and the key. */
static int item_req_open(struct dss_call *call, const cJSON *params, struct item_req *r, int is_put,
                         const char *const *legacy, const char *const *exprs)
{
    struct ddb_err e;
    if (ddb_table_name_param(call, params, &r->name) < 0 || ddb_reject_legacy(call, params, legacy, exprs[0]) < 0
        || ddb_enum_param(call, params, "ReturnValues", all_return_values, "NONE", &r->rv) < 0
        || ddb_enum_param(call, params, "ReturnValuesOnConditionCheckFailure", return_values_on_failure, "NONE",
                          &r->rv_failed) < 0
        || ddb_map_param(call, params, is_put ? "Item" : "Key", is_put ? "item" : "key", &r->input) < 0
        || ddb_exprs_init(call, params, exprs, &r->x) < 0)
        return DSS_ERR;
    for (const char *const *p = exprs; *p; p++) {
        enum ddb_expr_kind kind = strcmp(*p, "UpdateExpression") == 0 ? DDB_EXPR_UPDATE : DDB_EXPR_CONDITION;
        if (ddb_exprs_parse(call, &r->x, params, *p, kind, kind == DDB_EXPR_UPDATE ? &r->update : &r->cond) < 0)
            return DSS_ERR;
    }
    if (ddb_exprs_finish(call, &r->x) < 0 || ddb_table_open(call, r->name, &r->t, 0) < 0)
        return DSS_ERR;
    int rc = is_put ? ddb_key_from_item(&r->t, r->input, &r->k, &e) : ddb_key_from_map(&r->t, r->input, &r->k, &e);
    if (rc < 0)
        return ddb_fail(call, &e);
    return ddb_item_load(call, &r->t, &r->k, &r->old) < 0 ? DSS_ERR : DSS_OK;
}

static int only_all_old(struct dss_call *call, const char *rv)
{
    if (strcmp(rv, "NONE") == 0 || strcmp(rv, "ALL_OLD") == 0)
        return DSS_OK;
    return dss_fail(call, DSS_E_ValidationException, "ReturnValues can only be ALL_OLD or NONE");
}

/* Fails the request with ConditionalCheckFailedException unless its ConditionExpression holds
 * for the item as stored; the error carries that item if the request asked for ALL_OLD in
 * ReturnValuesOnConditionCheckFailure and there is one. */
static int check_condition(struct dss_call *call, const struct item_req *r)
{
    if (!r->cond || ddb_expr_test(r->cond, r->old))
        return DSS_OK;
    int rc = dss_fail(call, DSS_E_ConditionalCheckFailed, "The conditional request failed");
    if (r->old && strcmp(r->rv_failed, "ALL_OLD") == 0)
        dss_fail_member(call, "Item", cJSON_Duplicate(r->old, 1));
    return rc;
}

static void add_attributes(cJSON *result, cJSON *attrs)
{
    if (attrs && attrs->child)
        cJSON_AddItemToObject(result, "Attributes", attrs);
    else
        cJSON_Delete(attrs);
}

static size_t larger_size(const cJSON *a, const cJSON *b)
{
    size_t x = a ? ddb_item_size(a) : 0, y = b ? ddb_item_size(b) : 0;
    return x > y ? x : y;
}

/* PutItem {TableName, Item, ConditionExpression?, ReturnValues?} -> {Attributes?} */
int ddb_op_put_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const legacy[] = {"Expected", "ConditionalOperator", NULL};
    static const char *const exprs[] = {"ConditionExpression", NULL};
    struct item_req r;
    item_req_init(&r);
    int rc = item_req_open(call, params, &r, 1, legacy, exprs);
    if (rc == DSS_OK)
        rc = only_all_old(call, r.rv);
    if (rc == DSS_OK && ddb_item_size(r.input) > DDB_ITEM_MAX)
        rc = dss_fail(call, DSS_E_ValidationException, "Item size has exceeded the maximum allowed size");
    if (rc == DSS_OK && (rc = check_condition(call, &r)) == DSS_OK
        && (rc = ddb_item_store(call, &r.t, &r.k, r.input)) == DSS_OK) {
        *result = cJSON_CreateObject();
        if (strcmp(r.rv, "ALL_OLD") == 0)
            add_attributes(*result, cJSON_Duplicate(r.old, 1));
        ddb_add_consumed(*result, params, r.t.name, ddb_write_units(larger_size(r.old, r.input)));
    }
    item_req_cleanup(&r);
    return rc;
}

/* DeleteItem {TableName, Key, ConditionExpression?, ReturnValues?} -> {Attributes?} */
int ddb_op_delete_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const legacy[] = {"Expected", "ConditionalOperator", NULL};
    static const char *const exprs[] = {"ConditionExpression", NULL};
    struct item_req r;
    item_req_init(&r);
    int rc = item_req_open(call, params, &r, 0, legacy, exprs);
    if (rc == DSS_OK)
        rc = only_all_old(call, r.rv);
    if (rc == DSS_OK && (rc = check_condition(call, &r)) == DSS_OK && r.old)
        rc = ddb_item_remove(call, &r.t, &r.k);
    if (rc == DSS_OK) {
        *result = cJSON_CreateObject();
        if (strcmp(r.rv, "ALL_OLD") == 0)
            add_attributes(*result, cJSON_Duplicate(r.old, 1));
        ddb_add_consumed(*result, params, r.t.name, ddb_write_units(larger_size(r.old, NULL)));
    }
    item_req_cleanup(&r);
    return rc;
}

/* The item after an update: the old one (or just its key) with the actions applied. */
static int apply_update(struct dss_call *call, struct item_req *r)
{
    struct ddb_err e;
    const char *keys[] = {r->t.hash_name, r->t.range_name};
    for (int i = 0; i < 2 && r->update; i++)
        if (keys[i] && ddb_expr_update_touches(r->update, keys[i]))
            return dss_fail(call, DSS_E_ValidationException,
                            "One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key",
                            keys[i]);
    if (check_condition(call, r) < 0)
        return DSS_ERR;
    r->new = cJSON_Duplicate(r->old ? r->old : r->input, 1);
    if (!r->new)
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    if (r->update && ddb_expr_update(r->update, r->old, r->new, &e) < 0)
        return ddb_fail(call, &e);
    if (ddb_item_size(r->new) > DDB_ITEM_MAX)
        return dss_fail(call, DSS_E_ValidationException, "Item size to update has exceeded the maximum allowed size");
    return ddb_item_store(call, &r->t, &r->k, r->new);
}

/* The Attributes an UpdateItem answers with, as ReturnValues asks. */
static cJSON *update_return(const struct item_req *r)
{
    if (strcmp(r->rv, "ALL_OLD") == 0)
        return cJSON_Duplicate(r->old, 1);
    if (strcmp(r->rv, "ALL_NEW") == 0)
        return cJSON_Duplicate(r->new, 1);
    const cJSON *from = strcmp(r->rv, "UPDATED_OLD") == 0 ? r->old : strcmp(r->rv, "UPDATED_NEW") == 0 ? r->new : NULL;
    return from && r->update ? ddb_expr_project(r->update, from) : NULL;
}

/* UpdateItem {TableName, Key, UpdateExpression?, ConditionExpression?, ReturnValues?} */
int ddb_op_update_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const legacy[] = {"AttributeUpdates", "Expected", "ConditionalOperator", NULL};
    static const char *const exprs[] = {"UpdateExpression", "ConditionExpression", NULL};
    struct item_req r;
    item_req_init(&r);
    int rc = item_req_open(call, params, &r, 0, legacy, exprs);
    if (rc == DSS_OK && (rc = apply_update(call, &r)) == DSS_OK) {
        *result = cJSON_CreateObject();
        add_attributes(*result, update_return(&r));
        ddb_add_consumed(*result, params, r.t.name, ddb_write_units(larger_size(r.old, r.new)));
    }
    item_req_cleanup(&r);
    return rc;
}

/* GetItem {TableName, Key, ProjectionExpression?, AttributesToGet?, ConsistentRead?} */
int ddb_op_get_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const exprs[] = {"ProjectionExpression", NULL};
    struct item_req r;
    const cJSON *attrs;
    int consistent;
    struct ddb_err e;
    item_req_init(&r);
    int rc = DSS_ERR;
    if (ddb_table_name_param(call, params, &r.name) < 0 || ddb_map_param(call, params, "Key", "key", &r.input) < 0
        || ddb_attrs_to_get_param(call, params, &attrs) < 0 || ddb_bool_param(call, params, "ConsistentRead", &consistent) < 0
        || ddb_exprs_init(call, params, exprs, &r.x) < 0
        || ddb_exprs_parse(call, &r.x, params, "ProjectionExpression", DDB_EXPR_PROJECTION, &r.proj) < 0
        || ddb_exprs_finish(call, &r.x) < 0 || ddb_table_open(call, r.name, &r.t, 0) < 0)
        goto out;
    if (ddb_key_from_map(&r.t, r.input, &r.k, &e) < 0) {
        ddb_fail(call, &e);
        goto out;
    }
    /* The whole item is answered with its stored text as it is: parsing it only to print it
     * again cost some 5,000 instructions a request (callgrind, a small item). A projection
     * needs the parse. */
    cJSON *whole = NULL;
    size_t size = 0;
    if ((!r.proj && !attrs ? ddb_item_load_raw(call, &r.t, &r.k, &whole, &size)
                           : ddb_item_load(call, &r.t, &r.k, &r.old)) < 0)
        goto out;
    *result = cJSON_CreateObject();
    if (whole) {
        cJSON_AddItemToObject(*result, "Item", whole);
    } else if (r.old) {
        size = ddb_item_size(r.old);
        cJSON_AddItemToObject(*result, "Item", ddb_project(r.proj, attrs, r.old));
    }
    ddb_add_consumed(*result, params, r.t.name, ddb_read_units(size, consistent));
    rc = DSS_OK;
out:
    item_req_cleanup(&r);
    return rc;
}

/* ---- Batches ---- */

#define BATCH_WRITE_MAX 25
#define BATCH_GET_MAX 100

static int request_items_param(struct dss_call *call, const cJSON *params, const cJSON **out)
{
    const cJSON *ri = cJSON_GetObjectItemCaseSensitive(params, "RequestItems");
    *out = ri;
    if (!ri || cJSON_IsNull(ri))
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
    if (!cJSON_IsObject(ri))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for RequestItems");
    if (!ri->child)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
    return DSS_OK;
}

/* Counts the entries of every table's list (Keys for a get); -1 if one is not a list. */
static int count_entries(const cJSON *ri, const char *member)
{
    int n = 0;
    for (const cJSON *t = ri->child; t; t = t->next) {
        const cJSON *list = member ? cJSON_GetObjectItemCaseSensitive(t, member) : t;
        if (!cJSON_IsArray(list) || !list->child)
            return -1;
        n += cJSON_GetArraySize(list);
    }
    return n;
}

static int same_key(const struct ddb_key *a, const struct ddb_key *b)
{
    return a->h.len == b->h.len && a->r.len == b->r.len && (!a->h.len || !memcmp(a->h.data, b->h.data, a->h.len))
        && (!a->r.len || !memcmp(a->r.data, b->r.data, a->r.len));
}

/* One request of a BatchWriteItem: a put (item) or a delete (key). */
struct write {
    int table;       /* index into the batch's tables */
    cJSON *item;     /* checked Item (put) or Key (delete) */
    int is_put;
    struct ddb_key k;
};

struct batch {
    struct ddb_table tables[BATCH_GET_MAX];
    int ntables;
    struct write writes[BATCH_WRITE_MAX];
    int nwrites;
};

static void batch_cleanup(struct batch *b)
{
    for (int i = 0; i < b->ntables; i++)
        ddb_table_close(&b->tables[i]);
    for (int i = 0; i < b->nwrites; i++) {
        cJSON_Delete(b->writes[i].item);
        ddb_key_free(&b->writes[i].k);
    }
}

static int batch_open_table(struct dss_call *call, struct batch *b, const char *name)
{
    cJSON params = {0}, tn = {0};
    const char *checked;
    /* The table name is checked as the TableName parameter would be. */
    tn.type = cJSON_String;
    tn.string = "TableName";
    tn.valuestring = (char *)name;
    params.type = cJSON_Object;
    params.child = &tn;
    if (ddb_table_name_param(call, &params, &checked) < 0 || ddb_table_open(call, checked, &b->tables[b->ntables], 0) < 0)
        return DSS_ERR;
    b->ntables++;
    return DSS_OK;
}

/* Reads one {PutRequest: {Item}} or {DeleteRequest: {Key}} into w. */
static int read_write_request(struct dss_call *call, const cJSON *req, const struct ddb_table *t, struct write *w)
{
    const cJSON *put = cJSON_GetObjectItemCaseSensitive(req, "PutRequest");
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(req, "DeleteRequest");
    struct ddb_err e;
    if (!cJSON_IsObject(req) || !put == !del)
        return dss_fail(call, DSS_E_ValidationException,
                        "A WriteRequest must contain exactly one of PutRequest or DeleteRequest");
    w->is_put = put != NULL;
    if (ddb_map_param(call, put ? put : del, put ? "Item" : "Key", put ? "item" : "key", &w->item) < 0)
        return DSS_ERR;
    int rc = put ? ddb_key_from_item(t, w->item, &w->k, &e) : ddb_key_from_map(t, w->item, &w->k, &e);
    if (rc < 0)
        return ddb_fail(call, &e);
    if (put && ddb_item_size(w->item) > DDB_ITEM_MAX)
        return dss_fail(call, DSS_E_ValidationException, "Item size has exceeded the maximum allowed size");
    return DSS_OK;
}

static int read_writes(struct dss_call *call, const cJSON *ri, struct batch *b)
{
    for (const cJSON *tl = ri->child; tl; tl = tl->next) {
        if (batch_open_table(call, b, tl->string) < 0)
            return DSS_ERR;
        for (const cJSON *req = tl->child; req; req = req->next) {
            struct write *w = &b->writes[b->nwrites++];
            w->table = b->ntables - 1;
            ddb_key_init(&w->k);
            if (read_write_request(call, req, &b->tables[w->table], w) < 0)
                return DSS_ERR;
            for (int i = 0; i < b->nwrites - 1; i++)
                if (b->writes[i].table == w->table && same_key(&b->writes[i].k, &w->k))
                    return dss_fail(call, DSS_E_ValidationException, "Provided list of item keys contains duplicates");
        }
    }
    return DSS_OK;
}

static int run_writes(struct dss_call *call, struct batch *b, double *units)
{
    for (int i = 0; i < b->nwrites; i++) {
        struct write *w = &b->writes[i];
        const struct ddb_table *t = &b->tables[w->table];
        cJSON *old = NULL;
        if (ddb_item_load(call, t, &w->k, &old) < 0)
            return DSS_ERR;
        units[w->table] += ddb_write_units(larger_size(old, w->is_put ? w->item : NULL));
        cJSON_Delete(old);
        int rc = w->is_put ? ddb_item_store(call, t, &w->k, w->item) : ddb_item_remove(call, t, &w->k);
        if (rc < 0)
            return DSS_ERR;
    }
    return DSS_OK;
}

static void add_batch_consumed(cJSON *result, const cJSON *params, const struct batch *b, const double *units)
{
    cJSON *list = NULL;
    for (int i = 0; i < b->ntables; i++) {
        cJSON *c = ddb_consumed(params, b->tables[i].name, units[i]);
        if (!c)
            return;
        if (!list)
            list = cJSON_AddArrayToObject(result, "ConsumedCapacity");
        cJSON_AddItemToArray(list, c);
    }
}

/* BatchWriteItem {RequestItems: {table: [{PutRequest|DeleteRequest}]}} -> {UnprocessedItems: {}} */
int ddb_op_batch_write_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ri;
    struct batch *b = calloc(1, sizeof *b);
    double units[BATCH_WRITE_MAX] = {0};
    if (!b)
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    int rc = request_items_param(call, params, &ri);
    int n = rc == DSS_OK ? count_entries(ri, NULL) : 0;
    if (rc == DSS_OK && n < 0)
        rc = dss_fail(call, DSS_E_ValidationException,
                      "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]");
    else if (rc == DSS_OK && n > BATCH_WRITE_MAX)
        rc = dss_fail(call, DSS_E_ValidationException, "Too many items requested for the BatchWriteItem call");
    if (rc == DSS_OK && (rc = read_writes(call, ri, b)) == DSS_OK && (rc = run_writes(call, b, units)) == DSS_OK) {
        *result = cJSON_CreateObject();
        cJSON_AddObjectToObject(*result, "UnprocessedItems");
        add_batch_consumed(*result, params, b, units);
    }
    batch_cleanup(b);
    free(b);
    return rc;
}

/* One table of a BatchGetItem: its keys, read and projected into list. */
static int get_table_items(struct dss_call *call, const cJSON *kaa, const struct ddb_table *t, cJSON *list, double *units)
{
    static const char *const exprs[] = {"ProjectionExpression", NULL};
    struct ddb_exprs x;
    struct ddb_expr *proj = NULL;
    const cJSON *attrs;
    int consistent, rc = DSS_ERR, n = 0;
    struct ddb_key keys[BATCH_GET_MAX];
    if (ddb_attrs_to_get_param(call, kaa, &attrs) < 0 || ddb_bool_param(call, kaa, "ConsistentRead", &consistent) < 0
        || ddb_exprs_init(call, kaa, exprs, &x) < 0)
        return DSS_ERR;
    if (ddb_exprs_parse(call, &x, kaa, "ProjectionExpression", DDB_EXPR_PROJECTION, &proj) < 0 || ddb_exprs_finish(call, &x) < 0)
        goto out;
    for (const cJSON *kj = cJSON_GetObjectItemCaseSensitive(kaa, "Keys")->child; kj; kj = kj->next, n++) {
        cJSON *key = cJSON_Duplicate(kj, 1), *item = NULL;
        struct ddb_err e = {DSS_E_InternalFailure, "out of memory"};
        ddb_key_init(&keys[n]);
        int bad = !key || ddb_item_check(key, &e) < 0 || ddb_key_from_map(t, key, &keys[n], &e) < 0;
        cJSON_Delete(key);
        if (bad) {
            ddb_fail(call, &e);
            n++;
            goto out;
        }
        for (int i = 0; i < n; i++)
            if (same_key(&keys[i], &keys[n])) {
                dss_fail(call, DSS_E_ValidationException, "Provided list of item keys contains duplicates");
                n++;
                goto out;
            }
        if (ddb_item_load(call, t, &keys[n], &item) < 0) {
            n++;
            goto out;
        }
        if (item)
            cJSON_AddItemToArray(list, ddb_project(proj, attrs, item));
        *units += ddb_read_units(item ? ddb_item_size(item) : 0, consistent);
        cJSON_Delete(item);
    }
    rc = DSS_OK;
out:
    for (int i = 0; i < n; i++)
        ddb_key_free(&keys[i]);
    ddb_expr_free(proj);
    ddb_exprs_cleanup(&x);
    return rc;
}

/* BatchGetItem {RequestItems: {table: {Keys, ProjectionExpression?, ...}}}
 *   -> {Responses: {table: [item]}, UnprocessedKeys: {}} */
int ddb_op_batch_get_item(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ri;
    struct batch *b = calloc(1, sizeof *b);
    double units[BATCH_GET_MAX] = {0};
    cJSON *out = NULL;
    if (!b)
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    int rc = request_items_param(call, params, &ri);
    int n = rc == DSS_OK ? count_entries(ri, "Keys") : 0;
    if (rc == DSS_OK && n < 0)
        rc = dss_fail(call, DSS_E_ValidationException,
                      "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length greater than or equal to 1]");
    else if (rc == DSS_OK && n > BATCH_GET_MAX)
        rc = dss_fail(call, DSS_E_ValidationException, "Too many items requested for the BatchGetItem call");
    if (rc == DSS_OK) {
        out = cJSON_CreateObject();
        cJSON *responses = cJSON_AddObjectToObject(out, "Responses");
        for (const cJSON *kaa = ri->child; kaa && rc == DSS_OK; kaa = kaa->next) {
            if ((rc = batch_open_table(call, b, kaa->string)) == DSS_OK)
                rc = get_table_items(call, kaa, &b->tables[b->ntables - 1],
                                     cJSON_AddArrayToObject(responses, b->tables[b->ntables - 1].name), &units[b->ntables - 1]);
        }
        cJSON_AddObjectToObject(out, "UnprocessedKeys");
        add_batch_consumed(out, params, b, units);
    }
    if (rc == DSS_OK)
        *result = out;
    else
        cJSON_Delete(out);
    batch_cleanup(b);
    free(b);
    return rc;
}
