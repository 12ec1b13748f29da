/*
 * cli_create.c - `corral create MODEL [-f Modelfile] [-q TYPE]`: parses the Modelfile here (as
 * Ollama's client does since 0.5.5), uploads a FROM file through /api/blobs, then sends the
 * structured /api/create request and prints the daemon's status lines.  FROM is a file when it
 * names an existing path (absolute, ~ expanded, or relative to the Modelfile's directory; a
 * directory stands for the one .gguf file in it), otherwise a model name.  A missing Modelfile
 * reads as "FROM ." (Ollama's client does the same, also for a missing -f file).
 */
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_modelfile.h"
#include "cli/cli_client.h"
#include "common/cmd.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/mem.h"

struct create_opts {
    const char *model;
    const char *file;
    const char *quantize;
};

static int parse_opts(int argc, char **argv, struct create_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->file = "Modelfile";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("Create a model\n\nUsage:\n  corral create MODEL [flags]\n\nFlags:\n"
                   "  -f, --file string       Name of the Modelfile (default \"Modelfile\")\n"
                   "  -q, --quantize string   Quantize model to this level (e.g. q4_K_M, q8_0)\n");
            return 2;
        }
        if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && i + 1 < argc)
            o->file = argv[++i];
        else if ((!strcmp(a, "-q") || !strcmp(a, "--quantize")) && i + 1 < argc)
            o->quantize = argv[++i];
        else if (a[0] != '-' && !o->model)
            o->model = a;
        else {
            fprintf(stderr, "Error: unknown flag or extra argument: %s\n", a);
            return 1;
        }
    }
    if (!o->model) {
        fprintf(stderr, "Error: accepts 1 arg(s), received 0\n\nUsage:\n  corral create MODEL "
                        "[-f Modelfile]\n");
        return 1;
    }
    return 0;
}

/* Resolves FROM to an existing local path in out; 0 when it is one, E_NOTFOUND otherwise. */
static int resolve_from(const char *from, const char *mf_path, char *out, size_t n)
{
    char dir[PATH_MAX], tmp[PATH_MAX];
    struct stat sb;
    const char *home = getenv("HOME");
    int w;
    if (from[0] == '~' && (from[1] == '/' || !from[1]) && home) {
        w = snprintf(out, n, "%s%s", home, from + 1);
    } else if (from[0] == '/') {
        w = snprintf(out, n, "%s", from);
    } else {
        snprintf(tmp, sizeof(tmp), "%s", mf_path);
        snprintf(dir, sizeof(dir), "%s", dirname(tmp));
        w = snprintf(out, n, "%s/%s", dir, from);
    }
    if (w < 0 || (size_t)w >= n)
        return E_NOTFOUND;
    return stat(out, &sb) == 0 ? 0 : E_NOTFOUND;
}

/* One line per status; the repeated progress of a pull of the FROM model ("pulling <12hex>"
 * every 60 ms) prints once. */
static int print_status(void *ctx, const json_t *obj)
{
    char *last = ctx;
    const char *s = json_string_value(json_object_get(obj, "status"));
    if (s && strncmp(s, last, 127) != 0) {
        fprintf(stderr, "%s\n", s);
        snprintf(last, 128, "%s", s);
    }
    return 0;
}

static size_t count_glob(const char *dir, const char *pattern, char *first, size_t n)
{
    char pat[PATH_MAX + 64];
    glob_t g;
    size_t k = 0;
    snprintf(pat, sizeof(pat), "%s/%s", dir, pattern);
    if (glob(pat, 0, NULL, &g) == 0) {
        k = g.gl_pathc;
        if (first && k)
            snprintf(first, n, "%s", g.gl_pathv[0]);
    }
    globfree(&g);
    return k;
}

/* FROM a directory, as Ollama's filesForModel: safetensors/pytorch weights first (not supported
 * here), else its *.gguf file (corral imports exactly one); path becomes that file. */
