/* fuzz_query.c -- the Query protocol decoder: arbitrary bytes as a form body, folded into the
 * parameters of every operation of every embedded Query model, and written back as XML. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

extern const struct { const char *name; const char *json; } dss_models[];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dss_kv *kv = NULL;
    size_t n = 0;
    if (form_parse((const char *)data, size, &kv, &n, 5000) == 0) {
        for (int m = 0; dss_models[m].name; m++) {
            const cJSON *model = dss_model(dss_models[m].name);
            const cJSON *op;
            int ec2 = strcmp(dss_models[m].name, "ec2") == 0;
            cJSON_ArrayForEach(op, cJSON_GetObjectItem(model, "operations")) {
                struct buf err, out;
                buf_init(&err, 4096);
                buf_init(&out, 1 << 24);
                cJSON *params = query_params(model, op->string, kv, n, ec2, &err);
                if (params)
                    query_result_xml(model, op->string, params, "urn:fuzz", "rid", ec2, &out);
                cJSON_Delete(params);
                buf_free(&err);
                buf_free(&out);
            }
        }
    }
    form_free(kv, n);
    return 0;
}
