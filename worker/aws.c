/* aws -- the AWS CLI's S3 commands, for jobs running inside a dss worker.
 *
 * Job commands written for real instances call `aws s3 cp|sync|ls|rm|mb`; a worker puts this
 * program first on PATH so they run unchanged against the emulator (AWS_ENDPOINT_URL, or
 * DSS_ENDPOINT, or --endpoint-url). It speaks the S3 REST API (path-style PutObject,
 * GetObject, HeadObject, DeleteObject, CreateBucket, ListBuckets, ListObjectsV2) with libcurl,
 * reads the XML with libxml2, and prints what the real CLI prints, line for line:
 *   upload: ./a.out to s3://b/p/a.out      download: s3://b/p/x to ./x
 *   copy: s3://a/k to s3://b/k             delete: s3://b/k        make_bucket: b
 *   2024-01-01 00:00:00       1234 key     PRE dir/
 * Failures print "upload failed: ... An error occurred (Code) when calling the Op operation:
 * Message" and exit 1 (transfers) or 254 (other service errors), as AWS CLI v2 does.
 *
 * Supported options: --recursive, --quiet, --only-show-errors, --no-progress, --exclude /
 * --include (one glob each, cp/sync/rm), --delete (sync), --endpoint-url, --region, --output
 * (ignored). Every request is SigV4-signed (sign.c) with the key pair in AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, which the emulator gives each worker, and the body's real SHA-256 in
 * x-amz-content-sha256, so jobs work under dss-emulator --auth verify. Not supported: multipart uploads (one PUT per file,
 * up to S3's 5 GB), other services (exit 252 with a message), presigning.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "s3req.h"

struct opts {
    const char *endpoint, *region;
    int recursive, quiet, errors_only, delete_extra;
    const char *exclude, *include;
};
static struct opts o;

/* An S3 answer (s3req.h) and, when it failed, its error as the CLI names it. */
struct response {
    struct s3_reply rep;
    char err_code[128], err_msg[512];
};

static void xml_error(struct response *r)
{
    r->err_code[0] = r->err_msg[0] = '\0';
    xmlDocPtr doc = r->rep.body_len ? xmlReadMemory(r->rep.body, (int)r->rep.body_len, NULL, NULL, XML_PARSE_NONET) : NULL;
    for (xmlNodePtr n = doc ? xmlDocGetRootElement(doc)->children : NULL; n; n = n->next) {
        xmlChar *t = xmlNodeGetContent(n);
        if (!xmlStrcmp(n->name, BAD_CAST "Code"))
            snprintf(r->err_code, sizeof r->err_code, "%s", (char *)t);
        else if (!xmlStrcmp(n->name, BAD_CAST "Message"))
            snprintf(r->err_msg, sizeof r->err_msg, "%s", (char *)t);
        xmlFree(t);
    }
    xmlFreeDoc(doc);
    if (!r->err_code[0]) {
        snprintf(r->err_code, sizeof r->err_code, "%ld", r->rep.status);
        snprintf(r->err_msg, sizeof r->err_msg, r->rep.status == 404 ? "Not Found" : "HTTP %ld", r->rep.status);
    }
}

/* One S3 request (s3req.h): method on /bucket[/key][?query]; upload from in (size bytes) or
 * download into out (else into r->rep.body). Returns 0 on a 2xx; else r names the error as the CLI
 * would. */
static int s3(const char *method, const char *bucket, const char *key, const char *query, FILE *in, curl_off_t size,
              FILE *out, struct response *r)
{
    memset(r, 0, sizeof *r);
    if (s3_request(o.endpoint, o.region, method, bucket, key, query, in, size, out, &r->rep) == 0)
        return 0;
    switch (r->rep.outcome) {
    case S3_UNREADABLE:
        snprintf(r->err_code, sizeof r->err_code, "ReadError");
        snprintf(r->err_msg, sizeof r->err_msg, "%s", strerror(errno));
        break;
    case S3_UNSIGNABLE:
        snprintf(r->err_code, sizeof r->err_code, "InvalidURL");
        snprintf(r->err_msg, sizeof r->err_msg, "Cannot sign a request to \"%.400s\"", r->rep.url);
        break;
    case S3_NO_CONNECTION:
        snprintf(r->err_code, sizeof r->err_code, "EndpointConnectionError");
        snprintf(r->err_msg, sizeof r->err_msg, "Could not connect to the endpoint URL: \"%.400s\"", r->rep.url);
        break;
    case S3_ANSWERED:
        xml_error(r);
        break;
    }
    return -1;
}

