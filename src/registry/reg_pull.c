/*
 * reg_pull.c - pulling a model: manifest, blobs in parallel Range parts, manifest written last.
 *
 * Blob download (Ollama's server/download.go, adapted):
 *   - blobs/sha256-<hex>-partial is the data file, preallocated (sparse) to the blob's size and
 *     flock'ed by the one downloader: a second pull of the same blob (another thread or another
 *     process) waits on the lock and then finds the finished blob, so a blob downloads once;
 *   - blobs/sha256-<hex>-partial-<N> holds part N's progress as Ollama's JSON
 *     {"N":i,"Offset":o,"Size":s,"Completed":c}, rewritten after every attempt and every
 *     REG_PERSIST_BYTES, so an interrupted pull (or a restarted daemon) resumes where it stopped;
 *   - up to REG_MAX_WORKERS threads take parts in order; each part gets REG_PART_ATTEMPTS tries
 *     with doubling sleeps; a reply that is not the requested range, or carries more bytes than
 *     asked, fails the part;
 *   - when every part is complete the file is hashed; a mismatch deletes the data and the part
 *     files (E_INTEGRITY, Ollama's message); a match renames it into place.
 * The direct URL comes from a HEAD on the registry: same-host redirects are followed with
 * credentials, the first cross-host redirect (a CDN) becomes the URL for the parts, without them.
 */
#include "registry/reg_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/mem.h"

#define REG_PERSIST_BYTES   (8u << 20) /* part records rewritten at least this often... */
#define REG_PERSIST_SECONDS 1          /* ...and at least once a second while bytes arrive */
#define REG_WAIT_POLL_MS    100        /* a pull waiting on another's download looks this often */
#define PART_RECORD_MAX     512
#define REG_RESOLVE_SECONDS 30 /* retrying the blob's location */
#define REG_MAX_STALLS      20 /* stalled attempts (no byte for REG_STALL_SECONDS) per part */
#define MT_OLLAMA_PREFIX    "application/vnd.ollama.image."

struct part {
    int n;
    uint64_t off, size;
    _Atomic uint64_t completed;
    uint64_t persisted; /* completed value last written to the record */
    time_t persisted_at;
};

struct dl {
    struct reg_client *c;
    const char *digest; /* "sha256:<hex>" */
    const char *hex;
    uint64_t total;
    char data_path[PATH_MAX];
    int fd;
    char url[REG_URL_MAX]; /* where parts are fetched from */
    int url_same_host;
    struct part *parts;
    size_t n_parts;
    pthread_mutex_t mu; /* protects next, rc, ei */
    size_t next;
    int rc;
    struct err_info ei;
    atomic_int running;
};

uint64_t reg_part_size(uint64_t total, uint64_t override)
{
    uint64_t size = total / 16;
    const char *env = getenv("CORRAL_PULL_PART_SIZE");
    if (size < REG_PART_MIN)
        size = REG_PART_MIN;
    if (size > REG_PART_MAX)
        size = REG_PART_MAX;
    if (!override && env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v > 0)
            override = v;
    }
    /* An explicit size wins either way: tests lower it to get many parts of a small blob, the
     * benchmark raises it to get one part of a large blob. */
    if (override)
        size = override;
    if (total / size >= REG_MAX_PARTS)
        size = total / REG_MAX_PARTS + 1;
    return size ? size : 1;
}

/* ---- part records ---- */

static void part_record_path(const struct dl *d, int n, char *out, size_t cap)
{
    snprintf(out, cap, "%s-%d", d->data_path, n);
}

static int part_persist(struct dl *d, struct part *p)
{
    char path[PATH_MAX + 16], rec[PART_RECORD_MAX];
    uint64_t done = atomic_load(&p->completed);
    int len = snprintf(
        rec, sizeof(rec), "{\"N\":%d,\"Offset\":%llu,\"Size\":%llu,\"Completed\":%llu}", p->n,
        (unsigned long long)p->off, (unsigned long long)p->size, (unsigned long long)done);
    part_record_path(d, p->n, path, sizeof(path));
    p->persisted = done;
    p->persisted_at = time(NULL);
    return fs_write_atomic(path, rec, (size_t)len, 0644);
}

