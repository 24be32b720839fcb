/* Unit tests of core/recorder: when samples are committed (the first at
 * once, then every RECORDER_FLUSH_EVERY_MS), batches larger than one
 * transaction, failed writes kept for the next commit, the flush at stop,
 * and one retention pass (samples and reservations that ended).
 * The batcher is driven with an injected clock and a recording sink; the
 * recorder's own thread is checked against a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/recorder.h"
#include "lib/util.h"
#include "store/store_resv.h"

/* 2026-01-01T00:00:00Z, the wall time samples are stamped with. */
#define T0 1767225600000LL

static void queue_samples(struct metrics *m, int count, int64_t ts_ms)
{
    for (int i = 0; i < count; i++)
        metrics_set_good(m, "it.rack1.load_kw", i, "kW", "rack1", 15000, ts_ms + i);
}

/* ---- the batcher, with an injected clock and a recording sink ---- */

/* Records every write; fails while fail_writes is set. */
struct sink_log {
    size_t writes;              /* write() calls, failed ones included */
    size_t sizes[16];           /* samples per call */
    double first_value[16];     /* value of the first sample of each call */
    int64_t first_ts[16];
    size_t stored;              /* samples of the successful calls */
    bool fail_writes;
};

static int sink_write(void *ctx, const struct metric_sample *samples, size_t n, char *err,
                      size_t errlen)
{
    struct sink_log *log = ctx;
    assert_true(log->writes < ARRAY_LEN(log->sizes));
    assert_true(n > 0 && n <= RECORDER_BATCH);
    log->sizes[log->writes] = n;
    log->first_value[log->writes] = samples[0].value;
    log->first_ts[log->writes] = samples[0].ts_ms;
    log->writes++;
    if (log->fail_writes)
        return errf(err, errlen, "disk I/O error");
    log->stored += n;
    return 0;
}

struct batcher_fixture {
    struct metrics *metrics;
    struct sink_log log;
    struct recorder_batcher *b;
};

static int batcher_setup(void **state)
{
    struct batcher_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->metrics = metrics_new(100000);
    assert_non_null(f->metrics);
    f->b = recorder_batcher_new(f->metrics, (struct recorder_sink){sink_write, &f->log});
    assert_non_null(f->b);
    *state = f;
    return 0;
}

static int batcher_teardown(void **state)
{
    struct batcher_fixture *f = *state;
    recorder_batcher_free(f->b);
    metrics_free(f->metrics);
    free(f);
    return 0;
}

/* Monotonic times of the run; any origin will do. */
#define START 5000000LL

