/* restxml.c -- the rest-xml protocol of S3 (API 2006-03-01), driven by the botocore model
 * embedded from emulator/models/s3.json, so no operation's headers or XML are spelled out by
 * hand: this is botocore's RestXMLSerializer and RestXMLParser run backwards.
 *
 * Input: every member of the operation's input shape is read from where the model says it
 * travels -- the URI (Bucket, Key), the query string, a header, a header prefix
 * (x-amz-meta-*) or the XML payload -- and converted to the member's type (numbers, booleans,
 * timestamps as epoch seconds). XML is parsed with expat into a small tree and then read by
 * shape: structure members by their serialized names, flattened and wrapped lists, maps.
 * Output: header members become response headers (timestamps as HTTP dates), the rest become
 * the XML body (timestamps as ISO 8601), with the same naming rules.
 *
 * Limits: an XML body has at most 64 levels and 100,000 elements; a DOCTYPE (and so any
 * entity) is refused, since no S3 body has one.
 */
#include <expat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3.h"
#include "util.h"
#include "xmlwrite.h"

#define XML_DEPTH_MAX 64
#define XML_NODES_MAX 100000

const cJSON *s3_model(void)
{
    return dss_model("s3");
}

/* ---- Shapes ---- */

/* cJSON_GetObjectItemCaseSensitive(), with the first bytes compared before strcmp() is called:
 * a request walks the model's member lists (GetObject's output alone has about fifty headers)
 * hundreds of times, and almost every name differs from the wanted one in its first byte. */
static const cJSON *get(const cJSON *obj, const char *name)
{
    if (!obj || !name)
        return NULL;
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && c->string[0] == name[0] && strcmp(c->string, name) == 0)
            return c;
    return NULL;
}

/* The model's "shapes" and "operations" are cJSON objects, that is linked lists of a thousand
 * and a hundred entries; a request looks dozens of them up. So both are indexed once, in an
 * open-addressing hash table built on first use (for the S3 model; any other model, as the
 * fuzzers may pass, is searched the slow way). */
struct plan;

struct index {
    const cJSON *model;
    size_t mask;
    struct slot { const char *name; const cJSON *value; int op; struct plan *plans[2]; } *slots;
};

static struct index model_index;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static size_t name_hash(const char *s, int op)
{
    size_t h = 2166136261u ^ (size_t)op;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void index_add(struct index *x, const cJSON *entries, int op)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        size_t i = name_hash(e->string, op) & x->mask;
        while (x->slots[i].name)
            i = (i + 1) & x->mask;
        x->slots[i] = (struct slot){e->string, e, op, {NULL, NULL}};
    }
}

static struct plan *plan_new(const cJSON *model, const cJSON *operation, int output);

static void build_index(void)
{
    const cJSON *model = s3_model();
    const cJSON *shapes = get(model, "shapes"), *ops = get(model, "operations");
    size_t n = (size_t)cJSON_GetArraySize(shapes) + (size_t)cJSON_GetArraySize(ops), cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!model || !slots) {
        free(slots);
        return;
    }
    model_index = (struct index){model, cap - 1, slots};
    index_add(&model_index, shapes, 0);
    index_add(&model_index, ops, 1);
    for (size_t i = 0; i < cap; i++)
        if (slots[i].name && slots[i].op)
            for (int output = 0; output < 2; output++)
                slots[i].plans[output] = plan_new(model, slots[i].value, output);
}

/* A shape (op 0) or an operation (op 1) by name, once the index is built (or while it is). */
static const cJSON *find(const cJSON *model, const char *name, int op)
{
    if (!name)
        return NULL;
    if (model != model_index.model)
        return get(get(model, op ? "operations" : "shapes"), name);
    for (size_t i = name_hash(name, op) & model_index.mask; model_index.slots[i].name;
         i = (i + 1) & model_index.mask)
        if (model_index.slots[i].op == op && strcmp(model_index.slots[i].name, name) == 0)
            return model_index.slots[i].value;
    return NULL;
}

