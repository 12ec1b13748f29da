/*
 * test_api.c - API handlers called directly (no sockets) over a temporary store: routing
 * (404/405/:param), request parsing (model vs name, wrong types), error -> status mapping,
 * version/tags/ps, blob upload through the upload ops (good and bad digest, nothing left
 * behind), create from a blob (streamed and stream:false), show, copy, delete, invalid and
 * path-traversal names.
 */
#include "harness/test.h"
#include "harness/api_env.h"

#include <dirent.h>
#include <unistd.h>

#include "api/api.h"
#include "api/api_model.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"
#include "registry/reg.h"
#include "store/store.h"

#define GGUF_PATH "testdata/models/stories260K.gguf"

/* The registry is never reached from unit tests: every connect fails at once. */
static int no_connect(void *ctx, const char *host, int port, int *fd_out)
{
    (void)ctx;
    (void)host;
    (void)port;
    (void)fd_out;
    return E_NET;
}
static const struct reg_connector offline = {no_connect, NULL, NULL};

static void env_open(struct test_api *e)
{
    test_api_open(e);
    e->env.user[REG_ENV_SLOT] = (void *)&offline;
}

static void upload(struct test_api *e, const char *digest, const void *p, size_t n, int want_status)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    char path[128];
    struct api_req req;
    struct api_resp resp;
    void *state = NULL;
    snprintf(path, sizeof(path), "/api/blobs/%s", digest);
    ASSERT_OK(api_route_find("POST", path, &r, &param));
    ASSERT(r->upload);
    memset(&req, 0, sizeof(req));
    req.method = "POST", req.path = path, req.param = param, req.env = &e->env;
    api_resp_init(&resp, NULL, NULL);
    r->upload->open(&req, &resp, &state);
    if (!resp.status) {
        ASSERT(state);
        ASSERT_OK(r->upload->write(state, p, n));
        req.upload = state;
        r->fn(&req, &resp);
    }
    ASSERT_EQ_INT(resp.status, want_status);
    api_resp_fini(&resp);
}

static int count_blobs(struct test_api *e)
{
    char dir[600];
    DIR *d;
    struct dirent *de;
    int n = 0;
    snprintf(dir, sizeof(dir), "%s/blobs", store_dir(e->st));
    ASSERT((d = opendir(dir)));
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void put_gguf(struct test_api *e, char digest[72])
{
    char *data = NULL, hex[65];
    size_t n = 0;
    ASSERT_OK(fs_read_all(GGUF_PATH, 8u << 20, &data, &n));
    crypto_sha256_hex(data, n, hex);
    snprintf(digest, 72, "sha256:%s", hex);
    upload(e, digest, data, n, 201);
    upload(e, digest, data, n, 200); /* already there */
    mem_free(data);
}

static void create_stories(struct test_api *e, const char *name)
{
    char digest[72], body[512];
    struct api_resp resp;
    put_gguf(e, digest);
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"files\":{\"stories260K.gguf\":\"%s\"},\"system\":\"be <brief>\","
             "\"parameters\":{\"temperature\":0.5,\"stop\":[\"END\"]},\"stream\":false}",
             name, digest);
    ASSERT_EQ_INT(test_api_call(e, "POST", "/api/create", body, &resp), 200);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"status\":\"success\"}");
    api_resp_fini(&resp);
}

TEST(api_status_mapping)
{
    ASSERT_EQ_INT(api_status_for(E_INVAL), 400);
    ASSERT_EQ_INT(api_status_for(E_PARSE), 400);
    ASSERT_EQ_INT(api_status_for(E_NOTFOUND), 404);
    ASSERT_EQ_INT(api_status_for(E_RANGE), 413);
    ASSERT_EQ_INT(api_status_for(E_BUSY), 503);
    ASSERT_EQ_INT(api_status_for(E_PERM), 403);
    ASSERT_EQ_INT(api_status_for(E_IO), 500);
}

TEST(api_routing)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    ASSERT_OK(api_route_find("HEAD", "/", &r, &param));
    ASSERT_OK(api_route_find("GET", "/api/tags", &r, &param));
    ASSERT_EQ_INT(api_route_find("POST", "/api/tags", &r, &param), E_UNSUPPORTED);
    ASSERT_EQ_INT(api_route_find("GET", "/api/nope", &r, &param), E_NOTFOUND);
    ASSERT_OK(api_route_find("HEAD", "/api/blobs/sha256:abc", &r, &param));
    ASSERT_EQ_STR(param, "sha256:abc");
    ASSERT_EQ_INT(api_route_find("HEAD", "/api/blobs/a/b", &r, &param), E_NOTFOUND);
}

