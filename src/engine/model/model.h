/*
 * model.h - decoder-only transformer models (llama, qwen2, qwen3, gemma2, gemma3, phi3) inside the
 * engine: weights validated from a GGUF file (model.c) and the forward pass over a batch
 * (model_fwd.c).
 *
 * The llama block is the base; the other families are described by data, not code paths:
 * per-layer flags (sliding window, which RoPE), optional tensors (post-norms, q/k norms) and
 * scalars (embedding scale, attention scale, soft-caps, GELU instead of SiLU).  Fused
 * attn_qkv / ffn_up tensors (phi3) become row views (wq/wk/wv, gate/up) into the one matrix.
 *
 * struct model borrows the weight bytes from the mapped GGUF (owned by the model: model_free
 * closes it) and owns small F32 copies of every 1-D tensor (norms, biases, rope factors).
 * struct model_fwd is the per-context state of the forward pass: the KV cache, the thread
 * pool and every scratch buffer, all allocated in model_fwd_init; model_fwd_decode allocates
 * nothing.  Spec: ../shared/docs/inference-reference.md D.4.
 */
#ifndef CORRAL_ENGINE_MODEL_H
#define CORRAL_ENGINE_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/kv/kv.h"

struct gguf;
struct kern;
struct gguf_tensor;
struct pool;

#define MODEL_MAX_LAYERS   512
#define MODEL_MAX_EMBD     65536
#define MODEL_MAX_HEADS    1024
#define MODEL_MAX_HEAD_DIM 1024
#define MODEL_MAX_FF       (1 << 18)
#define MODEL_MAX_VOCAB    (1 << 21)

enum model_arch {
    MODEL_ARCH_LLAMA = 1,
    MODEL_ARCH_QWEN2 = 2,
    MODEL_ARCH_QWEN3 = 3,
    MODEL_ARCH_GEMMA3 = 4,
    MODEL_ARCH_GEMMA2 = 5,
    MODEL_ARCH_PHI3 = 6,
};

/* One RoPE variant: theta_i = scale * pos * base^(-2i/n_rot) / freqs[i]; cos/sin times mscale. */
struct model_rope {
    float base, scale, mscale;
    const float *freqs; /* [n_rot/2] divisors or NULL */
};

/* A weight matrix [nrows][ncols] of type `type` inside the mapping. */
struct model_mat {
    const void *data;
    uint32_t type;
    uint32_t vdt; /* kern vec_dot_type(type): what activations are quantized to */
    int64_t ncols, nrows;
    size_t row_bytes;  /* bytes of one weight row */
    size_t vrow_bytes; /* bytes of one activation row of vdt */
    int64_t ilv;       /* 0, or the rows come in blocks of ilv, each followed by ilv rows of a
                        * partner matrix (gate and up, model_wcopy.c): row r lies at data +
                        * (r + r / ilv * ilv) * row_bytes, and up.data = gate.data + ilv rows;
                        * gate and up are interleaved together or not at all */
};

struct model_layer {
    float *attn_norm; /* [n_embd] */
    struct model_mat wq, wk, wv,
        wo;                 /* [n_head*hd][n_embd], [n_kv*hd][n_embd] x2, [n_embd][n_head*hd] */
    float *bq, *bk, *bv;    /* biases or NULL */
    float *q_norm, *k_norm; /* [head_dim] (qwen3, gemma3) or NULL */
    float *ffn_norm;        /* [n_embd] */
    struct model_mat gate, up, down;       /* [n_ff][n_embd] x2, [n_embd][n_ff] */
    float *post_attn_norm, *post_ffn_norm; /* [n_embd] (gemma2/3) or NULL */
    int swa;                               /* sliding-window layer: window n_swa, rope_l */
};

