/* query.c -- the AWS Query protocol (SQS 2012-11-05, later Auto Scaling and EC2), driven by
 * the botocore service model so no operation's parameters or XML are written by hand.
 *
 * Input: flattened names such as Attribute.1.Name, AttributeName.1, Tags.member.1.Key or
 * (EC2) Filter.1.Value.1 are folded back into the JSON-shaped tree the model describes, the
 * mirror image of botocore's QuerySerializer/EC2Serializer. Output: the operation's result tree
 * is written as the XML botocore's QueryParser/EC2QueryParser reads, element names, list and map
 * flattening and timestamp formats all taken from the model.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "util.h"
#include "xmlwrite.h"

extern const struct { const char *name; const char *json; } dss_models[];

/* ---- Embedded models ----
 *
 * Every request looks shapes and operations up by name, and a model holds hundreds of shapes
 * (DynamoDB's ~300, EC2's ~3,000): cJSON finds a member by walking its list with strcmp, which
 * cost more CPU per request than decoding the request itself. So each model is parsed once,
 * on first use, together with a hash index of its "shapes" and "operations" members, and then
 * published with an atomic store: after that, readers take no lock. */

#define MODELS_MAX 32 /* more embedded models than this are never found (a unit test would see) */

/* One open-addressing hash table over the members of one cJSON object. */
struct name_index {
    const cJSON *obj;    /* the object indexed */
    const cJSON **slots; /* NULL: empty; size is mask + 1, a power of two, at least twice the members */
    size_t mask;
};

struct model_entry {
    cJSON *model;
    struct name_index shapes, operations;
};

static pthread_mutex_t model_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct model_entry *) model_cache[MODELS_MAX];

static size_t name_hash(const char *s)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Indexes the members of obj (which must outlive the index). On failure the index stays empty
 * and lookups fall back to cJSON's walk. */
static void name_index_build(struct name_index *ix, const cJSON *obj)
{
    ix->obj = obj;
    size_t n = (size_t)cJSON_GetArraySize(obj), size = 16;
    while (size < 2 * n)
        size *= 2;
    ix->slots = calloc(size, sizeof(const cJSON *));
    if (!ix->slots)
        return;
    ix->mask = size - 1;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj) {
        size_t i = name_hash(m->string) & ix->mask;
        while (ix->slots[i] && strcmp(ix->slots[i]->string, m->string) != 0)
            i = (i + 1) & ix->mask;
        if (!ix->slots[i]) /* cJSON_GetObjectItem finds the first of equal names: so does this */
            ix->slots[i] = m;
    }
}

static const cJSON *name_index_get(const struct name_index *ix, const cJSON *obj, const char *name)
{
    if (!ix->slots)
        return cJSON_GetObjectItemCaseSensitive(obj, name);
    for (size_t i = name_hash(name) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask)
        if (strcmp(ix->slots[i]->string, name) == 0)
            return ix->slots[i];
    return NULL;
}

static struct model_entry *model_entry_new(const char *json)
{
    struct model_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->model = cJSON_Parse(json))) {
        free(e);
        return NULL;
    }
    name_index_build(&e->shapes, cJSON_GetObjectItemCaseSensitive(e->model, "shapes"));
    name_index_build(&e->operations, cJSON_GetObjectItemCaseSensitive(e->model, "operations"));
    return e;
}

const cJSON *dss_model(const char *name)
{
    for (int i = 0; i < MODELS_MAX && dss_models[i].name; i++) {
        if (strcmp(dss_models[i].name, name) != 0)
            continue;
        struct model_entry *e = atomic_load_explicit(&model_cache[i], memory_order_acquire);
        if (e)
            return e->model;
        pthread_mutex_lock(&model_lock);
        e = atomic_load_explicit(&model_cache[i], memory_order_relaxed);
        if (!e && (e = model_entry_new(dss_models[i].json)))
            atomic_store_explicit(&model_cache[i], e, memory_order_release);
        pthread_mutex_unlock(&model_lock);
        return e ? e->model : NULL;
    }
    return NULL;
}

