/* objects.c -- S3 object operations: PutObject, GetObject and HeadObject (conditions, ranges,
 * parts), DeleteObject, DeleteObjects, CopyObject, ListObjects and ListObjectsV2.
 *
 * A big object's bytes never pass through here: PutObject gets a file already written and
 * placed by rest.c ("_Body"), GetObject answers with the file and range for rest.c to send
 * ("Body"), CopyObject gives the source's file a second name. So every transaction here is
 * short, whatever the object's size. A small one (at most S3_INLINE_MAX bytes) lives in the
 * database instead (s3_bodies): its bytes come and go beside the parameter tree (dss_call_bytes()).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "s3.h"
#include "util.h"

#define METADATA_MAX 2048 /* bytes of user metadata names and values */
#define LIST_MAX 1000
#define DELETE_MAX 1000

/* ---- Rows ---- */

/* Reads file, size, etag, modified_ms, headers and, when want_body, the bytes (s3_bodies)
 * from the row st is on, from column col. */
static int object_from_row(struct dss_call *call, sqlite3_stmt *st, int col, int want_body, struct s3_object *o)
{
    snprintf(o->file, sizeof o->file, "%s", (const char *)sqlite3_column_text(st, col));
    if (want_body && !o->file[0] && sqlite3_column_bytes(st, col + 5) > 0) {
        size_t n = (size_t)sqlite3_column_bytes(st, col + 5);
        if (!(o->body = malloc(n)))
            return dss_fail(call, DSS_E_InternalFailure, "Out of memory.");
        memcpy(o->body, sqlite3_column_blob(st, col + 5), n);
    }
    o->size = sqlite3_column_int64(st, col + 1);
    snprintf(o->etag, sizeof o->etag, "%s", (const char *)sqlite3_column_text(st, col + 2));
    o->modified_ms = sqlite3_column_int64(st, col + 3);
    o->headers = cJSON_Parse((const char *)sqlite3_column_text(st, col + 4));
    if (!o->headers)
        o->headers = cJSON_CreateObject();
    return 0;
}

