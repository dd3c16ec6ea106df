/* instances.c -- the instance supervisor: moves EC2 instances through their lifecycle on the
 * emulator clock, keeps one worker process (dss-worker) per running instance, serves each
 * instance's metadata (IMDS), and the instance half of the control API.
 *
 * One thread. Each loop it (1) in one write transaction moves instances whose transitional
 * state is due (pending -> running, stopping -> stopped, shutting-down -> terminated, expired
 * Spot notices -> shutting-down), forgets instances terminated more than an hour ago, and
 * runs the Auto Scaling and SSM timers; (2) reaps workers that exited; (3) makes the workers
 * match the table, level-triggered: a running instance without a live worker gets one, a live
 * worker whose instance is no longer running is killed (SIGKILL to its process group). API
 * operations only change rows and poke the thread; it sleeps until the next deadline, a poke,
 * or 100 ms (the reaping interval).
 *
 * Workers are started with posix_spawn (glibc reports a failed exec as its error): their own
 * process group, working directory DATA/instances/ID/, log DATA/instances/ID.log, stdin
 * /dev/null, every other descriptor closed, default signal dispositions, and an environment
 * built from nothing: the endpoint, the region, dummy credentials, the IMDS address and the
 * instance id. A worker dies with the emulator: it asks for SIGKILL when its parent goes
 * (PR_SET_PDEATHSIG -- this thread is that parent), and exits by itself when its command poll
 * finds the emulator gone. The command a worker runs lives in a process group of its own with
 * a guard process that kills that group when the worker's end of a pipe closes, so killing a
 * worker's group never leaves a command behind.
 *
 * Restart: the emulator keeps no process across a restart. At start every instance that was
 * running is treated as rebooted: a fresh worker is started for it (its working directory is
 * kept) and SSM settles the invocations that were in progress on it as for an agent that
 * died (see ssm.c, the dead-agent setting).
 *
 * Control endpoints (JSON in and out; parameters in the query string):
 *   GET  /_dss/instances                     instances with their worker's pid and state
 *   POST /_dss/faults/spot-interrupt?instance_id=I[&notice_seconds=120]
 *        Spot interruption notice: IMDS spot/instance-action answers {"action":"terminate",
 *        "time":...}, an "EC2 Spot Instance Interruption Warning" event is logged, and when
 *        the notice expires (emulator clock) the instance is terminated and its worker killed.
 *   POST /_dss/faults/rebalance?instance_id=I     rebalance recommendation (IMDS)
 *   POST /_dss/faults/kill-worker?instance_id=I   SIGKILL the worker's process group
 *   POST /_dss/faults/pause-worker?instance_id=I, /_dss/faults/resume-worker?instance_id=I
 *   GET|POST /_dss/clock[?speed=F]            the clock's time and speed; sets the speed
 *   /_dss/clock/{register,unregister,sleep}, POST /_dss/sim/jobs   simulated mode (simclock.c)
 *   GET|POST /_dss/settings[?boot_ms=&status_ms=&shutdown_ms=&retain_ms=&spot_notice_ms=
 *            &ssm_dead_agent=timeout|missing|terminated]
 *   PUT  /_dss/imds/I/latest/api/token, GET /_dss/imds/I/latest/meta-data/...  (IMDSv2 and v1)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "db.h"
#include "ec2.h"
#include "protocol.h"
#include "simclock.h"
#include "util.h"

extern char **environ;

struct ec2_timings ec2_timings = {
    .boot_ms = 10000, .status_ms = 20000, .shutdown_ms = 5000, .retain_ms = 3600000, .spot_notice_ms = 120000};

struct worker {
    char id[20];
    pid_t pid;
    int killed;  /* we killed it: its exit is expected */
    int exited;  /* reaped */
    int status;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static int thread_running, stopping, poked, restarted;
static struct worker *workers; /* guarded by lock */
static size_t n_workers, cap_workers;
static char worker_bin[PATH_MAX + 32], shim_dir[PATH_MAX + 32];
static char imds_secret[37];

void instances_poke(void)
{
    pthread_mutex_lock(&lock);
    poked = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
}


/* ======================================================================================
 * Workers
 * ====================================================================================== */

static struct worker *worker_find(const char *id)
{
    for (size_t i = 0; i < n_workers; i++)
        if (!strcmp(workers[i].id, id))
            return &workers[i];
    return NULL;
}

static void env_add(char **env, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void env_add(char **env, int *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&env[*n], fmt, ap) >= 0)
        (*n)++;
    va_end(ap);
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

