/* store.c -- object bytes on disk, under DATA/s3/:
 *
 *   objects/<xx>/<id>    the bytes of an object or an uploaded part (xx: the id's first two
 *                        hex digits, so no directory grows past a few thousand entries;
 *                        each made when its first file arrives)
 *   tmp/<id>             a body being received, where O_TMPFILE is not available
 *
 * An id is 32 random hex digits: file names never derive from keys, so no key can name a
 * path. A body is written whole into a temp file -- an anonymous O_TMPFILE one -- which gets
 * its name in objects/ under a fresh id (link, or rename) before the transaction that makes a
 * row point at it; a replaced object's old file is deleted only after that transaction
 * commits. Files in objects/ are never modified in place, so a reader
 * that has opened one keeps consistent bytes whatever happens next, and a crash at any point
 * leaves either the old object or the new one whole -- at worst an orphan file, which the
 * start-up sweep deletes. Replaced files are deleted by a background thread (below).
 *
 * Durability is the emulator's (db.c): what was acknowledged survives a SIGKILL of the
 * emulator, which the page cache gives without an fsync; a power failure may lose the last
 * objects as it may lose the last commits, so no object file is fsynced.
 *
 * A body gets its file only when its bytes first leave the write buffer: a PutObject body that
 * never does (at most S3_INLINE_MAX bytes, s3_tmp_held()) is stored in the database instead, and no
 * file is made at all. Making the file (ext4's inode allocation, the link, the close) cost a
 * 4 KiB PUT 20-50 us of its 130-180 us of CPU: 160 -> 139 and 177 -> 127 us in two A/B runs of
 * tests/bench/run-s3 --baseline.
 *
 * Cost per PUT that does make a file, measured (strace, perf): every path is resolved from a
 * descriptor of objects/ kept open ("xx/<id>" rather than DATA/s3/objects/xx/<id>, each
 * component a lookup), an anonymous file gets its name by linkat(AT_EMPTY_PATH) rather than
 * through /proc/self/fd/N (falling back to that where the kernel refuses), ids come from a
 * per-thread pool of random bytes (one getrandom() per 16 ids), and the write buffer starts at
 * 16 KiB and grows with the body instead of being 128 KiB from the start (glibc's free() of a
 * chunk that big consolidates the whole heap, every request).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "s3.h"
#include "util.h"

static char root[3000]; /* DATA/s3; room left in every path buffer below */
static int objects_fd = -1; /* DATA/s3/objects, for paths relative to it */
static int link_empty_path = 1; /* linkat(AT_EMPTY_PATH) works here, until it fails once */

