/* scenario.h -- a dss-scenario file in memory: what load, what fleet, what faults, what to expect.
 *
 * scenario_parse() turns the JSON text (format: scenarios/README.md) into a struct scenario and
 * validates every field; an error names the field's path ("faults[2].rate: must be between 0 and
 * 1"). Job generators are expanded into one struct scn_job per job, with generated parameters
 * (run time, output size) drawn from the seed keyed on the job's id (rng.h), so they never
 * depend on the order anything is evaluated in.
 *
 * Ownership: a scenario owns every string and array it points to; scenario_free() releases all.
 */
#ifndef DSS_SCENARIO_H
#define DSS_SCENARIO_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds that keep a hostile or mistyped file from asking for absurd resources. */
#define SCN_MAX_JOBS 1000000
#define SCN_MAX_FAULTS 256
#define SCN_MAX_INSTANCES 10000
#define SCN_MAX_OUTPUT 1048576 /* bytes one synthetic attempt may print */

enum scn_mode {
    SCN_MODE_REAL,      /* worker processes run the commands, wall time (clock speed applies) */
    SCN_MODE_SIMULATED, /* virtual time throughout: the emulator's clock, simulated workers */
};

enum scn_market { SCN_MARKET_SPOT, SCN_MARKET_ON_DEMAND };

enum scn_via {
    SCN_VIA_SQS, /* the runner sends the job message to S-job-queue */
    SCN_VIA_S3,  /* the runner uploads the job's folder; the scheduler's S3 trigger makes the job */
};

enum scn_scaler {
    SCN_SCALER_SEED,  /* the seed's scaler: desired = min(queue depth, max) every interval */
    SCN_SCALER_FIXED, /* desired capacity set once to scaler.instances */
    SCN_SCALER_OFF,   /* the runner leaves the group alone */
};

/* A distribution of a non-negative quantity (seconds, bytes). */
enum scn_dist_kind {
    SCN_DIST_FIXED,       /* a */
    SCN_DIST_UNIFORM,     /* between a and b */
    SCN_DIST_EXPONENTIAL, /* mean a */
    SCN_DIST_NORMAL,      /* mean a, standard deviation b */
    SCN_DIST_LOGNORMAL,   /* median a, sigma b (of the underlying normal) */
};
struct scn_dist {
    enum scn_dist_kind kind;
    double a, b;
    double lo, hi; /* every draw is clamped into [lo, hi] */
};

/* One job, after generators are expanded. */
struct scn_job {
    char *id;
    char *command;        /* the job's own shell command, or NULL: synthetic work (runtime, output) */
    char *output;         /* synthetic work: text printed before the padding; NULL: a default line */
    char *success_string; /* "" or " " disables the check, as in the seed */
    char *ssm_document;
    double runtime_s;     /* synthetic work: run time on the emulator clock */
    long output_bytes;    /* synthetic work: bytes printed in all */
    int retry;
    enum scn_via via;
    double submit_at_s;   /* when the runner submits it, emulator-clock seconds after the start */
    int spec;             /* index into jobs[] of the file */
};

enum scn_fault_kind {
    SCN_FAULT_SPOT,             /* Spot interruption */
    SCN_FAULT_WORKER_CRASH,     /* the instance's worker (SSM agent) is SIGKILLed */
    SCN_FAULT_SSM_FAILURE,      /* the attempt's command exits non-zero */
    SCN_FAULT_NO_SUCCESS,       /* the attempt prints its output without the success string */
    SCN_FAULT_API_ERROR,        /* an API call fails (throttling, 500, connection reset) */
    SCN_FAULT_LATENCY,          /* an API call is answered late */
    SCN_FAULT_EMULATOR_RESTART, /* the emulator is SIGKILLed and started again on its data */
    SCN_FAULT_SCHEDULER_KILL,   /* the scheduler is SIGKILLed and started again */
    SCN_FAULT__COUNT
};

/* Where in an attempt a targeted instance fault hits. */
enum scn_phase {
    SCN_PHASE_NONE = -1,
    SCN_PHASE_QUEUED,    /* the command reached the instance; the work never starts */
    SCN_PHASE_STARTED,   /* the work has just started */
    SCN_PHASE_RUNNING,   /* half way through the work */
    SCN_PHASE_FINISHING, /* the output is printed, the command has not exited */
    SCN_PHASE__COUNT
};

/* A progress point for faults that hit the whole system (restart, SIGKILL). */
struct scn_at {
    long jobs_done;  /* >= 0: once this many jobs have a terminal attempt; -1: unused */
    double fraction; /* >= 0: once this fraction of the jobs has; -1: unused */
    double time_s;   /* >= 0: at this emulator-clock time; -1: unused */
};

struct scn_fault {
    enum scn_fault_kind kind;
    char *name;            /* optional; --set paths can select the fault by it */
    /* Targeted: job and attempt (1-based), phase for instance faults. */
    char *job;             /* NULL: by rate */
    int attempt;
    enum scn_phase phase;
    /* By rate: probability per attempt, or per interval of a running attempt (spot, crash). */
    double rate;           /* -1: targeted */
    double interval_s;
    int target_instances;  /* spot by rate: any running instance, keyed on launch index */
    double notice_s;       /* spot: interruption notice; <0: the emulator's default */
    int exit_code;         /* ssm_failure */
    /* API faults. */
    char *service, *operation;
    char *error;           /* "throttling", "500", "reset" or an AWS error code */
    long nth, count;       /* the nth call (and count-1 after it); 0: by rate */
    long calls;            /* by rate: how many calls the decisions cover */
    long delay_ms;         /* latency */
    /* System faults. */
    struct scn_at at;
    double downtime_s;     /* how long the emulator or scheduler stays down */
};

