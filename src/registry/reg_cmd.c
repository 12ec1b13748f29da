/*
 * reg_cmd.c - `corral registry pull|push|import ...`: a hidden, daemon-less front end to the
 * registry client and the store, for tests and for recovering a store by hand.
 *
 *   corral registry pull [--insecure] NAME     pull straight into $OLLAMA_MODELS
 *   corral registry push [--insecure] NAME     push from $OLLAMA_MODELS
 *   corral registry import FILE.gguf NAME      store FILE as a one-layer model (model + config)
 *
 * Progress goes to stdout as Ollama's NDJSON lines; errors as "Error: <msg>" on stderr, exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/cmd.h"
#include "common/json.h"
#include "common/mem.h"
#include "registry/reg.h"
#include "store/store.h"

static int print_progress(void *ctx, const struct reg_progress *p)
{
    json_t *v = reg_progress_json(p);
    struct buf line;
    (void)ctx;
    buf_init(&line, 1u << 16);
    if (v && json_ndjson_line(v, &line) == 0) {
        fwrite(line.p, 1, line.n, stdout);
        fflush(stdout);
    }
    buf_fini(&line);
    json_decref(v);
    return 0;
}

static int do_import(struct store *st, const char *file, const struct store_name *nm,
                     struct err_info *ei)
{
    char model[72], config[72], cfg[512], *man = NULL;
    uint64_t msize;
    size_t n;
    struct store_manifest m = {0};
    struct store_layer layer = {0};
    int rc;
    if ((rc = store_blob_import_file(st, file, model)) != 0 ||
        (rc = store_blob_size(st, model, &msize)) != 0)
        return err_set(ei, rc, "import %s: %s", file, err_str(rc));
    n = (size_t)snprintf(cfg, sizeof(cfg),
                         "{\"model_format\":\"gguf\",\"model_family\":\"llama\",\"model_families\":"
                         "[\"llama\"],\"model_type\":\"\",\"file_type\":\"\",\"architecture\":"
                         "\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
                         "[\"%s\"]}}",
                         model);
    if ((rc = store_blob_put(st, cfg, n, config)) != 0)
        return err_set(ei, rc, "write config: %s", err_str(rc));
    m.schema_version = 2;
    m.media_type = (char *)STORE_MT_MANIFEST;
    m.config.media_type = (char *)STORE_MT_CONFIG;
    memcpy(m.config.digest, config, sizeof(config));
    m.config.size = n;
    layer.media_type = (char *)STORE_MT_MODEL;
    memcpy(layer.digest, model, sizeof(model));
    layer.size = msize;
    m.layers = &layer;
    m.n_layers = 1;
    if ((rc = store_manifest_serialize(&m, &man, &n)) != 0 ||
        (rc = store_manifest_write(st, nm, man, n)) != 0)
        err_set(ei, rc, "write manifest: %s", err_str(rc));
    mem_free(man);
    return rc;
}

static int registry_main(int argc, char **argv)
{
    struct reg_opts o;
    struct store *st = NULL;
    struct store_name nm;
    struct err_info ei = {0};
    const char *verb = argc > 1 ? argv[1] : "", *name = NULL, *file = NULL;
    int rc;
    memset(&o, 0, sizeof(o));
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--insecure") == 0)
            o.insecure = 1;
        else if (!strcmp(verb, "import") && !file)
            file = argv[i];
        else
            name = argv[i];
    }
    if (!name || (strcmp(verb, "pull") && strcmp(verb, "push") && strcmp(verb, "import")) ||
        (!strcmp(verb, "import") && !file)) {
        fprintf(stderr, "usage: corral registry pull|push [--insecure] NAME\n"
                        "       corral registry import FILE NAME\n");
        return 2;
    }
    if ((rc = store_name_parse(name, &nm, &ei)) != 0 || (rc = store_open(NULL, &st, &ei)) != 0)
        goto out;
    o.progress = print_progress;
    if (!strcmp(verb, "pull"))
        rc = reg_pull(st, &nm, &o, &ei);
    else if (!strcmp(verb, "push"))
        rc = reg_push(st, &nm, &o, &ei);
    else
        rc = do_import(st, file, &nm, &ei);
out:
    store_close(st);
    if (rc != 0) {
        fprintf(stderr, "Error: %s\n", ei.msg[0] ? ei.msg : err_str(rc));
        return 1;
    }
    return 0;
}

CMD_REGISTER(registry, "registry", registry_main, NULL)
