/* child_emulator.h -- for the unit tests that talk to a real dss-emulator: start_emulator() runs
 * $DSS_BIN_DIR/dss-emulator --ephemeral on a free port as a child of the test (it dies with the
 * test even without the teardown: PR_SET_PDEATHSIG) and reads its address from the first line
 * it prints; use_emulator_env() points the standard AWS configuration at it with dummy
 * credentials; stop_emulator() stops it. start_emulator_runtime() does the first two and makes
 * the scheduler's runtime (loop and AWS client) talk to it. Included by one test file each
 * (static state). */
#ifndef DSS_TESTS_CHILD_EMULATOR_H
#define DSS_TESTS_CHILD_EMULATOR_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime.h"

static pid_t emu_pid;
static FILE *emu_out; /* kept open: the emulator must not get SIGPIPE writing to stdout */
static char endpoint[128];

static int start_emulator(void)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    emu_pid = fork();
    if (emu_pid < 0)
        return -1;
    if (emu_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char exe[512];
        snprintf(exe, sizeof exe, "%s/dss-emulator", DSS_BIN_DIR);
        execl(exe, exe, "--listen", "127.0.0.1:0", "--ephemeral", "--log-level", "error", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    emu_out = fdopen(fds[0], "r");
    char line[512] = "";
    if (!emu_out || !fgets(line, sizeof line, emu_out))
        return -1;
    char *p = strstr(line, "http://");
    if (!p)
        return -1;
    p[strcspn(p, " \n")] = '\0';
    snprintf(endpoint, sizeof endpoint, "%s", p);
    return 0;
}

static void use_emulator_env(void)
{
    setenv("AWS_ENDPOINT_URL", endpoint, 1);
    setenv("AWS_ACCESS_KEY_ID", "test", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
}

static int start_emulator_runtime(struct runtime *rt, const struct aws_client_options *opt)
{
    if (start_emulator()) {
        fprintf(stderr, "cannot start %s/dss-emulator\n", DSS_BIN_DIR);
        return -1;
    }
    use_emulator_env();
    char err[512];
    if (runtime_init(rt, opt, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static void stop_emulator(void)
{
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
        emu_pid = 0;
    }
    if (emu_out)
        fclose(emu_out);
    emu_out = NULL;
}

#endif
