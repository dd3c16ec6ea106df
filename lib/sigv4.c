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

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* 0, or -1 (out of memory: key is zeroes) */
static int derive_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                              unsigned char key[32])
{
    size_t sl = strlen(secret);
    char *k0 = malloc(sl + 5);
    unsigned char a[32], b[32];
    if (!k0) {
        memset(key, 0, 32);
        return -1;
    }
    snprintf(k0, sl + 5, "AWS4%s", secret);
    hmac((const unsigned char *)k0, sl + 4, amz_date, strnlen(amz_date, 8), a);
    free(k0);
    hmac(a, 32, region, strlen(region), b);
    hmac(b, 32, service, strlen(service), a);
    hmac(a, 32, "aws4_request", 12, key);
    return 0;
}

/* Signing keys derived lately, per thread. A key is good for a whole day of one secret, region
 * and service, and a client signs every request with one of a handful of them (the scheduler:
 * one per service it calls), but deriving one is four HMACs -- 13-18 us here, four times the
 * signature itself. Entries are replaced round robin; the secret is compared, not hashed, as
 * the caller holds it in memory anyway. */
#define KEY_CACHE_SLOTS 8

struct key_cache_entry {
    char secret[128], date[9], region[64], service[64];
    unsigned char key[32];
};

static __thread struct key_cache_entry key_cache[KEY_CACHE_SLOTS];
static __thread unsigned key_cache_next;

static int key_cache_matches(const struct key_cache_entry *e, const char *secret, const char *date,
                             const char *region, const char *service)
{
    return e->date[0] && strcmp(e->date, date) == 0 && strcmp(e->service, service) == 0 &&
           strcmp(e->region, region) == 0 && strcmp(e->secret, secret) == 0;
}