/* A shape (op 0) or an operation (op 1) by name. */
static const cJSON *lookup(const cJSON *model, const char *name, int op)
{
    pthread_once(&index_once, build_index);
    return find(model, name, op);
}

static const cJSON *shape_get(const cJSON *model, const cJSON *ref)
{
    return lookup(model, cJSON_GetStringValue(get(ref, "shape")), 0);
}

static const char *shape_type(const cJSON *shape)
{
    const char *t = cJSON_GetStringValue(get(shape, "type"));
    return t ? t : "string";
}

/* A serialization trait from the member reference, else from its shape (botocore merges them
 * the same way). */
static const char *trait(const cJSON *ref, const cJSON *shape, const char *key)
{
    const char *v = cJSON_GetStringValue(get(ref, key));
    return v ? v : cJSON_GetStringValue(get(shape, key));
}

static int flattened(const cJSON *ref, const cJSON *shape)
{
    return cJSON_IsTrue(get(ref, "flattened")) || cJSON_IsTrue(get(shape, "flattened"));
}

/* The element name of a structure member: for a flattened list whose member has its own
 * name, that name; else the member's serialized name; else its name in the model. */
static const char *member_xml_name(const cJSON *model, const cJSON *m)
{
    const cJSON *shape = shape_get(model, m);
    if (!strcmp(shape_type(shape), "list") && flattened(m, shape)) {
        const char *inner = cJSON_GetStringValue(get(get(shape, "member"), "locationName"));
        if (inner)
            return inner;
    }
    const char *name = trait(m, shape, "locationName");
    return name ? name : m->string;
}

static const cJSON *io_shape(const cJSON *model, const char *op, const char *io)
{
    return shape_get(model, get(lookup(model, op, 1), io));
}

const cJSON *restxml_operation(const cJSON *model, const char *op)
{
    return lookup(model, op, 1);
}

const cJSON *restxml_shape(const cJSON *model, const char *name)
{
    return lookup(model, name, 0);
}

const cJSON *restxml_payload_ref(const cJSON *model, const char *op, int output)
{
    const cJSON *shape = io_shape(model, op, output ? "output" : "input");
    const char *payload = cJSON_GetStringValue(get(shape, "payload"));
    return payload ? get(get(shape, "members"), payload) : NULL;
}

/* ---- Plans: where each member of an operation's input or output travels ----
 *
 * Reading a request or writing an answer visits every member of the operation's input or
 * output shape (GetObject's output has 40) and, for each, looked up its location, name and
 * shape in the model's cJSON lists: a tenth of the emulator's CPU on a small GetObject. So
 * each operation of the S3 model gets, with the index, an array of its members with those
 * already resolved; other models (the fuzzers') get one made for the call and freed after. */

enum location {
    LOC_PAYLOAD, /* no location: the body, when the member is the payload */
    LOC_URI,
    LOC_HEADER,
    LOC_HEADERS, /* a header prefix: x-amz-meta- */
    LOC_QUERY,
    LOC_OTHER,   /* a location this protocol does not read (statusCode) */
};

struct plan_member {
    const cJSON *ref;     /* the member's reference in the shape ("members": {name: ref}) */
    const cJSON *shape;   /* the shape it names */
    enum location loc;
    const char *loc_name; /* the reference's locationName, or NULL */
};

struct plan {
    const cJSON *shape;   /* the input or output structure, NULL if the operation has none */
    const char *payload;  /* the shape's payload member's name, or NULL */
    size_t n;
    struct plan_member m[]; /* in the model's order */
};

static enum location location_of(const char *loc)
{
    return !loc                           ? LOC_PAYLOAD
           : !strcmp(loc, "uri")          ? LOC_URI
           : !strcmp(loc, "header")       ? LOC_HEADER
           : !strcmp(loc, "headers")      ? LOC_HEADERS
           : !strcmp(loc, "querystring")  ? LOC_QUERY
                                          : LOC_OTHER;
}