/* Starts the worker of instance id; returns its pid, or -1 after logging why. */
static pid_t worker_spawn(const char *id, const char *region)
{
    char dir[PATH_MAX], logp[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/instances/%s", dss_data_dir(), id);
    snprintf(logp, sizeof logp, "%s/instances/%s.log", dss_data_dir(), id);
    if (mkdir_p(dir)) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int port = dss_server_port();
    char *env[24] = {0};
    int n = 0;
    env_add(env, &n, "DSS_ENDPOINT=http://127.0.0.1:%d", port);
    env_add(env, &n, "AWS_ENDPOINT_URL=http://127.0.0.1:%d", port);
    env_add(env, &n, "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:%d/_dss/imds/%s/", port, id);
    env_add(env, &n, "DSS_INSTANCE_ID=%s", id);
    env_add(env, &n, "DSS_PARENT_PID=%d", (int)getpid());
    env_add(env, &n, "AWS_REGION=%s", region);
    env_add(env, &n, "AWS_DEFAULT_REGION=%s", region);
    const char *access_key, *secret_key; /* workers sign their calls (worker/sign.c) */
    dss_auth_instance_key(&access_key, &secret_key);
    env_add(env, &n, "AWS_ACCESS_KEY_ID=%s", access_key);
    env_add(env, &n, "AWS_SECRET_ACCESS_KEY=%s", secret_key);
    env_add(env, &n, "AWS_CONFIG_FILE=/dev/null");
    env_add(env, &n, "AWS_SHARED_CREDENTIALS_FILE=/dev/null");
    env_add(env, &n, "HOME=%s", dir);
    env_add(env, &n, "PWD=%s", dir);
    env_add(env, &n, "PATH=%s:/usr/local/bin:/usr/bin:/bin", shim_dir);
    env_add(env, &n, "LANG=C.UTF-8");
    env_add(env, &n, "USER=ssm-user");
    char *argv[] = {"dss-worker", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int err = posix_spawn(&pid, worker_bin, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < n; i++)
        free(env[i]);
    if (err) {
        log_error("cannot start %s for %s: %s", worker_bin, id, strerror(err));
        return -1;
    }
    return pid;
}

static void worker_kill(struct worker *w)
{
    if (w->exited || w->killed)
        return;
    w->killed = 1;
    kill(-w->pid, SIGKILL); /* the whole group; the command's guard takes its own group down */
    kill(w->pid, SIGKILL);
}

int instances_signal_worker(const char *id, int sig)
{
    pthread_mutex_lock(&lock);
    struct worker *w = worker_find(id);
    int rc = -1;
    if (w && !w->exited && !w->killed) {
        kill(-w->pid, sig);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

/* ======================================================================================
 * The loop
 * ====================================================================================== */

static int exec_sql(sqlite3 *db, const char *sql, int64_t now)
{
    sqlite3_stmt *st = dss_db_stmt(db, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

/* The next clock time a state transition or a Spot notice is due (0: none). */
static int64_t next_due(sqlite3 *db)
{
    int64_t next = 0;
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT MIN(t) FROM (SELECT MIN(due_ms) AS t FROM ec2_instances WHERE due_ms "
                                       "IS NOT NULL UNION ALL SELECT MIN(notice_ms) FROM ec2_instances INDEXED BY "
                                       "ec2_instances_notice WHERE notice_ms IS NOT NULL AND state IN ('pending', "
                                       "'running'))");
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return next;
}

/* Moves instances along; returns the next clock time something is due (0: nothing). The
 * transitions and the expired notices need a due time that has passed, so while none has they
 * are skipped: this runs at every turn of the simulated clock's barrier, and at 500 instances
 * the statements that found nothing to do were a tenth of the emulator's CPU. */
static int64_t advance(sqlite3 *db, int64_t now)
{
    int64_t next = next_due(db);
    int moved = next && next <= now;
    if (moved) {
        exec_sql(db, "UPDATE ec2_instances SET state = 'running', running_ms = ?1, state_ms = ?1, due_ms = NULL, "
                     "worker = 'none' WHERE state = 'pending' AND due_ms <= ?1", now);
        exec_sql(db, "UPDATE ec2_instances SET state = 'stopped', state_ms = ?1, due_ms = NULL "
                     "WHERE state = 'stopping' AND due_ms <= ?1", now);
        exec_sql(db, "UPDATE ec2_instances SET state = 'terminated', state_ms = ?1, due_ms = NULL "
                     "WHERE state = 'shutting-down' AND due_ms <= ?1", now);
        /* Expired Spot notices. */
        sqlite3_stmt *st = dss_db_stmt(db, "SELECT id FROM ec2_instances WHERE notice_ms <= ? "
                                           "AND state IN ('pending', 'running')");
        char ids[64][20];
        int n = 0;
        sqlite3_bind_int64(st, 1, now);
        while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(ids[n++], 20, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        for (int i = 0; i < n; i++) {
            ec2_terminate_instance(ids[i], "Server.SpotInstanceTermination",
                                   "Server.SpotInstanceTermination: Spot instance termination");
            dss_event("ec2.spot-interruption", "{\"instance_id\":\"%s\",\"action\":\"terminate\"}", ids[i]);
        }
    }
    sqlite3_stmt *st = dss_db_stmt(db, "DELETE FROM ec2_tags WHERE resource_id IN (SELECT id FROM ec2_instances "
                                       "WHERE state = 'terminated' AND state_ms + ?2 <= ?1)");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, ec2_timings.retain_ms);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = dss_db_stmt(db, "DELETE FROM ec2_instances WHERE state = 'terminated' AND state_ms + ?2 <= ?1");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, ec2_timings.retain_ms);
    int deleted = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) > 0;
    sqlite3_reset(st);
    return moved || deleted ? next_due(db) : next;
}

static int64_t min_due(int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

static int64_t tick(void)
{
    int64_t now = dss_clock_now_ms(), next = 0;
    sqlite3 *db = dss_db_begin(1);
    if (!db)
        return now + 1000;
    if (restarted) { /* the first loop after start: workers of the last run are gone */
        /* Instances that had a worker: after a crash the column still says so; a clean stop
         * reset it, but a command in progress shows that there was one. */
        sqlite3_stmt *st = dss_db_stmt(db, "SELECT id FROM ec2_instances WHERE state IN ('running', 'stopping', "
                                           "'shutting-down') AND (worker != 'none' OR id IN (SELECT instance_id "
                                           "FROM ssm_invocations WHERE status IN ('InProgress', 'Cancelling')))");
        while (st && sqlite3_step(st) == SQLITE_ROW)
            ssm_instance_gone((const char *)sqlite3_column_text(st, 0), now);
        if (st)
            sqlite3_reset(st);
        exec_sql(db, "UPDATE ec2_instances SET worker = 'none', worker_pid = NULL, cmd_pgid = NULL "
                     "WHERE worker != 'none' OR ?1 = 0", now);
        restarted = 0;
    }
    next = min_due(next, advance(db, now));
    next = min_due(next, autoscaling_tick(now));
    next = min_due(next, ssm_tick(now));
    if (dss_db_commit(db, 1))
        return now + 1000;
    return next;
}

struct want {
    char id[20];
    char region[64];
    char worker[16];
};

/* Makes the worker processes match the table. */
static void reconcile_workers(void)
{
    /* 1. Reap. */
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_workers; i++) {
        struct worker *w = &workers[i];
        if (!w->exited && waitpid(w->pid, &w->status, WNOHANG) == w->pid)
            w->exited = 1;
    }
    pthread_mutex_unlock(&lock);
    /* 2. What should run. */
    struct want *want = NULL;
    size_t n_want = 0, cap = 0;
    sqlite3 *db = dss_db_begin(0);
    if (!db)
        return;
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT id, region, worker FROM ec2_instances WHERE state = 'running'");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n_want == cap) {
            cap = cap ? 2 * cap : 64;
            struct want *g = realloc(want, cap * sizeof *g);
            if (!g)
                break;
            want = g;
        }
        snprintf(want[n_want].id, sizeof want->id, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(want[n_want].region, sizeof want->region, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(want[n_want].worker, sizeof want->worker, "%s", (const char *)sqlite3_column_text(st, 2));
        n_want++;
    }
    if (st)
        sqlite3_reset(st);
    dss_db_rollback(db, 0);
    /* 3. Kill workers whose instance is no longer running; note the ones that died. */
    struct change { char id[20]; pid_t pid; int what; } *changes = NULL; /* what: 0 gone, 1 died, 2 started */
    size_t n_changes = 0;
    changes = calloc(n_workers + n_want + 1, sizeof *changes);
    if (!changes) {
        free(want);
        return;
    }
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_workers; i++) {
        struct worker *w = &workers[i];
        int wanted = 0;
        for (size_t k = 0; k < n_want && !wanted; k++)
            wanted = !strcmp(want[k].id, w->id);
        if (!wanted)
            worker_kill(w);
    }
    size_t kept = 0;
    for (size_t i = 0; i < n_workers; i++) {
        struct worker *w = &workers[i];
        if (!w->exited) {
            workers[kept++] = *w;
            continue;
        }
        snprintf(changes[n_changes].id, 20, "%s", w->id);
        changes[n_changes++].what = w->killed ? 0 : 1;
        if (!w->killed)
            dss_event("ec2.worker-died", "{\"instance_id\":\"%s\",\"pid\":%d,\"status\":%d}", w->id, (int)w->pid,
                      w->status);
    }
    n_workers = kept;
    pthread_mutex_unlock(&lock);
    /* 4. Start the missing ones (not for an instance whose worker died: it stays impaired). */
    int port = dss_server_port();
    for (size_t k = 0; k < n_want && port; k++) {
        pthread_mutex_lock(&lock);
        int have = worker_find(want[k].id) != NULL;
        pthread_mutex_unlock(&lock);
        int died = !strcmp(want[k].worker, "dead");
        for (size_t c = 0; c < n_changes && !died; c++)
            died = changes[c].what == 1 && !strcmp(changes[c].id, want[k].id);
        if (have || died)
            continue;
        pid_t pid = worker_spawn(want[k].id, want[k].region);
        if (pid < 0)
            continue;
        pthread_mutex_lock(&lock);
        if (n_workers == cap_workers) {
            size_t nc = cap_workers ? 2 * cap_workers : 64;
            struct worker *g = realloc(workers, nc * sizeof *g);
            if (!g) {
                pthread_mutex_unlock(&lock);
                kill(-pid, SIGKILL);
                waitpid(pid, NULL, 0);
                continue;
            }
            workers = g;
            cap_workers = nc;
        }
        struct worker *w = &workers[n_workers++];
        memset(w, 0, sizeof *w);
        snprintf(w->id, sizeof w->id, "%s", want[k].id);
        w->pid = pid;
        pthread_mutex_unlock(&lock);
        snprintf(changes[n_changes].id, 20, "%s", want[k].id);
        changes[n_changes].pid = pid;
        changes[n_changes++].what = 2;
    }
    free(want);
    /* 5. Record what changed. */
    if (n_changes && (db = dss_db_begin(1))) {
        int64_t now = dss_clock_now_ms();
        for (size_t c = 0; c < n_changes; c++) {
            struct change *ch = &changes[c];
            if (ch->what == 2) {
                st = dss_db_stmt(db, "UPDATE ec2_instances SET worker = 'running', worker_pid = ?, ping_ms = NULL, "
                                     "cmd_pgid = NULL WHERE id = ?");
                sqlite3_bind_int(st, 1, ch->pid);
            } else {
                st = dss_db_stmt(db, ch->what == 1
                    ? "UPDATE ec2_instances SET worker = 'dead', worker_pid = NULL, cmd_pgid = NULL WHERE id = ?2 "
                      "AND ?1 = ?1"
                    : "UPDATE ec2_instances SET worker = 'none', worker_pid = NULL, cmd_pgid = NULL WHERE id = ?2 "
                      "AND ?1 = ?1");
                sqlite3_bind_int(st, 1, 0);
            }
            sqlite3_bind_text(st, 2, ch->id, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
            if (ch->what == 2)
                continue;
            ssm_instance_gone(ch->id, now);
            if (ch->what == 1) { /* a Spot instance whose worker died is gone for good */
                st = dss_db_stmt(db, "SELECT lifecycle FROM ec2_instances WHERE id = ?");
                sqlite3_bind_text(st, 1, ch->id, -1, SQLITE_STATIC);
                int spot = sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "spot");
                sqlite3_reset(st);
                if (spot)
                    ec2_terminate_instance(ch->id, "Server.InternalError",
                                           "Server.InternalError: Internal error on the instance");
            }
        }
        dss_db_commit(db, 1);
    }
    free(changes);
}

/* One turn of the simulated clock, once quiet: the work due now, then the barrier (returns 1 to
 * run again at once). The barrier resumes one sleeper per turn, and some turns (a workflow's
 * poll that reads and goes back to sleep) change nothing the work reads: when the clock has not
 * moved, the database has not changed and the simulated workers have had no new input since a
 * turn whose work changed nothing, the work would change nothing again, so it is skipped and its
 * answer reused. */
static int simulated_step(void)
{
    static struct { int valid; int64_t now, next; unsigned long db_gen, sim_inputs; } idle;
    if (!simclock_quiet())
        return 0;
    int64_t now = dss_clock_now_ms(), next;
    unsigned long gen = dss_db_generation(), inputs = simworkers_inputs();
    if (idle.valid && idle.now == now && idle.db_gen == gen && idle.sim_inputs == inputs) {
        next = idle.next;
    } else {
        next = tick();
        sqlite3 *db = dss_db_begin(1);
        if (db) {
            next = min_due(next, simworkers_tick(db, dss_clock_now_ms()));
            if (dss_db_commit(db, 1))
                next = 0;
        }
        idle.valid = next != 0 && dss_db_generation() == gen && simworkers_inputs() == inputs;
        idle.now = now, idle.next = next, idle.db_gen = gen, idle.sim_inputs = inputs;
    }
    return simclock_barrier(next);
}

static void *supervisor_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        poked = 0;
        pthread_mutex_unlock(&lock);
        if (dss_clock_is_simulated()) { /* simclock.h: workers without processes, the barrier */
            if (simulated_step())
                continue;
            pthread_mutex_lock(&lock);
            if (!poked && !stopping)
                pthread_cond_wait(&cond, &lock);
            continue;
        }
        int64_t next = tick();
        reconcile_workers();
        int64_t wait = 100;
        if (next) {
            int64_t w = dss_clock_wall_ms_until(next);
            if (w < wait)
                wait = w;
        }
        pthread_mutex_lock(&lock);
        if (poked || stopping || wait <= 0)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + wait * 1000000;
        until.tv_sec += ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&cond, &lock, &until);
    }
    /* Shutting down: every worker goes with us. */
    for (size_t i = 0; i < n_workers; i++)
        worker_kill(&workers[i]);
    for (size_t i = 0; i < n_workers; i++)
        if (!workers[i].exited)
            waitpid(workers[i].pid, NULL, 0);
    n_workers = 0;
    pthread_mutex_unlock(&lock);
    sqlite3 *db = dss_db_begin(1);
    if (db) {
        exec_sql(db, "UPDATE ec2_instances SET worker = 'none', worker_pid = NULL, cmd_pgid = NULL "
                     "WHERE worker != 'none' OR ?1 = 0", 0);
        dss_db_commit(db, 1);
    }
    dss_db_close_thread();
    return NULL;
}

