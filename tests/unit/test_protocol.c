/* test_protocol.c -- the wire-format layer: capped buffers, percent and base64 coding, form
 * bodies, and the model-driven Query protocol in both directions (SQS's model). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "protocol.h"
#include "util.h"

static void buf_respects_its_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    assert_int_equal(buf_puts(&b, "9"), -1);
    assert_string_equal(b.data, "12345678"); /* a failed append changes nothing */
    assert_int_equal(b.len, 8);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "42-x");
    char *s = buf_steal(&b);
    assert_string_equal(s, "42-x");
    assert_null(b.data);
    free(s);
}

static void url_decoding(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(url_decode("a%20b+c%2B", 10, out, 1), 6);
    assert_string_equal(out, "a b c+");
    assert_int_equal(url_decode("a+b", 3, out, 0), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(url_decode("%4", 2, out, 1), -1);
    assert_int_equal(url_decode("%zz", 3, out, 1), -1);
    assert_int_equal(url_decode("%", 1, out, 1), -1);
    assert_int_equal(url_decode("x%00y", 5, out, 1), 3); /* NUL kept, length tells */
    struct buf b;
    buf_init(&b, 100);
    url_encode(&b, "a b/ü~", strlen("a b/ü~"), 1);
    assert_string_equal(b.data, "a%20b/%C3%BC~");
    buf_free(&b);
}

static void base64_round_trip(void **state)
{
    (void)state;
    const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        struct buf b;
        buf_init(&b, 100);
        base64_encode(&b, cases[i], strlen(cases[i]));
        assert_string_equal(b.data ? b.data : "", want[i]);
        unsigned char raw[16];
        long n = base64_decode(want[i], strlen(want[i]), raw);
        assert_int_equal(n, (long)strlen(cases[i]));
        assert_memory_equal(raw, cases[i], (size_t)n);
        buf_free(&b);
    }
    unsigned char raw[16];
    assert_int_equal(base64_decode("Zm9", 3, raw), -1);
    assert_int_equal(base64_decode("Z=9v", 4, raw), -1);
    assert_int_equal(base64_decode("Zm9v!A==", 8, raw), -1);
}

static void hex_round_trip(void **state)
{
    (void)state;
    const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof bytes + 1];
    unsigned char raw[sizeof bytes];
    hex_encode(bytes, sizeof bytes, hex);
    assert_string_equal(hex, "00017f80abff");
    assert_int_equal(hex_decode(hex, strlen(hex), raw), (long)sizeof bytes);
    assert_memory_equal(raw, bytes, sizeof bytes);
    assert_int_equal(hex_decode("", 0, raw), 0);
    assert_int_equal(hex_decode("abc", 3, raw), -1);   /* odd length */
    assert_int_equal(hex_decode("AB", 2, raw), -1);    /* upper case: not hex_encode's spelling */
    assert_int_equal(hex_decode("0g", 2, raw), -1);
    assert_int_equal(hex_decode("a\0", 2, raw), -1);  /* NUL is not a digit */
}

static void shell_quoting(void **state)
{
    (void)state;
    const char *in[] = {"", "plain", "a b", "it's", "$HOME `x` \\ \"q\""};
    const char *want[] = {"''", "'plain'", "'a b'", "'it'\\''s'", "'$HOME `x` \\ \"q\"'"};
    for (int i = 0; i < 5; i++) {
        struct buf b;
        buf_init(&b, 100);
        shell_quote(&b, in[i]);
        assert_string_equal(b.data, want[i]);
        buf_free(&b);
    }
}

