/* clock.h -- the emulator's one notion of "now".
 *
 * Every deadline (visibility timeouts, delays, long-poll ends, later boot delays and Spot
 * notices) is computed from dss_clock_now_ms(), so a later issue can run the clock faster
 * than wall time or drive it from a scenario by changing this file alone.
 */
#ifndef DSS_CLOCK_H
#define DSS_CLOCK_H

#include <stdint.h>

/* Starts the clock at the current wall time, running speed times faster than wall time. */
void dss_clock_init(double speed);
/* Epoch milliseconds on the emulator's clock. */
int64_t dss_clock_now_ms(void);
/* How many wall-clock milliseconds until the emulator's clock reaches t (0 if it has). */
int64_t dss_clock_wall_ms_until(int64_t t);

/* The clock's speed factor, and a new one from now on (the clock does not jump; calls that
 * are already parked keep the wall-clock deadline they computed). */
double dss_clock_speed(void);
void dss_clock_set_speed(double speed);

/* Simulated mode: the clock starts at start_ms and moves only through dss_clock_advance_to()
 * (the barrier, simclock.c); dss_clock_wall_ms_until() then answers "never" for a future t. */
void dss_clock_init_simulated(int64_t start_ms);
int dss_clock_is_simulated(void);
/* Simulated mode only: moves the clock forward to t (never back). */
void dss_clock_advance_to(int64_t t);

#endif
