/* test_s3.c -- the pure parts of the S3 emulation: checksums against published check values,
 * the aws-chunked decoder fed in every possible split, request routing (path and virtual-host
 * style, sub-resources, awkward keys), bucket-name rules, S3's URL encoding, and the
 * model-driven XML reader and writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/s3.h"
#include "util.h"

/* ---- Checksums ---- */

static void digest_of(enum s3_algo algo, const char *text, size_t split, char md5[33], char sum[96])
{
    struct s3_digest d;
    assert_int_equal(s3_digest_init(&d, algo), 0);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += split)
        s3_digest_update(&d, text + i, n - i < split ? n - i : split);
    s3_digest_final(&d, md5, sum);
}

static void test_checksum_check_values(void **state)
{
    (void)state;
    /* The standard check input "123456789": CRC-32 cbf43926, CRC-32C e3069283,
     * CRC-64/NVME ae8b14860a799888, as base64 of the big-endian bytes. */
    static const struct { enum s3_algo algo; const char *want; } cases[] = {
        {S3_CK_CRC32, "y/Q5Jg=="},
        {S3_CK_CRC32C, "4waSgw=="},
        {S3_CK_CRC64NVME, "rosUhgp5mIg="},
        {S3_CK_SHA1, "98O8HYCOBHMq32eZZczDTKeuNEE="},
        {S3_CK_SHA256, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t split = 1; split <= 10; split++) {
            char md5[33], sum[96];
            digest_of(cases[i].algo, "123456789", split, md5, sum);
            assert_string_equal(sum, cases[i].want);
            assert_string_equal(md5, "25f9e794323b453885f5181f1b624d0b");
        }
    }
}

