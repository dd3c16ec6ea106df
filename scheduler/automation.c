/* automation.c -- see automation.h. The S3 trigger and the scaler as chains of asynchronous
 * AWS calls on the scheduler's loop.
 *
 * The first half is pure (settings, event decoding, job building, the scaler's arithmetic) and
 * is what the unit tests exercise; the second half wires it to the client and the loop.
 *
 * Request contexts are never malloc'd per request: a received batch uses the fixed slots in
 * struct automation, so when `run` stops with requests in flight (the client drops them without
 * their callbacks) nothing leaks.
 */
#include "automation.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "util.h"

/* ============================================================================================
 * Settings
 * ============================================================================================ */

static int take_string(const cJSON *o, const char *name, char *dst, size_t n, int may_be_empty, char *err,
                       size_t errlen)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
    if (!v || (!may_be_empty && !*v)) {
        snprintf(err, errlen, "\"%s\" is missing or not a%s string", name, may_be_empty ? "" : " non-empty");
        return -1;
    }
    if (strlen(v) >= n) {
        snprintf(err, errlen, "\"%s\" is longer than %zu bytes", name, n - 1);
        return -1;
    }
    snprintf(dst, n, "%s", v);
    return 0;
}

static int take_count(const cJSON *o, const char *name, long max, long *dst, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (cJSON_IsString(v)) {
        char *end;
        d = strtod(v->valuestring, &end);
        if (end == v->valuestring || *end)
            d = -1;
    }
    if (d < 0 || d > (double)max || d != (double)(long)d) {
        snprintf(err, errlen, "\"%s\" is missing or not a whole number from 0 to %ld", name, max);
        return -1;
    }
    *dst = (long)d;
    return 0;
}

int automation_settings_parse(const char *json, struct automation_settings *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    int rc = -1;
    long version = 0;
    const char *flavour;
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "not a JSON object");
        goto out;
    }
    if (take_count(o, "version", 1000, &version, err, errlen))
        goto out;
    if (version != 1) {
        snprintf(err, errlen, "version %ld is not supported (this scheduler reads version 1)", version);
        goto out;
    }
    if (take_string(o, "bucket", out->bucket, sizeof out->bucket, 0, err, errlen) ||
        take_string(o, "events_queue", out->events_queue, sizeof out->events_queue, 0, err, errlen) ||
        /* An empty suffix would make every result file a new job. */
        take_string(o, "trigger_suffix", out->trigger_suffix, sizeof out->trigger_suffix, 0, err, errlen) ||
        take_count(o, "retry", 1000, &out->retry, err, errlen) ||
        take_string(o, "success_string", out->success_string, sizeof out->success_string, 1, err, errlen) ||
        take_string(o, "working_dir", out->working_dir, sizeof out->working_dir, 0, err, errlen) ||
        take_string(o, "group", out->group, sizeof out->group, 0, err, errlen) ||
        take_count(o, "max_instances", 1000000, &out->max_instances, err, errlen))
        goto out;
    flavour = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "command_flavour"));
    if (flavour && strcmp(flavour, "shell") == 0)
        snprintf(out->ssm_document, sizeof out->ssm_document, "AWS-RunShellScript");
    else if (flavour && strcmp(flavour, "powershell") == 0)
        snprintf(out->ssm_document, sizeof out->ssm_document, "AWS-RunPowerShellScript");
    else {
        snprintf(err, errlen, "\"command_flavour\" is \"shell\" or \"powershell\"");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

/* ============================================================================================
 * Jobs from S3 events
 * ============================================================================================ */

const char *s3_event_verdict_name(enum s3_event_verdict v)
{
    switch (v) {
    case S3_EVENT_JOB: return "job";
    case S3_EVENT_TEST: return "test event";
    case S3_EVENT_NOT_S3: return "not an S3 ObjectCreated record";
    case S3_EVENT_OTHER_BUCKET: return "another bucket";
    case S3_EVENT_WRONG_SUFFIX: return "key without the trigger suffix";
    case S3_EVENT_BAD_KEY: return "undecodable key, or a key outside a folder";
    case S3_EVENT_BAD_BODY: return "not an S3 event notification";
    }
    return "?";
}

/* Appends s as one shell word: as is when it needs no quoting (so ordinary keys give exactly
 * the seed's commands), else in single quotes -- keys may hold spaces, quotes and `$`. */
static void shell_word(struct buf *b, const char *s)
{
    int plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:@%+=,-", *p) != NULL;
    if (plain)
        buf_puts(b, s);
    else
        shell_quote(b, s);
}

/* PowerShell single-quoted string ('' stands for a quote). */
static void ps_word(struct buf *b, const char *s)
{
    buf_puts(b, "'");
    for (; *s; s++)
        buf_puts(b, *s == '\'' ? "''" : (char[]){*s, '\0'});
    buf_puts(b, "'");
}

static void add_command(cJSON *cmds, struct buf *b)
{
    cJSON_AddItemToArray(cmds, cJSON_CreateString(b->data ? b->data : ""));
    buf_reset(b);
}

/* The seed's Linux commands: mkdir W · cd W · sync down · chmod · run · sync up · clean. */
static void shell_commands(cJSON *cmds, const char *w, const char *s3url, const char *name)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    buf_printf(&b, "mkdir %s", w);
    add_command(cmds, &b);
    buf_printf(&b, "cd %s", w);
    add_command(cmds, &b);
    buf_puts(&b, "sudo aws s3 sync ");
    shell_word(&b, s3url);
    buf_puts(&b, " ./");
    add_command(cmds, &b);
    buf_printf(&b, "sudo chmod +x %s/", w);
    shell_word(&b, name);
    add_command(cmds, &b);
    buf_printf(&b, "sudo %s/", w);
    shell_word(&b, name);
    add_command(cmds, &b);
    buf_puts(&b, "sudo aws s3 sync ./ ");
    shell_word(&b, s3url);
    add_command(cmds, &b);
    buf_printf(&b, "sudo rm %s/*.*", w);
    add_command(cmds, &b);
    buf_free(&b);
}

