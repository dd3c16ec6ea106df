/* test_db.c -- the emulator's SQLite store (emulator/db.c) on real files: every service's schema,
 * write transactions that persist across a close and reopen, rollback, the per-thread statement
 * cache, and a new data directory made from the build-time database image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"

static char dirs[3][64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int make_dirs(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "/tmp/dss-test-db-XXXXXX");
        if (!mkdtemp(dirs[i]))
            return -1;
    }
    dss_clock_init(1.0);
    return 0;
}

static int remove_dirs(void **state)
{
    (void)state;
    dss_db_close();
    dss_db_use_image(NULL, 0);
    for (int i = 0; i < 3; i++)
        nftw(dirs[i], remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void add_queue(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = dss_db_stmt(db, "INSERT INTO sqs_queues(name, region, created_ms, modified_ms, attrs, tags) "
                                       "VALUES (?, 'us-east-1', 0, 0, '{}', '{}')");
    assert_non_null(st);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
}

/* Every service's tables; a committed write is there after a close and a reopen; a rolled-back
 * one is not, and the writer lock it held is free again. */
static void writes_persist_and_rollbacks_do_not(void **state)
{
    (void)state;
    assert_int_equal(dss_db_open(dirs[0], 1), 0);
    sqlite3 *db = dss_db_thread();
    assert_non_null(db);
    for (const char *t = "sqs_messages\0s3_objects\0ec2_instances\0ssm_invocations\0asg_instances\0"; *t;
         t += strlen(t) + 1) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'", t);
        assert_int_equal(count(db, sql), 1);
    }
    sqlite3 *w = dss_db_begin(1);
    assert_non_null(w);
    add_queue(w, "kept");
    assert_int_equal(dss_db_commit(w, 1), 0);
    assert_non_null(w = dss_db_begin(1));
    add_queue(w, "rolled-back");
    dss_db_rollback(w, 1);
    assert_non_null(w = dss_db_begin(1)); /* would block for ever if the rollback kept the lock */
    dss_db_rollback(w, 1);
    dss_db_close();

    assert_int_equal(dss_db_open(dirs[0], 1), 0);
    db = dss_db_thread();
    assert_int_equal(count(db, "SELECT count(*) FROM sqs_queues WHERE name = 'kept'"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM sqs_queues WHERE name = 'rolled-back'"), 0);
    assert_string_equal(dss_db_path(), strcat(strcpy((char[96]){0}, dirs[0]), "/dss.db"));
    dss_db_close();
}

static void *stmt_from_another_thread(void *db)
{
    return dss_db_stmt(db, "SELECT 1");
}

/* A write transaction on another thread: the connection it ran on. */
static void *write_on_another_thread(void *arg)
{
    (void)arg;
    sqlite3 *w = dss_db_begin(1);
    if (w) {
        add_queue(w, "from-another-thread");
        if (dss_db_thread() != w || dss_db_commit(w, 1) != 0)
            w = NULL;
    }
    return w;
}

/* Every write transaction runs on the one writer connection, whichever thread starts it (its
 * page cache is not emptied by other connections' commits); reads run on the thread's own, and
 * the thread's connection is its own again once the write ends. */
static void writes_share_one_connection(void **state)
{
    (void)state;
    assert_int_equal(dss_db_open(dirs[0], 0), 0);
    sqlite3 *own = dss_db_thread();
    sqlite3 *r = dss_db_begin(0);
    assert_ptr_equal(r, own);
    dss_db_rollback(r, 0);
    sqlite3 *w = dss_db_begin(1);
    assert_non_null(w);
    assert_ptr_not_equal(w, own);
    assert_ptr_equal(dss_db_thread(), w);
    assert_non_null(dss_db_stmt(w, "SELECT 1"));
    assert_null(dss_db_stmt(own, "SELECT 1")); /* not the connection in use now */
    assert_int_equal(dss_db_commit(w, 1), 0);
    assert_ptr_equal(dss_db_thread(), own);
    pthread_t t;
    void *theirs = NULL;
    assert_int_equal(pthread_create(&t, NULL, write_on_another_thread, NULL), 0);
    pthread_join(t, &theirs);
    assert_ptr_equal(theirs, w);
    assert_int_equal(count(own, "SELECT count(*) FROM sqs_queues WHERE name = 'from-another-thread'"), 1);
    dss_db_close();
}

/* One prepared statement per SQL text and connection, reset between uses; a connection is its
 * thread's own, so another thread gets nothing for it. */
static void statements_are_cached_per_connection(void **state)
{
    (void)state;
    assert_int_equal(dss_db_open(dirs[0], 0), 0);
    sqlite3 *db = dss_db_thread();
    static const char sql[] = "SELECT count(*) FROM sqs_queues";
    sqlite3_stmt *a = dss_db_stmt(db, sql);
    assert_non_null(a);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW); /* left mid-way: the next use resets it */
    assert_ptr_equal(dss_db_stmt(db, sql), a);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    pthread_t t;
    void *other = (void *)1;
    assert_int_equal(pthread_create(&t, NULL, stmt_from_another_thread, db), 0);
    pthread_join(t, &other);
    assert_null(other);
    dss_db_close();
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *data = malloc(1 << 22);
    assert_non_null(data);
    *len = fread(data, 1, 1 << 22, f);
    fclose(f);
    return data;
}

/* The image dss-schema-image makes becomes a new directory's database as it is, with the schema
 * the CREATE statements make; an existing database is never replaced by it. */
static void image_starts_a_new_directory_only(void **state)
{
    (void)state;
    char path[128];
    assert_int_equal(dss_db_write_image(dirs[1]), 0);
    snprintf(path, sizeof path, "%s/dss.db", dirs[1]);
    size_t len;
    unsigned char *image = read_file(path, &len);
    assert_true(len > 4096 && len % 4096 == 0);
    assert_memory_equal(image, "SQLite format 3", 16);

    dss_db_use_image(image, len);
    assert_int_equal(dss_db_open(dirs[2], 0), 0);
    sqlite3 *db = dss_db_thread();
    long long tables = count(db, "SELECT count(*) FROM sqlite_master");
    assert_true(tables > 20);
    dss_db_close();

    /* dirs[0] holds the queue "kept" (first test): reopened with an image, it is unchanged. */
    assert_int_equal(dss_db_open(dirs[0], 0), 0);
    db = dss_db_thread();
    assert_int_equal(count(db, "SELECT count(*) FROM sqs_queues WHERE name = 'kept'"), 1);
    assert_int_equal(count(db, "SELECT count(*) FROM sqlite_master"), tables);
    dss_db_close();
    dss_db_use_image(NULL, 0);
    free(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_persist_and_rollbacks_do_not),
        cmocka_unit_test(statements_are_cached_per_connection),
        cmocka_unit_test(writes_share_one_connection),
        cmocka_unit_test(image_starts_a_new_directory_only),
    };
    return cmocka_run_group_tests(tests, make_dirs, remove_dirs);
}
