/* awsconfig.c -- see awsconfig.h.
 *
 * The shared config/credentials files are read with a small reader for their documented format
 * (INI-like sections, `key = value`, `#`/`;` comments, and the indented sub-keys below a key
 * with an empty value that the `services` sections use). None of the allowed libraries reads
 * this format; it is not plain INI because of the nested blocks.
 */
#include "awsconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int add_setting(struct aws_config *c, const char *section, const char *sub, const char *key,
                       const char *value, int from_credentials)
{
    struct aws_setting *n = realloc(c->settings, (c->nsettings + 1) * sizeof *n);
    if (!n)
        return -1;
    c->settings = n;
    struct aws_setting *s = &n[c->nsettings];
    s->section = xstrdup(section);
    s->subsection = xstrdup(sub);
    s->key = xstrdup(key);
    s->value = xstrdup(value);
    s->from_credentials = from_credentials;
    c->nsettings++;
    return s->section && s->key && s->value && (!sub || s->subsection) ? 0 : -1;
}

/* Reads one file into c->settings. Returns 0 (also when the file does not exist) or -1. */
static int read_file(struct aws_config *c, const char *path, int from_credentials, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], section[512] = "", sub[256] = "";
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        int indented = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e) {
                snprintf(err, errlen, "%s:%d: section header without ']'", path, lineno);
                rc = -1;
                break;
            }
            *e = '\0';
            snprintf(section, sizeof section, "%s", trim(s + 1));
            sub[0] = '\0';
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !section[0]) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'%s", path, lineno,
                     section[0] ? "" : " inside a [section]");
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!indented)
            sub[0] = '\0';
        if (!indented && !*value) {
            /* "sqs =" opens a block of indented sub-keys. */
            snprintf(sub, sizeof sub, "%s", key);
            continue;
        }
        if (add_setting(c, section, indented && sub[0] ? sub : NULL, key, value, from_credentials)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

static const char *lookup(const struct aws_config *c, const char *section, const char *sub, const char *key,
                          int from_credentials)
{
    for (size_t i = 0; i < c->nsettings; i++) {
        const struct aws_setting *s = &c->settings[i];
        if (s->from_credentials != from_credentials || strcmp(s->section, section) != 0 ||
            strcmp(s->key, key) != 0)
            continue;
        if ((sub == NULL) != (s->subsection == NULL))
            continue;
        if (sub && strcmp(sub, s->subsection) != 0)
            continue;
        return s->value;
    }
    return NULL;
}

/* The config file's section name for the profile: "default" or "profile NAME". */
static void profile_section(const struct aws_config *c, char *out, size_t n)
{
    if (strcmp(c->profile, "default") == 0)
        snprintf(out, n, "default");
    else
        snprintf(out, n, "profile %s", c->profile);
}

const char *aws_config_get(const struct aws_config *c, const char *key)
{
    const char *v = lookup(c, c->profile, NULL, key, 1);
    if (v)
        return v;
    char sec[512];
    profile_section(c, sec, sizeof sec);
    return lookup(c, sec, NULL, key, 0);
}

static char *home_path(const char *rel)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        home = ".";
    size_t n = strlen(home) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", home, rel);
    return p;
}

