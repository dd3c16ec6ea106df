/* store.c -- DynamoDB's tables, keys and item store in SQLite, and the request parameters
 * several operations share (see ddb.h).
 *
 * An item is stored as its JSON text under (table, hash key, range key), both keys in the
 * order-preserving encoding of value.h, so that equal keys written differently ("1" and
 * "1.0") are one item and a Query's key condition is a range of an index.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb.h"

#define KEY_MAX 4096         /* encoded key bytes; DynamoDB allows 2048 (hash), 1024 (range) */
#define HASH_KEY_LIMIT 2048
#define RANGE_KEY_LIMIT 1024

int ddb_fail(struct dss_call *call, const struct ddb_err *e)
{
    return dss_fail(call, e->code, "%s", e->msg);
}

int ddb_sql_error(struct dss_call *call)
{
    return dss_fail(call, DSS_E_InternalFailure, "database error: %s", sqlite3_errmsg(dss_db(call)));
}

/* ---- Tables ---- */

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
        || c == '-';
}

static int constraint(struct dss_call *call, const char *value, const char *member, const char *what)
{
    if (!value)
        return dss_fail(call, DSS_E_ValidationException,
                        "1 validation error detected: Value null at '%s' failed to satisfy constraint: %s", member, what);
    return dss_fail(call, DSS_E_ValidationException,
                    "1 validation error detected: Value '%.300s' at '%s' failed to satisfy constraint: %s", value, member, what);
}

int ddb_table_name_param(struct dss_call *call, const cJSON *params, const char **name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "TableName");
    if (v && !cJSON_IsString(v))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for TableName");
    const char *s = v ? v->valuestring : NULL;
    const char *slash = s && strncmp(s, "arn:", 4) == 0 ? strstr(s, ":table/") : NULL;
    if (slash) /* the API also takes a table's ARN */
        s = slash + 7;
    if (!s)
        return constraint(call, NULL, "tableName", "Member must not be null");
    size_t len = strlen(s);
    if (len < 3)
        return constraint(call, s, "tableName", "Member must have length greater than or equal to 3");
    if (len > 255)
        return constraint(call, s, "tableName", "Member must have length less than or equal to 255");
    for (const char *c = s; *c; c++)
        if (!name_char(*c))
            return constraint(call, s, "tableName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    *name = s;
    return DSS_OK;
}

static enum ddb_type attr_type(const cJSON *spec, const char *name)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(spec, "AttributeDefinitions"))
        if (strcmp(dss_param_str(d, "AttributeName"), name) == 0)
            return ddb_type_from_name(dss_param_str(d, "AttributeType"));
    return DDB_T_NONE;
}

/* Points the table's key fields into its spec. */
static void table_keys(struct ddb_table *t)
{
    const cJSON *k;
    t->name = dss_param_str(t->spec, "TableName");
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(t->spec, "KeySchema")) {
        const char *name = dss_param_str(k, "AttributeName");
        if (strcmp(dss_param_str(k, "KeyType"), "HASH") == 0) {
            t->hash_name = name;
            t->hash_type = attr_type(t->spec, name);
        } else {
            t->range_name = name;
            t->range_type = attr_type(t->spec, name);
        }
    }
}

/* The spec cache: each thread keeps the parsed specs of the tables it opened last, keyed by
 * the stored text itself. A table is still read from ddb_tables in the request's transaction
 * (its row, so what a request sees is exactly what its snapshot holds); only the parse is
 * skipped when the text matches, byte for byte. So nothing needs invalidating: a changed,
 * deleted, re-created or rolled-back table has other text (a new TableId at least), or the
 * same text and then the same parse. Parsing and freeing the spec took 21,000 of the 144,000
 * instructions a GetItem cost the emulator (callgrind, wrk at 16 connections). Per thread: no lock, and a spec is never shared. An entry
 * in use by an open table (pins) is never evicted; with all of them pinned (BatchGetItem over
 * many tables) a table parses its own spec. */
#define SPEC_SLOTS 16

struct ddb_spec_slot {
    char *text;    /* the stored text (owned), NULL for a free slot */
    size_t len;
    cJSON *spec;   /* its parse (owned) */
    int pins;      /* open tables using spec */
    uint64_t used; /* tick of the last use, for eviction */
};

struct spec_cache {
    struct ddb_spec_slot slots[SPEC_SLOTS];
    uint64_t tick;
};

static pthread_key_t spec_key;
static pthread_once_t spec_key_once = PTHREAD_ONCE_INIT;

