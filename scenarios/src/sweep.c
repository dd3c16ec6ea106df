/* sweep.c -- `dss-scenario sweep FILE --seeds 1-50 [--set PATH=V1,V2,...]... [--workflow A,B]
 * --out DIR [--parallel N]`: runs the matrix workflows x settings x seeds, each as a child
 * `dss-scenario run` (its own emulator, scheduler and workers) with up to N at once (default:
 * the number of cores), then writes DIR/results.csv and DIR/sweep.html. Each run keeps its
 * trace, report, JUnit file, summary and output under DIR/runs/NAME/. Ctrl-C stops every child
 * (each tears down what it started) before the sweep exits.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"
#include "report.h"
#include "runner.h"

#define SWEEP_MAX_RUNS 100000
#define SWEEP_MAX_SETS 8

static volatile sig_atomic_t s_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (s_stop) {
        proc_kill_all();
        _exit(130);
    }
    s_stop = 1;
}

struct cell {
    const char *workflow;            /* NULL: the file's */
    char setting[512];               /* "path=value path=value" */
    const char *sets[SWEEP_MAX_SETS]; /* "path=value" each (owned by the sweep) */
    int n_sets;
    double x;
    long seed;
    char name[160];
    struct proc p;
    int done, rc;
};

/* "1-50", "1,2,5", "3" */
static int parse_seeds(const char *spec, long **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char *copy = strdup(spec), *save = NULL;
    if (!copy)
        return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long a = strtol(tok, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        if (*end || a < 0 || b < a || b - a > SWEEP_MAX_RUNS || *n + (size_t)(b - a + 1) > SWEEP_MAX_RUNS) {
            free(copy);
            free(*out);
            return -1;
        }
        long *nn = realloc(*out, (*n + (size_t)(b - a + 1)) * sizeof *nn);
        if (!nn) {
            free(copy);
            free(*out);
            return -1;
        }
        *out = nn;
        for (long s = a; s <= b; s++)
            (*out)[(*n)++] = s;
    }
    free(copy);
    return *n ? 0 : -1;
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b;
    buf_init(&b, 16u << 20);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n))
            break;
    fclose(f);
    cJSON *doc = b.data ? cJSON_ParseWithLength(b.data, b.len) : NULL;
    buf_free(&b);
    return doc;
}

