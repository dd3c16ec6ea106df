/* parameters.c -- AWS Systems Manager Parameter Store, API 2014-11-06, JSON 1.1 (X-Amz-Target
 * AmazonSSM.*; the operations are listed in ssm.c's table, the table in parameters.h).
 *
 * Supported: PutParameter (Type String / StringList / SecureString, Overwrite, Description,
 * Tags at creation, Tier Standard / Advanced / Intelligent-Tiering, DataType text /
 * aws:ec2:image / aws:ssm:integration, AllowedPattern recorded), GetParameter (WithDecryption),
 * GetParameters (InvalidParameters), GetParametersByPath (Recursive, ParameterFilters Type /
 * KeyId / Label / tag:, MaxResults, NextToken), DeleteParameter, DeleteParameters,
 * DescribeParameters (Filters, or ParameterFilters Name / Path / Type / KeyId / Tier /
 * DataType / tag:, MaxResults, NextToken).
 *
 * Checked as AWS checks them: name shape (letters, digits, . - _ and /; a path starts with /;
 * no aws/ssm prefix; at most 15 levels), ParameterAlreadyExists without Overwrite, a Type
 * when creating, the value size per tier (4,096 characters Standard, 8,192 Advanced; an
 * Intelligent-Tiering parameter becomes Advanced when it needs to), no downgrade from Advanced,
 * Tags together with Overwrite, list sizes (10 names, MaxResults 10 or 50). Every overwrite
 * makes a new Version, even with the same value.
 *
 * Why one row per parameter: the scheduler keeps its settings here (/dss/S/automation) and
 * reads the current value; nothing in dss reads history.
 *
 * AWS's public parameter for the latest Amazon Linux 2023 image (/aws/service/ami-amazon-linux-
 * latest/al2023-ami-kernel-default-x86_64, and -arm64) answers GetParameter with a fixed image id,
 * so a tool that looks up its AMI the way AWS recommends (dss-scheduler provision does) works
 * unchanged here.
 *
 * Limitations: no version history, labels, selectors (name:version) or ARNs as names;
 * AllowedPattern is stored, not enforced; no KMS -- a SecureString read without
 * WithDecryption answers the value base64-encoded, standing in for the ciphertext; no
 * parameter policies; parameters are shared by every region.
 */
#include "ssm/parameters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "ec2/ec2.h"
#include "util.h"

#define NAME_MAX_BYTES 2048
#define LEVELS_MAX 15
#define DESCRIPTION_MAX 1024
#define STANDARD_VALUE_MAX 4096
#define ADVANCED_VALUE_MAX 8192
#define NAMES_MAX 10
#define SECURE_KEY_ID "alias/aws/ssm"
#define MODIFIED_BY "arn:aws:iam::" EC2_ACCOUNT_ID ":root"

static const char name_rules[] =
    "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can "
    "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and "
    "the following 3 symbols .-_";

/* Columns of every SELECT below, in this order. */
#define PARAM_COLUMNS "name, type, value, description, allowed_pattern, version, modified_ms, tier, data_type, tags"
enum { C_NAME, C_TYPE, C_VALUE, C_DESCRIPTION, C_PATTERN, C_VERSION, C_MODIFIED, C_TIER, C_DATA_TYPE, C_TAGS };

static const cJSON *obj(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* Characters (UTF-8 code points) in s: what AWS's size limits count. */
static size_t char_count(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

static int is_one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return 1;
    return 0;
}

static const char *const types[] = {"String", "StringList", "SecureString", NULL};
static const char *const tiers[] = {"Standard", "Advanced", "Intelligent-Tiering", NULL};
static const char *const data_types[] = {"text", "aws:ec2:image", "aws:ssm:integration", NULL};

/* The error for a missing required member, worded as AWS's validation layer words it. */
static int fail_null(struct dss_call *call, const char *member)
{
    return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at '%s' failed to "
                    "satisfy constraint: Member must not be null", member);
}

static int fail_enum(struct dss_call *call, const char *value, const char *member, const char *set)
{
    return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '%.200s' at '%s' failed "
                    "to satisfy constraint: Member must satisfy enum value set: [%s]", value, member, set);
}

