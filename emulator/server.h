/* server.h -- the emulator's one HTTP port: every service, every protocol. */
#ifndef DSS_SERVER_H
#define DSS_SERVER_H

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

#endif
