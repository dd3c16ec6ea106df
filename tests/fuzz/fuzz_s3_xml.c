/* fuzz_s3_xml.c -- the XML request bodies S3 accepts (CreateBucket, DeleteObjects,
 * CompleteMultipartUpload, PutBucketNotificationConfiguration, PutBucketTagging): the first
 * byte picks the operation, the rest is the body, parsed by expat and read by the model's
 * shapes. A body that parses is written back out as XML by the same model. */
#include <stdint.h>
#include <stdlib.h>

#include "s3/s3.h"

static const char *const ops[] = {
    "CreateBucket", "DeleteObjects", "CompleteMultipartUpload", "PutBucketNotificationConfiguration",
    "PutBucketTagging",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *op = ops[data[0] % (sizeof ops / sizeof ops[0])];
    const cJSON *model = s3_model();
    const cJSON *ref = restxml_payload_ref(model, op, 0);
    struct buf err, out;
    buf_init(&err, 4096);
    buf_init(&out, 1 << 24);
    cJSON *v = restxml_parse(model, ref, (const char *)data + 1, size - 1, &err);
    if (!v && !err.data)
        abort(); /* a refusal always says why */
    if (v && data[0] % 5 == 3) {
        /* A notification configuration is also GetBucketNotificationConfiguration's answer. */
        restxml_body(model, "GetBucketNotificationConfiguration", v, "NotificationConfiguration", &out);
    }
    cJSON_Delete(v);
    buf_free(&err);
    buf_free(&out);
    return 0;
}
