/* server.c -- the request path of dss-emulator, top to bottom:
 *
 *   collect body (capped) -> route (control, JSON target, Query, S3 REST) -> parse into
 *   parameters -> run the operation in one transaction -> one reply function that writes the
 *   result or the AWS error in the request's wire format.
 *
 * libmicrohttpd runs a small pool of threads with epoll; each thread reads on its own SQLite
 * connection, and every write runs on the one writer connection (db.c). A long poll (SQS
 * WaitTimeSeconds) does not hold a thread: the operation asks to wait, the connection is
 * suspended and kept in a waiter list, and it is resumed when a commit wakes its key or its
 * deadline passes -- then the operation simply runs again. One timer thread owns all
 * deadlines.
 *
 * dss_server_call_json() runs one JSON-protocol call through the same prepare/run/render steps
 * with no connection behind it (the fuzz target's way in, server.h): the accessors below answer
 * for a call without one (no headers, Host localhost:4566), and such a call never parks.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "protocol.h"
#include "service.h"
#include "util.h"
#include "xmlwrite.h"

/* JSON and Query bodies are capped at dss_guard_limits()->max_body_bytes (auth.h; 16 MiB, DynamoDB's
 * request limit, by default; SQS's 1 MiB fits with escapes). */
#define FORM_PAIRS_MAX 5000
#define MAX_WAKES 4

enum route {
    ROUTE_UNKNOWN, /* not decided yet */
    ROUTE_CONTROL, /* /_dss/...: the emulator's own API */
    ROUTE_JSON,    /* X-Amz-Target: JSON 1.0 / 1.1 */
    ROUTE_QUERY,   /* Action=...&Version=... */
    ROUTE_REST,    /* everything else: S3 */
};

struct dss_call {
    struct MHD_Connection *conn;
    char *method;
    char *path;
    struct buf body;
    int body_too_large;
    enum route route;
    const struct dss_service *service;
    const struct dss_operation *op;
    char op_name[128];
    cJSON *params;
    char request_id[37];
    char region[64];
    int64_t first_ms;
    /* The error, once dss_fail() has been called. */
    enum dss_error err;
    char err_msg[1024];
    cJSON *err_members;      /* dss_fail_member(): more members of a JSON error body */
    /* Keys to wake after commit. */
    char *wakes[MAX_WAKES];
    int wake_counts[MAX_WAKES]; /* how many waiters to wake; WAKE_ALL for every one */
    int n_wakes;
    /* Parking. */
    char wait_key[128];
    int64_t wait_at_ms;    /* emulator clock */
    int64_t wait_wall_ms;  /* monotonic wall clock */
    unsigned long wake_gen; /* wake generation seen when the run began */
    int parked;
    int parked_fd;           /* the client's socket while parked: watched for a hang-up */
    struct dss_call *prev, *next; /* in the waiter list while parked */
    int params_nul;          /* a JSON string held \u0000 (cJSON cut it there) */
    /* REST requests (a service's rest handler claimed the call). */
    char *uri;               /* the request target as sent, from the URI log callback */
    void *rest_ctx;          /* the handler's, released in on_completed */
    int rest_claimed;
    int rest_body_failed;    /* the handler refused the body: the rest is ignored */
    struct dss_auth_body *auth_body; /* auth.h: what a signed S3 body must still match */
    int replied;             /* a response has been queued */
    struct reply_header { char *name, *value; } *reply_headers;
    size_t n_reply_headers;
    const char *target;      /* X-Amz-Target (borrowed: the header, or dss_server_call_json's) */
    /* dss_call_lend_bytes() and dss_call_give_bytes(): bytes beside the parameter tree. */
    const char *bytes;       /* borrowed, or bytes_given */
    size_t bytes_len;
    char *bytes_given;       /* owned */
};

static struct MHD_Daemon *daemon_;
static char server_data_dir[4096];
static int server_port; /* the bound port, once listening */

/* ======================================================================================
 * Waiters: parked calls, woken by key or deadline
 * ====================================================================================== */

static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t waiters_cond = PTHREAD_COND_INITIALIZER;
static struct dss_call *waiters;       /* doubly linked, oldest first (woken first) */
static struct dss_call *waiters_tail;
static atomic_ulong wake_gen;          /* bumped by every wake: closes the park/wake race */
static atomic_uint n_parked;           /* calls in the waiter list (capped: auth.h) */
static atomic_uint n_calls;            /* calls alive (parsed or parked); simulated clock: the barrier */
void (*dss_server_idle_hook)(void);    /* server.h: told when a call parks or ends, none busy */
static int shutting_down;
static pthread_t timer_thread;
static int timer_running;
static int services_started;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void waiter_unlink(struct dss_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        waiters = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        waiters_tail = c->prev;
    c->prev = c->next = NULL;
    c->parked = 0;
    atomic_fetch_sub(&n_parked, 1);
}

/* Resumes a parked call; waiters_lock held. */
static void waiter_resume(struct dss_call *c)
{
    waiter_unlink(c);
    MHD_resume_connection(c->conn);
}

/* The simulated clock's barrier waits for every live call to be parked: tell it when no call
 * is busy, and only then (told at every call's end, its thread woke for every request). */
static void tell_if_idle(void)
{
    if (dss_server_idle_hook && dss_server_busy_calls(NULL) == 0)
        dss_server_idle_hook();
}

/* Suspends the call unless a wake happened since it began its run, in which case the
 * operation must run again at once (returns 0). */
static int waiter_park(struct dss_call *c)
{
    pthread_mutex_lock(&waiters_lock);
    if (shutting_down || atomic_load(&wake_gen) != c->wake_gen) {
        pthread_mutex_unlock(&waiters_lock);
        return 0;
    }
    c->wait_wall_ms = mono_ms() + dss_clock_wall_ms_until(c->wait_at_ms);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->parked_fd = ci ? ci->connect_fd : -1;
    c->parked = 1;
    c->next = NULL;
    c->prev = waiters_tail;
    if (waiters_tail)
        waiters_tail->next = c;
    else
        waiters = c;
    waiters_tail = c;
    atomic_fetch_add(&n_parked, 1);
    MHD_suspend_connection(c->conn);
    pthread_cond_signal(&waiters_cond);
    pthread_mutex_unlock(&waiters_lock);
    tell_if_idle();
    return 1;
}

#define WAKE_ALL (-1)