static int64_t env_ms(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? dflt : n;
}

/* dss-worker sits next to dss-emulator; the in-worker commands in dss-worker-path/ there. */
static int find_binaries(void)
{
    const char *bin = getenv("DSS_WORKER_BIN");
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(worker_bin, sizeof worker_bin, "%s", bin && *bin ? bin : "");
    if (!worker_bin[0])
        snprintf(worker_bin, sizeof worker_bin, "%s/dss-worker", self);
    snprintf(shim_dir, sizeof shim_dir, "%s/dss-worker-path", self);
    if (access(worker_bin, X_OK))
        log_warn("no worker binary at %s: instances will run without workers", worker_bin);
    return 0;
}

int instances_start(void)
{
    ec2_timings.boot_ms = env_ms("DSS_EC2_BOOT_MS", ec2_timings.boot_ms);
    ec2_timings.status_ms = env_ms("DSS_EC2_STATUS_MS", ec2_timings.status_ms);
    ec2_timings.shutdown_ms = env_ms("DSS_EC2_SHUTDOWN_MS", ec2_timings.shutdown_ms);
    ec2_timings.retain_ms = env_ms("DSS_EC2_RETAIN_MS", ec2_timings.retain_ms);
    ec2_timings.spot_notice_ms = env_ms("DSS_EC2_SPOT_NOTICE_MS", ec2_timings.spot_notice_ms);
    uuid_string(imds_secret);
    find_binaries();
    stopping = 0;
    restarted = 1;
    if (pthread_create(&thread, NULL, supervisor_main, NULL)) {
        log_error("cannot start the instance supervisor");
        return -1;
    }
    thread_running = 1;
    return 0;
}

