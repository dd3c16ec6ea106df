/* plan.h -- what happens to one attempt of one job: the decisions, made up front.
 *
 * plan_attempt() is a pure function of (scenario, job, attempt number): it applies every
 * targeted fault that names this attempt and rolls every rate-based fault with the stream keyed
 * on (fault, job id, attempt, tick) (rng.h). The job shim (shim.c) carries the plan out in real
 * mode; in simulated mode the runner posts the same plans to the emulator's simulated workers.
 * A plan is recorded in the trace as a "decision" event and can be read back from it, which is
 * how `replay` forces the recorded decisions.
 */
#ifndef DSS_SCN_PLAN_H
#define DSS_SCN_PLAN_H

#include <cjson/cJSON.h>

#include "scenario.h"

struct scn_plan {
    double runtime_s;          /* synthetic work, emulator-clock seconds */
    long output_bytes;
    int exit_code;             /* 0 unless an ssm_failure fault hit */
    int omit_success;          /* a no_success_string fault hit */
    /* At most one instance fault per attempt: the earliest. */
    enum scn_fault_kind hit;   /* SCN_FAULT_SPOT, SCN_FAULT_WORKER_CRASH, or SCN_FAULT__COUNT: none */
    enum scn_phase phase;
    double at_s;               /* when in the work, emulator-clock seconds from its start */
    double notice_s;           /* Spot notice; < 0: the emulator's default */
    int causes[8];             /* indexes of the faults that decided this plan */
    int n_causes;
};

/* Fills plan for attempt (>= 1) of job. Returns 0. */
int plan_attempt(const struct scenario *s, const struct scn_job *job, int attempt, struct scn_plan *plan);
/* The plan as a JSON object (a new one), and back; plan_from_json returns -1 on a bad object. */
cJSON *plan_to_json(const struct scn_plan *plan);
int plan_from_json(const cJSON *o, struct scn_plan *plan);

#endif
