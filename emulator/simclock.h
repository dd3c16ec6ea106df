/* simclock.h -- simulated mode: the barrier that moves the virtual clock, and simulated workers
 * (see simclock.c for the control endpoints and the job model). */
#ifndef DSS_SIMCLOCK_H
#define DSS_SIMCLOCK_H

#include <sqlite3.h>
#include <stdint.h>

struct dss_call;

/* Switches the emulator to simulated mode: the clock starts at a fixed instant and moves only
 * through simclock_barrier(). Call before the server starts. */
void simclock_init(void);
void simclock_cleanup(void);
/* Whether the barrier may be reached now: participants registered, every live call parked,
 * at least one parked call per participant. */
int simclock_quiet(void);
/* The barrier, run by the instance supervisor after it has done the work due now (next_internal:
 * the next time it wants to run, 0 none). When quiet, resumes the one parked call due now
 * with the earliest deadline, or else moves the clock to the earliest deadline. Returns 1 if it
 * did either (run again at once), 0 if not quiet or nothing can ever happen. */
int simclock_barrier(int64_t next_internal);
/* Simulated workers: worker lifecycle, command intake, faults and completions due by now,
 * inside the supervisor's write transaction. Returns the next time due (0: none). */
int64_t simworkers_tick(sqlite3 *db, int64_t now);
/* Changes to the simulated workers' inputs that are not in the database (job models posted,
 * kill-worker faults): a count, as dss_db_generation() counts the database's. */
unsigned long simworkers_inputs(void);
/* The kill-worker fault on a simulated worker. Returns 0, or -1 if the instance has none. */
int simworkers_kill(const char *instance_id);
/* /_dss/clock/... and /_dss/sim/... Returns 1 when it answered. */
int simclock_control(struct dss_call *call);

#endif