static void first_samples_are_committed_at_once_then_every_interval(void **state)
{
    struct batcher_fixture *f = *state;
    /* Nothing queued yet: nothing written; sleep until a poll wakes it. */
    assert_int_equal(recorder_batcher_cycle(f->b, START), RECORDER_IDLE_MS);
    assert_true(recorder_batcher_idle(f->b));
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), INT64_MAX);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 100), RECORDER_IDLE_MS);
    assert_int_equal(f->log.writes, 0);
    /* The first poll answers: committed on the next look, not an interval on. */
    queue_samples(f->metrics, 3, T0);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 200), RECORDER_FIRST_CHECK_MS);
    assert_false(recorder_batcher_idle(f->b));
    /* The first second runs on its own checks, not on polls. */
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), INT64_MAX);
    assert_int_equal(f->log.writes, 1);
    assert_int_equal(f->log.sizes[0], 3);
    /* What follows within the first second (the rest of that poll, other
     * devices' first polls) is committed as fast. */
    queue_samples(f->metrics, 2, T0 + 100);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 300), RECORDER_FIRST_CHECK_MS);
    assert_int_equal(f->log.writes, 2);
    assert_int_equal(f->log.sizes[1], 2);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 400), RECORDER_FIRST_CHECK_MS);
    assert_int_equal(f->log.writes, 2); /* nothing queued, nothing written */
    /* From then on one commit per interval, however much is queued. */
    queue_samples(f->metrics, 4, T0 + 1000);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 1200), RECORDER_FLUSH_EVERY_MS - 1000);
    /* From then on the commit is due at a time a finished poll may run it. */
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), START + 200 + RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 200 + RECORDER_FLUSH_EVERY_MS - 1), 1);
    assert_int_equal(f->log.writes, 2);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 200 + RECORDER_FLUSH_EVERY_MS),
                     RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 3);
    assert_int_equal(f->log.sizes[2], 4);
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), START + 200 + 2 * RECORDER_FLUSH_EVERY_MS);
    /* An interval with nothing queued writes nothing, and the thread
     * sleeps until a poll wakes it instead of looking every interval. */
    assert_int_equal(recorder_batcher_cycle(f->b, START + 200 + 2 * RECORDER_FLUSH_EVERY_MS),
                     RECORDER_IDLE_MS);
    assert_true(recorder_batcher_idle(f->b));
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), INT64_MAX);
    assert_int_equal(f->log.writes, 3);
    assert_int_equal(f->log.stored, 9);
    /* Woken without samples (a poll that failed): back to sleep. */
    int64_t t = START + 200 + 2 * RECORDER_FLUSH_EVERY_MS + 7000;
    assert_int_equal(recorder_batcher_cycle(f->b, t), RECORDER_IDLE_MS);
    /* Woken by samples: they are committed an interval on, with what
     * joins them meanwhile. */
    queue_samples(f->metrics, 2, T0 + 9000);
    assert_int_equal(recorder_batcher_cycle(f->b, t + 1000), RECORDER_FLUSH_EVERY_MS);
    assert_false(recorder_batcher_idle(f->b));
    assert_int_equal(f->log.writes, 3);
    queue_samples(f->metrics, 1, T0 + 9500);
    assert_int_equal(recorder_batcher_cycle(f->b, t + 1000 + RECORDER_FLUSH_EVERY_MS),
                     RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 4);
    assert_int_equal(f->log.sizes[3], 3);
    assert_int_equal(f->log.stored, 12);
}

/* A busy site: a whole batch queued before the commit is due is written
 * at once, so no more than a batch waits in memory; less waits its time. */
static void a_full_batch_is_committed_before_its_time(void **state)
{
    struct batcher_fixture *f = *state;
    queue_samples(f->metrics, 1, T0);
    recorder_batcher_cycle(f->b, START);
    assert_int_equal(f->log.writes, 1);
    /* Past the first second, in the rhythm. */
    assert_int_equal(recorder_batcher_cycle(f->b, START + 1500), RECORDER_FLUSH_EVERY_MS - 1500);
    queue_samples(f->metrics, RECORDER_BATCH - 1, T0 + 1500);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 1600), RECORDER_FLUSH_EVERY_MS - 1600);
    assert_int_equal(f->log.writes, 1);
    queue_samples(f->metrics, 1, T0 + 1700);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 1700), RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 2);
    assert_int_equal(f->log.sizes[1], RECORDER_BATCH);
    assert_int_equal(recorder_batcher_bell_due_ms(f->b), START + 1700 + RECORDER_FLUSH_EVERY_MS);
}

static void a_long_queue_is_written_in_transactions_of_at_most_a_batch(void **state)
{
    struct batcher_fixture *f = *state;
    queue_samples(f->metrics, 2 * RECORDER_BATCH + 10, T0);
    recorder_batcher_cycle(f->b, START);
    assert_int_equal(f->log.writes, 3);
    assert_int_equal(f->log.sizes[0], RECORDER_BATCH);
    assert_int_equal(f->log.sizes[1], RECORDER_BATCH);
    assert_int_equal(f->log.sizes[2], 10);
    assert_true(f->log.first_value[1] == RECORDER_BATCH); /* oldest first */
    assert_int_equal(f->log.stored, 2 * RECORDER_BATCH + 10);
    assert_int_equal(recorder_batcher_pending(f->b), 0);
}