static void response_free(struct response *r)
{
    s3_reply_free(&r->rep);
}

/* ---- Paths ---- */

static int parse_s3(const char *uri, char *bucket, size_t bn, char *key, size_t kn)
{
    if (strncmp(uri, "s3://", 5))
        return -1;
    const char *p = uri + 5, *slash = strchr(p, '/');
    snprintf(bucket, bn, "%.*s", slash ? (int)(slash - p) : (int)strlen(p), p);
    snprintf(key, kn, "%s", slash ? slash + 1 : "");
    return bucket[0] ? 0 : -1;
}

/* The real CLI shows local paths relative to the current directory, "./x" or "../x". */
static void display_path(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX], abs_[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    int len = path[0] == '/' ? snprintf(abs_, sizeof abs_, "%s", path)
                             : snprintf(abs_, sizeof abs_, "%s/%s", cwd, path);
    if (len < 0 || (size_t)len >= sizeof abs_) { /* longer than any real path: show it as given */
        snprintf(out, n, "%s", path);
        return;
    }
    /* normalise "/./" and a leading "./" */
    char norm[PATH_MAX] = "";
    char *save, *tok, copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", abs_);
    for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (!strcmp(tok, "."))
            continue;
        if (!strcmp(tok, "..")) {
            char *s = strrchr(norm, '/');
            if (s)
                *s = '\0';
            continue;
        }
        size_t l = strlen(norm);
        snprintf(norm + l, sizeof norm - l, "/%s", tok);
    }
    size_t cl = strlen(cwd);
    if (!strncmp(norm, cwd, cl) && (norm[cl] == '/' || !norm[cl]))
        snprintf(out, n, ".%s", norm + cl);
    else {
        /* up from cwd to the common prefix */
        char rel[PATH_MAX] = "";
        char c2[PATH_MAX];
        snprintf(c2, sizeof c2, "%s", cwd);
        while (c2[0] && strncmp(norm, c2, strlen(c2))) {
            char *s = strrchr(c2, '/');
            if (!s)
                break;
            *s = '\0';
            strncat(rel, "../", sizeof rel - strlen(rel) - 1);
        }
        const char *rest = norm + strlen(c2);
        snprintf(out, n, "%s%s", rel, rest[0] == '/' ? rest + 1 : rest);
    }
}

static int filtered(const char *rel)
{
    if (o.include && !fnmatch(o.include, rel, 0))
        return 0;
    return o.exclude && !fnmatch(o.exclude, rel, 0);
}

static void say(const char *fmt, const char *a, const char *b)
{
    if (o.quiet || o.errors_only)
        return;
    printf(fmt, a, b);
    fflush(stdout);
}

static void fail_line(const char *what, const char *a, const char *b, const char *op, struct response *r)
{
    if (o.quiet)
        return;
    fprintf(stderr, "%s failed: %s to %s An error occurred (%s) when calling the %s operation: %s\n", what, a, b,
            r->err_code, op, r->err_msg);
}

/* ---- Transfers ---- */

static int upload(const char *file, const char *bucket, const char *key)
{
    char shown[PATH_MAX], dest[8192];
    display_path(file, shown, sizeof shown);
    snprintf(dest, sizeof dest, "s3://%s/%s", bucket, key);
    FILE *f = fopen(file, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb)) {
        if (f)
            fclose(f);
        fprintf(stderr, "upload failed: %s to %s [Errno %d] %s: '%s'\n", shown, dest, errno, strerror(errno), file);
        return 1;
    }
    struct response r = {0};
    int rc = s3("PUT", bucket, key, NULL, f, (curl_off_t)sb.st_size, NULL, &r);
    fclose(f);
    if (rc)
        fail_line("upload", shown, dest, "PutObject", &r);
    else
        say("upload: %s to %s\n", shown, dest);
    response_free(&r);
    return rc ? 1 : 0;
}

