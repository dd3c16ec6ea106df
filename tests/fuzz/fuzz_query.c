/* fuzz_query.c -- the Query protocol decoder: arbitrary bytes as a form body, folded into the
 * parameters of Query operations of the embedded models, and written back as XML.
 *
 * Which operations: the one the body's Action names (in every model that has it), as the server
 * routes; without a known Action, one operation picked by a hash of the input, so successive
 * inputs spread over all of them. (Folding every input into each of EC2's several hundred
 * operations made one execution take about a second.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

extern const struct { const char *name; const char *json; } dss_models[];

static void fold(const char *model_name, const char *op, const struct dss_kv *kv, size_t n)
{
    const cJSON *model = dss_model(model_name);
    int ec2 = strcmp(model_name, "ec2") == 0;
    struct buf err, out;
    buf_init(&err, 4096);
    buf_init(&out, 1 << 24);
    cJSON *params = query_params(model, op, kv, n, ec2, &err);
    if (params)
        query_result_xml(model, op, params, "urn:fuzz", "rid", ec2, &out);
    cJSON_Delete(params);
    buf_free(&err);
    buf_free(&out);
}

static const char *action_of(const struct dss_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, "Action") == 0)
            return kv[i].value;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dss_kv *kv = NULL;
    size_t n = 0;
    if (form_parse((const char *)data, size, &kv, &n, 5000) != 0) {
        form_free(kv, n); /* what it had parsed before the error */
        return 0;
    }
    const char *action = action_of(kv, n);
    int found = 0;
    size_t total = 0;
    for (int m = 0; dss_models[m].name; m++) {
        const cJSON *ops = cJSON_GetObjectItem(dss_model(dss_models[m].name), "operations");
        total += (size_t)cJSON_GetArraySize(ops);
        if (action && cJSON_GetObjectItemCaseSensitive(ops, action)) {
            fold(dss_models[m].name, action, kv, n);
            found = 1;
        }
    }
    if (!found && total) {
        uint32_t h = 2166136261u; /* FNV-1a */
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 16777619u;
        size_t pick = h % total;
        for (int m = 0; dss_models[m].name; m++) {
            const cJSON *ops = cJSON_GetObjectItem(dss_model(dss_models[m].name), "operations");
            size_t k = (size_t)cJSON_GetArraySize(ops);
            if (pick < k) {
                fold(dss_models[m].name, cJSON_GetArrayItem(ops, (int)pick)->string, kv, n);
                break;
            }
            pick -= k;
        }
    }
    form_free(kv, n);
    return 0;
}
