/*
 * api_env.h - the in-process API environment of the unit tests that call the HTTP handlers
 * directly (no sockets, no daemon): a model store under the test's temporary directory with a
 * struct api_env over it, models put into it as Ollama manifests, and a route run the way the
 * server's worker (src/server/srv_http.c, run_handler) runs one, with the answer collected in
 * memory.  Test doubles (a fake scheduler in env.user[API_ENV_LLM], an offline registry
 * connector) differ per test and stay in the tests; they go into env after test_api_open.
 * Failures end the test through the harness's ASSERT macros.
 */
#ifndef CORRAL_TESTS_API_ENV_H
#define CORRAL_TESTS_API_ENV_H

#include <jansson.h>

#include "api/api.h"

struct test_api {
    struct store *st;   /* <test_tmpdir()>/models */
    struct api_env env; /* store = st, sandbox_mode "off", everything else zero */
};

/* Opens an empty store in the test's temporary directory; t is overwritten. */
void test_api_open(struct test_api *t);
/* Closes the store (t's env is unusable afterwards). */
void test_api_close(struct test_api *t);

/* Puts the file at path into the store as a blob; its "sha256:<hex>" into digest. */
void test_api_put_blob(struct test_api *t, const char *path, char digest[72]);
/* Puts the GGUF file at gguf as model `name` (":latest" unless tagged), with config "{}" and,
 * when tmpl is not NULL, a template layer holding tmpl. */
void test_api_put_model(struct test_api *t, const char *name, const char *gguf, const char *tmpl);

/* Runs method+path with body (NULL = none) as the server does: 404/405 when no route matches,
 * the body parsed on API_ROUTE_JSON routes (400 when it is not a JSON object), the Go request
 * type named for decoder errors, an error left unanswered mapped to its status, the stream
 * finished.  Returns the HTTP status; the answer (every NDJSON line when streaming) is in
 * resp->body, which the caller releases with api_resp_fini. */
int test_api_call(struct test_api *t, const char *method, const char *path, const char *body,
                  struct api_resp *resp);
/* POSTs body to path; the status into *status, the first JSON value of the answer returned
 * (NULL when it is not JSON; caller json_decrefs). */
json_t *test_api_post_json(struct test_api *t, const char *path, const char *body, int *status);

#endif
