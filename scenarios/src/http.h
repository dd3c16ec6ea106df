/* http.h -- the runner's small synchronous client for the emulator it started.
 *
 * One libcurl easy handle (keep-alive) per struct http. Requests are signed with SigV4
 * (lib/sigv4.h) with the dummy credentials the emulator accepts, spoken in each service's wire
 * protocol: JSON 1.0/1.1 (SQS, DynamoDB, SSM), Query with XML answers parsed by libxml2 (EC2,
 * Auto Scaling), REST for S3, and plain JSON for the emulator's control API under /_dss/.
 * The runner is not the system under test, so it does not retry: a failed call is reported.
 * Not thread-safe: one struct http per thread.
 */
#ifndef DSS_SCN_HTTP_H
#define DSS_SCN_HTTP_H

#include <cjson/cJSON.h>
#include <libxml/tree.h>
#include <stddef.h>

#include "buf.h"

struct http {
    void *curl;        /* CURL * */
    char base[128];    /* http://127.0.0.1:PORT */
    char region[32];
    long status;       /* HTTP status of the last response; 0 when none arrived */
    struct buf resp;   /* its body */
    char err[512];     /* what went wrong with the last call */
    long timeout_ms;
};

int http_init(struct http *h, const char *base, const char *region);
void http_cleanup(struct http *h);

/* One request. service: the SigV4 signing name, or NULL to send unsigned. extra: NULL-terminated
 * list of "Name: value" headers (signed too). Returns 0 when any response arrived, -1 (h->err)
 * when none did. */
int http_do(struct http *h, const char *method, const char *path_query, const char *service, const char *const *extra,
            const void *body, size_t len);

/* A JSON-protocol call: target "AmazonSQS.SendMessage", json_version "1.0"/"1.1". Takes
 * ownership of params. Returns the parsed response (a new object; {} for an empty body), or
 * NULL with "Code: message" in h->err. */
cJSON *aws_json(struct http *h, const char *service, const char *json_version, const char *target, cJSON *params);
/* A Query-protocol call: params are "Name=value" pairs (values unencoded), NULL-terminated.
 * Returns the parsed XML response (xmlFreeDoc it) or NULL with the error in h->err. */
xmlDocPtr aws_query(struct http *h, const char *service, const char *version, const char *action,
                    const char *const *params);
/* The text of the first element named name (any depth, any namespace) under node, or NULL.
 * A new string (xmlFree it). */
char *xml_find_text(xmlNodePtr node, const char *name);
/* A control-API call (/_dss/...). Returns the parsed JSON response or NULL (h->err). */
cJSON *http_control(struct http *h, const char *method, const char *path_query);

#endif
