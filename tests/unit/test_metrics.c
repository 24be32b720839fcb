/* Unit tests of core/metrics: quality over time, error reasons, the
 * sample queue and collector health. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "lib/util.h"

static void declared_metric_is_stale_until_first_sample(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_declare(m, "cooling.chiller1.capacity_kw", "kW", "chiller1", 15000);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "cooling.chiller1.capacity_kw", 1000, &s));
    assert_int_equal(s.quality, MQ_STALE);
    assert_true(isnan(s.value));
    assert_string_equal(s.unit, "kW");
    assert_string_equal(s.source, "chiller1");
    metrics_free(m);
}

static void good_sample_goes_stale_after_window(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_set_good(m, "it.load_kw", 412.5, "kW", "meter", 15000, 100000);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "it.load_kw", 115000, &s));
    assert_int_equal(s.quality, MQ_GOOD);
    assert_true(s.value == 412.5);
    assert_true(metrics_get(m, "it.load_kw", 115001, &s));
    assert_int_equal(s.quality, MQ_STALE);
    metrics_free(m);
}

static void error_keeps_last_value_and_reason_until_next_good(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_set_good(m, "room.inlet_c", 21.5, "C", "crah1", 15000, 1000);
    metrics_set_error(m, "room.inlet_c", "crah1", 15000, "Connection timed out", 2000);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "room.inlet_c", 2000, &s));
    assert_int_equal(s.quality, MQ_ERROR);
    assert_true(s.value == 21.5);
    assert_int_equal(s.ts_ms, 1000);
    assert_string_equal(s.reason, "Connection timed out");
    metrics_set_good(m, "room.inlet_c", 22, "C", "crah1", 15000, 3000);
    assert_true(metrics_get(m, "room.inlet_c", 3000, &s));
    assert_int_equal(s.quality, MQ_GOOD);
    assert_string_equal(s.reason, "");
    metrics_free(m);
}

static void snapshot_is_sorted_by_name(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    const char *names[] = { "power.wind_kw", "cooling.crah1.capacity_kw", "it.load_kw", "power.hydro_kw" };
    for (size_t i = 0; i < 4; i++)
        metrics_set_good(m, names[i], (double)i, "kW", "d", 1000, 10);
    struct metric_snapshot *snap;
    size_t n = metrics_snapshot(m, 10, &snap);
    assert_int_equal(n, 4);
    assert_string_equal(snap[0].name, "cooling.crah1.capacity_kw");
    assert_string_equal(snap[1].name, "it.load_kw");
    assert_string_equal(snap[2].name, "power.hydro_kw");
    assert_string_equal(snap[3].name, "power.wind_kw");
    free(snap);
    metrics_free(m);
}

static void queue_records_goods_and_first_error_only(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_set_good(m, "a", 1, "", "d", 1000, 10);
    metrics_set_error(m, "a", "d", 1000, "timeout", 20);
    metrics_set_error(m, "a", "d", 1000, "timeout", 30);
    metrics_set_good(m, "a", 2, "", "d", 1000, 40);
    struct metric_sample buf[8];
    size_t n = metrics_drain(m, buf, 8);
    assert_int_equal(n, 3);
    assert_true(buf[0].ok && buf[0].value == 1 && buf[0].ts_ms == 10);
    assert_true(!buf[1].ok && buf[1].ts_ms == 20);
    assert_true(buf[2].ok && buf[2].value == 2);
    assert_int_equal(metrics_drain(m, buf, 8), 0);
    metrics_free(m);
}

static void full_queue_drops_oldest_and_counts(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(4);
    for (int i = 0; i < 6; i++)
        metrics_set_good(m, "a", i, "", "d", 1000, i);
    assert_int_equal(metrics_dropped(m), 2);
    struct metric_sample buf[8];
    size_t n = metrics_drain(m, buf, 8);
    assert_int_equal(n, 4);
    assert_true(buf[0].value == 2 && buf[3].value == 5);
    metrics_free(m);
}

/* The queue's memory follows the samples waiting, not its bound: a table
 * made for 200,000 samples holds none up front, and 1,000 samples take
 * room for about 1,000. */
static void queue_grows_with_samples_not_with_bound(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(200000);
    assert_int_equal(metrics_queue_capacity(m), 0);
    for (int i = 0; i < 1000; i++)
        metrics_set_good(m, "a", i, "", "d", 1000, i);
    size_t cap = metrics_queue_capacity(m);
    assert_true(cap >= 1000 && cap <= 2048);
    assert_int_equal(metrics_dropped(m), 0);
    metrics_free(m);
}

/* Growing while the ring has wrapped keeps the samples in order, and the
 * bound still holds: the oldest go first, counted. */