static int start_cell(struct cell *c, const char *self, const char *file, const char *out, char *err, size_t n)
{
    char dir[PATH_MAX], seed[32], trace[PATH_MAX + 32], report[PATH_MAX + 32], junit[PATH_MAX + 32],
        summary[PATH_MAX + 32], log[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/runs/%s", out, c->name);
    mkdir(dir, 0755);
    snprintf(seed, sizeof seed, "%ld", c->seed);
    snprintf(trace, sizeof trace, "%s/trace.jsonl", dir);
    snprintf(report, sizeof report, "%s/report.html", dir);
    snprintf(junit, sizeof junit, "%s/junit.xml", dir);
    snprintf(summary, sizeof summary, "%s/summary.json", dir);
    snprintf(log, sizeof log, "%s/output.log", dir);
    char *argv[64] = {(char *)self, "run", (char *)file, "--seed", seed, "--trace", trace, "--report", report,
                      "--junit", junit, "--summary", summary, "--quiet"};
    int k = 14;
    for (int i = 0; i < c->n_sets; i++) {
        argv[k++] = "--set";
        argv[k++] = (char *)c->sets[i];
    }
    if (c->workflow) {
        argv[k++] = "--workflow";
        argv[k++] = (char *)c->workflow;
    }
    argv[k] = NULL;
    return proc_start(&c->p, "dss-scenario run", argv, NULL, log, 0, err, n);
}

static void usage(void)
{
    fputs("usage: dss-scenario sweep FILE --seeds A-B|A,B,... [--set PATH=V1,V2,...]... [--workflow W1,W2]\n"
          "                          --out DIR [--parallel N]\n",
          stderr);
}

int sweep_main(int argc, char **argv)
{
    static const struct option lo[] = {{"seeds", required_argument, 0, 's'}, {"set", required_argument, 0, 'S'},
                                       {"workflow", required_argument, 0, 'w'}, {"out", required_argument, 0, 'o'},
                                       {"parallel", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    const char *seeds_spec = NULL, *workflows = NULL, *out = NULL;
    const char *set_specs[SWEEP_MAX_SETS];
    int n_set_specs = 0;
    long parallel = sysconf(_SC_NPROCESSORS_ONLN);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': seeds_spec = optarg; break;
        case 'S':
            if (n_set_specs == SWEEP_MAX_SETS) {
                fprintf(stderr, "dss-scenario sweep: at most %d --set options\n", SWEEP_MAX_SETS);
                return 2;
            }
            set_specs[n_set_specs++] = optarg;
            break;
        case 'w': workflows = optarg; break;
        case 'o': out = optarg; break;
        case 'p': parallel = strtol(optarg, NULL, 10); break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind != argc - 1 || !seeds_spec || !out || parallel < 1 || parallel > 64) {
        usage();
        return 2;
    }
    const char *file = argv[optind];
    long *seeds;
    size_t n_seeds;
    if (parse_seeds(seeds_spec, &seeds, &n_seeds)) {
        fprintf(stderr, "dss-scenario sweep: --seeds wants A-B or A,B,... (non-negative), got '%s'\n", seeds_spec);
        return 2;
    }
    /* Each --set PATH=V1,V2 is one axis; the matrix is their product. Everything allocated from
     * here on is freed at done:, on every path. */
    char *paths[SWEEP_MAX_SETS];
    char *values[SWEEP_MAX_SETS][64];
    int n_values[SWEEP_MAX_SETS], n_paths = 0, rc = 0;
    char *wf_copy = NULL;
    struct cell *cells = NULL;
    char (*set_store)[SWEEP_MAX_SETS][300] = NULL;
    cJSON *rows = NULL;
    for (int i = 0; i < n_set_specs; i++) {
        const char *eq = strchr(set_specs[i], '=');
        if (!eq || eq == set_specs[i]) {
            fprintf(stderr, "dss-scenario sweep: --set wants PATH=V1,V2,..., got '%s'\n", set_specs[i]);
            rc = 2;
            goto done;
        }
        paths[i] = strndup(set_specs[i], (size_t)(eq - set_specs[i]));
        n_values[i] = 0;
        n_paths = i + 1;
        char *copy = strdup(eq + 1), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && n_values[i] < 64; tok = strtok_r(NULL, ",", &save))
            values[i][n_values[i]++] = strdup(tok);
        free(copy);
        if (!n_values[i]) {
            fprintf(stderr, "dss-scenario sweep: --set %s has no values\n", paths[i]);
            rc = 2;
            goto done;
        }
    }
    char *wf_list[16];
    int n_wf = 0;
    char *save = NULL;
    wf_copy = workflows ? strdup(workflows) : NULL;
    for (char *tok = wf_copy ? strtok_r(wf_copy, ",", &save) : NULL; tok && n_wf < 16; tok = strtok_r(NULL, ",", &save))
        wf_list[n_wf++] = tok;
    size_t combos = 1;
    for (int i = 0; i < n_set_specs; i++)
        combos *= (size_t)n_values[i];
    size_t n_cells = (size_t)(n_wf ? n_wf : 1) * combos * n_seeds;
    if (n_cells > SWEEP_MAX_RUNS) {
        fprintf(stderr, "dss-scenario sweep: %zu runs is more than %d\n", n_cells, SWEEP_MAX_RUNS);
        rc = 2;
        goto done;
    }
    cells = calloc(n_cells, sizeof *cells);
    set_store = calloc(n_cells, sizeof *set_store);
    if (!cells || !set_store) {
        fprintf(stderr, "dss-scenario sweep: out of memory\n");
        rc = 2;
        goto done;
    }
    size_t k = 0;
    for (int w = 0; w < (n_wf ? n_wf : 1); w++)
        for (size_t combo = 0; combo < combos; combo++)
            for (size_t si = 0; si < n_seeds; si++, k++) {
                struct cell *cl = &cells[k];
                cl->workflow = n_wf ? wf_list[w] : NULL;
                cl->seed = seeds[si];
                cl->x = NAN;
                size_t rest = combo;
                int len = 0;
                for (int i = 0; i < n_set_specs; i++) {
                    int vi = (int)(rest % (size_t)n_values[i]);
                    rest /= (size_t)n_values[i];
                    snprintf(set_store[k][i], sizeof set_store[k][i], "%s=%s", paths[i], values[i][vi]);
                    cl->sets[cl->n_sets++] = set_store[k][i];
                    len += snprintf(cl->setting + len, sizeof cl->setting - (size_t)len, "%s%s", i ? " " : "",
                                    set_store[k][i]);
                    if (len >= (int)sizeof cl->setting)
                        len = (int)sizeof cl->setting - 1;
                    if (i == 0) {
                        char *end;
                        double x = strtod(values[i][vi], &end);
                        cl->x = *end ? (double)vi : x;
                    }
                }
                if (n_set_specs == 0)
                    cl->x = (double)cl->seed;
                snprintf(cl->name, sizeof cl->name, "%s-c%zu-s%ld", cl->workflow ? cl->workflow : "file", combo,
                         cl->seed);
                for (char *p = cl->name; *p; p++)
                    if (*p == '/' || *p == ' ')
                        *p = '_';
            }
    char runs[PATH_MAX];
    mkdir(out, 0755);
    snprintf(runs, sizeof runs, "%s/runs", out);
    if (mkdir(runs, 0755) && errno != EEXIST) {
        fprintf(stderr, "dss-scenario sweep: %s: %s\n", runs, strerror(errno));
        rc = 2;
        goto done;
    }
    char self[PATH_MAX + 32], bin[PATH_MAX];
    if (runner_bin_dir(bin, sizeof bin)) {
        fprintf(stderr, "dss-scenario sweep: cannot find my own executable\n");
        rc = 2;
        goto done;
    }
    snprintf(self, sizeof self, "%s/dss-scenario", bin);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "dss-scenario sweep: %zu run(s), %ld at a time, into %s\n", n_cells, parallel, out);
    size_t next = 0, finished = 0;
    long running = 0;
    int start_failed = 0;
    while (finished < n_cells) {
        while (!s_stop && running < parallel && next < n_cells) {
            char err[512];
            if (start_cell(&cells[next], self, file, out, err, sizeof err)) {
                fprintf(stderr, "dss-scenario sweep: %s\n", err);
                cells[next].done = 1;
                cells[next].rc = 2;
                finished++;
                start_failed = 1;
            } else {
                running++;
            }
            next++;
        }
        if (s_stop && next < n_cells) { /* never started: count as done */
            finished += n_cells - next;
            next = n_cells;
        }
        for (size_t i = 0; i < next; i++) {
            struct cell *cl = &cells[i];
            if (cl->done || !cl->p.pid)
                continue;
            if (s_stop)
                kill(cl->p.pid, SIGTERM); /* it stops its own emulator and scheduler */
            if (!proc_alive(&cl->p)) {
                cl->done = 1;
                cl->rc = WIFEXITED(cl->p.status) ? WEXITSTATUS(cl->p.status) : 2;
                finished++;
                running--;
                fprintf(stderr, "  [%zu/%zu] %s: %s\n", finished, n_cells, cl->name,
                        cl->rc == 0 ? "passed" : cl->rc == 1 ? "expectations broken" : "error");
            }
        }
        if (finished < n_cells)
            proc_sleep_ms(100, NULL);
    }
    /* Aggregate. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.csv", out);
    FILE *csv = fopen(path, "w");
    rows = cJSON_CreateArray();
    if (csv)
        fputs("workflow,setting,x,seed,passed,lost,false_success,wasted_s,makespan_s,jobs,attempts,end_reason,report\n",
              csv);
    for (size_t i = 0; i < n_cells; i++) {
        struct cell *cl = &cells[i];
        char sp[PATH_MAX + 64];
        snprintf(sp, sizeof sp, "%s/runs/%s/summary.json", out, cl->name);
        cJSON *s = read_json(sp);
        const char *wf = cl->workflow ? cl->workflow
                                      : (s && cJSON_GetStringValue(cJSON_GetObjectItem(s, "workflow"))
                                             ? cJSON_GetStringValue(cJSON_GetObjectItem(s, "workflow"))
                                             : "file");
        double lost = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "lost")) : NAN;
        double fs = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "false_success")) : NAN;
        double wasted = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "wasted_s")) : NAN;
        double mk = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "makespan_s")) : NAN;
        double jobs = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "jobs")) : NAN;
        double att = s ? cJSON_GetNumberValue(cJSON_GetObjectItem(s, "attempts")) : NAN;
        const char *endr = s ? cJSON_GetStringValue(cJSON_GetObjectItem(s, "end_reason")) : NULL;
        int passed = s && cJSON_IsTrue(cJSON_GetObjectItem(s, "passed"));
        char report[300];
        snprintf(report, sizeof report, "runs/%s/report.html", cl->name);
        if (csv) {
            csv_field(csv, wf);
            fputc(',', csv);
            csv_field(csv, cl->setting);
            fprintf(csv, ",%g,%ld,%d,%g,%g,%.3f,%.3f,%g,%g,", cl->x, cl->seed, passed, lost, fs, wasted, mk, jobs, att);
            csv_field(csv, endr ? endr : (s ? "" : "no summary (the run failed to start)"));
            fputc(',', csv);
            csv_field(csv, report);
            fputc('\n', csv);
        }
        if (s) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "workflow", wf);
            cJSON_AddStringToObject(row, "set", cl->setting);
            cJSON_AddNumberToObject(row, "x", isnan(cl->x) ? 0 : cl->x);
            cJSON_AddNumberToObject(row, "seed", (double)cl->seed);
            cJSON_AddNumberToObject(row, "lost", lost);
            cJSON_AddNumberToObject(row, "false_success", fs);
            cJSON_AddNumberToObject(row, "wasted_s", wasted);
            cJSON_AddNumberToObject(row, "makespan_s", mk);
            cJSON_AddBoolToObject(row, "passed", passed);
            cJSON_AddStringToObject(row, "report", report);
            cJSON_AddItemToArray(rows, row);
        }
        cJSON_Delete(s);
    }
    if (!csv || fclose(csv)) {
        fprintf(stderr, "dss-scenario sweep: %s: cannot write\n", path);
        rc = 2;
    }
    snprintf(path, sizeof path, "%s/sweep.html", out);
    char err[512];
    const char *base = strrchr(file, '/');
    if (report_sweep_html(path, base ? base + 1 : file, rows, n_set_specs ? paths[0] : NULL, err, sizeof err)) {
        fprintf(stderr, "dss-scenario sweep: %s\n", err);
        rc = 2;
    }
    long failed = 0;
    for (size_t i = 0; i < n_cells; i++)
        failed += cells[i].rc != 0;
    printf("dss-scenario sweep: %zu run(s), %ld with broken expectations or errors; %s/results.csv, %s/sweep.html\n",
           n_cells, failed, out, out);
    if (s_stop)
        rc = 130;
    else if (!rc && start_failed)
        rc = 2;
done:
    cJSON_Delete(rows);
    for (int i = 0; i < n_paths; i++) {
        free(paths[i]);
        for (int v = 0; v < n_values[i]; v++)
            free(values[i][v]);
    }
    free(cells);
    free(set_store);
    free(seeds);
    free(wf_copy);
    return rc;
}
