/* value.c -- DynamoDB attribute values: exact decimal numbers, validation, comparison, item
 * sizes and the order-preserving key encoding (see value.h for the contracts).
 *
 * Numbers never pass through a double: DynamoDB promises 38 exact significant digits, and a
 * double holds 15-17. A number is a sign, a digit string and a decimal exponent; addition
 * lines the two digit strings up on one grid of at most ~300 positions (the whole range
 * 1E-130 .. 1E+126 plus 38 digits), which is cheap and exact.
 */
#include "dynamodb/value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DDB_MAX_DEPTH 32 /* DynamoDB's limit on nested L/M levels */

int ddb_errf(struct ddb_err *e, enum dss_error code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- Decimal numbers ---- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads an optional exponent ("e-5"); returns the end, or NULL if malformed. The value is
 * clamped far beyond the supported range so that huge exponents cannot overflow. */
static const char *parse_exponent(const char *p, long long *e)
{
    *e = 0;
    if (*p != 'e' && *p != 'E')
        return p;
    p++;
    int neg = (*p == '-');
    if (*p == '+' || *p == '-')
        p++;
    if (!is_digit(*p))
        return NULL;
    for (; is_digit(*p); p++)
        if (*e < 1000000000LL)
            *e = *e * 10 + (*p - '0');
    if (neg)
        *e = -*e;
    return p;
}

static enum ddb_num_status num_range(const struct ddb_num *n)
{
    if (n->sign == 0)
        return DDB_NUM_OK;
    if (n->exp > 126)
        return DDB_NUM_OVERFLOW;
    if (n->exp < -129)
        return DDB_NUM_UNDERFLOW;
    return DDB_NUM_OK;
}

enum ddb_num_status ddb_num_parse(const char *s, struct ddb_num *out)
{
    memset(out, 0, sizeof *out);
    const char *p = s;
    int neg = (*p == '-');
    if (*p == '+' || *p == '-')
        p++;
    const char *mant = p;
    long long ndig = 0, intlen = 0;
    int point = 0;
    for (; *p; p++) {
        if (is_digit(*p)) {
            ndig++;
            intlen += !point;
        } else if (*p == '.' && !point) {
            point = 1;
        } else {
            break;
        }
    }
    const char *mant_end = p;
    long long e;
    if (ndig == 0 || !(p = parse_exponent(p, &e)) || *p)
        return DDB_NUM_INVALID;

    /* Significant digits run from the first non-zero digit to the last. */
    const char *first = NULL, *last = NULL;
    long long lead = 0, nsig = 0;
    for (const char *q = mant; q < mant_end; q++) {
        if (*q == '.')
            continue;
        if (*q != '0') {
            if (!first)
                first = q;
            last = q;
        } else if (!first) {
            lead++;
        }
    }
    if (!first)
        return DDB_NUM_OK; /* zero, whatever its sign or exponent */
    for (const char *q = first; q <= last; q++)
        nsig += (*q != '.');
    long long exp = intlen - lead + e;
    out->sign = neg ? -1 : 1;
    out->exp = exp > 100000 ? 100000 : exp < -100000 ? -100000 : (int)exp;
    enum ddb_num_status st = num_range(out);
    if (st != DDB_NUM_OK)
        return st;
    if (nsig > DDB_NUM_DIGITS)
        return DDB_NUM_PRECISION;
    for (const char *q = first; q <= last; q++)
        if (*q != '.')
            out->digits[out->ndigits++] = *q;
    out->digits[out->ndigits] = '\0';
    return DDB_NUM_OK;
}

int ddb_num_cmp(const struct ddb_num *a, const struct ddb_num *b)
{
    if (a->sign != b->sign)
        return a->sign < b->sign ? -1 : 1;
    if (a->sign == 0)
        return 0;
    int mag;
    if (a->exp != b->exp) {
        mag = a->exp < b->exp ? -1 : 1;
    } else {
        int c = strcmp(a->digits, b->digits); /* a shorter prefix is the smaller fraction */
        mag = (c > 0) - (c < 0);
    }
    return a->sign > 0 ? mag : -mag;
}

/* The digit grid of ddb_num_add: position k stands for 10^(k + lo). */
#define GRID 320

static void grid_fill(const struct ddb_num *n, int lo, int *g)
{
    for (int i = 0; i < n->ndigits; i++)
        g[n->exp - 1 - i - lo] = n->digits[i] - '0';
}

/* Compares two grids as unsigned magnitudes. */
static int grid_cmp(const int *a, const int *b, int width)
{
    for (int k = width - 1; k >= 0; k--)
        if (a[k] != b[k])
            return a[k] < b[k] ? -1 : 1;
    return 0;
}

/* Turns a grid back into a number, checking precision and range as a store would. */
static enum ddb_num_status grid_to_num(const int *g, int width, int lo, int sign, struct ddb_num *out)
{
    memset(out, 0, sizeof *out);
    int hi = width - 1, low = 0;
    while (hi >= 0 && g[hi] == 0)
        hi--;
    if (hi < 0)
        return DDB_NUM_OK;
    while (g[low] == 0)
        low++;
    out->sign = sign;
    out->exp = hi + lo + 1;
    enum ddb_num_status st = num_range(out);
    if (st != DDB_NUM_OK)
        return st;
    if (hi - low + 1 > DDB_NUM_DIGITS)
        return DDB_NUM_PRECISION;
    for (int k = hi; k >= low; k--)
        out->digits[out->ndigits++] = (char)('0' + g[k]);
    out->digits[out->ndigits] = '\0';
    return DDB_NUM_OK;
}

enum ddb_num_status ddb_num_add(const struct ddb_num *a, const struct ddb_num *b, struct ddb_num *out)
{
    if (a->sign == 0 || b->sign == 0) {
        *out = a->sign == 0 ? *b : *a;
        return DDB_NUM_OK;
    }
    int hi = a->exp > b->exp ? a->exp : b->exp;
    int alo = a->exp - a->ndigits, blo = b->exp - b->ndigits;
    int lo = alo < blo ? alo : blo;
    int width = hi - lo + 1; /* one spare position for a carry */
    if (width > GRID)
        return DDB_NUM_PRECISION;
    int ga[GRID] = {0}, gb[GRID] = {0}, gr[GRID] = {0};
    grid_fill(a, lo, ga);
    grid_fill(b, lo, gb);
    int sign = a->sign;
    if (a->sign == b->sign) {
        for (int k = 0, carry = 0; k < width; k++) {
            int d = ga[k] + gb[k] + carry;
            gr[k] = d % 10;
            carry = d / 10;
        }
    } else {
        const int *big = ga, *small = gb;
        if (grid_cmp(ga, gb, width) < 0) {
            big = gb;
            small = ga;
            sign = b->sign;
        }
        for (int k = 0, borrow = 0; k < width; k++) {
            int d = big[k] - small[k] - borrow;
            borrow = d < 0;
            gr[k] = d < 0 ? d + 10 : d;
        }
    }
    return grid_to_num(gr, width, lo, sign, out);
}

enum ddb_num_status ddb_num_sub(const struct ddb_num *a, const struct ddb_num *b, struct ddb_num *out)
{
    struct ddb_num nb = *b;
    nb.sign = -nb.sign;
    return ddb_num_add(a, &nb, out);
}

void ddb_num_format(const struct ddb_num *n, char *out)
{
    char *o = out;
    if (n->sign == 0) {
        strcpy(out, "0");
        return;
    }
    if (n->sign < 0)
        *o++ = '-';
    if (n->exp <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n->exp; i++)
            *o++ = '0';
        memcpy(o, n->digits, (size_t)n->ndigits);
        o += n->ndigits;
    } else if (n->exp < n->ndigits) {
        memcpy(o, n->digits, (size_t)n->exp);
        o += n->exp;
        *o++ = '.';
        memcpy(o, n->digits + n->exp, (size_t)(n->ndigits - n->exp));
        o += n->ndigits - n->exp;
    } else {
        memcpy(o, n->digits, (size_t)n->ndigits);
        o += n->ndigits;
        for (int i = n->ndigits; i < n->exp; i++)
            *o++ = '0';
    }
    *o = '\0';
}