/* 0 if name is a valid parameter name for PutParameter, else DSS_ERR with AWS's error. */
static int check_name(struct dss_call *call, const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > NAME_MAX_BYTES)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'name' failed to "
                        "satisfy constraint: Member must have length less than or equal to %d", NAME_MAX_BYTES);
    if (strchr(name, '/') && name[0] != '/')
        return dss_fail(call, DSS_E_ValidationException, "Parameter name must be a fully qualified name.");
    const char *first = name[0] == '/' ? name + 1 : name;
    if (!strncasecmp(first, "aws", 3) || !strncasecmp(first, "ssm", 3))
        return dss_fail(call, DSS_E_ValidationException, "%s", name_rules);
    int levels = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '/') {
            levels++;
            if (p[1] == '/' || p[1] == '\0') /* an empty sub-path */
                return dss_fail(call, DSS_E_ValidationException, "%s", name_rules);
        } else if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
                   !strchr(".-_", *p)) {
            return dss_fail(call, DSS_E_ValidationException, "%s", name_rules);
        }
    }
    if (levels > LEVELS_MAX)
        return dss_fail(call, DSS_E_HierarchyLevelLimitExceeded, "A hierarchy can have a maximum of %d levels. "
                        "For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                        "sysman-parameter-name-constraints.html", LEVELS_MAX);
    return 0;
}

/* arn:aws:ssm:REGION:ACCOUNT:parameter/NAME ("/a/b" and "a" both give "parameter/a..."). */
static void add_arn(struct dss_call *call, cJSON *o, const char *name)
{
    struct buf b;
    buf_init(&b, NAME_MAX_BYTES + 128);
    buf_printf(&b, "arn:aws:ssm:%s:%s:parameter%s%s", dss_call_region(call), EC2_ACCOUNT_ID,
               name[0] == '/' ? "" : "/", name);
    cJSON_AddStringToObject(o, "ARN", b.data ? b.data : "");
    buf_free(&b);
}

/* A Parameter (GetParameter & co.) from the current row. A SecureString read without
 * decryption gets the base64 of its value in place of KMS ciphertext. */
static cJSON *parameter_json(struct dss_call *call, sqlite3_stmt *st, int decrypt)
{
    cJSON *p = cJSON_CreateObject();
    const char *type = col(st, C_TYPE);
    cJSON_AddStringToObject(p, "Name", col(st, C_NAME));
    cJSON_AddStringToObject(p, "Type", type);
    if (!strcmp(type, "SecureString") && !decrypt) {
        struct buf b;
        const char *v = col(st, C_VALUE);
        buf_init(&b, ADVANCED_VALUE_MAX * 8);
        base64_encode(&b, v, strlen(v));
        cJSON_AddStringToObject(p, "Value", b.data ? b.data : "");
        buf_free(&b);
    } else {
        cJSON_AddStringToObject(p, "Value", col(st, C_VALUE));
    }
    cJSON_AddNumberToObject(p, "Version", (double)sqlite3_column_int64(st, C_VERSION));
    cJSON_AddNumberToObject(p, "LastModifiedDate", (double)sqlite3_column_int64(st, C_MODIFIED) / 1000.0);
    add_arn(call, p, col(st, C_NAME));
    cJSON_AddStringToObject(p, "DataType", col(st, C_DATA_TYPE));
    return p;
}

/* A ParameterMetadata (DescribeParameters) from the current row. */
static cJSON *metadata_json(struct dss_call *call, sqlite3_stmt *st)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "Name", col(st, C_NAME));
    add_arn(call, m, col(st, C_NAME));
    cJSON_AddStringToObject(m, "Type", col(st, C_TYPE));
    if (!strcmp(col(st, C_TYPE), "SecureString"))
        cJSON_AddStringToObject(m, "KeyId", SECURE_KEY_ID);
    cJSON_AddNumberToObject(m, "LastModifiedDate", (double)sqlite3_column_int64(st, C_MODIFIED) / 1000.0);
    cJSON_AddStringToObject(m, "LastModifiedUser", MODIFIED_BY);
    if (*col(st, C_DESCRIPTION))
        cJSON_AddStringToObject(m, "Description", col(st, C_DESCRIPTION));
    if (*col(st, C_PATTERN))
        cJSON_AddStringToObject(m, "AllowedPattern", col(st, C_PATTERN));
    cJSON_AddNumberToObject(m, "Version", (double)sqlite3_column_int64(st, C_VERSION));
    cJSON_AddStringToObject(m, "Tier", col(st, C_TIER));
    cJSON_AddArrayToObject(m, "Policies");
    cJSON_AddStringToObject(m, "DataType", col(st, C_DATA_TYPE));
    return m;
}

