/* s3.c -- Amazon Simple Storage Service, API 2006-03-01, protocol rest-xml (the model's
 * metadata), on the emulator's one port: its schema, the table of operations and the service.
 *
 * Supported: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
 * PutBucketNotificationConfiguration, GetBucketNotificationConfiguration, PutBucketTagging,
 * GetBucketTagging, DeleteBucketTagging, PutObject, GetObject, HeadObject, DeleteObject,
 * DeleteObjects, CopyObject, ListObjects, ListObjectsV2, CreateMultipartUpload, UploadPart,
 * UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads. Path-style and virtual-hosted addressing; aws-chunked bodies with
 * trailing checksums; Content-MD5 and x-amz-checksum-* (CRC32, CRC32C, CRC64NVME, SHA1,
 * SHA256) checked and reported; conditional and range GETs; event notifications to SQS.
 *
 * Storage: object bytes are files under DATA/s3 (store.c), streamed to and from disk, never
 * whole in memory; metadata is in SQLite. An object's row and its notification messages
 * commit in one transaction.
 *
 * Limitations: one account; no versioning (VersionId is always absent), ACLs, policies,
 * object tagging, object lock, encryption, lifecycle or website configuration -- their
 * sub-resources answer NotImplemented; signatures are not verified; SNS and Lambda
 * notification targets are refused (neither service is emulated); CopyObject keeps the
 * source's checksum rather than computing one in a new algorithm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "s3.h"
#include "util.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS s3_buckets("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  region TEXT NOT NULL,"
    "  location TEXT NOT NULL,"      /* LocationConstraint as given: "" in us-east-1, "EU" */
    "  created_ms INTEGER NOT NULL,"
    "  notification TEXT,"           /* JSON NotificationConfiguration, NULL if none */
    "  tags TEXT);"                  /* JSON TagSet, NULL if none */
    "CREATE TABLE IF NOT EXISTS s3_objects("
    "  bucket_id INTEGER NOT NULL REFERENCES s3_buckets(id),"
    "  key TEXT NOT NULL,"           /* compared bytewise: S3's UTF-8 binary order */
    "  file TEXT NOT NULL,"          /* the bytes: DATA/s3/objects/<file[0..2]>/<file>, or "" */
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"          /* unquoted: md5 hex, or md5-of-md5s-N */
    "  modified_ms INTEGER NOT NULL,"
    "  headers TEXT NOT NULL,"       /* JSON of GetObject output members: ContentType, Metadata{}, checksums */
    "  body_id INTEGER,"             /* with file "": s3_bodies.id of the bytes; NULL when empty */
    "  PRIMARY KEY(bucket_id, key)) WITHOUT ROWID;"
    /* Small objects' bytes (S3_INLINE_MAX at most), out of s3_objects: a WITHOUT ROWID table
     * compares whole rows while it seeks, and a row that overflows its page is first read in
     * full, overflow pages and all, for every comparison -- with the bytes in the row, a 4 KiB
     * PutObject spent a fifth of its CPU reading other objects' bodies to find its key. */
    "CREATE TABLE IF NOT EXISTS s3_bodies("
    "  id INTEGER PRIMARY KEY,"
    "  bytes BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS s3_uploads("
    "  upload_id TEXT PRIMARY KEY,"
    "  bucket_id INTEGER NOT NULL REFERENCES s3_buckets(id),"
    "  key TEXT NOT NULL,"
    "  initiated_ms INTEGER NOT NULL,"
    "  headers TEXT NOT NULL);"      /* for the object Complete makes, as s3_objects.headers */
    "CREATE INDEX IF NOT EXISTS s3_uploads_key ON s3_uploads(bucket_id, key, initiated_ms);"
    "CREATE TABLE IF NOT EXISTS s3_parts("
    "  upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id) ON DELETE CASCADE,"
    "  part_number INTEGER NOT NULL,"
    "  file TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL,"          /* unquoted md5 hex */
    "  modified_ms INTEGER NOT NULL,"
    "  checksum TEXT,"               /* base64, in the upload's algorithm; NULL if none */
    "  PRIMARY KEY(upload_id, part_number)) WITHOUT ROWID;";

/* ---- Helpers the operations share ---- */

