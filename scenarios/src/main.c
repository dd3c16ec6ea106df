/* main.c -- dss-scenario: runs a scenario file against the emulator and the scheduler, proves
 * what happened (invariants, expectations), and reports it. See scenarios/README.md.
 *
 *   run FILE      one run (or --repeat K of them, compared job by job)
 *   sweep FILE    a matrix of seeds x settings x workflows, in parallel
 *   replay TRACE  re-run a recorded trace's scenario with its recorded fault decisions
 *   check TRACE   check a recorded trace again (and write its reports)
 *   validate FILE...  load scenario files and say what they hold
 *   job RUNDIR JOB    the job shim the emulated instances run (internal)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report.h"
#include "runner.h"
#include "scenario.h"
#include "trace.h"

static void usage(FILE *f)
{
    fputs("usage: dss-scenario COMMAND ...\n"
          "  run FILE [--seed N] [--repeat K] [--trace OUT.jsonl] [--report OUT.html] [--junit OUT.xml]\n"
          "           [--summary OUT.json] [--set PATH=VALUE]... [--workflow W] [--keep] [--quiet]\n"
          "  sweep FILE --seeds A-B|A,B,... [--set PATH=V1,V2,...]... [--workflow W1,W2] --out DIR\n"
          "           [--parallel N]\n"
          "  replay TRACE [--trace OUT.jsonl] [--report OUT.html] [--junit OUT.xml] [--keep] [--quiet]\n"
          "  check TRACE [--scenario FILE] [--report OUT.html] [--junit OUT.xml]\n"
          "  validate FILE...\n"
          "Exit status: 0 every expectation met; 1 an expectation broken (or repeats/replay differ);\n"
          "2 the run could not be carried out; 130 interrupted.\n",
          f);
}

static int parse_run_opts(int argc, char **argv, struct run_options *o, const char **positional)
{
    static const struct option lo[] = {
        {"seed", required_argument, 0, 's'},  {"repeat", required_argument, 0, 'r'},
        {"trace", required_argument, 0, 't'}, {"report", required_argument, 0, 'R'},
        {"junit", required_argument, 0, 'j'}, {"summary", required_argument, 0, 'S'},
        {"set", required_argument, 0, 'e'},   {"workflow", required_argument, 0, 'w'},
        {"keep", no_argument, 0, 'k'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->seed = -1;
    o->repeat = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's':
            o->seed = strtoll(optarg, &end, 10);
            if (*end || !*optarg || o->seed < 0 || o->seed > 9007199254740991LL) {
                fprintf(stderr, "dss-scenario: --seed wants an integer between 0 and 2^53-1\n");
                return -1;
            }
            break;
        case 'r':
            o->repeat = (int)strtol(optarg, &end, 10);
            if (*end || o->repeat < 1 || o->repeat > 100) {
                fprintf(stderr, "dss-scenario: --repeat wants 1..100\n");
                return -1;
            }
            break;
        case 't': o->trace_path = optarg; break;
        case 'R': o->report_path = optarg; break;
        case 'j': o->junit_path = optarg; break;
        case 'S': o->summary_path = optarg; break;
        case 'e':
            if (o->n_sets == RUN_MAX_SETS) {
                fprintf(stderr, "dss-scenario: at most %d --set options\n", RUN_MAX_SETS);
                return -1;
            }
            o->sets[o->n_sets++] = optarg;
            break;
        case 'w': o->workflow = optarg; break;
        case 'k': o->keep = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    *positional = argv[optind];
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    static const struct option lo[] = {{"scenario", required_argument, 0, 's'}, {"report", required_argument, 0, 'R'},
                                       {"junit", required_argument, 0, 'j'}, {0, 0, 0, 0}};
    const char *scn = NULL, *report = NULL, *junit = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': scn = optarg; break;
        case 'R': report = optarg; break;
        case 'j': junit = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    struct trace t;
    char err[1024];
    trace_init(&t);
    if (trace_load(argv[optind], &t, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s\n", err);
        trace_free(&t);
        return 2;
    }
    struct scenario s;
    int have = 0;
    if (scn) {
        if (scenario_load(scn, -1, &s, err, sizeof err)) {
            fprintf(stderr, "dss-scenario: %s\n", err);
            trace_free(&t);
            return 2;
        }
        have = 1;
    } else {
        const struct trace_event *head = trace_find(&t, "run.start");
        const cJSON *doc = head ? cJSON_GetObjectItem(head->details, "scenario") : NULL;
        const cJSON *seed = head ? cJSON_GetObjectItem(head->details, "seed") : NULL;
        if (doc && scenario_from_json(cJSON_Duplicate(doc, 1), cJSON_IsNumber(seed) ? (int64_t)seed->valuedouble : -1,
                                      &s, err, sizeof err) == 0)
            have = 1;
        else if (doc)
            fprintf(stderr, "dss-scenario: the trace's scenario does not load (%s); checking invariants only\n", err);
    }
    struct check_result r;
    int rc = check_run(&t, &r);
    if (rc) {
        fprintf(stderr, "dss-scenario: %s: %s\n", argv[optind], r.n_failures ? r.failures[0] : "cannot check");
        check_result_free(&r);
        if (have)
            scenario_free(&s);
        trace_free(&t);
        return 2;
    }
    if (have)
        check_expect(&s, &t, &r);
    else
        check_expect_hold(&r);
    printf("%s: %ld job(s), %zu violation(s), %zu broken expectation(s)\n", argv[optind], r.m.jobs, r.n, r.n_failures);
    for (size_t i = 0; i < r.n; i++) {
        const struct violation *v = &r.v[i];
        printf("  %s: %s (trace line%s", scn_invariant_name(v->inv), v->message, v->n_lines == 1 ? "" : "s");
        for (int k = 0; k < v->n_lines; k++)
            printf(" %ld", v->lines[k]);
        printf(")\n");
    }
    for (size_t i = 0; i < r.n_failures; i++)
        printf("  expectation broken: %s\n", r.failures[i]);
    rc = r.n_failures ? 1 : 0;
    if (report && report_run_html(report, &t, &r, have ? &s : NULL, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s\n", err);
        rc = 2;
    }
    if (junit && report_junit(junit, &t, &r, have ? &s : NULL, err, sizeof err)) {
        fprintf(stderr, "dss-scenario: %s\n", err);
        rc = 2;
    }
    check_result_free(&r);
    if (have)
        scenario_free(&s);
    trace_free(&t);
    return rc;
}

static int cmd_validate(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct scenario s;
        char err[1024];
        if (scenario_load(argv[i], -1, &s, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
            continue;
        }
        printf("%s: %s, seed %llu, %s mode, workflow %s, %zu job(s), %zu fault(s), up to %d instance(s)\n", argv[i],
               s.name, (unsigned long long)s.seed, s.mode == SCN_MODE_REAL ? "real" : "simulated", s.workflow,
               s.n_jobs, s.n_faults, s.max_instances);
        scenario_free(&s);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("dss-scenario %s\n", DSS_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "job"))
        return shim_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "sweep"))
        return sweep_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate"))
        return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "run") || !strcmp(cmd, "replay")) {
        struct run_options o;
        const char *pos;
        if (parse_run_opts(argc - 1, argv + 1, &o, &pos))
            return 2;
        if (!strcmp(cmd, "run")) {
            o.scenario_path = pos;
            return runner_run(&o);
        }
        if (o.n_sets || o.seed >= 0) {
            fprintf(stderr, "dss-scenario: replay takes the seed and settings from the trace\n");
            return 2;
        }
        o.replay_path = pos;
        return runner_replay(&o);
    }
    fprintf(stderr, "dss-scenario: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
