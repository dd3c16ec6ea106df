/* rng.h -- deterministic randomness keyed on stable identities.
 *
 * Every random choice a scenario makes (a generated job's run time, whether attempt 2 of job
 * "job-7" is interrupted, which API call fails) is a pure function of the seed and the choice's
 * identity: (kind, id, a, b) -- e.g. ("fault.0", "job-7", attempt 2, tick 0). The identity is
 * hashed with SHA-256 (libcrypto) into the 64-bit state of a SplitMix64 stream, so a decision
 * never depends on what was decided before it, on timing, or on arrival order: evaluating the
 * same identities in any order gives the same answers. Streams of different identities are
 * independent for all practical purposes.
 *
 * SplitMix64 (Steele, Lea, Flood 2014) is a counter-based generator: state += golden gamma, then a
 * bijective mix; small, fast and good enough for fault decisions (not for cryptography).
 */
#ifndef DSS_SCN_RNG_H
#define DSS_SCN_RNG_H

#include <stdint.h>

#include "scenario.h"

struct rng {
    uint64_t state;
};

/* A stream for one identity. kind and id are strings (id may be NULL, same as ""). */
void rng_init(struct rng *r, uint64_t seed, const char *kind, const char *id, uint64_t a, uint64_t b);
uint64_t rng_next(struct rng *r);
/* A double in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);
/* A draw from a distribution, clamped into [d->lo, d->hi]. */
double rng_dist(struct rng *r, const struct scn_dist *d);

/* One-shot helpers: the first uniform of the identity's stream. */
double rng_key_uniform(uint64_t seed, const char *kind, const char *id, uint64_t a, uint64_t b);

#endif
