/* test_ec2_filter.c -- EC2 Query lists and filters: Filter.N.Name / Filter.N.Value.M folded by
 * the model into [{Name, Values}], then checked and matched with EC2's wildcards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ec2/ec2.h"
#include "protocol.h"

static const char *const allowed[] = {"instance-id", "instance-state-name", "tag:", "tag-key", NULL};

static cJSON *parse_form(const char *form, const char *op)
{
    struct dss_kv *kv = NULL;
    size_t n = 0;
    assert_int_equal(form_parse(form, strlen(form), &kv, &n, 1000), 0);
    struct buf err;
    buf_init(&err, 1024);
    cJSON *p = query_params(dss_model("ec2"), op, kv, n, 1, &err);
    buf_free(&err);
    form_free(kv, n);
    return p;
}

static const char *getter(void *ctx, const char *name, int i)
{
    const char *const *row = ctx; /* name, value pairs */
    int k = 0;
    for (; row[0]; row += 2)
        if (!strcmp(row[0], name) && k++ == i)
            return row[1];
    return NULL;
}

static void ec2_lists_fold(void **state)
{
    (void)state;
    cJSON *p = parse_form("Action=DescribeInstances&Filter.1.Name=tag%3Ateam&Filter.1.Value.1=a&Filter.1.Value.2=b"
                          "&Filter.2.Name=instance-state-name&Filter.2.Value.1=running&InstanceId.1=i-1&InstanceId.2=i-2",
                          "DescribeInstances");
    assert_non_null(p);
    const cJSON *f = cJSON_GetObjectItem(p, "Filters");
    assert_int_equal(cJSON_GetArraySize(f), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "Name")->valuestring, "tag:team");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "Values")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "InstanceIds")), 2);
    struct ec2_filters fs;
    char err[256];
    assert_int_equal(ec2_filters_parse(f, allowed, &fs, err, sizeof err), 0);
    const char *hit[] = {"tag:team", "b", "instance-state-name", "running", NULL};
    const char *miss[] = {"tag:team", "c", "instance-state-name", "running", NULL};
    assert_true(ec2_filters_match(&fs, getter, hit));
    assert_false(ec2_filters_match(&fs, getter, miss));
    ec2_filters_free(&fs);
    cJSON_Delete(p);
}

static void unknown_filter_refused(void **state)
{
    (void)state;
    cJSON *p = parse_form("Filter.1.Name=bogus&Filter.1.Value.1=x", "DescribeInstances");
    struct ec2_filters fs;
    char err[256];
    assert_int_equal(ec2_filters_parse(cJSON_GetObjectItem(p, "Filters"), allowed, &fs, err, sizeof err), -1);
    assert_string_equal(err, "The filter 'bogus' is invalid");
    cJSON_Delete(p);
    p = parse_form("Filter.1.Name=tag%3A&Filter.1.Value.1=x", "DescribeInstances"); /* "tag:" alone */
    assert_int_equal(ec2_filters_parse(cJSON_GetObjectItem(p, "Filters"), allowed, &fs, err, sizeof err), -1);
    cJSON_Delete(p);
}

static void wildcards(void **state)
{
    (void)state;
    char *vals[] = {"web-*", "db-?", "[x]"};
    struct ec2_filter f = {"tag:Name", vals, 3};
    assert_true(ec2_filter_value_match(&f, "web-1"));
    assert_true(ec2_filter_value_match(&f, "web-"));
    assert_true(ec2_filter_value_match(&f, "db-7"));
    assert_false(ec2_filter_value_match(&f, "db-77"));
    assert_true(ec2_filter_value_match(&f, "[x]")); /* brackets are literal on EC2 */
    assert_false(ec2_filter_value_match(&f, "x"));
    char *star[] = {"*a*b*c*"};
    struct ec2_filter g = {"x", star, 1};
    assert_true(ec2_filter_value_match(&g, "xxaxxbxxcxx"));
    assert_false(ec2_filter_value_match(&g, "xxaxxcxxbxx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ec2_lists_fold),
        cmocka_unit_test(unknown_filter_refused),
        cmocka_unit_test(wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
