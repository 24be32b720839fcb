/* Unit tests of core/metrics: quality over time, error reasons, the
 * sample queue and collector health. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"

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
        cmocka_unit_test(declared_metric_is_stale_until_first_sample),
        cmocka_unit_test(good_sample_goes_stale_after_window),
        cmocka_unit_test(error_keeps_last_value_and_reason_until_next_good),
        cmocka_unit_test(snapshot_is_sorted_by_name),
        cmocka_unit_test(queue_records_goods_and_first_error_only),
        cmocka_unit_test(full_queue_drops_oldest_and_counts),
        cmocka_unit_test(forget_source_keeps_listed_and_other_sources),
        cmocka_unit_test(collector_histogram_is_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
