/* rest.c -- S3's side of the server's REST hook (service.h): one request from headers to
 * answer, top to bottom:
 *
 *   claim:   route (route.c) -> how the body is taken: streamed to a temp file (PutObject,
 *            UploadPart), collected for XML (capped), or dropped; which digests to run on it
 *   body:    aws-chunked decoding if the client used it (chunked.c) -> digests -> file/buffer
 *   finish:  check length, Content-MD5 and x-amz-checksum-* -> parameters from the model
 *            (restxml.c) -> place the file (a small PutObject body that never left its buffer
 *            is lent to the call instead, for its row) -> run the operation (dss_run: one
 *            transaction, or a driver around several) -> delete replaced files -> answer:
 *            headers from the result, then an XML body, or the object's bytes straight from
 *            its file or as the operation gave them
 *   release: a temp file left behind is deleted
 *
 * Errors answer in S3's XML (<Error><Code>...), with no body for HEAD, and every answer
 * carries x-amz-request-id and x-amz-id-2. A body bigger than S3 accepts is refused from its
 * declared length before it is read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "s3.h"
#include "util.h"
#include "xmlwrite.h"

#define HEADERS_MAX 200
#define OPEN_RETRIES 5

struct s3_req {
    struct s3_route route;
    const struct s3_op *op;
    enum s3_body body;
    struct dss_kv *headers;  /* as sent */
    size_t n_headers;
    int chunked;             /* aws-chunked */
    struct s3_chunked dec;
    int digesting;
    struct s3_digest digest;
    enum s3_algo algo;       /* the flexible checksum the client sends, if any */
    struct s3_tmp tmp;       /* S3_BODY_FILE; fd -1 once placed or discarded */
    struct buf xml;          /* S3_BODY_XML */
    uint64_t received;       /* payload bytes, after any chunked decoding */
    int64_t declared;        /* the payload length the client announced, -1 if none */
    enum dss_error err;      /* set with failed, before an operation runs */
    int failed;
    char msg[256];
};

static const char *req_header(const struct s3_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int req_fail(struct s3_req *r, enum dss_error err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int req_fail(struct s3_req *r, enum dss_error err, const char *fmt, ...)
{
    if (!r->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof r->msg, fmt, ap);
        va_end(ap);
        r->err = err;
        r->failed = 1;
    }
    return -1;
}

/* ---- Answers ---- */

static void add_header(void *call, const char *name, const char *value)
{
    dss_reply_header(call, name, value);
}

static void common_headers(struct dss_call *call)
{
    dss_reply_header(call, "x-amz-request-id", dss_call_request_id(call));
    dss_reply_header(call, "x-amz-id-2", dss_call_request_id(call));
    dss_reply_header(call, "Server", "AmazonS3");
}

static int is_head(struct dss_call *call)
{
    return strcmp(dss_call_method(call), "HEAD") == 0;
}

/* S3's error document, with the resource it is about; HEAD answers get the status alone. */
static void reply_error(struct dss_call *call, const struct s3_req *r, enum dss_error err, const char *msg)
{
    const struct dss_error_info *e = dss_error_info(err);
    log_debug("s3 %s %s -> %d %s: %s", dss_call_method(call), dss_call_uri(call), e->status, e->code, msg);
    common_headers(call);
    if (is_head(call)) {
        dss_reply_buffer(call, (unsigned)e->status, NULL, 0);
        return;
    }
    struct buf b;
    buf_init(&b, SIZE_MAX);
    xml_declaration(&b);
    xml_open(&b, "Error", NULL);
    xml_element(&b, "Code", e->code);
    xml_element(&b, "Message", msg);
    if (r && r->route.bucket && (err == DSS_E_NoSuchBucket || err == DSS_E_BucketNotEmpty ||
                                 err == DSS_E_BucketAlreadyOwnedByYou || err == DSS_E_InvalidBucketName))
        xml_element(&b, "BucketName", r->route.bucket);
    if (r && r->route.key && err == DSS_E_NoSuchKey)
        xml_element(&b, "Key", r->route.key);
    if (r && err == DSS_E_NoSuchUpload && s3_query(&r->route, "uploadId"))
        xml_element(&b, "UploadId", s3_query(&r->route, "uploadId"));
    const cJSON *m = err == dss_error_last(call) ? dss_error_members(call) : NULL; /* InvalidRange's RangeRequested */
    for (m = m ? m->child : NULL; m; m = m->next)
        if (cJSON_IsString(m))
            xml_element(&b, m->string, m->valuestring);
    xml_element(&b, "RequestId", dss_call_request_id(call));
    xml_element(&b, "HostId", dss_call_request_id(call));
    xml_close(&b, "Error");
    dss_reply_header(call, "Content-Type", "application/xml");
    size_t len = b.len;
    dss_reply_buffer(call, (unsigned)e->status, buf_steal(&b), len);
}

/* GetBucketLocation's document is the bare <LocationConstraint>, which botocore reads as
 * the root's text rather than by the model. */
static int location_body(const cJSON *result, struct buf *out)
{
    const char *lc = dss_param_str(result, "LocationConstraint");
    if (xml_declaration(out) || xml_open(out, "LocationConstraint", S3_XMLNS) || (lc && xml_text(out, lc)))
        return -1;
    return xml_close(out, "LocationConstraint");
}

/* The status of a successful answer: the result's, else the model's, else 200. */
static unsigned success_status(const struct s3_req *r, const cJSON *result)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(result, "_Status");
    if (cJSON_IsNumber(s))
        return (unsigned)s->valuedouble;
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(restxml_operation(s3_model(), r->op->op.name), "http");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(http, "responseCode");
    return cJSON_IsNumber(code) ? (unsigned)code->valuedouble : 200;
}

