/* xmlwrite.c -- see xmlwrite.h. */
#include "xmlwrite.h"

#include <string.h>

int xml_declaration(struct buf *b)
{
    return buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

/* The length of the well-formed UTF-8 sequence at p that XML 1.0 allows (not U+FFFE or
 * U+FFFF), or 0. Reads no further than a byte that ends it, so never past the NUL. */
static size_t xml_char_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF; /* no surrogates, nothing past U+10FFFF */
    if (len == 0 || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
        return 0;
    return len;
}

int xml_text(struct buf *b, const char *text)
{
    const unsigned char *p = (const unsigned char *)text, *run = p;
    for (;;) {
        unsigned c = *p;
        const char *esc;
        size_t len = 1;
        if (c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != '"') {
            p++;
            continue;
        }
        switch (c) {
        case '\0': return buf_append(b, run, (size_t)(p - run));
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\r': esc = "&#13;"; break;
        case '\t':
        case '\n': p++; continue;
        default:
            if (c >= 0x80 && (len = xml_char_len(p)) != 0) {
                p += len;
                continue;
            }
            /* A control character or a byte that is not UTF-8: no XML 1.0 document may hold
             * it, even as a character reference, so it becomes U+FFFD and the answer parses. */
            len = 1;
            esc = "\xEF\xBF\xBD";
            break;
        }
        if (buf_append(b, run, (size_t)(p - run)) || buf_puts(b, esc))
            return -1;
        p += len;
        run = p;
    }
}

/* Tags are written with appends, not buf_printf(): "<%s>" through vsnprintf() was 7 % of the
 * instructions of an SQS Receive+Delete over the Query protocol (callgrind). */
static int put_tag(struct buf *b, const char *open, const char *name, const char *end)
{
    return buf_puts(b, open) || buf_puts(b, name) || buf_puts(b, end) ? -1 : 0;
}

int xml_open(struct buf *b, const char *name, const char *xmlns)
{
    if (!xmlns)
        return put_tag(b, "<", name, ">");
    if (put_tag(b, "<", name, " xmlns=\"") || xml_text(b, xmlns))
        return -1;
    return buf_puts(b, "\">");
}

int xml_close(struct buf *b, const char *name)
{
    return put_tag(b, "</", name, ">");
}

int xml_element(struct buf *b, const char *name, const char *text)
{
    if (put_tag(b, "<", name, ">") || xml_text(b, text))
        return -1;
    return xml_close(b, name);
}
