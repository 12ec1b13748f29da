/*
 * api_create.h - hooks of POST /api/create that other modules fill.
 *
 * When a model is created from a GGUF file without a TEMPLATE, Ollama derives one from the
 * GGUF's tokenizer.chat_template (a catalogue match) and adds its stop parameters.  That is the
 * template module's job: it registers a hook here (once, from a constructor or at start-up,
 * before the server runs).  Without a hook no template layer is written.
 */
#ifndef CORRAL_API_API_CREATE_H
#define CORRAL_API_API_CREATE_H

#include <jansson.h>

/* Given the GGUF blob path, returns 0 and a template text in *tmpl (caller owns, mem_free;
 * NULL = none) and optional default parameters in *params (new reference or NULL), or a
 * negative error code (the create then continues without a template).  *name may receive a
 * static string naming the detected template for the status line. */
typedef int (*api_template_hook_fn)(const char *gguf_path, char **tmpl, json_t **params,
                                    const char **name);

/* Registers the hook (the last call wins).  Not thread-safe: call before serving. */
void api_create_set_template_hook(api_template_hook_fn fn);

#endif
