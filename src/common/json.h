/*
 * json.h - thin helpers over jansson that make corral's JSON look like Ollama's (Go's
 * encoding/json): compact output, `<` `>` `&` escaped as \u003c \u003e \u0026, U+2028/U+2029
 * escaped, invalid UTF-8 replaced by U+FFFD, shortest round-trip numbers, object keys in
 * insertion order (Go struct field order) or sorted (Go maps), RFC 3339 timestamps with
 * nanoseconds as Go's time.RFC3339Nano prints them, NDJSON line emission, and typed field
 * getters whose errors read like Go's decoder messages.
 *
 * Ownership: encoders append to a caller-owned struct buf; json_t references follow jansson's
 * rules (getters return borrowed pointers).  Thread-safe (no shared state).
 */
#ifndef CORRAL_COMMON_JSON_H
#define CORRAL_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define JSON_GO_MAX_DEPTH 512 /* nesting accepted by the encoder */

enum json_go_flags {
    JSON_GO_SORT_KEYS = 1, /* emit object keys sorted (Go map) instead of insertion order */
};

/* Appends the Go-style encoding of v (compact, no trailing newline) to out.
 * E_RANGE when out's cap is hit or nesting exceeds JSON_GO_MAX_DEPTH. */
CORRAL_WARN_UNUSED int json_go_encode(const json_t *v, int flags, struct buf *out);
/* Appends s[0..n) as a quoted Go-style JSON string. */
CORRAL_WARN_UNUSED int json_go_string(const char *s, size_t n, struct buf *out);
/* Appends a number as Go prints float64 (bits 64) or float32 (bits 32) values. */
CORRAL_WARN_UNUSED int json_go_number(double v, int bits, struct buf *out);
/* Appends the encoding of v and a '\n' (one NDJSON line, as Go's json.Encoder writes). */
CORRAL_WARN_UNUSED int json_ndjson_line(const json_t *v, struct buf *out);
/* Encodes v as a NUL-terminated string with a trailing newline; caller owns *s (mem_free). */
CORRAL_WARN_UNUSED int json_go_dumps(const json_t *v, int flags, char **s, size_t *n);

/* Formats sec/nsec as Go's RFC3339Nano: trailing zeros of the fraction dropped (no fraction
 * when 0), `Z` when utc is 1, else the local offset `+hh:mm`.  out needs 40 bytes. */
void json_time_rfc3339nano(time_t sec, long nsec, int utc, char out[40]);
/* The same as a jansson string (new reference, NULL on OOM). */
json_t *json_time_new(time_t sec, long nsec, int utc);

/* Parses a request body of n bytes (need not be NUL-terminated); like Go's json.Decoder, bytes
 * after the first value are ignored.  Empty input gives E_INVAL
 * "missing request body"; malformed JSON E_PARSE with jansson's message and position; a top
 * level that is not an object E_PARSE.  Caller owns *out (json_decref). */
CORRAL_WARN_UNUSED int json_parse_object(const char *p, size_t n, json_t **out,
                                         struct err_info *ei);

/* Typed getters on an object field.  Absent or null fields return E_NOTFOUND and leave *out
 * untouched; a present field of another type returns E_INVAL with a Go-like message
 * ("json: cannot unmarshal number into Go struct field GenerateRequest.model of type string";
 * the struct name is the calling thread's json_set_go_struct, empty by default) in ei.
 * Strings are borrowed from obj. */
void json_set_go_struct(const char *name); /* static string or NULL; per thread */
const char *json_go_struct(void);          /* the current one, "" when none */
int json_get_str(const json_t *obj, const char *key, const char **out, struct err_info *ei);
int json_get_bool(const json_t *obj, const char *key, int *out, struct err_info *ei);
/* Integers: JSON numbers are accepted (reals truncated toward zero when in range). */
int json_get_int(const json_t *obj, const char *key, int64_t *out, struct err_info *ei);
int json_get_obj(const json_t *obj, const char *key, json_t **out, struct err_info *ei);
int json_get_arr(const json_t *obj, const char *key, json_t **out, struct err_info *ei);
/* The Go-decoder name of a value's type ("string", "number", "bool", "object", "array"). */
const char *json_type_name(const json_t *v);

#endif
