/*
 * template_lex.c - the lexer of the Go text/template subset.  Turns the whole source into an
 * array of tokens in one pass: text runs (already trimmed by `{{- ` / ` -}}` markers, comments
 * dropped) and the tokens inside actions.  Mirrors text/template/parse/lex.go's rules: a trim
 * marker is a dash with whitespace on its inner side, comments must touch the delimiters,
 * quoted strings may not span lines, raw strings may.  Bounded by TMPL_MAX_SRC.
 */
#include "template/template_lex.h"

#include <string.h>

#include "common/mem.h"

#define LEX_MAX_TOKENS (1u << 20) /* tokens per template */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (unsigned char)c >= 0x80;
}

static int lex_fail(struct tmpl_lexer *l, size_t pos, const char *msg)
{
    l->err_pos = pos;
    l->err_msg = msg;
    return E_PARSE;
}

static int lex_emit(struct tmpl_lexer *l, int kind, size_t pos, size_t len, bool space)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        if (ncap > LEX_MAX_TOKENS)
            return lex_fail(l, pos, "too many tokens");
        struct tmpl_tok *nt = mem_realloc_array(l->toks, ncap, sizeof(*nt));
        if (!nt)
            return E_NOMEM;
        l->toks = nt;
        l->cap = ncap;
    }
    l->toks[l->n++] = (struct tmpl_tok){kind, pos, len, space};
    return 0;
}

/* "{{- " at p: a left trim marker needs whitespace after the dash. */
static bool left_trim_at(const char *s, size_t n, size_t p)
{
    return p + 3 < n && s[p + 2] == '-' && is_space(s[p + 3]);
}

/* " -}}" at p: a right trim marker needs whitespace before the dash. */
static bool right_trim_at(const char *s, size_t n, size_t p)
{
    return p + 4 <= n && is_space(s[p]) && s[p + 1] == '-' && s[p + 2] == '}' && s[p + 3] == '}';
}

static bool right_delim_at(const char *s, size_t n, size_t p)
{
    return p + 2 <= n && s[p] == '}' && s[p + 1] == '}';
}

static const struct {
    const char *word;
    int kind;
} keywords[] = {
    {"if", K_IF},       {"else", K_ELSE},         {"end", K_END},           {"range", K_RANGE},
    {"with", K_WITH},   {"define", K_DEFINE},     {"template", K_TEMPLATE}, {"block", K_BLOCK},
    {"break", K_BREAK}, {"continue", K_CONTINUE}, {"nil", K_NIL},           {"true", K_BOOL},
    {"false", K_BOOL},
};

static int keyword_kind(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strlen(keywords[i].word) == len && memcmp(keywords[i].word, s, len) == 0)
            return keywords[i].kind;
    return K_IDENT;
}

/* After an identifier-like token the next byte must end it. */
static bool at_terminator(struct tmpl_lexer *l, size_t p)
{
    if (p >= l->n_src)
        return true;
    char c = l->src[p];
    if (is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(' ||
        c == '=')
        return true;
    return right_delim_at(l->src, l->n_src, p);
}

static int lex_quote(struct tmpl_lexer *l, size_t *p, bool space)
{
    const char *s = l->src;
    size_t start = *p, i = start + 1;
    char q = s[start];
    for (; i < l->n_src; i++) {
        if (s[i] == '\\' && q != '`') {
            i++;
            if (i < l->n_src && s[i] == '\n')
                break;
            continue;
        }
        if (s[i] == '\n' && q != '`')
            break;
        if (s[i] == q) {
            *p = i + 1;
            int kind = q == '"' ? K_STRING : q == '`' ? K_RAWSTRING : K_CHAR;
            return lex_emit(l, kind, start, i + 1 - start, space);
        }
    }
    return lex_fail(l, start,
                    q == '\''  ? "unterminated character constant"
                    : q == '`' ? "unterminated raw quoted string"
                               : "unterminated quoted string");
}

static int lex_number(struct tmpl_lexer *l, size_t *p, bool space)
{
    const char *s = l->src;
    size_t start = *p, i = start;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < l->n_src && (is_alnum(s[i]) || s[i] == '.' ||
                            ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E' ||
                                                              s[i - 1] == 'p' || s[i - 1] == 'P'))))
        i++;
    if (i == start + 1 && (s[start] == '+' || s[start] == '-'))
        return lex_fail(l, start, "bad number syntax");
    *p = i;
    return lex_emit(l, K_NUMBER, start, i - start, space);
}

