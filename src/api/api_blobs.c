/*
 * api_blobs.c - HEAD/POST /api/blobs/:digest (ollama-reference.md 1.7).  Uploads stream
 * straight into the store's blob writer while the body arrives (never held in memory); the
 * digest is checked at the end and a mismatch leaves nothing behind.  The digest is accepted
 * in Ollama's form ^sha256[:-][0-9a-fA-F]{64}$ and lower-cased before it touches a path.
 */
#include <ctype.h>
#include <string.h>

#include "api/api.h"
#include "common/mem.h"
#include "store/store.h"

struct blob_upload {
    struct store_blob_writer *w;
    char want[72]; /* canonical "sha256:<hex>" */
};

/* Canonical lowercase digest from a path segment; E_INVAL when malformed. */
static int digest_from_param(const char *p, char out[72])
{
    char tmp[72];
    size_t n = p ? strlen(p) : 0;
    if (n != 71)
        return E_INVAL;
    for (size_t i = 0; i < n; i++)
        tmp[i] = i >= 7 ? (char)tolower((unsigned char)p[i]) : p[i];
    tmp[n] = '\0';
    return store_digest_canon(tmp, out);
}

static int h_blob_head(struct api_req *req, struct api_resp *resp)
{
    char d[72];
    if (digest_from_param(req->param, d) != 0)
        return api_resp_error(resp, 400, "invalid digest format");
    if (!store_blob_has(req->env->store, d))
        return api_resp_error(resp, 404, "blob \"%s\" not found", d);
    return api_resp_ok(resp);
}
API_ROUTE(blob_head, "HEAD", "/api/blobs/:digest", h_blob_head, API_ROUTE_NOBODY)

static int up_open(struct api_req *req, struct api_resp *resp, void **state)
{
    struct blob_upload *u;
    char d[72];
    int rc;
    *state = NULL;
    if (digest_from_param(req->param, d) != 0)
        return api_resp_error(resp, 400, "invalid digest format");
    if (store_blob_has(req->env->store, d))
        return api_resp_ok(resp); /* 200: already present, body not needed */
    if (!(u = mem_calloc(1, sizeof(*u))))
        return E_NOMEM;
    memcpy(u->want, d, sizeof(d));
    if ((rc = store_blob_writer_new(req->env->store, NULL, &u->w)) != 0) {
        mem_free(u);
        return rc;
    }
    *state = u;
    return 0;
}

static int up_write(void *state, const void *p, size_t n)
{
    struct blob_upload *u = state;
    return store_blob_writer_write(u->w, p, n);
}

static void up_abort(void *state)
{
    struct blob_upload *u = state;
    if (!u)
        return;
    store_blob_writer_abort(u->w);
    mem_free(u);
}

static const struct api_upload_ops blob_ops = {up_open, up_write, up_abort};

static int h_blob_post(struct api_req *req, struct api_resp *resp)
{
    struct blob_upload *u = req->upload;
    char got[72];
    int rc;
    if (!u)
        return api_resp_error(resp, 500, "upload state missing");
    if (req->cancelled && *req->cancelled) {
        up_abort(u);
        return E_CANCELLED;
    }
    rc = store_blob_writer_commit(u->w, got);
    u->w = NULL;
    if (!rc && strcmp(got, u->want) != 0) {
        /* it landed under its true content address: remove it unless a model uses it */
        const char *d[1] = {got};
        if (store_prune_digests(req->env->store, d, 1) != 0)
            rc = E_IO;
        rc =
            api_resp_error(resp, 400, "digest mismatch, expected \"%s\", got \"%s\"", u->want, got);
    } else if (!rc) {
        resp->status = 201;
    } else {
        rc = api_resp_error(resp, 500, "storing blob: %s", err_str(rc));
    }
    mem_free(u);
    return rc;
}
API_ROUTE_EX(blob_post, "POST", "/api/blobs/:digest", h_blob_post, API_ROUTE_UPLOAD, &blob_ops)
