/* util.c -- see util.h. */
#include "util.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

void str_copy(char *out, size_t size, const char *s)
{
    size_t len = strnlen(s, size - 1);
    memcpy(out, s, len);
    out[len] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long url_decode(const char *s, size_t n, char *out, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (s[i] == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int url_encode(struct buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (plain) {
            if (buf_append(out, &c, 1))
                return -1;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (buf_append(out, e, 3))
                return -1;
        }
    }
    return 0;
}

int utf8_valid(const char *s, size_t n, size_t *bad_at)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        /* The second byte's range excludes overlong forms, surrogates and values past U+10FFFF. */
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        int ok = len != 0 && n - i >= len && p[i + 1] >= lo && p[i + 1] <= hi;
        for (size_t k = 2; ok && k < len; k++)
            ok = p[i + k] >= 0x80 && p[i + k] <= 0xBF;
        if (!ok) {
            if (bad_at)
                *bad_at = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

int base64_encode(struct buf *out, const void *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (unsigned)s[i + 1] << 8;
        if (left > 2)
            v |= s[i + 2];
        char q[4] = {tbl[v >> 18 & 63], tbl[v >> 12 & 63], left > 1 ? tbl[v >> 6 & 63] : '=',
                     left > 2 ? tbl[v & 63] : '='};
        if (buf_append(out, q, 4))
            return -1;
    }
    if (n == 0 && buf_append(out, "", 0))
        return -1;
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long base64_decode(const char *s, size_t n, unsigned char *out)
{
    if (n % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad) {
                return -1; /* data after padding */
            } else if ((v[k] = b64val((unsigned char)s[i + k])) < 0) {
                return -1;
            }
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void shell_quote(struct buf *out, const char *s)
{
    buf_puts(out, "'");
    for (; *s; s++)
        if (*s == '\'')
            buf_puts(out, "'\\''");
        else
            buf_append(out, s, 1);
    buf_puts(out, "'");
}

long hex_decode(const char *s, size_t n, unsigned char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *d = s[i] ? strchr(hex, s[i]) : NULL;
        if (!d)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)((d - hex) << 4);
        else
            out[i / 2] |= (unsigned char)(d - hex);
    }
    return (long)(n / 2);
}

/* The fetch with EVP_md5() on every digest was 1.4 % of an SQS SendMessage's CPU. */
static EVP_MD *md5_fetched;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void fetch_md5(void)
{
    md5_fetched = EVP_MD_fetch(NULL, "MD5", NULL);
}

const EVP_MD *md5_method(void)
{
    pthread_once(&md5_once, fetch_md5);
    return md5_fetched ? md5_fetched : EVP_md5(); /* the fetch failed: the legacy path */
}

void md5_hex(const void *p, size_t n, char out[33])
{
    unsigned char d[16];
    unsigned int len = 0;
    EVP_Digest(p, n, d, &len, md5_method(), NULL);
    hex_encode(d, 16, out);
}

void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    SHA256(p, n, d);
    hex_encode(d, 32, out);
}

/* Random bytes for ids from a small per-thread pool filled by getrandom(2): one system call
 * per 16 ids. libuuid reseeds from getpid(), getppid(), getuid() and getrandom() on every
 * call (four system calls per id, a measurable share of a SendMessage, which makes two ids);
 * OpenSSL's RAND_bytes avoided that but its DRBG costs ~5 ms of CPU to set up on first use,
 * which landed in start-up (the instance metadata secret). The pool's bytes are the kernel's
 * CSPRNG output, each used once; libuuid is the fallback if getrandom ever fails. */
static int random_id_bytes(unsigned char out[16])
{
    static __thread unsigned char pool[256];
    static __thread size_t used = sizeof pool;
    if (used == sizeof pool) {
        ssize_t n = getrandom(pool, sizeof pool, 0);
        if (n != (ssize_t)sizeof pool)
            return -1;
        used = 0;
    }
    memcpy(out, pool + used, 16);
    memset(pool + used, 0, 16); /* a secret (IMDS token key) must not stay readable in the pool */
    used += 16;
    return 0;
}

void uuid_string(char out[37])
{
    uuid_t u = {0}; /* filled by either branch; initialised so cppcheck sees it */
    if (random_id_bytes(u) == 0) {
        u[6] = (unsigned char)((u[6] & 0x0F) | 0x40); /* version 4 */
        u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    } else {
        uuid_generate_random(u);
    }
    uuid_unparse_lower(u, out);
}

void iso8601_ms(int64_t epoch_ms, char out[32])
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(epoch_ms % 1000));
}

void http_date(int64_t epoch_ms, char out[40])
{
    time_t t = (time_t)(epoch_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

enum log_level log_threshold = LOG_INFO;

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    if (level > log_threshold)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[32];
    iso8601_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %s %s\n", when, tags[level], line);
}