int ddb_num_error(struct ddb_err *e, enum ddb_num_status st, const char *text)
{
    switch (st) {
    case DDB_NUM_OVERFLOW:
        return ddb_errf(e, DSS_E_ValidationException,
                        "Number overflow. Attempting to store a number with magnitude larger than supported range");
    case DDB_NUM_UNDERFLOW:
        return ddb_errf(e, DSS_E_ValidationException,
                        "Number underflow. Attempting to store a number with magnitude smaller than supported range");
    case DDB_NUM_PRECISION:
        return ddb_errf(e, DSS_E_ValidationException,
                        "Attempting to store more than 38 significant digits in a Number");
    default:
        if (!text || !*text)
            return ddb_errf(e, DSS_E_ValidationException, "The parameter cannot be converted to a numeric value");
        return ddb_errf(e, DSS_E_ValidationException, "The parameter cannot be converted to a numeric value: %.200s", text);
    }
}

/* ---- Attribute value types ---- */

static const char *const type_names[] = {
    [DDB_T_NONE] = "", [DDB_T_S] = "S", [DDB_T_N] = "N", [DDB_T_B] = "B",
    [DDB_T_BOOL] = "BOOL", [DDB_T_NULL] = "NULL", [DDB_T_L] = "L", [DDB_T_M] = "M",
    [DDB_T_SS] = "SS", [DDB_T_NS] = "NS", [DDB_T_BS] = "BS",
};