/* The cache entry of a model dss_model() returned, or NULL for any other tree. */
static const struct model_entry *model_entry_of(const cJSON *model)
{
    for (int i = 0; i < MODELS_MAX && dss_models[i].name; i++) {
        const struct model_entry *e = atomic_load_explicit(&model_cache[i], memory_order_acquire);
        if (e && e->model == model)
            return e;
    }
    return NULL;
}

/* name in the model's member "shapes" (operations 0) or "operations" (1). */
static const cJSON *model_member(const cJSON *model, int operations, const char *name)
{
    if (!name)
        return NULL;
    const struct model_entry *e = model_entry_of(model);
    if (e) { /* the entry knows where "shapes" and "operations" are: no walk of the model's top level */
        const struct name_index *ix = operations ? &e->operations : &e->shapes;
        return name_index_get(ix, ix->obj, name);
    }
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(model, operations ? "operations" : "shapes"),
                                            name);
}

const cJSON *dss_model_shape(const cJSON *model, const char *name)
{
    return model_member(model, 0, name);
}

const cJSON *dss_model_operation(const cJSON *model, const char *op)
{
    return model_member(model, 1, op);
}

/* ---- Shapes: a member reference overrides what its target shape says ---- */

static const cJSON *shape_get(const cJSON *model, const cJSON *ref)
{
    return dss_model_shape(model, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "shape")));
}

static const char *shape_type(const cJSON *shape)
{
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(shape, "type"));
    return t ? t : "string";
}

/* A serialization property from the reference, else from the shape. */
static const cJSON *prop(const cJSON *ref, const cJSON *shape, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ref, key);
    return v ? v : cJSON_GetObjectItemCaseSensitive(shape, key);
}

static const char *location_name(const cJSON *ref, const cJSON *shape, const char *dflt)
{
    const char *n = cJSON_GetStringValue(prop(ref, shape, "locationName"));
    return n ? n : dflt;
}

static int is_flattened(const cJSON *ref, const cJSON *shape)
{
    return cJSON_IsTrue(prop(ref, shape, "flattened"));
}

/* EC2 input names: queryName, else locationName with its first letter capitalised. */
static void ec2_name(const cJSON *ref, const char *dflt, char *out, size_t n)
{
    const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "queryName"));
    const char *l = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "locationName"));
    snprintf(out, n, "%s", q ? q : l ? l : dflt);
    if (!q && l && out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
}

/* ---- Input: pairs to tree ----
 *
 * The pairs are looked up through a copy of their pointers sorted by name, so finding a name,
 * asking whether a prefix has children and listing a list's indexes each cost a binary search
 * plus the matches. A request can carry thousands of pairs and indexes up to LIST_INDEX_MAX
 * ("Attribute.100000.Name"); walking every index up to the largest, or every pair for every
 * index, would let one request keep a thread busy for seconds. */

#define LIST_INDEX_MAX 100000 /* larger list indexes are ignored, as if absent */

struct qin {
    const cJSON *model;
    const struct dss_kv *const *sorted; /* the pairs by name; equal names in request order */
    size_t n;
    int ec2;
    struct buf *err;
    int failed;
};

static int kv_ptr_cmp(const void *a, const void *b)
{
    const struct dss_kv *x = *(const struct dss_kv *const *)a, *y = *(const struct dss_kv *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x > y) - (x < y); /* the pairs are one array: address order is request order */
}

