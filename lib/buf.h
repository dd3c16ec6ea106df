/* buf.h -- a growable byte buffer with a hard size cap (the idea of curl's dynbuf).
 *
 * A buffer is initialised with the most it may ever hold. An append that would pass that
 * cap fails with -1 and leaves the buffer as it was, so a hostile client cannot make the
 * emulator allocate without bound. The contents are always NUL-terminated (the NUL is not
 * counted in len), so text can be handed to C string functions directly.
 */
#ifndef DSS_BUF_H
#define DSS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes in use, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* most bytes the buffer may ever hold */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* empties, keeps the allocation */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Gives the caller the malloc'd contents (never NULL) and leaves the buffer empty. */
char *buf_steal(struct buf *b);

#endif
