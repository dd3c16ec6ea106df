/* clock.c -- see clock.h. "now" = epoch at start + speed x monotonic time elapsed since, so
 * the clock never steps backwards when the system time is changed. */
#include "clock.h"

#include <time.h>

static double clock_speed = 1.0;
static int64_t start_epoch_ms;
static int64_t start_mono_ms;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dss_clock_init(double speed)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    start_epoch_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    start_mono_ms = mono_ms();
    clock_speed = speed > 0 ? speed : 1.0;
}

int64_t dss_clock_now_ms(void)
{
    if (start_mono_ms == 0)
        dss_clock_init(1.0);
    return start_epoch_ms + (int64_t)((double)(mono_ms() - start_mono_ms) * clock_speed);
}

int64_t dss_clock_wall_ms_until(int64_t t)
{
    int64_t d = t - dss_clock_now_ms();
    if (d <= 0)
        return 0;
    return (int64_t)((double)d / clock_speed) + 1;
}