static int mkdirs_for(const char *file)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", file);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int download(const char *bucket, const char *key, const char *file)
{
    char shown[PATH_MAX], src[8192], part[PATH_MAX + 16];
    display_path(file, shown, sizeof shown);
    snprintf(src, sizeof src, "s3://%s/%s", bucket, key);
    snprintf(part, sizeof part, "%s.dss-part", file);
    mkdirs_for(file);
    FILE *f = fopen(part, "w+b");
    if (!f) {
        fprintf(stderr, "download failed: %s to %s [Errno %d] %s: '%s'\n", src, shown, errno, strerror(errno), file);
        return 1;
    }
    struct response r = {0};
    int rc = s3("GET", bucket, key, NULL, NULL, 0, f, &r);
    fclose(f);
    if (rc) {
        unlink(part);
        fail_line("download", src, shown, "GetObject", &r);
    } else if (rename(part, file)) {
        unlink(part);
        fprintf(stderr, "download failed: %s to %s [Errno %d] %s\n", src, shown, errno, strerror(errno));
        rc = -1;
    } else {
        if (r.rep.mtime) { /* as the CLI does: the file gets the object's LastModified */
            struct timespec ts[2] = {{r.rep.mtime, 0}, {r.rep.mtime, 0}};
            utimensat(AT_FDCWD, file, ts, 0);
        }
        say("download: %s to %s\n", src, shown);
    }
    response_free(&r);
    return rc ? 1 : 0;
}

static int copy_object(const char *sb, const char *sk, const char *db, const char *dk)
{
    char src[8192], dst[8192];
    snprintf(src, sizeof src, "s3://%s/%s", sb, sk);
    snprintf(dst, sizeof dst, "s3://%s/%s", db, dk);
    FILE *tmp = tmpfile();
    struct response r = {0};
    int rc = tmp ? s3("GET", sb, sk, NULL, NULL, 0, tmp, &r) : -1;
    if (rc == 0) {
        response_free(&r);
        long n = ftell(tmp);
        rewind(tmp);
        rc = s3("PUT", db, dk, NULL, tmp, (curl_off_t)n, NULL, &r);
    }
    if (tmp)
        fclose(tmp);
    if (rc)
        fail_line("copy", src, dst, "CopyObject", &r);
    else
        say("copy: %s to %s\n", src, dst);
    response_free(&r);
    return rc ? 1 : 0;
}

/* ---- Listing ---- */

struct object {
    char *key;
    long long size;
    time_t mtime;
};

struct listing {
    struct object *objs;
    size_t n;
    char **prefixes;
    size_t n_prefixes;
};

static time_t parse_iso(const char *s)
{
    struct tm tm = {0};
    if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    return timegm(&tm);
}

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->objs[i].key);
    for (size_t i = 0; i < l->n_prefixes; i++)
        free(l->prefixes[i]);
    free(l->objs);
    free(l->prefixes);
    memset(l, 0, sizeof *l);
}

