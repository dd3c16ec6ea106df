/* runner.h -- `dss-scenario run` and `replay` (runner.c), `sweep` (sweep.c), `job` (shim.c).
 *
 * Real mode: the runner starts its own emulator (a fresh data directory under the run
 * directory, port 0, its clock at the scenario's speed, DSS_SEED = the scenario's seed), creates
 * the stack (three queues, the job table, a launch template and the Auto Scaling group; for S3
 * jobs a bucket whose ObjectCreated events go to a queue the runner drains, playing the seed's
 * S3-trigger Lambda), starts `dss-scheduler run`, submits the jobs, plays the scaler, applies
 * the scenario's system faults (API faults through the emulator's control API, emulator and
 * scheduler SIGKILLs at their progress points, Spot interruptions of whole instances), while the
 * job shim applies each attempt's faults. It samples the queues and instances into the trace,
 * waits for every job to finish (or for the system to go quiet, or the time limit), collects
 * the final state (the job table, the finished/failed queues, S3 results, the group, the worker
 * processes), stops everything it started, checks invariants and expectations, and writes the
 * trace and reports.
 *
 * Simulated mode (virtual time across emulator, scheduler and workers) is not implemented in
 * this runner yet: runner_run() refuses such a scenario with a clear message. The extension
 * point is run_one()'s mode switch; everything else (plans, trace, checker, reports, repeat,
 * replay, sweep) is shared and mode-independent.
 */
#ifndef DSS_SCN_RUNNER_H
#define DSS_SCN_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#define RUN_MAX_SETS 32

struct run_options {
    const char *scenario_path;
    int64_t seed;              /* -1: the file's */
    int repeat;                /* >= 1 */
    const char *trace_path, *report_path, *junit_path, *summary_path;
    const char *sets[RUN_MAX_SETS];
    int n_sets;
    const char *workflow;      /* overrides the file's */
    int quiet;
    int keep;                  /* keep the run directory (logs, emulator data) */
    const char *replay_path;   /* replay: the recorded trace */
};

/* Exit codes: 0 every expectation met; 1 an expectation broken (or repeats differ, or a replay
 * did not reproduce); 2 the run could not be carried out (bad scenario, a program would not
 * start, ...); 130 interrupted. */
int runner_run(const struct run_options *o);
int runner_replay(const struct run_options *o);
int shim_main(int argc, char **argv);
int sweep_main(int argc, char **argv);

/* The directory of the running executable (for dss-emulator and dss-scheduler beside it). */
int runner_bin_dir(char *out, size_t n);

#endif
