/*
 * pl_estimate — how long moving one workload is expected to take, and how
 * long it is expected to be down (SPEC 6), from its data size and transfer
 * rates. The placement choice (pl_choose.h) orders workloads by kW per
 * minute of downtime and puts those that would end after a deadline last;
 * these are the numbers it reads.
 *
 * The model follows the report's workflow (ArctiqDC PoC, "Results"): an
 * initial file-system backup while the workload runs, periodic deltas,
 * then downtime = the final delta backup + a full restore at the target
 * ("restore is always a full restore": Velero skips volumes it has already
 * restored, so the target restores initial data + every delta at once).
 *   stateful:  downtime_s  = final_delta_s + restore_s + fixed_s
 *              migration_s = initial_s + downtime_s
 *   stateless: no volume data to copy and the source serves until cutover:
 *              downtime_s = 0, migration_s = 0 (a resources-only backup and
 *              restore; the report measures none, so none is invented).
 * With incremental_restore (SPEC 6: the target restores the initial
 * backup during precopy and applies only the final delta at switchover)
 * restore_s covers the final delta only, restored at the restore rate.
 *
 * fixed_s is the part of the downtime that does not depend on bytes:
 * Velero's own time per Backup and Restore, waiting for the target's
 * storage sync, scaling down, pod start and readiness, the agents'
 * polling, the traffic switch. The report measured none of it (its
 * figures are transfer times), so pl_rates_report() has 0; step 6 learns
 * it per peer from each migration that ended done (what its downtime
 * held beyond the transfers the rates predict, migrator/mig_phase.h).
 * One term for full and incremental restores: the same backup, sync,
 * scaling and start.
 *
 * Rates until step 6 learns real ones (pl_rates_report), from the report's
 * "Summary of the PoC":
 *   initial backup 0.88 GB/min  the same in all three scenarios (70 GB in
 *                               ~80 min, 37 GB in 42 min): the 100 Mb link;
 *   delta backup   0.25 GB/min  the MySQL scenario (1 GB of rows in ~4 min),
 *                               the one the report calls "more real-world";
 *                               its file scenarios span 0.13 (one large
 *                               file) to 0.80 GB/min (many small files);
 *   restore        6.36 GB/min  70 GB in ~11 min (37 GB of MySQL: 6.16).
 * The final delta before any history: 1 GB, capped at the workload's data
 * size. 1 GB is the only delta the report measured, in all three scenarios
 * (1 GB appended to one file, 100 files of 10 MB, 27k MySQL rows); a
 * workload's real delta depends on its write rate and delta_interval,
 * which floe learns only from its own migrations (step 6 passes the last
 * measured delta in delta_gb). So a 37 GB database is down ~9.8 min
 * (4 + 5.8) and a 100 GB one ~19.7 min, the report's "around 20 minutes".
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef FLOE_PL_ESTIMATE_H
#define FLOE_PL_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>

struct pl_rates {
    double initial_gb_per_min; /* initial (full) file-system backup, > 0 */
    double delta_gb_per_min;   /* the final delta backup, > 0 */
    double restore_gb_per_min; /* restore at the target, > 0 */
    double delta_gb;           /* expected size of the final delta, >= 0 */
    double fixed_s;            /* downtime that does not depend on bytes, s, >= 0 */
    bool incremental_restore;  /* the target applies only the delta at switchover */
};

struct pl_estimate {
    double initial_s;     /* initial backup (0 for stateless) */
    double final_delta_s; /* final delta backup, inside the downtime */
    double restore_s;     /* restore at the target, inside the downtime */
    double downtime_s;    /* final_delta_s + restore_s + rates' fixed_s (0 for stateless) */
    double migration_s;   /* initial_s + downtime_s */
};

/* The report's rates and the 1 GB final delta (above); fixed_s 0 (the
 * report measured none); incremental_restore off (no Velero release has
 * it). */
struct pl_rates pl_rates_report(void);

/* Estimates moving a workload with data_gb of volume data. Returns 0, or -1
 * with err naming the bad value when data_gb is negative or not a finite
 * number, or a rate is not a finite number > 0, or delta_gb or fixed_s is
 * negative or not finite; *out is then all NAN, which pl_choose treats as
 * unusable. */
int pl_estimate(const struct pl_rates *rates, double data_gb, bool stateless,
                struct pl_estimate *out, char *err, size_t errlen);

#endif
