/*
 * fuzz_api_json.c - API request bodies: the JSON body parser, the typed getters, the Go-style
 * encoder, the option checks, and the show/copy/delete/create handlers themselves on an empty
 * temporary store.  Input layout: first byte picks the route, the rest is the body.  A first
 * byte of 0xff instead feeds the rest to the server's header policy (OLLAMA_HOST parsing, Host
 * check, Origin check) and the client's OLLAMA_HOST -> URL rule.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_modelfile.h"
#include "common/fs.h"
#include "cli/cli_client.h"
#include "common/json.h"
#include "server/srv.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_env env; /* one empty store for the whole run */
static char store_dir_path[] = "/tmp/corral-fuzz-api-XXXXXX";

static void teardown(void)
{
    store_close(env.store);
    env.store = NULL;
    (void)fs_rm_rf(store_dir_path);
}

static void setup(void)
{
    if (env.store || !mkdtemp(store_dir_path))
        return;
    if (store_open(store_dir_path, &env.store, NULL) != 0)
        env.store = NULL;
    env.noprune = 1;
    atexit(teardown);
}

static void exercise_json(json_t *obj)
{
    struct buf b;
    const char *s = NULL;
    int64_t i = 0;
    int bo = 0;
    json_t *o = NULL;
    buf_init(&b, 1 << 20);
    if (json_go_encode(obj, 0, &b) == 0 && json_go_encode(obj, JSON_GO_SORT_KEYS, &b) == 0)
        buf_reset(&b);
    buf_fini(&b);
    (void)api_req_model_name(obj, &s, NULL);
    (void)json_get_int(obj, "top_k", &i, NULL);
    (void)json_get_bool(obj, "stream", &bo, NULL);
    if (json_get_obj(obj, "options", &o, NULL) == 0)
        if (api_params_check(o, NULL) != 0)
            o = NULL;
}

static void policy(const uint8_t *data, size_t size)
{
    char s[600], host[256], url[700];
    int port = 0;
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    if (srv_parse_host(s, host, sizeof(host), &port) == 0 && (port < 0 || port > 65535))
        abort();
    (void)srv_host_allowed(s);
    (void)srv_origin_allowed(NULL, s);
    if (cli_base_url(s, url, sizeof(url)) != 0)
        url[0] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const routes[][2] = {
        {"POST", "/api/show"},   {"POST", "/api/copy"}, {"DELETE", "/api/delete"},
        {"POST", "/api/create"}, {"GET", "/api/tags"},  {"GET", "/api/version"},
    };
    const struct api_route *r = NULL;
    const char *param = NULL;
    struct api_req req;
    struct api_resp resp;
    json_t *obj = NULL;
    size_t k;
    if (size >= 1 && data[0] == 0xff) {
        policy(data + 1, size - 1);
        return 0;
    }
    setup();
    if (size < 1 || !env.store)
        return 0;
    k = data[0] % (sizeof(routes) / sizeof(routes[0]));
    if (json_parse_object((const char *)data + 1, size - 1, &obj, NULL) != 0)
        return 0;
    exercise_json(obj);
    if (api_route_find(routes[k][0], routes[k][1], &r, &param) == 0) {
        memset(&req, 0, sizeof(req));
        req.method = routes[k][0];
        req.path = routes[k][1];
        req.json = obj;
        req.env = &env;
        api_resp_init(&resp, NULL, NULL);
        if (r->fn(&req, &resp) == 0)
            (void)api_stream_finish(&resp);
        api_resp_fini(&resp);
    }
    json_decref(obj);
    return 0;
}
