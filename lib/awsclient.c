/* awsclient.c -- see awsclient.h.
 *
 * A request's life: queue (build body) -> attempt (sign, easy handle into the multi) -> curl
 * drives it from the loop's socket events -> finish (classify the response) -> either the
 * callback, or a retry timer on the clock that starts the next attempt.
 */
#include "awsclient.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sigv4.h"
#include "util.h"

#define MAX_RESPONSE (16u << 20)

const struct aws_service aws_sqs = {{"SQS", "sqs", "sqs"}, "sqs", AWS_PROTO_JSON, "1.0", "AmazonSQS", NULL, 0};
const struct aws_service aws_dynamodb = {{"DYNAMODB", "dynamodb", "dynamodb"}, "dynamodb", AWS_PROTO_JSON, "1.0",
                                         "DynamoDB_20120810", NULL, 1};
const struct aws_service aws_ssm = {{"SSM", "ssm", "ssm"}, "ssm", AWS_PROTO_JSON, "1.1", "AmazonSSM", NULL, 2};
const struct aws_service aws_ec2 = {{"EC2", "ec2", "ec2"}, "ec2", AWS_PROTO_QUERY, NULL, NULL, "2016-11-15", 3};
const struct aws_service aws_autoscaling = {{"AUTO_SCALING", "auto_scaling", "autoscaling"}, "autoscaling",
                                            AWS_PROTO_QUERY, NULL, NULL, "2011-01-01", 4};
static const struct aws_service *const services[AWS_NSERVICES] = {&aws_sqs, &aws_dynamodb, &aws_ssm, &aws_ec2,
                                                                  &aws_autoscaling};

struct endpoint {
    char *url, *source;
    char *host; /* host[:port] as sent in Host */
    char *path; /* path part of the URL, "/" if none */
};

struct request {
    struct aws_client *c;
    const struct aws_service *svc;
    char *op;
    char *body;
    size_t body_len;
    int attempt;
    aws_done_fn done;
    void *arg;
    CURL *easy;
    struct curl_slist *headers;
    struct buf resp;
    char query_error[256]; /* x-amzn-query-error */
    char error_type[256];  /* x-amzn-ErrorType */
    char errbuf[CURL_ERROR_SIZE];
    struct request *prev, *next; /* in flight or waiting */
    struct request *qnext;       /* waiting for a free slot (see admit) */
};

struct aws_client {
    CURLM *multi;
    const struct aws_clock *clk;
    const struct aws_loop *loop;
    struct aws_client_options opt;
    struct endpoint ep[AWS_NSERVICES];
    char *region, *access_key, *secret_key, *token;
    struct request *live; /* every request not yet completed */
    int pending;
    int in_flight; /* attempts handed to curl, not waiting for a retry */
    /* Attempts beyond 2 x max_connections wait here without an easy handle: curl would only
     * queue them itself, and an easy handle costs tens of KiB (1,000 executions waiting on
     * requests would otherwise hold 1,000 handles). */
    struct request *qhead, *qtail;
    uint64_t sent;
    uint64_t rng;
};

