/*
 * sched_env.h - plugs the scheduler into the API: creates it from the environment and fills
 * api_env's scheduler interface (user[API_ENV_LLM], see api/api_llm.h) and its /api/ps hook.
 * Called once by `corral serve` at start and at shutdown.  Not thread-safe (start-up only).
 */
#ifndef CORRAL_SERVER_SCHED_ENV_H
#define CORRAL_SERVER_SCHED_ENV_H

#include "api/api.h"
#include "common/err.h"

/* Creates the scheduler (OLLAMA_* settings) and attaches it to env.  E_INVAL on bad settings. */
CORRAL_WARN_UNUSED int sched_env_attach(struct api_env *env, struct err_info *ei);
/* Unloads every model and detaches; no request may be running.  NULL-safe. */
void sched_env_detach(struct api_env *env);

#endif
