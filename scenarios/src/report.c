/* report.c -- see report.h. The page's data is computed here; the page's drawing is the
 * template's JavaScript. */
#include "report.h"

#include <errno.h>
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

extern const char scn_asset_run_html[];
extern const char scn_asset_sweep_html[];

#define REPORT_MAX_JOBS 5000 /* rows of the outcome table; the rest are counted */

static const char *dstr(const cJSON *d, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double dnum(const cJSON *d, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Rows of the timeline: 0 is the system row; instances follow in order of first sight. */
struct rows {
    const char **ids;
    int64_t *start, *end;
    size_t n, cap;
};

static long row_of(struct rows *r, const char *id, int64_t vt, int create)
{
    if (!id)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->ids[i], id))
            return (long)i + 1;
    if (!create)
        return -1;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 32;
        const char **ni = realloc(r->ids, nc * sizeof *ni);
        int64_t *ns = ni ? realloc(r->start, nc * sizeof *ns) : NULL;
        int64_t *ne = ns ? realloc(r->end, nc * sizeof *ne) : NULL;
        if (ni)
            r->ids = ni;
        if (ns)
            r->start = ns;
        if (!ne)
            return 0;
        r->end = ne;
        r->cap = nc;
    }
    r->ids[r->n] = id;
    r->start[r->n] = vt;
    r->end[r->n] = -1;
    return (long)++r->n;
}

static const char *mark_kind(const char *type)
{
    if (!type)
        return "fault";
    if (strstr(type, "spot"))
        return "spot";
    if (strstr(type, "crash") || strstr(type, "worker-killed") || strstr(type, "kill-worker"))
        return "crash";
    if (strstr(type, "restart") || strstr(type, "scheduler") || strstr(type, "emulator"))
        return "system";
    return "fault";
}

static const struct trace_event *event_at_line(const struct trace *t, long line)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ev[mid].line == line)
            return &t->ev[mid];
        if (t->ev[mid].line < line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Finds an attempt's bar (its index in the attempts array) by (job, attempt); attempt 0 finds
 * the job's first. A sorted index, so big runs stay fast. */
struct bar_ref {
    const char *job;
    int attempt;
    long index;
};

static int cmp_bar(const void *a, const void *b)
{
    const struct bar_ref *x = a, *y = b;
    int c = strcmp(x->job, y->job);
    if (c)
        return c;
    if (x->attempt != y->attempt)
        return x->attempt < y->attempt ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

struct bars {
    struct bar_ref *r;
    size_t n;
};

static void bars_build(struct bars *b, const cJSON *attempts)
{
    size_t n = (size_t)cJSON_GetArraySize(attempts);
    b->r = calloc(n ? n : 1, sizeof *b->r);
    b->n = 0;
    if (!b->r)
        return;
    const cJSON *a;
    long i = 0;
    cJSON_ArrayForEach(a, attempts) {
        b->r[b->n].job = dstr(a, "job");
        b->r[b->n].attempt = (int)trace_clamp(dnum(a, "attempt", 0), INT_MIN, INT_MAX, 0);
        b->r[b->n++].index = i++;
    }
    qsort(b->r, b->n, sizeof *b->r, cmp_bar);
}

static long bar_of(const struct bars *b, const char *job, int attempt)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) { /* first entry >= (job, attempt) */
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(b->r[mid].job, job);
        if (c < 0 || (c == 0 && b->r[mid].attempt < attempt))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < b->n && !strcmp(b->r[lo].job, job) && (attempt == 0 || b->r[lo].attempt == attempt))
        return b->r[lo].index;
    return -1;
}

