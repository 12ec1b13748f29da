/*
 * sched_env.c - the api_llm interface (api/api_llm.h) implemented over the scheduler, and the
 * attach/detach calls `corral serve` makes.  Complete bodies from the handlers are validated
 * here with the runner protocol's own parser before they reach a runner.
 */
#include "server/sched_env.h"

#include <stddef.h>
#include <string.h>

#include "api/api_llm.h"
#include "common/mem.h"
#include "server/sched.h"

struct sched_env {
    struct sched *s;
    struct api_llm llm;
};

static int e_acquire(void *ctx, const struct api_llm_model *m, int64_t keep_alive_ns,
                     const atomic_int *cancelled, void **lease, uint64_t *load_ns,
                     struct err_info *ei)
{
    struct sched_model sm = {m->key,     m->name,      m->digest,     m->details,
                             m->num_ctx, m->num_batch, m->num_thread, m->use_mmap};
    struct sched_lease *l = NULL;
    int rc = sched_acquire(ctx, &sm, keep_alive_ns, cancelled, &l, load_ns, ei);
    if (rc == 0)
        *lease = l;
    return rc;
}

static void e_release(void *lease, int64_t keep_alive_ns)
{
    sched_release(lease, keep_alive_ns);
}

static int32_t e_num_ctx(void *lease)
{
    return sched_lease_num_ctx(lease);
}

static int e_tokenize(void *lease, const char *text, int add_special, int special, int32_t **ids,
                      size_t *n, struct err_info *ei)
{
    return sched_tokenize(lease, text, add_special, special, ids, n, ei);
}

static int e_detokenize(void *lease, const int32_t *ids, size_t n, char **text, struct err_info *ei)
{
    return sched_detokenize(lease, ids, n, text, ei);
}

static int e_embed(void *lease, const char *text, float **vec, size_t *n, struct err_info *ei)
{
    return sched_embed(lease, text, vec, n, ei);
}

static int e_complete(void *lease, const json_t *msg, struct err_info *ei)
{
    json_t *m = json_copy((json_t *)msg);
    struct rproto_complete c;
    int rc;
    if (!m || json_object_set_new(m, "t", json_string("complete")) != 0) {
        json_decref(m);
        return E_NOMEM;
    }
    if ((rc = rproto_complete_parse(m, &c, ei)) == 0) {
        rc = sched_complete(lease, &c, ei);
        rproto_complete_fini(&c);
    } else if (rc == E_PARSE || rc == E_RANGE) {
        rc = E_INVAL;
    }
    json_decref(m);
    return rc;
}

static int e_next(void *lease, int timeout_ms, json_t **ev)
{
    return sched_next(lease, timeout_ms, ev);
}

static void e_cancel(void *lease)
{
    sched_cancel(lease);
}

static int e_unload(void *ctx, const char *key)
{
    return sched_unload(ctx, key);
}

static int e_is_loaded(void *ctx, const char *key)
{
    return sched_is_loaded(ctx, key);
}

static int e_ps(void *ctx, json_t *out)
{
    json_t *ps = sched_ps(ctx), *v;
    size_t i;
    if (!ps)
        return E_NOMEM;
    json_array_foreach(json_object_get(ps, "models"), i, v) json_array_append(out, v);
    json_decref(ps);
    return 0;
}

int sched_env_attach(struct api_env *env, struct err_info *ei)
{
    struct sched_config cfg;
    struct sched_env *se;
    int rc;
    if ((rc = sched_config_from_env(&cfg, ei)) != 0)
        return rc;
    if (!(se = mem_calloc(1, sizeof(*se))))
        return E_NOMEM;
    if ((rc = sched_new(&cfg, &se->s)) != 0) {
        mem_free(se);
        return rc;
    }
    se->llm =
        (struct api_llm){se->s,      e_acquire, e_release, e_num_ctx, e_tokenize,  e_detokenize,
                         e_complete, e_next,    e_cancel,  e_unload,  e_is_loaded, e_embed};
    env->user[API_ENV_LLM] = &se->llm;
    env->ps = e_ps;
    env->ps_ctx = se->s;
    return 0;
}

void sched_env_detach(struct api_env *env)
{
    struct api_llm *llm;
    struct sched_env *se;
    if (!env || !(llm = env->user[API_ENV_LLM]))
        return;
    se = (struct sched_env *)((char *)llm - offsetof(struct sched_env, llm));
    env->user[API_ENV_LLM] = NULL;
    env->ps = NULL;
    env->ps_ctx = NULL;
    sched_free(se->s);
    mem_free(se);
}