/* What a scenario says must come out. */
enum scn_inv_expect { SCN_EXPECT_HOLD, SCN_EXPECT_BREAK, SCN_EXPECT_ANY };

/* The invariants the checker knows (check.h); listed here so the loader can validate names. */
#define SCN_INVARIANTS(X)                                                                        \
    X(TERMINAL, "terminal_status", "every submitted job reaches a terminal status")              \
    X(NOT_LOST, "no_lost_jobs", "every job is in DynamoDB and on exactly one of finished/failed") \
    X(NO_FALSE_SUCCESS, "no_false_success", "no Successful job without its success string")      \
    X(ATTEMPTS, "attempts_within_retry", "attempts that spent a retry <= retry + 1")             \
    X(NO_OVERLAP, "no_overlapping_attempts", "no two attempts of one job overlap")               \
    X(S3_RESULTS, "s3_results", "every S3 job's results are in its folder")                      \
    X(GROUP_ZERO, "group_zero", "the group is back to zero instances")                           \
    X(NO_STRAY, "no_stray_workers", "no worker process survives")
enum scn_invariant {
#define X(e, name, text) SCN_INV_##e,
    SCN_INVARIANTS(X)
#undef X
    SCN_INV__COUNT
};
const char *scn_invariant_name(enum scn_invariant i);
const char *scn_invariant_text(enum scn_invariant i);
int scn_invariant_parse(const char *name); /* -1 when unknown */

/* A job's final status as the runner finds it in the job table. */
enum scn_status {
    SCN_STATUS_SUCCESSFUL, /* Status "Successful" */
    SCN_STATUS_FAILED,     /* Status "Failed" */
    SCN_STATUS_STARTED,    /* Status "Started" (or anything else): not terminal */
    SCN_STATUS_MISSING,    /* no record at all */
    SCN_STATUS__COUNT
};
const char *scn_status_name(enum scn_status st);
int scn_status_parse(const char *name); /* -1 when unknown */

struct scn_job_expect {
    char *job;
    char *status;  /* NULL: not checked */
    int attempts;  /* -1: not checked */
};

struct scn_expect {
    long status[SCN_STATUS__COUNT]; /* -1: not checked */
    struct scn_job_expect *jobs;
    size_t n_jobs;
    enum scn_inv_expect inv[SCN_INV__COUNT];
};

struct scenario {
    char *name, *description;
    uint64_t seed;
    enum scn_mode mode;
    double clock_speed;
    double time_limit_s;      /* wall seconds the runner waits before giving up */
    char *stack, *region;
    char *workflow;           /* as written: "seed", "hardened" or a path */
    double poll_interval_s;   /* the state machine's Timeout_Job */
    const char *history;      /* dss-scheduler run --history: "full" (real mode's only and default),
                               * "failures" (simulated mode's default) or "none" */
    /* Fleet. */
    int max_instances;
    char **instance_types;
    size_t n_instance_types;
    double boot_delay_s;      /* <0: the emulator's default */
    double status_delay_s;    /* <0: the emulator's default */
    enum scn_market market;
    /* Emulator settings ("emulator": {...}); < 0: the emulator's default. */
    double spot_notice_s;
    double shutdown_delay_s;
    int ssm_dead_agent;       /* 0 timeout, 1 missing, 2 terminated (ssm.c), -1 default */
    /* Scaler. */
    enum scn_scaler scaler;
    double scaler_interval_s;
    int scaler_instances;
    /* Load. */
    struct scn_job *jobs;
    size_t n_jobs;
    size_t *by_id;            /* indexes into jobs, sorted by id (for scenario_job) */
    struct scn_fault *faults;
    size_t n_faults;
    struct scn_expect expect;
    cJSON *source;            /* the file's JSON after --set overrides (owned) */
};

/* Parses and validates text (len bytes; need not be NUL-terminated). seed_override >= 0
 * replaces the file's seed. On success returns 0 and fills *out; on failure returns -1 with a
 * message naming the field in err. */
int scenario_parse(const char *text, size_t len, int64_t seed_override, struct scenario *out, char *err,
                   size_t err_len);
/* The same from an already parsed document. Takes ownership of doc in every case. */
int scenario_from_json(cJSON *doc, int64_t seed_override, struct scenario *out, char *err, size_t err_len);
/* Reads and parses a file. */
int scenario_load(const char *path, int64_t seed_override, struct scenario *out, char *err, size_t err_len);
void scenario_free(struct scenario *s);

/* Applies "path=value" to a scenario document before it is parsed (sweep --set). The path's
 * segments are separated by '.'; a segment selects an object member, an array element by index,
 * or the array elements whose "name" (else "type") equals it. The value is parsed as JSON, or
 * taken as a string when it is not JSON. Returns 0, or -1 with a message in err. */
int scenario_set(cJSON *doc, const char *path, const char *value, char *err, size_t err_len);

/* The job with this id, or NULL (a binary search). */
const struct scn_job *scenario_job(const struct scenario *s, const char *id);
/* Index of a job in s->jobs, or -1. */
long scenario_job_index(const struct scenario *s, const char *id);

const char *scn_fault_kind_name(enum scn_fault_kind k);
const char *scn_phase_name(enum scn_phase p);
/* 1 when the success string disables the check (empty or one space, as in the seed). */
int scn_success_disabled(const char *success_string);

#endif