/* The same steps for AWS-RunPowerShellScript (Windows has no sudo or chmod). */
static void powershell_commands(cJSON *cmds, const char *w, const char *s3url, const char *name)
{
    struct buf b;
    buf_init(&b, 64 * 1024);
    buf_printf(&b, "New-Item -ItemType Directory -Force -Path %s", w);
    add_command(cmds, &b);
    buf_printf(&b, "cd %s", w);
    add_command(cmds, &b);
    buf_puts(&b, "aws s3 sync ");
    ps_word(&b, s3url);
    buf_puts(&b, " ./");
    add_command(cmds, &b);
    buf_printf(&b, "& %s/", w);
    ps_word(&b, name);
    add_command(cmds, &b);
    buf_puts(&b, "aws s3 sync ./ ");
    ps_word(&b, s3url);
    add_command(cmds, &b);
    buf_printf(&b, "Remove-Item %s/*.*", w);
    add_command(cmds, &b);
    buf_free(&b);
}

cJSON *automation_build_job(const struct automation_settings *s, const char *key)
{
    const char *slash = strrchr(key, '/');
    if (!slash || slash == key || slash[1] == '\0')
        return NULL;
    struct buf url;
    buf_init(&url, 64 * 1024);
    buf_printf(&url, "s3://%s/%.*s/", s->bucket, (int)(slash - key), key);
    cJSON *job = cJSON_CreateObject();
    char retry[32];
    snprintf(retry, sizeof retry, "%ld", s->retry);
    cJSON_AddStringToObject(job, "job_id", key);
    cJSON_AddStringToObject(job, "retry", retry);
    cJSON_AddStringToObject(job, "job_success_string", s->success_string);
    cJSON_AddStringToObject(job, "ssm_document", s->ssm_document);
    cJSON *cmds = cJSON_AddArrayToObject(job, "commands");
    if (strcmp(s->ssm_document, "AWS-RunPowerShellScript") == 0)
        powershell_commands(cmds, s->working_dir, url.data, slash + 1);
    else
        shell_commands(cmds, s->working_dir, url.data, slash + 1);
    buf_free(&url);
    return job;
}

