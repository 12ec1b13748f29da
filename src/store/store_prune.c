/*
 * store_prune.c - deleting blobs that no manifest references.
 *
 * The referenced set is built from every manifest (config + layers) into a sorted array of hex
 * digests; any manifest that fails to parse disables pruning (deleting a blob a corrupt manifest
 * may still need is not recoverable).  Files younger than the grace period are kept whatever
 * their name, so in-progress downloads (-partial, -partial-N) and temp files survive.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "store/store_int.h"

#define PRUNE_MAX_REFS (1u << 20) /* referenced digests we are willing to track */

struct refset {
    char (*hex)[65];
    size_t n, cap;
    int bad; /* a manifest did not parse */
};

static int refset_add(struct refset *rs, const char *digest)
{
    const char *hex = store__digest_hex(digest);
    if (!hex)
        return 0;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        void *p;
        if (cap > PRUNE_MAX_REFS)
            return E_RANGE;
        if (!(p = mem_realloc_array(rs->hex, cap, sizeof(*rs->hex))))
            return E_NOMEM;
        rs->hex = p;
        rs->cap = cap;
    }
    memcpy(rs->hex[rs->n++], hex, 65);
    return 0;
}

static int collect_cb(void *ctx, const struct store_list_entry *e)
{
    struct refset *rs = ctx;
    struct store_manifest m;
    int rc;
    if (store_manifest_parse(e->bytes, e->n, &m, NULL) != 0) {
        rs->bad = 1;
        return 0;
    }
    rc = refset_add(rs, m.config.digest);
    for (size_t i = 0; rc == 0 && i < m.n_layers; i++)
        rc = refset_add(rs, m.layers[i].digest);
    store_manifest_fini(&m);
    return rc;
}

static int cmp_hex(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

static int refset_has(const struct refset *rs, const char *hex)
{
    return rs->n && bsearch(hex, rs->hex, rs->n, sizeof(*rs->hex), cmp_hex) != NULL;
}

static int build_refs(const struct store *st, struct refset *rs)
{
    int rc = store_manifest_list(st, collect_cb, rs);
    if (rc != 0)
        return rc;
    if (rs->bad)
        return E_PARSE;
    if (rs->n)
        qsort(rs->hex, rs->n, sizeof(*rs->hex), cmp_hex);
    return 0;
}

/* Removes directories under manifests/ left empty (depth-first, never manifests/ itself). */
static void rm_empty_dirs(const char *dir, int depth)
{
    DIR *d;
    struct dirent *de;
    char path[PATH_MAX];
    if (depth > 3 || !(d = opendir(dir)))
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (de->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
            continue;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rm_empty_dirs(path, depth + 1);
            (void)rmdir(path);
        }
    }
    closedir(d);
}

int store_prune(struct store *st, long grace_seconds, size_t *n_removed)
{
    struct refset rs = {0};
    DIR *d = NULL;
    struct dirent *de;
    char path[PATH_MAX];
    time_t now = time(NULL);
    size_t removed = 0;
    int rc;
    if ((rc = build_refs(st, &rs)) != 0)
        goto out;
    if (!(d = opendir(st->blobs))) {
        rc = E_IO;
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        const char *nm = de->d_name;
        if (nm[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", st->blobs, nm) >= sizeof(path))
            continue;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (store_digest_valid(nm) && refset_has(&rs, nm + 7))
            continue;
        if ((long)(now - sb.st_mtime) < grace_seconds)
            continue;
        if (unlink(path) == 0)
            removed++;
    }
    rm_empty_dirs(st->manifests, 0);
out:
    if (d)
        closedir(d);
    mem_free(rs.hex);
    if (n_removed)
        *n_removed = removed;
    return rc;
}

int store_prune_digests(struct store *st, const char *const *digests, size_t n_digests)
{
    struct refset rs = {0};
    int rc;
    if ((rc = build_refs(st, &rs)) != 0)
        goto out;
    for (size_t i = 0; i < n_digests; i++) {
        const char *hex = store__digest_hex(digests[i]);
        if (!hex || refset_has(&rs, hex))
            continue;
        if ((rc = store_blob_delete(st, digests[i])) != 0)
            goto out;
    }
out:
    mem_free(rs.hex);
    return rc;
}