static double rand01(struct aws_client *c)
{
    /* xorshift64*: jitter only, not security. */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return (double)((c->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- endpoints ---- */

static int endpoint_init(struct endpoint *e, const struct aws_config *cfg, const struct aws_service *svc,
                         char *err, size_t errlen)
{
    if (aws_config_endpoint(cfg, &svc->id, &e->url, &e->source)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *p = strstr(e->url, "://");
    if (!p || (strncmp(e->url, "http://", 7) != 0 && strncmp(e->url, "https://", 8) != 0) || !p[3]) {
        snprintf(err, errlen, "endpoint %s (from %s) is not an http:// or https:// URL", e->url, e->source);
        return -1;
    }
    p += 3;
    const char *slash = strchr(p, '/');
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    e->host = strndup(p, hl);
    e->path = strdup(slash ? slash : "/");
    if (!e->host || !e->path) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Host as curl sends it: no default port. */
    size_t n = strlen(e->host);
    int https = strncmp(e->url, "https", 5) == 0;
    if ((https && n > 4 && strcmp(e->host + n - 4, ":443") == 0) ||
        (!https && n > 3 && strcmp(e->host + n - 3, ":80") == 0))
        *strrchr(e->host, ':') = '\0';
    return 0;
}

/* ---- curl callbacks ---- */

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct aws_client *c = userp;
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= AWS_IO_IN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= AWS_IO_OUT;
    return c->loop->watch(c->loop->ctx, (int)s, what == CURL_POLL_REMOVE ? 0 : ev) ? -1 : 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct aws_client *c = userp;
    c->loop->curl_timer(c->loop->ctx, timeout_ms);
    return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct request *r = userdata;
    return buf_append(&r->resp, ptr, size * nmemb) ? 0 : size * nmemb;
}

static void copy_header(char *dst, size_t dstlen, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t header_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct request *r = userdata;
    size_t n = size * nmemb;
    static const char qe[] = "x-amzn-query-error:", et[] = "x-amzn-errortype:";
    if (n > sizeof qe - 1 && strncasecmp(ptr, qe, sizeof qe - 1) == 0)
        copy_header(r->query_error, sizeof r->query_error, ptr + sizeof qe - 1, n - (sizeof qe - 1));
    else if (n > sizeof et - 1 && strncasecmp(ptr, et, sizeof et - 1) == 0)
        copy_header(r->error_type, sizeof r->error_type, ptr + sizeof et - 1, n - (sizeof et - 1));
    return n;
}

/* ---- lifecycle ---- */

struct aws_client *aws_client_new(const struct aws_config *cfg, const struct aws_client_options *opt,
                                  const struct aws_clock *clk, const struct aws_loop *loop, char *err,
                                  size_t errlen)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
            snprintf(err, errlen, "curl_global_init failed");
            return NULL;
        }
        curl_ready = 1;
    }
    if (!cfg->access_key || !cfg->secret_key) {
        snprintf(err, errlen,
                 "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                 "aws_access_key_id/aws_secret_access_key for profile %s in %s",
                 cfg->profile, cfg->credentials_file);
        return NULL;
    }
    struct aws_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->clk = clk;
    c->loop = loop;
    c->opt.max_attempts = opt && opt->max_attempts > 0 ? opt->max_attempts : 3;
    c->opt.max_connections = opt && opt->max_connections > 0 ? opt->max_connections : 32;
    c->opt.timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms : 60000;
    c->rng = (uint64_t)clk->now_ms(clk->ctx) * 6364136223846793005ULL ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    if (!c->rng)
        c->rng = 1;
    c->region = strdup(cfg->region ? cfg->region : "us-east-1");
    c->access_key = strdup(cfg->access_key);
    c->secret_key = strdup(cfg->secret_key);
    c->token = cfg->session_token ? strdup(cfg->session_token) : NULL;
    for (int i = 0; i < AWS_NSERVICES; i++)
        if (endpoint_init(&c->ep[i], cfg, services[i], err, errlen)) {
            aws_client_free(c);
            return NULL;
        }
    c->multi = curl_multi_init();
    if (!c->multi || !c->region || !c->access_key || !c->secret_key) {
        snprintf(err, errlen, "out of memory");
        aws_client_free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->opt.max_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->opt.max_connections);
    return c;
}

static void request_free(struct request *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    buf_free(&r->resp);
    free(r->op);
    free(r->body);
    free(r);
}

static void unlink_request(struct request *r)
{
    struct aws_client *c = r->c;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    c->pending--;
}

void aws_client_free(struct aws_client *c)
{
    if (!c)
        return;
    while (c->live) {
        struct request *r = c->live;
        c->live = r->next;
        r->prev = r->next = NULL;
        c->pending--;
        if (r->easy && c->multi)
            curl_multi_remove_handle(c->multi, r->easy);
        request_free(r);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    for (int i = 0; i < AWS_NSERVICES; i++) {
        free(c->ep[i].url);
        free(c->ep[i].source);
        free(c->ep[i].host);
        free(c->ep[i].path);
    }
    free(c->region);
    free(c->access_key);
    free(c->secret_key);
    free(c->token);
    free(c);
}

int aws_client_pending(const struct aws_client *c)
{
    return c->pending;
}

int aws_client_in_flight(const struct aws_client *c)
{
    return c->in_flight;
}

uint64_t aws_client_sent(const struct aws_client *c)
{
    return c->sent;
}

const char *aws_client_endpoint(const struct aws_client *c, const struct aws_service *svc, const char **source)
{
    if (source)
        *source = c->ep[svc->index].source;
    return c->ep[svc->index].url;
}

const char *aws_client_region(const struct aws_client *c)
{
    return c->region;
}

/* ---- one attempt ---- */

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
    char line[4096];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return -1;
    *l = n;
    return 0;
}