/* The statement positioned on name's row (SQLITE_ROW), or done (not found). The caller
 * resets it. */
static sqlite3_stmt *lookup(struct dss_call *call, const char *name, int *found)
{
    sqlite3_stmt *st = dss_stmt(call, "SELECT " PARAM_COLUMNS " FROM ssm_parameters WHERE name = ?");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    *found = sqlite3_step(st) == SQLITE_ROW;
    return st;
}

/* ======================================================================================
 * PutParameter
 * ====================================================================================== */

/* The tier the value is stored in: Intelligent-Tiering picks the cheapest that fits, an
 * absent tier keeps the existing one (Standard for a new parameter). 0, or DSS_ERR. */
static int choose_tier(struct dss_call *call, const char *asked, const char *existing, size_t chars,
                       const char **tier)
{
    *tier = asked ? asked : existing ? existing : "Standard";
    if (!strcmp(*tier, "Intelligent-Tiering"))
        *tier = chars > STANDARD_VALUE_MAX || (existing && !strcmp(existing, "Advanced")) ? "Advanced" : "Standard";
    if (existing && !strcmp(existing, "Advanced") && !strcmp(*tier, "Standard"))
        return dss_fail(call, DSS_E_ValidationException, "This parameter uses the advanced-parameter tier. You "
                        "can't downgrade a parameter from the advanced-parameter tier to the standard-parameter "
                        "tier. If necessary, you can delete the advanced parameter and recreate it as a standard "
                        "parameter.");
    if (!strcmp(*tier, "Standard") && chars > STANDARD_VALUE_MAX)
        return dss_fail(call, DSS_E_ValidationException, "Standard tier parameters support a maximum parameter "
                        "value of %d characters. To create a larger parameter value, upgrade the parameter to use "
                        "the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/"
                        "systems-manager/latest/userguide/parameter-store-advanced-parameters.html",
                        STANDARD_VALUE_MAX);
    if (chars > ADVANCED_VALUE_MAX)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'value' failed to "
                        "satisfy constraint: Member must have length less than or equal to %d", ADVANCED_VALUE_MAX);
    return 0;
}

/* Tags at creation: [{Key, Value}], keys 1-128 characters, values up to 256. The text to
 * store, or NULL after dss_fail(). */
static char *tags_text(struct dss_call *call, const cJSON *tags)
{
    const cJSON *t;
    if (tags && !cJSON_IsArray(tags)) {
        dss_fail(call, DSS_E_SerializationException, "Start of list found where not expected");
        return NULL;
    }
    cJSON_ArrayForEach(t, tags) {
        const char *k = cJSON_GetStringValue(obj(t, "Key")), *v = cJSON_GetStringValue(obj(t, "Value"));
        if (!k || !v || !*k || char_count(k) > 128 || char_count(v) > 256) {
            dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'tags' failed to "
                     "satisfy constraint: Member must have a Key of 1 to 128 characters and a Value of at most "
                     "256 characters");
            return NULL;
        }
    }
    return tags ? cJSON_PrintUnformatted(tags) : strdup("[]");
}

/* The request's optional enums and sizes, checked before anything is looked up. */
static int check_put_members(struct dss_call *call, const cJSON *params)
{
    const char *type = dss_param_str(params, "Type"), *tier = dss_param_str(params, "Tier");
    const char *data_type = dss_param_str(params, "DataType"), *desc = dss_param_str(params, "Description");
    if (type && !is_one_of(type, types))
        return fail_enum(call, type, "type", "SecureString, StringList, String");
    if (tier && !is_one_of(tier, tiers))
        return fail_enum(call, tier, "tier", "Standard, Advanced, Intelligent-Tiering");
    if (data_type && !is_one_of(data_type, data_types))
        return dss_fail(call, DSS_E_ValidationException, "The following data type is not supported: %.128s (Data "
                        "type names are all lowercase.)", data_type);
    if (desc && char_count(desc) > DESCRIPTION_MAX)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'description' "
                        "failed to satisfy constraint: Member must have length less than or equal to %d",
                        DESCRIPTION_MAX);
    if (obj(params, "Tags") && cJSON_IsTrue(obj(params, "Overwrite")))
        return dss_fail(call, DSS_E_ValidationException, "Invalid request: tags and overwrite can't be used "
                        "together. To create a parameter with tags, please remove overwrite flag. To update tags "
                        "for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.");
    return 0;
}

