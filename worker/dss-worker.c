/* dss-worker -- plays one EC2 instance and its SSM agent.
 *
 * Started by dss-emulator's instance supervisor when an instance reaches running, in its own
 * process group and working directory, with everything it needs in its environment:
 * DSS_ENDPOINT, DSS_INSTANCE_ID, DSS_PARENT_PID, AWS_REGION, the key pair it signs every
 * request with (sign.c) and the instance's IMDS address. Like the real agent it registers (SSM UpdateInstanceInformation),
 * then long-polls for messages (GetMessages, which parks in the emulator up to 20 s, so an
 * idle worker costs one parked request and no CPU), runs each command document with /bin/sh
 * (AWS-RunShellScript: all commands of one invocation in one script, in order, so cd and
 * variables persist) or pwsh (AWS-RunPowerShellScript, when installed), enforces
 * executionTimeout (wall-clock seconds), keeps polling while a command runs so a cancel
 * arrives, and reports stdout, stderr and the exit code (SendReply). A command sent with
 * OutputS3BucketName has all of its stdout and stderr spooled to unlinked temporary files and
 * uploaded there (S3 PutObject, s3req.c) before the reply, as the agent does.
 *
 * A command runs in a process group of its own, led by a guard process that waits on a pipe
 * only this worker holds: whenever the worker ends -- killed with SIGKILL with its instance,
 * crashed, or exited -- the pipe closes and the guard kills the command's whole group, so no
 * command outlives its instance. The worker itself dies with the emulator (PR_SET_PDEATHSIG)
 * and exits when its polls find the emulator gone for 5 seconds.
 *
 * Cost per command, which decides how many jobs a shared 2-core machine runs (scale-10k: 200
 * workers): the guard is a clone(CLONE_VM) and the shell a posix_spawn, so nothing copies this
 * process's page tables; the loop sleeps until output, the shell's exit (a pidfd) or a poll
 * answer arrives; and the calls keep their two keep-alive connections to the emulator.
 * tests/bench/ssm-commands measures it.
 */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "s3req.h"
#include "sign.h"

#define AGENT_VERSION "3.3.0.0-dss"
#define OUTPUT_KEEP (24000 * 4) /* bytes: 24,000 characters of UTF-8 at most */
#define GONE_AFTER_MS 5000
#define POLL_TIMEOUT_S 90

extern char **environ;

static const char *endpoint, *instance_id;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    fprintf(stderr, "%s dss-worker[%d] %s: ", when, (int)getpid(), instance_id ? instance_id : "-");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- HTTP: JSON 1.1 calls to the emulator ---- */

/* One call on a borrowed easy handle. The two handles (blocking calls, the command poll) live
 * as long as the worker, so each keeps its keep-alive connection to the emulator: a job's
 * calls cost no TCP connect and no new connection in the emulator. */
struct call {
    CURL *easy; /* borrowed */
    struct curl_slist *headers;
    char *request;
    struct curl_sink response;
};

static CURL *sync_easy, *poll_easy;

static void call_cleanup(struct call *c)
{
    curl_slist_free_all(c->headers);
    free(c->request);
    free(c->response.data);
    memset(c, 0, sizeof *c);
}

/* Prepares a call of target ("AmazonSSM.UpdateInstanceInformation") with body (taken) on
 * easy, which keeps its connection but nothing of the previous call. */
static int call_init(struct call *c, CURL *easy, const char *target, cJSON *body, long timeout_s)
{
    memset(c, 0, sizeof *c);
    c->response.max = 16u << 20; /* an answer past that is no emulator's */
    c->request = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    char hdr[256];
    c->easy = easy;
    if (!c->easy || !c->request)
        return -1;
    curl_easy_reset(c->easy);
    snprintf(hdr, sizeof hdr, "X-Amz-Target: %s", target);
    c->headers = curl_slist_append(c->headers, hdr);
    c->headers = curl_slist_append(c->headers, "Content-Type: application/x-amz-json-1.1");
    c->headers = curl_slist_append(c->headers, "Expect:");
    const char *region = getenv("AWS_REGION");
    char hash[65];
    worker_sha256_hex(c->request, strlen(c->request), hash);
    if (worker_sign(&c->headers, "POST", endpoint, strncmp(target, "AmazonSSM", 9) ? "ec2messages" : "ssm",
                    region ? region : "us-east-1", hash))
        return -1;
    curl_easy_setopt(c->easy, CURLOPT_URL, endpoint);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->request);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, curl_sink_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &c->response);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROXY, "");
    return 0;
}

