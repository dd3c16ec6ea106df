/* walvfs.h -- an SQLite VFS that writes each WAL frame (header and page) with one write call
 * instead of two; everything else is the VFS it wraps. */
#ifndef DSS_WALVFS_H
#define DSS_WALVFS_H

/* Registers the shim over the VFS named wrapped, once per process (later calls return the same
 * name), and returns its name for sqlite3_open_v2(); NULL if wrapped is unknown. Call before
 * two threads may open databases. */
const char *dss_walvfs_register(const char *wrapped);

#endif