static void queue_keeps_order_across_growth_and_bound(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(1000);
    struct metric_sample *buf = calloc(1000, sizeof *buf);
    assert_non_null(buf);
    int next = 0, expect = 0;
    for (; next < 200; next++)
        metrics_set_good(m, "a", next, "", "d", 1000, next);
    assert_int_equal(metrics_drain(m, buf, 150), 150);
    for (int i = 0; i < 150; i++)
        assert_true(buf[i].value == expect++);
    for (; next < 700; next++) /* wraps the first ring, then outgrows it */
        metrics_set_good(m, "a", next, "", "d", 1000, next);
    assert_int_equal(metrics_dropped(m), 0);
    for (; next < 3000; next++)
        metrics_set_good(m, "a", next, "", "d", 1000, next);
    assert_int_equal(metrics_queue_capacity(m), 1000);
    assert_int_equal(metrics_dropped(m), 3000 - 150 - 1000);
    expect = 2000;
    size_t n = metrics_drain(m, buf, 1000);
    assert_int_equal(n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(buf[i].name, "a");
        assert_true(buf[i].ok);
        assert_true(buf[i].value == expect);
        assert_int_equal(buf[i].ts_ms, expect);
        expect++;
    }
    assert_int_equal(metrics_drain(m, buf, 1000), 0);
    free(buf);
    metrics_free(m);
}

/* A queued sample keeps its metric's name when the metric is forgotten
 * (device removed by a reload) before the store takes it. */
static void queued_sample_outlives_forgotten_metric(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_set_good(m, "pdu.outlet7_w", 120, "W", "pdu", 1000, 10);
    metrics_forget_source_except(m, "pdu", NULL, 0);
    struct metric_snapshot s;
    assert_false(metrics_get(m, "pdu.outlet7_w", 10, &s));
    struct metric_sample buf[2];
    assert_int_equal(metrics_drain(m, buf, 2), 1);
    assert_string_equal(buf[0].name, "pdu.outlet7_w");
    assert_true(buf[0].value == 120);
    metrics_free(m);
}

/* A device that fails marks all of its metrics, and only its own: one
 * NULL sample each at the start of the outage, none while it lasts. */
static void source_error_marks_only_that_source(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(64);
    metrics_declare(m, "ups.battery_pct", "%", "ups", 1000);
    metrics_set_good(m, "ups.line1_kw", 3, "kW", "ups", 1000, 10);
    metrics_set_good(m, "pdu.outlet1_w", 5, "W", "pdu", 1000, 10);
    struct metric_sample buf[8];
    assert_int_equal(metrics_drain(m, buf, 8), 2);
    assert_int_equal(metrics_set_source_error(m, "ups", 1000, "timeout", 20), 2);
    assert_int_equal(metrics_set_source_error(m, "ups", 1000, "timeout", 30), 2);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "ups.battery_pct", 30, &s));
    assert_int_equal(s.quality, MQ_ERROR);
    assert_string_equal(s.reason, "timeout");
    assert_true(metrics_get(m, "ups.line1_kw", 30, &s));
    assert_int_equal(s.quality, MQ_ERROR);
    assert_true(s.value == 3);
    assert_true(metrics_get(m, "pdu.outlet1_w", 15, &s));
    assert_int_equal(s.quality, MQ_GOOD);
    size_t n = metrics_drain(m, buf, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_false(buf[i].ok);
        assert_int_equal(buf[i].ts_ms, 20);
    }
    metrics_free(m);
}

/* A device may be named with the 64 characters config allows: its
 * collector is found and a failed poll marks its metrics, as for any
 * other name (a name cut to fit matched neither). */
static void a_device_name_of_64_characters_is_kept_whole(void **state)
{
    (void)state;
    char dev[65];
    memset(dev, 'd', 64);
    dev[64] = '\0';
    struct metrics *m = metrics_new(64);
    metrics_collector_declare(m, dev, "modbus");
    metrics_set_good(m, "room.temp_c", 21, "C", dev, 1000, 10);
    assert_int_equal(metrics_set_source_error(m, dev, 1000, "timeout", 20), 1);
    metrics_collector_report(m, dev, false, 0.01, "timeout", 20);
    struct collector_snapshot *c = NULL;
    assert_int_equal(metrics_collectors(m, &c), 1);
    assert_string_equal(c[0].device, dev);
    assert_true(c[0].polled);
    free(c);
    assert_true(metrics_collectors_all_polled(m));
    struct metric_snapshot s;
    assert_true(metrics_get(m, "room.temp_c", 20, &s));
    assert_int_equal(s.quality, MQ_ERROR);
    assert_string_equal(s.source, dev);
    metrics_free(m);
}

/* A new metric is appended and found by hash: 20,000 names that each sort
 * first (the worst order for a sorted array) take milliseconds; moving the
 * ~480-byte entries of a sorted array took seconds. The snapshot is still
 * sorted by name. */
#define MANY_METRICS 20000