static int64_t gone_since; /* first failure in a row, 0 when the emulator answers */

static int emulator_gone(int failed)
{
    if (!failed) {
        gone_since = 0;
        return 0;
    }
    if (!gone_since)
        gone_since = mono_ms();
    return mono_ms() - gone_since > GONE_AFTER_MS;
}

/* A blocking call; returns the parsed answer of a 200, else NULL. */
static cJSON *call_sync(const char *target, cJSON *body)
{
    struct call c;
    cJSON *out = NULL;
    if (call_init(&c, sync_easy, target, body, 30) == 0 && curl_easy_perform(c.easy) == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &status);
        if (status == 200)
            out = cJSON_Parse(c.response.data ? c.response.data : "{}");
        else
            logf_("%s: HTTP %ld %s", target, status, c.response.data ? c.response.data : "");
    }
    call_cleanup(&c);
    return out;
}

/* ---- The command ---- */

struct command {
    int active;
    char id[64];
    pid_t shell, guard;
    int out_fd, err_fd, guard_w;
    int pidfd; /* the shell's: readable once it has exited (-1: not available) */
    struct curl_sink out, err;
    int64_t deadline_ms;   /* wall clock */
    const char *ending;    /* NULL while running normally: "TimedOut", "Cancelled" */
    int exit_code, exited;
    int64_t exited_at;
    /* OutputS3BucketName: the whole of stdout and stderr, spooled to unlinked files, go there
     * as KEY_PREFIX/stdout and KEY_PREFIX/stderr (the step's folder, which the emulator names)
     * when the command ends (upload_output). */
    char bucket[64], key_prefix[1300];
    FILE *spool_out, *spool_err;
};

static struct command cmd = {.out_fd = -1, .err_fd = -1, .guard_w = -1, .pidfd = -1};

static void keep_output(struct curl_sink *b, const char *p, size_t n)
{
    if (b->len >= OUTPUT_KEEP)
        return;
    if (n > OUTPUT_KEEP - b->len)
        n = OUTPUT_KEEP - b->len;
    curl_sink_write((char *)p, 1, n, b);
}

