/*
 * config_ref — the reference count of a struct floe_config (see config.h).
 *
 * The count lives in the config (extra_refs: references beyond the
 * creator's, so a zeroed config has one owner without the loader knowing
 * about counting). A config is immutable while shared, so the count is
 * the only thing that changes and the only thing that needs to be atomic.
 */
#include "config/config.h"

struct floe_config *config_ref(struct floe_config *cfg)
{
    /* Relaxed is enough: whoever passes a reference on to another thread
     * does so through its own synchronisation (the agent's mutex). */
    if (cfg)
        atomic_fetch_add_explicit(&cfg->extra_refs, 1, memory_order_relaxed);
    return cfg;
}

bool config_unref(struct floe_config *cfg)
{
    if (!cfg)
        return false;
    /* Release: this holder's reads happen before the free; acquire: the
     * last holder sees every other holder's release before it frees. */
    if (atomic_fetch_sub_explicit(&cfg->extra_refs, 1, memory_order_acq_rel) != 0)
        return false;
    cfg_free(cfg);
    return true;
}

long config_refcount(struct floe_config *cfg)
{
    return atomic_load_explicit(&cfg->extra_refs, memory_order_relaxed) + 1;
}