/* Answers with a result; fd (or -1) holds the bytes of its "Body", or the call does when the
 * Body is Inline (objects.c). */
static void reply_result(struct dss_call *call, const struct s3_req *r, const cJSON *result, int fd)
{
    unsigned status = success_status(r, result);
    common_headers(call);
    restxml_headers(s3_model(), r->op->op.name, result, add_header, call);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, "Body"), "Inline"))) {
        size_t len;
        char *bytes = dss_call_take_bytes(call, &len);
        dss_reply_buffer(call, status, bytes, len);
        return;
    }
    if (fd >= 0) {
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(result, "Body");
        uint64_t off = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(body, "Offset"));
        uint64_t len = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(body, "Length"));
        dss_reply_fd(call, status, fd, off, len);
        return;
    }
    const cJSON *payload = restxml_payload_ref(s3_model(), r->op->op.name, 1);
    if ((!r->op->xml_root && !cJSON_GetObjectItemCaseSensitive(result, payload ? payload->string : "")) ||
        status == 304) {
        dss_reply_buffer(call, status, NULL, 0);
        return;
    }
    struct buf b;
    buf_init(&b, SIZE_MAX);
    int rc = r->op->xml_root && !strcmp(r->op->xml_root, "LocationConstraint") ? location_body(result, &b)
                                                                 : restxml_body(s3_model(), r->op->op.name, result,
                                                                                r->op->xml_root, &b);
    if (rc) {
        buf_free(&b);
        reply_error(call, r, DSS_E_InternalFailure, "The emulator could not write the answer.");
        return;
    }
    dss_reply_header(call, "Content-Type", "application/xml");
    size_t len = b.len;
    dss_reply_buffer(call, status, buf_steal(&b), len);
}

/* ---- Claiming a request ---- */

static int collect_header(void *ctx, const char *name, const char *value)
{
    struct s3_req *r = ctx;
    if (r->n_headers == HEADERS_MAX)
        return 1;
    struct dss_kv *grown = realloc(r->headers, (r->n_headers + 1) * sizeof *grown);
    if (!grown)
        return 1;
    r->headers = grown;
    grown[r->n_headers].name = strdup(name);
    grown[r->n_headers].value = strdup(value);
    grown[r->n_headers].value_len = strlen(value);
    if (!grown[r->n_headers].name || !grown[r->n_headers].value) {
        free(grown[r->n_headers].name);
        free(grown[r->n_headers].value);
        return 1;
    }
    r->n_headers++;
    return 0;
}