int s3_bucket_load(struct dss_call *call, const char *name, struct s3_bucket *b)
{
    memset(b, 0, sizeof *b);
    sqlite3_stmt *st = dss_stmt(call, "SELECT id, name, region, location, created_ms, notification "
                                      "FROM s3_buckets WHERE name = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_text(st, 1, name ? name : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return dss_fail(call, DSS_E_NoSuchBucket, "The specified bucket does not exist");
    }
    b->id = sqlite3_column_int64(st, 0);
    snprintf(b->name, sizeof b->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(b->region, sizeof b->region, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(b->location, sizeof b->location, "%s", (const char *)sqlite3_column_text(st, 3));
    b->created_ms = sqlite3_column_int64(st, 4);
    if (sqlite3_column_type(st, 5) == SQLITE_TEXT)
        b->notification = cJSON_Parse((const char *)sqlite3_column_text(st, 5));
    sqlite3_reset(st);
    return 0;
}

void s3_bucket_cleanup(struct s3_bucket *b)
{
    cJSON_Delete(b->notification);
    b->notification = NULL;
}

int s3_bucket_from_params(struct dss_call *call, const cJSON *params, struct s3_bucket *b)
{
    return s3_bucket_load(call, dss_param_str(params, "Bucket"), b);
}

void s3_remove_later(cJSON **result, const char *file)
{
    if (!file || !file[0])
        return;
    if (!*result)
        *result = cJSON_CreateObject();
    cJSON *list = cJSON_GetObjectItemCaseSensitive(*result, "_Remove");
    if (!list)
        list = cJSON_AddArrayToObject(*result, "_Remove");
    cJSON_AddItemToArray(list, cJSON_CreateString(file));
}

double s3_seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

/* Form encoding (space as '+'), with '/' kept: what S3 writes for EncodingType=url and in
 * event records, and what botocore's unquote_plus reads back. */
int s3_url_encode(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    strchr("-_.*/", *p);
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int rc = plain ? buf_append(out, p, 1) : *p == ' ' ? buf_append(out, "+", 1) : buf_append(out, e, 3);
        if (rc)
            return -1;
    }
    return 0;
}

/* ---- The table of operations ---- */

int s3_list_buckets(struct dss_call *, const cJSON *, cJSON **);
int s3_create_bucket(struct dss_call *, const cJSON *, cJSON **);
int s3_head_bucket(struct dss_call *, const cJSON *, cJSON **);
int s3_delete_bucket(struct dss_call *, const cJSON *, cJSON **);
int s3_get_bucket_location(struct dss_call *, const cJSON *, cJSON **);
int s3_put_bucket_notification(struct dss_call *, const cJSON *, cJSON **);
int s3_get_bucket_notification(struct dss_call *, const cJSON *, cJSON **);
int s3_put_bucket_tagging(struct dss_call *, const cJSON *, cJSON **);
int s3_get_bucket_tagging(struct dss_call *, const cJSON *, cJSON **);
int s3_delete_bucket_tagging(struct dss_call *, const cJSON *, cJSON **);
int s3_put_object(struct dss_call *, const cJSON *, cJSON **);
int s3_get_object(struct dss_call *, const cJSON *, cJSON **);
int s3_delete_object(struct dss_call *, const cJSON *, cJSON **);
int s3_delete_objects(struct dss_call *, const cJSON *, cJSON **);
int s3_copy_object(struct dss_call *, const cJSON *, cJSON **);
int s3_list_objects(struct dss_call *, const cJSON *, cJSON **);
int s3_list_objects_v2(struct dss_call *, const cJSON *, cJSON **);
int s3_create_multipart_upload(struct dss_call *, const cJSON *, cJSON **);
int s3_upload_part(struct dss_call *, const cJSON *, cJSON **);
int s3_upload_part_copy(struct dss_call *, const cJSON *, cJSON **);
int s3_complete_multipart_upload(struct dss_call *, const cJSON *, cJSON **);
int s3_abort_multipart_upload(struct dss_call *, const cJSON *, cJSON **);
int s3_list_parts(struct dss_call *, const cJSON *, cJSON **);
int s3_list_multipart_uploads(struct dss_call *, const cJSON *, cJSON **);

#define R DSS_OP_READONLY
#define W DSS_OP_WRITE
static const struct s3_op s3_ops[] = {
    {{"ListBuckets", s3_list_buckets, R}, NULL, "ListAllMyBucketsResult"},
    {{"CreateBucket", s3_create_bucket, W}, NULL, NULL},
    {{"HeadBucket", s3_head_bucket, R}, NULL, NULL},
    {{"DeleteBucket", s3_delete_bucket, W}, NULL, NULL},
    {{"GetBucketLocation", s3_get_bucket_location, R}, NULL, "LocationConstraint"},
    {{"PutBucketNotificationConfiguration", s3_put_bucket_notification, W}, NULL, NULL},
    {{"GetBucketNotificationConfiguration", s3_get_bucket_notification, R}, NULL, "NotificationConfiguration"},
    {{"PutBucketTagging", s3_put_bucket_tagging, W}, NULL, NULL},
    {{"GetBucketTagging", s3_get_bucket_tagging, R}, NULL, "Tagging"},
    {{"DeleteBucketTagging", s3_delete_bucket_tagging, W}, NULL, NULL},
    {{"PutObject", s3_put_object, W}, NULL, NULL},
    {{"GetObject", s3_get_object, R}, NULL, NULL},
    {{"HeadObject", s3_get_object, R}, NULL, NULL},
    {{"DeleteObject", s3_delete_object, W}, NULL, NULL},
    {{"DeleteObjects", s3_delete_objects, W}, NULL, "DeleteResult"},
    {{"CopyObject", s3_copy_object, W}, NULL, NULL},
    {{"ListObjects", s3_list_objects, R}, NULL, "ListBucketResult"},
    {{"ListObjectsV2", s3_list_objects_v2, R}, NULL, "ListBucketResult"},
    {{"CreateMultipartUpload", s3_create_multipart_upload, W}, NULL, "InitiateMultipartUploadResult"},
    {{"UploadPart", s3_upload_part, W}, NULL, NULL},
    {{"UploadPartCopy", NULL, W}, s3_upload_part_copy, NULL},
    {{"CompleteMultipartUpload", NULL, W}, s3_complete_multipart_upload, "CompleteMultipartUploadResult"},
    {{"AbortMultipartUpload", s3_abort_multipart_upload, W}, NULL, NULL},
    {{"ListParts", s3_list_parts, R}, NULL, "ListPartsResult"},
    {{"ListMultipartUploads", s3_list_multipart_uploads, R}, NULL, "ListMultipartUploadsResult"},
    {{NULL, NULL, 0}, NULL, NULL},
};
#undef R
#undef W

const struct s3_op *s3_op_find(const char *name)
{
    for (const struct s3_op *op = s3_ops; name && op->op.name; op++)
        if (strcmp(op->op.name, name) == 0)
            return op;
    return NULL;
}

/* ---- The service ---- */

/* Whether probe (a SELECT of one column) compiles, i.e. the column exists. */
static int has_column(sqlite3 *db, const char *probe)
{
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, probe, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* Brings an older data directory's s3_objects to this schema (CREATE TABLE IF NOT EXISTS
 * leaves an existing table as it is): one made before small objects were kept in the
 * database has neither body column; one made before s3_bodies has the bytes in
 * s3_objects.body, which move to s3_bodies, numbered in key order. */
static int upgrade_objects(sqlite3 *db)
{
    static const char move_bodies[] =
        "UPDATE s3_objects SET body_id = n.id FROM (SELECT bucket_id, key, "
        "  row_number() OVER (ORDER BY bucket_id, key) + (SELECT coalesce(max(id), 0) FROM s3_bodies) AS id "
        "  FROM s3_objects WHERE body IS NOT NULL AND length(body) > 0) AS n "
        "  WHERE s3_objects.bucket_id = n.bucket_id AND s3_objects.key = n.key;"
        "INSERT INTO s3_bodies(id, bytes) SELECT body_id, body FROM s3_objects WHERE body_id IS NOT NULL;"
        "ALTER TABLE s3_objects DROP COLUMN body;";
    char *err = NULL;
    int rc = SQLITE_OK;
    if (!has_column(db, "SELECT body_id FROM s3_objects LIMIT 0"))
        rc = sqlite3_exec(db, "ALTER TABLE s3_objects ADD COLUMN body_id INTEGER", NULL, NULL, &err);
    if (rc == SQLITE_OK && has_column(db, "SELECT body FROM s3_objects LIMIT 0")) {
        rc = sqlite3_exec(db, move_bodies, NULL, NULL, &err);
        if (rc == SQLITE_OK)
            log_info("s3: moved the small objects' bytes to s3_bodies");
    }
    if (rc == SQLITE_OK)
        return 0;
    log_error("s3: cannot bring s3_objects to this version's schema: %s", err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return -1;
}

static int s3_start(void)
{
    if (s3_store_open(dss_data_dir()))
        return -1;
    /* On the writer connection, as every write is (the upgrade): the main thread opens no
     * connection of its own to start the services. */
    sqlite3 *db = dss_db_begin(1);
    if (!db)
        return -1;
    if (upgrade_objects(db)) {
        dss_db_rollback(db, 1);
        return -1;
    }
    s3_store_sweep(db);
    if (dss_db_commit(db, 1))
        return -1;
    return s3_reaper_start();
}

static void s3_stop(void)
{
    s3_reaper_stop();
}

extern const struct dss_rest_handler s3_rest_handler;

/* S3 has neither a JSON nor a Query protocol: its requests all come through the rest
 * handler (rest.c), which routes them to s3_ops above. */
static const struct dss_operation no_ops[] = {{NULL, NULL, 0}};

const struct dss_service dss_s3_service = {
    .name = "s3",
    .schema_sql = schema,
    .ops = no_ops,
    .start = s3_start,
    .stop = s3_stop,
    .rest = &s3_rest_handler,
};