static cJSON *attempts_data(const struct trace *t, struct rows *rows, cJSON *marks, int *unplaced)
{
    cJSON *arr = cJSON_CreateArray();
    /* Jobs' success strings decide whether an ended attempt succeeded. */
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        if (!strcmp(e->kind, "instance.state") && e->instance) {
            long r = row_of(rows, e->instance, e->vt_ms, 1);
            const char *st = dstr(e->details, "state");
            if (r > 0 && st && (!strcmp(st, "shutting-down") || !strcmp(st, "terminated") || !strcmp(st, "stopped")) &&
                rows->end[r - 1] < 0)
                rows->end[r - 1] = e->vt_ms;
        } else if (!strcmp(e->kind, "attempt.start") && e->job) {
            long r = e->instance ? row_of(rows, e->instance, e->vt_ms, 1) : -1;
            if (r < 0)
                *unplaced = 1;
            cJSON *a = cJSON_CreateObject();
            cJSON_AddStringToObject(a, "job", e->job);
            cJSON_AddNumberToObject(a, "attempt", e->attempt);
            cJSON_AddNumberToObject(a, "row", (double)r); /* fixed up below for unplaced */
            cJSON_AddNumberToObject(a, "start", (double)e->vt_ms);
            cJSON_AddNullToObject(a, "end");
            cJSON_AddNullToObject(a, "exit_code");
            cJSON_AddStringToObject(a, "outcome", "running");
            cJSON_AddNumberToObject(a, "line", (double)e->line);
            cJSON_AddItemToArray(arr, a);
        } else if (!strcmp(e->kind, "attempt.fault") || !strcmp(e->kind, "emulator.event") ||
                   !strcmp(e->kind, "system.fault")) {
            const char *type = !strcmp(e->kind, "attempt.fault") ? dstr(e->details, "fault") : dstr(e->details, "type");
            if (!strcmp(e->kind, "emulator.event") && type && strncmp(type, "fault.", 6) && !strstr(type, "spot") &&
                !strstr(type, "worker"))
                continue; /* lifecycle noise: not a mark */
            long r = e->instance ? row_of(rows, e->instance, e->vt_ms, 1) : 0;
            cJSON *m = cJSON_CreateObject();
            char label[256];
            snprintf(label, sizeof label, "%s%s%s%s", type ? type : e->kind, e->job ? " (" : "", e->job ? e->job : "",
                     e->job ? ")" : "");
            cJSON_AddNumberToObject(m, "vt", (double)e->vt_ms);
            cJSON_AddNumberToObject(m, "row", (double)(r < 0 ? 0 : r));
            cJSON_AddStringToObject(m, "kind", mark_kind(type));
            cJSON_AddStringToObject(m, "label", label);
            cJSON_AddNumberToObject(m, "line", (double)e->line);
            cJSON_AddItemToArray(marks, m);
        }
    }
    /* Ends: match each attempt.end / fault to its attempt. Attempts of a job are few, so a
     * per-event scan backwards over the array's most recent entries is cheap in practice. */
    int n = cJSON_GetArraySize(arr);
    cJSON **idx = calloc(n ? (size_t)n : 1, sizeof(cJSON *));
    int k = 0;
    cJSON *a;
    cJSON_ArrayForEach(a, arr) idx[k++] = a;
    for (size_t i = 0; i < t->n && idx; i++) {
        const struct trace_event *e = &t->ev[i];
        int is_end = !strcmp(e->kind, "attempt.end"), is_fault = !strcmp(e->kind, "attempt.fault");
        if ((!is_end && !is_fault) || !e->job)
            continue;
        for (int j = n - 1; j >= 0; j--) {
            cJSON *x = idx[j];
            if (dnum(x, "attempt", 0) != e->attempt || strcmp(dstr(x, "job"), e->job))
                continue;
            if (is_end) {
                cJSON_ReplaceItemInObject(x, "end", cJSON_CreateNumber((double)e->vt_ms));
                int code = (int)trace_clamp(dnum(e->details, "exit_code", 0), INT_MIN, INT_MAX, 0);
                cJSON_ReplaceItemInObject(x, "exit_code", cJSON_CreateNumber(code));
                int printed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e->details, "success_printed"));
                cJSON_ReplaceItemInObject(x, "outcome", cJSON_CreateString(code == 0 && printed ? "success" : "failed"));
            } else if (!strcmp(dstr(x, "outcome"), "running")) {
                cJSON_ReplaceItemInObject(x, "outcome", cJSON_CreateString("interrupted"));
            }
            break;
        }
    }
    /* An attempt without an end whose instance went away was interrupted; it ends there. */
    for (int j = 0; j < n && idx; j++) {
        cJSON *x = idx[j];
        long r = (long)trace_clamp(dnum(x, "row", -1), -1, (double)rows->n, -1);
        if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(x, "end")) && r > 0 && rows->end[r - 1] >= 0 &&
            rows->end[r - 1] >= (int64_t)trace_clamp(dnum(x, "start", 0), -9e18, 9e18, 0)) {
            cJSON_ReplaceItemInObject(x, "end", cJSON_CreateNumber((double)rows->end[r - 1]));
            cJSON_ReplaceItemInObject(x, "outcome", cJSON_CreateString("interrupted"));
        }
    }
    free(idx);
    return arr;
}

