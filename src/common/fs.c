/*
 * fs.c - file system helpers (see fs.h).
 */
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"

int fs_mkdir_p(const char *dir, mode_t mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return E_RANGE;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return errno == EACCES ? E_PERM : E_IO;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return errno == EACCES ? E_PERM : E_IO;
    return 0;
}

int fs_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    int fd, rc = 0;
    if (n >= sizeof(dir))
        return E_RANGE;
    if (slash) {
        memcpy(dir, path, n);
        dir[n ? n : 1] = '\0';
        if (n == 0)
            dir[0] = '/';
    } else {
        dir[0] = '.';
        dir[1] = '\0';
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return E_IO;
    if (fsync(fd) != 0)
        rc = E_IO;
    close(fd);
    return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd, rc = E_IO;
    int k = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    if (k < 0 || (size_t)k >= sizeof(tmp))
        return E_RANGE;
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return errno == ENOSPC ? E_RANGE : E_IO;
    if (fchmod(fd, mode) != 0)
        goto out;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out;
        p += w;
        n -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    return fs_sync_parent(path);
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

int fs_read_all(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    int fd, rc = E_IO;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT || errno == ENOTDIR ? E_NOTFOUND : E_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((uint64_t)st.st_size > max) {
        rc = E_RANGE;
        goto out;
    }
    if (!(data = mem_alloc((size_t)st.st_size + 1))) {
        rc = E_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    data[got] = '\0';
    *out = data;
    if (len)
        *len = got;
    data = NULL;
    rc = 0;
out:
    mem_free(data);
    close(fd);
    return rc;
}

int fs_lock(const char *path, int wait, int *fd)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0)
        return E_IO;
    while (flock(f, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        close(f);
        return errno == EWOULDBLOCK ? E_BUSY : E_IO;
    }
    *fd = f;
    return 0;
}

void fs_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

int fs_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT;
}

int fs_rm_rf(const char *path)
{
    if (!fs_exists(path))
        return 0;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : E_IO;
}
