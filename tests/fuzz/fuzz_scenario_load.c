/* fuzz_scenario_load.c -- libFuzzer target for the scenario loader: any bytes either load or
 * fail with a message naming a field; a loaded scenario's plans can be made for its jobs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plan.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario s;
    char err[512];
    err[0] = '\0';
    if (scenario_parse((const char *)data, size, -1, &s, err, sizeof err) != 0) {
        if (!err[0])
            __builtin_trap(); /* every failure explains itself */
        return 0;
    }
    /* Plans are bounded by the job count and the tick cap; keep each input fast. */
    for (size_t i = 0; i < s.n_jobs && i < 64; i++) {
        struct scn_plan p;
        for (int a = 1; a <= 2; a++) {
            plan_attempt(&s, &s.jobs[i], a, &p);
            if (p.exit_code < 0 || p.exit_code > 255 || p.runtime_s < 0)
                __builtin_trap();
        }
        if (scenario_job(&s, s.jobs[i].id) != &s.jobs[i])
            __builtin_trap();
    }
    scenario_free(&s);
    return 0;
}
