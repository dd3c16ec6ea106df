/* test_ddb_value.c -- DynamoDB attribute values: exact decimal numbers (parse, compare, add,
 * canonical form, key encoding order), validation messages, equality, sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dynamodb/reserved.h"
#include "dynamodb/value.h"

static void canon(const char *in, const char *want)
{
    struct ddb_num n;
    char out[DDB_NUM_STRMAX];
    assert_int_equal(ddb_num_parse(in, &n), DDB_NUM_OK);
    ddb_num_format(&n, out);
    assert_string_equal(out, want);
}

static void test_num_canonical(void **state)
{
    (void)state;
    canon("1.50", "1.5");
    canon("+01", "1");
    canon("-0", "0");
    canon("0.000", "0");
    canon("1e2", "100");
    canon("1.5E-3", "0.0015");
    canon("-123.4500e1", "-1234.5");
    canon(".5", "0.5");
    canon("5.", "5");
    canon("00012300", "12300");
    canon("12345678901234567890123456789012345678", "12345678901234567890123456789012345678");
    canon("1000000000000000000000000000000000000000000", "1000000000000000000000000000000000000000000");
    canon("9.9999999999999999999999999999999999999E+125",
          "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
    canon("1E-130", "0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001");
}

static void test_num_invalid(void **state)
{
    (void)state;
    struct ddb_num n;
    const char *bad[] = {"", "-", "+", ".", "abc", "1..2", "1e", "1e+", "1.2.3", " 1", "1 ", "0x10", "Infinity", "NaN", "1e5.5", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ddb_num_parse(bad[i], &n), DDB_NUM_INVALID);
    assert_int_equal(ddb_num_parse("123456789012345678901234567890123456789", &n), DDB_NUM_PRECISION);
    assert_int_equal(ddb_num_parse("1E+126", &n), DDB_NUM_OVERFLOW);
    assert_int_equal(ddb_num_parse("1E-131", &n), DDB_NUM_UNDERFLOW);
    assert_int_equal(ddb_num_parse("1e99999999999999999999", &n), DDB_NUM_OVERFLOW);
    assert_int_equal(ddb_num_parse("0e99999999999999999999", &n), DDB_NUM_OK);
    struct ddb_err e;
    ddb_num_error(&e, DDB_NUM_INVALID, "abc");
    assert_string_equal(e.msg, "The parameter cannot be converted to a numeric value: abc");
    ddb_num_error(&e, DDB_NUM_PRECISION, NULL);
    assert_string_equal(e.msg, "Attempting to store more than 38 significant digits in a Number");
}

static int cmp(const char *a, const char *b)
{
    struct ddb_num x, y;
    assert_int_equal(ddb_num_parse(a, &x), DDB_NUM_OK);
    assert_int_equal(ddb_num_parse(b, &y), DDB_NUM_OK);
    return ddb_num_cmp(&x, &y);
}

static void test_num_compare(void **state)
{
    (void)state;
    assert_int_equal(cmp("1", "1.0"), 0);
    assert_int_equal(cmp("1.2", "1.21"), -1);
    assert_int_equal(cmp("-1.2", "-1.21"), 1);
    assert_int_equal(cmp("10", "9"), 1);
    assert_int_equal(cmp("-10", "9"), -1);
    assert_int_equal(cmp("0", "-0.0001"), 1);
    assert_int_equal(cmp("0.001", "0.01"), -1);
    assert_int_equal(cmp("1e10", "99999"), 1);
    assert_int_equal(cmp("-1e10", "-99999"), -1);
}

static void arith(const char *a, const char *b, int subtract, const char *want)
{
    struct ddb_num x, y, r;
    char out[DDB_NUM_STRMAX];
    assert_int_equal(ddb_num_parse(a, &x), DDB_NUM_OK);
    assert_int_equal(ddb_num_parse(b, &y), DDB_NUM_OK);
    assert_int_equal(subtract ? ddb_num_sub(&x, &y, &r) : ddb_num_add(&x, &y, &r), DDB_NUM_OK);
    ddb_num_format(&r, out);
    assert_string_equal(out, want);
}

static void test_num_add(void **state)
{
    (void)state;
    arith("1", "2", 0, "3");
    arith("0.1", "0.2", 0, "0.3"); /* exact, unlike a double */
    arith("99", "1", 0, "100");
    arith("5", "7", 1, "-2");
    arith("-5", "-7", 0, "-12");
    arith("1.5", "-1.5", 0, "0");
    arith("100", "0.001", 1, "99.999");
    arith("12345678901234567890123456789012345678", "1", 1, "12345678901234567890123456789012345677");
    arith("0", "-3.25", 0, "-3.25");
    arith("1e125", "1e125", 0, "200000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
    struct ddb_num x, y, r;
    ddb_num_parse("12345678901234567890123456789012345678", &x);
    ddb_num_parse("0.1", &y);
    assert_int_equal(ddb_num_add(&x, &y, &r), DDB_NUM_PRECISION);
    ddb_num_parse("9.9999999999999999999999999999999999999E+125", &x);
    ddb_num_parse("9E+125", &y);
    assert_int_equal(ddb_num_add(&x, &y, &r), DDB_NUM_OVERFLOW);
}