static void many_new_metrics_are_fast_and_listed_sorted(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    int64_t t0 = util_mono_ms();
    char name[32];
    for (int i = MANY_METRICS - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "walk.row%05d", i);
        metrics_set_good(m, name, i, "W", "pdu", 1000, 10);
    }
    /* ~20 ms here, ~100 ms under ASan. */
    assert_true(util_mono_ms() - t0 < 1000);
    struct metric_snapshot s;
    assert_true(metrics_get(m, "walk.row12345", 10, &s));
    assert_true(s.value == 12345);
    assert_false(metrics_get(m, "walk.row", 10, &s));
    struct metric_snapshot *snap = NULL;
    size_t n = metrics_snapshot(m, 10, &snap);
    assert_int_equal(n, MANY_METRICS);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "walk.row%05zu", i);
        assert_string_equal(snap[i].name, name);
        assert_true(snap[i].value == (double)i);
    }
    free(snap);
    /* Forgetting some rebuilds the index: the rest are still found. */
    const char *keep[] = { "walk.row00007" };
    metrics_set_good(m, "other.value", 1, "", "other", 1000, 10);
    metrics_forget_source_except(m, "pdu", keep, 1);
    assert_true(metrics_get(m, "walk.row00007", 10, &s));
    assert_true(metrics_get(m, "other.value", 10, &s));
    assert_false(metrics_get(m, "walk.row00008", 10, &s));
    assert_int_equal(metrics_snapshot(m, 10, &snap), 2);
    assert_string_equal(snap[0].name, "other.value");
    free(snap);
    metrics_free(m);
}

/* A name longer than the table keeps is cut, and every later sample of
 * it lands on the same entry instead of adding one per sample. */
static void too_long_name_is_one_metric(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    char name[METRIC_NAME_MAX + 50];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    metrics_set_good(m, name, 1, "", "d", 1000, 10);
    metrics_set_good(m, name, 2, "", "d", 1000, 20);
    struct metric_snapshot *snap = NULL;
    assert_int_equal(metrics_snapshot(m, 20, &snap), 1);
    assert_int_equal(strlen(snap[0].name), METRIC_NAME_MAX - 1);
    assert_true(snap[0].value == 2);
    free(snap);
    struct metric_snapshot s;
    assert_true(metrics_get(m, name, 20, &s));
    metrics_free(m);
}

static void forget_source_keeps_listed_and_other_sources(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_declare(m, "x.a", "", "dev1", 1000);
    metrics_declare(m, "x.b", "", "dev1", 1000);
    metrics_declare(m, "y.a", "", "dev2", 1000);
    const char *keep[] = { "x.b" };
    metrics_forget_source_except(m, "dev1", keep, 1);
    struct metric_snapshot s;
    assert_false(metrics_get(m, "x.a", 0, &s));
    assert_true(metrics_get(m, "x.b", 0, &s));
    assert_true(metrics_get(m, "y.a", 0, &s));
    metrics_free(m);
}

static void collector_histogram_is_cumulative(void **state)
{
    (void)state;
    struct metrics *m = metrics_new(16);
    metrics_collector_declare(m, "chiller1", "modbus");
    metrics_collector_report(m, "chiller1", true, 0.003, NULL, 10);
    metrics_collector_report(m, "chiller1", true, 0.2, NULL, 20);
    metrics_collector_report(m, "chiller1", false, 7.0, "Connection timed out", 30);
    struct collector_snapshot *c;
    size_t n = metrics_collectors(m, &c);
    assert_int_equal(n, 1);
    assert_false(c[0].up);
    assert_int_equal(c[0].up_since_ms, 30);
    assert_string_equal(c[0].last_error, "Connection timed out");
    assert_int_equal(c[0].bucket_counts[0], 1);                       /* <= 5 ms */
    assert_int_equal(c[0].bucket_counts[5], 2);                       /* <= 250 ms */
    assert_int_equal(c[0].bucket_counts[METRICS_POLL_BUCKETS - 1], 2); /* <= 5 s */
    assert_int_equal(c[0].duration_count, 3);
    assert_int_equal(c[0].failures, 1);
    free(c);
    metrics_collector_forget(m, "chiller1");
    assert_int_equal(metrics_collectors(m, &c), 0);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_device_name_of_64_characters_is_kept_whole),
        cmocka_unit_test(declared_metric_is_stale_until_first_sample),
        cmocka_unit_test(good_sample_goes_stale_after_window),
        cmocka_unit_test(error_keeps_last_value_and_reason_until_next_good),
        cmocka_unit_test(snapshot_is_sorted_by_name),
        cmocka_unit_test(queue_records_goods_and_first_error_only),
        cmocka_unit_test(full_queue_drops_oldest_and_counts),
        cmocka_unit_test(queue_grows_with_samples_not_with_bound),
        cmocka_unit_test(queue_keeps_order_across_growth_and_bound),
        cmocka_unit_test(queued_sample_outlives_forgotten_metric),
        cmocka_unit_test(source_error_marks_only_that_source),
        cmocka_unit_test(many_new_metrics_are_fast_and_listed_sorted),
        cmocka_unit_test(too_long_name_is_one_metric),
        cmocka_unit_test(forget_source_keeps_listed_and_other_sources),
        cmocka_unit_test(collector_histogram_is_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
