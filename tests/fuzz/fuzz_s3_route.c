/* fuzz_s3_route.c -- S3 request routing and parameter building: the input is
 * "METHOD\nHOST\nTARGET\nheader: value\n...", routed (path and virtual-host style, the
 * percent-decoding of keys and query) and, when it names an operation, turned into that
 * operation's parameters by the model (headers, query string, URI labels). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3.h"

#define HEADERS_MAX 32

/* The next '\n'-terminated line of [*p, end) as a new string (NUL bytes kept as they are:
 * the C string simply ends there, as it would in the server). */
static char *next_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    char *s = strndup(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *method = next_line(&p, end), *host = next_line(&p, end), *uri = next_line(&p, end);
    struct dss_kv headers[HEADERS_MAX];
    size_t n = 0;
    while (p < end && n < HEADERS_MAX) {
        char *line = next_line(&p, end);
        char *colon = strchr(line, ':');
        if (!colon) {
            free(line);
            continue;
        }
        *colon = '\0';
        headers[n].name = line;
        headers[n].value = colon + 1;
        headers[n].value_len = strlen(colon + 1);
        n++;
    }
    struct s3_route r;
    if (s3_route(method, host[0] ? host : NULL, uri, n > 0, &r) == 0) {
        struct buf err;
        buf_init(&err, 4096);
        cJSON *params = NULL;
        if (restxml_params(s3_model(), r.op, &r, headers, n, NULL, 0, &params, &err) == 0 && !params)
            abort(); /* success always builds a tree */
        cJSON_Delete(params);
        buf_free(&err);
    }
    s3_route_free(&r);
    for (size_t i = 0; i < n; i++)
        free(headers[i].name);
    free(method);
    free(host);
    free(uri);
    return 0;
}