static const char *str_path(const cJSON *o, const char *a, const char *b, const char *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    if (c)
        v = cJSON_GetObjectItemCaseSensitive(v, c);
    return cJSON_GetStringValue(v);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* S3 sends keys URL-encoded the form way ('+' for space, %XX for the rest). Returns a malloc'd
 * key, or NULL if it does not decode to UTF-8 without NUL bytes. */
static char *decode_key(const char *raw)
{
    size_t n = strlen(raw);
    char *key = malloc(n + 1);
    if (!key)
        return NULL;
    long len = url_decode(raw, n, key, 1);
    if (len <= 0 || strlen(key) != (size_t)len || !utf8_valid(key, (size_t)len, NULL)) {
        free(key);
        return NULL;
    }
    return key;
}

static int decode_record(const struct automation_settings *s, const cJSON *rec, s3_record_fn fn, void *arg)
{
    const char *source = str_path(rec, "eventSource", NULL, NULL);
    const char *name = str_path(rec, "eventName", NULL, NULL);
    const char *raw = str_path(rec, "s3", "object", "key");
    if (!source || strcmp(source, "aws:s3") != 0 || !name || strncmp(name, "ObjectCreated:", 14) != 0) {
        fn(arg, S3_EVENT_NOT_S3, raw, NULL);
        return 0;
    }
    const char *bucket = str_path(rec, "s3", "bucket", "name");
    if (!bucket || strcmp(bucket, s->bucket) != 0) {
        fn(arg, S3_EVENT_OTHER_BUCKET, raw, NULL);
        return 0;
    }
    char *key = raw ? decode_key(raw) : NULL;
    if (!key) {
        fn(arg, S3_EVENT_BAD_KEY, raw, NULL);
        return 0;
    }
    int built = 0;
    if (!ends_with(key, s->trigger_suffix)) {
        fn(arg, S3_EVENT_WRONG_SUFFIX, key, NULL);
    } else {
        cJSON *job = automation_build_job(s, key);
        fn(arg, job ? S3_EVENT_JOB : S3_EVENT_BAD_KEY, key, job);
        built = job != NULL;
        cJSON_Delete(job);
    }
    free(key);
    return built;
}

int automation_decode_event(const struct automation_settings *s, const char *body, s3_record_fn fn, void *arg)
{
    cJSON *ev = body ? cJSON_Parse(body) : NULL;
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(ev, "Records");
    const char *event = str_path(ev, "Event", NULL, NULL);
    int jobs = 0;
    if (event && strcmp(event, "s3:TestEvent") == 0)
        fn(arg, S3_EVENT_TEST, NULL, NULL);
    else if (!cJSON_IsArray(records) || cJSON_GetArraySize(records) == 0)
        fn(arg, S3_EVENT_BAD_BODY, NULL, NULL);
    else {
        const cJSON *rec;
        cJSON_ArrayForEach(rec, records) jobs += decode_record(s, rec, fn, arg);
    }
    cJSON_Delete(ev);
    return jobs;
}

/* ============================================================================================
 * The scaler's arithmetic
 * ============================================================================================ */

int scaler_mode_parse(const char *s, enum scaler_mode *out)
{
    if (strcmp(s, "seed") == 0)
        *out = SCALER_SEED;
    else if (strcmp(s, "inflight") == 0)
        *out = SCALER_INFLIGHT;
    else if (strcmp(s, "off") == 0)
        *out = SCALER_OFF;
    else
        return -1;
    return 0;
}

long scaler_desired(enum scaler_mode mode, long visible, long not_visible, long running_jobs, long max_size)
{
    long n = visible > 0 ? visible : 0;
    if (mode == SCALER_OFF)
        return 0;
    if (mode == SCALER_INFLIGHT)
        n += (not_visible > 0 ? not_visible : 0) + (running_jobs > 0 ? running_jobs : 0);
    if (max_size < 0)
        max_size = 0;
    return n < max_size ? n : max_size;
}

/* ============================================================================================
 * The loops
 * ============================================================================================ */

#define SETTINGS_EVERY_MS 60000 /* re-read of the settings parameter */
#define RETRY_AFTER_MS 5000     /* after a failed call (the client has already retried it) */
#define MAX_BATCH 10            /* ReceiveMessage's maximum */

struct event_slot {
    struct automation *a;
    char *receipt;
    int sends_pending;
    int send_failed;
};

struct automation {
    struct aws_client *aws;
    struct loop *loop;
    struct engine *engine;
    struct automation_options opt;
    char param[512];
    char jobs_queue[300], default_group[300];

    int settings_known; /* 1 once the first read answered (found or not) */
    int have_settings;
    char *settings_text; /* the parameter value in force, to see a change */
    struct automation_settings set;

    char jobs_url[2048], events_url[2048];
    int trigger_running; /* a step, a request or a retry timer of the trigger is pending */
    struct event_slot slots[MAX_BATCH];
    int outstanding; /* slots of the current batch not finished */

    int scaler_running;
    int64_t scaler_next;
    long sc_max, sc_current, sc_visible, sc_not_visible, sc_running, sc_target;

    char trigger_error[512], scaler_error[512]; /* last error logged, to log a repeat once */
    struct automation_stats st;
};

/* Logs an error unless it is the one logged last for this loop (the scaler may tick twice a
 * second against a missing group). */
static void note_error(char *last, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_error(char *last, size_t n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(msg, last) != 0)
        log_warn("%s", msg);
    snprintf(last, n, "%s", msg);
}

static const char *group_name(const struct automation *a)
{
    if (a->have_settings)
        return a->set.group;
    return a->opt.scaler_explicit ? a->default_group : NULL;
}

static void trigger_step(void *arg);
static void scaler_tick(void *arg);

/* ---- settings ---- */

static void settings_read(void *arg);

static void settings_absent(struct automation *a, const char *why)
{
    if (a->have_settings || !a->settings_known)
        log_info("automation: %s: S3 trigger off%s", why,
                 a->opt.scaler_explicit && a->opt.scaler != SCALER_OFF ? ", scaler on for the default group"
                                                                        : ", scaler off");
    a->have_settings = 0;
    free(a->settings_text);
    a->settings_text = NULL;
}

static void settings_adopt(struct automation *a, const char *text)
{
    if (a->settings_text && strcmp(a->settings_text, text) == 0)
        return;
    struct automation_settings s;
    char err[300];
    if (automation_settings_parse(text, &s, err, sizeof err)) {
        log_warn("automation: settings parameter %s: %s; %s", a->param, err,
                 a->have_settings ? "keeping the previous settings" : "automation stays off");
        return;
    }
    if (strcmp(s.events_queue, a->set.events_queue) != 0)
        a->events_url[0] = '\0';
    a->set = s;
    a->have_settings = 1;
    free(a->settings_text);
    a->settings_text = strdup(text);
    static const char *const mode[] = {"off", "seed", "inflight"};
    char scaler[64];
    snprintf(scaler, sizeof scaler, "scaler %s every %.1f s", mode[a->opt.scaler], a->opt.scaler_interval_s);
    log_info("automation: settings from %s: bucket %s, events %s, suffix %s, retry %ld, group %s; S3 trigger on, %s",
             a->param, s.bucket, s.events_queue, s.trigger_suffix, s.retry, s.group,
             a->opt.scaler == SCALER_OFF ? "scaler off" : scaler);
}

static void settings_done(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    if (r->error && strcmp(r->error, "ParameterNotFound") == 0) {
        char why[700];
        snprintf(why, sizeof why, "no settings parameter %s", a->param);
        settings_absent(a, why);
    } else if (r->error) {
        log_warn("automation: cannot read settings parameter %s: %s: %s%s", a->param, r->error, r->message,
                 a->have_settings ? " (keeping the previous settings)" : "");
        if (!a->settings_known) {
            char why[700];
            snprintf(why, sizeof why, "settings parameter %s unreadable", a->param);
            settings_absent(a, why);
        }
    } else {
        const char *v = str_path(r->json, "Parameter", "Value", NULL);
        if (v)
            settings_adopt(a, v);
        else
            log_warn("automation: GetParameter %s answered without Parameter.Value", a->param);
    }
    a->settings_known = 1;
    if (a->have_settings && !a->trigger_running) {
        a->trigger_running = 1;
        trigger_step(a);
    }
    loop_at(a->loop, sched_now_ms() + SETTINGS_EVERY_MS, settings_read, a);
}

static void settings_read(void *arg)
{
    struct automation *a = arg;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "Name", a->param);
    if (aws_call_json(a->aws, &aws_ssm, "GetParameter", p, settings_done, a))
        loop_at(a->loop, sched_now_ms() + RETRY_AFTER_MS, settings_read, a);
}

