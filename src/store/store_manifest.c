/*
 * store_manifest.c - manifests on disk (raw bytes, kept byte for byte) and their parsed form.
 *
 * The raw side maps a validated name to manifests/<host>/<ns>/<model>/<tag>, reads with a cap,
 * writes atomically, deletes (pruning empty directories) and enumerates exactly four levels,
 * skipping paths whose parts do not validate, as Ollama does.  A missing exact path falls back
 * to a case-insensitive walk so `Llama3.2` finds `llama3.2`.
 *
 * The parsed side uses jansson; the serialiser writes JSON itself so the bytes match Go's
 * encoding/json (field order, compact, HTML-safe escapes, trailing newline).
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/mem.h"
#include "store/store_int.h"

#define MANIFEST_MAX_STRING 4096 /* any string field of a manifest */

/* ---- paths ---- */

static int name_valid(const struct store_name *nm)
{
    return store_name_part_valid(nm->host, 'h') && store_name_part_valid(nm->ns, 'n') &&
           store_name_part_valid(nm->model, 'm') && store_name_part_valid(nm->tag, 't');
}

int store_manifest_path(const struct store *st, const struct store_name *nm, char *out, size_t n)
{
    if (!name_valid(nm))
        return E_INVAL;
    if ((size_t)snprintf(out, n, "%s/%s/%s/%s/%s", st->manifests, nm->host, nm->ns, nm->model,
                         nm->tag) >= n)
        return E_RANGE;
    return 0;
}

/* Finds in dir an entry equal to want ignoring case; appends "/<entry>" to path. */
static int find_ci(char *path, size_t cap, const char *want)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int rc = E_NOTFOUND;
    if (!d)
        return E_NOTFOUND;
    while ((de = readdir(d)) != NULL) {
        if (strcasecmp(de->d_name, want) != 0)
            continue;
        size_t len = strlen(path);
        if ((size_t)snprintf(path + len, cap - len, "/%s", de->d_name) >= cap - len)
            rc = E_RANGE;
        else
            rc = 0;
        break;
    }
    closedir(d);
    return rc;
}

static int path_ci(const struct store *st, const struct store_name *nm, char *out, size_t n)
{
    const char *parts[4] = {nm->host, nm->ns, nm->model, nm->tag};
    int rc;
    if (!name_valid(nm))
        return E_INVAL;
    if ((size_t)snprintf(out, n, "%s", st->manifests) >= n)
        return E_RANGE;
    for (int i = 0; i < 4; i++)
        if ((rc = find_ci(out, n, parts[i])) != 0)
            return rc;
    return 0;
}

int store_manifest_read(const struct store *st, const struct store_name *nm, char **bytes,
                        size_t *n)
{
    char path[PATH_MAX];
    int rc = store_manifest_path(st, nm, path, sizeof(path));
    if (rc != 0)
        return rc;
    rc = fs_read_all(path, MANIFEST_MAX_BYTES, bytes, n);
    if (rc == E_NOTFOUND && path_ci(st, nm, path, sizeof(path)) == 0)
        rc = fs_read_all(path, MANIFEST_MAX_BYTES, bytes, n);
    return rc;
}

int store_manifest_write(struct store *st, const struct store_name *nm, const void *bytes, size_t n)
{
    char path[PATH_MAX];
    int rc = store_manifest_path(st, nm, path, sizeof(path));
    if (rc != 0)
        return rc;
    if (n > MANIFEST_MAX_BYTES)
        return E_RANGE;
    /* an existing model spelled with other case keeps its on-disk spelling (Ollama's rule) */
    if (!fs_exists(path) && path_ci(st, nm, path, sizeof(path)) != 0 &&
        (rc = store_manifest_path(st, nm, path, sizeof(path))) != 0)
        return rc;
    *strrchr(path, '/') = '\0';
    if ((rc = fs_mkdir_p(path, 0755)) != 0)
        return rc;
    path[strlen(path)] = '/';
    return fs_write_atomic(path, bytes, n, 0644);
}

int store_manifest_delete(struct store *st, const struct store_name *nm)
{
    char path[PATH_MAX];
    int rc = store_manifest_path(st, nm, path, sizeof(path));
    if (rc != 0)
        return rc;
    if (unlink(path) != 0) {
        if (errno != ENOENT || path_ci(st, nm, path, sizeof(path)) != 0 || unlink(path) != 0)
            return errno == ENOENT ? E_NOTFOUND : E_IO;
    }
    /* Remove <model>, <ns>, <host> while they are empty (rmdir refuses otherwise). */
    for (int i = 0; i < 3; i++) {
        *strrchr(path, '/') = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return 0;
}

void store_manifest_id(const void *bytes, size_t n, char hex[65])
{
    crypto_sha256_hex(bytes, n, hex);
}

/* ---- enumeration ---- */

struct list_walk {
    const struct store *st;
    store_list_cb cb;
    void *ctx;
    struct store_name nm;
};

#define STORE_LIST_MAX_ENTRIES 100000 /* entries read from one manifests/ directory */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mem_free(names[i]);
    mem_free(names);
}