/* PutParameter: Name, Value, Type, Overwrite, Description, Tags, Tier, DataType,
 * AllowedPattern, KeyId -> Version, Tier. */
int ssm_op_put_parameter(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "Name"), *value = dss_param_str(params, "Value");
    if (!name)
        return fail_null(call, "name");
    if (!value)
        return fail_null(call, "value");
    if (dss_call_params_nul(call))
        return dss_fail(call, DSS_E_ValidationException, "Parameter names and values cannot contain a NUL "
                        "character.");
    if (check_name(call, name) || check_put_members(call, params))
        return DSS_ERR;
    if (!*value)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '' at 'value' failed "
                        "to satisfy constraint: Member must have length greater than or equal to 1");
    int found;
    sqlite3_stmt *st = lookup(call, name, &found);
    char old_type[16] = "", old_tier[24] = "", *old_desc = NULL, *old_pattern = NULL, *old_data_type = NULL;
    int64_t version = 0;
    if (found) {
        snprintf(old_type, sizeof old_type, "%s", col(st, C_TYPE));
        snprintf(old_tier, sizeof old_tier, "%s", col(st, C_TIER));
        old_desc = strdup(col(st, C_DESCRIPTION));
        old_pattern = strdup(col(st, C_PATTERN));
        old_data_type = strdup(col(st, C_DATA_TYPE));
        version = sqlite3_column_int64(st, C_VERSION);
    }
    sqlite3_reset(st);
    int rc = DSS_ERR;
    char *tags = NULL;
    const char *tier;
    if (found && !cJSON_IsTrue(obj(params, "Overwrite"))) {
        dss_fail(call, DSS_E_ParameterAlreadyExists, "The parameter already exists. To overwrite this value, set "
                 "the overwrite option in the request to true.");
        goto out;
    }
    if (!found && !dss_param_str(params, "Type")) {
        dss_fail(call, DSS_E_ValidationException, "A parameter type is required when you create a parameter.");
        goto out;
    }
    if (choose_tier(call, dss_param_str(params, "Tier"), found ? old_tier : NULL, char_count(value), &tier))
        goto out;
    if (!(tags = tags_text(call, obj(params, "Tags"))))
        goto out;
    const char *type = dss_param_str(params, "Type") ? dss_param_str(params, "Type") : old_type;
    const char *desc = dss_param_str(params, "Description") ? dss_param_str(params, "Description")
                                                            : old_desc ? old_desc : "";
    const char *pattern = dss_param_str(params, "AllowedPattern") ? dss_param_str(params, "AllowedPattern")
                                                                  : old_pattern ? old_pattern : "";
    const char *data_type = dss_param_str(params, "DataType") ? dss_param_str(params, "DataType")
                                                              : old_data_type ? old_data_type : "text";
    st = dss_stmt(call, "INSERT INTO ssm_parameters(name, type, value, description, allowed_pattern, version, "
                        "modified_ms, tier, data_type, tags) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                        "ON CONFLICT(name) DO UPDATE SET type = ?2, value = ?3, description = ?4, "
                        "allowed_pattern = ?5, version = ?6, modified_ms = ?7, tier = ?8, data_type = ?9");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, desc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, pattern, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, version + 1);
    sqlite3_bind_int64(st, 7, dss_clock_now_ms());
    sqlite3_bind_text(st, 8, tier, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, data_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, tags, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    if (!ok) {
        dss_fail(call, DSS_E_InternalServerError, "Internal error.");
        goto out;
    }
    *result = cJSON_CreateObject();
    cJSON_AddNumberToObject(*result, "Version", (double)(version + 1));
    cJSON_AddStringToObject(*result, "Tier", tier);
    rc = DSS_OK;
out:
    free(tags);
    free(old_desc);
    free(old_pattern);
    free(old_data_type);
    return rc;
}

/* ======================================================================================
 * Reading and deleting by name
 * ====================================================================================== */

