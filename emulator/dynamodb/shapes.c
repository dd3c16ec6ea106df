/* shapes.c -- the first look at every DynamoDB request, before any operation reads it: the
 * text must be UTF-8 throughout, and every member must have the JSON type the service model
 * (emulator/models/dynamodb.json) gives it. DynamoDB's Java deserializer answers a mistyped
 * member with a SerializationException worded after the Java classes involved ("class
 * java.lang.Short can not be converted to an String"); the wording here follows the replies
 * dynalite recorded from the real service.
 *
 * The operations read members with cJSON accessors that take a mistyped member for an absent
 * one, so without this check {"ReturnConsumedCapacity": 5} would quietly mean NONE.
 *
 * Attribute values are not walked here: value.c checks them completely (types, numbers,
 * sets, nesting) and answers with the same wording. Members the model does not know are
 * ignored, as DynamoDB ignores them; JSON null counts as absent.
 *
 * Deviations: DynamoDB takes a fractional number for a boolean member (1.5 means true); here
 * every number is refused for a boolean.
 */
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb.h"
#include "protocol.h"
#include "util.h"

static int serialization(struct dss_call *call, const char *msg)
{
    return dss_fail(call, DSS_E_SerializationException, "%s", msg);
}

static int start_of(struct dss_call *call, const cJSON *v)
{
    return serialization(call, cJSON_IsArray(v) ? "Start of list found where not expected"
                                                : "Start of structure or map found where not expected.");
}

/* A scalar member (string, integer, long, boolean, double) given the wrong JSON kind. */
static int scalar_error(struct dss_call *call, const cJSON *v, const char *java)
{
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        return start_of(call, v);
    if (cJSON_IsString(v) && strcmp(java, "Boolean") == 0) {
        char upper[200];
        size_t i = 0;
        for (const char *s = v->valuestring; *s && i < sizeof upper - 1; s++)
            upper[i++] = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
        upper[i] = '\0';
        return dss_fail(call, DSS_E_SerializationException, "'%s' can not be converted to an Boolean", upper);
    }
    const char *cls = cJSON_IsBool(v) ? "java.lang.Boolean" : cJSON_IsNumber(v) ? ddb_number_class(v->valuedouble)
                                                                                 : "java.lang.String";
    return dss_fail(call, DSS_E_SerializationException, "class %s can not be converted to an %s", cls, java);
}

static const cJSON *shape_of(const cJSON *model, const cJSON *ref, const char **name)
{
    *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "shape"));
    return dss_model_shape(model, *name);
}

/* Checks v against the shape ref names; DSS_OK, or DSS_ERR after dss_fail(). */
static int check_value(struct dss_call *call, const cJSON *model, const cJSON *ref, const cJSON *v)
{
    const char *name;
    const cJSON *shape = shape_of(model, ref, &name);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(shape, "type"));
    const cJSON *e;
    if (!type || !v || cJSON_IsNull(v) || strcmp(name, "AttributeValue") == 0)
        return DSS_OK;
    if (strcmp(type, "structure") == 0) {
        if (!cJSON_IsObject(v))
            return cJSON_IsArray(v) ? start_of(call, v) : serialization(call, "Expected null");
        const cJSON *members = cJSON_GetObjectItemCaseSensitive(shape, "members");
        cJSON_ArrayForEach(e, v) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(members, e->string);
            if (m && check_value(call, model, m, e) < 0)
                return DSS_ERR;
        }
        return DSS_OK;
    }
    if (strcmp(type, "list") == 0) {
        if (!cJSON_IsArray(v))
            return cJSON_IsObject(v) ? start_of(call, v) : serialization(call, "Expected list or null");
        const cJSON *member = cJSON_GetObjectItemCaseSensitive(shape, "member");
        cJSON_ArrayForEach(e, v)
            if (check_value(call, model, member, e) < 0)
                return DSS_ERR;
        return DSS_OK;
    }
    if (strcmp(type, "map") == 0) {
        if (!cJSON_IsObject(v))
            return cJSON_IsArray(v) ? start_of(call, v) : serialization(call, "Expected map or null");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(shape, "value");
        cJSON_ArrayForEach(e, v)
            if (check_value(call, model, value, e) < 0)
                return DSS_ERR;
        return DSS_OK;
    }
    if (strcmp(type, "string") == 0 || strcmp(type, "blob") == 0)
        return cJSON_IsString(v) ? DSS_OK : scalar_error(call, v, strcmp(type, "blob") == 0 ? "Blob" : "String");
    if (strcmp(type, "boolean") == 0)
        return cJSON_IsBool(v) ? DSS_OK : scalar_error(call, v, "Boolean");
    if (strcmp(type, "integer") == 0 || strcmp(type, "long") == 0 || strcmp(type, "double") == 0)
        return cJSON_IsNumber(v) ? DSS_OK
                                 : scalar_error(call, v, type[0] == 'i' ? "Integer" : type[0] == 'l' ? "Long" : "Double");
    return DSS_OK;
}