/* Sorted names in dir (no dot files); caller frees with names_free. */
static int dir_names(const char *dir, char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? E_NOTFOUND : E_IO;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **p =
                nc > STORE_LIST_MAX_ENTRIES ? NULL : mem_realloc_array(names, nc, sizeof(*p));
            if (!p) {
                rc = nc > STORE_LIST_MAX_ENTRIES ? E_RANGE : E_NOMEM;
                break;
            }
            names = p;
            cap = nc;
        }
        if (!(names[n] = mem_strdup(de->d_name)))
            rc = E_NOMEM;
        else
            n++;
    }
    closedir(d);
    if (rc != 0) {
        names_free(names, n);
        return rc;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    *count = n;
    return 0;
}

static int list_leaf(struct list_walk *lw, const char *path)
{
    struct store_list_entry e;
    struct stat sb;
    char *bytes = NULL;
    size_t n = 0;
    int rc;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    if ((rc = fs_read_all(path, MANIFEST_MAX_BYTES, &bytes, &n)) != 0)
        return rc == E_NOMEM ? rc : 0; /* unreadable or oversize: skipped */
    e.name = &lw->nm;
    e.bytes = bytes;
    e.n = n;
    e.mtime = sb.st_mtime;
    rc = lw->cb(lw->ctx, &e);
    mem_free(bytes);
    return rc;
}

static int list_level(struct list_walk *lw, const char *dir, int level)
{
    static const char kinds[4] = {'h', 'n', 'm', 't'};
    char *parts[4] = {lw->nm.host, lw->nm.ns, lw->nm.model, lw->nm.tag};
    size_t caps[4] = {sizeof(lw->nm.host), sizeof(lw->nm.ns), sizeof(lw->nm.model),
                      sizeof(lw->nm.tag)};
    char path[PATH_MAX], **names = NULL;
    size_t cnt = 0;
    int rc = dir_names(dir, &names, &cnt);
    if (rc != 0)
        return rc == E_NOTFOUND ? 0 : rc;
    for (size_t i = 0; i < cnt && rc == 0; i++) {
        const char *nm = names[i];
        if (!store_name_part_valid(nm, kinds[level]) || strlen(nm) >= caps[level])
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, nm) >= sizeof(path))
            continue;
        snprintf(parts[level], caps[level], "%s", nm);
        rc = level == 3 ? list_leaf(lw, path) : list_level(lw, path, level + 1);
    }
    names_free(names, cnt);
    return rc;
}

int store_manifest_list(const struct store *st, store_list_cb cb, void *ctx)
{
    struct list_walk lw;
    memset(&lw, 0, sizeof(lw));
    lw.st = st;
    lw.cb = cb;
    lw.ctx = ctx;
    return list_level(&lw, st->manifests, 0);
}

/* ---- parsed form ---- */

void store_manifest_fini(struct store_manifest *m)
{
    if (!m)
        return;
    mem_free(m->media_type);
    mem_free(m->config.media_type);
    mem_free(m->config.from);
    mem_free(m->config.name);
    for (size_t i = 0; i < m->n_layers; i++) {
        mem_free(m->layers[i].media_type);
        mem_free(m->layers[i].from);
        mem_free(m->layers[i].name);
    }
    mem_free(m->layers);
    memset(m, 0, sizeof(*m));
}

/* Optional string field: absent or null leaves *out NULL; other types are a parse error. */
static int get_str(json_t *obj, const char *key, char **out, struct err_info *ei)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > MANIFEST_MAX_STRING ||
        strlen(json_string_value(v)) != json_string_length(v))
        return err_set(ei, E_PARSE, "manifest: field %s is not a valid string", key);
    if (!(*out = mem_strdup(json_string_value(v))))
        return E_NOMEM;
    return 0;
}

static int parse_layer(json_t *o, struct store_layer *l, const char *what, struct err_info *ei)
{
    json_t *d, *sz;
    int rc;
    if (!json_is_object(o))
        return err_set(ei, E_PARSE, "manifest: %s is not an object", what);
    d = json_object_get(o, "digest");
    if (!json_is_string(d) || store_digest_canon(json_string_value(d), l->digest) != 0 ||
        json_string_value(d)[6] != ':')
        return err_set(ei, E_PARSE, "manifest: %s has an invalid digest", what);
    sz = json_object_get(o, "size");
    if (sz && !json_is_null(sz)) {
        if (!json_is_integer(sz) || json_integer_value(sz) < 0)
            return err_set(ei, E_PARSE, "manifest: %s has an invalid size", what);
        l->size = (uint64_t)json_integer_value(sz);
    }
    if ((rc = get_str(o, "mediaType", &l->media_type, ei)) != 0 ||
        (rc = get_str(o, "from", &l->from, ei)) != 0 || (rc = get_str(o, "name", &l->name, ei)))
        return rc;
    return 0;
}

