/* asl.c -- see asl.h. Loading is one pass over the states plus a pass resolving Next names. */
#include "asl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"

struct loader {
    struct asl_machine *m;
    asl_resolve_fn resolve;
    char *err;
    size_t errlen;
};

static int fail(struct loader *L, const char *state, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct loader *L, const char *state, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (state)
        snprintf(L->err, L->errlen, "State \"%s\": field \"%s\": %s", state, field, msg);
    else
        snprintf(L->err, L->errlen, "field \"%s\": %s", field, msg);
    return -1;
}

const char *asl_kind_name(enum asl_kind k)
{
    static const char *const n[] = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"};
    return n[k];
}

int asl_find(const struct asl_machine *m, const char *name)
{
    for (int i = 0; i < m->nstates; i++)
        if (strcmp(m->states[i].name, name) == 0)
            return i;
    return -1;
}

int asl_error_matches(const cJSON *errors, const char *error)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        const char *s = e->valuestring;
        /* As on Step Functions, States.ALL catches neither runtime errors nor the terminal
         * States.DataLimitExceeded: only a retrier or catcher naming it matches it. */
        if (strcmp(s, "States.ALL") == 0 && strcmp(error, "States.Runtime") != 0 &&
            strcmp(error, "States.DataLimitExceeded") != 0)
            return 1;
        /* States.TaskFailed matches any error a task reports, but not States.Timeout. */
        if (strcmp(s, "States.TaskFailed") == 0 && strcmp(error, "States.Timeout") != 0 &&
            strcmp(error, "States.Runtime") != 0)
            return 1;
        if (strcmp(s, error) == 0)
            return 1;
    }
    return 0;
}

/* ---- field helpers ---- */

static int check_fields(struct loader *L, const char *state, const cJSON *obj, const char *const *allowed)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(f->string, allowed[i]) == 0;
        if (!ok)
            return fail(L, state, f->string, "not a field of this state type");
    }
    return 0;
}

static int get_string(struct loader *L, const char *state, const cJSON *obj, const char *field, int required,
                      const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = NULL;
    if (!v) {
        if (required)
            return fail(L, state, field, "required");
        return 0;
    }
    if (!cJSON_IsString(v))
        return fail(L, state, field, "must be a string");
    *out = v->valuestring;
    return 0;
}

/* A path field: absent -> NULL, JSON null -> discard, string -> checked path. */
static int get_path(struct loader *L, const char *state, const cJSON *obj, const char *field, const char **out,
                    int *discard)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = NULL;
    *discard = 0;
    if (!v)
        return 0;
    if (cJSON_IsNull(v)) {
        *discard = 1;
        return 0;
    }
    if (!cJSON_IsString(v))
        return fail(L, state, field, "must be a path string or null");
    char why[256];
    if (jsonpath_check(v->valuestring, why, sizeof why))
        return fail(L, state, field, "invalid path \"%s\": %s", v->valuestring, why);
    if (strcmp(field, "ResultPath") == 0 && v->valuestring[1] == '$')
        return fail(L, state, field, "must be a reference path starting with '$', not '$$'");
    *out = v->valuestring;
    return 0;
}

/* Parameters / ResultSelector templates: every "x.$" key holds a valid path. */
static int check_template(struct loader *L, const char *state, const char *field, const cJSON *t)
{
    if (!cJSON_IsObject(t) && !cJSON_IsArray(t))
        return 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, t)
    {
        size_t n = f->string ? strlen(f->string) : 0;
        if (n > 2 && strcmp(f->string + n - 2, ".$") == 0) {
            char why[256];
            if (!cJSON_IsString(f))
                return fail(L, state, field, "\"%s\" must be a path string", f->string);
            if (strncmp(f->valuestring, "States.", 7) == 0)
                return fail(L, state, field, "\"%s\": intrinsic functions are not supported", f->string);
            if (jsonpath_check(f->valuestring, why, sizeof why))
                return fail(L, state, field, "\"%s\": invalid path \"%s\": %s", f->string, f->valuestring, why);
        } else if (check_template(L, state, field, f)) {
            return -1;
        }
    }
    return 0;
}

