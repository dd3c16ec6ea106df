/* s3rest.h -- the few S3 REST calls `dss-scheduler provision` and `teardown` make, one at a time.
 *
 * lib/awsclient speaks the JSON and Query protocols only; S3 is REST-XML (the operation is the
 * method, the path and a sub-resource). These calls are rare and sequential, so they are made
 * with a blocking libcurl easy handle, signed with SigV4 (lib/sigv4.h) from the same
 * configuration (lib/awsconfig.h: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profiles...). With a
 * configured endpoint (an emulator) requests are path-style, as the SDKs send them when an
 * endpoint is set with path-style addressing; against the real regional endpoint they are
 * virtual-hosted (https://BUCKET.s3.REGION.amazonaws.com/).
 */
#ifndef DSS_SCHED_S3REST_H
#define DSS_SCHED_S3REST_H

#include <stddef.h>
#include <stdint.h>

#include "awsconfig.h"
#include "buf.h"

struct s3_reply {
    long status;         /* HTTP status; 0: no response (code "NetworkError") */
    char code[128];      /* the error document's <Code>, "" on success */
    char message[1024];  /* its <Message> (or curl's error) */
    struct buf body;     /* the response body */
};

/* One request: method on bucket ("" for the service), query (sub-resource as sent, e.g.
 * "notification" or "list-type=2&max-keys=1"; NULL for none), body of len bytes (NULL for
 * none), an optional extra header (Content-MD5). now_ms is the signing time. Fills out (free
 * with s3_reply_free). Returns 0 for a 2xx answer, else -1 with out->code / out->message. */
int s3_request(const struct aws_config *cfg, int64_t now_ms, const char *method, const char *bucket,
               const char *query, const char *body, size_t len, const char *header_name,
               const char *header_value, struct s3_reply *out);
void s3_reply_free(struct s3_reply *r);

#endif
