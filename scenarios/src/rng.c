/* rng.c -- see rng.h. */
#include "rng.h"

#include <math.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void rng_init(struct rng *r, uint64_t seed, const char *kind, const char *id, uint64_t a, uint64_t b)
{
    /* Domain tag, then each field length-prefixed so ("ab","c") and ("a","bc") differ. */
    static const char tag[] = "dss-scenario/rng/v1";
    const char *parts[2] = {kind ? kind : "", id ? id : ""};
    size_t lens[2] = {strlen(parts[0]), strlen(parts[1])};
    size_t total = sizeof tag + 8 + 8 + lens[0] + 8 + lens[1] + 16;
    unsigned char stack[512], d[SHA256_DIGEST_LENGTH];
    unsigned char *msg = total <= sizeof stack ? stack : malloc(total);
    if (!msg) { /* out of memory: still deterministic, from the fixed-size fields only */
        msg = stack;
        lens[0] = lens[1] = 0;
        total = sizeof tag + 8 + 8 + 8 + 16;
    }
    unsigned char *p = msg;
    memcpy(p, tag, sizeof tag);
    p += sizeof tag;
    put_le64(p, seed);
    p += 8;
    for (int i = 0; i < 2; i++) {
        put_le64(p, lens[i]);
        p += 8;
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    put_le64(p, a);
    put_le64(p + 8, b);
    SHA256(msg, total, d);
    if (msg != stack)
        free(msg);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++)
        s |= (uint64_t)d[i] << (8 * i);
    r->state = s;
}

uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double rng_uniform(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* A standard normal draw (Box-Muller; the second value is dropped so each draw uses a fixed
 * number of stream values). */
static double std_normal(struct rng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double rng_dist(struct rng *r, const struct scn_dist *d)
{
    double v;
    switch (d->kind) {
    case SCN_DIST_UNIFORM: v = d->a + (d->b - d->a) * rng_uniform(r); break;
    case SCN_DIST_EXPONENTIAL: v = -d->a * log(1.0 - rng_uniform(r)); break;
    case SCN_DIST_NORMAL: v = d->a + d->b * std_normal(r); break;
    case SCN_DIST_LOGNORMAL: v = d->a * exp(d->b * std_normal(r)); break;
    case SCN_DIST_FIXED:
    default: v = d->a; break;
    }
    if (v < d->lo)
        v = d->lo;
    if (v > d->hi)
        v = d->hi;
    return v;
}

double rng_key_uniform(uint64_t seed, const char *kind, const char *id, uint64_t a, uint64_t b)
{
    struct rng r;
    rng_init(&r, seed, kind, id, a, b);
    return rng_uniform(&r);
}
