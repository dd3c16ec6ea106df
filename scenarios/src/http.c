/* http.c -- see http.h. */
#include "http.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"
#include "util.h"

#define RESP_MAX (256u << 20)

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct http *h = arg;
    return buf_append(&h->resp, p, size * n) ? 0 : size * n;
}

int http_init(struct http *h, const char *base, const char *region)
{
    memset(h, 0, sizeof *h);
    buf_init(&h->resp, RESP_MAX);
    snprintf(h->base, sizeof h->base, "%s", base);
    snprintf(h->region, sizeof h->region, "%s", region ? region : "us-east-1");
    h->timeout_ms = 60000;
    h->curl = curl_easy_init();
    return h->curl ? 0 : -1;
}

void http_cleanup(struct http *h)
{
    if (h->curl)
        curl_easy_cleanup(h->curl);
    buf_free(&h->resp);
    h->curl = NULL;
}

int http_do(struct http *h, const char *method, const char *path_query, const char *service, const char *const *extra,
            const void *body, size_t len)
{
    CURL *c = h->curl;
    struct curl_slist *hdrs = NULL;
    char url[2048], date[20], hash[65], host[128], auth_hdr[1024];
    int rc = -1;
    h->status = 0;
    h->err[0] = '\0';
    buf_reset(&h->resp);
    if (snprintf(url, sizeof url, "%s%s", h->base, path_query) >= (int)sizeof url) {
        snprintf(h->err, sizeof h->err, "URL too long");
        return -1;
    }
    const char *hostp = strstr(h->base, "://");
    snprintf(host, sizeof host, "%s", hostp ? hostp + 3 : h->base);
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
    sha256_hex(body ? body : "", body ? len : 0, hash);
    struct sigv4_header sh[16];
    size_t nh = 0;
    char date_hdr[64], hash_hdr[100];
    snprintf(date_hdr, sizeof date_hdr, "X-Amz-Date: %s", date);
    snprintf(hash_hdr, sizeof hash_hdr, "X-Amz-Content-SHA256: %s", hash);
    hdrs = curl_slist_append(hdrs, date_hdr);
    hdrs = curl_slist_append(hdrs, hash_hdr);
    hdrs = curl_slist_append(hdrs, "Expect:");
    sh[nh++] = (struct sigv4_header){"host", host};
    sh[nh++] = (struct sigv4_header){"x-amz-date", date};
    sh[nh++] = (struct sigv4_header){"x-amz-content-sha256", hash};
    /* Extra headers: "Name: value", signed as given. */
    char names[8][64];
    for (int i = 0; extra && extra[i] && nh < 16 && i < 8; i++) {
        hdrs = curl_slist_append(hdrs, extra[i]);
        const char *colon = strchr(extra[i], ':');
        if (!colon)
            continue;
        snprintf(names[i], sizeof names[i], "%.*s", (int)(colon - extra[i]), extra[i]);
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        sh[nh++] = (struct sigv4_header){names[i], v};
    }
    if (service) {
        char path[1536];
        const char *q = strchr(path_query, '?');
        snprintf(path, sizeof path, "%.*s", q ? (int)(q - path_query) : (int)strlen(path_query), path_query);
        struct sigv4_request req = {method, path, q ? q + 1 : NULL, sh, nh, hash, strcmp(service, "s3") != 0};
        struct buf auth;
        buf_init(&auth, 4096);
        if (sigv4_authorization(&auth, &req, "test", "test", h->region, service, date) == 0) {
            snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", auth.data);
            hdrs = curl_slist_append(hdrs, auth_hdr);
        }
        buf_free(&auth);
    }
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body || !strcmp(method, "POST") || !strcmp(method, "PUT")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    }
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK) {
        snprintf(h->err, sizeof h->err, "%s %.300s: %s", method, url, curl_easy_strerror(cr));
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
        rc = 0;
    }
    curl_slist_free_all(hdrs);
    return rc;
}

