/*
 * strbuf — a growing text buffer: appends and printf, always
 * NUL-terminated, grown through lib/vec.
 *
 * Out of memory (or a size past size_t) sets `failed` and every later call
 * does nothing, so a writer appends freely and checks once at the end.
 * The buffer owns `data`; strbuf_take hands it over, strbuf_free drops it.
 */
#ifndef FLOE_STRBUF_H
#define FLOE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *data; /* NULL until the first append */
    size_t len, cap;
    bool failed;
};

/* Makes room for `more` bytes past len (one allocation for a writer that
 * knows its size); false once failed. */
bool strbuf_reserve(struct strbuf *b, size_t more);
void strbuf_append(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text ("" when nothing was appended; caller frees), or NULL after a
 * failure (the buffer freed). The buffer is empty afterwards. */
char *strbuf_take(struct strbuf *b);
void strbuf_free(struct strbuf *b);

#endif
