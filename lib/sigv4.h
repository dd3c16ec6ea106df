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
 * Checked against the official test suite copied into fixtures/sigv4 (tests/unit/test_sigv4.c),
 * both forms: header signing (Authorization) and query signing (presigned URLs, whose X-Amz-*
 * parameters sigv4_presign_params() writes).
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

/* Query signing: appends X-Amz-Algorithm, -Credential, -Date, -Expires, -Security-Token (when
 * token is not NULL) and -SignedHeaders, percent-encoded, to the query being built in out (with a
 * leading '&' when out is not empty). The canonical request is then computed over the query
 * with these parameters; the signature goes into X-Amz-Signature. Returns 0 or -1. */
int sigv4_presign_params(struct buf *out, const char *access_key, const char *scope, const char *amz_date,
                         long expires_s, const char *signed_headers, const char *token);

/* Formats epoch milliseconds as the X-Amz-Date form "20150830T123600Z"; out holds 17 bytes. */
void sigv4_amz_date(long long epoch_ms, char out[17]);

/* ---- Verification: the emulator's side ----
 *
 * What a verifier needs beyond the signing steps above: the Authorization header and the
 * presigned X-Amz-* parameters read back, the query without its signature, the date, the signed
 * headers picked out of those that arrived, a constant-time comparison, and the strings to sign
 * of streaming (aws-chunked) payloads. */

#define SIGV4_KEY_MAX 128 /* longest access key id accepted */

struct sigv4_credential {
    char access_key[SIGV4_KEY_MAX + 1];
    char date[9];        /* YYYYMMDD */
    char region[64];
    char service[64];
    char terminator[16]; /* "aws4_request" */
};

struct sigv4_auth {
    struct sigv4_credential cred;
    char credential[512];      /* the Credential as sent, for messages */
    char signed_headers[2048]; /* ';'-joined lower-case names, as sent */
    char signature[65];        /* as sent; "" when longer than a signature can be */
    char amz_date[17];         /* presigned: X-Amz-Date */
    long long expires_s;       /* presigned: X-Amz-Expires; -1 if absent or not a number */
};

/* Reads "AKID/20150830/us-east-1/iam/aws4_request" (n bytes). Returns 0, or -1 unless it has
 * exactly five non-empty '/'-separated parts that fit. */
int sigv4_parse_credential(const char *s, size_t n, struct sigv4_credential *out);

/* Reads an Authorization header value "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...". Returns 0; 1 when the value uses another scheme (out untouched); -1 when it is
 * malformed, with AWS's wording of why in err. */
int sigv4_parse_authorization(const char *value, struct sigv4_auth *out, char *err, size_t errlen);

/* Reads the presigned-URL parameters (X-Amz-Algorithm, -Credential, -Date, -Expires,
 * -SignedHeaders, -Signature) from a raw query string. Returns 0; 1 when the query carries none
 * of them; -1 when some are missing or malformed, with why in err. */
int sigv4_parse_presigned(const char *query, struct sigv4_auth *out, char *err, size_t errlen);

/* Appends a raw query string to out without its X-Amz-Signature pairs (the canonical query of a
 * presigned request). Returns 0 or -1 (buffer cap). */
int sigv4_query_without_signature(struct buf *out, const char *query);

/* "20150830T123600Z" as epoch milliseconds. Returns 0, or -1 if it is not a valid date. */
int sigv4_parse_amz_date(const char *s, long long *epoch_ms);

/* Copies into out (room for n) the headers among all[0..n) whose names the ';'-joined
 * signed_headers lists, each name once, repeated headers in arrival order. Returns how many. */
size_t sigv4_pick_headers(const struct sigv4_header *all, size_t n, const char *signed_headers,
                          struct sigv4_header *out);

/* 1 if the strings are equal, compared in time that does not depend on where they differ. */
int sigv4_equal(const char *a, const char *b);

/* Streaming payloads (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]): the
 * string to sign of one chunk, chained from the previous signature (the seed signature for the
 * first chunk), "AWS4-HMAC-SHA256-PAYLOAD\n date\n scope\n prev\n hash("")\n hash(chunk)"; and of
 * the trailer, "AWS4-HMAC-SHA256-TRAILER\n date\n scope\n prev\n hash(trailer lines)". */
int sigv4_chunk_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                               const char *prev_signature, const char *chunk_hash);
int sigv4_trailer_string_to_sign(struct buf *out, const char *amz_date, const char *scope,
                                 const char *prev_signature, const char *trailer_hash);

#endif
