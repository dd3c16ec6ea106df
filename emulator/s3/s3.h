/* s3.h -- how the files of the S3 emulation (emulator/s3/) fit together.
 *
 *   rest.c       the server's REST hook: claims a request, streams its body, runs the
 *                operation(s), answers (the only file that sees HTTP)
 *   route.c      request line and Host header -> operation, bucket, key, query (pure; fuzzed)
 *   restxml.c    the rest-xml protocol, driven by the service model: headers, query string and
 *                XML body -> parameter tree; result tree -> headers and XML (the XML reader is
 *                fuzzed)
 *   chunked.c    the aws-chunked body encoding (pure; fuzzed)
 *   checksum.c   MD5, CRC32, CRC32C, CRC64NVME, SHA-1 and SHA-256 over a stream
 *   store.c      object bytes on disk: temp files, atomic placement, removal, start-up sweep
 *   buckets.c    bucket operations;  objects.c  object operations and listings;
 *   multipart.c  multipart uploads; notify.c  event notifications to SQS queues
 *   s3.c         schema, the operation table and the service definition
 *
 * Operations follow the emulator's rule: they get a parameter tree shaped as the model's
 * input (Bucket, Key, ContentType, Metadata{}, ...) and return a tree shaped as its output.
 * What the protocol adds for them is in members whose names start with '_' (the model has
 * none): "_Body" {File, Size, MD5, Checksum...} for a streamed request body; in results,
 * "_Status" (an HTTP status other than the model's), "_Remove" [files to delete once the
 * transaction has committed] and, in GetObject/HeadObject, "Body" {File, Offset, Length}.
 * Objects of at most S3_INLINE_MAX bytes live in the database: their "_Body" and "Body" say
 * Inline instead of naming a File, and the bytes travel beside the tree (dss_call_bytes()).
 */
#ifndef DSS_S3_H
#define DSS_S3_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "protocol.h"
#include "service.h"

#define S3_ACCOUNT_ID "000000000000"
#define S3_OWNER_ID "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
#define S3_OWNER_NAME "webfile"
#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_MAX_OBJECT (5ull << 30)   /* PutObject and UploadPart: 5 GiB */
#define S3_MIN_PART (5u << 20)       /* every part but the last: 5 MiB */
#define S3_MAX_KEY 1024              /* bytes of UTF-8 */
#define S3_XML_BODY_MAX (4u << 20)   /* DeleteObjects' 1,000 keys of 1 KiB fit with room */

/* ---- Operations (s3.c) ---- */

enum s3_body {
    S3_BODY_NONE, /* any body is read and dropped */
    S3_BODY_XML,  /* a structure payload, parsed with the model */
    S3_BODY_FILE, /* a streaming blob, written to a temp file */
};

struct s3_op {
    struct dss_operation op; /* name (the model's), function, read/write */
    /* Work that must happen outside a transaction (copying bytes) around one or more
     * dss_run() calls; NULL: the server just runs op in one transaction. */
    int (*drive)(struct dss_call *call, const cJSON *params, cJSON **result);
    const char *xml_root; /* root element of the XML answer, NULL if none */
};

const struct s3_op *s3_op_find(const char *name);

/* ---- Routing (route.c) ---- */

struct s3_route {
    const char *op;         /* operation name, NULL when the request names none */
    char *bucket;           /* decoded; NULL for the service (ListBuckets) */
    char *key;              /* decoded; NULL for a bucket */
    struct dss_kv *query;   /* decoded query pairs */
    size_t n_query;
    enum dss_error err;     /* when op is NULL */
    char msg[160];
};

/* Works out which operation a request names. host is the Host header (virtual-hosted
 * buckets: "b.localhost:4566", "b.s3.localhost", "b.s3.amazonaws.com"), uri the request target
 * as sent, copy_source whether x-amz-copy-source was sent. Returns 0 with r->op set, or -1
 * with r->err and r->msg. Either way s3_route_free() must follow. */