void sigv4_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                       unsigned char key[32])
{
    char date[9];
    snprintf(date, sizeof date, "%.8s", amz_date);
    for (int i = 0; i < KEY_CACHE_SLOTS; i++) {
        if (key_cache_matches(&key_cache[i], secret, date, region, service)) {
            memcpy(key, key_cache[i].key, 32);
            return;
        }
    }
    if (derive_signing_key(secret, amz_date, region, service, key))
        return;
    struct key_cache_entry *e = &key_cache[key_cache_next++ % KEY_CACHE_SLOTS];
    if (strlen(date) != 8 || strlen(secret) >= sizeof e->secret || strlen(region) >= sizeof e->region ||
        strlen(service) >= sizeof e->service)
        return; /* too long to keep (or a malformed date): derived every time */
    snprintf(e->secret, sizeof e->secret, "%s", secret);
    snprintf(e->region, sizeof e->region, "%s", region);
    snprintf(e->service, sizeof e->service, "%s", service);
    memcpy(e->key, key, 32);
    memcpy(e->date, date, sizeof date);
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

static int add_param(struct buf *out, const char *k, const char *v)
{
    if (buf_printf(out, "%s%s=", out->len ? "&" : "", k))
        return -1;
    return url_encode(out, v, strlen(v), 0);
}

int sigv4_presign_params(struct buf *out, const char *access_key, const char *scope, const char *amz_date,
                         long expires_s, const char *signed_headers, const char *token)
{
    char cred[512], exp[32];
    snprintf(cred, sizeof cred, "%s/%s", access_key, scope);
    snprintf(exp, sizeof exp, "%ld", expires_s);
    if (add_param(out, "X-Amz-Algorithm", "AWS4-HMAC-SHA256") || add_param(out, "X-Amz-Credential", cred) ||
        add_param(out, "X-Amz-Date", amz_date) || add_param(out, "X-Amz-Expires", exp))
        return -1;
    if (token && add_param(out, "X-Amz-Security-Token", token))
        return -1;
    return add_param(out, "X-Amz-SignedHeaders", signed_headers);
}

/* ======================================================================================
 * Verification helpers (sigv4.h, "Verification")
 * ====================================================================================== */

/* Copies [s, s+n) into out (size cap) as a string; -1 if empty or it does not fit. */
static int copy_part(char *out, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int sigv4_parse_credential(const char *s, size_t n, struct sigv4_credential *out)
{
    struct { char *p; size_t cap; } parts[5] = {
        {out->access_key, sizeof out->access_key}, {out->date, sizeof out->date},
        {out->region, sizeof out->region},         {out->service, sizeof out->service},
        {out->terminator, sizeof out->terminator},
    };
    const char *end = s + n;
    for (int i = 0; i < 5; i++) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *stop = i < 4 ? slash : end;
        if (!stop || (i == 4 && slash) || copy_part(parts[i].p, parts[i].cap, s, (size_t)(stop - s)))
            return -1;
        s = stop + 1;
    }
    return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A signature as sent: kept when it fits, else "" (which never matches). */
static void set_signature(struct sigv4_auth *a, const char *s, size_t n)
{
    if (n < sizeof a->signature) {
        memcpy(a->signature, s, n);
        a->signature[n] = '\0';
    } else {
        a->signature[0] = '\0';
    }
}

int sigv4_parse_authorization(const char *value, struct sigv4_auth *out, char *err, size_t errlen)
{
    static const char scheme[] = "AWS4-HMAC-SHA256";
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncmp(p, scheme, sizeof scheme - 1) != 0 || (p[sizeof scheme - 1] != ' ' && p[sizeof scheme - 1] != '\t'))
        return 1;
    memset(out, 0, sizeof *out);
    out->expires_s = -1;
    int have_cred = 0, have_headers = 0, have_sig = 0;
    for (p += sizeof scheme - 1; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        const char *eq = memchr(p, '=', len);
        if (!eq) {
            set_err(err, errlen, "'%.*s' not a valid key=value pair (missing equal-sign) in Authorization header: '%.200s'.",
                    (int)(len > 200 ? 200 : len), p, value);
            return -1;
        }
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        const char *v = eq + 1;
        if (kl == 10 && strncmp(p, "Credential", 10) == 0) {
            if (copy_part(out->credential, sizeof out->credential, v, vl) ||
                sigv4_parse_credential(v, vl, &out->cred)) {
                set_err(err, errlen, "Credential must have exactly 5 slash-delimited elements, e.g. "
                        "keyid/date/region/service/term, got '%.*s'", (int)(vl > 200 ? 200 : vl), v);
                return -1;
            }
            have_cred = 1;
        } else if (kl == 13 && strncmp(p, "SignedHeaders", 13) == 0) {
            if (copy_part(out->signed_headers, sizeof out->signed_headers, v, vl)) {
                set_err(err, errlen, "Authorization header has an empty or oversized 'SignedHeaders' parameter.");
                return -1;
            }
            have_headers = 1;
        } else if (kl == 9 && strncmp(p, "Signature", 9) == 0) {
            set_signature(out, v, vl);
            have_sig = vl > 0;
        }
        p += strcspn(p, ",");
    }
    if (!have_cred || !have_headers || !have_sig) {
        set_err(err, errlen, "%s%s%sAuthorization=%.300s", have_cred ? "" : "Authorization header requires 'Credential' parameter. ",
                have_sig ? "" : "Authorization header requires 'Signature' parameter. ",
                have_headers ? "" : "Authorization header requires 'SignedHeaders' parameter. ", value);
        return -1;
    }
    return 0;
}

/* Calls fn(ctx, key, klen, value, vlen) for each raw "k=v" pair of a query until it returns
 * non-zero; returns that value or 0. */
static int query_pairs(const char *q, int (*fn)(void *, const char *, size_t, const char *, size_t), void *ctx)
{
    while (q && *q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        int rc = len ? fn(ctx, q, kl, eq ? eq + 1 : q + len, eq ? len - kl - 1 : 0) : 0;
        if (rc)
            return rc;
        q += len + (q[len] == '&');
    }
    return 0;
}

struct presigned_walk {
    struct sigv4_auth *a;
    int found;   /* bit per parameter */
    int invalid; /* a value failed to decode or does not fit */
    char *err;
    size_t errlen;
    char algorithm[32];
};

enum { P_ALG = 1, P_CRED = 2, P_DATE = 4, P_EXPIRES = 8, P_HEADERS = 16, P_SIG = 32, P_ALL = 63 };

static int presigned_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct presigned_walk *w = ctx;
    static const struct { const char *name; int bit; } names[] = {
        {"X-Amz-Algorithm", P_ALG}, {"X-Amz-Credential", P_CRED}, {"X-Amz-Date", P_DATE},
        {"X-Amz-Expires", P_EXPIRES}, {"X-Amz-SignedHeaders", P_HEADERS}, {"X-Amz-Signature", P_SIG},
    };
    char key[32];
    if (kl >= sizeof key || url_decode(k, kl, key, 0) < 0)
        return 0;
    int bit = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(key, names[i].name) == 0)
            bit = names[i].bit;
    if (!bit)
        return 0;
    char val[2048];
    long n = vl < sizeof val ? url_decode(v, vl, val, 0) : -1;
    if (n < 0 || strlen(val) != (size_t)n) { /* undecodable, too long, or with a NUL */
        w->invalid = 1;
        return 0;
    }
    struct sigv4_auth *a = w->a;
    w->found |= bit;
    switch (bit) {
    case P_ALG: snprintf(w->algorithm, sizeof w->algorithm, "%.31s", val); break;
    case P_CRED:
        if (copy_part(a->credential, sizeof a->credential, val, (size_t)n) ||
            sigv4_parse_credential(val, (size_t)n, &a->cred))
            w->invalid = 1;
        break;
    case P_DATE:
        if (copy_part(a->amz_date, sizeof a->amz_date, val, (size_t)n))
            w->invalid = 1;
        break;
    case P_EXPIRES: {
        char *end;
        long long e = strtoll(val, &end, 10);
        a->expires_s = n > 0 && n < 12 && !*end && val[0] != '+' && val[0] != ' ' ? e : -1;
        break;
    }
    case P_HEADERS:
        if (copy_part(a->signed_headers, sizeof a->signed_headers, val, (size_t)n))
            w->invalid = 1;
        break;
    case P_SIG: set_signature(a, val, (size_t)n); break;
    }
    return 0;
}

