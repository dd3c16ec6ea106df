/* loop.h -- the scheduler's one event loop: epoll for sockets, a heap of clock timers, and one
 * real-time timer for curl.
 *
 * Clock timers fire when sched_now_ms() reaches their due time. With the virtual clock the loop
 * jumps the clock to the earliest timer whenever nothing else can happen (no socket work: the
 * `busy` callback says whether requests are in flight).
 */
#ifndef DSS_SCHED_LOOP_H
#define DSS_SCHED_LOOP_H

#include <stdint.h>

#include "awsclient.h"

struct loop;

typedef void (*loop_io_fn)(void *arg, int fd, int events);
typedef void (*loop_timer_fn)(void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watches fd for events (AWS_IO_IN|AWS_IO_OUT); events 0 stops watching. Returns 0 or -1. */
int loop_watch(struct loop *l, int fd, int events, loop_io_fn fn, void *arg);
/* Calls fn(arg) once when the clock reaches due_ms. Returns 0 or -1 (out of memory). */
int loop_at(struct loop *l, int64_t due_ms, loop_timer_fn fn, void *arg);
/* The single real-time timer (curl's): fn(arg) after ms real milliseconds; ms < 0 disarms. */
void loop_realtime(struct loop *l, long ms, loop_timer_fn fn, void *arg);
/* Tells the loop whether requests are in flight (virtual clock only jumps when not). */
void loop_set_busy(struct loop *l, int (*busy)(void *arg), void *arg);

/* Runs one iteration, blocking at most max_wait_ms (real). Returns the number of callbacks run. */
int loop_run_once(struct loop *l, int max_wait_ms);
/* Timers waiting. */
int loop_timers(const struct loop *l);
/* Earliest clock timer, or INT64_MAX. */
int64_t loop_next_due(const struct loop *l);

/* Connects an AWS client to this loop: fills hooks (which must outlive the client). Call
 * loop_attach_client() once the client exists. */
void loop_client_hooks(struct loop *l, struct aws_loop *hooks);
void loop_attach_client(struct loop *l, struct aws_client *c);

#endif
