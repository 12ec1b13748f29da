/*
 * template_int.h - internals shared by the template parser (template_parse.c), the evaluator
 * (template_exec.c), the value helpers (template_value.c) and the chat driver (template_chat.c).
 *
 * The parse tree lives in one arena owned by struct tmpl: nodes, pipelines and argument lists
 * are singly linked and freed all at once.  Values during execution are jansson references
 * (owned, json_decref when done) plus a tag that remembers which Ollama Go type the value
 * stands for, so printing and `json` can use that type's field order.
 */
#ifndef CORRAL_TEMPLATE_INT_H
#define CORRAL_TEMPLATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "template/template.h"

#define TMPL_MAX_VARS 1024 /* variables alive at once during a render */
#define TMPL_MAX_ARGS 64   /* arguments of one function call */

/* Which Ollama Go type a JSON value stands for (decides printing and JSON key order). */
enum tmpl_tag {
    TAG_NONE = 0, /* a Go map[string]any / []any / scalar */
    TAG_ROOT,     /* the data object: missing keys print "<no value>" */
    TAG_MSGS,     /* []Message */
    TAG_MSG,
    TAG_TCALLS, /* []ToolCall */
    TAG_TCALL,
    TAG_TCFUNC, /* ToolCall.Function */
    TAG_ARGS,   /* ToolCall.Function.Arguments (sorted JSON object) */
    TAG_TOOLS,  /* Tools */
    TAG_TOOL,
    TAG_TFUNC,   /* Tool.Function */
    TAG_TPARAMS, /* Tool.Function.Parameters */
    TAG_TPROPS,  /* map name -> property */
    TAG_TPROP,
    TAG_NOVALUE, /* a missing key of a map: prints "<no value>" */
    TAG_ZERO,    /* a missing field of a struct: prints "" */
    TAG_PTYPE,   /* a property's Type: one type prints bare, several as [a b] */
};

struct tval {
    json_t *j; /* owned reference; NULL = nil */
    int tag;   /* enum tmpl_tag */
};

enum targ_kind {
    A_FIELD, /* .A.B (idents) */
    A_VAR,   /* $x.A.B (name, idents) */
    A_DOT,   /* . */
    A_NIL,
    A_LIT,   /* bool, number or string literal (lit) */
    A_IDENT, /* function name (name) */
    A_PIPE,  /* ( pipe ) with optional .A.B chain (idents) */
};

struct tident {
    const char *s; /* arena, NUL-terminated */
    struct tident *next;
};

struct tpipe;

struct targ {
    int kind;
    size_t pos;            /* byte offset in the source */
    const char *name;      /* A_VAR (with '$'), A_IDENT */
    struct tident *idents; /* field chain */
    json_t *lit;           /* A_LIT: owned by the template's literal list */
    struct tpipe *pipe;    /* A_PIPE */
    struct targ *next;
};

struct tcmd {
    size_t pos;
    struct targ *args;
    size_t n_args;
    struct tcmd *next;
};

struct tpipe {
    size_t pos;
    bool is_assign;      /* `=` rather than `:=` */
    const char *decl[2]; /* declared variable names (with '$') */
    int n_decl;
    struct tcmd *cmds;
    size_t n_cmds;
};

enum tnode_kind {
    N_TEXT,
    N_ACTION,
    N_IF,
    N_RANGE,
    N_WITH,
    N_BREAK,
    N_CONTINUE,
};

struct tnode {
    int kind;
    size_t pos;
    const char *text; /* N_TEXT (arena) */
    size_t text_len;
    struct tpipe *pipe; /* N_ACTION, N_IF, N_RANGE, N_WITH */
    struct tnode *list; /* body */
    struct tnode *else_list;
    struct tnode *next;
};

struct tmpl_chunk;

struct tmpl {
    char *src; /* copy of the source text (for positions) */
    size_t n;
    struct tnode *root;
    struct tmpl_chunk *arena;
    json_t **lits; /* literal values, decref'd by tmpl_free */
    size_t n_lits, cap_lits;
};

/* Arena allocation inside t (zeroed); NULL on OOM or cap. */
void *tmpl_arena_alloc(struct tmpl *t, size_t n);
/* Computes 1-based line and column of byte offset pos in t's source. */
void tmpl_pos_linecol(const char *src, size_t n, size_t pos, int *line, int *col);

/* --- values (template_value.c) --- */

/* Whether v is Go's untyped nil (a missing map key, a JSON null), as opposed to the typed zero
 * value of a missing struct field or absent list (NULL j with a type tag). */
bool tmpl_val_is_nil(const struct tval *v);
/* Go truth: false for nil, false, 0, "", empty array/object. */
bool tmpl_val_truth(const struct tval *v);
/* Appends v as Go's fmt %v prints it (objects of Ollama types as JSON). */
int tmpl_val_print(const struct tval *v, struct buf *out);
/* Appends Go json.Marshal of v. */
int tmpl_val_json(const struct tval *v, struct buf *out);
/* Field lookup on an object: key name, then its snake_case spelling.  Borrowed or NULL. */
json_t *tmpl_obj_field(const json_t *obj, const char *name);
/* Tag of the value reached through field `name` from a value tagged `parent`. */
int tmpl_tag_field(int parent, const char *name);
/* Tag of an element of a list / map tagged `parent`. */
int tmpl_tag_elem(int parent);
/* Appends Go-style JSON string s[0..n). */
int tmpl_json_string(const char *s, size_t n, struct buf *out);
/* Appends a float64 as Go's fmt %v (fmt_v) or encoding/json prints it. */
int tmpl_fmt_float(double d, bool fmt_v, struct buf *out);

/* --- functions (template_func.c) --- */

struct tmpl_exec;

/* Calls builtin `name` with argc evaluated args; result into *res (owned). */
int tmpl_call_func(struct tmpl_exec *x, const char *name, size_t pos, struct tval *args,
                   size_t argc, struct tval *res);
/* Whether name is a builtin function. */
bool tmpl_func_known(const char *name);
/* Records an execution error at source offset pos; returns code. */
int tmpl_exec_error(struct tmpl_exec *x, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Cap on any intermediate string of this render. */
size_t tmpl_exec_strcap(const struct tmpl_exec *x);

#endif
