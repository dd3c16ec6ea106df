/* form.c -- application/x-www-form-urlencoded bodies and query strings (see protocol.h). */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "util.h"

static char *decode_part(const char *s, size_t len, size_t *out_len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    long n = url_decode(s, len, out, 1);
    if (n < 0) {
        free(out);
        return NULL;
    }
    if (out_len)
        *out_len = (size_t)n;
    return out;
}

int form_parse(const char *s, size_t len, struct dss_kv **kv, size_t *n, size_t max)
{
    const char *end = s + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        if (stop > s) {
            if (*n >= max)
                return -1;
            const char *eq = memchr(s, '=', (size_t)(stop - s));
            const char *name_end = eq ? eq : stop;
            struct dss_kv *grown = realloc(*kv, (*n + 1) * sizeof **kv);
            if (!grown)
                return -1;
            *kv = grown;
            struct dss_kv *p = &grown[*n];
            p->name = decode_part(s, (size_t)(name_end - s), NULL);
            p->value = eq ? decode_part(eq + 1, (size_t)(stop - eq - 1), &p->value_len)
                          : decode_part("", 0, &p->value_len);
            if (!p->name || !p->value) {
                free(p->name);
                free(p->value);
                return -1;
            }
            (*n)++;
        }
        s = amp ? amp + 1 : end;
    }
    return 0;
}

void form_free(struct dss_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

const char *form_get(const struct dss_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0)
            return kv[i].value;
    return NULL;
}
