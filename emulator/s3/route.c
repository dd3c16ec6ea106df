/* route.c -- which S3 operation a request names: method, Host header and request target in;
 * operation name, bucket, key and query parameters out.
 *
 * Addressing: virtual-hosted style when the Host header names a bucket ("b.localhost:4566",
 * "b.s3.localhost.localstack.cloud", "b.s3.us-east-1.amazonaws.com"), else path style
 * ("/b/k"). Keys are percent-decoded from the target exactly as sent (never '+' as space, no
 * dot-segment removal): "../x" and "a/./b" are keys like any other. Query strings are
 * form-decoded as S3 does.
 *
 * The operation comes from the method, whether there is a bucket and a key, and the
 * sub-resource in the query ("?uploads", "?tagging", "uploadId=", ...); the table below is
 * the routing part of the model's requestUri strings. Sub-resources the emulator does not
 * serve answer NotImplemented rather than being mistaken for a plain GET or PUT.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"
#include "util.h"

#define QUERY_PAIRS_MAX 200

enum level { SERVICE, BUCKET, OBJECT };

/* One way to reach an operation: first match wins, so specific rows come first. */
static const struct rule {
    const char *method;
    const char *param;  /* a query parameter that must be present, NULL: none needed */
    const char *op;
    enum level level;
    int copy;           /* 1: x-amz-copy-source must be sent, 0: must not, -1: either */
} rules[] = {
    {"GET", NULL, "ListBuckets", SERVICE, -1},
    {"GET", "location", "GetBucketLocation", BUCKET, -1},
    {"GET", "notification", "GetBucketNotificationConfiguration", BUCKET, -1},
    {"GET", "tagging", "GetBucketTagging", BUCKET, -1},
    {"GET", "uploads", "ListMultipartUploads", BUCKET, -1},
    {"GET", "list-type", "ListObjectsV2", BUCKET, -1},
    {"GET", NULL, "ListObjects", BUCKET, -1},
    {"PUT", "notification", "PutBucketNotificationConfiguration", BUCKET, -1},
    {"PUT", "tagging", "PutBucketTagging", BUCKET, -1},
    {"PUT", NULL, "CreateBucket", BUCKET, -1},
    {"DELETE", "tagging", "DeleteBucketTagging", BUCKET, -1},
    {"DELETE", NULL, "DeleteBucket", BUCKET, -1},
    {"HEAD", NULL, "HeadBucket", BUCKET, -1},
    {"POST", "delete", "DeleteObjects", BUCKET, -1},
    {"PUT", "uploadId", "UploadPartCopy", OBJECT, 1},
    {"PUT", "uploadId", "UploadPart", OBJECT, 0},
    {"PUT", NULL, "CopyObject", OBJECT, 1},
    {"PUT", NULL, "PutObject", OBJECT, 0},
    {"GET", "uploadId", "ListParts", OBJECT, -1},
    {"GET", NULL, "GetObject", OBJECT, -1},
    {"HEAD", NULL, "HeadObject", OBJECT, -1},
    {"DELETE", "uploadId", "AbortMultipartUpload", OBJECT, -1},
    {"DELETE", NULL, "DeleteObject", OBJECT, -1},
    {"POST", "uploads", "CreateMultipartUpload", OBJECT, -1},
    {"POST", "uploadId", "CompleteMultipartUpload", OBJECT, -1},
};

/* Sub-resources of real S3 that this emulator does not serve. */
static const char *const unserved[] = {
    "accelerate", "acl", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "logging", "metadataTable", "metrics", "object-lock",
    "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore", "retention", "select", "session", "torrent", "versioning",
    "versions", "website", NULL,
};

int s3_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (c == 0 || len == 0 || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        static const uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* S3's rules for new buckets: 3-63 of [a-z0-9.-], starting and ending with a letter or digit,
 * no "..", not an IP address, none of the reserved prefixes and suffixes. */
int s3_bucket_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 63 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
        return 0;
    if (!isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]) || strstr(name, ".."))
        return 0;
    if (strspn(name, "0123456789.") == n)
        return 0; /* looks like an IP address */
    static const char *const bad_prefix[] = {"xn--", "sthree-", "amzn-s3-demo-", NULL};
    static const char *const bad_suffix[] = {"-s3alias", "--ol-s3", "--x-s3", ".mrap", NULL};
    for (int i = 0; bad_prefix[i]; i++)
        if (strncmp(name, bad_prefix[i], strlen(bad_prefix[i])) == 0)
            return 0;
    for (int i = 0; bad_suffix[i]; i++) {
        size_t k = strlen(bad_suffix[i]);
        if (n > k && strcmp(name + n - k, bad_suffix[i]) == 0)
            return 0;
    }
    return 1;
}

