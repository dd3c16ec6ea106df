/* fuzz_ddb_expr.c -- libFuzzer target for DynamoDB expressions: the first byte picks the kind
 * (condition, filter, key condition, update, projection), the rest is the expression text.
 * Each parsed expression is evaluated against a fixed item with lists, maps, sets and
 * numbers, so the lexer, parser, checker, evaluator, updater and projector all run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

static const char names_json[] = "{\"#s\":\"status\",\"#n\":\"name\",\"#a\":\"a\",\"#l\":\"l\"}";
static const char values_json[] =
    "{\":one\":{\"N\":\"1\"},\":big\":{\"N\":\"99999999999999999999999999999999999999\"},"
    "\":tiny\":{\"N\":\"1E-130\"},\":s\":{\"S\":\"ab\"},\":t\":{\"S\":\"L\"},\":l\":{\"L\":[{\"S\":\"z\"}]},"
    "\":ss\":{\"SS\":[\"x\",\"q\"]},\":ns\":{\"NS\":[\"1\",\"2\"]},\":b\":{\"B\":\"AQI=\"},"
    "\":m\":{\"M\":{\"k\":{\"S\":\"v\"}}},\":e\":{\"S\":\"\"},\":null\":{\"NULL\":true}}";
static const char item_json[] =
    "{\"id\":{\"S\":\"abc\"},\"n\":{\"N\":\"-5.5\"},\"status\":{\"S\":\"on\"},\"a\":{\"M\":{\"b\":{\"L\":["
    "{\"N\":\"1\"},{\"M\":{\"c\":{\"S\":\"deep\"}}},{\"SS\":[\"x\"]}]}}},\"l\":{\"L\":[{\"N\":\"1\"},{\"BOOL\":true}]},"
    "\"tags\":{\"SS\":[\"x\",\"y\"]},\"nums\":{\"NS\":[\"1\",\"3\"]},\"bin\":{\"B\":\"AQID\"},\"bs\":{\"BS\":[\"AQID\"]},"
    "\"nothing\":{\"NULL\":true}}";

static cJSON *names, *values, *item;

static void exercise(struct ddb_expr *e, enum ddb_expr_kind kind)
{
    struct ddb_err err;
    struct ddb_key_cond kc;
    cJSON *out;
    switch (kind) {
    case DDB_EXPR_CONDITION:
    case DDB_EXPR_FILTER:
        ddb_expr_test(e, item);
        ddb_expr_test(e, NULL);
        break;
    case DDB_EXPR_KEY_CONDITION:
        ddb_expr_key_cond(e, "id", "n", &kc, &err);
        ddb_expr_key_cond(e, "id", NULL, &kc, &err);
        break;
    case DDB_EXPR_UPDATE:
        out = cJSON_Duplicate(item, 1);
        ddb_expr_update(e, item, out, &err);
        cJSON_Delete(ddb_expr_project(e, out));
        cJSON_Delete(out);
        out = cJSON_CreateObject();
        ddb_expr_update(e, NULL, out, &err);
        cJSON_Delete(out);
        ddb_expr_update_touches(e, "id");
        break;
    case DDB_EXPR_PROJECTION:
        cJSON_Delete(ddb_expr_project(e, item));
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!names) {
        names = cJSON_Parse(names_json);
        values = cJSON_Parse(values_json);
        item = cJSON_Parse(item_json);
    }
    if (size < 1 || size > 8192)
        return 0;
    enum ddb_expr_kind kind = (enum ddb_expr_kind)(data[0] % 5);
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct ddb_expr_ctx ctx;
    if (ddb_expr_ctx_init(&ctx, names, values) == 0) {
        struct ddb_expr *e = ddb_expr_parse(&ctx, kind, text);
        if (e) {
            exercise(e, kind);
            ddb_expr_ctx_check_unused(&ctx);
            ddb_expr_free(e);
        }
        ddb_expr_ctx_cleanup(&ctx);
    }
    free(text);
    return 0;
}
