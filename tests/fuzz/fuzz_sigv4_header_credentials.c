/* fuzz_sigv4_header_credentials.c -- the shared-credentials reader behind --credentials
 * (emulator/auth.c). Never crashes; every pair it keeps has a non-empty access key without
 * spaces or '/', a non-empty secret, and is found again by its key; an error names its line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dss_keyring k = {0};
    char err[512] = "";
    int rc = dss_keyring_parse(&k, (const char *)data, size, err, sizeof err);
    if (rc != 0 && strncmp(err, "line ", 5) != 0)
        abort();
    for (size_t i = 0; i < k.n; i++) {
        const struct dss_key *e = &k.keys[i];
        if (!e->access_key[0] || !e->secret_key[0] || strpbrk(e->access_key, " /\t") ||
            dss_keyring_secret(&k, e->access_key) != e->secret_key)
            abort();
    }
    dss_keyring_free(&k);
    return 0;
}
