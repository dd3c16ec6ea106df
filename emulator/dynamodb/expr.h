/* expr.h -- DynamoDB expressions: lexer, recursive-descent parser, checker and evaluator.
 *
 * Five kinds share one lexer and one AST:
 *   condition / filter / key condition:  a = :v AND (b < :w OR NOT attribute_exists(c.d[2]))
 *   update:      SET a = :v + b, c = list_append(c, :l) REMOVE d[0] ADD n :one DELETE s :x
 *   projection:  a, b.c[1].d, #n
 * Parsing resolves #names and :values against the request's ExpressionAttributeNames and
 * ExpressionAttributeValues (which the caller has validated) and records which were used, so
 * ddb_expr_ctx_check_unused() can answer as DynamoDB does when one was never referenced.
 * Errors carry DynamoDB's wording, prefixed "Invalid <Kind>Expression: ".
 *
 * An expression borrows the names and values of its context: free the expression first.
 */
#ifndef DDB_EXPR_H
#define DDB_EXPR_H

#include <cjson/cJSON.h>

#include "dynamodb/value.h"

enum ddb_expr_kind {
    DDB_EXPR_CONDITION,     /* ConditionExpression */
    DDB_EXPR_FILTER,        /* FilterExpression */
    DDB_EXPR_KEY_CONDITION, /* KeyConditionExpression */
    DDB_EXPR_UPDATE,        /* UpdateExpression */
    DDB_EXPR_PROJECTION,    /* ProjectionExpression */
};

/* The names and values one request's expressions share. */
struct ddb_expr_ctx {
    const cJSON *names;  /* ExpressionAttributeNames {"#n": "name"}, or NULL */
    const cJSON *values; /* ExpressionAttributeValues {":v": AV}, or NULL */
    unsigned char *names_used, *values_used; /* one flag per member, in member order */
    struct ddb_err err;  /* the last error */
};

/* Sets up a context over borrowed names and values. Returns 0, or -1 if out of memory. */
int ddb_expr_ctx_init(struct ddb_expr_ctx *ctx, const cJSON *names, const cJSON *values);
void ddb_expr_ctx_cleanup(struct ddb_expr_ctx *ctx);
/* After every expression of a request is parsed: -1 (with ctx->err) if a name or a value was
 * never used ("Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"). */
int ddb_expr_ctx_check_unused(struct ddb_expr_ctx *ctx);

struct ddb_expr;

/* Parses and checks text as an expression of the given kind. Returns a new expression, or
 * NULL with ctx->err set. */
struct ddb_expr *ddb_expr_parse(struct ddb_expr_ctx *ctx, enum ddb_expr_kind kind, const char *text);
void ddb_expr_free(struct ddb_expr *e);

/* Condition, filter: 1 if the item (a {name: AV} object, NULL for none) satisfies it, else 0. */
int ddb_expr_test(const struct ddb_expr *e, const cJSON *item);

/* Projection (or an update's paths, for UPDATED_OLD/UPDATED_NEW): a new item holding only
 * the projected parts of item; nested list elements come out compacted, as in DynamoDB. */
cJSON *ddb_expr_project(const struct ddb_expr *e, const cJSON *item);

/* Update: applies the actions to item in place, evaluating every operand against old (the
 * item before the update, possibly empty). Returns 0, or -1 with *err set. */
int ddb_expr_update(const struct ddb_expr *e, const cJSON *old, cJSON *item, struct ddb_err *err);
/* Update: whether an action's path starts at the top-level attribute name. */
int ddb_expr_update_touches(const struct ddb_expr *e, const char *name);

/* Key condition: what a Query asks of the table's keys. */
enum ddb_key_op { DDB_KEY_NONE, DDB_KEY_EQ, DDB_KEY_LT, DDB_KEY_LE, DDB_KEY_GT, DDB_KEY_GE,
                  DDB_KEY_BETWEEN, DDB_KEY_BEGINS_WITH };
struct ddb_key_cond {
    const cJSON *hash_value;    /* the AV the hash key equals */
    enum ddb_key_op range_op;   /* DDB_KEY_NONE: every range key */
    const cJSON *range_v1, *range_v2; /* AVs of the range condition (v2 for BETWEEN) */
};
/* Reads a key condition against the table's key names (range_name NULL for a hash-only
 * table). Returns 0, or -1 with *err set ("Query condition missed key schema element: id"). */
int ddb_expr_key_cond(const struct ddb_expr *e, const char *hash_name, const char *range_name,
                      struct ddb_key_cond *out, struct ddb_err *err);

#endif
