/* expr.c -- DynamoDB expressions: the lexer, the recursive-descent parser and the checker
 * (expr_eval.c evaluates what this builds). Grammar, loosest binding first:
 *
 *   condition := or
 *   or        := and { OR and }
 *   and       := not { AND not }
 *   not       := NOT not | compare
 *   compare   := primary [ comparator primary | BETWEEN primary AND primary
 *                          | IN '(' primary { ',' primary } ')' ]
 *   primary   := '(' or ')' | operand
 *   operand   := :value | path | name '(' primary { ',' primary } ')'
 *   path      := (name | #name) { '.' (name | #name) | '[' digits ']' }
 *   update    := { SET set {, set} | REMOVE path {, path} | ADD path :value {, ...}
 *                  | DELETE path :value {, ...} }
 *   set       := path '=' setval ;  setval := setop [ ('+' | '-') setop ]
 *   setop     := '(' setval ')' | operand
 *   projection := path { ',' path }
 *
 * Parsing first checks syntax only, as DynamoDB does: a syntax error wins over every other
 * error. Meaning errors (undefined names, wrong functions, overlapping paths...) are kept by
 * category while parsing and checking, and the one reported is the first in DynamoDB's order
 * of categories, so a request with several faults gets the message DynamoDB would give.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dynamodb/expr_int.h"
#include "dynamodb/reserved.h"

#define EXPR_MAX_LEN 4096 /* DynamoDB's limit on one expression */
#define EXPR_MAX_DEPTH 64 /* nesting of parentheses and NOTs we accept */

/* ---- Arena: every node of an expression, freed at once ---- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void *arena_alloc(struct arena_block **head, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_block *b = *head;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 4096 ? n : 4096;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = *head;
        b->used = 0;
        b->cap = cap;
        *head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static void arena_free(struct arena_block *b)
{
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- Lexer ---- */

enum tk {
    TK_EOF, TK_IDENT, TK_NAME, TK_VALUE, TK_INT,
    TK_LP, TK_RP, TK_LB, TK_RB, TK_DOT, TK_COMMA,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_PLUS, TK_MINUS,
    TK_BAD, /* a character no token starts with */
};

struct token {
    enum tk kind;
    const char *s;
    size_t n;
};

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Length of the punctuation token at s (0 if none), and its kind. */
static size_t lex_punct(const char *s, enum tk *kind)
{
    static const struct { const char *text; enum tk kind; } puncts[] = {
        {"<>", TK_NE}, {"<=", TK_LE}, {">=", TK_GE}, {"<", TK_LT}, {">", TK_GT}, {"=", TK_EQ},
        {"(", TK_LP}, {")", TK_RP}, {"[", TK_LB}, {"]", TK_RB}, {".", TK_DOT}, {",", TK_COMMA},
        {"+", TK_PLUS}, {"-", TK_MINUS},
    };
    for (size_t i = 0; i < sizeof puncts / sizeof *puncts; i++) {
        size_t n = strlen(puncts[i].text);
        if (strncmp(s, puncts[i].text, n) == 0) {
            *kind = puncts[i].kind;
            return n;
        }
    }
    return 0;
}

/* Reads the token at s (after whitespace). */
static struct token lex(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    struct token t = {TK_EOF, s, 0};
    const char *e = s;
    if (!*s)
        return t;
    if (isalpha((unsigned char)*s) || *s == '_') {
        t.kind = TK_IDENT;
    } else if ((*s == '#' || *s == ':') && ident_char(s[1])) {
        t.kind = *s == '#' ? TK_NAME : TK_VALUE;
        e++;
    } else if (isdigit((unsigned char)*s)) {
        t.kind = TK_INT;
    } else if ((t.n = lex_punct(s, &t.kind)) > 0) {
        return t;
    } else {
        t.kind = TK_BAD; /* one whole UTF-8 character, so the message quotes it intact */
        t.n = 1;
        while ((s[t.n] & 0xC0) == 0x80 && t.n < 4)
            t.n++;
        return t;
    }
    while (t.kind == TK_INT ? isdigit((unsigned char)*e) : ident_char(*e))
        e++;
    t.n = (size_t)(e - s);
    return t;
}

/* ---- Parser state ---- */

/* Meaning errors, in the order DynamoDB reports them when a request has several. */
enum sem {
    SEM_SECTION, SEM_UNKNOWN_FUNC, SEM_MISUSED_FUNC, SEM_RESERVED, SEM_UNDEFINED_NAME,
    SEM_UNDEFINED_VALUE, SEM_OVERLAP, SEM_CONFLICT, SEM_OPERAND_COUNT, SEM_DISTINCT,
    SEM_OPERAND_TYPE, SEM__COUNT
};

struct parser {
    struct ddb_expr_ctx *ctx;
    struct ddb_expr *e;
    const char *src;
    struct token tok, prev;
    int depth;
    int failed;               /* a syntax error (or out of memory) is in ctx->err */
    char *sem[SEM__COUNT];    /* the first meaning error of each category */
};

static const char *kind_name(enum ddb_expr_kind k)
{
    static const char *const names[] = {
        [DDB_EXPR_CONDITION] = "ConditionExpression", [DDB_EXPR_FILTER] = "FilterExpression",
        [DDB_EXPR_KEY_CONDITION] = "KeyConditionExpression", [DDB_EXPR_UPDATE] = "UpdateExpression",
        [DDB_EXPR_PROJECTION] = "ProjectionExpression",
    };
    return names[k];
}