static void failed_write_keeps_its_samples_for_the_next_commit(void **state)
{
    struct batcher_fixture *f = *state;
    f->log.fail_writes = true;
    queue_samples(f->metrics, 5, T0);
    assert_int_equal(recorder_batcher_cycle(f->b, START), RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 1);
    assert_int_equal(f->log.stored, 0);
    assert_int_equal(recorder_batcher_pending(f->b), 5);
    /* A failure does not hurry the retry: the next is an interval on. */
    queue_samples(f->metrics, 3, T0 + 1000);
    assert_int_equal(recorder_batcher_cycle(f->b, START + 100), RECORDER_FLUSH_EVERY_MS - 100);
    assert_int_equal(f->log.writes, 1);
    /* Still failing: nothing lost. */
    recorder_batcher_cycle(f->b, START + RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 2);
    assert_int_equal(recorder_batcher_pending(f->b), 8);
    /* Back: the kept samples go first, with what came meanwhile. */
    f->log.fail_writes = false;
    recorder_batcher_cycle(f->b, START + 2 * RECORDER_FLUSH_EVERY_MS);
    assert_int_equal(f->log.writes, 3);
    assert_int_equal(f->log.sizes[2], 8);
    assert_int_equal(f->log.first_ts[2], T0);
    assert_int_equal(f->log.stored, 8);
    assert_int_equal(recorder_batcher_pending(f->b), 0);
}

static void flush_writes_what_is_queued_whether_due_or_not(void **state)
{
    struct batcher_fixture *f = *state;
    queue_samples(f->metrics, 2, T0);
    recorder_batcher_cycle(f->b, START);
    queue_samples(f->metrics, 6, T0 + 1000);
    assert_int_equal(recorder_batcher_flush(f->b), 0);
    assert_int_equal(f->log.writes, 2);
    assert_int_equal(f->log.stored, 8);
    /* A flush that fails says so and keeps the samples. */
    f->log.fail_writes = true;
    queue_samples(f->metrics, 1, T0 + 2000);
    assert_int_equal(recorder_batcher_flush(f->b), -1);
    assert_int_equal(recorder_batcher_pending(f->b), 1);
    /* Back: the kept sample is written; with nothing queued, no call. */
    f->log.fail_writes = false;
    assert_int_equal(recorder_batcher_flush(f->b), 0);
    assert_int_equal(recorder_batcher_flush(f->b), 0);
    assert_int_equal(f->log.writes, 4);
    assert_int_equal(f->log.stored, 9);
}

/* ---- the thread, against a real store ---- */

struct store_fixture {
    char dir[64];
    char path[96];
    struct store *store;
    struct metrics *metrics;
};