/* Resumes up to count calls parked on key (WAKE_ALL: every one), longest-waiting first. One
 * message needs one receiver: waking them all would make every parked receive run a write
 * transaction only to find the message gone. */
static void wake_key(const char *key, int count)
{
    pthread_mutex_lock(&waiters_lock);
    atomic_fetch_add(&wake_gen, 1);
    for (struct dss_call *c = waiters, *next; c && count != 0; c = next) {
        next = c->next;
        if (strcmp(c->wait_key, key) == 0) {
            waiter_resume(c);
            if (count > 0)
                count--;
        }
    }
    pthread_mutex_unlock(&waiters_lock);
}

/* 1 when the client on fd has closed or reset its connection. libmicrohttpd does not watch a
 * suspended connection's socket, so a parked call learns that its client has gone only by
 * asking. A client that merely shut down its sending side counts as gone too: a long poll's
 * answer is all it could still want, and it can no longer be told apart from one that left. */
static int client_hung_up(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void *timer_main(void *arg)
{
    (void)arg;
    int64_t swept_at = 0;
    pthread_mutex_lock(&waiters_lock);
    while (!shutting_down) {
        int64_t now = mono_ms(), next_due = now + 1000;
        /* About once a second, parked calls whose clients have gone are resumed early (and then
         * dropped: dispatch()), so they give back their place under --max-long-polls. */
        int sweep = now - swept_at >= 1000;
        if (sweep)
            swept_at = now;
        for (struct dss_call *c = waiters, *next; c; c = next) {
            next = c->next;
            if (c->wait_wall_ms <= now || (sweep && client_hung_up(c->parked_fd)))
                waiter_resume(c);
            else if (c->wait_wall_ms < next_due)
                next_due = c->wait_wall_ms;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (next_due - now) * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&waiters_cond, &waiters_lock, &until);
    }
    while (waiters)
        waiter_resume(waiters);
    pthread_mutex_unlock(&waiters_lock);
    return NULL;
}

/* ======================================================================================
 * What operations may ask of a call (service.h)
 * ====================================================================================== */

sqlite3 *dss_db(struct dss_call *call)
{
    (void)call;
    return dss_db_thread();
}

sqlite3_stmt *dss_stmt(struct dss_call *call, const char *sql)
{
    (void)call;
    return dss_db_stmt(dss_db_thread(), sql);
}

/* A request header, or NULL. A call without a connection (dss_server_call_json) has none. */
static const char *header(struct dss_call *c, const char *name)
{
    return c->conn ? MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *dss_call_host(struct dss_call *c)
{
    if (!c->conn) /* dss_server_call_json: as if a client had used the emulator's default port */
        return "localhost:4566";
    const char *h = header(c, "Host");
    return h ? h : "localhost";
}

const char *dss_call_region(struct dss_call *c) { return c->region; }
const char *dss_call_request_id(struct dss_call *c) { return c->request_id; }
const char *dss_call_path(struct dss_call *c) { return c->path; }
int64_t dss_call_first_ms(struct dss_call *c) { return c->first_ms; }
int dss_call_params_nul(struct dss_call *c) { return c->params_nul; }
const char *dss_call_method(struct dss_call *c) { return c->method; }
const char *dss_call_uri(struct dss_call *c) { return c->uri ? c->uri : c->path; }
const char *dss_call_header(struct dss_call *c, const char *name) { return header(c, name); }
const char *dss_call_body(struct dss_call *c, size_t *len) { *len = c->body.len; return c->body.data; }
const char *dss_data_dir(void) { return server_data_dir; }

void dss_call_lend_bytes(struct dss_call *c, const char *data, size_t len)
{
    free(c->bytes_given);
    c->bytes_given = NULL;
    c->bytes = data;
    c->bytes_len = len;
}

const char *dss_call_bytes(struct dss_call *c, size_t *len)
{
    *len = c->bytes_len;
    return c->bytes;
}

void dss_call_give_bytes(struct dss_call *c, char *data, size_t len)
{
    free(c->bytes_given);
    c->bytes = c->bytes_given = data;
    c->bytes_len = data ? len : 0;
}

char *dss_call_take_bytes(struct dss_call *c, size_t *len)
{
    char *data = c->bytes_given;
    *len = data ? c->bytes_len : 0;
    c->bytes = c->bytes_given = NULL;
    c->bytes_len = 0;
    return data;
}
int dss_server_port(void) { return server_port; }

const char *dss_call_peer(struct dss_call *c)
{
    static __thread char text[INET6_ADDRSTRLEN];
    const union MHD_ConnectionInfo *info =
        c->conn ? MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
    return "127.0.0.1";
}

struct header_walk {
    int (*fn)(void *ctx, const char *name, const char *value);
    void *ctx;
};

static enum MHD_Result header_walk_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    struct header_walk *w = cls;
    return w->fn(w->ctx, key, value ? value : "") ? MHD_NO : MHD_YES;
}

void dss_call_headers(struct dss_call *c, int (*fn)(void *ctx, const char *name, const char *value),
                      void *ctx)
{
    struct header_walk w = {fn, ctx};
    if (c->conn)
        MHD_get_connection_values(c->conn, MHD_HEADER_KIND, header_walk_one, &w);
}

/* Makes s UTF-8 by writing '?' over every byte that does not start a well-formed character. An
 * error message may quote a header's bytes as sent (the X-Amz-Target of an unknown operation)
 * or be cut by the message buffer in the middle of a character; either way a JSON answer that
 * is not UTF-8 is not JSON, and clients fail to decode it (found by fuzz_json_dispatch). */
static void utf8_mask_invalid(char *s)
{
    size_t n = strlen(s), off = 0, bad;
    while (off < n && !utf8_valid(s + off, n - off, &bad)) {
        s[off + bad] = '?';
        off += bad + 1;
    }
}

void dss_fail_set(struct dss_call *c, enum dss_error err, const char *fmt, ...)
{
    c->err = err;
    cJSON_Delete(c->err_members); /* they belonged to the error this one replaces */
    c->err_members = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_msg, sizeof c->err_msg, fmt, ap);
    va_end(ap);
    utf8_mask_invalid(c->err_msg);
}

void dss_fail_member(struct dss_call *c, const char *name, cJSON *value)
{
    if (!value)
        return;
    if (!c->err_members)
        c->err_members = cJSON_CreateObject();
    cJSON_AddItemToObject(c->err_members, name, value);
}

