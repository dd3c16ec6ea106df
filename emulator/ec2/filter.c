/* filter.c -- EC2 Describe* filters: [{Name, Values:[...]}] as the Query parser builds them
 * from Filter.N.Name / Filter.N.Value.M. A resource matches when every filter matches, and a
 * filter matches when any of its values matches any of the resource's values for that name;
 * values may use the wildcards * and ? as on AWS ("running", "web-*"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2.h"

#define FILTERS_MAX 50
#define VALUES_MAX 200

static int name_allowed(const char *name, const char *const *allowed)
{
    for (; *allowed; allowed++) {
        size_t n = strlen(*allowed);
        if (n && (*allowed)[n - 1] == ':' ? strncmp(name, *allowed, n) == 0 && name[n]
                                          : strcmp(name, *allowed) == 0)
            return 1;
    }
    return 0;
}

void ec2_filters_free(struct ec2_filters *fs)
{
    for (int i = 0; i < fs->n; i++) {
        for (int j = 0; j < fs->f[i].n_values; j++)
            free(fs->f[i].values[j]);
        free(fs->f[i].values);
        free(fs->f[i].name);
    }
    free(fs->f);
    fs->f = NULL;
    fs->n = 0;
}

int ec2_filters_parse(const cJSON *filters, const char *const *allowed, struct ec2_filters *out,
                      char *err, size_t err_len)
{
    out->f = NULL;
    out->n = 0;
    if (!filters)
        return 0;
    int n = cJSON_GetArraySize(filters);
    if (!cJSON_IsArray(filters) || n > FILTERS_MAX) {
        snprintf(err, err_len, "The request may contain at most %d filters.", FILTERS_MAX);
        return -1;
    }
    out->f = calloc((size_t)n + 1, sizeof *out->f);
    if (!out->f) {
        snprintf(err, err_len, "Out of memory.");
        return -1;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, filters) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "Name"));
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(f, "Values");
        if (!name || !name[0]) {
            snprintf(err, err_len, "The filter 'null' is invalid");
            goto fail;
        }
        if (!name_allowed(name, allowed)) {
            snprintf(err, err_len, "The filter '%.200s' is invalid", name);
            goto fail;
        }
        int nv = cJSON_GetArraySize(values);
        if (nv > VALUES_MAX) {
            snprintf(err, err_len, "The filter '%.200s' has more than %d values.", name, VALUES_MAX);
            goto fail;
        }
        struct ec2_filter *dst = &out->f[out->n++];
        dst->name = strdup(name);
        dst->values = calloc((size_t)nv + 1, sizeof *dst->values);
        if (!dst->name || !dst->values) {
            snprintf(err, err_len, "Out of memory.");
            goto fail;
        }
        const cJSON *v;
        cJSON_ArrayForEach(v, values) {
            if (cJSON_IsString(v) && (dst->values[dst->n_values] = strdup(v->valuestring)))
                dst->n_values++;
        }
    }
    return 0;
fail:
    ec2_filters_free(out);
    return -1;
}

/* EC2's wildcards: * any run, ? one character, nothing else special (so not fnmatch()). The
 * usual greedy match with one backtrack point: linear in practice, O(n*m) at worst. */
static int wildcard_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int ec2_filter_value_match(const struct ec2_filter *f, const char *value)
{
    for (int i = 0; i < f->n_values; i++)
        if (wildcard_match(f->values[i], value))
            return 1;
    return 0;
}

int ec2_filters_match(const struct ec2_filters *fs, const char *(*get)(void *ctx, const char *name, int i),
                      void *ctx)
{
    for (int i = 0; i < fs->n; i++) {
        const struct ec2_filter *f = &fs->f[i];
        int hit = 0;
        const char *v;
        for (int k = 0; !hit && (v = get(ctx, f->name, k)) != NULL; k++)
            hit = ec2_filter_value_match(f, v);
        if (!hit)
            return 0;
    }
    return 1;
}
