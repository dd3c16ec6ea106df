/* xmlwrite.h -- writing XML responses into a capped buffer.
 *
 * Only writing: parsing XML is left to a real parser. The emulator does not link libxml2 for
 * this because libxml2 drags in ICU, which alone costs more start-up time than the whole rest
 * of the emulator. Text is escaped so that any XML parser reads back exactly the bytes given:
 * & < > " and, because parsers normalise line ends, CR as &#13;. What XML 1.0 cannot carry
 * at all (control characters other than TAB, LF and CR; bytes that are not UTF-8; U+FFFE and
 * U+FFFF) is written as U+FFFD, so every answer stays well-formed.
 */
#ifndef DSS_XMLWRITE_H
#define DSS_XMLWRITE_H

#include "buf.h"

/* <?xml version="1.0" encoding="UTF-8"?> */
int xml_declaration(struct buf *b);
/* <name> or, with xmlns, <name xmlns="..."> */
int xml_open(struct buf *b, const char *name, const char *xmlns);
int xml_close(struct buf *b, const char *name);
/* <name>escaped text</name> */
int xml_element(struct buf *b, const char *name, const char *text);
/* Escaped text alone. */
int xml_text(struct buf *b, const char *text);

#endif
