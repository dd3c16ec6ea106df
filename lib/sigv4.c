/* sigv4.c -- AWS Signature Version 4 (see sigv4.h for the split into steps).
 *
 * Canonicalisation rules, as the official test suite exercises them:
 *  - path: with normalize_path, "." and ".." segments and empty segments are removed (a trailing
 *    slash is kept); every byte but RFC 3986 unreserved ones and '/' is percent-encoded;
 *  - query: each "k=v" pair is percent-decoded then re-encoded strictly, pairs sorted by key then
 *    value; a pair without '=' has an empty value;
 *  - headers: names lower-cased and sorted; values trimmed, line folds and runs of whitespace
 *    collapsed to one space; repeated names joined with ',' in the order given.
 */
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Appends path segments [seg, seg+n) encoded. */
static int encode_segment(struct buf *out, const char *seg, size_t n)
{
    return url_encode(out, seg, n, 0);
}

static int canonical_path(struct buf *out, const char *path, int normalize)
{
    if (!path || !*path)
        return buf_puts(out, "/");
    if (!normalize)
        return url_encode(out, path, strlen(path), 1);
    /* Collect the surviving segments as (start, len) pairs. */
    size_t plen = strlen(path), nseg = 0;
    struct { const char *p; size_t n; } *segs = malloc((plen + 1) * sizeof *segs);
    if (!segs)
        return -1;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 1 && s[0] == '.') {
            /* pointless */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (nseg)
                nseg--;
        } else {
            segs[nseg].p = s;
            segs[nseg].n = n;
            nseg++;
        }
        s += n;
    }
    int rc = 0;
    for (size_t i = 0; i < nseg && !rc; i++)
        rc = buf_puts(out, "/") || encode_segment(out, segs[i].p, segs[i].n);
    /* A trailing slash survives unless the path ended on a dot segment that emptied it. */
    int trailing = plen > 0 && path[plen - 1] == '/';
    if (!rc && (nseg == 0 || trailing))
        rc = buf_puts(out, "/");
    free(segs);
    return rc ? -1 : 0;
}

struct qpair {
    char *k, *v; /* encoded */
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

/* Decodes [s, s+n) then re-encodes it strictly; returns a malloc'd string or NULL. */
static char *reencode(const char *s, size_t n)
{
    char *dec = malloc(n + 1);
    if (!dec)
        return NULL;
    long dn = url_decode(s, n, dec, 0);
    if (dn < 0) {
        free(dec);
        return NULL;
    }
    struct buf b;
    buf_init(&b, 3 * (size_t)dn + 1);
    int rc = url_encode(&b, dec, (size_t)dn, 0);
    free(dec);
    if (rc) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static int canonical_query(struct buf *out, const char *query)
{
    if (!query || !*query)
        return 0;
    size_t cap = 1;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    struct qpair *pairs = calloc(cap, sizeof *pairs);
    if (!pairs)
        return -1;
    size_t n = 0;
    int rc = 0;
    const char *s = query;
    while (*s && !rc) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len) {
            const char *eq = memchr(s, '=', len);
            size_t kl = eq ? (size_t)(eq - s) : len;
            pairs[n].k = reencode(s, kl);
            pairs[n].v = eq ? reencode(eq + 1, len - kl - 1) : strdup("");
            if (!pairs[n].k || !pairs[n].v)
                rc = -1;
            n++;
        }
        s += len + (amp ? 1 : 0);
    }
    if (!rc) {
        qsort(pairs, n, sizeof *pairs, qpair_cmp);
        for (size_t i = 0; i < n && !rc; i++)
            rc = buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].k, pairs[i].v);
    }
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].k);
        free(pairs[i].v);
    }
    free(pairs);
    return rc ? -1 : 0;
}

/* Appends a header value trimmed, with every run of whitespace (incl. line folds) as one space. */
static int canonical_value(struct buf *out, const char *v)
{
    int pending_space = 0, any = 0;
    for (; *v; v++) {
        if (isspace((unsigned char)*v)) {
            pending_space = any;
            continue;
        }
        if (pending_space && buf_puts(out, " "))
            return -1;
        pending_space = 0;
        any = 1;
        if (buf_append(out, v, 1))
            return -1;
    }
    return 0;
}

