/* jsonbody.c -- the body of a JSON-protocol request (JSON 1.0/1.1: SQS, DynamoDB, SSM), parsed
 * strictly: RFC 8259 and nothing after the value, which cJSON alone does not enforce. That
 * includes UTF-8 (RFC 8259 section 8.1): cJSON passes any bytes through, and a value stored from
 * a body that is not UTF-8 would later make answers that are not JSON (fuzz_json_dispatch). */
#include <string.h>

#include "protocol.h"
#include "util.h"

/* JSON (RFC 8259) allows no raw control character inside a string, and between tokens none but
 * TAB, LF and CR. cJSON takes both (a raw NUL then cuts a string short, so "w0<NUL>x" would name
 * the key "w0"), so the body is checked before parsing. Returns -1 if it holds one. Sets
 * *escaped_nul when a string holds \u0000: cJSON ends the string there too, and the service
 * refuses the cut value. */
static int json_control_characters(const char *p, size_t n, int *escaped_nul)
{
    int in_string = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 && (in_string || (ch != '\t' && ch != '\n' && ch != '\r')))
            return -1;
        if (!in_string)
            in_string = ch == '"';
        else if (ch == '"')
            in_string = 0;
        else if (ch == '\\' && i + 1 < n) { /* an escape pair: its second byte never ends the string */
            ch = (unsigned char)p[++i];
            if (ch < 0x20)
                return -1;
            if (ch == 'u' && n - i > 4 && strncmp(p + i + 1, "0000", 4) == 0)
                *escaped_nul = 1;
        }
    }
    return 0;
}

/* 1 if [p, end) is JSON whitespace only: what may follow the value (cJSON stops after it). */
static int json_only_whitespace(const char *p, const char *end)
{
    for (; p && p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return 0;
    return p == end;
}

cJSON *json_body_parse(const char *body, size_t len, int *escaped_nul)
{
    const char *end = NULL;
    cJSON *v = NULL;
    if (!utf8_valid(body, len, NULL) || json_control_characters(body, len, escaped_nul) ||
        !(v = cJSON_ParseWithLengthOpts(body, len, &end, 0)) || !json_only_whitespace(end, body + len)) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}