int s3_route(const char *method, const char *host, const char *uri, int copy_source, struct s3_route *r);
void s3_route_free(struct s3_route *r);
/* The value of query parameter name, or NULL. */
const char *s3_query(const struct s3_route *r, const char *name);
/* 1 if name is a valid bucket name for CreateBucket. */
int s3_bucket_name_valid(const char *name);
/* 1 if s holds n bytes of valid UTF-8 without NUL. */
int s3_utf8_valid(const char *s, size_t n);

/* ---- aws-chunked bodies (chunked.c) ---- */

#define S3_CHUNKED_TRAILERS 8

struct s3_chunked {
    int state;
    uint64_t left;        /* payload bytes left in the current chunk */
    char line[512];       /* the chunk header or trailer line being read */
    size_t line_len;
    int n_trailers;
    struct { char name[64]; char value[160]; } trailers[S3_CHUNKED_TRAILERS];
};

typedef int (*s3_sink_fn)(void *ctx, const char *data, size_t len); /* 0, or -1 to stop */

void s3_chunked_init(struct s3_chunked *d);
/* Decodes the next n bytes of an aws-chunked body, passing payload bytes to sink. Returns 0,
 * or -1 if the encoding is malformed or the sink refused. */
int s3_chunked_feed(struct s3_chunked *d, const char *p, size_t n, s3_sink_fn sink, void *ctx);
/* 1 if the body has ended where an aws-chunked body may end. */
int s3_chunked_complete(const struct s3_chunked *d);
/* A trailer's value by lower-case name ("x-amz-checksum-crc32"), or NULL. */
const char *s3_chunked_trailer(const struct s3_chunked *d, const char *name);

/* ---- Digests (checksum.c) ---- */

enum s3_algo { S3_CK_NONE, S3_CK_CRC32, S3_CK_CRC32C, S3_CK_CRC64NVME, S3_CK_SHA1, S3_CK_SHA256 };

struct s3_digest {
    void *md5;          /* EVP_MD_CTX */
    void *sha;          /* EVP_MD_CTX for SHA-1/SHA-256 */
    enum s3_algo algo;
    uint64_t crc;
};

/* "CRC32" ... for an algorithm; NULL for S3_CK_NONE. */
const char *s3_algo_name(enum s3_algo a);
/* An algorithm from its name, any case; S3_CK_NONE if unknown. */
enum s3_algo s3_algo_parse(const char *name);
/* The header that carries a checksum: "x-amz-checksum-crc32". */
void s3_algo_header(enum s3_algo a, char *out, size_t n);
/* The model's member for it: "ChecksumCRC32". */
void s3_algo_member(enum s3_algo a, char *out, size_t n);

/* MD5 always, plus the checksum algo (S3_CK_NONE: none). Returns 0 or -1 (out of memory). */
int s3_digest_init(struct s3_digest *d, enum s3_algo algo);
void s3_digest_update(struct s3_digest *d, const void *p, size_t n);
/* The MD5 in hex and the checksum in base64 ("" if none); cleans d up. */
void s3_digest_final(struct s3_digest *d, char md5_hex[33], char checksum[96]);
void s3_digest_cleanup(struct s3_digest *d);
/* The raw checksum of a buffer (composite checksums of parts); returns its length. */
size_t s3_checksum_raw(enum s3_algo a, const void *p, size_t n, unsigned char out[32]);

/* ---- Object bytes on disk (store.c) ---- */

#define S3_FILE_ID 33 /* 32 hex digits and a NUL */

#define S3_TMP_BUFFER (128u << 10)
/* PutObject bodies up to this size live in the database (s3_bodies), not in a file: a
 * small PUT then costs one SQLite commit without a file's creation on top of it (store.c),
 * and a small GET one read. */
#define S3_INLINE_MAX (64u << 10)

struct s3_tmp {
    int fd;
    int anonymous;        /* O_TMPFILE: no name until placed */
    char id[S3_FILE_ID];
    char *buf;            /* writes not yet made, NULL until the first */
    size_t len, cap;      /* cap: buf's size, at most S3_TMP_BUFFER */
};