int sigv4_parse_presigned(const char *query, struct sigv4_auth *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->expires_s = -1;
    struct presigned_walk w = {.a = out, .err = err, .errlen = errlen};
    query_pairs(query, presigned_pair, &w);
    if (!(w.found & (P_ALG | P_CRED | P_SIG)))
        return 1;
    if ((w.found & P_ALG) && strcmp(w.algorithm, "AWS4-HMAC-SHA256") != 0) {
        set_err(err, errlen, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        return -1;
    }
    if (w.found != P_ALL) {
        set_err(err, errlen, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
        return -1;
    }
    if (w.invalid) {
        set_err(err, errlen, "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
                "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
        return -1;
    }
    return 0;
}

static int strip_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl)
{
    struct buf *out = ctx;
    char key[32];
    if (kl < sizeof key && url_decode(k, kl, key, 0) >= 0 && strcmp(key, "X-Amz-Signature") == 0)
        return 0;
    if ((out->len && buf_puts(out, "&")) || buf_append(out, k, kl))
        return -1;
    if (v != k + kl && (buf_puts(out, "=") || buf_append(out, v, vl))) /* "k=v", not a bare "k" */
        return -1;
    return 0;
}

int sigv4_query_without_signature(struct buf *out, const char *query)
{
    return query_pairs(query, strip_pair, out) ? -1 : 0;
}

int sigv4_parse_amz_date(const char *s, long long *epoch_ms)
{
    static const char shape[] = "DDDDDDDDTDDDDDDZ";
    if (!s || strlen(s) != 16)
        return -1;
    for (int i = 0; i < 16; i++)
        if (shape[i] == 'D' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return -1;
    int v[6];
    static const int at[6] = {0, 4, 6, 9, 11, 13}, len[6] = {4, 2, 2, 2, 2, 2};
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int j = 0; j < len[i]; j++)
            v[i] = v[i] * 10 + (s[at[i] + j] - '0');
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm() normalises 20150231 into March; a date that does not survive the round trip is invalid. */
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_year != v[0] - 1900 || back.tm_mon != v[1] - 1 ||
        back.tm_mday != v[2] || back.tm_hour != v[3] || back.tm_min != v[4] || back.tm_sec != v[5])
        return -1;
    *epoch_ms = (long long)t * 1000;
    return 0;
}

size_t sigv4_pick_headers(const struct sigv4_header *all, size_t n, const char *signed_headers,
                          struct sigv4_header *out)
{
    size_t nout = 0;
    for (const char *p = signed_headers; p && *p;) {
        size_t len = strcspn(p, ";");
        int seen = 0; /* a name listed twice is signed once */
        for (const char *q = signed_headers; q < p && !seen; q += strcspn(q, ";") + 1)
            seen = strcspn(q, ";") == len && strncasecmp(q, p, len) == 0;
        for (size_t i = 0; i < n && !seen && len; i++)
            if (strlen(all[i].name) == len && strncasecmp(all[i].name, p, len) == 0 && nout < n)
                out[nout++] = all[i];
        p += len + (p[len] == ';');
    }
    return nout;
}

int sigv4_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static const char empty_sha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

int sigv4_chunk_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                               const char *prev_signature, const char *chunk_hash)
{
    return buf_printf(out, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", amz_date, scope, prev_signature,
                      empty_sha256, chunk_hash);
}

int sigv4_trailer_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                                 const char *prev_signature, const char *trailer_hash)
{
    return buf_printf(out, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", amz_date, scope, prev_signature,
                      trailer_hash);
}
