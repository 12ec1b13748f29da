/*
 * log.h - leveled logging to stderr, one line per event:
 *   2026-12-04T21:10:50.123Z INFO  module: message key=value ...
 * The level comes from CORRAL_LOG (error|warn|info|debug) or OLLAMA_DEBUG (true or 1+ = debug).
 * Library code (engine) must not call these directly; it logs through a callback it is given.
 * Thread-safe.
 */
#ifndef CORRAL_COMMON_LOG_H
#define CORRAL_COMMON_LOG_H

enum log_level { LOG_LEVEL_ERR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern int log_level_current;

/* Reads CORRAL_LOG / OLLAMA_DEBUG; call once from main. */
void log_init_from_env(void);
void log_set_level(int level);
void log_write(int level, const char *module, const char *func, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#ifndef LOG_MODULE
#define LOG_MODULE "corral"
#endif

#define LOG_AT(lvl, ...)                                                   \
    do {                                                                   \
        if ((lvl) <= log_level_current)                                    \
            log_write((lvl), LOG_MODULE, __func__, __LINE__, __VA_ARGS__); \
    } while (0)
#define LOG_ERR(...)   LOG_AT(LOG_LEVEL_ERR, __VA_ARGS__)
#define LOG_WARN(...)  LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...)  LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
