/* asl.h -- an Amazon States Language definition, loaded and checked.
 *
 * Supported: Task, Pass (Result, Parameters), Choice (String-, Numeric-, Boolean- and Is- comparisons
 * and their *Path forms, StringMatches, And/Or/Not), Wait (Seconds, SecondsPath, Timestamp,
 * TimestampPath), Succeed, Fail; InputPath, Parameters (".$" keys), ResultSelector, ResultPath,
 * OutputPath; Retry (ErrorEquals, IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds)
 * and Catch (ErrorEquals incl. States.ALL, Next, ResultPath); TimeoutSeconds on the machine.
 * Task Resources are built-in task functions (named by a resolver) or one Step Functions service
 * integration, "arn:aws:states:::states:startExecution" (request-response: no .sync or
 * .waitForTaskToken), which the engine runs itself (engine.h, "Continue as new").
 * Limitations: no Map/Parallel, no intrinsic functions (States.Format...), no TimeoutSeconds or
 * HeartbeatSeconds on Task states (tasks are built-in functions that always answer).
 *
 * Every problem is reported at load with the state and field named, e.g.
 *   State "GetJob": field "Retry[0].BackoffRate": must be a number >= 1.0
 * All strings in the structs point into the parsed definition (machine->root).
 */
#ifndef DSS_SCHED_ASL_H
#define DSS_SCHED_ASL_H

#include <cjson/cJSON.h>
#include <stddef.h>

enum asl_kind { ASL_TASK, ASL_PASS, ASL_CHOICE, ASL_WAIT, ASL_SUCCEED, ASL_FAIL };

/* What runs a Task state. */
enum asl_integration {
    ASL_TASK_FUNCTION,        /* a built-in task function: asl_state.task indexes the resolver's table */
    ASL_SFN_START_EXECUTION,  /* arn:aws:states:::states:startExecution, run by the engine */
};

#define ASL_START_EXECUTION_ARN "arn:aws:states:::states:startExecution"

struct asl_retrier {
    const cJSON *errors; /* array of strings */
    double interval_s;   /* IntervalSeconds (default 1) */
    int max_attempts;    /* MaxAttempts (default 3; 0 = never retry) */
    double backoff;      /* BackoffRate (default 2.0) */
    double max_delay_s;  /* MaxDelaySeconds (0 = none) */
};

struct asl_catcher {
    const cJSON *errors;
    const char *next;
    int next_idx;
    const char *result_path; /* NULL: "$" */
    int result_discard;      /* ResultPath: null */
};

enum asl_op {
    OP_AND, OP_OR, OP_NOT,
    OP_STR_EQ, OP_STR_LT, OP_STR_GT, OP_STR_LE, OP_STR_GE, OP_STR_MATCHES,
    OP_NUM_EQ, OP_NUM_LT, OP_NUM_GT, OP_NUM_LE, OP_NUM_GE,
    OP_BOOL_EQ,
    OP_IS_PRESENT, OP_IS_NULL, OP_IS_STRING, OP_IS_NUMERIC, OP_IS_BOOLEAN,
};

struct asl_rule {
    enum asl_op op;
    const char *variable;     /* comparisons */
    const cJSON *value;       /* the operand, or the path string for *Path operators */
    int value_is_path;
    struct asl_rule *sub;     /* And/Or: nsub rules; Not: one */
    int nsub;
    const char *next;         /* top-level rules only */
    int next_idx;
};

struct asl_state {
    /* Pointers first, then numbers (no padding holes). */
    const char *name;
    const char *next;                                   /* NULL when End */
    const char *input_path, *output_path, *result_path; /* NULL: "$" */
    const cJSON *parameters, *result_selector, *result;
    const char *resource;          /* Task */
    struct asl_retrier *retry;     /* Task: nretry retriers */
    struct asl_catcher *catchers;  /* Task: ncatch catchers */
    struct asl_rule *choices;      /* Choice: nchoices rules */
    const char *default_next;      /* Choice */
    const char *seconds_path, *timestamp, *timestamp_path; /* Wait: one of these, or seconds */
    const char *error, *cause;     /* Fail */
    double seconds;                /* Wait, when has_seconds */
    enum asl_kind kind;
    int next_idx;
    int input_discard, output_discard, result_discard; /* the path is JSON null */
    int task;                      /* Task: index given by the resolver (ASL_TASK_FUNCTION) */
    enum asl_integration integration; /* Task */
    int nretry, ncatch, nchoices;
    int default_idx;
    int has_seconds;
};

struct asl_machine {
    cJSON *root;
    const char *start_at;
    int start_idx;
    struct asl_state *states;
    int nstates;
    double timeout_s; /* 0: none */
};

/* Maps a Task's Resource to a task index, or -1 if unknown. */
typedef int (*asl_resolve_fn)(const char *resource);

/* Parses and checks text. Returns the machine, or NULL with the problem in err. */
struct asl_machine *asl_load(const char *text, size_t len, asl_resolve_fn resolve, char *err, size_t errlen);
void asl_free(struct asl_machine *m);
/* Index of the state called name, or -1. */
int asl_find(const struct asl_machine *m, const char *name);
const char *asl_kind_name(enum asl_kind k);

/* Does error name `error` match the ErrorEquals list (States.ALL, States.TaskFailed rules)?
 * States.ALL matches neither States.Runtime nor States.DataLimitExceeded, as on AWS. */
int asl_error_matches(const cJSON *errors, const char *error);

#endif