static int start_attempt(struct request *r)
{
    struct aws_client *c = r->c;
    const struct endpoint *ep = &c->ep[r->svc->index];
    char amz_date[17], hash[65], target[256], ctype[64];
    sigv4_amz_date(c->clk->now_ms(c->clk->ctx), amz_date);
    sha256_hex(r->body, r->body_len, hash);
    if (r->svc->protocol == AWS_PROTO_JSON) {
        snprintf(ctype, sizeof ctype, "application/x-amz-json-%s", r->svc->json_version);
        snprintf(target, sizeof target, "%s.%s", r->svc->target_prefix, r->op);
    } else {
        snprintf(ctype, sizeof ctype, "application/x-www-form-urlencoded; charset=utf-8");
    }
    struct sigv4_header h[5];
    size_t nh = 0;
    h[nh++] = (struct sigv4_header){"Host", ep->host};
    h[nh++] = (struct sigv4_header){"X-Amz-Date", amz_date};
    h[nh++] = (struct sigv4_header){"Content-Type", ctype};
    if (r->svc->protocol == AWS_PROTO_JSON)
        h[nh++] = (struct sigv4_header){"X-Amz-Target", target};
    if (c->token)
        h[nh++] = (struct sigv4_header){"X-Amz-Security-Token", c->token};
    struct sigv4_request sr = {"POST", ep->path, NULL, h, nh, hash, 1};
    struct buf auth;
    buf_init(&auth, 4096);
    if (sigv4_authorization(&auth, &sr, c->access_key, c->secret_key, c->region, r->svc->signing_name, amz_date)) {
        buf_free(&auth);
        return -1;
    }
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    int rc = 0;
    for (size_t i = 0; i < nh && !rc; i++)
        rc = add_header(&r->headers, h[i].name, h[i].value);
    rc = rc || add_header(&r->headers, "Authorization", auth.data) || add_header(&r->headers, "Expect", "");
    buf_free(&auth);
    if (rc)
        return -1;

    if (!r->easy)
        r->easy = curl_easy_init();
    else
        curl_easy_reset(r->easy);
    if (!r->easy)
        return -1;
    buf_reset(&r->resp);
    r->query_error[0] = r->error_type[0] = r->errbuf[0] = '\0';
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, ep->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->opt.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dss-scheduler/" DSS_VERSION);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
        return -1;
    c->in_flight++;
    r->attempt++;
    c->sent++;
    return 0;
}

/* Attempts handed to curl at most. With one connection (the simulated clock's one request at a
 * time) curl gets one attempt at a time: two would let curl choose which of them takes the
 * connection next, by wall-clock timing, and the order of requests would differ from run to run. */
static int curl_cap(const struct aws_client *c)
{
    return c->opt.max_connections == 1 ? 1 : 2 * c->opt.max_connections;
}

/* Starts r's next attempt now, or queues it until fewer attempts are in flight. */
static int admit(struct request *r)
{
    struct aws_client *c = r->c;
    if (c->in_flight >= curl_cap(c) || c->qhead) { /* behind the queue: first come, first sent */
        r->qnext = NULL;
        if (c->qtail)
            c->qtail->qnext = r;
        else
            c->qhead = r;
        c->qtail = r;
        return 0;
    }
    return start_attempt(r);
}

static void fail_start(struct request *r);

/* Starts queued attempts while there is room. */
static void admit_queued(struct aws_client *c)
{
    while (c->qhead && c->in_flight < curl_cap(c)) {
        struct request *r = c->qhead;
        c->qhead = r->qnext;
        if (!c->qhead)
            c->qtail = NULL;
        r->qnext = NULL;
        if (start_attempt(r) != 0)
            fail_start(r);
    }
}

/* ---- completion ---- */

static const char *const retryable_codes[] = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", "RequestTimeout",
    "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable", "NetworkError",
    "AWS.SimpleQueueService.RequestThrottled", "KMSThrottlingException",
};

int aws_error_is_retryable(long status, const char *code)
{
    if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
        return 1;
    if (!code)
        return 0;
    for (size_t i = 0; i < sizeof retryable_codes / sizeof *retryable_codes; i++)
        if (strcmp(code, retryable_codes[i]) == 0)
            return 1;
    return 0;
}

int64_t aws_retry_delay_ms(int attempt, double r)
{
    double cap = 20000.0, d = 1000.0;
    for (int i = 2; i < attempt && d < cap; i++)
        d *= 2;
    d *= r;
    return (int64_t)(d < cap ? d : cap);
}