static void test_checksum_long_input(void **state)
{
    (void)state;
    /* A long input exercises the eight-bytes-at-a-time loop; it must agree with one byte at a time. */
    char text[1000];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = (char)('a' + i % 26);
    text[sizeof text - 1] = '\0';
    for (enum s3_algo a = S3_CK_CRC32; a <= S3_CK_CRC64NVME; a++) {
        char md5a[33], md5b[33], suma[96], sumb[96];
        digest_of(a, text, 1, md5a, suma);
        digest_of(a, text, 997, md5b, sumb);
        assert_string_equal(suma, sumb);
        unsigned char raw[32];
        size_t len = s3_checksum_raw(a, text, strlen(text), raw);
        struct buf b;
        buf_init(&b, 100);
        base64_encode(&b, raw, len);
        assert_string_equal(b.data, suma);
        buf_free(&b);
    }
    /* Empty input: CRC32 of nothing is 0. */
    char md5[33], sum[96];
    digest_of(S3_CK_CRC32, "", 1, md5, sum);
    assert_string_equal(sum, "AAAAAA==");
    assert_string_equal(md5, "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_algo_names(void **state)
{
    (void)state;
    char h[40], m[40];
    assert_int_equal(s3_algo_parse("crc32c"), S3_CK_CRC32C);
    assert_int_equal(s3_algo_parse("SHA256"), S3_CK_SHA256);
    assert_int_equal(s3_algo_parse("md5"), S3_CK_NONE);
    assert_int_equal(s3_algo_parse(NULL), S3_CK_NONE);
    s3_algo_header(S3_CK_CRC64NVME, h, sizeof h);
    s3_algo_member(S3_CK_CRC64NVME, m, sizeof m);
    assert_string_equal(h, "x-amz-checksum-crc64nvme");
    assert_string_equal(m, "ChecksumCRC64NVME");
}

/* ---- aws-chunked ---- */

static int collect(void *ctx, const char *p, size_t n)
{
    return buf_append(ctx, p, n);
}

/* Decodes body split into pieces of at most split bytes; returns 0 if it decoded and ended
 * properly, with the payload in out. */
static int decode(const char *body, size_t split, struct buf *out, struct s3_chunked *d)
{
    s3_chunked_init(d);
    buf_reset(out);
    size_t n = strlen(body);
    for (size_t i = 0; i < n; i += split)
        if (s3_chunked_feed(d, body + i, n - i < split ? n - i : split, collect, out))
            return -1;
    return s3_chunked_complete(d) ? 0 : 1;
}

static void test_chunked_signed(void **state)
{
    (void)state;
    const char *body =
        "5;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\nhello\r\n"
        "6;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n world\r\n"
        "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n";
    struct buf out;
    struct s3_chunked d;
    buf_init(&out, 1 << 20);
    for (size_t split = 1; split <= strlen(body); split++) {
        assert_int_equal(decode(body, split, &out, &d), 0);
        assert_string_equal(out.data, "hello world");
    }
    buf_free(&out);
}

static void test_chunked_trailer(void **state)
{
    (void)state;
    /* What botocore's AwsChunkedWrapper writes: unsigned chunks, then the checksum trailer. */
    const char *body = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    struct buf out;
    struct s3_chunked d;
    buf_init(&out, 1 << 20);
    for (size_t split = 1; split <= strlen(body); split++) {
        assert_int_equal(decode(body, split, &out, &d), 0);
        assert_string_equal(out.data, "hello world");
        assert_string_equal(s3_chunked_trailer(&d, "x-amz-checksum-crc32"), "DUoRhQ==");
        assert_null(s3_chunked_trailer(&d, "x-amz-checksum-sha1"));
    }
    /* Trailer names are case-insensitive and spaces around the value are dropped. */
    assert_int_equal(decode("0\r\nX-Amz-Checksum-CRC32 :  AAAAAA== \r\n\r\n", 3, &out, &d), -1);
    assert_int_equal(decode("0\r\nX-Amz-Checksum-CRC32:  AAAAAA== \r\n\r\n", 3, &out, &d), 0);
    assert_string_equal(s3_chunked_trailer(&d, "x-amz-checksum-crc32"), "AAAAAA==");
    buf_free(&out);
}

static void test_chunked_malformed(void **state)
{
    (void)state;
    struct buf out;
    struct s3_chunked d;
    buf_init(&out, 1 << 20);
    static const char *const bad[] = {
        "zz\r\nhello\r\n0\r\n\r\n",          /* not hex */
        "5\nhello\r\n0\r\n\r\n",             /* bare LF */
        "5\r\nhelloX\r\n0\r\n\r\n",          /* payload longer than announced */
        "11111111111111111\r\n",             /* more than 64 bits */
        "0\r\n\r\nextra",                    /* bytes after the end */
        "0\r\nno-colon\r\n\r\n",             /* trailer without a colon */
        ";x\r\n",                            /* no size */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(decode(bad[i], 1, &out, &d), -1);
    /* Cut short: decodes so far, but is not complete. */
    assert_int_equal(decode("5\r\nhel", 2, &out, &d), 1);
    assert_int_equal(decode("5\r\nhello\r\n", 2, &out, &d), 1);
    /* A header line longer than the decoder keeps. */
    char longline[2000];
    memset(longline, 'a', sizeof longline - 1);
    longline[0] = '1';
    longline[1] = ';';
    longline[sizeof longline - 1] = '\0';
    assert_int_equal(decode(longline, 7, &out, &d), -1);
    buf_free(&out);
}

/* ---- Routing ---- */

static const char *route_op(const char *method, const char *host, const char *uri, int copy)
{
    static char op[80];
    struct s3_route r;
    int rc = s3_route(method, host, uri, copy, &r);
    snprintf(op, sizeof op, "%s", rc == 0 ? r.op : dss_error_info(r.err)->code);
    s3_route_free(&r);
    return op;
}

static void test_route_operations(void **state)
{
    (void)state;
    const char *h = "127.0.0.1:4566";
    static const char *const cases[][4] = {
        {"GET", "/", "", "ListBuckets"},
        {"PUT", "/b", "", "CreateBucket"},
        {"PUT", "/b/", "", "CreateBucket"},
        {"HEAD", "/b", "", "HeadBucket"},
        {"DELETE", "/b", "", "DeleteBucket"},
        {"GET", "/b", "", "ListObjects"},
        {"GET", "/b?list-type=2&prefix=x", "", "ListObjectsV2"},
        {"GET", "/b?location", "", "GetBucketLocation"},
        {"GET", "/b?notification", "", "GetBucketNotificationConfiguration"},
        {"PUT", "/b?notification", "", "PutBucketNotificationConfiguration"},
        {"PUT", "/b?tagging", "", "PutBucketTagging"},
        {"GET", "/b?tagging", "", "GetBucketTagging"},
        {"DELETE", "/b?tagging", "", "DeleteBucketTagging"},
        {"GET", "/b?uploads", "", "ListMultipartUploads"},
        {"POST", "/b?delete", "", "DeleteObjects"},
        {"PUT", "/b/k", "", "PutObject"},
        {"PUT", "/b/k", "c", "CopyObject"},
        {"PUT", "/b/k?partNumber=1&uploadId=u", "", "UploadPart"},
        {"PUT", "/b/k?partNumber=1&uploadId=u", "c", "UploadPartCopy"},
        {"GET", "/b/k", "", "GetObject"},
        {"GET", "/b/k?uploadId=u", "", "ListParts"},
        {"HEAD", "/b/k", "", "HeadObject"},
        {"DELETE", "/b/k", "", "DeleteObject"},
        {"DELETE", "/b/k?uploadId=u", "", "AbortMultipartUpload"},
        {"POST", "/b/k?uploads", "", "CreateMultipartUpload"},
        {"POST", "/b/k?uploadId=u", "", "CompleteMultipartUpload"},
        {"GET", "/b/k?x-id=GetObject", "", "GetObject"},
        {"GET", "/b?acl", "", "NotImplemented"},
        {"PUT", "/b?versioning", "", "NotImplemented"},
        {"GET", "/b/k?tagging", "", "NotImplemented"},
        {"POST", "/b/k", "", "NotImplemented"},
        {"PATCH", "/b/k", "", "MethodNotAllowed"},
        {"PUT", "/", "", "MethodNotAllowed"},
        {"GET", "nopath", "", "InvalidURI"},
        {"GET", "/b/%zz", "", "InvalidURI"},
        {"GET", "/b/a%00b", "", "InvalidURI"},
        {"GET", "/b/%C3%28", "", "InvalidURI"},   /* not UTF-8 */
        {"GET", "/b?a=%zz", "", "InvalidURI"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(route_op(cases[i][0], h, cases[i][1], cases[i][2][0] != '\0'), cases[i][3]);
}

static void route_names(const char *host, const char *uri, const char *bucket, const char *key)
{
    struct s3_route r;
    assert_int_equal(s3_route("GET", host, uri, 0, &r), 0);
    if (bucket)
        assert_string_equal(r.bucket, bucket);
    else
        assert_null(r.bucket);
    if (key)
        assert_string_equal(r.key, key);
    else
        assert_null(r.key);
    s3_route_free(&r);
}

static void test_route_addressing(void **state)
{
    (void)state;
    route_names("127.0.0.1:4566", "/", NULL, NULL);
    route_names("localhost:4566", "/b/k", "b", "k");
    route_names("s3.amazonaws.com", "/b/k", "b", "k");
    route_names("s3.us-east-1.amazonaws.com", "/b/a/b/c", "b", "a/b/c");
    route_names("b.localhost:4566", "/", "b", NULL);
    route_names("b.localhost:4566", "/k/x", "b", "k/x");
    route_names("my.dotted.bucket.localhost", "/k", "my.dotted.bucket", "k");
    route_names("b.s3.localhost.localstack.cloud:4566", "/k", "b", "k");
    route_names("B.S3.us-west-2.amazonaws.com", "/k", "b", "k");
    route_names("b.s3-us-west-2.amazonaws.com", "/k", "b", "k");
    route_names("example.com", "/b/k", "b", "k");
    route_names(NULL, "/b/k", "b", "k");
    /* Keys are decoded exactly once, with '+' kept, and never normalised. */
    route_names("h", "/b/a%2Bb+c%20d", "b", "a+b+c d");
    route_names("h", "/b/../../etc/passwd", "b", "../../etc/passwd");
    route_names("h", "/b/a/./b", "b", "a/./b");
    route_names("h", "/b/%2500", "b", "%00");
    route_names("h", "/b//leading", "b", "/leading");
    route_names("h", "/b/%E2%82%AC%F0%9F%98%80", "b", "\xE2\x82\xAC\xF0\x9F\x98\x80");
    /* Query strings are form-decoded. */
    struct s3_route r;
    assert_int_equal(s3_route("GET", "h", "/b?prefix=a+b%2Bc&delimiter=%2F&list-type=2", 0, &r), 0);
    assert_string_equal(s3_query(&r, "prefix"), "a b+c");
    assert_string_equal(s3_query(&r, "delimiter"), "/");
    assert_null(s3_query(&r, "marker"));
    s3_route_free(&r);
}

static void test_route_key_length(void **state)
{
    (void)state;
    char uri[4000];
    strcpy(uri, "/b/");
    memset(uri + 3, 'k', 1024);
    uri[3 + 1024] = '\0';
    assert_string_equal(route_op("PUT", "h", uri, 0), "PutObject");
    strcat(uri, "k");
    assert_string_equal(route_op("PUT", "h", uri, 0), "KeyTooLongError");
    /* 1024 bytes of three-byte characters, percent-encoded, is the most a key may be... */
    strcpy(uri, "/b/");
    for (int i = 0; i < 341; i++)
        strcat(uri, "%E2%82%AC");
    assert_string_equal(route_op("PUT", "h", uri, 0), "PutObject");
    strcat(uri, "%E2%82%AC");
    assert_string_equal(route_op("PUT", "h", uri, 0), "KeyTooLongError");
}

static void test_bucket_names(void **state)
{
    (void)state;
    static const char *const good[] = {"abc", "my-bucket.1", "a.b-c", "0123456789012345678901234567890123456789012345678901234567890ab", NULL};
    static const char *const bad[] = {"ab", "ABC", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--ab",
                                      "ab-s3alias", "abc--ol-s3", "01234567890123456789012345678901234567890123456789012345678901234",
                                      "a b", "", NULL};
    for (int i = 0; good[i]; i++)
        assert_true(s3_bucket_name_valid(good[i]));
    for (int i = 0; bad[i]; i++)
        assert_false(s3_bucket_name_valid(bad[i]));
}

static void test_url_encoding(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1000);
    s3_url_encode(&b, "dir/my file+x (1)~\xE2\x82\xAC.sh");
    assert_string_equal(b.data, "dir/my+file%2Bx+%281%29%7E%E2%82%AC.sh");
    buf_free(&b);
}

/* ---- The model-driven XML ---- */

static cJSON *parse_payload(const char *op, const char *xml, struct buf *err)
{
    const cJSON *ref = restxml_payload_ref(s3_model(), op, 0);
    assert_non_null(ref);
    buf_reset(err);
    return restxml_parse(s3_model(), ref, xml, strlen(xml), err);
}

static void test_xml_delete(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 4096);
    cJSON *v = parse_payload("DeleteObjects",
                             "<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                             "<Object><Key> a b </Key></Object><Object><Key>&lt;x&amp;y&gt;</Key><VersionId>v</VersionId>"
                             "</Object><Quiet>true</Quiet><Unknown>ignored</Unknown></Delete>", &err);
    assert_non_null(v);
    cJSON *objects = cJSON_GetObjectItemCaseSensitive(v, "Objects");
    assert_int_equal(cJSON_GetArraySize(objects), 2);
    assert_string_equal(dss_param_str(cJSON_GetArrayItem(objects, 0), "Key"), " a b ");
    assert_string_equal(dss_param_str(cJSON_GetArrayItem(objects, 1), "Key"), "<x&y>");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "Quiet")));
    cJSON_Delete(v);
    buf_free(&err);
}

