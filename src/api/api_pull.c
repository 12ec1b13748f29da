/*
 * api_pull.c - POST /api/pull: pulls a model from its registry into the store, streaming
 * Ollama's progress objects as NDJSON ({"status","digest"?,"total"?,"completed"?} ...
 * {"status":"success"}) or, with "stream": false, answering the last one.  Errors: 400 "invalid
 * model name" before anything streams; afterwards one {"error": "..."} line (Ollama's texts from
 * src/registry, e.g. "pull model manifest: file does not exist").
 * Outbound connections use the server's connector (api_env.user[REG_ENV_SLOT]) when set.
 */
#include <string.h>

#include "api/api.h"
#include "common/json.h"
#include "registry/reg.h"
#include "store/store.h"

static int pull_progress(void *ctx, const struct reg_progress *p)
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

static int h_pull(struct api_req *req, struct api_resp *resp)
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
    o.progress = pull_progress;
    o.progress_ctx = resp;
    o.cancelled = req->cancelled;
    o.noprune = req->env->noprune;
    rc = reg_pull(req->env->store, &nm, &o, &ei);
    if (rc == E_CANCELLED && req->cancelled && atomic_load(req->cancelled))
        return 0; /* the client is gone; nothing to answer */
    if (rc != 0) {
        /* returning rc tells the adapter the answer is complete (no api_stream_finish) */
        (void)api_resp_error(resp, 500, "%s", ei.msg[0] ? ei.msg : err_str(rc));
        return rc;
    }
    return 0; /* the adapter finishes the exchange (api_stream_finish) */
}

API_ROUTE(pull, "POST", "/api/pull", h_pull, API_ROUTE_JSON)
