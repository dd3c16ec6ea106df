/* protocol.h -- wire formats in and out: turn a request into the parameter tree an operation
 * reads, and an operation's result or error into the bytes the client expects. */
#ifndef DSS_PROTOCOL_H
#define DSS_PROTOCOL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "errors.h"

/* One decoded name=value pair of a Query request (form body or query string). */
struct dss_kv {
    char *name;
    char *value;
    size_t value_len; /* values may hold NUL bytes */
};

/* Splits an application/x-www-form-urlencoded string into pairs appended to *kv (realloc'd,
 * *n updated). Returns 0, or -1 on a malformed escape or if more than max pairs. */
int form_parse(const char *s, size_t len, struct dss_kv **kv, size_t *n, size_t max);
void form_free(struct dss_kv *kv, size_t n);
/* The value of the first pair named name, or NULL. */
const char *form_get(const struct dss_kv *kv, size_t n, const char *name);

/* A JSON-protocol request body: exactly one JSON value (RFC 8259: no raw control characters in
 * strings, nothing but whitespace after it). Returns a new tree, or NULL if the body is not one.
 * Sets *escaped_nul when a string held \u0000 (cJSON cuts the string there). */
cJSON *json_body_parse(const char *body, size_t len, int *escaped_nul);

/* An embedded service model by file name ("sqs-query"), parsed on first use; NULL if none. */
const cJSON *dss_model(const char *name);
/* A shape or an operation of such a model by name, through an index built with the model (a
 * tree dss_model() did not return is searched member by member); NULL if absent or name is. */
const cJSON *dss_model_shape(const cJSON *model, const char *name);
const cJSON *dss_model_operation(const cJSON *model, const char *op);

/* Query protocol, shaped by the model's input shape for op: builds the parameter tree from the
 * pairs. ec2: the EC2 dialect (lists as Name.N, names from queryName). Returns a new object,
 * or NULL with a message in err when a value does not fit its shape. */
cJSON *query_params(const cJSON *model, const char *op, const struct dss_kv *kv, size_t n, int ec2,
                    struct buf *err);
/* Query protocol response: <OpResponse><OpResult>...</OpResult><ResponseMetadata>... for the
 * result tree, shaped by the model's output shape (EC2: no Result wrapper, <requestId>). */
int query_result_xml(const cJSON *model, const char *op, const cJSON *result, const char *xmlns,
                     const char *request_id, int ec2, struct buf *out);
/* Query protocol error: <ErrorResponse> (EC2: <Response><Errors>). */
int query_error_xml(const char *xmlns, const char *code, int sender, const char *message,
                    const char *request_id, int ec2, struct buf *out);

#endif
