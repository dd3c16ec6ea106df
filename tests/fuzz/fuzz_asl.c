/* fuzz_asl.c -- the States Language loader: arbitrary bytes as a workflow definition, checked
 * against the seed's task table. Loading must reject bad input with a message, never crash. */
#include <stdint.h>
#include <stdlib.h>

#include "asl.h"
#include "engine.h"
#include "tasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    engine_set_resolver_table(seed_tasks, seed_ntasks);
    struct asl_machine *m = asl_load((const char *)data, size, engine_resolve, err, sizeof err);
    if (m) {
        for (int i = 0; i < m->nstates; i++)
            if (asl_find(m, m->states[i].name) != i)
                abort();
        asl_free(m);
    }
    return 0;
}
