/*
 * api_cache — see api_cache.h.
 */
#include "api/api_cache.h"

#include <stdlib.h>
#include <string.h>

#include "lib/json_write.h"
#include "lib/strbuf.h"

struct api_render *api_render_new(char *text, size_t len, struct api_age_hole *holes,
                                  size_t nholes)
{
    struct api_render *r = calloc(1, sizeof *r);
    if (!r) {
        free(text);
        free(holes);
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->text = text;
    r->len = len;
    r->holes = holes;
    r->nholes = nholes;
    return r;
}

void api_render_ref(struct api_render *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void api_render_unref(struct api_render *r)
{
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(r->text);
    free(r->holes);
    free(r);
}

char *api_render_fill(const struct api_render *r, int64_t now_ms, size_t *len)
{
    /* An age takes at most 20 characters; reserving that per hole makes
     * the copy one allocation. */
    struct strbuf b = {0};
    strbuf_reserve(&b, r->len + r->nholes * 20);
    size_t from = 0;
    for (size_t i = 0; i < r->nholes; i++) {
        strbuf_append(&b, r->text + from, r->holes[i].at - from);
        int64_t age_ms = now_ms - r->holes[i].ts_ms;
        json_put_millis(&b, age_ms > 0 ? age_ms : 0);
        from = r->holes[i].at;
    }
    strbuf_append(&b, r->text + from, r->len - from);
    *len = b.len;
    return strbuf_take(&b);
}

void api_inputs_clear(struct api_inputs *in)
{
    free(in->policies);
    free(in->peers);
    memset(in, 0, sizeof *in);
}

static bool bytes_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static bool inputs_equal(const struct api_inputs *a, const struct api_inputs *b)
{
    return a->cfg_gen == b->cfg_gen && a->metrics_gen == b->metrics_gen &&
           a->store_gen == b->store_gen &&
           bytes_equal(a->policies, a->policies_len, b->policies, b->policies_len) &&
           bytes_equal(a->peers, a->peers_len, b->peers, b->peers_len);
}

static void slot_init(struct api_slot *slot)
{
    memset(slot, 0, sizeof *slot);
    pthread_mutex_init(&slot->lock, NULL);
    pthread_mutex_init(&slot->render_lock, NULL);
}

static void slot_clear(struct api_slot *slot)
{
    api_render_unref(slot->render);
    api_inputs_clear(&slot->inputs);
    pthread_mutex_destroy(&slot->lock);
    pthread_mutex_destroy(&slot->render_lock);
}

struct api_cache *api_cache_new(void)
{
    struct api_cache *cache = calloc(1, sizeof *cache);
    if (!cache)
        return NULL;
    slot_init(&cache->telemetry);
    slot_init(&cache->status);
    slot_init(&cache->prometheus);
    return cache;
}

void api_cache_free(struct api_cache *cache)
{
    if (!cache)
        return;
    slot_clear(&cache->telemetry);
    slot_clear(&cache->status);
    slot_clear(&cache->prometheus);
    free(cache);
}

struct api_render *api_slot_get(struct api_slot *slot, const struct api_inputs *in,
                                int64_t now_ms, int64_t mono_ms)
{
    struct api_render *r = NULL;
    pthread_mutex_lock(&slot->lock);
    const struct api_valid *v = &slot->valid;
    if (slot->render && inputs_equal(&slot->inputs, in) && now_ms >= v->from_ms &&
        now_ms < v->until_ms && mono_ms >= v->mono_from_ms && mono_ms < v->mono_until_ms) {
        r = slot->render;
        api_render_ref(r);
    }
    pthread_mutex_unlock(&slot->lock);
    return r;
}

struct api_render *api_slot_last(struct api_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    struct api_render *r = slot->render;
    if (r)
        api_render_ref(r);
    pthread_mutex_unlock(&slot->lock);
    return r;
}

void api_slot_put(struct api_slot *slot, struct api_inputs *in, const struct api_valid *valid,
                  struct api_render *r)
{
    api_render_ref(r);
    pthread_mutex_lock(&slot->lock);
    struct api_render *old = slot->render;
    struct api_inputs old_in = slot->inputs;
    slot->render = r;
    slot->inputs = *in;
    slot->valid = *valid;
    slot->renders++;
    pthread_mutex_unlock(&slot->lock);
    memset(in, 0, sizeof *in);
    api_render_unref(old);
    api_inputs_clear(&old_in);
}