/* AWS's public parameters a tool may read (any region, no account in the ARN). */
static const struct { const char *name, *value; } public_parameters[] = {
    {"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "ami-0d55e0000000000a1"},
    {"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64", "ami-0d55e0000000000a2"},
};

static cJSON *public_parameter(struct dss_call *call, const char *name)
{
    for (size_t i = 0; i < sizeof public_parameters / sizeof public_parameters[0]; i++) {
        if (strcmp(name, public_parameters[i].name))
            continue;
        char arn[256];
        snprintf(arn, sizeof arn, "arn:aws:ssm:%s::parameter%s", dss_call_region(call), name);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "Name", name);
        cJSON_AddStringToObject(p, "Type", "String");
        cJSON_AddStringToObject(p, "Value", public_parameters[i].value);
        cJSON_AddNumberToObject(p, "Version", 1);
        cJSON_AddNumberToObject(p, "LastModifiedDate", 1700000000.0);
        cJSON_AddStringToObject(p, "ARN", arn);
        cJSON_AddStringToObject(p, "DataType", "text");
        return p;
    }
    return NULL;
}

/* GetParameter: Name, WithDecryption -> Parameter. */
int ssm_op_get_parameter(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "Name");
    if (!name)
        return fail_null(call, "name");
    int found;
    sqlite3_stmt *st = lookup(call, name, &found);
    if (found) {
        *result = cJSON_CreateObject();
        cJSON_AddItemToObject(*result, "Parameter",
                              parameter_json(call, st, cJSON_IsTrue(obj(params, "WithDecryption"))));
    }
    sqlite3_reset(st);
    cJSON *pub = found ? NULL : public_parameter(call, name);
    if (pub) {
        *result = cJSON_CreateObject();
        cJSON_AddItemToObject(*result, "Parameter", pub);
        return DSS_OK;
    }
    /* AWS answers a missing parameter with an empty message. */
    return found ? DSS_OK : dss_fail(call, DSS_E_ParameterNotFound, "%s", "");
}

/* Names: a list of 1 to 10 strings. 0, or DSS_ERR. */
static int check_names(struct dss_call *call, const cJSON *names)
{
    if (!names)
        return fail_null(call, "names");
    int n = cJSON_GetArraySize(names);
    if (!cJSON_IsArray(names) || n < 1 || n > NAMES_MAX)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'names' failed to "
                        "satisfy constraint: Member must have length %s %d", n < 1 ? "greater than or equal to"
                        : "less than or equal to", n < 1 ? 1 : NAMES_MAX);
    const cJSON *v;
    cJSON_ArrayForEach(v, names)
        if (!cJSON_IsString(v) || !*v->valuestring)
            return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'names' failed "
                            "to satisfy constraint: Member must satisfy constraint: [Member must have length "
                            "greater than or equal to 1]");
    return 0;
}

/* GetParameters: Names (1-10), WithDecryption -> Parameters, InvalidParameters (names not
 * found, each once). */
int ssm_op_get_parameters(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *names = obj(params, "Names"), *v;
    if (check_names(call, names))
        return DSS_ERR;
    int decrypt = cJSON_IsTrue(obj(params, "WithDecryption"));
    cJSON *out = cJSON_CreateObject();
    cJSON *found_list = cJSON_AddArrayToObject(out, "Parameters");
    cJSON *invalid = cJSON_AddArrayToObject(out, "InvalidParameters");
    cJSON *seen = cJSON_CreateObject(); /* a name asked twice is answered once */
    cJSON_ArrayForEach(v, names) {
        if (obj(seen, v->valuestring))
            continue;
        cJSON_AddNullToObject(seen, v->valuestring);
        int found;
        sqlite3_stmt *st = lookup(call, v->valuestring, &found);
        if (found)
            cJSON_AddItemToArray(found_list, parameter_json(call, st, decrypt));
        else
            cJSON_AddItemToArray(invalid, cJSON_CreateString(v->valuestring));
        sqlite3_reset(st);
    }
    cJSON_Delete(seen);
    *result = out;
    return DSS_OK;
}

/* Deletes name's row; 1 if there was one. */
static int delete_row(struct dss_call *call, const char *name)
{
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM ssm_parameters WHERE name = ?");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    return sqlite3_changes(dss_db(call)) > 0;
}

/* DeleteParameter: Name -> {}. */
int ssm_op_delete_parameter(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "Name");
    if (!name)
        return fail_null(call, "name");
    if (!delete_row(call, name))
        return dss_fail(call, DSS_E_ParameterNotFound, "%s", "");
    *result = cJSON_CreateObject();
    return DSS_OK;
}

