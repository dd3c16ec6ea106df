/* fuzz_s3_chunked.c -- the aws-chunked decoder. The first byte sets the size of the slices the
 * body is fed in (the network may split it anywhere); the decoded payload must never be more
 * bytes than went in, and a body that decodes whole must decode the same in one slice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3.h"

struct sink {
    size_t len;
    uint64_t sum; /* a cheap fingerprint of the bytes, in order */
};

static int take(void *ctx, const char *p, size_t n)
{
    struct sink *s = ctx;
    for (size_t i = 0; i < n; i++)
        s->sum = s->sum * 31 + (unsigned char)p[i];
    s->len += n;
    return 0;
}

static int decode(const char *p, size_t n, size_t slice, struct sink *s, struct s3_chunked *d)
{
    s3_chunked_init(d);
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n; i += slice)
        if (s3_chunked_feed(d, p + i, n - i < slice ? n - i : slice, take, s))
            return -1;
    return s3_chunked_complete(d) ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slice = (size_t)data[0] % 17 + 1;
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    struct s3_chunked d;
    struct sink a, b;
    int rc = decode(body, n, slice, &a, &d);
    if (a.len > n)
        abort();
    s3_chunked_trailer(&d, "x-amz-checksum-crc32");
    if (rc == 0 && (decode(body, n, n ? n : 1, &b, &d) != 0 || a.len != b.len || a.sum != b.sum))
        abort();
    return 0;
}
