/* clock.c -- see clock.h. */
#include "clock.h"

#include <time.h>

static int64_t (*source)(void *);
static void *source_ctx;
static int virtual_mode;
static int64_t virtual_now;

static int64_t wall_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return sched_now_ms();
}

static const struct aws_clock the_clock = {clock_now, NULL};

int64_t sched_now_ms(void)
{
    if (virtual_mode)
        return virtual_now;
    return source ? source(source_ctx) : wall_now(NULL);
}

const struct aws_clock *sched_clock(void)
{
    return &the_clock;
}

void sched_clock_set(int64_t (*now)(void *ctx), void *ctx)
{
    virtual_mode = 0;
    source = now;
    source_ctx = ctx;
}

void sched_clock_virtual(int64_t start_ms)
{
    virtual_mode = 1;
    virtual_now = start_ms;
}

int sched_clock_is_virtual(void)
{
    return virtual_mode;
}

void sched_clock_advance_to(int64_t t)
{
    if (virtual_mode && t > virtual_now)
        virtual_now = t;
}

int64_t sched_clock_wall_ms_until(int64_t t)
{
    if (virtual_mode)
        return 0;
    int64_t d = t - sched_now_ms();
    return d > 0 ? d : 0;
}

int64_t sched_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
