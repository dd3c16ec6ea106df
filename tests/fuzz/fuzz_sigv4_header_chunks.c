/* fuzz_sigv4_header_chunks.c -- the chunk-signature verifier of aws-chunked S3 bodies
 * (emulator/auth.c). The first byte sets the size of the slices the body is fed in and whether
 * the trailer is signed; the verdict must not depend on how the body was sliced, and a body
 * refused once stays refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

static int run(const char *p, size_t n, size_t slice, int trailer, int *fed_ok)
{
    unsigned char key[32] = {1, 2, 3};
    struct dss_chunk_verifier *v =
        dss_chunks_new(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", trailer);
    if (!v)
        return -2;
    int rc = 0;
    *fed_ok = 1;
    for (size_t i = 0; i < n && rc == 0; i += slice)
        rc = dss_chunks_feed(v, p + i, n - i < slice ? n - i : slice);
    if (rc) {
        *fed_ok = 0;
        if (dss_chunks_feed(v, "0", 1) != -1 || dss_chunks_finish(v) != -1)
            abort();
    } else {
        rc = dss_chunks_finish(v);
    }
    int bad = -1;
    if (rc && (!dss_chunks_error(v, &bad)[0] || (bad != 0 && bad != 1)))
        abort();
    dss_chunks_free(v);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slice = (size_t)(data[0] & 15) + 1;
    int trailer = data[0] >> 7;
    const char *body = (const char *)data + 1;
    int fed1, fed2;
    int whole = run(body, size - 1, size, trailer, &fed1), sliced = run(body, size - 1, slice, trailer, &fed2);
    if (whole != sliced || fed1 != fed2)
        abort();
    return 0;
}
