/*
 * reg_push.c - pushing a local model: each blob (layers, then config) is skipped when the
 * registry has it (HEAD), mounted from another repository when the layer records `from`, or
 * uploaded (POST, PATCH chunks with Content-Range following each new upload location, PUT with
 * ?digest=); then the manifest bytes are PUT as they are on disk.  Progress lines as Ollama's.
 * A PATCH answered with a redirect (Ollama's X-Redirect-Uploads: the registry hands the bytes
 * to storage on another host) is replayed as a PUT to the Location without credentials, and the
 * upload continues at the redirect's Docker-Upload-Location.
 */
#include "registry/reg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

struct push_blob {
    struct reg_client *c;
    const struct store_layer *l;
    char label[32];
    char loc[REG_URL_MAX]; /* current upload location */
};

static int blob_exists(struct push_blob *pb, int *exists, struct err_info *ei)
{
    char url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", pb->c->base, pb->c->repo, pb->l->digest);
    reg__req_init(&rq, "HEAD", url);
    reg__resp_init(&rs);
    rc = reg__request(pb->c, &rq, &rs, 0, ei);
    if (rc == 0) {
        *exists = rs.status == 200 || (rs.status >= 300 && rs.status < 400);
        if (!*exists && rs.status != 404)
            rc = reg__http_error(&rs, "push blob", ei);
    }
    reg__resp_fini(&rs);
    return rc;
}

/* Takes the next upload location from a reply (Docker-Upload-Location first). */
static int take_location(struct push_blob *pb, const struct reg_resp *rs, const char *base,
                         struct err_info *ei)
{
    const char *l = rs->upload_location[0] ? rs->upload_location : rs->location;
    if (!l[0])
        return err_set(ei, E_NET, "push blob: the registry gave no upload location");
    if (reg__url_resolve(base, l, pb->loc, sizeof(pb->loc)) != 0)
        return err_set(ei, E_NET, "push blob: bad upload location");
    return 0;
}

/* POST to start an upload (or mount); *done is set when the registry mounted the blob. */
static int upload_start(struct push_blob *pb, int *done, struct err_info *ei)
{
    char url[REG_URL_MAX], from[300] = "";
    struct reg_req rq;
    struct reg_resp rs;
    struct store_name fn;
    int rc;
    if (pb->l->from && store_name_parse(pb->l->from, &fn, NULL) == 0 &&
        strcasecmp(fn.host, pb->c->nm.host) == 0)
        snprintf(from, sizeof(from), "%s/%s", fn.ns, fn.model);
    if (from[0])
        snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/?mount=%s&from=%s", pb->c->base,
                 pb->c->repo, pb->l->digest, from);
    else
        snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/", pb->c->base, pb->c->repo);
    reg__req_init(&rq, "POST", url);
    reg__resp_init(&rs);
    if ((rc = reg__request(pb->c, &rq, &rs, 0, ei)) != 0)
        goto out;
    *done = rs.status == 201;
    if (*done)
        goto out;
    if (rs.status != 202) {
        rc = reg__http_error(&rs, "push blob", ei);
        goto out;
    }
    rc = take_location(pb, &rs, url, ei);
out:
    reg__resp_fini(&rs);
    return rc;
}

