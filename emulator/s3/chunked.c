/* chunked.c -- decoding aws-chunked request bodies (Content-Encoding: aws-chunked, or
 * x-amz-content-sha256: STREAMING-...), as the SDKs send them:
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n<size bytes>\r\n  ...repeated...
 *   0[;chunk-signature=<sig>]\r\n
 *   [<trailer name>:<value>\r\n ...]    (x-amz-checksum-crc32:..., x-amz-trailer-signature:...)
 *   \r\n
 *
 * A byte-at-a-time state machine over whatever slices the network delivers, so a body of
 * any size streams through in constant memory. Chunk and trailer signatures are read and not
 * checked (the emulator does not verify signatures). Pure: no I/O, fuzzed directly.
 */
#include <ctype.h>
#include <string.h>

#include "s3.h"

enum state {
    S_SIZE,    /* reading a chunk header line */
    S_DATA,    /* inside a chunk's payload */
    S_DATA_CR, /* the \r after a payload */
    S_DATA_LF, /* the \n after it */
    S_TRAILER, /* reading trailer lines after the last chunk */
    S_DONE,    /* the empty line after the trailers has been read */
    S_ERROR,
};

void s3_chunked_init(struct s3_chunked *d)
{
    memset(d, 0, sizeof *d);
    d->state = S_SIZE;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "<hex>[;extension]": sets the chunk size. Returns 0 or -1. */
static int parse_size_line(struct s3_chunked *d)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < d->line_len && hexval((unsigned char)d->line[i]) >= 0; i++) {
        if (i >= 16)
            return -1; /* more than 64 bits */
        size = size << 4 | (uint64_t)hexval((unsigned char)d->line[i]);
    }
    if (i == 0 || (i < d->line_len && d->line[i] != ';'))
        return -1;
    d->left = size;
    d->state = size ? S_DATA : S_TRAILER;
    return 0;
}

/* "name:value" after the last chunk, kept with the name in lower case. Returns 0 or -1. */
static int parse_trailer_line(struct s3_chunked *d)
{
    if (d->line_len == 0) {
        d->state = S_DONE;
        return 0;
    }
    const char *colon = memchr(d->line, ':', d->line_len);
    if (!colon || colon == d->line || d->n_trailers == S3_CHUNKED_TRAILERS)
        return -1;
    size_t name_len = (size_t)(colon - d->line);
    if (memchr(d->line, ' ', name_len) || memchr(d->line, '\t', name_len))
        return -1; /* as in HTTP headers, no space before the colon */
    const char *v = colon + 1, *end = d->line + d->line_len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t value_len = (size_t)(end - v);
    if (name_len >= sizeof d->trailers[0].name || value_len >= sizeof d->trailers[0].value)
        return -1;
    char *name = d->trailers[d->n_trailers].name;
    for (size_t i = 0; i < name_len; i++)
        name[i] = (char)tolower((unsigned char)d->line[i]);
    name[name_len] = '\0';
    memcpy(d->trailers[d->n_trailers].value, v, value_len);
    d->trailers[d->n_trailers].value[value_len] = '\0';
    d->n_trailers++;
    return 0;
}

/* Collects a header or trailer line; returns 1 when a whole line (without CRLF) is in
 * d->line, 0 when more bytes are needed, -1 on a bad or too long line. */
static int take_line_byte(struct s3_chunked *d, char c)
{
    if (c == '\n') {
        if (d->line_len == 0 || d->line[d->line_len - 1] != '\r')
            return -1;
        d->line_len--;
        return 1;
    }
    if (d->line_len + 1 >= sizeof d->line)
        return -1;
    d->line[d->line_len++] = c;
    return 0;
}

int s3_chunked_feed(struct s3_chunked *d, const char *p, size_t n, s3_sink_fn sink, void *ctx)
{
    size_t i = 0;
    while (i < n && d->state != S_ERROR) {
        switch (d->state) {
        case S_DATA: {
            size_t take = n - i < d->left ? n - i : (size_t)d->left;
            if (sink(ctx, p + i, take)) {
                d->state = S_ERROR;
                break;
            }
            i += take;
            d->left -= take;
            if (d->left == 0)
                d->state = S_DATA_CR;
            break;
        }
        case S_DATA_CR:
            d->state = p[i++] == '\r' ? S_DATA_LF : S_ERROR;
            break;
        case S_DATA_LF:
            d->state = p[i++] == '\n' ? S_SIZE : S_ERROR;
            break;
        case S_SIZE:
        case S_TRAILER: {
            int line = take_line_byte(d, p[i++]);
            if (line < 0) {
                d->state = S_ERROR;
            } else if (line > 0) {
                int rc = d->state == S_SIZE ? parse_size_line(d) : parse_trailer_line(d);
                d->line_len = 0;
                if (rc)
                    d->state = S_ERROR;
            }
            break;
        }
        default: /* S_DONE: nothing may follow the final empty line */
            d->state = S_ERROR;
            break;
        }
    }
    return d->state == S_ERROR ? -1 : 0;
}

int s3_chunked_complete(const struct s3_chunked *d)
{
    /* Some encoders end right after the last trailer's CRLF; accept that too. */
    return d->state == S_DONE || (d->state == S_TRAILER && d->line_len == 0);
}

const char *s3_chunked_trailer(const struct s3_chunked *d, const char *name)
{
    for (int i = 0; i < d->n_trailers; i++)
        if (strcmp(d->trailers[i].name, name) == 0)
            return d->trailers[i].value;
    return NULL;
}