struct hdr {
    char *lname;
    const char *value;
    size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->lname, y->lname);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out, struct buf *signed_headers)
{
    int rc = -1;
    struct hdr *h = calloc(r->nheaders ? r->nheaders : 1, sizeof *h);
    if (!h)
        return -1;
    for (size_t i = 0; i < r->nheaders; i++) {
        h[i].lname = strdup(r->headers[i].name);
        if (!h[i].lname)
            goto out;
        for (char *p = h[i].lname; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        h[i].value = r->headers[i].value;
        h[i].order = i;
    }
    qsort(h, r->nheaders, sizeof *h, hdr_cmp);

    if (buf_printf(out, "%s\n", r->method) || canonical_path(out, r->path, r->normalize_path) ||
        buf_puts(out, "\n") || canonical_query(out, r->query) || buf_puts(out, "\n"))
        goto out;
    for (size_t i = 0; i < r->nheaders; i++) {
        int first = i == 0 || strcmp(h[i].lname, h[i - 1].lname) != 0;
        int last = i + 1 == r->nheaders || strcmp(h[i].lname, h[i + 1].lname) != 0;
        if (first && buf_printf(out, "%s:", h[i].lname))
            goto out;
        if (!first && buf_puts(out, ","))
            goto out;
        if (canonical_value(out, h[i].value) || (last && buf_puts(out, "\n")))
            goto out;
    }
    if (buf_puts(out, "\n"))
        goto out;
    struct buf names;
    buf_init(&names, out->max);
    for (size_t i = 0; i < r->nheaders; i++) {
        if (i && strcmp(h[i].lname, h[i - 1].lname) == 0)
            continue;
        if (buf_printf(&names, "%s%s", names.len ? ";" : "", h[i].lname)) {
            buf_free(&names);
            goto out;
        }
    }
    rc = buf_printf(out, "%s\n%s", names.data ? names.data : "", r->payload_hash);
    if (!rc && signed_headers)
        rc = buf_puts(signed_headers, names.data ? names.data : "");
    buf_free(&names);
out:
    for (size_t i = 0; i < r->nheaders; i++)
        free(h[i].lname);
    free(h);
    return rc ? -1 : 0;
}

int sigv4_scope(struct buf *out, const char *amz_date, const char *region, const char *service)
{
    return buf_printf(out, "%.8s/%s/%s/aws4_request", amz_date, region, service);
}

int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope, const char *canonical_request)
{
    char hash[65];
    sha256_hex(canonical_request, strlen(canonical_request), hash);
    return buf_printf(out, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hash);
}

static void hmac(const unsigned char *key, size_t keylen, const char *data, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, n, out, &len);
}

void sigv4_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                       unsigned char key[32])
{
    size_t sl = strlen(secret);
    unsigned char *k0 = malloc(sl + 5);
    unsigned char a[32], b[32];
    if (!k0) {
        memset(key, 0, 32);
        return;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, sl);
    hmac(k0, sl + 4, amz_date, strnlen(amz_date, 8), a);
    free(k0);
    hmac(a, 32, region, strlen(region), b);
    hmac(b, 32, service, strlen(service), a);
    hmac(a, 32, "aws4_request", 12, key);
}

void sigv4_signature(const unsigned char key[32], const char *string_to_sign, char out[65])
{
    unsigned char mac[32];
    hmac(key, 32, string_to_sign, strlen(string_to_sign), mac);
    hex_encode(mac, 32, out);
}

int sigv4_authorization(struct buf *out, const struct sigv4_request *r, const char *access_key,
                        const char *secret_key, const char *region, const char *service,
                        const char *amz_date)
{
    struct buf creq, names, scope, sts;
    buf_init(&creq, 1 << 20);
    buf_init(&names, 1 << 16);
    buf_init(&scope, 512);
    buf_init(&sts, 1024);
    int rc = -1;
    if (sigv4_canonical_request(r, &creq, &names) || sigv4_scope(&scope, amz_date, region, service) ||
        sigv4_string_to_sign(&sts, amz_date, scope.data, creq.data))
        goto out;
    unsigned char key[32];
    char sig[65];
    sigv4_signing_key(secret_key, amz_date, region, service, key);
    sigv4_signature(key, sts.data, sig);
    rc = buf_printf(out, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", access_key,
                    scope.data, names.data ? names.data : "", sig);
out:
    buf_free(&creq);
    buf_free(&names);
    buf_free(&scope);
    buf_free(&sts);
    return rc ? -1 : 0;
}

void sigv4_amz_date(long long epoch_ms, char out[17])
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
