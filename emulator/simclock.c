/* simclock.c -- simulated mode (dss-emulator --clock simulated): the barrier that moves the
 * virtual clock, and the simulated workers that stand in for dss-worker processes.
 *
 * The barrier. Clients that take part (dss-scheduler --clock, dss-scenario in simulated mode)
 * register, then ask to be woken at a virtual time T with a long poll:
 *
 *   POST /_dss/clock/register?participant=NAME     -> {"now_ms": N}
 *   POST /_dss/clock/unregister?participant=NAME
 *   GET  /_dss/clock/sleep?participant=NAME&until=T -> {"now_ms": N} once now >= T
 *
 * A sleep parks like an SQS long poll (server.c). The instance supervisor's thread runs the
 * barrier: when no call is running (every live call is parked), at least as many calls are
 * parked as there are participants (each participant is asleep or waits in a long poll; a
 * parked SQS receive counts as a sleeper until its deadline), it first runs the in-emulator
 * work due now (instances, Auto Scaling, SSM, the simulated workers), then resumes the ONE
 * parked call due by now with the earliest deadline -- one at a time, so two participants
 * woken at the same instant take turns and the order of every request is fixed -- and when
 * none is due, jumps the clock to the earliest deadline of all: its own and the parked calls'.
 * A call that arrives later than a sleeper's wake-up is simply not there yet: the participant
 * that sends it is awake (not parked), so the barrier waits for it.
 *
 * The simulated workers. A running instance gets a worker without a process: it takes the
 * instance's SSM commands one at a time like dss-worker does, and completes each at virtual
 * time start + run time with the exit code and output of the job model the runner posted:
 *
 *   POST /_dss/sim/jobs  {"jobs": [{"id": J, "runtime": s, "stdout": TEXT, "printed": bool,
 *                                   "attempts": {"N": {runtime, exit_code, stdout, printed,
 *                                                      hit, phase, at, notice}}}]}
 *
 * A command "dss-sim-job J" runs attempt n (counted per job) of job J: the entry for n in
 * "attempts" when there is one, else the job's default with "{attempt}" in stdout replaced by
 * n. "hit" (spot_interruption or worker_crash) stops the attempt at its phase (queued and
 * started: at once; running: after "at" seconds; finishing: after the run time, output made)
 * through the same paths as the control API's faults: a Spot notice of "notice" seconds, or
 * the worker's death. POST /_dss/faults/kill-worker reaches a simulated worker too. Any other
 * command fails with exit code 127 ("command not found"): simulated workers run no shell.
 * Attempts report through /_dss/events: sim.attempt.start, sim.attempt.fault, sim.attempt.end,
 * each with the virtual time in "ms".
 *
 * Limitations: models live in memory (an emulator restart forgets them, so simulated mode has
 * no emulator_restart fault); a participant that dies while registered stalls the clock (its
 * client's own time limit ends the run); wakes from commits (a message sent to a queue a receive
 * is parked on) resume at once rather than in turn.
 */
#include "simclock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "ec2/ec2.h"
#include "server.h"
#include "service.h"
#include "util.h"

#define MAX_PARTICIPANTS 16
#define SIM_OUTPUT_MAX 24000

static atomic_ulong inputs; /* simworkers_inputs(): job models posted, kill-worker faults */
#define SIM_START_MS 1767225600000LL /* 2026-01-01T00:00:00Z: every simulated run starts here */

enum sim_hit { HIT_NONE, HIT_SPOT, HIT_CRASH };
enum sim_phase { PH_QUEUED, PH_STARTED, PH_RUNNING, PH_FINISHING };

struct sim_attempt {
    int n;                 /* attempt number; 0: the job's default */
    int64_t runtime_ms;
    int exit_code;
    char *stdout_text;
    int printed;
    enum sim_hit hit;
    enum sim_phase phase;
    int64_t at_ms;
    int64_t notice_ms;     /* < 0: the emulator's default Spot notice */
};

struct sim_job {
    char *id;
    struct sim_attempt dflt;
    struct sim_attempt *over;
    int n_over;
    int attempts;          /* attempts started so far */
};

