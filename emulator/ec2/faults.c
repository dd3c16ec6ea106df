/* faults.c -- injected API faults and the emulator's event log (the control API's half that
 * is not about instances; see instances.c for Spot interruptions and worker faults).
 *
 *   POST   /_dss/faults/api?service=sqs&operation=ReceiveMessage&nth=3&count=1&action=error
 *          [&error=RequestThrottled] | action=delay&delay_ms=2000 | action=reset
 *          Arms a fault: the nth call (counted from now) of that operation, and count-1 calls
 *          after it, fail with the error (default: the service's own throttling error), are
 *          answered delay_ms later on the emulator clock, or (reset) have their connection
 *          closed without any HTTP answer, the way a dropped connection or a crashed front end
 *          looks to a client (curl: "Empty reply from server"; botocore: ConnectionClosedError),
 *          after the request was read and before anything ran. operation=* matches every
 *          operation of the service. Answers {"id": N}.
 *   GET    /_dss/faults           the armed faults and how often each has fired
 *   DELETE /_dss/faults[?id=N]    disarms one or all
 *   GET    /_dss/events[?since=SEQ]  every injected fault and lifecycle event, oldest first
 *
 * Every fault that fires is logged as an event ("fault.api").
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ec2.h"
#include "util.h"

#define FAULTS_MAX 64
#define EVENTS_MAX 8192

enum fault_action {
    FAULT_ERROR, /* fail with err in the service's protocol */
    FAULT_DELAY, /* answer delay_ms later */
    FAULT_RESET, /* close the connection without an answer */
};
static const char *const action_names[] = {"error", "delay", "reset"};

struct fault {
    int id;
    char service[32];
    char op[64];
    long nth, count;   /* fires on calls nth .. nth+count-1 after arming */
    long seen, fired;
    enum fault_action action;
    enum dss_error err;
    int64_t delay_ms;
};

static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[FAULTS_MAX];
static int n_faults, next_fault_id = 1;