static int find_on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], full[4200];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, path);
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (access(full, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static void report(const char *status, int code);

/* Appends the agent's own text to the command's stderr: what the reply carries (past the cap
 * on the command's own output) and, with an output bucket, what is uploaded. */
static void agent_stderr(const char *text)
{
    size_t n = strlen(text);
    curl_sink_write((char *)text, 1, n, &cmd.err);
    if (cmd.spool_err)
        fwrite(text, 1, n, cmd.spool_err);
}

/* The command could not start: reports it Failed with the agent's message. */
static void start_failed(const char *msg)
{
    agent_stderr(msg);
    report("Failed", 1);
}

/* The guard's stack: one guard at a time, reaped before the next command starts. */
static char guard_stack[64 * 1024] __attribute__((aligned(16)));

/* The guard process (arg: the read end of a pipe only the worker writes): leads the command's
 * process group and SIGKILLs it when the pipe closes, i.e. when the worker ends. It is started
 * with clone(CLONE_VM) rather than fork: it shares the worker's memory, so no page tables are
 * copied (a fork of this process costs about 3.5 ms of CPU on the 2-core machine, per command).
 * Sharing memory means it may only make raw system calls: no allocation, no stdio, no libc or
 * sanitizer wrapper that keeps state (the wrappers' errno would even be the worker's). Its own
 * file table (no CLONE_FILES) lets it close everything but the pipe, and its own signal
 * dispositions (no CLONE_SIGHAND) let it ignore SIGTERM. */
__attribute__((no_sanitize("address", "undefined"))) static int guard_main(void *arg)
{
    long keep = *(const int *)arg; /* nothing else: a held write end would keep the output pipes open */
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } ignore = {SIG_IGN, 0, NULL, 0};
    syscall(SYS_setpgid, 0L, 0L);
    syscall(SYS_rt_sigaction, (long)SIGTERM, &ignore, NULL, (long)sizeof ignore.mask);
    if (keep > 3)
        syscall(SYS_close_range, 3L, keep - 1, 0L);
    syscall(SYS_close_range, keep + 1, 0xffffffffL, 0L);
    char b;
    while (syscall(SYS_read, keep, &b, 1L) < 0) /* never, in fact: SIGTERM is ignored, a stop restarts it */
        ;
    syscall(SYS_kill, 0L, (long)SIGKILL);
    return 0;
}

/* Starts the command document; on a failure to start reports it at once. */
static void command_start(const cJSON *payload)
{
    const char *cid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "CommandId"));
    const char *doc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "DocumentName"));
    const char *wd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "WorkingDirectory"));
    const cJSON *cmds = cJSON_GetObjectItemCaseSensitive(payload, "Commands"), *c;
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(payload, "ExecutionTimeout");
    if (!cid)
        return;
    memset(&cmd, 0, sizeof cmd);
    cmd.out_fd = cmd.err_fd = cmd.guard_w = cmd.pidfd = -1;
    snprintf(cmd.id, sizeof cmd.id, "%s", cid);
    cmd.active = 1;
    int pwsh = doc && !strcmp(doc, "AWS-RunPowerShellScript");
    const char *bucket = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "OutputS3BucketName"));
    const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "OutputS3StepPrefix"));
    if (bucket && *bucket && prefix) {
        snprintf(cmd.bucket, sizeof cmd.bucket, "%s", bucket);
        snprintf(cmd.key_prefix, sizeof cmd.key_prefix, "%s", prefix);
        cmd.spool_out = tmpfile();
        cmd.spool_err = tmpfile();
    }
    if (pwsh && !find_on_path("pwsh")) {
        start_failed("AWS-RunPowerShellScript needs PowerShell, but pwsh is not installed on this "
                     "instance (dss worker).\nfailed to run commands: exit status 1\n");
        return;
    }
    if (wd && *wd) {
        struct stat sb;
        if (stat(wd, &sb) || !S_ISDIR(sb.st_mode)) {
            char msg[600];
            snprintf(msg, sizeof msg, "Invalid workingDirectory %.400s, directory doesn't exist.\n"
                                      "failed to run commands: exit status 1\n", wd);
            start_failed(msg);
            return;
        }
    }
    /* One script: the commands in order, as the agent writes them to _script.sh. */
    size_t len = 1;
    cJSON_ArrayForEach(c, cmds) if (cJSON_IsString(c)) len += strlen(c->valuestring) + 1;
    char *script = calloc(1, len);
    if (!script) {
        start_failed("out of memory\n");
        return;
    }
    cJSON_ArrayForEach(c, cmds) {
        if (!cJSON_IsString(c))
            continue;
        strcat(script, c->valuestring);
        strcat(script, "\n");
    }
    cmd.deadline_ms = mono_ms() + (int64_t)(cJSON_IsNumber(to) ? to->valuedouble : 3600) * 1000;
    int out[2], err[2], guard[2];
    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(guard, O_CLOEXEC)) {
        free(script);
        start_failed("cannot create pipes\n");
        return;
    }
    /* The guard: leader of the command's group; kills it when the worker goes. */
    static int guard_fd; /* the guard's argument: static, as the guard reads it after this frame may be gone */
    guard_fd = guard[0];
    pid_t g = clone(guard_main, guard_stack + sizeof guard_stack, CLONE_VM | SIGCHLD, &guard_fd);
    if (g < 0) {
        free(script);
        close(out[0]), close(out[1]), close(err[0]), close(err[1]), close(guard[0]), close(guard[1]);
        start_failed("cannot start the command's guard process\n");
        return;
    }
    setpgid(g, g);
    close(guard[0]);
    cmd.guard = g;
    cmd.guard_w = guard[1];
    /* posix_spawn (vfork and exec) rather than fork: a fork copies this process's page tables
     * (libcurl and its TLS libraries) only for exec to drop them, about 3.5 ms of CPU per command
     * on the 2-core machine. The shell joins the guard's group; SIGPIPE is back to default
     * (the worker ignores it); only 0, 1 and 2 stay open. */
    char *argv_sh[] = {"/bin/sh", "-c", script, NULL};
    char *argv_ps[] = {"pwsh", "-NoProfile", "-NonInteractive", "-Command", script, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (wd && *wd)
        posix_spawn_file_actions_addchdir_np(&fa, wd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, g);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int e = pwsh ? posix_spawnp(&pid, "pwsh", &fa, &attr, argv_ps, environ)
                 : posix_spawn(&pid, "/bin/sh", &fa, &attr, argv_sh, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(script);
    close(out[1]);
    close(err[1]);
    if (e) { /* exec or chdir failed: glibc reports it here, and the child is gone */
        close(out[0]);
        close(err[0]);
        char msg[256];
        snprintf(msg, sizeof msg, "failed to run commands: %s\n", strerror(e));
        kill(-g, SIGKILL);
        waitpid(g, NULL, 0);
        close(cmd.guard_w);
        cmd.guard_w = -1;
        start_failed(msg);
        return;
    }
    cmd.shell = pid;
    cmd.pidfd = pidfd_open(pid, 0); /* wakes the loop when the shell exits; -1: poll every 5 ms */
    cmd.out_fd = out[0];
    cmd.err_fd = err[0];
    fcntl(cmd.out_fd, F_SETFL, O_NONBLOCK);
    fcntl(cmd.err_fd, F_SETFL, O_NONBLOCK);
    cJSON *ack = cJSON_CreateObject();
    cJSON_AddStringToObject(ack, "MessageId", cmd.id);
    cJSON_AddStringToObject(ack, "Destination", instance_id);
    cJSON_AddNumberToObject(ack, "ProcessGroup", g);
    cJSON_Delete(call_sync("EC2WindowsMessageDeliveryService.AcknowledgeMessage", ack));
    logf_("command %s started: shell %d in group %d", cmd.id, (int)pid, (int)g);
}

static void command_kill(const char *why)
{
    if (!cmd.active || cmd.ending)
        return;
    cmd.ending = why;
    kill(-cmd.guard, SIGKILL);
}

static void drain(int *fd, struct curl_sink *b, FILE *spool)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            keep_output(b, chunk, (size_t)n);
            if (spool)
                fwrite(chunk, 1, (size_t)n, spool);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            close(*fd);
            *fd = -1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return;
    }
}