/* The plan of an operation's input (output 0) or output; NULL if out of memory. */
static struct plan *plan_new(const cJSON *model, const cJSON *operation, int output)
{
    /* find(), not lookup(): this runs inside the index's pthread_once */
    const cJSON *shape = find(model, cJSON_GetStringValue(get(get(operation, output ? "output" : "input"), "shape")), 0);
    const cJSON *members = get(shape, "members"), *m;
    size_t n = (size_t)cJSON_GetArraySize(members);
    struct plan *p = malloc(sizeof *p + n * sizeof p->m[0]);
    if (!p)
        return NULL;
    p->shape = shape;
    p->payload = cJSON_GetStringValue(get(shape, "payload"));
    p->n = 0;
    cJSON_ArrayForEach(m, members) {
        p->m[p->n++] = (struct plan_member){m, find(model, cJSON_GetStringValue(get(m, "shape")), 0),
                                            location_of(cJSON_GetStringValue(get(m, "location"))),
                                            trait(m, NULL, "locationName")};
    }
    return p;
}

/* The plan for op of model: the index's (*made NULL), or a new one the caller frees (*made). */
static const struct plan *plan_get(const cJSON *model, const char *op, int output, struct plan **made)
{
    *made = NULL;
    pthread_once(&index_once, build_index);
    if (model == model_index.model && op) {
        for (size_t i = name_hash(op, 1) & model_index.mask; model_index.slots[i].name; i = (i + 1) & model_index.mask)
            if (model_index.slots[i].op && strcmp(model_index.slots[i].name, op) == 0)
                return model_index.slots[i].plans[output];
    }
    return *made = plan_new(model, find(model, op, 1), output);
}

/* ---- Scalars from text ---- */

static int parse_http_date(const char *s, double *out)
{
    static const char *const formats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                          "%a %b %d %H:%M:%S %Y", NULL};
    for (int i = 0; formats[i]; i++) {
        struct tm tm = {0};
        const char *end = strptime(s, formats[i], &tm);
        if (end && *end == '\0') {
            *out = (double)timegm(&tm);
            return 0;
        }
    }
    return -1;
}

static int parse_iso8601(const char *s, double *out)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    double frac = 0;
    if (*end == '.') {
        char *after;
        frac = strtod(end, &after);
        end = after;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0 && *end != '\0')
        return -1;
    *out = (double)timegm(&tm) + frac;
    return 0;
}

struct rin {
    const cJSON *model;
    struct buf *err;
    enum dss_error fail;
};

static cJSON *bad_value(struct rin *in, const char *what, const char *text)
{
    if (!in->fail) {
        in->fail = DSS_E_InvalidArgument;
        buf_printf(in->err, "Invalid value for %s: %.100s", what, text);
    }
    return NULL;
}

/* Text to the shape's type. where: "header", "querystring" or "xml" (timestamp defaults).
 * An unreadable timestamp is dropped rather than refused: S3 ignores such conditions. */
static cJSON *scalar_from_text(struct rin *in, const cJSON *ref, const cJSON *shape, const char *text,
                               const char *where, const char *what)
{
    const char *type = shape_type(shape);
    if (!strcmp(type, "integer") || !strcmp(type, "long")) {
        char *end;
        long long v = strtoll(text, &end, 10);
        if (!text[0] || *end)
            return bad_value(in, what, text);
        return cJSON_CreateNumber((double)v);
    }
    if (!strcmp(type, "boolean")) {
        if (strcasecmp(text, "true") && strcasecmp(text, "false"))
            return bad_value(in, what, text);
        return cJSON_CreateBool(strcasecmp(text, "true") == 0);
    }
    if (!strcmp(type, "timestamp")) {
        const char *format = trait(ref, shape, "timestampFormat");
        if (!format)
            format = !strcmp(where, "header") ? "rfc822" : "iso8601";
        double t;
        int rc = !strcmp(format, "rfc822") ? parse_http_date(text, &t) : parse_iso8601(text, &t);
        return rc ? NULL : cJSON_CreateNumber(t);
    }
    if (!strcmp(type, "list")) { /* a header list: comma-separated */
        cJSON *arr = cJSON_CreateArray();
        for (const char *p = text; *p;) {
            size_t n = strcspn(p, ",");
            const char *s = p, *e = p + n;
            while (s < e && *s == ' ')
                s++;
            while (e > s && e[-1] == ' ')
                e--;
            char *item = strndup(s, (size_t)(e - s));
            if (item)
                cJSON_AddItemToArray(arr, cJSON_CreateString(item));
            free(item);
            p += n + (p[n] == ',');
        }
        return arr;
    }
    return cJSON_CreateString(text);
}

