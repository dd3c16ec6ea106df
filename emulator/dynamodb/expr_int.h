/* expr_int.h -- the expression AST that expr.c (parser, checker) builds and expr_eval.c
 * (evaluator, update, projection) walks. Every node lives in the expression's arena. */
#ifndef DDB_EXPR_INT_H
#define DDB_EXPR_INT_H

#include <stddef.h>

#include "dynamodb/expr.h"

enum node_kind {
    NK_PATH,    /* a document path: parts */
    NK_VALUE,   /* an ExpressionAttributeValues reference: value */
    NK_CMP,     /* args[0] op args[1]; op is a comparator */
    NK_BETWEEN, /* args[0] BETWEEN args[1] AND args[2] */
    NK_IN,      /* args[0] IN (args[1..]) */
    NK_AND, NK_OR, NK_NOT,
    NK_FUNC,    /* op is an enum fn; text names it as written */
    NK_PLUS, NK_MINUS, /* update SET operands */
    NK_SET,     /* args[0] path = args[1] */
    NK_REMOVE,  /* args[0] path */
    NK_ADD, NK_DELETE, /* args[0] path, args[1] value */
    NK_LIST,    /* the top of an update (its actions) or of a projection (its paths) */
};

enum cmp_op { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

enum fn {
    FN_UNKNOWN, FN_ATTRIBUTE_EXISTS, FN_ATTRIBUTE_NOT_EXISTS, FN_ATTRIBUTE_TYPE,
    FN_BEGINS_WITH, FN_CONTAINS, FN_SIZE, FN_IF_NOT_EXISTS, FN_LIST_APPEND,
};

/* One step of a document path: an attribute or map key (name), or a list index. */
struct part {
    const char *name; /* NULL for an index */
    long index;
};

struct node {
    enum node_kind kind;
    int op;                  /* enum cmp_op or enum fn */
    const char *text;        /* function name, or :value reference, as written (NUL-terminated) */
    struct node **args;
    int nargs;
    struct part *parts;      /* NK_PATH */
    int nparts;
    const cJSON *value;      /* NK_VALUE: the AV, borrowed from the context */
};

struct arena_block;

struct ddb_expr {
    enum ddb_expr_kind kind;
    struct node *root;
    struct arena_block *arena;
};

/* Resolves a path in an item ({name: AV}); NULL if any step is missing or of the wrong type. */
cJSON *ddb_path_get(const cJSON *item, const struct part *parts, int nparts);

#endif
