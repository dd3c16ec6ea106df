/* fuzz_sigv4_header.c -- the request verifier (emulator/auth.c) and the parsers under it
 * (lib/sigv4: the Authorization header, presigned X-Amz-* parameters, the query without its
 * signature, X-Amz-Date). The input is a request: the first byte picks the family (JSON, Query,
 * EC2, S3) and the clock, then lines "METHOD", "target" and "Name: value" headers. Never
 * crashes; a refusal always names an auth error with a message; what the parsers accept is
 * well-formed (signatures no longer than 64, a signature-free query without a signature). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "sigv4.h"

#define MAXH 32

static struct dss_keyring keys;

static void parsers(const char *target, const struct sigv4_header *h, size_t nh)
{
    struct sigv4_auth a;
    char err[256];
    for (size_t i = 0; i < nh; i++)
        if (sigv4_parse_authorization(h[i].value, &a, err, sizeof err) == 0 &&
            (strlen(a.signature) > 64 || !a.cred.access_key[0] || !a.signed_headers[0]))
            abort();
    const char *q = strchr(target, '?');
    q = q ? q + 1 : "";
    if (sigv4_parse_presigned(q, &a, err, sizeof err) == 0 && strlen(a.signature) > 64)
        abort();
    struct buf b;
    buf_init(&b, 1 << 20);
    /* The signature-free query never carries a signature, and is never longer. */
    if (sigv4_query_without_signature(&b, q) == 0 &&
        (b.len > strlen(q) || (sigv4_parse_presigned(b.data ? b.data : "", &a, err, sizeof err) == 0)))
        abort();
    buf_free(&b);
    long long ms;
    for (size_t i = 0; i < nh; i++)
        if (sigv4_parse_amz_date(h[i].value, &ms) == 0 && strlen(h[i].value) != 16)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!keys.n && dss_keyring_add(&keys, "default", "test", "test"))
        abort();
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    enum dss_auth_family f = (enum dss_auth_family)(data[0] & 3);
    int64_t now = 1369353600000LL + (int64_t)(data[0] >> 2) * 300000; /* 2013-05-24 onwards */
    const char *method = "GET", *target = "/";
    struct sigv4_header h[MAXH];
    size_t nh = 0;
    int line = 0;
    for (char *s = text, *next; s; s = next, line++) {
        next = strchr(s, '\n');
        if (next)
            *next++ = '\0';
        if (line == 0)
            method = s;
        else if (line == 1)
            target = s;
        else if (nh < MAXH && strchr(s, ':')) {
            char *colon = strchr(s, ':');
            *colon = '\0';
            h[nh].name = s;
            h[nh].value = colon[1] == ' ' ? colon + 2 : colon + 1;
            nh++;
        }
    }
    parsers(target, h, nh);
    struct dss_auth_input in = {f, method, target, h, nh, f == DSS_AUTH_S3 ? "s3" : NULL,
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", now};
    struct dss_auth_result r;
    if (dss_auth_verify(&keys, &in, &r) != 0 && (r.err == DSS_E_InternalFailure || !r.message[0]))
        abort();
    dss_auth_result_free(&r);
    free(text);
    return 0;
}
