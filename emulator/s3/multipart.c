/* multipart.c -- S3 multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
 *
 * Each part is a file of its own (store.c). Completing an upload joins the parts into one
 * new file -- with copy_file_range, outside any transaction, since that may take seconds
 * for a big object -- between two short transactions: one that checks the part list against
 * the stored parts, and one that re-checks that nothing changed meanwhile (else it all runs
 * again), writes the object and drops the upload. The ETag is S3's: the MD5 of the parts'
 * binary MD5s, "-" and the part count. A checksum algorithm chosen at creation gives a
 * COMPOSITE checksum the same way (base64 of the checksum of the parts' checksums, "-N"),
 * or with ChecksumType FULL_OBJECT the checksum of the whole object, computed while joining.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "s3.h"
#include "util.h"

#define PARTS_MAX 10000
#define LIST_MAX 1000
#define RETRIES 3

static const char malformed[] = "The XML you provided was not well-formed or did not validate against our published schema";
static const char no_upload[] = "The specified upload does not exist. The upload ID may be invalid, or the upload "
                                "may have been aborted or completed.";

struct upload {
    struct s3_bucket bucket;
    char id[80];
    char *key;
    int64_t initiated_ms;
    cJSON *headers;
};

static void upload_cleanup(struct upload *u)
{
    s3_bucket_cleanup(&u->bucket);
    free(u->key);
    cJSON_Delete(u->headers);
    memset(u, 0, sizeof *u);
}

/* The upload UploadId names, in the request's bucket and key. Returns 0 or DSS_ERR. */
static int upload_load(struct dss_call *call, const cJSON *params, struct upload *u)
{
    memset(u, 0, sizeof *u);
    if (s3_bucket_from_params(call, params, &u->bucket))
        return DSS_ERR;
    const char *id = dss_param_str(params, "UploadId"), *key = dss_param_str(params, "Key");
    sqlite3_stmt *st = dss_stmt(call, "SELECT initiated_ms, headers FROM s3_uploads "
                                      "WHERE upload_id = ? AND bucket_id = ? AND key = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_text(st, 1, id ? id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, u->bucket.id);
    sqlite3_bind_text(st, 3, key ? key : "", -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(u->id, sizeof u->id, "%s", id ? id : "");
        u->key = strdup(key ? key : "");
        u->initiated_ms = sqlite3_column_int64(st, 0);
        u->headers = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_reset(st);
    if (!found)
        return dss_fail(call, DSS_E_NoSuchUpload, "%s", no_upload);
    if (!u->headers)
        u->headers = cJSON_CreateObject();
    return 0;
}

static enum s3_algo upload_algo(const struct upload *u)
{
    return s3_algo_parse(dss_param_str(u->headers, "ChecksumAlgorithm"));
}

static cJSON *owner(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "DisplayName", S3_OWNER_NAME);
    cJSON_AddStringToObject(o, "ID", S3_OWNER_ID);
    return o;
}

static int exec(struct dss_call *call, sqlite3_stmt *st)
{
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
}

/* ---- CreateMultipartUpload ---- */

/* CreateMultipartUpload: Bucket, Key, headers, Metadata{}, ChecksumAlgorithm, ChecksumType
 * -> Bucket, Key, UploadId. */
int s3_create_multipart_upload(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    s3_bucket_cleanup(&b);
    const char *algo_name = dss_param_str(params, "ChecksumAlgorithm");
    const char *type = dss_param_str(params, "ChecksumType");
    enum s3_algo algo = s3_algo_parse(algo_name);
    if (algo_name && algo == S3_CK_NONE)
        return dss_fail(call, DSS_E_InvalidRequest, "Checksum algorithm %s is not supported.", algo_name);
    if (type && strcmp(type, "COMPOSITE") != 0 && strcmp(type, "FULL_OBJECT") != 0)
        return dss_fail(call, DSS_E_InvalidRequest, "Value for x-amz-checksum-type header is invalid.");
    if (type && !strcmp(type, "FULL_OBJECT") && (algo == S3_CK_SHA1 || algo == S3_CK_SHA256))
        return dss_fail(call, DSS_E_InvalidRequest, "The FULL_OBJECT checksum type cannot be used with the %s "
                                                    "checksum algorithm.", s3_algo_name(algo));
    cJSON *headers = s3_object_headers(call, params);
    if (!headers)
        return DSS_ERR;
    if (algo != S3_CK_NONE) {
        cJSON_AddStringToObject(headers, "ChecksumAlgorithm", s3_algo_name(algo));
        cJSON_AddStringToObject(headers, "ChecksumType",
                                type ? type : algo == S3_CK_CRC64NVME ? "FULL_OBJECT" : "COMPOSITE");
    }
    char id[65];
    s3_random_hex(id, 32);
    char *text = cJSON_PrintUnformatted(headers);
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO s3_uploads(upload_id, bucket_id, key, initiated_ms, headers) "
                                      "VALUES (?, ?, ?, ?, ?)");
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, b.id);
        sqlite3_bind_text(st, 3, dss_param_str(params, "Key"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, dss_clock_now_ms());
        sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
    }
    int rc = exec(call, st);
    free(text);
    if (rc == 0) {
        *result = cJSON_CreateObject();
        cJSON_AddStringToObject(*result, "Bucket", b.name);
        cJSON_AddStringToObject(*result, "Key", dss_param_str(params, "Key"));
        cJSON_AddStringToObject(*result, "UploadId", id);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(headers, "ChecksumAlgorithm");
        if (a) {
            cJSON_AddStringToObject(*result, "ChecksumAlgorithm", a->valuestring);
            cJSON_AddStringToObject(*result, "ChecksumType", dss_param_str(headers, "ChecksumType"));
        }
    }
    cJSON_Delete(headers);
    return rc ? DSS_ERR : DSS_OK;
}