/* The agent's upload of a command's output to its OutputS3BucketName: all of stdout, and of
 * stderr when there is any (the agent's own lines included). Done before the reply, so the
 * output is there when the status says the command ended. A failed upload is logged; the
 * command's status stands. */
static void upload_output(void)
{
    const char *names[2] = {"stdout", "stderr"};
    FILE *spools[2] = {cmd.spool_out, cmd.spool_err};
    const char *region = getenv("AWS_REGION");
    for (int i = 0; i < 2; i++) {
        FILE *f = spools[i];
        if (!f)
            continue;
        long size = ftell(f);
        if (size <= 0 && i == 1)
            continue;
        fflush(f);
        rewind(f);
        char key[1400];
        snprintf(key, sizeof key, "%s/%s", cmd.key_prefix, names[i]);
        struct s3_reply r;
        if (s3_request(endpoint, region ? region : "us-east-1", "PUT", cmd.bucket, key, NULL, f,
                       (curl_off_t)(size > 0 ? size : 0), NULL, &r))
            logf_("command %s: the upload of its %s to s3://%s/%s failed: HTTP %ld %.300s", cmd.id, names[i],
                  cmd.bucket, key, r.status, r.body ? r.body : "");
        s3_reply_free(&r);
    }
}

/* Reports the command's end with the output kept (SendReply) and clears it. */
static void report(const char *status, int code)
{
    const char *out = cmd.out.data ? cmd.out.data : "", *err = cmd.err.data ? cmd.err.data : "";
    if (cmd.bucket[0])
        upload_output();
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "CommandId", cmd.id);
    cJSON_AddStringToObject(p, "Status", status);
    cJSON_AddNumberToObject(p, "ResponseCode", code);
    cJSON_AddStringToObject(p, "Stdout", out);
    cJSON_AddStringToObject(p, "Stderr", err);
    char *text = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "MessageId", cmd.id);
    cJSON_AddStringToObject(body, "Destination", instance_id);
    cJSON_AddStringToObject(body, "Payload", text ? text : "{}");
    free(text);
    for (int attempt = 0; attempt < 5; attempt++) {
        cJSON *r = call_sync("EC2WindowsMessageDeliveryService.SendReply", cJSON_Duplicate(body, 1));
        if (r) {
            cJSON_Delete(r);
            break;
        }
        usleep(200000);
    }
    cJSON_Delete(body);
    logf_("command %s: %s (%d)", cmd.id, status, code);
    free(cmd.out.data);
    free(cmd.err.data);
    if (cmd.spool_out)
        fclose(cmd.spool_out);
    if (cmd.spool_err)
        fclose(cmd.spool_err);
    memset(&cmd, 0, sizeof cmd);
    cmd.out_fd = cmd.err_fd = cmd.guard_w = cmd.pidfd = -1;
}

