/* auth.c -- request authentication (SigV4, S3's SigV2) and the guard's limits; see auth.h.
 *
 * Top to bottom: the shared-credentials reader; the verifier (which mechanism a request uses,
 * then key, date, scope, payload hash and signature, each failure named in the request's own
 * family of errors); S3's SigV2; chunk-signature checking for aws-chunked bodies; the server's
 * hooks (which answer with those errors); and the guard (limits and the request watchdog).
 *
 * The verifier is pure -- the request comes in as strings, the clock as a number -- so the unit
 * tests and fuzz targets drive it without a server.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "service.h"
#include "sigv4.h"
#include "util.h"
#include "xmlwrite.h"

#define SKEW_MS (15 * 60 * 1000)     /* AWS's allowance between the request's date and its clock */
#define PRESIGN_MAX_S 604800          /* X-Amz-Expires: one week */
#define CREDENTIALS_FILE_MAX (1 << 20)
#define INI_LINE_MAX 4096
#define HEADERS_MAX 2000              /* request headers looked at (MHD's memory cap bounds them anyway) */
#define CANONICAL_MAX (8u << 20)

/* ======================================================================================
 * Key pairs: the shared-credentials file
 * ====================================================================================== */

const char *dss_keyring_secret(const struct dss_keyring *k, const char *access_key)
{
    for (size_t i = 0; k && i < k->n; i++)
        if (strcmp(k->keys[i].access_key, access_key) == 0)
            return k->keys[i].secret_key;
    return NULL;
}

int dss_keyring_add(struct dss_keyring *k, const char *profile, const char *access_key, const char *secret_key)
{
    const char *have = dss_keyring_secret(k, access_key);
    if (have)
        return strcmp(have, secret_key) == 0 ? 0 : -1;
    struct dss_key *grown = realloc(k->keys, (k->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    k->keys = grown;
    struct dss_key *e = &grown[k->n];
    e->profile = strdup(profile);
    e->access_key = strdup(access_key);
    e->secret_key = strdup(secret_key);
    if (!e->profile || !e->access_key || !e->secret_key) {
        free(e->profile);
        free(e->access_key);
        free(e->secret_key);
        return -1;
    }
    k->n++;
    return 0;
}

void dss_keyring_free(struct dss_keyring *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->keys[i].profile);
        free(k->keys[i].access_key);
        free(k->keys[i].secret_key);
    }
    free(k->keys);
    k->keys = NULL;
    k->n = 0;
}

/* The section being read. */
struct ini_profile {
    int started;     /* a [section] line has been read */
    int line;        /* where it began */
    int has_key;     /* a key = value line came in it (an indented line then continues it) */
    char name[256];
    char access_key[SIGV4_KEY_MAX + 1];
    char secret_key[1024];
};

static int ini_fail(char *err, size_t errlen, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int ini_fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "line %d: ", line);
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Adds the finished section's pair, if it has one. */
static int ini_flush(struct dss_keyring *k, struct ini_profile *p, char *err, size_t errlen)
{
    int rc = 0;
    int ak = p->access_key[0] != '\0', sk = p->secret_key[0] != '\0';
    if (p->started && ak != sk)
        rc = ini_fail(err, errlen, p->line, "profile [%s] has %s without %s", p->name,
                      ak ? "aws_access_key_id" : "aws_secret_access_key",
                      ak ? "aws_secret_access_key" : "aws_access_key_id");
    else if (p->started && ak && dss_keyring_add(k, p->name, p->access_key, p->secret_key))
        rc = ini_fail(err, errlen, p->line, "access key %s of profile [%s] already has another secret (or out of memory)",
                      p->access_key, p->name);
    memset(p, 0, sizeof *p);
    return rc;
}

static int is_blank(int c) { return c == ' ' || c == '\t'; }

/* Copies a value that must be printable ASCII without spaces (access key) or any printable
 * text (secret). Returns 0 or -1. */
static int ini_value(char *out, size_t cap, const char *v, size_t n, int no_spaces)
{
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || (no_spaces && (c == ' ' || c == '/')))
            return -1;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* One "key = value" line of section p. */
static int ini_setting(struct ini_profile *p, const char *t, size_t n, int line, char *err, size_t errlen)
{
    size_t d = strcspn(t, "=:");
    if (d >= n)
        return ini_fail(err, errlen, line, "expected [profile], key = value or a comment");
    size_t kn = d, vstart = d + 1;
    while (kn && is_blank(t[kn - 1]))
        kn--;
    while (vstart < n && is_blank(t[vstart]))
        vstart++;
    if (kn == 0)
        return ini_fail(err, errlen, line, "a setting without a name");
    if (!p->started)
        return ini_fail(err, errlen, line, "%.*s outside a [profile] section", (int)(kn > 64 ? 64 : kn), t);
    p->has_key = 1;
    const char *v = t + vstart;
    size_t vn = n - vstart;
    if (kn == 17 && strncasecmp(t, "aws_access_key_id", kn) == 0) {
        if (ini_value(p->access_key, sizeof p->access_key, v, vn, 1))
            return ini_fail(err, errlen, line, "aws_access_key_id must be 1 to %d printable characters without "
                            "spaces or '/'", SIGV4_KEY_MAX);
    } else if (kn == 21 && strncasecmp(t, "aws_secret_access_key", kn) == 0) {
        if (ini_value(p->secret_key, sizeof p->secret_key, v, vn, 0))
            return ini_fail(err, errlen, line, "aws_secret_access_key must be 1 to %zu printable characters",
                            sizeof p->secret_key - 1);
    }
    return 0; /* region, aws_session_token and the rest: not ours */
}

int dss_keyring_parse(struct dss_keyring *k, const char *text, size_t len, char *err, size_t errlen)
{
    struct ini_profile p = {0};
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        line++;
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n && s[n - 1] == '\r')
            n--;
        if (n > INI_LINE_MAX)
            return ini_fail(err, errlen, line, "longer than %d bytes", INI_LINE_MAX);
        if (memchr(s, '\0', n))
            return ini_fail(err, errlen, line, "holds a NUL byte");
        int indented = n && is_blank(s[0]);
        while (n && (is_blank(s[0]) || s[0] == '\r')) {
            s++;
            n--;
        }
        while (n && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
            n--;
        if (n == 0 || s[0] == '#' || s[0] == ';')
            continue;
        if (indented && p.has_key) /* a continuation line (nested settings): never a key pair */
            continue;
        if (s[0] == '[') {
            if (s[n - 1] != ']')
                return ini_fail(err, errlen, line, "a section header must end with ']'");
            const char *name = s + 1;
            size_t nn = n - 2;
            while (nn && is_blank(name[0])) {
                name++;
                nn--;
            }
            while (nn && is_blank(name[nn - 1]))
                nn--;
            if (nn == 0 || nn >= sizeof p.name)
                return ini_fail(err, errlen, line, "a profile name must be 1 to %zu characters", sizeof p.name - 1);
            if (ini_flush(k, &p, err, errlen))
                return -1;
            p.started = 1;
            p.line = line;
            memcpy(p.name, name, nn);
            p.name[nn] = '\0';
            continue;
        }
        char tmp[INI_LINE_MAX + 1]; /* NUL-terminated for strcspn */
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (ini_setting(&p, tmp, n, line, err, errlen))
            return -1;
    }
    return ini_flush(k, &p, err, errlen);
}