/* ---- UploadPart ---- */

static int part_number(struct dss_call *call, const cJSON *params, int64_t *n)
{
    if (dss_param_int(params, "PartNumber", n) != 0 || *n < 1 || *n > PARTS_MAX)
        return dss_fail(call, DSS_E_InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive");
    return 0;
}

/* UploadPart: Bucket, Key, UploadId, PartNumber, "_Body" -> ETag, Checksum*. A part sent
 * again replaces the earlier one. */
int s3_upload_part(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(params, "_Body");
    int64_t n;
    struct upload u;
    if (!body)
        return dss_fail(call, DSS_E_InternalFailure, "UploadPart without a body.");
    if (part_number(call, params, &n) || upload_load(call, params, &u))
        return DSS_ERR;
    enum s3_algo want = upload_algo(&u), got = s3_algo_parse(dss_param_str(body, "ChecksumAlgorithm"));
    upload_cleanup(&u);
    if (want != S3_CK_NONE && got != S3_CK_NONE && want != got)
        return dss_fail(call, DSS_E_InvalidRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, "
                                                    "actual checksum Type: %s", s3_algo_name(want), s3_algo_name(got));
    const char *checksum = want != S3_CK_NONE && want == got ? dss_param_str(body, "Checksum") : NULL;
    sqlite3_stmt *st = dss_stmt(call, "SELECT file FROM s3_parts WHERE upload_id = ? AND part_number = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_text(st, 1, dss_param_str(params, "UploadId"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, n);
    *result = cJSON_CreateObject();
    if (sqlite3_step(st) == SQLITE_ROW)
        s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    st = dss_stmt(call, "INSERT OR REPLACE INTO s3_parts(upload_id, part_number, file, size, etag, modified_ms, "
                        "checksum) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (st) {
        sqlite3_bind_text(st, 1, dss_param_str(params, "UploadId"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n);
        sqlite3_bind_text(st, 3, dss_param_str(body, "File"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(body, "Size")));
        sqlite3_bind_text(st, 5, dss_param_str(body, "MD5"), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, dss_clock_now_ms());
        if (checksum)
            sqlite3_bind_text(st, 7, checksum, -1, SQLITE_STATIC);
    }
    if (exec(call, st))
        return DSS_ERR;
    char etag[96], member[40];
    s3_etag_quote(dss_param_str(body, "MD5"), etag, sizeof etag);
    cJSON_AddStringToObject(*result, "ETag", etag);
    if (got != S3_CK_NONE && dss_param_str(body, "Checksum") && dss_param_str(body, "Checksum")[0]) {
        s3_algo_member(got, member, sizeof member);
        cJSON_AddStringToObject(*result, member, dss_param_str(body, "Checksum"));
    }
    return DSS_OK;
}

/* ---- UploadPartCopy ---- */

/* x-amz-copy-source-range: "bytes=first-last", both given, inside the source. 0 or -1. */
static int parse_copy_range(const char *range, int64_t size, int64_t *first, int64_t *last)
{
    char *end;
    if (strncmp(range, "bytes=", 6) != 0 || !isdigit((unsigned char)range[6]))
        return -1;
    long long a = strtoll(range + 6, &end, 10);
    if (*end != '-' || !isdigit((unsigned char)end[1]))
        return -1;
    long long z = strtoll(end + 1, &end, 10);
    if (*end || z < a || z >= size)
        return -1;
    *first = a;
    *last = z;
    return 0;
}

/* Phase one of UploadPartCopy (read-only): the upload exists, and the source and its
 * CopySourceRange -> {File or Inline, Offset, Length, ChecksumAlgorithm}; the range of an
 * Inline source's bytes goes to the call (dss_call_give_bytes()). */
static int part_copy_plan(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct upload u;
    struct s3_object src;
    char *sbucket = NULL, *skey = NULL;
    int64_t n;
    if (part_number(call, params, &n) || upload_load(call, params, &u))
        return DSS_ERR;
    enum s3_algo algo = upload_algo(&u);
    upload_cleanup(&u);
    int rc = s3_copy_source_load(call, params, &src, &sbucket, &skey);
    free(sbucket);
    free(skey);
    int64_t first = 0, last = src.size - 1;
    const char *range = dss_param_str(params, "CopySourceRange");
    if (rc == 0 && range && parse_copy_range(range, src.size, &first, &last) != 0)
        rc = dss_fail(call, DSS_E_InvalidArgument, "Range specified is not valid for source object of size: %lld",
                      (long long)src.size);
    if (rc == 0) {
        *result = cJSON_CreateObject();
        if (src.file[0]) {
            cJSON_AddStringToObject(*result, "File", src.file);
        } else {
            cJSON_AddTrueToObject(*result, "Inline");
            s3_object_give_range(call, &src, first, last - first + 1);
        }
        cJSON_AddNumberToObject(*result, "Offset", (double)first);
        cJSON_AddNumberToObject(*result, "Length", (double)(last - first + 1));
        if (algo != S3_CK_NONE)
            cJSON_AddStringToObject(*result, "ChecksumAlgorithm", s3_algo_name(algo));
    }
    s3_object_cleanup(&src);
    return rc ? DSS_ERR : DSS_OK;
}

static const struct dss_operation part_copy_plan_op = {"UploadPartCopy", part_copy_plan, DSS_OP_READONLY};
static const struct dss_operation part_copy_store_op = {"UploadPartCopy", s3_upload_part, DSS_OP_WRITE};

/* Appends the planned range to t: from the source's file, or the bytes the plan gave the call
 * (that range already). Returns 0, or -1 with errno set (ENOENT: the file went away). */
static int copy_planned(struct dss_call *call, const cJSON *plan, struct s3_tmp *t, uint64_t off, uint64_t len,
                        struct s3_digest *d)
{
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(plan, "Inline")))
        return s3_tmp_copy(t, dss_param_str(plan, "File"), off, len, d);
    size_t held;
    char *bytes = dss_call_take_bytes(call, &held);
    int rc = -1;
    errno = EIO;
    if (held == len && held == 0) {
        rc = 0;
    } else if (held == len) {
        s3_digest_update(d, bytes, held);
        rc = s3_tmp_write(t, bytes, held);
    }
    free(bytes);
    return rc;
}

/* Copies the planned range -- of the source's file, or the bytes the plan gave the call --
 * into a new placed file, digesting it on the way. Returns 0, 1 if the source file went away
 * meanwhile (plan again), or -1. */
static int copy_range(struct dss_call *call, const cJSON *plan, cJSON *body)
{
    struct s3_tmp t;
    struct s3_digest d;
    enum s3_algo algo = s3_algo_parse(dss_param_str(plan, "ChecksumAlgorithm"));
    s3_tmp_create(&t);
    if (s3_digest_init(&d, algo)) {
        s3_tmp_discard(&t);
        return -1;
    }
    uint64_t off = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(plan, "Offset"));
    uint64_t len = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(plan, "Length"));
    if (copy_planned(call, plan, &t, off, len, &d) != 0) {
        int gone = errno == ENOENT;
        s3_digest_cleanup(&d);
        s3_tmp_discard(&t);
        return gone ? 1 : -1;
    }
    char md5[33], checksum[96];
    s3_digest_final(&d, md5, checksum);
    if (s3_tmp_place(&t))
        return -1;
    cJSON_AddStringToObject(body, "File", t.id);
    cJSON_AddNumberToObject(body, "Size", (double)len);
    cJSON_AddStringToObject(body, "MD5", md5);
    if (algo != S3_CK_NONE) {
        cJSON_AddStringToObject(body, "ChecksumAlgorithm", s3_algo_name(algo));
        cJSON_AddStringToObject(body, "Checksum", checksum);
    }
    return 0;
}

