/* walvfs.c -- see walvfs.h.
 *
 * SQLite writes a WAL frame with two write calls: the 24-byte frame header, then the page right
 * after it (wal.c, walWriteOneFrame()). Each call is a pwrite() that updates the file's times,
 * takes the inode lock and prepares its page-cache pages, so the header's costs about as much
 * as the page's: measured on this machine's ext4 (200,000 frames, cycling over 4,000 as a WAL
 * does), 2.4 us a frame written in two calls against 1.6 us in one. An SQS Receive+Delete
 * writes five frames. So this shim VFS holds a frame header back until the page that follows it
 * arrives, and writes both with one call. Any other use of the file first writes a header still
 * held, so SQLite never sees the difference; and as the page always follows its header inside
 * one walWriteOneFrame(), nothing is held once a commit's frames are written: a commit is in the
 * WAL file (the OS's cache) when COMMIT returns, as before, and a SIGKILL loses nothing more.
 *
 * The shim wraps another VFS (the emulator wraps "unix-excl") and forwards everything else to
 * it, in the shape of SQLite's own shims (ext/misc/vfstrace.c): the shim's file struct is
 * followed in memory by the wrapped VFS's.
 */
#include "walvfs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24 /* WAL_FRAME_HDRSIZE in SQLite's wal.c */

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* the wrapped VFS's file, right after this struct */
    int wal;            /* opened as a WAL file: its frame headers are held back */
    int held;           /* header[] waits for its page */
    sqlite3_int64 held_at;
    unsigned char header[FRAME_HEADER];
    unsigned char *joined; /* header and page together, for the one write */
    int joined_cap;
};

static sqlite3_vfs shim_vfs;
static sqlite3_vfs *real_vfs;

#define REAL(file) (((struct shim_file *)(file))->real)

/* Writes a held header on its own: the file is about to be used some other way. */
static int write_held(struct shim_file *f)
{
    if (!f->held)
        return SQLITE_OK;
    f->held = 0;
    return f->real->pMethods->xWrite(f->real, f->header, FRAME_HEADER, f->held_at);
}

/* The page of the held header: both in one write (or, out of memory, one after the other). */
static int write_frame(struct shim_file *f, const void *page, int amt)
{
    if (amt + FRAME_HEADER > f->joined_cap) {
        unsigned char *grown = realloc(f->joined, (size_t)amt + FRAME_HEADER);
        if (!grown) {
            int rc = write_held(f);
            return rc != SQLITE_OK ? rc : f->real->pMethods->xWrite(f->real, page, amt, f->held_at + FRAME_HEADER);
        }
        f->joined = grown, f->joined_cap = amt + FRAME_HEADER;
    }
    memcpy(f->joined, f->header, FRAME_HEADER);
    memcpy(f->joined + FRAME_HEADER, page, (size_t)amt);
    f->held = 0;
    return f->real->pMethods->xWrite(f->real, f->joined, amt + FRAME_HEADER, f->held_at);
}

static int shim_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 at)
{
    struct shim_file *f = (struct shim_file *)file;
    if (f->held && at == f->held_at + FRAME_HEADER)
        return write_frame(f, data, amt);
    int rc = write_held(f);
    if (rc != SQLITE_OK)
        return rc;
    if (f->wal && amt == FRAME_HEADER) {
        memcpy(f->header, data, FRAME_HEADER);
        f->held_at = at, f->held = 1;
        return SQLITE_OK;
    }
    return f->real->pMethods->xWrite(f->real, data, amt, at);
}

static int shim_close(sqlite3_file *file)
{
    struct shim_file *f = (struct shim_file *)file;
    int rc = write_held(f), closed = f->real->pMethods->xClose(f->real);
    free(f->joined);
    f->joined = NULL, f->joined_cap = 0;
    return rc != SQLITE_OK ? rc : closed;
}

/* Methods that read or change the file write a held header first. */
static int shim_read(sqlite3_file *file, void *data, int amt, sqlite3_int64 at)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xRead(REAL(file), data, amt, at);
}

static int shim_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xTruncate(REAL(file), size);
}

