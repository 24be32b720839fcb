/*
 * log — see log.h.
 */
#include "lib/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static enum log_level log_min_level = LOG_LVL_INFO;
static int log_journal = 0;

void log_init(enum log_level min_level)
{
    log_min_level = min_level;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_min_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_journal) {
        fprintf(stderr, "<%d>%s\n", (int)level, line);
    } else {
        static const char *names[] = { [LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning",
                                       [LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug" };
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                names[level] ? names[level] : "log", line);
    }
}
