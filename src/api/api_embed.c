/*
 * api_embed.c - POST /api/embed and the legacy POST /api/embeddings (ollama-reference.md 1.4):
 * input validation, the empty-input load idiom, the context-length check (truncate:false), and
 * the response shapes (vectors as Go float32 / float64 text, L2-normalised for /api/embed,
 * optionally truncated to `dimensions`).  Also the vector helpers /v1/embeddings uses.
 *
 * The vectors themselves come from the runner's `embed` message through api_llm.embed: the
 * runner tokenizes (special tokens added), truncates to its context, pools per the model's
 * pooling_type and answers the vector unnormalised; normalisation happens here, once.
 *
 * Owns only per-request state.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/api.h"
#include "api/api_openai.h"
#include "api/api_serve.h"
#include "common/json.h"
#include "common/mem.h"

#define EMBED_MAX_DIMS (1u << 20) /* values of one vector */

/* ---- helpers ------------------------------------------------------------------------------- */

int api_embed_inputs(const json_t *input, json_t **out, struct err_info *ei)
{
    json_t *arr = json_array(), *v;
    size_t i;
    if (!arr)
        return E_NOMEM;
    if (json_is_string(input)) {
        if (json_string_length(input) > 0)
            json_array_append(arr, (json_t *)input);
    } else if (json_is_array(input)) {
        if (json_array_size(input) > OAI_MAX_EMBED_INPUTS) {
            json_decref(arr);
            return err_set(ei, E_RANGE, "too many inputs (at most %d)", OAI_MAX_EMBED_INPUTS);
        }
        json_array_foreach((json_t *)input, i, v)
        {
            if (!json_is_string(v)) {
                json_decref(arr);
                return err_set(ei, E_INVAL, "invalid input type");
            }
            json_array_append(arr, v);
        }
    } else if (input && !json_is_null(input)) {
        json_decref(arr);
        return err_set(ei, E_INVAL, "invalid input type");
    }
    *out = arr;
    return 0;
}

int api_embed_normalize(float *v, size_t *n, int64_t dims)
{
    double sum = 0.0;
    if (dims > 0 && (uint64_t)dims < *n)
        *n = (size_t)dims;
    for (size_t i = 0; i < *n; i++) {
        if (!isfinite(v[i]))
            return E_RANGE;
        sum += (double)v[i] * (double)v[i];
    }
    if (sum > 0.0) {
        float norm = (float)sqrt(sum);
        for (size_t i = 0; i < *n; i++)
            v[i] /= norm;
    }
    return 0;
}

int api_embed_b64(const float *v, size_t n, struct buf *out)
{
    unsigned char chunk[3 * 64], enc[4 * 64 + 1];
    size_t bytes = n * 4, done = 0;
    if (n > EMBED_MAX_DIMS)
        return E_RANGE;
    while (done < bytes) {
        size_t take = bytes - done < sizeof(chunk) ? bytes - done : sizeof(chunk);
        int len, rc;
        for (size_t k = 0; k < take; k++) {
            size_t b = done + k;
            uint32_t u;
            memcpy(&u, &v[b / 4], 4);
            chunk[k] = (unsigned char)(u >> (8 * (b % 4)));
        }
        len = EVP_EncodeBlock(enc, chunk, (int)take);
        if ((rc = buf_append(out, enc, (size_t)len)) != 0)
            return rc;
        done += take;
    }
    return 0;
}

/* ---- vectors ------------------------------------------------------------------------------- */

/* Token count of text as the runner embeds it (BOS/EOS added, special tokens parsed). */
static int count_tokens(struct api_llm *llm, void *lease, const char *text, size_t *n,
                        struct err_info *ei)
{
    int32_t *ids = NULL;
    int rc = llm->tokenize(lease, text, 1, 1, &ids, n, ei);
    mem_free(ids);
    return rc;
}

/* The embedding of text (pooled, not normalised); caller owns *vec. */
static int embed_vector(struct api_llm *llm, void *lease, const char *text, float **vec, size_t *n,
                        struct err_info *ei)
{
    *vec = NULL;
    *n = 0;
    if (!llm->embed)
        return err_set(ei, E_UNSUPPORTED, "this model does not support embeddings");
    return llm->embed(lease, text, vec, n, ei);
}

/* ---- /api/embed and /api/embeddings -------------------------------------------------------- */

struct embed_job {
    const json_t *inputs; /* strings */
    int truncate, legacy; /* legacy: /api/embeddings (one vector, not normalised) */
    int64_t dims;
    struct buf out; /* the vectors as JSON text: [[...],...] or [...] */
    size_t prompt_tokens;
    uint64_t load_ns;
};

static int append_vector(struct embed_job *j, const float *v, size_t n)
{
    int rc = buf_puts(&j->out, "[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i && (rc = buf_puts(&j->out, ",")) != 0)
            break;
        rc = json_go_number((double)v[i], j->legacy ? 64 : 32, &j->out);
    }
    return rc ? rc : buf_puts(&j->out, "]");
}

