/* test_auth.c -- emulator/auth.c without a server: the shared-credentials reader, and the
 * verifier against AWS's published examples (S3 header, presigned URL, chunk-signed upload,
 * SigV2) and against requests signed here with lib/sigv4 and then spoiled one way at a time;
 * each refusal is checked for the error row its family answers with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "service.h"
#include "sigv4.h"
#include "util.h"

#define DOC_AKID "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static struct dss_keyring keys;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(dss_keyring_add(&keys, "doc", DOC_AKID, DOC_SECRET), 0);
    assert_int_equal(dss_keyring_add(&keys, "default", "test", "test"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dss_keyring_free(&keys);
    return 0;
}

static int64_t at(const char *amz_date)
{
    long long ms;
    assert_int_equal(sigv4_parse_amz_date(amz_date, &ms), 0);
    return ms;
}

/* ---- The credentials reader ---- */

static void test_keyring_parse(void **state)
{
    (void)state;
    static const char text[] =
        "# two profiles\r\n"
        "[default]\r\n"
        "aws_access_key_id = AKIDONE\r\n"
        "AWS_SECRET_ACCESS_KEY=secret one with spaces  \r\n"
        "region = eu-west-1\n"
        "\n"
        "  ; an indented comment\n"
        "[ ci ]\n"
        "aws_access_key_id: AKIDTWO\n"
        "aws_secret_access_key = s2/+=\n"
        "s3 =\n"
        "    max_concurrent_requests = 4\n"
        "[region-only]\n"
        "region = us-west-2\n";
    struct dss_keyring k = {0};
    char err[256] = "";
    assert_int_equal(dss_keyring_parse(&k, text, strlen(text), err, sizeof err), 0);
    assert_int_equal(k.n, 2);
    assert_string_equal(dss_keyring_secret(&k, "AKIDONE"), "secret one with spaces");
    assert_string_equal(dss_keyring_secret(&k, "AKIDTWO"), "s2/+=");
    assert_string_equal(k.keys[1].profile, "ci");
    assert_null(dss_keyring_secret(&k, "AKIDTHREE"));
    /* The same pair twice is one pair; the same key with another secret is refused. */
    assert_int_equal(dss_keyring_add(&k, "again", "AKIDONE", "secret one with spaces"), 0);
    assert_int_equal(k.n, 2);
    assert_int_equal(dss_keyring_add(&k, "again", "AKIDONE", "other"), -1);
    dss_keyring_free(&k);
}

