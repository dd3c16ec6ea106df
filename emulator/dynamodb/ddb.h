/* ddb.h -- what the DynamoDB operation files share: tables, keys, the item store, request
 * parameters that several operations take (expressions, ReturnValues, capacity).
 *
 * Every function taking a call reports its own failure with dss_fail() and returns DSS_ERR
 * (-1), so an operation just returns what a helper returned (the Redis
 * lookupKeyReadOrReply idiom).
 */
#ifndef DDB_H
#define DDB_H

#include <stdint.h>

#include "buf.h"
#include "dynamodb/expr.h"
#include "dynamodb/value.h"
#include "service.h"

/* ---- The request as a whole (shapes.c) ---- */
/* Checks a request before its operation reads it: UTF-8 text, every member of the JSON type
 * the model gives it (SerializationException as DynamoDB words it), no cut-short strings. */
int ddb_check_request(struct dss_call *call, const char *op, const cJSON *params);

/* ---- Tables ---- */
struct ddb_spec_slot;
struct ddb_table {
    int64_t id;
    const cJSON *spec;               /* TableName, KeySchema, AttributeDefinitions, ...: read-only,
                                      * the parsed stored text, shared through store.c's cache */
    struct ddb_spec_slot *slot;      /* store.c's cache entry spec is pinned in, or NULL */
    const char *name;                /* borrowed from spec */
    const char *hash_name, *range_name; /* range_name NULL for a hash-only table */
    enum ddb_type hash_type, range_type;
    int64_t created_ms;
};

/* Reads and checks the TableName parameter (a name or a table ARN). */
int ddb_table_name_param(struct dss_call *call, const cJSON *params, const char **name);
/* Loads a table of the call's region; ddb_table_close() releases it (also after a failed
 * open). The stored spec is parsed once per thread and reused while its text is unchanged
 * (store.c). not_found_names_table: answer "Requested resource not
 * found: Table: NAME not found" (DescribeTable, DeleteTable) rather than the short form. */
int ddb_table_open(struct dss_call *call, const char *name, struct ddb_table *t, int not_found_names_table);
void ddb_table_close(struct ddb_table *t);
/* The table's TableDescription with the given TableStatus. */
cJSON *ddb_table_describe(struct dss_call *call, const struct ddb_table *t, const char *status);

/* ---- Keys ---- */
struct ddb_key {
    struct buf h, r; /* encoded hash and range keys (r empty for a hash-only table) */
};
void ddb_key_init(struct ddb_key *k);
void ddb_key_free(struct ddb_key *k);
/* From a Key parameter (already checked with ddb_item_check): exactly the table's key
 * attributes of the right types. Returns 0, or -1 with *e set. */
int ddb_key_from_map(const struct ddb_table *t, const cJSON *key, struct ddb_key *k, struct ddb_err *e);
/* From an item: its key attributes must be present and of the right types. */
int ddb_key_from_item(const struct ddb_table *t, const cJSON *item, struct ddb_key *k, struct ddb_err *e);
/* The key attributes of an item, as a new {name: AV} object. */
cJSON *ddb_key_attrs(const struct ddb_table *t, const cJSON *item);

/* ---- The item store ---- */
/* Loads an item: 1 and *item (new) if present, 0 and *item NULL if absent, DSS_ERR on error. */
int ddb_item_load(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, cJSON **item);
/* Loads an item as its stored JSON text, in a cJSON raw node that prints as that text, and its
 * size (ddb_item_size(), stored beside it): 1 and *raw (new), 0 and *raw NULL if absent, or
 * DSS_ERR. For answers with the whole item: the stored text is cJSON_PrintUnformatted() of the
 * item (ddb_item_store()), which parsing and printing again reproduces byte for byte, so the
 * answer is the one a parse would give, without the parse. */
int ddb_item_load_raw(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, cJSON **raw,
                      size_t *size);
