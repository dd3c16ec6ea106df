/* dynamodb.c -- Amazon DynamoDB, API 2012-08-10, JSON 1.0 protocol
 * (X-Amz-Target: DynamoDB_20120810.<Operation>): the service table and the table operations.
 * Item operations are in items.c, Query and Scan in scan.c, expressions in expr.c and
 * expr_eval.c, attribute values and exact decimal numbers in value.c, storage in store.c.
 *
 * Supported:
 *   CreateTable, DescribeTable, ListTables, DeleteTable,
 *   PutItem, GetItem, UpdateItem, DeleteItem, Query, Scan, BatchWriteItem, BatchGetItem;
 *   every attribute type (S N B BOOL NULL L M SS NS BS), numbers exact to 38 digits and
 *   answered in canonical form; ConditionExpression, UpdateExpression (SET with
 *   if_not_exists, list_append, + and -; REMOVE incl. list elements; ADD; DELETE),
 *   ProjectionExpression, FilterExpression, KeyConditionExpression with
 *   ExpressionAttributeNames/Values and DynamoDB's reserved words; ReturnValues and
 *   ReturnValuesOnConditionCheckFailure;
 *   Limit/ExclusiveStartKey/LastEvaluatedKey paging (and the 1 MB page limit),
 *   ScanIndexForward, Select COUNT, parallel Scan segments; ConsumedCapacity (TOTAL and
 *   INDEXES, computed from item sizes); the 400 KB item limit; legacy KeyConditions and
 *   AttributesToGet.
 *
 * Limitations:
 *   - Secondary indexes: CreateTable rejects GlobalSecondaryIndexes/LocalSecondaryIndexes
 *     with a ValidationException, and Query/Scan with IndexName answer that the table has no
 *     such index.
 *   - Tables are ACTIVE at once (CreateTable answers ACTIVE, as DynamoDB Local does) and
 *     gone at once (DeleteTable answers DELETING; the table is already deleted).
 *   - Legacy Expected, QueryFilter, ScanFilter, AttributeUpdates and ConditionalOperator are
 *     rejected with a ValidationException naming the expression to use instead.
 *   - No UpdateTable, transactions, streams, TTL, backups, tags or PartiQL.
 *   - ItemCount and TableSizeBytes are exact rather than refreshed every six hours.
 *   - Scan returns items in key order, not in DynamoDB's hash order.
 *   - Strings holding U+0000 (sent as \u0000) are refused with a ValidationException: the
 *     JSON parser ends strings there, and a key cut short could name another item.
 *   - A fractional number for a boolean member is refused (DynamoDB reads 1.5 as true).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dynamodb/ddb.h"
#include "util.h"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS ddb_tables ("
    "  id INTEGER PRIMARY KEY,"
    "  region TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"           /* JSON: TableName, KeySchema, AttributeDefinitions, ... */
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (region, name));"
    "CREATE TABLE IF NOT EXISTS ddb_items ("
    "  table_id INTEGER NOT NULL,"
    "  hkey BLOB NOT NULL,"           /* order-preserving encodings (value.h) */
    "  rkey BLOB NOT NULL,"           /* empty for a hash-only table */
    "  size INTEGER NOT NULL,"        /* DynamoDB's item size, for TableSizeBytes */
    "  item TEXT NOT NULL,"           /* the item's JSON, {name: AV} */
    "  UNIQUE (table_id, hkey, rkey));";

/* ---- CreateTable ---- */

