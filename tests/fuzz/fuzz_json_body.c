/* fuzz_json_body.c -- the JSON-protocol body parser the dispatcher runs on every SQS JSON,
 * DynamoDB and SSM request: arbitrary bytes in; what it accepts must print back to a body it
 * accepts again (so nothing half-parsed reaches an operation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int nul = 0;
    cJSON *v = json_body_parse((const char *)data, size, &nul);
    if (!v)
        return 0;
    char *text = cJSON_PrintUnformatted(v);
    if (text) {
        int nul2 = 0;
        cJSON *again = json_body_parse(text, strlen(text), &nul2);
        if (!again)
            abort();
        cJSON_Delete(again);
        free(text);
    }
    cJSON_Delete(v);
    return 0;
}