static int shim_sync(sqlite3_file *file, int flags)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xSync(REAL(file), flags);
}

static int shim_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xFileSize(REAL(file), size);
}

static int shim_file_control(sqlite3_file *file, int op, void *arg)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xFileControl(REAL(file), op, arg);
}

static int shim_fetch(sqlite3_file *file, sqlite3_int64 at, int amt, void **p)
{
    int rc = write_held((struct shim_file *)file);
    return rc != SQLITE_OK ? rc : REAL(file)->pMethods->xFetch(REAL(file), at, amt, p);
}

/* The rest pass straight through. */
static int shim_lock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xLock(REAL(file), level); }
static int shim_unlock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xUnlock(REAL(file), level); }
static int shim_check_reserved(sqlite3_file *file, int *out)
{
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), out);
}
static int shim_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int shim_device(sqlite3_file *file) { return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file)); }
static int shim_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **p)
{
    return REAL(file)->pMethods->xShmMap(REAL(file), region, size, extend, p);
}
static int shim_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, n, flags);
}
static void shim_shm_barrier(sqlite3_file *file) { REAL(file)->pMethods->xShmBarrier(REAL(file)); }
static int shim_shm_unmap(sqlite3_file *file, int del) { return REAL(file)->pMethods->xShmUnmap(REAL(file), del); }
static int shim_unfetch(sqlite3_file *file, sqlite3_int64 at, void *p)
{
    return REAL(file)->pMethods->xUnfetch(REAL(file), at, p);
}

static const sqlite3_io_methods shim_methods = {
    .iVersion = 3,
    .xClose = shim_close,
    .xRead = shim_read,
    .xWrite = shim_write,
    .xTruncate = shim_truncate,
    .xSync = shim_sync,
    .xFileSize = shim_file_size,
    .xLock = shim_lock,
    .xUnlock = shim_unlock,
    .xCheckReservedLock = shim_check_reserved,
    .xFileControl = shim_file_control,
    .xSectorSize = shim_sector_size,
    .xDeviceCharacteristics = shim_device,
    .xShmMap = shim_shm_map,
    .xShmLock = shim_shm_lock,
    .xShmBarrier = shim_shm_barrier,
    .xShmUnmap = shim_shm_unmap,
    .xFetch = shim_fetch,
    .xUnfetch = shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    struct shim_file *f = (struct shim_file *)file;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (f->real->pMethods) /* SQLite calls xClose on any file whose methods are set */
        f->base.pMethods = &shim_methods;
    return rc;
}

/* The VFS's own methods, called with the wrapped VFS (unix's read its mxPathname and pAppData). */
static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync);
}
static int shim_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int shim_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static void *shim_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}
static void shim_dl_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, out);
}
static void (*shim_dl_sym(sqlite3_vfs *vfs, void *lib, const char *sym))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, lib, sym);
}
static void shim_dl_close(sqlite3_vfs *vfs, void *lib)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, lib);
}
static int shim_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int shim_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}
static int shim_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int shim_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int shim_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

const char *dss_walvfs_register(const char *wrapped)
{
    if (real_vfs)
        return shim_vfs.zName;
    sqlite3_vfs *real = sqlite3_vfs_find(wrapped);
    if (!real || real->iVersion < 2 || !real->xCurrentTimeInt64)
        return NULL;
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct shim_file) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = "dss-wal",
        .xOpen = shim_open,
        .xDelete = shim_delete,
        .xAccess = shim_access,
        .xFullPathname = shim_full_pathname,
        .xDlOpen = shim_dl_open,
        .xDlError = shim_dl_error,
        .xDlSym = shim_dl_sym,
        .xDlClose = shim_dl_close,
        .xRandomness = shim_randomness,
        .xSleep = shim_sleep,
        .xCurrentTime = shim_current_time,
        .xGetLastError = shim_last_error,
        .xCurrentTimeInt64 = shim_current_time64,
    };
    if (sqlite3_vfs_register(&shim_vfs, 0) != SQLITE_OK)
        return NULL;
    real_vfs = real;
    return shim_vfs.zName;
}
