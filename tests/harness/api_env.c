/*
 * api_env.c - the in-process API environment of the unit tests (see api_env.h): a temporary
 * store and env, models put as manifests, and routes run like the server's worker runs them.
 */
#include "api_env.h"

#include "test.h"

#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

#define TEST_API_MAX_FILE (8u << 20) /* the test models are < 2 MB */

void test_api_open(struct test_api *t)
{
    char dir[4096];
    memset(t, 0, sizeof(*t));
    snprintf(dir, sizeof(dir), "%s/models", test_tmpdir());
    ASSERT_OK(store_open(dir, &t->st, NULL));
    t->env.store = t->st;
    t->env.sandbox_mode = "off";
}

void test_api_close(struct test_api *t)
{
    store_close(t->st);
    t->st = NULL;
    t->env.store = NULL;
}

void test_api_put_blob(struct test_api *t, const char *path, char digest[72])
{
    char *data = NULL;
    size_t n = 0;
    ASSERT_OK(fs_read_all(path, TEST_API_MAX_FILE, &data, &n));
    ASSERT_OK(store_blob_put(t->st, data, n, digest));
    mem_free(data);
}

void test_api_put_model(struct test_api *t, const char *name, const char *gguf, const char *tmpl)
{
    char dmodel[72], dcfg[72], dtmpl[72], man[2048];
    char *data = NULL;
    size_t n = 0;
    struct store_name nm;
    ASSERT_OK(fs_read_all(gguf, TEST_API_MAX_FILE, &data, &n));
    ASSERT_OK(store_blob_put(t->st, data, n, dmodel));
    mem_free(data);
    ASSERT_OK(store_blob_put(t->st, "{}", 2, dcfg));
    snprintf(man, sizeof(man),
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest."
             "v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+"
             "json\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"application/"
             "vnd.ollama.image.model\",\"digest\":\"%s\",\"size\":%zu}",
             dcfg, dmodel, n);
    if (tmpl) {
        ASSERT_OK(store_blob_put(t->st, tmpl, strlen(tmpl), dtmpl));
        snprintf(man + strlen(man), sizeof(man) - strlen(man),
                 ",{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"%s\","
                 "\"size\":%zu}",
                 dtmpl, strlen(tmpl));
    }
    snprintf(man + strlen(man), sizeof(man) - strlen(man), "]}");
    ASSERT(strlen(man) + 1 < sizeof(man));
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    ASSERT_OK(store_manifest_write(t->st, &nm, man, strlen(man)));
}

int test_api_call(struct test_api *t, const char *method, const char *path, const char *body,
                  struct api_resp *resp)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    struct api_req req;
    struct err_info ei = {0};
    int rc;
    api_resp_init(resp, NULL, NULL);
    rc = api_route_find(method, path, &r, &param);
    if (rc)
        return rc == E_NOTFOUND ? 404 : 405;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = path;
    req.param = param;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    req.env = &t->env;
    if (r->flags & API_ROUTE_JSON) {
        rc = json_parse_object(body ? body : "", req.body_len, &req.json, &ei);
        if (rc) {
            ASSERT_OK(api_resp_error(resp, 400, "%s", ei.msg));
            return 400;
        }
    }
    json_set_go_struct(api_go_request(path));
    rc = r->fn(&req, resp);
    json_set_go_struct(NULL);
    if (rc && !resp->status && !resp->started)
        ASSERT_OK(api_resp_error(resp, api_status_for(rc), "%s", err_str(rc)));
    if (!rc)
        ASSERT_OK(api_stream_finish(resp));
    json_decref(req.json);
    return resp->status ? resp->status : 200;
}

json_t *test_api_post_json(struct test_api *t, const char *path, const char *body, int *status)
{
    struct api_resp resp;
    json_t *out;
    *status = test_api_call(t, "POST", path, body, &resp);
    out = json_loadb(buf_str(&resp.body), resp.body.n, JSON_DISABLE_EOF_CHECK, NULL);
    api_resp_fini(&resp);
    return out;
}
