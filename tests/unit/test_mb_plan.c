/*
 * Unit tests of mb_plan: every plan is checked for validity (each point
 * inside its request, size limits, no gap longer than max_gap) by an
 * independent checker, and its number of requests is compared with the
 * true minimum found by exhaustive search (dynamic programming over all
 * subsets of points) on thousands of small random maps, plus table cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/mb_decode.h"
#include "collectors/mb_plan.h"

#define MAX_BRUTE 14

static struct cfg_mb_point pt(enum mb_table table, unsigned address, enum mb_type type, int bit)
{
    return (struct cfg_mb_point){.metric = "m",
                                 .table = table,
                                 .address = (uint16_t)address,
                                 .type = type,
                                 .order = MB_ORDER_ABCD,
                                 .bit = bit,
                                 .scale = 1};
}
/* Initializers for the tables below. */
#define PT(tab, a, ty, b)                                                                          \
    {                                                                                              \
        .metric = "m", .table = (tab), .address = (a), .type = (ty), .order = MB_ORDER_ABCD,       \
        .bit = (b), .scale = 1                                                                     \
    }
#define H(a, t) PT(MB_TABLE_HOLDING, (a), MB_TYPE_##t, -1)
#define I(a, t) PT(MB_TABLE_INPUT, (a), MB_TYPE_##t, -1)
#define HBIT(a, b) PT(MB_TABLE_HOLDING, (a), MB_TYPE_BOOL, (b))
#define C(a) PT(MB_TABLE_COIL, (a), MB_TYPE_BOOL, -1)
#define D(a) PT(MB_TABLE_DISCRETE, (a), MB_TYPE_BOOL, -1)

static int limit_of(const struct mb_plan_limits *l, enum mb_table t)
{
    return t == MB_TABLE_COIL || t == MB_TABLE_DISCRETE ? l->max_bits : l->max_registers;
}

/* Longest run inside [from, to) that no point of `table` covers. */
static int longest_hole(const struct cfg_mb_point *pts, size_t n, enum mb_table table, int from,
                        int to)
{
    int longest = 0, run = 0;
    for (int a = from; a < to; a++) {
        bool wanted = false;
        for (size_t i = 0; i < n && !wanted; i++)
            wanted = pts[i].table == table && a >= pts[i].address &&
                     a < pts[i].address + (int)mb_point_width(&pts[i]);
        run = wanted ? 0 : run + 1;
        if (run > longest)
            longest = run;
    }
    return longest;
}

/* The independent checker of everything mb_plan.h promises. */
static void check_plan_valid(const struct mb_plan *plan, const struct cfg_mb_point *pts, size_t n,
                             const struct mb_plan_limits *l, const char *label)
{
    if (plan->npoints != n)
        fail_msg("%s: plan has %zu points, want %zu", label, plan->npoints, n);
    size_t members = 0;
    for (size_t r = 0; r < plan->nrequests; r++) {
        const struct mb_request *q = &plan->requests[r];
        if (q->count < 1 || q->count > limit_of(l, q->table))
            fail_msg("%s: request %zu reads %u, limit %d", label, r, q->count,
                     limit_of(l, q->table));
        if ((uint32_t)q->start + q->count > 65536)
            fail_msg("%s: request %zu runs past 65535", label, r);
        if (r > 0) {
            const struct mb_request *p = &plan->requests[r - 1];
            if (p->table > q->table || (p->table == q->table && p->start > q->start))
                fail_msg("%s: requests not ordered by table, then start", label);
        }
        if (!l->one_request_per_point &&
            longest_hole(pts, n, q->table, q->start, q->start + q->count) > l->max_gap)
            fail_msg("%s: request %zu (%u+%u) reads a gap longer than %d", label, r, q->start,
                     q->count, l->max_gap);
        if (q->first_member != members)
            fail_msg("%s: request %zu members do not follow the previous request", label, r);
        for (size_t m = q->first_member; m < q->first_member + q->nmembers; m++)
            if (plan->point_request[plan->members[m]] != r)
                fail_msg("%s: member %zu of request %zu points elsewhere", label, m, r);
        members += q->nmembers;
    }
    if (members != n)
        fail_msg("%s: %zu members for %zu points", label, members, n);
    for (size_t i = 0; i < n; i++) {
        size_t r = plan->point_request[i];
        if (r >= plan->nrequests)
            fail_msg("%s: point %zu has no request", label, i);
        const struct mb_request *q = &plan->requests[r];
        unsigned w = mb_point_width(&pts[i]);
        if (q->table != pts[i].table)
            fail_msg("%s: point %zu read from the wrong table", label, i);
        if (pts[i].address < q->start || pts[i].address + w > (unsigned)q->start + q->count)
            fail_msg("%s: point %zu (%u+%u) not inside request %u+%u", label, i, pts[i].address, w,
                     q->start, q->count);
        if (plan->point_offset[i] != pts[i].address - q->start)
            fail_msg("%s: point %zu offset %u, want %u", label, i, plan->point_offset[i],
                     pts[i].address - q->start);
    }
}