static void test_xml_notification(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 4096);
    cJSON *v = parse_payload("PutBucketNotificationConfiguration",
                             "<NotificationConfiguration><QueueConfiguration><Id>one</Id>"
                             "<Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue>"
                             "<Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
                             "<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.sh</Value></FilterRule>"
                             "</S3Key></Filter></QueueConfiguration></NotificationConfiguration>", &err);
    assert_non_null(v);
    cJSON *q = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(v, "QueueConfigurations"), 0);
    assert_string_equal(dss_param_str(q, "QueueArn"), "arn:aws:sqs:us-east-1:000000000000:q");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(q, "Events")), 2);
    cJSON *rule = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(q, "Filter"), "Key"), "FilterRules"), 0);
    assert_string_equal(dss_param_str(rule, "Value"), ".sh");
    cJSON_Delete(v);
    buf_free(&err);
}

static void test_xml_complete_and_errors(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 4096);
    cJSON *v = parse_payload("CompleteMultipartUpload",
                             "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e1\"</ETag></Part>"
                             "<Part><PartNumber>2</PartNumber><ETag>e2</ETag></Part></CompleteMultipartUpload>", &err);
    assert_non_null(v);
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(v, "Parts");
    assert_int_equal(cJSON_GetArraySize(parts), 2);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(parts, 1), "PartNumber")), 2);
    cJSON_Delete(v);
    /* Wrong types, wrong root, not XML, a DOCTYPE (entities), too deep. */
    assert_null(parse_payload("CompleteMultipartUpload", "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber>"
                                                         "</Part></CompleteMultipartUpload>", &err));
    assert_null(parse_payload("DeleteObjects", "<Other/>", &err));
    assert_null(parse_payload("DeleteObjects", "<Delete><Object>", &err));
    assert_null(parse_payload("DeleteObjects", "", &err));
    assert_null(parse_payload("DeleteObjects", "<!DOCTYPE d [<!ENTITY a \"aaaa\">]><Delete><Object><Key>&a;</Key>"
                                               "</Object></Delete>", &err));
    char deep[2000] = "<Delete>";
    for (int i = 0; i < 100; i++)
        strcat(deep, "<a>");
    assert_null(parse_payload("DeleteObjects", deep, &err));
    buf_free(&err);
}

