/* report.h -- the reports a run or a sweep leaves behind.
 *
 * Run report: one self-contained HTML file (no network; inline CSS, JS and SVG) built from the
 * template scenarios/report/run.html, compiled into the binary, with the run's data as JSON in
 * the page: a timeline (instances as rows, attempts as bars coloured by outcome, faults marked),
 * queue depth and instance count over time, the outcome table, the invariant results, and links
 * from each violation to its bar in the timeline and to the trace lines it cites.
 * Sweep report: scenarios/report/sweep.html with one row per run (report_sweep_html).
 * JUnit XML (libxml2's writer): one test suite per run, one test case per invariant plus one for
 * the expectations.
 */
#ifndef DSS_SCN_REPORT_H
#define DSS_SCN_REPORT_H

#include <cjson/cJSON.h>

#include "check.h"
#include "scenario.h"
#include "trace.h"

/* The data the run report shows, as a new object (also what report_run_html embeds).
 * s may be NULL (then expectations show as "hold"). */
cJSON *report_run_data(const struct trace *t, const struct check_result *r, const struct scenario *s);
/* Writes the run report. Returns 0, or -1 with a message in err. */
int report_run_html(const char *path, const struct trace *t, const struct check_result *r,
                    const struct scenario *s, char *err, size_t err_len);
/* Writes JUnit XML for one run. Returns 0 or -1 with a message in err. */
int report_junit(const char *path, const struct trace *t, const struct check_result *r, const struct scenario *s,
                 char *err, size_t err_len);
/* Writes the sweep report from rows: [{"workflow","x","set","seed","lost","false_success",
 * "wasted_s","makespan_s","passed","report"}], swept: the --set parameter plotted on x (or NULL). */
int report_sweep_html(const char *path, const char *name, const cJSON *rows, const char *swept, char *err,
                      size_t err_len);

/* Fills the first "@DATA@" of template with data's JSON (made safe inside <script>) and writes
 * it to path. Returns 0 or -1 with a message in err. */
int report_write_template(const char *path, const char *tmpl, const cJSON *data, char *err, size_t err_len);

#endif
