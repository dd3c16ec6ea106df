/* fuzz_json_dispatch.c -- the JSON-protocol dispatch of dss-emulator (SQS JSON, DynamoDB, SSM):
 * X-Amz-Target -> service and operation, body -> parameters, the operation run in one
 * transaction against a real SQLite store, its result or error rendered in the JSON protocol.
 * Every input goes through dss_server_call_json() (server.h), which is the HTTP path's own
 * parse/run/render code minus the connection, so nothing of the dispatch is copied here.
 *
 * Input: the first line is the X-Amz-Target value, the rest is the body.
 *
 * One store per fuzzer process, opened once in a temporary directory (real SQLite files,
 * removed at exit): state built by one input is seen by the next, so the queues, tables and
 * parameters the seed corpus creates get sent to, queried and deleted by later inputs. Calls
 * that would park (ReceiveMessage with WaitTimeSeconds, the SSM agent's GetMessages) answer at
 * once, as if their wait had run out (dss_server_call_json's contract). EC2 and Auto Scaling
 * (instance supervisor threads, worker processes) are neither started nor reachable: they have
 * no JSON target.
 *
 * Checked on every answer (abort() on a breach; ASan/UBSan/LSan watch the rest):
 *  - the body is exactly one JSON object, parsed strictly (json_body_parse: RFC 8259);
 *  - it is valid UTF-8, whatever the input (bodies that are not are refused, and the emulator
 *    must neither echo a header's stray bytes nor cut a character in two);
 *  - 200: a result; anything else: an error whose "__type" is NAMESPACE#Code and "message" a
 *    string, where Code and the HTTP status are one row of the error table (errors.h) and the
 *    namespace is that row's or a JSON service's; and it is the client's (4xx): no input may
 *    make the emulator fail on its own side (5xx).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "db.h"
#include "errors.h"
#include "protocol.h"
#include "server.h"
#include "service.h"
#include "util.h"

static char data_dir[4096];
static int verbose; /* FUZZ_JSON_DISPATCH_VERBOSE=1: print each call and its answer (for replaying seeds) */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void store_close(void)
{
    dss_server_stop_json_services();
    dss_db_close();
    nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A broken invariant: libFuzzer saves the input and exits without running atexit handlers, so
 * the store goes first. (A sanitizer's finding leaves it behind in $TMPDIR.) */
static void fail(const char *what, int status, const struct buf *out)
{
    fprintf(stderr, "fuzz_json_dispatch: %s (HTTP %d): %.*s\n", what, status, (int)out->len,
            out->data ? out->data : "");
    nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_threshold = LOG_ERROR;
    verbose = getenv("FUZZ_JSON_DISPATCH_VERBOSE") != NULL;
    const char *tmp = getenv("TMPDIR");
    snprintf(data_dir, sizeof data_dir, "%s/dss-fuzz-json-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(data_dir)) {
        perror("fuzz_json_dispatch: mkdtemp");
        abort();
    }
    dss_clock_init(1.0);
    if (dss_db_open(data_dir, 0) != 0 || dss_server_start_json_services(data_dir) != 0) {
        fprintf(stderr, "fuzz_json_dispatch: cannot open the store in %s\n", data_dir);
        nftw(data_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        abort();
    }
    atexit(store_close);
    return 0;
}

/* 1 if ns ("com.amazonaws.sqs#") may carry error e: the row's own namespace, else a JSON
 * service's or the coral framework's. */
static int namespace_allowed(const char *ns, size_t len, const struct dss_error_info *e)
{
    if (e->json_ns)
        return strlen(e->json_ns) == len && strncmp(e->json_ns, ns, len) == 0;
    if (strlen(CORAL_SERVICE) == len && strncmp(CORAL_SERVICE, ns, len) == 0)
        return 1;
    for (int i = 0; dss_services[i]; i++) {
        const char *s = dss_services[i]->json_ns;
        if (dss_services[i]->json_target && s && strlen(s) == len && strncmp(s, ns, len) == 0)
            return 1;
    }
    return 0;
}

/* 1 if "__type" and status are one row of the error table, a client error. */
static int error_from_table(const char *type, int status)
{
    const char *hash = strrchr(type, '#');
    if (!hash || status < 400 || status > 499)
        return 0;
    for (int e = 0; e < DSS_E__COUNT; e++) {
        const struct dss_error_info *info = dss_error_info((enum dss_error)e);
        if (info->status == status && strcmp(info->code, hash + 1) == 0 &&
            namespace_allowed(type, (size_t)(hash + 1 - type), info))
            return 1;
    }
    return 0;
}

static void check_answer(int status, const struct buf *out)
{
    if (!utf8_valid(out->data, out->len, NULL))
        fail("the answer is not UTF-8", status, out);
    int nul = 0;
    cJSON *v = out->len ? json_body_parse(out->data, out->len, &nul) : NULL;
    if (!cJSON_IsObject(v))
        fail("the answer is not one JSON object", status, out);
    if (status != 200) {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "__type"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "message"));
        if (!type || !msg || !error_from_table(type, status))
            fail("the error is not a client error of the error table", status, out);
    }
    cJSON_Delete(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t target_len = nl ? (size_t)(nl - p) : size;
    char *target = strndup(p, target_len); /* a NUL ends it, as it would end a header value */
    const char *body = nl ? nl + 1 : p + size;
    size_t body_len = size - (size_t)(body - p);
    struct buf out;
    buf_init(&out, SIZE_MAX);
    int status = 0;
    if (!target || dss_server_call_json(target, body, body_len, &status, &out) != 0)
        fail("no answer", status, &out); /* no fault is armed, memory is not limited: every call answers */
    if (verbose)
        fprintf(stderr, "%s -> %d %.*s\n", target, status, (int)out.len, out.data ? out.data : "");
    check_answer(status, &out);
    buf_free(&out);
    free(target);
    return 0;
}
