/*
 * kube_token — the bearer token floe presents to its Kubernetes API
 * server: inline (it never changes) or from a file that is read again
 * every KUBE_TOKEN_REREAD_MS. A pod's projected service account token is
 * rotated by the kubelet (about hourly) and the old one expires, so a
 * token read once at start would stop working; client-go re-reads it
 * every minute, and so does floe.
 *
 * Time comes in as an argument (monotonic milliseconds) so the re-read
 * schedule is testable. A re-read that fails keeps the token read before
 * (a file caught in the middle of its atomic swap, a short I/O error) and
 * says so; only a token that was never read is an error.
 *
 * Thread-safe: one lock around the value and the schedule; the file is
 * read outside it.
 */
#ifndef FLOE_KUBE_TOKEN_H
#define FLOE_KUBE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KUBE_TOKEN_REREAD_MS 60000

struct kube_token;

/* A token source: `value` is the token as known now (may be NULL when a
 * file is given: it is read at the first use), `file` the file to re-read
 * (NULL: value is inline and never changes). now_ms is when value was
 * read. Both strings are copied. NULL when out of memory or given
 * neither. */
struct kube_token *kube_token_new(const char *value, const char *file, int64_t now_ms);
/* Wipes the token; NULL is a no-op. */
void kube_token_free(struct kube_token *t);

/* The token to send at now_ms, re-reading the file first when the last
 * read is KUBE_TOKEN_REREAD_MS old (or force is set). Returns 0 with a
 * new copy in *out (wipe and free it), 1 with the previous token in *out
 * when the re-read failed (why in warn), -1 when there is no token at all
 * (why in warn). */
int kube_token_get(struct kube_token *t, int64_t now_ms, bool force, char **out, char *warn,
                   size_t warnlen);

/* The file the token comes from, NULL for an inline token. */
const char *kube_token_file(const struct kube_token *t);

#endif
