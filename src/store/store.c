/*
 * store.c - opening the store, the store lock, and content-addressed blobs.
 *
 * Blobs are written through a streaming writer: bytes go to a temp file in blobs/ (mkstemp,
 * named sha256-tmp-XXXXXX) while they are hashed; commit checks the digest, fsyncs, and renames
 * to sha256-<hex>.  A mismatch or an abort unlinks the temp file, so a bad download never leaves
 * a file behind under a content address.  An existing blob with the same digest is kept as is.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/mem.h"
#include "store/store_int.h"

#define BLOB_COPY_CHUNK (1u << 20)

/* ---- opening ---- */

/* Copies an environment value with surrounding blanks and quotes removed (Ollama's rule). */
static void env_clean(const char *v, char *out, size_t n)
{
    size_t len;
    while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
        v++;
    len = strlen(v);
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '"' ||
                       v[len - 1] == '\'' || v[len - 1] == '\n'))
        len--;
    if (len >= n)
        len = 0;
    memcpy(out, v, len);
    out[len] = '\0';
}

static int default_dir(char *out, size_t n)
{
    const char *env = getenv("OLLAMA_MODELS");
    const char *home = getenv("HOME");
    if (env) {
        env_clean(env, out, n);
        if (out[0])
            return 0;
    }
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return E_NOTFOUND;
    if ((size_t)snprintf(out, n, "%s/.ollama/models", home) >= n)
        return E_RANGE;
    return 0;
}

int store_open(const char *dir, struct store **out, struct err_info *ei)
{
    struct store *st = mem_calloc(1, sizeof(*st));
    int rc;
    if (!st)
        return err_set(ei, E_NOMEM, "out of memory");
    if (dir) {
        if ((size_t)snprintf(st->dir, sizeof(st->dir), "%s", dir) >= sizeof(st->dir)) {
            rc = err_set(ei, E_RANGE, "models directory path too long");
            goto out;
        }
    } else if ((rc = default_dir(st->dir, sizeof(st->dir))) != 0) {
        err_set(ei, rc, "cannot find the models directory (set OLLAMA_MODELS or HOME)");
        goto out;
    }
    if ((size_t)snprintf(st->blobs, sizeof(st->blobs), "%s/blobs", st->dir) >= sizeof(st->blobs) ||
        (size_t)snprintf(st->manifests, sizeof(st->manifests), "%s/manifests", st->dir) >=
            sizeof(st->manifests)) {
        rc = err_set(ei, E_RANGE, "models directory path too long");
        goto out;
    }
    if ((rc = fs_mkdir_p(st->blobs, 0755)) != 0 || (rc = fs_mkdir_p(st->manifests, 0755)) != 0) {
        err_set(ei, rc, "cannot create %s: %s", st->dir, strerror(errno));
        goto out;
    }
    *out = st;
    st = NULL;
out:
    mem_free(st);
    return rc;
}

void store_close(struct store *st)
{
    mem_free(st);
}

const char *store_dir(const struct store *st)
{
    return st->dir;
}

int store_lock(struct store *st, int *fd)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/.corral.lock", st->dir);
    return fs_lock(path, 0, fd);
}

void store_unlock(int fd)
{
    fs_unlock(fd);
}

/* ---- digests ---- */

