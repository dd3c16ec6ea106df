/* jsonpath.c -- see jsonpath.h. Paths are walked step by step straight from the text. */
#include "jsonpath.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step: a member name (copied into name) or an index. */
struct step {
    int is_index;
    long index;
    char name[256];
};

/* Reads the step at *p. Returns 1 and advances, 0 at the end, -1 on a syntax error (err set). */
static int next_step(const char **p, struct step *st, char *err, size_t errlen)
{
    const char *s = *p;
    if (!*s)
        return 0;
    if (*s == '.') {
        s++;
        if (*s == '.') {
            snprintf(err, errlen, "recursive descent '..' is not supported");
            return -1;
        }
        size_t n = strcspn(s, ".[");
        if (n == 0) {
            snprintf(err, errlen, "empty name after '.'");
            return -1;
        }
        if (n == 1 && *s == '*') {
            snprintf(err, errlen, "wildcards are not supported");
            return -1;
        }
        if (n >= sizeof st->name) {
            snprintf(err, errlen, "member name too long");
            return -1;
        }
        memcpy(st->name, s, n);
        st->name[n] = '\0';
        st->is_index = 0;
        *p = s + n;
        return 1;
    }
    if (*s == '[') {
        s++;
        if (*s == '\'' || *s == '"') {
            char q = *s++;
            const char *e = strchr(s, q);
            if (!e || e[1] != ']') {
                snprintf(err, errlen, "unterminated quoted name");
                return -1;
            }
            size_t n = (size_t)(e - s);
            if (n >= sizeof st->name) {
                snprintf(err, errlen, "member name too long");
                return -1;
            }
            memcpy(st->name, s, n);
            st->name[n] = '\0';
            st->is_index = 0;
            *p = e + 2;
            return 1;
        }
        if (!isdigit((unsigned char)*s)) {
            snprintf(err, errlen, "only [n], ['name'] and [\"name\"] are supported inside []");
            return -1;
        }
        char *end;
        long v = strtol(s, &end, 10);
        if (*end != ']' || end - s > 9) {
            snprintf(err, errlen, "bad array index");
            return -1;
        }
        st->is_index = 1;
        st->index = v;
        *p = end + 1;
        return 1;
    }
    snprintf(err, errlen, "unexpected '%c'", *s);
    return -1;
}

/* Skips "$" or "$$"; returns the rest, or NULL. */
static const char *root(const char *path, int *context)
{
    if (!path || path[0] != '$')
        return NULL;
    *context = path[1] == '$';
    return path + 1 + *context;
}

int jsonpath_check(const char *path, char *err, size_t errlen)
{
    int ctx;
    const char *p = root(path, &ctx);
    if (!p) {
        snprintf(err, errlen, "a path must start with '$'");
        return -1;
    }
    struct step st;
    int r;
    while ((r = next_step(&p, &st, err, errlen)) == 1)
        ;
    return r;
}

cJSON *jsonpath_get(cJSON *doc, cJSON *ctx, const char *path)
{
    int isctx;
    const char *p = root(path, &isctx);
    if (!p)
        return NULL;
    cJSON *cur = isctx ? ctx : doc;
    struct step st;
    char err[128];
    int r = 0;
    while (cur && (r = next_step(&p, &st, err, sizeof err)) == 1) {
        if (st.is_index)
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)st.index) : NULL;
        else
            cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, st.name) : NULL;
    }
    return r < 0 ? NULL : cur;
}

