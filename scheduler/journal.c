/* journal.c -- see journal.h.
 *
 * On the emulator's simulated clock (dss-scheduler --clock) the journal is a record, not a
 * recovery point: dss-scenario refuses scheduler_kill and emulator_restart in simulated mode, so
 * nothing ever resumes from it. There it trades durability for speed -- no fsync
 * (synchronous=OFF), a rollback journal in memory instead of a WAL (no checkpoint copying every
 * page a second time), one lock held for the whole run, and one commit per SIM_COMMIT_SLEEPS
 * sleeps on the barrier (clock.h) instead of one per loop iteration. Nobody reads the journal
 * while the lock is held (dss-scenario's look at it fails and it does without), so the commit
 * only bounds the transaction: committing at every instant of virtual time wrote the same hot
 * pages (the executions table, the end of the history) again and again -- pwrite was the
 * largest single item of dss-scheduler's CPU at 500 jobs. A big page cache keeps those pages in
 * memory between commits. A scheduler killed in that mode may leave a torn journal; in any other
 * mode nothing changes.
 */
#include "journal.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "util.h"

enum { ST_NEW, ST_HAS, ST_STATE, ST_EVENT, ST_FINISH, ST_COUNT };

struct journal {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    int in_tx;
    int simulated; /* on the emulator's clock: commits wait for a sleep (see the top) */
    int sleeps;    /* sleeps on the barrier since the last commit (simulated) */
    int no_tables; /* opened by journal_open_reader() before its run made the tables */
};

#define SIM_COMMIT_SLEEPS 1000 /* simulated: commit at every this many sleeps on the barrier */

static const char *const durable = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
static const char *const ephemeral =
    "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; "
    "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"; /* 64 MiB of pages kept between commits;
                                                            * statement journals in memory, not temp files */

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS executions("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, instance_id TEXT UNIQUE,"
    " status TEXT NOT NULL, state TEXT, input TEXT, wait_due_ms INTEGER NOT NULL DEFAULT 0,"
    " events INTEGER NOT NULL DEFAULT 0, error TEXT, cause TEXT, output TEXT,"
    " started_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS executions_status ON executions(status);"
    /* A rowid table with its key in an index of its own: as a WITHOUT ROWID table keyed on
     * (exec_id, seq) every insert compared whole rows on its way down, and a row whose data
     * (a state's input, often kilobytes) overflows its page is read in full, overflow pages
     * and all, for each comparison. 3 KiB events of 200 interleaved executions (Python's
     * sqlite3, a commit per 20): 47 against 13 us per insert. A journal made before keeps
     * its WITHOUT ROWID table, which needs no second index (history_has_rowid()). */
    "CREATE TABLE IF NOT EXISTS history("
    " exec_id INTEGER NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, type TEXT NOT NULL,"
    " state TEXT, data TEXT);";

static const char *const history_rowid_sql =
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'history' AND sql NOT LIKE '%WITHOUT ROWID%'";
static const char *const history_key = "CREATE UNIQUE INDEX IF NOT EXISTS history_key ON history(exec_id, seq)";

static const char *const sql[ST_COUNT] = {
    "INSERT INTO executions(name, instance_id, status, input, started_ms, updated_ms)"
    " VALUES(?1, ?2, 'RUNNING', ?3, ?4, ?4) ON CONFLICT DO NOTHING",
    "SELECT 1 FROM executions WHERE instance_id = ?1",
    "UPDATE executions SET state = ?2, input = ?3, wait_due_ms = ?4, events = ?5, updated_ms = ?6 WHERE id = ?1",
    "INSERT OR REPLACE INTO history(exec_id, seq, ts_ms, type, state, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    "UPDATE executions SET status = ?2, error = ?3, cause = ?4, output = ?5, events = ?6, updated_ms = ?7,"
    " wait_due_ms = 0 WHERE id = ?1",
};

static void commit_before_sleep(void *arg)
{
    struct journal *j = arg;
    if (++j->sleeps < SIM_COMMIT_SLEEPS)
        return;
    j->sleeps = 0;
    j->simulated = 0; /* journal_commit for real, once */
    journal_commit(j);
    j->simulated = 1;
}

#define BUSY_TIMEOUT_MS 5000

static struct journal *open_db(const char *path, int flags, char *err, size_t errlen)
{
    struct journal *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &j->db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open journal %s: %s", path, j->db ? sqlite3_errmsg(j->db) : "out of memory");
        journal_close(j);
        return NULL;
    }
    sqlite3_busy_timeout(j->db, BUSY_TIMEOUT_MS);
    return j;
}

/* Runs the journal's set-up SQL. Another process may have the file open at that moment
 * (`dss-scheduler executions` looking at a run that has just started), and some of these
 * statements -- switching to WAL, a read that becomes a write -- answer SQLITE_BUSY at once
 * rather than wait in the busy handler, since waiting could deadlock two writers. So a busy
 * answer is tried again, for as long as the busy timeout. */
