/* s3rest.c -- see s3rest.h. */
#include "s3rest.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsclient.h"
#include "sigv4.h"
#include "util.h"

#define S3_BODY_MAX (64u << 20) /* the listings and documents provision reads are small */

static const struct aws_service_id s3_id = {"S3", "s3", "s3"};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_append(b, p, size * n) ? 0 : size * n;
}

/* Splits "scheme://host[:port][/path]" into its scheme and host[:port] (path dropped). */
static int split_url(const char *url, char *scheme, size_t sn, char *host, size_t hn)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return -1;
    snprintf(scheme, sn, "%.*s", (int)(sep - url), url);
    const char *h = sep + 3, *end = strchr(h, '/');
    snprintf(host, hn, "%.*s", (int)(end ? end - h : (long)strlen(h)), h);
    return 0;
}

/* The error document's Code and Message; a body-less answer (HEAD) gets the code boto3 shows. */
static void read_error(struct s3_reply *r)
{
    snprintf(r->code, sizeof r->code, "%s", r->status == 404 ? "NotFound" : r->status == 403 ? "Forbidden"
                                             : r->status == 301 ? "PermanentRedirect" : "HTTP error");
    snprintf(r->message, sizeof r->message, "HTTP %ld", r->status);
    if (!r->body.len)
        return;
    xmlDocPtr doc = xmlReadMemory(r->body.data, (int)r->body.len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
                                  XML_PARSE_NOWARNING);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root) {
        aws_xml_text(root, "Code", r->code, sizeof r->code);
        aws_xml_text(root, "Message", r->message, sizeof r->message);
    }
    xmlFreeDoc(doc);
}

int s3_request(const struct aws_config *cfg, int64_t now_ms, const char *method, const char *bucket,
               const char *query, const char *body, size_t len, const char *header_name,
               const char *header_value, struct s3_reply *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->body, S3_BODY_MAX);
    char *endpoint = NULL, *source = NULL, scheme[16], host[512], path[1200], url[2048];
    const char *region = cfg->region ? cfg->region : "us-east-1";
    int rc = -1;
    if (aws_config_endpoint(cfg, &s3_id, &endpoint, &source) || split_url(endpoint, scheme, sizeof scheme, host,
                                                                          sizeof host)) {
        snprintf(out->code, sizeof out->code, "ClientError");
        snprintf(out->message, sizeof out->message, "no usable S3 endpoint");
        goto out;
    }
    /* The real endpoint takes the bucket in the host name; a configured one in the path. */
    int virtual_host = *bucket && source && !strncmp(source, "default regional endpoint", 25);
    if (virtual_host) {
        char h[sizeof host];
        snprintf(h, sizeof h, "%.63s.%.440s", bucket, host);
        memcpy(host, h, sizeof host);
        snprintf(path, sizeof path, "/");
    } else {
        snprintf(path, sizeof path, "/%s", bucket);
    }
    snprintf(url, sizeof url, "%s://%s%s%s%s", scheme, host, path, query ? "?" : "", query ? query : "");
    char amz_date[17], hash[65];
    sigv4_amz_date(now_ms, amz_date);
    sha256_hex(body ? body : "", body ? len : 0, hash);
    struct sigv4_header h[6];
    size_t nh = 0;
    h[nh++] = (struct sigv4_header){"Host", host};
    h[nh++] = (struct sigv4_header){"X-Amz-Date", amz_date};
    h[nh++] = (struct sigv4_header){"X-Amz-Content-SHA256", hash};
    if (cfg->session_token)
        h[nh++] = (struct sigv4_header){"X-Amz-Security-Token", cfg->session_token};
    if (header_name)
        h[nh++] = (struct sigv4_header){header_name, header_value};
    struct sigv4_request sr = {method, path, query, h, nh, hash, 0};
    struct buf auth;
    buf_init(&auth, 4096);
    if (sigv4_authorization(&auth, &sr, cfg->access_key ? cfg->access_key : "", cfg->secret_key ? cfg->secret_key : "",
                            region, "s3", amz_date)) {
        buf_free(&auth);
        snprintf(out->code, sizeof out->code, "ClientError");
        snprintf(out->message, sizeof out->message, "cannot sign the request");
        goto out;
    }
    struct curl_slist *headers = NULL;
    char line[4096];
    for (size_t i = 0; i < nh; i++) {
        snprintf(line, sizeof line, "%s: %s", h[i].name, h[i].value);
        headers = curl_slist_append(headers, line);
    }
    snprintf(line, sizeof line, "Authorization: %s", auth.data);
    headers = curl_slist_append(headers, line);
    headers = curl_slist_append(headers, "Expect:");
    /* Not curl's default form type: an emulator would take a form POST for the Query protocol. */
    headers = curl_slist_append(headers, body ? "Content-Type: application/xml" : "Content-Type:");
    buf_free(&auth);
    CURL *e = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "dss-scheduler/" DSS_VERSION);
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        snprintf(out->code, sizeof out->code, "NetworkError");
        snprintf(out->message, sizeof out->message, "%s %.600s (endpoint from %.200s): %.200s", method, url, source,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &out->status);
        if (out->status >= 200 && out->status < 300)
            rc = 0;
        else
            read_error(out);
    }
    curl_easy_cleanup(e);
    curl_slist_free_all(headers);
out:
    free(endpoint);
    free(source);
    return rc;
}

void s3_reply_free(struct s3_reply *r)
{
    buf_free(&r->body);
}