const char *store__digest_hex(const char *digest)
{
    if (!digest || strncmp(digest, "sha256", 6) != 0 || (digest[6] != ':' && digest[6] != '-'))
        return NULL;
    for (int i = 0; i < 64; i++) {
        char c = digest[7 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return NULL;
    }
    return digest[7 + 64] == '\0' ? digest + 7 : NULL;
}

int store_digest_valid(const char *digest)
{
    return store__digest_hex(digest) != NULL;
}

int store_digest_canon(const char *digest, char out[72])
{
    const char *hex = store__digest_hex(digest);
    if (!hex)
        return E_INVAL;
    memcpy(out, "sha256:", 7);
    memcpy(out + 7, hex, 65);
    return 0;
}

/* ---- blobs ---- */

int store_blob_path(const struct store *st, const char *digest, char *out, size_t n)
{
    const char *hex = store__digest_hex(digest);
    if (!hex)
        return E_INVAL;
    if ((size_t)snprintf(out, n, "%s/sha256-%s", st->blobs, hex) >= n)
        return E_RANGE;
    return 0;
}

int store_blob_has(const struct store *st, const char *digest)
{
    char path[PATH_MAX];
    struct stat sb;
    if (store_blob_path(st, digest, path, sizeof(path)) != 0)
        return 0;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int store_blob_size(const struct store *st, const char *digest, uint64_t *size)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc = store_blob_path(st, digest, path, sizeof(path));
    if (rc != 0)
        return rc;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? E_NOTFOUND : E_IO;
    if (!S_ISREG(sb.st_mode))
        return E_NOTFOUND;
    *size = (uint64_t)sb.st_size;
    return 0;
}

int store_blob_open(const struct store *st, const char *digest, int *fd)
{
    char path[PATH_MAX];
    int rc = store_blob_path(st, digest, path, sizeof(path));
    int f;
    if (rc != 0)
        return rc;
    if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? E_NOTFOUND : E_IO;
    *fd = f;
    return 0;
}

int store_blob_delete(struct store *st, const char *digest)
{
    char path[PATH_MAX];
    int rc = store_blob_path(st, digest, path, sizeof(path));
    if (rc != 0)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return E_IO;
    return 0;
}

/* ---- streaming writer ---- */

struct store_blob_writer {
    struct store *st;
    struct crypto_sha256 *sha;
    int fd;
    int has_expected;
    char expected[65];
    char tmp[PATH_MAX];
};

int store_blob_writer_new(struct store *st, const char *expected, struct store_blob_writer **out)
{
    struct store_blob_writer *w;
    const char *hex = NULL;
    if (expected && !(hex = store__digest_hex(expected)))
        return E_INVAL;
    if (!(w = mem_calloc(1, sizeof(*w))))
        return E_NOMEM;
    w->st = st;
    w->fd = -1;
    if (hex) {
        memcpy(w->expected, hex, 65);
        w->has_expected = 1;
    }
    if ((size_t)snprintf(w->tmp, sizeof(w->tmp), "%s/sha256-tmp-XXXXXX", st->blobs) >=
        sizeof(w->tmp)) {
        mem_free(w);
        return E_RANGE;
    }
    if (!(w->sha = crypto_sha256_new())) {
        mem_free(w);
        return E_NOMEM;
    }
    if ((w->fd = mkostemp(w->tmp, O_CLOEXEC)) < 0) {
        crypto_sha256_free(w->sha);
        mem_free(w);
        return E_IO;
    }
    (void)fchmod(w->fd, 0644);
    *out = w;
    return 0;
}

int store_blob_writer_write(struct store_blob_writer *w, const void *p, size_t n)
{
    const char *c = p;
    crypto_sha256_update(w->sha, p, n);
    while (n > 0) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOSPC ? E_RANGE : E_IO;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

void store_blob_writer_abort(struct store_blob_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    crypto_sha256_free(w->sha);
    mem_free(w);
}

int store_blob_writer_commit(struct store_blob_writer *w, char digest_out[72])
{
    char hex[65], final[PATH_MAX];
    int rc = 0;
    crypto_sha256_final_hex(w->sha, hex);
    if (w->has_expected && strcmp(hex, w->expected) != 0) {
        rc = E_INTEGRITY;
        goto out;
    }
    if (fsync(w->fd) != 0) {
        rc = E_IO;
        goto out;
    }
    if ((size_t)snprintf(final, sizeof(final), "%s/sha256-%s", w->st->blobs, hex) >=
        sizeof(final)) {
        rc = E_RANGE;
        goto out;
    }
    if (fs_exists(final)) {
        (void)utimensat(AT_FDCWD, final, NULL, 0); /* keep the old file, mark it fresh */
        goto out;
    }
    if (rename(w->tmp, final) != 0) {
        rc = E_IO;
        goto out;
    }
    w->tmp[0] = '\0';
    (void)fs_sync_parent(final);
out:
    if (rc == 0 && digest_out) {
        memcpy(digest_out, "sha256:", 7);
        memcpy(digest_out + 7, hex, 65);
    }
    close(w->fd);
    if (w->tmp[0])
        unlink(w->tmp);
    crypto_sha256_free(w->sha);
    mem_free(w);
    return rc;
}

int store_blob_import_file(struct store *st, const char *path, char digest_out[72])
{
    struct store_blob_writer *w = NULL;
    char *chunk = NULL;
    int fd = -1, rc;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? E_NOTFOUND : E_IO;
    if (!(chunk = mem_alloc(BLOB_COPY_CHUNK))) {
        rc = E_NOMEM;
        goto out;
    }
    if ((rc = store_blob_writer_new(st, NULL, &w)) != 0)
        goto out;
    for (;;) {
        ssize_t k = read(fd, chunk, BLOB_COPY_CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = E_IO;
            goto out;
        }
        if (k == 0)
            break;
        if ((rc = store_blob_writer_write(w, chunk, (size_t)k)) != 0)
            goto out;
    }
    rc = store_blob_writer_commit(w, digest_out);
    w = NULL;
out:
    store_blob_writer_abort(w);
    mem_free(chunk);
    close(fd);
    return rc;
}

int store_blob_put(struct store *st, const void *p, size_t n, char digest_out[72])
{
    struct store_blob_writer *w;
    int rc = store_blob_writer_new(st, NULL, &w);
    if (rc != 0)
        return rc;
    if ((rc = store_blob_writer_write(w, p, n)) != 0) {
        store_blob_writer_abort(w);
        return rc;
    }
    return store_blob_writer_commit(w, digest_out);
}