/* Parses an error body into code and message (both truncated to their buffers). */
static void parse_error(struct request *r, long status, xmlDocPtr xml, cJSON *json, char *code, size_t cl,
                        char *msg, size_t ml)
{
    code[0] = msg[0] = '\0';
    if (r->query_error[0]) { /* SQS JSON: "AWS.SimpleQueueService.NonExistentQueue;Sender" */
        snprintf(code, cl, "%.*s", (int)strcspn(r->query_error, ";"), r->query_error);
    }
    if (json) {
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "__type"));
        if (!t)
            t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "code"));
        if (!code[0] && t) {
            const char *hash = strrchr(t, '#');
            snprintf(code, cl, "%s", hash ? hash + 1 : t);
        }
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "message"));
        if (!m)
            m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "Message"));
        if (m)
            snprintf(msg, ml, "%s", m);
    } else if (xml) {
        /* <ErrorResponse><Error><Code> (Query) or <Response><Errors><Error><Code> (EC2). */
        xmlNodePtr root = xmlDocGetRootElement(xml);
        xmlNodePtr err = aws_xml_child(root, "Error");
        if (!err)
            err = aws_xml_path(root, "Errors/Error");
        if (err) {
            if (!code[0])
                aws_xml_text(err, "Code", code, cl);
            aws_xml_text(err, "Message", msg, ml);
        }
    }
    if (!code[0] && r->error_type[0])
        snprintf(code, cl, "%.*s", (int)strcspn(r->error_type, ":"), r->error_type);
    if (!code[0])
        snprintf(code, cl, "HTTP%ld", status);
}

static void retry_fire(void *arg);