int s3_object_load(struct dss_call *call, int64_t bucket_id, const char *key, int want_body, struct s3_object *o)
{
    memset(o, 0, sizeof *o);
    sqlite3_stmt *st = dss_stmt(call, want_body ? "SELECT o.file, o.size, o.etag, o.modified_ms, o.headers, x.bytes "
                                                  "FROM s3_objects o LEFT JOIN s3_bodies x ON x.id = o.body_id "
                                                  "WHERE o.bucket_id = ? AND o.key = ?"
                                                : "SELECT file, size, etag, modified_ms, headers FROM s3_objects "
                                                  "WHERE bucket_id = ? AND key = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, bucket_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    int rc = found ? object_from_row(call, st, 0, want_body, o) : 1;
    sqlite3_reset(st);
    return rc;
}

/* An object by bucket name and key in one statement -- the bucket's row is only needed to
 * tell NoSuchBucket from NoSuchKey, and a second statement cost GetObject a tenth of its
 * time in SQLite. Returns 0, 1 if the bucket has no such key, or DSS_ERR after
 * dss_fail(NoSuchBucket). */
static int object_load_by_name(struct dss_call *call, const char *bucket, const char *key, struct s3_object *o)
{
    memset(o, 0, sizeof *o);
    sqlite3_stmt *st = dss_stmt(call, "SELECT o.file, o.size, o.etag, o.modified_ms, o.headers, x.bytes "
                                      "FROM s3_buckets b LEFT JOIN s3_objects o ON o.bucket_id = b.id AND o.key = ? "
                                      "LEFT JOIN s3_bodies x ON x.id = o.body_id WHERE b.name = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_text(st, 1, key ? key : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bucket ? bucket : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    int loaded = found ? object_from_row(call, st, 0, 1, o) : 1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return dss_fail(call, DSS_E_NoSuchBucket, "The specified bucket does not exist");
    return loaded;
}

void s3_object_give_range(struct dss_call *call, struct s3_object *o, int64_t first, int64_t length)
{
    if (!o->body || length <= 0) {
        dss_call_give_bytes(call, NULL, 0);
        return;
    }
    if (first > 0)
        memmove(o->body, o->body + first, (size_t)length);
    dss_call_give_bytes(call, o->body, (size_t)length);
    o->body = NULL;
}

void s3_object_cleanup(struct s3_object *o)
{
    cJSON_Delete(o->headers);
    o->headers = NULL;
    free(o->body);
    o->body = NULL;
}

/* Deletes the bytes of an object being replaced or deleted, if they are in s3_bodies. */
static int forget_body(struct dss_call *call, int64_t body_id)
{
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM s3_bodies WHERE id = ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, body_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Stores a small object's bytes in s3_bodies, in the row its key had (reuse) if it had one.
 * Returns the row's id, 0 for an empty body (no row kept), or -1. */
static int64_t store_body(struct dss_call *call, const struct s3_object *o, int64_t reuse)
{
    if (!o->body || o->size <= 0)
        return reuse > 0 && forget_body(call, reuse) ? -1 : 0;
    sqlite3_stmt *st = dss_stmt(call, reuse > 0 ? "UPDATE s3_bodies SET bytes = ?1 WHERE id = ?2"
                                                : "INSERT INTO s3_bodies(bytes) VALUES (?1)");
    if (!st)
        return -1;
    sqlite3_bind_blob64(st, 1, o->body, (sqlite3_uint64)o->size, SQLITE_STATIC);
    if (reuse > 0)
        sqlite3_bind_int64(st, 2, reuse);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    return reuse > 0 ? reuse : sqlite3_last_insert_rowid(sqlite3_db_handle(st));
}

int s3_object_store(struct dss_call *call, int64_t bucket_id, const char *key, const struct s3_object *o,
                    cJSON **result)
{
    sqlite3_stmt *st = dss_stmt(call, "SELECT file, body_id FROM s3_objects WHERE bucket_id = ? AND key = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, bucket_id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int64_t old_body = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
        old_body = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    int64_t body_id = 0;
    if (o->file[0]) /* the new bytes are in a file */
        body_id = old_body > 0 && forget_body(call, old_body) ? -1 : 0;
    else
        body_id = store_body(call, o, old_body);
    char *headers = cJSON_PrintUnformatted(o->headers);
    st = dss_stmt(call, "INSERT OR REPLACE INTO s3_objects(bucket_id, key, file, size, etag, modified_ms, headers, "
                        "body_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    int rc = SQLITE_ERROR;
    if (st && headers && body_id >= 0) {
        sqlite3_bind_int64(st, 1, bucket_id);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, o->file, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, o->size);
        sqlite3_bind_text(st, 5, o->etag, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, o->modified_ms);
        sqlite3_bind_text(st, 7, headers, -1, SQLITE_STATIC);
        if (body_id > 0)
            sqlite3_bind_int64(st, 8, body_id);
        else
            sqlite3_bind_null(st, 8);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    free(headers);
    return rc == SQLITE_DONE ? 0 : dss_fail(call, DSS_E_InternalFailure, "Could not store the object.");
}

/* Object headers a request sets, by their member names in the model. */
static const char *const kept_headers[] = {
    "ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
    "Expires", "WebsiteRedirectLocation", "StorageClass", NULL,
};

cJSON *s3_object_headers(struct dss_call *call, const cJSON *params)
{
    cJSON *h = cJSON_CreateObject();
    for (int i = 0; kept_headers[i]; i++) {
        const char *v = dss_param_str(params, kept_headers[i]);
        if (v && (strcmp(kept_headers[i], "StorageClass") != 0 || strcmp(v, "STANDARD") != 0))
            cJSON_AddStringToObject(h, kept_headers[i], v);
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "Metadata"), *m;
    size_t size = 0;
    cJSON_ArrayForEach(m, meta)
        size += strlen(m->string) + (cJSON_IsString(m) ? strlen(m->valuestring) : 0);
    if (size > METADATA_MAX) {
        cJSON_Delete(h);
        dss_fail(call, DSS_E_MetadataTooLarge, "Your metadata headers exceed the maximum allowed metadata size");
        return NULL;
    }
    if (meta && meta->child)
        cJSON_AddItemToObject(h, "Metadata", cJSON_Duplicate(meta, 1));
    return h;
}

void s3_etag_quote(const char *etag, char *out, size_t n)
{
    snprintf(out, n, "\"%s\"", etag);
}

int s3_etag_match(const char *cond, const char *etag)
{
    size_t elen = strlen(etag);
    for (const char *p = cond; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        const char *s = p, *e = p + n;
        while (e > s && e[-1] == ' ')
            e--;
        if (e - s >= 2 && s[0] == 'W' && s[1] == '/')
            s += 2;
        if (e - s >= 2 && *s == '"' && e[-1] == '"') {
            s++;
            e--;
        }
        if ((e - s == 1 && *s == '*') || ((size_t)(e - s) == elen && memcmp(s, etag, elen) == 0))
            return 1;
        p += n;
    }
    return 0;
}

/* ---- PutObject ---- */

/* The checksum a streamed body carries ("_Body": ChecksumAlgorithm, Checksum) into headers
 * and result, as the model's Checksum<ALGO> member. */
static void add_checksum(const cJSON *body, cJSON *headers, cJSON *result)
{
    enum s3_algo algo = s3_algo_parse(dss_param_str(body, "ChecksumAlgorithm"));
    const char *value = dss_param_str(body, "Checksum");
    if (algo == S3_CK_NONE || !value || !value[0])
        return;
    char member[40];
    s3_algo_member(algo, member, sizeof member);
    cJSON_AddStringToObject(headers, member, value);
    cJSON_AddStringToObject(headers, "ChecksumType", "FULL_OBJECT");
    if (result) {
        cJSON_AddStringToObject(result, member, value);
        cJSON_AddStringToObject(result, "ChecksumType", "FULL_OBJECT");
    }
}

/* The conditional-write headers of PutObject (If-None-Match: *, If-Match). */
static int check_put_conditions(struct dss_call *call, const cJSON *params, int64_t bucket_id, const char *key)
{
    const char *if_none = dss_param_str(params, "IfNoneMatch"), *if_match = dss_param_str(params, "IfMatch");
    if (!if_none && !if_match)
        return 0;
    struct s3_object o;
    int rc = s3_object_load(call, bucket_id, key, 0, &o);
    if (rc == DSS_ERR)
        return DSS_ERR;
    int exists = rc == 0;
    int ok = 1;
    if (if_none && exists && strcmp(if_none, "*") == 0)
        ok = 0;
    if (if_match && !exists) {
        s3_object_cleanup(&o);
        return dss_fail(call, DSS_E_NoSuchKey, "The specified key does not exist.");
    }
    if (if_match && !s3_etag_match(if_match, o.etag))
        ok = 0;
    s3_object_cleanup(&o);
    return ok ? 0 : dss_fail(call, DSS_E_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
}

/* The "_Body" rest.c made: a placed file's id, or bytes the call holds. Returns 0 or DSS_ERR. */
static int body_from_params(struct dss_call *call, const cJSON *body, struct s3_object *o)
{
    size_t len;
    const char *bytes = dss_call_bytes(call, &len);
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "Inline"))) {
        snprintf(o->file, sizeof o->file, "%s", dss_param_str(body, "File"));
        return 0;
    }
    if (len != (size_t)o->size)
        return dss_fail(call, DSS_E_InternalFailure, "PutObject without its bytes.");
    if (len && !(o->body = malloc(len)))
        return dss_fail(call, DSS_E_InternalFailure, "Out of memory.");
    if (len)
        memcpy(o->body, bytes, len);
    return 0;
}

/* PutObject: Bucket, Key, headers, Metadata{}, "_Body"{File or Inline, Size, MD5, Checksum...}
 * -> ETag, Checksum*. An Inline body's bytes are the call's (dss_call_bytes()). */
int s3_put_object(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(params, "_Body");
    const char *key = dss_param_str(params, "Key");
    struct s3_bucket b;
    if (!body || !key)
        return dss_fail(call, DSS_E_InternalFailure, "PutObject without a body.");
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    struct s3_object o = {0};
    int rc = check_put_conditions(call, params, b.id, key);
    if (rc == 0 && !(o.headers = s3_object_headers(call, params)))
        rc = DSS_ERR;
    if (rc == 0) {
        *result = cJSON_CreateObject();
        add_checksum(body, o.headers, *result);
        snprintf(o.etag, sizeof o.etag, "%s", dss_param_str(body, "MD5"));
        o.size = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(body, "Size"));
        o.modified_ms = dss_clock_now_ms();
        rc = body_from_params(call, body, &o);
    }
    if (rc == 0)
        rc = s3_object_store(call, b.id, key, &o, result);
    if (rc == 0) {
        char quoted[96];
        s3_etag_quote(o.etag, quoted, sizeof quoted);
        cJSON_AddStringToObject(*result, "ETag", quoted);
        s3_notify(call, &b, "ObjectCreated:Put", key, o.size, o.etag);
    }
    s3_object_cleanup(&o);
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* ---- GetObject and HeadObject ---- */

/* If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in RFC 7232's order.
 * Returns 0 (serve), 304 (not modified) or DSS_ERR (PreconditionFailed). */
static int check_get_conditions(struct dss_call *call, const cJSON *params, const struct s3_object *o)
{
    const char *if_match = dss_param_str(params, "IfMatch"), *if_none = dss_param_str(params, "IfNoneMatch");
    const cJSON *unmod = cJSON_GetObjectItemCaseSensitive(params, "IfUnmodifiedSince");
    const cJSON *mod = cJSON_GetObjectItemCaseSensitive(params, "IfModifiedSince");
    int64_t whole = o->modified_ms / 1000; /* HTTP dates have whole seconds */
    double modified = (double)whole;
    double now = s3_seconds(dss_clock_now_ms());
    if (if_match ? !s3_etag_match(if_match, o->etag) : cJSON_IsNumber(unmod) && modified > unmod->valuedouble)
        return dss_fail(call, DSS_E_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
    if (if_none ? s3_etag_match(if_none, o->etag)
                : cJSON_IsNumber(mod) && mod->valuedouble <= now && modified <= mod->valuedouble)
        return 304;
    return 0;
}

/* "bytes=a-b", "bytes=a-", "bytes=-n" against size. Returns 1 with [*first, *last] set, 0
 * when the header is absent or not a single byte range (S3 then sends everything), -1 when
 * the range is unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *first, int64_t *last)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (*end || end == p + 1 || n < 0)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    long long a = strtoll(p, &end, 10);
    if (end == p || *end != '-' || a < 0)
        return 0;
    p = end + 1;
    long long b = size - 1;
    if (*p) {
        b = strtoll(p, &end, 10);
        if (*end || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* The byte range of part n of a multipart object (or part 1 of a simple one). */
static int part_range(struct dss_call *call, const struct s3_object *o, int64_t n, int64_t *first, int64_t *last)
{
    const cJSON *sizes = cJSON_GetObjectItemCaseSensitive(o->headers, "PartSizes");
    int count = sizes ? cJSON_GetArraySize(sizes) : 1;
    if (n < 1 || n > count)
        return dss_fail(call, DSS_E_InvalidPartNumber, "The requested partnumber is not satisfiable");
    int64_t off = 0, len = o->size;
    if (sizes) {
        for (int i = 0; i < n - 1; i++)
            off += (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(sizes, i));
        len = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(sizes, (int)n - 1));
    }
    *first = off;
    *last = off + len - 1;
    return 0;
}

/* Response-* query parameters override the stored headers in the answer. */
static void apply_overrides(const cJSON *params, cJSON *result)
{
    static const char *const pairs[][2] = {
        {"ResponseContentType", "ContentType"},         {"ResponseContentLanguage", "ContentLanguage"},
        {"ResponseContentDisposition", "ContentDisposition"}, {"ResponseContentEncoding", "ContentEncoding"},
        {"ResponseCacheControl", "CacheControl"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const char *v = dss_param_str(params, pairs[i][0]);
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(result, pairs[i][1]);
            cJSON_AddStringToObject(result, pairs[i][1], v);
        }
    }
}

/* The stored headers that belong in a GetObject answer; checksums only when asked for and
 * only for the whole object (a range has no checksum of its own). */
static void add_object_headers(cJSON *result, const struct s3_object *o, int checksums)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, o->headers) {
        int checksum = strncmp(h->string, "Checksum", 8) == 0;
        if (strcmp(h->string, "PartSizes") == 0 || (checksum && !checksums))
            continue;
        cJSON_AddItemToObject(result, h->string, cJSON_Duplicate(h, 1));
    }
    if (!cJSON_GetObjectItemCaseSensitive(result, "ContentType"))
        cJSON_AddStringToObject(result, "ContentType", "binary/octet-stream");
}

/* GetObject and HeadObject: Bucket, Key, If-*, Range, PartNumber, ChecksumMode, Response-*
 * -> headers and "Body"{File or Inline, Offset, Length}; "_Status" 206 for a range, 304 when
 * not modified. An Inline body's bytes (the range of them) go to the call (dss_call_give_bytes()). */
int s3_get_object(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_object o;
    int rc = object_load_by_name(call, dss_param_str(params, "Bucket"), dss_param_str(params, "Key"), &o);
    if (rc != 0)
        return rc == DSS_ERR ? DSS_ERR : dss_fail(call, DSS_E_NoSuchKey, "The specified key does not exist.");
    char etag[96];
    s3_etag_quote(o.etag, etag, sizeof etag);
    int cond = check_get_conditions(call, params, &o);
    int64_t first = 0, last = o.size - 1, part = 0;
    int ranged = 0;
    int by_part = dss_param_int(params, "PartNumber", &part) == 0;
    if (cond == 0 && by_part && dss_param_str(params, "Range")) {
        dss_fail(call, DSS_E_InvalidRequest, "Cannot specify both Range header and partNumber query parameter");
        ranged = -2;
    } else if (cond == 0 && by_part) {
        ranged = part_range(call, &o, part, &first, &last) == 0 ? 1 : -2;
    } else if (cond == 0) {
        ranged = parse_range(dss_param_str(params, "Range"), o.size, &first, &last);
        if (ranged < 0) {
            char size[32];
            snprintf(size, sizeof size, "%lld", (long long)o.size);
            dss_fail(call, DSS_E_InvalidRange, "The requested range is not satisfiable");
            dss_fail_member(call, "RangeRequested", cJSON_CreateString(dss_param_str(params, "Range")));
            dss_fail_member(call, "ActualObjectSize", cJSON_CreateString(size));
        }
    }
    if (cond == DSS_ERR || ranged < 0) {
        s3_object_cleanup(&o);
        return DSS_ERR;
    }
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "ETag", etag);
    cJSON_AddNumberToObject(*result, "LastModified", s3_seconds(o.modified_ms / 1000 * 1000));
    if (cond == 304) {
        cJSON_AddNumberToObject(*result, "_Status", 304);
        s3_object_cleanup(&o);
        return DSS_OK;
    }
    const char *mode = dss_param_str(params, "ChecksumMode");
    add_object_headers(*result, &o, mode && strcasecmp(mode, "ENABLED") == 0 && !ranged);
    apply_overrides(params, *result);
    cJSON_AddStringToObject(*result, "AcceptRanges", "bytes");
    cJSON_AddNumberToObject(*result, "ContentLength", (double)(last - first + 1));
    if (part) {
        const cJSON *sizes = cJSON_GetObjectItemCaseSensitive(o.headers, "PartSizes");
        cJSON_AddNumberToObject(*result, "PartsCount", sizes ? cJSON_GetArraySize(sizes) : 1);
    }
    if (ranged) {
        char range[96];
        snprintf(range, sizeof range, "bytes %lld-%lld/%lld", (long long)first, (long long)last, (long long)o.size);
        cJSON_AddStringToObject(*result, "ContentRange", range);
        cJSON_AddNumberToObject(*result, "_Status", 206);
    }
    int64_t length = o.size ? last - first + 1 : 0;
    cJSON *body = cJSON_AddObjectToObject(*result, "Body");
    if (o.file[0]) {
        cJSON_AddStringToObject(body, "File", o.file);
    } else {
        cJSON_AddTrueToObject(body, "Inline");
        s3_object_give_range(call, &o, first, length);
    }
    cJSON_AddNumberToObject(body, "Offset", (double)first);
    cJSON_AddNumberToObject(body, "Length", (double)length);
    s3_object_cleanup(&o);
    return DSS_OK;
}