/* ListObjectsV2, every page. Returns 0, or -1 with the error in *err. */
static int list(const char *bucket, const char *prefix, int delimited, struct listing *l, struct response *err)
{
    char token[2048] = "", eprefix[4096], query[16384];
    s3_url_escape(eprefix, sizeof eprefix, prefix, 0);
    memset(l, 0, sizeof *l);
    for (;;) {
        char etok[4096];
        s3_url_escape(etok, sizeof etok, token, 0);
        snprintf(query, sizeof query, "list-type=2&prefix=%s%s%s%s", eprefix, delimited ? "&delimiter=%2F" : "",
                 token[0] ? "&continuation-token=" : "", token[0] ? etok : "");
        xmlDocPtr doc = NULL;
        if (s3("GET", bucket, NULL, query, NULL, 0, NULL, err) == 0) {
            doc = xmlReadMemory(err->rep.body, (int)err->rep.body_len, NULL, NULL, XML_PARSE_NONET);
            response_free(err);
        }
        if (!doc) { /* a later page failed: nothing of the earlier ones is kept */
            listing_free(l);
            return -1;
        }
        int truncated = 0;
        token[0] = '\0';
        for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
            if (n->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrcmp(n->name, BAD_CAST "Contents")) {
                struct object ob = {0};
                for (xmlNodePtr c = n->children; c; c = c->next) {
                    xmlChar *t = xmlNodeGetContent(c);
                    if (!t)
                        continue;
                    if (!xmlStrcmp(c->name, BAD_CAST "Key")) {
                        free(ob.key); /* a repeated Key: the last one counts */
                        ob.key = strdup((char *)t);
                    } else if (!xmlStrcmp(c->name, BAD_CAST "Size")) {
                        ob.size = strtoll((char *)t, NULL, 10);
                    } else if (!xmlStrcmp(c->name, BAD_CAST "LastModified")) {
                        ob.mtime = parse_iso((char *)t);
                    }
                    xmlFree(t);
                }
                struct object *g = ob.key ? realloc(l->objs, (l->n + 1) * sizeof *g) : NULL;
                if (g) {
                    l->objs = g;
                    l->objs[l->n++] = ob;
                } else {
                    free(ob.key);
                }
            } else if (!xmlStrcmp(n->name, BAD_CAST "CommonPrefixes")) {
                xmlChar *t = xmlNodeGetContent(n);
                char **g = realloc(l->prefixes, (l->n_prefixes + 1) * sizeof *g);
                if (g) {
                    l->prefixes = g;
                    l->prefixes[l->n_prefixes++] = strdup(t ? (char *)t : "");
                }
                xmlFree(t);
            } else if (!xmlStrcmp(n->name, BAD_CAST "IsTruncated")) {
                xmlChar *t = xmlNodeGetContent(n);
                truncated = !xmlStrcmp(t, BAD_CAST "true");
                xmlFree(t);
            } else if (!xmlStrcmp(n->name, BAD_CAST "NextContinuationToken")) {
                xmlChar *t = xmlNodeGetContent(n);
                snprintf(token, sizeof token, "%s", (char *)t);
                xmlFree(t);
            }
        }
        xmlFreeDoc(doc);
        if (!truncated || !token[0])
            return 0;
    }
}

static int cmd_ls(int argc, char **argv)
{
    char bucket[256], key[4096], when[32];
    struct response r = {0};
    if (argc == 0) {
        if (s3("GET", NULL, NULL, NULL, NULL, 0, NULL, &r)) {
            fprintf(stderr, "\nAn error occurred (%s) when calling the ListBuckets operation: %s\n", r.err_code, r.err_msg);
            response_free(&r);
            return 254;
        }
        xmlDocPtr doc = xmlReadMemory(r.rep.body, (int)r.rep.body_len, NULL, NULL, XML_PARSE_NONET);
        response_free(&r);
        for (xmlNodePtr n = doc ? xmlDocGetRootElement(doc)->children : NULL; n; n = n->next)
            for (xmlNodePtr b = !xmlStrcmp(n->name, BAD_CAST "Buckets") ? n->children : NULL; b; b = b->next) {
                char name[256] = "";
                time_t t = 0;
                for (xmlNodePtr c = b->children; c; c = c->next) {
                    xmlChar *v = xmlNodeGetContent(c);
                    if (!xmlStrcmp(c->name, BAD_CAST "Name"))
                        snprintf(name, sizeof name, "%s", (char *)v);
                    else if (!xmlStrcmp(c->name, BAD_CAST "CreationDate"))
                        t = parse_iso((char *)v);
                    xmlFree(v);
                }
                if (name[0]) {
                    struct tm tm;
                    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
                    printf("%s %s\n", when, name);
                }
            }
        xmlFreeDoc(doc);
        return 0;
    }
    if (parse_s3(argv[0], bucket, sizeof bucket, key, sizeof key)) {
        fprintf(stderr, "aws: s3 ls wants s3://bucket[/prefix], got %s\n", argv[0]);
        return 252;
    }
    struct listing l;
    if (list(bucket, key, !o.recursive, &l, &r)) {
        fprintf(stderr, "\nAn error occurred (%s) when calling the ListObjectsV2 operation: %s\n", r.err_code, r.err_msg);
        response_free(&r);
        return 254;
    }
    const char *slash = strrchr(key, '/');
    size_t cut = o.recursive ? 0 : slash ? (size_t)(slash - key + 1) : 0;
    for (size_t i = 0; i < l.n_prefixes; i++)
        printf("                           PRE %s\n", l.prefixes[i] + cut);
    for (size_t i = 0; i < l.n; i++) {
        struct tm tm;
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime_r(&l.objs[i].mtime, &tm));
        printf("%s %10lld %s\n", when, l.objs[i].size, l.objs[i].key + cut);
    }
    int empty = !l.n && !l.n_prefixes;
    listing_free(&l);
    return empty && key[0] ? 1 : 0;
}

