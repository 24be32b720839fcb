/*
 * log — one line per event on stderr.
 *
 * Under systemd (JOURNAL_STREAM set) lines carry the sd-daemon priority
 * prefix ("<3>", "<4>", "<6>", "<7>") so journald files them at the right
 * level; on a terminal they carry a UTC timestamp and a level word instead.
 * The minimum level is process-wide and set once at start-up: the only
 * mutable global outside signal flags, set before any thread starts.
 * Never pass secrets to these functions.
 */
#ifndef FLOE_LOG_H
#define FLOE_LOG_H

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_init(enum log_level min_level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
