/* server.h -- the emulator's one HTTP port: every service, every protocol. */
#ifndef DSS_SERVER_H
#define DSS_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct buf; /* buf.h */

struct dss_server_config {
    const char *host;     /* address to bind, "127.0.0.1" */
    int port;             /* 0: any free port */
    const char *data_dir; /* where dss.db lives */
    int threads;          /* request threads (each reads on its own SQLite connection) */
};

/* Starts serving. Returns 0 and fills in the bound port, or -1 after logging why. */
int dss_server_start(struct dss_server_config *cfg);
/* Answers every parked call, stops accepting, and waits for the threads to finish. */
void dss_server_stop(void);

/* For the simulated clock (simclock.c). Calls alive and not parked (*parked: parked ones). */
unsigned dss_server_busy_calls(unsigned *parked);
/* The earliest deadline (emulator clock) of a parked call, or INT64_MAX. */
int64_t dss_server_next_wait(void);
/* Resumes the one parked call due by now with the earliest deadline (ties: by wait key, then
 * the order they parked). Returns 1 if one was resumed. */
int dss_server_resume_first_due(int64_t now);
/* Called (when set) when a call parks or ends and no call is left busy: the barrier may have
 * become reachable. */
extern void (*dss_server_idle_hook)(void);

/* ---- One JSON-protocol call without HTTP: the way in of the fuzz target
 * tests/fuzz/fuzz_json_dispatch.c ----
 *
 * Runs the request "X-Amz-Target: target" with body [body, body + len) through the code an
 * HTTP request takes (route by target, parse the body into parameters, signature and fault
 * checks, the operation in one transaction on the calling thread's connection, the answer
 * rendered in the JSON protocol), and writes the answer's body into out and its HTTP status
 * into *status. There is no connection behind the call: it sees Host "localhost:4566", region
 * us-east-1, no other headers, and a call that would park (SQS WaitTimeSeconds, an injected
 * delay) answers at once, as if its wait had run out. Returns 0, or -1 when there is no answer
 * (out of memory, an injected connection reset).
 *
 * Before the first call: dss_clock_init(), dss_db_open(), then dss_server_start_json_services(),
 * which starts the services that have a JSON protocol the way dss_server_start() does (their
 * start hooks) and leaves the others off -- EC2's instance supervisor and S3's reaper start
 * threads and worker processes, and none of their operations has a JSON target. Returns 0, or
 * -1 after logging why. */
int dss_server_call_json(const char *target, const char *body, size_t len, int *status, struct buf *out);
int dss_server_start_json_services(const char *data_dir);
/* Stops what dss_server_start_json_services() started. */
void dss_server_stop_json_services(void);

#endif
