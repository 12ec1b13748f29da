/*
 * replay.c - runs a libFuzzer target over files without libFuzzer, so every corpus file (and
 * every crash once found) is replayed as a regular test in `make test`.  Arguments are files or
 * directories of files.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    char *data = NULL;
    size_t n = 0;
    if (fs_read_all(path, 64u << 20, &data, &n) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, n);
    mem_free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int count = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *de;
        if (stat(argv[i], &st) != 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            bad += run_file(argv[i]);
            count++;
            continue;
        }
        if (!(d = opendir(argv[i])))
            continue;
        while ((de = readdir(d))) {
            char p[4096];
            if (de->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
            bad += run_file(p);
            count++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", count);
    return bad ? 1 : 0;
}
