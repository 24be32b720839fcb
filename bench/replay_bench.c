/*
 * replay_bench — how fast `floe replay` runs a year of telemetry.
 *
 * Builds, in memory, one year of 10-second samples for 50 metrics
 * (365 x 8640 = 3,153,600 samples each, 157,680,000 in all, about 2.5 GB)
 * and replays the example policies (policies/examples: cooling-shortfall,
 * supply-shortfall, inlet-rising-fast, ups-on-battery,
 * overnight-rebalance) plus one policy with long history windows
 * (avg_over 1h against max_over 24h) and the derive of cooling capacity
 * over it, with the 10 s tick of the agent: 3,153,600 ticks.
 *
 * The data never goes through CSV: writing and parsing 157 M rows would
 * time the text parser, not the engine, and take minutes. Instead each
 * metric is generated in time order straight into the trace with
 * replay_trace_append, which is how the database reader and the derived
 * metrics fill it too. The generator is deterministic (xorshift, fixed
 * seed): a daily load cycle, chiller 2 tripping for two hours every nine
 * days, wind on a four-day cycle, the UPS on battery for five minutes every
 * seventeen days, the inlet temperature following load and cooling, 41
 * rack meters, and one read error in 5000 samples of every metric.
 *
 * Run it with bench/replay_bench.sh (builds and runs it; not part of make
 * check). It prints the generation and replay times and the throughput.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "policies/replay.h"
#include "policies/replay_trace.h"

#define TICK_MS 10000LL
#define DAY_SAMPLES 8640
#define DAYS 365
#define SAMPLES ((size_t)DAY_SAMPLES * DAYS)
/* 2026-01-01T00:00:00Z */
#define START_MS 1767225600000LL
#define RACKS 41

static const char config_text[] =
    "{ \"site\": { \"name\": \"bench\", \"timezone\": \"Europe/Stockholm\" },"
    "  \"derive\": [ { \"metric\": \"cooling.capacity_kw\","
    "                  \"expr\": \"sum(cooling.*.capacity_kw)\", \"unit\": \"kW\" } ],"
    "  \"policies\": [ { \"name\": \"load-trend\", \"mode\": \"observe\","
    "                    \"when\": \"avg_over(it.load_kw, 1h) > max_over(it.load_kw, 24h) * 0.97\","
    "                    \"for\": \"10m\", \"cooldown\": \"6h\" } ],"
    "  \"policies_dir\": \"policies/examples\" }";

static double seconds_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform in [-1, 1). */
static double noise(uint64_t *s)
{
    return (double)(rng(s) >> 11) / 4503599627370496.0 - 1.0;
}

enum kind { CHILLER_1, CHILLER_2, CHILLER_3, CHILLER_4, LOAD, HYDRO, WIND, INLET, UPS, RACK };

/* The value of metric kind k at sample i; daily shapes come from a table. */
static double sample(enum kind k, size_t i, const double *daily, uint64_t *seed)
{
    size_t day = i / DAY_SAMPLES, in_day = i % DAY_SAMPLES;
    double load = 600 + 150 * daily[in_day];
    bool tripped = day % 9 == 4 && in_day >= 4000 && in_day < 4720; /* 2 h */
    switch (k) {
    case CHILLER_1:
    case CHILLER_3:
    case CHILLER_4:
        return 250;
    case CHILLER_2:
        return tripped ? 0 : 250;
    case LOAD:
        return load + 5 * noise(seed);
    case HYDRO:
        return 560 + 20 * noise(seed);
    case WIND: {
        double phase = (double)(i % (4 * DAY_SAMPLES)) / (4 * DAY_SAMPLES);
        return fmax(0, 150 + 160 * sin(2 * M_PI * phase) + 10 * noise(seed));
    }
    case INLET:
        return 22 + (load - 600) / 75 + (tripped ? (double)(in_day - 4000) / 90 : 0) +
               0.05 * noise(seed);
    case UPS:
        return day % 17 == 8 && in_day >= 2000 && in_day < 2030 ? 1 : 0;
    case RACK:
        return 10 + 5 * daily[in_day] + noise(seed);
    }
    return 0;
}

int main(void)
{
    char err[512];
    struct cfg_errors errs = {0};
    struct floe_config *cfg =
        cfg_load_buffer("bench.json", config_text, strlen(config_text), ".", &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.lines[i]);
        fprintf(stderr, "replay_bench: run it from the top of the source tree\n");
        return 1;
    }

    static const char *const names[] = {"cooling.chiller1.capacity_kw",
                                        "cooling.chiller2.capacity_kw",
                                        "cooling.chiller3.capacity_kw",
                                        "cooling.chiller4.capacity_kw",
                                        "it.load_kw",
                                        "power.hydro_kw",
                                        "power.wind_kw",
                                        "room.inlet_c",
                                        "power.ups.on_battery"};
    double *daily = malloc(DAY_SAMPLES * sizeof *daily);
    for (size_t i = 0; i < DAY_SAMPLES; i++) /* low at 04:00 UTC, high at 16:00 */
        daily[i] = 0.5 - 0.5 * cos(2 * M_PI * ((double)i / DAY_SAMPLES - 4.0 / 24));

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct replay_trace *t = replay_trace_new();
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t m = 0; m < 9 + RACKS; m++) {
        char rack[32];
        snprintf(rack, sizeof rack, "rack.r%02zu.power_kw", m - 9 + 1);
        size_t s = replay_trace_series(t, m < 9 ? names[m] : rack);
        enum kind k = m < 9 ? (enum kind)m : RACK;
        replay_trace_reserve(t, s, SAMPLES);
        for (size_t i = 0; i < SAMPLES; i++) {
            double v = rng(&seed) % 5000 == 0 ? NAN : sample(k, i, daily, &seed);
            replay_trace_append(t, s, START_MS + (int64_t)i * TICK_MS, v);
        }
    }
    double gen_s = seconds_since(&t0);
    uint64_t samples = replay_trace_samples(t);

    struct replay_opts opts = {.tick_ms = TICK_MS};
    struct replay_output out = {NULL, NULL};
    struct replay_stats stats;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (replay_run(cfg, t, &opts, &out, &stats, err, sizeof err) < 0) {
        fprintf(stderr, "replay_bench: %s\n", err);
        return 1;
    }
    double run_s = seconds_since(&t0);

    printf("generated %llu samples of %zu metrics (%d days at 10 s) in %.2f s\n",
           (unsigned long long)samples, replay_trace_count(t) - cfg->nderive, DAYS, gen_s);
    printf("replayed %llu ticks x (%zu derive + %zu policies) in %.2f s: %.0f ticks/s, "
           "%.1f M samples/s, %llu decisions\n",
           (unsigned long long)stats.ticks, cfg->nderive, cfg->npolicies, run_s,
           (double)stats.ticks / run_s, (double)samples / run_s / 1e6,
           (unsigned long long)stats.decisions);
    replay_trace_free(t);
    cfg_free(cfg);
    free(daily);
    return 0;
}