struct event {
    int64_t seq, ms;
    char type[48];
    char *detail;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event events[EVENTS_MAX];
static int64_t next_seq = 1;

void dss_event(const char *type, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    log_info("event %s: %s", type, detail);
    pthread_mutex_lock(&events_lock);
    struct event *e = &events[next_seq % EVENTS_MAX];
    free(e->detail);
    e->seq = next_seq++;
    e->ms = dss_clock_now_ms();
    snprintf(e->type, sizeof e->type, "%s", type);
    e->detail = strdup(detail);
    pthread_mutex_unlock(&events_lock);
}

/* The error a throttled call of this service gets on AWS. */
static enum dss_error throttle_error(const char *service)
{
    return !strcmp(service, "sqs") ? DSS_E_RequestThrottled
         : !strcmp(service, "ec2") ? DSS_E_RequestLimitExceeded : DSS_E_ThrottlingException;
}

static int error_by_code(const char *code, enum dss_error *out)
{
    for (int i = 0; i < DSS_E__COUNT; i++) {
        const struct dss_error_info *e = dss_error_info((enum dss_error)i);
        if (!strcmp(e->code, code) || (e->query_code && !strcmp(e->query_code, code))) {
            *out = (enum dss_error)i;
            return 0;
        }
    }
    return -1;
}

int dss_faults_check(struct dss_call *call, const char *service, const char *op, int64_t *delay_ms)
{
    int rc = 0;
    pthread_mutex_lock(&faults_lock);
    for (int i = 0; i < n_faults && rc == 0 && *delay_ms == 0; i++) {
        struct fault *f = &faults[i];
        if (strcmp(f->service, service) || (strcmp(f->op, "*") && strcmp(f->op, op)))
            continue;
        f->seen++;
        if (f->seen < f->nth || f->fired >= f->count)
            continue;
        f->fired++;
        if (f->action == FAULT_RESET) {
            *delay_ms = DSS_FAULT_RESET;
            dss_event("fault.api", "{\"id\":%d,\"service\":\"%s\",\"operation\":\"%s\",\"call\":%ld,"
                      "\"reset\":true}", f->id, service, op, f->seen);
        } else if (f->action == FAULT_DELAY) {
            *delay_ms = f->delay_ms;
            dss_event("fault.api", "{\"id\":%d,\"service\":\"%s\",\"operation\":\"%s\",\"call\":%ld,"
                      "\"delay_ms\":%lld}", f->id, service, op, f->seen, (long long)f->delay_ms);
        } else {
            const struct dss_error_info *e = dss_error_info(f->err);
            dss_event("fault.api", "{\"id\":%d,\"service\":\"%s\",\"operation\":\"%s\",\"call\":%ld,"
                      "\"error\":\"%s\",\"status\":%d}", f->id, service, op, f->seen, e->code, e->status);
            rc = dss_fail(call, f->err, f->err == throttle_error(service) ? "Rate exceeded"
                                                                         : "Injected fault (dss control API).");
        }
    }
    pthread_mutex_unlock(&faults_lock);
    return rc;
}

static cJSON *faults_json(void)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n_faults; i++) {
        struct fault *f = &faults[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", f->id);
        cJSON_AddStringToObject(o, "service", f->service);
        cJSON_AddStringToObject(o, "operation", f->op);
        cJSON_AddNumberToObject(o, "nth", (double)f->nth);
        cJSON_AddNumberToObject(o, "count", (double)f->count);
        cJSON_AddNumberToObject(o, "seen", (double)f->seen);
        cJSON_AddNumberToObject(o, "fired", (double)f->fired);
        cJSON_AddStringToObject(o, "action", action_names[f->action]);
        if (f->action == FAULT_DELAY)
            cJSON_AddNumberToObject(o, "delay_ms", (double)f->delay_ms);
        else if (f->action == FAULT_ERROR)
            cJSON_AddStringToObject(o, "error", dss_error_info(f->err)->code);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static long arg_long(struct dss_call *call, const char *name, long dflt, int *bad)
{
    char *v = control_arg(call, name);
    if (!v)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0)
        *bad = 1;
    free(v);
    return n;
}

static int arm_fault(struct dss_call *call)
{
    char *service = control_arg(call, "service"), *op = control_arg(call, "operation");
    char *action = control_arg(call, "action"), *error = control_arg(call, "error");
    int bad = 0, rc;
    struct fault f = {0};
    f.nth = arg_long(call, "nth", 1, &bad);
    f.count = arg_long(call, "count", 1, &bad);
    f.delay_ms = arg_long(call, "delay_ms", 0, &bad);
    int act = !action ? FAULT_ERROR : !strcmp(action, "delay") ? FAULT_DELAY
            : !strcmp(action, "reset") ? FAULT_RESET : !strcmp(action, "error") ? FAULT_ERROR : -1;
    if (!service || !op || bad || f.nth < 1 || strlen(service) >= sizeof f.service || strlen(op) >= sizeof f.op ||
        act < 0) {
        rc = control_reply_error(call, 400, "InvalidParameterValue",
                                 "want service, operation, nth >= 1, count, action=error|delay|reset, error, delay_ms");
        goto out;
    }
    f.action = (enum fault_action)act;
    snprintf(f.service, sizeof f.service, "%s", service);
    snprintf(f.op, sizeof f.op, "%s", op);
    f.err = throttle_error(service);
    if (error && error_by_code(error, &f.err)) {
        rc = control_reply_error(call, 400, "InvalidParameterValue", "unknown error code %s", error);
        goto out;
    }
    pthread_mutex_lock(&faults_lock);
    if (n_faults == FAULTS_MAX) {
        pthread_mutex_unlock(&faults_lock);
        rc = control_reply_error(call, 400, "LimitExceeded", "at most %d faults may be armed", FAULTS_MAX);
        goto out;
    }
    f.id = next_fault_id++;
    faults[n_faults++] = f;
    pthread_mutex_unlock(&faults_lock);
    dss_event("fault.armed", "{\"id\":%d,\"service\":\"%s\",\"operation\":\"%s\",\"nth\":%ld,\"count\":%ld,"
              "\"action\":\"%s\"}", f.id, f.service, f.op, f.nth, f.count, action_names[f.action]);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", f.id);
    rc = control_reply_json(call, 200, o);
out:
    free(service);
    free(op);
    free(action);
    free(error);
    return rc;
}

static int list_events(struct dss_call *call)
{
    int bad = 0;
    long since = arg_long(call, "since", 0, &bad);
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&events_lock);
    int64_t first = next_seq > EVENTS_MAX ? next_seq - EVENTS_MAX : 1;
    for (int64_t s = first > since + 1 ? first : since + 1; s < next_seq; s++) {
        struct event *e = &events[s % EVENTS_MAX];
        cJSON *o = cJSON_CreateObject();
        char when[32];
        iso8601_ms(e->ms, when);
        cJSON_AddNumberToObject(o, "seq", (double)e->seq);
        cJSON_AddStringToObject(o, "time", when);
        cJSON_AddStringToObject(o, "type", e->type);
        cJSON *detail = cJSON_Parse(e->detail ? e->detail : "");
        cJSON_AddItemToObject(o, "detail", detail ? detail : cJSON_CreateString(e->detail ? e->detail : ""));
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&events_lock);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "events", arr);
    return control_reply_json(call, 200, o);
}

int faults_control(struct dss_call *call)
{
    const char *path = dss_call_path(call), *method = dss_call_method(call);
    if (!strcmp(path, "/_dss/events"))
        return list_events(call);
    if (!strcmp(path, "/_dss/faults/api") && !strcmp(method, "POST"))
        return arm_fault(call);
    if (!strcmp(path, "/_dss/faults") && !strcmp(method, "DELETE")) {
        int bad = 0;
        long id = arg_long(call, "id", 0, &bad);
        pthread_mutex_lock(&faults_lock);
        int kept = 0;
        for (int i = 0; i < n_faults; i++)
            if (id && faults[i].id != id)
                faults[kept++] = faults[i];
        n_faults = kept;
        pthread_mutex_unlock(&faults_lock);
        dss_event("fault.disarmed", "{\"id\":%ld}", id);
        return control_reply_json(call, 200, cJSON_CreateObject());
    }
    if (!strcmp(path, "/_dss/faults")) {
        pthread_mutex_lock(&faults_lock);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "faults", faults_json());
        pthread_mutex_unlock(&faults_lock);
        return control_reply_json(call, 200, o);
    }
    return 0;
}