static int exec_setup(struct journal *j, const char *sql, char **msg)
{
    int rc = SQLITE_BUSY;
    for (int waited_ms = 0; waited_ms <= BUSY_TIMEOUT_MS; waited_ms += 10) {
        sqlite3_free(*msg);
        *msg = NULL;
        rc = sqlite3_exec(j->db, sql, NULL, NULL, msg);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        sqlite3_sleep(10);
    }
    return rc;
}

/* Whether the history table is this version's (a rowid table, whose key is history_key). */
static int history_has_rowid(struct journal *j)
{
    sqlite3_stmt *st = NULL;
    int yes =
        sqlite3_prepare_v2(j->db, history_rowid_sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

struct journal *journal_open(const char *path, char *err, size_t errlen)
{
    struct journal *j = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen);
    if (!j)
        return NULL;
    j->simulated = sched_clock_on_emulator();
    char *msg = NULL;
    if (exec_setup(j, j->simulated ? ephemeral : durable, &msg) != SQLITE_OK ||
        exec_setup(j, schema, &msg) != SQLITE_OK ||
        (history_has_rowid(j) && exec_setup(j, history_key, &msg) != SQLITE_OK)) {
        snprintf(err, errlen, "journal %s: %s", path, msg ? msg : sqlite3_errmsg(j->db));
        sqlite3_free(msg);
        journal_close(j);
        return NULL;
    }
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(j->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "journal %s: %s", path, sqlite3_errmsg(j->db));
            journal_close(j);
            return NULL;
        }
    if (j->simulated)
        sched_clock_on_sleep(commit_before_sleep, j);
    return j;
}

struct journal *journal_open_reader(const char *path, char *err, size_t errlen)
{
    struct journal *j = open_db(path, SQLITE_OPEN_READONLY, err, errlen);
    if (!j)
        return NULL;
    /* A run that has just made the file may not have made its tables yet: no executions. */
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM sqlite_master WHERE name = 'executions'", -1, &s, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "journal %s: %s", path, sqlite3_errmsg(j->db));
        journal_close(j);
        return NULL;
    }
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "journal %s: %s", path, sqlite3_errmsg(j->db));
        journal_close(j);
        return NULL;
    }
    j->no_tables = rc == SQLITE_DONE;
    return j;
}

void journal_close(struct journal *j)
{
    if (!j)
        return;
    if (j->simulated)
        sched_clock_on_sleep(NULL, NULL);
    j->simulated = 0;
    if (j->in_tx)
        journal_commit(j);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(j->st[i]);
    sqlite3_close(j->db);
    free(j);
}

const char *journal_error(struct journal *j)
{
    return sqlite3_errmsg(j->db);
}

