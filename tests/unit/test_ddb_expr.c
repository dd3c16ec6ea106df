/* test_ddb_expr.c -- DynamoDB expressions: parsing (and DynamoDB's error wording), condition
 * evaluation, updates, projections and key conditions against fixed items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynamodb/expr.h"

static const char *names_json = "{\"#s\":\"status\",\"#n\":\"name\",\"#dot\":\"a.b\"}";
static const char *values_json =
    "{\":one\":{\"N\":\"1\"},\":two\":{\"N\":\"2\"},\":ten\":{\"N\":\"10\"},\":s\":{\"S\":\"ab\"},"
    "\":t\":{\"S\":\"S\"},\":l\":{\"L\":[{\"S\":\"z\"}]},\":ss\":{\"SS\":[\"x\",\"q\"]},\":b\":{\"B\":\"AQI=\"},"
    "\":m\":{\"M\":{\"k\":{\"S\":\"v\"}}},\":big\":{\"N\":\"0.1\"}}";
static const char *item_json =
    "{\"id\":{\"S\":\"abc\"},\"n\":{\"N\":\"5\"},\"status\":{\"S\":\"on\"},\"a.b\":{\"S\":\"dotted\"},"
    "\"lst\":{\"L\":[{\"N\":\"1\"},{\"M\":{\"c\":{\"S\":\"deep\"}}},{\"S\":\"three\"}]},"
    "\"mp\":{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"SS\":[\"x\",\"y\"]}}},\"tags\":{\"SS\":[\"x\",\"y\"]},"
    "\"bin\":{\"B\":\"AQID\"},\"flag\":{\"BOOL\":true},\"nothing\":{\"NULL\":true}}";

struct fixture {
    cJSON *names, *values, *item;
    struct ddb_expr_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->names = cJSON_Parse(names_json);
    f->values = cJSON_Parse(values_json);
    f->item = cJSON_Parse(item_json);
    assert_int_equal(ddb_expr_ctx_init(&f->ctx, f->names, f->values), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ddb_expr_ctx_cleanup(&f->ctx);
    cJSON_Delete(f->names);
    cJSON_Delete(f->values);
    cJSON_Delete(f->item);
    free(f);
    return 0;
}

static int cond(struct fixture *f, const char *text)
{
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, DDB_EXPR_CONDITION, text);
    if (!e)
        fail_msg("%s: %s", text, f->ctx.err.msg);
    int r = ddb_expr_test(e, f->item);
    ddb_expr_free(e);
    return r;
}

static void parse_error(struct fixture *f, enum ddb_expr_kind kind, const char *text, const char *msg)
{
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, kind, text);
    if (e) {
        ddb_expr_free(e);
        fail_msg("%s parsed", text);
    }
    assert_string_equal(f->ctx.err.msg, msg);
}

static void test_conditions(void **state)
{
    struct fixture *f = *state;
    assert_true(cond(f, "n = :one OR n > :two"));
    assert_false(cond(f, "n < :two"));
    assert_true(cond(f, "n BETWEEN :one AND :ten"));
    assert_true(cond(f, "n IN (:one, :two, :ten) OR begins_with(id, :s) AND NOT n = :ten"));
    assert_false(cond(f, "(n IN (:one, :two, :ten) OR id = :s) AND n < :one"));
    assert_true(cond(f, "NOT (n < :one) AND attribute_exists(lst[1].c)"));
    assert_true(cond(f, "attribute_not_exists(absent) and attribute_not_exists(lst[9])"));
    assert_true(cond(f, "begins_with(id, :s)"));
    assert_true(cond(f, "begins_with(bin, :b)"));
    assert_true(cond(f, "contains(id, :s) AND size(tags) = :two AND size(id) > :two"));
    assert_true(cond(f, "attribute_type(id, :t) AND #s <> :s AND #dot <> :s"));
    assert_false(cond(f, "attribute_type(n, :t)"));
    assert_true(cond(f, "absent <> :one"));      /* <> holds for a absent attribute */
    assert_false(cond(f, "absent = :one"));
    assert_false(cond(f, "id < :one"));           /* S and N do not compare */
    assert_true(cond(f, "(((n))) = :one OR (n) >= :two"));
    assert_true(cond(f, "size(mp.y) = :two AND mp.x = :one"));
    assert_true(cond(f, "lst[0] = :one AND lst[2] > :s"));
}

