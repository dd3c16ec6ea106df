/* store.c -- object bytes on disk, under DATA/s3/:
 *
 *   tmp/<id>             a body being received; never read by anyone else
 *   objects/<xx>/<id>    the bytes of an object or an uploaded part (xx: the id's first two
 *                        hex digits, so no directory grows past a few thousand entries)
 *
 * An id is 32 random hex digits: file names never derive from keys, so no key can name a
 * path. A file is written whole in tmp/, then renamed into objects/ under a fresh id before
 * the transaction that makes a row point at it; a replaced object's old file is deleted only
 * after that transaction commits. Files in objects/ are never modified in place, so a reader
 * that has opened one keeps consistent bytes whatever happens next, and a crash at any point
 * leaves either the old object or the new one whole -- at worst an orphan file, which the
 * start-up sweep deletes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "s3.h"
#include "util.h"

static char root[3000]; /* DATA/s3; room left in every path buffer below */

static int valid_id(const char *id)
{
    return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

static void new_id(char id[S3_FILE_ID])
{
    uuid_t u;
    uuid_generate_random(u);
    hex_encode(u, 16, id);
}

static int object_path(const char *id, char *out, size_t n)
{
    if (!valid_id(id)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(out, n, "%s/objects/%.2s/%s", root, id, id);
    return 0;
}

static void tmp_path(const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/tmp/%s", root, id);
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    log_error("s3: cannot create %s: %s", path, strerror(errno));
    return -1;
}

/* Deletes every file in dir (a crash's unfinished uploads). */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

int s3_store_open(const char *data_dir)
{
    char path[4096];
    snprintf(root, sizeof root, "%s/s3", data_dir);
    snprintf(path, sizeof path, "%s/objects", root);
    if (make_dir(root) || make_dir(path))
        return -1;
    snprintf(path, sizeof path, "%s/tmp", root);
    if (make_dir(path))
        return -1;
    empty_dir(path);
    for (int i = 0; i < 256; i++) {
        snprintf(path, sizeof path, "%s/objects/%02x", root, i);
        if (make_dir(path))
            return -1;
    }
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file id the database refers to, sorted. */
static char **referenced_ids(sqlite3 *db, size_t *n)
{
    sqlite3_stmt *st = NULL;
    char **ids = NULL;
    size_t cap = 0;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT file FROM s3_objects UNION ALL SELECT file FROM s3_parts", -1, &st,
                           NULL) != SQLITE_OK)
        return NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **grown = realloc(ids, cap * sizeof *grown);
            if (!grown)
                break;
            ids = grown;
        }
        ids[(*n)++] = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (ids)
        qsort(ids, *n, sizeof *ids, id_cmp);
    return ids;
}

void s3_store_sweep(sqlite3 *db)
{
    size_t n = 0, removed = 0;
    char **ids = referenced_ids(db, &n);
    char dir[3100];
    for (int i = 0; i < 256; i++) {
        snprintf(dir, sizeof dir, "%s/objects/%02x", root, i);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            const char *name = e->d_name;
            if (name[0] == '.' || (ids && bsearch(&name, ids, n, sizeof *ids, id_cmp)))
                continue;
            if (unlinkat(dirfd(d), name, 0) == 0)
                removed++;
        }
        if (d)
            closedir(d);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    if (removed)
        log_info("s3: removed %zu unreferenced object files", removed);
}

int s3_tmp_create(struct s3_tmp *t)
{
    char path[4096];
    new_id(t->id);
    tmp_path(t->id, path, sizeof path);
    t->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return t->fd < 0 ? -1 : 0;
}

int s3_tmp_write(struct s3_tmp *t, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(t->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int s3_tmp_place(struct s3_tmp *t)
{
    char from[4096], to[4096];
    tmp_path(t->id, from, sizeof from);
    object_path(t->id, to, sizeof to);
    int rc = close(t->fd);
    t->fd = -1;
    if (rc == 0 && rename(from, to) == 0)
        return 0;
    log_error("s3: cannot place %s: %s", to, strerror(errno));
    unlink(from);
    return -1;
}

void s3_tmp_discard(struct s3_tmp *t)
{
    if (t->fd < 0)
        return;
    char path[4096];
    close(t->fd);
    t->fd = -1;
    tmp_path(t->id, path, sizeof path);
    unlink(path);
}

int s3_file_open(const char *id)
{
    char path[4096];
    if (object_path(id, path, sizeof path))
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
}

void s3_file_remove(const char *id)
{
    char path[4096];
    if (object_path(id, path, sizeof path) == 0 && unlink(path) != 0 && errno != ENOENT)
        log_warn("s3: cannot remove %s: %s", path, strerror(errno));
}

int s3_file_link(const char *id, char new_name[S3_FILE_ID])
{
    char from[4096], to[4096];
    new_id(new_name);
    if (object_path(id, from, sizeof from) || object_path(new_name, to, sizeof to))
        return -1;
    return link(from, to);
}

/* Through a buffer, when the bytes must be seen (digest) or the kernel cannot copy. */
static int copy_buffered(struct s3_tmp *t, int in, off_t off, uint64_t length, struct s3_digest *digest)
{
    static __thread char buf[1 << 17];
    while (length > 0) {
        ssize_t r = pread(in, buf, length < sizeof buf ? (size_t)length : sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file is shorter than its row says */
            return -1;
        }
        if (digest)
            s3_digest_update(digest, buf, (size_t)r);
        if (s3_tmp_write(t, buf, (size_t)r))
            return -1;
        off += r;
        length -= (uint64_t)r;
    }
    return 0;
}

int s3_tmp_copy(struct s3_tmp *t, const char *id, uint64_t offset, uint64_t length, struct s3_digest *digest)
{
    int in = s3_file_open(id);
    if (in < 0)
        return -1;
    off_t off = (off_t)offset;
    int rc = 0;
    while (!digest && length > 0) {
        size_t want = length > (1u << 30) ? (1u << 30) : (size_t)length;
        ssize_t n = copy_file_range(in, &off, t->fd, NULL, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n == 0 ? (errno = EIO, -1) : 1; /* 1: let the buffered copy try */
            break;
        }
        length -= (uint64_t)n;
    }
    if (digest || rc == 1)
        rc = copy_buffered(t, in, off, length, digest);
    close(in);
    return rc;
}

void s3_remove_files(cJSON *result)
{
    cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(result, "_Remove");
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
        if (cJSON_IsString(f))
            s3_file_remove(f->valuestring);
    cJSON_Delete(list);
}