static int check_errors(struct loader *L, const char *state, const char *field, const cJSON *errs)
{
    if (!cJSON_IsArray(errs) || cJSON_GetArraySize(errs) == 0)
        return fail(L, state, field, "must be a non-empty array of error names");
    const cJSON *e;
    int i = 0, n = cJSON_GetArraySize(errs);
    cJSON_ArrayForEach(e, errs)
    {
        if (!cJSON_IsString(e))
            return fail(L, state, field, "must hold only strings");
        if (strcmp(e->valuestring, "States.ALL") == 0 && n != 1)
            return fail(L, state, field, "States.ALL must appear alone");
        i++;
    }
    return 0;
}

/* ---- Retry / Catch ---- */

static int load_retry(struct loader *L, struct asl_state *s, const cJSON *arr)
{
    char field[64];
    if (!cJSON_IsArray(arr))
        return fail(L, s->name, "Retry", "must be an array");
    s->nretry = cJSON_GetArraySize(arr);
    s->retry = calloc((size_t)s->nretry + 1, sizeof *s->retry);
    if (!s->retry)
        return fail(L, s->name, "Retry", "out of memory");
    static const char *const allowed[] = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                                          "MaxDelaySeconds", "JitterStrategy", "Comment", NULL};
    for (int i = 0; i < s->nretry; i++) {
        const cJSON *r = cJSON_GetArrayItem(arr, i);
        struct asl_retrier *t = &s->retry[i];
        snprintf(field, sizeof field, "Retry[%d]", i);
        if (!cJSON_IsObject(r))
            return fail(L, s->name, field, "must be an object");
        if (check_fields(L, s->name, r, allowed))
            return -1;
        snprintf(field, sizeof field, "Retry[%d].ErrorEquals", i);
        t->errors = cJSON_GetObjectItemCaseSensitive(r, "ErrorEquals");
        if (check_errors(L, s->name, field, t->errors))
            return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, t->errors) if (strcmp(e->valuestring, "States.ALL") == 0 && i != s->nretry - 1) return fail(
            L, s->name, field, "a retrier with States.ALL must be the last one");
        t->interval_s = 1;
        t->max_attempts = 3;
        t->backoff = 2.0;
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(r, "IntervalSeconds"))) {
            snprintf(field, sizeof field, "Retry[%d].IntervalSeconds", i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble != floor(v->valuedouble) ||
                v->valuedouble > 99999999)
                return fail(L, s->name, field, "must be a positive integer");
            t->interval_s = v->valuedouble;
        }
        if ((v = cJSON_GetObjectItemCaseSensitive(r, "MaxAttempts"))) {
            snprintf(field, sizeof field, "Retry[%d].MaxAttempts", i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
                v->valuedouble > 99999999)
                return fail(L, s->name, field, "must be a non-negative integer");
            t->max_attempts = (int)v->valuedouble;
        }
        if ((v = cJSON_GetObjectItemCaseSensitive(r, "BackoffRate"))) {
            snprintf(field, sizeof field, "Retry[%d].BackoffRate", i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 1.0)
                return fail(L, s->name, field, "must be a number >= 1.0");
            t->backoff = v->valuedouble;
        }
        if ((v = cJSON_GetObjectItemCaseSensitive(r, "MaxDelaySeconds"))) {
            snprintf(field, sizeof field, "Retry[%d].MaxDelaySeconds", i);
            if (!cJSON_IsNumber(v) || v->valuedouble < 1)
                return fail(L, s->name, field, "must be a positive integer");
            t->max_delay_s = v->valuedouble;
        }
    }
    return 0;
}