/* Checks the running command; reports it when it has ended. */
static void command_step(void)
{
    if (!cmd.active)
        return;
    if (cmd.out_fd >= 0)
        drain(&cmd.out_fd, &cmd.out, cmd.spool_out);
    if (cmd.err_fd >= 0)
        drain(&cmd.err_fd, &cmd.err, cmd.spool_err);
    int status;
    if (!cmd.exited && waitpid(cmd.shell, &status, WNOHANG) == cmd.shell) {
        cmd.exited = 1;
        cmd.exited_at = mono_ms();
        cmd.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (!cmd.exited && !cmd.ending && mono_ms() >= cmd.deadline_ms)
        command_kill("TimedOut");
    /* Done when the shell has gone and its output is read (or background children keep the
     * pipes open for more than a moment: they are killed with the group). */
    if (!cmd.exited || ((cmd.out_fd >= 0 || cmd.err_fd >= 0) && mono_ms() - cmd.exited_at < 200))
        return;
    kill(-cmd.guard, SIGKILL);
    waitpid(cmd.guard, NULL, 0);
    close(cmd.guard_w);
    if (cmd.pidfd >= 0)
        close(cmd.pidfd);
    if (cmd.out_fd >= 0)
        close(cmd.out_fd);
    if (cmd.err_fd >= 0)
        close(cmd.err_fd);
    const char *status_s = cmd.ending ? cmd.ending : cmd.exit_code == 0 ? "Success" : "Failed";
    int code = cmd.ending && !strcmp(cmd.ending, "Cancelled") ? -1 : cmd.exit_code;
    if (cmd.ending && !strcmp(cmd.ending, "TimedOut")) {
        code = -1;
        keep_output(&cmd.err, "", 0);
    }
    if (!cmd.ending && cmd.exit_code != 0) { /* the agent's own line, as on AWS */
        char line[64];
        snprintf(line, sizeof line, "failed to run commands: exit status %d\n", cmd.exit_code);
        agent_stderr(line);
    }
    report(status_s, code);
}

/* ---- Messages ---- */

static int handle_messages(const cJSON *answer)
{
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(answer, "Shutdown"))) {
        logf_("the instance is no longer running: exiting");
        return -1;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(answer, "Messages")) {
        cJSON *p = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "Payload")) ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "Payload")) : "");
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "Type"));
        const char *cid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "CommandId"));
        if (type && !strcmp(type, "cancel") && cmd.active && cid && !strcmp(cid, cmd.id))
            command_kill("Cancelled");
        else if (type && !strcmp(type, "command") && !cmd.active)
            command_start(p);
        cJSON_Delete(p);
    }
    return 0;
}

static void start_poll(CURLM *multi, struct call *poll_call)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Destination", instance_id);
    cJSON_AddBoolToObject(b, "Busy", cmd.active);
    cJSON_AddNumberToObject(b, "VisibilityTimeoutInSeconds", 10);
    if (call_init(poll_call, poll_easy, "EC2WindowsMessageDeliveryService.GetMessages", b, POLL_TIMEOUT_S) == 0)
        curl_multi_add_handle(multi, poll_call->easy);
}

