/*
 * template_exec.c - executes a parsed template (template_int.h) over a JSON value, following
 * text/template/exec.go: dot and `$`, variables with block scope, pipelines where each stage's
 * result becomes the last argument of the next, field chains, if / with / range (arrays, maps in
 * key order, integers) with else, break and continue, lazy `and` / `or`.  Bounded: output by
 * min(out->max, TMPL_MAX_OUTPUT), work by TMPL_MAX_STEPS, variables by TMPL_MAX_VARS.  All
 * state lives in struct tmpl_exec on the caller's heap, so one template renders concurrently.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "template/template_int.h"

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

struct tvar {
    const char *name;
    struct tval v;
};

struct tmpl_exec {
    const struct tmpl *t;
    struct buf *out;
    struct err_info *ei;
    size_t cap; /* output limit, bytes */
    size_t steps;
    int ctl;     /* pending break / continue */
    bool failed; /* ei already filled */
    size_t n_vars;
    struct tvar vars[TMPL_MAX_VARS];
};

int tmpl_exec_error(struct tmpl_exec *x, int code, size_t pos, const char *fmt, ...)
{
    char msg[200];
    int line, col;
    va_list ap;
    if (x->failed)
        return code;
    x->failed = true;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tmpl_pos_linecol(x->t->src, x->t->n, pos, &line, &col);
    err_set(x->ei, code, "template:%d:%d: executing: %s", line, col, msg);
    if (x->ei) {
        x->ei->line = line;
        x->ei->col = col;
    }
    return code;
}

size_t tmpl_exec_strcap(const struct tmpl_exec *x)
{
    return x->cap;
}

static void val_clear(struct tval *v)
{
    json_decref(v->j);
    v->j = NULL;
    v->tag = TAG_NONE;
}

static struct tval val_ref(const struct tval *v)
{
    struct tval r = {json_incref(v->j), v->tag};
    return r;
}

/* --- variables --- */

static int var_push(struct tmpl_exec *x, const char *name, const struct tval *v, size_t pos)
{
    if (x->n_vars >= TMPL_MAX_VARS)
        return tmpl_exec_error(x, E_RANGE, pos, "too many variables");
    x->vars[x->n_vars].name = name;
    x->vars[x->n_vars].v = val_ref(v);
    x->n_vars++;
    return 0;
}

static void var_pop(struct tmpl_exec *x, size_t mark)
{
    while (x->n_vars > mark) {
        x->n_vars--;
        val_clear(&x->vars[x->n_vars].v);
    }
}

static struct tvar *var_find(struct tmpl_exec *x, const char *name)
{
    for (size_t i = x->n_vars; i-- > 0;)
        if (strcmp(x->vars[i].name, name) == 0)
            return &x->vars[i];
    return NULL;
}

/* --- evaluation --- */

static int eval_pipe(struct tmpl_exec *x, const struct tpipe *pp, const struct tval *dot, bool bind,
                     struct tval *res);

static bool is_struct_tag(int tag)
{
    return tag == TAG_MSG || tag == TAG_TCALL || tag == TAG_TCFUNC || tag == TAG_TOOL ||
           tag == TAG_TFUNC || tag == TAG_TPARAMS || tag == TAG_TPROP;
}

static int eval_chain(struct tmpl_exec *x, struct tval *cur, const struct tident *id, size_t pos)
{
    for (; id; id = id->next) {
        x->steps++; /* checked by the caller's next step */
        if (!cur->j && tmpl_val_is_nil(cur))
            return tmpl_exec_error(x, E_INVAL, pos, "nil pointer evaluating interface {}.%s",
                                   id->s);
        if (!cur->j) {
            cur->tag = TAG_ZERO; /* a field of a struct's zero value */
            continue;
        }
        if (!json_is_object(cur->j)) {
            const char *ty = json_is_string(cur->j)    ? "string"
                             : json_is_array(cur->j)   ? "slice"
                             : json_is_boolean(cur->j) ? "bool"
                                                       : "number";
            return tmpl_exec_error(x, E_INVAL, pos, "can't evaluate field %s in type %s", id->s,
                                   ty);
        }
        json_t *v = tmpl_obj_field(cur->j, id->s);
        int tag = tmpl_tag_field(cur->tag, id->s);
        if (!v || json_is_null(v)) {
            /* a struct's missing field is its zero value; a map's missing key (or a null) is
             * nil, except a null list Ollama passes typed (Tools: nil) */
            if (is_struct_tag(cur->tag) || (v && tag != TAG_NONE))
                tag = tag == TAG_NONE ? TAG_ZERO : tag;
            else
                tag = TAG_NOVALUE;
            v = NULL;
        }
        json_incref(v);
        val_clear(cur);
        cur->j = v;
        cur->tag = tag;
    }
    return 0;
}