/* Encoded keys sort as the numbers do. */
static void test_num_encoding_order(void **state)
{
    (void)state;
    const char *sorted[] = {"-1e100", "-100", "-99.5", "-1.21", "-1.2", "-1", "-0.5", "-1e-100", "0",
                            "1e-100", "0.5", "1", "1.2", "1.21", "99.5", "100", "1e100"};
    size_t n = sizeof sorted / sizeof *sorted;
    struct buf prev, cur;
    buf_init(&prev, 4096);
    buf_init(&cur, 4096);
    for (size_t i = 0; i < n; i++) {
        struct ddb_num num;
        buf_reset(&cur);
        assert_int_equal(ddb_num_parse(sorted[i], &num), DDB_NUM_OK);
        assert_int_equal(ddb_num_encode(&num, &cur), 0);
        assert_true(cur.len > 1 && cur.len < 64);
        assert_true(memcmp(cur.data, DDB_KEY_HIGH, 1) < 0);
        if (i > 0) {
            size_t m = prev.len < cur.len ? prev.len : cur.len;
            int c = memcmp(prev.data, cur.data, m);
            assert_true(c < 0 || (c == 0 && prev.len < cur.len));
        }
        buf_reset(&prev);
        buf_append(&prev, cur.data, cur.len);
    }
    buf_free(&prev);
    buf_free(&cur);
}

static int check(const char *json, struct ddb_err *e, char **canonical)
{
    cJSON *av = cJSON_Parse(json);
    assert_non_null(av);
    int rc = ddb_av_check(av, e);
    if (canonical)
        *canonical = cJSON_PrintUnformatted(av);
    cJSON_Delete(av);
    return rc;
}

static void expect_invalid(const char *json, const char *msg)
{
    struct ddb_err e;
    assert_int_equal(check(json, &e, NULL), -1);
    assert_string_equal(e.msg, msg);
}