/* Exhaustive minimum: the fewest groups the points split into such that
 * each group is one table, spans at most the limit and contains no gap
 * longer than max_gap. Every subset is tried (dynamic programming over
 * subsets), so this knows nothing of the planner's strategy. */
static int brute_force_minimum(const struct cfg_mb_point *pts, size_t n,
                               const struct mb_plan_limits *l)
{
    assert_true(n <= MAX_BRUTE);
    size_t full = (size_t)1 << n;
    bool *valid = calloc(full, sizeof *valid);
    int *best = calloc(full, sizeof *best);
    assert_non_null(valid);
    assert_non_null(best);
    for (size_t mask = 1; mask < full; mask++) {
        int lo = 1 << 20, hi = -1, table = -1;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            if (!(mask >> i & 1))
                continue;
            if (table >= 0 && (int)pts[i].table != table)
                ok = false;
            table = (int)pts[i].table;
            int end = pts[i].address + (int)mb_point_width(&pts[i]);
            lo = pts[i].address < lo ? pts[i].address : lo;
            hi = end > hi ? end : hi;
        }
        valid[mask] = ok && hi - lo <= limit_of(l, (enum mb_table)table) &&
                      longest_hole(pts, n, (enum mb_table)table, lo, hi) <= l->max_gap;
    }
    best[0] = 0;
    for (size_t mask = 1; mask < full; mask++) {
        size_t low = mask & (~mask + 1);
        int b = 1 << 20;
        /* every subset of mask that holds its lowest point */
        for (size_t sub = mask; sub; sub = (sub - 1) & mask)
            if ((sub & low) && valid[sub] && best[mask ^ sub] + 1 < b)
                b = best[mask ^ sub] + 1;
        best[mask] = b;
    }
    int result = best[full - 1];
    free(valid);
    free(best);
    return result;
}

/* Per table, since no request mixes tables: lets maps larger than
 * MAX_BRUTE points be checked as long as each table stays small. */
static int minimum_by_table(const struct cfg_mb_point *pts, size_t n,
                            const struct mb_plan_limits *l)
{
    int total = 0;
    for (enum mb_table t = MB_TABLE_HOLDING; t <= MB_TABLE_DISCRETE; t++) {
        struct cfg_mb_point sub[MAX_BRUTE];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (pts[i].table == t) {
                assert_true(k < MAX_BRUTE);
                sub[k++] = pts[i];
            }
        if (k)
            total += brute_force_minimum(sub, k, l);
    }
    return total;
}

