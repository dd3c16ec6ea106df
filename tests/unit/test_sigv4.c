/* test_sigv4.c -- lib/sigv4 against the official SigV4 test suite (fixtures/sigv4).
 *
 * For each case: parse request.txt, add the headers the signer adds (X-Amz-Date, the session
 * token unless the case omits it, X-Amz-Content-Sha256 when the body is signed), then compare the
 * canonical request, the string to sign, the signature and the Authorization header with the
 * case's header-*.txt files; and the query-signed (presigned) form against query-*.txt. Every case
 * directory is listed here so a missing one fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "util.h"

#ifndef DSS_SOURCE_DIR
#define DSS_SOURCE_DIR "."
#endif

static const char *const cases[] = {
    "get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
    "get-header-value-trim", "get-relative-normalized", "get-relative-relative-normalized",
    "get-relative-relative-unnormalized", "get-relative-unnormalized", "get-slash-dot-slash-normalized",
    "get-slash-dot-slash-unnormalized", "get-slash-normalized", "get-slash-pointless-dot-normalized",
    "get-slash-pointless-dot-unnormalized", "get-slash-unnormalized", "get-slashes-normalized",
    "get-slashes-unnormalized", "get-space-normalized", "get-space-unnormalized", "get-unreserved",
    "get-utf8", "get-vanilla", "get-vanilla-empty-query-key", "get-vanilla-query",
    "get-vanilla-query-order-encoded", "get-vanilla-query-order-key-case", "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query", "get-vanilla-with-session-token", "post-header-key-case",
    "post-header-key-sort", "post-header-value-case", "post-sts-header-after", "post-sts-header-before",
    "post-vanilla", "post-vanilla-empty-query-value", "post-vanilla-query", "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
};

static char *slurp(const char *dir, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/sigv4/%s/%s", DSS_SOURCE_DIR, dir, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct buf b;
    buf_init(&b, 1 << 20);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        assert_int_equal(buf_append(&b, tmp, n), 0);
    fclose(f);
    return buf_steal(&b);
}

#define MAXH 32

struct parsed {
    char *text; /* request.txt, cut up in place */
    char *method, *path, *query, *body;
    struct sigv4_header h[MAXH];
    char *folded[MAXH]; /* values joined across continuation lines */
    size_t n;
};

/* Parses request.txt: "METHOD URI HTTP/1.1", header lines (a line starting with a space
 * continues the previous value), a blank line, the body. The URI may contain spaces. */
static void parse_request(struct parsed *p, char *text)
{
    memset(p, 0, sizeof *p);
    p->text = text;
    char *eol = strchr(text, '\n');
    assert_non_null(eol);
    *eol = '\0';
    p->method = text;
    char *sp = strchr(text, ' ');
    assert_non_null(sp);
    *sp = '\0';
    char *uri = sp + 1, *http = strstr(uri, " HTTP/");
    assert_non_null(http);
    *http = '\0';
    char *q = strchr(uri, '?');
    if (q)
        *q++ = '\0';
    p->path = uri;
    p->query = q;
    char *line = eol + 1;
    while (line && *line && *line != '\n') {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (*line == ' ' || *line == '\t') {
            assert_true(p->n > 0);
            char *prev = p->folded[p->n - 1];
            size_t a = strlen(prev), b = strlen(line);
            prev = realloc(prev, a + b + 2);
            prev[a] = '\n';
            memcpy(prev + a + 1, line, b + 1);
            p->folded[p->n - 1] = prev;
            p->h[p->n - 1].value = prev;
        } else {
            char *colon = strchr(line, ':');
            assert_non_null(colon);
            *colon = '\0';
            assert_true(p->n < MAXH);
            p->h[p->n].name = line;
            p->folded[p->n] = strdup(colon + 1);
            p->h[p->n].value = p->folded[p->n];
            p->n++;
        }
        line = next;
    }
    p->body = line && *line == '\n' ? line + 1 : (char *)"";
}

static void add_header(struct parsed *p, const char *name, const char *value)
{
    assert_true(p->n < MAXH);
    p->h[p->n].name = name;
    p->folded[p->n] = strdup(value);
    p->h[p->n].value = p->folded[p->n];
    p->n++;
}

static void parsed_free(struct parsed *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->folded[i]);
    free(p->text);
}

