/* clock.h -- the scheduler's one clock.
 *
 * Every time the scheduler reads (X-Amz-Date, Wait states, retry intervals, poll intervals,
 * history timestamps) comes from sched_now_ms(); nothing else calls time() or sleeps. By default
 * the clock is wall time. A test or harness can install its own source (sched_clock_set), or a
 * virtual clock that stands still until the loop has nothing to do but wait, then jumps to the
 * next timer (sched_clock_virtual) -- a one-hour Wait state then takes no real time.
 */
#ifndef DSS_SCHED_CLOCK_H
#define DSS_SCHED_CLOCK_H

#include <signal.h>
#include <stdint.h>

#include "awsclient.h"

/* Epoch milliseconds on the scheduler's clock. */
int64_t sched_now_ms(void);
/* The clock as the AWS client takes it. */
const struct aws_clock *sched_clock(void);
/* Installs another time source (NULL: back to wall time). */
void sched_clock_set(int64_t (*now)(void *ctx), void *ctx);
/* Virtual clock starting at start_ms. */
void sched_clock_virtual(int64_t start_ms);
int sched_clock_is_virtual(void);
/* Virtual clock only: moves it forward to t (never back). */
void sched_clock_advance_to(int64_t t);
/* Real milliseconds to block until the clock reaches t (0 if reached; virtual: 0). */
int64_t sched_clock_wall_ms_until(int64_t t);
/* The emulator's clock (dss-emulator --clock simulated): registers as participant at url (the
 * emulator's base URL) and starts the virtual clock at the emulator's now. From then on a jump
 * of the clock (sched_clock_wait_until) is a sleep on the emulator's barrier. A parked sleep
 * ends early once *stop is set. Returns 0, or -1 with a message in err. */
int sched_clock_emulator(const char *url, const char *participant, volatile sig_atomic_t *stop, char *err, size_t n);
int sched_clock_on_emulator(void);
/* Virtual clock: moves it to t -- at once, or on the emulator's clock by sleeping on its barrier
 * until it gets there (then the clock reads the emulator's now). */
void sched_clock_wait_until(int64_t t);
/* The emulator's clock: fn(arg) runs before every sleep on the barrier, i.e. whenever the loop
 * has nothing left to do at this instant (the journal commits there, see journal.c). NULL: none. */
void sched_clock_on_sleep(void (*fn)(void *arg), void *arg);
/* Unregisters from the emulator's barrier and frees what sched_clock_emulator made. */
void sched_clock_emulator_cleanup(void);
/* Monotonic real milliseconds, for curl's network timeouts only. */
int64_t sched_monotonic_ms(void);

#endif