const cJSON *dss_error_members(struct dss_call *c) { return c->err_members; }
enum dss_error dss_error_last(struct dss_call *c) { return c->err; }
const char *dss_error_message(struct dss_call *c) { return c->err_msg; }

int dss_wait(struct dss_call *c, const char *key, int64_t wake_at_ms)
{
    /* A call without a connection (dss_server_call_json) cannot be suspended: it answers as if
     * its wait had run out, so a fuzzer's long poll never blocks it. */
    if (shutting_down || !c->conn || wake_at_ms <= dss_clock_now_ms())
        return 0;
    str_copy(c->wait_key, sizeof c->wait_key, key);
    c->wait_at_ms = wake_at_ms;
    return DSS_WAIT;
}

/* Records that count more calls parked on key are to be woken after commit. */
static void wake_later(struct dss_call *c, const char *key, int count)
{
    if (!c) {
        wake_key(key, count);
        return;
    }
    for (int i = 0; i < c->n_wakes; i++) {
        if (strcmp(c->wakes[i], key) == 0) {
            if (c->wake_counts[i] != WAKE_ALL)
                c->wake_counts[i] = count == WAKE_ALL ? WAKE_ALL : c->wake_counts[i] + count;
            return;
        }
    }
    if (c->n_wakes == MAX_WAKES) {
        wake_key(key, WAKE_ALL); /* early, but a spurious wake only makes a receive look again */
        return;
    }
    c->wake_counts[c->n_wakes] = count;
    c->wakes[c->n_wakes++] = strdup(key);
}

void dss_wake(struct dss_call *c, const char *key)
{
    wake_later(c, key, WAKE_ALL);
}

void dss_wake_one(struct dss_call *c, const char *key)
{
    wake_later(c, key, 1);
}

const char *dss_param_str(const cJSON *params, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, name));
}

int dss_param_int(const cJSON *params, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    if (!v || cJSON_IsNull(v))
        return 1;
    if (cJSON_IsNumber(v)) {
        /* Range first: casting NaN or a double beyond int64 is undefined behaviour. */
        if (!(v->valuedouble >= -9e18 && v->valuedouble <= 9e18) ||
            v->valuedouble != (double)(int64_t)v->valuedouble)
            return -1;
        *out = (int64_t)v->valuedouble;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring[0]) {
        char *end;
        long long n = strtoll(v->valuestring, &end, 10);
        if (*end)
            return -1;
        *out = n;
        return 0;
    }
    return -1;
}

/* ======================================================================================
 * Replies
 * ====================================================================================== */

static enum MHD_Result send_reply(struct dss_call *c, int status, const char *content_type,
                                  struct buf *body, const char *extra_name, const char *extra_value)
{
    size_t len = body->len;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf_steal(body), MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "x-amzn-RequestId", c->request_id);
    if (extra_name)
        MHD_add_response_header(r, extra_name, extra_value);
    enum MHD_Result rc = MHD_queue_response(c->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* The JSON protocol's answer to an operation's result (NULL: an empty one), written into out.
 * Returns the HTTP status. The HTTP path and dss_server_call_json() both answer with it. */
static int render_json_result(const cJSON *result, struct buf *out)
{
    char *text = cJSON_PrintUnformatted(result);
    buf_puts(out, text ? text : "{}");
    free(text);
    return 200;
}

/* The JSON protocol's error body for the call's recorded error, {"__type": "NAMESPACE#Code",
 * "message": ...}, written into out. Returns the HTTP status (the error table's). */
static int render_json_error(struct dss_call *c, struct buf *out)
{
    const struct dss_error_info *e = dss_error_info(c->err);
    cJSON *err = cJSON_CreateObject();
    char type[256];
    const char *ns = e->json_ns ? e->json_ns : c->service ? c->service->json_ns : CORAL_SERVICE;
    snprintf(type, sizeof type, "%s%s", ns, e->code);
    cJSON_AddStringToObject(err, "__type", type);
    cJSON_AddStringToObject(err, "message", c->err_msg);
    for (cJSON *m = c->err_members ? c->err_members->child : NULL; m; m = m->next)
        cJSON_AddItemReferenceToObject(err, m->string, m);
    char *text = cJSON_PrintUnformatted(err);
    buf_puts(out, text ? text : "{}");
    free(text);
    cJSON_Delete(err);
    return e->status;
}

static void json_content_type(struct dss_call *c, char *out, size_t n)
{
    snprintf(out, n, "application/x-amz-json-%s", c->service ? c->service->json_version : "1.0");
}

static enum MHD_Result reply_json_result(struct dss_call *c, cJSON *result)
{
    struct buf out;
    buf_init(&out, SIZE_MAX);
    int status = render_json_result(result, &out);
    char ctype[64];
    json_content_type(c, ctype, sizeof ctype);
    return send_reply(c, status, ctype, &out, NULL, NULL);
}

static enum MHD_Result reply_error(struct dss_call *c)
{
    const struct dss_error_info *e = dss_error_info(c->err);
    const char *msg = c->err_msg;
    struct buf out;
    buf_init(&out, SIZE_MAX);
    log_debug("%s %s -> %d %s: %s", c->service ? c->service->name : "-", c->op_name, e->status,
              e->code, msg);
    if (c->route == ROUTE_JSON) {
        int status = render_json_error(c, &out);
        char qerr[256], ctype[64];
        snprintf(qerr, sizeof qerr, "%s;%s", e->query_code, e->sender ? "Sender" : "Receiver");
        json_content_type(c, ctype, sizeof ctype);
        int compat = c->service && c->service->query_compatible;
        return send_reply(c, status, ctype, &out, compat ? "x-amzn-query-error" : NULL, qerr);
    }
    if (c->route == ROUTE_QUERY) {
        int ec2 = c->service && c->service->ec2_dialect; /* EC2 answers with the plain code */
        query_error_xml(c->service ? c->service->xmlns : NULL, ec2 ? e->code : e->query_code, e->sender,
                        msg, c->request_id, ec2, &out);
        return send_reply(c, e->status, "text/xml", &out, NULL, NULL);
    }
    /* REST (S3) and control: S3's <Error> shape; the message may quote the request, so it is escaped. */
    xml_declaration(&out);
    xml_open(&out, "Error", NULL);
    xml_element(&out, "Code", e->code);
    xml_element(&out, "Message", msg);
    xml_element(&out, "RequestId", c->request_id);
    xml_close(&out, "Error");
    return send_reply(c, e->status, "application/xml", &out, NULL, NULL);
}

/* ======================================================================================
 * Routing
 * ====================================================================================== */

/* Region and signing service from "Credential=AKID/DATE/REGION/SERVICE/aws4_request". */
static void sigv4_scope(struct dss_call *c, char *service, size_t service_len)
{
    const char *auth = header(c, "Authorization");
    const char *cred = auth ? strstr(auth, "Credential=") : NULL;
    if (cred)
        cred += strlen("Credential=");
    else if (c->conn)
        cred = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "X-Amz-Credential");
    memcpy(c->region, "us-east-1", sizeof "us-east-1");
    service[0] = '\0';
    if (!cred)
        return;
    const char *p = cred;
    for (int field = 0; field < 4 && p; field++) { /* memcpy, not snprintf: this runs for every request */
        const char *end = p + strcspn(p, "/,");
        size_t len = (size_t)(end - p);
        if (field == 2 && len > 0 && len < sizeof c->region)
            memcpy(c->region, p, len), c->region[len] = '\0';
        if (field == 3 && len > 0 && len < service_len)
            memcpy(service, p, len), service[len] = '\0';
        p = *end == '/' ? end + 1 : NULL;
    }
}

