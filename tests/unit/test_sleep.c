/* Unit tests of lib/util's sleep on a stop flag (util_sleep_ms,
 * util_stop_set): a sleeper wakes as soon as its flag is set, sleeps the
 * whole time otherwise, and does so in one wait in the kernel rather than
 * waking in slices to look at the flag (what made an idle agent wake
 * ~100 times a second). Wake-ups are counted with getrusage(RUSAGE_THREAD)
 * voluntary context switches, which machine load does not inflate (being
 * preempted counts as involuntary). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "lib/util.h"

struct sleeper {
    atomic_int stop;
    int64_t sleep_ms;
    int rc;
    int64_t woke_mono_ms;
    long voluntary_switches;
};

static long voluntary_switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_nvcsw;
}

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    long before = voluntary_switches();
    s->rc = util_sleep_ms(s->sleep_ms, &s->stop);
    s->voluntary_switches = voluntary_switches() - before;
    s->woke_mono_ms = util_mono_ms();
    return NULL;
}

static void sleeper_wakes_promptly_when_its_flag_is_set(void **state)
{
    (void)state;
    struct sleeper s = { .sleep_ms = 30000 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sleeper_main, &s), 0);
    util_sleep_ms(100, NULL);
    int64_t set_ms = util_mono_ms();
    util_stop_set(&s.stop);
    pthread_join(t, NULL);
    assert_int_equal(s.rc, 0);
    /* Generous for a loaded machine; a sleeper that missed the wake would
     * sleep its 30 s out. */
    assert_true(s.woke_mono_ms - set_ms < 1000);
    /* It slept in one wait: one switch to sleep, not one per slice. */
    if (s.voluntary_switches > 3)
        fail_msg("%ld voluntary context switches in 100 ms of sleep", s.voluntary_switches);
}

static void sleeper_without_stop_sleeps_the_whole_time_in_one_wait(void **state)
{
    (void)state;
    struct sleeper s = { .sleep_ms = 600 };
    int64_t t0 = util_mono_ms();
    sleeper_main(&s);
    assert_int_equal(s.rc, 1);
    assert_true(s.woke_mono_ms - t0 >= 600);
    /* Sleeping in 50 ms slices made 12 here. */
    if (s.voluntary_switches > 3)
        fail_msg("%ld voluntary context switches in one 600 ms sleep", s.voluntary_switches);
}

static void flag_already_set_returns_at_once(void **state)
{
    (void)state;
    atomic_int stop = 0;
    util_stop_set(&stop);
    assert_int_equal(atomic_load(&stop), 1);
    int64_t t0 = util_mono_ms();
    assert_int_equal(util_sleep_ms(30000, &stop), 0);
    assert_true(util_mono_ms() - t0 < 1000);
    /* No flag: the time alone ends the sleep. */
    t0 = util_mono_ms();
    assert_int_equal(util_sleep_ms(50, NULL), 1);
    assert_true(util_mono_ms() - t0 >= 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sleeper_wakes_promptly_when_its_flag_is_set),
        cmocka_unit_test(sleeper_without_stop_sleeps_the_whole_time_in_one_wait),
        cmocka_unit_test(flag_already_set_returns_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
