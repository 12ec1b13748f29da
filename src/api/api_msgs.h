/*
 * api_msgs.h - two more client dialects as translations onto the native /api/chat handler, as
 * Ollama serves them (ollama-reference.md 1.9): the Anthropic Messages API (POST /v1/messages,
 * api_anthropic.c) and the stateless subset of the OpenAI Responses API (POST /v1/responses,
 * api_responses.c).  A request becomes a native /api/chat body; the native NDJSON lines (or the
 * final object) become the dialect's SSE events (`event: <type>\ndata: <json>\n\n`) or its
 * whole response object.  api_msgs_http.c holds the routes.
 *
 * Everything here is pure (no HTTP, no scheduler) so it is unit tested and fuzzed on its own.
 * Ownership: returned json_t values are new references owned by the caller; the conv structs
 * are caller-provided and hold at most the json_t references documented on them (released by
 * the *_fini functions).  Thread-safety: all functions are reentrant.
 */
#ifndef CORRAL_API_API_MSGS_H
#define CORRAL_API_API_MSGS_H

#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define MSGS_MAX_BLOCKS 4096 /* content blocks of one message / items of one input */
#define MSGS_MAX_STOPS  64   /* stop sequences of one request */

/* Appends "event: <type>\ndata: <Go-style JSON of v>\n\n". */
CORRAL_WARN_UNUSED int msgs_sse_event(const char *type, const json_t *v, struct buf *out);

/* ---- Anthropic Messages (/v1/messages) ---------------------------------------------------- */

/* The request as a native /api/chat body: system (string or text blocks) first, messages with
 * string or block content (text, tool_use -> assistant tool_calls, tool_result -> tool
 * messages, thinking -> thinking; image blocks are refused: no vision encoder), max_tokens ->
 * num_predict, temperature/top_p/top_k, stop_sequences -> stop, tools (input_schema ->
 * parameters), tool_choice none -> no tools, thinking enabled/disabled -> think,
 * output_config.format / output_format json_schema -> format.  *est gets a
 * rough input token estimate (bytes / 4) for message_start.  E_INVAL with Ollama's message
 * ("model is required", "max_tokens is required and must be positive", "messages is required",
 * ...) on bad input. */
CORRAL_WARN_UNUSED int ant_request(const json_t *in, json_t **out, int64_t *est,
                                   struct err_info *ei);

/* POST /v1/messages/count_tokens (Claude Code probes it): the same request without max_tokens;
 * *n gets the estimate ant_request makes (bytes / 4, as Ollama's), not a tokenizer count.
 * Errors as ant_request. */
CORRAL_WARN_UNUSED int ant_count_tokens(const json_t *in, int64_t *n, struct err_info *ei);

/* {"type":"error","error":{"type":<by status>,"message"},"request_id":"req_..."}: 400
 * invalid_request_error, 401 authentication_error, 403 permission_error, 404 not_found_error,
 * 429 rate_limit_error, 503/529 overloaded_error, else api_error. */
json_t *ant_error_body(int status, const char *msg);

/* Per-response state of the native -> Anthropic translation. */
struct ant_conv {
    char id[40];       /* "msg_" + 24 hex digits */
    char model[256];   /* as requested */
    int64_t est_input; /* message_start usage before the real count is known */
    int started;       /* message_start sent */
    int index;         /* index of the current / next content block */
    int thinking_open; /* a thinking block is open */
    int text_open;     /* a text block is open */
    int tool_sent;     /* a tool_use block was sent (stop_reason tool_use) */
    int done;          /* message_stop sent */
};

void ant_conv_init(struct ant_conv *c, const char *model, int64_t est_input);

/* Appends the SSE events for one native stream line: message_start (+ ping) first, thinking /
 * text blocks with their deltas, each tool call as a tool_use block with one input_json_delta,
 * and on the final line the closing content_block_stop, message_delta (stop_reason, usage) and
 * message_stop.  A native {"error":...} line becomes one `error` event.  E_PARSE when the line
 * is not an object. */
CORRAL_WARN_UNUSED int ant_conv_line(struct ant_conv *c, const json_t *native, struct buf *out);

/* The whole message object for a native final object. */
json_t *ant_conv_final(const struct ant_conv *c, const json_t *native);

/* ---- OpenAI Responses (/v1/responses) ----------------------------------------------------- */

/* The request as a native /api/chat body: instructions -> system message, input string -> user
 * message, input items (messages with string or input_text/output_text parts, function_call ->
 * assistant tool_calls, function_call_output -> tool message, reasoning -> thinking of the next
 * assistant message), tools (flat function tools; nameless hosted tools skipped), temperature
 * (default 1), top_p,
 * max_output_tokens -> num_predict, text.format json_schema -> format (json_object -> "json"),
 * reasoning.effort -> think.  previous_response_id / conversation / background are 400 (corral
 * keeps no state), as are input_image / input_file parts. */
CORRAL_WARN_UNUSED int rsp_request(const json_t *in, json_t **out, struct err_info *ei);

/* Per-response state of the native -> Responses translation.  req is a reference to the
 * original request (echoed fields of the response object); text / think accumulate the
 * streamed output; calls holds the finished function_call items. */
struct rsp_conv {
    char id[40];      /* "resp_" + 24 hex digits */
    char msg_id[40];  /* "msg_" + 24 hex digits */
    char rs_id[40];   /* "rs_" + 24 hex digits */
    int64_t created;  /* unix seconds */
    int64_t seq;      /* sequence_number of the next event */
    int out_index;    /* output_index of the current / next item */
    int reasoning;    /* 1 open, 2 done */
    int text_open;    /* the message item is open */
    int started;      /* response.created sent */
    int done;         /* the final event was sent */
    json_t *req;      /* the request (reference) */
    json_t *calls;    /* finished function_call items */
    struct buf text;  /* output text so far */
    struct buf think; /* reasoning text so far */
};

void rsp_conv_init(struct rsp_conv *c, const json_t *req);
void rsp_conv_fini(struct rsp_conv *c);

/* Appends the SSE events for one native stream line (response.created / in_progress first,
 * reasoning, message and function_call items with their deltas; on the final line the done
 * events and response.completed, or response.incomplete when the native done_reason is
 * length).  A native {"error":...} line becomes one `error` event.  E_PARSE when the line is
 * not an object. */
CORRAL_WARN_UNUSED int rsp_conv_line(struct rsp_conv *c, const json_t *native, struct buf *out);

/* The whole response object for a native final object. */
json_t *rsp_conv_final(struct rsp_conv *c, const json_t *native);

/* {"error":{"message","type","param":null,"code":null}} as OpenAI's other routes. */
json_t *rsp_error_body(int status, const char *msg);

#endif
