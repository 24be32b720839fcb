/*
 * mb_plan — see mb_plan.h.
 *
 * Per table, the planner walks the points in address order and places each
 * request at the lowest address no request covers yet, then stretches it
 * as far as allowed: up to the size limit, and not across a run of unwanted
 * registers longer than max_gap. Why this is minimal: any plan needs a
 * request for the lowest uncovered point; such a request cannot start
 * higher than that point, and every point it covers lies inside
 * [start, stretched end) of ours, so ours covers at least as much of what
 * is left. Induction over the remaining points does the rest.
 */
#include "collectors/mb_plan.h"

#include <stdlib.h>
#include <string.h>

#include "collectors/mb_decode.h"
#include "lib/util.h"

/* Largest register count / bit count one read may ask for (Modbus
 * application protocol 1.1b, functions 1-4). */
#define MB_PLAN_MAX_REGISTERS 125
#define MB_PLAN_MAX_BITS 2000

struct span {
    int32_t start, end; /* [start, end) in registers or bits */
    size_t point;
};

static bool table_is_bits(enum mb_table t)
{
    return t == MB_TABLE_COIL || t == MB_TABLE_DISCRETE;
}

unsigned mb_point_width(const struct cfg_mb_point *p)
{
    if (table_is_bits(p->table) || p->bit >= 0)
        return 1;
    return cfg_mb_type_registers(p->type);
}

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->point < y->point ? -1 : x->point > y->point;
}

void mb_plan_clear(struct mb_plan *plan)
{
    if (!plan)
        return;
    free(plan->requests);
    free(plan->point_request);
    free(plan->point_offset);
    free(plan->members);
    memset(plan, 0, sizeof *plan);
}

static int check_limits(const struct mb_plan_limits *l, char *err, size_t errlen)
{
    if (l->max_registers < 1 || l->max_registers > MB_PLAN_MAX_REGISTERS)
        return errf(err, errlen, "max_registers %d is outside 1..%d", l->max_registers,
                    MB_PLAN_MAX_REGISTERS);
    if (l->max_bits < 1 || l->max_bits > MB_PLAN_MAX_BITS)
        return errf(err, errlen, "max_bits %d is outside 1..%d", l->max_bits, MB_PLAN_MAX_BITS);
    if (l->max_gap < 0)
        return errf(err, errlen, "max_gap %d is negative", l->max_gap);
    return 0;
}

static int check_point(const struct cfg_mb_point *p, size_t i, const struct mb_plan_limits *l,
                       char *err, size_t errlen)
{
    unsigned width = mb_point_width(p);
    if ((unsigned)p->table > MB_TABLE_DISCRETE)
        return errf(err, errlen, "points[%zu] (%s): unknown table %d", i, p->metric, (int)p->table);
    if ((uint32_t)p->address + width > 65536u)
        return errf(err, errlen, "points[%zu] (%s): %s at %s address %u runs past 65535", i,
                    p->metric, mb_type_name(p->type), mb_table_name(p->table),
                    (unsigned)p->address);
    if (!table_is_bits(p->table) && width > (unsigned)l->max_registers)
        return errf(err, errlen, "points[%zu] (%s): %s needs %u registers but max_registers is %d",
                    i, p->metric, mb_type_name(p->type), width, l->max_registers);
    return 0;
}

/* Appends a request starting at `start`; its members are added by the caller. */
static struct mb_request *add_request(struct mb_plan *plan, enum mb_table table, int32_t start,
                                      size_t next_member)
{
    struct mb_request *r = &plan->requests[plan->nrequests++];
    *r = (struct mb_request){.table = table, .start = (uint16_t)start, .first_member = next_member};
    return r;
}

static void assign(struct mb_plan *plan, struct mb_request *r, const struct span *s,
                   size_t *next_member)
{
    plan->point_request[s->point] = (size_t)(r - plan->requests);
    plan->point_offset[s->point] = (uint16_t)(s->start - r->start);
    plan->members[(*next_member)++] = s->point;
    r->nmembers++;
    if (s->end - r->start > r->count)
        r->count = (uint16_t)(s->end - r->start);
}