/* DeleteParameters: Names (1-10) -> DeletedParameters, InvalidParameters. */
int ssm_op_delete_parameters(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *names = obj(params, "Names"), *v;
    if (check_names(call, names))
        return DSS_ERR;
    cJSON *out = cJSON_CreateObject();
    cJSON *deleted = cJSON_AddArrayToObject(out, "DeletedParameters");
    cJSON *invalid = cJSON_AddArrayToObject(out, "InvalidParameters");
    cJSON_ArrayForEach(v, names)
        cJSON_AddItemToArray(delete_row(call, v->valuestring) ? deleted : invalid,
                             cJSON_CreateString(v->valuestring));
    *result = out;
    return DSS_OK;
}

/* ======================================================================================
 * Listing: GetParametersByPath and DescribeParameters
 *
 * Both walk the table in name order and filter in C (a parameter store holds hundreds of
 * rows, not millions). NextToken is the hex of the last name answered.
 * ====================================================================================== */

/* Is name under path: one level down, or any depth when recursive? Names without a leading
 * slash sit at the top level ("/"). */
static int under_path(const char *name, const char *path, int recursive)
{
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    const char *rest;
    if (plen == 1) {
        rest = name[0] == '/' ? name + 1 : name;
    } else {
        if (strncmp(name, path, plen) || name[plen] != '/')
            return 0;
        rest = name + plen + 1;
    }
    return *rest && (recursive || !strchr(rest, '/'));
}

static int has_tag(const char *tags_json, const char *key, const cJSON *values)
{
    cJSON *tags = cJSON_Parse(tags_json);
    const cJSON *t, *v;
    int hit = 0;
    cJSON_ArrayForEach(t, tags) {
        const char *k = cJSON_GetStringValue(obj(t, "Key")), *val = cJSON_GetStringValue(obj(t, "Value"));
        if (!k || strcmp(k, key))
            continue;
        hit = !cJSON_GetArraySize(values);
        cJSON_ArrayForEach(v, values)
            hit |= cJSON_IsString(v) && val && !strcmp(v->valuestring, val);
    }
    cJSON_Delete(tags);
    return hit;
}

static int any_value(const cJSON *values, const char *s, const char *option)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, values) {
        if (!cJSON_IsString(v))
            continue;
        if (!strcmp(option, "BeginsWith") ? !strncmp(s, v->valuestring, strlen(v->valuestring))
            : !strcmp(option, "Contains") ? strstr(s, v->valuestring) != NULL : !strcmp(s, v->valuestring))
            return 1;
    }
    return 0;
}

/* Does the current row pass one ParameterStringFilter? The filter was checked already. */
static int row_matches(sqlite3_stmt *st, const cJSON *filter)
{
    const char *key = cJSON_GetStringValue(obj(filter, "Key"));
    const char *option = cJSON_GetStringValue(obj(filter, "Option"));
    const cJSON *values = obj(filter, "Values"), *v;
    if (!strncmp(key, "tag:", 4))
        return has_tag(col(st, C_TAGS), key + 4, values);
    if (!strcmp(key, "Path")) {
        int recursive = option && !strcmp(option, "Recursive");
        cJSON_ArrayForEach(v, values)
            if (cJSON_IsString(v) && under_path(col(st, C_NAME), v->valuestring, recursive))
                return 1;
        return 0;
    }
    if (!strcmp(key, "Name"))
        return any_value(values, col(st, C_NAME), option ? option : "Equals");
    if (!strcmp(key, "Label")) /* no labels are ever attached */
        return 0;
    if (!strcmp(key, "KeyId"))
        return !strcmp(col(st, C_TYPE), "SecureString") && any_value(values, SECURE_KEY_ID, "Equals");
    int column = !strcmp(key, "Type") ? C_TYPE : !strcmp(key, "Tier") ? C_TIER : C_DATA_TYPE;
    return any_value(values, col(st, column), "Equals");
}

/* Checks ParameterFilters against the keys allowed (NULL-terminated) and each key's
 * options. 0, or DSS_ERR with AWS's error. */
