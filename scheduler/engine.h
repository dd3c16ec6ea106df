/* engine.h -- runs executions of one state machine, thousands at once, on one event loop.
 *
 * An execution is a small struct: the state it is in, that state's input, and at most one
 * pending thing (a task call or a Wait timer). Advancing it is a function of (definition, state,
 * input, task result); every step is journaled (journal.h) and logged (one line per state
 * entered). States that finish at once (Pass, Choice) go through a ready queue rather than
 * recursion, so a definition that loops without a Task or Wait cannot overflow the stack (it
 * runs into the history limit instead).
 *
 * Quotas as on Step Functions (configurable): 25,000 history events per execution -- the
 * execution then fails with States.Runtime; 256 KiB of state input/output or task result --
 * States.DataLimitExceeded.
 *
 * "Continue as new", AWS's answer to that quota: a Task with the service integration
 * "arn:aws:states:::states:startExecution" (Parameters StateMachineArn, Input, Name) starts a new
 * execution of the same state machine -- its own history from 0 events, journaled like any other
 * so a restart resumes it -- and returns {ExecutionArn, StartDate}; the old execution goes on to
 * its next state (usually a Succeed). The new execution takes over the old one's instance (the
 * journal's instance row moves to it) and its held job (engine_job_held). Its Name, when not
 * given, continues the old one's: "i-0abc", "i-0abc.2", "i-0abc.3"... Starting another state
 * machine fails the task with States.TaskFailed (one engine runs one state machine).
 *
 * The context object ($$): Execution.{Id (the execution's ARN), Input, Name, StartTime,
 * RedriveCount}, State.{EnteredTime, Name, RetryCount}, StateMachine.{Id (its ARN), Name}.
 */
#ifndef DSS_SCHED_ENGINE_H
#define DSS_SCHED_ENGINE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "asl.h"
#include "journal.h"
#include "loop.h"

struct engine;
struct execution;

/* One invocation of a task function. The engine owns it; the task finishes it exactly once with
 * task_succeed() or task_fail(), possibly before returning. */
struct task_call {
    struct engine *e;
    struct execution *x;
    cJSON *input;            /* the task's effective input (borrowed until finished) */
    void *env;               /* what engine_new got as task_env */
    const char *state;       /* state name */
    const char *instance_id; /* the execution's instance, if any */
    void *scratch;           /* the task function's own state: one malloc block, freed with the call */
    void *req;               /* the context of the request in flight (malloc'd), freed with the call so
                                that shutting down mid-request leaks nothing */
};
typedef void (*task_fn)(struct task_call *call);

struct task_def {
    const char *resource; /* Task "Resource" value */
    task_fn fn;
};

/* Takes result. */
void task_succeed(struct task_call *call, cJSON *result);
void task_fail(struct task_call *call, const char *error, const char *cause);

/* How much of each execution is recorded (dss-scheduler run --history). Like the logging levels
 * of Step Functions' Express workflows, which keep no history of their own: a run of 100,000
 * jobs makes some 13 million history events, about 1 KiB of state document each. */
enum engine_history {
    HISTORY_FULL,     /* every event, with its input or output; every transition logged (default) */
    HISTORY_FAILURES, /* only failures (TaskFailed, ExecutionFailed, ...) with their data; only
                       * executions' starts and ends and failures logged */
    HISTORY_NONE,     /* no history events; only executions' starts and ends logged */
};

struct engine_options {
    int64_t max_events;   /* history events per execution (default 25000) */
    size_t max_payload;   /* bytes of state input/output (default 262144) */
    int log_json;         /* one JSON object per line instead of text */
    FILE *log;            /* transition log (NULL: none) */
    enum engine_history history; /* what the journal's history and the transition log keep */
    /* Called when an execution ends (output NULL on failure; borrowed). */
    void (*on_finish)(void *arg, const char *name, int succeeded, const char *error, const char *cause,
                      const cJSON *output);
    void *on_finish_arg;
    /* The state machine's ARN ($$.StateMachine.Id; executions' ARNs derive from it). NULL:
     * arn:aws:states:us-east-1:000000000000:stateMachine:dss-scheduler. Borrowed. */
    const char *state_machine_arn;
};

struct engine_stats {
    uint64_t transitions;
    int running, succeeded, failed;
    uint64_t jobs_started, jobs_succeeded, jobs_failed; /* counted by the job-record task */
    int jobs_running; /* live executions whose last job record says Started (engine_job_held) */
};

struct engine *engine_new(const struct asl_machine *m, const struct task_def *tasks, int ntasks, void *task_env,
                          struct loop *loop, struct journal *j, const struct engine_options *opt);
void engine_free(struct engine *e);

/* Starts an execution. name: unique; instance_id may be NULL. Takes input. Returns 1 if started,
 * 0 if one already exists for instance_id (or name), -1 on error. */
int engine_start(struct engine *e, const char *name, const char *instance_id, cJSON *input);
/* Resumes every RUNNING execution of the journal from its current state. Returns how many. */
int engine_resume(struct engine *e);

struct engine_stats *engine_stats(struct engine *e);
/* The job-record task tells whether execution x now holds a job (Started) or not (an outcome
 * recorded); an execution that ends lets go of its job. Feeds stats.jobs_running, which the
 * in-flight scaler counts: started minus outcomes would keep counting jobs whose instance
 * vanished before an outcome was recorded. */
void engine_job_held(struct execution *x, int held);
/* How many running executions are in each state: counts[i] for state i of the machine (its
 * nstates entries are all written). */
void engine_count_by_state(const struct engine *e, int *counts);
const struct asl_machine *engine_machine(struct engine *e);

/* Resolver for asl_load over a task table (sets the table for the next asl_load call). */
void engine_set_resolver_table(const struct task_def *tasks, int ntasks);
int engine_resolve(const char *resource);

#endif