/* UploadPartCopy: Bucket, Key, UploadId, PartNumber, CopySource, CopySourceRange
 * -> CopyPartResult{ETag, LastModified, Checksum*}. */
int s3_upload_part_copy(struct dss_call *call, const cJSON *params, cJSON **result)
{
    for (int attempt = 0; attempt < RETRIES; attempt++) {
        cJSON *plan = NULL;
        if (dss_run(call, &part_copy_plan_op, params, &plan) != DSS_OK)
            return DSS_ERR;
        cJSON *store = cJSON_Duplicate(params, 1);
        cJSON *body = cJSON_AddObjectToObject(store, "_Body");
        int rc = copy_range(call, plan, body);
        cJSON_Delete(plan);
        if (rc == 1) {
            cJSON_Delete(store);
            continue;
        }
        cJSON *stored = NULL;
        if (rc == 0 && dss_run(call, &part_copy_store_op, store, &stored) != DSS_OK) {
            s3_file_remove(dss_param_str(body, "File"));
            rc = DSS_ERR;
        } else if (rc != 0) {
            rc = dss_fail(call, DSS_E_InternalFailure, "Could not copy the part's bytes.");
        }
        cJSON_Delete(store);
        if (rc != 0)
            return DSS_ERR;
        *result = cJSON_CreateObject();
        cJSON *r = cJSON_AddObjectToObject(*result, "CopyPartResult");
        cJSON_AddNumberToObject(r, "LastModified", s3_seconds(dss_clock_now_ms()));
        for (cJSON *h = stored ? stored->child : NULL; h; h = h->next)
            if (h->string[0] != '_')
                cJSON_AddItemToObject(r, h->string, cJSON_Duplicate(h, 1));
        cJSON *removes = cJSON_DetachItemFromObjectCaseSensitive(stored, "_Remove");
        if (removes)
            cJSON_AddItemToObject(*result, "_Remove", removes);
        cJSON_Delete(stored);
        return DSS_OK;
    }
    return dss_fail(call, DSS_E_InternalFailure, "The source object kept changing; try again.");
}