static const struct dss_operation *find_op(const struct dss_service *s, const char *name)
{
    for (const struct dss_operation *op = s->ops; op->name; op++)
        if (strcmp(op->name, name) == 0)
            return op;
    return NULL;
}

/* X-Amz-Target: "DynamoDB_20120810.PutItem". */
static int parse_json_request(struct dss_call *c, const char *target)
{
    const char *dot = strrchr(target, '.');
    c->route = ROUTE_JSON;
    for (int i = 0; dss_services[i] && dot; i++) {
        const char *t = dss_services[i]->json_target;
        if (t && strlen(t) == (size_t)(dot - target) && strncmp(t, target, (size_t)(dot - target)) == 0)
            c->service = dss_services[i];
    }
    str_copy(c->op_name, sizeof c->op_name, dot ? dot + 1 : target);
    if (!c->service || !(c->op = find_op(c->service, c->op_name)))
        return dss_fail(c, DSS_E_UnknownOperation, "Operation %s is not supported.", target);
    if (c->body_too_large)
        return dss_fail(c, DSS_E_RequestEntityTooLarge, "Request body is larger than %zu bytes.",
                        dss_guard_limits()->max_body_bytes);
    if (c->body.len == 0) {
        c->params = cJSON_CreateObject();
        return 0;
    }
    if (!(c->params = json_body_parse(c->body.data, c->body.len, &c->params_nul)))
        return dss_fail(c, DSS_E_SerializationException, "The request body could not be parsed as JSON.");
    if (!cJSON_IsObject(c->params))
        return dss_fail(c, DSS_E_SerializationException,
                        c->params ? "Start of structure or map found where not expected."
                                  : "The request body could not be parsed as JSON.");
    return 0;
}

static const struct dss_service *query_service(const char *scope_service, const char *version)
{
    for (int i = 0; dss_services[i]; i++)
        if (dss_services[i]->query_version && scope_service[0] &&
            strcmp(dss_services[i]->name, scope_service) == 0)
            return dss_services[i];
    for (int i = 0; dss_services[i]; i++)
        if (dss_services[i]->query_version && version &&
            strcmp(dss_services[i]->query_version, version) == 0)
            return dss_services[i];
    return NULL;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct { struct dss_kv *kv; size_t n; } *acc = cls;
    if (acc->n >= FORM_PAIRS_MAX)
        return MHD_NO;
    struct dss_kv *grown = realloc(acc->kv, (acc->n + 1) * sizeof *grown);
    if (!grown)
        return MHD_NO;
    acc->kv = grown;
    grown[acc->n].name = strdup(key);
    grown[acc->n].value = strdup(value ? value : "");
    grown[acc->n].value_len = strlen(grown[acc->n].value);
    acc->n++;
    return MHD_YES;
}

/* Action=SendMessage&Version=2012-11-05&... in the body or the query string. */
static int parse_query_request(struct dss_call *c, const char *scope_service)
{
    struct { struct dss_kv *kv; size_t n; } acc = {NULL, 0};
    int rc = 0;
    c->route = ROUTE_QUERY;
    MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &acc);
    if (c->body_too_large) {
        rc = dss_fail(c, DSS_E_RequestEntityTooLarge, "Request body is larger than %zu bytes.",
                      dss_guard_limits()->max_body_bytes);
        goto out;
    }
    if (c->body.len && form_parse(c->body.data, c->body.len, &acc.kv, &acc.n, FORM_PAIRS_MAX)) {
        rc = dss_fail(c, DSS_E_MalformedQueryString, "The request body is not a valid form encoding.");
        goto out;
    }
    const char *action = form_get(acc.kv, acc.n, "Action");
    c->service = query_service(scope_service, form_get(acc.kv, acc.n, "Version"));
    if (!action) {
        rc = dss_fail(c, DSS_E_MissingAction, "The request must contain the parameter Action.");
        goto out;
    }
    str_copy(c->op_name, sizeof c->op_name, action);
    if (!c->service || !(c->op = find_op(c->service, action))) {
        rc = dss_fail(c, DSS_E_InvalidAction, "The action %s is not valid for this web service.", action);
        goto out;
    }
    struct buf err;
    buf_init(&err, 1024);
    c->params = query_params(dss_model(c->service->query_model), action, acc.kv, acc.n,
                             c->service->ec2_dialect, &err);
    if (!c->params)
        rc = dss_fail(c, DSS_E_InvalidParameterValue, "%s", err.data ? err.data : "Invalid parameter.");
    buf_free(&err);
out:
    form_free(acc.kv, acc.n);
    return rc;
}

/* 1 if a REST service takes this form-typed POST as its own (dss_rest_handler). */
static int rest_takes_form_post(struct dss_call *c)
{
    for (int i = 0; c->uri && dss_services[i]; i++) {
        const struct dss_rest_handler *h = dss_services[i]->rest;
        if (h && h->takes_form_post && h->takes_form_post(header(c, "Host"), c->uri))
            return 1;
    }
    return 0;
}

