/*
 * template_infer.c - what the server learns from a template's tree rather than by rendering it,
 * as Ollama does: the tag that opens a tool call in the model's output (tools/template.go:
 * first non-blank text inside the `{{ if .ToolCalls }}` branch, cut at '{', trimmed; "{" when
 * none) and the tags around thinking text (thinking/template.go: the first and last text of the
 * list holding `.Thinking` inside a range over .Messages).
 */
#include <string.h>

#include "template/template_int.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Copies s[0..n) trimmed into out (cap bytes, NUL-terminated). */
static void copy_trimmed(const char *s, size_t n, char *out, size_t cap)
{
    while (n && is_blank(*s))
        s++, n--;
    while (n && is_blank(s[n - 1]))
        n--;
    if (n >= cap)
        n = cap ? cap - 1 : 0;
    if (cap) {
        memcpy(out, s, n);
        out[n] = 0;
    }
}

/* --- tool-call tag --- */

static bool pipe_has_field(const struct tpipe *pp, const char *name, bool first_only)
{
    for (const struct tcmd *c = pp ? pp->cmds : NULL; c; c = c->next)
        for (const struct targ *a = c->args; a; a = a->next) {
            if (a->kind == A_PIPE && pipe_has_field(a->pipe, name, first_only))
                return true;
            if (a->kind != A_FIELD)
                continue;
            for (const struct tident *id = a->idents; id; id = first_only ? NULL : id->next)
                if (strcmp(id->s, name) == 0)
                    return true;
        }
    return false;
}

static bool field_anywhere(const struct targ *a, const char *name)
{
    for (const struct tident *id = a->idents; id; id = id->next)
        if (strcmp(id->s, name) == 0)
            return true;
    return false;
}

/* The first `if` whose pipeline names .ToolCalls (top-level field arguments only). */
static const struct tnode *find_toolcall_if(const struct tnode *n)
{
    for (; n; n = n->next) {
        const struct tnode *r = NULL;
        if (n->kind == N_IF) {
            for (const struct tcmd *c = n->pipe->cmds; c; c = c->next)
                for (const struct targ *a = c->args; a; a = a->next)
                    if (a->kind == A_FIELD && field_anywhere(a, "ToolCalls"))
                        return n;
        }
        if (n->kind == N_IF || n->kind == N_RANGE || n->kind == N_WITH) {
            if ((r = find_toolcall_if(n->list)) || (r = find_toolcall_if(n->else_list)))
                return r;
        }
    }
    return NULL;
}

/* Depth-first first non-blank text; stops at actions and after any nested block. */
static const struct tnode *find_text(const struct tnode *n)
{
    for (; n; n = n->next) {
        if (n->kind == N_TEXT) {
            size_t i = 0;
            while (i < n->text_len && is_blank(n->text[i]))
                i++;
            if (i < n->text_len)
                return n;
            continue;
        }
        if (n->kind == N_ACTION)
            return NULL;
        if (n->kind == N_IF || n->kind == N_RANGE || n->kind == N_WITH) {
            const struct tnode *r = find_text(n->list);
            return r ? r : find_text(n->else_list);
        }
    }
    return NULL;
}

void tmpl_tool_call_tag(const struct tmpl *t, char *out, size_t cap)
{
    const struct tnode *ifn = t ? find_toolcall_if(t->root) : NULL;
    const struct tnode *txt = ifn ? find_text(ifn->list) : NULL;
    char tmp[256];
    size_t n = 0;
    if (txt) {
        /* \r\n -> \n, then everything before the first '{' */
        for (size_t i = 0; i < txt->text_len && n < sizeof(tmp) - 1; i++) {
            char c = txt->text[i];
            if (c == '{')
                break;
            if (c == '\r' && i + 1 < txt->text_len && txt->text[i + 1] == '\n')
                continue;
            tmp[n++] = c;
        }
    }
    copy_trimmed(tmp, n, out, cap);
    if (cap > 1 && out[0] == 0) {
        out[0] = '{';
        out[1] = 0;
    }
}

/* --- thinking tags --- */

struct think_ctx {
    char *open, *close;
    size_t ocap, ccap;
};

static void think_match(struct think_ctx *c, const struct tnode *list)
{
    const struct tnode *last = list;
    if (!list)
        return;
    while (last->next)
        last = last->next;
    if (list->kind == N_TEXT)
        copy_trimmed(list->text, list->text_len, c->open, c->ocap);
    if (last->kind == N_TEXT)
        copy_trimmed(last->text, last->text_len, c->close, c->ccap);
}

static bool pipe_uses_thinking(const struct tpipe *pp)
{
    for (const struct tcmd *c = pp ? pp->cmds : NULL; c; c = c->next)
        for (const struct targ *a = c->args; a; a = a->next) {
            if (a->kind == A_FIELD && strcmp(a->idents->s, "Thinking") == 0)
                return true;
            if (a->kind == A_PIPE && pipe_uses_thinking(a->pipe))
                return true;
        }
    return false;
}

static void think_visit(struct think_ctx *c, const struct tnode *list, const struct tnode *range,
                        int depth)
{
    if (depth > TMPL_MAX_DEPTH + 2)
        return;
    for (const struct tnode *n = list; n; n = n->next) {
        const struct tnode *r = n->kind == N_RANGE ? n : range;
        bool in_msgs = r && pipe_has_field(r->pipe, "Messages", true);
        if (n->pipe && in_msgs && pipe_uses_thinking(n->pipe))
            think_match(c, list);
        if (n->kind == N_IF || n->kind == N_RANGE || n->kind == N_WITH) {
            think_visit(c, n->list, r, depth + 1);
            think_visit(c, n->else_list, r, depth + 1);
        }
    }
}

void tmpl_thinking_tags(const struct tmpl *t, char *open, size_t ocap, char *close, size_t ccap)
{
    struct think_ctx c = {open, close, ocap, ccap};
    if (ocap)
        open[0] = 0;
    if (ccap)
        close[0] = 0;
    if (t)
        think_visit(&c, t->root, NULL, 0);
}