/* ---- CompleteMultipartUpload ---- */

/* Phase one (read-only): the part list against the stored parts -> {Parts[{PartNumber, File,
 * Size, ETag, Checksum}], ChecksumAlgorithm, ChecksumType}. */
static int complete_plan(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "MultipartUpload"), "Parts");
    int n = cJSON_GetArraySize(given);
    if (!cJSON_IsArray(given) || n == 0 || n > PARTS_MAX)
        return dss_fail(call, DSS_E_MalformedXML, "%s", malformed);
    struct upload u;
    if (upload_load(call, params, &u))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT file, size, etag, checksum FROM s3_parts "
                                      "WHERE upload_id = ? AND part_number = ?");
    if (!st) {
        upload_cleanup(&u);
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    }
    *result = cJSON_CreateObject();
    cJSON *parts = cJSON_AddArrayToObject(*result, "Parts");
    int64_t prev = 0, num = 0;
    int rc = 0, i = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, given) { /* the list itself first, then the parts it names */
        if (dss_param_int(p, "PartNumber", &num) != 0 || !dss_param_str(p, "ETag")) {
            rc = dss_fail(call, DSS_E_MalformedXML, "%s", malformed);
            break;
        }
        if (num <= prev) {
            rc = dss_fail(call, DSS_E_InvalidPartOrder, "The list of parts was not in ascending order. Parts must "
                                                        "be ordered by part number.");
            break;
        }
        prev = num;
    }
    cJSON_ArrayForEach(p, given) {
        const char *etag = dss_param_str(p, "ETag");
        if (rc)
            break;
        dss_param_int(p, "PartNumber", &num);
        sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, num);
        int found = sqlite3_step(st) == SQLITE_ROW;
        if (!found || !s3_etag_match(etag, (const char *)sqlite3_column_text(st, 2)) || !strcmp(etag, "*")) {
            sqlite3_reset(st);
            rc = dss_fail(call, DSS_E_InvalidPart, "One or more of the specified parts could not be found.  The part "
                                                   "may not have been uploaded, or the specified entity tag may not "
                                                   "match the part's entity tag.");
            break;
        }
        int64_t size = sqlite3_column_int64(st, 1);
        if (++i < n && size < S3_MIN_PART) {
            sqlite3_reset(st);
            rc = dss_fail(call, DSS_E_EntityTooSmall, "Your proposed upload is smaller than the minimum allowed "
                                                      "object size.");
            break;
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "PartNumber", (double)num);
        cJSON_AddStringToObject(e, "File", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddNumberToObject(e, "Size", (double)size);
        cJSON_AddStringToObject(e, "ETag", (const char *)sqlite3_column_text(st, 2));
        if (sqlite3_column_type(st, 3) == SQLITE_TEXT)
            cJSON_AddStringToObject(e, "Checksum", (const char *)sqlite3_column_text(st, 3));
        cJSON_AddItemToArray(parts, e);
        sqlite3_reset(st);
    }
    const char *algo = dss_param_str(u.headers, "ChecksumAlgorithm"), *type = dss_param_str(u.headers, "ChecksumType");
    if (rc == 0 && algo) {
        cJSON_AddStringToObject(*result, "ChecksumAlgorithm", algo);
        cJSON_AddStringToObject(*result, "ChecksumType", type ? type : "COMPOSITE");
    }
    upload_cleanup(&u);
    return rc ? DSS_ERR : DSS_OK;
}

