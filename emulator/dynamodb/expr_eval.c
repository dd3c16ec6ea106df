/* expr_eval.c -- evaluating DynamoDB expressions that expr.c parsed and checked: conditions
 * and filters against an item, update actions on an item, projections of an item.
 *
 * Semantics follow DynamoDB's documentation: a comparison with a missing operand is false
 * (except <>, which is true), ordering comparisons only hold between two S, two N or two B;
 * update operands are all read from the item as it was before the update; SET on a list
 * index past the end appends; REMOVE of list elements shifts the rest down; ADD creates a
 * missing number or set; DELETE of a set's last element removes the attribute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr_int.h"

#define MSG_MISSING "The provided expression refers to an attribute that does not exist in the item"
#define MSG_TYPE "An operand in the update expression has an incorrect data type"
#define MSG_PATH "The document path provided in the update expression is invalid for update"

cJSON *ddb_path_get(const cJSON *item, const struct part *parts, int nparts)
{
    if (!cJSON_IsObject(item) || nparts < 1 || !parts[0].name)
        return NULL;
    cJSON *av = cJSON_GetObjectItemCaseSensitive(item, parts[0].name);
    for (int i = 1; av && i < nparts; i++) {
        enum ddb_type t = ddb_type_of(av);
        if (parts[i].name)
            av = t == DDB_T_M ? cJSON_GetObjectItemCaseSensitive(av->child, parts[i].name) : NULL;
        else
            av = t == DDB_T_L && parts[i].index < cJSON_GetArraySize(av->child)
                 ? cJSON_GetArrayItem(av->child, (int)parts[i].index) : NULL;
    }
    return av;
}

/* ---- Operands ---- */

/* An evaluated operand: a borrowed AV, or one made for the occasion (owned). */
struct opnd {
    const cJSON *av;
    cJSON *owned;
};

static cJSON *number_av(const char *text)
{
    cJSON *av = cJSON_CreateObject();
    if (av && !cJSON_AddStringToObject(av, "N", text)) {
        cJSON_Delete(av);
        return NULL;
    }
    return av;
}

