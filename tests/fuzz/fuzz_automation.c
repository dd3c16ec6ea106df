/* fuzz_automation.c -- the S3 trigger's parsers: arbitrary bytes as the settings parameter's
 * value and as an events-queue message body. A record reported as a job must carry a decoded,
 * valid UTF-8 key with no NUL, and a job whose job_id is that key; nothing may crash or leak. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "automation.h"
#include "util.h"

static void check_record(void *arg, enum s3_event_verdict v, const char *key, const cJSON *job)
{
    (void)arg;
    if (!s3_event_verdict_name(v))
        abort();
    if (v != S3_EVENT_JOB) {
        if (job)
            abort(); /* only a job verdict carries a job */
        return;
    }
    if (!key || !job || !utf8_valid(key, strlen(key), NULL))
        abort();
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "job_id"));
    if (!id || strcmp(id, key))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct automation_settings s;
    char err[256];
    automation_settings_parse(text, &s, err, sizeof err);
    /* Fixed settings for the event half, so a key can match. */
    if (automation_settings_parse("{\"version\":1,\"bucket\":\"jobs\",\"events_queue\":\"q\",\"trigger_suffix\":"
                                  "\".sh\",\"retry\":3,\"success_string\":\"upload:\",\"working_dir\":\"$HOME/w\","
                                  "\"command_flavour\":\"shell\",\"group\":\"g\",\"max_instances\":5}",
                                  &s, err, sizeof err) == 0)
        automation_decode_event(&s, text, check_record, NULL);
    free(text);
    return 0;
}