/* Local files under dir (relative names), recursively. */
static void walk(const char *root, const char *rel, char ***out, size_t *n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char r2[PATH_MAX], full[PATH_MAX * 2];
        snprintf(r2, sizeof r2, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", root, r2);
        struct stat sb;
        if (stat(full, &sb))
            continue;
        if (S_ISDIR(sb.st_mode)) {
            walk(root, r2, out, n);
        } else if (S_ISREG(sb.st_mode) && !strstr(e->d_name, ".dss-part")) {
            char **g = realloc(*out, (*n + 1) * sizeof *g);
            if (g) {
                *out = g;
                (*out)[(*n)++] = strdup(r2);
            }
        }
    }
    closedir(d);
}

static void join_key(char *out, size_t n, const char *prefix, const char *rel)
{
    size_t pl = strlen(prefix);
    snprintf(out, n, "%s%s%s", prefix, pl && prefix[pl - 1] != '/' ? "/" : "", rel);
}

static int cmd_cp_sync(int sync, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: aws s3 %s <LocalPath> <S3Uri> or <S3Uri> <LocalPath> or <S3Uri> <S3Uri>\n",
                sync ? "sync" : "cp");
        return 252;
    }
    const char *src = argv[0], *dst = argv[1];
    char sb[256], sk[4096], db[256], dk[4096];
    int s_s3 = !parse_s3(src, sb, sizeof sb, sk, sizeof sk), d_s3 = !parse_s3(dst, db, sizeof db, dk, sizeof dk);
    int rc = 0;
    if (!s_s3 && !d_s3) {
        fprintf(stderr, "aws: one of the paths must be an s3:// URI\n");
        return 252;
    }
    if (!sync && !o.recursive) { /* one object */
        const char *base;
        char key[8192], file[PATH_MAX + 512];
        if (!s_s3) {
            base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
            if (!dk[0] || dk[strlen(dk) - 1] == '/')
                snprintf(key, sizeof key, "%s%s", dk, base);
            else
                snprintf(key, sizeof key, "%s", dk);
            return upload(src, db, key);
        }
        base = strrchr(sk, '/') ? strrchr(sk, '/') + 1 : sk;
        if (d_s3) {
            snprintf(key, sizeof key, "%s%s", dk, !dk[0] || dk[strlen(dk) - 1] == '/' ? base : "");
            return copy_object(sb, sk, db, key);
        }
        struct stat st;
        if ((stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) || dst[strlen(dst) - 1] == '/')
            snprintf(file, sizeof file, "%s%s%s", dst, dst[strlen(dst) - 1] == '/' ? "" : "/", base);
        else
            snprintf(file, sizeof file, "%s", dst);
        return download(sb, sk, file);
    }
    if (!s_s3) { /* a local directory up */
        char **files = NULL;
        size_t n = 0;
        walk(src, "", &files, &n);
        struct listing l = {0};
        struct response r = {0};
        if (sync && list(db, dk, 0, &l, &r)) {
            if (!strcmp(r.err_code, "NoSuchBucket") || r.rep.status) {
                fprintf(stderr, "fatal error: An error occurred (%s) when calling the ListObjectsV2 operation: %s\n",
                        r.err_code, r.err_msg);
                response_free(&r);
                for (size_t i = 0; i < n; i++)
                    free(files[i]);
                free(files);
                return 1;
            }
        }
        for (size_t i = 0; i < n; i++) {
            char key[8192], path[PATH_MAX * 2];
            join_key(key, sizeof key, dk, files[i]);
            snprintf(path, sizeof path, "%s/%s", src, files[i]);
            int skip = filtered(files[i]);
            if (sync && !skip) {
                struct stat st;
                stat(path, &st);
                for (size_t k = 0; k < l.n; k++)
                    if (!strcmp(l.objs[k].key, key))
                        skip = l.objs[k].size == (long long)st.st_size && st.st_mtime <= l.objs[k].mtime;
            }
            if (!skip)
                rc |= upload(path, db, key);
        }
        if (sync && o.delete_extra) {
            size_t pl = strlen(dk) + (dk[0] && dk[strlen(dk) - 1] != '/');
            for (size_t k = 0; k < l.n; k++) {
                int have = 0;
                for (size_t i = 0; i < n && !have; i++)
                    have = !strcmp(files[i], l.objs[k].key + (strlen(l.objs[k].key) >= pl ? pl : 0));
                if (!have) {
                    char uri[8192];
                    snprintf(uri, sizeof uri, "s3://%s/%s", db, l.objs[k].key);
                    if (s3("DELETE", db, l.objs[k].key, NULL, NULL, 0, NULL, &r) == 0)
                        say("delete: %s%s\n", uri, "");
                    response_free(&r);
                }
            }
        }
        listing_free(&l);
        for (size_t i = 0; i < n; i++)
            free(files[i]);
        free(files);
        return rc;
    }
    /* A prefix down (or across). */
    struct listing l;
    struct response r = {0};
    if (list(sb, sk, 0, &l, &r)) {
        fprintf(stderr, "fatal error: An error occurred (%s) when calling the ListObjectsV2 operation: %s\n",
                r.err_code, r.err_msg);
        response_free(&r);
        return 1;
    }
    size_t pl = strlen(sk) + (sk[0] && sk[strlen(sk) - 1] != '/');
    for (size_t k = 0; k < l.n; k++) {
        const char *rel = strlen(l.objs[k].key) >= pl ? l.objs[k].key + pl : l.objs[k].key;
        if (!*rel || rel[strlen(rel) - 1] == '/' || filtered(rel))
            continue;
        if (d_s3) {
            char key[8192];
            join_key(key, sizeof key, dk, rel);
            rc |= copy_object(sb, l.objs[k].key, db, key);
            continue;
        }
        char file[PATH_MAX * 2];
        snprintf(file, sizeof file, "%s/%s", dst, rel);
        struct stat st;
        if (sync && stat(file, &st) == 0 && st.st_size == l.objs[k].size && st.st_mtime >= l.objs[k].mtime)
            continue;
        rc |= download(sb, l.objs[k].key, file);
    }
    listing_free(&l);
    return rc;
}