static int parse_root(json_t *root, struct store_manifest *m, struct err_info *ei)
{
    json_t *sv, *layers;
    int rc;
    if (!json_is_object(root))
        return err_set(ei, E_PARSE, "manifest: not a JSON object");
    sv = json_object_get(root, "schemaVersion");
    if (sv && json_is_integer(sv) && json_integer_value(sv) >= 0 && json_integer_value(sv) < 100)
        m->schema_version = (int)json_integer_value(sv);
    else if (sv && !json_is_null(sv))
        return err_set(ei, E_PARSE, "manifest: invalid schemaVersion");
    if ((rc = get_str(root, "mediaType", &m->media_type, ei)) != 0)
        return rc;
    if ((rc = parse_layer(json_object_get(root, "config"), &m->config, "config", ei)) != 0)
        return rc;
    layers = json_object_get(root, "layers");
    if (!layers || json_is_null(layers))
        return 0;
    if (!json_is_array(layers))
        return err_set(ei, E_PARSE, "manifest: layers is not an array");
    if (json_array_size(layers) > STORE_MANIFEST_MAX_LAYERS)
        return err_set(ei, E_RANGE, "manifest: too many layers");
    if (json_array_size(layers) == 0)
        return 0;
    if (!(m->layers = mem_calloc(json_array_size(layers), sizeof(*m->layers))))
        return E_NOMEM;
    for (size_t i = 0; i < json_array_size(layers); i++) {
        m->n_layers = i + 1;
        if ((rc = parse_layer(json_array_get(layers, i), &m->layers[i], "layer", ei)) != 0)
            return rc;
    }
    return 0;
}

int store_manifest_parse(const void *bytes, size_t n, struct store_manifest *m, struct err_info *ei)
{
    struct store_manifest tmp;
    json_error_t jerr;
    json_t *root;
    int rc;
    if (n > MANIFEST_MAX_BYTES)
        return err_set(ei, E_RANGE, "manifest larger than %u bytes", MANIFEST_MAX_BYTES);
    root = json_loadb(bytes, n, 0, &jerr);
    if (!root) {
        err_set(ei, E_PARSE, "manifest: %s", jerr.text);
        if (ei)
            ei->offset = (uint64_t)jerr.position;
        return E_PARSE;
    }
    memset(&tmp, 0, sizeof(tmp));
    rc = parse_root(root, &tmp, ei);
    json_decref(root);
    if (rc != 0) {
        store_manifest_fini(&tmp);
        return rc;
    }
    *m = tmp;
    return 0;
}

/* Writes s as a JSON string the way Go's encoding/json does (HTML-safe). */
static int put_json_str(struct buf *b, const char *s)
{
    int rc = buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\')
            rc = buf_printf(b, "\\%c", c);
        else if (c == '\n')
            rc = buf_puts(b, "\\n");
        else if (c == '\r')
            rc = buf_puts(b, "\\r");
        else if (c == '\t')
            rc = buf_puts(b, "\\t");
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            rc = buf_printf(b, "\\u00%02x", c);
        else if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            rc = buf_printf(b, "\\u202%c", p[2] == 0xa8 ? '8' : '9');
            p += 2;
        } else
            rc = buf_putc(b, (char)c);
    }
    return rc ? rc : buf_putc(b, '"');
}

static int put_layer(struct buf *b, const struct store_layer *l)
{
    int rc;
    if ((rc = buf_puts(b, "{\"mediaType\":")) != 0 ||
        (rc = put_json_str(b, l->media_type ? l->media_type : "")) != 0 ||
        (rc = buf_printf(b, ",\"digest\":\"%s\",\"size\":%llu", l->digest,
                         (unsigned long long)l->size)) != 0)
        return rc;
    if (l->from && l->from[0] &&
        ((rc = buf_puts(b, ",\"from\":")) != 0 || (rc = put_json_str(b, l->from)) != 0))
        return rc;
    if (l->name && l->name[0] &&
        ((rc = buf_puts(b, ",\"name\":")) != 0 || (rc = put_json_str(b, l->name)) != 0))
        return rc;
    return buf_putc(b, '}');
}

int store_manifest_serialize(const struct store_manifest *m, char **bytes, size_t *n)
{
    struct buf b;
    int rc;
    buf_init(&b, MANIFEST_MAX_BYTES);
    if ((rc = buf_printf(&b, "{\"schemaVersion\":%d,\"mediaType\":", m->schema_version)) != 0 ||
        (rc = put_json_str(&b, m->media_type ? m->media_type : "")) != 0 ||
        (rc = buf_puts(&b, ",\"config\":")) != 0 || (rc = put_layer(&b, &m->config)) != 0 ||
        (rc = buf_puts(&b, ",\"layers\":[")) != 0)
        goto out;
    for (size_t i = 0; i < m->n_layers; i++) {
        if ((i && (rc = buf_putc(&b, ',')) != 0) || (rc = put_layer(&b, &m->layers[i])) != 0)
            goto out;
    }
    if ((rc = buf_puts(&b, "]}\n")) != 0)
        goto out;
    *bytes = buf_take(&b, n);
    if (!*bytes)
        rc = E_NOMEM;
out:
    buf_fini(&b);
    return rc;
}
