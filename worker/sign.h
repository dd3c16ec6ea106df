/* sign.h -- SigV4 for the programs an emulated instance runs (dss-worker, the in-worker aws).
 *
 * An instance's programs call the emulator like any AWS client, so under dss-emulator
 * --auth verify their requests must carry real signatures. The emulator hands each worker a key
 * pair in its environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, plus AWS_SESSION_TOKEN when
 * set); this signs a libcurl request with it using lib/sigv4 (header signing), the way the
 * scheduler's client (lib/awsclient.c) does.
 */
#ifndef DSS_WORKER_SIGN_H
#define DSS_WORKER_SIGN_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>

/* Appends Host, X-Amz-Date, X-Amz-Content-Sha256 (S3 only), X-Amz-Security-Token (when the
 * environment has one) and Authorization to *headers for a request of method on url (the URL
 * exactly as handed to libcurl, which must send it as is: CURLOPT_PATH_AS_IS). payload_hash is
 * the lower-case hex SHA-256 of the body or, for S3, "UNSIGNED-PAYLOAD". The signed headers are
 * host, x-amz-date, x-amz-content-sha256 and x-amz-security-token, plus every header already in
 * *headers whose name is content-type or starts with x-amz-. Returns 0, or -1 (bad URL, out of
 * memory); *headers may have grown either way and stays the caller's to free. */
int worker_sign(struct curl_slist **headers, const char *method, const char *url, const char *service,
                const char *region, const char *payload_hash);

/* Lower-case hex SHA-256 of n bytes (out holds 65). */
void worker_sha256_hex(const void *p, size_t n, char out[65]);

/* Lower-case hex SHA-256 of what is left of f, which is then rewound to where it was.
 * Returns 0, or -1 on a read error. */
int worker_sha256_file(FILE *f, char out[65]);

#endif
