/* db.c -- see db.h.
 *
 * Durability: WAL with synchronous=NORMAL. A commit is in the WAL file before the response is
 * sent, so killing the emulator (even with SIGKILL) loses nothing acknowledged; only a power
 * failure can lose the last commits, which is the trade every local emulator makes.
 */
#include "db.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service.h"
#include "util.h"

#define STMT_SLOTS 256 /* power of two; more distinct SQL strings than the emulator has */

struct thread_db {
    sqlite3 *db;
    struct { const char *sql; sqlite3_stmt *stmt; } slots[STMT_SLOTS];
};

static char db_path[4096];
static pthread_key_t thread_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

static void thread_db_free(void *p)
{
    struct thread_db *t = p;
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
    pthread_key_create(&thread_key, thread_db_free);
}

static sqlite3 *open_connection(void)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    /* Writers are serialised by writer_lock; the busy timeout covers checkpoints and readers
     * of other processes (the sqlite3 shell during debugging). */
    sqlite3_busy_timeout(db, 5000);
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                         "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;", NULL, NULL, &err)) {
        log_error("cannot configure %s: %s", db_path, err);
        sqlite3_free(err);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

int dss_db_open(const char *dir)
{
    snprintf(db_path, sizeof db_path, "%s/dss.db", dir);
    sqlite3 *db = dss_db_thread();
    if (!db)
        return -1;
    /* One transaction for every schema: one WAL commit instead of one per statement. */
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

const char *dss_db_path(void)
{
    return db_path;
}

static struct thread_db *thread_db_get(void)
{
    pthread_once(&key_once, make_key);
    struct thread_db *t = pthread_getspecific(thread_key);
    if (t)
        return t;
    t = calloc(1, sizeof *t);
    if (!t || !(t->db = open_connection())) {
        free(t);
        return NULL;
    }
    pthread_setspecific(thread_key, t);
    return t;
}

sqlite3 *dss_db_thread(void)
{
    struct thread_db *t = thread_db_get();
    return t ? t->db : NULL;
}

void dss_db_close_thread(void)
{
    pthread_once(&key_once, make_key);
    thread_db_free(pthread_getspecific(thread_key));
    pthread_setspecific(thread_key, NULL);
}

sqlite3_stmt *dss_db_stmt(sqlite3 *db, const char *sql)
{
    struct thread_db *t = thread_db_get();
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

int dss_db_begin(sqlite3 *db, int write)
{
    if (write)
        pthread_mutex_lock(&writer_lock);
    int rc = sqlite3_exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        log_error("begin failed: %s", sqlite3_errmsg(db));
        if (write)
            pthread_mutex_unlock(&writer_lock);
        return -1;
    }
    return 0;
}

int dss_db_commit(sqlite3 *db, int write)
{
    int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        log_error("commit failed: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (write)
        pthread_mutex_unlock(&writer_lock);
    return rc == SQLITE_OK ? 0 : -1;
}

void dss_db_rollback(sqlite3 *db, int write)
{
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    if (write)
        pthread_mutex_unlock(&writer_lock);
}
