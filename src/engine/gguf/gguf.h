/*
 * gguf.h - hardened reader of GGUF v2/v3 files (header, key/values, tensor infos).
 *
 * The reader works on a memory range (usually an mmap of a model file or of an fd the runner was
 * given) and never reads outside it: every count, length, offset and dimension is checked
 * against the remaining bytes and for overflow before use.  Strings in the result point into
 * the mapped bytes (not NUL-terminated: they are struct gguf_str slices).  Tensor data is not
 * touched here; gguf_tensor.data points into the range after its extent was validated.
 *
 * Ownership: gguf_open_* return a struct gguf the caller owns (gguf_close()); every pointer
 * obtained from it is borrowed until gguf_close().  Thread-safety: a struct gguf is read-only
 * after opening and may be shared between threads.
 *
 * Spec: ../shared/docs/inference-reference.md D.1 (and the ggml gguf documentation).
 */
#ifndef CORRAL_ENGINE_GGUF_H
#define CORRAL_ENGINE_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define GGUF_MAX_TENSORS (1u << 16)
#define GGUF_MAX_KV      (1u << 16)
#define GGUF_MAX_STRING  (1u << 24) /* one string value or key */
#define GGUF_MAX_ARRAY   (1u << 24) /* elements in one array (vocabularies are ~256K) */
#define GGUF_MAX_DIMS    4
#define GGUF_MAX_NAME    64

enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
};

/* ggml tensor type ids as stored in GGUF. */
enum gguf_ttype {
    GGUF_T_F32 = 0,
    GGUF_T_F16 = 1,
    GGUF_T_Q4_0 = 2,
    GGUF_T_Q4_1 = 3,
    GGUF_T_Q5_0 = 6,
    GGUF_T_Q5_1 = 7,
    GGUF_T_Q8_0 = 8,
    GGUF_T_Q8_1 = 9,
    GGUF_T_Q2_K = 10,
    GGUF_T_Q3_K = 11,
    GGUF_T_Q4_K = 12,
    GGUF_T_Q5_K = 13,
    GGUF_T_Q6_K = 14,
    GGUF_T_Q8_K = 15,
    GGUF_T_BF16 = 30,
    GGUF_T_COUNT = 42,
};

struct gguf_str {
    const char *p; /* NOT NUL-terminated; points into the mapped file */
    uint64_t n;
};

struct gguf_kv {
    struct gguf_str key;
    enum gguf_vtype type;
    enum gguf_vtype arr_type; /* element type when type == GGUF_VT_ARRAY */
    uint64_t arr_n;           /* element count when type == GGUF_VT_ARRAY */
    const uint8_t *val;       /* raw little-endian value bytes (for arrays: first element) */
    uint64_t val_bytes;       /* bytes of the whole value (for arrays: all elements) */
    const uint64_t *str_off;  /* string arrays only: offset of element i's length prefix from
                               * val (arr_n entries, built at open so gguf_arr_str is O(1)) */
};

struct gguf_index;

struct gguf_tensor {
    struct gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    enum gguf_ttype type;
    uint64_t offset;  /* relative to the data section */
    uint64_t nbytes;  /* validated byte size */
    const void *data; /* start of the bytes inside the mapped range */
};

struct gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    struct gguf_kv *kv;
    uint64_t n_tensors;
    struct gguf_tensor *tensors;
    uint64_t data_offset; /* file offset of the data section */
    const uint8_t *base;  /* the whole range */
    uint64_t size;
    int owns_map;           /* 1 when gguf_open_fd mapped the file */
    struct gguf_index *idx; /* private: hash indexes of keys and tensor names */
};

/* Parses the range [p, p+n) which must stay valid until gguf_close().  When tensors is 0 only the
 * header and key/values are parsed (what the server needs): n_tensors is then the header's count
 * but tensors is NULL and data_offset 0.  Errors: E_PARSE, E_RANGE, E_UNSUPPORTED, E_NOMEM, with
 * detail in ei (message naming the key or tensor, ei->offset = file offset of the bad field). */
CORRAL_WARN_UNUSED int gguf_open_mem(const void *p, uint64_t n, int tensors, struct gguf **out,
                                     struct err_info *ei);
/* mmaps fd read-only (fd stays the caller's) and parses it. */
CORRAL_WARN_UNUSED int gguf_open_fd(int fd, int tensors, struct gguf **out, struct err_info *ei);
/* Opens path and parses it (the fd is closed again; the mapping stays). */
CORRAL_WARN_UNUSED int gguf_open_file(const char *path, int tensors, struct gguf **out,
                                      struct err_info *ei);
void gguf_close(struct gguf *g);

/* Lookup by key; NULL when absent. */
const struct gguf_kv *gguf_find(const struct gguf *g, const char *key);
/* Typed getters: return 0 and store the value, E_NOTFOUND when absent, E_INVAL on a type that
 * cannot be converted losslessly (any integer type converts to int64/uint32 when it fits). */
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out);
int gguf_get_i64(const struct gguf *g, const char *key, int64_t *out);
int gguf_get_f32(const struct gguf *g, const char *key, float *out);
int gguf_get_bool(const struct gguf *g, const char *key, int *out);
int gguf_get_str(const struct gguf *g, const char *key, struct gguf_str *out);
/* Array element access (no bounds beyond arr_n): */
int gguf_arr_str(const struct gguf_kv *kv, uint64_t i, struct gguf_str *out); /* O(1) after open */
int gguf_arr_f32(const struct gguf_kv *kv, uint64_t i, float *out);
int gguf_arr_i32(const struct gguf_kv *kv, uint64_t i, int32_t *out);
/* Tensor lookup by name; NULL when absent. */
const struct gguf_tensor *gguf_tensor_find(const struct gguf *g, const char *name);

/* Type facts: elements per block, bytes per block, name ("Q4_K"); 0/NULL for unknown types. */
uint32_t gguf_type_block_elems(uint32_t type);
uint32_t gguf_type_block_bytes(uint32_t type);
const char *gguf_type_name(uint32_t type);
/* Human name of general.file_type (llama_ftype), e.g. "Q4_K_M"; "unknown" if not known. */
const char *gguf_ftype_name(uint32_t ftype);
/* 1 when s equals the NUL-terminated c. */
int gguf_str_eq(struct gguf_str s, const char *c);

#endif