/* ---- XML in: expat into a small tree ---- */

struct xnode {
    char *name;       /* local name (any namespace prefix removed) */
    struct buf text;  /* character data directly inside */
    struct xnode *parent, *first, *last, *next;
};

struct xtree {
    XML_Parser parser;
    struct xnode *root, *cur;
    int depth;
    size_t nodes;
    const char *error; /* set when we stopped the parser */
};

static void xnode_free(struct xnode *n)
{
    while (n) {
        struct xnode *next = n->next;
        xnode_free(n->first);
        free(n->name);
        buf_free(&n->text);
        free(n);
        n = next;
    }
}

static void stop(struct xtree *t, const char *why)
{
    if (!t->error)
        t->error = why;
    XML_StopParser(t->parser, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    struct xtree *t = ud;
    if (t->error)
        return;
    if (++t->depth > XML_DEPTH_MAX || ++t->nodes > XML_NODES_MAX || (!t->cur && t->root)) {
        stop(t, "The XML you provided was too deeply nested or too large.");
        return;
    }
    const char *colon = strchr(name, ':');
    struct xnode *n = calloc(1, sizeof *n);
    if (!n || !(n->name = strdup(colon ? colon + 1 : name))) {
        free(n);
        stop(t, "Out of memory.");
        return;
    }
    buf_init(&n->text, S3_XML_BODY_MAX);
    n->parent = t->cur;
    if (!t->cur)
        t->root = n;
    else if (t->cur->last)
        t->cur->last = t->cur->last->next = n;
    else
        t->cur->first = t->cur->last = n;
    t->cur = n;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    struct xtree *t = ud;
    if (t->error || !t->cur)
        return;
    t->depth--;
    t->cur = t->cur->parent;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct xtree *t = ud;
    if (!t->error && t->cur && buf_append(&t->cur->text, s, (size_t)len))
        stop(t, "The XML you provided was too large.");
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    stop(ud, "The XML you provided may not contain a document type declaration.");
}

/* Parses xml into a tree; NULL with a message in err. */
static struct xnode *xml_read(const char *xml, size_t len, struct buf *err)
{
    struct xtree t = {0};
    t.parser = XML_ParserCreate("UTF-8");
    if (!t.parser) {
        buf_puts(err, "Out of memory.");
        return NULL;
    }
    XML_SetUserData(t.parser, &t);
    XML_SetElementHandler(t.parser, on_start, on_end);
    XML_SetCharacterDataHandler(t.parser, on_text);
    XML_SetStartDoctypeDeclHandler(t.parser, on_doctype);
    int ok = len <= S3_XML_BODY_MAX && XML_Parse(t.parser, xml, (int)len, XML_TRUE) == XML_STATUS_OK;
    XML_ParserFree(t.parser);
    if (!ok || t.error || !t.root) {
        buf_puts(err, t.error ? t.error
                              : "The XML you provided was not well-formed or did not validate against our "
                                "published schema");
        xnode_free(t.root);
        return NULL;
    }
    return t.root;
}

/* ---- XML tree to parameters, by shape ---- */

static cJSON *xml_value(struct rin *in, const cJSON *ref, const struct xnode *n);

static const cJSON *member_for_element(const cJSON *model, const cJSON *shape, const char *name)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, get(shape, "members"))
        if (strcmp(member_xml_name(model, m), name) == 0)
            return m;
    return NULL;
}