static int is_query_request(struct dss_call *c)
{
    const char *ctype = header(c, "Content-Type");
    if (strcmp(c->method, "POST") == 0 && ctype &&
        strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
        return !rest_takes_form_post(c);
    return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "Action") != NULL;
}

/* Decides the route from the headers alone, before the body arrives. */
static void route_request(struct dss_call *c)
{
    if (strncmp(c->path, "/_dss/", 6) == 0)
        c->route = ROUTE_CONTROL;
    else if ((c->target = header(c, "X-Amz-Target")))
        c->route = ROUTE_JSON;
    else if (is_query_request(c))
        c->route = ROUTE_QUERY;
    else
        c->route = ROUTE_REST;
}

/* ======================================================================================
 * Running an operation
 * ====================================================================================== */

static void fire_wakes(struct dss_call *c)
{
    for (int i = 0; i < c->n_wakes; i++) {
        wake_key(c->wakes[i], c->wake_counts[i]);
        free(c->wakes[i]);
    }
    c->n_wakes = 0;
}

static void drop_wakes(struct dss_call *c)
{
    for (int i = 0; i < c->n_wakes; i++)
        free(c->wakes[i]);
    c->n_wakes = 0;
}

/* Runs the operation in one transaction. Returns DSS_OK with *result set, DSS_ERR, or DSS_WAIT
 * when the call has been parked. */
static int run_operation(struct dss_call *c, cJSON **result)
{
    int write = !(c->op->flags & DSS_OP_READONLY);
    for (;;) {
        *result = NULL;
        c->wake_gen = atomic_load(&wake_gen);
        sqlite3 *db = dss_db_begin(write);
        if (!db)
            return dss_fail(c, DSS_E_InternalFailure, "The emulator's database is unavailable.");
        int rc = c->op->fn(c, c->params, result);
        if (rc == DSS_OK) {
            if (dss_db_commit(db, write) == 0) {
                fire_wakes(c);
                return DSS_OK;
            }
            cJSON_Delete(*result);
            drop_wakes(c);
            return dss_fail(c, DSS_E_InternalFailure, "The emulator could not commit the change.");
        }
        dss_db_rollback(db, write);
        drop_wakes(c);
        cJSON_Delete(*result);
        *result = NULL;
        if (rc != DSS_WAIT)
            return DSS_ERR;
        if (!c->conn) /* dss_wait() never parks such a call; an operation that waits anyway is wrong */
            return dss_fail(c, DSS_E_InternalFailure, "Operation %s cannot wait here.", c->op_name);
        if (atomic_load(&n_parked) >= dss_guard_limits()->max_long_polls) /* auth.h: the long-poll cap */
            return dss_fail(c, dss_guard_throttle_error(c->service), "Rate exceeded: %u calls are already waiting "
                            "(dss-emulator --max-long-polls).", dss_guard_limits()->max_long_polls);
        if (waiter_park(c))
            return DSS_WAIT;
        /* A wake raced the park: run again now. */
    }
}

/* A service's own control endpoint (service.h). One that neither replies nor fails but called
 * dss_wait() is parked like a long poll and run again when resumed (the simulated clock's
 * sleep). Returns 1 when a service took the call. */
static int control_by_service(struct dss_call *c, enum MHD_Result *res)
{
    for (;;) {
        c->wait_key[0] = '\0';
        c->wake_gen = atomic_load(&wake_gen);
        int taken = 0;
        for (int i = 0; dss_services[i] && !taken; i++)
            taken = dss_services[i]->control && dss_services[i]->control(c);
        if (!taken)
            return 0;
        if (!c->replied && c->wait_key[0] && !waiter_park(c))
            continue; /* a wake raced the park: run again now */
        *res = c->replied || c->wait_key[0] ? MHD_YES : reply_error(c);
        return 1;
    }
}

/* Answers 200 with h as JSON, and frees it. */
static enum MHD_Result reply_json_object(struct dss_call *c, cJSON *h)
{
    struct buf out;
    buf_init(&out, SIZE_MAX);
    char *text = cJSON_PrintUnformatted(h);
    buf_puts(&out, text);
    free(text);
    cJSON_Delete(h);
    return send_reply(c, 200, "application/json", &out, NULL, NULL);
}

/* GET /_dss/integrity: SQLite's integrity_check of the data directory's database, as
 * {"integrity_check":["ok"]} or the problems it lists (at most 100). The process holds the file
 * exclusively (db.c), so this is how a test or a user checks it while the emulator runs. */
static enum MHD_Result reply_integrity(struct dss_call *c)
{
    sqlite3 *db = dss_db_begin(0);
    if (!db)
        return dss_fail(c, DSS_E_InternalFailure, "The database cannot be read."), reply_error(c);
    cJSON *h = cJSON_CreateObject();
    cJSON *found = cJSON_AddArrayToObject(h, "integrity_check");
    sqlite3_stmt *st = dss_db_stmt(db, "PRAGMA integrity_check(100)");
    int rc = SQLITE_ERROR;
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
        cJSON_AddItemToArray(found, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
    if (st)
        sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        cJSON_AddItemToArray(found, cJSON_CreateString(sqlite3_errmsg(db)));
    dss_db_rollback(db, 0);
    return reply_json_object(c, h);
}

static enum MHD_Result reply_control(struct dss_call *c)
{
    if (dss_auth_check_control(c, c->body.data, c->body.len) != 0) /* auth.h: loopback, or signed */
        return reply_error(c);
    enum MHD_Result res;
    if (control_by_service(c, &res))
        return res;
    if (strcmp(c->path, "/_dss/integrity") == 0)
        return reply_integrity(c);
    if (strcmp(c->path, "/_dss/health") != 0)
        return dss_fail(c, DSS_E_InvalidAction, "No such control endpoint: %s", c->path), reply_error(c);
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "status", "ok");
    cJSON_AddStringToObject(h, "version", DSS_VERSION);
    cJSON *names = cJSON_AddArrayToObject(h, "services");
    for (int i = 0; dss_services[i]; i++)
        cJSON_AddItemToArray(names, cJSON_CreateString(dss_services[i]->name));
    cJSON_AddStringToObject(h, "data_dir", server_data_dir);
    return reply_json_object(c, h);
}