/* Whether a comma-separated header value holds token (Content-Encoding: aws-chunked,gzip). */
static int has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == n && strncasecmp(p, token, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* The flexible checksum the request carries: named by x-amz-sdk-checksum-algorithm, sent as
 * an x-amz-checksum-* header, or announced as a trailer. */
static int choose_algo(struct s3_req *r)
{
    const char *named = req_header(r, "x-amz-sdk-checksum-algorithm");
    const char *trailer = req_header(r, "x-amz-trailer");
    if (named) {
        if ((r->algo = s3_algo_parse(named)) == S3_CK_NONE)
            return req_fail(r, DSS_E_InvalidRequest, "Checksum algorithm provided is unsupported. Please try again "
                                                     "with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
        return 0;
    }
    if (trailer && strncasecmp(trailer, "x-amz-checksum-", 15) == 0) {
        r->algo = s3_algo_parse(trailer + 15);
        return 0;
    }
    for (enum s3_algo a = S3_CK_CRC32; a <= S3_CK_SHA256; a++) {
        char h[40];
        s3_algo_header(a, h, sizeof h);
        if (req_header(r, h)) {
            r->algo = a;
            break;
        }
    }
    return 0;
}

static int64_t header_int(const struct s3_req *r, const char *name)
{
    const char *v = req_header(r, name);
    char *end;
    long long n = v ? strtoll(v, &end, 10) : -1;
    return v && *v && !*end && n >= 0 ? n : -1;
}

/* Decides, from the headers alone, everything about the body. */
static void prepare_body(struct s3_req *r)
{
    const cJSON *payload = restxml_payload_ref(s3_model(), r->op->op.name, 0);
    const cJSON *shape = restxml_shape(s3_model(), cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "shape")));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(shape, "type"));
    r->body = !payload ? S3_BODY_NONE : type && !strcmp(type, "structure") ? S3_BODY_XML : S3_BODY_FILE;
    const char *sha = req_header(r, "x-amz-content-sha256");
    r->chunked = has_token(req_header(r, "Content-Encoding"), "aws-chunked") || (sha && !strncmp(sha, "STREAMING-", 10));
    r->declared = header_int(r, r->chunked ? "x-amz-decoded-content-length" : "Content-Length");
    if (r->chunked)
        s3_chunked_init(&r->dec);
    if (r->body == S3_BODY_NONE || choose_algo(r))
        return;
    if (r->body == S3_BODY_FILE && r->declared > (int64_t)S3_MAX_OBJECT) {
        req_fail(r, DSS_E_EntityTooLarge, "Your proposed upload exceeds the maximum allowed size");
        return;
    }
    if (r->body == S3_BODY_FILE && !req_header(r, "Content-Length") && !req_header(r, "Transfer-Encoding")) {
        req_fail(r, DSS_E_MissingContentLength, "You must provide the Content-Length HTTP header.");
        return;
    }
    if (s3_digest_init(&r->digest, r->algo)) {
        req_fail(r, DSS_E_InternalFailure, "Out of memory.");
        return;
    }
    r->digesting = 1;
    buf_init(&r->xml, S3_XML_BODY_MAX);
    if (r->body == S3_BODY_FILE)
        s3_tmp_create(&r->tmp);
}

static int s3_claim(struct dss_call *call, void **ctx)
{
    struct s3_req *r = calloc(1, sizeof *r);
    if (!r)
        return 0;
    r->tmp.fd = -1;
    r->declared = -1;
    dss_call_headers(call, collect_header, r);
    if (s3_route(dss_call_method(call), dss_call_header(call, "Host"), dss_call_uri(call),
                 req_header(r, "x-amz-copy-source") != NULL, &r->route) != 0)
        req_fail(r, r->route.err, "%s", r->route.msg);
    else if (!(r->op = s3_op_find(r->route.op)))
        req_fail(r, DSS_E_S3NotImplemented, "%s is not implemented.", r->route.op);
    else
        prepare_body(r);
    *ctx = r;
    if (r->failed && r->err == DSS_E_EntityTooLarge) /* refuse now rather than read gigabytes */
        reply_error(call, r, r->err, r->msg);
    return 1;
}

/* ---- The body ---- */