static void test_av_check(void **state)
{
    (void)state;
    struct ddb_err e;
    char *out;
    assert_int_equal(check("{\"M\":{\"a\":{\"N\":\"1.50\"},\"b\":{\"NS\":[\"+2\",\"3.0\"]},\"c\":{\"S\":\"\"}}}", &e, &out), 0);
    assert_string_equal(out, "{\"M\":{\"a\":{\"N\":\"1.5\"},\"b\":{\"NS\":[\"2\",\"3\"]},\"c\":{\"S\":\"\"}}}");
    free(out);
    assert_int_equal(check("{\"B\":\"aGVsbG8=\"}", &e, NULL), 0);
    assert_int_equal(check("{\"NULL\":true}", &e, NULL), 0);
    expect_invalid("{}", "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    expect_invalid("{\"S\":\"a\",\"N\":\"1\"}", "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
    expect_invalid("{\"N\":\"x1\"}", "The parameter cannot be converted to a numeric value: x1");
    expect_invalid("{\"SS\":[]}", "One or more parameter values were invalid: An string set  may not be empty");
    expect_invalid("{\"SS\":[\"a\",\"b\",\"a\"]}", "One or more parameter values were invalid: Input collection [a, b, a] contains duplicates.");
    expect_invalid("{\"NS\":[\"1\",\"1.0\"]}", "Input collection contains duplicates");
    expect_invalid("{\"NULL\":false}", "One or more parameter values were invalid: Null attribute value types must have the value of true");
    assert_int_equal(check("{\"S\":5}", &e, NULL), -1);
    assert_int_equal(e.code, DSS_E_SerializationException);
    assert_int_equal(check("{\"B\":\"a\"}", &e, NULL), -1);
    assert_int_equal(e.code, DSS_E_SerializationException);
    /* 33 levels of nesting is one too many */
    char deep[1024] = "";
    for (int i = 0; i < 33; i++)
        strcat(deep, "{\"L\":[");
    strcat(deep, "{\"S\":\"x\"}");
    for (int i = 0; i < 33; i++)
        strcat(deep, "]}");
    expect_invalid(deep, "One or more parameter values were invalid: Nesting Levels have exceeded supported limits");
}

static void test_av_equal_compare_size(void **state)
{
    (void)state;
    cJSON *a = cJSON_Parse("{\"SS\":[\"x\",\"y\"]}"), *b = cJSON_Parse("{\"SS\":[\"y\",\"x\"]}");
    cJSON *n1 = cJSON_Parse("{\"N\":\"10\"}"), *n2 = cJSON_Parse("{\"N\":\"9\"}"), *s = cJSON_Parse("{\"S\":\"9\"}");
    cJSON *m1 = cJSON_Parse("{\"M\":{\"a\":{\"L\":[{\"N\":\"1\"},{\"BOOL\":true}]}}}");
    cJSON *m2 = cJSON_Parse("{\"M\":{\"a\":{\"L\":[{\"N\":\"1\"},{\"BOOL\":false}]}}}");
    int c;
    assert_true(ddb_av_equal(a, b));
    assert_false(ddb_av_equal(n1, s));
    assert_false(ddb_av_equal(m1, m2));
    assert_true(ddb_av_equal(m1, m1));
    assert_int_equal(ddb_av_compare(n1, n2, &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(ddb_av_compare(n1, s, &c), -1);
    cJSON *y = cJSON_Parse("{\"S\":\"y\"}");
    assert_true(ddb_av_contains(a, y));
    assert_false(ddb_av_contains(a, s));
    cJSON_Delete(y);
    assert_int_equal(ddb_av_size(s), 1);
    assert_int_equal(ddb_av_size(n1), 2);
    assert_int_equal(ddb_av_size(m1), 3 + 1 + 1 + (3 + 1 + 2 + 1 + 1));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(n1);
    cJSON_Delete(n2);
    cJSON_Delete(s);
    cJSON_Delete(m1);
    cJSON_Delete(m2);
}

static void test_reserved_sorted(void **state)
{
    (void)state;
    for (size_t i = 1; ddb_reserved_word(i); i++)
        assert_true(strcmp(ddb_reserved_word(i - 1), ddb_reserved_word(i)) < 0);
    assert_true(ddb_is_reserved("status"));
    assert_true(ddb_is_reserved("Name"));
    assert_false(ddb_is_reserved("job_id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_canonical),
        cmocka_unit_test(test_num_invalid),
        cmocka_unit_test(test_num_compare),
        cmocka_unit_test(test_num_add),
        cmocka_unit_test(test_num_encoding_order),
        cmocka_unit_test(test_av_check),
        cmocka_unit_test(test_av_equal_compare_size),
        cmocka_unit_test(test_reserved_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