/* bytes random bytes (at most 32) as hex into out (2 * bytes + 1 chars). */
void s3_random_hex(char *out, size_t bytes);
/* Creates DATA/s3/{tmp,objects/00..ff} and empties tmp/. Returns 0 or -1 after logging. */
int s3_store_open(const char *data_dir);
/* Deletes object files no row of s3_objects or s3_parts names (left by a crash between
 * placing a file and committing, or between committing and deleting the old one). */
void s3_store_sweep(sqlite3 *db);
/* A new empty temp file; it is made on disk only when bytes leave its buffer. */
void s3_tmp_create(struct s3_tmp *t);
/* The whole body, when t has stayed in memory (no file made) and is at most S3_INLINE_MAX
 * bytes: PutObject then keeps it in the object's row. NULL otherwise. */
const char *s3_tmp_held(const struct s3_tmp *t, size_t *len);
/* Appends n bytes. Returns 0, or -1 with errno set. */
int s3_tmp_write(struct s3_tmp *t, const void *p, size_t n);
/* Closes the temp file and moves it to objects/ under its id (t->id). Returns 0 or -1. */
int s3_tmp_place(struct s3_tmp *t);
/* Closes and deletes a temp file that will not be placed. Safe to call twice. */
void s3_tmp_discard(struct s3_tmp *t);
/* Opens a placed file for reading. Returns the fd, or -1 with errno set. */
int s3_file_open(const char *id);
/* Deletes a placed file (ENOENT is not an error). */
void s3_file_remove(const char *id);
/* A second name for a placed file (a copy that shares the bytes): fills new_id. 0 or -1. */
int s3_file_link(const char *id, char new_id[S3_FILE_ID]);
/* Appends length bytes of placed file id from offset to t: with copy_file_range when digest
 * is NULL, else read through digest. Returns 0, or -1 with errno set (ENOENT: no such file). */
int s3_tmp_copy(struct s3_tmp *t, const char *id, uint64_t offset, uint64_t length, struct s3_digest *digest);
/* Deletes, after a commit, every file a result's "_Remove" names (and drops the member):
 * in the background when the reaper runs. */
void s3_remove_files(cJSON *result);
/* The reaper thread that deletes replaced files off the request path; stop drains it. */
int s3_reaper_start(void);
void s3_reaper_stop(void);

/* ---- Buckets and objects shared by the operations ---- */

struct s3_bucket {
    int64_t id;
    char name[64];
    char region[32];
    char location[32]; /* the LocationConstraint given ("" in us-east-1) */
    int64_t created_ms;
    cJSON *notification; /* owned; NULL without a configuration */
};

/* Loads a bucket by name. Returns 0, or -1 after dss_fail(NoSuchBucket). */
int s3_bucket_load(struct dss_call *call, const char *name, struct s3_bucket *b);
void s3_bucket_cleanup(struct s3_bucket *b);
/* The bucket's name from params, loaded. */
int s3_bucket_from_params(struct dss_call *call, const cJSON *params, struct s3_bucket *b);

struct s3_object {
    char file[S3_FILE_ID]; /* "" when the bytes are in the row */
    char *body;            /* with file "": the row's size bytes, when loaded (owned; NULL if empty) */
    int64_t size;
    char etag[80];       /* unquoted */
    int64_t modified_ms;
    cJSON *headers;      /* owned: ContentType, Metadata{}, Checksum*, PartSizes[] ... */
};

/* Loads an object's row, with the bytes it holds when want_body. Returns 0, 1 if there is
 * none, or DSS_ERR after dss_fail. */
int s3_object_load(struct dss_call *call, int64_t bucket_id, const char *key, int want_body, struct s3_object *o);
void s3_object_cleanup(struct s3_object *o);
/* Gives the call (dss_call_give_bytes()) length bytes of a loaded row-held body from first;
 * the body is the call's afterwards. */
void s3_object_give_range(struct dss_call *call, struct s3_object *o, int64_t first, int64_t length);
/* Writes the object's row (replacing any), its old file going to the result's "_Remove";
 * with file "", o->body is stored in the row. */