cJSON *report_run_data(const struct trace *t, const struct check_result *r, const struct scenario *s)
{
    cJSON *d = cJSON_CreateObject();
    const struct trace_event *head = trace_find(t, "run.start");
    const struct trace_event *endev = trace_find(t, "run.end");
    const cJSON *hd = head ? head->details : NULL;
    cJSON_AddStringToObject(d, "name", s ? s->name : dstr(hd, "name") ? dstr(hd, "name") : "?");
    cJSON_AddStringToObject(d, "description", s ? s->description : dstr(hd, "description") ? dstr(hd, "description") : "");
    cJSON_AddNumberToObject(d, "seed", s ? (double)s->seed : dnum(hd, "seed", 0));
    cJSON_AddStringToObject(d, "mode", dstr(hd, "mode") ? dstr(hd, "mode") : "real");
    cJSON_AddStringToObject(d, "workflow", s ? s->workflow : dstr(hd, "workflow") ? dstr(hd, "workflow") : "?");
    cJSON_AddStringToObject(d, "end_reason", endev && dstr(endev->details, "reason") ? dstr(endev->details, "reason")
                                                                                     : "(no run.end)");
    char hash[65];
    trace_hash(t, hash);
    cJSON_AddStringToObject(d, "trace_hash", hash);
    int64_t end_vt = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->ev[i].vt_ms > end_vt)
            end_vt = t->ev[i].vt_ms;
    cJSON_AddNumberToObject(d, "end_vt", (double)end_vt);
    cJSON_AddBoolToObject(d, "passed", r->n_failures == 0);

    cJSON *st = cJSON_AddObjectToObject(d, "status");
    for (int i = 0; i < SCN_STATUS__COUNT; i++)
        cJSON_AddNumberToObject(st, scn_status_name((enum scn_status)i), (double)r->status[i]);
    cJSON *m = cJSON_AddObjectToObject(d, "metrics");
    cJSON_AddNumberToObject(m, "jobs", (double)r->m.jobs);
    cJSON_AddNumberToObject(m, "attempts", (double)r->m.attempts);
    cJSON_AddNumberToObject(m, "lost", (double)r->m.lost);
    cJSON_AddNumberToObject(m, "false_success", (double)r->m.false_success);
    cJSON_AddNumberToObject(m, "makespan_s", r->m.makespan_s);
    cJSON_AddNumberToObject(m, "instance_s", r->m.instance_s);
    cJSON_AddNumberToObject(m, "useful_s", r->m.useful_s);
    cJSON_AddNumberToObject(m, "wasted_s", r->m.wasted_s);

    struct rows rows = {0};
    cJSON *marks = cJSON_CreateArray();
    int unplaced = 0;
    cJSON *attempts = attempts_data(t, &rows, marks, &unplaced);
    /* Unplaced attempts go to the row after the last instance. */
    cJSON *a;
    cJSON_ArrayForEach(a, attempts) {
        if (dnum(a, "row", 0) < 0)
            cJSON_ReplaceItemInObject(a, "row", cJSON_CreateNumber((double)rows.n + 1));
    }
    cJSON *insts = cJSON_CreateArray();
    cJSON *sys = cJSON_CreateObject(); /* row 0: faults without an instance */
    cJSON_AddStringToObject(sys, "id", "(system)");
    cJSON_AddNumberToObject(sys, "start", 0);
    cJSON_AddNullToObject(sys, "end");
    cJSON_AddItemToArray(insts, sys);
    for (size_t i = 0; i < rows.n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", rows.ids[i]);
        cJSON_AddNumberToObject(o, "start", (double)rows.start[i]);
        if (rows.end[i] >= 0)
            cJSON_AddNumberToObject(o, "end", (double)rows.end[i]);
        else
            cJSON_AddNullToObject(o, "end");
        cJSON_AddItemToArray(insts, o);
    }
    cJSON_AddItemToObject(d, "instances", insts);
    cJSON_AddBoolToObject(d, "unplaced", unplaced);
    cJSON_AddItemToObject(d, "attempts", attempts);
    cJSON_AddItemToObject(d, "marks", marks);
    struct bars bars;
    bars_build(&bars, attempts);

    cJSON *series = cJSON_AddArrayToObject(d, "series");
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        if (strcmp(e->kind, "queue.depth"))
            continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "vt", (double)e->vt_ms);
        cJSON_AddNumberToObject(p, "visible", dnum(e->details, "visible", 0));
        cJSON_AddNumberToObject(p, "inflight", dnum(e->details, "inflight", 0));
        cJSON_AddNumberToObject(p, "instances", dnum(e->details, "instances", 0));
        cJSON_AddItemToArray(series, p);
    }

    /* Outcome table, in submission order. */
    cJSON *jobs = cJSON_AddArrayToObject(d, "jobs");
    long n_jobs = 0, omitted = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct trace_event *e = &t->ev[i];
        if (strcmp(e->kind, "final.job") || !e->job)
            continue;
        if (n_jobs >= REPORT_MAX_JOBS) {
            omitted++;
            continue;
        }
        cJSON *j = cJSON_CreateObject();
        const char *status = dstr(e->details, "status");
        cJSON_AddStringToObject(j, "id", e->job);
        cJSON_AddNumberToObject(j, "index", (double)n_jobs++);
        cJSON_AddStringToObject(j, "status", !status ? "Missing"
                                             : (!strcmp(status, "Successful") || !strcmp(status, "Failed")) ? status
                                                                                                           : "Started");
        cJSON_AddNumberToObject(j, "attempts", dnum(e->details, "attempts", 0));
        if (dstr(e->details, "retries"))
            cJSON_AddStringToObject(j, "retries", dstr(e->details, "retries"));
        cJSON_AddNumberToObject(j, "finished", dnum(e->details, "finished", 0));
        cJSON_AddNumberToObject(j, "failed", dnum(e->details, "failed", 0));
        long bar = bar_of(&bars, e->job, 0);
        if (bar >= 0)
            cJSON_AddNumberToObject(j, "bar", (double)bar);
        cJSON_AddItemToArray(jobs, j);
    }
    cJSON_AddNumberToObject(d, "jobs_omitted", (double)omitted);

    cJSON *inv = cJSON_AddArrayToObject(d, "invariants");
    static const char *const how[] = {"hold", "break", "any"};
    for (int i = 0; i < SCN_INV__COUNT; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", scn_invariant_name((enum scn_invariant)i));
        cJSON_AddStringToObject(o, "text", scn_invariant_text((enum scn_invariant)i));
        cJSON_AddStringToObject(o, "expect", how[s ? s->expect.inv[i] : SCN_EXPECT_HOLD]);
        cJSON_AddNumberToObject(o, "broken", (double)r->broken[i]);
        cJSON_AddItemToArray(inv, o);
    }
    cJSON *vs = cJSON_AddArrayToObject(d, "violations");
    cJSON *lines = cJSON_AddArrayToObject(d, "lines");
    long *cited = NULL;
    size_t n_cited = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct violation *v = &r->v[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "invariant", scn_invariant_name(v->inv));
        cJSON_AddStringToObject(o, "message", v->message);
        if (v->job)
            cJSON_AddStringToObject(o, "job", v->job);
        if (v->attempt)
            cJSON_AddNumberToObject(o, "attempt", v->attempt);
        if (v->instance)
            cJSON_AddStringToObject(o, "instance", v->instance);
        long bar = v->job ? bar_of(&bars, v->job, v->attempt) : -1;
        if (bar >= 0)
            cJSON_AddNumberToObject(o, "bar", (double)bar);
        long irow = v->instance ? row_of(&rows, v->instance, 0, 0) : -1;
        if (bar < 0 && irow >= 0)
            cJSON_AddNumberToObject(o, "instance_row", (double)irow);
        cJSON *ls = cJSON_AddArrayToObject(o, "lines");
        for (int k = 0; k < v->n_lines; k++) {
            cJSON_AddItemToArray(ls, cJSON_CreateNumber((double)v->lines[k]));
            int seen = 0;
            for (size_t c = 0; c < n_cited && !seen; c++)
                seen = cited[c] == v->lines[k];
            if (!seen && n_cited < 2000) {
                long *nc = realloc(cited, (n_cited + 1) * sizeof *nc);
                if (nc) {
                    cited = nc;
                    cited[n_cited++] = v->lines[k];
                }
            }
        }
        cJSON_AddItemToArray(vs, o);
    }
    /* The cited lines, in line order. */
    for (size_t a1 = 1; a1 < n_cited; a1++)
        for (size_t b1 = a1; b1 > 0 && cited[b1 - 1] > cited[b1]; b1--) {
            long tmp = cited[b1];
            cited[b1] = cited[b1 - 1];
            cited[b1 - 1] = tmp;
        }
    for (size_t c = 0; c < n_cited; c++) {
        const struct trace_event *e = event_at_line(t, cited[c]);
        if (!e)
            continue;
        char *text = trace_event_line(e);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "line", (double)cited[c]);
        cJSON_AddStringToObject(o, "text", text ? text : "");
        free(text);
        cJSON_AddItemToArray(lines, o);
    }
    free(cited);
    cJSON *fails = cJSON_AddArrayToObject(d, "failures");
    for (size_t i = 0; i < r->n_failures; i++)
        cJSON_AddItemToArray(fails, cJSON_CreateString(r->failures[i]));
    cJSON *notes = cJSON_AddArrayToObject(d, "notes");
    if (endev) {
        const cJSON *n;
        cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(endev->details, "notes")) {
            if (cJSON_IsString(n))
                cJSON_AddItemToArray(notes, cJSON_CreateString(n->valuestring));
        }
    }
    free(bars.r);
    free(rows.ids);
    free(rows.start);
    free(rows.end);
    return d;
}

