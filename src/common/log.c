/*
 * log.c - the single log sink (see log.h).  Each line is formatted into a local buffer and
 * written with one write(2) so concurrent threads never interleave within a line.
 */
#include "common/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_level_current = LOG_LEVEL_INFO;

void log_set_level(int level)
{
    log_level_current = level;
}

void log_init_from_env(void)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    const char *v = getenv("CORRAL_LOG");
    const char *d = getenv("OLLAMA_DEBUG");
    char s[32] = "";
    size_t a = 0, b = d ? strlen(d) : 0;
    /* envconfig.LogLevel: spaces and quotes stripped; ParseBool true or a positive integer
     * (Ollama: 1 debug, 2 trace) means debug; anything else keeps info */
    while (a < b && (isspace((unsigned char)d[a]) || d[a] == '"' || d[a] == '\''))
        a++;
    while (b > a && (isspace((unsigned char)d[b - 1]) || d[b - 1] == '"' || d[b - 1] == '\''))
        b--;
    if (d && b - a < sizeof(s))
        snprintf(s, sizeof(s), "%.*s", (int)(b - a), d + a);
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!strcmp(s, yes[i]))
            log_level_current = LOG_LEVEL_DEBUG;
    if (*s && strspn(s, "0123456789") == strlen(s) && strtol(s, NULL, 10) > 0)
        log_level_current = LOG_LEVEL_DEBUG;
    if (!v)
        return;
    if (!strcmp(v, "error"))
        log_level_current = LOG_LEVEL_ERR;
    else if (!strcmp(v, "warn"))
        log_level_current = LOG_LEVEL_WARN;
    else if (!strcmp(v, "info"))
        log_level_current = LOG_LEVEL_INFO;
    else if (!strcmp(v, "debug"))
        log_level_current = LOG_LEVEL_DEBUG;
}

void log_write(int level, const char *module, const char *func, int line, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000L,
                 names[level < 0   ? 0
                       : level > 3 ? 3
                                   : level],
                 module);
    if (k > 0)
        n += (size_t)k < sizeof(buf) - n ? (size_t)k : sizeof(buf) - n - 1;
    va_start(ap, fmt);
    k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    if (k > 0)
        n += (size_t)k < sizeof(buf) - n ? (size_t)k : sizeof(buf) - n - 1;
    if (level >= LOG_LEVEL_DEBUG && n < sizeof(buf) - 40) {
        k = snprintf(buf + n, sizeof(buf) - n, " (%s:%d)", func, line);
        if (k > 0)
            n += (size_t)k < sizeof(buf) - n ? (size_t)k : sizeof(buf) - n - 1;
    }
    if (n >= sizeof(buf) - 1)
        n = sizeof(buf) - 2;
    buf[n++] = '\n';
    if (write(STDERR_FILENO, buf, n) < 0) {
        /* nowhere left to report it */
    }
}