/* Merges the sorted spans into the union of everything the table wants:
 * unions[k] = [start, end). Returns the number of union intervals. */
static size_t build_unions(const struct span *spans, size_t n, struct span *unions)
{
    size_t nu = 0;
    for (size_t i = 0; i < n; i++) {
        if (nu && spans[i].start <= unions[nu - 1].end) {
            if (spans[i].end > unions[nu - 1].end)
                unions[nu - 1].end = spans[i].end;
        } else {
            unions[nu++] = spans[i];
        }
    }
    return nu;
}

/* The greedy cover of one table's sorted spans (see the top of the file). */
static void plan_table(struct mb_plan *plan, enum mb_table table, const struct span *spans,
                       size_t n, const struct span *unions, size_t nunions, int32_t limit,
                       int32_t max_gap, bool *covered, size_t *next_member)
{
    size_t first = 0, k = 0;
    for (;;) {
        while (first < n && covered[first])
            first++;
        if (first == n)
            return;
        int32_t start = spans[first].start;
        while (unions[k].end <= start)
            k++;
        /* Stretch across holes no longer than max_gap while the next union
         * interval still begins inside the size limit. */
        size_t j = k;
        while (j + 1 < nunions && unions[j + 1].start - unions[j].end <= max_gap &&
               unions[j + 1].start < start + limit)
            j++;
        int32_t end_max = unions[j].end < start + limit ? unions[j].end : start + limit;
        struct mb_request *r = add_request(plan, table, start, *next_member);
        for (size_t i = first; i < n && spans[i].start < end_max; i++) {
            if (!covered[i] && spans[i].end <= end_max) {
                covered[i] = true;
                assign(plan, r, &spans[i], next_member);
            }
        }
    }
}

int mb_plan_build(struct mb_plan *plan, const struct cfg_mb_point *points, size_t n,
                  const struct mb_plan_limits *limits, char *err, size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    struct span *spans = NULL, *unions = NULL;
    bool *covered = NULL;
    if (check_limits(limits, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (check_point(&points[i], i, limits, err, errlen) != 0)
            return -1;

    size_t cap = n ? n : 1;
    plan->npoints = n;
    plan->requests = calloc(cap, sizeof *plan->requests);
    plan->point_request = calloc(cap, sizeof *plan->point_request);
    plan->point_offset = calloc(cap, sizeof *plan->point_offset);
    plan->members = calloc(cap, sizeof *plan->members);
    spans = calloc(cap, sizeof *spans);
    unions = calloc(cap, sizeof *unions);
    covered = calloc(cap, sizeof *covered);
    if (!plan->requests || !plan->point_request || !plan->point_offset || !plan->members ||
        !spans || !unions || !covered) {
        errf(err, errlen, "out of memory");
        goto fail;
    }

    size_t next_member = 0;
    for (enum mb_table t = MB_TABLE_HOLDING; t <= MB_TABLE_DISCRETE; t++) {
        size_t ns = 0;
        for (size_t i = 0; i < n; i++)
            if (points[i].table == t)
                spans[ns++] =
                    (struct span){.start = points[i].address,
                                  .end = points[i].address + (int32_t)mb_point_width(&points[i]),
                                  .point = i};
        if (!ns)
            continue;
        qsort(spans, ns, sizeof *spans, span_cmp);
        if (limits->one_request_per_point) {
            for (size_t i = 0; i < ns; i++)
                assign(plan, add_request(plan, t, spans[i].start, next_member), &spans[i],
                       &next_member);
            continue;
        }
        size_t nu = build_unions(spans, ns, unions);
        memset(covered, 0, ns * sizeof *covered);
        int32_t limit = table_is_bits(t) ? limits->max_bits : limits->max_registers;
        plan_table(plan, t, spans, ns, unions, nu, limit, limits->max_gap, covered, &next_member);
    }
    free(spans);
    free(unions);
    free(covered);
    return 0;
fail:
    free(spans);
    free(unions);
    free(covered);
    mb_plan_clear(plan);
    return -1;
}