/* DynamoDB's wording for a member outside its enum: the member's name starts lower case, the
 * set is listed in the model's order. */
static int enum_error(struct dss_call *call, const cJSON *v, const cJSON *choices)
{
    struct buf set;
    const cJSON *c;
    buf_init(&set, 1024);
    cJSON_ArrayForEach(c, choices)
        buf_printf(&set, "%s%s", c == choices->child ? "" : ", ", cJSON_GetStringValue(c));
    dss_fail(call, DSS_E_ValidationException,
             "1 validation error detected: Value '%.200s' at '%c%.60s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
             v->valuestring, v->string[0] >= 'A' && v->string[0] <= 'Z' ? v->string[0] + ('a' - 'A') : v->string[0],
             v->string + 1, set.data ? set.data : "");
    buf_free(&set);
    return DSS_ERR;
}

/* Every string and member name in the tree must be UTF-8, as the JSON parser requires. */
static int check_text(struct dss_call *call, const cJSON *v)
{
    for (const cJSON *e = v->child; e; e = e->next) {
        size_t bad;
        const char *texts[2] = {e->string, cJSON_IsString(e) ? e->valuestring : NULL};
        for (int i = 0; i < 2; i++) {
            if (texts[i] && !utf8_valid(texts[i], strlen(texts[i]), &bad)) {
                unsigned char c = (unsigned char)texts[i][bad];
                return dss_fail(call, DSS_E_SerializationException, "Invalid UTF-8 %s byte 0x%02x",
                                c >= 0x80 && c <= 0xBF ? "middle" : "start", c);
            }
        }
        if (e->child && check_text(call, e) < 0)
            return DSS_ERR;
    }
    return DSS_OK;
}

/* A top-level string member whose shape is an enum must hold one of its values: DynamoDB's
 * request validation refuses {"ReturnConsumedCapacity": "ALL"} before the operation runs.
 * (Nested enums -- KeyType, AttributeType -- are checked where they are read, with their
 * paths.) Called after check_value(), so every member here has its model's JSON type. */
static int check_enums(struct dss_call *call, const cJSON *model, const cJSON *input, const cJSON *params)
{
    const char *name;
    const cJSON *members = cJSON_GetObjectItemCaseSensitive(shape_of(model, input, &name), "members");
    const cJSON *v;
    cJSON_ArrayForEach(v, params) {
        const cJSON *ref = cJSON_GetObjectItemCaseSensitive(members, v->string);
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(shape_of(model, ref, &name), "enum");
        if (!cJSON_IsString(v) || !cJSON_IsArray(choices))
            continue;
        const cJSON *c;
        int found = 0;
        cJSON_ArrayForEach(c, choices)
            found |= cJSON_IsString(c) && strcmp(c->valuestring, v->valuestring) == 0;
        if (!found)
            return enum_error(call, v, choices);
    }
    return DSS_OK;
}

int ddb_check_request(struct dss_call *call, const char *op, const cJSON *params)
{
    const cJSON *model = dss_model("dynamodb");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(dss_model_operation(model, op), "input");
    if (check_text(call, params) < 0
        || (input && (check_value(call, model, input, params) < 0 || check_enums(call, model, input, params) < 0)))
        return DSS_ERR;
    /* cJSON ends a string at \u0000, so such a value reached us cut short: storing or matching
     * the cut value could overwrite another item, so the request is refused. */
    if (dss_call_params_nul(call))
        return dss_fail(call, DSS_E_ValidationException,
                        "One or more parameter values were invalid: strings holding the character U+0000 are not supported by this emulator");
    return DSS_OK;
}