static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void random_maps_need_exactly_the_minimum_requests(void **unused)
{
    (void)unused;
    static const enum mb_type types[] = {MB_TYPE_UINT16,  MB_TYPE_INT16,   MB_TYPE_UINT32,
                                         MB_TYPE_FLOAT32, MB_TYPE_FLOAT64, MB_TYPE_INT64};
    uint32_t rnd = 12345;
    int maps = 0, merged = 0;
    for (int iter = 0; iter < 4000; iter++) {
        struct cfg_mb_point pts[10];
        size_t n = 1 + next_random(&rnd) % 10;
        int span = 4 + (int)(next_random(&rnd) % 40);
        for (size_t i = 0; i < n; i++) {
            unsigned r = next_random(&rnd);
            unsigned addr = next_random(&rnd) % (unsigned)span;
            switch (r % 5) {
            case 0:
                pts[i] = pt(MB_TABLE_COIL, addr, MB_TYPE_BOOL, -1);
                break;
            case 1:
                pts[i] = pt(MB_TABLE_HOLDING, addr, MB_TYPE_BOOL, (int)(r / 5 % 16));
                break;
            default:
                pts[i] = pt(MB_TABLE_HOLDING, addr, types[r / 5 % 6], -1);
                break;
            }
        }
        struct mb_plan_limits l = {.max_registers = 4 + (int)(next_random(&rnd) % 12),
                                   .max_bits = 1 + (int)(next_random(&rnd) % 16),
                                   .max_gap = (int)(next_random(&rnd) % 6)};
        struct mb_plan plan;
        char err[160], label[32];
        snprintf(label, sizeof label, "random map %d", iter);
        if (mb_plan_build(&plan, pts, n, &l, err, sizeof err) != 0)
            fail_msg("%s: %s", label, err);
        check_plan_valid(&plan, pts, n, &l, label);
        int minimum = brute_force_minimum(pts, n, &l);
        if ((int)plan.nrequests != minimum)
            fail_msg("%s: %zu requests, minimum is %d", label, plan.nrequests, minimum);
        maps++;
        merged += (int)(n - plan.nrequests);
        mb_plan_clear(&plan);
    }
    /* guard against a generator that never makes merging matter */
    assert_true(merged > maps);
}

struct plan_case {
    const char *name;
    struct cfg_mb_point points[8];
    size_t n;
    int max_registers, max_bits, max_gap;
    bool one_per_point;
    size_t nrequests;
    struct {
        enum mb_table table;
        unsigned start, count;
    } requests[8];
};

/* clang-format off */
static const struct plan_case plan_cases[] = {
    { "contiguous_registers_one_request",
      { H(100, UINT16), H(101, INT16), H(102, FLOAT32), H(104, UINT16) }, 4, 125, 2000, 0, false,
      1, { { MB_TABLE_HOLDING, 100, 5 } } },
    { "gap_equal_to_max_gap_merges", { H(100, UINT16), H(109, UINT16) }, 2, 125, 2000, 8, false, 1,
      { { MB_TABLE_HOLDING, 100, 10 } } },
    { "gap_one_over_max_gap_splits", { H(100, UINT16), H(110, UINT16) }, 2, 125, 2000, 8, false, 2,
      { { MB_TABLE_HOLDING, 100, 1 }, { MB_TABLE_HOLDING, 110, 1 } } },
    { "max_gap_zero_merges_only_adjacent", { H(0, UINT32), H(2, UINT16), H(4, UINT16) }, 3, 125,
      2000, 0, false, 2, { { MB_TABLE_HOLDING, 0, 3 }, { MB_TABLE_HOLDING, 4, 1 } } },
    { "unsorted_config_order_is_sorted", { H(40, UINT16), H(10, UINT16), H(41, FLOAT32) }, 3, 125,
      2000, 0, false, 2, { { MB_TABLE_HOLDING, 10, 1 }, { MB_TABLE_HOLDING, 40, 3 } } },
    { "max_registers_caps_a_request", { H(0, FLOAT64), H(4, FLOAT64), H(8, FLOAT64) }, 3, 8, 2000,
      8, false, 2, { { MB_TABLE_HOLDING, 0, 8 }, { MB_TABLE_HOLDING, 8, 4 } } },
    { "straddling_point_starts_next_request",
      { H(0, UINT16), H(1, UINT16), H(2, FLOAT32), H(4, UINT16) }, 4, 3, 2000, 0, false, 2,
      { { MB_TABLE_HOLDING, 0, 2 }, { MB_TABLE_HOLDING, 2, 3 } } },
    { "overlapping_points_share_registers",
      { H(10, FLOAT32), H(11, UINT16), HBIT(10, 3), HBIT(11, 15) }, 4, 125, 2000, 0, false, 1,
      { { MB_TABLE_HOLDING, 10, 2 } } },
    { "long_point_bridges_a_gap", { H(0, UINT16), H(2, FLOAT64), H(3, UINT16), H(6, UINT16) }, 4,
      125, 2000, 0, false, 2, { { MB_TABLE_HOLDING, 0, 1 }, { MB_TABLE_HOLDING, 2, 5 } } },
    { "tables_never_mix", { H(5, UINT16), I(5, UINT16), C(5), D(5) }, 4, 125, 2000, 100, false, 4,
      { { MB_TABLE_HOLDING, 5, 1 }, { MB_TABLE_INPUT, 5, 1 }, { MB_TABLE_COIL, 5, 1 },
      { MB_TABLE_DISCRETE, 5, 1 } } },
    { "coils_up_to_2000_bits", { C(0), C(1999) }, 2, 125, 2000, 1998, false, 1,
      { { MB_TABLE_COIL, 0, 2000 } } },
    { "coils_past_2000_bits_split", { C(0), C(2000) }, 2, 125, 2000, 5000, false, 2,
      { { MB_TABLE_COIL, 0, 1 }, { MB_TABLE_COIL, 2000, 1 } } },
    { "coil_gap_counts_bits", { C(3), C(12), C(22) }, 3, 125, 2000, 8, false, 2,
      { { MB_TABLE_COIL, 3, 10 }, { MB_TABLE_COIL, 22, 1 } } },
    { "last_register_is_readable", { H(65535, UINT16), H(65532, UINT32) }, 2, 125, 2000, 1, false,
      1, { { MB_TABLE_HOLDING, 65532, 4 } } },
    { "one_request_per_point", { H(0, UINT16), H(1, FLOAT32), C(0), C(1) }, 4, 125, 2000, 8, true,
      4, { { MB_TABLE_HOLDING, 0, 1 }, { MB_TABLE_HOLDING, 1, 2 }, { MB_TABLE_COIL, 0, 1 },
      { MB_TABLE_COIL, 1, 1 } } },
    { "no_points_no_requests", { H(0, UINT16) }, 0, 125, 2000, 8, false, 0, { { 0, 0, 0 } } },
};
/* clang-format on */