struct model {
    struct gguf *g; /* owned: the mapping the matrices point into */
    const struct kern *k;
    enum model_arch arch;
    char arch_name[16];
    char name[128];
    char file_type[24];
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float eps;
    float rope_base, freq_scale;
    int rope_neox;                     /* 1: rotate (i, i+n_rot/2); 0: (2i, 2i+1) */
    float *rope_freqs;                 /* [n_rot/2] divisors or NULL */
    float *rope_long, *rope_short;     /* LongRoPE divisors (phi3) or NULL */
    uint32_t n_ctx_orig;               /* contexts above this use rope_long */
    struct model_rope rope_g, rope_l;  /* global and sliding-window layers (freqs: rope_freqs) */
    uint32_t n_swa;                    /* sliding window of swa layers (0: none) */
    float embd_scale;                  /* input embeddings times this (gemma: sqrt(n_embd)) */
    float attn_scale;                  /* scores = q.k * attn_scale */
    float attn_softcap, final_softcap; /* c*tanh(x/c) on scores / logits when > 0 */
    int ffn_gelu;                      /* gelu(gate)*up (tanh form, F16 table) instead of silu */
    uint16_t *gelu_f16;                /* [65536] F16 gelu of every F16 input, or NULL */
    struct model_mat tok_embd, output; /* output may alias tok_embd (tied) */
    float *output_norm;
    struct model_layer *layers;
    uint64_t n_params, weight_bytes, bytes_per_token;
    void *wmap; /* anonymous copy of the matrices (model_copy_weights) or NULL */
    size_t wmap_len;
};

/* Builds a model over an opened GGUF (tensors parsed) and takes ownership of g on success.
 * Errors: E_UNSUPPORTED naming the architecture/type, E_PARSE naming the tensor or key. */
CORRAL_WARN_UNUSED int model_load(struct gguf *g, const struct kern *k, struct model **out,
                                  struct err_info *ei);
/* Tensor checks shared by the decoder loader and the encoder's (model_enc.c).
 * model_tensor_find: tensor name of g, or NULL when absent (*rc 0); *rc E_PARSE when it has
 *   more than n_dims_max dimensions.
 * model_mat_check: t (called name in messages) as a [nrows][ncols] weight matrix of a type the
 *   kernels k multiply, with a byte size matching that shape; fills *out.
 * model_f32_copy: the first n values of an F32/F16/BF16 tensor (type checked by the caller) as a
 *   new F32 array. */
const struct gguf_tensor *model_tensor_find(const struct gguf *g, const char *name, int n_dims_max,
                                            int *rc, struct err_info *ei);
CORRAL_WARN_UNUSED int model_mat_check(const struct kern *k, const struct gguf_tensor *t,
                                       const char *name, int64_t ncols, int64_t nrows,
                                       struct model_mat *out, struct err_info *ei);
CORRAL_WARN_UNUSED int model_f32_copy(const struct gguf_tensor *t, int64_t n, float **out,
                                      struct err_info *ei);
/* Copies every weight matrix out of the file mapping into one anonymous, read-only region
 * backed by transparent huge pages and points the matrices at it, dropping the file pages as
 * it goes (model_wcopy.c).  E_NOMEM when the region cannot be mapped (the model is unchanged
 * then). */
CORRAL_WARN_UNUSED int model_copy_weights(struct model *m, struct err_info *ei);
/* Unmaps the copy made by model_copy_weights (no-op without one). */
void model_wcopy_release(struct model *m);
/* Frees the model and closes its GGUF. */
void model_free(struct model *m);

/* cos/sin for positions: writes n_rot/2 (cos, sin) pairs of RoPE variant r for position pos
 * (may be negative: used for re-rotation by a delta). */
void model_rope_cs(const struct model *m, const struct model_rope *r, float pos, float *cs);
/* The global and sliding-window RoPE variants for a context of n_ctx positions per sequence
 * (LongRoPE picks its long factors above n_ctx_orig). */
void model_rope_for_ctx(const struct model *m, uint32_t n_ctx, struct model_rope out[2]);
/* Rotates one head vector x[head_dim] with a cos/sin table from model_rope_cs. */
void model_rope_apply(const struct model *m, float *x, const float *cs);