static void test_condition_errors(void **state)
{
    struct fixture *f = *state;
    parse_error(f, DDB_EXPR_CONDITION, "a = ", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \"");
    parse_error(f, DDB_EXPR_CONDITION, "a = = :one", "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= =\"");
    parse_error(f, DDB_EXPR_CONDITION, "a", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"a\"");
    parse_error(f, DDB_EXPR_CONDITION, "a $ b", "Invalid ConditionExpression: Syntax error; token: \"$\", near: \"a $\"");
    parse_error(f, DDB_EXPR_CONDITION, "", "Invalid ConditionExpression: The expression can not be empty;");
    parse_error(f, DDB_EXPR_CONDITION, "a = :nope",
                "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope");
    parse_error(f, DDB_EXPR_CONDITION, "#nope = :one",
                "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #nope");
    parse_error(f, DDB_EXPR_CONDITION, "status = :one",
                "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status");
    parse_error(f, DDB_EXPR_CONDITION, "foo(a)", "Invalid ConditionExpression: Invalid function name; function: foo");
    parse_error(f, DDB_EXPR_CONDITION, "size(a)",
                "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size");
    parse_error(f, DDB_EXPR_CONDITION, "attribute_exists(a) = :one",
                "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists");
    parse_error(f, DDB_EXPR_CONDITION, "attribute_exists(a, b)",
                "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2");
    parse_error(f, DDB_EXPR_CONDITION, "begins_with(a, :one)",
                "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N");
    parse_error(f, DDB_EXPR_CONDITION, "a = a",
                "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]");
    parse_error(f, DDB_EXPR_CONDITION, "a BETWEEN :ten AND :one",
                "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:\"10\"}, upper bound operand: AttributeValue: {N:\"1\"}");
    parse_error(f, DDB_EXPR_CONDITION, "attribute_type(a, :s)",
                "Invalid ConditionExpression: Invalid attribute type name found; type: ab, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}");
    parse_error(f, DDB_EXPR_FILTER, "a IN ()", "Invalid FilterExpression: Syntax error; token: \")\", near: \"()\"");
    parse_error(f, DDB_EXPR_CONDITION, "a = :one AND", "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"");
    parse_error(f, DDB_EXPR_CONDITION, "a[x] = :one", "Invalid ConditionExpression: Syntax error; token: \"x\", near: \"[x\"");
    char in[1024] = "a IN (:one";
    for (int i = 0; i < 100; i++)
        strcat(in, ",:one");
    strcat(in, ")");
    parse_error(f, DDB_EXPR_CONDITION, in,
                "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101");
}

static void test_unused(void **state)
{
    struct fixture *f = *state;
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, DDB_EXPR_CONDITION, "#s = :one AND #n = :two");
    assert_non_null(e);
    ddb_expr_free(e);
    assert_int_equal(ddb_expr_ctx_check_unused(&f->ctx), -1);
    assert_string_equal(f->ctx.err.msg, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#dot}");
    e = ddb_expr_parse(&f->ctx, DDB_EXPR_PROJECTION, "#dot");
    ddb_expr_free(e);
    assert_int_equal(ddb_expr_ctx_check_unused(&f->ctx), -1);
    assert_string_equal(f->ctx.err.msg,
                        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:ten, :s, :t, :l, :ss, :b, :m, :big}");
}

static char *update(struct fixture *f, const char *text)
{
    struct ddb_err err;
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, DDB_EXPR_UPDATE, text);
    if (!e)
        fail_msg("%s: %s", text, f->ctx.err.msg);
    cJSON *item = cJSON_Duplicate(f->item, 1);
    char *out;
    if (ddb_expr_update(e, f->item, item, &err) < 0)
        out = strdup(err.msg);
    else
        out = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    ddb_expr_free(e);
    return out;
}