static int eval_func(struct tmpl_exec *x, const struct targ *fn, const struct targ *args,
                     const struct tval *dot, const struct tval *final, struct tval *res);

static int eval_arg(struct tmpl_exec *x, const struct targ *a, const struct tval *dot,
                    struct tval *res)
{
    int rc;
    res->j = NULL;
    res->tag = TAG_NONE;
    if (++x->steps > TMPL_MAX_STEPS)
        return tmpl_exec_error(x, E_RANGE, a->pos, "too much work (over %u steps)", TMPL_MAX_STEPS);
    switch (a->kind) {
    case A_DOT:
        *res = val_ref(dot);
        return 0;
    case A_NIL:
        return 0;
    case A_LIT:
        res->j = json_incref(a->lit);
        return 0;
    case A_IDENT:
        return eval_func(x, a, NULL, dot, NULL, res);
    case A_FIELD:
        *res = val_ref(dot);
        break;
    case A_VAR: {
        struct tvar *v = var_find(x, a->name);
        if (!v)
            return tmpl_exec_error(x, E_INVAL, a->pos, "undefined variable: %s", a->name);
        *res = val_ref(&v->v);
        break;
    }
    case A_PIPE:
        if ((rc = eval_pipe(x, a->pipe, dot, true, res)))
            return rc;
        break;
    default:
        return tmpl_exec_error(x, E_INTERNAL, a->pos, "bad argument");
    }
    if ((rc = eval_chain(x, res, a->idents, a->pos)))
        val_clear(res);
    return rc;
}

/* and / or: evaluate left to right, stop at the first false / true value, return it. */
static int eval_andor(struct tmpl_exec *x, const struct targ *fn, const struct targ *args,
                      const struct tval *dot, const struct tval *final, struct tval *res)
{
    bool is_and = strcmp(fn->name, "and") == 0;
    int rc = 0;
    if (!args && !final)
        return tmpl_exec_error(x, E_INVAL, fn->pos,
                               "wrong number of args for %s: want at "
                               "least 1 got 0",
                               fn->name);
    for (const struct targ *a = args;; a = a->next) {
        val_clear(res);
        if (a)
            rc = eval_arg(x, a, dot, res);
        else
            *res = val_ref(final);
        if (rc || tmpl_val_truth(res) != is_and || !a || (!a->next && !final))
            return rc;
    }
}

/* Work done by a call, in steps: strings read and built (per 64 bytes) and lists built, so a
 * loop of costly calls (json of a big object, slice of a long list) stops at TMPL_MAX_STEPS. */
static int charge_call(struct tmpl_exec *x, size_t pos, const struct tval *argv, size_t argc,
                       struct tval *res)
{
    size_t bytes = json_is_string(res->j) ? json_string_length(res->j) : 0;
    size_t cost = 1 + (json_is_array(res->j) ? json_array_size(res->j) : 0);
    for (size_t i = 0; i < argc; i++)
        bytes += json_is_string(argv[i].j) ? json_string_length(argv[i].j) : 0;
    x->steps += cost + bytes / 64;
    if (x->steps > TMPL_MAX_STEPS) {
        val_clear(res);
        return tmpl_exec_error(x, E_RANGE, pos, "too much work (over %u steps)", TMPL_MAX_STEPS);
    }
    return 0;
}

static int eval_func(struct tmpl_exec *x, const struct targ *fn, const struct targ *args,
                     const struct tval *dot, const struct tval *final, struct tval *res)
{
    struct tval argv[TMPL_MAX_ARGS + 1];
    size_t argc = 0;
    int rc = 0;
    if (strcmp(fn->name, "and") == 0 || strcmp(fn->name, "or") == 0)
        return eval_andor(x, fn, args, dot, final, res);
    if (!tmpl_func_known(fn->name))
        return tmpl_exec_error(x, E_INVAL, fn->pos, "\"%s\" is not a defined function", fn->name);
    for (const struct targ *a = args; a && !rc; a = a->next)
        if ((rc = eval_arg(x, a, dot, &argv[argc])) == 0)
            argc++;
    if (!rc && final)
        argv[argc++] = val_ref(final);
    if (!rc)
        rc = tmpl_call_func(x, fn->name, fn->pos, argv, argc, res);
    if (!rc)
        rc = charge_call(x, fn->pos, argv, argc, res);
    for (size_t i = 0; i < argc; i++)
        val_clear(&argv[i]);
    return rc;
}