/* The position of the first pair whose name is not below key. */
static size_t kv_lower_bound(const struct qin *q, const char *key)
{
    size_t lo = 0, hi = q->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(q->sorted[mid]->name, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The first pair (in request order) named name, or NULL. */
static const struct dss_kv *kv_find(const struct qin *q, const char *name)
{
    size_t i = kv_lower_bound(q, name);
    return i < q->n && strcmp(q->sorted[i]->name, name) == 0 ? q->sorted[i] : NULL;
}

/* Where the pairs named prefix.<something> begin in sorted order; *key receives "prefix."
 * (built by hand: this runs for most members of every Query request). A prefix too long for
 * key has no children. */
static size_t kv_children(const struct qin *q, const char *prefix, char *key, size_t key_size, size_t *key_len)
{
    size_t len = strlen(prefix);
    if (len + 2 > key_size) {
        key[0] = '\0', *key_len = 0;
        return q->n;
    }
    memcpy(key, prefix, len + 1); /* with its NUL, which the dot replaces */
    key[len] = '.', key[len + 1] = '\0';
    *key_len = len + 1;
    return kv_lower_bound(q, key);
}

/* True if some pair is named prefix.<something>. */
static int kv_has_children(const struct qin *q, const char *prefix)
{
    char key[1200];
    size_t len, i = kv_children(q, prefix, key, sizeof key, &len);
    return i < q->n && strncmp(q->sorted[i]->name, key, len) == 0;
}

/* True if some pair is named name, or name.<something>: two binary searches. */
static int kv_has_key_or_children(const struct qin *q, const char *name)
{
    return kv_find(q, name) || kv_has_children(q, name);
}

/* prefix.name into out (name alone under the empty prefix): 0, or -1 when it does not fit
 * (such a name matches no key). By hand: two snprintf() per member of every request's input
 * shape were 2 % of an SQS SendMessage over Query. */
static int join_name(char *out, size_t size, const char *prefix, const char *name)
{
    size_t prefix_len = strlen(prefix), name_len = strlen(name), at = 0;
    if (prefix_len + 1 + name_len >= size)
        return -1;
    if (prefix_len) {
        memcpy(out, prefix, prefix_len + 1); /* with its NUL, which the dot replaces */
        out[prefix_len] = '.';
        at = prefix_len + 1;
    }
    memcpy(out + at, name, name_len + 1);
    return 0;
}

static int long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The distinct N in 1..LIST_INDEX_MAX among pairs named prefix.N or prefix.N.<something>, in
 * ascending order. Returns how many, with the malloc'd list in *out (NULL when none); -1 when
 * out of memory. */
static long kv_indexes(const struct qin *q, const char *prefix, long **out)
{
    char key[1200];
    size_t len, first = kv_children(q, prefix, key, sizeof key, &len), count = 0;
    *out = NULL;
    for (size_t i = first; i < q->n && strncmp(q->sorted[i]->name, key, len) == 0; i++)
        count++;
    if (count == 0)
        return 0;
    long *idx = malloc(count * sizeof *idx);
    if (!idx)
        return -1;
    size_t n = 0;
    for (size_t i = first; i < first + count; i++) {
        const char *p = q->sorted[i]->name + len, *d = p;
        long v = 0;
        while (*d >= '0' && *d <= '9' && v <= LIST_INDEX_MAX)
            v = v * 10 + (*d++ - '0');
        if (d > p && *p != '0' && (*d == '\0' || *d == '.') && v >= 1 && v <= LIST_INDEX_MAX)
            idx[n++] = v;
    }
    qsort(idx, n, sizeof *idx, long_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || idx[distinct - 1] != idx[i])
            idx[distinct++] = idx[i];
    if (distinct == 0) {
        free(idx);
        return 0;
    }
    *out = idx;
    return (long)distinct;
}

static cJSON *parse_value(struct qin *q, const cJSON *ref, const char *prefix);
static cJSON *parse_shape(struct qin *q, const cJSON *ref, const cJSON *shape, const char *prefix);

static cJSON *parse_scalar(struct qin *q, const cJSON *shape, const char *prefix)
{
    const struct dss_kv *p = kv_find(q, prefix);
    if (!p)
        return NULL;
    const char *type = shape_type(shape);
    if (!strcmp(type, "integer") || !strcmp(type, "long") || !strcmp(type, "double") ||
        !strcmp(type, "float")) {
        char *end;
        double d = strtod(p->value, &end);
        /* Plain decimal only: strtod also reads hex, "inf", "nan" and leading spaces. */
        if (p->value[0] == '\0' || *end != '\0' || p->value[strspn(p->value, "0123456789+-.eE")] != '\0') {
            buf_printf(q->err, "Value (%s) for parameter %s is invalid. Must be a number.",
                       p->value, prefix);
            q->failed = 1;
            return NULL;
        }
        return cJSON_CreateNumber(d);
    }
    if (!strcmp(type, "boolean")) {
        if (strcmp(p->value, "true") && strcmp(p->value, "false")) {
            buf_printf(q->err, "Value (%s) for parameter %s is invalid. Must be true or false.",
                       p->value, prefix);
            q->failed = 1;
            return NULL;
        }
        return cJSON_CreateBool(!strcmp(p->value, "true"));
    }
    if (strlen(p->value) != p->value_len) {
        buf_printf(q->err, "Value for parameter %s contains a NUL character.", prefix);
        q->failed = 1;
        return NULL;
    }
    return cJSON_CreateString(p->value);
}

/* True if the member m of the structure at prefix is a flattened list whose items are named
 * after its member (SQS's AttributeNames, sent as prefix.AttributeName.N: parse_list()) and
 * some pair holds one. */
static int flattened_items_present(const struct qin *q, const cJSON *m, const cJSON *target, const char *prefix)
{
    if (q->ec2 || strcmp(shape_type(target), "list") || !is_flattened(m, target))
        return 0;
    const char *item = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(target, "member"), "locationName"));
    if (!item)
        return 0; /* named prefix.name.N: the caller has looked */
    char key[1100];
    return join_name(key, sizeof key, prefix, item) == 0 && kv_has_key_or_children(q, key);
}