static void table_cases_give_the_expected_requests(void **unused)
{
    (void)unused;
    for (size_t c = 0; c < sizeof plan_cases / sizeof plan_cases[0]; c++) {
        const struct plan_case *pc = &plan_cases[c];
        struct mb_plan_limits l = {.max_registers = pc->max_registers,
                                   .max_bits = pc->max_bits,
                                   .max_gap = pc->max_gap,
                                   .one_request_per_point = pc->one_per_point};
        struct mb_plan plan;
        char err[160];
        if (mb_plan_build(&plan, pc->points, pc->n, &l, err, sizeof err) != 0)
            fail_msg("%s: %s", pc->name, err);
        check_plan_valid(&plan, pc->points, pc->n, &l, pc->name);
        if (plan.nrequests != pc->nrequests)
            fail_msg("%s: %zu requests, want %zu", pc->name, plan.nrequests, pc->nrequests);
        for (size_t r = 0; r < plan.nrequests; r++)
            if (plan.requests[r].table != pc->requests[r].table ||
                plan.requests[r].start != pc->requests[r].start ||
                plan.requests[r].count != pc->requests[r].count)
                fail_msg("%s: request %zu is %s %u+%u, want %s %u+%u", pc->name, r,
                         mb_table_name(plan.requests[r].table), plan.requests[r].start,
                         plan.requests[r].count, mb_table_name(pc->requests[r].table),
                         pc->requests[r].start, pc->requests[r].count);
        if (!pc->one_per_point && pc->n && pc->n <= MAX_BRUTE &&
            (int)plan.nrequests != brute_force_minimum(pc->points, pc->n, &l))
            fail_msg("%s: not minimal", pc->name);
        mb_plan_clear(&plan);
    }
}