/* A command a simulated worker is running. */
struct sim_run {
    char command_id[40];
    char instance[20];
    struct sim_job *job;
    int attempt;
    const struct sim_attempt *a;
    int64_t start_ms, fault_ms, end_ms; /* fault_ms < 0: none (or fired) */
    int fault_fired;
};

static pthread_mutex_t sim_lock = PTHREAD_MUTEX_INITIALIZER;
static char participants[MAX_PARTICIPANTS][64];
static int n_participants;
static struct sim_job **jobs; /* open addressing by id */
static size_t jobs_cap, jobs_n;
static struct sim_run *runs;  /* in cmp_run order unless runs_unsorted */
static size_t n_runs, cap_runs;
static int runs_unsorted;
static char (*crashed)[20];   /* kill-worker faults waiting for the supervisor */
static size_t n_crashed;
static int64_t *running;      /* rowids of the running instances at the last reconcile, sorted */
static size_t n_running;
static int reconcile_again = 1; /* look whatever the set: the first time, or some were left over */

/* ======================================================================================
 * Job models
 * ====================================================================================== */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct sim_job **job_slot(const char *id)
{
    size_t i = hash_id(id) & (jobs_cap - 1);
    while (jobs[i] && strcmp(jobs[i]->id, id))
        i = (i + 1) & (jobs_cap - 1);
    return &jobs[i];
}

static void attempt_free(struct sim_attempt *a)
{
    free(a->stdout_text);
}

static void job_free(struct sim_job *j)
{
    attempt_free(&j->dflt);
    for (int i = 0; i < j->n_over; i++)
        attempt_free(&j->over[i]);
    free(j->over);
    free(j->id);
    free(j);
}

static int grow_jobs(void)
{
    size_t cap = jobs_cap ? jobs_cap * 2 : 1024;
    struct sim_job **old = jobs;
    size_t old_cap = jobs_cap;
    jobs = calloc(cap, sizeof(struct sim_job *));
    if (!jobs) {
        jobs = old;
        return -1;
    }
    jobs_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *job_slot(old[i]->id) = old[i];
    free(old);
    return 0;
}

static double num_or(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Reads one attempt's model over dflt (NULL: none). Returns 0, or -1 with a message in err. */
static int attempt_from_json(const cJSON *o, const struct sim_attempt *dflt, struct sim_attempt *a, char *err,
                             size_t n)
{
    memset(a, 0, sizeof *a);
    double rt = num_or(o, "runtime", dflt ? (double)dflt->runtime_ms / 1000.0 : 0);
    double code = num_or(o, "exit_code", dflt ? dflt->exit_code : 0);
    if (!(rt >= 0 && rt <= 1e9) || !(code >= 0 && code <= 255)) {
        snprintf(err, n, "runtime must be 0..1e9 seconds and exit_code 0..255");
        return -1;
    }
    a->runtime_ms = (int64_t)(rt * 1000);
    a->exit_code = (int)code;
    const char *out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "stdout"));
    a->stdout_text = strdup(out ? out : dflt && dflt->stdout_text ? dflt->stdout_text : "");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "printed");
    a->printed = pr ? cJSON_IsTrue(pr) : dflt ? dflt->printed : 1;
    a->notice_ms = -1;
    const char *hit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "hit"));
    if (hit) {
        const char *ph = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "phase"));
        static const char *const phases[] = {"queued", "started", "running", "finishing"};
        a->hit = !strcmp(hit, "spot_interruption") ? HIT_SPOT : !strcmp(hit, "worker_crash") ? HIT_CRASH : HIT_NONE;
        int found = -1;
        for (int i = 0; ph && i < 4; i++)
            if (!strcmp(ph, phases[i]))
                found = i;
        double at = num_or(o, "at", 0), notice = num_or(o, "notice", -1);
        if (a->hit == HIT_NONE || found < 0 || !(at >= 0 && at <= 1e9) || !(notice <= 86400)) {
            snprintf(err, n, "hit must be spot_interruption or worker_crash, with a phase, at >= 0 and notice");
            attempt_free(a);
            return -1;
        }
        a->phase = (enum sim_phase)found;
        a->at_ms = (int64_t)(at * 1000);
        a->notice_ms = notice >= 0 ? (int64_t)(notice * 1000) : -1;
    }
    return 0;
}

