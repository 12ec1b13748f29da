/*
 * template.h - chat prompt templates: the subset of Go text/template that Ollama's templates use,
 * evaluated over jansson JSON values, plus Ollama's rendering algorithm and built-in catalogue.
 *
 * Data model.  A template sees JSON values.  A field `.Name` on a JSON object looks up the key
 * "Name" first, then its snake_case form ("ToolCalls" -> "tool_calls", "ToolCallID" ->
 * "tool_call_id", "ID" -> "id", "Role" -> "role"), so messages and tools can be passed in the
 * Ollama API's own JSON form.  A missing key is the zero value (prints "", is false), as with
 * Go's missingkey=zero on Ollama's structs.  Objects print as Go JSON (compact, `<>&` escaped,
 * map keys sorted; tools, tool functions and parameter schemas in Ollama's fixed field order), so
 * `{{ . }}` over .Tools and `{{ .Function.Arguments }}` render exactly like Ollama's.
 *
 * A parsed template is immutable: rendering one struct tmpl from several threads at once is safe.
 * Everything else: not thread-safe.  Spec: docs/internals/template.md.
 */
#ifndef CORRAL_TEMPLATE_TEMPLATE_H
#define CORRAL_TEMPLATE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define TMPL_MAX_SRC    (1u << 20)  /* largest template text accepted, bytes */
#define TMPL_MAX_OUTPUT (16u << 20) /* cap on one render's output, bytes */
#define TMPL_MAX_DEPTH  64          /* nesting of blocks / parentheses / template calls */
#define TMPL_MAX_STEPS  (4u << 20)  /* evaluation steps per render (bounds range loops) */

struct tmpl;

/* Parse flags (tmpl_parse_ex). */
enum {
    /* Ollama's Parse touch-up: if the template references neither .Messages nor .Response,
     * append `{{ .Response }}` at the end.  tmpl_parse sets this. */
    TMPL_PARSE_APPEND_RESPONSE = 1 << 0,
    /* Legacy final turn: cut everything after the first node that references .Response (the
     * field itself is kept) as Ollama does for the generation prompt. */
    TMPL_PARSE_CUT_AT_RESPONSE = 1 << 1,
};

/*
 * Parses template text src[0..n) (need not be NUL-terminated) with TMPL_PARSE_APPEND_RESPONSE.
 * On success *out owns a new template (free with tmpl_free).  On error returns E_PARSE (or
 * E_RANGE / E_NOMEM) and fills ei with a message "template:LINE:COL: ..." and ei->line/col.
 */
int tmpl_parse(const char *src, size_t n, struct tmpl **out, struct err_info *ei);

/* tmpl_parse with explicit TMPL_PARSE_* flags (0 = plain Go text/template semantics). */
int tmpl_parse_ex(const char *src, size_t n, unsigned flags, struct tmpl **out,
                  struct err_info *ei);

/* Frees a template; NULL is fine. */
void tmpl_free(struct tmpl *t);

/*
 * Executes t with `.` = data (any JSON value, normally an object with Ollama's template
 * variables: System, Prompt, Response, Suffix, Messages, Tools, Think, ThinkLevel, IsThinkSet),
 * appending the output to out.  Returns 0, or E_INVAL (execution error, e.g. comparing an int
 * with a string; message in ei), E_RANGE (output over TMPL_MAX_OUTPUT or out->max, or too many
 * steps / too deep).  On error out may hold partial output.
 */
int tmpl_render(const struct tmpl *t, const json_t *data, struct buf *out, struct err_info *ei);

/* Whether the template references .Messages (the modern multi-turn form). */
bool tmpl_uses_messages(const struct tmpl *t);

/* Whether any field chain in the template names `name` (case-insensitive, as Ollama's Vars). */
bool tmpl_uses_field(const struct tmpl *t, const char *name);

/*
 * The text that opens a tool call in model output, as Ollama infers it: the first non-blank
 * text inside the template's `{{ if .ToolCalls }}` branch, cut before the first '{' and
 * trimmed; "{" when there is none (then only output starting with '{' is parsed as a call).
 * Writes a NUL-terminated string of at most cap-1 bytes to out.
 */
void tmpl_tool_call_tag(const struct tmpl *t, char *out, size_t cap);

/*
 * The tags around thinking text, as Ollama infers them: for a `.Thinking` inside a range over
 * .Messages, the first and last text (trimmed) of the list holding it.  Empty strings when the
 * template has none.  Writes NUL-terminated strings of at most ocap-1 / ccap-1 bytes.
 */
void tmpl_thinking_tags(const struct tmpl *t, char *open, size_t ocap, char *close, size_t ccap);

/*
 * Ollama's Template.Execute: renders a whole chat the way /api/chat and /api/generate do.
 * `values` is an object with "Messages" (array of API messages: {"role","content",
 * "thinking","tool_calls","tool_name",...}), optional "Tools" (API tools array), "Prompt",
 * "Suffix", "Think", "ThinkLevel", "IsThinkSet".  Steps: FIM when Prompt and Suffix are both
 * non-empty; else messages are collated (consecutive same-role merged with "\n\n", system
 * contents joined into .System) and, if the template uses .Messages, rendered once; otherwise
 * the legacy per-turn walk over .System/.Prompt/.Response (the last turn cut at .Response).
 * `src`/`n` is the template text (the legacy path needs a second, cut parse of it).
 */
int tmpl_execute(const char *src, size_t n, const json_t *values, struct buf *out,
                 struct err_info *ei);

/* A built-in template from Ollama's catalogue (embedded in the binary). */
struct tmpl_builtin {
    const char *name;   /* catalogue name, e.g. "chatml" */
    const char *text;   /* Go template text (.gotmpl) */
    const char *params; /* default parameters JSON, e.g. {"stop":["<|im_start|>","<|im_end|>"]} */
};

/*
 * Matches a GGUF tokenizer.chat_template (Jinja text) against the catalogue's index as Ollama
 * does (closest entry by Levenshtein distance over code points, accepted when < 100).  Returns
 * the entry (static storage) or NULL when nothing is close enough.
 */
const struct tmpl_builtin *tmpl_builtin_for_chat_template(const char *jinja);

/* Looks a built-in template up by catalogue name; NULL when unknown. */
const struct tmpl_builtin *tmpl_builtin_get(const char *name);

/* The catalogue: *n gets the number of entries (20). */
const struct tmpl_builtin *tmpl_builtin_all(size_t *n);

#endif