/* ---- queue URLs ---- */

static int store_url(struct automation *a, const struct aws_response *r, const char *name, char *dst, size_t n)
{
    const char *url = r->error ? NULL : str_path(r->json, "QueueUrl", NULL, NULL);
    if (!url) {
        note_error(a->trigger_error, sizeof a->trigger_error, "automation: queue %s: %s: %s", name,
                   r->error ? r->error : "no QueueUrl", r->error ? r->message : "");
        return -1;
    }
    snprintf(dst, n, "%s", url);
    return 0;
}

static void trigger_later(struct automation *a)
{
    loop_at(a->loop, sched_now_ms() + RETRY_AFTER_MS, trigger_step, a);
}

static void jobs_url_done(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    if (store_url(a, r, a->jobs_queue, a->jobs_url, sizeof a->jobs_url))
        trigger_later(a);
    else
        trigger_step(a);
}

static void events_url_done(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    if (store_url(a, r, a->set.events_queue, a->events_url, sizeof a->events_url))
        trigger_later(a);
    else
        trigger_step(a);
}

static int get_queue_url(struct automation *a, const char *name, aws_done_fn done)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueName", name);
    return aws_call_json(a->aws, &aws_sqs, "GetQueueUrl", p, done, a);
}

/* ---- the S3 trigger ---- */

