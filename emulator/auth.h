/* auth.h -- who may talk to the emulator, and how much of it one client may hold.
 *
 * Authentication (dss-emulator --auth verify): every request's signature is checked the way AWS
 * checks it -- SigV4 in the Authorization header or in a presigned URL's query, and for S3 also
 * SigV2 (the form boto3 and AWS CLI v1 presign with by default) -- against the key pairs of an
 * AWS shared-credentials file (--credentials; without one, the pair test/test). The canonical
 * request is rebuilt from what arrived (the request target as sent, header values as received,
 * the body's SHA-256) with lib/sigv4. A request that fails gets its service's own error:
 *
 *   failure         JSON (DynamoDB, SSM)          Query (SQS, ASG)             EC2                  S3
 *   no auth         MissingAuthenticationToken-   MissingAuthenticationToken   MissingAuthentica-   AccessDenied 403
 *                   Exception 400                 403                          tionToken 403
 *   malformed       IncompleteSignatureExc. 400   IncompleteSignature 400      IncompleteSignature  AuthorizationHeader-
 *                                                                                                   Malformed 400
 *   unknown key     UnrecognizedClientExc. 400    InvalidClientTokenId 403     AuthFailure 401      InvalidAccessKeyId 403
 *   bad signature   InvalidSignatureExc. 400      SignatureDoesNotMatch 403    AuthFailure 401      SignatureDoesNotMatch 403
 *   date > 15 min   InvalidSignatureExc. 400      SignatureDoesNotMatch 403    RequestExpired 400   RequestTimeTooSkewed 403
 *   URL expired     (as date)                     (as date)                    (as date)            AccessDenied 403
 *
 * S3 bodies are checked as they stream: a hex x-amz-content-sha256 must match the body
 * (XAmzContentSHA256Mismatch), and STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] bodies have every
 * chunk signature (and the trailer's) verified. The date is compared with the emulator's clock.
 *
 * Control endpoints (/_dss/...) are not AWS APIs and need no signature from loopback peers; from
 * any other address only /_dss/health answers unless the request is signed with a known key.
 *
 * Guard: the limits that keep one slow or hostile client from holding the server -- a request's
 * headers must arrive within --request-timeout seconds and its body at 1 KiB/s or more after that
 * (a watchdog shuts down the socket of a request that falls behind), connections idle longer than
 * --idle-timeout close (parked long polls excepted: libmicrohttpd does not time out a suspended
 * connection), at most --max-long-polls calls wait parked at once (beyond that a long poll is
 * answered with the service's throttling error), plus the connection, header-memory and body caps
 * the server hands to libmicrohttpd.
 */
#ifndef DSS_AUTH_H
#define DSS_AUTH_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"

struct dss_call;
struct dss_service;
struct sigv4_header; /* sigv4.h (not included: server.c has a sigv4_scope() of its own) */

/* ======================================================================================
 * Key pairs: the AWS shared-credentials file
 * ====================================================================================== */

struct dss_key {
    char *profile;    /* the [section] it came from */
    char *access_key; /* aws_access_key_id */
    char *secret_key; /* aws_secret_access_key */
};

struct dss_keyring {
    struct dss_key *keys;
    size_t n;
};

/* Reads the text of a shared-credentials file (INI: "[profile]" sections, "key = value" lines,
 * '#' and ';' comments, indented continuation lines ignored) and adds each profile's
 * aws_access_key_id / aws_secret_access_key pair to k. Profiles without keys (region only) are
 * skipped; a profile with half a pair, a key line outside a section, a malformed line or one
 * access key with two secrets is an error. Returns 0, or -1 with "line N: why" in err (k then
 * holds the pairs read before the error). text need not be NUL-terminated. */
int dss_keyring_parse(struct dss_keyring *k, const char *text, size_t len, char *err, size_t errlen);
/* Reads path (at most 1 MiB) with dss_keyring_parse(); a file without any pair is an error. */
int dss_keyring_load(struct dss_keyring *k, const char *path, char *err, size_t errlen);
/* Adds one pair (copies the strings). Returns 0, or -1 if the key already has another secret. */
int dss_keyring_add(struct dss_keyring *k, const char *profile, const char *access_key, const char *secret_key);
/* The secret of access_key, or NULL. Borrowed. */
const char *dss_keyring_secret(const struct dss_keyring *k, const char *access_key);
void dss_keyring_free(struct dss_keyring *k);