static cJSON *parse_structure(struct qin *q, const cJSON *shape, const char *prefix)
{
    if (prefix[0] && !kv_has_children(q, prefix))
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(shape, "members")) {
        char ec2[256], child[1024];
        const char *name = ec2;
        const cJSON *target = shape_get(q->model, m);
        if (!target)
            continue;
        if (q->ec2)
            ec2_name(m, m->string, ec2, sizeof ec2);
        else /* botocore: the member's locationName, else its target shape's (TagMap's "Tag") */
            name = location_name(m, target, m->string);
        if (join_name(child, sizeof child, prefix, name))
            continue;
        /* Most members of an input shape are absent from a given request. Every key of a
         * member is its name or starts with "name.", except those of a flattened list whose
         * members have a name of their own (SQS's AttributeName.N): two binary searches skip
         * the rest, which cost more than the members that are there (SendMessage over Query). */
        if (!kv_has_key_or_children(q, child) && !flattened_items_present(q, m, target, prefix))
            continue;
        cJSON *v = parse_shape(q, m, target, child);
        if (v)
            cJSON_AddItemToObject(obj, m->string, v);
        if (q->failed)
            break;
    }
    return obj;
}

static cJSON *parse_list(struct qin *q, const cJSON *ref, const cJSON *shape, const char *prefix)
{
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(shape, "member");
    char list_prefix[1024];
    if (q->ec2) {
        snprintf(list_prefix, sizeof list_prefix, "%s", prefix);
    } else if (is_flattened(ref, shape)) {
        const char *mname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(member, "locationName"));
        const char *dot = strrchr(prefix, '.');
        if (mname)
            snprintf(list_prefix, sizeof list_prefix, "%.*s%s%s", dot ? (int)(dot - prefix) : 0,
                     prefix, dot ? "." : "", mname);
        else
            snprintf(list_prefix, sizeof list_prefix, "%s", prefix);
    } else {
        snprintf(list_prefix, sizeof list_prefix, "%s.%s", prefix, location_name(member, NULL, "member"));
    }
    long *idx, count = kv_indexes(q, list_prefix, &idx);
    if (count < 0) {
        buf_puts(q->err, "Out of memory.");
        q->failed = 1;
        return NULL;
    }
    if (count == 0) {
        const struct dss_kv *empty = kv_find(q, prefix); /* "Names=" is an empty list */
        return empty && empty->value[0] == '\0' ? cJSON_CreateArray() : NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    for (long i = 0; i < count && !q->failed; i++) {
        char elem[1100];
        snprintf(elem, sizeof elem, "%s.%ld", list_prefix, idx[i]);
        cJSON *v = parse_value(q, member, elem);
        if (v)
            cJSON_AddItemToArray(arr, v);
    }
    free(idx);
    return arr;
}

