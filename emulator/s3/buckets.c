/* buckets.c -- S3 bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
 * GetBucketLocation, Put/GetBucketNotificationConfiguration, Put/Get/DeleteBucketTagging.
 *
 * Regions as AWS has them: a bucket lives in the region its LocationConstraint names (none:
 * us-east-1, "EU": eu-west-1), and the request must be signed for that region. Re-creating a
 * bucket you own fails with BucketAlreadyOwnedByYou everywhere except us-east-1, where S3 has
 * always answered 200 for legacy compatibility.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "s3.h"
#include "util.h"

#define TAGS_MAX 50

static cJSON *owner(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "DisplayName", S3_OWNER_NAME);
    cJSON_AddStringToObject(o, "ID", S3_OWNER_ID);
    return o;
}

/* ListBuckets: -> Buckets[{Name, CreationDate, BucketRegion}], Owner. */
int s3_list_buckets(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)params;
    sqlite3_stmt *st = dss_stmt(call, "SELECT name, created_ms, region FROM s3_buckets ORDER BY name");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    *result = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(*result, "Buckets");
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "Name", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddNumberToObject(b, "CreationDate", s3_seconds(sqlite3_column_int64(st, 1)));
        cJSON_AddStringToObject(b, "BucketRegion", (const char *)sqlite3_column_text(st, 2));
        cJSON_AddItemToArray(list, b);
    }
    sqlite3_reset(st);
    cJSON_AddItemToObject(*result, "Owner", owner());
    return DSS_OK;
}

/* A region name such as "ap-southeast-2" or "us-gov-west-1". */
static int region_valid(const char *r)
{
    size_t n = strlen(r);
    return n >= 9 && n < 32 && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n && r[2] == '-' &&
           r[n - 1] >= '0' && r[n - 1] <= '9' && r[n - 2] == '-';
}

/* The region a CreateBucket request puts its bucket in, or dss_fail. */
static int creation_region(struct dss_call *call, const cJSON *params, char *region, size_t n,
                           const char **location)
{
    const char *req_region = dss_call_region(call);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(params, "CreateBucketConfiguration");
    const char *lc = dss_param_str(cfg, "LocationConstraint");
    *location = lc && lc[0] ? lc : "";
    if (!lc || !lc[0]) {
        if (strcmp(req_region, "us-east-1") != 0)
            return dss_fail(call, DSS_E_IllegalLocationConstraint,
                            "The unspecified location constraint is incompatible for the region specific "
                            "endpoint this request was sent to.");
        snprintf(region, n, "us-east-1");
        return 0;
    }
    if (strcmp(lc, "us-east-1") == 0 || (strcmp(lc, "EU") != 0 && !region_valid(lc)))
        return dss_fail(call, DSS_E_InvalidLocationConstraint, "The specified location-constraint is not valid");
    snprintf(region, n, "%s", strcmp(lc, "EU") == 0 ? "eu-west-1" : lc);
    if (strcmp(region, req_region) != 0)
        return dss_fail(call, DSS_E_IllegalLocationConstraint,
                        "The %s location constraint is incompatible for the region specific endpoint this "
                        "request was sent to.", lc);
    return 0;
}

/* CreateBucket: Bucket, CreateBucketConfiguration{LocationConstraint} -> Location. */
int s3_create_bucket(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "Bucket");
    if (!name || !s3_bucket_name_valid(name))
        return dss_fail(call, DSS_E_InvalidBucketName, "The specified bucket is not valid.");
    char region[32];
    const char *location;
    if (creation_region(call, params, region, sizeof region, &location))
        return DSS_ERR;
    struct s3_bucket old;
    if (s3_bucket_load(call, name, &old) == 0) {
        int legacy = strcmp(old.region, "us-east-1") == 0 && strcmp(region, "us-east-1") == 0;
        s3_bucket_cleanup(&old);
        if (!legacy)
            return dss_fail(call, DSS_E_BucketAlreadyOwnedByYou,
                            "Your previous request to create the named bucket succeeded and you already own it.");
    } else {
        sqlite3_stmt *st = dss_stmt(call, "INSERT INTO s3_buckets(name, region, location, created_ms) "
                                          "VALUES (?, ?, ?, ?)");
        if (!st)
            return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, region, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, location, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, dss_clock_now_ms());
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return dss_fail(call, DSS_E_InternalFailure, "Could not create the bucket.");
    }
    char loc[80];
    snprintf(loc, sizeof loc, "/%s", name);
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "Location", loc);
    return DSS_OK;
}

/* HeadBucket: Bucket -> BucketRegion (404 without a body if there is none). */
int s3_head_bucket(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "BucketRegion", b.region);
    s3_bucket_cleanup(&b);
    return DSS_OK;
}

/* DeleteBucket: Bucket. Fails with BucketNotEmpty while it holds objects; multipart uploads
 * in progress go with it. */
