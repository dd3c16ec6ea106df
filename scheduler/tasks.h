/* tasks.h -- the seed's Lambda functions as built-in task functions.
 *
 * One function per Lambda of the decoupled serverless scheduler (SEED-DESIGN.md), named by the
 * Task state's Resource: WaitEC2, ProtectEC2, GetJob, DeleteJob, ExtractJob, StartJob, DynamoDB,
 * CheckJob, ConfirmResult, AddSQS, SQSOut, FailedJob, SQSCheck, FinalTerminate. Each reads the
 * whole state document it is given (as the Lambdas read their event) and behaves as the design
 * describes, quirks included:
 *  - DeleteJob deletes the message before the job has run;
 *  - CheckJob answers ["success", "null"] on any exception, and for SSM statuses outside its map;
 *  - ConfirmResult looks for the success string in the text (Python repr) of the whole jobstatus;
 *  - SQSCheck trusts ApproximateNumberOfMessages, which excludes in-flight messages.
 * The hardened workflow (fixtures/workflows/hardened.asl.json) adds KeepJob and ReleaseJob
 * (ChangeMessageVisibility: hold the message while the job runs, or give it back at once),
 * CheckCommand (every SSM status mapped; unknown ones are "lost", never success), CheckInstance
 * (running / impaired / gone), ConfirmOutput (the success string in the job's own invocation's
 * output, exit code 0) and SQSCheckInFlight (counts in-flight messages too). GetJob takes its
 * visibility timeout from $.settings.visibility_timeout when the workflow sets it.
 * Errors carry the AWS error code as their name ("AWS.SimpleQueueService.NonExistentQueue",
 * "NetworkError", ...) or one of: QueueEmpty (GetJob received nothing), MalformedJob
 * (ExtractJob), WaiterError (WaitEC2), KeyError (a field the function needs is missing).
 */
#ifndef DSS_SCHED_TASKS_H
#define DSS_SCHED_TASKS_H

#include "awsclient.h"
#include "engine.h"
#include "loop.h"

struct task_env {
    struct aws_client *aws;
    struct loop *loop;
    struct engine *engine;  /* for job counters; may be NULL */
    double waiter_delay_s;  /* between waiter polls (boto3: 15) */
    int waiter_max_attempts; /* boto3: 40 */
    struct queue_url *urls; /* GetQueueUrl cache */
    int nurls;
};

extern const struct task_def seed_tasks[];
extern const int seed_ntasks;

void task_env_cleanup(struct task_env *env);

/* Python's repr() of a JSON value ("['success', 'null']"), as the seed's ConfirmResult sees it.
 * Returns a malloc'd string. */
char *python_repr(const cJSON *v);

/* CheckCommand's reading of an SSM invocation's Status and StatusDetails: "pending", "success",
 * "failed" (ran and failed: spends a retry) or "lost" (never ran, died with its instance or
 * agent, or an unknown status). Exposed for tests. */
const char *hardened_command_state(const char *status, const char *details);

#endif
