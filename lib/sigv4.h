/* sigv4.h -- AWS Signature Version 4, split into the steps both sides need.
 *
 * The client (lib/awsclient.c) signs every request; the emulator can later verify a request by
 * rebuilding the same canonical request from what it received and comparing signatures. So each
 * step of the algorithm is its own function:
 *
 *   canonical request  -> sigv4_canonical_request()
 *   string to sign     -> sigv4_string_to_sign()
 *   signing key        -> sigv4_signing_key()
 *   signature          -> sigv4_signature()
 *   Authorization      -> sigv4_authorization()   (all of the above in one call)
 *
 * Checked against the official test suite copied into fixtures/sigv4 (tests/unit/test_sigv4.c).
 * Only header signing (the Authorization header) is implemented, not presigned URLs.
 */
#ifndef DSS_SIGV4_H
#define DSS_SIGV4_H

#include <stddef.h>

#include "buf.h"

struct sigv4_header {
    const char *name;  /* any case; canonicalised to lower case */
    const char *value; /* raw; may hold folded lines and runs of spaces */
};

struct sigv4_request {
    const char *method;             /* "GET", "POST" */
    const char *path;               /* as sent, without the query; NULL or "" means "/" */
    const char *query;              /* as sent, without '?'; may be NULL */
    const struct sigv4_header *headers; /* every header to sign, incl. host and x-amz-date */
    size_t nheaders;
    const char *payload_hash;       /* lower-case hex SHA-256 of the body */
    int normalize_path;             /* remove dot segments and empty segments (all but S3) */
};

/* Writes the canonical request to out and the ';'-joined signed header names to signed_headers
 * (may be NULL). Returns 0, or -1 when a buffer cap is hit or the query holds a bad escape. */
int sigv4_canonical_request(const struct sigv4_request *r, struct buf *out, struct buf *signed_headers);

/* "20150830/us-east-1/service/aws4_request" for amz_date "20150830T123600Z". */
int sigv4_scope(struct buf *out, const char *amz_date, const char *region, const char *service);

/* AWS4-HMAC-SHA256 \n amz_date \n scope \n hex(sha256(canonical request)). */
int sigv4_string_to_sign(struct buf *out, const char *amz_date, const char *scope, const char *canonical_request);

/* HMAC chain "AWS4"+secret -> date (first 8 chars of amz_date) -> region -> service -> aws4_request. */
void sigv4_signing_key(const char *secret, const char *amz_date, const char *region, const char *service,
                       unsigned char key[32]);

/* Lower-case hex HMAC-SHA256(key, string_to_sign); out holds 65 bytes. */
void sigv4_signature(const unsigned char key[32], const char *string_to_sign, char out[65]);

/* The whole algorithm: writes the Authorization header value
 * "AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=a;b, Signature=hex" to out.
 * Returns 0 or -1 (buffer cap, bad query escape). */
int sigv4_authorization(struct buf *out, const struct sigv4_request *r, const char *access_key,
                        const char *secret_key, const char *region, const char *service,
                        const char *amz_date);

/* Formats epoch milliseconds as the X-Amz-Date form "20150830T123600Z"; out holds 17 bytes. */
void sigv4_amz_date(long long epoch_ms, char out[17]);

#endif