static int valid_id(const char *id)
{
    return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

/* Random bytes from the kernel, through a per-thread pool: one getrandom() per 256 bytes
 * rather than one per id (libuuid's generator made four more syscalls per id still). */
static void random_bytes(unsigned char *out, size_t n)
{
    static __thread unsigned char pool[256];
    static __thread size_t left;
    if (n > left) {
        if (getrandom(pool, sizeof pool, 0) != (ssize_t)sizeof pool) {
            for (size_t i = 0; i < sizeof pool; i += 16) { /* no getrandom(): libuuid finds another source */
                uuid_t u;
                uuid_generate(u);
                memcpy(pool + i, u, 16);
            }
        }
        left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - left, n);
    left -= n;
}

void s3_random_hex(char *out, size_t bytes)
{
    unsigned char raw[32];
    size_t n = bytes < sizeof raw ? bytes : sizeof raw;
    random_bytes(raw, n);
    hex_encode(raw, n, out);
}

static void new_id(char id[S3_FILE_ID])
{
    s3_random_hex(id, 16);
}

/* A placed file's path relative to objects/: "xx/<id>". */
static int object_path(const char *id, char *out, size_t n)
{
    if (!valid_id(id)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(out, n, "%.2s/%s", id, id);
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

/* Asks ext2/3/4 to treat dir as a top of a hierarchy, so the allocator spreads its
 * subdirectories -- and so the files created in them -- over many block groups. Without it
 * every object's inode comes from the data directory's group, and on ext4 without a journal
 * each allocation first scans past every inode freed there in the last minute: with objects
 * being replaced and deleted, file creation fell to ~1,000/s; spread, it ran at 10,000-26,000/s
 * on the same disk. Elsewhere (or without permission) this is silently a no-op. */
static void spread_subdirectories(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int flags = 0;
    if (fd < 0)
        return;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
        flags |= FS_TOPDIR_FL;
        ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    close(fd);
}

int s3_store_open(const char *data_dir)
{
    char path[4096];
    snprintf(root, sizeof root, "%s/s3", data_dir);
    snprintf(path, sizeof path, "%s/objects", root);
    if (make_dir(root) || make_dir(path))
        return -1;
    spread_subdirectories(path); /* before any subdirectory is made */
    if (objects_fd >= 0)
        close(objects_fd);
    if ((objects_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        log_error("s3: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/tmp", root);
    if (make_dir(path))
        return -1;
    empty_dir(path);
    return 0;
}

/* objects/<xx> for an id, made the first time a file goes there rather than all 256 at
 * start-up: creating them was the largest part of a fresh emulator's start-up time. Callers try
 * their operation first and call this only when it failed with ENOENT. */
static int make_fanout_dir(const char *id)
{
    char name[3];
    snprintf(name, sizeof name, "%.2s", id);
    if (mkdirat(objects_fd, name, 0700) == 0 || errno == EEXIST)
        return 0;
    log_error("s3: cannot create %s/objects/%s: %s", root, name, strerror(errno));
    return -1;
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Every file id the database refers to, sorted, in *ids (NULL when there are none). Returns 0,
 * or -1 when the list could not be read whole: the sweep must then remove nothing. */
static int referenced_ids(sqlite3 *db, char ***ids, size_t *n)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT file FROM s3_objects UNION ALL SELECT file FROM s3_parts", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **grown = realloc(*ids, cap * sizeof *grown);
            if (!grown)
                break;
            *ids = grown;
        }
        if (!((*ids)[*n] = strdup((const char *)sqlite3_column_text(st, 0))))
            break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free_ids(*ids, *n);
        *ids = NULL;
        *n = 0;
        return -1;
    }
    if (*ids)
        qsort(*ids, *n, sizeof **ids, id_cmp);
    return 0;
}

/* Removes the object files of one fan-out directory that no row references. */
static size_t sweep_fanout_dir(int objects_fd, const char *name, char **ids, size_t n)
{
    int fd = openat(objects_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    size_t removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *file = e->d_name;
        if (file[0] == '.' || (ids && bsearch(&file, ids, n, sizeof *ids, id_cmp)))
            continue;
        if (unlinkat(dirfd(d), file, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* Only the fan-out directories that exist are visited (they are made on first use): a fresh
 * data directory costs one readdir, not 256 failed opens. */
void s3_store_sweep(sqlite3 *db)
{
    char dir[3100];
    snprintf(dir, sizeof dir, "%s/objects", root);
    DIR *objects = opendir(dir);
    if (!objects)
        return;
    size_t n = 0, removed = 0;
    char **ids;
    if (referenced_ids(db, &ids, &n) != 0) {
        log_warn("s3: cannot list the stored objects; unreferenced files are kept");
        closedir(objects);
        return;
    }
    struct dirent *e;
    while ((e = readdir(objects)))
        if (e->d_name[0] != '.')
            removed += sweep_fanout_dir(dirfd(objects), e->d_name, ids, n);
    closedir(objects);
    free_ids(ids, n);
    if (removed)
        log_info("s3: removed %zu unreferenced object files", removed);
}

void s3_tmp_create(struct s3_tmp *t)
{
    new_id(t->id);
    t->fd = -1;
    t->anonymous = 1;
    t->buf = NULL;
    t->len = 0;
    t->cap = 0;
}

/* The file behind t, made when the first bytes must leave the buffer: an anonymous file
 * (O_TMPFILE) in the directory the object will live in, which has no name until
 * s3_tmp_place() links one, so a crash mid-upload leaves nothing behind, and placing it costs
 * one directory operation. File systems without O_TMPFILE get a named file in tmp/, renamed
 * into place. */
static int tmp_open(struct s3_tmp *t)
{
    char path[4096];
    if (t->fd >= 0)
        return 0;
    snprintf(path, sizeof path, "%.2s", t->id);
    t->anonymous = 1;
    t->fd = openat(objects_fd, path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (t->fd < 0 && errno == ENOENT && make_fanout_dir(t->id) == 0)
        t->fd = openat(objects_fd, path, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (t->fd >= 0)
        return 0;
    t->anonymous = 0;
    if (make_fanout_dir(t->id)) /* where s3_tmp_place() will rename it */
        return -1;
    tmp_path(t->id, path, sizeof path);
    t->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return t->fd < 0 ? -1 : 0;
}

const char *s3_tmp_held(const struct s3_tmp *t, size_t *len)
{
    if (t->fd >= 0 || t->len > S3_INLINE_MAX)
        return NULL;
    *len = t->len;
    return t->buf ? t->buf : "";
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tmp_flush(struct s3_tmp *t)
{
    if (tmp_open(t))
        return -1;
    int rc = t->len ? write_all(t->fd, t->buf, t->len) : 0;
    t->len = 0;
    return rc;
}

#define TMP_BUFFER_FIRST (16u << 10)

/* Makes room for n more bytes in t's buffer, growing it by doubling up to S3_TMP_BUFFER. 0, or
 * -1 when the buffer stays as it is (full, or out of memory). */
static int tmp_grow(struct s3_tmp *t, size_t n)
{
    if (t->len + n <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : TMP_BUFFER_FIRST;
    while (cap < t->len + n && cap < S3_TMP_BUFFER)
        cap *= 2;
    if (cap < t->len + n)
        return -1;
    char *grown = realloc(t->buf, cap);
    if (!grown)
        return -1;
    t->buf = grown;
    t->cap = cap;
    return 0;
}

/* Bodies arrive in pieces of a few KiB (the server's read buffer); gathering them into up to
 * S3_TMP_BUFFER before writing takes most write() calls off a big upload, and a small body
 * goes to its file in one write(). */
int s3_tmp_write(struct s3_tmp *t, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (tmp_grow(t, n) && tmp_flush(t))
        return -1;
    if (tmp_grow(t, n))
        return write_all(t->fd, p, n); /* bigger than the buffer, or no memory for one */
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    return 0;
}

/* Gives an open anonymous file the name to (relative to objects/). linkat(AT_EMPTY_PATH) needs
 * CAP_DAC_READ_SEARCH before Linux 6.10 (and, since, that the file was opened with the
 * caller's credentials); where it is refused, the /proc/self/fd link does the same with a
 * longer path walk. */
static int link_anonymous(int fd, const char *to)
{
    if (link_empty_path) {
        if (linkat(fd, "", objects_fd, to, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
            return -1;
        link_empty_path = 0; /* a race between threads here only costs a failed call */
    }
    char from[64];
    snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, from, objects_fd, to, AT_SYMLINK_FOLLOW);
}

int s3_tmp_place(struct s3_tmp *t)
{
    char from[4096], to[4096];
    object_path(t->id, to, sizeof to);
    int rc = tmp_flush(t), linked = 0;
    free(t->buf);
    t->buf = NULL;
    t->cap = 0;
    /* An anonymous file gets its name while still open; a named one is renamed once closed. */
    if (rc == 0 && t->anonymous)
        linked = (rc = link_anonymous(t->fd, to)) == 0;
    if (close(t->fd) != 0)
        rc = -1;
    t->fd = -1;
    if (!t->anonymous)
        tmp_path(t->id, from, sizeof from);
    if (rc == 0 && !t->anonymous)
        rc = renameat(AT_FDCWD, from, objects_fd, to);
    if (rc == 0)
        return 0;
    log_error("s3: cannot place %s/objects/%s: %s", root, to, strerror(errno));
    if (linked)
        unlinkat(objects_fd, to, 0); /* linked, but the data may not all be there */
    else if (!t->anonymous)
        unlink(from);
    return -1;
}

void s3_tmp_discard(struct s3_tmp *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = 0;
    t->cap = 0;
    if (t->fd < 0)
        return;
    char path[4096];
    close(t->fd);
    t->fd = -1;
    if (!t->anonymous) {
        tmp_path(t->id, path, sizeof path);
        unlink(path);
    }
}

int s3_file_open(const char *id)
{
    char path[64];
    if (object_path(id, path, sizeof path))
        return -1;
    return openat(objects_fd, path, O_RDONLY | O_CLOEXEC);
}

void s3_file_remove(const char *id)
{
    char path[64];
    if (object_path(id, path, sizeof path) == 0 && unlinkat(objects_fd, path, 0) != 0 && errno != ENOENT)
        log_warn("s3: cannot remove %s/objects/%s: %s", root, path, strerror(errno));
}

int s3_file_link(const char *id, char new_name[S3_FILE_ID])
{
    char from[64], to[64];
    new_id(new_name);
    if (object_path(id, from, sizeof from) || object_path(new_name, to, sizeof to))
        return -1;
    int rc = linkat(objects_fd, from, objects_fd, to, 0);
    if (rc != 0 && errno == ENOENT && faccessat(objects_fd, from, F_OK, 0) == 0 && make_fanout_dir(new_name) == 0)
        rc = linkat(objects_fd, from, objects_fd, to, 0);
    return rc;
}

/* Through a buffer, when the bytes must be seen (digest) or the kernel cannot copy. The buffer
 * is the heap's, not a static __thread array: every thread's TLS is zeroed when it starts, so
 * 128 KiB there cost each of the emulator's threads 32 touched pages at start-up. */
static int copy_buffered(struct s3_tmp *t, int in, off_t off, uint64_t length, struct s3_digest *digest)
{
    char *buf = malloc(S3_TMP_BUFFER);
    int rc = buf ? 0 : -1;
    while (rc == 0 && length > 0) {
        ssize_t r = pread(in, buf, length < S3_TMP_BUFFER ? (size_t)length : S3_TMP_BUFFER, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file is shorter than its row says */
            rc = -1;
            break;
        }
        if (digest)
            s3_digest_update(digest, buf, (size_t)r);
        if (write_all(t->fd, buf, (size_t)r))
            rc = -1;
        off += r;
        length -= (uint64_t)r;
    }
    free(buf);
    return rc;
}

int s3_tmp_copy(struct s3_tmp *t, const char *id, uint64_t offset, uint64_t length, struct s3_digest *digest)
{
    if (tmp_flush(t))
        return -1;
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

/* ---- The reaper: replaced and deleted files go in the background ----
 *
 * Deleting a file can take milliseconds (ext4 frees its blocks, and a file system mounted
 * with "discard" trims them synchronously), and nothing waits for it: the row that named the
 * file is already gone. So request threads queue the ids and one thread deletes them. Ids
 * still queued at a crash are orphans, which the start-up sweep deletes. */

struct doomed {
    struct doomed *next;
    char id[S3_FILE_ID];
};

static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reaper_cond = PTHREAD_COND_INITIALIZER;
static struct doomed *doomed_head, *doomed_tail;
static int reaper_running, reaper_stopping;
static pthread_t reaper_thread;

static void *reaper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&reaper_lock);
    for (;;) {
        while (!doomed_head && !reaper_stopping)
            pthread_cond_wait(&reaper_cond, &reaper_lock);
        struct doomed *d = doomed_head;
        if (!d)
            break; /* stopping, and nothing left */
        doomed_head = d->next;
        if (!doomed_head)
            doomed_tail = NULL;
        pthread_mutex_unlock(&reaper_lock);
        s3_file_remove(d->id);
        free(d);
        pthread_mutex_lock(&reaper_lock);
    }
    pthread_mutex_unlock(&reaper_lock);
    return NULL;
}

int s3_reaper_start(void)
{
    reaper_stopping = 0;
    if (pthread_create(&reaper_thread, NULL, reaper_main, NULL) != 0) {
        log_error("s3: cannot start the file reaper");
        return -1;
    }
    reaper_running = 1;
    return 0;
}

void s3_reaper_stop(void)
{
    if (!reaper_running)
        return;
    pthread_mutex_lock(&reaper_lock);
    reaper_stopping = 1;
    pthread_cond_signal(&reaper_cond);
    pthread_mutex_unlock(&reaper_lock);
    pthread_join(reaper_thread, NULL); /* it finishes the queue first */
    reaper_running = 0;
}

/* Queues a file for deletion; deletes it at once when no reaper runs (tools, tests). */
static void remove_later(const char *id)
{
    struct doomed *d = malloc(sizeof *d);
    pthread_mutex_lock(&reaper_lock);
    int queued = reaper_running && !reaper_stopping && d;
    if (queued) {
        snprintf(d->id, sizeof d->id, "%s", id);
        d->next = NULL;
        if (doomed_tail)
            doomed_tail->next = d;
        else
            doomed_head = d;
        doomed_tail = d;
        pthread_cond_signal(&reaper_cond);
    }
    pthread_mutex_unlock(&reaper_lock);
    if (!queued) {
        free(d);
        s3_file_remove(id);
    }
}

void s3_remove_files(cJSON *result)
{
    cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(result, "_Remove");
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
        if (cJSON_IsString(f))
            remove_later(f->valuestring);
    cJSON_Delete(list);
}