static int check_filters(struct dss_call *call, const cJSON *filters, const char *const *keys, const char *valid)
{
    const cJSON *f;
    if (filters && !cJSON_IsArray(filters))
        return dss_fail(call, DSS_E_SerializationException, "Start of list found where not expected");
    cJSON_ArrayForEach(f, filters) {
        const char *key = cJSON_GetStringValue(obj(f, "Key"));
        const char *option = cJSON_GetStringValue(obj(f, "Option"));
        const cJSON *values = obj(f, "Values");
        if (!key)
            return fail_null(call, "parameterFilters.member.key");
        if (strncmp(key, "tag:", 4) && !is_one_of(key, keys))
            return dss_fail(call, DSS_E_InvalidFilterKey, "The following filter key is not valid: %.132s. Valid "
                            "filter keys include: [%s].", key, valid);
        if (values && (!cJSON_IsArray(values) || cJSON_GetArraySize(values) < 1 || cJSON_GetArraySize(values) > 50))
            return dss_fail(call, DSS_E_InvalidFilterValue, "The following filter values are missing : null for "
                            "filter key %.132s.", key);
        if (!values && strncmp(key, "tag:", 4))
            return dss_fail(call, DSS_E_InvalidFilterValue, "The following filter values are missing : null for "
                            "filter key %.132s.", key);
        if (!option)
            continue;
        int ok = !strcmp(key, "Path") ? !strcmp(option, "OneLevel") || !strcmp(option, "Recursive")
               : !strcmp(key, "Name") ? !strcmp(option, "Equals") || !strcmp(option, "BeginsWith") ||
                                        !strcmp(option, "Contains")
               : !strcmp(option, "Equals");
        if (!ok)
            return dss_fail(call, DSS_E_InvalidFilterOption, "The following filter option is not valid: %.16s. "
                            "Valid options include: [%s].", option,
                            !strcmp(key, "Path") ? "Recursive, OneLevel"
                            : !strcmp(key, "Name") ? "BeginsWith, Equals, Contains" : "Equals");
    }
    return 0;
}

/* MaxResults (1..max, default max) and NextToken (hex of the last name answered) into *after
 * (caller frees). 0, or DSS_ERR. */
static int page_params(struct dss_call *call, const cJSON *params, int64_t max, int64_t *limit, char **after)
{
    *limit = max;
    *after = NULL;
    int r = dss_param_int(params, "MaxResults", limit);
    if (r < 0 || (r == 0 && (*limit < 1 || *limit > max)))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '%lld' at "
                        "'maxResults' failed to satisfy constraint: Member must have value %s %lld",
                        (long long)*limit, *limit < 1 ? "greater than or equal to" : "less than or equal to",
                        (long long)(*limit < 1 ? 1 : max));
    const char *tok = dss_param_str(params, "NextToken");
    if (!tok)
        return 0;
    size_t n = strlen(tok);
    char *name = n && n / 2 <= NAME_MAX_BYTES ? malloc(n / 2 + 1) : NULL;
    long len = name ? hex_decode(tok, n, (unsigned char *)name) : -1;
    if (len <= 0 || memchr(name, '\0', (size_t)len)) {
        free(name);
        return dss_fail(call, DSS_E_InvalidNextToken, "The nextToken is not valid.");
    }
    name[n / 2] = '\0';
    *after = name;
    return 0;
}

static void add_next_token(cJSON *out, const char *last_name)
{
    size_t n = strlen(last_name);
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return;
    hex_encode((const unsigned char *)last_name, n, hex);
    cJSON_AddStringToObject(out, "NextToken", hex);
    free(hex);
}

/* Walks rows in name order after `after`, keeping those that pass want(ctx) and all
 * filters, at most limit of them; adds each with make() to list, and NextToken when more
 * remain. */
struct walk {
    struct dss_call *call;
    const cJSON *filters;
    int (*want)(const struct walk *w, sqlite3_stmt *st);
    cJSON *(*make)(const struct walk *w, sqlite3_stmt *st);
    const char *path;   /* GetParametersByPath */
    int recursive;
    int decrypt;
};

static void walk_rows(const struct walk *w, const char *after, int64_t limit, cJSON *out, cJSON *list)
{
    sqlite3_stmt *st = dss_stmt(w->call, "SELECT " PARAM_COLUMNS " FROM ssm_parameters WHERE name > ? "
                                         "ORDER BY name");
    sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
    int64_t n = 0;
    char *last = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int keep = !w->want || w->want(w, st);
        const cJSON *f;
        cJSON_ArrayForEach(f, w->filters)
            keep = keep && row_matches(st, f);
        if (!keep)
            continue;
        if (n == limit && last) { /* (limit >= 1: validated) */
            add_next_token(out, last);
            break;
        }
        cJSON_AddItemToArray(list, w->make(w, st));
        free(last);
        last = strdup(col(st, C_NAME));
        n++;
    }
    sqlite3_reset(st);
    free(last);
}

