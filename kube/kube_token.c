/*
 * kube_token — see kube_token.h.
 */
#include "kube/kube_token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/util.h"

struct kube_token {
    pthread_mutex_t lock;
    char *value;     /* NULL until a file was read */
    char *file;      /* NULL: inline */
    int64_t read_ms; /* when value was read */
};

static void wipe_free(char *s)
{
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

struct kube_token *kube_token_new(const char *value, const char *file, int64_t now_ms)
{
    if ((!value || !*value) && (!file || !*file))
        return NULL;
    struct kube_token *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->lock, NULL);
    t->value = value && *value ? strdup(value) : NULL;
    t->file = file && *file ? strdup(file) : NULL;
    t->read_ms = now_ms;
    if ((value && *value && !t->value) || (file && *file && !t->file)) {
        kube_token_free(t);
        return NULL;
    }
    return t;
}

void kube_token_free(struct kube_token *t)
{
    if (!t)
        return;
    wipe_free(t->value);
    free(t->file);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

const char *kube_token_file(const struct kube_token *t)
{
    return t->file;
}

int kube_token_get(struct kube_token *t, int64_t now_ms, bool force, char **out, char *warn,
                   size_t warnlen)
{
    *out = NULL;
    if (warn && warnlen)
        warn[0] = '\0';
    pthread_mutex_lock(&t->lock);
    bool due = t->file && (force || !t->value || now_ms - t->read_ms >= KUBE_TOKEN_REREAD_MS ||
                           now_ms < t->read_ms);
    pthread_mutex_unlock(&t->lock);
    int rc = 0;
    if (due) {
        char why[320];
        struct stat st;
        char *fresh = NULL;
        /* A FIFO or a device would hang the reader or feed it forever. */
        if (stat(t->file, &st) == 0 && !S_ISREG(st.st_mode))
            snprintf(why, sizeof why, "%s: not a regular file", t->file);
        else
            fresh = util_read_secret_file(t->file, why, sizeof why);
        if (fresh && !*fresh) {
            free(fresh);
            fresh = NULL;
            snprintf(why, sizeof why, "%s: empty", t->file);
        }
        pthread_mutex_lock(&t->lock);
        if (fresh) {
            wipe_free(t->value);
            t->value = fresh;
            t->read_ms = now_ms;
        } else {
            /* Try again at the next request, not a minute later. */
            errf(warn, warnlen, "token file %s", why);
            rc = 1;
        }
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_lock(&t->lock);
    if (t->value) {
        *out = strdup(t->value);
        if (!*out) {
            errf(warn, warnlen, "out of memory");
            rc = -1;
        }
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}