enum ddb_type ddb_type_from_name(const char *name)
{
    for (int t = DDB_T_S; t <= DDB_T_BS; t++)
        if (name && strcmp(name, type_names[t]) == 0)
            return (enum ddb_type)t;
    return DDB_T_NONE;
}

const char *ddb_type_name(enum ddb_type t)
{
    return (unsigned)t <= DDB_T_BS ? type_names[t] : "";
}

enum ddb_type ddb_type_of(const cJSON *av)
{
    if (!cJSON_IsObject(av) || !av->child || av->child->next)
        return DDB_T_NONE;
    return ddb_type_from_name(av->child->string);
}

const cJSON *ddb_av_payload(const cJSON *av)
{
    return av ? av->child : NULL;
}

long ddb_b64_decode(const char *text, unsigned char **out)
{
    size_t n = strlen(text);
    *out = malloc(3 * (n / 4) + 3);
    if (!*out)
        return -1;
    long len = base64_decode(text, n, *out);
    if (len < 0) {
        free(*out);
        *out = NULL;
    }
    return len;
}

/* ---- Validation ---- */

/* The Java class DynamoDB's deserializer sees a JSON number as. */
const char *ddb_number_class(double v)
{
    if (!(v >= -9.2e18 && v <= 9.2e18) || v != (double)(long long)v) /* range first: the cast */
        return "java.lang.Double";
    if (v >= -32768 && v <= 32767)
        return "java.lang.Short";
    if (v >= -2147483648.0 && v <= 2147483647.0)
        return "java.lang.Integer";
    return "java.lang.Long";
}


/* The SerializationException a JSON value of the wrong kind draws, worded as the Java
 * deserializer behind DynamoDB words it. */
static int type_error(struct ddb_err *e, const cJSON *v, const char *want)
{
    if (cJSON_IsArray(v))
        return ddb_errf(e, DSS_E_SerializationException, "Start of list found where not expected");
    if (cJSON_IsObject(v))
        return ddb_errf(e, DSS_E_SerializationException, "Start of structure or map found where not expected.");
    const char *cls = cJSON_IsBool(v) ? "java.lang.Boolean" : cJSON_IsNumber(v) ? ddb_number_class(v->valuedouble)
                    : cJSON_IsString(v) ? "java.lang.String" : "null";
    return ddb_errf(e, DSS_E_SerializationException, "class %s can not be converted to an %s", cls, want);
}

static int check_b64(const cJSON *v, struct ddb_err *e)
{
    if (!cJSON_IsString(v))
        return type_error(e, v, "Blob");
    unsigned char *bytes;
    if (ddb_b64_decode(v->valuestring, &bytes) < 0)
        return ddb_errf(e, DSS_E_SerializationException,
                        "'%.100s' can not be converted to a Blob: Base64 encoded value is malformed",
                        v->valuestring);
    free(bytes);
    return 0;
}