/* Embeds every input into j->out; an HTTP status (answer already set) or 0. */
static int embed_all(struct api_req *req, struct api_resp *resp, struct api_serve_req *r,
                     struct embed_job *j)
{
    struct api_llm *llm = api_serve_llm(req->env);
    struct err_info ei = {0};
    void *lease = NULL;
    size_t i;
    json_t *s;
    int rc;
    if (!llm)
        return api_resp_error(resp, 500, "no scheduler");
    rc = llm->acquire(llm->ctx, &r->spec, r->keep_alive_ns, req->cancelled, &lease, &j->load_ns,
                      &ei);
    if (rc != 0)
        return api_serve_acquire_error(resp, rc, &ei);
    rc = j->legacy ? 0 : buf_puts(&j->out, "[");
    json_array_foreach((json_t *)j->inputs, i, s)
    {
        float *vec = NULL;
        size_t n = 0, ntok = 0;
        if (rc != 0)
            break;
        if ((rc = count_tokens(llm, lease, json_string_value(s), &ntok, &ei)) != 0)
            break;
        if (ntok > (size_t)llm->num_ctx(lease)) {
            if (!j->truncate) {
                rc = err_set(&ei, E_INVAL, "the input length exceeds the context length");
                break;
            }
            ntok = (size_t)llm->num_ctx(lease); /* the runner keeps the first num_ctx tokens */
        }
        j->prompt_tokens += ntok;
        if ((rc = embed_vector(llm, lease, json_string_value(s), &vec, &n, &ei)) == 0 &&
            !j->legacy && (rc = api_embed_normalize(vec, &n, j->dims)) != 0)
            err_set(&ei, rc, "embedding contains NaN or Inf values");
        if (rc == 0 && i > 0)
            rc = buf_puts(&j->out, ",");
        if (rc == 0)
            rc = append_vector(j, vec, n);
        mem_free(vec);
    }
    if (rc == 0 && !j->legacy)
        rc = buf_puts(&j->out, "]");
    llm->release(lease, r->keep_alive_ns);
    if (rc != 0)
        return api_resp_error(resp, rc == E_INVAL ? 400 : 500, "%s",
                              ei.msg[0] ? ei.msg : err_str(rc));
    return 0;
}

/* {"model","embeddings":[...],"total_duration","load_duration","prompt_eval_count"} */
static int embed_reply(struct api_resp *resp, const char *model, struct embed_job *j,
                       uint64_t total_ns)
{
    struct buf *b = &resp->body;
    char tail[160];
    int rc;
    buf_reset(b);
    if ((rc = buf_puts(b, j->legacy ? "{\"embedding\":" : "{\"model\":")) != 0)
        return rc;
    if (!j->legacy && ((rc = json_go_string(model, strlen(model), b)) != 0 ||
                       (rc = buf_puts(b, ",\"embeddings\":")) != 0))
        return rc;
    if ((rc = buf_append(b, j->out.p ? j->out.p : "[]", j->out.p ? j->out.n : 2)) != 0)
        return rc;
    if (j->legacy || json_array_size(j->inputs) == 0)
        snprintf(tail, sizeof(tail), "}"); /* the empty-input (load) answer has no metrics */
    else
        snprintf(tail, sizeof(tail),
                 ",\"total_duration\":%llu,\"load_duration\":%llu,\"prompt_eval_count\":%zu}",
                 (unsigned long long)total_ns, (unsigned long long)j->load_ns, j->prompt_tokens);
    if ((rc = buf_puts(b, tail)) != 0)
        return rc;
    resp->status = 200;
    resp->content_type = "application/json; charset=utf-8";
    return 0;
}

static int embed_handle(struct api_req *req, struct api_resp *resp, int legacy)
{
    struct err_info ei = {0};
    struct api_serve_model m;
    struct api_serve_req r;
    struct embed_job j;
    const char *name = NULL;
    uint64_t t0 = api_serve_now_ns();
    json_t *inputs = NULL;
    int rc;
    memset(&j, 0, sizeof(j));
    j.truncate = 1;
    j.legacy = legacy;
    buf_init(&j.out, API_MAX_RESP_BYTES);
    if ((rc = api_req_model_name(req->json, &name, &ei)) != 0 ||
        (rc = api_embed_inputs(json_object_get(req->json, legacy ? "prompt" : "input"), &inputs,
                               &ei)) != 0 ||
        ((rc = json_get_bool(req->json, "truncate", &j.truncate, &ei)) != 0 && rc != E_NOTFOUND) ||
        ((rc = json_get_int(req->json, "dimensions", &j.dims, &ei)) != 0 && rc != E_NOTFOUND)) {
        rc = api_resp_error(resp, 400, "%s", ei.msg);
        goto out;
    }
    if (legacy && json_array_size(inputs) > 1) {
        rc = api_resp_error(resp, 400, "invalid input type");
        goto out;
    }
    if ((rc = api_serve_model_open(req->env, name, &m, &ei)) != 0) {
        rc = api_resp_error(resp, api_status_for(rc), "%s", ei.msg);
        goto out;
    }
    if ((rc = api_serve_req_init(req, &m, name, &r, &ei)) != 0) {
        rc = api_resp_error(resp, 400, "%s", ei.msg);
    } else {
        j.inputs = inputs;
        if ((rc = embed_all(req, resp, &r, &j)) == 0 && resp->status == 0)
            rc = embed_reply(resp, name, &j, api_serve_now_ns() - t0);
        api_serve_req_fini(&r);
    }
    api_serve_model_fini(&m);
out:
    json_decref(inputs);
    buf_fini(&j.out);
    return rc;
}

static int h_embed(struct api_req *req, struct api_resp *resp)
{
    return embed_handle(req, resp, 0);
}
API_ROUTE(embed, "POST", "/api/embed", h_embed, API_ROUTE_JSON)

static int h_embeddings(struct api_req *req, struct api_resp *resp)
{
    return embed_handle(req, resp, 1);
}
API_ROUTE(embeddings, "POST", "/api/embeddings", h_embeddings, API_ROUTE_JSON)
