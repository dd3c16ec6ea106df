/* checksum.c -- the digests S3 keeps of an object, computed while its bytes stream by: MD5
 * (the ETag) and at most one of the flexible checksums, CRC32, CRC32C, CRC64NVME, SHA-1 or
 * SHA-256 (x-amz-checksum-*), base64 of the big-endian value as S3 sends it.
 *
 * MD5 and SHA come from OpenSSL. The CRCs are a few lines each rather than a dependency:
 * one table-driven "slicing-by-8" loop serves all three, since each is a reflected CRC with
 * an all-ones start and final XOR, differing only in polynomial and width.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3.h"
#include "util.h"

struct crc_def {
    uint64_t poly; /* reflected */
    int bytes;     /* width */
    uint64_t table[8][256];
};

static struct crc_def crc32_def = {0xEDB88320u, 4, {{0}}};
static struct crc_def crc32c_def = {0x82F63B78u, 4, {{0}}};
static struct crc_def crc64_def = {0x9A6C9329AC4BC9B5ull, 8, {{0}}};
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void crc_table(struct crc_def *c)
{
    for (int b = 0; b < 256; b++) {
        uint64_t v = (uint64_t)b;
        for (int k = 0; k < 8; k++)
            v = v & 1 ? (v >> 1) ^ c->poly : v >> 1;
        c->table[0][b] = v;
    }
    /* table[k][b]: the CRC of byte b followed by k zero bytes. */
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            c->table[k][b] = (c->table[k - 1][b] >> 8) ^ c->table[0][c->table[k - 1][b] & 0xFF];
}

/* SHA-1 and SHA-256 fetched from OpenSSL's provider once, as MD5 is (util.h: md5_method()):
 * EVP_sha1() and EVP_sha256() make EVP_DigestInit_ex() fetch the implementation again on every
 * call (a lock and a lookup in OpenSSL 3), once per PUT. NULL (fetch failed): the legacy
 * EVP_sha1() / EVP_sha256() path is used. */
static EVP_MD *sha1_md, *sha256_md;

static void make_tables(void)
{
    crc_table(&crc32_def);
    crc_table(&crc32c_def);
    crc_table(&crc64_def);
    sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* Eight bytes per step: XOR them into the register, then look each up in the table for its
 * distance from the end. Works for any width up to 64 bits. */
static uint64_t crc_update(const struct crc_def *c, uint64_t crc, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
                     (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
        w ^= crc;
        crc = c->table[7][w & 0xFF] ^ c->table[6][(w >> 8) & 0xFF] ^ c->table[5][(w >> 16) & 0xFF] ^
              c->table[4][(w >> 24) & 0xFF] ^ c->table[3][(w >> 32) & 0xFF] ^ c->table[2][(w >> 40) & 0xFF] ^
              c->table[1][(w >> 48) & 0xFF] ^ c->table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = c->table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

static const struct {
    enum s3_algo algo;
    const char *name;
    const char *lower;
} algos[] = {
    {S3_CK_CRC32, "CRC32", "crc32"},       {S3_CK_CRC32C, "CRC32C", "crc32c"},
    {S3_CK_CRC64NVME, "CRC64NVME", "crc64nvme"}, {S3_CK_SHA1, "SHA1", "sha1"},
    {S3_CK_SHA256, "SHA256", "sha256"},
};

const char *s3_algo_name(enum s3_algo a)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (algos[i].algo == a)
            return algos[i].name;
    return NULL;
}

enum s3_algo s3_algo_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof algos / sizeof algos[0]; i++)
        if (strcasecmp(algos[i].name, name) == 0)
            return algos[i].algo;
    return S3_CK_NONE;
}

void s3_algo_header(enum s3_algo a, char *out, size_t n)
{
    for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
        if (algos[i].algo == a)
            snprintf(out, n, "x-amz-checksum-%s", algos[i].lower);
}

void s3_algo_member(enum s3_algo a, char *out, size_t n)
{
    snprintf(out, n, "Checksum%s", s3_algo_name(a) ? s3_algo_name(a) : "");
}