/* A part's ETag (32 hex digits) as the 16 bytes of its MD5; zeros if it is not one. */
static void hex_to_md5(const char *hex, unsigned char out[16])
{
    memset(out, 0, 16);
    for (int k = 0; hex && k < 32 && isxdigit((unsigned char)hex[k]); k++) {
        int c = tolower((unsigned char)hex[k]);
        out[k / 2] = (unsigned char)(out[k / 2] << 4 | (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10));
    }
}

/* ETag and COMPOSITE checksum of the planned parts: a digest of the parts' digests, "-N". */
static void composite(const cJSON *parts, enum s3_algo algo, char etag[80], char checksum[112])
{
    int n = cJSON_GetArraySize(parts), with_checksums = 0;
    unsigned char *md5s = malloc((size_t)n * 16 + 1), *sums = malloc((size_t)n * 32 + 1);
    size_t sums_len = 0;
    const cJSON *p;
    int i = 0;
    cJSON_ArrayForEach(p, parts) {
        const char *hex = dss_param_str(p, "ETag"), *sum = dss_param_str(p, "Checksum");
        hex_to_md5(hex, md5s + i * 16);
        unsigned char raw[64];
        long len = sum && strlen(sum) < 64 ? base64_decode(sum, strlen(sum), raw) : -1;
        if (len > 0 && len <= 32) {
            memcpy(sums + sums_len, raw, (size_t)len);
            sums_len += (size_t)len;
            with_checksums++;
        }
        i++;
    }
    char hex[33];
    md5_hex(md5s, (size_t)n * 16, hex);
    snprintf(etag, 80, "%s-%d", hex, n);
    checksum[0] = '\0';
    if (algo != S3_CK_NONE && with_checksums == n) {
        unsigned char raw[32];
        size_t len = s3_checksum_raw(algo, sums, sums_len, raw);
        struct buf b;
        buf_init(&b, 96);
        base64_encode(&b, raw, len);
        snprintf(checksum, 112, "%s-%d", b.data ? b.data : "", n);
        buf_free(&b);
    }
    free(md5s);
    free(sums);
}

/* Joins the planned parts into one placed file: {File, Size, ETag, Checksum, PartSizes}.
 * Returns 0, 1 if a part file went away meanwhile (plan again), or -1. */
static int join_parts(const cJSON *plan, cJSON *joined)
{
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(plan, "Parts"), *p;
    enum s3_algo algo = s3_algo_parse(dss_param_str(plan, "ChecksumAlgorithm"));
    const char *type = dss_param_str(plan, "ChecksumType");
    int full = algo != S3_CK_NONE && type && !strcmp(type, "FULL_OBJECT");
    struct s3_tmp t;
    struct s3_digest d;
    s3_tmp_create(&t);
    if (full && s3_digest_init(&d, algo)) {
        s3_tmp_discard(&t);
        return -1;
    }
    uint64_t total = 0;
    cJSON *sizes = cJSON_AddArrayToObject(joined, "PartSizes");
    cJSON_ArrayForEach(p, parts) {
        uint64_t size = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "Size"));
        if (s3_tmp_copy(&t, dss_param_str(p, "File"), 0, size, full ? &d : NULL) != 0) {
            int gone = errno == ENOENT;
            if (full)
                s3_digest_cleanup(&d);
            s3_tmp_discard(&t);
            return gone ? 1 : -1;
        }
        total += size;
        cJSON_AddItemToArray(sizes, cJSON_CreateNumber((double)size));
    }
    char etag[80], checksum[112], md5[33];
    composite(parts, algo, etag, checksum);
    if (full)
        s3_digest_final(&d, md5, checksum);
    if (s3_tmp_place(&t))
        return -1;
    cJSON_AddStringToObject(joined, "File", t.id);
    cJSON_AddNumberToObject(joined, "Size", (double)total);
    cJSON_AddStringToObject(joined, "ETag", etag);
    if (checksum[0])
        cJSON_AddStringToObject(joined, "Checksum", checksum);
    return 0;
}

/* Phase three (write): the parts are still those planned; the object replaces any other,
 * the upload goes. */
