/* db.h -- the emulator's SQLite store: one database file per data directory, one connection
 * for every write and one per thread for reads, prepared statements cached per connection. */
#ifndef DSS_DB_H
#define DSS_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* Opens (creating if needed) DIR/dss.db in WAL mode and runs every service's schema; starts
 * the thread that checkpoints the WAL. durable 0 (an ephemeral data directory) skips every
 * fdatasync (synchronous=OFF), as the simulated clock does too. Returns 0, or -1 after logging why. */
int dss_db_open(const char *dir, int durable);
/* A fresh database file, schemas made, for dss_db_open() to copy into a new data directory
 * instead of running every CREATE statement (start-up time). Called before dss_db_open(). */
void dss_db_use_image(const unsigned char *image, size_t len);
/* Makes the file behind such an image, DIR/dss.db (schema_image.c, at build time). Returns 0
 * or -1. */
int dss_db_write_image(const char *dir);
/* The connection the calling thread uses now: inside a write transaction the one writer
 * connection (dss_db_begin), else the thread's own, opened on first use. NULL (after logging)
 * on failure. */
sqlite3 *dss_db_thread(void);
/* 1 while the calling thread is inside a write transaction (it holds the writer lock). */
int dss_db_writing(void);
/* A cached prepared statement on db for a static SQL string; reset, bindings cleared. */
sqlite3_stmt *dss_db_stmt(sqlite3 *db, const char *sql);
/* Transactions. dss_db_begin() returns the connection the transaction runs on (NULL, after
 * logging, if it could not begin); commit or roll back on that connection. A write transaction
 * runs on the process's one writer connection and holds the writer lock until it ends, so
 * writers queue on a mutex instead of spinning in SQLite's busy handler; a read runs on the
 * thread's own connection. */
sqlite3 *dss_db_begin(int write);
int dss_db_commit(sqlite3 *db, int write);
void dss_db_rollback(sqlite3 *db, int write);
/* For a service that keeps a summary of its tables in memory (sqs.c's message counts): after
 * every dss_db_commit() that succeeded, committed() runs on the committing thread while it
 * still holds the writer lock, so summaries change in commit order; after a rollback or a
 * failed commit, discarded() runs instead. Each must be cheap when the thread changed nothing.
 * At most four pairs; register before the port accepts requests (a service's start()). */
void dss_db_watch_commits(void (*committed)(void), void (*discarded)(void));
/* Rows changed, counted as they change (an INSERT, UPDATE or DELETE of any connection,
 * committed or not; SQLite reports rowid tables only): the same count twice means the tables
 * did not change in between, so work that reads only them and has just found nothing to do
 * can skip itself. dss_db_generation() counts every table's changes. */
unsigned long dss_db_generation(void);
/* The changes of a set of tables (at most eight per set and sixteen watched in all), counted
 * from the first call for that set; the set is a static of its one caller. */
struct dss_db_tables {
    const char *const *names; /* NULL-terminated */
    int slots[8];
    int n; /* slots watched: 0 until the first call */
};
unsigned long dss_db_tables_changes(struct dss_db_tables *t);
/* Closes the calling thread's connection (threads also close theirs when they exit). */
void dss_db_close_thread(void);
/* At shutdown, after the server has stopped: stops the checkpoint thread (dss_db_open
 * started it) and closes the calling thread's connection. */
void dss_db_close(void);
const char *dss_db_path(void);

#endif