static int null_member(struct dss_call *call, const char *member)
{
    return dss_fail(call, DSS_E_ValidationException,
                    "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member);
}

/* AttributeDefinitions: each a name and a type S, N or B, no name twice. */
static int check_definitions(struct dss_call *call, const cJSON *defs)
{
    if (!defs)
        return null_member(call, "attributeDefinitions");
    if (!cJSON_IsArray(defs))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for AttributeDefinitions");
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, defs) {
        const char *name = dss_param_str(d, "AttributeName"), *type = dss_param_str(d, "AttributeType");
        i++;
        if (!name || !*name)
            return null_member(call, "attributeDefinitions.member.attributeName");
        if (!type || (strcmp(type, "S") && strcmp(type, "N") && strcmp(type, "B")))
            return dss_fail(call, DSS_E_ValidationException,
                            "1 validation error detected: Value '%s' at 'attributeDefinitions.%d.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                            type ? type : "null", i);
        for (const cJSON *e = defs->child; e != d; e = e->next)
            if (strcmp(dss_param_str(e, "AttributeName"), name) == 0)
                return dss_fail(call, DSS_E_ValidationException, "Cannot have two attributes with the same name");
    }
    return DSS_OK;
}

static int is_defined(const cJSON *defs, const char *name)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, defs)
        if (strcmp(dss_param_str(d, "AttributeName"), name) == 0)
            return 1;
    return 0;
}

/* "Keys: [id], AttributeDefinitions: [other]", as DynamoDB lists them. */
static int undefined_keys(struct dss_call *call, const cJSON *keys, const cJSON *defs)
{
    struct buf k, d;
    buf_init(&k, 1024);
    buf_init(&d, 1024);
    const cJSON *e;
    cJSON_ArrayForEach(e, keys)
        buf_printf(&k, "%s%s", k.len ? ", " : "", dss_param_str(e, "AttributeName"));
    cJSON_ArrayForEach(e, defs)
        buf_printf(&d, "%s%s", d.len ? ", " : "", dss_param_str(e, "AttributeName"));
    dss_fail(call, DSS_E_ValidationException,
             "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
             k.data ? k.data : "", d.data ? d.data : "");
    buf_free(&k);
    buf_free(&d);
    return DSS_ERR;
}

/* KeySchema: a HASH element, then optionally a RANGE one, each defined, no definition spare. */
static int check_key_schema(struct dss_call *call, const cJSON *keys, const cJSON *defs)
{
    if (!keys)
        return null_member(call, "keySchema");
    if (!cJSON_IsArray(keys))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for KeySchema");
    int n = cJSON_GetArraySize(keys);
    if (n < 1 || n > 2)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length %s",
                        n < 1 ? "greater than or equal to 1" : "less than or equal to 2");
    const cJSON *k;
    int i = 0;
    cJSON_ArrayForEach(k, keys) {
        const char *name = dss_param_str(k, "AttributeName"), *type = dss_param_str(k, "KeyType");
        if (!name || !*name)
            return null_member(call, "keySchema.member.attributeName");
        if (!type || (strcmp(type, "HASH") && strcmp(type, "RANGE")))
            return dss_fail(call, DSS_E_ValidationException,
                            "1 validation error detected: Value '%s' at 'keySchema.%d.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
                            type ? type : "null", i + 1);
        if (strcmp(type, i == 0 ? "HASH" : "RANGE") != 0)
            return dss_fail(call, DSS_E_ValidationException, "Invalid KeySchema: The %s KeySchemaElement is not a %s key type",
                            i == 0 ? "first" : "second", i == 0 ? "HASH" : "RANGE");
        if (i == 1 && strcmp(name, dss_param_str(keys->child, "AttributeName")) == 0)
            return dss_fail(call, DSS_E_ValidationException, "Both the Hash Key and the Range Key element in the KeySchema have the same name");
        i++;
    }
    cJSON_ArrayForEach(k, keys)
        if (!is_defined(defs, dss_param_str(k, "AttributeName")))
            return undefined_keys(call, keys, defs);
    if (cJSON_GetArraySize(defs) != n)
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions");
    return DSS_OK;
}

static int capacity_units(struct dss_call *call, const cJSON *pt, const char *name, int64_t *out)
{
    int rc = dss_param_int(pt, name, out);
    if (rc != 0 || *out < 1)
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
    return DSS_OK;
}

