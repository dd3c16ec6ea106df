/* fuzz_jsonpath.c -- the JSONPath subset: arbitrary bytes as a path, checked, read from and
 * written into a fixed document. A path that passes the check must never crash get or set. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 1);
    if (!path)
        return 0;
    memcpy(path, data, size);
    path[size] = '\0';
    char err[256];
    cJSON *doc = cJSON_Parse("{\"a\":{\"b\":[1,{\"c\":\"x\"}]},\"k y\":[0,1,{\"z\":null}],\"s\":\"t\"}");
    cJSON *ctx = cJSON_Parse("{\"State\":{\"Name\":\"S\"}}");
    int ok = jsonpath_check(path, err, sizeof err) == 0;
    cJSON *v = jsonpath_get(doc, ctx, path);
    if (v && !ok)
        abort(); /* get must not accept what check rejects */
    if (ok)
        jsonpath_set(&doc, path, cJSON_CreateString("new"), err, sizeof err);
    cJSON_Delete(doc);
    cJSON_Delete(ctx);
    free(path);
    return 0;
}