static void spec_slot_clear(struct ddb_spec_slot *s)
{
    free(s->text);
    cJSON_Delete(s->spec);
    memset(s, 0, sizeof *s);
}

static void spec_cache_free(void *p)
{
    struct spec_cache *c = p;
    for (int i = 0; c && i < SPEC_SLOTS; i++)
        spec_slot_clear(&c->slots[i]);
    free(c);
}

static void spec_key_make(void)
{
    pthread_key_create(&spec_key, spec_cache_free);
}

/* The calling thread's cache, made on first use; NULL if out of memory. */
static struct spec_cache *spec_cache_get(void)
{
    pthread_once(&spec_key_once, spec_key_make);
    struct spec_cache *c = pthread_getspecific(spec_key);
    if (!c && (c = calloc(1, sizeof *c)) && pthread_setspecific(spec_key, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

/* Points t->spec at the parse of text (len bytes): the cached one when this thread has parsed
 * the same text before, else a new parse, cached in a free or least recently used unpinned
 * slot. Returns 0, or -1 if the text does not parse. */
static int spec_open(struct ddb_table *t, const char *text, size_t len)
{
    struct spec_cache *c = spec_cache_get();
    struct ddb_spec_slot *victim = NULL;
    for (int i = 0; c && i < SPEC_SLOTS; i++) {
        struct ddb_spec_slot *s = &c->slots[i];
        if (s->text && s->len == len && memcmp(s->text, text, len) == 0) {
            victim = s;
            break;
        }
        if (s->pins == 0 && (!victim || !s->text || (victim->text && s->used < victim->used)))
            victim = s;
    }
    if (victim && victim->text && victim->len == len && memcmp(victim->text, text, len) == 0) {
        victim->pins++;
        victim->used = ++c->tick;
        t->slot = victim;
        t->spec = victim->spec;
        return 0;
    }
    cJSON *spec = cJSON_ParseWithLength(text, len);
    if (!spec)
        return -1;
    t->spec = spec;
    char *copy = victim ? malloc(len + 1) : NULL;
    if (!copy) /* every slot pinned, or out of memory: the table owns its parse */
        return 0;
    memcpy(copy, text, len);
    copy[len] = '\0';
    spec_slot_clear(victim);
    *victim = (struct ddb_spec_slot){.text = copy, .len = len, .spec = spec, .pins = 1, .used = ++c->tick};
    t->slot = victim;
    return 0;
}

int ddb_table_open(struct dss_call *call, const char *name, struct ddb_table *t, int not_found_names_table)
{
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = dss_stmt(call, "SELECT id, spec, created_ms FROM ddb_tables WHERE region = ?1 AND name = ?2");
    if (!st)
        return ddb_sql_error(call);
    sqlite3_bind_text(st, 1, dss_call_region(call), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE && not_found_names_table)
        return dss_fail(call, DSS_E_ResourceNotFoundException, "Requested resource not found: Table: %s not found", name);
    if (rc == SQLITE_DONE)
        return dss_fail(call, DSS_E_ResourceNotFoundException, "Requested resource not found");
    if (rc != SQLITE_ROW)
        return ddb_sql_error(call);
    t->id = sqlite3_column_int64(st, 0);
    const char *text = (const char *)sqlite3_column_text(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 1);
    t->created_ms = sqlite3_column_int64(st, 2);
    rc = text ? spec_open(t, text, len) : -1;
    sqlite3_reset(st);
    if (rc < 0)
        return dss_fail(call, DSS_E_InternalFailure, "stored table %s is unreadable", name);
    table_keys(t);
    return DSS_OK;
}

void ddb_table_close(struct ddb_table *t)
{
    if (t->slot)
        t->slot->pins--;
    else
        cJSON_Delete((cJSON *)t->spec); /* a parse of its own (spec_open()), or NULL */
    t->slot = NULL;
    t->spec = NULL;
}

/* ItemCount and TableSizeBytes, exact (DynamoDB refreshes them every six hours). */
static int table_usage(struct dss_call *call, const struct ddb_table *t, int64_t *count, int64_t *bytes)
{
    sqlite3_stmt *st = dss_stmt(call, "SELECT count(*), coalesce(sum(size), 0) FROM ddb_items WHERE table_id = ?1");
    *count = *bytes = 0;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, t->id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        *bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return 0;
}

static void copy_member(cJSON *to, const cJSON *from, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, name);
    if (v)
        cJSON_AddItemToObject(to, name, cJSON_Duplicate(v, 1));
}

cJSON *ddb_table_describe(struct dss_call *call, const struct ddb_table *t, const char *status)
{
    cJSON *d = cJSON_CreateObject();
    int64_t count, bytes;
    char arn[400];
    double created = (double)t->created_ms / 1000.0;
    const char *billing = dss_param_str(t->spec, "BillingMode");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(t->spec, "ProvisionedThroughput");
    table_usage(call, t, &count, &bytes);
    snprintf(arn, sizeof arn, "arn:aws:dynamodb:%s:000000000000:table/%s", dss_call_region(call), t->name);

    copy_member(d, t->spec, "AttributeDefinitions");
    cJSON_AddStringToObject(d, "TableName", t->name);
    copy_member(d, t->spec, "KeySchema");
    cJSON_AddStringToObject(d, "TableStatus", status);
    cJSON_AddNumberToObject(d, "CreationDateTime", created);
    cJSON *tp = cJSON_AddObjectToObject(d, "ProvisionedThroughput");
    cJSON_AddNumberToObject(tp, "NumberOfDecreasesToday", 0);
    cJSON_AddNumberToObject(tp, "ReadCapacityUnits", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "ReadCapacityUnits")));
    cJSON_AddNumberToObject(tp, "WriteCapacityUnits", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(pt, "WriteCapacityUnits")));
    cJSON_AddNumberToObject(d, "TableSizeBytes", (double)bytes);
    cJSON_AddNumberToObject(d, "ItemCount", (double)count);
    cJSON_AddStringToObject(d, "TableArn", arn);
    copy_member(d, t->spec, "TableId");
    if (billing && strcmp(billing, "PAY_PER_REQUEST") == 0) {
        cJSON *bm = cJSON_AddObjectToObject(d, "BillingModeSummary");
        cJSON_AddStringToObject(bm, "BillingMode", billing);
        cJSON_AddNumberToObject(bm, "LastUpdateToPayPerRequestDateTime", created);
    }
    cJSON_AddBoolToObject(d, "DeletionProtectionEnabled", 0);
    return d;
}