static void test_keyring_errors(void **state)
{
    (void)state;
    static const struct { const char *text, *want; } cases[] = {
        {"aws_access_key_id = A\n", "line 1: aws_access_key_id outside a [profile] section"},
        {"[p]\naws_access_key_id = A\n", "line 1: profile [p] has aws_access_key_id without aws_secret_access_key"},
        {"[p]\naws_secret_access_key = S\n[q]\n", "line 1: profile [p] has aws_secret_access_key without"},
        {"[p]\njust words\n", "line 2: expected [profile], key = value or a comment"},
        {"[p\n", "line 1: a section header must end with ']'"},
        {"[ ]\n", "line 1: a profile name must be"},
        {"[p]\n= v\n", "line 2: a setting without a name"},
        {"[p]\naws_access_key_id = has space\naws_secret_access_key = s\n", "line 2: aws_access_key_id must be"},
        {"[p]\naws_access_key_id = a/b\naws_secret_access_key = s\n", "line 2: aws_access_key_id must be"},
        {"[p]\naws_access_key_id = A\naws_secret_access_key = \n", "line 3: aws_secret_access_key must be"},
        {"[p]\naws_access_key_id = A\naws_secret_access_key = s\n[q]\naws_access_key_id = A\naws_secret_access_key = t\n",
         "line 4: access key A of profile [q] already has another secret"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dss_keyring k = {0};
        char err[256] = "";
        assert_int_equal(dss_keyring_parse(&k, cases[i].text, strlen(cases[i].text), err, sizeof err), -1);
        if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("case %zu: got '%s', want '%s...'", i, err, cases[i].want);
        dss_keyring_free(&k);
    }
    /* A NUL byte, and a line longer than the reader takes. */
    struct dss_keyring k = {0};
    char err[256];
    assert_int_equal(dss_keyring_parse(&k, "[p]\na\0b = c\n", 12, err, sizeof err), -1);
    assert_string_equal(err, "line 2: holds a NUL byte");
    char *longline = malloc(5000);
    memset(longline, 'x', 5000);
    assert_int_equal(dss_keyring_parse(&k, longline, 5000, err, sizeof err), -1);
    assert_string_equal(err, "line 1: longer than 4096 bytes");
    free(longline);
}

static void test_keyring_load(void **state)
{
    (void)state;
    char path[] = "/tmp/dss-test-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct dss_keyring k = {0};
    char err[512];
    /* Empty: no pair. */
    assert_int_equal(dss_keyring_load(&k, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds no key pair"));
    static const char text[] = "[a]\naws_access_key_id=K1\naws_secret_access_key=S1\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    assert_int_equal(dss_keyring_load(&k, path, err, sizeof err), 0);
    assert_string_equal(dss_keyring_secret(&k, "K1"), "S1");
    dss_keyring_free(&k);
    /* Over 1 MiB. */
    char *big = calloc(1, 1 << 20);
    memset(big, '#', 1 << 20);
    assert_int_equal(write(fd, big, 1 << 20), 1 << 20);
    free(big);
    assert_int_equal(dss_keyring_load(&k, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "is larger than"));
    close(fd);
    unlink(path);
    assert_int_equal(dss_keyring_load(&k, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

/* ---- Requests ---- */

struct req {
    const char *method, *target;
    struct sigv4_header h[24];
    size_t n;
    char *owned[8]; /* header values built here */
    size_t nowned;
};

static void add(struct req *r, const char *name, const char *value)
{
    assert_true(r->n < 24);
    r->h[r->n].name = name;
    r->h[r->n].value = value;
    r->n++;
}

static void set(struct req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->h[i].name, name) == 0) {
            r->h[i].value = value;
            return;
        }
    add(r, name, value);
}

static void drop(struct req *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcasecmp(r->h[i].name, name) == 0) {
            memmove(&r->h[i], &r->h[i + 1], (r->n - i - 1) * sizeof r->h[0]);
            r->n--;
            return;
        }
}

static void req_free(struct req *r)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    r->nowned = 0;
}

/* Signs r (non-S3 rules: the body's hash, the raw path normalised) as it stands, adding
 * X-Amz-Date and Authorization. */
static void sign(struct req *r, const char *body, const char *akid, const char *secret, const char *service,
                 const char *amz_date)
{
    set(r, "X-Amz-Date", amz_date);
    drop(r, "Authorization");
    char *path = strndup(r->target, strcspn(r->target, "?"));
    const char *q = strchr(r->target, '?');
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    struct sigv4_request sr = {r->method, path, q ? q + 1 : NULL, r->h, r->n, hash, 1};
    struct buf out;
    buf_init(&out, 1 << 16);
    assert_int_equal(sigv4_authorization(&out, &sr, akid, secret, "us-east-1", service, amz_date), 0);
    free(path);
    r->owned[r->nowned++] = buf_steal(&out);
    add(r, "Authorization", r->owned[r->nowned - 1]);
}

/* Runs the verifier; returns the error (DSS_E_InternalFailure standing for "accepted"). */
static enum dss_error check(enum dss_auth_family f, const char *service, const struct req *r, const char *body,
                            int64_t now, struct dss_auth_result *res)
{
    char hash[65];
    sha256_hex(body, strlen(body), hash);
    struct dss_auth_input in = {f, r->method, r->target, r->h, r->n, service, f == DSS_AUTH_S3 ? NULL : hash, now};
    int rc = dss_auth_verify(&keys, &in, res);
    return rc == 0 ? DSS_E_InternalFailure : res->err;
}

#define OK DSS_E_InternalFailure

static enum dss_error verdict(enum dss_auth_family f, const char *service, const struct req *r, const char *body,
                              int64_t now, char *msg, size_t msglen)
{
    struct dss_auth_result res;
    enum dss_error e = check(f, service, r, body, now, &res);
    if (msg)
        snprintf(msg, msglen, "%s", res.message);
    dss_auth_result_free(&res);
    return e;
}

/* ---- AWS's published S3 examples ---- */

static void doc_get(struct req *r)
{
    *r = (struct req){.method = "GET", .target = "/test.txt"};
    add(r, "Host", "examplebucket.s3.amazonaws.com");
    add(r, "Range", "bytes=0-9");
    add(r, "x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    add(r, "x-amz-date", "20130524T000000Z");
    add(r, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_s3_doc_header(void **state)
{
    (void)state;
    struct req r;
    int64_t t = at("20130524T000000Z");
    char msg[1024];
    doc_get(&r);
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t + 60000, NULL, 0), OK);
    /* Header values are compared as canonicalised: extra spaces do not matter... */
    set(&r, "Range", "  bytes=0-9 ");
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), OK);
    /* ...their content does. */
    set(&r, "Range", "bytes=0-8");
    struct dss_auth_result res;
    assert_int_equal(check(DSS_AUTH_S3, "s3", &r, "", t, &res), DSS_E_SignatureDoesNotMatch);
    assert_string_equal(res.message, "The request signature we calculated does not match the signature you "
                                     "provided. Check your key and signing method.");
    assert_int_equal(res.nextra, 4);
    const char *name;
    assert_non_null(dss_auth_extra(&res, 1, &name));
    assert_string_equal(name, "StringToSign");
    assert_non_null(strstr(dss_auth_extra(&res, 3, &name), "range:bytes=0-8\n"));
    dss_auth_result_free(&res);
    /* 15 minutes either way is the allowance. */
    doc_get(&r);
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t + 15 * 60000, NULL, 0), OK);
    assert_int_equal(check(DSS_AUTH_S3, "s3", &r, "", t + 15 * 60000 + 1000, &res), DSS_E_RequestTimeTooSkewed);
    assert_string_equal(dss_auth_extra(&res, 0, &name), "20130524T000000Z");
    assert_string_equal(name, "RequestTime");
    assert_string_equal(dss_auth_extra(&res, 2, &name), "900000");
    dss_auth_result_free(&res);
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t - 16 * 60000, NULL, 0), DSS_E_RequestTimeTooSkewed);
    /* S3 wants x-amz-content-sha256, and only its known forms. */
    drop(&r, "x-amz-content-sha256");
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, msg, sizeof msg), DSS_E_InvalidRequest);
    assert_string_equal(msg, "Missing required header for this request: x-amz-content-sha256");
    set(&r, "x-amz-content-sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_InvalidArgument);
    /* An unknown key, a scope for another service. */
    doc_get(&r);
    r.h[4].value = "AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20130524/us-east-1/s3/aws4_request,"
                   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8";
    assert_int_equal(check(DSS_AUTH_S3, "s3", &r, "", t, &res), DSS_E_InvalidAccessKeyId);
    assert_string_equal(dss_auth_extra(&res, 0, &name), "AKIDNOBODY");
    dss_auth_result_free(&res);
    r.h[4].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/sqs/aws4_request,"
                   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, msg, sizeof msg), DSS_E_AuthorizationHeaderMalformed);
    assert_non_null(strstr(msg, "incorrect service \"sqs\""));
    /* The credential's date must be the request's. */
    r.h[4].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request,"
                   "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_AuthorizationHeaderMalformed);
}

