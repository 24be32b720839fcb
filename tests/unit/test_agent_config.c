/*
 * test_agent_config — the configuration snapshot: config_ref/config_unref
 * (config/config_ref.c) and the agent's current-config pointer
 * (core/agent.c). A reference taken before a reload stays readable after
 * it and the config is freed at its last release (ASan would report a
 * read after free, LeakSanitizer a config never freed); several threads
 * taking, reading and releasing references while another swaps configs in
 * a loop always see a whole config that matches its generation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agent.h"
#include "lib/util.h"

/* A config as the loader returns it (heap, one reference): site-n, with
 * a policy tick of n + 100 ms (the smallest valid tick is 100 ms). */
static struct floe_config *numbered_config(int64_t n)
{
    char text[160];
    snprintf(text, sizeof text,
             "{ \"site\": { \"name\": \"site-%lld\" }, \"policy_tick\": \"%lldms\" }", (long long)n,
             (long long)n + 100);
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    if (!cfg)
        fail_msg("config %lld: %s", (long long)n, errs.n ? errs.lines[0] : "?");
    cfg_errors_clear(&errs);
    return cfg;
}

static void ref_and_unref_count_and_free_at_the_last(void **state)
{
    (void)state;
    assert_null(config_ref(NULL));
    assert_false(config_unref(NULL));
    struct floe_config *cfg = numbered_config(1);
    assert_int_equal(config_refcount(cfg), 1);
    assert_ptr_equal(config_ref(cfg), cfg);
    assert_ptr_equal(config_ref(cfg), cfg);
    assert_int_equal(config_refcount(cfg), 3);
    assert_false(config_unref(cfg));
    assert_false(config_unref(cfg));
    assert_int_equal(config_refcount(cfg), 1);
    assert_string_equal(cfg->site.name, "site-1");
    assert_true(config_unref(cfg));
}

static void reference_taken_before_a_swap_outlives_it(void **state)
{
    (void)state;
    struct agent a = {0};
    agent_config_init(&a, numbered_config(1));
    uint64_t gen_before = 99;
    struct floe_config *held = agent_config_get_gen(&a, &gen_before);
    assert_int_equal(gen_before, 0);
    assert_int_equal(config_refcount(held), 2);

    agent_config_swap(&a, numbered_config(2));
    /* The agent let go; the holder's reference is now the only one and
     * the config is intact. */
    assert_int_equal(config_refcount(held), 1);
    assert_string_equal(held->site.name, "site-1");
    assert_int_equal(held->policy_tick_ms, 101);

    uint64_t gen_after = 0;
    struct floe_config *now = agent_config_get_gen(&a, &gen_after);
    assert_int_equal(gen_after, 1);
    assert_string_equal(now->site.name, "site-2");
    assert_int_equal(config_refcount(now), 2);
    assert_false(config_unref(now));

    assert_true(config_unref(held)); /* the last reference frees it */
    agent_config_clear(&a);          /* and the agent's frees site-2 */
}

/* ---- one thread swaps, others read ---- */

#define SWAPS 20000
#define READERS 3

struct race {
    struct agent a;
    atomic_bool done;
    atomic_int bad; /* readers that saw an inconsistent config */
    atomic_long reads;
};

static void *swapper(void *arg)
{
    struct race *r = arg;
    for (int64_t n = 1; n <= SWAPS; n++)
        agent_config_swap(&r->a, numbered_config(n));
    atomic_store(&r->done, true);
    return NULL;
}

/* Config n is published as generation n: a reader checks that what it
 * holds is one whole config, the one its generation says, and that
 * generations never go back. It reads again after yielding, so that swaps
 * land while it holds the reference. */
static void *reader(void *arg)
{
    struct race *r = arg;
    uint64_t last = 0;
    while (!atomic_load(&r->done)) {
        uint64_t gen = 0;
        struct floe_config *cfg = agent_config_get_gen(&r->a, &gen);
        char want[32];
        snprintf(want, sizeof want, "site-%llu", (unsigned long long)gen);
        bool ok = gen >= last && strcmp(cfg->site.name, want) == 0 &&
                  cfg->policy_tick_ms == (int64_t)gen + 100;
        sched_yield();
        ok = ok && strcmp(cfg->site.name, want) == 0 && cfg->policy_tick_ms == (int64_t)gen + 100;
        if (!ok)
            atomic_fetch_add(&r->bad, 1);
        last = gen;
        config_unref(cfg);
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void readers_see_whole_configs_while_another_thread_swaps(void **state)
{
    (void)state;
    struct race *r = calloc(1, sizeof *r);
    assert_non_null(r);
    agent_config_init(&r->a, numbered_config(0));
    pthread_t readers[READERS], sw;
    for (size_t i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader, r), 0);
    assert_int_equal(pthread_create(&sw, NULL, swapper, r), 0);
    pthread_join(sw, NULL);
    for (size_t i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);

    uint64_t gen = 0;
    struct floe_config *last = agent_config_get_gen(&r->a, &gen);
    assert_int_equal(gen, SWAPS);
    assert_string_equal(last->site.name, "site-20000");
    assert_int_equal(config_refcount(last), 2); /* no reader kept one */
    config_unref(last);
    agent_config_clear(&r->a);
    assert_int_equal(atomic_load(&r->bad), 0);
    assert_true(atomic_load(&r->reads) > 0);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ref_and_unref_count_and_free_at_the_last),
        cmocka_unit_test(reference_taken_before_a_swap_outlives_it),
        cmocka_unit_test(readers_see_whole_configs_while_another_thread_swaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
