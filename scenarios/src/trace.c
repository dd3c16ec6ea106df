/* trace.c -- see trace.h. */
#include "trace.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void trace_init(struct trace *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
}

int trace_open(struct trace *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    pthread_mutex_lock(&t->lock);
    if (t->out)
        fclose(t->out);
    t->out = f;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

char *trace_event_line(const struct trace_event *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "vt", (double)e->vt_ms);
    cJSON_AddStringToObject(o, "kind", e->kind);
    if (e->job)
        cJSON_AddStringToObject(o, "job", e->job);
    if (e->attempt > 0)
        cJSON_AddNumberToObject(o, "attempt", e->attempt);
    if (e->instance)
        cJSON_AddStringToObject(o, "instance", e->instance);
    if (e->details)
        cJSON_AddItemReferenceToObject(o, "details", e->details);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int reserve(struct trace *t)
{
    if (t->n < t->cap)
        return 0;
    size_t nc = t->cap ? t->cap * 2 : 256;
    struct trace_event *ne = realloc(t->ev, nc * sizeof *ne);
    if (!ne)
        return -1;
    t->ev = ne;
    t->cap = nc;
    return 0;
}

long trace_add(struct trace *t, int64_t vt_ms, const char *kind, const char *job, int attempt,
               const char *instance, cJSON *details)
{
    struct trace_event e = {0};
    e.vt_ms = vt_ms;
    e.kind = strdup(kind);
    e.job = job ? strdup(job) : NULL;
    e.attempt = attempt;
    e.instance = instance && *instance ? strdup(instance) : NULL;
    e.details = details;
    if (!e.kind || (job && !e.job) || (instance && *instance && !e.instance)) {
        trace_event_free(&e);
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    if (reserve(t)) {
        pthread_mutex_unlock(&t->lock);
        trace_event_free(&e);
        return -1;
    }
    e.line = (long)t->n + 1;
    t->ev[t->n++] = e;
    if (t->out) {
        char *line = trace_event_line(&e);
        if (line) {
            fputs(line, t->out);
            fputc('\n', t->out);
            fflush(t->out);
            free(line);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return e.line;
}

int trace_close(struct trace *t)
{
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    if (t->out) {
        rc = ferror(t->out) ? -1 : 0;
        if (fclose(t->out))
            rc = -1;
        t->out = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void trace_event_free(struct trace_event *e)
{
    free(e->kind);
    free(e->job);
    free(e->instance);
    cJSON_Delete(e->details);
    memset(e, 0, sizeof *e);
}

void trace_free(struct trace *t)
{
    trace_close(t);
    for (size_t i = 0; i < t->n; i++)
        trace_event_free(&t->ev[i]);
    free(t->ev);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}

static int opt_string(const cJSON *o, const char *k, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return -1;
    *out = strdup(v->valuestring);
    return *out ? 0 : -1;
}

int trace_parse_line(const char *text, size_t len, long lineno, struct trace_event *e, char *err, size_t err_len)
{
    memset(e, 0, sizeof *e);
    e->line = lineno;
    cJSON *o = cJSON_ParseWithLength(text, len);
    const char *what = NULL;
    if (!o || !cJSON_IsObject(o)) {
        what = "not a JSON object";
        goto bad;
    }
    const cJSON *vt = cJSON_GetObjectItemCaseSensitive(o, "vt");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(o, "attempt");
    cJSON *det = cJSON_GetObjectItemCaseSensitive(o, "details");
    if (!cJSON_IsNumber(vt) || !isfinite(vt->valuedouble) || vt->valuedouble < 0 || vt->valuedouble > 1e15) {
        what = "vt: must be a non-negative number of milliseconds";
        goto bad;
    }
    if (!cJSON_IsString(kind) || !*kind->valuestring) {
        what = "kind: must be a non-empty string";
        goto bad;
    }
    if (att && (!cJSON_IsNumber(att) || att->valuedouble < 1 || att->valuedouble > 1e6 ||
                att->valuedouble != floor(att->valuedouble))) {
        what = "attempt: must be a positive integer";
        goto bad;
    }
    if (det && !cJSON_IsObject(det)) {
        what = "details: must be an object";
        goto bad;
    }
    e->vt_ms = (int64_t)vt->valuedouble;
    e->attempt = att ? (int)att->valuedouble : 0;
    if (!(e->kind = strdup(kind->valuestring)) || opt_string(o, "job", &e->job) ||
        opt_string(o, "instance", &e->instance)) {
        what = "job and instance: must be strings";
        goto bad;
    }
    if (det)
        e->details = cJSON_DetachItemViaPointer(o, det);
    cJSON_Delete(o);
    return 0;
bad:
    snprintf(err, err_len, "line %ld: %s", lineno, what);
    cJSON_Delete(o);
    trace_event_free(e);
    return -1;
}

int trace_load_mem(const char *text, size_t len, struct trace *t, char *err, size_t err_len)
{
    long lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n) {
            struct trace_event e;
            if (n > TRACE_MAX_LINE) {
                snprintf(err, err_len, "line %ld: longer than %u bytes", lineno, TRACE_MAX_LINE);
                return -1;
            }
            if (trace_parse_line(p, n, lineno, &e, err, err_len))
                return -1;
            pthread_mutex_lock(&t->lock);
            int bad = reserve(t);
            if (!bad)
                t->ev[t->n++] = e;
            pthread_mutex_unlock(&t->lock);
            if (bad) {
                trace_event_free(&e);
                snprintf(err, err_len, "line %ld: out of memory", lineno);
                return -1;
            }
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int trace_load(const char *path, struct trace *t, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct buf b;
    buf_init(&b, (size_t)1 << 31);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n)) {
            snprintf(err, err_len, "%s: larger than 2 GiB or out of memory", path);
            rc = -1;
            break;
        }
    if (!rc && ferror(f)) {
        snprintf(err, err_len, "%s: read error", path);
        rc = -1;
    }
    fclose(f);
    if (!rc) {
        char msg[400];
        rc = trace_load_mem(b.data ? b.data : "", b.len, t, msg, sizeof msg);
        if (rc)
            snprintf(err, err_len, "%s: %s", path, msg);
    }
    buf_free(&b);
    return rc;
}

const struct trace_event *trace_find(const struct trace *t, const char *kind)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->ev[i].kind, kind))
            return &t->ev[i];
    return NULL;
}

void trace_hash(const struct trace *t, char out[65])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; i < t->n; i++) {
        char *line = trace_event_line(&t->ev[i]);
        if (line) {
            EVP_DigestUpdate(c, line, strlen(line));
            EVP_DigestUpdate(c, "\n", 1);
            free(line);
        }
    }
    EVP_DigestFinal_ex(c, d, &dl);
    EVP_MD_CTX_free(c);
    hex_encode(d, 32, out);
    out[64] = '\0';
}
