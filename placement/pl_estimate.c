/*
 * pl_estimate — expected downtime and migration time from data size and
 * transfer rates; the model and the report's numbers are in pl_estimate.h.
 */
#include "placement/pl_estimate.h"

#include <math.h>

#include "lib/util.h"

struct pl_rates pl_rates_report(void)
{
    return (struct pl_rates){.initial_gb_per_min = 0.88,
                             .delta_gb_per_min = 0.25,
                             .restore_gb_per_min = 6.36,
                             .delta_gb = 1.0,
                             .fixed_s = 0,
                             .incremental_restore = false};
}

static bool rate_ok(double r)
{
    return isfinite(r) && r > 0;
}

/* Seconds to move gb at gb_per_min. */
static double transfer_s(double gb, double gb_per_min)
{
    return gb / gb_per_min * 60.0;
}

int pl_estimate(const struct pl_rates *rates, double data_gb, bool stateless,
                struct pl_estimate *out, char *err, size_t errlen)
{
    *out = (struct pl_estimate){NAN, NAN, NAN, NAN, NAN};
    if (!isfinite(data_gb) || data_gb < 0)
        return errf(err, errlen, "data_gb %g: must be a finite number >= 0", data_gb);
    if (!rate_ok(rates->initial_gb_per_min))
        return errf(err, errlen, "initial_gb_per_min %g: must be a finite number > 0",
                    rates->initial_gb_per_min);
    if (!rate_ok(rates->delta_gb_per_min))
        return errf(err, errlen, "delta_gb_per_min %g: must be a finite number > 0",
                    rates->delta_gb_per_min);
    if (!rate_ok(rates->restore_gb_per_min))
        return errf(err, errlen, "restore_gb_per_min %g: must be a finite number > 0",
                    rates->restore_gb_per_min);
    if (!isfinite(rates->delta_gb) || rates->delta_gb < 0)
        return errf(err, errlen, "delta_gb %g: must be a finite number >= 0", rates->delta_gb);
    if (!isfinite(rates->fixed_s) || rates->fixed_s < 0)
        return errf(err, errlen, "fixed_s %g: must be a finite number >= 0", rates->fixed_s);

    if (stateless) {
        *out = (struct pl_estimate){0, 0, 0, 0, 0};
        return 0;
    }
    /* A delta cannot hold more than the whole volume data. */
    double delta_gb = fmin(rates->delta_gb, data_gb);
    double restored_gb = rates->incremental_restore ? delta_gb : data_gb;
    out->initial_s = transfer_s(data_gb, rates->initial_gb_per_min);
    out->final_delta_s = transfer_s(delta_gb, rates->delta_gb_per_min);
    out->restore_s = transfer_s(restored_gb, rates->restore_gb_per_min);
    out->downtime_s = out->final_delta_s + out->restore_s + rates->fixed_s;
    out->migration_s = out->initial_s + out->downtime_s;
    return 0;
}