static cJSON *xml_structure(struct rin *in, const cJSON *shape, const struct xnode *n)
{
    cJSON *obj = cJSON_CreateObject();
    for (const struct xnode *c = n->first; c && !in->fail; c = c->next) {
        const cJSON *m = member_for_element(in->model, shape, c->name);
        if (!m)
            continue; /* elements the model does not know are ignored, as S3 ignores them */
        const cJSON *ms = shape_get(in->model, m);
        if (!strcmp(shape_type(ms), "list") && flattened(m, ms)) {
            cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, m->string);
            if (!arr)
                arr = cJSON_AddArrayToObject(obj, m->string);
            cJSON *v = xml_value(in, get(ms, "member"), c);
            if (v)
                cJSON_AddItemToArray(arr, v);
            continue;
        }
        cJSON *v = xml_value(in, m, c);
        if (v) {
            cJSON_DeleteItemFromObjectCaseSensitive(obj, m->string);
            cJSON_AddItemToObject(obj, m->string, v);
        }
    }
    return obj;
}

static cJSON *xml_value(struct rin *in, const cJSON *ref, const struct xnode *n)
{
    const cJSON *shape = shape_get(in->model, ref);
    const char *type = shape_type(shape);
    if (!strcmp(type, "structure"))
        return xml_structure(in, shape, n);
    if (!strcmp(type, "list")) {
        cJSON *arr = cJSON_CreateArray();
        for (const struct xnode *c = n->first; c && !in->fail; c = c->next) {
            cJSON *v = xml_value(in, get(shape, "member"), c);
            if (v)
                cJSON_AddItemToArray(arr, v);
        }
        return arr;
    }
    if (!strcmp(type, "map")) {
        cJSON *obj = cJSON_CreateObject();
        const cJSON *kref = get(shape, "key"), *vref = get(shape, "value");
        const char *kname = trait(kref, NULL, "locationName"), *vname = trait(vref, NULL, "locationName");
        for (const struct xnode *e = n->first; e; e = e->next) {
            const struct xnode *k = NULL, *v = NULL;
            for (const struct xnode *c = e->first; c; c = c->next) {
                if (!strcmp(c->name, kname ? kname : "key"))
                    k = c;
                else if (!strcmp(c->name, vname ? vname : "value"))
                    v = c;
            }
            if (k && v)
                cJSON_AddItemToObject(obj, k->text.data ? k->text.data : "", xml_value(in, vref, v));
        }
        return obj;
    }
    return scalar_from_text(in, ref, shape, n->text.data ? n->text.data : "", "xml", n->name);
}

cJSON *restxml_parse(const cJSON *model, const cJSON *ref, const char *xml, size_t len, struct buf *err)
{
    struct xnode *root = xml_read(xml, len, err);
    if (!root)
        return NULL;
    const char *want = trait(ref, shape_get(model, ref), "locationName");
    cJSON *v = NULL;
    if (want && strcmp(root->name, want) != 0) {
        buf_puts(err, "The XML you provided was not well-formed or did not validate against our published schema");
    } else {
        struct rin in = {model, err, 0};
        v = xml_value(&in, ref, root);
        if (in.fail) {
            cJSON_Delete(v);
            v = NULL;
        }
    }
    xnode_free(root);
    return v;
}

/* ---- Request to parameters ---- */

static const char *header_get(const struct dss_kv *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

/* x-amz-meta-*: a map keyed by the rest of the header name, in lower case. */
static cJSON *prefixed_headers(const struct dss_kv *h, size_t n, const char *prefix)
{
    size_t plen = strlen(prefix);
    cJSON *map = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncasecmp(h[i].name, prefix, plen) != 0 || !h[i].name[plen])
            continue;
        if (!map)
            map = cJSON_CreateObject();
        char key[256];
        snprintf(key, sizeof key, "%s", h[i].name + plen);
        for (char *p = key; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        cJSON_DeleteItemFromObjectCaseSensitive(map, key);
        cJSON_AddStringToObject(map, key, h[i].value);
    }
    return map;
}