/* ---- Keys ---- */

void ddb_key_init(struct ddb_key *k)
{
    buf_init(&k->h, KEY_MAX);
    buf_init(&k->r, KEY_MAX);
}

void ddb_key_free(struct ddb_key *k)
{
    buf_free(&k->h);
    buf_free(&k->r);
}

static int empty_key_error(const cJSON *av, const char *name, struct ddb_err *e)
{
    return ddb_errf(e, DSS_E_ValidationException,
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s",
                    ddb_type_of(av) == DDB_T_B ? "binary" : "string", name);
}

/* Encodes one key attribute (of the right type already) into out, checking its size. */
static int encode_part(const cJSON *av, const char *name, int is_hash, struct buf *out, struct ddb_err *e)
{
    enum ddb_type t = ddb_type_of(av);
    if ((t == DDB_T_S || t == DDB_T_B) && av->child->valuestring[0] == '\0')
        return empty_key_error(av, name, e);
    if (t != DDB_T_N && ddb_av_size(av) > (is_hash ? HASH_KEY_LIMIT : RANGE_KEY_LIMIT))
        return ddb_errf(e, DSS_E_ValidationException, is_hash
                        ? "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
                        : "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
    buf_reset(out);
    if (ddb_key_encode(av, out) < 0)
        return ddb_errf(e, DSS_E_ValidationException, "The provided key element does not match the schema");
    return 0;
}

int ddb_key_from_map(const struct ddb_table *t, const cJSON *key, struct ddb_key *k, struct ddb_err *e)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(key, t->hash_name);
    const cJSON *r = t->range_name ? cJSON_GetObjectItemCaseSensitive(key, t->range_name) : NULL;
    if (cJSON_GetArraySize(key) != (t->range_name ? 2 : 1) || !h || ddb_type_of(h) != t->hash_type
        || (t->range_name && (!r || ddb_type_of(r) != t->range_type)))
        return ddb_errf(e, DSS_E_ValidationException, "The provided key element does not match the schema");
    if (encode_part(h, t->hash_name, 1, &k->h, e) < 0)
        return -1;
    buf_reset(&k->r);
    return r ? encode_part(r, t->range_name, 0, &k->r, e) : 0;
}