/* ---- DeleteObject and DeleteObjects ---- */

/* Deletes one key's row, if any, and announces it. Returns 0 or DSS_ERR. */
static int delete_key(struct dss_call *call, const struct s3_bucket *b, const char *key, cJSON **result)
{
    sqlite3_stmt *st =
        dss_stmt(call, "DELETE FROM s3_objects WHERE bucket_id = ? AND key = ? RETURNING file, body_id");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, b->id);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    int64_t body_id = 0;
    if (found) {
        s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
        body_id = sqlite3_column_int64(st, 1);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (found ? rc != SQLITE_DONE : rc != SQLITE_DONE && rc != SQLITE_ROW)
        return dss_fail(call, DSS_E_InternalFailure, "Could not delete the object.");
    if (body_id > 0 && forget_body(call, body_id))
        return dss_fail(call, DSS_E_InternalFailure, "Could not delete the object.");
    if (found)
        s3_notify(call, b, "ObjectRemoved:Delete", key, -1, NULL);
    return 0;
}

/* DeleteObject: Bucket, Key -> 204 whether or not the key existed. */
int s3_delete_object(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    int rc = delete_key(call, &b, dss_param_str(params, "Key"), result);
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* DeleteObjects: Bucket, Delete{Objects[{Key}], Quiet} -> Deleted[{Key}], Errors[]. */
int s3_delete_objects(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(params, "Delete");
    const cJSON *objects = cJSON_GetObjectItemCaseSensitive(del, "Objects"), *e;
    int n = cJSON_GetArraySize(objects);
    if (!cJSON_IsArray(objects) || n == 0 || n > DELETE_MAX)
        return dss_fail(call, DSS_E_MalformedXML, "The XML you provided was not well-formed or did not validate "
                                                  "against our published schema");
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    int quiet = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(del, "Quiet"));
    *result = cJSON_CreateObject();
    cJSON *deleted = cJSON_AddArrayToObject(*result, "Deleted");
    cJSON *errors = cJSON_AddArrayToObject(*result, "Errors");
    int rc = 0;
    cJSON_ArrayForEach(e, objects) {
        const char *key = dss_param_str(e, "Key");
        if (!key || !key[0] || strlen(key) > S3_MAX_KEY) {
            cJSON *err = cJSON_CreateObject();
            cJSON_AddStringToObject(err, "Key", key ? key : "");
            cJSON_AddStringToObject(err, "Code", key && key[0] ? "KeyTooLongError" : "InvalidArgument");
            cJSON_AddStringToObject(err, "Message", key && key[0] ? "Your key is too long" : "Invalid key");
            cJSON_AddItemToArray(errors, err);
            continue;
        }
        if ((rc = delete_key(call, &b, key, result)) != 0)
            break;
        if (!quiet) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "Key", key);
            cJSON_AddItemToArray(deleted, d);
        }
    }
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* ---- CopyObject ---- */