static int lex_word(struct tmpl_lexer *l, size_t *p, bool space)
{
    const char *s = l->src;
    size_t start = *p, i = start;
    int kind;
    if (s[i] == '$') {
        i++;
        while (i < l->n_src && is_alnum(s[i]))
            i++;
        kind = K_VAR;
    } else if (s[i] == '.') {
        i++;
        while (i < l->n_src && is_alnum(s[i]))
            i++;
        kind = i == start + 1 ? K_DOT : K_FIELD;
    } else {
        while (i < l->n_src && is_alnum(s[i]))
            i++;
        kind = keyword_kind(s + start, i - start);
    }
    if (!at_terminator(l, i))
        return lex_fail(l, i, "bad character in action");
    *p = i;
    return lex_emit(l, kind, start, i - start, space);
}

static int lex_punct(struct tmpl_lexer *l, size_t *p, bool space, int *parens)
{
    const char *s = l->src;
    size_t i = *p;
    int kind;
    switch (s[i]) {
    case '|':
        kind = K_PIPE;
        break;
    case ',':
        kind = K_COMMA;
        break;
    case '=':
        kind = K_ASSIGN;
        break;
    case '(':
        kind = K_LPAREN;
        (*parens)++;
        break;
    case ')':
        if (*parens == 0)
            return lex_fail(l, i, "unexpected right paren");
        kind = K_RPAREN;
        (*parens)--;
        break;
    case ':':
        if (i + 1 >= l->n_src || s[i + 1] != '=')
            return lex_fail(l, i, "expected :=");
        *p = i + 2;
        return lex_emit(l, K_DECLARE, i, 2, space);
    default:
        return lex_fail(l, i, "unrecognized character in action");
    }
    *p = i + 1;
    return lex_emit(l, kind, i, 1, space);
}

static int lex_token(struct tmpl_lexer *l, size_t *p, bool space, int *parens)
{
    const char *s = l->src;
    char c = s[*p];
    if (c == '"' || c == '`' || c == '\'')
        return lex_quote(l, p, space);
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' ||
        (c == '.' && *p + 1 < l->n_src && s[*p + 1] >= '0' && s[*p + 1] <= '9'))
        return lex_number(l, p, space);
    if (c == '$' || c == '.' || is_alnum(c))
        return lex_word(l, p, space);
    return lex_punct(l, p, space, parens);
}

/* Lexes one action starting at "{{"; *p ends after "}}".  *trim_next: text after is trimmed. */
static int lex_action(struct tmpl_lexer *l, size_t *p, bool *trim_next)
{
    const char *s = l->src;
    size_t n = l->n_src, open = *p, i = *p + 2;
    int rc, parens = 0;
    if (left_trim_at(s, n, open))
        i += 2;
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
        const char *end = memmem(s + i + 2, n - i - 2, "*/", 2);
        if (!end)
            return lex_fail(l, open, "unclosed comment");
        i = (size_t)(end - s) + 2;
        if (right_trim_at(s, n, i)) {
            *trim_next = true;
            *p = i + 4;
        } else if (right_delim_at(s, n, i)) {
            *p = i + 2;
        } else {
            return lex_fail(l, i, "comment ends before closing delimiter");
        }
        return 0;
    }
    if ((rc = lex_emit(l, K_LDELIM, open, i - open, false)))
        return rc;
    for (;;) {
        bool space = false;
        while (i < n && !right_trim_at(s, n, i) && is_space(s[i])) {
            i++;
            space = true;
        }
        if (i >= n)
            return lex_fail(l, open, "unclosed action");
        if (right_trim_at(s, n, i) || right_delim_at(s, n, i)) {
            if (parens)
                return lex_fail(l, i, "unclosed left paren");
            *trim_next = right_trim_at(s, n, i);
            size_t len = *trim_next ? 4 : 2;
            *p = i + len;
            return lex_emit(l, K_RDELIM, i, len, space);
        }
        if ((rc = lex_token(l, &i, space, &parens)))
            return rc;
    }
}

int tmpl_lex(struct tmpl_lexer *l, const char *src, size_t n)
{
    memset(l, 0, sizeof(*l));
    l->src = src;
    l->n_src = n;
    size_t p = 0;
    bool trim = false;
    int rc;
    while (p < n) {
        const char *open = memmem(src + p, n - p, "{{", 2);
        size_t end = open ? (size_t)(open - src) : n;
        size_t a = p, b = end;
        if (trim)
            while (a < b && is_space(src[a]))
                a++;
        if (open && left_trim_at(src, n, end))
            while (b > a && is_space(src[b - 1]))
                b--;
        if (b > a && (rc = lex_emit(l, K_TEXT, a, b - a, false)))
            return rc;
        if (!open)
            break;
        p = end;
        trim = false;
        if ((rc = lex_action(l, &p, &trim)))
            return rc;
    }
    return lex_emit(l, K_EOF, n, 0, false);
}

void tmpl_lex_fini(struct tmpl_lexer *l)
{
    mem_free(l->toks);
    l->toks = NULL;
    l->n = l->cap = 0;
}
