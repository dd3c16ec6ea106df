/* util.h -- small helpers both programs use: encodings, digests, ids, timestamps, logging. */
#ifndef DSS_UTIL_H
#define DSS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Copies s into out (size bytes, at least 1), cut to fit and always NUL-terminated: what
 * snprintf(out, size, "%s", s) does, without a format to interpret (it runs on every request). */
void str_copy(char *out, size_t size, const char *s);
/* Percent-decoding. plus_is_space: decode '+' as ' ' (form bodies, not paths).
 * Writes at most strlen(s) bytes plus a NUL to out; returns the decoded length,
 * or -1 on a malformed escape. The output may hold NUL bytes. */
long url_decode(const char *s, size_t n, char *out, int plus_is_space);
/* Percent-encodes as RFC 3986 does (unreserved characters kept); keep_slash leaves '/' alone. */
int url_encode(struct buf *out, const char *s, size_t n, int keep_slash);
/* Appends s single-quoted for /bin/sh ('\'' stands for a quote): one word, whatever it holds. */
void shell_quote(struct buf *out, const char *s);

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Returns 1, or 0 with the offset of the first bad byte in *bad_at (if not
 * NULL). */
int utf8_valid(const char *s, size_t n, size_t *bad_at);

/* Base64 (standard alphabet, padded). Decode returns the length, or -1 on bad input;
 * out must hold 3 * (n / 4) + 3 bytes. */
int base64_encode(struct buf *out, const void *p, size_t n);
long base64_decode(const char *s, size_t n, unsigned char *out);

/* Lower-case hex digests; out must hold 33 / 65 bytes. */
void md5_hex(const void *p, size_t n, char out[33]);
/* OpenSSL's MD5 (an EVP_MD), fetched from its provider once, for EVP_DigestInit_ex():
 * EVP_md5() makes every digest fetch it again (a lock and a lookup in OpenSSL 3). */
struct evp_md_st;
const struct evp_md_st *md5_method(void);
void sha256_hex(const void *p, size_t n, char out[65]);
void hex_encode(const unsigned char *p, size_t n, char *out);
/* The inverse of hex_encode: lower-case digits only, so one value has one spelling. Returns the
 * number of bytes written to out (n / 2), or -1 on an odd length or any other character. */
long hex_decode(const char *s, size_t n, unsigned char *out);

/* A random RFC 4122 UUID in lower case; out must hold 37 bytes. */
void uuid_string(char out[37]);

/* Formats epoch milliseconds as ISO 8601 UTC with milliseconds: 2026-11-26T07:05:20.123Z. */
void iso8601_ms(int64_t epoch_ms, char out[32]);
/* Formats epoch milliseconds as an RFC 1123 date (HTTP Date, S3 Last-Modified). */
void http_date(int64_t epoch_ms, char out[40]);

/* Logging to stderr with a level filter. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern enum log_level log_threshold;
int log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
    do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
