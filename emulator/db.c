/* db.c -- see db.h.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL file before the response is
 * sent, so killing the emulator (even with SIGKILL) loses nothing acknowledged; only a power
 * failure can lose the last commits, which is the trade every local emulator makes.
 *
 * Checkpoints (copying the WAL back into the database, with an fdatasync of each) run on a
 * thread of their own. SQLite's automatic checkpoint runs inside the COMMIT that crosses the
 * threshold, so it used to run while that request held the writer lock: every writer waited
 * for two fdatasyncs, several milliseconds on a busy disk, and the request that triggered it
 * paid them in its latency. A PASSIVE checkpoint needs no writer lock, so here writers go on;
 * only when the WAL outgrows a hard limit (the thread cannot keep up with a steady write load)
 * does a committing writer finish the checkpoint itself, as before. Measured with wrk, 16
 * connections of SendMessage, old and new binaries interleaved on a loaded two-core machine:
 * about 1.7x the requests per second, the WAL file bounded at 15 MB instead of 3 MB.
 *
 * BEGIN and COMMIT are cached prepared statements like any other: sqlite3_exec() would parse
 * them again for every request.
 *
 * Simulated mode (--clock simulated) and --ephemeral run with synchronous=OFF: a simulated run
 * cannot restart the emulator on its data (dss-scenario refuses emulator_restart there, and the
 * job models live in memory), and an ephemeral data directory is removed when the emulator
 * exits, so the checkpoints' fdatasyncs would buy nothing. A SIGKILL still loses nothing.
 *
 * Start-up on a fresh data directory: the first connection turns the new file into WAL mode and
 * creates every schema before any other connection exists, with synchronous set first (the
 * switch to WAL is a rollback-journal write, fdatasynced unless synchronous is OFF); a connection
 * opened later reads the finished schema once instead of being told it changed. Faster still,
 * dss-emulator carries a copy of a fresh database made at build time (schema_image.c) and a new
 * data directory starts as that file: creating the schemas statement by statement took 3.7 of
 * the 24 ms from exec to the first answer.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "service.h"
#include "util.h"
#include "walvfs.h"

#define STMT_SLOTS 256 /* power of two; more distinct SQL strings than the emulator has */
#define CHECKPOINT_FRAMES 1000     /* WAL pages before a checkpoint: SQLite's own default */
#define CHECKPOINT_FRAMES_MAX 4000 /* WAL pages past which the committing request checkpoints */

/* A connection and its prepared statements. */
struct conn {
    sqlite3 *db;
    struct { const char *sql; sqlite3_stmt *stmt; } slots[STMT_SLOTS];
};

static char db_path[4096];
static int db_durable = 1; /* dss_db_open(): 0 for ephemeral and simulated runs, see above */
static const unsigned char *db_image; /* dss_db_use_image() */
static size_t db_image_len;
static pthread_key_t thread_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every write transaction runs on this one connection, whichever thread holds writer_lock.
 * SQLite drops a WAL connection's whole page cache when it finds that another connection has
 * committed since its last transaction; with a connection per thread every write found its
 * cache emptied by the write before it and read its pages again (pread, WAL frame lookups):
 * with 4 threads SQS Receive+Delete (Query) cost 75-84 us of CPU per request against 50 with
 * --threads 1. The per-thread connections now serve reads only. */
static struct conn *writer;
static __thread struct conn *writing; /* writer, while this thread holds writer_lock */
static struct { void (*committed)(void), (*discarded)(void); } watchers[4]; /* dss_db_watch_commits() */
static int n_watchers;
static atomic_ulong generation;     /* dss_db_generation(): row changes in any table */
static struct { char name[64]; atomic_ulong changes; } watched[16]; /* dss_db_watch_table() */
static atomic_int n_watched;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;