/* BillingMode and ProvisionedThroughput go together as DynamoDB requires. */
static int check_billing(struct dss_call *call, const cJSON *params, cJSON *spec)
{
    static const char *const modes[] = {"PROVISIONED", "PAY_PER_REQUEST", NULL};
    const char *mode;
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(params, "ProvisionedThroughput");
    int64_t read = 0, write = 0;
    if (ddb_enum_param(call, params, "BillingMode", modes, "PROVISIONED", &mode) < 0)
        return DSS_ERR;
    if (strcmp(mode, "PAY_PER_REQUEST") == 0 && pt)
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
    if (strcmp(mode, "PROVISIONED") == 0 && !pt)
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
    if (pt && (capacity_units(call, pt, "ReadCapacityUnits", &read) < 0 || capacity_units(call, pt, "WriteCapacityUnits", &write) < 0))
        return DSS_ERR;
    cJSON_AddStringToObject(spec, "BillingMode", mode);
    cJSON *tp = cJSON_AddObjectToObject(spec, "ProvisionedThroughput");
    cJSON_AddNumberToObject(tp, "ReadCapacityUnits", (double)read);
    cJSON_AddNumberToObject(tp, "WriteCapacityUnits", (double)write);
    return DSS_OK;
}

static int insert_table(struct dss_call *call, const char *name, const cJSON *spec, int64_t created_ms)
{
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO ddb_tables (region, name, spec, created_ms) VALUES (?1, ?2, ?3, ?4)");
    char *text = cJSON_PrintUnformatted(spec);
    if (!st || !text) {
        free(text);
        return ddb_sql_error(call);
    }
    sqlite3_bind_text(st, 1, dss_call_region(call), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, text, -1, free);
    sqlite3_bind_int64(st, 4, created_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT)
        return dss_fail(call, DSS_E_ResourceInUseException, "Table already exists: %s", name);
    return rc == SQLITE_DONE ? DSS_OK : ddb_sql_error(call);
}

/* CreateTable {TableName, KeySchema, AttributeDefinitions, BillingMode?, ProvisionedThroughput?} */
static int op_create_table(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name;
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(params, "AttributeDefinitions");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(params, "KeySchema");
    if (ddb_table_name_param(call, params, &name) < 0 || check_definitions(call, defs) < 0
        || check_key_schema(call, keys, defs) < 0)
        return DSS_ERR;
    if (cJSON_GetObjectItemCaseSensitive(params, "GlobalSecondaryIndexes")
        || cJSON_GetObjectItemCaseSensitive(params, "LocalSecondaryIndexes"))
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: secondary indexes are not supported by this emulator");
    cJSON *spec = cJSON_CreateObject();
    char id[37];
    uuid_string(id);
    cJSON_AddStringToObject(spec, "TableName", name);
    cJSON_AddItemToObject(spec, "KeySchema", cJSON_Duplicate(keys, 1));
    cJSON_AddItemToObject(spec, "AttributeDefinitions", cJSON_Duplicate(defs, 1));
    cJSON_AddStringToObject(spec, "TableId", id);
    int64_t now = dss_clock_now_ms();
    struct ddb_table t;
    if (check_billing(call, params, spec) < 0 || insert_table(call, name, spec, now) < 0
        || ddb_table_open(call, name, &t, 1) < 0) {
        cJSON_Delete(spec);
        return DSS_ERR;
    }
    cJSON_Delete(spec);
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "TableDescription", ddb_table_describe(call, &t, "ACTIVE"));
    ddb_table_close(&t);
    return DSS_OK;
}

/* ---- DescribeTable, DeleteTable, ListTables ---- */

/* DescribeTable {TableName} */
static int op_describe_table(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name;
    struct ddb_table t;
    if (ddb_table_name_param(call, params, &name) < 0 || ddb_table_open(call, name, &t, 1) < 0)
        return DSS_ERR;
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "Table", ddb_table_describe(call, &t, "ACTIVE"));
    ddb_table_close(&t);
    return DSS_OK;
}

