/*
 * fuzz_openai.c - the OpenAI-compatible layer: request translation (chat, completions,
 * embeddings), the native -> OpenAI stream/final encoders fed arbitrary native lines, and the
 * /v1 handlers themselves on an empty temporary store (no scheduler).  Input layout: the first
 * byte picks the target, the rest is the body (for the encoders: NDJSON lines).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_openai.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_env env; /* one empty store for the whole run */
static char store_dir_path[] = "/tmp/corral-fuzz-openai-XXXXXX";

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

/* Encodes v Go-style and drops the text (exercises the encoder on translated output). */
static void encode(const json_t *v)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    if (json_go_encode(v, 0, &b) != 0)
        buf_reset(&b);
    buf_fini(&b);
}

static void translate(int which, const char *p, size_t n)
{
    struct err_info ei = {0};
    json_t *in = json_loadb(p, n, 0, NULL), *out = NULL;
    int rc;
    if (!in)
        return;
    rc = which == 0   ? oai_chat_request(in, &out, &ei)
         : which == 1 ? oai_completion_request(in, &out, &ei)
                      : oai_embed_request(in, &out, &ei);
    if (rc == 0)
        encode(out);
    json_decref(out);
    json_decref(in);
}

/* Each line a native object through the stream converter, the last one also as a final. */
static void convert(enum oai_kind kind, const char *p, size_t n)
{
    struct oai_conv c;
    struct buf out;
    json_t *last = NULL;
    oai_conv_init(&c, kind, 1);
    buf_init(&out, 4u << 20);
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        json_t *line = json_loadb(p, len, 0, NULL);
        if (line) {
            if (oai_conv_line(&c, line, &out) != 0)
                buf_reset(&out);
            json_decref(last);
            last = line;
        }
        p += len + (nl ? 1 : 0);
        n -= len + (nl ? 1 : 0);
    }
    if (last) {
        json_t *f = oai_conv_final(&c, last);
        encode(f);
        json_decref(f);
        f = oai_embed_list(last, "m", 1);
        json_decref(f);
    }
    json_decref(last);
    buf_fini(&out);
}

static void handler(const char *method, const char *path, const char *p, size_t n)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    struct api_req req;
    struct api_resp resp;
    char *body;
    if (!env.store || api_route_find(method, path, &r, &param) != 0)
        return;
    if (!(body = mem_alloc(n + 1)))
        return;
    memcpy(body, p, n);
    body[n] = '\0';
    memset(&req, 0, sizeof(req));
    req.method = method, req.path = path, req.param = param, req.env = &env;
    req.body = body, req.body_len = n;
    api_resp_init(&resp, NULL, NULL);
    if (r->fn(&req, &resp) == 0)
        (void)api_stream_finish(&resp);
    api_resp_fini(&resp);
    mem_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;
    char path[256];
    if (size == 0)
        return 0;
    setup();
    switch (data[0] % 8) {
    case 0:
        translate(0, p, n);
        break;
    case 1:
        translate(1, p, n);
        break;
    case 2:
        translate(2, p, n);
        break;
    case 3:
        convert(OAI_CHAT, p, n);
        break;
    case 4:
        convert(OAI_COMPLETION, p, n);
        break;
    case 5:
        handler("POST", "/v1/chat/completions", p, n);
        break;
    case 6:
        handler("POST", data[0] & 8 ? "/v1/embeddings" : "/v1/completions", p, n);
        break;
    default:
        /* the model id: the rest of the path, slashes and all */
        if (n > sizeof(path) - 16 || memchr(p, '\0', n))
            return 0;
        memcpy(path, "/v1/models/", 11);
        memcpy(path + 11, p, n);
        path[11 + n] = '\0';
        handler("GET", path, "", 0);
        break;
    }
    return 0;
}
