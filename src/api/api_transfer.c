/*
 * api_transfer.c - POST /api/pull and POST /api/push: move a model between the store and its
 * registry, streaming Ollama's progress objects as NDJSON (pull: "pulling manifest", "pulling
 * <12hex>" with digest/total/completed, "verifying sha256 digest", "writing manifest"; push:
 * "retrieving manifest", "pushing <12hex>", "pushing manifest"; both end with "success") or,
 * with "stream": false, answering the last one.  Errors: 400 "invalid model name" before
 * anything streams; afterwards one {"error": "..."} line with the registry client's text (e.g.
 * "pull model manifest: file does not exist", "unauthorized: access denied").
 * Outbound connections use the server's connector (api_env.user[REG_ENV_SLOT]) when set.
 */
#include <string.h>

#include "api/api.h"
#include "common/json.h"
#include "registry/reg.h"
#include "store/store.h"

typedef int (*transfer_fn)(struct store *st, const struct store_name *nm, const struct reg_opts *o,
                           struct err_info *ei);

static int progress_line(void *ctx, const struct reg_progress *p)
{
    struct api_resp *resp = ctx;
    return api_stream_line(resp, reg_progress_json(p)) != 0;
}

/* 400 {"error": msg}; the nonzero return keeps the adapter from finishing the answer again. */
static int bad_request(struct api_resp *resp, const char *msg)
{
    (void)api_resp_error(resp, 400, "%s", msg);
    return E_INVAL;
}

/* The body of both handlers; is_pull also passes OLLAMA_NOPRUNE to the pull. */
static int transfer(struct api_req *req, struct api_resp *resp, transfer_fn fn, int is_pull)
{
    struct err_info ei = {0};
    struct store_name nm;
    struct reg_opts o;
    const struct reg_connector *conn = req->env ? req->env->user[REG_ENV_SLOT] : NULL;
    const char *name;
    int insecure = 0, rc;
    if ((rc = api_req_model_name(req->json, &name, &ei)) != 0 ||
        (rc = api_stream_setup(req, resp, &ei)) != 0)
        return bad_request(resp, ei.msg);
    rc = json_get_bool(req->json, "insecure", &insecure, &ei);
    if (rc != 0 && rc != E_NOTFOUND)
        return bad_request(resp, ei.msg);
    if (store_name_parse(name, &nm, &ei) != 0)
        return bad_request(resp, "invalid model name");
    memset(&o, 0, sizeof(o));
    o.insecure = insecure;
    o.connect = conn ? conn->fn : NULL;
    o.connect_ctx = conn ? conn->ctx : NULL;
    o.key = conn ? conn->key : NULL;
    o.progress = progress_line;
    o.progress_ctx = resp;
    o.cancelled = req->cancelled;
    if (is_pull)
        o.noprune = req->env->noprune;
    rc = fn(req->env->store, &nm, &o, &ei);
    if (rc == E_CANCELLED && req->cancelled && atomic_load(req->cancelled))
        return 0; /* the client is gone; nothing to answer */
    if (rc != 0) {
        /* returning rc tells the adapter the answer is complete (no api_stream_finish) */
        (void)api_resp_error(resp, 500, "%s", ei.msg[0] ? ei.msg : err_str(rc));
        return rc;
    }
    return 0; /* the adapter finishes the exchange (api_stream_finish) */
}

static int h_pull(struct api_req *req, struct api_resp *resp)
{
    return transfer(req, resp, reg_pull, 1);
}

static int h_push(struct api_req *req, struct api_resp *resp)
{
    return transfer(req, resp, reg_push, 0);
}

API_ROUTE(pull, "POST", "/api/pull", h_pull, API_ROUTE_JSON)
API_ROUTE(push, "POST", "/api/push", h_push, API_ROUTE_JSON)