static void expect_update_attr(struct fixture *f, const char *text, const char *attr, const char *want)
{
    char *json = update(f, text);
    cJSON *item = cJSON_Parse(json);
    if (!item)
        fail_msg("%s: %s", text, json);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(item, attr);
    char *got = v ? cJSON_PrintUnformatted(v) : strdup("(absent)");
    if (strcmp(got, want) != 0)
        fail_msg("%s: %s is %s, want %s", text, attr, got, want);
    free(got);
    cJSON_Delete(item);
    free(json);
}

static void expect_update_error(struct fixture *f, const char *text, const char *msg)
{
    char *out = update(f, text);
    assert_string_equal(out, msg);
    free(out);
}

static void test_updates(void **state)
{
    struct fixture *f = *state;
    expect_update_attr(f, "SET n = n + :one", "n", "{\"N\":\"6\"}");
    expect_update_attr(f, "SET n = :big - n", "n", "{\"N\":\"-4.9\"}");
    expect_update_attr(f, "SET x = if_not_exists(x, :ten)", "x", "{\"N\":\"10\"}");
    expect_update_attr(f, "SET n = if_not_exists(n, :ten)", "n", "{\"N\":\"5\"}");
    expect_update_attr(f, "SET lst = list_append(:l, lst)", "lst",
                       "{\"L\":[{\"S\":\"z\"},{\"N\":\"1\"},{\"M\":{\"c\":{\"S\":\"deep\"}}},{\"S\":\"three\"}]}");
    expect_update_attr(f, "SET lst[1].c = :s, lst[9] = :one", "lst",
                       "{\"L\":[{\"N\":\"1\"},{\"M\":{\"c\":{\"S\":\"ab\"}}},{\"S\":\"three\"},{\"N\":\"1\"}]}");
    expect_update_attr(f, "REMOVE lst[0], lst[2]", "lst", "{\"L\":[{\"M\":{\"c\":{\"S\":\"deep\"}}}]}");
    expect_update_attr(f, "REMOVE n, absent", "n", "(absent)");
    expect_update_attr(f, "ADD n :two", "n", "{\"N\":\"7\"}");
    expect_update_attr(f, "ADD newnum :two", "newnum", "{\"N\":\"2\"}");
    expect_update_attr(f, "ADD tags :ss", "tags", "{\"SS\":[\"x\",\"y\",\"q\"]}");
    expect_update_attr(f, "DELETE tags :ss", "tags", "{\"SS\":[\"y\"]}");
    expect_update_attr(f, "DELETE mp.y :ss SET mp.z = :m", "mp",
                       "{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"SS\":[\"y\"]},\"z\":{\"M\":{\"k\":{\"S\":\"v\"}}}}}");
    expect_update_attr(f, "SET #dot = :one", "a.b", "{\"N\":\"1\"}");
    expect_update_error(f, "SET n = absent + :one", "The provided expression refers to an attribute that does not exist in the item");
    expect_update_error(f, "SET n = id + :one", "An operand in the update expression has an incorrect data type");
    expect_update_error(f, "SET nope.x = :one", "The document path provided in the update expression is invalid for update");
    expect_update_error(f, "ADD id :one", "An operand in the update expression has an incorrect data type");
}