static void test_s3_doc_presigned(void **state)
{
    (void)state;
    struct req r = {.method = "GET",
                    .target = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
                              "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                              "&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"};
    add(&r, "Host", "examplebucket.s3.amazonaws.com");
    int64_t t = at("20130524T000000Z");
    char msg[1024];
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t + 3600 * 1000, NULL, 0), OK);
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t + 86400 * 1000, NULL, 0), OK);
    struct dss_auth_result res;
    assert_int_equal(check(DSS_AUTH_S3, "s3", &r, "", t + 86401 * 1000LL, &res), DSS_E_S3AccessDenied);
    assert_string_equal(res.message, "Request has expired");
    const char *name;
    assert_string_equal(dss_auth_extra(&res, 0, &name), "86400");
    assert_string_equal(name, "X-Amz-Expires");
    assert_string_equal(dss_auth_extra(&res, 1, &name), "2013-05-25T00:00:00Z");
    dss_auth_result_free(&res);
    /* Before its date (beyond the allowance) it is not valid yet. */
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t - 16 * 60000, msg, sizeof msg), DSS_E_S3AccessDenied);
    assert_string_equal(msg, "Request is not valid yet");
    /* Any other Host: the signature no longer matches. */
    r.h[0].value = "otherbucket.s3.amazonaws.com";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_SignatureDoesNotMatch);
    r.h[0].value = "examplebucket.s3.amazonaws.com";
    /* A presigned URL and an Authorization header at once. */
    add(&r, "Authorization", "AWS4-HMAC-SHA256 Credential=x");
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, msg, sizeof msg), DSS_E_InvalidArgument);
    assert_non_null(strstr(msg, "Only one auth mechanism allowed"));
    drop(&r, "Authorization");
    /* Malformed parameters. */
    static const struct { const char *target, *want; } bad[] = {
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab", "Query-string authentication version 4 requires"},
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Signature=ab", "X-Amz-Algorithm only supports"},
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
         "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
         "X-Amz-Expires must be less than a week"},
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
         "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-5&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
         "X-Amz-Expires must be non-negative"},
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
         "&X-Amz-Date=2013-05-24&X-Amz-Expires=5&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
         "X-Amz-Date must be in the ISO8601 Long Format"},
        {"/t?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
         "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=5&X-Amz-SignedHeaders=host&X-Amz-Signature=ab",
         "Error parsing the X-Amz-Credential parameter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.target = bad[i].target;
        assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, msg, sizeof msg), DSS_E_AuthorizationQueryParametersError);
        if (!strstr(msg, bad[i].want))
            fail_msg("case %zu: '%s'", i, msg);
    }
}