/* Replaces (or adds) the model of one job; sim_lock held. */
static int job_add(const cJSON *o, char *err, size_t n)
{
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
    if (!id || !*id || strlen(id) > 1024) {
        snprintf(err, n, "every job needs an id");
        return -1;
    }
    struct sim_job *j = calloc(1, sizeof *j);
    if (!j || !(j->id = strdup(id)) || attempt_from_json(o, NULL, &j->dflt, err, n)) {
        if (j)
            free(j->id);
        free(j);
        return -1;
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, "attempts")) {
        char *end = NULL;
        long num = a->string ? strtol(a->string, &end, 10) : 0;
        if (end && *end)
            num = 0;
        struct sim_attempt *g = realloc(j->over, (size_t)(j->n_over + 1) * sizeof *g);
        if (num < 1 || num > 100000 || !g) {
            if (g)
                j->over = g;
            snprintf(err, n, "job %s: attempts are keyed by their number (1, 2, ...)", id);
            job_free(j);
            return -1;
        }
        j->over = g;
        if (attempt_from_json(a, &j->dflt, &j->over[j->n_over], err, n)) {
            job_free(j);
            return -1;
        }
        j->over[j->n_over++].n = (int)num;
    }
    if ((jobs_n + 1) * 2 > jobs_cap && grow_jobs()) {
        job_free(j);
        snprintf(err, n, "out of memory");
        return -1;
    }
    struct sim_job **slot = job_slot(id);
    if (*slot) {
        j->attempts = (*slot)->attempts;
        job_free(*slot);
    } else {
        jobs_n++;
    }
    *slot = j;
    return 0;
}

static int jobs_endpoint(struct dss_call *call)
{
    size_t len = 0;
    const char *body = dss_call_body(call, &len);
    cJSON *doc = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "jobs"), *o;
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(doc);
        return control_reply_error(call, 400, "InvalidParameterValue", "want a JSON body {\"jobs\": [...]}");
    }
    char err[256] = "";
    int added = 0, rc = 0;
    pthread_mutex_lock(&sim_lock);
    cJSON_ArrayForEach(o, list) {
        if (job_add(o, err, sizeof err)) {
            rc = -1;
            break;
        }
        added++;
    }
    pthread_mutex_unlock(&sim_lock);
    atomic_fetch_add(&inputs, 1);
    cJSON_Delete(doc);
    if (rc)
        return control_reply_error(call, 400, "InvalidParameterValue", "jobs[%d]: %s", added, err);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "added", added);
    cJSON_AddNumberToObject(out, "jobs", (double)jobs_n);
    return control_reply_json(call, 200, out);
}

/* ======================================================================================
 * Participants and the barrier
 * ====================================================================================== */

static int participant_find(const char *name)
{
    for (int i = 0; i < n_participants; i++)
        if (!strcmp(participants[i], name))
            return i;
    return -1;
}

static int reply_now(struct dss_call *call)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "now_ms", (double)dss_clock_now_ms());
    cJSON_AddNumberToObject(o, "participants", n_participants);
    return control_reply_json(call, 200, o);
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) >= 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int register_endpoint(struct dss_call *call, int add)
{
    char *name = control_arg(call, "participant");
    int rc;
    if (!valid_name(name)) {
        rc = control_reply_error(call, 400, "InvalidParameterValue", "participant must be 1-63 of A-Z a-z 0-9 . _ -");
    } else {
        pthread_mutex_lock(&sim_lock);
        int i = participant_find(name), full = 0;
        if (add && i < 0 && n_participants < MAX_PARTICIPANTS)
            snprintf(participants[n_participants++], 64, "%s", name);
        else if (add && i < 0)
            full = 1;
        else if (!add && i >= 0)
            memmove(participants[i], participants[i + 1], (size_t)(--n_participants - i) * sizeof participants[0]);
        pthread_mutex_unlock(&sim_lock);
        rc = full ? control_reply_error(call, 409, "LimitExceeded", "at most %d participants", MAX_PARTICIPANTS)
                  : reply_now(call);
        instances_poke(); /* one fewer participant may free the barrier */
    }
    free(name);
    return rc;
}