/* DeleteTable {TableName}: answers the description as the table was, DELETING. */
static int op_delete_table(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name;
    struct ddb_table t;
    if (ddb_table_name_param(call, params, &name) < 0 || ddb_table_open(call, name, &t, 1) < 0)
        return DSS_ERR;
    cJSON *desc = ddb_table_describe(call, &t, "DELETING");
    sqlite3_stmt *items = dss_stmt(call, "DELETE FROM ddb_items WHERE table_id = ?1");
    sqlite3_stmt *table = dss_stmt(call, "DELETE FROM ddb_tables WHERE id = ?1");
    int rc = DSS_OK;
    if (!items || !table) {
        rc = ddb_sql_error(call);
    } else {
        sqlite3_bind_int64(items, 1, t.id);
        sqlite3_bind_int64(table, 1, t.id);
        if (sqlite3_step(items) != SQLITE_DONE || sqlite3_step(table) != SQLITE_DONE)
            rc = ddb_sql_error(call);
    }
    ddb_table_close(&t);
    if (rc != DSS_OK) {
        cJSON_Delete(desc);
        return rc;
    }
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "TableDescription", desc);
    return DSS_OK;
}

/* ListTables {ExclusiveStartTableName?, Limit?} -> {TableNames, LastEvaluatedTableName?} */
static int op_list_tables(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t limit = 100;
    const char *start = dss_param_str(params, "ExclusiveStartTableName");
    ddb_int_param(params, "Limit", &limit);
    if (limit < 1 || limit > 100)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value '%lld' at 'limit' failed to satisfy constraint: Member must have value %s",
                        (long long)limit, limit < 1 ? "greater than or equal to 1" : "less than or equal to 100");
    sqlite3_stmt *st = dss_stmt(call, "SELECT name FROM ddb_tables WHERE region = ?1 AND name > ?2 ORDER BY name LIMIT ?3");
    if (!st)
        return ddb_sql_error(call);
    sqlite3_bind_text(st, 1, dss_call_region(call), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, start ? start : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, limit + 1); /* one more tells whether a page follows */
    *result = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(*result, "TableNames");
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < limit) {
        cJSON_AddItemToArray(names, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
        n++;
    }
    if (rc == SQLITE_ROW)
        cJSON_AddStringToObject(*result, "LastEvaluatedTableName", cJSON_GetArrayItem(names, n - 1)->valuestring);
    else if (rc != SQLITE_DONE)
        return ddb_sql_error(call);
    return DSS_OK;
}

/* Every operation first passes ddb_check_request() (shapes.c): the operations read members
 * with cJSON accessors that would take a mistyped member for an absent one. */
#define DDB_OPERATIONS(X) \
    X(CreateTable, op_create_table, DSS_OP_WRITE) \
    X(DescribeTable, op_describe_table, DSS_OP_READONLY) \
    X(ListTables, op_list_tables, DSS_OP_READONLY) \
    X(DeleteTable, op_delete_table, DSS_OP_WRITE) \
    X(PutItem, ddb_op_put_item, DSS_OP_WRITE) \
    X(GetItem, ddb_op_get_item, DSS_OP_READONLY) \
    X(UpdateItem, ddb_op_update_item, DSS_OP_WRITE) \
    X(DeleteItem, ddb_op_delete_item, DSS_OP_WRITE) \
    X(Query, ddb_op_query, DSS_OP_READONLY) \
    X(Scan, ddb_op_scan, DSS_OP_READONLY) \
    X(BatchWriteItem, ddb_op_batch_write_item, DSS_OP_WRITE) \
    X(BatchGetItem, ddb_op_batch_get_item, DSS_OP_READONLY)

#define DDB_CHECKED(name, fn, flags) \
    static int checked_##name(struct dss_call *call, const cJSON *params, cJSON **result) \
    { \
        return ddb_check_request(call, #name, params) < 0 ? DSS_ERR : fn(call, params, result); \
    }
DDB_OPERATIONS(DDB_CHECKED)
#undef DDB_CHECKED

static const struct dss_operation ops[] = {
#define DDB_ROW(name, fn, flags) {#name, checked_##name, flags},
    DDB_OPERATIONS(DDB_ROW)
#undef DDB_ROW
    {NULL, NULL, 0},
};

const struct dss_service dss_dynamodb_service = {
    .name = "dynamodb",
    .json_target = "DynamoDB_20120810",
    .json_version = "1.0",
    .json_ns = "com.amazonaws.dynamodb.v20120810#",
    .query_compatible = 0,
    .query_version = NULL,
    .query_model = NULL,
    .xmlns = NULL,
    .schema_sql = schema_sql,
    .ops = ops,
};