/* A JSON or Query call's first run, up to its operation: the request parsed into parameters,
 * its signature checked, then the injected faults (service.h). Shared by the HTTP path and
 * dss_server_call_json(). Returns 0 when the operation is to run (after *delay_ms if > 0;
 * never if it is DSS_FAULT_RESET: the connection is to close unanswered), or DSS_ERR with the
 * error recorded. */
static int call_prepare(struct dss_call *c, int64_t *delay_ms)
{
    char scope_service[64];
    sigv4_scope(c, scope_service, sizeof scope_service);
    int rc = c->route == ROUTE_JSON ? parse_json_request(c, c->target)
             : c->route == ROUTE_QUERY ? parse_query_request(c, scope_service)
             : dss_fail(c, DSS_E_InvalidAction, "S3 and other REST APIs are not served yet.");
    if (!c->body_too_large && /* auth.h: the signature, before anything runs */
        dss_auth_check(c, c->service, c->route == ROUTE_JSON, c->body.data, c->body.len) != 0)
        return DSS_ERR;
    if (rc != 0)
        return DSS_ERR;
    c->first_ms = dss_clock_now_ms();
    *delay_ms = 0;
    return dss_faults_check(c, c->service->name, c->op_name, delay_ms) != 0 ? DSS_ERR : 0;
}

static enum MHD_Result dispatch(struct dss_call *c)
{
    if (c->route == ROUTE_CONTROL)
        return reply_control(c);
    if (!c->op) { /* first run; a resumed call keeps its operation and parsed parameters */
        int64_t delay_ms = 0;
        if (call_prepare(c, &delay_ms) != 0)
            return reply_error(c);
        if (delay_ms == DSS_FAULT_RESET) /* injected connection reset: MHD closes it, unanswered */
            return MHD_NO;
        c->wake_gen = atomic_load(&wake_gen);
        if (delay_ms > 0 && dss_wait(c, "_dss:fault-delay", c->first_ms + delay_ms) == DSS_WAIT &&
            waiter_park(c))
            return MHD_YES;
    } else if (client_hung_up(c->parked_fd)) {
        /* Resumed, but its client has gone: running it now could take a message nobody will
         * see until its visibility timeout ends. Pass the wake on to the next waiter instead. */
        log_debug("%s %s: client gone while parked, dropped", c->service->name, c->op_name);
        if (c->wait_key[0])
            wake_key(c->wait_key, 1);
        return MHD_NO;
    }
    cJSON *result = NULL;
    int rc = run_operation(c, &result);
    if (rc == DSS_WAIT)
        return MHD_YES;
    if (rc == DSS_ERR)
        return reply_error(c);
    enum MHD_Result sent;
    if (c->route == ROUTE_JSON) {
        sent = reply_json_result(c, result);
    } else {
        struct buf out;
        buf_init(&out, SIZE_MAX);
        query_result_xml(dss_model(c->service->query_model), c->op_name, result, c->service->xmlns,
                         c->request_id, c->service->ec2_dialect, &out);
        sent = send_reply(c, 200, "text/xml", &out, NULL, NULL);
    }
    cJSON_Delete(result);
    return sent;
}

/* ======================================================================================
 * REST requests: a service's rest handler takes the whole request (service.h)
 * ====================================================================================== */

int dss_run(struct dss_call *c, const struct dss_operation *op, const cJSON *params, cJSON **result)
{
    int write = !(op->flags & DSS_OP_READONLY);
    *result = NULL;
    sqlite3 *db = dss_db_begin(write);
    if (!db)
        return dss_fail(c, DSS_E_InternalFailure, "The emulator's database is unavailable.");
    int rc = op->fn(c, params, result);
    if (rc == DSS_OK) {
        if (dss_db_commit(db, write) == 0) {
            fire_wakes(c);
            return DSS_OK;
        }
        rc = dss_fail(c, DSS_E_InternalFailure, "The emulator could not commit the change.");
    } else {
        dss_db_rollback(db, write);
        if (rc == DSS_WAIT)
            rc = dss_fail(c, DSS_E_InternalFailure, "Operation %s cannot wait.", op->name);
    }
    drop_wakes(c);
    cJSON_Delete(*result);
    *result = NULL;
    return rc;
}

int dss_reply_header(struct dss_call *c, const char *name, const char *value)
{
    struct reply_header *grown = realloc(c->reply_headers, (c->n_reply_headers + 1) * sizeof *grown);
    if (!grown)
        return -1;
    c->reply_headers = grown;
    grown[c->n_reply_headers].name = strdup(name);
    grown[c->n_reply_headers].value = strdup(value);
    c->n_reply_headers++;
    return 0;
}

static void reply_headers_free(struct dss_call *c)
{
    for (size_t i = 0; i < c->n_reply_headers; i++) {
        free(c->reply_headers[i].name);
        free(c->reply_headers[i].value);
    }
    free(c->reply_headers);
    c->reply_headers = NULL;
    c->n_reply_headers = 0;
}

/* Adds the collected headers to r, queues it and drops our reference. */
static int reply_queue(struct dss_call *c, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return -1;
    for (size_t i = 0; i < c->n_reply_headers; i++)
        MHD_add_response_header(r, c->reply_headers[i].name, c->reply_headers[i].value);
    reply_headers_free(c);
    enum MHD_Result rc = MHD_queue_response(c->conn, status, r);
    MHD_destroy_response(r);
    if (rc != MHD_YES)
        return -1;
    c->replied = 1;
    return 0;
}

int dss_reply_buffer(struct dss_call *c, unsigned status, char *data, size_t len)
{
    if (c->replied) {
        free(data);
        return -1;
    }
    struct MHD_Response *r = data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        free(data);
    return reply_queue(c, status, r);
}

/* Bodies up to this size are read into memory and sent from there. MHD sends a buffer in the
 * same write as the headers, a file with sendfile() after them: for a 4 KiB object the second
 * write, and the TCP segment it makes, were a fifth of a GET's CPU. */
#define REPLY_READ_MAX (64 * 1024)

/* The length bytes of fd at offset in a new buffer, or NULL. */
static char *read_body(int fd, uint64_t offset, uint64_t length)
{
    char *data = malloc(length);
    size_t done = 0;
    while (data && done < length) {
        ssize_t n = pread(fd, data + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(data);
            return NULL;
        }
        done += (size_t)n;
    }
    return data;
}