int s3_object_store(struct dss_call *call, int64_t bucket_id, const char *key, const struct s3_object *o,
                    cJSON **result);
/* The headers an object keeps from a PutObject/CreateMultipartUpload/CopyObject request;
 * NULL after dss_fail (MetadataTooLarge). */
cJSON *s3_object_headers(struct dss_call *call, const cJSON *params);
/* Whether an If-Match/If-None-Match value ("*", a list, quoted or not) names etag. */
int s3_etag_match(const char *cond, const char *etag);
/* "\"etag\"" */
void s3_etag_quote(const char *etag, char *out, size_t n);

/* Loads the object a CopySource parameter names, checking the x-amz-copy-source-if-*
 * conditions; *bucket and *key get its names (malloc'd, the caller frees them even on error).
 * Returns 0 or DSS_ERR. */
int s3_copy_source_load(struct dss_call *call, const cJSON *params, struct s3_object *o, char **bucket,
                        char **key);

/* Adds file to the result's "_Remove" list (creating the result object if needed). */
void s3_remove_later(cJSON **result, const char *file);
/* "1970-01-01T00:00:00.000Z" seconds as the model's timestamps are: epoch seconds. */
double s3_seconds(int64_t ms);
/* S3's URL encoding in listings (EncodingType=url) and event keys: form encoding, '/' kept. */
int s3_url_encode(struct buf *out, const char *s);

/* ---- Event notifications (notify.c) ---- */

/* Checks a NotificationConfiguration before it is stored: event names, filter rules, queues
 * that exist, no overlapping configurations; gives each configuration an Id if it has none.
 * Returns 0 or DSS_ERR after dss_fail(InvalidArgument). */
int s3_notify_check(struct dss_call *call, cJSON *config, const struct s3_bucket *b);
/* Sends s3:TestEvent to every queue of a configuration just stored. */
void s3_notify_test(struct dss_call *call, const cJSON *config, const struct s3_bucket *b);
/* Delivers event ("ObjectCreated:Put", "ObjectRemoved:Delete", ...) for key to every queue
 * configuration of b that matches it, inside the caller's transaction. etag NULL and size < 0
 * for removals. */
void s3_notify(struct dss_call *call, const struct s3_bucket *b, const char *event, const char *key,
               int64_t size, const char *etag);

/* ---- The protocol (restxml.c) ---- */

/* The embedded S3 model. */
const cJSON *s3_model(void);
/* The operation's entry in the model ({http, input, output, ...}), or NULL. */
const cJSON *restxml_operation(const cJSON *model, const char *op);
/* A shape of the model by name, or NULL. */
const cJSON *restxml_shape(const cJSON *model, const char *name);
/* The input member that is the operation's payload, or NULL. */
const cJSON *restxml_payload_ref(const cJSON *model, const char *op, int output);
/* Builds the parameter tree for op from the request. xml/xml_len: the body when the payload
 * is a structure (NULL/0 when empty). Returns 0 with *params set, or an error id with the
 * message in err. */
enum dss_error restxml_params(const cJSON *model, const char *op, const struct s3_route *r,
                              const struct dss_kv *headers, size_t n_headers, const char *xml,
                              size_t xml_len, cJSON **params, struct buf *err);
/* Parses an XML document shaped as the member ref into a tree; NULL with a message in err
 * when it is not well-formed or its root is not the expected element. Pure, for fuzzing. */
cJSON *restxml_parse(const cJSON *model, const cJSON *ref, const char *xml, size_t len, struct buf *err);
/* Calls add(ctx, name, value) for every header-located member of the result. */
void restxml_headers(const cJSON *model, const char *op, const cJSON *result,
                     void (*add)(void *ctx, const char *name, const char *value), void *ctx);
/* Writes the XML body of the result under root (the payload structure if the output has
 * one). Returns 0 or -1. */
int restxml_body(const cJSON *model, const char *op, const cJSON *result, const char *root,
                 struct buf *out);

#endif