static void parts_unlink(struct dl *d, size_t upto)
{
    char path[PATH_MAX + 16];
    for (size_t i = 0; i < upto; i++) {
        part_record_path(d, (int)i, path, sizeof(path));
        unlink(path);
    }
}

/* Removes temp files a killed writer of part records left (<data>-partial-N.tmp-XXXXXX). */
static void parts_clean_tmp(struct dl *d)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    const char *base = strrchr(d->data_path, '/') + 1;
    size_t bl = strlen(base);
    struct dirent *de;
    DIR *dh;
    snprintf(dir, sizeof(dir), "%.*s", (int)(base - d->data_path - 1), d->data_path);
    if (!(dh = opendir(dir)))
        return;
    while ((de = readdir(dh)) != NULL) {
        if (strncmp(de->d_name, base, bl) != 0 || de->d_name[bl] != '-' ||
            !strstr(de->d_name + bl, ".tmp"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(dh);
}

static int u64_field(json_t *o, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Loads existing part records; 1 when a consistent set covering the blob was found. */
static int parts_load(struct dl *d)
{
    char path[PATH_MAX + 16];
    uint64_t off = 0;
    size_t n = 0;
    for (; n < REG_MAX_PARTS && off < d->total; n++) {
        char *data = NULL;
        size_t len;
        json_t *o;
        uint64_t num, po, ps, pc;
        int ok;
        part_record_path(d, (int)n, path, sizeof(path));
        if (fs_read_all(path, PART_RECORD_MAX, &data, &len) != 0)
            return 0;
        o = json_loadb(data, len, 0, NULL);
        mem_free(data);
        ok = o && u64_field(o, "N", &num) == 0 && u64_field(o, "Offset", &po) == 0 &&
             u64_field(o, "Size", &ps) == 0 && u64_field(o, "Completed", &pc) == 0 && num == n &&
             po == off && ps > 0 && pc <= ps && ps <= d->total - off;
        json_decref(o);
        if (!ok)
            return 0;
        d->parts[n].n = (int)n;
        d->parts[n].off = po;
        d->parts[n].size = ps;
        atomic_store(&d->parts[n].completed, pc);
        d->parts[n].persisted = pc;
        off += ps;
    }
    if (off != d->total)
        return 0;
    d->n_parts = n;
    return 1;
}

static int parts_fresh(struct dl *d)
{
    uint64_t size = reg_part_size(d->total, d->c->o->part_size);
    int rc;
    parts_unlink(d, REG_MAX_PARTS);
    d->n_parts = 0;
    for (uint64_t off = 0; off < d->total; off += size) {
        struct part *p = &d->parts[d->n_parts];
        p->n = (int)d->n_parts;
        p->off = off;
        p->size = d->total - off < size ? d->total - off : size;
        atomic_store(&p->completed, 0);
        d->n_parts++;
        if ((rc = part_persist(d, p)) != 0)
            return rc;
    }
    return 0;
}

/* ---- one part ---- */

struct part_sink {
    struct dl *d;
    struct part *p;
    struct reg_resp *rs;
    uint64_t pos, end; /* next file offset to write; last offset of the request (inclusive) */
    int checked;
};

static int part_sink_write(void *ctx, const char *buf, size_t n)
{
    struct part_sink *s = ctx;
    if (!s->checked) {
        int whole = s->pos == 0 && s->end + 1 == s->d->total;
        if (!(s->rs->status == 206 || (s->rs->status == 200 && whole)))
            return E_UNSUPPORTED;
        s->checked = 1;
    }
    if (n > s->end + 1 - s->pos)
        return E_RANGE; /* more bytes than the part has: the size does not match */
    while (n > 0) {
        ssize_t k = pwrite(s->d->fd, buf, n, (off_t)s->pos);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return errno == ENOSPC ? E_RANGE : E_IO;
        buf += k;
        n -= (size_t)k;
        s->pos += (uint64_t)k;
        atomic_fetch_add(&s->p->completed, (uint64_t)k);
    }
    if (atomic_load(&s->p->completed) - s->p->persisted >= REG_PERSIST_BYTES ||
        time(NULL) - s->p->persisted_at >= REG_PERSIST_SECONDS)
        (void)part_persist(s->d, s->p);
    return reg__cancelled(s->d->c) ? E_CANCELLED : 0;
}

/* One attempt at the rest of part p. */
static int part_attempt(struct dl *d, struct part *p, struct err_info *ei)
{
    char range[64];
    struct reg_req rq;
    struct reg_resp rs;
    struct part_sink s;
    int rc;
    memset(&s, 0, sizeof(s));
    s.d = d;
    s.p = p;
    s.rs = &rs;
    s.pos = p->off + atomic_load(&p->completed);
    s.end = p->off + p->size - 1;
    snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)s.pos,
             (unsigned long long)s.end);
    reg__req_init(&rq, "GET", d->url);
    rq.range = range;
    rq.sink = part_sink_write;
    rq.sink_ctx = &s;
    rq.no_auth = !d->url_same_host;
    reg__resp_init(&rs);
    rc = d->url_same_host ? reg__request(d->c, &rq, &rs, 0, ei) : reg__http(d->c, &rq, &rs, ei);
    if (rc == 0 && rs.status == 416)
        rc = E_RANGE; /* the blob is shorter than the manifest says */
    else if (rc == 0 && (rs.status < 200 || rs.status >= 300))
        rc = reg__http_error(&rs, d->digest, ei);
    if (rc == E_UNSUPPORTED)
        err_set(ei, rc, "%s: the server did not honour the Range request", d->digest);
    else if (rc == E_RANGE)
        err_set(ei, rc, "%s: the data does not match the declared size %llu", d->digest,
                (unsigned long long)d->total);
    (void)part_persist(d, p);
    reg__resp_fini(&rs);
    return rc;
}

static int retryable(int rc)
{
    return rc == E_NET || rc == E_TIMEOUT || rc == E_IO;
}

static int part_run(struct dl *d, struct part *p, struct err_info *ei)
{
    int rc = 0, stalls = 0;
    for (int attempt = 0; attempt < REG_PART_ATTEMPTS; attempt++) {
        if (atomic_load(&p->completed) >= p->size)
            return 0;
        if (reg__cancelled(d->c))
            return err_set(ei, E_CANCELLED, "cancelled");
        uint64_t before = atomic_load(&p->completed);
        rc = part_attempt(d, p, ei);
        if (rc == 0 && atomic_load(&p->completed) >= p->size)
            return 0;
        if (rc == 0)
            rc = err_set(ei, E_NET, "unexpected EOF"); /* short body: resumable */
        if (!retryable(rc))
            return rc;
        if ((rc == E_TIMEOUT && ++stalls <= REG_MAX_STALLS) ||
            atomic_load(&p->completed) > before) {
            attempt--; /* stalled, or cut off after some progress: not a failed try */
            continue;
        }
        struct timespec ts = {.tv_sec = attempt < 3 ? 1L << attempt : 8, .tv_nsec = 0};
        nanosleep(&ts, NULL);
    }
    char cause[sizeof(ei->msg)];
    snprintf(cause, sizeof(cause), "%s", ei->msg);
    return err_set(ei, rc ? rc : E_NET, "max retries exceeded: %s", cause);
}

static void *worker(void *arg)
{
    struct dl *d = arg;
    for (;;) {
        struct part *p = NULL;
        struct err_info ei = {0};
        int rc;
        pthread_mutex_lock(&d->mu);
        while (d->rc == 0 && d->next < d->n_parts && !p) {
            struct part *q = &d->parts[d->next++];
            if (atomic_load(&q->completed) < q->size)
                p = q;
        }
        pthread_mutex_unlock(&d->mu);
        if (!p)
            break;
        if ((rc = part_run(d, p, &ei)) != 0) {
            pthread_mutex_lock(&d->mu);
            if (d->rc == 0) {
                d->rc = rc;
                d->ei = ei;
            }
            pthread_mutex_unlock(&d->mu);
            atomic_store(&d->c->stop, rc == E_CANCELLED ? 1 : atomic_load(&d->c->stop));
        }
    }
    atomic_fetch_sub(&d->running, 1);
    return NULL;
}

static uint64_t dl_completed(struct dl *d)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < d->n_parts; i++)
        sum += atomic_load(&d->parts[i].completed);
    return sum;
}