static void run_case(const char *name)
{
    char *ctx_text = slurp(name, "context.json");
    cJSON *ctx = cJSON_Parse(ctx_text);
    assert_non_null(ctx);
    cJSON *cred = cJSON_GetObjectItem(ctx, "credentials");
    const char *akid = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "access_key_id"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "secret_access_key"));
    const char *token = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "token"));
    const char *region = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "region"));
    const char *service = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "service"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "timestamp"));
    int normalize = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "normalize"));
    int sign_body = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "sign_body"));
    int omit_token = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "omit_session_token"));
    assert_non_null(akid);
    assert_non_null(ts);

    /* "2015-08-30T12:36:00Z" -> "20150830T123600Z" */
    char amz_date[17];
    snprintf(amz_date, sizeof amz_date, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8, ts + 11, ts + 14,
             ts + 17);

    struct parsed p;
    parse_request(&p, slurp(name, "request.txt"));
    char body_hash[65];
    sha256_hex(p.body, strlen(p.body), body_hash);
    add_header(&p, "X-Amz-Date", amz_date);
    if (token && !omit_token)
        add_header(&p, "X-Amz-Security-Token", token);
    if (sign_body)
        add_header(&p, "X-Amz-Content-Sha256", body_hash);

    struct sigv4_request r = {p.method, p.path, p.query, p.h, p.n, body_hash, normalize};
    struct buf creq, names, scope, sts, auth;
    buf_init(&creq, 1 << 16);
    buf_init(&names, 1 << 16);
    buf_init(&scope, 256);
    buf_init(&sts, 1 << 16);
    buf_init(&auth, 1 << 16);

    assert_int_equal(sigv4_canonical_request(&r, &creq, &names), 0);
    char *want = slurp(name, "header-canonical-request.txt");
    if (strcmp(creq.data, want) != 0)
        fail_msg("%s: canonical request\n--- got\n%s\n--- want\n%s", name, creq.data, want);
    free(want);

    assert_int_equal(sigv4_scope(&scope, amz_date, region, service), 0);
    assert_int_equal(sigv4_string_to_sign(&sts, amz_date, scope.data, creq.data), 0);
    want = slurp(name, "header-string-to-sign.txt");
    assert_string_equal(sts.data, want);
    free(want);

    unsigned char key[32];
    char sig[65];
    sigv4_signing_key(secret, amz_date, region, service, key);
    sigv4_signature(key, sts.data, sig);
    want = slurp(name, "header-signature.txt");
    assert_string_equal(sig, want);
    free(want);

    /* The Authorization line of header-signed-request.txt. */
    assert_int_equal(sigv4_authorization(&auth, &r, akid, secret, region, service, amz_date), 0);
    char *signed_req = slurp(name, "header-signed-request.txt");
    char *line = strstr(signed_req, "\nAuthorization:");
    assert_non_null(line);
    line += strlen("\nAuthorization:");
    char *end = strchr(line, '\n');
    if (end)
        *end = '\0';
    assert_string_equal(auth.data, line);
    free(signed_req);

    buf_free(&creq);
    buf_free(&names);
    buf_free(&scope);
    buf_free(&sts);
    buf_free(&auth);
    parsed_free(&p);
    cJSON_Delete(ctx);
    free(ctx_text);
}

/* The query-signed (presigned URL) form of a case: the request's own headers only, the X-Amz-*
 * parameters added to the query, the body's hash as payload hash. */