/* One batch for the forward pass (validated by the caller). */
struct model_batch {
    int n;
    const int32_t *tok;
    const int32_t *pos;
    const int32_t *seq;
    const int32_t *out_tok; /* [n_out] batch indexes whose logits are wanted */
    int n_out;
};

struct model_fwd {
    const struct model *m;
    struct kv_cache kv;
    struct pool *pool;
    int n_threads;
    int attn_simd;          /* F16 attention loops with AVX2/F16C */
    uint64_t par_min_bytes; /* batches reading less run on the caller alone */
    int single;             /* the running batch uses the caller only */
    uint32_t n_batch, n_out_max, n_ctx;
    uint32_t n_q, n_kv, n_qkv; /* n_head*hd, n_head_kv*hd, sum */
    size_t max_vrow;           /* bytes of the widest activation row */

    float *x;                /* [n_batch][n_embd] residual stream */
    float *qkv;              /* [n_batch][n_qkv] */
    float *att;              /* [n_batch][n_q] */
    float *tmp;              /* [n_batch][n_embd] */
    float *ff_g, *ff_u;      /* [n_batch][n_ff] */
    uint8_t *xq[3];          /* [n_batch][max_vrow] shared quantized activations */
    uint8_t **xq_local;      /* [n_threads] -> 3 x [FWD_LOCAL_TOK][max_vrow] */
    size_t max_prep;         /* bytes of the widest kern-prepared activation row (0: none) */
    uint8_t *xp[3];          /* [n_batch][max_prep] shared prepared activations, or NULL */
    uint8_t **xp_local;      /* [n_threads] -> 3 x [FWD_LOCAL_TOK][max_prep], or NULL */
    float **thr_f;           /* [n_threads] -> scores [sc_len] + row [max dim] */
    size_t sc_len;           /* gqa * n_ctx: attention scores of one GQA group */
    size_t vt_len;           /* floats after the scores: max dim (>= head_dim) */
    float *rope;             /* [n_batch][n_rot] cos/sin, global layers */
    float *rope_swa;         /* [n_batch][n_rot] cos/sin, sliding-window layers (or = rope) */
    struct model_rope rp[2]; /* global, sliding-window (model_rope_for_ctx) */
    float *rot_cs;           /* [2][n_rot] rotation of a context shift (model_fwd_shift_prep) */
    float *logits;           /* [n_out_max][n_vocab] */
    uint8_t *embd_row;       /* one token_embd row in the file layout when it is packed */
    atomic_int *chunk;       /* [n_phase_max] work counters */
    _Atomic uint32_t *done;  /* [n_phase_max] finished work items (matrix phases: rows) */
    _Atomic uint64_t *rgn;   /* [n_phase_max][n_threads] rows taken from the front (low 32
                              * bits) and back of each thread's region of a matrix phase */
    int n_phase_max;

    const struct model_batch *b; /* the batch being decoded */
    int (*abort_fn)(void *);
    void *abort_user;
    atomic_int aborted;
};

/* Sizes and allocates everything for a context (n_ctx positions per sequence, n_seq
 * sequences, n_batch tokens per call) and starts n_threads threads. */
CORRAL_WARN_UNUSED int model_fwd_init(struct model_fwd *f, const struct model *m, uint32_t n_ctx,
                                      uint32_t n_seq, uint32_t n_batch, int n_threads,
                                      uint32_t kv_type, struct err_info *ei);
void model_fwd_fini(struct model_fwd *f);
/* Runs the batch (positions/sequences already validated, KV lengths not yet advanced).
 * Logits of out_tok[i] land in f->logits + i * n_vocab.  E_CANCELLED when aborted. */
CORRAL_WARN_UNUSED int model_fwd_decode(struct model_fwd *f, const struct model_batch *b);
/* Context shift: prepares the rotation by delta positions, then re-rotates the n_head_kv heads
 * of one cached key row k of layer il with the layer's RoPE variant. */
void model_fwd_shift_prep(struct model_fwd *f, float delta);
void model_fwd_rerotate(const struct model_fwd *f, uint32_t il, float *k);

#endif
