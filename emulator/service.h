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
#include <stdint.h>

#include "errors.h"

struct dss_call; /* one API call in flight, owned by the server */

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

/* Records the error the call answers with and returns DSS_ERR. The message is printf-style. */
int dss_fail(struct dss_call *call, enum dss_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

/* ---- Helpers for reading parameters (borrowed pointers into params) ---- */
const char *dss_param_str(const cJSON *params, const char *name); /* NULL if absent/not string */
/* Integer parameter; JSON numbers and numeric strings both accepted. Returns 0 and sets *out,
 * 1 if absent (out untouched), -1 if present but not an integer. */
int dss_param_int(const cJSON *params, const char *name, int64_t *out);

/* The services this emulator serves, ending with NULL. */
extern const struct dss_service *const dss_services[];
extern const struct dss_service dss_sqs_service;
extern const struct dss_service dss_dynamodb_service;

#endif
