/* xmlwrite.c -- see xmlwrite.h. */
#include "xmlwrite.h"

#include <string.h>

int xml_declaration(struct buf *b)
{
    return buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

int xml_text(struct buf *b, const char *text)
{
    const char *run = text;
    for (const char *p = text;; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '&': esc = "&amp;"; break;
        case '<': esc = "&lt;"; break;
        case '>': esc = "&gt;"; break;
        case '"': esc = "&quot;"; break;
        case '\r': esc = "&#13;"; break;
        case '\0': return buf_append(b, run, (size_t)(p - run));
        default: continue;
        }
        if (buf_append(b, run, (size_t)(p - run)) || buf_puts(b, esc))
            return -1;
        run = p + 1;
    }
}

int xml_open(struct buf *b, const char *name, const char *xmlns)
{
    if (buf_printf(b, "<%s", name))
        return -1;
    if (xmlns && (buf_puts(b, " xmlns=\"") || xml_text(b, xmlns) || buf_puts(b, "\"")))
        return -1;
    return buf_puts(b, ">");
}

int xml_close(struct buf *b, const char *name)
{
    return buf_printf(b, "</%s>", name);
}

int xml_element(struct buf *b, const char *name, const char *text)
{
    if (buf_printf(b, "<%s>", name) || xml_text(b, text))
        return -1;
    return xml_close(b, name);
}
