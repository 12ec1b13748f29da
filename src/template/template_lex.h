/*
 * template_lex.h - tokens of the Go text/template subset (template_lex.c).  Internal to
 * src/template.  Not thread-safe (one lexer per parse).
 */
#ifndef CORRAL_TEMPLATE_LEX_H
#define CORRAL_TEMPLATE_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

enum tmpl_tok_kind {
    K_EOF,
    K_TEXT,
    K_LDELIM,
    K_RDELIM,
    K_FIELD, /* .Name */
    K_VAR,   /* $ or $name */
    K_IDENT, /* function name */
    K_DOT,
    K_STRING,    /* "..." (raw source, quotes included) */
    K_RAWSTRING, /* `...` */
    K_CHAR,      /* 'x' */
    K_NUMBER,
    K_BOOL,
    K_NIL,
    K_PIPE,
    K_LPAREN,
    K_RPAREN,
    K_DECLARE, /* := */
    K_ASSIGN,  /* = */
    K_COMMA,
    K_IF,
    K_ELSE,
    K_END,
    K_RANGE,
    K_WITH,
    K_DEFINE,
    K_TEMPLATE,
    K_BLOCK,
    K_BREAK,
    K_CONTINUE,
};

struct tmpl_tok {
    int kind;
    size_t pos; /* byte offset in the source */
    size_t len; /* bytes (for K_TEXT: after trimming) */
    bool space; /* whitespace precedes it inside the action */
};

struct tmpl_lexer {
    const char *src;
    size_t n_src;
    struct tmpl_tok *toks; /* owned */
    size_t n, cap;
    size_t err_pos; /* on E_PARSE: where and what */
    const char *err_msg;
};

/* Lexes src[0..n) into l->toks (ends with K_EOF).  E_PARSE with err_pos/err_msg, E_NOMEM. */
int tmpl_lex(struct tmpl_lexer *l, const char *src, size_t n);
/* Frees the token array. */
void tmpl_lex_fini(struct tmpl_lexer *l);

#endif
