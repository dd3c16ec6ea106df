/* s3req.c -- one signed S3 REST request; see s3req.h. */
#include "s3req.h"

#include <stdlib.h>
#include <string.h>

#include "sign.h"

size_t curl_sink_write(char *p, size_t size, size_t n, void *ctx)
{
    struct curl_sink *b = ctx;
    size_t add = size * n;
    if (b->max && b->len + add > b->max)
        return 0;
    char *g = realloc(b->data, b->len + add + 1);
    if (!g)
        return 0;
    memcpy(g + b->len, p, add);
    b->len += add;
    g[b->len] = '\0';
    b->data = g;
    return add;
}

void s3_url_escape(char *out, size_t n, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (; *s && j + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.~", c) ||
            (keep_slash && c == '/')) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        }
    }
    out[j] = '\0';
}

/* An error answer that went into the download file: read it back into r->body. */
static void error_body_from_file(FILE *out, struct s3_reply *r)
{
    fflush(out);
    long n = ftell(out);
    if (n <= 0 || n >= 65536)
        return;
    free(r->body);
    r->body = malloc((size_t)n + 1);
    rewind(out);
    r->body_len = r->body ? fread(r->body, 1, (size_t)n, out) : 0;
    if (r->body)
        r->body[r->body_len] = '\0';
}

int s3_request(const char *endpoint, const char *region, const char *method, const char *bucket, const char *key,
               const char *query, FILE *in, curl_off_t size, FILE *out, struct s3_reply *r)
{
    char ekey[4096] = "", *url = r->url;
    memset(r, 0, sizeof *r);
    if (key)
        s3_url_escape(ekey, sizeof ekey, key, 1);
    snprintf(url, sizeof r->url, "%s/%s%s%s%s%s", endpoint, bucket ? bucket : "", key ? "/" : "", ekey,
             query ? "?" : "", query ? query : "");
    char hash[65];
    if (!in) {
        worker_sha256_hex("", 0, hash);
    } else if (worker_sha256_file(in, hash)) {
        r->outcome = S3_UNREADABLE;
        return -1;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    CURL *c = h ? curl_easy_init() : NULL;
    if (!c || worker_sign(&h, method, url, "s3", region, hash)) {
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        r->outcome = S3_UNSIGNABLE;
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* the path that was signed */
    curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (in) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READDATA, in);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, size);
    } else if (!strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
    }
    struct curl_sink body = {0};
    if (out) {
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    } else {
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_off_t ft = -1;
    curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
    r->mtime = ft > 0 ? (time_t)ft : 0;
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    r->body = body.data;
    r->body_len = body.len;
    if (rc != CURLE_OK) {
        r->outcome = S3_NO_CONNECTION;
        return -1;
    }
    r->outcome = S3_ANSWERED;
    if (r->status / 100 == 2)
        return 0;
    if (out) /* errors come back as XML in the body even when downloading into a file */
        error_body_from_file(out, r);
    return -1;
}

void s3_reply_free(struct s3_reply *r)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
