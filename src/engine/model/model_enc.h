/*
 * model_enc.h - encoder-only transformer models for embeddings (bert, nomic-bert) inside the
 * engine: weights validated from a GGUF file and the non-causal forward pass over one whole
 * sequence (model_enc.c).  Spec: ../shared/docs/inference-reference.md D.4 (bert, nomic-bert).
 *
 * Block (post-LN, as llama.cpp builds it):
 *   x0 = LayerNorm(tok_embd[t] + token_types[0] + pos_embd[p])   (pos_embd: bert only)
 *   a  = Wo . Attn(Wq x, Wk x, Wv x) + bo       (nomic-bert: RoPE NEOX on q and k; fused
 *                                                 attn_qkv allowed for both)
 *   h  = LayerNorm(x + a) . attn_output_norm
 *   f  = bert: Wdown . gelu(Wup h + bup) + bdown;  nomic-bert: Wdown . (silu(Wgate h) * Wup h)
 *   x' = LayerNorm(h + f) . layer_output_norm
 * No output norm; the hidden states of the last layer are pooled by the caller.  Attention is
 * bidirectional unless <arch>.attention.causal says true (llama.cpp's default when absent).
 * GELU is llama.cpp's: the tanh form looked up at the fp16-rounded input, result rounded to
 * fp16, identity above 10 and 0 below -10 (a 64K-entry table built at load).
 *
 * struct enc_model borrows the weight matrices from the mapped GGUF (owned: enc_free closes it)
 * and owns F32 copies of every 1-D tensor.  struct enc_fwd holds the scratch buffers and thread
 * pool of one context, all allocated in enc_fwd_init; enc_fwd_run allocates nothing.
 */
#ifndef CORRAL_ENGINE_MODEL_ENC_H
#define CORRAL_ENGINE_MODEL_ENC_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/model/model.h"

struct gguf;
struct kern;
struct pool;

enum enc_arch { ENC_ARCH_BERT = 1, ENC_ARCH_NOMIC_BERT = 2 };

struct enc_layer {
    struct model_mat wqkv; /* fused [n_q + 2 n_kv][n_embd] (wqkv.data NULL when split) */
    struct model_mat wq, wk, wv, wo;
    float *bqkv, *bq, *bk, *bv, *bo; /* biases or NULL */
    float *ln1_w, *ln1_b;            /* attn_output_norm [n_embd] */
    struct model_mat up, gate, down; /* gate: nomic-bert only */
    float *b_up, *b_down;            /* bert biases or NULL */
    float *ln2_w, *ln2_b;            /* layer_output_norm [n_embd] */
};

struct enc_model {
    struct gguf *g; /* owned */
    const struct kern *k;
    enum enc_arch arch;
    char arch_name[16];
    char name[128];
    char file_type[24];
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train, n_rot;
    float eps, rope_base;
    int causal;                /* <arch>.attention.causal (llama.cpp default: 1) */
    uint32_t pooling;          /* <arch>.pooling_type, 0 when absent */
    struct model_mat tok_embd; /* [n_vocab][n_embd] */
    struct model_mat pos_embd; /* [n_ctx_train][n_embd], bert only */
    float *type0;              /* token_types row 0 [n_embd] or NULL */
    float *tn_w, *tn_b;        /* token_embd_norm */
    struct enc_layer *layers;
    float *gelu; /* [65536] GELU of every fp16 value (bert) */
    uint64_t n_params, weight_bytes, bytes_per_token;
};

/* 1 when the GGUF's general.architecture is an encoder this file builds (bert, nomic-bert). */
int enc_is_encoder(const struct gguf *g);
/* Builds an encoder over an opened GGUF (tensors parsed); takes ownership of g on success.
 * Every tensor is checked for presence, shape, type and byte size.  Errors: E_UNSUPPORTED,
 * E_PARSE naming the key or tensor, E_NOMEM. */
CORRAL_WARN_UNUSED int enc_load(struct gguf *g, const struct kern *k, struct enc_model **out,
                                struct err_info *ei);
void enc_free(struct enc_model *m);

struct enc_fwd {
    const struct enc_model *m;
    struct pool *pool;
    int n_threads, nth; /* pool size; threads of the running pass */
    uint32_t n_max;     /* tokens one pass may hold */
    uint32_t n_q, n_kv, n_qkv;
    uint64_t par_min_bytes; /* passes reading fewer weight bytes x tokens run on the caller */
    size_t max_vrow;
    float *x;         /* [n_max][n_embd] hidden states (the result after enc_fwd_run) */
    float *h;         /* [n_max][n_embd] */
    float *qkv;       /* [n_max][n_qkv] */
    float *att;       /* [n_max][n_q] */
    float *ff_u;      /* [n_max][n_ff] */
    float *ff_g;      /* [n_max][n_ff] */
    uint8_t *xq;      /* [n_max][max_vrow] quantized activations */
    float *rope;      /* [n_max][n_rot] cos/sin (nomic-bert) */
    float *vt;        /* [n_kv][n_max] V transposed per layer */
    float *kt;        /* [n_kv][kt_stride] K transposed per layer (the AVX2 scores) */
    size_t kt_stride; /* n_max + 16 floats */
    int simd;         /* AVX2 attention and activation loops (model_attn_simd) */
    float **thr;      /* [n_threads] -> scores of a query block, or a row of n_embd */
    atomic_int *ctr;  /* [n_ctr] work counters of the shared steps of one pass */
    int n_ctr;
    int *ph; /* [n_threads] index of each thread's next shared step */
    const int32_t *tok;
    int n;
    int (*abort_fn)(void *);
    void *abort_user;
    atomic_int aborted;
};

CORRAL_WARN_UNUSED int enc_fwd_init(struct enc_fwd *f, const struct enc_model *m, uint32_t n_max,
                                    int n_threads, struct err_info *ei);
void enc_fwd_fini(struct enc_fwd *f);
/* Runs the encoder over tok[0..n) (ids checked by the caller, n <= n_max): the hidden states
 * of the last layer land in f->x (n rows of n_embd).  E_RANGE for a bad n, E_CANCELLED when the
 * abort hook fired. */
CORRAL_WARN_UNUSED int enc_fwd_run(struct enc_fwd *f, const int32_t *tok, int n);

#endif
