/* server.h -- the emulator's one HTTP port: every service, every protocol. */
#ifndef DSS_SERVER_H
#define DSS_SERVER_H

#include <stdint.h>

struct dss_server_config {
    const char *host;     /* address to bind, "127.0.0.1" */
    int port;             /* 0: any free port */
    const char *data_dir; /* where dss.db lives */
    int threads;          /* request threads (each with its own SQLite connection) */
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
/* Called (when set) after a call parks or ends: the barrier may have become reachable. */
extern void (*dss_server_idle_hook)(void);

#endif
