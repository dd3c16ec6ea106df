/* trace.h -- the run's record: JSON Lines, one event per line.
 *
 *   {"vt":1234,"kind":"attempt.start","job":"job-3","attempt":1,"instance":"i-0a...","details":{...}}
 *
 * vt is the event's time on the emulator clock in milliseconds since the run started; job,
 * attempt (1-based) and instance are present when the event has them. The kinds the runner
 * writes and what their details hold are listed in scenarios/README.md ("Trace"). The first
 * line is "run.start" with the scenario itself, so a trace alone is enough to check, report and
 * replay a run. Line numbers (1-based) are how violations point back into a trace.
 *
 * A struct trace holds the events in memory; a writer appends to one and, when it has a file,
 * writes each line as it is added (so a trace survives a runner that is killed). Thread-safe.
 */
#ifndef DSS_SCN_TRACE_H
#define DSS_SCN_TRACE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>

#define TRACE_MAX_LINE (4u << 20) /* longest line the reader accepts */

struct trace_event {
    long line;       /* 1-based line in the trace */
    int64_t vt_ms;
    char *kind;
    char *job;       /* NULL when none */
    int attempt;     /* 0 when none */
    char *instance;  /* NULL when none */
    cJSON *details;  /* an object, or NULL */
};

struct trace {
    struct trace_event *ev;
    size_t n, cap;
    FILE *out;             /* NULL: memory only */
    pthread_mutex_t lock;
};

/* A trace number as a whole number within [lo, hi] (dflt if NaN). Traces are files a user may
 * hand over, and converting a double outside an integer type's range is undefined behaviour. */
static inline double trace_clamp(double x, double lo, double hi, double dflt)
{
    return x != x ? dflt : x < lo ? lo : x > hi ? hi : x;
}

void trace_init(struct trace *t);
/* Opens path for writing (truncates). Returns 0 or -1 (errno set). */
int trace_open(struct trace *t, const char *path);
/* Appends an event; takes ownership of details (which may be NULL). Returns its line number,
 * or -1 when out of memory (details is freed). */
long trace_add(struct trace *t, int64_t vt_ms, const char *kind, const char *job, int attempt,
               const char *instance, cJSON *details);
/* Flushes and closes the file (the events stay in memory). Returns 0 or -1 on a write error. */
int trace_close(struct trace *t);
void trace_free(struct trace *t);

/* Parses one line into e (line number lineno). Returns 0, or -1 with a message in err. */
int trace_parse_line(const char *text, size_t len, long lineno, struct trace_event *e, char *err, size_t err_len);
void trace_event_free(struct trace_event *e);
/* Reads a whole trace. Blank lines are skipped (but counted). Returns 0, or -1 with a message
 * naming the line in err. */
int trace_load(const char *path, struct trace *t, char *err, size_t err_len);
int trace_load_mem(const char *text, size_t len, struct trace *t, char *err, size_t err_len);

/* The first event of this kind, or NULL. */
const struct trace_event *trace_find(const struct trace *t, const char *kind);
/* SHA-256 (hex) of the trace's lines as written: the same run gives the same hash. */
void trace_hash(const struct trace *t, char out[65]);
/* One event as its JSON line (no newline); a new string. */
char *trace_event_line(const struct trace_event *e);

#endif
