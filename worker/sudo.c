/* sudo -- inside a dss worker: runs the rest of the line as the same user.
 *
 * Job commands written for real instances say `sudo yum install ...` or `sudo -u app cmd`;
 * an emulated instance has no other users, so this sudo skips its own options (and the
 * argument of those that take one) and VAR=value assignments it applies to the
 * environment, then execs the command. `sudo -n true` and `sudo -i`/`-s` alone work too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        /* Options with an argument: -u user, -g group, -C fd, -p prompt, -h host, -D dir, -r/-t. */
        if (strchr("ugCphDrtU", a[1]) && !a[2] && a[1] != 'h') {
            i++;
            continue;
        }
        if (!strcmp(a, "-h") && i + 1 < argc && argv[i + 1][0] != '-') {
            i++;
            continue;
        }
    }
    for (; i < argc && strchr(argv[i], '=') && argv[i][0] != '='; i++) {
        char *eq = strchr(argv[i], '=');
        *eq = '\0';
        setenv(argv[i], eq + 1, 1);
        *eq = '=';
    }
    if (i >= argc) {
        const char *shell = getenv("SHELL");
        char *sh[] = {(char *)(shell && *shell ? shell : "/bin/sh"), NULL};
        execv(sh[0], sh);
        perror("sudo");
        return 1;
    }
    execvp(argv[i], &argv[i]);
    fprintf(stderr, "sudo: %s: command not found\n", argv[i]);
    return 1;
}