static int item_key_part(const cJSON *item, const char *name, enum ddb_type want, int is_hash, struct buf *out,
                         struct ddb_err *e)
{
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(item, name);
    if (!av)
        return ddb_errf(e, DSS_E_ValidationException, "One or more parameter values were invalid: Missing the key %s in the item", name);
    if (ddb_type_of(av) != want)
        return ddb_errf(e, DSS_E_ValidationException,
                        "One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s",
                        name, ddb_type_name(want), ddb_type_name(ddb_type_of(av)));
    return encode_part(av, name, is_hash, out, e);
}

int ddb_key_from_item(const struct ddb_table *t, const cJSON *item, struct ddb_key *k, struct ddb_err *e)
{
    if (item_key_part(item, t->hash_name, t->hash_type, 1, &k->h, e) < 0)
        return -1;
    buf_reset(&k->r);
    return t->range_name ? item_key_part(item, t->range_name, t->range_type, 0, &k->r, e) : 0;
}

cJSON *ddb_key_attrs(const struct ddb_table *t, const cJSON *item)
{
    cJSON *key = cJSON_CreateObject();
    copy_member(key, item, t->hash_name);
    if (t->range_name)
        copy_member(key, item, t->range_name);
    return key;
}

/* ---- Items ---- */

int ddb_bind_key(sqlite3_stmt *st, int index, const struct buf *b)
{
    /* A NULL pointer would bind SQL NULL, which equals nothing: an empty key is a zero blob. */
    return b->len ? sqlite3_bind_blob(st, index, b->data, (int)b->len, SQLITE_TRANSIENT) : sqlite3_bind_zeroblob(st, index, 0);
}

cJSON *ddb_item_parse(struct dss_call *call, const char *text)
{
    cJSON *item = text ? cJSON_Parse(text) : NULL;
    if (!item)
        dss_fail(call, DSS_E_InternalFailure, "a stored item is unreadable");
    return item;
}

/* Steps to the stored row of item k: 1 with *st on the row (columns item, size; the caller
 * resets it), 0 if there is none, or DSS_ERR. */
static int item_row(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, sqlite3_stmt **st)
{
    *st = dss_stmt(call, "SELECT item, size FROM ddb_items WHERE table_id = ?1 AND hkey = ?2 AND rkey = ?3");
    if (!*st)
        return ddb_sql_error(call);
    sqlite3_bind_int64(*st, 1, t->id);
    ddb_bind_key(*st, 2, &k->h);
    ddb_bind_key(*st, 3, &k->r);
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE)
        return 0;
    return rc == SQLITE_ROW ? 1 : ddb_sql_error(call);
}

int ddb_item_load(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, cJSON **item)
{
    sqlite3_stmt *st;
    *item = NULL;
    int rc = item_row(call, t, k, &st);
    if (rc != 1)
        return rc;
    *item = ddb_item_parse(call, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return *item ? 1 : DSS_ERR;
}

int ddb_item_load_raw(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, cJSON **raw,
                      size_t *size)
{
    sqlite3_stmt *st;
    *raw = NULL;
    *size = 0;
    int rc = item_row(call, t, k, &st);
    if (rc != 1)
        return rc;
    const char *text = (const char *)sqlite3_column_text(st, 0);
    *raw = text ? cJSON_CreateRaw(text) : NULL;
    *size = (size_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return *raw ? 1 : dss_fail(call, DSS_E_InternalFailure, "a stored item is unreadable");
}

int ddb_item_store(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k, const cJSON *item)
{
    sqlite3_stmt *st = dss_stmt(call,
        "INSERT INTO ddb_items (table_id, hkey, rkey, size, item) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (table_id, hkey, rkey) DO UPDATE SET size = excluded.size, item = excluded.item");
    char *text = cJSON_PrintUnformatted(item);
    if (!st || !text) {
        free(text);
        return st ? dss_fail(call, DSS_E_InternalFailure, "out of memory") : ddb_sql_error(call);
    }
    sqlite3_bind_int64(st, 1, t->id);
    ddb_bind_key(st, 2, &k->h);
    ddb_bind_key(st, 3, &k->r);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)ddb_item_size(item));
    sqlite3_bind_text(st, 5, text, -1, free);
    return sqlite3_step(st) == SQLITE_DONE ? DSS_OK : ddb_sql_error(call);
}

int ddb_item_remove(struct dss_call *call, const struct ddb_table *t, const struct ddb_key *k)
{
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM ddb_items WHERE table_id = ?1 AND hkey = ?2 AND rkey = ?3");
    if (!st)
        return ddb_sql_error(call);
    sqlite3_bind_int64(st, 1, t->id);
    ddb_bind_key(st, 2, &k->h);
    ddb_bind_key(st, 3, &k->r);
    return sqlite3_step(st) == SQLITE_DONE ? DSS_OK : ddb_sql_error(call);
}