/* ======================================================================================
 * Verifying one request (pure: no server, no clock -- unit tested and fuzzed)
 * ====================================================================================== */

enum dss_auth_family {
    DSS_AUTH_JSON,  /* JSON protocol services: DynamoDB, SSM, ec2messages */
    DSS_AUTH_QUERY, /* Query protocol services and SQS over JSON: SQS, Auto Scaling */
    DSS_AUTH_EC2,   /* EC2's Query dialect */
    DSS_AUTH_S3,    /* REST-XML: S3 (SigV2 too; payload hash from x-amz-content-sha256) */
};

struct dss_auth_input {
    enum dss_auth_family family;
    const char *method;
    const char *target;                 /* request target as sent: "/path?query", percent-encoded */
    const struct sigv4_header *headers; /* every request header, as received, in order */
    size_t nheaders;
    const char *service;                /* signing name the scope must name; NULL: any */
    const char *body_sha256;            /* not S3: hex SHA-256 of the body */
    int64_t now_ms;                     /* the emulator's clock */
};

#define DSS_AUTH_EXTRAS 6

struct dss_auth_result {
    enum dss_error err;     /* DSS_E_InternalFailure is never a verdict: see dss_auth_verify() */
    char message[1024];
    /* S3's error document names more than code and message: AWSAccessKeyId, StringToSign...
     * (read them with dss_auth_extra()). */
    const char *extra_name[DSS_AUTH_EXTRAS];
    size_t extra_at[DSS_AUTH_EXTRAS]; /* where each value starts in extra_text */
    struct buf extra_text;            /* the values, each NUL-terminated */
    int nextra;
    /* What a verified S3 body is still checked against (dss_auth_body_*). */
    int body_sha256_check;              /* x-amz-content-sha256 was a hex digest */
    char body_sha256[65];
    int chunk_signed;                   /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] */
    int trailer_signed;                 /* ...-TRAILER */
    unsigned char signing_key[32];
    char amz_date[17];
    char scope[256];
    char seed_signature[65];
};

/* Checks the request's signature against the keys. Returns 0 when it is good (out holds what the
 * body must still match), or -1 with out->err and out->message set to the error the request's
 * family answers with (and any S3 extras). Free out with dss_auth_result_free() either way. */
int dss_auth_verify(const struct dss_keyring *keys, const struct dss_auth_input *in, struct dss_auth_result *out);
void dss_auth_result_free(struct dss_auth_result *r);
/* The i-th extra element's value (borrowed from r), its name in *name. */
const char *dss_auth_extra(const struct dss_auth_result *r, int i, const char **name);

/* ---- aws-chunked bodies with chunk signatures ----
 * "<hex size>;chunk-signature=<sig>\r\n<data>\r\n" ... "0;chunk-signature=<sig>\r\n", then
 * trailer lines ("x-amz-checksum-crc32:...", and "x-amz-trailer-signature:<sig>" when the
 * trailer is signed) and an empty line. Each signature chains from the previous one, starting
 * from the seed signature of the Authorization header. A byte-at-a-time state machine, so any
 * slicing of the body verifies the same; fuzzed. */
struct dss_chunk_verifier;

/* A verifier for a body signed with key (the request's signing key); trailer: the trailer is
 * signed too. Returns NULL when out of memory. */
struct dss_chunk_verifier *dss_chunks_new(const unsigned char key[32], const char *amz_date, const char *scope,
                                          const char *seed_signature, int trailer);
/* The next n bytes. Returns 0, or -1 once the framing is broken or a signature is wrong (and
 * from then on); why in dss_chunks_error(). */
int dss_chunks_feed(struct dss_chunk_verifier *v, const char *p, size_t n);
/* 0 if the body ended where a signed body may end, every signature verified; else -1. */
int dss_chunks_finish(struct dss_chunk_verifier *v);
/* Why the body was refused; 1 when a signature was wrong, 0 when the framing was broken. */
const char *dss_chunks_error(const struct dss_chunk_verifier *v, int *bad_signature);
void dss_chunks_free(struct dss_chunk_verifier *v);