static int dir_gguf(char *path, struct err_info *ei)
{
    static const char *const unsupported[] = {"model*.safetensors", "*/model*.safetensors",
                                              "consolidated*.safetensors", "pytorch_model*.bin",
                                              "consolidated*.pth"};
    char file[PATH_MAX];
    size_t k;
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (count_glob(path, unsupported[i], NULL, 0))
            return err_set(ei, E_UNSUPPORTED,
                           "importing safetensors or pytorch weights is not supported yet; use "
                           "a .gguf file");
    k = count_glob(path, "*.gguf", file, sizeof(file));
    if (k == 0)
        return err_set(ei, E_NOTFOUND, "no Modelfile or safetensors files found");
    if (k > 1)
        return err_set(ei, E_UNSUPPORTED, "%zu .gguf files in the FROM directory; name one", k);
    snprintf(path, PATH_MAX, "%s", file);
    return 0;
}

/* Fills req's base: files {name: digest} for a local file, else from. */
static int set_base(struct cli_client *c, const char *from, const char *mf_path, json_t *req,
                    struct err_info *ei)
{
    char path[PATH_MAX], digest[72], tmp[PATH_MAX];
    struct stat sb;
    int rc;
    if (resolve_from(from, mf_path, path, sizeof(path)) != 0)
        return json_object_set_new(req, "from", json_string(from)) ? E_NOMEM : 0;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (rc = dir_gguf(path, ei)) != 0)
        return rc;
    fprintf(stderr, "gathering model components\n");
    if ((rc = cli_upload_file(c, path, digest, ei)) != 0)
        return rc;
    if (!isatty(STDERR_FILENO))
        fprintf(stderr, "copying file %s 100%%\n", digest);
    snprintf(tmp, sizeof(tmp), "%s", path);
    return json_object_set_new(req, "files", json_pack("{s:s}", basename(tmp), digest)) ? E_NOMEM
                                                                                        : 0;
}

static int read_modelfile(const char *path, struct api_modelfile *mf, struct err_info *ei)
{
    char *text = NULL;
    size_t n = 0;
    int rc = fs_read_all(path, API_MF_MAX_BYTES, &text, &n);
    if (rc == E_NOTFOUND)
        return err_set(ei, rc, "open %s: no such file or directory", path);
    if (rc == E_RANGE)
        return err_set(ei, rc, "%s: Modelfile too large", path);
    if (rc)
        return err_set(ei, rc, "reading %s: %s", path, err_str(rc));
    rc = api_modelfile_parse(text, n, mf, ei);
    mem_free(text);
    return rc;
}

static int cmd_create(int argc, char **argv)
{
    struct create_opts o;
    struct api_modelfile mf;
    struct cli_client c;
    struct err_info ei = {0};
    json_t *req = NULL;
    char last[128] = "";
    int rc;
    if ((rc = parse_opts(argc, argv, &o)) != 0)
        return rc == 2 ? 0 : 1;
    memset(&mf, 0, sizeof(mf));
    rc = read_modelfile(o.file, &mf, &ei);
    if (rc == E_NOTFOUND) { /* as Ollama's client: no Modelfile means "FROM ." (the cwd) */
        memset(&ei, 0, sizeof(ei));
        api_modelfile_fini(&mf);
        memset(&mf, 0, sizeof(mf));
        o.file = "Modelfile";
        rc = api_modelfile_parse("FROM .\n", 7, &mf, &ei);
    }
    if (rc != 0)
        goto out;
    if (*mf.warnings)
        fprintf(stderr, "%s\n", mf.warnings);
    if (!(req = json_pack("{s:s}", "model", o.model))) {
        rc = E_NOMEM;
        goto out;
    }
    if (o.quantize)
        json_object_set_new(req, "quantize", json_string(o.quantize));
    if ((rc = cli_client_init(&c, &ei)) != 0 ||
        (rc = set_base(&c, api_modelfile_from(&mf), o.file, req, &ei)) != 0 ||
        (rc = api_modelfile_to_request(&mf, req, &ei)) != 0)
        goto out;
    rc = cli_stream(&c, "/api/create", req, print_status, last, &ei);
out:
    json_decref(req);
    api_modelfile_fini(&mf);
    if (rc) {
        fprintf(stderr, "Error: %s\n", *ei.msg ? ei.msg : err_str(rc));
        return 1;
    }
    return 0;
}
CMD_REGISTER(create, "create", cmd_create, "Create a model")