/* The checkpoint thread and what it is asked to do. */
static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* to the thread: wanted, held or stop changed */
    pthread_cond_t idle; /* from the thread: a pass has ended */
    int running;         /* the thread exists: connections leave checkpoints to it */
    int wanted;          /* the WAL has grown past CHECKPOINT_FRAMES since the last checkpoint */
    int busy;            /* the thread is checkpointing now */
    int held;            /* a writer is checkpointing itself (dss_db_commit): start no pass */
    int stop;
} checkpoints = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                 .idle = PTHREAD_COND_INITIALIZER};

static sqlite3 *open_connection(void);
static struct conn *conn_open(void);

static void conn_free(void *p)
{
    struct conn *t = p;
    if (!t)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        if (t->slots[i].stmt)
            sqlite3_finalize(t->slots[i].stmt);
    sqlite3_close(t->db);
    free(t);
}

static void make_key(void)
{
    pthread_key_create(&thread_key, conn_free);
}

/* Set by on_wal_commit() when this thread's commit found the WAL past CHECKPOINT_FRAMES_MAX. */
static __thread int wal_over_limit;

/* After every commit (SQLite calls it with the WAL's size in pages; writer_lock is still
 * held): each time the WAL has grown by CHECKPOINT_FRAMES pages since the thread was last
 * woken, wake it. The WAL file only starts over after a checkpoint that copied everything while
 * no reader still needed it, and under a steady write load a checkpoint running beside the
 * writers never quite gets there (measured: the WAL grew past 100 MB in 10 s of SendMessage).
 * So past a hard limit dss_db_commit() finishes the job itself; see there. For the same reason
 * a wake-up on every commit past the threshold, as before, ran a checkpoint (two fdatasyncs and
 * a sort of the WAL index) about every 7 commits of an SQS load: 0.18 fdatasyncs per request,
 * now 0.005. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)arg, (void)db, (void)name;
    static int frames_at_wake; /* writer_lock: the WAL's length when the thread was last woken */
    if (frames >= CHECKPOINT_FRAMES_MAX)
        wal_over_limit = 1;
    if (frames < frames_at_wake) /* the WAL has started over */
        frames_at_wake = 0;
    if (frames >= frames_at_wake + CHECKPOINT_FRAMES) {
        frames_at_wake = frames;
        pthread_mutex_lock(&checkpoints.lock);
        checkpoints.wanted = 1;
        pthread_cond_signal(&checkpoints.wake);
        pthread_mutex_unlock(&checkpoints.lock);
    }
    return SQLITE_OK;
}

/* The checkpoint thread: a PASSIVE checkpoint each time a commit finds the WAL long, on its
 * own connection, without the writer lock. The WAL file restarts from its beginning at the
 * next write after a checkpoint that copied everything. The connection is opened here, off the
 * start-up path; without one the thread does nothing, and writers past CHECKPOINT_FRAMES_MAX
 * checkpoint themselves (restart_wal()). */
static void *checkpoint_main(void *arg)
{
    (void)arg;
    sqlite3 *db = open_connection();
    pthread_mutex_lock(&checkpoints.lock);
    while (!checkpoints.stop) {
        if (!checkpoints.wanted || checkpoints.held) {
            pthread_cond_wait(&checkpoints.wake, &checkpoints.lock);
            continue;
        }
        checkpoints.wanted = 0;
        if (!db)
            continue;
        checkpoints.busy = 1;
        pthread_mutex_unlock(&checkpoints.lock);
        int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warn("checkpoint of %s: %s", db_path, sqlite3_errmsg(db));
        pthread_mutex_lock(&checkpoints.lock);
        checkpoints.busy = 0;
        pthread_cond_broadcast(&checkpoints.idle);
    }
    pthread_mutex_unlock(&checkpoints.lock);
    sqlite3_close(db);
    return NULL;
}

/* Starts the checkpoint thread; without it every connection keeps SQLite's automatic
 * checkpoints. */
static void start_checkpoints(void)
{
    checkpoints.stop = checkpoints.wanted = 0;
    if (pthread_create(&checkpoints.thread, NULL, checkpoint_main, NULL) == 0)
        checkpoints.running = 1;
}

