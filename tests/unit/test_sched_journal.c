/* test_sched_journal.c -- the scheduler journal's history table, in a real SQLite file.
 *
 * A new journal keeps history in a rowid table keyed by the history_key index; a journal made
 * by an earlier version has a WITHOUT ROWID history table, which must go on working as it is
 * (events recorded, replaced and printed in order) and get no second index.
 */
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

#include "journal.h"

static char path[64];

static int make_path(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/dss-test-journal-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path); /* journal_open makes the file */
    return 0;
}

static int remove_files(void **state)
{
    (void)state;
    char other[80];
    unlink(path);
    snprintf(other, sizeof other, "%s-wal", path);
    unlink(other);
    snprintf(other, sizeof other, "%s-shm", path);
    unlink(other);
    return 0;
}

/* How many rows `sql` gives on a connection of its own (the journal is closed by then). */
static int count_rows(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        n++;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Records events 1..n of one execution (event 2 twice: the second replaces the first) with
 * 3 KiB of data each, so rows overflow their pages, and checks the printed history. */
static void record_and_print(int n)
{
    char err[256];
    struct journal *j = journal_open(path, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(journal_begin(j), 0);
    int64_t id = journal_new_execution(j, "x1", "i-1", "{}", 1000);
    assert_true(id > 0);
    char *data = malloc(3074);
    assert_non_null(data);
    for (int seq = 1; seq <= n; seq++) {
        snprintf(data, 3074, "\"%03d%03000d\"", seq, 0);
        assert_int_equal(journal_event(j, id, seq, 1000 + seq, seq == 1 ? "ExecutionStarted" : "PassStateEntered",
                                       "S", data), 0);
        if (seq == 2)
            assert_int_equal(journal_event(j, id, 2, 1002, "PassStateExited", "S", data), 0);
    }
    free(data);
    assert_int_equal(journal_commit(j), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(journal_print_history(j, "x1", 1, f), 0);
    fclose(f);
    int lines = 0;
    for (char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, n);
    assert_non_null(strstr(text, "PassStateExited"));     /* event 2 replaced */
    assert_null(strstr(strstr(text, "\n") + 1, "ExecutionStarted"));
    assert_true(strstr(text, "\"001") < strstr(text, "\"002") && strstr(text, "\"002") < strstr(text, "\"040"));
    free(text);
    journal_close(j);
}

static void test_new_journal_keys_history_by_index(void **state)
{
    (void)state;
    record_and_print(40);
    assert_int_equal(count_rows("SELECT 1 FROM sqlite_schema WHERE name = 'history_key'"), 1);
    assert_int_equal(count_rows("SELECT 1 FROM sqlite_schema WHERE name = 'history' AND sql LIKE '%WITHOUT ROWID%'"), 0);
    /* Reopening changes nothing. */
    char err[256];
    struct journal *j = journal_open(path, err, sizeof err);
    assert_non_null(j);
    journal_close(j);
    assert_int_equal(count_rows("SELECT 1 FROM history"), 40);
}

static void test_earlier_journal_keeps_its_table(void **state)
{
    (void)state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE history(exec_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
                                  " ts_ms INTEGER NOT NULL, type TEXT NOT NULL, state TEXT, data TEXT,"
                                  " PRIMARY KEY(exec_id, seq)) WITHOUT ROWID;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    record_and_print(40);
    assert_int_equal(count_rows("SELECT 1 FROM sqlite_schema WHERE name = 'history_key'"), 0);
    assert_int_equal(count_rows("SELECT 1 FROM history"), 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_journal_keys_history_by_index, make_path, remove_files),
        cmocka_unit_test_setup_teardown(test_earlier_journal_keeps_its_table, make_path, remove_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