/* "bucket/key" or "/bucket/key", percent-encoded, optionally "?versionId=...". */
static int parse_copy_source(struct dss_call *call, const char *src, char **bucket, char **key)
{
    size_t n = strcspn(src, "?");
    char *decoded = malloc(n + 1);
    long len = decoded ? url_decode(src, n, decoded, 0) : -1;
    char *p = decoded;
    if (len > 0 && *p == '/')
        p++;
    char *slash = len > 0 ? strchr(p, '/') : NULL;
    if (!slash || slash == p || !slash[1] || strlen(decoded) != (size_t)len) {
        free(decoded);
        return dss_fail(call, DSS_E_InvalidArgument,
                        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
    }
    *bucket = strndup(p, (size_t)(slash - p));
    *key = strdup(slash + 1);
    free(decoded);
    return 0;
}

/* x-amz-copy-source-if-*: PreconditionFailed when one does not hold. */
static int check_copy_conditions(struct dss_call *call, const cJSON *params, const struct s3_object *o)
{
    const char *match = dss_param_str(params, "CopySourceIfMatch"), *none = dss_param_str(params, "CopySourceIfNoneMatch");
    const cJSON *unmod = cJSON_GetObjectItemCaseSensitive(params, "CopySourceIfUnmodifiedSince");
    const cJSON *mod = cJSON_GetObjectItemCaseSensitive(params, "CopySourceIfModifiedSince");
    int64_t whole = o->modified_ms / 1000;
    double modified = (double)whole;
    int ok = match ? s3_etag_match(match, o->etag) : !cJSON_IsNumber(unmod) || modified <= unmod->valuedouble;
    if (ok)
        ok = none ? !s3_etag_match(none, o->etag) : !cJSON_IsNumber(mod) || modified > mod->valuedouble;
    return ok ? 0 : dss_fail(call, DSS_E_PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
}

/* Loads the object CopySource names (for CopyObject and UploadPartCopy). Returns 0 or DSS_ERR. */
int s3_copy_source_load(struct dss_call *call, const cJSON *params, struct s3_object *o, char **bucket, char **key)
{
    *bucket = *key = NULL;
    memset(o, 0, sizeof *o);
    struct s3_bucket sb;
    if (parse_copy_source(call, dss_param_str(params, "CopySource"), bucket, key) ||
        s3_bucket_load(call, *bucket, &sb))
        return DSS_ERR;
    s3_bucket_cleanup(&sb);
    int rc = s3_object_load(call, sb.id, *key, 1, o);
    if (rc == 1)
        return dss_fail(call, DSS_E_NoSuchKey, "The specified key does not exist.");
    return rc == 0 ? check_copy_conditions(call, params, o) : DSS_ERR;
}

/* CopyObject: Bucket, Key, CopySource, MetadataDirective, headers -> CopyObjectResult{ETag,
 * LastModified}. The copy shares the source's bytes (a second name for its file), or copies
 * them when they are in the database (s3_bodies). */
int s3_copy_object(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *key = dss_param_str(params, "Key");
    const char *directive = dss_param_str(params, "MetadataDirective");
    int replace = directive && strcmp(directive, "REPLACE") == 0;
    if (directive && !replace && strcmp(directive, "COPY") != 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Unknown metadata directive.");
    char *sbucket = NULL, *skey = NULL;
    struct s3_object src = {0}, dst = {0};
    struct s3_bucket b = {0};
    int rc = s3_copy_source_load(call, params, &src, &sbucket, &skey);
    if (rc == 0)
        rc = s3_bucket_from_params(call, params, &b);
    int onto_itself = rc == 0 && sbucket && skey && key && !strcmp(sbucket, b.name) && !strcmp(skey, key);
    if (onto_itself && !replace &&
        !dss_param_str(params, "StorageClass") && !dss_param_str(params, "WebsiteRedirectLocation"))
        rc = dss_fail(call, DSS_E_InvalidRequest,
                      "This copy request is illegal because it is trying to copy an object to itself without "
                      "changing the object's metadata, storage class, website redirect location or encryption "
                      "attributes.");
    if (rc == 0 && replace && !(dst.headers = s3_object_headers(call, params)))
        rc = DSS_ERR;
    if (rc == 0 && src.file[0] && s3_file_link(src.file, dst.file) != 0)
        rc = dss_fail(call, DSS_E_InternalFailure, "Could not copy the object's bytes.");
    if (rc == 0 && !src.file[0]) {
        dst.body = src.body;
        src.body = NULL;
    }
    if (rc == 0) {
        if (!replace) {
            dst.headers = src.headers;
            src.headers = NULL;
        } else { /* the bytes are the same: their checksum still holds */
            const cJSON *h;
            cJSON_ArrayForEach(h, src.headers)
                if (!strncmp(h->string, "Checksum", 8) || !strcmp(h->string, "PartSizes"))
                    cJSON_AddItemToObject(dst.headers, h->string, cJSON_Duplicate(h, 1));
        }
        dst.size = src.size;
        *result = cJSON_CreateObject();
        snprintf(dst.etag, sizeof dst.etag, "%s", src.etag);
        dst.modified_ms = dss_clock_now_ms();
        if ((rc = s3_object_store(call, b.id, key, &dst, result)) != 0)
            s3_file_remove(dst.file); /* the row will not point at it */
    }
    if (rc == 0) {
        char quoted[96];
        s3_etag_quote(dst.etag, quoted, sizeof quoted);
        cJSON *r = cJSON_AddObjectToObject(*result, "CopyObjectResult");
        cJSON_AddStringToObject(r, "ETag", quoted);
        cJSON_AddNumberToObject(r, "LastModified", s3_seconds(dst.modified_ms));
        s3_notify(call, &b, "ObjectCreated:Copy", key, dst.size, dst.etag);
    }
    free(sbucket);
    free(skey);
    s3_object_cleanup(&src);
    s3_object_cleanup(&dst);
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* ---- ListObjects and ListObjectsV2 ---- */

/* The listing is the ordered sequence of keys and common prefixes (keys that share the part
 * up to the first delimiter after the prefix, rolled into one). A page is the items after
 * "after" -- the marker, start-after or continuation token, all meaning the same. */
struct listing {
    const char *prefix, *delimiter, *after;
    int64_t max;
    int url;       /* EncodingType=url */
    int owner;     /* Contents carry Owner */
    cJSON *contents, *prefixes;
    int count, truncated;
    char *last;    /* the last item listed (malloc'd) */
};

static void add_text(cJSON *obj, const char *name, const char *value, int url)
{
    if (!url) {
        cJSON_AddStringToObject(obj, name, value);
        return;
    }
    struct buf b;
    buf_init(&b, SIZE_MAX);
    s3_url_encode(&b, value);
    cJSON_AddStringToObject(obj, name, b.data ? b.data : "");
    buf_free(&b);
}

/* The smallest string greater than every string that starts with s. */
static int successor(const char *s, char *out, size_t n)
{
    size_t len = strlen(s);
    if (len >= n)
        return -1;
    memcpy(out, s, len + 1);
    while (len > 0 && (unsigned char)out[len - 1] == 0xFF)
        out[--len] = '\0';
    if (len == 0)
        return -1;
    out[len - 1] = (char)((unsigned char)out[len - 1] + 1);
    return 0;
}

static void emit_key(struct listing *l, sqlite3_stmt *st)
{
    cJSON *c = cJSON_CreateObject();
    const char *key = (const char *)sqlite3_column_text(st, 0);
    char etag[96];
    s3_etag_quote((const char *)sqlite3_column_text(st, 2), etag, sizeof etag);
    add_text(c, "Key", key, l->url);
    cJSON_AddNumberToObject(c, "LastModified", s3_seconds(sqlite3_column_int64(st, 3)));
    cJSON_AddStringToObject(c, "ETag", etag);
    cJSON_AddNumberToObject(c, "Size", (double)sqlite3_column_int64(st, 1));
    cJSON *h = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
    const char *sc = dss_param_str(h, "StorageClass"), *algo = dss_param_str(h, "ChecksumAlgorithm");
    cJSON_AddStringToObject(c, "StorageClass", sc ? sc : "STANDARD");
    if (algo)
        cJSON_AddItemToObject(c, "ChecksumAlgorithm", cJSON_CreateStringArray(&algo, 1));
    cJSON_Delete(h);
    if (l->owner) {
        cJSON *o = cJSON_AddObjectToObject(c, "Owner");
        cJSON_AddStringToObject(o, "DisplayName", S3_OWNER_NAME);
        cJSON_AddStringToObject(o, "ID", S3_OWNER_ID);
    }
    cJSON_AddItemToArray(l->contents, c);
    free(l->last);
    l->last = strdup(key);
}

static const char SQL_FROM[] = "SELECT key, size, etag, modified_ms, headers FROM s3_objects "
                               "WHERE bucket_id = ? AND key >= ? ORDER BY key";
static const char SQL_AFTER[] = "SELECT key, size, etag, modified_ms, headers FROM s3_objects "
                                "WHERE bucket_id = ? AND key > ? ORDER BY key";

static sqlite3_stmt *seek(struct dss_call *call, int64_t bucket_id, const char *sql, const char *from)
{
    sqlite3_stmt *st = dss_stmt(call, sql);
    if (st) {
        sqlite3_bind_int64(st, 1, bucket_id);
        sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
    }
    return st;
}

/* Walks the keys from the page's start, rolling up common prefixes and jumping past each. */
static int list_page(struct dss_call *call, int64_t bucket_id, struct listing *l)
{
    size_t plen = strlen(l->prefix), dlen = strlen(l->delimiter);
    sqlite3_stmt *st = l->after && strcmp(l->after, l->prefix) >= 0 ? seek(call, bucket_id, SQL_AFTER, l->after)
                                                                    : seek(call, bucket_id, SQL_FROM, l->prefix);
    while (st && l->max > 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        if (strncmp(key, l->prefix, plen) != 0)
            break;
        const char *d = dlen ? strstr(key + plen, l->delimiter) : NULL;
        if (!d) {
            if (l->after && strcmp(key, l->after) <= 0)
                continue;
            if (l->count == l->max) {
                l->truncated = 1;
                break;
            }
            emit_key(l, st);
            l->count++;
            continue;
        }
        char cp[S3_MAX_KEY + 8], next[S3_MAX_KEY + 8];
        snprintf(cp, sizeof cp, "%.*s", (int)(d - key + (ptrdiff_t)dlen), key);
        if (!l->after || strcmp(cp, l->after) > 0) {
            if (l->count == l->max) {
                l->truncated = 1;
                break;
            }
            cJSON *p = cJSON_CreateObject();
            add_text(p, "Prefix", cp, l->url);
            cJSON_AddItemToArray(l->prefixes, p);
            l->count++;
            free(l->last);
            l->last = strdup(cp);
        }
        if (successor(cp, next, sizeof next))
            break;
        st = seek(call, bucket_id, SQL_FROM, next);
    }
    if (st)
        sqlite3_reset(st);
    return st ? 0 : dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
}

static int list_common(struct dss_call *call, const cJSON *params, cJSON **result, int v2)
{
    struct listing l = {0};
    l.prefix = dss_param_str(params, "Prefix") ? dss_param_str(params, "Prefix") : "";
    l.delimiter = dss_param_str(params, "Delimiter") ? dss_param_str(params, "Delimiter") : "";
    const char *encoding = dss_param_str(params, "EncodingType");
    if (encoding && strcmp(encoding, "url") != 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Invalid Encoding Method specified in Request");
    l.url = encoding != NULL;
    l.max = LIST_MAX;
    if (dss_param_int(params, "MaxKeys", &l.max) < 0 || l.max < 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Provided max-keys not an integer or within integer range");
    if (l.max > LIST_MAX)
        l.max = LIST_MAX;
    l.owner = !v2 || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "FetchOwner"));
    const char *token = v2 ? dss_param_str(params, "ContinuationToken") : NULL;
    char *after = NULL;
    if (token) {
        size_t n = strlen(token);
        after = malloc(n + 4);
        long len = after ? base64_decode(token, n, (unsigned char *)after) : -1;
        if (len <= 0 || !s3_utf8_valid(after, (size_t)len)) {
            free(after);
            return dss_fail(call, DSS_E_InvalidArgument, "The continuation token provided is incorrect");
        }
        after[len] = '\0';
        l.after = after;
    } else {
        l.after = dss_param_str(params, v2 ? "StartAfter" : "Marker");
    }
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b)) {
        free(after);
        return DSS_ERR;
    }
    l.contents = cJSON_CreateArray();
    l.prefixes = cJSON_CreateArray();
    int rc = list_page(call, b.id, &l);
    if (rc == 0) {
        cJSON *r = *result = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "Name", b.name);
        add_text(r, "Prefix", l.prefix, l.url);
        if (l.delimiter[0])
            add_text(r, "Delimiter", l.delimiter, l.url);
        cJSON_AddNumberToObject(r, "MaxKeys", (double)l.max);
        if (l.url)
            cJSON_AddStringToObject(r, "EncodingType", "url");
        cJSON_AddBoolToObject(r, "IsTruncated", l.truncated);
        if (v2) {
            cJSON_AddNumberToObject(r, "KeyCount", l.count);
            if (token)
                cJSON_AddStringToObject(r, "ContinuationToken", token);
            if (dss_param_str(params, "StartAfter"))
                add_text(r, "StartAfter", dss_param_str(params, "StartAfter"), l.url);
            if (l.truncated && l.last) {
                struct buf t;
                buf_init(&t, SIZE_MAX);
                base64_encode(&t, l.last, strlen(l.last));
                cJSON_AddStringToObject(r, "NextContinuationToken", t.data);
                buf_free(&t);
            }
        } else {
            add_text(r, "Marker", l.after ? l.after : "", l.url);
            if (l.truncated && l.last && l.delimiter[0])
                add_text(r, "NextMarker", l.last, l.url);
        }
        cJSON_AddItemToObject(r, "Contents", l.contents);
        cJSON_AddItemToObject(r, "CommonPrefixes", l.prefixes);
    } else {
        cJSON_Delete(l.contents);
        cJSON_Delete(l.prefixes);
    }
    free(l.last);
    free(after);
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* ListObjects: Bucket, Prefix, Delimiter, Marker, MaxKeys, EncodingType -> Contents,
 * CommonPrefixes, IsTruncated, NextMarker (with a delimiter). */
int s3_list_objects(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return list_common(call, params, result, 0);
}

/* ListObjectsV2: ... StartAfter, ContinuationToken, FetchOwner -> ... KeyCount,
 * NextContinuationToken. */
int s3_list_objects_v2(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return list_common(call, params, result, 1);
}