static const struct crc_def *crc_of(enum s3_algo a)
{
    return a == S3_CK_CRC32 ? &crc32_def : a == S3_CK_CRC32C ? &crc32c_def : a == S3_CK_CRC64NVME ? &crc64_def : NULL;
}

/* All ones, in the CRC's width (a wider register would leak into the next bytes). */
static uint64_t crc_start(const struct crc_def *c)
{
    return c->bytes == 8 ? ~0ull : 0xFFFFFFFFull;
}

int s3_digest_init(struct s3_digest *d, enum s3_algo algo)
{
    pthread_once(&tables_once, make_tables);
    memset(d, 0, sizeof *d);
    d->algo = algo;
    d->crc = crc_of(algo) ? crc_start(crc_of(algo)) : 0;
    d->md5 = EVP_MD_CTX_new();
    if (!d->md5 || !EVP_DigestInit_ex(d->md5, md5_method(), NULL))
        goto fail;
    if (algo == S3_CK_SHA1 || algo == S3_CK_SHA256) {
        const EVP_MD *sha = algo == S3_CK_SHA1 ? (sha1_md ? sha1_md : EVP_sha1()) : (sha256_md ? sha256_md : EVP_sha256());
        d->sha = EVP_MD_CTX_new();
        if (!d->sha || !EVP_DigestInit_ex(d->sha, sha, NULL))
            goto fail;
    }
    return 0;
fail:
    s3_digest_cleanup(d);
    return -1;
}

void s3_digest_update(struct s3_digest *d, const void *p, size_t n)
{
    if (!d->md5)
        return;
    EVP_DigestUpdate(d->md5, p, n);
    const struct crc_def *c = crc_of(d->algo);
    if (c)
        d->crc = crc_update(c, d->crc, p, n);
    else if (d->sha)
        EVP_DigestUpdate(d->sha, p, n);
}

/* The big-endian bytes of a finished CRC. */
static size_t crc_bytes(const struct crc_def *c, uint64_t crc, unsigned char *out)
{
    crc = ~crc & (c->bytes == 8 ? ~0ull : 0xFFFFFFFFull);
    for (int i = 0; i < c->bytes; i++)
        out[i] = (unsigned char)(crc >> (8 * (c->bytes - 1 - i)));
    return (size_t)c->bytes;
}

void s3_digest_final(struct s3_digest *d, char md5_hex[33], char checksum[96])
{
    unsigned char raw[64];
    unsigned int len = 0;
    md5_hex[0] = checksum[0] = '\0';
    if (d->md5 && EVP_DigestFinal_ex(d->md5, raw, &len))
        hex_encode(raw, len, md5_hex);
    size_t n = 0;
    const struct crc_def *c = crc_of(d->algo);
    if (c) {
        n = crc_bytes(c, d->crc, raw);
    } else if (d->sha && EVP_DigestFinal_ex(d->sha, raw, &len)) {
        n = len;
    }
    if (n) {
        struct buf b;
        buf_init(&b, 96);
        base64_encode(&b, raw, n);
        snprintf(checksum, 96, "%s", b.data ? b.data : "");
        buf_free(&b);
    }
    s3_digest_cleanup(d);
}

void s3_digest_cleanup(struct s3_digest *d)
{
    EVP_MD_CTX_free(d->md5);
    EVP_MD_CTX_free(d->sha);
    d->md5 = d->sha = NULL;
}

size_t s3_checksum_raw(enum s3_algo a, const void *p, size_t n, unsigned char out[32])
{
    pthread_once(&tables_once, make_tables);
    const struct crc_def *c = crc_of(a);
    if (c)
        return crc_bytes(c, crc_update(c, crc_start(c), p, n), out);
    unsigned int len = 0;
    if (a == S3_CK_SHA1 || a == S3_CK_SHA256)
        EVP_Digest(p, n, out, &len, a == S3_CK_SHA1 ? EVP_sha1() : EVP_sha256(), NULL);
    return len;
}
