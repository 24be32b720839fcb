/*
 * agent — the configuration snapshot of struct agent (see agent.h). The
 * mutex covers a pointer copy and a reference count increment, nothing
 * else: no reader ever holds it while it works.
 */
#include "core/agent.h"

void agent_config_init(struct agent *a, struct floe_config *cfg)
{
    pthread_mutex_init(&a->cfg_mutex, NULL);
    pthread_mutex_init(&a->place_lock, NULL);
    a->cfg_snap = cfg;
    a->cfg_generation = 0;
}

void agent_config_clear(struct agent *a)
{
    config_unref(a->cfg_snap);
    a->cfg_snap = NULL;
    pthread_mutex_destroy(&a->cfg_mutex);
    pthread_mutex_destroy(&a->place_lock);
}

struct floe_config *agent_config_get_gen(struct agent *a, uint64_t *generation)
{
    pthread_mutex_lock(&a->cfg_mutex);
    /* The reference is taken under the mutex: once it is released a swap
     * may drop the agent's reference, which could be the last one. */
    struct floe_config *cfg = config_ref(a->cfg_snap);
    if (generation)
        *generation = a->cfg_generation;
    pthread_mutex_unlock(&a->cfg_mutex);
    return cfg;
}

struct floe_config *agent_config_get(struct agent *a)
{
    return agent_config_get_gen(a, NULL);
}

void agent_config_swap(struct agent *a, struct floe_config *next)
{
    pthread_mutex_lock(&a->cfg_mutex);
    struct floe_config *old = a->cfg_snap;
    a->cfg_snap = next;
    a->cfg_generation++;
    pthread_mutex_unlock(&a->cfg_mutex);
    /* Outside the mutex: freeing a whole config is not a pointer copy. */
    config_unref(old);
}