static void run_query_case(const char *name)
{
    char *ctx_text = slurp(name, "context.json");
    cJSON *ctx = cJSON_Parse(ctx_text);
    cJSON *cred = cJSON_GetObjectItem(ctx, "credentials");
    const char *akid = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "access_key_id"));
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "secret_access_key"));
    const char *token = cJSON_GetStringValue(cJSON_GetObjectItem(cred, "token"));
    const char *region = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "region"));
    const char *service = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "service"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(ctx, "timestamp"));
    int normalize = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "normalize"));
    int omit_token = cJSON_IsTrue(cJSON_GetObjectItem(ctx, "omit_session_token"));
    long expires = (long)cJSON_GetObjectItem(ctx, "expiration_in_seconds")->valuedouble;
    char amz_date[17];
    snprintf(amz_date, sizeof amz_date, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", ts, ts + 5, ts + 8, ts + 11, ts + 14,
             ts + 17);
    struct parsed p;
    parse_request(&p, slurp(name, "request.txt"));
    char body_hash[65];
    sha256_hex(p.body, strlen(p.body), body_hash);

    struct buf names, scope, query, creq, sts;
    buf_init(&names, 4096);
    buf_init(&scope, 256);
    buf_init(&query, 1 << 16);
    buf_init(&creq, 1 << 16);
    buf_init(&sts, 1 << 16);
    struct sigv4_request r = {p.method, p.path, NULL, p.h, p.n, body_hash, normalize};
    assert_int_equal(sigv4_canonical_request(&r, &creq, &names), 0);
    buf_reset(&creq);
    if (p.query)
        buf_puts(&query, p.query);
    assert_int_equal(sigv4_scope(&scope, amz_date, region, service), 0);
    assert_int_equal(sigv4_presign_params(&query, akid, scope.data, amz_date, expires, names.data,
                                          token && !omit_token ? token : NULL),
                     0);
    r.query = query.data;
    assert_int_equal(sigv4_canonical_request(&r, &creq, NULL), 0);
    char *want = slurp(name, "query-canonical-request.txt");
    if (strcmp(creq.data, want) != 0)
        fail_msg("%s: query canonical request\n--- got\n%s\n--- want\n%s", name, creq.data, want);
    free(want);
    assert_int_equal(sigv4_string_to_sign(&sts, amz_date, scope.data, creq.data), 0);
    want = slurp(name, "query-string-to-sign.txt");
    assert_string_equal(sts.data, want);
    free(want);
    unsigned char key[32];
    char sig[65];
    sigv4_signing_key(secret, amz_date, region, service, key);
    sigv4_signature(key, sts.data, sig);
    want = slurp(name, "query-signature.txt");
    assert_string_equal(sig, want);
    free(want);
    buf_free(&names);
    buf_free(&scope);
    buf_free(&query);
    buf_free(&creq);
    buf_free(&sts);
    parsed_free(&p);
    cJSON_Delete(ctx);
    free(ctx_text);
}

static void test_all_query_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_query_case(cases[i]);
}

static void test_all_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(cases[i]);
}

/* A signature must change when anything signed changes. */
static void test_signature_sensitivity(void **state)
{
    (void)state;
    struct sigv4_header h[] = {{"Host", "sqs.us-east-1.amazonaws.com"}, {"X-Amz-Date", "20240101T000000Z"}};
    char hash[65];
    sha256_hex("{}", 2, hash);
    struct sigv4_request r = {"POST", "/", NULL, h, 2, hash, 1};
    struct buf a, b;
    buf_init(&a, 4096);
    buf_init(&b, 4096);
    assert_int_equal(sigv4_authorization(&a, &r, "AK", "SK", "us-east-1", "sqs", "20240101T000000Z"), 0);
    assert_int_equal(sigv4_authorization(&b, &r, "AK", "SK2", "us-east-1", "sqs", "20240101T000000Z"), 0);
    assert_string_not_equal(a.data, b.data);
    buf_reset(&b);
    sha256_hex("{ }", 3, hash);
    assert_int_equal(sigv4_authorization(&b, &r, "AK", "SK", "us-east-1", "sqs", "20240101T000000Z"), 0);
    assert_string_not_equal(a.data, b.data);
    buf_free(&a);
    buf_free(&b);
}

/* The signing-key chain computed here with OpenSSL directly, to check sigv4_signing_key's cache. */
static void reference_key(const char *secret, const char *date, const char *region, const char *service,
                          unsigned char out[32])
{
    char k0[400];
    unsigned char a[32], b[32];
    unsigned int len = 32;
    snprintf(k0, sizeof k0, "AWS4%s", secret);
    HMAC(EVP_sha256(), k0, (int)strlen(k0), (const unsigned char *)date, 8, a, &len);
    HMAC(EVP_sha256(), a, 32, (const unsigned char *)region, strlen(region), b, &len);
    HMAC(EVP_sha256(), b, 32, (const unsigned char *)service, strlen(service), a, &len);
    HMAC(EVP_sha256(), a, 32, (const unsigned char *)"aws4_request", 12, out, &len);
}

/* Keys come from a per-thread cache of 8: more combinations than that, in rounds, with one part
 * changed at a time, and a secret too long to be kept, all give the chain's key every time. */
static void test_signing_key_cache(void **state)
{
    (void)state;
    static const char *const secrets[] = {"SK", "SK2"}, *const regions[] = {"us-east-1", "eu-west-1"};
    static const char *const services[] = {"sqs", "ssm", "s3"}, *const dates[] = {"20240101T000000Z",
                                                                                   "20240102T000000Z"};
    char long_secret[300];
    memset(long_secret, 'x', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2 * 2 * 3 * 2 + 1; i++) {
            const char *secret = i == 24 ? long_secret : secrets[i % 2];
            const char *region = regions[i / 2 % 2], *service = services[i / 4 % 3], *date = dates[i / 12 % 2];
            unsigned char got[32], want[32];
            sigv4_signing_key(secret, date, region, service, got);
            reference_key(secret, date, region, service, want);
            assert_memory_equal(got, want, 32);
        }
    }
}

