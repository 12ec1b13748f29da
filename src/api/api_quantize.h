/*
 * api_quantize.h - the `quantize` field of /api/create: which target types are accepted, which
 * source types may be quantized, and the rewrite of a model layer into a new quantized blob.
 *
 * Ownership: no heap results.  Thread-safety: reentrant; the caller holds the api write lock
 * around api_quantize_layer (it adds a blob to the store).
 */
#ifndef CORRAL_API_API_QUANTIZE_H
#define CORRAL_API_API_QUANTIZE_H

#include <stdint.h>

#include "common/err.h"

struct store;
struct api_resp;

#define API_QUANT_NAME_MAX 16 /* longest accepted type name, e.g. "Q4_K_M" */

/* Parses a requested type ("q4_K_M", "Q8_0", "q4_k" ...) as Ollama does (upper-cased; "Q4_K"
 * means Q4_K_M).  Ollama's set (F32 F16 BF16 Q8_0 Q4_K_S Q4_K_M) plus the other types the
 * engine's quantizer writes.  On success *ftype is the llama file type and canon (16 bytes) the
 * upper-case name.  E_INVAL with Ollama's "unsupported quantization type ..." message in ei. */
CORRAL_WARN_UNUSED int api_quantize_type(const char *name, uint32_t *ftype, char *canon,
                                         struct err_info *ei);

/* 1 when a model whose file type reads src_type ("F16", "Q4_0" ...) may be quantized: only
 * F16, BF16 and F32 (Ollama's rule), else 0. */
int api_quantize_source_ok(const char *src_type);

/* Quantizes the GGUF file src_path (file type src_type, size src_size bytes) to ftype into a
 * temp file in the store's blobs/ directory, then adds it to the store as a blob.  Streams
 * Ollama's progress lines on resp ("quantizing F16 model to Q8_0" with digest 000..., total and
 * completed; then "verifying conversion").  digest_out gets "sha256:<hex>", *size_out its size.
 * E_UNSUPPORTED/E_INVAL/E_IO/E_NOMEM with detail in ei; the temp file is always removed. */
CORRAL_WARN_UNUSED int api_quantize_layer(struct store *st, struct api_resp *resp,
                                          const char *src_path, const char *src_type,
                                          uint64_t src_size, uint32_t ftype, const char *canon,
                                          char digest_out[72], uint64_t *size_out,
                                          struct err_info *ei);

#endif