static int sink(void *ctx, const char *p, size_t n)
{
    struct s3_req *r = ctx;
    r->received += n;
    if (r->body == S3_BODY_NONE)
        return 0;
    if (r->body == S3_BODY_FILE && r->received > S3_MAX_OBJECT)
        return req_fail(r, DSS_E_EntityTooLarge, "Your proposed upload exceeds the maximum allowed size");
    s3_digest_update(&r->digest, p, n);
    if (r->body == S3_BODY_XML)
        return buf_append(&r->xml, p, n) ? req_fail(r, DSS_E_MalformedXML, "Your XML request body is too large.") : 0;
    if (s3_tmp_write(&r->tmp, p, n))
        return req_fail(r, DSS_E_InternalFailure, "The emulator could not store the upload: %s", strerror(errno));
    return 0;
}

static int s3_body(struct dss_call *call, void *ctx, const char *data, size_t len)
{
    (void)call;
    struct s3_req *r = ctx;
    if (r->failed)
        return -1;
    if (!r->chunked)
        return sink(r, data, len);
    if (s3_chunked_feed(&r->dec, data, len, sink, r) == 0)
        return 0;
    return req_fail(r, DSS_E_InvalidRequest, "The aws-chunked body is malformed.");
}

/* Content-MD5 and the flexible checksum against what arrived. */
static void check_digests(struct s3_req *r, char md5[33], char checksum[96])
{
    s3_digest_final(&r->digest, md5, checksum);
    r->digesting = 0;
    const char *given = req_header(r, "Content-MD5");
    if (given) {
        unsigned char raw[64];
        char hex[33];
        size_t n = strlen(given);
        long len = n < 60 ? base64_decode(given, n, raw) : -1;
        if (len != 16)
            return (void)req_fail(r, DSS_E_InvalidDigest, "The Content-MD5 you specified was invalid.");
        hex_encode(raw, 16, hex);
        if (strcmp(hex, md5) != 0)
            return (void)req_fail(r, DSS_E_BadDigest, "The Content-MD5 you specified did not match what we received.");
    }
    if (r->algo != S3_CK_NONE) {
        char h[40];
        s3_algo_header(r->algo, h, sizeof h);
        const char *want = req_header(r, h);
        if (!want && r->chunked)
            want = s3_chunked_trailer(&r->dec, h);
        if (want && strcmp(want, checksum) != 0)
            return (void)req_fail(r, DSS_E_BadDigest, "The %s you specified did not match the calculated checksum.",
                                  s3_algo_name(r->algo));
    }
    if (!strcmp(r->op->op.name, "DeleteObjects") && !given && r->algo == S3_CK_NONE)
        req_fail(r, DSS_E_InvalidRequest, "Missing required header for this request: Content-MD5");
}

/* ---- Running the operation ---- */

/* Removes aws-chunked, which describes the transfer rather than the object, from the
 * Content-Encoding the object keeps. */