/* The value of one input member, or NULL if the request does not carry it. */
static cJSON *member_param(struct rin *in, const struct plan_member *pm, const char *payload, const struct s3_route *r,
                           const struct dss_kv *h, size_t nh, const char *xml, size_t xml_len)
{
    const cJSON *m = pm->ref;
    const char *name = pm->loc_name;
    const char *text = NULL;
    switch (pm->loc) {
    case LOC_PAYLOAD: {
        if (!payload || strcmp(payload, m->string) != 0 || strcmp(shape_type(pm->shape), "structure") || !xml_len)
            return NULL; /* streaming blobs are the caller's; an empty body is no payload */
        cJSON *v = restxml_parse(in->model, m, xml, xml_len, in->err);
        if (!v)
            in->fail = DSS_E_MalformedXML;
        return v;
    }
    case LOC_URI:
        return !strcmp(name, "Bucket") && r->bucket ? cJSON_CreateString(r->bucket)
               : !strcmp(name, "Key") && r->key   ? cJSON_CreateString(r->key)
                                                  : NULL;
    case LOC_HEADERS:
        return prefixed_headers(h, nh, name);
    case LOC_HEADER:
        text = header_get(h, nh, name);
        return text ? scalar_from_text(in, m, pm->shape, text, "header", name) : NULL;
    case LOC_QUERY:
        text = s3_query(r, name);
        return text ? scalar_from_text(in, m, pm->shape, text, "querystring", name) : NULL;
    case LOC_OTHER:
        break;
    }
    return NULL;
}

enum dss_error restxml_params(const cJSON *model, const char *op, const struct s3_route *r,
                              const struct dss_kv *headers, size_t n_headers, const char *xml,
                              size_t xml_len, cJSON **params, struct buf *err)
{
    struct rin in = {model, err, 0};
    struct plan *made;
    const struct plan *plan = plan_get(model, op, 0, &made);
    const cJSON *shape = plan ? plan->shape : NULL;
    *params = cJSON_CreateObject();
    for (size_t i = 0; plan && i < plan->n; i++) {
        cJSON *v = member_param(&in, &plan->m[i], plan->payload, r, headers, n_headers, xml, xml_len);
        if (in.fail) {
            cJSON_Delete(v);
            break;
        }
        if (v)
            cJSON_AddItemToObject(*params, plan->m[i].ref->string, v);
    }
    free(made);
    const cJSON *req;
    cJSON_ArrayForEach(req, get(shape, "required")) {
        if (in.fail || !cJSON_IsString(req) || get(*params, req->valuestring))
            continue;
        const cJSON *rm = get(get(shape, "members"), req->valuestring);
        const char *loc = cJSON_GetStringValue(get(rm, "location"));
        if (!loc) {
            in.fail = DSS_E_MalformedXML;
            buf_puts(err, "The XML you provided was not well-formed or did not validate against our published schema");
        } else if (strcmp(loc, "uri") != 0) {
            in.fail = !strcmp(loc, "header") ? DSS_E_InvalidRequest : DSS_E_InvalidArgument;
            buf_printf(err, "Missing required %s for this request: %s", !strcmp(loc, "header") ? "header" : "parameter",
                       trait(rm, NULL, "locationName"));
        }
    }
    if (in.fail) {
        cJSON_Delete(*params);
        *params = NULL;
    }
    return in.fail;
}

/* ---- Result to headers ---- */

static void format_scalar(const cJSON *ref, const cJSON *shape, const cJSON *v, int header, char *out, size_t n)
{
    const char *type = shape_type(shape);
    out[0] = '\0';
    if (cJSON_IsString(v)) {
        snprintf(out, n, "%s", v->valuestring);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v) && !strcmp(type, "timestamp")) {
        const char *format = trait(ref, shape, "timestampFormat");
        int64_t ms = (int64_t)(v->valuedouble * 1000.0 + 0.5);
        char text[40];
        if (header && (!format || !strcmp(format, "rfc822")))
            http_date(ms, text);
        else
            iso8601_ms(ms, text);
        snprintf(out, n, "%s", text);
    } else if (cJSON_IsNumber(v)) {
        if (v->valuedouble == (double)(long long)v->valuedouble)
            snprintf(out, n, "%lld", (long long)v->valuedouble);
        else
            snprintf(out, n, "%.17g", v->valuedouble);
    }
}