static int cmd_rm(int argc, char **argv)
{
    char b[256], k[4096], uri[8192];
    if (argc != 1 || parse_s3(argv[0], b, sizeof b, k, sizeof k)) {
        fprintf(stderr, "usage: aws s3 rm <S3Uri>\n");
        return 252;
    }
    struct response r = {0};
    int rc = 0;
    if (!o.recursive) {
        if (s3("DELETE", b, k, NULL, NULL, 0, NULL, &r)) {
            fprintf(stderr, "delete failed: %s An error occurred (%s) when calling the DeleteObject operation: %s\n",
                    argv[0], r.err_code, r.err_msg);
            rc = 1;
        } else {
            say("delete: %s%s\n", argv[0], "");
        }
        response_free(&r);
        return rc;
    }
    struct listing l;
    if (list(b, k, 0, &l, &r)) {
        fprintf(stderr, "fatal error: An error occurred (%s) when calling the ListObjectsV2 operation: %s\n",
                r.err_code, r.err_msg);
        response_free(&r);
        return 1;
    }
    for (size_t i = 0; i < l.n; i++) {
        snprintf(uri, sizeof uri, "s3://%s/%s", b, l.objs[i].key);
        if (filtered(l.objs[i].key))
            continue;
        if (s3("DELETE", b, l.objs[i].key, NULL, NULL, 0, NULL, &r)) {
            fprintf(stderr, "delete failed: %s An error occurred (%s) when calling the DeleteObject operation: %s\n",
                    uri, r.err_code, r.err_msg);
            rc = 1;
        } else {
            say("delete: %s%s\n", uri, "");
        }
        response_free(&r);
    }
    listing_free(&l);
    return rc;
}