int jsonpath_set(cJSON **doc, const char *path, cJSON *value, char *err, size_t errlen)
{
    int isctx;
    const char *p = root(path, &isctx);
    if (!p || isctx) {
        snprintf(err, errlen, "ResultPath must start with '$' (not '$$')");
        cJSON_Delete(value);
        return -1;
    }
    if (!*p) {
        cJSON_Delete(*doc);
        *doc = value;
        return 0;
    }
    if (!cJSON_IsObject(*doc)) {
        /* Like Step Functions: a result cannot be placed inside a non-object input. */
        snprintf(err, errlen, "cannot set %s: the state input is not an object", path);
        cJSON_Delete(value);
        return -1;
    }
    cJSON *cur = *doc;
    struct step st;
    int r = next_step(&p, &st, err, errlen);
    while (r == 1) {
        struct step nx;
        const char *q = p;
        int more = next_step(&q, &nx, err, errlen);
        if (more < 0)
            break;
        if (st.is_index) {
            cJSON *item = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, (int)st.index) : NULL;
            if (!item) {
                snprintf(err, errlen, "cannot set %s: index %ld does not exist", path, st.index);
                r = -1;
                break;
            }
            if (!more) {
                cJSON_ReplaceItemInArray(cur, (int)st.index, value);
                return 0;
            }
            cur = item;
        } else {
            if (!cJSON_IsObject(cur)) {
                snprintf(err, errlen, "cannot set %s: '%s' is inside a value that is not an object", path, st.name);
                r = -1;
                break;
            }
            cJSON *item = cJSON_GetObjectItemCaseSensitive(cur, st.name);
            if (!more) {
                if (item)
                    cJSON_ReplaceItemInObjectCaseSensitive(cur, st.name, value);
                else
                    cJSON_AddItemToObject(cur, st.name, value);
                return 0;
            }
            if (!item || (!cJSON_IsObject(item) && !cJSON_IsArray(item))) {
                cJSON *o = cJSON_CreateObject();
                if (!o) {
                    snprintf(err, errlen, "out of memory");
                    r = -1;
                    break;
                }
                if (item)
                    cJSON_ReplaceItemInObjectCaseSensitive(cur, st.name, o);
                else
                    cJSON_AddItemToObject(cur, st.name, o);
                item = o;
            }
            cur = item;
        }
        st = nx;
        p = q;
    }
    cJSON_Delete(value);
    if (r >= 0)
        snprintf(err, errlen, "cannot set %s", path);
    return -1;
}

/* ---- The printed size ---- */

/* The bytes cJSON prints for each byte of a string: \" \\ \b \f \n \r \t take 2, the other
 * control characters 6 (\u00XX), every other byte 1. A table: the engine measures every
 * state's input, and seven tests per byte were 8 % of the scheduler's CPU in a simulated day. */
static const unsigned char printed_bytes[256] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* A string as cJSON prints it: quoted, each byte as printed_bytes says. */
static size_t string_size(const char *s)
{
    size_t n = 2;
    if (!s)
        return n;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += printed_bytes[*p];
    return n;
}

/* A number as cJSON 1.7 prints it (print_number): an integral value that fits its int as %d,
 * others with 15 significant digits, or 17 when 15 do not read back the same; NaN and the
 * infinities as null. */
static size_t number_size(const cJSON *v)
{
    double d = v->valuedouble;
    char text[32];
    if (isnan(d) || isinf(d))
        return 4;
    if (d == (double)v->valueint)
        return (size_t)snprintf(text, sizeof text, "%d", v->valueint);
    int n = snprintf(text, sizeof text, "%1.15g", d);
    char *end;
    double back = strtod(text, &end); /* cJSON reads it back with sscanf("%lg"): the same value */
    if (end == text || fabs(back - d) > (fabs(back) > fabs(d) ? fabs(back) : fabs(d)) * DBL_EPSILON)
        n = snprintf(text, sizeof text, "%1.17g", d);
    return (size_t)n;
}

size_t json_printed_size(const cJSON *v)
{
    if (!v)
        return 0;
    switch (v->type & 0xFF) {
    case cJSON_NULL:
    case cJSON_True:
        return 4;
    case cJSON_False:
        return 5;
    case cJSON_Number:
        return number_size(v);
    case cJSON_Raw:
        return v->valuestring ? strlen(v->valuestring) : 0;
    case cJSON_String:
        return string_size(v->valuestring);
    case cJSON_Array:
    case cJSON_Object: {
        size_t n = 2;
        for (const cJSON *c = v->child; c; c = c->next) {
            if ((v->type & 0xFF) == cJSON_Object)
                n += string_size(c->string) + 1; /* "key": */
            n += json_printed_size(c) + (c->next ? 1 : 0);
        }
        return n;
    }
    default:
        return 0;
    }
}
