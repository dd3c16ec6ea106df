/* fuzz_ec2_query -- EC2 Query input: a form body parsed in the EC2 dialect against the
 * DescribeInstances/RunInstances model, then its filters checked and matched. Must never
 * crash, leak or hang, whatever the pairs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec2/ec2.h"
#include "protocol.h"

static const char *const allowed[] = {"instance-id", "instance-state-name", "tag:", "tag-key", "tag-value", NULL};

static const char *getter(void *ctx, const char *name, int i)
{
    (void)ctx;
    return i == 0 && strlen(name) < 8 ? "running" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    const char *op = data[0] & 1 ? "RunInstances" : "DescribeInstances";
    struct dss_kv *kv = NULL;
    size_t n = 0;
    if (form_parse((const char *)data + 1, size - 1, &kv, &n, 500) == 0) {
        struct buf err;
        buf_init(&err, 4096);
        cJSON *p = query_params(dss_model("ec2"), op, kv, n, 1, &err);
        buf_free(&err);
        struct ec2_filters fs;
        char msg[256];
        if (p && ec2_filters_parse(cJSON_GetObjectItem(p, "Filters"), allowed, &fs, msg, sizeof msg) == 0) {
            ec2_filters_match(&fs, getter, NULL);
            ec2_filters_free(&fs);
        }
        cJSON_Delete(p);
    }
    form_free(kv, n);
    return 0;
}
