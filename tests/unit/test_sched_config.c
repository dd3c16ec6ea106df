/* test_sched_config.c -- endpoint, region and credential resolution (lib/awsconfig) the way the
 * AWS tools do it, and the retry classification of lib/awsclient. Each test writes its own
 * config files in a temporary directory and sets the environment it needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awsclient.h"
#include "awsconfig.h"

static char dir[64], cfg_path[128], cred_path[128];

static const char *const vars[] = {"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                                   "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                                   "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_AUTO_SCALING",
                                   "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/dss-cfg-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(cfg_path, sizeof cfg_path, "%s/config", dir);
    snprintf(cred_path, sizeof cred_path, "%s/credentials", dir);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("AWS_CONFIG_FILE", cfg_path, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred_path, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(cfg_path);
    unlink(cred_path);
    rmdir(dir);
    return 0;
}

static char *endpoint(struct aws_config *c, const struct aws_service *svc, char **source)
{
    char *url;
    assert_int_equal(aws_config_endpoint(c, &svc->id, &url, source), 0);
    return url;
}

static void test_defaults_without_files(void **state)
{
    (void)state;
    struct aws_config c;
    char err[256], *src;
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_null(c.access_key);
    char *u = endpoint(&c, &aws_sqs, &src);
    assert_string_equal(u, "https://sqs.us-east-1.amazonaws.com");
    assert_non_null(strstr(src, "default regional endpoint"));
    free(u);
    free(src);
    aws_config_free(&c);
}

static void test_environment_wins(void **state)
{
    (void)state;
    write_file(cfg_path, "[default]\nregion = eu-west-1\nendpoint_url = http://from-profile:1\n");
    write_file(cred_path, "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
    setenv("AWS_REGION", "ap-south-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    setenv("AWS_ENDPOINT_URL", "http://global:2/", 1);
    setenv("AWS_ENDPOINT_URL_SQS", "http://sqs-only:3", 1);
    struct aws_config c;
    char err[256], *src;
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "ap-south-1");
    assert_string_equal(c.access_key, "ENVKEY");
    assert_string_equal(c.session_token, "tok");
    char *u = endpoint(&c, &aws_sqs, &src);
    assert_string_equal(u, "http://sqs-only:3");
    assert_string_equal(src, "AWS_ENDPOINT_URL_SQS");
    free(u);
    free(src);
    u = endpoint(&c, &aws_dynamodb, &src);
    assert_string_equal(u, "http://global:2"); /* trailing slash dropped */
    assert_string_equal(src, "AWS_ENDPOINT_URL");
    free(u);
    free(src);
    aws_config_free(&c);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static void test_profile_files(void **state)
{
    (void)state;
    write_file(cfg_path, "# comment\n[default]\nregion = us-west-2\n\n[profile dev]\nregion = eu-central-1\n"
                         "services = local\naws_access_key_id = CFGKEY\naws_secret_access_key = cfgsecret\n"
                         "[services local]\nsqs =\n  endpoint_url = http://sqs-local:4566\n"
                         "auto_scaling =\n  endpoint_url = http://asg-local:4566\n");
    write_file(cred_path, "[dev]\naws_access_key_id = CREDKEY\naws_secret_access_key = credsecret\n");
    setenv("AWS_PROFILE", "dev", 1);
    struct aws_config c;
    char err[256], *src;
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "eu-central-1");
    assert_string_equal(c.access_key, "CREDKEY"); /* credentials file before config file */
    char *u = endpoint(&c, &aws_sqs, &src);
    assert_string_equal(u, "http://sqs-local:4566");
    assert_non_null(strstr(src, "services local"));
    free(u);
    free(src);
    u = endpoint(&c, &aws_autoscaling, &src);
    assert_string_equal(u, "http://asg-local:4566");
    free(u);
    free(src);
    u = endpoint(&c, &aws_ec2, &src);
    assert_string_equal(u, "https://ec2.eu-central-1.amazonaws.com");
    free(u);
    free(src);
    aws_config_free(&c);
    unsetenv("AWS_PROFILE");
}

/* The profile's own endpoint_url and region, then the environment's region variables in the
 * CLI's order (AWS_REGION before AWS_DEFAULT_REGION before the profile). */