TEST(api_model_name_field)
{
    struct err_info ei = {0};
    const char *s = NULL;
    json_t *a = json_pack("{s:s,s:s}", "model", "m1", "name", "n1");
    json_t *b = json_pack("{s:s}", "name", "n1");
    json_t *c = json_pack("{s:i}", "model", 3);
    json_t *d = json_object();
    ASSERT_OK(api_req_model_name(a, &s, &ei));
    ASSERT_EQ_STR(s, "m1");
    ASSERT_OK(api_req_model_name(b, &s, &ei));
    ASSERT_EQ_STR(s, "n1");
    ASSERT_EQ_INT(api_req_model_name(c, &s, &ei), E_INVAL);
    ASSERT(strstr(ei.msg, "cannot unmarshal number"));
    ASSERT_EQ_INT(api_req_model_name(d, &s, &ei), E_INVAL);
    json_decref(a), json_decref(b), json_decref(c), json_decref(d);
}

TEST(api_version_tags_ps_root)
{
    struct test_api e;
    struct api_resp resp;
    env_open(&e);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/", NULL, &resp), 200);
    ASSERT_EQ_STR(buf_str(&resp.body), "Ollama is running");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/api/version", NULL, &resp), 200);
    ASSERT_EQ_STR(
        buf_str(&resp.body),
        "{\"version\":\"0.33.0\",\"sandbox\":{\"mode\":\"off\"},\"corral_version\":\"0.1.0\"}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/api/tags", NULL, &resp), 200);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"models\":[]}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/api/ps", NULL, &resp), 200);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"models\":[]}");
    api_resp_fini(&resp);
    test_api_close(&e);
}

TEST(api_blob_upload_mismatch_leaves_nothing)
{
    struct test_api e;
    struct api_resp resp;
    char bad[72], good[128], hex[65];
    env_open(&e);
    snprintf(bad, sizeof(bad), "sha256:%064d", 0);
    upload(&e, bad, "hello", 5, 400);
    ASSERT_EQ_INT(count_blobs(&e), 0);
    upload(&e, "sha256:xyz", "hello", 5, 400);
    crypto_sha256_hex("hello", 5, hex);
    snprintf(good, sizeof(good), "sha256:%s", hex);
    upload(&e, good, "hello", 5, 201);
    ASSERT_EQ_INT(count_blobs(&e), 1);
    snprintf(good, sizeof(good), "/api/blobs/sha256:%s", hex);
    ASSERT_EQ_INT(test_api_call(&e, "HEAD", good, NULL, &resp), 200);
    api_resp_fini(&resp);
    snprintf(good, sizeof(good), "/api/blobs/sha256-%064d", 1);
    ASSERT_EQ_INT(test_api_call(&e, "HEAD", good, NULL, &resp), 404);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "HEAD", "/api/blobs/sha256:..", NULL, &resp), 400);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "HEAD", "/api/blobs/sha256:../../etc", NULL, &resp), 404);
    api_resp_fini(&resp);
    test_api_close(&e);
}

TEST(api_create_show_copy_delete)
{
    struct test_api e;
    struct api_resp resp;
    json_t *v;
    env_open(&e);
    create_stories(&e, "stories");
    ASSERT_EQ_INT(test_api_call(&e, "GET", "/api/tags", NULL, &resp), 200);
    ASSERT(strstr(buf_str(&resp.body), "\"name\":\"stories:latest\""));
    ASSERT(strstr(buf_str(&resp.body), "\"family\":\"llama\""));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"name\":\"stories\"}", &resp), 200);
    ASSERT((v = json_loads(buf_str(&resp.body), 0, NULL)));
    ASSERT_EQ_STR(json_string_value(json_object_get(v, "system")), "be <brief>");
    ASSERT(strstr(json_string_value(json_object_get(v, "parameters")), "temperature"));
    ASSERT_EQ_STR(json_string_value(
                      json_object_get(json_object_get(v, "model_info"), "general.architecture")),
                  "llama");
    ASSERT(strstr(buf_str(&resp.body), "be \\u003cbrief\\u003e")); /* Go escaping on the wire */
    json_decref(v);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/copy",
                                "{\"source\":\"stories\",\"destination\":\"me/s2:v1\"}", &resp),
                  200);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":\"me/s2:v1\"}", &resp), 200);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "DELETE", "/api/delete", "{\"model\":\"stories\"}", &resp),
                  200);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "DELETE", "/api/delete", "{\"model\":\"stories\"}", &resp),
                  404);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"model 'stories' not found\"}");
    api_resp_fini(&resp);
    ASSERT(count_blobs(&e) > 0); /* still used by me/s2:v1 */
    ASSERT_EQ_INT(test_api_call(&e, "DELETE", "/api/delete", "{\"model\":\"me/s2:v1\"}", &resp),
                  200);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(count_blobs(&e), 0);
    test_api_close(&e);
}

