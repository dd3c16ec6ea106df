/* service.h -- what an emulated AWS service provides, and what an operation may ask of the server.
 *
 * A service is a table of operations plus a database schema. The server turns every wire
 * protocol into one parameter tree (cJSON, in the JSON protocol's shape: member names as the
 * service model spells them, numbers as numbers, blobs as base64 strings, timestamps as epoch
 * seconds) and turns the operation's result tree, or its error, back into the request's wire
 * format. So an operation is written once and never formats XML or JSON itself.
 *
 * Every call runs inside one SQLite transaction on the calling thread's connection: committed
 * when the operation returns DSS_OK, rolled back otherwise. Write operations are serialised by
 * the server (one writer at a time, as SQLite allows anyway); read operations run concurrently.
 */
#ifndef DSS_SERVICE_H
#define DSS_SERVICE_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct dss_call; /* one API call in flight, owned by the server */
struct dss_rest_handler;

enum {
    DSS_OK = 0,    /* *result holds the answer; the transaction commits */
    DSS_ERR = -1,  /* dss_fail() was called; the transaction rolls back */
    DSS_WAIT = 1,  /* dss_wait() parked the call; it rolls back and runs again when woken */
};

/* An operation. params is borrowed and never NULL (an empty object when the request had
 * none). On DSS_OK, *result is a new cJSON object the server takes ownership of (NULL means
 * an empty result). */
typedef int (*dss_op_fn)(struct dss_call *call, const cJSON *params, cJSON **result);

enum dss_op_flags {
    DSS_OP_WRITE = 0,    /* runs in BEGIN IMMEDIATE, one writer at a time */
    DSS_OP_READONLY = 1, /* runs in a deferred (read) transaction, concurrently */
};

struct dss_operation {
    const char *name; /* the model's operation name, "SendMessage" */
    dss_op_fn fn;
    int flags;
};

struct dss_service {
    const char *name;          /* SigV4 signing name: "sqs", "dynamodb" */
    const char *json_target;   /* X-Amz-Target prefix ("AmazonSQS"), NULL without a JSON protocol */
    const char *json_version;  /* "1.0" or "1.1" */
    const char *json_ns;       /* JSON error namespace, "com.amazonaws.sqs#" */
    int query_compatible;      /* JSON errors also carry x-amzn-query-error (awsQueryCompatible) */
    const char *query_version; /* Query API version ("2012-11-05"), NULL without Query protocol */
    const char *query_model;   /* embedded model that shapes Query parameters and XML results */
    const char *xmlns;         /* Query XML namespace */
    const char *schema_sql;    /* CREATE ... IF NOT EXISTS statements, run when a database opens */
    const struct dss_operation *ops; /* ends with {NULL} */
    /* Optional background work (instance lifecycles, worker processes): start() runs once the
     * database is open and before the port accepts requests; stop() runs after the port has
     * closed. start() returns 0, or -1 after logging why (the emulator then exits). */
    int (*start)(void);
    void (*stop)(void);
    /* Optional: REST requests (see "REST services" below); NULL for JSON/Query services. */
    const struct dss_rest_handler *rest;
    /* Query requests and errors in the EC2 dialect (Name.N lists, <Response><Errors>). */
    int ec2_dialect;
    /* Optional: control endpoints under /_dss/. Returns 0 to leave the request to others, 1
     * when it answered with dss_reply_*() or recorded an error with dss_fail(). */
    int (*control)(struct dss_call *call);
};

/* ---- What an operation may ask of its call ---- */

/* The calling thread's database connection, inside the call's transaction. */
sqlite3 *dss_db(struct dss_call *call);
/* A prepared statement for a static SQL string, cached per connection, reset and with its
 * bindings cleared. Never finalize it. Returns NULL (after logging) only if sql is invalid. */
sqlite3_stmt *dss_stmt(struct dss_call *call, const char *sql);