static int cmd_mb(int argc, char **argv)
{
    char b[256], k[4096];
    if (argc != 1 || parse_s3(argv[0], b, sizeof b, k, sizeof k)) {
        fprintf(stderr, "usage: aws s3 mb s3://bucket\n");
        return 252;
    }
    struct response r = {0};
    int rc = s3("PUT", b, NULL, NULL, NULL, 0, NULL, &r);
    if (rc)
        fprintf(stderr, "make_bucket failed: s3://%s An error occurred (%s) when calling the CreateBucket operation: "
                "%s\n", b, r.err_code, r.err_msg);
    else
        say("make_bucket: %s%s\n", b, "");
    response_free(&r);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    char *args[64];
    int n = 0;
    o.endpoint = getenv("AWS_ENDPOINT_URL") ? getenv("AWS_ENDPOINT_URL") : getenv("DSS_ENDPOINT");
    o.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : getenv("AWS_DEFAULT_REGION");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version")) {
            puts("aws-cli/2.9.19 Python/3.11 Linux dss-worker-shim");
            return 0;
        }
        if ((!strcmp(a, "--endpoint-url") || !strcmp(a, "--region") || !strcmp(a, "--output") ||
             !strcmp(a, "--exclude") || !strcmp(a, "--include") || !strcmp(a, "--profile")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--endpoint-url")) o.endpoint = v;
            else if (!strcmp(a, "--region")) o.region = v;
            else if (!strcmp(a, "--exclude")) o.exclude = v;
            else if (!strcmp(a, "--include")) o.include = v;
            continue;
        }
        if (!strcmp(a, "--recursive")) o.recursive = 1;
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else if (!strcmp(a, "--only-show-errors")) o.errors_only = 1;
        else if (!strcmp(a, "--delete")) o.delete_extra = 1;
        else if (!strcmp(a, "--no-progress") || !strcmp(a, "--no-sign-request") || !strcmp(a, "--no-paginate")) ;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "aws: option %s is not supported by the dss worker's aws (s3 cp/sync/ls/rm/mb)\n", a);
            return 252;
        } else if (n < 64) {
            args[n++] = argv[i];
        }
    }
    if (!o.endpoint || !*o.endpoint) {
        fprintf(stderr, "aws: no endpoint: set AWS_ENDPOINT_URL or pass --endpoint-url\n");
        return 255;
    }
    if (!o.region || !*o.region)
        o.region = "us-east-1";
    if (n < 2 || strcmp(args[0], "s3")) {
        fprintf(stderr, "aws: the dss worker's aws supports: aws s3 cp|sync|ls|rm|mb\n");
        return 252;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *cmd = args[1];
    int rc = !strcmp(cmd, "ls") ? cmd_ls(n - 2, args + 2)
           : !strcmp(cmd, "cp") ? cmd_cp_sync(0, n - 2, args + 2)
           : !strcmp(cmd, "sync") ? cmd_cp_sync(1, n - 2, args + 2)
           : !strcmp(cmd, "rm") ? cmd_rm(n - 2, args + 2)
           : !strcmp(cmd, "mb") ? cmd_mb(n - 2, args + 2)
           : (fprintf(stderr, "aws: s3 %s is not supported here (cp, sync, ls, rm, mb)\n", cmd), 252);
    curl_global_cleanup();
    return rc;
}