TEST(api_create_streams_status_lines)
{
    struct test_api e;
    struct api_resp resp;
    char digest[72], body[512];
    env_open(&e);
    put_gguf(&e, digest);
    snprintf(body, sizeof(body), "{\"model\":\"s\",\"files\":{\"a.gguf\":\"%s\"}}", digest);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/create", body, &resp), 200);
    ASSERT_EQ_STR(resp.content_type, "application/x-ndjson");
    ASSERT(strstr(buf_str(&resp.body), "{\"status\":\"parsing GGUF\"}\n"));
    ASSERT(strstr(buf_str(&resp.body),
                  "{\"status\":\"writing manifest\"}\n{\"status\":\"success\"}\n"));
    api_resp_fini(&resp);
    test_api_close(&e);
}

TEST(api_bad_requests)
{
    struct test_api e;
    struct api_resp resp;
    env_open(&e);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "", &resp), 400);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"missing request body\"}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":", &resp), 400);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":42}", &resp), 400);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":\"../../etc/passwd\"}", &resp),
                  400);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"invalid model name\"}");
    api_resp_fini(&resp);
    /* ShowHandler names the model by its shortest display form */
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":\"nope\"}", &resp), 404);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"model 'nope:latest' not found\"}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/copy",
                                "{\"source\":\"nope\",\"destination\":\"x\"}", &resp),
                  404);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/copy",
                                "{\"source\":\"a\",\"destination\":\"a/../../b\"}", &resp),
                  400);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/api/create", "{\"model\":\"x\",\"stream\":false}", &resp), 400);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"neither 'from' or 'files' was specified\"}");
    api_resp_fini(&resp);
    /* quantize is supported: a missing base is pulled first (parseFromModel), and the failed
     * pull ends the stream with its error line */
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/create",
                                "{\"model\":\"x\",\"from\":\"y\",\"quantize\":\"q4_K_M\"}", &resp),
                  200);
    ASSERT(strstr(buf_str(&resp.body), "{\"status\":\"pulling manifest\"}\n{\"error\":") ==
           buf_str(&resp.body));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/create",
                                "{\"model\":\"x\",\"from\":\"nope\",\"stream\":false}", &resp),
                  500);
    ASSERT(!strncmp(buf_str(&resp.body), "{\"error\":", 9));
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/create",
                                "{\"model\":\"x\",\"files\":{\"../a.gguf\":\"sha256:00\"}}", &resp),
                  400);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"file path must be relative\"}");
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/create",
                                "{\"model\":\"x\",\"from\":\"y\",\"parameters\":{\"bogus\":1}}",
                                &resp),
                  200); /* the base model comes first: its pull is tried (and fails here) */
    ASSERT(strstr(buf_str(&resp.body), "{\"status\":\"pulling manifest\"}\n") ==
           buf_str(&resp.body));
    api_resp_fini(&resp);
    test_api_close(&e);
}

TEST(api_create_from_model_merges_parameters)
{
    struct test_api e;
    struct api_resp resp;
    json_t *v;
    env_open(&e);
    create_stories(&e, "base");
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/api/create",
                      "{\"model\":\"derived\",\"from\":\"base\",\"parameters\":{\"top_k\":7},"
                      "\"stream\":false}",
                      &resp),
        200);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(test_api_call(&e, "POST", "/api/show", "{\"model\":\"derived\"}", &resp), 200);
    ASSERT((v = json_loads(buf_str(&resp.body), 0, NULL)));
    ASSERT(strstr(json_string_value(json_object_get(v, "parameters")), "top_k"));
    ASSERT(strstr(json_string_value(json_object_get(v, "parameters")), "temperature"));
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(v, "details"), "parent_model")),
                  "base:latest");
    json_decref(v);
    api_resp_fini(&resp);
    ASSERT_EQ_INT(
        test_api_call(&e, "POST", "/api/create",
                      "{\"model\":\"bad\",\"from\":\"base\",\"parameters\":{\"bogus\":1}}", &resp),
        400);
    ASSERT_EQ_STR(buf_str(&resp.body), "{\"error\":\"unknown parameter 'bogus'\"}");
    api_resp_fini(&resp);
    test_api_close(&e);
}