/* Counts UTF-8 characters, as DynamoDB's size() does for strings. */
static long utf8_length(const char *s)
{
    long n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* size(): characters of S, bytes of B, members of a set, list or map; -1 for other types. */
static long av_length(const cJSON *av)
{
    const cJSON *p = ddb_av_payload(av);
    unsigned char *bytes;
    long n;
    switch (ddb_type_of(av)) {
    case DDB_T_S:
        return utf8_length(p->valuestring);
    case DDB_T_B:
        n = ddb_b64_decode(p->valuestring, &bytes);
        free(bytes);
        return n;
    case DDB_T_L: case DDB_T_M: case DDB_T_SS: case DDB_T_NS: case DDB_T_BS:
        return cJSON_GetArraySize(p);
    default:
        return -1;
    }
}

static void eval_operand(const struct node *n, const cJSON *item, struct opnd *o)
{
    o->av = NULL;
    o->owned = NULL;
    if (n->kind == NK_PATH) {
        o->av = ddb_path_get(item, n->parts, n->nparts);
    } else if (n->kind == NK_VALUE) {
        o->av = n->value;
    } else if (n->kind == NK_FUNC && n->op == FN_SIZE) {
        struct opnd arg;
        eval_operand(n->args[0], item, &arg);
        long len = arg.av ? av_length(arg.av) : -1;
        if (len >= 0) {
            char text[32];
            snprintf(text, sizeof text, "%ld", len);
            o->av = o->owned = number_av(text);
        }
        cJSON_Delete(arg.owned);
    }
}

/* ---- Conditions ---- */

static int compare(int op, const cJSON *a, const cJSON *b)
{
    if (op == CMP_EQ || op == CMP_NE) {
        int eq = a && b && ddb_av_equal(a, b);
        return op == CMP_EQ ? eq : !eq;
    }
    int c;
    if (!a || !b || ddb_av_compare(a, b, &c) < 0)
        return 0;
    switch (op) {
    case CMP_LT: return c < 0;
    case CMP_LE: return c <= 0;
    case CMP_GT: return c > 0;
    default: return c >= 0;
    }
}

static int begins_with(const cJSON *a, const cJSON *b)
{
    enum ddb_type t = ddb_type_of(a);
    if (!a || !b || t != ddb_type_of(b) || (t != DDB_T_S && t != DDB_T_B))
        return 0;
    const char *s = a->child->valuestring, *prefix = b->child->valuestring;
    if (t == DDB_T_S)
        return strncmp(s, prefix, strlen(prefix)) == 0;
    unsigned char *x, *y;
    long nx = ddb_b64_decode(s, &x), ny = ddb_b64_decode(prefix, &y);
    int r = nx >= 0 && ny >= 0 && ny <= nx && memcmp(x, y, (size_t)ny) == 0;
    free(x);
    free(y);
    return r;
}

static int contains(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return 0;
    if (ddb_type_of(a) == DDB_T_S && ddb_type_of(b) == DDB_T_S)
        return strstr(a->child->valuestring, b->child->valuestring) != NULL;
    return ddb_av_contains(a, b);
}

static int test_node(const struct node *n, const cJSON *item);

static int test_function(const struct node *n, const cJSON *item)
{
    struct opnd a, b = {0};
    eval_operand(n->args[0], item, &a);
    if (n->nargs > 1)
        eval_operand(n->args[1], item, &b);
    int r = 0;
    switch (n->op) {
    case FN_ATTRIBUTE_EXISTS: r = a.av != NULL; break;
    case FN_ATTRIBUTE_NOT_EXISTS: r = a.av == NULL; break;
    case FN_ATTRIBUTE_TYPE:
        r = a.av && b.av && ddb_type_of(b.av) == DDB_T_S && strcmp(ddb_type_name(ddb_type_of(a.av)), b.av->child->valuestring) == 0;
        break;
    case FN_BEGINS_WITH: r = begins_with(a.av, b.av); break;
    case FN_CONTAINS: r = contains(a.av, b.av); break;
    default: break;
    }
    cJSON_Delete(a.owned);
    cJSON_Delete(b.owned);
    return r;
}

static int test_between(const struct node *n, const cJSON *item)
{
    struct opnd v, lo, hi;
    eval_operand(n->args[0], item, &v);
    eval_operand(n->args[1], item, &lo);
    eval_operand(n->args[2], item, &hi);
    int r = compare(CMP_GE, v.av, lo.av) && compare(CMP_LE, v.av, hi.av);
    cJSON_Delete(v.owned);
    cJSON_Delete(lo.owned);
    cJSON_Delete(hi.owned);
    return r;
}

static int test_in(const struct node *n, const cJSON *item)
{
    struct opnd v;
    eval_operand(n->args[0], item, &v);
    int r = 0;
    for (int i = 1; i < n->nargs && !r && v.av; i++) {
        struct opnd c;
        eval_operand(n->args[i], item, &c);
        r = c.av && ddb_av_equal(v.av, c.av);
        cJSON_Delete(c.owned);
    }
    cJSON_Delete(v.owned);
    return r;
}

static int test_node(const struct node *n, const cJSON *item)
{
    struct opnd a, b;
    int r;
    switch (n->kind) {
    case NK_AND: return test_node(n->args[0], item) && test_node(n->args[1], item);
    case NK_OR: return test_node(n->args[0], item) || test_node(n->args[1], item);
    case NK_NOT: return !test_node(n->args[0], item);
    case NK_BETWEEN: return test_between(n, item);
    case NK_IN: return test_in(n, item);
    case NK_FUNC: return test_function(n, item);
    case NK_CMP:
        eval_operand(n->args[0], item, &a);
        eval_operand(n->args[1], item, &b);
        r = compare(n->op, a.av, b.av);
        cJSON_Delete(a.owned);
        cJSON_Delete(b.owned);
        return r;
    default:
        return 0;
    }
}

int ddb_expr_test(const struct ddb_expr *e, const cJSON *item)
{
    return test_node(e->root, item);
}

/* ---- Projection ---- */

/* The projected paths as a tree: a step's children are the steps that follow it. */
struct ptrie {
    const struct part *step;
    int leaf; /* a whole path ends here: copy the value whole */
    struct ptrie *kids, *next;
};

/* Finds or adds the child for a step; list indexes are kept in ascending order, so the
 * projected elements come out in list order. */
static struct ptrie *trie_child(struct ptrie *t, const struct part *step)
{
    struct ptrie **at = &t->kids;
    for (; *at; at = &(*at)->next) {
        const struct part *s = (*at)->step;
        if (step->name ? (s->name && strcmp(s->name, step->name) == 0) : (!s->name && s->index == step->index))
            return *at;
        if (!step->name && !s->name && s->index > step->index)
            break;
    }
    struct ptrie *k = calloc(1, sizeof *k);
    if (k) {
        k->step = step;
        k->next = *at;
        *at = k;
    }
    return k;
}

static void trie_free(struct ptrie *t)
{
    while (t) {
        struct ptrie *next = t->next;
        trie_free(t->kids);
        free(t);
        t = next;
    }
}

static int trie_add(struct ptrie *root, const struct node *path)
{
    struct ptrie *t = root;
    for (int i = 0; t && i < path->nparts; i++)
        t = trie_child(t, &path->parts[i]);
    if (!t)
        return -1;
    t->leaf = 1;
    return 0;
}

static cJSON *project_av(const cJSON *av, const struct ptrie *t);

/* Projects the members of a map payload ({name: AV}); NULL if none is left. */
static cJSON *project_map(const cJSON *map, const struct ptrie *t)
{
    cJSON *out = cJSON_CreateObject();
    for (const struct ptrie *k = t->kids; out && k; k = k->next) {
        const cJSON *v = k->step->name ? cJSON_GetObjectItemCaseSensitive(map, k->step->name) : NULL;
        cJSON *pv = v ? project_av(v, k) : NULL;
        if (pv)
            cJSON_AddItemToObject(out, k->step->name, pv);
    }
    if (out && !out->child) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static cJSON *project_list(const cJSON *list, const struct ptrie *t)
{
    cJSON *out = cJSON_CreateArray();
    int size = cJSON_GetArraySize(list);
    for (const struct ptrie *k = t->kids; out && k; k = k->next) {
        const cJSON *v = !k->step->name && k->step->index < size ? cJSON_GetArrayItem(list, (int)k->step->index) : NULL;
        cJSON *pv = v ? project_av(v, k) : NULL;
        if (pv)
            cJSON_AddItemToArray(out, pv);
    }
    if (out && !out->child) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

static cJSON *project_av(const cJSON *av, const struct ptrie *t)
{
    if (t->leaf)
        return cJSON_Duplicate(av, 1);
    enum ddb_type type = ddb_type_of(av);
    cJSON *inner = type == DDB_T_M ? project_map(av->child, t) : type == DDB_T_L ? project_list(av->child, t) : NULL;
    if (!inner)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    if (out)
        cJSON_AddItemToObject(out, ddb_type_name(type), inner);
    else
        cJSON_Delete(inner);
    return out;
}

cJSON *ddb_expr_project(const struct ddb_expr *e, const cJSON *item)
{
    struct ptrie root = {0};
    const struct node *list = e->root;
    for (int i = 0; i < list->nargs; i++) {
        const struct node *path = list->args[i]->kind == NK_PATH ? list->args[i] : list->args[i]->args[0];
        if (trie_add(&root, path) < 0) {
            trie_free(root.kids);
            return NULL;
        }
    }
    cJSON *out = item ? project_map(item, &root) : NULL;
    trie_free(root.kids);
    return out ? out : cJSON_CreateObject();
}

/* ---- Updates ---- */

static int update_error(struct ddb_err *err, const char *msg)
{
    return ddb_errf(err, DSS_E_ValidationException, "%s", msg);
}

static cJSON *set_value(const struct node *n, const cJSON *old, struct ddb_err *err);

static cJSON *dup_or_fail(const cJSON *av, struct ddb_err *err)
{
    cJSON *d = cJSON_Duplicate(av, 1);
    if (!d)
        ddb_errf(err, DSS_E_InternalFailure, "out of memory");
    return d;
}

static cJSON *list_append(const struct node *n, const cJSON *old, struct ddb_err *err)
{
    cJSON *a = set_value(n->args[0], old, err);
    cJSON *b = a ? set_value(n->args[1], old, err) : NULL;
    if (!b) {
        cJSON_Delete(a);
        return NULL;
    }
    if (ddb_type_of(a) != DDB_T_L || ddb_type_of(b) != DDB_T_L) {
        cJSON_Delete(a);
        cJSON_Delete(b);
        update_error(err, MSG_TYPE);
        return NULL;
    }
    cJSON *el;
    while ((el = b->child->child))
        cJSON_AddItemToArray(a->child, cJSON_DetachItemViaPointer(b->child, el));
    cJSON_Delete(b);
    return a;
}

static cJSON *arithmetic(const struct node *n, const cJSON *old, struct ddb_err *err)
{
    cJSON *a = set_value(n->args[0], old, err);
    cJSON *b = a ? set_value(n->args[1], old, err) : NULL;
    cJSON *out = NULL;
    if (!b)
        goto done;
    if (ddb_type_of(a) != DDB_T_N || ddb_type_of(b) != DDB_T_N) {
        update_error(err, MSG_TYPE);
        goto done;
    }
    struct ddb_num x, y, r;
    ddb_num_parse(a->child->valuestring, &x);
    ddb_num_parse(b->child->valuestring, &y);
    enum ddb_num_status st = n->kind == NK_PLUS ? ddb_num_add(&x, &y, &r) : ddb_num_sub(&x, &y, &r);
    if (st != DDB_NUM_OK) {
        ddb_num_error(err, st, NULL);
        goto done;
    }
    char text[DDB_NUM_STRMAX];
    ddb_num_format(&r, text);
    if (!(out = number_av(text)))
        ddb_errf(err, DSS_E_InternalFailure, "out of memory");
done:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return out;
}

/* The new value of a SET action, read from the old item. Returns a new AV, or NULL. */
static cJSON *set_value(const struct node *n, const cJSON *old, struct ddb_err *err)
{
    const cJSON *v;
    switch (n->kind) {
    case NK_VALUE:
        return dup_or_fail(n->value, err);
    case NK_PATH:
        if (!(v = ddb_path_get(old, n->parts, n->nparts)))
            return update_error(err, MSG_MISSING), NULL;
        return dup_or_fail(v, err);
    case NK_PLUS:
    case NK_MINUS:
        return arithmetic(n, old, err);
    case NK_FUNC:
        if (n->op == FN_LIST_APPEND)
            return list_append(n, old, err);
        v = ddb_path_get(old, n->args[0]->parts, n->args[0]->nparts); /* if_not_exists */
        return v ? dup_or_fail(v, err) : set_value(n->args[1], old, err);
    default:
        return update_error(err, MSG_PATH), NULL;
    }
}

/* The container that holds a path's last step: the item itself, a map's payload object or a
 * list's payload array. NULL if the path cannot be written. */
static cJSON *path_container(cJSON *item, const struct node *path)
{
    if (path->nparts == 1)
        return item;
    cJSON *parent = ddb_path_get(item, path->parts, path->nparts - 1);
    enum ddb_type t = ddb_type_of(parent);
    const struct part *last = &path->parts[path->nparts - 1];
    if (last->name ? t != DDB_T_M : t != DDB_T_L)
        return NULL;
    return parent->child;
}

/* Writes value (taken over) at path. */
static int assign(cJSON *item, const struct node *path, cJSON *value, struct ddb_err *err)
{
    cJSON *c = path_container(item, path);
    const struct part *last = &path->parts[path->nparts - 1];
    if (!c) {
        cJSON_Delete(value);
        return update_error(err, MSG_PATH);
    }
    if (last->name && cJSON_GetObjectItemCaseSensitive(c, last->name))
        cJSON_ReplaceItemInObjectCaseSensitive(c, last->name, value);
    else if (last->name)
        cJSON_AddItemToObject(c, last->name, value);
    else if (last->index < cJSON_GetArraySize(c))
        cJSON_ReplaceItemInArray(c, (int)last->index, value);
    else
        cJSON_AddItemToArray(c, value);
    return 0;
}

static void detach_path(cJSON *item, const struct node *path)
{
    cJSON *c = path_container(item, path);
    cJSON *v = ddb_path_get(item, path->parts, path->nparts);
    if (c && v)
        cJSON_Delete(cJSON_DetachItemViaPointer(c, v));
}

static int is_set(enum ddb_type t)
{
    return t == DDB_T_SS || t == DDB_T_NS || t == DDB_T_BS;
}

static int add_number(cJSON *cur, const cJSON *v, struct ddb_err *err)
{
    struct ddb_num x, y, r;
    ddb_num_parse(cur->child->valuestring, &x);
    ddb_num_parse(v->child->valuestring, &y);
    enum ddb_num_status st = ddb_num_add(&x, &y, &r);
    if (st != DDB_NUM_OK)
        return ddb_num_error(err, st, NULL);
    char text[DDB_NUM_STRMAX];
    ddb_num_format(&r, text);
    return cJSON_SetValuestring(cur->child, text) ? 0 : ddb_errf(err, DSS_E_InternalFailure, "out of memory");
}

static int apply_add(cJSON *item, const struct node *a, struct ddb_err *err)
{
    const struct node *path = a->args[0];
    const cJSON *v = a->args[1]->value;
    cJSON *cur = ddb_path_get(item, path->parts, path->nparts);
    if (!cur) {
        cJSON *d = dup_or_fail(v, err);
        return d ? assign(item, path, d, err) : -1;
    }
    enum ddb_type tc = ddb_type_of(cur), tv = ddb_type_of(v);
    if (tc == DDB_T_N && tv == DDB_T_N)
        return add_number(cur, v, err);
    if (tc != tv || !is_set(tc))
        return update_error(err, MSG_TYPE);
    for (const cJSON *m = v->child->child; m; m = m->next)
        if (!ddb_set_has_member(cur, m))
            cJSON_AddItemToArray(cur->child, cJSON_Duplicate(m, 0));
    return 0;
}

static int apply_delete(cJSON *item, const struct node *a, struct ddb_err *err)
{
    const struct node *path = a->args[0];
    const cJSON *v = a->args[1]->value;
    cJSON *cur = ddb_path_get(item, path->parts, path->nparts);
    if (!cur)
        return 0;
    if (ddb_type_of(cur) != ddb_type_of(v) || !is_set(ddb_type_of(cur)))
        return update_error(err, MSG_TYPE);
    cJSON *m = cur->child->child;
    while (m) {
        cJSON *next = m->next;
        if (ddb_set_has_member(v, m))
            cJSON_Delete(cJSON_DetachItemViaPointer(cur->child, m));
        m = next;
    }
    if (!cur->child->child)
        detach_path(item, path);
    return 0;
}

/* REMOVE: every target is found before any is removed, so that removing a[1] and a[2]
 * takes out the elements the expression named, not ones shifted into their places. */
static int apply_removes(cJSON *item, const struct node *list, struct ddb_err *err)
{
    cJSON **victims = calloc((size_t)list->nargs + 1, sizeof(cJSON *));
    cJSON **containers = calloc((size_t)list->nargs + 1, sizeof(cJSON *));
    int n = 0;
    if (!victims || !containers) {
        free(victims);
        free(containers);
        return ddb_errf(err, DSS_E_InternalFailure, "out of memory");
    }
    for (int i = 0; i < list->nargs; i++) {
        const struct node *a = list->args[i];
        if (a->kind != NK_REMOVE)
            continue;
        cJSON *c = path_container(item, a->args[0]);
        cJSON *v = c ? ddb_path_get(item, a->args[0]->parts, a->args[0]->nparts) : NULL;
        if (v) {
            containers[n] = c;
            victims[n++] = v;
        }
    }
    for (int i = 0; i < n; i++)
        cJSON_Delete(cJSON_DetachItemViaPointer(containers[i], victims[i]));
    free(victims);
    free(containers);
    return 0;
}

int ddb_expr_update(const struct ddb_expr *e, const cJSON *old, cJSON *item, struct ddb_err *err)
{
    const struct node *list = e->root;
    for (int i = 0; i < list->nargs; i++) {
        const struct node *a = list->args[i];
        if (a->kind != NK_SET)
            continue;
        cJSON *v = set_value(a->args[1], old, err);
        if (!v || assign(item, a->args[0], v, err) < 0)
            return -1;
    }
    if (apply_removes(item, list, err) < 0)
        return -1;
    for (int i = 0; i < list->nargs; i++) {
        const struct node *a = list->args[i];
        int rc = a->kind == NK_ADD ? apply_add(item, a, err) : a->kind == NK_DELETE ? apply_delete(item, a, err) : 0;
        if (rc < 0)
            return -1;
    }
    return 0;
}

int ddb_expr_update_touches(const struct ddb_expr *e, const char *name)
{
    const struct node *list = e->root;
    for (int i = 0; name && i < list->nargs; i++)
        if (strcmp(list->args[i]->args[0]->parts[0].name, name) == 0)
            return 1;
    return 0;
}