static int store_setup(void **state)
{
    struct store_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-recorder.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256] = "";
    if (store_open(&f->store, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->metrics = metrics_new(100000);
    assert_non_null(f->metrics);
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    struct store_fixture *f = *state;
    store_close(f->store);
    metrics_free(f->metrics);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* An agent in a crash loop (systemd restarts it 5 s after each crash)
 * must still keep history: the first samples of a run reach the database
 * within a second, not after the first commit interval. */
static void first_samples_reach_the_store_within_a_second(void **state)
{
    struct store_fixture *f = *state;
    char err[256] = "";
    struct recorder *r = recorder_start(f->metrics, f->store, &(struct recorder_retention){0}, err, sizeof err);
    if (!r)
        fail_msg("recorder_start: %s", err);
    /* The first poll answers a little after start, when the recorder has
     * already looked at an empty queue. */
    util_sleep_ms(300, NULL);
    queue_samples(f->metrics, 5, T0);
    recorder_samples_queued(r); /* as the pollers' hook does after a poll */
    int64_t deadline = util_mono_ms() + 1000;
    while (store_sample_count(f->store) < 5 && util_mono_ms() < deadline)
        util_sleep_ms(20, NULL);
    assert_int_equal(store_sample_count(f->store), 5);
    recorder_stop(r);
}

/* Once the first second is over, a due commit is made when the next poll
 * ends (its hook wakes the thread), not when a timer fires: samples a
 * poll brings after the due time are in the store at once. A thread woken
 * by a timer costs several times the CPU on virtual machines. */
static void a_due_commit_runs_at_the_end_of_the_next_poll(void **state)
{
    struct store_fixture *f = *state;
    char err[256] = "";
    struct recorder *r = recorder_start(f->metrics, f->store, &(struct recorder_retention){0}, err, sizeof err);
    if (!r)
        fail_msg("recorder_start: %s", err);
    queue_samples(f->metrics, 1, T0);
    recorder_samples_queued(r);
    int64_t deadline = util_mono_ms() + 1000;
    while (store_sample_count(f->store) < 1 && util_mono_ms() < deadline)
        util_sleep_ms(20, NULL);
    assert_int_equal(store_sample_count(f->store), 1);
    /* Times from the moment the first commit was seen (it came no later):
     * the first second and the next due time run from the commit. */
    int64_t t0 = util_mono_ms();
    /* A poll within the interval: not due, nothing written. */
    util_sleep_ms(RECORDER_FIRST_WINDOW_MS + 300 - (util_mono_ms() - t0), NULL);
    queue_samples(f->metrics, 2, T0 + 1000);
    recorder_samples_queued(r);
    util_sleep_ms(200, NULL);
    assert_int_equal(store_sample_count(f->store), 1);
    /* The first poll after the due time: its samples and those before. */
    util_sleep_ms(RECORDER_FLUSH_EVERY_MS + 400 - (util_mono_ms() - t0), NULL);
    queue_samples(f->metrics, 3, T0 + 2000);
    int64_t rung = util_mono_ms();
    recorder_samples_queued(r);
    while (store_sample_count(f->store) < 6 && util_mono_ms() < rung + 1500)
        util_sleep_ms(10, NULL);
    assert_int_equal(store_sample_count(f->store), 6);
    /* Not the timer: that would have come at the due time, before these
     * samples, and the next one an interval later. */
    assert_true(util_mono_ms() - rung < 1000);
    recorder_stop(r);
}

/* A poll that leaves a whole batch queued wakes the thread, due or not. */
static void a_full_queue_wakes_the_recorder(void **state)
{
    struct store_fixture *f = *state;
    char err[256] = "";
    struct recorder *r = recorder_start(f->metrics, f->store, &(struct recorder_retention){0}, err, sizeof err);
    if (!r)
        fail_msg("recorder_start: %s", err);
    queue_samples(f->metrics, 1, T0);
    recorder_samples_queued(r);
    int64_t deadline = util_mono_ms() + 1000;
    while (store_sample_count(f->store) < 1 && util_mono_ms() < deadline)
        util_sleep_ms(20, NULL);
    assert_int_equal(store_sample_count(f->store), 1);
    util_sleep_ms(RECORDER_FIRST_WINDOW_MS + 300, NULL);
    for (int i = 0; i < RECORDER_BATCH; i++)
        metrics_set_good(f->metrics, "it.rack1.load_kw", i, "kW", "rack1", 15000, T0 + 2000 + i);
    int64_t rung = util_mono_ms();
    recorder_samples_queued(r);
    while (store_sample_count(f->store) < 1 + RECORDER_BATCH && util_mono_ms() < rung + 1500)
        util_sleep_ms(10, NULL);
    assert_int_equal(store_sample_count(f->store), 1 + RECORDER_BATCH);
    assert_true(util_mono_ms() - rung < 1000);
    recorder_stop(r);
}

static void stop_writes_what_is_queued(void **state)
{
    struct store_fixture *f = *state;
    char err[256] = "";
    struct recorder *r = recorder_start(f->metrics, f->store, &(struct recorder_retention){0}, err, sizeof err);
    if (!r)
        fail_msg("recorder_start: %s", err);
    /* Let the first commit happen, so the next is an interval away. */
    queue_samples(f->metrics, 1, T0);
    recorder_samples_queued(r);
    int64_t deadline = util_mono_ms() + 1000;
    while (store_sample_count(f->store) < 1 && util_mono_ms() < deadline)
        util_sleep_ms(20, NULL);
    assert_int_equal(store_sample_count(f->store), 1);
    queue_samples(f->metrics, 7, T0 + 1000);
    recorder_stop(r);
    assert_int_equal(store_sample_count(f->store), 8);
}

/* One retention pass deletes what is older than the retention, samples
 * and ended reservations alike; newer ones, and active reservations of
 * any age, stay. */
static void retention_removes_old_samples_and_ended_reservations(void **state)
{
    struct store_fixture *f = *state;
    const int64_t day = 86400000;
    struct metric_sample old = {.ts_ms = T0, .value = 1, .ok = true};
    struct metric_sample recent = {.ts_ms = T0 + 2 * day, .value = 2, .ok = true};
    util_strlcpy(old.name, "it.load_kw", sizeof old.name);
    util_strlcpy(recent.name, "it.load_kw", sizeof recent.name);
    char err[256] = "";
    assert_int_equal(store_write_samples(f->store, &old, 1, err, sizeof err), 0);
    assert_int_equal(store_write_samples(f->store, &recent, 1, err, sizeof err), 0);
    char ids[3][STORE_RESV_ID_SIZE];
    for (int i = 0; i < 3; i++) {
        struct store_resv_request req = {.from_site = "peer", .workload = "w", .granted_by = "peer",
                                         .kw = 1, .ttl_ms = 60000};
        struct store_resv r;
        assert_int_equal(store_resv_grant(f->store, &req, 100, T0, &r, NULL, err, sizeof err), 0);
        memcpy(ids[i], r.id, sizeof ids[i]);
        store_resv_clear(&r);
    }
    assert_int_equal(store_resv_release(f->store, ids[0], NULL, "a", T0 + 1000, NULL, err, sizeof err), 0);
    assert_int_equal(store_resv_release(f->store, ids[1], NULL, "a", T0 + 2 * day, NULL, err, sizeof err), 0);
    assert_int_equal(store_resv_confirm(f->store, ids[2], T0 + 1000, err, sizeof err), 0);

    recorder_apply_retention(f->store, &(struct recorder_retention){day, day, day},
                             T0 + 2 * day + 1);
    assert_int_equal(store_sample_count(f->store), 1);
    struct store_resv r;
    assert_int_equal(store_resv_get(f->store, ids[0], &r, err, sizeof err), STORE_NOT_FOUND);
    assert_int_equal(store_resv_get(f->store, ids[1], &r, err, sizeof err), 0);
    store_resv_clear(&r);
    assert_int_equal(store_resv_get(f->store, ids[2], &r, err, sizeof err), 0);
    store_resv_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(first_samples_are_committed_at_once_then_every_interval,
                                        batcher_setup, batcher_teardown),
        cmocka_unit_test_setup_teardown(a_full_batch_is_committed_before_its_time, batcher_setup,
                                        batcher_teardown),
        cmocka_unit_test_setup_teardown(a_long_queue_is_written_in_transactions_of_at_most_a_batch,
                                        batcher_setup, batcher_teardown),
        cmocka_unit_test_setup_teardown(failed_write_keeps_its_samples_for_the_next_commit,
                                        batcher_setup, batcher_teardown),
        cmocka_unit_test_setup_teardown(flush_writes_what_is_queued_whether_due_or_not,
                                        batcher_setup, batcher_teardown),
        cmocka_unit_test_setup_teardown(first_samples_reach_the_store_within_a_second, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(a_due_commit_runs_at_the_end_of_the_next_poll, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(a_full_queue_wakes_the_recorder, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(stop_writes_what_is_queued, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(retention_removes_old_samples_and_ended_reservations,
                                        store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