/* Runs the workers and reports progress every REG_PROGRESS_MS until they finish. */
static int dl_parts(struct dl *d, const char *label, struct err_info *ei)
{
    pthread_t th[REG_MAX_WORKERS];
    size_t nw = d->n_parts < REG_MAX_WORKERS ? d->n_parts : REG_MAX_WORKERS, started = 0;
    int prc = 0;
    atomic_store(&d->running, (int)nw);
    for (; started < nw; started++)
        if (pthread_create(&th[started], NULL, worker, d) != 0)
            break;
    atomic_fetch_sub(&d->running, (int)(nw - started));
    if (started == 0 && nw > 0)
        return err_set(ei, E_NOMEM, "cannot start download threads");
    while (atomic_load(&d->running) > 0) {
        struct timespec ts = {0, REG_PROGRESS_MS * 1000000L};
        nanosleep(&ts, NULL);
        if (prc == 0)
            prc = reg__progress(d->c, label, d->digest, d->total, dl_completed(d));
    }
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (d->rc != 0) {
        *ei = d->ei;
        return d->rc;
    }
    if (prc != 0)
        return err_set(ei, prc, "cancelled");
    return reg__progress(d->c, label, d->digest, d->total, dl_completed(d));
}

/* ---- direct URL ---- */

static int resolve_url(struct dl *d, struct err_info *ei)
{
    char url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", d->c->base, d->c->repo, d->digest);
    reg__req_init(&rq, "HEAD", url);
    reg__resp_init(&rs);
    if ((rc = reg__request(d->c, &rq, &rs, 1, ei)) != 0)
        goto out;
    if (rs.status >= 300 && rs.status < 400 && rs.location[0]) {
        snprintf(d->url, sizeof(d->url), "%s", rs.location); /* a CDN: no credentials */
        d->url_same_host = 0;
        reg__req_init(&rq, "HEAD", d->url);
        rq.no_auth = 1;
        if (reg__http(d->c, &rq, &rs, ei) != 0)
            rs.status = 0; /* only a size check: failures are left to the GETs */
    }
    if (!d->url_same_host && (rs.status < 200 || rs.status >= 300)) {
        rc = 0; /* a CDN may refuse HEAD on a URL signed for GET: the ranged GETs will tell */
    } else if (rs.status >= 200 && rs.status < 300) {
        if (rs.content_length >= 0 && (uint64_t)rs.content_length != d->total) {
            rc = err_set(ei, E_INTEGRITY, "%s: size %lld does not match the manifest's %llu",
                         d->digest, (long long)rs.content_length, (unsigned long long)d->total);
            goto out;
        }
        if (d->url[0] == '\0') {
            snprintf(d->url, sizeof(d->url), "%s", rs.url);
            d->url_same_host = reg__same_host(d->c, d->url);
        }
    } else {
        rc = reg__http_error(&rs, d->digest, ei);
    }
out:
    reg__resp_fini(&rs);
    return rc;
}