static void test_bad_query_escape(void **state)
{
    (void)state;
    struct sigv4_header h[] = {{"Host", "x"}};
    struct sigv4_request r = {"GET", "/", "a=%zz", h, 1, "e3b0", 1};
    struct buf out;
    buf_init(&out, 4096);
    assert_int_equal(sigv4_canonical_request(&r, &out, NULL), -1);
    buf_free(&out);
}

static void test_amz_date(void **state)
{
    (void)state;
    char d[17];
    sigv4_amz_date(1440938160000LL, d);
    assert_string_equal(d, "20150830T123600Z");
}

/* The verifier's helpers: reading back what the signer wrote (sigv4.h, "Verification"). */
static void test_verify_helpers(void **state)
{
    (void)state;
    struct sigv4_auth a;
    char err[512];
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, "
                                               "SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79",
                                               &a, err, sizeof err),
                     0);
    assert_string_equal(a.cred.access_key, "AKID");
    assert_string_equal(a.cred.date, "20150830");
    assert_string_equal(a.cred.region, "us-east-1");
    assert_string_equal(a.cred.service, "iam");
    assert_string_equal(a.cred.terminator, "aws4_request");
    assert_string_equal(a.signed_headers, "content-type;host;x-amz-date");
    assert_string_equal(a.signature, "5d672d79");
    /* Without spaces after the commas, as botocore writes S3's. */
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request,SignedHeaders=host,"
                                               "Signature=ab", &a, err, sizeof err), 0);
    assert_int_equal(sigv4_parse_authorization("AWS AKID:sig", &a, err, sizeof err), 1);
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s", &a, err, sizeof err), -1);
    assert_int_equal(sigv4_parse_authorization("AWS4-HMAC-SHA256 SignedHeaders=host", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "requires 'Credential' parameter"));
    /* A signature longer than any is kept as "", which matches nothing. */
    char longsig[200] = "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request,SignedHeaders=host,Signature=";
    memset(longsig + strlen(longsig), 'a', 80);
    assert_int_equal(sigv4_parse_authorization(longsig, &a, err, sizeof err), 0);
    assert_string_equal(a.signature, "");
    assert_false(sigv4_equal(a.signature, "aaaa"));

    /* Presigned parameters, and the query they were signed over. */
    const char *q = "b=2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&a";
    assert_int_equal(sigv4_parse_presigned(q, &a, err, sizeof err), 0);
    assert_string_equal(a.cred.access_key, "AKID");
    assert_string_equal(a.amz_date, "20130524T000000Z");
    assert_int_equal(a.expires_s, 86400);
    assert_string_equal(a.signature, "abc");
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(sigv4_query_without_signature(&b, q), 0);
    assert_null(strstr(b.data, "Signature"));
    assert_non_null(strstr(b.data, "b=2&X-Amz-Algorithm="));
    assert_string_equal(b.data + b.len - 2, "&a");
    buf_free(&b);
    assert_int_equal(sigv4_parse_presigned("a=1&b=2", &a, err, sizeof err), 1);
    assert_int_equal(sigv4_parse_presigned("X-Amz-Signature=abc", &a, err, sizeof err), -1);

    long long ms;
    assert_int_equal(sigv4_parse_amz_date("20150830T123600Z", &ms), 0);
    assert_int_equal(ms, 1440938160000LL);
    assert_int_equal(sigv4_parse_amz_date("20150231T000000Z", &ms), -1); /* no 31 February */
    assert_int_equal(sigv4_parse_amz_date("20150830T123600", &ms), -1);
    assert_int_equal(sigv4_parse_amz_date("2015-08-30T12:36:00Z", &ms), -1);

    struct sigv4_header all[] = {{"Host", "h"}, {"X-Amz-Date", "d"}, {"X-Amz-Meta-A", "1"}, {"x-amz-meta-a", "2"},
                                 {"User-Agent", "u"}};
    struct sigv4_header out[5];
    size_t n = sigv4_pick_headers(all, 5, "host;x-amz-meta-a;x-amz-date;host", out);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].name, "Host");
    assert_string_equal(out[1].value, "1");
    assert_string_equal(out[2].value, "2");
    assert_string_equal(out[3].name, "X-Amz-Date");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_vectors),
        cmocka_unit_test(test_all_query_vectors),
        cmocka_unit_test(test_signature_sensitivity),
        cmocka_unit_test(test_signing_key_cache),
        cmocka_unit_test(test_bad_query_escape),
        cmocka_unit_test(test_amz_date),
        cmocka_unit_test(test_verify_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