void instances_stop(void)
{
    if (!thread_running)
        return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    thread_running = 0;
    free(workers);
    workers = NULL;
    cap_workers = 0;
}

/* ======================================================================================
 * Control replies
 * ====================================================================================== */

int control_reply_json(struct dss_call *call, unsigned status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    dss_reply_header(call, "Content-Type", "application/json");
    dss_reply_buffer(call, status, text, text ? strlen(text) : 0);
    return 1;
}

int control_reply_error(struct dss_call *call, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", msg);
    return control_reply_json(call, status, o);
}

char *control_arg(struct dss_call *call, const char *name)
{
    const char *uri = dss_call_uri(call);
    const char *q = strchr(uri, '?');
    if (!q)
        return NULL;
    struct dss_kv *kv = NULL;
    size_t n = 0;
    char *out = NULL;
    if (form_parse(q + 1, strlen(q + 1), &kv, &n, 100) == 0) {
        const char *v = form_get(kv, n, name);
        if (v)
            out = strdup(v);
    }
    form_free(kv, n);
    return out;
}

static int reply_text(struct dss_call *call, unsigned status, const char *text)
{
    dss_reply_header(call, "Content-Type", "text/plain");
    char *copy = strdup(text);
    dss_reply_buffer(call, status, copy, copy ? strlen(copy) : 0);
    return 1;
}

