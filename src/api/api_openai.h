/*
 * api_openai.h - the OpenAI-compatible API (/v1/...) as a translation layer over the native
 * handlers, as Ollama does it (ollama-reference.md 1.9): an OpenAI request is translated into a
 * native /api/chat or /api/generate body, the native handler runs unchanged, and its NDJSON
 * lines (or final object) are translated back into OpenAI objects and `data: ...` SSE events.
 *
 * This header exposes the pure translation functions (no HTTP, no scheduler) so they are unit
 * tested and fuzzed on their own; api_openai_http.c holds the routes.
 *
 * Ownership: returned json_t values are new references owned by the caller; struct oai_conv is
 * caller-provided and holds no allocations.  Thread-safety: all functions are reentrant.
 */
#ifndef CORRAL_API_API_OPENAI_H
#define CORRAL_API_API_OPENAI_H

#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define OAI_MAX_PARTS        1024        /* content parts in one message */
#define OAI_MAX_STOPS        64          /* stop strings in one request (the runner caps further) */
#define OAI_MAX_IMAGE_B64    (32u << 20) /* bytes of one base64 image data URI payload */
#define OAI_MAX_EMBED_INPUTS 2048        /* inputs of one embeddings request */

enum oai_kind { OAI_CHAT = 1, OAI_COMPLETION = 2, OAI_EMBED = 3 };

/* Translates an OpenAI chat.completions request into a native /api/chat body (model, messages,
 * format, options, stream, tools, think).  E_INVAL with Ollama's message in ei on bad input
 * ("[] is too short - 'messages'", "invalid message format", "invalid tool call arguments",
 * Go decoder messages for wrong field types). */
CORRAL_WARN_UNUSED int oai_chat_request(const json_t *in, json_t **out, struct err_info *ei);

/* Translates an OpenAI completions request into a native /api/generate body (model, prompt,
 * suffix, options, stream).  E_INVAL as above. */
CORRAL_WARN_UNUSED int oai_completion_request(const json_t *in, json_t **out, struct err_info *ei);

/* {"error":{"message","type","param":null,"code":null}}; type by status: 400
 * invalid_request_error, 404 not_found_error, else api_error. */
json_t *oai_error_body(int status, const char *msg);

/* Per-response state of the native -> OpenAI translation. */
struct oai_conv {
    enum oai_kind kind;
    char id[32];       /* "chatcmpl-<n>" / "cmpl-<n>" */
    int64_t created;   /* unix seconds, the same for a whole stream */
    int include_usage; /* stream_options.include_usage */
    int tool_sent;     /* a tool call was streamed (finish_reason becomes tool_calls) */
    int done;          /* the native done line was seen */
    int64_t text_off;  /* completions: characters streamed so far (logprobs text_offset) */
};

/* Initialises c with a fresh id ("chatcmpl-"/"cmpl-" + 0..998) and the current time. */
void oai_conv_init(struct oai_conv *c, enum oai_kind kind, int include_usage);

/* Appends the SSE events ("data: <json>\n\n") for one native stream line to out: content /
 * reasoning / tool-call chunks, and on the final line the finish chunk and (include_usage) the
 * usage chunk.  A native {"error":...} line becomes one OpenAI error event.  E_PARSE when the
 * line is not an object. */
CORRAL_WARN_UNUSED int oai_conv_line(struct oai_conv *c, const json_t *native, struct buf *out);

/* The whole (non-streamed) OpenAI object for a native final object. */
json_t *oai_conv_final(const struct oai_conv *c, const json_t *native);

/* Appends "data: <Go-style JSON of v>\n\n". */
CORRAL_WARN_UNUSED int oai_sse_event(const json_t *v, struct buf *out);

/* ---- embeddings (api_embed.c) ---- */

/* The "input" of /api/embed as a new array of strings: a string gives [s] ("" gives []), an
 * array must hold only strings, absent/null gives [].  E_INVAL "invalid input type" otherwise,
 * E_RANGE over OAI_MAX_EMBED_INPUTS. */
CORRAL_WARN_UNUSED int api_embed_inputs(const json_t *input, json_t **out, struct err_info *ei);

/* Truncates v to dims values (dims <= 0 or >= *n: all kept; *n updated) and L2-normalises it in
 * place (an all-zero vector stays zero).  E_RANGE when a value is NaN or infinite. */
CORRAL_WARN_UNUSED int api_embed_normalize(float *v, size_t *n, int64_t dims);

/* Appends standard base64 (with padding) of v as little-endian float32 bytes. */
CORRAL_WARN_UNUSED int api_embed_b64(const float *v, size_t n, struct buf *out);

/* The /v1/embeddings list for a native /api/embed response: data[{object, embedding (floats or
 * base64 when b64), index}], model (as requested), usage {prompt_tokens, total_tokens}. */
json_t *oai_embed_list(const json_t *native, const char *model, int b64);

/* The /v1/embeddings request as a native /api/embed body (model, input, dimensions).  "" becomes
 * [""]; absent, null or [] is E_INVAL "invalid input". */
CORRAL_WARN_UNUSED int oai_embed_request(const json_t *in, json_t **out, struct err_info *ei);

#endif
