/* test_walvfs.c -- the WAL-frame shim VFS (emulator/walvfs.c) on real files: a database written
 * through it is what SQLite itself writes (read back by the stock VFS from a copy taken while
 * the writer is still open, as a SIGKILL would leave it: no commit waits in the shim), and it
 * writes each frame with one write call instead of two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "walvfs.h"

#define COMMITS 200

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/dss-test-walvfs-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    const char *names[] = {"a.db", "a.db-wal", "b.db", "b.db-wal", "copy.db", "copy.db-wal", "copy.db-shm"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

/* The write system calls this process has made (/proc/self/io's syscw). */
static long write_calls(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "syscw: %ld", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static sqlite3 *open_db(const char *name, const char *vfs)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                      "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, body BLOB);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

/* COMMITS transactions of one 1,000-byte row each; returns the write calls they made. */
static long insert_rows(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (zeroblob(1000))", -1, &st, NULL), SQLITE_OK);
    long before = write_calls();
    for (int i = 0; i < COMMITS; i++) {
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    long made = write_calls() - before;
    sqlite3_finalize(st);
    return made;
}

static void copy_file(const char *from, const char *to)
{
    char a[128], b[128], chunk[65536];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
    assert_non_null(in);
    assert_non_null(out);
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        assert_int_equal(fwrite(chunk, 1, n, out), n);
    fclose(in);
    fclose(out);
}

static sqlite3_int64 count_rows(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    sqlite3_int64 n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void frames_are_whole_without_a_close(void **state)
{
    (void)state;
    const char *vfs = dss_walvfs_register("unix-excl");
    assert_non_null(vfs);
    assert_string_equal(dss_walvfs_register("unix-excl"), vfs); /* once per process */
    sqlite3 *db = open_db("a.db", vfs);
    insert_rows(db);
    /* The writer is still open: the files are as a SIGKILL would leave them. */
    copy_file("a.db", "copy.db");
    copy_file("a.db-wal", "copy.db-wal");
    sqlite3 *copy = open_db("copy.db", "unix");
    assert_int_equal(count_rows(copy), COMMITS);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(copy, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(copy);
    /* And the writer itself reads back what it wrote, also after a checkpoint. */
    assert_int_equal(count_rows(db), COMMITS);
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL), SQLITE_OK);
    insert_rows(db);
    assert_int_equal(count_rows(db), 2 * COMMITS);
    sqlite3_close(db);
}

static void each_frame_is_one_write(void **state)
{
    (void)state;
    const char *vfs = dss_walvfs_register("unix-excl");
    sqlite3 *shim = open_db("b.db", vfs), *plain = open_db("a.db", "unix-excl");
    long joined = insert_rows(shim), split = insert_rows(plain);
    sqlite3_close(shim);
    sqlite3_close(plain);
    /* Every commit writes frames only (synchronous=NORMAL syncs at checkpoints): two calls a
     * frame through the stock VFS, one through the shim. */
    print_message("write calls for %d commits: %ld through the shim, %ld without\n", COMMITS, joined, split);
    assert_true(joined >= COMMITS);
    assert_true(2 * joined <= split + COMMITS / 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frames_are_whole_without_a_close),
        cmocka_unit_test(each_frame_is_one_write),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
