/* fuzz_scenario_trace.c -- libFuzzer target for the trace reader and the invariant checker:
 * any bytes either load as a trace or fail with a message; a loaded trace is checked and its
 * histories built without crashing, whatever its events claim. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace t;
    char err[512];
    trace_init(&t);
    if (trace_load_mem((const char *)data, size, &t, err, sizeof err) == 0) {
        struct check_result r;
        check_run(&t, &r);
        check_result_free(&r);
        cJSON *h = check_histories(&t);
        cJSON *d = check_history_diff(h, h, 10);
        if (cJSON_GetArraySize(d) != 0)
            __builtin_trap(); /* a history always equals itself */
        cJSON_Delete(d);
        cJSON_Delete(h);
    }
    trace_free(&t);
    return 0;
}
