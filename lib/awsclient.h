/* awsclient.h -- an asynchronous AWS client on libcurl's multi-socket interface.
 *
 * One client drives any number of concurrent requests from one event loop, which it does not
 * own: the loop (scheduler/loop.c, or anything else) is handed to the client as a small table of
 * hooks (watch a socket, arm curl's timer, call back at a clock time). Requests are signed with
 * SigV4 (lib/sigv4.h), spoken in the service's wire protocol, retried the way the AWS SDKs'
 * "standard" retry mode does, and completed through a callback.
 *
 * Protocols: JSON 1.0/1.1 (SQS, DynamoDB, SSM) and Query with XML responses (EC2, Auto Scaling),
 * parsed with libxml2. Errors of each protocol come back as (code, message), e.g.
 * ("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist."); a request
 * that never got an HTTP response has the code "NetworkError" and a message naming the URL and
 * the configuration that chose it.
 *
 * Retries (SDK standard mode): throttling errors, HTTP 500/502/503/504 and 429, and connection
 * errors are retried up to max_attempts in all (default 3) after min(rand[0,1] * 2^(n-1), 20) s,
 * timed on the client's clock. The SDKs' retry-quota token bucket is not modelled.
 *
 * Time: the client never reads the time itself except through the aws_clock it is given (for
 * X-Amz-Date and retry delays). curl's own network timeouts stay on real time.
 */
#ifndef DSS_AWSCLIENT_H
#define DSS_AWSCLIENT_H

#include <cjson/cJSON.h>
#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

#include "awsconfig.h"
#include "buf.h"

/* The one clock: epoch milliseconds. */
struct aws_clock {
    int64_t (*now_ms)(void *ctx);
    void *ctx;
};

#define AWS_IO_IN 1
#define AWS_IO_OUT 2

/* What the client needs from an event loop. */
struct aws_loop {
    void *ctx;
    /* Watch fd for events (AWS_IO_IN|AWS_IO_OUT) and call aws_client_socket_event() when ready;
     * events 0: stop watching. Returns 0 or -1. */
    int (*watch)(void *ctx, int fd, int events);
    /* Call aws_client_curl_timeout() after ms real milliseconds (0: soon); ms < 0: disarm. */
    void (*curl_timer)(void *ctx, long ms);
    /* Call fn(arg) once the clock reaches due_ms. Returns 0 or -1. */
    int (*at)(void *ctx, int64_t due_ms, void (*fn)(void *arg), void *arg);
};

enum aws_protocol { AWS_PROTO_JSON, AWS_PROTO_QUERY };

struct aws_service {
    struct aws_service_id id;
    const char *signing_name;  /* SigV4 service name */
    enum aws_protocol protocol;
    const char *json_version;  /* "1.0" or "1.1" */
    const char *target_prefix; /* X-Amz-Target prefix: "AmazonSQS" */
    const char *api_version;   /* Query: Version= */
    int index;                 /* slot in the client's endpoint table */
};

extern const struct aws_service aws_sqs, aws_dynamodb, aws_ssm, aws_ec2, aws_autoscaling;
#define AWS_NSERVICES 5

struct aws_response {
    long status;              /* HTTP status; 0 when no response arrived */
    const char *error;        /* NULL on success; else the AWS error code or "NetworkError" */
    const char *message;      /* error message ("" if none) */
    cJSON *json;              /* JSON protocols, success: the parsed body (borrowed) */
    xmlDocPtr xml;            /* Query protocol, success: the parsed body (borrowed) */
    const char *body;         /* raw body */
    size_t body_len;
    int attempts;
    const char *endpoint;     /* URL the request went to */
    const char *endpoint_source; /* which setting chose it */
};

/* Called once per request. Everything in r is freed after the callback returns. */
typedef void (*aws_done_fn)(void *arg, const struct aws_response *r);

struct aws_client;

struct aws_client_options {
    int max_attempts;      /* total attempts per request (default 3) */
    int max_connections;   /* open connections at most (default 32) */
    long timeout_ms;       /* per attempt (default 60000) */
};

/* Creates a client for cfg (copied: endpoints are resolved here). clk and loop must outlive it.
 * Returns NULL with a message in err. */
struct aws_client *aws_client_new(const struct aws_config *cfg, const struct aws_client_options *opt,
                                  const struct aws_clock *clk, const struct aws_loop *loop, char *err,
                                  size_t errlen);
/* Frees the client. Requests still in flight are dropped without their callbacks; requests
 * waiting for a retry must not be (the loop still holds their timers), so stop the loop first. */
void aws_client_free(struct aws_client *c);

/* Loop entry points. */
void aws_client_socket_event(struct aws_client *c, int fd, int events);
void aws_client_curl_timeout(struct aws_client *c);
/* Requests in flight or waiting for a retry. */
int aws_client_pending(const struct aws_client *c);
/* Requests whose current attempt is with curl (not waiting for a retry). */
int aws_client_in_flight(const struct aws_client *c);
/* Requests sent so far (attempts, incl. retries). */
uint64_t aws_client_sent(const struct aws_client *c);

/* The endpoint chosen for a service and the setting that chose it (borrowed). */
const char *aws_client_endpoint(const struct aws_client *c, const struct aws_service *svc, const char **source);
const char *aws_client_region(const struct aws_client *c);

/* JSON protocols: POSTs params (taken; may be NULL for {}) as operation. Returns 0, or -1 if the
 * request could not even be queued (then done is not called). */
int aws_call_json(struct aws_client *c, const struct aws_service *svc, const char *operation, cJSON *params,
                  aws_done_fn done, void *arg);
/* The params of SQS GetQueueAttributes for queue_url, asking for the attributes named in names
 * (NULL-terminated), for aws_call_json. */
cJSON *aws_sqs_attributes_params(const char *queue_url, const char *const *names);

/* Query protocol parameters: an encoded form body being built. */
struct aws_query {
    struct buf body;
};
void aws_query_init(struct aws_query *q);
int aws_query_add(struct aws_query *q, const char *key, const char *value);
void aws_query_free(struct aws_query *q);
/* Query protocol: POSTs Action=action&Version=...&params (q is emptied). */
int aws_call_query(struct aws_client *c, const struct aws_service *svc, const char *action, struct aws_query *q,
                   aws_done_fn done, void *arg);

/* XML helpers (names are local names, namespaces ignored). */
xmlNodePtr aws_xml_child(xmlNodePtr parent, const char *name);
xmlNodePtr aws_xml_next(xmlNodePtr node, const char *name); /* next sibling with that name */
/* Follows "a/b/c" from n; NULL if any step is missing. */
xmlNodePtr aws_xml_path(xmlNodePtr n, const char *path);
/* Copies the text of the node at path (from n) into out; returns 0, or -1 if missing. */
int aws_xml_text(xmlNodePtr n, const char *path, char *out, size_t outlen);

/* Classification used by the retry logic, exposed for tests. */
int aws_error_is_retryable(long status, const char *code);
/* Backoff before attempt number `attempt` (2 = first retry) given r in [0,1): milliseconds. */
int64_t aws_retry_delay_ms(int attempt, double r);

#endif