static int sleep_endpoint(struct dss_call *call)
{
    char *name = control_arg(call, "participant"), *until = control_arg(call, "until");
    char *end = NULL;
    long long t = until ? strtoll(until, &end, 10) : 0;
    int rc;
    if (!valid_name(name) || !until || !*until || *end) {
        rc = control_reply_error(call, 400, "InvalidParameterValue", "want participant=NAME&until=EPOCH_MS");
    } else {
        char key[96];
        snprintf(key, sizeof key, "_dss:clock:%s", name);
        rc = dss_wait(call, key, (int64_t)t) == DSS_WAIT ? 1 : reply_now(call);
    }
    free(name);
    free(until);
    return rc;
}

int simclock_barrier(int64_t next_internal)
{
    unsigned parked = 0;
    pthread_mutex_lock(&sim_lock);
    int np = n_participants;
    pthread_mutex_unlock(&sim_lock);
    if (np == 0 || dss_server_busy_calls(&parked) > 0 || parked < (unsigned)np)
        return 0;
    int64_t now = dss_clock_now_ms();
    if (dss_server_resume_first_due(now))
        return 1;
    int64_t t = dss_server_next_wait();
    if (next_internal > 0 && next_internal < t)
        t = next_internal;
    if (t == INT64_MAX)
        return 0; /* everyone sleeps for ever: only a new call can change that */
    dss_clock_advance_to(t > now ? t : now + 1); /* due work has run: never spin on the same instant */
    return 1;
}

int simclock_quiet(void)
{
    unsigned parked = 0;
    pthread_mutex_lock(&sim_lock);
    int np = n_participants;
    pthread_mutex_unlock(&sim_lock);
    return np > 0 && dss_server_busy_calls(&parked) == 0 && parked >= (unsigned)np;
}

/* ======================================================================================
 * Simulated workers (run by the supervisor, inside its write transaction)
 * ====================================================================================== */

static int exec1(sqlite3 *db, const char *sql, const char *id, int64_t v)
{
    sqlite3_stmt *st = dss_db_stmt(db, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static void runs_drop_instance(const char *id)
{
    size_t k = 0;
    for (size_t i = 0; i < n_runs; i++)
        if (strcmp(runs[i].instance, id))
            runs[k++] = runs[i];
    n_runs = k;
}

/* The worker of instance id died (a kill-worker fault): as when a dss-worker dies. */
static void worker_died(sqlite3 *db, const char *id, int64_t now)
{
    exec1(db, "UPDATE ec2_instances SET worker = 'dead', worker_pid = NULL WHERE id = ?1 AND ?2 = ?2", id, 0);
    ssm_instance_gone(id, now);
    runs_drop_instance(id);
    dss_event("ec2.worker-died", "{\"instance_id\":\"%s\",\"simulated\":true}", id);
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT lifecycle FROM ec2_instances WHERE id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int spot = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "spot");
    sqlite3_reset(st);
    if (spot) /* a Spot instance whose worker died is gone for good */
        ec2_terminate_instance(id, "Server.InternalError", "Server.InternalError: Internal error on the instance");
}

/* The Spot notice the control API's spot-interrupt gives. */
static void spot_notice(sqlite3 *db, const char *id, int64_t now, int64_t notice_ms)
{
    if (notice_ms < 0)
        notice_ms = ec2_timings.spot_notice_ms;
    sqlite3_stmt *st = dss_db_stmt(db, "UPDATE ec2_instances SET notice_ms = ?1, notice_at_ms = ?2, rebalance_ms = "
                                       "COALESCE(rebalance_ms, ?2) WHERE id = ?3 AND lifecycle = 'spot' AND state IN "
                                       "('pending', 'running') AND notice_ms IS NULL");
    sqlite3_bind_int64(st, 1, now + notice_ms);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) > 0;
    sqlite3_reset(st);
    if (!ok)
        return;
    char when[32];
    iso8601_ms(now + notice_ms, when);
    dss_event("ec2.spot-interruption-warning",
              "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":\"aws.ec2\",\"detail\":"
              "{\"instance-id\":\"%s\",\"instance-action\":\"terminate\"},\"action_time\":\"%s\",\"instance_id\":\"%s\"}",
              id, when, id);
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Whether the set of running instances differs from the one at the last call. Every change a
 * worker follows (an instance starts or stops running) changes that set, so while it stays the
 * same reconcile() has nothing to do; the set is read from the state index alone (rowids). */
static int running_set_changed(sqlite3 *db)
{
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT rowid FROM ec2_instances WHERE state = 'running'");
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *g = realloc(ids, cap * sizeof *g);
            if (!g) {
                sqlite3_reset(st);
                free(ids);
                return 1;
            }
            ids = g;
        }
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    if (!st) {
        free(ids);
        return 1;
    }
    sqlite3_reset(st);
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_int64);
    int changed = n != n_running || (n && memcmp(ids, running, n * sizeof *ids));
    free(running);
    running = ids;
    n_running = n;
    return changed;
}