/* ======================================================================================
 * Instance metadata (IMDS)
 * ====================================================================================== */

static void imds_token_sign(const char *id, long long expiry, char out[65])
{
    char text[256];
    snprintf(text, sizeof text, "%s/%s/%lld", imds_secret, id, expiry);
    sha256_hex(text, strlen(text), out);
}

struct imds_row {
    char id[20], type[64], image[32], state[32], lifecycle[16], az[80], ip[32], region[64], res[32];
    int64_t notice_ms, rebalance_ms;
    int launch_index;
};

static int imds_load(const char *id, struct imds_row *r)
{
    sqlite3 *db = dss_db_begin(0);
    if (!db)
        return -1;
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT id, instance_type, image_id, state, lifecycle, az, private_ip, "
                                       "region, reservation_id, notice_ms, rebalance_ms, launch_index "
                                       "FROM ec2_instances WHERE id = ?");
    int rc = -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *f[] = {r->id, r->type, r->image, r->state, r->lifecycle, r->az, r->ip, r->region, r->res};
        size_t sz[] = {sizeof r->id, sizeof r->type, sizeof r->image, sizeof r->state, sizeof r->lifecycle,
                       sizeof r->az, sizeof r->ip, sizeof r->region, sizeof r->res};
        for (int i = 0; i < 9; i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            snprintf(f[i], sz[i], "%s", v ? v : "");
        }
        r->notice_ms = sqlite3_column_type(st, 9) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 9);
        r->rebalance_ms = sqlite3_column_type(st, 10) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 10);
        r->launch_index = sqlite3_column_int(st, 11);
        rc = 0;
    }
    sqlite3_reset(st);
    dss_db_rollback(db, 0);
    return rc;
}