/* 1 for the redirect statuses a registry may answer an upload PATCH with. */
static int is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* The registry redirected a chunk (Ollama's X-Redirect-Uploads): PUT the same bytes to the
 * Location (a presigned storage URL on another host: never with credentials); the next upload
 * location is the one the redirect carried in Docker-Upload-Location. */
static int upload_redirected(struct push_blob *pb, int fd, uint64_t off, uint64_t n,
                             const struct reg_resp *red, const char *url, struct err_info *ei)
{
    char target[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    if (!red->location[0] || reg__url_resolve(url, red->location, target, sizeof(target)) != 0)
        return err_set(ei, E_NET, "push blob: redirect without a usable Location");
    if (!red->upload_location[0])
        return err_set(ei, E_NET, "push blob: redirect without Docker-Upload-Location");
    reg__req_init(&rq, "PUT", target);
    rq.content_type = "application/octet-stream";
    rq.body_fd = fd;
    rq.body_off = off;
    rq.body_n = n;
    rq.no_auth = 1;
    reg__resp_init(&rs);
    rc = reg__http(pb->c, &rq, &rs, ei);
    if (rc == 0 && (rs.status < 200 || rs.status > 299))
        rc = reg__http_error(&rs, "push blob (redirected upload)", ei);
    reg__resp_fini(&rs);
    if (rc == 0 && reg__url_resolve(url, red->upload_location, pb->loc, sizeof(pb->loc)) != 0)
        rc = err_set(ei, E_NET, "push blob: bad upload location");
    return rc;
}

/* One PATCH of [off, off+n); follows a redirect of it (see upload_redirected). */
static int upload_chunk(struct push_blob *pb, int fd, uint64_t off, uint64_t n, struct err_info *ei)
{
    char crange[64], url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    snprintf(crange, sizeof(crange), "%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + n - 1));
    snprintf(url, sizeof(url), "%s", pb->loc);
    reg__req_init(&rq, "PATCH", url);
    rq.content_type = "application/octet-stream";
    rq.content_range = crange;
    rq.extra_header = "X-Redirect-Uploads: 1";
    rq.body_fd = fd;
    rq.body_off = off;
    rq.body_n = n;
    reg__resp_init(&rs);
    rc = reg__request(pb->c, &rq, &rs, 0, ei);
    if (rc == 0 && is_redirect(rs.status))
        rc = upload_redirected(pb, fd, off, n, &rs, url, ei);
    else if (rc == 0 && rs.status != 202 && rs.status != 204)
        rc = reg__http_error(&rs, "push blob", ei);
    else if (rc == 0)
        rc = take_location(pb, &rs, url, ei);
    reg__resp_fini(&rs);
    return rc;
}

static int upload_chunks(struct push_blob *pb, int fd, struct err_info *ei)
{
    uint64_t size = pb->l->size;
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0; off += REG_PUSH_CHUNK) {
        uint64_t n = size - off < REG_PUSH_CHUNK ? size - off : REG_PUSH_CHUNK;
        rc = upload_chunk(pb, fd, off, n, ei);
        if (rc == 0 && (rc = reg__progress(pb->c, pb->label, pb->l->digest, size, off + n)) != 0)
            err_set(ei, rc, "cancelled");
    }
    return rc;
}

static int upload_commit(struct push_blob *pb, struct err_info *ei)
{
    char url[REG_URL_MAX + 100];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    snprintf(url, sizeof(url), "%s%cdigest=sha256%%3A%s", pb->loc, strchr(pb->loc, '?') ? '&' : '?',
             pb->l->digest + 7);
    reg__req_init(&rq, "PUT", url);
    rq.content_type = "application/octet-stream";
    reg__resp_init(&rs);
    rc = reg__request(pb->c, &rq, &rs, 0, ei);
    if (rc == 0 && rs.status != 201 && rs.status != 204)
        rc = reg__http_error(&rs, "push blob", ei);
    reg__resp_fini(&rs);
    return rc;
}

static int push_one(struct reg_client *c, const struct store_layer *l, struct err_info *ei)
{
    struct push_blob pb;
    struct stat sb;
    int rc, exists = 0, done = 0, fd = -1;
    memset(&pb, 0, sizeof(pb));
    pb.c = c;
    pb.l = l;
    snprintf(pb.label, sizeof(pb.label), "pushing %.12s", l->digest + 7);
    if ((rc = store_blob_open(c->st, l->digest, &fd)) != 0)
        return err_set(ei, rc, "push blob %s: %s", l->digest, err_str(rc));
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != l->size) {
        rc = err_set(ei, E_INTEGRITY, "push blob %s: size does not match the manifest", l->digest);
        goto out;
    }
    if ((rc = reg__progress(c, pb.label, l->digest, l->size, 0)) != 0) {
        err_set(ei, rc, "cancelled");
        goto out;
    }
    if ((rc = blob_exists(&pb, &exists, ei)) != 0)
        goto out;
    if (!exists && (rc = upload_start(&pb, &done, ei)) != 0)
        goto out;
    if (!exists && !done &&
        ((rc = upload_chunks(&pb, fd, ei)) != 0 || (rc = upload_commit(&pb, ei)) != 0))
        goto out;
    if ((rc = reg__progress(c, pb.label, l->digest, l->size, l->size)) != 0)
        err_set(ei, rc, "cancelled");
out:
    close(fd);
    return rc;
}

static int put_manifest(struct reg_client *c, const char *bytes, size_t n, struct err_info *ei)
{
    char url[REG_URL_MAX];
    struct reg_req rq;
    struct reg_resp rs;
    int rc;
    if ((rc = reg_manifest_url(&c->nm, c->o->insecure, url, sizeof(url), ei)) != 0)
        return rc;
    reg__req_init(&rq, "PUT", url);
    rq.content_type = STORE_MT_MANIFEST;
    rq.body = bytes;
    rq.body_len = n;
    reg__resp_init(&rs);
    rc = reg__request(c, &rq, &rs, 0, ei);
    if (rc == 0 && rs.status != 201 && rs.status != 200)
        rc = reg__http_error(&rs, "push manifest", ei);
    reg__resp_fini(&rs);
    return rc;
}

static int push_run(struct reg_client *c, struct err_info *ei)
{
    struct store_manifest m = {0};
    char *bytes = NULL;
    size_t n = 0;
    struct err_info perr = {0};
    int rc;
    if ((rc = reg__progress(c, "retrieving manifest", NULL, 0, 0)) != 0)
        return err_set(ei, rc, "cancelled");
    if ((rc = store_manifest_read(c->st, &c->nm, &bytes, &n)) != 0) {
        (void)reg__progress(c, "couldn't retrieve manifest", NULL, 0, 0);
        rc = err_set(ei, rc, "%s", rc == E_NOTFOUND ? "file does not exist" : err_str(rc));
        goto out;
    }
    if ((rc = store_manifest_parse(bytes, n, &m, &perr)) != 0) {
        rc = err_set(ei, rc, "invalid manifest: %s", perr.msg);
        goto out;
    }
    for (size_t i = 0; i <= m.n_layers; i++)
        if ((rc = push_one(c, i < m.n_layers ? &m.layers[i] : &m.config, ei)) != 0)
            goto out;
    if ((rc = reg__progress(c, "pushing manifest", NULL, 0, 0)) != 0) {
        err_set(ei, rc, "cancelled");
        goto out;
    }
    if ((rc = put_manifest(c, bytes, n, ei)) != 0)
        goto out;
    rc = reg__progress(c, "success", NULL, 0, 0);
out:
    store_manifest_fini(&m);
    mem_free(bytes);
    return rc;
}

int reg_push(struct store *st, const struct store_name *nm, const struct reg_opts *o,
             struct err_info *ei)
{
    struct reg_client c;
    struct err_info local;
    int rc;
    if (!ei)
        ei = &local;
    if ((rc = reg__client_init(&c, st, nm, o, ei)) != 0)
        return rc;
    rc = push_run(&c, ei);
    reg__client_fini(&c);
    return rc;
}