static int eval_cmd(struct tmpl_exec *x, const struct tcmd *c, const struct tval *dot,
                    const struct tval *final, struct tval *res)
{
    const struct targ *first = c->args;
    if (first->kind == A_IDENT)
        return eval_func(x, first, first->next, dot, final, res);
    if (first->kind == A_NIL)
        return tmpl_exec_error(x, E_INVAL, first->pos, "nil is not a command");
    if (first->next || final)
        return tmpl_exec_error(x, E_INVAL, first->pos, "can't give argument to non-function");
    return eval_arg(x, first, dot, res);
}

static int bind_decl(struct tmpl_exec *x, const struct tpipe *pp, const struct tval *v)
{
    for (int i = 0; i < pp->n_decl; i++) {
        if (!pp->is_assign) {
            int rc = var_push(x, pp->decl[i], v, pp->pos);
            if (rc)
                return rc;
            continue;
        }
        struct tvar *var = var_find(x, pp->decl[i]);
        if (!var)
            return tmpl_exec_error(x, E_INVAL, pp->pos, "undefined variable: %s", pp->decl[i]);
        val_clear(&var->v);
        var->v = val_ref(v);
    }
    return 0;
}

static int eval_pipe(struct tmpl_exec *x, const struct tpipe *pp, const struct tval *dot, bool bind,
                     struct tval *res)
{
    struct tval prev = {NULL, TAG_NONE};
    int rc = 0;
    bool have = false;
    res->j = NULL;
    res->tag = TAG_NONE;
    for (const struct tcmd *c = pp->cmds; c && !rc; c = c->next) {
        rc = eval_cmd(x, c, dot, have ? &prev : NULL, res);
        val_clear(&prev);
        if (!rc) {
            prev = *res;
            res->j = NULL;
            have = true;
        }
    }
    if (rc) {
        val_clear(&prev);
        return rc;
    }
    *res = prev;
    if (bind && (rc = bind_decl(x, pp, res)))
        val_clear(res);
    return rc;
}

/* --- statements --- */

static int exec_list(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot);

static int out_check(struct tmpl_exec *x, size_t pos)
{
    if (x->out->n > x->cap)
        return tmpl_exec_error(x, E_RANGE, pos, "output over %zu bytes", x->cap);
    return 0;
}

static int exec_action(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot)
{
    struct tval v;
    int rc = eval_pipe(x, n->pipe, dot, true, &v);
    if (rc)
        return rc;
    if (n->pipe->n_decl == 0) {
        rc = tmpl_val_print(&v, x->out);
        if (rc)
            rc = tmpl_exec_error(x, rc, n->pos, "output over %zu bytes", x->cap);
        else
            rc = out_check(x, n->pos);
    }
    val_clear(&v);
    return rc;
}

static int exec_ifwith(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot)
{
    size_t mark = x->n_vars;
    struct tval v;
    int rc = eval_pipe(x, n->pipe, dot, true, &v);
    if (!rc) {
        if (tmpl_val_truth(&v))
            rc = exec_list(x, n->list, n->kind == N_WITH ? &v : dot);
        else if (n->else_list)
            rc = exec_list(x, n->else_list, dot);
        val_clear(&v);
    }
    var_pop(x, mark);
    return rc;
}