static int load_catch(struct loader *L, struct asl_state *s, const cJSON *arr)
{
    char field[64];
    if (!cJSON_IsArray(arr))
        return fail(L, s->name, "Catch", "must be an array");
    s->ncatch = cJSON_GetArraySize(arr);
    s->catchers = calloc((size_t)s->ncatch + 1, sizeof *s->catchers);
    if (!s->catchers)
        return fail(L, s->name, "Catch", "out of memory");
    static const char *const allowed[] = {"ErrorEquals", "Next", "ResultPath", "Comment", NULL};
    for (int i = 0; i < s->ncatch; i++) {
        const cJSON *r = cJSON_GetArrayItem(arr, i);
        struct asl_catcher *c = &s->catchers[i];
        snprintf(field, sizeof field, "Catch[%d]", i);
        if (!cJSON_IsObject(r))
            return fail(L, s->name, field, "must be an object");
        if (check_fields(L, s->name, r, allowed))
            return -1;
        snprintf(field, sizeof field, "Catch[%d].ErrorEquals", i);
        c->errors = cJSON_GetObjectItemCaseSensitive(r, "ErrorEquals");
        if (check_errors(L, s->name, field, c->errors))
            return -1;
        snprintf(field, sizeof field, "Catch[%d].Next", i);
        if (get_string(L, s->name, r, "Next", 1, &c->next))
            return fail(L, s->name, field, "required, a state name");
        snprintf(field, sizeof field, "Catch[%d].ResultPath", i);
        if (get_path(L, s->name, r, "ResultPath", &c->result_path, &c->result_discard))
            return -1;
    }
    return 0;
}

/* ---- Choice rules ---- */

static const struct {
    const char *name;
    enum asl_op op;
    int kind; /* 0 string, 1 number, 2 bool, 3 is-test (bool operand) */
} ops[] = {
    {"StringEquals", OP_STR_EQ, 0},           {"StringLessThan", OP_STR_LT, 0},
    {"StringGreaterThan", OP_STR_GT, 0},      {"StringLessThanEquals", OP_STR_LE, 0},
    {"StringGreaterThanEquals", OP_STR_GE, 0}, {"StringMatches", OP_STR_MATCHES, 0},
    {"NumericEquals", OP_NUM_EQ, 1},          {"NumericLessThan", OP_NUM_LT, 1},
    {"NumericGreaterThan", OP_NUM_GT, 1},     {"NumericLessThanEquals", OP_NUM_LE, 1},
    {"NumericGreaterThanEquals", OP_NUM_GE, 1}, {"BooleanEquals", OP_BOOL_EQ, 2},
    {"IsPresent", OP_IS_PRESENT, 3},          {"IsNull", OP_IS_NULL, 3},
    {"IsString", OP_IS_STRING, 3},            {"IsNumeric", OP_IS_NUMERIC, 3},
    {"IsBoolean", OP_IS_BOOLEAN, 3},
};