int ddb_item_store(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, const cJSON *item);
int ddb_item_remove(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k);
/* Parses a stored item's JSON text; NULL (after dss_fail) if it is not valid. */
cJSON *ddb_item_parse(struct dss_call *call, const char *text);
/* Binds an encoded key part (possibly empty) to a statement parameter. */
int ddb_bind_key(sqlite3_stmt *st, int index, const struct buf *b);
int ddb_sql_error(struct dss_call *call);

/* ---- Request parameters ---- */
int ddb_fail(struct dss_call *call, const struct ddb_err *e);
/* Fails with a ValidationException for a legacy parameter this emulator does not take. */
int ddb_reject_legacy(struct dss_call *call, const cJSON *params, const char *const *names, const char *instead);
/* An AV map parameter (Item, Key, ExclusiveStartKey): a checked copy in *out (caller
 * deletes). what names the member in "Value null at 'key'" messages. */
int ddb_map_param(struct dss_call *call, const cJSON *params, const char *name, const char *what, cJSON **out);
/* A string parameter that must be one of choices (NULL-terminated); *out = dflt if absent. */
int ddb_enum_param(struct dss_call *call, const cJSON *params, const char *name, const char *const *choices,
                   const char *dflt, const char **out);
/* An integer parameter (its type checked by ddb_check_request): 0 with *out set, fraction
 * dropped, or 1 if absent (*out untouched). */
int ddb_int_param(const cJSON *params, const char *name, int64_t *out);
/* A boolean parameter; 0 if absent. */
int ddb_bool_param(struct dss_call *call, const cJSON *params, const char *name, int *out);

/* The expressions of one request, their names and values (checked copies). */
struct ddb_exprs {
    struct ddb_expr_ctx ctx;
    cJSON *values;
    int ready;
};
/* Reads ExpressionAttributeNames and ExpressionAttributeValues. expr_params lists the
 * expression parameters the operation takes (NULL-terminated), for DynamoDB's complaint
 * when names or values come without any expression. */
int ddb_exprs_init(struct dss_call *call, const cJSON *params, const char *const *expr_params, struct ddb_exprs *x);
/* Parses the expression parameter name if present: 0 with *out set (NULL if absent), or -1. */
int ddb_exprs_parse(struct dss_call *call, struct ddb_exprs *x, const cJSON *params, const char *name,
                    enum ddb_expr_kind kind, struct ddb_expr **out);
/* After the request's expressions are parsed: fails if a name or value went unused. */
int ddb_exprs_finish(struct dss_call *call, struct ddb_exprs *x);
void ddb_exprs_cleanup(struct ddb_exprs *x);

/* Projects an item by a ProjectionExpression or a legacy AttributesToGet list (either may
 * be NULL: the whole item). Returns a new object. */
cJSON *ddb_project(const struct ddb_expr *proj, const cJSON *attrs_to_get, const cJSON *item);
/* Checks AttributesToGet against ProjectionExpression (they may not be mixed). */
int ddb_attrs_to_get_param(struct dss_call *call, const cJSON *params, const cJSON **out);

/* ---- Capacity ---- */
/* Capacity units of a read (4 KB units, halved when eventually consistent) or write (1 KB). */
double ddb_read_units(size_t bytes, int consistent);
double ddb_write_units(size_t bytes);
/* Adds ConsumedCapacity to result when ReturnConsumedCapacity asks for it. */
void ddb_add_consumed(cJSON *result, const cJSON *params, const char *table, double units);
/* The ConsumedCapacity entry for one table (for batch operations' lists); NULL if not asked. */
cJSON *ddb_consumed(const cJSON *params, const char *table, double units);

/* ---- Operations ---- */
int ddb_op_put_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_get_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_update_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_delete_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_batch_write_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_batch_get_item(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_query(struct dss_call *call, const cJSON *params, cJSON **result);
int ddb_op_scan(struct dss_call *call, const cJSON *params, cJSON **result);

#endif