/* ======================================================================================
 * The server's hooks (server.c)
 * ====================================================================================== */

enum dss_auth_mode {
    DSS_AUTH_OFF,    /* any or no signature is accepted */
    DSS_AUTH_VERIFY, /* every API request must be signed with a known key */
};

/* Sets the mode and loads the keys: credentials_path, or NULL for the pair test/test. Returns 0,
 * or -1 with why in err. Call before the server starts. */
int dss_auth_setup(enum dss_auth_mode mode, const char *credentials_path, char *err, size_t errlen);
void dss_auth_teardown(void);
enum dss_auth_mode dss_auth_mode(void);
size_t dss_auth_key_count(void);
/* The key pair an emulated instance's programs sign with (its worker's environment): the
 * keyring's first pair, or test/test. Borrowed until dss_auth_teardown(). */
void dss_auth_instance_key(const char **access_key, const char **secret_key);

/* A JSON or Query request, routed (svc NULL when no service matched; json: it came by
 * X-Amz-Target) and its body complete. Returns 0 to go on, or -1 after dss_fail(). */
int dss_auth_check(struct dss_call *c, const struct dss_service *svc, int json, const char *body, size_t len);
/* A /_dss/ request (see above). Returns 0 to serve it, or -1 after dss_fail(). */
int dss_auth_check_control(struct dss_call *c, const char *body, size_t len);

/* A REST (S3) request whose headers are in. Returns 0 to go on, with *body set to the checks its
 * body still needs (NULL: none), or -1 after it answered (the body is then never read). */
struct dss_auth_body;
int dss_auth_check_rest(struct dss_call *c, struct dss_auth_body **body);
/* The next piece of the body as sent. Returns 0, or -1 once it fails (stop passing it on). */
int dss_auth_body_feed(struct dss_auth_body *b, const char *data, size_t len);
/* The body is complete. Returns 0 to go on, or -1 after answering with the error. */
int dss_auth_body_end(struct dss_call *c, struct dss_auth_body *b);
void dss_auth_body_free(struct dss_auth_body *b);

/* ======================================================================================
 * Guard: limits
 * ====================================================================================== */

struct dss_limits {
    unsigned max_connections;   /* simultaneous connections (MHD_OPTION_CONNECTION_LIMIT) */
    unsigned idle_timeout_s;    /* close a connection silent this long (MHD_OPTION_CONNECTION_TIMEOUT) */
    unsigned request_timeout_s; /* headers within this; the body at >= 1 KiB/s after it */
    size_t max_header_bytes;    /* memory per connection for the request line and headers */
    size_t max_body_bytes;      /* a JSON or Query request body */
    unsigned max_long_polls;    /* calls parked at once */
};

#define DSS_LIMITS_DEFAULT {8192, 60, 30, 32768, 16u << 20, 4096}

/* Sets the limits (before the server starts) and reads them. */
void dss_guard_configure(const struct dss_limits *l);
const struct dss_limits *dss_guard_limits(void);

/* The error a call refused for too many waiting calls answers with: SQS's RequestThrottled,
 * EC2's RequestLimitExceeded, else ThrottlingException. */
enum dss_error dss_guard_throttle_error(const struct dss_service *svc);

/* 1 for a loopback address (127.0.0.0/8, ::1, "localhost"). */
int dss_guard_is_loopback(const char *host);

/* The request watchdog. start() runs a thread that shuts down connections whose request has
 * fallen behind its deadline; stop() ends it. notify() is the MHD_OPTION_NOTIFY_CONNECTION
 * callback (it tracks each connection); request_begin() is called from the URI callback when a
 * request's first line has arrived, and progress() from every call of the request handler
 * (first: the headers are complete; upload: bytes of body in this call; 0 after the first call:
 * the request is complete). A connection's deadlines use the monotonic clock, not the emulator's. */
int dss_guard_start(void);
void dss_guard_stop(void);
void dss_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
void dss_guard_request_begin(struct MHD_Connection *conn);
void dss_guard_progress(struct MHD_Connection *conn, int first, size_t upload);
/* From the completion callback: the request is over; the connection waits for the next. */
void dss_guard_request_end(struct MHD_Connection *conn);

#endif