int s3_delete_bucket(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    s3_bucket_cleanup(&b);
    sqlite3_stmt *st = dss_stmt(call, "SELECT 1 FROM s3_objects WHERE bucket_id = ? LIMIT 1");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, b.id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return dss_fail(call, DSS_E_BucketNotEmpty, "The bucket you tried to delete is not empty");
    st = dss_stmt(call, "SELECT p.file FROM s3_parts p JOIN s3_uploads u USING (upload_id) WHERE u.bucket_id = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, b.id);
    *result = cJSON_CreateObject();
    while (sqlite3_step(st) == SQLITE_ROW)
        s3_remove_later(result, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    static const char *const deletes[] = {
        "DELETE FROM s3_uploads WHERE bucket_id = ?", /* parts cascade */
        "DELETE FROM s3_buckets WHERE id = ?",
    };
    for (int i = 0; i < 2; i++) {
        st = dss_stmt(call, deletes[i]);
        if (!st)
            return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
        sqlite3_bind_int64(st, 1, b.id);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return dss_fail(call, DSS_E_InternalFailure, "Could not delete the bucket.");
    }
    return DSS_OK;
}

/* GetBucketLocation: Bucket -> LocationConstraint (absent for us-east-1). */
int s3_get_bucket_location(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    *result = cJSON_CreateObject();
    if (b.location[0])
        cJSON_AddStringToObject(*result, "LocationConstraint", b.location);
    s3_bucket_cleanup(&b);
    return DSS_OK;
}

static int set_column(struct dss_call *call, const char *sql, int64_t bucket_id, const char *text)
{
    sqlite3_stmt *st = dss_stmt(call, sql);
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    if (text)
        sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, bucket_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : dss_fail(call, DSS_E_InternalFailure, "Could not update the bucket.");
}

/* PutBucketNotificationConfiguration: Bucket, NotificationConfiguration{QueueConfigurations,
 * ...}, SkipDestinationValidation. Replaces the whole configuration, then sends s3:TestEvent
 * to its queues as S3 does. */
int s3_put_bucket_notification(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    cJSON *config = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(params, "NotificationConfiguration"), 1);
    if (!config)
        config = cJSON_CreateObject();
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "SkipDestinationValidation")))
        cJSON_AddTrueToObject(config, "_SkipDestinationValidation");
    int rc = s3_notify_check(call, config, &b);
    cJSON_DeleteItemFromObjectCaseSensitive(config, "_SkipDestinationValidation");
    char *text = rc ? NULL : cJSON_PrintUnformatted(config);
    if (!rc && !(rc = set_column(call, "UPDATE s3_buckets SET notification = ? WHERE id = ?", b.id, text)))
        s3_notify_test(call, config, &b);
    free(text);
    cJSON_Delete(config);
    s3_bucket_cleanup(&b);
    return rc ? DSS_ERR : DSS_OK;
}

/* GetBucketNotificationConfiguration: Bucket -> the configuration (empty if none). */
int s3_get_bucket_notification(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    *result = b.notification ? b.notification : cJSON_CreateObject();
    b.notification = NULL;
    s3_bucket_cleanup(&b);
    return DSS_OK;
}

/* Tag rules of S3: at most 50, unique keys of 1-128 and values of 0-256 characters. */
static int check_tags(struct dss_call *call, const cJSON *tags)
{
    if (!cJSON_IsArray(tags))
        return dss_fail(call, DSS_E_MalformedXML, "The XML you provided was not well-formed or did not "
                                                  "validate against our published schema");
    if (cJSON_GetArraySize(tags) > TAGS_MAX)
        return dss_fail(call, DSS_E_InvalidTag, "Object tags cannot be greater than 50");
    const cJSON *t, *u;
    cJSON_ArrayForEach(t, tags) {
        const char *k = dss_param_str(t, "Key"), *v = dss_param_str(t, "Value");
        if (!k || !v)
            return dss_fail(call, DSS_E_MalformedXML, "The XML you provided was not well-formed or did not "
                                                      "validate against our published schema");
        if (!k[0] || strlen(k) > 128)
            return dss_fail(call, DSS_E_InvalidTag, "The TagKey you have provided is invalid");
        if (strlen(v) > 256)
            return dss_fail(call, DSS_E_InvalidTag, "The TagValue you have provided is invalid");
        for (u = tags->child; u != t; u = u->next)
            if (strcmp(dss_param_str(u, "Key"), k) == 0)
                return dss_fail(call, DSS_E_InvalidTag, "Cannot provide multiple Tags with the same key");
    }
    return 0;
}

/* PutBucketTagging: Bucket, Tagging{TagSet[{Key, Value}]}. */
int s3_put_bucket_tagging(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    s3_bucket_cleanup(&b);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(params, "Tagging"), "TagSet");
    if (check_tags(call, tags))
        return DSS_ERR;
    char *text = cJSON_PrintUnformatted(tags);
    int rc = set_column(call, "UPDATE s3_buckets SET tags = ? WHERE id = ?", b.id, text);
    free(text);
    return rc ? DSS_ERR : DSS_OK;
}

/* GetBucketTagging: Bucket -> TagSet, or NoSuchTagSet. */
int s3_get_bucket_tagging(struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    s3_bucket_cleanup(&b);
    sqlite3_stmt *st = dss_stmt(call, "SELECT tags FROM s3_buckets WHERE id = ?");
    if (!st)
        return dss_fail(call, DSS_E_InternalFailure, "The emulator's database failed.");
    sqlite3_bind_int64(st, 1, b.id);
    cJSON *tags = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT
                      ? cJSON_Parse((const char *)sqlite3_column_text(st, 0))
                      : NULL;
    sqlite3_reset(st);
    if (!tags)
        return dss_fail(call, DSS_E_NoSuchTagSet, "The TagSet does not exist");
    *result = cJSON_CreateObject();
    cJSON_AddItemToObject(*result, "TagSet", tags);
    return DSS_OK;
}

/* DeleteBucketTagging: Bucket. */
int s3_delete_bucket_tagging(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    struct s3_bucket b;
    if (s3_bucket_from_params(call, params, &b))
        return DSS_ERR;
    s3_bucket_cleanup(&b);
    return set_column(call, "UPDATE s3_buckets SET tags = ? WHERE id = ?", b.id, NULL) ? DSS_ERR : DSS_OK;
}
