/*
 * fs.h - file system helpers: atomic replace (temp file in the same directory, fsync, rename,
 * fsync of the directory), mkdir -p, whole-file reads with a cap, advisory locks.
 * Thread-safe (no shared state).
 */
#ifndef CORRAL_COMMON_FS_H
#define CORRAL_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* Creates dir and its parents with mode; existing directories are fine. */
CORRAL_WARN_UNUSED int fs_mkdir_p(const char *dir, mode_t mode);
/* Writes data to path atomically (readers see the old or the new file, never a mix). */
CORRAL_WARN_UNUSED int fs_write_atomic(const char *path, const void *data, size_t n, mode_t mode);
/* Reads a whole file of at most max bytes; caller owns *out (NUL-terminated, free with mem_free).
 * E_NOTFOUND when missing, E_RANGE when larger than max. */
CORRAL_WARN_UNUSED int fs_read_all(const char *path, size_t max, char **out, size_t *len);
/* fsyncs the directory that holds path. */
int fs_sync_parent(const char *path);
/* Takes an exclusive advisory lock on path (created if needed); returns the fd in *fd.
 * wait=0 returns E_BUSY at once when another process holds it. */
CORRAL_WARN_UNUSED int fs_lock(const char *path, int wait, int *fd);
void fs_unlock(int fd);
/* 1 when path exists (any type), 0 otherwise. */
int fs_exists(const char *path);
/* Removes a directory tree (used by tests and temp cleanup); missing is fine. */
int fs_rm_rf(const char *path);

#endif
