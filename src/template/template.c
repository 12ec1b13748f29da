/*
 * template.c - Ollama's prompt rendering on top of the template engine (template/template.go
 * in Ollama; docs/ollama-reference.md §6.4): message collation, the fill-in-the-middle form,
 * the modern .Messages form and the legacy per-turn .System/.Prompt/.Response walk whose last
 * turn is cut at .Response; and the built-in catalogue lookup that maps a GGUF Jinja chat
 * template to a known Go template by Levenshtein distance (< 100, over code points).
 */
#include <string.h>

#include "common/mem.h"
#include "template/template_builtin.h"
#include "template/template_int.h"

#define LEV_LIMIT     100         /* Ollama accepts a catalogue match below this distance */
#define LEV_MAX_RUNES (64u << 10) /* longest Jinja text compared */

/* --- collation --- */

static const char *msg_str(const json_t *m, const char *go_name)
{
    const char *s = json_string_value(tmpl_obj_field(m, go_name));
    return s ? s : "";
}

/* Appends a to b's string content with "\n\n" between; new object in *out. */
static int merge_content(const json_t *last, const char *add, json_t **out)
{
    const char *prev = msg_str(last, "Content");
    size_t n1 = strlen(prev), n2 = strlen(add);
    char *s = mem_alloc(n1 + n2 + 3);
    json_t *m = json_copy((json_t *)last);
    int rc = (s && m) ? 0 : E_NOMEM;
    if (!rc) {
        memcpy(s, prev, n1);
        memcpy(s + n1, "\n\n", 2);
        memcpy(s + n1 + 2, add, n2 + 1);
        json_object_del(m, "Content");
        if (json_object_set_new(m, "content", json_stringn_nocheck(s, n1 + n2 + 2)))
            rc = E_NOMEM;
    }
    mem_free(s);
    if (rc)
        json_decref(m);
    else
        *out = m;
    return rc;
}

/* Ollama's collate: consecutive same-role messages merged (never tool messages); the system
 * contents joined with "\n\n" into *system (a new string). */
static int collate(const json_t *msgs, json_t **out, json_t **system)
{
    json_t *list = json_array();
    struct buf sys;
    int rc = list ? 0 : E_NOMEM, n_sys = 0;
    buf_init(&sys, TMPL_MAX_OUTPUT);
    for (size_t i = 0; !rc && i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = msg_str(m, "Role");
        if (!json_is_object(m))
            continue;
        if (strcmp(role, "system") == 0) {
            rc = buf_puts(&sys, n_sys++ ? "\n\n" : "");
            if (!rc)
                rc = buf_puts(&sys, msg_str(m, "Content"));
        }
        size_t n = json_array_size(list);
        const json_t *last = n ? json_array_get(list, n - 1) : NULL;
        if (!rc && last && strcmp(msg_str(last, "Role"), role) == 0 && strcmp(role, "tool") != 0) {
            json_t *merged = NULL;
            rc = merge_content(last, msg_str(m, "Content"), &merged);
            if (!rc && json_array_set_new(list, n - 1, merged))
                rc = E_NOMEM;
        } else if (!rc && json_array_append(list, (json_t *)m)) {
            rc = E_NOMEM;
        }
    }
    if (!rc && !(*system = json_stringn_nocheck(sys.p ? sys.p : "", sys.n)))
        rc = E_NOMEM;
    buf_fini(&sys);
    if (rc)
        json_decref(list);
    else
        *out = list;
    return rc;
}

/* --- execution --- */

/* Adds the think variables to data, renders it and drops it (data may be NULL: E_NOMEM). */
static int render_data(const struct tmpl *t, json_t *data, const json_t *values, struct buf *out,
                       struct err_info *ei)
{
    const json_t *level = json_object_get(values, "ThinkLevel");
    int rc = !data;
    if (!rc)
        rc = json_object_set_new(data, "Think",
                                 json_boolean(json_is_true(json_object_get(values, "Think"))));
    if (!rc)
        rc = json_object_set_new(
            data, "ThinkLevel",
            json_string_nocheck(json_is_string(level) ? json_string_value(level) : ""));
    if (!rc)
        rc = json_object_set_new(data, "IsThinkSet",
                                 json_boolean(json_is_true(json_object_get(values, "IsThinkSet"))));
    rc = rc ? err_set(ei, E_NOMEM, "template: out of memory") : tmpl_render(t, data, out, ei);
    json_decref(data);
    return rc;
}

static int render_turn(const struct tmpl *t, const json_t *values, const char *system,
                       const char *prompt, const char *response, struct buf *out,
                       struct err_info *ei)
{
    json_t *data =
        json_pack("{s:s, s:s, s:s}", "System", system, "Prompt", prompt, "Response", response);
    return render_data(t, data, values, out, ei);
}

