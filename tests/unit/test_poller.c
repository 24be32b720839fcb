/* Unit tests of core/poller with fake collectors: a hung or failing
 * device never delays another device, failures mark the device's points
 * as errors, and stopping is prompt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/collector.h"
#include "config/config.h"
#include "core/metrics.h"
#include "core/poller.h"
#include "lib/util.h"

/* A fake device: answers with `value`, or fails with `fail`, after
 * sleeping `delay_ms` (honouring stop like a real collector's timeout). */
struct fake_device {
    double value;
    int fail;
    int64_t delay_ms;
    atomic_int polls;
};

static int fake_open(void **state, const void *cfg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *state = (void *)cfg;
    return 0;
}

static int fake_poll(void *state, const struct metric_sink *sink, atomic_int *stop, char *err,
                     size_t errlen)
{
    struct fake_device *d = state;
    util_sleep_ms(d->delay_ms, stop);
    atomic_fetch_add(&d->polls, 1);
    if (d->fail)
        return errf(err, errlen, "Connection refused");
    sink->good(sink->ctx, "fake.value", d->value, "kW");
    return 0;
}

static void fake_close(void *state)
{
    (void)state;
}

static const struct collector_ops fake_ops = { "fake", fake_open, fake_poll, fake_close };

/* A device with a walk of WALK_ROWS rows (SNMP's limit per walk): every
 * poll reports each row by its own name, until `fail` is set. */
#define WALK_ROWS 10000

static int walk_poll(void *state, const struct metric_sink *sink, atomic_int *stop, char *err,
                     size_t errlen)
{
    (void)stop;
    struct fake_device *d = state;
    if (d->fail) {
        atomic_fetch_add(&d->polls, 1);
        return errf(err, errlen, "walk: no response");
    }
    char name[64];
    for (int i = 0; i < WALK_ROWS; i++) {
        snprintf(name, sizeof name, "walk.row%d_w", i);
        sink->good(sink->ctx, name, i, "W");
    }
    atomic_fetch_add(&d->polls, 1);
    return 0;
}

static const struct collector_ops walk_ops = { "fake", fake_open, walk_poll, fake_close };

static bool wait_polls(struct fake_device *d, int n)
{
    for (int i = 0; i < 3000 && atomic_load(&d->polls) < n; i++)
        util_sleep_ms(10, NULL);
    return atomic_load(&d->polls) >= n;
}

static void hung_device_does_not_delay_live_device(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1024);
    struct fake_device live = { .value = 1 }, hung = { .delay_ms = 60000 };
    const char *live_names[] = { "fake.value" };
    const char *hung_names[] = { "hung.value" };
    struct poller_device devs[] = {
        { "hung", &fake_ops, &hung, 100, hung_names, NULL, 1 },
        { "live", &fake_ops, &live, 100, live_names, NULL, 1 },
    };
    char err[128];
    struct poller_set *ps = pollers_start_devices(devs, 2, m, err, sizeof err);
    assert_non_null(ps);
    util_sleep_ms(1050, NULL);
    int polls = atomic_load(&live.polls);
    int64_t t0 = util_mono_ms();
    pollers_stop(ps);
    /* 100 ms interval over ~1 s: 10 or 11 polls; a stall would show fewer. */
    assert_in_range(polls, 9, 12);
    assert_true(util_mono_ms() - t0 < 500); /* the hung poll saw stop */
    metrics_free(m);
}

static void failed_poll_marks_points_error_with_reason(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1024);
    struct fake_device dev = { .fail = 1 };
    const char *names[] = { "cooling.chiller9.capacity_kw" };
    const char *units[] = { "kW" };
    struct poller_device devs[] = { { "chiller9", &fake_ops, &dev, 50, names, units, 1 } };
    char err[128];
    struct poller_set *ps = pollers_start_devices(devs, 1, m, err, sizeof err);
    assert_non_null(ps);
    util_sleep_ms(200, NULL);
    pollers_stop(ps);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "cooling.chiller9.capacity_kw", util_now_ms(), &s));
    assert_int_equal(s.quality, MQ_ERROR);
    assert_string_equal(s.reason, "Connection refused");
    assert_string_equal(s.unit, "kW");
    struct collector_snapshot *c;
    assert_int_equal(metrics_collectors(m, &c), 1);
    assert_false(c[0].up);
    assert_true(c[0].polls >= 3);
    free(c);
    metrics_free(m);
}

static void recovered_device_reports_good_again(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1024);
    struct fake_device dev = { .fail = 1, .value = 7.5 };
    const char *names[] = { "fake.value" };
    struct poller_device devs[] = { { "flaky", &fake_ops, &dev, 50, names, NULL, 1 } };
    char err[128];
    struct poller_set *ps = pollers_start_devices(devs, 1, m, err, sizeof err);
    util_sleep_ms(120, NULL);
    dev.fail = 0;
    util_sleep_ms(150, NULL);
    pollers_stop(ps);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "fake.value", util_now_ms(), &s));
    assert_int_equal(s.quality, MQ_GOOD);
    assert_true(s.value == 7.5);
    metrics_free(m);
}

/* The names a device reported are not searched per value: a poll of a
 * 10,000-row walk costs milliseconds (it cost half a second when each
 * value was compared with every name seen before), and when the device
 * fails every one of its rows becomes an error, no other device's. */