static int imds(struct dss_call *call, const char *rest)
{
    char id[20];
    const char *slash = strchr(rest, '/');
    if (!slash || slash - rest >= (long)sizeof id)
        return reply_text(call, 404, "Not Found");
    snprintf(id, sizeof id, "%.*s", (int)(slash - rest), rest);
    const char *path = slash + 1;
    struct imds_row r;
    if (imds_load(id, &r) || !strcmp(r.state, EC2_TERMINATED))
        return reply_text(call, 404, "Not Found");
    const char *method = dss_call_method(call);
    if (!strcmp(path, "latest/api/token")) {
        if (strcmp(method, "PUT"))
            return reply_text(call, 405, "Method Not Allowed");
        const char *ttl_s = dss_call_header(call, "X-aws-ec2-metadata-token-ttl-seconds");
        char *end = NULL;
        long ttl = ttl_s ? strtol(ttl_s, &end, 10) : 0;
        if (!ttl_s || *end || ttl < 1 || ttl > 21600)
            return reply_text(call, 400, "Bad Request");
        long long expiry = dss_clock_now_ms() / 1000 + ttl;
        char sig[65], token[128];
        imds_token_sign(id, expiry, sig);
        snprintf(token, sizeof token, "%lld.%s", expiry, sig);
        dss_reply_header(call, "X-aws-ec2-metadata-token-ttl-seconds", ttl_s);
        return reply_text(call, 200, token);
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply_text(call, 405, "Method Not Allowed");
    const char *token = dss_call_header(call, "X-aws-ec2-metadata-token");
    if (token) { /* IMDSv2; without a token the instance answers as IMDSv1 (HttpTokens optional) */
        char *dot;
        long long expiry = strtoll(token, &dot, 10);
        char sig[65];
        imds_token_sign(id, expiry, sig);
        if (*dot != '.' || strcmp(dot + 1, sig) || expiry < dss_clock_now_ms() / 1000)
            return reply_text(call, 401, "Unauthorized");
    }
    char text[512], when[32];
    const char *md = "latest/meta-data/";
    if (!strncmp(path, md, strlen(md))) {
        const char *k = path + strlen(md);
        if (!*k)
            return reply_text(call, 200, "ami-id\nami-launch-index\nevents/\nhostname\ninstance-id\n"
                                         "instance-life-cycle\ninstance-type\nlocal-hostname\nlocal-ipv4\n"
                                         "placement/\nreservation-id\nspot/");
        if (!strcmp(k, "instance-id")) return reply_text(call, 200, r.id);
        if (!strcmp(k, "instance-type")) return reply_text(call, 200, r.type);
        if (!strcmp(k, "ami-id")) return reply_text(call, 200, r.image);
        if (!strcmp(k, "reservation-id")) return reply_text(call, 200, r.res);
        if (!strcmp(k, "local-ipv4")) return reply_text(call, 200, r.ip);
        if (!strcmp(k, "placement/availability-zone")) return reply_text(call, 200, r.az);
        if (!strcmp(k, "placement/region")) return reply_text(call, 200, r.region);
        if (!strcmp(k, "placement/")) return reply_text(call, 200, "availability-zone\nregion");
        if (!strcmp(k, "instance-life-cycle"))
            return reply_text(call, 200, r.lifecycle[0] ? r.lifecycle : "on-demand");
        if (!strcmp(k, "ami-launch-index")) {
            snprintf(text, sizeof text, "%d", r.launch_index);
            return reply_text(call, 200, text);
        }
        if (!strcmp(k, "hostname") || !strcmp(k, "local-hostname")) {
            snprintf(text, sizeof text, "ip-%s.ec2.internal", r.ip);
            for (char *p = text + 3; *p && strncmp(p, ".ec2", 4); p++)
                if (*p == '.')
                    *p = '-';
            return reply_text(call, 200, text);
        }
        if (!strcmp(k, "spot/instance-action")) {
            if (!r.notice_ms)
                return reply_text(call, 404, "Not Found");
            iso8601_ms(r.notice_ms, when);
            memmove(when + 19, when + 23, strlen(when + 23) + 1); /* no milliseconds: 2024-01-01T00:02:00Z */
            snprintf(text, sizeof text, "{\"action\": \"terminate\", \"time\": \"%s\"}", when);
            return reply_text(call, 200, text);
        }
        if (!strcmp(k, "spot/termination-time")) {
            if (!r.notice_ms)
                return reply_text(call, 404, "Not Found");
            iso8601_ms(r.notice_ms, when);
            memmove(when + 19, when + 23, strlen(when + 23) + 1);
            return reply_text(call, 200, when);
        }
        if (!strcmp(k, "events/recommendations/rebalance")) {
            if (!r.rebalance_ms)
                return reply_text(call, 404, "Not Found");
            iso8601_ms(r.rebalance_ms, when);
            memmove(when + 19, when + 23, strlen(when + 23) + 1);
            snprintf(text, sizeof text, "{\"noticeTime\": \"%s\"}", when);
            return reply_text(call, 200, text);
        }
        return reply_text(call, 404, "Not Found");
    }
    if (!strcmp(path, "latest/dynamic/instance-identity/document")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "accountId", EC2_ACCOUNT_ID);
        cJSON_AddStringToObject(o, "architecture", "x86_64");
        cJSON_AddStringToObject(o, "availabilityZone", r.az);
        cJSON_AddStringToObject(o, "imageId", r.image);
        cJSON_AddStringToObject(o, "instanceId", r.id);
        cJSON_AddStringToObject(o, "instanceType", r.type);
        cJSON_AddStringToObject(o, "privateIp", r.ip);
        cJSON_AddStringToObject(o, "region", r.region);
        return control_reply_json(call, 200, o);
    }
    return reply_text(call, 404, "Not Found");
}