int report_write_template(const char *path, const char *tmpl, const cJSON *data, char *err, size_t err_len)
{
    const char *at = strstr(tmpl, "@DATA@");
    if (!at) {
        snprintf(err, err_len, "report template has no @DATA@");
        return -1;
    }
    char *json = cJSON_PrintUnformatted(data);
    if (!json) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        free(json);
        return -1;
    }
    fwrite(tmpl, 1, (size_t)(at - tmpl), f);
    /* Inside <script>, "</" could end the element: JSON allows "\/" for "/". */
    for (const char *p = json; *p; p++) {
        if (p[0] == '<' && p[1] == '/') {
            fputs("<\\/", f);
            p++;
        } else {
            fputc(*p, f);
        }
    }
    fputs(at + 6, f);
    free(json);
    int bad = ferror(f);
    if (fclose(f) || bad) {
        snprintf(err, err_len, "%s: write error", path);
        return -1;
    }
    return 0;
}

int report_run_html(const char *path, const struct trace *t, const struct check_result *r,
                    const struct scenario *s, char *err, size_t err_len)
{
    cJSON *d = report_run_data(t, r, s);
    if (!d) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    int rc = report_write_template(path, scn_asset_run_html, d, err, err_len);
    cJSON_Delete(d);
    return rc;
}

