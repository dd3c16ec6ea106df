/* value.h -- DynamoDB attribute values: decimal numbers, validation, comparison, sizes, and
 * the order-preserving key encoding the item store sorts by.
 *
 * An attribute value (AV) is the JSON protocol's shape, a cJSON object with exactly one
 * member named by its type: {"S":"x"}, {"N":"1.5"}, {"B":"base64"}, {"BOOL":true},
 * {"NULL":true}, {"L":[AV...]}, {"M":{name:AV}}, {"SS":[..]}, {"NS":[..]}, {"BS":[..]}.
 * Every function here except ddb_av_check() expects an AV that ddb_av_check() accepted.
 *
 * Numbers are kept as decimal strings, never as doubles: DynamoDB stores up to 38
 * significant digits with a magnitude between 1E-130 and 1E+126, compares them exactly and
 * answers them in canonical form ("1.50" -> "1.5", "+01" -> "1", "1e2" -> "100").
 */
#ifndef DDB_VALUE_H
#define DDB_VALUE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "buf.h"
#include "errors.h"

/* ---- Errors: the code and message an operation answers with ---- */
struct ddb_err {
    enum dss_error code; /* DSS_E_ValidationException mostly */
    char msg[1024];
};
/* Records the error (printf-style) and returns -1, so callers can `return ddb_errf(...)`. */
int ddb_errf(struct ddb_err *e, enum dss_error code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The Java class DynamoDB's deserializer takes a JSON number for ("java.lang.Short"), as its
 * SerializationException messages name it. */
const char *ddb_number_class(double v);

/* ---- Decimal numbers ---- */
#define DDB_NUM_DIGITS 38   /* most significant digits DynamoDB keeps */
#define DDB_NUM_STRMAX 200  /* longest canonical text, with sign, point and NUL */

/* value = sign * 0.d1d2..dn * 10^exp, d1 != 0, no trailing zero digits; zero has sign 0. */
struct ddb_num {
    int sign;
    int exp;
    int ndigits;
    char digits[DDB_NUM_DIGITS + 1]; /* ASCII, NUL-terminated */
};

enum ddb_num_status {
    DDB_NUM_OK = 0,
    DDB_NUM_INVALID,     /* not a decimal number */
    DDB_NUM_PRECISION,   /* more than 38 significant digits */
    DDB_NUM_OVERFLOW,    /* magnitude above 9.99..E+125 */
    DDB_NUM_UNDERFLOW,   /* magnitude below 1E-130 (and not zero) */
};

/* Parses a number as Java's BigDecimal would (sign, digits, point, exponent). */
enum ddb_num_status ddb_num_parse(const char *s, struct ddb_num *out);
/* -1, 0 or 1 as a is less than, equal to or greater than b. */
int ddb_num_cmp(const struct ddb_num *a, const struct ddb_num *b);
/* out = a + b (or a - b). Fails with DDB_NUM_PRECISION/OVERFLOW/UNDERFLOW like a store would. */
enum ddb_num_status ddb_num_add(const struct ddb_num *a, const struct ddb_num *b, struct ddb_num *out);
enum ddb_num_status ddb_num_sub(const struct ddb_num *a, const struct ddb_num *b, struct ddb_num *out);
/* Canonical plain text: no exponent, no leading or trailing zeros. out holds DDB_NUM_STRMAX. */
void ddb_num_format(const struct ddb_num *n, char *out);
/* The message DynamoDB answers with for a status (text is the offending input). */
int ddb_num_error(struct ddb_err *e, enum ddb_num_status st, const char *text);

/* ---- Attribute values ---- */
enum ddb_type {
    DDB_T_NONE = 0, /* not a valid AV */
    DDB_T_S, DDB_T_N, DDB_T_B, DDB_T_BOOL, DDB_T_NULL,
    DDB_T_L, DDB_T_M, DDB_T_SS, DDB_T_NS, DDB_T_BS,
};

enum ddb_type ddb_type_of(const cJSON *av);
enum ddb_type ddb_type_from_name(const char *name); /* "S" -> DDB_T_S; DDB_T_NONE if unknown */
const char *ddb_type_name(enum ddb_type t);        /* DDB_T_S -> "S" */
/* The payload of an AV: the string, bool, array or object under its type name. */
const cJSON *ddb_av_payload(const cJSON *av);

/* Checks an AV as DynamoDB does (one type, well-formed payload, numbers in range, sets
 * non-empty without duplicates, nesting at most 32 deep) and rewrites every number in it in
 * canonical form. Returns 0, or -1 with *e set. */
int ddb_av_check(cJSON *av, struct ddb_err *e);
/* Checks every AV of an item or key map ({name: AV}); same contract. */
int ddb_item_check(cJSON *item, struct ddb_err *e);

/* Deep equality with DynamoDB's meaning: numbers by value, sets ignoring order. */
int ddb_av_equal(const cJSON *a, const cJSON *b);
/* Ordering of two scalars of one type (N numerically, S and B bytewise). Returns 0 and sets
 * *cmp to -1/0/1, or -1 when the two are not of one comparable type. */
int ddb_av_compare(const cJSON *a, const cJSON *b, int *cmp);
/* Whether a set or list AV holds an element equal to the scalar AV v. */
int ddb_av_contains(const cJSON *container, const cJSON *v);
/* Whether a set AV holds member, one element (a JSON string) of a set of the same type. */
int ddb_set_has_member(const cJSON *set, const cJSON *member);

/* Bytes an AV counts for towards the 400 KB item limit, and an item's total. */
size_t ddb_av_size(const cJSON *av);
size_t ddb_item_size(const cJSON *item);
#define DDB_ITEM_MAX 409600

/* Decoded bytes of a B value's base64 text; returns the length (-1 if malformed). The caller
 * frees *out. */
long ddb_b64_decode(const char *text, unsigned char **out);

/* Key encoding: 0x01 followed by the key's bytes such that memcmp order is DynamoDB's order
 * (S: UTF-8 bytes, B: decoded bytes, N: an order-preserving form of the decimal), so SQL
 * ORDER BY on a BLOB column sorts as a Query must. Every encoding is < DDB_KEY_HIGH. */
#define DDB_KEY_HIGH "\x02"
int ddb_key_encode(const cJSON *av, struct buf *out);
/* Encodes a number alone (0x01 prefix included). */
int ddb_num_encode(const struct ddb_num *n, struct buf *out);

#endif