static void form_bodies(void **state)
{
    (void)state;
    struct dss_kv *kv = NULL;
    size_t n = 0;
    const char *body = "Action=SendMessage&MessageBody=a%26b%3Dc+d&&Empty=&Flag";
    assert_int_equal(form_parse(body, strlen(body), &kv, &n, 100), 0);
    assert_int_equal(n, 4);
    assert_string_equal(form_get(kv, n, "MessageBody"), "a&b=c d");
    assert_string_equal(form_get(kv, n, "Empty"), "");
    assert_string_equal(form_get(kv, n, "Flag"), "");
    assert_null(form_get(kv, n, "Missing"));
    form_free(kv, n);
    kv = NULL;
    n = 0;
    assert_int_equal(form_parse("a=%G0", 5, &kv, &n, 100), -1);
    form_free(kv, n);
    kv = NULL;
    n = 0;
    assert_int_equal(form_parse("a=1&b=2&c=3", 11, &kv, &n, 2), -1); /* too many pairs */
    form_free(kv, n);
}

static cJSON *params_from(const char *op, const char *body, struct buf *err)
{
    struct dss_kv *kv = NULL;
    size_t n = 0;
    assert_int_equal(form_parse(body, strlen(body), &kv, &n, 1000), 0);
    cJSON *p = query_params(dss_model("sqs-query"), op, kv, n, 0, err);
    form_free(kv, n);
    return p;
}

/* Member order follows the model, so compare as JSON values, not as text. */
static void assert_json_equal(const cJSON *got, const char *want_text)
{
    cJSON *want = cJSON_Parse(want_text);
    assert_non_null(want);
    if (!cJSON_Compare(got, want, 1)) {
        char *text = cJSON_PrintUnformatted(got);
        fail_msg("got %s, want %s", text, want_text);
    }
    cJSON_Delete(want);
}

static void query_maps_lists_and_nested_structures(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 1024);
    cJSON *p = params_from("CreateQueue",
                           "QueueName=q&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5"
                           "&Attribute.2.Name=DelaySeconds&Attribute.2.Value=1&Tag.1.Key=team&Tag.1.Value=hpc", &err);
    assert_non_null(p);
    assert_json_equal(p, "{\"Attributes\":{\"VisibilityTimeout\":\"5\",\"DelaySeconds\":\"1\"},"
                              "\"QueueName\":\"q\",\"tags\":{\"team\":\"hpc\"}}");
    cJSON_Delete(p);

    p = params_from("SendMessage",
                    "QueueUrl=u&MessageBody=hi&DelaySeconds=3&MessageAttribute.1.Name=n"
                    "&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=v", &err);
    assert_non_null(p);
    assert_json_equal(p, "{\"DelaySeconds\":3,\"MessageAttributes\":{\"n\":{\"DataType\":\"String\","
                              "\"StringValue\":\"v\"}},\"MessageBody\":\"hi\",\"QueueUrl\":\"u\"}");
    cJSON_Delete(p);

    p = params_from("ReceiveMessage", "QueueUrl=u&AttributeName.1=All&AttributeName.2=SentTimestamp"
                                      "&MessageAttributeName.1=a.*&MaxNumberOfMessages=10", &err);
    assert_non_null(p);
    assert_json_equal(p, "{\"AttributeNames\":[\"All\",\"SentTimestamp\"],\"MaxNumberOfMessages\":10,"
                              "\"MessageAttributeNames\":[\"a.*\"],\"QueueUrl\":\"u\"}");
    cJSON_Delete(p);

    p = params_from("SendMessageBatch", "QueueUrl=u&SendMessageBatchRequestEntry.2.Id=b"
                                        "&SendMessageBatchRequestEntry.2.MessageBody=y"
                                        "&SendMessageBatchRequestEntry.1.Id=a"
                                        "&SendMessageBatchRequestEntry.1.MessageBody=x", &err);
    assert_non_null(p);
    const cJSON *entries = cJSON_GetObjectItem(p, "Entries");
    assert_int_equal(cJSON_GetArraySize(entries), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(entries, 0), "Id")->valuestring, "a");
    cJSON_Delete(p);
    buf_free(&err);
}

