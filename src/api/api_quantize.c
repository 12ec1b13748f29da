/*
 * api_quantize.c - `quantize` for /api/create (ollama-reference.md 1.7; Ollama's server/create.go
 * and fs/ggml/type.go read for the rules): the requested type is upper-cased and must be one the
 * quantizer writes; the source layer must be F16, BF16 or F32; the rewrite goes to a temp file
 * in blobs/ (the same filesystem as the store), is imported as a blob (hashed while copied) and
 * the temp file is removed.  The quantizer itself is engine/quant (what `corral quantize` runs).
 */
#include "api/api_quantize.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api.h"
#include "engine/gguf/gguf.h"
#include "engine/quant/quant.h"
#include "store/store.h"

/* Names accepted, in the order the error message lists them (Ollama lists its own five). */
static const char *const quant_names[] = {
    "F32",  "F16",  "BF16",   "Q8_0",   "Q4_K_S", "Q4_K_M", "Q4_0",   "Q4_1", "Q5_0",
    "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q5_K_S", "Q5_K_M", "Q6_K",
};

int api_quantize_type(const char *name, uint32_t *ftype, char *canon, struct err_info *ei)
{
    char up[API_QUANT_NAME_MAX];
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof(up))
        goto bad;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)name[i]);
    if (!strcmp(up, "Q4_K"))
        snprintf(up, sizeof(up), "Q4_K_M");
    for (size_t i = 0; i < sizeof(quant_names) / sizeof(quant_names[0]); i++) {
        if (strcmp(up, quant_names[i]) || quant_ftype_parse(up, ftype) != 0)
            continue;
        snprintf(canon, API_QUANT_NAME_MAX, "%s", up);
        return 0;
    }
bad:
    return err_set(ei, E_INVAL,
                   "unsupported quantization type %.*s - supported types are F32, F16, BF16, Q8_0, "
                   "Q4_K_S, Q4_K_M, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q5_K_S, "
                   "Q5_K_M, Q6_K",
                   64, name ? name : "");
}

int api_quantize_source_ok(const char *src_type)
{
    return src_type &&
           (!strcmp(src_type, "F16") || !strcmp(src_type, "BF16") || !strcmp(src_type, "F32"));
}

static int progress(struct api_resp *resp, const char *status, uint64_t total, uint64_t done)
{
    return api_stream_line(resp, json_pack("{s:s,s:s,s:I,s:I}", "status", status, "digest",
                                           "0000000000000000000", "total", (json_int_t)total,
                                           "completed", (json_int_t)done));
}

static int temp_path(struct store *st, char *out, size_t n)
{
    int fd;
    if ((size_t)snprintf(out, n, "%s/blobs/quantize-XXXXXX", store_dir(st)) >= n)
        return E_RANGE;
    if ((fd = mkstemp(out)) < 0)
        return E_IO;
    close(fd);
    return 0;
}

int api_quantize_layer(struct store *st, struct api_resp *resp, const char *src_path,
                       const char *src_type, uint64_t src_size, uint32_t ftype, const char *canon,
                       char digest_out[72], uint64_t *size_out, struct err_info *ei)
{
    struct quant_opts o = {.ftype = ftype};
    struct gguf *in = NULL;
    char tmp[PATH_MAX], status[96];
    int rc, have_tmp = 0;
    snprintf(status, sizeof(status), "quantizing %s model to %s", src_type, canon);
    if ((rc = progress(resp, status, src_size, 0)) != 0)
        goto out;
    if ((rc = gguf_open_file(src_path, 1, &in, ei)) != 0)
        goto out;
    if ((rc = temp_path(st, tmp, sizeof(tmp))) != 0) {
        err_set(ei, rc, "cannot create a temporary file in the models directory");
        goto out;
    }
    have_tmp = 1;
    if ((rc = quant_model(in, &o, tmp, NULL, ei)) != 0)
        goto out;
    if ((rc = progress(resp, status, src_size, src_size)) != 0 ||
        (rc = api_stream_status(resp, "verifying conversion")) != 0)
        goto out;
    if ((rc = store_blob_import_file(st, tmp, digest_out)) != 0) {
        err_set(ei, rc, "storing the quantized model: %s", err_str(rc));
        goto out;
    }
    rc = store_blob_size(st, digest_out, size_out);
out:
    if (have_tmp)
        unlink(tmp);
    gguf_close(in);
    return rc;
}
