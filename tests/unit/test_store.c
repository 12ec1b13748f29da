/*
 * test_store.c - unit tests for src/store: names, manifests (parse/serialise byte for byte on a
 * real registry manifest), blob writer, listing an Ollama-layout tree, prune, lock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/mem.h"
#include "harness/test.h"
#include "store/store.h"

#define LLAMA_MANIFEST "tests/data/store/llama3.2.manifest"

static void parse_ok(const char *s, const char *host, const char *ns, const char *model,
                     const char *tag)
{
    struct store_name nm;
    struct err_info ei = {0};
    if (store_name_parse(s, &nm, &ei) != 0)
        TEST_FAIL_("parse(%s) failed: %s", s, ei.msg);
    ASSERT_EQ_STR(nm.host, host);
    ASSERT_EQ_STR(nm.ns, ns);
    ASSERT_EQ_STR(nm.model, model);
    ASSERT_EQ_STR(nm.tag, tag);
}

TEST(store_name_defaults)
{
    parse_ok("llama3.2", "registry.ollama.ai", "library", "llama3.2", "latest");
    parse_ok("llama3.2:1b", "registry.ollama.ai", "library", "llama3.2", "1b");
    parse_ok("mattw/pygmalion", "registry.ollama.ai", "mattw", "pygmalion", "latest");
    parse_ok("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co", "bartowski",
             "Llama-3.2-1B-Instruct-GGUF", "Q4_K_M");
    parse_ok("localhost:5000/me/mymodel", "localhost:5000", "me", "mymodel", "latest");
    parse_ok("localhost:5000/me/mymodel:v1", "localhost:5000", "me", "mymodel", "v1");
    parse_ok("https://example.com/a/b:c", "example.com", "a", "b", "c");
    struct store_name nm;
    ASSERT_OK(store_name_parse("http://127.0.0.1:5000/a/b", &nm, NULL));
    ASSERT_EQ_INT(nm.http, 1);
    ASSERT_EQ_STR(nm.host, "127.0.0.1:5000");
}

TEST(store_name_rejects)
{
    static const char *bad[] = {
        "",
        ":",
        "model:",
        ":tag",
        "/model",
        "ns/",
        "/ns/model",
        "a//b",
        "h/ns/m/extra",
        "..",
        "../x",
        "ns/..",
        "h/../m",
        ".hidden",
        "-dash",
        "mo del",
        "mo\tdel",
        "a/b.c/d",
        "model:ta:g",
        "model:t/g",
        "h/n/m:",
        "ftp://h/n/m",
        "http:///n/m",
        "na$me",
        "model:.tag",
        "ns:1/model",
        "m\xc3\xa9",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_name nm;
        struct err_info ei = {0};
        int rc = store_name_parse(bad[i], &nm, &ei);
        if (rc != E_INVAL)
            TEST_FAIL_("'%s' accepted (host=%s ns=%s model=%s tag=%s)", bad[i], nm.host, nm.ns,
                       nm.model, nm.tag);
        ASSERT_EQ_STR(ei.msg, "invalid model name");
    }
    /* exactly 80 characters is still fine */
    parse_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "registry.ollama.ai", "library",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "latest");
}

TEST(store_name_display_and_case)
{
    struct store_name a, b;
    char out[600];
    ASSERT_OK(store_name_parse("llama3.2", &a, NULL));
    store_name_display(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "llama3.2:latest");
    ASSERT_OK(store_name_parse("mattw/pygmalion", &a, NULL));
    store_name_display(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "mattw/pygmalion:latest");
    ASSERT_OK(store_name_parse("hf.co/bartowski/X:Q4_K_M", &a, NULL));
    store_name_display(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "hf.co/bartowski/X:Q4_K_M");
    ASSERT_OK(store_name_parse("Registry.Ollama.AI/Library/Llama3.2:Latest", &b, NULL));
    store_name_display(&b, out, sizeof(out));
    ASSERT_EQ_STR(out, "Llama3.2:Latest");
    ASSERT_OK(store_name_parse("llama3.2:latest", &a, NULL));
    ASSERT(store_name_eq(&a, &b));
    ASSERT_OK(store_name_parse("llama3.2:1b", &b, NULL));
    ASSERT(!store_name_eq(&a, &b));
    store_name_full(&a, out, sizeof(out));
    ASSERT_EQ_STR(out, "registry.ollama.ai/library/llama3.2:latest");
}