int main(void)
{
    endpoint = getenv("DSS_ENDPOINT");
    instance_id = getenv("DSS_INSTANCE_ID");
    const char *parent = getenv("DSS_PARENT_PID");
    /* Die with the emulator; if it is already gone, go now. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!endpoint || !instance_id || (parent && strtol(parent, NULL, 10) != (long)getppid())) {
        fprintf(stderr, "dss-worker: run by dss-emulator (DSS_ENDPOINT, DSS_INSTANCE_ID)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_NOTHING);
    sync_easy = curl_easy_init();
    poll_easy = curl_easy_init();
    logf_("started in %s", getenv("HOME") ? getenv("HOME") : ".");
    /* Register, as the agent does. */
    for (;;) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "InstanceId", instance_id);
        cJSON_AddStringToObject(b, "AgentVersion", AGENT_VERSION);
        cJSON_AddStringToObject(b, "AgentStatus", "Active");
        cJSON_AddStringToObject(b, "PlatformType", "Linux");
        cJSON *r = call_sync("AmazonSSM.UpdateInstanceInformation", b);
        if (r) {
            cJSON_Delete(r);
            break;
        }
        if (emulator_gone(1)) {
            logf_("cannot register with %s: exiting", endpoint);
            return 1;
        }
        usleep(200000);
    }
    emulator_gone(0);
    CURLM *multi = curl_multi_init();
    struct call poll_call = {0};
    int polling = 0, quit = 0;
    int64_t retry_at = 0;
    while (!quit) {
        if (!polling && mono_ms() >= retry_at) {
            start_poll(multi, &poll_call);
            polling = 1;
        }
        struct curl_waitfd extra[3];
        unsigned n_extra = 0;
        if (cmd.active && cmd.out_fd >= 0)
            extra[n_extra++] = (struct curl_waitfd){.fd = cmd.out_fd, .events = CURL_WAIT_POLLIN};
        if (cmd.active && cmd.err_fd >= 0)
            extra[n_extra++] = (struct curl_waitfd){.fd = cmd.err_fd, .events = CURL_WAIT_POLLIN};
        if (cmd.active && !cmd.exited && cmd.pidfd >= 0) /* readable for good once it exits: until then */
            extra[n_extra++] = (struct curl_waitfd){.fd = cmd.pidfd, .events = CURL_WAIT_POLLIN};
        /* Idle: sleep in poll(), woken by the answer. Running: woken by output and by the
         * shell's exit (pidfd), so the 100 ms are only for executionTimeout and the grace
         * period of background children; without a pidfd, look every 5 ms. */
        int timeout = !cmd.active ? (polling ? 10000 : 200) : cmd.pidfd >= 0 ? 100 : 5;
        int numfds;
        curl_multi_poll(multi, n_extra ? extra : NULL, n_extra, timeout, &numfds);
        int still;
        curl_multi_perform(multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            CURLcode res = msg->data.result;
            curl_multi_remove_handle(multi, msg->easy_handle);
            const char *text = poll_call.response.data ? poll_call.response.data : "{}";
            cJSON *answer = res == CURLE_OK && status == 200 ? cJSON_Parse(text) : NULL;
            if (!answer && res == CURLE_OK)
                logf_("GetMessages: HTTP %ld %s", status, poll_call.response.data ? poll_call.response.data : "");
            call_cleanup(&poll_call);
            polling = 0;
            if (emulator_gone(!answer)) {
                logf_("the emulator at %s is gone: exiting", endpoint);
                quit = 1;
            } else if (!answer) {
                retry_at = mono_ms() + 500;
            } else if (handle_messages(answer)) {
                quit = 1;
            }
            cJSON_Delete(answer);
        }
        command_step();
    }
    if (cmd.active) {
        kill(-cmd.guard, SIGKILL);
        waitpid(cmd.guard, NULL, 0);
        if (cmd.shell)
            waitpid(cmd.shell, NULL, 0);
    }
    if (polling)
        curl_multi_remove_handle(multi, poll_call.easy);
    call_cleanup(&poll_call);
    curl_multi_cleanup(multi);
    curl_easy_cleanup(poll_easy);
    curl_easy_cleanup(sync_easy);
    curl_global_cleanup();
    return 0;
}