void dss_db_close(void)
{
    if (checkpoints.running) {
        pthread_mutex_lock(&checkpoints.lock);
        checkpoints.stop = 1;
        pthread_cond_signal(&checkpoints.wake);
        pthread_mutex_unlock(&checkpoints.lock);
        pthread_join(checkpoints.thread, NULL);
        checkpoints.running = 0;
    }
    dss_db_close_thread();
    conn_free(writer);
    writer = NULL;
}

/* SQLite's update hook, on every connection: counts the change if its table is watched. */
static void on_row_change(void *arg, int op, const char *database, const char *table, sqlite3_int64 rowid)
{
    (void)arg, (void)op, (void)database, (void)rowid;
    atomic_fetch_add(&generation, 1);
    int n = atomic_load(&n_watched);
    for (int i = 0; i < n; i++)
        if (!strcmp(table, watched[i].name)) {
            atomic_fetch_add(&watched[i].changes, 1);
            return;
        }
}

/* Starts counting a table's changes; returns its slot, or -1 past sixteen tables. */
static int watch_table(const char *table)
{
    pthread_mutex_lock(&watch_lock);
    int n = atomic_load(&n_watched), slot = -1;
    for (int i = 0; i < n && slot < 0; i++)
        if (!strcmp(watched[i].name, table))
            slot = i;
    if (slot < 0 && n < (int)(sizeof watched / sizeof watched[0]) && strlen(table) < sizeof watched[0].name) {
        snprintf(watched[n].name, sizeof watched[n].name, "%s", table);
        atomic_store(&n_watched, n + 1); /* after the name: the hook reads names below n_watched */
        slot = n;
    }
    pthread_mutex_unlock(&watch_lock);
    return slot;
}

unsigned long dss_db_tables_changes(struct dss_db_tables *t)
{
    if (!t->n) { /* watch_table() is idempotent: callers racing here get the same slots */
        int n = 0;
        for (; n < (int)(sizeof t->slots / sizeof t->slots[0]) && t->names[n]; n++)
            t->slots[n] = watch_table(t->names[n]);
        t->n = n;
    }
    unsigned long sum = 0;
    for (int i = 0; i < t->n; i++)
        if (t->slots[i] >= 0)
            sum += atomic_load(&watched[t->slots[i]].changes);
    return sum;
}

