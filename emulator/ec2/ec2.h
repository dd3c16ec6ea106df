/* ec2.h -- what EC2, Auto Scaling, SSM and the instance supervisor share.
 *
 * The instance table (ec2_instances) is the single source of truth: API operations change an
 * instance's state and timestamps inside their transaction and poke the supervisor thread
 * (instances.c), which moves instances along over time (pending -> running -> ...), starts and
 * kills worker processes to match, and runs the Auto Scaling and SSM timers. Every helper here
 * runs inside a transaction on the calling thread's connection; `call` may be NULL when the
 * supervisor runs it (helpers then only use dss_stmt(NULL, ...)).
 */
#ifndef DSS_EC2_H
#define DSS_EC2_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "service.h"

#define EC2_ACCOUNT_ID "000000000000"

/* Instance states and their EC2 codes. */
#define EC2_PENDING "pending"
#define EC2_RUNNING "running"
#define EC2_SHUTTING_DOWN "shutting-down"
#define EC2_TERMINATED "terminated"
#define EC2_STOPPING "stopping"
#define EC2_STOPPED "stopped"
int ec2_state_code(const char *state);

/* Timings on the emulator clock (milliseconds); settable through /_dss/settings and the
 * DSS_EC2_* environment variables (see instances.c). */
struct ec2_timings {
    int64_t boot_ms;       /* pending -> running */
    int64_t status_ms;     /* running -> status checks ok */
    int64_t shutdown_ms;   /* shutting-down -> terminated, stopping -> stopped */
    int64_t retain_ms;     /* how long a terminated instance is still described */
    int64_t spot_notice_ms;/* Spot interruption notice (two minutes) */
};
extern struct ec2_timings ec2_timings;

/* A new id from the seed (DSS_SEED, default "dss") and a persistent counter per kind:
 * prefix + hexlen hex digits ("i-" + 17). A replayed scenario with the same seed against a
 * fresh data directory gets the same ids. */
int ec2_new_id(const char *kind, const char *prefix, int hexlen, char *out, size_t n);
/* A UUID-shaped id from the seed (SSM command ids). */
int ec2_new_uuid(const char *kind, char out[37]);

/* Everything that describes one launch (RunInstances, Auto Scaling). */
struct ec2_launch {
    const char *region;
    const char *image_id;
    const char *instance_type;
    int spot;
    const char *az;
    const char *key_name;
    const char *user_data;
    const char *lt_id, *lt_name, *lt_version;
    const char *asg_name;
    const char *reservation_id;
    const char *client_token;
    int launch_index;
    const cJSON *tags; /* array of {Key, Value}, borrowed; may be NULL */
};
/* Inserts one pending instance; writes its id (i-...) to id. Returns 0 or -1. */
int ec2_launch_instance(const struct ec2_launch *l, char id[20]);
/* Starts shutting an instance down (no-op when already shutting down or terminated).
 * reason_code/msg become StateReason (NULL: user-initiated). Returns 1 if it changed. */
int ec2_terminate_instance(const char *id, const char *reason_code, const char *reason_msg);
/* Tags of a resource as [{Key, Value}] (a new array). */
cJSON *ec2_tags_json(const char *resource_id);
int ec2_tag_set(const char *resource_id, const char *key, const char *value);
/* The state of an instance into state (NULL row: returns -1). */
int ec2_instance_state(const char *id, char *state, size_t n);
/* Resolves a launch template (by id or name) and version ("$Latest", "$Default", "N") to its
 * data (a new object), and fills the template's id, name and the version number. On failure
 * records the EC2 error on call (when non-NULL) and returns -1. */
cJSON *ec2_launch_template_data(struct dss_call *call, const char *id, const char *name, const char *version,
                                char lt_id[32], char lt_name[160], int64_t *version_out);

/* The supervisor (instances.c). */
void instances_poke(void);           /* run the supervisor loop soon */
int instances_start(void);           /* the EC2 service's start hook */
void instances_stop(void);
int instances_control(struct dss_call *call); /* /_dss/ endpoints */
/* Pause/resume/kill the worker of an instance; 0, or -1 if it has none. */
int instances_signal_worker(const char *id, int sig);

/* Auto Scaling and SSM work the supervisor runs in its transaction, once per loop. */
int64_t autoscaling_tick(int64_t now);     /* returns the next time it wants to run (0: none) */
int64_t ssm_tick(int64_t now);
/* An instance left running (terminated, stopped, its agent died): SSM settles its
 * invocations according to the dead-agent setting. */
void ssm_instance_gone(const char *id, int64_t now);

/* Events (faults.c): every injected fault and notable lifecycle step, kept in memory and
 * served at GET /_dss/events. */
void dss_event(const char *type, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int faults_control(struct dss_call *call);

/* Control replies (instances.c): a JSON body with the status. Takes ownership of body. */
int control_reply_json(struct dss_call *call, unsigned status, cJSON *body);
int control_reply_error(struct dss_call *call, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The value of query-string parameter name of a control request, or NULL (a new string). */
char *control_arg(struct dss_call *call, const char *name);

/* EC2 filters (filter.c): Filter.N.Name / Filter.N.Value.M as the model parses them. */
struct ec2_filter {
    char *name;
    char **values;
    int n_values;
};
struct ec2_filters {
    struct ec2_filter *f;
    int n;
};
/* Checks filters against the names allowed (a NULL-terminated list; an entry ending in ':'
 * such as "tag:" admits any name with that prefix). Returns 0, or -1 with a message in err. */
int ec2_filters_parse(const cJSON *filters, const char *const *allowed, struct ec2_filters *out,
                      char *err, size_t err_len);
void ec2_filters_free(struct ec2_filters *fs);
/* Does value match one of the filter's values (EC2 wildcards * and ?)? */
int ec2_filter_value_match(const struct ec2_filter *f, const char *value);
/* Matches every filter: get(ctx, name, i) returns the i-th value the resource has for a filter
 * name (NULL after the last). */
int ec2_filters_match(const struct ec2_filters *fs, const char *(*get)(void *ctx, const char *name, int i),
                      void *ctx);

#endif