static int complete_commit(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(params, "_Plan");
    const cJSON *joined = cJSON_GetObjectItemCaseSensitive(params, "_Joined"), *p;
    struct upload u;
    if (upload_load(call, params, &u))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT file FROM s3_parts WHERE upload_id = ? AND part_number = ?");
    int rc = st ? 0 : dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(plan, "Parts")) {
        if (rc)
            break;
        sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "PartNumber")));
        if (sqlite3_step(st) != SQLITE_ROW ||
            strcmp((const char *)sqlite3_column_text(st, 0), dss_param_str(p, "File")) != 0)
            rc = dss_fail(call, DSS_E_InvalidPart, "A part changed while the upload was being completed.");
        sqlite3_reset(st);
    }
    struct s3_object o = {0};
    if (rc == 0) {
        *result = cJSON_CreateObject();
        o.headers = cJSON_Duplicate(u.headers, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(o.headers, "ChecksumAlgorithm");
        cJSON_DeleteItemFromObjectCaseSensitive(o.headers, "ChecksumType");
        const char *algo = dss_param_str(plan, "ChecksumAlgorithm"), *sum = dss_param_str(joined, "Checksum");
        if (algo && sum) {
            char member[40];
            s3_algo_member(s3_algo_parse(algo), member, sizeof member);
            cJSON_AddStringToObject(o.headers, member, sum);
            cJSON_AddStringToObject(o.headers, "ChecksumType", dss_param_str(plan, "ChecksumType"));
            cJSON_AddStringToObject(*result, member, sum);
            cJSON_AddStringToObject(*result, "ChecksumType", dss_param_str(plan, "ChecksumType"));
        }
        cJSON_AddItemToObject(o.headers, "PartSizes", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(joined, "PartSizes"), 1));
        snprintf(o.file, sizeof o.file, "%s", dss_param_str(joined, "File"));
        snprintf(o.etag, sizeof o.etag, "%s", dss_param_str(joined, "ETag"));
        o.size = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(joined, "Size"));
        o.modified_ms = dss_clock_now_ms();
        rc = s3_object_store(call, u.bucket.id, u.key, &o, result);
    }
    if (rc == 0) { /* every part file goes, listed or not */
        st = dss_stmt(call, "DELETE FROM s3_parts WHERE upload_id = ? RETURNING file");
        if (st) {
            sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
            while (sqlite3_step(st) == SQLITE_ROW)
                s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
            sqlite3_reset(st);
        }
        st = dss_stmt(call, "DELETE FROM s3_uploads WHERE upload_id = ?");
        if (st)
            sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
        rc = exec(call, st);
    }
    if (rc == 0) {
        char etag[96], location[2048];
        struct buf key;
        buf_init(&key, 4 * S3_MAX_KEY);
        url_encode(&key, u.key, strlen(u.key), 1);
        snprintf(location, sizeof location, "http://%s/%s/%s", dss_call_host(call), u.bucket.name, key.data ? key.data : "");
        buf_free(&key);
        s3_etag_quote(o.etag, etag, sizeof etag);
        cJSON_AddStringToObject(*result, "Location", location);
        cJSON_AddStringToObject(*result, "Bucket", u.bucket.name);
        cJSON_AddStringToObject(*result, "Key", u.key);
        cJSON_AddStringToObject(*result, "ETag", etag);
        s3_notify(call, &u.bucket, "ObjectCreated:CompleteMultipartUpload", u.key, o.size, o.etag);
    }
    s3_object_cleanup(&o);
    upload_cleanup(&u);
    return rc ? DSS_ERR : DSS_OK;
}

static const struct dss_operation complete_plan_op = {"CompleteMultipartUpload", complete_plan, DSS_OP_READONLY};
static const struct dss_operation complete_commit_op = {"CompleteMultipartUpload", complete_commit, DSS_OP_WRITE};

/* CompleteMultipartUpload: Bucket, Key, UploadId, MultipartUpload{Parts[{PartNumber, ETag}]}
 * -> Location, Bucket, Key, ETag, Checksum*. */
int s3_complete_multipart_upload(struct dss_call *call, const cJSON *params, cJSON **result)
{
    for (int attempt = 0; attempt < RETRIES; attempt++) {
        cJSON *plan = NULL;
        if (dss_run(call, &complete_plan_op, params, &plan) != DSS_OK)
            return DSS_ERR;
        cJSON *commit = cJSON_Duplicate(params, 1);
        cJSON *joined = cJSON_AddObjectToObject(commit, "_Joined");
        int rc = join_parts(plan, joined);
        cJSON_AddItemToObject(commit, "_Plan", plan);
        if (rc == 0 && dss_run(call, &complete_commit_op, commit, result) == DSS_OK) {
            cJSON_Delete(commit);
            return DSS_OK;
        }
        if (rc == 0)
            s3_file_remove(dss_param_str(joined, "File"));
        cJSON_Delete(commit);
        if (rc < 0)
            return dss_fail(call, DSS_E_InternalFailure, "Could not join the parts.");
        if (rc == 0 && dss_error_last(call) != DSS_E_InvalidPart)
            return DSS_ERR;
        /* A part was replaced or went away between the phases: plan again. */
    }
    return DSS_ERR;
}

