/* s3req.h -- one signed S3 REST request, for the programs an emulated instance runs: the
 * in-worker aws (every command) and dss-worker (a command's output to OutputS3BucketName).
 */
#ifndef DSS_WORKER_S3REQ_H
#define DSS_WORKER_S3REQ_H

#include <curl/curl.h>
#include <stdio.h>
#include <time.h>

enum s3_outcome {
    S3_ANSWERED,      /* status holds the HTTP status, whatever it is */
    S3_UNREADABLE,    /* the body to upload could not be read (errno says why) */
    S3_UNSIGNABLE,    /* the URL could not be signed */
    S3_NO_CONNECTION  /* no answer from the endpoint */
};

/* A growing NUL-terminated buffer for libcurl's CURLOPT_WRITEFUNCTION (curl_sink_write);
 * past max bytes (when max is not 0) it refuses, which ends the transfer. */
struct curl_sink {
    char *data;
    size_t len, max;
};
size_t curl_sink_write(char *p, size_t size, size_t n, void *sink);

struct s3_reply {
    enum s3_outcome outcome;
    long status;
    char *body;       /* the answer's body, NUL-terminated (an error document even when the
                       * request downloaded into a file); free with s3_reply_free() */
    size_t body_len;
    time_t mtime;     /* Last-Modified, 0 if none */
    char url[8192];   /* the URL requested */
};

/* Percent-encodes s for a URL path or query value: unreserved characters stay, and '/' too
 * when keep_slash (an object key in the path). Cut to fit n. */
void s3_url_escape(char *out, size_t n, const char *s, int keep_slash);

/* Sends method to ENDPOINT/bucket[/key][?query] (path style; key escaped here, query as given),
 * SigV4-signed for region with the environment's key pair (sign.h) and the body's real SHA-256,
 * as the AWS CLI signs over plain HTTP. The body is the size bytes of in (rewound after hashing
 * to where it was), if any; the answer's body goes to out if given, else into r->body.
 * Returns 0 for a 2xx answer, else -1 (r->outcome and r->status say which failure). */
int s3_request(const char *endpoint, const char *region, const char *method, const char *bucket, const char *key,
               const char *query, FILE *in, curl_off_t size, FILE *out, struct s3_reply *r);

void s3_reply_free(struct s3_reply *r);

#endif