static int load_rule(struct loader *L, const char *state, const char *field, const cJSON *r, struct asl_rule *out,
                     int top)
{
    char sub[128];
    if (!cJSON_IsObject(r))
        return fail(L, state, field, "must be an object");
    const cJSON *f;
    int found = 0;
    cJSON_ArrayForEach(f, r)
    {
        const char *k = f->string;
        if (strcmp(k, "Variable") == 0 || strcmp(k, "Comment") == 0 || (top && strcmp(k, "Next") == 0))
            continue;
        if (strcmp(k, "Next") == 0)
            return fail(L, state, field, "\"Next\" is only allowed on a top-level choice rule");
        if (found)
            return fail(L, state, field, "more than one comparison (\"%s\")", k);
        found = 1;
        if (strcmp(k, "And") == 0 || strcmp(k, "Or") == 0) {
            out->op = k[0] == 'A' ? OP_AND : OP_OR;
            if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) == 0)
                return fail(L, state, field, "\"%s\" must be a non-empty array of rules", k);
            out->nsub = cJSON_GetArraySize(f);
            out->sub = calloc((size_t)out->nsub, sizeof *out->sub);
            if (!out->sub)
                return fail(L, state, field, "out of memory");
            for (int i = 0; i < out->nsub; i++) {
                snprintf(sub, sizeof sub, "%s.%s[%d]", field, k, i);
                if (load_rule(L, state, sub, cJSON_GetArrayItem(f, i), &out->sub[i], 0))
                    return -1;
            }
            continue;
        }
        if (strcmp(k, "Not") == 0) {
            out->op = OP_NOT;
            out->nsub = 1;
            out->sub = calloc(1, sizeof *out->sub);
            if (!out->sub)
                return fail(L, state, field, "out of memory");
            snprintf(sub, sizeof sub, "%s.Not", field);
            if (load_rule(L, state, sub, f, out->sub, 0))
                return -1;
            continue;
        }
        size_t kl = strlen(k);
        int is_path = kl > 4 && strcmp(k + kl - 4, "Path") == 0;
        size_t base = is_path ? kl - 4 : kl;
        int hit = -1;
        for (size_t i = 0; i < sizeof ops / sizeof *ops && hit < 0; i++)
            if (strlen(ops[i].name) == base && strncmp(k, ops[i].name, base) == 0)
                hit = (int)i;
        if (hit < 0 || (is_path && (ops[hit].kind == 3 || ops[hit].op == OP_STR_MATCHES)))
            return fail(L, state, field, "unknown comparison operator \"%s\"", k);
        out->op = ops[hit].op;
        out->value = f;
        out->value_is_path = is_path;
        int kind = ops[hit].kind;
        if (is_path) {
            char why[256];
            if (!cJSON_IsString(f) || jsonpath_check(f->valuestring, why, sizeof why))
                return fail(L, state, field, "\"%s\" must be a valid path", k);
        } else if ((kind == 0 && !cJSON_IsString(f)) || (kind == 1 && !cJSON_IsNumber(f)) ||
                   ((kind == 2 || kind == 3) && !cJSON_IsBool(f))) {
            return fail(L, state, field, "\"%s\" needs a %s operand", k,
                        kind == 0 ? "string" : kind == 1 ? "numeric" : "boolean");
        }
        const cJSON *var = cJSON_GetObjectItemCaseSensitive(r, "Variable");
        char why[256];
        if (!cJSON_IsString(var))
            return fail(L, state, field, "\"Variable\" is required with \"%s\"", k);
        if (jsonpath_check(var->valuestring, why, sizeof why))
            return fail(L, state, field, "\"Variable\": invalid path \"%s\": %s", var->valuestring, why);
        out->variable = var->valuestring;
    }
    if (!found)
        return fail(L, state, field, "no comparison operator");
    if ((out->op == OP_AND || out->op == OP_OR || out->op == OP_NOT) &&
        cJSON_GetObjectItemCaseSensitive(r, "Variable"))
        return fail(L, state, field, "\"Variable\" is not allowed with And/Or/Not");
    if (top && get_string(L, state, r, "Next", 1, &out->next))
        return fail(L, state, field, "\"Next\" is required on a top-level choice rule");
    return 0;
}

static void free_rule(struct asl_rule *r)
{
    for (int i = 0; i < r->nsub; i++)
        free_rule(&r->sub[i]);
    free(r->sub);
}

/* ---- service integrations ---- */

/* A Task whose Resource is a Step Functions service integration ("arn:aws:states:::..."): only
 * states:startExecution (request-response) is run here, and its Parameters must name the state
 * machine and nothing StartExecution does not take. */