int dss_reply_fd(struct dss_call *c, unsigned status, int fd, uint64_t offset, uint64_t length)
{
    if (length == 0 || c->replied) { /* MHD wants a non-empty file; an empty body needs no fd */
        close(fd);
        return dss_reply_buffer(c, status, NULL, 0);
    }
    char *data = length <= REPLY_READ_MAX ? read_body(fd, offset, length) : NULL;
    if (data) {
        close(fd);
        return dss_reply_buffer(c, status, data, length);
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(length, fd, offset);
    if (!r)
        close(fd);
    return reply_queue(c, status, r); /* the response closes fd when it is destroyed */
}

/* Offers a REST request to every service with a rest handler, once its headers are in. One
 * that declines them all gets the "not served" error from dispatch(). */
static void rest_claim(struct dss_call *c)
{
    char scope_service[64];
    sigv4_scope(c, scope_service, sizeof scope_service);
    c->first_ms = dss_clock_now_ms();
    for (int i = 0; dss_services[i]; i++) {
        const struct dss_service *s = dss_services[i];
        if (s->rest && s->rest->claim(c, &c->rest_ctx)) {
            c->service = s;
            c->rest_claimed = 1;
            return;
        }
    }
}

/* A claimed request: body chunks go to the handler as they arrive, then it answers. */
static enum MHD_Result rest_request(struct dss_call *c, const char *data, size_t *size)
{
    if (*size) {
        if (dss_auth_body_feed(c->auth_body, data, *size)) /* auth.h: payload hash, chunk signatures */
            c->rest_body_failed = 1;
        if (!c->replied && !c->rest_body_failed && c->service->rest->body(c, c->rest_ctx, data, *size))
            c->rest_body_failed = 1;
        *size = 0;
        return MHD_YES;
    }
    if (c->replied || dss_auth_body_end(c, c->auth_body) != 0) /* auth.h: answers a body that does not match */
        return MHD_YES;
    c->service->rest->finish(c, c->rest_ctx);
    if (c->replied)
        return MHD_YES;
    dss_fail(c, DSS_E_InternalFailure, "The %s service did not answer.", c->service->name);
    return reply_error(c);
}

/* ======================================================================================
 * libmicrohttpd callbacks
 * ====================================================================================== */

/* A few freed calls kept per thread for the next requests. A dss_call is about 2 KiB: from
 * malloc, each request's one took a trip through glibc's large-chunk path, which first merges
 * every small free chunk (malloc_consolidate: 1.2 % of a 4 KiB GetObject's CPU). */
#define SPARE_CALLS 4
static __thread struct dss_call *spare_calls[SPARE_CALLS];
static __thread int n_spare_calls;

static pthread_key_t spare_calls_key; /* its destructor frees a thread's spares when it ends */
static pthread_once_t spare_calls_once = PTHREAD_ONCE_INIT;

static void free_spare_calls(void *unused)
{
    (void)unused;
    while (n_spare_calls)
        free(spare_calls[--n_spare_calls]);
}

static void make_spare_calls_key(void)
{
    pthread_key_create(&spare_calls_key, free_spare_calls);
}

static void keep_spare_call(struct dss_call *c)
{
    if (n_spare_calls == SPARE_CALLS) {
        free(c);
        return;
    }
    if (!n_spare_calls) {
        pthread_once(&spare_calls_once, make_spare_calls_key);
        pthread_setspecific(spare_calls_key, spare_calls); /* non-NULL: the destructor runs */
    }
    spare_calls[n_spare_calls++] = c;
}

static struct dss_call *call_alloc(void)
{
    if (!n_spare_calls)
        return calloc(1, sizeof(struct dss_call));
    struct dss_call *c = spare_calls[--n_spare_calls];
    memset(c, 0, sizeof *c);
    return c;
}

/* MHD's first sight of a request: keeps the target as sent, before MHD decodes it (S3 keys
 * and signatures need the raw form). The call it returns is completed by call_new(). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    dss_guard_request_begin(conn); /* auth.h: the request's headers are now due */
    struct dss_call *c = call_alloc();
    if (c && !(c->uri = strdup(uri))) {
        free(c);
        c = NULL;
    }
    return c;
}

static struct dss_call *call_new(struct dss_call *c, struct MHD_Connection *conn, const char *url,
                                 const char *method)
{
    if (!c && !(c = call_alloc()))
        return NULL;
    c->conn = conn;
    c->parked_fd = -1;
    c->method = strdup(method);
    c->path = strdup(url);
    buf_init(&c->body, dss_guard_limits()->max_body_bytes);
    atomic_fetch_add(&n_calls, 1);
    uuid_string(c->request_id);
    snprintf(c->region, sizeof c->region, "us-east-1");
    route_request(c);
    return c;
}

static void call_free(struct dss_call *c)
{
    drop_wakes(c);
    reply_headers_free(c);
    cJSON_Delete(c->err_members);
    free(c->bytes_given);
    free(c->uri);
    dss_auth_body_free(c->auth_body);
    cJSON_Delete(c->params);
    buf_free(&c->body);
    free(c->method);
    free(c->path);
    keep_spare_call(c);
}

/* A JSON or Query body declared larger than the cap is refused from its headers, unread.
 * Returns 1 when it answered. */
