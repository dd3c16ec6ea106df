/* sign.c -- SigV4 header signing for dss-worker and the in-worker aws; see sign.h.
 *
 * The URL is taken apart with libcurl's own URL parser (so the signed path and query are the
 * ones libcurl sends), the Host header is set explicitly to the value that was signed, and the
 * rest is lib/sigv4's algorithm.
 */
#include "sign.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "sigv4.h"
#include "util.h"

#define SIGNED_MAX 16 /* headers signed: the four of our own plus a few of the caller's */

void worker_sha256_hex(const void *p, size_t n, char out[65])
{
    sha256_hex(p, n, out);
}

int worker_sha256_file(FILE *f, char out[65])
{
    long at = ftell(f);
    if (at < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        EVP_DigestUpdate(ctx, chunk, n);
    int failed = ferror(f);
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    hex_encode(md, sizeof md, out);
    clearerr(f);
    return failed || fseek(f, at, SEEK_SET) ? -1 : 0;
}

/* "host" or "host:port", as the URL names it (libcurl sends the port only when the URL has one). */
static int url_host(CURLU *u, char *out, size_t n)
{
    char *host = NULL, *port = NULL;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        return -1;
    curl_url_get(u, CURLUPART_PORT, &port, 0); /* CURLUE_NO_PORT when the URL has none */
    int len = snprintf(out, n, "%s%s%s", host, port ? ":" : "", port ? port : "");
    curl_free(host);
    curl_free(port);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* The caller's headers worth signing: Content-Type and X-Amz-* ("Name: value" lines). Their
 * text is copied into store, which must outlive h. Returns how many were added to h. */
static size_t caller_headers(const struct curl_slist *l, struct sigv4_header *h, size_t room, struct buf *store,
                             size_t *offsets)
{
    size_t n = 0;
    for (; l && n < room; l = l->next) {
        const char *colon = strchr(l->data, ':');
        size_t name_len = colon ? (size_t)(colon - l->data) : 0;
        if (!colon || !colon[1] ||
            !((name_len == 12 && !strncasecmp(l->data, "content-type", 12)) || !strncasecmp(l->data, "x-amz-", 6)))
            continue;
        const char *value = colon + 1 + strspn(colon + 1, " \t");
        offsets[2 * n] = store->len;
        buf_append(store, l->data, name_len);
        buf_append(store, "", 1);
        offsets[2 * n + 1] = store->len;
        if (buf_append(store, value, strlen(value) + 1))
            return 0;
        n++;
    }
    /* The buffer may have moved while growing: point into it only now. */
    for (size_t i = 0; i < n; i++)
        h[i] = (struct sigv4_header){store->data + offsets[2 * i], store->data + offsets[2 * i + 1]};
    return n;
}

static int append_line(struct curl_slist **l, const char *name, const char *value)
{
    char line[8192];
    int len = snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *grown = len < 0 || (size_t)len >= sizeof line ? NULL : curl_slist_append(*l, line);
    if (!grown)
        return -1;
    *l = grown;
    return 0;
}

/* Signs method on host + path?query with the environment's key pair and appends the headers. */
static int sign_parts(struct curl_slist **headers, const char *method, const char *host, const char *path,
                      const char *query, const char *service, const char *region, const char *payload_hash)
{
    const char *access_key = getenv("AWS_ACCESS_KEY_ID"), *secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (!access_key || !*access_key || !secret_key) /* what the emulator's default keyring holds */
        access_key = secret_key = "test";
    if (token && !*token)
        token = NULL;
    char amz_date[17];
    sigv4_amz_date((long long)time(NULL) * 1000, amz_date);
    int s3 = strcmp(service, "s3") == 0;

    struct sigv4_header h[SIGNED_MAX];
    size_t offsets[2 * SIGNED_MAX];
    struct buf store, auth;
    buf_init(&store, 64 * 1024);
    buf_init(&auth, 64 * 1024);
    size_t nh = caller_headers(*headers, h, SIGNED_MAX - 4, &store, offsets);
    h[nh++] = (struct sigv4_header){"host", host};
    h[nh++] = (struct sigv4_header){"x-amz-date", amz_date};
    if (s3)
        h[nh++] = (struct sigv4_header){"x-amz-content-sha256", payload_hash};
    if (token)
        h[nh++] = (struct sigv4_header){"x-amz-security-token", token};
    /* S3 signs the path as sent; every other service normalises it first. */
    struct sigv4_request req = {method, path, query, h, nh, payload_hash, !s3};
    int rc = sigv4_authorization(&auth, &req, access_key, secret_key, region, service, amz_date) ||
                     append_line(headers, "Host", host) || append_line(headers, "X-Amz-Date", amz_date) ||
                     (s3 && append_line(headers, "X-Amz-Content-Sha256", payload_hash)) ||
                     (token && append_line(headers, "X-Amz-Security-Token", token)) ||
                     append_line(headers, "Authorization", auth.data)
                 ? -1
                 : 0;
    buf_free(&store);
    buf_free(&auth);
    return rc;
}

int worker_sign(struct curl_slist **headers, const char *method, const char *url, const char *service,
                const char *region, const char *payload_hash)
{
    char host[512];
    char *path = NULL, *query = NULL;
    CURLU *u = curl_url();
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS) == CURLUE_OK && !url_host(u, host, sizeof host) &&
        /* lib/sigv4 encodes the path itself: it wants it decoded (the query as sent) */
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_QUERY, &query, 0); /* CURLUE_NO_QUERY when there is none */
        rc = sign_parts(headers, method, host, path, query, service, region, payload_hash);
    }
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return rc;
}
