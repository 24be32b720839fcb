/*
 * util — small helpers every module uses: error formatting, durations,
 * wall/monotonic time, RFC 3339, secret files, bounded string copies,
 * UTF-8 checks.
 *
 * Nothing here keeps state. Time-reading functions (util_now_ms,
 * util_mono_ms) are the only ones that touch the clock; logic modules take
 * time as an argument instead of calling them.
 */
#ifndef FLOE_UTIL_H
#define FLOE_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Formats into err (if non-NULL) and returns -1, so error paths read
 * `return errf(err, errlen, "...", ...);`. */
int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies src into dst (size n), always NUL-terminated. Returns 0, or -1 if
 * src was truncated. */
int util_strlcpy(char *dst, const char *src, size_t n);

/* strdup that aborts on allocation failure: used for small strings whose
 * loss would leave nothing sensible to do. NULL in gives NULL out. */
char *util_strdup(const char *s);

/* Wall-clock milliseconds since the Unix epoch. */
int64_t util_now_ms(void);
/* Monotonic milliseconds (for intervals and deadlines). */
int64_t util_mono_ms(void);
/* Sleeps ms (monotonic); returns early (0) as soon as *stop is set with
 * util_stop_set, 1 if the full time elapsed. The thread sleeps in the
 * kernel (a futex on *stop): no wake-up before then. stop may be NULL
 * (then nothing ends the sleep early). */
int util_sleep_ms(int64_t ms, atomic_int *stop);
/* Sets *stop to 1 and wakes every util_sleep_ms waiting on it. A flag
 * that a sleeper waits on must be set this way: a plain store is seen
 * only when the sleep ends on its own. */
void util_stop_set(atomic_int *stop);
/* Initialises c so that its timed waits are measured on CLOCK_MONOTONIC:
 * a thread can then wait for its real deadline in one
 * pthread_cond_timedwait (a wall-clock step neither stretches nor cuts
 * it) instead of waking in short slices to check the monotonic clock. */
void util_cond_init_mono(pthread_cond_t *c);
/* The monotonic time mono_ms (util_mono_ms's scale) as the absolute
 * timespec such a condition variable waits for. */
struct timespec util_mono_timespec(int64_t mono_ms);

/* Durations: "500ms", "5s", "2m", "1h", "1d" (a number with one unit;
 * decimals allowed: "1.5s"; no sign, blank, exponent or hex), rounded to
 * the nearest ms, at most 9e15 ms. Returns 0 or -1 with a message in err
 * (*out_ms untouched). */
int util_parse_duration_ms(const char *s, int64_t *out_ms, char *err, size_t errlen);
/* Formats a duration compactly ("2m", "1500ms"). */
void util_format_duration(int64_t ms, char *buf, size_t n);

/* RFC 3339 UTC with seconds ("2026-11-25T10:49:07Z"); milliseconds are
 * added only when non-zero ("...07.250Z"). buf needs 32 bytes. */
void util_format_rfc3339(int64_t ms, char *buf, size_t n);
/* Accepts RFC 3339 ("2026-01-31T12:00:00Z"; T, t or a space between date
 * and time; Z, z or a ±hh:mm offset; years 0000-9999; days checked
 * against the month, leap years included; a :60 leap second reads as the
 * next second), or Unix seconds as plain decimal "[-]digits[.digits]"
 * (at most 1e13). A fraction keeps its first three digits (milliseconds);
 * finer ones are dropped. Returns 0, or -1 (*out_ms untouched). */
int util_parse_time_ms(const char *s, int64_t *out_ms);

/* Reads a secret file and trims surrounding white space. Returns a new
 * string (caller frees) or NULL with err filled. */
char *util_read_secret_file(const char *path, char *err, size_t errlen);
/* Reads a whole file. Returns a new NUL-terminated buffer (caller frees),
 * length in *len if len != NULL; NULL with err filled on failure ("PATH:
 * reason"; for EACCES with who was refused and why, see perm.h). */
char *util_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* Constant-time comparison of two NUL-terminated strings (for tokens). */
bool util_secret_equal(const char *a, const char *b);

/* Metric names: [a-z0-9_]+ segments joined by '.'. */
bool util_metric_name_valid(const char *name);

/* UTF-8 (RFC 3629): the length of the well-formed sequence at p, of at
 * most avail bytes (no overlong forms, no surrogates, nothing past
 * U+10FFFF), 0 when there is none. */
size_t util_utf8_len(const char *p, size_t avail);
/* Replaces each byte of s that is not part of a well-formed UTF-8
 * sequence with '?', in place: text from outside (or cut short by a
 * bounded copy) stays UTF-8 when it goes into a JSON answer. */
void util_utf8_sanitize(char *s);

#endif