static char *fmt(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int aws_config_load(struct aws_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->profile = xstrdup(env("AWS_PROFILE") ? env("AWS_PROFILE") : "default");
    c->config_file = env("AWS_CONFIG_FILE") ? xstrdup(env("AWS_CONFIG_FILE")) : home_path(".aws/config");
    c->credentials_file = env("AWS_SHARED_CREDENTIALS_FILE") ? xstrdup(env("AWS_SHARED_CREDENTIALS_FILE"))
                                                            : home_path(".aws/credentials");
    if (!c->profile || !c->config_file || !c->credentials_file) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (read_file(c, c->credentials_file, 1, err, errlen) || read_file(c, c->config_file, 0, err, errlen))
        return -1;

    /* Region. */
    const char *v;
    if ((v = env("AWS_REGION"))) {
        c->region = xstrdup(v);
        c->region_source = xstrdup("AWS_REGION");
    } else if ((v = env("AWS_DEFAULT_REGION"))) {
        c->region = xstrdup(v);
        c->region_source = xstrdup("AWS_DEFAULT_REGION");
    } else if ((v = aws_config_get(c, "region"))) {
        c->region = xstrdup(v);
        c->region_source = fmt("region of profile ", c->profile, "");
    }

    /* Credentials: the environment as a pair, else the profile (credentials file first). */
    if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
        c->access_key = xstrdup(env("AWS_ACCESS_KEY_ID"));
        c->secret_key = xstrdup(env("AWS_SECRET_ACCESS_KEY"));
        c->session_token = xstrdup(env("AWS_SESSION_TOKEN"));
        c->credentials_source = xstrdup("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
    } else {
        for (int file = 1; file >= 0 && !c->access_key; file--) {
            char sec[512];
            if (file)
                snprintf(sec, sizeof sec, "%s", c->profile);
            else
                profile_section(c, sec, sizeof sec);
            const char *ak = lookup(c, sec, NULL, "aws_access_key_id", file);
            const char *sk = lookup(c, sec, NULL, "aws_secret_access_key", file);
            if (ak && sk) {
                c->access_key = xstrdup(ak);
                c->secret_key = xstrdup(sk);
                c->session_token = xstrdup(lookup(c, sec, NULL, "aws_session_token", file));
                c->credentials_source = fmt("profile ", c->profile,
                                            file ? " in the credentials file" : " in the config file");
            }
        }
    }
    c->services_section = xstrdup(aws_config_get(c, "services"));
    return 0;
}

/* AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, else the profile's ignore_configure_endpoint_urls: "true"
 * turns every configured endpoint off (the AWS tools' switch back to real AWS). Returns the name
 * of the setting that did so, or NULL. */
static const char *endpoints_ignored(const struct aws_config *c)
{
    const char *v = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (v)
        return strcasecmp(v, "true") == 0 ? "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" : NULL;
    v = aws_config_get(c, "ignore_configure_endpoint_urls");
    return v && strcasecmp(v, "true") == 0 ? "ignore_configure_endpoint_urls" : NULL;
}

int aws_config_endpoint(const struct aws_config *c, const struct aws_service_id *svc, char **url, char **source)
{
    char name[128];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", svc->env_suffix);
    const char *v, *ignored = endpoints_ignored(c);
    *url = *source = NULL;
    if (ignored) {
        /* straight to the regional endpoint below */
    } else if ((v = env(name))) {
        *url = xstrdup(v);
        *source = xstrdup(name);
    } else if ((v = env("AWS_ENDPOINT_URL"))) {
        *url = xstrdup(v);
        *source = xstrdup("AWS_ENDPOINT_URL");
    } else if (c->services_section) {
        char sec[512];
        snprintf(sec, sizeof sec, "services %s", c->services_section);
        if ((v = lookup(c, sec, svc->config_key, "endpoint_url", 0))) {
            *url = xstrdup(v);
            *source = fmt("[services ", c->services_section, "] endpoint_url in the config file");
        }
    }
    if (!*url && !ignored && (v = aws_config_get(c, "endpoint_url"))) {
        *url = xstrdup(v);
        *source = fmt("endpoint_url of profile ", c->profile, "");
    }
    if (!*url) {
        const char *region = c->region ? c->region : "us-east-1";
        const char *suffix = strncmp(region, "cn-", 3) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com";
        size_t n = strlen(svc->host_prefix) + strlen(region) + strlen(suffix) + 16;
        *url = malloc(n);
        if (*url)
            snprintf(*url, n, "https://%s.%s%s", svc->host_prefix, region, suffix);
        char tail[128] = ")";
        if (ignored)
            snprintf(tail, sizeof tail, "; configured endpoints ignored: %s)", ignored);
        *source = fmt("the default regional endpoint (region from ",
                      c->region_source ? c->region_source : "the built-in default us-east-1", tail);
    }
    /* Drop a trailing slash so paths can be appended. */
    if (*url) {
        size_t n = strlen(*url);
        while (n > 0 && (*url)[n - 1] == '/')
            (*url)[--n] = '\0';
    }
    return *url && *source ? 0 : -1;
}

void aws_config_free(struct aws_config *c)
{
    for (size_t i = 0; i < c->nsettings; i++) {
        free(c->settings[i].section);
        free(c->settings[i].subsection);
        free(c->settings[i].key);
        free(c->settings[i].value);
    }
    free(c->settings);
    free(c->profile);
    free(c->region);
    free(c->region_source);
    free(c->access_key);
    free(c->secret_key);
    free(c->session_token);
    free(c->credentials_source);
    free(c->config_file);
    free(c->credentials_file);
    free(c->services_section);
    memset(c, 0, sizeof *c);
}