cJSON *aws_json(struct http *h, const char *service, const char *json_version, const char *target, cJSON *params)
{
    char *body = cJSON_PrintUnformatted(params);
    cJSON_Delete(params);
    if (!body) {
        snprintf(h->err, sizeof h->err, "out of memory");
        return NULL;
    }
    char ct[64], tg[160];
    snprintf(ct, sizeof ct, "Content-Type: application/x-amz-json-%s", json_version);
    snprintf(tg, sizeof tg, "X-Amz-Target: %s", target);
    const char *extra[] = {ct, tg, NULL};
    int rc = http_do(h, "POST", "/", service, extra, body, strlen(body));
    free(body);
    if (rc)
        return NULL;
    cJSON *doc = h->resp.len ? cJSON_ParseWithLength(h->resp.data, h->resp.len) : cJSON_CreateObject();
    if (h->status != 200) {
        const char *type = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "__type")) : NULL;
        const char *msg = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "message")) : NULL;
        if (!msg && doc)
            msg = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "Message"));
        const char *hash = type ? strrchr(type, '#') : NULL;
        snprintf(h->err, sizeof h->err, "%s: %s: %s (HTTP %ld)", target, hash ? hash + 1 : type ? type : "error",
                 msg ? msg : "", h->status);
        cJSON_Delete(doc);
        return NULL;
    }
    if (!doc)
        snprintf(h->err, sizeof h->err, "%s: the response is not JSON", target);
    return doc;
}

char *xml_find_text(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr n = node; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (!strcmp((const char *)n->name, name))
            return (char *)xmlNodeGetContent(n);
        char *t = xml_find_text(n->children, name);
        if (t)
            return t;
    }
    return NULL;
}

xmlDocPtr aws_query(struct http *h, const char *service, const char *version, const char *action,
                    const char *const *params)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    buf_printf(&b, "Action=%s&Version=%s", action, version);
    for (int i = 0; params && params[i]; i++) {
        const char *eq = strchr(params[i], '=');
        if (!eq)
            continue;
        buf_puts(&b, "&");
        url_encode(&b, params[i], (size_t)(eq - params[i]), 0);
        buf_puts(&b, "=");
        url_encode(&b, eq + 1, strlen(eq + 1), 0);
    }
    const char *extra[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
    int rc = http_do(h, "POST", "/", service, extra, b.data, b.len);
    buf_free(&b);
    if (rc)
        return NULL;
    xmlDocPtr doc = h->resp.len ? xmlReadMemory(h->resp.data, (int)h->resp.len, NULL, NULL,
                                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                                : NULL;
    if (h->status != 200) {
        xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
        char *code = root ? xml_find_text(root, "Code") : NULL, *msg = root ? xml_find_text(root, "Message") : NULL;
        snprintf(h->err, sizeof h->err, "%s: %s: %s (HTTP %ld)", action, code ? code : "error", msg ? msg : "",
                 h->status);
        xmlFree(code);
        xmlFree(msg);
        if (doc)
            xmlFreeDoc(doc);
        return NULL;
    }
    if (!doc)
        snprintf(h->err, sizeof h->err, "%s: the response is not XML", action);
    return doc;
}

cJSON *http_control(struct http *h, const char *method, const char *path_query)
{
    if (http_do(h, method, path_query, NULL, NULL, NULL, 0))
        return NULL;
    cJSON *doc = h->resp.len ? cJSON_ParseWithLength(h->resp.data, h->resp.len) : cJSON_CreateObject();
    if (h->status != 200) {
        const char *msg = doc ? cJSON_GetStringValue(cJSON_GetObjectItem(doc, "message")) : NULL;
        snprintf(h->err, sizeof h->err, "%s %s: HTTP %ld %s", method, path_query, h->status,
                 msg ? msg : (h->resp.data ? h->resp.data : ""));
        cJSON_Delete(doc);
        return NULL;
    }
    if (!doc)
        snprintf(h->err, sizeof h->err, "%s %s: the response is not JSON", method, path_query);
    return doc;
}