/* The streaming upload example: a 66560-byte object in chunks of 64 KiB and 1 KiB. */
static void doc_chunked(struct req *r)
{
    *r = (struct req){.method = "PUT", .target = "/examplebucket/chunkObject.txt"};
    add(r, "Host", "s3.amazonaws.com");
    add(r, "x-amz-date", "20130524T000000Z");
    add(r, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    add(r, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                            "x-amz-decoded-content-length;x-amz-storage-class,"
                            "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    add(r, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    add(r, "Content-Encoding", "aws-chunked");
    add(r, "x-amz-decoded-content-length", "66560");
    add(r, "Content-Length", "66824");
}

static char *doc_chunked_body(size_t *len)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    char a[65536];
    memset(a, 'a', sizeof a);
    buf_puts(&b, "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
    buf_append(&b, a, 65536);
    buf_puts(&b, "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
    buf_append(&b, a, 1024);
    buf_puts(&b, "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
    *len = b.len;
    return buf_steal(&b);
}

/* Feeds body to a verifier in slices of step bytes; returns feed's then finish's verdict. */
static int run_chunks(const struct dss_auth_result *res, const char *body, size_t len, size_t step)
{
    struct dss_chunk_verifier *v = dss_chunks_new(res->signing_key, res->amz_date, res->scope, res->seed_signature,
                                                  res->trailer_signed);
    assert_non_null(v);
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i += step)
        rc = dss_chunks_feed(v, body + i, len - i < step ? len - i : step);
    if (!rc)
        rc = dss_chunks_finish(v);
    dss_chunks_free(v);
    return rc;
}

static void test_s3_doc_chunked(void **state)
{
    (void)state;
    struct req r;
    doc_chunked(&r);
    struct dss_auth_result res;
    assert_int_equal(check(DSS_AUTH_S3, "s3", &r, "", at("20130524T000000Z"), &res), OK);
    assert_true(res.chunk_signed);
    assert_false(res.trailer_signed);
    assert_string_equal(res.scope, "20130524/us-east-1/s3/aws4_request");
    size_t len;
    char *body = doc_chunked_body(&len);
    assert_int_equal(len, 66824);
    assert_int_equal(run_chunks(&res, body, len, len), 0);
    assert_int_equal(run_chunks(&res, body, len, 1), 0); /* any slicing verifies the same */
    assert_int_equal(run_chunks(&res, body, len, 4093), 0);
    assert_int_equal(run_chunks(&res, body, len - 2, len), -1); /* cut short */
    body[70000 % len] ^= 1;                                      /* one byte of data changed */
    struct dss_chunk_verifier *v = dss_chunks_new(res.signing_key, res.amz_date, res.scope, res.seed_signature, 0);
    assert_int_equal(dss_chunks_feed(v, body, len), -1);
    int bad = 0;
    assert_string_equal(dss_chunks_error(v, &bad), "The request signature we calculated does not match the signature "
                                                    "you provided. Check your key and signing method.");
    assert_int_equal(bad, 1);
    dss_chunks_free(v);
    body[70000 % len] ^= 1;
    memcpy(body, "f000", 4); /* a chunk header that lies about its size */
    assert_int_equal(run_chunks(&res, body, len, len), -1);
    free(body);
    dss_auth_result_free(&res);
    /* A garbled seed signature fails before any body is read. */
    doc_chunked(&r);
    r.h[3].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                   "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                   "x-amz-decoded-content-length;x-amz-storage-class,"
                   "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a8";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", at("20130524T000000Z"), NULL, 0), DSS_E_SignatureDoesNotMatch);
}

/* A trailer-signed body, signed here chunk by chunk with lib/sigv4's strings to sign. */
static void test_chunked_trailer(void **state)
{
    (void)state;
    unsigned char key[32];
    sigv4_signing_key("test", "20240101T000000Z", "us-east-1", "s3", key);
    const char *scope = "20240101/us-east-1/s3/aws4_request", *date = "20240101T000000Z";
    char prev[65] = "0000000000000000000000000000000000000000000000000000000000000000", sig[65], hash[65];
    struct buf body, sts;
    buf_init(&body, 1 << 16);
    buf_init(&sts, 4096);
    const char *chunks[] = {"hello ", "world", ""};
    for (int i = 0; i < 3; i++) {
        sha256_hex(chunks[i], strlen(chunks[i]), hash);
        buf_reset(&sts);
        sigv4_chunk_string_to_sign(&sts, date, scope, prev, hash);
        sigv4_signature(key, sts.data, sig);
        buf_printf(&body, "%zx;chunk-signature=%s\r\n%s%s", strlen(chunks[i]), sig, chunks[i], i < 2 ? "\r\n" : "");
        memcpy(prev, sig, 65);
    }
    sha256_hex("x-amz-checksum-crc32:DUoRhQ==\n", 30, hash);
    buf_reset(&sts);
    sigv4_trailer_string_to_sign(&sts, date, scope, prev, hash);
    sigv4_signature(key, sts.data, sig);
    buf_printf(&body, "x-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:%s\r\n\r\n", sig);
    struct dss_auth_result res = {0};
    memcpy(res.signing_key, key, 32);
    snprintf(res.amz_date, sizeof res.amz_date, "%s", date);
    snprintf(res.scope, sizeof res.scope, "%s", scope);
    memset(res.seed_signature, '0', 64);
    res.trailer_signed = 1;
    assert_int_equal(run_chunks(&res, body.data, body.len, 7), 0);
    /* The trailer's value is signed. */
    char *t = strstr(body.data, "DUoRhQ==");
    t[0] = 'E';
    assert_int_equal(run_chunks(&res, body.data, body.len, body.len), -1);
    t[0] = 'D';
    /* An unsigned trailer where a signed one is due. */
    res.trailer_signed = 1;
    char *ts = strstr(body.data, "x-amz-trailer-signature");
    memcpy(ts, "x-amz-trailer-signaturX", 23);
    assert_int_equal(run_chunks(&res, body.data, body.len, body.len), -1);
    buf_free(&body);
    buf_free(&sts);
}

/* ---- S3's SigV2 ---- */

static void test_s3_v2(void **state)
{
    (void)state;
    /* The example of AWS's SigV2 documentation: virtual-hosted, dated with Date. */
    struct req r = {.method = "GET", .target = "/photos/puppy.jpg"};
    add(&r, "Host", "johnsmith.s3.amazonaws.com");
    add(&r, "Date", "Tue, 27 Mar 2007 19:36:42 +0000");
    add(&r, "Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=");
    int64_t t = 1175024202000LL;
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), OK);
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t + 16 * 60000, NULL, 0), DSS_E_RequestTimeTooSkewed);
    r.h[2].value = "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMV=";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_SignatureDoesNotMatch);
    r.h[2].value = "AWS nobody:bWq2s1WEIj+Ydj0vQ697zp+IXMU=";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_InvalidAccessKeyId);
    r.h[2].value = "AWS AKIAIOSFODNN7EXAMPLE";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_InvalidArgument);
    drop(&r, "Date");
    r.h[1].value = "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &r, "", t, NULL, 0), DSS_E_S3AccessDenied);

    /* Query form, as boto3 presigns by default: Expires in the date line, sub-resources in the
     * resource, x-amz-* headers signed. */
    const char *sts = "GET\n\n\n1700000000\nx-amz-meta-a:1,2\n/bucket/some%20key?uploadId=u+1&versionId=3";
    unsigned char mac[20];
    unsigned int ml = 0;
    HMAC(EVP_sha1(), "test", 4, (const unsigned char *)sts, strlen(sts), mac, &ml);
    struct buf b64, target;
    buf_init(&b64, 64);
    buf_init(&target, 1024);
    base64_encode(&b64, mac, ml);
    buf_puts(&target, "/bucket/some%20key?versionId=3&uploadId=u%2B1&AWSAccessKeyId=test&Expires=1700000000&Signature=");
    url_encode(&target, b64.data, b64.len, 0);
    struct req q = {.method = "GET", .target = target.data};
    add(&q, "Host", "127.0.0.1:4566");
    add(&q, "X-Amz-Meta-A", "1");
    add(&q, "x-amz-meta-a", " 2 ");
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &q, "", 1700000000000LL - 1000, NULL, 0), OK);
    struct dss_auth_result res;
    assert_int_equal(check(DSS_AUTH_S3, "s3", &q, "", 1700000000000LL + 1000, &res), DSS_E_S3AccessDenied);
    assert_string_equal(res.message, "Request has expired");
    dss_auth_result_free(&res);
    q.h[1].value = "9";
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &q, "", 1700000000000LL - 1000, NULL, 0), DSS_E_SignatureDoesNotMatch);
    q.target = "/bucket/k?AWSAccessKeyId=test&Signature=abc";
    char msg[1024];
    assert_int_equal(verdict(DSS_AUTH_S3, "s3", &q, "", 0, msg, sizeof msg), DSS_E_S3AccessDenied);
    assert_non_null(strstr(msg, "requires the Signature, Expires and AWSAccessKeyId"));
    buf_free(&b64);
    buf_free(&target);
}