static void finish(struct request *r, CURLcode cc)
{
    struct aws_client *c = r->c;
    const struct endpoint *ep = &c->ep[r->svc->index];
    struct aws_response res = {0};
    char code[256] = "", msg[1024] = "";
    cJSON *json = NULL;
    xmlDocPtr xml = NULL;
    long status = 0;
    c->in_flight--;
    if (cc == CURLE_OK)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    res.status = status;
    res.body = r->resp.data ? r->resp.data : "";
    res.body_len = r->resp.len;
    res.attempts = r->attempt;
    res.endpoint = ep->url;
    res.endpoint_source = ep->source;
    if (cc != CURLE_OK) {
        snprintf(code, sizeof code, "NetworkError");
        snprintf(msg, sizeof msg, "cannot reach %s (endpoint from %s): %s", ep->url, ep->source,
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
    } else if (r->svc->protocol == AWS_PROTO_JSON) {
        if (r->resp.len)
            json = cJSON_ParseWithLength(r->resp.data, r->resp.len);
        if (status / 100 != 2)
            parse_error(r, status, NULL, json, code, sizeof code, msg, sizeof msg);
        else if (!json && r->resp.len) {
            snprintf(code, sizeof code, "SerializationException");
            snprintf(msg, sizeof msg, "%s answered %s with a body that is not JSON", ep->url, r->op);
        }
    } else {
        if (r->resp.len)
            xml = xmlReadMemory(r->resp.data, (int)r->resp.len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (status / 100 != 2) {
            parse_error(r, status, xml, NULL, code, sizeof code, msg, sizeof msg);
        } else if (!xml) {
            snprintf(code, sizeof code, "SerializationException");
            snprintf(msg, sizeof msg, "%s answered %s with a body that is not XML", ep->url, r->op);
        }
    }
    if (code[0] && aws_error_is_retryable(status, code) && r->attempt < c->opt.max_attempts) {
        cJSON_Delete(json);
        xmlFreeDoc(xml);
        curl_multi_remove_handle(c->multi, r->easy);
        int64_t due = c->clk->now_ms(c->clk->ctx) + aws_retry_delay_ms(r->attempt + 1, rand01(c));
        log_debug("%s %s: %s (attempt %d), retrying", r->svc->signing_name, r->op, code, r->attempt);
        if (c->loop->at(c->loop->ctx, due, retry_fire, r) == 0)
            return;
        /* No timer: report the error now. */
    }
    if (code[0]) {
        res.error = code;
        res.message = msg;
    } else {
        res.json = json;
        res.xml = xml;
    }
    curl_multi_remove_handle(c->multi, r->easy);
    unlink_request(r);
    r->done(r->arg, &res);
    cJSON_Delete(json);
    xmlFreeDoc(xml);
    request_free(r);
}

static void fail_start(struct request *r)
{
    {
        struct aws_response res = {0};
        res.error = "ClientError";
        res.message = "cannot start a retry (out of memory)";
        res.attempts = r->attempt;
        res.endpoint = r->c->ep[r->svc->index].url;
        res.endpoint_source = r->c->ep[r->svc->index].source;
        res.body = "";
        unlink_request(r);
        r->done(r->arg, &res);
        request_free(r);
    }
}

static void retry_fire(void *arg)
{
    struct request *r = arg;
    if (admit(r) != 0)
        fail_start(r);
}

static void check_done(struct aws_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct request *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish(r, m->data.result);
    }
    admit_queued(c);
}

void aws_client_socket_event(struct aws_client *c, int fd, int events)
{
    int running, flags = 0;
    if (events & AWS_IO_IN)
        flags |= CURL_CSELECT_IN;
    if (events & AWS_IO_OUT)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

void aws_client_curl_timeout(struct aws_client *c)
{
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* ---- queueing ---- */

static int submit(struct aws_client *c, const struct aws_service *svc, const char *op, char *body, size_t len,
                  aws_done_fn done, void *arg)
{
    struct request *r = calloc(1, sizeof *r);
    if (!r) {
        free(body);
        return -1;
    }
    r->c = c;
    r->svc = svc;
    r->op = strdup(op);
    r->body = body;
    r->body_len = len;
    r->done = done;
    r->arg = arg;
    buf_init(&r->resp, MAX_RESPONSE);
    if (!r->op || admit(r) != 0) {
        if (r->easy)
            curl_multi_remove_handle(c->multi, r->easy);
        request_free(r);
        return -1;
    }
    r->next = c->live;
    if (c->live)
        c->live->prev = r;
    c->live = r;
    c->pending++;
    return 0;
}

int aws_call_json(struct aws_client *c, const struct aws_service *svc, const char *operation, cJSON *params,
                  aws_done_fn done, void *arg)
{
    char *body = params ? cJSON_PrintUnformatted(params) : strdup("{}");
    cJSON_Delete(params);
    if (!body)
        return -1;
    return submit(c, svc, operation, body, strlen(body), done, arg);
}

void aws_query_init(struct aws_query *q)
{
    buf_init(&q->body, 1 << 20);
}

int aws_query_add(struct aws_query *q, const char *key, const char *value)
{
    if (buf_puts(&q->body, "&") || url_encode(&q->body, key, strlen(key), 0) || buf_puts(&q->body, "="))
        return -1;
    return url_encode(&q->body, value, strlen(value), 0);
}

void aws_query_free(struct aws_query *q)
{
    buf_free(&q->body);
}

int aws_call_query(struct aws_client *c, const struct aws_service *svc, const char *action, struct aws_query *q,
                   aws_done_fn done, void *arg)
{
    struct buf b;
    buf_init(&b, (1 << 20) + 256);
    int rc = buf_printf(&b, "Action=%s&Version=%s%s", action, svc->api_version, q && q->body.data ? q->body.data : "");
    if (q)
        aws_query_free(q);
    if (rc) {
        buf_free(&b);
        return -1;
    }
    size_t len = b.len;
    return submit(c, svc, action, buf_steal(&b), len, done, arg);
}

/* ---- XML helpers ---- */

static int is_elem(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr aws_xml_child(xmlNodePtr parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNodePtr n = parent->children; n; n = n->next)
        if (is_elem(n, name))
            return n;
    return NULL;
}

xmlNodePtr aws_xml_next(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
        if (is_elem(n, name))
            return n;
    return NULL;
}

xmlNodePtr aws_xml_path(xmlNodePtr n, const char *path)
{
    char step[128];
    while (n && *path) {
        size_t l = strcspn(path, "/");
        if (l >= sizeof step)
            return NULL;
        memcpy(step, path, l);
        step[l] = '\0';
        n = aws_xml_child(n, step);
        path += l + (path[l] == '/');
    }
    return n;
}

int aws_xml_text(xmlNodePtr n, const char *path, char *out, size_t outlen)
{
    xmlNodePtr t = *path ? aws_xml_path(n, path) : n;
    if (!t || outlen == 0)
        return -1;
    xmlChar *s = xmlNodeGetContent(t);
    snprintf(out, outlen, "%s", s ? (const char *)s : "");
    xmlFree(s);
    return 0;
}

cJSON *aws_sqs_attributes_params(const char *queue_url, const char *const *names)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", queue_url);
    cJSON *list = cJSON_AddArrayToObject(p, "AttributeNames");
    for (; *names; names++)
        cJSON_AddItemToArray(list, cJSON_CreateString(*names));
    return p;
}