/* Ollama retries the blob's location for a while: network failures back off n^2 * 10 ms (at most
 * 10 s apart) for up to REG_RESOLVE_SECONDS. */
static int resolve_url_retry(struct dl *d, struct err_info *ei)
{
    time_t start = time(NULL);
    int rc;
    for (long n = 1;; n++) {
        rc = resolve_url(d, ei);
        if (rc != E_NET && rc != E_TIMEOUT)
            return rc;
        long ms = n * n * 10 > 10000 ? 10000 : n * n * 10;
        if (time(NULL) - start + ms / 1000 >= REG_RESOLVE_SECONDS || reg__cancelled(d->c))
            return rc;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- verify and commit ---- */

static int dl_commit(struct dl *d, struct err_info *ei)
{
    char hex[65], final[PATH_MAX];
    int rc;
    if (lseek(d->fd, 0, SEEK_SET) != 0 || fsync(d->fd) != 0)
        return err_set(ei, E_IO, "%s: %s", d->data_path, strerror(errno));
    if ((rc = crypto_sha256_file(d->data_path, hex)) != 0)
        return err_set(ei, rc, "%s: cannot hash", d->data_path);
    if (strcmp(hex, d->hex) != 0) {
        unlink(d->data_path);
        parts_unlink(d, d->n_parts);
        return err_set(ei, E_INTEGRITY,
                       "digest mismatch, file must be downloaded again: want %s, got sha256:%s",
                       d->digest, hex);
    }
    if ((rc = store_blob_path(d->c->st, d->digest, final, sizeof(final))) != 0)
        return err_set(ei, rc, "bad digest");
    if (rename(d->data_path, final) != 0)
        return err_set(ei, E_IO, "rename %s: %s", final, strerror(errno));
    parts_unlink(d, d->n_parts);
    (void)fs_sync_parent(final);
    return 0;
}

/* ---- locking the partial file ---- */

/* What a pull waiting on another downloader has shown of that download. */
struct wait_view {
    uint64_t shown; /* completed bytes last reported (never goes back) */
    int sparse;     /* the data file was sparse when first seen: 1, not: 0, not seen yet: -1 */
    unsigned polls; /* calls so far: the part records are read on every 5th only */
};

/* While another downloader holds the blob, show its progress: the larger of its part records
 * (rewritten about once a second) and, live, the bytes allocated so far in the data file when
 * that file is sparse (a fresh download: preallocated by ftruncate, filled by pwrite). */
static int dl_wait_progress(struct dl *d, int fd, const char *label, struct wait_view *v)
{
    struct stat sb;
    uint64_t done = 0;
    if (v->polls++ % 5 == 0 && parts_load(d))
        done = dl_completed(d);
    if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (uint64_t)sb.st_size == d->total) {
        uint64_t alloc = (uint64_t)sb.st_blocks * 512;
        if (v->sparse < 0)
            v->sparse = alloc < d->total / 2;
        if (v->sparse == 1) {
            alloc = alloc < d->total ? alloc : d->total;
            done = alloc > done ? alloc : done;
        }
    }
    if (done < v->shown)
        done = v->shown;
    v->shown = done;
    return reg__progress(d->c, label, d->digest, d->total, done);
}

/* Opens and locks the data file, waiting for another downloader (and showing its progress every
 * REG_WAIT_POLL_MS); re-opens when the file it locked was renamed or removed meanwhile.  Returns
 * 1 when the blob is already complete. */
static int dl_lock(struct dl *d, const char *label, struct err_info *ei)
{
    for (;;) {
        struct wait_view view = {0, -1, 0};
        struct stat a, b;
        int fd = open(d->data_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return err_set(ei, E_IO, "%s: %s", d->data_path, strerror(errno));
        while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            struct timespec ts = {0, REG_WAIT_POLL_MS * 1000000L};
            if (errno != EWOULDBLOCK || reg__cancelled(d->c)) {
                close(fd);
                return err_set(ei, reg__cancelled(d->c) ? E_CANCELLED : E_IO, "lock %s",
                               d->data_path);
            }
            nanosleep(&ts, NULL);
            if (dl_wait_progress(d, fd, label, &view) != 0) {
                close(fd);
                return err_set(ei, E_CANCELLED, "cancelled");
            }
        }
        int same = fstat(fd, &a) == 0 && stat(d->data_path, &b) == 0 && a.st_ino == b.st_ino &&
                   a.st_dev == b.st_dev;
        if (store_blob_has(d->c->st, d->digest)) {
            if (same && a.st_size == 0)
                unlink(d->data_path); /* the empty one we just created */
            close(fd);
            return 1;
        }
        if (same) {
            d->fd = fd;
            return 0;
        }
        close(fd); /* the file we waited on was renamed or deleted: start over */
    }
}

static int download_blob(struct reg_client *c, const struct store_layer *l, struct err_info *ei)
{
    char label[32];
    struct dl *d = mem_calloc(1, sizeof(*d));
    struct stat sb;
    int rc;
    snprintf(label, sizeof(label), "pulling %.12s", l->digest + 7);
    if (!d || !(d->parts = mem_calloc(REG_MAX_PARTS, sizeof(*d->parts)))) {
        mem_free(d);
        return err_set(ei, E_NOMEM, "out of memory");
    }
    d->c = c;
    d->digest = l->digest;
    d->hex = l->digest + 7;
    d->total = l->size;
    d->fd = -1;
    pthread_mutex_init(&d->mu, NULL);
    if ((rc = store_blob_path(c->st, l->digest, d->data_path, sizeof(d->data_path) - 32)) != 0)
        goto out;
    size_t dl_len = strlen(d->data_path);
    snprintf(d->data_path + dl_len, sizeof(d->data_path) - dl_len, "-partial");
    if ((rc = dl_lock(d, label, ei)) != 0) {
        if (rc == 1)
            rc = reg__progress(c, label, l->digest, l->size, l->size);
        goto out;
    }
    parts_clean_tmp(d);
    if (fstat(d->fd, &sb) != 0 || (uint64_t)sb.st_size != d->total || !parts_load(d)) {
        if ((rc = parts_fresh(d)) != 0 || ftruncate(d->fd, (off_t)d->total) != 0) {
            rc = err_set(ei, rc ? rc : E_IO, "%s: cannot prepare the download", d->data_path);
            goto out;
        }
    }
    if ((rc = reg__progress(c, label, l->digest, d->total, dl_completed(d))) != 0)
        goto out;
    if ((dl_completed(d) < d->total && (rc = resolve_url_retry(d, ei)) != 0) ||
        (rc = dl_parts(d, label, ei)) != 0) {
        if (rc == E_RANGE || rc == E_UNSUPPORTED || rc == E_INTEGRITY) {
            /* not resumable: the registry disagrees with the manifest; keep nothing */
            unlink(d->data_path);
            parts_unlink(d, d->n_parts);
        }
        goto out;
    }
    rc = dl_commit(d, ei);
out:
    if (d->fd >= 0)
        close(d->fd); /* releases the lock */
    pthread_mutex_destroy(&d->mu);
    mem_free(d->parts);
    mem_free(d);
    return rc;
}

/* ---- manifest ---- */

static int fetch_manifest(struct reg_client *c, char **bytes, size_t *n, struct err_info *ei)
{
    char url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    if ((rc = reg_manifest_url(&c->nm, c->o->insecure, url, sizeof(url), ei)) != 0)
        return rc;
    reg__req_init(&rq, "GET", url);
    rq.accept = STORE_MT_MANIFEST;
    rq.body_max = MANIFEST_MAX_BYTES;
    reg__resp_init(&rs);
    rc = reg__request(c, &rq, &rs, 1, ei);
    if (rc == E_RANGE)
        rc = err_set(ei, E_RANGE, "pull model manifest: manifest larger than %u bytes",
                     MANIFEST_MAX_BYTES);
    if (rc != 0)
        goto out;
    if (rs.status != 200) {
        rc = reg__http_error(&rs, "pull model manifest", ei);
        goto out;
    }
    *n = rs.body.n;
    *bytes = buf_take(&rs.body, n);
    if (!*bytes)
        rc = err_set(ei, E_NOMEM, "out of memory");
out:
    reg__resp_fini(&rs);
    return rc;
}

static int check_media_types(const struct store_manifest *m, struct err_info *ei)
{
    if (!m->config.media_type || strcmp(m->config.media_type, STORE_MT_CONFIG) != 0)
        return err_set(ei, E_UNSUPPORTED, "pull model manifest: unsupported config media type");
    for (size_t i = 0; i < m->n_layers; i++) {
        const char *mt = m->layers[i].media_type;
        if (!mt || strncmp(mt, MT_OLLAMA_PREFIX, strlen(MT_OLLAMA_PREFIX)) != 0)
            return err_set(ei, E_UNSUPPORTED,
                           "pull model manifest: unsupported layer media type %.100s",
                           mt ? mt : "(none)");
    }
    return 0;
}

/* Digests of the old manifest of this tag that the new one no longer uses. */
static size_t stale_layers(const struct store_manifest *old, const struct store_manifest *m,
                           const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i <= old->n_layers && n < cap; i++) {
        const char *d = i < old->n_layers ? old->layers[i].digest : old->config.digest;
        int used = strcmp(d, m->config.digest) == 0;
        for (size_t j = 0; !used && j < m->n_layers; j++)
            used = strcmp(d, m->layers[j].digest) == 0;
        if (!used)
            out[n++] = d;
    }
    return n;
}