static cJSON *parse_map(struct qin *q, const cJSON *ref, const cJSON *shape, const char *prefix)
{
    char full[1024];
    snprintf(full, sizeof full, is_flattened(ref, shape) ? "%s" : "%s.entry", prefix);
    const cJSON *kref = cJSON_GetObjectItemCaseSensitive(shape, "key");
    const cJSON *vref = cJSON_GetObjectItemCaseSensitive(shape, "value");
    const char *ksuffix = location_name(kref, NULL, "key");
    const char *vsuffix = location_name(vref, NULL, "value");
    long *idx, count = kv_indexes(q, full, &idx);
    if (count <= 0) {
        if (count < 0) {
            buf_puts(q->err, "Out of memory.");
            q->failed = 1;
        }
        return NULL;
    }
    cJSON *obj = cJSON_CreateObject();
    for (long i = 0; i < count && !q->failed; i++) {
        char kname[1100], vname[1100];
        snprintf(kname, sizeof kname, "%s.%ld.%s", full, idx[i], ksuffix);
        snprintf(vname, sizeof vname, "%s.%ld.%s", full, idx[i], vsuffix);
        const struct dss_kv *k = kv_find(q, kname);
        if (!k)
            continue;
        cJSON *v = parse_value(q, vref, vname);
        if (!v)
            v = cJSON_CreateString("");
        cJSON_DeleteItemFromObjectCaseSensitive(obj, k->value); /* last one wins */
        cJSON_AddItemToObject(obj, k->value, v);
    }
    free(idx);
    return obj;
}

static cJSON *parse_value(struct qin *q, const cJSON *ref, const char *prefix)
{
    const cJSON *shape = shape_get(q->model, ref);
    return shape ? parse_shape(q, ref, shape, prefix) : NULL;
}

/* parse_value() with ref's target shape already found. */
static cJSON *parse_shape(struct qin *q, const cJSON *ref, const cJSON *shape, const char *prefix)
{
    const char *type = shape_type(shape);
    if (!strcmp(type, "structure"))
        return parse_structure(q, shape, prefix);
    if (!strcmp(type, "list"))
        return parse_list(q, ref, shape, prefix);
    if (!strcmp(type, "map"))
        return parse_map(q, ref, shape, prefix);
    return parse_scalar(q, shape, prefix);
}

static const cJSON *operation(const cJSON *model, const char *op)
{
    return dss_model_operation(model, op);
}

cJSON *query_params(const cJSON *model, const char *op, const struct dss_kv *kv, size_t n, int ec2,
                    struct buf *err)
{
    const struct dss_kv **sorted = malloc((n ? n : 1) * sizeof(const struct dss_kv *));
    if (!sorted) {
        buf_puts(err, "Out of memory.");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &kv[i];
    qsort(sorted, n, sizeof(const struct dss_kv *), kv_ptr_cmp);
    struct qin q = {model, sorted, n, ec2, err, 0};
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(operation(model, op), "input");
    const cJSON *shape = shape_get(model, input);
    cJSON *params = shape ? parse_structure(&q, shape, "") : cJSON_CreateObject();
    free(sorted);
    if (q.failed) {
        cJSON_Delete(params);
        return NULL;
    }
    return params;
}

/* ---- Output: tree to XML ---- */

static void write_value(struct buf *w, const cJSON *model, const cJSON *ref, const char *name,
                        const cJSON *v, int ec2);

static void write_scalar(struct buf *w, const cJSON *shape, const char *name, const cJSON *v)
{
    char num[64];
    const char *text = "";
    const char *type = shape_type(shape);
    if (cJSON_IsString(v)) {
        text = v->valuestring;
    } else if (cJSON_IsBool(v)) {
        text = cJSON_IsTrue(v) ? "true" : "false";
    } else if (cJSON_IsNumber(v) && !strcmp(type, "timestamp")) {
        iso8601_ms((int64_t)(v->valuedouble * 1000.0), num);
        text = num;
    } else if (cJSON_IsNumber(v)) {
        if (v->valuedouble == (double)(long long)v->valuedouble)
            snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        else
            snprintf(num, sizeof num, "%.17g", v->valuedouble);
        text = num;
    }
    xml_element(w, name, text);
}

static void write_members(struct buf *w, const cJSON *model, const cJSON *shape, const cJSON *v, int ec2)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(shape, "members")) {
        const cJSON *child = cJSON_GetObjectItemCaseSensitive(v, m->string);
        if (child && !cJSON_IsNull(child))
            write_value(w, model, m, location_name(m, NULL, m->string), child, ec2);
    }
}