/* ---- The other families: signed here, then spoiled ---- */

static void json_request(struct req *r, const char *body, const char *akid, const char *secret, const char *date)
{
    *r = (struct req){.method = "POST", .target = "/"};
    add(r, "Host", "127.0.0.1:4566");
    add(r, "X-Amz-Target", "DynamoDB_20120810.ListTables");
    add(r, "Content-Type", "application/x-amz-json-1.0");
    sign(r, body, akid, secret, "dynamodb", date);
}

static void test_json_family(void **state)
{
    (void)state;
    const char *body = "{\"Limit\":3}", *date = "20240101T120000Z";
    int64_t t = at(date);
    char msg[1024];
    struct req r;
    json_request(&r, body, "test", "test", date);
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, NULL, 0), OK);
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, "{\"Limit\":4}", t, msg, sizeof msg),
                     DSS_E_InvalidSignatureException);
    assert_non_null(strstr(msg, "Check your AWS Secret Access Key and signing method"));
    assert_int_equal(verdict(DSS_AUTH_JSON, "ssm", &r, body, t, msg, sizeof msg), DSS_E_InvalidSignatureException);
    assert_string_equal(msg, "Credential should be scoped to correct service: 'ssm'. ");
    /* x-amz-content-sha256, when sent, must be the body's. */
    set(&r, "x-amz-content-sha256", "0000000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, NULL, 0), DSS_E_InvalidSignatureException);
    req_free(&r);
    json_request(&r, body, "test", "wrong", date);
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, NULL, 0), DSS_E_InvalidSignatureException);
    req_free(&r);
    json_request(&r, body, "nobody", "test", date);
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_UnrecognizedClientException);
    assert_string_equal(msg, "The security token included in the request is invalid.");
    req_free(&r);
    /* Skew, both ways, with AWS's wording. */
    json_request(&r, body, "test", "test", date);
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t + 20 * 60000, msg, sizeof msg),
                     DSS_E_InvalidSignatureException);
    assert_string_equal(msg, "Signature expired: 20240101T120000Z is now earlier than 20240101T120500Z "
                             "(20240101T122000Z - 15 min.)");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t - 20 * 60000, msg, sizeof msg),
                     DSS_E_InvalidSignatureException);
    assert_string_equal(msg, "Signature not yet current: 20240101T120000Z is still later than 20240101T115500Z "
                             "(20240101T114000Z + 15 min.)");
    /* No date at all; a date in the wrong form. */
    drop(&r, "X-Amz-Date");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "requires existence of either a 'X-Amz-Date' or a 'Date' header"));
    add(&r, "X-Amz-Date", "2024-01-01T12:00:00Z");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "Date must be in ISO-8601 'basic format'"));
    req_free(&r);
    /* Missing, malformed, other schemes. */
    r = (struct req){.method = "POST", .target = "/"};
    add(&r, "Host", "127.0.0.1:4566");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg),
                     DSS_E_MissingAuthenticationTokenException);
    assert_string_equal(msg, "Request is missing Authentication Token");
    add(&r, "Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "Authorization header requires 'Signature' parameter. Authorization header requires "
                                "'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"));
    r.h[1].value = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1, SignedHeaders=host, Signature=00";
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "Credential must have exactly 5 slash-delimited elements"));
    r.h[1].value = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, Junk, Signature=00";
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "'Junk' not a valid key=value pair (missing equal-sign)"));
    r.h[1].value = "Bearer abc";
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, NULL, 0), DSS_E_IncompleteSignatureException);
    /* Host must be signed. */
    r = (struct req){.method = "POST", .target = "/"};
    add(&r, "X-Amz-Target", "DynamoDB_20120810.ListTables");
    sign(&r, body, "test", "test", "dynamodb", date);
    add(&r, "Host", "127.0.0.1:4566");
    assert_int_equal(verdict(DSS_AUTH_JSON, "dynamodb", &r, body, t, msg, sizeof msg), DSS_E_IncompleteSignatureException);
    assert_non_null(strstr(msg, "'Host' or ':authority' must be a 'SignedHeader'"));
    req_free(&r);
}

