/*
 * api_modelfile.h - Ollama's Modelfile: the parser (FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE,
 * LICENSE, REQUIRES; ADAPTER/DRAFT/RENDERER/PARSER refused as unsupported), the table of known
 * PARAMETER names and types (shared with /api/create and request options), the conversion of
 * a parsed Modelfile into an /api/create request, and the quoting rule used when printing one
 * (`corral show --modelfile`).  Spec: ollama-reference.md 6.1 and 1.1.
 *
 * Ownership: api_modelfile_parse fills a caller-provided struct released with
 * api_modelfile_fini; JSON results are new references.  Thread-safe (no shared state).
 */
#ifndef CORRAL_API_API_MODELFILE_H
#define CORRAL_API_API_MODELFILE_H

#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"

#define API_MF_MAX_BYTES    (4u << 20) /* a Modelfile larger than this is refused */
#define API_MF_MAX_COMMANDS 4096

enum api_param_type {
    API_PARAM_INT,
    API_PARAM_FLOAT,
    API_PARAM_BOOL,
    API_PARAM_STRING,
    API_PARAM_STRINGS, /* list; Modelfile lines accumulate (stop) */
};

struct api_param {
    const char *name;
    enum api_param_type type;
    int deprecated; /* accepted with a warning and dropped */
};

/* The known option, or NULL. */
const struct api_param *api_param_find(const char *name);
/* Converts a Modelfile PARAMETER value to its typed JSON value (floats as float32, like
 * Ollama).  E_INVAL with a message for unknown names or values of the wrong type. */
CORRAL_WARN_UNUSED int api_param_from_text(const char *name, const char *text, json_t **out,
                                           struct err_info *ei);
/* Checks a JSON parameters object (create request / options): unknown names and wrong types
 * are E_INVAL ("unknown parameter 'x'", "option \"x\" must be of type integer"). */
CORRAL_WARN_UNUSED int api_params_check(const json_t *params, struct err_info *ei);

struct api_mf_cmd {
    char name[16]; /* lowercase instruction: from, parameter, template, ... */
    char *key;     /* PARAMETER name or MESSAGE role, else NULL */
    char *args;    /* the value (quotes removed) */
    int line;      /* 1-based line of the instruction */
};

struct api_modelfile {
    struct api_mf_cmd *cmds;
    size_t n;
    char warnings[512]; /* deprecated parameters seen, "" if none */
};

/* Parses Modelfile text p[0..n).  Errors (E_PARSE / E_INVAL / E_UNSUPPORTED / E_RANGE) carry a
 * message with the line: "(line 3): command must be one of ...", "unexpected EOF",
 * "no FROM line", "unknown parameter 'x'", "ADAPTER is not supported yet". */
CORRAL_WARN_UNUSED int api_modelfile_parse(const char *p, size_t n, struct api_modelfile *out,
                                           struct err_info *ei);
void api_modelfile_fini(struct api_modelfile *mf);
/* The FROM value (the last FROM wins), or NULL. */
const char *api_modelfile_from(const struct api_modelfile *mf);
/* Adds template, system, license, parameters and messages of mf to an /api/create request
 * object (the caller sets model, files/from). */
CORRAL_WARN_UNUSED int api_modelfile_to_request(const struct api_modelfile *mf, json_t *req,
                                                struct err_info *ei);
/* Appends s quoted as Ollama prints Modelfile values: `"""s"""` when it has a newline or edge
 * space and a `"`, `"s"` when it has a newline or edge space, else bare. */
CORRAL_WARN_UNUSED int api_modelfile_quote(const char *s, struct buf *out);

#endif