int journal_begin(struct journal *j)
{
    if (j->in_tx)
        return 0;
    if (sqlite3_exec(j->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    j->in_tx = 1;
    return 0;
}

int journal_commit(struct journal *j)
{
    if (!j->in_tx || j->simulated) /* simulated: the transaction goes on until the next sleep */
        return 0;
    j->in_tx = 0;
    if (sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("journal: commit failed: %s", sqlite3_errmsg(j->db));
        return -1;
    }
    return 0;
}

static int step_done(struct journal *j, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_error("journal: %s", sqlite3_errmsg(j->db));
        return -1;
    }
    return 0;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

int64_t journal_new_execution(struct journal *j, const char *name, const char *instance_id, const char *input,
                              int64_t now_ms)
{
    sqlite3_stmt *s = j->st[ST_NEW];
    bind_text(s, 1, name);
    bind_text(s, 2, instance_id);
    bind_text(s, 3, input);
    sqlite3_bind_int64(s, 4, now_ms);
    if (step_done(j, s))
        return -1;
    if (sqlite3_changes(j->db) == 0)
        return 0;
    return sqlite3_last_insert_rowid(j->db);
}

int journal_has_instance(struct journal *j, const char *instance_id)
{
    sqlite3_stmt *s = j->st[ST_HAS];
    bind_text(s, 1, instance_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW;
}

int journal_state(struct journal *j, int64_t id, const char *state, const char *input, int64_t wait_due_ms,
                  int64_t events, int64_t now_ms)
{
    sqlite3_stmt *s = j->st[ST_STATE];
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, state);
    bind_text(s, 3, input);
    sqlite3_bind_int64(s, 4, wait_due_ms);
    sqlite3_bind_int64(s, 5, events);
    sqlite3_bind_int64(s, 6, now_ms);
    return step_done(j, s);
}

int journal_event(struct journal *j, int64_t id, int64_t seq, int64_t ts_ms, const char *type, const char *state,
                  const char *data)
{
    sqlite3_stmt *s = j->st[ST_EVENT];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_int64(s, 3, ts_ms);
    bind_text(s, 4, type);
    bind_text(s, 5, state);
    bind_text(s, 6, data);
    return step_done(j, s);
}

int journal_finish(struct journal *j, int64_t id, const char *status, const char *error, const char *cause,
                   const char *output, int64_t events, int64_t now_ms)
{
    sqlite3_stmt *s = j->st[ST_FINISH];
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, status);
    bind_text(s, 3, error);
    bind_text(s, 4, cause);
    bind_text(s, 5, output);
    sqlite3_bind_int64(s, 6, events);
    sqlite3_bind_int64(s, 7, now_ms);
    return step_done(j, s);
}

static const char *col(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

int journal_each(struct journal *j, const char *status, void (*fn)(void *arg, const struct journal_exec *x),
                 void *arg)
{
    sqlite3_stmt *s;
    const char *q = "SELECT id, name, instance_id, status, state, input, error, cause, wait_due_ms, events,"
                    " started_ms, updated_ms FROM executions WHERE ?1 IS NULL OR status = ?1 ORDER BY id";
    if (j->no_tables)
        return 0;
    if (sqlite3_prepare_v2(j->db, q, -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_text(s, 1, status);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct journal_exec x = {sqlite3_column_int64(s, 0), col(s, 1), col(s, 2), col(s, 3), col(s, 4), col(s, 5),
                                 col(s, 6), col(s, 7), sqlite3_column_int64(s, 8), sqlite3_column_int64(s, 9),
                                 sqlite3_column_int64(s, 10), sqlite3_column_int64(s, 11)};
        fn(arg, &x);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int journal_print_history(struct journal *j, const char *which, int json, FILE *out)
{
    sqlite3_stmt *s;
    /* One execution: `which` as a name first, then as an id, then as the instance whose current
     * execution it is (after a continue-as-new, an instance's first execution keeps its name). */
    const char *q = "SELECT h.seq, h.ts_ms, h.type, h.state, h.data FROM history h JOIN"
                    " (SELECT id FROM executions WHERE name = ?1 OR CAST(id AS TEXT) = ?1 OR instance_id = ?1"
                    "  ORDER BY name = ?1 DESC, CAST(id AS TEXT) = ?1 DESC LIMIT 1) e"
                    " ON e.id = h.exec_id ORDER BY h.seq";
    if (j->no_tables)
        return -1;
    if (sqlite3_prepare_v2(j->db, q, -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_text(s, 1, which);
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        char ts[32];
        iso8601_ms(sqlite3_column_int64(s, 1), ts);
        const char *state = col(s, 3), *data = col(s, 4);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(s, 0));
            cJSON_AddStringToObject(o, "timestamp", ts);
            cJSON_AddStringToObject(o, "type", col(s, 2));
            if (state)
                cJSON_AddStringToObject(o, "state", state);
            else
                cJSON_AddNullToObject(o, "state");
            cJSON *d = data ? cJSON_Parse(data) : NULL;
            cJSON_AddItemToObject(o, "data", d ? d : cJSON_CreateNull());
            char *text = cJSON_PrintUnformatted(o);
            if (text)
                fprintf(out, "%s\n", text);
            free(text);
            cJSON_Delete(o);
        } else
            fprintf(out, "%5lld  %s  %-26s %-22s %s\n", (long long)sqlite3_column_int64(s, 0), ts, col(s, 2),
                    state ? state : "-", data ? data : "");
        n++;
    }
    sqlite3_finalize(s);
    return n ? 0 : -1;
}

/* ---- continue as new ---- */

/* Runs sql with ?1 = id and ?2 = text; 0 or -1. Rare statements: prepared each time. */
static int exec_id_text(struct journal *j, const char *sql, int64_t id, const char *text)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(j->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(s, 1, id);
    bind_text(s, 2, text);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int64_t journal_continue_execution(struct journal *j, int64_t from_id, const char *name, const char *instance_id,
                                   const char *input, int64_t now_ms)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM executions WHERE name = ?1", -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_text(s, 1, name);
    int taken = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    if (taken)
        return 0;
    /* instance_id is UNIQUE: it names the instance's current execution, so it moves. */
    if (instance_id &&
        exec_id_text(j, "UPDATE executions SET instance_id = NULL WHERE id = ?1 AND instance_id = ?2", from_id,
                     instance_id))
        return -1;
    int64_t id = journal_new_execution(j, name, instance_id, input, now_ms);
    if (id <= 0 && instance_id)
        exec_id_text(j, "UPDATE executions SET instance_id = ?2 WHERE id = ?1", from_id, instance_id);
    return id;
}

char *journal_execution_input(struct journal *j, int64_t id)
{
    sqlite3_stmt *s;
    const char *q = "SELECT data FROM history WHERE exec_id = ?1 AND type = 'ExecutionStarted' ORDER BY seq LIMIT 1";
    if (sqlite3_prepare_v2(j->db, q, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    char *text = NULL;
    if (sqlite3_step(s) == SQLITE_ROW && col(s, 0)) {
        cJSON *d = cJSON_Parse(col(s, 0));
        cJSON *in = cJSON_GetObjectItemCaseSensitive(d, "input");
        text = in ? cJSON_PrintUnformatted(in) : NULL;
        cJSON_Delete(d);
    }
    sqlite3_finalize(s);
    return text;
}