static void test_profile_endpoint_and_region_order(void **state)
{
    (void)state;
    write_file(cfg_path, "[default]\nregion = us-west-2\nendpoint_url = http://profile-wide:4566/\n");
    struct aws_config c;
    char err[256], *src;
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "us-west-2");
    assert_string_equal(c.region_source, "region of profile default");
    char *u = endpoint(&c, &aws_dynamodb, &src);
    assert_string_equal(u, "http://profile-wide:4566");
    assert_string_equal(src, "endpoint_url of profile default");
    free(u);
    free(src);
    aws_config_free(&c);
    setenv("AWS_DEFAULT_REGION", "eu-north-1", 1);
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "eu-north-1");
    assert_string_equal(c.region_source, "AWS_DEFAULT_REGION");
    aws_config_free(&c);
    setenv("AWS_REGION", "ap-southeast-2", 1);
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_string_equal(c.region, "ap-southeast-2");
    assert_string_equal(c.region_source, "AWS_REGION");
    aws_config_free(&c);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (or the profile's ignore_configure_endpoint_urls) sends
 * every service back to its real regional endpoint, whatever endpoints are configured; the
 * environment variable wins over the profile setting either way. */
static void test_ignore_configured_endpoints(void **state)
{
    (void)state;
    write_file(cfg_path, "[default]\nregion = eu-west-3\nendpoint_url = http://profile-wide:4566\n"
                         "ignore_configure_endpoint_urls = true\n");
    setenv("AWS_ENDPOINT_URL_SQS", "http://sqs-only:3", 1);
    struct aws_config c;
    char err[256], *src;
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    char *u = endpoint(&c, &aws_sqs, &src);
    assert_string_equal(u, "https://sqs.eu-west-3.amazonaws.com");
    assert_non_null(strstr(src, "ignore_configure_endpoint_urls"));
    free(u);
    free(src);
    aws_config_free(&c);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    u = endpoint(&c, &aws_sqs, &src);
    assert_string_equal(u, "http://sqs-only:3");
    free(u);
    free(src);
    aws_config_free(&c);
    write_file(cfg_path, "[default]\nregion = eu-west-3\nendpoint_url = http://profile-wide:4566\n");
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    u = endpoint(&c, &aws_ec2, &src);
    assert_string_equal(u, "https://ec2.eu-west-3.amazonaws.com");
    assert_non_null(strstr(src, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"));
    free(u);
    free(src);
    aws_config_free(&c);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static void test_malformed_file(void **state)
{
    (void)state;
    write_file(cfg_path, "[default\nregion = x\n");
    struct aws_config c;
    char err[256];
    assert_int_equal(aws_config_load(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, cfg_path));
    assert_non_null(strstr(err, ":1:"));
    aws_config_free(&c);
    write_file(cfg_path, "region = x\n");
    assert_int_equal(aws_config_load(&c, err, sizeof err), -1);
    aws_config_free(&c);
}

static int64_t zero_clock(void *ctx)
{
    (void)ctx;
    return 0;
}

static int no_watch(void *ctx, int fd, int ev)
{
    (void)ctx;
    (void)fd;
    (void)ev;
    return 0;
}

static void test_client_needs_credentials_and_valid_url(void **state)
{
    (void)state;
    write_file(cfg_path, "[default]\nregion = us-east-1\n");
    struct aws_config c;
    char err[512];
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    struct aws_clock clk = {zero_clock, NULL};
    struct aws_loop loop = {NULL, no_watch, NULL, NULL};
    assert_null(aws_client_new(&c, NULL, &clk, &loop, err, sizeof err));
    assert_non_null(strstr(err, "no AWS credentials"));
    aws_config_free(&c);
    setenv("AWS_ACCESS_KEY_ID", "a", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "b", 1);
    setenv("AWS_ENDPOINT_URL", "ftp://nope", 1);
    assert_int_equal(aws_config_load(&c, err, sizeof err), 0);
    assert_null(aws_client_new(&c, NULL, &clk, &loop, err, sizeof err));
    assert_non_null(strstr(err, "ftp://nope"));
    assert_non_null(strstr(err, "AWS_ENDPOINT_URL"));
    aws_config_free(&c);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
}

static void test_retry_classification(void **state)
{
    (void)state;
    assert_true(aws_error_is_retryable(500, "InternalError"));
    assert_true(aws_error_is_retryable(503, "Whatever"));
    assert_true(aws_error_is_retryable(400, "ThrottlingException"));
    assert_true(aws_error_is_retryable(400, "RequestLimitExceeded"));
    assert_true(aws_error_is_retryable(0, "NetworkError"));
    assert_false(aws_error_is_retryable(400, "ValidationException"));
    assert_false(aws_error_is_retryable(400, "AWS.SimpleQueueService.NonExistentQueue"));
    /* Full jitter: [0, 1 s) before the first retry, doubling, capped at 20 s. */
    assert_int_equal(aws_retry_delay_ms(2, 0.5), 500);
    assert_int_equal(aws_retry_delay_ms(3, 0.5), 1000);
    assert_int_equal(aws_retry_delay_ms(4, 0.999), 3996);
    assert_int_equal(aws_retry_delay_ms(20, 0.999), 20000);
    assert_int_equal(aws_retry_delay_ms(2, 0.0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_endpoint_and_region_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignore_configured_endpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_needs_credentials_and_valid_url, setup, teardown),
        cmocka_unit_test(test_retry_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