static int load_integration(struct loader *L, struct asl_state *s)
{
    if (strcmp(s->resource, ASL_START_EXECUTION_ARN) != 0)
        return fail(L, s->name, "Resource",
                    "service integration \"%s\" is not supported (the one supported is \"%s\", request-response)",
                    s->resource, ASL_START_EXECUTION_ARN);
    s->integration = ASL_SFN_START_EXECUTION;
    s->task = -1;
    if (!cJSON_IsObject(s->parameters))
        return fail(L, s->name, "Parameters", "required by %s: an object with StateMachineArn", s->resource);
    static const char *const known[] = {"StateMachineArn", "Input", "Name", NULL};
    int has_arn = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, s->parameters)
    {
        size_t n = strlen(f->string);
        if (n > 2 && strcmp(f->string + n - 2, ".$") == 0)
            n -= 2;
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = strlen(known[i]) == n && strncmp(f->string, known[i], n) == 0;
        if (!ok)
            return fail(L, s->name, "Parameters", "\"%s\" is not a parameter of StartExecution (StateMachineArn, "
                        "Input, Name)", f->string);
        has_arn |= n == strlen("StateMachineArn") && strncmp(f->string, "StateMachineArn", n) == 0;
    }
    if (!has_arn)
        return fail(L, s->name, "Parameters", "StateMachineArn is required by %s", s->resource);
    return 0;
}

/* ---- states ---- */