/* ---- AbortMultipartUpload, ListParts, ListMultipartUploads ---- */

/* AbortMultipartUpload: Bucket, Key, UploadId -> 204; the parts' files go. */
int s3_abort_multipart_upload(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct upload u;
    if (upload_load(call, params, &u))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM s3_parts WHERE upload_id = ? RETURNING file");
    if (st) {
        sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
        *result = cJSON_CreateObject();
        while (sqlite3_step(st) == SQLITE_ROW)
            s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
    }
    st = dss_stmt(call, "DELETE FROM s3_uploads WHERE upload_id = ?");
    if (st)
        sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
    int rc = exec(call, st);
    upload_cleanup(&u);
    return rc ? DSS_ERR : DSS_OK;
}

/* ListParts: Bucket, Key, UploadId, MaxParts, PartNumberMarker -> Parts[{PartNumber,
 * LastModified, ETag, Size, Checksum*}], IsTruncated, NextPartNumberMarker, ... */
int s3_list_parts(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t max = LIST_MAX, marker = 0;
    if (dss_param_int(params, "MaxParts", &max) < 0 || max < 0 || dss_param_int(params, "PartNumberMarker", &marker) < 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Provided max-parts or part-number-marker is not an integer.");
    if (max > LIST_MAX)
        max = LIST_MAX;
    struct upload u;
    if (upload_load(call, params, &u))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT part_number, size, etag, modified_ms, checksum FROM s3_parts "
                                      "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?");
    if (!st) {
        upload_cleanup(&u);
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    }
    sqlite3_bind_text(st, 1, u.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, marker);
    sqlite3_bind_int64(st, 3, max + 1);
    cJSON *r = *result = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "Bucket", u.bucket.name);
    cJSON_AddStringToObject(r, "Key", u.key);
    cJSON_AddStringToObject(r, "UploadId", u.id);
    cJSON_AddNumberToObject(r, "PartNumberMarker", (double)marker);
    cJSON_AddNumberToObject(r, "MaxParts", (double)max);
    cJSON_AddStringToObject(r, "StorageClass", "STANDARD");
    cJSON_AddItemToObject(r, "Initiator", owner());
    cJSON_AddItemToObject(r, "Owner", owner());
    const char *algo = dss_param_str(u.headers, "ChecksumAlgorithm");
    if (algo)
        cJSON_AddStringToObject(r, "ChecksumAlgorithm", algo);
    cJSON *parts = cJSON_AddArrayToObject(r, "Parts");
    int n = 0, truncated = 0;
    int64_t last = marker;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n++ == max) {
            truncated = 1;
            break;
        }
        cJSON *p = cJSON_CreateObject();
        char etag[96];
        last = sqlite3_column_int64(st, 0);
        s3_etag_quote((const char *)sqlite3_column_text(st, 2), etag, sizeof etag);
        cJSON_AddNumberToObject(p, "PartNumber", (double)last);
        cJSON_AddNumberToObject(p, "LastModified", s3_seconds(sqlite3_column_int64(st, 3)));
        cJSON_AddStringToObject(p, "ETag", etag);
        cJSON_AddNumberToObject(p, "Size", (double)sqlite3_column_int64(st, 1));
        if (algo && sqlite3_column_type(st, 4) == SQLITE_TEXT) {
            char member[40];
            s3_algo_member(s3_algo_parse(algo), member, sizeof member);
            cJSON_AddStringToObject(p, member, (const char *)sqlite3_column_text(st, 4));
        }
        cJSON_AddItemToArray(parts, p);
    }
    sqlite3_reset(st);
    cJSON_AddBoolToObject(r, "IsTruncated", truncated);
    if (truncated)
        cJSON_AddNumberToObject(r, "NextPartNumberMarker", (double)last);
    upload_cleanup(&u);
    return DSS_OK;
}

static void add_text(cJSON *obj, const char *name, const char *value, int url)
{
    struct buf b;
    buf_init(&b, SIZE_MAX);
    if (url)
        s3_url_encode(&b, value);
    cJSON_AddStringToObject(obj, name, url ? (b.data ? b.data : "") : value);
    buf_free(&b);
}

