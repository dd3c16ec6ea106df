/* jsonpath.c -- see jsonpath.h. Paths are walked step by step straight from the text. */
#include "jsonpath.h"

#include <ctype.h>
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