static int load_state(struct loader *L, struct asl_state *s, const cJSON *def)
{
    static const char *const common[] = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath", NULL};
    static const char *const task_f[] = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath",
                                         "Resource", "Parameters", "ResultSelector", "ResultPath", "Retry",
                                         "Catch", NULL};
    static const char *const pass_f[] = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath",
                                         "Parameters", "Result", "ResultPath", NULL};
    static const char *const choice_f[] = {"Type", "Comment", "InputPath", "OutputPath", "Choices", "Default",
                                           NULL};
    static const char *const wait_f[] = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath",
                                         "Seconds", "SecondsPath", "Timestamp", "TimestampPath", NULL};
    static const char *const succeed_f[] = {"Type", "Comment", "InputPath", "OutputPath", NULL};
    static const char *const fail_f[] = {"Type", "Comment", "Error", "Cause", NULL};
    (void)common;
    if (!cJSON_IsObject(def))
        return fail(L, s->name, "Type", "the state must be an object");
    const char *type;
    if (get_string(L, s->name, def, "Type", 1, &type) || !type)
        return -1;
    const char *const *allowed;
    if (strcmp(type, "Task") == 0) {
        s->kind = ASL_TASK;
        allowed = task_f;
    } else if (strcmp(type, "Pass") == 0) {
        s->kind = ASL_PASS;
        allowed = pass_f;
    } else if (strcmp(type, "Choice") == 0) {
        s->kind = ASL_CHOICE;
        allowed = choice_f;
    } else if (strcmp(type, "Wait") == 0) {
        s->kind = ASL_WAIT;
        allowed = wait_f;
    } else if (strcmp(type, "Succeed") == 0) {
        s->kind = ASL_SUCCEED;
        allowed = succeed_f;
    } else if (strcmp(type, "Fail") == 0) {
        s->kind = ASL_FAIL;
        allowed = fail_f;
    } else if (strcmp(type, "Map") == 0 || strcmp(type, "Parallel") == 0) {
        return fail(L, s->name, "Type", "\"%s\" states are not supported", type);
    } else {
        return fail(L, s->name, "Type", "unknown state type \"%s\"", type);
    }
    if (check_fields(L, s->name, def, allowed))
        return -1;

    /* Transitions. */
    if (s->kind != ASL_CHOICE && s->kind != ASL_SUCCEED && s->kind != ASL_FAIL) {
        const cJSON *end = cJSON_GetObjectItemCaseSensitive(def, "End");
        if (get_string(L, s->name, def, "Next", 0, &s->next))
            return -1;
        if (end && !cJSON_IsBool(end))
            return fail(L, s->name, "End", "must be true or false");
        int is_end = cJSON_IsTrue(end);
        if (s->next && is_end)
            return fail(L, s->name, "Next", "a state cannot have both Next and End");
        if (!s->next && !is_end)
            return fail(L, s->name, "Next", "required (or \"End\": true)");
    }
    if (get_path(L, s->name, def, "InputPath", &s->input_path, &s->input_discard) ||
        get_path(L, s->name, def, "OutputPath", &s->output_path, &s->output_discard) ||
        get_path(L, s->name, def, "ResultPath", &s->result_path, &s->result_discard))
        return -1;
    s->parameters = cJSON_GetObjectItemCaseSensitive(def, "Parameters");
    s->result_selector = cJSON_GetObjectItemCaseSensitive(def, "ResultSelector");
    s->result = cJSON_GetObjectItemCaseSensitive(def, "Result");
    if (s->parameters && check_template(L, s->name, "Parameters", s->parameters))
        return -1;
    if (s->result_selector && check_template(L, s->name, "ResultSelector", s->result_selector))
        return -1;

    switch (s->kind) {
    case ASL_TASK: {
        if (get_string(L, s->name, def, "Resource", 1, &s->resource))
            return -1;
        if (strncmp(s->resource, "arn:aws:states:::", 17) == 0) {
            if (load_integration(L, s))
                return -1;
        } else {
            s->task = L->resolve ? L->resolve(s->resource) : 0;
            if (s->task < 0)
                return fail(L, s->name, "Resource", "unknown task \"%s\"", s->resource);
        }
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(def, "Retry")) && load_retry(L, s, v))
            return -1;
        if ((v = cJSON_GetObjectItemCaseSensitive(def, "Catch")) && load_catch(L, s, v))
            return -1;
        break;
    }
    case ASL_CHOICE: {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(def, "Choices");
        if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) == 0)
            return fail(L, s->name, "Choices", "required, a non-empty array of rules");
        s->nchoices = cJSON_GetArraySize(ch);
        s->choices = calloc((size_t)s->nchoices, sizeof *s->choices);
        if (!s->choices)
            return fail(L, s->name, "Choices", "out of memory");
        for (int i = 0; i < s->nchoices; i++) {
            char field[64];
            snprintf(field, sizeof field, "Choices[%d]", i);
            if (load_rule(L, s->name, field, cJSON_GetArrayItem(ch, i), &s->choices[i], 1))
                return -1;
        }
        if (get_string(L, s->name, def, "Default", 0, &s->default_next))
            return -1;
        break;
    }
    case ASL_WAIT: {
        int n = 0;
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(def, "Seconds"))) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 99999999)
                return fail(L, s->name, "Seconds", "must be a non-negative number");
            s->seconds = v->valuedouble;
            s->has_seconds = 1;
            n++;
        }
        int d;
        if (get_path(L, s->name, def, "SecondsPath", &s->seconds_path, &d) ||
            get_path(L, s->name, def, "TimestampPath", &s->timestamp_path, &d) ||
            get_string(L, s->name, def, "Timestamp", 0, &s->timestamp))
            return -1;
        n += !!s->seconds_path + !!s->timestamp_path + !!s->timestamp;
        if (n != 1)
            return fail(L, s->name, "Seconds", "exactly one of Seconds, SecondsPath, Timestamp, TimestampPath");
        break;
    }
    case ASL_FAIL:
        if (get_string(L, s->name, def, "Error", 0, &s->error) || get_string(L, s->name, def, "Cause", 0, &s->cause))
            return -1;
        break;
    default:
        break;
    }
    return 0;
}

static int resolve_next(struct loader *L, const char *state, const char *field, const char *next, int *idx)
{
    *idx = -1;
    if (!next)
        return 0;
    *idx = asl_find(L->m, next);
    if (*idx < 0)
        return fail(L, state, field, "no state named \"%s\"", next);
    return 0;
}