const char *dss_call_host(struct dss_call *call);       /* Host header as sent, "127.0.0.1:4566" */
const char *dss_call_region(struct dss_call *call);     /* from the SigV4 scope, else us-east-1 */
const char *dss_call_request_id(struct dss_call *call);
const char *dss_call_path(struct dss_call *call);       /* the request path, e.g. a queue URL's */
int64_t dss_call_first_ms(struct dss_call *call);       /* clock time the call was first run */
/* 1 if a JSON string of the request held \u0000: cJSON strings end at a NUL, so that value
 * reached the operation cut short. A service that must not store it cut checks this. */
int dss_call_params_nul(struct dss_call *call);

/* Records the error the call answers with and returns DSS_ERR. The message is printf-style.
 * A macro so that callers -- and static analysers following `return dss_fail(...)`, which do
 * not step into variadic functions -- see the constant it returns. */
void dss_fail_set(struct dss_call *call, enum dss_error err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int dss_failed(void) { return DSS_ERR; }
#define dss_fail(call, ...) (dss_fail_set((call), __VA_ARGS__), dss_failed())

/* Adds a member to the error body of the error just recorded with dss_fail() (DynamoDB's
 * ConditionalCheckFailedException carries the Item, S3's InvalidRange the range asked for);
 * takes value. Another dss_fail() drops it. dss_error_members() lists them (NULL: none) for
 * a service that renders its own errors. */
void dss_fail_member(struct dss_call *call, const char *name, cJSON *value);
const cJSON *dss_error_members(struct dss_call *call);

/* The error and message the last dss_fail() recorded (batch operations report per-entry
 * errors from them instead of failing the call). */
enum dss_error dss_error_last(struct dss_call *call);
const char *dss_error_message(struct dss_call *call);

/* Parks the call until dss_wake(key) or the clock reaches wake_at_ms, then runs the operation
 * again from the start. Returns DSS_WAIT when parked; 0 when the call must answer now instead
 * (the deadline has passed, or the server is shutting down). Parking happens only after the
 * operation returns DSS_WAIT, and a wake that arrives in between is never lost. */
int dss_wait(struct dss_call *call, const char *key, int64_t wake_at_ms);
/* Wakes every call parked on key, once this call's transaction has committed (at once if
 * call is NULL). */
void dss_wake(struct dss_call *call, const char *key);
/* Wakes one more call parked on key (the longest waiting), once this call has committed: for
 * a change that only one waiter can use, such as one new message. Calls accumulate. */
void dss_wake_one(struct dss_call *call, const char *key);

/* ---- Helpers for reading parameters (borrowed pointers into params) ---- */
const char *dss_param_str(const cJSON *params, const char *name); /* NULL if absent/not string */
/* Integer parameter; JSON numbers and numeric strings both accepted. Returns 0 and sets *out,
 * 1 if absent (out untouched), -1 if present but not an integer. */
int dss_param_int(const cJSON *params, const char *name, int64_t *out);

/* ---- REST services (S3): whole HTTP requests, bodies streamed ----
 *
 * A request that is neither control, JSON nor Query goes to the first service whose rest
 * handler claims it, as soon as its headers have arrived. The body is then handed over chunk
 * by chunk as it arrives (never held whole in memory: S3 writes it to a file), and once it is
 * complete the service runs its operations with dss_run() and answers with exactly one
 * dss_reply_buffer() or dss_reply_fd(), after any number of dss_reply_header() calls. */
struct dss_rest_handler {
    /* Optional: 1 if a POST to uri (the target as sent) with the Query protocol's form
     * Content-Type is this service's all the same (S3: one that names an operation of its
     * route table, as `curl -d` sends); asked before the request is routed to Query. */
    int (*takes_form_post)(const char *host, const char *uri);
    /* Returns 1 and sets *ctx to take the request, 0 to leave it. May already answer (an
     * early error such as a body too large to accept): the body is then never read. */
    int (*claim)(struct dss_call *call, void **ctx);
    /* The next chunk of the body. Returns 0, or -1 to ignore the rest of the body (finish
     * still runs and answers with the error the service recorded). */
    int (*body)(struct dss_call *call, void *ctx, const char *data, size_t len);
    /* The body is complete: answer. */
    void (*finish)(struct dss_call *call, void *ctx);
    /* Frees ctx once the request is over, answered or dropped. Called once per claim. */
    void (*release)(void *ctx);
};

const char *dss_call_method(struct dss_call *call);
const char *dss_call_uri(struct dss_call *call);  /* request target as sent: still percent-encoded, with the query */
const char *dss_call_header(struct dss_call *call, const char *name); /* case-insensitive; NULL if absent */
const char *dss_call_body(struct dss_call *call, size_t *len); /* a JSON/Query/control body as received (not NUL-terminated) */
const char *dss_call_peer(struct dss_call *call); /* client IP address, "127.0.0.1" */
/* Calls fn(ctx, name, value) for every request header in order until fn returns non-zero. */
void dss_call_headers(struct dss_call *call, int (*fn)(void *ctx, const char *name, const char *value),
                      void *ctx);
/* The data directory (dss.db lives there; services may keep files under it). */
const char *dss_data_dir(void);

/* Runs op in one transaction exactly as the server runs a JSON or Query operation (the op
 * must not dss_wait()). Returns DSS_OK with *result set (the caller owns it), or DSS_ERR with
 * the error recorded. params is borrowed. */
int dss_run(struct dss_call *call, const struct dss_operation *op, const cJSON *params, cJSON **result);

/* Bytes that travel beside the parameter tree, where a REST payload is not a tree (S3's small
 * objects, whose bytes live in the database): the handler lends the request's before
 * dss_run(), an operation reads them, or gives the answer's, which the handler takes after. */
void dss_call_lend_bytes(struct dss_call *call, const char *data, size_t len);
const char *dss_call_bytes(struct dss_call *call, size_t *len);
/* Takes ownership of data (malloc'd, or NULL when len is 0); frees bytes given earlier. */
void dss_call_give_bytes(struct dss_call *call, char *data, size_t len);
/* The bytes an operation gave (the caller owns them), or NULL with *len 0. */
char *dss_call_take_bytes(struct dss_call *call, size_t *len);

/* Adds a header to the call's answer. Returns 0, or -1 when out of memory. */
int dss_reply_header(struct dss_call *call, const char *name, const char *value);
/* Answers with status and a body of len bytes. Takes ownership of data (malloc'd; NULL when
 * len is 0). Returns 0, or -1 if the answer could not be queued. */
int dss_reply_buffer(struct dss_call *call, unsigned status, char *data, size_t len);
/* Answers with status and length bytes of fd from offset (sent with sendfile). Takes
 * ownership of fd. A HEAD request gets the headers, Content-Length included, and no body. */
int dss_reply_fd(struct dss_call *call, unsigned status, int fd, uint64_t offset, uint64_t length);

/* The port the emulator listens on (0 until it does). */
int dss_server_port(void);
/* Injected faults (emulator/ec2/faults.c), checked before every JSON or Query operation:
 * returns 0 (with *delay_ms > 0 to answer that much later on the emulator clock, or
 * *delay_ms == DSS_FAULT_RESET to close the connection without an answer), or DSS_ERR after
 * dss_fail() when the call must fail. */
#define DSS_FAULT_RESET (-1)
int dss_faults_check(struct dss_call *call, const char *service, const char *op, int64_t *delay_ms);

/* The services this emulator serves, ending with NULL. */
extern const struct dss_service *const dss_services[];
extern const struct dss_service dss_sqs_service;
extern const struct dss_service dss_dynamodb_service;
extern const struct dss_service dss_s3_service;
extern const struct dss_service dss_ec2_service;
extern const struct dss_service dss_autoscaling_service;
extern const struct dss_service dss_ssm_service;
extern const struct dss_service dss_ec2messages_service;

#endif
