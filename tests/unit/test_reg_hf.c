/*
 * test_reg_hf.c - `hf.co/<user>/<repo>[:quant]` names as Ollama handles them (no network):
 * parsing and the shortest display form, the default tag, the manifest URL the registry client
 * requests, and the store path the manifest is kept under.
 */
#include <stdio.h>
#include <string.h>

#include "harness/test.h"
#include "registry/reg.h"
#include "store/store.h"

#define HF_FULL "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"

static void url_of(const char *name, int insecure, const char *want)
{
    struct store_name nm;
    struct err_info ei = {0};
    char url[1024];
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    if (reg_manifest_url(&nm, insecure, url, sizeof(url), &ei) != 0)
        TEST_FAIL_("url(%s): %s", name, ei.msg);
    ASSERT_EQ_STR(url, want);
}

TEST(reg_hf_name_parts_and_display)
{
    struct store_name nm;
    char out[600];
    ASSERT_OK(store_name_parse(HF_FULL, &nm, NULL));
    ASSERT_EQ_STR(nm.host, "hf.co");
    ASSERT_EQ_STR(nm.ns, "bartowski");
    ASSERT_EQ_STR(nm.model, "Llama-3.2-1B-Instruct-GGUF");
    ASSERT_EQ_STR(nm.tag, "Q4_K_M");
    store_name_display(&nm, out, sizeof(out));
    ASSERT_EQ_STR(out, HF_FULL);
    /* no quantization given: the tag is "latest" as for any name (Hugging Face answers latest
     * with the repository's default, Q4_K_M when there is one) */
    ASSERT_OK(store_name_parse("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", &nm, NULL));
    ASSERT_EQ_STR(nm.tag, "latest");
    store_name_display(&nm, out, sizeof(out));
    ASSERT_EQ_STR(out, "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:latest");
    /* the long host spelling is another host, kept as typed */
    ASSERT_OK(store_name_parse("huggingface.co/unsloth/Qwen3-0.6B-GGUF:UD-Q4_K_XL", &nm, NULL));
    store_name_display(&nm, out, sizeof(out));
    ASSERT_EQ_STR(out, "huggingface.co/unsloth/Qwen3-0.6B-GGUF:UD-Q4_K_XL");
    /* a scheme is accepted and remembered, not displayed */
    ASSERT_OK(store_name_parse("https://hf.co/bartowski/X:Q8_0", &nm, NULL));
    ASSERT(!nm.http);
    store_name_display(&nm, out, sizeof(out));
    ASSERT_EQ_STR(out, "hf.co/bartowski/X:Q8_0");
}

TEST(reg_hf_name_case_and_rejects)
{
    struct store_name a, b;
    ASSERT_OK(store_name_parse(HF_FULL, &a, NULL));
    ASSERT_OK(store_name_parse("HF.CO/Bartowski/llama-3.2-1b-instruct-gguf:q4_k_m", &b, NULL));
    ASSERT(store_name_eq(&a, &b));
    ASSERT_OK(store_name_parse("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q8_0", &b, NULL));
    ASSERT(!store_name_eq(&a, &b));
    /* Ollama's part rules apply to hf.co too: no '.' in the user, no empty parts, no 4th level */
    ASSERT_EQ_INT(store_name_parse("hf.co/some.user/Repo-GGUF", &b, NULL), E_INVAL);
    ASSERT_EQ_INT(store_name_parse("hf.co//Repo-GGUF", &b, NULL), E_INVAL);
    ASSERT_EQ_INT(store_name_parse("hf.co/user/Repo-GGUF:", &b, NULL), E_INVAL);
    ASSERT_EQ_INT(store_name_parse("hf.co/user/sub/Repo-GGUF", &b, NULL), E_INVAL);
}

TEST(reg_hf_manifest_url)
{
    url_of(HF_FULL, 0, "https://hf.co/v2/bartowski/Llama-3.2-1B-Instruct-GGUF/manifests/Q4_K_M");
    url_of("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF", 0,
           "https://hf.co/v2/bartowski/Llama-3.2-1B-Instruct-GGUF/manifests/latest");
    url_of("huggingface.co/unsloth/Qwen3-0.6B-GGUF:Q4_K_M", 0,
           "https://huggingface.co/v2/unsloth/Qwen3-0.6B-GGUF/manifests/Q4_K_M");
    /* the other names, for contrast */
    url_of("llama3.2", 0, "https://registry.ollama.ai/v2/library/llama3.2/manifests/latest");
    url_of("127.0.0.1:5000/me/m:v1", 1, "http://127.0.0.1:5000/v2/me/m/manifests/v1");
    /* http:// needs insecure */
    struct store_name nm;
    struct err_info ei = {0};
    char url[64];
    ASSERT_OK(store_name_parse("http://hf.co/bartowski/X:Q4_K_M", &nm, NULL));
    ASSERT_EQ_INT(reg_manifest_url(&nm, 0, url, sizeof(url), &ei), E_INVAL);
    ASSERT_EQ_STR(ei.msg, "insecure protocol http");
    /* too small a buffer is an error, not a truncated URL */
    ASSERT_OK(store_name_parse(HF_FULL, &nm, NULL));
    ASSERT_EQ_INT(reg_manifest_url(&nm, 0, url, 20, &ei), E_RANGE);
}

TEST(reg_hf_store_path)
{
    struct store *st;
    struct store_name nm;
    char dir[512], path[4096], want[4200];
    snprintf(dir, sizeof(dir), "%s/models", test_tmpdir());
    ASSERT_OK(store_open(dir, &st, NULL));
    ASSERT_OK(store_name_parse(HF_FULL, &nm, NULL));
    ASSERT_OK(store_manifest_path(st, &nm, path, sizeof(path)));
    snprintf(want, sizeof(want), "%s/manifests/hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF/Q4_K_M",
             store_dir(st));
    ASSERT_EQ_STR(path, want);
    store_close(st);
}
