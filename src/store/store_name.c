/*
 * store_name.c - model names: parse `[scheme://][host[:port]/][ns/]model[:tag]`, validate each
 * part, fill Ollama's defaults and print the shortest display form.
 *
 * The split follows Ollama's types/model/name.go: the tag is the text after the last ':' only
 * when that ':' comes after the last '/'; the rest is split from the right on '/' into model,
 * namespace and host; a scheme is cut from the host.  An empty part anywhere is invalid, and a
 * host that still contains '/' fails the character rules, so a name always maps to exactly four
 * path components, none of which can be "." or "..".
 */
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define NAME_INPUT_MAX 1024 /* longer texts cannot be valid names */

static int is_alnum_us(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int store_name_part_valid(const char *s, char kind)
{
    size_t n = strlen(s);
    size_t max = kind == 'h' ? STORE_NAME_MAX_HOST : STORE_NAME_MAX_PART;
    if (n == 0 || n > max)
        return 0;
    if (!is_alnum_us(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (is_alnum_us(c) || c == '-')
            continue;
        if (c == '.' && kind != 'n')
            continue;
        if (c == ':' && kind == 'h')
            continue;
        return 0;
    }
    return 1;
}

/* Copies [p, p+n) into dst (cap bytes) when it fits; 0 on success. */
static int put_part(char *dst, size_t cap, const char *p, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

static int invalid(struct err_info *ei)
{
    return err_set(ei, E_INVAL, "invalid model name");
}

/* Splits the text before the tag into host/ns/model; len is its length. */
static int split_path(const char *s, size_t len, struct store_name *nm)
{
    const char *end = s + len, *slash = NULL;
    for (const char *p = s; p < end; p++)
        if (*p == '/')
            slash = p;
    if (!slash)
        return put_part(nm->model, sizeof(nm->model), s, len);
    if (put_part(nm->model, sizeof(nm->model), slash + 1, (size_t)(end - slash - 1)) != 0)
        return -1;
    end = slash;
    slash = NULL;
    for (const char *p = s; p < end; p++)
        if (*p == '/')
            slash = p;
    if (!slash)
        return put_part(nm->ns, sizeof(nm->ns), s, (size_t)(end - s));
    if (put_part(nm->ns, sizeof(nm->ns), slash + 1, (size_t)(end - slash - 1)) != 0)
        return -1;
    /* What remains is [scheme://]host; a host with '/' in it fails validation later. */
    const char *host = s;
    const char *sep = strstr(s, "://");
    if (sep && sep + 3 <= slash) {
        size_t sl = (size_t)(sep - s);
        if (sl == 4 && strncasecmp(s, "http", 4) == 0)
            nm->http = 1;
        else if (!(sl == 5 && strncasecmp(s, "https", 5) == 0))
            return -1;
        host = sep + 3;
    }
    if (slash == host)
        return -1; /* "/ns/model" or "http:///ns/model": an empty host given explicitly */
    return put_part(nm->host, sizeof(nm->host), host, (size_t)(slash - host));
}

int store_name_parse(const char *s, struct store_name *out, struct err_info *ei)
{
    struct store_name nm;
    size_t len;
    if (!s || !out)
        return invalid(ei);
    len = strnlen(s, NAME_INPUT_MAX + 1);
    if (len == 0 || len > NAME_INPUT_MAX)
        return invalid(ei);
    memset(&nm, 0, sizeof(nm));
    const char *colon = strrchr(s, ':');
    const char *slash = strrchr(s, '/');
    size_t path_len = len;
    if (colon && (!slash || colon > slash)) {
        if (put_part(nm.tag, sizeof(nm.tag), colon + 1, len - (size_t)(colon - s) - 1) != 0)
            return invalid(ei);
        if (nm.tag[0] == '\0')
            return invalid(ei);
        path_len = (size_t)(colon - s);
    }
    if (split_path(s, path_len, &nm) != 0)
        return invalid(ei);
    if (!nm.host[0])
        snprintf(nm.host, sizeof(nm.host), "%s", STORE_DEFAULT_HOST);
    if (!nm.ns[0]) {
        if (slash)
            return invalid(ei); /* "/model" */
        snprintf(nm.ns, sizeof(nm.ns), "%s", STORE_DEFAULT_NS);
    }
    if (!nm.tag[0])
        snprintf(nm.tag, sizeof(nm.tag), "%s", STORE_DEFAULT_TAG);
    if (!store_name_part_valid(nm.host, 'h') || !store_name_part_valid(nm.ns, 'n') ||
        !store_name_part_valid(nm.model, 'm') || !store_name_part_valid(nm.tag, 't'))
        return invalid(ei);
    *out = nm;
    return 0;
}

size_t store_name_display(const struct store_name *nm, char *out, size_t n)
{
    int w;
    if (strcasecmp(nm->host, STORE_DEFAULT_HOST) != 0)
        w = snprintf(out, n, "%s/%s/%s:%s", nm->host, nm->ns, nm->model, nm->tag);
    else if (strcasecmp(nm->ns, STORE_DEFAULT_NS) != 0)
        w = snprintf(out, n, "%s/%s:%s", nm->ns, nm->model, nm->tag);
    else
        w = snprintf(out, n, "%s:%s", nm->model, nm->tag);
    return w < 0 ? 0 : (size_t)w;
}

size_t store_name_full(const struct store_name *nm, char *out, size_t n)
{
    int w = snprintf(out, n, "%s/%s/%s:%s", nm->host, nm->ns, nm->model, nm->tag);
    return w < 0 ? 0 : (size_t)w;
}

int store_name_eq(const struct store_name *a, const struct store_name *b)
{
    return strcasecmp(a->host, b->host) == 0 && strcasecmp(a->ns, b->ns) == 0 &&
           strcasecmp(a->model, b->model) == 0 && strcasecmp(a->tag, b->tag) == 0;
}
