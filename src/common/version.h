/* version.h - the version corral reports (as Ollama's /api/version and --version do). */
#ifndef CORRAL_COMMON_VERSION_H
#define CORRAL_COMMON_VERSION_H
#define CORRAL_VERSION "0.1.0"
/* The Ollama release whose API and CLI corral matches (../shared/docs/ollama-reference.md: HEAD
 * after v0.33.0-rc2).  /api/version reports it as "version", so clients that gate features on
 * Ollama's version (tools, structured outputs, thinking; Modelfile REQUIRES) see the API they
 * get; corral's own version rides along as "corral_version" and in `corral -v`. */
#define CORRAL_OLLAMA_VERSION "0.33.0"
#endif