/* ======================================================================================
 * Control endpoints
 * ====================================================================================== */

static int list_instances(struct dss_call *call)
{
    sqlite3 *db = dss_db_begin(0);
    if (!db)
        return control_reply_error(call, 500, "InternalFailure", "database unavailable");
    cJSON *arr = cJSON_CreateArray();
    sqlite3_stmt *st = dss_db_stmt(db, "SELECT id, state, lifecycle, worker, worker_pid, cmd_pgid, notice_ms, asg "
                                       "FROM ec2_instances ORDER BY seq");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "instance_id", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddStringToObject(o, "state", (const char *)sqlite3_column_text(st, 1));
        cJSON_AddStringToObject(o, "lifecycle", (const char *)sqlite3_column_text(st, 2));
        cJSON_AddStringToObject(o, "worker", (const char *)sqlite3_column_text(st, 3));
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "pid", sqlite3_column_int(st, 4));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "command_pgid", sqlite3_column_int(st, 5));
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "notice_ms", (double)sqlite3_column_int64(st, 6));
        if (sqlite3_column_type(st, 7) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "asg", (const char *)sqlite3_column_text(st, 7));
        cJSON_AddItemToArray(arr, o);
    }
    if (st)
        sqlite3_reset(st);
    dss_db_rollback(db, 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "instances", arr);
    return control_reply_json(call, 200, o);
}

/* Spot interruption notice or rebalance recommendation for one instance. */
static int instance_notice(struct dss_call *call, int spot)
{
    char *id = control_arg(call, "instance_id"), *secs = control_arg(call, "notice_seconds");
    int rc;
    int64_t notice = ec2_timings.spot_notice_ms;
    if (secs) {
        char *end;
        double s = strtod(secs, &end);
        notice = *secs && !*end && s >= 0 ? (int64_t)(s * 1000) : -1;
    }
    sqlite3 *db = NULL;
    if (!id || notice < 0) {
        rc = control_reply_error(call, 400, "MissingParameter", "want instance_id (and notice_seconds >= 0)");
    } else if (!(db = dss_db_begin(1))) {
        rc = control_reply_error(call, 500, "InternalFailure", "database unavailable");
    } else {
        int64_t now = dss_clock_now_ms();
        sqlite3_stmt *st = dss_db_stmt(db, spot
            ? "UPDATE ec2_instances SET notice_ms = ?1, notice_at_ms = ?2, rebalance_ms = COALESCE(rebalance_ms, ?2) "
              "WHERE id = ?3 AND lifecycle = 'spot' AND state IN ('pending', 'running') AND notice_ms IS NULL"
            : "UPDATE ec2_instances SET rebalance_ms = ?2 WHERE id = ?3 AND state IN ('pending', 'running') "
              "AND ?1 = ?1");
        sqlite3_bind_int64(st, 1, now + notice);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        int ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) > 0;
        sqlite3_reset(st);
        dss_db_commit(db, 1);
        if (!ok) {
            rc = control_reply_error(call, 409, "IncorrectInstanceState",
                                     spot ? "%s is not a pending or running Spot instance without a notice"
                                          : "%s is not pending or running", id);
        } else {
            char when[32];
            iso8601_ms(now + notice, when);
            if (spot)
                dss_event("ec2.spot-interruption-warning",
                          "{\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":\"aws.ec2\","
                          "\"detail\":{\"instance-id\":\"%s\",\"instance-action\":\"terminate\"},"
                          "\"action_time\":\"%s\"}", id, when);
            else
                dss_event("ec2.rebalance-recommendation",
                          "{\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\","
                          "\"detail\":{\"instance-id\":\"%s\"}}", id);
            instances_poke();
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "instance_id", id);
            if (spot)
                cJSON_AddStringToObject(o, "action_time", when);
            rc = control_reply_json(call, 200, o);
        }
    }
    free(id);
    free(secs);
    return rc;
}

