/*
 * store_tally — the decision counts the store keeps in memory (struct
 * store's tally, see store_internal.h): the sorted array and its copies.
 * store_records.c reads them from the tables once and keeps them as it
 * writes decisions; store.c frees them with the store. Knows no SQL.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_internal.h"

void store_tally_free(struct store *s)
{
    for (size_t i = 0; i < s->ntally; i++) {
        free(s->tally[i].kind);
        free(s->tally[i].status);
    }
    free(s->tally);
    s->tally = NULL;
    s->ntally = s->tally_cap = 0;
    s->tally_loaded = false;
}

int store_tally_add_locked(struct store *s, const char *kind, const char *status,
                           int64_t entered, int64_t now_in)
{
    size_t at = 0;
    for (; at < s->ntally; at++) {
        int c = strcmp(s->tally[at].kind, kind);
        if (c == 0)
            c = strcmp(s->tally[at].status, status);
        if (c == 0) {
            s->tally[at].entered += entered;
            s->tally[at].now_in += now_in;
            return 0;
        }
        if (c > 0)
            break;
    }
    char *k = strdup(kind), *st = strdup(status);
    if (!k || !st || vec_reserve(s->tally, s->tally_cap, s->ntally + 1) < 0) {
        free(k);
        free(st);
        return -1;
    }
    memmove(&s->tally[at + 1], &s->tally[at], (s->ntally - at) * sizeof *s->tally);
    s->tally[at] = (struct store_decision_tally){k, st, entered, now_in};
    s->ntally++;
    return 0;
}

int store_tally_copy_locked(struct store *s, struct store_tally_copy *out, char *err,
                            size_t errlen)
{
    out->n = 0;
    out->rows = s->ntally ? calloc(s->ntally, sizeof *out->rows) : NULL;
    if (s->ntally && !out->rows)
        return errf(err, errlen, "%s: decision counts: out of memory", s->path);
    for (size_t i = 0; i < s->ntally; i++) {
        out->rows[i] = s->tally[i];
        out->rows[i].kind = strdup(s->tally[i].kind);
        out->rows[i].status = strdup(s->tally[i].status);
        out->n++;
        if (!out->rows[i].kind || !out->rows[i].status)
            return errf(err, errlen, "%s: decision counts: out of memory", s->path);
    }
    return 0;
}

void store_tally_copy_free(struct store_tally_copy *copy)
{
    for (size_t i = 0; i < copy->n; i++) {
        free(copy->rows[i].kind);
        free(copy->rows[i].status);
    }
    free(copy->rows);
    copy->rows = NULL;
    copy->n = 0;
}