static void test_update_errors(void **state)
{
    struct fixture *f = *state;
    parse_error(f, DDB_EXPR_UPDATE, "SET a = :one SET b = :two",
                "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;");
    parse_error(f, DDB_EXPR_UPDATE, "SET a = :one REMOVE a.b",
                "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]");
    parse_error(f, DDB_EXPR_UPDATE, "SET a.b = :one REMOVE a[1]",
                "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]");
    parse_error(f, DDB_EXPR_UPDATE, "ADD a :s",
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING");
    parse_error(f, DDB_EXPR_UPDATE, "DELETE a :one",
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER");
    parse_error(f, DDB_EXPR_UPDATE, "SET a = size(b)", "Invalid UpdateExpression: Invalid function name; function: size");
    parse_error(f, DDB_EXPR_UPDATE, "SET a = list_append(:one, b)",
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: N");
    parse_error(f, DDB_EXPR_UPDATE, "SET a = :s + :one",
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S");
    parse_error(f, DDB_EXPR_UPDATE, "SET a :one", "Invalid UpdateExpression: Syntax error; token: \":one\", near: \"a :one\"");
    parse_error(f, DDB_EXPR_UPDATE, "PUT a = :one", "Invalid UpdateExpression: Syntax error; token: \"PUT\", near: \"PUT\"");
    parse_error(f, DDB_EXPR_UPDATE, "SET name = :one", "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: name");
    parse_error(f, DDB_EXPR_UPDATE, "SET a = :zzz",
                "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :zzz");
}

static char *project(struct fixture *f, const char *text)
{
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, DDB_EXPR_PROJECTION, text);
    if (!e)
        fail_msg("%s: %s", text, f->ctx.err.msg);
    cJSON *out = ddb_expr_project(e, f->item);
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    ddb_expr_free(e);
    return s;
}

static void test_projection(void **state)
{
    struct fixture *f = *state;
    char *s = project(f, "id, lst[2], lst[1].c, mp.x, absent, #dot");
    assert_string_equal(s, "{\"id\":{\"S\":\"abc\"},\"lst\":{\"L\":[{\"M\":{\"c\":{\"S\":\"deep\"}}},{\"S\":\"three\"}]},"
                           "\"mp\":{\"M\":{\"x\":{\"N\":\"1\"}}},\"a.b\":{\"S\":\"dotted\"}}");
    free(s);
    s = project(f, "mp.nope, lst[7]");
    assert_string_equal(s, "{}");
    free(s);
    parse_error(f, DDB_EXPR_PROJECTION, "a, a.b",
                "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]");
    parse_error(f, DDB_EXPR_PROJECTION, "a,", "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\"");
}

static void key_cond(struct fixture *f, const char *text, int ok, enum ddb_key_op op, const char *msg)
{
    struct ddb_key_cond kc;
    struct ddb_err err;
    struct ddb_expr *e = ddb_expr_parse(&f->ctx, DDB_EXPR_KEY_CONDITION, text);
    if (!e)
        fail_msg("%s: %s", text, f->ctx.err.msg);
    int rc = ddb_expr_key_cond(e, "id", "n", &kc, &err);
    ddb_expr_free(e);
    if (ok) {
        assert_int_equal(rc, 0);
        assert_int_equal(kc.range_op, op);
        assert_non_null(kc.hash_value);
    } else {
        assert_int_equal(rc, -1);
        assert_string_equal(err.msg, msg);
    }
}

static void test_key_conditions(void **state)
{
    struct fixture *f = *state;
    key_cond(f, "id = :s", 1, DDB_KEY_NONE, NULL);
    key_cond(f, "id = :s AND n > :one", 1, DDB_KEY_GT, NULL);
    key_cond(f, "n <= :one AND id = :s", 1, DDB_KEY_LE, NULL);
    key_cond(f, "id = :s AND n BETWEEN :one AND :two", 1, DDB_KEY_BETWEEN, NULL);
    key_cond(f, "id = :s AND begins_with(n, :s)", 1, DDB_KEY_BEGINS_WITH, NULL);
    key_cond(f, "n = :one", 0, 0, "Query condition missed key schema element: id");
    key_cond(f, "id = :s OR n = :one", 0, 0, "Invalid operator used in KeyConditionExpression: OR");
    key_cond(f, "id < :s", 0, 0, "Query key condition not supported");
    key_cond(f, "id = :s AND othr = :one", 0, 0, "Query condition missed key schema element: n");
    key_cond(f, "id = :s AND attribute_exists(n)", 0, 0, "Invalid operator used in KeyConditionExpression: attribute_exists");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_condition_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_projection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_conditions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