/* One range iteration with index/key k and element e. */
static int range_step(struct tmpl_exec *x, const struct tnode *n, struct tval *k, struct tval *e)
{
    size_t mark = x->n_vars;
    const struct tpipe *pp = n->pipe;
    int rc = 0;
    if (++x->steps > TMPL_MAX_STEPS) {
        val_clear(k); /* range_step owns k and e on every path */
        val_clear(e);
        return tmpl_exec_error(x, E_RANGE, n->pos, "too many steps");
    }
    if (pp->n_decl == 1)
        rc = var_push(x, pp->decl[0], e, pp->pos);
    else if (pp->n_decl == 2 && !(rc = var_push(x, pp->decl[0], k, pp->pos)))
        rc = var_push(x, pp->decl[1], e, pp->pos);
    if (!rc)
        rc = exec_list(x, n->list, e);
    var_pop(x, mark);
    val_clear(k);
    val_clear(e);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int range_over(struct tmpl_exec *x, const struct tnode *n, const struct tval *v,
                      size_t *count)
{
    int rc = 0, etag = tmpl_tag_elem(v->tag);
    const json_t *j = v->j;
    size_t len = json_is_array(j)    ? json_array_size(j)
                 : json_is_object(j) ? json_object_size(j)
                                     : 0;
    const char **keys = NULL;
    if (json_is_integer(j))
        len = json_integer_value(j) > 0 ? (size_t)json_integer_value(j) : 0;
    else if (j && !json_is_array(j) && !json_is_object(j))
        return tmpl_exec_error(x, E_INVAL, n->pos, "range can't iterate over value");
    if (json_is_object(j)) {
        keys = mem_alloc_array(len ? len : 1, sizeof(*keys));
        if (!keys)
            return tmpl_exec_error(x, E_NOMEM, n->pos, "out of memory");
        size_t i = 0;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)j, key, val)
        {
            (void)val;
            keys[i++] = key;
        }
        qsort(keys, len, sizeof(*keys), cmp_str);
    }
    for (size_t i = 0; i < len && !rc; i++) {
        struct tval k = {NULL, TAG_NONE}, e = {NULL, etag};
        if (json_is_array(j)) {
            k.j = json_integer((json_int_t)i);
            e.j = json_incref(json_array_get(j, i));
        } else if (keys) {
            k.j = json_string_nocheck(keys[i]);
            e.j = json_incref(json_object_get(j, keys[i]));
        } else {
            k.j = json_integer((json_int_t)i);
            e.j = json_integer((json_int_t)i);
        }
        if (!k.j || (!e.j && !json_is_array(j) && !keys)) {
            val_clear(&k);
            val_clear(&e);
            rc = tmpl_exec_error(x, E_NOMEM, n->pos, "out of memory");
            break;
        }
        if (e.j && json_is_null(e.j))
            val_clear(&e);
        rc = range_step(x, n, &k, &e);
        (*count)++;
        if (x->ctl == CTL_BREAK) {
            x->ctl = CTL_NONE;
            break;
        }
        x->ctl = CTL_NONE;
    }
    mem_free(keys);
    return rc;
}

static int exec_range(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot)
{
    size_t mark = x->n_vars, count = 0;
    struct tval v;
    int rc = eval_pipe(x, n->pipe, dot, false, &v);
    if (!rc) {
        rc = range_over(x, n, &v, &count);
        if (!rc && count == 0 && n->else_list)
            rc = exec_list(x, n->else_list, dot);
        val_clear(&v);
    }
    var_pop(x, mark);
    return rc;
}

static int exec_node(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot)
{
    if (++x->steps > TMPL_MAX_STEPS)
        return tmpl_exec_error(x, E_RANGE, n->pos, "too many steps");
    switch (n->kind) {
    case N_TEXT:
        if (x->out->n + n->text_len > x->cap)
            return tmpl_exec_error(x, E_RANGE, n->pos, "output over %zu bytes", x->cap);
        if (buf_append(x->out, n->text, n->text_len))
            return tmpl_exec_error(x, E_RANGE, n->pos, "output over %zu bytes", x->cap);
        return 0;
    case N_ACTION:
        return exec_action(x, n, dot);
    case N_IF:
    case N_WITH:
        return exec_ifwith(x, n, dot);
    case N_RANGE:
        return exec_range(x, n, dot);
    case N_BREAK:
        x->ctl = CTL_BREAK;
        return 0;
    case N_CONTINUE:
        x->ctl = CTL_CONTINUE;
        return 0;
    default:
        return tmpl_exec_error(x, E_INTERNAL, n->pos, "bad node");
    }
}

static int exec_list(struct tmpl_exec *x, const struct tnode *n, const struct tval *dot)
{
    for (; n; n = n->next) {
        int rc = exec_node(x, n, dot);
        if (rc)
            return rc;
        if (x->ctl != CTL_NONE)
            return 0;
    }
    return 0;
}

int tmpl_render(const struct tmpl *t, const json_t *data, struct buf *out, struct err_info *ei)
{
    if (!t || !out)
        return err_set(ei, E_INVAL, "template: no template or output");
    struct tmpl_exec *x = mem_calloc(1, sizeof(*x));
    if (!x)
        return err_set(ei, E_NOMEM, "template: out of memory");
    x->t = t;
    x->out = out;
    x->ei = ei;
    x->cap = out->max < TMPL_MAX_OUTPUT ? out->max : TMPL_MAX_OUTPUT;
    struct tval root = {(json_t *)data, TAG_ROOT};
    if (data && json_is_null(data))
        root.j = NULL;
    int rc = var_push(x, "$", &root, 0);
    if (!rc)
        rc = exec_list(x, t->root, &root);
    var_pop(x, 0);
    mem_free(x);
    return rc;
}