static void test_query_and_ec2_families(void **state)
{
    (void)state;
    const char *body = "Action=ListQueues&Version=2012-11-05", *date = "20240101T120000Z";
    int64_t t = at(date);
    struct req r = {.method = "POST", .target = "/000000000000/q1/../q2?x=1"};
    add(&r, "Host", "127.0.0.1:4566");
    add(&r, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    sign(&r, body, "test", "test", "sqs", date);
    assert_int_equal(verdict(DSS_AUTH_QUERY, "sqs", &r, body, t, NULL, 0), OK);
    assert_int_equal(verdict(DSS_AUTH_QUERY, "sqs", &r, "Action=ListQueues", t, NULL, 0), DSS_E_SignatureDoesNotMatch);
    assert_int_equal(verdict(DSS_AUTH_QUERY, "sqs", &r, body, t + 16 * 60000, NULL, 0), DSS_E_SignatureDoesNotMatch);
    assert_int_equal(verdict(DSS_AUTH_EC2, "sqs", &r, body, t + 16 * 60000, NULL, 0), DSS_E_RequestExpired);
    assert_int_equal(verdict(DSS_AUTH_EC2, "sqs", &r, "", t, NULL, 0), DSS_E_AuthFailure);
    req_free(&r);
    sign(&r, body, "nobody", "test", "sqs", date);
    assert_int_equal(verdict(DSS_AUTH_QUERY, "sqs", &r, body, t, NULL, 0), DSS_E_InvalidClientTokenId);
    assert_int_equal(verdict(DSS_AUTH_EC2, "sqs", &r, body, t, NULL, 0), DSS_E_AuthFailure);
    req_free(&r);
    drop(&r, "Authorization");
    assert_int_equal(verdict(DSS_AUTH_QUERY, "sqs", &r, body, t, NULL, 0), DSS_E_MissingAuthenticationToken);
    assert_int_equal(verdict(DSS_AUTH_EC2, "ec2", &r, body, t, NULL, 0), DSS_E_MissingAuthenticationToken);
    /* The status each row answers with. */
    assert_int_equal(dss_error_info(DSS_E_InvalidClientTokenId)->status, 403);
    assert_int_equal(dss_error_info(DSS_E_SignatureDoesNotMatch)->status, 403);
    assert_int_equal(dss_error_info(DSS_E_AuthFailure)->status, 401);
    assert_int_equal(dss_error_info(DSS_E_UnrecognizedClientException)->status, 400);
    assert_int_equal(dss_error_info(DSS_E_RequestTimeTooSkewed)->status, 403);
}

/* ---- The guard's pure parts ---- */

static void test_guard(void **state)
{
    (void)state;
    assert_true(dss_guard_is_loopback("127.0.0.1"));
    assert_true(dss_guard_is_loopback("127.1.2.3"));
    assert_true(dss_guard_is_loopback("localhost"));
    assert_true(dss_guard_is_loopback("::1"));
    assert_false(dss_guard_is_loopback("0.0.0.0"));
    assert_false(dss_guard_is_loopback("10.0.0.1"));
    assert_false(dss_guard_is_loopback("128.0.0.1"));
    assert_false(dss_guard_is_loopback("example.com"));
    assert_int_equal(dss_guard_throttle_error(&dss_sqs_service), DSS_E_RequestThrottled);
    assert_int_equal(dss_guard_throttle_error(&dss_ec2_service), DSS_E_RequestLimitExceeded);
    assert_int_equal(dss_guard_throttle_error(&dss_ssm_service), DSS_E_ThrottlingException);
    assert_int_equal(dss_guard_limits()->max_body_bytes, 16u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_parse),  cmocka_unit_test(test_keyring_errors),
        cmocka_unit_test(test_keyring_load),   cmocka_unit_test(test_s3_doc_header),
        cmocka_unit_test(test_s3_doc_presigned), cmocka_unit_test(test_s3_doc_chunked),
        cmocka_unit_test(test_chunked_trailer), cmocka_unit_test(test_s3_v2),
        cmocka_unit_test(test_json_family),    cmocka_unit_test(test_query_and_ec2_families),
        cmocka_unit_test(test_guard),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