int dss_keyring_load(struct dss_keyring *k, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CREDENTIALS_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CREDENTIALS_FILE_MAX + 1, f) : 0;
    int bad = !text || ferror(f);
    fclose(f);
    int rc = -1;
    char why[512] = "";
    if (bad)
        snprintf(err, errlen, "cannot read %s", path);
    else if (n > CREDENTIALS_FILE_MAX)
        snprintf(err, errlen, "%s is larger than %d bytes", path, CREDENTIALS_FILE_MAX);
    else if (dss_keyring_parse(k, text, n, why, sizeof why))
        snprintf(err, errlen, "%s %s", path, why);
    else if (k->n == 0)
        snprintf(err, errlen, "%s holds no key pair (aws_access_key_id and aws_secret_access_key)", path);
    else
        rc = 0;
    free(text);
    return rc;
}

/* ======================================================================================
 * The verifier
 * ====================================================================================== */

/* Why a request is refused, before it is put in its family's words. */
enum kind {
    K_MISSING,      /* no signature at all */
    K_INCOMPLETE,   /* Authorization header malformed, or its scope */
    K_QUERY_PARAMS, /* presigned parameters malformed */
    K_UNSUPPORTED,  /* another scheme */
    K_CONFLICT,     /* more than one mechanism */
    K_NO_DATE,      /* no usable date */
    K_UNKNOWN_KEY,
    K_MISMATCH,
    K_SKEWED,
    K_EXPIRED,      /* presigned URL past its expiry (or not valid yet) */
    K_SHA_MISSING,  /* S3: no x-amz-content-sha256 */
    K_SHA_INVALID,  /* S3: not a digest nor a known constant */
    K_SHA_MISMATCH, /* x-amz-content-sha256 is not the body's digest */
    K__COUNT
};

#define F(k, json, query, ec2, s3) [k] = {DSS_E_##json, DSS_E_##query, DSS_E_##ec2, DSS_E_##s3}
static const enum dss_error kind_error[K__COUNT][4] = {
    F(K_MISSING, MissingAuthenticationTokenException, MissingAuthenticationToken, MissingAuthenticationToken, S3AccessDenied),
    F(K_INCOMPLETE, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, AuthorizationHeaderMalformed),
    F(K_QUERY_PARAMS, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, AuthorizationQueryParametersError),
    F(K_UNSUPPORTED, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, InvalidArgument),
    F(K_CONFLICT, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, InvalidArgument),
    F(K_NO_DATE, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, S3AccessDenied),
    F(K_UNKNOWN_KEY, UnrecognizedClientException, InvalidClientTokenId, AuthFailure, InvalidAccessKeyId),
    F(K_MISMATCH, InvalidSignatureException, SignatureDoesNotMatch, AuthFailure, SignatureDoesNotMatch),
    F(K_SKEWED, InvalidSignatureException, SignatureDoesNotMatch, RequestExpired, RequestTimeTooSkewed),
    F(K_EXPIRED, InvalidSignatureException, SignatureDoesNotMatch, RequestExpired, S3AccessDenied),
    F(K_SHA_MISSING, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, InvalidRequest),
    F(K_SHA_INVALID, IncompleteSignatureException, IncompleteSignature, IncompleteSignature, InvalidArgument),
    F(K_SHA_MISMATCH, InvalidSignatureException, SignatureDoesNotMatch, AuthFailure, XAmzContentSHA256Mismatch),
};
#undef F

static const char MSG_MISMATCH[] = "The request signature we calculated does not match the signature you provided. "
                                   "Check your AWS Secret Access Key and signing method. Consult the service "
                                   "documentation for details.";
static const char MSG_MISMATCH_S3[] = "The request signature we calculated does not match the signature you "
                                      "provided. Check your key and signing method.";
static const char MSG_EC2_AUTH[] = "AWS was not able to validate the provided access credentials";
static const char MSG_BAD_TOKEN[] = "The security token included in the request is invalid.";

/* The message a kind has when the caller gives none. */
static const char *kind_message(enum kind k, enum dss_auth_family f)
{
    switch (k) {
    case K_MISSING: return f == DSS_AUTH_S3 ? "Access Denied" : "Request is missing Authentication Token";
    case K_UNKNOWN_KEY:
        return f == DSS_AUTH_S3 ? "The AWS Access Key Id you provided does not exist in our records."
               : f == DSS_AUTH_EC2 ? MSG_EC2_AUTH : MSG_BAD_TOKEN;
    case K_MISMATCH: return f == DSS_AUTH_S3 ? MSG_MISMATCH_S3 : f == DSS_AUTH_EC2 ? MSG_EC2_AUTH : MSG_MISMATCH;
    case K_SHA_MISMATCH: return "The provided 'x-amz-content-sha256' header does not match what was computed.";
    default: return "The request signature does not conform to AWS standards.";
    }
}

