/*
 * fuzz_msgs.c - the Anthropic Messages and OpenAI Responses layers (api_msgs.h): request
 * translation of both, the native -> SSE event converters and the final-object builders fed
 * arbitrary native lines, and the /v1/messages, /v1/messages/count_tokens and /v1/responses
 * handlers on an empty temporary store (no scheduler).  Input layout: the first byte picks the
 * target, the rest is the body (for the converters: NDJSON lines; for the Responses converter
 * the first line is the request).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_msgs.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_env env; /* one empty store for the whole run */
static char store_dir_path[] = "/tmp/corral-fuzz-msgs-XXXXXX";

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

static void encode(const json_t *v)
{
    struct buf b;
    buf_init(&b, 1u << 20);
    if (json_go_encode(v, 0, &b) != 0)
        buf_reset(&b);
    buf_fini(&b);
}

static void translate(int ant, const char *p, size_t n)
{
    struct err_info ei = {0};
    json_t *in = json_loadb(p, n, 0, NULL), *out = NULL;
    int64_t est = 0;
    int rc;
    if (!in)
        return;
    rc = ant ? ant_request(in, &out, &est, &ei) : rsp_request(in, &out, &ei);
    if (rc == 0)
        encode(out);
    json_decref(out);
    json_decref(in);
}

/* Each line a native object through the stream converter, the last one also as a final. */
static void convert(int ant, const char *p, size_t n)
{
    struct ant_conv a;
    struct rsp_conv r;
    struct buf out;
    json_t *last = NULL, *req = NULL;
    int first = 1;
    ant_conv_init(&a, "m", 3);
    buf_init(&out, 4u << 20);
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        json_t *line = json_loadb(p, len, 0, NULL);
        if (!ant && first) {
            req = line ? line : json_object();
            rsp_conv_init(&r, req);
            line = NULL;
        } else if (line) {
            if ((ant ? ant_conv_line(&a, line, &out) : rsp_conv_line(&r, line, &out)) != 0)
                buf_reset(&out);
            json_decref(last);
            last = line;
        }
        first = 0;
        p += len + (nl ? 1 : 0);
        n -= len + (nl ? 1 : 0);
    }
    if (last) {
        json_t *f = ant ? ant_conv_final(&a, last) : rsp_conv_final(&r, last);
        encode(f);
        json_decref(f);
    }
    if (req)
        rsp_conv_fini(&r);
    json_decref(req);
    json_decref(last);
    buf_fini(&out);
}

static void handler(const char *path, const char *p, size_t n)
{
    const struct api_route *r = NULL;
    const char *param = NULL;
    struct api_req req;
    struct api_resp resp;
    char *body;
    if (!env.store || api_route_find("POST", path, &r, &param) != 0)
        return;
    if (!(body = mem_alloc(n + 1)))
        return;
    memcpy(body, p, n);
    body[n] = '\0';
    memset(&req, 0, sizeof(req));
    req.method = "POST", req.path = path, req.param = param, req.env = &env;
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
    if (size == 0)
        return 0;
    setup();
    switch (data[0] % 6) {
    case 0:
        translate(1, p, n);
        break;
    case 1:
        translate(0, p, n);
        break;
    case 2:
        convert(1, p, n);
        break;
    case 3:
        convert(0, p, n);
        break;
    case 4:
        handler(data[0] & 8 ? "/v1/messages/count_tokens" : "/v1/messages", p, n);
        break;
    default:
        handler("/v1/responses", p, n);
        break;
    }
    return 0;
}