/* ListMultipartUploads: Bucket, Prefix, Delimiter, KeyMarker, UploadIdMarker, MaxUploads,
 * EncodingType -> Uploads[{UploadId, Key, Initiated, ...}], CommonPrefixes, IsTruncated,
 * NextKeyMarker, NextUploadIdMarker. */
int s3_list_multipart_uploads(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t max = LIST_MAX;
    if (dss_param_int(params, "MaxUploads", &max) < 0 || max < 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Provided max-uploads not an integer or within integer range");
    if (max > LIST_MAX)
        max = LIST_MAX;
    const char *prefix = dss_param_str(params, "Prefix") ? dss_param_str(params, "Prefix") : "";
    const char *delim = dss_param_str(params, "Delimiter") ? dss_param_str(params, "Delimiter") : "";
    const char *kmarker = dss_param_str(params, "KeyMarker") ? dss_param_str(params, "KeyMarker") : "";
    const char *umarker = dss_param_str(params, "UploadIdMarker");
    const char *encoding = dss_param_str(params, "EncodingType");
    if (encoding && strcmp(encoding, "url") != 0)
        return dss_fail(call, DSS_E_InvalidArgument, "Invalid Encoding Method specified in Request");
    int url = encoding != NULL;
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    sqlite3_stmt *st = dss_stmt(call, "SELECT upload_id, key, initiated_ms FROM s3_uploads WHERE bucket_id = ? "
                                      "AND key >= ? ORDER BY key, upload_id");
    if (!st) {
        s3_bucket_cleanup(&b);
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    }
    sqlite3_bind_int64(st, 1, b.id);
    sqlite3_bind_text(st, 2, strcmp(prefix, kmarker) > 0 ? prefix : kmarker, -1, SQLITE_STATIC);
    cJSON *r = *result = cJSON_CreateObject();
    cJSON *uploads = cJSON_CreateArray(), *prefixes = cJSON_CreateArray();
    int n = 0, truncated = 0;
    char *last_key = NULL, *last_id = NULL, *last_cp = NULL;
    size_t plen = strlen(prefix), dlen = strlen(delim);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0), *key = (const char *)sqlite3_column_text(st, 1);
        if (strncmp(key, prefix, plen) != 0)
            break;
        int cmp = strcmp(key, kmarker);
        if (kmarker[0] && (cmp < 0 || (cmp == 0 && (!umarker || strcmp(id, umarker) <= 0))))
            continue;
        const char *d = dlen ? strstr(key + plen, delim) : NULL;
        if (d && last_cp && strncmp(key, last_cp, strlen(last_cp)) == 0)
            continue;
        if (n == max) {
            truncated = 1;
            break;
        }
        n++;
        if (d) {
            free(last_cp);
            last_cp = strndup(key, (size_t)(d - key) + dlen);
            cJSON *p = cJSON_CreateObject();
            add_text(p, "Prefix", last_cp, url);
            cJSON_AddItemToArray(prefixes, p);
            continue;
        }
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "UploadId", id);
        add_text(u, "Key", key, url);
        cJSON_AddNumberToObject(u, "Initiated", s3_seconds(sqlite3_column_int64(st, 2)));
        cJSON_AddStringToObject(u, "StorageClass", "STANDARD");
        cJSON_AddItemToObject(u, "Owner", owner());
        cJSON_AddItemToObject(u, "Initiator", owner());
        cJSON_AddItemToArray(uploads, u);
        free(last_key);
        free(last_id);
        last_key = strdup(key);
        last_id = strdup(id);
    }
    sqlite3_reset(st);
    cJSON_AddStringToObject(r, "Bucket", b.name);
    add_text(r, "Prefix", prefix, url);
    if (delim[0])
        add_text(r, "Delimiter", delim, url);
    add_text(r, "KeyMarker", kmarker, url);
    cJSON_AddStringToObject(r, "UploadIdMarker", umarker ? umarker : "");
    cJSON_AddNumberToObject(r, "MaxUploads", (double)max);
    cJSON_AddBoolToObject(r, "IsTruncated", truncated);
    if (truncated && last_key) {
        add_text(r, "NextKeyMarker", last_key, url);
        cJSON_AddStringToObject(r, "NextUploadIdMarker", last_id);
    }
    if (url)
        cJSON_AddStringToObject(r, "EncodingType", "url");
    cJSON_AddItemToObject(r, "Uploads", uploads);
    cJSON_AddItemToObject(r, "CommonPrefixes", prefixes);
    free(last_key);
    free(last_id);
    free(last_cp);
    s3_bucket_cleanup(&b);
    return DSS_OK;
}