/* ---- Request parameters ---- */

int ddb_reject_legacy(struct dss_call *call, const cJSON *params, const char *const *names, const char *instead)
{
    for (; *names; names++)
        if (cJSON_GetObjectItemCaseSensitive(params, *names))
            return dss_fail(call, DSS_E_ValidationException,
                            "The legacy parameter %s is not supported by this emulator; use %s", *names, instead);
    return DSS_OK;
}

int ddb_map_param(struct dss_call *call, const cJSON *params, const char *name, const char *what, cJSON **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    struct ddb_err e;
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return constraint(call, NULL, what, "Member must not be null");
    if (!(*out = cJSON_Duplicate(v, 1)))
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    if (ddb_item_check(*out, &e) < 0) {
        cJSON_Delete(*out);
        *out = NULL;
        return ddb_fail(call, &e);
    }
    return DSS_OK;
}

int ddb_enum_param(struct dss_call *call, const cJSON *params, const char *name, const char *const *choices,
                   const char *dflt, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return DSS_OK;
    if (!cJSON_IsString(v))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for %s", name);
    for (const char *const *c = choices; *c; c++)
        if (strcmp(*c, v->valuestring) == 0) {
            *out = *c;
            return DSS_OK;
        }
    struct buf set;
    buf_init(&set, 400);
    for (const char *const *c = choices; *c; c++)
        buf_printf(&set, "%s%s", c == choices ? "" : ", ", *c);
    char member[64];
    snprintf(member, sizeof member, "%c%s", name[0] + ('a' - 'A'), name + 1);
    dss_fail(call, DSS_E_ValidationException,
             "1 validation error detected: Value '%.200s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
             v->valuestring, member, set.data ? set.data : "");
    buf_free(&set);
    return DSS_ERR;
}

int ddb_int_param(const cJSON *params, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    if (!cJSON_IsNumber(v))
        return 1;
    double d = floor(v->valuedouble); /* DynamoDB's deserializer drops a fraction */
    *out = d >= 4e18 ? (int64_t)4e18 : d <= -4e18 ? (int64_t)-4e18 : (int64_t)d;
    return 0;
}

int ddb_bool_param(struct dss_call *call, const cJSON *params, const char *name, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return DSS_OK;
    if (!cJSON_IsBool(v))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for %s", name);
    *out = cJSON_IsTrue(v);
    return DSS_OK;
}

/* ---- Expressions ---- */

static int check_names(struct dss_call *call, const cJSON *names)
{
    if (!cJSON_IsObject(names))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for ExpressionAttributeNames");
    if (!names->child)
        return dss_fail(call, DSS_E_ValidationException, "ExpressionAttributeNames must not be empty");
    for (const cJSON *n = names->child; n; n = n->next) {
        if (n->string[0] != '#')
            return dss_fail(call, DSS_E_ValidationException,
                            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"%.200s\"", n->string);
        if (!cJSON_IsString(n))
            return dss_fail(call, DSS_E_SerializationException, "Unexpected value type in ExpressionAttributeNames");
    }
    return DSS_OK;
}

static int check_values(struct dss_call *call, cJSON *values)
{
    struct ddb_err e;
    if (!cJSON_IsObject(values))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for ExpressionAttributeValues");
    if (!values->child)
        return dss_fail(call, DSS_E_ValidationException, "ExpressionAttributeValues must not be empty");
    for (cJSON *v = values->child; v; v = v->next) {
        if (v->string[0] != ':')
            return dss_fail(call, DSS_E_ValidationException,
                            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"%.200s\"", v->string);
        if (ddb_av_check(v, &e) < 0)
            return dss_fail(call, e.code, "ExpressionAttributeValues contains invalid value: %s for key %s", e.msg, v->string);
    }
    return DSS_OK;
}

/* "UpdateExpression and ConditionExpression are null", as DynamoDB lists what was missing. */
static void missing_expressions(const char *const *expr_params, struct buf *out)
{
    int n = 0;
    while (expr_params[n])
        n++;
    for (int i = 0; i < n; i++)
        buf_printf(out, "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ", expr_params[i]);
    buf_puts(out, n > 1 ? " are null" : " is null");
}

