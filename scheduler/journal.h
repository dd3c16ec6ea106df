/* journal.h -- the scheduler's durable record: executions and their history, in SQLite.
 *
 * Each execution row holds what a restart needs to resume it: the state it is in and that
 * state's input (the output of the last completed state), plus when a Wait in progress ends.
 * History rows are the Step Functions-style events (StateEntered, TaskFailed, ...).
 *
 * Writes are grouped: the loop opens a transaction before an iteration and commits after it,
 * before any request queued in that iteration goes out on the wire (curl sends on the next
 * iteration). WAL with synchronous=NORMAL: a SIGKILL loses nothing committed. (On the emulator's
 * simulated clock the journal is not durable and commits once per instant: see journal.c.)
 */
#ifndef DSS_SCHED_JOURNAL_H
#define DSS_SCHED_JOURNAL_H

#include <stdint.h>
#include <stdio.h>

struct journal;

struct journal *journal_open(const char *path, char *err, size_t errlen);
/* For looking only (executions, history): read-only, never creates or changes the file. */
struct journal *journal_open_reader(const char *path, char *err, size_t errlen);
void journal_close(struct journal *j);
int journal_begin(struct journal *j);
int journal_commit(struct journal *j);

/* Creates an execution; returns its id, 0 if one already exists for instance_id, -1 on error. */
int64_t journal_new_execution(struct journal *j, const char *name, const char *instance_id, const char *input,
                              int64_t now_ms);
int journal_has_instance(struct journal *j, const char *instance_id);
/* Continue as new: creates execution `name` and moves instance_id (may be NULL) to it from
 * execution from_id, whose row keeps its history. Returns the new id, 0 if the name is taken
 * (nothing changed), -1 on error. */
int64_t journal_continue_execution(struct journal *j, int64_t from_id, const char *name, const char *instance_id,
                                   const char *input, int64_t now_ms);
/* The input execution id started with (its ExecutionStarted event), malloc'd, or NULL. */
char *journal_execution_input(struct journal *j, int64_t id);
/* Records the state an execution is in now and that state's input. */
int journal_state(struct journal *j, int64_t id, const char *state, const char *input, int64_t wait_due_ms,
                  int64_t events, int64_t now_ms);
int journal_event(struct journal *j, int64_t id, int64_t seq, int64_t ts_ms, const char *type, const char *state,
                  const char *data);
int journal_finish(struct journal *j, int64_t id, const char *status, const char *error, const char *cause,
                   const char *output, int64_t events, int64_t now_ms);

struct journal_exec {
    int64_t id;
    const char *name, *instance_id, *status, *state, *input, *error, *cause;
    int64_t wait_due_ms, events, started_ms, updated_ms;
};
/* Calls fn for each execution (status NULL: all; else only that status), oldest first. */
int journal_each(struct journal *j, const char *status, void (*fn)(void *arg, const struct journal_exec *x),
                 void *arg);
/* Prints the history of execution `which` (id or name) to out; returns 0, or -1 if unknown. */
int journal_print_history(struct journal *j, const char *which, int json, FILE *out);
const char *journal_error(struct journal *j);

#endif
