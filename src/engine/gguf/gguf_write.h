/*
 * gguf_write.h - builds GGUF v3 files: key/values (set one by one or copied from a reader) and
 * tensors (name, type, dims, data), laid out exactly as llama.cpp's gguf writer does: header,
 * key/values in insertion order (setting an existing key removes it and appends the new value at
 * the end, as gguf_set_val_* does), tensor
 * infos in insertion order with sequential offsets each padded to the alignment
 * (general.alignment when set, else 32), zero padding before the data section and after every
 * tensor's data.  That makes our quantizer's output byte-comparable with llama.cpp's.
 *
 * Ownership: the writer copies keys, names and values; tensor data is borrowed until the writer
 * is freed unless added with GGUF_W_OWN (then the writer frees it with mem_free).
 * Not thread-safe.  Spec: ../shared/docs/inference-reference.md D.1.
 */
#ifndef CORRAL_ENGINE_GGUF_WRITE_H
#define CORRAL_ENGINE_GGUF_WRITE_H

#include <stdint.h>

#include "common/err.h"
#include "engine/gguf/gguf.h"

#define GGUF_W_OWN   1 /* gguf_w_add_tensor flag: the writer takes the data buffer */
#define GGUF_W_DEFER 2 /* gguf_w_add_tensor flag: data is NULL, produced by a fill callback */

/* Produces the data of tensor i (insertion order) while the file is written: stores a pointer to
 * exactly the tensor's nbytes in *data, valid until the next call.  Returns 0 or an E_* code
 * (which aborts the write). */
typedef int (*gguf_w_fill_fn)(void *ctx, uint64_t i, const void **data);

struct gguf_writer;

/* Creates an empty writer.  E_NOMEM. */
CORRAL_WARN_UNUSED int gguf_w_new(struct gguf_writer **out);
void gguf_w_free(struct gguf_writer *w);

/* Sets key to a raw value as the reader exposes it (struct gguf_kv: type, and for arrays
 * arr_type/arr_n; val/val_bytes are the little-endian value bytes, strings with their u64
 * length prefix).  An existing key is removed first (the new value goes last).  E_INVAL on an
 * empty key, a nested array or a size that does not match the type; E_NOMEM. */
CORRAL_WARN_UNUSED int gguf_w_set_kv(struct gguf_writer *w, const struct gguf_kv *kv);
/* Copies every key/value of g, in file order. */
CORRAL_WARN_UNUSED int gguf_w_copy_kvs(struct gguf_writer *w, const struct gguf *g);
/* Typed setters (an existing key is removed first; the new value goes last). */
CORRAL_WARN_UNUSED int gguf_w_set_u32(struct gguf_writer *w, const char *key, uint32_t v);
CORRAL_WARN_UNUSED int gguf_w_set_i32(struct gguf_writer *w, const char *key, int32_t v);
CORRAL_WARN_UNUSED int gguf_w_set_u64(struct gguf_writer *w, const char *key, uint64_t v);
CORRAL_WARN_UNUSED int gguf_w_set_f32(struct gguf_writer *w, const char *key, float v);
CORRAL_WARN_UNUSED int gguf_w_set_bool(struct gguf_writer *w, const char *key, int v);
CORRAL_WARN_UNUSED int gguf_w_set_str(struct gguf_writer *w, const char *key, const char *v);
/* Array of n fixed-size elements of type et (not STRING/ARRAY) from data. */
CORRAL_WARN_UNUSED int gguf_w_set_arr(struct gguf_writer *w, const char *key, enum gguf_vtype et,
                                      const void *data, uint64_t n);
/* Array of n NUL-terminated strings. */
CORRAL_WARN_UNUSED int gguf_w_set_arr_str(struct gguf_writer *w, const char *key,
                                          const char *const *s, uint64_t n);
/* Removes key; E_NOTFOUND when absent. */
int gguf_w_remove(struct gguf_writer *w, const char *key);

/* Appends a tensor: name (< GGUF_MAX_NAME bytes, unique), type, n_dims (1..4) dims ne (ne[0] a
 * multiple of the type's block size), data of exactly the tensor's byte size (checked against
 * nbytes; NULL with GGUF_W_DEFER).  flags: GGUF_W_OWN or GGUF_W_DEFER.  E_INVAL, E_EXISTS,
 * E_RANGE, E_NOMEM; with GGUF_W_OWN the data is freed even on error. */
CORRAL_WARN_UNUSED int gguf_w_add_tensor(struct gguf_writer *w, const char *name, uint32_t type,
                                         uint32_t n_dims, const int64_t *ne, const void *data,
                                         uint64_t nbytes, int flags);

/* Total bytes the file will have. */
uint64_t gguf_w_size(const struct gguf_writer *w);
/* Serializes to a new buffer (caller frees with mem_free).  E_NOMEM, E_RANGE. */
CORRAL_WARN_UNUSED int gguf_w_to_mem(const struct gguf_writer *w, uint8_t **out, uint64_t *n);
/* Writes path atomically (temp file in the same directory, fsync, rename).  E_IO with detail;
 * E_INVAL when a tensor was added with GGUF_W_DEFER. */
CORRAL_WARN_UNUSED int gguf_w_write_file(const struct gguf_writer *w, const char *path,
                                         struct err_info *ei);
/* The same, calling fill (in insertion order, one tensor at a time) for tensors added with
 * GGUF_W_DEFER, so a quantizer never holds more than one output tensor in memory.  An error of
 * fill is returned as is and no file is left behind. */
CORRAL_WARN_UNUSED int gguf_w_write_file_fill(const struct gguf_writer *w, const char *path,
                                              gguf_w_fill_fn fill, void *ctx, struct err_info *ei);

#endif