TEST(store_digest_rules)
{
    const char *hex = "dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff";
    char d[100], canon[72];
    snprintf(d, sizeof(d), "sha256:%s", hex);
    ASSERT(store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256-%s", hex);
    ASSERT(store_digest_valid(d));
    ASSERT_OK(store_digest_canon(d, canon));
    ASSERT(strncmp(canon, "sha256:", 7) == 0);
    snprintf(d, sizeof(d), "sha256:%sa", hex);
    ASSERT(!store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%.63s", hex);
    ASSERT(!store_digest_valid(d));
    snprintf(d, sizeof(d), "sha256:%.63sG", hex);
    ASSERT(!store_digest_valid(d));
    snprintf(d, sizeof(d), "SHA256:%s", hex);
    ASSERT(!store_digest_valid(d));
    ASSERT(!store_digest_valid("sha256:../../../etc/passwd"));
    ASSERT(!store_digest_valid(NULL));
}

static char *read_data(const char *path, size_t *n)
{
    char *p = NULL;
    ASSERT_OK(fs_read_all(path, 1 << 20, &p, n));
    return p;
}

TEST(store_manifest_roundtrip)
{
    size_t n, n2;
    char *bytes = read_data(LLAMA_MANIFEST, &n), *out;
    struct store_manifest m;
    char id[65];
    ASSERT_OK(store_manifest_parse(bytes, n, &m, NULL));
    ASSERT_EQ_INT(m.schema_version, 2);
    ASSERT_EQ_STR(m.media_type, STORE_MT_MANIFEST);
    ASSERT_EQ_STR(m.config.media_type, STORE_MT_CONFIG);
    ASSERT_EQ_SIZE(m.config.size, 561);
    ASSERT_EQ_SIZE(m.n_layers, 5);
    ASSERT_EQ_STR(m.layers[0].media_type, STORE_MT_MODEL);
    ASSERT_EQ_SIZE(m.layers[0].size, 2019377376ull);
    ASSERT_EQ_STR(m.layers[4].digest,
                  "sha256:56bb8bd477a519ffa694fc449c2413c6f0e1d3b1c88fa7e3c9d88d3ae49d4dcb");
    ASSERT_OK(store_manifest_serialize(&m, &out, &n2));
    /* Go's encoder adds a newline; the registry's copy has none.  Otherwise byte for byte. */
    ASSERT_EQ_SIZE(n2, n + 1);
    ASSERT_MEMEQ(out, bytes, n);
    ASSERT(out[n] == '\n');
    store_manifest_id(bytes, n, id);
    ASSERT(strncmp(id, "a80c4f17acd5", 12) == 0);
    mem_free(out);
    store_manifest_fini(&m);
    mem_free(bytes);
}

TEST(store_manifest_from_and_escapes)
{
    const char *in = "{\"schemaVersion\":2,\"mediaType\":\"" STORE_MT_MANIFEST "\","
                     "\"config\":{\"mediaType\":\"" STORE_MT_CONFIG "\",\"digest\":\"sha256:"
                     "34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8bd0e242b\","
                     "\"size\":1,\"extra\":[1,2]},\"layers\":[{\"mediaType\":\"a<b>&c\","
                     "\"digest\":\"sha256:"
                     "34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8bd0e242b\","
                     "\"size\":2,\"from\":\"x/y:z\",\"unknown\":{}}],\"annotations\":{}}";
    const char *want = "{\"schemaVersion\":2,\"mediaType\":\"" STORE_MT_MANIFEST "\","
                       "\"config\":{\"mediaType\":\"" STORE_MT_CONFIG "\",\"digest\":\"sha256:"
                       "34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8bd0e242b\","
                       "\"size\":1},\"layers\":[{\"mediaType\":\"a\\u003cb\\u003e\\u0026c\","
                       "\"digest\":\"sha256:"
                       "34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8bd0e242b\","
                       "\"size\":2,\"from\":\"x/y:z\"}]}\n";
    struct store_manifest m;
    char *out;
    size_t n;
    ASSERT_OK(store_manifest_parse(in, strlen(in), &m, NULL));
    ASSERT_EQ_STR(m.layers[0].from, "x/y:z");
    ASSERT_OK(store_manifest_serialize(&m, &out, &n));
    ASSERT_EQ_STR(out, want);
    mem_free(out);
    store_manifest_fini(&m);
}

TEST(store_manifest_rejects)
{
    static const char *bad[] = {
        "",
        "[]",
        "{",
        "{\"config\":1}",
        "{\"config\":{\"digest\":\"sha256:abc\"}}",
        "{\"config\":{\"digest\":\"sha256-34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8"
        "bd0e242b\"}}",
        "{\"config\":{\"digest\":\"sha256:34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8"
        "bd0e242b\",\"size\":-1}}",
        "{\"config\":{\"digest\":\"sha256:34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8"
        "bd0e242b\"},\"layers\":[{\"digest\":\"../../x\"}]}",
        "{\"config\":{\"digest\":\"sha256:34bb5ab01051a11372a91f95f3fbbc51173eed8e7f13ec395b9ae9b8"
        "bd0e242b\"},\"layers\":{}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct store_manifest m;
        struct err_info ei = {0};
        int rc = store_manifest_parse(bad[i], strlen(bad[i]), &m, &ei);
        if (rc == 0)
            TEST_FAIL_("manifest %zu accepted", i);
        ASSERT(ei.msg[0] != '\0');
    }
}

static struct store *open_tmp(void)
{
    struct store *st = NULL;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/models", test_tmpdir());
    ASSERT_OK(store_open(dir, &st, NULL));
    return st;
}

static int count_files(const char *dir)
{
    char cmd[8400];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 0", dir);
    return system(cmd) == 0 ? 0 : 1;
}

TEST(store_open_env)
{
    char dir[4096], path[4200];
    struct store *st;
    snprintf(dir, sizeof(dir), "%s/envmodels", test_tmpdir());
    setenv("OLLAMA_MODELS", dir, 1);
    ASSERT_OK(store_open(NULL, &st, NULL));
    ASSERT_EQ_STR(store_dir(st), dir);
    snprintf(path, sizeof(path), "%s/blobs", dir);
    ASSERT(fs_exists(path));
    snprintf(path, sizeof(path), "%s/manifests", dir);
    ASSERT(fs_exists(path));
    store_close(st);
    unsetenv("OLLAMA_MODELS");
    setenv("HOME", test_tmpdir(), 1);
    ASSERT_OK(store_open(NULL, &st, NULL));
    snprintf(path, sizeof(path), "%s/.ollama/models", test_tmpdir());
    ASSERT_EQ_STR(store_dir(st), path);
    store_close(st);
}

TEST(store_blob_writer_cases)
{
    struct store *st = open_tmp();
    struct store_blob_writer *w;
    char digest[72], blobs[4200], path[4200];
    uint64_t size;
    int fd;
    /* sha256("hello") */
    const char *hello = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    snprintf(blobs, sizeof(blobs), "%s/blobs", store_dir(st));

    ASSERT_OK(store_blob_writer_new(st, hello, &w));
    ASSERT_OK(store_blob_writer_write(w, "hel", 3));
    ASSERT_OK(store_blob_writer_write(w, "lo", 2));
    ASSERT_OK(store_blob_writer_commit(w, digest));
    ASSERT_EQ_STR(digest, hello);
    ASSERT(store_blob_has(st, hello));
    ASSERT_OK(store_blob_size(st, hello, &size));
    ASSERT_EQ_SIZE(size, 5);
    ASSERT_OK(store_blob_open(st, hello, &fd));
    close(fd);
    ASSERT_OK(store_blob_path(st, hello, path, sizeof(path)));
    ASSERT(strstr(path, "/blobs/sha256-2cf24dba") != NULL);
    ASSERT_OK(store_blob_delete(st, hello));

    /* mismatch: E_INTEGRITY and nothing left behind */
    ASSERT_OK(store_blob_writer_new(st, hello, &w));
    ASSERT_OK(store_blob_writer_write(w, "hellO", 5));
    ASSERT_EQ_INT(store_blob_writer_commit(w, digest), E_INTEGRITY);
    ASSERT(!store_blob_has(st, hello));
    ASSERT_EQ_INT(count_files(blobs), 0);

    /* abort: nothing left behind */
    ASSERT_OK(store_blob_writer_new(st, NULL, &w));
    ASSERT_OK(store_blob_writer_write(w, "x", 1));
    store_blob_writer_abort(w);
    ASSERT_EQ_INT(count_files(blobs), 0);

    /* bad expected digest refused before any file exists */
    ASSERT_EQ_INT(store_blob_writer_new(st, "sha256:../../etc", &w), E_INVAL);
    ASSERT_EQ_INT(store_blob_path(st, "sha256:../x", path, sizeof(path)), E_INVAL);

    /* put + import compute the digest */
    ASSERT_OK(store_blob_put(st, "hello", 5, digest));
    ASSERT_EQ_STR(digest, hello);
    ASSERT_OK(store_blob_import_file(st, LLAMA_MANIFEST, digest));
    ASSERT(strncmp(digest, "sha256:a80c4f17acd5", 19) == 0);
    store_close(st);
}

struct listed {
    char names[8][300];
    char ids[8][13];
    int n;
};

static int list_cb(void *ctx, const struct store_list_entry *e)
{
    struct listed *l = ctx;
    char hex[65];
    if (l->n >= 8)
        return 1;
    store_name_display(e->name, l->names[l->n], sizeof(l->names[0]));
    store_manifest_id(e->bytes, e->n, hex);
    memcpy(l->ids[l->n], hex, 12);
    l->ids[l->n][12] = '\0';
    ASSERT(e->mtime > 0);
    l->n++;
    return 0;
}

static void put_manifest(struct store *st, const char *name, const char *bytes, size_t n)
{
    struct store_name nm;
    ASSERT_OK(store_name_parse(name, &nm, NULL));
    ASSERT_OK(store_manifest_write(st, &nm, bytes, n));
}

TEST(store_list_ollama_tree)
{
    struct store *st = open_tmp();
    size_t n;
    char *bytes = read_data(LLAMA_MANIFEST, &n), path[4200];
    struct listed l = {0};
    put_manifest(st, "llama3.2", bytes, n);
    put_manifest(st, "hf.co/bartowski/X:Q4_K_M", bytes, n);
    put_manifest(st, "localhost:5000/me/mymodel:v1", bytes, n);
    /* junk that must be skipped: wrong depth, invalid parts */
    snprintf(path, sizeof(path), "%s/manifests/bad..host/x", store_dir(st));
    ASSERT_OK(fs_mkdir_p(path, 0755));
    snprintf(path, sizeof(path), "%s/manifests/h/n.s/m", store_dir(st));
    ASSERT_OK(fs_mkdir_p(path, 0755));
    snprintf(path, sizeof(path), "%s/manifests/h/n.s/m/t", store_dir(st));
    ASSERT_OK(fs_write_atomic(path, "{}", 2, 0644));
    snprintf(path, sizeof(path), "%s/manifests/stray", store_dir(st));
    ASSERT_OK(fs_write_atomic(path, "{}", 2, 0644));
    ASSERT_OK(store_manifest_list(st, list_cb, &l));
    ASSERT_EQ_INT(l.n, 3);
    ASSERT_EQ_STR(l.names[0], "hf.co/bartowski/X:Q4_K_M");
    ASSERT_EQ_STR(l.names[1], "localhost:5000/me/mymodel:v1");
    ASSERT_EQ_STR(l.names[2], "llama3.2:latest");
    ASSERT_EQ_STR(l.ids[2], "a80c4f17acd5");

    /* case-insensitive read, then delete removes the now-empty directories */
    struct store_name nm;
    char *got;
    size_t gn;
    ASSERT_OK(store_name_parse("LLAMA3.2:Latest", &nm, NULL));
    ASSERT_OK(store_manifest_read(st, &nm, &got, &gn));
    ASSERT_EQ_SIZE(gn, n);
    mem_free(got);
    /* writing under another case replaces the existing file, no second spelling appears */
    ASSERT_OK(store_manifest_write(st, &nm, "{}", 2));
    snprintf(path, sizeof(path), "%s/manifests/registry.ollama.ai/library/LLAMA3.2", store_dir(st));
    ASSERT(!fs_exists(path));
    ASSERT_OK(store_manifest_read(st, &nm, &got, &gn));
    ASSERT_EQ_SIZE(gn, 2);
    mem_free(got);
    ASSERT_OK(store_name_parse("hf.co/bartowski/X:Q4_K_M", &nm, NULL));
    ASSERT_OK(store_manifest_delete(st, &nm));
    ASSERT_EQ_INT(store_manifest_read(st, &nm, &got, &gn), E_NOTFOUND);
    ASSERT_EQ_INT(store_manifest_delete(st, &nm), E_NOTFOUND);
    snprintf(path, sizeof(path), "%s/manifests/hf.co", store_dir(st));
    ASSERT(!fs_exists(path));
    mem_free(bytes);
    store_close(st);
}

static void make_blob(struct store *st, const char *content, char digest[72])
{
    ASSERT_OK(store_blob_put(st, content, strlen(content), digest));
}

static void age_file(const char *path, long seconds)
{
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = time(NULL) - seconds;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    ASSERT_OK(utimensat(AT_FDCWD, path, ts, 0));
}

TEST(store_prune_keeps_referenced_and_young)
{
    struct store *st = open_tmp();
    char cfg[72], layer[72], orphan[72], young[72], p[4200], man[2048];
    size_t removed = 99;
    make_blob(st, "config", cfg);
    make_blob(st, "layer", layer);
    make_blob(st, "orphan", orphan);
    make_blob(st, "young orphan", young);
    snprintf(man, sizeof(man),
             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
             "\"digest\":\"%s\",\"size\":6},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
             "\"size\":5}]}",
             STORE_MT_MANIFEST, STORE_MT_CONFIG, cfg, STORE_MT_MODEL, layer);
    put_manifest(st, "m", man, strlen(man));
    ASSERT_OK(store_blob_path(st, cfg, p, sizeof(p)));
    age_file(p, 7200);
    ASSERT_OK(store_blob_path(st, layer, p, sizeof(p)));
    age_file(p, 7200);
    ASSERT_OK(store_blob_path(st, orphan, p, sizeof(p)));
    age_file(p, 7200);
    /* an old partial goes, a young partial stays */
    snprintf(p, sizeof(p), "%s/blobs/sha256-%064d-partial", store_dir(st), 1);
    ASSERT_OK(fs_write_atomic(p, "x", 1, 0644));
    snprintf(p, sizeof(p), "%s/blobs/sha256-%064d-partial", store_dir(st), 2);
    ASSERT_OK(fs_write_atomic(p, "x", 1, 0644));
    age_file(p, 7200);
    ASSERT_OK(store_prune(st, 3600, &removed));
    ASSERT_EQ_SIZE(removed, 2);
    ASSERT(store_blob_has(st, cfg));
    ASSERT(store_blob_has(st, layer));
    ASSERT(!store_blob_has(st, orphan));
    ASSERT(store_blob_has(st, young));
    snprintf(p, sizeof(p), "%s/blobs/sha256-%064d-partial", store_dir(st), 1);
    ASSERT(fs_exists(p));
    snprintf(p, sizeof(p), "%s/blobs/sha256-%064d-partial", store_dir(st), 2);
    ASSERT(!fs_exists(p));

    /* prune_digests keeps what a manifest references */
    const char *ds[2] = {layer, young};
    ASSERT_OK(store_prune_digests(st, ds, 2));
    ASSERT(store_blob_has(st, layer));
    ASSERT(!store_blob_has(st, young));

    /* a corrupt manifest disables pruning */
    put_manifest(st, "broken", "{nope", 5);
    ASSERT_EQ_INT(store_prune(st, 0, &removed), E_PARSE);
    ASSERT(store_blob_has(st, cfg));
    store_close(st);
}

TEST(store_lock_exclusion)
{
    struct store *st = open_tmp();
    int fd, fd2, status;
    pid_t pid;
    ASSERT_OK(store_lock(st, &fd));
    pid = fork();
    if (pid == 0) {
        struct store *st2;
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", store_dir(st));
        if (store_open(dir, &st2, NULL) != 0)
            _exit(2);
        _exit(store_lock(st2, &fd2) == E_BUSY ? 0 : 1);
    }
    ASSERT(pid > 0);
    ASSERT(waitpid(pid, &status, 0) == pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    store_unlock(fd);
    ASSERT_OK(store_lock(st, &fd2));
    store_unlock(fd2);
    store_close(st);
}
