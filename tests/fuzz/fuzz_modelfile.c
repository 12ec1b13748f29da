/*
 * fuzz_modelfile.c - the Modelfile parser, its conversion to a create request, and the value
 * quoting used by `show --modelfile` (which must accept anything the parser produced).
 */
#include <stddef.h>
#include <stdint.h>

#include "api/api_modelfile.h"
#include "common/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_modelfile mf;
    struct buf b;
    json_t *req;
    if (api_modelfile_parse((const char *)data, size, &mf, NULL) != 0)
        return 0;
    buf_init(&b, 16u << 20);
    for (size_t i = 0; i < mf.n; i++)
        if (api_modelfile_quote(mf.cmds[i].args, &b) != 0)
            break;
    buf_fini(&b);
    if ((req = json_object())) {
        if (api_modelfile_to_request(&mf, req, NULL) == 0) {
            buf_init(&b, 16u << 20);
            if (json_go_encode(req, 0, &b) != 0)
                b.n = 0;
            buf_fini(&b);
        }
        json_decref(req);
    }
    api_modelfile_fini(&mf);
    return 0;
}