static void advance(struct parser *p)
{
    p->prev = p->tok;
    p->tok = lex(p->tok.s + p->tok.n);
}

static void *p_alloc(struct parser *p, size_t n)
{
    void *mem = arena_alloc(&p->e->arena, n);
    if (!mem && !p->failed) {
        p->failed = 1;
        ddb_errf(&p->ctx->err, DSS_E_InternalFailure, "out of memory");
    }
    return mem;
}

static char *p_strndup(struct parser *p, const char *s, size_t n)
{
    char *d = p_alloc(p, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* "Syntax error; token: "x", near: "a x"": the token, and the source from the token
 * before it to the end of it, as DynamoDB quotes them. */
static struct node *syntax_error(struct parser *p)
{
    if (p->failed)
        return NULL;
    p->failed = 1;
    const struct token *t = &p->tok;
    const char *near = p->prev.s ? p->prev.s : t->s;
    const char *end = t->kind == TK_EOF ? t->s : t->s + t->n;
    if (t->kind == TK_EOF)
        ddb_errf(&p->ctx->err, DSS_E_ValidationException, "Invalid %s: Syntax error; token: \"<EOF>\", near: \"%.*s\"",
                 kind_name(p->e->kind), (int)(end - near), near);
    else
        ddb_errf(&p->ctx->err, DSS_E_ValidationException, "Invalid %s: Syntax error; token: \"%.*s\", near: \"%.*s\"",
                 kind_name(p->e->kind), (int)t->n, t->s, (int)(end - near), near);
    return NULL;
}

/* Records a meaning error of a category unless one of that category is already kept. */
static void sem_error(struct parser *p, enum sem cat, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sem_error(struct parser *p, enum sem cat, const char *fmt, ...)
{
    if (p->sem[cat])
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->sem[cat] = p_strndup(p, msg, strlen(msg));
}

static int is_keyword(const struct token *t, const char *word)
{
    return t->kind == TK_IDENT && t->n == strlen(word) && strncasecmp(t->s, word, t->n) == 0;
}

static int is_update_keyword(const struct token *t)
{
    return is_keyword(t, "SET") || is_keyword(t, "REMOVE") || is_keyword(t, "ADD") || is_keyword(t, "DELETE");
}

static int is_condition_keyword(const struct token *t)
{
    return is_keyword(t, "AND") || is_keyword(t, "OR") || is_keyword(t, "NOT") || is_keyword(t, "BETWEEN")
        || is_keyword(t, "IN");
}

static int expect(struct parser *p, enum tk kind)
{
    if (p->failed)
        return -1;
    if (p->tok.kind != kind) {
        syntax_error(p);
        return -1;
    }
    advance(p);
    return 0;
}

static struct node *new_node(struct parser *p, enum node_kind kind, int nargs)
{
    struct node *n = p_alloc(p, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    if (nargs > 0 && !(n->args = p_alloc(p, sizeof(struct node *) * (size_t)nargs)))
        return NULL;
    n->nargs = nargs;
    return n;
}

/* Appends to a node's argument list (grown in the arena, doubling). */
static int push_arg(struct parser *p, struct node *n, struct node *arg, int *cap)
{
    if (n->nargs == *cap) {
        int ncap = *cap ? *cap * 2 : 4;
        struct node **args = p_alloc(p, sizeof(struct node *) * (size_t)ncap);
        if (!args)
            return -1;
        if (n->nargs)
            memcpy(args, n->args, sizeof(struct node *) * (size_t)n->nargs);
        n->args = args;
        *cap = ncap;
    }
    n->args[n->nargs++] = arg;
    return 0;
}

static struct node *binary(struct parser *p, enum node_kind kind, struct node *l, struct node *r)
{
    struct node *n = (l && r) ? new_node(p, kind, 2) : NULL;
    if (n) {
        n->args[0] = l;
        n->args[1] = r;
    }
    return n;
}

/* ---- Names and values ---- */

/* The index of a member in an object, or -1. */
static int member_index(const cJSON *obj, const char *name, size_t n, const cJSON **out)
{
    int i = 0;
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next, i++) {
        if (c->string && strlen(c->string) == n && memcmp(c->string, name, n) == 0) {
            *out = c;
            return i;
        }
    }
    return -1;
}

/* Resolves a #name to the attribute name it stands for, marking it used. */
static const char *resolve_name(struct parser *p, const struct token *t)
{
    const cJSON *m = NULL;
    int i = member_index(p->ctx->names, t->s, t->n, &m);
    if (i < 0 || !cJSON_IsString(m)) {
        sem_error(p, SEM_UNDEFINED_NAME,
                  "An expression attribute name used in the document path is not defined; attribute name: %.*s",
                  (int)t->n, t->s);
        return "";
    }
    p->ctx->names_used[i] = 1;
    return m->valuestring;
}

static struct node *parse_value(struct parser *p)
{
    struct node *n = new_node(p, NK_VALUE, 0);
    if (!n || !(n->text = p_strndup(p, p->tok.s, p->tok.n)))
        return NULL;
    const cJSON *m = NULL;
    int i = member_index(p->ctx->values, p->tok.s, p->tok.n, &m);
    if (i < 0)
        sem_error(p, SEM_UNDEFINED_VALUE,
                  "An expression attribute value used in expression is not defined; attribute value: %s", n->text);
    else
        p->ctx->values_used[i] = 1;
    n->value = m;
    advance(p);
    return n;
}

/* ---- Paths ---- */

static int path_push(struct parser *p, struct node *n, int *cap, const char *name, long index)
{
    if (n->nparts == *cap) {
        int ncap = *cap * 2;
        struct part *parts = p_alloc(p, sizeof *parts * (size_t)ncap);
        if (!parts)
            return -1;
        memcpy(parts, n->parts, sizeof *parts * (size_t)n->nparts);
        n->parts = parts;
        *cap = ncap;
    }
    n->parts[n->nparts].name = name;
    n->parts[n->nparts++].index = index;
    return 0;
}

/* A name step: a plain identifier (which may not be a reserved word) or a #name. */
static const char *path_name(struct parser *p)
{
    const struct token *t = &p->tok;
    if (t->kind == TK_NAME)
        return resolve_name(p, t);
    if (t->kind != TK_IDENT || is_condition_keyword(t) || is_update_keyword(t)) {
        syntax_error(p);
        return NULL;
    }
    char *name = p_strndup(p, t->s, t->n);
    if (name && ddb_is_reserved(name))
        sem_error(p, SEM_RESERVED, "Attribute name is a reserved keyword; reserved keyword: %s", name);
    return name;
}

static long path_index(struct parser *p)
{
    if (p->tok.kind != TK_INT || p->tok.n > 9) /* DynamoDB lists hold far fewer elements */
        return syntax_error(p), -1;
    long index = strtol(p->tok.s, NULL, 10);
    advance(p);
    return expect(p, TK_RB) < 0 ? -1 : index;
}

static struct node *parse_path(struct parser *p)
{
    struct node *n = new_node(p, NK_PATH, 0);
    int cap = 4;
    if (!n || !(n->parts = p_alloc(p, sizeof *n->parts * 4)))
        return NULL;
    const char *name = path_name(p);
    if (!name || path_push(p, n, &cap, name, 0) < 0)
        return NULL;
    advance(p);
    while (!p->failed && (p->tok.kind == TK_DOT || p->tok.kind == TK_LB)) {
        enum tk step = p->tok.kind;
        advance(p);
        if (step == TK_DOT) {
            if (!(name = path_name(p)) || path_push(p, n, &cap, name, 0) < 0)
                return NULL;
            advance(p);
        } else {
            long index = path_index(p);
            if (index < 0 || path_push(p, n, &cap, NULL, index) < 0)
                return NULL;
        }
    }
    return p->failed ? NULL : n;
}

/* ---- Conditions ---- */

static struct node *parse_or(struct parser *p);
static struct node *parse_primary(struct parser *p);
static struct node *parse_set_operand(struct parser *p);

static enum fn function_id(const char *name)
{
    static const char *const names[] = {
        [FN_ATTRIBUTE_EXISTS] = "attribute_exists", [FN_ATTRIBUTE_NOT_EXISTS] = "attribute_not_exists",
        [FN_ATTRIBUTE_TYPE] = "attribute_type", [FN_BEGINS_WITH] = "begins_with", [FN_CONTAINS] = "contains",
        [FN_SIZE] = "size", [FN_IF_NOT_EXISTS] = "if_not_exists", [FN_LIST_APPEND] = "list_append",
    };
    for (int f = FN_ATTRIBUTE_EXISTS; f <= FN_LIST_APPEND; f++)
        if (strcmp(name, names[f]) == 0)
            return (enum fn)f;
    return FN_UNKNOWN;
}

/* name '(' arg { ',' arg } ')', the arguments read by the kind's own operand rule. */
static struct node *parse_call(struct parser *p)
{
    struct node *n = new_node(p, NK_FUNC, 0);
    if (!n || !(n->text = p_strndup(p, p->tok.s, p->tok.n)))
        return NULL;
    n->op = function_id(n->text);
    advance(p);
    if (expect(p, TK_LP) < 0)
        return NULL;
    int cap = 0;
    for (;;) {
        struct node *arg = p->e->kind == DDB_EXPR_UPDATE ? parse_set_operand(p) : parse_primary(p);
        if (!arg || push_arg(p, n, arg, &cap) < 0)
            return NULL;
        if (p->tok.kind != TK_COMMA)
            break;
        advance(p);
    }
    return expect(p, TK_RP) < 0 ? NULL : n;
}

/* Whether the identifier under the cursor is followed by '(' (a function call). */
static int at_call(const struct parser *p)
{
    return p->tok.kind == TK_IDENT && lex(p->tok.s + p->tok.n).kind == TK_LP;
}

static struct node *parse_operand(struct parser *p)
{
    if (p->failed)
        return NULL;
    if (p->tok.kind == TK_VALUE)
        return parse_value(p);
    if (at_call(p) && !is_condition_keyword(&p->tok))
        return parse_call(p);
    if (p->tok.kind == TK_IDENT || p->tok.kind == TK_NAME)
        return parse_path(p);
    return syntax_error(p);
}

static struct node *parse_primary(struct parser *p)
{
    if (p->failed)
        return NULL;
    if (p->tok.kind != TK_LP)
        return parse_operand(p);
    if (++p->depth > EXPR_MAX_DEPTH)
        return syntax_error(p);
    advance(p);
    struct node *n = parse_or(p);
    p->depth--;
    return expect(p, TK_RP) < 0 ? NULL : n;
}

static int is_operand(const struct node *n)
{
    return n->kind == NK_PATH || n->kind == NK_VALUE || (n->kind == NK_FUNC && n->op == FN_SIZE);
}

static int comparator(enum tk kind)
{
    switch (kind) {
    case TK_EQ: return CMP_EQ;
    case TK_NE: return CMP_NE;
    case TK_LT: return CMP_LT;
    case TK_LE: return CMP_LE;
    case TK_GT: return CMP_GT;
    case TK_GE: return CMP_GE;
    default: return -1;
    }
}

static struct node *parse_in(struct parser *p, struct node *lhs)
{
    struct node *n = new_node(p, NK_IN, 0);
    int cap = 0;
    if (!n || push_arg(p, n, lhs, &cap) < 0 || expect(p, TK_LP) < 0)
        return NULL;
    for (;;) {
        struct node *arg = parse_primary(p);
        if (!arg || push_arg(p, n, arg, &cap) < 0)
            return NULL;
        if (p->tok.kind != TK_COMMA)
            break;
        advance(p);
    }
    return expect(p, TK_RP) < 0 ? NULL : n;
}

static struct node *parse_compare(struct parser *p)
{
    struct node *lhs = parse_primary(p);
    if (!lhs)
        return NULL;
    int op = comparator(p->tok.kind);
    int between = is_keyword(&p->tok, "BETWEEN"), in = is_keyword(&p->tok, "IN");
    if (op < 0 && !between && !in) {
        /* A bare path or value is no condition; inside parentheses it may be an operand. */
        if ((lhs->kind == NK_PATH || lhs->kind == NK_VALUE) && p->tok.kind != TK_RP)
            return syntax_error(p);
        return lhs;
    }
    if (!is_operand(lhs) && !(lhs->kind == NK_FUNC))
        return syntax_error(p);
    advance(p);
    if (in)
        return parse_in(p, lhs);
    struct node *n = new_node(p, op >= 0 ? NK_CMP : NK_BETWEEN, op >= 0 ? 2 : 3);
    if (!n)
        return NULL;
    n->op = op;
    n->args[0] = lhs;
    if (!(n->args[1] = parse_primary(p)))
        return NULL;
    if (between) {
        if (!is_keyword(&p->tok, "AND"))
            return syntax_error(p);
        advance(p);
        if (!(n->args[2] = parse_primary(p)))
            return NULL;
    }
    return n;
}

static struct node *parse_not(struct parser *p)
{
    if (p->failed)
        return NULL;
    if (!is_keyword(&p->tok, "NOT"))
        return parse_compare(p);
    if (++p->depth > EXPR_MAX_DEPTH)
        return syntax_error(p);
    advance(p);
    struct node *inner = parse_not(p);
    p->depth--;
    struct node *n = inner ? new_node(p, NK_NOT, 1) : NULL;
    if (n)
        n->args[0] = inner;
    return n;
}

static struct node *parse_and(struct parser *p)
{
    struct node *l = parse_not(p);
    while (l && is_keyword(&p->tok, "AND")) {
        advance(p);
        l = binary(p, NK_AND, l, parse_not(p));
    }
    return l;
}

static struct node *parse_or(struct parser *p)
{
    struct node *l = parse_and(p);
    while (l && is_keyword(&p->tok, "OR")) {
        advance(p);
        l = binary(p, NK_OR, l, parse_and(p));
    }
    return l;
}

/* ---- Updates ---- */

static struct node *parse_set_value(struct parser *p);

static struct node *parse_set_operand(struct parser *p)
{
    if (p->failed)
        return NULL;
    if (p->tok.kind != TK_LP)
        return parse_operand(p);
    if (++p->depth > EXPR_MAX_DEPTH)
        return syntax_error(p);
    advance(p);
    struct node *n = parse_set_value(p);
    p->depth--;
    return expect(p, TK_RP) < 0 ? NULL : n;
}

static struct node *parse_set_value(struct parser *p)
{
    struct node *l = parse_set_operand(p);
    if (l && (p->tok.kind == TK_PLUS || p->tok.kind == TK_MINUS)) {
        enum node_kind kind = p->tok.kind == TK_PLUS ? NK_PLUS : NK_MINUS;
        advance(p);
        l = binary(p, kind, l, parse_set_operand(p));
    }
    return l;
}

/* One action of a section: "path = value", "path", or "path :value". */
static struct node *parse_action(struct parser *p, enum node_kind kind)
{
    struct node *path = parse_path(p);
    if (!path)
        return NULL;
    if (kind == NK_REMOVE) {
        struct node *n = new_node(p, kind, 1);
        if (n)
            n->args[0] = path;
        return n;
    }
    if (kind == NK_SET && expect(p, TK_EQ) < 0)
        return NULL;
    if (kind != NK_SET && p->tok.kind != TK_VALUE)
        return syntax_error(p);
    return binary(p, kind, path, kind == NK_SET ? parse_set_value(p) : parse_value(p));
}

static struct node *parse_update(struct parser *p)
{
    static const char *const sections[] = {"SET", "REMOVE", "ADD", "DELETE"};
    static const enum node_kind kinds[] = {NK_SET, NK_REMOVE, NK_ADD, NK_DELETE};
    struct node *list = new_node(p, NK_LIST, 0);
    int cap = 0, seen[4] = {0};
    while (list && !p->failed && p->tok.kind != TK_EOF) {
        int s = 0;
        while (s < 4 && !is_keyword(&p->tok, sections[s]))
            s++;
        if (s == 4)
            return syntax_error(p);
        if (seen[s]++)
            sem_error(p, SEM_SECTION, "The \"%s\" section can only be used once in an update expression;", sections[s]);
        do {
            advance(p);
            struct node *action = parse_action(p, kinds[s]);
            if (!action || push_arg(p, list, action, &cap) < 0)
                return NULL;
        } while (p->tok.kind == TK_COMMA);
    }
    return p->failed ? NULL : list;
}

static struct node *parse_projection(struct parser *p)
{
    struct node *list = new_node(p, NK_LIST, 0);
    int cap = 0;
    for (;;) {
        struct node *path = list ? parse_path(p) : NULL;
        if (!path || push_arg(p, list, path, &cap) < 0)
            return NULL;
        if (p->tok.kind != TK_COMMA)
            break;
        advance(p);
    }
    return list;
}

/* ---- Checks of meaning ---- */

static void path_str(const struct node *path, struct buf *out)
{
    buf_puts(out, "[");
    for (int i = 0; i < path->nparts; i++) {
        if (path->parts[i].name)
            buf_printf(out, "%s%s", i ? ", " : "", path->parts[i].name);
        else
            buf_printf(out, "%s[%ld]", i ? ", " : "", path->parts[i].index);
    }
    buf_puts(out, "]");
}

static int same_path(const struct node *a, const struct node *b)
{
    if (a->kind != NK_PATH || b->kind != NK_PATH || a->nparts != b->nparts)
        return 0;
    for (int i = 0; i < a->nparts; i++) {
        const struct part *x = &a->parts[i], *y = &b->parts[i];
        if (!x->name != !y->name || (x->name ? strcmp(x->name, y->name) != 0 : x->index != y->index))
            return 0;
    }
    return 1;
}

/* Two paths of one update or projection may neither overlap (one a prefix of the other) nor
 * conflict (one steps into a map where the other steps into a list). */
static void check_two_paths(struct parser *p, const struct node *a, const struct node *b)
{
    int n = a->nparts < b->nparts ? a->nparts : b->nparts;
    enum sem cat = SEM_OVERLAP;
    for (int i = 0; i < n; i++) {
        const struct part *x = &a->parts[i], *y = &b->parts[i];
        if (!x->name != !y->name) {
            cat = SEM_CONFLICT;
            break;
        }
        if (x->name ? strcmp(x->name, y->name) != 0 : x->index != y->index)
            return;
    }
    struct buf one, two;
    buf_init(&one, 300);
    buf_init(&two, 300);
    path_str(a, &one);
    path_str(b, &two);
    sem_error(p, cat, "Two document paths %s with each other; must remove or rewrite one of these paths; path one: %s, path two: %s",
              cat == SEM_OVERLAP ? "overlap" : "conflict", one.data ? one.data : "", two.data ? two.data : "");
    buf_free(&one);
    buf_free(&two);
}

static void check_paths(struct parser *p, struct node *list)
{
    for (int i = 0; i < list->nargs; i++) {
        const struct node *a = list->kind == NK_LIST && list->args[i]->kind != NK_PATH ? list->args[i]->args[0] : list->args[i];
        for (int j = 0; j < i; j++) {
            const struct node *b = list->args[j]->kind != NK_PATH ? list->args[j]->args[0] : list->args[j];
            check_two_paths(p, b, a);
        }
    }
}

/* The type of an operand known before evaluation (a :value's), else NULL. */
static const char *static_type(const struct node *n)
{
    return n->kind == NK_VALUE && n->value ? ddb_type_name(ddb_type_of(n->value)) : NULL;
}

static void operand_type_error(struct parser *p, const char *fn, const char *type)
{
    sem_error(p, SEM_OPERAND_TYPE, "Incorrect operand type for operator or function; operator or function: %s, operand type: %s",
              fn, type);
}

static int function_arity(enum fn f)
{
    return f == FN_ATTRIBUTE_EXISTS || f == FN_ATTRIBUTE_NOT_EXISTS || f == FN_SIZE ? 1 : 2;
}

static void check_attribute_type(struct parser *p, const struct node *n)
{
    const char *t = static_type(n->args[1]);
    if (t && strcmp(t, "S") != 0) {
        operand_type_error(p, n->text, t);
    } else if (t && ddb_type_from_name(n->args[1]->value->child->valuestring) == DDB_T_NONE) {
        sem_error(p, SEM_OPERAND_TYPE, "Invalid attribute type name found; type: %s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                  n->args[1]->value->child->valuestring);
    }
}

/* Checks a function's name, place, number and kind of operands. as_operand: it stands where
 * a value is expected (only size may) rather than where a condition is. */
static void check_function(struct parser *p, const struct node *n, int as_operand)
{
    int update = p->e->kind == DDB_EXPR_UPDATE;
    int known = update ? (n->op == FN_IF_NOT_EXISTS || n->op == FN_LIST_APPEND)
                       : (n->op != FN_UNKNOWN && n->op != FN_IF_NOT_EXISTS && n->op != FN_LIST_APPEND);
    if (!known) {
        sem_error(p, SEM_UNKNOWN_FUNC, "Invalid function name; function: %s", n->text);
        return;
    }
    if (!update && as_operand != (n->op == FN_SIZE)) {
        sem_error(p, SEM_MISUSED_FUNC, "The function is not allowed to be used this way in an expression; function: %s", n->text);
        return;
    }
    if (n->nargs != function_arity((enum fn)n->op)) {
        sem_error(p, SEM_OPERAND_COUNT, "Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d",
                  n->text, n->nargs);
        return;
    }
    const char *t0 = static_type(n->args[0]), *t1 = n->nargs > 1 ? static_type(n->args[1]) : NULL;
    switch (n->op) {
    case FN_ATTRIBUTE_EXISTS:
    case FN_ATTRIBUTE_NOT_EXISTS:
    case FN_IF_NOT_EXISTS:
        if (n->args[0]->kind != NK_PATH)
            sem_error(p, SEM_OPERAND_TYPE, "Operator or function requires a document path; operator or function: %s", n->text);
        break;
    case FN_ATTRIBUTE_TYPE:
        check_attribute_type(p, n);
        break;
    case FN_BEGINS_WITH:
        if ((t0 && strcmp(t0, "S") && strcmp(t0, "B")) || (t1 && strcmp(t1, "S") && strcmp(t1, "B")))
            operand_type_error(p, n->text, t0 && strcmp(t0, "S") && strcmp(t0, "B") ? t0 : t1);
        break;
    case FN_SIZE:
        if (t0 && (!strcmp(t0, "N") || !strcmp(t0, "BOOL") || !strcmp(t0, "NULL")))
            operand_type_error(p, n->text, t0);
        break;
    case FN_LIST_APPEND:
        if ((t0 && strcmp(t0, "L")) || (t1 && strcmp(t1, "L")))
            operand_type_error(p, n->text, t0 && strcmp(t0, "L") ? t0 : t1);
        break;
    default:
        break;
    }
}

static void check_between_bounds(struct parser *p, const struct node *lo, const struct node *hi)
{
    if (lo->kind != NK_VALUE || hi->kind != NK_VALUE || !lo->value || !hi->value)
        return;
    enum ddb_type tl = ddb_type_of(lo->value), th = ddb_type_of(hi->value);
    int cmp = 0;
    char *ls = cJSON_PrintUnformatted(lo->value->child), *hs = cJSON_PrintUnformatted(hi->value->child);
    if (tl != th)
        sem_error(p, SEM_OPERAND_TYPE, "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
                  ddb_type_name(tl), ls ? ls : "", ddb_type_name(th), hs ? hs : "");
    else if (ddb_av_compare(lo->value, hi->value, &cmp) == 0 && cmp > 0)
        sem_error(p, SEM_OPERAND_TYPE, "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
                  ddb_type_name(tl), ls ? ls : "", ddb_type_name(th), hs ? hs : "");
    free(ls);
    free(hs);
}

static const char *cmp_text(int op)
{
    static const char *const text[] = {"=", "<>", "<", "<=", ">", ">="};
    return text[op];
}

static void check_node(struct parser *p, const struct node *n, int as_operand);

static void check_operands(struct parser *p, const struct node *n)
{
    for (int i = 0; i < n->nargs; i++) {
        const struct node *a = n->args[i];
        if (a->kind == NK_FUNC && a->op != FN_SIZE && p->e->kind != DDB_EXPR_UPDATE)
            sem_error(p, SEM_MISUSED_FUNC, "The function is not allowed to be used this way in an expression; function: %s", a->text);
        check_node(p, a, 1);
    }
}

static void check_node(struct parser *p, const struct node *n, int as_operand)
{
    switch (n->kind) {
    case NK_FUNC:
        check_function(p, n, as_operand);
        for (int i = 0; i < n->nargs; i++)
            check_node(p, n->args[i], 1);
        return;
    case NK_CMP:
        check_operands(p, n);
        if (same_path(n->args[0], n->args[1])) {
            struct buf s;
            buf_init(&s, 300);
            path_str(n->args[0], &s);
            sem_error(p, SEM_DISTINCT, "The first operand must be distinct from the remaining operands for this operator or function; operator: %s, first operand: %s",
                      cmp_text(n->op), s.data ? s.data : "");
            buf_free(&s);
        }
        return;
    case NK_BETWEEN:
        check_operands(p, n);
        check_between_bounds(p, n->args[1], n->args[2]);
        return;
    case NK_IN:
    case NK_PLUS:
    case NK_MINUS:
        check_operands(p, n);
        if (n->kind == NK_IN && n->nargs - 1 > 100)
            sem_error(p, SEM_OPERAND_COUNT, "The IN operator is provided with too many operands; number of operands: %d",
                      n->nargs - 1);
        if (n->kind != NK_IN)
            for (int i = 0; i < 2; i++)
                if (static_type(n->args[i]) && strcmp(static_type(n->args[i]), "N"))
                    operand_type_error(p, n->kind == NK_PLUS ? "+" : "-", static_type(n->args[i]));
        return;
    default:
        for (int i = 0; i < n->nargs; i++)
            check_node(p, n->args[i], n->kind == NK_SET || n->kind == NK_ADD || n->kind == NK_DELETE);
        return;
    }
}

/* ADD takes a number or a set; DELETE only a set. */
static void check_add_delete(struct parser *p, const struct node *action)
{
    static const char *const words[] = {
        [DDB_T_S] = "STRING", [DDB_T_N] = "NUMBER", [DDB_T_B] = "BINARY", [DDB_T_BOOL] = "BOOLEAN",
        [DDB_T_NULL] = "NULL", [DDB_T_L] = "LIST", [DDB_T_M] = "MAP",
    };
    const cJSON *v = action->args[1]->value;
    enum ddb_type t = v ? ddb_type_of(v) : DDB_T_NONE;
    if (t == DDB_T_NONE || t == DDB_T_SS || t == DDB_T_NS || t == DDB_T_BS || (t == DDB_T_N && action->kind == NK_ADD))
        return;
    sem_error(p, SEM_OPERAND_TYPE, "Incorrect operand type for operator or function; operator: %s, operand type: %s",
              action->kind == NK_ADD ? "ADD" : "DELETE", words[t]);
}

static void check_expression(struct parser *p, struct node *root)
{
    if (root->kind != NK_LIST) {
        if (is_operand(root) && root->kind != NK_FUNC)
            syntax_error(p);
        check_node(p, root, 0);
        return;
    }
    check_paths(p, root);
    for (int i = 0; i < root->nargs; i++) {
        const struct node *a = root->args[i];
        check_node(p, a, 0);
        if (a->kind == NK_ADD || a->kind == NK_DELETE)
            check_add_delete(p, a);
    }
}

/* The meaning error DynamoDB would report first, or NULL. */
static const char *first_sem_error(const struct parser *p)
{
    static const enum sem update_order[] = {
        SEM_RESERVED, SEM_UNKNOWN_FUNC, SEM_SECTION, SEM_UNDEFINED_NAME, SEM_UNDEFINED_VALUE,
        SEM_OVERLAP, SEM_CONFLICT, SEM_OPERAND_TYPE, SEM_OPERAND_COUNT, SEM_MISUSED_FUNC, SEM_DISTINCT,
    };
    static const enum sem condition_order[] = {
        SEM_UNKNOWN_FUNC, SEM_MISUSED_FUNC, SEM_RESERVED, SEM_UNDEFINED_NAME, SEM_UNDEFINED_VALUE,
        SEM_OVERLAP, SEM_CONFLICT, SEM_OPERAND_COUNT, SEM_DISTINCT, SEM_OPERAND_TYPE, SEM_SECTION,
    };
    const enum sem *order = p->e->kind == DDB_EXPR_UPDATE ? update_order : condition_order;
    for (int i = 0; i < SEM__COUNT; i++)
        if (p->sem[order[i]])
            return p->sem[order[i]];
    return NULL;
}

/* ---- Public ---- */

struct ddb_expr *ddb_expr_parse(struct ddb_expr_ctx *ctx, enum ddb_expr_kind kind, const char *text)
{
    size_t len = strlen(text);
    if (len > EXPR_MAX_LEN) {
        ddb_errf(&ctx->err, DSS_E_ValidationException, "Invalid %s: Expression size has exceeded the maximum allowed size; expression size: %zu",
                 kind_name(kind), len);
        return NULL;
    }
    struct ddb_expr *e = calloc(1, sizeof *e);
    if (!e) {
        ddb_errf(&ctx->err, DSS_E_InternalFailure, "out of memory");
        return NULL;
    }
    e->kind = kind;
    struct parser p = {.ctx = ctx, .e = e, .src = text};
    p.tok = lex(text);
    if (p.tok.kind == TK_EOF) {
        ddb_errf(&ctx->err, DSS_E_ValidationException, "Invalid %s: The expression can not be empty;", kind_name(kind));
        ddb_expr_free(e);
        return NULL;
    }
    e->root = kind == DDB_EXPR_UPDATE ? parse_update(&p) : kind == DDB_EXPR_PROJECTION ? parse_projection(&p) : parse_or(&p);
    if (e->root && p.tok.kind != TK_EOF)
        syntax_error(&p);
    if (!p.failed && e->root)
        check_expression(&p, e->root);
    const char *sem = p.failed ? NULL : first_sem_error(&p);
    if (sem)
        ddb_errf(&ctx->err, DSS_E_ValidationException, "Invalid %s: %s", kind_name(kind), sem);
    if (p.failed || sem || !e->root) {
        ddb_expr_free(e);
        return NULL;
    }
    return e;
}

void ddb_expr_free(struct ddb_expr *e)
{
    if (!e)
        return;
    arena_free(e->arena);
    free(e);
}

int ddb_expr_ctx_init(struct ddb_expr_ctx *ctx, const cJSON *names, const cJSON *values)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->names = cJSON_IsObject(names) ? names : NULL;
    ctx->values = cJSON_IsObject(values) ? values : NULL;
    ctx->names_used = calloc((size_t)cJSON_GetArraySize(ctx->names) + 1, 1);
    ctx->values_used = calloc((size_t)cJSON_GetArraySize(ctx->values) + 1, 1);
    if (!ctx->names_used || !ctx->values_used) {
        ddb_expr_ctx_cleanup(ctx);
        return -1;
    }
    return 0;
}

void ddb_expr_ctx_cleanup(struct ddb_expr_ctx *ctx)
{
    free(ctx->names_used);
    free(ctx->values_used);
    ctx->names_used = ctx->values_used = NULL;
}

static int unused(struct ddb_expr_ctx *ctx, const cJSON *obj, const unsigned char *used, const char *what)
{
    struct buf keys;
    buf_init(&keys, 800);
    int i = 0;
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next, i++)
        if (!used[i])
            buf_printf(&keys, "%s%s", keys.len ? ", " : "", c->string);
    int rc = 0;
    if (keys.len)
        rc = ddb_errf(&ctx->err, DSS_E_ValidationException, "Value provided in %s unused in expressions: keys: {%s}", what, keys.data);
    buf_free(&keys);
    return rc;
}

int ddb_expr_ctx_check_unused(struct ddb_expr_ctx *ctx)
{
    if (unused(ctx, ctx->names, ctx->names_used, "ExpressionAttributeNames") < 0)
        return -1;
    return unused(ctx, ctx->values, ctx->values_used, "ExpressionAttributeValues");
}

/* ---- Key conditions ---- */

static int key_error(struct ddb_err *err, const char *fmt, const char *arg)
{
    return ddb_errf(err, DSS_E_ValidationException, fmt, arg);
}

static const char *key_name(const struct node *n)
{
    return n->kind == NK_PATH && n->nparts == 1 ? n->parts[0].name : NULL;
}

/* Reads one "key op :value" condition into out, as the hash or the range part. */
static int key_part(const struct node *n, const char *hash, const char *range, struct ddb_key_cond *out,
                    int *seen_hash, int *seen_other, struct ddb_err *err)
{
    static const enum ddb_key_op ops[] = {DDB_KEY_EQ, DDB_KEY_NONE, DDB_KEY_LT, DDB_KEY_LE, DDB_KEY_GT, DDB_KEY_GE};
    const char *name = n->nargs ? key_name(n->args[0]) : NULL;
    enum ddb_key_op op = n->kind == NK_CMP ? ops[n->op] : n->kind == NK_BETWEEN ? DDB_KEY_BETWEEN
                       : n->kind == NK_FUNC && n->op == FN_BEGINS_WITH ? DDB_KEY_BEGINS_WITH : DDB_KEY_NONE;
    if (op == DDB_KEY_NONE)
        return key_error(err, "Invalid operator used in KeyConditionExpression: %s",
                         n->kind == NK_FUNC ? n->text : n->kind == NK_CMP ? "<>" : n->kind == NK_IN ? "IN"
                         : n->kind == NK_OR ? "OR" : n->kind == NK_NOT ? "NOT" : "AND");
    for (int i = 1; i < n->nargs; i++)
        if (n->args[i]->kind != NK_VALUE)
            return key_error(err, "Invalid KeyConditionExpression: %s", "Key condition values must be expression attribute values");
    if (!name)
        return key_error(err, "%s", "Query key condition not supported");
    if (strcmp(name, hash) == 0) {
        if (op != DDB_KEY_EQ || (*seen_hash)++)
            return key_error(err, "%s", "Query key condition not supported");
        out->hash_value = n->args[1]->value;
    } else if (range && strcmp(name, range) == 0 && out->range_op == DDB_KEY_NONE) {
        out->range_op = op;
        out->range_v1 = n->args[1]->value;
        out->range_v2 = op == DDB_KEY_BETWEEN ? n->args[2]->value : NULL;
    } else {
        (*seen_other)++;
    }
    return 0;
}

int ddb_expr_key_cond(const struct ddb_expr *e, const char *hash_name, const char *range_name,
                      struct ddb_key_cond *out, struct ddb_err *err)
{
    memset(out, 0, sizeof *out);
    const struct node *root = e->root;
    const struct node *parts[2] = {root, NULL};
    int n = 1, seen_hash = 0, seen_other = 0;
    if (root->kind == NK_AND) {
        parts[0] = root->args[0];
        parts[1] = root->args[1];
        n = 2;
        if (parts[0]->kind == NK_AND || parts[1]->kind == NK_AND)
            return key_error(err, "%s", "KeyConditionExpressions must only contain one condition per key");
    }
    for (int i = 0; i < n; i++)
        if (key_part(parts[i], hash_name, range_name, out, &seen_hash, &seen_other, err) < 0)
            return -1;
    if (!seen_hash)
        return key_error(err, "Query condition missed key schema element: %s", hash_name);
    if (seen_other)
        return range_name ? key_error(err, "Query condition missed key schema element: %s", range_name)
                          : key_error(err, "%s", "Query key condition not supported");
    return 0;
}