static int want_under_path(const struct walk *w, sqlite3_stmt *st)
{
    return under_path(col(st, C_NAME), w->path, w->recursive);
}

static cJSON *make_parameter(const struct walk *w, sqlite3_stmt *st)
{
    return parameter_json(w->call, st, w->decrypt);
}

static cJSON *make_metadata(const struct walk *w, sqlite3_stmt *st)
{
    return metadata_json(w->call, st);
}

/* GetParametersByPath: Path, Recursive, ParameterFilters, WithDecryption, MaxResults (1-10),
 * NextToken -> Parameters, NextToken. */
int ssm_op_get_parameters_by_path(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const keys[] = {"Type", "KeyId", "Label", NULL};
    const char *path = dss_param_str(params, "Path");
    if (!path)
        return fail_null(call, "path");
    if (path[0] != '/')
        return dss_fail(call, DSS_E_ValidationException, "The parameter doesn't meet the parameter name "
                        "requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed "
                        "with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the "
                        "following symbols: . (period), - (hyphen), _ (underscore). Special characters are not "
                        "allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid "
                        "example: /get/parameters2-/by1./path0_.");
    const cJSON *filters = obj(params, "ParameterFilters");
    int64_t limit;
    char *after;
    if (check_filters(call, filters, keys, "Type, KeyId, Label, tag") || page_params(call, params, 10, &limit, &after))
        return DSS_ERR;
    struct walk w = {call, filters, want_under_path, make_parameter, path, cJSON_IsTrue(obj(params, "Recursive")),
                     cJSON_IsTrue(obj(params, "WithDecryption"))};
    cJSON *out = cJSON_CreateObject();
    walk_rows(&w, after, limit, out, cJSON_AddArrayToObject(out, "Parameters"));
    free(after);
    *result = out;
    return DSS_OK;
}

/* The legacy Filters (Key Name | Type | KeyId, Values) as ParameterStringFilters: Name
 * matches names that begin with a value. A new array, or NULL after dss_fail(). */
static cJSON *legacy_filters(struct dss_call *call, const cJSON *filters)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *f;
    cJSON_ArrayForEach(f, filters) {
        const char *key = cJSON_GetStringValue(obj(f, "Key"));
        if (!key || !is_one_of(key, (const char *const[]){"Name", "Type", "KeyId", NULL})) {
            cJSON_Delete(out);
            fail_enum(call, key ? key : "null", "filters.member.key", "Name, Type, KeyId");
            return NULL;
        }
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "Key", key);
        if (!strcmp(key, "Name"))
            cJSON_AddStringToObject(g, "Option", "BeginsWith");
        cJSON_AddItemToObject(g, "Values", cJSON_Duplicate(obj(f, "Values"), 1));
        cJSON_AddItemToArray(out, g);
    }
    return out;
}

/* DescribeParameters: Filters | ParameterFilters, MaxResults (1-50), NextToken ->
 * Parameters (metadata, no values), NextToken. */
int ssm_op_describe_parameters(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const keys[] = {"Name", "Path", "Type", "KeyId", "Tier", "DataType", "Label", NULL};
    const cJSON *legacy = obj(params, "Filters"), *filters = obj(params, "ParameterFilters");
    if (cJSON_GetArraySize(legacy) && cJSON_GetArraySize(filters))
        return dss_fail(call, DSS_E_ValidationException, "You can use either Filters or ParameterFilters in a "
                        "single request.");
    cJSON *converted = NULL;
    if (cJSON_GetArraySize(legacy) && !(converted = legacy_filters(call, legacy)))
        return DSS_ERR;
    int64_t limit;
    char *after = NULL;
    const cJSON *use = converted ? converted : filters;
    int rc = DSS_ERR;
    if (check_filters(call, use, keys, "Name, Path, Type, KeyId, Tier, DataType, Label, tag") ||
        page_params(call, params, 50, &limit, &after))
        goto out;
    struct walk w = {call, use, NULL, make_metadata, NULL, 0, 0};
    cJSON *out = cJSON_CreateObject();
    walk_rows(&w, after, limit, out, cJSON_AddArrayToObject(out, "Parameters"));
    *result = out;
    rc = DSS_OK;
out:
    free(after);
    cJSON_Delete(converted);
    return rc;
}