void restxml_headers(const cJSON *model, const char *op, const cJSON *result,
                     void (*add)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct plan *made;
    const struct plan *plan = plan_get(model, op, 1, &made);
    char value[2048], name[512];
    for (size_t i = 0; plan && i < plan->n; i++) {
        const struct plan_member *pm = &plan->m[i];
        if ((pm->loc != LOC_HEADER && pm->loc != LOC_HEADERS) || !pm->loc_name)
            continue;
        const cJSON *v = get(result, pm->ref->string);
        if (!v || cJSON_IsNull(v))
            continue;
        if (pm->loc == LOC_HEADERS) {
            const cJSON *e;
            cJSON_ArrayForEach(e, v) {
                snprintf(name, sizeof name, "%s%s", pm->loc_name, e->string);
                add(ctx, name, cJSON_IsString(e) ? e->valuestring : "");
            }
        } else if (strcasecmp(pm->loc_name, "Content-Length") != 0) {
            /* Content-Length is the server's to write, from the body it sends. */
            format_scalar(pm->ref, pm->shape, v, 1, value, sizeof value);
            add(ctx, pm->loc_name, value);
        }
    }
    free(made);
}

/* ---- Result to XML ---- */

static void write_value(struct buf *w, const cJSON *model, const cJSON *ref, const char *name, const cJSON *v);

static void write_members(struct buf *w, const cJSON *model, const cJSON *shape, const cJSON *v)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, get(shape, "members")) {
        const cJSON *child = get(v, m->string);
        if (child && !cJSON_IsNull(child) && !get(m, "location"))
            write_value(w, model, m, trait(m, shape_get(model, m), "locationName") ? trait(m, shape_get(model, m), "locationName") : m->string, child);
    }
}

static void write_value(struct buf *w, const cJSON *model, const cJSON *ref, const char *name, const cJSON *v)
{
    const cJSON *shape = shape_get(model, ref);
    const char *type = shape_type(shape);
    const cJSON *e;
    if (!strcmp(type, "structure")) {
        xml_open(w, name, NULL);
        write_members(w, model, shape, v);
        xml_close(w, name);
    } else if (!strcmp(type, "list")) {
        const cJSON *member = get(shape, "member");
        const char *inner = trait(member, NULL, "locationName");
        if (flattened(ref, shape)) {
            cJSON_ArrayForEach(e, v) write_value(w, model, member, inner ? inner : name, e);
        } else {
            xml_open(w, name, NULL);
            cJSON_ArrayForEach(e, v) write_value(w, model, member, inner ? inner : "member", e);
            xml_close(w, name);
        }
    } else if (!strcmp(type, "map")) {
        const char *kname = trait(get(shape, "key"), NULL, "locationName");
        const char *vname = trait(get(shape, "value"), NULL, "locationName");
        int flat = flattened(ref, shape);
        if (!flat)
            xml_open(w, name, NULL);
        cJSON_ArrayForEach(e, v) {
            xml_open(w, flat ? name : "entry", NULL);
            xml_element(w, kname ? kname : "key", e->string);
            write_value(w, model, get(shape, "value"), vname ? vname : "value", e);
            xml_close(w, flat ? name : "entry");
        }
        if (!flat)
            xml_close(w, name);
    } else {
        char text[2048];
        format_scalar(ref, shape, v, 0, text, sizeof text);
        if (cJSON_IsString(v) && strlen(v->valuestring) >= sizeof text)
            xml_element(w, name, v->valuestring); /* long keys and tokens, unformatted */
        else
            xml_element(w, name, text);
    }
}

int restxml_body(const cJSON *model, const char *op, const cJSON *result, const char *root, struct buf *out)
{
    const cJSON *shape = io_shape(model, op, "output");
    const cJSON *payload = restxml_payload_ref(model, op, 1);
    const cJSON *body = result;
    if (payload) {
        shape = shape_get(model, payload);
        body = get(result, payload->string);
        if (!root)
            root = trait(payload, shape, "locationName") ? trait(payload, shape, "locationName") : payload->string;
    }
    if (!root || !shape)
        return -1;
    if (xml_declaration(out) || xml_open(out, root, S3_XMLNS))
        return -1;
    if (body)
        write_members(out, model, shape, body);
    return xml_close(out, root);
}