static void slot_finish(struct event_slot *slot)
{
    struct automation *a = slot->a;
    free(slot->receipt);
    slot->receipt = NULL;
    if (--a->outstanding == 0)
        trigger_step(a);
}

static void delete_done(void *arg, const struct aws_response *r)
{
    struct event_slot *slot = arg;
    if (r->error)
        log_warn("automation: DeleteMessage on %s: %s: %s (the event will be seen again)", slot->a->set.events_queue,
                 r->error, r->message);
    slot_finish(slot);
}

static void delete_event(struct event_slot *slot)
{
    struct automation *a = slot->a;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", a->events_url);
    cJSON_AddStringToObject(p, "ReceiptHandle", slot->receipt);
    if (aws_call_json(a->aws, &aws_sqs, "DeleteMessage", p, delete_done, slot))
        slot_finish(slot);
}

static void send_done(void *arg, const struct aws_response *r)
{
    struct event_slot *slot = arg;
    if (r->error) {
        slot->send_failed = 1;
        slot->a->st.send_errors++;
        log_warn("automation: SendMessage to %s: %s: %s", slot->a->jobs_queue, r->error, r->message);
    } else {
        slot->a->st.jobs_sent++;
    }
    if (--slot->sends_pending > 0)
        return;
    /* The event is deleted only once every job it carried is on the job queue: deleting first
     * would lose the job if the send failed (or we stopped in between). A failed send leaves the
     * event to come back after its visibility timeout; at worst a job is sent twice, which the
     * workflow tolerates (the monitoring record is keyed by job_id). */
    if (slot->send_failed) {
        log_warn("automation: an event's job could not be queued; it is left on %s to be retried",
                 slot->a->set.events_queue);
        slot_finish(slot);
    } else {
        delete_event(slot);
    }
}

static void on_record(void *arg, enum s3_event_verdict v, const char *key, const cJSON *job)
{
    struct event_slot *slot = arg;
    struct automation *a = slot->a;
    if (v != S3_EVENT_JOB) {
        a->st.skipped++;
        log_info("automation: skipped an event (%s)%s%s", s3_event_verdict_name(v), key ? ": " : "", key ? key : "");
        return;
    }
    char *body = cJSON_PrintUnformatted(job);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", a->jobs_url);
    cJSON_AddStringToObject(p, "MessageBody", body ? body : "{}");
    free(body);
    if (aws_call_json(a->aws, &aws_sqs, "SendMessage", p, send_done, slot)) {
        slot->send_failed = 1;
        return;
    }
    slot->sends_pending++;
    log_info("automation: sending job %s to %s", key, a->jobs_queue);
}

static void received(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    if (r->error) {
        note_error(a->trigger_error, sizeof a->trigger_error, "automation: ReceiveMessage on %s: %s: %s",
                   a->set.events_queue, r->error, r->message);
        if (strstr(r->error, "NonExistentQueue") || strcmp(r->error, "QueueDoesNotExist") == 0)
            a->events_url[0] = '\0';
        trigger_later(a);
        return;
    }
    a->trigger_error[0] = '\0';
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(r->json, "Messages");
    int n = cJSON_GetArraySize(msgs);
    if (n == 0) {
        /* A long poll already waited; with the virtual clock the receive did not wait (a parked
         * request would hold the clock still), so wait on the clock instead. */
        if (sched_clock_is_virtual())
            loop_at(a->loop, sched_now_ms() + 1000, trigger_step, a);
        else
            trigger_step(a);
        return;
    }
    if (n > MAX_BATCH)
        n = MAX_BATCH;
    /* Counted up front so a slot that finishes at once cannot end the batch early. */
    a->outstanding = n + 1;
    for (int i = 0; i < n; i++) {
        const cJSON *m = cJSON_GetArrayItem(msgs, i);
        struct event_slot *slot = &a->slots[i];
        const char *receipt = str_path(m, "ReceiptHandle", NULL, NULL);
        *slot = (struct event_slot){a, strdup(receipt ? receipt : ""), 0, 0};
        a->st.events++;
        automation_decode_event(&a->set, str_path(m, "Body", NULL, NULL), on_record, slot);
        if (slot->sends_pending == 0 && slot->send_failed)
            slot_finish(slot);
        else if (slot->sends_pending == 0)
            delete_event(slot); /* nothing to send: a skipped event is dropped */
    }
    if (--a->outstanding == 0)
        trigger_step(a);
}