/* Workers come and go with their instances' state (level-triggered, like reconcile_workers),
 * looked at when the set of running instances has changed since the last time. */
static void reconcile(sqlite3 *db, int64_t now)
{
    pthread_mutex_lock(&sim_lock);
    char (*kill_ids)[20] = crashed;
    size_t n_kill = n_crashed;
    crashed = NULL;
    n_crashed = 0;
    pthread_mutex_unlock(&sim_lock);
    for (size_t i = 0; i < n_kill; i++)
        worker_died(db, kill_ids[i], now);
    free(kill_ids);
    if (!running_set_changed(db) && !reconcile_again)
        return;
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT id FROM ec2_instances WHERE state != 'running' AND worker != 'none' "
                                       "ORDER BY seq");
    char gone[64][20];
    int n = 0;
    while (st && n < 64 && sqlite3_step(st) == SQLITE_ROW)
        snprintf(gone[n++], 20, "%s", (const char *)sqlite3_column_text(st, 0));
    if (st)
        sqlite3_reset(st);
    reconcile_again = !st || n == 64; /* more than fit: the rest at the next turn */
    for (int i = 0; i < n; i++) {
        exec1(db, "UPDATE ec2_instances SET worker = 'none', worker_pid = NULL, cmd_pgid = NULL WHERE id = ?1 "
                  "AND ?2 = ?2", gone[i], 0);
        ssm_instance_gone(gone[i], now);
        runs_drop_instance(gone[i]);
    }
    /* A fresh worker registers its agent with SSM, as dss-worker does at start. */
    st = dss_db_stmt(db, "INSERT INTO ssm_agents(instance_id, agent_version, platform, registered_ms) SELECT id, "
                         "'3.3.0.0-simulated', 'Linux', ?1 FROM ec2_instances WHERE state = 'running' AND "
                         "worker = 'none' ORDER BY seq ON CONFLICT(instance_id) DO NOTHING");
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    /* Its "pid" is minus the instance's sequence number (never a real process). */
    st = dss_db_stmt(db, "UPDATE ec2_instances SET worker = 'running', worker_pid = -seq, ping_ms = ?1 "
                         "WHERE state = 'running' AND worker = 'none'");
    if (st) {
        sqlite3_bind_int64(st, 1, now);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
}

/* "dss-sim-job ID" -> ID (a new string), else NULL. */
static char *sim_job_id(const char *params_json)
{
    cJSON *p = cJSON_Parse(params_json);
    const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(p, "commands");
    const char *c = cJSON_GetStringValue(cJSON_GetArrayItem(cmds, 0));
    char *id = NULL;
    if (cJSON_GetArraySize(cmds) == 1 && c && !strncmp(c, "dss-sim-job ", 12) && c[12])
        id = strdup(c + 12);
    cJSON_Delete(p);
    return id;
}