/* A chiller/CRAH-like map: the figure reported for the planner. */
static void sample_device_map_is_minimal(void **unused)
{
    (void)unused;
    /* clang-format off */
    const struct cfg_mb_point pts[] = {
        H(100, FLOAT32), H(102, FLOAT32), H(104, FLOAT32), H(106, UINT16), H(107, INT16),
        HBIT(110, 0), HBIT(110, 1), HBIT(110, 2), H(120, UINT32), H(130, FLOAT64),
        H(300, UINT16), H(302, UINT16),
        I(0, INT16), I(1, INT16), I(2, INT16), I(20, FLOAT32), I(200, UINT64),
        C(0), C(1), C(3), C(40),
        D(0), D(7),
    };
    /* clang-format on */
    size_t n = sizeof pts / sizeof pts[0];
    struct mb_plan_limits l = {.max_registers = 125, .max_bits = 2000, .max_gap = 8};
    struct mb_plan plan;
    char err[160];
    assert_int_equal(mb_plan_build(&plan, pts, n, &l, err, sizeof err), 0);
    check_plan_valid(&plan, pts, n, &l, "sample");
    int minimum = minimum_by_table(pts, n, &l);
    printf("sample map: %zu points, %zu requests (minimum %d; one per point would be %zu)\n", n,
           plan.nrequests, minimum, n);
    for (size_t r = 0; r < plan.nrequests; r++)
        printf("  %s %u+%u (%zu points)\n", mb_table_name(plan.requests[r].table),
               plan.requests[r].start, plan.requests[r].count, plan.requests[r].nmembers);
    assert_int_equal((int)plan.nrequests, minimum);
    /* holding 100..110 (gap 2 before the bits), 120..133 (gap 8: merged;
     * but 9 after 110: split), 300..302; input 0..2, 20..21 (gap 17),
     * 200..203; coils 0..3, 40 (gap 36); discretes 0..7 */
    assert_int_equal(plan.nrequests, 9);
    mb_plan_clear(&plan);
}

struct error_case {
    const char *name;
    struct cfg_mb_point point;
    int max_registers, max_bits, max_gap;
    const char *reason;
};

/* clang-format off */
static const struct error_case error_cases[] = {
    { "float32_at_65535_runs_past_the_end", H(65535, FLOAT32), 125, 2000, 8,
      "points[0] (m): float32 at holding address 65535 runs past 65535" },
    { "float64_wider_than_max_registers", H(0, FLOAT64), 2, 2000, 8,
      "points[0] (m): float64 needs 4 registers but max_registers is 2" },
    { "max_registers_over_125", H(0, UINT16), 126, 2000, 8, "max_registers 126" },
    { "max_registers_zero", H(0, UINT16), 0, 2000, 8, "max_registers 0" },
    { "max_bits_over_2000", C(0), 125, 2001, 8, "max_bits 2001" },
    { "negative_gap", H(0, UINT16), 125, 2000, -1, "max_gap -1" },
};
/* clang-format on */

static void unreadable_points_and_bad_limits_are_refused(void **unused)
{
    (void)unused;
    for (size_t c = 0; c < sizeof error_cases / sizeof error_cases[0]; c++) {
        const struct error_case *ec = &error_cases[c];
        struct mb_plan_limits l = {
            .max_registers = ec->max_registers, .max_bits = ec->max_bits, .max_gap = ec->max_gap};
        struct mb_plan plan;
        char err[160] = "";
        if (mb_plan_build(&plan, &ec->point, 1, &l, err, sizeof err) != -1)
            fail_msg("%s: accepted", ec->name);
        if (!strstr(err, ec->reason))
            fail_msg("%s: '%s' lacks '%s'", ec->name, err, ec->reason);
        assert_null(plan.requests);
        mb_plan_clear(&plan);
    }
}

static void clear_is_safe_on_a_zeroed_plan(void **unused)
{
    (void)unused;
    struct mb_plan plan;
    memset(&plan, 0, sizeof plan);
    mb_plan_clear(&plan);
    mb_plan_clear(&plan);
    mb_plan_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_maps_need_exactly_the_minimum_requests),
        cmocka_unit_test(table_cases_give_the_expected_requests),
        cmocka_unit_test(sample_device_map_is_minimal),
        cmocka_unit_test(unreadable_points_and_bad_limits_are_refused),
        cmocka_unit_test(clear_is_safe_on_a_zeroed_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