/* One step of the trigger: find the queues, then receive; every completion calls it again. */
static void trigger_step(void *arg)
{
    struct automation *a = arg;
    if (!a->have_settings) {
        a->trigger_running = 0; /* settings_done restarts it */
        return;
    }
    if (!a->jobs_url[0]) {
        if (get_queue_url(a, a->jobs_queue, jobs_url_done))
            trigger_later(a);
        return;
    }
    if (!a->events_url[0]) {
        if (get_queue_url(a, a->set.events_queue, events_url_done))
            trigger_later(a);
        return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", a->events_url);
    cJSON_AddNumberToObject(p, "MaxNumberOfMessages", MAX_BATCH);
    cJSON_AddNumberToObject(p, "WaitTimeSeconds", sched_clock_is_virtual() ? 0 : 20);
    if (aws_call_json(a->aws, &aws_sqs, "ReceiveMessage", p, received, a))
        trigger_later(a);
}

/* ---- the scaler ---- */

static long running_jobs(const struct automation *a)
{
    if (!a->engine)
        return 0;
    /* Executions holding a job: started minus outcomes would keep counting a job whose instance
     * vanished (or that was sent back) before an outcome was recorded, and never reach zero. */
    long n = engine_stats(a->engine)->jobs_running;
    return n > 0 ? n : 0;
}

static void scaler_error(struct automation *a, const char *what, const struct aws_response *r)
{
    note_error(a->scaler_error, sizeof a->scaler_error, "automation: scaler: %s: %s: %s", what,
               r->error ? r->error : "unexpected answer", r->error ? r->message : "");
    a->scaler_running = 0;
}

static void desired_set(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    if (r->error) {
        scaler_error(a, "SetDesiredCapacity", r);
        return;
    }
    a->scaler_error[0] = '\0';
    a->st.scaler_changes++;
    a->st.desired = a->sc_target;
    log_info("automation: scaler: group %s desired %ld -> %ld (visible %ld, in flight %ld, running %ld, max %ld)",
             group_name(a) ? group_name(a) : "?", a->sc_current, a->sc_target, a->sc_visible, a->sc_not_visible,
             a->sc_running, a->sc_max);
    a->scaler_running = 0;
}

static long attr_count(const cJSON *attrs, const char *name)
{
    const char *v = str_path(attrs, name, NULL, NULL);
    return v ? strtol(v, NULL, 10) : 0;
}

static void queue_counted(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    const char *group = group_name(a);
    if (r->error || !group) {
        if (r->error && (strstr(r->error, "NonExistentQueue") || strcmp(r->error, "QueueDoesNotExist") == 0))
            a->jobs_url[0] = '\0';
        scaler_error(a, "GetQueueAttributes", r);
        return;
    }
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(r->json, "Attributes");
    a->scaler_error[0] = '\0'; /* the group and the queue answered: a later error is news */
    a->sc_visible = attr_count(attrs, "ApproximateNumberOfMessages");
    a->sc_not_visible = attr_count(attrs, "ApproximateNumberOfMessagesNotVisible");
    a->sc_running = running_jobs(a);
    a->sc_target = scaler_desired(a->opt.scaler, a->sc_visible, a->sc_not_visible, a->sc_running, a->sc_max);
    a->st.desired = a->sc_current;
    if (a->sc_target == a->sc_current) { /* nothing would change: no call */
        a->scaler_running = 0;
        return;
    }
    struct aws_query q;
    char n[32];
    snprintf(n, sizeof n, "%ld", a->sc_target);
    aws_query_init(&q);
    aws_query_add(&q, "AutoScalingGroupName", group);
    aws_query_add(&q, "DesiredCapacity", n);
    aws_query_add(&q, "HonorCooldown", "false");
    if (aws_call_query(a->aws, &aws_autoscaling, "SetDesiredCapacity", &q, desired_set, a))
        a->scaler_running = 0;
}

static void count_queue(struct automation *a)
{
    static const char *const names[] = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        NULL};
    if (aws_call_json(a->aws, &aws_sqs, "GetQueueAttributes", aws_sqs_attributes_params(a->jobs_url, names),
                      queue_counted, a))
        a->scaler_running = 0;
}

