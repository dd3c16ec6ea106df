/* clock.c -- see clock.h. "now" = epoch at the anchor + speed x monotonic time elapsed since,
 * so the clock never steps backwards when the system time is changed.
 *
 * Simulated mode (dss-emulator --clock simulated): "now" is a number that only the barrier
 * (simclock.c) moves forward; no wall-clock deadline is ever due, so every wait ends through
 * the barrier.
 *
 * The anchor (epoch, monotonic time, speed) changes when the speed does, from a request
 * thread, while every other thread reads it: a mutex keeps the three consistent (an
 * uncontended lock costs tens of nanoseconds, nothing beside a request). */
#include "clock.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t clock_lock = PTHREAD_MUTEX_INITIALIZER;
static double clock_speed = 1.0;
static int64_t start_epoch_ms;
static int64_t start_mono_ms;
static int started;
static int simulated;
static int64_t sim_now_ms;

/* A wall-clock wait that never ends by itself: a simulated deadline is met by the barrier. */
#define SIM_NEVER_WALL_MS ((int64_t)86400000 * 365)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Re-anchors at the current wall time; clock_lock held. */
static void anchor_at_wall_time(double speed)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    start_epoch_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    start_mono_ms = mono_ms();
    clock_speed = speed > 0 ? speed : 1.0;
    started = 1;
}

/* The clock's reading; clock_lock held. */
static int64_t now_locked(void)
{
    if (simulated)
        return sim_now_ms;
    if (!started)
        anchor_at_wall_time(1.0);
    return start_epoch_ms + (int64_t)((double)(mono_ms() - start_mono_ms) * clock_speed);
}

void dss_clock_init(double speed)
{
    pthread_mutex_lock(&clock_lock);
    anchor_at_wall_time(speed);
    pthread_mutex_unlock(&clock_lock);
}

int64_t dss_clock_now_ms(void)
{
    pthread_mutex_lock(&clock_lock);
    int64_t now = now_locked();
    pthread_mutex_unlock(&clock_lock);
    return now;
}

int64_t dss_clock_wall_ms_until(int64_t t)
{
    pthread_mutex_lock(&clock_lock);
    int64_t d = t - now_locked();
    double speed = clock_speed;
    int sim = simulated;
    pthread_mutex_unlock(&clock_lock);
    if (d <= 0)
        return 0;
    if (sim)
        return SIM_NEVER_WALL_MS;
    double wall = (double)d / speed;
    return wall < 4e18 ? (int64_t)wall + 1 : (int64_t)4e18; /* a slow clock: no overflowing cast */
}

double dss_clock_speed(void)
{
    pthread_mutex_lock(&clock_lock);
    double speed = clock_speed;
    pthread_mutex_unlock(&clock_lock);
    return speed;
}

void dss_clock_set_speed(double speed)
{
    if (!(speed > 0) || dss_clock_is_simulated()) /* NaN too; a simulated clock has no speed */
        return;
    pthread_mutex_lock(&clock_lock);
    int64_t now = now_locked(); /* re-anchor so the clock keeps going from here */
    start_epoch_ms = now;
    start_mono_ms = mono_ms();
    clock_speed = speed;
    pthread_mutex_unlock(&clock_lock);
}

void dss_clock_init_simulated(int64_t start_ms)
{
    pthread_mutex_lock(&clock_lock);
    simulated = 1;
    sim_now_ms = start_ms;
    started = 1;
    pthread_mutex_unlock(&clock_lock);
}

int dss_clock_is_simulated(void)
{
    pthread_mutex_lock(&clock_lock);
    int sim = simulated;
    pthread_mutex_unlock(&clock_lock);
    return sim;
}

void dss_clock_advance_to(int64_t t)
{
    pthread_mutex_lock(&clock_lock);
    if (simulated && t > sim_now_ms)
        sim_now_ms = t;
    pthread_mutex_unlock(&clock_lock);
}
