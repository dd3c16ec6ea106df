/* clock.c -- see clock.h.
 *
 * The emulator's clock (sched_clock_emulator): the virtual clock again, but a jump is a sleep on
 * the emulator's barrier (GET URL/_dss/clock/sleep?participant=NAME&until=T, a long poll that
 * answers with the emulator's "now" once it has reached T). The call blocks the loop on purpose:
 * it is made only when the loop has nothing else to do, and while it is parked the emulator
 * moves time for everyone. A plain easy handle keeps it apart from the AWS client's requests.
 */
#include "clock.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static int64_t (*source)(void *);
static void *source_ctx;
static int virtual_mode;
static int64_t virtual_now;
static char barrier_url[1024];    /* "": no emulator barrier */
static char barrier_name[64];
static CURL *barrier_curl;
static volatile sig_atomic_t *barrier_stop;
static void (*sleep_hook)(void *);
static void *sleep_hook_arg;

static int64_t wall_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clock_now(void *ctx)
{
    (void)ctx;
    return sched_now_ms();
}

static const struct aws_clock the_clock = {clock_now, NULL};

int64_t sched_now_ms(void)
{
    if (virtual_mode)
        return virtual_now;
    return source ? source(source_ctx) : wall_now(NULL);
}

const struct aws_clock *sched_clock(void)
{
    return &the_clock;
}

void sched_clock_set(int64_t (*now)(void *ctx), void *ctx)
{
    virtual_mode = 0;
    source = now;
    source_ctx = ctx;
}

void sched_clock_virtual(int64_t start_ms)
{
    virtual_mode = 1;
    virtual_now = start_ms;
}

int sched_clock_is_virtual(void)
{
    return virtual_mode;
}

void sched_clock_advance_to(int64_t t)
{
    if (virtual_mode && t > virtual_now)
        virtual_now = t;
}

int64_t sched_clock_wall_ms_until(int64_t t)
{
    if (virtual_mode)
        return 0;
    int64_t d = t - sched_now_ms();
    return d > 0 ? d : 0;
}

int64_t sched_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    return buf_append(arg, data, size * n) ? 0 : size * n;
}

/* Aborts a parked sleep once the program is asked to stop. */
static int barrier_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)arg, (void)a, (void)b, (void)c, (void)d;
    return barrier_stop && *barrier_stop;
}

/* One request to the emulator's clock; *now_ms from its answer. Returns 0 or -1 (err). */
static int barrier_call(const char *method, const char *path_query, int64_t *now_ms, char *err, size_t n)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", barrier_url, path_query);
    struct buf body;
    buf_init(&body, 1 << 16);
    curl_easy_reset(barrier_curl);
    curl_easy_setopt(barrier_curl, CURLOPT_URL, url);
    curl_easy_setopt(barrier_curl, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST"))
        curl_easy_setopt(barrier_curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(barrier_curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(barrier_curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(barrier_curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(barrier_curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(barrier_curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(barrier_curl, CURLOPT_XFERINFOFUNCTION, barrier_progress);
    CURLcode rc = curl_easy_perform(barrier_curl);
    long status = 0;
    curl_easy_getinfo(barrier_curl, CURLINFO_RESPONSE_CODE, &status);
    cJSON *doc = rc == CURLE_OK && body.data ? cJSON_ParseWithLength(body.data, body.len) : NULL;
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(doc, "now_ms");
    int ok = status == 200 && cJSON_IsNumber(now);
    if (ok)
        *now_ms = (int64_t)now->valuedouble;
    else
        snprintf(err, n, "%s: %s (HTTP %ld) %.200s", url, curl_easy_strerror(rc), status, body.data ? body.data : "");
    cJSON_Delete(doc);
    buf_free(&body);
    return ok ? 0 : -1;
}

int sched_clock_emulator(const char *url, const char *participant, volatile sig_atomic_t *stop, char *err, size_t n)
{
    snprintf(barrier_url, sizeof barrier_url, "%s", url);
    size_t len = strlen(barrier_url);
    while (len && barrier_url[len - 1] == '/')
        barrier_url[--len] = '\0';
    snprintf(barrier_name, sizeof barrier_name, "%s", participant);
    barrier_stop = stop;
    if (!barrier_curl && !(barrier_curl = curl_easy_init())) {
        snprintf(err, n, "curl_easy_init failed");
        return -1;
    }
    char q[256];
    snprintf(q, sizeof q, "/_dss/clock/register?participant=%s", barrier_name);
    int64_t now = 0;
    if (barrier_call("POST", q, &now, err, n)) {
        barrier_url[0] = '\0';
        return -1;
    }
    sched_clock_virtual(now);
    return 0;
}

int sched_clock_on_emulator(void)
{
    return barrier_url[0] != '\0';
}

void sched_clock_wait_until(int64_t t)
{
    if (!barrier_url[0]) {
        sched_clock_advance_to(t);
        return;
    }
    if (barrier_stop && *barrier_stop)
        return;
    if (sleep_hook)
        sleep_hook(sleep_hook_arg);
    char q[256], err[512];
    snprintf(q, sizeof q, "/_dss/clock/sleep?participant=%s&until=%lld", barrier_name, (long long)t);
    int64_t now = 0;
    if (barrier_call("GET", q, &now, err, sizeof err) == 0) {
        sched_clock_advance_to(now);
        return;
    }
    if (!(barrier_stop && *barrier_stop)) {
        fprintf(stderr, "dss-scheduler: the emulator's clock: %s\n", err);
        usleep(200000); /* the emulator is gone or restarting: do not spin */
    }
}

void sched_clock_on_sleep(void (*fn)(void *arg), void *arg)
{
    sleep_hook = fn;
    sleep_hook_arg = arg;
}

void sched_clock_emulator_cleanup(void)
{
    if (barrier_curl && barrier_url[0]) {
        char q[256], err[512];
        int64_t now;
        snprintf(q, sizeof q, "/_dss/clock/unregister?participant=%s", barrier_name);
        barrier_stop = NULL;
        barrier_call("POST", q, &now, err, sizeof err);
    }
    if (barrier_curl)
        curl_easy_cleanup(barrier_curl);
    barrier_curl = NULL;
    barrier_url[0] = '\0';
}