static void query_rejects_values_that_do_not_fit(void **state)
{
    (void)state;
    struct buf err;
    buf_init(&err, 1024);
    assert_null(params_from("ReceiveMessage", "QueueUrl=u&MaxNumberOfMessages=ten", &err));
    assert_non_null(strstr(err.data, "MaxNumberOfMessages"));
    buf_reset(&err);
    assert_null(params_from("SendMessage", "QueueUrl=u&MessageBody=a%00b", &err));
    buf_free(&err);
}

static void query_xml_results_follow_the_model(void **state)
{
    (void)state;
    cJSON *result = cJSON_Parse("{\"Messages\":[{\"MessageId\":\"m1\",\"Body\":\"<a&b>\","
                                "\"Attributes\":{\"SentTimestamp\":\"1\"}}]}");
    struct buf out;
    buf_init(&out, 1 << 20);
    assert_int_equal(query_result_xml(dss_model("sqs-query"), "ReceiveMessage", result, "urn:x", "rid", 0, &out), 0);
    assert_non_null(strstr(out.data, "<ReceiveMessageResponse xmlns=\"urn:x\"><ReceiveMessageResult><Message>"));
    assert_non_null(strstr(out.data, "<Body>&lt;a&amp;b&gt;</Body>"));
    assert_non_null(strstr(out.data, "<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>"));
    assert_non_null(strstr(out.data, "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>"));
    cJSON_Delete(result);
    buf_reset(&out);
    assert_int_equal(query_error_xml("urn:x", "AWS.SimpleQueueService.NonExistentQueue", 1, "gone", "rid", 0, &out), 0);
    assert_non_null(strstr(out.data, "<ErrorResponse xmlns=\"urn:x\"><Error><Type>Sender</Type>"
                                     "<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>gone</Message>"));
    buf_reset(&out);
    assert_int_equal(query_error_xml(NULL, "InvalidInstanceID.NotFound", 1, "no", "rid", 1, &out), 0);
    assert_non_null(strstr(out.data, "<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"));
    assert_non_null(strstr(out.data, "<RequestID>rid</RequestID>"));
    buf_free(&out);
}

/* The models' name index (query.c) finds exactly the member cJSON's walk finds, for every
 * shape and operation of every embedded model, and nothing for a name that is not there; a
 * tree dss_model() did not make is searched the slow way. */
static void model_index_finds_what_cjson_finds(void **state)
{
    (void)state;
    static const char *const names[] = {"sqs-query", "dynamodb", "ec2", "autoscaling", "s3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cJSON *model = dss_model(names[i]), *m;
        assert_non_null(model);
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(model, "shapes"))
            assert_ptr_equal(dss_model_shape(model, m->string), m);
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(model, "operations"))
            assert_ptr_equal(dss_model_operation(model, m->string), m);
        assert_null(dss_model_shape(model, "NoSuchShapeAnywhere"));
        assert_null(dss_model_operation(model, "NoSuchOperation"));
        assert_null(dss_model_shape(model, NULL));
    }
    cJSON *own = cJSON_Parse("{\"shapes\":{\"A\":{\"type\":\"string\"}},\"operations\":{\"Op\":{}}}");
    assert_ptr_equal(dss_model_shape(own, "A"), cJSON_GetObjectItemCaseSensitive(own->child, "A"));
    assert_non_null(dss_model_operation(own, "Op"));
    assert_null(dss_model_shape(own, "B"));
    cJSON_Delete(own);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_respects_its_cap),
        cmocka_unit_test(url_decoding),
        cmocka_unit_test(base64_round_trip),
        cmocka_unit_test(hex_round_trip),
        cmocka_unit_test(shell_quoting),
        cmocka_unit_test(form_bodies),
        cmocka_unit_test(query_maps_lists_and_nested_structures),
        cmocka_unit_test(query_rejects_values_that_do_not_fit),
        cmocka_unit_test(query_xml_results_follow_the_model),
        cmocka_unit_test(model_index_finds_what_cjson_finds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