/* The bucket a virtual-hosted Host header names, or NULL for path style. */
static char *host_bucket(const char *host)
{
    if (!host || host[0] == '[')
        return NULL; /* no Host, or an IPv6 literal */
    size_t n = strcspn(host, ":");
    char h[256];
    if (n == 0 || n >= sizeof h)
        return NULL;
    for (size_t i = 0; i < n; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    h[n] = '\0';
    if (strspn(h, "0123456789.") == n || strcmp(h, "localhost") == 0 || strncmp(h, "s3.", 3) == 0 ||
        strncmp(h, "s3-", 3) == 0)
        return NULL;
    const char *s3 = strstr(h, ".s3.");
    if (!s3)
        s3 = strstr(h, ".s3-");
    if (s3)
        return strndup(h, (size_t)(s3 - h));
    if (n > 10 && strcmp(h + n - 10, ".localhost") == 0)
        return strndup(h, n - 10);
    return NULL;
}

/* Percent-decodes n bytes into a new string; NULL if malformed, NUL inside or not UTF-8. */
static char *decode_path_part(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    long len = url_decode(s, n, out, 0);
    if (len < 0 || !s3_utf8_valid(out, (size_t)len)) {
        free(out);
        return NULL;
    }
    return out;
}

static int fail(struct s3_route *r, enum dss_error err, const char *msg)
{
    r->op = NULL;
    r->err = err;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    return -1;
}

const char *s3_query(const struct s3_route *r, const char *name)
{
    return form_get(r->query, r->n_query, name);
}

/* Splits the target into bucket, key and query. */
static int parse_target(const char *host, const char *uri, struct s3_route *r)
{
    if (uri[0] != '/')
        return fail(r, DSS_E_InvalidURI, "Couldn't parse the specified URI.");
    size_t path_len = strcspn(uri, "?");
    if (uri[path_len] == '?') {
        const char *q = uri + path_len + 1;
        if (form_parse(q, strlen(q), &r->query, &r->n_query, QUERY_PAIRS_MAX))
            return fail(r, DSS_E_InvalidURI, "Couldn't parse the specified URI.");
        for (size_t i = 0; i < r->n_query; i++)
            if (strlen(r->query[i].value) != r->query[i].value_len)
                return fail(r, DSS_E_InvalidURI, "Couldn't parse the specified URI.");
    }
    const char *path = uri + 1;
    path_len--;
    r->bucket = host_bucket(host);
    if (!r->bucket && path_len > 0) { /* path style: the first segment is the bucket */
        size_t seg = strcspn(path, "/?");
        if (!(r->bucket = decode_path_part(path, seg)))
            return fail(r, DSS_E_InvalidURI, "Couldn't parse the specified URI.");
        path += seg;
        path_len -= seg;
        if (path_len > 0) { /* the '/' after the bucket */
            path++;
            path_len--;
        }
    }
    if (r->bucket && path_len > 0) {
        if (!(r->key = decode_path_part(path, path_len)))
            return fail(r, DSS_E_InvalidURI, "Couldn't parse the specified URI.");
        if (strlen(r->key) > S3_MAX_KEY)
            return fail(r, DSS_E_KeyTooLongError, "Your key is too long");
    }
    if (r->bucket && r->bucket[0] == '\0')
        return fail(r, DSS_E_InvalidBucketName, "The specified bucket is not valid.");
    return 0;
}

int s3_route(const char *method, const char *host, const char *uri, int copy_source, struct s3_route *r)
{
    memset(r, 0, sizeof *r);
    if (parse_target(host, uri, r))
        return -1;
    enum level level = !r->bucket ? SERVICE : !r->key ? BUCKET : OBJECT;
    for (int i = 0; unserved[i]; i++)
        if (s3_query(r, unserved[i]) && level != SERVICE)
            return fail(r, DSS_E_S3NotImplemented,
                        "A header or query you provided implies functionality that is not implemented.");
    if (level == OBJECT && s3_query(r, "tagging"))
        return fail(r, DSS_E_S3NotImplemented,
                    "A header or query you provided implies functionality that is not implemented.");
    int known_method = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const struct rule *k = &rules[i];
        if (strcmp(k->method, method) != 0)
            continue;
        known_method = 1;
        if (k->level != level || (k->param && !s3_query(r, k->param)) || (k->copy >= 0 && k->copy != !!copy_source))
            continue;
        r->op = k->op;
        return 0;
    }
    if (known_method && strcmp(method, "POST") == 0)
        return fail(r, DSS_E_S3NotImplemented,
                    "A header or query you provided implies functionality that is not implemented.");
    return fail(r, DSS_E_MethodNotAllowed, "The specified method is not allowed against this resource.");
}

void s3_route_free(struct s3_route *r)
{
    free(r->bucket);
    free(r->key);
    form_free(r->query, r->n_query);
    memset(r, 0, sizeof *r);
}