static void test_xml_writer(void **state)
{
    (void)state;
    cJSON *r = cJSON_Parse("{\"Name\":\"b\",\"Prefix\":\"\",\"KeyCount\":2,\"IsTruncated\":false,"
                           "\"Contents\":[{\"Key\":\"a&b\",\"Size\":3,\"LastModified\":1.5,\"ETag\":\"\\\"x\\\"\"},"
                           "{\"Key\":\"c\",\"Size\":0,\"LastModified\":0}],"
                           "\"CommonPrefixes\":[{\"Prefix\":\"d/\"}],\"_Remove\":[\"zz\"]}");
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(restxml_body(s3_model(), "ListObjectsV2", r, "ListBucketResult", &out), 0);
    assert_non_null(strstr(out.data, "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
    assert_non_null(strstr(out.data, "<Contents><Key>a&amp;b</Key><LastModified>1970-01-01T00:00:01.500Z"
                                     "</LastModified><ETag>&quot;x&quot;</ETag><Size>3</Size></Contents>"));
    assert_non_null(strstr(out.data, "<CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes>"));
    assert_non_null(strstr(out.data, "<KeyCount>2</KeyCount>"));
    assert_non_null(strstr(out.data, "<IsTruncated>false</IsTruncated>"));
    assert_null(strstr(out.data, "zz"));
    cJSON_Delete(r);
    buf_free(&out);
}

struct hdrs {
    char text[4096];
};

static void add_hdr(void *ctx, const char *name, const char *value)
{
    struct hdrs *h = ctx;
    size_t n = strlen(h->text);
    snprintf(h->text + n, sizeof h->text - n, "%s: %s\n", name, value);
}

static void test_headers_out(void **state)
{
    (void)state;
    cJSON *r = cJSON_Parse("{\"ETag\":\"\\\"e\\\"\",\"ContentLength\":5,\"LastModified\":0,"
                           "\"Metadata\":{\"color\":\"blue\"},\"ChecksumCRC32\":\"AAAAAA==\",\"Body\":{}}");
    struct hdrs h = {""};
    restxml_headers(s3_model(), "GetObject", r, add_hdr, &h);
    assert_non_null(strstr(h.text, "ETag: \"e\"\n"));
    assert_non_null(strstr(h.text, "Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT\n"));
    assert_non_null(strstr(h.text, "x-amz-meta-color: blue\n"));
    assert_non_null(strstr(h.text, "x-amz-checksum-crc32: AAAAAA==\n"));
    assert_null(strstr(h.text, "Content-Length")); /* the server's to write */
    cJSON_Delete(r);
}

static void test_params_in(void **state)
{
    (void)state;
    struct s3_route r;
    assert_int_equal(s3_route("GET", "h", "/b/k%20x?partNumber=3&response-content-type=text/plain", 0, &r), 0);
    struct dss_kv headers[] = {
        {"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", 29},
        {"X-Amz-Meta-Color", "blue", 4},
        {"Range", "bytes=0-1", 9},
        {"If-Unmodified-Since", "not a date", 10},
    };
    struct buf err;
    buf_init(&err, 1024);
    cJSON *p = NULL;
    assert_int_equal(restxml_params(s3_model(), "GetObject", &r, headers, 4, NULL, 0, &p, &err), 0);
    assert_string_equal(dss_param_str(p, "Bucket"), "b");
    assert_string_equal(dss_param_str(p, "Key"), "k x");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "PartNumber")), 3);
    assert_int_equal((long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "IfModifiedSince")), 784111777L);
    assert_null(cJSON_GetObjectItemCaseSensitive(p, "IfUnmodifiedSince")); /* unreadable: ignored, as S3 does */
    assert_string_equal(dss_param_str(p, "Range"), "bytes=0-1");
    assert_string_equal(dss_param_str(p, "ResponseContentType"), "text/plain");
    cJSON_Delete(p);
    s3_route_free(&r);
    /* A number that is not one. */
    assert_int_equal(s3_route("GET", "h", "/b?list-type=2&max-keys=ten", 0, &r), 0);
    assert_int_equal(restxml_params(s3_model(), "ListObjectsV2", &r, NULL, 0, NULL, 0, &p, &err), DSS_E_InvalidArgument);
    assert_null(p);
    s3_route_free(&r);
    /* PutObject's metadata map. */
    assert_int_equal(s3_route("PUT", "h", "/b/k", 0, &r), 0);
    assert_int_equal(restxml_params(s3_model(), "PutObject", &r, headers, 4, NULL, 0, &p, &err), 0);
    assert_string_equal(dss_param_str(cJSON_GetObjectItemCaseSensitive(p, "Metadata"), "color"), "blue");
    cJSON_Delete(p);
    s3_route_free(&r);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_check_values),
        cmocka_unit_test(test_checksum_long_input),
        cmocka_unit_test(test_algo_names),
        cmocka_unit_test(test_chunked_signed),
        cmocka_unit_test(test_chunked_trailer),
        cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_route_operations),
        cmocka_unit_test(test_route_addressing),
        cmocka_unit_test(test_route_key_length),
        cmocka_unit_test(test_bucket_names),
        cmocka_unit_test(test_url_encoding),
        cmocka_unit_test(test_xml_delete),
        cmocka_unit_test(test_xml_notification),
        cmocka_unit_test(test_xml_complete_and_errors),
        cmocka_unit_test(test_xml_writer),
        cmocka_unit_test(test_headers_out),
        cmocka_unit_test(test_params_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