/* Runs in the order they come due: (time of the fault or else of the end, command id, instance). */
static int cmp_run(const void *a, const void *b)
{
    const struct sim_run *x = a, *y = b;
    int64_t dx = x->fault_ms >= 0 ? x->fault_ms : x->end_ms, dy = y->fault_ms >= 0 ? y->fault_ms : y->end_ms;
    if (dx != dy)
        return dx < dy ? -1 : 1;
    int c = strcmp(x->command_id, y->command_id);
    return c ? c : strcmp(x->instance, y->instance);
}

/* Adds a run where it belongs in that order (at the end while the order is broken: due_runs
 * sorts then), so that the barrier's every turn needs no sort and stops at the first run not due. */
static int add_run(const struct sim_run *r)
{
    if (n_runs == cap_runs) {
        size_t nc = cap_runs ? cap_runs * 2 : 256;
        struct sim_run *g = realloc(runs, nc * sizeof *g);
        if (!g)
            return -1;
        runs = g;
        cap_runs = nc;
    }
    size_t lo = 0, hi = n_runs;
    while (!runs_unsorted && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_run(&runs[mid], r) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (runs_unsorted)
        lo = n_runs;
    memmove(&runs[lo + 1], &runs[lo], (n_runs - lo) * sizeof *runs);
    runs[lo] = *r;
    n_runs++;
    return 0;
}

static const struct sim_attempt *attempt_model(const struct sim_job *j, int n)
{
    for (int i = 0; i < j->n_over; i++)
        if (j->over[i].n == n)
            return &j->over[i];
    return &j->dflt;
}

/* Ends a command on its instance: the SSM invocation gets the status, code and output. */
static void finish_command(sqlite3 *db, const char *cid, const char *instance, int code, const char *out,
                           int64_t now)
{
    sqlite3_stmt *st = dss_db_stmt(db, "UPDATE ssm_invocations SET status = ?1, details = ?1, response_code = ?2, "
                                       "stdout = ?3, stderr = ?4, end_ms = ?5 WHERE command_id = ?6 AND "
                                       "instance_id = ?7 AND status IN ('InProgress', 'Cancelling')");
    sqlite3_bind_text(st, 1, code ? "Failed" : "Success", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, code);
    sqlite3_bind_text(st, 3, out, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, code == 127 ? "sh: 1: command not found (simulated worker)\n" : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_text(st, 6, cid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, instance, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* Each idle worker takes its instance's next Pending command (instances in launch order). The
 * query starts from the Pending invocations (ssm.c's status index), not from the running
 * instances: it runs at every turn of the barrier, when there are usually none, while 500
 * running instances cost 1,000 index probes a turn. Rows come grouped by instance, the
 * instance's oldest command first; the rest of its group waits for its worker. */
static void take_commands(sqlite3 *db, int64_t now)
{
    sqlite3_stmt *st = dss_db_stmt(db,
        "SELECT i.id, i.worker_pid, v.command_id FROM ssm_invocations v JOIN ec2_instances i ON i.id = "
        "v.instance_id WHERE v.status = 'Pending' AND i.state = 'running' AND i.worker = 'running' AND NOT EXISTS "
        "(SELECT 1 FROM ssm_invocations w WHERE w.instance_id = i.id AND w.status IN ('InProgress', 'Cancelling') "
        "AND w.worker_pid = i.worker_pid) ORDER BY i.seq, v.seq");
    struct take { char id[20], cid[40]; int64_t pid; } *take = NULL;
    size_t n = 0, cap = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n && !strcmp(take[n - 1].id, (const char *)sqlite3_column_text(st, 0)))
            continue; /* one command at a time per worker */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct take *g = realloc(take, cap * sizeof *g);
            if (!g)
                break;
            take = g;
        }
        snprintf(take[n].id, sizeof take->id, "%s", (const char *)sqlite3_column_text(st, 0));
        take[n].pid = sqlite3_column_int64(st, 1);
        snprintf(take[n].cid, sizeof take->cid, "%s", (const char *)sqlite3_column_text(st, 2));
        n++;
    }
    if (st)
        sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        st = dss_db_stmt(db, "UPDATE ssm_invocations SET status = 'InProgress', details = 'InProgress', start_ms = ?1, "
                             "worker_pid = ?2 WHERE command_id = ?3 AND instance_id = ?4");
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, take[i].pid);
        sqlite3_bind_text(st, 3, take[i].cid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, take[i].id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        st = dss_db_stmt(db, "SELECT params FROM ssm_commands WHERE id = ?");
        sqlite3_bind_text(st, 1, take[i].cid, -1, SQLITE_STATIC);
        char *job_id = sqlite3_step(st) == SQLITE_ROW ? sim_job_id((const char *)sqlite3_column_text(st, 0)) : NULL;
        sqlite3_reset(st);
        pthread_mutex_lock(&sim_lock);
        struct sim_job *j = job_id && jobs_cap ? *job_slot(job_id) : NULL;
        pthread_mutex_unlock(&sim_lock);
        if (!j) {
            finish_command(db, take[i].cid, take[i].id, 127, "", now);
            free(job_id);
            continue;
        }
        struct sim_run r = {.job = j, .attempt = ++j->attempts, .start_ms = now, .fault_ms = -1};
        snprintf(r.command_id, sizeof r.command_id, "%s", take[i].cid);
        snprintf(r.instance, sizeof r.instance, "%s", take[i].id);
        r.a = attempt_model(j, r.attempt);
        r.end_ms = now + r.a->runtime_ms;
        if (r.a->hit != HIT_NONE)
            r.fault_ms = now + (r.a->phase == PH_RUNNING ? r.a->at_ms : r.a->phase == PH_FINISHING ? r.a->runtime_ms : 0);
        dss_event("sim.attempt.start", "{\"job\":\"%s\",\"attempt\":%d,\"instance_id\":\"%s\",\"ms\":%lld}", j->id,
                  r.attempt, r.instance, (long long)now);
        add_run(&r);
        free(job_id);
    }
    free(take);
}

/* Fires the faults and completions due by now, in (time, command id) order. */
static void due_runs(sqlite3 *db, int64_t now)
{
    if (runs_unsorted && n_runs > 1)
        qsort(runs, n_runs, sizeof *runs, cmp_run);
    runs_unsorted = 0;
    for (size_t i = 0; i < n_runs;) {
        struct sim_run *r = &runs[i];
        if (!r->fault_fired && (r->fault_ms >= 0 ? r->fault_ms : r->end_ms) > now)
            break; /* sorted: nothing after it is due either */
        if (r->fault_ms >= 0 && r->fault_ms <= now) {
            static const char *const phases[] = {"queued", "started", "running", "finishing"};
            char inst[20];
            snprintf(inst, sizeof inst, "%s", r->instance);
            r->fault_ms = -1;
            r->fault_fired = 1;
            runs_unsorted = 1; /* its place in the order moved (to its end time) */
            dss_event("sim.attempt.fault", "{\"job\":\"%s\",\"attempt\":%d,\"instance_id\":\"%s\",\"ms\":%lld,"
                      "\"fault\":\"%s\",\"phase\":\"%s\"}", r->job->id, r->attempt, inst, (long long)now,
                      r->a->hit == HIT_SPOT ? "spot_interruption" : "worker_crash", phases[r->a->phase]);
            if (r->a->hit == HIT_SPOT) {
                spot_notice(db, inst, now, r->a->notice_ms);
                i++; /* the attempt waits to die with its instance */
            } else {
                worker_died(db, inst, now); /* drops this run: look at index i again */
            }
            continue;
        }
        if (!r->fault_fired && r->fault_ms < 0 && r->end_ms <= now) {
            char *out = NULL;
            const char *tmpl = r->a->stdout_text ? r->a->stdout_text : "";
            const char *mark = strstr(tmpl, "{attempt}");
            if (mark && asprintf(&out, "%.*s%d%s", (int)(mark - tmpl), tmpl, r->attempt, mark + 9) < 0)
                out = NULL;
            const char *text = out ? out : tmpl;
            size_t len = strlen(text);
            char *cut = len > SIM_OUTPUT_MAX ? strndup(text, SIM_OUTPUT_MAX) : NULL;
            finish_command(db, r->command_id, r->instance, r->a->exit_code, cut ? cut : text, now);
            dss_event("sim.attempt.end", "{\"job\":\"%s\",\"attempt\":%d,\"instance_id\":\"%s\",\"ms\":%lld,"
                      "\"exit_code\":%d,\"success_printed\":%s,\"output_bytes\":%zu}", r->job->id, r->attempt,
                      r->instance, (long long)now, r->a->exit_code, r->a->printed ? "true" : "false", len);
            free(out);
            free(cut);
            memmove(r, r + 1, (n_runs - i - 1) * sizeof *r);
            n_runs--;
            continue;
        }
        i++;
    }
}

int64_t simworkers_tick(sqlite3 *db, int64_t now)
{
    reconcile(db, now);
    take_commands(db, now);
    due_runs(db, now);
    int64_t next = 0;
    for (size_t i = 0; i < n_runs; i++) {
        int64_t t = runs[i].fault_ms >= 0 ? runs[i].fault_ms : runs[i].fault_fired ? 0 : runs[i].end_ms;
        if (t > 0 && (!next || t < next))
            next = t;
    }
    return next;
}

unsigned long simworkers_inputs(void)
{
    return atomic_load(&inputs);
}

int simworkers_kill(const char *instance_id)
{
    sqlite3 *db = dss_db_begin(0);
    int alive = 0;
    if (db) {
        sqlite3_stmt *st = dss_db_stmt(db, "SELECT 1 FROM ec2_instances WHERE id = ? AND worker = 'running'");
        sqlite3_bind_text(st, 1, instance_id, -1, SQLITE_STATIC);
        alive = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        dss_db_rollback(db, 0);
    }
    if (!alive)
        return -1;
    pthread_mutex_lock(&sim_lock);
    char (*g)[20] = realloc(crashed, (n_crashed + 1) * sizeof *g);
    if (g) {
        crashed = g;
        snprintf(crashed[n_crashed++], 20, "%s", instance_id);
    }
    pthread_mutex_unlock(&sim_lock);
    atomic_fetch_add(&inputs, 1);
    instances_poke();
    return g ? 0 : -1;
}

/* ======================================================================================
 * Setup and the control API
 * ====================================================================================== */

void simclock_init(void)
{
    dss_clock_init_simulated(SIM_START_MS);
    dss_server_idle_hook = instances_poke;
}

int simclock_control(struct dss_call *call)
{
    const char *path = dss_call_path(call), *method = dss_call_method(call);
    int post = !strcmp(method, "POST") || !strcmp(method, "PUT");
    if (strncmp(path, "/_dss/clock/", 12) && strncmp(path, "/_dss/sim/", 10))
        return 0;
    if (!dss_clock_is_simulated())
        return control_reply_error(call, 409, "NotSimulated", "%s needs dss-emulator --clock simulated", path);
    if (!strcmp(path, "/_dss/clock/register") && post)
        return register_endpoint(call, 1);
    if (!strcmp(path, "/_dss/clock/unregister") && post)
        return register_endpoint(call, 0);
    if (!strcmp(path, "/_dss/clock/sleep"))
        return sleep_endpoint(call);
    if (!strcmp(path, "/_dss/sim/jobs") && post)
        return jobs_endpoint(call);
    return control_reply_error(call, 404, "NotFound", "no such control endpoint: %s %s", method, path);
}

void simclock_cleanup(void)
{
    pthread_mutex_lock(&sim_lock);
    for (size_t i = 0; i < jobs_cap; i++)
        if (jobs[i])
            job_free(jobs[i]);
    free(jobs);
    jobs = NULL;
    jobs_cap = jobs_n = 0;
    free(runs);
    runs = NULL;
    n_runs = cap_runs = 0;
    runs_unsorted = 0;
    free(crashed);
    crashed = NULL;
    n_crashed = 0;
    free(running);
    running = NULL;
    n_running = 0;
    reconcile_again = 1;
    pthread_mutex_unlock(&sim_lock);
}
