/* fuzz_sigv4.c -- SigV4 canonicalisation: arbitrary bytes split at newlines into method, path,
 * query and header lines ("name:value"), then canonicalised and signed. Never crashes; a
 * canonical request always ends with the payload hash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *fields[3] = {"GET", "/", NULL};
    struct sigv4_header h[16];
    size_t nh = 0;
    int line = 0;
    for (char *s = text, *next; s; s = next, line++) {
        next = strchr(s, '\n');
        if (next)
            *next++ = '\0';
        if (line < 3) {
            fields[line] = s;
            continue;
        }
        char *colon = strchr(s, ':');
        if (colon && nh < 16) {
            *colon = '\0';
            h[nh].name = s;
            h[nh].value = colon + 1;
            nh++;
        }
    }
    static const char hash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    struct sigv4_request r = {fields[0], fields[1], fields[2], h, nh, hash, (int)(size & 1)};
    struct buf out, auth;
    buf_init(&out, 1 << 20);
    buf_init(&auth, 1 << 20);
    if (sigv4_canonical_request(&r, &out, NULL) == 0) {
        if (out.len < 64 || strcmp(out.data + out.len - 64, hash) != 0)
            abort();
        if (sigv4_authorization(&auth, &r, "AK", "SK", "us-east-1", "svc", "20150830T123600Z") != 0)
            abort();
    }
    buf_free(&out);
    buf_free(&auth);
    free(text);
    return 0;
}