static void write_list(struct buf *w, const cJSON *model, const cJSON *ref, const cJSON *shape,
                       const char *name, const cJSON *v, int ec2)
{
    const cJSON *member = cJSON_GetObjectItemCaseSensitive(shape, "member");
    const cJSON *e;
    if (!ec2 && is_flattened(ref, shape)) {
        const char *ename = location_name(member, NULL, name);
        cJSON_ArrayForEach(e, v) write_value(w, model, member, ename, e, ec2);
        return;
    }
    xml_open(w, name, NULL);
    const char *ename = ec2 ? "item" : location_name(member, NULL, "member");
    cJSON_ArrayForEach(e, v) write_value(w, model, member, ename, e, ec2);
    xml_close(w, name);
}

static void write_map(struct buf *w, const cJSON *model, const cJSON *ref, const cJSON *shape,
                      const char *name, const cJSON *v, int ec2)
{
    const cJSON *kref = cJSON_GetObjectItemCaseSensitive(shape, "key");
    const cJSON *vref = cJSON_GetObjectItemCaseSensitive(shape, "value");
    int flat = is_flattened(ref, shape);
    const char *entry = flat ? name : "entry";
    if (!flat)
        xml_open(w, name, NULL);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        xml_open(w, entry, NULL);
        xml_element(w, location_name(kref, NULL, "key"), e->string);
        write_value(w, model, vref, location_name(vref, NULL, "value"), e, ec2);
        xml_close(w, entry);
    }
    if (!flat)
        xml_close(w, name);
}

static void write_value(struct buf *w, const cJSON *model, const cJSON *ref, const char *name,
                        const cJSON *v, int ec2)
{
    const cJSON *shape = shape_get(model, ref);
    const char *type = shape_type(shape);
    if (!strcmp(type, "structure")) {
        xml_open(w, name, NULL);
        write_members(w, model, shape, v, ec2);
        xml_close(w, name);
    } else if (!strcmp(type, "list")) {
        write_list(w, model, ref, shape, name, v, ec2);
    } else if (!strcmp(type, "map")) {
        write_map(w, model, ref, shape, name, v, ec2);
    } else {
        write_scalar(w, shape, name, v);
    }
}

int query_result_xml(const cJSON *model, const char *op, const cJSON *result, const char *xmlns,
                     const char *request_id, int ec2, struct buf *out)
{
    char root[256];
    size_t op_len = strnlen(op, sizeof root - sizeof "Response");
    memcpy(root, op, op_len); /* no snprintf: every Query answer */
    memcpy(root + op_len, "Response", sizeof "Response");
    xml_declaration(out);
    xml_open(out, root, xmlns);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(operation(model, op), "output");
    const cJSON *shape = shape_get(model, output);
    if (ec2) {
        xml_element(out, "requestId", request_id);
        if (shape)
            write_members(out, model, shape, result, ec2);
    } else {
        const char *wrapper = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(output, "resultWrapper"));
        if (shape && wrapper) {
            xml_open(out, wrapper, NULL);
            write_members(out, model, shape, result, ec2);
            xml_close(out, wrapper);
        }
        xml_open(out, "ResponseMetadata", NULL);
        xml_element(out, "RequestId", request_id);
        xml_close(out, "ResponseMetadata");
    }
    return xml_close(out, root);
}

int query_error_xml(const char *xmlns, const char *code, int sender, const char *message,
                    const char *request_id, int ec2, struct buf *out)
{
    xml_declaration(out);
    if (ec2) {
        xml_open(out, "Response", NULL);
        xml_open(out, "Errors", NULL);
        xml_open(out, "Error", NULL);
        xml_element(out, "Code", code);
        xml_element(out, "Message", message);
        xml_close(out, "Error");
        xml_close(out, "Errors");
        xml_element(out, "RequestID", request_id);
        return xml_close(out, "Response");
    }
    xml_open(out, "ErrorResponse", xmlns);
    xml_open(out, "Error", NULL);
    xml_element(out, "Type", sender ? "Sender" : "Receiver");
    xml_element(out, "Code", code);
    xml_element(out, "Message", message);
    xml_element(out, "Detail", "");
    xml_close(out, "Error");
    xml_element(out, "RequestId", request_id);
    return xml_close(out, "ErrorResponse");
}
