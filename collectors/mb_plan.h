/*
 * mb_plan — which read requests cover a device's points (SPEC 2.1: "as few
 * requests as possible").
 *
 * A request reads one contiguous range of one table. A plan is valid when
 *   - every point lies entirely inside the request it is assigned to,
 *   - no request is longer than max_registers (holding, input) or
 *     max_bits (coil, discrete),
 *   - no request reads a run of more than max_gap consecutive registers
 *     (bits for coils/discretes) that belong to no configured point of
 *     that table (max_gap 0: only registers some point wants are read).
 * mb_plan_build() returns a valid plan with the fewest requests (proved
 * against an exhaustive search in tests/unit/test_mb_plan.c). Requests may
 * overlap when that saves a request: a point that straddles the end of
 * one range starts the next.
 *
 * With one_request_per_point every point gets its own request, for devices
 * that refuse reads spanning several of their "objects".
 */
#ifndef FLOE_MB_PLAN_H
#define FLOE_MB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct mb_plan_limits {
    int max_registers; /* 1..125 */
    int max_bits;      /* 1..2000 */
    int max_gap;       /* >= 0, in registers or bits */
    bool one_request_per_point;
};

struct mb_request {
    enum mb_table table;
    uint16_t start;      /* protocol address of the first register/bit */
    uint16_t count;      /* registers or bits */
    size_t first_member; /* its points: plan->members[first_member ..] */
    size_t nmembers;
};

struct mb_plan {
    struct mb_request *requests; /* ordered by table, then start */
    size_t nrequests;
    /* Per point, in config order: the request it is read by and the offset
     * of its first register/bit within that request. */
    size_t *point_request;
    uint16_t *point_offset;
    size_t *members; /* point indexes grouped by request */
    size_t npoints;
};

/* Registers (holding, input) or bits (coil, discrete) a point occupies. */
unsigned mb_point_width(const struct cfg_mb_point *p);

/* Builds the plan for points[0..n). Returns 0, or -1 with a message naming
 * the point (index and metric) when a point cannot be read at all: it runs
 * past address 65535 or is wider than max_registers. The plan owns its
 * arrays; free with mb_plan_clear (also safe on a zeroed plan). */
int mb_plan_build(struct mb_plan *plan, const struct cfg_mb_point *points, size_t n,
                  const struct mb_plan_limits *limits, char *err, size_t errlen);
void mb_plan_clear(struct mb_plan *plan);

#endif