/* The legacy walk: one full render per completed turn, the last one cut at .Response. */
static int execute_legacy(const struct tmpl *t, const char *src, size_t n, const json_t *msgs,
                          const json_t *values, struct buf *out, struct err_info *ei)
{
    const char *system = "", *prompt = "", *response = "";
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(msgs); i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = msg_str(m, "Role");
        bool flush = (strcmp(role, "system") == 0 && (*prompt || *response)) ||
                     (strcmp(role, "user") == 0 && *response);
        if (flush) {
            rc = render_turn(t, values, system, prompt, response, out, ei);
            system = prompt = response = "";
        }
        if (strcmp(role, "system") == 0)
            system = msg_str(m, "Content");
        else if (strcmp(role, "user") == 0)
            prompt = msg_str(m, "Content");
        else if (strcmp(role, "assistant") == 0)
            response = msg_str(m, "Content");
    }
    if (rc)
        return rc;
    struct tmpl *cut = NULL;
    rc = tmpl_parse_ex(src, n, TMPL_PARSE_APPEND_RESPONSE | TMPL_PARSE_CUT_AT_RESPONSE, &cut, ei);
    if (!rc)
        rc = render_turn(cut, values, system, prompt, response, out, ei);
    tmpl_free(cut);
    return rc;
}

static int execute_parsed(const struct tmpl *t, const char *src, size_t n, const json_t *values,
                          struct buf *out, struct err_info *ei)
{
    const char *prompt = json_string_value(json_object_get(values, "Prompt"));
    const char *suffix = json_string_value(json_object_get(values, "Suffix"));
    json_t *msgs = NULL, *system = NULL, *data = NULL;
    int rc;
    if (prompt && *prompt && suffix && *suffix) {
        data = json_pack("{s:s, s:s, s:s}", "Prompt", prompt, "Suffix", suffix, "Response", "");
        return render_data(t, data, values, out, ei);
    }
    if ((rc = collate(json_object_get(values, "Messages"), &msgs, &system)))
        return err_set(ei, rc, "template: out of memory");
    if (tmpl_uses_messages(t)) {
        json_t *tools = json_object_get(values, "Tools");
        /* Ollama always passes Tools (a nil list when there are none) */
        data = json_pack("{s:o, s:o, s:s, s:O}", "System", system, "Messages", msgs, "Response", "",
                         "Tools", tools ? tools : json_null());
        return render_data(t, data, values, out, ei);
    }
    json_decref(system);
    rc = execute_legacy(t, src, n, msgs, values, out, ei);
    json_decref(msgs);
    return rc;
}

int tmpl_execute(const char *src, size_t n, const json_t *values, struct buf *out,
                 struct err_info *ei)
{
    struct tmpl *t = NULL;
    if (!json_is_object(values))
        return err_set(ei, E_INVAL, "template: values must be an object");
    int rc = tmpl_parse(src, n, &t, ei);
    if (rc)
        return rc;
    rc = execute_parsed(t, src, n, values, out, ei);
    tmpl_free(t);
    return rc;
}

/* --- catalogue --- */

/* Decodes UTF-8 into code points (invalid bytes become U+FFFD, as Go's []rune does). */
static size_t to_runes(const char *s, uint32_t *r, size_t cap)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n < cap) {
        uint32_t c = *p;
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xC0) == 0x80;
        if (!ok) {
            r[n++] = 0xFFFD;
            p++;
            continue;
        }
        c = len == 1 ? c : c & (0x7Fu >> len);
        for (int k = 1; k < len; k++)
            c = (c << 6) | (p[k] & 0x3F);
        r[n++] = c;
        p += len;
    }
    return n;
}

/* Levenshtein distance of a and b, or `limit` when it is at least that. */
static size_t levenshtein(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t limit,
                          size_t *row)
{
    if ((na > nb ? na - nb : nb - na) >= limit)
        return limit;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0], best;
        row[0] = i;
        best = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j];
            size_t v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best >= limit)
            return limit;
    }
    return row[nb] < limit ? row[nb] : limit;
}

const struct tmpl_builtin *tmpl_builtin_get(const char *name)
{
    for (size_t i = 0; name && i < tmpl_builtin_count; i++)
        if (strcmp(tmpl_builtin_table[i].name, name) == 0)
            return &tmpl_builtin_table[i];
    return NULL;
}

const struct tmpl_builtin *tmpl_builtin_all(size_t *n)
{
    *n = tmpl_builtin_count;
    return tmpl_builtin_table;
}

const struct tmpl_builtin *tmpl_builtin_for_chat_template(const char *jinja)
{
    const char *best_name = NULL;
    size_t best = LEV_LIMIT, na;
    if (!jinja || strlen(jinja) > LEV_MAX_RUNES * 4)
        return NULL;
    uint32_t *a = mem_alloc_array(LEV_MAX_RUNES, sizeof(*a));
    uint32_t *b = mem_alloc_array(LEV_MAX_RUNES, sizeof(*b));
    size_t *row = mem_alloc_array(LEV_MAX_RUNES + 1, sizeof(*row));
    if (!a || !b || !row)
        goto out;
    na = to_runes(jinja, a, LEV_MAX_RUNES);
    for (size_t i = 0; i < tmpl_builtin_index_count; i++) {
        size_t nb = to_runes(tmpl_builtin_index[i].jinja, b, LEV_MAX_RUNES);
        size_t d = levenshtein(a, na, b, nb, best, row);
        if (d < best) {
            best = d;
            best_name = tmpl_builtin_index[i].name;
        }
    }
out:
    mem_free(a);
    mem_free(b);
    mem_free(row);
    return tmpl_builtin_get(best_name);
}