static void scaler_url_done(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    const char *url = r->error ? NULL : str_path(r->json, "QueueUrl", NULL, NULL);
    if (!url) {
        scaler_error(a, a->jobs_queue, r);
        return;
    }
    snprintf(a->jobs_url, sizeof a->jobs_url, "%s", url);
    count_queue(a);
}

static void group_described(void *arg, const struct aws_response *r)
{
    struct automation *a = arg;
    xmlNodePtr g = r->error ? NULL
                            : aws_xml_path(xmlDocGetRootElement(r->xml),
                                           "DescribeAutoScalingGroupsResult/AutoScalingGroups/member");
    char max[32] = "", desired[32] = "";
    if (!g || aws_xml_text(g, "MaxSize", max, sizeof max) || aws_xml_text(g, "DesiredCapacity", desired, sizeof desired)) {
        char what[400];
        snprintf(what, sizeof what, "group %s", group_name(a) ? group_name(a) : "?");
        struct aws_response missing = {.error = "NotFound", .message = "no such Auto Scaling group"};
        scaler_error(a, what, r->error ? r : &missing);
        return;
    }
    a->sc_max = strtol(max, NULL, 10);
    a->sc_current = strtol(desired, NULL, 10);
    if (a->jobs_url[0])
        count_queue(a);
    else if (get_queue_url(a, a->jobs_queue, scaler_url_done))
        a->scaler_running = 0;
}

static void scaler_tick(void *arg)
{
    struct automation *a = arg;
    int64_t now = sched_now_ms(), every = (int64_t)(a->opt.scaler_interval_s * 1000);
    a->scaler_next += every;
    if (a->scaler_next <= now) /* fell behind (a slow tick): no burst of catch-up ticks */
        a->scaler_next = now + every;
    loop_at(a->loop, a->scaler_next, scaler_tick, a);
    const char *group = group_name(a);
    if (a->scaler_running || !group || !a->settings_known)
        return; /* the previous tick is still at work, or there is no group to scale */
    a->scaler_running = 1;
    struct aws_query q;
    aws_query_init(&q);
    aws_query_add(&q, "AutoScalingGroupNames.member.1", group);
    if (aws_call_query(a->aws, &aws_autoscaling, "DescribeAutoScalingGroups", &q, group_described, a))
        a->scaler_running = 0;
}

/* ---- lifetime ---- */

struct automation *automation_new(struct aws_client *aws, struct loop *loop, struct engine *engine,
                                  const struct automation_options *opt)
{
    struct automation *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->aws = aws;
    a->loop = loop;
    a->engine = engine;
    a->opt = *opt;
    if (a->opt.scaler_interval_s < 0.1)
        a->opt.scaler_interval_s = 0.1;
    a->st.desired = -1;
    if (opt->parameter)
        snprintf(a->param, sizeof a->param, "%s", opt->parameter);
    else
        snprintf(a->param, sizeof a->param, "/dss/%s/automation", opt->stack);
    snprintf(a->jobs_queue, sizeof a->jobs_queue, "%s-job-queue", opt->stack);
    snprintf(a->default_group, sizeof a->default_group, "%s-autoscaling-group", opt->stack);
    settings_read(a);
    if (a->opt.scaler != SCALER_OFF) {
        a->scaler_next = sched_now_ms();
        loop_at(loop, a->scaler_next, scaler_tick, a);
    }
    return a;
}

void automation_free(struct automation *a)
{
    if (!a)
        return;
    for (int i = 0; i < MAX_BATCH; i++)
        free(a->slots[i].receipt);
    free(a->settings_text);
    free(a);
}

const struct automation_stats *automation_stats(const struct automation *a)
{
    return &a->st;
}