static void walk_of_ten_thousand_rows_is_fast_and_fails_whole(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1024);
    metrics_set_good(m, "other.value", 1, "", "other", 60000, util_now_ms());
    struct fake_device dev = { 0 };
    const char *names[] = { "walk.status" };
    struct poller_device devs[] = { { "pdu", &walk_ops, &dev, 10, names, NULL, 1 } };
    char err[128];
    struct poller_set *ps = pollers_start_devices(devs, 1, m, err, sizeof err);
    assert_non_null(ps);
    assert_true(wait_polls(&dev, 5));
    struct collector_snapshot *c = NULL;
    assert_int_equal(metrics_collectors(m, &c), 1);
    double mean_s = c[0].duration_sum_s / (double)c[0].duration_count;
    uint64_t good_polls = c[0].polls;
    free(c);
    /* ~5 ms here, ~30 ms under ASan; the quadratic search took 0.3–1 s. */
    assert_true(mean_s < 0.15);

    int failed_at = atomic_load(&dev.polls);
    dev.fail = 1;
    assert_true(wait_polls(&dev, failed_at + 2));
    pollers_stop(ps);
    assert_true(good_polls >= 5);

    struct metric_snapshot *snap = NULL;
    size_t n = metrics_snapshot(m, util_now_ms(), &snap);
    assert_int_equal(n, WALK_ROWS + 2);
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(snap[i].source, "pdu") == 0) {
            assert_int_equal(snap[i].quality, MQ_ERROR);
            assert_string_equal(snap[i].reason, "walk: no response");
            errors++;
        } else {
            assert_string_equal(snap[i].name, "other.value");
            assert_int_equal(snap[i].quality, MQ_GOOD);
        }
    }
    assert_int_equal(errors, WALK_ROWS + 1);
    free(snap);
    metrics_free(m);
}

static void count_poll(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

/* The poller takes devices from the config's protocol-neutral list and
 * the collector from the protocol's name, and declares the configured
 * metrics (a walk's names come from the device, so its template is not).
 * The hook (what wakes the policy loop) is called after each device's
 * poll, failed ones included. */
static void configured_devices_get_the_collector_of_their_protocol(void **state)
{
    (void)state;
    assert_ptr_equal(collector_ops_for("modbus"), &mb_collector_ops);
    assert_ptr_equal(collector_ops_for("snmp"), &snmp_collector_ops);
    assert_null(collector_ops_for("bacnet"));
    assert_null(collector_ops_for(NULL));

    static const char text[] =
        "{\"site\": {\"name\": \"t\"},"
        " \"modbus\": [{\"name\": \"m\", \"host\": \"127.0.0.1\", \"port\": 1, \"interval\": \"10s\","
        "   \"timeout\": \"100ms\", \"points\": [{\"metric\": \"a.kw\", \"table\": \"holding\","
        "   \"address\": 1, \"unit\": \"kW\"}]}],"
        " \"snmp\": [{\"name\": \"s\", \"host\": \"127.0.0.1\", \"port\": 1, \"interval\": \"10s\","
        "   \"timeout\": \"100ms\", \"retries\": 0, \"points\": ["
        "   {\"metric\": \"b.pct\", \"oid\": \"1.3.6.1.2.1.33.1.2.4.0\"},"
        "   {\"metric\": \"b.out{index}_w\", \"walk\": \"1.3.6.1.4.1.99999.1.2\"}]}]}";
    struct cfg_errors errs = { 0 };
    struct floe_config *cfg = cfg_load_buffer("t.json", text, strlen(text), NULL, &errs);
    assert_int_equal(errs.n, 0);
    assert_non_null(cfg);
    struct metrics *m = metrics_new(1024);
    char err[128];
    atomic_int polls = 0;
    struct poller_set *ps =
        pollers_start(cfg, m, (struct poller_hook){ count_poll, &polls }, err, sizeof err);
    assert_non_null(ps);
    struct collector_snapshot *c = NULL;
    assert_int_equal(metrics_collectors(m, &c), 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(c[i].protocol, strcmp(c[i].device, "m") == 0 ? "modbus" : "snmp");
    free(c);
    struct metric_snapshot ms;
    assert_true(metrics_get(m, "a.kw", util_now_ms(), &ms));
    assert_string_equal(ms.unit, "kW");
    assert_string_equal(ms.source, "m");
    assert_true(metrics_get(m, "b.pct", util_now_ms(), &ms));
    assert_string_equal(ms.source, "s");
    assert_false(metrics_get(m, "b.out{index}_w", util_now_ms(), &ms));
    /* Both devices are down (port 1): each first poll fails within its
     * 100 ms timeout, and the next is 10 s away. */
    for (int i = 0; i < 500 && atomic_load(&polls) < 2; i++)
        util_sleep_ms(10, NULL);
    assert_int_equal(atomic_load(&polls), 2);
    pollers_stop(ps);
    metrics_free(m);
    cfg_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hung_device_does_not_delay_live_device),
        cmocka_unit_test(failed_poll_marks_points_error_with_reason),
        cmocka_unit_test(recovered_device_reports_good_again),
        cmocka_unit_test(configured_devices_get_the_collector_of_their_protocol),
        cmocka_unit_test(walk_of_ten_thousand_rows_is_fast_and_fails_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
