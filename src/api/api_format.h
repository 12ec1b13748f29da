/*
 * api_format.h - the `format` field of /api/generate and /api/chat (and OpenAI response_format,
 * mapped to it) turned into a grammar for the runner's sampler (engine/gram, GBNF subset).
 *
 *   absent, null, ""   no grammar
 *   "json"             any JSON object (Ollama's JSON mode)
 *   {schema}           JSON Schema: type object (properties in the schema's order, required,
 *                      additionalProperties: false unless given when properties exist, any
 *                      object when there are none), array (items, minItems, maxItems), string
 *                      (minLength, maxLength), number, integer, boolean, null, type lists,
 *                      enum and const of any type, anyOf/oneOf, $ref to #/$defs/... and
 *                      #/definitions/... (or any JSON pointer into the schema, recursion
 *                      allowed), nesting; other keywords are ignored.
 *   anything else      E_INVAL "invalid format: ...; expected \"json\" or a valid JSON Schema"
 *
 * Whitespace between tokens is bounded (one space, or a newline and up to 20 blanks), numbers
 * have at most 16 integer and 16 fraction digits, and the value ends right after its last
 * character, so a model is driven to end-of-generation once the value is complete.  The text is
 * compiled once here (gram_compile) so a schema that cannot become a grammar (caps, left
 * recursion through $ref) is a 400 before any model is loaded.
 *
 * Ownership: *gbnf is caller-owned (mem_free).  Reentrant.
 */
#ifndef CORRAL_API_API_FORMAT_H
#define CORRAL_API_API_FORMAT_H

#include <jansson.h>

#include "common/err.h"

#define API_FORMAT_MAX_DEPTH 64         /* schema nesting followed */
#define API_FORMAT_MAX_TEXT  (1u << 20) /* bytes of generated grammar */

/* The grammar text for a request's format value (NULL in *gbnf when there is none). */
CORRAL_WARN_UNUSED int api_format_grammar(const json_t *format, char **gbnf, struct err_info *ei);
/* The JSON-schema converter alone (no compile check); for tests and fuzzing. */
CORRAL_WARN_UNUSED int api_format_schema(const json_t *schema, char **gbnf, struct err_info *ei);

#endif