static int body_declared_too_large(struct dss_call *c)
{
    const char *cl = header(c, "Content-Length");
    char *end;
    if ((c->route != ROUTE_JSON && c->route != ROUTE_QUERY) || !cl || !*cl)
        return 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (*end || n <= dss_guard_limits()->max_body_bytes)
        return 0;
    dss_fail(c, DSS_E_RequestEntityTooLarge, "Request body is larger than %zu bytes.", dss_guard_limits()->max_body_bytes);
    reply_error(c);
    c->replied = 1;
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct dss_call *c = *con_cls;
    dss_guard_progress(conn, !c || !c->conn, *upload_data_size); /* auth.h: the request watchdog */
    if (!c || !c->conn) {
        *con_cls = c = call_new(c, conn, url, method);
        if (c && !body_declared_too_large(c) && c->route == ROUTE_REST &&
            dss_auth_check_rest(c, &c->auth_body) == 0) /* auth.h: answers a request it refuses */
            rest_claim(c);
        return c ? MHD_YES : MHD_NO;
    }
    if (c->replied && !c->rest_claimed) { /* answered from the headers alone: the body is ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->rest_claimed)
        return rest_request(c, upload_data, upload_data_size);
    if (*upload_data_size) {
        if (!c->body_too_large && buf_append(&c->body, upload_data, *upload_data_size))
            c->body_too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(c);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)toe;
    dss_guard_request_end(conn); /* auth.h: the connection waits for its next request */
    struct dss_call *c = *con_cls;
    if (!c)
        return;
    pthread_mutex_lock(&waiters_lock);
    if (c->parked)
        waiter_unlink(c);
    pthread_mutex_unlock(&waiters_lock);
    if (c->rest_claimed)
        c->service->rest->release(c->rest_ctx);
    if (c->conn) /* counted by call_new() */
        atomic_fetch_sub(&n_calls, 1);
    call_free(c);
    *con_cls = NULL;
    tell_if_idle();
}

/* ======================================================================================
 * One JSON-protocol call without HTTP (server.h): the fuzz target's way in
 * ====================================================================================== */

int dss_server_call_json(const char *target, const char *body, size_t len, int *status, struct buf *out)
{
    struct dss_call *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->parked_fd = -1;
    c->method = strdup("POST");
    c->path = strdup("/");
    buf_init(&c->body, dss_guard_limits()->max_body_bytes);
    if (!c->method || !c->path) {
        call_free(c);
        return -1;
    }
    if (len && buf_append(&c->body, body, len))
        c->body_too_large = 1; /* parse_json_request() refuses it, as the HTTP path does */
    uuid_string(c->request_id);
    snprintf(c->region, sizeof c->region, "us-east-1");
    c->route = ROUTE_JSON;
    c->target = target;
    int64_t delay_ms = 0;
    int rc = call_prepare(c, &delay_ms);
    if (rc == 0 && delay_ms == DSS_FAULT_RESET) { /* an injected reset: no answer at all */
        call_free(c);
        return -1;
    }
    cJSON *result = NULL;
    if (rc == 0) /* an injected delay is not waited for: as if it had passed */
        rc = run_operation(c, &result);
    *status = rc == DSS_OK ? render_json_result(result, out) : render_json_error(c, out);
    cJSON_Delete(result);
    call_free(c);
    return 0;
}

int dss_server_start_json_services(const char *data_dir)
{
    snprintf(server_data_dir, sizeof server_data_dir, "%s", data_dir);
    shutting_down = 0;
    for (int i = 0; dss_services[i]; i++) {
        const struct dss_service *s = dss_services[i];
        if (s->json_target && s->start && s->start() != 0) {
            log_error("%s could not start", s->name);
            while (i-- > 0)
                if (dss_services[i]->json_target && dss_services[i]->stop)
                    dss_services[i]->stop();
            return -1;
        }
    }
    return 0;
}

void dss_server_stop_json_services(void)
{
    for (int i = 0; dss_services[i]; i++)
        if (dss_services[i]->json_target && dss_services[i]->stop)
            dss_services[i]->stop();
}

/* ======================================================================================
 * The simulated clock's view of the server (server.h)
 * ====================================================================================== */

unsigned dss_server_busy_calls(unsigned *parked)
{
    pthread_mutex_lock(&waiters_lock);
    unsigned all = atomic_load(&n_calls), p = atomic_load(&n_parked);
    pthread_mutex_unlock(&waiters_lock);
    if (parked)
        *parked = p;
    return all > p ? all - p : 0;
}

int64_t dss_server_next_wait(void)
{
    int64_t next = INT64_MAX;
    pthread_mutex_lock(&waiters_lock);
    for (struct dss_call *c = waiters; c; c = c->next)
        if (c->wait_at_ms < next)
            next = c->wait_at_ms;
    pthread_mutex_unlock(&waiters_lock);
    return next;
}

int dss_server_resume_first_due(int64_t now)
{
    struct dss_call *first = NULL;
    pthread_mutex_lock(&waiters_lock);
    for (struct dss_call *c = waiters; c; c = c->next) /* earliest deadline, then key, then park order */
        if (c->wait_at_ms <= now && (!first || c->wait_at_ms < first->wait_at_ms ||
                                     (c->wait_at_ms == first->wait_at_ms && strcmp(c->wait_key, first->wait_key) < 0)))
            first = c;
    if (first)
        waiter_resume(first);
    pthread_mutex_unlock(&waiters_lock);
    return first != NULL;
}

int dss_server_start(struct dss_server_config *cfg)
{
    snprintf(server_data_dir, sizeof server_data_dir, "%s", cfg->data_dir);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        log_error("cannot listen on %s: not an IPv4 address", cfg->host);
        return -1;
    }
    shutting_down = 0;
    for (int i = 0; dss_services[i]; i++) {
        if (dss_services[i]->start && dss_services[i]->start() != 0) {
            log_error("%s could not start", dss_services[i]->name);
            while (i-- > 0)
                if (dss_services[i]->stop)
                    dss_services[i]->stop();
            return -1;
        }
    }
    services_started = 1;
    if (pthread_create(&timer_thread, NULL, timer_main, NULL) != 0)
        return -1;
    timer_running = 1;
    if (dss_guard_start() != 0) { /* auth.h: the request watchdog */
        dss_server_stop();
        return -1;
    }
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)cfg->port, NULL, NULL, on_request, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, dss_guard_limits()->max_connections, /* auth.h: limits */
        MHD_OPTION_CONNECTION_TIMEOUT, dss_guard_limits()->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, dss_guard_limits()->max_header_bytes,
        MHD_OPTION_NOTIFY_CONNECTION, dss_guard_notify, NULL,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_END);
    if (!daemon_) {
        log_error("cannot listen on %s:%d (address in use?)", cfg->host, cfg->port);
        dss_server_stop();
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        cfg->port = info->port;
    server_port = cfg->port;
    return 0;
}

void dss_server_stop(void)
{
    pthread_mutex_lock(&waiters_lock);
    shutting_down = 1;
    pthread_cond_signal(&waiters_cond);
    pthread_mutex_unlock(&waiters_lock);
    if (timer_running) {
        pthread_join(timer_thread, NULL); /* resumes every parked call on its way out */
        timer_running = 0;
    }
    if (daemon_) {
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
    dss_guard_stop();
    for (int i = 0; services_started && dss_services[i]; i++)
        if (dss_services[i]->stop)
            dss_services[i]->stop();
    services_started = 0;
}