/* Checks a number string and rewrites it in canonical form. */
static int check_number(cJSON *v, struct ddb_err *e)
{
    if (!cJSON_IsString(v))
        return type_error(e, v, "String");
    struct ddb_num n;
    enum ddb_num_status st = ddb_num_parse(v->valuestring, &n);
    if (st != DDB_NUM_OK)
        return ddb_num_error(e, st, v->valuestring);
    char text[DDB_NUM_STRMAX];
    ddb_num_format(&n, text);
    if (strcmp(text, v->valuestring) != 0 && !cJSON_SetValuestring(v, text))
        return ddb_errf(e, DSS_E_InternalFailure, "out of memory");
    return 0;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether a set of strings (numbers already canonical) holds a duplicate. */
static int set_duplicate(const cJSON *arr)
{
    int n = cJSON_GetArraySize(arr);
    const char **v = malloc(sizeof *v * (size_t)(n ? n : 1));
    int dup = 0;
    if (!v)
        return 0;
    int i = 0;
    for (const cJSON *c = arr->child; c; c = c->next)
        v[i++] = c->valuestring;
    qsort(v, (size_t)n, sizeof *v, cmp_strings);
    for (i = 1; i < n && !dup; i++)
        dup = strcmp(v[i - 1], v[i]) == 0;
    free(v);
    return dup;
}

static int check_set(cJSON *payload, enum ddb_type t, struct ddb_err *e)
{
    static const char *const what[] = {[DDB_T_SS] = "string", [DDB_T_NS] = "number", [DDB_T_BS] = "binary"};
    if (!cJSON_IsArray(payload))
        return type_error(e, payload, "List");
    if (!payload->child)
        return ddb_errf(e, DSS_E_ValidationException,
                        "One or more parameter values were invalid: An %s set  may not be empty", what[t]);
    for (cJSON *m = payload->child; m; m = m->next) {
        int rc = t == DDB_T_NS ? check_number(m, e) : t == DDB_T_BS ? check_b64(m, e)
               : cJSON_IsString(m) ? 0 : type_error(e, m, "String");
        if (rc)
            return rc;
    }
    if (!set_duplicate(payload))
        return 0;
    if (t == DDB_T_NS)
        return ddb_errf(e, DSS_E_ValidationException, "Input collection contains duplicates");
    struct buf list;
    buf_init(&list, 400);
    for (cJSON *m = payload->child; m; m = m->next)
        buf_printf(&list, "%s%s", m == payload->child ? "" : ", ", m->valuestring);
    ddb_errf(e, DSS_E_ValidationException,
             "One or more parameter values were invalid: Input collection [%s]%s contains duplicates.",
             list.data ? list.data : "", t == DDB_T_BS ? "of type BS" : "");
    buf_free(&list);
    return -1;
}

static int check_av(cJSON *av, int depth, struct ddb_err *e);

static int check_container(cJSON *payload, enum ddb_type t, int depth, struct ddb_err *e)
{
    if (depth >= DDB_MAX_DEPTH)
        return ddb_errf(e, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Nesting Levels have exceeded supported limits");
    if (t == DDB_T_L ? !cJSON_IsArray(payload) : !cJSON_IsObject(payload))
        return type_error(e, payload, t == DDB_T_L ? "List" : "Map");
    for (cJSON *c = payload->child; c; c = c->next)
        if (check_av(c, depth + 1, e))
            return -1;
    return 0;
}

static int check_av(cJSON *av, int depth, struct ddb_err *e)
{
    if (!cJSON_IsObject(av))
        return type_error(e, av, "AttributeValue");
    int members = cJSON_GetArraySize(av);
    enum ddb_type t = members == 1 ? ddb_type_from_name(av->child->string) : DDB_T_NONE;
    if (members > 1)
        return ddb_errf(e, DSS_E_ValidationException,
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
    if (t == DDB_T_NONE)
        return ddb_errf(e, DSS_E_ValidationException,
                        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    cJSON *p = av->child;
    switch (t) {
    case DDB_T_S:
        return cJSON_IsString(p) ? 0 : type_error(e, p, "String");
    case DDB_T_N:
        return check_number(p, e);
    case DDB_T_B:
        return check_b64(p, e);
    case DDB_T_BOOL:
        return cJSON_IsBool(p) ? 0 : type_error(e, p, "Boolean");
    case DDB_T_NULL:
        if (!cJSON_IsBool(p))
            return type_error(e, p, "Boolean");
        return cJSON_IsTrue(p) ? 0 : ddb_errf(e, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Null attribute value types must have the value of true");
    case DDB_T_L:
    case DDB_T_M:
        return check_container(p, t, depth, e);
    default:
        return check_set(p, t, e);
    }
}

int ddb_av_check(cJSON *av, struct ddb_err *e)
{
    return check_av(av, 0, e);
}

int ddb_item_check(cJSON *item, struct ddb_err *e)
{
    if (!cJSON_IsObject(item))
        return type_error(e, item, "Map");
    for (cJSON *c = item->child; c; c = c->next)
        if (check_av(c, 0, e))
            return -1;
    return 0;
}

/* ---- Comparison ---- */

/* Compares two B values by their decoded bytes. */
static int bytes_cmp(const char *a64, const char *b64)
{
    unsigned char *a, *b;
    long la = ddb_b64_decode(a64, &a), lb = ddb_b64_decode(b64, &b);
    int c = 0;
    if (la >= 0 && lb >= 0) {
        size_t n = (size_t)(la < lb ? la : lb);
        c = n ? memcmp(a, b, n) : 0;
        if (c == 0)
            c = (la > lb) - (la < lb);
    }
    free(a);
    free(b);
    return (c > 0) - (c < 0);
}

static int num_text_cmp(const char *a, const char *b)
{
    struct ddb_num na, nb;
    ddb_num_parse(a, &na);
    ddb_num_parse(b, &nb);
    return ddb_num_cmp(&na, &nb);
}

/* Compares two scalar payloads of type t (S, N or B). */
static int scalar_cmp(enum ddb_type t, const cJSON *a, const cJSON *b)
{
    if (t == DDB_T_N)
        return num_text_cmp(a->valuestring, b->valuestring);
    if (t == DDB_T_B)
        return bytes_cmp(a->valuestring, b->valuestring);
    int c = strcmp(a->valuestring, b->valuestring); /* UTF-8 byte order */
    return (c > 0) - (c < 0);
}

int ddb_av_compare(const cJSON *a, const cJSON *b, int *cmp)
{
    enum ddb_type t = ddb_type_of(a);
    if (t != ddb_type_of(b) || (t != DDB_T_S && t != DDB_T_N && t != DDB_T_B))
        return -1;
    *cmp = scalar_cmp(t, a->child, b->child);
    return 0;
}

static enum ddb_type set_member_type(enum ddb_type set)
{
    return set == DDB_T_SS ? DDB_T_S : set == DDB_T_NS ? DDB_T_N : DDB_T_B;
}

/* Whether the set payload holds a member equal to the scalar payload v of type mt. */
static int set_has(const cJSON *set, enum ddb_type mt, const cJSON *v)
{
    for (const cJSON *m = set->child; m; m = m->next)
        if (scalar_cmp(mt, m, v) == 0)
            return 1;
    return 0;
}

static int sets_equal(enum ddb_type t, const cJSON *a, const cJSON *b)
{
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
        return 0;
    for (const cJSON *m = a->child; m; m = m->next)
        if (!set_has(b, set_member_type(t), m))
            return 0;
    return 1;
}

static int maps_equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
        return 0;
    for (const cJSON *m = a->child; m; m = m->next)
        if (!ddb_av_equal(m, cJSON_GetObjectItemCaseSensitive(b, m->string)))
            return 0;
    return 1;
}

int ddb_av_equal(const cJSON *a, const cJSON *b)
{
    enum ddb_type t = ddb_type_of(a);
    if (t == DDB_T_NONE || t != ddb_type_of(b))
        return 0;
    const cJSON *pa = a->child, *pb = b->child;
    switch (t) {
    case DDB_T_S:
    case DDB_T_N:
    case DDB_T_B:
        return scalar_cmp(t, pa, pb) == 0;
    case DDB_T_BOOL:
    case DDB_T_NULL:
        return cJSON_IsTrue(pa) == cJSON_IsTrue(pb);
    case DDB_T_L:
        if (cJSON_GetArraySize(pa) != cJSON_GetArraySize(pb))
            return 0;
        for (pa = pa->child, pb = pb->child; pa && pb; pa = pa->next, pb = pb->next)
            if (!ddb_av_equal(pa, pb))
                return 0;
        return 1;
    case DDB_T_M:
        return maps_equal(pa, pb);
    default:
        return sets_equal(t, pa, pb);
    }
}

int ddb_av_contains(const cJSON *container, const cJSON *v)
{
    enum ddb_type t = ddb_type_of(container), vt = ddb_type_of(v);
    if (t == DDB_T_L) {
        for (const cJSON *el = container->child->child; el; el = el->next)
            if (ddb_av_equal(el, v))
                return 1;
        return 0;
    }
    if ((t == DDB_T_SS || t == DDB_T_NS || t == DDB_T_BS) && vt == set_member_type(t))
        return set_has(container->child, vt, v->child);
    return 0;
}

int ddb_set_has_member(const cJSON *set, const cJSON *member)
{
    enum ddb_type t = ddb_type_of(set);
    if (!(t == DDB_T_SS || t == DDB_T_NS || t == DDB_T_BS) || !cJSON_IsString(member))
        return 0;
    return set_has(set->child, set_member_type(t), member);
}

/* ---- Sizes ---- */

static size_t b64_len(const char *s)
{
    size_t n = strlen(s), pad = 0;
    while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
        pad++;
    return n / 4 * 3 - pad;
}

static size_t num_size(const char *s)
{
    struct ddb_num n;
    ddb_num_parse(s, &n);
    return (size_t)(n.ndigits + 1) / 2 + 1;
}

size_t ddb_av_size(const cJSON *av)
{
    enum ddb_type t = ddb_type_of(av);
    const cJSON *p = av ? av->child : NULL;
    size_t size = 0;
    switch (t) {
    case DDB_T_S: return strlen(p->valuestring);
    case DDB_T_N: return num_size(p->valuestring);
    case DDB_T_B: return b64_len(p->valuestring);
    case DDB_T_BOOL:
    case DDB_T_NULL: return 1;
    case DDB_T_L:
    case DDB_T_M:
        size = 3; /* DynamoDB's overhead per document, plus a byte per element */
        for (const cJSON *c = p->child; c; c = c->next)
            size += 1 + ddb_av_size(c) + (t == DDB_T_M ? strlen(c->string) : 0);
        return size;
    case DDB_T_SS:
    case DDB_T_NS:
    case DDB_T_BS:
        for (const cJSON *c = p->child; c; c = c->next)
            size += t == DDB_T_SS ? strlen(c->valuestring) : t == DDB_T_NS ? num_size(c->valuestring)
                  : b64_len(c->valuestring);
        return size;
    default:
        return 0;
    }
}

size_t ddb_item_size(const cJSON *item)
{
    size_t size = 0;
    for (const cJSON *c = item ? item->child : NULL; c; c = c->next)
        size += strlen(c->string) + ddb_av_size(c);
    return size;
}

/* ---- Key encoding ---- */

/* Numbers: a class byte (negative < zero < positive), then the exponent and the digits,
 * both inverted for negatives (a bigger magnitude sorts first), and a terminator above any
 * inverted digit so that -1.2 sorts after -1.21. */
int ddb_num_encode(const struct ddb_num *n, struct buf *out)
{
    unsigned char head[4] = {0x01, n->sign < 0 ? 0x01 : n->sign == 0 ? 0x02 : 0x03, 0, 0};
    unsigned e = n->sign < 0 ? (unsigned)(1000 - n->exp) : (unsigned)(1000 + n->exp);
    head[2] = (unsigned char)(e >> 8);
    head[3] = (unsigned char)e;
    if (buf_append(out, head, n->sign == 0 ? 2 : 4) < 0)
        return -1;
    for (int i = 0; i < n->ndigits; i++) {
        char d = n->sign < 0 ? (char)('9' - n->digits[i] + '0') : n->digits[i];
        if (buf_append(out, &d, 1) < 0)
            return -1;
    }
    return n->sign < 0 ? buf_append(out, "\xff", 1) : 0;
}

int ddb_key_encode(const cJSON *av, struct buf *out)
{
    enum ddb_type t = ddb_type_of(av);
    const char *text = av ? av->child->valuestring : NULL;
    if (t == DDB_T_N) {
        struct ddb_num n;
        if (ddb_num_parse(text, &n) != DDB_NUM_OK)
            return -1;
        return ddb_num_encode(&n, out);
    }
    if (buf_append(out, "\x01", 1) < 0)
        return -1;
    if (t == DDB_T_S)
        return buf_puts(out, text);
    if (t != DDB_T_B)
        return -1;
    unsigned char *bytes;
    long len = ddb_b64_decode(text, &bytes);
    int rc = len < 0 ? -1 : buf_append(out, bytes, (size_t)len);
    free(bytes);
    return rc;
}