static int pull_blobs(struct reg_client *c, const struct store_manifest *m, struct err_info *ei)
{
    int rc;
    /* layers first, config last, each digest once */
    for (size_t i = 0; i <= m->n_layers; i++) {
        const struct store_layer *l = i < m->n_layers ? &m->layers[i] : &m->config;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->layers[j].digest, l->digest) == 0;
        if (seen)
            continue;
        if (store_blob_has(c->st, l->digest)) {
            char label[32];
            snprintf(label, sizeof(label), "pulling %.12s", l->digest + 7);
            if ((rc = reg__progress(c, label, l->digest, l->size, l->size)) != 0)
                return err_set(ei, rc, "cancelled");
            continue;
        }
        if ((rc = download_blob(c, l, ei)) != 0)
            return rc;
    }
    return 0;
}

static int pull_run(struct reg_client *c, struct err_info *ei)
{
    struct store_manifest m = {0}, old = {0};
    char *bytes = NULL, *old_bytes = NULL;
    size_t n = 0, old_n = 0;
    struct err_info perr = {0};
    int rc, have_old = 0;
    if ((rc = reg__progress(c, "pulling manifest", NULL, 0, 0)) != 0)
        return err_set(ei, rc, "cancelled");
    if ((rc = fetch_manifest(c, &bytes, &n, ei)) != 0)
        goto out;
    if ((rc = store_manifest_parse(bytes, n, &m, &perr)) != 0) {
        rc = err_set(ei, rc, "pull model manifest: %s", perr.msg);
        goto out;
    }
    if ((rc = check_media_types(&m, ei)) != 0 || (rc = pull_blobs(c, &m, ei)) != 0)
        goto out;
    if ((rc = reg__progress(c, "verifying sha256 digest", NULL, 0, 0)) != 0 ||
        (rc = reg__progress(c, "writing manifest", NULL, 0, 0)) != 0) {
        rc = err_set(ei, rc, "cancelled");
        goto out;
    }
    if (store_manifest_read(c->st, &c->nm, &old_bytes, &old_n) == 0 &&
        store_manifest_parse(old_bytes, old_n, &old, NULL) == 0)
        have_old = 1;
    if ((rc = store_manifest_write(c->st, &c->nm, bytes, n)) != 0) {
        err_set(ei, rc, "write manifest: %s", err_str(rc));
        goto out;
    }
    if (have_old && !c->o->noprune) {
        const char *stale[64];
        size_t ns = stale_layers(&old, &m, stale, 64);
        if (ns > 0) {
            (void)reg__progress(c, "removing unused layers", NULL, 0, 0);
            if (store_prune_digests(c->st, stale, ns) != 0)
                ns = 0; /* best effort: a later prune removes them */
        }
    }
    rc = reg__progress(c, "success", NULL, 0, 0);
out:
    store_manifest_fini(&m);
    store_manifest_fini(&old);
    mem_free(bytes);
    mem_free(old_bytes);
    return rc;
}

int reg_pull(struct store *st, const struct store_name *nm, const struct reg_opts *o,
             struct err_info *ei)
{
    struct reg_client c;
    struct err_info local;
    int rc;
    if (!ei)
        ei = &local;
    if ((rc = reg__client_init(&c, st, nm, o, ei)) != 0)
        return rc;
    rc = pull_run(&c, ei);
    reg__client_fini(&c);
    return rc;
}