static sqlite3 *open_connection(void)
{
    sqlite3 *db = NULL;
    /* "unix-excl": the process holds the file exclusively, and the WAL index lives in its heap
     * rather than in the shared-memory file. Only this process opens the data directory, and
     * with the default VFS every read transaction locked and unlocked a slot of the shared
     * memory with fcntl(), behind a mutex the threads fought over: 10 % of a 4 KiB GetObject's
     * CPU (30 -> 26 us per GetObject, 70 -> 54 us per SendMessage in A/B runs; README). Every
     * connection must use it: one on another VFS would keep a second WAL index. A second
     * emulator on the same directory now fails at start ("database is locked"). It is opened
     * through walvfs.h's shim, which writes each WAL frame with one pwrite() instead of two. */
    const char *vfs = dss_walvfs_register("unix-excl");
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             vfs ? vfs : "unix-excl");
    if (rc != SQLITE_OK) {
        log_error("cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    /* Writers are serialised by writer_lock; the busy timeout covers checkpoints. */
    sqlite3_busy_timeout(db, 5000);
    if (checkpoints.running)
        sqlite3_wal_hook(db, on_wal_commit, NULL); /* replaces SQLite's automatic checkpoint */
    sqlite3_update_hook(db, on_row_change, NULL);
    char *err = NULL;
    rc = sqlite3_exec(db, db_durable ? "PRAGMA synchronous=NORMAL; PRAGMA journal_mode=WAL; "
                                       "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                                     : "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; "
                                       "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
                      NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        log_error("cannot configure %s: %s%s", db_path, err,
                  rc == SQLITE_BUSY ? " (another process holds it: is a dss-emulator running on this data directory?)"
                                    : "");
        sqlite3_free(err);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Every service's schema, in one transaction: one WAL commit instead of one per statement. */
static int create_schemas(sqlite3 *db)
{
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int i = 0; dss_services[i]; i++) {
        char *err = NULL;
        const char *sql = dss_services[i]->schema_sql;
        if (sql && sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
            log_error("schema of %s: %s", dss_services[i]->name, err);
            sqlite3_free(err);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void dss_db_use_image(const unsigned char *image, size_t len)
{
    db_image = image;
    db_image_len = len;
}

/* A new database file from the build-time image (dss_db_use_image()), written under a temporary
 * name and renamed, so that a crash leaves the whole image or no file. Returns 1 when the file
 * was made, 0 when it exists already or there is no image, -1 on failure. */
static int place_image(const char *dir)
{
    if (!db_image || access(db_path, F_OK) == 0)
        return 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.dss.db.new", dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < db_image_len) {
        ssize_t w = write(fd, db_image + done, db_image_len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int ok = done == db_image_len && (!db_durable || fdatasync(fd) == 0);
    if (close(fd) != 0)
        ok = 0;
    /* A WAL left without its database would be replayed onto the image, which is in WAL mode. */
    char stale[4200];
    snprintf(stale, sizeof stale, "%s-wal", db_path);
    unlink(stale);
    snprintf(stale, sizeof stale, "%s-shm", db_path);
    unlink(stale);
    if (!ok || rename(tmp, db_path) != 0) {
        log_error("cannot create %s: %s", db_path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 1;
}

int dss_db_open(const char *dir, int durable)
{
    snprintf(db_path, sizeof db_path, "%s/dss.db", dir);
    db_durable = durable && !dss_clock_is_simulated();
    int fresh = place_image(dir);
    if (fresh < 0)
        return -1;
    if (!writer && !(writer = conn_open()))
        return -1;
    /* An existing file gets every schema statement: new tables and indexes of a newer version. */
    if (!fresh && create_schemas(writer->db) != 0)
        return -1;
    if (!checkpoints.running) {
        start_checkpoints();
        if (checkpoints.running) /* this connection was opened before there was a thread */
            sqlite3_wal_hook(writer->db, on_wal_commit, NULL);
    }
    return 0;
}

int dss_db_write_image(const char *dir)
{
    db_image = NULL;
    if (dss_db_open(dir, 0) != 0)
        return -1;
    /* Everything into the database file itself: the image is that file alone, no WAL. */
    int rc = sqlite3_wal_checkpoint_v2(dss_db_thread(), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    dss_db_close();
    return rc == SQLITE_OK ? 0 : -1;
}

const char *dss_db_path(void)
{
    return db_path;
}

static struct conn *conn_open(void)
{
    struct conn *t = calloc(1, sizeof *t);
    if (!t || !(t->db = open_connection())) {
        free(t);
        return NULL;
    }
    return t;
}

/* The connection the calling thread uses now: the writer's inside a write transaction, else
 * its own, opened on first use. */
static struct conn *current_conn(void)
{
    if (writing)
        return writing;
    pthread_once(&key_once, make_key);
    struct conn *t = pthread_getspecific(thread_key);
    if (!t && (t = conn_open()))
        pthread_setspecific(thread_key, t);
    return t;
}

sqlite3 *dss_db_thread(void)
{
    struct conn *t = current_conn();
    return t ? t->db : NULL;
}

int dss_db_writing(void)
{
    return writing != NULL;
}

void dss_db_close_thread(void)
{
    pthread_once(&key_once, make_key);
    conn_free(pthread_getspecific(thread_key));
    pthread_setspecific(thread_key, NULL);
}

sqlite3_stmt *dss_db_stmt(sqlite3 *db, const char *sql)
{
    struct conn *t = current_conn();
    if (!t || t->db != db)
        return NULL;
    /* Keyed by the address of the static SQL text: no hashing of strings on the hot path. */
    size_t h = ((uintptr_t)sql >> 3) * 2654435761u;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        size_t k = (h + i) & (STMT_SLOTS - 1);
        if (t->slots[k].sql == sql) {
            sqlite3_stmt *st = t->slots[k].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
        if (!t->slots[k].sql) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
                log_error("prepare failed: %s: %s", sqlite3_errmsg(db), sql);
                return NULL;
            }
            t->slots[k].sql = sql;
            t->slots[k].stmt = st;
            return st;
        }
    }
    log_error("statement cache full");
    return NULL;
}

/* The WAL is past its hard limit (on_wal_commit()): still holding writer_lock, let the
 * checkpoint thread's pass end and start no other (two checkpoints at once: one fails at once
 * with SQLITE_BUSY), copy the rest and make the next write restart the WAL. Writers wait only
 * here, when the checkpoint thread could not keep up. Not from inside on_wal_commit(): a
 * checkpoint there finds the database busy. */
static void restart_wal(sqlite3 *db)
{
    wal_over_limit = 0;
    pthread_mutex_lock(&checkpoints.lock);
    checkpoints.held = 1;
    while (checkpoints.busy)
        pthread_cond_wait(&checkpoints.idle, &checkpoints.lock);
    pthread_mutex_unlock(&checkpoints.lock);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_warn("checkpoint of %s: %s", db_path, sqlite3_errmsg(db));
    pthread_mutex_lock(&checkpoints.lock);
    checkpoints.held = 0;
    pthread_cond_signal(&checkpoints.wake);
    pthread_mutex_unlock(&checkpoints.lock);
}

/* Runs one of the transaction statements through the statement cache; SQLITE_OK or the error. */
static int exec_cached(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = dss_db_stmt(db, sql);
    if (!st) /* not this thread's connection: no cache to use */
        return sqlite3_exec(db, sql, NULL, NULL, NULL);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char sql_begin[] = "BEGIN", sql_begin_write[] = "BEGIN IMMEDIATE", sql_commit[] = "COMMIT",
                  sql_rollback[] = "ROLLBACK";

/* Ends a write transaction's hold on the writer connection and lock. */
static void release_writer(int write)
{
    if (!write)
        return;
    writing = NULL;
    pthread_mutex_unlock(&writer_lock);
}

sqlite3 *dss_db_begin(int write)
{
    if (write) {
        pthread_mutex_lock(&writer_lock);
        writing = writer;
    }
    struct conn *c = current_conn();
    if (!c) {
        log_error("begin failed: no database connection");
        release_writer(write);
        return NULL;
    }
    int rc = exec_cached(c->db, write ? sql_begin_write : sql_begin);
    if (rc != SQLITE_OK) {
        log_error("begin failed: %s", sqlite3_errmsg(c->db));
        release_writer(write);
        return NULL;
    }
    return c->db;
}

void dss_db_watch_commits(void (*committed)(void), void (*discarded)(void))
{
    for (int i = 0; i < n_watchers; i++)
        if (watchers[i].committed == committed && watchers[i].discarded == discarded)
            return; /* started again (the fuzz targets start the services once per run) */
    if (n_watchers < (int)(sizeof watchers / sizeof watchers[0])) {
        watchers[n_watchers].committed = committed;
        watchers[n_watchers++].discarded = discarded;
    }
}

static void tell_watchers(int committed)
{
    for (int i = 0; i < n_watchers; i++)
        (committed ? watchers[i].committed : watchers[i].discarded)();
}

int dss_db_commit(sqlite3 *db, int write)
{
    int rc = exec_cached(db, sql_commit);
    if (rc != SQLITE_OK) {
        log_error("commit failed: %s", sqlite3_errmsg(db));
        exec_cached(db, sql_rollback);
    }
    tell_watchers(rc == SQLITE_OK);
    if (wal_over_limit)
        restart_wal(db);
    release_writer(write);
    return rc == SQLITE_OK ? 0 : -1;
}

unsigned long dss_db_generation(void)
{
    return atomic_load(&generation);
}

void dss_db_rollback(sqlite3 *db, int write)
{
    if (!sqlite3_get_autocommit(db))
        exec_cached(db, sql_rollback);
    tell_watchers(0);
    release_writer(write);
}
