/* jsonpath.h -- the JSONPath subset Amazon States Language paths use here.
 *
 * Grammar: `$` (or `$$` for the context object) followed by any number of steps:
 * `.name`, `['name']` / `["name"]`, `[n]` (n >= 0). No wildcards, slices, filters or recursive
 * descent: a path that uses them is rejected at load time with a message saying so.
 */
#ifndef DSS_SCHED_JSONPATH_H
#define DSS_SCHED_JSONPATH_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Checks the syntax; returns 0, or -1 with a reason in err. */
int jsonpath_check(const char *path, char *err, size_t errlen);

/* The value at path in doc ($) or ctx ($$); borrowed; NULL if absent or path is malformed. */
cJSON *jsonpath_get(cJSON *doc, cJSON *ctx, const char *path);

/* Sets the value at path in *doc (ResultPath semantics): "$" replaces the document; missing
 * objects along the way are created; a step into a non-object fails. Takes value. Returns 0,
 * or -1 with err (value freed). */
int jsonpath_set(cJSON **doc, const char *path, cJSON *value, char *err, size_t errlen);

/* strlen(cJSON_PrintUnformatted(v)), without printing: what Step Functions' payload quota
 * measures, for the checks that need only the size. 0 for NULL. */
size_t json_printed_size(const cJSON *v);

#endif