static int resolve_all(struct loader *L)
{
    struct asl_machine *m = L->m;
    for (int i = 0; i < m->nstates; i++) {
        struct asl_state *s = &m->states[i];
        char field[64];
        if (resolve_next(L, s->name, "Next", s->next, &s->next_idx) ||
            resolve_next(L, s->name, "Default", s->default_next, &s->default_idx))
            return -1;
        for (int k = 0; k < s->ncatch; k++) {
            snprintf(field, sizeof field, "Catch[%d].Next", k);
            if (resolve_next(L, s->name, field, s->catchers[k].next, &s->catchers[k].next_idx))
                return -1;
        }
        for (int k = 0; k < s->nchoices; k++) {
            snprintf(field, sizeof field, "Choices[%d].Next", k);
            if (resolve_next(L, s->name, field, s->choices[k].next, &s->choices[k].next_idx))
                return -1;
        }
    }
    return 0;
}

struct asl_machine *asl_load(const char *text, size_t len, asl_resolve_fn resolve, char *err, size_t errlen)
{
    struct asl_machine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct loader L = {m, resolve, err, errlen};
    const char *end = NULL;
    m->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!m->root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        snprintf(err, errlen, "the definition is not valid JSON (near byte %zu)", off);
        goto bad;
    }
    if (!cJSON_IsObject(m->root)) {
        fail(&L, NULL, "(top level)", "the definition must be a JSON object");
        goto bad;
    }
    static const char *const top[] = {"StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage",
                                      NULL};
    const cJSON *f;
    cJSON_ArrayForEach(f, m->root)
    {
        int ok = 0;
        for (int i = 0; top[i] && !ok; i++)
            ok = strcmp(f->string, top[i]) == 0;
        if (!ok) {
            fail(&L, NULL, f->string, "not a top-level field of a state machine");
            goto bad;
        }
    }
    const cJSON *ql = cJSON_GetObjectItemCaseSensitive(m->root, "QueryLanguage");
    if (ql && !(cJSON_IsString(ql) && strcmp(ql->valuestring, "JSONPath") == 0)) {
        fail(&L, NULL, "QueryLanguage", "only \"JSONPath\" is supported");
        goto bad;
    }
    if (get_string(&L, NULL, m->root, "StartAt", 1, &m->start_at))
        goto bad;
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(m->root, "TimeoutSeconds");
    if (to) {
        if (!cJSON_IsNumber(to) || to->valuedouble < 1) {
            fail(&L, NULL, "TimeoutSeconds", "must be a positive integer");
            goto bad;
        }
        m->timeout_s = to->valuedouble;
    }
    const cJSON *states = cJSON_GetObjectItemCaseSensitive(m->root, "States");
    if (!cJSON_IsObject(states) || !states->child) {
        fail(&L, NULL, "States", "required, an object with at least one state");
        goto bad;
    }
    int nstates = cJSON_GetArraySize(states);
    m->states = calloc((size_t)nstates, sizeof *m->states);
    if (!m->states) {
        snprintf(err, errlen, "out of memory");
        goto bad;
    }
    m->nstates = nstates;
    int i = 0;
    cJSON_ArrayForEach(f, states)
    {
        m->states[i].name = f->string;
        if (strlen(f->string) == 0 || strlen(f->string) > 80) {
            fail(&L, NULL, "States", "state names must be 1 to 80 characters");
            goto bad;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(m->states[k].name, f->string) == 0) {
                fail(&L, f->string, "States", "duplicate state name");
                goto bad;
            }
        if (load_state(&L, &m->states[i], f))
            goto bad;
        i++;
    }
    m->start_idx = asl_find(m, m->start_at);
    if (m->start_idx < 0) {
        fail(&L, NULL, "StartAt", "no state named \"%s\"", m->start_at);
        goto bad;
    }
    if (resolve_all(&L))
        goto bad;
    return m;
bad:
    asl_free(m);
    return NULL;
}

void asl_free(struct asl_machine *m)
{
    if (!m)
        return;
    for (int i = 0; m->states && i < m->nstates; i++) {
        struct asl_state *s = &m->states[i];
        free(s->retry);
        free(s->catchers);
        for (int k = 0; k < s->nchoices; k++)
            free_rule(&s->choices[k]);
        free(s->choices);
    }
    free(m->states);
    cJSON_Delete(m->root);
    free(m);
}