int ddb_exprs_init(struct dss_call *call, const cJSON *params, const char *const *expr_params, struct ddb_exprs *x)
{
    memset(x, 0, sizeof *x);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(params, "ExpressionAttributeNames");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(params, "ExpressionAttributeValues");
    int any = 0;
    for (const char *const *p = expr_params; *p; p++)
        any |= cJSON_GetObjectItemCaseSensitive(params, *p) != NULL;
    if (names && check_names(call, names) < 0)
        return DSS_ERR;
    if ((names || values) && !any) {
        struct buf why;
        buf_init(&why, 300);
        missing_expressions(expr_params, &why);
        dss_fail(call, DSS_E_ValidationException, "%s can only be specified when using expressions: %s",
                 values ? "ExpressionAttributeValues" : "ExpressionAttributeNames", why.data);
        buf_free(&why);
        return DSS_ERR;
    }
    if (values && !(x->values = cJSON_Duplicate(values, 1)))
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    if (values && check_values(call, x->values) < 0) {
        ddb_exprs_cleanup(x);
        return DSS_ERR;
    }
    if (ddb_expr_ctx_init(&x->ctx, names, x->values) < 0) {
        ddb_exprs_cleanup(x);
        return dss_fail(call, DSS_E_InternalFailure, "out of memory");
    }
    x->ready = 1;
    return DSS_OK;
}

int ddb_exprs_parse(struct dss_call *call, struct ddb_exprs *x, const cJSON *params, const char *name,
                    enum ddb_expr_kind kind, struct ddb_expr **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return DSS_OK;
    if (!cJSON_IsString(v))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for %s", name);
    if (!(*out = ddb_expr_parse(&x->ctx, kind, v->valuestring)))
        return ddb_fail(call, &x->ctx.err);
    return DSS_OK;
}

int ddb_exprs_finish(struct dss_call *call, struct ddb_exprs *x)
{
    return ddb_expr_ctx_check_unused(&x->ctx) < 0 ? ddb_fail(call, &x->ctx.err) : DSS_OK;
}

void ddb_exprs_cleanup(struct ddb_exprs *x)
{
    if (x->ready)
        ddb_expr_ctx_cleanup(&x->ctx);
    cJSON_Delete(x->values);
    x->values = NULL;
    x->ready = 0;
}

cJSON *ddb_project(const struct ddb_expr *proj, const cJSON *attrs_to_get, const cJSON *item)
{
    if (proj)
        return ddb_expr_project(proj, item);
    if (!attrs_to_get)
        return cJSON_Duplicate(item, 1);
    cJSON *out = cJSON_CreateObject();
    const cJSON *name;
    cJSON_ArrayForEach(name, attrs_to_get)
        if (cJSON_IsString(name) && !cJSON_GetObjectItemCaseSensitive(out, name->valuestring))
            copy_member(out, item, name->valuestring);
    return out;
}

int ddb_attrs_to_get_param(struct dss_call *call, const cJSON *params, const cJSON **out)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(params, "AttributesToGet");
    *out = NULL;
    if (!a || cJSON_IsNull(a))
        return DSS_OK;
    if (cJSON_GetObjectItemCaseSensitive(params, "ProjectionExpression"))
        return dss_fail(call, DSS_E_ValidationException,
                        "Can not use both expression and non-expression parameters in the same request: "
                        "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}");
    if (!cJSON_IsArray(a))
        return dss_fail(call, DSS_E_SerializationException, "Unexpected value type for AttributesToGet");
    if (!a->child)
        return constraint(call, "[]", "attributesToGet", "Member must have length greater than or equal to 1");
    *out = a;
    return DSS_OK;
}

/* ---- Capacity ---- */

double ddb_read_units(size_t bytes, int consistent)
{
    double units = ceil((double)bytes / 4096.0);
    if (units < 1)
        units = 1;
    return consistent ? units : units / 2;
}

double ddb_write_units(size_t bytes)
{
    double units = ceil((double)bytes / 1024.0);
    return units < 1 ? 1 : units;
}

cJSON *ddb_consumed(const cJSON *params, const char *table, double units)
{
    const char *mode = dss_param_str(params, "ReturnConsumedCapacity");
    if (!mode || strcmp(mode, "NONE") == 0)
        return NULL;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "TableName", table);
    cJSON_AddNumberToObject(c, "CapacityUnits", units);
    if (strcmp(mode, "INDEXES") == 0)
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(c, "Table"), "CapacityUnits", units);
    return c;
}

void ddb_add_consumed(cJSON *result, const cJSON *params, const char *table, double units)
{
    cJSON *c = ddb_consumed(params, table, units);
    if (c)
        cJSON_AddItemToObject(result, "ConsumedCapacity", c);
}