static void strip_chunked_encoding(cJSON *params)
{
    const char *ce = dss_param_str(params, "ContentEncoding");
    if (!ce || !has_token(ce, "aws-chunked"))
        return;
    struct buf b;
    buf_init(&b, 1024);
    for (const char *p = ce; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        while (len && p[len - 1] == ' ')
            len--;
        if (len && !(len == 11 && !strncasecmp(p, "aws-chunked", 11))) {
            if (b.len)
                buf_puts(&b, ",");
            buf_append(&b, p, len);
        }
        p += strcspn(p, ",");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(params, "ContentEncoding");
    if (b.len)
        cJSON_AddStringToObject(params, "ContentEncoding", b.data);
    buf_free(&b);
}

/* Runs the operation; for GetObject and HeadObject also opens the file, running again if a
 * writer replaced (and deleted) it between the transaction and the open. */
static int execute(struct dss_call *call, const struct s3_req *r, const cJSON *params, cJSON **result, int *fd)
{
    *fd = -1;
    for (int attempt = 0; attempt < OPEN_RETRIES; attempt++) {
        int rc = r->op->op.fn ? dss_run(call, &r->op->op, params, result) : r->op->drive(call, params, result);
        if (rc != DSS_OK)
            return rc;
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(*result, "Body");
        const char *file = dss_param_str(body, "File");
        if (!file)
            return DSS_OK;
        if ((*fd = s3_file_open(file)) >= 0)
            return DSS_OK;
        cJSON_Delete(*result);
        *result = NULL;
        if (errno != ENOENT)
            break;
    }
    return dss_fail(call, DSS_E_InternalFailure, "The emulator could not read the object's bytes.");
}

static void s3_finish(struct dss_call *call, void *ctx)
{
    struct s3_req *r = ctx;
    char md5[33] = "", checksum[96] = "";
    if (!r->failed && r->chunked && !s3_chunked_complete(&r->dec))
        req_fail(r, DSS_E_IncompleteBody, "The request body ended inside an aws-chunked chunk.");
    if (!r->failed && r->declared >= 0 && r->received != (uint64_t)r->declared)
        req_fail(r, DSS_E_IncompleteBody, "You did not provide the number of bytes specified by the Content-Length "
                                          "HTTP header");
    if (!r->failed && r->digesting)
        check_digests(r, md5, checksum);
    cJSON *params = NULL;
    if (!r->failed) {
        struct buf err;
        buf_init(&err, 1024);
        enum dss_error e = restxml_params(s3_model(), r->op->op.name, &r->route, r->headers, r->n_headers,
                                          r->xml.data, r->xml.len, &params, &err);
        if (e)
            req_fail(r, e, "%s", err.data ? err.data : "Invalid request.");
        buf_free(&err);
    }
    int placed = 0;
    if (!r->failed && r->body == S3_BODY_FILE) {
        size_t held_len;
        const char *held = !strcmp(r->op->op.name, "PutObject") ? s3_tmp_held(&r->tmp, &held_len) : NULL;
        if (held)
            dss_call_lend_bytes(call, held, held_len); /* the row keeps them: no file */
        else if (s3_tmp_place(&r->tmp))
            req_fail(r, DSS_E_InternalFailure, "The emulator could not store the upload.");
        else
            placed = 1;
        if (!r->failed) {
            cJSON *body = cJSON_AddObjectToObject(params, "_Body");
            if (placed)
                cJSON_AddStringToObject(body, "File", r->tmp.id);
            else
                cJSON_AddTrueToObject(body, "Inline");
            cJSON_AddNumberToObject(body, "Size", (double)r->received);
            cJSON_AddStringToObject(body, "MD5", md5);
            if (r->algo != S3_CK_NONE) {
                cJSON_AddStringToObject(body, "ChecksumAlgorithm", s3_algo_name(r->algo));
                cJSON_AddStringToObject(body, "Checksum", checksum);
            }
        }
    }
    if (r->failed) {
        cJSON_Delete(params);
        reply_error(call, r, r->err, r->msg);
        return;
    }
    strip_chunked_encoding(params);
    cJSON *result = NULL;
    int fd = -1;
    if (execute(call, r, params, &result, &fd) != DSS_OK) {
        if (placed)
            s3_file_remove(r->tmp.id); /* placed, but no row will name it */
        reply_error(call, r, dss_error_last(call), dss_error_message(call));
    } else {
        s3_remove_files(result);
        reply_result(call, r, result, fd);
        log_debug("s3 %s %s -> %s", dss_call_method(call), dss_call_uri(call), r->op->op.name);
    }
    cJSON_Delete(result);
    cJSON_Delete(params);
}

static void s3_release(void *ctx)
{
    struct s3_req *r = ctx;
    if (!r)
        return;
    s3_tmp_discard(&r->tmp); /* a body that never finished */
    if (r->digesting)
        s3_digest_cleanup(&r->digest);
    buf_free(&r->xml);
    form_free(r->headers, r->n_headers);
    s3_route_free(&r->route);
    free(r);
}

/* A form-typed POST is S3's when it names one of S3's POST operations (?uploads, ?uploadId=,
 * ?delete): no Query-protocol request has those. */
static int s3_takes_form_post(const char *host, const char *uri)
{
    if (!strchr(uri, '?')) /* every S3 POST names its operation in the query: SQS's Query POSTs stop here */
        return 0;
    struct s3_route route;
    int named = s3_route("POST", host, uri, 0, &route) == 0;
    s3_route_free(&route);
    return named;
}

const struct dss_rest_handler s3_rest_handler = {
    .takes_form_post = s3_takes_form_post,
    .claim = s3_claim,
    .body = s3_body,
    .finish = s3_finish,
    .release = s3_release,
};