/* Records the refusal; fmt NULL: the kind's own message. Returns -1. */
static int refuse(struct dss_auth_result *r, enum dss_auth_family f, enum kind k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct dss_auth_result *r, enum dss_auth_family f, enum kind k, const char *fmt, ...)
{
    r->err = kind_error[k][f];
    if (!fmt) {
        snprintf(r->message, sizeof r->message, "%s", kind_message(k, f));
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Adds an element to S3's error document (S3 only; others ignore them). */
static void add_extra(struct dss_auth_result *r, const char *name, const char *value)
{
    if (!r->extra_text.max)
        buf_init(&r->extra_text, 4 * (size_t)CANONICAL_MAX);
    size_t at = r->extra_text.len;
    if (r->nextra == DSS_AUTH_EXTRAS || !value || buf_append(&r->extra_text, value, strlen(value) + 1))
        return;
    r->extra_name[r->nextra] = name;
    r->extra_at[r->nextra++] = at;
}

const char *dss_auth_extra(const struct dss_auth_result *r, int i, const char **name)
{
    *name = r->extra_name[i];
    return r->extra_text.data + r->extra_at[i];
}

void dss_auth_result_free(struct dss_auth_result *r)
{
    buf_free(&r->extra_text);
    r->nextra = 0;
}

static const char *in_header(const struct dss_auth_input *in, const char *name)
{
    for (size_t i = 0; i < in->nheaders; i++)
        if (strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value;
    return NULL;
}

/* The decoded value of the first query parameter named name (exact case) into out, or NULL. */
static const char *query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    while (q && *q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        char key[64];
        if (kl < sizeof key && url_decode(q, kl, key, 0) == (long)nl && memcmp(key, name, nl) == 0) {
            size_t vl = eq ? len - kl - 1 : 0;
            long n = vl < cap ? url_decode(eq ? eq + 1 : q + len, vl, out, 0) : -1;
            return n >= 0 && strlen(out) == (size_t)n ? out : NULL;
        }
        q += len + (q[len] == '&');
    }
    return NULL;
}

/* 1 if the query has a parameter named name (exact case, after decoding). */
static int query_has(const char *q, const char *name)
{
    size_t nl = strlen(name);
    while (q && *q) {
        size_t len = strcspn(q, "&"), kl = strcspn(q, "=&");
        char key[64];
        if (kl < sizeof key && url_decode(q, kl, key, 0) == (long)nl && memcmp(key, name, nl) == 0)
            return 1;
        q += len + (q[len] == '&');
    }
    return 0;
}

static void format_iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT", or "+0000" for GMT) as epoch ms. Returns 0 or -1. */
static int parse_http_date(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S ", &tm);
    if (!end || (strcmp(end, "GMT") != 0 && strcmp(end, "+0000") != 0))
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

/* The family's words for a request dated req_ms when the clock says now_ms. */
static int refuse_skew(struct dss_auth_result *r, enum dss_auth_family f, int64_t req_ms, int64_t now_ms,
                       const char *as_sent)
{
    char req[17], bound[17], now[17], iso[32];
    sigv4_amz_date(req_ms, req);
    sigv4_amz_date(now_ms, now);
    if (f == DSS_AUTH_S3) {
        format_iso(now_ms, iso);
        add_extra(r, "RequestTime", as_sent);
        add_extra(r, "ServerTime", iso);
        add_extra(r, "MaxAllowedSkewMilliseconds", "900000");
        return refuse(r, f, K_SKEWED, "The difference between the request time and the current time is too large.");
    }
    if (f == DSS_AUTH_EC2)
        return refuse(r, f, K_SKEWED, req_ms < now_ms ? "Request has expired." : "Request is not yet valid.");
    if (req_ms < now_ms) {
        sigv4_amz_date(now_ms - SKEW_MS, bound);
        return refuse(r, f, K_SKEWED, "Signature expired: %s is now earlier than %s (%s - 15 min.)", req, bound, now);
    }
    sigv4_amz_date(now_ms + SKEW_MS, bound);
    return refuse(r, f, K_SKEWED, "Signature not yet current: %s is still later than %s (%s + 15 min.)", req, bound, now);
}

static int is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return 0;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

/* S3's payload hash: which value is signed, and what the body must then match. */
static int s3_payload(const struct dss_auth_input *in, int presigned, struct dss_auth_result *r, const char **payload)
{
    const char *sha = in_header(in, "x-amz-content-sha256");
    if (!sha) {
        *payload = "UNSIGNED-PAYLOAD";
        return presigned ? 0
                         : refuse(r, DSS_AUTH_S3, K_SHA_MISSING, "Missing required header for this request: x-amz-content-sha256");
    }
    *payload = sha;
    if (is_hex64(sha)) {
        r->body_sha256_check = 1;
        snprintf(r->body_sha256, sizeof r->body_sha256, "%s", sha);
        return 0;
    }
    if (!strcmp(sha, "UNSIGNED-PAYLOAD") || !strcmp(sha, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
        return 0;
    if (!strcmp(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") || !strcmp(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")) {
        r->chunk_signed = 1;
        r->trailer_signed = strstr(sha, "TRAILER") != NULL;
        return 0;
    }
    return refuse(r, DSS_AUTH_S3, K_SHA_INVALID,
                  "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
}

/* The request's date for SigV4: the presigned X-Amz-Date, else the X-Amz-Date header, else the
 * Date header; with the time checks that go with each. */
static int v4_date(const struct dss_auth_input *in, const struct sigv4_auth *a, int presigned,
                   struct dss_auth_result *r, char amz_date[17])
{
    enum dss_auth_family f = in->family;
    long long req_ms = 0;
    if (presigned) {
        if (sigv4_parse_amz_date(a->amz_date, &req_ms))
            return refuse(r, f, K_QUERY_PARAMS, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
        if (a->expires_s < 0)
            return refuse(r, f, K_QUERY_PARAMS, "X-Amz-Expires must be non-negative");
        if (a->expires_s > PRESIGN_MAX_S)
            return refuse(r, f, K_QUERY_PARAMS, "X-Amz-Expires must be less than a week (in seconds) that is 604800");
        memcpy(amz_date, a->amz_date, 17);
        int64_t until = req_ms + a->expires_s * 1000;
        if (in->now_ms > until || req_ms > in->now_ms + SKEW_MS) {
            if (f != DSS_AUTH_S3)
                return refuse_skew(r, f, in->now_ms > until ? until : req_ms, in->now_ms, a->amz_date);
            char exp[32], now[32], secs[24];
            format_iso(until, exp);
            format_iso(in->now_ms, now);
            snprintf(secs, sizeof secs, "%lld", a->expires_s);
            add_extra(r, "X-Amz-Expires", secs);
            add_extra(r, "Expires", exp);
            add_extra(r, "ServerTime", now);
            return refuse(r, f, K_EXPIRED, in->now_ms > until ? "Request has expired" : "Request is not valid yet");
        }
        return 0;
    }
    const char *xd = in_header(in, "X-Amz-Date"), *d = in_header(in, "Date");
    int64_t ms = 0;
    if (xd ? sigv4_parse_amz_date(xd, &req_ms) : !d || parse_http_date(d, &ms)) {
        if (f == DSS_AUTH_S3)
            return refuse(r, f, K_NO_DATE, "AWS authentication requires a valid Date or x-amz-date header");
        if (xd || d)
            return refuse(r, f, K_NO_DATE, "Date must be in ISO-8601 'basic format'. Got '%.64s'. See "
                          "http://en.wikipedia.org/wiki/ISO_8601", xd ? xd : d);
        return refuse(r, f, K_NO_DATE, "Authorization header requires existence of either a 'X-Amz-Date' or a "
                      "'Date' header. Authorization=%.300s", in_header(in, "Authorization"));
    }
    if (!xd)
        req_ms = ms;
    sigv4_amz_date(req_ms, amz_date);
    if (req_ms < in->now_ms - SKEW_MS || req_ms > in->now_ms + SKEW_MS)
        return refuse_skew(r, f, req_ms, in->now_ms, xd ? xd : d);
    return 0;
}

/* The credential scope's date, terminator and service against the request. */
static int v4_scope(const struct dss_auth_input *in, const struct sigv4_auth *a, int presigned,
                    const char *amz_date, struct dss_auth_result *r)
{
    enum dss_auth_family f = in->family;
    enum kind malformed = presigned ? K_QUERY_PARAMS : K_INCOMPLETE;
    const struct sigv4_credential *c = &a->cred;
    if (strncmp(c->date, amz_date, 8) != 0)
        return f == DSS_AUTH_S3
                   ? refuse(r, f, malformed, "The authorization header is malformed; Invalid credential date. Date "
                            "is not the same as X-Amz-Date.")
                   : refuse(r, f, K_MISMATCH, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                            "of date from HTTP: '%s' != '%.8s', from '%s'.", c->date, amz_date, amz_date);
    if (strcmp(c->terminator, "aws4_request") != 0)
        return f == DSS_AUTH_S3
                   ? refuse(r, f, malformed, "The authorization header is malformed; the Credential is mal-formed; "
                            "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
                   : refuse(r, f, K_MISMATCH, "Credential should be scoped with a valid terminator: 'aws4_request', "
                            "not '%s'.", c->terminator);
    if (in->service && strcmp(c->service, in->service) != 0)
        return f == DSS_AUTH_S3
                   ? refuse(r, f, malformed, "The authorization header is malformed; incorrect service \"%s\". This "
                            "endpoint belongs to \"s3\".", c->service)
                   : refuse(r, f, K_MISMATCH, "Credential should be scoped to correct service: '%s'. ", in->service);
    int host = 0;
    for (const char *p = a->signed_headers; *p && !host; p += strcspn(p, ";") + (p[strcspn(p, ";")] == ';'))
        host = strcspn(p, ";") == 4 && strncasecmp(p, "host", 4) == 0;
    if (!host)
        return refuse(r, f, malformed, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    return 0;
}

/* Everything after the mechanism: key, date, scope, payload, signature. */
static int verify_v4(const struct dss_keyring *keys, const struct dss_auth_input *in, const struct sigv4_auth *a,
                     int presigned, const char *path, const char *query, struct dss_auth_result *r)
{
    enum dss_auth_family f = in->family;
    const char *secret = dss_keyring_secret(keys, a->cred.access_key);
    if (!secret) {
        add_extra(r, "AWSAccessKeyId", a->cred.access_key);
        return refuse(r, f, K_UNKNOWN_KEY, NULL);
    }
    char amz_date[17];
    if (v4_date(in, a, presigned, r, amz_date) || v4_scope(in, a, presigned, amz_date, r))
        return -1;
    const char *payload = in->body_sha256 ? in->body_sha256 : "UNSIGNED-PAYLOAD";
    if (f == DSS_AUTH_S3) {
        if (s3_payload(in, presigned, r, &payload))
            return -1;
    } else {
        const char *sha = in_header(in, "x-amz-content-sha256");
        if (sha && !strcmp(sha, "UNSIGNED-PAYLOAD"))
            payload = sha;
        else if (sha && strcmp(sha, payload) != 0)
            return refuse(r, f, K_SHA_MISMATCH, NULL);
    }
    /* S3 signs the path encoded once, so it is decoded first (sigv4 encodes it); the others
     * sign it encoded twice, with dot segments removed (sigv4 does both). */
    int rc = -1;
    char *cpath = strdup(path);
    struct sigv4_header *picked = calloc(in->nheaders ? in->nheaders : 1, sizeof *picked);
    struct buf q, creq, scope, sts;
    buf_init(&q, CANONICAL_MAX);
    buf_init(&creq, CANONICAL_MAX);
    buf_init(&scope, 512);
    buf_init(&sts, 1024);
    if (!cpath || !picked || (f == DSS_AUTH_S3 && url_decode(path, strlen(path), cpath, 0) < 0) ||
        (presigned ? sigv4_query_without_signature(&q, query) : buf_puts(&q, query))) {
        rc = refuse(r, f, K_MISMATCH, NULL);
        goto out;
    }
    size_t np = sigv4_pick_headers(in->headers, in->nheaders, a->signed_headers, picked);
    struct sigv4_request req = {in->method, cpath, q.data ? q.data : "", picked, np, payload, f != DSS_AUTH_S3};
    if (sigv4_canonical_request(&req, &creq, NULL) ||
        buf_printf(&scope, "%s/%s/%s/%s", a->cred.date, a->cred.region, a->cred.service, a->cred.terminator) ||
        sigv4_string_to_sign(&sts, amz_date, scope.data, creq.data)) {
        rc = refuse(r, f, K_MISMATCH, NULL);
        goto out;
    }
    unsigned char key[32];
    char want[65];
    sigv4_signing_key(secret, a->cred.date, a->cred.region, a->cred.service, key);
    sigv4_signature(key, sts.data, want);
    if (!sigv4_equal(want, a->signature)) {
        add_extra(r, "AWSAccessKeyId", a->cred.access_key);
        add_extra(r, "StringToSign", sts.data);
        add_extra(r, "SignatureProvided", a->signature);
        add_extra(r, "CanonicalRequest", creq.data);
        rc = refuse(r, f, K_MISMATCH, NULL);
        goto out;
    }
    memcpy(r->signing_key, key, sizeof key);
    memcpy(r->amz_date, amz_date, sizeof r->amz_date);
    snprintf(r->scope, sizeof r->scope, "%s", scope.data);
    memcpy(r->seed_signature, a->signature, sizeof r->seed_signature);
    rc = 0;
out:
    free(cpath);
    free(picked);
    buf_free(&q);
    buf_free(&creq);
    buf_free(&scope);
    buf_free(&sts);
    return rc;
}

/* ---- S3's SigV2: HMAC-SHA1 over verb, Content-MD5, Content-Type, date, x-amz-* headers and
 * the resource with its sub-resources -- what botocore's HmacV1Auth signs ---- */

static const char *const v2_subresources[] = {
    "accelerate", "acl", "analytics", "cors", "delete", "inventory", "lifecycle", "location", "logging",
    "metrics", "notification", "object-lock", "partNumber", "policy", "replication", "requestPayment",
    "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore", "select",
    "select-type", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions",
    "website",
};

struct v2_item {
    char *key, *value; /* value NULL: a bare "key" */
    size_t order;
};

static int v2_item_cmp(const void *x, const void *y)
{
    const struct v2_item *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

static int is_subresource(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof v2_subresources / sizeof v2_subresources[0]; i++)
        if (strlen(v2_subresources[i]) == n && memcmp(v2_subresources[i], k, n) == 0)
            return 1;
    return 0;
}

/* "/bucket/key?acl&versionId=3": resource then its sub-resources, values decoded, by name. */
static int v2_resource(struct buf *out, const char *resource, const char *query)
{
    struct v2_item items[64] = {{0}};
    size_t n = 0;
    int rc = buf_puts(out, resource);
    for (const char *q = query; q && *q && !rc;) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        if (is_subresource(q, kl) && n < sizeof items / sizeof items[0]) {
            items[n].key = strndup(q, kl);
            items[n].value = NULL;
            items[n].order = n;
            if (eq && (items[n].value = malloc(len - kl)) &&
                url_decode(eq + 1, len - kl - 1, items[n].value, 0) < 0)
                rc = -1;
            n++;
        }
        q += len + (q[len] == '&');
    }
    qsort(items, n, sizeof *items, v2_item_cmp);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = buf_printf(out, "%s%s%s%s", i ? "&" : "?", items[i].key ? items[i].key : "",
                            items[i].value ? "=" : "", items[i].value ? items[i].value : "");
        free(items[i].key);
        free(items[i].value);
    }
    return rc ? -1 : 0;
}

static int v2_header_cmp(const void *x, const void *y)
{
    const struct v2_item *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    return c ? c : a->order < b->order ? -1 : a->order > b->order;
}

/* "x-amz-meta-a:1,2\n" for every x-amz-* header, names lower-cased, repeats joined by ','. */
static int v2_amz_headers(struct buf *out, const struct dss_auth_input *in)
{
    struct v2_item *h = calloc(in->nheaders ? in->nheaders : 1, sizeof *h);
    size_t n = 0;
    int rc = h ? 0 : -1;
    for (size_t i = 0; h && i < in->nheaders; i++) {
        if (strncasecmp(in->headers[i].name, "x-amz-", 6) != 0)
            continue;
        h[n].key = strdup(in->headers[i].name);
        h[n].value = (char *)in->headers[i].value;
        h[n].order = n;
        if (!h[n].key)
            rc = -1;
        else
            for (char *p = h[n].key; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        n++;
    }
    if (!rc)
        qsort(h, n, sizeof *h, v2_header_cmp);
    for (size_t i = 0; i < n && !rc; i++) {
        const char *v = h[i].value;
        size_t vl = strlen(v);
        while (vl && isspace((unsigned char)v[vl - 1]))
            vl--;
        while (vl && isspace((unsigned char)*v)) {
            v++;
            vl--;
        }
        int first = i == 0 || strcmp(h[i].key, h[i - 1].key) != 0;
        int last = i + 1 == n || strcmp(h[i].key, h[i + 1].key) != 0;
        rc = (first ? buf_printf(out, "%s:", h[i].key) : buf_puts(out, ",")) || buf_append(out, v, vl) ||
             (last && buf_puts(out, "\n"));
    }
    for (size_t i = 0; i < n; i++)
        free(h[i].key);
    free(h);
    return rc ? -1 : 0;
}

/* Signs the V2 string to sign for resource; *sig is base64 (malloc'd). */
static int v2_sign(const struct dss_auth_input *in, const char *secret, const char *date_line, const char *resource,
                   const char *query, struct buf *sts, char **sig)
{
    const char *md5 = in_header(in, "Content-MD5"), *ctype = in_header(in, "Content-Type");
    buf_reset(sts);
    if (buf_printf(sts, "%s\n%s\n%s\n%s\n", in->method, md5 ? md5 : "", ctype ? ctype : "", date_line) ||
        v2_amz_headers(sts, in) || v2_resource(sts, resource, query))
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)sts->data, sts->len, mac, &maclen);
    struct buf b64;
    buf_init(&b64, 64);
    if (base64_encode(&b64, mac, maclen)) {
        buf_free(&b64);
        return -1;
    }
    *sig = buf_steal(&b64);
    return 0;
}

/* A virtual-hosted request ("bucket.s3.localhost") signs "/bucket" + path. */
static int v2_bucket_from_host(const struct dss_auth_input *in, char *out, size_t cap)
{
    const char *host = in_header(in, "Host");
    struct in_addr ip;
    char h[256];
    if (!host || strlen(host) >= sizeof h)
        return -1;
    snprintf(h, sizeof h, "%s", host);
    h[strcspn(h, ":")] = '\0';
    const char *dot = strchr(h, '.');
    if (!dot || dot == h || inet_pton(AF_INET, h, &ip) == 1 || (size_t)(dot - h) >= cap)
        return -1;
    snprintf(out, cap, "%.*s", (int)(dot - h), h);
    return 0;
}

static int verify_v2(const struct dss_keyring *keys, const struct dss_auth_input *in, const char *akid,
                     const char *given, const char *date_line, const char *path, const char *query,
                     struct dss_auth_result *r)
{
    const char *secret = dss_keyring_secret(keys, akid);
    if (!secret) {
        add_extra(r, "AWSAccessKeyId", akid);
        return refuse(r, DSS_AUTH_S3, K_UNKNOWN_KEY, NULL);
    }
    struct buf sts, res;
    buf_init(&sts, CANONICAL_MAX);
    buf_init(&res, 4096);
    char *sig = NULL, bucket[128];
    int ok = v2_sign(in, secret, date_line, path, query, &sts, &sig) == 0 && sigv4_equal(sig, given);
    if (!ok && v2_bucket_from_host(in, bucket, sizeof bucket) == 0 && buf_printf(&res, "/%s%s", bucket, path) == 0) {
        free(sig);
        sig = NULL;
        ok = v2_sign(in, secret, date_line, res.data, query, &sts, &sig) == 0 && sigv4_equal(sig, given);
    }
    int rc = 0;
    if (!ok) {
        add_extra(r, "AWSAccessKeyId", akid);
        add_extra(r, "StringToSign", sts.data ? sts.data : "");
        add_extra(r, "SignatureProvided", given);
        rc = refuse(r, DSS_AUTH_S3, K_MISMATCH, NULL);
    }
    free(sig);
    buf_free(&sts);
    buf_free(&res);
    return rc;
}

/* "Authorization: AWS AKID:signature", dated by x-amz-date or Date. */
static int verify_v2_header(const struct dss_keyring *keys, const struct dss_auth_input *in, const char *authz,
                            const char *path, const char *query, struct dss_auth_result *r)
{
    const char *cred = authz + 4, *colon = strrchr(cred, ':');
    char akid[SIGV4_KEY_MAX + 1];
    if (!colon || colon == cred || (size_t)(colon - cred) > SIGV4_KEY_MAX || !colon[1])
        return refuse(r, DSS_AUTH_S3, K_UNSUPPORTED, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature");
    snprintf(akid, sizeof akid, "%.*s", (int)(colon - cred), cred);
    const char *xd = in_header(in, "x-amz-date"), *d = in_header(in, "Date");
    int64_t ms = 0;
    long long iso_ms = 0;
    int bad = xd ? parse_http_date(xd, &ms) != 0 : !d || parse_http_date(d, &ms) != 0;
    if (bad && xd && sigv4_parse_amz_date(xd, &iso_ms) == 0) { /* botocore sends x-amz-date in the SigV4 form */
        ms = iso_ms;
        bad = 0;
    }
    if (bad)
        return refuse(r, DSS_AUTH_S3, K_NO_DATE, "AWS authentication requires a valid Date or x-amz-date header");
    if (ms < in->now_ms - SKEW_MS || ms > in->now_ms + SKEW_MS)
        return refuse_skew(r, DSS_AUTH_S3, ms, in->now_ms, xd ? xd : d);
    /* With x-amz-date the Date line is empty: the date is signed among the x-amz-* headers. */
    return verify_v2(keys, in, akid, colon + 1, xd ? "" : d, path, query, r);
}

/* "?AWSAccessKeyId=...&Expires=<epoch seconds>&Signature=...": boto3's default presigned URL. */
static int verify_v2_query(const struct dss_keyring *keys, const struct dss_auth_input *in, const char *path,
                           const char *query, struct dss_auth_result *r)
{
    char akid[SIGV4_KEY_MAX + 1], sig[128], expires[32];
    if (!query_param(query, "AWSAccessKeyId", akid, sizeof akid) || !query_param(query, "Signature", sig, sizeof sig) ||
        !query_param(query, "Expires", expires, sizeof expires))
        return refuse(r, DSS_AUTH_S3, K_MISSING, "Query-string authentication requires the Signature, Expires and "
                      "AWSAccessKeyId parameters");
    char *end;
    long long exp = strtoll(expires, &end, 10);
    if (!expires[0] || *end || exp < 0 || exp > 99999999999LL)
        return refuse(r, DSS_AUTH_S3, K_EXPIRED, "Invalid date (should be seconds since epoch): %s", expires);
    if (in->now_ms > exp * 1000) {
        char e[32], now[32];
        format_iso(exp * 1000, e);
        format_iso(in->now_ms, now);
        add_extra(r, "Expires", e);
        add_extra(r, "ServerTime", now);
        return refuse(r, DSS_AUTH_S3, K_EXPIRED, "Request has expired");
    }
    return verify_v2(keys, in, akid, sig, expires, path, query, r);
}

int dss_auth_verify(const struct dss_keyring *keys, const struct dss_auth_input *in, struct dss_auth_result *out)
{
    memset(out, 0, sizeof *out);
    enum dss_auth_family f = in->family;
    const char *target = in->target && *in->target ? in->target : "/";
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        const char *p = strchr(strstr(target, "//") + 2, '/'); /* absolute form: the path only */
        target = p ? p : "/";
    }
    size_t plen = strcspn(target, "?");
    char *path = strndup(target, plen);
    const char *query = target[plen] ? target + plen + 1 : "";
    if (!path)
        return refuse(out, f, K_MISMATCH, NULL);
    const char *authz = in_header(in, "Authorization");
    struct sigv4_auth a;
    char why[700] = "";
    int pre = sigv4_parse_presigned(query, &a, why, sizeof why);
    int v2q = f == DSS_AUTH_S3 && (query_has(query, "AWSAccessKeyId") || query_has(query, "Signature"));
    int rc;
    if (!authz && pre == 1 && !v2q) {
        rc = refuse(out, f, K_MISSING, NULL);
    } else if ((authz != NULL) + (pre != 1) + v2q > 1) {
        rc = refuse(out, f, K_CONFLICT, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                    "Signature query string parameter or the Authorization header should be specified");
    } else if (authz) {
        int h = sigv4_parse_authorization(authz, &a, why, sizeof why);
        if (h == 0)
            rc = verify_v4(keys, in, &a, 0, path, query, out);
        else if (h < 0)
            rc = f == DSS_AUTH_S3 ? refuse(out, f, K_INCOMPLETE, "The authorization header is malformed; %s", why)
                                  : refuse(out, f, K_INCOMPLETE, "%s", why);
        else if (f == DSS_AUTH_S3 && strncmp(authz, "AWS ", 4) == 0)
            rc = verify_v2_header(keys, in, authz, path, query, out);
        else
            rc = f == DSS_AUTH_S3 ? refuse(out, f, K_UNSUPPORTED, "Unsupported Authorization Type")
                                  : refuse(out, f, K_UNSUPPORTED, "Authorization header requires 'Credential' parameter. "
                                           "Authorization header requires 'Signature' parameter. Authorization header "
                                           "requires 'SignedHeaders' parameter. Authorization=%.300s", authz);
    } else if (pre != 1) {
        rc = pre < 0 ? refuse(out, f, K_QUERY_PARAMS, "%s", why) : verify_v4(keys, in, &a, 1, path, query, out);
    } else {
        rc = verify_v2_query(keys, in, path, query, out);
    }
    free(path);
    return rc;
}

/* ======================================================================================
 * aws-chunked bodies with chunk signatures
 * ====================================================================================== */

enum chunk_state {
    CS_SIZE,    /* reading "<hex>;chunk-signature=<sig>" */
    CS_DATA,    /* inside a chunk */
    CS_DATA_CR, /* the \r after it */
    CS_DATA_LF, /* the \n after it */
    CS_TRAILER, /* trailer lines after the final chunk */
    CS_DONE,    /* the empty line after them */
    CS_ERROR,
};

struct dss_chunk_verifier {
    enum chunk_state state;
    char line[512];
    size_t line_len;
    uint64_t left;            /* bytes left in the current chunk */
    EVP_MD_CTX *md;           /* digest of the current chunk */
    unsigned char key[32];
    char amz_date[17], scope[256];
    char prev[65];            /* the previous signature in the chain */
    char want[65];            /* the current chunk's signature as sent */
    int trailer;              /* the trailer is signed */
    struct buf trailers;      /* "name:value\n" per trailer line, signature excluded */
    char trailer_sig[65];
    int bad_signature;
    char error[200];
};

struct dss_chunk_verifier *dss_chunks_new(const unsigned char key[32], const char *amz_date, const char *scope,
                                          const char *seed_signature, int trailer)
{
    struct dss_chunk_verifier *v = calloc(1, sizeof *v);
    if (!v || !(v->md = EVP_MD_CTX_new())) {
        free(v);
        return NULL;
    }
    memcpy(v->key, key, 32);
    snprintf(v->amz_date, sizeof v->amz_date, "%s", amz_date);
    snprintf(v->scope, sizeof v->scope, "%s", scope);
    snprintf(v->prev, sizeof v->prev, "%s", seed_signature);
    v->trailer = trailer;
    buf_init(&v->trailers, 8192);
    return v;
}

void dss_chunks_free(struct dss_chunk_verifier *v)
{
    if (!v)
        return;
    EVP_MD_CTX_free(v->md);
    buf_free(&v->trailers);
    free(v);
}

static int chunk_fail(struct dss_chunk_verifier *v, int bad_signature, const char *msg)
{
    v->state = CS_ERROR;
    v->bad_signature = bad_signature;
    snprintf(v->error, sizeof v->error, "%s", msg);
    return -1;
}

/* Signs sts with the request's key and checks it against want, chaining on success. */
static int chunk_check(struct dss_chunk_verifier *v, const struct buf *sts, const char *want)
{
    char sig[65];
    sigv4_signature(v->key, sts->data, sig);
    if (!sigv4_equal(sig, want))
        return chunk_fail(v, 1, MSG_MISMATCH_S3);
    memcpy(v->prev, sig, sizeof v->prev);
    return 0;
}

/* The current chunk's data is complete: its signature. */
static int chunk_end(struct dss_chunk_verifier *v)
{
    unsigned char d[32];
    unsigned int dl = 0;
    char hex[65];
    EVP_DigestFinal_ex(v->md, d, &dl);
    hex_encode(d, 32, hex);
    struct buf sts;
    buf_init(&sts, 1024);
    int rc = sigv4_chunk_string_to_sign(&sts, v->amz_date, v->scope, v->prev, hex) ? chunk_fail(v, 0, "out of memory")
                                                                                     : chunk_check(v, &sts, v->want);
    buf_free(&sts);
    return rc;
}

/* "<hex size>;chunk-signature=<64 hex>". */
static int chunk_header(struct dss_chunk_verifier *v)
{
    static const char ext[] = ";chunk-signature=";
    v->line[v->line_len] = '\0';
    size_t digits = strspn(v->line, "0123456789abcdefABCDEF");
    if (digits == 0 || digits > 12 || strncmp(v->line + digits, ext, sizeof ext - 1) != 0)
        return chunk_fail(v, 0, "An aws-chunked chunk header is not \"<hex size>;chunk-signature=<signature>\".");
    const char *sig = v->line + digits + sizeof ext - 1;
    if (strlen(sig) != 64)
        return chunk_fail(v, 1, MSG_MISMATCH_S3);
    memcpy(v->want, sig, 65);
    v->left = strtoull(v->line, NULL, 16);
    if (EVP_DigestInit_ex(v->md, EVP_sha256(), NULL) != 1)
        return chunk_fail(v, 0, "out of memory");
    if (v->left)
        v->state = CS_DATA;
    else if (chunk_end(v) == 0) /* the final, empty chunk: signed like any other */
        v->state = CS_TRAILER;
    return v->state == CS_ERROR ? -1 : 0;
}

/* One trailer line, or the empty line that ends the body. */
static int chunk_trailer_line(struct dss_chunk_verifier *v)
{
    static const char tsig[] = "x-amz-trailer-signature:";
    v->line[v->line_len] = '\0';
    if (v->line_len == 0) {
        if (!v->trailer) {
            v->state = CS_DONE;
            return 0;
        }
        if (!v->trailer_sig[0])
            return chunk_fail(v, 1, "The trailer of a signed aws-chunked body has no x-amz-trailer-signature.");
        char hex[65];
        sha256_hex(v->trailers.data ? v->trailers.data : "", v->trailers.len, hex);
        struct buf sts;
        buf_init(&sts, 1024);
        int rc = sigv4_trailer_string_to_sign(&sts, v->amz_date, v->scope, v->prev, hex) ? chunk_fail(v, 0, "out of memory")
                                                                                           : chunk_check(v, &sts, v->trailer_sig);
        buf_free(&sts);
        if (rc == 0)
            v->state = CS_DONE;
        return rc;
    }
    if (strncasecmp(v->line, tsig, sizeof tsig - 1) == 0) {
        const char *sig = v->line + sizeof tsig - 1;
        while (*sig == ' ')
            sig++;
        if (strlen(sig) != 64)
            return chunk_fail(v, 1, MSG_MISMATCH_S3);
        memcpy(v->trailer_sig, sig, 65);
        return 0;
    }
    char *colon = strchr(v->line, ':');
    if (!colon || colon == v->line)
        return chunk_fail(v, 0, "An aws-chunked trailer line is not \"name:value\".");
    for (char *p = v->line; p < colon; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *val = colon + 1;
    while (*val == ' ')
        val++;
    if (buf_append(&v->trailers, v->line, (size_t)(colon - v->line) + 1) || buf_printf(&v->trailers, "%s\n", val))
        return chunk_fail(v, 0, "The aws-chunked trailer is too large.");
    return 0;
}

int dss_chunks_feed(struct dss_chunk_verifier *v, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        switch (v->state) {
        case CS_SIZE:
        case CS_TRAILER:
            if (c == '\n' && v->line_len && v->line[v->line_len - 1] == '\r') {
                v->line_len--;
                if ((v->state == CS_SIZE ? chunk_header(v) : chunk_trailer_line(v)) != 0)
                    return -1;
                v->line_len = 0;
            } else if (v->line_len + 1 >= sizeof v->line) {
                return chunk_fail(v, 0, "An aws-chunked header line is too long.");
            } else {
                v->line[v->line_len++] = c;
            }
            break;
        case CS_DATA: {
            size_t take = n - i < v->left ? n - i : (size_t)v->left;
            EVP_DigestUpdate(v->md, p + i, take);
            v->left -= take;
            i += take - 1;
            if (v->left == 0)
                v->state = CS_DATA_CR;
            break;
        }
        case CS_DATA_CR:
            if (c != '\r')
                return chunk_fail(v, 0, "An aws-chunked chunk is longer than its header says.");
            v->state = CS_DATA_LF;
            break;
        case CS_DATA_LF:
            if (c != '\n')
                return chunk_fail(v, 0, "An aws-chunked chunk is longer than its header says.");
            if (chunk_end(v))
                return -1;
            v->state = CS_SIZE;
            break;
        case CS_DONE: return chunk_fail(v, 0, "Data follows the end of the aws-chunked body.");
        case CS_ERROR: return -1;
        }
    }
    return 0;
}

int dss_chunks_finish(struct dss_chunk_verifier *v)
{
    if (v->state == CS_DONE)
        return 0;
    if (v->state != CS_ERROR)
        chunk_fail(v, 0, "The request body ended inside an aws-chunked chunk.");
    return -1;
}

const char *dss_chunks_error(const struct dss_chunk_verifier *v, int *bad_signature)
{
    if (bad_signature)
        *bad_signature = v->bad_signature;
    return v->error;
}

/* ======================================================================================
 * The server's hooks
 * ====================================================================================== */

static enum dss_auth_mode auth_mode = DSS_AUTH_OFF;
static struct dss_keyring keyring;

int dss_auth_setup(enum dss_auth_mode mode, const char *credentials_path, char *err, size_t errlen)
{
    dss_keyring_free(&keyring);
    auth_mode = mode;
    if (credentials_path)
        return dss_keyring_load(&keyring, credentials_path, err, errlen);
    if (dss_keyring_add(&keyring, "default", "test", "test")) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void dss_auth_teardown(void)
{
    dss_keyring_free(&keyring);
    auth_mode = DSS_AUTH_OFF;
}

enum dss_auth_mode dss_auth_mode(void) { return auth_mode; }
size_t dss_auth_key_count(void) { return keyring.n; }

void dss_auth_instance_key(const char **access_key, const char **secret_key)
{
    /* The first pair, so an instance's calls pass --auth verify like any client's would. */
    *access_key = keyring.n ? keyring.keys[0].access_key : "test";
    *secret_key = keyring.n ? keyring.keys[0].secret_key : "test";
}

struct header_list {
    struct sigv4_header *h;
    size_t n;
};

static int collect_header(void *ctx, const char *name, const char *value)
{
    struct header_list *l = ctx;
    if (l->n == HEADERS_MAX)
        return 1;
    l->h[l->n].name = name;
    l->h[l->n].value = value;
    l->n++;
    return 0;
}

/* Verifies the call as family. Returns 0 or -1 (r holds why). */
static int verify_call(struct dss_call *c, enum dss_auth_family f, const char *service, const char *body,
                       size_t len, struct dss_auth_result *r)
{
    struct header_list l = {calloc(HEADERS_MAX, sizeof *l.h), 0};
    if (!l.h) {
        memset(r, 0, sizeof *r);
        r->err = DSS_E_InternalFailure;
        snprintf(r->message, sizeof r->message, "Out of memory.");
        return -1;
    }
    dss_call_headers(c, collect_header, &l);
    char sha[65];
    sha256_hex(body ? body : "", body ? len : 0, sha);
    struct dss_auth_input in = {f, dss_call_method(c), dss_call_uri(c), l.h, l.n, service,
                                f == DSS_AUTH_S3 ? NULL : sha, dss_clock_now_ms()};
    int rc = dss_auth_verify(&keyring, &in, r);
    if (rc)
        log_debug("auth: %s %s from %s refused: %s %s", dss_call_method(c), dss_call_uri(c), dss_call_peer(c),
                  dss_error_info(r->err)->code, r->message);
    free(l.h);
    return rc;
}

int dss_auth_check(struct dss_call *c, const struct dss_service *svc, int json, const char *body, size_t len)
{
    if (auth_mode == DSS_AUTH_OFF)
        return 0;
    enum dss_auth_family f = !svc ? (json ? DSS_AUTH_JSON : DSS_AUTH_QUERY)
                             : svc->ec2_dialect ? DSS_AUTH_EC2
                             : svc->query_version ? DSS_AUTH_QUERY
                                                  : DSS_AUTH_JSON;
    struct dss_auth_result r;
    int rc = verify_call(c, f, svc ? svc->name : NULL, body, len, &r);
    if (rc)
        dss_fail(c, r.err, "%s", r.message);
    dss_auth_result_free(&r);
    return rc;
}

int dss_auth_check_control(struct dss_call *c, const char *body, size_t len)
{
    if (strcmp(dss_call_path(c), "/_dss/health") == 0 || dss_guard_is_loopback(dss_call_peer(c)))
        return 0;
    if (auth_mode == DSS_AUTH_VERIFY) {
        struct dss_auth_result r;
        int rc = verify_call(c, DSS_AUTH_QUERY, NULL, body, len, &r);
        if (rc)
            dss_fail(c, r.err, "%s", r.message);
        dss_auth_result_free(&r);
        return rc;
    }
    return dss_fail(c, DSS_E_S3AccessDenied, "Control endpoints (/_dss/) answer only to loopback clients%s.",
                    " or, with --auth verify, to signed requests");
}

/* S3's error document, with the extras the verdict carries; a HEAD answer has no body. */
static void s3_reply(struct dss_call *c, enum dss_error err, const char *msg, const struct dss_auth_result *r)
{
    const struct dss_error_info *e = dss_error_info(err);
    dss_reply_header(c, "x-amz-request-id", dss_call_request_id(c));
    dss_reply_header(c, "x-amz-id-2", dss_call_request_id(c));
    if (strcmp(dss_call_method(c), "HEAD") == 0) {
        dss_reply_buffer(c, (unsigned)e->status, NULL, 0);
        return;
    }
    struct buf b;
    buf_init(&b, SIZE_MAX);
    xml_declaration(&b);
    xml_open(&b, "Error", NULL);
    xml_element(&b, "Code", e->code);
    xml_element(&b, "Message", msg);
    for (int i = 0; r && i < r->nextra; i++) {
        const char *name, *value = dss_auth_extra(r, i, &name);
        xml_element(&b, name, value);
    }
    xml_element(&b, "RequestId", dss_call_request_id(c));
    xml_element(&b, "HostId", dss_call_request_id(c));
    xml_close(&b, "Error");
    dss_reply_header(c, "Content-Type", "application/xml");
    size_t n = b.len;
    dss_reply_buffer(c, (unsigned)e->status, buf_steal(&b), n);
}

struct dss_auth_body {
    EVP_MD_CTX *md;                     /* x-amz-content-sha256 was a digest: the body's */
    char want[65];
    struct dss_chunk_verifier *chunks;  /* chunk-signed */
    int failed;                         /* a chunk failed while streaming */
};

void dss_auth_body_free(struct dss_auth_body *b)
{
    if (!b)
        return;
    EVP_MD_CTX_free(b->md);
    dss_chunks_free(b->chunks);
    free(b);
}

int dss_auth_check_rest(struct dss_call *c, struct dss_auth_body **body)
{
    *body = NULL;
    if (auth_mode == DSS_AUTH_OFF)
        return 0;
    struct dss_auth_result r;
    if (verify_call(c, DSS_AUTH_S3, "s3", NULL, 0, &r)) {
        s3_reply(c, r.err, r.message, &r);
        dss_auth_result_free(&r);
        return -1;
    }
    struct dss_auth_body *b = NULL;
    if (r.body_sha256_check || r.chunk_signed) {
        b = calloc(1, sizeof *b);
        if (b && r.body_sha256_check) {
            memcpy(b->want, r.body_sha256, sizeof b->want);
            if (!(b->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
                dss_auth_body_free(b);
                b = NULL;
            }
        }
        if (b && r.chunk_signed &&
            !(b->chunks = dss_chunks_new(r.signing_key, r.amz_date, r.scope, r.seed_signature, r.trailer_signed))) {
            dss_auth_body_free(b);
            b = NULL;
        }
        if (!b) {
            s3_reply(c, DSS_E_InternalFailure, "Out of memory.", NULL);
            dss_auth_result_free(&r);
            return -1;
        }
    }
    dss_auth_result_free(&r);
    *body = b;
    return 0;
}

int dss_auth_body_feed(struct dss_auth_body *b, const char *data, size_t len)
{
    if (!b)
        return 0;
    if (b->failed)
        return -1;
    if (b->md)
        EVP_DigestUpdate(b->md, data, len);
    if (b->chunks && dss_chunks_feed(b->chunks, data, len))
        b->failed = 1;
    return b->failed ? -1 : 0;
}

int dss_auth_body_end(struct dss_call *c, struct dss_auth_body *b)
{
    if (!b)
        return 0;
    if (b->chunks && (b->failed || dss_chunks_finish(b->chunks))) {
        int bad_sig = 0;
        const char *why = dss_chunks_error(b->chunks, &bad_sig);
        s3_reply(c, bad_sig ? DSS_E_SignatureDoesNotMatch : b->failed ? DSS_E_InvalidRequest : DSS_E_IncompleteBody,
                 why, NULL);
        return -1;
    }
    if (b->md) {
        unsigned char d[32];
        unsigned int dl = 0;
        char got[65];
        EVP_DigestFinal_ex(b->md, d, &dl);
        hex_encode(d, 32, got);
        if (strcmp(got, b->want) != 0) {
            struct dss_auth_result r = {.nextra = 0};
            add_extra(&r, "ClientComputedContentSHA256", b->want);
            add_extra(&r, "S3ComputedContentSHA256", got);
            s3_reply(c, DSS_E_XAmzContentSHA256Mismatch, kind_message(K_SHA_MISMATCH, DSS_AUTH_S3), &r);
            dss_auth_result_free(&r);
            return -1;
        }
    }
    return 0;
}

/* ======================================================================================
 * Guard: limits and the request watchdog
 * ====================================================================================== */

#define BODY_MIN_RATE 1024 /* bytes per second a body must average once its headers are in */

static struct dss_limits limits = DSS_LIMITS_DEFAULT;

void dss_guard_configure(const struct dss_limits *l) { limits = *l; }
const struct dss_limits *dss_guard_limits(void) { return &limits; }

enum dss_error dss_guard_throttle_error(const struct dss_service *svc)
{
    if (svc && strcmp(svc->name, "sqs") == 0)
        return DSS_E_RequestThrottled;
    if (svc && svc->ec2_dialect)
        return DSS_E_RequestLimitExceeded;
    return DSS_E_ThrottlingException;
}

int dss_guard_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!host)
        return 0;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

enum phase {
    G_WAITING, /* between requests: the next one's headers are due */
    G_HEADERS, /* the request line is in, the headers are due */
    G_BODY,    /* the headers are in, the body is due */
    G_DONE,    /* the request is in: being answered, or parked */
};

struct guard_conn {
    struct guard_conn *prev, *next;
    int fd;
    int shut;                  /* shut down by the watchdog */
    atomic_int phase;
    atomic_llong deadline_ms;  /* monotonic; in G_WAITING, G_HEADERS and G_BODY */
    atomic_llong body_start_ms;
    atomic_ullong body_bytes;
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_cond = PTHREAD_COND_INITIALIZER;
static struct guard_conn *guard_conns;
static pthread_t guard_thread;
static int guard_running, guard_stopping;

static long long guard_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Between requests a connection may be silent for the idle timeout (libmicrohttpd closes it
 * then), and then its next request's headers must arrive within the request timeout. */
static void guard_wait_next(struct guard_conn *g)
{
    atomic_store(&g->phase, G_WAITING);
    atomic_store(&g->deadline_ms, guard_now() + 1000LL * (limits.idle_timeout_s + limits.request_timeout_s));
}

void dss_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct guard_conn *g = calloc(1, sizeof *g);
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = g;
        if (!g)
            return;
        g->fd = info ? info->connect_fd : -1;
        guard_wait_next(g);
        pthread_mutex_lock(&guard_lock);
        g->next = guard_conns;
        if (guard_conns)
            guard_conns->prev = g;
        guard_conns = g;
        pthread_mutex_unlock(&guard_lock);
        return;
    }
    struct guard_conn *g = *socket_context;
    if (!g)
        return;
    pthread_mutex_lock(&guard_lock); /* the watchdog never touches a closed socket */
    if (g->prev)
        g->prev->next = g->next;
    else
        guard_conns = g->next;
    if (g->next)
        g->next->prev = g->prev;
    pthread_mutex_unlock(&guard_lock);
    free(g);
    *socket_context = NULL;
}

static struct guard_conn *guard_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void dss_guard_request_begin(struct MHD_Connection *conn)
{
    struct guard_conn *g = guard_of(conn);
    if (!g)
        return;
    long long due = guard_now() + 1000LL * limits.request_timeout_s;
    if (atomic_load(&g->phase) != G_WAITING || due < atomic_load(&g->deadline_ms))
        atomic_store(&g->deadline_ms, due);
    atomic_store(&g->phase, G_HEADERS);
}

void dss_guard_progress(struct MHD_Connection *conn, int first, size_t upload)
{
    struct guard_conn *g = guard_of(conn);
    if (!g)
        return;
    long long now = guard_now();
    if (first) {
        atomic_store(&g->phase, G_BODY);
        atomic_store(&g->body_start_ms, now);
        atomic_store(&g->body_bytes, 0);
        atomic_store(&g->deadline_ms, now + 1000LL * limits.request_timeout_s);
    } else if (upload) {
        unsigned long long got = atomic_fetch_add(&g->body_bytes, upload) + upload;
        atomic_store(&g->deadline_ms, atomic_load(&g->body_start_ms) + 1000LL * limits.request_timeout_s +
                                          (long long)(got / BODY_MIN_RATE) * 1000);
    } else if (atomic_load(&g->phase) != G_DONE) {
        atomic_store(&g->phase, G_DONE);
    }
}

/* The request has been answered (or dropped): the connection waits for the next one. */
void dss_guard_request_end(struct MHD_Connection *conn)
{
    struct guard_conn *g = guard_of(conn);
    if (g)
        guard_wait_next(g);
}

static void *guard_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&guard_lock);
    while (!guard_stopping) {
        long long now = guard_now();
        for (struct guard_conn *g = guard_conns; g; g = g->next) {
            int phase = atomic_load(&g->phase);
            if (phase == G_DONE || g->shut || g->fd < 0 || atomic_load(&g->deadline_ms) > now)
                continue;
            /* The handler's thread sees the socket end and closes the connection itself. */
            shutdown(g->fd, SHUT_RDWR);
            g->shut = 1;
            log_info("closed a connection whose request %s (--request-timeout %u s)",
                     phase == G_BODY ? "body arrived slower than 1 KiB/s" : "headers did not arrive in time",
                     limits.request_timeout_s);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 250 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&guard_cond, &guard_lock, &until);
    }
    pthread_mutex_unlock(&guard_lock);
    return NULL;
}

int dss_guard_start(void)
{
    guard_stopping = 0;
    if (pthread_create(&guard_thread, NULL, guard_main, NULL) != 0)
        return -1;
    guard_running = 1;
    return 0;
}

void dss_guard_stop(void)
{
    if (!guard_running)
        return;
    pthread_mutex_lock(&guard_lock);
    guard_stopping = 1;
    pthread_cond_signal(&guard_cond);
    pthread_mutex_unlock(&guard_lock);
    pthread_join(guard_thread, NULL);
    guard_running = 0;
}