static int worker_fault(struct dss_call *call, const char *what)
{
    char *id = control_arg(call, "instance_id");
    int sig = !strcmp(what, "kill-worker") ? SIGKILL : !strcmp(what, "pause-worker") ? SIGSTOP : SIGCONT;
    int rc;
    if (!id) {
        rc = control_reply_error(call, 400, "MissingParameter", "want instance_id");
    } else if (dss_clock_is_simulated() ? sig != SIGKILL || simworkers_kill(id) : instances_signal_worker(id, sig)) {
        rc = control_reply_error(call, 409, "NoWorker", "%s has no live worker", id);
    } else {
        /* The command runs in a group of its own: pause and resume it too. */
        sqlite3 *db = sig != SIGKILL ? dss_db_begin(1) : NULL;
        if (db) {
            sqlite3_stmt *st = dss_db_stmt(db, "SELECT cmd_pgid FROM ec2_instances WHERE id = ?");
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 1)
                kill(-sqlite3_column_int(st, 0), sig);
            sqlite3_reset(st);
            st = dss_db_stmt(db, "UPDATE ec2_instances SET worker = ? WHERE id = ? AND worker IN ('running', 'paused')");
            sqlite3_bind_text(st, 1, sig == SIGSTOP ? "paused" : "running", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
            dss_db_commit(db, 1);
        }
        dss_event(sig == SIGKILL ? "fault.worker-killed" : sig == SIGSTOP ? "fault.worker-paused"
                                                                          : "fault.worker-resumed",
                  "{\"instance_id\":\"%s\"}", id);
        instances_poke();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "instance_id", id);
        rc = control_reply_json(call, 200, o);
    }
    free(id);
    return rc;
}

static int clock_endpoint(struct dss_call *call)
{
    char *speed = control_arg(call, "speed");
    if (speed) {
        char *end;
        double s = strtod(speed, &end);
        int bad = !*speed || *end || !(s > 0) || s > 100000;
        free(speed);
        if (bad)
            return control_reply_error(call, 400, "InvalidParameterValue", "speed must be a positive number");
        dss_clock_set_speed(s);
        dss_event("clock.speed", "{\"speed\":%g}", s);
        instances_poke();
    }
    cJSON *o = cJSON_CreateObject();
    char now[32];
    iso8601_ms(dss_clock_now_ms(), now);
    cJSON_AddNumberToObject(o, "now_ms", (double)dss_clock_now_ms());
    cJSON_AddStringToObject(o, "now", now);
    cJSON_AddNumberToObject(o, "speed", dss_clock_speed());
    return control_reply_json(call, 200, o);
}

extern int ssm_dead_agent_mode;         /* ssm.c */
extern const char *const ssm_dead_agent_names[];

static int settings_endpoint(struct dss_call *call)
{
    struct { const char *name; int64_t *v; } t[] = {
        {"boot_ms", &ec2_timings.boot_ms}, {"status_ms", &ec2_timings.status_ms},
        {"shutdown_ms", &ec2_timings.shutdown_ms}, {"retain_ms", &ec2_timings.retain_ms},
        {"spot_notice_ms", &ec2_timings.spot_notice_ms}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char *v = control_arg(call, t[i].name);
        if (!v)
            continue;
        char *end;
        long long n = strtoll(v, &end, 10);
        int bad = !*v || *end || n < 0;
        free(v);
        if (bad)
            return control_reply_error(call, 400, "InvalidParameterValue", "%s must be a number >= 0", t[i].name);
        *t[i].v = n;
        dss_event("settings", "{\"%s\":%lld}", t[i].name, n);
    }
    char *mode = control_arg(call, "ssm_dead_agent");
    if (mode) {
        int found = -1;
        for (int i = 0; ssm_dead_agent_names[i]; i++)
            if (!strcmp(mode, ssm_dead_agent_names[i]))
                found = i;
        free(mode);
        if (found < 0)
            return control_reply_error(call, 400, "InvalidParameterValue",
                                       "ssm_dead_agent must be timeout, missing or terminated");
        ssm_dead_agent_mode = found;
        dss_event("settings", "{\"ssm_dead_agent\":\"%s\"}", ssm_dead_agent_names[found]);
    }
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        cJSON_AddNumberToObject(o, t[i].name, (double)*t[i].v);
    cJSON_AddStringToObject(o, "ssm_dead_agent", ssm_dead_agent_names[ssm_dead_agent_mode]);
    return control_reply_json(call, 200, o);
}

int instances_control(struct dss_call *call)
{
    const char *path = dss_call_path(call), *method = dss_call_method(call);
    int post = !strcmp(method, "POST") || !strcmp(method, "PUT");
    if (!strncmp(path, "/_dss/imds/", 11))
        return imds(call, path + 11);
    if (!strcmp(path, "/_dss/instances"))
        return list_instances(call);
    if (!strcmp(path, "/_dss/clock"))
        return clock_endpoint(call);
    if (simclock_control(call))
        return 1;
    if (!strcmp(path, "/_dss/settings"))
        return settings_endpoint(call);
    if (!strncmp(path, "/_dss/faults/", 13) && post) {
        const char *what = path + 13;
        if (!strcmp(what, "spot-interrupt"))
            return instance_notice(call, 1);
        if (!strcmp(what, "rebalance"))
            return instance_notice(call, 0);
        if (!strcmp(what, "kill-worker") || !strcmp(what, "pause-worker") || !strcmp(what, "resume-worker"))
            return worker_fault(call, what);
    }
    if (faults_control(call))
        return 1;
    if (!strncmp(path, "/_dss/faults", 12) || !strcmp(path, "/_dss/events"))
        return control_reply_error(call, 404, "NotFound", "no such control endpoint: %s %s", method, path);
    return 0;
}