int report_sweep_html(const char *path, const char *name, const cJSON *rows, const char *swept, char *err,
                      size_t err_len)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "swept", swept ? swept : "");
    cJSON_AddItemToObject(d, "rows", cJSON_Duplicate(rows, 1));
    int rc = report_write_template(path, scn_asset_sweep_html, d, err, err_len);
    cJSON_Delete(d);
    return rc;
}

/* ============================================================================================
 * JUnit
 * ============================================================================================ */

/* XML 1.0 cannot carry most control characters at all: replace them. A new string. */
static char *xml_safe(const char *s)
{
    char *out = strdup(s ? s : "");
    for (char *p = out; p && *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
            *p = '?';
    return out;
}

static int wattr(xmlTextWriterPtr w, const char *name, const char *value)
{
    char *v = xml_safe(value);
    int rc = v ? xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v) : -1;
    free(v);
    return rc < 0 ? -1 : 0;
}

static int wtext(xmlTextWriterPtr w, const char *text)
{
    char *v = xml_safe(text);
    int rc = v ? xmlTextWriterWriteString(w, BAD_CAST v) : -1;
    free(v);
    return rc < 0 ? -1 : 0;
}

int report_junit(const char *path, const struct trace *t, const struct check_result *r, const struct scenario *s,
                 char *err, size_t err_len)
{
    const struct trace_event *head = trace_find(t, "run.start");
    const char *name = s ? s->name : head && dstr(head->details, "name") ? dstr(head->details, "name") : "scenario";
    char buf[64];
    int failures = 0;
    for (int i = 0; i < SCN_INV__COUNT; i++) {
        enum scn_inv_expect e = s ? s->expect.inv[i] : SCN_EXPECT_HOLD;
        failures += (e == SCN_EXPECT_HOLD && r->broken[i]) || (e == SCN_EXPECT_BREAK && !r->broken[i]);
    }
    int other_failures = 0; /* expectation failures that are not about invariants */
    for (size_t i = 0; i < r->n_failures; i++)
        other_failures += strncmp(r->failures[i], "invariant ", 10) != 0;
    failures += other_failures > 0;
    xmlTextWriterPtr w = xmlNewTextWriterFilename(path, 0);
    if (!w) {
        snprintf(err, err_len, "%s: cannot write", path);
        return -1;
    }
    int rc = 0;
    xmlTextWriterSetIndent(w, 1);
    rc |= xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuites") < 0;
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testsuite") < 0;
    char suite[200];
    snprintf(suite, sizeof suite, "dss-scenario.%s", name);
    rc |= wattr(w, "name", suite);
    snprintf(buf, sizeof buf, "%d", SCN_INV__COUNT + 1);
    rc |= wattr(w, "tests", buf);
    snprintf(buf, sizeof buf, "%d", failures);
    rc |= wattr(w, "failures", buf);
    rc |= wattr(w, "errors", "0");
    if (head) {
        snprintf(buf, sizeof buf, "%g", dnum(head->details, "seed", 0));
        rc |= xmlTextWriterStartElement(w, BAD_CAST "properties") < 0;
        rc |= xmlTextWriterStartElement(w, BAD_CAST "property") < 0;
        rc |= wattr(w, "name", "seed");
        rc |= wattr(w, "value", buf);
        rc |= xmlTextWriterEndElement(w) < 0;
        rc |= xmlTextWriterEndElement(w) < 0;
    }
    for (int i = 0; i < SCN_INV__COUNT; i++) {
        enum scn_inv_expect e = s ? s->expect.inv[i] : SCN_EXPECT_HOLD;
        rc |= xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0;
        rc |= wattr(w, "classname", suite);
        snprintf(buf, sizeof buf, "invariant.%s", scn_invariant_name((enum scn_invariant)i));
        rc |= wattr(w, "name", buf);
        int failed = (e == SCN_EXPECT_HOLD && r->broken[i]) || (e == SCN_EXPECT_BREAK && !r->broken[i]);
        if (failed) {
            struct buf msg;
            buf_init(&msg, 1 << 20);
            if (e == SCN_EXPECT_BREAK)
                buf_printf(&msg, "expected to break, but held");
            for (size_t k = 0; k < r->n; k++) {
                const struct violation *v = &r->v[k];
                if ((int)v->inv != i)
                    continue;
                buf_printf(&msg, "%s (trace lines", v->message);
                for (int l = 0; l < v->n_lines; l++)
                    buf_printf(&msg, " %ld", v->lines[l]);
                buf_puts(&msg, ")\n");
            }
            rc |= xmlTextWriterStartElement(w, BAD_CAST "failure") < 0;
            rc |= wattr(w, "message", scn_invariant_text((enum scn_invariant)i));
            rc |= wtext(w, msg.data ? msg.data : "");
            rc |= xmlTextWriterEndElement(w) < 0;
            buf_free(&msg);
        } else if (r->broken[i]) {
            rc |= xmlTextWriterStartElement(w, BAD_CAST "system-out") < 0;
            snprintf(buf, sizeof buf, "broken %ld time(s), as the scenario allows", r->broken[i]);
            rc |= wtext(w, buf);
            rc |= xmlTextWriterEndElement(w) < 0;
        }
        rc |= xmlTextWriterEndElement(w) < 0;
    }
    rc |= xmlTextWriterStartElement(w, BAD_CAST "testcase") < 0;
    rc |= wattr(w, "classname", suite);
    rc |= wattr(w, "name", "expectations");
    if (other_failures) {
        struct buf msg;
        buf_init(&msg, 1 << 20);
        for (size_t k = 0; k < r->n_failures; k++)
            if (strncmp(r->failures[k], "invariant ", 10))
                buf_printf(&msg, "%s\n", r->failures[k]);
        rc |= xmlTextWriterStartElement(w, BAD_CAST "failure") < 0;
        rc |= wattr(w, "message", "expectations not met");
        rc |= wtext(w, msg.data ? msg.data : "");
        rc |= xmlTextWriterEndElement(w) < 0;
        buf_free(&msg);
    }
    rc |= xmlTextWriterEndElement(w) < 0;
    rc |= xmlTextWriterEndDocument(w) < 0;
    xmlFreeTextWriter(w);
    if (rc) {
        snprintf(err, err_len, "%s: write error", path);
        return -1;
    }
    return 0;
}
