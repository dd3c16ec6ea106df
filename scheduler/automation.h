/* automation.h -- the seed's two resource-automation loops, inside `dss-scheduler run`.
 *
 * The original ran these as two Lambda functions (an S3-triggered one and a scheduled one);
 * here they are timers and requests on the scheduler's own event loop, so one process runs the
 * whole workflow and the same code works against the emulator and against AWS:
 *
 *  - S3 trigger: long-polls the stack's events queue (the bucket's ObjectCreated notifications,
 *    S3 -> SQS), turns each key ending in the trigger suffix into a job exactly as
 *    SEED-DESIGN.md describes (job_id = key; sync down, chmod, run, sync up, clean) and sends it
 *    to S-job-queue. Other events are logged and dropped.
 *  - Scaler: every interval, sets the Auto Scaling group's desired capacity to
 *    min(ApproximateNumberOfMessages, MaxSize) (the seed), or also counting in-flight messages
 *    and jobs this scheduler is running (`inflight`), so workers are not scaled away under them.
 *
 * Settings come from the SSM parameter /dss/S/automation (compact JSON written by
 * `dss-scheduler provision`), read at start and again every minute, so a changed setting takes
 * effect without a restart. Without it the trigger is off, and so is the scaler unless
 * --scaler was given explicitly. All time is the scheduler's clock (sched_now_ms()).
 */
#ifndef DSS_SCHED_AUTOMATION_H
#define DSS_SCHED_AUTOMATION_H

#include <cjson/cJSON.h>

#include "awsclient.h"
#include "engine.h"
#include "loop.h"

/* The settings parameter's value (version 1). */
struct automation_settings {
    char bucket[256];
    char events_queue[256];
    char trigger_suffix[64];
    long retry;
    char success_string[256];
    char working_dir[512];
    char ssm_document[64]; /* from command_flavour: AWS-RunShellScript or AWS-RunPowerShellScript */
    char group[256];
    long max_instances;
};

/* Parses the parameter's JSON value. Returns 0, or -1 with a reason in err. */
int automation_settings_parse(const char *json, struct automation_settings *out, char *err, size_t errlen);

/* What became of one record of an S3 event notification. */
enum s3_event_verdict {
    S3_EVENT_JOB,           /* a job was built */
    S3_EVENT_TEST,          /* s3:TestEvent, sent when a notification is configured */
    S3_EVENT_NOT_S3,        /* not an S3 record, or not ObjectCreated:* */
    S3_EVENT_OTHER_BUCKET,  /* from a bucket that is not ours */
    S3_EVENT_WRONG_SUFFIX,  /* key does not end with the trigger suffix */
    S3_EVENT_BAD_KEY,       /* key missing, not URL-decodable, not UTF-8, or not in a folder */
    S3_EVENT_BAD_BODY,      /* message body is not an S3 event notification */
};
const char *s3_event_verdict_name(enum s3_event_verdict v);

/* Called once per record: key is the decoded key (NULL if there is none), job the built job
 * for S3_EVENT_JOB (borrowed; duplicate it to keep it), else NULL. */
typedef void (*s3_record_fn)(void *arg, enum s3_event_verdict v, const char *key, const cJSON *job);

/* Decodes one events-queue message body and reports each record to fn. A body that is not an
 * event at all is reported once as S3_EVENT_BAD_BODY (or S3_EVENT_TEST). Returns the number of
 * jobs built. */
int automation_decode_event(const struct automation_settings *s, const char *body, s3_record_fn fn, void *arg);

/* The job for a decoded key (job_id = key). Returns a new object, or NULL if the key has no
 * folder or no file name (each job needs its own folder). */
cJSON *automation_build_job(const struct automation_settings *s, const char *key);

/* Scaler policies. */
enum scaler_mode {
    SCALER_OFF,
    SCALER_SEED,     /* min(visible, MaxSize), as the seed */
    SCALER_INFLIGHT, /* min(visible + not visible + jobs running here, MaxSize) */
};
int scaler_mode_parse(const char *s, enum scaler_mode *out);

/* The desired capacity the scaler sets. Negative counts are taken as 0. */
long scaler_desired(enum scaler_mode mode, long visible, long not_visible, long running_jobs, long max_size);

struct automation_options {
    const char *stack;
    const char *parameter;   /* settings parameter name (NULL: /dss/<stack>/automation) */
    enum scaler_mode scaler;
    int scaler_explicit;     /* --scaler given: run it even without the settings parameter */
    double scaler_interval_s;
};

struct automation;

/* Creates the loops and reads the settings once (asynchronously). engine may be NULL (the
 * inflight scaler then counts no running jobs). Everything must outlive the automation. */
struct automation *automation_new(struct aws_client *aws, struct loop *loop, struct engine *engine,
                                  const struct automation_options *opt);
/* Frees it. Call after the client is freed or the loop has stopped running (timers and
 * requests of the automation may still be pending). */
void automation_free(struct automation *a);

/* Counters, for summaries and tests. */
struct automation_stats {
    long events, jobs_sent, skipped, send_errors, scaler_changes;
    long desired; /* last desired capacity set or seen, -1 unknown */
};
const struct automation_stats *automation_stats(const struct automation *a);

#endif
