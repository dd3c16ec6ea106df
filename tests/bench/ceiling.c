/* ceiling.c -- what this machine allows: a bare libmicrohttpd server, same threading as
 * dss-emulator (a pool of 4 threads, every write on one connection), that answers every request
 * with one SQLite INSERT of the body it received, in WAL mode on the emulator's VFS (walvfs.c
 * over unix-excl), or, with --hello, with no work at all. The benchmark runs the same load
 * against it and against the emulator, so the emulator's figures read as a fraction of the
 * ceiling.
 * The body is stored because a write must store what it was sent: against a 4 KiB PutObject,
 * a ceiling that dropped the 4 KiB would measure a different load.
 *
 * usage: dss-bench-ceiling PORT DBFILE [--hello [BYTES]]
 *   BYTES: the size of every answer's body (default 2, "{}"): a read of a 4 KiB object is held
 *   against a hello that sends 4 KiB.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

#define BODY_MAX (1u << 20) /* bytes of a request body kept; the rest is read and dropped */

static const char *db_path;
static int hello;
static char *answer = "{}";
static size_t answer_len = 2;
static pthread_mutex_t writer = PTHREAD_MUTEX_INITIALIZER;
/* One connection for every write, used under the writer mutex, as in the emulator (db.c): a
 * connection per thread would find its page cache emptied by the other threads' commits. */
static sqlite3 *db;
static sqlite3_stmt *begin, *insert, *commit;
static const char *vfs = "unix-excl"; /* main(): the shim over it, when it registers */

/* Under the writer mutex. */
static int ensure_db(void)
{
    if (db)
        return 0;
    /* The emulator's VFS (emulator/db.c): the process holds the file, the WAL index is in its
     * heap, and each WAL frame is one write call (walvfs.c). A ceiling that paid the
     * shared-memory locks or the split frame writes the emulator no longer pays would be lower
     * than what this machine allows. */
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        vfs) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
    /* Prepared once, as the emulator caches its statements, BEGIN and COMMIT included. */
    return sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) == SQLITE_OK &&
                   sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?)", -1, &insert, NULL) == SQLITE_OK &&
                   sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) == SQLITE_OK
               ? 0
               : -1;
}

struct request {
    char *body;
    size_t len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version;
    if (!*ctx) {
        *ctx = calloc(1, sizeof(struct request));
        return *ctx ? MHD_YES : MHD_NO;
    }
    struct request *req = *ctx;
    if (*size) {
        if (!hello && req->len + *size <= BODY_MAX) {
            char *grown = realloc(req->body, req->len + *size);
            if (!grown)
                return MHD_NO;
            memcpy(grown + req->len, data, *size);
            req->body = grown;
            req->len += *size;
        }
        *size = 0;
        return MHD_YES;
    }
    if (!hello) {
        pthread_mutex_lock(&writer);
        if (ensure_db()) {
            pthread_mutex_unlock(&writer);
            return MHD_NO;
        }
        sqlite3_step(begin);
        sqlite3_reset(begin);
        sqlite3_bind_blob(insert, 1, req->body ? req->body : "", (int)req->len, SQLITE_STATIC);
        sqlite3_step(insert);
        sqlite3_reset(insert);
        sqlite3_step(commit);
        sqlite3_reset(commit);
        pthread_mutex_unlock(&writer);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(answer_len, answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/x-amz-json-1.0");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct request *req = *ctx;
    if (req)
        free(req->body);
    free(req);
    *ctx = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT DBFILE [--hello [BYTES]]\n", argv[0]);
        return 2;
    }
    db_path = argv[2];
    hello = argc > 3 && strcmp(argv[3], "--hello") == 0;
    if (hello && argc > 4) {
        answer_len = strtoul(argv[4], NULL, 10);
        if (!(answer = malloc(answer_len ? answer_len : 1)))
            return 1;
        memset(answer, 'x', answer_len);
    }
    const char *shim = dss_walvfs_register("unix-excl");
    if (shim)
        vfs = shim;
    sqlite3 *setup;
    sqlite3_open_v2(db_path, &setup, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs);
    sqlite3_exec(setup, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB);",
                 NULL, NULL, NULL);
    sqlite3_close(setup);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)atoi(argv[1]),
                                            NULL, NULL, on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, 4u,
                                            MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_NOTIFY_COMPLETED,
                                            on_completed, NULL, MHD_OPTION_END);
    if (!d)
        return 1;
    printf("ceiling listening on %s\n", argv[1]);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
